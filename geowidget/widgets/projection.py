"""ProjectionView: samples at the 2-D positions of a projection of their features.

The poster's argument, as a view: PCA, t-SNE and UMAP place samples by distances they distort
(:func:`geowidget.distortion` measures how much), while angle, norm and margin are exact. This
view draws one projection per (model, layer), coloured as the polar plot, and, linked with
one (:func:`geowidget.link`), a lasso here selects the same samples there and the other way
round. Hovering a point shows its exact θ, ρ and m.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget.widgets.codec import as_numpy
from geowidget.widgets.polar import PolarPlot
from geowidget.widgets.slab import build_slab

__all__ = ["ProjectionView", "cube_projection"]


def cube_projection(cube: Any, method: str) -> np.ndarray:
    """The cube's stored ``method`` projection, float32 ``[M, L, N, 2]``; a clear error when
    the cube has none by that name."""
    stored = getattr(cube, "projections", None) or {}
    if method not in stored:
        raise ValueError(
            f"The 'method' parameter of ProjectionView must name a projection the cube holds: "
            f"{sorted(stored)}. Got {method!r} instead. Compute projections with "
            f"Study(..., projections=({method!r},)), or pass positions as xy=..."
        )
    return np.asarray(stored[method], np.float32)


class ProjectionView(PolarPlot):
    """Samples at 2-D projection positions, coloured and linked as the polar plot.

    Parameters
    ----------
    cube : GeometryCube, optional
        The data; its stored projections (``cube.projections``) give the positions. Or pass
        plain arrays as keywords, as for :class:`PolarPlot`, with ``xy``.
    method : str
        Which stored projection to show (``"pca"``, ``"tsne"``, ``"umap"``, ...); with
        ``xy``, the name shown for those positions.
    xy : array-like [N, 2] or [M, L, N, 2], optional
        Positions instead of a stored projection (e.g. from :func:`geowidget.project`):
        one map per (model, layer), or one map when the data has one model and one layer.
        NaN rows are drawn as missing.
    **kwargs
        As for :class:`PolarPlot` (``color_by``, ``model``, ``layer``, ``sparsity``,
        ``benchmark``, ``severity``, ``classes``, ``palette``, ``budget``, ...). The positions stay those of
        the clean, dense model as the condition changes; the colours follow the condition.

    Examples
    --------
    >>> view = ProjectionView(cube, method="umap", color_by="margin")      # doctest: +SKIP
    >>> gw.link(view, gw.PolarPlot(cube))                               # doctest: +SKIP
    """

    _kind = t.Unicode("projection").tag(sync=True)
    data_keywords = (*PolarPlot.data_keywords, "method", "xy")

    def __init__(self, cube: Any = None, method: str = "umap", *, xy: Any = None,
                 **kwargs: Any) -> None:
        if not isinstance(method, str):
            raise TypeError(f"The 'method' parameter of ProjectionView must be a str. "
                            f"Got {type(method).__name__} instead.")
        positions = None if xy is None else as_numpy(xy)
        if positions is None:
            if cube is None:
                raise ValueError("pass a GeometryCube with stored projections, or xy=positions")
            positions = cube_projection(cube, method)
        slab = build_slab(cube, kwargs)
        m, ly, _, n = slab.shape
        self._xy = self._positions(positions, m, ly, n)
        super().__init__(slab, _meta={"projection": method},
                         _arrays={"proj_x": np.ascontiguousarray(self._xy[..., 0]),
                                  "proj_y": np.ascontiguousarray(self._xy[..., 1])}, **kwargs)

    def _positions(self, value: np.ndarray, m: int, ly: int, n: int) -> np.ndarray:
        if value.dtype.kind not in "fiu":
            raise TypeError(f"The 'xy' parameter of ProjectionView must be numeric positions. "
                            f"Got dtype {value.dtype} instead.")
        if value.shape == (n, 2) and m * ly == 1:
            value = value.reshape(1, 1, n, 2)
        if value.shape != (m, ly, n, 2):
            one = f"({n}, 2) or " if m * ly == 1 else ""
            raise ValueError(f"The 'xy' parameter of ProjectionView must have shape {one}"
                             f"({m}, {ly}, {n}, 2) (model, layer, sample, x/y). Got shape "
                             f"{value.shape} instead.")
        return value.astype(np.float32)

    @property
    def positions(self) -> np.ndarray:
        """The positions of the shown (model, layer), float32 ``[N, 2]``."""
        return self._xy[self.model, self.layer].copy()

    def to_plotly(self) -> Any:
        """A plotly Figure of the current map (one ``Scattergl`` trace per class)."""
        import plotly.graph_objects as go

        xy = self.positions
        labels = self._slab.labels
        names = self._meta["class_names"]
        fig = go.Figure()
        for c in np.unique(labels):
            mask = (labels == c) & np.isfinite(xy).all(axis=1)
            if self.classes and c not in self.classes:
                continue
            fig.add_trace(go.Scattergl(x=xy[mask, 0], y=xy[mask, 1], mode="markers",
                                       name=names[int(c)], marker={"size": 4}))
        meta = self._meta
        fig.update_layout(title=f"{meta['projection']} · {meta['models'][self.model]} · "
                                f"{meta['layers'][self.layer]}",
                          yaxis={"scaleanchor": "x"})
        return fig
