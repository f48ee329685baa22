"""2-D projections of latent features, and how much they distort them.

:func:`project` (the one reducer, :mod:`geowidget.analysis.reducer`, re-exported here) maps
features ``[N, D]`` to positions ``[N, 2]`` with PCA, t-SNE or UMAP. :func:`distortion`
measures what such a map loses:

- **trustworthiness** T(k) (Venna and Kaski 2001; :func:`sklearn.manifold.trustworthiness`):
  are the k nearest neighbours of a sample in 2-D also near it in the feature space? Each
  2-D neighbour ``j`` of ``i`` that is not among its k feature-space neighbours costs
  ``r(i, j) - k``, its rank among ``i``'s neighbours in the feature space;
- **continuity** C(k): the same definition with the roles swapped: are the k nearest
  feature-space neighbours still near in 2-D (ranks taken in 2-D)?

  Both are ``1 - 2 / (N k (2N - 3k - 1)) * sum of the costs``, 1 for a map that keeps every
  k-neighbourhood, about 0.5 for a random one;
- **angle and margin preservation**: can a sample's angle (or margin) be read off its place
  in the map? Each sample's value is estimated as the mean over its k nearest 2-D neighbours
  (itself excluded), and the Spearman rank correlation between the values and these
  estimates is reported. The same estimate from the k nearest neighbours in the feature
  space gives the reference: what the features' own neighbourhoods carry. A map that keeps
  the geometry scores close to the reference; the gap is what the projection lost. The
  angle and margin themselves are exact per-sample numbers, read from the features and the
  class directions with no projection at all.

Ranks are ``r(i, j) = 1 + #{l != i : d(i, l) < d(i, j)}`` (Euclidean distances), so ties
count in the map's favour; with distinct distances they equal scikit-learn's. The distances
are computed in row blocks, so memory stays ``O(N)`` per block rather than the ``N x N``
matrices scikit-learn holds (2.4 GB at N = 10,000).

Examples
--------
>>> import numpy as np, geowidget as gw
>>> x = np.random.default_rng(0).normal(size=(300, 20))
>>> xy = gw.project(x, "pca")
>>> xy.shape
(300, 2)
>>> d = gw.distortion(x, xy, k=10)
>>> 0.5 < d.trustworthiness <= 1.0
True
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from geowidget._validation import Array, Interval, invalid, validate_params
from geowidget.analysis.reducer import finite_rows, project

__all__ = ["METHODS", "Distortion", "distortion", "neighbours_and_ranks", "neighbour_spearman",
           "project"]

# The maps a Study stores per (model, layer) (Study(projections=...)); project itself also
# takes "mds", which for features is "pca" (see geowidget.analysis.reducer).
METHODS = ("pca", "tsne", "umap")
_BLOCK_BYTES = 32 * 2**20  # one block of distance rows, float64


# ---------------------------------------------------------------------- distortion
@dataclass(frozen=True)
class Distortion:
    """How much a 2-D map distorts features; see :func:`distortion` and the module doc.

    Attributes
    ----------
    k : int
        Neighbourhood size.
    n : int
        Number of samples.
    trustworthiness, continuity : float
        In [0, 1]; 1 keeps every k-neighbourhood.
    angle_spearman, margin_spearman : float
        Spearman r between each sample's angle (margin) and the mean over its k nearest 2-D
        neighbours; NaN when no angle (margin) was given.
    angle_spearman_features, margin_spearman_features : float
        The same, with the k nearest neighbours in the feature space: the reference.

    Examples
    --------
    >>> import numpy as np
    >>> from geowidget import distortion
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> d = distortion(x, x, k=5)                  # a map that loses nothing
    >>> d.trustworthiness, d.continuity
    (1.0, 1.0)
    """

    k: int
    n: int
    trustworthiness: float
    continuity: float
    angle_spearman: float = float("nan")
    angle_spearman_features: float = float("nan")
    margin_spearman: float = float("nan")
    margin_spearman_features: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        """The measures as a flat dict (for a pandas row)."""
        return asdict(self)

    def _rows(self) -> list[tuple[str, float, str]]:
        rows = [("trustworthiness", self.trustworthiness, ""),
                ("continuity", self.continuity, "")]
        for what in ("angle", "margin"):
            value = getattr(self, f"{what}_spearman")
            if not np.isnan(value):
                ref = getattr(self, f"{what}_spearman_features")
                rows.append((f"{what} rank (Spearman)", value, f"features: {ref:.3f}"))
        return rows

    def __repr__(self) -> str:
        lines = [f"Distortion(k={self.k}, n={self.n})"]
        lines += [f"  {name:<24s} {value:6.3f}  {ref}".rstrip() for name, value, ref in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(name)}</td>"
            f"<td>{value:.3f}</td><td>{html.escape(ref)}</td></tr>"
            for name, value, ref in self._rows()
        )
        return (
            f"<table><caption>Distortion of a 2-D map, k = {self.k}, n = {self.n}</caption>"
            "<thead><tr><th>measure</th><th>map</th><th>reference</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


@validate_params({
    "features": [Array(("N", "D"), library=None)],
    "xy": [Array(("N", 2), library=None)],
    "k": [Interval(int, 1, None)],
    "angle": [None, Array(("N",), dtype="numeric", library=None)],
    "margin": [None, Array(("N",), dtype="numeric", library=None)],
})
def distortion(
    features: Any,
    xy: Any,
    k: int = 10,
    *,
    angle: Any = None,
    margin: Any = None,
) -> Distortion:
    """Trustworthiness, continuity, and how well a 2-D map keeps angle and margin ranks.

    Parameters
    ----------
    features : ndarray or Tensor [N, D]
        The features that were projected (finite).
    xy : ndarray or Tensor [N, 2]
        Their 2-D positions, e.g. from :func:`project`.
    k : int
        Neighbourhood size, ``1 <= k < N / 2`` (the range where trustworthiness lies in
        [0, 1]).
    angle, margin : ndarray or Tensor [N], optional
        Per-sample angle to the true class direction (radians) and signed margin. NaN
        values (undefined geometry) are left out of the correlation and of the neighbour
        means.

    Returns
    -------
    Distortion
        With a text and an HTML repr. See the module doc for the definitions.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> plane = rng.normal(size=(200, 2))
    >>> x = plane @ np.linalg.qr(rng.normal(size=(16, 2)))[0].T  # a plane in 16-D
    >>> round(distortion(x, plane, k=10).continuity, 6)
    1.0
    """
    x = finite_rows("distortion", "features", features)
    pos = finite_rows("distortion", "xy", xy)
    n = x.shape[0]
    if pos.shape[0] != n:
        raise invalid("distortion", "xy", f"of shape ({n}, 2) to match features", xy)
    if not k < n / 2:
        raise invalid("distortion", "k", f"an int in [1, N / 2) = [1, {n / 2:g}) for N = {n} "
                      "samples", k)
    values = {name: _per_sample(name, v, n) for name, v in (("angle", angle), ("margin", margin))}
    nbr_xy, _ = neighbours_and_ranks(pos, k)
    nbr_x, rank_x = neighbours_and_ranks(x, k, nbr_xy)
    _, rank_xy = neighbours_and_ranks(pos, k, nbr_x)
    out: dict[str, float] = {
        "trustworthiness": _rank_score(rank_x, n, k),
        "continuity": _rank_score(rank_xy, n, k),
    }
    for name, v in values.items():
        if v is not None:
            out[f"{name}_spearman"] = neighbour_spearman(v, nbr_xy)
            out[f"{name}_spearman_features"] = neighbour_spearman(v, nbr_x)
    return Distortion(k=k, n=n, **out)


def _per_sample(name: str, value: Any, n: int) -> np.ndarray | None:
    if value is None:
        return None
    if value.shape[0] != n:
        raise invalid("distortion", name, f"of shape ({n},), one value per sample", value)
    return np.asarray(value, dtype=np.float64)


def neighbours_and_ranks(
    a: np.ndarray, k: int, query: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The k nearest neighbours of every row of ``a``, and the ranks of other neighbours.

    Parameters
    ----------
    a : ndarray [N, D]
        Points (Euclidean distances).
    k : int
        Neighbours per point (the point itself excluded).
    query : int ndarray [N, q], optional
        For each ``i``, ``q`` other points ``j``; their ranks ``r(i, j) = 1 + #{l != i :
        d(i, l) < d(i, j)}`` among ``i``'s neighbours in ``a`` are returned.

    Returns
    -------
    nbrs : int64 ndarray [N, k]
        Neighbour indices, nearest first.
    ranks : int64 ndarray [N, q] or None
    """
    n = a.shape[0]
    a = a - a.mean(axis=0)  # smaller norms, smaller rounding in the Gram form
    sq = np.einsum("ij,ij->i", a, a)
    block = max(1, min(n, _BLOCK_BYTES // (8 * max(n, 1))))
    nbrs = np.empty((n, k), np.int64)
    ranks = None if query is None else np.empty(query.shape, np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = np.arange(start, stop)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * (a[start:stop] @ a.T)
        d2[rows - start, rows] = np.inf  # a point is not its own neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d2, part, axis=1).argsort(axis=1, kind="stable")
        nbrs[start:stop] = np.take_along_axis(part, order, axis=1)
        if query is not None:
            target = np.take_along_axis(d2, query[start:stop], axis=1)  # [b, q]
            d2.sort(axis=1)
            ranks[start:stop] = 1 + np.stack(
                [np.searchsorted(d2[r], target[r], side="left") for r in range(stop - start)]
            )
    return nbrs, ranks


def _rank_score(ranks: np.ndarray, n: int, k: int) -> float:
    penalty = np.clip(ranks - k, 0, None).sum(dtype=np.float64)
    return float(1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


def neighbour_spearman(values: np.ndarray, nbrs: np.ndarray) -> float:
    """Spearman r between ``values`` and their mean over each sample's neighbours ``nbrs``.

    NaN values are skipped in the neighbour means; samples whose own value or estimate is
    NaN are left out. NaN when fewer than 3 samples remain or either side is constant.
    """
    from scipy.stats import spearmanr

    neighbour_values = values[nbrs]
    valid = ~np.isnan(neighbour_values)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(valid, neighbour_values, 0.0).sum(axis=1) / count
    keep = ~np.isnan(values) & (count > 0)
    if keep.sum() < 3 or np.ptp(values[keep]) == 0 or np.ptp(estimate[keep]) == 0:
        return float("nan")
    return float(spearmanr(values[keep], estimate[keep]).statistic)
