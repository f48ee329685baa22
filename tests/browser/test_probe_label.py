"""The layer picker shows each probe's held-out accuracy beside the layer's name, for the shown
model and condition, in real Chromium."""

from __future__ import annotations

import numpy as np
from fixtures.synthetic import make_cube
from gw_page import open_html

import geowidget as gw


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
