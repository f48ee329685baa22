import { describe, expect, it } from "vitest";
import { niceTicks, PAD, polarCamera, toData, toScreen, xyCamera, zoomAt } from "../src/scales";
import { categorical, CATEGORICAL, extent, hexToRgb, symmetric, viridis } from "../src/colors";

describe("polar frame", () => {
  it("matches the documented mapping", () => {
    const W = 500, H = 300, rmax = 4;
    const cam = polarCamera(W, H, rmax);
    const R = 1.05 * rmax;
    const s = Math.min((W - 2 * PAD) / (2 * R), (H - 2 * PAD) / R);
    const theta = (60 * Math.PI) / 180, rho = 2;
    const [px, py] = toScreen(cam, rho * Math.cos(theta), rho * Math.sin(theta));
    expect(px).toBeCloseTo(W / 2 + s * rho * 0.5, 9);
    expect(py).toBeCloseTo(H - PAD - s * rho * Math.sqrt(3) / 2, 9);
  });

  it("puts theta = 0 to the right and 180 degrees to the left", () => {
    const cam = polarCamera(400, 300, 1);
    expect(toScreen(cam, 1, 0)[0]).toBeGreaterThan(200);
    expect(toScreen(cam, -1, 0)[0]).toBeLessThan(200);
  });

  it("inverts and zooms about the cursor", () => {
    const cam = polarCamera(400, 300, 2);
    const [dx, dy] = toData(cam, ...toScreen(cam, 0.3, 1.2));
    expect(dx).toBeCloseTo(0.3, 9);
    expect(dy).toBeCloseTo(1.2, 9);
    const z = zoomAt(cam, 2, 100, 50);
    const before = toData(cam, 100, 50), after = toData(z, 100, 50);
    expect(after[0]).toBeCloseTo(before[0], 9);
    expect(after[1]).toBeCloseTo(before[1], 9);
    expect(z.scale).toBeCloseTo(2 * cam.scale, 12);
  });

  it("fits x/y data with equal aspect", () => {
    const cam = xyCamera(300, 300, [0, 10], [0, 5]);
    const [x0] = toScreen(cam, 0, 0), [x1] = toScreen(cam, 10, 0);
    expect(x1 - x0).toBeCloseTo(300 - 2 * PAD, 9);
    expect(toScreen(cam, 5, 2.5)).toEqual([150, 150]);
  });
});

describe("ticks and colours", () => {
  it("gives 1-2-5 ticks", () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(-0.3, 0.25, 5)).toEqual([-0.3, -0.2, -0.1, 0, 0.1, 0.2]);
    expect(niceTicks(1, 1)).toEqual([]);
  });

  it("has 20 distinct categorical colours and cycles after", () => {
    expect(new Set(CATEGORICAL.map((c) => c.toLowerCase())).size).toBe(20);
    expect(categorical(21)).toEqual(categorical(1));
    expect(categorical(0, ["#010203"])).toEqual([1, 2, 3]);
  });

  it("maps viridis ends and computes extents ignoring NaN", () => {
    expect(viridis(0)).toEqual(hexToRgb("#440154"));
    expect(viridis(1)).toEqual(hexToRgb("#FDE725"));
    expect(extent([3, NaN, -1, 2])).toEqual([-1, 3]);
    expect(extent([NaN])).toEqual([0, 1]);
    expect(symmetric([-1, 3])).toEqual([-3, 3]);
    expect(() => hexToRgb("red")).toThrow(/not a hex colour/);
  });
});

describe("accuracy as a user reads it", () => {
  it("is a percent with one decimal", async () => {
    const { formatPercent } = await import("../src/scales");
    expect(formatPercent(0.885)).toBe("88.5%");
    expect(formatPercent(0.145)).toBe("14.5%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(0.1)).toBe("10.0%");
    expect(formatPercent(NaN)).toBe("NaN");
  });

  it("one scale for the table and the map: the table's accuracyDomain is the shared one", async () => {
    const shared = await import("../src/scales");
    const table = await import("../src/views/evaltable");
    expect(table.accuracyDomain).toBe(shared.accuracyDomain);
    expect(shared.accuracyDomain(10)).toEqual([0.1, 1]);
  });
});
