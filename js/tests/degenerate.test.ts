import { describe, expect, it } from "vitest";
import { countDegenerate, degenerateText } from "../src/views/degenerate";

describe("dead-cell sentences", () => {
  it("counts NaN angles and zero norms as a loop over the samples does", () => {
    const angle = new Float32Array([NaN, 0.3, NaN, NaN, 1.2]);
    const norm = new Float32Array([0, 2, 0, 1.5, 3]);
    expect(countDegenerate(angle, norm)).toEqual({ undefinedAngle: 3, zeroNorm: 2, n: 5 });
  });

  it("says all, part, or nothing", () => {
    expect(degenerateText({ undefinedAngle: 500, zeroNorm: 500, n: 500 }, "m at clean@0.9"))
      .toBe("m at clean@0.9: all 500 samples have zero features (norm 0), so the angle is undefined");
    expect(degenerateText({ undefinedAngle: 3, zeroNorm: 3, n: 40 }, "m at c"))
      .toBe("m at c: 3 of 40 samples have zero features (norm 0), so the angle is undefined");
    expect(degenerateText({ undefinedAngle: 3, zeroNorm: 2, n: 5 }, "m at c"))
      .toBe("m at c: the angle is undefined for 3 of 5 samples (2 of 5 samples have zero features, norm 0)");
    expect(degenerateText({ undefinedAngle: 0, zeroNorm: 0, n: 5 }, "m at c")).toBe("");
  });
});
