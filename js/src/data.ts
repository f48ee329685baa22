// Decoded view data shared by the sample views: metadata, arrays, labels, ids, thumbnails.

import { decode, encode, type Encoded, type WireArray } from "./codec";
import type { AnyModel, GeoTraits, SampleTraits } from "./model";
import type { Dims, Shape4 } from "./store";
import type { Atlas, AtlasInfo } from "./thumbs";

export interface Condition {
  label: string;
  sparsity: number;
  benchmark: string;
  severity: number;
}

export interface Meta {
  models: string[];
  layers: string[];
  conditions: Condition[];
  class_names: string[];
  shape: Shape4;
  lazy: boolean;
  /** The cells come from a live cube: computed by the kernel when first asked for (live.ts). */
  live?: boolean;
  slab?: Record<string, Dims>; // slab views: the per-cell arrays and their dims
  stand_ins?: Record<string, string>; // slab arrays not sent, and what stands in (store.ts)
  thumbs: AtlasInfo | null;
  color_fields?: string[];
  color_kinds?: Record<string, "categorical" | "continuous" | "diverging">;
  ids_start?: number | null;
  n?: number; // sample views: the number of samples
  [key: string]: unknown;
}

export interface ViewData {
  meta: Meta;
  arrays: Record<string, WireArray>;
  labels: Int32Array | Uint8Array;
  ids: Int32Array;
  atlas: Atlas | null;
}

export function readData(model: AnyModel<GeoTraits>): ViewData {
  const meta = (model.get("_meta") ?? {}) as Meta;
  const raw = (model.get("_arrays") ?? {}) as Record<string, Encoded>;
  const arrays: Record<string, WireArray> = {};
  for (const [k, v] of Object.entries(raw)) arrays[k] = decode(v).data;
  const labels = (arrays.labels as Int32Array | Uint8Array) ?? new Int32Array(0);
  const n = meta.shape ? meta.shape[3] : meta.n ?? labels.length;
  const atlas = meta.thumbs && arrays.atlas ? { info: meta.thumbs, data: arrays.atlas as Uint8Array } : null;
  // ids that are a range are made when first asked for (a selection, a hover), not before
  // the first frame
  let ids = (arrays.ids as Int32Array | undefined) ?? null;
  return {
    meta,
    arrays,
    labels,
    get ids() { return (ids ??= rangeIds(meta.ids_start ?? 0, n)); },
    atlas,
  };
}

/** Read `_meta` and `_arrays` anew into `data`, in place, so every holder of `data` sees
 * them: a live cube's views are sent new arrays as cells get computed (robustness, the layer
 * profile). */
export function refreshData(model: AnyModel<GeoTraits>, data: ViewData): void {
  const fresh = readData(model);
  Object.assign(data.meta, fresh.meta);
  Object.assign(data.arrays, fresh.arrays);
}

function rangeIds(start: number, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

/** Selected ids from the model's `selected` trait. */
export function readSelected(model: AnyModel<SampleTraits>): Int32Array {
  const v = model.get("selected");
  if (!v) return new Int32Array(0);
  const d = decode(v).data;
  return d instanceof Int32Array ? d : Int32Array.from(d);
}

export function writeSelected(model: AnyModel<Partial<Pick<SampleTraits, "selected">>>, ids: ArrayLike<number>): void {
  model.set("selected", encode(Int32Array.from(ids)));
  model.save_changes();
}

/** Benchmark label of a condition without the sparsity, e.g. "fog-3" or "clean". */
export function benchLabel(c: Pick<Condition, "benchmark" | "severity">): string {
  return c.benchmark === "clean" ? "clean" : `${c.benchmark}-${c.severity}`;
}

/** Condition index for (sparsity, benchmark label); where the grid has no such condition, the
 * one with that benchmark label at the nearest sparsity (the first of a tie). */
export function findCondition(conds: Condition[], sparsity: number, bench: string): number {
  let best = -1;
  conds.forEach((c, i) => {
    if (benchLabel(c) !== bench) return;
    if (best < 0 || Math.abs(c.sparsity - sparsity) < Math.abs(conds[best].sparsity - sparsity) - 1e-9) best = i;
  });
  return Math.max(0, best);
}

/** The decimals a sparsity is written with as a percent: the fewest (0 to 3) that keep every
 * two levels of the grid apart (0.409091 and 0.418182 read 40.9% and 41.8%, not 41% twice). */
export function sparsityDecimals(levels: ArrayLike<number>): number {
  const uniq = Array.from(new Set(Array.from(levels, (v) => +v.toPrecision(9))));
  for (let d = 0; d < 3; d++) {
    if (new Set(uniq.map((v) => (100 * v).toFixed(d))).size === uniq.length) return d;
  }
  return 3;
}

/** A sparsity as every view writes it (slider, pickers, table rows, messages): a percent
 * with the decimals of its grid (`sparsityDecimals`), e.g. "40.9%". */
export function sparsityText(v: number, levels: ArrayLike<number> = [v]): string {
  return `${(100 * v).toFixed(sparsityDecimals(levels))}%`;
}

/** The sparsity levels of a cube's conditions. */
export function sparsityLevels(conds: Condition[]): number[] {
  return Array.from(new Set(conds.map((c) => c.sparsity))).sort((a, b) => a - b);
}

/** A cell by its coordinates, for messages: "lenet · relu3 · sparsity 40.9% · gaussian_noise
 * severity 3" (never its indices). */
export function cellText(meta: Pick<Meta, "models" | "layers" | "conditions">, m: number, l: number, k: number): string {
  const c = meta.conditions[k];
  const where = c ? [`sparsity ${sparsityText(c.sparsity, sparsityLevels(meta.conditions))}`,
    c.benchmark === "clean" ? "clean" : `${c.benchmark} severity ${c.severity}`] : [`condition ${k}`];
  return [meta.models[m] ?? `model ${m}`, meta.layers[l] ?? `layer ${l}`, ...where].join(" · ");
}
