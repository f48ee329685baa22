"""`geowidget report` output in real Chromium: every view renders, a control redraws, no errors.

Set ``GEOWIDGET_SCREENSHOTS=DIR`` to also save a full-page screenshot (``report.png``) there,
e.g. for the README.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from geowidget.cli import main
from tests.browser.gw_page import canvas_digest, drag, open_html, plot_box, selected_ids

KINDS = ("polar", "histogram", "parallel", "modelmap")


@pytest.fixture(scope="module")
def report(demo_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--out", str(out), "--n-boot", "100", "--quiet"]) == 0
    return out


def drawn(page, kind: str) -> int:
    return page.evaluate(
        f"Number(document.querySelector('.gw-root[data-kind={kind}]').dataset.drawn || 0)")


def test_report_renders_every_view_and_a_picker_redraws(browser, report, demo_cache):
    cube = demo_cache.cube
    ctx = browser.new_context(viewport={"width": 1000, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    open_html(page, report)
    for kind in KINDS:
        page.wait_for_function(
            f"Number(document.querySelector('.gw-root[data-kind={kind}]')?.dataset.drawn || 0) >= 1",
            timeout=20000)
    assert page.evaluate("document.querySelectorAll('.gw-root[data-kind=panel]').length") == 1
    # each view drew ink on its canvas
    for kind in ("polar", "histogram", "parallel", "modelmap"):
        _, ink = canvas_digest(page, kind)
        assert ink > 100, (kind, ink)
    # the tables: four correlation tables (robustness/vulnerability x Pearson/Spearman)
    assert page.locator("table.geowidget-correlations").count() == 4
    rows = page.locator("table.gw-accuracy tbody tr")
    assert rows.count() == len(cube.models)
    first = [float(v) for v in rows.nth(0).locator("td").all_inner_texts()]
    assert first == [round(v, 3) for v in cube.correct[0].mean(axis=1)]
    # the polar plot's model picker switches the drawing, in the browser, with no kernel
    before, n0 = canvas_digest(page, "polar"), drawn(page, "polar")
    hist0 = drawn(page, "histogram")
    page.select_option(".gw-root[data-kind=polar] select[data-picker=model]", "3")
    page.wait_for_function(
        f"Number(document.querySelector('.gw-root[data-kind=polar]').dataset.drawn) > {n0}")
    page.wait_for_function(
        f"Number(document.querySelector('.gw-root[data-kind=histogram]').dataset.drawn) > {hist0}")
    assert canvas_digest(page, "polar") != before
    assert page.evaluate("document.querySelector('.gw-root[data-kind=histogram] "
                         "select[data-picker=model]').value") == "3"  # linked views follow
    # a box selection in the polar plot selects the same samples in the histogram
    page.click(".gw-root[data-kind=polar] button[data-tool=box]")
    page.locator(".gw-root[data-kind=polar] .gw-plot").scroll_into_view_if_needed()
    left, top, w, h = plot_box(page)
    drag(page, [(left + 5, top + 5), (left + w - 5, top + h - 5)])
    sel = selected_ids(page, "polar")
    assert len(sel) > 0
    assert sorted(selected_ids(page, "histogram")) == sorted(sel)
    assert set(sel) <= set(np.asarray(cube.sample_ids).tolist())
    shots = os.environ.get("GEOWIDGET_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / "report.png"), full_page=True)
    assert errors == []
    ctx.close()
