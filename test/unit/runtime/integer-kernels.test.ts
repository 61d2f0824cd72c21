// The WASM integer kernels (assembly/kernels/qconv.ts, qelementwise.ts via src/wasm/int8.ts)
// against their TypeScript twins (src/runtime/integer/reference.ts), which carry TFLite's
// arithmetic: bit-identical outputs on random shapes (odd channel counts, size 1, padding,
// strides, dilations, groups) and random quantization parameters, including the saturation
// edges of the fixed-point requantization (multipliers near 2^31, shifts +30 and -31, int32
// accumulators that wrap, clamps of fused activations).
import { beforeAll, describe, expect, test } from 'vitest';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { quantizeMultiplier } from '../../../src/runtime/integer/fixed-point.js';
import { fuseQdqIslands, runInteger } from '../../../src/runtime/integer/index.js';
import { INTEGER_OPS, quantizeInt16 } from '../../../src/runtime/integer/ops.js';
import { ONNX_OPS } from '../../../src/runtime/ops/index.js';
import { qconv2dReference } from '../../../src/runtime/integer/reference.js';
import type { OpContext } from '../../../src/runtime/op.js';
import { qconv16RunsOnWasm, qconv2d16Wasm, qconv2dWasm, qconvRequantizesInF64, qconvRunsOnWasm, quantize16Wasm, type QConvProblem, type QDType } from '../../../src/wasm/int8.js';
import { initKernels } from '../../../src/wasm/loader.js';

beforeAll(async () => {
  await initKernels();
});

/** Deterministic pseudo-random numbers (LCG) so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[int(0, a.length - 1)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const RANGE: Record<'int8' | 'uint8', [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

function randomData(r: Rng, dtype: 'int8' | 'uint8', n: number): Int8Array | Uint8Array {
  const [lo, hi] = RANGE[dtype];
  const a = dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = r.int(lo, hi);
  return a;
}

/** An output grid with, sometimes, a fused activation's narrower clamp. */
function randomOut(r: Rng): { dtype: QDType; zp: number; lo: number; hi: number } {
  const dtype = r.pick(['int8', 'uint8'] as const);
  const [lo, hi] = RANGE[dtype];
  const zp = r.int(lo, hi);
  if (r.next() < 0.3) {
    const a = r.int(lo, hi);
    const b = r.int(lo, hi);
    return { dtype, zp, lo: Math.min(a, b), hi: Math.max(a, b) };
  }
  return { dtype, zp, lo, hi };
}

function randomConv(r: Rng, fp32: boolean): QConvProblem {
  const kind = r.pick(['plain', 'plain', 'depthwise', 'depthwise', 'multiplier', 'grouped', 'fc'] as const);
  const n = r.int(1, 2);
  let c = r.pick([1, 2, 3, 5, 8, 9, 16, 17, 24, 31, 40]);
  let group = 1;
  let o = r.int(1, 21);
  if (kind === 'depthwise') {
    group = c;
    o = c;
  } else if (kind === 'multiplier') {
    group = c;
    o = 2 * c;
  } else if (kind === 'grouped') {
    group = r.int(2, 3);
    c = group * r.int(1, 9);
    o = group * r.int(1, 6);
  }
  const ipg = c / group;
  const fc = kind === 'fc';
  const kh = fc ? 1 : r.pick([1, 1, 2, 3, 3, 5]);
  const kw = fc ? 1 : r.pick([1, 1, 2, 3, 3, 5]);
  const sh = fc ? 1 : r.int(1, 3);
  const sw = fc ? 1 : r.int(1, 3);
  const dh = fc ? 1 : r.pick([1, 1, 2]);
  const dw = fc ? 1 : r.pick([1, 1, 2]);
  const h = fc ? 1 : r.int(1, 9) + (kh - 1) * dh;
  const w = r.int(1, 11) + (kw - 1) * dw;
  const pt = fc ? 0 : r.int(0, kh - 1);
  const pl = fc ? 0 : r.int(0, kw - 1);
  const pb = fc ? 0 : r.int(0, kh - 1);
  const pr = fc ? 0 : r.int(0, kw - 1);
  const oh = Math.floor((h + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
  const ow = Math.floor((w + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  const inType = r.pick(['int8', 'uint8'] as const);
  const x = randomData(r, inType, n * h * w * c);
  const xzp = r.int(...RANGE[inType]);
  // weights minus their zero points: int8 symmetric, or uint8 with a zero point
  const weights = new Int32Array(o * kh * kw * ipg);
  const wideWeights = r.next() < 0.3;
  for (let i = 0; i < weights.length; i++) weights[i] = wideWeights ? r.int(-255, 255) : r.int(-127, 127);
  const bias = r.next() < 0.2 ? undefined : Int32Array.from({ length: o }, () => r.int(-(2 ** 20), 2 ** 20));
  const mult = new Int32Array(o);
  const shift = new Int32Array(o);
  const scales = new Float32Array(o);
  for (let oc = 0; oc < o; oc++) {
    // real multipliers from 1e-6 to ~4; in the reference mode also the extremes of QuantizeMultiplier
    const e = r.next();
    const q = quantizeMultiplier(10 ** (-6 + 6.6 * r.next()));
    mult[oc] = q.multiplier;
    shift[oc] = q.shift;
    if (!fp32 && e < 0.05) [mult[oc], shift[oc]] = [2147483647, 30];
    else if (!fp32 && e < 0.1) [mult[oc], shift[oc]] = [1073741824 + r.int(0, 2 ** 30 - 1), -31];
    else if (!fp32 && e < 0.12) [mult[oc], shift[oc]] = [0, 0];
    scales[oc] = Math.fround(10 ** (-5 + 5 * r.next()));
  }
  return {
    x, xzp, n, h, w, c, weights, o, kh, kw, ipg, group, sh, sw, dh, dw, pt, pl, oh, ow, bias,
    rq: { mult, shift, fp32: fp32 ? scales : undefined },
    out: randomOut(r),
  };
}

describe('integer conv / depthwise / fully-connected: WASM = TypeScript reference', () => {
  for (const mode of ['reference', 'xnnpack', 'single'] as const) {
    test(`${mode} requantization, random shapes and parameters`, () => {
      const r = rng(mode === 'reference' ? 7 : mode === 'xnnpack' ? 8 : 9);
      let ran = 0;
      for (let t = 0; t < 300; t++) {
        const p = randomConv(r, mode === 'xnnpack');
        // one rounding (the interpreter's builtin FULLY_CONNECTED): in float64 where that is exact, else in 64-bit lanes
        if (mode === 'single') p.rq.single = true;
        expect(qconvRunsOnWasm(p)).toBe(true);
        const want = qconv2dReference(p);
        const got = qconv2dWasm(p);
        expect(got.constructor).toBe(want.constructor);
        if (!got.every((v, i) => v === want[i])) {
          const i = got.findIndex((v, j) => v !== want[j]);
          expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
        }
        ran++;
      }
      expect(ran).toBe(300);
    });
  }

  test('accumulators at the int32 limits wrap as TFLite int32 arithmetic does, and saturate the output', () => {
    const r = rng(99);
    for (let t = 0; t < 50; t++) {
      const p = randomConv(r, false);
      p.bias = Int32Array.from({ length: p.o }, () => r.pick([2147483647, -2147483648, 2147483000, -2147483000, 1 << 30]));
      const want = qconv2dReference(p);
      expect(Array.from(qconv2dWasm(p))).toEqual(Array.from(want));
      // huge accumulators clamp to the ends of the output range
      expect(want.some((v) => v === p.out.lo || v === p.out.hi)).toBe(true);
    }
  });
  test('pointwise convs and fully-connected on the input rows as they are (zero point in the bias): odd channel counts, zero points at the ends', () => {
    const r = rng(11);
    let unsignedRuns = 0;
    for (let t = 0; t < 200; t++) {
      const fp32 = t % 2 === 1;
      const p = randomConv(r, fp32);
      const c = r.pick([1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 64, 100]);
      const o = r.int(1, 37);
      const unsignedIn = r.next() < 0.5;
      const [lo, hi] = unsignedIn ? [0, 255] : [-128, 127];
      const n = r.int(1, 2);
      const [h, w] = [r.int(1, 9), r.int(1, 11)];
      const x = randomData(r, unsignedIn ? 'uint8' : 'int8', n * h * w * c);
      const wide = r.next() < 0.3;
      const weights = Int32Array.from({ length: o * c }, () => (wide ? r.int(-255, 255) : r.int(-127, 127)));
      const q = randomConv(r, fp32);
      const rq = { mult: q.rq.mult.slice(0, 1), shift: q.rq.shift.slice(0, 1), fp32: q.rq.fp32?.slice(0, 1) };
      Object.assign(p, {
        x, xzp: r.pick([lo, hi, r.int(lo, hi)]), n, h, w, c, weights, o, kh: 1, kw: 1, ipg: c, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, oh: h, ow: w,
        bias: r.next() < 0.2 ? undefined : Int32Array.from({ length: o }, () => r.int(-(2 ** 20), 2 ** 20)),
        rq: {
          mult: Int32Array.from({ length: o }, (_, i) => (i % 3 ? quantizeMultiplier(10 ** (-6 + 6.6 * r.next())).multiplier : rq.mult[0]!)),
          shift: Int32Array.from({ length: o }, () => quantizeMultiplier(10 ** (-6 + 6.6 * r.next())).shift),
          fp32: fp32 ? Float32Array.from({ length: o }, () => Math.fround(10 ** (-5 + 5 * r.next()))) : undefined,
        },
      });
      for (let i = 0; i < o; i++) if (!fp32 && r.next() < 0.1) [p.rq.mult[i], p.rq.shift[i]] = r.pick([[2147483647, 30], [1073741824, -31], [0, 0]] as [number, number][]);
      if (unsignedIn) unsignedRuns++;
      const want = qconv2dReference(p);
      const got = qconv2dWasm(p);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
      }
    }
    expect(unsignedRuns).toBeGreaterThan(50);
  });

  test('depthwise 3x3 (the unrolled interior path): odd channel counts, strides 1 and 2, padding, zero points at the ends', () => {
    const r = rng(33);
    let interiorCases = 0;
    for (let t = 0; t < 150; t++) {
      const fp32 = t % 3 === 2;
      const p = randomConv(r, fp32);
      const c = r.pick([1, 3, 7, 8, 9, 16, 17, 24, 31, 32, 33, 96]);
      const unsignedIn = r.next() < 0.5;
      const [lo, hi] = unsignedIn ? [0, 255] : [-128, 127];
      const [sh, sw] = [r.int(1, 2), r.int(1, 2)];
      const [h, w] = [r.int(1, 12), r.int(1, 12)];
      const [pt, pl, pb, pr] = [r.int(0, 1), r.int(0, 1), r.int(0, 1), r.int(0, 1)];
      const oh = Math.floor((h + pt + pb - 3) / sh) + 1;
      const ow = Math.floor((w + pl + pr - 3) / sw) + 1;
      if (oh < 1 || ow < 1) continue;
      if (h >= 3 && w >= 3) interiorCases++;
      const n = r.int(1, 2);
      const q = randomConv(r, fp32);
      Object.assign(p, {
        x: randomData(r, unsignedIn ? 'uint8' : 'int8', n * h * w * c), xzp: r.pick([lo, hi, r.int(lo, hi)]), n, h, w, c,
        weights: Int32Array.from({ length: c * 9 }, () => (r.next() < 0.3 ? r.int(-255, 255) : r.int(-127, 127))),
        o: c, kh: 3, kw: 3, ipg: 1, group: c, sh, sw, dh: 1, dw: 1, pt, pl, oh, ow,
        bias: r.next() < 0.2 ? undefined : Int32Array.from({ length: c }, () => r.int(-(2 ** 20), 2 ** 20)),
        rq: {
          mult: Int32Array.from({ length: c }, (_, i) => q.rq.mult[i % q.o]!),
          shift: Int32Array.from({ length: c }, (_, i) => q.rq.shift[i % q.o]!),
          fp32: fp32 ? Float32Array.from({ length: c }, () => Math.fround(10 ** (-5 + 5 * r.next()))) : undefined,
        },
      });
      const want = qconv2dReference(p);
      const got = qconv2dWasm(p);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
      }
    }
    expect(interiorCases).toBeGreaterThan(60);
  });

  test('float64 requantization of negative halves next to a fused ReLU clamp (at, above and below the zero point)', () => {
    // multipliers 2^30·2^-r: many accumulators land exactly on a half of the rounding division,
    // where TFLite rounds negative ones away from zero; only a clamp at or above the zero point
    // may skip that correction
    const r = rng(65);
    let below = 0;
    for (let t = 0; t < 200; t++) {
      const p = randomConv(r, false);
      for (let i = 0; i < p.weights.length; i++) p.weights[i] = r.int(-3, 3);
      const unsignedIn = p.x instanceof Uint8Array;
      const [lo, hi] = unsignedIn ? [0, 255] : [-128, 127];
      p.xzp = r.int(lo + 4, hi - 4);
      for (let i = 0; i < p.x.length; i++) p.x[i] = p.xzp + r.int(-4, 4);
      p.bias = r.next() < 0.5 ? undefined : Int32Array.from({ length: p.o }, () => r.int(-8, 8));
      for (let oc = 0; oc < p.o; oc++) {
        p.rq.mult[oc] = r.pick([2 ** 30, 2 ** 30 + 2 ** 29]);
        p.rq.shift[oc] = -r.int(0, 3);
      }
      const [olo, ohi] = RANGE[p.out.dtype as 'int8' | 'uint8'];
      p.out.zp = r.int(olo + 1, ohi - 1);
      p.out.lo = p.out.zp + r.pick([0, 1, -1, -1]);
      p.out.hi = ohi;
      if (p.out.lo < p.out.zp) below++;
      expect(qconvRequantizesInF64(p)).toBe(true);
      const want = qconv2dReference(p);
      const got = qconv2dWasm(p);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
      }
    }
    expect(below).toBeGreaterThan(60);
  });

  test('float64 requantization at the edge of its exact range: accumulators up to the bound, every shift', () => {
    // qconv2dWasm requantizes in float64 when |acc·M·2^left| < 2^52 - 2^32 for every possible
    // accumulator: here the weights, data and bias push the largest ones right up to that bound
    const r = rng(64);
    let f64 = 0;
    let fixed = 0;
    let relu = 0;
    for (let t = 0; t < 300; t++) {
      const p = randomConv(r, false);
      const k = p.kh * p.kw * p.ipg;
      const unsignedIn = p.x instanceof Uint8Array;
      const [lo, hi] = unsignedIn ? [0, 255] : [-128, 127];
      p.xzp = r.pick([lo, hi, r.int(lo, hi)]);
      const xMax = Math.max(Math.abs(lo - p.xzp), Math.abs(hi - p.xzp));
      for (let oc = 0; oc < p.o; oc++) {
        p.rq.mult[oc] = r.pick([2 ** 30, 2 ** 31 - 1, r.int(2 ** 30, 2 ** 31 - 1)]);
        p.rq.shift[oc] = r.pick([-31, -22, -21, -20, r.int(-31, 0), r.int(-8, 0), r.int(-3, 0), r.int(1, 3)]);
      }
      // the largest accumulator each channel may reach, scaled to just inside (or, every 4th case, just outside) the bound
      const room = Math.min(...Array.from(p.rq.mult, (m, oc) => (2 ** 52 - 2 ** 32) / (m * 2 ** Math.max(p.rq.shift[oc]!, 0))));
      const target = room * (t % 4 === 3 ? 1.02 : r.pick([0.999, 0.99, 0.9, 0.5]));
      const wMax = Math.min(255, Math.floor((0.97 * target) / (xMax * k)));
      if (wMax < 1) continue;
      for (let i = 0; i < p.weights.length; i++) p.weights[i] = r.pick([wMax, -wMax, r.int(-wMax, wMax)]);
      p.bias = Int32Array.from({ length: p.o }, (_, oc) => {
        let sum = 0;
        for (let i = oc * k; i < (oc + 1) * k; i++) sum += Math.abs(p.weights[i]!);
        const left = Math.floor(target - xMax * sum);
        return r.pick([1, -1]) * Math.min(left, 2 ** 31 - 1);
      });
      // data at the ends of the range, so that many accumulators come near the bound
      for (let i = 0; i < p.x.length; i++) p.x[i] = r.next() < 0.8 ? r.pick([lo, hi]) : r.int(lo, hi);
      // every other case a fused ReLU's clamp (lower end at the zero point, or just above or
      // below it): the float64 form without its correction of negative values where it may
      if (t % 2) {
        const [olo, ohi] = RANGE[p.out.dtype as 'int8' | 'uint8'];
        p.out.zp = r.pick([olo, ohi, r.int(olo, ohi)]);
        p.out.lo = Math.max(olo, Math.min(ohi, p.out.zp + r.pick([0, 0, 0, 1, -1])));
        p.out.hi = ohi;
        if (p.out.lo >= p.out.zp) relu++;
      }
      if (qconvRequantizesInF64(p)) f64++;
      else fixed++;
      // and with one rounding (float64 inside that range, 64-bit lanes outside it)
      for (const single of [false, true]) {
        const q: QConvProblem = { ...p, rq: { ...p.rq, single: single || undefined } };
        const want = qconv2dReference(q);
        const got = qconv2dWasm(q);
        if (!got.every((v, i) => v === want[i])) {
          const i = got.findIndex((v, j) => v !== want[j]);
          expect.fail(`case ${t}${single ? ' (one rounding)' : ''} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
        }
      }
    }
    expect(f64).toBeGreaterThan(150);
    expect(fixed).toBeGreaterThan(30);
    expect(relu).toBeGreaterThan(60);
  });

  test('one rounding at exact ties, large accumulators and int32 wrap-around: fully-connected against (acc·M + 2^(T-1)) >> T in 64-bit integers', () => {
    // the definition (TFLite's TFLITE_SINGLE_ROUNDING MultiplyByQuantizedMultiplier, ruy's): the
    // int32 accumulator (wrapped), times the multiplier, plus half of 2^T, shifted right by
    // T = 31 - shift: a tie rounds up (toward +inf), -2.5 to -2, not away from zero
    const r = rng(71);
    const ties = { negative: 0, positive: 0, negativeUnclamped: 0 };
    const paths = { f64: 0, lanes: 0, wrapped: 0 };
    for (let t = 0; t < 240; t++) {
      const c = r.pick([1, 3, 8, 9, 16, 31, 64, 100, 768]);
      const o = r.int(1, 37);
      const rows = r.int(1, 13);
      const unsignedIn = r.next() < 0.5;
      const [lo, hi] = unsignedIn ? [0, 255] : [-128, 127];
      const regime = t % 3;
      const x = randomData(r, unsignedIn ? 'uint8' : 'int8', rows * c);
      const xzp = r.pick([lo, hi, r.int(lo, hi)]);
      // small weights keep every accumulator inside float64's exact range (RQ_MODE_F64_NONNEG), wide
      // ones and biases near the int32 limits (which wrap) push them out of it (RQ_MODE_SINGLE); in
      // the first regime the data lie near the zero point, so that many outputs stay inside the clamp
      if (regime === 0) for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, xzp + r.int(-4, 4)));
      const weights = Int32Array.from({ length: o * c }, () => (regime === 0 ? r.int(-3, 3) : r.pick([-255, 255, r.int(-255, 255)])));
      const bias = Int32Array.from({ length: o }, () => (regime === 2 ? r.pick([2147483647, -2147483648, 2147480000, -2147480000]) : regime === 1 ? r.int(-(2 ** 10), 2 ** 10) : r.int(-8, 8)));
      const [mult, shift] = [new Int32Array(o), new Int32Array(o)];
      for (let oc = 0; oc < o; oc++) [mult[oc], shift[oc]] = tieMultiplier(r);
      const p: QConvProblem = {
        x, xzp, n: 1, h: 1, w: rows, c, weights, o, kh: 1, kw: 1, ipg: c, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, oh: 1, ow: rows, bias,
        rq: { mult, shift, single: true },
        out: randomOut(r),
      };
      if (regime === 0) Object.assign(p.out, { zp: p.out.dtype === 'uint8' ? 128 : 0, lo: p.out.dtype === 'uint8' ? 0 : -128, hi: p.out.dtype === 'uint8' ? 255 : 127 });
      if (qconvRequantizesInF64(p)) paths.f64++;
      else paths.lanes++;
      const want = new Int32Array(rows * o);
      for (let row = 0; row < rows; row++)
        for (let oc = 0; oc < o; oc++) {
          let sum = bias[oc]!;
          for (let i = 0; i < c; i++) sum += (x[row * c + i]! - xzp) * weights[oc * c + i]!;
          const acc = sum | 0;
          if (acc !== sum) paths.wrapped++;
          const T = BigInt(31 - shift[oc]!);
          const product = BigInt(acc) * BigInt(mult[oc]!);
          const scaled = Number((product + (1n << (T - 1n))) >> T);
          const y = Math.min(p.out.hi, Math.max(p.out.lo, scaled + p.out.zp));
          if (BigInt.asUintN(Number(T), product) === 1n << (T - 1n)) {
            if (acc < 0) {
              ties.negative++;
              // where rounding away from zero would have given another output byte
              if (scaled - 1 + p.out.zp >= p.out.lo && scaled + p.out.zp <= p.out.hi) ties.negativeUnclamped++;
            } else ties.positive++;
          }
          want[row * o + oc] = y;
        }
      expect(qconvRunsOnWasm(p)).toBe(true);
      for (const [name, got] of [['WASM', qconv2dWasm(p)], ['TypeScript', qconv2dReference(p)]] as const) {
        if (!got.every((v, i) => v === want[i])) {
          const i = got.findIndex((v, j) => v !== want[j]);
          expect.fail(`${name}, case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
        }
      }
    }
    expect(paths.f64).toBeGreaterThan(50);
    expect(paths.lanes).toBeGreaterThan(100);
    expect(paths.wrapped).toBeGreaterThan(100);
    expect(ties.positive).toBeGreaterThan(500);
    expect(ties.negativeUnclamped).toBeGreaterThan(200);
  });

  test('one rounding at exact ties and large accumulators: conv (im2col), depthwise and grouped kernels = TypeScript reference', () => {
    const r = rng(72);
    const paths = { f64: 0, lanes: 0 };
    for (let t = 0; t < 300; t++) {
      const p = randomConv(r, false);
      const regime = t % 3;
      for (let i = 0; i < p.weights.length; i++) p.weights[i] = regime === 0 ? r.int(-3, 3) : r.pick([-255, 255, r.int(-255, 255)]);
      p.bias = Int32Array.from({ length: p.o }, () => (regime === 2 ? r.pick([2147483647, -2147483648, 2147480000, -2147480000]) : r.int(-(2 ** 10), 2 ** 10)));
      for (let oc = 0; oc < p.o; oc++) [p.rq.mult[oc], p.rq.shift[oc]] = tieMultiplier(r);
      p.rq.single = true;
      if (qconvRequantizesInF64(p)) paths.f64++;
      else paths.lanes++;
      const want = qconv2dReference(p);
      const got = qconv2dWasm(p);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
      }
    }
    expect(paths.f64).toBeGreaterThan(60);
    expect(paths.lanes).toBeGreaterThan(150);
  });
});

/**
 * A fixed-point multiplier with trailing zeros and a shift that put acc·M exactly on a half of
 * 2^T (T = 31 - shift) for many accumulators: M = odd·2^(30 - j) with odd in [2^j, 2^(j + 1)),
 * shift = j - e, so acc·M = acc·odd·2^(T - 1 - e) is a tie exactly when acc / 2^e is odd.
 */
function tieMultiplier(r: Rng): [number, number] {
  const j = r.int(0, 6);
  const odd = (2 ** j + r.int(0, 2 ** j - 1)) | 1;
  return [odd * 2 ** (30 - j), j - r.int(0, 3)];
}

/**
 * A 16x8 problem of the same shapes: int16 input (zero point 0, full range, sometimes only the
 * extremes), int8 weights (sometimes ±255), int64 biases up to ±2^40, the int16 output grid.
 */
function randomConv16(r: Rng, wide = false): QConvProblem {
  const p = randomConv(r, false);
  // long rows (K up to 2700) make the int32 partial sums of the kernel pass their widening point
  if (wide) Object.assign(p, { c: 300, ipg: 300, group: 1, o: r.int(1, 9) });
  if (wide) {
    const k = p.kh * p.kw * p.ipg;
    p.weights = Int32Array.from({ length: p.o * k }, () => r.pick([-255, 255, -127, 127, r.int(-255, 255)]));
  }
  const size = p.n * p.h * p.w * p.c;
  const extremes = wide || r.next() < 0.2;
  p.x = Int16Array.from({ length: size }, () => (extremes ? r.pick([-32768, 32767, r.int(-32768, 32767)]) : r.int(-32768, 32767)));
  p.xzp = 0;
  p.bias = r.next() < 0.2 ? undefined : Float64Array.from({ length: p.o }, () => r.int(-(2 ** 20), 2 ** 20) * r.pick([1, 1, 2 ** 20]));
  p.rq = { mult: new Int32Array(p.o), shift: new Int32Array(p.o) };
  for (let oc = 0; oc < p.o; oc++) {
    // TFLite's QuantizeMultiplier for real multipliers 1e-9 .. ~100 (shifts -29 .. +7), sometimes the largest multiplier
    const q = quantizeMultiplier(10 ** (-9 + 11 * r.next()));
    p.rq.mult[oc] = r.next() < 0.05 ? 2147483647 : q.multiplier;
    p.rq.shift[oc] = q.shift;
  }
  const zp = r.pick([0, 0, 0, r.int(-100, 100)]);
  const [a, b] = [r.int(-32768, 32767), r.int(-32768, 32767)];
  p.out = r.next() < 0.3 ? { dtype: 'int16', zp, lo: Math.min(a, b), hi: Math.max(a, b) } : { dtype: 'int16', zp, lo: -32768, hi: 32767 };
  return p;
}

describe('16x8 conv / depthwise / fully-connected: WASM = TypeScript reference', () => {
  test('random shapes, int16 inputs over the full range, int64 biases, 16-bit requantization', () => {
    const r = rng(16);
    for (let t = 0; t < 300; t++) {
      const p = randomConv16(r, t % 25 === 24);
      expect(qconv16RunsOnWasm(p)).toBe(true);
      const want = qconv2dReference(p);
      const got = qconv2d16Wasm(p);
      expect(want).toBeInstanceOf(Int16Array);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t} (${JSON.stringify({ ...p, x: undefined, weights: undefined, rq: undefined, bias: undefined })}): element ${i} is ${got[i]}, want ${want[i]}`);
      }
    }
  });

  test('what the kernels do not take stays on the reference: an input zero point, weights past ±255', () => {
    const r = rng(17);
    const p = randomConv16(r);
    expect(qconv16RunsOnWasm({ ...p, xzp: 3 })).toBe(false);
    expect(qconv16RunsOnWasm({ ...p, weights: Int32Array.from(p.weights, (v, i) => (i === 0 ? 300 : v)) })).toBe(false);
  });
});

// ---- op level: ADD/SUB/MUL/AVERAGE_POOL/MEAN (and conv, FC, PAD) through the fused-node kernels ----

const scalarT = (v: number) => Tensor.float32([], [v]);
const zpT = (dtype: 'int8' | 'uint8', v: number) => new Tensor(dtype, [], dtype === 'int8' ? Int8Array.of(v) : Uint8Array.of(v));
const ctx = {} as OpContext;

/** `t` broadcast to `shape` element by element (same rank): the plain definition. */
function expandTo(t: Tensor, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const src = t.data as Int8Array;
  const out = new (src.constructor as new (n: number) => Int8Array)(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let j = 0;
    for (let d = 0; d < shape.length; d++) {
      const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      const coord = Math.floor(rem / inner);
      rem -= coord * inner;
      j = j * t.shape[d]! + (t.shape[d] === 1 ? 0 : coord);
    }
    out[i] = src[j]!;
  }
  return new Tensor(t.dtype, shape, out);
}

/** Run the op `nnport.int::<op>` with the WASM kernels and with the TypeScript twins. */
function both(op: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr>): [Tensor, Tensor] {
  const kernel = INTEGER_OPS[`nnport.int::${op}`]!;
  const run = (kernels: string) => {
    const node: Node = { name: op, opType: op, domain: 'nnport.int', inputs: [], outputs: ['y'], attrs: { ...attrs, kernels: { type: 'string', value: kernels } } };
    const out = kernel.run(inputs, kernel.attrs(node, 17), ctx);
    if (out instanceof Promise) throw new Error('integer kernels are synchronous');
    return out[0]!;
  };
  return [run('wasm'), run('typescript')];
}

function quantTensor(r: Rng, dtype: 'int8' | 'uint8', shape: number[]): { t: Tensor; s: Tensor; z: Tensor } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { t: new Tensor(dtype, shape, randomData(r, dtype, n)), s: scalarT(Math.fround(10 ** (-3 + 2.5 * r.next()))), z: zpT(dtype, r.int(...RANGE[dtype])) };
}

function expectSame([got, want]: [Tensor, Tensor], what: string) {
  expect(got.shape, what).toEqual(want.shape);
  expect(got.dtype, what).toBe(want.dtype);
  expect(Array.from(got.data as Int8Array), what).toEqual(Array.from(want.data as Int8Array));
}

describe('integer element-wise, pooling and mean ops: WASM = TypeScript reference', () => {
  const activation = (r: Rng): Record<string, Attr> => (r.next() < 0.3 ? { activation: { type: 'floats', value: [0, r.next() < 0.5 ? 6 : 3.4e38] } } : {});

  test('ADD, SUB (reference and XNNPACK rounding) and MUL with broadcasting', () => {
    const r = rng(21);
    for (let t = 0; t < 200; t++) {
      const dtype = r.pick(['int8', 'uint8'] as const);
      const shape = [r.int(1, 2), r.int(1, 5), r.int(1, 6), r.pick([1, 3, 8, 17])];
      const other = r.next() < 0.3 ? shape.map((d) => (r.next() < 0.5 ? 1 : d)) : shape;
      const a = quantTensor(r, dtype, shape);
      const b = quantTensor(r, dtype, r.next() < 0.5 ? other : shape);
      const outType = r.pick(['int8', 'uint8'] as const);
      const ys = scalarT(Math.fround(10 ** (-3 + 2.5 * r.next())));
      const yz = zpT(outType, r.int(...RANGE[outType]));
      const inputs = [a.t, a.s, a.z, b.t, b.s, b.z, ys, yz];
      const op = r.pick(['Add', 'Sub', 'Mul'] as const);
      const attrs = { ...activation(r), ...(op !== 'Mul' && r.next() < 0.5 ? { requantization: { type: 'string', value: 'xnnpack' } as Attr } : {}) };
      const [wasm, ts] = both(op, inputs, attrs);
      expectSame([wasm, ts], `${op} case ${t}`);
      if (b.t.size !== a.t.size) expectSame([both(op, [a.t, a.s, a.z, expandTo(b.t, shape), b.s, b.z, ys, yz], attrs)[0], wasm], `${op} case ${t}, b expanded`);
    }
  });

  test('16x8 ADD and SUB (int16, zero points 0 as TFLite requires, or not) with broadcasting', () => {
    const r = rng(23);
    const int16 = (shape: number[], zp: number) => ({
      t: new Tensor('int16', shape, Int16Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => r.pick([-32768, 32767, r.int(-32768, 32767)]))),
      s: scalarT(Math.fround(10 ** (-5 + 2 * r.next()))),
      z: new Tensor('int16', [], Int16Array.of(zp)),
    });
    for (let t = 0; t < 100; t++) {
      const shape = [1, r.int(1, 5), r.int(1, 6), r.pick([1, 3, 8, 17])];
      const zp = () => (r.next() < 0.8 ? 0 : r.int(-1000, 1000));
      const a = int16(shape, zp());
      const b = int16(r.next() < 0.3 ? shape.map((d) => (r.next() < 0.5 ? 1 : d)) : shape, zp());
      const out = int16([], zp());
      const op = r.pick(['Add', 'Sub'] as const);
      const [wasm, ts] = both(op, [a.t, a.s, a.z, b.t, b.s, b.z, out.s, out.z], activation(r));
      expect(wasm.dtype).toBe('int16');
      expectSame([wasm, ts], `${op} case ${t}`);
    }
  });

  /** An int16 operand: random codes, often the extremes; zero point 0 (TFLite's 16x8) or, sometimes, not. */
  const int16Operand = (r: Rng, shape: number[], zp = r.next() < 0.8 ? 0 : r.int(-1000, 1000)) => ({
    t: new Tensor('int16', shape, Int16Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => r.pick([-32768, 32767, r.int(-32768, 32767)]))),
    s: scalarT(Math.fround(10 ** (-5 + 2 * r.next()))),
    z: new Tensor('int16', [], Int16Array.of(zp)),
  });

  test('16x8 MUL (full-range products, zero points 0 or not) with broadcasting', () => {
    const r = rng(24);
    for (let t = 0; t < 300; t++) {
      const shape = [1, r.int(1, 5), r.int(1, 6), r.pick([1, 3, 8, 17])];
      const a = int16Operand(r, shape);
      const b = int16Operand(r, r.next() < 0.3 ? shape.map((d) => (r.next() < 0.5 ? 1 : d)) : shape);
      const out = int16Operand(r, [], r.next() < 0.8 ? 0 : r.int(-1000, 1000));
      // output scales from far below the product's (saturating) to far above (shifts down to -31)
      out.s = scalarT(Math.fround(10 ** (-14 + 12 * r.next())));
      const act = activation(r);
      const [wasm, ts] = both('Mul', [a.t, a.s, a.z, b.t, b.s, b.z, out.s, out.z], act);
      expect(wasm.dtype).toBe('int16');
      expectSame([wasm, ts], `Mul case ${t}`);
      // broadcasting is the same as multiplying by b written out in full
      if (b.t.size !== a.t.size) expectSame([both('Mul', [a.t, a.s, a.z, expandTo(b.t, shape), b.s, b.z, out.s, out.z], act)[0], wasm], `Mul case ${t}, b expanded`);
    }
  });

  test('16x8 AVERAGE_POOL_2D and MEAN (equal grids or a float32 rescale)', () => {
    const r = rng(25);
    for (let t = 0; t < 300; t++) {
      const shape = [r.int(1, 2), r.int(3, 9), r.int(3, 9), r.pick([1, 3, 8, 9, 17, 24])];
      const x = int16Operand(r, shape, 0);
      const k = [r.int(1, 4), r.int(1, 4)];
      const pool = { kernel_shape: { type: 'ints', value: k }, strides: { type: 'ints', value: [r.int(1, 2), r.int(1, 2)] }, auto_pad: { type: 'string', value: r.pick(['VALID', 'SAME_UPPER']) } } as Record<string, Attr>;
      const [wp, tp] = both('AveragePool', [x.t, x.s, x.z, x.s, x.z], { ...pool, ...activation(r) });
      expect(wp.dtype).toBe('int16');
      expectSame([wp, tp], `AveragePool case ${t}`);
      const axes = r.pick([[1, 2], [1], [2, 3], [3], [0, 1, 2, 3]]);
      const same = r.next() < 0.3;
      const y = int16Operand(r, [], same ? 0 : r.pick([0, 0, r.int(-1000, 1000)]));
      const [ys, yz] = same ? [x.s, x.z] : [y.s, y.z];
      const mean = { axes: { type: 'ints', value: axes }, keepdims: { type: 'int', value: r.int(0, 1) } } as Record<string, Attr>;
      const [wm, tm] = both('ReduceMean', [x.t, x.s, x.z, ys, yz], mean);
      expect(wm.dtype).toBe('int16');
      expectSame([wm, tm], `ReduceMean case ${t}`);
    }
  });

  test('QUANTIZE float32 -> int16 (a double-precision division, half away from zero): ties, NaN, infinities, saturation', () => {
    const r = rng(26);
    for (let t = 0; t < 300; t++) {
      const n = r.pick([0, 1, 2, 7, 8, 9, 15, 16, 17, 100, 1001]);
      const scale = Math.fround(10 ** (-6 + 6 * r.next()));
      const zp = r.pick([0, 0, r.int(-32768, 32767)]);
      const x = Float32Array.from({ length: n }, () => {
        const k = r.int(-40000, 40000);
        // exact ties k + 1/2 of the scale (where float32 holds them), huge values and the odd ones out
        return r.pick([(k + 0.5) * scale, k * scale, (r.next() * 2 - 1) * 40000 * scale, r.next() * 1e30, NaN, Infinity, -Infinity, -0]);
      });
      const want = quantizeInt16(x, scale, zp);
      const got = quantize16Wasm(x, scale, zp);
      if (!got.every((v, i) => v === want[i])) {
        const i = got.findIndex((v, j) => v !== want[j]);
        expect.fail(`case ${t}: x = ${x[i]}, scale ${scale}, zp ${zp}: ${got[i]}, want ${want[i]}`);
      }
      expect(got.length).toBe(n);
    }
  });

  test('AVERAGE_POOL_2D with padding (taps inside the image only) and MEAN over adjacent axes', () => {
    const r = rng(22);
    for (let t = 0; t < 100; t++) {
      const dtype = r.pick(['int8', 'uint8'] as const);
      // at least the kernel's size, so that VALID pooling has an output
      const shape = [r.int(1, 2), r.int(3, 9), r.int(3, 9), r.pick([1, 3, 8, 17])];
      const x = quantTensor(r, dtype, shape);
      const k = [r.int(1, 3), r.int(1, 3)];
      const pool = { kernel_shape: { type: 'ints', value: k }, strides: { type: 'ints', value: [r.int(1, 2), r.int(1, 2)] }, auto_pad: { type: 'string', value: r.pick(['VALID', 'SAME_UPPER']) } } as Record<string, Attr>;
      expectSame(both('AveragePool', [x.t, x.s, x.z, x.s, x.z], { ...pool, ...activation(r) }), `AveragePool case ${t}`);
      const axes = r.pick([[1, 2], [1], [2, 3], [3], [0, 1, 2, 3]]);
      const outType = r.pick(['int8', 'uint8'] as const);
      const same = r.next() < 0.3;
      const ys = same ? x.s : scalarT(Math.fround(10 ** (-3 + 2.5 * r.next())));
      const yz = same && outType === dtype ? x.z : zpT(outType, r.int(...RANGE[outType]));
      const mean = { axes: { type: 'ints', value: axes }, keepdims: { type: 'int', value: r.int(0, 1) } } as Record<string, Attr>;
      expectSame(both('ReduceMean', [x.t, x.s, x.z, ys, yz], mean), `ReduceMean case ${t}`);
    }
  });

  test('MAX_POOL_2D: channel counts around the 16-lane vectors, explicit padding past the window (no tap inside), strides, clamps', () => {
    const r = rng(23);
    let empty = 0;
    for (let t = 0; t < 120; t++) {
      const dtype = r.pick(['int8', 'uint8'] as const);
      const shape = [r.int(1, 2), r.int(1, 9), r.int(1, 9), r.pick([1, 3, 8, 15, 16, 17, 31, 32, 33, 64])];
      const x = quantTensor(r, dtype, shape);
      // data at the ends of the range too, so that the clamp and the signedness of the max matter
      const d = x.t.data as Int8Array;
      for (let i = 0; i < d.length; i++) if (r.next() < 0.2) d[i] = r.pick(RANGE[dtype]);
      const k = [r.int(1, 3), r.int(1, 3)];
      const pads = [r.int(0, 3), r.int(0, 3), r.int(0, 3), r.int(0, 3)];
      if (pads[0]! >= k[0]! || pads[1]! >= k[1]!) empty++;
      const oh = Math.floor((shape[1]! + pads[0]! + pads[2]! - k[0]!) / 1) + 1;
      const ow = Math.floor((shape[2]! + pads[1]! + pads[3]! - k[1]!) / 1) + 1;
      if (oh < 1 || ow < 1) continue;
      const pool = { kernel_shape: { type: 'ints', value: k }, strides: { type: 'ints', value: [r.int(1, 3), r.int(1, 3)] }, pads: { type: 'ints', value: pads } } as Record<string, Attr>;
      const act: Record<string, Attr> = r.next() < 0.4 ? { activation: { type: 'floats', value: [r.next() < 0.5 ? 0 : -3.4e38, r.pick([6, 0.5, 3.4e38])] } } : {};
      expectSame(both('MaxPool', [x.t, x.s, x.z, x.s, x.z], { ...pool, ...act }), `MaxPool case ${t}`);
    }
    expect(empty).toBeGreaterThan(20);
  });

  test('CONV_2D (OHWI and HWIO, per-channel weights) and FULLY_CONNECTED through the op glue', () => {
    const r = rng(23);
    for (let t = 0; t < 60; t++) {
      const dtype = r.pick(['int8', 'uint8'] as const);
      const c = r.pick([3, 8, 16, 19]);
      const o = r.int(1, 12);
      const x = quantTensor(r, dtype, [1, r.int(3, 8), r.int(3, 8), c]);
      const layout = r.pick(['OHWI', 'HWIO'] as const);
      const wshape = layout === 'OHWI' ? [o, 3, 3, c] : [3, 3, c, o];
      const w = new Tensor('int8', wshape, randomData(r, 'int8', o * 9 * c));
      const ws = Tensor.float32([o], Array.from({ length: o }, () => Math.fround(10 ** (-3 + 2 * r.next()))));
      const wz = new Tensor('int8', [o], new Int8Array(o));
      const b = new Tensor('int32', [o], Int32Array.from({ length: o }, () => r.int(-5000, 5000)));
      const ys = scalarT(Math.fround(10 ** (-2 + 2 * r.next())));
      const yz = zpT('int8', r.int(-128, 127));
      const conv = { kernel_layout: { type: 'string', value: layout }, strides: { type: 'ints', value: [r.int(1, 2), r.int(1, 2)] }, auto_pad: { type: 'string', value: 'SAME_UPPER' } } as Record<string, Attr>;
      const requant: Record<string, Attr> = r.next() < 0.5 ? { requantization: { type: 'string', value: 'xnnpack' } as Attr } : {};
      expectSame(both('Conv', [x.t, x.s, x.z, w, ws, wz, b, undefined, undefined, ys, yz], { ...conv, ...requant, ...activation(r) }), `Conv case ${t}`);
      const m = r.int(1, 4);
      const fx = quantTensor(r, dtype, [m, c]);
      const fw = new Tensor('int8', [o, c], randomData(r, 'int8', o * c));
      expectSame(both('Gemm', [fx.t, fx.s, fx.z, fw, ws, wz, b, undefined, undefined, ys, yz], { ...requant, ...activation(r) }), `Gemm case ${t}`);
    }
  });
});

describe('integer PAD', () => {
  test('constant PAD of 8/16-bit data copies rows exactly as the general Pad kernel', () => {
    const r = rng(31);
    const general = ONNX_OPS['Pad']!;
    const fast = INTEGER_OPS['Pad']!;
    const node: Node = { name: 'pad', opType: 'Pad', domain: '', inputs: [], outputs: ['y'], attrs: {} };
    for (let t = 0; t < 40; t++) {
      const dtype = r.pick(['int8', 'uint8'] as const);
      const shape = Array.from({ length: r.int(1, 4) }, () => r.int(1, 5));
      const n = shape.reduce((a, b) => a * b, 1);
      const x = new Tensor(dtype, shape, randomData(r, dtype, n));
      const pads = Tensor.int64([2 * shape.length], Array.from({ length: 2 * shape.length }, () => r.int(0, 2)));
      const value = zpT(dtype, r.int(...RANGE[dtype]));
      const inputs = [x, pads, value];
      const want = general.run(inputs, general.attrs(node, 17), ctx) as Tensor[];
      const got = fast.run(inputs, fast.attrs(node, 17), ctx) as Tensor[];
      expectSame([got[0]!, want[0]!], `Pad case ${t}`);
    }
  });

  test('a zero-point PAD before an integer conv folds into the conv padding with the same result', async () => {
    const r = rng(32);
    const x = new Tensor('int8', [1, 6, 7, 5], randomData(r, 'int8', 6 * 7 * 5));
    const w = new Tensor('int8', [4, 3, 3, 5], randomData(r, 'int8', 4 * 9 * 5));
    const init = new Map<string, Tensor>([
      ['pads', Tensor.int64([8], [0, 1, 2, 0, 0, 2, 1, 0])],
      ['xs', scalarT(0.05)],
      ['xz', zpT('int8', -7)],
      ['ws', Tensor.float32([4], [0.01, 0.02, 0.015, 0.03])],
      ['wz', new Tensor('int8', [4], new Int8Array(4))],
      ['w', w],
      ['ys', scalarT(0.1)],
      ['yz', zpT('int8', 3)],
    ]);
    const graph = (padIsOutput: boolean): Graph => ({
      name: 'pad-conv',
      nodes: [
        { name: 'pad', opType: 'Pad', domain: '', inputs: ['x', 'pads', 'xz'], outputs: ['xp'], attrs: {} },
        { name: 'dqx', opType: 'DequantizeLinear', domain: '', inputs: ['xp', 'xs', 'xz'], outputs: ['xf'], attrs: {} },
        { name: 'dqw', opType: 'DequantizeLinear', domain: '', inputs: ['w', 'ws', 'wz'], outputs: ['wf'], attrs: { axis: { type: 'int', value: 0 } } },
        { name: 'conv', opType: 'Conv', domain: 'nnport', inputs: ['xf', 'wf'], outputs: ['yf'], attrs: { kernel_layout: { type: 'string', value: 'OHWI' }, auto_pad: { type: 'string', value: 'VALID' } } },
        { name: 'q', opType: 'QuantizeLinear', domain: '', inputs: ['yf', 'ys', 'yz'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'int8', shape: [1, 6, 7, 5] }],
      outputs: [{ name: 'y', dtype: 'int8' }, ...(padIsOutput ? [{ name: 'xp', dtype: 'int8' as const }] : [])],
      initializers: init,
      opsets: { '': 17, nnport: 1 },
    });
    expect(fuseQdqIslands(graph(false)).nodes.map((n) => n.opType)).toEqual(['Conv']);
    expect(fuseQdqIslands(graph(true)).nodes.map((n) => n.opType)).toEqual(['Pad', 'Conv']);
    const folded = (await runInteger(graph(false), { x })).outputs.get('y')!;
    const padded = (await runInteger(graph(true), { x })).outputs.get('y')!;
    expect(folded.shape).toEqual([1, 7, 8, 4]);
    expectSame([folded, padded], 'folded vs padded');
  });
});
