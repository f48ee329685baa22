// Scales and the fixed frames that map data to CSS pixels. The polar frames are documented so
// that tests can recompute where a point must land.
// The full half disc (the polar plot's "reset"):
//   R = 1.05 * max finite rho (1 when none); pad = 28 px;
//   s = min((W - 2 pad) / (2 R), (H - 2 pad) / R);
//   px = W / 2 + s * rho * cos(theta),  py = H - pad - s * rho * sin(theta)   (before pan / zoom)
// A sector [t0, t1] x [r0, r1] (the polar plot's default, around the data; see polarSector):
//   its bounding box [x0, x1] x [y0, y1] (the four corners, and (0, r1) when t0 <= pi/2 <= t1);
//   s = min((W - 2 pad) / (x1 - x0), (H - 2 pad) / (y1 - y0));
//   px = W / 2 + s * (x - (x0 + x1) / 2),  py = H / 2 - s * (y - (y0 + y1) / 2)

export const PAD = 28;

export interface Camera {
  // CSS pixels per data unit and the CSS pixel where data (0, 0) lands.
  scale: number;
  ox: number;
  oy: number;
}

export function polarCamera(width: number, height: number, rmax: number): Camera {
  const R = rmax > 0 && Number.isFinite(rmax) ? 1.05 * rmax : 1;
  const s = Math.max(1e-9, Math.min((width - 2 * PAD) / (2 * R), (height - 2 * PAD) / R));
  return { scale: s, ox: width / 2, oy: height - PAD };
}

/** An annular sector of the polar plane: angles [t0, t1] (radians, within [0, pi]) and radii
 * [r0, r1]. */
export interface Sector { t0: number; t1: number; r0: number; r1: number }

/** The sector a polar plot shows around data with angles [tmin, tmax] and radii [rmin, rmax]:
 * padded by 5% of each span (at least 2 degrees, and 2% of rmax), reaching the origin when the
 * inner radius would be under 15% of the outer one, and the whole half disc when the angles
 * span more than 150 degrees. */
export function polarSector(tmin: number, tmax: number, rmin: number, rmax: number): Sector {
  if (!(tmin <= tmax) || !(rmin <= rmax) || !(rmax > 0)) return { t0: 0, t1: Math.PI, r0: 0, r1: rmax > 0 ? 1.05 * rmax : 1 };
  const dt = Math.max((2 * Math.PI) / 180, 0.05 * (tmax - tmin));
  const dr = Math.max(0.02 * rmax, 0.05 * (rmax - rmin));
  let t0 = Math.max(0, tmin - dt), t1 = Math.min(Math.PI, tmax + dt);
  if (t1 - t0 > (150 * Math.PI) / 180) { t0 = 0; t1 = Math.PI; }
  let r0 = Math.max(0, rmin - dr);
  const r1 = rmax + dr;
  if (r0 < 0.15 * r1) r0 = 0;
  return { t0, t1, r0, r1 };
}

/** Bounding box [x0, x1, y0, y1] of a sector. */
export function sectorBox(sec: Sector): [number, number, number, number] {
  const xs: number[] = [], ys: number[] = [];
  for (const t of [sec.t0, sec.t1]) for (const r of [sec.r0, sec.r1]) { xs.push(r * Math.cos(t)); ys.push(r * Math.sin(t)); }
  if (sec.t0 <= Math.PI / 2 && Math.PI / 2 <= sec.t1) { xs.push(0); ys.push(sec.r1); }
  return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
}

/** Frame that fits a sector into a width x height CSS px plot with equal aspect. */
export function sectorCamera(width: number, height: number, sec: Sector): Camera {
  const [x0, x1, y0, y1] = sectorBox(sec);
  const dx = Math.max(x1 - x0, 1e-9), dy = Math.max(y1 - y0, 1e-9);
  const s = Math.max(1e-9, Math.min((width - 2 * PAD) / dx, (height - 2 * PAD) / dy));
  return { scale: s, ox: width / 2 - s * (x0 + x1) / 2, oy: height / 2 + s * (y0 + y1) / 2 };
}

/** Frame for x/y data (model map): fit [x0, x1] x [y0, y1] with equal aspect. */
export function xyCamera(width: number, height: number, x: ArrayLike<number>, y: ArrayLike<number>): Camera {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) continue;
    x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]);
    y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
  }
  if (!(x0 <= x1)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
  const dx = Math.max(x1 - x0, 1e-9), dy = Math.max(y1 - y0, 1e-9);
  const s = Math.min((width - 2 * PAD) / dx, (height - 2 * PAD) / dy);
  const scale = Number.isFinite(s) && s > 0 ? s : 1;
  return { scale, ox: width / 2 - scale * (x0 + x1) / 2, oy: height / 2 + scale * (y0 + y1) / 2 };
}

export function toScreen(cam: Camera, x: number, y: number): [number, number] {
  return [cam.ox + cam.scale * x, cam.oy - cam.scale * y];
}

export function toData(cam: Camera, px: number, py: number): [number, number] {
  return [(px - cam.ox) / cam.scale, (cam.oy - py) / cam.scale];
}

/** Zoom by `factor` about the CSS pixel (px, py). */
export function zoomAt(cam: Camera, factor: number, px: number, py: number): Camera {
  return { scale: cam.scale * factor, ox: px + (cam.ox - px) * factor, oy: py + (cam.oy - py) * factor };
}

export function pan(cam: Camera, dx: number, dy: number): Camera {
  return { scale: cam.scale, ox: cam.ox + dx, oy: cam.oy + dy };
}

/** "Nice" tick values covering [lo, hi] with about `count` steps (1, 2, 5 x 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) {
    const v = i * step;
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** An accuracy (a fraction) as a user reads it everywhere: a percent with one decimal. */
export function formatPercent(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : String(v);
}

/** The accuracy colour scale of every view: from chance (1 / classes, the darkest colour;
 * anything below it too) to 100 %, whatever values are shown. Fixed, so a colour means the
 * same accuracy in every view of the cube and as a live cube's cells get computed, and a gap
 * of a point or two looks like one ([0, 1] when the number of classes is unknown). */
export function accuracyDomain(classes: number): [number, number] {
  return Number.isFinite(classes) && classes >= 2 ? [1 / classes, 1] : [0, 1];
}

/** Linear map from [d0, d1] to [r0, r1]. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** `text`, cut with an ellipsis to fit `max` px in the context's font. */
export function fitText(ctx: { measureText(t: string): { width: number } }, text: string, max: number): string {
  if (ctx.measureText(text).width <= max) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= max) lo = mid; else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}
