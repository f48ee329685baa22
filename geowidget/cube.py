"""GeometryCube: the one data structure between the engine and the views.

A cube holds per-sample geometry over four labelled dimensions:

- ``model``: M models (names plus free-form descriptors such as architecture or training);
- ``layer``: L layer names;
- ``condition``: K evaluation conditions, each a (sparsity, benchmark, severity) triple.
  ``benchmark="clean"`` (severity 0) is the uncorrupted data. Conditions are the computed
  combinations only, with no empty cells (a Study's default grid corrupts every sparsity);
- ``sample``: N samples of the data measured (ids, labels, optional thumbnails).

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

The arrays and the registry of optional ones are declared in :mod:`geowidget.cube_schema`;
the array backends (in memory, read from a dataset) in :mod:`geowidget.cube_arrays`; the
coordinates and their lookups in :mod:`geowidget.coords`; both file forms in
:mod:`geowidget.cube_format`. :meth:`GeometryCube.from_arrays` builds a cube from any subset
of its arrays, and :func:`geowidget.testing.random_cube` a plausible random one.

Per-sample scores (robustness, vulnerability, breakdown sparsity, PIE) are derived from
``pred`` and ``correct`` on demand (see :mod:`geowidget.analysis.scores`), never stored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
from geowidget.cube_arrays import CubeArrays, DatasetArrays, MemoryArrays
from geowidget.cube_schema import (
    ARRAYS,
    DIMS,
    DTYPES,
    LAYER_METRICS,
    LAYER_PRED,
    OPTIONAL,
    OUTPUTS,
    array_dims,
    optional,
)

__all__ = ["ARRAYS", "CONDITION_CONSTRAINTS", "CONDITION_DIMS", "FIND_CONSTRAINTS", "LAYER_METRICS",
           "LAYER_PRED", "OUTPUTS", "SPARSITY_TOL", "Condition", "Coords", "CubeSlice",
           "GeometryCube", "same_sparsity"]

CONDITION_DIMS = ("sparsity", "benchmark", "severity")


@dataclass(frozen=True)
class CubeSlice:
    """Per-sample arrays ``[N]`` of one (model, layer, condition) cell of a cube.

    ``pred`` and ``correct`` are the layer's (its probe's at a probe layer); ``pred_model``
    and ``correct_model`` are the model's final prediction, the same at every layer.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> s = random_cube(n=5).slice(model=1, layer="penultimate", sparsity=0.5)
    >>> s.model, s.condition.label, s.margin.shape
    ('model1', 'clean@0.5', (5,))
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
        Name of the data set the samples come from.
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
        given = dict(angle=angle, angle_pred=angle_pred, avh=avh, angle_gap=angle_gap, norm=norm,
                     margin=margin, pred=pred, correct=correct, logit_margin=logit_margin)
        arrays = {name: _as_shape(name, given[name], self._shape_of(name), DTYPES[name])
                  for name in ARRAYS}
        self._optional: dict[str, Any] = {}
        extra = dict(images=images, projections=projections, layer_pred=layer_pred,
                     probe_accuracy=probe_accuracy, adversarial=adversarial)
        for spec in OPTIONAL:
            value = spec.check(extra[spec.name], self.shape)
            if spec.partitioned:  # read through the backend, like the required arrays
                if value is not None:
                    arrays[spec.name] = value
            else:
                self._optional[spec.name] = value
        self._arrays: CubeArrays = MemoryArrays(arrays)

    def _shape_of(self, name: str) -> tuple[int, ...]:
        return tuple(self.shape[d] for d in array_dims(name))

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
        return LAYER_PRED in self._arrays.names

    @property
    def layer_pred(self) -> np.ndarray | None:
        """Each layer's own prediction (its probe's at a probe layer), int32 ``[M, L, K, N]``;
        None in a cube without probe layers, where it is ``pred`` at every layer."""
        return self._arrays.full(LAYER_PRED) if self.has_layer_pred else None

    @property
    def probe_accuracy(self) -> np.ndarray | None:
        """Held-out accuracy of each layer's probe, float64 ``[M, L, K]`` (NaN where a layer
        uses the model's head), or None in a cube without probe layers."""
        return self._optional["probe_accuracy"]

    @property
    def projections(self) -> dict[str, np.ndarray]:
        """2-D positions of each model's clean, dense features per layer, by method:
        ``{method: float32 [M, L, N, 2]}`` (memory-mapped when opened)."""
        return self._optional["projections"]

    @property
    def adversarial(self) -> dict[str, np.ndarray]:
        """Adversarial distances by norm, ``{norm: float32 [M, K, N]}`` (memory-mapped when
        opened); NaN where not measured."""
        return self._optional["adversarial"]

    @property
    def images(self) -> np.ndarray | None:
        """uint8 thumbnails ``[N, H, W]`` or ``[N, H, W, 3]`` (memory-mapped when opened), or None."""
        images = self._optional["images"]
        if hasattr(images, "read_images"):  # an opened cube's reader: map them now
            images = self._optional["images"] = images.read_images()
        return images

    def _optional_values(self, at: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every optional array of the registry (None or ``{}`` where the cube has none),
        taken at the positions ``at[dim]`` when given (a partitioned one read only there)."""
        out: dict[str, Any] = {}
        for spec in OPTIONAL:
            if spec.partitioned:
                here = spec.name in self._arrays.names
                out[spec.name] = None if not here else self._arrays.full(spec.name) if (
                    at is None) else self.values(spec.name, at["model"], at["layer"],
                                                 at["condition"], at["sample"])
                continue
            value = getattr(self, spec.name)
            if at is not None and value is not None:
                value = ({key: spec.take(v, at) for key, v in value.items()} if spec.keyed
                         else spec.take(value, at))
            out[spec.name] = value
        return out

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

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> cube = random_cube(n=5)
        >>> cube.values("margin", model=[1], condition=[0]).shape
        (1, 3, 1, 5)
        >>> cube.values("pred", sample=[0, 2]).shape
        (2, 2, 2)
        """
        if name not in self._arrays.names:
            raise KeyError(f"unknown array {name!r}; valid: {list(self._arrays.names)}")
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
        """The size of each dimension: ``{"model": M, "layer": L, "condition": K, "sample": N}``."""
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
        """Position of a model given by name or position (:meth:`Coords.index`)."""
        return self.coords.index("model", model)

    def layer_index(self, layer: str | int) -> int:
        """Position of a layer given by name or position (:meth:`Coords.index`)."""
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
        """Per-sample arrays of one (model, layer, condition) cell; one file read when opened.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> random_cube(n=5).slice(model="model1", sparsity=0.5).angle.shape
        (5,)
        """
        mi, li = self.model_index(model), self.layer_index(layer)
        ki = self.condition_index(sparsity, benchmark, severity)
        return self.cell(mi, li, ki)

    def cell(self, model: int, layer: int, condition: int) -> CubeSlice:
        """The cell at positions ``(model, layer, condition)``, as :meth:`slice` gives it.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> cube = random_cube(n=5)
        >>> bool((cube.cell(1, 2, 0).norm == cube.norm[1, 2, 0]).all())
        True
        """
        model, layer, condition = (
            _positions("GeometryCube.cell", name, [value], size, one=value)[0]
            for name, value, size in (("model", model, len(self.models)),
                                      ("layer", layer, len(self.layers)),
                                      ("condition", condition, len(self.conditions))))
        arrays = self._arrays.cell(model, layer, condition, list(self._arrays.names))
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

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> random_cube(n=5).sel(model="model0", layer=[0, 2], sample=[1, 3]).shape
        {'model': 1, 'layer': 2, 'condition': 2, 'sample': 2}
        """
        mi = self._pick(model, self.model_index, len(self.models))
        li = self._pick(layer, self.layer_index, len(self.layers))
        ki = self.find_conditions(sparsity, benchmark, severity)
        if not ki:
            raise KeyError("the selection keeps no condition")
        si = self._samples(sample)
        at = {"model": mi, "layer": li, "condition": ki, "sample": si}
        return GeometryCube(
            models=[self.models[i] for i in mi],
            layers=[self.layers[i] for i in li],
            conditions=[self.conditions[i] for i in ki],
            labels=self.labels[si],
            class_names=self.class_names,
            sample_ids=self.sample_ids[si],
            model_info=[self.model_info[i] for i in mi],
            dataset=self.dataset,
            **self._optional_values(at),
            **{name: self.values(name, mi, li, ki, si) for name in ARRAYS},
        )

    @property
    def sparsity_values(self) -> np.ndarray:
        """The sparsity of each condition, float ``[K]``."""
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
        """The paper's table: per (model, sparsity), r between (angle, norm, margin) and the
        target.

        See :func:`geowidget.analysis.scores.correlations` for the arguments and the table.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> table = random_cube(corruptions=("fog",)).correlations(ci=None)
        >>> table.index.names
        FrozenList(['model', 'sparsity'])
        """
        from geowidget.analysis.scores import correlations

        return correlations(self, target=target, **kwargs)

    def scores(self, sparsity: float | Sequence[float] | None = 0.0) -> Any:
        """Per-sample scores, one row per (model, sparsity, sample): a pandas DataFrame.

        See :func:`geowidget.analysis.scores.score_table` for the columns and the argument.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> random_cube(sparsities=(0, 0.5), corruptions=("fog",), n=4).scores().shape
        (8, 9)
        """
        from geowidget.analysis.scores import score_table

        return score_table(self, sparsity=sparsity)

    # ------------------------------------------------------------------ tables and files
    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """Long format: one row per (model, layer, condition, sample).

        Parameters
        ----------
        columns : list of str, optional
            Arrays to include (default all of ``LAYER_METRICS`` and ``OUTPUTS``); an opened
            cube reads only these. The coordinates (model, layer, sparsity, benchmark,
            severity, sample, label) are always there.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> random_cube(n=5).to_pandas(columns=["margin"]).shape  # 2 x 3 x 2 x 5 rows
        (60, 8)
        """
        import pandas as pd

        if isinstance(columns, str):  # one column, not its letters
            columns = [columns]
        valid = list(self._arrays.names)
        names = valid if columns is None else list(columns)
        if unknown := [c for c in names if c not in valid]:
            raise KeyError(f"unknown column(s) {unknown} in the 'columns' parameter of "
                           f"GeometryCube.to_pandas (got {describe(columns)}); valid: {valid}")
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
        at = {"model": mi, "layer": li, "condition": ki, "sample": si}

        def long(value: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
            """One row per (model, layer, condition, sample): repeated along missing dims."""
            if dims == DIMS:  # already in row order
                return np.asarray(value).ravel()
            return np.asarray(value)[tuple(at[d] for d in dims)]

        for name in names:
            table[name] = long(self.values(name), array_dims(name))
        for spec in OPTIONAL:  # the keyed ones (layer_pred is among the arrays above)
            if spec.column is None or not spec.keyed:
                continue
            dims = tuple(d for d in spec.dims if d != "xy")
            for key, value in getattr(self, spec.name).items():
                for axis, col in enumerate(spec.columns(key)):
                    table[col] = long(value[..., axis] if "xy" in spec.dims else value, dims)
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

        Examples
        --------
        >>> cube.save("runs/mnist-cube")                             # doctest: +SKIP
        """
        from geowidget.cube_format import CubeReader, CubeWriter
        from geowidget.filesystem import location, resolve

        path = location(path, "GeometryCube.save", "path")
        with CubeWriter(path, self._meta()) as writer:
            writer.write_samples(self.labels, self.sample_ids)
            for spec in OPTIONAL:  # layer_pred goes with the partitions
                value = None if spec.partitioned else getattr(self, spec.name)
                if spec.keyed:
                    for key, v in value.items():
                        writer.write_array(spec.name, v, key)
                elif value is not None:
                    writer.write_array(spec.name, value)
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
        if isinstance(self._arrays, DatasetArrays):
            fs, root = resolve(path)
            source = self._arrays.reader
            if (fs.type_name, root) == (source.fs.type_name, source.root):
                # saved onto its own source: read on from the new files (the same values)
                reader = CubeReader(path)
                self._arrays = DatasetArrays(reader, self.layers)
                if self._optional["images"] is source:
                    self._optional["images"] = reader

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

        Examples
        --------
        >>> cube = GeometryCube.open("runs/mnist-cube")              # doctest: +SKIP
        >>> cube.slice(model=0, sparsity=0.5).margin.shape           # doctest: +SKIP
        (1500,)
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
        cube._arrays = DatasetArrays(reader, cube.layers)
        cube._optional = {  # the thumbnails are mapped when first asked for
            spec.name: (reader if meta.get("images") is not None else None)
            if spec.name == "images" else reader.read_optional(spec.name)
            for spec in OPTIONAL if not spec.partitioned}
        return cube

    @classmethod
    def from_arrays(
        cls,
        coords: Coords,
        labels: Any,
        class_names: Sequence[str],
        *,
        sample_ids: Any = None,
        model_info: Sequence[dict[str, Any]] | None = None,
        dataset: str = "",
        **arrays: Any,
    ) -> GeometryCube:
        """A cube in memory from its coordinates and any subset of its arrays.

        The layer metrics and ``logit_margin`` that are not given are NaN. ``pred`` is
        required: a prediction has no "missing" value (and a cube's predictions must be
        class indices to be saved). ``correct`` is derived as ``pred == labels`` when not
        given, and refused when given and different. The optional arrays of the registry
        (``layer_pred``, ``probe_accuracy``, ``projections``, ``adversarial``, ``images``)
        are absent unless given.

        Parameters
        ----------
        coords : Coords
            Models, layers and conditions.
        labels : array of int ``[N]``
            True classes, in ``[0, len(class_names))``.
        class_names : list of str
        sample_ids, model_info, dataset
            As in the constructor.
        **arrays
            Any of ``angle``, ``angle_pred``, ``avh``, ``angle_gap``, ``norm``, ``margin``
            (``[M, L, K, N]``), ``pred`` (required), ``correct``, ``logit_margin``
            (``[M, K, N]``) and the optional arrays; a wrong shape raises ``ValueError``
            naming the array, its shape and the expected one.

        Returns
        -------
        GeometryCube

        Examples
        --------
        >>> import numpy as np
        >>> coords = Coords(["a"], ["penultimate"], [Condition()])
        >>> cube = GeometryCube.from_arrays(coords, [0, 1, 1], ["x", "y"],
        ...                                 pred=np.array([[[0, 1, 0]]]))
        >>> cube.correct.tolist(), bool(np.isnan(cube.angle).all())
        ([[[True, True, False]]], True)
        """
        if not isinstance(coords, Coords):
            raise invalid("GeometryCube.from_arrays", "coords", "a geowidget.coords.Coords",
                          coords, f"it is a {type(coords).__name__}")
        valid = [*ARRAYS, *(spec.name for spec in OPTIONAL)]
        if unknown := sorted(set(arrays) - set(valid)):
            raise TypeError(f"GeometryCube.from_arrays got unknown array(s) {unknown}; "
                            f"valid: {valid}")
        if arrays.get("pred") is None:
            raise TypeError("GeometryCube.from_arrays needs 'pred' (int [M, K, N]): "
                            "predictions cannot be filled in; 'correct' is derived from it")
        (m, ly, k), n = coords.shape, len(np.asarray(labels))
        shapes = {"model": m, "layer": ly, "condition": k, "sample": n}
        pred = _as_shape("pred", arrays["pred"], tuple(shapes[d] for d in array_dims("pred")),
                         np.int32)
        derived = pred == np.asarray(labels, dtype=np.int32)
        if arrays.get("correct") is None:
            arrays["correct"] = derived
        elif not np.array_equal(_as_shape("correct", arrays["correct"], pred.shape, np.bool_),
                                derived):
            raise ValueError("GeometryCube.from_arrays: 'correct' disagrees with pred == labels "
                             f"at {int((np.asarray(arrays['correct']) != derived).sum())} "
                             "entries; leave it out to derive it")
        for name in (*LAYER_METRICS, "logit_margin"):
            if arrays.get(name) is None:
                arrays[name] = np.full(tuple(shapes[d] for d in array_dims(name)), np.nan,
                                       np.float32)
        return cls(models=coords.models, layers=coords.layers, conditions=coords.conditions,
                   labels=labels, class_names=class_names, sample_ids=sample_ids,
                   model_info=model_info, dataset=dataset, **arrays)

    def replace(self, **changes: Any) -> GeometryCube:
        """A cube in memory with some constructor arguments changed (and checked again).

        Examples
        --------
        >>> renamed = cube.replace(models=["a", "b"])                # doctest: +SKIP
        """
        kwargs = {name: getattr(self, name) for name in (
            "models", "layers", "conditions", "labels", "class_names", "sample_ids",
            "model_info", "dataset")}
        kwargs.update(self._optional_values())
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
        """This cube in memory (an opened cube reads all of its arrays).

        Examples
        --------
        >>> in_memory = GeometryCube.open("runs/mnist-cube").load()  # doctest: +SKIP
        """
        if not isinstance(self, GeometryCube):  # GeometryCube.load("folder"): a common guess
            raise TypeError(f"GeometryCube.load() reads an opened cube into memory and takes no "
                            f"path (got {self!r}); open a saved cube folder with "
                            f"GeometryCube.open(path)")
        return self.sel()

    def to_parquet(self, path: str) -> None:
        """Write one Parquet file: the long table plus the metadata for a lossless round trip.

        For small cubes: the labels, sample ids and thumbnails go into the schema metadata.
        Large cubes go to a partitioned dataset with :meth:`save`. See
        :func:`geowidget.cube_format.write_parquet`.

        Examples
        --------
        >>> cube.to_parquet("small-cube.parquet")                    # doctest: +SKIP
        """
        from geowidget.cube_format import write_parquet

        write_parquet(self, path)

    @classmethod
    def from_parquet(cls, path: str) -> GeometryCube:
        """Read a file written by :meth:`to_parquet`.

        Every way a file can be broken (truncated, not Parquet, metadata that is not JSON,
        misses a field or disagrees with the rows, a column of the wrong type) raises a
        ``ValueError`` that names the file.

        Examples
        --------
        >>> cube = GeometryCube.from_parquet("small-cube.parquet")   # doctest: +SKIP
        """
        from geowidget.cube_format import read_parquet

        return read_parquet(path, cls)

    # ------------------------------------------------------------------ assembly
    @classmethod
    def concat_models(cls, cubes: Iterable[GeometryCube]) -> GeometryCube:
        """Stack cubes that share layers, conditions and samples along the model axis.

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> a, b = random_cube(models=["a"]), random_cube(models=["b", "c"], seed=1)
        >>> GeometryCube.concat_models([a, b]).models
        ['a', 'b', 'c']
        """
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
        optional = {}
        for spec in OPTIONAL:
            values = [getattr(c, spec.name) for c in cubes]
            if "model" not in spec.dims:  # shared by every model (the samples are the same)
                optional[spec.name] = values[0]
            elif spec.keyed:  # a key some cubes lack is NaN for their models
                keys = dict.fromkeys(key for v in values for key in v)
                optional[spec.name] = {key: np.concatenate([
                    v.get(key, spec.missing(c.shape)) for c, v in zip(cubes, values, strict=True)])
                    for key in keys}
            elif any(v is not None for v in values):
                optional[spec.name] = np.concatenate([
                    c._stand_in(spec.name) if v is None else v
                    for c, v in zip(cubes, values, strict=True)])
        return cls(
            models=[m for c in cubes for m in c.models],
            layers=first.layers,
            conditions=first.conditions,
            labels=first.labels,
            class_names=first.class_names,
            sample_ids=first.sample_ids,
            model_info=[i for c in cubes for i in c.model_info],
            dataset=first.dataset,
            **optional,
            **{name: np.concatenate([c.values(name) for c in cubes]) for name in ARRAYS},
        )

    def _stand_in(self, name: str) -> np.ndarray:
        """What optional array ``name`` is in this cube, which lacks it: the model's head
        predicts at every layer of a cube without probe layers; NaN otherwise."""
        if name == LAYER_PRED:
            return np.repeat(self.pred[:, None], len(self.layers), 1)
        return optional(name).missing(self.shape)

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

        Examples
        --------
        >>> from geowidget.testing import random_cube
        >>> cube = random_cube()
        >>> cube.equals(cube.sel()), cube.equals(cube.replace(dataset="other"))
        (True, False)
        """
        same = (self.models == other.models and self.layers == other.layers
                and self.conditions == other.conditions and self.class_names == other.class_names
                and self.model_info == other.model_info and self.dataset == other.dataset)
        if not same or self._arrays.names != other._arrays.names:
            return False
        for spec in OPTIONAL:  # the partitioned ones are compared with the arrays below
            if spec.partitioned:
                continue
            a, b = getattr(self, spec.name), getattr(other, spec.name)
            if not spec.keyed:
                a, b = {"": a}, {"": b}
            if list(a) != list(b) or not all(
                    _same_array(_array(v), _array(b[key]), rtol, atol) for key, v in a.items()):
                return False
        for a, b in ((self.labels, other.labels), (self.sample_ids, other.sample_ids)):
            if not _same_array(a, b):
                return False
        m, k = len(self.models), len(self.conditions)
        for mi in range(m):  # one model and condition at a time: bounded memory when opened
            for ki in range(k):
                for name in self._arrays.names:
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


def _array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value)


def _as_shape(name: str, value: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape} "
                         f"({', '.join(array_dims(name))})")
    return arr.astype(dtype, copy=False)


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
