"""First-order margin at any layer (Elsayed et al. 2018; Jiang et al. ICLR 2019).

At layer l with features h_l, the margin of a sample with true class y is

    min over the top-k competitors j of (z_y - z_j) / (|grad_{h_l} (z_y - z_j)|_2 + eps),

a linearisation of the distance in h_l-space to the boundary between y and j. For a linear
head on h_l the gradient is W_y - W_j and the value is the exact head margin. Each competitor
costs one vector-Jacobian product, batched over samples (samples are independent in eval
mode, so the gradient of the batch sum gives every sample's own gradient).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from geowidget._validation import (
    DATA,
    DEVICE,
    MODEL,
    POSITIVE_INT,
    Boolean,
    Interval,
    invalid,
    validate_params,
)
from geowidget.engine.batches import count_samples, iter_batches, resolve_device
from geowidget.engine.features import _unknown_layer_error, logits_of
from geowidget.engine.model_state import evaluating
from geowidget.engine.progress import progress as progress_bar

__all__ = ["layer_margin"]


@validate_params({
    "model": MODEL,
    "data": DATA,
    "layer": [str],
    "k": POSITIVE_INT,
    "eps": [Interval(float, 0, None)],
    "batch_size": POSITIVE_INT,
    "device": DEVICE,
    "progress": [Boolean()],
})
def layer_margin(
    model: nn.Module,
    data: Any,
    layer: str,
    *,
    k: int = 5,
    eps: float = 1e-6,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> torch.Tensor:
    """Signed first-order margin at module ``layer`` for every sample of ``data``.

    Parameters
    ----------
    model : nn.Module
        The classifier; not changed (mode and hooks are restored).
    data : (inputs, labels), labelled Dataset or DataLoader
        Labels are required.
    layer : str
        A module name (``model.named_modules()``); ``"<module>:input"`` takes the margin at
        that module's input (``"fc:input"`` is the penultimate layer).
    k : int
        Competitors: the k highest-scoring classes other than the true one (at most C - 1).
    eps : float
        Added to the gradient norm so that flat regions give large, finite margins.

    Returns
    -------
    Tensor[N]
        In units of the layer's feature space; negative for misclassified samples.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    >>> layer_margin(model, (x, y), "1:input", k=2, progress=False).shape
    torch.Size([5])
    """
    modules = dict(model.named_modules())
    base, _, kind = layer.partition(":")
    if base not in modules or kind not in ("", "input"):
        valid = [n for n in modules if n] + [f"{n}:input" for n in modules if n]
        raise _unknown_layer_error(model, layer, valid, "layer_margin", "layer")
    dev = resolve_device(device)
    n = count_samples(data)
    margins: list[torch.Tensor] = []
    leaf: dict[str, torch.Tensor] = {}

    def to_leaf(value: torch.Tensor) -> torch.Tensor:
        # A leaf we differentiate against; the clone lets in-place ops downstream proceed.
        h = value.detach().requires_grad_(True)
        leaf["h"] = h
        return h.clone()

    if kind == "input":
        handle = modules[base].register_forward_pre_hook(
            lambda _m, inp: (to_leaf(inp[0]), *inp[1:])
        )
    else:
        handle = modules[base].register_forward_hook(lambda _m, _i, out: to_leaf(out))
    total = None if n is None else -(-n // batch_size)
    try:
        with evaluating(model), torch.enable_grad():
            for xb, yb in progress_bar(
                iter_batches(data, batch_size, dev), total=total, desc="layer margin",
                disable=not progress,
            ):
                if yb is None:
                    raise invalid("layer_margin", "data", "labelled: an (inputs, labels) pair "
                                  "or a Dataset of (x, y)", data, "it carries no labels")
                leaf.clear()
                z = logits_of(model(xb), "layer_margin")
                if "h" not in leaf:
                    raise RuntimeError(f"layer {layer!r} did not run in the forward pass")
                c = z.shape[1]
                if c < 2:
                    raise invalid("layer_margin", "model", "a classifier with at least 2 "
                                  "outputs", model, f"it has {c}")
                if yb.dtype.is_floating_point or yb.dtype == torch.bool:
                    raise invalid("layer_margin", "data", "labelled with integer classes", data,
                                  f"its labels have dtype {yb.dtype}")
                if int(yb.min()) < 0 or int(yb.max()) >= c:
                    raise invalid("layer_margin", "data", f"labelled with classes in [0, {c})",
                                  data, f"labels span [{int(yb.min())}, {int(yb.max())}]")
                margins.append(_batch_margin(z, yb.to(torch.long), leaf["h"], k, eps))
    finally:
        handle.remove()
    return torch.cat(margins)


def _batch_margin(
    z: torch.Tensor, y: torch.Tensor, h: torch.Tensor, k: int, eps: float
) -> torch.Tensor:
    k = min(k, z.shape[1] - 1)
    rows = torch.arange(len(y), device=y.device)
    masked = z.detach().clone()
    masked[rows, y] = -torch.inf
    competitors = masked.topk(k, dim=1).indices  # [n, k]
    best = torch.full((len(y),), torch.inf, dtype=z.dtype, device=z.device)
    for r in range(k):
        j = competitors[:, r]
        diff = z[rows, y] - z[rows, j]  # [n]
        (grad,) = torch.autograd.grad(diff.sum(), h, retain_graph=r < k - 1)
        gnorm = grad.reshape(len(y), -1).norm(dim=1)
        best = torch.minimum(best, diff.detach() / (gnorm + eps))
    return best.detach().cpu()
