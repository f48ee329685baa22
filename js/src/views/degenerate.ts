// Cells whose features are zero or whose angle is undefined: the views say so above the plot
// instead of drawing nothing (a zero feature vector has norm 0, margin 0 and no angle).

import { h } from "../dom";
import type { Frame } from "../frame";
import { LOADING } from "../link";
import type { Cell } from "../store";

/** Counts of one cell: samples with a NaN angle, with a zero norm, and all samples. */
export interface Degenerate { undefinedAngle: number; zeroNorm: number; n: number }

export function countDegenerate(angle: ArrayLike<number>, norm: ArrayLike<number> | null): Degenerate {
  let undefinedAngle = 0, zeroNorm = 0;
  for (let i = 0; i < angle.length; i++) {
    if (Number.isNaN(angle[i])) undefinedAngle++;
    if (norm && norm[i] === 0) zeroNorm++;
  }
  return { undefinedAngle, zeroNorm, n: angle.length };
}

/** The sentence for one cell, or "" when every angle is defined. */
export function degenerateText(d: Degenerate, where: string): string {
  if (!d.undefinedAngle) return "";
  const some = (k: number) => (k === d.n ? `all ${d.n} samples` : `${k} of ${d.n} samples`);
  if (d.zeroNorm === d.undefinedAngle) {
    return `${where}: ${some(d.zeroNorm)} have zero features (norm 0), so the angle is undefined`;
  }
  const zero = d.zeroNorm ? ` (${some(d.zeroNorm)} have zero features, norm 0)` : "";
  return `${where}: the angle is undefined for ${some(d.undefinedAngle)}${zero}`;
}

/** "model at condition" for cell (m, k), the condition by its label ("clean@0.9"). */
export function cellName(meta: { models: string[]; conditions: { label: string }[] }, m: number, k: number): string {
  return `${meta.models[m] ?? m} at ${meta.conditions[k]?.label ?? k}`;
}

/** The sentence for a loaded cell (angle: the array the view draws as θ). */
export function cellNotice(cell: Cell | undefined, where: string, angle = "angle"): string {
  if (!cell || !cell.has(angle)) return "";
  return degenerateText(countDegenerate(cell.get(angle), cell.has("norm") ? cell.get("norm") : null), where);
}

/** Shows these sentences in a line above the plot (not over it, where it would hide bars),
 * or removes it when there are none. */
export function showDegenerate(frame: Frame, lines: string[]): void {
  let box = frame.root.querySelector<HTMLDivElement>(":scope > .gw-degenerate");
  const text = lines.filter(Boolean);
  if (!text.length) { box?.remove(); return; }
  if (!box) {
    box = h("div", { class: "gw-degenerate", role: "status" });
    // inline: the stylesheet belongs to the theme; the line reads on either theme
    Object.assign(box.style, { fontSize: "11px", color: "var(--gw-fg)", padding: "2px 4px", margin: "2px 0",
      borderLeft: "3px solid var(--gw-muted)" });
    frame.root.insertBefore(box, frame.plot);
  }
  box.replaceChildren(...text.map((t) => h("div", {}, t)));
  box.dataset.degenerate = String(text.length);
}

/** The shown cell is not there: `text` (link.status()) says why. Once it failed (or the page
 * cannot have it) the plot is emptied, so no earlier cell's marks stay under the new labels;
 * while it is on its way from the kernel (LOADING, a moment) the picture stays under the
 * message, so stepping through cells does not flash an empty plot. `clear` empties the
 * view's canvas. */
export function showUnavailable(frame: Frame, text: string, clear: () => void): void {
  frame.message(text);
  if (text === LOADING) return;
  clear();
  frame.overlay.replaceChildren();
  frame.legend.replaceChildren();
  frame.hideTip();
  showDegenerate(frame, []);
  frame.root.dataset.unavailable = "true";
}

/** The shown cell is drawn again (the counterpart of showUnavailable). */
export function showAvailable(frame: Frame): void {
  frame.message("");
  delete frame.root.dataset.unavailable;
}
