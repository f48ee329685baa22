// The subset of anywidget's model interface the views use (also what the standalone shim implements).

export type Handler = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Model {
  get(key: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  set(key: string, value: unknown): void;
  on(event: string, cb: Handler): void;
  off(event?: string | null, cb?: Handler | null): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}
