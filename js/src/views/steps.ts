// Step slider: play a training run through its checkpoints, in the browser.
//
// A run is the cube's models whose model_info has the same `run`, ordered by `step` (what
// GeometryTracker and a Study over checkpoints record). The slider and its play / pause
// button set the view's `model` to the run's checkpoint at that step; the cells of every
// model are already in the page (or fetched like any picked cell), so the points move with
// no kernel round trip. While playing, the kernel is told only when the playback stops.

import type { Meta } from "../data";
import { h } from "../dom";
import { levelSlider } from "../live";
import type { AnyModel, SlabTraits } from "../model";

export interface Run {
  name: string;
  steps: number[];
  /** Model index of each step. */
  models: number[];
}

/** The training runs among the models (two or more steps each), in first-seen order. */
export function runsOf(meta: Meta): Run[] {
  const info = (meta.model_info as Record<string, string>[] | undefined) ?? [];
  const byName = new Map<string, { step: number; model: number }[]>();
  info.forEach((d, i) => {
    if (d?.run === undefined || d?.step === undefined) return;
    const step = Number(d.step);
    if (!Number.isFinite(step)) return;
    if (!byName.has(d.run)) byName.set(d.run, []);
    byName.get(d.run)!.push({ step, model: i });
  });
  const out: Run[] = [];
  for (const [name, members] of byName) {
    if (members.length < 2) continue;
    members.sort((a, b) => a.step - b.step);
    out.push({ name, steps: members.map((m) => m.step), models: members.map((m) => m.model) });
  }
  return out;
}

export interface StepSlider {
  /** Show step position `i` of the current run (clamped). */
  go(i: number): void;
  play(): void;
  pause(): void;
  readonly playing: boolean;
  dispose(): void;
}

/** The run that model `m` belongs to, and its position there; null for a model of no run. */
export function runAt(runs: Run[], m: number): { run: Run; i: number } | null {
  const run = runs.find((r) => r.models.includes(m));
  return run ? { run, i: run.models.indexOf(m) } : null;
}

/** A step slider with play / pause (a `levelSlider` over the run's steps), put in the bar by
 * `place` (appended by default), or null when no model belongs to a run. */
export function stepSlider(model: AnyModel<SlabTraits>, meta: Meta, bar: HTMLElement, intervalMs = 500,
  place: (node: HTMLElement) => void = (node) => bar.append(node)): StepSlider | null {
  const runs = runsOf(meta);
  if (!runs.length) return null;
  const wrap = h("span", { class: "gw-picker gw-steps" });
  const button = h("button", { type: "button", "data-step-play": "", title: "play the run through its steps",
    "aria-label": "play the run through its steps" }, "▶");
  const slider = levelSlider("step", runs[0].steps, runs[0].steps[0], (step) => {
    const cur = current();
    if (cur) show(cur.run.steps.indexOf(step), false);
  });
  const range = slider.input;
  wrap.append(button, slider.node);
  place(wrap);

  let timer: ReturnType<typeof setInterval> | null = null;

  function current(): { run: Run; i: number } | null {
    return runAt(runs, model.get("model") as number);
  }

  function sync(): void {
    const cur = current();
    wrap.classList.toggle("off", !cur);
    range.disabled = !cur;
    button.disabled = !cur;
    if (!cur) { pause(); return; }
    slider.setLevels(cur.run.steps, cur.run.steps[cur.i]);
    wrap.dataset.step = String(cur.run.steps[cur.i]);
  }

  function show(i: number, save: boolean): void {
    const cur = current();
    if (!cur) return;
    const j = Math.max(0, Math.min(cur.run.models.length - 1, Math.round(i)));
    model.set("model", cur.run.models[j]); // the view redraws from the local change
    if (save) model.save_changes();
  }

  function pause(): void {
    if (timer === null) return;
    clearInterval(timer);
    timer = null;
    button.textContent = "▶";
    button.setAttribute("aria-label", "play the run through its steps");
    wrap.dataset.playing = "false";
    model.save_changes();
  }

  function play(): void {
    const cur = current();
    if (!cur || timer !== null) return;
    if (cur.i >= cur.run.models.length - 1) show(0, false); // from the start again
    button.textContent = "❚❚";
    button.setAttribute("aria-label", "pause");
    wrap.dataset.playing = "true";
    timer = setInterval(() => {
      const now = current();
      if (!now || now.i >= now.run.models.length - 1) { pause(); return; }
      show(now.i + 1, false);
    }, intervalMs);
  }

  button.addEventListener("click", (e) => { e.preventDefault(); if (timer === null) play(); else pause(); });
  range.addEventListener("change", () => { pause(); show(Number(range.value), true); });
  const onModel = () => sync();
  model.on("change:model", onModel);
  sync();

  return {
    go: (i: number) => show(i, true),
    play,
    pause,
    get playing() { return timer !== null; },
    dispose() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      model.off("change:model", onModel);
      wrap.remove();
    },
  };
}
