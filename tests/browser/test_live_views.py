"""A live cube's table and layer profile in a browser (exported pages): the table fills the
computed cells with their accuracy's colour and says "not computed" for the others; the
profile's page names the layers not computed when it was exported, with no progress line."""

from __future__ import annotations

import torch

import geowidget as gw
from geowidget.study import Study
from tests.browser.gw_page import read_pixels
from tests.browser.test_evaltable import cell_point, expected_colour, wait_drawn
from tests.test_live_views import KW, N, small_cnn


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
            # the colour domain: chance to 100 %, whatever is computed
            assert rgba[:3] == expected_colour(len(live.class_names), float(g.accuracy[r, c]))
        else:
            assert rgba[:3] == [255, 255, 255], (r, c, rgba)
        page.mouse.move(*cell_point(page, r, c))
        tip = page.locator(".gw-root[data-kind=evaltable] .gw-tip")
        tip.wait_for(state="visible")
        text = tip.inner_text()
        if computed:
            assert f"accuracy {100 * g.accuracy[r, c]:.1f}%" in text
        else:
            # a page computes nothing any more: it says when the cell was not computed
            assert "not computed when this page was exported" in text and "accuracy" not in text
    legend = page.locator(".gw-root[data-kind=evaltable] .gw-legend").inner_text()
    assert "dashed: not computed when this page was exported" in legend
    assert "accuracy: chance (10.0%)" in legend  # the colour scale, from chance to 100 %
    assert not page.errors


def test_an_exported_live_profile_says_what_was_not_computed(page, tmp_path) -> None:
    """A page can never finish a computation: the export computes the shown model's layers,
    and a pick in the page of a condition not computed then says so, with no progress line."""
    live = live_cube()
    view = gw.LayerProfile(live, model="a", theme="light")
    view.to_html(tmp_path / "profile.html")  # no browser asked: the export computes them
    assert live.computed()[0, :, 0].all() and not live.computed()[0, :, 2].any()
    page.goto((tmp_path / "profile.html").as_uri())
    wait_drawn(page, "layerprofile")
    root = page.locator(".gw-root[data-kind=layerprofile]")
    assert root.get_attribute("data-computing") is None
    assert root.locator(".gw-note[data-live]").count() == 0  # every layer drawn
    page.select_option(".gw-root[data-kind=layerprofile] select[data-picker=benchmark]", "fog")
    # nothing of fog is there: the centred notice of the other views, not empty axes
    page.wait_for_function("document.querySelector('.gw-root[data-kind=layerprofile]')"
                           ".dataset.unavailable === 'true'")
    fog = live.coords.conditions[2].label
    assert root.locator(".gw-msg").inner_text() == (
        f"a at {fog}: not computed when this page was exported: {', '.join(live.layers)}")
    assert root.get_attribute("data-computing") is None
    assert root.get_attribute("data-computing-layers") == "0"
    assert "computing" not in root.locator(".gw-legend").inner_text().replace(
        "not computed", "")
    assert not page.errors
