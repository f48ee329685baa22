"""The live array backend: a cube's cells computed by the engine the first time they are read.

:class:`LiveArrays` implements the cube's array backend protocol
(:class:`~geowidget.cube_arrays.CubeArrays`: ``names``, ``location``, ``full``, ``block``,
``cell``) like the in-memory and the on-disk backends, but a cell it does not hold is computed, with the very
code a :meth:`Study.run <geowidget.study.Study.run>` runs for a unit: the study's
:class:`~geowidget.study.runners.Worker` evaluates a one-unit
:class:`~geowidget.study.runners.Task` per shard, so a live cell equals the run's cell.

What it computes is kept as the study's parts, one per (model, condition, layer) and one per
(model, condition) for the model's outputs: in memory (:class:`~geowidget.live.cache.ByteLRU`)
and, when the study has a ``cache_dir``, in its unit store under the run's own keys, so a
later process (a live cube or a run) reuses them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.overrides import TorchFunctionMode

from geowidget.cube_schema import ARRAYS, DTYPES, LAYER_PRED, array_dims
from geowidget.engine.progress import progress
from geowidget.live.cache import ByteLRU, default_bytes
from geowidget.study.runners import Task, Worker
from geowidget.study.units import OUTPUTS_PART, WorkUnit, fingerprint, unit_where

if TYPE_CHECKING:
    import torch

    from geowidget.engine.probe import ProbeFit
    from geowidget.study.study import Study

__all__ = ["Cancelled", "LiveArrays", "LiveCellError", "ModelChangedError"]


class Cancelled(Exception):
    """A computation that a newer request superseded, stopped at its next torch operation."""


class LiveCellError(RuntimeError):
    """A cell the engine could not compute; the message names the cell's coordinates."""


class ModelChangedError(RuntimeError):
    """A model whose weights changed after ``live()``: its cells would not be comparable."""


def _signature(model: Any) -> tuple[tuple[int, int], ...]:
    """Cheap change detector: each tensor's storage and in-place version counter (an optimiser
    step or ``load_state_dict`` bumps the counter, a reassigned ``.data`` moves the storage)."""
    return tuple((t.data_ptr(), t._version) for t in model.state_dict().values())


class _StopWhenSet(TorchFunctionMode):
    """Within the block, on this thread, every torch operation first calls ``stop``, which
    raises once the computation is superseded: it then stops inside a forward batch, a
    layer's geometry (chunk by chunk) or a probe's fit (iteration by iteration), not only
    between them. After it has raised once, the operations run on unchecked, so the cleanup
    (the pruned weights restored) runs. The operations themselves are called unchanged, so
    the results are the same; the cost is a Python call per operation (measured: about 1 us,
    nothing next to a forward batch, about 40% of a 100 ms probe fit of 1,000 samples)."""

    def __init__(self, stop: Callable[[], None]) -> None:
        super().__init__()
        self.stop, self.raised = stop, False

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        if not self.raised:
            try:
                self.stop()
            except Cancelled:
                self.raised = True
                raise
        return func(*args, **(kwargs or {}))


class _LazyProbes(Mapping):
    """A model's probes by layer, each fitted (or read from the store) when first read: a
    live cube fits only the probes of the layers someone looks at.

    They are fitted on ``model``, a dense copy of the user's model taken with the worker's: a
    fit runs on the worker thread (never the user's model, which the notebook may be running
    or hooking meanwhile), inside a unit whose own copy is pruned at that moment."""

    def __init__(self, study: Study, name: str, layers: list[str],
                 head: Callable[[], tuple[torch.Tensor, torch.Tensor]],
                 model: torch.nn.Module | None) -> None:
        self.study, self.name, self.layers, self.head = study, name, layers, head
        self.model = model
        self.fits: dict[str, ProbeFit] = {}

    def __getitem__(self, layer: str) -> ProbeFit:
        if layer not in self.layers:
            raise KeyError(layer)
        if layer not in self.fits:
            self.fits[layer] = self.study._probe(self.name, layer, self.head(), self.model)
            self.study.probe_fits.setdefault(self.name, {})[layer] = self.fits[layer]
        return self.fits[layer]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)


class LiveArrays:
    """The arrays of a live cube: each part computed once, then kept (see the module doc).

    Parameters
    ----------
    study : Study
        Its models, data, layers, conditions and settings (its :attr:`~Study.plan`, resolved
        here); never run whole.
    cache_bytes : int, optional
        Bytes of computed parts kept in memory (default a quarter of the machine's memory).
    """

    location = None

    def __init__(self, study: Study, cache_bytes: int | None = None) -> None:
        self.study = study
        plan = study.plan
        self.models, self.layers = list(plan.models), list(plan.layers)
        self.conditions = plan.conditions
        self.n = plan.n
        self.cache = ByteLRU(default_bytes() if cache_bytes is None else cache_bytes)
        self.probed = plan.probed
        self.names = ARRAYS + ((LAYER_PRED,) if plan.probed is not None else ())
        self.stats = {"computed": 0, "stored": 0}  # parts computed by the engine, read from disk
        # one computation at a time: the worker's models are pruned in place while it runs
        self.lock = threading.RLock()
        self._signatures = {name: _signature(m) for name, m in plan.models.items()}
        self._worker: Worker | None = None
        self._keys: dict[tuple[str, str], str] = {}
        self._fps: dict[Any, str] = {}
        self._probe_head: tuple[torch.Tensor, torch.Tensor] | None = None
        # the store keys (one per shard) of each (model, condition, part) this cube computed or
        # read, so a part evicted from memory is still found (``kept``)
        self._stored: dict[tuple[int, int, str], tuple[str, ...]] = {}
        self._checked: set[int] = set()  # shards whose labels and inputs were checked
        # called before a computation waits for the lock: stops a cell being computed ahead
        # (set by the cube's CellRequests), so a notebook read never waits for one
        self.give_way: Callable[[], None] | None = None
        # called with (model, condition) once parts of that pair are kept, on the computing
        # thread: views of the cube refresh (they must return quickly)
        self.listeners: list[Callable[[int, int], None]] = []

    # ------------------------------------------------------------------ protocol
    def full(self, name: str) -> np.ndarray:
        m, ly, k = len(self.models), len(self.layers), len(self.conditions)
        return self.block(name, list(range(m)), list(range(ly)), list(range(k)))

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        """The array ``name`` over the given positions, computing the missing cells (a
        progress bar counts them when there are two or more and the study's ``progress``
        is on)."""
        layered = "layer" in array_dims(name)
        shape = (len(mi), len(li), len(ki), self.n) if layered else (len(mi), len(ki), self.n)
        out = np.empty(shape, DTYPES[name])
        missing = {(m, k): self._missing(m, k, li if layered else []) for m in mi for k in ki}
        total = sum(missing.values())
        with progress(total=total, desc="live cells", unit="cell",
                      disable=total < 2 or not self.study.progress) as bar:
            for a, m in enumerate(mi):
                for c, k in enumerate(ki):
                    if layered:
                        parts = self.parts(m, k, [self.layers[i] for i in li])
                        for b, i in enumerate(li):
                            out[a, b, c] = parts[self.layers[i]][name]
                    else:
                        out[a, c] = self.parts(m, k, [OUTPUTS_PART])[OUTPUTS_PART][name]
                    bar.update(missing[(m, k)])
        return out

    def _missing(self, model: int, condition: int, li: list[int]) -> int:
        """How many of the cells (model, li, condition) are not in memory; with no layers,
        whether the (model, condition)'s outputs are not."""
        if not li:
            return int((model, condition, OUTPUTS_PART) not in self.cache)
        return sum(not self.ready(model, i, condition) for i in li)

    def cell(self, model: int, layer: int, condition: int, names: list[str]
             ) -> dict[str, np.ndarray]:
        parts = self.parts(model, condition, [self.layers[layer], OUTPUTS_PART])
        ours, outputs = parts[self.layers[layer]], parts[OUTPUTS_PART]
        return {k: ours[k] if "layer" in array_dims(k) else outputs[k] for k in names}

    # ------------------------------------------------------------------ parts
    def ready(self, model: int, layer: int, condition: int) -> bool:
        """Whether the cell is in memory (reading it computes nothing)."""
        return all((model, condition, p) in self.cache
                   for p in (self.layers[layer], OUTPUTS_PART))

    def kept(self, model: int, condition: int, part: str) -> dict[str, np.ndarray] | None:
        """The part from memory, else from the unit store where this cube wrote or found it
        (``cache_dir``); None when it is in neither. Computes nothing and keeps nothing new
        in memory."""
        hit = self.cache.get((model, condition, part))
        keys = self._stored.get((model, condition, part))
        if hit is not None or keys is None:
            return hit
        pieces = [self.study.plan.store.load(key) for key in keys]
        if any(piece is None for piece in pieces):
            return None
        return {k: np.concatenate([piece[k] for piece in pieces]) for k in pieces[0]}

    def is_kept(self, model: int, layer: int, condition: int) -> bool:
        """Whether the cell is in memory or in the unit store (see :meth:`kept`): reading it
        computes nothing."""
        store = self.study.plan.store
        return all((model, condition, p) in self.cache
                   or ((model, condition, p) in self._stored
                       and all(store.exists(key) for key in self._stored[(model, condition, p)]))
                   for p in (self.layers[layer], OUTPUTS_PART))
    def has_outputs(self, model: int, condition: int) -> bool:
        """Whether the (model, condition)'s outputs are in memory (reading them computes
        nothing)."""
        return (model, condition, OUTPUTS_PART) in self.cache

    def parts(self, model: int, condition: int, parts: list[str],
              cancel: threading.Event | None = None) -> dict[str, dict[str, np.ndarray]]:
        """``{part: {array: [N]}}`` of (model, condition), computing the missing parts in one
        forward pass per shard. ``cancel``, once set, stops it at its next torch operation
        (:class:`Cancelled`)."""
        got = {p: self.cache.get((model, condition, p)) for p in dict.fromkeys(parts)}
        if all(v is not None for v in got.values()):
            return got  # type: ignore[return-value]
        if self.give_way is not None:
            self.give_way()
        with self.lock:  # another thread may have computed them meanwhile
            got = {p: self.cache.get((model, condition, p)) for p in got}
            missing = [p for p, v in got.items() if v is None]
            if missing and OUTPUTS_PART not in missing and \
                    (model, condition, OUTPUTS_PART) not in self.cache:
                missing.append(OUTPUTS_PART)  # the same forward pass gives them
            if missing:
                got.update(self._compute(model, condition, missing, cancel))
        return got  # type: ignore[return-value]

    def _compute(self, mi: int, ki: int, missing: list[str], cancel: threading.Event | None
                 ) -> dict[str, dict[str, np.ndarray]]:
        name, cond = self.models[mi], self.conditions[ki]
        layers = [p for p in missing if p != OUTPUTS_PART]
        where = (f"model {name!r}, layer{'s' if len(layers) != 1 else ''} "
                 f"{', '.join(map(repr, layers)) or '(outputs only)'}, condition {cond.label}")
        worker = self._ready_worker(name)
        study, store = self.study, self.study.plan.store
        pieces: dict[str, list[dict[str, np.ndarray]]] = {p: [] for p in missing}
        stored: dict[str, list[str]] = {p: [] for p in missing}

        def stop() -> None:  # before each torch operation, and each layer's geometry
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"the cell ({where}) was superseded by a newer request")

        try:
            with _StopWhenSet(stop) if cancel is not None else contextlib.nullcontext():
                for shard, copies in study._shards(self._checked):
                    unit = WorkUnit(name, cond.sparsity, cond.benchmark, cond.severity,
                                    shard.start, shard.stop)
                    source = copies.get((cond.benchmark, cond.severity))
                    keys = self._unit_keys(unit, shard, source, missing)
                    found = {}
                    for part, key in keys.items():
                        arrays = None if store is None else store.load(key)
                        if arrays is not None:
                            found[part] = arrays
                            self.stats["stored"] += 1
                    todo = {p: k for p, k in keys.items() if p not in found}
                    if todo:
                        task = Task((unit,), (todo,), shard.inputs if source is None
                                    else source, shard.labels, given=source is not None)
                        for _, _, parts in worker.run(task, check=stop):  # the run's own path
                            found.update(parts)
                        self.stats["computed"] += len(todo)
                    for part in missing:
                        pieces[part].append(found[part])
                        stored[part].append(keys[part])
        except (Cancelled, ModelChangedError):
            raise
        except Exception as err:
            stop()  # superseded, whatever caught the Cancelled first: Cancelled
            modules = [n for n, _ in study.plan.models[name].named_modules() if n]
            hint = (f"; pick a layer among the model's modules, e.g. {modules[:12]}"
                    if layers else "")
            raise LiveCellError(f"the cell ({where}) could not be computed: "
                                f"{type(err).__name__}: {err}{hint}") from err
        out = {p: {k: np.concatenate([piece[k] for piece in pieces[p]]) for k in pieces[p][0]}
               for p in missing}
        for part, arrays in out.items():
            self.cache.put((mi, ki, part), arrays)
            if store is not None:
                self._stored[(mi, ki, part)] = tuple(stored[part])
        for tell in list(self.listeners):
            tell(mi, ki)
        return out

    # ------------------------------------------------------------------ the engine's side
    def _ready_worker(self, name: str) -> Worker:
        """The worker, on copies of the models taken at the first computation (pruning then
        swaps weights in the copies, never in the user's models, while the notebook runs)."""
        self.check_model(name)
        if self._worker is None:
            for other in self.models:
                self.check_model(other)
            study, plan = self.study, self.study.plan
            probed = {m: [v for v in self.layers if not plan.uses_head(m, v)]
                      for m in self.models}
            probes = {m: _LazyProbes(study, m, layers, self._head,
                                     copy.deepcopy(plan.models[m]) if layers else None)
                      for m, layers in probed.items()}
            spec = study._worker_spec(probes=probes)
            spec = dataclasses.replace(spec, models={m: copy.deepcopy(model)
                                                     for m, model in plan.models.items()})
            self._worker = Worker(spec, plan.store, own_models=True)
        return self._worker

    def _head(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._probe_head is None:
            self._probe_head = self.study._probe_head()
        return self._probe_head

    def check_model(self, name: str) -> None:
        """Refuse to compute a cell of a model whose weights changed after ``live()``."""
        model = self.study.plan.models[name]
        signature = _signature(model)
        if signature == self._signatures[name]:
            return
        if fingerprint(*model.state_dict().values()) != self.study.plan.model_fp[name]:
            raise ModelChangedError(
                f"model {name!r} changed after live(): its weights differ from the fingerprint "
                "taken then, so its new cells would not be comparable with the cells computed "
                "before; this live cube refuses to mix them. Make a new Study (or call "
                "study.live() on a Study of the changed model) to see the new weights")
        self._signatures[name] = signature  # touched in place, but the same weights

    def _unit_keys(self, unit: WorkUnit, shard: Any, source: Any, parts: list[str]
                   ) -> dict[str, str]:
        """Each part's key in the unit store, the very key a run uses (parts are named by
        their own name when there is no store)."""
        if self.study.plan.store is None:
            return {p: p for p in parts}
        if shard.start not in self._fps:
            self._fps[shard.start] = fingerprint(shard.inputs, shard.labels)
        src = (shard.start, unit.benchmark, unit.severity)
        if source is not None and src not in self._fps:
            self._fps[src] = fingerprint(source)
        where = unit_where(self._fps[shard.start],
                           "generated" if source is None else self._fps[src], unit)
        return {p: fingerprint(self._base_key(unit.model, p), where) for p in parts}

    def _base_key(self, name: str, part: str) -> str:
        if (name, part) not in self._keys:
            assert self._worker is not None
            spec = self._worker.spec
            only = {m: ({} if m != name or part == OUTPUTS_PART
                        else {part: spec.layers[m][part]}) for m in self.models}
            keys = self.study._part_keys(dataclasses.replace(spec, layers=only))
            self._keys[(name, part)] = keys[name][part]
        return self._keys[(name, part)]
