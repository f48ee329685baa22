import { describe, expect, it } from "vitest";
import { viridis } from "../src/colors";
import { accuracyDomain, accuracyStep, columnMax, hitCell, layoutGrid, MIN_CELL_W, notComputed, STEPS, windowRows, type Grid } from "../src/views/evaltable";

function grid(rows: number, cols: number, bins = 4): Grid {
  const acc = new Float32Array(rows * cols);
  const counts = new Uint16Array(rows * cols * bins);
  for (let i = 0; i < acc.length; i++) acc[i] = (i % 7) / 7;
  for (let i = 0; i < counts.length; i++) counts[i] = (i * 37) % 11;
  acc[1] = NaN;
  return {
    rows, cols, bins, accuracy: acc, counts, edges: new Float32Array(cols * (bins + 1)),
    rowLabels: Array.from({ length: rows }, (_, i) => `r${i}`),
    colLabels: Array.from({ length: cols }, (_, i) => `c${i}`),
    rowGroups: Array.from({ length: rows }, (_, i) => Math.floor(i / 2)),
    colGroups: Array.from({ length: cols }, (_, i) => Math.floor(i / 3)),
    colGroupLabels: Array.from({ length: cols }, (_, i) => `g${i}`),
    classes: 10,
  };
}

describe("evaluation grid layout", () => {
  it("hits every cell at its centre, in any order, and nothing in the gaps", () => {
    const g = grid(5, 7);
    const rowOrder = [4, 2, 3, 0, 1], colOrder = [6, 5, 4, 3, 2, 1, 0];
    const L = layoutGrid(g, 600, 100, rowOrder, colOrder);
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        expect(hitCell(g, L, L.x(c) + L.cellW / 2, L.y(r) + L.cellH / 2)).toEqual({ row: r, col: c });
      }
    }
    // display order follows the orders: row 4 on top, column 6 first
    expect(L.y(4)).toBeLessThan(L.y(2));
    expect(L.x(6)).toBeLessThan(L.x(5));
    // the gap between column groups {0,1,2} and {3,4,5} (shown as 5,4,3 | 2,1,0) holds no cell
    const gapX = L.x(3) + L.cellW + 1;
    expect(gapX).toBeLessThan(L.x(2));
    expect(hitCell(g, L, gapX, L.y(0) + 2)).toBeNull();
    expect(hitCell(g, L, 50, L.y(0) + 2)).toBeNull(); // row labels
    expect(hitCell(g, L, L.x(0) + 2, 5)).toBeNull(); // header
  });

  it("keeps cells readable when many columns do not fit", () => {
    const g = grid(200, 80, 12);
    const L = layoutGrid(g, 900, 160, Array.from({ length: 200 }, (_, i) => i), Array.from({ length: 80 }, (_, i) => i));
    expect(L.cellW).toBe(MIN_CELL_W);
    expect(L.width).toBeGreaterThan(900);
    expect(L.height).toBe(L.headerH + 200 * L.cellH + 99 * 3 + 2);
  });

  it("separates groups only when some group has several members", () => {
    const g = grid(4, 3);
    g.rowGroups = [0, 1, 2, 3];
    g.colGroups = [0, 1, 2];
    const L = layoutGrid(g, 600, 100, [0, 1, 2, 3], [0, 1, 2]);
    expect(L.y(1) - L.y(0)).toBe(L.cellH);
    expect(L.x(2) - L.x(1)).toBe(L.cellW);
    g.rowGroups = [0, 0, 1, 2];
    const G = layoutGrid(g, 600, 100, [0, 1, 2, 3], [0, 1, 2]);
    expect(G.y(2) - G.y(1)).toBe(G.cellH + 3);
    expect(G.y(3) - G.y(2)).toBe(G.cellH + 3);
  });

  it("scales bars per column", () => {
    const g = grid(3, 2, 4);
    const max = columnMax(g);
    for (let c = 0; c < 2; c++) {
      let m = 0;
      for (let r = 0; r < 3; r++) for (let b = 0; b < 4; b++) m = Math.max(m, g.counts[(r * 2 + c) * 4 + b]);
      expect(max[c]).toBe(m);
    }
  });
});

describe("accuracy colours", () => {
  const colour = (v: number, classes: number) => viridis(accuracyStep(v, accuracyDomain(classes)) / (STEPS - 1));
  const distance = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

  it("run from chance to 100 %, whatever cells are computed", () => {
    expect(accuracyDomain(10)).toEqual([0.1, 1]);
    expect(accuracyDomain(2)).toEqual([0.5, 1]);
    expect(accuracyDomain(NaN)).toEqual([0, 1]); // classes unknown
    expect(accuracyDomain(1)).toEqual([0, 1]);
    // the ends of the ramp: chance (and below) darkest, 100 % brightest
    expect(accuracyStep(0.1, accuracyDomain(10))).toBe(0);
    expect(accuracyStep(0.02, accuracyDomain(10))).toBe(0);
    expect(accuracyStep(1, accuracyDomain(10))).toBe(STEPS - 1);
    // by hand: 0.55 is half way from 0.1 to 1
    expect(accuracyStep(0.55, accuracyDomain(10))).toBe(Math.round(0.5 * (STEPS - 1)));
  });

  it("draw a 1.5-point gap as a small step, not a collapse", () => {
    // 89.0 % and 90.5 %, ten classes (the review's cells): a few % of the ramp's length apart
    const ramp = distance(viridis(0), viridis(1));
    const gap = distance(colour(0.89, 10), colour(0.905, 10));
    expect(gap).toBeGreaterThan(0);
    expect(gap / ramp).toBeLessThan(0.05);
    // a real collapse (90 % to 30 %) is far along the ramp
    expect(distance(colour(0.9, 10), colour(0.3, 10)) / ramp).toBeGreaterThan(0.4);
  });
});

describe("table window", () => {
  it("shows whole rows only: every shown row ends inside it and the next would not fit", () => {
    const g = grid(12, 3); // rows in groups of 2: gaps between groups
    const order = Array.from({ length: 12 }, (_, i) => 11 - i);
    const L = layoutGrid(g, 600, 100, order, [0, 1, 2]);
    const bottom = (pos: number) => L.y(order[pos]) + L.cellH; // of the row shown at pos
    for (let maxH = L.headerH + L.cellH + 2; maxH <= L.height + 40; maxH++) {
      const { height, shown } = windowRows(L, g.rows, maxH);
      expect(height).toBeLessThanOrEqual(maxH);
      if (shown === g.rows) { expect(maxH).toBeGreaterThanOrEqual(L.height); expect(height).toBe(maxH >= L.height + 4 ? L.height + 4 : L.height); continue; }
      expect(bottom(shown - 1) + 2).toBe(height); // the window ends at the last shown row
      expect(bottom(shown) + 2).toBeGreaterThan(maxH); // the next row would be cut
    }
  });
});

describe("a live cube's table", () => {
  it("marks the cells the cube has but has not computed, not the ones it never evaluated", () => {
    const condition = Int32Array.from([0, 1, -1, 3]);
    const computed = Uint8Array.from([1, 0, 0, 0]);
    expect(Array.from(notComputed(condition, computed))).toEqual([0, 1, 0, 1]);
  });
});
