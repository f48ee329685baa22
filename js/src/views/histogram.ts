// MarginHistogram: margin distributions per class, or overlaid for several models or levels.
// The negative (misclassified) side is shaded apart; brushing an x range selects those samples.

import { categorical, paletteFor } from "../colors";
import { h, s, select } from "../dom";
import { Frame } from "../frame";
import type { AnyModel, SlabTraits } from "../model";
import type { ViewContext } from "../context";
import { formatNumber, linear, niceTicks, PAD } from "../scales";
import { histogram, inRange, zeroAlignedRange, type Histogram } from "../binning";
import { LOADING } from "../link";
import { sparsityLevels, sparsityText } from "../data";
import { linkFrame } from "./framed";
import { cellName, cellNotice, showAvailable, showDegenerate, showUnavailable } from "./degenerate";

/** MarginHistogram's synced traits (geowidget/widgets/histogram.py). */
export interface HistogramTraits extends SlabTraits {
  group_by: "class" | "none" | "model" | "sparsity";
  bins: number;
  group_layout: "auto" | "stacked" | "overlay" | "multiples";
}

interface Group { name: string; values: Float32Array; mask: Uint8Array | null; color: [number, number, number] }

export type Layout = "stacked" | "overlay" | "multiples";

/** What a histogram drew: bins over [lo, hi], the count scale's top (ymax) and, per panel,
 * its [top, bottom] in CSS px (the count ymax at top, 0 at bottom); per group its counts and
 * the selected part of them (null without a selection). */
export interface HistLayout {
  layout: Layout; lo: number; hi: number; bins: number; ymax: number; ymaxs: number[]; x0: number; x1: number;
  panels: [number, number][];
  groups: { name: string; counts: number[]; selected: number[] | null }[];
}

/** The top of the count axis: the highest bar, or with `stacked` the highest stack. */
export function histYMax(counts: ArrayLike<number>[], stacked: boolean): number {
  let top = 0;
  const bins = counts.length ? counts[0].length : 0;
  for (let i = 0; i < bins; i++) {
    let sum = 0;
    for (const c of counts) { sum = stacked ? sum + c[i] : Math.max(sum, c[i]); }
    if (sum > top) top = sum;
  }
  return top;
}

/** The group whose peak is over DOMINANCE times every other group's, or -1. */
export const DOMINANCE = 4;
export function dominantPeak(peaks: number[]): number {
  if (peaks.length < 2) return -1;
  const top = peaks.indexOf(Math.max(...peaks));
  const next = Math.max(...peaks.filter((_, i) => i !== top));
  return peaks[top] > DOMINANCE * Math.max(1, next) ? top : -1;
}

/** The count axis's top per panel: each panel's own peak, or the shared top. */
export function panelsYMax(peaks: number[], shared: number, perPanel: boolean, multiples: boolean): number[] {
  if (!multiples) return [shared];
  return peaks.map((p) => (perPanel ? Math.max(1, p) : shared));
}

export function renderHistogram(model: AnyModel<HistogramTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  let invX: ((px: number) => number) | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onPolygon: (poly) => {
      if (!invX) return;
      const xs = poly.map((p) => p[0]);
      brush(invX(Math.min(...xs)), invX(Math.max(...xs)), poly[0][1]);
    },
    onClick: () => { if (link.selected().length) link.select([]); },
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, ["box"]);
  frame.root.dataset.kind = "histogram";
  const g2d = frame.canvas.getContext("2d");
  const link = linkFrame(model, frame, ctx, { redraw: draw }, ["group_by", "bins", "classes", "palette", "group_layout"]);
  const { meta, labels } = link.data;
  const n = meta.shape[3];
  if (model.get("show_controls")) {
    const groups = [{ value: "class", text: "per class" }, { value: "none", text: "all" }];
    if (meta.models.length > 1) groups.push({ value: "model", text: "models" });
    if (meta.conditions.length > 1) groups.push({ value: "sparsity", text: "levels" });
    frame.bar.append(select("group", groups, model.get("group_by"), (v) => { model.set("group_by", v as HistogramTraits["group_by"]); model.save_changes(); }));
    const layouts = ["auto", "stacked", "overlay", "multiples"].map((v) => ({ value: v, text: v }));
    frame.bar.append(select("layout", layouts, model.get("group_layout") ?? "auto", (v) => { model.set("group_layout", v as HistogramTraits["group_layout"]); model.save_changes(); }));
  }

  function classMask(): Uint8Array | null {
    const cls = model.get("classes") as number[];
    if (!cls || cls.length === 0) return null;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (cls.includes(labels[i])) out[i] = 1;
    return out;
  }

  // the cells drawn by the last groups(), for their notices
  let shown: [number, number][] = [];

  function margins(m: number, l: number, k: number): Float32Array | undefined {
    const v = link.cell(m, l, k)?.get("margin");
    if (v) shown.push([m, k]);
    return v;
  }

  function groups(): Group[] | null {
    const m = model.get("model"), l = model.get("layer"), k = model.get("condition");
    const by = model.get("group_by") as string;
    const pal = paletteFor(model.get("palette") as string[], frame.theme);
    const mask = classMask();
    const out: Group[] = [];
    if (by === "model") {
      for (let i = 0; i < meta.models.length; i++) {
        const v = margins(i, l, k); if (!v) return null;
        out.push({ name: meta.models[i], values: v, mask, color: categorical(i, pal) });
      }
    } else if (by === "sparsity") {
      const bench = meta.conditions[k]?.benchmark ?? "clean";
      meta.conditions.forEach((c, i) => {
        if (c.benchmark !== bench) return;
        const v = margins(m, l, i);
        if (v) out.push({ name: `sparsity ${sparsityText(c.sparsity, sparsityLevels(meta.conditions))}`, values: v, mask, color: categorical(out.length, pal) });
      });
      if (!out.length) return null;
    } else {
      const v = margins(m, l, k); if (!v) return null;
      if (by === "class") {
        const cls = model.get("classes") as number[];
        meta.class_names.forEach((name, c) => {
          if (cls && cls.length && !cls.includes(c)) return;
          const cm = new Uint8Array(n);
          for (let i = 0; i < n; i++) if (labels[i] === c) cm[i] = 1;
          out.push({ name, values: v, mask: cm, color: categorical(c, pal) });
        });
      } else {
        out.push({ name: "all", values: v, mask, color: categorical(0, pal) });
      }
    }
    return out;
  }

  /** How groups share the plot: auto stacks classes (their counts add up to all samples)
   * and overlays models or levels (the same samples, measured several times). */
  function layoutOf(ng: number): Layout {
    const v = (model.get("group_layout") as string | undefined) ?? "auto";
    if (v === "stacked" || v === "overlay" || v === "multiples") return v;
    return model.get("group_by") === "class" && ng > 1 ? "stacked" : "overlay";
  }

  // what was drawn, for tests and the brush: bins, counts, scales (CSS px)
  let drawn: HistLayout | null = null;

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    hideGroupedPicker();
    const ctx = g2d;
    if (!ctx) return;
    shown = [];
    const gs = n === 0 ? [] : groups();
    if (!gs) {
      drawn = null;
      showUnavailable(frame, link.status() || LOADING, () => frame.clear2d(ctx));
      return;
    }
    const layout = layoutOf(gs.length);
    // small multiples need room: at least 34 px a panel
    const want = layout === "multiples" ? Math.max(model.get("height"), 2 * PAD + 20 + gs.length * 34) : model.get("height");
    if (frame.height !== want) { frame.height = want; frame.measure(); }
    const W = frame.width, H = frame.height;
    frame.clear2d(ctx);
    frame.legend.replaceChildren();
    if (n === 0) { frame.message("no samples to show (empty arrays)"); return; }
    showAvailable(frame);
    const bins = Math.max(1, model.get("bins") ?? 40);
    let lo = Infinity, hi = -Infinity;
    for (const g of gs) for (let i = 0; i < g.values.length; i++) {
      if (g.mask && !g.mask[i]) continue;
      const v = g.values[i]; if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    // the axis spans every sample's margin (no sample is cut off), and its title says so
    const span = lo <= hi ? `; samples span ${formatNumber(lo)} … ${formatNumber(hi)}` : "";
    if (!(lo <= hi)) { lo = -1; hi = 1; }
    [lo, hi] = zeroAlignedRange(lo, hi, bins);
    const hists: Histogram[] = gs.map((g) => histogram(g.values, bins, lo, hi, g.mask ?? undefined));
    // the selected samples of each group: a part of its counts, so under its bars
    const sm = link.selectionMask();
    const picked: Int32Array[] | null = sm ? gs.map((g) => {
      const both = new Uint8Array(n);
      for (let i = 0; i < n; i++) both[i] = sm[i] && (!g.mask || g.mask[i]) ? 1 : 0;
      return histogram(g.values, bins, lo, hi, both).counts;
    }) : null;
    const ymax = Math.max(1, histYMax(hists.map((hh) => hh.counts), layout === "stacked"));
    // one group's spike would flatten the others on a shared count scale: small multiples
    // then scale each panel apart; an overlay keeps the shared scale and says so
    const peaks = hists.map((hh) => histYMax([hh.counts], false));
    const dominant = dominantPeak(peaks);
    const perPanel = layout === "multiples" && dominant >= 0;
    const ymaxs = panelsYMax(peaks, ymax, perPanel, layout === "multiples");
    const x = linear(lo, hi, PAD + 20, W - PAD);
    invX = linear(PAD + 20, W - PAD, lo, hi);
    const top = PAD, bottom = H - PAD;
    // panels: one for all groups, or one per group (small multiples), 6 px apart
    const panels: [number, number][] = layout === "multiples"
      ? gs.map((_, gi) => { const ph = (bottom - top + 6) / gs.length; return [top + gi * ph, top + (gi + 1) * ph - 6]; })
      : [[top, bottom]];
    const yIn = (p: number) => linear(0, ymaxs[p], panels[p][1], panels[p][0]);
    const notes = shown.map(([m, k]) => cellNotice(link.cell(m, model.get("layer"), k), cellName(meta, m, k)));
    if (dominant >= 0 && layout !== "stacked") {
      const others = Math.max(...peaks.filter((_, i) => i !== dominant));
      notes.push(perPanel
        ? `each panel has its own count scale: ${gs[dominant].name} peaks at ${peaks[dominant]}, the others at ≤ ${others}`
        : `count scale shared: ${gs[dominant].name} peaks at ${peaks[dominant]}, the others at ≤ ${others} (layout "multiples" scales each panel apart)`);
    }
    const clipped = hists.reduce((sum, hh) => sum + hh.clipped, 0);
    if (clipped) notes.push(`${clipped} samples outside the axis are counted in its end bins`);
    showDegenerate(frame, [...new Set(notes)]);
    if (lo < 0) {
      ctx.fillStyle = frame.theme.dark ? "rgba(238,102,119,0.16)" : "rgba(238,102,119,0.12)";
      for (const [a, b] of panels) ctx.fillRect(x(lo), a, x(Math.min(0, hi)) - x(lo), b - a);
    }
    const rgba = (c: [number, number, number], a: number) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;
    const bar = (y: (v: number) => number, i: number, from: number, to: number) => {
      const e = hists[0].edges;
      ctx.fillRect(x(e[i]), y(to), Math.max(0.5, x(e[i + 1]) - x(e[i]) - 0.5), y(from) - y(to));
    };
    if (layout === "stacked") {
      // per bin, the classes one on another; the selected part of each class at its bottom in
      // full colour, the rest faded, so every class's share stays in sight
      const y = yIn(0);
      const base = new Float64Array(bins);
      gs.forEach((g, gi) => {
        const c = hists[gi].counts;
        for (let i = 0; i < bins; i++) {
          if (!c[i]) continue;
          const sel = picked ? picked[gi][i] : c[i];
          ctx.fillStyle = rgba(g.color, 0.9);
          if (sel) bar(y, i, base[i], base[i] + sel);
          ctx.fillStyle = rgba(g.color, 0.28);
          if (c[i] > sel) bar(y, i, base[i] + sel, base[i] + c[i]);
          base[i] += c[i];
        }
      });
      // a hairline of the background between classes, so neighbouring colours stay apart
      ctx.fillStyle = frame.theme.bg;
      base.fill(0);
      gs.forEach((_, gi) => {
        const c = hists[gi].counts, e = hists[0].edges;
        for (let i = 0; i < bins; i++) {
          if (!c[i]) continue;
          base[i] += c[i];
          ctx.fillRect(x(e[i]), y(base[i]) - 0.5, Math.max(0.5, x(e[i + 1]) - x(e[i]) - 0.5), 1);
        }
      });
    } else {
      // overlay and small multiples: each group's outline on a light fill, its selected part
      // filled in its colour under the outlines
      const fill = gs.length === 1 && !picked ? 0.8 : picked ? 0.08 : gs.length <= 3 ? 0.3 : 0.1;
      gs.forEach((g, gi) => {
        const y = yIn(layout === "multiples" ? gi : 0);
        ctx.fillStyle = rgba(g.color, fill);
        for (let i = 0; i < bins; i++) if (hists[gi].counts[i]) bar(y, i, 0, hists[gi].counts[i]);
        if (picked) {
          ctx.fillStyle = rgba(g.color, layout === "multiples" || gs.length === 1 ? 0.9 : 0.45);
          for (let i = 0; i < bins; i++) if (picked[gi][i]) bar(y, i, 0, picked[gi][i]);
        }
      });
      gs.forEach((g, gi) => {
        const y = yIn(layout === "multiples" ? gi : 0), hh = hists[gi];
        ctx.strokeStyle = rgba(g.color, 1);
        ctx.lineWidth = gs.length > 3 && layout === "overlay" ? 1.5 : 1.2;
        ctx.beginPath();
        ctx.moveTo(x(hh.edges[0]), y(0));
        for (let i = 0; i < bins; i++) { ctx.lineTo(x(hh.edges[i]), y(hh.counts[i])); ctx.lineTo(x(hh.edges[i + 1]), y(hh.counts[i])); }
        ctx.lineTo(x(hh.edges[bins]), y(0));
        ctx.stroke();
      });
    }
    gs.forEach((g, gi) => {
      const hh = hists[gi];
      const it = h("span", { class: "item" });
      const sw = h("span", { class: "sw" }); sw.style.background = rgba(g.color, 1);
      let total = 0; for (const c of hh.counts) total += c;
      let chosen = 0; if (picked) for (const c of picked[gi]) chosen += c;
      const parts = [String(total), picked ? `${chosen} selected` : "", hh.missing ? `${hh.missing} missing` : ""].filter(Boolean);
      it.append(sw, h("span", {}, `${g.name} (${parts.join(", ")})`));
      frame.legend.append(it);
    });
    // axes
    const g = frame.overlay;
    const col = frame.theme.grid;
    panels.forEach(([, b]) => g.append(s("line", { x1: x(lo), y1: b, x2: x(hi), y2: b, stroke: col })));
    if (lo < 0 && hi > 0) {
      g.append(s("line", { x1: x(0), y1: PAD - 4, x2: x(0), y2: bottom, stroke: frame.theme.fg, "stroke-dasharray": "3 2" }));
      g.append(s("text", { x: (x(lo) + x(0)) / 2, y: PAD - 6, "text-anchor": "middle" }, "misclassified (m < 0)"));
    }
    for (const t of niceTicks(lo, hi, 6)) g.append(s("text", { x: x(t), y: bottom + 12, "text-anchor": "middle", class: "gw-tick" }, formatNumber(t)));
    if (layout === "multiples") {
      // each panel: its group's name, and the shared count scale at its top
      panels.forEach(([a], p) => {
        g.append(s("text", { x: x(hi) - 2, y: a + 10, "text-anchor": "end", class: "gw-halo" }, gs[p].name));
        g.append(s("text", { x: PAD + 14, y: a + 8, "text-anchor": "end", class: "gw-tick" }, formatNumber(ymaxs[p])));
      });
    } else {
      const y = yIn(0);
      for (const t of niceTicks(0, ymax, 4)) g.append(s("text", { x: PAD + 14, y: y(t) + 3, "text-anchor": "end", class: "gw-tick" }, formatNumber(t)));
    }
    g.append(s("text", { x: W / 2, y: H - 4, "text-anchor": "middle", class: "gw-axis-title" }, `margin m (signed${span})`));
    g.append(s("text", { x: 10, y: PAD + (H - 2 * PAD) / 2, "text-anchor": "middle", class: "gw-axis-title", transform: `rotate(-90 10 ${PAD + (H - 2 * PAD) / 2})` }, "samples"));
    drawn = {
      layout, lo, hi, bins, ymax, ymaxs, x0: x(lo), x1: x(hi), panels,
      groups: gs.map((gr, gi) => ({ name: gr.name, counts: Array.from(hists[gi].counts), selected: picked ? Array.from(picked[gi]) : null })),
    };
    frame.root.dataset.layout = layout;
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
    frame.root.dataset.range = `${lo},${hi}`;
  }

  // the picker of the dimension that is grouped does nothing (every value is drawn): hidden
  function hideGroupedPicker(): void {
    const by = model.get("group_by") as string;
    for (const key of ["model", "sparsity"]) {
      const node = frame.bar.querySelector(`select[data-picker=${key}]`)?.closest("label");
      if (node) (node as HTMLElement).style.display = by === key ? "none" : "";
    }
  }

  /** Selects the samples whose margin lies in [a, b]: in small multiples, the margins of the
   * panel the brush started in (y0, CSS px); else the shown cell's, which with several models
   * or levels overlaid is one of the drawn groups only, so a notice names it. */
  function brush(a: number, b: number, y0: number): void {
    const gs = groups();
    if (!gs || !drawn) return;
    const p = drawn.layout === "multiples" ? drawn.panels.findIndex(([t, btm]) => y0 >= t - 3 && y0 <= btm + 3) : -1;
    let idx: number[];
    if (p >= 0) {
      idx = inRange(gs[p].values, a, b, gs[p].mask ?? undefined);
    } else {
      const m = model.get("model"), k = model.get("condition");
      const cur = margins(m, model.get("layer"), k);
      if (!cur) return;
      idx = inRange(cur, a, b, classMask() ?? undefined);
      const by = model.get("group_by");
      if (gs.length > 1 && (by === "model" || by === "sparsity")) {
        frame.notice(`selected by the margins of ${cellName(meta, m, k)} (layout "multiples" brushes each panel's own)`);
      }
    }
    link.select(idx.map((i) => link.data.ids[i]));
  }

  draw();
  (frame.root as unknown as { __geowidget: unknown }).__geowidget = { layout: () => drawn };
  return {
    dispose() {
      link.dispose();
      frame.destroy();
    },
  };
}
