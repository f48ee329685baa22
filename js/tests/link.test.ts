import { describe, expect, it } from "vitest";
import { decode, encode, type Encoded } from "../src/codec";
import { hostInvoke, wireInvoke } from "../src/invoke";
import { linkView } from "../src/link";
import { LocalModel } from "../src/standalone";

const DIMS = { angle: "mlkn", angle_pred: "mlkn", norm: "mlkn", margin: "mlkn", pred: "mkn" };

/** The state of a slab view over an [M, L, K, N] slab whose value at [m, l, k, i] is
 * 1000 m + 100 l + 10 k + i (pred: 10 m + k), sent at once or kept for `_slice`. */
function slabState(shape: [number, number, number, number], lazy: boolean, link = "") {
  const [M, L, K, N] = shape;
  const metric = new Float32Array(M * L * K * N);
  for (let m = 0; m < M; m++) for (let l = 0; l < L; l++) for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) {
    metric[((m * L + l) * K + k) * N + i] = 1000 * m + 100 * l + 10 * k + i;
  }
  const pred = new Int32Array(M * K * N);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) pred[(m * K + k) * N + i] = 10 * m + k;
  const full: Record<string, Encoded> = {};
  for (const name of ["angle", "angle_pred", "norm", "margin"]) full[name] = encode(metric, [M, L, K, N]);
  full.pred = encode(pred, [M, K, N]);
  return {
    _kind: "polar", _link: link, _link_keys: link ? ["model", "layer", "condition"] : [],
    model: 0, layer: 0, condition: 0, selected: encode(new Int32Array(0)),
    _meta: { models: Array.from({ length: M }, (_, i) => `m${i}`), layers: [], conditions: [], class_names: ["a"],
             shape, lazy, slab: DIMS, thumbs: null, ids_start: 100 },
    _arrays: { labels: encode(new Uint8Array(N)), ...(lazy ? {} : full) },
    ...(lazy ? { _slab: full } : {}),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("linkView", () => {
  it("fetches cells on demand through _slice, and drops a stale reply", async () => {
    const model = new LocalModel(slabState([2, 3, 1, 4], true));
    let draws = 0;
    // like every slab view, a redraw asks for the current cell
    const view = linkView(model, { redraw: () => { draws++; view.cell(); } }, { invoke: hostInvoke(model) });
    expect(view.cell()).toBeUndefined();
    expect(view.status()).toBe("loading slice…");
    model.set("layer", 2); // the user moves on before the reply to (0, 0, 0) arrives
    expect(view.cell()).toBeUndefined();
    await tick();
    await tick();
    expect(view.stats().dropped).toBe(1); // (0, 0, 0) arrived, cached, not drawn
    const c = view.cell()!;
    expect(Array.from(c.get("norm"))).toEqual([200, 201, 202, 203]);
    expect(Array.from(c.get<Int32Array>("pred"))).toEqual([0, 0, 0, 0]);
    expect(view.cell(1, 1, 0)).toBeUndefined();
    await tick();
    expect(view.cell(1, 1, 0)!.get("angle")[3]).toBe(1103);
    expect(draws).toBeGreaterThanOrEqual(2);
    view.dispose();
  });

  it("reports a failed cell instead of waiting forever", async () => {
    const model = new LocalModel(slabState([1, 1, 1, 2], true));
    delete (model as unknown as { attrs: Record<string, unknown> }).attrs._slab;
    const view = linkView(model, { redraw: () => {} }, { invoke: hostInvoke(model) });
    view.cell();
    await tick();
    // the cell by its coordinates (the test's meta names its models only), never "(0, 0, 0)"
    expect(view.status()).toBe("m0 · layer 0 · condition 0: this page holds no slab for this view");
    const noKernel = linkView(new LocalModel(slabState([1, 1, 1, 2], true)), { redraw: () => {} });
    expect(noKernel.cell()).toBeUndefined();
    expect(noKernel.status()).toMatch(/not in this page, and there is no kernel to ask/);
  });

  it("answers malformed slice requests with errors", () => {
    const model = new LocalModel(slabState([2, 2, 2, 3], true));
    for (const bad of [{ m: "0", l: 0, k: 0 }, { m: null, l: 0, k: 0 }, { m: NaN, l: 0, k: 0 },
      { m: 1e300, l: 0, k: 0 }, { m: [0], l: 0, k: 0 }, null]) {
      const [resp, bufs] = model.slice(bad);
      expect(String(resp.error)).toMatch(/out of range for shape \[2, 2, 2\]/);
      expect(bufs).toEqual([]);
    }
    const [ok, bufs] = model.slice({ m: 1, l: 0, k: 1 });
    expect(ok.names).toEqual(Object.keys(DIMS));
    expect(new Float32Array(bufs[0].buffer, bufs[0].byteOffset, 3)[2]).toBe(1012);
  });

  it("links picks and selection across views, with no echo", async () => {
    const a = new LocalModel(slabState([2, 2, 1, 3], false, "L-test"));
    const b = new LocalModel(slabState([2, 2, 1, 3], false, "L-test"));
    const drawsB: number[] = [];
    const va = linkView(a, { redraw: () => {} });
    const vb = linkView(b, { redraw: () => drawsB.push(b.get("layer")) });
    a.set("layer", 1);
    expect(b.get("layer")).toBe(1);
    expect(b.saves).toBe(1);
    await tick();
    expect(drawsB).toEqual([1]);
    va.select([100, 102]);
    expect(Array.from(decode(b.get("selected")).data)).toEqual([100, 102]);
    expect(Array.from(vb.selectionMask()!)).toEqual([1, 0, 1]);
    // a linked view that shows other samples keeps only its own
    const c = new LocalModel({ ...slabState([2, 2, 1, 2], false, "L-test"), _meta: { ...slabState([2, 2, 1, 2], false).
      _meta, ids_start: 101 } });
    const vc = linkView(c, { redraw: () => {} });
    va.select([100, 101, 102]);
    expect(Array.from(vc.selected())).toEqual([101, 102]);
    for (const v of [va, vb, vc]) v.dispose();
    a.set("layer", 0);
    expect(b.get("layer")).toBe(1); // disposed: no longer linked
  });

  it("shows values the kernel refused", () => {
    const model = new LocalModel(slabState([1, 1, 1, 1], false));
    const seen: string[] = [];
    linkView(model, { redraw: () => {}, onError: (m) => seen.push(m) });
    model.emit("msg:custom", { kind: "geowidget-error", message: "The 'layer' trait ..." });
    expect(seen).toEqual(["The 'layer' trait ..."]);
  });
});

describe("invoke", () => {
  it("speaks anywidget's command protocol, and falls back to it when the host lacks invoke", async () => {
    const model = new LocalModel(slabState([1, 2, 1, 2], true));
    const [resp] = await wireInvoke(model)("_slice", { m: 0, l: 1, k: 0 });
    expect((resp as { cell: number[] }).cell).toEqual([0, 1, 0]);
    const sent = model.sent[model.sent.length - 1] as { kind: string; name: string; id: string };
    expect(sent.kind).toBe("anywidget-command");
    expect(sent.name).toBe("_slice");
    expect(sent.id.length).toBeLessThanOrEqual(64);
    let hostCalls = 0;
    const marimoLike = async () => { hostCalls++; throw new Error("anywidget.invoke not supported in marimo"); };
    const invoke = hostInvoke(model, marimoLike);
    const [r1] = await invoke("_slice", { m: 0, l: 0, k: 0 });
    const [r2] = await invoke("_slice", { m: 0, l: 1, k: 0 });
    expect([(r1 as { cell: number[] }).cell, (r2 as { cell: number[] }).cell]).toEqual([[0, 0, 0], [0, 1, 0]]);
    expect(hostCalls).toBe(1); // the host said no once: the wire is used from then on
    const [r3] = await invoke("nope", {});
    expect((r3 as { error: string }).error).toMatch(/unknown command "nope"/);
    const ctrl = new AbortController();
    const pending = wireInvoke(new LocalModel({}))("x", {}, { signal: ctrl.signal });
    ctrl.abort(new Error("timed out"));
    await expect(pending).rejects.toThrow("timed out");
  });
});
