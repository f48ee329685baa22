"""gw.link: one link id for the browser, and the same traits kept equal in Python."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from tests.fixtures.synthetic import make_cube


def test_link_gives_one_id_and_keeps_keys_and_selection_equal():
    cube = make_cube(m=2, layers=2, n=20)
    polar, hist = gw.PolarPlot(cube), gw.MarginHistogram(cube)
    mm = gw.ModelMap(xy=[[0, 0], [1, 1]], names=cube.models, point_model=[0, 1])
    linked = gw.link(polar, hist, mm, keys=("layer", "model"))
    assert polar._link == hist._link == mm._link == linked.id and len(linked.id) == 32
    assert polar._link_keys == ["layer", "model"] and mm._link_keys == []
    hist.layer = 1
    assert polar.layer == 1
    polar.condition = 2  # not a linked key
    assert hist.condition == 0
    hist.selected = [1004, 1002]
    assert polar.selected.tolist() == [1002, 1004] == linked.selected.tolist()
    mm.active = 1  # a click on model 1 in the map
    assert polar.model == hist.model == 1
    polar.model = 0  # picking model 0 highlights its point
    assert mm.active == 0
    linked.unlink()
    hist.layer = 0
    assert polar.layer == 1 and polar._link == "" and hist._link_keys == []
    hist.selected = [1001]
    assert polar.selected.tolist() == [1002, 1004]


def test_each_view_keeps_the_selected_ids_it_shows():
    polar = gw.PolarPlot(angle=np.full(10, 0.5), norm=np.ones(10), sample_ids=np.arange(10))
    other = gw.PolarPlot(angle=np.full(10, 0.5), norm=np.ones(10),
                         sample_ids=np.arange(5, 15))
    linked = gw.link(polar, other, keys=())
    polar.selected = [3, 7, 8]
    assert other.selected.tolist() == [7, 8] and linked.selected.tolist() == [3, 7, 8]


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda c: gw.link(gw.PolarPlot(c)), ValueError, r"link needs two or more views, got 1"),
    (lambda c: gw.link(gw.PolarPlot(c), "hist"), TypeError,
     r"link takes geowidget views, got str"),
    (lambda c: (lambda p: gw.link(p, p))(gw.PolarPlot(c)), ValueError,
     r"link got the same view twice"),
    (lambda c: gw.link(gw.PolarPlot(c), gw.PolarPlot(c), keys="layer"), TypeError,
     r"keys must be a sequence of trait names, got the string 'layer'; e.g. keys=\('layer',\)"),
    (lambda c: gw.link(gw.PolarPlot(c), gw.PolarPlot(c), keys=("sparsity",)), ValueError,
     r"no view has the key 'sparsity'"),
    (lambda c: gw.link(gw.PolarPlot(c), gw.PolarPlot(make_cube(m=3))), ValueError,
     r"cannot link 'model': the views show different models"),
])
def test_link_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make(make_cube(m=2))


def test_a_linked_view_cannot_join_a_second_link():
    cube = make_cube()
    a, b, c = gw.PolarPlot(cube), gw.PolarPlot(cube), gw.PolarPlot(cube)
    gw.link(a, b)
    with pytest.raises(ValueError, match=r"PolarPlot is already linked \(link id \w+\); unlink"):
        gw.link(b, c)
