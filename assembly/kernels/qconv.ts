// Integer convolution with TFLite's arithmetic (NHWC, int8/uint8 activations, 8-bit weights,
// int32 accumulators, per-channel requantization in util/requantize.ts):
//   qconv2d:      im2col of a chunk of output pixels into int16 rows (input zero point already
//                 subtracted, K padded to 8 with zeros), then a 4-pixel x 8-channel
//                 i32x4.dot_i16x8_s micro-kernel (gemmC2S4) against int16 weights (O, kh, kw,
//                 I/group) minus their zero points. Serves CONV_2D (any group).
//   qconv1x1:     the input's own 8-bit rows, widened as loaded, the input zero point in the
//                 bias, against 8 channels at a time held in the lanes (pairs of k rotated
//                 through the lanes, no horizontal sums): pointwise convs and FULLY_CONNECTED.
//   qdepthwise:   depthwise with multiplier 1, SIMD over 8 channels per step; inside the
//                 image two taps per i32x4.dot_i16x8_s, the input zero point in the bias.
// The scalar twin is src/runtime/integer/reference.ts. Pointers are byte addresses; all scratch
// is passed in. `x` needs 16 bytes of readable slack after its last element (8-lane loads).

import { MAGIC, requantize8, RQ_BIAS } from '../util/requantize';

/** Rows of the per-channel parameter block: channels rounded up to 8 (two i32x4 per step). */
// @ts-ignore: decorator
@inline
function rqStride(channels: i32): usize {
  return <usize>((channels + 7) & ~7) << 2;
}

// @ts-ignore: decorator
@inline
function load8<T>(p: usize): v128 {
  if (isSigned<T>()) return v128.load8x8_s(p);
  return v128.load8x8_u(p);
}

/** The low `n` (< 4) bytes of the narrowed lanes at dst. */
// @ts-ignore: decorator
@inline
function storeTail4(dst: usize, v: v128, n: i32): void {
  if (n > 0) store<u8>(dst, i8x16.extract_lane_u(v, 0));
  if (n > 1) store<u8>(dst, i8x16.extract_lane_u(v, 1), 1);
  if (n > 2) store<u8>(dst, i8x16.extract_lane_u(v, 2), 2);
}

/** The low `n` (< 8) bytes of the narrowed lanes at dst. */
// @ts-ignore: decorator
@inline
function storeTail8(dst: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store32_lane(dst, v, 0);
    storeTail4(dst + 4, i8x16.shuffle(v, v, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7), n - 4);
  } else storeTail4(dst, v, n);
}

/**
 * im2col of output pixels [p0, p0 + np) into int16 rows of Kp (zero-padded) at `col`: 8-bit
 * inputs (T = u8/i8) widened minus the input zero point, int16 inputs (T = i16, the 16x8
 * kernels, zero point 0) copied. Also used by qconv16.ts.
 */
export function im2colQ<T>(
  x: usize, xzp: i32, H: i32, W: i32, C: i32, cOff: i32, ipg: i32, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  p0: i32, np: i32, col: usize, Kp: i32,
): void {
  const zpv = i16x8.splat(<i16>xzp);
  const zero = i16x8.splat(0);
  const K = kh * kw * ipg;
  const plane = OH * OW;
  for (let p = p0; p < p0 + np; p++) {
    const n = p / plane;
    const r = p - n * plane;
    const oy = r / OW;
    const ox = r - oy * OW;
    const row = col + (<usize>((p - p0) * Kp) << 1);
    let d = row;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh - pt + ky * dh;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw - pl + kx * dw;
        // 8-lane stores may run past this tap: the next tap (or the tail fill) overwrites them
        if (<u32>iy >= <u32>H || <u32>ix >= <u32>W) {
          for (let i = 0; i < ipg; i += 8) v128.store(d + (<usize>i << 1), zero);
        } else {
          const src = x + (<usize>(((n * H + iy) * W + ix) * C + cOff) << alignof<T>());
          if (sizeof<T>() == 2) for (let i = 0; i < ipg; i += 8) v128.store(d + (<usize>i << 1), v128.load(src + (<usize>i << 1)));
          else for (let i = 0; i < ipg; i += 8) v128.store(d + (<usize>i << 1), i16x8.sub(load8<T>(src + <usize>i), zpv));
        }
        d += <usize>ipg << 1;
      }
    }
    for (let k = K; k < Kp; k++) store<i16>(row + (<usize>k << 1), 0);
  }
}

/** Eight int16 of row `a` at k (the byte offset into an int16 weight row): int16 rows as they are, 8-bit rows widened. */
// @ts-ignore: decorator
@inline
function loadA<T>(a: usize, k: usize): v128 {
  if (sizeof<T>() == 2) return v128.load(a + k);
  return load8<T>(a + (k >> 1));
}

function qconv2dImpl<T>(
  x: usize, xzp: i32, N: i32, H: i32, W: i32, C: i32, cOff: i32, ipg: i32,
  w: usize, rq: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32,
  y: usize, O: i32, oOff: i32, opg: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, col: usize, chunk: i32,
): void {
  const Kp = (kh * kw * ipg + 7) & ~7;
  const stride = rqStride(opg);
  const yzpv = i32x4.splat(yzp), qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp);
  const magic = magicOf(yzp), blo = i8x16.splat(<i8>lo), bhi = i8x16.splat(<i8>hi);
  const P = N * OH * OW;
  for (let p0 = 0; p0 < P; p0 += chunk) {
    const np = min(chunk, P - p0);
    im2colQ<T>(x, xzp, H, W, C, cOff, ipg, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, p0, np, col, Kp);
    const yb = y + <usize>(p0 * O + oOff);
    for (let oc = 0; oc < opg; oc += 8) {
      gemmC2S4<i16>(col, <usize>Kp << 1, np, Kp, w + (<usize>(oc * Kp) << 1), rq, stride, oc, opg - oc, mode, yzpv, qlo, qhi, magic, blo, bhi, unsignedOut, yb, O);
    }
  }
}

/**
 * One group of an integer conv: y[N, OH, OW, O] at channels [oOff, oOff + opg) from
 * x[N, H, W, C] channels [cOff, cOff + ipg). `w` is int16 in blocks of 8 channels of
 * Kp = roundUp(kh*kw*ipg, 8) each as for qconv1x1, zero-padded; `rq` the requantization block (util/requantize.ts)
 * of roundUp(opg, 8) channels; lo/hi the output clamp; `col` scratch of chunk * Kp int16 plus 16 bytes.
 */
export function qconv2d(
  x: usize, unsignedIn: i32, xzp: i32, N: i32, H: i32, W: i32, C: i32, cOff: i32, ipg: i32,
  w: usize, rq: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32,
  y: usize, O: i32, oOff: i32, opg: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, col: usize, chunk: i32,
): void {
  if (unsignedIn) qconv2dImpl<u8>(x, xzp, N, H, W, C, cOff, ipg, w, rq, mode, yzp, lo, hi, unsignedOut, y, O, oOff, opg, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, col, chunk);
  else qconv2dImpl<i8>(x, xzp, N, H, W, C, cOff, ipg, w, rq, mode, yzp, lo, hi, unsignedOut, y, O, oOff, opg, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, col, chunk);
}

/** Lanes rotated by one int32 (one pair of int16): lane c takes lane c + 1, lane 3 lane 0. */
// @ts-ignore: decorator
@inline
function rot(a: v128): v128 {
  return v128.shuffle<i32>(a, a, 1, 2, 3, 0);
}

/** Eight output bytes of one pixel (bytes 0..7 of v) stored as nOc bytes at dst. */
// @ts-ignore: decorator
@inline
function store8Channels(dst: usize, v: v128, nOc: i32): void {
  if (nOc >= 8) v128.store64_lane(dst, v, 0);
  else storeTail8(dst, v, nOc);
}

/** The float64 modes' rounding constant with the output zero point in it (util/requantize.ts, requantize8). */
// @ts-ignore: decorator
@inline
function magicOf(yzp: i32): v128 {
  return f64x2.splat(MAGIC + <f64>yzp);
}

/**
 * One 8-channel block of outputs for np rows of A (im2col's int16 rows of Kp, T = i16, or the
 * input's own 8-bit rows of `aStride` bytes, T = i8/u8, read 8 at a time past the row end,
 * where zero weights make what follows count for nothing), with the
 * channels in the lanes: no horizontal sums. Per 8 k, a row's eight int16 (four pairs) are
 * rotated by one pair three times; `w` holds for each 8 k, each rotation r and each half v of
 * the block the vector whose lane c is the pair (c + r) & 3 of channel 4v + c (packC2S4), so
 * i32x4.dot_i16x8_s adds every pair to its channel's lane once per 8 k. Four rows at a time.
 */
function gemmC2S4<T>(
  a: usize, aStride: usize, np: i32, Kp: i32, w: usize, rq: usize, stride: usize, oc: i32, nOc: i32, mode: i32, yzp: v128, qlo: v128, qhi: v128, magic: v128, blo: v128, bhi: v128, unsignedOut: i32, y: usize, O: i32,
): void {
  const steps = <usize>(Kp >> 3);
  const b0 = v128.load(rq + stride * RQ_BIAS + (<usize>oc << 2));
  const b1 = v128.load(rq + stride * RQ_BIAS + (<usize>oc << 2), 16);
  let p = 0;
  for (; p + 4 <= np; p += 4) {
    const r0 = a + <usize>p * aStride;
    const r1 = r0 + aStride, r2 = r1 + aStride, r3 = r2 + aStride;
    let c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
    let wp = w;
    for (let s: usize = 0; s < steps; s++) {
      let a0 = loadA<T>(r0, s << 4);
      let a1 = loadA<T>(r1, s << 4);
      let a2 = loadA<T>(r2, s << 4);
      let a3 = loadA<T>(r3, s << 4);
      // the four rotations written out
      let u: v128, v: v128;
      u = v128.load(wp, 0);
      v = v128.load(wp, 16);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, u));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v));
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a1, u));
      c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a1, v));
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a2, u));
      c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a2, v));
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a3, u));
      c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a3, v));
      a0 = rot(a0);
      a1 = rot(a1);
      a2 = rot(a2);
      a3 = rot(a3);
      u = v128.load(wp, 32);
      v = v128.load(wp, 48);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, u));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v));
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a1, u));
      c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a1, v));
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a2, u));
      c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a2, v));
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a3, u));
      c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a3, v));
      a0 = rot(a0);
      a1 = rot(a1);
      a2 = rot(a2);
      a3 = rot(a3);
      u = v128.load(wp, 64);
      v = v128.load(wp, 80);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, u));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v));
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a1, u));
      c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a1, v));
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a2, u));
      c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a2, v));
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a3, u));
      c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a3, v));
      a0 = rot(a0);
      a1 = rot(a1);
      a2 = rot(a2);
      a3 = rot(a3);
      u = v128.load(wp, 96);
      v = v128.load(wp, 112);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, u));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v));
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a1, u));
      c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a1, v));
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a2, u));
      c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a2, v));
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a3, u));
      c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a3, v));
      wp += 128;
    }
    const d = y + <usize>(p * O + oc);
    store8Channels(d, requantize8(c00, c01, rq, stride, oc, mode, yzp, qlo, qhi, magic, blo, bhi, unsignedOut), nOc);
    store8Channels(d + <usize>O, requantize8(c10, c11, rq, stride, oc, mode, yzp, qlo, qhi, magic, blo, bhi, unsignedOut), nOc);
    store8Channels(d + <usize>(2 * O), requantize8(c20, c21, rq, stride, oc, mode, yzp, qlo, qhi, magic, blo, bhi, unsignedOut), nOc);
    store8Channels(d + <usize>(3 * O), requantize8(c30, c31, rq, stride, oc, mode, yzp, qlo, qhi, magic, blo, bhi, unsignedOut), nOc);
  }
  for (; p < np; p++) {
    const r0 = a + <usize>p * aStride;
    let c00 = b0, c01 = b1;
    let wp = w;
    for (let s: usize = 0; s < steps; s++) {
      let a0 = loadA<T>(r0, s << 4);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, v128.load(wp, 0)));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v128.load(wp, 16)));
      a0 = rot(a0);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, v128.load(wp, 32)));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v128.load(wp, 48)));
      a0 = rot(a0);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, v128.load(wp, 64)));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v128.load(wp, 80)));
      a0 = rot(a0);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, v128.load(wp, 96)));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v128.load(wp, 112)));
      wp += 128;
    }
    store8Channels(y + <usize>(p * O + oc), requantize8(c00, c01, rq, stride, oc, mode, yzp, qlo, qhi, magic, blo, bhi, unsignedOut), nOc);
  }
}

function qconv1x1Impl<T>(
  x: usize, P: i32, C: i32, w: usize, rq: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32, y: usize, O: i32, chunk: i32,
): void {
  const Kp = (C + 7) & ~7;
  const stride = rqStride(O);
  const yzpv = i32x4.splat(yzp), qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp);
  const magic = magicOf(yzp), blo = i8x16.splat(<i8>lo), bhi = i8x16.splat(<i8>hi);
  for (let p0 = 0; p0 < P; p0 += chunk) {
    const np = min(chunk, P - p0);
    const a = x + <usize>p0 * <usize>C;
    const yb = y + <usize>p0 * <usize>O;
    for (let oc = 0; oc < O; oc += 8) {
      gemmC2S4<T>(a, <usize>C, np, Kp, w + (<usize>(oc * Kp) << 1), rq, stride, oc, O - oc, mode, yzpv, qlo, qhi, magic, blo, bhi, unsignedOut, yb, O);
    }
  }
}

/**
 * A pointwise conv (1x1, stride 1, no padding, one group) or FULLY_CONNECTED without im2col:
 * y[P, O] from the rows x[P, C] read as they are. The input zero point is folded into the bias
 * row of `rq` (bias - x_zp·Σw, wrapping as int32 sums do); `w` int16 in blocks of 8 channels of
 * Kp = roundUp(C, 8) each (src/wasm/int8.ts packC2S4: per 8 k, four rotations, two halves),
 * `x` with 16 bytes of readable slack; `chunk` rows at a time pass every weight block.
 */
export function qconv1x1(
  x: usize, unsignedIn: i32, P: i32, C: i32, w: usize, rq: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32, y: usize, O: i32, chunk: i32,
): void {
  if (unsignedIn) qconv1x1Impl<u8>(x, P, C, w, rq, mode, yzp, lo, hi, unsignedOut, y, O, chunk);
  else qconv1x1Impl<i8>(x, P, C, w, rq, mode, yzp, lo, hi, unsignedOut, y, O, chunk);
}

function qdepthwiseImpl<T>(
  x: usize, xzp: i32, N: i32, H: i32, W: i32, C: i32, w: usize, rq: usize, ibias: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32,
  y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
): void {
  const stride = rqStride(C);
  const Cp = <usize>((C + 7) & ~7);
  const taps = kh * kw;
  const pairs = taps >> 1;
  const wPairs = w + ((<usize>taps * Cp) << 1);
  const zpv = i16x8.splat(<i16>xzp);
  const yzpv = i32x4.splat(yzp), qlo = i32x4.splat(lo - yzp), qhi = i32x4.splat(hi - yzp);
  const magic = magicOf(yzp), blo = i8x16.splat(<i8>lo), bhi = i8x16.splat(<i8>hi);
  const rowBytes = <usize>(W * C);
  const cBytes = <usize>C;
  // bytes between consecutive tap pairs' weights
  const pairBytes = Cp << 2;
  const k3x3 = kh == 3 && kw == 3 && dh == 1 && dw == 1;
  // byte offset of each tap from the window's corner, after the interior bias
  const tapOff = ibias + (Cp << 2);
  for (let t = 0; t < taps; t++) {
    const ky = t / kw;
    store<i32>(tapOff + (<usize>t << 2), <i32>(<usize>(ky * dh) * rowBytes + <usize>((t - ky * kw) * dw * C)));
  }
  let out = y;
  for (let n = 0; n < N; n++) {
    const xn = x + <usize>n * <usize>H * rowBytes;
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * sh - pt;
      // taps inside the image: ky in [kyLo, kyHi)
      let kyLo = 0, kyHi = kh;
      while (kyLo < kh && iy0 + kyLo * dh < 0) kyLo++;
      while (kyHi > kyLo && iy0 + (kyHi - 1) * dh >= H) kyHi--;
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * sw - pl;
        let kxLo = 0, kxHi = kw;
        while (kxLo < kw && ix0 + kxLo * dw < 0) kxLo++;
        while (kxHi > kxLo && ix0 + (kxHi - 1) * dw >= W) kxHi--;
        const interior = kyLo == 0 && kyHi == kh && kxLo == 0 && kxHi == kw;
        for (let c = 0; c < C; c += 8) {
          const cb = <usize>c;
          let accLo: v128, accHi: v128;
          if (interior && k3x3) {
            // 3x3, no dilation: the taps' addresses written out and their loop unrolled (the
            // general path below reads each tap's offset from memory, and V8 checks for
            // interrupts on every loop iteration)
            accLo = v128.load(ibias + (cb << 2));
            accHi = v128.load(ibias + (cb << 2), 16);
            const x0 = xn + <usize>iy0 * rowBytes + <usize>(ix0 * C) + cb;
            const x1 = x0 + rowBytes;
            const x2 = x1 + rowBytes;
            const wp = wPairs + (cb << 2);
            let a = load8<T>(x0);
            let b = load8<T>(x0 + cBytes);
            accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(wp)));
            accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(wp, 16)));
            a = load8<T>(x0 + (cBytes << 1));
            b = load8<T>(x1);
            accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(wp + pairBytes)));
            accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(wp + pairBytes, 16)));
            a = load8<T>(x1 + cBytes);
            b = load8<T>(x1 + (cBytes << 1));
            accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(wp + 2 * pairBytes)));
            accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(wp + 2 * pairBytes, 16)));
            a = load8<T>(x2);
            b = load8<T>(x2 + cBytes);
            accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(wp + 3 * pairBytes)));
            accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(wp + 3 * pairBytes, 16)));
            a = load8<T>(x2 + (cBytes << 1));
            const wv = v128.load(w + ((<usize>8 * Cp + cb) << 1));
            accLo = i32x4.add(accLo, i32x4.extmul_low_i16x8_s(a, wv));
            accHi = i32x4.add(accHi, i32x4.extmul_high_i16x8_s(a, wv));
          } else if (interior) {
            // every tap inside: the input zero point is folded into `ibias` (bias - zp * sum of
            // the channel's weights), and taps go two at a time through i32x4.dot_i16x8_s on
            // interleaved inputs against weights packed interleaved
            accLo = v128.load(ibias + (cb << 2));
            accHi = v128.load(ibias + (cb << 2), 16);
            const xb = xn + <usize>iy0 * rowBytes + <usize>(ix0 * C) + cb;
            for (let t = 0; t < pairs; t++) {
              const to = tapOff + (<usize>t << 3);
              const a = load8<T>(xb + <usize>load<i32>(to));
              const b = load8<T>(xb + <usize>load<i32>(to, 4));
              const wp = wPairs + ((<usize>t * Cp + cb) << 2);
              accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(wp)));
              accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(wp, 16)));
            }
            if (taps & 1) {
              const t = taps - 1;
              const a = load8<T>(xb + <usize>load<i32>(tapOff + (<usize>t << 2)));
              const wv = v128.load(w + ((<usize>t * Cp + cb) << 1));
              accLo = i32x4.add(accLo, i32x4.extmul_low_i16x8_s(a, wv));
              accHi = i32x4.add(accHi, i32x4.extmul_high_i16x8_s(a, wv));
            }
          } else {
            accLo = v128.load(rq + (cb << 2));
            accHi = v128.load(rq + (cb << 2), 16);
            for (let ky = kyLo; ky < kyHi; ky++) {
              const xr = xn + <usize>(iy0 + ky * dh) * rowBytes + cb;
              const wr = w + ((<usize>(ky * kw) * Cp + cb) << 1);
              for (let kx = kxLo; kx < kxHi; kx++) {
                const xv = i16x8.sub(load8<T>(xr + <usize>((ix0 + kx * dw) * C)), zpv);
                const wv = v128.load(wr + ((<usize>kx * Cp) << 1));
                accLo = i32x4.add(accLo, i32x4.extmul_low_i16x8_s(xv, wv));
                accHi = i32x4.add(accHi, i32x4.extmul_high_i16x8_s(xv, wv));
              }
            }
          }
          store8Channels(out + cb, requantize8(accLo, accHi, rq, stride, cb, mode, yzpv, qlo, qhi, magic, blo, bhi, unsignedOut), C - c);
        }
        out += <usize>C;
      }
    }
  }
}

/**
 * Depthwise integer conv with one filter per channel: y[N, OH, OW, C] from x[N, H, W, C].
 * `w` is int16 minus the weight zero points, zero-padded to Cp = roundUp(C, 8) channels: first
 * (kh*kw, Cp), then the taps in pairs (floor(kh*kw / 2), Cp, 2) with each channel's two weights
 * adjacent. `rq` is the requantization block of Cp channels; `ibias` Cp int32 of
 * bias - x_zp * (the channel's weight sum), the bias of pixels whose taps are all inside,
 * followed by kh*kw int32 of scratch.
 */
export function qdepthwise(
  x: usize, unsignedIn: i32, xzp: i32, N: i32, H: i32, W: i32, C: i32, w: usize, rq: usize, ibias: usize, mode: i32, yzp: i32, lo: i32, hi: i32, unsignedOut: i32,
  y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
): void {
  if (unsignedIn) qdepthwiseImpl<u8>(x, xzp, N, H, W, C, w, rq, ibias, mode, yzp, lo, hi, unsignedOut, y, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw);
  else qdepthwiseImpl<i8>(x, xzp, N, H, W, C, w, rq, ibias, mode, yzp, lo, hi, unsignedOut, y, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw);
}
