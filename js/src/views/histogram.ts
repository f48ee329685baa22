// MarginHistogram: margin distributions per class, or overlaid for several models or levels.
// The negative (misclassified) side is shaded apart; brushing an x range selects those samples.

import { categorical, paletteFor } from "../colors";
import { h, s, select } from "../dom";
import { Frame } from "../frame";
import type { Model } from "../model";
import type { ViewContext } from "../registry";
import { formatNumber, linear, niceTicks, PAD } from "../scales";
import { histogram, inRange, zeroAlignedRange, type Histogram } from "../binning";
import { linkFrame } from "./framed";
import { stepSlider } from "./steps";

interface Group { name: string; values: Float32Array; mask: Uint8Array | null; color: [number, number, number] }

export function renderHistogram(model: Model, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  let invX: ((px: number) => number) | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onPolygon: (poly) => {
      if (!invX) return;
      const xs = poly.map((p) => p[0]);
      brush(invX(Math.min(...xs)), invX(Math.max(...xs)));
    },
    onClick: () => { if (link.selected().length) link.select([]); },
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, ["box"]);
  frame.root.dataset.kind = "histogram";
  const g2d = frame.canvas.getContext("2d");
  const link = linkFrame(model, frame, ctx, { redraw: draw }, ["group_by", "bins", "classes", "palette"]);
  const { meta, labels } = link.data;
  const n = meta.shape[3];
  if (model.get("show_controls")) {
    const groups = [{ value: "class", text: "per class" }, { value: "none", text: "all" }];
    if (meta.models.length > 1) groups.push({ value: "model", text: "models" });
    if (meta.conditions.length > 1) groups.push({ value: "sparsity", text: "levels" });
    frame.bar.append(select("group", groups, model.get("group_by"), (v) => { model.set("group_by", v); model.save_changes(); }));
  }
  const steps = model.get("show_controls") ? stepSlider(model, meta, frame.bar) : null;

  function classMask(): Uint8Array | null {
    const cls = model.get("classes") as number[];
    if (!cls || cls.length === 0) return null;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (cls.includes(labels[i])) out[i] = 1;
    return out;
  }

  function margins(m: number, l: number, k: number): Float32Array | undefined {
    return link.cell(m, l, k)?.get("margin");
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
        if (v) out.push({ name: `sparsity ${c.sparsity}`, values: v, mask, color: categorical(out.length, pal) });
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

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const W = frame.width, H = frame.height;
    const ctx = g2d;
    if (!ctx) return;
    const gs = n === 0 ? [] : groups();
    if (!gs) { frame.message(link.status() || "loading slice…"); return; }
    frame.clear2d(ctx);
    frame.legend.replaceChildren();
    if (n === 0) { frame.message("no samples to show (empty arrays)"); return; }
    frame.message("");
    const bins = Math.max(1, model.get("bins") ?? 40);
    let lo = Infinity, hi = -Infinity;
    for (const g of gs) for (let i = 0; i < g.values.length; i++) {
      if (g.mask && !g.mask[i]) continue;
      const v = g.values[i]; if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (!(lo <= hi)) { lo = -1; hi = 1; }
    [lo, hi] = zeroAlignedRange(lo, hi, bins);
    const hists: Histogram[] = gs.map((g) => histogram(g.values, bins, lo, hi, g.mask ?? undefined));
    const ymax = Math.max(1, ...hists.map((hh) => Math.max(...Array.from(hh.counts))));
    const x = linear(lo, hi, PAD + 20, W - PAD);
    const y = linear(0, ymax, H - PAD, PAD);
    invX = linear(PAD + 20, W - PAD, lo, hi);
    // the misclassified side
    if (lo < 0) {
      ctx.fillStyle = frame.theme.dark ? "rgba(238,102,119,0.16)" : "rgba(238,102,119,0.12)";
      ctx.fillRect(x(lo), PAD, x(Math.min(0, hi)) - x(lo), H - 2 * PAD);
    }
    gs.forEach((g, gi) => {
      const hh = hists[gi];
      const [r, gg, b] = g.color;
      // one group: solid; a few: translucent; many (per class): outlines, which stay apart
      const fill = gs.length === 1 ? 0.8 : gs.length <= 3 ? 0.3 : 0.05;
      ctx.fillStyle = `rgba(${r},${gg},${b},${fill})`;
      ctx.strokeStyle = `rgb(${r},${gg},${b})`;
      ctx.lineWidth = gs.length > 3 ? 1.5 : 1;
      ctx.beginPath();
      ctx.moveTo(x(hh.edges[0]), y(0));
      for (let i = 0; i < bins; i++) { ctx.lineTo(x(hh.edges[i]), y(hh.counts[i])); ctx.lineTo(x(hh.edges[i + 1]), y(hh.counts[i])); }
      ctx.lineTo(x(hh.edges[bins]), y(0));
      ctx.closePath();
      ctx.fill(); ctx.stroke();
      const it = h("span", { class: "item" });
      const sw = h("span", { class: "sw" }); sw.style.background = `rgb(${r},${gg},${b})`;
      let total = 0; for (const c of hh.counts) total += c;
      it.append(sw, h("span", {}, `${g.name} (${total}${hh.missing ? `, ${hh.missing} missing` : ""})`));
      frame.legend.append(it);
    });
    // selected samples of the current cell, on top
    const sm = link.selectionMask();
    if (sm) {
      const cur = margins(model.get("model"), model.get("layer"), model.get("condition"));
      if (cur) {
        const hs = histogram(cur, bins, lo, hi, sm);
        ctx.fillStyle = frame.theme.dark ? "rgba(255,255,255,0.75)" : "rgba(0,0,0,0.65)";
        for (let i = 0; i < bins; i++) if (hs.counts[i]) ctx.fillRect(x(hs.edges[i]), y(hs.counts[i]), x(hs.edges[i + 1]) - x(hs.edges[i]) - 0.5, y(0) - y(hs.counts[i]));
      }
    }
    // axes
    const g = frame.overlay;
    const col = frame.theme.grid;
    g.append(s("line", { x1: x(lo), y1: y(0), x2: x(hi), y2: y(0), stroke: col }));
    if (lo < 0 && hi > 0) {
      g.append(s("line", { x1: x(0), y1: PAD - 4, x2: x(0), y2: y(0), stroke: frame.theme.fg, "stroke-dasharray": "3 2" }));
      g.append(s("text", { x: (x(lo) + x(0)) / 2, y: PAD - 6, "text-anchor": "middle" }, "misclassified (m < 0)"));
    }
    for (const t of niceTicks(lo, hi, 6)) g.append(s("text", { x: x(t), y: y(0) + 12, "text-anchor": "middle", class: "gw-tick" }, formatNumber(t)));
    for (const t of niceTicks(0, ymax, 4)) g.append(s("text", { x: PAD + 14, y: y(t) + 3, "text-anchor": "end", class: "gw-tick" }, formatNumber(t)));
    g.append(s("text", { x: W / 2, y: H - 4, "text-anchor": "middle", class: "gw-axis-title" }, "margin m (signed)"));
    g.append(s("text", { x: 10, y: PAD + (H - 2 * PAD) / 2, "text-anchor": "middle", class: "gw-axis-title", transform: `rotate(-90 10 ${PAD + (H - 2 * PAD) / 2})` }, "samples"));
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
    frame.root.dataset.range = `${lo},${hi}`;
  }

  function brush(a: number, b: number): void {
    const cur = margins(model.get("model"), model.get("layer"), model.get("condition"));
    if (!cur) return;
    const idx = inRange(cur, a, b, classMask() ?? undefined);
    link.select(idx.map((i) => link.data.ids[i]));
  }

  draw();
  return {
    dispose() {
      steps?.dispose();
      link.dispose();
      frame.destroy();
    },
  };
}
