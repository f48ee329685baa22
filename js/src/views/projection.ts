// ProjectionView: the samples at 2-D positions of a projection (PCA, t-SNE, UMAP) of their
// features, one map per (model, layer). It is the polar plot's view with other positions: the
// same point layer, colours, hover (which shows the exact θ, ρ and m), lasso and links, so a
// lasso here selects the same samples in the polar plot and the other way round.

import { decode, type Encoded } from "../codec";
import type { Meta } from "../data";
import type { AnyModel } from "../model";
import type { AttrRef } from "../points";
import type { ViewContext } from "../context";
import { renderPolar, type PolarHandle, type PolarTraits } from "./polar";

export function renderProjection(model: AnyModel<PolarTraits>, el: HTMLElement, ctx: ViewContext = {}): { dispose(): void; handle: PolarHandle } {
  const arrays = (model.get("_arrays") ?? {}) as Record<string, Encoded>;
  // positions [M, L, N] per coordinate, sent once; a cell is an offset into them
  const x = decode(arrays.proj_x).data as Float32Array;
  const y = decode(arrays.proj_y).data as Float32Array;
  const meta = model.get("_meta") as Meta & { projection: string };
  const [, L, , N] = meta.shape;
  return renderPolar(model, el, ctx, {
    kind: "projection",
    caption: `${meta.projection} of the clean, dense features · positions distort distances; hover shows the exact θ, ρ, m`,
    refs(m: number, l: number): [AttrRef, AttrRef] {
      const offset = (m * L + l) * N;
      return [{ key: "proj_x", data: x, offset }, { key: "proj_y", data: y, offset }];
    },
  });
}
