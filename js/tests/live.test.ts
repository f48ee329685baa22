import { describe, expect, it } from "vitest";
import { encode } from "../src/codec";
import { wireInvoke } from "../src/invoke";
import { linkView } from "../src/link";
import { isSuperseded, LastPicture, Superseded } from "../src/live";
import { LocalModel } from "../src/standalone";
import { SliceStore } from "../src/store";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("LastPicture", () => {
  it("keeps the last drawn cell while the next is computed, but not over an error", () => {
    const last = new LastPicture<string>();
    const seen: boolean[] = [];
    expect(last.pick(undefined, false, (on) => seen.push(on))).toBeUndefined(); // nothing drawn yet
    expect(last.pick("a", false, (on) => seen.push(on))).toBe("a");
    expect(last.pick(undefined, false, (on) => seen.push(on))).toBe("a"); // computing: a stays
    expect(last.pick(undefined, true, (on) => seen.push(on))).toBeUndefined(); // failed: its error shows
    expect(last.pick("b", false, (on) => seen.push(on))).toBe("b");
    expect(seen).toEqual([false, false, true, false, false]);
  });
});

describe("superseded requests", () => {
  it("are not remembered as the cell's error, so the cell can be asked again", async () => {
    let calls = 0;
    const store = new SliceStore([1, 1, 1, 2], { angle: "mlkn" }, true, {}, async () => {
      calls++;
      if (calls === 1) throw new Superseded("superseded by a newer pick");
      return { angle: new Float32Array([1, 2]) };
    });
    await expect(store.request(0, 0, 0)).rejects.toSatisfy(isSuperseded);
    expect(store.error(0, 0, 0)).toBeUndefined();
    const cell = await store.request(0, 0, 0);
    expect(Array.from(cell!.get("angle"))).toEqual([1, 2]);
    expect(calls).toBe(2);
  });
});

describe("a view of a live cube", () => {
  it("shows its last cell under a progress flag until the picked one arrives", async () => {
    const N = 3;
    const model = new LocalModel({
      _kind: "polar", _link: "", _link_keys: [], model: 0, layer: 0, condition: 0,
      selected: encode(new Int32Array(0)),
      _meta: { models: ["m"], layers: [], conditions: [], class_names: ["a"], shape: [1, 1, 2, N],
               lazy: true, live: true, slab: { angle: "mlkn" }, thumbs: null, ids_start: 0 },
      _arrays: { labels: encode(new Uint8Array(N)) },
    });
    // the kernel: answers cell k with angle k; cell 1 only when released
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => { release = r; });
    const sent: unknown[] = [];
    model.send = (content: unknown) => {
      const c = content as { id: string; msg: { k: number; pick: boolean } };
      sent.push(c.msg);
      const reply = () => {
        const data = new Float32Array(N).fill(c.msg.k);
        model.emit("msg:custom", { id: c.id, kind: "anywidget-command-response",
          response: { cell: [0, 0, c.msg.k], names: ["angle"], specs: [{ dtype: "float32", shape: [N] }] } },
        [new DataView(data.buffer)]);
      };
      if (c.msg.k === 1) void gate.then(reply); else setTimeout(reply, 0);
    };
    const pending: boolean[] = [];
    const drawn: number[] = [];
    const view = linkView(model, {
      redraw: () => { const c = view.cell(); if (c) drawn.push(c.get("angle")[0]); },
      onPending: (on) => pending.push(on),
    }, { invoke: wireInvoke(model) });
    view.cell();
    await tick();
    expect(drawn).toEqual([0]);
    model.set("condition", 1);
    view.schedule();
    await tick();
    expect(drawn[drawn.length - 1]).toBe(0); // the last picture stays while cell 1 is computed
    expect(pending[pending.length - 1]).toBe(true);
    release();
    await tick();
    expect(drawn[drawn.length - 1]).toBe(1);
    expect(pending[pending.length - 1]).toBe(false);
    expect(sent).toContainEqual({ m: 0, l: 0, k: 1, pick: true });
    view.dispose();
  });
});
