// Legend pieces shared by the views: a colour bar for continuous colour fields, and one
// item per class for categorical colours.

import { categorical, diverging, viridis, type ScaleKind } from "./colors";
import { h } from "./dom";
import { formatNumber, formatPercent } from "./scales";

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

/** The accuracy scale's legend, the same in every view that colours by accuracy (the table,
 * the model map): "accuracy: chance (10.0%) [bar] 100%" over `domain` (scales.ts
 * accuracyDomain), or "accuracy: 0% [bar] 100%" when the number of classes is unknown. */
export function accuracyLegend(domain: [number, number], classes: number): HTMLElement[] {
  const bar = h("canvas", { class: "gw-colorbar", width: "120", height: "10" });
  const c2 = bar.getContext("2d");
  if (c2) for (let x = 0; x < 120; x++) { const c = viridis(x / 119); c2.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; c2.fillRect(x, 0, 1, 10); }
  const chance = domain[0] > 0;
  const scale = h("span", { "data-scale": "accuracy" }, chance ? `accuracy: chance (${formatPercent(domain[0])})` : "accuracy: 0%");
  scale.title = chance ? `The colour runs from chance (1 in ${classes} classes; accuracies below it take its colour) to 100%: the same in every view of this cube, and as cells get computed`
    : "The colour runs from 0% to 100%";
  return [scale, bar, h("span", {}, "100%")]; // domain[1] is always 1
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
