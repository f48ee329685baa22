"""Per-sample geometry of features against a linear head, or against out-of-sample probes.

:func:`geometry` checks its arguments and measures against the given head
(:mod:`geowidget.engine.head_geometry`, where the quantities and their computation are
described) or, with ``direction="probe"``, against linear probes cross-fitted on the features
(:mod:`geowidget.engine.probe`), each sample by a probe that did not see it.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from geowidget._validation import Array, Boolean, Interval, Options, invalid, validate_params
from geowidget.engine.head_geometry import (
    Geometry,
    angle_between,
    check_finite,
    check_together,
    class_means,
    head_geometry,
    pair_distances,
    row_norms,
)
from geowidget.engine.probe import cross_fit

__all__ = [
    "DIRECTIONS", "Geometry", "angle_between", "class_means", "geometry", "pair_distances",
    "row_norms",
]

DIRECTIONS = ("weight", "weight_aug", "mean", "probe")


@validate_params({
    "features": [Array(("N", "D"), dtype="floating")],
    "labels": [Array(("N",), dtype="integer")],
    "weight": [None, Array(("C", "D"), dtype="floating", finite=True)],
    "bias": [None, Array(("C",), dtype="floating", finite=True)],
    "direction": [Options(*DIRECTIONS)],
    "class_directions": [None, Array(("C", "D"), dtype="floating", finite=True)],
    "normalize_norm": [Boolean()],
    "chunk_size": [None, Interval(int, 1, None)],
    "extras": [Boolean()],
    "probe_folds": [Interval(int, 2, None)],
    "probe_seed": [Interval(int, None, None)],
})
def geometry(
    features: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    *,
    direction: str = "weight",
    class_directions: torch.Tensor | None = None,
    normalize_norm: bool = False,
    chunk_size: int | None = None,
    extras: bool = True,
    probe_folds: int = 5,
    probe_seed: int = 0,
) -> Geometry:
    """Angles, norms and exact margins of ``features`` against a linear head.

    Parameters
    ----------
    features : Tensor[N, D]
        Floating point; dtype and device are kept (float64 stays float64, CUDA works).
    labels : Tensor[N]
        Integer true classes in ``[0, C)``.
    weight, bias : Tensor[C, D], Tensor[C], optional
        The linear head ``z = features @ weight.T + bias``. It defines logits, predictions
        and margins. Not needed with ``direction="probe"``.
    direction : {"weight", "weight_aug", "mean", "probe"}
        Class directions for the angles: rows of ``weight``; ``[W_c, b_c]`` against
        ``[h, 1]`` (so that z_c = |u~_c| |h~| cos(angle) exactly, and ``norm`` is |[h, 1]|);
        class mean minus global mean; or linear probes fitted on these features by
        :func:`geowidget.engine.probe.cross_fit`, which then are also the head: each sample
        is measured by a probe fitted on the other ``probe_folds - 1`` folds, never by one
        that saw it (to fit on other data, use :func:`geowidget.engine.probe.fit_probe` and
        pass its weight and bias).
    class_directions : Tensor[C, D], optional
        Explicit directions; overrides ``direction``'s choice of directions.
    normalize_norm : bool
        Divide ``norm`` by sqrt(trace Cov(h)) over these samples, for comparing models.
    chunk_size : int, optional
        Samples per chunk; the default keeps a [chunk, C] float32 buffer near 8 MB, so the
        passes that follow the GEMM stay in the CPU's cache.
    extras : bool
        Also ``avh`` and ``angle_gap``, which need the angle to every class; without them
        (False) both are NaN and the rest costs about one GEMM.
    probe_folds, probe_seed : int
        With ``direction="probe"``: the number of cross-fitting folds, and the seed of their
        stratified assignment.

    Returns
    -------
    Geometry
        ``[N]`` tensors; angles in radians. Zero-norm features get NaN angles and a warning.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]]); w = torch.eye(2)
    >>> g = geometry(h, torch.tensor([0, 0]), w)
    >>> g.angle.tolist(), g.margin.tolist()
    ([0.0, 1.5707963705062866], [0.7071067690849304, -1.4142135381698608])
    """
    if direction == "probe":
        if weight is not None or bias is not None:
            raise invalid(
                "geometry", "weight", "None with direction='probe', which fits its own head",
                weight if weight is not None else bias,
                "or use direction='weight' with your probe's weight",
            )
        features, labels = features.detach(), labels.detach()  # no autograd graph
        check_together(features, labels, None, None, None)
        check_finite(features)
        fit = cross_fit(features, labels, folds=probe_folds, seed=probe_seed)
        g = fit.geometry(features, labels, class_directions=class_directions,
                         chunk_size=chunk_size, extras=extras)
        if normalize_norm:  # over all the samples, not per fold
            h = features.to(torch.float64)
            scale = h.var(dim=0, unbiased=True).sum().sqrt() if len(h) > 1 else 1.0
            g = replace(g, norm=g.norm / torch.as_tensor(scale).to(g.norm))
        return g
    return head_geometry(features, labels, weight, bias, direction=direction,
                         class_directions=class_directions, normalize_norm=normalize_norm,
                         chunk_size=chunk_size, extras=extras)
