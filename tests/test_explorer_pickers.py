"""The Explorer's pickers (geowidget/widgets/pickers.py): sparsity, benchmark and severity
(sliders over long grids) and a checkpoint run's run + step; they set the polar plot's
condition and model through the cube's Coords and follow them when set elsewhere."""

from __future__ import annotations

import ipywidgets as ipw
import numpy as np
import pytest
import traitlets as t

import geowidget as gw
from geowidget.testing import random_cube
from geowidget.widgets.pickers import SLIDER_AT
from tests.test_live_views import wait

SPARSITIES = [round(i / 12, 4) for i in range(12)]
SEVERITIES = [1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def cube():
    return random_cube(models=2, layers=2, sparsities=SPARSITIES, corruptions=("fog", "noise"),
                       severities=SEVERITIES, n=12)


def position(cube, sparsity, benchmark, severity):
    """The condition's position by a loop over the cube's conditions (not through Coords)."""
    hits = [i for i, c in enumerate(cube.coords.conditions)
            if abs(c.sparsity - sparsity) < 1e-9 and c.benchmark == benchmark
            and c.severity == severity]
    assert len(hits) == 1, hits
    return hits[0]


def test_a_long_grid_gets_sliders_for_sparsity_and_severity(cube):
    ex = gw.Explorer(cube)
    c = ex.controls
    assert list(c) == ["model", "layer", "sparsity", "benchmark", "severity"]
    assert isinstance(c["sparsity"], ipw.SelectionSlider) and len(SPARSITIES) >= SLIDER_AT
    assert [v for _, v in c["sparsity"].options] == SPARSITIES
    # the labels: percents, as the browser's slider and the table rows write them (by hand)
    assert [t for t, _ in c["sparsity"].options] == [f"{100 * s:.0f}%" for s in SPARSITIES]
    assert isinstance(c["severity"], ipw.SelectionSlider)
    assert [v for _, v in c["benchmark"].options] == ["clean", "fog", "noise"]
    assert c["severity"].layout.display == "none"  # clean: one severity, the slider hides


def test_the_sliders_move_the_condition_to_the_picked_one(cube):
    ex = gw.Explorer(cube)
    c = ex.controls
    for benchmark, severities in (("clean", [0]), ("fog", SEVERITIES), ("noise", SEVERITIES)):
        c["benchmark"].value = benchmark
        for severity in severities:
            if benchmark != "clean":
                c["severity"].value = severity
            for sparsity in SPARSITIES:
                c["sparsity"].value = sparsity
                want = cube.coords.condition(sparsity, benchmark, severity)
                assert want == position(cube, sparsity, benchmark, severity)
                assert ex.polar.condition == want
                assert ex.histogram.condition == want  # the linked views follow
    # a benchmark picked keeps the severity shown
    c["benchmark"].value = "fog"
    c["severity"].value = 4
    c["benchmark"].value = "noise"
    assert ex.polar.condition == position(cube, SPARSITIES[-1], "noise", 4)
    assert c["severity"].value == 4 and c["severity"].layout.display is None


def test_the_sliders_follow_a_condition_set_elsewhere(cube):
    ex = gw.Explorer(cube)
    c = ex.controls
    for sparsity, benchmark, severity in ((SPARSITIES[7], "fog", 2), (SPARSITIES[3], "clean", 0),
                                          (SPARSITIES[11], "noise", 5)):
        ex.histogram.condition = position(cube, sparsity, benchmark, severity)  # via the link
        assert ex.polar.condition == ex.histogram.condition
        assert (c["sparsity"].value, c["benchmark"].value) == (sparsity, benchmark)
        assert c["severity"].value == severity
        assert c["severity"].layout.display == (None if benchmark != "clean" else "none")
    assert ex.polar.condition == position(cube, SPARSITIES[11], "noise", 5)  # no pick back


def test_a_short_grid_gets_dropdowns_and_names_a_single_severity():
    cube = random_cube(models=1, layers=1, sparsities=(0.0, 0.5, 0.9), corruptions=("fog",),
                       n=8)
    ex = gw.Explorer(cube)
    c = ex.controls
    assert list(c) == ["model", "layer", "sparsity", "benchmark"]
    assert isinstance(c["sparsity"], ipw.Dropdown)
    assert c["benchmark"].options == (("clean", "clean"), ("fog-3", "fog"))
    c["benchmark"].value = "fog"
    c["sparsity"].value = 0.5
    assert ex.polar.condition == position(cube, 0.5, "fog", 3)


def test_a_grid_that_is_not_full_takes_the_nearest_sparsity_with_the_benchmark():
    cube = random_cube(models=1, layers=1, sparsities=(0.0, 0.5, 0.9), corruptions=("fog",),
                       grid="dense-corrupted", n=8)
    ex = gw.Explorer(cube)
    ex.controls["sparsity"].value = 0.9
    ex.controls["benchmark"].value = "fog"  # fog only at sparsity 0
    assert ex.polar.condition == position(cube, 0.0, "fog", 3)
    assert ex.controls["sparsity"].value == 0.0  # the controls show what is shown


@pytest.fixture(scope="module")
def run_cube():
    base = random_cube(models=5, layers=1, n=10)
    steps = [30, 0, None, 20, 10]  # out of order; model 2 is of no run
    info = [{"run": "r", "step": s} if s is not None else {"architecture": "x"} for s in steps]
    return base.replace(models=["r/30", "r/0", "lone", "r/20", "r/10"], model_info=info)


def test_a_checkpoint_run_gets_a_run_picker_and_a_step_slider(run_cube):
    ex = gw.Explorer(run_cube)
    c = ex.controls
    assert list(c)[:3] == ["run", "step", "layer"]
    assert c["run"].options == (("r", 0), ("lone", 1))
    assert isinstance(c["step"], ipw.SelectionSlider)
    assert c["step"].options == (("0", 1), ("10", 4), ("20", 3), ("30", 0))  # by step
    assert ex.polar.model == 0 and c["step"].value == 0 and c["step"].label == "30"
    for label, model in (("0", 1), ("10", 4), ("20", 3)):
        c["step"].label = label
        assert ex.polar.model == model == run_cube.coords.index("model", f"r/{label}")
    c["run"].value = 1
    assert ex.polar.model == 2 and c["step"].layout.display == "none"
    c["run"].value = 0  # back from a model of no run: the run's first step
    assert ex.polar.model == 1 and c["step"].layout.display is None
    ex.histogram.model = 3  # set elsewhere: the step follows
    assert c["step"].label == "20" and c["run"].value == 0


def test_a_bad_value_from_python_or_the_browser_is_refused_and_the_pickers_keep_their_state(cube):
    ex = gw.Explorer(cube)
    ex.controls["sparsity"].value = SPARSITIES[4]
    before = {k: v.value for k, v in ex.controls.items()}
    k = len(cube.coords.conditions)
    with pytest.raises(t.TraitError, match=rf"condition.*0\.\.{k - 1}.*{k}"):
        ex.polar.condition = k
    sent = []
    ex.polar.send = lambda content, buffers=None: sent.append(content)
    ex.polar.set_state({"condition": k})  # as the browser would
    assert sent and sent[-1]["kind"] == "geowidget-error" and str(k) in sent[-1]["message"]
    assert ex.polar.condition == position(cube, SPARSITIES[4], "clean", 0)
    assert {k: v.value for k, v in ex.controls.items()} == before
    with pytest.raises(t.TraitError):  # a value off the grid cannot be put on a slider
        ex.controls["sparsity"].value = 0.123


def test_the_condition_dropdown_is_deprecated_but_still_picks(cube):
    ex = gw.Explorer(cube)
    with pytest.warns(DeprecationWarning, match=r'controls\["sparsity"\]'):
        old = ex.controls["condition"]
    assert "condition" not in ex.controls  # not shown
    k = position(cube, SPARSITIES[2], "fog", 5)
    old.value = k
    assert ex.polar.condition == k and ex.controls["severity"].value == 5
    ex.controls["severity"].value = 1
    assert old.value == position(cube, SPARSITIES[2], "fog", 1)
    with pytest.raises(KeyError, match="no control 'colour'; the controls are"):
        ex.controls["colour"]



def test_a_live_cube_gets_the_sliders_and_moving_them_computes_nothing():
    torch = pytest.importorskip("torch")
    from collections import OrderedDict

    from geowidget.study import Study

    torch.manual_seed(0)
    model = torch.nn.Sequential(OrderedDict(flat=torch.nn.Flatten(), fc1=torch.nn.Linear(16, 8),
                                            relu=torch.nn.ReLU(), fc=torch.nn.Linear(8, 3)))
    data = torch.rand(12, 1, 4, 4), torch.arange(12) % 3
    sparsities = [i / 12 for i in range(12)]
    live = Study({"a": model.eval()}, data, layers=["fc1", "penultimate"],
                 sparsities=sparsities, corruptions=["fog"], severities=SEVERITIES,
                 progress=False).live()
    ex = gw.Explorer(live)
    c = ex.controls
    assert isinstance(c["sparsity"], ipw.SelectionSlider)
    shown = [ex.polar.condition]
    c["sparsity"].value = c["sparsity"].options[7][1]
    shown.append(ex.polar.condition)
    c["benchmark"].value = "fog"
    shown.append(ex.polar.condition)
    c["severity"].value = 4
    final = position(live, sparsities[7], "fog", 4)
    assert ex.polar.condition == final
    shown.append(final)
    # the layer profile asks for the shown condition's layers (a newer pick supersedes the
    # older ones that have not started); nothing else of the grid is computed
    wait(live.requests.idle, timeout=120)
    computed = live.computed()
    assert set(np.flatnonzero(computed.any(axis=(0, 1)))) <= set(shown), shown
    assert computed[0, :, final].all()  # both layers of the last pick, for the profile
