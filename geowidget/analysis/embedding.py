"""Geometric embeddings of models (and of benchmarks), their distances, 2-D layouts and MST.

A model's *geometric embedding* is its per-sample geometry on a shared probe
set of N samples, flattened to one vector ``[t(θ), t(ρ), t(m)]`` of 3N numbers, where
``t`` is a within-point transform:

- ``"zscore"``: each feature block is standardised over the N samples (mean 0, std 1);
- ``"rank"``: each block is replaced by its ranks (ties averaged), standardised the same
  way, so that the squared euclidean distance between two blocks is ``2N (1 - ρ_s)``
  with ``ρ_s`` their Spearman correlation.

A *point* of an embedding is a model (``by="model"``), a condition (sparsity, benchmark,
severity; ``by="condition"``, one vector concatenated over all models), a
(model, condition) pair (``by="model_condition"``: pruning trajectories, or an embedding
per (model, benchmark)) or a (model, sparsity) pair whose vector concatenates its geometry
under every selected benchmark (``by="model_sparsity"``: the paper's map of pruning methods
x sparsities, each pruned model placed by how it sees every benchmark).
:func:`benchmark_similarity` turns the condition embedding into the corruption-by-corruption
similarity matrix, of the dense model or of the models pruned to one sparsity.

:func:`distances` gives euclidean or ``1 - Spearman`` distances,
:func:`~geowidget.analysis.reducer.project` (``distances=``) places the points in 2-D
(classical MDS, t-SNE or UMAP; deterministic for a seed; :func:`layout` is its deprecated
old name) and :func:`mst` returns the minimum-spanning-tree edges. Beyond ``max_points`` (2,000) points, distances
and layouts work on the first 50 principal components of the embedding, so thousands of
models stay fast.

Examples
--------
>>> emb = model_embedding(cube)                         # doctest: +SKIP
>>> d = distances(emb)                                  # doctest: +SKIP
>>> xy, edges = project(distances=d, method="mds"), mst(d)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geowidget._validation import (
    SEED,
    Array,
    Boolean,
    Instance,
    Interval,
    ListOf,
    Options,
    invalid,
    validate_params,
)
from geowidget.analysis.reducer import check_distances, classical_mds, pca, project
from geowidget.cube import CONDITION_CONSTRAINTS, LAYER_METRICS, SPARSITY_TOL, GeometryCube

__all__ = [
    "FEATURES", "GROUPINGS", "MAX_POINTS", "METHODS", "METRICS", "REDUCED_DIMS", "TRANSFORMS",
    "Embedding", "benchmark_similarity", "classical_mds", "distances", "layout",
    "model_embedding", "mst", "rank_rows", "reduce", "transform_values",
]

# the per-sample metrics an embedding may use (each one block of N columns)
FEATURES = (*LAYER_METRICS, "logit_margin")
TRANSFORMS = ("zscore", "rank")
GROUPINGS = ("model", "condition", "model_condition", "model_sparsity")
METRICS = ("euclidean", "spearman")
METHODS = ("mds", "pca", "tsne", "umap")  # layout's (deprecated) methods
MAX_POINTS = 2000
_DEFAULT_METRICS = ("angle", "norm", "margin")
REDUCED_DIMS = 50

_CUBE = [Instance(GeometryCube)]
_SELECTION = {  # parameters the cube-based embeddings share
    "cube": _CUBE,
    "metrics": [Options(*FEATURES), ListOf(Options(*FEATURES))],
    "features": [None, Options(*FEATURES), ListOf(Options(*FEATURES))],  # deprecated alias
    "transform": [Options(*TRANSFORMS)],
    "layer": [None, str, Interval(int, None, None)],
    "models": [None, str, Interval(int, None, None), ListOf([str, Interval(int, None, None)])],
    "delta": [Boolean()],
}
_POINTS = [Instance("geowidget.analysis.embedding.Embedding"),
           Array(("P", "D"), dtype="floating", library="numpy", finite=True)]


@dataclass
class Embedding:
    """Points (models, conditions or both) as rows of transformed per-sample geometry.

    Attributes
    ----------
    matrix : ndarray, float64 ``[P, F * N]``
        Row p is point p: F metric blocks of N samples each, in ``metrics`` order.
    labels : list of str
        One label per point (model name, condition label or ``"model | condition"``).
    info : list of dict
        Per point: ``model`` (or ``models``), ``sparsity``, ``benchmark``, ``severity`` and
        the model's descriptors from ``cube.model_info``.
    metrics : tuple of str
        Metric names, one block each (``features`` is a deprecated alias).
    transform : str
        ``"zscore"`` or ``"rank"``.
    layer : str
        The cube layer the geometry comes from.
    sample_ids : ndarray, int64 ``[N]``
        Probe samples used (samples that were NaN in some point are dropped).

    Examples
    --------
    >>> from geowidget import model_embedding
    >>> from geowidget.demo import demo_cube
    >>> emb = model_embedding(demo_cube())                # doctest: +SKIP
    >>> emb.labels, emb.matrix.shape                      # doctest: +SKIP
    """

    matrix: np.ndarray
    labels: list[str]
    info: list[dict[str, Any]]
    metrics: tuple[str, ...]
    transform: str
    layer: str
    sample_ids: np.ndarray
    by: str = "model"
    dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    @property
    def features(self) -> tuple[str, ...]:
        """Deprecated alias of :attr:`metrics` (it warns)."""
        warnings.warn("Embedding.features is deprecated; use Embedding.metrics (the names of "
                      "the per-sample metrics)", DeprecationWarning, stacklevel=2)
        return self.metrics

    def block(self, metric: str) -> np.ndarray:
        """The ``[P, N]`` columns of one metric (or ``[P, models * N]`` for conditions)."""
        if metric not in self.metrics:
            raise KeyError(f"unknown metric {metric!r}; this embedding has {self.metrics}")
        width = self.matrix.shape[1] // len(self.metrics)
        i = self.metrics.index(metric)
        return self.matrix[:, i * width : (i + 1) * width]


# ---------------------------------------------------------------------------- transforms
def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise (x - mean) / std over the last axis; returns (z, zero_std_rows)."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    std = np.sqrt((centred**2).mean(axis=-1, keepdims=True))
    zero = std[..., 0] == 0
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0), zero


def transform_values(values: np.ndarray, transform: str = "zscore") -> np.ndarray:
    """Transform each row of ``values`` ``[..., N]`` over its N samples (float64 out).

    ``"zscore"``: (x - mean) / std (population std). ``"rank"``: average ranks, then
    standardised. A constant row (std 0) becomes all zeros, with a warning.

    Examples
    --------
    >>> transform_values(np.array([[1.0, 2.0, 3.0]]), "zscore").round(3)
    array([[-1.225,  0.   ,  1.225]])
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; valid: {list(TRANSFORMS)}")
    x = np.asarray(values, dtype=np.float64)
    if transform == "rank":
        x = rank_rows(x)
    z, zero = _standardise(x)
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} feature block(s) are constant over the samples; their "
            "transformed values are set to 0 (they carry no information)",
            RuntimeWarning,
            stacklevel=3,
        )
    return z


def rank_rows(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) along the last axis, float64.

    Examples
    --------
    >>> rank_rows(np.array([[3.0, 1.0, 3.0, 2.0]]))
    array([[3.5, 1. , 3.5, 2. ]])
    """
    from scipy.stats import rankdata

    return rankdata(np.asarray(x, dtype=np.float64), axis=-1, method="average")


# ---------------------------------------------------------------------------- embedding
def _select_conditions(
    cube: GeometryCube, sparsity: Any, benchmark: Any, severity: Any
) -> list[int]:
    picked = cube.find_conditions(sparsity, benchmark, severity)
    if not picked:
        valid = ", ".join(c.label for c in cube.conditions)
        raise KeyError(
            f"no condition has sparsity={sparsity!r}, benchmark={benchmark!r}, "
            f"severity={severity!r}; valid conditions: {valid}"
        )
    return picked


def _metrics(metrics: Sequence[str], features: Sequence[str] | None, caller: str
             ) -> Sequence[str]:
    """``metrics``, or the deprecated ``features=`` alias with a warning naming the new name."""
    if features is None:
        return metrics
    if tuple(metrics) != _DEFAULT_METRICS:
        raise invalid(caller, "features", "None when metrics= is given (features= is its "
                      "deprecated alias)", features)
    warnings.warn(f"{caller}(features=...) is deprecated; use metrics=... (features are a "
                  "layer's activations; these are the names of per-sample metrics)",
                  DeprecationWarning, stacklevel=4)
    return features


def _selection(cube: GeometryCube, metrics: Sequence[str], layer: Any, models: Any,
               caller: str) -> tuple[tuple[str, ...], int, list[int]]:
    """``(metrics, layer index, model indices)`` of an embedding's selection; the layer
    defaults to the cube's default layer (``Coords.default_layer``)."""
    metrics = tuple(metrics) if not isinstance(metrics, str) else (metrics,)
    if len(set(metrics)) != len(metrics):
        raise invalid(caller, "metrics", "unique metric names", list(metrics))
    li = cube.coords.default_layer if layer is None else cube.layer_index(layer)
    mi = (
        list(range(len(cube.models)))
        if models is None
        else [cube.model_index(m) for m in ([models] if isinstance(models, str | int) else models)]
    )
    if not mi:
        raise ValueError("models selects no model")
    return metrics, li, mi


def _values(cube: GeometryCube, feature: str, li: int, mi: list[int], ki: list[int]
            ) -> np.ndarray:
    """``[m, k, N]`` float64 values of one feature at layer ``li`` (only those read)."""
    values = cube.values(feature, model=mi, layer=[li], condition=ki)
    return (values if feature == "logit_margin" else values[:, 0]).astype(np.float64)


@validate_params({**_SELECTION, **CONDITION_CONSTRAINTS, "by": [Options(*GROUPINGS)]})
def model_embedding(
    cube: GeometryCube,
    *,
    metrics: Sequence[str] = _DEFAULT_METRICS,
    transform: str = "zscore",
    layer: str | int | None = None,
    by: str = "model",
    sparsity: float | Sequence[float] | None = 0.0,
    benchmark: str | Sequence[str] | None = "clean",
    severity: int | Sequence[int] | None = None,
    models: Sequence[str | int] | None = None,
    delta: bool = False,
    features: Sequence[str] | None = None,
) -> Embedding:
    """Geometric embedding of the models (or conditions) of a cube.

    Parameters
    ----------
    cube : GeometryCube
        Per-sample geometry; every point uses the same N probe samples.
    metrics : sequence of str
        Per-sample metrics, each one block of N columns: any of ``angle``,
        ``angle_pred``, ``avh``, ``angle_gap`` (radians), ``norm``, ``margin`` (signed,
        feature units) or ``logit_margin``.
    transform : {"zscore", "rank"}
        Within-point transform of each block over the samples (see the module doc).
    layer : str or int, optional
        Cube layer; default the cube's default layer (``cube.coords.default_layer``:
        ``"penultimate"`` when the cube has it, else the deepest layer).
    by : {"model", "condition", "model_condition", "model_sparsity"}
        Points: one per model (needs exactly one selected condition), one per condition
        (blocks concatenated over the selected models: ``[K, F * M * N]``), one per
        (model, condition) pair (``[M * K, F * N]``), or one per (model, sparsity) pair,
        its blocks concatenated over the selected (benchmark, severity) pairs, which every
        selected sparsity must have alike (``[M * S, F * B * N]``; e.g. ``sparsity=None,
        benchmark=None`` on a full-grid study).
    sparsity, benchmark, severity : value, list or None
        Select conditions; ``None`` keeps all values of that dimension.
    models : list, optional
        Names or indices of the models to use; default all.
    delta : bool
        Embed the change from the clean, dense condition (``x - x_clean@0``) instead of
        ``x``, per model and sample: isolates what a corruption or sparsity does.
    features : sequence of str, optional
        Deprecated alias of ``metrics`` (it warns).

    Returns
    -------
    Embedding
        ``matrix`` float64 ``[P, ...]``, ``labels`` and ``info`` per point.

    Notes
    -----
    Samples that are NaN (undefined angle or margin, e.g. a zero feature vector) in any
    selected point are dropped from every point, with a warning, so that all points stay
    comparable; ``Embedding.dropped`` counts them.

    Examples
    --------
    >>> emb = model_embedding(cube, transform="rank")                 # doctest: +SKIP
    >>> emb.matrix.shape        # 3 metrics x N samples per model    # doctest: +SKIP
    (12, 4500)
    """
    metrics = _metrics(metrics, features, "model_embedding")
    metrics, li, mi = _selection(cube, metrics, layer, models, "model_embedding")
    ki = _select_conditions(cube, sparsity, benchmark, severity)
    if by == "model" and len(ki) != 1:
        labels = [cube.conditions[k].label for k in ki]
        raise ValueError(
            f"by='model' needs exactly one condition, but sparsity={sparsity!r}, "
            f"benchmark={benchmark!r}, severity={severity!r} select {len(ki)}: {labels}; "
            "narrow the selection or use by='model_condition'"
        )
    if delta:
        try:
            k0 = cube.condition_index(0.0, "clean", 0)
        except KeyError:
            raise ValueError(
                "delta=True needs the clean condition at sparsity 0 in the cube"
            ) from None
    return _embed(cube, metrics, transform, li, mi, ki, by, [k0] * len(ki) if delta else None)


def _embed(cube: GeometryCube, metrics: tuple[str, ...], transform: str, li: int,
           mi: list[int], ki: list[int], by: str, base: list[int] | None) -> Embedding:
    """The embedding of models ``mi`` at conditions ``ki``; with ``base`` (a condition per
    selected condition), of the change from it."""
    # raw values [F, M, K, N]
    raw = np.stack([_values(cube, f, li, mi, ki) for f in metrics])
    if base is not None:
        read, where = np.unique(base, return_inverse=True)
        raw = raw - np.stack([_values(cube, f, li, mi, read.tolist()) for f in metrics])[
            :, :, where]
    finite = np.isfinite(raw).all(axis=(0, 1, 2))
    dropped = int((~finite).sum())
    if dropped == raw.shape[-1]:
        raise ValueError("every sample is NaN or infinite in some selected point")
    if dropped:
        warnings.warn(
            f"dropped {dropped} of {raw.shape[-1]} samples that are NaN or infinite in some "
            "selected point (undefined angle or margin, e.g. a zero feature vector)",
            RuntimeWarning,
            stacklevel=3,
        )
        raw = raw[..., finite]
    z = transform_values(raw, transform)  # [F, M, K, N']
    n_m, n_k = len(mi), len(ki)
    if by == "condition":
        # point = condition; columns: feature-major, then model, then sample
        matrix = np.ascontiguousarray(z.transpose(2, 0, 1, 3).reshape(n_k, -1))
        labels = [cube.conditions[k].label for k in ki]
        info = [
            {**_condition_info(cube, k), "models": [cube.models[m] for m in mi]} for k in ki
        ]
    elif by == "model_sparsity":
        matrix, labels, info = _by_sparsity(cube, z, mi, ki)
    else:
        # point = (model, condition), model-major
        matrix = np.ascontiguousarray(z.transpose(1, 2, 0, 3).reshape(n_m * n_k, -1))
        info = [
            {**cube.model_info[m], "model": cube.models[m], **_condition_info(cube, k)}
            for m in mi
            for k in ki
        ]
        if by == "model":
            labels = [cube.models[m] for m in mi]
        else:
            labels = [f"{cube.models[m]} | {cube.conditions[k].label}" for m in mi for k in ki]
    return Embedding(
        matrix=matrix,
        labels=labels,
        info=info,
        metrics=metrics,
        transform=transform,
        layer=cube.layers[li],
        sample_ids=np.asarray(cube.sample_ids)[finite],
        by=by,
        dropped=dropped,
    )


def _by_sparsity(cube: GeometryCube, z: np.ndarray, mi: list[int], ki: list[int]
                 ) -> tuple[np.ndarray, list[str], list[dict[str, Any]]]:
    """Points (model, sparsity): each concatenates its conditions' blocks, feature-major,
    then (benchmark, severity) in the cube's order, then sample."""
    from geowidget.analysis.evaluation import level_label

    def pair(j: int) -> tuple[str, int]:
        return cube.conditions[ki[j]].benchmark, cube.conditions[ki[j]].severity

    levels: dict[float, list[int]] = {}
    for j, k in enumerate(ki):
        levels.setdefault(cube.conditions[k].sparsity, []).append(j)
    first = [pair(j) for j in next(iter(levels.values()))]
    if differ := {s: [pair(j) for j in js] for s, js in levels.items()
                  if sorted(map(pair, js)) != sorted(first)}:
        raise ValueError(
            f"by='model_sparsity' needs the same (benchmark, severity) pairs at every selected "
            f"sparsity; sparsity {next(iter(levels)):g} has {first}, but {differ}; run the Study "
            "with grid='full' or narrow benchmark="
        )
    order = {s: sorted(js, key=lambda j: first.index(pair(j))) for s, js in levels.items()}
    rows, labels, info = [], [], []
    for a, m in enumerate(mi):
        method = str(cube.model_info[m].get("pruning", ""))
        for s, js in sorted(order.items()):
            rows.append(z[:, a, js].reshape(-1))
            labels.append(f"{cube.models[m]} · {level_label(method, s, list(order))}")
            info.append({**cube.model_info[m], "model": cube.models[m], "sparsity": s,
                         "benchmark": "clean", "benchmarks": [b for b, _ in first],
                         "conditions": [cube.conditions[ki[j]].label for j in js]})
    return np.ascontiguousarray(np.stack(rows)), labels, info


def _condition_info(cube: GeometryCube, k: int) -> dict[str, Any]:
    c = cube.conditions[k]
    return {"sparsity": c.sparsity, "benchmark": c.benchmark, "severity": c.severity,
            "condition": c.label}


# ---------------------------------------------------------------------------- distances
def _matrix_of(data: Embedding | np.ndarray, what: str = "embedding") -> np.ndarray:
    x = data.matrix if isinstance(data, Embedding) else data
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what} must be an Embedding or a numpy array, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} matrix must be 2-D [points, columns], got shape {x.shape}")
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} matrix contains NaN or infinite values")
    return x


def reduce(matrix: np.ndarray, n_components: int = REDUCED_DIMS, seed: int = 0) -> np.ndarray:
    """Scores of the rows of ``matrix`` on its first ``n_components`` principal components.

    The reducer's one PCA (:func:`geowidget.analysis.reducer.pca`: exact up to
    ``EXACT_MAX`` columns on the smaller side, a seeded randomised SVD beyond); euclidean
    distances between rows are kept up to the variance in the dropped components.
    """
    x = _matrix_of(matrix)
    return pca(x, min(n_components, *x.shape), seed)


@validate_params({"embedding": _POINTS, "metric": [Options(*METRICS)],
                  "max_points": [Interval(int, 2, None)]})
def distances(
    embedding: Embedding | np.ndarray,
    metric: str = "euclidean",
    *,
    max_points: int = MAX_POINTS,
) -> np.ndarray:
    """Pairwise distances between the points (rows) of an embedding.

    Parameters
    ----------
    embedding : Embedding or ndarray ``[P, D]``
        Points as rows.
    metric : {"euclidean", "spearman"}
        Euclidean distance between rows (in transformed units), or ``1 - r_s`` with
        ``r_s`` the Spearman correlation between two rows (range [0, 2]).
    max_points : int
        With more points than this, rows are first reduced to their first 50 principal
        components (:func:`reduce`) so that the cost stays ``O(P^2 * 50)``. For
        ``"spearman"`` the reduction is applied to the standardised ranks.

    Returns
    -------
    ndarray, float64 ``[P, P]``
        Symmetric, zero diagonal, non-negative.

    Examples
    --------
    >>> distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[0., 5.],
           [5., 0.]])
    """
    x = _matrix_of(embedding)
    p, d = x.shape
    if metric == "spearman":
        r, zero = _standardise(rank_rows(x))
        if zero.any():
            raise ValueError(
                f"Spearman distance is undefined for constant rows: {np.flatnonzero(zero)[:10]}"
            )
        if p > max_points:
            r = reduce(r)  # PCA keeps inner products up to the dropped variance
        out = 1.0 - np.clip(_gram(r) / d, -1.0, 1.0)
    else:
        if p > max_points:
            x = reduce(x)
        x = x - x.mean(axis=0)  # centring improves the accuracy of the Gram identity
        sq = np.einsum("ij,ij->i", x, x)
        scale = sq[:, None] + sq[None, :]
        d2 = scale - 2.0 * _gram(x)
        # the Gram identity loses relative accuracy for near-identical rows: redo those exactly
        ii, jj = np.nonzero(np.triu(d2 <= 1e-6 * scale, k=1))
        for a in range(0, len(ii), 4096):
            i, j = ii[a : a + 4096], jj[a : a + 4096]
            d2[i, j] = d2[j, i] = np.einsum("ij,ij->i", x[i] - x[j], x[i] - x[j])
        out = np.sqrt(np.maximum(d2, 0.0))
    out = (out + out.T) / 2.0
    np.fill_diagonal(out, 0.0)
    return out


def _gram(x: np.ndarray) -> np.ndarray:
    """``x @ x.T`` in float64 through numpy's (multithreaded BLAS) GEMM."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    return x @ x.T


# ---------------------------------------------------------------------------- layout
@validate_params({
    "distances": [Array(("P", "P"), dtype="floating", library="numpy", finite=True),
                  Instance("geowidget.analysis.embedding.Embedding")],
    "method": [Options(*METHODS)],
    "seed": SEED,
    "perplexity": [None, Interval(float, 0, None, closed="neither")],
    "max_points": [Interval(int, 2, None)],
})
def layout(
    distances: np.ndarray | Embedding,
    method: str = "mds",
    seed: int = 0,
    *,
    perplexity: float | None = None,
    max_points: int = MAX_POINTS,
) -> np.ndarray:
    """Deprecated: 2-D positions of the points; use :func:`~geowidget.analysis.reducer.project`.

    ``layout(d, method)`` is ``project(distances=d, method=method)`` (float64), and
    ``layout(embedding, "pca")`` is ``project(embedding.matrix, "pca")``. Two points take
    the exact map whatever the method, as before. It warns with the new spelling.

    Parameters
    ----------
    distances : ndarray ``[P, P]`` or Embedding
        A distance matrix (from :func:`distances`), or the embedding itself (turned into
        euclidean distances, after PCA to 50 dimensions beyond ``max_points`` points; its
        rows for ``"pca"``).
    method : {"mds", "pca", "tsne", "umap"}
        As in :func:`~geowidget.analysis.reducer.project`.
    seed : int
        Random state of t-SNE and UMAP.
    perplexity : float, optional
        t-SNE perplexity; default ``min(30, (P - 1) / 3)``.

    Returns
    -------
    ndarray, float64 ``[P, 2]``

    Examples
    --------
    >>> import warnings
    >>> d = distances(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     np.round(layout(d, "mds"), 6)[:, 0]
    array([ 5.,  0., -5.])
    """
    warnings.warn(
        "layout() is deprecated; use project(distances=d, method=...) (gw.project), or "
        "project(embedding.matrix, 'pca') for an embedding's principal components",
        DeprecationWarning, stacklevel=3,
    )
    options = None if perplexity is None else {"perplexity": perplexity}
    if method == "pca" and isinstance(distances, Embedding):
        return project(_matrix_of(distances), "pca").astype(np.float64)
    if isinstance(distances, Embedding):
        d = globals()["distances"](distances, "euclidean", max_points=max_points)
    else:
        d = check_distances("layout", "distances", distances)
    if d.shape[0] <= 2:
        method, options = "mds", None
    return project(distances=d, method=method, seed=seed, options=options).astype(np.float64)


# ---------------------------------------------------------------------------- MST
@validate_params({"distances": [Array(("P", "P"), dtype="floating", library="numpy",
                                        finite=True)]})
def mst(distances: np.ndarray) -> np.ndarray:
    """Edges of a minimum spanning tree of the complete graph with these distances.

    Prim's algorithm on the dense matrix, ``O(P^2)``. Zero distances (identical models)
    are real edges, unlike in sparse-graph routines that read 0 as "no edge". Ties are
    broken by the lowest index, so the tree is deterministic.

    Parameters
    ----------
    distances : ndarray ``[P, P]``
        Symmetric, zero diagonal, non-negative.

    Returns
    -------
    ndarray, int64 ``[P - 1, 2]``
        Edge endpoints ``(parent, child)``, in the order Prim's algorithm adds them.

    Examples
    --------
    >>> mst(np.array([[0., 1, 4], [1, 0, 2], [4, 2, 0]]))
    array([[0, 1],
           [1, 2]])
    """
    d = check_distances("mst", "distances", distances)
    p = d.shape[0]
    edges = np.empty((max(p - 1, 0), 2), dtype=np.int64)
    if p <= 1:
        return edges
    in_tree = np.zeros(p, dtype=bool)
    in_tree[0] = True
    best = d[0].copy()
    parent = np.zeros(p, dtype=np.int64)
    for e in range(p - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        edges[e] = parent[j], j
        in_tree[j] = True
        closer = d[j] < best
        parent[closer] = j
        best = np.minimum(best, d[j])
    return edges


# ---------------------------------------------------------------------------- benchmarks
@validate_params({**_SELECTION, "sparsity": [Interval(float, 0, 1, closed="left")],
                  "benchmarks": [None, ListOf(str, min_len=2)]})
def benchmark_similarity(
    cube: GeometryCube,
    *,
    metrics: Sequence[str] = _DEFAULT_METRICS,
    transform: str = "zscore",
    layer: str | int | None = None,
    sparsity: float = 0.0,
    benchmarks: Sequence[str] | None = None,
    models: Sequence[str | int] | None = None,
    delta: bool = True,
    features: Sequence[str] | None = None,
) -> Any:
    """Corruption-by-corruption similarity: Pearson r between benchmark embeddings.

    Each benchmark is one point whose vector concatenates, over every model and every
    severity it was evaluated at, the transformed per-sample geometry (by default its
    change from the clean data at the same sparsity, ``delta=True``, so that what all
    benchmarks share, the samples' own difficulty and the pruning, does not dominate).
    Benchmarks that distort images alike (on the bundled MNIST zoo, Gaussian and defocus
    blur: r = 0.99) get a similarity near 1.

    Parameters
    ----------
    cube : GeometryCube
        Needs the benchmarks at ``sparsity``, each with the same set of severities (a Study
        with the default ``grid="full"`` has them at every sparsity).
    sparsity : float
        The models' sparsity: 0 for the dense models, or a pruned level, to compare the
        benchmarks as the pruned models see them. With ``models=[name]`` the matrix is that
        one pruned model's (e.g. ``sparsity=0.9, models=["lenet"]``).
    benchmarks : list of str, optional
        Which ones; default every benchmark but ``"clean"``.
    metrics, transform, layer, models, delta, features
        As in :func:`model_embedding` (``features`` is the deprecated alias of ``metrics``).

    Returns
    -------
    pandas.DataFrame
        ``[B, B]`` symmetric matrix of correlations in [-1, 1], indexed by benchmark.

    Examples
    --------
    >>> from geowidget.demo import demo_cube
    >>> benchmark_similarity(demo_cube()).round(2)        # doctest: +SKIP
    """
    import pandas as pd

    names = [b for b in cube.benchmarks if b != "clean"] if benchmarks is None else list(
        benchmarks
    )
    at = sorted({c.sparsity for c in cube.conditions if c.benchmark != "clean"})
    if not any(abs(sparsity - s) <= SPARSITY_TOL for s in at):
        hint = "; run the Study with grid='full' to corrupt every sparsity" if at else ""
        raise invalid("benchmark_similarity", "sparsity", "a sparsity at which the cube has "
                      f"corrupted conditions ({at if at else 'it has none'}{hint})", sparsity)
    if len(names) < 2:
        raise invalid("benchmark_similarity", "benchmarks", "at least 2 benchmarks (the "
                      f"cube's corrupted ones: {cube.corruptions})", benchmarks,
                      f"it has {names}")
    severities = {
        b: sorted(cube.conditions[i].severity
                  for i in cube.find_conditions(sparsity=sparsity, benchmark=b))
        for b in names
    }
    if missing := [b for b, s in severities.items() if not s]:
        at = sorted({c.sparsity for c in cube.conditions if c.benchmark in missing})
        raise KeyError(f"benchmark(s) {missing} have no condition at sparsity {sparsity!r} "
                       f"(only at {at}); run the Study with grid='full' to corrupt every "
                       "sparsity")
    if len({tuple(s) for s in severities.values()}) != 1:
        raise ValueError(f"benchmarks must share their severities, got {severities}")
    metrics = _metrics(metrics, features, "benchmark_similarity")
    metrics, li, mi = _selection(cube, metrics, layer, models, "benchmark_similarity")
    ki = _select_conditions(cube, sparsity, names, None)
    base = None
    if delta:  # the change from the clean data of the models at this sparsity
        try:
            base = [cube.condition_index(sparsity, "clean", 0)] * len(ki)
        except KeyError:
            raise ValueError(f"delta=True needs the clean condition at sparsity {sparsity!r} "
                             "in the cube") from None
    emb = _embed(cube, metrics, transform, li, mi, ki, "condition", base)
    # group the condition points by benchmark: concatenate their rows
    rows = {b: [] for b in names}
    for vec, inf in zip(emb.matrix, emb.info, strict=True):
        rows[inf["benchmark"]].append((inf["severity"], vec))
    x = np.stack([np.concatenate([v for _, v in sorted(rows[b], key=lambda t: t[0])])
                  for b in names])
    z, zero = _standardise(x)
    if zero.any():
        raise ValueError(
            f"benchmark(s) {[names[i] for i in np.flatnonzero(zero)]} leave the geometry "
            "unchanged; their similarity is undefined"
        )
    corr = np.clip(z @ z.T / z.shape[1], -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names)
