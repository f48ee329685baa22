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
  sel.setAttribute("aria-label", label); // named even where a host restyles or drops the <label>
  for (const o of options) {
    const opt = h("option", { value: o.value }, o.text);
    sel.append(opt);
  }
  sel.value = value;
  sel.addEventListener("change", () => onChange(sel.value));
  wrap.append(sel);
  return wrap;
}
