// Follow JupyterLab's light and dark themes, elsewhere (an exported page, the docs site) the
// browser's prefers-color-scheme; or an explicit "light" / "dark".

export interface Theme {
  dark: boolean;
  bg: string;
  fg: string;
  grid: string;
  muted: string;
}

const LIGHT: Theme = { dark: false, bg: "#ffffff", fg: "#222222", grid: "#d0d0d0", muted: "#666666" };
const DARK: Theme = { dark: true, bg: "#111111", fg: "#e6e6e6", grid: "#444444", muted: "#aaaaaa" };

function luminance(css: string): number | null {
  const m = css.match(/rgba?\(([^)]+)\)/);
  if (m) {
    const [r, g, b] = m[1].split(",").map((s) => parseFloat(s));
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  }
  const h = css.trim().match(/^#([0-9a-f]{6})$/i);
  if (h) {
    const n = parseInt(h[1], 16);
    return (0.2126 * (n >> 16) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255)) / 255;
  }
  return null;
}

export function resolveTheme(setting: string, el: Element): Theme {
  if (setting === "dark") return DARK;
  if (setting === "light") return LIGHT;
  const body = typeof document !== "undefined" ? document.body : null;
  const flag = body?.getAttribute("data-jp-theme-light");
  if (flag === "false") return DARK;
  if (flag === "true") return LIGHT;
  const bg = typeof getComputedStyle === "function" ? getComputedStyle(el).getPropertyValue("--jp-layout-color0") : "";
  const lum = bg ? luminance(bg) : null;
  if (lum !== null) return lum < 0.4 ? DARK : LIGHT;
  return prefersDark()?.matches ? DARK : LIGHT;
}

/** The browser's dark-scheme query, or null where there is none (node, old browsers). */
function prefersDark(): MediaQueryList | null {
  return typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
}

/** Paint `root` in `theme`: the CSS variables the stylesheet reads, and data-theme. */
export function paintTheme(root: HTMLElement, theme: Theme): void {
  root.style.setProperty("--gw-bg", theme.bg);
  root.style.setProperty("--gw-fg", theme.fg);
  root.style.setProperty("--gw-grid", theme.grid);
  root.style.setProperty("--gw-muted", theme.muted);
  root.style.color = theme.fg;
  root.dataset.theme = theme.dark ? "dark" : "light";
}

/** Call `fn` when JupyterLab's theme or the browser's colour scheme changes; returns the
 * disconnect function. */
export function watchTheme(fn: () => void): () => void {
  const offs: (() => void)[] = [];
  if (typeof MutationObserver !== "undefined" && typeof document !== "undefined") {
    const obs = new MutationObserver(fn);
    obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    offs.push(() => obs.disconnect());
  }
  const mq = prefersDark();
  if (mq?.addEventListener) {
    mq.addEventListener("change", fn);
    offs.push(() => mq.removeEventListener("change", fn));
  }
  return () => offs.forEach((off) => off());
}
