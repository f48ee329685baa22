// Standalone pages (widget.to_html): a tiny in-page model implementing anywidget's model
// interface (get / set / on / off / save_changes / send) over the saved state, so exported
// files stay interactive with no kernel and no CDN.

import type { Handler, Model } from "./model";
import { RENDERERS } from "./registry";

export interface SavedModel {
  state: Record<string, unknown>;
  buffer_paths: (string | number)[][];
  buffers: string[]; // base64
}

export interface SavedState {
  models: Record<string, SavedModel>;
  views: string[];
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

export class LocalModel implements Model {
  private attrs: Record<string, unknown>;
  private handlers = new Map<string, Set<Handler>>();
  readonly sent: unknown[] = [];
  saves = 0;

  constructor(state: Record<string, unknown>) {
    this.attrs = { ...state };
  }

  get(key: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.attrs[key];
  }

  set(key: string, value: unknown): void {
    const old = this.attrs[key];
    this.attrs[key] = value;
    if (old !== value) this.emit(`change:${key}`);
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
    // No kernel: every slice is embedded in exported files, so nothing needs answering.
    this.sent.push(content);
  }
}

/** Mount every saved view into `root`; returns the models so pages and tests can inspect them. */
export function standalone(root: HTMLElement, saved: SavedState): { models: Record<string, LocalModel> } {
  const models: Record<string, LocalModel> = {};
  for (const [id, m] of Object.entries(saved.models)) {
    const state = JSON.parse(JSON.stringify(m.state)) as Record<string, unknown>;
    putBuffers(state, m.buffer_paths, m.buffers.map(b64ToView));
    models[id] = new LocalModel(state);
  }
  for (const id of saved.views) {
    const model = models[id];
    const kind = String(model.get("_kind"));
    const renderer = RENDERERS[kind];
    const el = document.createElement("div");
    el.className = "gw-standalone-view";
    el.dataset.modelId = id;
    root.append(el);
    if (renderer) renderer(model, el);
  }
  return { models };
}
