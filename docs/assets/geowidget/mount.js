// Mounts every live view of a page, from saved state, with the bundle next to this file and
// no kernel:
// - a gallery block (.gw-live) holds the state the widgets' own exporter wrote (what
//   to_html() embeds);
// - an executed notebook's page holds the notebook's widget state (ipywidgets' format, slimmed
//   by docs/hooks/notebook_runs.py: a repeated buffer is {same_as: [model id, index]}) and one
//   widget-view script per output. Each output is drawn after its script: geowidget views by
//   the bundle, the boxes around them as flex rows / columns, images, labels and progress bars
//   as they were left. Controls whose effect is Python code (dropdowns, sliders, toggles) need
//   a kernel and are left out (the views beside them show their own pickers instead); a box
//   left with text only is dropped.
import * as gw from "./widgets.js";

const models = {};
for (const block of document.querySelectorAll(".gw-live")) {
  const state = JSON.parse(block.querySelector("script.gw-state").textContent);
  Object.assign(models, gw.standalone(block.querySelector(".gw-live-root"), state).models);
}

const saved = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
if (saved) {
  const all = JSON.parse(saved.textContent).state;
  const ref = (v) => String(v).replace("IPY_MODEL_", "");
  const data = (b) => b.data ?? all[b.same_as[0]].buffers[b.same_as[1]].data;
  const BOXES = { HBoxModel: "row", VBoxModel: "column", BoxModel: "row" }; // site.css: .gw-nb-row, ...
  const TEXT = 1, DRAWN = 2; // what an element shows: text only, or a picture
  const SHOWN = new Set([...Object.keys(BOXES), "ImageModel", "FloatProgressModel", "IntProgressModel",
    "LabelModel", "HTMLModel"]);
  // whether a control only Python code answers (left out) is under `id`
  const kernelOnly = (id) => {
    const s = all[id]?.state;
    if (!s) return false;
    return (typeof s._kind !== "string" && !SHOWN.has(s._model_name))
      || (s.children ?? []).some((c) => kernelOnly(ref(c)));
  };

  const add = (parent, tag, state) => {
    const el = parent.appendChild(document.createElement(tag));
    const layout = all[ref(state.layout)]?.state ?? {};
    for (const key of ["width", "height", "margin"]) if (layout[key]) el.style[key] = layout[key];
    return el;
  };
  // draws model `id` into `parent` (already in the page, so views measure their width); with
  // `pickers`, views show their own pickers in place of the kernel's (as the gallery's do)
  const draw = (id, parent, pickers) => {
    const m = all[id];
    if (!m) return 0;
    const s = m.state;
    if (typeof s._kind === "string") {
      const buffers = m.buffers ?? [];
      const state = pickers ? { ...s, show_controls: true } : s;
      const one = { state, buffer_paths: buffers.map((b) => b.path), buffers: buffers.map(data) };
      Object.assign(models, gw.standalone(add(parent, "div", s), { models: { [id]: one }, views: [id] }).models);
      return DRAWN;
    }
    const name = s._model_name;
    if (BOXES[name]) {
      const box = add(parent, "div", s);
      box.className = `gw-nb-box gw-nb-${BOXES[name]}`;
      const shown = Math.max(0, ...(s.children ?? []).map((c) => draw(ref(c), box, pickers)));
      if (shown < DRAWN) box.remove();
      return shown;
    }
    if (name === "ImageModel") {
      const img = add(parent, "img", s);
      const png = m.buffers?.find((b) => b.path.join() === "value");
      if (png) img.src = `data:image/${s.format || "png"};base64,${data(png)}`;
      img.alt = "";
      return DRAWN;
    }
    if (name === "FloatProgressModel" || name === "IntProgressModel") {
      const bar = add(parent, "progress", s);
      bar.max = s.max - s.min;
      bar.value = s.value - s.min;
      return DRAWN;
    }
    if (name === "LabelModel" || name === "HTMLModel") {
      const text = add(parent, "span", s);
      text.className = "gw-nb-text";
      if (name === "HTMLModel") text.innerHTML = s.value; // the notebook's own output
      else text.textContent = s.value;
      return TEXT;
    }
    return 0;
  };
  for (const view of document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
    const root = document.createElement("div");
    root.className = "gw-live-root";
    view.after(root);
    const id = JSON.parse(view.textContent).model_id;
    if (draw(id, root, kernelOnly(id)) < DRAWN) root.remove();
  }
}
window.geowidget = { models, render: gw.default.render };
