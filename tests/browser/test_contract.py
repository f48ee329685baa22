"""The view contract: every view x {every cell sent at once, cells on demand} x {live kernel in
JupyterLab, exported HTML with no kernel}. Each case checks that the view draws, that its
control redraws it, and that a selection (or a pick) crosses to a linked view.

The views are those of ``contract_views.linked_views``: one JupyterLab page shows both groups
(one per mode), and each exported page one group. Views that hold no selection cross by picks
instead: a model map or table click picks a model in linked views, a profile click a layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geowidget.analysis.evaluation import evaluation_grid
from tests.browser.contract_views import KINDS, MODES, contract_cube, linked_views
from tests.browser.gw_page import (
    box_of,
    dataset,
    digest_of,
    drag,
    drawn_count,
    root_of,
    run_all_in_lab,
    sector_xy,
    wait_digest_change,
    wait_drawn,
    write_notebook,
)

HERE = Path(__file__).resolve().parent
WAIT = 30000


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("contract")
    return {mode: linked_views(budget).to_html(out / f"{mode}.html", title=mode)
            for mode, budget in MODES.items()}


@pytest.fixture(scope="module")
def lab_page(browser, jupyter_lab):
    cells = [
        "from tests.browser.contract_views import MODES, linked_views\n"
        "links = {mode: linked_views(budget) for mode, budget in MODES.items()}",
        "links['full']",
        "links['lazy']",
    ]
    write_notebook(jupyter_lab["root"] / "contract.ipynb", cells)
    page = run_all_in_lab(browser, jupyter_lab, "contract.ipynb",
                          ready=".gw-root[data-kind=panel] ~ *, .gw-root[data-kind=panel]")
    page.wait_for_function("document.querySelectorAll('.gw-root[data-kind]').length === "
                           f"{2 * len(KINDS)}", timeout=60000)
    yield page
    page.context.close()


def group_link(page, mode: str) -> str:
    lazy = "true" if mode == "lazy" else "false"
    return page.evaluate(
        f"document.querySelector('.gw-root[data-kind=polar][data-lazy={lazy}]').dataset.link")


def changed_digest(page, root: str, before: tuple, drawn_before: int) -> tuple:
    """Wait for a redraw of ``root`` whose picture differs from ``before``."""
    wait_drawn(page, root, drawn_before, timeout=WAIT)
    after = wait_digest_change(page, root, before[0], timeout=WAIT)
    assert after[1] > 0
    return after


def toggle(page, root: str, picker: str) -> None:
    """Switch a <select data-picker> of ``root`` to its other value."""
    sel = page.locator(f"{root} select[data-picker='{picker}']")
    values = sel.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    cur = sel.input_value()
    sel.select_option(next(v for v in values if v != cur))


def box_select(page, root: str, frac=(0.02, 0.02, 0.98, 0.98)) -> int:
    left, top, w, h = box_of(page, root)
    page.click(f"{root} button[data-tool=box]")
    drag(page, [(left + w * frac[0], top + h * frac[1]), (left + w * frac[2], top + h * frac[3])])
    page.wait_for_function(f"Number(document.querySelector(\"{root}\").dataset.selected) > 0",
                           timeout=WAIT)
    return int(dataset(page, root, "selected"))


def wait_selected(page, root: str, n: int) -> None:
    page.wait_for_function(f"document.querySelector(\"{root}\").dataset.selected === '{n}'",
                           timeout=WAIT)


def clear_selection(page, link: str, target: str) -> None:
    """Empty the group's selection (a click in the polar plot) and wait until ``target`` shows
    it, so that a selection crossing next cannot be mistaken for an earlier one."""
    polar = root_of("polar", link)
    if dataset(page, polar, "selected") != "0":
        left, top, _, _ = box_of(page, polar)
        page.mouse.click(left + 3, top + 3)
    wait_selected(page, target, 0)


def picker_value(page, root: str, picker: str) -> str:
    return page.locator(f"{root} select[data-picker='{picker}']").input_value()


# ---------------------------------------------------------------------------- per view
def picker_redraws(page, root: str, picker: str = "layer") -> None:
    before, n0 = digest_of(page, root), drawn_count(page, root)
    toggle(page, root, picker)
    changed_digest(page, root, before, n0)


def check_polar(page, link, host):
    root = root_of("polar", link)
    picker_redraws(page, root)
    n = box_select(page, root)
    wait_selected(page, root_of("histogram", link), n)


def check_histogram(page, link, host):
    root = root_of("histogram", link)
    picker_redraws(page, root)
    n = box_select(page, root, (0.05, 0.05, 0.95, 0.95))
    wait_selected(page, root_of("polar", link), n)


def check_parallel(page, link, host):
    root = root_of("parallel", link)
    picker_redraws(page, root)
    _, _, w, _ = box_of(page, root)
    axis = (w - 28 - 20) / w  # the last axis (m), see js/src/views/parallel.ts
    n = box_select(page, root, (axis - 0.01, 0.05, axis + 0.01, 0.95))
    wait_selected(page, root_of("polar", link), n)


def check_modelmap(page, link, host):
    root = root_of("modelmap", link)
    picker_redraws(page, root, "color")
    polar_model = page.locator(f"{root_of('polar', link)} select[data-picker=model]")
    target = 1 - int(polar_model.input_value())
    _, _, w, h = box_of(page, root)
    sc = min(w - 56, h - 56)  # the equal-aspect fit of the unit square (js/src/scales.ts)
    x, y = (w / 2 + sc / 2, h / 2 - sc / 2) if target == 1 else (w / 2 - sc / 2, h / 2 + sc / 2)
    page.click(f"{root} .gw-plot", position={"x": x, "y": y})
    page.wait_for_function(
        f"document.querySelector(\"{root_of('polar', link)} select[data-picker=model]\").value"
        f" === '{target}'", timeout=WAIT)


def check_attribution(page, link, host):
    root = root_of("attribution", link)
    picker_redraws(page, root, "map")
    n = box_select(page, root_of("polar", link), (0.02, 0.02, 0.6, 0.98))
    wait_selected(page, root, n)


def check_panel(page, link, host):
    root = root_of("panel", link)
    polar = root_of("polar", link)
    # hover a point of the polar plot: the panel shows that sample
    cube = contract_cube()
    m = int(page.locator(f"{polar} select[data-picker=model]").input_value())
    ly = int(page.locator(f"{polar} select[data-picker=layer]").input_value())
    theta, rho = cube.angle[m, ly, 0], cube.norm[m, ly, 0]
    left, top, w, h = box_of(page, polar)
    xs, ys = sector_xy(theta, rho, w, h)
    i = int(np.argmin(np.abs(xs - w / 2) + np.abs(ys - h / 2)))
    page.mouse.move(left + xs[i] + 1, top + ys[i])
    page.wait_for_function(f"document.querySelector(\"{root}\").dataset.focus", timeout=WAIT)
    assert page.inner_text(f"{root} .gw-panel-text").startswith("sample ")
    n = box_select(page, polar, (0.3, 0.02, 0.98, 0.98))
    wait_selected(page, root, n)
    assert page.inner_text(f"{root} .gw-panel-count") == f"{n} selected"


def check_evaltable(page, link, host):
    # the table has no cells to send (only binned counts, the same in both modes) and no
    # selection: a click on a cell picks its model and condition in linked views, and a pick
    # elsewhere outlines the matching cell
    root = root_of("evaltable", link)
    picker_redraws(page, root, "rows by")  # sorting, in the browser
    if host == "kernel":  # the kernel recomputes the grid for another quantity
        picker_redraws(page, root, "histogram")
    else:  # which no page without a kernel can do: no picker there
        assert page.locator(f"{root} select[data-picker=histogram]").count() == 0
    polar = root_of("polar", link)
    target = 1 - int(picker_value(page, polar, "model"))
    grid = evaluation_grid(contract_cube(), "margin", 0, 12)  # rows and columns only

    def row_of(model: int) -> int:  # the model's dense row (it has the fog-3 column)
        return next(r for r, info in enumerate(grid.rows)
                    if info["model_index"] == model and grid.condition[r, 1] >= 0)

    left, top, _, _ = box_of(page, root)
    x, y = page.evaluate(f"([r, c]) => document.querySelector(\"{root}\")"
                         ".__geowidget.cellPoint(r, c)", [row_of(target), 1])
    page.mouse.click(left + x, top + y)
    page.wait_for_function(
        f"([m, b]) => document.querySelector(\"{polar} select[data-picker=model]\").value === m"
        f" && document.querySelector(\"{polar} select[data-picker=benchmark]\").value === b",
        arg=[str(target), "fog"], timeout=WAIT)  # fog at severity 3: the benchmark "fog"
    # picking the other model in the polar plot outlines its cell at the same condition
    page.locator(f"{polar} select[data-picker=model]").select_option(str(1 - target))
    page.wait_for_function(
        f"document.querySelector(\"{root} [data-selected-cell]\").dataset.selectedCell"
        f" === '{row_of(1 - target)},1'", timeout=WAIT)


def check_projection(page, link, host):
    root = root_of("projection", link)
    picker_redraws(page, root)  # another layer: other positions
    polar = root_of("polar", link)
    clear_selection(page, link, polar)
    n = box_select(page, root)
    wait_selected(page, polar, n)


def check_layerprofile(page, link, host):
    root = root_of("layerprofile", link)
    picker_redraws(page, root, "model")  # the current model's line is drawn on top
    # a selection in the polar plot: each selected sample (up to 8) becomes a line here
    clear_selection(page, link, root)
    n = box_select(page, root_of("polar", link), (0.3, 0.02, 0.98, 0.98))
    wait_selected(page, root, n)
    page.wait_for_function(f"document.querySelector(\"{root}\").dataset.lines === "
                           f"'{min(n, 8)}'", timeout=WAIT)
    # clicking a layer in the middle (norm) panel makes it the linked views' layer
    polar = root_of("polar", link)
    target = 1 - int(picker_value(page, polar, "layer"))
    left, top, w, h = box_of(page, root)
    pw = (w - 2 * 28 - 2 * 34) / 3  # js/src/views/layerprofile.ts: PAD 28, gap 34
    a = 28 + 12 + pw + 34
    page.mouse.click(left + a + target * (pw - 12), top + h / 2)  # two layers: at a and b
    page.wait_for_function(
        f"document.querySelector(\"{polar} select[data-picker=layer]\").value === '{target}'",
        timeout=WAIT)


CHECKS = {"polar": check_polar, "histogram": check_histogram, "parallel": check_parallel,
          "modelmap": check_modelmap, "attribution": check_attribution, "panel": check_panel,
          "evaltable": check_evaltable, "projection": check_projection,
          "layerprofile": check_layerprofile}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("host", ["kernel", "html"])
def test_view_contract(host, mode, kind, request, browser):
    if host == "kernel":
        page = request.getfixturevalue("lab_page")
    else:
        ctx = browser.new_context(viewport={"width": 900, "height": 900})
        request.addfinalizer(ctx.close)
        page = ctx.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(request.getfixturevalue("exported")[mode].as_uri())
    page.wait_for_function("document.querySelectorAll('.gw-root[data-kind]').length >= "
                           f"{len(KINDS)}", timeout=WAIT)
    link = group_link(page, mode)
    root = root_of(kind, link)
    if kind != "panel":  # the panel draws when a sample is hovered
        wait_drawn(page, root, timeout=WAIT)
        box_of(page, root, "canvas")
        assert digest_of(page, root)[1] > 0, f"{kind} drew nothing"
    assert dataset(page, root, "link") == link
    CHECKS[kind](page, link, host)
    assert page.errors == []
