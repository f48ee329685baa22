import { dominantPeak, panelsYMax } from "../src/views/histogram";
import { describe, expect, it } from "vitest";
import { histogram, inRange, zeroAlignedRange } from "../src/binning";
import { idMask, inPolygon, selectPolygon } from "../src/selection";

function bruteCounts(values: number[], bins: number, lo: number, hi: number): number[] {
  const out = new Array(bins).fill(0);
  const w = (hi - lo) / bins;
  for (const v of values) {
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    for (let b = 0; b < bins; b++) {
      const a = lo + b * w, z = lo + (b + 1) * w;
      if ((v >= a && v < z) || (b === bins - 1 && v === hi)) { out[b]++; break; }
    }
  }
  return out;
}

describe("histogram", () => {
  it("matches a brute-force count", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const values = Array.from({ length: 2000 }, () => rnd() * 4 - 1.5);
    values.push(NaN, Infinity, 2.5, -1.5);
    const h = histogram(Float32Array.from(values), 17, -1.5, 2.5);
    expect(Array.from(h.counts)).toEqual(bruteCounts(Array.from(Float32Array.from(values)), 17, -1.5, 2.5));
    expect(h.missing).toBe(2);
    expect(h.edges.length).toBe(18);
    expect(h.edges[17]).toBe(2.5);
  });

  it("respects a mask", () => {
    const h = histogram([0.1, 0.2, 0.9], 2, 0, 1, [1, 0, 1]);
    expect(Array.from(h.counts)).toEqual([1, 1]);
  });

  it("rejects bad bin counts", () => {
    expect(() => histogram([1], 0, 0, 1)).toThrow(/bins must be a positive integer, got 0/);
  });

  it("aligns a bin edge on zero", () => {
    const [lo, hi] = zeroAlignedRange(-0.7, 1.9, 13);
    const w = (hi - lo) / 13;
    expect(Math.abs(lo / w - Math.round(lo / w))).toBeLessThan(1e-9);
    expect(lo).toBeLessThanOrEqual(-0.7);
    expect(hi).toBeGreaterThanOrEqual(1.9);
  });

  it("selects a brushed range", () => {
    expect(inRange([-2, -0.5, 0, 0.4, 3], 0.5, -1)).toEqual([1, 2, 3]);
    expect(inRange([-2, -0.5, 0, 0.4], -1, 1, [1, 1, 0, 1])).toEqual([1, 3]);
  });
});

describe("selection", () => {
  it("lasso picks points inside a concave polygon", () => {
    const poly: [number, number][] = [[0, 0], [10, 0], [10, 10], [5, 5], [0, 10]];
    expect(inPolygon(2, 2, poly)).toBe(true);
    expect(inPolygon(5, 8, poly)).toBe(false);
    const pts: [number, number][] = [[2, 2], [5, 8], [9, 9], [11, 1]];
    expect(selectPolygon(4, (i) => pts[i], poly)).toEqual([0, 2]);
  });

  it("maps ids to a mask", () => {
    expect(Array.from(idMask([10, 11, 12, 13], [13, 10, 99]))).toEqual([1, 0, 0, 1]);
  });
});

describe("a margin of exactly 0 (zero features: on the boundary, not misclassified)", () => {
  it("falls in the bin right of the 0 edge even where rounding puts that edge a hair off 0", () => {
    // a range where lo + (hi - lo) * 1 / 40 computes to 6.9e-18 instead of 0
    const [lo, hi] = zeroAlignedRange(-1 / 37, 27 / 13, 40);
    expect(lo + (hi - lo) / 40).not.toBe(0);
    const hst = histogram(new Float32Array(500), 40, lo, hi);
    const bin = hst.counts.indexOf(500);
    expect(hst.edges[bin]).toBe(0); // its left edge is 0: drawn on the m >= 0 side
    expect(hst.counts[bin - 1]).toBe(0);
    // a brute-force check of every value against the drawn edges
    const vals = Float64Array.from({ length: 200 }, (_, i) => lo + ((hi - lo) * i) / 199);
    const hv = histogram(vals, 40, lo, hi);
    const want = new Array(40).fill(0);
    for (const v of vals) { let b = 0; while (b < 39 && v >= hv.edges[b + 1]) b++; want[b]++; }
    expect(Array.from(hv.counts)).toEqual(want);
  });
});

describe("dominantPeak / panelsYMax", () => {
  it("names the group whose peak is over 4x every other's, and scales panels apart then", () => {
    expect(dominantPeak([500, 60, 40])).toBe(0);
    expect(dominantPeak([100, 60, 40])).toBe(-1);
    expect(dominantPeak([500])).toBe(-1);
    expect(panelsYMax([500, 60, 0], 500, true, true)).toEqual([500, 60, 1]);
    expect(panelsYMax([500, 60], 500, false, true)).toEqual([500, 500]);
    expect(panelsYMax([500, 60], 500, true, false)).toEqual([500]);
  });
});
