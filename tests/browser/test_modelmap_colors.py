"""The model map colours accuracy on the evaluation table's scale (chance to 100 %, the same
legend), writes accuracy as a one-decimal percent, and rings its dots so a dark dot on the
dark page and a light one on the white page stay visible."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import open_html, plot_box, read_pixels
from tests.browser.test_evaltable import expected_colour, viridis
from tests.test_evaluation import grid_cube

PAD = 28  # js/src/scales.ts


def screen_points(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """js/src/scales.ts xyCamera, recomputed: the data box fitted with equal aspect."""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    s = min((width - 2 * PAD) / max(x1 - x0, 1e-9), (height - 2 * PAD) / max(y1 - y0, 1e-9))
    return np.stack([width / 2 + s * (xy[:, 0] - (x0 + x1) / 2),
                     height / 2 - s * (xy[:, 1] - (y0 + y1) / 2)], axis=1)


def contrast(a, b) -> float:
    """WCAG contrast ratio of two RGB colours."""
    def lum(c):
        v = np.asarray(c[:3], float) / 255
        v = np.where(v <= 0.03928, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]
    hi, lo = sorted([lum(a), lum(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def hex_rgb(h: str) -> list[int]:
    h = h.strip().lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_map_accuracy_on_the_table_scale_with_ringed_dots(page, tmp_path, theme):
    cube = grid_cube(m=4)
    mm = gw.ModelMap(cube, by="model_condition", sparsity=None, color_by="accuracy", theme=theme)
    open_html(page, mm.to_html(tmp_path / "mm.html"), kind="modelmap")
    left, top, width, height = plot_box(page, "modelmap")
    pts = screen_points(mm._xy, width, height)
    acc = mm._arrays["c_accuracy"].astype(float)
    classes = len(cube.class_names)
    # each dot's centre in the colour the table gives that accuracy (the map's 256-step ramp:
    # within 3 of the table's 64-step one), not stretched over the map's own min..max
    got = read_pixels(page, pts.tolist(), kind="modelmap")
    lo = 1 / classes
    for i, rgba in enumerate(got):
        t = min(1.0, max(0.0, (acc[i] - lo) / (1 - lo)))
        want = viridis(round(t * 255) / 255)
        assert np.abs(np.array(rgba[:3]) - want).max() <= 2, (i, rgba, want)
        assert np.abs(np.array(rgba[:3]) - expected_colour(classes, acc[i])).max() <= 12
    legend = page.locator(".gw-root[data-kind=modelmap] .gw-legend").inner_text()
    assert f"accuracy: chance ({100 / classes:.1f}%)" in legend and "100%" in legend
    # a ring around every dot, in a colour that stands out from the page (3:1, WCAG's minimum
    # for graphics); each dot stands out from the page or from its ring
    rings = page.evaluate("""() => Array.from(document.querySelectorAll(
      '.gw-root[data-kind=modelmap] circle.gw-dot-ring')).map((c) =>
      [Number(c.getAttribute('cx')), Number(c.getAttribute('cy')), c.getAttribute('stroke')])""")
    assert len(rings) == len(pts)
    np.testing.assert_allclose([r[:2] for r in rings], pts, atol=0.5)
    bg = page.evaluate("() => getComputedStyle(document.querySelector("
                       "'.gw-root[data-kind=modelmap]')).getPropertyValue('--gw-bg')")
    for (_, _, stroke), rgba in zip(rings, got, strict=True):
        assert contrast(hex_rgb(stroke), hex_rgb(bg)) >= 3
        assert max(contrast(rgba, hex_rgb(bg)), contrast(rgba, hex_rgb(stroke))) >= 3
    # the tooltip writes accuracy as the table does: a percent with one decimal
    i = int(np.argmax(np.linalg.norm(pts - pts.mean(axis=0), axis=1)))  # an outer dot
    page.mouse.move(left + pts[i, 0], top + pts[i, 1])
    tip = page.locator(".gw-root[data-kind=modelmap] .gw-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert f"accuracy: {100 * acc[i]:.1f}%" in text, text
    assert page.errors == []
