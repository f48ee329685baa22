// PNG export of any view drawn in a Frame, from the renderer itself: the view is redrawn with
// `scale` device px per CSS px (its canvas at that resolution, so points, bins and lines are
// drawn, not upscaled), then its SVG overlay (vector, so text and grid stay sharp) and its
// legend are composed over an opaque background of the theme, with a margin of MARGIN CSS px. The toolbar's "png" button
// downloads the file; the kernel asks for one with a `geowidget-png` message (`to_png`), and
// headless exports call the root's `__geowidgetPng(scale)`.

import { h } from "./dom";
import type { Frame } from "./frame";
import type { AnyModel } from "./model";

/** Canvases above this side (px) are refused: WebGL and most browsers stop there. */
export const MAX_SIDE = 8192;
export const DEFAULT_SCALE = 3;
/** Margin around the view in the image, CSS px. */
export const MARGIN = 8;

export interface PngImage {
  blob: Blob;
  width: number;
  height: number;
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the SVG overlay could not be rasterised"));
    img.src = url;
  });
}

/** The overlay as a standalone SVG: computed text styles inlined (CSS does not reach an SVG
 * drawn as an image), scaled to the output size. */
function overlayImageUrl(frame: Frame, scale: number): string {
  const src = frame.svg;
  const copy = src.cloneNode(true) as SVGSVGElement;
  const from = src.querySelectorAll("text");
  const to = copy.querySelectorAll("text");
  from.forEach((t, i) => {
    const cs = getComputedStyle(t);
    to[i].setAttribute("fill", cs.fill);
    to[i].setAttribute("font-size", cs.fontSize);
    to[i].setAttribute("font-family", cs.fontFamily);
    to[i].setAttribute("font-weight", cs.fontWeight);
    if (cs.paintOrder && cs.paintOrder !== "normal") {
      // the halo behind labels (widgets.css)
      to[i].setAttribute("paint-order", cs.paintOrder);
      to[i].setAttribute("stroke", cs.stroke);
      to[i].setAttribute("stroke-width", cs.strokeWidth);
      to[i].setAttribute("stroke-linejoin", cs.strokeLinejoin);
    }
  });
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("viewBox", `0 0 ${frame.width} ${frame.height}`);
  copy.setAttribute("width", String(Math.round(frame.width * scale)));
  copy.setAttribute("height", String(Math.round(frame.height * scale)));
  const text = new XMLSerializer().serializeToString(copy);
  return URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
}

/** Draw the legend's swatches, colour bars and text where the page lays them out. */
function drawLegend(ctx: CanvasRenderingContext2D, legend: HTMLElement, left: number, top: number, scale: number): void {
  const origin = legend.getBoundingClientRect();
  ctx.save();
  ctx.scale(scale, scale);
  ctx.translate(left, top);
  const visit = (el: Element, opacity: number) => {
    const cs = getComputedStyle(el);
    if (cs.display === "none") return;
    const alpha = opacity * (parseFloat(cs.opacity) || 1);
    const r = el.getBoundingClientRect();
    const x = r.left - origin.left, y = r.top - origin.top;
    ctx.globalAlpha = alpha;
    if (el instanceof HTMLCanvasElement) {
      ctx.drawImage(el, x, y, r.width, r.height);
      return;
    }
    if (el.classList.contains("sw")) {
      ctx.fillStyle = cs.backgroundColor;
      ctx.beginPath();
      ctx.arc(x + r.width / 2, y + r.height / 2, Math.min(r.width, r.height) / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    if (el.children.length === 0 && el.textContent) {
      ctx.fillStyle = cs.color;
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      ctx.textBaseline = "middle";
      ctx.fillText(el.textContent, x, y + r.height / 2);
      return;
    }
    for (const child of Array.from(el.children)) visit(child, alpha);
  };
  for (const child of Array.from(legend.children)) visit(child, 1);
  ctx.restore();
}

/**
 * Render a view as a PNG at `scale` device px per CSS px: `draw()` is the view's own draw,
 * called with the frame's pixel ratio set to `scale`, then again at the screen's ratio.
 */
export async function renderPng(frame: Frame, draw: () => void, scale = DEFAULT_SCALE): Promise<PngImage> {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`scale must be a positive number, got ${scale}`);
  const legendHeight = frame.legend.getBoundingClientRect().height;
  const gap = legendHeight ? 4 : 0;
  // a view may size its canvas beyond the frame (the evaluation table): the plot is the larger
  const beyond = (css: number, px: number) => (px / scale > css + 1 ? px / scale : css);
  const plotSize = () => [beyond(frame.width, frame.canvas.width), beyond(frame.height, frame.canvas.height)];
  const check = (w: number, h: number) => {
    // the image: MARGIN, the plot, a gap and the legend, MARGIN; all times scale
    const cssW = w + 2 * MARGIN, cssH = h + gap + legendHeight + 2 * MARGIN;
    const width = Math.round(cssW * scale), height = Math.round(cssH * scale);
    if (width > MAX_SIDE || height > MAX_SIDE) {
      throw new Error(`a ${width} x ${height} px image is larger than ${MAX_SIDE} px a side; use a scale of at most ${Math.floor((MAX_SIDE / Math.max(cssW, cssH)) * 100) / 100} for this view`);
    }
    return [width, height];
  };
  check(frame.width, frame.height); // before drawing anything
  const m = MARGIN * scale;
  let out: HTMLCanvasElement, width: number, height: number, plotW: number, plotH: number;
  frame.pixelRatio = scale;
  try {
    draw();
    [plotW, plotH] = plotSize();
    [width, height] = check(plotW, plotH);
    out = h("canvas", { width: String(width), height: String(height) });
    const c = out.getContext("2d");
    if (!c) throw new Error("no 2-D canvas to compose the image");
    c.fillStyle = frame.theme.bg;
    c.fillRect(0, 0, width, height);
    c.drawImage(frame.canvas, m, m, frame.canvas.width, frame.canvas.height);
  } finally {
    frame.pixelRatio = null;
    draw();
  }
  const ctx = out.getContext("2d")!;
  const pw = frame.width * scale, ph = frame.height * scale;
  const url = overlayImageUrl(frame, scale);
  try {
    const img = await loadImage(url);
    ctx.drawImage(img, m, m, pw, ph);
  } finally {
    URL.revokeObjectURL(url);
  }
  if (legendHeight) drawLegend(ctx, frame.legend, MARGIN, MARGIN + plotH + gap, scale);
  const blob = await new Promise<Blob | null>((resolve) => out.toBlob(resolve, "image/png"));
  if (!blob) throw new Error("the browser could not encode the PNG");
  return { blob, width, height };
}

interface PngRequest { kind?: string; id?: unknown; scale?: unknown }

/**
 * Give a framed view its PNG export: the toolbar button (downloads `<kind>.png` at the default
 * scale), the kernel's `geowidget-png` requests (answered with `{kind: "geowidget-png", id,
 * width, height}` and the PNG as one buffer, or `{..., error}`), and `root.__geowidgetPng` for
 * headless exports. Returns the cleanup.
 */
export function attachPng(model: AnyModel, frame: Frame, draw: () => void): () => void {
  const kind = frame.root.dataset.kind ?? "view";
  const button = h("button", { "data-tool": "png", title: `download a PNG (${DEFAULT_SCALE}x)` }, "png");
  button.addEventListener("click", async () => {
    try {
      const { blob } = await renderPng(frame, draw, DEFAULT_SCALE);
      const a = h("a", { download: `geowidget-${kind}.png` });
      a.href = URL.createObjectURL(blob);
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    } catch (err) {
      frame.notice(`PNG export failed: ${(err as Error).message}`);
    }
  });
  frame.bar.append(button);
  (frame.root as unknown as { __geowidgetPng: (s: number) => Promise<PngImage> }).__geowidgetPng = (s) => renderPng(frame, draw, s);
  const onMsg = async (msg: PngRequest | null) => {
    if (!msg || msg.kind !== "geowidget-png-request") return;
    const id = typeof msg.id === "string" ? msg.id.slice(0, 64) : null;
    try {
      const img = await renderPng(frame, draw, Number(msg.scale));
      const buffer = await img.blob.arrayBuffer();
      model.send({ kind: "geowidget-png", id, width: img.width, height: img.height }, undefined, [buffer]);
    } catch (err) {
      model.send({ kind: "geowidget-png", id, error: (err as Error).message });
    }
  };
  model.on("msg:custom", onMsg);
  // the kernel counts the views that can answer, so `to_png` knows whether a browser is there
  model.send({ kind: "geowidget-view", event: "render" });
  return () => {
    model.off("msg:custom", onMsg);
    try { model.send({ kind: "geowidget-view", event: "dispose" }); } catch { /* the comm is closed */ }
  };
}
