"""ParallelCoordinates, SideBySide and AttributionView (issue 5 views), Python side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geowidget as gw
from tests.fixtures.synthetic import make_cube


def test_parallel_axes_columns_and_brushing_match_brute_force():
    from geowidget.analysis import scores

    cube = make_cube(m=2, layers=2, n=50)
    pc = gw.ParallelCoordinates(cube, layer=1)
    names = [a["name"] for a in pc._meta["axes"]]
    assert names == ["R(fog)", "θ (deg)", "ρ", "m"]
    cols = pc.columns()
    rob = scores.robustness_per_benchmark(cube)["fog"]
    np.testing.assert_allclose(cols["R(fog)"], rob[0], rtol=1e-6)
    np.testing.assert_allclose(cols["θ (deg)"], np.degrees(cube.angle[0, 1, 0]), rtol=1e-5)
    ids = pc.select_ranges({"θ (deg)": [120, 30], "m": [-0.5, 1.0]})
    expect = [cube.sample_ids[i] for i in range(50)
              if 30 <= np.degrees(float(cube.angle[0, 1, 0, i])) <= 120
              and -0.5 <= cube.margin[0, 1, 0, i] <= 1.0]
    assert ids.tolist() == sorted(expect)
    with pytest.raises(ValueError, match=r"The 'ranges' trait of ParallelCoordinates must be a dict "
                                         r"keyed by axis names \['R\(fog\)'.*Got 'theta' instead"):
        pc.ranges = {"theta": [0, 1]}
    with pytest.raises(ValueError, match=r"finite \[low, high\] for axis 'm'"):
        pc.ranges = {"m": [0, float("nan")]}


def test_parallel_from_plain_axes_and_bad_input():
    pc = gw.ParallelCoordinates(axes={"a": [1.0, 2.0, 3.0], "b": [0.0, 5.0, 1.0]})
    assert [a["name"] for a in pc._meta["axes"]] == ["a", "b"]
    assert pc.select_ranges({"a": [1.5, 3.0], "b": [0.5, 2.0]}).tolist() == [2]
    with pytest.raises(ValueError, match=r"axis 'b' has shape \(2,\); expected \(3,\)"):
        gw.ParallelCoordinates(axes={"a": [1.0, 2.0, 3.0], "b": [0.0, 5.0]})
    with pytest.raises(ValueError, match=r"pass a GeometryCube or axes="):
        gw.ParallelCoordinates()


def test_side_by_side_links_layer_condition_and_selection():
    cube = make_cube(m=2, layers=2, n=20)
    sbs = gw.SideBySide(cube, models=("net0", "net1"))
    assert (sbs.left.model, sbs.right.model) == (0, 1)
    assert sbs.left._link == sbs.right._link == sbs.link.id
    assert sbs.left._link_keys == ["layer", "condition", "classes"]
    sbs.left.layer = 1
    assert sbs.right.layer == 1
    sbs.right.selected = [1003]
    assert sbs.left.selected.tolist() == [1003] and sbs.selected.tolist() == [1003]
    dense_pruned = gw.SideBySide(cube, models=(0, 0), sparsities=(0.0, 0.5))
    assert (dense_pruned.left.condition, dense_pruned.right.condition) == (0, 1)
    dense_pruned.left.condition = 2
    assert dense_pruned.right.condition == 1  # conditions stay apart
    with pytest.raises(ValueError, match=r"models must name two models"):
        gw.SideBySide(cube, models=(0,))


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 12), torch.nn.ReLU(),
                               torch.nn.Linear(12, 3))


def test_attribution_view_sends_the_engine_maps_and_follows_selection():
    from geowidget.engine import attribution

    model = _tiny_model()
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 0, 1])
    av = gw.AttributionView(model, images, labels, sample=2, patch=3, stride=1)
    occ = attribution.occlusion(model, images[2], 2, patch=3, stride=1)
    np.testing.assert_allclose(av.maps["angle"], np.degrees(occ.delta_angle_map.numpy()),
                               rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(av.maps["margin"], occ.delta_margin_map.numpy(), rtol=1e-6,
                               equal_nan=True)
    assert av._meta["base_pred"] == int(occ.base_pred) and av._meta["label"] == 2
    img = np.asarray(av._arrays["image"])
    assert img.dtype == np.uint8 and img.shape == (8, 8) and img.min() == 0 and img.max() == 255
    av.selected = [4]
    assert av.sample == 4
    occ4 = attribution.occlusion(model, images[4], 1, patch=3, stride=1)
    np.testing.assert_allclose(av.maps["margin"], occ4.delta_margin_map.numpy(), rtol=1e-6,
                               equal_nan=True)
    av.patch = 8  # one patch covering the whole image
    assert np.isfinite(av.maps["angle"]).all()
    with pytest.raises(ValueError, match=r"The 'patch' trait of AttributionView must be an int in "
                                         r"\[1, inf\]. Got 0 instead."):
        av.patch = 0
    with pytest.raises(ValueError, match=r"The 'sample' trait of AttributionView must be a position "
                                         r"in 0..4. Got 9 instead."):
        av.sample = 9
    with pytest.raises(ValueError, match=r"The 'field' trait of AttributionView must be one of "
                                         r"\['angle', 'margin'\]. Got 'norm' instead."):
        av.field = "norm"
    assert not av.has_trait("model")  # model= is the network: no clash with linked pickers


def test_attribution_view_from_precomputed_maps_and_bad_input():
    av = gw.AttributionView(image=np.arange(6.0).reshape(2, 3), delta_angle=np.ones((2, 3)),
                            delta_margin=np.zeros((2, 3)))
    assert np.asarray(av._arrays["image"]).tolist() == [[0, 51, 102], [153, 204, 255]]
    np.testing.assert_allclose(av.maps["angle"], np.degrees(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"must match the image \(2, 3\)"):
        gw.AttributionView(image=np.zeros((2, 3)), delta_angle=np.ones((3, 3)),
                           delta_margin=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"with a classifier \(model\), pass data: inputs"):
        gw.AttributionView(_tiny_model())


def test_explorer_with_a_model_shows_attribution_of_the_selected_sample():
    cube = make_cube(m=1, n=6, classes=3)
    inputs = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    ex = gw.Explorer(cube, model=_tiny_model(), data=inputs)
    assert ex.attribution is not None and ex.attribution in ex.views()
    ex.polar.selected = [1004]  # sample ids of the synthetic cube start at 1000
    assert ex.attribution.sample == 4 and ex.attribution._meta["sample_id"] == 1004


def test_views_to_plotly():
    cube = make_cube(m=2, n=20)
    pc = gw.ParallelCoordinates(cube)
    pc.ranges = {"m": [0.0, 1.0]}
    fig = pc.to_plotly()
    dims = fig.data[0].dimensions
    assert [d.label for d in dims][-3:] == ["θ (deg)", "ρ", "m"]
    np.testing.assert_allclose(dims[-1].values, cube.margin[0, 1, 0])  # the default layer
    assert list(dims[-1].constraintrange) == [0.0, 1.0]
    sbs = gw.SideBySide(cube, models=(0, 1))
    f2 = sbs.to_plotly()
    assert {t.subplot for t in f2.data} == {"polar", "polar2"}
    np.testing.assert_allclose(f2.data[-1].r, cube.norm[1, 1, 0][cube.labels == 2], rtol=1e-6)
    av = gw.AttributionView(image=np.zeros((2, 2)), delta_angle=np.array([[0.0, 0.1], [0, 0]]),
                            delta_margin=np.array([[0.0, -2.0], [0, 0]]))
    av.field = "margin"
    h = av.to_plotly().data[0]
    assert h.zmin == -2.0 and h.zmax == 2.0 and h.z[0][1] == -2.0


def test_palette_must_be_hex():
    w = gw.PolarPlot(angle=[0.1], norm=[1.0], palette=["#112233", "#abc"])
    assert w.palette == ["#112233", "#abc"]
    with pytest.raises(ValueError, match=r"The 'palette' trait of PolarPlot must be a list of hex "
                                         r"colours like '#1b9e77' or '#abc'. Got \['red'\] instead."):
        w.palette = ["#000000", "red"]


def test_explorer_class_filter_is_a_row_of_toggles():
    from geowidget.widgets.explorer import ClassFilter

    f = ClassFilter(["a", "b", "c"])
    seen = []
    f.observe(lambda ch: seen.append(ch["new"]), "value")
    f.value = (2, 0)
    assert f.value == (0, 2) and seen == [(0, 2)]  # one change, not one per button
    assert [b.value for b in f.buttons] == [True, False, True]
    f.buttons[1].value = True  # a click
    assert f.value == (0, 1, 2)
    with pytest.raises(Exception, match=r"ClassFilter.value: class indices in \[0, 3\)"):
        f.value = (5,)


def test_shared_range_and_histogram_layout_refuse_bad_values():
    cube = make_cube(m=2, layers=2)
    w = gw.PolarPlot(cube)
    w.shared_range = [[0.1, 1.0, 0.5, 2.0], []]
    assert w.shared_range == [[0.1, 1.0, 0.5, 2.0], []]
    for bad in ([[0.1, 1.0, 0.5]], [[1.0, 0.1, 0.5, 2.0]] * 2, [[0, 1, 0, float("nan")]] * 2,
                [[0, 1, 0, 1]], "x"):
        with pytest.raises(ValueError, match=r"The 'shared_range' trait of PolarPlot must be"):
            w.shared_range = bad
    assert w.shared_range == [[0.1, 1.0, 0.5, 2.0], []]
    h = gw.MarginHistogram(cube, group_layout="multiples")
    assert h.group_layout == "multiples"
    with pytest.raises(ValueError, match=r"'group_layout' trait of MarginHistogram must be one of "
                                         r"\['auto', 'stacked', 'overlay', 'multiples'\]"):
        h.group_layout = "pie"
