"""PNG export (``to_png`` and the toolbar button), drawn by the renderer in real Chromium."""

from __future__ import annotations

import io
import json
import math
import struct
import time

import numpy as np
import pytest
from PIL import Image

import geowidget as gw
from geowidget.widgets import png as png_module
from tests.browser.gw_page import hex_rgb, open_html, sector_xy

PALETTE = ["#4477AA", "#EE6677", "#228833", "#CCBB44"]  # first colours of js/src/colors.ts
# off the grid's rings (1, 2, 3, 4) and spokes (every 30 degrees), which the image draws on top
THETA = np.radians([15.0, 50.0, 110.0, 165.0])
RHO = np.array([1.5, 2.5, 3.5, 4.5])
MARGIN = 8  # js/src/png.ts
HEADLESS_WIDTH = 840  # geowidget/widgets/png.py


def four_points(**kw):
    return gw.PolarPlot(angle=THETA, norm=RHO, labels=[0, 1, 2, 3], point_size=8.0,
                        class_names=["a", "b", "c", "d"], **kw)


def layout(page):
    """(plot width, plot height, legend height) in CSS px of the view on the page."""
    return page.evaluate("""() => { const r = document.querySelector('.gw-root');
        const p = r.querySelector('.gw-plot').getBoundingClientRect();
        const l = r.querySelector('.gw-legend').getBoundingClientRect();
        return [p.width, p.height, l.height]; }""")


def expected_size(w, h, legend, scale):
    gap = 4 if legend else 0
    js_round = lambda v: math.floor(v + 0.5)  # noqa: E731 (Math.round, not banker's rounding)
    return js_round((w + 2 * MARGIN) * scale), js_round((h + gap + legend + 2 * MARGIN) * scale)


def check_points(img, w, h, scale, bg):
    """The four points at their places (scaled, past the margin), the background elsewhere."""
    rgb = np.asarray(img.convert("RGBA"))
    assert (rgb[..., 3] == 255).all()  # opaque
    xs, ys = sector_xy(THETA, RHO, w, h)
    for x, y, colour in zip(xs, ys, PALETTE, strict=True):
        px = rgb[int((y + MARGIN) * scale), int((x + MARGIN) * scale), :3]
        assert np.abs(px.astype(int) - hex_rgb(colour)).max() <= 3, (px, colour)
    assert rgb[1, 1, :3].tolist() == bg and rgb[-2, -2, :3].tolist() == bg


def test_to_png_headless_writes_the_view_at_scale(browser, tmp_path):
    w = four_points()
    export = w.to_png(tmp_path / "four.png", scale=2.5)
    assert export.done() and export.result() == tmp_path / "four.png"
    data = (tmp_path / "four.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # the same page laid out as the headless export lays it out
    ctx = browser.new_context(viewport={"width": HEADLESS_WIDTH, "height": 900})
    page = ctx.new_page()
    open_html(page, w.to_html(tmp_path / "four.html"))
    pw, ph, lh = layout(page)
    ctx.close()
    img = Image.open(io.BytesIO(data))
    assert img.size == export.size == expected_size(pw, ph, lh, 2.5)
    check_points(img, pw, ph, 2.5, [255, 255, 255])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["four.html", "four.png"]  # no temp left


def test_png_button_and_dark_theme(page, tmp_path):
    open_html(page, four_points(theme="dark").to_html(tmp_path / "d.html"))
    pw, ph, lh = layout(page)
    with page.expect_download() as info:
        page.click("button[data-tool=png]")
    download = info.value
    assert download.suggested_filename == "geowidget-polar.png"
    img = Image.open(download.path())
    assert img.size == expected_size(pw, ph, lh, 3)  # the button's scale
    check_points(img, pw, ph, 3, [17, 17, 17])  # js/src/theme.ts dark background
    # the view on screen is back at the screen's pixel ratio
    assert page.evaluate("document.querySelector('.gw-root canvas').width") == round(pw)
    assert page.errors == []


def test_to_png_asks_the_browser_that_shows_the_view(page, tmp_path, monkeypatch):
    """The live path: the kernel's request reaches the view's renderer in the browser, whose
    reply writes the file. The comm between them is played by the test."""
    w = four_points()
    open_html(page, w.to_html(tmp_path / "live.html"))
    page.evaluate("""() => { const m = Object.values(window.geowidget.models)[0];
        window.replies = []; const send = m.send.bind(m);
        m.send = (content, cb, buffers) => { window.replies.push([content, buffers]); send(content); }; }""")
    monkeypatch.setattr(png_module, "render_headless", lambda *a: pytest.fail("went headless"))
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    with pytest.raises(RuntimeError, match="no browser shows this view"):
        w.to_png(tmp_path / "x.png", via="browser")
    w._handle_custom_msg({"kind": "geowidget-view", "event": "render"}, [])  # a view rendered
    export = w.to_png(tmp_path / "live.png", scale=2)
    assert not export.done() and "waiting for the browser" in repr(export)
    (request,) = sent
    assert request["kind"] == "geowidget-png-request" and request["scale"] == 2
    page.evaluate("""(req) => { const m = Object.values(window.geowidget.models)[0];
        m.emit('msg:custom', req); }""", request)
    page.wait_for_function("window.replies.some(([c]) => c.kind === 'geowidget-png')")
    content, data = page.evaluate("""async () => {
        const [c, bufs] = window.replies.find(([c]) => c.kind === 'geowidget-png');
        return [c, Array.from(new Uint8Array(bufs[0]))]; }""")
    assert content["id"] == request["id"]
    w._handle_custom_msg(content, [bytes(data)])
    assert export.result(timeout=1) == tmp_path / "live.png"
    pw, ph, lh = layout(page)
    img = Image.open(tmp_path / "live.png")
    assert img.size == export.size == (content["width"], content["height"]) == \
        expected_size(pw, ph, lh, 2)
    check_points(img, pw, ph, 2, [255, 255, 255])
    # an error from the browser fails the export, and leaves no file behind
    sent.clear()
    failed = w.to_png(tmp_path / "bad.png", scale=2)
    w._handle_custom_msg({"kind": "geowidget-png", "id": sent[0]["id"], "error": "no GL"}, [])
    with pytest.raises(RuntimeError, match="PolarPlot.to_png failed: no GL"):
        failed.result(timeout=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.html", "live.png"]


def test_png_too_large_is_refused_in_the_browser(page, tmp_path):
    open_html(page, four_points().to_html(tmp_path / "big.html"))
    msg = page.evaluate("""async () => { try { await document.querySelector('.gw-root')
        .__geowidgetPng(40); return 'drawn'; } catch (e) { return e.message; } }""")
    assert "larger than 8192 px a side; use a scale of at most" in msg
    assert page.evaluate("document.querySelector('.gw-root canvas').width") < 8192


@pytest.mark.parametrize(("make_path", "kwargs", "error", "match"), [
    (lambda d: d / "missing" / "x.png", {}, ValueError,
     r"'path' parameter of PolarPlot.to_png must be a writable file path\. Got .*missing.*"
     r"the directory .* does not exist"),
    (lambda d: d / "file.txt" / "x.png", {}, ValueError, r"file\.txt' is not a directory"),
    (lambda d: d, {}, ValueError, "it is a directory"),
    (lambda d: 3, {}, TypeError, "'path' parameter of PolarPlot.to_png must be a str or a "
                                 "os.PathLike. Got int"),
    (lambda d: d / "x.png", {"scale": 0}, ValueError, r"'scale' parameter .* \(0, 10\]"),
    (lambda d: d / "x.png", {"scale": float("nan")}, ValueError, "'scale' parameter"),
    (lambda d: d / "x.png", {"scale": True}, ValueError, "'scale' parameter"),
    (lambda d: d / "x.png", {"via": "svg"}, ValueError,
     r"'via' parameter .* \['auto', 'browser', 'chromium'\]\. Got 'svg'"),
    (lambda d: d / "x.png", {"timeout": -1}, ValueError, "'timeout' parameter"),
])
def test_to_png_bad_input_fails_before_rendering(tmp_path, monkeypatch, make_path, kwargs,
                                                 error, match):
    (tmp_path / "file.txt").write_text("not a directory")
    monkeypatch.setattr(png_module, "render_headless", lambda *a: pytest.fail("rendered"))
    w = four_points()
    monkeypatch.setattr(w, "send", lambda *a, **k: pytest.fail("asked a browser"))
    with pytest.raises(error, match=match):
        w.to_png(make_path(tmp_path), **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # nothing written


def test_png_size_reads_the_header():
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 7, 9)
    assert png_module.png_size(header + b"\x08\x06\x00\x00\x00") == (7, 9)
    with pytest.raises(ValueError, match="not a PNG"):
        png_module.png_size(b"GIF89a" + bytes(30))


LIVE = [
    "import numpy as np\nimport geowidget as gw\n"
    "w = gw.PolarPlot(angle=np.radians([15.0, 50.0, 110.0, 165.0]), norm=[1.5, 2.5, 3.5, 4.5],"
    " labels=[0, 1, 2, 3], point_size=8.0)\nw",
    "f = w.to_png('live.png', scale=2)\nprint('PENDING', f.done())\n"
    "try:\n    f.result()\nexcept RuntimeError as err:\n    print('ERROR', err)",
    "print('CHECK', f.result(timeout=30).name, *f.size)",
]


def test_to_png_in_jupyterlab_is_drawn_by_the_browser(browser, jupyter_lab):
    """A live view in a real JupyterLab: the kernel asks the page, which answers after the cell."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": src} for src in LIVE],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (jupyter_lab["root"] / "png.ipynb").write_text(json.dumps(nb))
    (jupyter_lab["root"] / "live.png").unlink(missing_ok=True)
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = ctx.new_page()
    page.goto(f"{jupyter_lab['url']}/lab/tree/png.ipynb?reset&token={jupyter_lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90000)
    page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=90000)
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    cells.first.locator(".jp-InputArea-editor").click()
    outputs = []
    for i in range(len(LIVE)):
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            """(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[i];
                       return /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent); }""",
            arg=i, timeout=90000)
        if i == 0:
            page.wait_for_selector(".gw-root[data-kind=polar][data-drawn]", timeout=60000)
        if i == 1:  # the browser answers once the cell has finished: the file appears then
            deadline = time.time() + 60
            while not (jupyter_lab["root"] / "live.png").exists() and time.time() < deadline:
                time.sleep(0.2)
        outputs.append(cells.nth(i).locator(".jp-OutputArea").inner_text())
    assert "PENDING False" in outputs[1]
    # waiting for the answer in the cell that asked cannot work, and says so at once
    assert "ERROR PolarPlot.to_png: the browser's answer is read between cells" in outputs[1]
    check = [line for line in outputs[2].splitlines() if line.startswith("CHECK")]
    assert check, outputs[2]
    _, name, width, height = check[0].split()
    pw, ph, lh = layout(page)
    assert (int(width), int(height)) == expected_size(pw, ph, lh, 2)
    img = Image.open(jupyter_lab["root"] / name)
    assert img.size == (int(width), int(height))
    check_points(img, pw, ph, 2, [255, 255, 255])
    ctx.close()
