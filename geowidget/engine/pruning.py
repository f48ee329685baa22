"""Pruning: importance scores, masks for many sparsity levels from one sort, and applying them.

Five methods (``METHODS``):

- ``"global_magnitude"``: L1 unstructured pruning, the smallest ``|w|`` over all prunable
  weights together (Han et al. 2015);
- ``"layerwise_magnitude"``: the smallest ``|w|`` within each layer, the same fraction per layer;
- ``"random"``: seeded uniform scores, ranked globally (the usual baseline);
- ``"snip"``: gradient-based connection sensitivity ``|w * dL/dw|`` of the cross-entropy loss on a
  calibration batch (Lee et al., SNIP, ICLR 2019), ranked globally;
- ``"structured_l2"``: whole output channels of convolutions, ranked by the L2 norm of their
  filters within each layer (Li et al. 2017). Sparsity then counts channels, not weights.

Prunable weights are the ``weight`` of every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` (only the
convolutions for ``"structured_l2"``), or of the modules named in ``layers``. Biases and
normalisation layers are never pruned.

Masks for every level come from a single sort of the scores: each weight (or channel) gets a
rank, and level ``s`` prunes the ``round(s * n)`` lowest ranks. So masks are nested (a weight
pruned at 30 % stays pruned at 50 %), and the measured sparsity equals the requested one within
one weight (one channel for ``"structured_l2"``). Layer-wise methods split the count between
layers by largest remainders, so each layer is also within one unit of ``s``.

:func:`pruned` swaps masked weights into a model inside a ``with`` block and restores the
original tensors bit for bit on exit, even after an exception. Nesting is refused, so masks
never compound.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from geowidget._validation import (
    DATA,
    MODEL,
    POSITIVE_INT,
    SEED,
    Array,
    DictOf,
    Interval,
    ListOf,
    Options,
    check,
    invalid,
    validate_params,
)
from geowidget.engine.model_state import evaluating, preserved

__all__ = [
    "METHODS", "SPARSITY", "PruningPlan", "check_method", "check_sparsity", "measured_sparsity",
    "prunable_parameters", "prune_masks", "prune_scores", "pruned", "pruning_sweep",
]

METHODS = ("global_magnitude", "layerwise_magnitude", "random", "snip", "structured_l2")
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Models inside a `pruned` block or a sweep, kept outside the model so nothing is left on it.
_ACTIVE: weakref.WeakSet[nn.Module] = weakref.WeakSet()

SPARSITY = Interval(float, 0, 1, closed="left")
# The parameters every scoring entry point shares (prune_scores, prune_masks, sweeps, plans).
_SCORING = {
    "model": MODEL,
    "method": [Options(*METHODS)],
    "data": [None, *DATA],
    "layers": [None, ListOf(str)],
    "seed": SEED,
    "calibration_size": POSITIVE_INT,
}


def check_method(method: str, caller: str = "prune_masks", name: str = "method") -> str:
    """Return ``method`` if it is a known pruning method, else raise naming the valid ones."""
    return check(caller, name, method, _SCORING["method"])


def check_sparsity(sparsity: Any, caller: str = "prune_masks", name: str = "sparsity") -> float:
    """Return ``sparsity`` as a float in [0, 1) (numpy and torch scalars too), else raise."""
    return check(caller, name, sparsity, [SPARSITY])


def prunable_parameters(
    model: nn.Module, layers: Sequence[str] | None = None, *, structured: bool = False,
    caller: str = "prune_masks", name: str = "model",
) -> list[str]:
    """Names of the weight parameters a method would prune, in module order.

    Parameters
    ----------
    model : nn.Module
    layers : sequence of str, optional
        Module names to prune. ``None`` takes every Linear and Conv module (only Convs when
        ``structured``).
    structured : bool
        Restrict to convolutions (channel pruning).
    caller, name : str
        The public function, and its parameter holding the model, named in an error.

    Returns
    -------
    list of str
        Parameter names such as ``"conv1.weight"``.
    """
    kinds = _CONV if structured else _PRUNABLE
    modules = dict(model.named_modules())
    if layers is None:
        names = [n for n, m in modules.items() if isinstance(m, kinds) and m.weight is not None]
        if not names:
            what = "convolution" if structured else "Linear or Conv"
            raise invalid(caller, name, f"a model with a {what} layer to prune",
                          model, f"{type(model).__name__} has none")
    else:
        valid = [n for n, m in modules.items() if isinstance(m, kinds)]
        for layer in layers:
            if layer not in valid:
                what = "convolution" if structured else "Linear or Conv"
                raise invalid(caller, "layers", f"names of {what} modules of this model",
                              layers, f"{layer!r} is not one; valid layers: {valid}")
        names = list(layers)
    for layer in names:  # a computed weight (weight norm, parametrizations) cannot be masked
        if not isinstance(modules[layer].weight, nn.Parameter):
            sources = [p for p, _ in modules[layer].named_parameters()]
            raise invalid(caller, name, "a model whose pruned layers hold their weight as "
                          "a parameter", model, f"layer {layer!r} computes its weight from "
                          f"{sources} (weight norm or a parametrization); remove that first, "
                          "e.g. torch.nn.utils.parametrize.remove_parametrizations(module, "
                          "'weight')")
    return [f"{n}.weight" for n in names]


@validate_params(_SCORING)
def prune_scores(
    model: nn.Module,
    method: str = "global_magnitude",
    *,
    data: Any = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    calibration_size: int = 256,
) -> dict[str, torch.Tensor]:
    """Importance score of every prunable weight (higher = kept longer).

    Parameters
    ----------
    model : nn.Module
        Not modified (the gradient for ``"snip"`` is taken with ``torch.autograd.grad`` in eval
        mode, so ``.grad`` and batch-norm statistics are untouched).
    method : str
        One of ``METHODS``.
    data : optional
        Calibration data for ``"snip"``: anything :func:`geowidget.engine.batches.iter_batches`
        accepts, with labels. The first ``calibration_size`` samples are used.
    layers : sequence of str, optional
        Module names to prune; default every Linear/Conv (Conv only for ``"structured_l2"``).
    seed : int
        Seed of the ``"random"`` scores.
    calibration_size : int
        Samples in the SNIP calibration batch.

    Returns
    -------
    dict of str to Tensor
        Scores on the CPU, shaped like each weight (float32 ``|w|`` for magnitude methods,
        float64 otherwise); for ``"structured_l2"`` one score per output channel, shape
        ``[C_out]`` (the L2 norm of that channel's filter).
    """
    names = prunable_parameters(model, layers, structured=method == "structured_l2")
    params = {n: model.get_parameter(n) for n in names}
    if method in ("global_magnitude", "layerwise_magnitude"):
        # |w| in float32 is exact for float32/16 weights, so ranks match float64's
        return {n: p.detach().abs().to(_score_dtype(p)).cpu() for n, p in params.items()}
    if method == "structured_l2":
        return {n: p.detach().double().flatten(1).norm(dim=1).cpu() for n, p in params.items()}
    if method == "random":
        gen = torch.Generator().manual_seed(int(seed))
        return {
            n: torch.rand(p.shape, generator=gen, dtype=torch.float64) for n, p in params.items()
        }
    return _snip_scores(model, params, data, calibration_size)


def _score_dtype(p: torch.Tensor) -> torch.dtype:
    return torch.float64 if p.dtype == torch.float64 else torch.float32


def _snip_scores(
    model: nn.Module, params: dict[str, nn.Parameter], data: Any, calibration_size: int
) -> dict[str, torch.Tensor]:
    if data is None:
        raise invalid("prune_masks", "data", "labelled calibration data (inputs, labels) with "
                      "method='snip'", data)
    frozen = [n for n, p in params.items() if not p.requires_grad]
    if frozen:
        raise invalid(
            "prune_masks", "model", "a model whose pruned weights require grad with "
            "method='snip' (the score is |w * dL/dw|)", model,
            f"{frozen} are frozen: unfreeze them with p.requires_grad_(True) while scoring, or "
            "leave their modules out with layers=[...]",
        )
    from geowidget.engine.batches import iter_batches

    device = next(iter(params.values())).device
    xs, ys, got = [], [], 0
    for xb, yb in iter_batches(data, batch_size=calibration_size, device=device):
        if yb is None:
            raise invalid("prune_masks", "data", "labelled calibration data (inputs, labels) "
                          "with method='snip'", data, "it has inputs only")
        xs.append(xb)
        ys.append(yb)
        got += len(xb)
        if got >= calibration_size:
            break
    x, y = torch.cat(xs)[:calibration_size], torch.cat(ys)[:calibration_size]
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise invalid("prune_masks", "data", "labelled with integer classes", data,
                      f"its labels have dtype {y.dtype}")
    with evaluating(model), torch.enable_grad():
        out = model(x)
        loss = nn.functional.cross_entropy(out, y.long())
        grads = torch.autograd.grad(loss, list(params.values()))
    return {
        n: (p.detach().double() * g.double()).abs().cpu()
        for (n, p), g in zip(params.items(), grads, strict=True)
    }


def _largest_remainder(total: int, sizes: Sequence[int], fraction: float) -> list[int]:
    """Split ``total`` (= round(fraction * sum(sizes))) into per-group counts near fraction*size."""
    exact = [fraction * s for s in sizes]
    counts = [min(int(math.floor(e)), s) for e, s in zip(exact, sizes, strict=True)]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: max(total - sum(counts), 0)]:
        counts[i] += 1
    return counts


@dataclass
class PruningPlan:
    """One sort of the scores of every prunable unit; gives masks for any sparsity level.

    Build with :meth:`PruningPlan.from_model`. ``orders[g]`` is the stable argsort of the
    scores of group ``g`` (the whole model for global methods, one layer for layer-wise ones),
    over the concatenated flat scores of its parameters. ``ranks[name]`` then holds, for each
    weight (or each output channel when ``structured``), its 0-based rank within its group;
    level ``s`` prunes the units whose rank is below that group's count.
    """

    method: str
    names: list[str]
    shapes: list[torch.Size]
    groups: list[list[str]]
    orders: list[torch.Tensor]
    unit_shapes: dict[str, torch.Size]
    structured: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    @validate_params(_SCORING)
    def from_model(
        cls,
        model: nn.Module,
        method: str = "global_magnitude",
        *,
        data: Any = None,
        layers: Sequence[str] | None = None,
        seed: int = 0,
        calibration_size: int = 256,
    ) -> PruningPlan:
        """Score the model's weights with ``method`` and sort them (see :func:`prune_scores`)."""
        scores = prune_scores(
            model, method, data=data, layers=layers, seed=seed, calibration_size=calibration_size
        )
        names = list(scores)
        shapes = [model.get_parameter(n).shape for n in names]
        per_layer = method in ("layerwise_magnitude", "structured_l2")
        groups = [[n] for n in names] if per_layer else [names]
        orders = []
        for group in groups:
            flat = torch.cat([scores[n].reshape(-1) for n in group])
            if torch.isnan(flat).any():
                raise ValueError(f"pruning scores of {group} contain NaN; check the weights")
            orders.append(torch.argsort(flat, stable=True))  # the one sort
        return cls(method, names, shapes, groups, orders,
                   {n: scores[n].shape for n in names}, structured=method == "structured_l2")

    def _sizes(self, group: list[str]) -> list[int]:
        return [math.prod(self.unit_shapes[n]) for n in group]

    @property
    def ranks(self) -> dict[str, torch.Tensor]:
        """Rank of every unit within its group, shaped like its scores."""
        if "ranks" not in self._cache:
            ranks = {}
            for group, order in zip(self.groups, self.orders, strict=True):
                rank = torch.empty_like(order)
                rank[order] = torch.arange(len(order))
                start = 0
                for n, size in zip(group, self._sizes(group), strict=True):
                    ranks[n] = rank[start : start + size].reshape(self.unit_shapes[n])
                    start += size
            self._cache["ranks"] = ranks
        return self._cache["ranks"]

    @property
    def by_rank(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per parameter: its ranks in ascending order, and the flat indices that hold them."""
        if "by_rank" not in self._cache:
            out = {}
            for group, order in zip(self.groups, self.orders, strict=True):
                sizes = self._sizes(group)
                if len(group) == 1:
                    out[group[0]] = (torch.arange(len(order)), order)
                    continue
                owner_of_position = torch.repeat_interleave(
                    torch.arange(len(group)), torch.tensor(sizes)
                )
                owner = owner_of_position[order]  # parameter holding each rank
                start = 0
                for j, (n, size) in enumerate(zip(group, sizes, strict=True)):
                    ranks_sorted = torch.nonzero(owner == j).flatten()
                    out[n] = (ranks_sorted, order[ranks_sorted] - start)
                    start += size
            self._cache["by_rank"] = out
        return self._cache["by_rank"]

    def counts(self, sparsity: float) -> dict[str, int]:
        """Units pruned per group at ``sparsity``, keyed by the group's first parameter name."""
        s = check_sparsity(sparsity)
        sizes = [sum(self._sizes(g)) for g in self.groups]
        total = int(round(s * sum(sizes)))
        counts = _largest_remainder(total, sizes, s)
        return {g[0]: c for g, c in zip(self.groups, counts, strict=True)}

    def masks(self, sparsity: float) -> dict[str, torch.Tensor]:
        """Boolean keep-masks (True = kept) shaped like each weight, on the CPU."""
        counts = self.counts(sparsity)
        out = {}
        for group in self.groups:
            k = counts[group[0]]
            for n, shape in zip(self.names, self.shapes, strict=True):
                if n not in group:
                    continue
                keep = self.ranks[n] >= k
                if self.structured:
                    keep = keep.reshape(-1, *([1] * (len(shape) - 1))).expand(shape).clone()
                out[n] = keep
        return out


@validate_params({**_SCORING, "sparsities": [SPARSITY, ListOf(SPARSITY)]})
def prune_masks(
    model: nn.Module,
    sparsities: float,
    method: str = "global_magnitude",
    *,
    data: Any = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    calibration_size: int = 256,
) -> dict[str, torch.Tensor]:
    """Keep-masks of ``model`` pruned to one sparsity level.

    Parameters
    ----------
    model : nn.Module
        Not modified.
    sparsities : float
        Fraction of prunable weights (channels for ``"structured_l2"``) to remove, in [0, 1).
        numpy and torch scalars count as floats. A list of levels is deprecated (it returned
        another type, one dict per level): for several levels from one sort of the scores
        use ``plan = PruningPlan.from_model(model, method, ...)`` and ``plan.masks(s)``.
    method : str
        One of ``METHODS`` (see the module doc).
    data, layers, seed, calibration_size
        See :func:`prune_scores`.

    Returns
    -------
    dict of str to bool Tensor
        ``{param_name: keep_mask}`` (True = kept), each mask shaped like its parameter.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.ReLU(), torch.nn.Linear(10, 2))
    >>> masks = prune_masks(net, 0.5)
    >>> int(sum((~m).sum() for m in masks.values()))
    60
    >>> plan = PruningPlan.from_model(net)              # several levels, one sort
    >>> [int(sum((~m).sum() for m in plan.masks(s).values())) for s in (0.5, 0.9)]
    [60, 108]
    """
    plan = PruningPlan.from_model(
        model, method, data=data, layers=layers, seed=seed, calibration_size=calibration_size
    )
    if isinstance(sparsities, float):  # the declaration made lists of everything else
        return plan.masks(sparsities)
    warnings.warn(
        "prune_masks(model, [s1, s2, ...]) with a list of levels is deprecated and returns "
        "one dict per level only for this release; use plan = PruningPlan.from_model(model, "
        "method, ...) and plan.masks(s) for each level (one sort for all), or "
        "prune_masks(model, s) for one level",
        DeprecationWarning, stacklevel=3,
    )
    return {s: plan.masks(s) for s in sparsities}


def measured_sparsity(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of the masked weights that are pruned (False)."""
    total = sum(m.numel() for m in masks.values())
    if total == 0:
        raise ValueError("masks are empty")
    return float(sum(int((~m.bool()).sum()) for m in masks.values())) / total


@validate_params({"model": MODEL, "masks": [DictOf(str, Array(dtype="bool"))]})
@contextmanager
def pruned(model: nn.Module, masks: dict[str, torch.Tensor]) -> Iterator[nn.Module]:
    """Zero the masked weights of ``model`` inside a ``with`` block, then restore them bit for bit.

    Parameters
    ----------
    model : nn.Module
        Modified in place only inside the block; on exit (also after an exception) every masked
        parameter is copied back from a saved clone.
    masks : dict of str to bool Tensor
        ``{param_name: keep_mask}`` as returned by :func:`prune_masks` (True = kept). Each mask
        has its parameter's shape.

    Yields
    ------
    nn.Module
        The same ``model``, with pruned weights set to 0.

    Raises
    ------
    RuntimeError
        When the model is already inside a ``pruned`` block (masks never compound).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(4, 2)
    >>> keep = {"weight": torch.tensor([[True, False, True, False]] * 2)}
    >>> with pruned(net, keep) as p:
    ...     int((p.weight == 0).sum())
    4
    """
    _refuse_nesting(model)
    params = {}
    for name, mask in masks.items():
        try:
            p = model.get_parameter(name)
        except AttributeError:
            valid = [n for n, _ in model.named_parameters()]
            raise invalid("pruned", "masks", "keyed by parameter names of the model", masks,
                          f"{name!r} is not one; valid: {valid}") from None
        if tuple(mask.shape) != tuple(p.shape):
            raise invalid("pruned", "masks", "masks shaped like their parameters", masks,
                          f"{name!r} has shape {tuple(mask.shape)}, its parameter "
                          f"{tuple(p.shape)}")
        params[name] = p
    with preserved(model, params=params):
        _ACTIVE.add(model)
        try:
            with torch.no_grad():
                for name, p in params.items():
                    p.masked_fill_(~masks[name].to(device=p.device), 0.0)
            yield model
        finally:
            _ACTIVE.discard(model)


def _refuse_nesting(model: nn.Module) -> None:
    if model in _ACTIVE:
        raise RuntimeError("model is already pruned by an enclosing `pruned` block; masks "
                           "never compound, so exit that block first")


@validate_params({**_SCORING, "sparsities": [ListOf(SPARSITY, min_len=0)]})
def pruning_sweep(
    model: nn.Module,
    sparsities: Iterable[float],
    method: str = "global_magnitude",
    *,
    data: Any = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    calibration_size: int = 256,
) -> Iterator[tuple[float, nn.Module]]:
    """Yield ``(sparsity, pruned_model)`` for each level; the model is restored at the end.

    One scoring pass and one sort serve every level. Each level's weights equal the original
    weights with that level's mask applied (levels never compound): going up in sparsity
    zeroes only the newly pruned weights (masks are nested), going down restores the saved
    originals first. Use the yielded model before advancing the iterator; after the loop (or
    on ``break`` or an exception) the model is bit for bit as before.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(10, 2)
    >>> [int((m.weight == 0).sum()) for s, m in pruning_sweep(net, [0.0, 0.5])]
    [0, 10]
    """
    levels = sparsities
    plan = PruningPlan.from_model(
        model, method, data=data, layers=layers, seed=seed, calibration_size=calibration_size
    )
    if plan.structured or not all(model.get_parameter(n).is_contiguous() for n in plan.names):
        for s in levels:
            with pruned(model, plan.masks(s)) as m:
                yield s, m
        return
    _refuse_nesting(model)
    params = {n: model.get_parameter(n) for n in plan.names}
    order = {n: (r, i.to(params[n].device)) for n, (r, i) in plan.by_rank.items()}
    done = dict.fromkeys(plan.names, 0)  # weights zeroed so far per parameter
    with preserved(model, params=plan.names) as saved:
        _ACTIVE.add(model)
        try:
            for s in levels:
                counts = plan.counts(s)
                with torch.no_grad():
                    for group in plan.groups:
                        k = counts[group[0]]
                        for n in group:
                            sorted_ranks, idx = order[n]
                            c = int(torch.searchsorted(sorted_ranks, k))
                            flat = params[n].view(-1)
                            if c < done[n]:
                                params[n].copy_(saved[n])
                                done[n] = 0
                            flat.index_fill_(0, idx[done[n] : c], 0.0)
                            done[n] = c
                yield s, model
        finally:
            _ACTIVE.discard(model)
