"""A PolarPlot in a marimo app (``marimo run``), through ``mo.ui.anywidget``.

marimo mounts each widget in a shadow root, so the styles must travel with the widget (its
``_css``), and it has no ``experimental.invoke``, so cells come over the same command messages
sent with ``model.send``. The app's polar plot fetches its cells on demand (budget=1), a cell
of the app prints the selection, and the test checks that the plot draws under its axes with
its controls and legend laid out, that a picker changes the drawing, and that a box selection
reaches Python.
"""

from __future__ import annotations

import sys
import textwrap

from tests.browser.gw_page import CANVAS_DIGEST, drag
from tests.browser.servers import free_port, server

APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import geowidget as gw
    from tests.fixtures.synthetic import make_cube
    cube = make_cube(m=2, layers=2, n=60, classes=3)
    polar = mo.ui.anywidget(gw.PolarPlot(cube, layer=0, point_size=5.0, height=320, budget=1))
    polar
    return mo, polar


@app.cell
def _(mo, polar):
    _ = polar.value  # re-run when the widget's state changes in the browser
    mo.md(f"SELECTED {{polar.widget.selected.size}} LAYER {{polar.widget.layer}}")
    return


if __name__ == "__main__":
    app.run()
'''

def test_marimo_app(browser, tmp_path, bundle):
    (tmp_path / "app.py").write_text(textwrap.dedent(APP.format()))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "marimo", "run", "app.py", "--host", "127.0.0.1", "--port",
           str(port), "--headless", "--no-token"]
    with server("marimo", cmd, tmp_path, f"{url}/health"):
        ctx = browser.new_context(viewport={"width": 1100, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        root = page.locator(".gw-root[data-kind=polar]")  # pierces the shadow root
        try:
            root.wait_for(timeout=120000)
            page.wait_for_function(
                "() => { const host = [...document.querySelectorAll('*')].find((e) => "
                "e.shadowRoot && e.shadowRoot.querySelector('.gw-root[data-drawn]'));"
                " return !!host; }", timeout=60000)
            page.get_by_text("SELECTED 0 LAYER 0").wait_for(timeout=60000)
            canvas = root.locator("canvas.gw-canvas")
            # the styles reached the shadow root: the points canvas and the axes overlay
            # share one box, the axes on top; the controls and the legend are laid out
            layout = root.evaluate("""(r) => {
                const c = r.querySelector('.gw-plot canvas'), s = r.querySelector('.gw-plot svg');
                const cs = getComputedStyle(c), ss = getComputedStyle(s);
                const a = c.getBoundingClientRect(), b = s.getBoundingClientRect();
                return { canvas: cs.position, svg: ss.position,
                         same: Math.abs(a.top - b.top) < 1 && Math.abs(a.left - b.left) < 1,
                         svgAfter: !!(c.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING),
                         bar: getComputedStyle(r.querySelector('.gw-bar')).display,
                         legend: getComputedStyle(r.querySelector('.gw-legend')).display,
                         inShadow: r.getRootNode() instanceof ShadowRoot,
                         headStyles: !!document.head.querySelector('style#geowidget-style') }; }""")
            assert layout == {"canvas": "absolute", "svg": "absolute", "same": True,
                              "svgAfter": True, "bar": "flex", "legend": "flex",
                              "inShadow": True, "headStyles": False}, layout
            before = canvas.evaluate(CANVAS_DIGEST)
            assert before[1] > 0
            # a picker: the cell comes over model.send (marimo has no invoke) and redraws
            drawn = int(root.get_attribute("data-drawn"))
            root.locator("select[data-picker=layer]").select_option("1")
            page.wait_for_function(
                "([d]) => { const host = [...document.querySelectorAll('*')].find((e) => "
                "e.shadowRoot && e.shadowRoot.querySelector('.gw-root'));"
                " return Number(host.shadowRoot.querySelector('.gw-root').dataset.drawn) > d; }",
                arg=[drawn], timeout=60000)
            after = canvas.evaluate(CANVAS_DIGEST)
            assert after[0] != before[0] and after[1] > 0
            page.get_by_text("LAYER 1").wait_for(timeout=60000)
            # a box selection reaches Python
            root.locator("button[data-tool=box]").click()
            box = root.locator(".gw-plot").bounding_box()
            drag(page, [(box["x"] + 5, box["y"] + 5),
                        (box["x"] + box["width"] - 5, box["y"] + box["height"] - 5)])
            n = int(root.get_attribute("data-selected"))
            assert n > 0
            page.get_by_text(f"SELECTED {n} LAYER 1").wait_for(timeout=60000)
        except Exception:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            raise
        assert "Traceback" not in page.inner_text("body")
        assert errors == []
        ctx.close()
