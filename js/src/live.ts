// Live cubes in the browser: the kernel computes a cell the first time a view asks for it.
// While it computes, the view keeps its last picture under a thin progress line (never a blank
// plot, and never an older pick once a newer one is drawn); a request that a newer pick
// superseded is answered "superseded", which is not an error of the cell (it can be asked
// again). A long grid of sparsities is picked with a slider instead of a list (views/pickers.ts
// also slides over severities and a checkpoint run's steps).

import { h } from "./dom";

/** At this many sparsity levels or more, the sparsity picker is a slider. */
export const SLIDER_AT = 8;

/** An error for a request that a newer pick superseded; the slice store does not remember
 * it as the cell's error. */
export class Superseded extends Error {
  readonly superseded = true;
}

export function isSuperseded(err: unknown): boolean {
  return !!err && typeof err === "object" && (err as { superseded?: unknown }).superseded === true;
}

/** The cell shown while the current one is computed: the last one drawn (see the header). */
export class LastPicture<T> {
  private last: T | undefined;

  /** `current` when it is there (and remember it); else the last one drawn, or undefined when
   * the current cell failed (its error is then shown). `pending` is told which it was. */
  pick(current: T | undefined, failed: boolean, pending: (on: boolean) => void): T | undefined {
    if (current !== undefined) {
      this.last = current;
      pending(false);
      return current;
    }
    pending(!failed && this.last !== undefined);
    return failed ? undefined : this.last;
  }
}

/** Show or hide the thin progress line of a view's root. */
export function progressLine(root: HTMLElement, on: boolean): void {
  if (on) root.dataset.computing = "true";
  else delete root.dataset.computing;
}

export interface Slider {
  node: HTMLLabelElement;
  input: HTMLInputElement;
  /** Move the thumb to `value` (the nearest level) without calling back. */
  set(value: number): void;
  /** Slide over other `levels` (another benchmark's severities), at the one nearest `value`,
   * without calling back. */
  setLevels(levels: number[], value: number): void;
}

/** A level as the slider shows it: float noise dropped (0.30000001 reads 0.3). */
export function levelText(v: number): string {
  return String(+v.toPrecision(6));
}

/** The position in `levels` of the level nearest `v` (the first of a tie). */
export function nearestLevel(levels: number[], v: number): number {
  return levels.reduce((best, x, i) => (Math.abs(x - v) < Math.abs(levels[best] - v) ? i : best), 0);
}

/** A slider over `levels` (ascending); `onChange` gets the level picked, on every move. Only
 * levels of the grid can be picked, one step per arrow key; the level shows beside the thumb,
 * written by `text` (a sparsity as a percent, data.ts's sparsityText), in a box as wide as
 * the widest level's text, so the controls after it never move, and is what a screen reader
 * reads (`aria-valuetext`). */
export function levelSlider(label: string, levels: number[], value: number, onChange: (v: number) => void,
  text: (v: number) => string = levelText): Slider {
  const wrap = h("label", { class: "gw-picker gw-slider" });
  const input = h("input", { type: "range", min: "0", step: "1" }) as HTMLInputElement;
  input.setAttribute("data-picker", label);
  input.setAttribute("aria-label", label); // named even where a host restyles or drops the <label>
  const shown = h("span", { class: "gw-slider-value", "aria-hidden": "true" });
  let grid = levels;
  const show = (i: number) => {
    input.value = String(i);
    shown.textContent = text(grid[i]);
    input.setAttribute("aria-valuetext", `${label} ${shown.textContent}`);
  };
  const setLevels = (next: number[], v: number) => {
    grid = next;
    input.max = String(Math.max(0, grid.length - 1));
    input.style.width = `${Math.min(160, 40 + 16 * grid.length)}px`; // a few levels: a short track
    // digits are tabular (the stylesheet), so a width in ch fits every level's text
    shown.style.minWidth = `${Math.max(1, ...grid.map((x) => text(x).length))}ch`;
    show(nearestLevel(grid, v));
  };
  setLevels(levels, value);
  input.addEventListener("input", () => {
    show(+input.value);
    onChange(grid[+input.value]);
  });
  wrap.append(h("span", {}, label), input, shown);
  return { node: wrap, input, set: (v) => show(nearestLevel(grid, v)), setLevels };
}
