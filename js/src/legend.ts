// Legend pieces shared by the views: a colour bar for continuous colour fields, and one
// item per class for categorical colours.

import { categorical, diverging, viridis, type ScaleKind } from "./colors";
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

/** One item per class: its swatch in `palette` and "name (count)". With `shown` non-empty, the
 * classes left out are drawn off; clicking an item toggles its class in or out. */
export function classLegend(names: string[], counts: ArrayLike<number>, palette: string[], shown: number[], onToggle: (next: number[]) => void): HTMLElement[] {
  return names.map((name, c) => {
    const on = !shown.length || shown.includes(c);
    const it = h("span", { class: on ? "item" : "item off", "data-class": String(c), role: "button", title: `show or hide ${name}` });
    const sw = h("span", { class: "sw" });
    const col = categorical(c, palette);
    sw.style.background = `rgb(${col[0]},${col[1]},${col[2]})`;
    it.append(sw, h("span", {}, `${name} (${counts[c] ?? 0})`));
    it.addEventListener("click", () => {
      const base = shown.length ? shown : names.map((_, i) => i);
      const next = base.includes(c) ? base.filter((i) => i !== c) : [...base, c].sort((a, b) => a - b);
      onToggle(next.length === names.length ? [] : next);
    });
    return it;
  });
}
