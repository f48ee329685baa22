// linkView for the views drawn in a Frame: the root carries the selection size and the
// lazy / link flags (tests and styles read them), kernel errors show as notices, the cell
// pickers go in the bar when controls are shown, and the toolbar gets the PNG export (png.ts).

import type { Frame } from "../frame";
import { linkView, type LinkedView, type LinkHandlers, type LinkTraits } from "../link";
import { progressLine } from "../live";
import type { AnyModel } from "../model";
import { attachPng } from "../png";
import type { ViewContext } from "../context";

export function linkFrame(model: AnyModel<LinkTraits>, frame: Frame, ctx: ViewContext, handlers: LinkHandlers, redrawOn: string[]): LinkedView {
  const link = linkView(model, {
    onError: (msg) => frame.notice(msg),
    onPending: (on) => progressLine(frame.root, on),
    ...handlers,
    onSelect: (sel) => {
      frame.root.dataset.selected = String(sel.length);
      handlers.onSelect?.(sel);
    },
  }, {
    invoke: ctx.invoke,
    redrawOn,
    pickerBar: model.get("show_controls") ? frame.bar : null,
  });
  frame.root.dataset.link = link.link;
  frame.root.dataset.lazy = String(!!link.data.meta.lazy);
  frame.root.dataset.selected = String(link.selected().length);
  const detachPng = attachPng(model, frame, handlers.redraw);
  const dispose = link.dispose;
  link.dispose = () => { detachPng(); dispose(); };
  return link;
}
