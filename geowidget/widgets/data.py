"""Input handling shared by the views: a cube or plain arrays become one labelled slab.

A :class:`Slab` holds what a view sends to the browser: per-sample metrics of shape
``[M, L, K, N]`` (model, layer, condition, sample), logit outputs ``[M, K, N]``, and the
labels, sample ids, names and condition descriptors. Plain arrays ``[N]`` become a slab with
``M = L = K = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geowidget.widgets.codec import as_numpy

MAX_POINTS = 2**24
SLAB_METRICS = ("angle", "angle_pred", "norm", "margin")


@dataclass
class Slab:
    """Per-sample geometry over (model, layer, condition, sample), ready for the codec."""

    models: list[str]
    layers: list[str]
    conditions: list[dict[str, Any]]
    class_names: list[str]
    labels: np.ndarray  # int32 [N]
    sample_ids: np.ndarray  # int64 [N]
    metrics: dict[str, np.ndarray]  # name -> float32 [M, L, K, N]
    pred: np.ndarray  # int32 [M, K, N]
    model_info: list[dict[str, Any]] = field(default_factory=list)
    images: np.ndarray | None = None  # uint8 [N, H, W] or [N, H, W, 3]
    cube: Any = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.models), len(self.layers), len(self.conditions), len(self.labels))

    @property
    def n(self) -> int:
        return len(self.labels)

    def nbytes(self) -> int:
        """Bytes the whole slab takes on the wire (4 bytes per value)."""
        m, ly, k, n = self.shape
        return 4 * (len(self.metrics) * m * ly * k * n + m * k * n + 2 * n)


def check_points(n: int) -> None:
    """Raise when a view would draw more points than the renderer can index (2**24)."""
    if n > MAX_POINTS:
        raise ValueError(
            f"{n:,} points is more than the {MAX_POINTS:,} (2**24) a view can draw; "
            "subsample first, e.g. cube.sel(sample=np.random.default_rng(0).choice(N, 1_000_000, "
            "replace=False)), or pass fewer samples"
        )


def slab_from_cube(cube: Any) -> Slab:
    """Build a slab from a :class:`~geowidget.cube.GeometryCube` (no copy of the big arrays)."""
    check_points(len(cube.labels))
    conditions = [
        {"label": c.label, "sparsity": float(c.sparsity), "benchmark": c.benchmark,
         "severity": int(c.severity)}
        for c in cube.conditions
    ]
    return Slab(
        models=list(cube.models),
        layers=list(cube.layers),
        conditions=conditions,
        class_names=list(cube.class_names),
        labels=np.asarray(cube.labels, dtype=np.int32),
        sample_ids=np.asarray(cube.sample_ids, dtype=np.int64),
        metrics={name: getattr(cube, name) for name in SLAB_METRICS},
        pred=np.asarray(cube.pred, dtype=np.int32),
        model_info=list(cube.model_info),
        images=cube.images,
        cube=cube,
    )


def _vector(name: str, value: Any, n: int | None) -> np.ndarray:
    arr = as_numpy(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per sample), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but angle has {n}; lengths must match")
    return arr


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
        Angle to the class direction (radians, in [0, pi]) and feature length.
    margin : array-like [N], optional
        Signed margin; NaN when not given.
    labels, pred : array-like of int [N], optional
        True and predicted classes; zeros and ``labels`` when not given.
    angle_pred : array-like [N], optional
        Angle to the predicted class direction (radians); defaults to ``angle``.
    class_names : list of str, optional
        Defaults to ``"0", "1", ...`` up to the largest label.
    sample_ids : array-like of int [N], optional
        Defaults to ``0..N-1``.
    images : uint8 array [N, H, W] or [N, H, W, 3], optional
        Thumbnails.
    """
    a = as_numpy(angle)
    check_points(a.shape[0] if a.ndim else 0)
    a = _vector("angle", a, None)
    n = a.shape[0]
    rho = _vector("norm", norm, n)
    m = np.full(n, np.nan, np.float32) if margin is None else _vector("margin", margin, n)
    lab = np.zeros(n, np.int64) if labels is None else _vector("labels", labels, n)
    if lab.dtype.kind not in "iub":
        raise TypeError(f"labels must be integers, got dtype {lab.dtype}")
    prd = lab if pred is None else _vector("pred", pred, n)
    ap = a if angle_pred is None else _vector("angle_pred", angle_pred, n)
    n_classes = int(max(lab.max(initial=-1), prd.max(initial=-1)) + 1)
    if class_names is None:
        class_names = [str(i) for i in range(max(n_classes, 1))]
    class_names = [str(c) for c in class_names]
    if n_classes > len(class_names):
        raise ValueError(
            f"labels or pred go up to {n_classes - 1} but only {len(class_names)} class_names "
            f"were given; pass one name per class"
        )
    if lab.size and lab.min() < 0:
        raise ValueError(f"labels must be >= 0, got {lab.min()}")
    ids = np.arange(n, dtype=np.int64) if sample_ids is None else _vector("sample_ids", sample_ids, n)
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

    return Slab(
        models=["model"],
        layers=["layer"],
        conditions=[{"label": "clean@0", "sparsity": 0.0, "benchmark": "clean", "severity": 0}],
        class_names=class_names,
        labels=lab.astype(np.int32),
        sample_ids=np.asarray(ids, dtype=np.int64),
        metrics={"angle": cell(a), "angle_pred": cell(ap), "norm": cell(rho), "margin": cell(m)},
        pred=np.asarray(prd, dtype=np.int32).reshape(1, 1, n),
        images=img,
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
