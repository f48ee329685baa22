"""Training dynamics of each sample: when it is learned, how often it is forgotten, and how
that relates to its final geometry and robustness.

A training run in a cube is the set of models whose ``model_info`` has the same ``run``,
ordered by their ``step`` (what :class:`geowidget.GeometryTracker` records, and what a Study
over checkpoints builds). Per run and probe sample, from ``correct`` at the dense, clean
condition:

- learning step: the first recorded step from which the sample stays correct to the end of
  the run; NaN when it is wrong at the last step (never learned);
- forgetting events (Toneva et al., "An Empirical Study of Example Forgetting during Deep
  Neural Network Learning", ICLR 2019): the number of transitions from correct at one
  recorded step to wrong at the next. Toneva et al. count them on the training samples at
  every mini-batch; here they are counted on the probe set between recorded steps, so
  recording more often finds more of them. A sample learned and never forgotten is
  *unforgettable*.

:func:`forgetting_correlations` is the table of "Understanding Robustness Lottery" with
training dynamics as the target: per run, Spearman (default) or Pearson r between
forgetting events (or the learning step) and the final checkpoint's angle, L2 norm and
margin, and robustness where the cube has corrupted conditions, with bootstrap CIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geowidget._validation import Instance, Interval, validate_params
from geowidget.analysis.scores import GEOMETRY_COLUMNS, CorrelationTable, correlation, robustness

if TYPE_CHECKING:
    from geowidget.cube import GeometryCube

RUN_KEY, STEP_KEY = "run", "step"
DYNAMICS = ("forgetting_events", "learning_step")


# ---------------------------------------------------------------------------- arrays
def learning_step_of(correct: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """First step from which each sample stays correct: float64 ``[N]``, NaN if never.

    Parameters
    ----------
    correct : bool ndarray ``[S, N]``
        Correctness at ``S`` recorded steps, in training order.
    steps : ndarray ``[S]``
        The recorded steps, increasing.
    """
    correct = np.asarray(correct, dtype=bool)
    steps = np.asarray(steps, dtype=np.float64)
    if correct.ndim != 2 or steps.shape != correct.shape[:1]:
        raise ValueError(
            f"correct must be [S, N] with one row per step; got {correct.shape} for "
            f"{steps.shape[0]} steps"
        )
    stays = np.logical_and.accumulate(correct[::-1], axis=0)[::-1]  # correct from here on
    first = stays.argmax(axis=0)
    return np.where(stays[-1], steps[first], np.nan)


def forgetting_events_of(correct: np.ndarray) -> np.ndarray:
    """Transitions correct -> wrong between consecutive steps: int64 ``[N]``."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"correct must be [S, N], got shape {correct.shape}")
    return (correct[:-1] & ~correct[1:]).sum(axis=0, dtype=np.int64)


# ---------------------------------------------------------------------------- runs
def runs(cube: GeometryCube) -> dict[str, list[int]]:
    """Each run's model indices, ordered by step: ``{run: [model index, ...]}``.

    Models without ``run`` and ``step`` in their ``model_info`` belong to no run.
    """
    found: dict[str, list[tuple[int, int]]] = {}
    for i, info in enumerate(cube.model_info):
        if RUN_KEY in info and STEP_KEY in info:
            found.setdefault(str(info[RUN_KEY]), []).append((int(info[STEP_KEY]), i))
    if not found:
        raise ValueError(
            "the cube holds no training run: no model has 'run' and 'step' in its model_info; "
            "record one with geowidget.GeometryTracker or a Study over checkpoints"
        )
    out = {}
    for run, members in found.items():
        steps = [s for s, _ in sorted(members)]
        if len(set(steps)) != len(steps):
            raise ValueError(f"run {run!r} has two models at the same step: steps {steps}")
        out[run] = [i for _, i in sorted(members)]
    return out


def run_steps(cube: GeometryCube, run: str) -> np.ndarray:
    """The recorded steps of ``run``, ascending (int64)."""
    members = _members(cube, run)
    return np.array([cube.model_info[i][STEP_KEY] for i in members], dtype=np.int64)


def _members(cube: GeometryCube, run: str) -> list[int]:
    all_runs = runs(cube)
    if run not in all_runs:
        raise KeyError(f"unknown run {run!r}; valid: {list(all_runs)}")
    return all_runs[run]


def _clean(cube: GeometryCube) -> int:
    try:
        return cube.condition_index(0.0, "clean", 0)
    except KeyError:
        raise ValueError(
            "the cube has no dense clean condition (sparsity 0, benchmark 'clean'); "
            f"conditions: {[c.label for c in cube.conditions]}"
        ) from None


def learning_steps(cube: GeometryCube) -> dict[str, np.ndarray]:
    """Per run, each probe sample's learning step (float64 ``[N]``, NaN: never learned)."""
    k = _clean(cube)
    return {run: learning_step_of(cube.correct[idx, k], run_steps(cube, run))
            for run, idx in runs(cube).items()}


def forgetting_events(cube: GeometryCube) -> dict[str, np.ndarray]:
    """Per run, each probe sample's number of forgetting events (int64 ``[N]``)."""
    k = _clean(cube)
    return {run: forgetting_events_of(cube.correct[idx, k]) for run, idx in runs(cube).items()}


def _layer(cube: GeometryCube, layer: str | int | None) -> int:
    if layer is None:
        layer = "penultimate" if "penultimate" in cube.layers else len(cube.layers) - 1
    return cube.layer_index(layer)


def _final_robustness(cube: GeometryCube, final: int) -> np.ndarray | None:
    if not any(c.benchmark != "clean" and c.sparsity == 0 for c in cube.conditions):
        return None
    return robustness(cube)[final]


_CUBE_AND_LAYER = {"cube": [Instance("geowidget.cube.GeometryCube")],
                   "layer": [None, str, Interval(int, None, None)]}


@validate_params(_CUBE_AND_LAYER)
def training_scores(cube: GeometryCube, layer: str | int | None = None) -> pd.DataFrame:
    """One row per (run, sample): training dynamics next to the final checkpoint's geometry.

    Columns: ``run``, ``sample`` (id), ``label``, ``learning_step`` (NaN: never learned),
    ``forgetting_events``, ``learned`` (correct at the last step), ``unforgettable``
    (learned, never forgotten), and at the run's last step on clean data: ``angle``
    (radians, to the true class), ``norm``, ``margin`` (signed) at ``layer`` (default the
    penultimate layer), and ``robustness`` when the cube has corrupted conditions.
    """
    li, k = _layer(cube, layer), _clean(cube)
    learned_at, forgotten = learning_steps(cube), forgetting_events(cube)
    frames = []
    for run, idx in runs(cube).items():
        final = idx[-1]
        table: dict[str, Any] = {
            "run": run,
            "sample": cube.sample_ids,
            "label": cube.labels,
            "learning_step": learned_at[run],
            "forgetting_events": forgotten[run],
            "learned": cube.correct[final, k],
            "unforgettable": cube.correct[final, k] & (forgotten[run] == 0),
        }
        for metric in GEOMETRY_COLUMNS.values():
            table[metric] = getattr(cube, metric)[final, li, k]
        rob = _final_robustness(cube, final)
        if rob is not None:
            table["robustness"] = rob
        frames.append(pd.DataFrame(table))
    return pd.concat(frames, ignore_index=True)


@validate_params(_CUBE_AND_LAYER)
def forgetting_correlations(
    cube: GeometryCube,
    target: str = "forgetting_events",
    method: str = "spearman",
    ci: float | None = 0.95,
    layer: str | int | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> CorrelationTable:
    """Per run, r between a training dynamic and the final geometry (and robustness).

    Parameters
    ----------
    cube : GeometryCube
        Holds at least one training run (see :func:`runs`).
    target : str
        ``"forgetting_events"`` or ``"learning_step"`` (never-learned samples are left out).
    method : str
        ``"spearman"`` (default: forgetting counts are small integers with many ties) or
        ``"pearson"``.
    ci, n_boot, seed
        Percentile bootstrap, as :func:`geowidget.analysis.scores.correlation`.
    layer : str or int, optional
        Layer of the geometry; default ``"penultimate"`` when present, else the last.

    Returns
    -------
    CorrelationTable
        Index: runs. Columns ``rc-angle``, ``rc-l2``, ``rc-margin`` (angle in radians to the
        true class direction, L2 norm, signed margin, all at the run's last step on clean
        data) and ``rc-robustness`` when the cube has corrupted conditions, each with ``lo``
        and ``hi``; ``n`` (samples used). ``attrs["target"]`` names the dynamic.

    Examples
    --------
    >>> forgetting_correlations(tracker.cube())            # doctest: +SKIP
    """
    if target not in DYNAMICS:
        raise ValueError(f"unknown target {target!r}; valid targets: {list(DYNAMICS)}")
    scores = training_scores(cube, layer)
    columns = dict(GEOMETRY_COLUMNS)
    if "robustness" in scores:
        columns["rc-robustness"] = "robustness"
    rows = []
    for run, part in scores.groupby("run", sort=False):
        y = part[target].to_numpy(np.float64)
        row: dict[str, Any] = {"run": run}
        for col, source in columns.items():
            r, lo, hi = correlation(part[source].to_numpy(np.float64), y, method=method, ci=ci,
                                    n_boot=n_boot, seed=seed)
            row[col], row[f"{col} lo"], row[f"{col} hi"] = r, lo, hi
        finite = np.isfinite(part[list(columns.values())].to_numpy(np.float64)).all(axis=1)
        row["n"] = int((finite & np.isfinite(y)).sum())
        rows.append(row)
    table = CorrelationTable(pd.DataFrame(rows).set_index("run"))
    table.attrs.update(target=target.replace("_", " "), method=method, ci=ci,
                       layer=cube.layers[_layer(cube, layer)], n_boot=n_boot)
    return table


__all__ = [
    "DYNAMICS", "forgetting_correlations", "forgetting_events", "forgetting_events_of",
    "learning_step_of", "learning_steps", "run_steps", "runs", "training_scores",
]
