"""LayerProfile and the step slider in real Chromium (exported pages, no kernel)."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from geowidget.analysis.depth import layer_quantiles
from tests.browser.gw_page import canvas_digest, hex_rgb, open_html, plot_box, read_pixels
from tests.fixtures.synthetic import make_cube

PALETTE = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2"]  # first colours of js/src/colors.ts
PAD, GAP, INSET = 28, 34, 12  # js/src/scales.ts, js/src/views/layerprofile.ts


@pytest.fixture(scope="module")
def cube():
    return make_cube(m=2, layers=4, n=40, seed=5)


def profile_frame(q, width, height, metric):
    """Independent recomputation of the documented panel layout: x of each layer and y(v)."""
    m, ly = q.shape[:2]
    pw = (width - 2 * PAD - GAP * 2) / 3
    a = PAD + 12 + metric * (pw + GAP)
    b = a + pw - 12
    xs = a + INSET + np.arange(ly) * (b - a - 2 * INSET) / (ly - 1)
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


def test_the_legend_says_what_theta_is_measured_against_and_an_absent_condition_is_a_notice(
        page, tmp_path):
    import threading

    import torch

    from geowidget.study import Study
    from geowidget.widgets.layerprofile import measured_by_head
    from tests.test_live_views import KW, N, small_cnn

    g = torch.Generator().manual_seed(0)
    data = torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10
    study = Study({"a": small_cnn(0)}, data, **KW)
    live = study.live()
    layers = list(live.coords.layers)
    assert layers == ["pool_1", "fc1", "penultimate"]  # KW's layers, by depth
    # the head layer: the one whose features are the head's input (independent: by name)
    want = [v == "penultimate" for v in layers]
    assert measured_by_head(live) == want
    assert measured_by_head(study.run()) == want
    fog = live.coords.condition(0.0, "fog", 1)
    gate, original = threading.Event(), live.live.parts

    def held(*args, **kwargs):  # the view's requests wait: fog stays not computed
        if threading.current_thread().name == "geowidget-live":
            gate.wait(30)
        return original(*args, **kwargs)

    live.live.parts = held
    try:
        path = gw.LayerProfile(live, height=360, theme="dark").to_html(tmp_path / "p.html")
        assert not live.computed()[:, :, fog].any()
    finally:
        gate.set()
    open_html(page, path, kind="layerprofile")
    root = ".gw-root[data-kind=layerprofile]"
    legend = page.evaluate(f"document.querySelector('{root} .gw-legend').textContent")
    page.screenshot(path=str(tmp_path / "legend.png"))
    assert "line: median, band: 10–90 % of the samples" in legend
    assert ("θ, m to the class direction: a linear probe's at italic layers (fitted out of "
            "sample), the model's head's at penultimate") in legend
    # one axis of names per panel; the probe layers' names in italics, the head's upright
    styles = page.evaluate(f"""() => [...document.querySelectorAll('{root} text.gw-layer')]
        .map((t) => [t.firstChild.textContent, t.getAttribute('font-style') || 'normal'])""")
    assert styles == [[v, "normal" if v == "penultimate" else "italic"] for v in layers] * 3
    assert page.evaluate(f"document.querySelector('{root}').dataset.unavailable") is None
    # a condition not computed when the page was exported: a centred notice, no empty axes
    page.select_option(f"{root} select[data-picker=benchmark]", "fog")
    page.wait_for_function(f"document.querySelector('{root}').dataset.unavailable === 'true'")
    msg = page.locator(f"{root} .gw-msg")
    assert msg.inner_text() == ("a at fog-1@0: not computed when this page was exported: "
                                + ", ".join(layers))
    assert page.evaluate(f"document.querySelectorAll('{root} svg g *').length") == 0
    colours = page.evaluate(f"""() => {{ const c = document.querySelector('{root} canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set(); for (let i = 0; i < d.length; i += 4)
          seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return [...seen]; }}""")
    assert len(colours) == 1  # the background alone: no axes, no band, no line
    box, plot = msg.bounding_box(), page.locator(f"{root} .gw-plot").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert abs(centre[0] - (plot["x"] + plot["width"] / 2)) < 0.1 * plot["width"]
    assert abs(centre[1] - (plot["y"] + plot["height"] / 2)) < 0.2 * plot["height"]
    page.screenshot(path=str(tmp_path / "notice.png"))
    page.select_option(f"{root} select[data-picker=benchmark]", "clean")
    page.wait_for_function(f"document.querySelector('{root}').dataset.unavailable === undefined")
    assert canvas_digest(page, kind="layerprofile")[1] > 500
    assert page.errors == []


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
