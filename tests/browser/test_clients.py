"""The widgets in every client, each run for real on loopback and driven by headless Chromium:
Jupyter Notebook 7, Voila, and a shared notebook (executed with its widget state saved,
converted by nbconvert to HTML, opened with no kernel). JupyterLab is covered by
test_jupyterlab.py and test_contract.py, marimo by test_marimo.py.

Each runs the same notebook (a polar plot and a histogram, linked, after a cell whose progress
bar closes itself, as ``extract_features``'s does) and checks that the canvases draw, that a
picker changes the drawing, and that no error output appears.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.gw_page import digest_of, run_all, wait_digest_change, wait_drawn, write_notebook
from tests.browser.servers import ROOT, free_port, jupyter_env, jupyter_server, server

POLAR, HIST = ".gw-root[data-kind=polar]", ".gw-root[data-kind=histogram]"
WAIT = 60000
NODE = ROOT / "node_modules"


def client_cells() -> list[str]:
    return [
        "import torch\nimport geowidget as gw\nfrom tests.fixtures.synthetic import make_cube\n"
        "cube = make_cube(m=2, layers=2, n=60, classes=3)",
        "# a progress bar that closes itself when done\n"
        "net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))\n"
        "x, y = torch.rand(40, 1, 4, 4), torch.zeros(40, dtype=torch.long)\n"
        "feats = gw.extract_features(net, (x, y), layers=['0'], batch_size=8, progress=True)\n"
        "print('features', tuple(feats['0'].shape))",
        "polar = gw.PolarPlot(cube, layer=0, point_size=5.0, height=300)\npolar",
        "hist = gw.MarginHistogram(cube, group_by='none', height=220)\n"
        "linked = gw.link(polar, hist)\nhist",
    ]


def check_page(page, errors: list[str]) -> None:
    """Canvases draw, the layer picker changes the drawing (and the linked histogram's), and
    there is no error output."""
    for root in (POLAR, HIST):
        wait_drawn(page, root, timeout=WAIT)
        page.locator(root).scroll_into_view_if_needed()
        assert digest_of(page, root)[1] > 0, f"{root} drew nothing"
    before = {root: digest_of(page, root)[0] for root in (POLAR, HIST)}
    page.select_option(f"{POLAR} select[data-picker=layer]", "1")
    for root in (POLAR, HIST):  # the histogram follows the picker in the page
        wait_digest_change(page, root, before[root], timeout=WAIT)
    text = page.inner_text("body")
    assert "Error displaying widget" not in text, text[:2000]
    assert "Traceback" not in text
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr'],"
                        "[data-mime-type='application/vnd.jupyter.error']").count() == 0
    assert errors == []


def new_page(browser, size=(1100, 1000)):
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"[:1000]))
    return ctx, page, errors


def test_jupyter_notebook_7(browser, tmp_path, bundle):
    write_notebook(tmp_path / "clients.ipynb", client_cells())
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    env = {"JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime")}
    with server("notebook", jupyter_server("notebook", tmp_path, port, token), tmp_path,
                f"{url}/api/status?token={token}", env):
        ctx, page, errors = new_page(browser)
        page.goto(f"{url}/notebooks/clients.ipynb?token={token}")
        try:
            # Notebook 7.6 itself raises one error while loading its settings (in its own
            # notebook_core bundle, before any cell runs): only errors from then on count
            run_all(page, before_run=errors.clear)
            page.wait_for_selector(f"{HIST}[data-drawn]", timeout=120000)
            page.wait_for_function("document.body.innerText.includes('features (40, 16)')",
                                   timeout=WAIT)
            check_page(page, errors)
        except Exception:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            raise
        ctx.close()


def test_voila(browser, tmp_path, bundle):
    write_notebook(tmp_path / "clients.ipynb", client_cells())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "voila", "clients.ipynb", "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--show_tracebacks=True"]
    with server("voila", cmd, tmp_path, f"{url}/voila/static/", jupyter_env(tmp_path)):
        ctx, page, errors = new_page(browser)
        page.goto(url, timeout=120000)
        try:
            page.wait_for_selector(f"{HIST}[data-drawn]", timeout=120000)
            assert "features (40, 16)" in page.inner_text("body")
            # the finished progress bar left a valid, hidden widget, not a closed one
            assert page.locator(".widget-hprogress, .jupyter-widget-progress").count() >= 1
            check_page(page, errors)
        except Exception:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            raise
        ctx.close()


# ---------------------------------------------------------------------------- shared notebook
# where nbconvert's HTML loads require.js, the widgets' HTML manager and anywidget's front end
# from; the test serves each from its npm package, as the CDN would
CDN = {
    r"/require\.min\.js$": NODE / "requirejs" / "require.js",
    r"/@jupyter-widgets/html-manager@[^/]*/dist/embed-amd\.js$":
        NODE / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js",
    r"/anywidget@[^/]*/dist/index(\.js)?$": NODE / "anywidget" / "dist" / "index.js",
}


@pytest.fixture(scope="module")
def shared_notebook(tmp_path_factory, bundle) -> Path:
    """The client notebook executed with its widget state saved, converted to HTML."""
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path_factory.mktemp("shared")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in client_cells()]
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(out)}}).execute()
    nbformat.write(nb, out / "shared.ipynb")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html",
                    str(out / "shared.ipynb")], check=True, capture_output=True, timeout=300)
    return out / "shared.html"


def test_shared_notebook_renders_with_no_kernel(browser, shared_notebook):
    saved = json.loads(shared_notebook.with_suffix(".ipynb").read_text())
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    kinds = sorted(m["state"].get("_kind", "") for m in state.values()
                   if m["model_module"] == "anywidget")
    assert kinds == ["histogram", "polar"]
    # the finished progress bar left a valid widget state behind, not a dangling view
    views = re.findall(r'"model_id": "(\w+)"', json.dumps([c.get("outputs") for c in
                                                           saved["cells"]]))
    assert views and all(v in state for v in views)

    ctx, page, errors = new_page(browser)
    served: list[str] = []

    def route(r):
        for pattern, path in CDN.items():
            if re.search(pattern, r.request.url):
                served.append(pattern)
                return r.fulfill(path=str(path), content_type="text/javascript")
        return r.abort()  # no network: nothing else may be fetched

    page.route(re.compile(r"^https?://"), route)
    page.goto(shared_notebook.as_uri())
    try:
        page.wait_for_selector(f"{HIST}[data-drawn]", timeout=WAIT)
        check_page(page, errors)
    except Exception:
        page.screenshot(path=str(shared_notebook.with_suffix(".png")), full_page=True)
        raise
    assert set(served) == set(CDN)
    # the page stays interactive with no kernel: a lasso in the polar plot selects in both
    page.click(f"{POLAR} button[data-tool=box]")
    box = page.locator(f"{POLAR} .gw-plot").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=4)
    page.mouse.up()
    n = page.get_attribute(POLAR, "data-selected")
    assert int(n) > 0 and page.get_attribute(HIST, "data-selected") == n
    assert errors == []
    ctx.close()
