"""Work units: a model at one condition on one shard of samples, and the pure function that runs one.

A :class:`WorkUnit` names what to compute; :func:`evaluate_unit` computes it from its
arguments alone (the model, the unit's inputs and labels, the class directions of each
layer, the pruning masks), so any worker process, local or on a Ray cluster, can run any
unit and get the same arrays.

A unit's results are stored in parts, each under its own key: one part per layer (the
geometry of that layer) and one for the model's outputs (prediction, correctness, logit
margin). A layer's part depends on that layer alone, so adding a layer to a study computes
only the new layer's parts, with a forward pass that stops at the layer
(``evaluate_unit(..., outputs=False)``), and every other part is reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from geowidget.cube import LAYER_METRICS, OUTPUTS, Condition
from geowidget.engine.corruptions import corrupt
from geowidget.engine.features import capture, extract_features
from geowidget.engine.geometry import geometry
from geowidget.engine.probe import ProbeFit
from geowidget.engine.pruning import pruned

__all__ = ["KEY_VERSION", "LAYER_PARTS", "OUTPUTS_PART", "PENULTIMATE", "WorkUnit",
           "evaluate_unit", "fingerprint", "join_parts", "probe_key", "split_parts",
           "unit_inputs", "unit_where"]

PENULTIMATE = "penultimate"
OUTPUTS_PART = "#outputs"  # the part of a unit holding the model's outputs ("#": no layer name)


@dataclass(frozen=True)
class WorkUnit:
    """One unit of work: a model at one condition on one shard of samples ``[start, stop)``."""

    model: str
    sparsity: float
    benchmark: str
    severity: int
    start: int
    stop: int

    @property
    def condition(self) -> Condition:
        return Condition(self.sparsity, self.benchmark, self.severity)

    def __str__(self) -> str:
        return f"{self.model} {self.condition.label} [{self.start}:{self.stop}]"


# The first part of every key of the unit store (units, probes, projections, adversarial
# distances): bumped when what a key stands for changes (3: motion blur along the rows).
KEY_VERSION = 3


def fingerprint(*parts: Any) -> str:
    """SHA-256 (hex) of tensors (dtype, shape and bytes) and JSON-able values, in order."""
    import torch

    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, torch.Tensor):
            t = p.detach().cpu().contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()


def probe_key(fit: ProbeFit) -> tuple[Any, ...]:
    """What a unit's results depend on in a layer's probes: their heads and who measures whom."""
    folds = "fitted on probe_data" if fit.folds is None else torch.from_numpy(fit.folds)
    return fit.weight, fit.bias, folds


def unit_inputs(
    unit: WorkUnit, clean: torch.Tensor, *, seed: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The unit's inputs from the clean shard: generated corruptions are applied here.

    Parameters
    ----------
    unit : WorkUnit
        ``benchmark="clean"`` returns ``clean`` itself; any other benchmark is a corruption
        name of :func:`geowidget.engine.corruptions.corrupt`, generated at ``unit.severity``.
    clean : Tensor
        The shard's clean inputs ``[stop - start, C, H, W]`` in [0, 1].
    seed : int
        Seed of the corruption; an image's noise depends only on (seed, name, its position in
        the whole data set), so shards can be corrupted anywhere, in any order.
    """
    if unit.benchmark == "clean":
        return clean
    index = torch.arange(unit.start, unit.stop)
    out = corrupt(clean.to(device), unit.benchmark, unit.severity, seed=seed, index=index)
    return out.cpu().to(clean.dtype)


def evaluate_unit(
    unit: WorkUnit,
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    layers: Mapping[str, str],
    head: str | None = None,
    probes: Mapping[str, ProbeFit] | None = None,
    masks: Mapping[str, torch.Tensor] | None = None,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    tokens: Mapping[str, str] | None = None,
    outputs: bool = True,
    check: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per-sample geometry and outputs of one unit; depends on its arguments only.

    Parameters
    ----------
    unit : WorkUnit
        Its sparsity must match ``masks`` (none at sparsity 0).
    model : nn.Module
        The dense model on ``device``. Pruned weights are zeroed inside this call and restored
        bit for bit before it returns.
    inputs, labels : Tensor
        The unit's inputs (already corrupted, see :func:`unit_inputs`) and int labels ``[n]``.
    layers : mapping of str to str
        Cube layer name to the node :func:`geowidget.engine.features.extract_features` reads
        (``"penultimate"`` maps to ``"<head>:input"``).
    head : str, optional
        Module name of the model's final Linear: the class directions of every layer that
        has no probe, read after pruning (a pruned head is the head the pruned model uses).
    probes : mapping of str to ProbeFit, optional
        The probes of the layers measured with one; each sample is measured by the probe
        that :meth:`~geowidget.engine.probe.ProbeFit.measured_by` names for its position.
    masks : mapping of str to bool Tensor, optional
        Keep-masks of the unit's sparsity (:meth:`geowidget.engine.pruning.PruningPlan.masks`).
    batch_size : int
        Forward-pass batch size.
    device : torch.device or str
        Where the forward passes run.
    tokens : mapping of str to str, optional
        How the token output of a node (a value of ``layers``) becomes one vector per sample
        (``"cls"``, ``"mean"``; see :func:`geowidget.engine.features.extract_features`).
    outputs : bool
        Also compute the model's outputs (``pred``, ``correct``, ``logit_margin``). Without
        them the forward pass stops once the layers are captured.
    check : callable, optional
        Called after the forward pass and before each layer's geometry; what it raises stops
        the unit there (a live cube's superseded cell), the weights restored.

    Returns
    -------
    dict of str to ndarray
        ``angle``, ``angle_pred``, ``avh``, ``angle_gap``, ``norm``, ``margin``: float32
        ``[L, n]`` in the order of ``layers`` (radians; norm and margin in feature units);
        ``layer_pred`` int32 ``[L, n]``, each layer's prediction (its probe's, or the head's);
        with ``outputs``, the model's ``pred`` int32 ``[n]``, ``correct`` bool ``[n]`` and
        ``logit_margin`` float32 ``[n]``.
    """
    if (unit.sparsity > 0) != bool(masks):
        raise ValueError(f"unit {unit} at sparsity {unit.sparsity:g} got "
                         f"{'no' if not masks else 'pruning'} masks")
    if not layers and not outputs:
        raise ValueError(f"unit {unit}: nothing to compute (no layers and outputs=False)")
    context = pruned(model, dict(masks)) if masks else contextlib.nullcontext(model)
    with context:
        return _evaluate(model, inputs, labels, layers, head, probes or {}, batch_size, device,
                         tokens, np.arange(unit.start, unit.stop), outputs, check)


LAYER_PARTS = (*LAYER_METRICS, "layer_pred")  # what a layer's stored part holds


def split_parts(arrays: Mapping[str, np.ndarray], layers: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """A unit's arrays (as :func:`evaluate_unit` returns them for ``layers``) as its stored
    parts: ``{layer: {metric: [n]}}``, and ``{OUTPUTS_PART: {name: [n]}}`` when it has outputs."""
    parts = {layer: {k: arrays[k][i] for k in LAYER_PARTS} for i, layer in enumerate(layers)}
    if "pred" in arrays:
        parts[OUTPUTS_PART] = {k: arrays[k] for k in OUTPUTS}
    return parts


def join_parts(parts: Mapping[str, Mapping[str, np.ndarray]], layers: list[str]
               ) -> dict[str, np.ndarray]:
    """The inverse of :func:`split_parts`: every layer's part and the outputs part as one
    unit's arrays (metrics ``[L, n]`` in the order of ``layers``)."""
    out = {k: np.stack([parts[layer][k] for layer in layers]) for k in LAYER_PARTS}
    out.update({k: parts[OUTPUTS_PART][k] for k in OUTPUTS})
    return out


def _evaluate(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    layers: Mapping[str, str],
    head: str | None,
    probes: Mapping[str, ProbeFit],
    batch_size: int,
    device: Any,
    tokens: Mapping[str, str] | None,
    positions: np.ndarray,
    outputs: bool = True,
    check: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    targets = list(dict.fromkeys(layers.values()))
    if targets:
        feats = extract_features(
            model, (inputs, labels), targets, batch_size=batch_size, device=device,
            progress=False, stop_early=not outputs,
            tokens={n: m for n, m in (tokens or {}).items() if n in targets} or None,
        )
        logits = feats.logits
    else:  # the outputs alone
        feats, _, logits = capture(model, (inputs, labels), [], batch_size=batch_size,
                                   device=device, progress=False)
    out: dict[str, list[np.ndarray]] = {k: [] for k in LAYER_PARTS}
    for layer, node in layers.items():
        if check is not None:
            check()
        h = feats[node].float().cpu()
        with warnings.catch_warnings():
            # NaN angles of zero-norm features are recorded; other warnings (logits beyond
            # float32) reach the caller
            warnings.filterwarnings("ignore", "(?s).*have zero norm", RuntimeWarning)
            if layer in probes:
                g = probes[layer].geometry(h, labels, positions).to_numpy()
            else:
                linear = model.get_submodule(head)
                w = linear.weight.detach().float().cpu()
                b = None if linear.bias is None else linear.bias.detach().float().cpu()
                g = geometry(h, labels, w, b).to_numpy()
        for k in LAYER_METRICS:
            out[k].append(g[k].astype(np.float32))
        out["layer_pred"].append(g["pred"].astype(np.int32))
    result = {k: np.stack(v) if v else np.zeros((0, len(labels)),
                                                np.int32 if k == "layer_pred" else np.float32)
              for k, v in out.items()}
    if not outputs:
        return result
    z = logits.double().cpu()
    pred = z.argmax(dim=1)
    zy = z.gather(1, labels[:, None])
    others = z.scatter(1, labels[:, None], float("-inf"))
    result["pred"] = pred.numpy().astype(np.int32)
    result["correct"] = (pred == labels).numpy()
    result["logit_margin"] = (zy[:, 0] - others.max(dim=1).values).numpy().astype(np.float32)
    return result


def unit_where(shard_fp: str, source_fp: str, unit: WorkUnit) -> str:
    """The part of a unit's store keys that names its samples and condition: the shard's
    inputs (``source_fp``: its ready-made corrupted copy, or ``"generated"``) and the condition
    (a live cube keys its parts with it too)."""
    return fingerprint(shard_fp, source_fp, unit.sparsity, unit.benchmark, unit.severity,
                       unit.start, unit.stop)
