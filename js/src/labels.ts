// Label placement for marks that carry names (the model map): greedy, in priority order, with
// collision checks. Each label tries eight positions around its mark, upper right first (the
// cartographers' order), and takes the first whose box stays inside the plot and overlaps no
// label placed before it and no mark. A label with no free position is left out; its name
// shows on hover. Below: rows of tick and axis labels thinned so none runs into another, and
// names wrapped to fit a width.

import { fitText } from "./scales";

export interface Box { x: number; y: number; w: number; h: number }

export interface LabelRequest {
  x: number; // the mark's centre, CSS px
  y: number;
  w: number; // the label's size, CSS px
  h: number;
  r: number; // the mark's radius: labels keep clear of it
}

/** A placed label: its box, and where its text starts (left end, baseline). */
export interface Placed { box: Box; tx: number; ty: number }

export function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function inside(a: Box, bounds: Box): boolean {
  return a.x >= bounds.x && a.y >= bounds.y && a.x + a.w <= bounds.x + bounds.w && a.y + a.h <= bounds.y + bounds.h;
}

/** The candidate boxes of a label around its mark, in order of preference. */
export function candidates(q: LabelRequest): Box[] {
  const { x, y, w, h } = q;
  const r = q.r + 2, d = r * 0.75;
  return [
    { x: x + d, y: y - d - h, w, h }, // NE
    { x: x + r, y: y - h / 2, w, h }, // E
    { x: x + d, y: y + d, w, h }, // SE
    { x: x - d - w, y: y - d - h, w, h }, // NW
    { x: x - r - w, y: y - h / 2, w, h }, // W
    { x: x - d - w, y: y + d, w, h }, // SW
    { x: x - w / 2, y: y - r - h, w, h }, // N
    { x: x - w / 2, y: y + r, w, h }, // S
  ];
}

/** A line segment [x1, y1, x2, y2] drawn on the plot (an edge, a trajectory step). */
export type Segment = [number, number, number, number];

/** Whether segment s crosses box b (Liang-Barsky clipping of the segment to the box). */
export function crosses(s: Segment, b: Box): boolean {
  const [x1, y1, x2, y2] = s;
  const dx = x2 - x1, dy = y2 - y1;
  let t0 = 0, t1 = 1;
  for (const [p, q] of [[-dx, x1 - b.x], [dx, b.x + b.w - x1], [-dy, y1 - b.y], [dy, b.y + b.h - y1]]) {
    if (p === 0) { if (q < 0) return false; continue; }
    const r = q / p;
    if (p < 0) { if (r > t1) return false; if (r > t0) t0 = r; } else { if (r < t0) return false; if (r < t1) t1 = r; }
  }
  return true;
}

/** Labels stand at least this far apart (px): names that touch read as one. */
export const LABEL_GAP = 2;

/**
 * Place labels in the order of `order` (indices into `labels`, most important first). Returns,
 * per label, where it goes, or null when every position collides. A label keeps LABEL_GAP px
 * from the labels placed before it, and off the marks and, where it can, off the `lines`
 * drawn. Labels in `always` may cover other marks (never other labels) when no position is
 * free of them.
 */
export function placeLabels(labels: LabelRequest[], order: number[], bounds: Box, always: number[] = [], lines: Segment[] = []): (Placed | null)[] {
  const marks: Box[] = labels.map((q) => ({ x: q.x - q.r, y: q.y - q.r, w: 2 * q.r, h: 2 * q.r }));
  const taken: Box[] = [];
  const out: (Placed | null)[] = labels.map(() => null);
  const free = (box: Box, i: number, overMarks: boolean, overLines: boolean) => inside(box, bounds)
    && taken.every((t) => apart(t, box, LABEL_GAP))
    && (overMarks || !marks.some((m, j) => j !== i && overlaps(m, box)))
    && (overLines || !lines.some((s) => crosses(s, box)));
  for (const i of order) {
    const q = labels[i];
    if (!Number.isFinite(q.x) || !Number.isFinite(q.y)) continue;
    // off the lines where a position allows, else over them (the label has a halo); labels in
    // `always` (the active model's) may cover other marks when nothing else is free
    const box = candidates(q).find((b) => free(b, i, false, false))
      ?? candidates(q).find((b) => free(b, i, false, true))
      ?? (always.includes(i) ? candidates(q).find((b) => free(b, i, true, true)) : undefined);
    if (!box) continue;
    taken.push(box);
    out[i] = { box, tx: box.x, ty: box.y + box.h * 0.78 };
  }
  return out;
}

// Tick and axis labels: which of a row of labels to show so that none runs into another.

/** Whether boxes a and b stand at least `gap` px apart (on either axis). */
export function apart(a: Box, b: Box, gap: number): boolean {
  return !overlaps({ x: a.x - gap / 2, y: a.y - gap / 2, w: a.w + gap, h: a.h + gap },
    { x: b.x - gap / 2, y: b.y - gap / 2, w: b.w + gap, h: b.h + gap });
}

/** Whether every two of `boxes` stand at least `gap` px apart. */
export function allApart(boxes: Box[], gap: number): boolean {
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (!apart(boxes[i], boxes[j], gap)) return false;
  return true;
}

/**
 * Of labels in reading order, the indices to show, greedily by priority: `first` (say the
 * current layer's) when given, then the first label and the last one, then the others from
 * left to right, each kept when it stands `gap` px apart from every label kept before it.
 */
export function keepApart(boxes: Box[], gap = 4, first = -1): number[] {
  const n = boxes.length;
  const order = [first, 0, n - 1, ...Array.from({ length: Math.max(0, n - 2) }, (_, i) => i + 1)];
  const kept: number[] = [];
  for (const i of order) {
    if (i < 0 || i >= n || kept.includes(i)) continue;
    if (kept.every((k) => apart(boxes[k], boxes[i], gap))) kept.push(i);
  }
  return kept.sort((a, b) => a - b);
}

/** The index of the first set of label boxes whose labels all stand `gap` px apart (sets in
 * order of preference, e.g. more ticks first); the last set when none does. */
export function firstApart(options: Box[][], gap = 4): number {
  const i = options.findIndex((boxes) => allApart(boxes, gap));
  return i >= 0 ? i : options.length - 1;
}

/** A label's box from its anchor point (SVG text-anchor, baseline y) and size. */
export function textBox(x: number, y: number, w: number, h: number, anchor: "start" | "middle" | "end" = "middle"): Box {
  const left = anchor === "start" ? x : anchor === "end" ? x - w : x - w / 2;
  return { x: left, y: y - 0.8 * h, w, h };
}

let measurer: CanvasRenderingContext2D | null = null;

/** Width in CSS px of `text` in `font` (a CSS font), measured on a scratch canvas. */
export function textWidth(text: string, font = "10px sans-serif"): number {
  measurer ??= document.createElement("canvas").getContext("2d");
  if (!measurer) return text.length * 6;
  measurer.font = font;
  return measurer.measureText(text).width;
}

/**
 * `text` broken into at most `maxLines` lines no wider than `maxW` px (widths by `measure`):
 * at spaces, or after "_", "-", "/", "." or "·", so names such as "gaussian_noise" break
 * where they read well. A line still too wide, and the last line when text remains, end in
 * an ellipsis (the full text shows on hover).
 */
export function wrapText(measure: (t: string) => number, text: string, maxW: number, maxLines = 2): string[] {
  const words = text.split(/(?<=[ _\-/.·])/);
  const lines: string[] = [];
  let line = "";
  let i = 0;
  for (; i < words.length && lines.length < maxLines; i++) {
    const next = line + words[i];
    if (line && measure(next.trimEnd()) > maxW) { lines.push(line.trimEnd()); line = words[i]; } else line = next;
  }
  const rest = words.slice(i).join("");
  if (lines.length < maxLines) { lines.push((line + rest).trimEnd()); line = ""; }
  else if (line || rest) lines[maxLines - 1] = `${lines[maxLines - 1]}${line}${rest}`; // cut below
  const ctx = { measureText: (t: string) => ({ width: measure(t) }) };
  return lines.map((l) => fitText(ctx, l, maxW));
}
