import { describe, expect, it } from "vitest";
import type { Meta } from "../src/data";
import { layerLabel } from "../src/views/layerlabel";

const meta = {
  models: ["a", "b"], layers: ["conv2", "penultimate"], conditions: [], class_names: [],
  shape: [2, 2, 2, 3], lazy: false, thumbs: null,
  probe_accuracy: [[[0.8812, 0.5], [null, null]], [[0.25, 1], [null, null]]],
} as unknown as Meta;

describe("layerLabel", () => {
  it("puts the probe's held-out accuracy of the shown model and condition beside the name", () => {
    expect(layerLabel(meta, 0, 0, 0)).toBe("conv2 · probe 88.1% held-out");
    expect(layerLabel(meta, 0, 1, 1)).toBe("conv2 · probe 100.0% held-out");
    expect(layerLabel(meta, 1, 0, 0)).toBe("penultimate");
  });
  it("is the bare name in views without probe layers", () => {
    expect(layerLabel({ ...meta, probe_accuracy: null } as Meta, 0, 0, 0)).toBe("conv2");
  });
});
