"""Bad input at the widgets' boundaries: constructor arguments, traits set from Python, state
sent by the browser. Each gets a clear error naming the parameter, and the view keeps its last
valid state (in the kernel and, for browser updates, in the browser too)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import geowidget as gw
from geowidget.widgets.codec import encode
from geowidget.widgets.data import IdIndex
from tests.fixtures.synthetic import make_cube


class Recorder:
    """Captures what the widget sends to the browser."""

    def __init__(self, widget):
        self.msgs = []
        widget.comm.send = lambda data=None, metadata=None, buffers=None: self.msgs.append(
            (data, buffers))

    def states(self):
        return [d["state"] for d, _ in self.msgs if d.get("method") == "update"]

    def errors(self):
        return [d["content"]["message"] for d, _ in self.msgs
                if d.get("method") == "custom" and d["content"].get("kind") == "geowidget-error"]


# ---------------------------------------------------------------------------- plain arrays
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"pred": [0, -1]}, ValueError, r"pred must be class indices >= 0, got -1 \(at position 1\)"),
    ({"norm": [1.0, -2.0]}, ValueError, r"norm must be lengths >= 0, got \[-2.0\] \(at positions "
                                        r"\[1\]\)"),
    ({"sample_ids": [7, 7]}, ValueError, r"sample_ids must be unique, got 1 repeated id\(s\), "
                                         r"e.g. \[7\]"),
    ({"angle": [10.0, 170.0]}, ValueError, r"angle must be radians in \[0, pi\], got values in "
                                           r"\[10, 170\] \(these look like degrees: pass "
                                           r"np.radians\(...\)\)"),
    ({"angle": [-0.5, 1.0]}, ValueError, r"angle must be radians in \[0, pi\], got values in "
                                         r"\[-0.5, 1\]$"),
    ({"angle_pred": [0.1, 200.0]}, ValueError, r"angle_pred must be radians in \[0, pi\]"),
    ({"labels": [0.5, 1.0]}, TypeError, r"labels must hold integer class indices"),
    ({"labels": ["a", "b"]}, TypeError, r"labels must be numeric, got dtype <U1"),
    ({"sample_ids": [0.5, 1.0]}, TypeError, r"sample_ids must be integers, got dtype float64"),
])
def test_polar_plot_refuses_impossible_arrays(kwargs, error, message):
    base = {"angle": [0.1, 0.2], "norm": [1.0, 2.0], "labels": [0, 1]}
    with pytest.raises(error, match=message):
        gw.PolarPlot(**{**base, **kwargs})


def test_nan_is_missing_not_an_error():
    w = gw.PolarPlot(angle=[np.nan, 0.2], norm=[1.0, np.nan], labels=[0, 1])
    assert w.current()["visible"].tolist() == [False, False]


def test_duplicate_sample_ids_in_a_cube_are_refused():
    cube = make_cube(n=6)
    cube.sample_ids = np.array([1, 2, 3, 3, 4, 5])
    with pytest.raises(ValueError, match=r"sample_ids must be unique, got 1 repeated id\(s\), "
                                         r"e.g. \[3\]"):
        gw.PolarPlot(cube)


# ---------------------------------------------------------------------------- keywords
@pytest.mark.parametrize("make", [
    lambda: gw.PolarPlot(angle=[0.1], norm=[1.0], colour="class"),
    lambda: gw.MarginHistogram(margin=[0.1], group="class"),
    lambda: gw.ParallelCoordinates(axes={"a": [1.0]}, axis={"b": [1.0]}),
    lambda: gw.ModelMap(xy=[[0, 0]], colour={"a": [1]}),
    lambda: gw.AttributionView(image=np.zeros((2, 2)), delta_angle=np.zeros((2, 2)),
                               delta_margin=np.zeros((2, 2)), field_="angle"),
])
def test_unknown_keywords_are_refused_with_the_valid_ones(make):
    with pytest.raises(TypeError, match=r"got unexpected keyword argument\(s\) \['\w+'\]; valid: "
                                        r"\[.*'height'.*'theme'"):
        make()


def test_explorer_with_wrong_model_map_positions_says_so():
    cube = make_cube(m=2, n=12)
    with pytest.raises(ValueError, match=r"The 'xy' parameter of ModelMap must have shape \[P, 2\]. "
                                         r"Got shape \(2, 3\) instead."):
        gw.Explorer(cube, xy=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"names has 2 entries for 3 points"):
        gw.Explorer(cube, xy=np.zeros((3, 2)))


@pytest.mark.parametrize(("name", "value", "message"), [
    ("height", -100, r"The 'height' trait of PolarPlot must be an int in \[60, 4000\]. Got -100"),
    ("height", 2.5, r"'height' trait of PolarPlot must be an int in \[60, 4000\]. Got 2.5"),
    ("point_size", float("nan"), r"'point_size' trait of PolarPlot must be a finite number in "
                                 r"\[0.5, 64\]. Got nan instead."),
    ("point_size", -3.0, r"'point_size' trait of PolarPlot must be a finite number in \[0.5, 64\]. "
                         r"Got -3.0 instead."),
    ("point_size", float("inf"), r"must be a finite number"),
    ("normalize", "yes", r"The 'normalize' trait of PolarPlot must be a bool. Got 'yes' instead."),
    ("model", -1, r"The 'model' trait of PolarPlot must be an int in \[0, inf\]. Got -1"),
    ("model", True, r"The 'model' trait of PolarPlot must be an int in \[0, inf\]. Got True"),
    ("layer", 99, r"The 'layer' trait of PolarPlot must be an index in 0..1 \(layers "
                  r"\['layer0', 'layer1'\]\). Got 99 instead."),
    ("condition", 3, r"The 'condition' trait of PolarPlot must be an index in 0..2"),
    ("classes", [0, 7], r"The 'classes' trait of PolarPlot must be class indices in 0..2"),
    ("palette", ["red"], r"The 'palette' trait of PolarPlot must be a list of hex colours"),
])
def test_invalid_traits_from_python_keep_the_last_value(name, value, message):
    w = gw.PolarPlot(make_cube(), height=300, point_size=4.0)
    before = getattr(w, name)
    with pytest.raises(ValueError, match=message):
        setattr(w, name, value)
    assert getattr(w, name) == before
    # as a constructor argument: the same error, or (model, layer: a name or an index) the
    # parameter's own; a position out of range, the cube's KeyError (its Coords resolves it)
    error, expect = ValueError, message
    if name in ("model", "layer"):
        error, expect = ((KeyError, rf"{name} index {value} out of range for 2 {name}s")
                         if value == 99 else (ValueError, rf"The '{name}' parameter of PolarPlot "
                                                           "must be"))
    with pytest.raises(error, match=expect):
        gw.PolarPlot(make_cube(), **{name: value})


@pytest.mark.parametrize(("state", "message"), [
    ({"layer": 99}, r"The 'layer' trait of PolarPlot must be an index in 0..1"),
    ({"model": -1}, r"The 'model' trait of PolarPlot must be an int in \[0, inf\]"),
    ({"point_size": None}, r"'point_size' trait of PolarPlot must be a finite number"),
    ({"layer": 1, "condition": 7}, r"The 'condition' trait of PolarPlot must be an index in 0..2"),
    ({"selected": {**encode(np.array([1000, 5, 1001], np.int32)), "buffer": memoryview(
        np.array([1000, 5, 1001], np.int32).tobytes())}},
     r"The 'selected' trait of PolarPlot must be ids of this view's samples .* Got 1 unknown "
     r"sample id\(s\), e.g. \[5\]"),
    ({"selected": {"buffer": memoryview(b"\x00" * 3), "dtype": "int32", "shape": [1]}},
     r"buffer holds 3 bytes but shape \[1\] of int32 needs 4"),
])
def test_invalid_state_from_the_browser_is_rolled_back_in_both(state, message):
    w = gw.PolarPlot(make_cube(), layer=1, condition=2)
    w.selected = [1002]
    rec = Recorder(w)
    w.set_state(state)  # what ipywidgets calls with an update from the browser
    assert (w.layer, w.condition, w.model, w.point_size) == (1, 2, 0, 3.0)  # all kept, even
    assert w.selected.tolist() == [1002]                   # the valid part of a mixed update
    sent = {k: v for st in rec.states() for k, v in st.items()}
    for key in state:  # the browser gets the kernel's values back
        if key == "selected":
            assert np.frombuffer(bytes(rec.msgs[-2][1][0]), np.int32).tolist() == [1002]
        else:
            assert sent[key] == getattr(w, key)
    (error,) = rec.errors()
    assert re.search(message, error), error


def test_a_valid_state_from_the_browser_is_applied_and_not_echoed_as_an_error():
    w = gw.PolarPlot(make_cube())
    rec = Recorder(w)
    w.set_state({"layer": 1, "classes": [2]})
    assert (w.layer, w.classes) == (1, [2])
    assert rec.errors() == []


# ---------------------------------------------------------------------------- selection
def test_selection_index_matches_brute_force_on_ranges_subsets_and_scattered_ids():
    rng = np.random.default_rng(3)
    cases = {
        "range": np.arange(500, 1500),
        "subset": np.sort(rng.choice(5000, 900, replace=False)) + 10,
        "scattered": rng.choice(2**30, 700, replace=False),  # too wide for the table
    }
    for name, ids in cases.items():
        index = IdIndex(ids)
        assert (index._table is None) == (name == "scattered")
        known = set(ids.tolist())
        sel = np.concatenate([rng.choice(ids, 300), [-5, 2**31 - 1, int(ids.max()) + 1]])
        got, unknown = index.canonical(sel.astype(np.int64))
        assert got.tolist() == sorted({v for v in sel.tolist() if v in known}), name
        assert sorted(unknown.tolist()) == sorted(v for v in sel.tolist() if v not in known)


def test_millions_of_selected_ids_are_checked_sorted_and_deduplicated():
    n = 3_000_000  # benchmarks/bench_selection.py times 10,000,000
    ids = np.arange(n, dtype=np.int64) + 7
    w = gw.widgets.SamplePanel.__new__(gw.widgets.SamplePanel)  # no cube: ids only
    gw.widgets.view.SampleView.__init__(w)
    w._wire_ids(ids)
    sel = ids[::-1][: n // 2].copy()  # descending, to be sorted
    w.selected = np.concatenate([sel, sel[:10]])  # with repeats
    assert w.selected.shape == (n // 2,) and w.selected[0] == n // 2 + 7
    assert np.all(np.diff(w.selected) == 1)
    with pytest.raises(ValueError, match=r"Got 1 unknown sample id\(s\), e.g. \[3\]"):
        w.selected = np.append(sel, 3)
