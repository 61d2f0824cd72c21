// 16x8 integer convolution with TFLite's arithmetic (NHWC, int16 activations with zero point 0,
// 8-bit weights, int64 accumulators and bias, the 16x8 requantization of
// MultiplyByQuantizedMultiplier(int64): a 16-bit multiplier, one rounding shift):
//   qconv2d16:    im2col of a chunk of output pixels into int16 rows (K padded to 8 with zeros;
//                 qconv.ts' im2colQ, shared with the 8-bit kernel),
//                 then a 2-pixel x 4-channel i32x4.dot_i16x8_s micro-kernel against int16
//                 weights (O, kh, kw, I/group) minus their zero points. Products are below 2^24
//                 a pair, so the int32 lanes are widened into int64 sums every 64 steps (2^30).
//                 Serves CONV_2D (any group) and FULLY_CONNECTED.
//   qdepthwise16: depthwise with multiplier 1, SIMD over 8 channels; up to 255 taps in int32
//                 lanes (each product below 2^23), then int64 with the bias.
// The scalar twin is qconv2dReference in src/runtime/integer/reference.ts. Pointers are byte
// addresses; scratch is passed in. `x` needs 16 bytes of readable slack after its last element.
// Per-channel parameters: `bias` int64 per channel (0 when absent), `mult` and `shift` int32.

import { im2colQ } from './qconv';

/** MultiplyByQuantizedMultiplier(int64 x, multiplier, shift) of TFLite's 16x8 kernels. */
// @ts-ignore: decorator
@inline
function requantize64(x: i64, multiplier: i32, shift: i32): i32 {
  const reduced: i64 = multiplier < 0x7fff0000 ? <i64>((multiplier + (1 << 15)) >> 16) : 0x7fff;
  const total = <i64>(15 - shift);
  return <i32>((x * reduced + (<i64>1 << (total - 1))) >> total);
}

// @ts-ignore: decorator
@inline
function hsum(v: v128): i64 {
  return <i64>i32x4.extract_lane(v, 0) + <i64>i32x4.extract_lane(v, 1) + <i64>i32x4.extract_lane(v, 2) + <i64>i32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline
function finish(acc: i64, bias: usize, mult: usize, shift: usize, oc: i32, yzp: i32, lo: i32, hi: i32): i16 {
  const o = <usize>oc;
  const r = requantize64(acc + load<i64>(bias + (o << 3)), load<i32>(mult + (o << 2)), load<i32>(shift + (o << 2))) + yzp;
  return <i16>(r < lo ? lo : r > hi ? hi : r);
}

/** Vector steps (8 int16 each) between widenings of the int32 lanes. */
const FLUSH: usize = 64 * 16;

/** Up to 4 channels [oc, oc + nOc) for np pixels of `col` against weight rows w0.. (Kp int16 each). */
function gemmBlock16(col: usize, np: i32, Kp: i32, w0: usize, bias: usize, mult: usize, shift: usize, oc: i32, nOc: i32, yzp: i32, lo: i32, hi: i32, y: usize, O: i32): void {
  const rowBytes = <usize>Kp << 1;
  const w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
  let p = 0;
  for (; p + 2 <= np; p += 2) {
    const a0p = col + <usize>p * rowBytes;
    const a1p = a0p + rowBytes;
    let s00: i64 = 0, s01: i64 = 0, s02: i64 = 0, s03: i64 = 0, s10: i64 = 0, s11: i64 = 0, s12: i64 = 0, s13: i64 = 0;
    for (let k0: usize = 0; k0 < rowBytes; k0 += FLUSH) {
      const end = min(k0 + FLUSH, rowBytes);
      let c00 = i32x4.splat(0), c01 = c00, c02 = c00, c03 = c00;
      let c10 = c00, c11 = c00, c12 = c00, c13 = c00;
      for (let k = k0; k < end; k += 16) {
        const a0 = v128.load(a0p + k);
        const a1 = v128.load(a1p + k);
        let b = v128.load(w0 + k);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, b));
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a1, b));
        b = v128.load(w1 + k);
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, b));
        c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a1, b));
        b = v128.load(w2 + k);
        c02 = i32x4.add(c02, i32x4.dot_i16x8_s(a0, b));
        c12 = i32x4.add(c12, i32x4.dot_i16x8_s(a1, b));
        b = v128.load(w3 + k);
        c03 = i32x4.add(c03, i32x4.dot_i16x8_s(a0, b));
        c13 = i32x4.add(c13, i32x4.dot_i16x8_s(a1, b));
      }
      s00 += hsum(c00); s01 += hsum(c01); s02 += hsum(c02); s03 += hsum(c03);
      s10 += hsum(c10); s11 += hsum(c11); s12 += hsum(c12); s13 += hsum(c13);
    }
    const d0 = y + (<usize>(p * O + oc) << 1);
    const d1 = d0 + (<usize>O << 1);
    store<i16>(d0, finish(s00, bias, mult, shift, oc, yzp, lo, hi));
    store<i16>(d1, finish(s10, bias, mult, shift, oc, yzp, lo, hi));
    if (nOc > 1) { store<i16>(d0, finish(s01, bias, mult, shift, oc + 1, yzp, lo, hi), 2); store<i16>(d1, finish(s11, bias, mult, shift, oc + 1, yzp, lo, hi), 2); }
    if (nOc > 2) { store<i16>(d0, finish(s02, bias, mult, shift, oc + 2, yzp, lo, hi), 4); store<i16>(d1, finish(s12, bias, mult, shift, oc + 2, yzp, lo, hi), 4); }
    if (nOc > 3) { store<i16>(d0, finish(s03, bias, mult, shift, oc + 3, yzp, lo, hi), 6); store<i16>(d1, finish(s13, bias, mult, shift, oc + 3, yzp, lo, hi), 6); }
  }
  if (p < np) {
    const a0p = col + <usize>p * rowBytes;
    let s00: i64 = 0, s01: i64 = 0, s02: i64 = 0, s03: i64 = 0;
    for (let k0: usize = 0; k0 < rowBytes; k0 += FLUSH) {
      const end = min(k0 + FLUSH, rowBytes);
      let c00 = i32x4.splat(0), c01 = c00, c02 = c00, c03 = c00;
      for (let k = k0; k < end; k += 16) {
        const a0 = v128.load(a0p + k);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a0, v128.load(w0 + k)));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a0, v128.load(w1 + k)));
        c02 = i32x4.add(c02, i32x4.dot_i16x8_s(a0, v128.load(w2 + k)));
        c03 = i32x4.add(c03, i32x4.dot_i16x8_s(a0, v128.load(w3 + k)));
      }
      s00 += hsum(c00); s01 += hsum(c01); s02 += hsum(c02); s03 += hsum(c03);
    }
    const d0 = y + (<usize>(p * O + oc) << 1);
    store<i16>(d0, finish(s00, bias, mult, shift, oc, yzp, lo, hi));
    if (nOc > 1) store<i16>(d0, finish(s01, bias, mult, shift, oc + 1, yzp, lo, hi), 2);
    if (nOc > 2) store<i16>(d0, finish(s02, bias, mult, shift, oc + 2, yzp, lo, hi), 4);
    if (nOc > 3) store<i16>(d0, finish(s03, bias, mult, shift, oc + 3, yzp, lo, hi), 6);
  }
}

/**
 * One group of a 16x8 conv: y[N, OH, OW, O] (int16) at channels [oOff, oOff + opg) from
 * x[N, H, W, C] (int16, zero point 0) channels [cOff, cOff + ipg). `w` is int16
 * (roundUp(opg, 4), Kp) with Kp = roundUp(kh*kw*ipg, 8), zero-padded; `bias`/`mult`/`shift` are
 * the group's opg channels; lo/hi the output clamp; `col` scratch of chunk * Kp int16 plus 16 bytes.
 */
export function qconv2d16(
  x: usize, N: i32, H: i32, W: i32, C: i32, cOff: i32, ipg: i32,
  w: usize, bias: usize, mult: usize, shift: usize, yzp: i32, lo: i32, hi: i32,
  y: usize, O: i32, oOff: i32, opg: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, col: usize, chunk: i32,
): void {
  const Kp = (kh * kw * ipg + 7) & ~7;
  const P = N * OH * OW;
  for (let p0 = 0; p0 < P; p0 += chunk) {
    const np = min(chunk, P - p0);
    im2colQ<i16>(x, 0, H, W, C, cOff, ipg, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, p0, np, col, Kp);
    const yb = y + (<usize>(p0 * O + oOff) << 1);
    for (let oc = 0; oc < opg; oc += 4) {
      gemmBlock16(col, np, Kp, w + (<usize>(oc * Kp) << 1), bias, mult, shift, oc, min(4, opg - oc), yzp, lo, hi, yb, O);
    }
  }
}

/**
 * Depthwise 16x8 conv with one filter per channel (at most 255 taps): y[N, OH, OW, C] from
 * x[N, H, W, C]. `w` is int16 (kh*kw, Cp) minus the weight zero points, Cp = roundUp(C, 8)
 * zero-padded; `bias`/`mult`/`shift` per channel; `acc` scratch of Cp int32.
 */
export function qdepthwise16(
  x: usize, N: i32, H: i32, W: i32, C: i32, w: usize, bias: usize, mult: usize, shift: usize, yzp: i32, lo: i32, hi: i32,
  y: usize, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, acc: usize,
): void {
  const Cp = <usize>((C + 7) & ~7);
  const rowElems = <usize>(W * C);
  let out = y;
  for (let n = 0; n < N; n++) {
    const xn = x + ((<usize>n * <usize>H * rowElems) << 1);
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * sh - pt;
      let kyLo = 0, kyHi = kh;
      while (kyLo < kh && iy0 + kyLo * dh < 0) kyLo++;
      while (kyHi > kyLo && iy0 + (kyHi - 1) * dh >= H) kyHi--;
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * sw - pl;
        let kxLo = 0, kxHi = kw;
        while (kxLo < kw && ix0 + kxLo * dw < 0) kxLo++;
        while (kxHi > kxLo && ix0 + (kxHi - 1) * dw >= W) kxHi--;
        for (let c = 0; c < C; c += 8) {
          const cb = <usize>c;
          let accLo = i32x4.splat(0), accHi = accLo;
          for (let ky = kyLo; ky < kyHi; ky++) {
            const xr = xn + ((<usize>(iy0 + ky * dh) * rowElems + cb) << 1);
            const wr = w + ((<usize>(ky * kw) * Cp + cb) << 1);
            for (let kx = kxLo; kx < kxHi; kx++) {
              const xv = v128.load(xr + (<usize>((ix0 + kx * dw) * C) << 1));
              const wv = v128.load(wr + ((<usize>kx * Cp) << 1));
              accLo = i32x4.add(accLo, i32x4.extmul_low_i16x8_s(xv, wv));
              accHi = i32x4.add(accHi, i32x4.extmul_high_i16x8_s(xv, wv));
            }
          }
          v128.store(acc + (cb << 2), accLo);
          v128.store(acc + (cb << 2), accHi, 16);
          const end = min(C, c + 8);
          for (let ch = c; ch < end; ch++) store<i16>(out + (<usize>ch << 1), finish(<i64>load<i32>(acc + (<usize>ch << 2)), bias, mult, shift, ch, yzp, lo, hi));
        }
        out += <usize>C << 1;
      }
    }
  }
}
