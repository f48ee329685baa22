// Slicing: per-sample arrays of one (model, layer, condition) cell as zero-copy subarrays of
// the slab buffers [M, L, K, N] (metrics) and [M, K, N] (pred). In lazy mode cells are fetched
// from the kernel with custom messages and cached; a reply to anything but the latest request
// is cached but does not trigger a redraw (stale replies are dropped from the view).

import { decode, type Encoded, type WireArray } from "./codec";

export interface Cell {
  angle: Float32Array;
  angle_pred: Float32Array;
  norm: Float32Array;
  margin: Float32Array;
  pred: Int32Array;
  // offsets (in elements) into the full slab buffers; -1 in lazy mode
  metricOffset: number;
  predOffset: number;
}

export type Shape4 = [number, number, number, number];

export function metricOffset(shape: Shape4, m: number, l: number, k: number): number {
  const [M, L, K, N] = shape;
  if (m < 0 || m >= M || l < 0 || l >= L || k < 0 || k >= K) {
    throw new RangeError(`cell (${m}, ${l}, ${k}) out of range for shape [${M}, ${L}, ${K}]`);
  }
  return ((m * L + l) * K + k) * N;
}

export function predOffset(shape: Shape4, m: number, k: number): number {
  const [, , K, N] = shape;
  return (m * K + k) * N;
}

export interface SliceReply {
  type: "slice";
  req: number;
  m: number;
  l: number;
  k: number;
  names?: string[];
  specs?: { dtype: string; shape: number[] }[];
  error?: string;
}

export class SliceStore {
  readonly shape: Shape4;
  readonly lazy: boolean;
  readonly full: Record<string, WireArray>;
  private cache = new Map<string, Cell>();
  private pending = new Map<string, number>();
  private nextReq = 1;
  latestReq = 0;
  dropped = 0;

  constructor(shape: Shape4, lazy: boolean, arrays: Record<string, WireArray>) {
    this.shape = shape;
    this.lazy = lazy;
    this.full = arrays;
  }

  static key(m: number, l: number, k: number): string {
    return `${m},${l},${k}`;
  }

  /** The cell if it is available now (always in full mode), else undefined. */
  get(m: number, l: number, k: number): Cell | undefined {
    const key = SliceStore.key(m, l, k);
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (this.lazy) return undefined;
    const N = this.shape[3];
    const mo = metricOffset(this.shape, m, l, k);
    const po = predOffset(this.shape, m, k);
    const sub = (name: string) => (this.full[name] as Float32Array).subarray(mo, mo + N);
    const cell: Cell = {
      angle: sub("angle"),
      angle_pred: sub("angle_pred"),
      norm: sub("norm"),
      margin: sub("margin"),
      pred: (this.full.pred as Int32Array).subarray(po, po + N),
      metricOffset: mo,
      predOffset: po,
    };
    this.cache.set(key, cell);
    return cell;
  }

  /** Build the request for a missing cell (lazy mode); undefined when it is cached or already
   * pending (a pending request then counts as the latest, so its reply redraws). */
  request(m: number, l: number, k: number): { type: "slice"; req: number; m: number; l: number; k: number } | undefined {
    metricOffset(this.shape, m, l, k);
    const key = SliceStore.key(m, l, k);
    if (this.cache.has(key)) return undefined;
    const pending = this.pending.get(key);
    if (pending !== undefined) { this.latestReq = pending; return undefined; }
    const req = this.nextReq++;
    this.latestReq = req;
    this.pending.set(key, req);
    return { type: "slice", req, m, l, k };
  }

  /** Take a reply; returns true when it answers the latest request (so the view redraws). */
  receive(msg: SliceReply, buffers: (DataView | ArrayBuffer)[]): boolean {
    const key = SliceStore.key(msg.m, msg.l, msg.k);
    this.pending.delete(key);
    if (msg.error || !msg.names || !msg.specs) return false;
    const arrays: Record<string, WireArray> = {};
    msg.names.forEach((name, i) => {
      const spec = msg.specs![i];
      arrays[name] = decode({ buffer: buffers[i], dtype: spec.dtype, shape: spec.shape } as Encoded).data;
    });
    this.cache.set(key, {
      angle: arrays.angle as Float32Array,
      angle_pred: arrays.angle_pred as Float32Array,
      norm: arrays.norm as Float32Array,
      margin: arrays.margin as Float32Array,
      pred: arrays.pred as Int32Array,
      metricOffset: -1,
      predOffset: -1,
    });
    // redraw for the latest request, or when nothing else is outstanding; an older reply
    // while a newer request is pending is cached but not drawn (stale replies are dropped)
    const fresh = msg.req === this.latestReq || this.pending.size === 0;
    if (!fresh) this.dropped++;
    return fresh;
  }

  cached(): number {
    return this.cache.size;
  }
}
