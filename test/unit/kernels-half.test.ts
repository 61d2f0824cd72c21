import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../src/ir/float16.js';
import { bfloat16ToFloat32, castFloat, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../../src/wasm/half.js';
import {
  bfloat16ToFloat32Scalar,
  f16BitsToF32Bits,
  f32BitsToF16Bits,
  float16ToFloat32Scalar,
  float32ToBfloat16Scalar,
  float32ToFloat16Scalar,
} from '../../src/wasm/scalar/half.js';
import { nastyFloats, ODD_SIZES, rng } from './kernels-rng.js';

function sameBits(a: Uint16Array | Float32Array, b: Uint16Array | Float32Array): void {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  expect(x.length).toBe(y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) throw new Error(`byte ${i}: ${x[i]} vs ${y[i]}`);
}

const ALL16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

// Every float16 value, the midpoints between neighbours (ties), and one float32 ulp either side.
function f16Neighbourhood(): Float32Array {
  const out: number[] = [];
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 0x7c00; h++) {
    const a = float16BitsToFloat32(h);
    const b = float16BitsToFloat32(h + 1);
    const mid = (a + b) / 2;
    f[0] = mid;
    const m = u[0]!;
    for (const s of [1, -1]) {
      out.push(s * a, s * mid);
      u[0] = m + 1;
      out.push(s * f[0]!);
      u[0] = m - 1;
      out.push(s * f[0]!);
      u[0] = m;
    }
  }
  return Float32Array.from(out);
}

describe('float16', () => {
  it('all 65536 float16 bit patterns -> float32: kernel = scalar twin = ir/float16', () => {
    const got = float16ToFloat32(ALL16);
    sameBits(got, float16ToFloat32Scalar(ALL16));
    for (let h = 0; h < 65536; h++) {
      const want = float16BitsToFloat32(h);
      if (!Object.is(got[h], want) && !(Number.isNaN(want) && Number.isNaN(got[h]))) throw new Error(`h=${h}: ${got[h]} vs ${want}`);
    }
  });

  it('float32 -> float16 on values, ties and neighbours: kernel = scalar twin = ir/float16', () => {
    const x = f16Neighbourhood();
    const got = float32ToFloat16(x);
    sameBits(got, float32ToFloat16Scalar(x));
    for (let i = 0; i < x.length; i++) if (got[i] !== float32ToFloat16Bits(x[i]!)) throw new Error(`x=${x[i]}: ${got[i]} vs ${float32ToFloat16Bits(x[i]!)}`);
  });

  it('random bit patterns and odd sizes, round trip of every float16', () => {
    const r = rng(3);
    for (const n of [...ODD_SIZES, 100_003]) {
      const x = nastyFloats(n, r);
      sameBits(float32ToFloat16(x), float32ToFloat16Scalar(x));
      sameBits(float32ToFloat16(x, { chunkBytes: 20 }), float32ToFloat16Scalar(x));
      const xs = Float32Array.from(x).subarray(1); // unaligned start
      sameBits(float32ToFloat16(xs), float32ToFloat16Scalar(xs));
    }
    const back = float32ToFloat16(float16ToFloat32(ALL16));
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan) expect(back[h]! & 0x7e00).toBe(0x7e00);
      else if (back[h] !== h) throw new Error(`round trip ${h} -> ${back[h]}`);
    }
    expect(f32BitsToF16Bits(f16BitsToF32Bits(0x7c01))).toBe(0x7e01); // NaN stays NaN, quieted
  });

  it('special values', () => {
    const x = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, 1e-8, -2.98e-8, 5.96e-8]);
    expect(Array.from(float32ToFloat16(x))).toEqual([0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7bff, 0x7bff, 0x7c00, 0, 0x8000, 1]);
  });
});

describe('bfloat16', () => {
  it('kernel = scalar twin = ir/float16 (round to nearest even, NaN quiet)', () => {
    const r = rng(8);
    for (const n of [...ODD_SIZES, 100_003]) {
      const x = nastyFloats(n, r);
      const got = float32ToBfloat16(x);
      sameBits(got, float32ToBfloat16Scalar(x));
      for (let i = 0; i < n; i++) if (got[i] !== float32ToBfloat16Bits(x[i]!)) throw new Error(`x=${x[i]}`);
    }
    const back = bfloat16ToFloat32(ALL16);
    sameBits(back, bfloat16ToFloat32Scalar(ALL16));
    for (let h = 0; h < 65536; h++) {
      const want = bfloat16BitsToFloat32(h);
      if (!Object.is(back[h], want) && !(Number.isNaN(want) && Number.isNaN(back[h]))) throw new Error(`h=${h}`);
    }
    expect(Array.from(float32ToBfloat16(Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4028235e38])))).toEqual([0x3f80, 0x3f82, 0x7f80]);
  });

  it('castFloat between float32, float16 and bfloat16 tensors', () => {
    const t = Tensor.float32([2, 2], [1, -2, 0.5, 65536]);
    const h = castFloat(t, 'float16');
    expect(h.dtype).toBe('float16');
    expect(h.toNumbers()).toEqual([1, -2, 0.5, Infinity]);
    expect(castFloat(castFloat(t, 'bfloat16'), 'float32').toNumbers()).toEqual([1, -2, 0.5, 65536]);
    expect(castFloat(h, 'bfloat16').toNumbers()).toEqual([1, -2, 0.5, Infinity]);
  });
});
