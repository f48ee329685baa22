// The point layer: WebGL2 with a Canvas2D fallback. Attributes are bound straight to the slab
// buffers at a byte offset, so switching a slice re-points attributes instead of re-uploading.
// In polar mode the vertex shader turns (theta, rho) into x, y. Every frame is drawn as points
// with an opacity that adapts to the points in view, or, above a threshold, in density mode
// (density.ts); a selection is drawn on top of the rest, at full colour.

import { categorical, hexToRgb, lut, MISSING, type RGB, type ScaleKind } from "./colors";
import { binGrid as binGridOf, binXY, densityPlan, HIDDEN, DEFAULT_THRESHOLD, GpuDensity, nearestTexture, shadeBins, type Bins, type DensityPlan, type DensitySetting } from "./density";
import type { Camera } from "./scales";

export type ColorMode = "category" | "correct" | "continuous" | "custom-category";

export interface AttrRef {
  key: string; // GPU buffer key
  data: Float32Array | Int32Array | Uint8Array; // the full buffer the key holds
  offset: number; // element offset of this slice
}

export interface DrawSpec {
  n: number;
  polar: boolean;
  rscale: number; // multiplies rho in polar mode
  x: AttrRef; // theta (radians) or x
  y: AttrRef; // rho or y
  label: AttrRef | null; // int32 classes, for the class mask (null: all visible)
  cat: AttrRef | null; // int32 category (label or pred) for category / correct modes
  val: AttrRef | null; // float32 value for continuous / custom-category modes
  sel: Uint8Array | null; // per point 0/1, null when nothing is selected
  mode: ColorMode;
  scale: ScaleKind; // for continuous
  domain: [number, number];
  palette: string[]; // categorical colours
  classVisible: Uint8Array; // per class 0/1
  camera: Camera;
  size: number; // CSS px
  ok: string;
  bad: string;
  /** Points inside the view (all drawn points when omitted): drives opacity and density. */
  inView?: number;
  /** Density mode: "auto" above `threshold` points in view ("off" when omitted). */
  density?: DensitySetting;
  threshold?: number;
}

// The vertex shader is specialised per (polar, colour mode, class mask, selection pass,
// density) with #defines, so the common case runs no untaken branches (cheaper under software
// GL). SEL_PASS 1 draws only the unselected points, dimmed; SEL_PASS 2 only the selected ones.
// DENSITY 1 writes each point's colour into its bin of the density texture (density.ts).
const VS_BODY = `
precision highp float; precision highp int; precision highp sampler2D;
layout(location=0) in float a_x; layout(location=1) in float a_y;
layout(location=2) in uint a_label; layout(location=3) in uint a_cat;
layout(location=4) in float a_val; layout(location=5) in float a_sel;
uniform float u_rscale; uniform vec2 u_view; uniform vec3 u_cam;
uniform float u_size; uniform vec2 u_domain; uniform float u_alpha;
uniform float u_bin; uniform vec2 u_bins;
uniform int u_classW; uniform int u_npal;
uniform sampler2D u_classes; uniform sampler2D u_lut; uniform sampler2D u_pal;
uniform vec3 u_missing; uniform vec3 u_ok; uniform vec3 u_bad;
flat out vec4 v_color;
bool bad(float v) { return (floatBitsToUint(v) & 0x7f800000u) == 0x7f800000u; }
vec4 classTexel(int i) { return texelFetch(u_classes, ivec2(i % u_classW, i / u_classW), 0); }
void main() {
  float x = a_x; float y = a_y;
#if POLAR
  float r = a_y * u_rscale; x = r * cos(a_x); y = r * sin(a_x);
#endif
  bool vis = !(bad(a_x) || bad(a_y));
#if USE_LABEL
  vis = vis && classTexel(int(a_label)).a > 0.5;
#endif
  vec3 c = u_missing;
#if MODE == 0
  c = a_cat != 0xFFFFFFFFu ? classTexel(int(a_cat)).rgb : u_missing;
#elif MODE == 1
  c = a_label == a_cat ? u_ok : u_bad;
#elif MODE == 2
  if (!bad(a_val)) { float t = clamp((a_val - u_domain.x) / (u_domain.y - u_domain.x), 0.0, 1.0);
    c = texelFetch(u_lut, ivec2(int(t * 255.0 + 0.5), 0), 0).rgb; }
#else
  if (!bad(a_val)) { int k = int(a_val); k = ((k % u_npal) + u_npal) % u_npal; c = texelFetch(u_pal, ivec2(k, 0), 0).rgb; }
#endif
  float alpha = u_alpha;
#if SEL_PASS == 1
  vis = vis && a_sel < 0.5; c = mix(c, vec3(0.6), 0.6); alpha *= 0.35;
#elif SEL_PASS == 2
  vis = vis && a_sel > 0.5; alpha = 1.0;
#endif
  vec2 px = vec2(u_cam.y + u_cam.x * x, u_cam.z - u_cam.x * y);
#if DENSITY
  vec2 b = floor(px / u_bin);
  vis = vis && b.x >= 0.0 && b.y >= 0.0 && b.x < u_bins.x && b.y < u_bins.y;
  v_color = vec4(c, 1.0);
  gl_Position = vis ? vec4((b + 0.5) / u_bins * 2.0 - 1.0, 0.0, 1.0) : vec4(9.0, 9.0, 9.0, 1.0);
  gl_PointSize = 1.0;
#else
  v_color = vec4(c, alpha);
  gl_Position = vis ? vec4(px.x / u_view.x * 2.0 - 1.0, 1.0 - px.y / u_view.y * 2.0, 0.0, 1.0) : vec4(9.0, 9.0, 9.0, 1.0);
  gl_PointSize = vis ? u_size : 0.0;
#endif
}`;

export interface ShaderVariant {
  polar: boolean;
  mode: number; // 0 category, 1 correct, 2 continuous, 3 custom category
  useLabel: boolean;
  selPass: 0 | 1 | 2;
  density: boolean;
}

export function vertexShader(v: ShaderVariant): string {
  return `#version 300 es
#define POLAR ${v.polar ? 1 : 0}
#define MODE ${v.mode}
#define USE_LABEL ${v.useLabel ? 1 : 0}
#define SEL_PASS ${v.selPass}
#define DENSITY ${v.density ? 1 : 0}
${VS_BODY}`;
}

// Points of 5 device px and more are round; smaller ones stay square (a disc of a few px loses
// its corners and with them most of its area).
function fragmentShader(round: boolean, density: boolean): string {
  return `#version 300 es
precision mediump float;
flat in vec4 v_color; out vec4 o;
void main() {
#if ${round && !density ? 1 : 0}
  vec2 d = gl_PointCoord - 0.5; if (dot(d, d) > 0.25) discard;
#endif
#if ${density ? 1 : 0}
  o = v_color;
#else
  o = vec4(v_color.rgb * v_color.a, v_color.a);
#endif
}`;
}

const CLASS_W = 4096;

const pack = (c: RGB): number => (c[0] << 16) | (c[1] << 8) | c[2];
const DIM = 0.6; // unselected points move this far towards grey (153)

/**
 * The CPU side of the vertex shader (Canvas2D fallback, CPU binning): `at(i, out)` writes point
 * i's CSS position into out[0], out[1] and returns its packed 0xRRGGBB colour (dimmed when
 * `dimmed`), or -1 when it is hidden (not finite, or its class is hidden).
 */
export function cpuPoints(spec: DrawSpec, dimmed = false): (i: number, out: Float64Array) => number {
  const { x, y, label, cat, val, camera } = spec;
  const nClass = spec.classVisible.length;
  const pal = spec.palette.length ? spec.palette.length : 20;
  const palette = Int32Array.from({ length: Math.max(pal, nClass) }, (_, i) => pack(categorical(i, spec.palette)));
  const table = lut(spec.scale);
  const missing = pack(hexToRgb(MISSING)), ok = pack(hexToRgb(spec.ok)), bad = pack(hexToRgb(spec.bad));
  const [d0, d1] = spec.domain;
  const mode = spec.mode;
  const dim = (c: number) => dimmed
    ? pack([(c >> 16) & 255, (c >> 8) & 255, c & 255].map((v) => Math.round(v * (1 - DIM) + 153 * DIM)) as RGB)
    : c;
  return (i, out) => {
    let px = x.data[x.offset + i], py = y.data[y.offset + i];
    if (!Number.isFinite(px) || !Number.isFinite(py)) return -1;
    const lab = label ? label.data[label.offset + i] : -1;
    if (lab >= 0 && lab < nClass && !spec.classVisible[lab]) return -1;
    if (spec.polar) { const r = py * spec.rscale; const t = px; px = r * Math.cos(t); py = r * Math.sin(t); }
    out[0] = camera.ox + camera.scale * px;
    out[1] = camera.oy - camera.scale * py;
    let c = missing;
    if (mode === "category") {
      const k = cat ? cat.data[cat.offset + i] : 0;
      if (k >= 0) c = palette[k % palette.length];
    } else if (mode === "correct") {
      c = lab === (cat ? cat.data[cat.offset + i] : 0) ? ok : bad;
    } else {
      const v = val ? val.data[val.offset + i] : NaN;
      if (Number.isFinite(v)) {
        if (mode === "custom-category") c = palette[((Math.trunc(v) % pal) + pal) % pal];
        else {
          const t = Math.min(1, Math.max(0, (v - d0) / (d1 - d0)));
          const o = Math.round(t * 255) * 4;
          c = (table[o] << 16) | (table[o + 1] << 8) | table[o + 2];
        }
      }
    }
    return dim(c);
  };
}

/** CPU colour of point i; null when hidden. */
export function pointColor(spec: DrawSpec, i: number): RGB | null {
  const c = cpuPoints(spec)(i, new Float64Array(2));
  return c < 0 ? null : [(c >> 16) & 255, (c >> 8) & 255, c & 255];
}

/** Points of `spec` inside a `width` x `height` CSS px view. Above `cap` points it counts a
 * regular sample of `cap` of them and scales up: an estimate, good enough for the opacity rule
 * and the density switch, at a bounded cost per frame. */
export function pointsInView(spec: DrawSpec, width: number, height: number, cap = 100_000): number {
  const step = Math.max(1, Math.floor(spec.n / cap));
  const at = cpuPoints(spec);
  const p = new Float64Array(2);
  let hits = 0, seen = 0;
  for (let i = 0; i < spec.n; i += step) {
    seen++;
    if (at(i, p) >= 0 && p[0] >= 0 && p[1] >= 0 && p[0] < width && p[1] < height) hits++;
  }
  return seen ? Math.round((hits / seen) * spec.n) : 0;
}

/** Screen position (CSS px) of point i; null when not finite. */
export function pointScreen(spec: DrawSpec, i: number): [number, number] | null {
  let x = spec.x.data[spec.x.offset + i];
  let y = spec.y.data[spec.y.offset + i];
  if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
  if (spec.polar) { const r = y * spec.rscale; const t = x; x = r * Math.cos(t); y = r * Math.sin(t); }
  return [spec.camera.ox + spec.camera.scale * x, spec.camera.oy - spec.camera.scale * y];
}

/** Data-space x, y of every point (polar: rho cos theta, rho sin theta; rho times rscale). */
export function dataXY(spec: DrawSpec): { xs: Float32Array; ys: Float32Array } {
  const { x, y, n } = spec;
  const xs = new Float32Array(n), ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = x.data[x.offset + i], b = y.data[y.offset + i];
    if (spec.polar) { const r = b * spec.rscale; xs[i] = r * Math.cos(a); ys[i] = r * Math.sin(a); } else { xs[i] = a; ys[i] = b; }
  }
  return { xs, ys };
}

/**
 * The vertex shader's colour rule on the CPU, as an index per point into a small table of
 * r, g, b (0..1): palette entries, ok / bad, or the 256 steps of a continuous map, then the
 * missing colour. HIDDEN marks points not drawn: not finite, of a hidden class, or for which
 * `skip(i)` is true. `dimmed` moves the table towards grey, as for unselected points.
 */
export function colorIndex(spec: DrawSpec, dimmed: boolean, skip?: (i: number) => boolean): { index: Uint16Array; table: Float32Array } {
  const { x, y, label, cat, val, n } = spec;
  const nClass = spec.classVisible.length;
  const pal = spec.palette.length ? spec.palette.length : 20;
  const lutTable = lut(spec.scale);
  let colors: RGB[];
  if (spec.mode === "category") colors = Array.from({ length: Math.max(pal, nClass) }, (_, i) => categorical(i, spec.palette));
  else if (spec.mode === "correct") colors = [hexToRgb(spec.ok), hexToRgb(spec.bad)];
  else if (spec.mode === "continuous") colors = Array.from({ length: 256 }, (_, i) => [lutTable[i * 4], lutTable[i * 4 + 1], lutTable[i * 4 + 2]] as RGB);
  else colors = Array.from({ length: pal }, (_, i) => categorical(i, spec.palette));
  const missing = colors.length;
  colors.push(hexToRgb(MISSING));
  const table = new Float32Array(colors.length * 3);
  colors.forEach((c, i) => c.forEach((v, ch) => { table[i * 3 + ch] = dimmed ? (v * (1 - DIM) + 153 * DIM) / 255 : v / 255; }));
  const index = new Uint16Array(n);
  const [d0, d1] = spec.domain;
  for (let i = 0; i < n; i++) {
    const lab = label ? label.data[label.offset + i] : -1;
    if (!Number.isFinite(x.data[x.offset + i]) || !Number.isFinite(y.data[y.offset + i])
      || (lab >= 0 && lab < nClass && !spec.classVisible[lab]) || (skip && skip(i))) { index[i] = HIDDEN; continue; }
    let c = missing;
    if (spec.mode === "category") {
      const k = cat ? cat.data[cat.offset + i] : 0;
      if (k >= 0) c = k % missing;
    } else if (spec.mode === "correct") {
      c = lab === (cat ? cat.data[cat.offset + i] : 0) ? 0 : 1;
    } else {
      const v = val ? val.data[val.offset + i] : NaN;
      if (Number.isFinite(v)) {
        c = spec.mode === "custom-category" ? ((Math.trunc(v) % pal) + pal) % pal
          : Math.round(Math.min(1, Math.max(0, (v - d0) / (d1 - d0))) * 255);
      }
    }
    index[i] = c;
  }
  return { index, table };
}

/** A value computed from some arrays and settings, kept while they stay the same. */
class Memo<T> {
  private key = "";
  private refs: unknown[] = [];
  private value: T | null = null;
  get(key: string, refs: unknown[], make: () => T): T {
    if (this.value === null || key !== this.key || refs.length !== this.refs.length || refs.some((r, i) => r !== this.refs[i])) {
      this.value = make();
      this.key = key;
      this.refs = refs;
    }
    return this.value;
  }
}

export class PointLayer {
  readonly canvas: HTMLCanvasElement;
  readonly gl: WebGL2RenderingContext | null;
  private ctx2d: CanvasRenderingContext2D | null = null;
  private prog: WebGLProgram | null = null;
  private programs = new Map<string, WebGLProgram>();
  private vao: WebGLVertexArrayObject | null = null;
  private buffers = new Map<string, { buf: WebGLBuffer; data: ArrayBufferView }>();
  private selBuf: WebGLBuffer | null = null;
  private pendingFull = new Map<string, AttrRef["data"]>();
  private sliceOffsets = new Map<string, number>();
  private fullTimer: ReturnType<typeof setTimeout> | null = null;
  /** Upload only the drawn slice first and the full slab after the frame. */
  deferFull = true;
  private tex: Record<string, WebGLTexture> = {};
  private lutKind: ScaleKind | null = null;
  private npal = 20;
  private uniformsByProg = new Map<WebGLProgram, Map<string, WebGLUniformLocation | null>>();
  private density: GpuDensity | null = null;
  private cpuBins: Bins | null = null;
  private forceBins: "gpu" | "cpu" | null;
  private fence: WebGLSync | null = null;
  private positions = new Memo<{ xs: Float32Array; ys: Float32Array }>();
  private colors = new Memo<{ index: Uint16Array; table: Float32Array }>();
  width = 0;
  height = 0;
  dpr = 1;
  uploads = 0;
  /** How the last frame was drawn: points (at what opacity) or density (with what bins). */
  plan: DensityPlan = { mode: "points", alpha: 1, bin: 1 };

  constructor(canvas: HTMLCanvasElement, opts: { forceCanvas2d?: boolean; bins?: "gpu" | "cpu" } = {}) {
    // tests and benchmarks choose where density bins are filled; by default GpuDensity decides
    const g = globalThis as { __geowidgetCpuBins?: boolean; __geowidgetGpuBins?: boolean };
    this.forceBins = opts.bins ?? (g.__geowidgetCpuBins ? "cpu" : g.__geowidgetGpuBins ? "gpu" : null);
    this.canvas = canvas;
    let gl: WebGL2RenderingContext | null = null;
    if (!opts.forceCanvas2d) {
      try {
        gl = canvas.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false, premultipliedAlpha: true }) as WebGL2RenderingContext | null;
      } catch {
        gl = null; // a client without WebGL2 (or with it blocked): draw with Canvas2D
      }
    }
    this.gl = gl;
    if (gl) this.initGL(gl);
    else this.ctx2d = canvas.getContext("2d");
  }

  get backend(): "webgl2" | "canvas2d" {
    return this.gl ? "webgl2" : "canvas2d";
  }

  private initGL(gl: WebGL2RenderingContext): void {
    this.vao = gl.createVertexArray();
    this.selBuf = gl.createBuffer();
    for (const name of ["classes", "lut", "pal"]) this.tex[name] = nearestTexture(gl);
  }

  /** The program for one shader variant, compiled on first use. */
  private program(key: string, vs: string, fs: string): WebGLProgram {
    const hit = this.programs.get(key);
    if (hit) return hit;
    const gl = this.gl!;
    const compile = (type: number, src: string) => {
      const sh = gl.createShader(type)!;
      gl.shaderSource(sh, src);
      gl.compileShader(sh);
      return sh;
    };
    const p = gl.createProgram()!;
    const shaders = [compile(gl.VERTEX_SHADER, vs), compile(gl.FRAGMENT_SHADER, fs)];
    for (const sh of shaders) gl.attachShader(p, sh);
    gl.linkProgram(p);
    this.programs.set(key, p);
    // Asking for the status waits until the GPU process has compiled the program, so it is
    // asked once the frame that uses it has been sent: the page goes on meanwhile. A program
    // that failed draws nothing and throws there, with the compiler's log.
    setTimeout(() => {
      if (gl.isContextLost() || gl.getProgramParameter(p, gl.LINK_STATUS)) return;
      const log = shaders.map((sh) => gl.getShaderInfoLog(sh)).filter(Boolean).join("\n");
      throw new Error(`geowidget: a WebGL program failed to build: ${log || gl.getProgramInfoLog(p)}`);
    }, 0);
    return p;
  }

  private u(name: string): WebGLUniformLocation | null {
    let per = this.uniformsByProg.get(this.prog!);
    if (!per) { per = new Map(); this.uniformsByProg.set(this.prog!, per); }
    if (!per.has(name)) per.set(name, this.gl!.getUniformLocation(this.prog!, name));
    return per.get(name)!;
  }

  /** Size the drawing buffer for CSS size w x h at the device pixel ratio (HiDPI). */
  resize(w: number, h: number, dpr: number): void {
    if (w === this.width && h === this.height && dpr === this.dpr && this.canvas.width === Math.max(1, Math.round(w * dpr))) return;
    this.width = w; this.height = h; this.dpr = dpr;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
  }

  /**
   * The GL buffer and byte offset for an attribute. A full slab buffer is uploaded once per
   * (key, array) pair, after which switching slices only moves the attribute offset. Until
   * then (the first frame) just the drawn slice is uploaded, and the full slab follows in a
   * task after the frame, so the first frame costs no more upload than a raw frame.
   */
  private buffer(ref: AttrRef, n: number): { buf: WebGLBuffer; offset: number } {
    const gl = this.gl!;
    const width = ref.data.BYTES_PER_ELEMENT;
    const hit = this.buffers.get(ref.key);
    if (hit && hit.data === ref.data) return { buf: hit.buf, offset: ref.offset * width };
    const whole = ref.offset === 0 && ref.data.length === n;
    if (whole || !this.deferFull) {
      const buf = hit?.buf ?? gl.createBuffer()!;
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, ref.data, gl.STATIC_DRAW);
      this.uploads++;
      this.buffers.set(ref.key, { buf, data: ref.data });
      return { buf, offset: ref.offset * width };
    }
    const sliceKey = `${ref.key}#slice`;
    const prev = this.buffers.get(sliceKey);
    const buf = prev?.buf ?? gl.createBuffer()!;
    const part = ref.data.subarray(ref.offset, ref.offset + n);
    if (!prev || prev.data !== ref.data || this.sliceOffsets.get(sliceKey) !== ref.offset) {
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, part, gl.STATIC_DRAW);
      this.uploads++;
      this.buffers.set(sliceKey, { buf, data: ref.data });
      this.sliceOffsets.set(sliceKey, ref.offset);
    }
    this.pendingFull.set(ref.key, ref.data);
    if (!this.fullTimer) {
      this.fullTimer = setTimeout(() => this.uploadPending(), 0);
    }
    return { buf, offset: 0 };
  }

  private uploadPending(): void {
    this.fullTimer = null;
    const gl = this.gl;
    if (!gl) return;
    for (const [key, data] of this.pendingFull) {
      const hit = this.buffers.get(key);
      if (hit && hit.data === data) continue;
      const buf = hit?.buf ?? gl.createBuffer()!;
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
      this.uploads++;
      this.buffers.set(key, { buf, data });
    }
    this.pendingFull.clear();
  }

  private uploadTextures(spec: DrawSpec): void {
    const gl = this.gl!;
    const nClass = Math.max(spec.classVisible.length, 1);
    const h = Math.ceil(nClass / CLASS_W);
    const w = Math.min(nClass, CLASS_W);
    const classes = new Uint8Array(w * h * 4);
    for (let i = 0; i < nClass; i++) {
      const c = categorical(i, spec.palette);
      classes.set([c[0], c[1], c[2], spec.classVisible[i] ?? 1 ? 255 : 0], i * 4);
    }
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.tex.classes);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, classes);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.tex.lut);
    if (spec.mode === "continuous" && this.lutKind !== spec.scale) { // only continuous colours read it
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, lut(spec.scale));
      this.lutKind = spec.scale;
    }
    const pal = spec.palette.length ? spec.palette : null;
    const npal = pal ? pal.length : 20;
    const palData = new Uint8Array(npal * 4);
    for (let i = 0; i < npal; i++) {
      const c = categorical(i, spec.palette);
      palData.set([c[0], c[1], c[2], 255], i * 4);
    }
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.tex.pal);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, npal, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, palData);
    this.npal = npal;
  }

  draw(spec: DrawSpec, background: string): void {
    this.plan = densityPlan(spec.density ?? "off", spec.threshold ?? DEFAULT_THRESHOLD, spec.inView ?? spec.n,
      spec.size, this.width, this.height);
    this.cpuBins = null;
    if (this.gl) this.drawGL(spec, background);
    else this.draw2d(spec, background);
  }

  /** The bins of the last density frame (counts and summed colours), or null in points mode. */
  bins(): Bins | null {
    if (this.plan.mode !== "density") return null;
    return this.cpuBins ?? this.density?.read() ?? null;
  }

  private drawGL(spec: DrawSpec, background: string): void {
    const gl = this.gl!;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    const bg = hexToRgb(background);
    gl.clearColor(bg[0] / 255, bg[1] / 255, bg[2] / 255, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (spec.n === 0) return;
    const plan = this.plan;
    const mode = { category: 0, correct: 1, continuous: 2, "custom-category": 3 }[spec.mode];
    const allVisible = spec.classVisible.every((v) => v === 1);
    const useLabel = !!spec.label && !allVisible;
    const variant = (selPass: 0 | 1 | 2, density: boolean) => {
      const v: ShaderVariant = { polar: spec.polar, mode, useLabel, selPass, density };
      const round = !density && spec.size * this.dpr >= 5;
      const key = `${+v.polar}${v.mode}${+v.useLabel}${v.selPass}${+density}${+round}`;
      this.prog = this.program(key, vertexShader(v), fragmentShader(round, density));
      gl.useProgram(this.prog);
    };
    const density = plan.mode === "density";
    if (density) this.density ??= new GpuDensity(gl, (key, vs, fs) => this.program(key, vs, fs), this.forceBins);
    // bins filled on the CPU need no vertex buffers; points (and the GPU's bins) do
    if (!density || this.density!.gpuBinning || spec.sel) {
      variant(spec.sel ? 1 : 0, density);
      gl.bindVertexArray(this.vao);
      this.bindAttributes(spec, allVisible);
      this.uploadTextures(spec);
    }
    const passes: [0 | 1 | 2, boolean][] = spec.sel ? [[1, density], [2, false]] : [[0, density]];
    for (const [selPass, dens] of passes) {
      if (dens) { this.drawDensity(spec, plan, variant); continue; }
      variant(selPass, false);
      this.setUniforms(spec, plan);
      gl.enable(gl.BLEND);
      gl.blendEquation(gl.FUNC_ADD);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      gl.bindVertexArray(this.vao);
      gl.drawArrays(gl.POINTS, 0, spec.n);
    }
    gl.bindVertexArray(null);
    this.submit(gl);
  }

  /** Start the GPU on the frame now, so it draws while the page builds the rest of the view.
   * A flush alone may leave the commands queued (software GL does, until something reads the
   * canvas); a fence makes them go. */
  private submit(gl: WebGL2RenderingContext): void {
    if (this.fence) gl.deleteSync(this.fence);
    this.fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    gl.flush();
  }

  /** Where the last density frame's bins were filled. */
  get binning(): "gpu" | "cpu" {
    return this.gl && this.density?.gpuBinning ? "gpu" : "cpu";
  }

  private drawDensity(spec: DrawSpec, plan: DensityPlan, variant: (selPass: 0 | 1 | 2, density: boolean) => void): void {
    const gl = this.gl!;
    const d = this.density!;
    if (d.gpuBinning) {
      variant(spec.sel ? 1 : 0, true);
      this.setUniforms(spec, plan);
      const { w, h } = binGridOf(this.width, this.height, plan.bin);
      d.begin(w, h, plan.bin);
      gl.uniform2f(this.u("u_bins"), w, h);
      gl.bindVertexArray(this.vao);
      gl.drawArrays(gl.POINTS, 0, spec.n);
    } else {
      this.cpuBins = this.binOnCpu(spec, plan);
      d.upload(this.cpuBins);
    }
    d.finish(this.canvas.width, this.canvas.height, this.dpr);
  }

  /** Bins on the CPU, from positions and colours kept per cell (a zoom or pan only re-bins). */
  private binOnCpu(spec: DrawSpec, plan: DensityPlan): Bins {
    const { x, y, cat, val, label, sel } = spec;
    const { xs, ys } = this.positions.get(`${spec.polar}|${x.key}|${x.offset}|${y.key}|${y.offset}|${spec.rscale}|${spec.n}`,
      [x.data, y.data], () => dataXY(spec));
    const key = JSON.stringify([spec.mode, cat?.key, cat?.offset, val?.key, val?.offset, label?.key, label?.offset, x.offset,
      y.offset, spec.palette, Array.from(spec.classVisible), spec.domain, spec.scale, spec.ok, spec.bad, spec.n]);
    const { index, table } = this.colors.get(key, [cat?.data, val?.data, label?.data, x.data, y.data, sel],
      () => colorIndex(spec, !!sel, sel ? (i) => sel[i] !== 0 : undefined));
    return binXY(xs, ys, index, table, spec.camera, this.width, this.height, plan.bin);
  }

  private bindAttributes(spec: DrawSpec, allVisible: boolean): void {
    const gl = this.gl!;
    const bindF = (loc: number, ref: AttrRef | null, fallback = 0) => {
      if (!ref) { gl.disableVertexAttribArray(loc); gl.vertexAttrib1f(loc, fallback); return; }
      const { buf, offset } = this.buffer(ref, spec.n);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 1, gl.FLOAT, false, 0, offset);
    };
    const bindI = (loc: number, ref: AttrRef | null) => {
      if (!ref) { gl.disableVertexAttribArray(loc); gl.vertexAttribI4ui(loc, 0xffffffff, 0, 0, 0); return; }
      const { buf, offset } = this.buffer(ref, spec.n);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.enableVertexAttribArray(loc);
      const u8 = ref.data instanceof Uint8Array;
      // class indices are >= 0, so int32 bits read as uint32 are the same numbers
      gl.vertexAttribIPointer(loc, 1, u8 ? gl.UNSIGNED_BYTE : gl.UNSIGNED_INT, 0, offset);
    };
    bindF(0, spec.x);
    bindF(1, spec.y);
    // with every class shown and no "correct" mode the label attribute is not read: skip it
    bindI(2, allVisible && spec.mode !== "correct" ? null : spec.label);
    bindI(3, spec.cat);
    bindF(4, spec.val, NaN);
    if (spec.sel) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.selBuf);
      gl.bufferData(gl.ARRAY_BUFFER, spec.sel, gl.DYNAMIC_DRAW);
      gl.enableVertexAttribArray(5);
      gl.vertexAttribPointer(5, 1, gl.UNSIGNED_BYTE, false, 0, 0);
    } else {
      gl.disableVertexAttribArray(5);
      gl.vertexAttrib1f(5, 0);
    }
  }

  private setUniforms(spec: DrawSpec, plan: DensityPlan): void {
    const gl = this.gl!;
    gl.uniform1i(this.u("u_classes"), 0);
    gl.uniform1i(this.u("u_lut"), 1);
    gl.uniform1i(this.u("u_pal"), 2);
    gl.uniform1i(this.u("u_classW"), CLASS_W);
    gl.uniform1i(this.u("u_npal"), this.npal);
    gl.uniform1f(this.u("u_rscale"), spec.rscale);
    gl.uniform2f(this.u("u_view"), this.width, this.height);
    gl.uniform3f(this.u("u_cam"), spec.camera.scale, spec.camera.ox, spec.camera.oy);
    gl.uniform1f(this.u("u_size"), spec.size * this.dpr);
    gl.uniform1f(this.u("u_alpha"), plan.alpha);
    gl.uniform1f(this.u("u_bin"), plan.bin);
    gl.uniform2f(this.u("u_domain"), spec.domain[0], spec.domain[1]);
    const m = hexToRgb(MISSING), ok = hexToRgb(spec.ok), bad = hexToRgb(spec.bad);
    gl.uniform3f(this.u("u_missing"), m[0] / 255, m[1] / 255, m[2] / 255);
    gl.uniform3f(this.u("u_ok"), ok[0] / 255, ok[1] / 255, ok[2] / 255);
    gl.uniform3f(this.u("u_bad"), bad[0] / 255, bad[1] / 255, bad[2] / 255);
  }

  private draw2d(spec: DrawSpec, background: string): void {
    const ctx = this.ctx2d;
    if (!ctx) return;
    const W = this.canvas.width, H = this.canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, W, H);
    if (spec.n === 0) return;
    const img = ctx.getImageData(0, 0, W, H);
    const px = img.data;
    const plan = this.plan;
    const sel = spec.sel;
    if (plan.mode === "density") {
      this.cpuBins = this.binOnCpu(spec, plan);
      shadeBins(this.cpuBins, px, W, H, this.dpr);
    }
    const s = Math.max(1, Math.round(spec.size * this.dpr));
    const half = s / 2;
    const p = new Float64Array(2);
    const paint = (pass: 0 | 1 | 2) => {
      const at = cpuPoints(spec, pass === 1);
      const a = pass === 2 ? 1 : pass === 1 ? 0.35 * plan.alpha : plan.alpha;
      for (let i = 0; i < spec.n; i++) {
        if (pass === 1 && sel![i] !== 0) continue;
        if (pass === 2 && sel![i] !== 1) continue;
        const c = at(i, p);
        if (c < 0) continue;
        const r = (c >> 16) & 255, g = (c >> 8) & 255, b = c & 255;
        const x0 = Math.round(p[0] * this.dpr - half), y0 = Math.round(p[1] * this.dpr - half);
        for (let dy = 0; dy < s; dy++) {
          const yy = y0 + dy;
          if (yy < 0 || yy >= H) continue;
          for (let dx = 0; dx < s; dx++) {
            const xx = x0 + dx;
            if (xx < 0 || xx >= W) continue;
            const o = (yy * W + xx) * 4;
            px[o] = Math.round(r * a + px[o] * (1 - a));
            px[o + 1] = Math.round(g * a + px[o + 1] * (1 - a));
            px[o + 2] = Math.round(b * a + px[o + 2] * (1 - a));
            px[o + 3] = 255;
          }
        }
      }
    };
    if (plan.mode === "points") paint(sel ? 1 : 0);
    if (sel) paint(2);
    ctx.putImageData(img, 0, 0);
  }

  destroy(): void {
    if (this.fullTimer) clearTimeout(this.fullTimer);
    this.pendingFull.clear();
    const gl = this.gl;
    if (gl) {
      for (const { buf } of this.buffers.values()) gl.deleteBuffer(buf);
      if (this.selBuf) gl.deleteBuffer(this.selBuf);
      for (const t of Object.values(this.tex)) gl.deleteTexture(t);
      if (this.fence) gl.deleteSync(this.fence);
      this.density?.destroy();
      for (const p of this.programs.values()) gl.deleteProgram(p);
      this.programs.clear();
      if (this.vao) gl.deleteVertexArray(this.vao);
      gl.getExtension("WEBGL_lose_context")?.loseContext();
    }
    this.buffers.clear();
  }
}
