// Mounts every live view of a page, from saved state, with the bundle next to this file and
// no kernel:
// - a gallery block (.gw-live) holds the state the widgets' own exporter wrote (what
//   to_html() embeds);
// - an executed notebook's page holds the notebook's widget state (ipywidgets' format) and
//   one widget-view script per output: the geowidget views under that output are mounted
//   after it (containers such as the Explorer's VBox are walked for their views).
import * as gw from "./widgets.js";

const models = {};
for (const block of document.querySelectorAll(".gw-live")) {
  const state = JSON.parse(block.querySelector("script.gw-state").textContent);
  Object.assign(models, gw.standalone(block.querySelector(".gw-live-root"), state).models);
}

const saved = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
if (saved) {
  const all = JSON.parse(saved.textContent).state;
  const geoViews = (id, out = []) => {
    const m = all[id];
    if (!m) return out;
    if (typeof m.state._kind === "string") out.push(id);
    for (const child of m.state.children ?? []) geoViews(String(child).replace("IPY_MODEL_", ""), out);
    return out;
  };
  for (const view of document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
    const ids = geoViews(JSON.parse(view.textContent).model_id);
    if (!ids.length) continue;
    const picked = {};
    for (const id of ids) {
      const buffers = all[id].buffers ?? [];
      picked[id] = { state: all[id].state, buffer_paths: buffers.map((b) => b.path),
                     buffers: buffers.map((b) => b.data) };
    }
    const root = document.createElement("div");
    root.className = "gw-live-root";
    view.after(root);
    Object.assign(models, gw.standalone(root, { models: picked, views: ids }).models);
  }
}
window.geowidget = { models, render: gw.default.render };
