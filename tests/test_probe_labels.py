"""Probe accuracy beside the layer name where the Explorer picks a layer (its ipywidgets
dropdown); the LayerProfile's is checked in real Chromium (tests/browser)."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from geowidget.widgets.explorer import layer_label
from tests.fixtures.synthetic import make_cube


def probed_cube():
    """One model, layer0 a probe layer (its accuracy per condition), layer1 the head's."""
    cube = make_cube(m=1, layers=2, n=30)
    accuracy = np.full((1, 2, 3), np.nan)
    accuracy[0, 0] = [0.8812, 0.5, 0.25]
    return cube.replace(probe_accuracy=accuracy)


def labels(explorer) -> list[str]:
    return [text for text, _ in explorer.controls["layer"].options]


def test_the_explorer_layer_picker_shows_the_shown_probes_accuracy() -> None:
    ex = gw.Explorer(probed_cube())
    assert labels(ex) == ["layer0 · probe 88.1% held-out", "layer1"]
    ex.controls["layer"].value = 1
    seen: list[int] = []
    ex.profile.observe(lambda c: seen.append(c["new"]), "layer")
    ex.polar.condition = 1  # clean at sparsity 0.5: its probe's accuracy
    assert labels(ex) == ["layer0 · probe 50.0% held-out", "layer1"]
    ex.polar.condition = 2
    assert labels(ex) == ["layer0 · probe 25.0% held-out", "layer1"]
    # relabelling kept the picked layer, and passed no pick of layer 0 to the linked views
    assert ex.controls["layer"].value == 1 and ex.polar.layer == 1 and ex.profile.layer == 1
    assert seen == []
    ex.controls["layer"].value = 0  # the picker still drives the views
    assert ex.polar.layer == 0 and ex.profile.layer == 0


def test_layer_label_text_and_cubes_without_probes() -> None:
    meta = {"layers": ["conv2", "penultimate"],
            "probe_accuracy": [[[0.8812], [None]], [[0.9999], [None]]]}
    assert layer_label(meta, 0, 0, 0) == "conv2 · probe 88.1% held-out"
    assert layer_label(meta, 0, 1, 0) == "conv2 · probe 100.0% held-out"
    assert layer_label(meta, 1, 0, 0) == "penultimate"
    assert layer_label({**meta, "probe_accuracy": None}, 0, 0, 0) == "conv2"
    plain = gw.Explorer(make_cube(m=1, layers=2, n=30))
    assert labels(plain) == ["layer0", "layer1"]
