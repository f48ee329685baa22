// A plot frame shared by the views: toolbar, canvas + SVG overlay, legend, tooltip, message,
// theme following, HiDPI sizing, and pan / zoom / box / lasso interaction.

import { h, s } from "./dom";
import type { Point } from "./selection";
import { paintTheme, resolveTheme, watchTheme, type Theme } from "./theme";

export type Tool = "lasso" | "box" | "pan";

export interface FrameHooks {
  onZoom?(factor: number, x: number, y: number): void;
  onPan?(dx: number, dy: number): void;
  onPolygon?(poly: Point[]): void;
  onClick?(x: number, y: number): void;
  onHover?(x: number, y: number): void;
  onLeave?(): void;
  onResize?(): void;
  /** The toolbar's reset button (the fitted frame, by default the same as a resize). */
  onReset?(): void;
  onTheme?(): void;
}

export class Frame {
  readonly root: HTMLDivElement;
  readonly bar: HTMLDivElement;
  readonly plot: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly svg: SVGSVGElement;
  readonly overlay: SVGGElement;
  readonly lassoPath: SVGPathElement;
  readonly legend: HTMLDivElement;
  readonly tip: HTMLDivElement;
  readonly msg: HTMLDivElement;
  readonly note: HTMLDivElement;
  private raf = 0;
  private noteTimer: ReturnType<typeof setTimeout> | null = null;
  tool: Tool = "lasso";
  theme: Theme;
  width = 400;
  height = 300;
  private cleanups: (() => void)[] = [];
  private toolButtons = new Map<Tool, HTMLButtonElement>();

  constructor(el: HTMLElement, themeSetting: string, height: number, private hooks: FrameHooks, tools: Tool[] = ["lasso", "box", "pan"]) {
    this.root = h("div", { class: "gw-root" });
    this.bar = h("div", { class: "gw-bar" });
    this.plot = h("div", { class: "gw-plot" });
    this.canvas = h("canvas", { class: "gw-canvas" });
    this.svg = s("svg");
    this.overlay = s("g");
    this.lassoPath = s("path", { fill: "rgba(120,120,120,0.15)", stroke: "currentColor", "stroke-dasharray": "4 3" });
    this.svg.append(this.overlay, this.lassoPath);
    this.tip = h("div", { class: "gw-tip" });
    this.msg = h("div", { class: "gw-msg" });
    this.legend = h("div", { class: "gw-legend" });
    this.note = h("div", { class: "gw-notice", role: "status" });
    this.plot.append(this.canvas, this.svg, this.tip, this.msg);
    this.root.append(this.bar, this.note, this.plot, this.legend);
    el.append(this.root);
    this.height = height;
    this.theme = resolveTheme(themeSetting, el);
    this.applyTheme();
    for (const t of tools) {
      const b = h("button", { "data-tool": t, title: t === "pan" ? "pan (wheel zooms)" : `${t} select` }, t);
      b.addEventListener("click", () => this.setTool(t));
      this.toolButtons.set(t, b);
      this.bar.append(b);
    }
    if (tools.length) {
      const reset = h("button", { "data-tool": "reset", title: "reset view" }, "reset");
      reset.addEventListener("click", () => (this.hooks.onReset ?? this.hooks.onResize)?.());
      this.bar.append(reset);
    }
    this.setTool(tools[0] ?? "lasso");
    this.measure();
    this.bindPointer();
    if (typeof ResizeObserver !== "undefined") {
      const ro = new ResizeObserver(() => { if (this.measure()) this.hooks.onResize?.(); });
      ro.observe(this.root);
      this.cleanups.push(() => ro.disconnect());
    }
    this.cleanups.push(watchTheme(() => { this.theme = resolveTheme(themeSetting, el); this.applyTheme(); this.hooks.onTheme?.(); }));
  }

  /** The font of the overlay's labels (10 px in the root's family), for measuring them. */
  get labelFont(): string {
    return `10px ${getComputedStyle(this.svg).fontFamily || "sans-serif"}`;
  }

  setThemeSetting(setting: string): void {
    this.theme = resolveTheme(setting, this.root);
    this.applyTheme();
  }

  private applyTheme(): void {
    paintTheme(this.root, this.theme);
  }

  /** Returns true when the size changed. */
  measure(): boolean {
    const w = Math.max(200, Math.floor(this.root.clientWidth - 8) || 480);
    const changed = w !== this.width || this.plot.style.height !== `${this.height}px`;
    this.width = w;
    this.plot.style.width = `${w}px`;
    this.plot.style.height = `${this.height}px`;
    this.svg.setAttribute("width", String(w));
    this.svg.setAttribute("height", String(this.height));
    return changed;
  }

  /** Device px per CSS px while a view draws for an export (png.ts); null: the screen's. */
  pixelRatio: number | null = null;

  get dpr(): number {
    if (this.pixelRatio) return this.pixelRatio;
    return typeof window !== "undefined" ? window.devicePixelRatio || 1 : 1;
  }

  setTool(t: Tool): void {
    this.tool = t;
    for (const [k, b] of this.toolButtons) b.classList.toggle("on", k === t);
    this.plot.style.cursor = t === "pan" ? "grab" : "crosshair";
  }

  message(text: string): void {
    this.msg.textContent = text;
    this.msg.style.display = text ? "block" : "none";
  }

  /** A transient line above the plot, e.g. a value the kernel refused. */
  notice(text: string, ms = 8000): void {
    this.note.textContent = text;
    if (this.noteTimer) clearTimeout(this.noteTimer);
    this.noteTimer = text ? setTimeout(() => { this.note.textContent = ""; }, ms) : null;
  }

  /** The tooltip near (x, y): its text, with `extra` (a thumbnail) beside it, never over
   * it; kept inside the plot, above or left of the pointer where there is no room below or
   * right of it. */
  showTip(x: number, y: number, lines: string[], extra?: HTMLElement): void {
    this.tip.replaceChildren();
    const text = h("div", { class: "gw-tip-text" }, lines.join("\n"));
    if (extra) {
      const row = h("div", { class: "gw-tip-row" });
      row.append(extra, text);
      this.tip.append(row);
    } else {
      this.tip.append(text);
    }
    this.tip.style.display = "block";
    const w = this.tip.offsetWidth || 160, hgt = this.tip.offsetHeight || 0;
    const left = x + 12 + w <= this.width ? x + 12 : x - 12 - w;
    const top = y + 12 + hgt <= this.height ? y + 12 : y - 12 - hgt;
    this.tip.style.left = `${Math.max(0, Math.min(left, this.width - w))}px`;
    this.tip.style.top = `${Math.max(0, top)}px`;
  }

  hideTip(): void {
    this.tip.style.display = "none";
  }

  private local(e: MouseEvent): Point {
    const r = this.plot.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private bindPointer(): void {
    let drag: { start: Point; last: Point; poly: Point[]; moved: boolean } | null = null;
    let hoverPending = false;
    let hoverAt: Point = [0, 0];
    // a hover waits for the next frame: one still pending when the pointer presses or leaves
    // is dropped, or its tooltip would come back after the leave hid it
    let inside = false;
    const down = (e: PointerEvent) => {
      if (e.button !== 0) return;
      const p = this.local(e);
      drag = { start: p, last: p, poly: [p], moved: false };
      this.plot.setPointerCapture?.(e.pointerId);
      this.hideTip();
    };
    const move = (e: PointerEvent) => {
      const p = this.local(e);
      if (!drag) {
        hoverAt = p;
        inside = true;
        if (!hoverPending) {
          hoverPending = true;
          requestAnimationFrame(() => { hoverPending = false; if (inside && !drag) this.hooks.onHover?.(hoverAt[0], hoverAt[1]); });
        }
        return;
      }
      if (Math.hypot(p[0] - drag.start[0], p[1] - drag.start[1]) > 3) drag.moved = true;
      const tool = e.shiftKey ? "pan" : this.tool;
      if (tool === "pan") {
        this.hooks.onPan?.(p[0] - drag.last[0], p[1] - drag.last[1]);
      } else if (tool === "lasso") {
        drag.poly.push(p);
        this.lassoPath.setAttribute("d", `M${drag.poly.map((q) => q.join(",")).join("L")}Z`);
      } else {
        const [a, b] = [drag.start, p];
        drag.poly = [a, [b[0], a[1]], b, [a[0], b[1]]];
        this.lassoPath.setAttribute("d", `M${drag.poly.map((q) => q.join(",")).join("L")}Z`);
      }
      drag.last = p;
    };
    const up = (e: PointerEvent) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      this.lassoPath.setAttribute("d", "");
      const tool = e.shiftKey ? "pan" : this.tool;
      if (!d.moved) { this.hooks.onClick?.(d.start[0], d.start[1]); return; }
      if (tool !== "pan" && d.poly.length >= 3) this.hooks.onPolygon?.(d.poly);
    };
    const wheel = (e: WheelEvent) => {
      if (!this.hooks.onZoom) return;
      e.preventDefault();
      const p = this.local(e);
      this.hooks.onZoom(Math.exp(-e.deltaY * 0.0015), p[0], p[1]);
    };
    const leave = () => { inside = false; this.hideTip(); this.hooks.onLeave?.(); };
    this.plot.addEventListener("pointerdown", down);
    this.plot.addEventListener("pointermove", move);
    this.plot.addEventListener("pointerup", up);
    this.plot.addEventListener("wheel", wheel, { passive: false });
    this.plot.addEventListener("pointerleave", leave);
    this.cleanups.push(() => {
      this.plot.removeEventListener("pointerdown", down);
      this.plot.removeEventListener("pointermove", move);
      this.plot.removeEventListener("pointerup", up);
      this.plot.removeEventListener("wheel", wheel);
      this.plot.removeEventListener("pointerleave", leave);
    });
  }

  /** Coalesces redraw requests into one per animation frame; destroy() cancels a pending one. */
  requestDraw(draw: () => void): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; draw(); });
  }

  /** Sizes the canvas for a 2-D context at the device pixel ratio, fills the background and
   * clears the overlay: the start of every Canvas2D view's draw. */
  clear2d(ctx: CanvasRenderingContext2D): void {
    const W = this.width, H = this.height, dpr = this.dpr;
    this.canvas.width = Math.round(W * dpr); this.canvas.height = Math.round(H * dpr);
    this.canvas.style.width = `${W}px`; this.canvas.style.height = `${H}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = this.theme.bg;
    ctx.fillRect(0, 0, W, H);
    this.overlay.replaceChildren();
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.noteTimer) clearTimeout(this.noteTimer);
    for (const c of this.cleanups.splice(0)) c();
    this.root.remove();
  }
}
