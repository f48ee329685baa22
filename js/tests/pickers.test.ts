import { describe, expect, it } from "vitest";
import type { Condition, Meta } from "../src/data";
import { levelText, nearestLevel, SLIDER_AT } from "../src/live";
import { conditionGrid, groupModel, modelGroups, pickCondition, pickerPlan } from "../src/views/pickers";
import { runsOf } from "../src/views/steps";

const cond = (sparsity: number, benchmark = "clean", severity = 0): Condition =>
  ({ sparsity, benchmark, severity, label: `${benchmark}@${sparsity}` });

/** The product grid of a Study: every sparsity x (clean, and each corruption at each severity). */
function grid(sparsities: number[], corruptions: Record<string, number[]>): Condition[] {
  const out: Condition[] = [];
  for (const s of sparsities) {
    out.push(cond(s));
    for (const [b, sevs] of Object.entries(corruptions)) for (const v of sevs) out.push(cond(s, b, v));
  }
  return out;
}

function meta(conditions: Condition[], models = ["m"], info: Record<string, string>[] = []): Meta {
  return { models, layers: ["l"], conditions, class_names: [], shape: [models.length, 1, conditions.length, 0],
    lazy: false, thumbs: null, model_info: info };
}

const levels = (n: number) => Array.from({ length: n }, (_, i) => +(i / n).toFixed(4));

describe("which picker a grid gets", () => {
  it("a sparsity slider from SLIDER_AT levels, a list below, nothing for one level", () => {
    expect(pickerPlan(meta(grid(levels(SLIDER_AT), {}))).sparsity).toBe("slider");
    expect(pickerPlan(meta(grid(levels(SLIDER_AT - 1), {}))).sparsity).toBe("select");
    expect(pickerPlan(meta(grid([0], {}))).sparsity).toBeNull();
  });

  it("a severity slider when some benchmark has two or more severities", () => {
    const plan = pickerPlan(meta(grid(levels(12), { fog: [1, 2, 3, 4, 5] })));
    expect(plan).toEqual({ model: null, sparsity: "slider", benchmark: "select", severity: "slider" });
    expect(pickerPlan(meta(grid([0, 0.5], { fog: [3], noise: [2] })))).toEqual(
      { model: null, sparsity: "select", benchmark: "select", severity: null });
    expect(pickerPlan(meta(grid([0], {}))).benchmark).toBeNull();
  });

  it("a checkpoint run gets a run picker and a step slider; other models a list", () => {
    const info = [0, 10, 20].map((s) => ({ run: "r", step: String(s) }));
    expect(pickerPlan(meta(grid([0], {}), ["r/0", "r/10", "r/20"], info)).model).toBe("run+step");
    expect(pickerPlan(meta(grid([0], {}), ["a", "b"])).model).toBe("select");
    expect(pickerPlan(meta(grid([0], {}), ["a"])).model).toBeNull();
  });
});

describe("the condition picked", () => {
  const conds = grid(levels(12), { fog: [1, 2, 3, 4, 5], noise: [2, 4] });

  /** The position of the exact condition, by a loop over the list (independent of findCondition). */
  const at = (s: number, b: string, v: number) => {
    for (let i = 0; i < conds.length; i++) {
      const c = conds[i];
      if (c.sparsity === s && c.benchmark === b && c.severity === v) return i;
    }
    throw new Error("not in the grid");
  };

  it("is the (sparsity, benchmark, severity) of the grid for every combination", () => {
    for (const s of levels(12)) {
      expect(pickCondition(conds, s, "clean", 0)).toBe(at(s, "clean", 0));
      for (const v of [1, 2, 3, 4, 5]) expect(pickCondition(conds, s, "fog", v)).toBe(at(s, "fog", v));
      for (const v of [2, 4]) expect(pickCondition(conds, s, "noise", v)).toBe(at(s, "noise", v));
    }
  });

  it("takes the benchmark's nearest severity when it lacks the one shown", () => {
    expect(pickCondition(conds, 0.5, "noise", 5)).toBe(at(0.5, "noise", 4));
    expect(pickCondition(conds, 0.5, "noise", 1)).toBe(at(0.5, "noise", 2));
    expect(pickCondition(conds, 0.5, "clean", 3)).toBe(at(0.5, "clean", 0));
  });

  it("takes the nearest sparsity with that benchmark where the grid is not full", () => {
    const sparse = [cond(0), cond(0.5), cond(0.9), cond(0, "fog", 3), cond(0.5, "fog", 3)];
    expect(pickCondition(sparse, 0.9, "fog", 3)).toBe(4);
    expect(pickCondition(sparse, 0.2, "fog", 3)).toBe(3);
    expect(pickCondition(sparse, 0.9, "clean", 0)).toBe(2);
  });

  it("lists each benchmark's severities and every sparsity", () => {
    const g = conditionGrid(conds);
    expect(g.sparsities).toEqual(levels(12));
    expect(g.benchmarks).toEqual(["clean", "fog", "noise"]);
    expect(g.severities.get("fog")).toEqual([1, 2, 3, 4, 5]);
    expect(g.severities.get("noise")).toEqual([2, 4]);
    expect(g.severities.get("clean")).toEqual([0]);
  });
});

describe("the run picker", () => {
  const info: Record<string, string>[] = [{ run: "a", step: "10" }, { run: "b", step: "0" }, { arch: "x" },
    { run: "a", step: "0" }, { run: "b", step: "10" }, { run: "a", step: "20" }];
  const models = ["a/10", "b/0", "lone", "a/0", "b/10", "a/20"];

  it("lists each run once and each model of no run, first-seen order", () => {
    const groups = modelGroups(models, runsOf(meta([], models, info)));
    expect(groups).toEqual([
      { name: "a", models: [3, 0, 5], steps: [0, 10, 20] },
      { name: "b", models: [1, 4], steps: [0, 10] },
      { name: "lone", models: [2], steps: [] },
    ]);
  });

  it("keeps the step shown when another run is picked (its nearest step)", () => {
    const [a, b, lone] = modelGroups(models, runsOf(meta([], models, info)));
    expect(groupModel(b, 10)).toBe(4);
    expect(groupModel(b, 20)).toBe(4); // b has no step 20: its nearest, 10
    expect(groupModel(a, 0)).toBe(3);
    expect(groupModel(a, null)).toBe(3); // from a model of no run: the first step
    expect(groupModel(lone, 10)).toBe(2);
  });
});

describe("slider levels", () => {
  it("snap to the nearest level and read without float noise", () => {
    expect(nearestLevel([0, 0.3, 0.6], 0.30000001)).toBe(1);
    expect(nearestLevel([1, 2, 3], 10)).toBe(2);
    expect(levelText(0.30000001192092896)).toBe("0.3");
    expect(levelText(0.99)).toBe("0.99");
  });
});
