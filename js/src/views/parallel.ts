// ParallelCoordinates: n + 3 axes (robustness on each benchmark, then theta, rho, m), one
// polyline per sample; dragging along an axis brushes a range, and samples inside every
// brushed range are selected. Axes with few values (robustness) are drawn as bands (bands.ts).

import { bandHeight, bandOffsets, levels } from "../bands";
import { categorical, paletteFor } from "../colors";
import { s } from "../dom";
import { Frame } from "../frame";
import type { AnyModel, SlabTraits } from "../model";
import type { ViewContext } from "../context";
import { classLegend } from "../legend";
import { refreshData } from "../data";
import { robustNote, robustOffset, robustState } from "../robust";
import { fitText, formatNumber, PAD } from "../scales";
import { linkFrame } from "./framed";
import { cellName, cellNotice, showAvailable, showDegenerate, showUnavailable } from "./degenerate";

/** ParallelCoordinates' synced traits (geowidget/widgets/parallel.py). */
export interface ParallelTraits extends SlabTraits {
  /** Brushed range per axis name. */
  ranges: Record<string, number[]>;
}

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

export function renderParallel(model: AnyModel<ParallelTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  let geom: { x: number[]; lo: number[]; hi: number[]; top: number; bottom: number; geoms: AxisGeom[] } | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onPolygon: (poly) => {
      if (!geom) return;
      const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
      const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
      let a = 0;
      for (let j = 1; j < geom.x.length; j++) if (Math.abs(geom.x[j] - cx) < Math.abs(geom.x[a] - cx)) a = j;
      const gm = geom;
      const toV = (py: number) => gm.lo[a] + ((gm.bottom - py) / (gm.bottom - gm.top)) * (gm.hi[a] - gm.lo[a]);
      const y0 = Math.min(...ys), y1 = Math.max(...ys);
      let range: [number, number] = [toV(y1), toV(y0)];
      const { levels: lv, band } = gm.geoms[a];
      if (lv) {
        // a band axis brushes whole values: those whose band the brush touches
        const hit = lv.filter((v) => { const yv = gm.bottom - ((v - gm.lo[a]) / (gm.hi[a] - gm.lo[a])) * (gm.bottom - gm.top); return yv + band / 2 >= y0 && yv - band / 2 <= y1; });
        if (hit.length) range = [hit[0], hit[hit.length - 1]];
      }
      const ranges = { ...(model.get("ranges") as Record<string, number[]>) };
      ranges[axes[a].name] = range;
      model.set("ranges", ranges);
      applyRanges();
    },
    onClick: () => { model.set("ranges", {}); applyRanges(); },
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, ["box"]);
  frame.root.dataset.kind = "parallel";
  const g2d = frame.canvas.getContext("2d");
  const link = linkFrame(model, frame, ctx, {
    redraw: draw,
    onChange: (name) => { if (name === "_arrays" || name === "_meta") refreshData(model, link.data); }, // a live cube's robustness
  }, ["classes", "palette", "ranges", "_arrays", "_meta"]);
  const data = link.data;
  const { meta, labels, ids } = data;
  const n = meta.shape[3];
  const axes = (meta.axes as AxisSpec[]) ?? [];

  function columns(): Float32Array[] | null {
    const m = model.get("model");
    const cell = link.cell();
    if (!cell) return null;
    return axes.map((ax) => {
      if (ax.source === "rob") {
        // the shown model at the shown condition's sparsity (robust.ts)
        const at = robustOffset(meta, m, model.get("condition"), n);
        return (data.arrays[ax.key] as Float32Array).subarray(at, at + n);
      }
      if (ax.source === "plain") return data.arrays[ax.key] as Float32Array;
      const v = cell.get(ax.key);
      if (!ax.degrees) return v;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = (v[i] * 180) / Math.PI;
      return out;
    });
  }

  /** How robustness that is not computed gets computed: in a kernel, by asking for it; an
   * exported page (it holds the cells computed before) cannot. */
  function robustHint(): string {
    if (robustState(meta, model.get("condition"), model.get("model")) !== "not computed") return "";
    if ((model as AnyModel).get("_computed") !== undefined) return "; this page was exported before it was computed";
    return "; colour a linked polar plot by robustness, or ParallelCoordinates(compute_robustness=True), to compute it";
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

  // Per axis: its scale, and for axes with few values their levels and band height (bands.ts).
  interface AxisGeom { lo: number; hi: number; levels: number[] | null; band: number; offsets: Float32Array | null }

  function axisGeom(c: Float32Array, top: number, bottom: number, prev?: Float32Array, next?: Float32Array): AxisGeom {
    let a = Infinity, b = -Infinity;
    for (let i = 0; i < n; i++) { const v = c[i]; if (Number.isFinite(v)) { if (v < a) a = v; if (v > b) b = v; } }
    if (!(a <= b)) { a = 0; b = 1; }
    if (a === b) { a -= 0.5; b += 0.5; }
    const lv = levels(c);
    const yOf = (v: number) => bottom - ((v - a) / (b - a)) * (bottom - top);
    // bands need room: the outer bands' halves stay inside the axis
    let band = lv ? bandHeight(lv.map(yOf)) : 0;
    if (lv && lv.length === 1) band = 24;
    return { lo: a, hi: b, levels: lv, band, offsets: lv ? bandOffsets(c, prev, next) : null };
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const W = frame.width, H = frame.height;
    const ctx = g2d;
    if (!ctx) return;
    const cols = n === 0 || axes.length === 0 ? [] : columns();
    if (!cols) { geom = null; showUnavailable(frame, link.status(), () => frame.clear2d(ctx)); return; }
    frame.clear2d(ctx);
    if (n === 0 || axes.length === 0) { frame.message("no samples to show (empty arrays)"); return; }
    showAvailable(frame);
    const where = cellName(meta, model.get("model"), model.get("condition"));
    const robust = axes.some((ax) => ax.source === "rob") ? robustNote(meta, model.get("condition"), model.get("model")) : null;
    showDegenerate(frame, [
      axes.some((ax) => ax.key === "angle") ? cellNotice(link.cell(), where) : "",
      robust ? `${robust}${robustHint()}` : "",
    ]);
    // titles: one row, or two staggered rows (shortened) when they would run into each other
    const family = getComputedStyle(frame.svg).fontFamily || "sans-serif";
    ctx.font = `10px ${family}`;
    const left = PAD + 20, right = W - PAD - 20;
    const spacing = (right - left) / Math.max(1, axes.length - 1);
    const widest = Math.max(...axes.map((ax) => ctx.measureText(ax.name).width));
    const stagger = axes.length > 1 && widest > spacing - 6;
    const top = PAD + 8 + (stagger ? 12 : 0), bottom = H - PAD;
    const x = axes.map((_, a) => left + a * spacing);
    // values run between top + inset and bottom - inset, leaving room for half a band
    const inset = cols.some((c) => levels(c)) ? 26 : 8;
    const y0 = top + inset, y1 = bottom - inset;
    const geoms = cols.map((c, a) => axisGeom(c, y0, y1, cols[a - 1], cols[a + 1]));
    const lo = geoms.map((g) => g.lo), hi = geoms.map((g) => g.hi);
    geom = { x, lo, hi, top: y0, bottom: y1, geoms };
    const y = (a: number, v: number) => y1 - ((v - lo[a]) / (hi[a] - lo[a])) * (y1 - y0);
    // where sample i meets axis a: its value's height, plus its place inside a band
    const at = (a: number, i: number, v: number) => y(a, v) + (geoms[a].offsets ? geoms[a].offsets![i] * geoms[a].band : 0);
    const mask = link.selectionMask();
    const pal = paletteFor(model.get("palette") as string[], frame.theme);
    const cls = model.get("classes") as number[];
    const shown = (i: number) => !(cls && cls.length && !cls.includes(labels[i]));
    let count = 0;
    for (let i = 0; i < n; i++) if (shown(i)) count++;
    // lines fainter as there are more of them (as the point layer's opacity)
    const alpha = Math.min(0.6, Math.max(0.06, 8 / Math.sqrt(Math.max(1, count))));
    // the bands, under the lines
    geoms.forEach((gm, a) => {
      if (!gm.levels) return;
      ctx.fillStyle = frame.theme.dark ? "rgba(255,255,255,0.07)" : "rgba(0,0,0,0.06)";
      for (const v of gm.levels) ctx.fillRect(x[a] - 7, y(a, v) - gm.band / 2, 14, gm.band);
    });
    const pass = (wantSel: boolean) => {
      for (let i = 0; i < n; i++) {
        if (!shown(i)) continue;
        const sel = mask ? mask[i] === 1 : true;
        if (sel !== wantSel) continue;
        const c = categorical(labels[i], pal);
        ctx.strokeStyle = sel ? `rgba(${c[0]},${c[1]},${c[2]},${mask ? 0.8 : alpha})` : `rgba(150,150,150,${Math.min(0.12, alpha)})`;
        ctx.beginPath();
        let pen = false;
        for (let a = 0; a < axes.length; a++) {
          const v = cols[a][i];
          if (!Number.isFinite(v)) { pen = false; continue; }
          if (pen) ctx.lineTo(x[a], at(a, i, v)); else ctx.moveTo(x[a], at(a, i, v));
          pen = true;
        }
        ctx.stroke();
      }
    };
    if (mask) pass(false);
    pass(true);
    const g = frame.overlay;
    const ranges = model.get("ranges") as Record<string, number[]>;
    const maxTitle = stagger ? 2 * spacing - 8 : spacing - 6;
    axes.forEach((ax, a) => {
      const gm = geoms[a];
      g.append(s("line", { x1: x[a], y1: top, x2: x[a], y2: bottom, stroke: frame.theme.muted }));
      const titleY = top - 10 - (stagger && a % 2 === 1 ? 12 : 0);
      const title = s("text", { x: x[a], y: titleY, "text-anchor": "middle", class: "gw-axis-title gw-halo" }, fitText(ctx, ax.name, axes.length > 1 ? maxTitle : W));
      title.append(s("title", {}, ax.name));
      g.append(title);
      if (gm.levels) {
        // values sit on the lines: a halo of the background keeps them readable
        for (const v of gm.levels) g.append(s("text", { x: x[a] + 10, y: y(a, v) + 3, class: "gw-tick gw-halo" }, formatNumber(v)));
      } else {
        g.append(s("text", { x: x[a] + 4, y: y(a, hi[a]) + 3, class: "gw-tick gw-halo" }, formatNumber(hi[a])));
        g.append(s("text", { x: x[a] + 4, y: y(a, lo[a]) + 3, class: "gw-tick gw-halo" }, formatNumber(lo[a])));
      }
      const why = ax.source === "rob" ? robustState(meta, model.get("condition"), model.get("model")) : null;
      if (why) {
        // no value on this axis at this sparsity: say why on the axis (the line above the
        // plot says it in full), not with empty space
        const t = s("text", { x: x[a] + 4, y: (top + bottom) / 2, class: "gw-tick gw-halo", "data-robust": why }, why);
        t.append(s("title", {}, robust ?? why));
        g.append(t);
      }
      const r = ranges[ax.name];
      if (r) {
        const y0 = y(a, Math.max(r[0], r[1])) - gm.band / 2, y1 = y(a, Math.min(r[0], r[1])) + gm.band / 2;
        g.append(s("rect", { x: x[a] - 6, y: y0, width: 12, height: Math.max(1, y1 - y0), fill: "rgba(120,120,120,0.35)", stroke: frame.theme.fg }));
      }
    });
    const counts = new Array<number>(meta.class_names.length).fill(0);
    for (let i = 0; i < n; i++) counts[labels[i]]++;
    frame.legend.replaceChildren(...classLegend(meta.class_names, counts, pal, cls ?? [], (next) => { model.set("classes", next); model.save_changes(); }));
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  /** Where sample i meets each axis (CSS px; NaN where its value is missing), and the bands of
   * the axes drawn as bands: what the tests check. */
  function layout(): { x: number[]; y: number[][]; bands: ({ value: number; y: number; height: number }[] | null)[] } | null {
    const cols = columns();
    if (!cols || !geom) return null;
    const gm = geom;
    const y = (a: number, v: number) => gm.bottom - ((v - gm.lo[a]) / (gm.hi[a] - gm.lo[a])) * (gm.bottom - gm.top);
    return {
      x: gm.x,
      y: cols.map((c, a) => Array.from(c, (v, i) => (Number.isFinite(v) ? y(a, v) + (gm.geoms[a].offsets ? gm.geoms[a].offsets![i] * gm.geoms[a].band : 0) : NaN))),
      bands: gm.geoms.map((g, a) => (g.levels ? g.levels.map((v) => ({ value: v, y: y(a, v), height: g.band })) : null)),
    };
  }

  draw();
  (frame.root as unknown as { __geowidget: unknown }).__geowidget = { layout };
  return {
    dispose() {
      link.dispose();
      frame.destroy();
    },
  };
}
