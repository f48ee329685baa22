"""Study: sweep models over pruning levels and corruptions, and collect a GeometryCube.

A study evaluates every model at every sparsity level under every condition: on the clean
data and on every (corruption, severity), so that robustness is defined for the dense model
and for each pruned one alike (``grid="full"``). Cheaper grids leave cells out: with
``grid="dense-corrupted"`` only the dense model is corrupted (see :class:`Study`). At each
evaluated (model, sparsity, benchmark, severity) it records, per sample and layer, the
geometry (angle, norm, margin, ...) and, per sample, the prediction, so that
:mod:`geowidget.analysis.scores` can derive robustness and pruning vulnerability.

The data is read once, shard by shard (:mod:`geowidget.study.shards`). Each shard gives one
work unit per (model, condition) (:mod:`geowidget.study.units`), run by a runner
(:mod:`geowidget.study.runners`); the units of one shard on one input (clean, or one
corruption at one severity) form a task, so the inputs are corrupted once for every model
and sparsity. With ``cache_dir`` every finished unit is written to the unit store at once
(:mod:`geowidget.study.store`), in parts: one per layer and one for the model's outputs, each
under a key that fingerprints what that part depends on (the model weights, the shard's
inputs, the condition, and for a layer its node and class directions). A re-run, even after
``kill -9``, loads what is there and computes only what is missing: adding a layer computes
that layer's parts only (a forward pass up to the layer), adding a sparsity or a corruption
computes the new conditions only. A corrupt file is detected and recomputed; changed inputs
never reuse stale results.

Layers: ``layers=None`` takes the penultimate layer, the input of the model's final Linear
(found by :func:`geowidget.engine.head.find_head`), labelled ``"penultimate"`` in the cube;
its geometry uses the model's real head (pruned with the rest of the model). Other layers
have no head, so they use a linear probe (:func:`geowidget.engine.probe.linear_probe`) fitted
once per model on the dense model's clean features and reused for every condition. Fitting
per condition would rotate the class directions with each corruption or pruning level, hide
the very shift being measured and make conditions incomparable; fitting once keeps one fixed
reference frame per (model, layer), as the real head does for the penultimate layer.

No sample is measured by a probe that saw it (a probe measured on its own fitting samples is
optimistic: see ``docs/design.md``). With ``probe_data`` the probe is fitted on the first
``probe_samples`` samples of that separate set. Without it, the first ``probe_samples``
samples of ``data`` are split into ``probe_folds`` stratified, seeded folds, one probe is
fitted per fold on the other folds, and each sample is measured by the probe of its fold
(:func:`geowidget.engine.probe.cross_fit`); samples after them were seen by no probe.
``Study.probe_fits`` records every probe and the samples it was fitted on. At a probe layer
the cube's ``layer_pred`` is the probe's prediction and ``probe_accuracy`` its held-out
accuracy; ``pred`` and ``correct`` stay the model's.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from geowidget._validation import (
    DATA,
    DEVICE,
    POSITIVE_INT,
    SEED,
    Boolean,
    DictOf,
    Instance,
    Interval,
    ListOf,
    Options,
    check,
    invalid,
    validate_params,
)
from geowidget.analysis.projection import METHODS as PROJECTIONS
from geowidget.cube import LAYER_METRICS, OUTPUTS, Condition, GeometryCube
from geowidget.engine.checkpoints import RUN_KEY, STEP_KEY, Checkpoints
from geowidget.engine.corruptions import SEVERITIES
from geowidget.engine.probe import ProbeFit
from geowidget.engine.pruning import METHODS, SPARSITY
from geowidget.study.plan import (
    Plan,
    count_classes,
    grid_sparsities,
    name_models,
    resolve,
    sparsity_levels,
)
from geowidget.study.runners import LocalRunner, RayRunner, Task, Worker, WorkerSpec
from geowidget.study.shards import Shard, thumbnails
from geowidget.study.units import (
    KEY_VERSION,
    OUTPUTS_PART,
    PENULTIMATE,
    WorkUnit,
    fingerprint,
    join_parts,
    probe_key,
    unit_where,
)

# thumbnails: defined in study.shards (a live cube reads them too), kept importable here
__all__ = ["GRIDS", "Study", "probe_accuracy", "thumbnails"]

if TYPE_CHECKING:
    from geowidget.study.store import UnitStore

GRIDS = ("full", "dense-corrupted")


# a model, or a run of checkpoints: Checkpoints(model, [...]) or a (model, [...]) pair
RUN_OR_MODEL = Instance("torch.nn.Module", Checkpoints, tuple)


class Study:
    """Evaluate models over pruning levels and corruptions; :meth:`run` returns a GeometryCube.

    Parameters
    ----------
    models : dict of str to nn.Module, or list of nn.Module
        Classifiers with the same number of classes. A list is named ``model0, model1, ...``.
        A value may also be a training run: ``Checkpoints(model, ["ckpt_00.pt", ...])`` or a
        ``(model, checkpoints)`` pair, with checkpoints as paths or state dicts (see
        :class:`geowidget.engine.checkpoints.Checkpoints`). Each checkpoint becomes a model
        ``"<run>/<step>"`` with ``run`` and ``step`` in its ``model_info``, as
        :class:`geowidget.GeometryTracker` records them.
        They are never modified (pruning swaps weights in and restores them bit for bit; a model
        on another device than ``device`` is copied).
    data : (inputs, labels), ImageData, Dataset or DataLoader
        The probe set, with labels, read shard by shard in its order. Inputs
        ``[N, C, H, W]`` in [0, 1] when corruptions are generated.
    layers : list of str or "all", optional
        Layers to measure. ``None`` takes the penultimate layer only (label ``"penultimate"``);
        ``"all"`` every name :func:`geowidget.get_layer_names` lists for every model, and
        ``"penultimate"``;
        a list may include ``"penultimate"`` and any name :func:`geowidget.get_layer_names`
        lists, which use a linear probe (see the module doc). They are measured and stored
        in the order of depth (the first model's forward pass; ``"penultimate"`` at the head's input),
        whatever order they are given in.
    sparsities : sequence of float
        Pruning levels in [0, 1); 0 (the dense model) is always included.
    grid : {"full", "dense-corrupted"} or sequence of float
        Which (sparsity, condition) cells are evaluated. With M models, S sparsities (dense
        included), C corrupted conditions (corruption x severity pairs) and N samples, and
        one forward pass per (model, sparsity, condition, sample):

        - ``"full"`` (default): every sparsity under every condition, clean and corrupted:
          ``M * S * (1 + C) * N`` forward passes. Robustness, its correlations and the
          benchmark similarity are then defined for every pruned model too.
        - ``"dense-corrupted"``: every sparsity on the clean data, the corruptions on the
          dense model only: ``M * (S + C) * N``. Pruned rows of the evaluation table stay
          empty under corruption.
        - a list of sparsities: the corruptions at those sparsities (0 is always included)
          and the clean data at every sparsity: ``M * (S + S' * C) * N`` for S' of them.

        Generated corruptions are applied once per (shard, corruption, severity), for every
        model and sparsity: ``C * N`` images whatever the grid.
    pruning : str
        Method of :func:`geowidget.engine.pruning.prune_masks`.
    corruptions : str, list of str, or dict, optional
        ``"mnist-c"``, ``"imagenet-c"``, a list of corruption names (generated by
        :func:`geowidget.engine.corruptions.corrupt`), or a dict of ready-made corrupted copies
        of ``data``: ``{name: data}`` or ``{name: {severity: data}}`` (for example ImageNet-C
        folders loaded as Datasets), each with the same samples in the same order.
    severities : sequence of int
        Severities of generated corruptions, from 1 to 5.
    batch_size : int
        Forward-pass batch size.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    cache_dir : str or Path, optional
        The unit store: a directory or a ``pyarrow.fs`` URI (``s3://bucket/run``). Finished
        units are written there; a re-run computes only the missing ones. It is checked to be
        writable when :meth:`run` starts, before any unit.
    seed : int
        Seed of corruptions and of random pruning.
    shard_size : int
        Samples per unit of work (and per read of the data).
    progress : bool
        Show a tqdm progress bar over units (works in notebooks).
    calibration_size : int
        Calibration samples (the first ones) for gradient-based pruning (``"snip"``).
    probe_samples : int
        Samples (the first ones, of ``probe_data`` or else of ``data``) the linear probes of
        intermediate layers are fitted on.
    probe_data : (inputs, labels), ImageData, Dataset or DataLoader, optional
        A separate labelled set (e.g. training data) to fit the probes on; without it the
        probes are cross-fitted on ``data`` (see the module doc).
    probe_folds : int
        Folds of that cross-fitting (at least 2).
    tokens : {"cls", "mean", "flatten"} or dict of str to str, optional
        How a transformer layer's token output ``[N, T, D]`` becomes one vector per sample
        (see :func:`geowidget.extract_features`): a string for every layer but
        ``"penultimate"`` (the head's input has no tokens), or a dict per layer name.
    projections : sequence of {"pca", "tsne", "umap"}
        2-D maps of each model's clean, dense features at each layer, stored in the cube's
        ``projections`` for :class:`geowidget.ProjectionView`; computed with
        :func:`geowidget.project` (seeded with ``seed``) after the units, and kept in the
        unit store like them.
    runner : LocalRunner or RayRunner, optional
        Where units run: :class:`~geowidget.study.LocalRunner` (``None``, the default) in
        this process, or :class:`~geowidget.study.RayRunner` on Ray actors
        (``pip install 'geowidget[ray]'``) that load each model once and write finished units
        straight to the store. Both give the same cube: the same coordinates, predictions and
        correctness, and float geometry equal to float32 rounding (an actor runs torch on one
        thread, so its sums may be taken in another order; compare with
        ``cube.equals(other, rtol=1e-5, atol=1e-6)``). A RayRunner that joins a cluster
        (``address`` not None) needs a ``cache_dir`` that every node reaches (shared storage
        or a ``pyarrow.fs`` URI).
    adversarial : dict, optional
        ``{"norm": "l2" or "linf", "samples": 500, "steps": 100, "check": 100}``: each
        model's adversarial distance (:func:`geowidget.adversarial_distance`) on the first
        ``samples`` samples, at every clean sparsity level, stored in the cube's
        ``adversarial[norm]``; the guards' report goes to ``model_info["adversarial"]``.
        Needs ``pip install "geowidget[adversarial]"``.

    backend : {"local", "ray"}
        Deprecated: ``runner=LocalRunner()`` or ``runner=RayRunner()``.
    ray_address : str, optional
        Deprecated: ``runner=RayRunner(address=...)``.
    ray_remote_args : dict, optional
        Deprecated: ``runner=RayRunner(remote_args=...)``.

    Notes
    -----
    Made as scikit-learn's estimators are: the constructor stores its parameters under their
    names and checks them, and reads nothing (no sample, no forward pass, no checkpoint, no
    file). The work starts in :meth:`run`, which first resolves the parameters into
    :attr:`plan` (the models by name, the layers in the order of depth, the conditions, the
    data's size and classes); errors that need the data or a model surface there, naming
    the parameter and the value. The plan is resolved once: set parameters before the first
    ``run()`` (or make a new Study, which costs nothing).

    Examples
    --------
    >>> study = Study({"lenet": net}, (x, y), sparsities=(0, .5, .9),     # doctest: +SKIP
    ...               corruptions=["rotate", "fog"], severities=(1, 3, 5))
    >>> cube = study.run()                                                # doctest: +SKIP
    >>> cube.correlations(target="robustness")                            # doctest: +SKIP
    """

    @validate_params({
        "models": [Instance("torch.nn.Module"),
                   DictOf(object, RUN_OR_MODEL, min_len=1),
                   ListOf(RUN_OR_MODEL)],
        "data": DATA,
        "layers": [None, str, ListOf(str)],
        "sparsities": [ListOf(SPARSITY, min_len=0)],
        "grid": [Options(*GRIDS), ListOf(SPARSITY)],
        "pruning": [Options(*METHODS)],
        "severities": [ListOf(Interval(int, 1, 5))],
        "batch_size": POSITIVE_INT,
        "device": DEVICE,
        "seed": SEED,
        "shard_size": POSITIVE_INT,
        "progress": [Boolean()],
        "calibration_size": POSITIVE_INT,
        "probe_samples": POSITIVE_INT,
        "probe_data": [None, *DATA],
        "probe_folds": [Interval(int, 2, None)],
        "projections": [ListOf(Options(*PROJECTIONS), min_len=0)],
        "runner": [None, Instance(LocalRunner, RayRunner)],
        "backend": [Options("local", "ray")],
        "ray_address": [None, str],
        "ray_remote_args": [None, DictOf(str, object)],
        "adversarial": [None, DictOf(str, object)],
    })
    def __init__(
        self,
        models: Mapping[str, nn.Module] | Sequence[nn.Module],
        data: Any,
        *,
        layers: Sequence[str] | None = None,
        sparsities: Iterable[float] = (0, 0.1, 0.3, 0.5, 0.7, 0.9),
        grid: str | Sequence[float] = "full",
        pruning: str = "global_magnitude",
        corruptions: str | Sequence[str] | Mapping[str, Any] | None = None,
        severities: Iterable[int] = SEVERITIES,
        batch_size: int = 256,
        device: str | torch.device = "auto",
        cache_dir: str | os.PathLike | None = None,
        seed: int = 0,
        shard_size: int = 4096,
        progress: bool = True,
        calibration_size: int = 256,
        probe_samples: int = 10_000,
        probe_data: Any = None,
        probe_folds: int = 5,
        tokens: str | Mapping[str, str] | None = None,
        projections: Sequence[str] = (),
        runner: LocalRunner | RayRunner | None = None,
        adversarial: Mapping[str, Any] | None = None,
        backend: str | None = None,
        ray_address: str | None = None,
        ray_remote_args: Mapping[str, Any] | None = None,
    ) -> None:
        from geowidget.engine.tokens import TOKENS, check_tokens
        from geowidget.study.adversarial import check_settings

        # parameters as given; every check below reads nothing (no data, no forward pass)
        self.models, self.data, self.layers = models, data, layers
        self.sparsities, self.grid, self.pruning = sparsities, grid, pruning
        self.corruptions, self.severities = corruptions, severities
        self.batch_size, self.device, self.cache_dir = batch_size, device, cache_dir
        self.seed, self.shard_size, self.progress = seed, shard_size, progress
        self.calibration_size, self.probe_samples = calibration_size, probe_samples
        self.probe_data, self.probe_folds, self.tokens = probe_data, probe_folds, tokens
        self.projections, self.adversarial = projections, adversarial
        self.runner = _runner(runner, backend, ray_address, ray_remote_args)

        name_models(models)
        grid_sparsities(grid, sparsity_levels(sparsities))
        if layers is not None and not len(layers):
            raise ValueError("layers is empty; pass None for the penultimate layer")
        given = [PENULTIMATE] if layers is None else [layers] if isinstance(layers, str) \
            else list(dict.fromkeys(layers))
        tokens_given = check("Study", "tokens", tokens, TOKENS)
        if layers != "all":  # "all" names its layers once the models are looked at (plan)
            check_tokens(tokens_given, given, "Study")
        check_settings(adversarial)
        if cache_dir is not None:
            from geowidget.filesystem import location

            location(cache_dir, "Study", "cache_dir")
        if (isinstance(self.runner, RayRunner) and self.runner.address is not None
                and cache_dir is None):
            raise invalid("Study", "cache_dir", f"a unit store that every node of the cluster "
                          f"can reach (a shared path, or a pyarrow.fs URI such as "
                          f"'s3://bucket/study') when the runner joins "
                          f"address={self.runner.address!r}", cache_dir)
        self.stats = {"computed": 0, "cached": 0, "corrupt": 0}
        self.probe_fits: dict[str, dict[str, ProbeFit]] = {}
        self._plan: Plan | None = None
        self._worker_cache: tuple[Any, Worker] | None = None
        self._adversarial_reports: dict[str, Any] = {}
        self._part_stats: dict[str, Any] | None = None

    # ------------------------------------------------------------------ resolved
    @property
    def plan(self) -> Plan:
        """The parameters resolved: the models by name, layers, conditions, data size and
        classes (:class:`~geowidget.study.plan.Plan`). Computed once, on first use (by
        :meth:`run`, or here), which reads the first samples and runs each model once."""
        if self._plan is None:
            self._plan = resolve(self)
        return self._plan

    @property
    def conditions(self) -> list[Condition]:
        """The cube's conditions: clean at every sparsity, then each (corruption, severity)
        at each sparsity of the grid."""
        return self.plan.conditions

    @property
    def part_stats(self) -> dict[str, Any]:
        """Parts computed and loaded by the last :meth:`run`: ``{"outputs": {"computed",
        "cached"}, "layers": {layer: {"computed", "cached"}}}`` (zeros before a run)."""
        if self._part_stats is None:
            self._part_stats = self._no_part_stats()
        return self._part_stats

    @property
    def identity(self) -> str:
        """A fingerprint of what this study computes (models' weights, layers, conditions,
        samples, settings): a cube written by ``run(out=...)`` carries it, so a rerun can
        tell its own cube from another one."""
        p = self.plan
        return fingerprint("study", KEY_VERSION, sorted(p.model_fp.items()), p.layers,
                           [c.label for c in p.conditions], p.n, p.class_names,
                           self.pruning, self.seed, p.dataset, self._projection_methods(),
                           p.reader.bounds, p.tokens or None)

    def _projection_methods(self) -> list[str]:
        return list(dict.fromkeys(self.projections))

    # ------------------------------------------------------------------ data checks
    def _check_inputs(self, inputs: torch.Tensor, start: int) -> None:
        if inputs.is_floating_point() and not bool(inputs.isfinite().all()):
            rows = (~inputs.isfinite()).flatten(1).any(1).nonzero()[:, 0] + start
            raise invalid("Study", "data", "finite inputs", inputs,
                          f"samples {rows[:5].tolist()}{' ...' if len(rows) > 5 else ''} "
                          "hold NaN or infinite values")

    def _check_labels(self, labels: torch.Tensor, what: str, start: int) -> None:
        c = self.plan.num_classes
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= c):
            raise ValueError(
                f"labels must lie in [0, {c}) for {c}-class models, got range "
                f"[{int(labels.min())}, {int(labels.max())}] in samples {start}.. of {what}"
            )

    # ------------------------------------------------------------------ models
    def _probe(self, name: str, layer: str, head: tuple[torch.Tensor, torch.Tensor],
               model: torch.nn.Module | None = None) -> ProbeFit:
        """Probes of an intermediate layer, fitted on the dense model's clean features of
        ``head``: cross-fitted when it is the start of ``data``, one probe on ``probe_data``.
        ``model`` is the dense model to run (default the user's model ``name``)."""
        from geowidget.engine.features import extract_features
        from geowidget.engine.probe import cross_fit, fit_probe

        p = self.plan
        mode = p.tokens.get(layer)
        cross = p.probe_reader is None
        how = ["cross", self.probe_folds, self.seed] if cross else ["probe_data"]
        key = fingerprint("probe", KEY_VERSION, p.model_fp[name], layer, *head,
                          self.batch_size, p.device.type,
                          *(() if mode is None else (mode,)), *how)
        cached = None if p.store is None else p.store.load(key)
        if cached is not None:
            folds = cached["folds"] if cross else None
            fitted_on = (tuple(np.flatnonzero(folds != j) for j in range(self.probe_folds))
                         if cross else (np.arange(len(head[1])),))
            return ProbeFit(torch.from_numpy(cached["weight"]), torch.from_numpy(cached["bias"]),
                            fitted_on, folds)
        model = p.models[name] if model is None else model
        feats = extract_features(model, head, [layer], batch_size=self.batch_size,
                                 device=p.device, progress=False,
                                 tokens=None if mode is None else {layer: mode})[layer]
        feats = feats.float().cpu()
        fit = (cross_fit(feats, head[1], folds=self.probe_folds, seed=self.seed,
                         num_classes=p.num_classes) if cross
               else fit_probe(feats, head[1], num_classes=p.num_classes))
        if p.store is not None:
            p.store.save(key, {"weight": fit.weight.numpy(), "bias": fit.bias.numpy(),
                                  **({"folds": fit.folds} if cross else {})})
        return fit

    def _probe_head(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The labelled samples the probes are fitted on."""
        p = self.plan
        reader = p.reader if p.probe_reader is None else p.probe_reader
        head = reader.head(self.probe_samples)
        self._check_labels(head[1], reader.what, 0)
        if p.probe_reader is None and len(head[1]) < self.probe_folds:
            raise invalid("Study", "probe_folds", f"at most the {len(head[1])} samples the "
                          "probes are cross-fitted on", self.probe_folds)
        return head

    def _worker_spec(self, probes: Mapping[str, Mapping[str, ProbeFit]] | None = None
                     ) -> WorkerSpec:
        """What a worker needs; ``probes`` (per model, per probed layer) are fitted here
        unless given (a live cube gives a mapping that fits each one when first read)."""
        p = self.plan
        if probes is None:
            probed = {name: [v for v in p.layers if not p.uses_head(name, v)]
                      for name in p.models}
            probe_head = self._probe_head() if any(probed.values()) else None
            probes = {name: {layer: self._probe(name, layer, probe_head) for layer in layers}
                      for name, layers in probed.items()}
            self.probe_fits = probes
        calibration = (p.reader.head(self.calibration_size) if self.pruning == "snip"
                       else None)
        return WorkerSpec(
            models=p.models,
            layers={name: {v: p.layer_target(name, v) for v in p.layers}
                    for name in p.models},
            heads={name: None if h is None else h[0] for name, h in p.heads.items()},
            probes=probes,
            pruning=self.pruning,
            seed=self.seed,
            calibration=calibration,
            calibration_size=self.calibration_size,
            batch_size=self.batch_size,
            device=str(p.device),
            tokens={name: p.node_tokens(name) for name in p.models} if p.tokens else None,
        )

    # ------------------------------------------------------------------ units
    def units(self) -> list[WorkUnit]:
        """Every unit of work, in execution order (shard, then condition, then model)."""
        return [
            WorkUnit(m, c.sparsity, c.benchmark, c.severity, a, b)
            for a, b in self.plan.reader.bounds
            for c in self.conditions
            for m in self.plan.models
        ]

    def _part_keys(self, spec: WorkerSpec) -> dict[str, dict[str, str]]:
        """Per model and part (each layer, and the outputs), a fingerprint of everything but
        the shard and the condition that the part depends on.

        The model's own settings (weights, pruning, seed, batch size, device type,
        calibration samples) go into every part; a layer's part adds the layer's node, the
        class directions its geometry uses (the head's name, or the probe's weights) and its
        token mode, and nothing of the other layers, so adding a layer leaves the other
        parts' keys as they were. Keys before the per-part store (one key per unit) are never
        looked up again: their files are ignored.
        """
        p = self.plan
        keys = {}
        for name in p.models:
            model = fingerprint(KEY_VERSION, p.model_fp[name], self.pruning, self.seed,
                                self.batch_size, p.device.type, *(spec.calibration or ()))
            probes = spec.probes.get(name, {})
            node_tokens = (spec.tokens or {}).get(name, {})
            keys[name] = {OUTPUTS_PART: fingerprint("outputs", model)}
            for layer, node in spec.layers[name].items():
                directions = (probe_key(probes[layer]) if layer in probes
                              else (spec.heads[name],))
                keys[name][layer] = fingerprint("layer", model, node, *directions,
                                                node_tokens.get(node))
        return keys

    def _shards(self, checked: set[int] | None = None
                ) -> Iterator[tuple[Shard, dict[tuple[str, int], torch.Tensor]]]:
        """Clean shards, each with the matching shards of the ready-made corrupted copies.
        ``checked``: the starts of the shards whose labels and inputs were checked already
        (a live cube reads the shards once per cell; each is checked once), updated here."""
        given = [(b, s, iter(reader)) for b, s, reader in self.plan.benchmarks if reader is not None]
        for shard in self.plan.reader:
            if checked is None or shard.start not in checked:
                self._check_labels(shard.labels, "data", shard.start)
                self._check_inputs(shard.inputs, shard.start)
                if checked is not None:
                    checked.add(shard.start)
            copies = {}
            for b, s, it in given:
                other = next(it)
                labelled = bool((other.labels >= 0).all())
                if labelled and not torch.equal(other.labels, shard.labels):
                    raise ValueError(
                        f"corrupted data {b!r} has other labels than data in samples "
                        f"{shard.start}..{shard.stop}; it must hold the same samples in the "
                        "same order"
                    )
                copies[(b, s)] = other.inputs
            yield shard, copies
            shard = copies = other = None  # not kept alive while the next shard is read

    def _inputs(self) -> list[tuple[str, int, list[Condition]]]:
        """``(benchmark, severity, conditions)`` of each input a shard is evaluated on: the
        clean data, then each (corruption, severity), with the conditions that use it."""
        groups: dict[tuple[str, int], list[Condition]] = {}
        for c in self.conditions:
            groups.setdefault((c.benchmark, c.severity), []).append(c)
        return [(b, s, conds) for (b, s), conds in groups.items()]

    def _tasks(self, spec: WorkerSpec, cube: _CubeBuilder | _DatasetBuilder, bar: Any
               ) -> Iterator[Task]:
        """Pending tasks, shard by shard and input by input; the parts already in the store
        go straight to the cube, and a task asks only for the missing ones."""
        part_keys = self._part_keys(spec)
        for shard, copies in self._shards():
            cube.add_samples(shard)
            shard_fp = fingerprint(shard.inputs, shard.labels)
            for benchmark, severity, conds in self._inputs():
                source = copies.get((benchmark, severity))
                source_fp = _source_fp(source)
                pending = []
                for cond in conds:
                    for model in self.plan.models:
                        unit = WorkUnit(model, cond.sparsity, cond.benchmark, cond.severity,
                                        shard.start, shard.stop)
                        where = unit_where(shard_fp, source_fp, unit)
                        missing = {}
                        for part, base in part_keys[model].items():
                            key = fingerprint(base, where)
                            arrays = self._load(key)
                            if arrays is None:
                                missing[part] = key
                                continue
                            cube.add(unit, part, key, arrays)
                            self._count(part, "cached")
                        if missing:
                            pending.append((unit, missing))
                            continue
                        self.stats["cached"] += 1
                        bar.update(1)
                if pending:
                    units, keys = zip(*pending, strict=True)
                    yield Task(units, keys, shard.inputs if source is None else source,
                               shard.labels, given=source is not None)
            shard = copies = source = None  # not kept alive while the next shard is read

    def _no_part_stats(self) -> dict[str, Any]:
        zero = {"computed": 0, "cached": 0}
        return {"outputs": dict(zero), "layers": {v: dict(zero) for v in self.plan.layers}}

    def _count(self, part: str, how: str) -> None:
        stats = self.part_stats
        (stats["outputs"] if part == OUTPUTS_PART else stats["layers"][part])[how] += 1

    def run_unit(self, unit: WorkUnit) -> dict[str, np.ndarray]:
        """Compute one unit in this process (reads the data up to the unit's shard)."""
        from geowidget.study.units import unit_inputs

        worker = self._worker()
        for shard, copies in self._shards():
            if shard.start == unit.start:
                source = copies.get((unit.benchmark, unit.severity))
                inputs = source if source is not None else unit_inputs(
                    unit, shard.inputs, seed=self.seed, device=worker.device)
                return worker.evaluate(unit, inputs, shard.labels)
        raise KeyError(f"no shard starts at sample {unit.start}; shards: "
                       f"{self.plan.reader.bounds}")

    # ------------------------------------------------------------------ cells
    def _worker(self) -> Worker:
        """A worker over the models as they are now, writing to the unit store: its probes
        fitted (or loaded) and its pruning plans kept from call to call, until a model's
        weights, the device or the store change."""
        p = self.plan
        state = (tuple(p.model_fp.items()), p.device, id(p.store))
        if self._worker_cache is None or self._worker_cache[0] != state:
            self._worker_cache = (state, Worker(self._worker_spec(), p.store))
        return self._worker_cache[1]

    def _cells(self, model: str, condition: Condition, layers: Sequence[str]
               ) -> dict[str, np.ndarray]:
        """One model at one condition over every sample: the per-sample geometry of
        ``layers`` (metrics and ``layer_pred`` ``[L, N]``) and the model's outputs ``[N]``.

        The same parts as :meth:`run` computes, under the same store keys: parts in the
        unit store are loaded, the missing ones computed (one forward pass per shard) and
        stored.
        """
        worker = self._worker()
        keys = self._part_keys(worker.spec)[model]
        wanted = {part: keys[part] for part in (*layers, OUTPUTS_PART)}
        chunks = []
        for shard, copies in self._shards():
            unit = WorkUnit(model, condition.sparsity, condition.benchmark, condition.severity,
                            shard.start, shard.stop)
            source = copies.get((unit.benchmark, unit.severity))
            where = unit_where(fingerprint(shard.inputs, shard.labels), _source_fp(source), unit)
            found = {part: self._load(fingerprint(base, where)) for part, base in wanted.items()}
            missing = {part: fingerprint(wanted[part], where)
                       for part, arrays in found.items() if arrays is None}
            if missing:
                task = Task((unit,), (missing,), shard.inputs if source is None else source,
                            shard.labels, given=source is not None)
                for _, _, parts in worker.run(task):
                    found.update(parts)
            chunks.append(join_parts(found, list(layers)))
        return {k: np.concatenate([c[k] for c in chunks], axis=-1) for k in chunks[0]}

    def _cell(self, model: str, layer: str, condition: Condition) -> dict[str, np.ndarray]:
        """One cell of the cube, (model, layer, condition), from the stored parameters:
        per-sample arrays ``[N]``, the layer's metrics and ``layer_pred`` and the model's
        outputs (``pred``, ``correct``, ``logit_margin``), as :meth:`run` would put them in
        the cube (loaded from the unit store when they are there)."""
        arrays = self._cells(model, condition, [layer])
        return {k: v[0] if v.ndim == 2 else v for k, v in arrays.items()}

    def _load(self, key: str) -> dict[str, np.ndarray] | None:
        store = self.plan.store
        return None if store is None else store.load(key)

    # ------------------------------------------------------------------ training runs
    def count_classes(self, model: str) -> int:
        """The number of classes model ``model`` outputs as it is now (one forward pass of
        the first sample), e.g. to notice a head swapped during training."""
        return count_classes(model, self.plan.models[model], self.plan.reader.head(1)[0])

    def record_checkpoint(self, model: str, *, run: str, step: int
                          ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Measure model ``model`` as it is now, dense and on the clean data, as checkpoint
        ``step`` of training run ``run`` (what :class:`~geowidget.study.GeometryTracker`
        records at each step).

        The model's weights are fingerprinted again and its device followed (it may have
        moved during training); layers other than the penultimate get probes fitted on these
        weights.

        Parameters
        ----------
        model : str
            A model's name in :attr:`plan` (``plan.models``).
        run : str
            The training run, as ``model_info["run"]``.
        step : int
            The training step, as ``model_info["step"]``.

        Returns
        -------
        arrays : dict of str to ndarray
            Metrics and ``layer_pred`` ``[L, N]`` over the study's layers; ``pred``,
            ``correct`` and ``logit_margin`` ``[N]``.
        model_info : dict
            As the cube's ``model_info`` describes the model, with ``run`` and ``step``.
        """
        p = self.plan
        p.device = next((q.device for q in p.models[model].parameters()), p.device)
        p.fingerprint_model(model)
        arrays = self._cells(model, Condition(), p.layers)
        p.runs[model] = (run, step)
        return arrays, self._info(model)

    # ------------------------------------------------------------------ run
    def run(self, out: str | os.PathLike | None = None) -> GeometryCube:
        """Compute (or load from the store) every unit and assemble the cube.

        Parameters
        ----------
        out : str or PathLike, optional
            Write the cube to this directory (or ``pyarrow.fs`` URI) as a partitioned
            dataset and return it opened (:meth:`GeometryCube.open`): the results are never
            all in memory, only one (model, condition) partition at a time. Without it, the
            cube is assembled in memory. The cube is written beside ``out`` and swapped in
            when complete (a cube there stays whole until then). A run that was killed is
            resumed by the same call: finished units come from ``cache_dir``, and what the
            killed run left (its temporary files) is removed.

        Returns
        -------
        GeometryCube

        Notes
        -----
        Afterwards ``stats`` counts units: ``computed`` (any part of the unit was computed),
        ``cached`` (every part came from the store) and ``corrupt`` (files that failed their
        checksum). ``part_stats`` counts the parts: ``{"outputs": {"computed", "cached"},
        "layers": {layer: {"computed", "cached"}}}``.
        """
        from tqdm.auto import tqdm

        if out is not None:
            from geowidget.filesystem import location

            out = location(out, "Study.run", "out")
        p = self.plan  # the parameters resolved: the first reads of the data and the models
        self.stats = {"computed": 0, "cached": 0, "corrupt": 0}
        self._part_stats = self._no_part_stats()
        with self._unit_store(needed=out is not None) as store:
            store_was, p.store = p.store, store
            cube: _CubeBuilder | _DatasetBuilder | None = None
            try:
                corrupt_before = 0 if store is None else store.corrupt
                cube = _CubeBuilder(self) if out is None else _DatasetBuilder(self, out, store)
                spec = self._worker_spec()
                total = len(p.reader.bounds) * len(self.conditions) * len(p.models)
                with tqdm(total=total, desc="study",
                          disable=not self.progress, unit="unit") as bar:
                    tasks = self._tasks(spec, cube, bar)
                    for unit, keys, parts in self.runner.run(spec, tasks, store):
                        for part, key in keys.items():
                            arrays = None if parts is None else parts[part]
                            if arrays is None and cube.needs_arrays:  # a remote worker wrote it
                                arrays = store.load(key)
                                if arrays is None:
                                    raise RuntimeError(f"unit {unit} was reported done but its "
                                                       f"file in {store!r} cannot be read")
                            cube.add(unit, part, key, arrays)
                            self._count(part, "computed")
                        self.stats["computed"] += 1
                        bar.update(1)
                result = cube.build(self._projections(), self._adversarial(spec))
                if store is not None:
                    self.stats["corrupt"] = store.corrupt - corrupt_before
            except BaseException:
                if isinstance(cube, _DatasetBuilder):
                    cube.abort()  # nothing half-written is left at `out`
                raise
            finally:
                p.store = store_was
        return result

    @contextlib.contextmanager
    def _unit_store(self, needed: bool) -> Iterator[UnitStore | None]:
        """The store of this run: ``cache_dir``, else a temporary one when the run needs one
        (workers in other processes, or a cube written to disk from the store)."""
        p = self.plan
        if p.store is not None:
            p.store.remove_orphans()
            yield p.store
        elif needed or self.runner.name == "ray":
            from geowidget.study.store import UnitStore

            with tempfile.TemporaryDirectory(prefix="geowidget-units-") as tmp:
                yield UnitStore(tmp)
        else:
            yield None

    def _projections(self) -> dict[str, np.ndarray]:
        """Per method, positions float32 ``[M, L, N, 2]`` of every model's clean, dense
        features at every layer; from the unit store when they are there."""
        p = self.plan
        if not self._projection_methods():
            return {}
        from geowidget.analysis.projection import VERSION as REDUCER_VERSION
        from geowidget.analysis.projection import project
        from geowidget.engine.features import extract_features

        m, ly = len(p.models), len(p.layers)
        out = {k: np.full((m, ly, p.n, 2), np.nan, np.float32) for k in self._projection_methods()}
        data_fp = fingerprint(*(fingerprint(s.inputs, s.labels) for s in p.reader))
        for mi, (name, model) in enumerate(p.models.items()):
            nodes = {layer: p.layer_target(name, layer) for layer in p.layers}
            # the reducer's version too: maps stored by an older reducer (other signs, another
            # t-SNE start) are recomputed, never mixed with new ones across layers
            keys = {(layer, k): fingerprint("projection", KEY_VERSION, REDUCER_VERSION,
                                            p.model_fp[name], data_fp, nodes[layer], k,
                                            self.seed, self.batch_size, p.device.type)
                    for layer in p.layers for k in self._projection_methods()}
            found = {key: None if p.store is None else p.store.load(fp)
                     for key, fp in keys.items()}
            missing = sorted({layer for (layer, _), v in found.items() if v is None})
            feats: dict[str, list[torch.Tensor]] = {nodes[v]: [] for v in missing}
            for shard in p.reader if missing else ():
                got = extract_features(model, (shard.inputs, shard.labels), list(feats),
                                       batch_size=self.batch_size, device=p.device,
                                       progress=False)
                for node, value in got.items():
                    feats[node].append(value)
            for (layer, k), arrays in found.items():
                if arrays is None:
                    x = torch.cat(feats[nodes[layer]]).double().numpy()
                    arrays = {"xy": project(x, k, seed=self.seed)}
                    if p.store is not None:
                        p.store.save(keys[(layer, k)], arrays)
                out[k][mi, p.layers.index(layer)] = arrays["xy"]
        return out

    def _adversarial(self, spec: WorkerSpec) -> dict[str, np.ndarray]:
        """The adversarial unit (:mod:`geowidget.study.adversarial`); its report goes to
        ``model_info``."""
        from geowidget.study.adversarial import measure

        arrays, self._adversarial_reports = measure(self, spec)
        return arrays

    def _info(self, name: str) -> dict[str, Any]:
        p = self.plan
        model = p.models[name]
        head = p.heads[name]
        return {
            "architecture": type(model).__name__,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "pruning": self.pruning,
            "penultimate": None if head is None else head[2],
            "probe_layers": [v for v in p.layers if not p.uses_head(name, v)],
            "probes": (f"{self.probe_folds}-fold cross-fitted on the first "
                       f"{min(self.probe_samples, p.n)} samples"
                       if p.probe_reader is None else
                       f"fitted on the first {min(self.probe_samples, len(p.probe_reader))} "
                       "samples of probe_data"),
            "fingerprint": p.model_fp[name][:16],
            **({RUN_KEY: p.runs[name][0], STEP_KEY: p.runs[name][1]}
               if name in p.runs else {}),
            **({"adversarial": self._adversarial_reports[name]}
               if name in self._adversarial_reports else {}),
        }

    def live(self, cache_bytes: int | None = None) -> GeometryCube:
        """A cube of this study whose cells are computed the first time anyone reads them
        (a view, ``slice``, ``sel``, ``values``, an analysis); returns at once.

        A live cell equals the cell :meth:`run` computes (the same code, per unit), and is
        kept in memory within ``cache_bytes`` (default a quarter of the machine's memory)
        and, with ``cache_dir``, in the unit store, where a later process or a run finds it.
        See :class:`geowidget.live.LiveCube`.
        """
        from geowidget.live import LiveCube

        self.plan  # noqa: B018 (resolved first, as run() does: errors name the parameter)
        return LiveCube(self, cache_bytes)


class _CubeBuilder:
    """The cube's arrays in memory, filled unit by unit and sample by sample as they arrive."""

    needs_arrays = True

    def __init__(self, study: Study) -> None:
        self.study = study
        conds = study.plan.conditions
        m, ly, k, n = len(study.plan.models), len(study.plan.layers), len(conds), study.plan.n
        self.arrays = {name: np.full((m, ly, k, n), np.nan, np.float32) for name in LAYER_METRICS}
        self.arrays["pred"] = np.zeros((m, k, n), np.int32)
        self.arrays["correct"] = np.zeros((m, k, n), bool)
        self.arrays["logit_margin"] = np.zeros((m, k, n), np.float32)
        self.probed = study.plan.probed
        if self.probed is not None:
            self.arrays["layer_pred"] = np.zeros((m, ly, k, n), np.int32)
        self.labels = np.zeros(n, np.int64)
        self.images: np.ndarray | None = None
        self.model_pos = {name: i for i, name in enumerate(study.plan.models)}
        self.cond_pos = {c: i for i, c in enumerate(conds)}

    def add_samples(self, shard: Shard) -> None:
        self.labels[shard.start : shard.stop] = shard.labels.numpy()
        thumbs = thumbnails(shard.inputs)
        if thumbs is not None:
            if self.images is None:
                self.images = np.zeros((self.study.plan.n, *thumbs.shape[1:]), np.uint8)
            self.images[shard.start : shard.stop] = thumbs

    def add(self, unit: WorkUnit, part: str, key: str, arrays: dict[str, np.ndarray]) -> None:
        mi, ki = self.model_pos[unit.model], self.cond_pos[unit.condition]
        sl = slice(unit.start, unit.stop)
        if part == OUTPUTS_PART:
            for name in OUTPUTS:
                self.arrays[name][mi, ki, sl] = arrays[name]
            return
        li = self.study.plan.layers.index(part)
        for name in LAYER_METRICS:
            self.arrays[name][mi, li, ki, sl] = arrays[name]
        if self.probed is not None:
            self.arrays["layer_pred"][mi, li, ki, sl] = arrays["layer_pred"]

    def build(self, projections: dict[str, np.ndarray],
              adversarial: dict[str, np.ndarray] | None = None) -> GeometryCube:
        st = self.study
        return GeometryCube(
            models=list(st.plan.models),
            layers=st.plan.layers,
            conditions=st.plan.conditions,
            labels=self.labels,
            class_names=st.plan.class_names,
            model_info=[st._info(name) for name in st.plan.models],
            dataset=st.plan.dataset,
            images=self.images,
            projections=projections,
            probe_accuracy=(None if self.probed is None else
                            probe_accuracy(self.arrays["layer_pred"], self.labels, self.probed)),
            adversarial=adversarial,
            **self.arrays,
        )


class _DatasetBuilder:
    """Writes the cube as a dataset: samples as they stream by, partitions from the store.

    During the run it keeps only the store keys of the finished units (and the labels); at
    the end it reads each (model, condition)'s units back, one partition at a time.
    """

    needs_arrays = False

    def __init__(self, study: Study, out: str | os.PathLike, store: UnitStore) -> None:
        from geowidget.cube_format import CubeWriter

        self.study, self.store = study, store
        self.writer = CubeWriter(out, {
            "models": list(study.plan.models), "layers": study.plan.layers,
            "conditions": [[c.sparsity, c.benchmark, c.severity] for c in study.plan.conditions],
            "class_names": study.plan.class_names, "model_info": [], "dataset": study.plan.dataset,
            "n": study.plan.n, "study": study.identity,
        })
        self.location = out
        self.labels = np.zeros(study.plan.n, np.int64)
        self.keys: dict[tuple[int, int], dict[int, dict[str, str]]] = {}  # cell: start: part
        self.model_pos = {name: i for i, name in enumerate(study.plan.models)}
        self.cond_pos = {c: i for i, c in enumerate(study.plan.conditions)}
        self._images = contextlib.ExitStack()
        self._image_stream: Any = None

    def add_samples(self, shard: Shard) -> None:
        self.labels[shard.start : shard.stop] = shard.labels.numpy()
        thumbs = thumbnails(shard.inputs)
        if thumbs is not None:
            if self._image_stream is None:
                shape = (self.study.plan.n, *thumbs.shape[1:])
                self._image_stream = self._images.enter_context(self.writer.image_stream(shape))
            self._image_stream.write(np.ascontiguousarray(thumbs).tobytes())

    def abort(self) -> None:
        """Drop what was written: the cube that was at the location stays as it was."""
        with contextlib.suppress(OSError):
            self._images.close()
        self.writer.abort()

    def add(self, unit: WorkUnit, part: str, key: str, arrays: dict[str, np.ndarray] | None
            ) -> None:
        cell = (self.model_pos[unit.model], self.cond_pos[unit.condition])
        self.keys.setdefault(cell, {}).setdefault(unit.start, {})[part] = key

    def build(self, projections: dict[str, np.ndarray],
              adversarial: dict[str, np.ndarray] | None = None) -> GeometryCube:
        st = self.study
        self._images.close()
        for method, xy in projections.items():
            self.writer.write_projection(method, xy)
        for norm, distance in (adversarial or {}).items():
            self.writer.write_adversarial(norm, distance)
        self.writer.write_samples(self.labels, np.arange(st.plan.n))
        probed = st.plan.probed
        accuracy = np.full((len(st.plan.models), len(st.plan.layers), len(st.plan.conditions)), np.nan)
        for (mi, ki), shards in sorted(self.keys.items()):
            units = []
            for _, keys in sorted(shards.items()):
                parts = {part: self.store.load(key) for part, key in keys.items()}
                if any(p is None for p in parts.values()):
                    raise RuntimeError(f"a unit of {st.plan.conditions[ki].label} of model "
                                       f"{list(st.plan.models)[mi]!r} cannot be read back from "
                                       f"{self.store!r}")
                units.append(join_parts(parts, st.plan.layers))
            metrics = {name: np.concatenate([u[name] for u in units], axis=1)
                       for name in LAYER_METRICS}
            outputs = {name: np.concatenate([u[name] for u in units]) for name in OUTPUTS}
            layer_pred = None
            if probed is not None:
                layer_pred = np.concatenate([u["layer_pred"] for u in units], axis=1)
                accuracy[mi, :, ki] = probe_accuracy(layer_pred[None, :, None], self.labels,
                                                     probed[mi : mi + 1])[0, :, 0]
            self.writer.write_partition(mi, ki, metrics, outputs, layer_pred)
        if probed is not None:
            self.writer.write_probe_accuracy(accuracy)
        self.writer.meta["model_info"] = [st._info(name) for name in st.plan.models]
        self.writer.finish()
        return GeometryCube.open(self.location)


def _runner(runner: LocalRunner | RayRunner | None, backend: str | None,
            address: str | None, remote_args: Mapping[str, Any] | None
            ) -> LocalRunner | RayRunner:
    """The runner, from ``runner=`` or from the deprecated ``backend=`` and ``ray_*=``
    (with a DeprecationWarning that names the new spelling)."""
    old = {k: v for k, v in (("backend", backend), ("ray_address", address),
                             ("ray_remote_args", remote_args)) if v is not None}
    if not old:
        return LocalRunner() if runner is None else runner
    if runner is not None:
        raise invalid("Study", "runner", f"the only way the runner is given (the deprecated "
                      f"{', '.join(f'{k}=' for k in old)} give it too)", runner)
    if backend != "ray":
        for name in ("ray_address", "ray_remote_args"):
            if name in old:
                raise invalid("Study", name, "None with backend='local' (it is used only "
                              "with backend='ray')", old[name])
        new = "runner=LocalRunner() (the default)"
        built: LocalRunner | RayRunner = LocalRunner()
    else:
        args = [f"{k}={v!r}" for k, v in (("address", address), ("remote_args", remote_args))
                if v is not None]
        new = f"runner=RayRunner({', '.join(args)})"
        built = RayRunner(address, remote_args)
    warnings.warn(f"Study({', '.join(f'{k}={v!r}' for k, v in old.items())}) is deprecated "
                  f"and will be removed in the next release; pass {new} (from geowidget.study "
                  "import LocalRunner, RayRunner)", DeprecationWarning, stacklevel=4)
    return built


def probe_accuracy(layer_pred: np.ndarray, labels: np.ndarray, probed: np.ndarray) -> np.ndarray:
    """Fraction of samples a layer's probe classifies correctly, float64 ``[M, L, K]``, from
    predictions ``[M, L, K, N]``; NaN where ``probed`` ``[M, L]`` is False (the model's head)."""
    acc = (layer_pred == labels).mean(axis=-1, dtype=np.float64)
    return np.where(probed[:, :, None], acc, np.nan)


def _source_fp(source: torch.Tensor | None) -> str:
    """A fingerprint of a shard's ready-made corrupted copy (generated corruptions: none)."""
    return "generated" if source is None else fingerprint(source)
