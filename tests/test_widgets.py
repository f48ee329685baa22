"""Python side of the widgets: traits, selection sync (front end simulated), slicing, bad input."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

import geowidget as gw
from geowidget.widgets.codec import decode, encode
from geowidget.widgets.data import MAX_POINTS, sprite_atlas
from tests.fixtures.synthetic import make_cube


def arrays(w):
    """Decode the synced `_arrays` trait exactly as it is serialised for the browser."""
    state = w.get_state("_arrays")["_arrays"]
    return {k: decode({**v, "buffer": bytes(v["buffer"])}) for k, v in state.items()}


class Recorder:
    def __init__(self, widget):
        self.msgs = []
        widget.comm.send = lambda data=None, metadata=None, buffers=None: self.msgs.append(
            (data, buffers))


# ---------------------------------------------------------------------------- data on the wire
def test_cube_slab_is_sent_once_in_c_order_and_wire_dtypes():
    cube = make_cube(m=2, layers=2, n=30)
    w = gw.PolarPlot(cube)
    a = arrays(w)
    assert a["angle"].dtype == np.float32 and a["angle"].shape == (2, 2, 3, 30)
    assert a["pred"].dtype == np.int32 and a["pred"].shape == (2, 3, 30)
    assert a["labels"].dtype == np.uint8 and "ids" not in a  # ids are the range 1000..1029
    assert w._meta["ids_start"] == 1000
    for m, ly, k in [(0, 0, 0), (1, 1, 2), (1, 0, 1)]:
        c = cube.conditions[k]
        s = cube.slice(m, ly, c.sparsity, c.benchmark, c.severity)
        flat = a["angle"].reshape(-1)[((m * 2 + ly) * 3 + k) * 30:][:30]  # js/src/store.ts offset
        np.testing.assert_array_equal(flat, s.angle)
        np.testing.assert_array_equal(a["norm"][m, ly, k], s.norm)
        np.testing.assert_array_equal(a["pred"][m, k], s.pred)
    np.testing.assert_array_equal(a["labels"], cube.labels)
    assert w._meta["shape"] == [2, 2, 3, 30] and w._meta["lazy"] is False
    # 4 bytes per point per metric (+ per-sample labels and ids)
    assert a["angle"].nbytes == 4 * cube.angle.size


def test_per_sample_overhead_ids_and_wide_labels():
    w = gw.PolarPlot(angle=[0.1, 0.2, 0.3], norm=[1, 2, 3], sample_ids=[5, 9, 2])
    a = arrays(w)
    assert a["ids"].tolist() == [5, 9, 2] and w._meta["ids_start"] is None
    w2 = gw.PolarPlot(angle=[0.1, 0.2], norm=[1, 2], labels=[0, 299])
    assert arrays(w2)["labels"].dtype == np.int32 and arrays(w2)["labels"].tolist() == [0, 299]


def test_arrays_not_given_are_stood_in_for_by_the_browser_not_sent():
    rng = np.random.default_rng(0)
    theta, rho = rng.uniform(0, 3, 40), rng.uniform(0, 5, 40)
    labels = rng.integers(0, 4, 40)
    w = gw.PolarPlot(angle=theta, norm=rho, labels=labels, thumbnails=False)
    assert set(arrays(w)) == {"labels", "angle", "norm"}
    assert w._meta["stand_ins"] == {"margin": "nan", "pred": "labels", "angle_pred": "angle"}
    # Python keeps what the browser puts in their place
    cell = w.cell()
    assert np.isnan(cell["margin"]).all()
    np.testing.assert_array_equal(cell["pred"], labels)
    np.testing.assert_array_equal(cell["angle_pred"], cell["angle"])
    assert w._slab.nbytes() == 4 * (2 * 40 + 2 * 40)  # angle, norm; labels and ids
    content, bufs = w._slice({"m": 0, "l": 0, "k": 0}, [])
    assert content["names"] == ["angle", "norm"] and len(bufs) == 2
    # given arrays travel, and nothing stands in for them
    margin, pred = rng.normal(size=40), rng.integers(0, 4, 40)
    full = gw.PolarPlot(angle=theta, norm=rho, labels=labels, margin=margin, pred=pred,
                        angle_pred=theta[::-1], thumbnails=False)
    a = arrays(full)
    assert full._meta["stand_ins"] == {}
    np.testing.assert_array_equal(a["margin"][0, 0, 0], margin.astype(np.float32))
    np.testing.assert_array_equal(a["pred"][0, 0], pred)
    np.testing.assert_array_equal(a["angle_pred"][0, 0, 0], theta[::-1].astype(np.float32))
    assert gw.PolarPlot(make_cube(n=10))._meta["stand_ins"] == {}


def test_the_browser_gets_a_view_whole_in_one_message(monkeypatch):
    """The comm opens once the constructor has run: its first message carries the data, and
    no update follows for what the constructor set."""
    import ipywidgets.widgets.widget as widget_module

    opened = []

    class Comm:
        kernel = None

        def __init__(self, **kwargs):
            opened.append(kwargs)
            self.comm_id = f"c{len(opened)}"

        def on_msg(self, *_):
            pass

        def send(self, *args, **kwargs):
            raise AssertionError("a message after the comm opened")

    monkeypatch.setattr(widget_module.comm, "create_comm", lambda **kw: Comm(**kw))
    w = gw.PolarPlot(angle=[0.1, 0.2], norm=[1.0, 2.0], labels=[0, 1], layer=0,
                     color_by="norm", thumbnails=False)
    mine = [o for o in opened if o["data"]["state"].get("_kind") == "polar"]
    assert len(mine) == 1 and w.comm is not None
    state = mine[0]["data"]["state"]
    assert state["color_by"] == "norm" and state["_meta"]["shape"] == [1, 1, 1, 2]
    assert ["_arrays", "angle", "buffer"] in mine[0]["data"]["buffer_paths"]
    with pytest.raises(ValueError, match="at least angle"):
        gw.PolarPlot(labels=[0, 1])
    assert len([o for o in opened if o["data"]["state"].get("_kind") == "polar"]) == 1


def test_thumbnail_atlas_tiles_match_the_images():
    imgs = (np.arange(7 * 5 * 4) % 251).astype(np.uint8).reshape(7, 5, 4)
    atlas, info = sprite_atlas(imgs)
    assert info == {"cols": 3, "h": 5, "w": 4, "channels": 1}
    assert atlas.shape == (15, 12, 1)
    for i in range(7):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(atlas[r * 5:(r + 1) * 5, c * 4:(c + 1) * 4, 0], imgs[i])
    w = gw.PolarPlot(make_cube(n=10))
    assert arrays(w)["atlas"].dtype == np.uint8 and w._meta["thumbs"]["cols"] == 4


def test_pickers_by_name_and_hold_sync_batches_updates():
    cube = make_cube()
    w = gw.PolarPlot(cube, model="net1", layer="layer1", sparsity=0.5)
    assert (w.model, w.layer, w.condition) == (1, 1, 1)
    w2 = gw.PolarPlot(cube, benchmark="fog")  # one severity of fog: none needed
    assert w2.condition == 2 and gw.PolarPlot(cube, benchmark="fog", severity=3).condition == 2
    rec = Recorder(w)
    with w.hold_sync():
        w.model, w.layer, w.condition = 0, 0, 2
    assert len(rec.msgs) == 1
    assert rec.msgs[0][0]["state"] == {"model": 0, "layer": 0, "condition": 2}


# ---------------------------------------------------------------------------- selection
def test_selection_from_the_frontend_reaches_python():
    cube = make_cube(n=20)
    w = gw.PolarPlot(cube)
    seen = []
    w.observe(lambda ch: seen.append(ch["new"].tolist()), "selected")
    ids = np.array([1003, 1001, 1003], np.int32)
    # what the browser sends: {buffer, dtype, shape} with the bytes as a memoryview
    w.set_state({"selected": {"buffer": memoryview(ids.tobytes()), "dtype": "int32",
                              "shape": [3]}})
    assert w.selected.tolist() == [1001, 1003]
    assert seen == [[1001, 1003]]


def test_selection_from_python_is_encoded_for_the_browser():
    w = gw.PolarPlot(make_cube(n=20))
    rec = Recorder(w)
    w.selected = [1005, 1002]
    (data, buffers), = rec.msgs
    sent = data["state"]["selected"]
    assert sent["dtype"] == "int32" and sent["shape"] == [2]
    assert np.frombuffer(bytes(buffers[0]), np.int32).tolist() == [1002, 1005]


def test_selection_rejects_unknown_ids_and_non_integers():
    w = gw.PolarPlot(make_cube(n=10))
    with pytest.raises(ValueError, match=r"The 'selected' trait of PolarPlot must be ids of this "
                                         r"view's samples \(10 of them, e.g. \[1000, 1001, 1002, "
                                         r"1003, 1004\]\). Got 1 unknown sample id\(s\), e.g. \[5\]"):
        w.selected = [1000, 5]
    with pytest.raises(ValueError, match=r"integer sample ids"):
        w.selected = [1000.5]
    with pytest.raises(ValueError, match=r"an int array of sample ids. Got an array of dtype <U1"):
        w.selected = ["a"]
    assert w.selected.tolist() == []  # every refused value left the selection as it was


# ---------------------------------------------------------------------------- lazy slices
def test_above_the_budget_slices_are_served_on_demand():
    cube = make_cube(m=2, layers=2, n=50)
    w = gw.PolarPlot(cube, budget=1000)
    assert w._meta["lazy"] is True
    assert set(arrays(w)) - {"robustness"} == {"labels", "atlas"}  # no slab arrays
    content, bufs = w._slice({"m": 1, "l": 0, "k": 2}, [])
    assert content["cell"] == [1, 0, 2]
    assert content["names"] == ["angle", "angle_pred", "norm", "margin", "pred"]
    got = {n: decode({**s, "buffer": bytes(b)}) for n, s, b in
           zip(content["names"], content["specs"], bufs, strict=True)}
    np.testing.assert_array_equal(got["angle"], cube.angle[1, 0, 2])
    np.testing.assert_array_equal(got["pred"], cube.pred[1, 2])
    # exported HTML has no kernel: the page answers _slice from the slab saved beside the view
    state = gw.widgets.export.export_state([w])["models"][w.model_id]
    assert state["state"]["_meta"]["lazy"] is True
    assert "angle" not in state["state"]["_arrays"]
    idx = state["buffer_paths"].index(["_slab", "norm", "buffer"])
    np.testing.assert_array_equal(
        np.frombuffer(base64.b64decode(state["buffers"][idx]), np.float32).reshape(2, 2, 3, 50),
        cube.norm)


@pytest.mark.parametrize(("msg", "error"), [
    ({"m": 5, "l": 0, "k": 0}, r"IndexError: slice request index 'm' must be an int in 0..1, got 5"),
    ({"m": "0", "l": 0, "k": 0}, r"index 'm' must be an int in 0..1, got '0'"),
    ({"m": None, "l": 0, "k": 0}, r"index 'm' must be an int in 0..1, got None"),
    ({"m": 0, "l": float("nan"), "k": 0}, r"index 'l' must be an int in 0..1, got nan"),
    ({"m": 0, "l": 0, "k": float("inf")}, r"index 'k' must be an int in 0..2, got inf"),
    ({"m": 0, "l": 0, "k": 10**30}, r"index 'k' must be an int in 0..2, got 10000"),
    ({"m": [0], "l": 0, "k": 0}, r"index 'm' must be an int in 0..1, got \[0\]"),
    ({"m": True, "l": 0, "k": 0}, r"index 'm' must be an int in 0..1, got True"),
    ("slice", r"TypeError: a slice request is \{'m': int, 'l': int, 'k': int\}, got 'slice'"),
    (None, r"a slice request is .* got None"),
])
def test_every_slice_request_gets_a_reply(msg, error):
    w = gw.PolarPlot(make_cube(m=2, layers=2, n=10), budget=100)
    rec = Recorder(w)
    # as the browser sends it: anywidget's command message, answered by anywidget's dispatcher
    w._handle_custom_msg({"id": "req-1", "kind": "anywidget-command", "name": "_slice",
                          "msg": msg}, [])
    (data, buffers), = rec.msgs
    content = data["content"]
    assert content["id"] == "req-1" and content["kind"] == "anywidget-command-response"
    assert re.search(error, content["response"]["error"]), content["response"]["error"]
    assert not buffers


def test_request_ids_are_bounded_and_unknown_commands_answered():
    w = gw.PolarPlot(make_cube(n=10), budget=100)
    rec = Recorder(w)
    huge = "x" * 10_000_000
    w._handle_custom_msg({"id": huge, "kind": "anywidget-command", "name": "_slice",
                          "msg": {"m": 0, "l": 0, "k": 0}}, [])
    w._handle_custom_msg({"id": ["a"], "kind": "anywidget-command", "name": "_slice", "msg": {}},
                         [])
    w._handle_custom_msg({"id": "r2", "kind": "anywidget-command", "name": "drop_tables",
                          "msg": {}}, [])
    (big, _), (listed, _), (unknown, _) = rec.msgs
    assert len(json.dumps(big)) < 500  # the id is not echoed in full
    assert big["content"]["id"] == "x" * 64
    assert "a request id must be a string of at most 64 characters, got 'xxxx" in \
        big["content"]["response"]["error"]
    assert listed["content"]["id"] is None
    assert unknown["content"]["id"] == "r2"
    assert unknown["content"]["response"]["error"] == ("unknown command 'drop_tables'; valid: "
                                                      "['_slice']")
    # a well-formed request still works after the bad ones
    w._handle_custom_msg({"id": "r3", "kind": "anywidget-command", "name": "_slice",
                          "msg": {"m": 0, "l": 1, "k": 2}}, [])
    data, buffers = rec.msgs[-1]
    assert data["content"]["response"]["cell"] == [0, 1, 2] and len(buffers) == 5


# ---------------------------------------------------------------------------- colour
def test_colour_fields_custom_arrays_and_robustness():
    cube = make_cube(m=2, n=12)
    w = gw.PolarPlot(cube, color_by="robustness")
    assert w.color_by == "robustness" and "robustness" in w._meta["color_fields"]
    # per (model, sparsity) [M, S, N]: the dense level is its one fog cell; the cube has no
    # corruption at 0.5, so that level is NaN (not the dense value)
    got = arrays(w)["robustness"]
    np.testing.assert_allclose(got[:, 0], cube.correct[:, 2])
    assert np.isnan(got[:, 1]).all() and w._meta["robust_levels"]["level"] == [0, 1, 0]
    v = np.linspace(0, 1, 12)
    w2 = gw.PolarPlot(cube, color_by=v)
    assert w2.color_by == "custom" and w2._meta["color_kinds"]["custom"] == "continuous"
    np.testing.assert_array_equal(arrays(w2)["custom"], v.astype(np.float32))
    w3 = gw.PolarPlot(cube, color_by=np.arange(12) % 2)
    assert w3._meta["color_kinds"]["custom"] == "categorical"


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"norm has 2 values but angle has 3; lengths must match"):
        gw.PolarPlot(angle=[0.1, 0.2, 0.3], norm=[1, 2])
    with pytest.raises(ValueError, match=r"labels has 1 values but angle has 2"):
        gw.PolarPlot(angle=[0.1, 0.2], norm=[1, 2], labels=[0])
    fields = r"\['class', 'correct', 'pred', 'margin', 'angle', 'norm'\]"
    with pytest.raises(ValueError, match=r"The 'color_by' trait of PolarPlot must be one of "
                                         + fields + r". Got 'robustnes' instead."):
        gw.PolarPlot(angle=[0.1], norm=[1.0], color_by="robustnes")
    w = gw.PolarPlot(angle=[0.1], norm=[1.0])
    with pytest.raises(ValueError, match=r"must be one of"):
        w.color_by = "x"
    with pytest.raises(ValueError, match=r"The 'angle_to' trait of PolarPlot must be one of "
                                         r"\['true', 'pred'\]. Got 'false' instead."):
        w.angle_to = "false"
    with pytest.raises(ValueError, match=r"'classes' trait of PolarPlot must be class indices in "
                                         r"0..0 \['0'\]. Got \[4\] instead"):
        w.classes = [4]
    with pytest.raises(ValueError, match=r"The 'theme' trait of PolarPlot must be one of "
                                         r"\['auto', 'light', 'dark'\]. Got 'blue' instead."):
        w.theme = "blue"
    with pytest.raises(ValueError, match=r"The 'color_by' parameter of PolarPlot must be a field name "
                                         r"or an array of shape \(1,\) or \(1, 1, 1, 1\)"):
        gw.PolarPlot(angle=[0.1], norm=[1.0], color_by=np.zeros(3))
    with pytest.raises(ValueError, match=r"only 1 class_names were given"):
        gw.PolarPlot(angle=[0.1, 0.2], norm=[1, 1], labels=[0, 1], class_names=["a"])
    with pytest.raises(TypeError, match=r"must be a GeometryCube, got dict"):
        gw.PolarPlot({"angle": 1})
    with pytest.raises(ValueError, match=r"at least angle=... and norm=..."):
        gw.PolarPlot(angle=[0.1])
    with pytest.raises(ValueError, match=r"The 'budget' parameter of PolarPlot must be an int in "
                                         r"\[1, inf\). Got 0 instead."):
        gw.PolarPlot(angle=[0.1], norm=[1.0], budget=0)
    cube = make_cube()
    # names are resolved by the cube's Coords: the cube's KeyError, naming the valid ones
    with pytest.raises(KeyError, match=r"unknown model 'resnet'; valid: \['net0', 'net1'\]"):
        gw.PolarPlot(cube, model="resnet")
    with pytest.raises(KeyError, match=r"no condition with sparsity=0.9, benchmark='clean', "
                                       r"severity=None: sparsity 0.9 is not on the grid of "
                                       r"'clean'; the nearest level is 0.5 \(shown as 50%\)"):
        gw.PolarPlot(cube, sparsity=0.9)
    with pytest.raises(ValueError, match=r"The 'layer' trait of PolarPlot must be an index in 0..1 "
                                         r"\(layers \['layer0', 'layer1'\]\). Got 7 instead."):
        gw.PolarPlot(cube).layer = 7
    with pytest.raises(ValueError, match=r"images must be uint8"):
        gw.PolarPlot(angle=[0.1], norm=[1.0], images=np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match=r"The 'group_by' trait of MarginHistogram must be one of "
                                         r"\['class', 'none', 'model', 'sparsity'\]. Got 'layer'"):
        gw.MarginHistogram(cube, group_by="layer")
    with pytest.raises(ValueError, match=r"The 'bins' trait of MarginHistogram must be an int in "
                                         r"\[1, 1000\]. Got 0 instead."):
        gw.MarginHistogram(cube, bins=0)


def test_more_than_2_to_the_24_points_is_refused_with_advice():
    big = np.broadcast_to(np.float32(0.5), (MAX_POINTS + 1,))
    with pytest.raises(ValueError, match=r"16,777,217 points is more than the 16,777,216 \(2\*\*24\)"
                                         r" a view can draw; subsample first"):
        gw.PolarPlot(angle=big, norm=big)


def test_empty_arrays_make_an_empty_plot():
    w = gw.PolarPlot(angle=np.zeros(0), norm=np.zeros(0))
    assert w._meta["shape"] == [1, 1, 1, 0]
    assert arrays(w)["angle"].size == 0
    h = gw.MarginHistogram(margin=np.zeros(0))
    assert list(h.groups()) == ["0"] and h.groups()["0"].shape == (0,)


# ---------------------------------------------------------------------------- views
def test_histogram_groups_and_brush_match_brute_force():
    cube = make_cube(m=2, n=40, classes=3)
    h = gw.MarginHistogram(cube, group_by="class")
    assert h.layer == cube.coords.default_layer == 1  # no penultimate layer: the deepest
    g = h.groups()
    for c in range(3):
        expect = [cube.margin[0, 1, 0, i] for i in range(40) if cube.labels[i] == c]
        np.testing.assert_array_equal(g[f"class<{c}>"], expect)
    h.group_by = "model"
    assert list(h.groups()) == ["net0", "net1"]
    h.group_by = "sparsity"
    assert list(h.groups()) == ["sparsity 0%", "sparsity 50%"]
    h.classes = [1, 2]
    ids = h.select_range(0.8, -0.2)
    expect = [cube.sample_ids[i] for i in range(40)
              if -0.2 <= cube.margin[0, 1, 0, i] <= 0.8 and cube.labels[i] in (1, 2)]
    assert ids.tolist() == sorted(expect)


def test_polar_to_plotly_matches_the_current_view():
    cube = make_cube(n=30, classes=3)
    w = gw.PolarPlot(cube, layer=1, sparsity=0.5)
    w.classes = [0, 2]
    fig = w.to_plotly()
    assert [t.name for t in fig.data] == ["class<0>", "class<2>"]
    mask = cube.labels == 2
    np.testing.assert_allclose(fig.data[1].theta, np.degrees(cube.angle[0, 1, 1][mask]), rtol=1e-6)
    np.testing.assert_allclose(fig.data[1].r, cube.norm[0, 1, 1][mask], rtol=1e-6)
    assert list(fig.layout.polar.sector) == [0, 180]
    w.normalize = True
    fig2 = w.to_plotly()
    assert max(max(t.r) for t in fig2.data) <= 1.0 + 1e-9
    assert max(max(t.r) for t in fig2.data) == pytest.approx(
        cube.norm[0, 1, 1][np.isin(cube.labels, [0, 2])].max() / cube.norm[0, 1, 1].max())
    w.angle_to = "pred"
    np.testing.assert_allclose(w.to_plotly().data[0].theta,
                               np.degrees(cube.angle_pred[0, 1, 1][cube.labels == 0]), rtol=1e-6)


def test_histogram_and_modelmap_to_plotly():
    cube = make_cube(n=30)
    fig = gw.MarginHistogram(cube, group_by="none").to_plotly()  # at the default layer
    np.testing.assert_array_equal(fig.data[0].x, cube.margin[0, 1, 0])
    mm = gw.ModelMap(xy=[[0, 0], [3, 4], [1, 1]], edges=[[0, 1], [1, 2]], names=["a", "b", "c"],
                     color_by={"accuracy": [0.9, 0.8, 0.7], "method": ["rand", "mag", "rand"]})
    f = mm.to_plotly()
    assert list(f.data[0].x) == [0, 3, None, 3, 1, None]
    assert list(f.data[1].text) == ["a", "b", "c"]
    a = arrays(mm)
    assert a["c_method"].tolist() == [0, 1, 0]
    assert mm._meta["category_names"]["method"] == ["rand", "mag"]
    assert mm.color_by == "accuracy"


def test_modelmap_bad_input():
    with pytest.raises(ValueError, match=r"The 'xy' parameter of ModelMap must have shape \[P, 2\]. "
                                         r"Got shape \(3,\) instead."):
        gw.ModelMap(xy=[1, 2, 3])
    with pytest.raises(ValueError, match=r"must hold finite positions. Got NaN or infinite values "
                                         r"in row\(s\) \[1\] instead."):
        gw.ModelMap(xy=[[0, 0], [np.nan, 1]])
    with pytest.raises(ValueError, match=r"edges refer to points 0..5, valid: 0..1"):
        gw.ModelMap(xy=[[0, 0], [1, 1]], edges=[[0, 5]])
    with pytest.raises(ValueError, match=r"names has 1 entries for 2 points"):
        gw.ModelMap(xy=[[0, 0], [1, 1]], names=["a"])
    with pytest.raises(ValueError, match=r"The 'color_by' trait of ModelMap must be one of "
                                         r"\['acc'\]. Got 'speed' instead."):
        gw.ModelMap(xy=[[0, 0], [1, 1]], color_by={"acc": [1, 2]}).color_by = "speed"
    with pytest.raises(ValueError, match=r"The 'active' trait of ModelMap must be -1 \(none\) or a "
                                         r"point index in 0..1. Got 2 instead."):
        gw.ModelMap(xy=[[0, 0], [1, 1]]).active = 2
    with pytest.raises(ValueError, match=r"pass a GeometryCube, or xy="):
        gw.ModelMap()


def test_explorer_links_controls_views_and_selection():
    cube = make_cube(m=2, n=24)
    ex = gw.Explorer(cube, xy=[[0, 0], [1, 1]], edges=[[0, 1]])
    assert [v._kind for v in ex.views()] == ["evaltable", "polar", "histogram", "parallel",
                                            "layerprofile", "modelmap", "panel"]  # 2 layers
    assert len({v._link for v in ex.views()}) == 1 and ex.polar._link
    assert "atlas" not in arrays(ex.polar) and "atlas" in arrays(ex.panel)  # thumbnails sent once
    ex.controls["layer"].value = 1
    assert ex.polar.layer == 1 and ex.histogram.layer == 1
    ex.polar.selected = [1004, 1007]
    assert ex.histogram.selected.tolist() == [1004, 1007] and ex.selected.tolist() == [1004, 1007]
    assert ex.parallel.selected.tolist() == [1004, 1007]
    ex.modelmap.active = 1  # a click in the map
    assert ex.polar.model == 1 and ex.histogram.model == 1
    ex.class_picker.value = (0, 2)
    assert ex.polar.classes == [0, 2] and ex.histogram.classes == [0, 2]
    with pytest.raises(TypeError, match=r"Explorer needs a GeometryCube, got list"):
        gw.Explorer([1])


def test_to_html_embeds_bundle_and_state_offline(tmp_path):
    w = gw.PolarPlot(angle=[0.1, 0.2], norm=[1.0, 2.0], labels=[0, 1],
                     class_names=["</script><b>x", "ok"])
    path = w.to_html(tmp_path / "w.html", title="<t>")
    page = path.read_text()
    assert "<title>&lt;t&gt;</title>" in page
    assert "http://" not in page and "https://" not in page.split('id="geowidget-esm"')[0]
    raw = re.search(r'id="geowidget-state">(.*?)</script>', page, re.S).group(1)
    assert "</script><b>" not in raw
    state = json.loads(raw)
    (entry,) = state["models"].values()
    assert entry["state"]["_meta"]["class_names"][0] == "</script><b>x"
    idx = entry["buffer_paths"].index(["_arrays", "norm", "buffer"])
    assert np.frombuffer(base64.b64decode(entry["buffers"][idx]), np.float32).tolist() == [1.0, 2.0]
    esm = re.search(r'id="geowidget-esm">(.*?)</script>', page, re.S).group(1)
    assert b"standalone" in base64.b64decode(esm)


def test_sample_ids_outside_int32_are_rejected():
    with pytest.raises(ValueError, match=r"outside the int32 range"):
        gw.PolarPlot(angle=[0.1], norm=[1.0], sample_ids=[2**40])


def test_encode_round_trips_selected_trait():
    w = gw.PolarPlot(angle=[0.1, 0.2], norm=[1.0, 2.0])
    enc = encode(np.array([1], np.int64))
    w.set_state({"selected": {**enc, "buffer": memoryview(bytes(enc["buffer"]))}})
    assert w.selected.tolist() == [1]


def test_modelmap_from_a_cube_uses_the_embedding_engine():
    import geowidget.analysis.embedding as emb_mod

    cube = make_cube(m=4, n=40)
    mm = gw.ModelMap(cube)
    emb = emb_mod.model_embedding(cube, by="model")
    d = emb_mod.distances(emb)
    a = arrays(mm)
    np.testing.assert_allclose(np.c_[a["x"], a["y"]], gw.project(distances=d, method="mds"), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_array_equal(a["edges"], emb_mod.mst(d))
    assert mm._meta["names"] == cube.models and a["pm"].tolist() == [0, 1, 2, 3]
    # accuracy of each model on its embedded condition (clean, dense), by brute force
    for i in range(4):
        expect = sum(bool(cube.correct[i, 0, j]) for j in range(40)) / 40
        assert a["c_accuracy"][i] == pytest.approx(expect)
    # the points are the dense models (sparsity 0): pruned by no method (the pruned points'
    # methods: tests/test_modelmap_colors.py)
    assert mm._meta["category_names"]["method"] == ["dense"]
    assert a["c_method"].tolist() == [0, 0, 0, 0]


def test_modelmap_pruning_trajectories():
    cube = make_cube(m=3, n=30)
    mm = gw.ModelMap(cube, by="model_condition")
    a = arrays(mm)
    assert mm._meta["names"][:2] == ["net0 | clean@0", "net0 | clean@0.5"]
    assert a["paths"].tolist() == [0, 1, -1, 2, 3, -1, 4, 5, -1]  # each model, sparsity up
    assert a["c_sparsity"].tolist() == [0, 0.5] * 3
    for i in range(6):  # accuracy of (model, condition), brute force
        m, k = int(a["pm"][i]), int(a["pk"][i])
        assert a["c_accuracy"][i] == pytest.approx(np.mean([bool(x) for x in cube.correct[m, k]]))
    with pytest.raises(ValueError, match=r"paths refer to points \[0, 7\]; valid: 0..1"):
        gw.ModelMap(xy=[[0, 0], [1, 1]], paths=[[0, 7]])


def test_lazy_views_read_a_cube_one_cell_at_a_time():
    """Above the budget, a slab view reads its cube one cell at a time (cube.cell: one partition
    file when the cube was opened from disk); the whole [M, L, K, N] arrays (cube.values, or the
    array attributes) are never read."""
    base = make_cube(m=2, layers=2, n=30)
    cube = make_cube(m=2, layers=2, n=30)
    reads = []
    values, cell = cube.values, cube.cell
    cube.values = lambda name, *a, **k: reads.append(("values", name, a, k)) or values(
        name, *a, **k)
    cube.cell = lambda *a: reads.append(("cell", *a)) or cell(*a)
    full_array = cube._arrays.full  # what the array attributes (cube.angle, ...) read
    cube._arrays.full = lambda name: reads.append(("values", name, (), {})) or full_array(name)
    views = [gw.PolarPlot(cube, budget=1, layer=1), gw.MarginHistogram(cube, budget=1),
             gw.ParallelCoordinates(cube, budget=1)]
    assert all(v._meta["lazy"] for v in views)
    content, bufs = views[0]._slice({"m": 1, "l": 1, "k": 2}, [])
    got = decode({**content["specs"][2], "buffer": bytes(bufs[2])})
    np.testing.assert_array_equal(got, base.norm[1, 1, 2])
    np.testing.assert_array_equal(views[0].current()["rho"], base.norm[0, 1, 0])
    assert views[1].groups()["class<0>"].size == 10
    assert list(views[2].columns())[-1] == "m"
    whole = [r for r in reads if r[0] == "values" and r[1] in ("angle", "angle_pred", "norm",
                                                                "margin")]
    assert whole == [] and ("cell", 1, 1, 2) in reads
    # within the budget the same opened cube is sent at once, equal to the in-memory one
    full = gw.PolarPlot(cube)
    np.testing.assert_array_equal(np.asarray(full._arrays["angle"]), base.angle)
