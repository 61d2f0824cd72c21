// The scalar twins of the WASM integer kernels (src/wasm/int8.ts): plain loops with the
// arithmetic of TFLite's reference kernels (int32 accumulators, int64 for 16x8), which define
// what the SIMD kernels must compute bit for bit. They run what the WASM kernels do not (16x8
// add/mul/pool/mean, 16x8 convs with an input zero point) and are the oracle of
// test/unit/runtime/integer-kernels.test.ts.
import type { QBinaryProblem, QConvProblem, QData, QDType, QMeanProblem, QPoolProblem } from '../../wasm/int8.js';
import { clampInt, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64, multiplyByQuantizedMultiplierSingle, roundHalfAway } from './fixed-point.js';

export function outArray(dtype: QDType, n: number): QData {
  return dtype === 'uint8' ? new Uint8Array(n) : dtype === 'int16' ? new Int16Array(n) : new Int8Array(n);
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Requantization of the XNNPACK delegate (which the TFLite interpreter uses for int8 conv and
 * fully-connected): float32 scale = s_x·s_w/s_y, float32 product, round half to even.
 */
export function fp32Requantize(acc: number, scale: number): number {
  return roundHalfEven(Math.fround(Math.fround(acc) * scale));
}

/** CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED; 16-bit inputs use the int64 16x8 requantization. */
export function qconv2dReference(p: QConvProblem): QData {
  const { x, weights: wt, n, h, w: wd, c, o, kh, kw, ipg, sh, sw, dh, dw, pt, pl, oh, ow, bias } = p;
  const { mult, shift, fp32, single } = p.rq;
  const wide = x instanceof Int16Array;
  const opg = o / p.group;
  const xv = new Int32Array(x.length);
  for (let i = 0; i < xv.length; i++) xv[i] = x[i]! - p.xzp;
  const yd = outArray(p.out.dtype, n * oh * ow * o);
  const requantize8 = (acc: number, oc: number): number =>
    fp32 ? fp32Requantize(acc, fp32[oc]!) : single ? multiplyByQuantizedMultiplierSingle(acc, mult[oc]!, shift[oc]!) : multiplyByQuantizedMultiplier(acc, mult[oc]!, shift[oc]!);
  let k = 0;
  for (let bn = 0; bn < n; bn++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let oc = 0; oc < o; oc++) {
          const g = (oc / opg) | 0;
          let acc = bias ? bias[oc]! : 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh - pt + ky * dh;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw - pl + kx * dw;
              if (ix < 0 || ix >= wd) continue;
              const xo = ((bn * h + iy) * wd + ix) * c + g * ipg;
              const wo = ((oc * kh + ky) * kw + kx) * ipg;
              for (let i = 0; i < ipg; i++) acc += xv[xo + i]! * wt[wo + i]!;
            }
          }
          // the 8-bit kernels accumulate in int32, which wraps (the WASM kernels' i32 lanes, TFLite's
          // int32_t); the double sum here is exact, so wrap it once (the 16x8 kernels' sum is int64)
          const scaled = wide ? multiplyByQuantizedMultiplier64(acc, mult[oc]!, shift[oc]!) : requantize8(acc | 0, oc);
          yd[k++] = clampInt(scaled + p.out.zp, p.out.lo, p.out.hi);
        }
  return yd;
}

/** TFLite's quantized ADD/SUB: both inputs rescaled to a shared grid with `leftShift` extra bits (20; 15 for int16). */
export function qaddReference(p: QBinaryProblem, sign: 1 | -1, leftShift: number, m: { ma: number; sa: number; mb: number; sb: number; mo: number; so: number }): QData {
  const { a, b, za, zb, out } = p;
  const y = outArray(out.dtype, a.length);
  const s = 2 ** leftShift;
  for (let i = 0; i < y.length; i++) {
    const s1 = multiplyByQuantizedMultiplier((a[i]! - za) * s, m.ma, m.sa);
    const s2 = multiplyByQuantizedMultiplier((b[i]! - zb) * s, m.mb, m.sb);
    y[i] = clampInt(multiplyByQuantizedMultiplier(s1 + sign * s2, m.mo, m.so) + out.zp, out.lo, out.hi);
  }
  return y;
}

/** gemmlowp's RoundingDivideByPOT on an int16 (its mask is an int16 too: it wraps for exponents of 16 and more). */
function roundingDivideByPOT16(x: number, exponent: number): number {
  const mask = ((2 ** exponent - 1) << 16) >> 16;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (((x >> exponent) + ((x & mask) > threshold ? 1 : 0)) << 16) >> 16;
}

/**
 * TFLite's int16 ADD/SUB for power-of-two scales and zero points 0 (pot_scale_int16, the LSTM
 * path: optimized_ops::Add / Sub16): the input whose shift is not 0 is divided by 2^-shift
 * with rounding, the other taken as is, then a saturating int16 sum or difference.
 */
export function qaddPot16Reference(a: Int16Array, b: Int16Array, shiftA: number, shiftB: number, sign: 1 | -1, lo: number, hi: number): Int16Array {
  const y = new Int16Array(a.length);
  const ra = -shiftA;
  const rb = shiftA === 0 ? -shiftB : 0;
  for (let i = 0; i < y.length; i++) {
    const s = roundingDivideByPOT16(a[i]!, ra) + sign * roundingDivideByPOT16(b[i]!, rb);
    y[i] = clampInt(clampInt(s, -32768, 32767), lo, hi);
  }
  return y;
}

/** XNNPACK's qs8 ADD: bias = 2^(shift-1) - am·za - bm·zb, then floor((bias + a·am + b·bm) / 2^shift). */
export function qaddXnnpackReference(p: QBinaryProblem, am: number, bm: number, shift: number): QData {
  const { a, b, za, zb, out } = p;
  const y = outArray(out.dtype, a.length);
  const bias = 2 ** (shift - 1) - am * za - bm * zb;
  for (let i = 0; i < y.length; i++) {
    const acc = bias + a[i]! * am + b[i]! * bm;
    y[i] = clampInt(Math.floor(acc / 2 ** shift) + out.zp, out.lo, out.hi);
  }
  return y;
}

/**
 * XNNPACK's int8 MUL (the delegate TFLite's interpreter runs it on): the integer product times the
 * float32 scale sa*sb/sy, rounded half to even (its magic-bias conversion), plus the zero point.
 */
export function qmulXnnpackReference(p: QBinaryProblem, scale: number): QData {
  const { a, b, za, zb, out } = p;
  const y = outArray(out.dtype, a.length);
  for (let i = 0; i < y.length; i++) {
    y[i] = clampInt(roundHalfEven(Math.fround((a[i]! - za) * (b[i]! - zb) * scale)) + out.zp, out.lo, out.hi);
  }
  return y;
}

export function qmulReference(p: QBinaryProblem, m: number, s: number): QData {
  const { a, b, za, zb, out } = p;
  const y = outArray(out.dtype, a.length);
  for (let i = 0; i < y.length; i++) y[i] = clampInt(multiplyByQuantizedMultiplier((a[i]! - za) * (b[i]! - zb), m, s) + out.zp, out.lo, out.hi);
  return y;
}

/**
 * A pool over NHWC: each output is `finish(acc, count)` of `step(acc, v)` folded from `init` over
 * the window's taps inside the image (`count` of them), clamped to the output range.
 */
function poolReference(p: QPoolProblem, init: number, step: (acc: number, v: number) => number, finish: (acc: number, count: number) => number): QData {
  const { x, n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow } = p;
  const y = outArray(x instanceof Uint8Array ? 'uint8' : x instanceof Int16Array ? 'int16' : 'int8', n * oh * ow * c);
  let k = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let acc = init;
          let count = 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh - pt + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw - pl + kx;
              if (ix < 0 || ix >= w) continue;
              acc = step(acc, x[((b * h + iy) * w + ix) * c + ch]!);
              count++;
            }
          }
          y[k++] = clampInt(finish(acc, count), p.lo, p.hi);
        }
  return y;
}

/** AVERAGE_POOL_2D: the mean of the taps inside the image, rounded half away from zero (C's truncating division). */
export function qavgPoolReference(p: QPoolProblem): QData {
  return poolReference(p, 0, (acc, v) => acc + v, (acc, count) =>
    acc > 0 ? Math.trunc((acc + Math.trunc(count / 2)) / count) : Math.trunc((acc - Math.trunc(count / 2)) / count));
}

/** MAX_POOL_2D: the largest input of the window's taps inside the image (the lower end when none is), clamped; the scalar twin of qmaxPoolWasm. */
export function qmaxPoolReference(p: QPoolProblem): QData {
  return poolReference(p, -Infinity, (acc, v) => (v > acc ? v : acc), (acc) => acc);
}

/** MEAN (QuantizedMeanOrSum): integer sum, then the float32 rescale, or integer rounding when the grids match. */
export function qmeanReference(p: QMeanProblem): QData {
  const { x, outer, red, inner, out } = p;
  const y = outArray(out.dtype, outer * inner);
  const same = p.sx === out.scale && p.zx === out.zp;
  const f = Math.fround;
  const scale = f(p.sx / out.scale);
  const bias = f(-p.zx * scale);
  const half = Math.trunc(red / 2);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let r = 0; r < red; r++) s += x[(o * red + r) * inner + i]!;
      if (same) y[o * inner + i] = clampInt(s > 0 ? Math.trunc((s + half) / red) : Math.trunc((s - half) / red), out.lo, out.hi);
      else {
        const mean = f(f(s) / f(red));
        y[o * inner + i] = clampInt(roundHalfAway(f(f(mean * scale) + bias)) + out.zp, out.lo, out.hi);
      }
    }
  return y;
}
