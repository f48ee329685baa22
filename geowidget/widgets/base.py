"""The base classes of the views: what every view shares, sample views, and slab views.

- :class:`GeoView`: the anywidget plumbing every view shares: the one bundled module (``_esm``)
  and its styles (``_css``, so they travel with the widget into shadow roots such as
  marimo's), the renderer kind, metadata, binary arrays, the link id, theme, height, and
  standalone HTML export. An invalid trait value, set from Python or sent by the browser,
  raises :class:`TraitValueError`; traitlets then keeps the old value, and a value that came
  from the browser is sent back to it together with the error, so both sides stay valid.
  The browser sets public traits only: an update that touches a private one (``_meta``,
  ``_arrays``, ``_esm``, ...) is refused whole, the same way.
- :class:`SampleView`: views whose marks are samples. They share ``selected`` (sample ids),
  checked in linear time against the view's ids.
- :class:`SlabView`: sample views of a :class:`~geowidget.widgets.data.Slab` (polar plot,
  histogram, parallel coordinates), with the ``model`` / ``layer`` / ``condition`` pickers and
  ``classes``. When the slab fits in ``budget`` bytes every cell is sent at once and the
  browser switches cells with no kernel round trip; above it the browser asks for one cell at
  a time through the ``_slice`` command (anywidget's request / response), and every request
  gets a reply, an error when need be.

Views are linked with :func:`geowidget.widgets.link.link`.
"""

from __future__ import annotations

import base64
import html
import inspect
import json
import math
import re
import uuid
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t
from anywidget.experimental import command
from ipywidgets.widgets.widget import _remove_buffers

from geowidget._validation import describe
from geowidget.widgets import png as png_export
from geowidget.widgets.codec import (
    array_serialization,
    arrays_serialization,
    encode,
    wire_array,
)
from geowidget.widgets.data import (
    IdIndex,
    Slab,
    check_sample_ids,
    sorted_unique,
    sprite_atlas,
)

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM_PATH = STATIC / "widgets.js"
CSS_PATH = STATIC / "widgets.css"
DEFAULT_BUDGET = 64 * 2**20
MAX_REQUEST_ID = 64  # characters; anywidget's ids are 36-character UUIDs
# the one private trait the ipywidgets front end itself writes (its experimental view count)
BROWSER_WRITABLE_PRIVATE = frozenset({"_view_count"})
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def _read_static(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(
            f"the JS bundle file {path.name} is missing from geowidget/static; run `npm run build`"
        )
    return path.read_text(encoding="utf-8")


class as_is(str):  # noqa: N801 (reads as a function at the call site)
    """Text that error messages show as it is, not quoted (a description of a bad value)."""

    def __repr__(self) -> str:
        return str(self)


# ---------------------------------------------------------------------------- traits
class TraitValueError(t.TraitError, ValueError):
    """An invalid trait value. As a ``TraitError`` it makes traitlets roll the change back;
    as a ``ValueError`` it is what a caller checking arguments expects."""


def invalid(owner: Any, name: str, expected: str, got: Any) -> TraitValueError:
    """The error for trait ``name`` of ``owner``: what was expected and what came."""
    return TraitValueError(f"The {name!r} trait of {type(owner).__name__} must be {expected}. "
                           f"Got {describe(got)} instead.")


class _Checked:
    """Mixin: a trait type whose validation errors are :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return super().validate(obj, value)  # type: ignore[misc]
        except TraitValueError:
            raise
        except t.TraitError as err:
            raise TraitValueError(str(err)) from None


def _bounds(trait: Any, noun: str) -> str:
    lo = "-inf" if trait.min is None else f"{trait.min:g}"
    hi = "inf" if trait.max is None else f"{trait.max:g}"
    return f"{noun} in [{lo}, {hi}]"


class Int(_Checked, t.Int):
    """``traitlets.Int`` (with ``min`` / ``max``) raising :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or \
                (self.min is not None and value < self.min) or \
                (self.max is not None and value > self.max):
            # a bool is an int to Python, but never an index or a size
            raise invalid(obj, self.name, _bounds(self, "an int"), value)
        return super().validate(obj, value)


class Float(_Checked, t.Float):
    """``traitlets.Float`` (with ``min`` / ``max``) that also refuses NaN and infinities."""

    def validate(self, obj: Any, value: Any) -> Any:
        number = value if isinstance(value, int | float | np.number) else None
        if number is None or isinstance(value, bool) or not math.isfinite(number) or \
                (self.min is not None and number < self.min) or \
                (self.max is not None and number > self.max):
            raise invalid(obj, self.name, _bounds(self, "a finite number"), value)
        return super().validate(obj, float(number))


class Enum(_Checked, t.Enum):
    """``traitlets.Enum`` raising :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, str | int | float) or value not in self.values:
            raise invalid(obj, self.name, f"one of {list(self.values)}", value)
        return value


class Bool(_Checked, t.Bool):
    """``traitlets.Bool`` raising :class:`TraitValueError` (numpy bools accepted)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, bool | np.bool_):
            raise invalid(obj, self.name, "a bool", value)
        return bool(value)


class List(_Checked, t.List):
    """``traitlets.List`` raising :class:`TraitValueError`; ``items`` says what each element
    must be (e.g. ``"ints >= 0"``)."""

    def __init__(self, trait: Any = None, items: str = "values", **kwargs: Any) -> None:
        super().__init__(trait, **kwargs)
        self.items = items

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise invalid(obj, self.name, f"a list of {self.items}", value)
        if self._trait is not None:
            for v in value:
                try:
                    self._trait.validate(obj, v)
                except t.TraitError:
                    raise invalid(obj, self.name, f"a list of {self.items}", value) from None
        return super().validate(obj, list(value))


class Dict(_Checked, t.Dict):
    """``traitlets.Dict`` raising :class:`TraitValueError`."""


class Colors(_Checked, t.List):
    """A list of CSS hex colours (``'#1b9e77'`` or ``'#abc'``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(t.Unicode(), **kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        value = super().validate(obj, value)
        bad = [c for c in value if not _HEX.fullmatch(c)]
        if bad:
            raise invalid(obj, self.name, "a list of hex colours like '#1b9e77' or '#abc'", bad)
        return value


# ---------------------------------------------------------------------------- every view
class _OpenWhenBuilt(type(anywidget.AnyWidget)):  # type: ignore[misc]
    """Opens a view's comm once its whole constructor has run (ipywidgets opens it at the end
    of ``Widget.__init__``, before a view has set its data). The browser then gets the view in
    one message, data included, and draws it at once: no empty view first, then its data in a
    second message; and a constructor that raises leaves no half-built widget in the page."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        view = super().__call__(*args, **kwargs)
        view._building = False
        view.open()
        return view


class GeoView(anywidget.AnyWidget, metaclass=_OpenWhenBuilt):
    """What every view shares: transport, link id, theme, height, errors, HTML export."""

    _esm = ESM_PATH
    _css = CSS_PATH
    _kind = t.Unicode("").tag(sync=True)
    _meta = t.Dict().tag(sync=True)
    _arrays = t.Dict().tag(sync=True, **arrays_serialization)
    _link = t.Unicode("").tag(sync=True)
    _link_keys = t.List(t.Unicode()).tag(sync=True)

    theme = Enum(("auto", "light", "dark"), "auto").tag(sync=True)
    show_controls = Bool(True).tag(sync=True)
    height = Int(380, min=60, max=4000).tag(sync=True)  # CSS px

    # keyword arguments a subclass's constructor takes through **kwargs (e.g. plain arrays)
    _more_keywords: tuple[str, ...] = ()

    _building = True  # until the constructor has run: see _OpenWhenBuilt

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(self.class_trait_names()) - set(self._more_keywords))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{unknown}; valid: {self._keywords()}")
        self._png = png_export.PngRequests()
        super().__init__(**kwargs)

    def open(self) -> None:
        """Open the comm to the browser, once the view is built (see _OpenWhenBuilt)."""
        if not self._building:
            super().open()

    @classmethod
    def _keywords(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        own = [p.name for p in sig.parameters.values()
               if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD
                                               and p.name != "self")]
        traits = [n for n in cls.class_trait_names(sync=True) if not n.startswith("_")
                  and n not in ("layout", "tabbable", "tooltip", "keys")]
        return sorted(set(own) | set(traits) | set(cls._more_keywords))

    # ---------------------------------------------------------------- browser boundary
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply state sent by the browser. The update is refused whole, and the browser sent
        back the kernel's values, when a value is invalid or a key is private: private traits
        (``_meta``, ``_arrays``, ``_esm``, ...) are the kernel's to set, never the browser's."""
        try:
            private = sorted(k for k in sync_data if k in self.keys and k.startswith("_")
                             and k not in BROWSER_WRITABLE_PRIVATE)
            if private:
                raise TraitValueError(
                    f"The browser may not set the private trait(s) {private} of "
                    f"{type(self).__name__}; only the kernel sets them. The update was refused.")
            super().set_state(sync_data)
        except (t.TraitError, ValueError, TypeError) as err:
            keys = [k for k in sync_data if k in self.keys]
            self.send_state(keys)  # the browser goes back to the kernel's (valid) values
            self.send({"kind": "geowidget-error", "message": str(err)})
            self.log.warning("geowidget: refused a state update from the browser: %s", err)

    def _handle_custom_msg(self, content: Any, buffers: list) -> None:
        if isinstance(content, dict) and self._png.on_message(content, buffers):
            return  # views announcing themselves, and PNG replies (to_png)
        # anywidget answers commands; requests it would drop (or fail on: no "msg", a name
        # that is not a string) or echo unbounded get an error reply here, so every request
        # from the browser is answered, with a bounded id
        if isinstance(content, dict) and content.get("kind") == "anywidget-command":
            rid, name = content.get("id"), content.get("name")
            commands = getattr(type(self), "_anywidget_commands", {})
            problem = None
            if not isinstance(rid, str) or len(rid) > MAX_REQUEST_ID:
                problem = (f"a request id must be a string of at most {MAX_REQUEST_ID} "
                           f"characters, got {describe(rid)}")
            elif not isinstance(name, str) or name not in commands:
                problem = f"unknown command {describe(name)}; valid: {sorted(commands)}"
            elif "msg" not in content:
                problem = (f"the request for command {name!r} has no 'msg' field (its "
                           "argument; send null for none)")
            if problem:
                self.send({"id": rid[:MAX_REQUEST_ID] if isinstance(rid, str) else None,
                           "kind": "anywidget-command-response",
                           "response": {"error": problem}})
                return
        super()._handle_custom_msg(content, buffers)

    # ---------------------------------------------------------------- export
    def _export(self) -> dict[str, Any]:
        """Extra state for the standalone page (the slab of a lazy view)."""
        return {}

    def to_html(self, path: str | Path, title: str = "geowidget") -> Path:
        """Write one standalone, interactive HTML file that works offline with no kernel.

        The bundled renderer, its styles and a small in-page model (anywidget's model and
        ``invoke`` interface over the saved state) are inlined, so no CDN is needed. Every
        cell is embedded, so pickers and selection keep working.

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

    def to_png(self, path: str | Path, scale: float = 3.0, *, via: str = "auto",
               timeout: float = 60.0) -> png_export.PngExport:
        """Write the current view as a PNG, drawn by its renderer at ``scale`` x its size.

        The view is redrawn with ``scale`` device pixels per CSS pixel (points, density bins
        and lines at that resolution, axes and text as vectors) on an opaque background of its
        theme, with its legend; at ``scale=3`` a view 800 CSS px wide gives a 2400 px image.

        Where it is drawn (``via``):

        - ``"browser"``: by the browser that shows the view, as it is on screen (zoom, picks,
          selection). The kernel reads the answer between cells, so the file is written once
          the calling cell has finished: read ``result()`` in a later cell.
        - ``"chromium"``: by the same renderer in headless Chromium (playwright), from the
          view's state (its traits; a zoom made in a browser is not part of it), laid out
          840 CSS px wide. Done when ``to_png`` returns.
        - ``"auto"``: the browser when one shows the view, else Chromium.

        The path is checked before anything is drawn.

        Parameters
        ----------
        path : str or Path
            The PNG file to write; its directory must exist and be writable.
        scale : float
            Device pixels per CSS pixel, in (0, 10].
        via : {"auto", "browser", "chromium"}
            Where to draw it (above).
        timeout : float
            Seconds to wait for the renderer.

        Returns
        -------
        PngExport
            A ``concurrent.futures.Future``: ``result()`` is the written path; ``size`` is
            (width, height) in pixels once written.
        """
        owner = type(self).__name__
        scale = png_export.check_scale(scale, owner)
        if via not in png_export.VIAS:
            raise ValueError(f"The 'via' parameter of {owner}.to_png must be one of "
                             f"{list(png_export.VIAS)}. Got {describe(via)} instead.")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
                or not math.isfinite(timeout) or timeout <= 0:
            raise ValueError(f"The 'timeout' parameter of {owner}.to_png must be a positive "
                             f"number of seconds. Got {describe(timeout)} instead.")
        if via == "browser" and self._png.views == 0:
            raise RuntimeError(f"{owner}.to_png(via='browser'): no browser shows this view; "
                               "display it first, or use via='chromium'")
        target, tmp = png_export.open_target(path, owner)
        export = png_export.PngExport(target, tmp, scale, owner)
        if via == "browser" or (via == "auto" and self._png.views > 0):
            self._png.request(self, export, timeout)
            return export
        try:
            export._finish(png_export.render_headless(self, scale, timeout))
        except Exception as err:
            export._finish(error=str(err))
        export.result()  # a headless export fails here, at once
        return export


# ---------------------------------------------------------------------------- sample views
class SampleView(GeoView):
    """A view whose marks are samples: it shares ``selected`` (sample ids) with linked views."""

    selected = t.Any(np.zeros(0, np.int64)).tag(sync=True, **array_serialization)

    def __init__(self, **kwargs: Any) -> None:
        self._ids: IdIndex | None = None
        self._sample_ids = np.zeros(0, np.int64)
        super().__init__(**kwargs)

    def _wire_ids(self, ids: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Index the view's sample ids, and say how they travel: the arrays to send
        (``{"ids": ...}``, or none when the ids are a contiguous range, the usual case) and the
        metadata (``n``, and ``ids_start`` for a range)."""
        ids = np.asarray(ids, np.int64)
        self._ids = check_sample_ids(ids)
        wire_array(ids, "sample_ids")  # int32 on the wire: range-checked here, at the boundary
        self._sample_ids = ids
        n = ids.size
        if n == 0 or (ids[-1] - ids[0] == n - 1 and np.all(np.diff(ids) == 1)):
            return {}, {"n": n, "ids_start": int(ids[0]) if n else 0}
        return {"ids": ids}, {"n": n, "ids_start": None}

    @property
    def sample_ids(self) -> np.ndarray:
        """Sample ids of the marks, int64 ``[N]``."""
        return self._sample_ids.copy()

    def known(self, ids: np.ndarray) -> np.ndarray:
        """The ids among ``ids`` (int64) that this view shows, sorted and unique."""
        if self._ids is None:
            return np.zeros(0, np.int64)
        return self._ids.canonical(np.asarray(ids, np.int64).ravel())[0]

    @t.validate("selected")
    def _valid_selected(self, proposal: Any) -> np.ndarray:
        value = proposal["value"]
        arr = np.asarray([] if value is None else value)
        if arr.size and arr.dtype.kind not in "iuf":
            raise invalid(self, "selected", "an int array of sample ids",
                          as_is(f"an array of dtype {arr.dtype}: {arr.ravel()[:5].tolist()}"))
        if arr.dtype.kind == "f" and arr.size and not np.all(np.mod(arr, 1) == 0):
            bad = arr.ravel()[np.mod(arr.ravel(), 1) != 0]  # fractions, NaN and infinities
            raise invalid(self, "selected", "integer sample ids",
                          as_is(f"{bad.size} non-integer id(s), e.g. {bad[:5].tolist()}"))
        ids = (arr if arr.dtype in (np.int32, np.int64) else arr.astype(np.int64)).ravel()
        if self._ids is None:
            return sorted_unique(ids.astype(np.int64))
        out, unknown = self._ids.canonical(ids)
        if unknown.size:
            raise invalid(
                self, "selected",
                f"ids of this view's samples ({self._ids.n} of them, e.g. "
                f"{self._sample_ids[:5].tolist()})",
                as_is(f"{unknown.size} unknown sample id(s), e.g. {unknown[:5].tolist()}"))
        return out


# ---------------------------------------------------------------------------- slab views
class SlabView(SampleView):
    """A sample view of a :class:`~geowidget.widgets.data.Slab`: model / layer / condition
    pickers, class filter, palette, and cells sent at once or on demand."""

    model = Int(0, min=0).tag(sync=True)
    layer = Int(0, min=0).tag(sync=True)
    condition = Int(0, min=0).tag(sync=True)
    classes = List(Int(min=0), items="class indices (ints >= 0)").tag(sync=True)
    palette = Colors().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self._slab: Slab | None = None
        super().__init__(**kwargs)

    # ---------------------------------------------------------------- data
    def _set_slab(self, slab: Slab, budget: int, extra_meta: dict[str, Any],
                  extra_arrays: dict[str, np.ndarray]) -> None:
        id_arrays, id_meta = self._wire_ids(slab.sample_ids)
        self._slab = slab
        m, ly, k, n = slab.shape
        live = hasattr(slab.cube, "live")  # a live cube: cells computed when asked for
        lazy = slab.nbytes() > budget or live
        # per-sample overhead kept small: uint8 labels for < 256 classes, and ids that are a
        # contiguous range are sent as their start only
        small = len(slab.class_names) <= 255
        arrays: dict[str, np.ndarray] = {
            "labels": slab.labels.astype(np.uint8) if small else slab.labels,
        }
        arrays.update(id_arrays)
        if not lazy:
            arrays.update(slab.sent(slab.full()))
        meta = {
            "models": slab.models,
            "layers": slab.layers,
            "conditions": slab.conditions,
            "class_names": slab.class_names,
            "model_info": [{k2: str(v) for k2, v in i.items()} for i in slab.model_info],
            "shape": [m, ly, k, n],
            "lazy": bool(lazy),
            "live": live,
            "slab": slab.dims(),
            "stand_ins": slab.stand_ins,
            "probe_accuracy": slab.probe_accuracy(),  # shown beside the layer names
            "thumbs": None,
            **id_meta,
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

    def cell(self) -> dict[str, np.ndarray]:
        """The slab arrays of the shown (model, layer, condition) cell, each ``[N]``."""
        if self._slab is None:
            raise ValueError(f"this {type(self).__name__} holds no data")
        return self._slab.cell(self.model, self.layer, self.condition)

    @command
    def _slice(self, msg: Any, buffers: list) -> tuple[dict[str, Any], list]:
        """The browser's request for one cell: ``{"m", "l", "k"}`` -> the cell's arrays, or
        ``{"error"}``. Never raises, so every request is answered."""
        try:
            m, ly, k = self._cell_request(msg)
            names, specs, out = [], [], []
            slab = self._slab
            for name, arr in slab.sent(slab.cell(m, ly, k)).items():  # type: ignore[union-attr]
                enc = encode(arr, name)
                names.append(name)
                specs.append({"dtype": enc["dtype"], "shape": enc["shape"]})
                out.append(enc["buffer"])
            return {"cell": [m, ly, k], "names": names, "specs": specs}, out
        except Exception as err:  # a boundary: the browser must get an answer, not a hang
            return {"error": f"{type(err).__name__}: {err}"}, []

    def _handle_custom_msg(self, content: Any, buffers: list) -> None:
        requests = getattr(getattr(self._slab, "cube", None), "requests", None)
        if requests is not None and requests.answer(self, content):
            return  # a live cube's cell: computed off the main thread, answered from there
        super()._handle_custom_msg(content, buffers)

    def _cell_request(self, msg: Any) -> tuple[int, int, int]:
        if self._slab is None:
            raise ValueError(f"this {type(self).__name__} holds no data")
        if not isinstance(msg, dict):
            raise TypeError(f"a slice request is {{'m': int, 'l': int, 'k': int}}, got "
                            f"{describe(msg)}")
        out = []
        for key, size in zip("mlk", self._slab.shape[:3], strict=False):
            v = msg.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < size:
                raise IndexError(f"slice request index {key!r} must be an int in 0..{size - 1}, "
                                 f"got {describe(v)}")
            out.append(v)
        return out[0], out[1], out[2]

    def _export(self) -> dict[str, Any]:
        if self._slab is None or not self._meta.get("lazy"):
            return {}
        if hasattr(self._slab.cube, "live"):  # the cells a live cube computed, and which
            return self._slab.cube.export_slab(self._slab)
        return {"_slab": self._slab.sent(self._slab.full())}

    # ---------------------------------------------------------------- validation
    def _index(self, name: str, names_key: str, value: int) -> int:
        names = self._meta.get(names_key)
        if names is not None and not value < len(names):
            raise invalid(self, name, f"an index in 0..{len(names) - 1} ({names_key} "
                          f"{[str(x) for x in names][:8]})", value)
        return value

    @t.validate("model")
    def _valid_model(self, proposal: Any) -> int:
        return self._index("model", "models", proposal["value"])

    @t.validate("layer")
    def _valid_layer(self, proposal: Any) -> int:
        return self._index("layer", "layers", proposal["value"])

    @t.validate("condition")
    def _valid_condition(self, proposal: Any) -> int:
        return self._index("condition", "conditions", proposal["value"])

    @t.validate("classes")
    def _valid_classes(self, proposal: Any) -> list[int]:
        names = self._meta.get("class_names")
        if names is None:  # before the data: checked again once it is set
            return sorted(set(proposal["value"]))
        bad = [c for c in proposal["value"] if not c < len(names)]
        if bad:
            raise invalid(self, "classes", f"class indices in 0..{len(names) - 1} {names[:8]}",
                          bad)
        return sorted(set(proposal["value"]))

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
                    raise ValueError(f"The {key!r} parameter of {type(self).__name__} must be "
                                     f"one of {names} or an index. Got {value!r} instead.")
                out[key] = names.index(value)
            elif isinstance(value, int | np.integer) and not isinstance(value, bool) \
                    and 0 <= value < len(names):
                out[key] = int(value)
            else:
                raise ValueError(f"The {key!r} parameter of {type(self).__name__} must be one of "
                                 f"{names} or an index in 0..{len(names) - 1}. Got "
                                 f"{describe(value)} instead.")
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

    def _apply_picks(self, picks: dict[str, int], **traits: Any) -> None:
        with self.hold_sync():
            for key in ("model", "layer", "condition", "classes"):
                setattr(self, key, getattr(self, key))  # given before the data: check them now
            for key, value in {**picks, **traits}.items():
                setattr(self, key, value)


# ---------------------------------------------------------------------------- export
def export_state(views: list[GeoView], show_controls: bool | None = None) -> dict[str, Any]:
    """Synced state of ``views``, buffers base64-encoded, with every cell included: a lazy
    view's slab goes in ``_slab``, which the page's model answers ``_slice`` requests from."""
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
               show_controls: bool | None = None) -> Path:
    """Write ``views`` into one standalone HTML page (see :meth:`GeoView.to_html`)."""
    state = json.dumps(export_state(views, show_controls)).replace("<", "\\u003c")
    esm = base64.b64encode(_read_static(ESM_PATH).encode("utf-8")).decode("ascii")
    css = _read_static(CSS_PATH).replace("<", "\\3c ")
    page = _HTML.format(title=html.escape(title), state=state, esm=esm, css=css)
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
