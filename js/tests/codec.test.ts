import { describe, expect, it } from "vitest";
import { decode, encode } from "../src/codec";

describe("codec", () => {
  it("decodes float32 as a view over the same memory (no copy)", () => {
    const buf = new ArrayBuffer(32);
    const dv = new DataView(buf, 8, 16);
    new Float32Array(buf, 8, 4).set([1.5, -2, 3.25, NaN]);
    const d = decode({ buffer: dv, dtype: "float32", shape: [2, 2] });
    expect(d.data).toBeInstanceOf(Float32Array);
    expect(d.data.buffer).toBe(buf);
    expect(d.data.byteOffset).toBe(8);
    expect(Array.from(d.data.slice(0, 3))).toEqual([1.5, -2, 3.25]);
    expect(Number.isNaN(d.data[3])).toBe(true);
    expect(d.shape).toEqual([2, 2]);
  });

  it("decodes int32 and uint8", () => {
    const i = decode({ buffer: new Int32Array([7, -9]).buffer, dtype: "int32", shape: [2] });
    expect(Array.from(i.data)).toEqual([7, -9]);
    const u = decode({ buffer: new Uint8Array([0, 255, 3]), dtype: "uint8", shape: [3] });
    expect(Array.from(u.data)).toEqual([0, 255, 3]);
  });

  it("copies only a misaligned view", () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setInt32(1, 42, true);
    const d = decode({ buffer: new DataView(bytes.buffer, 1, 8), dtype: "int32", shape: [2] });
    expect(d.data[0]).toBe(42);
    expect(d.data.buffer).not.toBe(bytes.buffer);
  });

  it("handles empty arrays", () => {
    const d = decode({ buffer: new ArrayBuffer(0), dtype: "float32", shape: [0, 3] });
    expect(d.data.length).toBe(0);
    expect(d.shape).toEqual([0, 3]);
  });

  it("rejects a size mismatch and unknown dtypes", () => {
    expect(() => decode({ buffer: new ArrayBuffer(8), dtype: "float32", shape: [3] })).toThrow(/8 bytes but shape \[3\] of float32 needs 12/);
    expect(() => decode({ buffer: new ArrayBuffer(8), dtype: "float64", shape: [1] })).toThrow(/unknown wire dtype "float64"/);
  });

  it("encodes without copying and round trips", () => {
    const src = new Int32Array([3, 1, 4, 1, 5, 9]);
    const e = encode(src, [2, 3]);
    expect(e.dtype).toBe("int32");
    expect((e.buffer as DataView).buffer).toBe(src.buffer);
    const back = decode(e);
    expect(Array.from(back.data)).toEqual([3, 1, 4, 1, 5, 9]);
    expect(back.shape).toEqual([2, 3]);
    expect(() => encode(src, [4])).toThrow(/does not match 6 values/);
  });
});
