"""The views pick cells through the cube's Coords and are built from their trait names
(issue 19, steps 1 and 2 for the views).

- Every view that picks a condition takes ``severity``: on a cube with two severities of one
  corruption, the picked condition's values equal ``cube.slice(..., severity=)``'s.
- A sparsity stored as 0.30000001 is found by 0.3 in every view (Coords' tolerance).
- The deprecated spellings (``color=``, ``net=``, ``images=``, ``inputs=``) warn, naming
  the new one, and still work.
- Constructor keywords are trait names: every view class (found by walking GeoView's
  subclasses, so a new view is covered) takes each public trait as a keyword of the same
  name, and every other keyword it takes is one of its declared ``data_keywords``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest
import torch

import geowidget as gw
from geowidget.cube import Condition, GeometryCube
from geowidget.widgets.view import GeoView
from tests.fixtures.synthetic import make_cube
from tests.test_browser_writes import VIEWS, build

STORED = 0.30000001  # a sparsity as float arithmetic may store 0.3


def cube_with(conditions: list[Condition], n: int = 24, seed: int = 3) -> GeometryCube:
    """make_cube's arrays over other conditions (2 models, 2 layers, 3 classes)."""
    base = make_cube(m=2, layers=2, n=n, seed=seed)
    rng = np.random.default_rng(seed)
    k = len(conditions)
    shape = (2, 2, k, n)
    angle = rng.uniform(0.05, np.pi - 0.05, shape).astype(np.float32)
    margin = rng.normal(0.5, 1.0, shape).astype(np.float32)
    pred = np.where(rng.random((2, k, n)) < 0.8, base.labels, (base.labels + 1) % 3)
    return GeometryCube(
        models=base.models, layers=base.layers, conditions=conditions, labels=base.labels,
        class_names=base.class_names, angle=angle, angle_pred=angle * 0.9,
        avh=np.full(shape, 0.3, np.float32), angle_gap=np.zeros(shape, np.float32),
        norm=rng.uniform(0.5, 5.0, shape).astype(np.float32), margin=margin, pred=pred,
        correct=pred == base.labels, logit_margin=margin[:, 0], sample_ids=base.sample_ids,
        model_info=base.model_info, images=base.images)


@pytest.fixture(scope="module")
def severities() -> GeometryCube:
    """Clean at 0 and at STORED, and fog at severities 2 and 5 at 0 (the index of fog-5@0 is
    3, so a view that took the first fog would show fog-2)."""
    return cube_with([Condition(0.0, "clean", 0), Condition(STORED, "clean", 0),
                      Condition(0.0, "fog", 2), Condition(0.0, "fog", 5)])


def slab_views(cube: GeometryCube, **picks: Any) -> dict[str, Any]:
    """One of each view that picks a cell, given ``picks``."""
    xy = np.random.default_rng(0).normal(size=(2, len(cube.layers), cube.labels.size, 2))
    return {
        "PolarPlot": gw.PolarPlot(cube, **picks),
        "MarginHistogram": gw.MarginHistogram(cube, **picks),
        "ParallelCoordinates": gw.ParallelCoordinates(cube, **picks),
        "LayerProfile": gw.LayerProfile(cube, **picks),
        "ProjectionView": gw.ProjectionView(cube, method="pca", xy=xy, **picks),
        "EvaluationTable": gw.EvaluationTable(cube, **picks),
    }


# ---------------------------------------------------------------------------- severity
@pytest.mark.parametrize("severity", [2, 5])
def test_every_view_takes_severity_and_shows_that_condition(severities, severity):
    cube = severities
    expected = cube.slice("net1", "layer0", sparsity=0.0, benchmark="fog", severity=severity)
    k = {2: 2, 5: 3}[severity]
    for name, view in slab_views(cube, model="net1", layer="layer0", benchmark="fog",
                                 severity=severity).items():
        assert (view.model, view.layer, view.condition) == (1, 0, k), name
        if name != "EvaluationTable":  # the table shows counts, not a cell's arrays
            cell = view.cell()
            for metric in ("angle", "norm", "margin"):
                np.testing.assert_array_equal(cell[metric], getattr(expected, metric), name)
            np.testing.assert_array_equal(cell["pred"], expected.pred_model)
    table = gw.EvaluationTable(cube, model="net1", benchmark="fog", severity=severity)
    info = table.cell_info()  # the selected cell is that model at that condition
    assert (info["model"], info["benchmark"], info["severity"]) == ("net1", "fog", severity)
    assert info["accuracy"] == pytest.approx(float(np.mean(expected.correct)))


def test_a_misspelt_keyword_is_refused_before_it_changes_the_pick(severities):
    """``corruption=`` is no keyword: the view must refuse it, not fall back to the clean
    condition and fail (or worse, draw it) because of the severity given with it."""
    xy = np.zeros((2, len(severities.layers), severities.labels.size, 2))
    for make in (gw.PolarPlot, gw.MarginHistogram, gw.ParallelCoordinates, gw.LayerProfile,
                 gw.EvaluationTable, lambda c, **k: gw.ProjectionView(c, xy=xy, **k)):
        with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['corruption'\]"):
            make(severities, corruption="fog", severity=5)


def test_a_condition_with_several_severities_asks_for_one_in_every_view(severities):
    message = r"2 conditions match sparsity=0.0, benchmark='fog', severity=None; pass severity"
    for make in (gw.PolarPlot, gw.MarginHistogram, gw.ParallelCoordinates, gw.LayerProfile,
                 gw.EvaluationTable):
        with pytest.raises(KeyError, match=message):
            make(severities, benchmark="fog")
    with pytest.raises(KeyError, match=message):
        gw.SideBySide(severities, benchmark="fog")


def test_side_by_side_and_explorer_pass_severity_on(severities):
    pair = gw.SideBySide(severities, models=("net0", "net1"), benchmark="fog", severity=5)
    assert pair.left.condition == pair.right.condition == 3
    ex = gw.Explorer(severities, benchmark="fog", severity=5, layer="layer0")
    assert {(v.condition, v.layer) for v in ex.views() if v.has_trait("condition")} == {(3, 0)}
    assert ex.table.cell_info()["severity"] == 5


def test_the_model_map_selects_by_severity(severities):
    mm = gw.ModelMap(severities, benchmark="fog", severity=5, sparsity=0.0)
    # one point per model, placed by fog-5: each point stands for condition 3
    assert mm._arrays["pk"].tolist() == [3, 3]
    assert mm._arrays["c_accuracy"].tolist() == pytest.approx(
        [float(np.mean(severities.correct[m, 3])) for m in range(2)])
    # placed by that condition at the default layer: the embedding computed directly
    emb = gw.model_embedding(severities, layer=severities.coords.default_layer, sparsity=0.0,
                             benchmark="fog", severity=5)
    xy = gw.layout(gw.distances(emb), method="mds")
    np.testing.assert_allclose(np.stack([mm._arrays["x"], mm._arrays["y"]], 1), xy, atol=1e-9)


# ---------------------------------------------------------------------------- tolerance
def test_a_sparsity_stored_off_by_float_error_is_found_in_every_view(severities):
    cube = severities
    assert cube.conditions[1].sparsity == STORED != 0.3
    expected = cube.slice(0, 1, sparsity=STORED)
    for name, view in slab_views(cube, sparsity=0.3).items():
        assert view.condition == 1, name
        if name != "EvaluationTable":
            np.testing.assert_array_equal(view.cell()["margin"], expected.margin, name)
    pair = gw.SideBySide(cube, sparsities=(0.0, 0.3))
    assert (pair.left.condition, pair.right.condition) == (0, 1)
    mm = gw.ModelMap(cube, sparsity=0.3)
    assert mm._arrays["pk"].tolist() == [1, 1]


def test_views_start_at_the_default_layer():
    cube = make_cube(m=2, layers=3, n=12)
    assert cube.coords.default_layer == 2  # no "penultimate": the deepest
    for name, view in slab_views(cube).items():
        assert view.layer == 2, name
    named = make_cube(m=2, layers=3, n=12)
    named = GeometryCube(**{**{k: getattr(named, k) for k in (
        "models", "conditions", "labels", "class_names", "angle", "angle_pred", "avh",
        "angle_gap", "norm", "margin", "pred", "correct", "logit_margin", "sample_ids",
        "model_info", "images")}, "layers": ["conv", "penultimate", "logits"]})
    assert {v.layer for v in slab_views(named).values()} == {1}
    assert gw.PolarPlot(named, layer=0).layer == 0


# ---------------------------------------------------------------------------- aliases
def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))


@pytest.mark.parametrize(("make", "old", "new"), [
    (lambda: gw.PolarPlot(make_cube(n=12), color="margin"), "PolarPlot(color=...)",
     "color_by"),
    (lambda: gw.ProjectionView(make_cube(n=12), method="pca", color="norm",
                               xy=np.zeros((2, 2, 12, 2))), "ProjectionView(color=...)",
     "color_by"),
])
def test_the_color_alias_warns_and_works(make, old, new):
    with pytest.warns(DeprecationWarning, match=rf"{re.escape(old)} is deprecated; use {new}=") \
            as rec:
        view = make()
    assert rec[0].filename == __file__  # the warning points at the caller's line
    assert view.color_by in ("margin", "norm")


def test_the_color_alias_with_color_by_is_an_error():
    with pytest.raises(TypeError, match=r"PolarPlot got both color= and color_by="):
        gw.PolarPlot(make_cube(n=12), color="margin", color_by="norm")


def test_model_maps_color_alias_keeps_fields_and_shown_field():
    with pytest.warns(DeprecationWarning, match=r"ModelMap\(color=...\) is deprecated"):
        old = gw.ModelMap(xy=[[0, 0], [1, 1]], color={"a": [1.0, 2.0], "b": ["x", "y"]},
                          color_by="b")
    new = gw.ModelMap(xy=[[0, 0], [1, 1]], color_by={"b": ["x", "y"], "a": [1.0, 2.0]})
    assert old.color_by == new.color_by == "b"
    assert set(old._meta["color_fields"]) == set(new._meta["color_fields"]) == {"a", "b"}
    custom = gw.ModelMap(xy=[[0, 0], [1, 1]], color_by=np.array([3.0, 4.0]))
    assert custom.color_by == "custom"
    assert np.asarray(custom._arrays["c_custom"]).tolist() == [3.0, 4.0]


def test_attribution_view_and_explorer_aliases_warn_and_work():
    net = _tiny_net()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 0])
    new = gw.AttributionView(model=net, data=x, labels=y, sample=1, patch=4, stride=4)
    with pytest.warns(DeprecationWarning) as rec:
        old = gw.AttributionView(net=net, images=x, labels=y, sample=1, patch=4, stride=4)
    assert sorted(str(w.message) for w in rec) == [
        "AttributionView(images=...) is deprecated; use data=... instead",
        "AttributionView(net=...) is deprecated; use model=... instead"]
    pair = gw.AttributionView(net, (x, y), sample=1, patch=4, stride=4)  # data as (x, y)
    for view in (old, pair):
        np.testing.assert_array_equal(view.maps["margin"], new.maps["margin"])
    cube = make_cube(m=1, n=4)
    with pytest.warns(DeprecationWarning, match=r"Explorer\(inputs=...\) is deprecated"):
        ex = gw.Explorer(cube, model=net, inputs=x)
    np.testing.assert_array_equal(ex.attribution.maps["margin"], gw.AttributionView(
        net, x, cube.labels, patch=4, stride=2).maps["margin"])
    with pytest.warns(DeprecationWarning, match=r"Explorer\(model=<name or position>\)"):
        shown = gw.Explorer(make_cube(m=2, n=4), model="net1")
    assert shown.polar.model == shown.table.model == 1 and shown.attribution is None


# ---------------------------------------------------------------------------- keywords
def other_value(view: GeoView, name: str) -> Any:
    """A valid value of trait ``name`` of ``view`` other than its current one (None when
    this test does not know one)."""
    trait, now = view.traits()[name], getattr(view, name)
    if name in ("model", "layer", "condition"):
        return (now + 1) % len(view.coords.names(name))
    if name == "classes":
        return [0]
    if name == "selected":
        return [int(view.sample_ids[0])] if view.sample_ids.size else None
    if name in ("color_by",):
        fields = view._meta.get("color_fields", [])
        return next((f for f in fields if f != now), None)
    if name == "palette":
        return ["#123456", "#abc"]
    if name == "selected_cell":
        return view._cell_of(1, 0) if hasattr(view, "_cell_of") else None
    if hasattr(trait, "values") and trait.values:  # Enum
        return next(v for v in trait.values if v != now)
    if isinstance(now, bool):
        return not now
    if isinstance(now, int):
        hi = trait.max if trait.max is not None else now + 2
        return now + 1 if now + 1 <= hi else now - 1
    if isinstance(now, float):
        return (now + trait.max) / 2 if trait.max is not None else now + 1.5
    return None


def public_traits(cls: type[GeoView]) -> list[str]:
    return sorted(n for n in cls.class_trait_names(sync=True) if not n.startswith("_")
                  and n not in ("layout", "tabbable", "tooltip", "keys"))


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
def test_every_public_trait_is_a_constructor_keyword_of_the_same_name(cls):
    """Each public trait given to the constructor by its own name ends up in that trait."""
    view = build(cls)
    covered = []
    for name in public_traits(cls):
        value = other_value(view, name)
        if value is None or name == "sample" and cls is gw.AttributionView:
            continue  # no other valid value at hand (a trait of this small view)
        again = rebuild(cls, view, **{name: value})
        got = getattr(again, name)
        assert (got.tolist() if isinstance(got, np.ndarray) else got) == value, name
        covered.append(name)
    assert len(covered) >= len(public_traits(cls)) - 3, (covered, public_traits(cls))


def rebuild(cls: type[GeoView], view: GeoView, **traits: Any) -> GeoView:
    """``build(cls)`` again, with ``traits`` given to the constructor."""
    if cls not in (gw.ModelMap, gw.AttributionView):
        return cls(make_cube(m=2, layers=2, n=12, classes=3), **_extra(cls), **traits)
    if cls is gw.ModelMap:
        return gw.ModelMap(xy=[[0.0, 0.0], [1.0, 1.0]], names=view._meta["names"], **traits)
    rng = np.random.default_rng(0)
    return gw.AttributionView(image=rng.random((6, 6)), delta_angle=rng.random((6, 6)),
                              delta_margin=rng.random((6, 6)), **traits)


def _extra(cls: type[GeoView]) -> dict[str, Any]:
    if cls is gw.ProjectionView:
        return {"method": "pca",
                "xy": np.random.default_rng(1).normal(size=(2, 2, 12, 2)).astype(np.float32)}
    return {}


# deprecated spellings, never a keyword (a slab view's images= are its thumbnails, not data)
RENAMED = {"color", "net", "inputs"}


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
def test_every_other_keyword_is_a_declared_data_keyword(cls):
    traits = set(public_traits(cls))
    sig = inspect.signature(cls.__init__)
    named = {p.name for p in sig.parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    assert named - traits <= set(cls.data_keywords), named - traits - set(cls.data_keywords)
    assert not set(cls.data_keywords) & traits  # a keyword is a trait or data, never both
    renamed = RENAMED | ({"images"} if cls is gw.AttributionView else set())
    assert not (named | set(cls.data_keywords)) & renamed
    assert set(cls.keywords()) == traits | named | set(cls.data_keywords)
    with pytest.raises(TypeError, match=rf"{cls.__name__} got unexpected keyword argument\(s\) "
                                        r"\['colour'\]; valid: \["):
        rebuild(cls, build(cls), colour="class")


def test_the_evaluation_tables_selected_cell_and_picks_agree_from_the_start(severities):
    table = gw.EvaluationTable(severities, model="net1", sparsity=0.3)
    r, c = table.selected_cell
    assert table.grid.rows[r]["model"] == "net1" and table.grid.condition[r, c] == 1
    again = gw.EvaluationTable(severities, selected_cell=[r, c])
    assert (again.model, again.condition, again.selected_cell) == (1, 1, [r, c])
    with pytest.raises(ValueError, match=r"The 'selected_cell' trait of EvaluationTable must be "
                                         r"\[row, column\] with row < 4"):
        gw.EvaluationTable(severities, selected_cell=[9, 0])


def test_a_condition_is_given_by_position_or_by_value_not_both(severities):
    assert gw.PolarPlot(severities, condition=3).condition == 3
    with pytest.raises(TypeError, match=r"PolarPlot takes condition= \(a position\) or "
                                        r"sparsity= / benchmark= / severity=, not both"):
        gw.PolarPlot(severities, condition=3, benchmark="fog")


@pytest.mark.parametrize(("module", "name", "new"), [
    ("base", "export_state", "export"), ("base", "SlabView", "view"),
    ("base", "TraitValueError", "traits"), ("polar", "CELL_PARAMS", "slab"),
    ("polar", "build_slab", "slab"), ("data", "Slab", "slab"),
    ("data", "slab_from_arrays", "slab"),
])
def test_old_import_paths_warn_and_give_the_same_object(module, name, new):
    import importlib

    old = importlib.import_module(f"geowidget.widgets.{module}")
    with pytest.warns(DeprecationWarning, match=rf"^geowidget\.widgets\.{module}\.{name} moved: "
                                                rf"import {name} from geowidget\.widgets\.{new}$"):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(f"geowidget.widgets.{new}"), name)


def test_explorer_names_itself_for_a_misspelt_keyword(severities):
    with pytest.raises(TypeError, match=r"Explorer got unexpected keyword argument\(s\) "
                                        r"\['layr'\]; valid: \[.*'data'.*'layer'.*'xy'"):
        gw.Explorer(severities, layr="fc1")
