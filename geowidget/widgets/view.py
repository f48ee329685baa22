"""The view classes: what every view shares, views of samples, of cells, and of slabs.

- :class:`GeoView`: the anywidget plumbing every view shares: the one bundled module (``_esm``)
  and its styles (``_css``, so they travel with the widget into shadow roots such as
  marimo's), the renderer kind, metadata, binary arrays, the link id, theme, height, and
  standalone HTML and PNG export (:mod:`geowidget.widgets.export`). An invalid trait value,
  set from Python or sent by the browser, raises
  :class:`~geowidget.widgets.traits.TraitValueError`; traitlets then keeps the old value, and
  a value that came from the browser is sent back to it together with the error, so both
  sides stay valid. The browser sets public traits only: an update that touches a private one
  (``_meta``, ``_arrays``, ``_esm``, ...) is refused whole, the same way.
- :class:`SampleView`: views whose marks are samples. They share ``selected`` (sample ids),
  checked in linear time against the view's ids.
- :class:`PickerView`: views with the ``model`` / ``layer`` / ``condition`` pickers over a
  :class:`~geowidget.coords.Coords`, which resolves ``model=``, ``layer=``, ``sparsity=``,
  ``benchmark=`` and ``severity=`` as ``cube.slice`` does (:func:`~geowidget.widgets.slab.pick_cell`).
- :class:`SlabView`: sample views with pickers over a :class:`~geowidget.widgets.slab.Slab`
  (polar plot, histogram, parallel coordinates, ...), with ``classes`` and ``palette``. When
  the slab fits in ``budget`` bytes every cell is sent at once and the browser switches cells
  with no kernel round trip; above it the browser asks for one cell at a time through the
  ``_slice`` command (anywidget's request / response), and every request gets a reply, an
  error when need be.

Every view is built the way Altair's ``JupyterChart`` is: its constructor computes the whole
state (metadata, arrays, picks) and hands it to one ``super().__init__(**state)``, so the
widget opens its comm with its data, in one message, and a constructor that raises leaves no
half-built widget in the page. Constructor keywords are trait names.

Views are linked with :func:`geowidget.widgets.link.link`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import numpy as np
import traitlets as t
from anywidget.experimental import command

from geowidget._validation import Interval, Options, OutputFile, describe, validate_params
from geowidget.coords import Coords
from geowidget.widgets import png as png_export
from geowidget.widgets.codec import (
    array_serialization,
    arrays_serialization,
    encode,
    wire_array,
)
from geowidget.widgets.data import IdIndex, check_sample_ids, sorted_unique, sprite_atlas
from geowidget.widgets.export import CSS_PATH, ESM_PATH, save_png, write_html
from geowidget.widgets.slab import ARRAY_KEYWORDS, Slab, pick_cell
from geowidget.widgets.traits import Bool, Colors, Enum, Int, List, TraitValueError, as_is, invalid

__all__ = ["BROWSER_WRITABLE_PRIVATE", "DEFAULT_BUDGET", "GeoView", "PickerView", "SampleView",
           "SlabView"]

DEFAULT_BUDGET = 64 * 2**20
MAX_REQUEST_ID = 64  # characters; anywidget's ids are 36-character UUIDs
# the one private trait the ipywidgets front end itself writes (its experimental view count)
BROWSER_WRITABLE_PRIVATE = frozenset({"_view_count"})
# DOM widget traits every view inherits; not a view's own keywords
_DOM_TRAITS = ("layout", "tabbable", "tooltip", "keys")


# ---------------------------------------------------------------------------- every view
class GeoView(anywidget.AnyWidget):
    """What every view shares: transport, link id, theme, height, errors, HTML and PNG export."""

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

    # the constructor keywords that are not traits: the data and how to read it (a cube,
    # plain arrays, a network, ...); every other keyword is a trait of the same name
    data_keywords: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **state: Any) -> None:
        self._refuse_unknown(state)
        self._png = png_export.PngRequests()
        super().__init__(**state)
        self.on_msg(self._on_png_message)

    def _refuse_unknown(self, state: dict[str, Any]) -> None:
        """A keyword that is no trait is refused before it can change what is picked (a
        misspelt ``corruption=`` must not fall back to the clean condition)."""
        unknown = sorted(set(state) - set(self.class_trait_names()))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) "
                            f"{unknown}; valid: {self.keywords()}")

    @classmethod
    def keywords(cls) -> list[str]:
        """Every keyword the constructor takes: the view's public traits and its
        :attr:`data_keywords`."""
        sig = inspect.signature(cls.__init__)
        own = [p.name for p in sig.parameters.values()
               if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD
                                               and p.name != "self")]
        traits = [n for n in cls.class_trait_names(sync=True) if not n.startswith("_")
                  and n not in _DOM_TRAITS]
        return sorted(set(own) | set(traits) | set(cls.data_keywords))

    def _on_png_message(self, _widget: Any, content: Any, buffers: list) -> None:
        """Views announcing themselves, and PNG replies (see :meth:`to_png`)."""
        if isinstance(content, dict):
            self._png.on_message(content, buffers)

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
        # anywidget answers commands (its handler, registered with on_msg); requests it would
        # drop (or fail on: no "msg", a name that is not a string) or echo unbounded get an
        # error reply here, before it sees them, so every request from the browser is
        # answered, with a bounded id. anywidget has no public hook that runs first.
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

    def _shown_cells(self) -> tuple[Any, list[tuple[int, int, int]]]:
        """The cube and the (model, layer, condition) cells this view shows now: an export
        computes them first where the cube is live (none for a view of no cube)."""
        return None, []

    def _cells_computed(self) -> None:
        """Read what a live cube computed anew (an export calls it once the cells of
        :meth:`_shown_cells` are computed, before it takes the state)."""

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

    @validate_params({
        "path": [OutputFile()],
        "scale": [Interval(float, 0, png_export.MAX_SCALE, closed="right")],
        "via": [Options(*png_export.VIAS)],
        "timeout": [Interval(float, 0, png_export.MAX_TIMEOUT, closed="right")],
    })
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
            Seconds to wait for the renderer, in (0, 3600].

        Returns
        -------
        PngExport
            A ``concurrent.futures.Future``: ``result()`` is the written path; ``size`` is
            (width, height) in pixels once written.
        """
        return save_png(self, path, scale, via, timeout)


# ---------------------------------------------------------------------------- sample views
class SampleView(GeoView):
    """A view whose marks are samples: it shares ``selected`` (sample ids) with linked views.

    A subclass indexes its ids with :meth:`_wire_ids` before its one ``super().__init__``
    call, so that a ``selected`` given to the constructor is checked against them.
    """

    selected = t.Any(np.zeros(0, np.int64)).tag(sync=True, **array_serialization)
    _ids: IdIndex | None = None
    _sample_ids = np.zeros(0, np.int64)

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


# ---------------------------------------------------------------------------- pickers
class PickerView(GeoView):
    """A view with ``model`` / ``layer`` / ``condition`` pickers over a :class:`Coords`.

    The constructor resolves ``model=`` and ``layer=`` (names or positions) and the condition
    (``sparsity=``, ``benchmark=``, ``severity=``, or ``condition=`` a position) through the
    coordinates, exactly as ``cube.slice`` does: an unknown value raises the ``KeyError`` of
    :meth:`Coords.index` / :meth:`Coords.condition`, naming the valid ones. With no layer
    given the view starts at the default layer (:attr:`Coords.default_layer`).
    """

    model = Int(0, min=0).tag(sync=True)
    layer = Int(0, min=0).tag(sync=True)
    condition = Int(0, min=0).tag(sync=True)

    def __init__(self, coords: Coords, *, model: str | int | None = None,
                 layer: str | int | None = None, sparsity: float | None = None,
                 benchmark: str | None = None, severity: int | None = None,
                 **state: Any) -> None:
        if "condition" in state and not (sparsity is None and benchmark is None
                                         and severity is None):
            raise TypeError(f"{type(self).__name__} takes condition= (a position) or "
                            "sparsity= / benchmark= / severity=, not both")
        self._refuse_unknown(state)
        self._coords = coords
        super().__init__(**{**pick_cell(coords, model, layer, sparsity, benchmark, severity),
                            **state})

    @property
    def coords(self) -> Coords:
        """The models, layers and conditions the pickers choose from."""
        return self._coords

    @t.validate("model", "layer", "condition")
    def _valid_pick(self, proposal: Any) -> int:
        name, value = proposal["trait"].name, proposal["value"]
        names = self._coords.names(name)
        if not value < len(names):
            raise invalid(self, name, f"an index in 0..{len(names) - 1} ({name}s "
                          f"{names[:8]})", value)
        return value


# ---------------------------------------------------------------------------- slab views
class SlabView(SampleView, PickerView):
    """A sample view of a :class:`~geowidget.widgets.slab.Slab`: model / layer / condition
    pickers, class filter, palette, and cells sent at once or on demand.

    Subclasses compute their own metadata and arrays, then call
    ``super().__init__(slab, budget=..., _meta=..., _arrays=..., **picks_and_traits)`` once;
    the slab's metadata and arrays are added here.
    """

    classes = List(Int(min=0), items="class indices (ints >= 0)").tag(sync=True)
    palette = Colors().tag(sync=True)
    data_keywords = ("cube", "sparsity", "benchmark", "severity", "budget", *ARRAY_KEYWORDS)

    def __init__(self, slab: Slab, *, budget: int = DEFAULT_BUDGET, **state: Any) -> None:
        self._slab = slab
        meta, arrays = self._slab_state(slab, budget)
        super().__init__(slab.coords, _meta={**meta, **state.pop("_meta", {})},
                         _arrays={**arrays, **state.pop("_arrays", {})}, **state)

    # ---------------------------------------------------------------- data
    def _slab_state(self, slab: Slab, budget: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The metadata and arrays every slab view sends (its ids indexed on the way)."""
        id_arrays, id_meta = self._wire_ids(slab.sample_ids)
        m, ly, k, n = slab.shape
        live = hasattr(slab.cube, "live")  # a live cube: cells computed when asked for
        lazy = slab.nbytes() > budget or live
        # per-sample overhead kept small: uint8 labels for < 256 classes, and ids that are a
        # contiguous range are sent as their start only
        small = len(slab.class_names) <= 255
        arrays: dict[str, np.ndarray] = {
            "labels": slab.labels.astype(np.uint8) if small else slab.labels,
            **id_arrays,
        }
        if not lazy:
            arrays.update(slab.sent(slab.full()))
        meta = {
            **slab.coords.to_json(),  # models, layers, conditions: what the browser names
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
            arrays["atlas"], meta["thumbs"] = sprite_atlas(slab.images)
        return meta, arrays

    def cell(self) -> dict[str, np.ndarray]:
        """The slab arrays of the shown (model, layer, condition) cell, each ``[N]``."""
        return self._slab.cell(self.model, self.layer, self.condition)

    @command
    def _slice(self, msg: Any, buffers: list) -> tuple[dict[str, Any], list]:
        """The browser's request for one cell: ``{"m", "l", "k"}`` -> the cell's arrays, or
        ``{"error"}``. Never raises, so every request is answered."""
        try:
            m, ly, k = self._cell_request(msg)
            names, specs, out = [], [], []
            slab = self._slab
            for name, arr in slab.sent(slab.cell(m, ly, k)).items():
                enc = encode(arr, name)
                names.append(name)
                specs.append({"dtype": enc["dtype"], "shape": enc["shape"]})
                out.append(enc["buffer"])
            return {"cell": [m, ly, k], "names": names, "specs": specs}, out
        except Exception as err:  # a boundary: the browser must get an answer, not a hang
            return {"error": f"{type(err).__name__}: {err}"}, []

    def _handle_custom_msg(self, content: Any, buffers: list) -> None:
        requests = getattr(self._slab.cube, "requests", None)
        if requests is not None and requests.answer(self, content):
            return  # a live cube's cell: computed off the main thread, answered from there
        super()._handle_custom_msg(content, buffers)

    def _cell_request(self, msg: Any) -> tuple[int, int, int]:
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

    def _shown_cells(self) -> tuple[Any, list[tuple[int, int, int]]]:
        return self._slab.cube, [(self.model, self.layer, self.condition)]

    def _cells_computed(self) -> None:
        # the layer labels' probe accuracies: those of the cells computed now
        self._meta = {**self._meta, "probe_accuracy": self._slab.probe_accuracy()}

    def _export(self) -> dict[str, Any]:
        if not self._meta.get("lazy"):
            return {}
        if hasattr(self._slab.cube, "live"):  # the cells a live cube computed, and which
            return self._slab.cube.export_slab(self._slab)
        return {"_slab": self._slab.sent(self._slab.full())}

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
