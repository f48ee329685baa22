"""The whole-cube views on a live cube: the evaluation table, the layer profile, robustness
colours and axes, the model map and the Explorer.

On a live cube these views show the cells computed so far, mark the others, ask the cube's
request worker for the few cells the shown pick needs, and refresh as cells arrive. The
independent computation is the same view of ``Study.run()``'s cube: a computed cell's numbers
equal it within rtol=1e-5, atol=1e-6 (float32 sums taken in another order); histograms are
checked against ``numpy.histogram``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget.study import Study
from tests.test_live import small_cnn

N = 60
RTOL, ATOL = 1e-5, 1e-6
KW = dict(layers=["pool_1", "fc1", "penultimate"], sparsities=(0.7,), corruptions=["fog"],
          severities=(1,), shard_size=30, batch_size=30, progress=False)
# conditions: 0 clean@0, 1 clean@0.7, 2 fog-1@0, 3 fog-1@0.7; layers 0 pool_1, 1 fc1, 2 penultimate


@pytest.fixture(scope="module")
def study_args() -> tuple[dict[str, nn.Module], tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    data = torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10
    return {"a": small_cnn(0), "b": small_cnn(1)}, data


@pytest.fixture(scope="module")
def run_cube(study_args) -> gw.GeometryCube:
    return Study(*study_args, **KW).run()


@pytest.fixture
def live(study_args):
    return Study(*study_args, **KW).live()


def wait(ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert time.time() < deadline, "timed out waiting for the live cube"
        time.sleep(0.02)


def test_the_table_shows_the_computed_cells_and_refreshes(live, run_cube) -> None:
    table = gw.EvaluationTable(live)
    want = gw.EvaluationTable(run_cube)
    g = table.grid
    assert live.live.stats["computed"] == 0  # the table computed nothing
    assert not table.computed().any() and np.isnan(g.accuracy).all()
    np.testing.assert_array_equal(g.condition, want.grid.condition)  # the cells are the cube's
    assert table._meta["live"] is True and not table._arrays["computed"].any()
    assert table.cell_info() == {} and not g.counts.any()
    # the clean column, every row (model x sparsity): its shared edges are the run's then
    layer = live.coords.default_layer
    for m in range(2):
        for k in (0, 1):
            live.cell(m, layer, k)
    wait(lambda: table.computed()[:, 0].all())
    g = table.grid
    done = table.computed()
    assert done[:, 0].all() and not done[:, 1:].any()
    np.testing.assert_array_equal(table._arrays["computed"], done.astype(np.uint8))
    np.testing.assert_allclose(g.accuracy[:, 0], want.grid.accuracy[:, 0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(g.edges[0], want.grid.edges[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(g.counts[:, 0], want.grid.counts[:, 0])
    for r, row in enumerate(g.rows):  # brute force: numpy.histogram of the run's cell
        k = int(g.condition[r, 0])
        values = run_cube.cell(row["model_index"], layer, k).margin
        assert g.counts[r, 0].tolist() == np.histogram(values[np.isfinite(values)],
                                                       g.edges[0])[0].tolist()
    assert np.isnan(g.accuracy[:, 1:]).all() and not g.counts[:, 1:].any()
    table.selected_cell = [1, 1]  # a cell not computed: it can be picked (views compute it)
    info = table.cell_info()
    assert info["computed"] is False and np.isnan(info["accuracy"])
    assert (table.model, table.condition) == (0, int(g.condition[1, 1]))
    # robustness: a cell needs every corrupted condition it averages over
    table.quantity = "robustness"
    assert not table.computed().any()
    live.cell(1, layer, 3)  # model b's fog at 0.7: its whole row at 0.7
    wait(lambda: table.computed().any())
    g, want = table.grid, gw.EvaluationTable(run_cube, quantity="robustness")
    row = next(i for i, r in enumerate(g.rows) if r["model"] == "b" and r["sparsity"] == 0.7)
    assert np.flatnonzero(table.computed().any(axis=1)).tolist() == [row]
    assert table.computed()[row].all()
    np.testing.assert_allclose(g.accuracy[row], want.grid.accuracy[row], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(g.counts[row], want.grid.counts[row])


def test_the_profile_asks_for_the_shown_layers_and_a_new_pick_supersedes(live,
                                                                       run_cube) -> None:
    requests = live.requests
    gate = threading.Event()
    original = live.live.parts

    def held(*args, **kwargs):  # the first cell waits until the new pick is made
        gate.wait(30)
        return original(*args, **kwargs)

    live.live.parts = held
    view = gw.LayerProfile(live, model="b", sparsity=0.7, benchmark="fog", severity=1)
    first = [(1, ly, 3) for ly in (2, 0, 1)]  # the shown layer (penultimate) first
    state = view._arrays["cell_state"]
    assert state.shape == (2, 3, 4) and [state[c] for c in first] == [2, 2, 2]  # computing
    assert np.isnan(view._arrays["profile"]).all()
    wait(lambda: requests.started == [first[0]])
    view.condition = 0  # model b, clean@0: the older sweep's cells are superseded
    second = [(1, ly, 0) for ly in (2, 0, 1)]
    gate.set()
    wait(lambda: requests.idle() and (view._arrays["cell_state"][1, :, 0] == 1).all())
    assert requests.finished == second  # the cells came through the requests, in order
    assert not {first[1], first[2]} & set(requests.started)  # never started
    assert first[0] not in requests.finished  # stopped at its first batch
    state = view._arrays["cell_state"]
    assert (state[1, :, 0] == 1).all() and (state[1, :, 3] == 0).all()
    assert state.sum() == 3
    want = gw.LayerProfile(run_cube)._arrays["profile"]
    got = view._arrays["profile"]
    np.testing.assert_allclose(got[1, :, 0], want[1, :, 0], rtol=RTOL, atol=ATOL)
    assert np.isnan(got[0]).all() and np.isnan(got[1, :, 1:]).all()
    np.testing.assert_array_equal(view.computed(), state == 1)
    # a cell computed by anyone else joins the lines too
    live.live.parts = original
    live.cell(0, 1, 2)
    wait(lambda: view._arrays["cell_state"][0, 1, 2] == 1)
    np.testing.assert_allclose(view._arrays["profile"][0, 1, 2], want[0, 1, 2], rtol=RTOL,
                               atol=ATOL)


def test_robustness_is_computed_when_shown(live, run_cube) -> None:
    polar = gw.PolarPlot(live, model="a", sparsity=0.7)
    levels = polar._meta["robust_levels"]
    assert "robustness" in polar._meta["color_fields"]
    assert levels["computed"] == [[False, False], [False, False]]
    assert np.isnan(polar._arrays["robustness"]).all() and live._requests is None
    polar.color_by = "robustness"  # asks for model a's fog outputs at 0.7
    wait(lambda: polar._meta["robust_levels"].get("computing") == 0
         and polar._meta["robust_levels"]["computed"][0][1])
    levels = polar._meta["robust_levels"]
    assert levels["computed"] == [[False, True], [False, False]] and levels["failed"] == ""
    assert live.requests.finished == [(0, polar.layer, 3)]
    want = gw.PolarPlot(run_cube, color_by="robustness")._arrays["robustness"]
    np.testing.assert_allclose(polar._arrays["robustness"][0, 1], want[0, 1], rtol=RTOL,
                               atol=ATOL)
    np.testing.assert_allclose(polar.current()["robustness"], want[0, 1], rtol=RTOL, atol=ATOL)
    assert np.isnan(polar._arrays["robustness"][1]).all()
    # the parallel coordinates' axes: empty until asked for
    par = gw.ParallelCoordinates(live, model="b", sparsity=0.0)
    assert [a["name"] for a in par._meta["axes"]][0] == "R(fog)"
    assert np.isnan(par.columns()["R(fog)"]).all() and len(live.requests.finished) == 1
    par.compute_robustness = True
    wait(lambda: par._meta["robust_levels"]["computed"][1][0])
    run_par = gw.ParallelCoordinates(run_cube, model="b", sparsity=0.0)
    np.testing.assert_allclose(par.columns()["R(fog)"], run_par.columns()["R(fog)"],
                               rtol=RTOL, atol=ATOL)
    assert live.requests.finished[-1] == (1, par.layer, 2)


def test_the_model_map_computes_the_cells_it_is_placed_by(live, run_cube) -> None:
    view = gw.ModelMap(live)
    layer = live.coords.default_layer
    done = live.computed()
    assert done.sum() == 2 and done[:, layer, 0].all()  # each model's cell, clean and dense
    assert view._meta["note"].startswith("live cube: placed by layer penultimate at clean@0")
    want = gw.ModelMap(run_cube)
    for name in ("x", "y", "c_accuracy"):
        np.testing.assert_allclose(view._arrays[name], want._arrays[name], rtol=RTOL, atol=ATOL)
    assert np.isnan(view._arrays["c_robustness"]).all()  # no corrupted condition computed
    assert np.isfinite(want._arrays["c_robustness"]).all()
    assert "not computed" in view._meta["robustness_missing"]
    for m in range(2):
        live.values("correct", [m], None, [2])  # the fog outputs at sparsity 0
    again = gw.ModelMap(live)
    np.testing.assert_allclose(again._arrays["c_robustness"], want._arrays["c_robustness"],
                               rtol=RTOL, atol=ATOL)


def test_the_live_explorer_shows_the_whole_cube_views(live) -> None:
    ex = gw.Explorer(live)
    kinds = [type(v).__name__ for v in ex.views()]
    assert kinds == ["EvaluationTable", "PolarPlot", "MarginHistogram", "ParallelCoordinates",
                     "LayerProfile", "ModelMap", "SamplePanel"]
    assert "robustness" in ex.color_picker.options and not ex.parallel.compute_robustness
    ex.polar.color_by = "robustness"
    assert ex.parallel.compute_robustness
    wait(lambda: live.requests.idle() and ex.profile.computed()[0, :, 0].all())
    wait(lambda: ex.table.computed()[0, 0])  # the table follows what the views computed
