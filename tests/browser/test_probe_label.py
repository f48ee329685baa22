"""The layer picker shows each probe's held-out accuracy beside the layer's name, for the shown
model and condition, in real Chromium."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from tests.browser.gw_page import open_html
from tests.fixtures.synthetic import make_cube


def option_texts(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        'select[data-picker=layer] option')).map((o) => o.textContent)""")


def test_the_layer_picker_labels_probe_layers_with_their_accuracy(browser, tmp_path):
    cube = make_cube(m=1, layers=2, n=40)
    accuracy = np.full((1, 2, 3), np.nan)
    accuracy[0, 0] = [0.8812, 0.5, 0.25]  # layer0 is a probe layer; layer1 uses the head
    cube = cube.replace(probe_accuracy=accuracy)
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_html(page, gw.PolarPlot(cube).to_html(tmp_path / "p.html"))
    assert option_texts(page) == ["layer0 · probe 88.1% held-out", "layer1"]
    page.select_option("select[data-picker=sparsity]", "0.5")  # the condition clean@0.5
    page.wait_for_function("document.querySelector('select[data-picker=layer] option')"
                           ".textContent.includes('50.0%')")
    assert option_texts(page) == ["layer0 · probe 50.0% held-out", "layer1"]
    assert errors == []
    ctx.close()


def test_the_layer_profile_explains_probe_layers_on_hover(page, tmp_path):
    cube = make_cube(m=1, layers=2, n=40)
    accuracy = np.full((1, 2, 3), np.nan)
    accuracy[0, 0] = [0.8812, 0.5, 0.25]
    cube = cube.replace(probe_accuracy=accuracy)
    open_html(page, gw.LayerProfile(cube, layer=0, height=300).to_html(tmp_path / "lp.html"),
              kind="layerprofile")
    hover = """() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind=layerprofile] text.gw-layer title')).map((t) => t.textContent)"""
    legend = "() => document.querySelector('.gw-root[data-kind=layerprofile] .gw-legend').innerText"
    # every panel's layer labels explain the probe on hover; no stray note beside the model
    titles = page.evaluate(hover)
    assert len(titles) == 6 and titles[1::2] == ["layer1"] * 3
    assert all(t.startswith("layer0: measured with a linear probe") and "out of sample" in t
               and "88.1% of the samples right (held-out accuracy)" in t for t in titles[::2])
    assert "held-out" not in page.evaluate(legend)
    page.select_option("select[data-picker=sparsity]", "0.5")
    page.wait_for_function("document.querySelector('.gw-root[data-kind=layerprofile] "
                           "text.gw-layer title').textContent.includes('50.0%')")
    assert "held-out" not in page.evaluate(legend)
    # the picker's option says the accuracy, its tooltip what it is
    option = page.evaluate("""() => { const o = document.querySelector(
        'select[data-picker=layer] option'); return [o.textContent, o.title]; }""")
    assert option[0] == "layer0 · probe 50.0% held-out"
    assert option[1].startswith("layer0: measured with a linear probe")
    assert page.errors == []
