"""A live cube's table and layer profile in a browser (exported pages): the table fills the
computed cells with their accuracy's colour and says "not computed" for the others; the
profile keeps its progress line on while layers of the shown model compute, and names them."""

from __future__ import annotations

import threading

import numpy as np
import torch

import geowidget as gw
from geowidget.study import Study
from tests.browser.gw_page import read_pixels
from tests.browser.test_evaltable import cell_point, expected_colour, wait_drawn
from tests.test_live_views import KW, N, small_cnn, wait


def live_cube():
    g = torch.Generator().manual_seed(0)
    data = torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10
    return Study({"a": small_cnn(0), "b": small_cnn(1)}, data, **KW).live()


def corner(page, r: int, c: int) -> list[int]:
    """RGBA near the top-right corner of table cell (r, c), scrolled into view (no text and
    no bars are drawn there)."""
    x, y = page.evaluate(
        "([r, c]) => { const t = document.querySelector('.gw-root[data-kind=evaltable]')"
        ".__geowidget; t.cellPoint(r, c); const L = t.layout();"
        " return [L.x(c) + L.cellW - 4, L.y(r) + 3]; }", [r, c])
    return read_pixels(page, [(x, y)], kind="evaltable")[0]


def test_a_live_table_marks_the_cells_not_computed(page, tmp_path) -> None:
    live = live_cube()
    layer = live.coords.default_layer
    live.cell(0, layer, 0)
    live.cell(1, layer, 1)
    table = gw.EvaluationTable(live)
    done = table.computed()
    assert done.sum() == 2
    table.to_html(tmp_path / "table.html")
    page.goto((tmp_path / "table.html").as_uri())
    wait_drawn(page, "evaltable")
    g = table.grid
    got = page.evaluate("() => Array.from(document.querySelector('.gw-root[data-kind=evaltable]')"
                        ".__geowidget.grid.notComputed)")
    assert got == ((g.condition >= 0) & ~done).astype(int).ravel().tolist()
    for (r, c), computed in [((0, 0), True), ((0, 1), False), ((1, 0), False)]:
        assert bool(done[r, c]) is computed
        rgba = corner(page, r, c)
        if computed:  # the accuracy's colour; not computed: the background, no colour
            finite = g.accuracy[np.isfinite(g.accuracy)]
            # the colour domain: the computed accuracies' range, [0, 1] when they are one value
            domain = finite if finite.min() < finite.max() else np.array([0.0, 1.0])
            assert rgba[:3] == expected_colour(domain, float(g.accuracy[r, c]))
        else:
            assert rgba[:3] == [255, 255, 255], (r, c, rgba)
        page.mouse.move(*cell_point(page, r, c))
        tip = page.locator(".gw-root[data-kind=evaltable] .gw-tip")
        tip.wait_for(state="visible")
        text = tip.inner_text()
        if computed:
            assert f"accuracy {100 * g.accuracy[r, c]:.2f}%" in text
        else:
            assert "not computed yet" in text and "accuracy" not in text
    legend = page.locator(".gw-root[data-kind=evaltable] .gw-legend").inner_text()
    assert "dashed: not computed yet" in legend
    assert not page.errors


def test_a_live_profile_shows_its_layers_computing(page, tmp_path) -> None:
    live = live_cube()
    view = gw.LayerProfile(live, model="a", theme="light")
    wait(lambda: (view._arrays["cell_state"][0, :, 0] == 1).all())
    gate = threading.Event()
    original = live.live.parts

    def held(*args, **kwargs):  # the worker's cells wait; the page's export reads at once
        if threading.current_thread().name == "geowidget-live":
            gate.wait(30)
        return original(*args, **kwargs)

    live.live.parts = held
    try:
        view.condition = 2  # fog-1@0: its three layers are asked for, and held
        assert (view._arrays["cell_state"][0, :, 2] == 2).all()
        assert np.isnan(view._arrays["profile"][0, :, 2]).all()  # nothing to draw yet
        view.to_html(tmp_path / "profile.html")
    finally:
        gate.set()
    page.goto((tmp_path / "profile.html").as_uri())
    wait_drawn(page, "layerprofile")
    root = page.locator(".gw-root[data-kind=layerprofile]")
    assert root.get_attribute("data-computing") == "true"
    assert root.get_attribute("data-computing-layers") == "3"
    note = root.locator(".gw-note[data-live=computing]").inner_text()
    assert note == f"a: computing {', '.join(live.layers)}…"
    assert not page.errors
