"""Every view in the light and dark themes, checked as a careful reader would look at it: no
text runs into other text or off the plot, no text sits on drawn data without a halo that
keeps it readable, all text has 4.5:1 contrast with the background, the legend fits, the
canvas is drawn. Crowded model-map labels never overlap, and parallel coordinates draw axes
with few values as bands.

Set ``GEOWIDGET_SCREENSHOTS=DIR`` to save each view (``<view>-<theme>.png``), e.g. docs/img
for the screenshots in docs/features.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import canvas_digest, open_html, plot_box, selected_ids
from tests.fixtures.synthetic import make_cube

THEMES = {"light": (255, 255, 255), "dark": (17, 17, 17)}  # js/src/theme.ts backgrounds


def density_view(cube, theme):
    """Every model and condition of the last layer in one density picture."""
    m, _, k, n = cube.angle.shape
    return gw.PolarPlot(angle=cube.angle[:, -1].ravel(), norm=cube.norm[:, -1].ravel(),
                        labels=np.tile(cube.labels, m * k), class_names=cube.class_names,
                        theme=theme, density="on", thumbnails=False)


def narrow_view(cube, theme):
    """A probe layer's picture: every angle within 88-92 degrees (a narrow sector)."""
    rng = np.random.default_rng(3)
    n = len(cube.labels)
    return gw.PolarPlot(angle=np.radians(rng.uniform(88, 92, n)), norm=rng.uniform(2, 9, n),
                        labels=cube.labels, class_names=cube.class_names, theme=theme,
                        thumbnails=False)


def profile_view(cube, theme):
    """Geometry through the layers of a small CNN (the names a user's model has)."""
    layered = make_cube(m=2, layers=3, n=60, seed=4, images=False).replace(
        layers=["conv1", "conv2", "penultimate"])
    return gw.LayerProfile(layered, theme=theme, height=300)


VIEWS = {
    "polar": lambda cube, theme: gw.PolarPlot(cube, theme=theme),
    "polar-density": density_view,
    "polar-narrow": narrow_view,
    "histogram": lambda cube, theme: gw.MarginHistogram(cube, theme=theme),
    "parallel": lambda cube, theme: gw.ParallelCoordinates(cube, theme=theme),
    "layerprofile": profile_view,
    "modelmap": lambda cube, theme: gw.ModelMap(cube, theme=theme),
}
NARROW = {"layerprofile": 600}  # views also seen in a narrower notebook column (CSS px)

# Per text: its box, fill, whether it has a halo (a stroke of the background colour painted
# under the fill, at least 2 px wide), and the share of its box's pixels where the canvas
# below has drawn data (differs from the background).
READ_TEXT = """() => {
  const root = document.querySelector('.gw-root');
  const svg = root.querySelector('.gw-plot svg').getBoundingClientRect();
  const c = root.querySelector('.gw-plot canvas');
  const cr = c.getBoundingClientRect(), k = c.width / c.clientWidth;
  const t2 = document.createElement('canvas'); t2.width = c.width; t2.height = c.height;
  const g = t2.getContext('2d'); g.drawImage(c, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const bg = getComputedStyle(root).backgroundColor.match(/[0-9.]+/g).map(Number);
  const inkUnder = (r) => {
    let ink = 0, all = 0;
    for (let y = Math.floor((r.top - cr.top) * k); y < (r.bottom - cr.top) * k; y++)
      for (let x = Math.floor((r.left - cr.left) * k); x < (r.right - cr.left) * k; x++) {
        if (x < 0 || y < 0 || x >= c.width || y >= c.height) continue;
        const i = 4 * (y * c.width + x); all++;
        if (Math.abs(px[i] - bg[0]) + Math.abs(px[i + 1] - bg[1]) + Math.abs(px[i + 2] - bg[2]) > 60) ink++;
      }
    return all ? ink / all : 0;
  };
  const texts = Array.from(root.querySelectorAll('.gw-plot svg text'))
    .filter((t) => t.textContent.trim())
    .map((t) => { const r = t.getBoundingClientRect(); const st = getComputedStyle(t);
      const halo = st.paintOrder.startsWith('stroke') && st.stroke === getComputedStyle(root).backgroundColor
        && parseFloat(st.strokeWidth) >= 2;
      return { text: t.textContent, box: [r.left, r.top, r.right, r.bottom], fill: st.fill,
               halo, ink: inkUnder(r) }; });
  const legend = Array.from(root.querySelectorAll('.gw-legend span'))
    .filter((s) => s.children.length === 0 && s.textContent.trim())
    .map((s) => ({ text: s.textContent, color: getComputedStyle(s).color,
                   opacity: Number(getComputedStyle(s.closest('.item') || s).opacity) }));
  const L = root.querySelector('.gw-legend');
  return { svg: [svg.left, svg.top, svg.right, svg.bottom], texts, legend,
           legendFits: L.scrollWidth <= L.clientWidth + 1 };
}"""


def rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(float(v)) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def contrast(a, b) -> float:
    def lum(c):
        v = np.asarray(c) / 255
        v = np.where(v <= 0.03928, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]
    hi, lo = sorted([lum(a), lum(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def overlapping(boxes, slack=0.5, gap=0.0):
    """Pairs of boxes (left, top, right, bottom) that overlap by more than `slack` px, or, side
    by side, stand less than `gap` px apart (words that touch read as one)."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if min(a[2], b[2]) - max(a[0], b[0]) > min(slack, -gap) \
                    and min(a[3], b[3]) - max(a[1], b[1]) > slack:
                out.append((a, b))
    return out


def text_problems(texts, plot) -> list:
    """What a reader would stumble on: texts that run into each other or off the plot
    (left, top, right, bottom), and texts on drawn data (lines, points, bars) without a halo."""
    clash = overlapping([t["box"] for t in texts], gap=2)
    out = [("overlap", [t["text"] for t in texts if t["box"] in pair]) for pair in clash]
    left, top, right, bottom = plot
    out += [("off the plot", t["text"]) for t in texts
            if not (t["box"][0] >= left - 0.5 and t["box"][1] >= top - 0.5
                    and t["box"][2] <= right + 0.5 and t["box"][3] <= bottom + 0.5)]
    return out + [("on data, no halo", t["text"], round(t["ink"], 2)) for t in texts
                  if t["ink"] > 0.04 and not t["halo"]]


@pytest.mark.parametrize("theme", list(THEMES))
def test_every_view_reads_well(browser, demo_cache, tmp_path, theme):
    shots = os.environ.get("GEOWIDGET_SCREENSHOTS")
    ctx = browser.new_context(viewport={"width": 840, "height": 900})
    problems = {}  # every view's, so one run names them all
    for name, make in VIEWS.items():
        page = ctx.new_page()
        if name in NARROW:
            page.set_viewport_size({"width": NARROW[name], "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        open_html(page, make(demo_cache.cube, theme).to_html(tmp_path / f"{name}.html"),
                  kind=name.split("-")[0])
        got = page.evaluate(READ_TEXT)
        bg = THEMES[theme]
        assert got["texts"], name
        if found := text_problems(got["texts"], got["svg"]):
            problems[name] = found
        for t in got["texts"]:
            assert contrast(rgb(t["fill"]), bg) >= 4.5, (name, t)
        for t in got["legend"]:
            if t["opacity"] == 1:  # hidden classes are faded on purpose
                assert contrast(rgb(t["color"]), bg) >= 4.5, (name, t)
        assert got["legendFits"], name
        assert canvas_digest(page, name.split("-")[0])[1] > 100, name
        if name == "polar-density":
            assert page.evaluate("document.querySelector('.gw-root').dataset.mode") == "density"
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.locator(".gw-root").screenshot(path=str(Path(shots) / f"{name}-{theme}.png"))
        assert errors == [], (name, errors)
        page.close()
    ctx.close()
    assert not problems, problems


def test_crowded_model_map_labels_never_overlap(page, tmp_path):
    rng = np.random.default_rng(1)
    xy = np.vstack([rng.normal(0, 0.05, (30, 2)), [[2.0, 2.0], [-2.0, -2.0]]])
    names = [f"resnet-{i:02d}-sparse" for i in range(32)]
    mm = gw.ModelMap(xy=xy, names=names)
    mm.active = 5
    open_html(page, mm.to_html(tmp_path / "crowd.html"), kind="modelmap")
    labels = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.gw-root[data-kind=modelmap] svg text.gw-label')).map((t) => { const r =
        t.getBoundingClientRect(); return [t.textContent, [r.left, r.top, r.right, r.bottom],
        t.getAttribute('font-weight')]; })""")
    shown = {name for name, _, _ in labels}
    hidden = int(page.get_attribute(".gw-root[data-kind=modelmap]", "data-labels-hidden"))
    assert hidden > 0 and len(shown) + hidden == 32
    assert {"resnet-05-sparse", "resnet-30-sparse", "resnet-31-sparse"} <= shown  # active, apart
    assert [w for name, _, w in labels if name == "resnet-05-sparse"] == ["bold"]
    assert not overlapping([box for _, box, _ in labels], slack=0)
    # every label clear of every point (10 px squares centred on the points), but the active
    # model's, which is shown whatever it covers
    left, top, pw, ph = plot_box(page, "modelmap")
    sc = min((pw - 56) / np.ptp(xy[:, 0]), (ph - 56) / np.ptp(xy[:, 1]))  # xyCamera
    px = pw / 2 + sc * (xy[:, 0] - (xy[:, 0].min() + xy[:, 0].max()) / 2) + left
    py = ph / 2 - sc * (xy[:, 1] - (xy[:, 1].min() + xy[:, 1].max()) / 2) + top
    marks = [(x - 5, y - 5, x + 5, y + 5) for x, y in zip(px, py, strict=True)]
    assert not [m for name, box, _ in labels for m in marks
                if name != "resnet-05-sparse" and overlapping([box, m], slack=0.5)]
    # a hidden label's name shows on hover
    name = next(n for n in names if n not in shown)
    i = names.index(name)
    page.mouse.move(px[i], py[i])
    page.wait_for_selector(".gw-root[data-kind=modelmap] .gw-tip", state="visible")
    assert page.inner_text(".gw-root[data-kind=modelmap] .gw-tip").splitlines()[0] in names


def test_parallel_axes_with_few_values_are_bands(page, tmp_path):
    rng = np.random.default_rng(2)
    n = 300
    r1 = (rng.random(n) < 0.7).astype(float)  # 0 / 1 per corruption
    r2 = rng.integers(0, 5, n) / 4.0  # fractions of severities
    x = rng.normal(0, 1, n)
    pc = gw.ParallelCoordinates(axes={"R(noise)": r1, "R(fog)": r2, "x": x},
                                labels=np.arange(n) % 3)
    open_html(page, pc.to_html(tmp_path / "bands.html"), kind="parallel")
    lay = page.evaluate("document.querySelector('.gw-root[data-kind=parallel]')"
                        ".__geowidget.layout()")
    assert lay["bands"][2] is None  # the continuous axis meets lines at their values
    for a, values in ((0, r1), (1, r2)):
        bands = lay["bands"][a]
        assert [b["value"] for b in bands] == sorted(set(values.tolist()))
        height = bands[0]["height"]
        centres = sorted(b["y"] for b in bands)
        assert height > 4 and min(np.diff(centres)) > height  # bands apart
        ys = np.asarray(lay["y"][a])
        for b in bands:
            inside = ys[values == b["value"]] - b["y"]
            assert np.abs(inside).max() < height / 2  # every line meets its value's band
            if inside.size >= 10:  # and spreads over it
                assert np.ptp(inside) > 0.8 * height * (1 - 1 / inside.size)
    # brushing part of a band selects the whole value
    left, top, pw, ph = plot_box(page, "parallel")
    b1 = next(b for b in lay["bands"][0] if b["value"] == 1.0)
    x0 = lay["x"][0]
    page.click(".gw-root[data-kind=parallel] button[data-tool=box]")
    page.mouse.move(left + x0 - 5, top + b1["y"] - 2)
    page.mouse.down()
    page.mouse.move(left + x0 + 5, top + b1["y"] + 2, steps=4)
    page.mouse.up()
    assert sorted(selected_ids(page, "parallel")) == np.flatnonzero(r1 == 1).tolist()
