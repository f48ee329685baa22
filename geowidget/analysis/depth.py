"""Geometry through depth: per model, how angle, norm and margin change from layer to layer.

A cube measured at several layers (a Study with ``layers=[...]``) holds each sample's
geometry at each layer: intermediate layers against a linear probe fitted once per (model,
layer) on the dense model's clean features, the penultimate layer against the model's own
head. :func:`layer_quantiles` summarises the probe set at each layer by quantiles (by
default the 10 %, 50 % and 90 % points), which :class:`geowidget.LayerProfile` draws as one
line (the median) and one band per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from geowidget.cube import GeometryCube

PROFILE_METRICS = ("angle", "norm", "margin")
QUANTILES = (0.1, 0.5, 0.9)


def layer_quantiles(
    cube: GeometryCube,
    metrics: Sequence[str] = PROFILE_METRICS,
    quantiles: Sequence[float] = QUANTILES,
    cells: np.ndarray | None = None,
) -> np.ndarray:
    """Quantiles of each metric over the probe samples, per model, layer and condition.

    Parameters
    ----------
    cube : GeometryCube
    metrics : sequence of str
        Layer metrics of the cube (``angle`` in radians, ``norm``, signed ``margin``, ...).
    quantiles : sequence of float
        In [0, 1], ascending.
    cells : bool ndarray [M, L, K], optional
        Only these cells, read one at a time (a live cube's computed ones); NaN elsewhere.
        Default: every cell, read whole.

    Returns
    -------
    ndarray
        float32 ``[M, L, K, len(metrics), len(quantiles)]``; NaN samples (an undefined angle,
        say) are left out, and a cell with no finite sample is NaN.

    Examples
    --------
    >>> q = layer_quantiles(cube)                          # doctest: +SKIP
    >>> q[0, :, 0, 2, 1]    # model 0's median margin at every layer, first condition
    """
    from geowidget.cube import LAYER_METRICS

    metrics, qs = list(metrics), np.asarray(quantiles, dtype=np.float64)
    unknown = [m for m in metrics if m not in LAYER_METRICS]
    if unknown or not metrics:
        raise ValueError(f"The 'metrics' parameter of layer_quantiles must be a non-empty list "
                         f"of {list(LAYER_METRICS)}. Got {metrics!r} instead.")
    if qs.ndim != 1 or not qs.size or not ((qs >= 0) & (qs <= 1)).all() or (np.diff(qs) < 0).any():
        raise ValueError(f"The 'quantiles' parameter of layer_quantiles must be ascending "
                         f"values in [0, 1]. Got {list(quantiles)!r} instead.")
    m, ly, k, n = (len(cube.models), len(cube.layers), len(cube.conditions), len(cube.labels))
    out = np.full((m, ly, k, len(metrics), qs.size), np.nan, np.float32)
    if n == 0:
        return out
    if cells is not None and np.shape(cells) != (m, ly, k):
        raise ValueError(f"The 'cells' parameter of layer_quantiles must be a bool array of "
                         f"shape [M, L, K] = {[m, ly, k]}. Got shape {np.shape(cells)} instead.")
    for j, name in enumerate(metrics):
        if cells is None:
            out[..., j, :] = _quantiles(getattr(cube, name), qs)
            continue
        for a, b, c in zip(*np.nonzero(cells), strict=True):
            out[a, b, c, j] = _quantiles(cube.values(name, [a], [b], [c])[0, 0, 0], qs)
    return out


def _quantiles(values: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Quantiles ``qs`` over the last axis's finite values: ``[..., Q]``, NaN where none is."""
    values = values.astype(np.float64)
    finite = np.isfinite(values).any(axis=-1)
    with np.errstate(invalid="ignore"):
        q = np.nanquantile(np.where(finite[..., None], values, 0.0), qs, axis=-1)
    return np.moveaxis(np.where(finite[None], q, np.nan), 0, -1)


__all__ = ["PROFILE_METRICS", "QUANTILES", "layer_quantiles"]
