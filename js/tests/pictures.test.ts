import { describe, expect, it } from "vitest";
import { bandHeight, bandOffsets, levels } from "../src/bands";
import { CATEGORICAL, contrast, hexToRgb, paletteFor } from "../src/colors";
import { adaptiveAlpha, binShade, binXY, densityPlan, FILL, HIDDEN, LOW_SHADE, maxCount, MIN_ALPHA } from "../src/density";
import { crosses, LABEL_GAP, overlaps, placeLabels, type LabelRequest, type Segment } from "../src/labels";
import { fitText, PAD, polarSector, sectorBox, sectorCamera, toScreen } from "../src/scales";

describe("density", () => {
  it("adapts opacity to the inked area, within [MIN_ALPHA, 1]", () => {
    expect(adaptiveAlpha(10, 3, 800, 400)).toBe(1);
    const a = adaptiveAlpha(50_000, 3, 800, 400);
    expect(a).toBeCloseTo((FILL * 800 * 400) / (50_000 * 9), 12);
    expect(adaptiveAlpha(1e9, 3, 800, 400)).toBe(MIN_ALPHA);
    expect(adaptiveAlpha(0, 3, 800, 400)).toBe(1);
  });

  it("switches to density above the threshold only in auto mode", () => {
    expect(densityPlan("auto", 100, 101, 3, 10, 10).mode).toBe("density");
    expect(densityPlan("auto", 100, 100, 3, 10, 10).mode).toBe("points");
    expect(densityPlan("on", 100, 1, 3, 10, 10).mode).toBe("density");
    expect(densityPlan("off", 100, 1e9, 3, 10, 10).mode).toBe("points");
    expect(densityPlan("on", 0, 1, 2.6, 10, 10).bin).toBe(3);
  });

  it("bins match a brute-force count, with colour sums", () => {
    // CSS px positions through a camera of scale 2, origin (1, 11): x = 1 + 2 X, y = 11 - 2 Y
    const px = [0.5, 2.9, 3.0, 5.99, 6.0, -1, 11.9, 7.5, 4.0];
    const py = [0.5, 0.5, 0.5, 2.0, 2.0, 1.0, 9.9, 12.0, 4.0];
    const cam = { scale: 2, ox: 1, oy: 11 };
    const xs = Float32Array.from(px, (v) => (v - 1) / 2), ys = Float32Array.from(py, (v) => (11 - v) / 2);
    const table = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1]);
    const colors = Uint16Array.from([0, 1, 2, 0, 0, 0, 3, 4, HIDDEN]);
    const bins = binXY(xs, ys, colors, table, cam, 12, 10, 3);
    expect([bins.w, bins.h]).toEqual([4, 4]);
    const count = (bx: number, by: number) => bins.data[(by * bins.w + bx) * 4 + 3];
    const brute = new Map<string, number>();
    px.forEach((x, i) => {
      const bx = Math.floor(x / 3), by = Math.floor(py[i] / 3);
      if (colors[i] !== HIDDEN && bx >= 0 && by >= 0 && bx < 4 && by < 4) brute.set(`${bx},${by}`, (brute.get(`${bx},${by}`) ?? 0) + 1);
    });
    for (let by = 0; by < 4; by++) for (let bx = 0; bx < 4; bx++) expect(count(bx, by)).toBe(brute.get(`${bx},${by}`) ?? 0);
    // bin (0, 0): red and green
    expect(Array.from(bins.data.subarray(0, 4))).toEqual([1, 1, 0, 2]);
    expect(maxCount(bins)).toBe(2);
  });

  it("shades from LOW_SHADE for one point to opaque for the fullest bin", () => {
    expect(binShade(0, 10)).toBe(0);
    expect(binShade(1, 1)).toBeCloseTo(1, 12);
    expect(binShade(1, 1000)).toBeCloseTo(LOW_SHADE + (1 - LOW_SHADE) * Math.log(2) / Math.log(1001), 12);
    expect(binShade(1000, 1000)).toBeCloseTo(1, 12);
  });
});

describe("polar sector", () => {
  it("pads the data's range and reaches the origin or the half disc when close", () => {
    const s = polarSector(0.5, 0.7, 5, 8);
    expect(s.t0).toBeCloseTo(0.5 - (2 * Math.PI) / 180, 12);
    expect(s.r0).toBeCloseTo(5 - 0.16, 12);
    expect(s.r1).toBeCloseTo(8.16, 12);
    expect(polarSector(0.1, 3.0, 5, 8)).toMatchObject({ t0: 0, t1: Math.PI });
    expect(polarSector(0.5, 0.7, 0.5, 8).r0).toBe(0);
  });

  it("fits the sector's box with equal aspect inside the padding", () => {
    const sec = polarSector(0.3, 1.9, 2, 6);
    const [x0, x1, y0, y1] = sectorBox(sec);
    expect(y1).toBeCloseTo(sec.r1, 12); // pi/2 is inside the range
    const cam = sectorCamera(600, 400, sec);
    const [ax, ay] = toScreen(cam, x0, y1), [bx, by] = toScreen(cam, x1, y0);
    const fitsW = Math.abs(bx - ax - (600 - 2 * PAD)) < 1e-9, fitsH = Math.abs(by - ay - (400 - 2 * PAD)) < 1e-9;
    expect(fitsW || fitsH).toBe(true);
    expect(ax).toBeGreaterThanOrEqual(PAD - 1e-9);
    expect(ay).toBeGreaterThanOrEqual(PAD - 1e-9);
    expect((ax + bx) / 2).toBeCloseTo(300, 9);
  });
});

describe("labels", () => {
  it("never overlap each other or other marks, and drop what does not fit", () => {
    const labels: LabelRequest[] = [];
    for (let i = 0; i < 40; i++) labels.push({ x: 50 + (i % 8) * 12, y: 50 + Math.floor(i / 8) * 10, w: 40, h: 12, r: 4 });
    const placed = placeLabels(labels, labels.map((_, i) => i), { x: 0, y: 0, w: 300, h: 200 });
    const boxes = placed.filter((p) => p).map((p) => p!.box);
    expect(boxes.length).toBeGreaterThan(4);
    expect(boxes.length).toBeLessThan(40);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) expect(overlaps(boxes[i], boxes[j])).toBe(false);
    for (const b of boxes) for (const q of labels) expect(overlaps(b, { x: q.x - q.r, y: q.y - q.r, w: 2 * q.r, h: 2 * q.r })).toBe(false);
    expect(placed[0]).not.toBeNull(); // first in order gets its place
  });

  it("cuts text to fit with an ellipsis", () => {
    const ctx = { measureText: (t: string) => ({ width: 6 * t.length }) };
    expect(fitText(ctx, "short", 60)).toBe("short");
    const cut = fitText(ctx, "R(gaussian_noise)", 60);
    expect(cut.endsWith("…")).toBe(true);
    expect(6 * cut.length).toBeLessThanOrEqual(60);
  });
});

describe("bands", () => {
  it("finds few levels and spreads each level's samples over its band in order", () => {
    expect(levels([0, 1, 1, NaN, 0])).toEqual([0, 1]);
    expect(levels(Array.from({ length: 20 }, (_, i) => i))).toBeNull();
    const v = [1, 0, 1, 1, 0, NaN];
    const next = [5, 1, 9, 2, 3, 0];
    const off = bandOffsets(v, undefined, next);
    // level 1: samples 2 (next 9), 0 (5), 3 (2) from the top; level 0: 4 (3), 1 (1)
    expect(Array.from(off)).toEqual([0, 0.25, -1 / 3, 1 / 3, -0.25, 0].map((x) => Math.fround(x)));
    for (const o of off) expect(Math.abs(o)).toBeLessThan(0.5);
    expect(bandHeight([10, 50, 200])).toBeCloseTo(28, 12);
    expect(bandHeight([100])).toBe(48);
  });
});

describe("dark palette", () => {
  it("lifts the colours under 3:1 on the dark background and keeps the light theme's", () => {
    const dark = { dark: true, bg: "#111111" };
    expect(paletteFor([], { dark: false, bg: "#ffffff" })).toEqual(CATEGORICAL);
    const p = paletteFor([], dark);
    p.forEach((c, i) => {
      expect(contrast(hexToRgb(c), hexToRgb(dark.bg))).toBeGreaterThanOrEqual(3);
      if (contrast(hexToRgb(CATEGORICAL[i]), hexToRgb(dark.bg)) >= 3) expect(c.toLowerCase()).toBe(CATEGORICAL[i].toLowerCase());
    });
    const own = paletteFor(["#332288", "#F28E2B"], dark); // a view's own indigo is lifted
    expect(own[0].toLowerCase()).not.toBe("#332288");
    expect(contrast(hexToRgb(own[0]), hexToRgb(dark.bg))).toBeGreaterThanOrEqual(3);
    expect(own[1].toLowerCase()).toBe("#f28e2b");
    expect(contrast([255, 255, 255], [0, 0, 0])).toBeCloseTo(21, 9);
  });
});

describe("labels keep off drawn lines", () => {
  it("crosses() agrees with a brute-force walk along the segment", () => {
    const box = { x: 10, y: 10, w: 20, h: 10 };
    let seed = 7;
    const rnd = () => { seed = (seed * 16807) % 2147483647; return (seed / 2147483647) * 50 - 5; };
    for (let k = 0; k < 300; k++) {
      const s: Segment = [rnd(), rnd(), rnd(), rnd()];
      let hit = false;
      for (let i = 0; i <= 2000 && !hit; i++) {
        const t = i / 2000, x = s[0] + t * (s[2] - s[0]), y = s[1] + t * (s[3] - s[1]);
        hit = x > box.x + 1e-6 && x < box.x + box.w - 1e-6 && y > box.y + 1e-6 && y < box.y + box.h - 1e-6;
      }
      if (hit) expect(crosses(s, box)).toBe(true); // a miss by the walk may still graze an edge
    }
    expect(crosses([0, 0, 5, 5], box)).toBe(false);
    expect(crosses([0, 15, 50, 15], box)).toBe(true);
  });

  it("a label moves off a line through its first position, and stays LABEL_GAP from others", () => {
    const q: LabelRequest = { x: 100, y: 100, w: 40, h: 12, r: 5 };
    const first = placeLabels([q], [0], { x: 0, y: 0, w: 300, h: 200 })[0]!;
    const through: Segment = [first.box.x - 5, first.box.y + 6, first.box.x + 50, first.box.y + 6];
    const moved = placeLabels([q], [0], { x: 0, y: 0, w: 300, h: 200 }, [], [through])[0]!;
    expect(crosses(through, moved.box)).toBe(false);
    // with every position crossed, the label is still shown (over the line)
    const all: Segment[] = [[0, 0, 300, 200], [0, 200, 300, 0], [100, 0, 100, 200], [0, 100, 300, 100]];
    expect(placeLabels([q], [0], { x: 0, y: 0, w: 300, h: 200 }, [], all)[0]).not.toBeNull();
    const two = placeLabels([q, { ...q, y: 101 }], [0, 1], { x: 0, y: 0, w: 300, h: 200 });
    const [a, b] = two.map((p) => p!.box);
    const gap = Math.max(b.x - (a.x + a.w), a.x - (b.x + b.w), b.y - (a.y + a.h), a.y - (b.y + b.h));
    expect(gap).toBeGreaterThanOrEqual(LABEL_GAP - 1e-9);
  });
});
