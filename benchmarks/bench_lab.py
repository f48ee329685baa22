"""Display cell to first frame in a real JupyterLab: geowidget vs jupyter-scatter vs plotly.

For each library and N (100,000 and 1,000,000 points, coloured by 10 classes), one notebook
with a fresh kernel runs two cells in JupyterLab, driven by headless Chromium:

1. setup (not timed): import the library and its widget class (``gw.PolarPlot``,
   ``jscatter``, ``go.FigureWidget``) and make the same N points for every library (angle and
   norm for geowidget's ``PolarPlot``; the same points as x, y for the others);
2. display (timed): ``gw.PolarPlot(angle=..., norm=..., labels=...)`` (at 1,000,000 points
   it bins them: density mode; so it also runs there with ``density="off"``, drawing every
   point as the others do: ``geowidget-points``),
   ``jscatter.Scatter(data=df, x="x", y="y", color_by="label")`` or
   ``go.FigureWidget(go.Scattergl(x=..., y=..., marker=dict(color=labels)))``, each about
   380 CSS px high.

The time runs from the Shift+Enter that runs the display cell (a key listener in the page
notes it) to the first animation frame in which the cell's output canvases show the points.
The same probe runs for every library, every frame: each output canvas is drawn into a small
200 x 120 canvas and its pixels that differ from the white background are counted; the first
frame with at least ``INK`` of them is the first frame showing the points. Axes and grids are
SVG in all three, so they do not count. An init script asks every WebGL context for
``preserveDrawingBuffer`` (plotly does not ask for it), so the probe can read any canvas after
it was drawn; all three libraries get it alike.

Runs are interleaved (repetition, then N, then library) so load on a shared machine spreads
over all of them; each number is the median of ``--reps`` runs (at least 3). Prints the
medians, the mode each view drew in (points or density), and the ratios jupyter-scatter /
geowidget (target >= 5) and plotly / geowidget (target >= 10), for each of our two views,
and each library's time above the floor: an anywidget that fills a canvas at once, with no
data, which measures JupyterLab's own part of any display. Density mode against a raw binning
loop is measured in the page, without a kernel: ``benchmarks/bench_render.py``.
Run: ``.venv/bin/python benchmarks/bench_lab.py [--sizes 100000 1000000] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LIBRARIES = ("geowidget", "geowidget-points", "jscatter", "plotly", "floor")
# our view with density="off": every point drawn, as the others draw them; run from this N up,
# where "auto" bins the points instead (its threshold is 100,000 points in view)
POINTS_FROM = 1_000_000
INK = 200  # pixels of the 200 x 120 probe (0.8%) that must differ from the background
HEIGHT = 380  # CSS px, every library's plot

SETUP = """import numpy as np
rng = np.random.default_rng(0)
N = {n}
labels = rng.integers(0, 10, N)
theta = np.clip(rng.normal(0.4 + 0.1 * labels, 0.15), 0.0, np.pi)
rho = rng.gamma(8.0, 1.0, N) + labels
x, y = rho * np.cos(theta), rho * np.sin(theta)
{imports}"""

LIBS = {
    # geowidget loads its widget classes on first use; load them here, as importing the
    # other libraries loads theirs
    "geowidget": ("import geowidget as gw\ngw.PolarPlot",
                  "gw.PolarPlot(angle=theta, norm=rho, labels=labels, thumbnails=False, "
                  f"height={HEIGHT})"),
    "geowidget-points": ("import geowidget as gw\ngw.PolarPlot",
                         "gw.PolarPlot(angle=theta, norm=rho, labels=labels, thumbnails=False, "
                         f"height={HEIGHT}, density='off')"),
    "jscatter": ("import jscatter\nimport pandas as pd\n"
                 "df = pd.DataFrame({'x': x, 'y': y, 'label': pd.Categorical(labels)})",
                 f"jscatter.Scatter(data=df, x='x', y='y', color_by='label', height={HEIGHT})"),
    # the floor: an anywidget whose render fills a 2-D canvas at once, with no data. What it
    # takes is JupyterLab's part of every display (execute, comm, output area, first paint)
    "floor": ("import anywidget\nclass Floor(anywidget.AnyWidget):\n"
              "    _esm = \"export default { render({ el }) { const c = document.createElement("
              "'canvas'); c.width = c.height = 380; c.style.width = c.style.height = '380px'; "
              "const g = c.getContext('2d'); g.fillStyle = '#333'; g.fillRect(0, 0, 380, 380); "
              "el.append(c); } }\"",
              "Floor()"),
    # go.FigureWidget is imported on first use (with its widget machinery, 1-2 s): load it
    # here, as the others load their widget classes in the setup cell
    "plotly": ("import plotly.graph_objects as go\ngo.FigureWidget",
               "go.FigureWidget(go.Scattergl(x=x, y=y, mode='markers', "
               f"marker=dict(color=labels, size=3)), layout=dict(height={HEIGHT}))"),
}

# every WebGL context keeps its drawing buffer, so the probe can read it after the frame
INIT = """(() => { const get = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, attrs) {
    if (kind === 'webgl' || kind === 'webgl2' || kind === 'experimental-webgl')
      attrs = Object.assign({}, attrs || {}, { preserveDrawingBuffer: true });
    return get.call(this, kind, attrs); }; })()"""

PROBE = """(ink) => {
  const b = window.__bench = { t0: null, t1: null, ink: 0 };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.shiftKey && b.t0 === null) b.t0 = performance.now(); }, true);
  const probe = document.createElement('canvas'); probe.width = 200; probe.height = 120;
  const pc = probe.getContext('2d', { willReadFrequently: true });
  const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');
  const cell = cells[cells.length - 1];
  const count = () => {
    let total = 0;
    for (const c of cell.querySelectorAll('.jp-OutputArea canvas')) {
      if (!c.width || !c.height || c.clientWidth < 100 || c.clientHeight < 100) continue;
      pc.clearRect(0, 0, 200, 120);
      pc.imageSmoothingEnabled = false;
      pc.drawImage(c, 0, 0, 200, 120);
      const d = pc.getImageData(0, 0, 200, 120).data;
      for (let i = 0; i < d.length; i += 4)
        if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) total++;
    }
    return total;
  };
  const loop = () => {
    if (b.t0 !== null) {
      const k = count();
      if (k >= ink) { b.t1 = performance.now(); b.ink = k; return; }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(lib: str, n: int) -> dict:
    imports, display = LIBS[lib]
    cell = lambda src: {"cell_type": "code", "execution_count": None, "metadata": {},  # noqa: E731
                        "outputs": [], "source": src}
    return {"cells": [cell(SETUP.format(n=n, imports=imports)), cell(display)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


class Lab:
    """A JupyterLab server on loopback, with a token, serving a temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="geowidget-bench-lab-"))
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self.root / ".jupyter"),
               "JUPYTER_RUNTIME_DIR": str(self.root / ".runtime"), "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--ServerApp.disable_check_xsrf=True",
               "--LabApp.news_url=",
               "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.root / "lab.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                self.api("status")
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.5)
        raise RuntimeError("JupyterLab did not start: " + (self.root / "lab.log").read_text())

    def api(self, path: str, method: str = "GET") -> object:
        req = urllib.request.Request(f"{self.url}/api/{path}?token={self.token}", method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        for s in self.api("sessions"):  # type: ignore[union-attr]
            self.api(f"sessions/{s['id']}", "DELETE")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def run_cell_and_wait(page, index: int, timeout: float) -> None:
    """Shift+Enter on code cell `index` (focused), then wait until it has run."""
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[i];
                   return /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent); }""",
        arg=index, timeout=timeout * 1000)


# the mode the view drew in: our views say it on their root; the others draw every point
# (the display cell is the second: running it may have added an empty third)
MODE = """() => { const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[1];
  const root = cell.querySelector('.gw-root');
  return root ? root.dataset.mode || '?' : null; }"""


def one_run(browser, lab: Lab, lib: str, n: int, tag: str, timeout: float,
            settle: float = 1.0) -> tuple[float, str]:
    """Seconds from running the display cell to the first frame showing the points, and the
    mode the view drew in ("points" or "density"; "canvas" for the floor)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    name = f"{tag}-{lib}-{n}.ipynb"
    (lab.root / name).write_text(json.dumps(notebook(lib, n)))
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000})
    ctx.add_init_script(INIT)
    page = ctx.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120000)
        page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=120000)
        page.locator(".jp-Notebook .jp-CodeCell").first.locator(".jp-InputArea-editor").click()
        run_cell_and_wait(page, 0, timeout)
        errors = page.locator(".jp-Notebook .jp-CodeCell").first.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        if errors.count():
            raise RuntimeError(f"{lib} setup failed: {errors.first.inner_text()[:500]}")
        page.evaluate(PROBE, INK)
        page.wait_for_timeout(settle * 1000)  # let the setup cell's and the last run's work end
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function("window.__bench.t1 !== null", timeout=timeout * 1000)
        except PlaywrightTimeout:
            shot = lab.root.parent / f"geowidget-bench-lab-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            out = page.locator(".jp-Notebook .jp-CodeCell").nth(1).inner_text()[-500:]
            raise RuntimeError(f"no frame showed the points within {timeout:g} s; the cell "
                               f"shows: {out!r}; screenshot: {shot}") from None
        t0, t1 = page.evaluate("[window.__bench.t0, window.__bench.t1]")
        mode = page.evaluate(MODE)
        if mode is None:  # not one of our views: the others draw every point
            mode = {"floor": "canvas"}.get(lib, "?" if lib.startswith("geowidget") else "points")
        return (t1 - t0) / 1000, mode
    finally:
        ctx.close()
        lab.shut_down_kernels()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per cell")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to wait after the setup cell before the timed cell")
    args = ap.parse_args()
    if args.reps < 3:
        sys.exit("--reps must be at least 3 (the median of 3 or more runs)")
    chromium = (os.environ.get("GEOWIDGET_CHROMIUM") or shutil.which("chromium")
                or shutil.which("chromium-browser"))
    if not chromium:
        sys.exit("no Chromium found: install it or set GEOWIDGET_CHROMIUM")
    if not (ROOT / "geowidget" / "static" / "widgets.js").exists():
        sys.exit("geowidget/static/widgets.js is missing: run `npm run build`")
    from playwright.sync_api import sync_playwright

    times: dict[tuple[str, int], list[float]] = {}
    modes: dict[tuple[str, int], set[str]] = {}
    lab = Lab()
    start = time.time()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            for rep in range(args.reps):
                for n in args.sizes:
                    for lib in args.libraries:
                        if lib == "geowidget-points" and n < POINTS_FROM:
                            continue
                        try:
                            t, mode = one_run(browser, lab, lib, n, f"r{rep}", args.timeout,
                                              args.settle)
                        except RuntimeError as err:  # reported, and left out of the median
                            print(f"  rep {rep + 1}: {lib:<9} N = {n:>9,}: failed: {err}",
                                  flush=True)
                            continue
                        times.setdefault((lib, n), []).append(t)
                        modes.setdefault((lib, n), set()).add(mode)
                        print(f"  rep {rep + 1}: {lib:<16} N = {n:>9,}: {t:7.2f} s, {mode}"
                              f"   (load average {os.getloadavg()[0]:.1f})", flush=True)
            browser.close()
    finally:
        lab.close()
    print(f"\nJupyterLab, headless Chromium (software WebGL); display cell to first frame"
          f" showing the points; median of {args.reps} interleaved runs, fresh kernel each;"
          f" {time.time() - start:.0f} s in all; load average {os.getloadavg()[0]:.1f}")
    for n in args.sizes:
        med = {lib: statistics.median(times[(lib, n)]) for lib in args.libraries
               if times.get((lib, n))}
        shown = {lib: "/".join(sorted(modes[(lib, n)])) for lib in med}
        print(f"N = {n:>9,}:")
        for lib in med:
            print(f"    {lib:<16} {med[lib]:6.2f} s  {shown[lib]:<8} ({len(times[(lib, n)])}"
                  " runs)")
        for ours in ("geowidget", "geowidget-points"):
            if ours not in med:
                continue
            for lib, target in (("jscatter", 5), ("plotly", 10)):
                if lib in med:
                    print(f"    {lib} ({shown[lib]}) / {ours} ({shown[ours]}) ="
                          f" {med[lib] / med[ours]:6.2f}   (target >= {target})")
        if "floor" in med:
            print("    above the floor (an anywidget that fills a canvas with no data): "
                  + "  ".join(f"{lib} {med[lib] - med['floor']:5.2f} s" for lib in med
                              if lib != "floor"))


if __name__ == "__main__":
    main()
