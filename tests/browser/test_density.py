"""Density-aware rendering in real Chromium: the switch, the bins against a brute-force
histogram (GPU, CPU bins under WebGL, Canvas2D), the shading, opacity by zoom, and a client
without WebGL."""

from __future__ import annotations

import math

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import (
    canvas_digest,
    hex_rgb,
    open_html,
    plot_box,
    read_pixels,
    sector_xy,
)
from tests.fixtures.synthetic import make_cube

PALETTE = ["#4477AA", "#EE6677", "#228833"]  # first colours of js/src/colors.ts
N = 3000
LOW_SHADE, FILL, MIN_ALPHA = 0.3, 0.3, 1 / 16  # js/src/density.ts
EDGE = 0.01  # CSS px: points this close to a bin edge may land on either side
NO_WEBGL = """(() => { const get = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return kind === 'webgl2' || kind === 'webgl' ? null : get.call(this, kind, ...rest); }; })()"""
# where the bins are filled: on the GPU (forced: on a software rasteriser such as this
# machine's, the layer bins on the CPU by default), on the CPU under WebGL, and with no WebGL
BACKENDS = {
    "gpu": ("globalThis.__geowidgetGpuBins = true", "webgl2", "gpu"),
    "cpu-bins": ("globalThis.__geowidgetCpuBins = true", "webgl2", "cpu"),
    "no-webgl": (NO_WEBGL, "canvas2d", "cpu"),
}


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, N)
    theta = np.clip(rng.normal(0.5 + 0.3 * labels, 0.12), 0.05, 3.0)
    rho = rng.gamma(6.0, 1.0, N) + 2 * labels
    return theta, rho, labels


def polar(cloud, **kw):
    theta, rho, labels = cloud
    return gw.PolarPlot(angle=theta, norm=rho, labels=labels, class_names=["a", "b", "c"],
                        point_size=3.0, **kw)


def open_view(browser, path, init=""):
    ctx = browser.new_context(viewport={"width": 700, "height": 700})
    if init:
        ctx.add_init_script(init)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    open_html(page, path)
    return ctx, page


def state(page):
    return page.evaluate("""() => { const r = document.querySelector('.gw-root');
        const h = r.__geowidget; const s = h.spec();
        return { mode: r.dataset.mode, backend: r.dataset.backend, bins: r.dataset.bins,
                 plan: h.layer.plan,
                 inView: s.inView, drawn: Number(r.dataset.drawn) }; }""")


def bins_of(page):
    """The last frame's bins: (w, h, bin, counts [h, w], colour sums [h, w, 3])."""
    b = page.evaluate("""() => { const b = document.querySelector('.gw-root').__geowidget
        .layer.bins(); return b && { w: b.w, h: b.h, bin: b.bin, data: Array.from(b.data) }; }""")
    data = np.asarray(b["data"], np.float64).reshape(b["h"], b["w"], 4)
    return b["w"], b["h"], b["bin"], data[..., 3], data[..., :3]


def brute_force(cloud, pw, ph, w, h, size):
    """Counts per bin of `size` CSS px from the documented frame, computed here; and which bins
    hold a point closer than EDGE px to a bin edge (float32 and the GPU's cos / sin may round
    those either way)."""
    theta, rho, _ = cloud
    x, y = sector_xy(theta, rho, pw, ph)
    bx, by = np.floor(x / size).astype(int), np.floor(y / size).astype(int)
    ok = (bx >= 0) & (by >= 0) & (bx < w) & (by < h)
    counts = np.zeros((h, w))
    np.add.at(counts, (by[ok], bx[ok]), 1)
    edge = np.zeros((h, w), bool)
    near = (np.abs(x / size - np.round(x / size)) * size < EDGE) | \
        (np.abs(y / size - np.round(y / size)) * size < EDGE)
    assert near.sum() < 0.03 * len(x)  # the comparison below covers the rest
    for dj in (-1, 0, 1):  # the bin it may land in instead is a neighbour
        for di in (-1, 0, 1):
            edge[np.clip(by[near] + dj, 0, h - 1), np.clip(bx[near] + di, 0, w - 1)] = True
    return counts, edge, x, y


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_density_bins_match_a_brute_force_histogram(browser, tmp_path, cloud, backend):
    init, context, bins = BACKENDS[backend]
    ctx, page = open_view(browser, polar(cloud, density_threshold=N - 1).to_html(
        tmp_path / "d.html"), init)
    st = state(page)
    assert st["mode"] == "density" and st["inView"] == N
    assert (st["backend"], st["bins"]) == (context, bins)
    _, _, pw, ph = plot_box(page)
    w, h, size, counts, sums = bins_of(page)
    assert (size, w, h) == (3, math.ceil(pw / 3), math.ceil(ph / 3))
    expect, edge, x, y = brute_force(cloud, pw, ph, w, h, size)
    assert counts.sum() == N == expect.sum()
    assert np.array_equal(counts[~edge], expect[~edge])
    # colour sums: each bin holds the sum of its points' class colours (0..1)
    _, _, labels = cloud
    rgb = np.array([hex_rgb(c) for c in PALETTE]) / 255
    bx, by = np.floor(x / size).astype(int), np.floor(y / size).astype(int)
    want = np.zeros((h, w, 3))
    np.add.at(want, (by, bx), rgb[labels])
    assert np.abs(sums[~edge] - want[~edge]).max() < 1e-3
    # the shading: a full bin's pixel is its mean colour over the background at
    # LOW_SHADE + (1 - LOW_SHADE) log(1 + count) / log(1 + max count)
    full = np.argwhere((counts >= 2) & ~edge)
    j, i = full[np.argmax(counts[full[:, 0], full[:, 1]])]
    mean = sums[j, i] / counts[j, i] * 255
    a = LOW_SHADE + (1 - LOW_SHADE) * np.log1p(counts[j, i]) / np.log1p(counts.max())
    (px,) = read_pixels(page, [((i + 0.5) * size, (j + 0.5) * size)])
    assert np.abs(np.array(px[:3]) - (mean * a + 255 * (1 - a))).max() <= 2, (px, mean, a)
    assert "density: each 3 px bin" in page.inner_text(".gw-legend")
    assert page.errors == []
    ctx.close()


def test_density_switch_follows_the_points_in_view(browser, tmp_path, cloud):
    ctx, page = open_view(browser, polar(cloud, density_threshold=N - 1).to_html(
        tmp_path / "z.html"))
    assert state(page)["mode"] == "density"
    # wheel-zoom 8x about the plot's centre: fewer points in view, points mode, and a
    # higher opacity than the whole cloud would get
    left, top, pw, ph = plot_box(page)
    page.mouse.move(left + pw / 2, top + ph / 2)
    page.mouse.wheel(0, -1386.3)  # exp(1386.3 * 0.0015) = 8 (js/src/frame.ts)
    page.wait_for_function("document.querySelector('.gw-root').dataset.mode === 'points'")
    st = state(page)
    assert 0 < st["inView"] < N - 1
    assert st["plan"]["alpha"] == pytest.approx(
        min(1.0, max(MIN_ALPHA, FILL * pw * ph / (st["inView"] * 9))), rel=1e-6)
    # the count of points in view: recomputed here from the zoomed frame
    theta, rho, _ = cloud
    x, y = sector_xy(theta, rho, pw, ph)
    cx, cy = pw / 2, ph / 2
    zx, zy = cx + 8 * (x - cx), cy + 8 * (y - cy)
    inside = int(((zx >= 0) & (zx < pw) & (zy >= 0) & (zy < ph)).sum())
    assert abs(st["inView"] - inside) <= 2
    # off: points, however many; on: density, however few
    page.evaluate("""() => { const m = Object.values(window.geowidget.models)[0];
        m.set('density', 'off'); }""")
    page.wait_for_function("document.querySelector('.gw-root').dataset.mode === 'points'")
    page.click("button[data-tool=fit]")
    page.evaluate("""() => { const m = Object.values(window.geowidget.models)[0];
        m.set('density_threshold', 1e9); m.set('density', 'on'); }""")
    page.wait_for_function("document.querySelector('.gw-root').dataset.mode === 'density'")
    assert page.errors == []
    ctx.close()


def test_selection_is_drawn_over_the_density(browser, tmp_path, cloud):
    theta, rho, labels = cloud
    w = polar(cloud, density="on")
    w.selected = [int(np.argmax(rho))]  # the outermost point
    ctx, page = open_view(browser, w.to_html(tmp_path / "s.html"))
    assert state(page)["mode"] == "density"
    _, _, pw, ph = plot_box(page)
    x, y = sector_xy(theta, rho, pw, ph)
    i = int(np.argmax(rho))
    (px,) = read_pixels(page, [(x[i], y[i])])
    assert np.abs(np.array(px[:3]) - hex_rgb(PALETTE[labels[i]])).max() <= 3
    # the selected point is not in the bins; the others are, dimmed towards grey
    _, _, _, counts, _ = bins_of(page)
    assert counts.sum() == N - 1
    ctx.close()


def test_a_client_without_webgl_draws_and_a_picker_redraws(browser, tmp_path):
    cube = make_cube(m=1, layers=2, n=50)
    ctx, page = open_view(browser, gw.PolarPlot(cube, layer=0, point_size=6.0).to_html(
        tmp_path / "n.html"), NO_WEBGL)
    assert state(page)["backend"] == "canvas2d"
    before = canvas_digest(page)
    assert before[1] > 100  # points drawn
    page.select_option("select[data-picker=layer]", "1")
    page.wait_for_function("Number(document.querySelector('.gw-root').dataset.drawn) >= 2")
    after = canvas_digest(page)
    assert after[0] != before[0] and after[1] > 100
    # layer 1's sample 0 is where the frame puts it, in its class colour
    _, _, pw, ph = plot_box(page)
    theta, rho = cube.angle[0, 1, 0], cube.norm[0, 1, 0]
    x, y = sector_xy(theta, rho, pw, ph)
    order = np.argsort(np.hypot(x[:, None] - x, y[:, None] - y) + np.eye(len(x)) * 1e9, axis=1)
    alone = [i for i in range(len(x)) if np.hypot(x[i] - x[order[i, 0]], y[i] - y[order[i, 0]]) > 8]
    (px,) = read_pixels(page, [(x[alone[0]], y[alone[0]])])
    colour = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE"][cube.labels[alone[0]]]
    assert np.abs(np.array(px[:3]) - hex_rgb(colour)).max() <= 3
    assert page.errors == []
    ctx.close()
