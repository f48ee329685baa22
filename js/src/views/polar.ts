// PolarPlot: samples at (theta, rho) on a half disc, class direction pointing right.

import { categorical, extent, MISSING, paletteFor, symmetric, type ScaleKind } from "../colors";
import { refreshData, type ViewData } from "../data";
import { h, s, select } from "../dom";
import { Frame } from "../frame";
import type { LinkedView } from "../link";
import type { AnyModel, SlabTraits } from "../model";
import { DEFAULT_THRESHOLD, type DensitySetting } from "../density";
import { colorBar } from "../legend";
import { cellName, cellNotice, showAvailable, showDegenerate, showUnavailable } from "./degenerate";
import { apart, firstApart, textBox, textWidth } from "../labels";
import { PointLayer, pointScreen, pointsInView, type AttrRef, type ColorMode, type DrawSpec } from "../points";
import type { ViewContext } from "../context";
import { formatNumber, niceTicks, pan, polarCamera, polarSector, sectorCamera, xyCamera, zoomAt, type Camera, type Sector } from "../scales";
import { robustNote, robustOffset } from "../robust";
import { nearest, selectPolygon } from "../selection";
import type { Cell } from "../store";
import { drawTile } from "../thumbs";
import { linkFrame } from "./framed";

/** PolarPlot's synced traits (geowidget/widgets/polar.py); ProjectionView has the same. */
export interface PolarTraits extends SlabTraits {
  color_by: string;
  angle_to: "true" | "pred";
  normalize: boolean;
  point_size: number;
  density: DensitySetting;
  density_threshold: number;
  /** Per layer, the [θ min, θ max, ρ min, ρ max] several plots share; [] for none. */
  shared_range: number[][];
}

/** The data's angle and radius ranges in the shown cell (visible classes, finite points), and
 * how many points that is. */
export interface PolarRange { theta: [number, number]; rho: [number, number]; count: number }

export interface PolarHandle {
  spec(): DrawSpec | null;
  /** The data range of the shown cell and the sector the fitted frame shows. */
  range(): { data: PolarRange; sector: Sector; view: "data" | "disc" | "free" } | null;
  layer: PointLayer;
  frame: Frame;
  draw(): void;
  data: ViewData;
  link: LinkedView;
}

/** Positions other than (θ, ρ): the same view drawing samples at given x, y instead
 * (ProjectionView), with the same colours, selection, hover and links. */
export interface Positions {
  kind: string;
  /** x and y of model m, layer l, each [N] at an element offset of its array. */
  refs(m: number, l: number): [AttrRef, AttrRef];
  caption: string;
}

const OK = "#4477AA";
const BAD = "#EE6677";

/** How far (CSS px) a radius label stands from every angle label, so neither reads as the other's. */
export const READ_APART = 36;

export function renderPolar(model: AnyModel<PolarTraits>, el: HTMLElement, ctx: ViewContext = {}, positions?: Positions): { dispose(): void; handle: PolarHandle } {
  let camera: Camera | null = null; // null: a fitted frame (`fit`)
  let fit: "data" | "disc" = "data"; // polar: around the data's range, or the full half disc
  let current: DrawSpec | null = null;

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onZoom: (f, x, y) => { camera = zoomAt(camera ?? fitted(), f, x, y); schedule(); },
    onPan: (dx, dy) => { camera = pan(camera ?? fitted(), dx, dy); schedule(); },
    onPolygon: (poly) => {
      const spec = current;
      if (!spec) return;
      const idx = selectPolygon(spec.n, (i) => pointScreen(spec, i), poly);
      const chosen = idx.filter((i) => visibleClass(i)).map((i) => data.ids[i]);
      link.select(chosen);
    },
    onClick: () => { if (link.selected().length) link.select([]); },
    onHover: (x, y) => hover(x, y),
    onResize: () => { camera = null; layer.resize(frame.width, frame.height, frame.dpr); schedule(); },
    onReset: () => { camera = null; if (!positions) fit = "disc"; schedule(); },
    onTheme: () => link.schedule(),
  });
  if (!positions) {
    const fitButton = h("button", { "data-tool": "fit", title: "zoom to the data's angle and radius range" }, "fit");
    fitButton.addEventListener("click", () => { camera = null; fit = "data"; schedule(); });
    frame.bar.querySelector("button[data-tool=reset]")?.before(fitButton);
  }
  frame.root.dataset.kind = positions?.kind ?? "polar";
  const layer = new PointLayer(frame.canvas, ctx);
  frame.root.dataset.backend = layer.backend;
  layer.resize(frame.width, frame.height, frame.dpr);
  const link = linkFrame(model, frame, ctx, {
    redraw: draw,
    onChange: (name) => {
      if (name === "normalize") camera = null;
      if (name === "_arrays" || name === "_meta") refreshData(model, link.data); // a live cube's robustness
    },
    onSelect: (sel) => showSelected(sel.length),
  }, ["color_by", "angle_to", "normalize", "classes", "palette", "point_size", "density", "density_threshold", "shared_range", "_arrays", "_meta"]);
  const data = link.data;
  const { meta, labels } = data;
  const n = meta.shape[3];

  function visibleClass(i: number): boolean {
    const cls = model.get("classes") as number[];
    return !cls || cls.length === 0 || cls.includes(labels[i]);
  }

  function fitted(): Camera {
    const spec = buildSpec();
    if (positions) return spec ? xyFit(spec) : xyCamera(frame.width, frame.height, [], []);
    return spec ? spec.camera : polarCamera(frame.width, frame.height, 1);
  }

  function xyFit(spec: DrawSpec): Camera {
    const view = (r: AttrRef) => r.data.subarray(r.offset, r.offset + spec.n);
    return xyCamera(frame.width, frame.height, view(spec.x), view(spec.y));
  }

  // the data range of a cell, remembered while the cell, angle, classes and scaling stay
  let rangeKey = "";
  let rangeData: unknown = null;
  let rangeValue: PolarRange = { theta: [0, 0], rho: [0, 0], count: 0 };
  function dataRange(spec: DrawSpec): PolarRange {
    const key = `${spec.x.key}|${spec.x.offset}|${spec.y.offset}|${spec.rscale}|${Array.from(spec.classVisible).join("")}`;
    if (key === rangeKey && rangeData === spec.x.data) return rangeValue;
    // one pass over the cell, often run before the JIT has compiled it: locals only, and
    // `v - v === 0` for "finite" (NaN and infinities give NaN)
    const xs = spec.x.data, xo = spec.x.offset, ys = spec.y.data, yo = spec.y.offset, lab = labels;
    const vis = spec.classVisible;
    const all = vis.every((v) => v === 1);
    const len = spec.n;
    let t0 = Infinity, t1 = -Infinity, r0 = Infinity, r1 = -Infinity, count = 0;
    for (let i = 0; i < len; i++) {
      const t = xs[xo + i], r = ys[yo + i];
      if (t - t !== 0 || r - r !== 0 || (!all && !vis[lab[i]])) continue;
      count++;
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
      if (r < r0) r0 = r;
      if (r > r1) r1 = r;
    }
    rangeKey = key; rangeData = spec.x.data;
    rangeValue = count ? { theta: [t0, t1], rho: [r0 * spec.rscale, r1 * spec.rscale], count } : { theta: [0, 0], rho: [0, 0], count: 0 };
    return rangeValue;
  }

  /** The range shared with other plots for the current layer (SideBySide), if any: not
   * with ρ normalised, which is per plot by design. */
  function sharedRange(): PolarRange | null {
    if (positions || model.get("normalize")) return null;
    const f = (model.get("shared_range") as number[][] | undefined)?.[model.get("layer")];
    return f && f.length === 4 && f[3] > 0 ? { theta: [f[0], f[1]], rho: [f[2], f[3]], count: 1 } : null;
  }

  function sectorOf(own: PolarRange): Sector {
    const r = sharedRange() ?? own;
    if (fit === "disc" || r.count === 0) return { t0: 0, t1: Math.PI, r0: 0, r1: r.count ? 1.05 * r.rho[1] : 1 };
    return polarSector(Math.max(0, r.theta[0]), Math.min(Math.PI, r.theta[1]), Math.max(0, r.rho[0]), r.rho[1]);
  }

  function fittedCamera(sec: Sector): Camera {
    return fit === "disc" ? polarCamera(frame.width, frame.height, sec.r1 / 1.05) : sectorCamera(frame.width, frame.height, sec);
  }

  function cell(): Cell | undefined {
    return link.cell();
  }

  function colorSpec(c: Cell): { mode: ColorMode; cat: AttrRef | null; val: AttrRef | null; scale: ScaleKind } {
    const field = model.get("color_by") as string;
    const kinds = meta.color_kinds ?? {};
    const labelRef: AttrRef = { key: "labels", data: labels, offset: 0 };
    const angle = model.get("angle_to") === "pred" ? "angle_pred" : "angle";
    if (field === "class") return { mode: "category", cat: labelRef, val: null, scale: "continuous" };
    if (field === "pred") return { mode: "category", cat: c.ref("pred"), val: null, scale: "continuous" };
    if (field === "correct") return { mode: "correct", cat: c.ref("pred"), val: null, scale: "continuous" };
    if (field === "margin") return { mode: "continuous", cat: null, val: c.ref("margin"), scale: "diverging" };
    if (field === "angle") return { mode: "continuous", cat: null, val: c.ref(angle), scale: "continuous" };
    if (field === "norm") return { mode: "continuous", cat: null, val: c.ref("norm"), scale: "continuous" };
    if (field === "robustness" && data.arrays.robustness) {
      // the shown model at the shown condition's sparsity (robust.ts)
      const offset = robustOffset(meta, model.get("model"), model.get("condition"), n);
      return { mode: "continuous", cat: null, val: { key: "robustness", data: data.arrays.robustness, offset }, scale: "continuous" };
    }
    if (field === "adversarial" && c.has("adversarial")) {
      return { mode: "continuous", cat: null, val: c.ref("adversarial"), scale: "continuous" };
    }
    if (field === "custom" && (c.has("custom") || data.arrays.custom)) {
      // a custom colour per cell travels with the cell; one per sample is sent once
      const val: AttrRef = c.has("custom") ? c.ref("custom") : { key: "custom", data: data.arrays.custom, offset: 0 };
      const mode: ColorMode = kinds.custom === "categorical" ? "custom-category" : "continuous";
      return { mode, cat: null, val, scale: "continuous" };
    }
    return { mode: "category", cat: labelRef, val: null, scale: "continuous" };
  }

  function classVisible(): Uint8Array {
    const nc = Math.max(1, meta.class_names.length);
    const cls = model.get("classes") as number[];
    const out = new Uint8Array(nc);
    if (!cls || cls.length === 0) out.fill(1);
    else for (const c of cls) if (c >= 0 && c < nc) out[c] = 1;
    return out;
  }

  function buildSpec(): DrawSpec | null {
    const c = cell();
    if (!c) return null;
    const angleName = model.get("angle_to") === "pred" ? "angle_pred" : "angle";
    const col = colorSpec(c);
    const xy = positions?.refs(model.get("model"), model.get("layer"));
    const spec: DrawSpec = {
      n,
      polar: !positions,
      rscale: 1,
      x: xy ? xy[0] : c.ref(angleName),
      y: xy ? xy[1] : c.ref("norm"),
      label: { key: "labels", data: labels, offset: 0 },
      cat: col.cat,
      val: col.val,
      sel: link.selectionMask(),
      mode: col.mode,
      scale: col.scale,
      domain: [0, 1],
      palette: paletteFor(model.get("palette") as string[], frame.theme),
      classVisible: classVisible(),
      camera: { scale: 1, ox: 0, oy: 0 },
      size: model.get("point_size") ?? 3,
      ok: OK,
      bad: BAD,
    };
    spec.density = (model.get("density") as DensitySetting | undefined) ?? "auto";
    spec.threshold = (model.get("density_threshold") as number | undefined) ?? DEFAULT_THRESHOLD;
    setDomain(spec, col);
    if (positions) {
      spec.camera = camera ?? xyFit(spec);
    } else {
      if (model.get("normalize")) {
        let m = 0;
        for (let i = 0; i < n; i++) { const v = spec.y.data[spec.y.offset + i]; if (v > m && Number.isFinite(v)) m = v; }
        spec.rscale = m > 0 ? 1 / m : 1;
      }
      spec.camera = camera ?? fittedCamera(sectorOf(dataRange(spec)));
    }
    // every visible point is inside a fitted frame; after a zoom or pan, count them
    spec.inView = camera ? pointsInView(spec, frame.width, frame.height) : dataRange(spec).count;
    return spec;
  }

  function setDomain(spec: DrawSpec, col: { val: AttrRef | null; mode: ColorMode; scale: ScaleKind }): void {
    if (col.val && col.mode === "continuous") {
      const v = col.val;
      const view = v.data.subarray(v.offset, v.offset + n) as Float32Array;
      const ext = extent(view);
      spec.domain = col.scale === "diverging" ? symmetric(ext) : ext;
    }
  }

  // ---------------------------------------------------------------- drawing
  // Pointer-driven redraws (pan, zoom, resize) wait for an animation frame; data and style
  // changes (pickers, selection, colour) draw at the end of the current task (linkView), so a
  // slice switch does not wait for the next frame.
  function schedule(): void {
    frame.requestDraw(draw);
  }

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    layer.resize(frame.width, frame.height, frame.dpr);
    if (n === 0) {
      layer.draw({ ...emptySpec() }, frame.theme.bg);
      drawGrid(polarCamera(frame.width, frame.height, 1), { t0: 0, t1: Math.PI, r0: 0, r1: 1 });
      frame.message("no samples to show (empty arrays)");
      frame.legend.replaceChildren();
      return;
    }
    const spec = buildSpec();
    if (!spec) {
      current = null;
      showUnavailable(frame, link.status(), () => layer.draw(emptySpec(), frame.theme.bg));
      refocus();
      return;
    }
    showAvailable(frame);
    refocus();
    const angleName = model.get("angle_to") === "pred" ? "angle_pred" : "angle";
    showDegenerate(frame, [cellNotice(cell(), cellName(meta, model.get("model"), model.get("condition")), angleName)]);
    current = spec;
    layer.draw(spec, frame.theme.bg);
    if (positions) drawCaption(positions.caption);
    else drawGrid(spec.camera, sectorOf(dataRange(spec)));
    drawLegend(spec);
    frame.root.dataset.mode = layer.plan.mode;
    frame.root.dataset.bins = layer.plan.mode === "density" ? layer.binning : "";
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  function emptySpec(): DrawSpec {
    const z = new Float32Array(0);
    return { n: 0, polar: true, rscale: 1, x: { key: "e", data: z, offset: 0 }, y: { key: "e", data: z, offset: 0 }, label: null, cat: null, val: null, sel: null, mode: "category", scale: "continuous", domain: [0, 1], palette: [], classVisible: new Uint8Array(1), camera: { scale: 1, ox: 0, oy: 0 }, size: 3, ok: OK, bad: BAD };
  }

  function drawCaption(text: string): void {
    frame.overlay.replaceChildren(s("text", { x: 6, y: frame.height - 6 }, text));
  }

  // The grid of the shown sector: rings at nice radii, spokes at nice angles (every 30 degrees
  // on the half disc), the sector's edges a little stronger, labels outside the sector.
  function drawGrid(cam: Camera, sec: Sector): void {
    const g = frame.overlay;
    g.replaceChildren();
    const col = frame.theme.grid;
    const { ox, oy, scale: sc } = cam;
    const at = (r: number, t: number): [number, number] => [ox + r * sc * Math.cos(t), oy - r * sc * Math.sin(t)];
    const arc = (r: number, width: number) => {
      const [ax, ay] = at(r, sec.t0), [bx, by] = at(r, sec.t1), pr = r * sc;
      g.append(s("path", { d: `M${ax},${ay} A${pr},${pr} 0 0 0 ${bx},${by}`, fill: "none", stroke: col, "stroke-width": width }));
    };
    const spoke = (t: number, width: number) => {
      const [ax, ay] = at(sec.r0, t), [bx, by] = at(sec.r1, t);
      g.append(s("line", { x1: ax, y1: ay, x2: bx, y2: by, stroke: col, "stroke-width": width }));
    };
    const rings = niceTicks(sec.r0, sec.r1, 4).filter((r) => r > sec.r0 && r < sec.r1);
    for (const r of rings) arc(r, 0.6);
    arc(sec.r1, 1);
    if (sec.r0 > 0) arc(sec.r0, 1);
    // angle labels: as many nice angles as stand apart along the outer arc (a narrow
    // sector has room for few)
    const d0 = (sec.t0 * 180) / Math.PI, d1 = (sec.t1 * 180) / Math.PI;
    const inside = (ds: number[]) => ds.filter((deg) => deg >= d0 - 1e-6 && deg <= d1 + 1e-6);
    const choices = d1 - d0 >= 150 ? [[0, 30, 60, 90, 120, 150, 180], [0, 90, 180]] : [4, 3, 2, 1].map((k) => inside(niceTicks(d0, d1, k)));
    const font = frame.labelFont;
    const place = (deg: number) => {
      const [x, y] = at(sec.r1 + 14 / sc, (deg * Math.PI) / 180);
      const text = `${formatNumber(deg)}°`;
      return { deg, x, y: y + 3, text, box: textBox(x, y + 3, textWidth(text, font), 11) };
    };
    const placed = choices.map((ds) => ds.map(place));
    const shown = placed[firstApart(placed.map((ps) => ps.map((p) => p.box)))];
    for (const p of shown) {
      spoke((p.deg * Math.PI) / 180, 0.6);
      g.append(s("text", { x: p.x, y: p.y, "text-anchor": "middle", class: "gw-tick" }, p.text));
    }
    // ring labels sit outside the t0 edge, along its outward normal; one within READ_APART px
    // of an angle label (the outer ring's "60" below the t0 edge's "60°" read as a pair) is
    // left out
    const nx = Math.sin(sec.t0), ny = Math.cos(sec.t0);
    for (const r of rings) {
      const [x, y] = at(r, sec.t0);
      const text = formatNumber(r), lx = x + 11 * nx, ly = y + 11 * ny + 3;
      const box = textBox(lx, ly, textWidth(text, font), 11);
      if (shown.some((p) => !apart(p.box, box, READ_APART))) continue;
      g.append(s("text", { x: lx, y: ly, "text-anchor": "middle", class: "gw-tick", "data-ring": text }, text));
    }
    spoke(sec.t0, 1);
    spoke(sec.t1, 1);
  }

  /** Points per class of the class indices `src` (n of them from `offset`). */
  function countClasses(src: ArrayLike<number>, offset = 0): Int32Array {
    const counts = new Int32Array(meta.class_names.length);
    for (let i = 0; i < n; i++) { const c = src[offset + i]; if (c >= 0 && c < counts.length) counts[c]++; }
    return counts;
  }

  // samples per true class: the labels never change, so they are counted once
  let labelCounts: Int32Array | null = null;
  function classCounts(): Int32Array {
    return (labelCounts ??= countClasses(labels));
  }

  // the legend counts every point: rebuilt only when what it shows changed (not on a zoom)
  let legendKey = "";
  let legendData: unknown[] = [];
  function drawLegend(spec: DrawSpec): void {
    const field = model.get("color_by") as string;
    const key = JSON.stringify([field, spec.x.key, spec.x.offset, spec.y.offset, spec.cat?.key, spec.cat?.offset,
      spec.val?.key, spec.val?.offset, Array.from(spec.classVisible), spec.palette, spec.domain, layer.plan.mode,
      layer.plan.bin, model.get("angle_to"), model.get("normalize")]);
    const data = [spec.x.data, spec.y.data, spec.cat?.data, spec.val?.data];
    if (key === legendKey && data.every((d, i) => d === legendData[i])) return;
    legendKey = key;
    legendData = data;
    const L = frame.legend;
    L.replaceChildren();
    showSelected(link.selected().length);
    // missing: NaN position, or NaN colour value, among shown classes; without a colour
    // value, the shown points that dataRange did not count
    const vis = spec.classVisible;
    let missing = 0;
    if (spec.val) {
      for (let i = 0; i < n; i++) {
        if (!vis[labels[i]]) continue;
        const x = spec.x.data[spec.x.offset + i], y = spec.y.data[spec.y.offset + i];
        const v = spec.val.data[spec.val.offset + i];
        if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(v)) missing++;
      }
    } else {
      const perClass = classCounts();
      let shown = 0;
      for (let c = 0; c < perClass.length; c++) if (vis[c]) shown += perClass[c];
      missing = shown - dataRange(spec).count;
    }
    const item = (color: string, text: string, onClick?: () => void, off = false) => {
      const it = h("span", { class: off ? "item off" : "item" });
      const sw = h("span", { class: "sw" });
      sw.style.background = color;
      it.append(sw, h("span", {}, text));
      if (onClick) it.addEventListener("click", onClick);
      L.append(it);
      return it;
    };
    const rgb = (c: [number, number, number]) => `rgb(${c[0]},${c[1]},${c[2]})`;
    if (field === "class" || field === "pred") {
      const counts = field === "pred" ? countClasses(spec.cat!.data, spec.cat!.offset) : classCounts();
      meta.class_names.forEach((name, c) => {
        const it = item(rgb(categorical(c, spec.palette)), `${name} (${counts[c]})`, () => toggleClass(c), !vis[c]);
        it.dataset.class = String(c);
      });
    } else if (field === "correct") {
      let ok = 0, bad = 0;
      for (let i = 0; i < n; i++) { if (!vis[labels[i]]) continue; if (spec.cat!.data[spec.cat!.offset + i] === labels[i]) ok++; else bad++; }
      item(OK, `correct (${ok})`);
      item(BAD, `incorrect (${bad})`);
    } else if (spec.mode === "custom-category") {
      const counts = new Map<number, number>();
      for (let i = 0; i < n; i++) { const v = spec.val!.data[spec.val!.offset + i]; if (Number.isFinite(v)) counts.set(Math.trunc(v), (counts.get(Math.trunc(v)) ?? 0) + 1); }
      for (const [k, c] of Array.from(counts).sort((a, b) => a[0] - b[0])) item(rgb(categorical(k, spec.palette)), `${k} (${c})`);
    } else {
      L.append(colorBar(field, spec.domain, spec.scale));
    }
    if (missing > 0) {
      const it = item(MISSING, `missing (${missing})`);
      it.dataset.missing = String(missing);
    }
    const why = field === "robustness" ? robustNote(meta, model.get("condition"), model.get("model")) : null;
    if (why) L.append(h("span", { class: "gw-note", "data-robust": "not-evaluated" }, why));
    const plan = layer.plan;
    if (plan.mode === "density") {
      L.append(h("span", { class: "gw-note", "data-density": String(plan.bin) },
        `density: each ${formatNumber(plan.bin)} px bin shows its points' mean colour, opacity by log(count)`));
    }
    if (positions) return;
    const to = model.get("angle_to") === "pred" ? "predicted" : "true";
    L.append(h("span", { class: "gw-note" }, `θ: angle to the ${to} class direction · ρ: L2 norm${model.get("normalize") ? " / max" : ""}`));
  }

  /** "k selected" first in the legend, as the histogram shows it (none without a selection). */
  function showSelected(k: number): void {
    let it = frame.legend.querySelector<HTMLSpanElement>("[data-selcount]");
    if (!k) { it?.remove(); return; }
    if (!it) { it = h("span", { class: "item", "data-selcount": "" }); frame.legend.prepend(it); }
    it.textContent = `${k} selected`;
    it.dataset.selcount = String(k);
  }

  function toggleClass(c: number): void {
    const nc = meta.class_names.length;
    let cls = (model.get("classes") as number[]).slice();
    if (cls.length === 0) cls = Array.from({ length: nc }, (_, i) => i);
    cls = cls.includes(c) ? cls.filter((x) => x !== c) : [...cls, c].sort((a, b) => a - b);
    if (cls.length === nc) cls = [];
    model.set("classes", cls);
    model.save_changes();
  }

  // ---------------------------------------------------------------- hover
  function hover(x: number, y: number): void {
    const spec = current;
    if (!spec) return;
    const shown = spec.classVisible;
    const i = nearest(spec.n, (j) => (shown[labels[j]] ? pointScreen(spec, j) : null), x, y, 8);
    if (i < 0) { frame.hideTip(); return; }
    const c = cell();
    if (!c) return;
    const d = sampleDetail(i, c);
    const lines = [
      `sample ${d.id}`,
      `label: ${meta.class_names[labels[i]] ?? labels[i]}`, // the words of the sample panel (panel.ts)
      `prediction: ${meta.class_names[d.pred] ?? d.pred}`,
      `θ = ${formatNumber((d.theta * 180) / Math.PI)}°`,
      `ρ = ${formatNumber(d.rho)}`,
      `m = ${formatNumber(d.margin)}`,
    ];
    const atlas = link.atlas();
    let thumb: HTMLCanvasElement | undefined;
    if (atlas) { thumb = h("canvas"); drawTile(thumb, atlas, i, 3); }
    frame.showTip(x, y, lines, thumb);
    focused = i;
    link.focus(d);
  }

  /** Sample i's numbers in cell c: what the tooltip shows and the sample panel gets. */
  function sampleDetail(i: number, c: Cell) {
    const pred = c.get<Int32Array>("pred")[i];
    const theta = c.get(model.get("angle_to") === "pred" ? "angle_pred" : "angle")[i];
    return { index: i, id: data.ids[i], label: labels[i], pred, theta, rho: c.get("norm")[i], margin: c.get("margin")[i], names: meta.class_names };
  }

  // The sample hovered last, and the pick (cell and angle) its numbers are of: when the pick
  // changes, the tooltip goes (the point moved) and the sample panel gets the new cell's
  // numbers, or is cleared while the new cell is not drawn (never the old cell's numbers).
  let focused = -1;
  let focusKey = "";
  function refocus(): void {
    const key = `${model.get("model")},${model.get("layer")},${model.get("condition")},${model.get("angle_to")}`;
    const fresh = link.status() === ""; // the picked cell itself is drawn, not the last picture
    const next = fresh ? key : `${key} (not drawn)`;
    if (next === focusKey) return;
    const before = focusKey;
    focusKey = next;
    if (!before) return; // the first draw
    frame.hideTip();
    if (focused < 0) return;
    const c = fresh ? cell() : undefined;
    link.focus(c ? sampleDetail(focused, c) : { index: focused, id: data.ids[focused], cleared: true });
  }

  draw();
  // ---------------------------------------------------------------- controls
  // built after the first draw, so the GPU draws the points while the page builds them
  if (model.get("show_controls")) {
    const fields = meta.color_fields ?? ["class"];
    frame.bar.append(select("color", fields.map((f) => ({ value: f, text: f })), model.get("color_by"), (v) => { model.set("color_by", v); model.save_changes(); }));
    frame.bar.append(select("angle to", [{ value: "true", text: "true class" }, { value: "pred", text: "predicted" }], model.get("angle_to"), (v) => { model.set("angle_to", v as PolarTraits["angle_to"]); model.save_changes(); }));
    const lab = h("label", { class: "gw-picker" });
    const box = h("input", { type: "checkbox", "data-picker": "normalize" });
    box.checked = !!model.get("normalize");
    box.addEventListener("change", () => { model.set("normalize", box.checked); model.save_changes(); });
    lab.append(box, h("span", {}, "normalise ρ"));
    if (!positions) frame.bar.append(lab);
  }

  const handle: PolarHandle = {
    spec: () => current, layer, frame, draw, data, link,
    range: () => current ? { data: dataRange(current), sector: sectorOf(dataRange(current)), view: camera ? "free" : fit } : null,
  };
  (frame.root as unknown as { __geowidget: PolarHandle }).__geowidget = handle;
  return {
    handle,
    dispose() {
      link.dispose();
      layer.destroy();
      frame.destroy();
    },
  };
}

