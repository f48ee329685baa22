import { describe, expect, it } from "vitest";
import { metricOffset, predOffset, SliceStore, type Shape4 } from "../src/store";
import { findCondition, type Condition } from "../src/data";

function slab(shape: Shape4) {
  const [M, L, K, N] = shape;
  const f = (tag: number) => Float32Array.from({ length: M * L * K * N }, (_, i) => i + tag);
  const pred = Int32Array.from({ length: M * K * N }, (_, i) => i);
  return { angle: f(0), angle_pred: f(0.25), norm: f(0.5), margin: f(0.75), pred };
}

describe("slicing", () => {
  it("returns zero-copy subarrays at the C-order offset", () => {
    const shape: Shape4 = [2, 3, 4, 5];
    const arrays = slab(shape);
    const store = new SliceStore(shape, false, arrays);
    for (const [m, l, k] of [[0, 0, 0], [1, 2, 3], [1, 0, 2]]) {
      const c = store.get(m, l, k)!;
      // brute force: flat index of element [m, l, k, 0] in a C-ordered [2, 3, 4, 5] array
      let flat = 0;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let d = 0; d < 4; d++) {
        if (a === m && b === l && d === k) expect(c.metricOffset).toBe(flat);
        flat += 5;
      }
      expect(c.angle[0]).toBe(c.metricOffset);
      expect(c.norm[4]).toBe(c.metricOffset + 4.5);
      expect(c.angle.buffer).toBe(arrays.angle.buffer);
      expect(c.pred[0]).toBe((m * 4 + k) * 5);
    }
    expect(metricOffset(shape, 1, 2, 3)).toBe(((1 * 3 + 2) * 4 + 3) * 5);
    expect(predOffset(shape, 1, 3)).toBe((1 * 4 + 3) * 5);
    expect(() => store.get(2, 0, 0)).toThrow(/cell \(2, 0, 0\) out of range for shape \[2, 3, 4\]/);
  });

  it("fetches lazily, caches, and drops stale replies", () => {
    const shape: Shape4 = [1, 2, 1, 3];
    const store = new SliceStore(shape, true, {});
    expect(store.get(0, 0, 0)).toBeUndefined();
    const r1 = store.request(0, 0, 0)!;
    const r2 = store.request(0, 1, 0)!;
    expect(r2.req).toBeGreaterThan(r1.req);
    const specs = ["angle", "angle_pred", "norm", "margin"].map(() => ({ dtype: "float32", shape: [3] }));
    const bufs = [1, 2, 3, 4].map((v) => new DataView(new Float32Array([v, v, v]).buffer));
    const pred = new DataView(new Int32Array([0, 1, 2]).buffer);
    const names = ["angle", "angle_pred", "norm", "margin", "pred"];
    // the reply to the older request arrives last-but-one: cached, but not fresh
    expect(store.receive({ type: "slice", req: r1.req, m: 0, l: 0, k: 0, names, specs: [...specs, { dtype: "int32", shape: [3] }] }, [...bufs, pred])).toBe(false);
    expect(store.dropped).toBe(1);
    expect(store.receive({ type: "slice", req: r2.req, m: 0, l: 1, k: 0, names, specs: [...specs, { dtype: "int32", shape: [3] }] }, [...bufs, pred])).toBe(true);
    expect(store.get(0, 0, 0)!.norm[0]).toBe(3);
    expect(store.cached()).toBe(2);
    expect(store.request(0, 1, 0)).toBeUndefined();
  });

  it("does not repeat a pending request, and its reply then redraws", () => {
    const store = new SliceStore([1, 3, 1, 2], true, {});
    const a = store.request(0, 0, 0)!;
    const b = store.request(0, 1, 0)!;
    expect(store.request(0, 0, 0)).toBeUndefined(); // back to A: A is still pending
    expect(store.latestReq).toBe(a.req);
    const specs = [...["angle", "angle_pred", "norm", "margin"].map(() => ({ dtype: "float32", shape: [2] })), { dtype: "int32", shape: [2] }];
    const names = ["angle", "angle_pred", "norm", "margin", "pred"];
    const bufs = [...[0, 1, 2, 3].map(() => new DataView(new Float32Array(2).buffer)), new DataView(new Int32Array(2).buffer)];
    expect(store.receive({ type: "slice", req: b.req, m: 0, l: 1, k: 0, names, specs }, bufs)).toBe(false);
    expect(store.receive({ type: "slice", req: a.req, m: 0, l: 0, k: 0, names, specs }, bufs)).toBe(true);
  });

  it("finds conditions by sparsity and benchmark", () => {
    const conds: Condition[] = [
      { label: "clean@0", sparsity: 0, benchmark: "clean", severity: 0 },
      { label: "clean@0.5", sparsity: 0.5, benchmark: "clean", severity: 0 },
      { label: "fog-3@0", sparsity: 0, benchmark: "fog", severity: 3 },
    ];
    expect(findCondition(conds, 0.5, "clean")).toBe(1);
    expect(findCondition(conds, 0, "fog-3")).toBe(2);
    expect(findCondition(conds, 0.5, "fog-3")).toBe(2);
  });
});
