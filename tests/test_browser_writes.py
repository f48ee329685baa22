"""The browser may set only what a user may set (issue 18, section 3).

Every view class is found by walking ``GeoView``'s subclasses, so a new view is checked here
as soon as it exists: each private synced trait sent by the browser is refused (the kernel
keeps its value and sends it back, with an error), while a public trait still applies. Every
command request gets a reply, however it is malformed.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import traitlets as t

import geowidget as gw
import geowidget.widgets  # noqa: F401 (imports every view module, so the walk finds them)
from geowidget.widgets.view import BROWSER_WRITABLE_PRIVATE, GeoView
from tests.fixtures.synthetic import make_cube


def view_classes() -> list[type[GeoView]]:
    """Every concrete view class: GeoView's subclasses, recursively (not the bases)."""
    found, todo = set(), [GeoView]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    bases = {"SampleView", "SlabView", "PickerView"}
    return sorted((c for c in found if c.__name__ not in bases
                   and c.__module__.startswith("geowidget.")), key=lambda c: c.__name__)


def build(cls: type[GeoView]) -> GeoView:
    """One small instance of ``cls``: the views that need more than a cube say how here; any
    other view (a new one included) is built from a cube."""
    cube = make_cube(m=2, layers=2, n=12, classes=3)
    if cls is gw.ModelMap:
        return gw.ModelMap(xy=[[0.0, 0.0], [1.0, 1.0]], names=cube.models)
    if cls is gw.AttributionView:
        rng = np.random.default_rng(0)
        return gw.AttributionView(image=rng.random((6, 6)), delta_angle=rng.random((6, 6)),
                                  delta_margin=rng.random((6, 6)))
    if cls is gw.ProjectionView:
        xy = np.random.default_rng(1).normal(size=(2, 2, 12, 2)).astype(np.float32)
        return gw.ProjectionView(cube, method="pca", xy=xy)
    return cls(cube)


class Recorder:
    """What the widget sends to the browser."""

    def __init__(self, widget: GeoView) -> None:
        self.msgs: list[tuple[dict, list]] = []
        widget.comm.send = lambda data=None, metadata=None, buffers=None: self.msgs.append(
            (data, buffers))

    def state(self) -> dict[str, Any]:
        return {k: v for d, _ in self.msgs if d.get("method") == "update"
                for k, v in d["state"].items()}

    def errors(self) -> list[str]:
        return [d["content"]["message"] for d, _ in self.msgs
                if d.get("method") == "custom" and d["content"].get("kind") == "geowidget-error"]

    def replies(self) -> list[dict]:
        return [d["content"] for d, _ in self.msgs if d.get("method") == "custom"
                and d["content"].get("kind") == "anywidget-command-response"]


def from_browser(view: GeoView, state: dict[str, Any]) -> None:
    """An update as the browser sends it, through ipywidgets' message handler."""
    view._handle_msg({"content": {"data": {"method": "update", "state": state,
                                            "buffer_paths": []}}, "buffers": []})


def forged(trait: t.TraitType, current: Any) -> Any:
    """A value of the trait's kind that differs from ``current``."""
    if isinstance(trait, t.Dict):
        return {"models": [f"m{i}" for i in range(100)]}  # the issue's 100 model names
    if isinstance(trait, t.List | t.Tuple):
        return ["forged"]
    if isinstance(trait, t.Int):
        return 7
    return f"{current}-forged" if isinstance(current, str) else "forged"


VIEWS = view_classes()


def test_the_walk_finds_every_exported_view():
    exported = {getattr(gw.widgets, n) for n in gw.widgets.__all__}
    assert {c for c in exported if isinstance(c, type) and issubclass(c, GeoView)} <= set(VIEWS)
    assert len(VIEWS) >= 9


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
def test_private_traits_are_read_only_from_the_browser(cls):
    view = build(cls)
    private = sorted(k for k in set(view.keys) if k.startswith("_")
                     and k not in BROWSER_WRITABLE_PRIVATE)
    assert {"_meta", "_arrays", "_kind", "_esm", "_css", "_link"} <= set(private)
    real_esm = view._esm
    for key in private:
        before = getattr(view, key)
        rec = Recorder(view)
        from_browser(view, {key: forged(view.traits()[key], before), "height": 517})
        assert getattr(view, key) is before, key  # the kernel keeps its own value
        assert view.height != 517, key            # the whole update is refused
        (error,) = rec.errors()
        assert error == (f"The browser may not set the private trait(s) [{key!r}] of "
                         f"{cls.__name__}; only the kernel sets them. The update was refused.")
        sent = rec.state()  # the browser is sent the kernel's values back
        assert set(sent) == {key, "height"}, key
        if key not in ("_arrays", "_meta", "_dom_classes", "_link_keys"):
            assert sent[key] == before, key
    # the saved widget state (the browser's model) gets the real module back
    rec = Recorder(view)
    from_browser(view, {"_esm": "export default { render() { alert(1) } }"})
    assert rec.state()["_esm"] == real_esm == view.get_state()["_esm"]
    # a public trait still applies, with no error
    rec = Recorder(view)
    from_browser(view, {"height": 333})
    assert view.height == 333 and rec.errors() == []
    if view.has_trait("model"):
        from_browser(view, {"model": 1})
        assert view.model == 1 and rec.errors() == []


def test_the_issue_case_meta_then_model_keeps_cell_and_plotly_working():
    view = gw.PolarPlot(make_cube(m=2, n=12))
    from_browser(view, {"_meta": {**view._meta, "models": [f"m{i}" for i in range(100)]}})
    from_browser(view, {"model": 50})
    assert len(view._meta["models"]) == 2 and view.model == 0
    assert view.cell()["angle"].shape == (12,)


def test_the_view_count_the_ipywidgets_front_end_keeps_is_accepted():
    view = gw.PolarPlot(make_cube(n=12))
    rec = Recorder(view)
    from_browser(view, {"_view_count": 2})
    assert view._view_count == 2 and rec.errors() == []


# ---------------------------------------------------------------------------- commands
@pytest.mark.parametrize(("request_", "rid", "error"), [
    ({"id": "a1", "name": "_slice"}, "a1",
     r"^the request for command '_slice' has no 'msg' field"),
    ({"id": "a2", "name": ["_slice"], "msg": {}}, "a2",
     r"^unknown command \['_slice'\]; valid: \['_slice'\]$"),
    ({"id": "a3", "name": {"x": 1}, "msg": {}}, "a3", r"^unknown command \{'x': 1\}"),
    ({"id": "a4", "name": 5, "msg": {}}, "a4", r"^unknown command 5; valid"),
    ({"id": "a5", "name": None, "msg": {}}, "a5", r"^unknown command None; valid"),
    ({"id": "a6", "msg": {}}, "a6", r"^unknown command None; valid"),
    ({"id": "a7"}, "a7", r"^unknown command None; valid"),
    ({"name": "_slice", "msg": {}}, None, r"^a request id must be a string .* got None"),
    ({"id": 12, "name": "_slice", "msg": {}}, None, r"^a request id must be a string .* got 12"),
])
def test_every_malformed_command_gets_an_error_reply(request_, rid, error, caplog):
    view = gw.PolarPlot(make_cube(m=2, n=10), budget=1)
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "anywidget-command", **request_}, [])
    (reply,) = rec.replies()
    assert reply["id"] == rid
    assert re.search(error, reply["response"]["error"]), reply["response"]["error"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
def test_every_view_answers_a_request_it_has_no_command_for(cls):
    view = build(cls)
    rec = Recorder(view)
    view._handle_custom_msg({"kind": "anywidget-command", "id": "q", "name": "nope",
                             "msg": None}, [])
    (reply,) = rec.replies()
    assert reply["id"] == "q" and reply["response"]["error"].startswith("unknown command 'nope'")


@pytest.mark.parametrize("cls", view_classes(), ids=lambda c: c.__name__)
def test_no_view_redeclares_a_trait_the_widget_front_end_reads(cls):
    """A view's own trait named like a DOM widget's (``layout``, ``tooltip``, ...) replaces
    what the ipywidgets front end reads: a ``layout`` string broke every JupyterLab page."""
    import ipywidgets

    base = ipywidgets.DOMWidget.class_traits()
    clashes = [name for name, trait in cls.class_traits().items()
               if name in base and type(trait) is not type(base[name])]
    assert clashes == [], f"{cls.__name__} redeclares {clashes}"
