// linkView: the one linking layer every view uses. It owns, for one view of one model:
// - the bus: views with the same `_link` id share selection, picks (model / layer /
//   condition and the other `_link_keys`), hover focus and the thumbnail atlas in the page,
//   with no kernel round trip;
// - the selection (`selected`, sample ids) and its per-point mask;
// - the slice store: cells sent at once, or fetched on demand with the `_slice` command
//   (anywidget's invoke); a reply for a cell the view no longer shows is cached, not drawn;
// - the cell pickers of slab views, errors sent back by the kernel, and disposal.
// A view supplies `redraw` (called once per task, however many changes came) and reads the
// current cell, selection and status from the returned handle.

import { publish, shared, subscribe, type BusEvent } from "./bus";
import { decode, type Encoded, type WireArray } from "./codec";
import { cellText, readData, writeSelected, type ViewData } from "./data";
import type { Invoke } from "./invoke";
import { LastPicture, Superseded } from "./live";
import type { AnyModel, GeoTraits, SlabTraits } from "./model";
import { idMask } from "./selection";
import { Cell, checkCell, SliceStore, type Shape4 } from "./store";
import type { Atlas } from "./thumbs";
import { cellPickers, type Pickers } from "./views/pickers";

/** What linkView reads: every view's traits, and a sample or slab view's where it has them. */
export type LinkTraits = GeoTraits & Partial<Pick<SlabTraits, "selected" | "model" | "layer" | "condition">>;

export interface LinkHandlers {
  /** Draw the view. */
  redraw(): void;
  /** Picks published by a linked view; return true when handled here (views that stand
   * for picks, such as the model map). By default the view's `_link_keys` follow. */
  onPick?(detail: Record<string, unknown>): boolean;
  /** The sample hovered in a linked view. */
  onFocus?(detail: Record<string, unknown>): void;
  /** The selection changed (from this view, a linked view or the kernel). */
  onSelect?(ids: Int32Array): void;
  /** A trait named in `redrawOn` changed; called before the redraw. */
  onChange?(name: string): void;
  /** The kernel refused a value from this view. */
  onError?(message: string): void;
  /** The current cell is being computed (a live cube) while the last picture stays shown. */
  onPending?(on: boolean): void;
}

export interface LinkOptions {
  /** Request / response with the kernel (anywidget's invoke, or the page's own). */
  invoke?: Invoke;
  /** Traits whose change redraws the view, besides picks, selection and theme. */
  redrawOn?: string[];
  /** Slab views with controls: where the model / layer / sparsity / benchmark pickers go. */
  pickerBar?: HTMLElement | null;
  /** How long a slice request may take before it counts as failed. */
  timeoutMs?: number;
}

export interface LinkedView {
  readonly link: string;
  readonly data: ViewData;
  /** The slice store (slab views only). */
  readonly store: SliceStore | null;
  /** Sample ids selected now (sorted as they came). */
  selected(): Int32Array;
  /** Per point 0/1 of the selection, null when nothing is selected. */
  selectionMask(): Uint8Array | null;
  /** Select from this view: sets `selected`, saves it to the kernel, tells linked views. */
  select(ids: ArrayLike<number>): void;
  /** Publish picks from this view (views that stand for picks). */
  pick(detail: Record<string, unknown>): void;
  /** Publish the hovered sample. */
  focus(detail: Record<string, unknown>): void;
  /** This view's thumbnail atlas, or one a linked view shared. */
  atlas(): Atlas | null;
  /** The cell shown now (or cell m, l, k); when missing it is requested and the view redraws
   * on arrival. */
  cell(m?: number, l?: number, k?: number): Cell | undefined;
  /** Why the current cell is not drawn ("" when it is available). */
  status(): string;
  /** Ask for a redraw (coalesced to one per task). */
  schedule(): void;
  stats(): { cached: number; inFlight: number; dropped: number };
  dispose(): void;
}

/** status() while the shown cell is on its way from the kernel. */
export const LOADING = "loading slice…";

const PICKS = ["model", "layer", "condition"];
const EMPTY = new Int32Array(0);

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export function linkView(model: AnyModel<LinkTraits>, handlers: LinkHandlers, options: LinkOptions = {}): LinkedView {
  const data = readData(model);
  const { meta } = data;
  const link = String(model.get("_link") ?? "");
  const traits = model as AnyModel; // the `_link_keys` name traits of any view
  const isSlab = !!meta.slab && !!meta.shape;
  const samples = model.get("selected") !== undefined;
  const abort = new AbortController();
  const cleanups: (() => void)[] = [];
  let disposed = false;
  let soon = false;
  let applying = false;
  let dropped = 0;
  let lastWritten: unknown = null;
  let sel: Int32Array = samples ? decodeSelected(model.get("selected")) : EMPTY;
  let mask: Uint8Array | null = null;
  let idSet: Set<number> | null = null;
  const wanted = new Set<string>();
  const last = new LastPicture<Cell>();

  // ---------------------------------------------------------------- slices
  const store = isSlab ? new SliceStore(meta.shape as Shape4, meta.slab!, !!meta.lazy, data.arrays,
    options.invoke ? (m, l, k) => fetchCell(m, l, k) : undefined, undefined,
    { names: meta.stand_ins ?? {}, labels: data.labels }) : null;

  async function fetchCell(m: number, l: number, k: number): Promise<Record<string, WireArray>> {
    const ms = options.timeoutMs ?? 30000;
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(new Error(`no reply within ${ms / 1000} s; is the kernel running?`)), ms);
    const onAbort = () => timer.abort(new Error("the view was closed"));
    abort.signal.addEventListener("abort", onAbort);
    try {
      // `pick`: the view's current cell, which a newer pick supersedes in a live kernel
      const [cm, cl, ck] = current();
      const pick = cm === m && cl === l && ck === k;
      const [resp, buffers] = await options.invoke!("_slice", { m, l, k, pick }, { signal: timer.signal });
      const r = (resp ?? {}) as { error?: string; superseded?: boolean; names?: string[]; specs?: { dtype: string; shape: number[] }[] };
      if (r.error) throw r.superseded ? new Superseded(r.error) : new Error(r.error);
      if (!r.names || !r.specs || r.names.length !== r.specs.length || buffers.length < r.names.length) {
        throw new Error("malformed reply (no names, specs or buffers)");
      }
      const out: Record<string, WireArray> = {};
      r.names.forEach((name, i) => { out[name] = decode({ buffer: buffers[i], ...r.specs![i] } as Encoded).data; });
      return out;
    } finally {
      clearTimeout(t);
      abort.signal.removeEventListener("abort", onAbort);
    }
  }

  function current(): [number, number, number] {
    return [model.get("model")!, model.get("layer")!, model.get("condition")!]; // a slab view's
  }

  function cell(m?: number, l?: number, k?: number): Cell | undefined {
    if (!store) return undefined;
    const [cm, cl, ck] = current();
    const [a, b, c] = [m ?? cm, l ?? cl, k ?? ck];
    let hit: Cell | undefined;
    try { hit = store.get(a, b, c); } catch { return undefined; }
    if (hit && meta.live && m === undefined && l === undefined && k === undefined) {
      return last.pick(hit, false, (on) => handlers.onPending?.(on));
    }
    if (hit) return hit;
    const key = SliceStore.key(a, b, c);
    wanted.add(key);
    store.request(a, b, c)?.then(
      () => { if (disposed) return; if (wanted.has(key)) schedule(); else dropped++; },
      () => { if (!disposed) schedule(); },
    );
    if (!meta.live || m !== undefined || l !== undefined || k !== undefined) return undefined;
    // a live cube: the last picture stays while this cell is computed (live.ts)
    return last.pick(undefined, !!store.error(a, b, c), (on) => handlers.onPending?.(on));
  }

  function status(): string {
    if (!store) return "";
    const [m, l, k] = current();
    try { checkCell(store.shape, m, l, k); } catch (e) { return (e as Error).message; }
    if (store.get(m, l, k)) return "";
    const err = store.error(m, l, k);
    // the cell by its coordinates, as the pickers name them; the page's own answer names it already
    const where = cellText(meta, m, l, k);
    if (err) return err.startsWith(where) ? err : `${where}: ${err}`;
    return options.invoke ? LOADING : `${where}: not in this page, and there is no kernel to ask`;
  }

  // ---------------------------------------------------------------- drawing
  function schedule(): void {
    if (soon || disposed) return;
    soon = true;
    queueMicrotask(() => {
      soon = false;
      if (disposed) return;
      wanted.clear();
      handlers.redraw();
    });
  }

  // ---------------------------------------------------------------- selection
  function decodeSelected(v: unknown): Int32Array {
    if (!v) return EMPTY;
    const d = decode(v as Encoded).data;
    return d instanceof Int32Array ? d : Int32Array.from(d);
  }

  function setSelection(ids: Int32Array): void {
    sel = ids;
    mask = null;
    handlers.onSelect?.(ids);
    schedule();
  }

  function save(ids: Int32Array): void {
    writeSelected(model, ids);
    lastWritten = model.get("selected");
  }

  /** The ids among `ids` that this view shows (a linked view may show other samples). */
  function knownOnly(ids: Int32Array): Int32Array {
    const n = data.ids.length;
    const start = meta.ids_start;
    if (typeof start === "number") {
      let inside = true;
      for (let i = 0; i < ids.length && inside; i++) inside = ids[i] >= start && ids[i] < start + n;
      if (inside) return ids;
      return ids.filter((v) => v >= start && v < start + n);
    }
    idSet ??= new Set(Array.from(data.ids));
    return ids.filter((v) => idSet!.has(v));
  }

  // ---------------------------------------------------------------- bus
  const linkKeys = () => model.get("_link_keys") ?? [];
  const listener = (e: BusEvent) => {
    if (e.type === "select" && samples) {
      const ids = knownOnly(e.detail.ids as Int32Array);
      save(ids);
      setSelection(ids);
    } else if (e.type === "pick") {
      if (handlers.onPick?.(e.detail)) return;
      let changed = false;
      applying = true;
      try {
        for (const key of linkKeys()) {
          if (key in e.detail && !same(traits.get(key), e.detail[key])) { traits.set(key, e.detail[key]); changed = true; }
        }
      } finally {
        applying = false;
      }
      if (changed) model.save_changes();
    } else if (e.type === "focus") {
      handlers.onFocus?.(e.detail);
    }
  };
  cleanups.push(subscribe(link, listener));
  if (data.atlas) publish(link, { type: "atlas", source: listener, detail: data.atlas as unknown as Record<string, unknown> });

  // ---------------------------------------------------------------- model events
  const pickers: Pickers | null = isSlab && options.pickerBar ? cellPickers(model as AnyModel<SlabTraits>, meta, options.pickerBar, () => {}) : null;
  const on = (event: string, fn: (...args: any[]) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  const watched = new Set([...(isSlab ? PICKS : []), ...linkKeys()]);
  for (const key of watched) {
    on(`change:${key}`, () => {
      pickers?.sync();
      if (!applying && linkKeys().includes(key)) publish(link, { type: "pick", source: listener, detail: { [key]: traits.get(key) } });
      schedule();
    });
  }
  for (const key of options.redrawOn ?? []) {
    if (watched.has(key)) continue;
    on(`change:${key}`, () => { handlers.onChange?.(key); schedule(); });
  }
  on("change:theme", schedule);
  if (samples) {
    on("change:selected", () => {
      const v = model.get("selected");
      if (v === lastWritten) return;
      setSelection(decodeSelected(v));
    });
  }
  on("msg:custom", (msg: { kind?: string; message?: string } | null) => {
    if (msg && msg.kind === "geowidget-error" && typeof msg.message === "string") handlers.onError?.(msg.message);
  });

  return {
    link,
    data,
    store,
    selected: () => sel,
    selectionMask: () => (sel.length ? (mask ??= idMask(data.ids, sel)) : null),
    select(ids: ArrayLike<number>) {
      const arr = ids instanceof Int32Array ? ids : Int32Array.from(ids);
      save(arr);
      setSelection(arr);
      publish(link, { type: "select", source: listener, detail: { ids: arr } });
    },
    pick(detail: Record<string, unknown>) {
      publish(link, { type: "pick", source: listener, detail });
    },
    focus(detail: Record<string, unknown>) {
      publish(link, { type: "focus", source: listener, detail });
    },
    atlas: () => data.atlas ?? (shared(link, "atlas") as Atlas | undefined) ?? null,
    cell,
    status,
    schedule,
    stats: () => ({ cached: store?.cached() ?? 0, inFlight: store?.inFlight() ?? 0, dropped }),
    dispose() {
      disposed = true;
      abort.abort();
      pickers?.dispose();
      for (const c of cleanups.splice(0)) c();
    },
  };
}
