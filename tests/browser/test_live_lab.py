"""A live cube in a real JupyterLab: dragging the sparsity slider outruns the kernel.

The fixture notebook slows each forward batch (a pre-hook that sleeps), so a cell takes about
2 s while the slider moves across 10 values in half a second. Then:
- the final picture is the last value's: its pixels equal those of a second view made
  afterwards at that sparsity;
- the kernel computed at most 3 cells for the drag (the cells the views asked for that were
  computed to the end, neighbours computed ahead apart);
- a notebook cell that prints runs while a cell computes (its output appears while the
  view's progress line is on).
"""

from __future__ import annotations

import re

import nbformat

from tests.browser.gw_page import digest_of, run_all_in_lab

SETUP = """\
import time
import numpy as np
import geowidget as gw
from geowidget import zoo

d = zoo.probe_data()
net = zoo.load("lenet-s0")
net.register_forward_pre_hook(lambda m, a: time.sleep(0.1))  # each batch: a cell takes ~2 s
live = gw.Study({"lenet": net}, (d.images[:400], d.labels[:400]), batch_size=20,
                sparsities=np.round(np.linspace(0.09, 0.9, 10), 2), progress=False).live()
view = gw.PolarPlot(live, height=300)
view"""
PRINT = 'print("ALIVE", live.live.stats["computed"])'
CHECK = """\
last = gw.PolarPlot(live, height=300, condition=view.condition)
print("CHECK", view.condition, len(live.requests.finished), len(live.requests.prefetched))
last"""


def run_below(page, code: str) -> None:
    """Type ``code`` into a new cell below the active one and run it."""
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


def test_slider_drag_on_a_live_cube(browser, jupyter_lab):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nbformat.write(nb, jupyter_lab["root"] / "live.ipynb")
    page = run_all_in_lab(browser, jupyter_lab, "live.ipynb",
                          ready=".gw-root[data-kind=polar][data-drawn]")
    root = ".gw-root[data-kind=polar]"
    slider = page.locator(f"{root} input[data-picker=sparsity]")
    assert slider.get_attribute("max") == "10"  # 11 levels (0 included): a slider
    drawn = int(page.locator(root).get_attribute("data-drawn"))
    box = slider.bounding_box()
    y, x0, x1 = box["y"] + box["height"] / 2, box["x"] + 6, box["x"] + box["width"] - 6
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(1, 11):  # the thumb across 10 values in half a second
        page.mouse.move(x0 + (x1 - x0) * i / 10, y, steps=2)
        page.wait_for_timeout(50)
    page.mouse.up()
    try:  # the last picture stays, under the progress line, while the kernel computes
        page.wait_for_selector(f"{root}[data-computing=true]", timeout=10000)
    except Exception:
        page.screenshot(path=str(jupyter_lab["root"] / "failed-live.png"), full_page=True)
        raise
    # a cell that prints runs while the kernel computes a cell
    page.keyboard.press("Escape")
    page.locator(".jp-Notebook .jp-CodeCell").last.click()
    run_below(page, PRINT)
    page.wait_for_function(
        "[...document.querySelectorAll('.jp-OutputArea-output')].some("
        "(o) => o.textContent.includes('ALIVE'))", timeout=20000)
    assert page.locator(root).first.get_attribute("data-computing") == "true"
    # the last value's picture, once computed
    page.wait_for_function(f"!document.querySelector('{root}').dataset.computing",
                           timeout=120000)
    assert int(page.locator(root).first.get_attribute("data-drawn")) > drawn
    final = digest_of(page, root)
    assert final[1] > 0  # drawn, not blank
    run_below(page, CHECK)
    page.wait_for_function(
        "document.querySelectorAll('.gw-root[data-kind=polar][data-drawn]').length === 2",
        timeout=60000)
    out = page.locator(".jp-OutputArea-output", has_text="CHECK").inner_text()
    condition, picked, ahead = map(int, re.search(r"CHECK (\d+) (\d+) (\d+)", out).groups())
    assert condition == 10  # the kernel's trait followed the last pick
    # the cells asked for and computed to the end: the first picture, then at most 3 for the
    # drag (neighbours computed ahead in idle time are not the drag's)
    assert picked <= 1 + 3, picked
    print(f"live drag: {picked - 1} cells computed for the drag, {ahead} ahead")
    again = page.evaluate(
        "() => { const r = document.querySelectorAll('.gw-root[data-kind=polar]')[1];"
        " r.setAttribute('data-second', '1'); return true; }")
    assert again
    assert digest_of(page, ".gw-root[data-second]")[0] == final[0]
    assert not [e for e in page.errors if "geowidget" in e or "gw-" in e]
    page.context.close()
