"""A view at a sparsity whose model was never corrupted says so, in real Chromium, instead of
showing another sparsity's robustness (the values are checked in tests/test_robustness_per_sparsity.py)."""

from __future__ import annotations

import geowidget as gw
from tests.browser.gw_page import open_html
from tests.fixtures.synthetic import make_cube

NOTE = ('robustness: not evaluated at sparsity 50% (no corruptions there; a Study with '
        'grid="full" corrupts every sparsity)')


def texts(page, kind: str) -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind={kind}] [data-robust]')).map((e) => e.textContent)""")


def test_polar_and_parallel_say_robustness_is_not_evaluated_there(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=40)  # fog at sparsity 0 only: a dense-corrupted cube
    polar = gw.PolarPlot(cube, color_by="robustness", sparsity=0.5)
    open_html(page, polar.to_html(tmp_path / "polar.html"))
    assert texts(page, "polar") == [NOTE]
    legend = page.evaluate("document.querySelector('.gw-root[data-kind=polar] "
                           "[data-missing]').dataset.missing")
    assert legend == "40"  # every sample is drawn as missing, none with the dense value
    page.select_option("select[data-picker=sparsity]", "0")
    page.wait_for_function("!document.querySelector('.gw-root[data-kind=polar] [data-robust]')")
    parallel = gw.ParallelCoordinates(cube, sparsity=0.5)
    open_html(page, parallel.to_html(tmp_path / "parallel.html"), kind="parallel")
    # the axis mark says why, its title (on hover) and the line above the plot in full
    assert texts(page, "parallel") == ["not evaluated" + NOTE]
    assert page.inner_text(".gw-root[data-kind=parallel] .gw-degenerate") == NOTE
    assert page.errors == []
