import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { channelStats, histogram, minMax, minMaxPerAxis, type ChannelStats } from '../../src/wasm/calibrate.js';
import { channelStatsScalar, histogramScalar, minMaxPerAxisScalar, minMaxScalar } from '../../src/wasm/scalar/calibrate.js';
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

  it('channelStats is bit-identical to the plain loop (NaN payloads aside) (running min / max / float64 sum of squares), chunked', () => {
    const r = rng(24);
    const fresh = (c: number): ChannelStats => ({ min: new Float32Array(c).fill(Infinity), max: new Float32Array(c).fill(-Infinity), sumSquares: new Float64Array(c) });
    // every bit, ±0 included; a NaN is any NaN (which payload a sum of two NaNs keeps is not fixed by WebAssembly)
    const bytes = (s: ChannelStats) => [s.min, s.max, s.sumSquares].map((a) => Array.from(new Uint8Array(a.map((v) => (Number.isNaN(v) ? NaN : v)).buffer)));
    for (let iter = 0; iter < 150; iter++) {
      const [outer, channels, inner] = [0, 1, 2].map(() => [1, 2, 3, 4, 5, 7, 8, 9, 17, 33][Math.floor(r() * 10)]!);
      const n = outer! * channels! * inner!;
      // every third: plain values; every fifth: only ±0, ±1 and NaN (ties between +0 and -0 keep the first seen)
      const x = iter % 5 === 0 ? Float32Array.from({ length: n }, () => [0, -0, 1, -1, NaN][Math.floor(r() * 5)]!) : iter % 3 ? nastyFloats(n, r) : Float32Array.from({ length: n }, () => (r() * 2 - 1) * 10);
      const y = nastyFloats(x.length, r);
      const want = fresh(channels!);
      const got = fresh(channels!);
      const chunked = fresh(channels!);
      // two calls: the statistics run on from where the first left them
      for (const a of [x, y]) {
        channelStatsScalar(a, outer!, channels!, inner!, want);
        channelStats(a, outer!, channels!, inner!, got);
        channelStats(a, outer!, channels!, inner!, chunked, { chunkBytes: 4 + Math.floor(r() * a.length * 4) });
      }
      expect(bytes(got)).toEqual(bytes(want));
      expect(bytes(chunked)).toEqual(bytes(want));
    }
    const empty = fresh(3);
    channelStats(new Float32Array(0), 0, 3, 4, empty);
    expect(bytes(empty)).toEqual(bytes(fresh(3)));
    const s = fresh(2);
    channelStats(Float32Array.from([1, -2, NaN, 3, 0.5, 0.25]), 1, 2, 3, s);
    expect([...s.min, ...s.max, ...s.sumSquares]).toEqual([-2, 0.25, 1, 3, NaN, 9 + 0.25 + 0.0625]); // min / max skip NaN; its square is summed, as the loop does
    expect(() => channelStats(new Float32Array(5), 1, 2, 3, fresh(2))).toThrow(/does not match/);
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
