// ModelMap: one point per model (or model at a sparsity level, or benchmark), placed by a 2-D
// layout of the model geometric embedding, with minimum-spanning-tree edges. Clicking a point
// makes it the active model in the linked views.

import { categorical, extent, paletteFor } from "../colors";
import { s, select } from "../dom";
import { Frame } from "../frame";
import { linkView } from "../link";
import type { AnyModel, GeoTraits } from "../model";
import { attachPng } from "../png";
import { placeLabels, type LabelRequest, type Segment } from "../labels";
import { accuracyLegend, colorBar } from "../legend";
import { PointLayer, pointScreen, type DrawSpec } from "../points";
import type { ViewContext } from "../context";
import { accuracyDomain, formatNumber, formatPercent, pan, xyCamera, zoomAt, type Camera } from "../scales";
import { nearest } from "../selection";

/** ModelMap's synced traits (geowidget/widgets/modelmap.py). */
export interface ModelMapTraits extends GeoTraits {
  color_by: string;
  /** The point picked, -1 for none. */
  active: number;
  palette: string[];
}

interface MapMeta {
  names: string[];
  color_fields: string[];
  color_kinds: Record<string, "categorical" | "continuous">;
  category_names: Record<string, string[]>;
}

export function renderModelMap(model: AnyModel<ModelMapTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  const link = linkView(model, {
    redraw: () => draw(),
    // a point stands for a model (and a condition): follow the picks of linked views
    onPick: (detail) => {
      if (typeof detail.model !== "number") return true;
      let best = -1;
      for (let i = 0; i < P; i++) {
        if (arr.pm?.[i] !== detail.model) continue;
        if (typeof detail.condition === "number" && arr.pk && arr.pk[i] >= 0 && arr.pk[i] !== detail.condition) continue;
        best = i; break;
      }
      if (best >= 0 && best !== model.get("active")) { model.set("active", best); model.save_changes(); }
      return true;
    },
    onError: (msg) => frame.notice(msg),
  }, { invoke: ctx.invoke, redrawOn: ["color_by", "active", "palette"] });
  const meta = link.data.meta as unknown as MapMeta;
  const arr = link.data.arrays;
  const x = arr.x as Float32Array, y = arr.y as Float32Array;
  const P = x ? x.length : 0;
  const edges = (arr.edges as Int32Array) ?? new Int32Array(0);
  let camera: Camera | null = null;
  const measure = document.createElement("canvas").getContext("2d")!;
  let spec: DrawSpec | null = null;
  const uid = Math.random().toString(36).slice(2);

  const frame = new Frame(el, model.get("theme"), model.get("height"), {
    onZoom: (f, px, py) => { camera = zoomAt(camera ?? fit(), f, px, py); schedule(); },
    onPan: (dx, dy) => { camera = pan(camera ?? fit(), dx, dy); schedule(); },
    onClick: (px, py) => {
      if (!spec) return;
      const i = nearest(P, (j) => pointScreen(spec!, j), px, py, 10);
      if (i >= 0) activate(i);
    },
    onHover: (px, py) => {
      if (!spec) return;
      const i = nearest(P, (j) => pointScreen(spec!, j), px, py, 10);
      if (i < 0) { frame.hideTip(); return; }
      const lines = [meta.names[i]];
      for (const f of meta.color_fields) {
        const v = arr[`c_${f}`]?.[i];
        if (v === undefined) continue;
        if (f === "robustness" && !Number.isFinite(v)) { lines.push(`robustness: ${notEvaluated}`); continue; }
        lines.push(meta.color_kinds[f] === "categorical" ? `${f}: ${meta.category_names[f]?.[v] ?? v}`
          : `${f}: ${f === "accuracy" ? formatPercent(v) : formatNumber(v)}`);
      }
      frame.showTip(px, py, lines);
    },
    onResize: () => { camera = null; layer.resize(frame.width, frame.height, frame.dpr); schedule(); },
    onTheme: () => schedule(),
  }, ["pan"]);
  frame.root.dataset.kind = "modelmap";
  frame.root.dataset.link = link.link;
  const layer = new PointLayer(frame.canvas, ctx);
  layer.resize(frame.width, frame.height, frame.dpr);
  if (model.get("show_controls") && meta.color_fields.length) {
    frame.bar.prepend(select("color", meta.color_fields.map((f) => ({ value: f, text: f })), model.get("color_by"), (v) => { model.set("color_by", v); model.save_changes(); }));
  }

  function fit(): Camera {
    return xyCamera(frame.width, frame.height, x ?? [], y ?? []);
  }

  function schedule(): void {
    frame.requestDraw(draw);
  }

  function activate(i: number): void {
    model.set("active", i);
    model.save_changes();
    const pm = arr.pm?.[i] ?? -1, pk = arr.pk?.[i] ?? -1;
    const detail: Record<string, unknown> = {};
    if (pm >= 0) detail.model = pm;
    if (pk >= 0) detail.condition = pk;
    link.pick(detail);
  }

  // a point whose robustness is NaN: the cube has no corruptions at its sparsity (or no model)
  // (a live cube's map: or not computed yet, as the kernel says)
  const classes = Number(link.data.meta.classes); // NaN without a cube: the accuracy scale is [0, 1]
  const notEvaluated = (link.data.meta.robustness_missing as string | undefined) ?? "not evaluated (no corruptions at this point's sparsity)";

  function draw(): void {
    frame.setThemeSetting(model.get("theme"));
    layer.resize(frame.width, frame.height, frame.dpr);
    if (P === 0) { layer.draw(emptySpec(), frame.theme.bg); frame.message("no models to show"); return; }
    frame.message("");
    const field = model.get("color_by") as string;
    const val = arr[`c_${field}`] as Float32Array | undefined;
    const kind = meta.color_kinds[field];
    const cam = camera ?? fit();
    const active = model.get("active") as number;
    const sel = new Uint8Array(P);
    if (active >= 0 && active < P) sel[active] = 1;
    spec = {
      n: P, polar: false, rscale: 1,
      x: { key: "x", data: x, offset: 0 }, y: { key: "y", data: y, offset: 0 },
      label: null, cat: null,
      val: val ? { key: `c_${field}`, data: val, offset: 0 } : null,
      sel: active >= 0 ? sel : null,
      mode: kind === "categorical" ? "custom-category" : "continuous",
      scale: "continuous",
      // accuracy on the table's scale (chance to 100 %), so one colour is one accuracy in both
      domain: field === "accuracy" ? accuracyDomain(classes) : val ? extent(val) : [0, 1],
      palette: paletteFor(model.get("palette") as string[], frame.theme),
      classVisible: new Uint8Array([1]),
      camera: cam, size: 10, ok: "#4477AA", bad: "#EE6677",
    };
    if (!val) { spec.mode = "custom-category"; spec.val = { key: "zeros", data: new Float32Array(P), offset: 0 }; }
    layer.draw(spec, frame.theme.bg);
    const g = frame.overlay;
    g.replaceChildren();
    // trajectories (e.g. one model as sparsity grows), with an arrow at the end
    const defs = s("defs");
    const marker = s("marker", { id: `gw-arrow-${uid}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(s("path", { d: "M0,0L10,5L0,10z", fill: frame.theme.fg }));
    defs.append(marker);
    g.append(defs);
    const paths = (arr.paths as Int32Array) ?? new Int32Array(0);
    let run: string[] = [];
    const lines: Segment[] = []; // what the labels keep off
    let prev: [number, number] | null = null;
    for (let j = 0; j < paths.length; j++) {
      if (paths[j] < 0) {
        if (run.length > 1) g.append(s("path", { class: "gw-traj", d: `M${run.join("L")}`, fill: "none", stroke: frame.theme.fg, "stroke-width": 1.5, "marker-end": `url(#gw-arrow-${uid})` }));
        run = [];
        prev = null;
        continue;
      }
      const q = pointScreen(spec, paths[j]);
      if (q) { run.push(`${q[0]},${q[1]}`); if (prev) lines.push([prev[0], prev[1], q[0], q[1]]); prev = [q[0], q[1]]; }
    }
    for (let e = 0; e + 1 < edges.length; e += 2) {
      const a = pointScreen(spec, edges[e]), b = pointScreen(spec, edges[e + 1]);
      if (a && b) {
        // from ring to ring: an edge over a dot would hide its colour
        const len = Math.hypot(b[0] - a[0], b[1] - a[1]), cut = spec.size / 2 + 1.1;
        if (len > 2 * cut) {
          const ux = ((b[0] - a[0]) / len) * cut, uy = ((b[1] - a[1]) / len) * cut;
          g.append(s("line", { x1: a[0] + ux, y1: a[1] + uy, x2: b[0] - ux, y2: b[1] - uy, stroke: frame.theme.muted, "stroke-width": 1.2 }));
        }
        lines.push([a[0], a[1], b[0], b[1]]);
      }
    }
    // a ring around each dot in the page's text colour: a dark dot on a dark page and a light
    // one on a white page stay visible
    for (let i = 0; i < P; i++) {
      const q = pointScreen(spec, i);
      if (q) g.append(s("circle", { class: "gw-dot-ring", cx: q[0], cy: q[1], r: spec.size / 2 + 0.5, fill: "none", stroke: frame.theme.fg, "stroke-width": 1.2 }));
    }
    drawLabels(g, active, lines);
    frame.legend.replaceChildren();
    if (kind === "categorical" && val) {
      (meta.category_names[field] ?? []).forEach((name, c) => {
        const it = document.createElement("span"); it.className = "item";
        const sw = document.createElement("span"); sw.className = "sw";
        const rgb = categorical(c, spec!.palette); sw.style.background = `rgb(${rgb.join(",")})`;
        const t = document.createElement("span"); t.textContent = name;
        it.append(sw, t); frame.legend.append(it);
      });
    } else if (val && field === "accuracy") {
      frame.legend.append(...accuracyLegend(spec.domain, classes));
    } else if (val) {
      frame.legend.append(colorBar(field, spec.domain, "continuous"));
    }
    let unset = 0;
    if (field === "robustness" && val) for (let i = 0; i < P; i++) if (!Number.isFinite(val[i])) unset++;
    if (unset) {
      const note = document.createElement("span"); note.className = "gw-note"; note.dataset.robust = "not-evaluated";
      note.textContent = `${unset} point${unset > 1 ? "s" : ""}: robustness ${notEvaluated}`;
      frame.legend.append(note);
    }
    const based = link.data.meta.note as string | undefined; // a live cube's map: what it is placed by
    if (based) {
      const note = document.createElement("span"); note.className = "gw-note"; note.dataset.live = "based-on";
      note.textContent = based;
      frame.legend.append(note);
    }
    frame.root.dataset.drawn = String(Number(frame.root.dataset.drawn ?? "0") + 1);
  }

  // Names next to their points where they fit (labels.ts), the active model's first, then in
  // order; the others show on hover. The root counts them in data-labels-hidden.
  function drawLabels(g: SVGGElement, active: number, lines: Segment[]): void {
    const family = getComputedStyle(frame.svg).fontFamily || "sans-serif";
    measure.font = `10px ${family}`;
    const bold = `bold 10px ${family}`;
    const requests: LabelRequest[] = meta.names.map((name, i) => {
      const p = pointScreen(spec!, i) ?? [NaN, NaN];
      if (i === active) measure.font = bold;
      const w = measure.measureText(name).width;
      if (i === active) measure.font = `10px ${family}`;
      return { x: p[0], y: p[1], w, h: 12, r: spec!.size / 2 };
    });
    const order = Array.from({ length: P }, (_, i) => i);
    if (active >= 0 && active < P) order.sort((a, b) => (a === active ? -1 : b === active ? 1 : a - b));
    const placed = placeLabels(requests, order, { x: 0, y: 0, w: frame.width, h: frame.height }, [active], lines);
    let hidden = 0;
    placed.forEach((pl, i) => {
      if (!pl) { hidden++; return; }
      g.append(s("text", { x: pl.tx, y: pl.ty, class: "gw-label", "font-weight": i === active ? "bold" : "normal" }, meta.names[i]));
    });
    frame.root.dataset.labelsHidden = String(hidden);
  }

  function emptySpec(): DrawSpec {
    const z = new Float32Array(0);
    return { n: 0, polar: false, rscale: 1, x: { key: "e", data: z, offset: 0 }, y: { key: "e", data: z, offset: 0 }, label: null, cat: null, val: null, sel: null, mode: "category", scale: "continuous", domain: [0, 1], palette: [], classVisible: new Uint8Array(1), camera: { scale: 1, ox: 0, oy: 0 }, size: 3, ok: "#000000", bad: "#000000" };
  }

  draw();
  const detachPng = attachPng(model, frame, draw);
  return {
    dispose() {
      detachPng(); link.dispose(); layer.destroy(); frame.destroy();
    },
  };
}
