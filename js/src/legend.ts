// Legend pieces shared by the views: a colour bar for continuous colour fields.

import { diverging, viridis, type ScaleKind } from "./colors";
import { h } from "./dom";
import { formatNumber } from "./scales";

/** "label lo [bar] hi": the continuous map over `domain` (the diverging map for "diverging"). */
export function colorBar(label: string, domain: [number, number], scale: ScaleKind, width = 160): HTMLElement {
  const wrap = h("span", { class: "gw-colorbar-wrap" });
  const bar = h("canvas", { class: "gw-colorbar", width: String(width), height: "10" });
  const ctx = bar.getContext("2d");
  if (ctx) {
    const map = scale === "diverging" ? diverging : viridis;
    for (let x = 0; x < width; x++) {
      const c = map(x / (width - 1));
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.fillRect(x, 0, 1, 10);
    }
  }
  wrap.append(h("span", {}, `${label} ${formatNumber(domain[0])}`), bar, h("span", {}, formatNumber(domain[1])));
  return wrap;
}
