"""Link views: one selection and shared pickers, in the browser and in Python.

``link(*views)`` gives the views one link id, so in the browser they share selection, picks,
hover and thumbnails over an in-page channel with no kernel round trip (also in exported HTML).
In Python it keeps the same traits equal: ``selected`` across sample views, and each key
(``model``, ``layer``, ``condition``, ``classes``, ...) across the views that have it. A view
that stands for picks instead of holding them (``ModelMap``: a point is a model) translates
with two methods, ``pick_of(point)`` and ``point_of(picks)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as ipw
import numpy as np
import traitlets as t

from geowidget._validation import describe
from geowidget.widgets.export import write_html
from geowidget.widgets.view import GeoView, SampleView

__all__ = ["DEFAULT_KEYS", "Link", "link", "new_link_id"]

DEFAULT_KEYS = ("model", "layer", "condition")
# the names each key's values index; views linked on a key must agree on them
_KEY_NAMES = {"model": "models", "layer": "layers", "condition": "conditions",
              "classes": "class_names"}


def new_link_id() -> str:
    """A fresh id for views linked in the browser (shared selection and pickers)."""
    return uuid.uuid4().hex


class Link(t.HasTraits):
    """Views linked by :func:`link`; ``selected`` mirrors their shared selection.

    Attributes
    ----------
    views : tuple of GeoView
    keys : tuple of str
        The linked picker traits.
    selected : numpy.ndarray
        Sample ids selected in any linked view (int64, sorted).
    """

    selected = t.Any(np.zeros(0, np.int64))

    def __init__(self, views: Sequence[GeoView], selection: bool, keys: Sequence[str]) -> None:
        super().__init__()
        self.views = tuple(views)
        self.keys = tuple(keys)
        self.id = new_link_id()
        self._links: list[Any] = []
        self._observers: list[tuple[GeoView, Any, str]] = []
        self._syncing = False
        for v in self.views:
            v._link = self.id
            v._link_keys = [k for k in self.keys if v.has_trait(k)]
        for key in self.keys:
            holders = [v for v in self.views if v.has_trait(key)]
            self._links += [t.link((holders[0], key), (v, key)) for v in holders[1:]]
        self._samples = [v for v in self.views if isinstance(v, SampleView)] if selection else []
        for v in self._samples:
            self._watch(v, self._on_selected, "selected")
        for v in self.views:
            if hasattr(v, "pick_of") and v.has_trait("active"):
                self._watch(v, self._on_active, "active")
        self._pickers = [v for v in self.views if v.has_trait("model")]
        if any(hasattr(v, "point_of") for v in self.views) and self._pickers:
            for key in ("model", "condition"):
                if key in self.keys:
                    self._watch(self._pickers[0], self._on_pick, key)

    def _watch(self, view: GeoView, fn: Any, name: str) -> None:
        view.observe(fn, name)
        self._observers.append((view, fn, name))

    def _on_selected(self, change: dict[str, Any]) -> None:
        """Keep every sample view's selection equal (each keeps the ids it shows)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            new = change["new"]
            for v in self._samples:
                if v is not change["owner"]:
                    ids = v.known(new)
                    if not np.array_equal(v.selected, ids):
                        v.selected = ids
            self.selected = new
        finally:
            self._syncing = False

    def _on_active(self, change: dict[str, Any]) -> None:
        picks = {k: v for k, v in change["owner"].pick_of(change["new"]).items() if k in self.keys}
        for v in self._pickers:
            with v.hold_sync():
                for key, value in picks.items():
                    if v.has_trait(key):
                        setattr(v, key, value)

    def _on_pick(self, change: dict[str, Any]) -> None:
        owner = change["owner"]
        picks = {k: getattr(owner, k) for k in ("model", "condition") if k in self.keys}
        for v in self.views:
            if hasattr(v, "point_of") and v.has_trait("active"):
                point = v.point_of(picks)
                if point >= 0 and point != v.active:
                    v.active = point

    def unlink(self) -> None:
        """Stop linking: the views keep their values but no longer follow each other."""
        for lk in self._links:
            lk.unlink()
        for view, fn, name in self._observers:
            view.unobserve(fn, name)
        for v in self.views:
            v._link = ""
            v._link_keys = []
        self._links, self._observers = [], []

    def to_html(self, path: str | Path, title: str = "geowidget") -> Path:
        """The linked views in one standalone HTML file, still linked (no kernel needed)."""
        return write_html(list(self.views), path, title)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return ipw.VBox(list(self.views))._repr_mimebundle_(**kwargs)


def link(*views: GeoView, selection: bool = True,
         keys: Sequence[str] = DEFAULT_KEYS) -> Link:
    """Link views: a selection in one selects the same samples in the others, and the pickers
    in ``keys`` follow each other, in the browser (no kernel round trip) and in Python.

    Parameters
    ----------
    *views : GeoView
        Two or more views, none linked yet. Views linked on a key must show the same names
        for it (the same models for ``"model"``, ...).
    selection : bool
        Share ``selected`` (sample ids) across the sample views.
    keys : sequence of str
        Picker traits to keep equal across the views that have them: ``"model"``,
        ``"layer"``, ``"condition"``, ``"classes"``. A ModelMap's clicked point picks the
        model (and condition) it stands for.

    Returns
    -------
    Link
        Holds the views; ``link.selected`` mirrors the selection; ``link.unlink()`` undoes it.
        Displaying it shows the views in a column.

    Examples
    --------
    >>> import geowidget as gw                                        # doctest: +SKIP
    >>> polar, hist = gw.PolarPlot(cube), gw.MarginHistogram(cube)    # doctest: +SKIP
    >>> linked = gw.link(polar, hist, keys=("model", "layer"))        # doctest: +SKIP
    """
    if len(views) < 2:
        raise ValueError(f"link needs two or more views, got {len(views)}")
    for v in views:
        if not isinstance(v, GeoView):
            raise TypeError(f"link takes geowidget views, got {type(v).__name__}")
        if v._link:
            raise ValueError(f"{type(v).__name__} is already linked (link id {v._link}); "
                             "unlink() it first")
    if len({id(v) for v in views}) != len(views):
        raise ValueError("link got the same view twice")
    if not isinstance(selection, bool | np.bool_):
        raise TypeError(f"The 'selection' parameter of link must be a bool. Got "
                        f"{describe(selection)} instead.")
    if isinstance(keys, str):
        raise TypeError(f"keys must be a sequence of trait names, got the string {keys!r}; "
                        f"e.g. keys=({keys!r},)")
    for key in keys:
        if not isinstance(key, str) or key.startswith("_"):
            # a private trait is the kernel's: the browser may not set it (see GeoView)
            raise ValueError(f"keys are public picker traits such as {list(_KEY_NAMES)}; "
                             f"got {describe(key)}")
        holders = [v for v in views if v.has_trait(key)]
        if not holders:
            raise ValueError(f"no view has the key {key!r}; keys are picker traits such as "
                             f"{list(_KEY_NAMES)}")
        names = _KEY_NAMES.get(key)
        if names:
            seen = {repr(v._meta.get(names)) for v in holders}
            if len(seen) > 1:
                raise ValueError(f"cannot link {key!r}: the views show different {names} "
                                 f"({[v._meta.get(names) for v in holders]})")
    return Link(views, bool(selection), keys)
