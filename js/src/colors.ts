// Colour scales: a categorical palette with ten distinct hues (Tableau 10, then the rest of
// Tableau 20 for more than ten categories) and continuous viridis / diverging maps.

export type RGB = [number, number, number];

export const CATEGORICAL: string[] = [
  // Tableau 10: every pair at least 18 apart in CIEDE2000 (js/tests/palette.test.ts)
  "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
  "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
  // Tableau 20's other colours, for categories past ten
  "#A0CBE8", "#FFBE7D", "#8CD17D", "#B6992D", "#499894",
  "#D37295", "#D4A6C8", "#79706E", "#D7B5A6", "#F1CE63",
];
export const MISSING = "#9A9A9A";

const VIRIDIS = [
  "#440154", "#482878", "#3E4989", "#31688E", "#26828E",
  "#1F9E89", "#35B779", "#6ECE58", "#B5DE2B", "#FDE725",
];
// Tol's BuRd diverging scheme (colour-blind safe), negative -> red side.
const DIVERGING = [
  "#B2182B", "#D6604D", "#F4A582", "#FDDBC7", "#F7F7F7",
  "#D1E5F0", "#92C5DE", "#4393C3", "#2166AC",
];

export function hexToRgb(hex: string): RGB {
  let h = hex.trim().replace(/^#/, "");
  if (h.length === 3) h = h.split("").map((c) => c + c).join("");
  if (!/^[0-9a-fA-F]{6}$/.test(h)) throw new Error(`not a hex colour: ${JSON.stringify(hex)}`);
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** Colour of category `i`; cycles when there are more categories than colours. */
export function categorical(i: number, palette: string[] = CATEGORICAL): RGB {
  const p = palette.length ? palette : CATEGORICAL;
  return hexToRgb(p[((i % p.length) + p.length) % p.length]);
}

function ramp(stops: string[], t: number): RGB {
  if (!Number.isFinite(t)) return hexToRgb(MISSING);
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as RGB;
}

export const viridis = (t: number): RGB => ramp(VIRIDIS, t);
export const diverging = (t: number): RGB => ramp(DIVERGING, t);

export type ScaleKind = "categorical" | "continuous" | "diverging";

/** A 256-entry RGBA lookup table for a continuous map (uploaded as a texture). */
export function lut(kind: ScaleKind, n = 256): Uint8Array {
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const c = kind === "diverging" ? diverging(i / (n - 1)) : viridis(i / (n - 1));
    out.set([c[0], c[1], c[2], 255], i * 4);
  }
  return out;
}

/** Finite [min, max] of values (ignoring NaN); [0, 1] when there is none. */
export function extent(values: ArrayLike<number>, mask?: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (mask && !mask[i]) continue;
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(lo <= hi)) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/** Domain for a diverging map: symmetric about zero. */
export function symmetric([lo, hi]: [number, number]): [number, number] {
  const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  return [-m, m];
}

function linear(c: number): number {
  const v = c / 255;
  return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** WCAG contrast ratio of two colours (1 to 21). */
export function contrast(a: RGB, b: RGB): number {
  const lum = (c: RGB) => 0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2]);
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const toHex = (c: RGB) => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;

/**
 * The categorical palette (the view's own, or the default) for a theme. On a dark background
 * each colour under 3:1 contrast with it (WCAG's minimum for graphics; a view's own dark
 * colours, e.g. indigo, are near 1.5:1 on near-black) is mixed with white just enough to reach it,
 * so it keeps its hue. The light theme keeps the colours as they are.
 */
export function paletteFor(palette: string[] | undefined, theme: { dark: boolean; bg: string }): string[] {
  const p = palette && palette.length ? palette : CATEGORICAL;
  if (!theme.dark) return p;
  const bg = hexToRgb(theme.bg);
  return p.map((hex) => {
    const c = hexToRgb(hex);
    let t = 0;
    let out = c;
    while (contrast(out, bg) < 3 && t < 1) {
      t += 0.05;
      out = c.map((v) => Math.round(v + (255 - v) * t)) as RGB;
    }
    return toHex(out);
  });
}
