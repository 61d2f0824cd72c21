// float32 <-> float16 / bfloat16, 8 elements per step. Round to nearest even, subnormals kept,
// ±0, ±inf; NaN stays NaN with its top payload bits (float16 NaNs get the quiet bit, as F16C
// does). Scalar twins: src/wasm/scalar/half.ts (bit functions) and src/ir/float16.ts.

@inline
function f32ToF16V(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const f = v128.xor(x, sign);
  // NaN -> quiet NaN with the top mantissa bits; inf and |x| >= 65536 -> inf
  const big = i32x4.gt_s(f, i32x4.splat(0x477fffff));
  const nan = i32x4.gt_s(f, i32x4.splat(0x7f800000));
  const special = v128.bitselect(
    v128.or(i32x4.splat(0x7e00), v128.and(i32x4.shr_u(f, 13), i32x4.splat(0x3ff))),
    i32x4.splat(0x7c00),
    nan,
  );
  // |x| < 2^-14: float16 subnormal or zero; let the FPU round by adding 0.5 (aligns the mantissa)
  const tiny = i32x4.lt_s(f, i32x4.splat(0x38800000));
  const sub = i32x4.sub(f32x4.add(f, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  // normal: rebias the exponent and round to nearest even on bit 13
  const odd = v128.and(i32x4.shr_u(f, 13), i32x4.splat(1));
  const norm = i32x4.shr_u(i32x4.add(i32x4.add(f, i32x4.splat(<i32>0xc8000fff)), odd), 13);
  const r = v128.bitselect(special, v128.bitselect(sub, norm, tiny), big);
  return v128.or(r, i32x4.shr_u(sign, 16));
}

@inline
function f16ToF32V(h: v128): v128 {
  const o0 = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const exp = v128.and(o0, i32x4.splat(0x0f800000));
  const o = i32x4.add(o0, i32x4.splat(0x38000000));
  const infnan = i32x4.add(o, i32x4.splat(0x38000000));
  // exponent 0: value is mantissa * 2^-24; (2^-14 * 1.m) - 2^-14 computes it exactly
  const sub = f32x4.sub(i32x4.add(o, i32x4.splat(0x00800000)), f32x4.splat(6.103515625e-5));
  const r = v128.bitselect(infnan, v128.bitselect(sub, o, i32x4.eq(exp, i32x4.splat(0))), i32x4.eq(exp, i32x4.splat(0x0f800000)));
  return v128.or(r, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

@inline
function f32ToF16S(x: u32): u32 {
  return <u32>i32x4.extract_lane(f32ToF16V(i32x4.splat(<i32>x)), 0);
}

@inline
function f16ToF32S(h: u32): u32 {
  return <u32>i32x4.extract_lane(f16ToF32V(i32x4.splat(<i32>h)), 0);
}

/** float32 at `src` -> float16 bits at `dst`, `n` elements. */
export function float32ToFloat16(src: usize, dst: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (i << 2);
    const a = f32ToF16V(v128.load(p));
    const b = f32ToF16V(v128.load(p, 16));
    v128.store(dst + (i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (; i < n; i++) store<u16>(dst + (i << 1), <u16>f32ToF16S(load<u32>(src + (i << 2))));
}

/** float16 bits at `src` -> float32 at `dst`, `n` elements. */
export function float16ToFloat32(src: usize, dst: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (i << 1));
    const p = dst + (i << 2);
    v128.store(p, f16ToF32V(i32x4.extend_low_i16x8_u(h)));
    v128.store(p, f16ToF32V(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) store<u32>(dst + (i << 2), f16ToF32S(<u32>load<u16>(src + (i << 1))));
}

@inline
function f32ToBf16V(x: v128): v128 {
  const nan = i32x4.gt_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const quiet = v128.or(i32x4.shr_u(x, 16), i32x4.splat(0x40));
  const lsb = v128.and(i32x4.shr_u(x, 16), i32x4.splat(1));
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), lsb), 16);
  return v128.bitselect(quiet, rounded, nan);
}

/** float32 at `src` -> bfloat16 bits at `dst`, `n` elements (round to nearest even). */
export function float32ToBfloat16(src: usize, dst: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (i << 2);
    v128.store(dst + (i << 1), i16x8.narrow_i32x4_u(f32ToBf16V(v128.load(p)), f32ToBf16V(v128.load(p, 16))));
  }
  for (; i < n; i++) {
    store<u16>(dst + (i << 1), <u16>i32x4.extract_lane(f32ToBf16V(i32x4.splat(load<i32>(src + (i << 2)))), 0));
  }
}

/** bfloat16 bits at `src` -> float32 at `dst`, `n` elements (exact). */
export function bfloat16ToFloat32(src: usize, dst: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (i << 1));
    const p = dst + (i << 2);
    v128.store(p, i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(p, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
  }
  for (; i < n; i++) store<u32>(dst + (i << 2), <u32>load<u16>(src + (i << 1)) << 16);
}
