"""A dead cell (every feature zero: norm 0, margin 0, angle undefined) is said in the plot by
every view, in real Chromium; the histogram puts a margin of exactly 0 on the m >= 0 side and
does not let one level's spike flatten the other panels silently."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import open_html, plot_box

DEAD = dict(model="wide_cnn-mpt-s0", sparsity=0.9)


@pytest.fixture(scope="module")
def cube():
    return gw.demo_cube()


def expected(cube, **cell) -> str:
    """The sentence, counted here from the cube's own arrays."""
    c = cube.slice(**cell)
    nan, zero, n = int(np.isnan(c.angle).sum()), int((c.norm == 0).sum()), len(c.angle)
    assert nan == zero == n == 500  # the demo's dead cell, as the engine computed it
    assert np.all(c.margin == 0)  # zero features: equal logits, margin exactly 0
    return (f"{cell['model']} at clean@0.9: all {n} samples have zero features (norm 0), "
            "so the angle is undefined")


def notices(page, kind: str) -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind={kind}] .gw-degenerate > div')).map((e) => e.textContent)""")


@pytest.mark.parametrize("view,kind", [(gw.PolarPlot, "polar"),
                                       (gw.ParallelCoordinates, "parallel")])
def test_sample_views_say_the_cell_is_dead(page, tmp_path, cube, view, kind):
    open_html(page, view(cube, **DEAD).to_html(tmp_path / "dead.html"), kind=kind)
    assert notices(page, kind) == [expected(cube, **DEAD)]
    open_html(page, view(cube, model=DEAD["model"], sparsity=0.0).to_html(tmp_path / "live.html"),
              kind=kind)
    assert notices(page, kind) == []  # a healthy cell has no notice
    assert page.errors == []


def test_layer_profile_says_why_theta_is_missing(page, tmp_path, cube):
    open_html(page, gw.LayerProfile(cube, **DEAD).to_html(tmp_path / "lp.html"), kind="layerprofile")
    got = notices(page, "layerprofile")
    layers = [name for name in cube.coords.layers
              if np.isnan(cube.slice(layer=name, **DEAD).angle).all()]
    assert layers and len(got) == len(layers)
    for text, name in zip(got, layers, strict=True):
        assert text.startswith(f"{DEAD['model']} at clean@0.9, layer {name}: all 500 samples have zero")


def test_histogram_levels_boundary_and_scale(page, tmp_path, cube):
    w = gw.MarginHistogram(cube, group_by="sparsity", group_layout="multiples", **DEAD)
    open_html(page, w.to_html(tmp_path / "h.html"), kind="histogram")
    got = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]').__geowidget.layout()")
    names = [g["name"] for g in got["groups"]]
    dead = names.index("sparsity 90%")
    counts = np.array(got["groups"][dead]["counts"])
    edges = np.linspace(got["lo"], got["hi"], got["bins"] + 1)
    # all 500 margins (exactly 0) in the bin starting at 0: the m >= 0 side, not misclassified
    assert counts.sum() == 500 and counts.max() == 500
    assert abs(edges[int(np.argmax(counts))]) < 1e-9 * (got["hi"] - got["lo"])
    # each panel scaled to its own peak, since the dead level's spike dominates
    peaks = [max(g["counts"]) for g in got["groups"]]
    assert got["ymaxs"] == [max(1, p) for p in peaks]
    others = max(p for i, p in enumerate(peaks) if i != dead)
    text = notices(page, "histogram")
    assert expected(cube, **DEAD) in text
    assert (f"each panel has its own count scale: sparsity 90% peaks at 500, the others at ≤ {others}"
            in text)
    # overlaid, the scale stays shared and the notice says so
    w.group_layout = "overlay"
    open_html(page, w.to_html(tmp_path / "h2.html"), kind="histogram")
    text = notices(page, "histogram")
    assert any(t.startswith("count scale shared: sparsity 90% peaks at 500") for t in text)
    assert page.errors == []


def test_histogram_brush_selects_by_the_panel_it_is_drawn_in(page, tmp_path, cube):
    """Grouped by levels, a brush in the sparsity-0 panel selects by sparsity 0's margins, not
    by the hidden current level's (the dead 0.9, whose 500 zero margins made every brush over 0
    select all 500 in every panel)."""
    w = gw.MarginHistogram(cube, group_by="sparsity", group_layout="multiples", height=360, **DEAD)
    open_html(page, w.to_html(tmp_path / "h.html"), kind="histogram")
    lay = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]').__geowidget.layout()")
    left, top, _, _ = plot_box(page, "histogram")
    first = [g["name"] for g in lay["groups"]].index("sparsity 0%")
    a, b = lay["panels"][first]
    px = lambda v: lay["x0"] + (v - lay["lo"]) / (lay["hi"] - lay["lo"]) * (lay["x1"] - lay["x0"])  # noqa: E731
    page.mouse.move(left + px(-0.5), top + a + 5)
    page.mouse.down()
    page.mouse.move(left + px(1.0), top + b - 5, steps=6)
    page.mouse.up()
    page.wait_for_function("document.querySelector('.gw-root[data-kind=histogram]')"
                           ".__geowidget.layout().groups[0].selected !== null")
    lay = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]').__geowidget.layout()")
    m0 = cube.slice(model=DEAD["model"], sparsity=0.0, benchmark="clean").margin
    got = sum(lay["groups"][first]["selected"])
    # the brushed range in margin units, from the same pixels: about [-0.5, 1.0]
    want = int(((m0 >= -0.5 - 0.05) & (m0 <= 1.0 + 0.05)).sum())
    want_in = int(((m0 >= -0.5 + 0.05) & (m0 <= 1.0 - 0.05)).sum())
    assert want_in <= got <= want and got < 500, (got, want_in, want)
    dead = [g["name"] for g in lay["groups"]].index("sparsity 90%")
    # the same samples, all at margin 0 in the dead level, are its selected part
    assert sum(lay["groups"][dead]["selected"]) == got
