import { describe, expect, it } from "vitest";
import type { Meta } from "../src/data";
import { runsOf } from "../src/views/steps";

function meta(info: Record<string, string>[]): Meta {
  return { models: info.map((_, i) => `m${i}`), layers: ["l"], conditions: [], class_names: [],
    shape: [info.length, 1, 1, 0], lazy: false, thumbs: null, model_info: info };
}

describe("runsOf", () => {
  it("groups models by run and orders them by step, numerically", () => {
    const runs = runsOf(meta([
      { run: "a", step: "10" }, { run: "b", step: "0" }, { architecture: "LeNet" },
      { run: "a", step: "2" }, { run: "b", step: "5" }, { run: "a", step: "0" },
    ]));
    expect(runs).toEqual([
      { name: "a", steps: [0, 2, 10], models: [5, 3, 0] },
      { name: "b", steps: [0, 5], models: [1, 4] },
    ]);
  });

  it("leaves out runs of one step and models without run or step", () => {
    expect(runsOf(meta([{ run: "a", step: "1" }, { run: "b" }, { step: "3" }]))).toEqual([]);
    expect(runsOf(meta([]))).toEqual([]);
  });
});
