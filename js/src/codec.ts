// The binary array codec, mirror of geowidget/widgets/codec.py: {buffer, dtype, shape}.
// Decoding puts a typed-array view straight over the received bytes (no copy) when the
// byte offset is aligned; only a misaligned view (never produced by ipywidgets) is copied.

export type WireDtype = "float32" | "int32" | "uint8";
export type WireArray = Float32Array | Int32Array | Uint8Array;

export interface Encoded {
  buffer: DataView | ArrayBuffer | ArrayBufferView;
  dtype: string;
  shape: number[];
}

export interface Decoded<T extends WireArray = WireArray> {
  data: T;
  shape: number[];
  dtype: WireDtype;
}

const CTORS = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
} as const;

export function size(shape: number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function bytesOf(buf: Encoded["buffer"]): { buffer: ArrayBuffer; byteOffset: number; byteLength: number } {
  if (buf instanceof ArrayBuffer) return { buffer: buf, byteOffset: 0, byteLength: buf.byteLength };
  if (ArrayBuffer.isView(buf)) {
    return { buffer: buf.buffer as ArrayBuffer, byteOffset: buf.byteOffset, byteLength: buf.byteLength };
  }
  throw new TypeError(`buffer must be a DataView, ArrayBuffer or typed array, got ${typeof buf}`);
}

/** Decode a wire array; the result is a view over the same memory whenever alignment allows. */
export function decode(enc: Encoded): Decoded {
  if (!enc || enc.buffer === undefined || enc.dtype === undefined || enc.shape === undefined) {
    throw new Error("an encoded array needs keys buffer, dtype, shape");
  }
  const ctor = (CTORS as Record<string, typeof Float32Array | typeof Int32Array | typeof Uint8Array>)[enc.dtype];
  if (!ctor) throw new Error(`unknown wire dtype ${JSON.stringify(enc.dtype)}; valid: float32, int32, uint8`);
  const { buffer, byteOffset, byteLength } = bytesOf(enc.buffer);
  const n = size(enc.shape);
  const width = ctor.BYTES_PER_ELEMENT;
  if (byteLength !== n * width) {
    throw new Error(`buffer holds ${byteLength} bytes but shape [${enc.shape}] of ${enc.dtype} needs ${n * width}`);
  }
  let data: WireArray;
  if (byteOffset % width === 0) {
    data = new ctor(buffer, byteOffset, n);
  } else {
    data = new ctor(buffer.slice(byteOffset, byteOffset + byteLength));
  }
  return { data, shape: enc.shape.slice(), dtype: enc.dtype as WireDtype };
}

/** Encode a typed array for the wire (JS -> Python), sharing its memory. */
export function encode(data: WireArray, shape?: number[]): Encoded {
  let dtype: WireDtype;
  if (data instanceof Float32Array) dtype = "float32";
  else if (data instanceof Int32Array) dtype = "int32";
  else if (data instanceof Uint8Array) dtype = "uint8";
  else throw new TypeError("only Float32Array, Int32Array and Uint8Array travel on the wire");
  const sh = shape ?? [data.length];
  if (size(sh) !== data.length) throw new Error(`shape [${sh}] does not match ${data.length} values`);
  return { buffer: new DataView(data.buffer, data.byteOffset, data.byteLength), dtype, shape: sh };
}
