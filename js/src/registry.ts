// Renderer registry: `_kind` -> view.

import type { ViewContext } from "./context";
import type { AnyModel } from "./model";
import { renderAttribution } from "./views/attribution";
import { renderEvalTable } from "./views/evaltable";
import { renderHistogram } from "./views/histogram";
import { renderLayerProfile } from "./views/layerprofile";
import { renderModelMap } from "./views/modelmap";
import { renderPanel } from "./views/panel";
import { renderParallel } from "./views/parallel";
import { renderPolar } from "./views/polar";
import { renderProjection } from "./views/projection";

/** A view's renderer. The traits of a model are known once its `_kind` picked the renderer,
 * so the table takes any model; each renderer types its own (`AnyModel<PolarTraits>`, ...). */
export type Renderer = (model: AnyModel<any>, el: HTMLElement, ctx: ViewContext) => { dispose(): void }; // eslint-disable-line @typescript-eslint/no-explicit-any

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
