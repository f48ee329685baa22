"""Helpers for driving exported geowidget pages in Chromium."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout

PAD = 28  # js/src/scales.ts


def polar_xy(theta, rho, width, height, rmax):
    """Independent recomputation of the documented polar frame (CSS px)."""
    big_r = 1.05 * rmax
    s = min((width - 2 * PAD) / (2 * big_r), (height - 2 * PAD) / big_r)
    theta, rho = np.asarray(theta, float), np.asarray(rho, float)
    return width / 2 + s * rho * np.cos(theta), height - PAD - s * rho * np.sin(theta)


def polar_sector(theta, rho):
    """Independent recomputation of the sector the polar plot fits around the data
    (js/src/scales.ts polarSector): (t0, t1, r0, r1)."""
    theta, rho = np.asarray(theta, float), np.asarray(rho, float)
    ok = np.isfinite(theta) & np.isfinite(rho)
    if not ok.any() or not rho[ok].max() > 0:
        return 0.0, np.pi, 0.0, 1.05 * rho[ok].max() if ok.any() and rho[ok].max() > 0 else 1.0
    tmin, tmax = max(0.0, theta[ok].min()), min(np.pi, theta[ok].max())
    rmin, rmax = max(0.0, rho[ok].min()), rho[ok].max()
    dt = max(np.radians(2), 0.05 * (tmax - tmin))
    dr = max(0.02 * rmax, 0.05 * (rmax - rmin))
    t0, t1 = max(0.0, tmin - dt), min(np.pi, tmax + dt)
    if t1 - t0 > np.radians(150):
        t0, t1 = 0.0, np.pi
    r0, r1 = max(0.0, rmin - dr), rmax + dr
    if r0 < 0.15 * r1:
        r0 = 0.0
    return t0, t1, r0, r1


def sector_xy(theta, rho, width, height, data=None):
    """CSS px of points (theta, rho) in the polar plot's default frame: the sector around
    ``data`` = (all theta, all rho) of the shown points (the points themselves by default)."""
    t0, t1, r0, r1 = polar_sector(*(data if data is not None else (theta, rho)))
    xs = [r * np.cos(t) for t in (t0, t1) for r in (r0, r1)]
    ys = [r * np.sin(t) for t in (t0, t1) for r in (r0, r1)]
    if t0 <= np.pi / 2 <= t1:
        xs.append(0.0)
        ys.append(r1)
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    s = min((width - 2 * PAD) / (x1 - x0), (height - 2 * PAD) / (y1 - y0))
    theta, rho = np.asarray(theta, float), np.asarray(rho, float)
    x, y = rho * np.cos(theta), rho * np.sin(theta)
    return width / 2 + s * (x - (x0 + x1) / 2), height / 2 - s * (y - (y0 + y1) / 2)


def open_html(page, path, kind="polar", drawn=1):
    page.goto(path.as_uri())
    page.wait_for_function(
        f"() => {{ const r = document.querySelector('.gw-root[data-kind={kind}]');"
        f" return r && Number(r.dataset.drawn || 0) >= {drawn}; }}", timeout=20000)


def plot_box(page, kind="polar"):
    """(left, top, width, height) of the view's plot area in page CSS px."""
    return page.evaluate(
        f"() => {{ const r = document.querySelector('.gw-root[data-kind={kind}] .gw-plot')"
        ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")


def read_pixels(page, points, kind="polar"):
    """RGBA at CSS positions (x, y) inside the view's canvas, read back from the drawing buffer."""
    return page.evaluate(
        """([kind, pts]) => {
          const c = document.querySelector(`.gw-root[data-kind=${kind}] canvas`);
          const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
          const g = t.getContext('2d'); g.drawImage(c, 0, 0);
          const k = c.width / c.clientWidth;
          return pts.map(([x, y]) => Array.from(
            g.getImageData(Math.floor(x * k), Math.floor(y * k), 1, 1).data));
        }""", [kind, [[float(x), float(y)] for x, y in points]])


def canvas_digest(page, kind="polar"):
    return digest_of(page, f".gw-root[data-kind={kind}]")


def selected_ids(page, kind="polar"):
    """Ids in the `selected` trait of the first model of that kind (standalone page)."""
    return page.evaluate(
        """(kind) => {
          for (const m of Object.values(window.geowidget.models)) {
            if (m.get('_kind') !== kind) continue;
            const s = m.get('selected'); if (!s) return [];
            const b = s.buffer; const v = new Int32Array(b.buffer, b.byteOffset, s.shape[0]);
            return Array.from(v);
          }
          return null;
        }""", kind)


def drag(page, points):
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()


def hex_rgb(h):
    h = h.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


# ---------------------------------------------------------------------------- by root selector
def root_of(kind, link):
    """CSS selector of the view of ``kind`` in the group linked by ``link``."""
    return f".gw-root[data-kind={kind}][data-link='{link}']"


def drawn_count(page, root):
    return page.evaluate(f"Number(document.querySelector(\"{root}\")?.dataset.drawn || 0)")


def wait_drawn(page, root, more_than=0, timeout=30000):
    page.wait_for_function(
        f"Number(document.querySelector(\"{root}\")?.dataset.drawn || 0) > {more_than}",
        timeout=timeout)


# (hash, pixels with ink) of a canvas element, read back from its drawing buffer
CANVAS_DIGEST = """(c) => {
  const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
  const g = t.getContext('2d'); g.drawImage(c, 0, 0);
  const d = g.getImageData(0, 0, t.width, t.height).data;
  let h = 0, ink = 0;
  for (let i = 0; i < d.length; i += 4) {
    h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
    if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) ink++;
  }
  return [h, ink];
}"""
# the same, of the first canvas in a root (a selector)
_DIGEST = f"(root) => ({CANVAS_DIGEST})(document.querySelector(root + ' canvas'))"


def digest_of(page, root):
    """(hash, pixels with ink) of the first canvas in ``root``."""
    return page.evaluate(_DIGEST, root)


def wait_digest_change(page, root, old_hash, timeout=30000):
    """Wait until the first canvas in ``root`` shows another picture; returns its digest."""
    page.wait_for_function(f"([root, h]) => ({_DIGEST})(root)[0] !== h", arg=[root, old_hash],
                           timeout=timeout)
    return digest_of(page, root)


def box_of(page, root, part=".gw-plot"):
    """(left, top, width, height) of ``root part`` in page CSS px, scrolled into view."""
    page.locator(f"{root} {part}").first.scroll_into_view_if_needed()
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                      return [r.left, r.top, r.width, r.height]; }""", f"{root} {part}")


def dataset(page, root, key):
    return page.evaluate(f"document.querySelector(\"{root}\")?.dataset.{key} ?? null")


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells (no outputs) at ``path``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def run_all_in_lab(browser, lab: dict, name: str, ready: str, viewport=(1200, 1000)):
    """:func:`open_lab_notebook`, then wait for ``ready`` (a CSS selector). Returns the page;
    ``page.errors`` collects page errors."""
    _, page, errors = open_lab_notebook(browser, lab, name, viewport)
    page.errors = errors
    try:
        page.wait_for_selector(ready, timeout=120000)
    except Exception:
        page.screenshot(path=str(lab["root"] / f"failed-{name}.png"), full_page=True)
        raise
    return page


def run_all(page, before_run=None):
    """In JupyterLab or Notebook 7 with a notebook open: once its kernel is idle, Run -> Run
    All Cells from the menu (calling ``before_run()`` just before)."""
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90000)
    select = page.locator(".jp-Dialog button:has-text('Select')")
    try:  # the app may ask which kernel to start
        select.wait_for(timeout=3000)
        select.click()
    except PlaywrightTimeout:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status=idle]", timeout=90000)
    if before_run is not None:
        before_run()
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")


def open_lab_notebook(browser, lab, name, viewport=(1200, 1000)):
    """Open notebook ``name`` (in the lab's root) in JupyterLab, in a reset workspace of its
    own (only this notebook open), and run all its cells.

    Returns (context, page, errors): page errors are collected in ``errors``.
    """
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab['url']}/lab/workspaces/{Path(name).stem}/tree/{name}?reset"
              f"&token={lab['token']}")
    run_all(page)
    return ctx, page, errors


def rerun_last_cell(page, timeout=60000):
    """Run the notebook's last cell again and return its output, once it has a new prompt
    number (so an old output is never read)."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    before = cell.locator(".jp-InputPrompt").inner_text()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """(before) => { const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');
                   const c = cells[cells.length - 1];
                   const p = c.querySelector('.jp-InputPrompt').textContent;
                   return /\\[\\d+\\]/.test(p) && p !== before
                     && c.querySelector('.jp-OutputArea-output'); }""",
        arg=before, timeout=timeout)
    return cell.locator(".jp-OutputArea-output").inner_text()
