// The evaluation table's grid: layout, Canvas2D drawing and hit testing, apart from any widget
// so that tests and the benchmark can drive it directly. Everything is drawn on one canvas
// (no DOM per cell, no SVG), so 200 x 80 cells with histograms stay one frame, and `to_png`
// takes the table as shown (the window of it the view shows, when it scrolls).
//
// Cell (r, c) of the grid: accuracy[r * C + c] (NaN: not evaluated), counts[(r * C + c) * B + b]
// for the B bins whose edges are edges[c * (B + 1) + b] (shared by the column). A live cube's
// table sends `computed` [R, C] too: a cell the cube has but has not computed yet is drawn
// dashed and says "not computed" (never as a number, never blank like a cell not evaluated).

import { decode, type Encoded, type WireArray } from "../codec";
import { viridis, type RGB } from "../colors";
import { accuracyLegend } from "../legend";
import { h, select } from "../dom";
import { Frame } from "../frame";
import type { AnyModel, GeoTraits } from "../model";
import type { ViewContext } from "../context";
import { wrapText } from "../labels";
import { accuracyDomain, fitText, formatNumber, formatPercent } from "../scales";
import type { Theme } from "../theme";
import { linkFrame } from "./framed";

/** EvaluationTable's synced traits (geowidget/widgets/evaluation.py). */
export interface EvalTableTraits extends GeoTraits {
  quantity: "margin" | "angle" | "norm" | "robustness";
  sort_rows: "cube" | "accuracy" | "robustness";
  sort_columns: "cube" | "difficulty";
  bins: number;
  model: number;
  layer: number;
  condition: number;
  /** [row, column] of the clicked cell; [] for none. */
  selected_cell: number[];
}

export interface Grid {
  rows: number;
  cols: number;
  bins: number;
  accuracy: Float32Array;
  counts: Uint8Array | Uint16Array | Uint32Array | Int32Array;
  edges: Float32Array;
  rowLabels: string[];
  colLabels: string[];
  rowGroups: Int32Array | number[];
  colGroups: Int32Array | number[];
  colGroupLabels: string[];
  /** A live cube's cells that are not computed yet (1), [R * C]; none for other cubes. */
  notComputed?: Uint8Array;
  /** The number of classes (chance accuracy is 1 / classes). */
  classes: number;
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
const LINE_H = 11; // a header line of 10 px text
const MAX_GROUP_LINES = 3;

/** Lines of benchmark name a header tier `groupH` px high holds. */
function groupLines(groupH: number): number {
  return Math.max(1, Math.floor((groupH - 4) / LINE_H));
}

/** The header tier's height for benchmark names wrapped into the width of their columns:
 * as many lines as the longest needs (at most 3, then cut; the full name shows on hover). */
export function groupHeight(g: Grid, L: Placed, measure: (t: string) => number): number {
  let lines = 1;
  const span = new Map<number, number>();
  for (let c = 0; c < g.cols; c++) span.set(g.colGroups[c], (span.get(g.colGroups[c]) ?? 0) + L.cellW);
  for (const [grp, w] of span) {
    lines = Math.max(lines, wrapText(measure, g.colGroupLabels[grp] ?? "", w - 2, MAX_GROUP_LINES).length);
  }
  return Math.max(GROUP_H, 4 + lines * LINE_H);
}
const SUB_H = 14;
const GAP = 3; // px between groups

function invert(order: ArrayLike<number>, n: number): Int32Array {
  const at = new Int32Array(n).fill(-1);
  for (let i = 0; i < order.length; i++) at[order[i]] = i;
  return at;
}

/** Group boundaries in display order add a small gap: gaps[i] = gap px before position i.
 * Only when some group has more than one member: single-member groups need no separation. */
function gapsBefore(order: ArrayLike<number>, groups: ArrayLike<number>): Float64Array {
  const out = new Float64Array(order.length + 1);
  const seen = new Set<number>();
  for (let i = 0; i < groups.length; i++) seen.add(groups[i]);
  const gap = seen.size < groups.length ? GAP : 0;
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && groups[order[i]] !== groups[order[i - 1]]) acc += gap;
    out[i] = acc;
  }
  out[order.length] = acc;
  return out;
}

/** The plot's height for at most `maxH` CSS px: the header and as many whole rows as fit (never
 * a row cut in half), and how many rows that shows; all of them when the table fits. */
export function windowRows(L: Placed, rows: number, maxH: number): { height: number; shown: number } {
  if (L.height + 4 <= maxH) return { height: L.height + 4, shown: rows };
  let shown = 0;
  while (shown < rows && L.headerH + (shown + 1) * L.cellH + L.rowGap[shown] + 2 <= maxH) shown++;
  shown = Math.max(1, shown);
  return { height: L.headerH + shown * L.cellH + L.rowGap[shown - 1] + 2, shown };
}

export interface Placed extends Layout {
  x(col: number): number; // left edge of column col (by data index)
  y(row: number): number;
  rowGap: Float64Array;
  colGap: Float64Array;
}

/** Fit the grid to `width` CSS px: columns share it, within [MIN_CELL_W, MAX_CELL_W]; the
 * benchmark tier of the header is `groupH` px high (more lines for long names). */
export function layoutGrid(g: Grid, width: number, labelW: number, rowOrder: ArrayLike<number>, colOrder: ArrayLike<number>, groupH = GROUP_H): Placed {
  const rowGap = gapsBefore(rowOrder, g.rowGroups);
  const colGap = gapsBefore(colOrder, g.colGroups);
  const avail = width - labelW - colGap[g.cols] - 2;
  const cellW = Math.max(MIN_CELL_W, Math.min(MAX_CELL_W, g.cols ? Math.floor(avail / g.cols) : MAX_CELL_W));
  const cellH = CELL_H;
  const headerH = groupH + SUB_H;
  const rowAt = invert(rowOrder, g.rows), colAt = invert(colOrder, g.cols);
  return {
    labelW, groupH, headerH, cellW, cellH,
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

// the accuracy colour scale (shared with the model map); re-exported for the table's callers
export { accuracyDomain };

/** Colour of an accuracy: viridis over the domain, in 64 steps (one fill per step). */
export const STEPS = 64;
export function accuracyStep(v: number, domain: [number, number]): number {
  const t = (v - domain[0]) / (domain[1] - domain[0]);
  return Math.round(Math.min(1, Math.max(0, t)) * (STEPS - 1));
}

/** The selected cell's outline, two-tone: a dark ring around the cell (seen on light cells and
 * a light page) and a light one on its edge (seen on dark cells and a dark page). */
export const SELECTED_OUTLINE = { border: "2px solid #111111", boxShadow: "inset 0 0 0 1px #ffffff" };

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

export interface DrawOptions {
  theme: Theme;
  domain: [number, number];
  colMax: Float64Array;
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
  // every rectangle on whole pixels, filled with fillRect: the rasteriser's fast path
  for (let k = 0; k < STEPS; k++) {
    const cells = byStep[k];
    if (!cells.length) continue;
    ctx.fillStyle = css(colours[k]);
    for (const i of cells) ctx.fillRect(L.x(i % g.cols), L.y((i / g.cols) | 0), W - 1, H - 1);
  }
  const waiting = empty.filter((i) => g.notComputed?.[i]);
  const never = g.notComputed ? empty.filter((i) => !g.notComputed![i]) : empty;
  if (never.length) {
    ctx.strokeStyle = theme.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const i of never) ctx.rect(L.x(i % g.cols) + 1.5, L.y((i / g.cols) | 0) + 1.5, W - 4, H - 4);
    ctx.stroke();
  }
  if (waiting.length) {
    // dashed, with the words where they fit: a cell to compute, not an empty one
    ctx.strokeStyle = theme.muted;
    ctx.lineWidth = 1;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    for (const i of waiting) ctx.rect(L.x(i % g.cols) + 1.5, L.y((i / g.cols) | 0) + 1.5, W - 4, H - 4);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = theme.muted;
    ctx.font = "9px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const words = ["not computed", "n/c"].find((t) => ctx.measureText(t).width <= W - 6) ?? "";
    if (words) for (const i of waiting) ctx.fillText(words, L.x(i % g.cols) + W / 2, L.y((i / g.cols) | 0) + H / 2);
  }
  // histograms in the lower part of each cell, in the cell's contrasting colour
  const barTop = Math.round(0.42 * H), barH = H - barTop - 2;
  const edge = new Int32Array(B + 1); // bar b spans [edge[b], edge[b + 1]) px from the cell's left + 2
  for (let b = 0; b <= B; b++) edge[b] = Math.round((b * (W - 4)) / B);
  for (const light of [false, true]) {
    ctx.fillStyle = light ? "rgba(255,255,255,0.7)" : "rgba(0,0,0,0.55)";
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const v = g.accuracy[r * g.cols + c];
        if (!Number.isFinite(v) || o.colMax[c] <= 0) continue;
        if (lightText(colours[accuracyStep(v, o.domain)]) !== light) continue;
        const x0 = L.x(c) + 2, y0 = L.y(r) + barTop + barH, base = (r * g.cols + c) * B;
        for (let b = 0; b < B; b++) {
          const n = g.counts[base + b];
          if (!n) continue;
          const w = edge[b + 1] - edge[b];
          const hgt = Math.max(1, Math.round((n / o.colMax[c]) * barH));
          ctx.fillRect(x0 + edge[b], y0 - hgt, Math.max(1, w >= 3 ? w - 1 : w), hgt);
        }
      }
    }
  }
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
  // a name too long for the label column takes two lines (smaller), cut only past those
  const measure = (t: string) => ctx.measureText(t).width;
  for (let r = 0; r < g.rows; r++) {
    ctx.font = "11px system-ui, sans-serif";
    if (measure(g.rowLabels[r]) <= L.labelW - 8) { ctx.fillText(g.rowLabels[r], L.labelW - 4, L.y(r) + H / 2); continue; }
    ctx.font = "10px system-ui, sans-serif";
    const lines = wrapText(measure, g.rowLabels[r], L.labelW - 8, H >= 22 ? 2 : 1);
    lines.forEach((t, k) => ctx.fillText(t, L.labelW - 4, L.y(r) + H / 2 + (k - (lines.length - 1) / 2) * 11));
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
    const lines = wrapText(measure, g.colGroupLabels[g.colGroups[first] as number] ?? "", x1 - x0 - 2, groupLines(L.groupH));
    lines.forEach((t, k) => ctx.fillText(t, (x0 + x1) / 2, L.groupH / 2 + (k - (lines.length - 1) / 2) * LINE_H - 1));
    ctx.fillStyle = theme.grid;
    ctx.fillRect(x0 + 1, L.groupH - 2, x1 - x0 - 2, 1);
    start = i;
  }
  ctx.fillStyle = theme.muted;
  for (let c = 0; c < g.cols; c++) {
    ctx.fillText(fitText(ctx, g.colLabels[c], W - 2), L.x(c) + W / 2, L.groupH + SUB_H / 2);
  }
}

// ---------------------------------------------------------------------------- the view

/** What tests and the benchmark read from a rendered table (on `root.__geowidget`). */
export interface EvalTableHandle {
  grid: Grid;
  layout(): Placed;
  draw(): void;
  frame: Frame;
  /** CSS px of the centre of cell (row, col) in the frame's plot, scrolled into view. */
  cellPoint(row: number, col: number): [number, number];
}

function orderOf(arrays: Record<string, WireArray>, kind: "rows" | "columns", name: string, n: number): ArrayLike<number> {
  const a = arrays[`${kind}:${name}`];
  return a && a.length === n ? a : Array.from({ length: n }, (_, i) => i);
}

export function renderEvalTable(model: AnyModel<EvalTableTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void; handle: EvalTableHandle } {
  let placed: Placed | null = null;
  let painted = ""; // what the canvas shows: a repaint only when this changes
  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onClick: (x, y) => click(x, y),
    onHover: (x, y) => hover(x, y),
    onLeave: () => mark(hoverBox, null),
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, []);
  frame.setTool("pan"); // no lasso outline while dragging: a drag does nothing here
  frame.plot.style.cursor = "pointer";
  frame.root.dataset.kind = "evaltable";
  const scroller = h("div");
  scroller.style.cssText = "position:absolute;inset:0;overflow:auto";
  // hover and selection outlines are boxes over the canvas: moving one repaints nothing
  const outline = () => {
    const box = h("div");
    box.style.cssText = "position:absolute;pointer-events:none;box-sizing:border-box;display:none";
    return box;
  };
  const hoverBox = outline(), selectBox = outline();
  selectBox.dataset.selectedCell = "";
  scroller.append(frame.canvas, hoverBox, selectBox);
  frame.plot.prepend(scroller);
  // the cue that rows lie below the window (overlay scrollbars may not show)
  const more = h("div", { class: "gw-more" });
  frame.plot.after(more);
  const canvas2d = frame.canvas.getContext("2d");
  let grid = readGrid();
  const link = linkFrame(model, frame, ctx, {
    redraw: draw,
    onChange: (name) => { if (name === "_arrays" || name === "_meta") { grid = readGrid(); painted = ""; } },
  }, ["_arrays", "_meta", "sort_rows", "sort_columns", "selected_cell"]);

  if (model.get("show_controls")) {
    const meta = model.get("_meta") as { row_orders?: string[]; column_orders?: string[] };
    const pick = (label: string, key: "sort_rows" | "sort_columns" | "quantity", options: string[]) => {
      frame.bar.append(select(label, options.map((v) => ({ value: v, text: v })), String(model.get(key)), (v) => { model.set(key, v as EvalTableTraits[typeof key]); model.save_changes(); }));
    };
    pick("rows by", "sort_rows", meta.row_orders ?? ["cube"]);
    pick("columns by", "sort_columns", meta.column_orders ?? ["cube"]);
    // another quantity is a grid the kernel computes: no picker in a page without one (the
    // legend names the quantity shown)
    if (ctx.kernel !== false) pick("histogram", "quantity", ["margin", "angle", "norm", "robustness"]);
  }

  function readGrid(): Grid & { arrays: Record<string, WireArray>; rowModel: Int32Array; condition: Int32Array; quantity: string } {
    const meta = model.get("_meta") as {
      shape: [number, number, number]; rows: { label: string; group: number }[];
      columns: { label: string; group: number; benchmark: string; severity: number }[]; column_groups: string[]; quantity: string; layer_name: string;
      classes?: number;
    };
    const raw = (model.get("_arrays") ?? {}) as Record<string, Encoded>;
    const arrays: Record<string, WireArray> = {};
    for (const [k, v] of Object.entries(raw)) arrays[k] = decode(v).data;
    const [rows, cols, bins] = meta.shape;
    return {
      rows, cols, bins, arrays,
      accuracy: arrays.accuracy as Float32Array,
      counts: arrays.counts as Uint8Array | Int32Array,
      edges: arrays.edges as Float32Array,
      rowModel: arrays.row_model as Int32Array,
      condition: arrays.condition as Int32Array,
      rowLabels: meta.rows.map((r) => r.label),
      colLabels: meta.columns.map((c) => (c.benchmark === "clean" ? "" : String(c.severity))),
      rowGroups: meta.rows.map((r) => r.group),
      colGroups: meta.columns.map((c) => c.group),
      colGroupLabels: meta.column_groups,
      notComputed: arrays.computed ? notComputed(arrays.condition as Int32Array, arrays.computed as Uint8Array) : undefined,
      classes: Number(meta.classes),
      quantity: meta.layer_name && meta.quantity !== "robustness" ? `${meta.quantity} at ${meta.layer_name}` : meta.quantity,
    };
  }

  // row names get up to 35 % of the width (at least 120 px); longer ones wrap (drawGrid)
  function labelWidth(): number {
    if (!canvas2d) return 120;
    canvas2d.font = "11px system-ui, sans-serif";
    let w = 40;
    for (const t of grid.rowLabels) w = Math.max(w, canvas2d.measureText(t).width);
    return Math.min(Math.max(120, Math.round(0.35 * frame.width)), Math.ceil(w) + 10);
  }

  function layout(): Placed {
    const rowOrder = orderOf(grid.arrays, "rows", String(model.get("sort_rows")), grid.rows);
    const colOrder = orderOf(grid.arrays, "columns", String(model.get("sort_columns")), grid.cols);
    const L = layoutGrid(grid, frame.width - 2, labelWidth(), rowOrder, colOrder);
    if (!canvas2d) return L;
    canvas2d.font = "10px system-ui, sans-serif";
    const groupH = groupHeight(grid, L, (t) => canvas2d.measureText(t).width);
    return groupH === L.groupH ? L : layoutGrid(grid, frame.width - 2, L.labelW, rowOrder, colOrder, groupH);
  }

  /** The full name under (x, y) when it is a row label or a column header, else null. */
  function labelAt(x: number, y: number): string[] | null {
    const L = placed;
    if (!L) return null;
    const gx = x + scroller.scrollLeft, gy = y + scroller.scrollTop;
    if (gx < L.labelW && gy >= L.headerH) {
      const cell = hitCell(grid, L, L.labelW, gy);
      return cell ? [grid.rowLabels[cell.row]] : null;
    }
    if (gy < L.headerH && gx >= L.labelW) {
      const cell = hitCell(grid, L, gx, L.headerH);
      if (!cell) return null;
      const col = (model.get("_meta") as { columns: { benchmark: string; severity: number }[] }).columns[cell.col];
      return [grid.colGroupLabels[grid.colGroups[cell.col] as number] ?? col.benchmark, ...(col.benchmark === "clean" ? [] : [`severity ${col.severity}`])];
    }
    return null;
  }

  function selectedCell(): { row: number; col: number } | null {
    const sc = model.get("selected_cell") as number[] | undefined;
    const m = model.get("model"), k = model.get("condition");
    // the clicked cell while it still holds the model and condition; after a pick elsewhere
    // (or before a click) the cell of the linked model and condition: with no kernel to
    // update `selected_cell` (exported pages) the outline follows the pick all the same
    if (sc && sc.length === 2 && sc[0] < grid.rows && sc[1] < grid.cols
      && grid.rowModel[sc[0]] === m && grid.condition[sc[0] * grid.cols + sc[1]] === k) return { row: sc[0], col: sc[1] };
    for (let r = 0; r < grid.rows; r++) {
      if (grid.rowModel[r] !== m) continue;
      for (let c = 0; c < grid.cols; c++) if (grid.condition[r * grid.cols + c] === k) return { row: r, col: c };
    }
    return null;
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const L = (placed = layout());
    const win = windowRows(L, grid.rows, Number(model.get("height")) || 380);
    if (frame.height !== win.height) { frame.height = win.height; frame.measure(); }
    const hidden = grid.rows - win.shown;
    frame.root.dataset.hiddenRows = String(hidden);
    more.textContent = hidden > 0 ? `▼ ${hidden} more row${hidden > 1 ? "s" : ""}: scroll the table` : "";
    if (!canvas2d) { frame.message("no Canvas2D in this browser"); return; }
    if (!grid.rows || !grid.cols) frame.message("no models or conditions to show");
    else frame.message("");
    hoverBox.style.border = `1px solid ${frame.theme.muted}`;
    // two-tone: shows on any cell colour, either theme
    Object.assign(selectBox.style, SELECTED_OUTLINE);
    const sel = selectedCell();
    mark(selectBox, sel);
    selectBox.dataset.selectedCell = sel ? `${sel.row},${sel.col}` : "";
    const dpr = frame.dpr;
    // a PNG export (png.ts) takes the plot as shown: the window the scroller shows now, drawn
    // into a canvas of the plot's size at the export's scale; the next draw restores it all
    const exporting = frame.pixelRatio !== null;
    const key = [model.get("sort_rows"), model.get("sort_columns"), frame.theme.bg, L.width, dpr].join("|");
    if (exporting || key !== painted) {
      painted = exporting ? "" : key;
      const [w, hgt] = exporting ? [frame.width, frame.height] : [L.width, L.height];
      const [dx, dy] = exporting ? [scroller.scrollLeft, scroller.scrollTop] : [0, 0];
      frame.canvas.width = Math.round(w * dpr); frame.canvas.height = Math.round(hgt * dpr);
      if (!exporting) { frame.canvas.style.width = `${w}px`; frame.canvas.style.height = `${hgt}px`; }
      canvas2d.setTransform(dpr, 0, 0, dpr, -dx * dpr, -dy * dpr);
      canvas2d.fillStyle = frame.theme.bg;
      canvas2d.fillRect(dx, dy, w, hgt);
      const domain = accuracyDomain(grid.classes);
      drawGrid(canvas2d, grid, L, { theme: frame.theme, domain, colMax: columnMax(grid) });
      drawLegend(domain);
    }
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  function mark(box: HTMLDivElement, cell: { row: number; col: number } | null): void {
    if (!cell || !placed) { box.style.display = "none"; return; }
    const out = box === selectBox ? 2 : 0; // the dark ring lies around the cell, off its number
    box.style.left = `${placed.x(cell.col) - out}px`; box.style.top = `${placed.y(cell.row) - out}px`;
    box.style.width = `${placed.cellW - 1 + 2 * out}px`; box.style.height = `${placed.cellH - 1 + 2 * out}px`;
    box.style.display = "block";
  }

  function drawLegend(domain: [number, number]): void {
    frame.legend.replaceChildren(
      ...accuracyLegend(domain, grid.classes),
      h("span", {}, ` · bars: ${grid.quantity} (bins shared per column) · empty: not evaluated${!grid.notComputed ? ""
        : ctx.kernel === false ? " · dashed: not computed when this page was exported" : " · dashed: not computed yet (a live cube computes a cell when a view shows it)"}`),
    );
  }

  function at(x: number, y: number): { row: number; col: number } | null {
    return placed ? hitCell(grid, placed, x + scroller.scrollLeft, y + scroller.scrollTop) : null;
  }

  function click(x: number, y: number): void {
    const cell = at(x, y);
    if (!cell) return;
    const k = grid.condition[cell.row * grid.cols + cell.col];
    if (k < 0) { frame.notice("this model was not evaluated under this condition"); return; }
    model.set("selected_cell", [cell.row, cell.col]);
    model.set("model", grid.rowModel[cell.row]);
    model.set("condition", k);
    model.save_changes();
  }

  function hover(x: number, y: number): void {
    const cell = at(x, y);
    mark(hoverBox, cell);
    const name = cell ? null : labelAt(x, y);
    if (name) { frame.showTip(x, y, name); return; }
    if (!cell) { frame.hideTip(); return; }
    const i = cell.row * grid.cols + cell.col, B = grid.bins;
    const acc = grid.accuracy[i];
    const col = (model.get("_meta") as { columns: { benchmark: string; severity: number }[] }).columns[cell.col];
    const lines = [`${grid.rowLabels[cell.row]}`, `${col.benchmark}${col.benchmark === "clean" ? "" : ` severity ${col.severity}`}`];
    if (!Number.isFinite(acc)) {
      lines.push(!grid.notComputed?.[i] ? "not evaluated"
        : ctx.kernel === false ? "not computed when this page was exported" : "not computed yet: click to show it, which computes it");
    }
    else {
      let total = 0;
      for (let b = 0; b < B; b++) total += grid.counts[i * B + b];
      lines.push(`accuracy ${formatPercent(acc)}`, `${grid.quantity}: ${total} samples`);
      const e = grid.edges, base = cell.col * (B + 1);
      for (let b = 0; b < B; b++) lines.push(`  [${formatNumber(e[base + b])}, ${formatNumber(e[base + b + 1])}${b === B - 1 ? "]" : ")"}  ${grid.counts[i * B + b]}`);
    }
    frame.showTip(x, y, lines);
  }

  draw();
  const handle: EvalTableHandle = {
    get grid() { return grid; },
    layout: () => placed ?? layout(),
    draw: () => { painted = ""; draw(); },
    frame,
    cellPoint(row, col) {
      const L = placed ?? layout();
      const cx = L.x(col) + L.cellW / 2, cy = L.y(row) + L.cellH / 2;
      scroller.scrollLeft = Math.max(0, cx - frame.width / 2);
      scroller.scrollTop = Math.max(0, cy - frame.height / 2);
      return [cx - scroller.scrollLeft, cy - scroller.scrollTop];
    },
  };
  (frame.root as unknown as { __geowidget: EvalTableHandle }).__geowidget = handle;
  return {
    handle,
    dispose() {
      link.dispose();
      frame.destroy();
    },
  };
}

/** A live cube's table: 1 where the cube has the cell (condition >= 0) but not its numbers. */
export function notComputed(condition: Int32Array, computed: Uint8Array): Uint8Array {
  const out = new Uint8Array(condition.length);
  for (let i = 0; i < out.length; i++) out[i] = condition[i] >= 0 && !computed[i] ? 1 : 0;
  return out;
}
