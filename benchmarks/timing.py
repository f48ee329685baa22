"""Shared by the benchmark scripts: best of several runs after a warm-up, and a loopback
server for the pages the browser benchmarks load."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

# anywidget's model interface over a plain object, for pages that render views directly
PAGE_MODEL_JS = """class Model {
  constructor(a) { this.a = a; this.h = new Map(); }
  get(k) { return this.a[k]; }
  set(k, v) { this.a[k] = v; for (const f of this.h.get("change:" + k) ?? []) f(); }
  on(e, f) { if (!this.h.has(e)) this.h.set(e, new Set()); this.h.get(e).add(f); }
  off(e, f) { this.h.get(e)?.delete(f); }
  save_changes() {} send() {}
}
"""


def best_time(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall-clock seconds of ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, value: float, target: str = "") -> None:
    suffix = f"   (target {target})" if target else ""
    print(f"{name:<58s} {value:10.3f}{suffix}")


def paired_ratio(
    fn: Callable[[], object], baseline: Callable[[], object], repeat: int = 5, warmup: int = 1
) -> tuple[float, float, float]:
    """``(median of fn/baseline over interleaved pairs, best fn, best baseline)`` in seconds.

    Each call of ``fn`` is timed right after a call of ``baseline``, so load from other
    processes on a shared machine hits both sides of a pair alike.
    """
    for _ in range(warmup):
        baseline()
        fn()
    ratios, ours, base = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        baseline()
        mid = time.perf_counter()
        fn()
        end = time.perf_counter()
        base.append(mid - start)
        ours.append(end - mid)
        ratios.append((end - mid) / (mid - start))
    ratios.sort()
    mid_ratio = (ratios[(repeat - 1) // 2] + ratios[repeat // 2]) / 2
    return mid_ratio, min(ours), min(base)


def serve_files(files: dict[str, tuple[str, bytes]]) -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve ``{path: (content type, body)}`` on 127.0.0.1 (a free port) from a daemon thread.

    Returns the server (call ``shutdown()``) and its port.
    """

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
