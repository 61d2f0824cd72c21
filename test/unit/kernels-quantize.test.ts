import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { QuantizationError, ShapeError } from '../../src/ir/errors.js';
import {
  dequantizePerAxis,
  dequantizePerTensor,
  quantizeBias,
  quantizePerAxis,
  quantizePerTensor,
  quantRange,
  scaleZeroPointFromMinMax,
  type QuantDType,
  type Rounding,
} from '../../src/wasm/quantize.js';
import { dequantizeScalar, quantizeScalar, roundHalfAway, roundHalfEven } from '../../src/wasm/scalar/quantize.js';
import { kernels } from '../../src/wasm/loader.js';
import { nastyFloats, ODD_SIZES, rng } from './kernels-rng.js';

const ROUNDINGS: Rounding[] = ['half-even', 'half-away'];

function same(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`index ${i}: ${a[i]} vs ${b[i]}`);
}

describe('rounding', () => {
  it('half-even and half-away differ only on ties', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5].map((v) => roundHalfEven(v) + 0)).toEqual([0, 2, 2, 0, -2, -2]);
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5].map(roundHalfAway)).toEqual([1, 2, 3, -1, -2, -3]);
    // the classic trap: 0.49999997 + 0.5 rounds up to 1 in float32
    expect(roundHalfAway(Math.fround(0.49999997))).toBe(0);
  });
});

describe('quantize kernel vs scalar twin', () => {
  it('per tensor, int8/uint8, both roundings, odd sizes, bit-identical', () => {
    const r = rng(5);
    for (const n of ODD_SIZES) {
      for (const dtype of ['int8', 'uint8'] as QuantDType[]) {
        for (const rounding of ROUNDINGS) {
          for (const narrowRange of [false, true]) {
            const scale = [1, 0.5, 0.1, 3.7e-3][Math.floor(r() * 4)]!;
            const x = nastyFloats(n, r, scale);
            const [qmin, qmax] = quantRange(dtype, narrowRange);
            const zp = Math.floor(qmin + r() * (qmax - qmin + 1));
            const got = quantizePerTensor(x, scale, zp, { dtype, rounding, narrowRange });
            const want = dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
            quantizeScalar(x, want, 1, 1, n, [scale], [zp], qmin, qmax, rounding);
            same(got.data as Int8Array, want);
            const back = dequantizePerTensor(got, scale, zp);
            const wantBack = new Float32Array(n);
            dequantizeScalar(want, wantBack, 1, 1, n, [scale], [zp]);
            same(back.data as Float32Array, wantBack);
          }
        }
      }
    }
  });

  it('per axis on every axis of random shapes (incl. channels-last), chunked or not', () => {
    const r = rng(11);
    for (let iter = 0; iter < 150; iter++) {
      const rank = 1 + (iter % 4);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 4, 5, 7, 16, 17, 33][Math.floor(r() * 9)]!);
      const axis = Math.floor(r() * rank);
      const [outer, channels, inner] = [shape.slice(0, axis).reduce((a, b) => a * b, 1), shape[axis]!, shape.slice(axis + 1).reduce((a, b) => a * b, 1)];
      const n = outer * channels * inner;
      const dtype: QuantDType = iter % 2 ? 'int8' : 'uint8';
      const rounding = ROUNDINGS[iter % 3 === 0 ? 1 : 0]!;
      const [qmin, qmax] = quantRange(dtype);
      const scales = Float32Array.from({ length: channels }, () => 0.01 + r() * 2);
      const zps = Int32Array.from({ length: channels }, () => Math.floor(qmin + r() * (qmax - qmin + 1)));
      const x = nastyFloats(n, r, 0.5);
      const t = new Tensor('float32', shape, x);
      const want = dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
      quantizeScalar(x, want, outer, channels, inner, scales, zps, qmin, qmax, rounding);
      same(quantizePerAxis(t, axis, scales, zps, { dtype, rounding }).data as Int8Array, want);
      const chunkBytes = 4 + Math.floor(r() * n * 2);
      const q = quantizePerAxis(t, axis - rank, scales, zps, { dtype, rounding, chunkBytes });
      same(q.data as Int8Array, want);
      const wantBack = new Float32Array(n);
      dequantizeScalar(want, wantBack, outer, channels, inner, scales, zps);
      same(dequantizePerAxis(q, axis, scales, zps).data as Float32Array, wantBack);
      same(dequantizePerAxis(q, axis, scales, zps, { chunkBytes: 1 + Math.floor(r() * n) }).data as Float32Array, wantBack);
    }
  });

  it('saturates, maps NaN to the zero point, and honours the narrow range', () => {
    const x = Float32Array.from([1e9, -1e9, Infinity, -Infinity, NaN, 127.5, -128.5, -127.5]);
    expect(Array.from(quantizePerTensor(x, 1, 0, { dtype: 'int8', rounding: 'half-even' }).data as Int8Array)).toEqual([127, -128, 127, -128, 0, 127, -128, -128]);
    expect(Array.from(quantizePerTensor(x, 1, 0, { dtype: 'int8', rounding: 'half-even', narrowRange: true }).data as Int8Array)).toEqual([127, -127, 127, -127, 0, 127, -127, -127]);
    expect(Array.from(quantizePerTensor(x, 1, 3, { dtype: 'uint8', rounding: 'half-away' }).data as Uint8Array)).toEqual([255, 0, 255, 0, 3, 131, 0, 0]);
  });

  it('int16 goes through the scalar path; bad parameters are QuantizationErrors', () => {
    const q = quantizePerTensor(Float32Array.from([1.5, -40000, 2.5]), 1, 0, { dtype: 'int16', rounding: 'half-even' });
    expect(Array.from(q.data as Int16Array)).toEqual([2, -32768, 2]);
    expect(() => quantizePerTensor(new Float32Array(4), 0, 0, { dtype: 'int8', rounding: 'half-even' })).toThrow(QuantizationError);
    expect(() => quantizePerTensor(new Float32Array(4), 1, 300, { dtype: 'uint8', rounding: 'half-even' })).toThrow(QuantizationError);
    expect(() => quantizePerAxis(Tensor.float32([2, 3]), 1, [1, 1], [0, 0], { dtype: 'int8', rounding: 'half-even' })).toThrow(ShapeError);
    expect(() => quantizePerAxis(Tensor.float32([2, 3]), 2, [1, 1], [0, 0], { dtype: 'int8', rounding: 'half-even' })).toThrow(ShapeError);
  });

  it('works on data already in WASM memory, into a WASM view', () => {
    const k = kernels();
    k.arena.scoped(() => {
      const n = 100;
      const src = k.arena.alloc(n * 4);
      const dst = k.arena.alloc(n);
      k.arena.f32(src, n).set(Float32Array.from({ length: n }, (_, i) => i - 50.5));
      const q = quantizePerTensor(k.arena.f32(src, n), 0.5, 0, { dtype: 'int8', rounding: 'half-even', out: k.arena.i8(dst, n) });
      expect((q.data as Int8Array).byteOffset).toBe(dst);
      expect((q.data as Int8Array)[0]).toBe(-101);
    });
  });
});

describe('bias and ranges', () => {
  it('int32 bias with per-channel scale = input_scale * weight_scale', () => {
    const { q, scales } = quantizeBias(Float32Array.from([0.5, -1, 1e12]), 0.5, [0.5, 0.25, 1], 'half-even');
    expect(Array.from(scales)).toEqual([0.25, 0.125, 0.5]);
    expect(Array.from(q.data as Int32Array)).toEqual([2, -8, 2147483647]);
    expect(q.dtype).toBe('int32');
  });

  it('scale / zero point from min/max: include 0, nudging, symmetric, narrow range', () => {
    // asymmetric uint8 over [-1, 1]: scale 2/255; in float32, 0 - (-1 / scale) = 127.49999 -> zp 127
    expect(scaleZeroPointFromMinMax(-1, 1, { dtype: 'uint8' })).toEqual({ scale: Math.fround(2 / 255), zeroPoint: 127 });
    // range must include 0: [2, 6] behaves like [0, 6]
    expect(scaleZeroPointFromMinMax(2, 6, { dtype: 'uint8' })).toEqual({ scale: Math.fround(6 / 255), zeroPoint: 0 });
    expect(scaleZeroPointFromMinMax(-6, -2, { dtype: 'int8' })).toEqual({ scale: Math.fround(6 / 255), zeroPoint: 127 });
    // symmetric int8 weights, narrow range: scale = max|x| / 127, zp 0
    expect(scaleZeroPointFromMinMax(-0.5, 1.27, { dtype: 'int8', symmetric: true, narrowRange: true })).toEqual({ scale: Math.fround(Math.fround(1.27) / 127), zeroPoint: 0 });
    expect(scaleZeroPointFromMinMax(-3, 1, { dtype: 'uint8', symmetric: true }).zeroPoint).toBe(128);
    // zero range (all zeros, or an empty tensor's +inf/-inf) -> scale 1
    expect(scaleZeroPointFromMinMax(0, 0, { dtype: 'int8' })).toEqual({ scale: 1, zeroPoint: 0 });
    expect(scaleZeroPointFromMinMax(Infinity, -Infinity, { dtype: 'uint8' })).toEqual({ scale: 1, zeroPoint: 0 });
    expect(() => scaleZeroPointFromMinMax(NaN, 1, { dtype: 'int8' })).toThrow(QuantizationError);
    // 0 quantizes exactly and back
    const p = scaleZeroPointFromMinMax(-0.37, 2.9, { dtype: 'uint8' });
    const q = quantizePerTensor(Float32Array.from([0]), p.scale, p.zeroPoint, { dtype: 'uint8', rounding: 'half-even' });
    expect(dequantizePerTensor(q, p.scale, p.zeroPoint).toNumbers()).toEqual([0]);
  });
});
