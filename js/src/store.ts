// The slice store: the per-sample arrays of one (model, layer, condition) cell. When every
// cell was sent, a cell is a set of zero-copy views into the slab buffers (metrics are
// [M, L, K, N] with dims "mlkn", predictions [M, K, N] with dims "mkn"), so the point layer
// re-points attributes instead of uploading. When cells come on demand, a missing cell is
// fetched once (concurrent asks share the request), errors are remembered per cell, and at
// most `maxCells` fetched cells are kept, least recently used first out.

import { isSuperseded } from "./live";
import type { WireArray } from "./codec";
import type { AttrRef } from "./points";

export type Shape4 = [number, number, number, number];
export type Dims = "mlkn" | "mkn";

/** Element offset of cell (m, l, k) in a C-ordered array with these dims. */
export function cellOffset(shape: Shape4, dims: Dims, m: number, l: number, k: number): number {
  const [, L, K, N] = shape;
  return dims === "mlkn" ? ((m * L + l) * K + k) * N : (m * K + k) * N;
}

export function checkCell(shape: Shape4, m: number, l: number, k: number): void {
  const [M, L, K] = shape;
  const ok = (v: number, n: number) => Number.isInteger(v) && v >= 0 && v < n;
  if (!ok(m, M) || !ok(l, L) || !ok(k, K)) {
    throw new RangeError(`cell (${m}, ${l}, ${k}) out of range for shape [${M}, ${L}, ${K}]`);
  }
}

/** The arrays of one cell, by name. */
export class Cell {
  constructor(readonly key: string, private readonly refs: Record<string, AttrRef>, readonly n: number) {}

  has(name: string): boolean {
    return name in this.refs;
  }

  /** The array holding `name` and the element offset of this cell in it (for GPU binding). */
  ref(name: string): AttrRef {
    const r = this.refs[name];
    if (!r) throw new Error(`cell ${this.key} has no array ${JSON.stringify(name)}; it has ${Object.keys(this.refs).join(", ")}`);
    return r;
  }

  /** The `n` values of `name` in this cell (a view, no copy). */
  get<T extends WireArray = Float32Array>(name: string): T {
    const r = this.ref(name);
    return (r.offset === 0 && r.data.length === this.n ? r.data : r.data.subarray(r.offset, r.offset + this.n)) as T;
  }
}

/** Fetches the arrays of one cell (each [N]) from wherever the full slab lives. */
export type FetchCell = (m: number, l: number, k: number) => Promise<Record<string, WireArray>>;

/** Arrays the kernel does not send because the caller gave none, and what stands in for them
 * in every cell: "nan" (no values), "labels" (the true classes, as the predictions) or the
 * name of another array of the cell (e.g. angle_pred -> angle). */
export interface StandIns {
  names: Record<string, string>;
  labels: WireArray;
}

export class SliceStore {
  private cache = new Map<string, Cell>();
  private pending = new Map<string, Promise<Cell>>();
  private errors = new Map<string, string>();
  private nan: Float32Array | null = null;

  constructor(
    readonly shape: Shape4,
    readonly dims: Record<string, Dims>,
    readonly lazy: boolean,
    private readonly full: Record<string, WireArray>,
    private readonly fetchCell?: FetchCell,
    readonly maxCells = 64,
    private readonly standIns: StandIns = { names: {}, labels: new Int32Array(0) },
  ) {}

  /** The stand-in for array `name` of a cell whose sent arrays are at `refs`. */
  private standIn(name: string, refs: Record<string, AttrRef>): AttrRef | undefined {
    const how = this.standIns.names[name];
    if (how === "nan") {
      this.nan ??= new Float32Array(this.shape[3]).fill(NaN);
      return { key: "nan", data: this.nan, offset: 0 };
    }
    if (how === "labels") return { key: "labels", data: this.standIns.labels, offset: 0 };
    return how === undefined ? undefined : refs[how];
  }

  static key(m: number, l: number, k: number): string {
    return `${m},${l},${k}`;
  }

  /** The cell if it is available now (always when every cell was sent), else undefined. */
  get(m: number, l: number, k: number): Cell | undefined {
    checkCell(this.shape, m, l, k);
    const key = SliceStore.key(m, l, k);
    const hit = this.cache.get(key);
    if (hit) {
      if (this.lazy) { this.cache.delete(key); this.cache.set(key, hit); } // most recently used
      return hit;
    }
    if (this.lazy) return undefined;
    const refs: Record<string, AttrRef> = {};
    for (const [name, dims] of Object.entries(this.dims)) {
      const data = this.full[name];
      if (data) refs[name] = { key: name, data, offset: cellOffset(this.shape, dims, m, l, k) };
    }
    this.addStandIns(refs);
    const cell = new Cell(key, refs, this.shape[3]);
    this.cache.set(key, cell);
    return cell;
  }

  private addStandIns(refs: Record<string, AttrRef>): void {
    for (const name of Object.keys(this.standIns.names)) {
      const ref = refs[name] ? undefined : this.standIn(name, refs);
      if (ref) refs[name] = ref;
    }
  }

  /** Fetch a missing cell (lazy mode); undefined when it is cached, failed before, or when
   * there is nothing to fetch from. Concurrent asks for one cell share one request. */
  request(m: number, l: number, k: number): Promise<Cell> | undefined {
    checkCell(this.shape, m, l, k);
    const key = SliceStore.key(m, l, k);
    if (this.cache.has(key) || this.errors.has(key) || !this.fetchCell) return undefined;
    const pending = this.pending.get(key);
    if (pending) return pending;
    const p = this.fetchCell(m, l, k).then(
      (arrays) => {
        this.pending.delete(key);
        const refs: Record<string, AttrRef> = {};
        for (const name of Object.keys(this.dims)) {
          const data = arrays[name];
          if (name in this.standIns.names && !data) continue;
          if (!data || data.length !== this.shape[3]) {
            throw new Error(`the reply for cell (${m}, ${l}, ${k}) lacks ${name}[${this.shape[3]}]`);
          }
          refs[name] = { key: name, data, offset: 0 };
        }
        this.addStandIns(refs);
        const cell = new Cell(key, refs, this.shape[3]);
        this.cache.set(key, cell);
        while (this.cache.size > this.maxCells) this.cache.delete(this.cache.keys().next().value as string);
        return cell;
      },
    ).catch((err: unknown) => {
      this.pending.delete(key);
      // a request a newer pick superseded is no error of the cell: it may be asked again
      if (!isSuperseded(err)) this.errors.set(key, err instanceof Error ? err.message : String(err));
      throw err;
    });
    this.pending.set(key, p);
    return p;
  }

  /** Why cell (m, l, k) could not be fetched, if it could not. */
  error(m: number, l: number, k: number): string | undefined {
    return this.errors.get(SliceStore.key(m, l, k));
  }

  cached(): number {
    return this.cache.size;
  }

  inFlight(): number {
    return this.pending.size;
  }
}
