"""Explorer: ipywidgets controls plus PolarPlot, MarginHistogram, ModelMap and a sample panel,
with selection and pickers linked both in the browser and in Python."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import ipywidgets as ipw
import numpy as np
import traitlets as t

from geowidget.widgets.attribution import AttributionView
from geowidget.widgets.data import sprite_atlas
from geowidget.widgets.deprecation import renamed
from geowidget.widgets.evaluation import EvaluationTable
from geowidget.widgets.export import write_html
from geowidget.widgets.histogram import MarginHistogram
from geowidget.widgets.layerprofile import LayerProfile
from geowidget.widgets.link import link
from geowidget.widgets.livecells import is_live
from geowidget.widgets.modelmap import ModelMap
from geowidget.widgets.parallel import ParallelCoordinates
from geowidget.widgets.pickers import CellPickers, Controls
from geowidget.widgets.polar import PolarPlot
from geowidget.widgets.projection import ProjectionView
from geowidget.widgets.view import GeoView, SampleView

__all__ = ["ClassFilter", "Explorer", "SamplePanel", "layer_label"]


class SamplePanel(SampleView):
    """The focused sample: its image (from the sprite atlas, sent once), label, prediction,
    θ, ρ and m. It follows hover in linked views in the browser, and counts the selection."""

    _kind = t.Unicode("panel").tag(sync=True)

    data_keywords = ("cube",)

    def __init__(self, cube: Any, **kwargs: Any) -> None:
        arrays, id_meta = self._wire_ids(cube.sample_ids)
        arrays["labels"] = np.asarray(cube.labels, np.int32)
        thumbs = None
        if cube.images is not None and len(cube.labels):
            arrays["atlas"], thumbs = sprite_atlas(cube.images)
        super().__init__(_meta={"class_names": list(cube.class_names), "thumbs": thumbs,
                                **id_meta}, _arrays=arrays, **kwargs)


def layer_label(meta: dict[str, Any], layer: int, model: int, condition: int) -> str:
    """A layer's name for the layer picker, with its probe's held-out accuracy beside it at a
    layer measured against a linear probe (the same text as js/src/views/layerlabel.ts)."""
    acc = (meta.get("probe_accuracy") or [])
    acc = acc[model][layer][condition] if acc else None
    name = meta["layers"][layer]
    return name if acc is None else f"{name} · probe {100 * acc:.1f}% held-out"


class ClassFilter(ipw.HBox):
    """The classes to show, as a row of toggle buttons (the notebook's own button style, so
    it follows its light or dark theme), one per class; none pressed shows every class.

    ``value`` is the tuple of pressed class indices, in class order.
    """

    value = t.Tuple()

    def __init__(self, class_names: list[str]) -> None:
        self._syncing = False
        self.buttons = [ipw.ToggleButton(value=False, description=str(name),
                                         tooltip=f"show only the pressed classes ({name})",
                                         layout=ipw.Layout(width="auto", min_width="2.5em"))
                        for name in class_names]
        for b in self.buttons:
            b.observe(self._from_buttons, "value")
        label = ipw.Label("classes", layout=ipw.Layout(margin="0 6px 0 0"))
        super().__init__(children=[label, *self.buttons],
                         layout=ipw.Layout(flex_flow="row wrap", align_items="center"))

    def _from_buttons(self, _change: Any) -> None:
        if not self._syncing:
            self.value = tuple(i for i, b in enumerate(self.buttons) if b.value)

    @t.validate("value")
    def _check(self, proposal: Any) -> tuple[int, ...]:
        value = tuple(sorted({int(i) for i in proposal["value"]}))
        if any(not 0 <= i < len(self.buttons) for i in value):
            raise t.TraitError(f"ClassFilter.value: class indices in [0, {len(self.buttons)}), "
                               f"got {proposal['value']!r}")
        return value

    @t.observe("value")
    def _to_buttons(self, change: Any) -> None:
        self._syncing = True  # one change of value, not one per button
        try:
            for i, b in enumerate(self.buttons):
                b.value = i in change["new"]
        finally:
            self._syncing = False


class Explorer(ipw.VBox):
    """The composed view for one GeometryCube, built on :func:`~geowidget.widgets.link.link`.

    Parameters
    ----------
    cube : GeometryCube
        The data.
    xy, edges : array-like, optional
        Model-map positions ``[M, 2]`` and edges ``[E, 2]``; computed from the cube's model
        embedding when not given and the cube holds two or more models (one model: no map).
    model, data : torch.nn.Module and Tensor [N, C, H, W] (or an (x, y) pair), optional
        The network and the cube's samples as its inputs, in the cube's order; with both, an
        AttributionView shows occlusion maps of the first selected sample. (``net=`` and
        ``inputs=`` are their deprecated spellings.) ``model`` is the network here, as in
        AttributionView; the shown model is picked in the Explorer's controls (or set
        ``explorer.polar.model``), and the linked views follow.
    **kwargs
        Passed to :class:`PolarPlot` (e.g. ``color_by=``, ``layer=``, ``sparsity=``,
        ``severity=``).

    Attributes
    ----------
    table, polar, histogram, parallel, profile, modelmap, attribution, panel : the views
        (the evaluation table is at the top; ``profile``, a LayerProfile, only when the cube
        has two or more layers; ``modelmap`` and ``attribution`` may be None)
    projection : ProjectionView or None
        Beside the polar plot when the cube holds projections (the first one stored).
    controls : dict of str to ipywidgets widget
        The pickers, as the views' own read: ``"model"`` (or, for checkpoint runs, ``"run"``
        and a ``"step"`` slider), ``"layer"``, and the condition as ``"sparsity"`` (a slider
        over a long grid), ``"benchmark"`` and ``"severity"`` (a slider, when a benchmark has
        several); see :class:`~geowidget.widgets.pickers.CellPickers`. At a probe layer, the
        layer's entry shows its probe's held-out accuracy for the shown model and condition
        (e.g. ``"conv2 · probe 88.1% held-out"``). ``controls["condition"]`` is deprecated.
    link : Link
        The link between the views.
    selected : numpy.ndarray
        The shared selection (sample ids).

    Notes
    -----
    On a live cube (``Study.live()``) every view computes what it shows when it shows it: the
    polar plot, histogram and parallel coordinates their cell, the layer profile the layers of
    the shown model and condition, all on the cube's request worker (the kernel stays free);
    the table shows the cells computed so far and marks the others not computed; colouring by
    robustness computes the shown model's corrupted conditions at its sparsity (and the
    parallel coordinates' robustness axes with them); the model map computes each model's
    cell it is placed by when the Explorer is made (see :class:`ModelMap`).

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.demo import demo_cube
    >>> explorer = gw.Explorer(demo_cube())               # doctest: +SKIP
    >>> explorer.selected                                 # doctest: +SKIP
    """

    selected = t.Any(np.zeros(0, np.int64))

    def __init__(self, cube: Any, *, xy: Any = None, edges: Any = None, model: Any = None,
                 data: Any = None, **kwargs: Any) -> None:
        from geowidget.cube import GeometryCube

        if not isinstance(cube, GeometryCube):
            raise TypeError(f"Explorer needs a GeometryCube, got {type(cube).__name__}")
        model = renamed(kwargs, "net", "model", model, None, "Explorer")
        data = renamed(kwargs, "inputs", "data", data, None, "Explorer")
        # the polar plot takes the rest: a misspelt keyword is named as Explorer's
        own = {"xy", "edges", "model", "data"}
        shown = (set(PolarPlot.keywords()) | {"color"}) - {"show_controls", "thumbnails"}
        if unknown := sorted(set(kwargs) - shown):
            raise TypeError(f"Explorer got unexpected keyword argument(s) {unknown}; "
                            f"valid: {sorted(own | shown - {'color'})}")
        if isinstance(model, str | int | np.integer):  # the shown model, as Explorer took it
            warnings.warn("Explorer(model=<name or position>) as the shown model is "
                          "deprecated: model= is the network for the attribution panel; set "
                          "explorer.polar.model instead", DeprecationWarning, stacklevel=2)
            kwargs["model"], model = model, None
        # the table leads the link, so it starts at the picks the polar plot is given
        picks = {k: kwargs[k] for k in ("model", "layer", "sparsity", "benchmark", "severity")
                 if k in kwargs}
        # on a live cube the table shows the cells computed so far (livecells.py)
        self.table = EvaluationTable(cube, height=300, **picks)
        self.polar = PolarPlot(cube, show_controls=False, thumbnails=False, **kwargs)
        self.projection: ProjectionView | None = None
        if cube.projections:
            self.projection = ProjectionView(cube, method=next(iter(cube.projections)),
                                             show_controls=False, thumbnails=False)
            self.polar.layout.width = self.projection.layout.width = "50%"
        self.histogram = MarginHistogram(cube, show_controls=False, thumbnails=False, height=220)
        self.parallel = ParallelCoordinates(cube, show_controls=False, thumbnails=False,
                                            height=240)
        self.profile: LayerProfile | None = None
        if len(cube.layers) > 1:
            self.profile = LayerProfile(cube, show_controls=False, thumbnails=False, height=240)
        self.attribution: AttributionView | None = None
        if model is not None and data is not None:
            inputs = data[0] if isinstance(data, tuple | list) and len(data) == 2 else data
            self.attribution = AttributionView(model, inputs, cube.labels,
                                               class_names=cube.class_names,
                                               sample_ids=cube.sample_ids)
        self.modelmap: ModelMap | None = None
        if xy is not None:
            self.modelmap = ModelMap(xy=xy, edges=edges, names=cube.models, height=260,
                                     point_model=np.arange(len(cube.models)))
        elif len(cube.models) > 1:  # on a live cube: computes the cells it is placed by
            self.modelmap = ModelMap(cube, height=260)
        self.panel = SamplePanel(cube)
        self.link = link(*self.views(), keys=("model", "layer", "condition", "classes"))
        # a live cube computes robustness when asked: colouring by it asks for the axes too
        self._robust = (t.dlink((self.polar, "color_by"), (self.parallel, "compute_robustness"),
                                lambda field: field == "robustness")
                        if is_live(cube) else None)
        # every view follows the polar plot's theme (the one Explorer(theme=) sets)
        self._themes = [t.dlink((self.polar, "theme"), (v, "theme"))
                        for v in self.views() if v is not self.polar and v.has_trait("theme")]
        meta = self.polar._meta
        # the model (or run and step), layer and condition (sparsity, benchmark, severity)
        self._pickers = CellPickers(self.polar, cube)
        layer = ipw.Dropdown(options=self._layer_options(), value=self.polar.layer,
                             description="layer")
        self._layer_tie = t.link((layer, "value"), (self.polar, "layer"))
        self.controls = Controls(self.polar, {**self._pickers.models, "layer": layer,
                                              **self._pickers.conditions})
        self.class_picker = ClassFilter(meta["class_names"])
        self.color_picker = ipw.Dropdown(options=meta["color_fields"], value=self.polar.color_by,
                                         description="colour")
        self._controls = [self._layer_tie]
        self._controls.append(t.link((self.color_picker, "value"), (self.polar, "color_by")))
        self._controls.append(t.link((self.class_picker, "value"), (self.polar, "classes"),
                                     transform=(list, tuple)))
        self._controls.append(t.dlink((self.link, "selected"), (self, "selected")))
        if meta.get("probe_accuracy") is not None:  # a probe's accuracy is per model, condition
            self.polar.observe(self._relabel_layers, ["model", "condition"])
        bar = ipw.VBox([ipw.HBox([*self.controls.values(), self.color_picker],
                                 layout=ipw.Layout(flex_flow="row wrap")),
                        self.class_picker])
        row = ipw.HBox([self.panel])
        geometry = self.polar if self.projection is None else ipw.HBox([self.polar,
                                                                        self.projection])
        super().__init__(children=[*self._leading(), bar, geometry, ipw.HBox([self.histogram]),
                                   self.parallel, *self._below(), row])

    def _layer_options(self) -> list[tuple[str, int]]:
        meta, p = self.polar._meta, self.polar
        return [(layer_label(meta, i, p.model, p.condition), i)
                for i in range(len(meta["layers"]))]

    def _relabel_layers(self, _change: Any = None) -> None:
        """Show the held-out accuracies of the shown model and condition's probes."""
        picker, layer = self.controls["layer"], self.polar.layer
        self._layer_tie.unlink()  # new options reset the picker to layer 0: not a pick to pass on
        try:
            picker.options = self._layer_options()
            picker.value = layer
        finally:
            self._layer_tie.link()

    def views(self) -> list[GeoView]:
        """The anywidget views in page order."""
        beside = [] if self.projection is None else [self.projection]
        return [*self._leading(), self.polar, *beside, self.histogram, self.parallel,
                *self._below(), self.panel]

    def _leading(self) -> list[GeoView]:
        """The evaluation table."""
        return [] if self.table is None else [self.table]

    def _below(self) -> list[GeoView]:
        """The views shown only for some cubes or inputs, in page order."""
        return [v for v in (self.profile, self.attribution, self.modelmap) if v is not None]

    def to_html(self, path: str | Path, title: str = "geowidget explorer") -> Path:
        """Write the views (with their in-browser pickers) into one standalone HTML file."""
        return write_html(self.views(), path, title, show_controls=True)

    def to_plotly(self) -> Any:
        """The polar plot of the current view as a plotly Figure."""
        return self.polar.to_plotly()
