"""GeometryCube: the one data structure between the engine and the views.

A cube holds per-sample geometry over four labelled dimensions:

- ``model``: M models (names plus free-form descriptors such as architecture or training);
- ``layer``: L layer names;
- ``condition``: K evaluation conditions, each a (sparsity, benchmark, severity) triple.
  ``benchmark="clean"`` (severity 0) is the uncorrupted data. A Study evaluates clean data
  at every sparsity and each corruption at sparsity 0, so conditions are the computed
  combinations only, with no empty cells;
- ``sample``: N probe samples (ids, labels, optional thumbnails).

Arrays:

- ``angle``, ``angle_pred``, ``avh``, ``angle_gap`` (radians, AVH unitless), ``norm`` and
  ``margin`` (signed): float32 ``[M, L, K, N]``;
- ``pred`` (int32), ``correct`` (bool), ``logit_margin`` (float32): ``[M, K, N]``; they come
  from the logits, so they do not depend on the layer;
- ``layer_pred`` (int32 ``[M, L, K, N]``) and ``probe_accuracy`` (float64 ``[M, L, K]``):
  optional, in cubes with probe layers (layers measured against linear probes, see
  :mod:`geowidget.study.study`). ``layer_pred`` is each layer's own prediction: its probe's
  at a probe layer (the model's head's elsewhere). ``probe_accuracy`` is the probe's held-out
  accuracy (NaN at layers that use the model's head). At a probe layer a :class:`CubeSlice`'s
  ``pred`` and ``correct`` are the probe's; its ``pred_model`` and ``correct_model`` (and the
  cube's ``pred`` and ``correct``) are the model's;
- ``projections``: optional 2-D maps of each model's clean, dense features per layer, by
  method (``{"pca": float32 [M, L, N, 2], "umap": ...}``, NaN where not computed), for
  :class:`~geowidget.widgets.ProjectionView`. They are positions, not geometry: a projection
  distorts distances (:func:`geowidget.distortion` measures how much);
- ``adversarial``: optional per-sample adversarial distances by norm (``{"l2": float32
  [M, K, N]}``): the smallest input perturbation that changes the prediction
  (:func:`geowidget.adversarial_distance`), measured on clean inputs at each sparsity; 0 for
  misclassified samples, NaN where not measured (corrupted conditions, samples outside the
  attacked subset) or where every attack failed.

A cube lives in memory, or on disk as a partitioned dataset (:meth:`GeometryCube.save`, one
Parquet file per (model, condition); see :mod:`geowidget.cube_format`) that
:meth:`GeometryCube.open` reads on demand: its names, labels and sample ids are read at once,
its arrays only when asked for. :meth:`~GeometryCube.slice` reads one file,
:meth:`~GeometryCube.values`, :meth:`~GeometryCube.sel`, :meth:`~GeometryCube.to_pandas` and
the analyses read only the partitions and columns they need; the array attributes
(``cube.angle``) read the whole array.

Per-sample scores (robustness, vulnerability, breakdown sparsity, PIE) are derived from
``pred`` and ``correct`` on demand (see :mod:`geowidget.analysis.scores`), never stored.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geowidget._validation import (
    Array,
    Boolean,
    Interval,
    ListOf,
    describe,
    invalid,
    validate_params,
)
from geowidget.coords import (  # noqa: F401 (re-exported: the names the cube has always had)
    CONDITION_CONSTRAINTS,
    FIND_CONSTRAINTS,
    SPARSITY_TOL,
    Condition,
    Coords,
    same_sparsity,
)

if TYPE_CHECKING:  # pyarrow is imported only when a cube is saved or opened
    from geowidget.cube_format import CubeReader

LAYER_METRICS = ("angle", "angle_pred", "avh", "angle_gap", "norm", "margin")
OUTPUTS = ("pred", "correct", "logit_margin")
ARRAYS = LAYER_METRICS + OUTPUTS
CONDITION_DIMS = ("sparsity", "benchmark", "severity")
_FORMAT_VERSION = 1  # of the single-file Parquet form (to_parquet)
LAYER_PRED = "layer_pred"  # optional: each layer's own prediction, int32 [M, L, K, N]
_DTYPES = {**dict.fromkeys(LAYER_METRICS, np.float32), "pred": np.int32, "correct": np.bool_,
           "logit_margin": np.float32, LAYER_PRED: np.int32}


@dataclass(frozen=True)
class CubeSlice:
    """Per-sample arrays ``[N]`` of one (model, layer, condition) cell of a cube.

    ``pred`` and ``correct`` are the layer's (its probe's at a probe layer); ``pred_model``
    and ``correct_model`` are the model's final prediction, the same at every layer.
    """

    model: str
    layer: str
    condition: Condition
    angle: np.ndarray
    angle_pred: np.ndarray
    avh: np.ndarray
    angle_gap: np.ndarray
    norm: np.ndarray
    margin: np.ndarray
    pred: np.ndarray
    correct: np.ndarray
    logit_margin: np.ndarray
    labels: np.ndarray
    sample_ids: np.ndarray
    pred_model: np.ndarray | None = None
    correct_model: np.ndarray | None = None


_POSITION = Interval(int, None, None)  # an index along a dimension (negative from the end)


class _MemoryArrays:
    """The arrays of an in-memory cube."""

    location = None

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def full(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        arr = self.arrays[name]
        if name in LAYER_METRICS or name == LAYER_PRED:
            return arr[np.ix_(mi, li, ki)]
        return arr[np.ix_(mi, ki)]


class _DatasetArrays:
    """The arrays of an opened cube: read from its partitions when asked for, never kept."""

    def __init__(self, reader: CubeReader, layers: list[str]) -> None:
        self.reader, self.layers = reader, layers
        self.location = reader.location
        self.n = len(reader.labels)

    def full(self, name: str) -> np.ndarray:
        m, k = len(self.reader.meta["models"]), len(self.reader.meta["conditions"])
        return self.block(name, list(range(m)), list(range(len(self.layers))), list(range(k)))

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        from geowidget.cube_format import column

        layered = name in LAYER_METRICS or name == LAYER_PRED
        shape = (len(mi), len(li), len(ki), self.n) if layered else (len(mi), len(ki), self.n)
        out = np.empty(shape, _DTYPES[name])
        cols = [column(name, self.layers[i]) for i in li] if layered else [name]
        for a, m in enumerate(mi):
            for c, k in enumerate(ki):
                got = self.reader.read_partition(m, k, cols)
                if layered:
                    for b, col in enumerate(cols):
                        out[a, b, c] = got[col]
                else:
                    out[a, c] = got[name]
        return out


class GeometryCube:
    """Per-sample geometry labelled by (model, layer, condition, sample); see the module doc.

    Parameters
    ----------
    models, layers : list of str
        Unique names.
    conditions : list of Condition or (sparsity, benchmark, severity)
        Unique conditions.
    labels : array of int ``[N]``
        True classes, in ``[0, len(class_names))``.
    class_names : list of str
    angle, angle_pred, avh, angle_gap, norm, margin : array ``[M, L, K, N]``
        Layer metrics (float32; radians for angles).
    pred, correct, logit_margin : array ``[M, K, N]``
        Outputs of the logits.
    sample_ids : array of int ``[N]``, optional
        Defaults to ``0..N-1``.
    model_info : list of dict, optional
        Free-form descriptors, one per model.
    dataset : str
        Name of the probe set.
    images : uint8 array ``[N, H, W]`` or ``[N, H, W, 3]``, optional
        Thumbnails.
    projections : dict of str to array ``[M, L, N, 2]``, optional
        2-D positions of each model's clean, dense features per layer, by method.
    layer_pred : array of int ``[M, L, K, N]``, optional
        Each layer's own prediction (a probe's at a probe layer).
    probe_accuracy : array ``[M, L, K]``, optional
        Held-out accuracy of each layer's probe; NaN where a layer has none.
    adversarial : dict of str to array ``[M, K, N]``, optional
        Adversarial distances by norm (``"l2"``, ``"linf"``); NaN where not measured.

    Examples
    --------
    >>> cube = Study(models, data).run()                             # doctest: +SKIP
    >>> s = cube.slice(model="lenet", layer="penultimate", sparsity=0.5)   # doctest: +SKIP
    >>> s.angle.shape                                                # doctest: +SKIP
    (1500,)
    >>> cube.save("runs/mnist-cube")                                 # doctest: +SKIP
    >>> big = GeometryCube.open("runs/mnist-cube")   # reads names and labels only  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Sequence[str],
        layers: Sequence[str],
        conditions: Sequence[Condition | Sequence[Any]],
        labels: Any,
        class_names: Sequence[str],
        angle: Any,
        angle_pred: Any,
        avh: Any,
        angle_gap: Any,
        norm: Any,
        margin: Any,
        pred: Any,
        correct: Any,
        logit_margin: Any,
        sample_ids: Any = None,
        model_info: Sequence[dict[str, Any]] | None = None,
        dataset: str = "",
        images: Any = None,
        projections: dict[str, Any] | None = None,
        layer_pred: Any = None,
        probe_accuracy: Any = None,
        adversarial: dict[str, Any] | None = None,
    ) -> None:
        self._set_coordinates(models, layers, conditions, labels, class_names, sample_ids,
                              model_info, dataset)
        m, ly, k, n = len(self.models), len(self.layers), len(self.conditions), len(self.labels)
        given = dict(angle=angle, angle_pred=angle_pred, avh=avh, angle_gap=angle_gap, norm=norm,
                     margin=margin, pred=pred, correct=correct, logit_margin=logit_margin)
        arrays = {
            name: _as_shape(name, given[name],
                            (m, ly, k, n) if name in LAYER_METRICS else (m, k, n), _DTYPES[name])
            for name in ARRAYS
        }
        if layer_pred is not None:
            arrays[LAYER_PRED] = _as_shape(LAYER_PRED, layer_pred, (m, ly, k, n), np.int32)
        self._arrays: _MemoryArrays | _DatasetArrays = _MemoryArrays(arrays)
        self.probe_accuracy = (None if probe_accuracy is None else
                               _as_shape("probe_accuracy", probe_accuracy, (m, ly, k), np.float64))
        self._images = _check_images(images, n)
        self.projections = {
            str(method): _as_shape(f"projections[{method!r}]", xy, (m, ly, n, 2), np.float32)
            for method, xy in dict(projections or {}).items()
        }
        self.adversarial = {
            str(norm): _as_shape(f"adversarial[{norm!r}]", d, (m, k, n), np.float32)
            for norm, d in dict(adversarial or {}).items()
        }

    def _set_coordinates(self, models: Any, layers: Any, conditions: Any, labels: Any,
                         class_names: Any, sample_ids: Any, model_info: Any, dataset: Any) -> None:
        self.coords = Coords(models, layers, conditions)
        self.models = list(self.coords.models)
        self.layers = list(self.coords.layers)
        self.conditions = list(self.coords.conditions)
        self.class_names = [str(c) for c in class_names]
        self.labels = np.asarray(labels, dtype=np.int32)
        n = self.labels.shape[0]
        self.sample_ids = np.asarray(np.arange(n) if sample_ids is None else sample_ids,
                                     dtype=np.int64)
        self.model_info = [dict(i) for i in model_info] if model_info else [{} for _ in models]
        self.dataset = str(dataset)
        if self.sample_ids.shape != (n,):
            raise ValueError(f"sample_ids has shape {self.sample_ids.shape}, expected ({n},)")
        if len(self.model_info) != len(self.models):
            raise ValueError(f"model_info has {len(self.model_info)} entries for "
                             f"{len(self.models)} models")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(
                f"labels must lie in [0, {len(self.class_names)}) for the "
                f"{len(self.class_names)} class names, got range "
                f"[{self.labels.min()}, {self.labels.max()}]"
            )

    # ------------------------------------------------------------------ arrays
    @property
    def angle(self) -> np.ndarray:
        """Angle to the true class direction (radians), float32 ``[M, L, K, N]``."""
        return self._arrays.full("angle")

    @property
    def angle_pred(self) -> np.ndarray:
        """Angle to the predicted class direction (radians), float32 ``[M, L, K, N]``."""
        return self._arrays.full("angle_pred")

    @property
    def avh(self) -> np.ndarray:
        """Angular Visual Hardness (unitless), float32 ``[M, L, K, N]``."""
        return self._arrays.full("avh")

    @property
    def angle_gap(self) -> np.ndarray:
        """Angle minus the smallest angle to another class (radians), float32 ``[M, L, K, N]``."""
        return self._arrays.full("angle_gap")

    @property
    def norm(self) -> np.ndarray:
        """L2 norm of the features, float32 ``[M, L, K, N]``."""
        return self._arrays.full("norm")

    @property
    def margin(self) -> np.ndarray:
        """Signed distance to the decision boundary (feature units), float32 ``[M, L, K, N]``."""
        return self._arrays.full("margin")

    @property
    def pred(self) -> np.ndarray:
        """Predicted class, int32 ``[M, K, N]``."""
        return self._arrays.full("pred")

    @property
    def correct(self) -> np.ndarray:
        """Whether the prediction is the label, bool ``[M, K, N]``."""
        return self._arrays.full("correct")

    @property
    def logit_margin(self) -> np.ndarray:
        """True-class logit minus the largest other logit, float32 ``[M, K, N]``."""
        return self._arrays.full("logit_margin")

    @property
    def has_layer_pred(self) -> bool:
        """Whether the cube stores each layer's own prediction (it has probe layers)."""
        if isinstance(self._arrays, _DatasetArrays):
            return bool(self._arrays.reader.meta.get(LAYER_PRED))
        if hasattr(self._arrays, "has_layer_pred"):  # a backend that says (a live cube's)
            return bool(self._arrays.has_layer_pred)
        return LAYER_PRED in self._arrays.arrays

    @property
    def layer_pred(self) -> np.ndarray | None:
        """Each layer's own prediction (its probe's at a probe layer), int32 ``[M, L, K, N]``;
        None in a cube without probe layers, where it is ``pred`` at every layer."""
        return self._arrays.full(LAYER_PRED) if self.has_layer_pred else None

    @property
    def images(self) -> np.ndarray | None:
        """uint8 thumbnails ``[N, H, W]`` or ``[N, H, W, 3]`` (memory-mapped when opened), or None."""
        if hasattr(self._images, "read_images"):  # an opened cube's reader: map them now
            self._images = self._images.read_images()
        return self._images

    @property
    def location(self) -> str | None:
        """Where an opened cube's arrays are read from; None for a cube in memory."""
        return self._arrays.location

    def values(
        self,
        name: str,
        model: Sequence[int] | None = None,
        layer: Sequence[int] | None = None,
        condition: Sequence[int] | None = None,
        sample: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Part of one array, reading only the partitions and columns it needs.

        Parameters
        ----------
        name : str
            One of ``LAYER_METRICS`` or ``OUTPUTS``, or ``"layer_pred"`` when the cube has it.
        model, layer, condition, sample : sequence of int, optional
            Positions to keep along each dimension (``None``: all). ``layer`` is ignored for
            the outputs, which do not depend on the layer.

        Returns
        -------
        ndarray
            ``[m, l, k, n]`` for a layer metric or ``layer_pred``, ``[m, k, n]`` for an output.
        """
        if name not in ARRAYS and not (name == LAYER_PRED and self.has_layer_pred):
            raise KeyError(f"unknown array {name!r}; valid: {list(ARRAYS)}")
        caller = "GeometryCube.values"
        mi = _positions(caller, "model", model, len(self.models))
        li = _positions(caller, "layer", layer, len(self.layers))
        ki = _positions(caller, "condition", condition, len(self.conditions))
        out = self._arrays.block(name, mi, li, ki)
        if sample is None:
            return out
        return out[..., _positions(caller, "sample", sample, len(self.labels))]

    # ------------------------------------------------------------------ coordinates
    @property
    def shape(self) -> dict[str, int]:
        return {
            "model": len(self.models),
            "layer": len(self.layers),
            "condition": len(self.conditions),
            "sample": len(self.labels),
        }

    @property
    def sparsities(self) -> list[float]:
        """Sparsity levels with a clean condition, ascending."""
        return self.coords.sparsities

    @property
    def benchmarks(self) -> list[str]:
        """Benchmark names in first-seen order, ``"clean"`` included."""
        return self.coords.benchmarks

    def model_index(self, model: str | int) -> int:
        return self.coords.index("model", model)

    def layer_index(self, layer: str | int) -> int:
        return self.coords.index("layer", layer)

    @property
    def corruptions(self) -> list[str]:
        """Benchmark names other than ``"clean"``, in first-seen order."""
        return self.coords.corruptions

    @validate_params(FIND_CONSTRAINTS)
    def find_conditions(
        self,
        sparsity: float | Sequence[float] | None = None,
        benchmark: str | Sequence[str] | None = None,
        severity: int | Sequence[int] | None = None,
    ) -> list[int]:
        """Positions of the conditions that match every given dimension (see
        :meth:`geowidget.coords.Coords.find`, the one condition lookup)."""
        return self.coords.find(sparsity, benchmark, severity)

    def condition_index(
        self, sparsity: float = 0.0, benchmark: str = "clean", severity: int | None = None
    ) -> int:
        """Index of the one matching condition (see :meth:`geowidget.coords.Coords.condition`)."""
        return self.coords.condition(sparsity, benchmark, severity)

    # ------------------------------------------------------------------ selection
    def slice(
        self,
        model: str | int = 0,
        layer: str | int = 0,
        sparsity: float = 0.0,
        benchmark: str = "clean",
        severity: int | None = None,
    ) -> CubeSlice:
        """Per-sample arrays of one (model, layer, condition) cell; one file read when opened."""
        mi, li = self.model_index(model), self.layer_index(layer)
        ki = self.condition_index(sparsity, benchmark, severity)
        return self.cell(mi, li, ki)

    def cell(self, model: int, layer: int, condition: int) -> CubeSlice:
        """The cell at positions ``(model, layer, condition)``, as :meth:`slice` gives it."""
        model, layer, condition = (
            _positions("GeometryCube.cell", name, [value], size, one=value)[0]
            for name, value, size in (("model", model, len(self.models)),
                                      ("layer", layer, len(self.layers)),
                                      ("condition", condition, len(self.conditions))))
        names = list(ARRAYS) + ([LAYER_PRED] if self.has_layer_pred else [])
        if hasattr(self._arrays, "cell"):  # a backend that gives one cell itself (live)
            arrays = self._arrays.cell(model, layer, condition, names)
        elif isinstance(self._arrays, _DatasetArrays):
            from geowidget.cube_format import column

            cols = [column(name, self.layers[layer]) if name in LAYER_METRICS or
                    name == LAYER_PRED else name for name in names]
            got = self._arrays.reader.read_partition(model, condition, cols)
            arrays = {name: got[col] for name, col in zip(names, cols, strict=True)}
        else:
            full = self._arrays.arrays
            arrays = {name: full[name][model, layer, condition] for name in LAYER_METRICS}
            arrays.update({name: full[name][model, condition] for name in OUTPUTS})
            if LAYER_PRED in full:
                arrays[LAYER_PRED] = full[LAYER_PRED][model, layer, condition]
        arrays["pred_model"], arrays["correct_model"] = arrays["pred"], arrays["correct"]
        if LAYER_PRED in arrays:  # the layer's own prediction (a probe's), not the model's
            arrays["pred"] = arrays.pop(LAYER_PRED).astype(np.int32, copy=False)
            arrays["correct"] = arrays["pred"] == self.labels
        return CubeSlice(
            model=self.models[model],
            layer=self.layers[layer],
            condition=self.conditions[condition],
            labels=self.labels,
            sample_ids=self.sample_ids,
            **arrays,
        )

    @validate_params({
        "model": [None, str, _POSITION, ListOf([str, _POSITION])],
        "layer": [None, str, _POSITION, ListOf([str, _POSITION])],
        "sample": [None, Array(("N",), dtype="bool", library="numpy", nonempty=False),
                   Array(("K",), dtype="integer", library="numpy"), ListOf(Boolean()),
                   ListOf(_POSITION)],
        **CONDITION_CONSTRAINTS,
    })
    def sel(
        self,
        model: str | int | Sequence[str | int] | None = None,
        layer: str | int | Sequence[str | int] | None = None,
        sparsity: float | Sequence[float] | None = None,
        benchmark: str | Sequence[str] | None = None,
        sample: Sequence[int] | np.ndarray | None = None,
        severity: int | Sequence[int] | None = None,
    ) -> GeometryCube:
        """A sub-cube in memory; each argument is one value or a list, ``None`` keeps everything.

        Conditions are chosen with :meth:`find_conditions`. ``sample`` takes integer positions
        (not ids) or a boolean mask over the samples. Dimensions are kept even when one value
        is chosen, so the result has the same array layout as the original. An opened cube
        reads only the selected partitions.
        """
        mi = self._pick(model, self.model_index, len(self.models))
        li = self._pick(layer, self.layer_index, len(self.layers))
        ki = self.find_conditions(sparsity, benchmark, severity)
        if not ki:
            raise KeyError("the selection keeps no condition")
        si = self._samples(sample)
        images = self.images
        return GeometryCube(
            models=[self.models[i] for i in mi],
            layers=[self.layers[i] for i in li],
            conditions=[self.conditions[i] for i in ki],
            labels=self.labels[si],
            class_names=self.class_names,
            sample_ids=self.sample_ids[si],
            model_info=[self.model_info[i] for i in mi],
            dataset=self.dataset,
            images=None if images is None else images[si],
            projections={k: xy[np.ix_(mi, li, si)] for k, xy in self.projections.items()},
            layer_pred=(self.values(LAYER_PRED, mi, li, ki, si) if self.has_layer_pred
                        else None),
            probe_accuracy=(None if self.probe_accuracy is None
                            else self.probe_accuracy[np.ix_(mi, li, ki)]),
            adversarial={k: d[np.ix_(mi, ki, si)] for k, d in self.adversarial.items()},
            **{name: self.values(name, mi, li, ki, si) for name in ARRAYS},
        )

    @property
    def sparsity_values(self) -> np.ndarray:
        return np.array([c.sparsity for c in self.conditions], dtype=float)

    @staticmethod
    def _pick(value: Any, index: Any, size: int) -> list[int]:
        if value is None:
            return list(range(size))
        if isinstance(value, str | int | np.integer):
            return [index(value)]
        return [index(v) for v in value]

    def _samples(self, sample: Any) -> np.ndarray:
        """Positions of the selected samples: all, a boolean mask, or integer positions."""
        n = len(self.labels)
        if sample is None:
            return np.arange(n)
        arr = np.asarray(sample)
        if arr.dtype == np.bool_:
            if arr.shape != (n,):
                raise invalid("GeometryCube.sel", "sample", f"a boolean mask of length {n}",
                              sample, f"it has length {len(arr)}")
            return np.flatnonzero(arr)
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise invalid("GeometryCube.sel", "sample", f"positions in [-{n}, {n})", sample,
                          f"they span [{arr.min()}, {arr.max()}]")
        return arr % max(n, 1)

    # ------------------------------------------------------------------ scores
    def correlations(self, target: str = "robustness", **kwargs: Any) -> Any:
        """The paper's table: per model, r between (angle, norm, margin) and the target.

        See :func:`geowidget.analysis.scores.correlations` for the arguments.
        """
        from geowidget.analysis.scores import correlations

        return correlations(self, target=target, **kwargs)

    def scores(self, sparsity: float | Sequence[float] | None = 0.0) -> Any:
        """Per-sample scores, one row per (model, sample): a pandas DataFrame.

        Columns ``robustness`` and one ``robustness:<benchmark>`` per corruption (when the cube
        has corrupted conditions), ``vulnerability``, ``breakdown_sparsity`` and ``pie`` (at
        the highest sparsity) when it has pruned ones. See :mod:`geowidget.analysis.scores`.

        Parameters
        ----------
        sparsity : float, list of float, or None
            Whose robustness the ``robustness`` columns hold: the model pruned to this
            sparsity, under the corruptions at that sparsity (0, the default: the dense
            model). A list, or None for every sparsity of the cube's conditions, gives one row
            per (model, sparsity, sample) with a ``sparsity`` column. Robustness is NaN at a
            sparsity where the cube has no corrupted condition (a ``grid="dense-corrupted"``
            study's pruned levels). The pruning scores are of the whole sparsity sweep, the
            same in every row of a model and sample.
        """
        import pandas as pd

        import geowidget.analysis.scores as sc

        levels = sc.condition_levels(self)
        long = not isinstance(sparsity, int | float | np.number)
        asked = levels if sparsity is None else [sparsity] if not long else (
            list(sparsity) if isinstance(sparsity, Iterable) and not isinstance(sparsity, str)
            else [sparsity])
        at = []
        for s in asked:
            hits = [j for j, level in enumerate(levels) if isinstance(s, int | float | np.number)
                    and not isinstance(s, bool) and same_sparsity(level, s)]
            if not hits:
                raise invalid("GeometryCube.scores", "sparsity", f"None, or one or a list of the "
                              f"cube's sparsities {levels}", sparsity)
            at.append(hits[0])
        m, n, k = len(self.models), len(self.labels), len(at)

        def rows(value: np.ndarray) -> np.ndarray:  # [M, N] or [M, S, N] -> one per row
            return (value[:, at] if value.ndim == 3 else
                    np.broadcast_to(value[:, None], (m, k, n))).ravel()

        table: dict[str, Any] = {
            "model": pd.Categorical.from_codes(np.repeat(np.arange(m), k * n), self.models),
            "sample": np.tile(self.sample_ids, m * k),
            "label": np.tile(self.labels, m * k),
        }
        if long:
            table["sparsity"] = np.tile(np.repeat(np.asarray(levels)[at], n), m)
        if self.corruptions:
            table["robustness"] = rows(sc.robustness_by_sparsity(self))
            for name in self.corruptions:
                table[f"robustness:{name}"] = rows(sc.robustness_by_sparsity(self, benchmark=name))
        if any(s > 0 for s in self.sparsities):
            table["vulnerability"] = rows(sc.vulnerability(self))
            table["breakdown_sparsity"] = rows(sc.breakdown_sparsity(self))
            table["pie"] = rows(sc.pie(self))
        return pd.DataFrame(table)

    # ------------------------------------------------------------------ tables and files
    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """Long format: one row per (model, layer, condition, sample).

        Parameters
        ----------
        columns : list of str, optional
            Arrays to include (default all of ``LAYER_METRICS`` and ``OUTPUTS``); an opened
            cube reads only these. The coordinates (model, layer, sparsity, benchmark,
            severity, sample, label) are always there.
        """
        import pandas as pd

        if isinstance(columns, str):  # one column, not its letters
            columns = [columns]
        extra = [LAYER_PRED] if self.has_layer_pred else []
        names = list(ARRAYS) + extra if columns is None else list(columns)
        if unknown := [c for c in names if c not in ARRAYS and c not in extra]:
            raise KeyError(f"unknown column(s) {unknown} in the 'columns' parameter of "
                           f"GeometryCube.to_pandas (got {describe(columns)}); valid: "
                           f"{list(ARRAYS) + extra}")
        m, ly, k, n = (len(self.models), len(self.layers), len(self.conditions), len(self.labels))
        mi, li, ki, si = (a.ravel() for a in np.indices((m, ly, k, n)))
        table: dict[str, Any] = {
            "model": pd.Categorical.from_codes(mi, self.models),
            "layer": pd.Categorical.from_codes(li, self.layers),
            "sparsity": self.sparsity_values[ki],
            "benchmark": np.array([c.benchmark for c in self.conditions], dtype=object)[ki],
            "severity": np.array([c.severity for c in self.conditions], dtype=np.int32)[ki],
            "sample": self.sample_ids[si],
            "label": self.labels[si],
        }
        for name in names:
            values = self.values(name)
            layered = name in LAYER_METRICS or name == LAYER_PRED
            table[name] = values.ravel() if layered else values[mi, ki, si]
        for method, xy in self.projections.items():  # the same position at every condition
            for axis, coord in enumerate("xy"):
                table[f"projection:{method}:{coord}"] = xy[mi, li, si, axis]
        for norm, d in self.adversarial.items():  # the same distance at every layer
            table[f"adversarial:{norm}"] = d[mi, ki, si]
        return pd.DataFrame(table)

    def _meta(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "layers": self.layers,
            "conditions": [[c.sparsity, c.benchmark, c.severity] for c in self.conditions],
            "class_names": self.class_names,
            "model_info": self.model_info,
            "dataset": self.dataset,
            "n": len(self.labels),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the cube as a partitioned dataset that :meth:`open` reads on demand.

        One Parquet file per (model, condition), the sample ids and labels, the thumbnails
        and a small ``cube.json`` (see :mod:`geowidget.cube_format`). ``path`` is a directory
        or a ``pyarrow.fs`` URI. An opened cube is copied partition by partition, so saving
        never needs the whole cube in memory.

        The new cube is written beside ``path`` and swapped in when complete: a cube already
        there (this cube's own source included) stays whole until then, and a save that
        fails leaves it as it was.
        """
        from geowidget.cube_format import CubeReader, CubeWriter
        from geowidget.filesystem import location, resolve

        path = location(path, "GeometryCube.save", "path")
        with CubeWriter(path, self._meta()) as writer:
            writer.write_samples(self.labels, self.sample_ids)
            if self.images is not None:
                writer.write_images(self.images)
            for method, xy in self.projections.items():
                writer.write_projection(method, xy)
            if self.probe_accuracy is not None:
                writer.write_probe_accuracy(self.probe_accuracy)
            for norm, d in self.adversarial.items():
                writer.write_adversarial(norm, d)
            for mi in range(len(self.models)):
                for ki in range(len(self.conditions)):
                    metrics = {name: self.values(name, [mi], None, [ki])[0, :, 0]
                               for name in LAYER_METRICS}
                    outputs = {name: self.values(name, [mi], None, [ki])[0, 0]
                               for name in OUTPUTS}
                    layer_pred = (self.values(LAYER_PRED, [mi], None, [ki])[0, :, 0]
                                  if self.has_layer_pred else None)
                    writer.write_partition(mi, ki, metrics, outputs, layer_pred)
            writer.finish()
        if isinstance(self._arrays, _DatasetArrays):
            fs, root = resolve(path)
            source = self._arrays.reader
            if (fs.type_name, root) == (source.fs.type_name, source.root):
                # saved onto its own source: read on from the new files (the same values)
                reader = CubeReader(path)
                self._arrays = _DatasetArrays(reader, self.layers)
                if self._images is source:
                    self._images = reader

    @classmethod
    def open(cls, path: str | os.PathLike) -> GeometryCube:
        """A cube saved with :meth:`save`, whose arrays are read from disk when asked for.

        Names, conditions, labels and sample ids are read at once (``cube.shape``,
        ``cube.labels`` cost no array reads); :meth:`slice` reads one partition file,
        :meth:`values`, :meth:`sel`, :meth:`to_pandas` and the analyses read only what they
        use. The thumbnails are memory-mapped.

        Every file is verified against its checksum in ``cube.json`` when it is first read,
        and its values against the manifest (see :mod:`geowidget.cube_format`).

        Raises
        ------
        ValueError
            ``path`` is not a geowidget cube, partitions are missing (named), or a file is
            damaged, belongs to another cube or disagrees with the manifest (the file and
            the column are named).
        """
        from geowidget.cube_format import CubeReader
        from geowidget.filesystem import location

        reader = CubeReader(location(path, "GeometryCube.open", "path"))
        meta = reader.meta
        cube = cls.__new__(cls)
        cube._set_coordinates(meta["models"], meta["layers"],
                              [Condition(float(s), str(b), int(v)) for s, b, v in
                               meta["conditions"]],
                              reader.labels, meta["class_names"], reader.sample_ids,
                              meta["model_info"], meta["dataset"])
        cube._arrays = _DatasetArrays(reader, cube.layers)
        cube._images = reader if meta.get("images") is not None else None
        cube.projections = reader.read_projections()
        cube.probe_accuracy = reader.read_probe_accuracy()
        cube.adversarial = reader.read_adversarial()
        return cube

    def replace(self, **changes: Any) -> GeometryCube:
        """A cube in memory with some constructor arguments changed (and checked again).

        Examples
        --------
        >>> renamed = cube.replace(models=["a", "b"])                # doctest: +SKIP
        """
        kwargs = {name: getattr(self, name) for name in (
            "models", "layers", "conditions", "labels", "class_names", "sample_ids",
            "model_info", "dataset", "images", "projections", "probe_accuracy",
            "adversarial")}
        kwargs[LAYER_PRED] = self.layer_pred
        if unknown := sorted(set(changes) - set(kwargs) - set(ARRAYS)):
            raise TypeError(f"replace() got unknown field(s) {unknown}; valid: "
                            f"{sorted([*kwargs, *ARRAYS])}")
        n = len(self.labels)
        for name in ("labels", "sample_ids", "images"):  # the samples are not replaced here
            value = changes.get(name)
            if value is not None and len(value) != n:
                raise invalid("GeometryCube.replace", name, f"one entry per sample of the cube "
                              f"({n}); to choose samples use sel(sample=...)", value,
                              f"it has {len(value)}")
        kwargs.update({name: self.values(name) for name in ARRAYS if name not in changes})
        return GeometryCube(**{**kwargs, **changes})

    def load(self) -> GeometryCube:
        """This cube in memory (an opened cube reads all of its arrays)."""
        return self.sel()

    def to_parquet(self, path: str) -> None:
        """Write one Parquet file: the long table plus the metadata for a lossless round trip.

        For small cubes: the labels, sample ids and thumbnails go into the schema metadata.
        Large cubes go to a partitioned dataset with :meth:`save`.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from geowidget.filesystem import location, open_atomic, resolve

        table = pa.Table.from_pandas(self.to_pandas(), preserve_index=False)
        meta = {
            "version": _FORMAT_VERSION,
            "models": self.models,
            "layers": self.layers,
            "conditions": [[c.sparsity, c.benchmark, c.severity] for c in self.conditions],
            "labels": self.labels.tolist(),
            "sample_ids": self.sample_ids.tolist(),
            "class_names": self.class_names,
            "model_info": self.model_info,
            "dataset": self.dataset,
            "projections": list(self.projections),
            "probe_accuracy": (None if self.probe_accuracy is None else  # NaN as null
                               np.where(np.isnan(self.probe_accuracy), None,
                                        self.probe_accuracy).tolist()),
            "adversarial": list(self.adversarial),
        }
        if self.images is not None:
            meta["images"] = {
                "shape": list(self.images.shape),
                "data": base64.b64encode(np.ascontiguousarray(self.images).tobytes()).decode(),
            }
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[b"geowidget"] = json.dumps(meta).encode()
        fs, where = resolve(location(path, "GeometryCube.to_parquet", "path"))
        with open_atomic(fs, where) as f:  # a failed write leaves no partial file
            pq.write_table(table.replace_schema_metadata(schema_meta), f, compression="zstd")

    @classmethod
    def from_parquet(cls, path: str) -> GeometryCube:
        """Read a file written by :meth:`to_parquet`.

        Every way a file can be broken (truncated, not Parquet, metadata that is not JSON,
        misses a field or disagrees with the rows, a column of the wrong type) raises a
        ``ValueError`` that names the file.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from geowidget.filesystem import check_regular_file, location, resolve

        path = location(path, "GeometryCube.from_parquet", "path")
        where = f"cube file {str(path)!r}"
        check_regular_file(*resolve(path), "cube file")
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise ValueError(f"{where} is not a readable Parquet file ({err})") from None
        meta = _cube_metadata(table, where)
        m, ly = len(meta["models"]), len(meta["layers"])
        k, n = len(meta["conditions"]), len(meta["labels"])
        if table.num_rows != m * ly * k * n:
            raise ValueError(
                f"{where} has {table.num_rows} rows but its metadata describes {m} models x "
                f"{ly} layers x {k} conditions x {n} samples = {m * ly * k * n}"
            )
        columns = {name: _column(table, name, "floating", where) for name in LAYER_METRICS}
        columns["pred"] = _column(table, "pred", "integer", where)
        columns["correct"] = _column(table, "correct", "bool", where)
        columns["logit_margin"] = _column(table, "logit_margin", "floating", where)
        if LAYER_PRED in table.column_names:  # a cube with probe layers
            columns[LAYER_PRED] = _column(table, LAYER_PRED, "integer", where)
        classes = len(meta["class_names"])
        for name in ("pred", LAYER_PRED):
            pred = columns.get(name, np.zeros(0, np.int64))
            if pred.size and (pred.min() < 0 or pred.max() >= classes):
                odd = pred[(pred < 0) | (pred >= classes)][0]
                raise ValueError(f"{where}: its column {name!r} holds {odd}; predictions must "
                                 f"lie in [0, {classes}) for its {classes} class names")
        if len(set(meta["sample_ids"])) != n:
            raise ValueError(f"{where}: its metadata 'sample_ids' repeats ids; sample ids must "
                             "be unique")
        sample = _column(table, "sample", "integer", where)
        if not np.array_equal(sample, np.tile(np.asarray(meta["sample_ids"]), m * ly * k)):
            raise ValueError(f"{where}: its 'sample' column disagrees with the sample_ids of its "
                             "metadata (rows out of order, or from another cube)")
        arrays = {name: columns[name].reshape(m, ly, k, n) for name in LAYER_METRICS}
        for name in OUTPUTS:
            arrays[name] = columns[name].reshape(m, ly, k, n)[:, 0]
        if LAYER_PRED in columns:
            arrays[LAYER_PRED] = columns[LAYER_PRED].reshape(m, ly, k, n)
        try:
            projections = {
                method: np.stack([
                    _column(table, f"projection:{method}:{coord}", "floating", where)
                    .reshape(m, ly, k, n)[:, :, 0] for coord in "xy"], axis=-1)
                for method in meta.get("projections", [])
            }
            adversarial = {
                norm: _column(table, f"adversarial:{norm}", "floating", where)
                .reshape(m, ly, k, n)[:, 0] for norm in meta.get("adversarial", [])
            }
            images = None
            if "images" in meta:
                raw_img = base64.b64decode(meta["images"]["data"], validate=True)
                images = np.frombuffer(raw_img, dtype=np.uint8).reshape(
                    meta["images"]["shape"]).copy()
            return cls(
                models=meta["models"],
                layers=meta["layers"],
                conditions=[Condition(float(s), str(b), int(v)) for s, b, v in meta["conditions"]],
                labels=np.asarray(meta["labels"]),
                sample_ids=np.asarray(meta["sample_ids"]),
                class_names=meta["class_names"],
                model_info=meta["model_info"],
                dataset=meta["dataset"],
                images=images,
                projections=projections,
                probe_accuracy=(None if meta.get("probe_accuracy") is None else
                                np.array(meta["probe_accuracy"], dtype=np.float64)),
                adversarial=adversarial,
                **arrays,
            )
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"{where} holds an inconsistent cube: {err}") from None

    # ------------------------------------------------------------------ assembly
    @classmethod
    def concat_models(cls, cubes: Iterable[GeometryCube]) -> GeometryCube:
        """Stack cubes that share layers, conditions and samples along the model axis."""
        given = cubes
        cubes = list(cubes)
        if not cubes:
            raise ValueError("concat_models needs at least one cube")
        for i, c in enumerate(cubes):
            if not isinstance(c, GeometryCube):
                raise invalid("GeometryCube.concat_models", "cubes", "a list of GeometryCube",
                              given, f"item {i} ({describe(c)}) is a {type(c).__name__}")
        first = cubes[0]
        for c in cubes[1:]:
            if c.layers != first.layers or c.conditions != first.conditions:
                raise ValueError("cubes differ in layers or conditions; cannot stack models")
            if not np.array_equal(c.sample_ids, first.sample_ids):
                raise ValueError("cubes differ in samples; cannot stack models")
        # a projection some cubes lack is NaN for their models
        methods = dict.fromkeys(k for c in cubes for k in c.projections)
        projections = {k: np.concatenate([
            c.projections.get(k, np.full((len(c.models), len(c.layers), len(c.labels), 2),
                                         np.nan, np.float32)) for c in cubes]) for k in methods}
        # a cube without probe layers predicts with the model's head at every layer
        layer_pred = None if not any(c.has_layer_pred for c in cubes) else np.concatenate([
            c.layer_pred if c.has_layer_pred else np.repeat(c.pred[:, None], len(c.layers), 1)
            for c in cubes])
        accuracy = None if all(c.probe_accuracy is None for c in cubes) else np.concatenate([
            np.full((len(c.models), len(c.layers), len(c.conditions)), np.nan)
            if c.probe_accuracy is None else c.probe_accuracy for c in cubes])
        norms = dict.fromkeys(k for c in cubes for k in c.adversarial)
        adversarial = {k: np.concatenate([
            c.adversarial.get(k, np.full((len(c.models), len(c.conditions), len(c.labels)),
                                         np.nan, np.float32)) for c in cubes]) for k in norms}
        return cls(
            models=[m for c in cubes for m in c.models],
            layers=first.layers,
            conditions=first.conditions,
            labels=first.labels,
            class_names=first.class_names,
            sample_ids=first.sample_ids,
            model_info=[i for c in cubes for i in c.model_info],
            dataset=first.dataset,
            images=first.images,
            projections=projections,
            layer_pred=layer_pred,
            probe_accuracy=accuracy,
            adversarial=adversarial,
            **{name: np.concatenate([c.values(name) for c in cubes]) for name in ARRAYS},
        )

    @validate_params({"rtol": [Interval(float, 0, None)], "atol": [Interval(float, 0, None)]})
    def equals(self, other: GeometryCube, *, rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Equality of every coordinate, descriptor and array (NaNs compare equal).

        With the default ``rtol = atol = 0`` the comparison is exact. A tolerance applies to
        the computed float arrays only (the geometry, ``logit_margin`` and the projections):
        two values ``a`` (here) and ``b`` (in ``other``) are equal when
        ``|a - b| <= atol + rtol * |b|``, as in :func:`numpy.isclose`; NaN equals NaN only,
        and an infinity only the same infinity. Everything else stays exact: names,
        conditions, descriptors, labels, sample ids, images, and the integer and boolean
        arrays (``pred``, ``correct``).

        A tolerance is for cubes computed in another process or with another thread count
        (a Ray actor runs on one thread): float32 sums taken in another order differ in the
        last bits, so bit-for-bit equality would hold on one machine and fail on another.

        Opened cubes are compared partition by partition; an opened cube equals the cube in
        memory it was saved from.

        Parameters
        ----------
        other : GeometryCube
            The cube to compare with.
        rtol, atol : float
            Relative and absolute tolerance of the float arrays, >= 0.

        Returns
        -------
        bool
        """
        same = (self.models == other.models and self.layers == other.layers
                and self.conditions == other.conditions and self.class_names == other.class_names
                and self.model_info == other.model_info and self.dataset == other.dataset)
        if not same or list(self.projections) != list(other.projections):
            return False
        if (self.has_layer_pred != other.has_layer_pred
                or not _same_array(self.probe_accuracy, other.probe_accuracy, rtol, atol)):
            return False
        if not all(_same_array(np.asarray(xy), np.asarray(other.projections[k]), rtol, atol)
                   for k, xy in self.projections.items()):
            return False
        if list(self.adversarial) != list(other.adversarial) or not all(
                _same_array(np.asarray(d), np.asarray(other.adversarial[k]), rtol, atol)
                for k, d in self.adversarial.items()):
            return False
        for a, b in ((self.labels, other.labels), (self.sample_ids, other.sample_ids),
                     (self.images, other.images)):
            if not _same_array(a, b):
                return False
        m, k = len(self.models), len(self.conditions)
        for mi in range(m):  # one model and condition at a time: bounded memory when opened
            for ki in range(k):
                for name in ARRAYS + ((LAYER_PRED,) if self.has_layer_pred else ()):
                    if not _same_array(self.values(name, [mi], None, [ki]),
                                       other.values(name, [mi], None, [ki]), rtol, atol):
                        return False
        return True

    def __repr__(self) -> str:
        dims = ", ".join(f"{k}: {v}" for k, v in self.shape.items())
        where = "" if self.location is None else f", opened from {self.location!r}"
        return f"GeometryCube({dims}; dataset={self.dataset!r}, models={self.models}{where})"


def _same_array(a: np.ndarray | None, b: np.ndarray | None, rtol: float = 0.0,
                atol: float = 0.0) -> bool:
    """Same shape, dtype and values; floats within ``atol + rtol * |b|`` (0: exact)."""
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f" or (rtol == 0 and atol == 0):
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    return bool(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True).all())


def _check_images(images: Any, n: int) -> np.ndarray | None:
    if images is None:
        return None
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[0] != n:
        raise ValueError(f"images must be uint8 with {n} rows, got {images.dtype} {images.shape}")
    return images


def _as_shape(name: str, value: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr.astype(dtype, copy=False)


_META_FIELDS = {"models": list, "layers": list, "conditions": list, "labels": list,
                "sample_ids": list, "class_names": list, "model_info": list, "dataset": str}


def _cube_metadata(table: Any, where: str) -> dict[str, Any]:
    """The cube's metadata from a Parquet table's schema, every field checked."""
    raw = (table.schema.metadata or {}).get(b"geowidget")
    if raw is None:
        raise ValueError(f"{where} is a Parquet file but not a geowidget cube")
    try:
        meta = json.loads(raw)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"{where}: its geowidget metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: its geowidget metadata is a {type(meta).__name__}, not an "
                         "object")
    if meta.get("version") != _FORMAT_VERSION:
        raise ValueError(f"{where} has cube format {meta.get('version')!r}, expected "
                         f"{_FORMAT_VERSION}")
    for key, kind in _META_FIELDS.items():
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"{where}: its metadata field {key!r} should be a {kind.__name__}, "
                             f"got {type(meta.get(key)).__name__}")
    if not all(isinstance(c, list) and len(c) == 3 for c in meta["conditions"]):
        raise ValueError(f"{where}: its metadata conditions must be [sparsity, benchmark, "
                         "severity] triples")
    if len(meta["sample_ids"]) != len(meta["labels"]):
        raise ValueError(f"{where}: its metadata has {len(meta['labels'])} labels but "
                         f"{len(meta['sample_ids'])} sample ids")
    return meta


def _column(table: Any, name: str, kind: str, where: str) -> np.ndarray:
    """Column ``name`` as numpy, checked to hold ``kind`` values ("floating", "integer", "bool")."""
    import pyarrow as pa

    if name not in table.column_names:
        raise ValueError(f"{where} has no column {name!r}")
    column = table.column(name)
    ok = {"floating": pa.types.is_floating, "integer": pa.types.is_integer,
          "bool": pa.types.is_boolean}[kind](column.type)
    if not ok:
        raise ValueError(f"{where}: its column {name!r} holds {column.type}, expected {kind} "
                         "values")
    if column.null_count and kind != "floating":  # NaN floats are written as nulls
        raise ValueError(f"{where}: its column {name!r} has {column.null_count} missing values")
    return column.to_numpy()










def _positions(
    caller: str, name: str, value: Any, size: int, one: Any = None
) -> list[int] | np.ndarray:
    """Positions along a dimension of ``size`` (negative from the end), each checked; all of
    them when ``value`` is None. ``one`` is the single value that a caller took as a list."""
    if value is None:
        return list(range(size))
    shown = value if one is None else one
    what = "an int position" if one is not None else "a list of int positions"
    expected = f"{what} in [-{size}, {size}) (the cube has {size} {name}s)"
    if isinstance(value, np.ndarray):  # checked whole: sample positions can be millions
        if value.dtype.kind not in "iu" or value.ndim != 1:
            raise invalid(caller, name, expected, shown, f"its dtype is {value.dtype}"
                          if value.ndim == 1 else f"it has {value.ndim} dimensions")
        if value.size and (value.min() < -size or value.max() >= size):
            raise invalid(caller, name, expected, shown,
                          f"they span [{value.min()}, {value.max()}]")
        return value.astype(np.int64) % max(size, 1)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise invalid(caller, name, expected, shown)
    items = list(value)
    for item in items:
        if isinstance(item, bool | np.bool_) or not isinstance(item, int | np.integer):
            raise invalid(caller, name, expected, shown, f"{describe(item)} is not an int")
        if not -size <= item < size:
            raise invalid(caller, name, expected, shown, f"{item} is out of range")
    return [int(i) % size for i in items]
