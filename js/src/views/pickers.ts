// Pickers for model, layer and condition; they set traits on the model directly (the view
// redraws from the local change) and save to the kernel debounced.
//
// A condition is picked as (sparsity, benchmark, severity), each on its own control, and
// found through `findCondition`:
// - sparsity: a list, or a slider over the grid when it has SLIDER_AT levels or more;
// - benchmark: a list of the benchmark names ("clean", "fog", ...);
// - severity: a slider over the shown benchmark's severities, whenever it has two or more.
//   Severities are ordinal and few (1 to 5), so a length threshold would never make them a
//   slider; a slider says "more corrupted" and its arrow keys step through the levels.
// The models of a checkpoint run (model_info with run and step, steps.ts) are picked as a run
// and a step slider (with play); other models as a list.

import { benchLabel, findCondition, sparsityText, type Condition, type Meta } from "../data";
import { select } from "../dom";
import type { AnyModel, SlabTraits } from "../model";
import { debounce } from "../timing";
import { levelSlider, nearestLevel, SLIDER_AT, type Slider } from "../live";
import { layerLabel, layerTitle } from "./layerlabel";
import { runAt, runsOf, stepSlider, type Run, type StepSlider } from "./steps";

export interface Pickers {
  sync(): void;
  dispose(): void;
}

/** The condition grid as the pickers show it. */
export interface ConditionGrid {
  /** Every sparsity level, ascending. */
  sparsities: number[];
  /** Benchmark names, first-seen order ("clean" included). */
  benchmarks: string[];
  /** Each benchmark's severities, ascending (clean: [0]). */
  severities: Map<string, number[]>;
}

export function conditionGrid(conds: Condition[]): ConditionGrid {
  const severities = new Map<string, number[]>();
  for (const c of conds) {
    const s = severities.get(c.benchmark) ?? [];
    if (!s.includes(c.severity)) s.push(c.severity);
    severities.set(c.benchmark, s);
  }
  for (const s of severities.values()) s.sort((a, b) => a - b);
  return {
    sparsities: Array.from(new Set(conds.map((c) => c.sparsity))).sort((a, b) => a - b),
    benchmarks: Array.from(severities.keys()),
    severities,
  };
}

/** The control each dimension gets (null: none, the grid has one value there). */
export interface PickerPlan {
  model: "select" | "run+step" | null;
  sparsity: "select" | "slider" | null;
  benchmark: "select" | null;
  /** A slider, shown while the benchmark picked has two or more severities. */
  severity: "slider" | null;
}

export function pickerPlan(meta: Meta): PickerPlan {
  const grid = conditionGrid(meta.conditions);
  const n = grid.sparsities.length;
  return {
    model: runsOf(meta).length ? "run+step" : meta.models.length > 1 ? "select" : null,
    sparsity: n >= SLIDER_AT ? "slider" : n > 1 ? "select" : null,
    benchmark: grid.benchmarks.length > 1 ? "select" : null,
    severity: Array.from(grid.severities.values()).some((s) => s.length > 1) ? "slider" : null,
  };
}

/** The condition index for (sparsity, benchmark, severity): the benchmark's severity nearest
 * `severity` (a benchmark picked keeps the severity when it has it), through findCondition. */
export function pickCondition(conds: Condition[], sparsity: number, benchmark: string, severity: number): number {
  const sevs = conditionGrid(conds).severities.get(benchmark) ?? [0];
  return findCondition(conds, sparsity, benchLabel({ benchmark, severity: sevs[nearestLevel(sevs, severity)] }));
}

/** The run picker's entries: each run, then each model of no run, in first-seen order. */
export function modelGroups(models: string[], runs: Run[]): { name: string; models: number[]; steps: number[] }[] {
  const out: { name: string; models: number[]; steps: number[]; first: number }[] = runs.map((r) =>
    ({ name: r.name, models: r.models, steps: r.steps, first: Math.min(...r.models) }));
  models.forEach((name, i) => { if (!runAt(runs, i)) out.push({ name, models: [i], steps: [], first: i }); });
  return out.sort((a, b) => a.first - b.first).map(({ name, models: m, steps }) => ({ name, models: m, steps }));
}

/** The model shown when group `g` is picked: its checkpoint nearest the step shown now. */
export function groupModel(group: { models: number[]; steps: number[] }, step: number | null): number {
  return step === null || !group.steps.length ? group.models[0] : group.models[nearestLevel(group.steps, step)];
}

export function cellPickers(model: AnyModel<SlabTraits>, meta: Meta, bar: HTMLElement, onPick: () => void): Pickers {
  const save = debounce(() => model.save_changes(), 60);
  const nodes: HTMLElement[] = [];
  const set = (key: "model" | "layer" | "condition", v: number) => { model.set(key, v); onPick(); save(); };
  const plan = pickerPlan(meta);
  const conds = meta.conditions;
  const grid = conditionGrid(conds);
  const shown = () => conds[model.get("condition")] as Condition | undefined; // undefined: out of grid
  const cur = shown() ?? conds[0];

  let runSel: HTMLSelectElement | null = null;
  let steps: StepSlider | null = null;
  const runs = runsOf(meta);
  const groups = modelGroups(meta.models, runs);
  const groupOf = (m: number) => groups.findIndex((g) => g.models.includes(m));
  if (plan.model === "run+step") {
    const node = select("run", groups.map((g, i) => ({ value: String(i), text: g.name })), String(groupOf(model.get("model"))), (v) => {
      const now = runAt(runs, model.get("model"));
      set("model", groupModel(groups[+v], now ? now.run.steps[now.i] : null));
    });
    runSel = node.querySelector("select");
    nodes.push(node);
    steps = stepSlider(model, meta, bar, 500, (node) => nodes.push(node));
  } else if (plan.model === "select") {
    nodes.push(select("model", meta.models.map((m, i) => ({ value: String(i), text: m })), String(model.get("model")), (v) => set("model", +v)));
  }
  // a probe layer's option says its probe's held-out accuracy; its tooltip says what that is
  const labelLayers = (s: HTMLSelectElement) => {
    const [m, k] = [model.get("model"), model.get("condition")];
    Array.from(s.options).forEach((o, i) => { o.text = layerLabel(meta, i, m, k); o.title = layerTitle(meta, i, m, k); });
    s.title = layerTitle(meta, +s.value, m, k);
  };
  if (meta.layers.length > 1) {
    const node = select("layer", meta.layers.map((name, i) => ({ value: String(i), text: name })), String(model.get("layer")), (v) => set("layer", +v));
    labelLayers(node.querySelector("select")!);
    nodes.push(node);
  }

  // the condition: each control changes its own dimension and keeps the others
  const pick = (change: Partial<Pick<Condition, "sparsity" | "benchmark" | "severity">>) => {
    const c = shown() ?? cur;
    const to = { sparsity: c?.sparsity ?? 0, benchmark: c?.benchmark ?? "clean", severity: c?.severity ?? 0, ...change };
    set("condition", pickCondition(conds, to.sparsity, to.benchmark, to.severity));
  };
  let spSel: HTMLSelectElement | null = null;
  let spSlider: Slider | null = null;
  let bSel: HTMLSelectElement | null = null;
  let sevSlider: Slider | null = null;
  if (plan.sparsity === "slider") {
    spSlider = levelSlider("sparsity", grid.sparsities, cur?.sparsity ?? 0, (v) => pick({ sparsity: v }), (v) => sparsityText(v, grid.sparsities));
    nodes.push(spSlider.node);
  } else if (plan.sparsity === "select") {
    const node = select("sparsity", grid.sparsities.map((s) => ({ value: String(s), text: sparsityText(s, grid.sparsities) })), String(cur?.sparsity ?? 0), (v) => pick({ sparsity: +v }));
    spSel = node.querySelector("select");
    nodes.push(node);
  }
  const sevsOf = (b: string) => grid.severities.get(b) ?? [0];
  if (plan.benchmark) {
    // a corruption at one severity is named with it ("fog-3"): no severity slider says which
    const text = (b: string) => (sevsOf(b).length === 1 ? benchLabel({ benchmark: b, severity: sevsOf(b)[0] }) : b);
    const node = select("benchmark", grid.benchmarks.map((b) => ({ value: b, text: text(b) })), cur?.benchmark ?? "clean", (v) => pick({ benchmark: v }));
    bSel = node.querySelector("select");
    nodes.push(node);
  }
  if (plan.severity) {
    sevSlider = levelSlider("severity", sevsOf(cur?.benchmark ?? "clean"), cur?.severity ?? 0, (v) => pick({ severity: v }));
    nodes.push(sevSlider.node);
  }
  bar.prepend(...nodes);

  const sync = () => {
    const sels = bar.querySelectorAll("select[data-picker]");
    sels.forEach((el) => {
      const s = el as HTMLSelectElement;
      const key = s.getAttribute("data-picker")!;
      if (key === "model" || key === "layer") s.value = String(model.get(key));
      // the probe's accuracy follows the model and condition shown
      if (key === "layer") labelLayers(s);
    });
    const g = groupOf(model.get("model"));
    if (runSel && g >= 0) runSel.value = String(g);
    // a condition out of the grid (the view shows its error) leaves the controls where they are
    const c = shown();
    if (!c) return;
    if (spSel) spSel.value = String(c.sparsity);
    spSlider?.set(c.sparsity);
    if (bSel) bSel.value = c.benchmark;
    if (sevSlider) {
      sevSlider.setLevels(sevsOf(c.benchmark), c.severity);
      sevSlider.node.hidden = sevsOf(c.benchmark).length < 2;
    }
  };
  sync();
  return { sync, dispose: () => { steps?.dispose(); save.flush(); } };
}
