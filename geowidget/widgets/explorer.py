"""Explorer: ipywidgets controls plus PolarPlot, MarginHistogram, ModelMap and a sample panel,
with selection and pickers linked both in the browser and in Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as ipw
import numpy as np
import traitlets as t

from geowidget.widgets.attribution import AttributionView
from geowidget.widgets.base import GeoView, new_link_id, write_html
from geowidget.widgets.data import sprite_atlas
from geowidget.widgets.histogram import MarginHistogram
from geowidget.widgets.modelmap import ModelMap
from geowidget.widgets.parallel import ParallelCoordinates
from geowidget.widgets.polar import PolarPlot


class SamplePanel(GeoView):
    """The focused sample: its image (from the sprite atlas, sent once), label, prediction,
    θ, ρ and m. It follows hover in linked views in the browser."""

    def __init__(self, cube: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kind = "panel"
        arrays: dict[str, np.ndarray] = {"labels": np.asarray(cube.labels, np.int32),
                                         "ids": np.asarray(cube.sample_ids)}
        thumbs = None
        if cube.images is not None and len(cube.labels):
            arrays["atlas"], thumbs = sprite_atlas(cube.images)
        with self.hold_sync():
            self._meta = {"models": list(cube.models), "layers": list(cube.layers),
                          "conditions": [], "class_names": list(cube.class_names),
                          "shape": [len(cube.models), len(cube.layers), len(cube.conditions),
                                    len(cube.labels)],
                          "lazy": False, "thumbs": thumbs}
            self._arrays = arrays


class Explorer(ipw.VBox):
    """The composed view for one GeometryCube.

    Parameters
    ----------
    cube : GeometryCube
        The data.
    xy, edges : array-like, optional
        Model-map positions ``[M, 2]`` and edges ``[E, 2]``; computed from the cube with the
        comparison engine when not given. Without either, the model map is left out.
    model, inputs : torch.nn.Module and Tensor [N, C, H, W], optional
        With both, an AttributionView shows occlusion maps of the first selected sample.
    **kwargs
        Passed to :class:`PolarPlot` (e.g. ``color=``, ``model=``, ``layer=``).

    Attributes
    ----------
    polar, histogram, parallel, modelmap, attribution, panel : the views (``modelmap`` and
        ``attribution`` may be None)
    """

    selected = t.Any(np.zeros(0, np.int64))

    def __init__(self, cube: Any, *, xy: Any = None, edges: Any = None, model: Any = None,
                 inputs: Any = None, **kwargs: Any) -> None:
        from geowidget.cube import GeometryCube

        if not isinstance(cube, GeometryCube):
            raise TypeError(f"Explorer needs a GeometryCube, got {type(cube).__name__}")
        link = new_link_id()
        self.polar = PolarPlot(cube, show_controls=False, thumbnails=False, _link=link, **kwargs)
        self.histogram = MarginHistogram(cube, show_controls=False, thumbnails=False, _link=link,
                                         height=220)
        self.parallel = ParallelCoordinates(cube, show_controls=False, thumbnails=False,
                                            _link=link, height=240)
        self.attribution: AttributionView | None = None
        if model is not None and inputs is not None:
            self.attribution = AttributionView(model, inputs, cube.labels,
                                               class_names=cube.class_names,
                                               sample_ids=cube.sample_ids, _link=link)
        self.modelmap: ModelMap | None = None
        try:
            if xy is not None:
                self.modelmap = ModelMap(xy=xy, edges=edges, names=cube.models, _link=link,
                                         point_model=np.arange(len(cube.models)), height=260)
            elif len(cube.models) > 1:
                self.modelmap = ModelMap(cube, _link=link, height=260)
        except ValueError:
            self.modelmap = None
        self.panel = SamplePanel(cube, _link=link)
        views: list[GeoView] = [self.polar, self.histogram, self.parallel]
        meta = self.polar._meta
        self.controls = {
            "model": ipw.Dropdown(options=[(m, i) for i, m in enumerate(meta["models"])],
                                  value=self.polar.model, description="model"),
            "layer": ipw.Dropdown(options=[(v, i) for i, v in enumerate(meta["layers"])],
                                  value=self.polar.layer, description="layer"),
            "condition": ipw.Dropdown(
                options=[(c["label"], i) for i, c in enumerate(meta["conditions"])],
                value=self.polar.condition, description="condition"),
        }
        self.class_picker = ipw.SelectMultiple(
            options=[(c, i) for i, c in enumerate(meta["class_names"])], value=(),
            description="classes", rows=min(6, max(2, len(meta["class_names"]))))
        self.color_picker = ipw.Dropdown(options=meta["color_fields"], value=self.polar.color_by,
                                         description="colour")
        self._links = []
        for key, ctl in self.controls.items():
            for v in views:
                self._links.append(t.link((ctl, "value"), (v, key)))
        self._links.append(t.link((self.color_picker, "value"), (self.polar, "color_by")))
        self._links.append(t.link((self.class_picker, "value"), (self.polar, "classes"),
                                  transform=(list, tuple)))
        self._links.append(t.link((self.polar, "classes"), (self.histogram, "classes")))
        self._links.append(t.link((self.polar, "classes"), (self.parallel, "classes")))
        self._selection_views = [*views, self.panel]
        if self.attribution is not None:
            self._selection_views.append(self.attribution)
        self._syncing = False
        for v in self._selection_views:
            v.observe(self._on_selected, "selected")
        if self.modelmap is not None:
            self.modelmap.observe(self._on_active, "active")
        bar = ipw.HBox([*self.controls.values(), self.color_picker])
        row = ipw.HBox([self.class_picker, self.panel])
        children: list[Any] = [bar, self.polar, ipw.HBox([self.histogram]), self.parallel]
        if self.attribution is not None:
            children.append(self.attribution)
        if self.modelmap is not None:
            children.append(self.modelmap)
        children.append(row)
        super().__init__(children=children)

    def _on_selected(self, change: dict[str, Any]) -> None:
        """Keep every view's selection equal (arrays, so traitlets.link cannot compare them)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            new = change["new"]
            for v in self._selection_views:
                if v is not change["owner"] and not np.array_equal(v.selected, new):
                    v.selected = new
            self.selected = new
        finally:
            self._syncing = False

    def _on_active(self, change: dict[str, Any]) -> None:
        mm = self.modelmap
        if mm is None or change["new"] < 0:
            return
        pm = int(mm._arrays["pm"][change["new"]])
        pk = int(mm._arrays["pk"][change["new"]])
        if pm >= 0:
            self.controls["model"].value = pm
        if pk >= 0:
            self.controls["condition"].value = pk

    def views(self) -> list[GeoView]:
        """The anywidget views in page order."""
        out: list[GeoView] = [self.polar, self.histogram, self.parallel]
        if self.modelmap is not None:
            out.append(self.modelmap)
        if self.attribution is not None:
            out.append(self.attribution)
        return [*out, self.panel]

    def to_html(self, path: str | Path, title: str = "geowidget explorer") -> Path:
        """Write the views (with their in-browser pickers) into one standalone HTML file."""
        return write_html(self.views(), path, title, show_controls=True)

    def to_plotly(self) -> Any:
        """The polar plot of the current view as a plotly Figure."""
        return self.polar.to_plotly()
