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
