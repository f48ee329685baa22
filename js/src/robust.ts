// Robustness is a score of a (model, sparsity): the views get it once as [M, S, N] over
// meta.robust_levels.sparsities, and the shown condition k reads the level of its own sparsity
// (level[k]), so that a pruned model is coloured by its own robustness, never the dense one's.

import type { Meta } from "./data";

export interface RobustLevels {
  sparsities: number[];
  level: number[]; // per condition: the index of its sparsity in `sparsities`
  evaluated: boolean[]; // per level: whether the cube has corrupted conditions there
}

/** Where the shown (model, condition)'s robustness starts in an [M, S, N] array. */
export function robustOffset(meta: Meta, model: number, condition: number, n: number): number {
  const r = meta.robust_levels as RobustLevels | undefined;
  if (!r) return model * n;
  return (model * r.sparsities.length + (r.level[condition] ?? 0)) * n;
}

/** What a view says when the shown condition's sparsity has no corrupted conditions (its
 * robustness values are all NaN); null when robustness is defined there. */
export function robustNote(meta: Meta, condition: number): string | null {
  const r = meta.robust_levels as RobustLevels | undefined;
  if (!r) return null;
  const j = r.level[condition];
  if (j == null || r.evaluated[j]) return null;
  const s = r.sparsities[j];
  return `robustness: not evaluated at sparsity ${Math.round(100 * s)}% (no corruptions there; a Study with grid="full" corrupts every sparsity)`;
}
