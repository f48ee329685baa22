"""The one 2-D reducer: points given as features ``[N, D]`` or as distances ``[N, N]``.

:func:`project` maps features (a layer's activations, an embedding's rows) or a precomputed
distance matrix (``distances=``) to positions ``[N, 2]``:

- ``"pca"`` and ``"mds"`` are one exact, linear map under two names: the PCA scores of the
  features, or the classical (Torgerson) MDS of the distances, which is the PCA of the
  points they place. For features and their Euclidean distances the two give the same
  positions (tested to rounding).
- ``"tsne"``: openTSNE (``geowidget[tsne]``) on the features (Euclidean) or the distances
  (``metric="precomputed"``), started from the exact map above, scaled as openTSNE scales
  its own PCA start (standard deviation 1e-4 along the first axis). One start for both
  inputs, so features and their distance matrix give the same affinities and the same start.
- ``"umap"``: umap-learn (``geowidget[umap]``), on the features or the distances.

**One sign convention.** An exact map is unique up to the sign of each axis; each axis is
oriented so that its largest coordinate in absolute value (the first such point on ties) is
positive. It is a property of the positions alone, so it is the same for features and for
distances (a loading-based rule would need features). t-SNE and UMAP positions are as the
library returns them for the seed.

**One PCA.** :func:`pca` serves the 2-D map and the 50-component reduction that
:func:`geowidget.analysis.embedding.distances` applies beyond ``max_points`` points: the top
eigenvectors of the smaller Gram matrix of the centred rows (exact, one GEMM) while the
smaller side has at most ``EXACT_MAX`` columns, a seeded randomised SVD beyond.

Examples
--------
>>> import numpy as np
>>> from scipy.spatial.distance import cdist
>>> x = np.random.default_rng(0).normal(size=(50, 6))
>>> bool(np.allclose(project(x, "pca"), project(distances=cdist(x, x), method="mds"),
...                  atol=1e-5))
True
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from geowidget._validation import Array, DictOf, Interval, Options, check, invalid, validate_params

__all__ = ["EXACT_MAX", "METHODS", "classical_mds", "orient", "pca", "project"]

METHODS = ("pca", "mds", "tsne", "umap")
EXACT_MAX = 4096  # the exact PCA's Gram matrix is at most EXACT_MAX x EXACT_MAX (134 MB)
# method -> (module it needs, the extra that installs it)
_BACKENDS = {"tsne": ("openTSNE", "tsne"), "umap": ("umap", "umap")}
# fewest points each iterative method embeds (UMAP's spectral start needs 4)
_MIN_POINTS = {"tsne": 3, "umap": 4}
# options the backends check late (deep inside the fit) or not at all
_OPTIONS = {"umap": {"n_neighbors": [Interval(int, 2, None)],
                     "min_dist": [Interval(float, 0, None)]},
            "tsne": {"perplexity": [Interval(float, 0, None, closed="neither")]}}


# ---------------------------------------------------------------------------- the exact map
def orient(xy: np.ndarray) -> np.ndarray:
    """Flip axes in place so that each one's largest ``|coordinate|`` is positive (the first
    such point on ties), and turn -0.0 into 0.0.

    Examples
    --------
    >>> orient(np.array([[1.0, -3.0], [-2.0, 1.0]]))
    array([[-1.,  3.],
           [ 2., -1.]])
    """
    for j in range(xy.shape[1]):
        i = int(np.argmax(np.abs(xy[:, j])))
        if xy[i, j] < 0:
            xy[:, j] = -xy[:, j]
    xy += 0.0  # -0.0 + 0.0 is 0.0: no "-0." in printed positions
    return xy


def pca(x: np.ndarray, k: int = 2, seed: int = 0) -> np.ndarray:
    """Scores ``[N, k]`` float64 of the rows of ``x`` on their first ``k`` principal axes.

    Exact (eigenvectors of the smaller Gram matrix of the centred rows) while
    ``min(N, D) <= EXACT_MAX``, a randomised SVD with ``seed`` beyond. Columns past the rank
    are 0; axes are oriented by :func:`orient`.

    Examples
    --------
    >>> pca(np.array([[0.0], [1.0], [5.0]]))     # one column: the second axis is 0
    array([[-2.,  0.],
           [-1.,  0.],
           [ 3.,  0.]])
    """
    xc = np.asarray(x, dtype=np.float64)
    xc = xc - xc.mean(axis=0)
    n, d = xc.shape
    r = min(k, n, d)
    out = np.zeros((n, k))
    if min(n, d) > EXACT_MAX:
        from sklearn.utils.extmath import randomized_svd

        u, s, _ = randomized_svd(xc, r, n_iter=4, random_state=seed)
        out[:, :r] = u * s
    elif d <= n:  # loadings: top eigenvectors of the [D, D] Gram matrix
        from scipy.linalg import eigh

        _, v = eigh(xc.T @ xc, subset_by_index=[d - r, d - 1])
        out[:, :r] = xc @ v[:, ::-1]
    else:  # scores: top eigenvectors of the [N, N] Gram matrix, scaled by sqrt(eigenvalue)
        from scipy.linalg import eigh

        lam, u = eigh(xc @ xc.T, subset_by_index=[n - r, n - 1])
        out[:, :r] = u[:, ::-1] * np.sqrt(np.maximum(lam[::-1], 0.0))
    return orient(out)


def classical_mds(d: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Torgerson (classical) MDS ``[P, n_components]``: top eigenvectors of ``-J D² J / 2``.

    Exact for Euclidean distances (it recovers the points up to rotation: their PCA scores,
    :func:`pca`, with the same orientation), deterministic. Negative eigenvalues (distances
    no Euclidean configuration has) count as 0.

    Examples
    --------
    >>> classical_mds(np.array([[0.0, 5.0], [5.0, 0.0]]))
    array([[ 2.5,  0. ],
           [-2.5,  0. ]])
    """
    from scipy.linalg import eigh

    d = check_distances("classical_mds", "d", d)
    p = d.shape[0]
    b = -0.5 * d**2
    b -= b.mean(axis=0, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    k = min(n_components, p)
    if p > 500 and k < p - 1:
        # Lanczos: O(P^2) per iteration instead of the O(P^3) dense solver; fixed start vector
        from scipy.sparse.linalg import eigsh

        vals, vecs = eigsh(b, k=k, which="LA", v0=np.ones(p) / np.sqrt(p), tol=1e-10)
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
    else:
        vals, vecs = eigh(b, subset_by_index=[p - k, p - 1])
    out = np.zeros((p, n_components))
    out[:, :k] = vecs[:, ::-1] * np.sqrt(np.maximum(vals[::-1], 0.0))
    return orient(out)


# ---------------------------------------------------------------------------- inputs
def finite_rows(caller: str, name: str, value: Any) -> np.ndarray:
    """``value`` (numpy or torch, declared ``[N, D]``) as a finite float64 array."""
    x = np.asarray(value)
    if x.dtype.kind not in "biuf":
        raise invalid(caller, name, "numeric", value, f"its dtype is {x.dtype}")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise invalid(caller, name, "finite", value,
                      f"{rows.size} rows hold NaN or Inf, first: {rows[:5].tolist()}; drop or "
                      "fix those samples first")
    return x


def check_distances(caller: str, name: str, value: Any) -> np.ndarray:
    """A finite, square, symmetric, non-negative float64 matrix with a zero diagonal."""
    d = np.asarray(value, dtype=np.float64)
    expected = "a symmetric distance matrix [P, P] with a zero diagonal"
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] == 0:
        raise invalid(caller, name, expected, value, f"its shape is {d.shape}")
    if not np.isfinite(d).all():
        raise invalid(caller, name, expected, value, "it holds NaN or Inf")
    if (d < 0).any():
        raise invalid(caller, name, expected, value, f"its smallest entry is {float(d.min())!r}")
    scale = max(1.0, float(np.abs(d).max()))
    if not np.allclose(d, d.T, atol=1e-9 * scale) or np.abs(np.diag(d)).max() > 1e-9 * scale:
        raise invalid(caller, name, expected, value, "it is not symmetric with a zero diagonal")
    return d


def _require(method: str) -> None:
    module, extra = _BACKENDS[method]
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"method={method!r} needs the {module!r} package, which is not installed; "
            f"install it with: pip install 'geowidget[{extra}]'"
        )


def _check_options(method: str, options: dict[str, Any]) -> None:
    """Refuse options the backend does not take, and known ones out of range."""
    import inspect

    module = _BACKENDS[method][0]
    cls = getattr(importlib.import_module(module), method.upper())
    valid = [p for p in inspect.signature(cls).parameters if p not in ("self", "n_components")]
    if unknown := sorted(set(options) - set(valid)):
        raise invalid("project", "options", f"keyword arguments of {module}.{cls.__name__}",
                      options, f"{unknown} are not among them; valid: {valid}")
    for key, constraints in _OPTIONS[method].items():
        if key in options:
            check("project", f'options["{key}"]', options[key], constraints)


# ---------------------------------------------------------------------------- project
@validate_params({
    "features": [None, Array(("N", "D"), library=None)],
    "method": [Options(*METHODS)],
    "seed": [Interval(int, 0, None)],
    "options": [None, DictOf(str, object)],
    "distances": [None, Array(("N", "N"), dtype="floating", library="numpy")],
})
def project(features: Any = None, method: str = "pca", seed: int = 0,
            options: dict[str, Any] | None = None, *, distances: Any = None) -> np.ndarray:
    """Map points to 2-D with PCA (or classical MDS), t-SNE or UMAP.

    Parameters
    ----------
    features : ndarray or Tensor [N, D], optional
        One row per point (numpy, or a CPU torch tensor), finite. Give ``features`` or
        ``distances``, not both.
    method : {"pca", "mds", "tsne", "umap"}
        ``"pca"`` / ``"mds"``: the exact linear map (PCA scores of the features, classical
        MDS of the distances; the same positions for features and their Euclidean
        distances). ``"tsne"``: openTSNE (faster than scikit-learn's ``TSNE`` here, see
        ``benchmarks/bench_project.py``; Barnes-Hut below 10,000 points, FFT above),
        perplexity ``min(30, (N - 1) / 3)``, started from the exact map; needs
        ``geowidget[tsne]`` and N >= 3. ``"umap"``: umap-learn with
        ``n_neighbors=min(15, N - 1)``; needs ``geowidget[umap]`` and N >= 4. Both run on
        one thread by default, so that the same seed gives the same positions (umap-learn
        does so itself with a seed); pass ``options={"n_jobs": -1}`` for speed.
    seed : int
        Random seed of t-SNE and UMAP; the same seed gives the same positions.
    options : dict, optional
        Keyword arguments for ``openTSNE.TSNE`` or ``umap.UMAP`` (e.g. ``{"perplexity": 50}``,
        ``{"n_neighbors": 30}``, ``{"n_jobs": -1}``); none for the exact map.
    distances : ndarray [N, N], optional
        A precomputed distance matrix (symmetric, zero diagonal, non-negative), e.g. from
        :func:`geowidget.analysis.embedding.distances`, instead of features.

    Returns
    -------
    ndarray
        float32 ``[N, 2]`` positions, in the method's own units (PCA, MDS: those of the
        features or distances). Exact maps are oriented: each axis's largest ``|coordinate|``
        is positive (see the module doc).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 8))
    >>> project(x, "pca").shape
    (100, 2)
    >>> project(distances=np.array([[0.0, 5.0], [5.0, 0.0]]), method="mds")
    array([[ 2.5,  0. ],
           [-2.5,  0. ]], dtype=float32)
    """
    if (features is None) == (distances is None):
        raise invalid("project", "features", "an array [N, D], or None with distances= "
                      "[N, N] given instead (one of the two)", features,
                      "distances= is given too" if features is not None else "")
    options = dict(options or {})
    if features is not None:
        x, given = finite_rows("project", "features", features), "features"
    else:
        x, given = check_distances("project", "distances", distances), "distances"
    n = x.shape[0]
    if method in ("pca", "mds"):
        if options:
            raise invalid("project", "options", f"None or empty for method={method!r}", options)
        return _exact(x, given).astype(np.float32)
    if n < _MIN_POINTS[method]:
        fewer = [m for m in METHODS if _MIN_POINTS.get(m, 0) <= n]
        raise invalid("project", "method", f"{', '.join(map(repr, fewer[:-1]))} or "
                      f"{fewer[-1]!r} for fewer than {_MIN_POINTS[method]} points", method,
                      f"the {given} hold {n} points")
    _require(method)
    _check_options(method, options)
    if given == "features" and not (x != x[0]).any():
        # every distance 0: openTSNE's affinities, and positions, are NaN
        raise invalid("project", "features", f"rows that are not all the same for "
                      f"method={method!r}, which embeds the distances between them", features,
                      f"all {n} rows are equal; PCA puts them at one point")
    if given == "distances" and not x.any():
        raise invalid("project", "distances", f"not all 0 for method={method!r}", distances,
                      f"all {n} points coincide; MDS puts them at one point")
    if method == "tsne":
        return _tsne(x, given, seed, options)
    return _umap(x, given, seed, options)


def _exact(x: np.ndarray, given: str) -> np.ndarray:
    return pca(x) if given == "features" else classical_mds(x)


def _settings(defaults: dict[str, Any], options: dict[str, Any], given: str
              ) -> dict[str, Any]:
    """A backend's keyword arguments: ours, the caller's ``options`` over them, and
    ``metric="precomputed"`` for a distance matrix (where another metric is refused)."""
    settings = {**defaults, **options}
    if given == "distances":
        if settings.get("metric", "precomputed") != "precomputed":
            raise invalid("project", "options", "without a metric for distances= (they are "
                          "the metric)", options)
        settings["metric"] = "precomputed"
    return settings


def _tsne(x: np.ndarray, given: str, seed: int, options: dict[str, Any]) -> np.ndarray:
    import openTSNE

    n = x.shape[0]
    start = _exact(x, given)
    spread = start[:, 0].std()
    # Barnes-Hut below 10,000 points: the FFT grid has a fixed cost that dominates small N
    settings = _settings({"perplexity": min(30.0, (n - 1) / 3),
                          "initialization": start * (1e-4 / spread) if spread > 0 else "random",
                          "negative_gradient_method": "bh" if n < 10_000 else "fft",
                          "n_jobs": 1, "random_state": seed, "verbose": False}, options, given)
    return np.asarray(openTSNE.TSNE(n_components=2, **settings).fit(x), dtype=np.float32)


def _umap(x: np.ndarray, given: str, seed: int, options: dict[str, Any]) -> np.ndarray:
    import umap

    settings = _settings({"n_neighbors": min(15, x.shape[0] - 1), "random_state": seed},
                         options, given)
    with warnings.catch_warnings(), _caller_state_kept():
        # a fixed random_state makes UMAP single-threaded, by design; it says so each call
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # a precomputed matrix is a graph to UMAP; it warns that it cannot inverse-transform
        warnings.filterwarnings("ignore", message=".*precomputed", category=UserWarning)
        return np.asarray(umap.UMAP(n_components=2, **settings).fit_transform(x), np.float32)


@contextmanager
def _caller_state_kept() -> Iterator[None]:
    """Python's ``random`` state and torch's thread count as they were before the block.

    umap-learn sets numba's thread count for a fit and back to numba's default after it; with
    numba's OpenMP layer that sets the OpenMP runtime torch shares, so a caller's
    ``torch.set_num_threads(1)`` became 2. torch is restored only if the caller loaded it
    (this layer never imports torch).
    """
    state = random.getstate()
    torch = sys.modules.get("torch")
    threads = None if torch is None else torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(state)
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
