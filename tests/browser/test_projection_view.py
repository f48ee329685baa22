"""ProjectionView in a browser: a lasso in the projection selects the same samples in the
linked polar plot, and a lasso in the polar plot selects them in the projection; the samples
inside are recomputed here from the documented frames."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from tests.browser.gw_page import PAD, drag, plot_box, polar_xy, selected_ids
from tests.fixtures.synthetic import make_cube


def xy_screen(x, y, width, height):
    """js/src/scales.ts xyCamera: fit the finite points with equal aspect, PAD px inside."""
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    s = min((width - 2 * PAD) / max(x1 - x0, 1e-9), (height - 2 * PAD) / max(y1 - y0, 1e-9))
    ox, oy = width / 2 - s * (x0 + x1) / 2, height / 2 + s * (y0 + y1) / 2
    return ox + s * x, oy - s * y


def clear_box(px, py, width, height):
    """A rectangle (screen px) holding some points, with no point within 3 px of its edges."""
    for fx in np.linspace(0.3, 0.7, 41):
        cut = width * fx
        if np.all(np.abs(px - cut) > 3):
            top, bottom = 4.0, height - 4.0
            if np.all((py > top + 3) & (py < bottom - 3)):
                inside = px < cut
                if 0 < inside.sum() < len(px):
                    return (4.0, top, cut, bottom), inside
    raise AssertionError("no clear cut through the points")


def lasso_box(page, kind, box):
    left, top, _, _ = plot_box(page, kind)
    x0, y0, x1, y1 = box
    drag(page, [(left + x0, top + y0), (left + x1, top + y0), (left + x1, top + y1),
                (left + x0, top + y1), (left + x0, top + y0)])


def test_lasso_links_projection_and_polar(page, tmp_path):
    cube = make_cube(m=2, layers=1, n=60)
    rng = np.random.default_rng(5)
    xy = rng.normal(size=(2, 1, 60, 2)).astype(np.float32)
    view = gw.ProjectionView(cube, method="umap", xy=xy, model=1)
    polar = gw.PolarPlot(cube, model=1)
    gw.link(view, polar).to_html(tmp_path / "linked.html")
    page.goto((tmp_path / "linked.html").as_uri())
    for kind in ("projection", "polar"):
        page.wait_for_function(f"() => Number(document.querySelector('.gw-root[data-kind={kind}]')"
                               "?.dataset.drawn || 0) >= 1", timeout=20000)
    ids = cube.sample_ids

    # projection -> polar
    _, _, w, h = plot_box(page, "projection")
    px, py = xy_screen(xy[1, 0, :, 0].astype(float), xy[1, 0, :, 1].astype(float), w, h)
    box, inside = clear_box(px, py, w, h)
    lasso_box(page, "projection", box)
    page.wait_for_function("() => document.querySelector('.gw-root[data-kind=polar]')"
                           ".dataset.selected !== '0'", timeout=10000)
    assert sorted(selected_ids(page, "polar")) == sorted(ids[inside].tolist())
    assert sorted(selected_ids(page, "projection")) == sorted(ids[inside].tolist())

    # polar -> projection
    page.locator(".gw-root[data-kind=polar]").scroll_into_view_if_needed()
    _, _, w, h = plot_box(page, "polar")
    s = cube.slice(model=1)
    rho = s.norm.astype(float)
    qx, qy = polar_xy(s.angle, rho, w, h, rho.max())
    box, inside = clear_box(qx, qy, w, h)
    lasso_box(page, "polar", box)
    page.wait_for_function(
        f"() => document.querySelector('.gw-root[data-kind=projection]').dataset.selected"
        f" === '{int(inside.sum())}'", timeout=10000)
    assert sorted(selected_ids(page, "projection")) == sorted(ids[inside].tolist())
    assert not page.errors


def test_projection_to_png_has_the_points(page, tmp_path):
    import io

    from PIL import Image

    cube = make_cube(m=1, layers=1, n=4)
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    view = gw.ProjectionView(cube, method="pca", xy=xy, point_size=10.0, palette=["#EE6677"])
    export = view.to_png(tmp_path / "map.png", scale=2)
    img = np.asarray(Image.open(io.BytesIO((tmp_path / "map.png").read_bytes())).convert("RGB"))
    assert img.shape[:2] == export.size[::-1]
    page.set_viewport_size({"width": 840, "height": 900})  # as the headless export lays it out
    page.goto(view.to_html(tmp_path / "map.html").as_uri())
    page.wait_for_function("() => Number(document.querySelector('.gw-root[data-kind=projection]')"
                           "?.dataset.drawn || 0) >= 1", timeout=20000)
    _, _, w, h = plot_box(page, "projection")
    margin = 8  # js/src/png.ts
    px, py = xy_screen(xy[:, 0].astype(float), xy[:, 1].astype(float), w, h)
    for x, y in zip(px, py, strict=True):  # each point, 10 CSS px wide, at its place
        centre = img[int((y + margin) * 2), int((x + margin) * 2)]
        assert np.abs(centre.astype(int) - [0xEE, 0x66, 0x77]).max() <= 3, (x, y, centre)
    mid = img[int((h / 2 + margin) * 2), int((w / 2 + margin) * 2)]
    assert np.abs(mid.astype(int) - [0xEE, 0x66, 0x77]).max() > 40  # between them: background
