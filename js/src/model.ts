// The model a view is given: anywidget's `AnyModel`, typed by the traits Python syncs. The
// traits every view shares mirror geowidget/widgets/base.py (GeoView, SampleView, SlabView);
// each view adds its own in its module (`PolarTraits` in views/polar.ts, ...).

import type { AnyModel } from "@anywidget/types";
import type { Encoded } from "./codec";
import type { Meta } from "./data";

export type { AnyModel };

export type Handler = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/** GeoView: what every view syncs (`_esm` and `_css` too, which no view reads). */
export interface GeoTraits {
  _kind: string;
  _meta: Record<string, unknown>;
  _arrays: Record<string, Encoded>;
  _link: string;
  _link_keys: string[];
  theme: "auto" | "light" | "dark";
  show_controls: boolean;
  height: number;
  /** Standalone pages only (`to_html`, the docs site): every cell of a lazy view's slab. */
  _slab?: Record<string, Encoded>;
}

/** SampleView: a view whose marks are samples. */
export interface SampleTraits extends GeoTraits {
  _meta: Meta;
  /** Selected sample ids (int32 on the wire). */
  selected: Encoded | null;
}

/** SlabView: a sample view of a slab, with model / layer / condition pickers. */
export interface SlabTraits extends SampleTraits {
  model: number;
  layer: number;
  condition: number;
  /** Class indices shown; [] for all. */
  classes: number[];
  /** CSS colours, one per class; [] for the theme's palette. */
  palette: string[];
}
