// Thumbnails from the sprite atlas (sent once): tile i sits at row i / cols, column i % cols.

export interface AtlasInfo {
  cols: number;
  h: number;
  w: number;
  channels: number;
}

export interface Atlas {
  info: AtlasInfo;
  data: Uint8Array; // [rows * h, cols * w, channels]
}

/** RGBA pixels of tile i (grey tiles are expanded to RGB). */
export function tile(atlas: Atlas, i: number): Uint8ClampedArray<ArrayBuffer> {
  const { cols, h, w, channels } = atlas.info;
  const rowStride = cols * w * channels;
  const r0 = Math.floor(i / cols) * h, c0 = (i % cols) * w;
  const out = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (r0 + y) * rowStride + (c0 + x) * channels;
      const dst = (y * w + x) * 4;
      if (channels === 1) { const v = atlas.data[src]; out[dst] = v; out[dst + 1] = v; out[dst + 2] = v; }
      else { out[dst] = atlas.data[src]; out[dst + 1] = atlas.data[src + 1]; out[dst + 2] = atlas.data[src + 2]; }
      out[dst + 3] = 255;
    }
  }
  return out;
}

export function drawTile(canvas: HTMLCanvasElement, atlas: Atlas, i: number, scale = 3): void {
  const { h, w } = atlas.info;
  canvas.width = w; canvas.height = h;
  canvas.style.width = `${w * scale}px`; canvas.style.height = `${h * scale}px`;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.putImageData(new ImageData(tile(atlas, i), w, h), 0, 0);
}
