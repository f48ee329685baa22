// ParallelCoordinates: n + 3 axes (robustness on each benchmark, then theta, rho, m), one
// polyline per sample; dragging along an axis brushes a range, and samples inside every
// brushed range are selected.

import { publish, subscribe, type BusEvent } from "../bus";
import { categorical } from "../colors";
import { readData, readSelected, writeSelected } from "../data";
import { s } from "../dom";
import { Frame } from "../frame";
import type { Model } from "../model";
import { formatNumber, PAD } from "../scales";
import { idMask } from "../selection";
import { cellPickers } from "./pickers";

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

export function renderParallel(model: Model, el: HTMLElement): { dispose(): void } {
  const data = readData(model);
  const { meta, store, labels, ids } = data;
  const n = meta.shape[3];
  const axes = (meta.axes as AxisSpec[]) ?? [];
  const link = String(model.get("_link") ?? "");
  let selected = readSelected(model);
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
    onResize: () => schedule(),
    onTheme: () => schedule(),
  }, ["box"]);
  frame.root.dataset.kind = "parallel";
  const ctx = frame.canvas.getContext("2d");
  const pickers = model.get("show_controls") ? cellPickers(model, meta, frame.bar, () => {}) : null;

  function columns(): Float32Array[] | null {
    const m = model.get("model"), l = model.get("layer"), k = model.get("condition");
    const cell = store.get(m, l, k);
    if (!cell) { const req = store.request(m, l, k); if (req) model.send(req); return null; }
    return axes.map((ax) => {
      if (ax.source === "rob") return (data.arrays[ax.key] as Float32Array).subarray(m * n, (m + 1) * n);
      if (ax.source === "plain") return data.arrays[ax.key] as Float32Array;
      const v = cell[ax.key as "angle" | "norm" | "margin"];
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
    selected = Int32Array.from(chosen);
    writeSelected(model, selected);
    frame.root.dataset.selected = String(selected.length);
    publish(link, { type: "select", source: listener, detail: { ids: selected } });
    schedule();
  }

  function schedule(): void {
    frame.requestDraw(draw);
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const W = frame.width, H = frame.height;
    if (!ctx) return;
    frame.clear2d(ctx);
    if (n === 0 || axes.length === 0) { frame.message("no samples to show (empty arrays)"); return; }
    const cols = columns();
    if (!cols) { frame.message("loading slice…"); return; }
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
    const mask = selected.length ? idMask(ids, selected) : null;
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

  const listener = (e: BusEvent) => {
    if (e.type === "select") { selected = e.detail.ids as Int32Array; writeSelected(model, selected); frame.root.dataset.selected = String(selected.length); schedule(); }
    if (e.type === "pick") {
      const keys = (model.get("_link_keys") as string[]) ?? ["model", "layer", "condition"];
      for (const key of keys) if (typeof e.detail[key] === "number") model.set(key, e.detail[key]);
      model.save_changes(); pickers?.sync(); schedule();
    }
  };
  const unsub = subscribe(link, listener);
  const onSel = () => { selected = readSelected(model); frame.root.dataset.selected = String(selected.length); schedule(); };
  const onPick = () => { pickers?.sync(); schedule(); };
  const events: [string, () => void][] = [["change:model", onPick], ["change:layer", onPick], ["change:condition", onPick],
    ["change:classes", schedule], ["change:theme", schedule], ["change:ranges", schedule], ["change:selected", onSel]];
  for (const [ev, fn] of events) model.on(ev, fn);
  draw();
  return {
    dispose() {
      for (const [ev, fn] of events) model.off(ev, fn);
      unsub(); pickers?.dispose(); frame.destroy();
    },
  };
}
