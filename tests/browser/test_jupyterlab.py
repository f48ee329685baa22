"""End to end in a real JupyterLab: run the fixture notebook through the UI, then check each
widget draws, reacts to a picker, and that a lasso reaches ``widget.selected`` in the kernel."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.browser.gw_page import canvas_digest, drag, plot_box, run_all_in_lab

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "widgets_e2e.ipynb"


def _check_output(page, timeout=60000):
    """Re-run the last cell and return its CHECK line."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """() => { const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');
                   const c = cells[cells.length - 1];
                   const p = c.querySelector('.jp-InputPrompt').textContent;
                   return /\\[\\d+\\]/.test(p) && c.querySelector('.jp-OutputArea-output'); }""",
        timeout=timeout)
    page.wait_for_timeout(300)
    return cell.locator(".jp-OutputArea-output").inner_text()


def test_fixture_notebook_in_jupyterlab(browser, jupyter_lab):
    shutil.copy(FIXTURE, jupyter_lab["root"] / "e2e.ipynb")
    page = run_all_in_lab(browser, jupyter_lab, "e2e.ipynb",
                          ready=".gw-root[data-kind=polar][data-drawn]")
    errors = page.errors
    page.wait_for_selector(".gw-root[data-kind=histogram][data-drawn]", timeout=30000)
    page.wait_for_selector(".gw-root[data-kind=modelmap][data-drawn]", timeout=30000)
    first = _check_output(page)
    assert "CHECK layer 0 polar [] hist 0 active -1" in first

    # every canvas is drawn (not blank)
    for kind in ("polar", "histogram", "modelmap"):
        page.locator(f".gw-root[data-kind={kind}]").scroll_into_view_if_needed()
        assert canvas_digest(page, kind)[1] > 0, kind

    # a picker changes the drawing, in the browser, and reaches the kernel
    polar = page.locator(".gw-root[data-kind=polar]")
    polar.scroll_into_view_if_needed()
    before = canvas_digest(page, "polar")
    polar.locator("select[data-picker=layer]").select_option("1")
    page.wait_for_function(
        "Number(document.querySelector('.gw-root[data-kind=polar]').dataset.drawn) >= 2")
    assert canvas_digest(page, "polar")[0] != before[0]

    # lasso in the polar plot
    left, top, w, h = plot_box(page, "polar")
    drag(page, [(left + w * 0.05, top + h * 0.95), (left + w * 0.5, top + h * 0.02),
                (left + w * 0.95, top + h * 0.95), (left + w * 0.05, top + h * 0.95)])
    n_sel = int(polar.get_attribute("data-selected"))
    assert n_sel > 0

    # brush in the histogram
    page.locator(".gw-root[data-kind=histogram]").scroll_into_view_if_needed()
    hl, ht, hw, hh = plot_box(page, "histogram")
    drag(page, [(hl + hw * 0.5, ht + 40), (hl + hw - 30, ht + hh - 40)])
    n_hist = int(page.locator(".gw-root[data-kind=histogram]").get_attribute("data-selected"))
    assert n_hist > 0

    # click the second model in the map
    mm = page.locator(".gw-root[data-kind=modelmap] .gw-plot")
    mm.scroll_into_view_if_needed()
    _, _, mw, mh = plot_box(page, "modelmap")
    sc = min(mw - 56, mh - 56)
    mm.click(position={"x": mw / 2 + sc / 2, "y": mh / 2 - sc / 2})

    page.wait_for_timeout(500)  # debounced saves
    out = _check_output(page)
    m = re.search(r"CHECK layer (\d+) polar \[(.*?)\] hist (\d+) active (-?\d+)", out)
    assert m, out
    assert m.group(1) == "1"
    assert len([x for x in m.group(2).split(",") if x.strip()]) == n_sel
    assert int(m.group(3)) == n_hist
    assert m.group(4) == "1"
    # setting `selected` from Python highlights those samples in the browser
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # new cell below, in command mode
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")  # edit mode
    page.keyboard.type("w.selected = [3, 5, 7]")
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_function(
            "document.querySelector('.gw-root[data-kind=polar]').dataset.selected === '3'",
            timeout=30000)
    except Exception:
        page.screenshot(path=str(jupyter_lab["root"] / "failed_set.png"), full_page=True)
        raise
    assert not [e for e in errors if "geowidget" in e or "gw-" in e]
    page.context.close()
