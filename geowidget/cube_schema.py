"""The arrays a GeometryCube holds: the nine required ones and the registry of optional ones.

Every cube has the layer metrics (float32 ``[M, L, K, N]``) and the outputs of the logits
(``[M, K, N]``). The optional arrays are declared once, in :data:`OPTIONAL`, with their
dimensions, dtype, whether they are keyed by a method or norm, and what a cube that lacks one
contributes when cubes are stacked. The constructor, ``sel``, ``replace``, ``concat_models``,
``equals``, ``save``/``open`` and the single-file Parquet form loop over this registry, so a
new optional array is one entry here (plus its file name in :mod:`geowidget.cube_format`).

Dimensions are named ``model``, ``layer``, ``condition``, ``sample``; ``xy`` is a trailing
axis of size 2 (a 2-D position) and ``pixels`` the trailing image axes (``H, W`` or
``H, W, 3``), whose sizes are free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ARRAYS", "DIMS", "DTYPES", "LAYER_METRICS", "LAYER_PRED", "OPTIONAL", "OUTPUTS",
           "OptionalArray", "array_dims", "optional"]

LAYER_METRICS = ("angle", "angle_pred", "avh", "angle_gap", "norm", "margin")
OUTPUTS = ("pred", "correct", "logit_margin")
ARRAYS = LAYER_METRICS + OUTPUTS
LAYER_PRED = "layer_pred"
DIMS = ("model", "layer", "condition", "sample")  # of the long table, in its row order
DTYPES: dict[str, Any] = {**dict.fromkeys(LAYER_METRICS, np.float32), "pred": np.int32,
                          "correct": np.bool_, "logit_margin": np.float32,
                          LAYER_PRED: np.int32}


@dataclass(frozen=True)
class OptionalArray:
    """One optional cube array.

    Attributes
    ----------
    name : str
        The constructor keyword and cube attribute.
    dims : tuple of str
        Its dimensions (see the module doc); a keyed array has these per key.
    dtype : numpy dtype
    keyed : bool
        A dict ``{method or norm: array}`` rather than one array.
    fill : float or None
        The value a cube that lacks the array contributes in ``concat_models`` (NaN);
        None where it is derived instead (``layer_pred``: the model's ``pred`` at every
        layer) or not stacked (``images``: the samples are shared).
    partitioned : bool
        Stored in the (model, condition) partitions and read by the array backend, like
        the required arrays; otherwise the cube holds it whole (memory-mapped when opened).
    column : str or None
        The name (prefix, when keyed) of its columns in the long table
        (:meth:`GeometryCube.to_pandas`, the single-file Parquet form): ``<column>:<key>``,
        with ``:x`` and ``:y`` for a 2-D position. None: not a column (the Parquet form
        keeps it in its metadata).

    Examples
    --------
    >>> optional("adversarial").dims
    ('model', 'condition', 'sample')
    """

    name: str
    dims: tuple[str, ...]
    dtype: Any
    keyed: bool = False
    fill: float | None = float("nan")
    partitioned: bool = False
    column: str | None = None

    def shape(self, sizes: dict[str, int], value: Any = None) -> tuple[int, ...]:
        """The expected shape given the cube's ``sizes``; free axes are taken from ``value``."""
        fixed = tuple(2 if d == "xy" else sizes[d] for d in self.dims if d != "pixels")
        if "pixels" in self.dims:
            return fixed + tuple(np.shape(value)[len(fixed):])
        return fixed

    def check(self, value: Any, sizes: dict[str, int]) -> Any:
        """``value`` as this array (a dict of them when keyed), its shape checked; None stays."""
        if value is None:
            return {} if self.keyed else None
        if self.keyed:
            return {str(key): self._one(f"{self.name}[{str(key)!r}]", v, sizes)
                    for key, v in dict(value).items()}
        return self._one(self.name, value, sizes)

    def _one(self, label: str, value: Any, sizes: dict[str, int]) -> np.ndarray:
        arr = np.asarray(value)
        if self.name == "images":  # thumbnails are never cast: a float image is a mistake
            if arr.dtype != np.uint8 or arr.ndim == 0 or arr.shape[0] != sizes["sample"]:
                raise ValueError(f"images must be uint8 with {sizes['sample']} rows, got "
                                 f"{arr.dtype} {arr.shape}")
            return arr
        shape = self.shape(sizes, arr)
        if arr.shape != shape:
            raise ValueError(f"{label} has shape {arr.shape}, expected {shape} "
                             f"({', '.join(self.dims)})")
        return arr.astype(self.dtype, copy=False)

    def columns(self, key: str | None = None) -> list[str]:
        """Its long-table column names (of one key, when keyed).

        Examples
        --------
        >>> optional("projections").columns("pca")
        ['projection:pca:x', 'projection:pca:y']
        """
        base = self.column if key is None else f"{self.column}:{key}"
        return [f"{base}:{c}" for c in "xy"] if "xy" in self.dims else [base]

    def take(self, value: np.ndarray, at: dict[str, Any]) -> np.ndarray:
        """The part of ``value`` at positions ``at[dim]`` along each of its dimensions."""
        keep = [d for d in self.dims if d not in ("xy", "pixels")]
        out = value[np.ix_(*(np.asarray(at[d]) for d in keep))] if len(keep) > 1 else (
            value[np.asarray(at[keep[0]])])
        return np.asarray(out)

    def missing(self, sizes: dict[str, int]) -> np.ndarray:
        """What a cube of ``sizes`` that lacks this array stands for (``fill`` everywhere)."""
        return np.full(self.shape(sizes), self.fill, self.dtype)


OPTIONAL: tuple[OptionalArray, ...] = (
    # each layer's own prediction (a probe's at a probe layer)
    OptionalArray(LAYER_PRED, ("model", "layer", "condition", "sample"), np.int32,
                  fill=None, partitioned=True, column=LAYER_PRED),
    # held-out accuracy of each layer's probe, NaN where a layer has none
    OptionalArray("probe_accuracy", ("model", "layer", "condition"), np.float64),
    # 2-D positions of each model's clean, dense features per layer, by method
    OptionalArray("projections", ("model", "layer", "sample", "xy"), np.float32, keyed=True,
                  column="projection"),
    # adversarial distances by norm, NaN where not measured
    OptionalArray("adversarial", ("model", "condition", "sample"), np.float32, keyed=True,
                  column="adversarial"),
    # thumbnails, shared by every model
    OptionalArray("images", ("sample", "pixels"), np.uint8, fill=None),
)
_BY_NAME = {spec.name: spec for spec in OPTIONAL}


def optional(name: str) -> OptionalArray:
    """The registry entry of optional array ``name``.

    Examples
    --------
    >>> optional("projections").keyed
    True
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown optional array {name!r}; valid: {list(_BY_NAME)}") from None


def array_dims(name: str) -> tuple[str, ...]:
    """The dimensions of a required array or of ``layer_pred``.

    Examples
    --------
    >>> array_dims("pred")
    ('model', 'condition', 'sample')
    """
    if name in LAYER_METRICS or name == LAYER_PRED:
        return ("model", "layer", "condition", "sample")
    if name in OUTPUTS:
        return ("model", "condition", "sample")
    raise KeyError(f"unknown array {name!r}; valid: {[*ARRAYS, LAYER_PRED]}")
