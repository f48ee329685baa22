"""MarginHistogram: the signed-margin distribution, with the misclassified side set apart."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import validate_params
from geowidget.coords import sparsity_text
from geowidget.widgets.slab import CELL_PARAMS, build_slab
from geowidget.widgets.traits import Enum, Int
from geowidget.widgets.view import DEFAULT_BUDGET, SlabView

__all__ = ["GROUPS", "LAYOUTS", "MarginHistogram"]

GROUPS = ("class", "none", "model", "sparsity")
LAYOUTS = ("auto", "stacked", "overlay", "multiples")


class MarginHistogram(SlabView):
    """Histogram of the signed margin m, per class or overlaid for several models or levels.

    Bins are equal width with a bin edge on m = 0; the negative (misclassified) side is
    shaded. The axis spans every sample's margin (its title gives the lowest and highest),
    so no outlier is cut off and the counts equal the other views'. Brushing an x range in the browser selects the samples of the shown cell whose
    margin lies in it (``widget.selected`` gets their sample ids).

    Parameters
    ----------
    cube : GeometryCube, optional
        Or plain arrays as keywords: ``margin`` (and ``angle``, ``norm`` if at hand),
        ``labels``, ``pred``, ``class_names``, ``sample_ids``.
    group_by : {"class", "none", "model", "sparsity"}
        One histogram per class, one for all samples, one per model (same layer and
        condition), or one per sparsity level (same model, layer and benchmark).
    bins : int
        Number of bins (1 to 1000).
    group_layout : {"auto", "stacked", "overlay", "multiples"}
        How the groups share the plot: bars stacked (the classes add up to all samples, and
        each keeps its own colour), outlines overlaid, or small multiples (one panel per
        group, one count scale). ``"auto"`` stacks classes and overlays models or levels
        (the same samples measured several times, which must not be added up). A selection
        shows as the selected part of each group's bars in full colour, the rest faded, so
        the count axis always holds what is drawn.
    model, layer, sparsity, benchmark, severity : optional
        The initial cell, found as ``cube.slice`` finds it (the default layer when no layer
        is given).
    budget : int
        Bytes above which slices are fetched on demand (64 MB).

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.demo import demo_cube
    >>> hist = gw.MarginHistogram(demo_cube(), bins=40)   # doctest: +SKIP
    >>> gw.link(hist, gw.PolarPlot(demo_cube()))          # doctest: +SKIP
    """

    _kind = t.Unicode("histogram").tag(sync=True)
    group_by = Enum(GROUPS, "class").tag(sync=True)
    bins = Int(40, min=1, max=1000).tag(sync=True)
    # not ``layout``: that is every DOM widget's Layout, which the front end reads
    group_layout = Enum(LAYOUTS, "auto").tag(sync=True)

    @validate_params(CELL_PARAMS)
    def __init__(self, cube: Any = None, *, group_by: str = "class", bins: int = 40,
                 group_layout: str = "auto", model: str | int | None = None,
                 layer: str | int | None = None, sparsity: float | None = None,
                 benchmark: str | None = None, severity: int | None = None,
                 budget: int = DEFAULT_BUDGET, **kwargs: Any) -> None:
        if cube is None and "margin" in kwargs:
            n = len(np.asarray(kwargs["margin"]))
            kwargs.setdefault("angle", np.full(n, np.nan, np.float32))
            kwargs.setdefault("norm", np.full(n, np.nan, np.float32))
        super().__init__(build_slab(cube, kwargs), budget=budget, model=model, layer=layer,
                         sparsity=sparsity, benchmark=benchmark, severity=severity,
                         group_by=group_by, bins=bins, group_layout=group_layout, **kwargs)

    def select_range(self, low: float, high: float) -> np.ndarray:
        """Select (as a brush in the browser does) the samples of the shown cell with
        ``low <= m <= high`` among the shown classes; returns and sets their sample ids."""
        slab = self._slab
        m = self.cell()["margin"]
        lo, hi = min(low, high), max(low, high)
        keep = (m >= lo) & (m <= hi)
        if self.classes:
            keep &= np.isin(slab.labels, self.classes)
        self.selected = slab.sample_ids[keep]
        return self.selected

    def groups(self) -> dict[str, np.ndarray]:
        """The margin arrays drawn now, by legend name (finite values, shown classes)."""
        slab = self._slab
        meta = self._meta
        mi, li, ki = self.model, self.layer, self.condition

        def margin(m: int, k: int) -> np.ndarray:
            return slab.cell(m, li, k)["margin"]

        shown = np.isin(slab.labels, self.classes) if self.classes else np.ones(slab.n, bool)
        out: dict[str, np.ndarray] = {}
        if self.group_by == "model":
            for i, name in enumerate(meta["models"]):
                out[name] = margin(i, ki)[shown]
        elif self.group_by == "sparsity":
            bench = meta["conditions"][ki]["benchmark"]
            levels = [c["sparsity"] for c in meta["conditions"]]
            for i, c in enumerate(meta["conditions"]):
                if c["benchmark"] == bench:  # named as the browser names the panel
                    out[f"sparsity {sparsity_text(c['sparsity'], levels)}"] = margin(mi, i)[shown]
        elif self.group_by == "class":
            for c, name in enumerate(meta["class_names"]):
                if self.classes and c not in self.classes:
                    continue
                out[name] = margin(mi, ki)[slab.labels == c]
        else:
            out["all"] = margin(mi, ki)[shown]
        return {k: v[np.isfinite(v)] for k, v in out.items()}

    def to_plotly(self) -> Any:
        """A plotly Figure of the current histograms (overlaid), for PNG or SVG export."""
        import plotly.graph_objects as go

        fig = go.Figure()
        for name, values in self.groups().items():
            fig.add_trace(go.Histogram(x=values, name=name, nbinsx=self.bins, opacity=0.6))
        fig.add_vline(x=0, line_dash="dash")
        fig.add_vrect(x0=min([v.min() for v in self.groups().values() if v.size] + [0]), x1=0,
                      fillcolor="red", opacity=0.08, line_width=0,
                      annotation_text="misclassified (m < 0)")
        stacked = self.group_layout == "stacked" or (self.group_layout == "auto"
                                                     and self.group_by == "class")
        fig.update_layout(barmode="stack" if stacked else "overlay",
                          xaxis_title="margin m (signed)", yaxis_title="count")
        return fig
