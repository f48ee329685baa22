"""Standalone export of the views: HTML pages (every cell embedded) and PNG files.

:func:`export_state` is the one saved-state format (``to_html()``, ``geowidget report`` and
the documentation site all use it), :func:`write_html` the one page template, and
:func:`save_png` the one PNG export (drawn by the browser that shows the view, or by headless
Chromium; see :mod:`geowidget.widgets.png`).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipywidgets.widgets.widget import _remove_buffers

from geowidget.widgets import png as png_export
from geowidget.widgets.codec import arrays_serialization
from geowidget.widgets.livecells import compute_shown

if TYPE_CHECKING:
    from geowidget.widgets.view import GeoView

__all__ = ["CSS_PATH", "ESM_PATH", "STATIC", "export_state", "save_png", "write_html"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM_PATH = STATIC / "widgets.js"
CSS_PATH = STATIC / "widgets.css"


def _read_static(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(
            f"the JS bundle file {path.name} is missing from geowidget/static; run `npm run build`"
        )
    return path.read_text(encoding="utf-8")


def save_png(view: GeoView, path: str | Path, scale: float = 3.0, via: str = "auto",
             timeout: float = 60.0) -> png_export.PngExport:
    """Write ``view`` as a PNG (see :meth:`GeoView.to_png`, which documents and checks the
    arguments)."""
    owner = type(view).__name__
    headless = via == "chromium" or (via == "auto" and view._png.views == 0)
    if not headless and view._png.views == 0:
        raise RuntimeError(f"{owner}.to_png(via='browser'): no browser shows this view; "
                           "display it first, or use via='chromium'")
    target, tmp = png_export.open_target(path, owner)
    export = png_export.PngExport(target, tmp, scale, owner)
    if not headless:
        view._png.request(view, export, timeout)
        return export
    try:
        export._finish(png_export.render_headless(view, scale, timeout))
    except Exception as err:
        export._finish(error=str(err))
    export.result()  # a headless export fails here, at once
    return export


def export_state(views: list[GeoView], show_controls: bool | None = None) -> dict[str, Any]:
    """Synced state of ``views``, buffers base64-encoded, with every cell included: a lazy
    view's slab goes in ``_slab``, which the page's model answers ``_slice`` requests from.
    A view of a live cube holds the cells computed so far, the ones it shows computed first
    (:func:`~geowidget.widgets.livecells.compute_shown`)."""
    compute_shown(views)
    models: dict[str, Any] = {}
    for w in views:
        state = w.get_state()
        for key, value in w._export().items():
            state[key] = arrays_serialization["to_json"](value)
        if show_controls is not None:
            state["show_controls"] = show_controls
        state.pop("_esm", None)
        state.pop("_css", None)
        clean, paths, buffers = _remove_buffers(state)
        models[w.model_id] = {
            "state": clean,
            "buffer_paths": paths,
            "buffers": [base64.b64encode(bytes(b)).decode("ascii") for b in buffers],
        }
    return {"models": models, "views": [w.model_id for w in views]}


def write_html(views: list[GeoView], path: str | Path, title: str = "geowidget",
               show_controls: bool | None = None, row: bool = False) -> Path:
    """Write ``views`` into one standalone HTML page (see :meth:`GeoView.to_html`); ``row``
    puts them side by side where the page is wide enough (stacked where it is not)."""
    state = json.dumps({**export_state(views, show_controls), "row": row}).replace("<", "\\u003c")
    esm = base64.b64encode(_read_static(ESM_PATH).encode("utf-8")).decode("ascii")
    css = _read_static(CSS_PATH).replace("<", "\\3c ")
    page = _HTML.format(title=html.escape(title), state=state, esm=esm, css=css)
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:16px;background:#fff}}</style>
<style id="geowidget-css">{css}</style>
</head><body>
<div id="geowidget-root"></div>
<script type="application/json" id="geowidget-state">{state}</script>
<script type="text/plain" id="geowidget-esm">{esm}</script>
<script type="module">
const b64 = document.getElementById("geowidget-esm").textContent.trim();
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const url = URL.createObjectURL(new Blob([bytes], {{ type: "text/javascript" }}));
const mod = await import(url);
const state = JSON.parse(document.getElementById("geowidget-state").textContent);
window.geowidget = await mod.standalone(document.getElementById("geowidget-root"), state);
window.geowidget.render = mod.default.render;
</script>
</body></html>
"""
