// Histogram binning for the margin view: equal-width bins, NaN counted apart. Every finite
// value is counted: one outside [lo, hi] goes in the nearest edge bin and is counted in
// `clipped`, never dropped (a dropped sample makes a view's counts disagree with the others').

export interface Histogram {
  edges: Float64Array; // bins + 1
  counts: Int32Array; // bins
  missing: number; // NaN or infinite values skipped
  clipped: number; // finite values outside [lo, hi], counted in the first or last bin
}

/** Equal-width bins over [lo, hi]; a value equal to hi falls in the last bin, one below lo in
 * the first and one above hi in the last (counted in `clipped`). */
export function histogram(
  values: ArrayLike<number>,
  bins: number,
  lo: number,
  hi: number,
  mask?: ArrayLike<number>,
): Histogram {
  if (!(bins >= 1) || !Number.isInteger(bins)) throw new Error(`bins must be a positive integer, got ${bins}`);
  if (!(hi > lo)) { hi = lo + 1; }
  const edges = new Float64Array(bins + 1);
  // an edge that rounding put a hair off 0 is 0, so the sign of a value picks its side
  for (let i = 0; i <= bins; i++) {
    const e = lo + ((hi - lo) * i) / bins;
    edges[i] = Math.abs(e) < 1e-9 * (hi - lo) ? 0 : e;
  }
  const counts = new Int32Array(bins);
  let missing = 0, clipped = 0;
  const w = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (!Number.isFinite(v)) { missing++; continue; }
    if (v < lo || v > hi) { clipped++; counts[v < lo ? 0 : bins - 1]++; continue; }
    let b = Math.floor((v - lo) / w);
    if (b >= bins) b = bins - 1;
    // the drawn edges decide: a margin of exactly 0 falls right of the 0 edge (m < 0 is left)
    if (b < bins - 1 && v >= edges[b + 1]) b++;
    else if (b > 0 && v < edges[b]) b--;
    counts[b]++;
  }
  return { edges, counts, missing, clipped };
}

/** Indices whose value lies in [a, b] (order of a, b does not matter), respecting the mask. */
export function inRange(values: ArrayLike<number>, a: number, b: number, mask?: ArrayLike<number>): number[] {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (v >= lo && v <= hi) out.push(i);
  }
  return out;
}

/** A range [lo', hi'] containing [lo, hi] whose `bins` equal bins put 0 on an edge, so the
 * negative (misclassified) side is set apart. */
export function zeroAlignedRange(lo: number, hi: number, bins: number): [number, number] {
  if (!(hi > lo)) return [lo - 0.5, hi + 0.5];
  if (lo >= 0 || hi <= 0 || bins < 2) return [lo, hi];
  const nNeg = Math.min(bins - 1, Math.max(1, Math.round((bins * -lo) / (hi - lo))));
  const nPos = bins - nNeg;
  let w = Math.max(-lo / nNeg, hi / nPos);
  // -nNeg * (-lo / nNeg) can round to a hair above lo: widen the bins until both ends hold
  while (-nNeg * w > lo || nPos * w < hi) w *= 1 + 1e-12;
  return [-nNeg * w, nPos * w];
}
