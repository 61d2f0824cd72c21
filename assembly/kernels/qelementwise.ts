// Integer element-wise ops and pooling with TFLite's arithmetic (int8/uint8 in and out, inputs
// of equal size: the caller broadcasts). Scalar twins: src/runtime/integer/reference.ts.
//   qaddRef:     ADD/SUB of the reference kernels: both inputs shifted left by `leftShift`,
//                rescaled to a shared grid, summed, rescaled to the output; 8 lanes at a time.
//   qaddRef16:   the same on int16 in and out (TFLite's 16x8 ADD/SUB, leftShift 15).
//   qaddXnnpack: XNNPACK's qs8 ADD: a*am + b*bm + rounding bias, one arithmetic shift (64-bit).
//   qmul:        MUL: (a - za)(b - zb) rescaled by one multiplier; 8 lanes at a time.
//   qavgPool:    AVERAGE_POOL_2D, NHWC, int32 sums 8 channels a vector, rounding division by the
//                count of taps inside the image (also the 16x8 one, qelementwise16.ts).
//   qmaxPool:    MAX_POOL_2D, NHWC, the largest of the taps inside the image 16 channels a
//                vector, clamped.
//   qmean:       MEAN over the middle axis of (outer, red, inner): float32 rescale, or the
//                rounding integer division when input and output grids are equal.

import { multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier4 } from '../util/requantize';

// @ts-ignore: decorator
@inline
function ld<T>(p: usize, i: i32): i32 {
  return <i32>load<T>(p + <usize>i);
}

// @ts-ignore: decorator
@inline
function clampi(v: i32, lo: i32, hi: i32): i32 {
  return v < lo ? lo : v > hi ? hi : v;
}

// @ts-ignore: decorator
@inline
function mbqm4(x: v128, m: i32, shift: i32): v128 {
  const right = shift > 0 ? 0 : -shift;
  return multiplyByQuantizedMultiplier4(
    x, i32x4.splat(m), i32x4.splat(1 << (shift > 0 ? shift : 0)), i32x4.splat(right > 0 ? 1 << (31 - right) : 0), i32x4.splat(right == 0 ? -1 : 0),
  );
}

// @ts-ignore: decorator
@inline
function load8<T>(p: usize): v128 {
  if (isSigned<T>()) return v128.load8x8_s(p);
  return v128.load8x8_u(p);
}

/** Eight int32 results (two vectors) clamped to [lo, hi] after adding yzp, narrowed and stored as bytes. */
// @ts-ignore: decorator
@inline
function store8(dst: usize, r0: v128, r1: v128, yzp: i32, lo: i32, hi: i32, unsignedOut: i32): void {
  const qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp), z = i32x4.splat(yzp);
  const v0 = i32x4.add(i32x4.min_s(i32x4.max_s(r0, qlo), qhi), z);
  const v1 = i32x4.add(i32x4.min_s(i32x4.max_s(r1, qlo), qhi), z);
  const h = i16x8.narrow_i32x4_s(v0, v1);
  v128.store64_lane(dst, unsignedOut ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h), 0);
}

function qaddRefImpl<T>(
  a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, leftShift: i32, ma: i32, sa: i32, mb: i32, sb: i32, mo: i32, so: i32, sign: i32, yzp: i32, lo: i32, hi: i32,
  unsignedOut: i32,
): void {
  let i = 0;
  // eight at a time with the lane-wise fixed point (multipliers are >= 0 here)
  const zav = i16x8.splat(<i16>za), zbv = i16x8.splat(<i16>zb);
  for (; i + 8 <= n; i += 8) {
    const da = i16x8.sub(load8<T>(a + <usize>i), zav);
    const db = i16x8.sub(load8<T>(b + <usize>i), zbv);
    const a0 = mbqm4(i32x4.shl(i32x4.extend_low_i16x8_s(da), leftShift), ma, sa);
    const a1 = mbqm4(i32x4.shl(i32x4.extend_high_i16x8_s(da), leftShift), ma, sa);
    const b0 = mbqm4(i32x4.shl(i32x4.extend_low_i16x8_s(db), leftShift), mb, sb);
    const b1 = mbqm4(i32x4.shl(i32x4.extend_high_i16x8_s(db), leftShift), mb, sb);
    const r0 = mbqm4(sign > 0 ? i32x4.add(a0, b0) : i32x4.sub(a0, b0), mo, so);
    const r1 = mbqm4(sign > 0 ? i32x4.add(a1, b1) : i32x4.sub(a1, b1), mo, so);
    store8(y + <usize>i, r0, r1, yzp, lo, hi, unsignedOut);
  }
  for (; i < n; i++) {
    const va = multiplyByQuantizedMultiplier((ld<T>(a, i) - za) << leftShift, ma, sa);
    const vb = multiplyByQuantizedMultiplier((ld<T>(b, i) - zb) << leftShift, mb, sb);
    const r = multiplyByQuantizedMultiplier(sign > 0 ? va + vb : va - vb, mo, so);
    // r + yzp cannot overflow: |r| is at most ~2^31 * 2^-20 for any valid output multiplier... but clamp first anyway
    store<u8>(y + <usize>i, <u8>clampi(clampi(r, lo - yzp, hi - yzp) + yzp, lo, hi));
  }
}

/** y = clamp(ADD or SUB (sign ±1) of a and b, lo, hi), TFLite reference arithmetic. */
export function qaddRef(
  a: usize, b: usize, y: usize, n: i32, unsignedIn: i32, za: i32, zb: i32, leftShift: i32, ma: i32, sa: i32, mb: i32, sb: i32, mo: i32, so: i32, sign: i32, yzp: i32, lo: i32, hi: i32,
  unsignedOut: i32,
): void {
  if (unsignedIn) qaddRefImpl<u8>(a, b, y, n, za, zb, leftShift, ma, sa, mb, sb, mo, so, sign, yzp, lo, hi, unsignedOut);
  else qaddRefImpl<i8>(a, b, y, n, za, zb, leftShift, ma, sa, mb, sb, mo, so, sign, yzp, lo, hi, unsignedOut);
}

/**
 * ADD/SUB (sign ±1) on int16 data with int16 output (the 16x8 kernels' reference arithmetic,
 * leftShift 15): the same fixed point as qaddRef, eight lanes at a time.
 */
export function qaddRef16(
  a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, leftShift: i32, ma: i32, sa: i32, mb: i32, sb: i32, mo: i32, so: i32, sign: i32, yzp: i32, lo: i32, hi: i32,
): void {
  let i = 0;
  const zav = i32x4.splat(za), zbv = i32x4.splat(zb);
  const qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp), z = i32x4.splat(yzp);
  for (; i + 8 <= n; i += 8) {
    const va = v128.load(a + (<usize>i << 1));
    const vb = v128.load(b + (<usize>i << 1));
    // (x - z) << leftShift in int32, wrapping as TFLite's int32 product does
    const a0 = mbqm4(i32x4.shl(i32x4.sub(i32x4.extend_low_i16x8_s(va), zav), leftShift), ma, sa);
    const a1 = mbqm4(i32x4.shl(i32x4.sub(i32x4.extend_high_i16x8_s(va), zav), leftShift), ma, sa);
    const b0 = mbqm4(i32x4.shl(i32x4.sub(i32x4.extend_low_i16x8_s(vb), zbv), leftShift), mb, sb);
    const b1 = mbqm4(i32x4.shl(i32x4.sub(i32x4.extend_high_i16x8_s(vb), zbv), leftShift), mb, sb);
    const r0 = mbqm4(sign > 0 ? i32x4.add(a0, b0) : i32x4.sub(a0, b0), mo, so);
    const r1 = mbqm4(sign > 0 ? i32x4.add(a1, b1) : i32x4.sub(a1, b1), mo, so);
    const v0 = i32x4.add(i32x4.min_s(i32x4.max_s(r0, qlo), qhi), z);
    const v1 = i32x4.add(i32x4.min_s(i32x4.max_s(r1, qlo), qhi), z);
    v128.store(y + (<usize>i << 1), i16x8.narrow_i32x4_s(v0, v1));
  }
  for (; i < n; i++) {
    const va = multiplyByQuantizedMultiplier((<i32>load<i16>(a + (<usize>i << 1)) - za) << leftShift, ma, sa);
    const vb = multiplyByQuantizedMultiplier((<i32>load<i16>(b + (<usize>i << 1)) - zb) << leftShift, mb, sb);
    const r = multiplyByQuantizedMultiplier(sign > 0 ? va + vb : va - vb, mo, so);
    store<i16>(y + (<usize>i << 1), <i16>clampi(clampi(r, lo - yzp, hi - yzp) + yzp, lo, hi));
  }
}

function qaddXnnpackImpl<T>(a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, am: i32, bm: i32, shift: i32, yzp: i32, lo: i32, hi: i32): void {
  const bias: i64 = (<i64>1 << (shift - 1)) - <i64>am * za - <i64>bm * zb;
  for (let i = 0; i < n; i++) {
    const acc = bias + <i64>ld<T>(a, i) * am + <i64>ld<T>(b, i) * bm;
    const r = acc >> shift;
    const lo64 = <i64>(lo - yzp), hi64 = <i64>(hi - yzp);
    store<u8>(y + <usize>i, <u8>(<i32>(r < lo64 ? lo64 : r > hi64 ? hi64 : r) + yzp));
  }
}

/** y = clamp(floor((bias + a*am + b*bm) / 2^shift) + yzp, lo, hi), XNNPACK's ADD (bm < 0 for SUB). */
export function qaddXnnpack(a: usize, b: usize, y: usize, n: i32, unsignedIn: i32, za: i32, zb: i32, am: i32, bm: i32, shift: i32, yzp: i32, lo: i32, hi: i32): void {
  if (unsignedIn) qaddXnnpackImpl<u8>(a, b, y, n, za, zb, am, bm, shift, yzp, lo, hi);
  else qaddXnnpackImpl<i8>(a, b, y, n, za, zb, am, bm, shift, yzp, lo, hi);
}

function qmulImpl<T>(a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, m: i32, s: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32): void {
  let i = 0;
  const zav = i16x8.splat(<i16>za), zbv = i16x8.splat(<i16>zb);
  for (; i + 8 <= n; i += 8) {
    const da = i16x8.sub(load8<T>(a + <usize>i), zav);
    const db = i16x8.sub(load8<T>(b + <usize>i), zbv);
    store8(y + <usize>i, mbqm4(i32x4.extmul_low_i16x8_s(da, db), m, s), mbqm4(i32x4.extmul_high_i16x8_s(da, db), m, s), yzp, lo, hi, unsignedOut);
  }
  for (; i < n; i++) {
    const r = multiplyByQuantizedMultiplier((ld<T>(a, i) - za) * (ld<T>(b, i) - zb), m, s);
    store<u8>(y + <usize>i, <u8>clampi(clampi(r, lo - yzp, hi - yzp) + yzp, lo, hi));
  }
}

/** y = clamp(MBQM((a - za)(b - zb), m, s) + yzp, lo, hi). */
export function qmul(a: usize, b: usize, y: usize, n: i32, unsignedIn: i32, za: i32, zb: i32, m: i32, s: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32): void {
  if (unsignedIn) qmulImpl<u8>(a, b, y, n, za, zb, m, s, yzp, lo, hi, unsignedOut);
  else qmulImpl<i8>(a, b, y, n, za, zb, m, s, yzp, lo, hi, unsignedOut);
}

/**
 * AVERAGE_POOL_2D on NHWC data of T (u8, i8, or i16 for the 16x8 qavgPool16): int32 sums over
 * the taps inside the image, 8 channels a vector, then the mean rounded half away from zero
 * with C's truncating division, clamped to [lo, hi]. `acc` is C int32 of scratch.
 */
export function qavgPoolImpl<T>(
  x: usize, N: i32, H: i32, W: i32, C: i32, y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, lo: i32, hi: i32, acc: usize,
): void {
  const C8 = C & ~7;
  const step = <usize>C << alignof<T>();
  let out = y;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        memory.fill(acc, 0, <usize>C << 2);
        let count = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - pt + ky;
          if (<u32>iy >= <u32>H) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - pl + kx;
            if (<u32>ix >= <u32>W) continue;
            const src = x + <usize>((n * H + iy) * W + ix) * step;
            let c = 0;
            for (; c < C8; c += 8) {
              const v = sizeof<T>() == 2 ? v128.load(src + (<usize>c << 1)) : load8<T>(src + <usize>c);
              const p = acc + (<usize>c << 2);
              v128.store(p, i32x4.add(v128.load(p), i32x4.extend_low_i16x8_s(v)));
              v128.store(p, i32x4.add(v128.load(p, 16), i32x4.extend_high_i16x8_s(v)), 16);
            }
            for (; c < C; c++) {
              const p = acc + (<usize>c << 2);
              store<i32>(p, load<i32>(p) + <i32>load<T>(src + (<usize>c << alignof<T>())));
            }
            count++;
          }
        }
        const half = count / 2;
        for (let c = 0; c < C; c++) {
          const s = load<i32>(acc + (<usize>c << 2));
          // no tap inside: 0, as the TypeScript twin (an integer division by zero would trap)
          const v = count == 0 ? 0 : clampi(s > 0 ? (s + half) / count : (s - half) / count, lo, hi);
          store<T>(out + (<usize>c << alignof<T>()), <T>v);
        }
        out += step;
      }
    }
  }
}

/** AVERAGE_POOL_2D on NHWC int8/uint8 with equal input and output grids; `acc` is C i32 of scratch. */
export function qavgPool(
  x: usize, unsignedIn: i32, N: i32, H: i32, W: i32, C: i32, y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, lo: i32, hi: i32, acc: usize,
): void {
  if (unsignedIn) qavgPoolImpl<u8>(x, N, H, W, C, y, OH, OW, kh, kw, sh, sw, pt, pl, lo, hi, acc);
  else qavgPoolImpl<i8>(x, N, H, W, C, y, OH, OW, kh, kw, sh, sw, pt, pl, lo, hi, acc);
}

// @ts-ignore: decorator
@inline
function roundHalfAway(v: f32): f64 {
  // in f64 so that adding one half is exact
  const d = <f64>v;
  return d < 0 ? -Math.floor(-d + 0.5) : Math.floor(d + 0.5);
}

function qmeanImpl<T>(x: usize, outer: i32, red: i32, inner: i32, same: i32, scale: f32, bias: f32, yzp: i32, lo: i32, hi: i32, y: usize, acc: usize): void {
  const count = red;
  const half = <i64>(count / 2);
  const fcount = <f32>count;
  for (let o = 0; o < outer; o++) {
    memory.fill(acc, 0, <usize>inner << 3);
    const base = x + <usize>o * <usize>red * <usize>inner;
    for (let r = 0; r < red; r++) {
      const row = base + <usize>r * <usize>inner;
      for (let i = 0; i < inner; i++) {
        const p = acc + (<usize>i << 3);
        store<i64>(p, load<i64>(p) + <i64>ld<T>(row, i));
      }
    }
    const yo = y + <usize>o * <usize>inner;
    for (let i = 0; i < inner; i++) {
      const s = load<i64>(acc + (<usize>i << 3));
      let v: i64;
      if (same) v = count == 0 ? 0 : s > 0 ? (s + half) / <i64>count : (s - half) / <i64>count;
      else {
        const mean: f32 = <f32>s / fcount;
        const r = roundHalfAway(mean * scale + bias) + <f64>yzp;
        v = <i64>(r < <f64>lo ? <f64>lo : r > <f64>hi ? <f64>hi : r);
      }
      store<u8>(yo + <usize>i, <u8>(v < <i64>lo ? lo : v > <i64>hi ? hi : <i32>v));
    }
  }
}

/**
 * MEAN over the middle axis of x[outer, red, inner]: with `same` (equal grids) the rounding
 * integer division, else round(f32(sum)/red * scale + bias) + yzp in float32. `acc` is inner i64.
 */
export function qmean(x: usize, unsignedIn: i32, outer: i32, red: i32, inner: i32, same: i32, scale: f32, bias: f32, yzp: i32, lo: i32, hi: i32, y: usize, acc: usize): void {
  if (unsignedIn) qmeanImpl<u8>(x, outer, red, inner, same, scale, bias, yzp, lo, hi, y, acc);
  else qmeanImpl<i8>(x, outer, red, inner, same, scale, bias, yzp, lo, hi, y, acc);
}

function qmaxPoolImpl<T>(
  x: usize, N: i32, H: i32, W: i32, C: i32, y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, lo: i32, hi: i32, tail: usize,
): void {
  const signed = isSigned<T>();
  const lov = i8x16.splat(<i8>lo), hiv = i8x16.splat(<i8>hi);
  // no tap inside the window: the lower end, as the TypeScript twin
  const start = signed ? i8x16.splat(-128) : i8x16.splat(0);
  const rowBytes = <usize>(W * C);
  let out = y;
  for (let n = 0; n < N; n++) {
    const xn = x + <usize>n * <usize>H * rowBytes;
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * sh - pt;
      const kyLo = max(0, -iy0), kyHi = min(kh, H - iy0);
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * sw - pl;
        const kxLo = max(0, -ix0), kxHi = min(kw, W - ix0);
        for (let c = 0; c < C; c += 16) {
          // 16 channels; past C they read the next pixel or the input's slack, never stored
          let m = start;
          for (let ky = kyLo; ky < kyHi; ky++) {
            const row = xn + <usize>(iy0 + ky) * rowBytes + <usize>c;
            for (let kx = kxLo; kx < kxHi; kx++) {
              const v = v128.load(row + <usize>((ix0 + kx) * C));
              m = signed ? i8x16.max_s(m, v) : i8x16.max_u(m, v);
            }
          }
          m = signed ? i8x16.min_s(i8x16.max_s(m, lov), hiv) : i8x16.min_u(i8x16.max_u(m, lov), hiv);
          const left = C - c;
          if (left >= 16) v128.store(out + <usize>c, m);
          else {
            v128.store(tail, m);
            memory.copy(out + <usize>c, tail, <usize>left);
          }
        }
        out += <usize>C;
      }
    }
  }
}

/**
 * MAX_POOL_2D on 8-bit NHWC data (unsignedIn: uint8): per output pixel and channel the largest
 * input of the window's taps inside the image, clamped to [lo, hi]. `x` needs 16 readable bytes
 * after its last element; `tail` is 16 bytes of scratch.
 */
export function qmaxPool(
  x: usize, unsignedIn: i32, N: i32, H: i32, W: i32, C: i32, y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, lo: i32, hi: i32, tail: usize,
): void {
  if (unsignedIn) qmaxPoolImpl<u8>(x, N, H, W, C, y, OH, OW, kh, kw, sh, sw, pt, pl, lo, hi, tail);
  else qmaxPoolImpl<i8>(x, N, H, W, C, y, OH, OW, kh, kw, sh, sw, pt, pl, lo, hi, tail);
}
