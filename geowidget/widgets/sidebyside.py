"""SideBySide: the polar plots of two models (e.g. regular vs robust, dense vs pruned), with
the same samples linked."""

from __future__ import annotations

from typing import Any

import ipywidgets as ipw
import numpy as np
import traitlets as t

from geowidget.widgets.export import write_html
from geowidget.widgets.link import link
from geowidget.widgets.polar import PolarPlot

__all__ = ["SideBySide", "shared_ranges"]


def shared_ranges(cube: Any, models: list[int]) -> list[list[float]]:
    """Per layer, ``[θ min, θ max, ρ min, ρ max]`` over the finite values of ``models`` at
    every condition (θ to the true and to the predicted class); ``[]`` for a layer with no
    finite value."""
    out = []
    for li in range(len(cube.layers)):
        theta = np.concatenate([cube.values(f, model=models, layer=[li]).ravel()
                                for f in ("angle", "angle_pred")])
        rho = cube.values("norm", model=models, layer=[li]).ravel()
        theta, rho = theta[np.isfinite(theta)], rho[np.isfinite(rho)]
        out.append([float(theta.min()), float(theta.max()), float(rho.min()), float(rho.max())]
                   if theta.size and rho.size else [])
    return out


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
    shared_scale : bool
        Both panels show one sector, per layer the range of θ and ρ of both models over
        every condition, so equal radii mean equal norms: a pruned model's shrunken norms
        look shrunken. ``False`` fits each panel to its own data (its shape, not its size).
        Normalising ρ (``normalize=True``) is per panel either way.
    **kwargs
        Passed to both :class:`PolarPlot` views (``layer``, ``benchmark``, ``severity``,
        ``color_by``, ...).

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.demo import demo_cube
    >>> pair = gw.SideBySide(demo_cube(), models=("lenet-s0", "mlp-s0"))   # doctest: +SKIP
    >>> pair.to_html("pair.html")                                         # doctest: +SKIP
    """

    selected = t.Any(np.zeros(0, np.int64))

    def __init__(self, cube: Any, models: tuple[Any, Any] = (0, 1), *,
                 sparsities: tuple[float, float] | None = None, shared_scale: bool = True,
                 **kwargs: Any) -> None:
        from geowidget.cube import GeometryCube

        if not isinstance(cube, GeometryCube):
            raise TypeError(f"The 'cube' parameter of SideBySide must be a GeometryCube. Got "
                            f"{type(cube).__name__} instead.")
        if len(models) != 2:
            raise ValueError(f"models must name two models, got {models!r}")
        if not isinstance(shared_scale, bool | np.bool_):
            raise TypeError(f"shared_scale must be True or False, got {shared_scale!r}")
        keys = ["layer", "classes"] if sparsities is not None else ["layer", "condition",
                                                                    "classes"]
        sp = sparsities or (None, None)
        if shared_scale:
            kwargs["shared_range"] = shared_ranges(
                cube, [cube.coords.index("model", m) for m in models])
        self.left = PolarPlot(cube, model=models[0], sparsity=sp[0], **kwargs)
        self.right = PolarPlot(cube, model=models[1], sparsity=sp[1], **kwargs)
        self.link = link(self.left, self.right, keys=keys)
        self._mirror = t.dlink((self.link, "selected"), (self, "selected"))
        super().__init__(children=[self.left, self.right])

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
