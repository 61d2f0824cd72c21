// The 16x8 element-wise ops, pooling, mean and quantize with TFLite's arithmetic on int16 data
// (the caller broadcasts; inputs of equal size). Scalar twins: src/runtime/integer/reference.ts
// and quantizeInt16 in src/runtime/integer/ops.ts.
//   qmul16:       MUL: (a - za)(b - zb) in int32 (wrapping as TFLite's int32 product), one
//                 fixed-point multiplier; 8 lanes at a time.
//   qavgPool16:   AVERAGE_POOL_2D, NHWC: the 8-bit kernel's loop (qavgPoolImpl) on int16.
//   qmean16:      MEAN over the middle axis of (outer, red, inner): int64 sums, then the float32
//                 rescale, or the rounding integer division when input and output grids are equal.
//   quantize16:   QUANTIZE float32 -> int16: x / scale in double (TFLite's int16 kernel divides in
//                 double), rounded half away from zero; two f64 lanes at a time.

import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier4 } from '../util/requantize';
import { qavgPoolImpl } from './qelementwise';

// @ts-ignore: decorator
@inline
function clampi(v: i32, lo: i32, hi: i32): i32 {
  return v < lo ? lo : v > hi ? hi : v;
}

// @ts-ignore: decorator
@inline
function at16(p: usize, i: i32): usize {
  return p + (<usize>i << 1);
}

/** y = clamp(MBQM((a - za)(b - zb), m, s) + yzp, lo, hi) on int16 in and out; m >= 0. */
export function qmul16(a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, m: i32, s: i32, yzp: i32, lo: i32, hi: i32): void {
  const right = s > 0 ? 0 : -s;
  const vm = i32x4.splat(m), lmul = i32x4.splat(1 << (s > 0 ? s : 0));
  const rmul = i32x4.splat(right > 0 ? 1 << (31 - right) : 0), noShift = i32x4.splat(right == 0 ? -1 : 0);
  const zav = i32x4.splat(za), zbv = i32x4.splat(zb);
  const qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp), z = i32x4.splat(yzp);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const va = v128.load(at16(a, i));
    const vb = v128.load(at16(b, i));
    const p0 = i32x4.mul(i32x4.sub(i32x4.extend_low_i16x8_s(va), zav), i32x4.sub(i32x4.extend_low_i16x8_s(vb), zbv));
    const p1 = i32x4.mul(i32x4.sub(i32x4.extend_high_i16x8_s(va), zav), i32x4.sub(i32x4.extend_high_i16x8_s(vb), zbv));
    const r0 = multiplyByQuantizedMultiplier4(p0, vm, lmul, rmul, noShift);
    const r1 = multiplyByQuantizedMultiplier4(p1, vm, lmul, rmul, noShift);
    // clamp before adding the zero point: r may be near the int32 limits
    const v0 = i32x4.add(i32x4.min_s(i32x4.max_s(r0, qlo), qhi), z);
    const v1 = i32x4.add(i32x4.min_s(i32x4.max_s(r1, qlo), qhi), z);
    v128.store(at16(y, i), i16x8.narrow_i32x4_s(v0, v1));
  }
  for (; i < n; i++) {
    const r = multiplyByQuantizedMultiplier((<i32>load<i16>(at16(a, i)) - za) * (<i32>load<i16>(at16(b, i)) - zb), m, s);
    store<i16>(at16(y, i), <i16>(clampi(r, lo - yzp, hi - yzp) + yzp));
  }
}

/**
 * AVERAGE_POOL_2D on NHWC int16 with equal input and output grids: the mean of the taps inside
 * the image rounded half away from zero (C's truncating division), clamped to [lo, hi]: the
 * 8-bit kernel's loop (qelementwise.ts) on int16. `acc` is scratch of C int32.
 */
export function qavgPool16(
  x: usize, N: i32, H: i32, W: i32, C: i32, y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, lo: i32, hi: i32, acc: usize,
): void {
  qavgPoolImpl<i16>(x, N, H, W, C, y, OH, OW, kh, kw, sh, sw, pt, pl, lo, hi, acc);
}

// @ts-ignore: decorator
@inline
function roundHalfAway(d: f64): f64 {
  // d - trunc(d) is exact in doubles
  const t = trunc<f64>(d);
  return abs<f64>(d - t) >= 0.5 ? t + copysign<f64>(1.0, d) : t;
}

/**
 * MEAN of int16 data over the middle axis of x[outer, red, inner] into int16: with `same` (equal
 * grids) the rounding integer division, else round(f32(sum)/red * scale + bias) + yzp in
 * float32, rounded half away from zero. `acc` is inner int64.
 */
export function qmean16(x: usize, outer: i32, red: i32, inner: i32, same: i32, scale: f32, bias: f32, yzp: i32, lo: i32, hi: i32, y: usize, acc: usize): void {
  const half = <i64>(red / 2);
  const fcount = <f32>red;
  for (let o = 0; o < outer; o++) {
    memory.fill(acc, 0, <usize>inner << 3);
    const base = at16(x, o * red * inner);
    for (let r = 0; r < red; r++) {
      const row = at16(base, r * inner);
      for (let i = 0; i < inner; i++) {
        const p = acc + (<usize>i << 3);
        store<i64>(p, load<i64>(p) + <i64>load<i16>(at16(row, i)));
      }
    }
    const yo = at16(y, o * inner);
    for (let i = 0; i < inner; i++) {
      const s = load<i64>(acc + (<usize>i << 3));
      // equal grids: the rounding integer division; else float32 as TFLite, rounded in double (exact)
      const v: f64 = same
        ? <f64>(red == 0 ? <i64>0 : s > 0 ? (s + half) / <i64>red : (s - half) / <i64>red)
        : roundHalfAway(<f64>((<f32>s / fcount) * scale + bias)) + <f64>yzp;
      store<i16>(at16(yo, i), <i16>(v < <f64>lo ? lo : v > <f64>hi ? hi : <i32>v));
    }
  }
}

/**
 * QUANTIZE float32 -> int16 (TFLite's reference kernel for int16 outputs): clamp(round(x / scale)
 * + zp) with the division in double and rounding half away from zero; NaN gives zp.
 */
export function quantize16(src: usize, dst: usize, n: i32, scale: f32, zp: i32): void {
  const s = <f64>scale;
  const vs = f64x2.splat(s), vzp = f64x2.splat(<f64>zp);
  const vlo = f64x2.splat(-32768.0), vhi = f64x2.splat(32767.0);
  const half = f64x2.splat(0.5), one = f64x2.splat(1.0), sign = i64x2.splat(0x8000000000000000);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (<usize>i << 2);
    const lo = v128.load(p);
    const hi = v128.load(p, 16);
    let r0 = f64x2.promote_low_f32x4(lo);
    let r1 = f64x2.promote_low_f32x4(v128.shuffle<i32>(lo, lo, 2, 3, 0, 1));
    let r2 = f64x2.promote_low_f32x4(hi);
    let r3 = f64x2.promote_low_f32x4(v128.shuffle<i32>(hi, hi, 2, 3, 0, 1));
    const q0 = quantizeLanes(r0, vs, vzp, vlo, vhi, half, one, sign);
    const q1 = quantizeLanes(r1, vs, vzp, vlo, vhi, half, one, sign);
    const q2 = quantizeLanes(r2, vs, vzp, vlo, vhi, half, one, sign);
    const q3 = quantizeLanes(r3, vs, vzp, vlo, vhi, half, one, sign);
    v128.store(at16(dst, i), i16x8.narrow_i32x4_s(v128.shuffle<i32>(q0, q1, 0, 1, 4, 5), v128.shuffle<i32>(q2, q3, 0, 1, 4, 5)));
  }
  for (; i < n; i++) {
    const d = <f64>load<f32>(src + (<usize>i << 2)) / s;
    const v = isNaN(d) ? <f64>zp : roundHalfAway(d) + <f64>zp;
    store<i16>(at16(dst, i), <i16>(v < -32768.0 ? -32768 : v > 32767.0 ? 32767 : <i32>v));
  }
}

/** Two doubles x quantized to int32 lanes 0 and 1: x / scale, NaN to 0, rounded half away, + zp, clamped. */
// @ts-ignore: decorator
@inline
function quantizeLanes(x: v128, vs: v128, vzp: v128, vlo: v128, vhi: v128, half: v128, one: v128, sign: v128): v128 {
  let d = f64x2.div(x, vs);
  d = v128.and(d, f64x2.eq(d, d));
  const t = f64x2.trunc(d);
  const far = f64x2.ge(f64x2.abs(f64x2.sub(d, t)), half);
  const r = f64x2.add(t, v128.and(far, v128.or(v128.and(d, sign), one)));
  return i32x4.trunc_sat_f64x2_s_zero(f64x2.pmin(vhi, f64x2.pmax(vlo, f64x2.add(r, vzp))));
}
