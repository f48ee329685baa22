"""The anywidget base class every geowidget view shares: data transport, selection, export.

Every view points ``_esm`` at the one bundled module ``geowidget/static/widgets.js``; the
``_kind`` trait tells the JS entry which renderer to mount. Arrays travel through
:mod:`geowidget.widgets.codec`. When all slices fit in ``budget`` bytes they are sent once, so
the browser switches model, layer or condition with no kernel round trip; above it, slices are
fetched on demand with custom messages (``{"type": "slice", "req", "m", "l", "k"}``) and cached
in the browser, which drops stale replies.
"""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t
from ipywidgets.widgets.widget import _remove_buffers

from geowidget.widgets.codec import (
    array_serialization,
    arrays_serialization,
    encode,
    wire_array,
)
from geowidget.widgets.data import Slab, sprite_atlas

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM_PATH = STATIC / "widgets.js"
DEFAULT_BUDGET = 64 * 2**20
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def _read_esm() -> str:
    if not ESM_PATH.exists():
        raise FileNotFoundError(
            f"the JS bundle {ESM_PATH.name} is missing from geowidget/static; run `npm run build`"
        )
    return ESM_PATH.read_text(encoding="utf-8")


class GeoView(anywidget.AnyWidget):
    """Base class: synced slab arrays, pickers, selection, HTML and plotly export."""

    _esm = ESM_PATH
    _kind = t.Unicode("").tag(sync=True)
    _meta = t.Dict().tag(sync=True)
    _arrays = t.Dict().tag(sync=True, **arrays_serialization)
    _link = t.Unicode("").tag(sync=True)
    _link_keys = t.List(t.Unicode(), ["model", "layer", "condition"]).tag(sync=True)

    selected = t.Any(np.zeros(0, np.int64)).tag(sync=True, **array_serialization)
    model = t.Int(0).tag(sync=True)
    layer = t.Int(0).tag(sync=True)
    condition = t.Int(0).tag(sync=True)
    classes = t.List(t.Int()).tag(sync=True)
    palette = t.List(t.Unicode()).tag(sync=True)
    theme = t.Unicode("auto").tag(sync=True)
    show_controls = t.Bool(True).tag(sync=True)
    height = t.Int(380).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self._slab: Slab | None = None
        super().__init__(**kwargs)
        self.on_msg(self._on_custom_msg)

    # ---------------------------------------------------------------- data
    def _set_slab(self, slab: Slab, budget: int, extra_meta: dict[str, Any],
                  extra_arrays: dict[str, np.ndarray]) -> None:
        if not isinstance(budget, int | np.integer) or budget <= 0:
            raise ValueError(f"budget must be a positive number of bytes, got {budget!r}")
        self._slab = slab
        m, ly, k, n = slab.shape
        lazy = slab.nbytes() > budget
        # per-sample overhead kept small: uint8 labels for < 256 classes, and ids that are a
        # contiguous range are sent as their start only
        small = len(slab.class_names) <= 255
        arrays: dict[str, np.ndarray] = {
            "labels": slab.labels.astype(np.uint8) if small else slab.labels,
        }
        ids = wire_array(slab.sample_ids, "sample_ids")  # int32 on the wire, range-checked
        ids_start = int(ids[0]) if n and np.array_equal(ids, ids[0] + np.arange(n)) else None
        if n == 0:
            ids_start = 0
        if ids_start is None:
            arrays["ids"] = ids
        if not lazy:
            for name, value in slab.metrics.items():
                arrays[name] = value
            arrays["pred"] = slab.pred
        meta = {
            "models": slab.models,
            "layers": slab.layers,
            "conditions": slab.conditions,
            "class_names": slab.class_names,
            "model_info": [{k2: str(v) for k2, v in i.items()} for i in slab.model_info],
            "shape": [m, ly, k, n],
            "lazy": bool(lazy),
            "metrics": list(slab.metrics),
            "thumbs": None,
            "ids_start": ids_start,
        }
        if slab.images is not None and n:
            atlas, info = sprite_atlas(slab.images)
            arrays["atlas"] = atlas
            meta["thumbs"] = info
        meta.update(extra_meta)
        arrays.update(extra_arrays)
        with self.hold_sync():
            self._meta = meta
            self._arrays = arrays

    def _slice_payload(self, m: int, ly: int, k: int) -> tuple[list[str], list[dict], list]:
        slab = self._slab
        if slab is None:
            raise ValueError("this view holds no data")
        names, specs, buffers = [], [], []
        cells = {name: arr[m, ly, k] for name, arr in slab.metrics.items()}
        cells["pred"] = slab.pred[m, k]
        for name, arr in cells.items():
            enc = encode(arr, name)
            names.append(name)
            specs.append({"dtype": enc["dtype"], "shape": enc["shape"]})
            buffers.append(enc["buffer"])
        return names, specs, buffers

    def _on_custom_msg(self, _widget: Any, content: dict[str, Any], buffers: list) -> None:
        if not isinstance(content, dict) or content.get("type") != "slice" or self._slab is None:
            return
        m, ly, k = (int(content.get(key, -1)) for key in ("m", "l", "k"))
        mm, ll, kk, _ = self._slab.shape
        reply: dict[str, Any] = {"type": "slice", "req": content.get("req"), "m": m, "l": ly,
                                 "k": k}
        if not (0 <= m < mm and 0 <= ly < ll and 0 <= k < kk):
            reply["error"] = f"slice ({m}, {ly}, {k}) out of range for shape {[mm, ll, kk]}"
            self.send(reply)
            return
        names, specs, bufs = self._slice_payload(m, ly, k)
        reply["names"], reply["specs"] = names, specs
        self.send(reply, buffers=bufs)

    # ---------------------------------------------------------------- validation
    @t.validate("selected")
    def _valid_selected(self, proposal: Any) -> np.ndarray:
        value = proposal["value"]
        arr = np.asarray([] if value is None else value)
        if arr.dtype.kind == "f" and arr.size and not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"selected must hold integer sample ids, got {arr[:5]}")
        if arr.size and arr.dtype.kind not in "iuf":
            raise TypeError(f"selected must be an int array of sample ids, got dtype {arr.dtype}")
        ids = np.unique(arr.astype(np.int64).ravel())
        if self._slab is not None and ids.size:
            unknown = np.setdiff1d(ids, self._slab.sample_ids)
            if unknown.size:
                raise ValueError(
                    f"selected holds {unknown.size} unknown sample id(s), e.g. {unknown[:5].tolist()};"
                    f" valid ids are this view's sample ids ({self._slab.n} of them, "
                    f"e.g. {self._slab.sample_ids[:5].tolist()})"
                )
        return ids

    def _check_index(self, what: str, value: int, size: int) -> int:
        if not 0 <= value < size:
            raise ValueError(f"{what} index {value} out of range; valid: 0..{size - 1}")
        return value

    @t.validate("model")
    def _valid_model(self, proposal: Any) -> int:
        size = len(self._meta.get("models", [])) or 1
        return self._check_index("model", proposal["value"], size)

    @t.validate("layer")
    def _valid_layer(self, proposal: Any) -> int:
        size = len(self._meta.get("layers", [])) or 1
        return self._check_index("layer", proposal["value"], size)

    @t.validate("condition")
    def _valid_condition(self, proposal: Any) -> int:
        size = len(self._meta.get("conditions", [])) or 1
        return self._check_index("condition", proposal["value"], size)

    @t.validate("classes")
    def _valid_classes(self, proposal: Any) -> list[int]:
        names = self._meta.get("class_names", [])
        bad = [c for c in proposal["value"] if not 0 <= c < len(names)]
        if bad:
            raise ValueError(f"unknown class index(es) {bad}; valid: 0..{len(names) - 1} {names}")
        return list(proposal["value"])

    @t.validate("palette")
    def _valid_palette(self, proposal: Any) -> list[str]:
        bad = [c for c in proposal["value"] if not _HEX.fullmatch(str(c))]
        if bad:
            raise ValueError(f"palette colours must be hex strings like '#1b9e77' or '#abc', "
                             f"got {bad}")
        return list(proposal["value"])

    @t.validate("theme")
    def _valid_theme(self, proposal: Any) -> str:
        if proposal["value"] not in ("auto", "light", "dark"):
            raise ValueError(f"theme {proposal['value']!r} is not one of 'auto', 'light', 'dark'")
        return proposal["value"]

    # ---------------------------------------------------------------- pickers by name
    def _pick(self, model: Any, layer: Any, sparsity: Any, benchmark: Any) -> dict[str, int]:
        out: dict[str, int] = {}
        meta = self._meta
        for key, value in (("model", model), ("layer", layer)):
            if value is None:
                continue
            names = meta[key + "s"]
            if isinstance(value, str):
                if value not in names:
                    raise ValueError(f"unknown {key} {value!r}; valid: {names}")
                out[key] = names.index(value)
            else:
                out[key] = self._check_index(key, int(value), len(names))
        if sparsity is not None or benchmark is not None:
            conds = meta["conditions"]
            bench = "clean" if benchmark is None else benchmark
            sp = 0.0 if sparsity is None else float(sparsity)
            hits = [i for i, c in enumerate(conds)
                    if (c["benchmark"] == bench or c["label"].split("@")[0] == bench)
                    and np.isclose(c["sparsity"], sp)]
            if not hits:
                valid = [c["label"] for c in conds]
                raise ValueError(
                    f"no condition with sparsity={sp!r}, benchmark={bench!r}; valid: {valid}"
                )
            out["condition"] = hits[0]
        return out

    @property
    def sample_ids(self) -> np.ndarray:
        """Sample ids of the points, int64 ``[N]``."""
        return np.zeros(0, np.int64) if self._slab is None else self._slab.sample_ids.copy()

    # ---------------------------------------------------------------- export
    def to_html(self, path: str | Path, title: str = "geowidget") -> Path:
        """Write one standalone, interactive HTML file that works offline with no kernel.

        The bundled renderer and a small in-page model (anywidget's get/set/on/off/
        save_changes/send interface over the saved state) are inlined, so no CDN is needed.
        Every slice is embedded, so pickers and selection keep working.

        Parameters
        ----------
        path : str or Path
            Output file.
        title : str
            The page title (escaped).

        Returns
        -------
        Path
            The written file.
        """
        return write_html([self], path, title)


def export_state(views: list[GeoView], show_controls: bool | None = None) -> dict[str, Any]:
    """Synced state of ``views`` with every slice included and buffers base64-encoded."""
    models: dict[str, Any] = {}
    for w in views:
        state = w.get_state()
        if w._slab is not None and w._meta.get("lazy"):
            full = dict(w._arrays)
            for name, value in w._slab.metrics.items():
                full[name] = value
            full["pred"] = w._slab.pred
            state["_arrays"] = arrays_serialization["to_json"](full)
            state["_meta"] = {**state["_meta"], "lazy": False}
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
               show_controls: bool | None = None) -> Path:
    """Write ``views`` into one standalone HTML page (see :meth:`GeoView.to_html`)."""
    state = json.dumps(export_state(views, show_controls)).replace("<", "\\u003c")
    esm = base64.b64encode(_read_esm().encode("utf-8")).decode("ascii")
    page = _HTML.format(title=html.escape(title), state=state, esm=esm)
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def new_link_id() -> str:
    """A fresh id for views linked in the browser (shared selection and pickers)."""
    return uuid.uuid4().hex


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:16px;background:#fff}}</style>
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
