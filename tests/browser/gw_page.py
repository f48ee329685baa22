"""Helpers for driving exported geowidget pages in Chromium."""

from __future__ import annotations

import numpy as np

PAD = 28  # js/src/scales.ts


def polar_xy(theta, rho, width, height, rmax):
    """Independent recomputation of the documented polar frame (CSS px)."""
    big_r = 1.05 * rmax
    s = min((width - 2 * PAD) / (2 * big_r), (height - 2 * PAD) / big_r)
    theta, rho = np.asarray(theta, float), np.asarray(rho, float)
    return width / 2 + s * rho * np.cos(theta), height - PAD - s * rho * np.sin(theta)


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
    return page.evaluate(
        """(kind) => {
          const c = document.querySelector(`.gw-root[data-kind=${kind}] canvas`);
          const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
          const g = t.getContext('2d'); g.drawImage(c, 0, 0);
          const d = g.getImageData(0, 0, t.width, t.height).data;
          let h = 0, ink = 0;
          for (let i = 0; i < d.length; i += 4) {
            h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
            if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) ink++;
          }
          return [h, ink];
        }""", kind)


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


def open_lab_notebook(browser, lab, name, viewport=(1200, 1000)):
    """Open notebook ``name`` (in the lab's root) in JupyterLab and run all its cells.

    Returns (context, page, errors): page errors are collected in ``errors``.
    """
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90000)
    # the kernel is connected and idle (status bar), then Run -> Run All Cells via the menu
    page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=90000)
    page.wait_for_timeout(1000)
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
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
