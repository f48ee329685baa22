// The Explorer's sample panel: the focused sample's image, label, prediction, theta, rho, m.
// It owns the thumbnail atlas (sent once) and shares it with linked views' tooltips.

import { publish, subscribe, type BusEvent } from "../bus";
import { readData, readSelected } from "../data";
import { ensureStyle, h } from "../dom";
import type { Model } from "../model";
import { formatNumber } from "../scales";
import { drawTile } from "../thumbs";

export function renderPanel(model: Model, el: HTMLElement): { dispose(): void } {
  ensureStyle(el);
  const data = readData(model);
  const link = String(model.get("_link") ?? "");
  const root = h("div", { class: "gw-root gw-panel" });
  root.dataset.kind = "panel";
  const img = h("canvas");
  const text = h("div", { class: "gw-panel-text" }, "hover a point to see the sample");
  const count = h("div", { class: "gw-panel-count" });
  root.append(img, h("div", {}), text, count);
  img.style.display = "none";
  el.append(root);
  if (data.atlas) publish(link, { type: "atlas", source: null, detail: data.atlas as unknown as Record<string, unknown> });

  const show = (d: Record<string, unknown>) => {
    const names = (d.names as string[]) ?? data.meta.class_names;
    const i = d.index as number;
    if (data.atlas && i >= 0) { img.style.display = "block"; drawTile(img, data.atlas, i, 4); }
    text.textContent = [
      `sample ${d.id}`,
      `label: ${names[d.label as number] ?? d.label}`,
      `prediction: ${names[d.pred as number] ?? d.pred}`,
      `θ = ${formatNumber(((d.theta as number) * 180) / Math.PI)}°`,
      `ρ = ${formatNumber(d.rho as number)}`,
      `m = ${formatNumber(d.margin as number)}`,
    ].join("\n");
    text.style.whiteSpace = "pre";
    root.dataset.focus = String(d.id);
  };
  const onSel = () => { count.textContent = `${readSelected(model).length} selected`; };
  const listener = (e: BusEvent) => {
    if (e.type === "focus") show(e.detail);
    if (e.type === "select") count.textContent = `${(e.detail.ids as Int32Array).length} selected`;
  };
  const unsub = subscribe(link, listener);
  model.on("change:selected", onSel);
  onSel();
  return { dispose() { unsub(); model.off("change:selected", onSel); root.remove(); } };
}
