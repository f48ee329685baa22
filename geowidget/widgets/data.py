"""Input handling shared by the sample views: a cube or plain arrays become one labelled slab.

A :class:`Slab` is what a slab view (polar, histogram, parallel coordinates) shows: per-sample
arrays over (model, layer, condition, sample). It never holds the whole cube: it reads one
(model, layer, condition) cell at a time through :meth:`Slab.cell`, so a cube opened lazily
from disk stays on disk until a cell is asked for. :meth:`Slab.full` gathers every cell, and a
view calls it only when the slab fits in its byte budget.

Slab arrays and their dimensions (the browser slices them the same way):

- ``angle``, ``angle_pred``, ``norm``, ``margin``: float32, dims ``mlkn`` ``[M, L, K, N]``;
- ``pred``: int32, dims ``mkn`` ``[M, K, N]`` (the model's, from the logits); from a cube with
  probe layers dims ``mlkn``, each layer's own prediction (its probe's at a probe layer), so
  that "pred" and "correct" at a probe layer are the probe's;
- any extra per-cell array a view adds (e.g. a custom colour ``[M, L, K, N]``).

Plain arrays ``[N]`` become a slab with ``M = L = K = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geowidget.widgets.codec import as_numpy

MAX_POINTS = 2**24
SLAB_METRICS = ("angle", "angle_pred", "norm", "margin")
DIMS = ("mlkn", "mkn")


ADVERSARIAL = "adversarial"  # the per-cell array of a cube's adversarial distances


@dataclass
class Slab:
    """Per-sample geometry over (model, layer, condition, sample), read one cell at a time.

    ``cube`` (a GeometryCube) or ``arrays`` (name -> full array, see the module doc) is the
    source of the slab arrays; ``extra`` adds per-cell arrays as name -> (dims, array).
    """

    models: list[str]
    layers: list[str]
    conditions: list[dict[str, Any]]
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
        return (len(self.models), len(self.layers), len(self.conditions), len(self.labels))

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


class IdIndex:
    """Sample ids of a view, indexed so a selection of millions is checked in linear time.

    When the ids span a range no wider than a few times their count (the usual case: a range
    or a subsample of one), a boolean table over ``[min, max]`` answers membership and sorts a
    selection without a comparison sort; otherwise a sorted copy and ``searchsorted`` do.
    """

    def __init__(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64).ravel()
        self.n = ids.size
        self.lo = int(ids.min()) if ids.size else 0
        span = int(ids.max()) - self.lo + 1 if ids.size else 0
        self._table: np.ndarray | None = None
        self._sorted: np.ndarray | None = None
        self._full = False
        if span <= max(4 * ids.size, 1 << 16):
            table = np.zeros(span, bool)
            table[ids - self.lo] = True
            unique = int(np.count_nonzero(table))
            self._table = table
            self._full = unique == span  # the ids are a whole range: inside it, all are known
        else:
            self._sorted = np.sort(ids)
            unique = self._sorted.size - int(np.count_nonzero(np.diff(self._sorted) == 0))
        self.duplicates = ids.size - unique

    def canonical(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``values`` (int32 or int64 ``[k]``) as sorted unique known ids (int64), and the
        unknown ones."""
        if self._table is not None:
            table = self._table
            pos = values - np.asarray(self.lo, values.dtype)  # same width: no int64 copy
            # negative positions wrap to huge unsigned ones: one comparison checks both ends
            inside = pos.view(pos.dtype.str.replace("i", "u")) < table.size
            unknown = values[:0]
            if not inside.all():
                unknown, pos = values[~inside], pos[inside]
            if not self._full:
                known = table[pos]
                if not known.all():
                    unknown = np.concatenate([unknown, pos[~known] + self.lo])
                    pos = pos[known]
            mark = np.zeros(table.size, bool)
            mark[pos] = True
            out = np.flatnonzero(mark)
            out += self.lo
            return out, unknown.astype(np.int64)
        uniq = sorted_unique(values.astype(np.int64))
        srt = self._sorted
        assert srt is not None
        at = np.minimum(np.searchsorted(srt, uniq), max(srt.size - 1, 0))
        known = srt[at] == uniq if srt.size else np.zeros(uniq.size, bool)
        return uniq[known], uniq[~known]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a 1-D int array, by one sort (numpy 2's ``np.unique`` hashes,
    which takes tens of seconds on ten million distinct ids)."""
    out = np.sort(values)
    if out.size > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def check_points(n: int) -> None:
    """Raise when a view would draw more points than the renderer can index (2**24)."""
    if n > MAX_POINTS:
        raise ValueError(
            f"{n:,} points is more than the {MAX_POINTS:,} (2**24) a view can draw; "
            "subsample first, e.g. cube.sel(sample=np.random.default_rng(0).choice(N, 1_000_000, "
            "replace=False)), or pass fewer samples"
        )


def check_sample_ids(ids: np.ndarray) -> IdIndex:
    """The index of ``ids``; raises when an id repeats (a selection could not tell them apart)."""
    index = IdIndex(ids)
    if index.duplicates:
        srt = np.sort(ids)
        dup = sorted_unique(srt[1:][srt[1:] == srt[:-1]])[:5].tolist()
        raise ValueError(f"sample_ids must be unique, got {index.duplicates} repeated id(s), "
                         f"e.g. {dup}")
    return index


def slab_from_cube(cube: Any) -> Slab:
    """A slab that reads ``cube`` (a :class:`~geowidget.cube.GeometryCube`) one cell at a time."""
    check_points(len(cube.labels))
    conditions = [
        {"label": c.label, "sparsity": float(c.sparsity), "benchmark": c.benchmark,
         "severity": int(c.severity)}
        for c in cube.conditions
    ]
    # the adversarial distance (the cube's first norm) travels with each cell, like a metric
    first = next(iter(cube.adversarial.values()), None)
    adversarial = {} if first is None else {ADVERSARIAL: ("mkn", first)}
    return Slab(
        models=list(cube.models),
        layers=list(cube.layers),
        conditions=conditions,
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
        models=["model"],
        layers=["layer"],
        conditions=[{"label": "clean@0", "sparsity": 0.0, "benchmark": "clean", "severity": 0}],
        class_names=class_names,
        labels=lab.astype(np.int32),
        sample_ids=np.asarray(ids, dtype=np.int64),
        arrays={"angle": cell(a), "angle_pred": cell(ap), "norm": cell(rho), "margin": cell(m),
                "pred": np.asarray(prd, dtype=np.int32).reshape(1, 1, n)},
        images=img,
        stand_ins=stand_ins,
    )


def sprite_atlas(images: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Pack thumbnails ``[N, H, W(, 3)]`` into one grid image, sent once to the browser.

    Returns
    -------
    atlas : uint8 array [rows * H, cols * W, C] with C = 1 or 3
    info : dict with ``cols``, ``h``, ``w``, ``channels``
        Thumbnail ``i`` sits at row ``i // cols``, column ``i % cols``.
    """
    img = np.asarray(images, dtype=np.uint8)
    if img.ndim == 3:
        img = img[..., None]
    n, h, w, c = img.shape
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // cols))
    atlas = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        atlas[r * h:(r + 1) * h, q * w:(q + 1) * w] = img[i]
    return atlas, {"cols": cols, "h": h, "w": w, "channels": c}
