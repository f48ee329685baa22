"""The documentation site (`make docs`): it builds with ``mkdocs build --strict``, and in
Chromium, served from loopback with every other request blocked, each page loads without a
console error, every widget draws (the gallery's and every executed notebook's), a picker and
a keyboard-only path change a drawing, a selection crosses linked views, a gallery page is
ready in under 2 s, and every page with widgets stays under 5 MB.

The notebooks run once per test session: the build reuses the runs of tests/test_notebooks.py
(or makes them, for it to reuse), through the ``notebook_cache`` fixture.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import geowidget as gw
from tests.browser.gw_page import CANVAS_DIGEST, sector_xy
from tests.browser.servers import ROOT, free_port, server
from tests.docs_hooks import hook

gallery = hook("gallery")
reference_path = hook("reference").reference_path
notebook_runs = hook("notebook_runs")

MB = 2**20
# the guides rendered with their run's widgets (a live cube's guide needs a kernel)
NOTEBOOKS = sorted(nb for nb in (ROOT / "notebooks").glob("*.ipynb")
                   if nb.stem not in notebook_runs.KERNEL_ONLY)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# (pixels unlike the canvas's first pixel, hash): a blank canvas, filled or clear, has no ink;
# the hash is gw_page's, so a redraw shows as a new hash
CANVAS_INK = f"""(c) => {{
  const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
  t.getContext('2d').drawImage(c, 0, 0);
  const px = new Uint32Array(t.getContext('2d').getImageData(0, 0, t.width, t.height).data.buffer);
  return [px.filter((v) => v !== px[0]).length, ({CANVAS_DIGEST})(c)[0]];
}}"""
# the sample panel draws only once a sample is hovered or selected
ALL_DRAWN = """() => Array.from(document.querySelectorAll('.gw-live-root .gw-root:not([data-kind=panel])'))
  .filter((r) => r.querySelector('canvas'))
  .every((r) => Number(r.dataset.drawn || 0) >= 1)"""


# the first test builds the site, which runs every notebook once (a few minutes on 2 cores;
# tests/test_notebooks.py then reuses the runs), so the module's tests get the build's time
pytestmark = pytest.mark.timeout(1800)

@pytest.fixture(scope="module")
def site(demo_cache, notebook_cache, bundle, tmp_path_factory) -> Path:
    """The site, built as `make docs` builds it, from the test session's demo cache and runs
    of the notebooks."""
    out = tmp_path_factory.mktemp("site") / "site"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GEOWIDGET_CACHE": str(demo_cache.root),
           notebook_runs.CACHE_ENV: str(notebook_cache), "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1700)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # mkdocs' own messages ("WARNING -  ..."); a kernel that runs the quickstart may log its
    # own shutdown races ("ERROR:tornado.general:..."), which say nothing about the site
    assert not re.search(r"^(WARNING|ERROR)\s+-\s", log, re.M), log[-4000:]
    return out


@pytest.fixture(scope="module")
def base(site, tmp_path_factory) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
           "--directory", str(site)]
    with server("site", cmd, tmp_path_factory.mktemp("site-log"), url):
        yield url


def pages(site: Path) -> list[str]:
    """Every page of the site, as a path under its root."""
    return sorted(str(p.relative_to(site).parent) + "/" for p in site.rglob("index.html"))


@pytest.fixture
def open_page(browser, base):
    """Opens a page of the site; records console errors and every request that tried to
    leave 127.0.0.1 (all are blocked)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)

    def go(path: str):
        pg = ctx.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
        pg.on("console", lambda m: pg.errors.append(f"console: {m.text}")
              if m.type == "error" else None)
        pg.outside = outside
        pg.goto(base + path.lstrip("./"))
        return pg

    yield go
    ctx.close()


def live_views(pg) -> list[str]:
    """Model ids of the views drawn on a canvas in the page's live blocks."""
    return pg.evaluate("""() => Array.from(document.querySelectorAll('.gw-live-root .gw-standalone-view'))
        .filter((v) => v.querySelector('.gw-root:not([data-kind=panel]) canvas'))
        .map((v) => v.dataset.modelId)""")


def ink(pg, model_id: str) -> tuple[int, int]:
    return tuple(pg.evaluate(
        f"(id) => ({CANVAS_INK})(document.querySelector("
        "`.gw-standalone-view[data-model-id='${id}'] canvas`))", model_id))


def view_of(pg, kind: str, block: int = 0) -> str:
    """Model id of the first view of ``kind`` in the ``block``-th live block."""
    return pg.evaluate(
        """([kind, i]) => document.querySelectorAll('.gw-live')[i]
             .querySelector(`.gw-root[data-kind=${kind}]`).closest('.gw-standalone-view')
             .dataset.modelId""", [kind, block])


def selected(pg, model_id: str) -> list[int]:
    return pg.evaluate("""(id) => { const s = window.geowidget.models[id].get('selected');
        if (!s) return [];
        const b = s.buffer;
        return Array.from(new Int32Array(b.buffer, b.byteOffset, s.shape[0])); }""", model_id)


def wait_ready(pg, timeout=30000):
    pg.wait_for_function(ALL_DRAWN, timeout=timeout)


# ------------------------------------------------------------------------------ the build
def test_site_has_every_page_and_no_cdn(site):
    found = pages(site)
    for path in ["./", "gallery/", "api/", "design/", "scaling/", "science/",
                 *[f"gallery/{v.slug}/" for v in gallery.VIEWS],
                 *[f"notebooks/{nb.stem}/" for nb in (ROOT / "notebooks").glob("*.ipynb")]]:
        assert path in found, (path, found)
    # the widget runtime is the bundle, served from the site itself
    assert (site / "assets/geowidget/widgets.js").read_bytes() == \
        (ROOT / "geowidget/static/widgets.js").read_bytes()
    remote = re.compile(r"""<script[^>]+src=["']?(https?:)?//|<link[^>]+href=["']?(https?:)?//"""
                        r"""|import\s*\(?\s*["'](https?:)?//|@import\s+url\(["']?(https?:)?//""")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        hit = remote.search(text)
        assert hit is None, (page, text[hit.start():hit.start() + 160])
        # Material loads mermaid from a CDN only for a diagram; the site has none
        assert 'class="mermaid"' not in text, page


def test_gallery_pages_are_small_and_say_their_sample_count(site, demo_cache):
    runtime = runtime_bytes(site)
    total = len(demo_cache.cube.sample_ids)
    shown = min(gallery.SAMPLES, total)
    for view in gallery.VIEWS:
        page = site / "gallery" / view.slug / "index.html"
        text = page.read_text(encoding="utf-8")
        assert page.stat().st_size + runtime < 5 * MB, (view.slug, page.stat().st_size)
        assert f"This page shows <strong>{shown}</strong> of the demo study's {total} " \
               "samples" in text, view.slug
        states = [json.loads(html.unescape(s)) for s in re.findall(
            r'<script type="application/json" class="gw-state">(.*?)</script>', text, re.S)]
        assert len(states) == len(gallery.THEMES), view.slug
        themes = [{m["state"]["theme"] for m in s["models"].values()} for s in states]
        assert themes == [{t} for t in gallery.THEMES], (view.slug, themes)


def run_of(nb: Path, notebook_cache: Path) -> dict:
    """The run of notebook ``nb`` the build rendered (kept by content for the session)."""
    path = notebook_runs.kept(nb, notebook_cache)
    assert path.exists(), f"{nb.name} was not run for the site"
    return json.loads(path.read_text(encoding="utf-8"))


def widget_outputs(run: dict) -> list[str]:
    """Model ids of the run's widget outputs, in page order."""
    return [o["data"][WIDGET_VIEW]["model_id"] for c in run["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]


def under(state: dict, mid: str, name: str | None = None) -> list[str]:
    """Ids of the models under ``mid`` (itself included, children walked) that are geowidget
    views (``name`` None) or have ipywidgets ``_model_name`` ``name``."""
    s = state[mid]["state"]
    hit = "_kind" in s if name is None else s.get("_model_name") == name
    return [mid] * hit + [i for c in s.get("children", [])
                          for i in under(state, c.replace("IPY_MODEL_", ""), name)]


def page_widget_state(text: str) -> dict:
    found = re.findall(f'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', text, re.S)
    assert len(found) == 1
    return json.loads(found[0])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_pages_hold_their_run_and_are_small(site, notebook_cache, nb):
    page = site / "notebooks" / nb.stem / "index.html"
    text = page.read_text(encoding="utf-8")
    assert page.stat().st_size + runtime_bytes(site) < 5 * MB, page.stat().st_size
    assert "addWidgetsRenderer" not in text  # html-manager's CDN loader was cut
    run = run_of(nb, notebook_cache)
    outputs = widget_outputs(run)
    assert outputs, f"{nb.name} shows no widget"
    assert text.count(f'type="{WIDGET_VIEW}"') == len(outputs)
    # the page's state is the run's, less the bundle each view repeats; a buffer stored once
    # for several views resolves to each view's own bytes
    want = run["metadata"]["widgets"][WIDGET_STATE]["state"]
    got = page_widget_state(text)["state"]
    assert set(got) == set(want)
    shared = 0
    for mid, model in want.items():
        kept_state = {k: v for k, v in model["state"].items() if k not in ("_esm", "_css")}
        assert got[mid]["state"] == kept_state, mid
        assert len(got[mid].get("buffers", [])) == len(model.get("buffers", []))
        for b, b0 in zip(got[mid].get("buffers", []), model.get("buffers", []), strict=True):
            assert b["path"] == b0["path"]
            if "same_as" in b:
                shared += 1
                at, i = b["same_as"]
                b = got[at]["buffers"][i]
            assert b["data"] == b0["data"], (mid, b0["path"])
    views = [v for o in outputs for v in under(want, o)]
    if len(views) > 1:  # views of one cube share their slab's buffers
        assert shared > 0
    # a lazy view's other cells would need a kernel: every cell is in the page, except in a
    # live cube's views, whose page holds the cells computed so far and says so
    assert not [v for v in views if want[v]["state"]["_meta"].get("lazy")
                and not want[v]["state"]["_meta"].get("live")], nb.name


def runtime_bytes(site: Path) -> int:
    """What every page with widgets loads besides itself: the bundle, styles and mount script."""
    return sum((site / "assets/geowidget" / f).stat().st_size
               for f in ("widgets.js", "widgets.css", "mount.js", "site.css"))


def test_gallery_samples_are_a_seeded_subset(demo_cache):
    cube = demo_cache.cube
    sub = gallery.sample_cube(cube, n=50, seed=3)
    pos = np.sort(np.random.default_rng(3).choice(len(cube.sample_ids), 50, replace=False))
    np.testing.assert_array_equal(sub.sample_ids, np.asarray(cube.sample_ids)[pos])
    np.testing.assert_array_equal(sub.angle, cube.angle[..., pos])
    assert gallery.sample_cube(cube, n=10**6) is cube


def test_api_reference_has_every_public_name_with_an_example(site):
    text = (site / "api" / "index.html").read_text(encoding="utf-8")
    ids = [reference_path(name) for name in gw.__all__]
    starts = []
    for name, ident in zip(gw.__all__, ids, strict=True):
        at = text.find(f'id="{ident}"')
        assert at >= 0, f"no reference entry for {name} (id {ident})"
        starts.append(at)
    order = np.argsort(starts)
    for i, j in enumerate(order):
        end = starts[order[i + 1]] if i + 1 < len(order) else len(text)
        member = text.find("<h3 id=", starts[j], end)  # a method's own example does not count
        entry = text[starts[j]:end if member < 0 else member]
        assert 'class="doc-section-title">Examples:<' in entry, f"{gw.__all__[j]}: no example"
        assert '<span class="gp">&gt;&gt;&gt; </span>' in entry, f"{gw.__all__[j]}: no >>> line"


# ------------------------------------------------------------------------------ in Chromium
def drawn_images(pg) -> int:
    return pg.evaluate("""() => Array.from(document.querySelectorAll('.gw-live-root img'))
        .filter((i) => i.complete && i.naturalWidth > 0).length""")


def test_every_page_loads_without_errors_and_every_widget_draws(site, open_page, notebook_cache):
    runs = {f"notebooks/{nb.stem}/": run_of(nb, notebook_cache) for nb in NOTEBOOKS}
    for path in pages(site):
        pg = open_page(path)
        pg.wait_for_load_state("load")
        n = pg.evaluate("document.querySelectorAll('.gw-live-root').length")
        views = []
        if n:
            wait_ready(pg)
            views = live_views(pg)
            if path not in runs:  # a notebook's output may hold images only
                assert len(views) >= n, (path, views)
            # a notebook's view may hold few marks (the pruning guide's model pruned at random
            # to 95 % has its digits at the origin), a gallery view holds 300 samples
            least = 1 if path in runs else 50
            for mid in views:
                assert ink(pg, mid)[0] >= least, (path, mid, "blank canvas")
        if path in runs:  # every view of every widget output draws from the saved state
            state = runs[path]["metadata"]["widgets"][WIDGET_STATE]["state"]
            outputs = widget_outputs(runs[path])
            want = [v for o in outputs for v in under(state, o)
                    if state[v]["state"]["_kind"] != "panel"]  # a panel draws on hover
            assert sorted(views) == sorted(want), (path, views, want)
            images = [i for o in outputs for i in under(state, o, "ImageModel")]
            assert drawn_images(pg) == len(images), path
        assert pg.errors == [], (path, pg.errors)
        pg.close()
    assert pg.outside == []  # no page asked for anything beyond the local server


def test_a_gallery_page_is_ready_in_under_2_s(open_page):
    open_page("gallery/polar/").close()  # warm the server's and browser's file caches
    times = []
    for _ in range(3):  # the best of three: a load spike on a shared CI machine is not the page
        t0 = time.perf_counter()
        pg = open_page("gallery/polar/")
        wait_ready(pg)
        times.append(time.perf_counter() - t0)
        pg.close()
    assert min(times) < 2.0, f"gallery page ready after {min(times):.2f} s (best of {times})"


@pytest.mark.parametrize("path", ["gallery/polar/", "notebooks/quickstart/"])
def test_a_picker_changes_the_drawing(open_page, path):
    pg = open_page(path)
    wait_ready(pg)
    mid = pg.evaluate("""() => document.querySelector('.gw-live-root .gw-root[data-kind=polar]')
        .closest('.gw-standalone-view').dataset.modelId""")
    before = ink(pg, mid)
    picker = f".gw-standalone-view[data-model-id='{mid}'] select[data-picker=model]"
    assert pg.eval_on_selector(picker, "s => s.value") == "0"
    pg.select_option(picker, "3")
    pg.wait_for_function(f"""() => ({CANVAS_INK})(document.querySelector(
        ".gw-standalone-view[data-model-id='{mid}'] canvas"))[1] !== {before[1]}""")
    assert window_model(pg, mid, "model") == 3
    if path == "notebooks/quickstart/":
        # the polar plot's picker, and the Explorer's polar plot, histogram and parallel
        # coordinates show their own (the Explorer's ipywidgets dropdowns need a kernel)
        assert pg.locator(".gw-live-root select[data-picker=model]").count() == 4
    assert pg.errors == []


def window_model(pg, mid: str, key: str):
    return pg.evaluate("([id, k]) => window.geowidget.models[id].get(k)", [mid, key])


def test_a_selection_crosses_linked_views(open_page, demo_cache):
    pg = open_page("gallery/explorer/")
    wait_ready(pg)
    polar, hist = view_of(pg, "polar"), view_of(pg, "histogram")
    assert selected(pg, polar) == [] and selected(pg, hist) == []
    root = f".gw-standalone-view[data-model-id='{polar}']"
    pg.click(f"{root} button[data-tool=box]")
    plot = pg.locator(f"{root} .gw-plot")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    pg.mouse.move(box["x"] + 5, box["y"] + 5)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=6)
    pg.mouse.up()
    sel = selected(pg, polar)
    assert len(sel) > 0
    assert sorted(selected(pg, hist)) == sorted(sel)
    assert set(sel) <= set(np.asarray(demo_cache.cube.sample_ids).tolist())
    # the dark copy of the explorer on the same page is a group of its own
    assert selected(pg, view_of(pg, "polar", block=1)) == []
    assert pg.errors == []


def test_keyboard_only_a_picker_changes_the_drawing(open_page):
    pg = open_page("gallery/polar/")
    wait_ready(pg)
    mid = view_of(pg, "polar")
    picker = f".gw-standalone-view[data-model-id='{mid}'] select[data-picker=model]"
    before = ink(pg, mid)
    for _ in range(200):  # Tab from the top of the page until the first picker has focus
        pg.keyboard.press("Tab")
        if pg.evaluate(f"document.activeElement === document.querySelector(\"{picker}\")"):
            break
    else:
        pytest.fail("Tab never reached the polar plot's model picker")
    pg.keyboard.press("ArrowDown")
    pg.wait_for_function(f"""() => ({CANVAS_INK})(document.querySelector(
        ".gw-standalone-view[data-model-id='{mid}'] canvas"))[1] !== {before[1]}""")
    assert window_model(pg, mid, "model") == 1
    assert pg.errors == []


def test_hovering_a_point_shows_its_sample_in_the_linked_panel(open_page, demo_cache):
    pg = open_page("gallery/explorer/")
    wait_ready(pg)
    polar = view_of(pg, "polar")
    root = f".gw-standalone-view[data-model-id='{polar}']"
    panel = ".gw-live .gw-root[data-kind=panel]"
    for key in ("model", "sparsity", "benchmark"):  # the pickers (the demo has one layer)
        assert pg.locator(f"{root} select[data-picker={key}]").count() == 1, key
    cube = gallery.sample_cube(demo_cache.cube)
    theta, rho = cube.angle[0, 0, 0], cube.norm[0, 0, 0]
    plot = pg.locator(f"{root} .gw-plot")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    xs, ys = sector_xy(theta, rho, box["width"], box["height"])
    i = int(np.argmin(np.abs(xs - box["width"] / 2) + np.abs(ys - box["height"] / 2)))
    pg.mouse.move(box["x"] + xs[i] + 1, box["y"] + ys[i])
    pg.wait_for_function(f"document.querySelector(\"{panel}\").dataset.focus")
    assert pg.inner_text(f"{panel} .gw-panel-text").startswith("sample ")
    assert pg.errors == []
