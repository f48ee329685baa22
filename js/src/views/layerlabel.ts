// A layer's name for the pickers, with its probe's held-out accuracy beside it when the layer
// is measured against a linear probe (meta.probe_accuracy [M][L][K], null: the model's head).

import type { Meta } from "../data";

export function layerLabel(meta: Meta, layer: number, model: number, condition: number): string {
  const acc = (meta.probe_accuracy as (number | null)[][][] | null | undefined)?.[model]?.[layer]?.[condition];
  const name = meta.layers[layer];
  return acc == null ? name : `${name} · probe ${(100 * acc).toFixed(1)}% held-out`;
}
