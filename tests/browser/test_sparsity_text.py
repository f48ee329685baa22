"""One way to write a sparsity (item 9 of the review): the slider, the pickers and the table
rows say the same percent, with the decimals that keep the grid's levels apart; the slider's
value sits in a box of fixed width, so the controls after it never move."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from geowidget.coords import Condition, Coords
from geowidget.cube import GeometryCube
from tests.browser.gw_page import open_html

LEVELS = [0.0, 0.1, 0.2, 0.3, 0.409, 0.412, 0.5, 0.6, 0.7, 0.8, 0.9]  # 0.409, 0.412: one decimal


def grid_cube(n: int = 30) -> GeometryCube:
    rng = np.random.default_rng(0)
    conds = [Condition(s, "clean", 0) for s in LEVELS]
    shape = (1, 1, len(conds), n)
    labels = np.arange(n) % 3
    metric = rng.uniform(0.1, 3.0, shape).astype(np.float32)
    return GeometryCube.from_arrays(
        Coords(["net"], ["layer0"], conds), labels, ["a", "b", "c"], angle=metric,
        angle_pred=metric, avh=metric, angle_gap=metric, norm=metric, margin=metric - 1,
        pred=np.broadcast_to(labels, (1, len(conds), n)).copy(), logit_margin=metric[:, 0] - 1,
        model_info=[{"pruning": "magnitude"}])


def test_a_sparsity_reads_the_same_everywhere_and_its_slider_stays_put(page, tmp_path) -> None:
    cube = grid_cube()
    want = [f"{100 * s:.1f}%" for s in LEVELS]  # by hand: one decimal tells 40.9 from 41.2
    table = gw.EvaluationTable(cube)
    assert [r["label"] for r in table.grid.rows][1:] == [f"net · magnitude {t}"
                                                          for t in want[1:]]
    assert table.grid.rows[0]["label"] == "net · dense"
    open_html(page, gw.PolarPlot(cube).to_html(tmp_path / "p.html"), kind="polar")
    slider = page.locator("input[data-picker=sparsity]")
    shown = page.locator(".gw-slider-value")
    seen, boxes = [], set()
    slider.focus()
    for _ in LEVELS:
        seen.append(shown.inner_text())
        box = page.evaluate("""() => { const v = document.querySelector('.gw-slider-value')
            .getBoundingClientRect(); const next = document.querySelector('.gw-slider')
            .nextElementSibling.getBoundingClientRect(); return [v.width, next.left]; }""")
        boxes.add(tuple(round(x, 1) for x in box))
        page.keyboard.press("ArrowRight")
    assert seen == want
    assert len(boxes) == 1, boxes  # the value's box and the next control never move
    assert page.errors == []
