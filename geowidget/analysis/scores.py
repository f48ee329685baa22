"""Per-sample robustness and pruning scores from a GeometryCube, and the paper's correlation table.

All scores are derived from the cube's ``pred`` and ``correct`` arrays ``[M, K, N]``:

- robustness ``R(x)``: the fraction of corrupted conditions (every corruption and severity)
  under which ``x`` is classified correctly, by the dense model or by the model pruned to a
  given sparsity (a Study's default grid corrupts every sparsity);
  :func:`robustness_per_benchmark` gives the same fraction per corruption, over severities;
- pruning vulnerability ``V(x)``: the fraction of pruned levels (sparsity > 0, clean data)
  at which the pruned model's prediction differs from the dense model's;
- breakdown sparsity ``s*(x)``: the lowest sparsity at which the prediction flips (or, with
  ``criterion="error"``, becomes wrong), ``inf`` when it never does;
- PIE flag (Hooker et al. 2019, "What do compressed deep neural networks forget?"): the
  pruned prediction differs from the dense one; over a population of models, the modal
  pruned label differs from the modal dense label.

:func:`correlations` gives, per model (and per sparsity for robustness), Pearson or Spearman r
between the sample geometry (angle, L2 norm, margin on clean data, at the same sparsity) and
R or V, with percentile bootstrap confidence intervals: the table of "Understanding
Robustness Lottery" (arXiv:2206.07918).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geowidget._validation import (
    SEED,
    Boolean,
    Instance,
    Interval,
    ListOf,
    Options,
    invalid,
    validate_params,
)
from geowidget.coords import same_sparsity

if TYPE_CHECKING:
    from geowidget.cube import GeometryCube

__all__ = ["CORR_METHODS", "GEOMETRY_COLUMNS", "TARGETS", "CorrelationTable", "adversarial",
           "breakdown_sparsity", "check_bootstrap", "condition_levels", "correlation",
           "correlations", "pie", "pruning_robustness", "robust_levels", "robustness",
           "robustness_by_sparsity", "robustness_conditions", "robustness_of_model",
           "robustness_per_benchmark",
           "score_table", "side_by_side",
           "vulnerability"]

TARGETS = ("robustness", "vulnerability", "pruning_robustness", "adversarial")
CORR_METHODS = ("pearson", "spearman")
GEOMETRY_COLUMNS = {"rc-angle": "angle", "rc-l2": "norm", "rc-margin": "margin"}


def _dense_index(cube: GeometryCube) -> int:
    try:
        return cube.condition_index(0.0, "clean", 0)
    except KeyError:
        raise ValueError(
            "the cube has no dense clean condition (sparsity 0, benchmark 'clean'); "
            f"conditions: {[c.label for c in cube.conditions]}"
        ) from None


def _corrupted(cube: GeometryCube, sparsity: float = 0.0) -> list[int]:
    return cube.find_conditions(sparsity=sparsity, benchmark=cube.corruptions)


def _pruned(cube: GeometryCube, benchmark: str = "clean") -> list[tuple[float, int]]:
    """``(sparsity, index)`` of the pruned levels (sparsity > 0) of a benchmark, ascending."""
    levels = ((cube.conditions[i].sparsity, i) for i in cube.find_conditions(benchmark=benchmark))
    return sorted(level for level in levels if level[0] > 0)


def robustness(cube: GeometryCube, *, sparsity: float = 0.0) -> np.ndarray:
    """Per-sample robustness ``R(x)``: fraction of (corruption, severity) pairs classified right.

    Parameters
    ----------
    cube : GeometryCube
        Must hold corrupted conditions at ``sparsity``.
    sparsity : float
        The model's sparsity (0 = dense).

    Returns
    -------
    ndarray
        Float64 ``[M, N]`` in [0, 1].

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(corruptions=("fog",), n=4)
    >>> robustness(cube).shape
    (2, 4)
    """
    idx = _corrupted(cube, sparsity)
    if not idx:
        raise ValueError(_no_corruption(cube, sparsity))
    return cube.values("correct", condition=idx).mean(axis=1, dtype=np.float64)


def _no_corruption(cube: GeometryCube, sparsity: float) -> str:
    if not cube.corruptions:
        return ("the cube has no corrupted condition; run a Study with corruptions=... to "
                "compute robustness")
    at = sorted({cube.conditions[i].sparsity for i in _corrupted_any(cube)})
    return (f"the cube has no corrupted condition at sparsity {sparsity:g} (corruptions were "
            f"evaluated at sparsities {at}); run the Study with grid='full' to corrupt every "
            "sparsity")


def _corrupted_any(cube: GeometryCube) -> list[int]:
    return cube.find_conditions(benchmark=cube.corruptions)


def robust_levels(cube: GeometryCube) -> list[float]:
    """The sparsities at which robustness is defined (the cube has corrupted conditions).

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> robust_levels(random_cube(sparsities=(0, 0.5), corruptions=("fog",)))
    [0.0, 0.5]
    >>> robust_levels(random_cube(sparsities=(0, 0.5), corruptions=("fog",), grid="dense-corrupted"))
    [0.0]
    """
    return sorted({cube.conditions[i].sparsity for i in _corrupted_any(cube)}) if (
        cube.corruptions) else []


def robustness_per_benchmark(cube: GeometryCube, *, sparsity: float = 0.0) -> dict[str, np.ndarray]:
    """Robustness per corruption: ``{benchmark: [M, N]}``, the fraction over its severities.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> per = robustness_per_benchmark(random_cube(corruptions=("fog", "blur"), n=4))
    >>> list(per), per["fog"].shape
    (['fog', 'blur'], (2, 4))
    """
    idx = _corrupted(cube, sparsity)
    if not idx:
        raise ValueError(_no_corruption(cube, sparsity))
    out: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(cube.conditions[i].benchmark for i in idx):
        sel = cube.find_conditions(sparsity=sparsity, benchmark=name)
        out[name] = cube.values("correct", condition=sel).mean(axis=1, dtype=np.float64)
    return out


def robustness_conditions(cube: GeometryCube, sparsity: float,
                          benchmark: str | None = None) -> list[int]:
    """The conditions a robustness at ``sparsity`` averages over: every corrupted one there
    (:func:`robustness`), or ``benchmark``'s severities (:func:`robustness_per_benchmark`).
    A view of a live cube reads or computes exactly these, one model at a time.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(sparsities=(0, 0.5), corruptions=("fog", "blur"), severities=(1, 2))
    >>> [cube.conditions[k].label for k in robustness_conditions(cube, 0.5, "fog")]
    ['fog-1@0.5', 'fog-2@0.5']
    """
    return cube.find_conditions(sparsity=sparsity,
                                benchmark=cube.corruptions if benchmark is None else benchmark)


def robustness_of_model(cube: GeometryCube, model: int, sparsity: float,
                        benchmark: str | None = None) -> np.ndarray:
    """One model's row of :func:`robustness` (or, with ``benchmark``, of
    :func:`robustness_per_benchmark`) at ``sparsity``, float64 ``[N]``, reading that model's
    outputs at :func:`robustness_conditions` only.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(corruptions=("fog",), n=4)
    >>> bool(np.array_equal(robustness_of_model(cube, 1, 0.0), robustness(cube)[1]))
    True
    """
    idx = robustness_conditions(cube, sparsity, benchmark)
    if not idx:
        raise ValueError(_no_corruption(cube, sparsity))
    return cube.values("correct", [model], None, idx)[0].mean(axis=0, dtype=np.float64)


def condition_levels(cube: GeometryCube) -> list[float]:
    """Every sparsity of the cube's conditions, ascending: the levels of
    :func:`robustness_by_sparsity`.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> condition_levels(random_cube(sparsities=(0.9, 0.5)))
    [0.0, 0.5, 0.9]
    """
    return sorted({c.sparsity for c in cube.conditions})


def score_table(cube: GeometryCube, sparsity: float | Sequence[float] | None = 0.0
                ) -> pd.DataFrame:
    """Per-sample scores, one row per (model, sparsity, sample): :meth:`GeometryCube.scores`.

    Columns ``model``, ``sample`` (the id), ``label``, ``sparsity``; ``robustness`` and one
    ``robustness:<benchmark>`` per corruption (when the cube has corrupted conditions);
    ``vulnerability``, ``breakdown_sparsity`` and ``pie`` (at the highest sparsity) when it
    has pruned ones. The columns are the same whatever ``sparsity`` is.

    Parameters
    ----------
    cube : GeometryCube
    sparsity : float, list of float, or None
        Whose robustness the ``robustness`` columns hold: the model pruned to this
        sparsity, under the corruptions at that sparsity (0, the default: the dense model).
        A list, or None for every sparsity of the cube's conditions, gives the rows of each
        level, in that order within each model. Robustness is NaN at a sparsity where the
        cube has no corrupted condition (a ``grid="dense-corrupted"`` study's pruned
        levels). The pruning scores are of the whole sparsity sweep, the same in every row
        of a model and sample.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(models=1, sparsities=(0, 0.5), corruptions=("fog",), n=3)
    >>> score_table(cube, sparsity=None)[["model", "sparsity", "sample"]].shape
    (6, 3)
    """
    levels = condition_levels(cube)
    one = isinstance(sparsity, int | float | np.number)
    asked = levels if sparsity is None else [sparsity] if one else (
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
    m, n, k = len(cube.models), len(cube.labels), len(at)

    def rows(value: np.ndarray) -> np.ndarray:  # [M, N] or [M, S, N] -> one per row
        return (value[:, at] if value.ndim == 3 else
                np.broadcast_to(value[:, None], (m, k, n))).ravel()

    table: dict[str, Any] = {
        "model": pd.Categorical.from_codes(np.repeat(np.arange(m), k * n), cube.models),
        "sample": np.tile(cube.sample_ids, m * k),
        "label": np.tile(cube.labels, m * k),
        "sparsity": np.tile(np.repeat(np.asarray(levels, dtype=float)[at], n), m),
    }
    if cube.corruptions:
        table["robustness"] = rows(robustness_by_sparsity(cube))
        for name in cube.corruptions:
            table[f"robustness:{name}"] = rows(robustness_by_sparsity(cube, benchmark=name))
    if any(s > 0 for s in cube.sparsities):
        table["vulnerability"] = rows(vulnerability(cube))
        table["breakdown_sparsity"] = rows(breakdown_sparsity(cube))
        table["pie"] = rows(pie(cube))
    return pd.DataFrame(table)


def robustness_by_sparsity(cube: GeometryCube, *, benchmark: str | None = None) -> np.ndarray:
    """Robustness of every (model, sparsity): float64 ``[M, S, N]`` over
    :func:`condition_levels`.

    Level ``s`` holds :func:`robustness` at sparsity ``s`` (or, with ``benchmark``, that
    corruption's entry of :func:`robustness_per_benchmark`); NaN where the cube has no such
    corrupted condition at ``s`` (e.g. the pruned levels of a ``grid="dense-corrupted"`` study),
    so that a view never shows another sparsity's robustness in its place.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(sparsities=(0, 0.5), corruptions=("fog",), grid="dense-corrupted", n=4)
    >>> by = robustness_by_sparsity(cube)
    >>> by.shape, bool(np.isnan(by[:, 1]).all())
    ((2, 2, 4), True)
    """
    if benchmark is not None and benchmark not in cube.corruptions:
        raise invalid("robustness_by_sparsity", "benchmark",
                      f"None or a corruption of the cube {cube.corruptions}", benchmark)
    names = cube.corruptions if benchmark is None else [benchmark]
    levels = condition_levels(cube)
    out = np.full((len(cube.models), len(levels), len(cube.labels)), np.nan)
    for j, s in enumerate(levels):
        idx = [i for i in cube.find_conditions(sparsity=s)
               if cube.conditions[i].benchmark in names]
        if idx:
            out[:, j] = cube.values("correct", condition=idx).mean(axis=1, dtype=np.float64)
    return out


def vulnerability(cube: GeometryCube, *, benchmark: str = "clean") -> np.ndarray:
    """Per-sample pruning vulnerability ``V(x)``: fraction of pruned levels that flip the label.

    Returns
    -------
    ndarray
        Float64 ``[M, N]`` in [0, 1]: over the sparsity levels > 0, how often the pruned
        prediction differs from the dense (sparsity 0) prediction.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> v = vulnerability(random_cube(sparsities=(0, 0.5, 0.9), n=4))
    >>> v.shape, bool(((v >= 0) & (v <= 1)).all())
    ((2, 4), True)
    """
    dense = _dense_index(cube) if benchmark == "clean" else cube.condition_index(0.0, benchmark)
    levels = _pruned(cube, benchmark)
    if not levels:
        raise ValueError(
            "the cube has no pruned condition (sparsity > 0); run a Study with sparsities=... "
            "to compute vulnerability"
        )
    idx = [i for _, i in levels]
    pred = cube.values("pred", condition=[dense, *idx])
    flips = pred[:, 1:, :] != pred[:, :1, :]
    return flips.mean(axis=1, dtype=np.float64)


def breakdown_sparsity(cube: GeometryCube, *, criterion: str = "flip") -> np.ndarray:
    """Lowest sparsity at which a sample breaks, per model: ``[M, N]`` float64, ``inf`` if never.

    Parameters
    ----------
    criterion : str
        ``"flip"``: the pruned prediction differs from the dense one; ``"error"``: the pruned
        prediction is wrong (samples wrong at the dense model break at sparsity 0).

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> s = breakdown_sparsity(random_cube(sparsities=(0, 0.5, 0.9), n=4))
    >>> s.shape, bool(np.isin(s, [0.5, 0.9, np.inf]).all())
    ((2, 4), True)
    """
    if criterion not in ("flip", "error"):
        raise ValueError(f"criterion must be 'flip' or 'error', got {criterion!r}")
    dense = _dense_index(cube)
    levels = _pruned(cube)
    if not levels:
        raise ValueError("the cube has no pruned condition (sparsity > 0)")
    index = [dense, *(i for _, i in levels)]
    if criterion == "error":
        correct = cube.values("correct", condition=index)
        broke = ~correct[:, 1:]
    else:
        pred = cube.values("pred", condition=index)
        broke = pred[:, 1:] != pred[:, :1]
    out = np.full((broke.shape[0], broke.shape[2]), np.inf)
    if criterion == "error":
        out[~correct[:, 0]] = 0.0
    for j in reversed(range(len(levels))):  # ascending overwrite from the top keeps the lowest
        out = np.where(broke[:, j] & (out != 0.0), levels[j][0], out)
    return out


def pruning_robustness(cube: GeometryCube) -> np.ndarray:
    """Highest sparsity up to which a sample stays correct, per model: ``[M, N]`` float64.

    The largest level s of the cube's clean conditions (0 and every pruned level) such that
    the sample is classified correctly at s and at every level below it; 0 when the dense
    model or the first pruned level already errs. High values: robust to pruning (the
    opposite direction of :func:`vulnerability`, so its correlations have the signs of the
    paper's pruning table directly).

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> r = pruning_robustness(random_cube(sparsities=(0, 0.5, 0.9), n=4))
    >>> r.shape
    (2, 4)
    """
    broke = breakdown_sparsity(cube, criterion="error")  # lowest level where it is wrong
    levels = np.array([0.0] + [s for s, _ in _pruned(cube)])
    below = np.searchsorted(levels, broke, side="left") - 1  # last level under the breakdown
    return levels[np.clip(below, 0, None)]


def adversarial(cube: GeometryCube, *, sparsity: float = 0.0, norm: str | None = None
                ) -> np.ndarray:
    """Per-sample adversarial distance on clean inputs at ``sparsity``: float64 ``[M, N]``.

    From the cube's ``adversarial`` array (``Study(adversarial=...)``); NaN where it was not
    measured or every attack failed, 0 for misclassified samples. ``norm`` picks one when the
    cube has several (default: the first).

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> d = adversarial(random_cube(adversarial=True, n=4))
    >>> d.shape, d.dtype
    ((2, 4), dtype('float64'))
    """
    if not cube.adversarial:
        raise ValueError("the cube has no adversarial distances; run a Study with "
                         "adversarial={'norm': 'l2', 'samples': 500} to compute them")
    if norm is None:
        norm = next(iter(cube.adversarial))
    if norm not in cube.adversarial:
        raise KeyError(f"no adversarial distances for norm {norm!r}; the cube has "
                       f"{list(cube.adversarial)}")
    ki = cube.condition_index(sparsity, "clean", 0)
    return np.asarray(cube.adversarial[norm][:, ki], dtype=np.float64)


def _mode(labels: np.ndarray) -> np.ndarray:
    """Modal label along axis 0 (ties to the smallest label)."""
    top = int(labels.max()) + 1 if labels.size else 1
    counts = np.stack([(labels == c).sum(axis=0) for c in range(top)])
    return counts.argmax(axis=0)


def pie(
    cube: GeometryCube, *, sparsity: float | None = None, population: bool = False
) -> np.ndarray:
    """Pruning Identified Exemplars (Hooker et al. 2019).

    Parameters
    ----------
    sparsity : float, optional
        The pruned level; default the highest in the cube.
    population : bool
        False: per model, the pruned prediction differs from the dense one (``[M, N]`` bool).
        True: treat the cube's models as one population, as Hooker et al.: the modal label of
        the pruned models differs from the modal label of the dense models (``[N]`` bool).

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> cube = random_cube(sparsities=(0, 0.5), n=4)
    >>> pie(cube).shape, pie(cube, population=True).shape
    ((2, 4), (4,))
    """
    dense = _dense_index(cube)
    levels = _pruned(cube)
    if not levels:
        raise ValueError("the cube has no pruned condition (sparsity > 0)")
    if sparsity is None:
        idx = levels[-1][1]
    else:
        hits = [i for _, i in levels if i in cube.find_conditions(sparsity=sparsity)]
        if not hits:
            raise ValueError(f"no pruned level {sparsity!r}; valid: {[s for s, _ in levels]}")
        idx = hits[0]
    pred = cube.values("pred", condition=[dense, idx])
    if population:
        return _mode(pred[:, 1]) != _mode(pred[:, 0])
    return pred[:, 1] != pred[:, 0]


# ---------------------------------------------------------------------------- correlations
def _rank(a: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), like scipy's rankdata."""
    order = np.argsort(a, axis=-1, kind="stable")
    sorted_a = np.take_along_axis(a, order, axis=-1)
    n = a.shape[-1]
    ranks_sorted = np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), a.shape).copy()
    # average ties: for each run of equal values, replace by the mean rank
    new = np.ones(a.shape, dtype=bool)
    new[..., 1:] = sorted_a[..., 1:] != sorted_a[..., :-1]
    group = np.cumsum(new, axis=-1) - 1
    flat_group = group + (np.arange(int(np.prod(a.shape[:-1]))).reshape(a.shape[:-1])[..., None]
                          * n)
    sums = np.bincount(flat_group.ravel(), weights=ranks_sorted.ravel())
    counts = np.bincount(flat_group.ravel())
    mean_rank = (sums / np.maximum(counts, 1))[flat_group]
    out = np.empty_like(mean_rank)
    np.put_along_axis(out, order, mean_rank, axis=-1)
    return out


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=-1) / den
    return np.where(den > 0, r, np.nan)


# Peak bytes per (resample, sample) of the bootstrap: the indices, both resampled columns,
# and, for Spearman, the ranking's sort order, groups and ranks (tracemalloc measures 48 and
# 97 at 500 resamples of 2000 samples).
_BOOT_BYTES = {"pearson": 48, "spearman": 100}


def _free_memory() -> int | None:
    """Bytes of memory available now (Linux), else all of it (macOS), else None."""
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
    return None


def check_bootstrap(
    n: int, n_boot: int, caller: str, name: str, method: str = "spearman", *,
    what: str = "parameter",
) -> None:
    """Refuse a bootstrap of ``n_boot`` resamples of ``n`` samples that would not fit in the
    memory available now, before any of it is allocated (naming parameter ``name``).

    Examples
    --------
    >>> check_bootstrap(1000, 500, "correlations", "n_boot")  # 500,000 indices: fits anywhere
    """
    free = _free_memory()
    need = n_boot * n * _BOOT_BYTES[method]
    if free is not None and need > free:
        most = max(free // (n * _BOOT_BYTES[method]), 0)
        raise invalid(caller, name, f"at most {most} for {n} samples (the bootstrap would "
                      f"need about {need / 2**30:.1f} GiB; {free / 2**30:.1f} GiB are "
                      "available)", n_boot, what=what)


def correlation(
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "pearson",
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(r, lo, hi)``: Pearson or Spearman r with a percentile bootstrap CI.

    Samples with a NaN in ``x`` or ``y`` are dropped. r is NaN when either is constant.
    The bootstrap resamples (x, y) pairs ``n_boot`` times with ``numpy.random.default_rng(seed)``;
    ``ci=None`` or ``n_boot=0`` skips it (lo, hi = NaN).

    Examples
    --------
    >>> r, lo, hi = correlation(np.arange(5.0), np.arange(5.0) ** 2, method="spearman", ci=None)
    >>> r, bool(np.isnan(lo))
    (1.0, True)
    """
    if method not in CORR_METHODS:
        raise ValueError(f"unknown correlation method {method!r}; valid: {list(CORR_METHODS)}")
    if ci is not None and not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return np.nan, np.nan, np.nan
    prep = _rank if method == "spearman" else (lambda a: a)
    r = float(_pearson_rows(prep(x), prep(y)))
    if ci is None or n_boot == 0:
        return r, np.nan, np.nan
    check_bootstrap(x.size, n_boot, "correlation", "n_boot", method)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    rb = _pearson_rows(prep(x[idx]), prep(y[idx]))
    rb = rb[np.isfinite(rb)]
    if rb.size == 0:
        return r, np.nan, np.nan
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(rb, [alpha, 1 - alpha])
    return r, float(lo), float(hi)


class CorrelationTable(pd.DataFrame):
    """The paper's table: one row per (model, sparsity); ``rc-angle``, ``rc-l2``, ``rc-margin``.

    A pandas DataFrame (index: ``(model, sparsity)``) with columns ``rc-angle``, ``rc-angle lo``,
    ``rc-angle hi`` (and the same for ``rc-l2`` and ``rc-margin``) and ``n`` (samples used).
    ``attrs`` records the target, method, ci, layer and bootstrap size. In a notebook it
    renders as a coloured table of ``r [lo, hi]``.

    Examples
    --------
    >>> from geowidget.testing import random_cube
    >>> table = correlations(random_cube(corruptions=("fog",)), ci=None)
    >>> isinstance(table, CorrelationTable), list(table.columns[:2])
    (True, ['rc-angle', 'rc-angle lo'])
    """

    @property
    def _constructor(self) -> type:
        return CorrelationTable

    def _repr_html_(self) -> str:  # noqa: D401 -- notebook hook
        a = self.attrs
        cols = [c for c in GEOMETRY_COLUMNS if c in self.columns]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        rows = []
        for model, row in self.iterrows():
            cells = []
            for c in cols:
                r, lo, hi = row[c], row.get(f"{c} lo", np.nan), row.get(f"{c} hi", np.nan)
                colour = _diverging(r)
                ci_txt = "" if not np.isfinite(lo) else f" <small>[{lo:+.2f}, {hi:+.2f}]</small>"
                txt = "n/a" if not np.isfinite(r) else f"<b>{r:+.2f}</b>{ci_txt}"
                cells.append(f'<td style="background:{colour};text-align:center">{txt}</td>')
            n = int(row["n"]) if "n" in row and np.isfinite(row["n"]) else 0
            if isinstance(model, tuple):  # (model, sparsity)
                model = f"{model[0]} · {'dense' if model[1] == 0 else f'{model[1]:.0%}'}"
            rows.append(f"<tr><th>{html.escape(str(model))}</th>{''.join(cells)}<td>{n}</td></tr>")
        ci = a.get("ci")
        caption = (
            f"{html.escape(str(a.get('method', '')).title())} r between sample geometry "
            f"(layer {html.escape(str(a.get('layer', '')))}) and "
            f"{html.escape(str(a.get('target', '')))}"
            + (f"; {ci:.0%} bootstrap CI ({a.get('n_boot')} resamples)" if ci else "")
        )
        return (
            '<table class="geowidget-correlations" style="border-collapse:collapse">'
            f"<caption style='caption-side:top;text-align:left'>{caption}</caption>"
            f"<thead><tr><th>model</th>{head}<th>n</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def _diverging(r: float) -> str:
    """Blue for negative, red for positive r, white at 0 (alpha grows with |r|)."""
    if not np.isfinite(r):
        return "#eeeeee"
    rgb = (214, 39, 40) if r > 0 else (31, 119, 180)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{min(abs(r), 1.0) * 0.6:.2f})"


@validate_params({
    "cube": [Instance("geowidget.cube.GeometryCube")],
    "target": [Options(*TARGETS)],
    "method": [Options(*CORR_METHODS)],
    "ci": [None, Interval(float, 0, 1, closed="neither")],
    "layer": [None, str, Interval(int, None, None)],
    "n_boot": [Interval(int, 0, None)],
    "seed": SEED,
    "correct_only": [Boolean()],
    "sparsity": [None, Interval(float, 0, 1, closed="left"),
                 ListOf(Interval(float, 0, 1, closed="left"))],
})
def correlations(
    cube: GeometryCube,
    target: str = "robustness",
    method: str = "pearson",
    ci: float | None = 0.95,
    layer: str | int | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    correct_only: bool = False,
    sparsity: float | list[float] | None = 0.0,
) -> CorrelationTable:
    """Per model, r between (angle, L2 norm, margin) and robustness or pruning vulnerability.

    Parameters
    ----------
    cube : GeometryCube
    target : str
        ``"robustness"`` (:func:`robustness`), ``"vulnerability"`` (:func:`vulnerability`),
        ``"pruning_robustness"`` (:func:`pruning_robustness`) or ``"adversarial"``
        (:func:`adversarial`: the distance to the boundary in input space; samples without
        a measured distance are left out).
    method : str
        ``"pearson"`` or ``"spearman"``.
    ci : float or None
        Confidence level of the percentile bootstrap interval; None skips the bootstrap.
    layer : str or int, optional
        Layer whose geometry is used; default the cube's default layer
        (:attr:`geowidget.coords.Coords.default_layer`: ``"penultimate"`` when the cube has it,
        else the deepest layer).
    n_boot : int
        Bootstrap resamples; at least 1 unless ``ci=None``.
    seed : int
        Seed of the bootstrap.
    correct_only : bool
        Use only samples the model (at the row's sparsity) classifies correctly on clean data.
    sparsity : float, list of float, or None
        The model's sparsity (0: the dense model): the geometry is the pruned model's on clean
        data, and robustness is the pruned model's under the corruptions at that sparsity. A
        list gives one row per (model, sparsity); ``None`` every sparsity at which the target
        is defined. Pruning targets (``"vulnerability"``, ``"pruning_robustness"``) are scores
        of the whole sparsity sweep, so they take sparsity 0 only.

    Returns
    -------
    CorrelationTable
        Index: ``(model, sparsity)`` pairs (a pandas MultiIndex with levels ``model`` and
        ``sparsity``), whatever ``sparsity`` is: ``table.loc[("lenet", 0.0)]`` is a row and
        ``table.xs(0.0, level="sparsity")`` the table of the dense models. Columns
        ``rc-angle``, ``rc-l2``, ``rc-margin`` (angle in radians to the true class direction,
        L2 norm of the features, signed margin; on clean data at the row's sparsity), each
        with ``lo`` and ``hi`` columns, and ``n``.

    Examples
    --------
    >>> table = cube.correlations(target="robustness", method="spearman")  # doctest: +SKIP
    """
    if ci is not None and n_boot == 0:
        raise invalid("correlations", "n_boot", "at least 1 when ci is given (ci=None skips "
                      "the bootstrap)", n_boot)
    if layer is None:
        layer = cube.coords.default_layer
    li = cube.layer_index(layer)
    _dense_index(cube)
    if sparsity is None:
        levels = {"robustness": robust_levels(cube),  # where each target is defined
                  "adversarial": list(cube.sparsities)}.get(target, [0.0])
        levels = levels or [0.0]  # no corruption at all: robustness() says so below
    else:
        levels = ([float(sparsity)] if isinstance(sparsity, int | float)
                  else [float(level) for level in sparsity])
    if target not in ("robustness", "adversarial") and levels != [0.0]:
        raise invalid("correlations", "sparsity", f"0 with target={target!r} (a score of the "
                      "whole sparsity sweep, defined for the dense model)", sparsity)
    score = {"robustness": robustness, "vulnerability": lambda c, sparsity: vulnerability(c),
             "pruning_robustness": lambda c, sparsity: pruning_robustness(c),
             "adversarial": adversarial}[target]
    rows = []
    for level in levels:
        try:
            clean = cube.condition_index(level, "clean", 0)
        except KeyError:
            raise invalid("correlations", "sparsity", f"a sparsity of the cube's clean "
                          f"conditions {cube.sparsities}", level) from None
        y_all = score(cube, sparsity=level)
        geo = {metric: cube.values(metric, layer=[li], condition=[clean])[:, 0, 0]
               for metric in GEOMETRY_COLUMNS.values()}  # [M, N] each, one partition per model
        correct = cube.values("correct", condition=[clean])[:, 0] if correct_only else None
        for mi, model in enumerate(cube.models):
            keep = correct[mi] if correct is not None else np.ones(len(cube.labels), bool)
            row: dict[str, Any] = {"model": model, "sparsity": level}
            for col, metric in GEOMETRY_COLUMNS.items():
                x = geo[metric][mi][keep]
                r, lo, hi = correlation(x, y_all[mi][keep], method=method, ci=ci,
                                        n_boot=n_boot, seed=seed)
                row[col], row[f"{col} lo"], row[f"{col} hi"] = r, lo, hi
            finite = np.isfinite(geo["angle"][mi]) & np.isfinite(geo["norm"][mi])
            finite &= np.isfinite(geo["margin"][mi]) & np.isfinite(y_all[mi])
            row["n"] = int((keep & finite).sum())
            rows.append(row)
    rows.sort(key=lambda r: cube.models.index(r["model"]))  # stable: each model's levels in order
    table = CorrelationTable(pd.DataFrame(rows).set_index(["model", "sparsity"]))
    table.attrs.update(
        target=target, method=method, ci=ci, layer=cube.layers[li], n_boot=n_boot,
        correct_only=correct_only, sparsity=levels,
    )
    return table


def side_by_side(
    cube: GeometryCube,
    targets: tuple[str, ...] = ("robustness", "adversarial"),
    **kwargs: Any,
) -> pd.DataFrame:
    """One table of :func:`correlations` for several targets, side by side.

    Columns are ``(target, column)`` pairs, so corruption robustness and adversarial
    distance read across one row per model. ``kwargs`` go to :func:`correlations`.

    Examples
    --------
    >>> side_by_side(cube, method="spearman", correct_only=True)  # doctest: +SKIP
    """
    if unknown := [t for t in targets if t not in TARGETS]:
        raise invalid("side_by_side", "targets", f"names among {list(TARGETS)}", targets,
                      f"unknown {unknown}")
    return pd.concat({t: pd.DataFrame(correlations(cube, target=t, **kwargs)) for t in targets},
                     axis=1)
