import { describe, expect, it } from "vitest";
import type { Meta } from "../src/data";
import { robustNote, robustOffset, robustState } from "../src/robust";

// 2 models, 3 sparsity levels, conditions: clean@0, clean@0.5, clean@0.9, fog@0, fog@0.5
const meta = {
  models: ["a", "b"], layers: ["p"], conditions: [], class_names: [],
  shape: [2, 1, 5, 4], lazy: false, thumbs: null,
  robust_levels: { sparsities: [0, 0.5, 0.9], level: [0, 1, 2, 0, 1], evaluated: [true, true, false] },
} as unknown as Meta;

// a live cube's levels: model a's sparsity 0 computed, nothing else
const live = (extra: Record<string, unknown>) => ({
  ...meta,
  robust_levels: { ...(meta.robust_levels as object), computed: [[true, false, false], [false, false, false]], ...extra },
}) as unknown as Meta;

describe("robustOffset", () => {
  it("reads the shown model at the level of the shown condition's sparsity in [M, S, N]", () => {
    const n = 4;
    expect(robustOffset(meta, 0, 0, n)).toBe(0);
    expect(robustOffset(meta, 0, 4, n)).toBe(1 * n); // fog at 0.5: level 1
    expect(robustOffset(meta, 1, 2, n)).toBe((1 * 3 + 2) * n); // model b at 0.9
  });
  it("is the model's row of an [M, N] array without levels", () => {
    expect(robustOffset({ ...meta, robust_levels: undefined } as Meta, 1, 3, 7)).toBe(7);
  });
});

describe("robustNote", () => {
  it("says when the shown sparsity has no corruptions, and nothing where it has", () => {
    expect(robustNote(meta, 2)).toBe('robustness: not evaluated at sparsity 90% (no corruptions there; a Study with grid="full" corrupts every sparsity)');
    expect(robustNote(meta, 1)).toBeNull();
    expect(robustNote({ ...meta, robust_levels: undefined } as Meta, 2)).toBeNull();
  });
});

describe("robustNote on a live cube", () => {
  it("says nothing where the shown model's level is computed", () => {
    expect(robustNote(live({ computing: 0 }), 0, 0)).toBeNull();
  });
  it("says computing, not computed or the error where it is not", () => {
    expect(robustNote(live({ computing: 2 }), 1, 0)).toBe("robustness: computing (2 corrupted conditions to go)…");
    expect(robustNote(live({ computing: 0 }), 0, 1)).toBe("robustness: not computed yet for b at sparsity 0% (a live cube; it needs every corrupted condition there)");
    expect(robustNote(live({ computing: 0, failed: "LiveCellError: boom" }), 4, 0)).toBe("robustness: not computed, LiveCellError: boom");
  });
  it("still says not evaluated where the level has no corruptions", () => {
    expect(robustNote(live({ computing: 1 }), 2, 0)).toMatch(/^robustness: not evaluated at sparsity 90%/);
  });
});

describe("robustState", () => {
  it("names why the axis is empty, the word the parallel coordinates write on it", () => {
    expect(robustState(meta, 2)).toBe("not evaluated");
    expect(robustState(meta, 1)).toBeNull();
    expect(robustState(live({ computing: 0 }), 0, 0)).toBeNull();
    expect(robustState(live({ computing: 0 }), 0, 1)).toBe("not computed");
    expect(robustState(live({ computing: 3 }), 1, 0)).toBe("computing");
    expect(robustState(live({ computing: 3, failed: "boom" }), 1, 0)).toBe("failed");
    expect(robustState(live({ computing: 0 }), 2, 0)).toBe("not evaluated");
  });
});
