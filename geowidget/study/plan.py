"""What a Study's parameters resolve to, once the data and the models are looked at.

A :class:`~geowidget.study.Study` only stores and checks its parameters when it is made (as
scikit-learn's estimators do); the work of finding out what it will compute (reading the
first samples, a forward pass to count each model's classes, loading checkpoints, finding
the head, ordering the layers by depth, fingerprinting the weights) happens here, once, the
first time :meth:`Study.run` (or anything that needs it) asks for :attr:`Study.plan`.
Every check that needs the data or a model's forward pass lives here too, so bad data fails
at ``run()`` with the error naming the parameter and the value, and a constructor never
reads a sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from geowidget._validation import invalid
from geowidget.cube import SPARSITY_TOL, Condition
from geowidget.engine.checkpoints import as_run, expand_runs
from geowidget.engine.corruptions import resolve_corruptions
from geowidget.engine.model_state import evaluating
from geowidget.study.shards import ShardReader
from geowidget.study.units import PENULTIMATE, fingerprint

if TYPE_CHECKING:
    from geowidget.study.store import UnitStore
    from geowidget.study.study import Study

__all__ = ["Plan", "count_classes", "grid_sparsities", "name_models", "resolve",
           "sparsity_levels"]


@dataclass
class Plan:
    """A study's resolved coordinates and inputs (what :meth:`Study.run` works from).

    Attributes
    ----------
    models : dict of str to nn.Module
        The models by name, each run of checkpoints expanded into ``"<run>/<step>"`` models.
    runs : dict of str to (str, int)
        The ``(run, step)`` of each checkpoint's model.
    model_fp : dict of str to str
        A fingerprint of each model's weights (a key of every stored part).
    reader, probe_reader : ShardReader
        The data, and ``probe_data`` (None without it), read shard by shard.
    n : int
        Samples in ``data``.
    dataset : str
        The data's name (its ``name`` attribute), or ``""``.
    num_classes : int
        Classes every model outputs.
    class_names : list of str
    layers : list of str
        The cube's layers, in the order of depth (``"penultimate"`` at the head's input).
    tokens : dict of str to str
        Per layer, how its token output becomes one vector per sample.
    heads : dict of str to (str, nn.Linear, str) or None
        Per model, its head (module name, module, the node of its input) when a layer uses it.
    sparsities, corrupted_sparsities : list of float
        Every sparsity (0 included), and those the corruptions are evaluated at.
    benchmarks : list of (str, int, ShardReader or None)
        Each corrupted input: (benchmark, severity, reader of a ready-made copy or None).
    conditions : list of Condition
        The cube's conditions: clean at every sparsity, then each (corruption, severity)
        at each sparsity of the grid.
    probed : bool ndarray [M, L] or None
        Which (model, layer) is measured with linear probes; None when none is.
    device : torch.device
        Where this process runs the forward passes.
    store : UnitStore or None
        The unit store of ``cache_dir``.
    """

    models: dict[str, nn.Module]
    runs: dict[str, tuple[str, int]]
    model_fp: dict[str, str]
    reader: ShardReader
    probe_reader: ShardReader | None
    n: int
    dataset: str
    num_classes: int
    class_names: list[str]
    layers: list[str]
    tokens: dict[str, str]
    heads: dict[str, tuple[str, nn.Linear, str] | None]
    sparsities: list[float]
    corrupted_sparsities: list[float]
    benchmarks: list[tuple[str, int, ShardReader | None]]
    device: torch.device
    store: UnitStore | None
    conditions: list[Condition] = field(init=False)
    probed: np.ndarray | None = field(init=False)

    def __post_init__(self) -> None:
        clean = [Condition(s, "clean", 0) for s in self.sparsities]
        self.conditions = clean + [Condition(p, b, s) for b, s, _ in self.benchmarks
                                   for p in self.corrupted_sparsities]
        mask = np.array([[not self.uses_head(name, v) for v in self.layers]
                         for name in self.models])
        self.probed = mask if mask.any() else None

    def layer_target(self, model: str, layer: str) -> str:
        """The node :func:`~geowidget.engine.features.extract_features` reads for a layer."""
        head = self.heads[model]
        return head[2] if layer == PENULTIMATE else layer

    def uses_head(self, model: str, layer: str) -> bool:
        """Whether the layer is measured with the model's own head (else with a probe)."""
        head = self.heads[model]
        return head is not None and self.layer_target(model, layer) == head[2]

    def node_tokens(self, model: str) -> dict[str, str]:
        """The model's ``{node: mode}`` for extract_features."""
        return {self.layer_target(model, v): mode for v, mode in self.tokens.items()}

    def fingerprint_model(self, model: str) -> None:
        """Fingerprint the model's weights as they are now."""
        self.model_fp[model] = fingerprint(*self.models[model].state_dict().values())


def resolve(study: Study) -> Plan:
    """Read what the study's parameters name (the first samples, the models, the store) and
    check it; every error names the parameter and the value."""
    from geowidget.engine.batches import resolve_device

    models, runs = expand_runs(name_models(study.models))
    levels = sparsity_levels(study.sparsities)
    reader = ShardReader(study.data, study.shard_size, "data")
    probe_reader = (None if study.probe_data is None
                    else ShardReader(study.probe_data, study.shard_size, "probe_data"))
    first_x, _ = reader.head(1)
    num_classes = _common_classes(models, first_x)
    layers = ([PENULTIMATE] if study.layers is None
              else _check_layers(models, study.layers))
    _check_weights(models, study.pruning, levels)
    store = None
    if study.cache_dir is not None:
        from geowidget.filesystem import location
        from geowidget.study.store import UnitStore

        store = UnitStore(location(study.cache_dir, "Study", "cache_dir"))
        store.check_writable()
    if study.runner.name == "ray" and study.device == "auto":
        # the actors' device, not this process's: a GPU when the actors ask for one
        gpus = float((study.runner.remote_args or {}).get("num_gpus", 0) or 0)
        device = torch.device("cuda" if gpus > 0 else "cpu")
    else:
        device = resolve_device(study.device)
    with_head = PENULTIMATE in layers or any(v.endswith(":input") for v in layers)
    return Plan(
        models=models, runs=runs,
        model_fp={name: fingerprint(*m.state_dict().values()) for name, m in models.items()},
        reader=reader, probe_reader=probe_reader, n=len(reader),
        dataset=str(getattr(study.data, "name", "")), num_classes=num_classes,
        class_names=_class_names(study.data, num_classes), layers=layers,
        tokens=_check_tokens(study.tokens, layers),
        heads={name: _head(m) if with_head else None for name, m in models.items()},
        sparsities=levels, corrupted_sparsities=grid_sparsities(study.grid, levels),
        benchmarks=_check_corruptions(study.corruptions, sorted(set(study.severities)),
                                      first_x, len(reader), study.shard_size),
        device=device, store=store,
    )


def name_models(models: Any) -> dict[str, Any]:
    """``Study(models=)`` by name (a list is named ``model0, model1, ...``); the values stay
    as given (modules, or runs of checkpoints, loaded by :func:`resolve`)."""
    if isinstance(models, nn.Module):
        models = [models]
    named = (dict(zip(map(str, models), models.values(), strict=True))
             if isinstance(models, Mapping)
             else {f"model{i}": m for i, m in enumerate(models)})
    if isinstance(models, Mapping) and len(named) < len(models):  # e.g. 1 and "1"
        same = [k for k in models if [str(o) for o in models].count(str(k)) > 1]
        raise invalid("Study", "models", "a dict whose keys are distinct as names (str)",
                      same, "these keys name the same model; rename them")
    for key, value in named.items():
        if not isinstance(value, nn.Module) and as_run(value) is None:
            raise invalid("Study", "models", "a torch.nn.Module or a run of checkpoints "
                          "(Checkpoints(model, [...]) or a (model, [...]) pair)", value,
                          f"the value of {key!r}")
    return named


def sparsity_levels(sparsities: Iterable[float]) -> list[float]:
    """The levels with 0 added, ascending; levels equal within ``SPARSITY_TOL`` are refused
    (the cube would hold one condition twice)."""
    levels = sorted({0.0, *map(float, sparsities)})
    for a, b in zip(levels, levels[1:], strict=False):
        if b - a <= SPARSITY_TOL:
            raise invalid("Study", "sparsities", f"distinct levels, more than the tolerance "
                          f"SPARSITY_TOL={SPARSITY_TOL:g} apart", sparsities,
                          f"{a!r} and {b!r} are equal within the tolerance")
    return levels


def grid_sparsities(grid: str | Sequence[float], levels: list[float]) -> list[float]:
    """The sparsities the corruptions are evaluated at, of the study's ``levels``."""
    if grid == "full":
        return list(levels)
    if grid == "dense-corrupted":
        return [0.0]
    chosen = sorted({0.0, *map(float, grid)})
    if unknown := [s for s in chosen if s not in levels]:
        raise invalid("Study", "grid", f"'full', 'dense-corrupted' or a list of the study's "
                      f"sparsities {levels}", chosen, f"{unknown} are not among them")
    return chosen


def models_of(models: Mapping[str, nn.Module]) -> dict[str, str]:
    """The models' classes by name, for an error message (modules' reprs are long)."""
    return {k: type(m).__name__ for k, m in models.items()}


def count_classes(name: str, model: nn.Module, sample: torch.Tensor) -> int:
    """The classes a model outputs, from one forward pass of ``sample`` (in eval mode, every
    module's train flag restored); an error naming the model when it is no classifier."""
    from geowidget.engine.features import dtype_named, logits_of

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with evaluating(model), torch.no_grad(), dtype_named(model, sample, "Study", "data"):
        out = logits_of(model(sample.to(dev)), "Study", "models", f"model {name!r}: ")
    if out.ndim != 2 or out.shape[-1] < 2:
        raise invalid("Study", "models", "classifiers whose logits are [N, C] with C >= "
                      "2 classes", models_of({name: model}), f"model {name!r} returns logits "
                      f"of shape {tuple(out.shape)}")
    return int(out.shape[-1])


def _common_classes(models: Mapping[str, nn.Module], sample: torch.Tensor) -> int:
    counts = {name: count_classes(name, m, sample) for name, m in models.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(
            f"models have different numbers of classes {counts}; a Study compares models "
            "over the same classes"
        )
    return next(iter(counts.values()))


def _check_weights(models: Mapping[str, nn.Module], pruning: str, sparsities: Sequence[float]
                   ) -> None:
    """Finite weights (a NaN weight would surface as NaN features, far from its cause),
    and weights that pruning can mask when the study prunes."""
    from geowidget.engine.pruning import prunable_parameters

    for name, m in models.items():
        for pname, p in m.named_parameters():
            if p.is_floating_point() and not p.is_meta and not bool(p.isfinite().all()):
                bad = int((~p.isfinite()).sum())
                raise invalid("Study", "models", "models with finite weights",
                              models_of(models), f"model {name!r}: its parameter {pname!r} "
                              f"holds {bad} NaN or infinite values")
        if any(s > 0 for s in sparsities):
            prunable_parameters(m, structured=pruning == "structured_l2", caller="Study",
                                name="models")


def _class_names(data: Any, num_classes: int) -> list[str]:
    names = getattr(data, "class_names", None) or getattr(data, "classes", None)
    if names is not None and len(names) == num_classes:
        return [str(c) for c in names]
    return [str(c) for c in range(num_classes)]


def _check_layers(models: Mapping[str, nn.Module], layers: str | Sequence[str]) -> list[str]:
    from geowidget.engine.features import get_layer_names, sort_by_depth

    if layers == "all":  # every layer that every model lists, and the head's input
        listed = [get_layer_names(m) for m in models.values()]
        layers = [v for v in listed[0] if all(v in other for other in listed[1:])]
        layers.append(PENULTIMATE)
    out = list(dict.fromkeys([layers] if isinstance(layers, str) else layers))
    for name, m in models.items():
        valid = set(get_layer_names(m)) | {n for n, _ in m.named_modules() if n}
        for layer in out:
            if layer != PENULTIMATE and layer not in valid and not layer.endswith(":input"):
                raise ValueError(
                    f"layer {layer!r} not in model {name!r}; valid: "
                    f"{[PENULTIMATE, *get_layer_names(m)]}"
                )
    # by depth, so every view runs from the input to the output whatever order was given;
    # the penultimate layer is the head's input, so it sits just before the head (the logits)
    first = next(iter(models.values()))
    try:
        head_input = _head(first)[2] if PENULTIMATE in out else None
    except ValueError:  # no head: the plan reports that where the head is needed
        head_input = None
    if head_input is None:
        return sort_by_depth(first, out, last=(PENULTIMATE,))
    return sort_by_depth(first, out, at={PENULTIMATE: head_input})


def _check_tokens(tokens: Any, layers: list[str]) -> dict[str, str]:
    """``{layer: mode}`` over the study's layers (a string: all but the penultimate)."""
    from geowidget._validation import check
    from geowidget.engine.tokens import TOKENS, check_tokens

    tokens = check("Study", "tokens", tokens, TOKENS)
    default, per_layer = check_tokens(tokens, layers, "Study")
    if default is not None:
        return {v: default for v in layers if v != PENULTIMATE}
    return per_layer


def _check_corruptions(spec: Any, severities: list[int], first: torch.Tensor, n: int,
                       shard_size: int) -> list[tuple[str, int, ShardReader | None]]:
    """``[(benchmark, severity, reader)]``; the reader is None for generated corruptions."""
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        out = []
        for name, value in spec.items():
            if name == "clean":
                raise ValueError("'clean' is reserved for the uncorrupted data")
            items = value.items() if isinstance(value, Mapping) else [(1, value)]
            for sev, d in items:
                what = f"corrupted data {name!r}"
                reader = ShardReader(d, shard_size, what, labelled=False)
                x, _ = reader.head(1)
                if len(reader) != n or x.shape[1:] != first.shape[1:]:
                    raise ValueError(
                        f"{what} has {len(reader)} inputs of shape {tuple(x.shape[1:])}, "
                        f"expected {n} of shape {tuple(first.shape[1:])} (the same "
                        "samples as data)"
                    )
                out.append((str(name), int(sev), reader))
        return out
    channels = first.shape[1] if first.ndim == 4 else 1
    names = resolve_corruptions(spec, channels)
    if first.ndim != 4 or channels not in (1, 3):
        raise ValueError(
            f"generated corruptions need images [N, 1 or 3, H, W], got {tuple(first.shape)}"
        )
    return [(c, s, None) for c in names for s in severities]


def _head(model: nn.Module) -> tuple[str, nn.Linear, str] | None:
    from geowidget.engine.head import find_head

    return find_head(model)
