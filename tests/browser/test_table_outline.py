"""The evaluation table's selected cell: a two-tone outline, a dark ring around the cell and a
light one on its edge, so it shows on any cell colour in either theme (review item 15: a
one-colour outline vanished on a dark cell)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import geowidget as gw
from tests.browser.gw_page import open_html
from tests.fixtures.synthetic import make_cube


def cube_with_a_dark_cell():
    """net0, clean at 0: 22 of 60 samples right, 36.7 %, near chance (1 in 3): the darkest
    colours of the scale."""
    c = make_cube(m=2, layers=2, n=60, classes=3)
    pred = c.pred.copy()
    pred[0, 0] = (c.labels + 1) % 3
    pred[0, 0, :22] = c.labels[:22]
    return c.replace(pred=pred, correct=pred == c.labels)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5])  # a dark cell (36.7 %), a light one (86.7 %)
def test_the_selected_cell_outline_shows_on_any_cell(page, tmp_path, theme, sparsity) -> None:
    cube = cube_with_a_dark_cell()
    table = gw.EvaluationTable(cube, model=0, sparsity=sparsity, theme=theme)
    assert table.grid.accuracy[table.selected_cell[0], 0] == pytest.approx(
        22 / 60 if sparsity == 0 else np.mean(cube.correct[0, 1]))
    open_html(page, table.to_html(tmp_path / "t.html"), kind="evaltable")
    box = page.locator(".gw-root[data-kind=evaltable] [data-selected-cell]")
    assert box.get_attribute("data-selected-cell") == ",".join(map(str, table.selected_cell))
    img = np.asarray(Image.open(io.BytesIO(box.screenshot())).convert("RGB")).astype(int)
    h, w, _ = img.shape
    ring = np.concatenate([img[:3].reshape(-1, 3), img[-3:].reshape(-1, 3),
                           img[:, :3].reshape(-1, 3), img[:, -3:].reshape(-1, 3)])
    dark, light = (ring.max(axis=1) < 40).mean(), (ring.min(axis=1) > 225).mean()
    assert dark > 0.3 and light > 0.1, (dark, light)  # both tones, all the way round
    inside = img[4:-4, 4:-4].reshape(-1, 3)  # the cell itself: its own colour, not the ring
    assert (inside.max(axis=1) < 40).mean() < 0.2
    assert page.errors == []
