"""Runners: where a study's work units run. The same tasks run in this process or on a cluster.

A :class:`Task` is every pending unit of one shard at one condition, one per model, so its
inputs are read (and corrupted) once. A :class:`Worker` holds what a worker process keeps
between tasks: the models, loaded once, and their pruning plans. A runner takes a stream of
tasks and yields each finished unit:

- :class:`LocalRunner` runs them one after another in this process;
- :class:`geowidget.study.ray.RayRunner` runs them on Ray actors.

Workers write every finished unit straight to the unit store, so what a runner hands back is
the unit and, in this process only, its arrays.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from geowidget.engine.batches import resolve_device
from geowidget.engine.pruning import PruningPlan
from geowidget.study.store import UnitStore
from geowidget.study.units import WorkUnit, evaluate_unit, unit_inputs


@dataclass(frozen=True)
class Task:
    """Pending units of one shard at one condition (one unit per model), with their store keys.

    ``inputs`` are the shard's clean inputs, or its ready-made corrupted copy when the study
    was given one for this benchmark (``given=True``); generated corruptions are applied by
    the worker.
    """

    units: tuple[WorkUnit, ...]
    keys: tuple[str, ...]
    inputs: Any  # Tensor, or a reference to one on a cluster
    labels: Any
    given: bool = False


@dataclass
class WorkerSpec:
    """Everything a worker needs to evaluate any unit of a study (picklable).

    ``layers[model]`` maps cube layer names to the model's node names; ``heads[model]`` is the
    module name of its final Linear (None when no layer uses it); ``probes[model][layer]`` the
    ``(weight, bias)`` of each layer measured with a linear probe; ``calibration`` the labelled
    samples gradient-based pruning scores weights with.
    """

    models: dict[str, nn.Module]
    layers: dict[str, dict[str, str]]
    heads: dict[str, str | None]
    probes: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]
    pruning: str
    seed: int
    calibration: tuple[torch.Tensor, torch.Tensor] | None
    calibration_size: int
    batch_size: int
    device: str
    tokens: dict[str, dict[str, str]] | None = None  # per model, {node: "cls" | "mean"}


class Worker:
    """Evaluates tasks with models loaded once; what a local process or a Ray actor holds.

    Parameters
    ----------
    spec : WorkerSpec
    store : UnitStore, optional
        Finished units are written here as soon as they are computed.
    own_models : bool
        The models in ``spec`` belong to this worker (a copy received by a remote process),
        so they are moved to the device in place; otherwise a model on another device is
        copied, and the caller's models are never changed.
    """

    def __init__(self, spec: WorkerSpec, store: UnitStore | None, own_models: bool = False) -> None:
        self.spec, self.store = spec, store
        self.device = resolve_device(spec.device)
        self.models = {name: _on_device(m, self.device, own_models)
                       for name, m in spec.models.items()}
        self._plans: dict[str, PruningPlan] = {}

    def plan(self, model: str) -> PruningPlan:
        if model not in self._plans:
            self._plans[model] = PruningPlan.from_model(
                self.models[model], self.spec.pruning, data=self.spec.calibration,
                seed=self.spec.seed, calibration_size=self.spec.calibration_size,
            )
        return self._plans[model]

    def run(self, task: Task) -> Iterator[tuple[WorkUnit, str, dict[str, np.ndarray]]]:
        """Evaluate a task's units; each is written to the store before it is yielded."""
        first = task.units[0]
        inputs = task.inputs if task.given else unit_inputs(
            first, task.inputs, seed=self.spec.seed, device=self.device
        )
        for unit, key in zip(task.units, task.keys, strict=True):
            arrays = self.evaluate(unit, inputs, task.labels)
            if self.store is not None:
                self.store.save(key, arrays)
            yield unit, key, arrays

    def evaluate(self, unit: WorkUnit, inputs: torch.Tensor,
                 labels: torch.Tensor) -> dict[str, np.ndarray]:
        """One unit, on inputs that are already the unit's (corrupted) inputs."""
        spec = self.spec
        masks = self.plan(unit.model).masks(unit.sparsity) if unit.sparsity > 0 else None
        return evaluate_unit(
            unit, self.models[unit.model], inputs, labels, layers=spec.layers[unit.model],
            head=spec.heads[unit.model], probes=spec.probes.get(unit.model), masks=masks,
            batch_size=spec.batch_size, device=self.device,
            tokens=(spec.tokens or {}).get(unit.model),
        )


class LocalRunner:
    """Runs every task in this process, one after another."""

    name = "local"

    def run(self, spec: WorkerSpec, tasks: Iterable[Task], store: UnitStore | None
            ) -> Iterator[tuple[WorkUnit, str, dict[str, np.ndarray] | None]]:
        """Yield ``(unit, key, arrays)`` for every unit of every task, in order."""
        worker = Worker(spec, store)
        for task in tasks:
            yield from worker.run(task)


def _on_device(model: nn.Module, device: torch.device, own: bool) -> nn.Module:
    dev = next((p.device for p in model.parameters()), device)
    if dev == device:
        return model
    return model.to(device) if own else copy.deepcopy(model).to(device)
