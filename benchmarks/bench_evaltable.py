"""EvaluationTable at 200 models x 80 conditions with histograms, in headless Chromium.

Prints the time to the table's first frame (from ``render`` until the pixels are on the
canvas) divided by a raw Canvas2D fill of the same rectangles on a canvas of the same size:
one ``fillRect`` per cell, with its own precomputed colour, and one per non-empty histogram
bar. Both end by reading a pixel back, which waits for the drawing to finish. Each of 5
measurements of ours is paired with a raw fill just before it, after one warm-up of each;
the median ratio of the pairs is printed (pairs cancel load on a shared machine), and the
best times. Then the time of a click (a selected cell moves an outline; the grid is not
repainted).

The data: 200 models, 16 corruptions x 5 severities, 400 samples, margins binned in 12
bins; the counts travel as bytes, never the per-sample arrays.

Run: python benchmarks/bench_evaltable.py [--models 200 --benchmarks 16 --samples 400]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import PAGE_MODEL_JS, serve_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "geowidget" / "static" / "widgets.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#fff"><div id="ours" style="width:1180px"></div>
<canvas id="raw"></canvas>
<script type="module">
import widgets from "/widgets.js";
const now = () => performance.now();
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
const sync = (canvas) => canvas.getContext("2d").getImageData(0, 0, 1, 1);
function b64(s) {
  const bin = atob(s); const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return new DataView(out.buffer);
}
/*MODEL*/
function stateOf(saved) {
  const state = structuredClone(saved.state);
  saved.buffer_paths.forEach((path, i) => {
    let o = state; for (let j = 0; j < path.length - 1; j++) o = o[path[j]];
    o[path[path.length - 1]] = b64(saved.buffers[i]);
  });
  return state;
}
function rawFill(canvas, cells, bars) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < cells.n; i++) { ctx.fillStyle = cells.colour[i]; ctx.fillRect(cells.x[i], cells.y[i], cells.w, cells.h); }
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  for (let i = 0; i < bars.n; i++) ctx.fillRect(bars.x[i], bars.y[i], bars.w, bars.h[i]);
  sync(canvas);
}
window.run = async (saved) => {
  const state = stateOf(saved);
  const el = document.getElementById("ours");
  const [R, C, B] = state._meta.shape;
  // the rectangles a table of this size draws: one per cell, one per non-empty bar
  const render = () => {
    const dispose = widgets.render({ model: new Model({ ...state }), el });
    sync(el.querySelector("canvas"));
    return dispose;
  };
  render()();  // warm-up (fonts, code paths)
  const dispose0 = render();  // a fresh table's layout places the raw rectangles
  const L = el.querySelector(".gw-root").__geowidget.layout();
  const enc = state._arrays.counts;
  const counts = enc.dtype === "uint8" ? new Uint8Array(enc.buffer.buffer) : new Int32Array(enc.buffer.buffer);
  const cells = { n: R * C, w: L.cellW - 1, h: L.cellH - 1, x: new Float64Array(R * C), y: new Float64Array(R * C), colour: [] };
  const bx = [], by = [], bh = [];
  const bw = (L.cellW - 4) / B;
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
    const i = r * C + c;
    cells.x[i] = L.x(c); cells.y[i] = L.y(r);
    cells.colour.push(`rgb(${(i * 7) % 256},${(i * 13) % 256},${(i * 29) % 256})`);
    for (let b = 0; b < B; b++) if (counts[i * B + b]) { bx.push(L.x(c) + 2 + b * bw); by.push(L.y(r) + 10); bh.push(12); }
  }
  const bars = { n: bx.length, x: bx, y: by, w: Math.max(1, bw - 0.5), h: bh };
  dispose0();
  const raw = document.getElementById("raw");
  raw.width = Math.round(L.width); raw.height = Math.round(L.height);
  rawFill(raw, cells, bars);  // warm-up
  const ours = [], raws = [], pairs = [];
  for (let k = 0; k < 5; k++) {
    await frame();
    let t = now(); rawFill(raw, cells, bars); const r = now() - t;
    await frame();
    t = now(); const dispose = render(); const o = now() - t;
    dispose();
    ours.push(o); raws.push(r); pairs.push(o / r);
  }
  pairs.sort((a, b) => a - b);
  // after the first frame: a click (selected cell, model, condition) moves an outline only
  const m = new Model({ ...state });
  const dispose = widgets.render({ model: m, el });
  const root = el.querySelector(".gw-root");
  const picks = [];
  for (let k = 0; k < 5; k++) {
    const before = Number(root.dataset.drawn);
    const t = now();
    m.set("selected_cell", [k, k]); m.set("model", k); m.set("condition", k);
    while (Number(root.dataset.drawn) === before) await Promise.resolve();
    sync(el.querySelector("canvas"));
    picks.push(now() - t);
  }
  dispose();
  return { pick_ms: Math.min(...picks), ours_ms: Math.min(...ours), raw_ms: Math.min(...raws), ratio_median: pairs[2],
           rects: cells.n + bars.n, cells: cells.n, bars: bars.n, width: L.width, height: L.height };
};
window.ready = true;
</script></body></html>
"""


def table_state(models: int, benchmarks: int, samples: int) -> tuple[dict, int]:
    """Exported state of an EvaluationTable of ``models`` x ``benchmarks * 5`` cells, and its
    wire size in bytes."""
    sys.path.insert(0, str(ROOT))
    import geowidget as gw
    from geowidget.cube import LAYER_METRICS, Condition, GeometryCube
    from geowidget.widgets.export import export_state

    rng = np.random.default_rng(0)
    conds = [Condition(0.0, f"corruption{b:02d}", s) for b in range(benchmarks)
             for s in range(1, 6)]
    m, k, n = models, len(conds), samples
    skill = rng.uniform(0.3, 0.95, (m, k, 1)) * np.linspace(1.0, 0.6, k)[None, :, None]
    labels = np.arange(n) % 10
    correct = rng.random((m, k, n)) < skill
    arrays = {name: np.zeros((m, 1, k, n), np.float32) for name in LAYER_METRICS}
    arrays["margin"][:, 0] = rng.normal(size=(m, k, n)) + 2 * correct - 1
    cube = GeometryCube(models=[f"model{i:03d}" for i in range(m)], layers=["penultimate"],
                        conditions=conds, labels=labels, class_names=[str(i) for i in range(10)],
                        pred=np.where(correct, labels, (labels + 1) % 10), correct=correct,
                        logit_margin=np.zeros((m, k, n)), **arrays)
    table = gw.EvaluationTable(cube, height=900)
    state = export_state([table])
    saved = state["models"][state["views"][0]]
    wire = sum(np.asarray(v).nbytes for v in table._arrays.values())
    return saved, wire


def serve() -> tuple[Any, int]:
    files = {"/bench.html": ("text/html", PAGE.replace("/*MODEL*/", PAGE_MODEL_JS).encode()),
             "/widgets.js": ("text/javascript", BUNDLE.read_bytes())}

    return serve_files(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--benchmarks", type=int, default=16)
    ap.add_argument("--samples", type=int, default=400)
    args = ap.parse_args()
    if not BUNDLE.exists():
        sys.exit("geowidget/static/widgets.js is missing: run `npm run build`")
    chromium = (os.environ.get("GEOWIDGET_CHROMIUM") or shutil.which("chromium")
                or shutil.which("chromium-browser"))
    if not chromium:
        sys.exit("no Chromium found: install it or set GEOWIDGET_CHROMIUM")
    from playwright.sync_api import sync_playwright

    saved, wire = table_state(args.models, args.benchmarks, args.samples)
    srv, port = serve()
    t0 = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/bench.html")
        page.wait_for_function("window.ready === true", timeout=60000)
        r = page.evaluate("(s) => window.run(s)", json.loads(json.dumps(saved)))
        browser.close()
    srv.shutdown()
    cells = args.models * args.benchmarks * 5
    print(f"EvaluationTable {args.models} x {args.benchmarks * 5} = {cells:,} cells, 12 bins,"
          f" canvas {r['width']:.0f} x {r['height']:.0f} CSS px, headless Chromium,"
          f" {time.time() - t0:.0f} s")
    print(f"rectangles: {r['rects']:,} ({r['cells']:,} cells + {r['bars']:,} non-empty bars);"
          f" arrays sent: {wire:,} bytes")
    print(f"first frame {r['ours_ms']:8.1f} ms   raw Canvas2D fill {r['raw_ms']:8.1f} ms")
    print(f"first frame / raw fill = {r['ratio_median']:5.2f}   (median of 5 interleaved pairs;"
          f" best / best {r['ours_ms'] / r['raw_ms']:.2f})")
    print(f"a click after that (cell outline, model, condition): {r['pick_ms']:.1f} ms, no repaint")


if __name__ == "__main__":
    main()
