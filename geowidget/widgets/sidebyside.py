"""SideBySide: the polar plots of two models (e.g. regular vs robust, dense vs pruned), with
the same samples linked."""

from __future__ import annotations

from typing import Any

import ipywidgets as ipw
import numpy as np
import traitlets as t

from geowidget.widgets.base import new_link_id, write_html
from geowidget.widgets.polar import PolarPlot


class SideBySide(ipw.HBox):
    """Two PolarPlots of one cube that share layer, condition, classes and selection.

    Parameters
    ----------
    cube : GeometryCube
        The data.
    models : pair of str or int
        The two models (names or indices).
    sparsities : pair of float, optional
        A condition per side, e.g. ``(0.0, 0.9)`` to compare dense with pruned; by default
        both sides follow one shared condition.
    **kwargs
        Passed to both :class:`PolarPlot` views.
    """

    selected = t.Any(np.zeros(0, np.int64))

    def __init__(self, cube: Any, models: tuple[Any, Any] = (0, 1), *,
                 sparsities: tuple[float, float] | None = None, **kwargs: Any) -> None:
        if len(models) != 2:
            raise ValueError(f"models must name two models, got {models!r}")
        link = new_link_id()
        keys = ["layer"] if sparsities is not None else ["layer", "condition"]
        sp = sparsities or (None, None)
        self.left = PolarPlot(cube, model=models[0], sparsity=sp[0], _link=link,
                              _link_keys=keys, **kwargs)
        self.right = PolarPlot(cube, model=models[1], sparsity=sp[1], _link=link,
                               _link_keys=keys, **kwargs)
        self._links = [t.link((self.left, k), (self.right, k)) for k in keys]
        self._links.append(t.link((self.left, "classes"), (self.right, "classes")))
        self._syncing = False
        for v in (self.left, self.right):
            v.observe(self._on_selected, "selected")
        super().__init__(children=[self.left, self.right])

    def _on_selected(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            other = self.right if change["owner"] is self.left else self.left
            if not np.array_equal(other.selected, change["new"]):
                other.selected = change["new"]
            self.selected = change["new"]
        finally:
            self._syncing = False

    def to_html(self, path: Any, title: str = "geowidget side by side") -> Any:
        """Both views in one standalone HTML file (see :meth:`PolarPlot.to_html`)."""
        return write_html([self.left, self.right], path, title)

    def to_plotly(self) -> Any:
        """Both polar plots as one plotly Figure with two polar subplots."""
        from plotly.subplots import make_subplots

        left, right = self.left.to_plotly(), self.right.to_plotly()
        fig = make_subplots(rows=1, cols=2, specs=[[{"type": "polar"}, {"type": "polar"}]],
                            subplot_titles=[left.layout.title.text, right.layout.title.text])
        for col, part in ((1, left), (2, right)):
            for trace in part.data:
                fig.add_trace(trace, row=1, col=col)
        fig.update_polars(sector=[0, 180])
        return fig
