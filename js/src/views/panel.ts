// The Explorer's sample panel: the focused sample's image, label, prediction, theta, rho, m.
// It owns the thumbnail atlas (sent once) and shares it with linked views' tooltips.

import { h } from "../dom";
import { linkView } from "../link";
import type { AnyModel, SampleTraits } from "../model";
import type { ViewContext } from "../context";
import { formatNumber } from "../scales";
import { paintTheme, resolveTheme, watchTheme } from "../theme";
import { drawTile } from "../thumbs";

/** SamplePanel's synced traits (geowidget/widgets/explorer.py): a sample view's. */
export type PanelTraits = SampleTraits;

export function renderPanel(model: AnyModel<PanelTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void } {
  const root = h("div", { class: "gw-root gw-panel" });
  root.dataset.kind = "panel";
  const img = h("canvas");
  const text = h("div", { class: "gw-panel-text" }, "hover a point to see the sample");
  const count = h("div", { class: "gw-panel-count" });
  root.append(img, h("div", {}), text, count);
  img.style.display = "none";
  el.append(root);
  const paint = () => paintTheme(root, resolveTheme(model.get("theme"), el));
  paint();
  const unwatch = watchTheme(paint);
  model.on("change:theme", paint);
  const link = linkView(model, {
    redraw: () => { count.textContent = `${link.selected().length} selected`; },
    onFocus: (d) => show(d),
    onSelect: (sel) => { root.dataset.selected = String(sel.length); },
  }, { invoke: ctx.invoke });
  const data = link.data;
  root.dataset.link = link.link;

  const show = (d: Record<string, unknown>) => {
    if (d.cleared) {
      // the view it was hovered in switched to a cell it does not draw yet: no old numbers
      img.style.display = "none";
      text.textContent = `sample ${d.id}: not in the shown cell yet; hover a point to see a sample`;
      delete root.dataset.focus;
      return;
    }
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
  count.textContent = `${link.selected().length} selected`;
  root.dataset.selected = String(link.selected().length);
  return { dispose() { unwatch(); model.off("change:theme", paint); link.dispose(); root.remove(); } };
}
