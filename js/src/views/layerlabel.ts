// A layer's name for the pickers, with its probe's held-out accuracy beside it when the layer
// is measured against a linear probe (meta.probe_accuracy [M][L][K], null: the model's head),
// and the sentence that explains that suffix (a tooltip: the picker's options, the layer
// profile's axis names).

import type { Meta } from "../data";

function probeAccuracy(meta: Meta, layer: number, model: number, condition: number): number | null {
  const acc = (meta.probe_accuracy as (number | null)[][][] | null | undefined)?.[model]?.[layer]?.[condition];
  return acc == null || !Number.isFinite(acc) ? null : acc;
}

export function layerLabel(meta: Meta, layer: number, model: number, condition: number): string {
  const acc = probeAccuracy(meta, layer, model, condition);
  const name = meta.layers[layer];
  return acc === null ? name : `${name} · probe ${(100 * acc).toFixed(1)}% held-out`;
}

/** What the layer's label means, for its tooltip: the bare name for a layer measured by the
 * model's own head (or a view without probes). */
export function layerTitle(meta: Meta, layer: number, model: number, condition: number): string {
  const acc = probeAccuracy(meta, layer, model, condition);
  const name = meta.layers[layer];
  if (acc === null) return name;
  return `${name}: measured with a linear probe (a linear classifier fitted on this layer's `
    + `features, out of sample: no sample meets a probe that saw it). The probe classifies `
    + `${(100 * acc).toFixed(1)}% of the samples right (held-out accuracy) for `
    + `${meta.models[model] ?? "this model"} under this condition; angles and margins here are `
    + `measured against its class directions.`;
}
