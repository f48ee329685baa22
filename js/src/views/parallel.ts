// ParallelCoordinates: n + 3 axes (robustness on each benchmark, then theta, rho, m), one
// polyline per sample; dragging along an axis brushes a range, and samples inside every
// brushed range are selected.

import { categorical } from "../colors";
import { s } from "../dom";
import { Frame } from "../frame";
import type { Model } from "../model";
import type { ViewContext } from "../registry";
import { formatNumber, PAD } from "../scales";
import { linkFrame } from "./framed";

export interface AxisSpec {
  name: string;
  source: "rob" | "metric" | "plain";
  key: string; // array key (rob_i, ax_i) or metric name (angle, norm, margin)
  degrees?: boolean;
}

/** Samples (positions) whose value on every brushed axis lies in its [lo, hi] range. */
export function brushed(columns: ArrayLike<number>[], ranges: ([number, number] | null)[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let ok = true;
    for (let a = 0; a < columns.length && ok; a++) {
      const r = ranges[a];
      if (!r) continue;
      const v = columns[a][i];
      ok = v >= Math.min(r[0], r[1]) && v <= Math.max(r[0], r[1]);
    }
    if (ok) out.push(i);
  }
  return out;
}

export function renderParallel(model: Model, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  let geom: { x: number[]; lo: number[]; hi: number[]; top: number; bottom: number } | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onPolygon: (poly) => {
      if (!geom) return;
      const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
      const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
      let a = 0;
      for (let j = 1; j < geom.x.length; j++) if (Math.abs(geom.x[j] - cx) < Math.abs(geom.x[a] - cx)) a = j;
      const toV = (py: number) => geom!.lo[a] + ((geom!.bottom - py) / (geom!.bottom - geom!.top)) * (geom!.hi[a] - geom!.lo[a]);
      const ranges = { ...(model.get("ranges") as Record<string, number[]>) };
      ranges[axes[a].name] = [toV(Math.max(...ys)), toV(Math.min(...ys))];
      model.set("ranges", ranges);
      applyRanges();
    },
    onClick: () => { model.set("ranges", {}); applyRanges(); },
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, ["box"]);
  frame.root.dataset.kind = "parallel";
  const g2d = frame.canvas.getContext("2d");
  const link = linkFrame(model, frame, ctx, { redraw: draw }, ["classes", "palette", "ranges"]);
  const data = link.data;
  const { meta, labels, ids } = data;
  const n = meta.shape[3];
  const axes = (meta.axes as AxisSpec[]) ?? [];

  function columns(): Float32Array[] | null {
    const m = model.get("model");
    const cell = link.cell();
    if (!cell) return null;
    return axes.map((ax) => {
      if (ax.source === "rob") return (data.arrays[ax.key] as Float32Array).subarray(m * n, (m + 1) * n);
      if (ax.source === "plain") return data.arrays[ax.key] as Float32Array;
      const v = cell.get(ax.key);
      if (!ax.degrees) return v;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = (v[i] * 180) / Math.PI;
      return out;
    });
  }

  function applyRanges(): void {
    const cols = columns();
    if (!cols) return;
    const r = model.get("ranges") as Record<string, number[]>;
    const ranges = axes.map((ax) => (r[ax.name] ? [r[ax.name][0], r[ax.name][1]] as [number, number] : null));
    const any = ranges.some((x) => x);
    const chosen = any ? brushed(cols, ranges, n).map((i) => ids[i]) : [];
    model.save_changes(); // the ranges, with the selection
    link.select(chosen);
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const W = frame.width, H = frame.height;
    const ctx = g2d;
    if (!ctx) return;
    const cols = n === 0 || axes.length === 0 ? [] : columns();
    if (!cols) { frame.message(link.status()); return; }
    frame.clear2d(ctx);
    if (n === 0 || axes.length === 0) { frame.message("no samples to show (empty arrays)"); return; }
    frame.message("");
    const top = PAD + 8, bottom = H - PAD;
    const x = axes.map((_, a) => PAD + 20 + (a * (W - 2 * PAD - 40)) / Math.max(1, axes.length - 1));
    const lo: number[] = [], hi: number[] = [];
    cols.forEach((c) => {
      let a = Infinity, b = -Infinity;
      for (let i = 0; i < n; i++) { const v = c[i]; if (Number.isFinite(v)) { if (v < a) a = v; if (v > b) b = v; } }
      if (!(a <= b)) { a = 0; b = 1; }
      if (a === b) { a -= 0.5; b += 0.5; }
      lo.push(a); hi.push(b);
    });
    geom = { x, lo, hi, top, bottom };
    const y = (a: number, v: number) => bottom - ((v - lo[a]) / (hi[a] - lo[a])) * (bottom - top);
    const mask = link.selectionMask();
    const pal = (model.get("palette") as string[]) ?? [];
    const cls = model.get("classes") as number[];
    const pass = (wantSel: boolean) => {
      for (let i = 0; i < n; i++) {
        if (cls && cls.length && !cls.includes(labels[i])) continue;
        const sel = mask ? mask[i] === 1 : true;
        if (sel !== wantSel) continue;
        const c = categorical(labels[i], pal);
        ctx.strokeStyle = sel ? `rgba(${c[0]},${c[1]},${c[2]},0.55)` : "rgba(150,150,150,0.12)";
        ctx.beginPath();
        let pen = false;
        for (let a = 0; a < axes.length; a++) {
          const v = cols[a][i];
          if (!Number.isFinite(v)) { pen = false; continue; }
          if (pen) ctx.lineTo(x[a], y(a, v)); else ctx.moveTo(x[a], y(a, v));
          pen = true;
        }
        ctx.stroke();
      }
    };
    if (mask) pass(false);
    pass(true);
    const g = frame.overlay;
    const ranges = model.get("ranges") as Record<string, number[]>;
    axes.forEach((ax, a) => {
      g.append(s("line", { x1: x[a], y1: top, x2: x[a], y2: bottom, stroke: frame.theme.fg }));
      g.append(s("text", { x: x[a], y: top - 10, "text-anchor": "middle" }, ax.name));
      g.append(s("text", { x: x[a] + 3, y: top + 8 }, formatNumber(hi[a])));
      g.append(s("text", { x: x[a] + 3, y: bottom }, formatNumber(lo[a])));
      const r = ranges[ax.name];
      if (r) {
        const y0 = y(a, Math.max(r[0], r[1])), y1 = y(a, Math.min(r[0], r[1]));
        g.append(s("rect", { x: x[a] - 6, y: y0, width: 12, height: Math.max(1, y1 - y0), fill: "rgba(120,120,120,0.35)", stroke: frame.theme.fg }));
      }
    });
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  draw();
  return {
    dispose() {
      link.dispose();
      frame.destroy();
    },
  };
}
