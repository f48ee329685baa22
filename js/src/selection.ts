// Lasso and box selection in screen space.

export type Point = [number, number];

/** Even-odd rule point-in-polygon test. */
export function inPolygon(x: number, y: number, poly: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function boxPolygon(a: Point, b: Point): Point[] {
  const x0 = Math.min(a[0], b[0]), x1 = Math.max(a[0], b[0]);
  const y0 = Math.min(a[1], b[1]), y1 = Math.max(a[1], b[1]);
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}

/** Indices i (0..n-1) whose screen position lies inside the polygon. */
export function selectPolygon(n: number, screen: (i: number) => Point | null, poly: Point[]): number[] {
  if (poly.length < 3) return [];
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = screen(i);
    if (!p) continue;
    if (p[0] < x0 || p[0] > x1 || p[1] < y0 || p[1] > y1) continue;
    if (inPolygon(p[0], p[1], poly)) out.push(i);
  }
  return out;
}

/** Index of the nearest point within `radius` CSS px, or -1. */
export function nearest(n: number, screen: (i: number) => Point | null, x: number, y: number, radius: number): number {
  let best = -1;
  let bd = radius * radius;
  for (let i = 0; i < n; i++) {
    const p = screen(i);
    if (!p) continue;
    const d = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (d <= bd) { bd = d; best = i; }
  }
  return best;
}

/** Map selected sample ids to a 0/1 mask over positions. */
export function idMask(ids: ArrayLike<number>, selected: ArrayLike<number>): Uint8Array {
  const want = new Set<number>();
  for (let i = 0; i < selected.length; i++) want.add(selected[i]);
  const out = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) if (want.has(ids[i])) out[i] = 1;
  return out;
}
