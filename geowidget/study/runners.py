"""Runners: where a study's work units run. The same tasks run in this process or on a cluster.

A :class:`Task` is every pending unit of one shard on one input (clean, or one corruption at
one severity), one per (model, sparsity), so its inputs are read (and corrupted) once. A :class:`Worker` holds what a worker process keeps
between tasks: the models, loaded once, and their pruning plans. A runner takes a stream of
tasks and yields each finished unit:

- :class:`LocalRunner` runs them one after another in this process;
- :class:`RayRunner` runs them on Ray actors, each of which loads the models once and then
  evaluates many tasks (the actor pattern of Ray's batch-inference examples).

Workers write every finished unit straight to the unit store, so what a runner hands back is
the unit and, in this process only, its arrays: the driver of a Ray run never holds the
results of the units in flight. Ray is imported only when a RayRunner runs.
"""

from __future__ import annotations

import copy
import os
import socket
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from geowidget._validation import POSITIVE_INT, DictOf, Interval, validate_params
from geowidget.engine.batches import resolve_device
from geowidget.engine.probe import ProbeFit
from geowidget.engine.pruning import PruningPlan
from geowidget.study.units import (
    OUTPUTS_PART,
    WorkUnit,
    evaluate_unit,
    split_parts,
    unit_inputs,
)

if TYPE_CHECKING:
    from geowidget.study.store import UnitStore

__all__ = ["CONNECT_TIMEOUT_S", "RAY_INSTALL", "LocalRunner", "RayRunner", "Task", "Worker",
           "WorkerSpec", "check_reachable", "connect", "import_ray"]


@dataclass(frozen=True)
class Task:
    """Pending units of one shard on one input (clean, or one corruption at one severity), one
    per (model, sparsity), with the store keys of the parts each must compute.

    ``keys[i]`` maps each missing part of ``units[i]`` (a layer name, or
    :data:`~geowidget.study.units.OUTPUTS_PART`) to its store key; the worker computes those
    parts only. ``inputs`` are the shard's clean inputs, or its ready-made corrupted copy when
    the study was given one for this benchmark (``given=True``); generated corruptions are
    applied by the worker, once for all the task's units.
    """

    units: tuple[WorkUnit, ...]
    keys: tuple[dict[str, str], ...]
    inputs: Any  # Tensor, or a reference to one on a cluster
    labels: Any
    given: bool = False


@dataclass
class WorkerSpec:
    """Everything a worker needs to evaluate any unit of a study (picklable).

    ``layers[model]`` maps cube layer names to the model's node names; ``heads[model]`` is the
    module name of its final Linear (None when no layer uses it); ``probes[model][layer]`` the
    :class:`~geowidget.engine.probe.ProbeFit` of each layer measured with linear probes;
    ``calibration`` the labelled samples gradient-based pruning scores weights with.
    """

    models: dict[str, nn.Module]
    layers: dict[str, dict[str, str]]
    heads: dict[str, str | None]
    probes: dict[str, dict[str, ProbeFit]]
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

    def run(self, task: Task, check: Callable[[], None] | None = None
            ) -> Iterator[tuple[WorkUnit, dict[str, str], dict[str, dict[str, np.ndarray]]]]:
        """Evaluate the missing parts of a task's units; each part is written to the store
        before its unit is yielded with ``{part: arrays}``. ``check`` is called before each
        layer's geometry (see :func:`~geowidget.study.units.evaluate_unit`)."""
        first = task.units[0]
        inputs = task.inputs if task.given else unit_inputs(
            first, task.inputs, seed=self.spec.seed, device=self.device
        )
        for unit, keys in zip(task.units, task.keys, strict=True):
            layers = [v for v in self.spec.layers[unit.model] if v in keys]
            arrays = self.evaluate(unit, inputs, task.labels, layers=layers,
                                   outputs=OUTPUTS_PART in keys, check=check)
            parts = split_parts(arrays, layers)
            if self.store is not None:
                for part, key in keys.items():
                    self.store.save(key, parts[part])
            yield unit, keys, parts

    def evaluate(self, unit: WorkUnit, inputs: torch.Tensor, labels: torch.Tensor, *,
                 layers: list[str] | None = None, outputs: bool = True,
                 check: Callable[[], None] | None = None) -> dict[str, np.ndarray]:
        """One unit, on inputs that are already the unit's (corrupted) inputs: the geometry
        of ``layers`` (default every layer of the study) and, with ``outputs``, the model's
        outputs."""
        spec = self.spec
        nodes = spec.layers[unit.model]
        masks = self.plan(unit.model).masks(unit.sparsity) if unit.sparsity > 0 else None
        return evaluate_unit(
            unit, self.models[unit.model], inputs, labels,
            layers=nodes if layers is None else {v: nodes[v] for v in layers},
            head=spec.heads[unit.model], probes=spec.probes.get(unit.model), masks=masks,
            batch_size=spec.batch_size, device=self.device,
            tokens=(spec.tokens or {}).get(unit.model), outputs=outputs, check=check,
        )


class LocalRunner:
    """Runs every task in this process, one after another (the default runner of a Study).

    Examples
    --------
    >>> from geowidget.study import LocalRunner
    >>> LocalRunner()
    LocalRunner()
    """

    name = "local"

    def __repr__(self) -> str:
        return "LocalRunner()"

    def run(self, spec: WorkerSpec, tasks: Iterable[Task], store: UnitStore | None
            ) -> Iterator[tuple[WorkUnit, dict[str, str], dict[str, dict[str, np.ndarray]]]]:
        """Yield ``(unit, keys, parts)`` for every unit of every task, in order."""
        worker = Worker(spec, store)
        for task in tasks:
            yield from worker.run(task)
            del task  # its shard is freed before the next one is read


def _on_device(model: nn.Module, device: torch.device, own: bool) -> nn.Module:
    dev = next((p.device for p in model.parameters()), device)
    if dev == device:
        return model
    return model.to(device) if own else copy.deepcopy(model).to(device)


# ---------------------------------------------------------------------------- Ray
RAY_INSTALL = "pip install 'geowidget[ray]'"
CONNECT_TIMEOUT_S = 10.0


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ImportError(f"RayRunner needs Ray, which is not installed; install it with "
                          f"{RAY_INSTALL} (or pip install 'ray>=2.9')") from err
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast, naming the address, when nothing listens at a ``host:port`` Ray address.

    ``"auto"`` is left to Ray, which fails at once when no cluster runs on this machine.
    """
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"a Ray address must be 'auto', 'host:port' or 'ray://host:port', got "
                         f"{address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(
            f"cannot reach the Ray cluster at address={address!r} ({err}); start one there "
            "with `ray start --head`, or pass address=None for a local cluster"
        ) from None


def connect(ray: Any, address: str | None) -> None:
    """Use the running Ray, or join ``address``, or start a local cluster (``None``)."""
    if address is not None:
        check_reachable(address)
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, configure_logging=False,
                 log_to_driver=False)
    except ConnectionError as err:
        raise ConnectionError(f"cannot join the Ray cluster at address={address!r}: {err}"
                              ) from None


def _array(t: torch.Tensor) -> np.ndarray:
    """A shard as Ray ships it fastest: a numpy array goes through the object store as one
    buffer (zero-copy on the worker's node), where a tensor is pickled by torch.save, which
    made Ray's overhead 230 ms per unit instead of 25 (benchmarks/bench_ray.py, tiny units)."""
    return t.detach().cpu().numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():  # the object store's buffers are read-only; no unit writes
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(a)


class _StudyActor:
    """A Ray actor around a :class:`Worker`: the models are deserialised once per process."""

    def __init__(self, spec: WorkerSpec, store: UnitStore) -> None:
        self.worker = Worker(spec, store, own_models=True)

    def run(self, units: tuple[WorkUnit, ...], keys: tuple[dict[str, str], ...],
            inputs: np.ndarray, labels: np.ndarray, given: bool
            ) -> list[tuple[WorkUnit, dict[str, str]]]:
        task = Task(units, keys, _tensor(inputs), _tensor(labels), given)
        return [(unit, part_keys) for unit, part_keys, _ in self.worker.run(task)]

    def pid(self) -> int:
        return os.getpid()


class RayRunner:
    """Runs tasks on a pool of Ray actors; finished units go straight to the (shared) store.

    Made with its settings only: Ray is imported, and the cluster joined, when a study runs.

    Parameters
    ----------
    address : str, optional
        ``None``: the running Ray, or a new local cluster; ``"auto"``: the cluster started on
        this machine with ``ray start --head``; ``"host:6379"`` or ``"ray://host:10001"``: a
        remote one. An address nothing listens at fails within ``CONNECT_TIMEOUT_S`` seconds.
    remote_args : mapping, optional
        Resources of each actor, passed to ``ray.remote`` (default ``{"num_cpus": 1}``; e.g.
        ``{"num_gpus": 1}`` for one actor per GPU).
    max_workers : int, optional
        Upper bound on the number of actors (the pool otherwise fills the cluster).
    max_restarts : int
        How often a dead actor is restarted; its tasks are retried as often.

    Examples
    --------
    >>> from geowidget.study import RayRunner
    >>> RayRunner(address="auto", remote_args={"num_gpus": 1})
    RayRunner(address='auto', remote_args={'num_gpus': 1})
    """

    name = "ray"

    @validate_params({
        "address": [None, str],
        "remote_args": [None, DictOf(str, object)],
        "max_workers": [None, *POSITIVE_INT],
        "max_restarts": [Interval(int, 0, None)],
    })
    def __init__(self, address: str | None = None, remote_args: Mapping[str, Any] | None = None,
                 max_workers: int | None = None, max_restarts: int = 3) -> None:
        self.address = address
        self.remote_args = dict(remote_args) if remote_args else {"num_cpus": 1}
        self.max_workers, self.max_restarts = max_workers, max_restarts
        self.actors: list[Any] = []

    def __repr__(self) -> str:
        given = {"address": self.address,
                 "remote_args": None if self.remote_args == {"num_cpus": 1} else self.remote_args,
                 "max_workers": self.max_workers,
                 "max_restarts": None if self.max_restarts == 3 else self.max_restarts}
        return f"RayRunner({', '.join(f'{k}={v!r}' for k, v in given.items() if v is not None)})"

    def pool_size(self, ray: Any) -> int:
        """Actors that fit on the cluster at the requested resources (at least one)."""
        total = ray.cluster_resources()
        fits = []
        for name, key in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
            need = float(self.remote_args.get(name, 1 if name == "num_cpus" else 0) or 0)
            if need > 0:
                fits.append(int(total.get(key, 0) // need))
        size = max(1, min(fits) if fits else 1)
        return size if self.max_workers is None else max(1, min(size, self.max_workers))

    def run(self, spec: WorkerSpec, tasks: Iterable[Task], store: UnitStore | None
            ) -> Iterator[tuple[WorkUnit, dict[str, str], None]]:
        """Yield ``(unit, keys, None)`` as units finish (in any order); parts are in the store."""
        if store is None:
            raise ValueError("RayRunner needs a unit store that every worker can reach")
        ray = import_ray()
        connect(ray, self.address)
        try:
            actor_class = ray.remote(max_restarts=self.max_restarts,
                                     max_task_retries=self.max_restarts,
                                     **self.remote_args)(_StudyActor)
        except (TypeError, ValueError) as err:
            raise ValueError(f"RayRunner(remote_args={self.remote_args!r}): not valid options "
                             f"of ray.remote: {err}") from None
        spec_ref = ray.put(spec)
        self.actors = [actor_class.remote(spec_ref, store) for _ in range(self.pool_size(ray))]
        load = dict.fromkeys(range(len(self.actors)), 0)
        inflight: dict[Any, int] = {}
        refs: dict[int, Any] = {}  # id(tensor) -> its object ref, for the tasks of one shard
        try:
            for task in tasks:
                while len(inflight) >= 2 * len(self.actors):  # two queued per actor, no more
                    yield from self._collect(ray, inflight, load)
                pair = (task.inputs, task.labels)
                if len(refs) > 8:  # forget earlier shards (their tasks hold their own refs)
                    refs = {id(t): refs[id(t)] for t in pair if id(t) in refs}
                for tensor in pair:
                    if id(tensor) not in refs:
                        refs[id(tensor)] = (tensor, ray.put(_array(tensor)))
                i = min(load, key=load.get)
                ref = self.actors[i].run.remote(task.units, task.keys, refs[id(task.inputs)][1],
                                                refs[id(task.labels)][1], task.given)
                inflight[ref] = i
                load[i] += 1
            while inflight:
                yield from self._collect(ray, inflight, load)
        finally:
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []

    @staticmethod
    def _collect(ray: Any, inflight: dict[Any, int], load: dict[int, int]
                 ) -> Iterator[tuple[WorkUnit, dict[str, str], None]]:
        done, _ = ray.wait(list(inflight), num_returns=1)
        for ref in done:
            load[inflight.pop(ref)] -= 1
            for unit, keys in ray.get(ref):
                yield unit, keys, None
