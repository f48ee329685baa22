import { describe, expect, it, vi } from "vitest";
import { LocalModel, putBuffers } from "../src/standalone";
import { debounce } from "../src/timing";
import { brushed } from "../src/views/parallel";
import { tile } from "../src/thumbs";
import { publish, shared, subscribe } from "../src/bus";

describe("standalone model shim", () => {
  it("implements get/set/on/off/save_changes/send", () => {
    const m = new LocalModel({ layer: 0 });
    const seen: number[] = [];
    const cb = () => seen.push(m.get("layer"));
    m.on("change:layer", cb);
    m.set("layer", 2);
    m.set("layer", 2); // no change, no event
    m.off("change:layer", cb);
    m.set("layer", 3);
    expect(seen).toEqual([2]);
    m.save_changes();
    m.send({ type: "slice" });
    expect(m.saves).toBe(1);
    expect(m.sent).toEqual([{ type: "slice" }]);
  });

  it("finds the other models of its page through widget_manager, as anywidget's model does", async () => {
    const page: Record<string, LocalModel> = {};
    page.a = new LocalModel({ height: 200 }, page);
    page.b = new LocalModel({ height: 300 }, page);
    expect((await page.a.widget_manager.get_model("b")).get("height")).toBe(300);
    await expect(page.b.widget_manager.get_model("c")).rejects.toThrow('no model "c" in this page; valid: a, b');
  });

  it("puts buffers back at their paths", () => {
    const state: Record<string, unknown> = { _arrays: { angle: { dtype: "float32", shape: [1] } } };
    const dv = new DataView(new Float32Array([1.5]).buffer);
    putBuffers(state, [["_arrays", "angle", "buffer"]], [dv]);
    expect(((state._arrays as Record<string, Record<string, unknown>>).angle.buffer)).toBe(dv);
  });
});

describe("debounce", () => {
  it("sends the last value once after the quiet period", () => {
    vi.useFakeTimers();
    const calls: number[] = [];
    const d = debounce((v: number) => calls.push(v), 50);
    d(1); d(2); d(3);
    vi.advanceTimersByTime(49);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([3]);
    d(4); d.flush();
    expect(calls).toEqual([3, 4]);
    vi.useRealTimers();
  });
});

describe("parallel brushing", () => {
  it("keeps samples inside every brushed range", () => {
    const a = [0, 1, 2, 3, 4], b = [4, 3, 2, 1, 0];
    // brute force
    const expect_ = [0, 1, 2, 3, 4].filter((i) => a[i] >= 1 && a[i] <= 3 && b[i] >= 2 && b[i] <= 4);
    expect(brushed([a, b], [[3, 1], [2, 4]], 5)).toEqual(expect_);
    expect(brushed([a, b], [null, null], 5)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("thumbnails and bus", () => {
  it("cuts tile i out of the atlas", () => {
    // 2 x 2 tiles of 1 x 2 pixels, grey
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const t = tile({ info: { cols: 2, h: 1, w: 2, channels: 1 }, data }, 3);
    expect(Array.from(t)).toEqual([7, 7, 7, 255, 8, 8, 8, 255]);
  });

  it("delivers to other subscribers of the same link only", () => {
    const got: string[] = [];
    const a = (e: { type: string }) => got.push(`a:${e.type}`);
    const b = (e: { type: string }) => got.push(`b:${e.type}`);
    const offA = subscribe("L1", a), offB = subscribe("L1", b), offC = subscribe("L2", a);
    publish("L1", { type: "select", source: a, detail: {} });
    expect(got).toEqual(["b:select"]);
    publish("L1", { type: "atlas", source: null, detail: { x: 1 } });
    expect(shared("L1", "atlas")).toEqual({ x: 1 });
    offA(); offB(); offC();
  });
});
