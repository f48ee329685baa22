"""A training run given as checkpoints: one architecture and its weights at several steps.

:class:`Checkpoints` pairs a model (the architecture, any weights) with a run's saved
weights: file paths written by ``torch.save(model.state_dict(), path)``, or state dicts.
Files are read with ``torch.load(..., weights_only=True)``, and a file holding a training
checkpoint dict (``{"model": state_dict, "optimizer": ..., "epoch": 3}``; also the keys
``"state_dict"`` and ``"model_state_dict"``) gives its model weights.

Every checkpoint must fit the architecture exactly: the same parameter and buffer names and
shapes. A checkpoint that does not is refused with the names that are missing, unexpected
or of another shape, and a run whose checkpoints disagree in the number of classes (the
head's output size) is refused as such, before any work.

Examples
--------
>>> import torch
>>> from geowidget.zoo.models import mlp
>>> states = [mlp(8, seed=s).state_dict() for s in range(3)]
>>> run = Checkpoints(mlp(8), states, steps=[0, 10, 20])
>>> run.steps, run.load(1).fc.weight.shape
([0, 10, 20], torch.Size([10, 8]))
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geowidget._validation import (
    MODEL,
    DictOf,
    Instance,
    Interval,
    ListOf,
    invalid,
    validate_params,
)
from geowidget.engine.torch_files import read_torch_file

__all__ = ["Checkpoints", "as_run", "expand_runs", "step_model_name"]

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
_CHECKPOINT = Instance(Mapping, str, os.PathLike)  # a state dict or the path of a torch file


class Checkpoints:
    """A run: ``model``'s architecture with the weights of each checkpoint, ordered by step.

    Parameters
    ----------
    model : nn.Module
        The architecture. It is copied for each checkpoint and never changed.
    checkpoints : list or dict
        State dicts or paths (``str`` or ``PathLike``) of ``torch.save`` files, in training
        order; or a dict ``{step: state dict or path}``.
    steps : list of int, optional
        The training step (or epoch) of each checkpoint in a list; default ``0, 1, 2, ...``.
        Strictly increasing. Not allowed with a dict, whose keys are the steps.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(4, 2)
    >>> states = [{k: v * s for k, v in net.state_dict().items()} for s in (0.0, 1.0)]
    >>> run = Checkpoints(net, states, steps=[0, 5])
    >>> run.steps, run.load(0).weight.abs().sum().item()
    ([0, 5], 0.0)
    """

    @validate_params({
        "model": MODEL,
        "checkpoints": [ListOf(_CHECKPOINT), DictOf(Interval(int, None, None), _CHECKPOINT,
                                                     min_len=1)],
        "steps": [None, ListOf(Interval(int, None, None))],
    })
    def __init__(
        self,
        model: nn.Module,
        checkpoints: Sequence[Any] | Mapping[int, Any],
        steps: Sequence[int] | None = None,
    ) -> None:
        if isinstance(checkpoints, Mapping):
            if steps is not None:
                raise invalid("Checkpoints", "steps", "None when checkpoints is a dict (its "
                              "keys are the steps)", steps)
            steps, items = [int(k) for k in checkpoints], list(checkpoints.values())
        else:
            items = checkpoints
            steps = list(range(len(items))) if steps is None else steps
        if len(steps) != len(items):
            raise invalid("Checkpoints", "steps", f"one step per checkpoint ({len(items)})",
                          steps)
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise invalid("Checkpoints", "steps", "strictly increasing", steps)
        self.model, self.steps, self._items = model, [int(s) for s in steps], items

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"Checkpoints({type(self.model).__name__}, steps={self.steps})"

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """The weights of the ``i``-th checkpoint (read from its file if it is a path)."""
        i = self._position(i, "state_dict")
        item = self._items[i]
        if not isinstance(item, Mapping):
            from geowidget.filesystem import check_regular_file

            # a FIFO or a device would block or never end: refused before it is opened
            check_regular_file(None, os.fspath(item), f"checkpoint {i}")
            item = read_torch_file(item, f"checkpoint {i}")
            if not isinstance(item, Mapping):
                raise TypeError(
                    f"checkpoint file {os.fspath(self._items[i])!r} holds a "
                    f"{type(item).__name__}, not a state dict"
                )
        for key in _WRAPPER_KEYS:
            if isinstance(item.get(key), Mapping) and not any(
                isinstance(v, torch.Tensor) for v in item.values()
            ):
                item = item[key]
                break
        return dict(item)

    def load(self, i: int) -> nn.Module:
        """A copy of the architecture holding the ``i``-th checkpoint's weights."""
        i = self._position(i, "load")
        return self._load(i, self.state_dict(i))

    def _position(self, i: Any, method: str) -> int:
        """``i`` as a checkpoint position (negative from the end), or the error naming it."""
        n = len(self._items)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -n <= i < n:
            raise invalid(f"Checkpoints.{method}", "i", f"a checkpoint position in [-{n}, {n}) "
                          f"(this run has {n}, at steps {self.steps})", i,
                          "a position, not a step" if i in self.steps else "")
        return int(i) % n

    def _load(self, i: int, state: Mapping[str, Any]) -> nn.Module:
        self._check_fits(i, state)
        model = copy.deepcopy(self.model)
        model.load_state_dict(state)
        return model

    def models(self) -> list[nn.Module]:
        """Every checkpoint as a model; checked first to agree in the number of classes,
        then each to fit the architecture."""
        states = [self.state_dict(i) for i in range(len(self))]
        self._check_classes(states)
        return [self._load(i, state) for i, state in enumerate(states)]

    def _name(self, i: int) -> str:
        item = self._items[i]
        where = "" if isinstance(item, Mapping) else f" ({os.fspath(item)!r})"
        return f"checkpoint {i} at step {self.steps[i]}{where}"

    def _check_fits(self, i: int, state: Mapping[str, Any]) -> None:
        expected = self.model.state_dict()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        shapes = [
            f"{k}: {tuple(state[k].shape)} instead of {tuple(v.shape)}"
            for k, v in expected.items()
            if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            parts = []
            if missing:
                parts.append(f"missing keys {_short(missing)}")
            if unexpected:
                parts.append(f"unexpected keys {_short(unexpected)}")
            if shapes:
                parts.append(f"other shapes {_short(shapes)}")
            raise ValueError(
                f"{self._name(i)} does not fit {type(self.model).__name__}: "
                + "; ".join(parts)
                + ". Pass the architecture the run was trained with."
            )

    def _check_classes(self, states: list[Mapping[str, Any]]) -> None:
        from geowidget.engine.head import find_head

        try:
            key = f"{find_head(self.model)[0]}.weight"
        except ValueError:
            return  # no linear head: the fit check compares every shape anyway
        classes = [tuple(s[key].shape)[0] if key in s else None for s in states]
        known = [(i, c) for i, c in enumerate(classes) if c is not None]
        odd = next(((i, c) for i, c in known if c != known[0][1]), None) if known else None
        if odd is not None:
            raise ValueError(
                f"the run's checkpoints disagree in their number of classes ({key} rows): "
                f"{self._name(known[0][0])} has {known[0][1]}, {self._name(odd[0])} has "
                f"{odd[1]} (all: {classes})"
            )


def _short(names: list[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{names[:limit]}{more}"


# ---------------------------------------------------------------------------- runs in a study
RUN_KEY, STEP_KEY = "run", "step"


def step_model_name(run: str, step: int) -> str:
    """The name of a run's checkpoint at ``step`` among a study's models: ``"<run>/<step>"``."""
    return f"{run}/{step}"


def as_run(value: Any) -> Checkpoints | None:
    """``value`` as a run: a :class:`Checkpoints`, or a ``(model, checkpoints)`` pair; else None."""
    if isinstance(value, Checkpoints):
        return value
    if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], nn.Module)
            and isinstance(value[1], Sequence | Mapping) and not isinstance(value[1], str)):
        return Checkpoints(*value)
    return None


def expand_runs(
    models: Mapping[str, Any],
) -> tuple[dict[str, nn.Module], dict[str, tuple[str, int]]]:
    """Models with each run replaced by its checkpoints, named ``"<run>/<step>"``.

    Returns ``(models, runs)``: ``runs`` maps each checkpoint's model name to its
    ``(run, step)``. Every checkpoint is loaded (and checked) here, so a study holds one
    model per checkpoint.
    """
    out: dict[str, nn.Module] = {}
    runs: dict[str, tuple[str, int]] = {}
    for name, value in models.items():
        run = as_run(value)
        if run is None:
            out[name] = value
            continue
        if "/" in name:
            raise ValueError(f"a run's name must not contain '/', got {name!r}")
        for step, model in zip(run.steps, run.models(), strict=True):
            out[step_model_name(name, step)] = model
            runs[step_model_name(name, step)] = (name, step)
    return out, runs
