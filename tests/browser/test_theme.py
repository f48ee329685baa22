"""Every view of a composite follows one theme; ``theme="auto"`` follows the browser's colour
scheme in a plain page; the Explorer's table shows whole rows with a cue for the rest; a
SideBySide is side by side when the page is wide; every picker has an accessible name.

Set ``GEOWIDGET_SCREENSHOTS=DIR`` to save the pages checked as PNGs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import geowidget as gw
from tests.fixtures.synthetic import make_cube

CELL_H = 24  # a table row's height in CSS px (evaltable.ts CELL_H)

ROOTS = """() => Array.from(document.querySelectorAll('.gw-root')).map((r) => {
  const b = r.getBoundingClientRect();
  return { kind: r.dataset.kind || '', theme: r.dataset.theme || '',
           bg: getComputedStyle(r).backgroundColor, fg: getComputedStyle(r).color,
           box: [b.left, b.top, b.right, b.bottom] };
})"""


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of an ``rgb(...)`` / ``rgba(...)`` CSS colour."""
    rgb = np.array([float(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]])
    c = rgb / 255
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def open_page(browser, path: Path, scheme: str = "light", width: int = 1200):
    ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("() => { const r = document.querySelectorAll('.gw-root');"
                           " return r.length && Array.from(r).every((x) => x.dataset.kind === 'panel'"
                           " || Number(x.dataset.drawn || 0) >= 1); }", timeout=30000)
    page.errors = errors
    return ctx, page


def shoot(page, name: str) -> None:
    shots = os.environ.get("GEOWIDGET_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)


def assert_all(roots: list[dict], dark: bool) -> None:
    assert len(roots) >= 2
    for r in roots:
        assert r["theme"] == ("dark" if dark else "light"), r
        lum_bg, lum_fg = luminance(r["bg"]), luminance(r["fg"])
        if dark:
            assert lum_bg < 0.05 and lum_fg > 0.5, r
        else:
            assert lum_bg > 0.9 and lum_fg < 0.1, r
        # text readable on its background (WCAG AA for normal text)
        hi, lo = max(lum_bg, lum_fg), min(lum_bg, lum_fg)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, r


@pytest.fixture(scope="module")
def cube():
    return make_cube(m=6, layers=2, n=60, classes=3)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_view_of_an_explorer_follows_its_theme(browser, cube, tmp_path, theme):
    ex = gw.Explorer(cube, theme=theme)
    assert {v.theme for v in ex.views()} == {theme}
    ctx, page = open_page(browser, ex.to_html(tmp_path / "ex.html"),
                          scheme="light" if theme == "dark" else "dark")
    roots = page.evaluate(ROOTS)
    kinds = {r["kind"] for r in roots}
    assert {"evaltable", "polar", "histogram", "parallel", "layerprofile", "modelmap",
            "panel"} <= kinds, kinds
    assert_all(roots, theme == "dark")
    shoot(page, f"theme-explorer-{theme}")
    assert page.errors == []
    ctx.close()
    # a later change of the polar plot's theme reaches every view
    ex.polar.theme = "light" if theme == "dark" else "dark"
    assert {v.theme for v in ex.views()} == {ex.polar.theme}


def test_sidebyside_follows_its_theme(browser, cube, tmp_path):
    pair = gw.SideBySide(cube, theme="dark")
    ctx, page = open_page(browser, pair.to_html(tmp_path / "pair.html"))
    roots = page.evaluate(ROOTS)
    assert [r["kind"] for r in roots] == ["polar", "polar"]
    assert_all(roots, True)
    ctx.close()


def test_auto_follows_the_browsers_colour_scheme(browser, cube, tmp_path):
    path = gw.Explorer(cube).to_html(tmp_path / "auto.html")
    ctx, page = open_page(browser, path, scheme="dark")
    assert_all(page.evaluate(ROOTS), True)
    shoot(page, "theme-explorer-auto-dark")
    # the scheme changes while the page is open: every view follows
    page.emulate_media(color_scheme="light")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.gw-root'))"
                           ".every((r) => r.dataset.theme === 'light')", timeout=10000)
    assert_all(page.evaluate(ROOTS), False)
    assert page.errors == []
    ctx.close()


def test_auto_in_jupyterlab_follows_lab_not_the_browser(browser, cube, tmp_path):
    path = gw.PolarPlot(cube).to_html(tmp_path / "lab.html")
    ctx, page = open_page(browser, path, scheme="dark")
    assert page.evaluate(ROOTS)[0]["theme"] == "dark"
    # JupyterLab's flag on <body> wins over the browser's scheme
    page.evaluate("() => document.body.setAttribute('data-jp-theme-light', 'true')")
    page.wait_for_function("() => document.querySelector('.gw-root').dataset.theme === 'light'",
                           timeout=10000)
    ctx.close()


def test_explorer_table_shows_whole_rows_and_a_cue_for_the_rest(browser, cube, tmp_path):
    ex = gw.Explorer(cube, theme="light")
    rows = len(cube.models) * len(cube.coords.sparsities)
    ctx, page = open_page(browser, ex.to_html(tmp_path / "table.html"))
    got = page.evaluate("""() => {
      const r = document.querySelector('.gw-root[data-kind=evaltable]');
      const plot = r.querySelector('.gw-plot'), more = r.querySelector('.gw-more');
      const sc = plot.firstElementChild;
      return { hidden: Number(r.dataset.hiddenRows), h: plot.getBoundingClientRect().height,
               text: more.textContent, shown: more.getBoundingClientRect().height > 0,
               scroll: sc.scrollHeight - sc.clientHeight };
    }""")
    hidden = got["hidden"]
    assert 0 < hidden < rows, got
    assert got["text"] == f"▼ {hidden} more rows: scroll the table" and got["shown"], got
    # the window ends on a row's edge: one more row would not fit in the asked height (300)
    assert got["h"] <= 300 < got["h"] + CELL_H, got
    # the hidden rows are there to scroll to (they are 24 px each, gaps aside)
    assert got["scroll"] >= hidden * CELL_H - 2, got
    shoot(page, "theme-explorer-table")
    ctx.close()
    # a table that fits shows every row and no cue
    small = gw.EvaluationTable(make_cube(m=2, layers=2, n=30, classes=3), height=400)
    ctx, page = open_page(browser, small.to_html(tmp_path / "small.html"))
    assert page.evaluate("() => [document.querySelector('.gw-root').dataset.hiddenRows,"
                         " document.querySelector('.gw-more').getBoundingClientRect().height]") \
        == ["0", 0]
    ctx.close()


@pytest.mark.parametrize("width,beside", [(1200, True), (600, False)])
def test_sidebyside_is_side_by_side_when_wide(browser, cube, tmp_path, width, beside):
    ctx, page = open_page(browser, gw.SideBySide(cube).to_html(tmp_path / "pair.html"),
                          width=width)
    left, right = (r["box"] for r in page.evaluate(ROOTS))
    if beside:
        assert abs(left[1] - right[1]) < 1 and right[0] >= left[2], (left, right)
        assert left[2] - left[0] > 400 and right[2] <= width, (left, right)
    else:
        assert right[1] >= left[3] - 1, (left, right)
    shoot(page, f"theme-sidebyside-{width}")
    ctx.close()


def test_every_picker_has_an_accessible_name(browser, cube, tmp_path):
    ctx, page = open_page(browser, gw.Explorer(cube).to_html(tmp_path / "names.html"))
    names = page.evaluate("() => Array.from(document.querySelectorAll('select'))"
                          ".map((s) => s.getAttribute('aria-label') || '')")
    assert names and all(names), names
    for name in ("model", "layer", "sparsity", "benchmark"):
        assert page.get_by_role("combobox", name=name, exact=True).count() >= 1, name
    ctx.close()


LEGEND = """(kind) => Array.from(document.querySelectorAll(
    `.gw-root[data-kind=${kind}] .gw-legend .item`)).map((it) => {
  const sw = it.querySelector('.sw'), bg = getComputedStyle(it.closest('.gw-root')).backgroundColor;
  return { cls: it.dataset.class, text: it.textContent, off: it.classList.contains('off'),
           color: getComputedStyle(it).color, opacity: Number(getComputedStyle(it).opacity),
           sw: sw ? getComputedStyle(sw).backgroundColor : '', bg };
})"""


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_parallel_coordinates_has_a_class_legend(browser, cube, tmp_path, theme):
    view = gw.ParallelCoordinates(cube, theme=theme)
    ctx, page = open_page(browser, view.to_html(tmp_path / "par.html"))
    items = page.evaluate(LEGEND, "parallel")
    counts = np.bincount(cube.labels, minlength=len(cube.class_names))
    assert [it["text"] for it in items] == [f"{name} ({c})" for name, c in
                                             zip(cube.class_names, counts, strict=True)]
    assert len({it["sw"] for it in items}) == len(items) and not any(it["off"] for it in items)
    if theme == "dark":  # the dark palette is lifted to 3:1 on its background (paletteFor)
        for it in items:
            assert contrast(it["sw"], it["bg"]) >= 3, it
    # clicking a class hides its lines: its item goes off, the others stay on
    before = page.evaluate("() => document.querySelector('.gw-root').dataset.drawn")
    page.click(".gw-legend .item[data-class='1']")
    page.wait_for_function(f"() => document.querySelector('.gw-root').dataset.drawn !== '{before}'")
    assert [it["off"] for it in page.evaluate(LEGEND, "parallel")] == [False, True, False]
    shoot(page, f"theme-parallel-{theme}")
    ctx.close()


def test_layerprofile_legend_is_readable_in_dark(browser, cube, tmp_path):
    view = gw.LayerProfile(cube, theme="dark", model=2)
    ctx, page = open_page(browser, view.to_html(tmp_path / "lp.html"))
    items = page.evaluate(LEGEND, "layerprofile")
    assert [it["off"] for it in items] == [m != 2 for m in range(len(cube.models))]
    for it in items:  # the dimmed names too: text at least 3:1 on the background, not faded
        assert it["opacity"] == 1 and contrast(it["color"], it["bg"]) >= 3, it
    # the shown model stays set apart from the dimmed ones
    on = next(it for it in items if not it["off"])
    assert all(contrast(on["color"], it["bg"]) > contrast(it["color"], it["bg"])
               for it in items if it["off"])
    shoot(page, "theme-layerprofile-dark")
    ctx.close()
