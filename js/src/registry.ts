// Renderer registry: `_kind` -> view.

import type { Invoke } from "./invoke";
import type { Model } from "./model";
import { renderAttribution } from "./views/attribution";
import { renderEvalTable } from "./views/evaltable";
import { renderHistogram } from "./views/histogram";
import { renderLayerProfile } from "./views/layerprofile";
import { renderModelMap } from "./views/modelmap";
import { renderPanel } from "./views/panel";
import { renderParallel } from "./views/parallel";
import { renderPolar } from "./views/polar";
import { renderProjection } from "./views/projection";

/** What the host gives a view besides its model and element. */
export interface ViewContext {
  /** Request / response with the kernel (or the page's stand-in for it). */
  invoke?: Invoke;
  /** Draw points with Canvas2D even where WebGL2 exists (tests, benchmarks). */
  forceCanvas2d?: boolean;
  /** false in pages with no kernel (`to_html`): views leave out controls only Python answers. */
  kernel?: boolean;
}

export type Renderer = (model: Model, el: HTMLElement, ctx: ViewContext) => { dispose(): void };

export const RENDERERS: Record<string, Renderer> = {
  polar: renderPolar,
  histogram: renderHistogram,
  modelmap: renderModelMap,
  panel: renderPanel,
  parallel: renderParallel,
  attribution: renderAttribution,
  evaltable: renderEvalTable,
  projection: renderProjection,
  layerprofile: renderLayerProfile,
};
