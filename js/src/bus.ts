// Views that share a link id talk over an in-page channel (no kernel round trip): selection,
// picker changes, the focused sample, and the thumbnail atlas are shared.

export interface BusEvent {
  type: "select" | "pick" | "focus" | "atlas";
  source: unknown;
  detail: Record<string, unknown>;
}

type Listener = (e: BusEvent) => void;

interface Channel {
  listeners: Set<Listener>;
  store: Map<string, unknown>;
}

function registry(): Map<string, Channel> {
  const g = globalThis as unknown as { __geowidgetBus?: Map<string, Channel> };
  if (!g.__geowidgetBus) g.__geowidgetBus = new Map();
  return g.__geowidgetBus;
}

function channel(id: string): Channel {
  const reg = registry();
  let ch = reg.get(id);
  if (!ch) { ch = { listeners: new Set(), store: new Map() }; reg.set(id, ch); }
  return ch;
}

/** Subscribe; returns the unsubscribe function. An empty id links nothing. */
export function subscribe(id: string, fn: Listener): () => void {
  if (!id) return () => {};
  const ch = channel(id);
  ch.listeners.add(fn);
  return () => { ch.listeners.delete(fn); };
}

export function publish(id: string, e: BusEvent): void {
  if (!id) return;
  const ch = channel(id);
  if (e.type === "atlas") ch.store.set("atlas", e.detail);
  for (const fn of Array.from(ch.listeners)) if (fn !== e.source) fn(e);
}

export function shared(id: string, key: string): unknown {
  return id ? channel(id).store.get(key) : undefined;
}
