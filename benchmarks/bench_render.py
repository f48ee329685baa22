"""Render speed in headless Chromium (software WebGL), measured against baselines in one run.

Prints, for N = 1,000,000 points of 2 px:
- our first frame / one raw WebGL frame of the same points (target <= 2);
- our slice switch (layer change) / one raw redraw, which re-uploads nothing: a switch
  re-points attributes into the slab already on the GPU;
- plotly.js scatterpolargl first frame / ours, and plotly restyle / our slice switch (>= 3);
- bytes sent per point per metric (target <= 4.1).

"One raw frame" is the minimal WebGL program a renderer must run: upload x and y (float32),
draw 1,000,000 points, and wait for the GPU (readPixels); "one raw redraw" is the same without
the upload. Ours and plotly get the same warm-up, repetitions and statistic: one warm-up, then
the median of 3 first frames and of 6 switches, each paired with a raw frame or redraw taken
just before (the ratios of the pairs cancel load on a shared machine). Run:
``.venv/bin/python benchmarks/bench_render.py [--n 1000000] [--no-plotly]``.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "geowidget" / "static" / "widgets.js"
PLOTLY = ROOT / "node_modules" / "plotly.js-dist-min" / "plotly.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#fff"><div id="ours" style="width:820px"></div>
<canvas id="raw" width="800" height="420" style="display:block"></canvas>
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
class Model {
  constructor(a) { this.a = a; this.h = new Map(); }
  get(k) { return this.a[k]; }
  set(k, v) { this.a[k] = v; for (const f of this.h.get("change:" + k) ?? []) f(); }
  on(e, f) { if (!this.h.has(e)) this.h.set(e, new Set()); this.h.get(e).add(f); }
  off(e, f) { this.h.get(e)?.delete(f); }
  save_changes() {} send() {}
}
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
window.run = async (N, withPlotly) => {
  const L = 2, out = {};
  const d = makeData(N, L);
  // raw WebGL: clip-space x, y of layer 0
  const x = new Float32Array(N), y = new Float32Array(N);
  for (let i = 0; i < N; i++) { const r = d.norm[i] / 4; x[i] = r * Math.cos(d.angle[i]); y[i] = r * Math.sin(d.angle[i]) * 2 - 1; }
  const raw = document.getElementById("raw");
  const median = (v) => { const s = [...v].sort((p, q) => p - q); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
  // one raw frame: upload x, y + draw + wait for the GPU; one raw redraw: the same without upload
  const rawMs = (upload) => { const t0 = now(); rawFrame(raw, x, y, N, upload); return now() - t0; };
  rawFrame(raw, x, y, N, true);  // warm up (shader compile)
  out.raw_frame_ms = median([0, 1, 2].map(() => rawMs(true)));
  out.raw_redraw_ms = median([0, 1, 2].map(() => rawMs(false)));
  // ours
  const dv = (a) => new DataView(a.buffer, a.byteOffset, a.byteLength);
  const enc = (a, shape) => ({ buffer: dv(a), dtype: a instanceof Float32Array ? "float32" : a instanceof Int32Array ? "int32" : "uint8", shape });
  const state = {
    _kind: "polar", _link: "", theme: "light", height: 420, show_controls: true,
    model: 0, layer: 0, condition: 0, classes: [], palette: [], color_by: "class", angle_to: "true",
    normalize: false, point_size: 2, selected: null,
    _meta: { models: ["m"], layers: ["l0", "l1"], conditions: [{ label: "clean@0", sparsity: 0, benchmark: "clean", severity: 0 }],
             class_names: Array.from({ length: 10 }, (_, i) => String(i)), shape: [1, L, 1, N], lazy: false, thumbs: null,
             slab: { angle: "mlkn", angle_pred: "mlkn", norm: "mlkn", margin: "mlkn", pred: "mkn" },
             color_fields: ["class"], color_kinds: { class: "categorical" }, ids_start: 0 },
    _arrays: { labels: enc(d.labels, [N]), angle: enc(d.angle, [1, L, 1, N]), angle_pred: enc(d.angle, [1, L, 1, N]),
               norm: enc(d.norm, [1, L, 1, N]), margin: enc(d.margin, [1, L, 1, N]), pred: enc(d.pred, [1, 1, N]) },
  };
  const el = document.getElementById("ours");
  // Every measurement, ours and plotly's alike: one warm-up, then 3 first frames (each of a
  // fresh view) and 6 slice switches, the median of each; every measurement is paired with a
  // raw frame (first frames) or a raw redraw (switches: a switch need not re-upload
  // anything) taken just before, and the median ratio is reported (the pairs cancel load on a
  // shared machine).
  const warm = widgets.render({ model: new Model({ ...state }), el });
  sync(el.querySelector("canvas"));  // let the warm-up draw finish, as the raw warm-up does
  warm();
  const firsts = [], firstPairs = [], firstJs = [];
  let model, dispose, canvas, t;
  for (let k = 0; k < 3; k++) {
    if (dispose) dispose();
    await frame();
    const r = rawMs(true);
    model = new Model({ ...state });
    t = now();
    dispose = widgets.render({ model, el });
    firstJs.push(now() - t);  // decode views, DOM, GL setup, upload, draw calls issued
    canvas = el.querySelector("canvas");
    sync(canvas);
    const f = now() - t;
    firsts.push(f); firstPairs.push(f / r);
  }
  out.ours_first_ms = median(firsts);
  out.ours_first_js_ms = median(firstJs);
  out.first_ratio_median = median(firstPairs);
  const root = el.querySelector(".gw-root");
  const switchOnce = async (layer) => {
    const before = Number(root.dataset.drawn);
    const t0 = now();
    model.set("layer", layer);
    // the view draws at the end of the task (a microtask): wait for that, not for a frame
    for (let i = 0; i < 100 && Number(root.dataset.drawn) === before; i++) await Promise.resolve();
    while (Number(root.dataset.drawn) === before) await frame();
    sync(canvas);
    return now() - t0;
  };
  await switchOnce(1); await switchOnce(0);  // warm-up (the full slab upload after frame 1)
  const switches = [], pairs = [];
  for (let k = 0; k < 6; k++) {
    await frame();
    const r = rawMs(false);
    await frame();
    const sw = await switchOnce((k + 1) % 2);
    switches.push(sw); pairs.push(sw / r);
  }
  out.ours_switch_ms = median(switches);
  out.switch_ratio_median = median(pairs);
  out.backend = root.dataset.backend;
  dispose();
  if (withPlotly) {
    const P = window.Plotly;
    const deg = new Float32Array(L * N);
    for (let i = 0; i < L * N; i++) deg[i] = d.angle[i] * 180 / Math.PI;
    const div = document.getElementById("plotly");
    const layout = { width: 800, height: 420, polar: { sector: [0, 180] }, showlegend: false };
    const syncPlotly = () => {
      for (const c of div.querySelectorAll("canvas")) {
        const gl = c.getContext("webgl") || c.getContext("webgl2");
        if (gl) { const px = new Uint8Array(4); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); }
      }
    };
    const plot = async () => {
      P.purge(div);
      const t0 = now();
      await P.newPlot(div, [{ type: "scatterpolargl", mode: "markers", r: d.norm.subarray(0, N), theta: deg.subarray(0, N),
                              marker: { size: 2, color: d.labels } }], layout);
      await frame();  // plotly draws in an animation frame
      syncPlotly();
      return now() - t0;
    };
    const restyle = async (layer) => {
      const t0 = now();
      await P.restyle(div, { r: [d.norm.subarray(layer * N, (layer + 1) * N)], theta: [deg.subarray(layer * N, (layer + 1) * N)] });
      await frame();
      syncPlotly();
      return now() - t0;
    };
    await plot();  // warm-up
    const pf = [], pfPairs = [];
    for (let k = 0; k < 3; k++) { await frame(); const r = rawMs(true); const f = await plot(); pf.push(f); pfPairs.push(f / r); }
    out.plotly_first_ms = median(pf);
    out.plotly_first_ratio_median = median(pfPairs);
    await restyle(1); await restyle(0);  // warm-up
    const pr = [], prPairs = [];
    for (let k = 0; k < 6; k++) { await frame(); const r = rawMs(false); await frame(); const f = await restyle((k + 1) % 2); pr.push(f); prPairs.push(f / r); }
    out.plotly_restyle_ms = median(pr);
    out.plotly_restyle_ratio_median = median(prPairs);
    P.purge(div);
  }
  return out;
};
window.ready = true;
</script>
<script src="/plotly.min.js"></script>
</body></html>
"""


def serve() -> tuple[http.server.ThreadingHTTPServer, int]:
    files = {"/bench.html": ("text/html", PAGE.encode()),
             "/widgets.js": ("text/javascript", BUNDLE.read_bytes())}
    if PLOTLY.exists():
        files["/plotly.min.js"] = ("text/javascript", PLOTLY.read_bytes())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            kind, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


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
        r = page.evaluate("([n, p]) => window.run(n, p)", [args.n, with_plotly])
        browser.close()
    srv.shutdown()
    bpv, total, values = bytes_per_value()
    raw = r["raw_frame_ms"]
    print(f"N = {args.n:,} points, 2 px, headless Chromium ({r['backend']}), {time.time() - t0:.0f} s;"
          " medians after one warm-up: 3 first frames, 6 slice switches, each paired with a raw"
          " frame or redraw")
    print(f"raw WebGL frame (upload x, y + draw + sync): {raw:8.1f} ms;"
          f" raw redraw without upload {r['raw_redraw_ms']:.1f} ms")
    print(f"ours: first frame {r['ours_first_ms']:8.1f} ms (of which {r['ours_first_js_ms']:.1f} ms"
          f" until the draw is issued), slice switch {r['ours_switch_ms']:.1f} ms")
    print(f"ours first frame / raw frame    = {r['first_ratio_median']:5.2f}   (target <= 2)")
    print(f"ours slice switch / raw redraw  = {r['switch_ratio_median']:5.2f}   (no re-upload on"
          " either side)")
    if with_plotly:
        print(f"plotly scatterpolargl: first frame {r['plotly_first_ms']:.1f} ms"
              f" ({r['plotly_first_ratio_median']:.2f} raw frames), restyle"
              f" {r['plotly_restyle_ms']:.1f} ms ({r['plotly_restyle_ratio_median']:.2f} raw redraws)")
        print(f"plotly first / ours first       = "
              f"{r['plotly_first_ratio_median'] / r['first_ratio_median']:5.2f}   (target >= 3)")
        print(f"plotly restyle / ours switch    = "
              f"{r['plotly_restyle_ratio_median'] / r['switch_ratio_median']:5.2f}   (target >= 3)")
    elif args.no_plotly:
        print("--no-plotly: plotly ratios skipped")
    else:
        print("plotly.js not found in node_modules (npm ci installs it): plotly ratios skipped")
    print(f"bytes sent per point per metric = {bpv:.3f}   (target <= 4.1; {total:,} bytes for"
          f" {values:,} metric values; uint8 labels and JSON state counted as overhead)")


if __name__ == "__main__":
    main()
