import { describe, expect, it } from "vitest";
import { cellText, sparsityDecimals, sparsityText, type Meta } from "../src/data";
import { layerAxis } from "../src/views/layerprofile";
import { layerTitle } from "../src/views/layerlabel";
import { LocalModel } from "../src/standalone";

const grid12 = Array.from({ length: 12 }, (_, i) => (0.9 * i) / 11); // np.linspace(0, 0.9, 12)

describe("sparsity text", () => {
  it("is a percent with the fewest decimals that keep the grid's levels apart", () => {
    expect(sparsityDecimals(grid12)).toBe(0);
    expect(grid12.map((v) => sparsityText(v, grid12))).toEqual(
      ["0%", "8%", "16%", "25%", "33%", "41%", "49%", "57%", "65%", "74%", "82%", "90%"]);
    // 0.409 and 0.412 round to 41 % both: one decimal tells them apart
    expect(sparsityText(0.409, [0.409, 0.412])).toBe("40.9%");
    expect(sparsityText(0.412, [0.409, 0.412])).toBe("41.2%");
    expect(sparsityText(0.5, [0.5, 0.5001, 0.6])).toBe("50.00%");
    expect(sparsityText(0.409091)).toBe("41%");
    // every level of a fine grid distinct
    const fine = Array.from({ length: 100 }, (_, i) => i / 1000);
    expect(new Set(fine.map((v) => sparsityText(v, fine))).size).toBe(100);
  });

  it("names a cell by its coordinates, never its indices", () => {
    const meta = {
      models: ["lenet"], layers: ["conv1", "relu3"],
      conditions: [{ label: "clean@0", sparsity: 0, benchmark: "clean", severity: 0 },
        { label: "clean@0.409091", sparsity: 0.409091, benchmark: "clean", severity: 0 },
        { label: "gaussian_noise-3@0.409091", sparsity: 0.409091, benchmark: "gaussian_noise", severity: 3 }],
    } as unknown as Meta;
    expect(cellText(meta, 0, 1, 1)).toBe("lenet · relu3 · sparsity 41% · clean");
    expect(cellText(meta, 0, 0, 2)).toBe("lenet · conv1 · sparsity 41% · gaussian_noise severity 3");
  });
});

describe("a live cube's exported page", () => {
  it("answers a computed cell from its packed rows and names a cell not computed", () => {
    const N = 3;
    const meta = {
      models: ["lenet"], layers: ["conv1", "relu3"], class_names: ["a", "b"], shape: [1, 2, 2, N],
      conditions: [{ label: "clean@0", sparsity: 0, benchmark: "clean", severity: 0 },
        { label: "clean@0.5", sparsity: 0.5, benchmark: "clean", severity: 0 }],
      slab: { angle: "mlkn" }, lazy: true, live: true, thumbs: null,
    };
    // one cell computed, (0, 1, 1): row 0 of the packed arrays
    const index = new Int32Array([-1, -1, -1, 0]);
    const angle = new Float32Array([7, 8, 9]);
    const enc = (a: Int32Array | Float32Array, dtype: string, shape: number[]) =>
      ({ dtype, shape, buffer: new DataView(a.buffer) });
    const model = new LocalModel({
      _meta: meta, _slab: { angle: enc(angle, "float32", [1, N]) },
      _computed: { index: enc(index, "int32", [1, 2, 2]) },
    });
    const [ok, buffers] = model.slice({ m: 0, l: 1, k: 1 });
    expect(ok.cell).toEqual([0, 1, 1]);
    expect(Array.from(new Float32Array(buffers[0].buffer, buffers[0].byteOffset, N))).toEqual([7, 8, 9]);
    const [missing] = model.slice({ m: 0, l: 0, k: 1 });
    expect(missing.error).toBe("lenet · conv1 · sparsity 50% · clean: not computed when this page was exported (the page holds the cells computed then)");
  });
});

describe("the layer profile's axis", () => {
  it("names every layer: level when they fit, slanted, then upright; thinned only past that", () => {
    const widths = Array(13).fill(40);
    expect(layerAxis(widths, 70)).toEqual({ angle: 0, shown: [...Array(13).keys()], height: 14 });
    const slanted = layerAxis(widths, 21); // 13 layers in a 250 px panel
    expect(slanted.angle).toBe(45);
    expect(slanted.shown).toEqual([...Array(13).keys()]);
    expect(slanted.height).toBeCloseTo(12 + 40 * Math.SQRT1_2, 6);
    const upright = layerAxis(widths, 12);
    expect(upright.angle).toBe(90);
    expect(upright.shown.length).toBe(13);
    const thinned = layerAxis(widths, 5, 7); // 11 px text every 5 px: every third, the current one kept
    expect(thinned.angle).toBe(90);
    expect(thinned.shown).toContain(7);
    expect(thinned.shown.length).toBeLessThan(13);
    for (let i = 1; i < thinned.shown.length; i++) expect((thinned.shown[i] - thinned.shown[i - 1]) * 5).toBeGreaterThanOrEqual(11);
  });

  it("explains a probe layer's label on hover", () => {
    const meta = { models: ["lenet"], layers: ["pool1", "penultimate"], probe_accuracy: [[[0.96], [null]]] } as unknown as Meta;
    expect(layerTitle(meta, 0, 0, 0)).toMatch(/^pool1: measured with a linear probe .*out of sample.* 96\.0% of the samples right \(held-out accuracy\)/);
    expect(layerTitle(meta, 1, 0, 0)).toBe("penultimate");
  });
});
