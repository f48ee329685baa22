"""Slabs: what a slab view shows, built from a cube or from plain arrays, and its cell picks.

A :class:`Slab` is per-sample arrays over (model, layer, condition, sample), labelled by one
:class:`~geowidget.coords.Coords`. It never holds the whole cube: it reads one (model, layer,
condition) cell at a time through :meth:`Slab.cell`, so a cube opened lazily from disk stays
on disk until a cell is asked for. :meth:`Slab.full` gathers every cell, and a view calls it
only when the slab fits in its byte budget.

Slab arrays and their dimensions (the browser slices them the same way):

- ``angle``, ``angle_pred``, ``norm``, ``margin``: float32, dims ``mlkn`` ``[M, L, K, N]``;
- ``pred``: int32, dims ``mkn`` ``[M, K, N]`` (the model's, from the logits); from a cube with
  probe layers dims ``mlkn``, each layer's own prediction (its probe's at a probe layer), so
  that "pred" and "correct" at a probe layer are the probe's;
- any extra per-cell array a view adds (e.g. a custom colour ``[M, L, K, N]``).

Plain arrays ``[N]`` become a slab with ``M = L = K = 1``. The slab views share the rest:
the keywords that pick their first cell (:data:`CELL_PARAMS`, resolved by :func:`pick_cell`
through the slab's Coords, as ``cube.slice`` resolves them), the plain-array keywords
(:data:`ARRAY_KEYWORDS`, read by :func:`build_slab`), and the per-(model, sparsity)
robustness they colour by (:func:`robustness_of`, :func:`robustness_shown`; on a live cube
computed on demand, :class:`LiveRobustness`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geowidget._validation import POSITIVE_INT, Interval
from geowidget.coords import CONDITION_CONSTRAINTS, Condition, Coords
from geowidget.widgets.codec import as_numpy
from geowidget.widgets.data import check_points
from geowidget.widgets.livecells import Refresh, Sweep, is_live, outputs_computed

__all__ = ["ADVERSARIAL", "ARRAY_KEYWORDS", "CELL_PARAMS", "DIMS", "SLAB_METRICS",
           "LiveRobustness", "Slab", "build_slab", "pick_cell", "robustness_of",
           "robustness_shown", "slab_from_arrays", "slab_from_cube"]

SLAB_METRICS = ("angle", "angle_pred", "norm", "margin")
DIMS = ("mlkn", "mkn")
ADVERSARIAL = "adversarial"  # the per-cell array of a cube's adversarial distances

# the constructor parameters of the views that pick a cell (one value each), and the budget
CELL_PARAMS: dict[str, list] = {
    "model": [None, str, Interval(int, 0, None)],
    "layer": [None, str, Interval(int, 0, None)],
    **{name: constraints[:2] for name, constraints in CONDITION_CONSTRAINTS.items()},
    "budget": POSITIVE_INT,
}
# the plain-array keywords of the slab views, and `thumbnails` (send the images or not)
ARRAY_KEYWORDS = ("angle", "norm", "margin", "labels", "pred", "angle_pred", "class_names",
                  "sample_ids", "images", "thumbnails")


@dataclass
class Slab:
    """Per-sample geometry over (model, layer, condition, sample), read one cell at a time.

    ``coords`` (a :class:`~geowidget.coords.Coords`) labels the models, layers and
    conditions and answers every lookup of them. ``cube`` (a GeometryCube) or ``arrays``
    (name -> full array, see the module doc) is the source of the slab arrays; ``extra`` adds
    per-cell arrays as name -> (dims, array).
    """

    coords: Coords
    class_names: list[str]
    labels: np.ndarray  # int32 [N]
    sample_ids: np.ndarray  # int64 [N]
    model_info: list[dict[str, Any]] = field(default_factory=list)
    images: np.ndarray | None = None  # uint8 [N, H, W] or [N, H, W, 3]
    cube: Any = None
    arrays: dict[str, np.ndarray] | None = None
    extra: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    # slab arrays the caller did not give, held here as placeholders: name -> what the browser
    # puts in their place ("nan", "labels", or another slab array's name); never sent
    stand_ins: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (*self.coords.shape, len(self.labels))

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def layered_pred(self) -> bool:
        """Whether ``pred`` is per layer: the cube has probe layers."""
        return self.cube is not None and self.arrays is None and self.cube.has_layer_pred

    def probe_accuracy(self) -> list | None:
        """The held-out accuracy of each layer's probe ``[M][L][K]`` (None where a layer has
        none), for the views' layer labels; None when the slab has no probe layers."""
        acc = None if self.cube is None else self.cube.probe_accuracy
        if acc is None:
            return None
        return [[[None if np.isnan(v) else round(float(v), 4) for v in row] for row in block]
                for block in np.asarray(acc)]

    def dims(self) -> dict[str, str]:
        """Every slab array's name and dimensions, in wire order."""
        out = {name: "mlkn" for name in SLAB_METRICS}
        out["pred"] = "mlkn" if self.layered_pred else "mkn"
        out.update({name: dims for name, (dims, _) in self.extra.items()})
        return out

    def nbytes(self) -> int:
        """Bytes the whole slab takes on the wire (4 bytes per value)."""
        m, ly, k, n = self.shape
        size = {"mlkn": m * ly * k * n, "mkn": m * k * n}
        sent = [d for name, d in self.dims().items() if name not in self.stand_ins]
        return 4 * (sum(size[d] for d in sent) + 2 * n)

    def sent(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``arrays`` (of :meth:`cell` or :meth:`full`) without the stand-ins: what the browser
        gets."""
        return {name: a for name, a in arrays.items() if name not in self.stand_ins}

    def check_cell(self, m: int, ly: int, k: int) -> None:
        mm, ll, kk, _ = self.shape
        if not (0 <= m < mm and 0 <= ly < ll and 0 <= k < kk):
            raise IndexError(f"cell ({m}, {ly}, {k}) is out of range for [M, L, K] = "
                             f"{[mm, ll, kk]}")

    def cell(self, m: int, ly: int, k: int) -> dict[str, np.ndarray]:
        """The slab arrays of one (model, layer, condition) cell, each ``[N]`` (views when the
        data is in memory; one read when the cube is on disk)."""
        self.check_cell(m, ly, k)
        if self.arrays is not None:
            out = {name: self.arrays[name][m, ly, k] for name in SLAB_METRICS}
            out["pred"] = self.arrays["pred"][m, k]
        else:
            s = self.cube.cell(m, ly, k)  # one partition file when the cube was opened lazily
            out = {name: getattr(s, name) for name in SLAB_METRICS}
            out["pred"] = s.pred if self.layered_pred else s.pred_model
        for name, (dims, arr) in self.extra.items():
            out[name] = arr[m, ly, k] if dims == "mlkn" else arr[m, k]
        return out

    def full(self) -> dict[str, np.ndarray]:
        """Every slab array whole (``[M, L, K, N]`` or ``[M, K, N]``); call it only when the
        slab fits in memory and on the wire."""
        src = self.arrays if self.arrays is not None else {
            name: self.cube.values(name) for name in SLAB_METRICS}
        if self.arrays is None:
            src["pred"] = self.cube.values("layer_pred" if self.layered_pred else "pred")
        out = {name: src[name] for name in (*SLAB_METRICS, "pred")}
        out.update({name: arr for name, (_, arr) in self.extra.items()})
        return out


def slab_from_cube(cube: Any) -> Slab:
    """A slab that reads ``cube`` (a :class:`~geowidget.cube.GeometryCube`) one cell at a time."""
    check_points(len(cube.labels))
    # the adversarial distance (the cube's first norm) travels with each cell, like a metric
    first = next(iter(cube.adversarial.values()), None)
    adversarial = {} if first is None else {ADVERSARIAL: ("mkn", first)}
    return Slab(
        coords=cube.coords,
        class_names=list(cube.class_names),
        labels=np.asarray(cube.labels, dtype=np.int32),
        sample_ids=np.asarray(cube.sample_ids, dtype=np.int64),
        model_info=list(cube.model_info),
        images=cube.images,
        cube=cube,
        extra=adversarial,
    )


def _vector(name: str, value: Any, n: int | None) -> np.ndarray:
    arr = as_numpy(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per sample), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but angle has {n}; lengths must match")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


def _classes(name: str, value: np.ndarray) -> np.ndarray:
    if value.dtype.kind == "f":
        finite = value[np.isfinite(value)]
        if finite.size != value.size or np.any(finite != np.round(finite)):
            raise TypeError(f"{name} must hold integer class indices, got non-integer values "
                            f"e.g. {value[(~np.isfinite(value)) | (value != np.round(value))][:3]}")
    elif value.dtype.kind not in "iub":
        raise TypeError(f"{name} must be integers, got dtype {value.dtype}")
    if value.size and value.min() < 0:
        raise ValueError(f"{name} must be class indices >= 0, got {value.min()} "
                         f"(at position {int(np.argmin(value))})")
    return value.astype(np.int64)


def _angles(name: str, value: np.ndarray) -> np.ndarray:
    finite = value[np.isfinite(value)]
    if finite.size and (finite.min() < 0 or finite.max() > np.pi + 1e-6):
        hint = (" (these look like degrees: pass np.radians(...))"
                if finite.max() <= 180 + 1e-6 and finite.min() >= 0 else "")
        raise ValueError(f"{name} must be radians in [0, pi], got values in "
                         f"[{finite.min():.4g}, {finite.max():.4g}]{hint}")
    return value


def slab_from_arrays(
    *,
    angle: Any,
    norm: Any,
    margin: Any = None,
    labels: Any = None,
    pred: Any = None,
    angle_pred: Any = None,
    class_names: list[str] | None = None,
    sample_ids: Any = None,
    images: Any = None,
) -> Slab:
    """Build a one-cell slab from per-sample vectors ``[N]``.

    Parameters
    ----------
    angle, norm : array-like [N]
        Angle to the class direction (radians, in [0, pi]) and feature length (>= 0). NaN
        marks a sample without a value.
    margin : array-like [N], optional
        Signed margin; NaN when not given.
    labels, pred : array-like of int [N], optional
        True and predicted classes (>= 0); zeros and ``labels`` when not given.
    angle_pred : array-like [N], optional
        Angle to the predicted class direction (radians); defaults to ``angle``.
    class_names : list of str, optional
        Defaults to ``"0", "1", ...`` up to the largest label.
    sample_ids : array-like of int [N], optional
        Unique ids; defaults to ``0..N-1``.
    images : uint8 array [N, H, W] or [N, H, W, 3], optional
        Thumbnails.
    """
    a = as_numpy(angle)
    check_points(a.shape[0] if a.ndim else 0)
    a = _angles("angle", _vector("angle", a, None))
    n = a.shape[0]
    rho = _vector("norm", norm, n)
    if np.any(rho < 0):
        raise ValueError(f"norm must be lengths >= 0, got {rho[rho < 0][:3].tolist()} "
                         f"(at positions {np.flatnonzero(rho < 0)[:3].tolist()})")
    m = np.full(n, np.nan, np.float32) if margin is None else _vector("margin", margin, n)
    for name, values in (("norm", rho), ("margin", m)):  # an infinity would span the colour
        if np.isinf(values).any():                       # and radius ranges alone
            at = np.flatnonzero(np.isinf(values))
            raise ValueError(f"{name} must be finite (NaN marks a missing value), got "
                             f"{values[at][:3].tolist()} at positions {at[:3].tolist()} "
                             f"({at.size} infinite)")
    lab = np.zeros(n, np.int64) if labels is None else _classes("labels",
                                                                _vector("labels", labels, n))
    prd = lab if pred is None else _classes("pred", _vector("pred", pred, n))
    ap = a if angle_pred is None else _angles("angle_pred", _vector("angle_pred", angle_pred, n))
    n_classes = int(max(lab.max(initial=-1), prd.max(initial=-1)) + 1)
    if class_names is None:
        class_names = [str(i) for i in range(max(n_classes, 1))]
    class_names = [str(c) for c in class_names]
    if n_classes > len(class_names):
        raise ValueError(
            f"labels or pred go up to {n_classes - 1} but only {len(class_names)} class_names "
            f"were given; pass one name per class"
        )
    ids = np.arange(n, dtype=np.int64) if sample_ids is None else _vector("sample_ids",
                                                                          sample_ids, n)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"sample_ids must be integers, got dtype {ids.dtype}")
    img = None
    if images is not None:
        img = as_numpy(images)
        if img.dtype != np.uint8 or img.shape[0] != n or img.ndim not in (3, 4):
            raise ValueError(
                f"images must be uint8 [N, H, W] or [N, H, W, 3] with N={n}, got {img.dtype} "
                f"{img.shape}"
            )

    def cell(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32).reshape(1, 1, 1, n)

    stand_ins = {name: how for name, how, given in (("margin", "nan", margin),
                                                     ("pred", "labels", pred),
                                                     ("angle_pred", "angle", angle_pred))
                 if given is None}

    return Slab(
        coords=Coords(["model"], ["layer"], [Condition()]),
        class_names=class_names,
        labels=lab.astype(np.int32),
        sample_ids=np.asarray(ids, dtype=np.int64),
        arrays={"angle": cell(a), "angle_pred": cell(ap), "norm": cell(rho), "margin": cell(m),
                "pred": np.asarray(prd, dtype=np.int32).reshape(1, 1, n)},
        images=img,
        stand_ins=stand_ins,
    )


def pick_cell(coords: Coords, model: str | int | None = None, layer: str | int | None = None,
              sparsity: float | None = None, benchmark: str | None = None,
              severity: int | None = None) -> dict[str, int]:
    """The ``model``, ``layer`` and ``condition`` positions a view starts at.

    Names and positions are resolved by ``coords`` exactly as ``cube.slice`` resolves them:
    the first model, the default layer (:attr:`Coords.default_layer`) and the first condition
    unless given; a condition from ``sparsity`` (default 0, matched within
    ``SPARSITY_TOL``), ``benchmark`` (default ``"clean"``) and ``severity`` (needed only when
    several match).

    Raises
    ------
    KeyError
        An unknown name or position, or a condition that is missing or ambiguous, naming the
        valid ones.
    """
    out = {"model": 0 if model is None else coords.index("model", model),
           "layer": coords.default_layer if layer is None else coords.index("layer", layer),
           "condition": 0}
    if sparsity is not None or benchmark is not None or severity is not None:
        out["condition"] = coords.condition(0.0 if sparsity is None else sparsity,
                                            "clean" if benchmark is None else benchmark,
                                            severity)
    return out


def build_slab(data: Any, kwargs: dict[str, Any]) -> Slab:
    """A slab from a GeometryCube or from the plain-array keyword arguments (consumed); a
    slab already built (a view built on another's) is taken as it is."""
    if isinstance(data, Slab):
        return data
    given = {k: kwargs.pop(k) for k in ARRAY_KEYWORDS[:-1] if k in kwargs}
    thumbnails = kwargs.pop("thumbnails", True)
    if data is not None:
        from geowidget.cube import GeometryCube

        if not isinstance(data, GeometryCube):
            raise TypeError(
                f"the first argument must be a GeometryCube, got {type(data).__name__}; "
                "for plain arrays pass angle=..., norm=..., labels=... as keywords"
            )
        if given:
            raise ValueError(f"pass either a GeometryCube or arrays, not both (got {sorted(given)})")
        slab = slab_from_cube(data)
    elif "angle" not in given or "norm" not in given:
        raise ValueError("pass a GeometryCube, or at least angle=... and norm=... arrays")
    else:
        slab = slab_from_arrays(**given)
    if not thumbnails:
        slab.images = None
    return slab


def robustness_of(cube: Any, benchmark: str | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Per-sample robustness of every (model, sparsity) for the views, or None when the cube
    has no corrupted condition.

    Returns ``(values, levels)``: float32 ``[M, S, N]`` over the cube's sparsity levels (see
    :func:`geowidget.analysis.scores.robustness_by_sparsity`; NaN at a level without
    corruptions, optionally of one ``benchmark``), and the meta the browser reads them with:
    ``{"sparsities": [S], "level": [K] (condition k shows level level[k]), "evaluated": [S]}``.
    A view at condition k thus shows the robustness of the model at k's own sparsity.

    On a live cube nothing is computed: a (model, sparsity) has its robustness when the outputs
    of every corrupted condition it averages over are computed (NaN until then), and
    ``levels["computed"]`` (``[M][S]`` bools) says which; :class:`LiveRobustness` computes
    the shown one's on demand.
    """
    if cube is None or not cube.corruptions:
        return None
    from geowidget.analysis.scores import (
        condition_levels,
        robustness_by_sparsity,
        robustness_conditions,
        robustness_of_model,
    )

    levels = condition_levels(cube)
    meta: dict[str, Any] = {"sparsities": levels,
                            "level": [levels.index(c.sparsity) for c in cube.conditions]}
    if not is_live(cube):
        values = robustness_by_sparsity(cube, benchmark=benchmark).astype(np.float32)
        meta["evaluated"] = [bool(np.isfinite(values[:, j]).any()) for j in range(len(levels))]
        return values, meta
    done = outputs_computed(cube)
    values = np.full((len(cube.models), len(levels), len(cube.labels)), np.nan, np.float32)
    have = np.zeros(values.shape[:2], bool)
    meta["evaluated"] = []
    for j, s in enumerate(levels):
        idx = robustness_conditions(cube, s, benchmark)
        meta["evaluated"].append(bool(idx))
        for m in range(len(cube.models)):
            if idx and done[m, idx].all():
                values[m, j] = robustness_of_model(cube, m, s, benchmark)
                have[m, j] = True
    meta["computed"] = have.tolist()
    return values, meta


class LiveRobustness:
    """A view's robustness (a colour, axes) on a live cube, computed on demand.

    While ``wanted(view)`` is true, every pick of a model or condition asks the cube's request
    worker (:class:`~geowidget.widgets.livecells.Sweep`) for the cells the shown (model,
    sparsity)'s robustness averages over (every corrupted condition at that sparsity, at the
    shown layer), and the view's arrays ``keys`` (name -> benchmark, None for every
    corruption; see :func:`robustness_of`) and ``robust_levels`` are sent anew as they arrive,
    with ``robust_levels["computing"]`` the number of cells still asked for and
    ``["failed"]`` the first error.

    Parameters
    ----------
    view : SlabView
    keys : dict of str to str or None
    wanted : callable
        ``wanted(view)``: whether the view shows robustness now.
    """

    def __init__(self, view: Any, keys: dict[str, str | None], wanted: Any) -> None:
        self._view, self._keys, self._wanted = weakref.ref(view), keys, wanted
        self._cube = view._slab.cube
        self._lock = threading.Lock()
        self._refresh = Refresh(self._cube, self, "update")
        self._sweep = Sweep(view, self._cube, "robustness", self._refresh.schedule)
        view.observe(self.ask, ["model", "condition"])
        self.ask()

    def ask(self, _change: Any = None) -> None:
        """Ask for the shown (model, sparsity)'s cells, when the view shows robustness."""
        from geowidget.analysis.scores import robustness_conditions

        view = self._view()
        if view is None or not self._wanted(view):
            return
        sparsity = self._cube.conditions[view.condition].sparsity
        live = self._cube.live  # the outputs are what robustness reads
        self._sweep.ask([(view.model, view.layer, k)
                         for k in robustness_conditions(self._cube, sparsity)],
                        ready=lambda m, _ly, k: live.has_outputs(m, k))
        self.update()

    def update(self) -> None:
        """Send the robustness of the (model, sparsity) pairs computed so far."""
        view = self._view()
        if view is None:
            return
        with self._lock:
            arrays, levels = {}, None
            for key, benchmark in self._keys.items():
                arrays[key], levels = robustness_of(self._cube, benchmark)  # type: ignore[misc]
            assert levels is not None
            levels["computing"] = len(self._sweep.pending)
            levels["failed"] = next(iter(self._sweep.failed.values()), "")
            with view.hold_sync():
                view._meta = {**view._meta, "robust_levels": levels}
                view._arrays = {**view._arrays, **arrays}


def robustness_shown(view: Any, key: str) -> np.ndarray:
    """A robustness array a view sent (``[M, S, N]``, see :func:`robustness_of`) at its shown
    model and condition: ``[N]``, the robustness at the shown condition's sparsity."""
    level = view._meta["robust_levels"]["level"][view.condition]
    return np.asarray(view._arrays[key])[view.model, level]
