"""What hosts that render widgets from their state alone (VS Code, Colab) need, checked on the
bundle: the ES module and styles inlined in the widget state, no CDN fetch at run time, no
global ``require``."""

from __future__ import annotations

import re

import pytest

import geowidget as gw
from geowidget.widgets.export import CSS_PATH, ESM_PATH
from tests.fixtures.synthetic import make_cube

ESM = ESM_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("make", [
    lambda: gw.PolarPlot(make_cube(n=10)),
    lambda: gw.ModelMap(xy=[[0, 0], [1, 1]]),
    lambda: gw.widgets.SamplePanel(make_cube(n=10)),
])
def test_the_module_and_styles_travel_in_the_widget_state(make):
    state = make().get_state()
    assert state["_esm"] == ESM  # the code itself, not a URL
    assert state["_css"] == CSS_PATH.read_text(encoding="utf-8")
    assert ".gw-plot canvas" in state["_css"]


def test_the_bundle_fetches_nothing_and_needs_no_require():
    urls = set(re.findall(r"https?://[^\s\"'`)]+", ESM))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # a namespace name, never fetched
    assert not re.search(r"\bimport\s*\(", ESM)  # no dynamic import
    assert not re.search(r"^\s*import[\s{]", ESM, re.M)  # no static import: one module
    assert not re.search(r"\bfetch\s*\(", ESM)
    assert not re.search(r"\brequire\s*\(|\bdefine\s*\(|\brequirejs\b", ESM)  # no AMD
    assert re.search(r"\bexport\s*\{[^}]*\bas default\b", ESM)  # an ES module with `render`
    assert "document.head" not in ESM  # styles travel as _css, not into the page's head
