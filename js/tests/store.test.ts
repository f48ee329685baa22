import { describe, expect, it } from "vitest";
import { cellOffset, SliceStore, type Shape4 } from "../src/store";
import { findCondition, type Condition } from "../src/data";

function slab(shape: Shape4) {
  const [M, L, K, N] = shape;
  const f = (tag: number) => Float32Array.from({ length: M * L * K * N }, (_, i) => i + tag);
  const pred = Int32Array.from({ length: M * K * N }, (_, i) => i);
  return { angle: f(0), angle_pred: f(0.25), norm: f(0.5), margin: f(0.75), pred };
}
const DIMS = { angle: "mlkn", angle_pred: "mlkn", norm: "mlkn", margin: "mlkn", pred: "mkn" } as const;

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

describe("slicing", () => {
  it("returns zero-copy views at the C-order offset of each array's dims", () => {
    const shape: Shape4 = [2, 3, 4, 5];
    const arrays = slab(shape);
    const store = new SliceStore(shape, { ...DIMS }, false, arrays);
    for (const [m, l, k] of [[0, 0, 0], [1, 2, 3], [1, 0, 2]]) {
      const c = store.get(m, l, k)!;
      // brute force: flat index of element [m, l, k, 0] in a C-ordered [2, 3, 4, 5] array
      let flat = 0, at = -1;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let d = 0; d < 4; d++) {
        if (a === m && b === l && d === k) at = flat;
        flat += 5;
      }
      expect(c.ref("angle").offset).toBe(at);
      expect(c.get("angle")[0]).toBe(at);
      expect(c.get("norm")[4]).toBe(at + 4.5);
      expect(c.get("angle").buffer).toBe(arrays.angle.buffer);
      expect(c.ref("pred").offset).toBe((m * 4 + k) * 5);
      expect(c.get<Int32Array>("pred")[0]).toBe((m * 4 + k) * 5);
    }
    expect(cellOffset(shape, "mlkn", 1, 2, 3)).toBe(((1 * 3 + 2) * 4 + 3) * 5);
    expect(cellOffset(shape, "mkn", 1, 0, 3)).toBe((1 * 4 + 3) * 5);
    expect(() => store.get(2, 0, 0)).toThrow(/cell \(2, 0, 0\) out of range for shape \[2, 3, 4\]/);
    expect(() => store.get(0, 0.5, 0)).toThrow(/out of range/);
  });

  it("fetches a missing cell once, caches it, and remembers failures", async () => {
    const shape: Shape4 = [1, 3, 1, 2];
    const calls: string[] = [];
    const waits = new Map<string, ReturnType<typeof deferred<Record<string, Float32Array | Int32Array>>>>();
    const store = new SliceStore(shape, { angle: "mlkn", pred: "mkn" }, true, {}, (m, l, k) => {
      const key = `${m},${l},${k}`;
      calls.push(key);
      const d = deferred<Record<string, Float32Array | Int32Array>>();
      waits.set(key, d);
      return d.promise;
    });
    expect(store.get(0, 0, 0)).toBeUndefined();
    const a = store.request(0, 0, 0)!;
    expect(store.request(0, 0, 0)).toBe(a); // shared, not repeated
    const b = store.request(0, 1, 0)!;
    expect(calls).toEqual(["0,0,0", "0,1,0"]);
    expect(store.inFlight()).toBe(2);
    waits.get("0,0,0")!.resolve({ angle: new Float32Array([1, 2]), pred: new Int32Array([3, 4]) });
    const cell = await a;
    expect(Array.from(cell.get("angle"))).toEqual([1, 2]);
    expect(store.get(0, 0, 0)).toBe(cell);
    expect(store.request(0, 0, 0)).toBeUndefined();
    waits.get("0,1,0")!.reject(new Error("IndexError: boom"));
    await expect(b).rejects.toThrow(/boom/);
    expect(store.error(0, 1, 0)).toBe("IndexError: boom");
    expect(store.request(0, 1, 0)).toBeUndefined(); // no retry loop
    // a reply without a declared array is an error, not a broken cell
    const c = store.request(0, 2, 0)!;
    waits.get("0,2,0")!.resolve({ angle: new Float32Array([1, 2]) });
    await expect(c).rejects.toThrow(/lacks pred\[2\]/);
  });

  it("keeps at most maxCells fetched cells, least recently used out first", async () => {
    const store = new SliceStore([1, 4, 1, 1], { angle: "mlkn" }, true, {},
      async (_m, l) => ({ angle: new Float32Array([l]) }), 2);
    await store.request(0, 0, 0);
    await store.request(0, 1, 0);
    store.get(0, 0, 0); // touch cell 0: cell 1 is now the oldest
    await store.request(0, 2, 0);
    expect(store.cached()).toBe(2);
    expect(store.get(0, 1, 0)).toBeUndefined();
    expect(store.get(0, 0, 0)!.get("angle")[0]).toBe(0);
  });

  it("stands in for the arrays the kernel did not send, in sent and fetched cells", async () => {
    const shape: Shape4 = [1, 1, 1, 4];
    const angle = Float32Array.from([0.1, 0.2, 0.3, 0.4]), norm = Float32Array.from([1, 2, 3, 4]);
    const labels = Uint8Array.from([2, 0, 1, 2]);
    const standIns = { names: { margin: "nan", pred: "labels", angle_pred: "angle" }, labels };
    const check = (c: ReturnType<SliceStore["get"]>) => {
      expect(Array.from(c!.get("margin")).every(Number.isNaN)).toBe(true);
      expect(c!.get("margin").length).toBe(4);
      expect(Array.from(c!.get("pred"))).toEqual([2, 0, 1, 2]);
      expect(c!.ref("pred").key).toBe("labels"); // the labels' GPU buffer, not a copy
      expect(c!.get("angle_pred")).toBe(c!.get("angle"));
      expect(c!.ref("angle_pred").key).toBe("angle");
      expect(Array.from(c!.get("norm"))).toEqual([1, 2, 3, 4]);
    };
    check(new SliceStore(shape, { ...DIMS }, false, { angle, norm }, undefined, 64, standIns).get(0, 0, 0));
    const lazy = new SliceStore(shape, { ...DIMS }, true, {}, async () => ({ angle, norm }), 64, standIns);
    check(await lazy.request(0, 0, 0));
    // an array that is neither sent nor stood in for is still an error
    const bad = new SliceStore(shape, { ...DIMS }, true, {}, async () => ({ angle }), 64, standIns);
    await expect(bad.request(0, 0, 0)).rejects.toThrow(/lacks norm\[4\]/);
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
