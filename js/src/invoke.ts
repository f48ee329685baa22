// Request / response with the kernel: anywidget's `experimental.invoke`, which Python answers
// with `@anywidget.experimental.command` methods. Hosts without it (marimo) get the same wire
// format over `model.send` and `msg:custom`, so the Python side is one set of commands.

import type { AnyModel } from "./model";

export interface InvokeOptions {
  signal?: AbortSignal;
  buffers?: ArrayBuffer[];
}

/** Send command `name` with `msg`; resolves to the response and its binary buffers. */
export type Invoke = (name: string, msg: unknown, options?: InvokeOptions) => Promise<[unknown, DataView[]]>;

function requestId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/** anywidget's command protocol spoken directly over the model's custom messages. */
export function wireInvoke(model: AnyModel): Invoke {
  return (name, msg, options = {}) => new Promise((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) { reject(signal.reason ?? new Error("aborted")); return; }
    const id = requestId();
    const cleanup = () => { model.off("msg:custom", onMsg); signal?.removeEventListener("abort", onAbort); };
    const onMsg = (m: { id?: unknown; response?: unknown } | null, buffers?: DataView[]) => {
      if (!m || m.id !== id) return;
      cleanup();
      resolve([m.response, buffers ?? []]);
    };
    const onAbort = () => { cleanup(); reject(signal?.reason ?? new Error("aborted")); };
    signal?.addEventListener("abort", onAbort);
    model.on("msg:custom", onMsg);
    model.send({ id, kind: "anywidget-command", name, msg }, undefined, options.buffers ?? []);
  });
}

/** The host's invoke while it works; the wire protocol when there is none, or from the first
 * time the host says it does not support it. */
export function hostInvoke(model: AnyModel, host?: Invoke): Invoke {
  const wire = wireInvoke(model);
  let useWire = !host;
  return async (name, msg, options) => {
    if (!useWire && host) {
      try {
        return await host(name, msg, options);
      } catch (err) {
        if (!/not supported/i.test(String(err))) throw err;
        useWire = true;
      }
    }
    return wire(name, msg, options);
  };
}
