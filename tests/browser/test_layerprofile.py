"""LayerProfile and the step slider in real Chromium (exported pages, no kernel)."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from geowidget.analysis.depth import layer_quantiles
from tests.browser.gw_page import canvas_digest, hex_rgb, open_html, plot_box, read_pixels
from tests.fixtures.synthetic import make_cube

PALETTE = ["#4477AA", "#EE6677", "#228833", "#CCBB44"]  # first colours of js/src/colors.ts
PAD, GAP = 28, 34  # js/src/scales.ts, js/src/views/layerprofile.ts


@pytest.fixture(scope="module")
def cube():
    return make_cube(m=2, layers=4, n=40, seed=5)


def profile_frame(q, width, height, metric):
    """Independent recomputation of the documented panel layout: x of each layer and y(v)."""
    m, ly = q.shape[:2]
    pw = (width - 2 * PAD - GAP * 2) / 3
    a = PAD + 12 + metric * (pw + GAP)
    b = a + pw - 12
    xs = a + np.arange(ly) * (b - a) / (ly - 1)
    scale = 180 / np.pi if metric == 0 else 1.0
    vals = np.concatenate([q[:, :, metric, 0].ravel(), q[:, :, metric, -1].ravel()]) * scale
    lo, hi = vals.min(), vals.max()
    if metric == 2:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    top, bottom = PAD, height - PAD - 14
    return xs, lambda v: bottom - (v * scale - lo) / (hi - lo) * (bottom - top)


def test_layer_profile_draws_the_current_models_medians(page, tmp_path, cube):
    profile = gw.LayerProfile(cube, model=1, height=360)
    open_html(page, profile.to_html(tmp_path / "alone.html"), kind="layerprofile")
    assert not page.errors
    _, ink = canvas_digest(page, kind="layerprofile")
    assert ink > 500
    _, _, w, h = plot_box(page, kind="layerprofile")
    q = layer_quantiles(cube)[:, :, 0]  # condition 0
    for metric in range(3):
        xs, y = profile_frame(q, w, h, metric)
        # the current model (1) is drawn last: its median dots have its colour
        points = [(xs[ly], y(q[1, ly, metric, 1])) for ly in range(4)]
        for rgba in read_pixels(page, points, kind="layerprofile"):
            assert np.abs(np.array(rgba[:3]) - hex_rgb(PALETTE[1])).max() <= 40, rgba


def test_clicking_a_layer_sets_the_layer_in_linked_views(page, tmp_path, cube):
    profile = gw.LayerProfile(cube, height=360)
    polar = gw.PolarPlot(cube)
    linked = gw.link(profile, polar)
    open_html(page, linked.to_html(tmp_path / "linked.html"), kind="layerprofile")
    left, top, w, h = plot_box(page, kind="layerprofile")
    q = layer_quantiles(cube)[:, :, 0]
    xs, y = profile_frame(q, w, h, 1)
    before = canvas_digest(page, kind="polar")
    page.mouse.click(left + xs[2], top + h / 2)
    page.wait_for_function("document.querySelector('.gw-root[data-kind=layerprofile]')"
                           ".dataset.layer === '2'")
    layers = page.evaluate("""() => Object.values(window.geowidget.models)
        .map((m) => [m.get('_kind'), m.get('layer')])""")
    assert sorted(layers) == [["layerprofile", 2], ["polar", 2]]
    page.wait_for_function("Number(document.querySelector('.gw-root[data-kind=polar]')"
                           ".dataset.drawn) >= 2")
    assert canvas_digest(page, kind="polar")[0] != before[0]  # the polar plot shows layer 2


def test_selected_samples_are_their_own_lines(page, tmp_path, cube):
    plain = gw.LayerProfile(cube, height=360)
    open_html(page, plain.to_html(tmp_path / "plain.html"), kind="layerprofile")
    without = canvas_digest(page, kind="layerprofile")
    chosen = gw.LayerProfile(cube, height=360, selected=[1003, 1007])
    open_html(page, chosen.to_html(tmp_path / "chosen.html"), kind="layerprofile")
    root = "document.querySelector('.gw-root[data-kind=layerprofile]')"
    assert page.evaluate(f"{root}.dataset.lines") == "2"
    assert canvas_digest(page, kind="layerprofile")[0] != without[0]
    legend = page.evaluate(f"{root}.querySelector('.gw-legend').textContent")
    assert "samples 1003, 1007" in legend


# ---------------------------------------------------------------- the step slider
@pytest.fixture(scope="module")
def run_cube():
    base = make_cube(m=4, layers=1, n=60, seed=7)
    steps = [30, 0, 20, 10]  # out of order in the cube: the slider orders by step
    return base.replace(model_info=[{"run": "r", "step": s} for s in steps])


def slider_to(page, kind, position):
    page.evaluate(
        """([kind, v]) => { const r = document.querySelector(
             `.gw-root[data-kind=${kind}] input[data-picker=step]`);
           r.value = String(v); r.dispatchEvent(new Event('input'));
           r.dispatchEvent(new Event('change')); }""", [kind, position])


def current_model(page, kind):
    return page.evaluate(f"""() => Object.values(window.geowidget.models)
        .find((m) => m.get('_kind') === '{kind}').get('model')""")


@pytest.mark.parametrize("kind", ["polar", "histogram"])
def test_moving_the_step_slider_changes_the_drawing(page, tmp_path, run_cube, kind):
    view = (gw.PolarPlot(run_cube, model=1, point_size=5.0) if kind == "polar"
            else gw.MarginHistogram(run_cube, model=1))
    open_html(page, view.to_html(tmp_path / f"{kind}.html"), kind=kind)
    wrap = f"document.querySelector('.gw-root[data-kind={kind}] .gw-steps')"
    assert page.evaluate(f"{wrap}.dataset.step") == "0"
    assert page.evaluate(f"{wrap}.querySelector('input').max") == "3"
    digests = [canvas_digest(page, kind=kind)[0]]
    for position, model in ((1, 3), (2, 2), (3, 0)):  # steps 10, 20, 30
        drawn = page.evaluate(f"Number(document.querySelector('.gw-root[data-kind={kind}]')"
                              ".dataset.drawn)")
        slider_to(page, kind, position)
        page.wait_for_function(f"Number(document.querySelector('.gw-root[data-kind={kind}]')"
                               f".dataset.drawn) > {drawn}")
        assert current_model(page, kind) == model
        assert page.evaluate(f"{wrap}.dataset.step") == str(10 * position)
        digests.append(canvas_digest(page, kind=kind)[0])
    assert len(set(digests)) == 4
    assert not page.errors


def test_play_runs_through_every_step_and_stops(page, tmp_path, run_cube):
    open_html(page, gw.PolarPlot(run_cube, model=1).to_html(tmp_path / "play.html"))
    wrap = "document.querySelector('.gw-root[data-kind=polar] .gw-steps')"
    page.click(".gw-root[data-kind=polar] button[data-step-play]")
    assert page.evaluate(f"{wrap}.dataset.playing") == "true"
    page.wait_for_function(f"{wrap}.dataset.playing === 'false'", timeout=10000)
    assert page.evaluate(f"{wrap}.dataset.step") == "30"
    assert current_model(page, "polar") == 0  # the model of step 30
    drawn = page.evaluate("Number(document.querySelector('.gw-root[data-kind=polar]')"
                          ".dataset.drawn)")
    assert drawn >= 4  # the first drawing and one per step
