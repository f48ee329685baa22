// LayerProfile: angle, norm and margin along the layers. Per model a median line in a 10-90 %
// band (quantiles computed in Python, `profile` [M, L, K, metric, quantile]); each selected
// sample is its own line for the current model; clicking a layer makes it the current layer
// (linked views follow through the link's picks). On a live cube the kernel sends the
// quantiles of the cells computed so far and `cell_state` [M, L, K] (0 not computed,
// 1 computed, 2 computing, 3 failed) anew as cells arrive: the layers of the shown model that
// are computing keep the progress line on, and the legend names the ones not drawn.

import { categorical } from "../colors";
import { s } from "../dom";
import { Frame } from "../frame";
import { keepApart, textWidth } from "../labels";
import type { AnyModel, SlabTraits } from "../model";
import type { ViewContext } from "../context";
import { formatNumber, niceTicks, PAD } from "../scales";
import { refreshData } from "../data";
import { progressLine } from "../live";
import { linkFrame } from "./framed";
import { layerTitle } from "./layerlabel";
import { cellName, cellNotice, showAvailable, showDegenerate, showUnavailable } from "./degenerate";

/** LayerProfile's synced traits (geowidget/widgets/layerprofile.py): a slab view's. */
export type LayerProfileTraits = SlabTraits;

const MAX_SAMPLE_LINES = 8;
const TITLES: Record<string, string> = { angle: "θ to the class direction (°)", norm: "ρ (L2 norm)", margin: "margin m" };
/** px between a panel's edge and its first and last layer: the points and their tick labels
 * clear of the y-axis labels and the panel's end. */
const INSET = 12;

export interface ProfileGeometry {
  /** x of each layer, in CSS px. */
  x: number[];
  /** [left, right] of each panel. */
  panels: [number, number][];
  top: number;
  bottom: number;
}

/** The layer whose x is nearest to `px` inside a panel, or -1 outside every panel. */
export function layerAt(geom: ProfileGeometry, px: number, py: number): number {
  if (py < geom.top - 8 || py > geom.bottom + 8) return -1;
  const inPanel = geom.panels.some(([a, b]) => px >= a - 8 && px <= b + 8);
  if (!inPanel) return -1;
  const layers = geom.x.length / geom.panels.length;
  let best = -1, dist = Infinity;
  geom.x.forEach((x, i) => { const d = Math.abs(x - px); if (d < dist) { dist = d; best = i % layers; } });
  return best;
}

export function renderLayerProfile(model: AnyModel<LayerProfileTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  let geom: ProfileGeometry | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onClick: (x, y) => {
      if (!geom) return;
      const l = layerAt(geom, x, y);
      if (l >= 0 && l !== model.get("layer")) { model.set("layer", l); model.save_changes(); }
    },
    onResize: () => link.schedule(),
    onTheme: () => link.schedule(),
  }, []);
  frame.root.dataset.kind = "layerprofile";
  const g2d = frame.canvas.getContext("2d");
  const link = linkFrame(model, frame, ctx, {
    redraw: draw,
    onChange: (name) => { if (name === "_arrays" || name === "_meta") refreshData(model, link.data); }, // a live cube's cells
  }, ["palette", "_arrays", "_meta"]);
  const { meta, ids } = link.data;
  const [M, L, K, N] = meta.shape;
  const metrics = (meta.metrics as string[]) ?? ["angle", "norm", "margin"];
  const Q = ((meta.quantiles as number[]) ?? [0.1, 0.5, 0.9]).length;
  const profile = () => link.data.arrays.profile as Float32Array;
  const mid = Math.floor(Q / 2);
  // per layer: measured against the model's own head (true) or a linear probe (false)
  const headLayers = (meta.head_layers as boolean[] | undefined) ?? Array.from({ length: L }, () => true);
  const probes = headLayers.some((h) => !h);

  /** A live cube's cell (m, l, k): 0 not computed, 1 computed, 2 computing, 3 failed; 1 for
   * every cell of other cubes. */
  function state(m: number, l: number, k: number): number {
    const st = link.data.arrays.cell_state as Uint8Array | undefined;
    return st ? st[(m * L + l) * K + k] : 1;
  }

  /** The layers of the shown model and condition that are not drawn, and why (a live cube). In
   * an exported page nothing computes any more: a layer asked for and not there when the
   * page was written is one not computed. */
  function notDrawn(): { computing: number[]; missing: number[]; failed: string[] } {
    const m = model.get("model") as number, k = model.get("condition") as number;
    const out = { computing: [] as number[], missing: [] as number[], failed: [] as string[] };
    const errors = (meta.cell_errors ?? {}) as Record<string, string>;
    for (let l = 0; l < L; l++) {
      const st = state(m, l, k);
      if (st === 2 && ctx.kernel !== false) out.computing.push(l);
      else if (st === 0 || st === 2) out.missing.push(l);
      else if (st === 3) out.failed.push(`layer ${meta.layers[l]}: ${errors[`${m},${l},${k}`] ?? "failed"}`);
    }
    return out;
  }

  /** Quantile q of metric j for model m at layer l (current condition), in display units. */
  function quantile(m: number, l: number, j: number, q: number): number {
    const k = model.get("condition") as number;
    const v = profile()[((((m * L + l) * K + k) * metrics.length + j) * Q) + q];
    return metrics[j] === "angle" ? (v * 180) / Math.PI : v;
  }

  /** Per layer, metric j of sample position i for the current model; null while a cell loads. */
  function sampleLine(i: number, j: number): number[] | null {
    const m = model.get("model") as number, k = model.get("condition") as number;
    const out: number[] = [];
    for (let l = 0; l < L; l++) {
      const cell = link.cell(m, l, k);
      if (!cell) return null;
      const v = cell.get(metrics[j])[i];
      out.push(metrics[j] === "angle" ? (v * 180) / Math.PI : v);
    }
    return out;
  }

  /** Why a θ point is missing: per model and layer whose median angle is undefined, the
   * shown model's counts from its cell (when loaded), the others' from the profile. */
  function undefinedAngles(): string[] {
    const j = metrics.indexOf("angle");
    if (j < 0) return [];
    const k = model.get("condition") as number, cur = model.get("model") as number;
    const out: string[] = [];
    for (let m = 0; m < M; m++) for (let l = 0; l < L; l++) {
      if (!Number.isNaN(quantile(m, l, j, mid)) || state(m, l, k) !== 1) continue; // a live cube's cell not computed: not degenerate
      const where = `${cellName(meta, m, k)}, layer ${meta.layers[l]}`;
      const counted = m === cur ? cellNotice(link.cell(m, l, k), where) : "";
      out.push(counted || `${where}: θ not drawn, the angle is undefined for at least half the samples`);
    }
    return out;
  }

  function selectedPositions(): number[] {
    const mask = link.selectionMask();
    if (!mask) return [];
    const out: number[] = [];
    for (let i = 0; i < N && out.length < MAX_SAMPLE_LINES; i++) if (mask[i]) out.push(i);
    return out;
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    const c = g2d;
    if (!c) return;
    frame.clear2d(c);
    if (M === 0 || L === 0 || !profile()) { frame.message("nothing to show (no models or layers)"); return; }
    const absent = notDrawn();
    if (meta.live) progressLine(frame.root, absent.computing.length > 0);
    frame.root.dataset.computingLayers = String(absent.computing.length);
    const chosen = selectedPositions();
    const lines = chosen.map((i) => metrics.map((_, j) => sampleLine(i, j)));
    if (lines.some((ls) => ls.some((x) => x === null))) { frame.message(link.status() || "loading slices…"); return; }
    const k = model.get("condition") as number;
    const drawn = metrics.some((_, j) => Array.from({ length: M * L }, (_, i) => quantile(Math.floor(i / L), i % L, j, mid)).some(Number.isFinite));
    if (!drawn && (absent.missing.length || absent.computing.length)) {
      // nothing of this condition is there (an exported page's condition not computed, a live
      // cube's first cells on their way): a centred notice, not empty axes
      showUnavailable(frame, `${cellName(meta, model.get("model") as number, k)}: ${absentText(absent)}`, () => frame.clear2d(c));
      return;
    }
    showAvailable(frame);
    showDegenerate(frame, [...absent.failed, ...undefinedAngles()]);
    const W = frame.width, H = frame.height;
    const gap = 34, top = PAD;
    const pw = (W - 2 * PAD - gap * (metrics.length - 1)) / metrics.length;
    const panels: [number, number][] = metrics.map((_, j) => [PAD + 12 + j * (pw + gap), PAD + 12 + j * (pw + gap) + pw - 12]);
    const font = frame.labelFont;
    const names = meta.layers.map(shortName);
    const axis = layerAxis(names.map((t) => textWidth(t, font)), L > 1 ? (panels[0][1] - panels[0][0] - 2 * INSET) / (L - 1) : Infinity, model.get("layer") as number);
    const bottom = H - PAD - axis.height;
    const xs: number[] = [];
    const g = frame.overlay;
    const pal = (model.get("palette") as string[]) ?? [];
    const cur = model.get("model") as number, curLayer = model.get("layer") as number;
    metrics.forEach((name, j) => {
      const [a, b] = panels[j];
      const x = (l: number) => (L === 1 ? (a + b) / 2 : a + INSET + (l * (b - a - 2 * INSET)) / (L - 1));
      for (let l = 0; l < L; l++) xs.push(x(l));
      // y range over every band and sample line, with 0 in view for the margin
      let lo = Infinity, hi = -Infinity;
      const see = (v: number) => { if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } };
      for (let m = 0; m < M; m++) for (let l = 0; l < L; l++) { see(quantile(m, l, j, 0)); see(quantile(m, l, j, Q - 1)); }
      for (const ls of lines) for (const v of ls[j]!) see(v);
      if (name === "margin") { see(0); }
      if (!(lo <= hi)) { lo = 0; hi = 1; }
      if (lo === hi) { lo -= 0.5; hi += 0.5; }
      const pad = (hi - lo) * 0.05;
      lo -= pad; hi += pad;
      const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
      // axes, ticks, the current layer
      g.append(s("line", { x1: a, y1: bottom, x2: b, y2: bottom, stroke: frame.theme.grid }));
      g.append(s("line", { x1: a, y1: top, x2: a, y2: bottom, stroke: frame.theme.grid }));
      for (const t of niceTicks(lo, hi, 4)) {
        g.append(s("text", { x: a - 3, y: y(t) + 3, "text-anchor": "end" }, formatNumber(t)));
      }
      if (name === "margin" && lo < 0 && hi > 0) {
        g.append(s("line", { x1: a, y1: y(0), x2: b, y2: y(0), stroke: frame.theme.fg, "stroke-dasharray": "3 3", "stroke-width": 0.8 }));
      }
      g.append(s("rect", { x: x(curLayer) - 5, y: top, width: 10, height: bottom - top, fill: "rgba(120,120,120,0.15)", "data-current-layer": curLayer }));
      g.append(s("text", { x: (a + b) / 2, y: top - 6, "text-anchor": "middle" }, TITLES[name] ?? name));
      // layer names under the panel: every one, level or slanted as the width allows (layerAxis),
      // each explained on hover (a probe layer's probe)
      const anchor = (l: number) => (axis.angle ? "end" : L === 1 ? "middle" : l === 0 ? "start" : l === L - 1 ? "end" : "middle");
      for (const l of axis.shown) {
        const at = { x: x(l), y: bottom + (axis.angle ? 8 : 12) };
        // a probe layer's name in italics (the legend says why), when the cube has both kinds
        const label = s("text", { ...at, "text-anchor": anchor(l), class: probes && !headLayers[l] ? "gw-layer gw-probe-layer" : "gw-layer",
          ...(probes && !headLayers[l] ? { "font-style": "italic", fill: frame.theme.muted } : {}),
          ...(axis.angle ? { transform: `rotate(${-axis.angle} ${at.x} ${at.y})` } : {}) }, names[l]);
        label.append(s("title", {}, layerTitle(meta, l, cur, model.get("condition") as number)));
        g.append(label);
      }
      // bands and medians: other models first, the current one on top
      const order = Array.from({ length: M }, (_, m) => m).filter((m) => m !== cur).concat([cur]);
      for (const m of order) {
        const col = categorical(m, pal);
        const rgba = (alpha: number) => `rgba(${col[0]},${col[1]},${col[2]},${alpha})`;
        if (Q > 1) {
          // one band per run of layers with both ends defined: never across a layer without
          // values (a live cube's layer not computed yet, an undefined angle)
          c.fillStyle = rgba(m === cur ? 0.18 : 0.07);
          const lo = (l: number) => y(quantile(m, l, j, 0)), hi = (l: number) => y(quantile(m, l, j, Q - 1));
          for (let a = 0; a < L; a++) {
            if (!Number.isFinite(lo(a)) || !Number.isFinite(hi(a))) continue;
            let b = a;
            while (b + 1 < L && Number.isFinite(lo(b + 1)) && Number.isFinite(hi(b + 1))) b++;
            if (b > a) {
              c.beginPath();
              for (let l = a; l <= b; l++) c.lineTo(x(l), hi(l));
              for (let l = b; l >= a; l--) c.lineTo(x(l), lo(l));
              c.closePath();
              c.fill();
            } else { // a layer alone: its band is a bar
              c.fillRect(x(a) - 3, Math.min(lo(a), hi(a)), 6, Math.abs(hi(a) - lo(a)));
            }
            a = b;
          }
        }
        c.strokeStyle = rgba(m === cur ? 1 : 0.55);
        c.lineWidth = m === cur ? 2.5 : 1.2;
        polyline(c, L, x, (l) => y(quantile(m, l, j, mid)));
        c.fillStyle = rgba(1);
        for (let l = 0; l < L; l++) {
          const v = quantile(m, l, j, mid);
          if (Number.isFinite(v)) { c.beginPath(); c.arc(x(l), y(v), m === cur ? 3 : 2, 0, 2 * Math.PI); c.fill(); }
        }
      }
      // the selected samples
      c.strokeStyle = frame.theme.fg;
      c.lineWidth = 1.2;
      c.setLineDash([4, 3]);
      for (const ls of lines) { const v = ls[j]!; polyline(c, L, x, (l) => y(v[l])); }
      c.setLineDash([]);
    });
    geom = { x: xs, panels, top, bottom };
    drawLegend(chosen, absent);
    frame.root.dataset.layer = String(curLayer);
    frame.root.dataset.lines = String(chosen.length);
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  function drawLegend(chosen: number[], absent: ReturnType<typeof notDrawn>): void {
    const Lg = frame.legend;
    Lg.replaceChildren();
    const pal = (model.get("palette") as string[]) ?? [];
    meta.models.forEach((name, m) => {
      const it = document.createElement("span");
      it.className = m === model.get("model") ? "item" : "item off";
      const sw = document.createElement("span");
      sw.className = "sw";
      const col = categorical(m, pal);
      sw.style.background = `rgb(${col[0]},${col[1]},${col[2]})`;
      it.append(sw, document.createTextNode(name));
      it.addEventListener("click", () => { model.set("model", m); model.save_changes(); });
      Lg.append(it);
    });
    // what the band covers, and what θ and m are measured against at each layer
    const quantiles = (meta.quantiles as number[]) ?? [0.1, 0.5, 0.9];
    const band = document.createElement("span");
    band.className = "gw-key gw-band"; // a key, not a model to click
    const bsw = document.createElement("span");
    bsw.className = "sw";
    Object.assign(bsw.style, { background: "rgba(120,120,120,0.35)", borderRadius: "0", width: "14px" });
    band.append(bsw, document.createTextNode(`line: median, band: ${pct(quantiles[0])}–${pct(quantiles[quantiles.length - 1])} % of the samples`));
    Lg.append(band);
    const heads = meta.layers.filter((_, l) => headLayers[l]);
    const against = document.createElement("span");
    against.className = "gw-key gw-against";
    if (probes) {
      const em = document.createElement("i");
      em.textContent = "italic";
      against.append(document.createTextNode("θ, m to the class direction: a linear probe's at "), em,
        document.createTextNode(` layers (fitted out of sample), the model's head's at ${heads.length ? heads.join(", ") : "none"}`));
    } else {
      against.textContent = "θ, m to the class direction of the model's head";
    }
    Lg.append(against);
    // a live cube: the shown model's layers that are not drawn yet
    const text = absentText(absent);
    if (text) {
      const note = document.createElement("span");
      note.className = "gw-note";
      note.dataset.live = absent.computing.length ? "computing" : "not-computed";
      note.textContent = `${meta.models[model.get("model") as number]}: ${text}`;
      Lg.append(note);
    }
    if (chosen.length) {
      const more = link.selected().length - chosen.length;
      const it = document.createElement("span");
      it.className = "item";
      it.textContent = `- - samples ${chosen.map((i) => ids[i]).join(", ")}${more > 0 ? ` (+${more} not drawn)` : ""}`;
      Lg.append(it);
    }
  }

  /** The shown model's layers not drawn yet, in words ("" when every one is). */
  function absentText(absent: ReturnType<typeof notDrawn>): string {
    const names = (ls: number[]) => (ls.length > 4 ? `${ls.length} layers` : ls.map((l) => meta.layers[l]).join(", "));
    return [
      absent.computing.length ? `computing ${names(absent.computing)}…` : "",
      absent.missing.length ? `${ctx.kernel === false ? "not computed when this page was exported" : "not computed"}: ${names(absent.missing)}` : "",
    ].filter(Boolean).join(" · ");
  }

  draw();
  return {
    dispose() {
      link.dispose();
      frame.destroy();
    },
  };
}

function polyline(c: CanvasRenderingContext2D, n: number, x: (l: number) => number, y: (l: number) => number): void {
  c.beginPath();
  let pen = false;
  for (let l = 0; l < n; l++) {
    const v = y(l);
    if (!Number.isFinite(v)) { pen = false; continue; }
    if (pen) c.lineTo(x(l), v); else c.moveTo(x(l), v);
    pen = true;
  }
  c.stroke();
}

/** How the layer names stand under a panel whose layers are `dx` px apart (names `widths` px
 * wide, text 11 px high): level when each fits its slot; else slanted 45° when the slant
 * leaves 11 px between neighbours, else upright (90°); where even that is too tight, every
 * n-th name (the current layer's always; every name shows on hover). `height`: the px the
 * names take below the axis. */
export function layerAxis(widths: number[], dx: number, current = -1): { angle: 0 | 45 | 90; shown: number[]; height: number } {
  const L = widths.length, TEXT_H = 11, GAP = 4;
  const every = Array.from({ length: L }, (_, l) => l);
  // level: neighbours centred dx apart, the ends inside the panel (first left-, last right-aligned)
  const level = every.every((l) => l === L - 1 || (l === 0 ? widths[0] : widths[l] / 2) + (l + 1 === L - 1 ? widths[l + 1] : widths[l + 1] / 2) + GAP <= dx);
  const longest = Math.max(0, ...widths);
  if (L <= 1 || level) return { angle: 0, shown: every, height: 14 };
  if (dx * Math.SQRT1_2 >= TEXT_H) return { angle: 45, shown: every, height: 12 + longest * Math.SQRT1_2 };
  const boxes = widths.map((_, l) => ({ x: l * dx - TEXT_H / 2, y: 0, w: TEXT_H, h: 1 }));
  return { angle: 90, shown: dx >= TEXT_H ? every : keepApart(boxes, 0, current), height: 12 + longest };
}

/** A quantile as a percent: 0.1 -> "10". */
function pct(q: number): string {
  return String(Math.round(q * 1000) / 10);
}

/** A layer name short enough for an axis label: its last dotted part. */
function shortName(name: string): string {
  const last = name.split(".").pop() ?? name;
  return last.length > 12 ? `${last.slice(0, 11)}…` : last;
}
