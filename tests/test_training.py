"""Training dynamics (learning step, forgetting events) against brute-force loops, and their
correlation table against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from geowidget.analysis import training as tr
from tests.fixtures.synthetic import make_cube

# (run, step) of each model, deliberately out of order in the cube
MEMBERS = [("a", 0), ("b", 0), ("a", 5), ("b", 3), ("a", 2), ("b", 9), ("a", 7)]


@pytest.fixture(scope="module")
def cube():
    base = make_cube(m=len(MEMBERS), layers=2, n=80, seed=4)
    rng = np.random.default_rng(1)
    correct = base.correct.copy()
    correct[:, 0] = rng.random(correct[:, 0].shape) < 0.6  # clean condition: many flips
    info = [{"run": r, "step": s, "architecture": "Net"} for r, s in MEMBERS]
    return base.replace(correct=correct, model_info=info)


def brute_learning_step(row, steps):
    for k in range(len(row)):
        if all(row[k:]):
            return float(steps[k])
    return np.nan


def brute_forgetting(row):
    events = 0
    for t in range(len(row) - 1):
        if row[t] and not row[t + 1]:
            events += 1
    return events


def test_array_kernels_match_brute_force_loops():
    rng = np.random.default_rng(0)
    for s in (1, 2, 7):
        correct = rng.random((s, 300)) < 0.7
        correct[:, 0], correct[:, 1] = True, False  # always right, never right
        steps = np.cumsum(rng.integers(1, 5, s))
        learned = tr.learning_step_of(correct, steps)
        forgot = tr.forgetting_events_of(correct)
        for i in range(correct.shape[1]):
            expected = brute_learning_step(correct[:, i], steps)
            assert learned[i] == expected or (np.isnan(expected) and np.isnan(learned[i]))
            assert forgot[i] == brute_forgetting(correct[:, i])
        assert learned[0] == steps[0] and np.isnan(learned[1])
    assert tr.forgetting_events_of(np.array([[1], [0], [1], [0], [0], [1]], bool)).tolist() == [2]
    assert tr.learning_step_of(np.array([[1], [0], [1], [1]], bool), np.array([0, 4, 8, 9])
                               ).tolist() == [8.0]


def test_runs_are_grouped_and_ordered_by_step(cube):
    assert tr.runs(cube) == {"a": [0, 4, 2, 6], "b": [1, 3, 5]}
    assert tr.run_steps(cube, "a").tolist() == [0, 2, 5, 7]
    with pytest.raises(KeyError, match=r"unknown run 'c'; valid: \['a', 'b'\]"):
        tr.run_steps(cube, "c")


def test_cube_dynamics_match_brute_force(cube):
    learned, forgot = tr.learning_steps(cube), tr.forgetting_events(cube)
    k = cube.condition_index(0.0, "clean", 0)
    for run, idx in tr.runs(cube).items():
        steps = [cube.model_info[i]["step"] for i in idx]
        for n in range(80):
            row = [bool(cube.correct[i, k, n]) for i in idx]
            np.testing.assert_equal(learned[run][n], brute_learning_step(row, steps))
            assert forgot[run][n] == brute_forgetting(row)
    assert forgot["a"].max() >= 1 and np.isnan(learned["a"]).any()


def test_training_scores_table(cube):
    table = tr.training_scores(cube, layer="layer1")
    assert len(table) == 2 * 80 and list(table["run"].unique()) == ["a", "b"]
    a = table[table["run"] == "a"]
    final = 6  # model "a" at step 7
    np.testing.assert_array_equal(a["angle"], cube.angle[final, 1, 0])
    np.testing.assert_array_equal(a["margin"], cube.margin[final, 1, 0])
    np.testing.assert_array_equal(a["sample"], cube.sample_ids)
    # robustness: the fraction of corrupted conditions (here fog-3 alone) classified right
    np.testing.assert_array_equal(a["robustness"], cube.correct[final, 2].astype(float))
    np.testing.assert_array_equal(a["unforgettable"],
                                  a["learned"] & (a["forgetting_events"] == 0))
    np.testing.assert_array_equal(a["learned"], np.isfinite(a["learning_step"]))


@pytest.mark.parametrize("method", ["spearman", "pearson"])
@pytest.mark.parametrize("target", ["forgetting_events", "learning_step"])
def test_correlation_table_matches_scipy(cube, method, target):
    table = tr.forgetting_correlations(cube, target=target, method=method, ci=None)
    scores = tr.training_scores(cube)
    assert list(table.index) == ["a", "b"]
    assert table.attrs["target"] == target.replace("_", " ")
    ref = stats.spearmanr if method == "spearman" else stats.pearsonr
    for run in ("a", "b"):
        part = scores[scores["run"] == run]
        y = part[target].to_numpy(float)
        for col, source in [("rc-angle", "angle"), ("rc-l2", "norm"), ("rc-margin", "margin"),
                            ("rc-robustness", "robustness")]:
            x = part[source].to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y)
            expected = ref(x[ok], y[ok])[0]
            assert table.loc[run, col] == pytest.approx(expected, abs=1e-10), (run, col)
    assert (table["n"] <= 80).all()


def test_bootstrap_interval_brackets_r(cube):
    table = tr.forgetting_correlations(cube, n_boot=200)
    for col in ("rc-angle", "rc-margin"):
        assert (table[f"{col} lo"] <= table[col]).all() and (table[col] <= table[f"{col} hi"]).all()


def test_bad_input(cube):
    with pytest.raises(ValueError, match="the cube holds no training run"):
        tr.runs(make_cube())
    with pytest.raises(ValueError, match=r"unknown target 'loss'; valid targets: "
                       r"\['forgetting_events', 'learning_step'\]"):
        tr.forgetting_correlations(cube, target="loss")
    twice = cube.replace(model_info=[{"run": "a", "step": 1} for _ in MEMBERS])
    with pytest.raises(ValueError, match=r"run 'a' has two models at the same step"):
        tr.runs(twice)
    with pytest.raises(ValueError, match=r"correct must be \[S, N\] with one row per step"):
        tr.learning_step_of(np.ones((3, 4), bool), np.arange(2))


def test_model_map_draws_each_run_as_a_path_in_step_order(cube):
    from geowidget.widgets import ModelMap

    view = ModelMap(cube)
    # points are the cube's models in order; runs a: models 0, 4, 2, 6 and b: 1, 3, 5
    assert view._paths == [[0, 4, 2, 6], [1, 3, 5]]
    steps = view._arrays["c_step"]
    np.testing.assert_array_equal(steps, [s for _, s in MEMBERS])
    plain = ModelMap(make_cube(m=3))
    assert plain._paths == [] and "step" not in plain._meta["color_fields"]
