// Pickers for model, layer, sparsity and benchmark; they set traits on the model directly
// (the view redraws from the local change) and save to the kernel debounced.

import { benchLabel, findCondition, type Meta } from "../data";
import { select } from "../dom";
import type { AnyModel, SlabTraits } from "../model";
import { debounce } from "../timing";
import { levelSlider, SLIDER_AT, type Slider } from "../live";
import { layerLabel } from "./layerlabel";

export interface Pickers {
  sync(): void;
  dispose(): void;
}

export function cellPickers(model: AnyModel<SlabTraits>, meta: Meta, bar: HTMLElement, onPick: () => void): Pickers {
  const save = debounce(() => model.save_changes(), 60);
  const nodes: HTMLElement[] = [];
  const set = (key: "model" | "layer" | "condition", v: number) => { model.set(key, v); onPick(); save(); };
  if (meta.models.length > 1) {
    nodes.push(select("model", meta.models.map((m, i) => ({ value: String(i), text: m })), String(model.get("model")), (v) => set("model", +v)));
  }
  if (meta.layers.length > 1) {
    nodes.push(select("layer", meta.layers.map((_, i) => ({ value: String(i), text: layerLabel(meta, i, model.get("model"), model.get("condition")) })), String(model.get("layer")), (v) => set("layer", +v)));
  }
  const conds = meta.conditions;
  const sparsities = Array.from(new Set(conds.map((c) => c.sparsity))).sort((a, b) => a - b);
  const benches = Array.from(new Set(conds.map(benchLabel)));
  const cur = conds[model.get("condition")] ?? conds[0];
  let spSel: HTMLSelectElement | null = null;
  let spSlider: Slider | null = null;
  let bSel: HTMLSelectElement | null = null;
  if (sparsities.length >= SLIDER_AT) { // a long grid: a slider (live.ts)
    spSlider = levelSlider("sparsity", sparsities, cur?.sparsity ?? 0, (v) => {
      const c = conds[model.get("condition")];
      set("condition", findCondition(conds, v, c ? benchLabel(c) : "clean"));
    });
    nodes.push(spSlider.node);
  } else if (sparsities.length > 1) {
    const node = select("sparsity", sparsities.map((s) => ({ value: String(s), text: String(s) })), String(cur?.sparsity ?? 0), (v) => {
      const c = conds[model.get("condition")];
      set("condition", findCondition(conds, +v, c ? benchLabel(c) : "clean"));
    });
    spSel = node.querySelector("select");
    nodes.push(node);
  }
  if (benches.length > 1) {
    const node = select("benchmark", benches.map((b) => ({ value: b, text: b })), cur ? benchLabel(cur) : "clean", (v) => {
      const c = conds[model.get("condition")];
      set("condition", findCondition(conds, c ? c.sparsity : 0, v));
    });
    bSel = node.querySelector("select");
    nodes.push(node);
  }
  bar.prepend(...nodes);
  const sync = () => {
    const sels = bar.querySelectorAll("select[data-picker]");
    sels.forEach((el) => {
      const s = el as HTMLSelectElement;
      const key = s.getAttribute("data-picker")!;
      if (key === "model" || key === "layer") s.value = String(model.get(key));
      // the probe's accuracy follows the model and condition shown
      if (key === "layer") Array.from(s.options).forEach((o, i) => { o.text = layerLabel(meta, i, model.get("model"), model.get("condition")); });
    });
    const c = conds[model.get("condition")];
    if (c && spSel) spSel.value = String(c.sparsity);
    if (c && spSlider) spSlider.set(c.sparsity);
    if (c && bSel) bSel.value = benchLabel(c);
  };
  return { sync, dispose: () => save.flush() };
}
