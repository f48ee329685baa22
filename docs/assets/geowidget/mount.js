// Mounts every live view of a page: each .gw-live block holds the state the widgets' own
// exporter wrote (what to_html() embeds); the bundle next to this file draws it, no kernel.
import * as gw from "./widgets.js";

const models = {};
for (const block of document.querySelectorAll(".gw-live")) {
  const state = JSON.parse(block.querySelector("script.gw-state").textContent);
  Object.assign(models, gw.standalone(block.querySelector(".gw-live-root"), state).models);
}
window.geowidget = { models, render: gw.default.render };
