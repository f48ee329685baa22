"""Pictures that don't mislead, checked in the pixels: the tooltip's thumbnail beside its text,
never over it; the margin histogram's count axis holding every bar drawn, with a selection
shown inside each class's bars so that every class stays in sight.

Set ``GEOWIDGET_SCREENSHOTS=DIR`` to save what is checked (hover, selection) as PNGs.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import geowidget as gw
from geowidget.coords import sparsity_text
from tests.browser.gw_page import open_html, plot_box, polar_sector, read_pixels, sector_xy
from tests.fixtures.synthetic import make_cube


def shoot(page, name: str, part: str = ".gw-root") -> None:
    shots = os.environ.get("GEOWIDGET_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.locator(part).first.screenshot(path=str(Path(shots) / f"{name}.png"))


def css_rgb(css: str) -> np.ndarray:
    return np.array([float(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]])


BOXES = """() => {
  const tip = document.querySelector('.gw-tip');
  const r = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const text = tip.querySelector('.gw-tip-text');
  const range = document.createRange(); range.selectNodeContents(text);
  const lines = Array.from(range.getClientRects()).filter((b) => b.width > 1).map((b) => [b.left, b.top, b.right, b.bottom]);
  const c = tip.querySelector('canvas');
  const px = Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  return { tip: r(tip), text: r(text), lines, thumb: r(c), px, w: c.width, h: c.height,
           bg: getComputedStyle(tip).backgroundColor, fg: getComputedStyle(tip).color };
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_tooltip_thumbnail_sits_beside_its_text(page, demo_cache, tmp_path, theme):
    cube = demo_cache.cube
    open_html(page, gw.PolarPlot(cube, theme=theme).to_html(tmp_path / "tip.html"))
    left, top, pw, ph = plot_box(page)
    c = cube.slice()
    xs, ys = sector_xy(c.angle, c.norm, pw, ph)
    i = int(np.argmin((xs - pw * 0.4) ** 2 + (ys - ph * 0.5) ** 2))  # a point near the middle
    page.mouse.move(left + xs[i], top + ys[i])
    page.wait_for_selector(".gw-tip", state="visible")
    got = page.evaluate(BOXES)
    text = page.inner_text(".gw-tip-text").splitlines()
    assert text[0] == f"sample {cube.sample_ids[i]}" and len(text) == 6
    assert text[-1] == f"m = {float(c.margin[i]):.4g}"
    # the thumbnail is the hovered sample's image (grey, H x W)
    tile = np.asarray(got["px"], np.uint8).reshape(got["h"], got["w"], 4)[..., 0]
    assert np.array_equal(tile, np.asarray(cube.images[i], np.uint8))
    # boxes: thumbnail and text apart, both inside the tooltip, the tooltip inside the plot
    th, tx = got["thumb"], got["text"]
    assert th[2] <= tx[0] or tx[2] <= th[0] or th[3] <= tx[1] or tx[3] <= th[1], (th, tx)
    for b in (th, tx):
        assert got["tip"][0] <= b[0] and b[2] <= got["tip"][2] and got["tip"][1] <= b[1] \
            and b[3] <= got["tip"][3]
    assert left - 0.5 <= got["tip"][0] and got["tip"][2] <= left + pw + 0.5
    # pixels: every text line shows text on the tooltip's background (a covered line would
    # show the digit's black square), and the thumbnail shows the digit
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), float)
    bg, fg = css_rgb(got["bg"]), css_rgb(got["fg"])
    assert len(got["lines"]) == 6
    for x0, y0, x1, y1 in got["lines"]:
        box = shot[int(np.ceil(y0)):int(y1), int(np.ceil(x0)):int(x1)]
        near_bg = np.abs(box - bg).sum(-1) < 60
        near_fg = np.abs(box - fg).sum(-1) < 200
        assert near_bg.mean() > 0.6 and near_fg.mean() > 0.03, (x0, y0, near_bg.mean())
    x0, y0, x1, y1 = (int(np.ceil(v)) for v in th)
    seen = shot[y0 + 2:y1 - 2, x0 + 2:x1 - 2, 0]
    want = np.kron(np.asarray(cube.images[i], float), np.ones((3, 3)))  # 3 px a pixel
    assert np.abs(seen - want[:seen.shape[0], :seen.shape[1]]).mean() < 25
    shoot(page, f"polar-hover-{theme}")


def brute_histogram(values, lo, hi, bins):
    """Equal-width bins over [lo, hi], hi in the last bin; a plain loop."""
    counts = np.zeros(bins, int)
    w = (hi - lo) / bins
    for v in values:
        if np.isfinite(v) and lo <= v <= hi:
            counts[min(int((v - lo) // w), bins - 1)] += 1
    return counts


LEGEND = """() => Array.from(document.querySelectorAll('.gw-legend .sw'))
  .map((s) => getComputedStyle(s).backgroundColor)"""


@pytest.mark.parametrize("layout", ["stacked", "overlay", "multiples"])
def test_histogram_axis_holds_the_selection_and_every_class(page, demo_cache, tmp_path, layout):
    cube = demo_cache.cube
    c = cube.slice()
    margin, labels = c.margin, cube.labels
    chosen = np.flatnonzero(margin < np.quantile(margin, 0.5))  # half the samples, all classes
    hist = gw.MarginHistogram(cube, group_layout=layout, height=320)
    hist.selected = cube.sample_ids[chosen]
    open_html(page, hist.to_html(tmp_path / f"hist-{layout}.html"), kind="histogram")
    lay = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]')"
                        ".__geowidget.layout()")
    assert lay["layout"] == layout
    lo, hi, bins = lay["lo"], lay["hi"], lay["bins"]
    assert lo <= margin.min() and margin.max() <= hi
    picked = np.zeros(len(labels), bool)
    picked[chosen] = True
    counts = np.array([brute_histogram(margin[labels == k], lo, hi, bins)
                       for k in range(len(cube.class_names))])
    sel = np.array([brute_histogram(margin[(labels == k) & picked], lo, hi, bins)
                    for k in range(len(cube.class_names))])
    assert [g["name"] for g in lay["groups"]] == list(cube.class_names)
    assert np.array_equal([g["counts"] for g in lay["groups"]], counts)
    assert np.array_equal([g["selected"] for g in lay["groups"]], sel)
    # the count axis holds every bar drawn (a stack of classes, or the tallest class)
    tallest = counts.sum(0).max() if layout == "stacked" else counts.max()
    assert lay["ymax"] == tallest
    left, top, pw, ph = plot_box(page, "histogram")
    x0, x1 = lay["x0"], lay["x1"]
    bg = np.array(read_pixels(page, [(2, 2)], "histogram")[0][:3])
    # nothing drawn above the axis's top (the first panel's)
    first = lay["panels"][0][0]
    grid = [(x, y) for x in np.linspace(x0 + 1, x1 - 1, 60) for y in np.arange(1, first - 1, 3)]
    above = np.array([p[:3] for p in read_pixels(page, grid, "histogram")])
    assert np.abs(above - bg).max() <= 2
    colours = [css_rgb(v) for v in page.evaluate(LEGEND)]
    panels = lay["panels"]
    bw = (x1 - x0) / bins

    def y_of(panel, v):
        a, b = panels[panel]
        return b - v / lay["ymax"] * (b - a)

    def near(x, y0, y1, colour, tol):
        """Some pixel between y0 and y1 (CSS px) at x has about this colour."""
        ys = np.arange(min(y0, y1), max(y0, y1) + 0.01, 0.5)
        got = np.array([p[:3] for p in read_pixels(page, [(x, y) for y in ys], "histogram")])
        return np.abs(got - colour).max(1).min() <= tol

    # on the positive side (no shading), each class shows in its colour: its selected part in
    # full colour and the rest faded (stacked), or its outline at its count (overlay,
    # multiples), wherever the class has its own bar
    zero_bin = int(round(-lo / bw)) if lo < 0 else 0
    checked = 0
    for k, colour in enumerate(colours):
        for b in range(zero_bin + 1, bins):
            cx = x0 + (b + 0.4) * bw
            if layout == "stacked":
                base = counts[:k, b].sum()
                if sel[k, b] and y_of(0, base) - y_of(0, base + sel[k, b]) >= 3:
                    assert near(cx, y_of(0, base) - 1, y_of(0, base + sel[k, b]) + 1,
                                colour * 0.9 + bg * 0.1, 20), (k, b)
                    checked += 1
                rest = counts[k, b] - sel[k, b]
                if rest and y_of(0, base + sel[k, b]) - y_of(0, counts[:k + 1, b].sum()) >= 3:
                    faded = colour * 0.28 + bg * 0.72
                    assert near(cx, y_of(0, base + sel[k, b]) - 1,
                                y_of(0, counts[:k + 1, b].sum()) + 1, faded, 20), (k, b)
                    checked += 1
            else:
                panel = k if layout == "multiples" else 0
                others = np.delete(counts[:, b], k) if layout == "overlay" else np.array([])
                y = y_of(panel, counts[k, b])
                if counts[k, b] and all(abs(y_of(0, o) - y) > 4 for o in others):
                    assert near(cx, y - 2, y + 2, colour, 60), (k, b)
                    checked += 1
                    break
    assert checked >= len(colours)
    shoot(page, f"histogram-selection-{layout}")


def test_histogram_hides_the_picker_it_groups_by(page, demo_cache, tmp_path):
    hist = gw.MarginHistogram(demo_cache.cube, group_by="sparsity")
    open_html(page, hist.to_html(tmp_path / "levels.html"), kind="histogram")
    visible = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind=histogram] select[data-picker]')).filter((s) =>
        s.closest('label').style.display !== 'none').map((s) => s.dataset.picker)""")
    assert "sparsity" not in visible and "benchmark" in visible
    lay = page.evaluate("document.querySelector('.gw-root[data-kind=histogram]')"
                        ".__geowidget.layout()")
    sparsities = sorted({c.sparsity for c in demo_cache.cube.conditions
                         if c.benchmark == "clean"})
    levels = [c.sparsity for c in demo_cache.cube.conditions]  # written as every view writes it
    assert [g["name"] for g in lay["groups"]] == [f"sparsity {sparsity_text(s, levels)}"
                                                  for s in sparsities]
    assert lay["layout"] == "overlay"


SECTORS = """() => Array.from(document.querySelectorAll('.gw-root[data-kind=polar]'))
  .map((r) => { const s = r.__geowidget.range().sector; return [s.t0, s.t1, s.r0, s.r1]; })"""


def test_side_by_side_shares_one_radius_scale(page, tmp_path):
    cube = make_cube(m=2, layers=2, n=50, seed=7)
    norm = cube.norm.copy()
    norm[1] *= 0.25  # the pruned model's norms shrink to a quarter
    cube = cube.replace(norm=norm)
    ranges = gw.SideBySide(cube, models=(0, 1)).left.shared_range
    for li, (t0, t1, r0, r1) in enumerate(ranges):  # brute force over both models' values
        theta = np.concatenate([cube.angle[:, li].ravel(), cube.angle_pred[:, li].ravel()])
        assert (t0, t1) == pytest.approx((theta.min(), theta.max()))
        assert (r0, r1) == pytest.approx((norm[:, li].min(), norm[:, li].max()))
    for shared in (True, False):
        sbs = gw.SideBySide(cube, models=(0, 1), shared_scale=shared, layer=0)
        open_html(page, sbs.to_html(tmp_path / f"sbs-{shared}.html"))
        page.wait_for_function("document.querySelectorAll('.gw-root[data-drawn]').length === 2")
        left, right = page.evaluate(SECTORS)
        c0, c1 = cube.cell(0, 0, 0), cube.cell(1, 0, 0)
        if shared:  # one sector, around both models' values at every condition
            t0, t1, r0, r1 = ranges[0]
            assert left == pytest.approx(right)
            assert left == pytest.approx(polar_sector([t0, t1], [r0, r1]), rel=1e-5)
        else:  # each its own: the shrunken model fills its panel as the dense one does
            assert left == pytest.approx(polar_sector(c0.angle, c0.norm), rel=1e-5)
            assert right == pytest.approx(polar_sector(c1.angle, c1.norm), rel=1e-5)
            assert right[3] < 0.5 * left[3]
        assert not page.errors
        shoot(page, f"sidebyside-{'shared' if shared else 'own'}-scale", "body")
    with pytest.raises(TypeError, match="shared_scale"):
        gw.SideBySide(cube, shared_scale="yes")


HOVER_TIP = """([x, y]) => new Promise((done) => {
  const root = document.querySelector('.gw-root[data-kind=evaltable]');
  const plot = root.querySelector('.gw-plot').getBoundingClientRect();
  root.querySelector('.gw-plot').dispatchEvent(new PointerEvent('pointermove',
    { clientX: plot.left + x, clientY: plot.top + y, bubbles: true }));
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const tip = root.querySelector('.gw-tip');
    done(tip.style.display === 'block' ? tip.innerText : null);
  }));
})"""


def test_evaluation_table_names_fit_and_show_whole_on_hover(browser, demo_cache, tmp_path):
    cube = demo_cache.cube
    page = browser.new_page(viewport={"width": 640, "height": 700})
    table = gw.EvaluationTable(cube, height=300)
    open_html(page, table.to_html(tmp_path / "table.html"), kind="evaltable")
    lay = page.evaluate("""() => { const L = document.querySelector(
        '.gw-root[data-kind=evaltable]').__geowidget.layout();
        return { labelW: L.labelW, groupH: L.groupH, headerH: L.headerH, cellW: L.cellW,
                 cellH: L.cellH }; }""")
    meta = table._meta
    names = meta["column_groups"]
    # benchmark names take a second header line rather than an ellipsis
    assert max(len(n) for n in names) > 10 and lay["groupH"] > 16
    # hovering a benchmark's header or a row's name shows it whole
    col = next(i for i, c in enumerate(meta["columns"]) if c["benchmark"] == "gaussian_noise")
    x = lay["labelW"] + (col + 0.5) * lay["cellW"]
    tip = page.evaluate(HOVER_TIP, [x, lay["groupH"] / 2])
    assert tip is not None and tip.splitlines()[0] == "gaussian_noise"
    longest = max(range(len(meta["rows"])), key=lambda r: len(meta["rows"][r]["label"]))
    y = page.evaluate("(r) => document.querySelector('.gw-root[data-kind=evaltable]')"
                      ".__geowidget.layout().y(r)", longest)
    tip = page.evaluate(HOVER_TIP, [10, y + lay["cellH"] / 2])
    assert tip == meta["rows"][longest]["label"]
    assert page.evaluate(HOVER_TIP, [lay["labelW"] / 2, lay["headerH"] / 2]) is None  # corner
    shoot(page, "evaltable")
    page.close()


def test_polar_ring_labels_stay_clear_of_angle_labels(page, tmp_path):
    """The outer ring's radius label "60" stood 32 px below the t0 edge's angle label "60°"
    (a side-by-side at 1200 px), read as a pair: every radius label now stands 36 px
    (READ_APART in polar.ts) from every angle label, and no two labels overlap."""
    page.set_viewport_size({"width": 1200, "height": 900})
    view = gw.SideBySide(gw.demo_cube(), theme="light")
    page.goto(view.to_html(tmp_path / "p.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.gw-root[data-drawn]').length === 2")
    for root in range(2):
        texts = page.evaluate(f"""() => Array.from(document.querySelectorAll('.gw-root')[{root}]
            .querySelectorAll('svg text')).map((t) => {{ const r = t.getBoundingClientRect();
            return [t.textContent, [r.left, r.top, r.right, r.bottom]]; }})""")
        rings = [b for t, b in texts if not t.endswith("°")]
        angles = [b for t, b in texts if t.endswith("°")]
        assert len(rings) >= 2 and len(angles) >= 3, texts  # both axes still labelled

        def gap(a, b):
            return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])

        boxes = [b for _, b in texts]
        assert all(gap(a, b) > 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert min(gap(r, a) for r in rings for a in angles) >= 36 - 1


def test_model_map_labels_keep_apart_and_off_the_edges(page, tmp_path):
    """The demo's wide_cnn-s0 and wide_cnn-mpt-s0 sit almost on one spot: their names touched
    and an edge ran through one. Every name now stands 2 px from every other (LABEL_GAP) and
    off every edge line."""
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(gw.ModelMap(gw.demo_cube(), theme="light").to_html(tmp_path / "mm.html").as_uri())
    page.wait_for_selector(".gw-root[data-kind=modelmap] svg text.gw-label")
    got = page.evaluate("""() => {
      const svg = document.querySelector('.gw-root[data-kind=modelmap] svg');
      const o = svg.getBoundingClientRect();
      const labels = Array.from(svg.querySelectorAll('text.gw-label')).map((t) => {
        const r = t.getBoundingClientRect();
        return [t.textContent, [r.left - o.left, r.top - o.top, r.right - o.left, r.bottom - o.top]]; });
      const lines = Array.from(svg.querySelectorAll('line')).map((l) =>
        ['x1', 'y1', 'x2', 'y2'].map((k) => Number(l.getAttribute(k))));
      return { labels, lines };
    }""")
    names = {n for n, _ in got["labels"]}
    assert {"wide_cnn-s0", "wide_cnn-mpt-s0", "lenet-s0", "mlp-s0"} <= names
    boxes = [b for _, b in got["labels"]]

    def gap(a, b):
        return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])

    assert min(gap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]) >= 2 - 0.5
    assert got["lines"]

    def crosses(seg, box, steps=400):  # brute force: points along the segment inside the box
        t = np.linspace(0, 1, steps)
        x, y = seg[0] + t * (seg[2] - seg[0]), seg[1] + t * (seg[3] - seg[1])
        return bool(((x > box[0]) & (x < box[2]) & (y > box[1]) & (y < box[3])).any())

    assert [(n, s) for n, b in got["labels"] for s in got["lines"] if crosses(s, b)] == []
    assert page.errors == []
