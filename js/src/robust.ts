// Robustness is a score of a (model, sparsity): the views get it once as [M, S, N] over
// meta.robust_levels.sparsities, and the shown condition k reads the level of its own sparsity
// (level[k]), so that a pruned model is coloured by its own robustness, never the dense one's.

import { sparsityLevels, sparsityText, type Meta } from "./data";

export interface RobustLevels {
  sparsities: number[];
  level: number[]; // per condition: the index of its sparsity in `sparsities`
  evaluated: boolean[]; // per level: whether the cube has corrupted conditions there
  // a live cube: per model and level whether it is computed, the cells still asked for
  // (the shown model and level's), and the first error
  computed?: boolean[][];
  computing?: number;
  failed?: string;
}

/** Where the shown (model, condition)'s robustness starts in an [M, S, N] array. */
export function robustOffset(meta: Meta, model: number, condition: number, n: number): number {
  const r = meta.robust_levels as RobustLevels | undefined;
  if (!r) return model * n;
  return (model * r.sparsities.length + (r.level[condition] ?? 0)) * n;
}

/** Why the shown model's robustness at the shown condition's sparsity is not there: the cube
 * has no corrupted condition there, or (a live cube) it failed, is being computed, or is not
 * computed; null when it is there. */
export type RobustState = "not evaluated" | "failed" | "computing" | "not computed";

export function robustState(meta: Meta, condition: number, model = 0): RobustState | null {
  const r = meta.robust_levels as RobustLevels | undefined;
  if (!r) return null;
  const j = r.level[condition];
  if (j == null) return null;
  if (!r.evaluated[j]) return "not evaluated";
  if (!r.computed || r.computed[model]?.[j]) return null;
  if (r.failed) return "failed";
  return r.computing ? "computing" : "not computed";
}

/** What a view says when the shown model's robustness at the shown condition's sparsity is
 * not there (its values are all NaN), see robustState; null when it is there. */
export function robustNote(meta: Meta, condition: number, model = 0): string | null {
  const state = robustState(meta, condition, model);
  if (!state) return null;
  const r = meta.robust_levels as RobustLevels;
  const s = r.sparsities[r.level[condition]];
  if (state === "not evaluated") return `robustness: not evaluated at sparsity ${sparsityText(s, sparsityLevels(meta.conditions))} (no corruptions there; a Study with grid="full" corrupts every sparsity)`;
  if (state === "failed") return `robustness: not computed, ${r.failed}`;
  if (state === "computing") return `robustness: computing (${r.computing} corrupted condition${r.computing! > 1 ? "s" : ""} to go)…`;
  return `robustness: not computed yet for ${meta.models[model] ?? "this model"} at sparsity ${sparsityText(s, sparsityLevels(meta.conditions))} (a live cube; it needs every corrupted condition there)`;
}
