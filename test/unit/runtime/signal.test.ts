// Signal ops beyond the ONNX backend data (which only has 10- and 16-point real transforms):
// the FFT plans (radix-2, direct, Bluestein) against the direct sum on odd, prime and long
// lengths, and DFT / STFT / MelWeightMatrix / the windows against onnxruntime-node on the same
// one-node graphs: complex input, dft_length padding and truncation, negative axes, inverse,
// float64, onesided=0, window + frame_length, integer window dtypes, size-1 windows.
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Attr } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { directPlan, fftPlan } from '../../../src/runtime/ops/fft.js';
import { rng } from '../../support/rng.js';
import { attr, ortNode, runNode } from './run-node.js';

const random = rng(4711);
const randoms = (n: number): number[] => Array.from({ length: n }, () => random() * 2 - 1);
const f32 = (shape: number[]): Tensor => Tensor.float32(shape, randoms(shape.reduce((a, b) => a * b, 1)));
const f64 = (shape: number[]): Tensor => new Tensor('float64', shape, Float64Array.from(randoms(shape.reduce((a, b) => a * b, 1))));
const i64 = (v: number): Tensor => Tensor.int64([], [v]);

/** nnport against onnxruntime-node: same shape, elements within atol + rtol * |expected|. */
async function expectLikeOrt(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr>, tol = { atol: 1e-5, rtol: 1e-4 }, opset = 17): Promise<void> {
  const ours = runNode(opType, inputs, attrs, opset)[0]!;
  const [theirs] = await ortNode(opType, inputs, attrs, opset);
  expect([...ours.shape]).toEqual([...theirs!.shape]);
  const a = ours.toNumbers();
  const b = theirs!.toNumbers();
  const bad = a.map((x, i) => Math.abs(x - b[i]!) - (tol.atol + tol.rtol * Math.abs(b[i]!))).filter((d) => d > 0);
  expect(bad, `${bad.length}/${a.length} elements differ`).toEqual([]);
}

describe('FFT plans', () => {
  it.each([1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 63, 64, 65, 100, 127, 128, 257, 400, 1000])('length %i matches the direct sum, forward and inverse', (n) => {
    for (const inverse of [false, true]) {
      const re = Float64Array.from(randoms(n));
      const im = Float64Array.from(randoms(n));
      const [r1, i1, r2, i2] = [re.slice(), im.slice(), re.slice(), im.slice()];
      fftPlan(n).run(r1, i1, inverse);
      directPlan(n).run(r2, i2, inverse);
      let err = 0;
      for (let k = 0; k < n; k++) err = Math.max(err, Math.abs(r1[k]! - r2[k]!), Math.abs(i1[k]! - i2[k]!));
      expect(err).toBeLessThan(1e-10 * n);
    }
  });

  it('inverts: forward then inverse / n gives the signal back (Bluestein length)', () => {
    const n = 441;
    const re = Float64Array.from(randoms(n));
    const im = Float64Array.from(randoms(n));
    const [r, i] = [re.slice(), im.slice()];
    const plan = fftPlan(n);
    plan.run(r, i, false);
    plan.run(r, i, true);
    for (let k = 0; k < n; k++) {
      expect(r[k]! / n).toBeCloseTo(re[k]!, 12);
      expect(i[k]! / n).toBeCloseTo(im[k]!, 12);
    }
  });
});

describe('DFT against onnxruntime-node', () => {
  const cases: Array<[string, Tensor, Tensor | undefined, Record<string, Attr>]> = [
    ['real, axis 1, prime length', f32([2, 13, 1]), undefined, { axis: attr.i(1) }],
    ['complex, axis 1, Bluestein length', f32([2, 100, 2]), undefined, { axis: attr.i(1) }],
    ['real onesided, odd length', f32([3, 15, 1]), undefined, { axis: attr.i(1), onesided: attr.i(1) }],
    ['real onesided, zero-padded by dft_length', f32([2, 10, 1]), i64(16), { axis: attr.i(1), onesided: attr.i(1) }],
    ['complex, truncated by dft_length', f32([2, 20, 2]), i64(12), { axis: attr.i(1) }],
    ['complex inverse, 3-D signal, axis 2', f32([2, 3, 6, 2]), undefined, { axis: attr.i(2), inverse: attr.i(1) }],
    ['negative axis', f32([2, 5, 4, 1]), undefined, { axis: attr.i(-3) }],
    ['float64, long power of two', f64([1, 256, 2]), undefined, { axis: attr.i(1) }],
    ['float64 complex, Bluestein length', f64([2, 300, 2]), undefined, { axis: attr.i(1) }],
    ['float64 real onesided, Bluestein length, padded', f64([2, 90, 1]), i64(99), { axis: attr.i(1), onesided: attr.i(1) }],
  ];
  it.each(cases)('%s', async (_name, x, n, attrs) => {
    // onnxruntime sums in float32: its error grows with the sum's size (10 on a random 100-point signal)
    await expectLikeOrt('DFT', [x, n], attrs, x.dtype === 'float64' ? { atol: 1e-9, rtol: 1e-9 } : { atol: 1e-4 * Math.sqrt(x.shape[1]!), rtol: 1e-4 });
  });

  it('opset 20: the axis as input 2', async () => {
    await expectLikeOrt('DFT', [f32([2, 9, 3, 1]), undefined, i64(-3)], {}, { atol: 1e-4, rtol: 1e-4 }, 20);
  });

  it('refuses inverse with onesided, and the real/imaginary axis', () => {
    expect(() => runNode('DFT', [f32([1, 8, 2])], { inverse: attr.i(1), onesided: attr.i(1) })).toThrow(UnsupportedError);
    expect(() => runNode('DFT', [f32([1, 8, 2])], { axis: attr.i(2) })).toThrow(ShapeError);
    expect(() => runNode('DFT', [f32([1, 8, 3])], {})).toThrow(/last dimension must be 1 \(real\) or 2 \(complex\)/);
  });
});

describe('STFT against onnxruntime-node', () => {
  it('real signal, Hann window, non-power-of-two frame', async () => {
    const w = runNode('HannWindow', [i64(25)], {})[0]!;
    await expectLikeOrt('STFT', [f32([2, 200, 1]), i64(10), w, i64(25)], {}, { atol: 1e-4, rtol: 1e-4 });
  });
  it('real signal, frame_length only, onesided=0', async () => {
    await expectLikeOrt('STFT', [f32([1, 64, 1]), i64(7), undefined, i64(16)], { onesided: attr.i(0) }, { atol: 1e-4, rtol: 1e-4 });
  });
  it('complex signal, onesided=0', async () => {
    await expectLikeOrt('STFT', [f32([2, 50, 2]), i64(5), undefined, i64(12)], { onesided: attr.i(0) }, { atol: 1e-4, rtol: 1e-4 });
  });
  it('complex signal with a window: the windowed sums', () => {
    // onnxruntime 1.30 mis-windows complex signals (an all-ones window changes its output), so the sum itself
    const [B, L, F, step] = [2, 30, 8, 5];
    const x = f64([B, L, 2]);
    const w = f64([F]);
    const y = runNode('STFT', [x, i64(step), w], { onesided: attr.i(0) })[0]!;
    expect([...y.shape]).toEqual([B, 1 + Math.floor((L - F) / step), F, 2]);
    const xd = x.data as Float64Array;
    const wd = w.data as Float64Array;
    const yd = y.data as Float64Array;
    for (let b = 0; b < B; b++)
      for (let f = 0; f < y.shape[1]!; f++)
        for (let k = 0; k < F; k++) {
          let [re, im] = [0, 0];
          for (let t = 0; t < F; t++) {
            const [xr, xi] = [xd[(b * L + f * step + t) * 2]! * wd[t]!, xd[(b * L + f * step + t) * 2 + 1]! * wd[t]!];
            const a = (-2 * Math.PI * k * t) / F;
            re += xr * Math.cos(a) - xi * Math.sin(a);
            im += xr * Math.sin(a) + xi * Math.cos(a);
          }
          const at = ((b * y.shape[1]! + f) * F + k) * 2;
          expect(yd[at]).toBeCloseTo(re, 12);
          expect(yd[at + 1]).toBeCloseTo(im, 12);
        }
  });
  it('refuses a window whose length is not frame_length', () => {
    expect(() => runNode('STFT', [f32([1, 64, 1]), i64(8), f32([10]), i64(16)], {})).toThrow(/window has 10 points, frame_length is 16/);
  });
});

describe('windows and MelWeightMatrix against onnxruntime-node', () => {
  for (const op of ['HannWindow', 'HammingWindow', 'BlackmanWindow']) {
    it.each([
      [1, 1],
      [7, 1],
      [7, 0],
      [400, 1],
    ])(`${op} size %i periodic %i`, async (size, periodic) => {
      await expectLikeOrt(op, [i64(size)], { periodic: attr.i(periodic) }, { atol: 1e-6, rtol: 1e-5 });
    });
  }
  it('HannWindow as float64', async () => {
    await expectLikeOrt('HannWindow', [i64(31)], { output_datatype: attr.i(11) }, { atol: 1e-12, rtol: 1e-12 });
  });
  it.each([
    [40, 400, 16000, 0, 8000],
    [64, 512, 22050, 20, 11025],
    [10, 255, 8000, 300, 3400],
  ])('MelWeightMatrix %i bins, %i-point DFT, %i Hz, %i..%i Hz', async (bins, n, rate, lo, hi) => {
    const ins = [new Tensor('int32', [], Int32Array.of(bins)), new Tensor('int32', [], Int32Array.of(n)), new Tensor('int32', [], Int32Array.of(rate)), Tensor.float32([], [lo]), Tensor.float32([], [hi])];
    await expectLikeOrt('MelWeightMatrix', ins, {}, { atol: 1e-6, rtol: 1e-5 });
  });
  it('MelWeightMatrix refuses band edges beyond the spectrum', () => {
    const ins = [i64(8), i64(16), i64(8000), Tensor.float32([], [0]), Tensor.float32([], [6000])];
    expect(() => runNode('MelWeightMatrix', ins, {})).toThrow(/outside \[0, 9\)/);
  });
});
