import { describe, expect, it } from "vitest";
import { allApart, apart, firstApart, keepApart, textBox, wrapText, type Box } from "../src/labels";
import { histYMax } from "../src/views/histogram";

// a monospace "font": 6 px a character
const mono = (t: string) => 6 * t.length;
const row = (xs: number[], w: number): Box[] => xs.map((x) => ({ x: x - w / 2, y: 0, w, h: 10 }));

describe("tick thinning", () => {
  it("apart and allApart: boxes closer than the gap collide", () => {
    const a = { x: 0, y: 0, w: 10, h: 10 };
    expect(apart(a, { x: 14, y: 0, w: 10, h: 10 }, 4)).toBe(true);
    expect(apart(a, { x: 13.9, y: 0, w: 10, h: 10 }, 4)).toBe(false);
    expect(apart(a, { x: 5, y: 14, w: 10, h: 10 }, 4)).toBe(true); // on another line
    expect(allApart(row([0, 20, 40], 12), 4)).toBe(true);
    expect(allApart(row([0, 20, 35], 12), 4)).toBe(false);
  });

  it("keepApart keeps the ends and every label that clears the others", () => {
    // labels 18 px wide every 14 px: every other one fits (28 px apart >= 18 + 4)
    const boxes = row([0, 14, 28, 42, 56, 70, 84], 18);
    const kept = keepApart(boxes, 4);
    expect(kept).toEqual([0, 2, 4, 6]);
    // brute force: no two kept boxes closer than the gap, and none more could be added
    // without breaking that
    for (let i = 0; i < kept.length; i++) for (let j = i + 1; j < kept.length; j++) expect(apart(boxes[kept[i]], boxes[kept[j]], 4)).toBe(true);
    for (let k = 0; k < boxes.length; k++) if (!kept.includes(k)) expect(kept.every((i) => apart(boxes[i], boxes[k], 4))).toBe(false);
  });

  it("keepApart keeps the last label over one just before it", () => {
    // three layer names in a narrow panel: "conv1" at the left edge, "penultimate" ending
    // at the right one, "conv2" between runs into "penultimate"
    const w = 150;
    const boxes = [textBox(0, 10, mono("conv1"), 11, "start"), textBox(w / 2, 10, mono("conv2"), 11), textBox(w, 10, mono("penultimate"), 11, "end")];
    expect(keepApart(boxes)).toEqual([0, 2]);
    expect(keepApart(boxes, 4, 1)).toEqual([0, 1]); // the current layer's name first
    expect(keepApart(boxes.slice(0, 1))).toEqual([0]);
    expect(keepApart([])).toEqual([]);
    // wider: all three
    const wide = [textBox(0, 10, 30, 11, "start"), textBox(150, 10, 30, 11), textBox(300, 10, 66, 11, "end")];
    expect(keepApart(wide)).toEqual([0, 1, 2]);
  });

  it("firstApart picks the first tick set whose labels fit (a narrow polar sector)", () => {
    // angles 86..94 degrees on an arc where a degree is 7 px: "88°" is 18 px wide
    const at = (degs: number[]) => degs.map((d) => textBox((d - 86) * 7, 10, mono(`${d}°`), 11));
    const options = [at([86, 88, 90, 92, 94]), at([86, 90, 94]), at([90])];
    expect(firstApart(options, 4)).toBe(1);
    expect(firstApart([at([86, 87]), at([86, 87.5])], 4)).toBe(1); // none fits: the last
  });

  it("textBox anchors like SVG text", () => {
    expect(textBox(100, 20, 30, 10, "start")).toEqual({ x: 100, y: 12, w: 30, h: 10 });
    expect(textBox(100, 20, 30, 10, "end").x).toBe(70);
    expect(textBox(100, 20, 30, 10).x).toBe(85);
  });
});

describe("label fitting", () => {
  it("wraps names where they read well", () => {
    expect(wrapText(mono, "gaussian_noise", 60, 2)).toEqual(["gaussian_", "noise"]);
    expect(wrapText(mono, "fog", 60, 2)).toEqual(["fog"]);
    expect(wrapText(mono, "lenet-s0 · global_magnitude 90%", 120, 2)).toEqual(["lenet-s0 · global_", "magnitude 90%"]);
  });

  it("every line fits, and the text is whole unless it needs more lines", () => {
    const texts = ["wide_cnn-mpt-s0 · global_magnitude 90%", "a", "impulse_noise", "x".repeat(40)];
    for (const t of texts) {
      for (const w of [30, 60, 90, 240]) {
        for (const n of [1, 2, 3]) {
          const lines = wrapText(mono, t, w, n);
          expect(lines.length).toBeLessThanOrEqual(n);
          for (const l of lines) expect(mono(l)).toBeLessThanOrEqual(w);
          const cut = lines.some((l) => l.endsWith("…"));
          // whole: the lines joined give the text back (spaces at breaks dropped)
          if (!cut) expect(lines.join("").replace(/ /g, "")).toBe(t.replace(/ /g, ""));
        }
      }
    }
    expect(wrapText(mono, "x".repeat(40), 60, 2)).toEqual(["xxxxxxxxx…"]);
    expect(wrapText(mono, "aaaa_bbbb_cccc_dddd", 36, 2)).toEqual(["aaaa_", "bbbb_…"]);
  });
});

describe("histogram scale", () => {
  it("holds the tallest bar, or the tallest stack", () => {
    const counts = [[1, 5, 2], [4, 0, 3], [0, 2, 2]];
    expect(histYMax(counts, false)).toBe(5);
    expect(histYMax(counts, true)).toBe(7); // 5 + 0 + 2 in bin 1, 2 + 3 + 2 in bin 2
    expect(histYMax([], true)).toBe(0);
  });
});
