"""Render speed in headless Chromium (software WebGL), measured against baselines in one run.

Prints, for N = 1,000,000 points of 2 px (all ratios are medians of runs paired with their
baseline, measured back to back so load on a shared machine hits both alike; best-of times too;
every line names the mode our view drew in):
- points against points, our view with ``density="off"`` (every point drawn, as the raw
  program and plotly draw them):
  - our first frame / one raw WebGL frame of the same points (target <= 2);
  - our slice switch (layer change) / one raw redraw that re-uploads nothing (the switch
    re-points attributes at data already on the GPU, so that is its baseline);
  - plotly.js scatterpolargl's first frame and restyle against ours (target >= 3), plotly
    given the same warm-up (one untimed plot), repetitions (3 first frames, 6 restyles) and
    statistic;
- density mode at 10,000,000 points (--density-n), reported apart: a fresh view's first frame
  and a redraw (a zoom or pan re-bins), each against a raw binning loop that draws the same
  picture (the points' screen positions and classes precomputed, as the view caches them per
  cell: bin them into 2 px bins summing class colours and counts, shade each bin by the mean
  colour at an opacity growing with log(count), and put the image on a canvas); the redraw
  also against the raw WebGL redraw of N points (no upload; target <= 3);
- bytes sent per point per metric (target <= 4.1).

"One raw frame" is the minimal WebGL program a renderer must run: upload x and y (float32),
draw the points, and wait for the GPU (readPixels); "a raw redraw" is the same without the
upload. Every timed frame ends with the same wait (readPixels on the drawing canvas). Run:
``.venv/bin/python benchmarks/bench_render.py [--n 1000000] [--density-n 10000000] [--no-plotly]``.
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
PLOTLY = ROOT / "node_modules" / "plotly.js-dist-min" / "plotly.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#fff"><div id="ours" style="width:820px"></div>
<canvas id="raw" width="800" height="420" style="display:block"></canvas>
<canvas id="rawbin" width="800" height="420" style="display:block"></canvas>
<div id="plotly" style="width:800px;height:420px"></div>
<script type="module">
import widgets from "/widgets.js";
const now = () => performance.now();
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
function makeData(N, L) {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const angle = new Float32Array(L * N), norm = new Float32Array(L * N);
  for (let i = 0; i < L * N; i++) { angle[i] = rnd() * Math.PI; norm[i] = 0.5 + 3 * rnd(); }
  const labels = new Uint8Array(N), pred = new Int32Array(N);
  for (let i = 0; i < N; i++) { labels[i] = i % 10; pred[i] = rnd() < 0.9 ? i % 10 : (i + 1) % 10; }
  return { angle, norm, labels, pred, margin: norm };
}
/*MODEL*/
function sync(canvas) {
  const gl = canvas.getContext("webgl2");
  const px = new Uint8Array(4); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
}
function rawFrame(canvas, x, y, N, upload) {
  const gl = canvas.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false });
  if (!canvas._p) {
    const vs = `#version 300 es
      layout(location=0) in float x; layout(location=1) in float y;
      void main(){ gl_Position = vec4(x, y, 0.0, 1.0); gl_PointSize = 2.0; }`;
    const fs = `#version 300 es
      precision mediump float; out vec4 o; void main(){ o = vec4(0.2, 0.4, 0.7, 1.0); }`;
    const p = gl.createProgram();
    for (const [t, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
      const sh = gl.createShader(t); gl.shaderSource(sh, src); gl.compileShader(sh); gl.attachShader(p, sh);
    }
    gl.linkProgram(p); canvas._p = p; canvas._b = [gl.createBuffer(), gl.createBuffer()];
  }
  gl.useProgram(canvas._p);
  for (const [i, arr] of [[0, x], [1, y]]) {
    gl.bindBuffer(gl.ARRAY_BUFFER, canvas._b[i]);
    if (upload) gl.bufferData(gl.ARRAY_BUFFER, arr, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(i); gl.vertexAttribPointer(i, 1, gl.FLOAT, false, 0, 0);
  }
  gl.viewport(0, 0, canvas.width, canvas.height);
  gl.clearColor(1, 1, 1, 1); gl.clear(gl.COLOR_BUFFER_BIT);
  gl.drawArrays(gl.POINTS, 0, N);
  const px = new Uint8Array(4); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
}
// the raw density baseline: bin precomputed CSS px positions (2 px bins) summing class colours
// and counts, shade each bin by its mean colour at an opacity growing with log(count), put it
const TABLE = new Float32Array(30).map((_, i) => ((i * 37) % 10) / 10);
function rawBin(canvas, px, py, cls, N, bin) {
  const W = canvas.width, H = canvas.height, w = Math.ceil(W / bin), h = Math.ceil(H / bin);
  const data = new Float32Array(w * h * 4);
  for (let i = 0; i < N; i++) {
    const bx = Math.floor(px[i] / bin), by = Math.floor(py[i] / bin);
    if (!(bx >= 0 && by >= 0 && bx < w && by < h)) continue;
    const o = (by * w + bx) * 4, t = cls[i] * 3;
    data[o] += TABLE[t]; data[o + 1] += TABLE[t + 1]; data[o + 2] += TABLE[t + 2]; data[o + 3] += 1;
  }
  let max = 1;
  for (let i = 3; i < data.length; i += 4) if (data[i] > max) max = data[i];
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H), p = img.data, lm = Math.log(1 + max);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const o = (Math.floor(y / bin) * w + Math.floor(x / bin)) * 4, c = data[o + 3], q = (y * W + x) * 4;
    p[q + 3] = 255;
    if (c <= 0) { p[q] = p[q + 1] = p[q + 2] = 255; continue; }
    const a = 0.3 + 0.7 * Math.log(1 + c) / lm;
    for (let ch = 0; ch < 3; ch++) p[q + ch] = (data[o + ch] / c) * 255 * a + 255 * (1 - a);
  }
  ctx.putImageData(img, 0, 0);
  ctx.getImageData(0, 0, 1, 1);  // wait for the canvas, as readPixels does
}
// best time and median ratio of k runs of fn(), each paired with a baseline run before it
async function paired(k, baseline, fn) {
  const times = [], ratios = [];
  for (let i = 0; i < k; i++) {
    await frame();
    const r = baseline();
    await frame();
    const t = await fn(i);
    times.push(t); ratios.push(t / r);
  }
  times.sort((a, b) => a - b); ratios.sort((a, b) => a - b);
  const mid = (v) => (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2);
  return { best: times[0], median: mid(times), ratio: mid(ratios) };
}
function timed(f) { const t = now(); f(); return now() - t; }
function polarState(d, N, L, extra) {
  const dv = (a) => new DataView(a.buffer, a.byteOffset, a.byteLength);
  const enc = (a, shape) => ({ buffer: dv(a), dtype: a instanceof Float32Array ? "float32" : a instanceof Int32Array ? "int32" : "uint8", shape });
  return {
    _kind: "polar", _link: "", theme: "light", height: 420, show_controls: true,
    model: 0, layer: 0, condition: 0, classes: [], palette: [], color_by: "class", angle_to: "true",
    normalize: false, point_size: 2, selected: null, density: "auto", density_threshold: 100000, ...extra,
    _meta: { models: ["m"], layers: Array.from({ length: L }, (_, i) => "l" + i), conditions: [{ label: "clean@0", sparsity: 0, benchmark: "clean", severity: 0 }],
             class_names: Array.from({ length: 10 }, (_, i) => String(i)), shape: [1, L, 1, N], lazy: false, thumbs: null,
             slab: { angle: "mlkn", angle_pred: "mlkn", norm: "mlkn", margin: "mlkn", pred: "mkn" },
             color_fields: ["class"], color_kinds: { class: "categorical" }, ids_start: 0 },
    _arrays: { labels: enc(d.labels, [N]), angle: enc(d.angle, [1, L, 1, N]), angle_pred: enc(d.angle, [1, L, 1, N]),
               norm: enc(d.norm, [1, L, 1, N]), margin: enc(d.margin, [1, L, 1, N]), pred: enc(d.pred, [1, 1, N]) },
  };
}
function syncAny(canvas) {
  const gl = canvas.getContext("webgl2") || canvas.getContext("webgl");
  const px = new Uint8Array(4); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
}
window.run = async (N, withPlotly, densityN) => {
  const L = 2, out = {};
  const d = makeData(N, L);
  // raw WebGL: clip-space x, y of layer 0
  const x = new Float32Array(N), y = new Float32Array(N);
  for (let i = 0; i < N; i++) { const r = d.norm[i] / 4; x[i] = r * Math.cos(d.angle[i]); y[i] = r * Math.sin(d.angle[i]) * 2 - 1; }
  const raw = document.getElementById("raw");
  rawFrame(raw, x, y, N, true);  // warm up (shader compile)
  const rawFrameMs = () => timed(() => rawFrame(raw, x, y, N, true));
  const rawRedrawMs = () => timed(() => rawFrame(raw, x, y, N, false));
  const rawUp = [], rawDraw = [];
  for (let k = 0; k < 3; k++) rawUp.push(rawFrameMs());
  for (let k = 0; k < 3; k++) rawDraw.push(rawRedrawMs());
  out.raw_frame_ms = Math.min(...rawUp); out.raw_redraw_ms = Math.min(...rawDraw);
  // ours: a warm-up view (shader compile), then timed first frames of fresh views
  const el = document.getElementById("ours");
  const state = polarState(d, N, L, { density: "off" });  // points against points
  const warm = widgets.render({ model: new Model({ ...state }), el });
  sync(el.querySelector("canvas"));
  warm();
  let model, dispose, canvas;
  const first = await paired(3, rawFrameMs, async () => {
    if (dispose) dispose();
    model = new Model({ ...state });
    const t = now();
    dispose = widgets.render({ model, el });
    canvas = el.querySelector("canvas");
    sync(canvas);
    return now() - t;
  });
  out.ours_first = first;
  const root = el.querySelector(".gw-root");
  out.ours_mode = root.dataset.mode;
  // slice switches against a raw redraw (neither uploads anything)
  out.ours_switch = await paired(6, rawRedrawMs, async (k) => {
    const before = Number(root.dataset.drawn);
    const t = now();
    model.set("layer", (k + 1) % 2);
    while (Number(root.dataset.drawn) === before) await new Promise((r) => setTimeout(r, 0));
    sync(canvas);
    return now() - t;
  });
  out.backend = root.dataset.backend;
  dispose();
  if (withPlotly) {
    const P = window.Plotly;
    const deg = new Float32Array(L * N);
    for (let i = 0; i < L * N; i++) deg[i] = d.angle[i] * 180 / Math.PI;
    const div = document.getElementById("plotly");
    const layout = { width: 800, height: 420, polar: { sector: [0, 180] }, showlegend: false };
    const trace = (l) => ({ type: "scatterpolargl", mode: "markers", r: d.norm.subarray(l * N, (l + 1) * N),
                            theta: deg.subarray(l * N, (l + 1) * N), marker: { size: 2, color: d.labels } });
    const glCanvas = () => div.querySelector("canvas.gl-canvas-context") || div.querySelector("canvas");
    await P.newPlot(div, [trace(0)], layout);  // warm-up, as ours
    syncAny(glCanvas());
    P.purge(div);
    out.plotly_first = await paired(3, rawFrameMs, async () => {
      P.purge(div);
      const t = now();
      await P.newPlot(div, [trace(0)], layout);
      syncAny(glCanvas());
      return now() - t;
    });
    out.plotly_restyle = await paired(6, rawRedrawMs, async (k) => {
      const l = (k + 1) % 2;
      const t = now();
      await P.restyle(div, { r: [d.norm.subarray(l * N, (l + 1) * N)], theta: [deg.subarray(l * N, (l + 1) * N)] });
      syncAny(glCanvas());
      return now() - t;
    });
    P.purge(div);
  }
  if (densityN) {
    const D = makeData(densityN, 1);
    const dstate = polarState(D, densityN, 1, { density: "on" });
    // the raw binning baseline's input: CSS px positions and classes, computed once
    const rb = document.getElementById("rawbin");
    const bx = new Float32Array(densityN), by = new Float32Array(densityN);
    for (let i = 0; i < densityN; i++) {
      const r = D.norm[i] / 4;
      bx[i] = (r * Math.cos(D.angle[i]) + 1) / 2 * rb.width; by[i] = (1 - r * Math.sin(D.angle[i])) * rb.height;
    }
    const rawBinMs = () => timed(() => rawBin(rb, bx, by, D.labels, densityN, 2));
    rawBin(rb, bx, by, D.labels, densityN, 2);  // warm-up, as ours
    const dw = widgets.render({ model: new Model({ ...polarState(makeData(1000, 1), 1000, 1, { density: "on" }) }), el });
    sync(el.querySelector("canvas"));  // warm-up: the density programs compile
    dw();
    let dm, ddispose, dcanvas;
    out.density_first = await paired(3, rawBinMs, async () => {
      if (ddispose) ddispose();
      dm = new Model({ ...dstate });
      const t = now();
      ddispose = widgets.render({ model: dm, el });
      dcanvas = el.querySelector("canvas");
      sync(dcanvas);
      return now() - t;
    });
    const droot = el.querySelector(".gw-root");
    out.density_mode = droot.dataset.mode;
    // redraws of the data on the GPU: the handle's draw, as a zoom or pan redraws
    const handle = droot.__geowidget;
    const redraw = async () => {
      const t = now();
      handle.draw();
      sync(dcanvas);
      return now() - t;
    };
    out.density_redraw = await paired(6, rawBinMs, redraw);
    out.density_redraw_vs_raw_redraw = await paired(6, rawRedrawMs, redraw);
    ddispose();
  }
  return out;
};
window.ready = true;
</script>
<script src="/plotly.min.js"></script>
</body></html>
"""


def serve() -> tuple[Any, int]:
    files = {"/bench.html": ("text/html", PAGE.replace("/*MODEL*/", PAGE_MODEL_JS).encode()),
             "/widgets.js": ("text/javascript", BUNDLE.read_bytes())}
    if PLOTLY.exists():
        files["/plotly.min.js"] = ("text/javascript", PLOTLY.read_bytes())

    return serve_files(files)


def bytes_per_value(n: int = 200_000) -> tuple[float, int, int]:
    """Wire bytes of a PolarPlot's state per value conveyed (float metrics + predictions)."""
    sys.path.insert(0, str(ROOT))
    from ipywidgets.widgets.widget import _remove_buffers

    import geowidget as gw
    from geowidget.cube import Condition, GeometryCube

    m, ly, conds = 2, 3, [Condition(0.0), Condition(0.5), Condition(0.0, "fog", 3)]
    k = len(conds)
    rng = np.random.default_rng(0)
    shape = (m, ly, k, n)
    f = rng.random(shape, dtype=np.float32)
    labels = np.arange(n) % 10
    pred = np.broadcast_to(labels, (m, k, n))
    cube = GeometryCube(models=["a", "b"], layers=["l0", "l1", "l2"], conditions=conds,
                        labels=labels, class_names=[str(i) for i in range(10)], angle=f,
                        angle_pred=f, avh=f, angle_gap=f, norm=f, margin=f, pred=pred,
                        correct=pred == labels, logit_margin=f[:, 0])
    w = gw.PolarPlot(cube, budget=2**40)
    state, _, buffers = _remove_buffers(w.get_state())
    total = sum(len(bytes(b)) for b in buffers) + len(json.dumps(state, default=str))
    # every value of a per-point metric array (angle, angle_pred, norm, margin, pred, and
    # robustness when the scores module provides it); labels and JSON are overhead
    values = sum(np.asarray(v).size for key, v in w._arrays.items()
                 if key not in ("labels", "ids", "atlas"))
    return total / values, total, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--density-n", type=int, default=10_000_000)
    ap.add_argument("--no-plotly", action="store_true")
    args = ap.parse_args()
    if not BUNDLE.exists():
        sys.exit("geowidget/static/widgets.js is missing: run `npm run build`")
    with_plotly = PLOTLY.exists() and not args.no_plotly
    chromium = (os.environ.get("GEOWIDGET_CHROMIUM") or shutil.which("chromium")
                or shutil.which("chromium-browser"))
    if not chromium:
        sys.exit("no Chromium found: install it or set GEOWIDGET_CHROMIUM")
    from playwright.sync_api import sync_playwright

    srv, port = serve()
    t0 = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/bench.html")
        page.wait_for_function("window.ready === true", timeout=60000)
        r = page.evaluate("([n, p, dn]) => window.run(n, p, dn)",
                          [args.n, with_plotly, args.density_n])
        browser.close()
    srv.shutdown()
    bpv, total, values = bytes_per_value()
    raw, redraw = r["raw_frame_ms"], r["raw_redraw_ms"]
    first, switch = r["ours_first"], r["ours_switch"]
    mode = r["ours_mode"]
    print(f"N = {args.n:,} points, 2 px, headless Chromium ({r['backend']}), {time.time() - t0:.0f}"
          f" s; load average {os.getloadavg()[0]:.1f}")
    print(f"[raw points] raw WebGL frame (upload x, y + draw + sync): {raw:8.1f} ms;"
          f" raw redraw (no upload) {redraw:.1f} ms  (best of 3)")
    print(f"[ours: {mode}] first frame {first['median']:8.1f} ms (best {first['best']:.1f}),"
          f" slice switch {switch['median']:.1f} ms (best {switch['best']:.1f})")
    print(f"[ours: {mode} vs raw points] first frame / raw frame      = {first['ratio']:5.2f}"
          "   (target <= 2; median of 3 pairs)")
    print(f"[ours: {mode} vs raw points] slice switch / raw redraw    = {switch['ratio']:5.2f}"
          "   (median of 6 pairs; the switch uploads nothing, as the redraw)")
    if with_plotly:
        pf, pr = r["plotly_first"], r["plotly_restyle"]
        print(f"[plotly: points] scatterpolargl first frame {pf['median']:.1f} ms (best"
              f" {pf['best']:.1f}), restyle {pr['median']:.1f} ms (best {pr['best']:.1f})")
        print(f"[plotly: points vs ours: {mode}] plotly first / ours first    ="
              f" {pf['ratio'] / first['ratio']:5.2f}   (target >= 3; ratio of the paired medians;"
              f" medians {pf['median'] / first['median']:.2f}, best / best"
              f" {pf['best'] / first['best']:.2f})")
        print(f"[plotly: points vs ours: {mode}] plotly restyle / ours switch ="
              f" {pr['ratio'] / switch['ratio']:5.2f}   (target >= 3; medians"
              f" {pr['median'] / switch['median']:.2f}, best / best"
              f" {pr['best'] / switch['best']:.2f})")
    else:
        print("plotly.js not found in node_modules (npm ci installs it): plotly ratios skipped")
    if args.density_n:
        df, dr = r["density_first"], r["density_redraw"]
        dmode, drr = r["density_mode"], r["density_redraw_vs_raw_redraw"]
        print(f"[ours: {dmode}] {args.density_n:,} points: first frame {df['median']:.1f} ms,"
              f" redraw {dr['median']:.1f} ms")
        print(f"[ours: {dmode} vs raw binning] first frame / raw binning loop ="
              f" {df['ratio']:5.2f}   (median of 3 pairs; ours builds the view and its"
              " positions too)")
        print(f"[ours: {dmode} vs raw binning] redraw / raw binning loop      ="
              f" {dr['ratio']:5.2f}   (median of 6 pairs; both re-bin and shade)")
        print(f"[ours: {dmode} vs raw points] redraw / raw redraw of {args.n:,} ="
              f" {drr['ratio']:5.2f}   (target <= 3; median of 6 pairs; neither uploads"
              " points)")
    print(f"bytes sent per point per metric = {bpv:.3f}   (target <= 4.1; {total:,} bytes for"
          f" {values:,} metric values; uint8 labels and JSON state counted as overhead)")


if __name__ == "__main__":
    main()
