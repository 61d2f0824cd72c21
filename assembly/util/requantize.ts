// TFLite's int32 -> int8/uint8 requantization on four lanes, bit-exact with the scalar spec in
// src/runtime/integer/fixed-point.ts. Per-channel parameters live in one block of RQ_ROWS rows
// of `stride` i32 each (src/wasm/int8.ts writes it):
//   bias, multiplier, 2^left, 2^(31 - right) (0 when right = 0), right == 0 ? -1 : 0, f32 scale,
// followed by RQ_F64_ROWS rows of `stride` f64 for the float64 form of the fixed point (modes
// RQ_MODE_F64 / RQ_MODE_F64_NONNEG): M·2^(left - 31 - right), -2^(30 - 31 - right),
// 2^(30 - 31 - right) + k1 - 1/2 + 2^-(32 + right), k2.

export const RQ_BIAS: i32 = 0;
export const RQ_MULT: i32 = 1;
export const RQ_LMUL: i32 = 2;
export const RQ_RMUL: i32 = 3;
export const RQ_NOSHIFT: i32 = 4;
export const RQ_FSCALE: i32 = 5;
export const RQ_ROWS: i32 = 6;
// f64 rows after the i32 rows
export const RQ_DMULT: i32 = 0;
export const RQ_DNEGH: i32 = 1;
export const RQ_DADD: i32 = 2;
export const RQ_DNEG: i32 = 3;
export const RQ_F64_ROWS: i32 = 4;

/** TFLite's fixed point on 64-bit lanes (any accumulator). */
export const RQ_MODE_FIXED: i32 = 0;
/** XNNPACK's float32 scale, round half to even. */
export const RQ_MODE_FP32: i32 = 1;
/** TFLite's fixed point in float64, exact while |acc·M·2^left| < 2^52 - 2^31 (the caller bounds it per layer). */
export const RQ_MODE_F64: i32 = 2;
/**
 * RQ_MODE_F64 for an output clamp that starts at or above the zero point (a fused ReLU/ReLU6):
 * without the half-away correction of negative values, which all clamp to the same lower end.
 */
export const RQ_MODE_F64_NONNEG: i32 = 3;
/**
 * TFLite's fixed point with one rounding (the interpreter's builtin FULLY_CONNECTED):
 * (x·M + 2^(T - 1)) >> T in 64 bits, T = 31 - shift per channel (held in the RQ_LMUL row).
 */
export const RQ_MODE_SINGLE: i32 = 4;

/** 1.5·2^52: adding it to an integer-valued f64 below 2^51 puts that integer in the low 32 bits. */
export const MAGIC: f64 = 6755399441055744.0;

/**
 * MultiplyByQuantizedMultiplier of two lanes in float64 (right = -shift when shift <= 0):
 * SRDHM's floor((x·M + 2^30) / 2^31) and the half-away rounding of its division by 2^right fold
 * into one floor: out = floor(u + 1/2 - [u < 0]·2^-right) with u = (x·M + 2^30)·2^-(31 + right)
 * (for right = 0, with x·2^left: out = floor(u)). u lies on the grid of q = 2^-(31 + right), so
 * floor(y) for y on that grid is y - 1/2 + q/2 rounded to nearest (never a tie), which the
 * addition of 1.5·2^52 does: the RQ_DADD row holds the constant part of u + 1/2 - 1/2 + q/2.
 * Every step is exact while |x·M·2^left| < 2^52 - 2^31: the products and sums are multiples of
 * q/2 below 2^53 of them, and below 2^21 in size. `nonneg` drops the [u < 0] term: every u < 0 gives an
 * output <= 0 with or without it, and the caller clamps those to a lower end >= 0 (fused ReLU).
 * Returns the int32 results in lanes 0 and 2 (the low words of the results plus 1.5·2^52).
 */
// @ts-ignore: decorator
@inline
function fixedPointF64(x: v128, at: usize, row: usize, nonneg: bool, magic: v128): v128 {
  const v = f64x2.mul(f64x2.convert_low_i32x4_s(x), v128.load(at + row * RQ_DMULT));
  const y = f64x2.add(v, v128.load(at + row * RQ_DADD));
  if (nonneg) return f64x2.add(y, magic);
  const neg = v128.and(f64x2.lt(v, v128.load(at + row * RQ_DNEGH)), v128.load(at + row * RQ_DNEG));
  return f64x2.add(f64x2.sub(y, neg), magic);
}

/** The four float64 fixed-point results of channels [c, c + 4) (lanes 0 and 2 of each half), plus the integer in `magic` - 1.5·2^52. */
// @ts-ignore: decorator
@inline
function fixedPointF64x4(acc: v128, rq: usize, stride: usize, c: usize, nonneg: bool, magic: v128): v128 {
  // rows of f64 (stride·8 bytes each) after the RQ_ROWS rows of i32
  const d = rq + stride * RQ_ROWS + (c << 3);
  const lo = fixedPointF64(acc, d, stride << 1, nonneg, magic);
  const hi = fixedPointF64(v128.shuffle<i32>(acc, acc, 2, 3, 2, 3), d + 16, stride << 1, nonneg, magic);
  return v128.shuffle<i32>(lo, hi, 0, 2, 4, 6);
}

/**
 * floor((ab + 2^30) / 2^31) of two 64-bit lanes, as the low 32 bits of each. With a multiplier
 * >= 0 this is SaturatingRoundingDoublingHighMul exactly: its nudge (2^30, or 1 - 2^30 below
 * zero) followed by a division truncating toward zero equals one floor division once the
 * truncation of negatives is written as floor((v + 2^31 - 1) / 2^31); the saturating case
 * (both INT32_MIN) cannot occur. The low 32 bits of a logical shift by 31 are those of the
 * arithmetic one, which x86 lacks for 64-bit lanes.
 */
// @ts-ignore: decorator
@inline
function roundHigh2(ab: v128): v128 {
  return i64x2.shr_u(i64x2.add(ab, i64x2.splat(1 << 30)), 31);
}

/**
 * MultiplyByQuantizedMultiplier on four int32 lanes: (x << left) wrapping, SRDHM by the
 * multiplier, then RoundingDivideByPOT(right) as round-half-away-from-zero of s / 2^right,
 * computed as floor(((s - (s < 0)) * 2^(31 - right) + 2^30) / 2^31) in 64 bits because lanes
 * cannot shift by different amounts.
 */
// @ts-ignore: decorator
@inline
export function multiplyByQuantizedMultiplier4(acc: v128, mult: v128, lmul: v128, rmul: v128, noShift: v128): v128 {
  const x = i32x4.mul(acc, lmul);
  const s = v128.shuffle<i32>(roundHigh2(i64x2.extmul_low_i32x4_s(x, mult)), roundHigh2(i64x2.extmul_high_i32x4_s(x, mult)), 0, 2, 4, 6);
  const t = i32x4.add(s, i32x4.shr_s(s, 31));
  const r = v128.shuffle<i32>(roundHigh2(i64x2.extmul_low_i32x4_s(t, rmul)), roundHigh2(i64x2.extmul_high_i32x4_s(t, rmul)), 0, 2, 4, 6);
  return v128.bitselect(s, r, noShift);
}

/** One lane of RQ_MODE_SINGLE, saturated to int32 (the clamp to the output range follows). */
// @ts-ignore: decorator
@inline
function singleRounding(v: i64, t: i32): i32 {
  const r = (v + (<i64>1 << (t - 1))) >> t;
  return <i32>(r < -2147483648 ? -2147483648 : r > 2147483647 ? 2147483647 : r);
}

/** RQ_MODE_SINGLE on four lanes: the products in 64-bit lanes, each shifted by its own channel's T. */
// @ts-ignore: decorator
@inline
function singleRounding4(acc: v128, at: usize, stride: usize): v128 {
  const m = v128.load(at + stride * RQ_MULT);
  const t = at + stride * RQ_LMUL;
  const lo = i64x2.extmul_low_i32x4_s(acc, m);
  const hi = i64x2.extmul_high_i32x4_s(acc, m);
  let r = i32x4.splat(singleRounding(i64x2.extract_lane(lo, 0), load<i32>(t)));
  r = i32x4.replace_lane(r, 1, singleRounding(i64x2.extract_lane(lo, 1), load<i32>(t, 4)));
  r = i32x4.replace_lane(r, 2, singleRounding(i64x2.extract_lane(hi, 0), load<i32>(t, 8)));
  return i32x4.replace_lane(r, 3, singleRounding(i64x2.extract_lane(hi, 1), load<i32>(t, 12)));
}

/**
 * Four accumulators of channels [c, c+4) requantized and clamped: the reference kernels'
 * fixed point (RQ_MODE_FIXED, or RQ_MODE_F64 / RQ_MODE_F64_NONNEG when the caller bounded the
 * accumulators), its one-rounding form (RQ_MODE_SINGLE) or
 * XNNPACK's float32 scale with round half to even (RQ_MODE_FP32).
 * Returns int32 lanes in [lo, hi] (the output zero point added).
 */
// @ts-ignore: decorator
@inline
export function requantize4(acc: v128, rq: usize, stride: usize, c: usize, mode: i32, yzp: v128, qlo: v128, qhi: v128): v128 {
  const at = rq + (c << 2);
  let r: v128;
  if (mode == RQ_MODE_F64_NONNEG) {
    r = fixedPointF64x4(acc, rq, stride, c, true, f64x2.splat(MAGIC));
  } else if (mode == RQ_MODE_F64) {
    r = fixedPointF64x4(acc, rq, stride, c, false, f64x2.splat(MAGIC));
  } else if (mode == RQ_MODE_SINGLE) {
    r = singleRounding4(acc, at, stride);
  } else if (mode == RQ_MODE_FP32) {
    const f = f32x4.nearest(f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load(at + stride * RQ_FSCALE)));
    // clamp in float before converting (qlo/qhi are lo - zp, hi - zp): no lane can overflow
    r = i32x4.trunc_sat_f32x4_s(f32x4.pmin(f32x4.pmax(f, f32x4.convert_i32x4_s(qlo)), f32x4.convert_i32x4_s(qhi)));
  } else {
    r = multiplyByQuantizedMultiplier4(acc, v128.load(at + stride * RQ_MULT), v128.load(at + stride * RQ_LMUL), v128.load(at + stride * RQ_RMUL), v128.load(at + stride * RQ_NOSHIFT));
  }
  // clamp before adding the zero point: r may be near the int32 limits
  return i32x4.add(i32x4.min_s(i32x4.max_s(r, qlo), qhi), yzp);
}

/** Scalar MultiplyByQuantizedMultiplier (TFLite common.h, int32 x). */
// @ts-ignore: decorator
@inline
export function multiplyByQuantizedMultiplier(x: i32, multiplier: i32, shift: i32): i32 {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  const a = x << left;
  let s: i32;
  if (a == i32.MIN_VALUE && multiplier == i32.MIN_VALUE) s = i32.MAX_VALUE;
  else {
    const ab = <i64>a * <i64>multiplier;
    const v = ab + (ab >= 0 ? <i64>(1 << 30) : <i64>(1 - (1 << 30)));
    s = <i32>((v < 0 ? v + 0x7fffffff : v) >> 31);
  }
  if (right == 0) return s;
  const mask = <i32>((<i64>1 << right) - 1);
  const remainder = s & mask;
  const threshold = (mask >> 1) + (s < 0 ? 1 : 0);
  return (s >> right) + (remainder > threshold ? 1 : 0);
}

/**
 * Eight accumulators (channels [c, c + 4) in a0, [c + 4, c + 8) in a1) requantized to 8-bit
 * outputs in bytes 0..7 (uint8 when unsignedOut). In the float64 modes the zero point rides in
 * the rounding constant (`magic` = 1.5·2^52 + zp: the results are r + zp, |r| < 2^21), the
 * int32 -> int16 -> int8 narrowing saturates to the type's range and one byte-wide clamp to
 * [lo, hi] (`blo`, `bhi`, splat as bytes) finishes it: clamp(r + zp, lo, hi) as TFLite, four
 * operations fewer per 8 outputs. The other modes clamp in int32 (requantize4).
 */
// @ts-ignore: decorator
@inline
export function requantize8(
  a0: v128, a1: v128, rq: usize, stride: usize, c: usize, mode: i32, yzp: v128, qlo: v128, qhi: v128, magic: v128, blo: v128, bhi: v128, unsignedOut: i32,
): v128 {
  let r0: v128, r1: v128;
  if (mode == RQ_MODE_F64_NONNEG) {
    r0 = fixedPointF64x4(a0, rq, stride, c, true, magic);
    r1 = fixedPointF64x4(a1, rq, stride, c + 4, true, magic);
  } else if (mode == RQ_MODE_F64) {
    r0 = fixedPointF64x4(a0, rq, stride, c, false, magic);
    r1 = fixedPointF64x4(a1, rq, stride, c + 4, false, magic);
  } else {
    r0 = requantize4(a0, rq, stride, c, mode, yzp, qlo, qhi);
    r1 = requantize4(a1, rq, stride, c + 4, mode, yzp, qlo, qhi);
  }
  const h = i16x8.narrow_i32x4_s(r0, r1);
  if (unsignedOut) return i8x16.min_u(i8x16.max_u(i8x16.narrow_i16x8_u(h, h), blo), bhi);
  return i8x16.min_s(i8x16.max_s(i8x16.narrow_i16x8_s(h, h), blo), bhi);
}
