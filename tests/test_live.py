"""Live cubes (geowidget.live): cells computed on demand equal the cells of Study.run.

The run is the independent computation: it evaluates whole units (every layer and the
outputs in one pass per shard), a live cube one cell at a time, the first time it is read.
Floats are compared within rtol=1e-5, atol=1e-6 (float32 sums taken in another order), the
integer and boolean arrays exactly.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget.cube import ARRAYS, LAYER_PRED
from geowidget.engine.features import get_layer_names, sort_by_depth
from geowidget.live import ByteLRU, LiveCellError, LiveCube, ModelChangedError
from geowidget.live.requests import CellRequests, Superseded
from geowidget.study import Study

N, SHARD, BATCH = 60, 25, 16
RTOL, ATOL = 1e-5, 1e-6
KW = dict(layers=["pool_1", "fc1", "penultimate"], sparsities=(0.7,),
          corruptions=["fog"], severities=(1,), shard_size=SHARD, batch_size=BATCH,
          progress=False)


def small_cnn(seed: int = 0) -> nn.Module:
    """Named layers conv_1, relu_1, pool_1, flat, fc1, relu_2 and the head fc."""
    torch.manual_seed(seed)
    layers = {"conv_1": nn.Conv2d(1, 4, 3, padding=1), "relu_1": nn.ReLU(),
              "pool_1": nn.MaxPool2d(2), "flat": nn.Flatten(), "fc1": nn.Linear(144, 16),
              "relu_2": nn.ReLU(), "fc": nn.Linear(16, 10)}
    return nn.Sequential(collections.OrderedDict(layers)).eval()


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    return {"a": small_cnn(0), "b": small_cnn(1)}


@pytest.fixture(scope="module")
def run_cube(models, data) -> gw.GeometryCube:
    return Study(models, data, **KW).run()


@pytest.fixture(scope="module")
def full_live(models, data) -> LiveCube:
    """A live cube every cell of which was read once (the views of whole cubes read them)."""
    return Study(models, data, **KW).live()


def assert_cells_equal(got, want) -> None:
    for name in (*ARRAYS, "pred_model", "correct_model"):
        a, b = getattr(got, name), getattr(want, name)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_live_returns_at_once_and_cells_equal_the_run(full_live, run_cube) -> None:
    live = full_live
    assert isinstance(live, gw.GeometryCube) and live.live.stats["computed"] == 0
    assert live.computed().sum() == 0 and live.shape == run_cube.shape
    # probe layers and the head's layer, dense and pruned, clean and corrupted
    picks = [("a", "pool_1", 0.0, "clean", 0), ("b", "fc1", 0.7, "clean", 0),
             ("a", "penultimate", 0.7, "fog", 1), ("b", "pool_1", 0.7, "fog", 1)]
    for model, layer, sp, bench, sev in picks:
        got = live.slice(model=model, layer=layer, sparsity=sp, benchmark=bench, severity=sev)
        want = run_cube.slice(model=model, layer=layer, sparsity=sp, benchmark=bench,
                              severity=sev)
        assert_cells_equal(got, want)
    assert live.computed().sum() == len(picks)
    # a cell of a computed (model, condition) reuses its outputs: one layer part more
    before = dict(live.live.stats)
    live.slice(model="a", layer="fc1", sparsity=0.0)
    assert live.live.stats["computed"] - before["computed"] == -(-N // SHARD)  # one per shard
    # the rest on demand: the whole cube equals the run's, probe accuracy included (it
    # follows the computed cells, so it is compared once every cell is)
    for name in ARRAYS:
        np.testing.assert_allclose(live.values(name), run_cube.values(name), rtol=RTOL,
                                   atol=ATOL, err_msg=name)
    assert live.computed().all()
    assert live.equals(run_cube, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(live.probe_accuracy, run_cube.probe_accuracy, equal_nan=True)
    np.testing.assert_allclose(live.values(LAYER_PRED), run_cube.values(LAYER_PRED))


@pytest.mark.parametrize("kind", ["PolarPlot", "MarginHistogram", "ParallelCoordinates",
                                  "LayerProfile"])
def test_each_slab_view_sends_the_run_cells(models, data, run_cube, kind) -> None:
    live = Study(models, data, **KW).live()
    views = [getattr(gw, kind)(cube, budget=1) for cube in (live, run_cube)]  # cells on demand
    for m, ly, k in [(0, 0, 0), (1, 2, 3), (0, 1, 2)]:
        (meta_live, bufs_live), (meta_run, bufs_run) = (
            v._slice({"m": m, "l": ly, "k": k}, []) for v in views)
        assert "error" not in meta_live and meta_live["names"] == meta_run["names"]
        for name, spec, a, b in zip(meta_live["names"], meta_live["specs"], bufs_live,
                                    bufs_run, strict=True):
            a = np.frombuffer(a, spec["dtype"])
            b = np.frombuffer(b, spec["dtype"])
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{kind} {name}")


@pytest.mark.parametrize("kind", ["LayerProfile", "EvaluationTable", "ModelMap"])
def test_each_cube_view_sends_the_run_arrays(full_live, run_cube, kind) -> None:
    full_live.values("angle")  # every cell computed: these views show the computed ones
    views = [getattr(gw, kind)(cube) for cube in (full_live, run_cube)]
    a, b = (v._arrays for v in views)
    a = {k: v for k, v in a.items() if k not in ("cell_state", "computed")}  # live: all done
    # a slab view of a live cube sends no cell at once (they are compared above, one by one)
    assert set(a) <= set(b) and set(b) - set(a) <= {*ARRAYS, "angle_pred", "adversarial"}
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind in "fc":
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"{kind} {name}")
        else:
            np.testing.assert_array_equal(x, y, err_msg=f"{kind} {name}")


def test_layers_all_lists_every_layer_of_every_model(models, data) -> None:
    study = Study(models, data, layers="all", sparsities=(), progress=False)
    net = models["a"]
    want = sort_by_depth(net, [*get_layer_names(net), "penultimate"],
                         at={"penultimate": "fc:input"})
    assert study.plan.layers == want and "conv_1" in want
    assert want.index("penultimate") + 1 == want.index("fc")  # the head's input, then the head
    live = study.live()
    s = live.slice(model="b", layer="pool_1")
    assert s.angle.shape == (N,) and np.isfinite(s.norm).all()


class TupleOut(nn.Module):  # a layer whose output is not a tensor
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(144, 16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pair(x)[0])

    def pair(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.body(x.flatten(1)), x


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(144, 16)
        self.spare = nn.Linear(16, 16)  # never called by forward
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.fc1(x.flatten(1))))


def test_a_cell_that_cannot_be_computed_names_its_coordinates(data) -> None:
    live = Study({"u": Unused()}, data, layers=["spare", "penultimate"], sparsities=(),
                 progress=False).live()
    with pytest.raises(LiveCellError, match=r"model 'u', layer 'spare', condition clean") as e:
        live.slice(model="u", layer="spare")
    assert "spare" in str(e.value.__cause__) and "['fc1', 'spare', 'fc']" in str(e.value)
    # the cube stays usable: another layer computes
    assert live.slice(model="u", layer="penultimate").angle.shape == (N,)


def test_outside_the_grid_is_a_clear_error(models, data) -> None:
    live = Study(models, data, **KW).live()
    with pytest.raises(KeyError, match=r"0\.5"):
        live.slice(model="a", layer="fc1", sparsity=0.5)
    with pytest.raises(KeyError, match="severity"):
        live.slice(model="a", layer="fc1", benchmark="fog", severity=5)
    assert live.live.stats["computed"] == 0


def test_a_model_changed_after_live_is_refused(data) -> None:
    net = small_cnn(0)
    live = Study({"n": net}, data, layers=["fc1", "penultimate"], sparsities=(0.5,),
                 progress=False).live()
    before = live.slice(model="n", layer="fc1", sparsity=0.5).angle.copy()
    with torch.no_grad():
        net.fc1.weight.mul_(1.0)  # touched in place, same values: still the same model
    live.slice(model="n", layer="fc1", sparsity=0.0)
    with torch.no_grad():
        net.fc1.weight.add_(0.5)
    with pytest.raises(ModelChangedError, match=r"model 'n' changed after live\(\)"):
        live.values("angle")  # the cells not computed yet
    # cells computed before stay as they were (the live cube computes on its own copy)
    np.testing.assert_array_equal(live.slice(model="n", layer="fc1", sparsity=0.5).angle, before)


def test_the_cache_is_bounded_in_bytes(models, data) -> None:
    lru = ByteLRU(100)
    lru.put("a", {"x": np.zeros(10, np.float32)})  # 40 bytes
    lru.put("b", {"x": np.zeros(10, np.float32)})
    lru.get("a")  # a is now the most recent
    lru.put("c", {"x": np.zeros(10, np.float32)})
    assert lru.keys() == ["a", "c"] and lru.nbytes == 80
    lru.put("big", {"x": np.zeros(30, np.float32)})  # larger than the bound: not kept
    assert "big" not in lru and lru.nbytes == 80
    with pytest.raises(ValueError, match="cache_bytes"):
        ByteLRU(-1)
    cell = 4 * N * 7 + 4 * N  # a layer part (6 float32 + layer_pred) ... and more outputs
    live = Study(models, data, **KW).live(cache_bytes=3 * cell)
    for k in range(4):
        live.slice(model="a", layer="fc1", sparsity=0.0 if k < 2 else 0.7)
        live.cell(0, 1, k)
    assert live.live.cache.nbytes <= 3 * cell
    computed = live.live.stats["computed"]
    live.cell(0, 1, 0)  # evicted long ago: computed again, the same values
    assert live.live.stats["computed"] > computed


def test_the_store_is_reused_by_another_process(models, data, run_cube, tmp_path) -> None:
    torch.save({"models": {k: m.state_dict() for k, m in models.items()}, "data": data},
               tmp_path / "inputs.pt")
    script = f"""
import runpy, torch
here = runpy.run_path({__file__!r})
small_cnn, KW = here["small_cnn"], here["KW"]
from geowidget.study import Study
saved = torch.load({str(tmp_path / 'inputs.pt')!r})
models = {{}}
for k, sd in saved["models"].items():
    models[k] = small_cnn(); models[k].load_state_dict(sd)
live = Study(models, saved["data"], cache_dir={str(tmp_path / 'store')!r}, **KW).live()
live.slice(model="b", layer="fc1", sparsity=0.7, benchmark="fog", severity=1)
print(live.live.stats["computed"])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 0
    live = Study(models, data, cache_dir=tmp_path / "store", **KW).live()
    got = live.slice(model="b", layer="fc1", sparsity=0.7, benchmark="fog", severity=1)
    assert live.live.stats == {"computed": 0, "stored": 2 * -(-N // SHARD)}
    assert_cells_equal(got, run_cube.slice(model="b", layer="fc1", sparsity=0.7,
                                           benchmark="fog", severity=1))
    # and a run of the same study reads the live cube's parts
    study = Study(models, data, cache_dir=tmp_path / "store", **KW)
    study.run()
    assert study.part_stats["layers"]["fc1"]["cached"] >= -(-N // SHARD)


def test_requests_newest_pick_wins_and_superseded_are_not_computed(models, data) -> None:
    live = Study(models, data, **KW).live()
    requests = CellRequests(live.live)
    replies: dict[tuple, list] = {}
    gate = threading.Event()
    original = live.live.parts

    def slow_parts(*args, **kwargs):  # the first computation waits until the drag is over
        gate.wait(10)
        return original(*args, **kwargs)

    live.live.parts = slow_parts
    picks = [(0, ly, k) for ly in range(3) for k in range(2)]
    for cell in picks:  # one view drags across six conditions
        requests.submit("view", cell, lambda err, c=cell: replies.setdefault(c, []).append(err))
    gate.set()
    deadline = time.time() + 60
    while not requests.idle() and time.time() < deadline:
        time.sleep(0.01)
    last = picks[-1]
    assert replies[last] == [None] and live.live.ready(*last)
    assert len(requests.finished) <= 3 and requests.finished[-1] == last
    for cell in picks[1:-1]:
        assert isinstance(replies[cell][0], Superseded)
        assert cell not in requests.started or cell == requests.started[0]


def test_a_superseded_running_cell_stops_at_a_batch_and_restores_weights(models, data) -> None:
    live = Study(models, data, **KW).live()
    cancel = threading.Event()
    cancel.set()
    from geowidget.live import Cancelled

    with pytest.raises(Cancelled, match="superseded"):
        live.live.parts(0, 1, ["fc1"], cancel)  # sparsity 0.7: pruned in the worker's copy
    worker = live.live._worker
    for (name, p), q in zip(worker.models["a"].state_dict().items(),
                            models["a"].state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    assert not live.live.ready(0, 1, 1)


def test_a_view_answers_a_live_cell_from_the_worker_thread(models, data, run_cube) -> None:
    live = Study(models, data, **KW).live()
    view = gw.PolarPlot(live, budget=1)
    sent: list = []
    done = threading.Event()
    view.send = lambda content, buffers=None: (sent.append((content, buffers)), done.set())
    view._handle_custom_msg({"kind": "anywidget-command", "id": "r1", "name": "_slice",
                             "msg": {"m": 1, "l": 1, "k": 3}}, [])
    assert done.wait(60)
    content, buffers = sent[0]
    assert content["id"] == "r1" and content["response"]["cell"] == [1, 1, 3]
    names = content["response"]["names"]
    angle = np.frombuffer(buffers[names.index("angle")], np.float32)
    np.testing.assert_allclose(angle, run_cube.cell(1, 1, 3).angle, rtol=RTOL, atol=ATOL)
    # a computed cell is answered at once, on this thread, by the view itself
    assert view._slice({"m": 1, "l": 1, "k": 3}, [])[0]["cell"] == [1, 1, 3]
    assert isinstance(live, LiveCube)


def test_a_view_of_a_live_cube_asks_for_cells_and_its_page_holds_the_computed_ones(
        models, data, run_cube, tmp_path) -> None:
    import base64
    import json
    import re

    live = Study(models, data, **KW).live()
    view = gw.PolarPlot(live)  # small enough for the budget, yet nothing is computed
    assert view._meta["lazy"] is True and view._meta["live"] is True
    assert live.live.stats["computed"] == 0 and "angle" not in view._arrays
    live.cell(1, 2, 3)
    page = view.to_html(tmp_path / "live.html").read_text()
    # the export computed the cell the view shows (model a, penultimate, clean@0), nothing more
    want = np.zeros((2, 3, 4), bool)
    want[1, 2, 3] = want[0, 2, 0] = True
    np.testing.assert_array_equal(live.computed(), want)
    state = json.loads(re.search(r'id="geowidget-state">(.*?)</script>', page, re.S)[1])
    saved = state["models"][view.model_id]
    assert "_computed" in saved["state"] and "_slab" in saved["state"]
    paths = [".".join(map(str, p)) for p in saved["buffer_paths"]]
    buffers = dict(zip(paths, saved["buffers"], strict=True))
    index = np.frombuffer(base64.b64decode(buffers["_computed.index.buffer"]),
                          np.int32).reshape(2, 3, 4)
    np.testing.assert_array_equal(index >= 0, want)  # a row per computed cell, -1 elsewhere
    angle = np.frombuffer(base64.b64decode(buffers["_slab.angle.buffer"]), np.float32)
    assert angle.size == 2 * N  # only the computed cells travel
    for cell in [(1, 2, 3), (0, 2, 0)]:
        np.testing.assert_allclose(angle.reshape(2, N)[index[cell]], run_cube.cell(*cell).angle,
                                   rtol=RTOL, atol=ATOL)
    assert "not computed when this page was exported" in open(
        gw.__path__[0] + "/static/widgets.js").read()


def check_saved(path, run_cube) -> None:
    """The folder holds model a at conditions 0 and 2 with the cells (a, fc1, 0) and
    (a, penultimate, 2) equal to the run's, NaN (or 0) elsewhere."""
    fc1, pen = run_cube.layer_index("fc1"), run_cube.layer_index("penultimate")
    saved = gw.GeometryCube.open(path)
    assert saved.models == ["a"] and saved.layers == run_cube.layers
    assert saved.conditions == [run_cube.conditions[0], run_cube.conditions[2]]
    want = run_cube.sel(model="a")
    done = {(fc1, 0), (pen, 1)}  # (layer, saved condition) of the computed cells
    for name in ("angle", "angle_pred", "avh", "angle_gap", "norm", "margin"):
        got, ref = getattr(saved, name), getattr(want, name)[:, :, [0, 2]]
        for li in range(len(saved.layers)):
            for c in range(2):
                if (li, c) in done:
                    np.testing.assert_allclose(got[0, li, c], ref[0, li, c], rtol=RTOL,
                                               atol=ATOL, err_msg=name)
                else:
                    assert np.isnan(got[0, li, c]).all(), (name, li, c)
    for name in ("pred", "correct", "logit_margin"):  # the outputs of both conditions
        np.testing.assert_allclose(getattr(saved, name), getattr(want, name)[:, [0, 2]],
                                   rtol=RTOL, atol=ATOL, err_msg=name)
    np.testing.assert_array_equal(saved.labels, run_cube.labels)
    assert saved.layer_pred[0, fc1, 0].tolist() == want.layer_pred[0, fc1, 0].tolist()
    assert (saved.layer_pred[0, pen, 0] == 0).all()
    acc = saved.probe_accuracy
    assert acc[0, fc1, 0] == pytest.approx(want.probe_accuracy[0, fc1, 0], abs=1e-12)
    assert np.isnan(acc[0, pen, 0]) and np.isnan(acc[0, fc1, 1])


def test_save_writes_only_the_computed_cells(models, data, run_cube, tmp_path) -> None:
    live = Study(models, data, **KW).live()
    with pytest.raises(ValueError, match="no cell of this live cube was computed yet"):
        live.save(tmp_path / "empty")
    fc1, pen = run_cube.layer_index("fc1"), run_cube.layer_index("penultimate")
    live.cell(0, fc1, 0)
    live.cell(0, pen, 2)
    computed = live.live.stats["computed"]
    live.save(tmp_path / "cube")
    assert live.live.stats["computed"] == computed  # saving computed nothing
    check_saved(tmp_path / "cube", run_cube)
    # model b at another condition: the pairs (a, 1), (b, 0), (b, 2) have no outputs
    live.cell(1, fc1, 1)
    with pytest.raises(ValueError, match=r"\[\('a', 'clean@0.7'\), \('b', 'clean@0'\), \('b', 'fog-1@0'\)\]"
                       r".*live\.slice\('a', 'penultimate', 0.7, 'clean', 0\)"):
        live.save(tmp_path / "cube2")


def test_save_reads_cells_evicted_from_memory_back_from_the_store(models, data, run_cube,
                                                                  tmp_path) -> None:
    """No part fits a 1-byte memory bound: the computed cells live in the unit store only,
    and computed(), probe_accuracy and save() find them there (computing nothing)."""
    fc1, pen = run_cube.layer_index("fc1"), run_cube.layer_index("penultimate")
    live = Study(models, data, cache_dir=tmp_path / "store", **KW).live(cache_bytes=1)
    live.cell(0, fc1, 0)
    live.cell(0, pen, 2)
    assert len(live.live.cache) == 0
    want = np.zeros(live.computed().shape, bool)
    want[0, fc1, 0] = want[0, pen, 2] = True
    np.testing.assert_array_equal(live.computed(), want)
    acc = live.probe_accuracy
    assert acc[0, fc1, 0] == pytest.approx(run_cube.probe_accuracy[0, fc1, 0], abs=1e-12)
    assert np.isnan(acc[0, fc1, 1])
    stats = dict(live.live.stats)
    live.save(tmp_path / "cube")
    assert live.live.stats == stats  # nothing computed, nothing counted as read for a cell
    check_saved(tmp_path / "cube", run_cube)
    # without a store, an evicted cell is gone: not computed, and nothing to save
    gone = Study(models, data, **KW).live(cache_bytes=1)
    gone.cell(0, fc1, 0)
    assert not gone.computed().any()
    with pytest.raises(ValueError, match="no cell of this live cube was computed yet"):
        gone.save(tmp_path / "gone")


def test_a_cell_superseded_after_its_forward_pass_skips_the_geometry(models, data,
                                                                    monkeypatch) -> None:
    """The cancel flag is set by a forward hook on the last batch of the first shard: the
    forward pass ends, and no layer's geometry runs (a spy counts the calls)."""
    import geowidget.study.units as units
    from geowidget.engine.probe import ProbeFit
    from geowidget.live import Cancelled

    calls = []
    head_geometry, probe_geometry = units.geometry, ProbeFit.geometry
    monkeypatch.setattr(units, "geometry", lambda *a, **k: calls.append("head")
                        or head_geometry(*a, **k))
    monkeypatch.setattr(ProbeFit, "geometry", lambda self, *a, **k: calls.append("probe")
                        or probe_geometry(self, *a, **k))
    live = Study(models, data, **KW).live()
    worker = live.live._ready_worker("a")
    cancel, batches = threading.Event(), []

    def last_batch(module, args, output) -> None:
        batches.append(len(args[0]))
        if len(args[0]) == SHARD % BATCH:  # the forward pass of the first shard is over
            cancel.set()

    hook = worker.models["a"].register_forward_hook(last_batch)
    layers = ["penultimate", "fc1"]
    with pytest.raises(Cancelled, match="superseded"):
        live.live.parts(0, 1, layers, cancel)  # sparsity 0.7: pruned in the worker's copy
    assert batches == [BATCH, SHARD % BATCH] and calls == []
    for (name, p), q in zip(worker.models["a"].state_dict().items(),
                            models["a"].state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    hook.remove()
    live.live.parts(0, 1, layers)  # not cancelled: one geometry per layer and shard
    assert sorted(calls) == ["head"] * -(-N // SHARD) + ["probe"] * -(-N // SHARD)
    assert live.live.ready(0, live.layer_index("fc1"), 1)


def test_reading_many_cells_shows_a_bar_over_the_missing_ones(models, data, monkeypatch) -> None:
    import geowidget.live.arrays as arrays
    from geowidget.engine.progress import progress

    bars = []

    def spy(*args, **kwargs):
        bar = progress(*args, **kwargs)
        bars.append((kwargs, bar))
        return bar

    monkeypatch.setattr(arrays, "progress", spy)
    live = Study(models, data, **{**KW, "progress": True}).live()
    fc1 = live.layer_index("fc1")
    live.cell(0, fc1, 0)
    live.cell(1, fc1, 1)
    angle = live.angle  # every cell: 2 models x 3 layers x 4 conditions, 2 of them computed
    m, ly, k = len(live.models), len(live.layers), len(live.conditions)
    assert angle.shape == (m, ly, k, N) and not np.isnan(angle).all()
    kwargs, bar = bars[-1]
    assert kwargs["total"] == m * ly * k - 2 and not kwargs["disable"] and kwargs["unit"] == "cell"
    assert bar.n == m * ly * k - 2
    np.testing.assert_array_equal(live.angle, angle)  # nothing left to compute: no bar
    assert bars[-1][0]["total"] == 0 and bars[-1][0]["disable"]
    quiet, before = Study(models, data, **KW).live(), len(bars)  # progress=False: no bar
    quiet.sel(model="a", layer=["fc1", "pool_1"])
    assert bars[before][0]["total"] == 2 * k and bars[before][0]["disable"]
    assert all(kw["disable"] for kw, _ in bars[before:])


class FakeClock:
    """Seconds that move only when the test says: the settle of a drag, without a race."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeArrays:
    """A live backend whose cells compute in no time, except the ``blocked`` ones: they wait
    for the test to set ``gate``, and stop when cancelled, as a real cell does at its next
    operation."""

    layers = ["layer"]

    def __init__(self, blocked=()) -> None:
        self.blocked, self.gate = set(blocked), threading.Event()
        self.running: dict[tuple, threading.Event] = collections.defaultdict(threading.Event)
        self.done: set[tuple] = set()

    def ready(self, m, ly, k) -> bool:
        return (m, ly, k) in self.done

    def parts(self, m, k, parts, cancel):
        from geowidget.live import Cancelled

        cell = (m, 0, k)
        self.running[cell].set()
        while cell in self.blocked and not self.gate.is_set():
            if cancel.wait(0.01):
                raise Cancelled("superseded")
        self.done.add(cell)
        return {}


class Replies:
    """Each cell's replies, and an event per cell set by its first reply."""

    def __init__(self) -> None:
        self.got: dict[tuple, list] = collections.defaultdict(list)
        self.events: dict[tuple, threading.Event] = collections.defaultdict(threading.Event)

    def to(self, cell):
        return lambda err: (self.got[cell].append(err), self.events[cell].set())

    def wait(self, cell) -> list:
        assert self.events[cell].wait(30), f"no reply for {cell}"
        return self.got[cell]


def drag(requests, clock, replies, cells, interval=0.1, wait_first=False) -> None:
    """One view's picks of ``cells``, ``interval`` seconds apart by the clock."""
    for i, cell in enumerate(cells):
        requests.submit("view", cell, replies.to(cell), pick=True)
        if i == 0 and wait_first:  # a cell faster than the picks: done before the next
            replies.wait(cell)
        clock.now += interval


def settle(requests, clock, seconds) -> None:
    clock.now += seconds
    with requests._wake:  # the worker waits for the clock: let it look again
        requests._wake.notify_all()


def test_a_drag_faster_than_its_cells_computes_the_first_pick_and_the_last() -> None:
    """20 picks 100 ms apart, each cell done before the next pick: the first (a lone pick)
    and the last (once the view is quiet for SETTLE) are computed, the others superseded
    before they start."""
    from geowidget.live.requests import SETTLE

    clock, replies = FakeClock(), Replies()
    requests = CellRequests(FakeArrays(), clock=clock)
    picks = [(0, 0, k) for k in range(20)]
    drag(requests, clock, replies, picks, wait_first=True)
    last = picks[-1]
    assert requests.started == [picks[0]]  # the last pick waits: the view was not quiet
    clock.now -= 0.1  # back to the time of the last pick
    settle(requests, clock, SETTLE * 0.99)
    assert not replies.events[last].wait(0.3) and requests.started == [picks[0]]
    settle(requests, clock, SETTLE)
    assert replies.wait(last) == [None]
    assert requests.finished == requests.started == [picks[0], last]
    assert replies.got[picks[0]] == [None]
    for cell in picks[1:-1]:
        assert [type(e) for e in replies.got[cell]] == [Superseded], cell


def test_a_drag_slower_than_its_cells_stops_the_first_and_computes_the_last() -> None:
    clock, replies = FakeClock(), Replies()
    picks = [(0, 0, k) for k in range(20)]
    arrays = FakeArrays(blocked=[picks[0]])
    requests = CellRequests(arrays, clock=clock)
    requests.submit("view", picks[0], replies.to(picks[0]), pick=True)
    assert arrays.running[picks[0]].wait(30)  # a lone pick starts at once (the clock stands still)
    drag(requests, clock, replies, picks[1:])
    assert [type(e) for e in replies.wait(picks[0])] == [Superseded]  # stopped
    arrays.gate.set()
    settle(requests, clock, 1.0)
    assert replies.wait(picks[-1]) == [None]
    assert requests.started == [picks[0], picks[-1]] and requests.finished == [picks[-1]]
    assert all(type(replies.got[c][0]) is Superseded for c in picks[1:-1])


def test_a_lone_pick_and_other_requests_start_at_once() -> None:
    """The clock moves only where the test says: what starts, starts without a settle."""
    from geowidget.live.requests import SETTLE

    clock, replies = FakeClock(), Replies()
    requests = CellRequests(FakeArrays(), clock=clock)
    requests.submit("view", (0, 0, 0), replies.to((0, 0, 0)), pick=True)
    assert replies.wait((0, 0, 0)) == [None]  # a click, at time 0
    clock.now += SETTLE  # the view was quiet for SETTLE: its next pick is lone again
    requests.submit("view", (0, 0, 1), replies.to((0, 0, 1)), pick=True)
    assert replies.wait((0, 0, 1)) == [None]
    # a layer profile's cells (not picks; one owner per cell), asked twice: none delayed
    cells = [(0, 0, k) for k in range(2, 6)]
    for again in (0, 10):
        for i, cell in enumerate(cells):
            cell = (0, 0, cell[2] + again)
            requests.submit(("profile", i), cell, replies.to(cell))
        assert [replies.wait((0, 0, c[2] + again)) for c in cells] == [[None]] * 4
    # a pick half a settle after the view's previous one waits for the view to be quiet
    clock.now += SETTLE / 2
    requests.submit("view", (0, 0, 6), replies.to((0, 0, 6)), pick=True)
    assert not replies.events[(0, 0, 6)].wait(0.3) and (0, 0, 6) not in requests.started
    settle(requests, clock, SETTLE)
    assert replies.wait((0, 0, 6)) == [None]
    assert requests.started == [(0, 0, k) for k in (0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 6)]
    with pytest.raises(ValueError, match="settle must be a number of seconds >= 0, got -1"):
        CellRequests(FakeArrays(), settle=-1)


def restored(worker, models) -> None:
    for (name, p), q in zip(worker.models["a"].state_dict().items(),
                            models["a"].state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)


def test_a_superseded_cell_stops_inside_a_probe_fit(models, data, run_cube,
                                                    monkeypatch) -> None:
    """The flag is set in the 3rd L-BFGS evaluation of fc1's probe fit (a spy on the loss):
    the fit stops at its next operation, not at its end (hundreds of evaluations)."""
    from geowidget.live import Cancelled

    cancel, losses = threading.Event(), []
    loss = torch.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        losses.append(1)
        if len(losses) == 3:
            cancel.set()
        return loss(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    live = Study(models, data, **KW).live()
    with pytest.raises(Cancelled, match="superseded"):
        live.live.parts(0, 1, ["fc1"], cancel)  # sparsity 0.7: pruned in the worker's copy
    assert len(losses) == 3 and not live.live.ready(0, live.layer_index("fc1"), 1)
    restored(live.live._worker, models)
    live.live.parts(0, 1, ["fc1"])  # not cancelled: the fit runs to its end, as the run's
    assert len(losses) > 20
    np.testing.assert_allclose(live.cell(0, live.layer_index("fc1"), 1).angle,
                               run_cube.cell(0, run_cube.layer_index("fc1"), 1).angle,
                               rtol=RTOL, atol=ATOL)


def test_a_superseded_cell_stops_inside_a_layers_geometry(models, data, monkeypatch) -> None:
    """The flag is set while the head's geometry computes its class distances: the chunk
    loop that follows never runs (a spy on its angle step)."""
    import geowidget.engine.head_geometry as hg
    from geowidget.live import Cancelled

    cancel, steps = threading.Event(), []
    distances, exact = hg.pair_distances, hg._exact_where_flat
    monkeypatch.setattr(hg, "pair_distances", lambda w: (cancel.set(), distances(w))[1])
    monkeypatch.setattr(hg, "_exact_where_flat", lambda *a: steps.append(1) or exact(*a))
    live = Study(models, data, **KW).live()
    with pytest.raises(Cancelled, match="superseded"):
        live.live.parts(0, 1, ["penultimate"], cancel)
    assert steps == [] and len(live.live.cache) == 0
    restored(live.live._worker, models)
    live.live.parts(0, 1, ["penultimate"])
    assert len(steps) == 2 * -(-N // SHARD)  # true and predicted class, per shard


def wait_idle(requests) -> None:
    deadline = time.monotonic() + 30
    while not requests.idle():
        assert time.monotonic() < deadline, "the requests never went idle"
        time.sleep(0.01)


def test_neighbours_are_computed_ahead_and_give_way_to_a_request() -> None:
    """Once a pick is answered and the view is quiet, its neighbours are computed; a request
    stops the one running, and a pick of it joins it."""
    from geowidget.live.requests import SETTLE

    clock, replies = FakeClock(), Replies()
    arrays = FakeArrays(blocked=[(0, 0, 2)])  # the second neighbour of cell 0 waits
    ahead = lambda cell: [(0, 0, cell[2] + 1), (0, 0, cell[2] + 2)]  # noqa: E731
    requests = CellRequests(arrays, clock=clock, ahead=ahead)
    requests.submit("view", (0, 0, 0), replies.to((0, 0, 0)), pick=True)
    assert replies.wait((0, 0, 0)) == [None]
    assert not arrays.running[(0, 0, 1)].wait(0.3)  # not while the view may be dragged
    settle(requests, clock, SETTLE)
    assert arrays.running[(0, 0, 2)].wait(30)  # computed ahead, without a request
    assert requests.prefetched == [(0, 0, 1)] and requests.started == [(0, 0, 0)]
    clock.now += 1  # a lone pick of another cell stops it
    requests.submit("view", (0, 0, 5), replies.to((0, 0, 5)), pick=True)
    assert replies.wait((0, 0, 5)) == [None]
    settle(requests, clock, SETTLE)
    wait_idle(requests)
    assert requests.prefetched == [(0, 0, 1), (0, 0, 6), (0, 0, 7)]
    assert not arrays.ready(0, 0, 2) and requests.finished == [(0, 0, 0), (0, 0, 5)]
    # a pick of the cell being computed ahead joins it; a request that is not a pick is
    # answered but computes nothing ahead
    arrays.blocked = {(0, 0, 8)}
    requests.submit(object(), (0, 0, 3), replies.to((0, 0, 3)), pick=False)
    assert replies.wait((0, 0, 3)) == [None]
    clock.now += 1
    requests.submit("view", (0, 0, 7), replies.to((0, 0, 7)), pick=True)
    assert replies.wait((0, 0, 7)) == [None]
    settle(requests, clock, SETTLE)
    assert arrays.running[(0, 0, 8)].wait(30)
    requests.submit("other view", (0, 0, 8), replies.to((0, 0, 8)), pick=True)
    arrays.gate.set()
    assert replies.wait((0, 0, 8)) == [None]
    settle(requests, clock, SETTLE)
    wait_idle(requests)
    assert requests.finished == [(0, 0, 0), (0, 0, 5), (0, 0, 3), (0, 0, 7), (0, 0, 8)]
    assert requests.prefetched == [(0, 0, 1), (0, 0, 6), (0, 0, 7), (0, 0, 9), (0, 0, 10)]


def test_the_neighbours_of_a_cell(models, data) -> None:
    """Against a brute-force walk over the conditions: the next and the previous sparsity
    at the cell's benchmark and severity, then the corruption's next severity."""
    study = Study(models, data, **{**KW, "sparsities": (0.3, 0.7), "severities": (1, 2)})
    live = study.live()
    conds = live.conditions
    for k, here in enumerate(conds):
        same = [i for i, c in enumerate(conds)
                if (c.benchmark, c.severity) == (here.benchmark, here.severity)]
        up = [i for i in same if conds[i].sparsity > here.sparsity]
        down = [i for i in same if conds[i].sparsity < here.sparsity]
        want = [min(up, key=lambda i: conds[i].sparsity)] if up else []
        want += [max(down, key=lambda i: conds[i].sparsity)] if down else []
        if here.benchmark != "clean":
            worse = [i for i, c in enumerate(conds) if c.benchmark == here.benchmark
                     and c.sparsity == here.sparsity and c.severity > here.severity]
            want += [min(worse, key=lambda i: conds[i].severity)] if worse else []
        assert live._neighbours((1, 2, k)) == [(1, 2, i) for i in want], here
    fog1 = live.coords.condition(0.3, "fog", 1)
    assert live._neighbours((0, 0, fog1)) == [(0, 0, live.coords.condition(0.7, "fog", 1)),
                                              (0, 0, live.coords.condition(0, "fog", 1)),
                                              (0, 0, live.coords.condition(0.3, "fog", 2))]


class FakeView:
    """What CellRequests.answer uses of a view: its request check, its answer and send."""

    def __init__(self) -> None:
        self.replies = Replies()

    def _cell_request(self, msg):
        return msg["m"], msg["l"], msg["k"]

    def _slice(self, msg, buffers):
        return {"cell": [msg["m"], msg["l"], msg["k"]]}, []

    def send(self, content, buffers=None) -> None:
        self.replies.to(content["id"])(content["response"])

    def pick(self, requests, k: int) -> bool:
        return requests.answer(self, {"kind": "anywidget-command", "id": f"k{k}",
                                      "name": "_slice",
                                      "msg": {"m": 0, "l": 0, "k": k, "pick": True}})


def test_a_pick_of_a_computed_cell_supersedes_the_views_waiting_pick() -> None:
    """The view answers a computed cell itself, at once; the pick it replaces is answered
    superseded and never computed, and the computed cell's neighbours are computed ahead."""
    from geowidget.live.requests import SETTLE

    clock, view = FakeClock(), FakeView()
    arrays = FakeArrays()
    arrays.done.add((0, 0, 3))
    requests = CellRequests(arrays, clock=clock, ahead=lambda c: [(0, 0, c[2] + 1)])
    assert view.pick(requests, 1)  # lone: computed at once, answered by the worker
    assert view.replies.wait("k1") == [{"cell": [0, 0, 1]}]
    clock.now += 0.05
    assert view.pick(requests, 2)  # dragged on: waits for the view to be quiet
    clock.now += 0.05
    assert not view.pick(requests, 3)  # computed: the view answers it itself
    assert view.replies.wait("k2")[0]["superseded"] is True
    settle(requests, clock, SETTLE)
    wait_idle(requests)
    assert requests.started == [(0, 0, 1)] and requests.prefetched == [(0, 0, 4)]
    assert not arrays.ready(0, 0, 2)


def test_a_notebook_read_stops_a_cell_computed_ahead(models, data, run_cube) -> None:
    """The neighbour computed ahead waits (inside its computation, holding the cube's lock)
    until it is stopped: the notebook's read stops it instead of waiting for it."""
    from geowidget.live.requests import SETTLE

    clock, replies = FakeClock(), Replies()
    live = Study(models, data, **KW).live()
    requests = CellRequests(live.live, clock=clock, ahead=lambda cell: [(0, 0, 1)])
    compute, running = live.live._compute, threading.Event()

    def held(mi, ki, missing, cancel):
        if (mi, ki) == (0, 1) and cancel is not None:  # the cell computed ahead
            running.set()
            cancel.wait(30)
        return compute(mi, ki, missing, cancel)

    live.live._compute = held
    requests.submit("view", (0, 0, 0), replies.to((0, 0, 0)), pick=True)
    assert replies.wait((0, 0, 0)) == [None]
    settle(requests, clock, SETTLE)
    assert running.wait(30)
    got = live.cell(1, 2, 3)  # the notebook reads another cell: it stops the one ahead
    np.testing.assert_allclose(got.angle, run_cube.cell(1, 2, 3).angle, rtol=RTOL, atol=ATOL)
    wait_idle(requests)
    assert requests.prefetched == [] and not live.live.ready(0, 0, 1)


def test_inputs_that_are_not_finite_are_refused_at_each_read(models, data) -> None:
    """Each shard's inputs are checked until they pass once (a live cube reads them for every
    cell): a NaN sample fails every read, naming it."""
    x, y = data
    bad = x.clone()
    bad[SHARD + 5, 0, 0, 0] = float("nan")  # in the second shard
    live = Study(models, (bad, y), **KW).live()
    for _ in range(2):
        with pytest.raises(LiveCellError, match=rf"samples \[{SHARD + 5}\] hold NaN"):
            live.cell(0, live.layer_index("penultimate"), 0)  # the head's layer: no probe
    assert live.live._checked == {0}  # the first shard passed; the second never did


def test_at_exit_the_worker_stops_its_running_cell_and_ends() -> None:
    """A daemon thread inside a torch operation when the interpreter finalizes aborts the
    process, so at exit (``_stop_workers``) each worker stops its cell and ends."""
    from geowidget.live.requests import _WORKERS

    clock, replies = FakeClock(), Replies()
    arrays = FakeArrays(blocked=[(0, 0, 0)])
    requests = CellRequests(arrays, clock=clock)
    assert requests in _WORKERS
    requests.submit("view", (0, 0, 0), replies.to((0, 0, 0)))
    requests.submit("other", (0, 0, 1), replies.to((0, 0, 1)))
    assert arrays.running[(0, 0, 0)].wait(30)
    thread = requests._thread
    requests.stop()
    assert not thread.is_alive() and requests.idle()
    assert not arrays.done and replies.got == {}  # stopped, nothing else started, no reply
    with pytest.raises(RuntimeError, match="request worker was stopped"):
        requests.submit("view", (0, 0, 2), replies.to((0, 0, 2)))


def test_probes_are_fitted_on_a_copy_not_the_users_model(data, run_cube) -> None:
    # the probes' fit runs on the request worker's thread: a hook the notebook puts on its own
    # model after live() (to inspect it) must never see the cube's batches, and the pruned
    # copy the worker evaluates at that moment must not be what the probe is fitted on
    model = small_cnn(0)
    live = Study({"a": model, "b": small_cnn(1)}, data, **KW).live()
    live.slice(model="a", layer="penultimate", sparsity=0.0)  # the worker's copies exist now
    seen = []
    hook = model.fc1.register_forward_hook(lambda m, a, out: seen.append(out.shape[0]))
    try:
        # pool_1 and fc1 are probed layers: their probes are fitted first, inside a pruned unit
        for layer in ("pool_1", "fc1"):
            got = live.slice(model="a", layer=layer, sparsity=0.7)
            assert_cells_equal(got, run_cube.slice(model="a", layer=layer, sparsity=0.7))
    finally:
        hook.remove()
    assert seen == []
