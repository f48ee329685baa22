"""Captions say only what is known: an AttributionView built from maps has no label,
prediction, angle or margin to print; a ProjectionView given positions does not call them a
UMAP of the clean, dense features."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from tests.browser.gw_page import drag, open_html, plot_box, selected_ids
from tests.fixtures.synthetic import make_cube


def test_attribution_from_maps_prints_no_undefined(page, tmp_path):
    d = np.zeros((4, 4))
    d[0, 0] = 1.0
    av = gw.AttributionView(image=np.full((4, 4), 0.5), delta_angle=d, delta_margin=-d,
                            patch=3, stride=2)
    page.goto(av.to_html(tmp_path / "av.html").as_uri())
    page.wait_for_selector(".gw-root[data-kind=attribution][data-drawn]")
    info = page.inner_text(".gw-attr-info")
    assert info.splitlines() == [f"sample {av.sample}", "patch 3, stride 2"]
    assert "undefined" not in page.inner_text(".gw-root")
    assert page.errors == []


def caption(page) -> str:
    return page.evaluate("document.querySelector('.gw-root[data-kind=projection] svg text')"
                         ".textContent")


def test_projection_caption_says_what_the_positions_are(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=30)
    xy = np.random.default_rng(0).normal(size=(30, 2))
    tail = " · positions distort distances; hover shows the exact θ, ρ, m"
    for kw, want in [({}, "positions given by the user"),
                     ({"method": "isomap"}, "isomap positions given by the user")]:
        view = gw.ProjectionView(cube, xy=xy, **kw)
        page.goto(view.to_html(tmp_path / "p.html").as_uri())
        page.wait_for_selector(".gw-root[data-kind=projection][data-drawn]")
        assert caption(page) == want + tail
    assert page.errors == []


def selcount(page):
    return page.evaluate("""() => { const e = document.querySelector(
        '.gw-root[data-kind=polar] .gw-legend [data-selcount]'); return e && e.textContent; }""")


def test_polar_lasso_shows_the_selection_count(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=60)
    view = gw.PolarPlot(cube)
    view.selected = cube.sample_ids[:7]
    open_html(page, view.to_html(tmp_path / "p.html"))
    assert selcount(page) == "7 selected"
    left, top, pw, ph = plot_box(page)
    drag(page, [(left + 5, top + 5), (left + pw - 5, top + 5), (left + pw - 5, top + ph * 0.6),
                (left + 5, top + ph * 0.6)])
    got = selected_ids(page)
    assert 0 < len(got) and sorted(got) != sorted(cube.sample_ids[:7].tolist())
    page.wait_for_function(f"document.querySelector('.gw-root[data-kind=polar] .gw-legend "
                           f"[data-selcount]')?.textContent === '{len(got)} selected'")
    page.click(".gw-root[data-kind=polar] button[data-tool=box]")
    page.mouse.click(left + 3, top + ph - 3)  # a click on nothing clears the selection
    page.wait_for_function("!document.querySelector('.gw-root[data-kind=polar] [data-selcount]')")
    assert selected_ids(page) == [] and page.errors == []
