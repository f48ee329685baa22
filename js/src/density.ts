// Density-aware point rendering, shared by every view drawn with the point layer (points.ts):
//
// - Points mode: an opacity that adapts to how many points are in view and how large they
//   are (regl-scatterplot's rule: the inked area times the opacity covers a fixed share of the
//   view), so a dense cloud shows its density instead of a solid blob.
// - Density mode, switched on above a point count: points are binned into square bins of
//   `bin` CSS px (the point size, so both modes have the same resolution), and each bin is
//   shaded with the mean colour of its points, counts weighted (datashader's way of mixing
//   categories), at an opacity that grows with log(count). A bin of one class keeps that
//   class's colour; a mixed bin reads as mixed (desaturated) instead of being given to its
//   majority class, which would hide minority samples (the misclassified ones, often). The
//   same accumulation serves every colour field (classes, correct / incorrect, continuous
//   maps), in one pass, whatever the number of classes.
//   On the GPU: additive blending of (r, g, b, 1) into an RGBA32F texture, a MAX reduction of
//   the counts into a 1 x 1 texture, and a shading pass over the screen, with no read-back.
//   Where float render targets or float blending are missing, on a software rasteriser (which
//   runs the "GPU" on the CPU, slower than plain JS) and in the Canvas2D fallback, the same
//   bins are filled on the CPU, and shaded by the same pass (or by shadeBins on a 2-D canvas).

export type DensitySetting = "auto" | "on" | "off";

export interface DensityPlan {
  mode: "points" | "density";
  /** Opacity of a point in points mode. */
  alpha: number;
  /** Bin side in CSS px (density mode). */
  bin: number;
}

/** Share of the view the points' inked area, times their opacity, covers in points mode. */
export const FILL = 0.3;
/** Points never get fainter than this (8-bit blending loses fainter steps). */
export const MIN_ALPHA = 1 / 16;
/** Opacity of a bin holding a single point; the fullest bin is opaque. */
export const LOW_SHADE = 0.3;
/** Points in view above which "auto" switches to density mode. */
export const DEFAULT_THRESHOLD = 100_000;

/** Opacity for `inView` points of `size` CSS px in a `width` x `height` CSS px view. */
export function adaptiveAlpha(inView: number, size: number, width: number, height: number): number {
  if (inView <= 0) return 1;
  const a = (FILL * width * height) / (inView * size * size);
  return Math.min(1, Math.max(MIN_ALPHA, a));
}

/** Points or density, the opacity, and the bin size for one frame. */
export function densityPlan(setting: DensitySetting, threshold: number, inView: number, size: number,
  width: number, height: number): DensityPlan {
  const density = setting === "on" || (setting === "auto" && inView > threshold);
  return { mode: density ? "density" : "points", alpha: adaptiveAlpha(inView, size, width, height), bin: Math.max(1, Math.round(size)) };
}

/** Opacity of a bin holding `count` points when the fullest holds `max` (the shading pass's rule). */
export function binShade(count: number, max: number): number {
  if (count <= 0) return 0;
  return LOW_SHADE + (1 - LOW_SHADE) * (Math.log(1 + count) / Math.log(1 + Math.max(1, max)));
}

/** Bins over a view: `data` holds, per bin, the sum of r, g, b (0..1) of its points and their
 * count, row by row from the top of the view (bin (bx, by) at (by * w + bx) * 4). */
export interface Bins {
  w: number;
  h: number;
  bin: number;
  data: Float32Array;
}

export function binGrid(width: number, height: number, bin: number): { w: number; h: number } {
  return { w: Math.max(1, Math.ceil(width / bin)), h: Math.max(1, Math.ceil(height / bin)) };
}

/** A colour index that skips the point (hidden, or drawn in another pass). */
export const HIDDEN = 0xffff;

/**
 * Bin points on the CPU: point i at data-space (xs[i], ys[i]) lands at CSS px (ox + s x,
 * oy - s y) under `cam`; `colors[i]` indexes `table` (r, g, b in 0..1, three per entry), and
 * HIDDEN skips it. One pass of multiply-adds per point: the positions and colours are computed
 * once per cell (points.ts), so a zoom or pan only re-bins.
 */
export function binXY(xs: Float32Array, ys: Float32Array, colors: Uint16Array, table: Float32Array,
  cam: { scale: number; ox: number; oy: number }, width: number, height: number, bin: number): Bins {
  const { w, h } = binGrid(width, height, bin);
  const data = new Float32Array(w * h * 4);
  const { scale, ox, oy } = cam;
  const n = xs.length;
  for (let i = 0; i < n; i++) {
    const c = colors[i];
    if (c === HIDDEN) continue;
    // the CSS px first, then the bin: the same operations as the vertex shader
    const bx = Math.floor((ox + scale * xs[i]) / bin), by = Math.floor((oy - scale * ys[i]) / bin);
    if (!(bx >= 0 && by >= 0 && bx < w && by < h)) continue;
    const o = (by * w + bx) * 4, t = c * 3;
    data[o] += table[t];
    data[o + 1] += table[t + 1];
    data[o + 2] += table[t + 2];
    data[o + 3] += 1;
  }
  return { w, h, bin, data };
}

export function maxCount(bins: Bins): number {
  let m = 0;
  for (let i = 3; i < bins.data.length; i += 4) if (bins.data[i] > m) m = bins.data[i];
  return m;
}

/** Shade bins into RGBA pixels (device px, `dpr` per CSS px) over an opaque background. */
export function shadeBins(bins: Bins, px: Uint8ClampedArray, W: number, H: number, dpr: number): void {
  const max = maxCount(bins);
  const { w, h, bin, data } = bins;
  for (let y = 0; y < H; y++) {
    const by = Math.floor(y / dpr / bin);
    if (by >= h) break;
    for (let x = 0; x < W; x++) {
      const bx = Math.floor(x / dpr / bin);
      if (bx >= w) break;
      const o = (by * w + bx) * 4;
      const c = data[o + 3];
      if (c <= 0) continue;
      const a = binShade(c, max);
      const q = (y * W + x) * 4;
      for (let ch = 0; ch < 3; ch++) px[q + ch] = Math.round((data[o + ch] / c) * 255 * a + px[q + ch] * (1 - a));
      px[q + 3] = 255;
    }
  }
}

// ---------------------------------------------------------------- GPU passes
const MAX_VS = `#version 300 es
precision highp float; precision highp int; precision highp sampler2D;
uniform sampler2D u_acc; uniform int u_w;
out float v_count;
void main() {
  v_count = texelFetch(u_acc, ivec2(gl_VertexID % u_w, gl_VertexID / u_w), 0).a;
  gl_Position = vec4(0.0, 0.0, 0.0, 1.0);
  gl_PointSize = 1.0;
}`;
const MAX_FS = `#version 300 es
precision highp float;
in float v_count; out vec4 o;
void main() { o = vec4(v_count); }`;

const SHADE_VS = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;
const SHADE_FS = `#version 300 es
precision highp float; precision highp int; precision highp sampler2D;
uniform sampler2D u_acc; uniform sampler2D u_max;
uniform float u_dpr; uniform float u_bin; uniform float u_hdev; uniform float u_low; uniform ivec2 u_bins;
out vec4 o;
void main() {
  vec2 css = vec2(gl_FragCoord.x, u_hdev - gl_FragCoord.y) / u_dpr;
  ivec2 b = ivec2(floor(css / u_bin));
  if (b.x >= u_bins.x || b.y >= u_bins.y) discard;
  vec4 acc = texelFetch(u_acc, b, 0);
  if (acc.a < 0.5) discard;
  float mx = max(texelFetch(u_max, ivec2(0, 0), 0).r, 1.0);
  float a = mix(u_low, 1.0, log(1.0 + acc.a) / log(1.0 + mx));
  o = vec4(acc.rgb / acc.a * a, a);
}`;

/** A WebGL implementation that rasterises on the CPU (SwiftShader, llvmpipe): there the CPU
 * bins points many times faster than its emulated GPU (benchmarks/bench_render.py). */
export function softwareRenderer(gl: WebGL2RenderingContext): boolean {
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}

/** A new 2-D texture, bound, read texel by texel: nearest filtering, edges clamped. */
export function nearestTexture(gl: WebGL2RenderingContext): WebGLTexture {
  const t = gl.createTexture()!;
  gl.bindTexture(gl.TEXTURE_2D, t);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  return t;
}

function floatTexture(gl: WebGL2RenderingContext, w: number, h: number, data: Float32Array | null): WebGLTexture {
  const t = nearestTexture(gl);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, w, h, 0, gl.RGBA, gl.FLOAT, data);
  return t;
}

/** The GPU side of density mode for one WebGL2 context. */
export class GpuDensity {
  /** Float render targets with additive (and MAX) blending: bins are filled on the GPU. */
  readonly gpuBinning: boolean;
  private acc: WebGLTexture | null = null;
  private accFbo: WebGLFramebuffer | null = null;
  private maxTex: WebGLTexture;
  private maxFbo: WebGLFramebuffer | null = null;
  private maxProg: WebGLProgram;
  private shadeProg: WebGLProgram;
  private empty: WebGLVertexArrayObject;
  private w = 0;
  private h = 0;
  bin = 1;

  constructor(private gl: WebGL2RenderingContext, compile: (key: string, vs: string, fs: string) => WebGLProgram,
    force: "gpu" | "cpu" | null = null) {
    const float = !!gl.getExtension("EXT_color_buffer_float");
    const blend = !!gl.getExtension("EXT_float_blend");
    this.gpuBinning = float && blend && force !== "cpu" && (force === "gpu" || !softwareRenderer(gl));
    this.maxProg = compile("density-max", MAX_VS, MAX_FS);
    this.shadeProg = compile("density-shade", SHADE_VS, SHADE_FS);
    this.empty = gl.createVertexArray()!;
    this.maxTex = floatTexture(gl, 1, 1, new Float32Array(4));
    if (this.gpuBinning) {
      this.maxFbo = gl.createFramebuffer();
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.maxFbo);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.maxTex, 0);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    }
  }

  get size(): { w: number; h: number } {
    return { w: this.w, h: this.h };
  }

  private allocate(w: number, h: number, data: Float32Array | null): void {
    const gl = this.gl;
    if (this.acc && this.w === w && this.h === h && !data) return;
    if (this.acc) gl.deleteTexture(this.acc);
    this.acc = floatTexture(gl, w, h, data);
    this.w = w; this.h = h;
    if (this.gpuBinning) {
      this.accFbo ??= gl.createFramebuffer();
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.accFbo);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.acc, 0);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    }
  }

  /** Bind the bin texture as the target of an additive point pass (GPU binning only). */
  begin(w: number, h: number, bin: number): void {
    const gl = this.gl;
    this.bin = bin;
    this.allocate(w, h, null);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.accFbo);
    gl.viewport(0, 0, w, h);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendEquation(gl.FUNC_ADD);
    gl.blendFunc(gl.ONE, gl.ONE);
  }

  /** Bins filled on the CPU (rows from the top, as the GPU pass writes them). */
  upload(bins: Bins): void {
    const gl = this.gl;
    this.bin = bins.bin;
    this.allocate(bins.w, bins.h, bins.data);
    gl.bindTexture(gl.TEXTURE_2D, this.maxTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, 1, 1, 0, gl.RGBA, gl.FLOAT, new Float32Array([maxCount(bins), 0, 0, 0]));
  }

  /** Reduce to the fullest bin (GPU binning), then shade the bins over the canvas. */
  finish(canvasW: number, canvasH: number, dpr: number): void {
    const gl = this.gl;
    gl.bindVertexArray(this.empty);
    gl.activeTexture(gl.TEXTURE3);
    gl.bindTexture(gl.TEXTURE_2D, this.acc);
    gl.activeTexture(gl.TEXTURE4);
    gl.bindTexture(gl.TEXTURE_2D, this.maxTex);
    if (this.gpuBinning) {
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.maxFbo);
      gl.viewport(0, 0, 1, 1);
      gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.blendEquation(gl.MAX);
      gl.blendFunc(gl.ONE, gl.ONE);
      gl.enable(gl.BLEND);
      gl.useProgram(this.maxProg);
      // the max texture is the target: unbind it from the sampler unit while drawing
      gl.bindTexture(gl.TEXTURE_2D, null);
      gl.uniform1i(gl.getUniformLocation(this.maxProg, "u_acc"), 3);
      gl.uniform1i(gl.getUniformLocation(this.maxProg, "u_w"), this.w);
      gl.drawArrays(gl.POINTS, 0, this.w * this.h);
      gl.blendEquation(gl.FUNC_ADD);
      gl.bindTexture(gl.TEXTURE_2D, this.maxTex);
    }
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, canvasW, canvasH);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    const p = this.shadeProg;
    gl.useProgram(p);
    gl.uniform1i(gl.getUniformLocation(p, "u_acc"), 3);
    gl.uniform1i(gl.getUniformLocation(p, "u_max"), 4);
    gl.uniform1f(gl.getUniformLocation(p, "u_dpr"), dpr);
    gl.uniform1f(gl.getUniformLocation(p, "u_bin"), this.bin);
    gl.uniform1f(gl.getUniformLocation(p, "u_hdev"), canvasH);
    gl.uniform1f(gl.getUniformLocation(p, "u_low"), LOW_SHADE);
    gl.uniform2i(gl.getUniformLocation(p, "u_bins"), this.w, this.h);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    gl.bindVertexArray(null);
  }

  /** The bins of the last GPU-binned frame, read back (tests); null when binned on the CPU. */
  read(): Bins | null {
    const gl = this.gl;
    if (!this.acc || !this.accFbo) return null;
    const data = new Float32Array(this.w * this.h * 4);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.accFbo);
    gl.readPixels(0, 0, this.w, this.h, gl.RGBA, gl.FLOAT, data);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    return { w: this.w, h: this.h, bin: this.bin, data };
  }

  destroy(): void {
    const gl = this.gl;
    if (this.acc) gl.deleteTexture(this.acc);
    gl.deleteTexture(this.maxTex);
    if (this.accFbo) gl.deleteFramebuffer(this.accFbo);
    if (this.maxFbo) gl.deleteFramebuffer(this.maxFbo);
    gl.deleteVertexArray(this.empty);
  }
}
