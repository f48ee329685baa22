// The evaluation table's grid: layout, Canvas2D drawing and hit testing, apart from any widget
// so that tests and the benchmark can drive it directly. Everything is drawn on one canvas
// (no DOM per cell, no SVG), so 200 x 80 cells with histograms stay one frame and the canvas
// is the picture `to_png` takes.
//
// Cell (r, c) of the grid: accuracy[r * C + c] (NaN: not evaluated), counts[(r * C + c) * B + b]
// for the B bins whose edges are edges[c * (B + 1) + b] (shared by the column).

import { viridis, type RGB } from "../colors";
import type { Theme } from "../theme";

export interface Grid {
  rows: number;
  cols: number;
  bins: number;
  accuracy: Float32Array;
  counts: Uint16Array | Uint32Array;
  edges: Float32Array;
  rowLabels: string[];
  colLabels: string[];
  rowGroups: Int32Array | number[];
  colGroups: Int32Array | number[];
  colGroupLabels: string[];
}

export interface Layout {
  labelW: number;
  groupH: number; // header tier with the benchmark names
  headerH: number; // both header tiers
  cellW: number;
  cellH: number;
  width: number; // CSS px of the whole grid
  height: number;
  rowOrder: ArrayLike<number>; // display position -> row
  colOrder: ArrayLike<number>;
  rowAt: Int32Array; // row -> display position
  colAt: Int32Array;
}

export const MIN_CELL_W = 26;
export const MAX_CELL_W = 72;
export const CELL_H = 24;
const GROUP_H = 16;
const SUB_H = 14;
const GAP = 3; // px between groups

function invert(order: ArrayLike<number>, n: number): Int32Array {
  const at = new Int32Array(n).fill(-1);
  for (let i = 0; i < order.length; i++) at[order[i]] = i;
  return at;
}

/** Group boundaries in display order add a small gap: gaps[i] = gap px before position i. */
function gapsBefore(order: ArrayLike<number>, groups: ArrayLike<number>): Float64Array {
  const out = new Float64Array(order.length + 1);
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && groups[order[i]] !== groups[order[i - 1]]) acc += GAP;
    out[i] = acc;
  }
  out[order.length] = acc;
  return out;
}

export interface Placed extends Layout {
  x(col: number): number; // left edge of column col (by data index)
  y(row: number): number;
  rowGap: Float64Array;
  colGap: Float64Array;
}

/** Fit the grid to `width` CSS px: columns share it, within [MIN_CELL_W, MAX_CELL_W]. */
export function layoutGrid(g: Grid, width: number, labelW: number, rowOrder: ArrayLike<number>, colOrder: ArrayLike<number>): Placed {
  const rowGap = gapsBefore(rowOrder, g.rowGroups);
  const colGap = gapsBefore(colOrder, g.colGroups);
  const avail = width - labelW - colGap[g.cols] - 2;
  const cellW = Math.max(MIN_CELL_W, Math.min(MAX_CELL_W, g.cols ? Math.floor(avail / g.cols) : MAX_CELL_W));
  const cellH = CELL_H;
  const headerH = GROUP_H + SUB_H;
  const rowAt = invert(rowOrder, g.rows), colAt = invert(colOrder, g.cols);
  return {
    labelW, groupH: GROUP_H, headerH, cellW, cellH,
    width: labelW + g.cols * cellW + colGap[g.cols] + 2,
    height: headerH + g.rows * cellH + rowGap[g.rows] + 2,
    rowOrder, colOrder, rowAt, colAt, rowGap, colGap,
    x: (c) => labelW + colAt[c] * cellW + colGap[colAt[c]],
    y: (r) => headerH + rowAt[r] * cellH + rowGap[rowAt[r]],
  };
}

/** The cell under (x, y) CSS px of the grid, or null (headers, gaps, outside). */
export function hitCell(g: Grid, L: Placed, x: number, y: number): { row: number; col: number } | null {
  if (x < L.labelW || y < L.headerH) return null;
  const find = (v: number, n: number, start: number, size: number, gap: Float64Array, order: ArrayLike<number>) => {
    // positions are monotone in display order: a binary search over them
    let lo = 0, hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const left = start + mid * size + gap[mid];
      if (v < left) hi = mid - 1;
      else if (v >= left + size) lo = mid + 1;
      else return order[mid];
    }
    return -1;
  };
  const col = find(x, g.cols, L.labelW, L.cellW, L.colGap, L.colOrder);
  const row = find(y, g.rows, L.headerH, L.cellH, L.rowGap, L.rowOrder);
  return row >= 0 && col >= 0 ? { row, col } : null;
}

/** [min, max] of the finite accuracies ([0, 1] when there are none or one value). */
export function accuracyDomain(acc: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < acc.length; i++) { const v = acc[i]; if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } }
  if (!(lo < hi)) return [0, 1];
  return [lo, hi];
}

/** Colour of an accuracy: viridis over the domain, in 64 steps (one fill per step). */
export const STEPS = 64;
export function accuracyStep(v: number, domain: [number, number]): number {
  const t = (v - domain[0]) / (domain[1] - domain[0]);
  return Math.round(Math.min(1, Math.max(0, t)) * (STEPS - 1));
}

function css(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function lightText(c: RGB): boolean {
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] < 140;
}

/** Largest count per column, so bars of one column share a height scale. */
export function columnMax(g: Grid): Float64Array {
  const out = new Float64Array(g.cols);
  const B = g.bins;
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.cols; c++) {
      const base = (r * g.cols + c) * B;
      for (let b = 0; b < B; b++) if (g.counts[base + b] > out[c]) out[c] = g.counts[base + b];
    }
  }
  return out;
}

function fitText(ctx: CanvasRenderingContext2D, text: string, w: number): string {
  if (ctx.measureText(text).width <= w) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= w) lo = mid; else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

export interface DrawOptions {
  theme: Theme;
  domain: [number, number];
  colMax: Float64Array;
  selected: { row: number; col: number } | null;
  hovered: { row: number; col: number } | null;
}

/**
 * Draw the grid at (0, 0) of `ctx` (CSS px; the caller sets the device-pixel transform).
 * Fills are batched: one path per accuracy colour step, one for all histogram bars of each
 * text colour, so the cost is a few fills plus one `fillText` per cell wide enough for it.
 */
export function drawGrid(ctx: CanvasRenderingContext2D, g: Grid, L: Placed, o: DrawOptions): void {
  const { theme } = o;
  const B = g.bins, W = L.cellW, H = L.cellH;
  // cell backgrounds, grouped by colour step
  const byStep: number[][] = Array.from({ length: STEPS }, () => []);
  const empty: number[] = [];
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.cols; c++) {
      const v = g.accuracy[r * g.cols + c];
      if (Number.isFinite(v)) byStep[accuracyStep(v, o.domain)].push(r * g.cols + c);
      else empty.push(r * g.cols + c);
    }
  }
  const colours: RGB[] = Array.from({ length: STEPS }, (_, k) => viridis(k / (STEPS - 1)));
  for (let k = 0; k < STEPS; k++) {
    const cells = byStep[k];
    if (!cells.length) continue;
    ctx.fillStyle = css(colours[k]);
    ctx.beginPath();
    for (const i of cells) ctx.rect(L.x(i % g.cols) + 0.5, L.y((i / g.cols) | 0) + 0.5, W - 1, H - 1);
    ctx.fill();
  }
  if (empty.length) {
    ctx.strokeStyle = theme.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const i of empty) ctx.rect(L.x(i % g.cols) + 1, L.y((i / g.cols) | 0) + 1, W - 2, H - 2);
    ctx.stroke();
  }
  // histograms in the lower part of each cell, in the cell's contrasting colour
  const barTop = 0.42 * H, barH = H - barTop - 2;
  const bw = (W - 4) / B;
  const paths = [new Path2D(), new Path2D()]; // [dark bars, light bars]
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.cols; c++) {
      const v = g.accuracy[r * g.cols + c];
      if (!Number.isFinite(v) || o.colMax[c] <= 0) continue;
      const path = paths[lightText(colours[accuracyStep(v, o.domain)]) ? 1 : 0];
      const x0 = L.x(c) + 2, y0 = L.y(r) + barTop, base = (r * g.cols + c) * B;
      for (let b = 0; b < B; b++) {
        const n = g.counts[base + b];
        if (!n) continue;
        const hgt = Math.max(1, (n / o.colMax[c]) * barH);
        path.rect(x0 + b * bw, y0 + barH - hgt, Math.max(1, bw - 0.5), hgt);
      }
    }
  }
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  ctx.fill(paths[0]);
  ctx.fillStyle = "rgba(255,255,255,0.7)";
  ctx.fill(paths[1]);
  // accuracy numbers, where the cell is wide enough
  ctx.textBaseline = "top";
  ctx.font = "9px system-ui, sans-serif";
  if (W >= 28) {
    ctx.textAlign = "left";
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const v = g.accuracy[r * g.cols + c];
        if (!Number.isFinite(v)) continue;
        ctx.fillStyle = lightText(colours[accuracyStep(v, o.domain)]) ? "#ffffff" : "#111111";
        ctx.fillText((100 * v).toFixed(W >= 40 ? 1 : 0), L.x(c) + 2, L.y(r) + 1);
      }
    }
  }
  // row labels, group separators
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  ctx.fillStyle = theme.fg;
  for (let r = 0; r < g.rows; r++) {
    ctx.fillText(fitText(ctx, g.rowLabels[r], L.labelW - 8), L.labelW - 4, L.y(r) + H / 2);
  }
  // column headers: benchmark names over their severities
  ctx.textAlign = "center";
  ctx.font = "10px system-ui, sans-serif";
  let start = 0;
  const order = L.colOrder;
  for (let i = 1; i <= g.cols; i++) {
    if (i < g.cols && g.colGroups[order[i]] === g.colGroups[order[start]]) continue;
    const first = order[start], last = order[i - 1];
    const x0 = L.x(first), x1 = L.x(last) + W;
    ctx.fillStyle = theme.fg;
    ctx.fillText(fitText(ctx, g.colGroupLabels[g.colGroups[first] as number] ?? "", x1 - x0 - 2), (x0 + x1) / 2, L.groupH / 2);
    ctx.fillStyle = theme.grid;
    ctx.fillRect(x0 + 1, L.groupH - 2, x1 - x0 - 2, 1);
    start = i;
  }
  ctx.fillStyle = theme.muted;
  for (let c = 0; c < g.cols; c++) {
    ctx.fillText(fitText(ctx, g.colLabels[c], W - 2), L.x(c) + W / 2, L.groupH + SUB_H / 2);
  }
  // hover and selection outlines
  for (const [cell, colour, width] of [[o.hovered, theme.muted, 1], [o.selected, theme.fg, 2]] as const) {
    if (!cell) continue;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.strokeRect(L.x(cell.col) + 0.5, L.y(cell.row) + 0.5, W - 1, H - 1);
  }
}
