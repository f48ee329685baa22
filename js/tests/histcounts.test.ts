// Every sample is counted by the margin histogram: the range it bins over holds the extreme
// values (a rounding of the zero-aligned range once dropped the lowest margin), and a value
// outside the range goes in an end bin, counted in `clipped`.
import { describe, expect, it } from "vitest";
import { histogram, zeroAlignedRange } from "../src/binning";

describe("zeroAlignedRange holds its extremes", () => {
  it("the reviewed case: the lowest margin -3.641042470932007 is inside", () => {
    const lo = -3.641042470932007, hi = 6.729021072387695; // float32 margins
    const [a, b] = zeroAlignedRange(lo, hi, 40);
    expect(a).toBeLessThanOrEqual(lo); // the old range began at -3.6410424709320064 > lo
    expect(b).toBeGreaterThanOrEqual(hi);
    const h = histogram(Float32Array.from([lo, 0.5, hi]), 40, a, b);
    expect(h.counts[0]).toBe(1);
    expect(h.counts[39]).toBe(1);
    expect(h.clipped).toBe(0);
  });

  it("for 20000 random float32 (lo, hi) pairs and bin counts", () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < 20000; t++) {
      const lo = -Math.fround(rnd() * 10 ** (4 * rnd() - 2)), hi = Math.fround(rnd() * 10 ** (4 * rnd() - 2));
      const bins = 2 + Math.floor(rnd() * 80);
      const [a, b] = zeroAlignedRange(lo, hi, bins);
      if (!(a <= lo && b >= hi)) throw new Error(`[${a}, ${b}] misses [${lo}, ${hi}] with ${bins} bins`);
      // 0 stays on an edge: the negative side is whole bins
      const k = -a / ((b - a) / bins);
      expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
    }
  });
});

describe("histogram counts every finite value", () => {
  it("puts values outside [lo, hi] in the end bins and counts them as clipped", () => {
    const values = [-100, -1, -0.5, 0, 0.25, 0.99, 1, 7, NaN, Infinity];
    const h = histogram(values, 4, -1, 1);
    // brute force: bin of v in [-1, 1] at width 0.5; below -> bin 0, above -> bin 3
    const want = [0, 0, 0, 0];
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      want[v < -1 ? 0 : v >= 1 ? 3 : Math.floor((v + 1) / 0.5)]++;
    }
    expect(Array.from(h.counts)).toEqual(want);
    expect(Array.from(h.counts)).toEqual([2, 1, 2, 3]);
    expect(h.clipped).toBe(2);
    expect(h.missing).toBe(2);
    expect(h.counts.reduce((s, c) => s + c, 0)).toBe(8); // every finite value
  });
});
