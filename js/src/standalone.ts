// Standalone pages (widget.to_html): a tiny in-page model implementing anywidget's model
// interface (get / set / on / off / save_changes / send) over the saved state, so exported
// files stay interactive with no kernel and no CDN. It also stands in for the kernel's
// commands: a `_slice` request is answered from the slab saved with the view, in the same
// wire format as the Python `_slice` command.

import { decode, type Encoded } from "./codec";
import { cellText, type Meta } from "./data";
import { hostInvoke } from "./invoke";
import type { AnyModel, Handler } from "./model";
import { RENDERERS } from "./registry";
import { cellOffset, checkCell, type Shape4 } from "./store";

export interface SavedModel {
  state: Record<string, unknown>;
  buffer_paths: (string | number)[][];
  buffers: string[]; // base64
}

export interface SavedState {
  models: Record<string, SavedModel>;
  views: string[];
  /** Side by side where the page is wide enough (SideBySide), else stacked. */
  row?: boolean;
}

function b64ToView(b64: string): DataView {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}

/** Put buffers back at their paths (ipywidgets' _put_buffers). */
export function putBuffers(state: Record<string, unknown>, paths: (string | number)[][], buffers: DataView[]): void {
  paths.forEach((path, i) => {
    let obj = state as Record<string | number, unknown>;
    for (let j = 0; j < path.length - 1; j++) obj = obj[path[j]] as Record<string | number, unknown>;
    obj[path[path.length - 1]] = buffers[i];
  });
}

export class LocalModel implements AnyModel {
  private attrs: Record<string, unknown>;
  private handlers = new Map<string, Set<Handler>>();
  readonly sent: unknown[] = [];
  saves = 0;
  /** anywidget's lookup of other models: here, those of the same page. */
  readonly widget_manager: AnyModel["widget_manager"];

  constructor(state: Record<string, unknown>, page: Record<string, LocalModel> = {}) {
    this.attrs = { ...state };
    this.widget_manager = {
      get_model: async (id: string) => {
        if (!(id in page)) throw new Error(`no model ${JSON.stringify(id)} in this page; valid: ${Object.keys(page).join(", ")}`);
        return page[id];
      },
    };
  }

  // keys are trait names (strings); PropertyKey is what AnyModel<T>'s `keyof T` may be
  get(key: PropertyKey): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.attrs[key as string];
  }

  set(key: PropertyKey, value: unknown): void {
    const name = key as string;
    const old = this.attrs[name];
    this.attrs[name] = value;
    if (old !== value) this.emit(`change:${name}`);
  }

  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Handler | null): void {
    if (!event) { this.handlers.clear(); return; }
    if (!cb) { this.handlers.delete(event); return; }
    this.handlers.get(event)?.delete(cb);
  }

  emit(event: string, ...args: unknown[]): void {
    for (const cb of Array.from(this.handlers.get(event) ?? [])) cb(...args);
  }

  save_changes(): void {
    this.saves++;
  }

  send(content: unknown): void {
    this.sent.push(content);
    const c = content as { kind?: string; id?: unknown; name?: unknown; msg?: unknown } | null;
    if (!c || c.kind !== "anywidget-command") return;
    const [response, buffers] = c.name === "_slice" ? this.slice(c.msg)
      : [{ error: `unknown command ${JSON.stringify(c.name)}; valid: ['_slice']` }, []];
    // answered after the current task, as a kernel would
    setTimeout(() => this.emit("msg:custom", { id: c.id, kind: "anywidget-command-response", response }, buffers), 0);
  }

  /** One cell of the slab saved with the view (the Python `_slice` command, in the page). */
  slice(msg: unknown): [Record<string, unknown>, DataView[]] {
    const meta = this.attrs._meta as Meta;
    const slab = this.attrs._slab as Record<string, Encoded> | undefined;
    if (!slab || !meta?.slab || !meta.shape) return [{ error: "this page holds no slab for this view" }, []];
    const { m, l, k } = (msg ?? {}) as { m: number; l: number; k: number };
    const shape = meta.shape as Shape4;
    try {
      checkCell(shape, m, l, k);
    } catch (err) {
      return [{ error: (err as Error).message }, []];
    }
    const names: string[] = [], specs: { dtype: string; shape: number[] }[] = [], buffers: DataView[] = [];
    const index = (this.attrs._computed as Record<string, Encoded> | undefined)?.index; // a live cube's page
    // a live cube's page holds the cells computed when it was exported, one row each
    const row = index ? decode(index).data[(m * shape[1] + l) * shape[2] + k] : -1;
    if (index && row < 0) {
      return [{ error: `${cellText(meta, m, l, k)}: not computed when this page was exported (the page holds the cells computed then)` }, []];
    }
    for (const [name, dims] of Object.entries(meta.slab)) {
      if (!slab[name]) continue; // a stand-in: not sent
      const full = decode(slab[name]);
      const at = index ? row * shape[3] : cellOffset(shape, dims, m, l, k);
      const part = full.data.subarray(at, at + shape[3]);
      names.push(name);
      specs.push({ dtype: full.dtype, shape: [shape[3]] });
      buffers.push(new DataView(part.buffer, part.byteOffset, part.byteLength));
    }
    return [{ cell: [m, l, k], names, specs }, buffers];
  }
}

/** Mount every saved view into `root`; returns the models so pages and tests can inspect them. */
export function standalone(root: HTMLElement, saved: SavedState): { models: Record<string, LocalModel> } {
  const models: Record<string, LocalModel> = {};
  for (const [id, m] of Object.entries(saved.models)) {
    const state = JSON.parse(JSON.stringify(m.state)) as Record<string, unknown>;
    putBuffers(state, m.buffer_paths, m.buffers.map(b64ToView));
    models[id] = new LocalModel(state, models);
  }
  if (saved.row) root.classList.add("gw-row");
  for (const id of saved.views) {
    const model = models[id];
    const kind = String(model.get("_kind"));
    const renderer = RENDERERS[kind];
    const el = document.createElement("div");
    el.className = "gw-standalone-view";
    el.dataset.modelId = id;
    root.append(el);
    if (renderer) renderer(model, el, { invoke: hostInvoke(model), kernel: false });
  }
  return { models };
}
