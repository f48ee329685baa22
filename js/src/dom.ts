// Small DOM helpers. Names are always set as text (textContent), never parsed as HTML.

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function select(
  label: string,
  options: { value: string; text: string }[],
  value: string,
  onChange: (v: string) => void,
  multiple = false,
): HTMLLabelElement {
  const wrap = h("label", { class: "gw-picker" });
  wrap.append(h("span", {}, label));
  const sel = h("select");
  if (multiple) sel.multiple = true;
  sel.setAttribute("data-picker", label);
  for (const o of options) {
    const opt = h("option", { value: o.value }, o.text);
    sel.append(opt);
  }
  sel.value = value;
  sel.addEventListener("change", () => onChange(sel.value));
  wrap.append(sel);
  return wrap;
}

export const CSS = `
.gw-root{font:12px/1.3 var(--jp-ui-font-family,system-ui,sans-serif);color:var(--gw-fg);background:var(--gw-bg);position:relative;border-radius:4px;padding:4px;box-sizing:border-box}
.gw-bar{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-bottom:4px}
.gw-picker{display:inline-flex;gap:3px;align-items:center}
.gw-picker select,.gw-bar button{font:inherit;color:inherit;background:transparent;border:1px solid var(--gw-grid);border-radius:3px;padding:1px 4px}
.gw-bar button.on{background:var(--gw-grid)}
.gw-plot{position:relative}
.gw-plot canvas,.gw-plot svg{position:absolute;left:0;top:0}
.gw-plot svg text{fill:var(--gw-fg);font-size:10px}
.gw-legend{display:flex;flex-wrap:wrap;gap:2px 10px;margin-top:4px}
.gw-legend .item{display:inline-flex;align-items:center;gap:4px;cursor:pointer;user-select:none}
.gw-legend .item.off{opacity:.35}
.gw-legend .sw{width:10px;height:10px;border-radius:50%;display:inline-block}
.gw-tip{position:absolute;pointer-events:none;background:var(--gw-bg);color:var(--gw-fg);border:1px solid var(--gw-grid);padding:4px 6px;border-radius:3px;white-space:pre;z-index:10;display:none;box-shadow:0 1px 4px rgba(0,0,0,.25)}
.gw-msg{position:absolute;left:0;right:0;top:45%;text-align:center;color:var(--gw-muted);pointer-events:none}
.gw-panel{display:flex;gap:10px;align-items:flex-start}
.gw-panel canvas{image-rendering:pixelated;border:1px solid var(--gw-grid)}
`;

let styled = false;
export function ensureStyle(root: Node): void {
  const doc = root.ownerDocument ?? document;
  if (styled && doc.getElementById("geowidget-style")) return;
  if (!doc.getElementById("geowidget-style")) {
    const st = doc.createElement("style");
    st.id = "geowidget-style";
    st.textContent = CSS;
    doc.head.append(st);
  }
  styled = true;
}
