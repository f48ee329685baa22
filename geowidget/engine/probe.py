"""Linear probes: class directions for layers that have no linear head of their own.

A probe is a multinomial logistic regression fitted on one layer's features. Its weight rows
serve as class directions (``geometry(..., direction="probe")``) and, with its bias, as the
linear head whose decision boundaries define that layer's margins.
"""

from __future__ import annotations

import torch

from geowidget._validation import Array, Interval, invalid, validate_params
from geowidget.engine.threads import torch_threads

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
