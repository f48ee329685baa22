"""Rendering in real Chromium: pixel readback, slice switching, selection, exported HTML."""

from __future__ import annotations

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import (
    canvas_digest,
    drag,
    hex_rgb,
    open_html,
    plot_box,
    polar_xy,
    read_pixels,
    sector_xy,
    selected_ids,
)
from tests.fixtures.synthetic import make_cube

PALETTE = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2"]  # first colours of js/src/colors.ts
THETA = np.radians([10.0, 60.0, 120.0, 170.0])
RHO = np.array([1.0, 2.0, 3.0, 4.0])


def four_points(**kw):
    return gw.PolarPlot(angle=THETA, norm=RHO, labels=[0, 1, 2, 3], point_size=8.0,
                        class_names=["a", "b", "c", "d"], **kw)


def check_four_points(page):
    _, _, w, h = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, w, h)
    got = read_pixels(page, list(zip(xs, ys, strict=True)))
    for rgba, colour in zip(got, PALETTE, strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= 3, (rgba, colour)
    # mirrored positions (180 - theta) hold no point: background
    mx, my = sector_xy(np.pi - THETA, RHO, w, h, data=(THETA, RHO))
    for rgba in read_pixels(page, list(zip(mx, my, strict=True))):
        assert rgba[:3] == [255, 255, 255]


@pytest.mark.parametrize("scale", [1, 2])
def test_points_land_where_the_polar_frame_says(browser, tmp_path, scale):
    ctx = browser.new_context(viewport={"width": 700, "height": 700}, device_scale_factor=scale)
    page = ctx.new_page()
    open_html(page, four_points().to_html(tmp_path / "p.html"))
    backend = page.evaluate("document.querySelector('.gw-root[data-kind=polar]').dataset.backend")
    assert backend == "webgl2"
    size = page.evaluate("[document.querySelector('.gw-root canvas').width,"
                         " document.querySelector('.gw-root canvas').clientWidth]")
    assert size[0] == size[1] * scale  # HiDPI drawing buffer
    check_four_points(page)
    ctx.close()


# A client without WebGL: every WebGL context request fails, as in a browser with WebGL
# disabled or blocklisted.
NO_WEBGL = """
const getContext = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
  if (String(type).startsWith("webgl")) return null;
  return getContext.call(this, type, ...rest);
};
"""


@pytest.mark.parametrize("failure", ["null", "throws"])
def test_without_webgl_the_canvas2d_fallback_draws_the_same(browser, tmp_path, failure):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    ctx.add_init_script(NO_WEBGL if failure == "null" else
                        NO_WEBGL.replace("return null;", "throw new Error('no WebGL here');"))
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_html(page, four_points().to_html(tmp_path / "p.html"))
    assert page.evaluate("document.querySelector('.gw-root').dataset.backend") == "canvas2d"
    check_four_points(page)
    # the model map draws its points with the same layer
    mm = gw.ModelMap(xy=[[0.0, 0.0], [1.0, 1.0]], names=["a", "b"])
    open_html(page, mm.to_html(tmp_path / "m.html"), kind="modelmap")
    assert canvas_digest(page, "modelmap")[1] > 0
    assert errors == []
    ctx.close()


def test_slice_switch_redraws_in_the_browser(page, tmp_path):
    cube = make_cube(m=2, layers=2, n=40)
    w = gw.PolarPlot(cube, layer=0, point_size=6.0)  # the default layer is the deepest
    open_html(page, w.to_html(tmp_path / "s.html"))
    before = canvas_digest(page)
    page.select_option("select[data-picker=layer]", "1")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 2")
    after = canvas_digest(page)
    assert before[0] != after[0]
    assert after[1] > 0
    # sample 0 of layer 1 is now drawn where the frame puts it
    _, _, pw, ph = plot_box(page)
    theta, rho = cube.angle[0, 1, 0], cube.norm[0, 1, 0]
    x, y = sector_xy(theta[:1], rho[:1], pw, ph, data=(theta, rho))
    (rgba,) = read_pixels(page, [(x[0], y[0])])
    assert rgba[:3] != [255, 255, 255]
    # the picker's change reached the model (saved for the kernel)
    assert page.evaluate("Object.values(window.geowidget.models)[0].get('layer')") == 1
    assert page.errors == []


def test_box_and_lasso_selection_set_selected(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=80, classes=4)
    w = gw.PolarPlot(cube)
    open_html(page, w.to_html(tmp_path / "b.html"))
    left, top, pw, ph = plot_box(page)
    xs, ys = sector_xy(cube.angle[0, 0, 0], cube.norm[0, 0, 0], pw, ph)
    # box over the right half
    x0, y0, x1, y1 = pw / 2 + 5, 10, pw - 10, ph - 10
    page.click("button[data-tool=box]")
    drag(page, [(left + x0, top + y0), (left + x1, top + y1)])
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    expect = sorted(cube.sample_ids[inside].tolist())
    assert len(expect) > 5
    assert sorted(selected_ids(page)) == expect
    assert page.evaluate("document.querySelector('.gw-root').dataset.selected") == str(len(expect))
    # lasso: a triangle, checked against a crossing-number test written here
    page.click("button[data-tool=lasso]")
    tri = [(pw * 0.2, ph * 0.9), (pw * 0.5, ph * 0.1), (pw * 0.8, ph * 0.9)]
    drag(page, [(left + x, top + y) for x, y in [*tri, tri[0]]])
    (ax, ay), (bx, by), (cx, cy) = tri

    def side(px, py, qx, qy, rx, ry):
        return (qx - px) * (ry - py) - (qy - py) * (rx - px)

    d1, d2, d3 = side(ax, ay, bx, by, xs, ys), side(bx, by, cx, cy, xs, ys), side(cx, cy, ax, ay, xs, ys)
    inside = ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))
    got = sorted(selected_ids(page))
    assert got == sorted(cube.sample_ids[inside].tolist())
    # a click on empty space clears
    page.mouse.click(left + 3, top + 3)
    assert selected_ids(page) == []


def test_selection_set_in_python_is_highlighted(browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    w = four_points()
    w.selected = [1]
    open_html(page, w.to_html(tmp_path / "h.html"))
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, pw, ph)
    got = read_pixels(page, list(zip(xs, ys, strict=True)))
    assert np.abs(np.array(got[1][:3]) - hex_rgb(PALETTE[1])).max() <= 3  # selected: full colour
    for i in (0, 2, 3):  # others dimmed
        assert np.abs(np.array(got[i][:3]) - hex_rgb(PALETTE[i])).max() > 20
    ctx.close()


def test_nan_empty_and_names_as_text(page, tmp_path):
    w = gw.PolarPlot(angle=[0.1, 0.2, np.nan, 1.0], norm=[1, np.nan, 2, 3], labels=[0, 1, 1, 0],
                     class_names=["<img src=x onerror=window.pwned=1>", "b&amp;"])
    open_html(page, w.to_html(tmp_path / "n.html"))
    legend = page.inner_text(".gw-legend")
    assert "missing (2)" in legend
    assert "<img src=x onerror=window.pwned=1> (2)" in legend
    assert "b&amp; (2)" in legend
    assert page.evaluate("document.querySelectorAll('.gw-legend img').length") == 0
    assert page.evaluate("window.pwned === undefined")
    empty = gw.PolarPlot(angle=np.zeros(0), norm=np.zeros(0))
    page.goto(empty.to_html(tmp_path / "e.html").as_uri())
    page.wait_for_selector(".gw-msg")
    assert page.inner_text(".gw-msg") == "no samples to show (empty arrays)"


def test_explorer_html_is_linked_without_a_kernel(page, tmp_path):
    cube = make_cube(m=2, layers=1, n=60, classes=3)
    ex = gw.Explorer(cube, xy=[[0.0, 0.0], [1.0, 1.0]], edges=[[0, 1]])
    open_html(page, ex.to_html(tmp_path / "x.html"))
    page.wait_for_selector(".gw-root[data-kind=histogram]")
    left, top, pw, ph = plot_box(page)
    page.click(".gw-root[data-kind=polar] button[data-tool=box]")
    drag(page, [(left + 10, top + 10), (left + pw - 10, top + ph / 2)])
    n_sel = len(selected_ids(page, "polar"))
    assert n_sel > 0
    assert sorted(selected_ids(page, "histogram")) == sorted(selected_ids(page, "polar"))
    assert page.inner_text(".gw-panel-count") == f"{n_sel} selected"
    # hover a point: the sample panel shows it
    xs, ys = sector_xy(cube.angle[0, 0, 0], cube.norm[0, 0, 0], pw, ph)
    page.mouse.move(left + xs[5], top + ys[5])
    page.wait_for_function("document.querySelector('.gw-root[data-kind=panel]').dataset.focus")
    assert "sample" in page.inner_text(".gw-panel-text")
    assert page.is_visible(".gw-root[data-kind=polar] .gw-tip")
    # clicking net1 on the model map makes it the active model in the polar plot
    ml, mt, mw, mh = plot_box(page, "modelmap")
    sc = min(mw - 56, mh - 56)  # equal-aspect fit of the unit square (js/src/scales.ts xyCamera)
    page.click(".gw-root[data-kind=modelmap] .gw-plot",
               position={"x": mw / 2 + sc / 2, "y": mh / 2 - sc / 2})
    assert page.evaluate(
        "document.querySelector('.gw-root[data-kind=polar] select[data-picker=model]').value") == "1"
    assert page.errors == []


@pytest.mark.parametrize(("color", "expect"), [
    ("correct", ["#4477AA", "#EE6677", "#4477AA", "#EE6677"]),  # ok / bad colours in polar.ts
    ("pred", [PALETTE[0], PALETTE[0], PALETTE[2], PALETTE[0]]),
])
def test_colour_by_correct_and_pred(browser, tmp_path, color, expect):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    w = gw.PolarPlot(angle=THETA, norm=RHO, labels=[0, 1, 2, 3], pred=[0, 0, 2, 0],
                     point_size=8.0, color_by=color)
    open_html(page, w.to_html(tmp_path / "c.html"))
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, pw, ph)
    for rgba, colour in zip(read_pixels(page, list(zip(xs, ys, strict=True))), expect, strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= 3, (rgba, colour)
    ctx.close()


def test_dark_theme_zoom_and_tooltip(browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    cube = make_cube(m=1, layers=1, n=30)
    w = gw.PolarPlot(cube, theme="dark", point_size=6.0)
    open_html(page, w.to_html(tmp_path / "d.html"))
    (bg,) = read_pixels(page, [(3, 3)])
    assert bg[:3] == [17, 17, 17]  # the dark theme background (js/src/theme.ts)
    # JupyterLab's own switch: with theme="auto" the view follows body[data-jp-theme-light]
    w2 = gw.PolarPlot(cube)
    page.goto(w2.to_html(tmp_path / "a.html").as_uri())
    page.wait_for_selector(".gw-root[data-drawn]")
    page.evaluate("document.body.setAttribute('data-jp-theme-light', 'false')")
    page.wait_for_function("document.querySelector('.gw-root').dataset.theme === 'dark'")
    page.wait_for_timeout(100)
    assert read_pixels(page, [(3, 3)])[0][:3] == [17, 17, 17]
    # wheel zoom about the centre: a point's distance from the cursor doubles (exp(693e-3 * 1.0))
    left, top, pw, ph = plot_box(page)
    xs, ys = sector_xy(cube.angle[0, 0, 0], cube.norm[0, 0, 0], pw, ph)
    cx, cy = pw / 2, ph / 2
    page.mouse.move(left + cx, top + cy)
    before = canvas_digest(page)
    page.mouse.wheel(0, -462.1)  # factor exp(462.1 * 0.0015) = 2.0 (js/src/frame.ts)
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 3")
    assert canvas_digest(page)[0] != before[0]
    i = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
    zx, zy = cx + 2 * (xs[i] - cx), cy + 2 * (ys[i] - cy)
    (rgba,) = read_pixels(page, [(zx, zy)])
    assert rgba[:3] != [17, 17, 17]
    # tooltip of that point
    page.mouse.move(left + zx, top + zy)
    page.wait_for_selector(".gw-tip", state="visible")
    tip = page.inner_text(".gw-tip")
    c = cube.slice()
    assert f"sample {cube.sample_ids[i]}" in tip
    assert f"label: {cube.class_names[cube.labels[i]]}" in tip
    assert f"prediction: {cube.class_names[c.pred[i]]}" in tip
    assert f"θ = {float(np.degrees(c.angle[i])):.4g}°" in tip
    assert f"ρ = {float(c.norm[i]):.4g}" in tip and f"m = {float(c.margin[i]):.4g}" in tip
    assert page.locator(".gw-tip canvas").count() == 1  # thumbnail from the atlas
    ctx.close()


def test_two_views_of_one_model_and_cleanup(page, tmp_path):
    w = gw.PolarPlot(make_cube(m=1, layers=2, n=30), layer=0)
    open_html(page, w.to_html(tmp_path / "t.html"))
    n_handlers = page.evaluate("""() => {
        const m = Object.values(window.geowidget.models)[0];
        const el = document.createElement('div'); el.id = 'second'; document.body.append(el);
        window.disposeSecond = window.geowidget.render({ model: m, el });
        let n = 0; for (const s of m.handlers.values()) n += s.size; return n; }""")
    page.wait_for_function("document.querySelectorAll('.gw-root[data-drawn]').length === 2")
    gl = "document.querySelector('#second canvas').getContext('webgl2')"
    assert page.evaluate(f"{gl}.isContextLost()") is False
    page.select_option(".gw-standalone-view select[data-picker=layer]", "1")
    page.wait_for_function(
        "Number(document.querySelector('#second .gw-root').dataset.drawn) >= 2")  # both follow
    left = page.evaluate("""() => {
        const c = document.querySelector('#second canvas'); const g = c.getContext('webgl2');
        window.disposeSecond();
        const m = Object.values(window.geowidget.models)[0];
        let n = 0; for (const s of m.handlers.values()) n += s.size;
        return [g.isContextLost(), document.querySelectorAll('#second .gw-root').length, n]; }""")
    assert left == [True, 0, n_handlers // 2]
    page.select_option(".gw-standalone-view select[data-picker=layer]", "0")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 3")
    assert page.errors == []


def test_parallel_coordinates_brush_and_attribution_heatmap(page, tmp_path):
    cube = make_cube(m=1, layers=1, n=40)
    pc = gw.ParallelCoordinates(cube)
    open_html(page, pc.to_html(tmp_path / "pc.html"), kind="parallel")
    left, top, pw, ph = plot_box(page, "parallel")
    assert canvas_digest(page, "parallel")[1] > 0
    # brush the middle of the last axis (m): x of the last axis is pw - 28 - 20
    ax = pw - 28 - 20
    page.click(".gw-root[data-kind=parallel] button[data-tool=box]")
    drag(page, [(left + ax - 5, top + ph * 0.35), (left + ax + 5, top + ph * 0.7)])
    ranges = page.evaluate("Object.values(window.geowidget.models)[0].get('ranges')")
    assert list(ranges) == ["m"]
    got = sorted(selected_ids(page, "parallel"))
    assert got == pc.select_ranges(ranges).tolist() and len(got) > 0
    # attribution heatmap: the red end of the diverging map where delta is most negative
    d = np.zeros((4, 4))
    d[0, 0], d[3, 3] = -1.0, 1.0
    av = gw.AttributionView(image=np.full((4, 4), 0.5), delta_angle=d, delta_margin=-d)
    page.goto(av.to_html(tmp_path / "av.html").as_uri())
    page.wait_for_selector(".gw-root[data-kind=attribution][data-drawn]")
    px = page.evaluate("""() => { const c = document.querySelector('.gw-root canvas');
        const g = c.getContext('2d'); return [0, 15].map((i) =>
        Array.from(g.getImageData(i % 4, Math.floor(i / 4), 1, 1).data)); }""")
    grey = 0  # the image is constant, so display_image maps it to 0
    red, blue = hex_rgb("#B2182B"), hex_rgb("#2166AC")
    for got_px, colour in zip(px, (red, blue), strict=True):
        expect = [round(grey * 0.4 + c * 0.6) for c in colour]
        assert np.abs(np.array(got_px[:3]) - expect).max() <= 1, (got_px, expect)


def test_side_by_side_html_links_selection(page, tmp_path):
    cube = make_cube(m=2, layers=1, n=40)
    sbs = gw.SideBySide(cube, models=(0, 1))
    open_html(page, sbs.to_html(tmp_path / "sbs.html"))
    page.wait_for_function("document.querySelectorAll('.gw-root[data-drawn]').length === 2")
    left, top, pw, ph = plot_box(page)
    page.click(".gw-root[data-kind=polar] button[data-tool=box]")
    drag(page, [(left + 10, top + 10), (left + pw / 2, top + ph - 10)])
    counts = page.evaluate(
        "Array.from(document.querySelectorAll('.gw-root')).map((r) => r.dataset.selected)")
    assert counts[0] == counts[1] and int(counts[0]) > 0
    models = page.evaluate("Array.from(document.querySelectorAll("
                           "'select[data-picker=model]')).map((s) => s.value)")
    assert models == ["0", "1"]  # the model is not linked, only the samples


def test_picker_traffic_is_debounced(page, tmp_path):
    w = gw.PolarPlot(make_cube(m=1, layers=2, n=20))
    open_html(page, w.to_html(tmp_path / "deb.html"))
    saves = page.evaluate("""async () => {
        const m = Object.values(window.geowidget.models)[0];
        const sel = document.querySelector('select[data-picker=layer]');
        const before = m.saves;
        for (const v of ['1', '0', '1', '0', '1']) {
          sel.value = v; sel.dispatchEvent(new Event('change'));
        }
        const burst = m.saves - before;
        await new Promise((r) => setTimeout(r, 300));
        return [burst, m.saves - before, m.get('layer')]; }""")
    assert saves == [0, 1, 1]  # five changes drawn locally, one save to the kernel


def test_legend_toggles_classes(browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    open_html(page, four_points().to_html(tmp_path / "lg.html"))
    page.click(".gw-legend .item[data-class='1']")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 2")
    classes = page.evaluate("Object.values(window.geowidget.models)[0].get('classes')")
    assert classes == [0, 2, 3]
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, pw, ph)
    got = read_pixels(page, list(zip(xs, ys, strict=True)))
    assert got[1][:3] == [255, 255, 255]  # class 1 hidden
    assert np.abs(np.array(got[2][:3]) - hex_rgb(PALETTE[2])).max() <= 3
    assert "off" in page.get_attribute(".gw-legend .item[data-class='1']", "class")
    ctx.close()


def test_modelmap_draws_trajectories(page, tmp_path):
    mm = gw.ModelMap(make_cube(m=3, n=30), by="model_condition", color_by="sparsity")
    open_html(page, mm.to_html(tmp_path / "mm.html"), kind="modelmap")
    assert page.locator("path.gw-traj").count() == 3
    assert canvas_digest(page, "modelmap")[1] > 0
    assert page.locator(".gw-root[data-kind=modelmap] svg text", has_text="net2 | clean@0.5").count() == 1


@pytest.mark.parametrize(("kwargs", "expect", "tol"), [
    # margin: diverging map symmetric about 0 (Tol BuRd ends, white-ish middle)
    ({"margin": [-1.0, 0.0, 1.0, -1.0], "color_by": "margin"},
     ["#B2182B", "#F7F7F7", "#2166AC", "#B2182B"], 6),
    # integer colour array: categories, cycling after 20 colours
    ({"color_by": np.array([0, 5, 21, 1])}, [PALETTE[0], "#EDC948", PALETTE[1], PALETTE[1]], 3),
])
def test_continuous_and_custom_category_colours(browser, tmp_path, kwargs, expect, tol):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    w = gw.PolarPlot(angle=THETA, norm=RHO, labels=[0, 1, 2, 3], point_size=8.0, **kwargs)
    open_html(page, w.to_html(tmp_path / "k.html"))
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, pw, ph)
    for rgba, colour in zip(read_pixels(page, list(zip(xs, ys, strict=True))), expect, strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= tol, (rgba, colour)
    ctx.close()


def test_angle_to_pred_and_normalised_radius(browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    theta_pred = np.pi - THETA
    w = gw.PolarPlot(angle=THETA, angle_pred=theta_pred, norm=RHO, labels=[0, 1, 2, 3],
                     point_size=8.0, angle_to="pred", normalize=True)
    open_html(page, w.to_html(tmp_path / "ap.html"))
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(theta_pred, RHO / RHO.max(), pw, ph)
    for rgba, colour in zip(read_pixels(page, list(zip(xs, ys, strict=True))), PALETTE,
                            strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= 3
    rings = page.evaluate("Array.from(document.querySelectorAll('.gw-root svg text'))"
                          ".map((t) => t.textContent)")
    # radius rings of rho / max (the outer ring's "1" stands too near "0°" and is left out)
    assert "0.4" in rings and "0.8" in rings and "4" not in rings
    ctx.close()


def test_polar_zooms_to_the_data_and_reset_shows_the_half_disc(browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    rng = np.random.default_rng(3)
    theta = rng.uniform(np.radians(20), np.radians(40), 60)
    rho = rng.uniform(5.0, 8.0, 60)
    # the last four points (drawn on top) at the corners of the range, classes 0..3
    theta[-4:], rho[-4:] = np.radians([20, 40, 20, 40]), [5.0, 5.0, 8.0, 8.0]
    labels = np.arange(60) % 4
    w = gw.PolarPlot(angle=theta, norm=rho, labels=labels, point_size=8.0)
    open_html(page, w.to_html(tmp_path / "z.html"))
    got = page.evaluate("document.querySelector('.gw-root').__geowidget.range()")
    # the zoom range is the data's range (float32 on the wire)
    f32 = np.float32
    assert got["data"]["theta"] == [float(f32(theta).min()), float(f32(theta).max())]
    assert got["data"]["rho"] == [float(f32(rho).min()), float(f32(rho).max())]
    assert got["data"]["count"] == 60 and got["view"] == "data"
    sec = got["sector"]
    assert sec["t0"] < f32(theta).min() and f32(theta).max() < sec["t1"] < np.radians(45)
    assert 0 < sec["r0"] < f32(rho).min() and sec["r1"] > f32(rho).max()
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(theta, rho, pw, ph)
    assert xs.min() > 28 and xs.max() < pw - 28 and ys.min() > 28 and ys.max() < ph - 28
    # the sector fills the plot along one axis: much larger than on the half disc
    hx, hy = polar_xy(theta, rho, pw, ph, f32(rho).max())
    assert (np.ptp(xs) + np.ptp(ys)) > 2 * (np.ptp(hx) + np.ptp(hy))
    for rgba, colour in zip(read_pixels(page, list(zip(xs[-4:], ys[-4:], strict=True))), PALETTE,
                            strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= 3, (rgba, colour)
    # reset: the full half disc (the documented frame)
    page.click("button[data-tool=reset]")
    page.wait_for_function("document.querySelector('.gw-root').__geowidget.range().view === 'disc'")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 2")
    for rgba, colour in zip(read_pixels(page, list(zip(hx[-4:], hy[-4:], strict=True))), PALETTE,
                            strict=True):
        assert np.abs(np.array(rgba[:3]) - hex_rgb(colour)).max() <= 3, (rgba, colour)
    spokes = page.evaluate("Array.from(document.querySelectorAll('.gw-root svg text.gw-tick'))"
                           ".map((t) => t.textContent).filter((t) => t.endsWith('°'))")
    assert spokes == ["0°", "30°", "60°", "90°", "120°", "150°", "180°"]
    # fit: back to the data's sector
    page.click("button[data-tool=fit]")
    page.wait_for_function("document.querySelector('.gw-root').__geowidget.range().view === 'data'")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 3")
    (rgba,) = read_pixels(page, [(xs[-1], ys[-1])])
    assert np.abs(np.array(rgba[:3]) - hex_rgb(PALETTE[3])).max() <= 3
    ctx.close()


def test_custom_colour_per_cell_follows_the_cell_when_cells_come_on_demand(browser, tmp_path):
    """A colour array [M, L, K, N] travels with each cell: with cells fetched on demand the
    shown cell's colours are drawn (they were those of cell (0, 0, 0) whatever the cell)."""
    from geowidget.coords import Condition, Coords
    from geowidget.cube import GeometryCube

    shape = (1, 2, 1, 4)
    angle = np.broadcast_to(THETA, shape).astype(np.float32)
    norm = np.broadcast_to(RHO, shape).astype(np.float32)
    zeros = np.zeros(shape, np.float32)
    # every sample predicted class 0: the first is correct (derived from pred and labels)
    cube = GeometryCube.from_arrays(
        Coords(["m"], ["a", "b"], [Condition()]), [0, 1, 2, 3], list("abcd"), angle=angle,
        angle_pred=angle, avh=zeros, angle_gap=zeros, norm=norm, margin=zeros,
        pred=np.zeros((1, 1, 4), int), logit_margin=np.zeros((1, 1, 4), np.float32))
    colour = np.zeros(shape, np.int64)
    colour[0, 0, 0] = [0, 1, 2, 3]
    colour[0, 1, 0] = [3, 3, 1, 0]
    w = gw.PolarPlot(cube, layer=0, color_by=colour, budget=1, point_size=8.0)
    assert w._meta["lazy"] and "custom" not in w._arrays
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    page = ctx.new_page()
    open_html(page, w.to_html(tmp_path / "cc.html"))
    _, _, pw, ph = plot_box(page)
    xs, ys = sector_xy(THETA, RHO, pw, ph)
    for layer in (0, 1):
        if layer:
            page.select_option("select[data-picker=layer]", "1")
            page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 2")
        got = read_pixels(page, list(zip(xs, ys, strict=True)))
        for rgba, c in zip(got, colour[0, layer, 0], strict=True):
            assert np.abs(np.array(rgba[:3]) - hex_rgb(PALETTE[c])).max() <= 3, (layer, rgba, c)
    ctx.close()
