"""PNG export of a view, drawn by the view's own renderer at any scale (``GeoView.to_png``).

The renderer redraws the view with ``scale`` device pixels per CSS pixel, so points, density
bins and lines are drawn at that resolution rather than upscaled, and composes the SVG overlay
(axes, labels) and the legend over an opaque background of the view's theme (``js/src/png.ts``).
Two ways to reach a renderer:

- **the browser that shows the view** (a live view in JupyterLab, Notebook, Voila, marimo): the
  kernel sends a ``geowidget-png-request`` message and the browser answers with the PNG. A
  kernel handles messages between cells, so the answer arrives when the calling cell has
  finished: ``to_png`` returns a :class:`PngExport` (a ``concurrent.futures.Future``) that is
  done, and the file written, once it has (``result()`` in the same cell says so at once
  instead of waiting in vain);
- **headless Chromium** when no browser shows the view (a script, a test, a notebook run by
  nbconvert): the view is exported to a standalone HTML page (``to_html``) and rendered by the
  same renderer in Chromium, through playwright. The export is done when ``to_png`` returns.

The target is checked first: ``to_png`` creates its temporary file next to the target before
anything is rendered, so an unwritable path fails at once, with the path in the message. The
file is written whole (temporary file, then a rename), never half.
"""

from __future__ import annotations

import base64
import concurrent.futures
import math
import os
import shutil
import struct
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

__all__ = ["HEADLESS_WIDTH", "MAX_SCALE", "VIAS", "PngExport", "PngRequests", "check_scale",
           "chromium_executable", "open_target", "png_size", "render_headless"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SCALE = 10.0
HEADLESS_WIDTH = 840  # CSS px of the page a headless export lays the view out in
VIAS = ("auto", "browser", "chromium")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header; ValueError when ``data`` is no PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("the renderer's reply is not a PNG image")
    return struct.unpack(">II", data[16:24])


def check_scale(scale: Any, owner: str) -> float:
    """``scale`` as a float in (0, MAX_SCALE]; a ValueError naming it otherwise."""
    ok = isinstance(scale, int | float) and not isinstance(scale, bool) and math.isfinite(scale)
    if not ok or not 0 < scale <= MAX_SCALE:
        raise ValueError(f"The 'scale' parameter of {owner}.to_png must be a number in "
                         f"(0, {MAX_SCALE:g}] (device pixels per CSS pixel). Got {scale!r} "
                         "instead.")
    return float(scale)


def open_target(path: Any, owner: str) -> tuple[Path, Path]:
    """Check that ``path`` can be written, by creating the temporary file the PNG will be
    written to (next to it, so the final rename stays on one file system). Returns (target,
    temporary file); raises a ValueError naming ``path`` and why otherwise."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"The 'path' parameter of {owner}.to_png must be a str or a "
                        f"os.PathLike. Got {type(path).__name__} instead.")
    target = Path(path).expanduser()

    def fail(why: str) -> ValueError:
        return ValueError(f"The 'path' parameter of {owner}.to_png must be a writable file "
                          f"path. Got {str(path)!r}: {why}.")

    parent = target.parent
    if target.is_dir():
        raise fail("it is a directory")
    if not parent.exists():
        raise fail(f"the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise fail(f"{str(parent)!r} is not a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise fail(f"the directory {str(parent)!r} is not writable ({err.strerror})") from None
    os.close(fd)
    return target, Path(tmp)


class PngExport(concurrent.futures.Future):
    """The PNG export of a view: ``result()`` is the written path, once the renderer answered.

    A live view is answered by its browser after the calling cell has finished, so
    ``result()`` blocks until then; read it in a later cell (or check ``done()``).
    """

    def __init__(self, target: Path, tmp: Path, scale: float, owner: str) -> None:
        super().__init__()
        self.path = target
        self.scale = scale
        self.size: tuple[int, int] | None = None  # (width, height) px once written
        self._tmp = tmp
        self._owner = owner
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def result(self, timeout: float | None = None) -> Path:
        """The written path; waits for it (at most ``timeout`` seconds).

        Raises at once, instead of waiting in vain, when called in the kernel's own thread while
        the browser has not answered yet: the kernel reads the answer only between cells.
        """
        if not self.done() and self._timer is not None and _in_kernel_thread():
            raise RuntimeError(
                f"{self._owner}.to_png: the browser's answer is read between cells, so it cannot "
                "arrive while this cell waits for it. Read result() in a later cell once "
                f"{str(self.path)!r} is written (done() is True), or use via='chromium' to "
                "wait for the file in this cell.")
        return super().result(timeout)

    def _finish(self, data: bytes | None = None, error: str | None = None) -> None:
        """Write the PNG (or record the error) once; later answers are ignored."""
        with self._lock:
            if self.done():
                return
            if self._timer is not None:
                self._timer.cancel()
            try:
                if error is not None:
                    raise RuntimeError(f"{self._owner}.to_png failed: {error}")
                size = png_size(data or b"")
                self._tmp.write_bytes(data or b"")
                os.replace(self._tmp, self.path)
            except Exception as err:  # recorded on the future: the caller reads it there
                self._tmp.unlink(missing_ok=True)
                self.set_exception(err)
                return
            self.size = size
            self.set_result(self.path)

    def __repr__(self) -> str:
        if not self.done():
            state = "waiting for the browser (written once this cell has finished)"
        elif self.exception() is not None:
            state = f"failed: {self.exception()}"
        else:
            state = f"written, {self.size[0]} x {self.size[1]} px" if self.size else "written"
        return f"<PNG of {self._owner} at scale {self.scale:g} to {str(self.path)!r}: {state}>"


def _in_kernel_thread() -> bool:
    """True in the thread where a running IPython kernel handles the browser's messages."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return False
    return IPKernelApp.initialized()


class PngRequests:
    """The PNG requests of one live view and the browser views that can answer them."""

    def __init__(self) -> None:
        self.views = 0
        self.pending: dict[str, PngExport] = {}

    def on_message(self, content: dict[str, Any], buffers: list) -> bool:
        """Handle a ``geowidget-view`` or ``geowidget-png`` message; False for others."""
        kind = content.get("kind")
        if kind == "geowidget-view":
            self.views = max(0, self.views + (1 if content.get("event") == "render" else -1))
            return True
        if kind != "geowidget-png":
            return False
        export = self.pending.pop(str(content.get("id")), None)
        if export is not None:
            if content.get("error"):
                export._finish(error=str(content["error"]))
            elif not buffers:
                export._finish(error="the browser sent no image")
            else:
                export._finish(bytes(buffers[0]))
        return True

    def request(self, widget: Any, export: PngExport, timeout: float) -> None:
        """Ask the browsers showing ``widget`` for the PNG; fail after ``timeout`` seconds."""
        rid = uuid.uuid4().hex
        self.pending[rid] = export

        def expire() -> None:
            self.pending.pop(rid, None)
            export._finish(error=f"no browser answered within {timeout:g} s (is the view still "
                                 "displayed?); to_png(..., via='chromium') renders it headless")

        export._timer = threading.Timer(timeout, expire)
        export._timer.daemon = True
        export._timer.start()
        widget.send({"kind": "geowidget-png-request", "id": rid, "scale": export.scale})


def chromium_executable() -> str | None:
    """A Chromium to drive: ``$GEOWIDGET_CHROMIUM``, or ``chromium`` on the PATH; None lets
    playwright use its own browser."""
    for cand in (os.environ.get("GEOWIDGET_CHROMIUM"), shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


def render_headless(widget: Any, scale: float, timeout: float) -> bytes:
    """The PNG of ``widget`` drawn by its renderer in headless Chromium (playwright).

    Runs in a thread of its own: playwright's synchronous API refuses to run inside an
    asyncio loop, and a Jupyter kernel runs cells in one.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["png"] = _render_headless(widget, scale, timeout)
        except BaseException as err:  # handed to the calling thread
            result["error"] = err

    worker = threading.Thread(target=run, name="geowidget-png", daemon=True)
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["png"]


def _render_headless(widget: Any, scale: float, timeout: float) -> bytes:
    owner = type(widget).__name__
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError(
            f"{owner}.to_png has no browser to render in: no browser shows this view, and "
            "headless rendering needs playwright (pip install playwright) and Chromium "
            "(a system chromium, $GEOWIDGET_CHROMIUM, or `playwright install chromium`). "
            "Or display the view and call to_png again."
        ) from None
    args = ["--headless", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    with tempfile.TemporaryDirectory(prefix="geowidget-png-") as tmp:
        page_path = widget.to_html(Path(tmp) / "view.html")
        with sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path=chromium_executable(), args=args)
            except PlaywrightError as err:
                raise RuntimeError(f"{owner}.to_png could not start headless Chromium: "
                                   f"{str(err).splitlines()[0]}") from None
            try:
                b64 = _export_page(browser, page_path, scale, timeout)
            except PlaywrightError as err:
                raise RuntimeError(f"{owner}.to_png failed in headless Chromium: "
                                   f"{str(err).splitlines()[0]}") from None
            finally:
                browser.close()
    if "error" in b64:
        raise RuntimeError(f"{owner}.to_png failed: {b64['error']}")
    return base64.b64decode(b64["png"])


def _export_page(browser: Any, page_path: Path, scale: float, timeout: float) -> dict[str, str]:
    page = browser.new_page(viewport={"width": HEADLESS_WIDTH, "height": 900})
    page.goto(page_path.as_uri())
    page.wait_for_selector(".gw-root[data-drawn]", timeout=timeout * 1000)
    return page.evaluate(
        """async (scale) => {
          const root = document.querySelector('.gw-root');
          if (!root.__geowidgetPng) return { error: 'this view has no PNG export' };
          try {
            const img = await root.__geowidgetPng(scale);
            const bytes = new Uint8Array(await img.blob.arrayBuffer());
            let s = '';
            for (let i = 0; i < bytes.length; i += 32768)
              s += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
            return { png: btoa(s) };
          } catch (err) { return { error: String(err.message || err) }; }
        }""", scale)
