// AttributionView: occlusion maps of the change in angle (Δθ) or margin (Δm) for one sample,
// as a diverging heatmap over the input image.

import { diverging, extent, symmetric } from "../colors";
import { decode, type Encoded } from "../codec";
import { h, select } from "../dom";
import { linkView } from "../link";
import type { AnyModel, SampleTraits } from "../model";
import type { ViewContext } from "../context";
import { formatNumber } from "../scales";
import { resolveTheme } from "../theme";

/** AttributionView's synced traits (geowidget/widgets/attribution.py). */
export interface AttributionTraits extends SampleTraits {
  sample: number;
  patch: number;
  stride: number;
  field: "angle" | "margin";
  opacity: number;
  scale: number;
}

export function renderAttribution(model: AnyModel<AttributionTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  const root = h("div", { class: "gw-root" });
  root.dataset.kind = "attribution";
  const bar = h("div", { class: "gw-bar" });
  const canvas = h("canvas");
  canvas.style.imageRendering = "pixelated";
  const info = h("div", { class: "gw-attr-info" });
  info.style.whiteSpace = "pre";
  const legend = h("div", { class: "gw-legend" });
  const note = h("div", { class: "gw-notice", role: "status" });
  root.append(bar, note, canvas, info, legend);
  el.append(root);
  const link = linkView(model, {
    redraw: draw,
    onError: (msg) => { note.textContent = msg; },
    onSelect: (sel) => { root.dataset.selected = String(sel.length); },
  }, { invoke: ctx.invoke, redrawOn: ["_arrays", "field", "opacity", "scale"] });
  root.dataset.link = link.link;
  root.dataset.selected = String(link.selected().length);

  bar.append(select("map", [{ value: "angle", text: "Δθ (degrees)" }, { value: "margin", text: "Δm" }], model.get("field"), (v) => { model.set("field", v as AttributionTraits["field"]); model.save_changes(); }));
  const num = (key: "patch" | "stride", label: string) => {
    const wrap = h("label", { class: "gw-picker" });
    const inp = h("input", { type: "number", min: "1", step: "1", "data-picker": key });
    inp.value = String(model.get(key));
    inp.style.width = "4em";
    inp.addEventListener("change", () => { model.set(key, Math.max(1, Math.round(+inp.value))); model.save_changes(); root.dataset.pending = "1"; });
    wrap.append(h("span", {}, label), inp);
    bar.append(wrap);
  };
  num("patch", "patch");
  num("stride", "stride");

  function draw(): void {
    const theme = resolveTheme(model.get("theme"), el);
    root.style.setProperty("--gw-bg", theme.bg); root.style.setProperty("--gw-fg", theme.fg);
    root.style.setProperty("--gw-grid", theme.grid); root.style.color = theme.fg;
    const raw = (model.get("_arrays") ?? {}) as Record<string, Encoded>;
    const meta = model.get("_meta") as Record<string, unknown>;
    if (!raw.image || !raw.delta) { info.textContent = "no sample"; return; }
    const img = decode(raw.image);
    const delta = decode(raw.delta);
    const [H, W] = img.shape;
    const field = model.get("field") === "margin" ? 1 : 0;
    const map = (delta.data as Float32Array).subarray(field * H * W, (field + 1) * H * W);
    const dom = symmetric(extent(map));
    const scale = Math.max(1, Math.floor(model.get("scale") ?? 10));
    canvas.width = W; canvas.height = H;
    canvas.style.width = `${W * scale}px`; canvas.style.height = `${H * scale}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const px = new ImageData(W, H);
    const alpha = model.get("opacity") ?? 0.6;
    for (let i = 0; i < H * W; i++) {
      const g = img.data[i];
      const t = (map[i] - dom[0]) / (dom[1] - dom[0]);
      const c = Number.isFinite(map[i]) ? diverging(t) : [g, g, g];
      px.data[i * 4] = Math.round(g * (1 - alpha) + c[0] * alpha);
      px.data[i * 4 + 1] = Math.round(g * (1 - alpha) + c[1] * alpha);
      px.data[i * 4 + 2] = Math.round(g * (1 - alpha) + c[2] * alpha);
      px.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(px, 0, 0);
    const names = (meta.class_names as string[]) ?? [];
    info.textContent = [
      `sample ${meta.sample_id}  label: ${names[meta.label as number] ?? meta.label}  prediction: ${names[meta.base_pred as number] ?? meta.base_pred}`,
      `θ = ${formatNumber(meta.base_angle_deg as number)}°  m = ${formatNumber(meta.base_margin as number)}  patch ${meta.patch}, stride ${meta.stride}`,
    ].join("\n");
    legend.replaceChildren(h("span", {}, `${field ? "Δm" : "Δθ"}: ${formatNumber(dom[0])} (red) … 0 … ${formatNumber(dom[1])} (blue)`));
    root.dataset.pending = "";
    root.dataset.drawn = String(Number(root.dataset.drawn ?? "0") + 1);
  }
  draw();
  return { dispose() { link.dispose(); root.remove(); } };
}
