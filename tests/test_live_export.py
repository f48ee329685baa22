"""Exporting a view of a live cube from a script (no kernel, no browser asking for cells): the
export computes the cells the view shows, so the page shows the picture asked for, and holds
only the computed cells (one packed row each). The independent computation is ``Study.run()``'s
cube: a page's cell equals it within rtol=1e-5, atol=1e-6 (float32 sums in another order)."""

from __future__ import annotations

import base64
import json
import re
import warnings

import numpy as np
import pytest

import geowidget as gw
from geowidget.analysis.depth import PROFILE_METRICS
from geowidget.study import Study
from tests import test_live_views as views
from tests.test_live import Unused
from tests.test_live_views import ATOL, KW, RTOL, N

study_args, run_cube = views.study_args, views.run_cube  # the fixtures: the same small study

# conditions: 0 clean@0, 1 clean@0.7, 2 fog-1@0, 3 fog-1@0.7


def page_state(path, view) -> dict:
    """The saved state of ``view`` in the page at ``path``."""
    page = path.read_text()
    return json.loads(re.search(r'id="geowidget-state">(.*?)</script>', page, re.S)[1])[
        "models"][view.model_id]


def saved(path, view) -> dict[str, np.ndarray]:
    """The arrays a page holds for ``view``, by their dotted path (``_slab.angle``, ...)."""
    model = page_state(path, view)
    out = {}
    for where, b64 in zip(model["buffer_paths"], model["buffers"], strict=True):
        spec = model["state"]
        for key in where[:-1]:
            spec = spec[key]
        out[".".join(map(str, where[:-1]))] = np.frombuffer(
            base64.b64decode(b64), spec["dtype"]).reshape(spec["shape"])
    return out


def test_an_exported_view_computes_the_cell_it_shows(study_args, run_cube, tmp_path) -> None:
    live = Study(*study_args, **KW).live()
    view = gw.PolarPlot(live, model="b", layer="fc1", sparsity=0.7, benchmark="fog", severity=1)
    assert not live.computed().any()
    path = view.to_html(tmp_path / "polar.html")
    want = np.zeros(live.computed().shape, bool)
    fc1 = live.layers.index("fc1")
    want[1, fc1, 3] = True  # the shown cell, and nothing else
    np.testing.assert_array_equal(live.computed(), want)
    got = saved(path, view)
    index = got["_computed.index"]
    np.testing.assert_array_equal(index, np.where(want, 0, -1))
    cell = run_cube.cell(1, fc1, 3)
    for name in ("angle", "norm", "margin", "angle_pred"):
        assert got[f"_slab.{name}"].shape == (1, N)  # one row: the computed cell only
        np.testing.assert_allclose(got[f"_slab.{name}"][0], getattr(cell, name), rtol=RTOL,
                                   atol=ATOL, err_msg=name)
    # the layer picker's probe accuracy: the computed cell's, the run's within rounding
    accuracy = page_state(path, view)["state"]["_meta"]["probe_accuracy"]
    assert accuracy[1][fc1][3] == pytest.approx(run_cube.probe_accuracy[1, fc1, 3], abs=1e-4)
    assert accuracy[0][fc1][3] is None  # not computed: no accuracy to show


def test_a_page_holds_the_computed_cells_only(study_args, run_cube, tmp_path) -> None:
    live = Study(*study_args, **KW).live()
    live.cell(0, 0, 2)
    live.cell(1, 2, 1)
    view = gw.MarginHistogram(live, model="a", layer="penultimate")  # clean@0
    assert live.layers[2] == "penultimate"
    got = saved(view.to_html(tmp_path / "hist.html"), view)
    index = got["_computed.index"]
    cells = sorted(zip(*np.nonzero(index >= 0), strict=True))
    assert cells == [(0, 0, 2), (0, 2, 0), (1, 2, 1)]
    assert sorted(index[index >= 0].tolist()) == [0, 1, 2]
    for cell in cells:  # each row is its cell's
        np.testing.assert_allclose(got["_slab.margin"][index[cell]], run_cube.cell(*cell).margin,
                                   rtol=RTOL, atol=ATOL)
    # 3 rows of N values per array: no NaN rows for the 21 cells not computed
    assert got["_slab.margin"].shape == (3, N)


def test_an_exported_layer_profile_computes_its_layers(study_args, run_cube, tmp_path) -> None:
    live = Study(*study_args, **KW).live()
    view = gw.LayerProfile(live, model="b", sparsity=0.7, benchmark="fog", severity=1)
    got = saved(view.to_html(tmp_path / "profile.html"), view)
    assert live.computed()[1, :, 3].all() and live.computed().sum() == 3
    np.testing.assert_array_equal(got["_arrays.cell_state"][1, :, 3], [1, 1, 1])
    want = gw.LayerProfile(run_cube, model="b", sparsity=0.7, benchmark="fog", severity=1)
    quantiles = np.stack([want.profile()[m] for m in PROFILE_METRICS], axis=2)  # [M, L, 3, Q]
    np.testing.assert_allclose(got["_arrays.profile"][1, :, 3], quantiles[1], rtol=RTOL,
                               atol=ATOL)
    assert np.isnan(got["_arrays.profile"][0]).all()  # model a: nothing computed, nothing drawn


def test_an_exported_table_shows_the_cells_its_linked_views_show(study_args, run_cube,
                                                                 tmp_path) -> None:
    live = Study(*study_args, **KW).live()
    table = gw.EvaluationTable(live)
    polar = gw.PolarPlot(live)
    pair = gw.link(table, polar)
    polar.model, polar.condition = 1, 1  # b at clean@0.7: the table follows
    assert (table.model, table.condition) == (1, 1)
    path = pair.to_html(tmp_path / "pair.html")
    assert live.computed()[1, live.coords.default_layer, 1]
    got = saved(path, table)
    want = gw.EvaluationTable(run_cube).grid
    r, c = table._cell_of(1, 1)
    assert got["_arrays.computed"][r, c] == 1
    np.testing.assert_allclose(got["_arrays.accuracy"][r, c], want.accuracy[r, c], rtol=RTOL)
    # the page's colour scale starts at chance, whatever is computed
    page = path.read_text()
    assert '"classes": 10' in page


def test_a_cell_that_cannot_be_computed_is_named_by_its_coordinates(tmp_path) -> None:
    import torch

    g = torch.Generator().manual_seed(0)
    data = torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10
    live = Study({"u": Unused()}, data, layers=["spare", "penultimate"], sparsities=(0.5,),
                 progress=False).live()
    view = gw.LayerProfile(live, model="u", sparsity=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        view.to_html(tmp_path / "p.html")
    text = [str(w.message) for w in caught if "exported without" in str(w.message)]
    assert text == [text[0]] and re.search(
        r"model 'u', layer 'spare', sparsity 50%, benchmark 'clean', severity 0: it could "
        r"not be computed \(LiveCellError", text[0])
    assert "(0, 0, 1)" not in text[0]
    # the other layer was computed all the same
    spare, head = (live.coords.index("layer", n) for n in ("spare", "penultimate"))
    assert live.computed()[0, head, 1] and not live.computed()[0, spare, 1]


def test_the_page_of_a_larger_live_cube_stays_small(tmp_path) -> None:
    """200 samples, 13 layers x 72 conditions (the review's cube shape): the page held five
    NaN arrays of 1,000 cells (5.4 MB); now the shown cell and the thumbnails."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers = [nn.Flatten(), *[m for _ in range(6) for m in (nn.Linear(16, 16), nn.ReLU())],
              nn.Linear(16, 10)]
    net = nn.Sequential(*layers).eval()
    data = torch.rand(200, 1, 4, 4), torch.arange(200) % 10
    names = [n for n, _ in net.named_modules() if n][:-1]
    live = Study({"net": net}, data, layers=names[:12] + ["penultimate"],
                 sparsities=np.linspace(0, 0.9, 12), corruptions=["gaussian_noise"],
                 severities=(1, 2, 3, 4, 5), progress=False, shard_size=200,
                 batch_size=200).live()
    assert live.computed().shape == (1, 13, 72)
    view = gw.PolarPlot(live)
    path = view.to_html(tmp_path / "p.html")
    got = saved(path, view)
    assert got["_slab.angle"].shape == (1, 200)
    assert path.stat().st_size < 600_000, path.stat().st_size
