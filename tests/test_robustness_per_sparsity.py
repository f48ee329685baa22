"""Robustness per (model, sparsity) wherever it is read: the scores table and the views.

Every value is checked against a brute-force loop over the cube's ``correct`` array: the
robustness of sample i for model m pruned to sparsity s is the fraction of the corrupted
conditions at s under which it is classified right; NaN where s has none.
"""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from geowidget.cube import Condition, GeometryCube
from geowidget.testing import random_cube
from geowidget.widgets.codec import decode

LEVELS = [0.0, 0.5, 0.9]
CORRUPTED = [("fog", 1), ("fog", 3), ("rotate", 2)]


def make_cube(grid: str = "full", m: int = 2, n: int = 20, seed: int = 0) -> GeometryCube:
    """Clean at every level; the corruptions at every level (full) or at sparsity 0 only."""
    conds = [Condition(s, "clean", 0) for s in LEVELS]
    conds += [Condition(s, b, v) for s in (LEVELS if grid == "full" else [0.0])
              for b, v in CORRUPTED]
    return random_cube(models=m, layers=["conv", "penultimate"], n=n, classes=["a", "b", "c"],
                       seed=seed, conditions=conds, sample_ids=np.arange(n) + 100).replace(
        models=[f"net{i}" for i in range(m)],
        model_info=[{"pruning": "global_magnitude"} for _ in range(m)])


def brute(cube: GeometryCube, mi: int, s: float, i: int, benchmark: str | None = None) -> float:
    """Robustness of sample i, model mi at sparsity s, by a loop over the conditions."""
    hits = [bool(cube.correct[mi, k, i]) for k, c in enumerate(cube.conditions)
            if c.sparsity == s and c.benchmark != "clean"
            and (benchmark is None or c.benchmark == benchmark)]
    return float(np.mean(hits)) if hits else float("nan")


def sent(w):
    """The view's `_arrays` as serialised for the browser."""
    state = w.get_state("_arrays")["_arrays"]
    return {k: decode({**v, "buffer": bytes(v["buffer"])}) for k, v in state.items()}


# ---------------------------------------------------------------------------- scores table
@pytest.mark.parametrize("grid", ["full", "dense-corrupted"])
def test_scores_per_sparsity_match_a_loop(grid: str) -> None:
    cube = make_cube(grid)
    # the default is the dense model, one row per (model, sample); the columns never change
    dense = cube.scores()
    assert len(dense) == 2 * 20 and (dense["sparsity"] == 0.0).all()
    assert list(dense.columns) == list(cube.scores(sparsity=None).columns)
    assert dense["robustness"].tolist() == pytest.approx(
        [brute(cube, mi, 0.0, i) for mi in range(2) for i in range(20)])
    # one pruned level: that pruned model's own robustness, NaN without corruptions there
    at = cube.scores(sparsity=0.5)
    want = [brute(cube, mi, 0.5, i) for mi in range(2) for i in range(20)]
    np.testing.assert_allclose(at["robustness"], want)
    assert np.isnan(want).all() == (grid != "full")
    # every level: one row per (model, sparsity, sample), each checked
    long = cube.scores(sparsity=None)
    assert len(long) == 2 * 3 * 20
    for _, row in long.iterrows():
        mi, i = cube.models.index(row["model"]), int(row["sample"]) - 100
        assert row["label"] == cube.labels[i]
        np.testing.assert_allclose(row["robustness"], brute(cube, mi, row["sparsity"], i))
        for name in ("fog", "rotate"):
            np.testing.assert_allclose(row[f"robustness:{name}"],
                                       brute(cube, mi, row["sparsity"], i, name))
    # the pruning scores are the whole sweep's: the same in each of a sample's rows
    for col in ("vulnerability", "breakdown_sparsity", "pie"):
        np.testing.assert_array_equal(long[long.sparsity == 0.9][col].to_numpy(),
                                      dense[col].to_numpy())
    pick = cube.scores(sparsity=[0.9, 0.0])
    assert pick["sparsity"].tolist() == ([0.9] * 20 + [0.0] * 20) * 2


def test_scores_refuses_an_unknown_sparsity() -> None:
    cube = make_cube()
    with pytest.raises(ValueError, match=r"The 'sparsity' parameter of GeometryCube.scores must "
                                         r"be None, or one or a list of the cube's sparsities "
                                         r"\[0.0, 0.5, 0.9\]. Got 0.7 instead"):
        cube.scores(sparsity=0.7)
    with pytest.raises(ValueError, match=r"'sparsity' parameter of GeometryCube.scores.*"
                                         r"Got \['x'\] instead"):
        cube.scores(sparsity=["x"])


# ---------------------------------------------------------------------------- views
@pytest.mark.parametrize("grid", ["full", "dense-corrupted"])
def test_polar_colour_is_the_shown_sparsitys_robustness(grid: str) -> None:
    cube = make_cube(grid)
    w = gw.PolarPlot(cube, color_by="robustness", model=1, sparsity=0.9, thumbnails=False)
    levels = w._meta["robust_levels"]
    assert levels["sparsities"] == LEVELS
    assert levels["evaluated"] == [True, grid == "full", grid == "full"]
    values = sent(w)["robustness"]  # [M, S, N], read at level[k] by the browser
    for k, c in enumerate(cube.conditions):
        for mi in range(2):
            row = values[mi, levels["level"][k]]
            np.testing.assert_allclose(row, [brute(cube, mi, c.sparsity, i) for i in range(20)])
    np.testing.assert_allclose(w.current()["robustness"],
                               [brute(cube, 1, 0.9, i) for i in range(20)])
    if grid != "full":  # never the dense model's value in its place
        assert np.isnan(w.current()["robustness"]).all()


@pytest.mark.parametrize("grid", ["full", "dense-corrupted"])
def test_parallel_axes_at_a_pruned_sparsity(grid: str) -> None:
    cube = make_cube(grid)
    w = gw.ParallelCoordinates(cube, model=0, sparsity=0.5, thumbnails=False)
    cols = w.columns()
    assert list(cols)[:2] == ["R(fog)", "R(rotate)"]
    for name in ("fog", "rotate"):
        np.testing.assert_allclose(cols[f"R({name})"],
                                   [brute(cube, 0, 0.5, i, name) for i in range(20)])
        assert np.isnan(cols[f"R({name})"]).all() == (grid != "full")
    fog = sent(w)["rob_0"]
    for j, s in enumerate(LEVELS):
        np.testing.assert_allclose(fog[1, j], [brute(cube, 1, s, i, "fog") for i in range(20)])


def test_model_map_points_are_coloured_by_their_own_sparsity() -> None:
    cube = make_cube("dense-corrupted")
    view = gw.ModelMap(cube, by="model_condition", sparsity=None, benchmark="clean")
    rob, arrays = view._colors["robustness"], sent(view)
    assert len(rob) == 2 * 3  # (model, clean condition at each sparsity)
    for p, (mi, k) in enumerate(zip(arrays["pm"], arrays["pk"], strict=True)):
        s = cube.conditions[k].sparsity
        want = np.mean([brute(cube, mi, s, i) for i in range(20)])  # NaN at 0.5 and 0.9
        np.testing.assert_allclose(rob[p], want)
        assert np.isnan(rob[p]) == (s > 0)


@pytest.mark.parametrize("grid", ["full", "dense-corrupted"])
def test_evaluation_table_robustness_rows_are_their_own_sparsitys(grid: str) -> None:
    cube = make_cube(grid)
    g = gw.EvaluationTable(cube, quantity="robustness", bins=5).grid
    for r, row in enumerate(g.rows):
        for c, col in enumerate(g.columns):
            if g.condition[r, c] < 0:
                continue
            bench = None if col["benchmark"] == "clean" else col["benchmark"]
            want = [brute(cube, row["model_index"], row["sparsity"], i, bench) for i in range(20)]
            expected = np.histogram(want, bins=g.edges[c])[0]  # NaN: in no bin
            np.testing.assert_array_equal(g.counts[r, c], expected)
            assert g.counts[r, c].sum() == (20 if np.isfinite(want).all() else 0)
