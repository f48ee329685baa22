"""MPT-like models: a sparse subnetwork of a *randomly initialised* network, found by
learning edge scores (edge-popup, Ramanujan et al. CVPR 2020; with ``binary=True`` the
biprop variant of multi-prize tickets, Diffenderfer & Kailkhura ICLR 2021).

The random weights are never trained. Each weight gets a learnable score; the forward pass
keeps the ``keep`` fraction of weights with the largest scores in every layer, and the
gradient reaches the scores through a straight-through estimator. With ``binary=True`` the
kept weights are replaced by ``alpha * sign(w)``, where ``alpha`` is the mean ``|w|`` over
kept weights of that layer (biprop). Biases are dropped (zero), as in both papers.

:func:`find_subnetwork` returns a *plain* copy of the architecture whose weights are the
masked (and binarised) random weights, so every engine function treats it like any other
model. Its sparsity is visible as exact zeros.

Examples
--------
>>> import torch
>>> from geowidget.zoo.models import mlp
>>> x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
>>> net = find_subnetwork(mlp(32, seed=0), x, y, keep=0.5, epochs=1, seed=0)
>>> round(weight_density(net), 2)
0.5
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from geowidget.zoo.training import train_classifier


class _TopK(torch.autograd.Function):
    """0/1 mask of the ``keep`` fraction of largest scores; straight-through backward."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: float) -> torch.Tensor:
        return topk_mask(scores, keep)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def topk_mask(scores: torch.Tensor, keep: float) -> torch.Tensor:
    """Float 0/1 mask keeping ``ceil(keep * numel)`` entries with the largest ``|scores|``.

    Ties are broken by position (stable sort), so the mask is deterministic.
    """
    flat = scores.detach().abs().flatten()
    k = max(1, math.ceil(keep * flat.numel()))
    order = torch.sort(flat, descending=True, stable=True).indices
    mask = torch.zeros_like(flat)
    mask[order[:k]] = 1.0
    return mask.view_as(scores)


class _Subnet(nn.Module):
    """Frozen random weight + learnable scores; subclasses supply the functional op."""

    def __init__(self, weight: torch.Tensor, keep: float, binary: bool) -> None:
        super().__init__()
        self.register_buffer("weight", weight.detach().clone())
        # scores start at |kaiming-uniform| as in edge-popup
        bound = 1.0 / math.sqrt(weight[0].numel())
        self.scores = nn.Parameter(torch.empty_like(weight).uniform_(-bound, bound).abs())
        self.keep = keep
        self.binary = binary

    def effective_weight(self) -> torch.Tensor:
        mask = _TopK.apply(self.scores, self.keep)
        if not self.binary:
            return self.weight * mask
        alpha = (self.weight.abs() * mask).sum() / mask.sum()
        return alpha * torch.sign(self.weight) * mask


class _SubnetLinear(_Subnet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight())


class _SubnetConv2d(_Subnet):
    def __init__(self, conv: nn.Conv2d, weight: torch.Tensor, keep: float, binary: bool) -> None:
        super().__init__(weight, keep, binary)
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(
            x, self.effective_weight(), None, self.stride, self.padding, self.dilation, self.groups
        )


def _signed_constant(weight: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Signed Kaiming constant init: ``±sqrt(2 / fan_in)`` with random signs."""
    fan_in = weight[0].numel()
    signs = torch.randint(0, 2, weight.shape, generator=gen).to(weight.dtype) * 2 - 1
    return signs * math.sqrt(2.0 / fan_in)


def _prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def find_subnetwork(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    keep: float = 0.5,
    binary: bool = True,
    init: str = "signed_constant",
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 0.01,
    seed: int = 0,
    progress: bool = False,
) -> nn.Module:
    """Find an MPT-like subnetwork of a random network by learning edge scores.

    Parameters
    ----------
    model : nn.Module
        The architecture. Its ``nn.Linear`` and ``nn.Conv2d`` layers are re-initialised
        (``init``), then only scores are learned; ``model`` itself is not modified.
    images, labels : Tensor
        Training data, ``[N, 1, H, W]`` floats in [0, 1] and ``[N]`` integer labels.
    keep : float
        Fraction of weights kept in every prunable layer, in (0, 1]. Sparsity is ``1 - keep``.
    binary : bool
        Biprop: kept weights become ``alpha * sign(w)`` with one ``alpha`` per layer.
    init : {"signed_constant", "kaiming_normal", "model"}
        Random weights: signed Kaiming constant, Kaiming normal, or ``model``'s own weights.
    epochs, batch_size, lr, seed, progress
        As in :func:`~geowidget.zoo.training.train_classifier` (Adam on the scores).

    Returns
    -------
    nn.Module
        A deep copy of ``model`` with the masked weights, zero biases, in eval mode. Its
        attribute ``mpt_info`` holds ``keep``, ``binary``, ``init`` and ``seed``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    inits = ("signed_constant", "kaiming_normal", "model")
    if init not in inits:
        raise ValueError(f"unknown init {init!r}; valid: {list(inits)}")
    layers = _prunable(model)
    if not layers:
        raise ValueError("model has no nn.Linear or nn.Conv2d layer to take a subnetwork of")
    gen = torch.Generator().manual_seed(int(seed))
    work = copy.deepcopy(model)
    for p in work.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for name, layer in layers:
            w = layer.weight.detach()
            if init == "signed_constant":
                w = _signed_constant(w, gen)
            elif init == "kaiming_normal":
                w = torch.randn(w.shape, generator=gen) * math.sqrt(2.0 / w[0].numel())
            if isinstance(layer, nn.Conv2d):
                sub: _Subnet = _SubnetConv2d(layer, w, keep, binary)
            else:
                sub = _SubnetLinear(w, keep, binary)
            _set_module(work, name, sub)
    train_classifier(
        work, images, labels, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        progress=progress,
    )
    dense = copy.deepcopy(model)
    with torch.no_grad():
        for name, _ in layers:
            target = dense.get_submodule(name)
            target.weight.copy_(work.get_submodule(name).effective_weight())
            if target.bias is not None:
                target.bias.zero_()
    dense.eval()
    dense.mpt_info = {"keep": keep, "binary": binary, "init": init, "seed": seed}
    return dense


def weight_density(model: nn.Module) -> float:
    """Fraction of non-zero weights over all ``nn.Linear``/``nn.Conv2d`` weight tensors."""
    layers = _prunable(model)
    if not layers:
        raise ValueError("model has no nn.Linear or nn.Conv2d layer")
    nonzero = sum(int((m.weight != 0).sum()) for _, m in layers)
    return nonzero / sum(m.weight.numel() for _, m in layers)


__all__ = ["find_subnetwork", "topk_mask", "weight_density"]
