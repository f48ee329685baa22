"""The evaluation table's data, checked cell by cell against cube slices and numpy.histogram."""

from __future__ import annotations

import numpy as np
import pytest

from geowidget.analysis.evaluation import QUANTITIES, evaluation_grid
from geowidget.cube import Condition, GeometryCube
from geowidget.testing import random_cube

CONDITIONS = [
    Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.9, "clean", 0),
    Condition(0.0, "fog", 3), Condition(0.0, "fog", 1), Condition(0.0, "noise", 2),
    Condition(0.5, "fog", 1),
]


def grid_cube(m: int = 3, n: int = 50, seed: int = 0) -> GeometryCube:
    cube = random_cube([f"net{i}" for i in range(m)], ["a", "b"], n=n, classes=list("wxyz"),
                       seed=seed, conditions=CONDITIONS)
    margin = cube.margin.copy()
    margin[0, 0, 3, :5] = np.nan  # undefined margins are left out of the histograms
    return cube.replace(margin=margin, model_info=[
        {"pruning": "magnitude" if i % 2 else "random"} for i in range(m)])


def brute_values(cube, quantity, model, layer, cond):
    if quantity != "robustness":
        s = cube.slice(model=model, layer=layer, sparsity=cond.sparsity,
                       benchmark=cond.benchmark, severity=cond.severity)
        return getattr(s, quantity).astype(np.float64)
    mi = cube.model_index(model)
    ks = [i for i, c in enumerate(cube.conditions) if c.sparsity == cond.sparsity
          and c.benchmark != "clean" and (cond.benchmark == "clean" or c.benchmark == cond.benchmark)]
    n = len(cube.labels)
    if not ks:  # no corrupted condition at this sparsity: robustness is undefined
        return np.full(n, np.nan)
    return np.array([np.mean([cube.correct[mi, k, x] for k in ks]) for x in range(n)])


def test_layout_rows_and_columns():
    cube = grid_cube()
    g = evaluation_grid(cube)
    assert [(r["model"], r["sparsity"]) for r in g.rows][:4] == [
        ("net0", 0.0), ("net0", 0.5), ("net0", 0.9), ("net1", 0.0)]
    assert g.rows[4]["label"] == "net1 · magnitude 50%" and g.rows[3]["label"] == "net1 · dense"
    assert [r["group"] for r in g.rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # clean first, then each benchmark with its severities side by side, ascending
    assert [c["label"] for c in g.columns] == ["clean", "fog-1", "fog-3", "noise-2"]
    assert [c["group"] for c in g.columns] == [0, 1, 1, 2]
    # the cube's condition of each cell, -1 where it was not evaluated
    for i, r in enumerate(g.rows):
        for j, c in enumerate(g.columns):
            hits = [k for k, cond in enumerate(CONDITIONS) if cond == Condition(
                r["sparsity"], c["benchmark"], c["severity"])]
            assert g.condition[i, j] == (hits[0] if hits else -1)
    assert (g.condition >= 0).sum() == 3 * len(CONDITIONS)


def test_accuracy_equals_the_slices():
    cube = grid_cube()
    g = evaluation_grid(cube)
    for i, r in enumerate(g.rows):
        for j in range(len(g.columns)):
            k = g.condition[i, j]
            if k < 0:
                assert np.isnan(g.accuracy[i, j])
                continue
            c = CONDITIONS[k]
            s = cube.slice(model=r["model"], sparsity=c.sparsity, benchmark=c.benchmark,
                           severity=c.severity)
            assert g.accuracy[i, j] == pytest.approx(s.correct.mean(), abs=1e-7)
    frame = g.to_pandas()
    assert frame.loc[("net2", 0.5), ("fog", 1)] == pytest.approx(g.accuracy[7, 1])


@pytest.mark.parametrize("quantity", QUANTITIES)
def test_histograms_equal_numpy_with_shared_bins(quantity):
    cube = grid_cube()
    g = evaluation_grid(cube, quantity=quantity, layer="b", bins=9)
    assert g.counts.shape == (9, 4, 9) and g.edges.shape == (4, 10)
    for j in range(len(g.columns)):
        column = []
        for i, r in enumerate(g.rows):
            k = g.condition[i, j]
            if k < 0:
                assert not g.counts[i, j].any()
                continue
            v = brute_values(cube, quantity, r["model"], "b", CONDITIONS[k])
            v = v[np.isfinite(v)]
            column.append(v)
            expected, _ = np.histogram(v, bins=g.edges[j])
            np.testing.assert_array_equal(g.counts[i, j], expected)
        values = np.concatenate(column)
        if quantity == "robustness":
            np.testing.assert_array_equal(g.edges[j], np.linspace(0, 1, 10))
        else:  # the bins span every cell of the column: no value falls outside
            assert g.edges[j, 0] == values.min() and g.edges[j, -1] == values.max()
            assert g.counts[:, j].sum() == values.size


def test_nan_margins_are_not_counted():
    g = evaluation_grid(grid_cube())
    j = [c["label"] for c in g.columns].index("fog-3")
    assert g.counts[0, j].sum() == 45 and g.counts[3, j].sum() == 50


def test_sort_orders_against_a_loop():
    cube = grid_cube(m=4, seed=3)
    g = evaluation_grid(cube)
    corrupted = np.array([c["benchmark"] != "clean" for c in g.columns])

    def model_scores(cols):
        out = []
        for m in range(4):
            cells = [g.accuracy[i, j] for i, r in enumerate(g.rows) if r["model_index"] == m
                     for j in range(len(g.columns)) if cols[j] and g.condition[i, j] >= 0]
            # a group's score: the mean of its rows' means
            rows = [np.mean([g.accuracy[i, j] for j in range(len(g.columns))
                             if cols[j] and g.condition[i, j] >= 0])
                    for i, r in enumerate(g.rows) if r["model_index"] == m
                    and any(cols[j] and g.condition[i, j] >= 0 for j in range(len(g.columns)))]
            assert cells
            out.append(np.mean(rows))
        return np.array(out)

    for name, cols in (("accuracy", np.ones(4, bool)), ("robustness", corrupted)):
        best_first = np.argsort(-model_scores(cols), kind="stable")
        expected = [i for m in best_first for i, r in enumerate(g.rows) if r["model_index"] == m]
        np.testing.assert_array_equal(g.row_orders[name], expected)
    groups = {0: [0], 1: [1, 2], 2: [3]}
    # a group's score: the mean of its columns' means (as for the rows above)
    ease = {gid: np.mean([np.nanmean(g.accuracy[:, j]) for j in cols])
            for gid, cols in groups.items()}
    expected = [j for gid in sorted(ease, key=lambda x: -ease[x]) for j in groups[gid]]
    np.testing.assert_array_equal(g.column_orders["difficulty"], expected)
    np.testing.assert_array_equal(g.row_orders["cube"], np.arange(12))


def test_dense_only_cube_has_one_row_per_model_and_is_small():
    cube = grid_cube(m=5).sel(sparsity=0.0)
    g = evaluation_grid(cube, bins=12)
    assert [r["label"] for r in g.rows] == [f"net{i}" for i in range(5)]
    assert g.counts.dtype == np.uint16
    assert g.nbytes() < 4096


def test_bad_input():
    cube = grid_cube()
    with pytest.raises(ValueError, match=r"The 'quantity' parameter of evaluation_grid must be one "
                       r"of \['margin', 'angle', 'norm', 'robustness'\]. Got 'avh' instead"):
        evaluation_grid(cube, quantity="avh")
    with pytest.raises(ValueError, match=r"'bins' parameter of evaluation_grid must be an int in "
                       r"\[1, 255\]. Got 0 instead"):
        evaluation_grid(cube, bins=0)
    with pytest.raises(KeyError, match=r"unknown layer 'c'; valid: \['a', 'b'\]"):
        evaluation_grid(cube, layer="c")
    with pytest.raises(TypeError, match="'cube' parameter of evaluation_grid must be"):
        evaluation_grid({"models": []})


# ---------------------------------------------------------------- the widget
def test_table_widget_sends_the_grid_and_follows_picks():
    import geowidget as gw
    from geowidget.widgets.codec import arrays_serialization

    cube = grid_cube()
    table = gw.EvaluationTable(cube, quantity="angle", sort_rows="accuracy")
    polar = gw.PolarPlot(cube)
    linked = gw.link(table, polar)
    g = table.grid
    np.testing.assert_array_equal(table._arrays["counts"], g.counts)
    assert table._arrays["counts"].dtype == np.uint8  # 50 samples: one byte per count
    np.testing.assert_array_equal(table._arrays["rows:accuracy"], g.row_orders["accuracy"])
    assert table._meta["conditions"] == polar._meta["conditions"]
    # a click (selected_cell) sets the model and condition here and in the linked polar plot
    r, c = 4, 1  # net1 at sparsity 0.5, fog-1
    table.selected_cell = [r, c]
    assert (table.model, table.condition) == (1, CONDITIONS.index(Condition(0.5, "fog", 1)))
    assert (polar.model, polar.condition) == (table.model, table.condition)
    assert table.cell_info()["accuracy"] == pytest.approx(g.accuracy[r, c])
    # a pick in the polar plot selects the matching cell
    polar.condition = CONDITIONS.index(Condition(0.0, "noise", 2))
    polar.model = 2
    assert table.selected_cell == [6, 3]
    # another quantity recomputes the histograms (in Python, once)
    table.quantity = "norm"
    assert table.grid.quantity == "norm" and table._meta["quantity"] == "norm"
    payload = arrays_serialization["to_json"](table._arrays)
    assert sum(len(v["buffer"]) for v in payload.values()) < 4096
    linked.unlink()


def test_table_widget_bad_input():
    import geowidget as gw

    cube = grid_cube()
    with pytest.raises(ValueError, match="'quantity' parameter of evaluation_grid must be one of"):
        gw.EvaluationTable(cube, quantity="loss")
    table = gw.EvaluationTable(cube)
    with pytest.raises(ValueError, match=r"The 'quantity' trait of EvaluationTable must be one of"):
        table.quantity = "loss"
    with pytest.raises(ValueError, match=r"'selected_cell' trait of EvaluationTable must be a cell "
                       r"the cube evaluated \(this one is empty\)"):
        table.selected_cell = [1, 2]
    with pytest.raises(ValueError, match=r"row < 9 and column < 4"):
        table.selected_cell = [9, 0]
    with pytest.raises(TypeError, match="must be a GeometryCube"):
        gw.EvaluationTable(np.zeros(3))
