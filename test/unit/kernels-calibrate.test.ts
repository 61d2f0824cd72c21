import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { histogram, minMax, minMaxPerAxis } from '../../src/wasm/calibrate.js';
import { histogramScalar, minMaxPerAxisScalar, minMaxScalar } from '../../src/wasm/scalar/calibrate.js';
import { nastyFloats, ODD_SIZES, rng } from './kernels-rng.js';

describe('calibration reductions vs scalar twin', () => {
  it('minMax on odd sizes, NaN ignored, chunked', () => {
    const r = rng(21);
    for (const n of ODD_SIZES) {
      const x = nastyFloats(n, r);
      const want = minMaxScalar(x);
      expect(minMax(x)).toEqual(want);
      expect(minMax(x, { chunkBytes: 64 })).toEqual(want);
    }
    expect(minMax(Float32Array.from([NaN, -0, NaN]))).toEqual({ min: 0, max: 0 });
    expect(minMax(new Float32Array(0))).toEqual({ min: Infinity, max: -Infinity });
    expect(minMax(Float32Array.from([NaN, 3, -7, NaN, 2, 1, 0, 5, 9, -1]))).toEqual({ min: -7, max: 9 });
  });

  it('minMaxPerAxis on every axis of random shapes, chunked', () => {
    const r = rng(22);
    for (let iter = 0; iter < 120; iter++) {
      const rank = 1 + (iter % 4);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 5, 8, 13, 17][Math.floor(r() * 7)]!);
      const axis = Math.floor(r() * rank);
      const n = shape.reduce((a, b) => a * b, 1);
      const x = nastyFloats(n, r);
      const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const want = minMaxPerAxisScalar(x, outer, shape[axis]!, inner);
      const t = new Tensor('float32', shape, x);
      expect(minMaxPerAxis(t, axis)).toEqual(want);
      expect(minMaxPerAxis(t, axis - rank, { chunkBytes: 4 + Math.floor(r() * n * 4) })).toEqual(want);
    }
  });

  it('histogram matches the twin, accumulates, and agrees with numpy conventions', () => {
    const r = rng(23);
    for (const n of ODD_SIZES) {
      const x = nastyFloats(n, r);
      for (const [bins, lo, hi] of [[1, -1, 1], [7, -300, 300], [2048, -50.5, 400], [3, 2, 2]] as [number, number, number][]) {
        expect(Array.from(histogram(x, bins, lo, hi))).toEqual(Array.from(histogramScalar(x, bins, lo, hi)));
        expect(Array.from(histogram(x, bins, lo, hi, { chunkBytes: 40 }))).toEqual(Array.from(histogramScalar(x, bins, lo, hi)));
      }
    }
    // last bin closed, outliers and NaN dropped (numpy.histogram: [1, 1, 2] for these)
    expect(Array.from(histogram(Float32Array.from([0, 1.5, 2, 3, 3.5, NaN, -1]), 3, 0, 3))).toEqual([1, 1, 2]);
    const acc = new Uint32Array(2);
    histogram(Float32Array.from([0.1]), 2, 0, 1, { counts: acc });
    histogram(Float32Array.from([0.9, 0.2]), 2, 0, 1, { counts: acc });
    expect(Array.from(acc)).toEqual([2, 1]);
  });
});
