// Axes that take few values (robustness per benchmark: 0 or 1 per corruption, a few severity
// fractions) draw each value as a band, and each sample's line meets the axis at its own height
// inside its value's band instead of at one point, so lines between two such axes form ribbons
// (as in parallel sets) instead of X-shaped bundles through single points. Inside a band the
// samples are ordered by their values on the neighbouring axes, so ribbons arriving from the
// previous axis stay together and lines towards the next axis cross as little as they can.

/** Axes with at most this many distinct values are drawn as bands. */
export const MAX_LEVELS = 12;

/** The distinct finite values, sorted, when there are at most `max` of them; else null. */
export function levels(values: ArrayLike<number>, max = MAX_LEVELS): number[] | null {
  const seen = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || seen.has(v)) continue;
    seen.add(v);
    if (seen.size > max) return null;
  }
  return Array.from(seen).sort((a, b) => a - b);
}

/**
 * Each sample's offset inside its value's band, in (-0.5, 0.5) (times the band height; down
 * is positive): samples of one value are spread evenly over the band, ordered by their value on
 * the previous axis, then on the next one (higher values higher up), then by index. Samples
 * whose value is missing get 0.
 */
export function bandOffsets(values: ArrayLike<number>, prev?: ArrayLike<number>, next?: ArrayLike<number>): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    let g = groups.get(v);
    if (!g) { g = []; groups.set(v, g); }
    g.push(i);
  }
  const key = (a: ArrayLike<number> | undefined, i: number) => {
    const v = a ? a[i] : 0;
    return Number.isFinite(v) ? v : -Infinity;
  };
  for (const g of groups.values()) {
    g.sort((i, j) => key(prev, j) - key(prev, i) || key(next, j) - key(next, i) || i - j);
    const m = g.length;
    g.forEach((i, r) => { out[i] = (r + 0.5) / m - 0.5; });
  }
  return out;
}

/** Band height (px) for levels drawn at heights `ys`: 70% of the closest two levels' distance,
 * so neighbouring bands never touch, and at most `max` px. */
export function bandHeight(ys: number[], max = 48): number {
  const sorted = ys.slice().sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i] - sorted[i - 1]);
  return Math.min(max, Number.isFinite(gap) ? 0.7 * gap : max);
}
