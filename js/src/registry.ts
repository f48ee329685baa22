// Renderer registry: `_kind` -> view.

import type { Model } from "./model";
import { renderAttribution } from "./views/attribution";
import { renderHistogram } from "./views/histogram";
import { renderModelMap } from "./views/modelmap";
import { renderPanel } from "./views/panel";
import { renderParallel } from "./views/parallel";
import { renderPolar } from "./views/polar";

export type Renderer = (model: Model, el: HTMLElement) => { dispose(): void };

export const RENDERERS: Record<string, Renderer> = {
  polar: renderPolar,
  histogram: renderHistogram,
  modelmap: renderModelMap,
  panel: renderPanel,
  parallel: renderParallel,
  attribution: renderAttribution,
};
