// The one ES module every geowidget view loads (anywidget `_esm`); `_kind` picks the renderer.

import { hostInvoke, type Invoke } from "./invoke";
import type { AnyModel, GeoTraits } from "./model";
import { RENDERERS } from "./registry";
export { standalone } from "./standalone";

interface RenderProps {
  model: AnyModel<GeoTraits>;
  el: HTMLElement;
  experimental?: { invoke?: Invoke };
}

function render({ model, el, experimental }: RenderProps): () => void {
  const kind = String(model.get("_kind"));
  const r = RENDERERS[kind];
  if (!r) {
    const msg = document.createElement("div");
    msg.textContent = `geowidget: unknown view kind ${JSON.stringify(kind)}; valid: ${Object.keys(RENDERERS).join(", ")}`;
    el.append(msg);
    return () => msg.remove();
  }
  const view = r(model, el, { invoke: hostInvoke(model, experimental?.invoke) });
  return () => view.dispose();
}

export default { render };
