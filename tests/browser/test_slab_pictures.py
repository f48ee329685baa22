"""The slab views' pictures in Chromium: the margin histogram counts every sample (its
per-class counts equal the polar plot's legend), a cell the page cannot show empties the
plots (no earlier cell's marks under the new labels), and the hover tooltip and sample panel
never keep the previous cell's numbers after a switch."""

from __future__ import annotations

import re
import threading

import numpy as np
import torch

import geowidget as gw
from geowidget.study import Study
from tests.browser.gw_page import digest_of, open_html, sector_xy
from tests.fixtures.synthetic import make_cube
from tests.test_live_views import KW, N, small_cnn

# float32 margins whose zero-aligned 40-bin range once began a hair above the lowest
# (js/tests/histcounts.test.ts): the histogram dropped that sample
LOWEST, HIGHEST = -3.641042470932007, 6.729021072387695


def legend_counts(page, kind: str) -> dict[str, int]:
    """name -> count of the legend items "name (count)" of the first view of ``kind``."""
    texts = page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind={kind}] .gw-legend .item')).map((e) => e.textContent)""")
    return {m[1]: int(m[2]) for t in texts if (m := re.fullmatch(r"(.*) \((\d+)\)", t))}


def test_the_histogram_counts_the_lowest_margin_as_the_polar_legend_does(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=60, classes=3)
    cube.margin[0, 0, 0, 0], cube.margin[0, 0, 0, 1] = LOWEST, HIGHEST  # classes 0 and 1
    want = {name: int(c) for name, c in zip(cube.class_names, np.bincount(cube.labels),
                                            strict=True)}
    hist = gw.MarginHistogram(cube, bins=40)
    open_html(page, hist.to_html(tmp_path / "hist.html"), kind="histogram")
    drawn = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]')"
                          ".__geowidget.layout()")
    got = {g["name"]: sum(g["counts"]) for g in drawn["groups"]}
    assert got == want  # every sample counted, the lowest one included
    assert drawn["lo"] <= LOWEST and drawn["hi"] >= HIGHEST
    assert legend_counts(page, "histogram") == want
    titles = page.evaluate("Array.from(document.querySelectorAll("
                           "'.gw-root[data-kind=histogram] .gw-axis-title'), (e) => e.textContent)")
    assert f"margin m (signed; samples span {LOWEST:.4g} … {HIGHEST:.4g})" in titles
    polar = gw.PolarPlot(cube)
    open_html(page, polar.to_html(tmp_path / "polar.html"))
    assert legend_counts(page, "polar") == want
    assert page.errors == []


def polar_points(cell, page) -> np.ndarray:
    """CSS px (x, y) of every sample of ``cell`` in the polar plot's default frame."""
    w, h = page.evaluate("(() => { const r = document.querySelector("
                         "'.gw-root[data-kind=polar] .gw-plot').getBoundingClientRect();"
                         " return [r.width, r.height]; })()")
    return np.stack(sector_xy(cell.angle, cell.norm, w, h), axis=1)


def panel_text(page) -> str:
    return page.inner_text(".gw-root[data-kind=panel] .gw-panel-text")


def numbers(cell, i: int) -> list[str]:
    """Sample i's lines in the tooltip and panel (formatNumber: 4 significant digits)."""
    return [f"θ = {float(np.degrees(cell.angle[i])):.4g}°", f"ρ = {float(cell.norm[i]):.4g}",
            f"m = {float(cell.margin[i]):.4g}"]


def drawn(page, kind: str) -> int:
    return page.evaluate(f"Number(document.querySelector('.gw-root[data-kind={kind}]')"
                         ".dataset.drawn || 0)")


def test_a_switch_refreshes_the_panel_and_an_uncomputed_cell_empties_the_plots(page, tmp_path):
    g = torch.Generator().manual_seed(0)
    data = torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10
    live = Study({"a": small_cnn(0)}, data, **KW).live()
    layers = list(live.coords.layers)  # fc1, pool_1, penultimate
    shown, other = (layers.index(x) for x in ("penultimate", "fc1"))
    first, second = live.cell(0, shown, 0), live.cell(0, other, 0)
    fog = live.coords.condition(0.0, "fog", 1)  # the export computes the shown condition only
    gate, original = threading.Event(), live.live.parts

    def held(*args, **kwargs):  # the views' requests wait: fog stays not computed
        if threading.current_thread().name == "geowidget-live":
            gate.wait(30)
        return original(*args, **kwargs)

    live.live.parts = held
    try:
        explorer = gw.Explorer(live, theme="light")
        path = explorer.to_html(tmp_path / "explorer.html")
        assert not live.computed()[:, :, fog].any()
    finally:
        gate.set()
    page.set_viewport_size({"width": 1200, "height": 1600})
    open_html(page, path)
    # the robustness axis says why it is empty: the page holds no fog cell
    parallel = ".gw-root[data-kind=parallel]"
    mark = page.evaluate(f"document.querySelector('{parallel} [data-robust]').dataset.robust")
    assert mark == "not computed"
    assert page.inner_text(f"{parallel} .gw-degenerate") == (
        "robustness: not computed yet for a at sparsity 0% (a live cube; it needs every "
        "corrupted condition there); this page was exported before it was computed")
    # hover the sample farthest from the others (the nearest point within 8 px is hovered)
    xy = polar_points(first, page)
    gap = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 1e9
    i = int(np.argmax(gap.min(axis=1)))
    box = page.locator(".gw-root[data-kind=polar] .gw-plot").bounding_box()
    page.mouse.move(box["x"] + xy[i, 0], box["y"] + xy[i, 1])
    tip = page.locator(".gw-root[data-kind=polar] .gw-tip")
    tip.wait_for(state="visible")
    sid = int(live.sample_ids[i])
    for line in [f"sample {sid}", *numbers(first, i)]:
        assert line in tip.inner_text() and line in panel_text(page)
    names = live.class_names
    assert f"label: {names[live.labels[i]]}" in tip.inner_text()  # one wording, both places
    assert f"prediction: {names[first.pred[i]]}" in panel_text(page)
    assert f"prediction: {names[first.pred[i]]}" in tip.inner_text()

    # another computed layer: the tooltip goes, the panel shows the new cell's numbers
    before = drawn(page, "polar")
    page.mouse.move(2, 2)  # off the plot, so no new hover decides what the panel shows
    page.select_option(".gw-root[data-kind=polar] select[data-picker=layer]", str(other))
    page.wait_for_function(f"Number(document.querySelector('.gw-root[data-kind=polar]')"
                           f".dataset.drawn) > {before}")
    assert not tip.is_visible()
    text = panel_text(page)
    assert f"sample {sid}" in text and all(line in text for line in numbers(second, i)), text
    assert numbers(first, i)[2] != numbers(second, i)[2]  # the check can tell them apart

    # a condition not computed when the page was exported: empty plots that name the cell
    page.select_option(".gw-root[data-kind=polar] select[data-picker=benchmark]", "fog")
    for kind in ("polar", "histogram", "parallel"):
        root = f".gw-root[data-kind={kind}]"
        page.wait_for_function(f"document.querySelector('{root}').dataset.unavailable === 'true'")
        assert digest_of(page, root)[1] == 0, kind  # no pixel with ink: no marks
        marks = page.evaluate(f"document.querySelectorAll('{root} svg g *').length")
        legend = page.evaluate(f"document.querySelectorAll('{root} .gw-legend *').length")
        assert (marks, legend) == (0, 0), kind
        msg = page.inner_text(f"{root} .gw-msg")
        assert msg.startswith("a · fc1 · sparsity 0% · fog severity 1: "), msg  # coordinates
        assert "not computed" in msg and "(0, " not in msg
    text = panel_text(page)
    assert "θ =" not in text and f"sample {sid}: not in the shown cell yet" in text
    assert page.errors == []
