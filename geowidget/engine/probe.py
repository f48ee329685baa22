"""Linear probes: class directions for layers that have no linear head of their own.

A probe is a multinomial logistic regression fitted on one layer's features. Its weight rows
serve as class directions (``geometry(..., direction="probe")``) and, with its bias, as the
linear head whose decision boundaries define that layer's margins.

A probe measured on the samples it was fitted on is optimistic: it has placed its boundaries
around exactly those samples, so their margins are too large and too rarely negative (in-sample
error falls towards 0 as the features widen, whatever the true overlap of the classes). So a
sample is only ever measured by a probe that did not see it (:class:`ProbeFit`): either probes
are fitted on separate data (:func:`fit_probe`), or the measured samples are split into
stratified folds and each fold is measured by the probe fitted on the other folds
(:func:`cross_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from geowidget._validation import (
    Array,
    Interval,
    invalid,
    validate_params,
)
from geowidget.engine.threads import torch_threads

__all__ = [
    "FOLDS", "SMALL_PROBLEM", "ProbeFit", "cross_fit", "fit_probe", "linear_probe",
    "stratified_folds",
]

if TYPE_CHECKING:
    from geowidget.engine.geometry import Geometry

SMALL_PROBLEM = 50_000_000  # samples x features x classes below which L-BFGS uses one thread


@validate_params({
    "features": [Array(("N", "D"), dtype="floating", finite=True)],
    "labels": [Array(("N",), dtype="integer")],
    "num_classes": [None, Interval(int, 2, None)],
    "l2": [Interval(float, 0, None)],
    "max_iter": [Interval(int, 1, None)],
    "tol": [Interval(float, 0, None)],
})
def linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int | None = None,
    l2: float = 1e-4,
    max_iter: int = 200,
    tol: float = 1e-9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit softmax regression ``z = W h + b`` by full-batch L-BFGS.

    The objective is mean cross-entropy + ``l2``/2 * |W|_F^2 (the bias is not penalised).
    Features are standardised for conditioning while fitting and the solution is mapped back,
    so the returned head acts on the raw features. Deterministic: no random initialisation.

    Parameters
    ----------
    features : Tensor[N, D]
        Floating point; the result has the same dtype and device.
    labels : Tensor[N]
        Integer classes in ``[0, num_classes)``.
    num_classes : int, optional
        Defaults to ``labels.max() + 1``.
    l2 : float
        Ridge penalty on the standardised weights.
    max_iter, tol
        L-BFGS iteration limit and gradient tolerance.

    Returns
    -------
    weight : Tensor[C, D]
    bias : Tensor[C]

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    >>> w, b = linear_probe(x, torch.tensor([0, 1, 0, 1]))
    >>> (x @ w.T + b).argmax(1).tolist()
    [0, 1, 0, 1]
    """
    if labels.shape != (len(features),):
        raise invalid("linear_probe", "labels", f"of shape ({len(features)},) to match features",
                      labels)
    labels = labels.to(device=features.device, dtype=torch.long)
    lo, hi = int(labels.min()), int(labels.max())
    c = hi + 1 if num_classes is None else num_classes
    if c < 2:
        raise invalid("linear_probe", "labels", "of at least 2 classes", labels,
                      f"they span [{lo}, {hi}]")
    if lo < 0 or hi >= c:
        raise invalid("linear_probe", "labels", f"class indices in [0, {c})", labels,
                      f"they span [{lo}, {hi}]")

    x = features.detach().to(torch.float64)
    n, d = x.shape
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False).clamp_min(1e-12)
    xs = (x - mean) / std
    # Wide layers (D > N, e.g. conv feature maps): the ridge solution lies in the span of the
    # samples (representer theorem), w = a @ xs, so solve for a [C, N] with the Gram matrix.
    dual = d > n and l2 > 0
    basis = xs @ xs.T if dual else xs
    coef = torch.zeros(c, basis.shape[1], dtype=torch.float64, device=x.device, requires_grad=True)
    b = torch.zeros(c, dtype=torch.float64, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [coef, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
        history_size=20, line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = basis @ coef.T
        # |w|^2 = |a xs|^2 = sum(a * (a K)) in the dual form
        penalty = (coef * (coef @ basis)).sum() if dual else (coef * coef).sum()
        loss = torch.nn.functional.cross_entropy(z + b, labels) + 0.5 * l2 * penalty
        loss.backward()
        return loss

    # small problems (each closure a few MFLOP) run several times faster on one thread
    small = n * basis.shape[1] * c < SMALL_PROBLEM
    with torch.enable_grad(), torch_threads(1 if small and x.device.type == "cpu" else None):
        opt.step(closure)
    w = coef.detach() @ xs if dual else coef.detach()
    w_raw = (w / std).to(features.dtype)
    b_raw = (b.detach() - (w / std) @ mean).to(features.dtype)
    return w_raw, b_raw


FOLDS = [Interval(int, 2, None)]


@dataclass(frozen=True)
class ProbeFit:
    """The linear probes of one layer, and which samples each was fitted on.

    Attributes
    ----------
    weight : Tensor[F, C, D]
    bias : Tensor[F, C]
        ``F`` probes; probe ``j`` is the head ``z = weight[j] h + bias[j]``.
    fitted_on : tuple of F int64 ndarrays
        Positions, in the fitting set, of the samples probe ``j`` was fitted on.
    folds : int64 ndarray ``[P]`` or None
        Cross-fitting (:func:`cross_fit`): the fitting set is the first ``P`` measured samples
        and ``folds[i]`` is the probe that measures sample ``i`` (one that left it out).
        ``None``: the probe was fitted on separate data (:func:`fit_probe`), ``F == 1``.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    fitted_on: tuple[np.ndarray, ...]
    folds: np.ndarray | None = None

    def measured_by(self, positions: np.ndarray) -> np.ndarray:
        """Which probe measures each measured sample, by its position in the measured data.

        Cross-fitted: a sample of the fitting set gets the probe of its fold, which left it
        out; a later sample was seen by no probe and gets ``position % F``. Fitted on
        separate data: probe 0 for all.
        """
        positions = np.asarray(positions, dtype=np.int64)
        if self.folds is None:
            return np.zeros(len(positions), np.int64)
        inside = positions < len(self.folds)
        return np.where(inside, self.folds[np.where(inside, positions, 0)],
                        positions % len(self.fitted_on))

    def geometry(self, features: torch.Tensor, labels: torch.Tensor,
                 positions: np.ndarray | None = None, **options: Any) -> Geometry:
        """Geometry of measured samples, each against the probe that :meth:`measured_by` names.

        ``positions`` are the samples' positions in the measured data (default ``0..N-1``);
        ``options`` go to :func:`geowidget.engine.geometry.geometry` (``extras``, ...).
        """
        from geowidget.engine.geometry import Geometry, geometry

        n = len(features)
        positions = np.arange(n) if positions is None else positions
        probe = torch.from_numpy(self.measured_by(positions))
        parts: dict[str, torch.Tensor] = {}
        for j in probe.unique().tolist():
            rows = (probe == j).nonzero().flatten()
            w = self.weight[j].to(features.device, features.dtype)
            b = self.bias[j].to(features.device, features.dtype)
            g = geometry(features[rows], labels[rows], w, b, **options)
            for name, value in vars(g).items():
                if name not in parts:
                    parts[name] = value.new_empty((n,))
                parts[name][rows.to(value.device)] = value
        return Geometry(**parts)


def stratified_folds(labels: torch.Tensor | np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold ``[0, folds)`` of each sample, int64 ``[N]``: seeded, each class spread evenly.

    The samples of each class are shuffled (``seed``), the classes laid end to end, and the
    folds dealt in turn, so every fold holds each class's share to within one sample and the
    fold sizes differ by at most one.
    """
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels, np.int64)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    out = np.empty(len(y), np.int64)
    out[order] = np.arange(len(y)) % folds
    return out


@validate_params({
    "features": [Array(("N", "D"), dtype="floating", finite=True)],
    "labels": [Array(("N",), dtype="integer")],
    "num_classes": [None, Interval(int, 2, None)],
})
def fit_probe(features: torch.Tensor, labels: torch.Tensor, *,
              num_classes: int | None = None) -> ProbeFit:
    """One probe fitted on all of ``features``, for measuring *other* samples.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    >>> fit_probe(x, torch.tensor([0, 1, 0, 1])).weight.shape
    torch.Size([1, 2, 2])
    """
    w, b = linear_probe(features, labels, num_classes=num_classes)
    return ProbeFit(w[None], b[None], (np.arange(len(features), dtype=np.int64),))


@validate_params({
    "features": [Array(("N", "D"), dtype="floating", finite=True)],
    "labels": [Array(("N",), dtype="integer")],
    "folds": FOLDS,
    "seed": [Interval(int, None, None)],
    "num_classes": [None, Interval(int, 2, None)],
})
def cross_fit(features: torch.Tensor, labels: torch.Tensor, *, folds: int = 5, seed: int = 0,
              num_classes: int | None = None) -> ProbeFit:
    """``folds`` probes, probe ``j`` fitted on every sample outside fold ``j``.

    Folds are :func:`stratified_folds`; measuring the same samples with
    :meth:`ProbeFit.geometry` then gives every sample a probe that never saw it.

    Examples
    --------
    >>> import torch
    >>> x, y = torch.randn(20, 3), torch.arange(20) % 2
    >>> fit = cross_fit(x, y, folds=4)
    >>> fit.weight.shape, [len(s) for s in fit.fitted_on]
    (torch.Size([4, 2, 3]), [15, 15, 15, 15])
    """
    if len(features) < folds:
        raise invalid("cross_fit", "folds", f"at most the {len(features)} samples to fit on",
                      folds)
    if labels.shape != (len(features),):
        raise invalid("cross_fit", "labels", f"of shape ({len(features)},) to match features",
                      labels)
    c = int(labels.max()) + 1 if num_classes is None else num_classes
    assignment = stratified_folds(labels, folds, seed)
    fitted_on = tuple(np.flatnonzero(assignment != j) for j in range(folds))
    heads = [linear_probe(features[torch.from_numpy(rows).to(features.device)],
                          labels[torch.from_numpy(rows).to(labels.device)], num_classes=c)
             for rows in fitted_on]
    return ProbeFit(torch.stack([w for w, _ in heads]), torch.stack([b for _, b in heads]),
                    fitted_on, assignment)
