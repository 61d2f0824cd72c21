// Convolution drivers over one image and one group, NCHW float32 (1-D convs come in as H = 1).
//   conv2dGemm:        im2col into packed GEMM panels, chunk by chunk, then sgemmPacked.
//   depthwiseConv2d:   direct SIMD over the output width (one filter per channel).
//   col2imAdd:         the scatter half of ConvTranspose (the GEMM half is sgemmPacked).
// Pointers are byte addresses in this memory; all scratch is passed in by the caller.

import { clamp1, clamp4 } from '../util/activation';
import { GEMM_MR, GEMM_NR } from '../util/gemm-blocking';
import { sgemmPacked } from './gemm';

const OUTSIDE: i32 = -0x40000000;

/**
 * Write columns [n0, n0+nc) of the im2col matrix of x[C,H,W] (rows k = (c,ky,kx), columns
 * n = oh*OW + ow) as packed B panels [ceil(nc/NR)][K][NR]; out-of-image taps are zero.
 * `idx` is scratch for 2*NR i32.
 */
export function im2colPacked(
  x: usize, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  OW: i32, n0: i32, nc: i32, dst: usize, idx: usize,
): void {
  const K = C * kh * kw;
  const panels = (nc + GEMM_NR - 1) / GEMM_NR;
  const plane = <usize>(H * W) << 2;
  const rowBytes = <usize>W << 2;
  const zero = f32x4.splat(0);
  for (let p = 0; p < panels; p++) {
    const ns = n0 + p * GEMM_NR;
    const cols = min(GEMM_NR, n0 + nc - ns);
    const oh0 = ns / OW;
    const ow0 = ns - oh0 * OW;
    let d = dst + (<usize>p * <usize>K * GEMM_NR << 2);
    if (cols == GEMM_NR && ow0 + GEMM_NR <= OW) {
      // The whole panel lies in one output row: a tap is a strided (often contiguous) row slice.
      const ihb = oh0 * sh - pt;
      const iwb = ow0 * sw - pl;
      let xc = x;
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < kh; ky++) {
          const ih = ihb + ky * dh;
          if (<u32>ih >= <u32>H) {
            for (let kx = 0; kx < kw; kx++) {
              v128.store(d, zero);
              v128.store(d, zero, 16);
              d += GEMM_NR << 2;
            }
            continue;
          }
          const row = xc + <usize>ih * rowBytes;
          for (let kx = 0; kx < kw; kx++) {
            const iw = iwb + kx * dw;
            if (sw == 1 && iw >= 0 && iw + GEMM_NR <= W) {
              const s = row + (<usize>iw << 2);
              v128.store(d, v128.load(s));
              v128.store(d, v128.load(s, 16), 16);
            } else if (sw == 2 && iw >= 0 && iw + 2 * GEMM_NR <= W) {
              // stride 2 (the stem convs, downsampling 1x1s): the even lanes of 16 floats
              const s = row + (<usize>iw << 2);
              v128.store(d, v128.shuffle<f32>(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
              v128.store(d, v128.shuffle<f32>(v128.load(s, 32), v128.load(s, 48), 0, 2, 4, 6), 16);
            } else {
              for (let t = 0; t < GEMM_NR; t++) {
                const iwt = iw + t * sw;
                store<f32>(d + (<usize>t << 2), <u32>iwt < <u32>W ? load<f32>(row + (<usize>iwt << 2)) : 0);
              }
            }
            d += GEMM_NR << 2;
          }
        }
        xc += plane;
      }
    } else {
      // The panel wraps to the next output row(s) or is the ragged last one: per-column origins.
      let oh = oh0, ow = ow0;
      for (let t = 0; t < GEMM_NR; t++) {
        const ti = idx + (<usize>t << 3);
        if (t < cols) {
          store<i32>(ti, oh * sh - pt);
          store<i32>(ti, ow * sw - pl, 4);
        } else {
          store<i32>(ti, OUTSIDE);
          store<i32>(ti, OUTSIDE, 4);
        }
        if (++ow == OW) {
          ow = 0;
          oh++;
        }
      }
      let xc = x;
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            for (let t = 0; t < GEMM_NR; t++) {
              const ti = idx + (<usize>t << 3);
              const ih = load<i32>(ti) + ky * dh;
              const iw = load<i32>(ti, 4) + kx * dw;
              let v: f32 = 0;
              if (<u32>ih < <u32>H && <u32>iw < <u32>W) v = load<f32>(xc + <usize>ih * rowBytes + (<usize>iw << 2));
              store<f32>(d + (<usize>t << 2), v);
            }
            d += GEMM_NR << 2;
          }
        }
        xc += plane;
      }
    }
  }
}

/**
 * y[M, OH*OW] = clamp(W[M, C*kh*kw] * im2col(x[C,H,W]) (+ bias[M]), actMin, actMax). `aPack`
 * is W packed by gemmPackA; `col` holds nChunk packed columns (nChunk a multiple of NR);
 * `scratch` is gemmScratchBytes(). `bias` is 0 or M floats padded to a multiple of MR.
 */
export function conv2dGemm(
  x: usize, C: i32, H: i32, W: i32, aPack: usize, M: i32, bias: usize, y: usize, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, col: usize, nChunk: i32, scratch: usize,
  actMin: f32, actMax: f32,
): void {
  const K = C * kh * kw;
  const N = OH * OW;
  const idx = scratch + (<usize>(GEMM_MR * GEMM_NR) << 2);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const nc = min(nChunk, N - n0);
    im2colPacked(x, C, H, W, kh, kw, sh, sw, pt, pl, dh, dw, OW, n0, nc, col, idx);
    sgemmPacked(M, nc, K, aPack, col, y + (<usize>n0 << 2), N, bias, 0, scratch, actMin, actMax);
  }
}

// Four outputs of a strided row: stride 1 is one load, stride 2 keeps the even lanes of two.
// @ts-ignore: decorator
@inline
function load4(p: usize, sw: i32): v128 {
  if (sw == 1) return v128.load(p);
  return v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
}

/**
 * Depthwise conv (group = C, one filter per channel) of x[C,H,W] with w[C,kh,kw] into
 * y[C,OH,OW], clamped to [actMin, actMax]. Each channel is first copied into `pad`, a
 * zero-bordered plane of PH x PW = ((OH-1)*sh + (kh-1)*dh + 1) x ((OW-1)*sw + (kw-1)*dw + 1)
 * floats plus 8 floats of slack (and PW + 8 more floats), so the inner loops need no bounds
 * checks. Strides 1 and 2 are SIMD.
 */
export function depthwiseConv2d(
  x: usize, C: i32, H: i32, W: i32, w: usize, bias: usize, y: usize, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32, pad: usize,
  actMin: f32, actMax: f32,
): void {
  const PH = (OH - 1) * sh + (kh - 1) * dh + 1;
  const PW = (OW - 1) * sw + (kw - 1) * dw + 1;
  const PWb = <usize>PW << 2;
  const simd = (sw == 1 || sw == 2) && OW >= 4;
  const lo = f32x4.splat(actMin), hi = f32x4.splat(actMax);
  // Stride-2 3x3: each padded row is split into its even and odd columns, so every tap is a
  // contiguous load instead of two loads and a shuffle. `pad` has PW + 8 more floats for this.
  const split = sw == 2 && kh == 3 && kw == 3 && dw == 1;
  const rowTmp = pad + ((<usize>(PH * PW) + 8) << 2);
  // 3x3 at stride 1, or stride 2 on the split plane: every tap is a contiguous row slice at
  // offset 0, t1 or t2 bytes from the output position's base.
  const rows3 = kh == 3 && kw == 3 && (sw == 1 || split);
  const t1: usize = split ? <usize>((PW + 1) >> 1) << 2 : <usize>dw << 2;
  const t2: usize = split ? 4 : <usize>(2 * dw) << 2;
  for (let c = 0; c < C; c++) {
    if (split) padPlaneSplit(x + (<usize>c * <usize>(H * W) << 2), H, W, pad, PH, PW, pt, pl, rowTmp);
    else padPlane(x + (<usize>c * <usize>(H * W) << 2), H, W, pad, PH, PW, pt, pl, 0);
    const wc = w + (<usize>(c * kh * kw) << 2);
    const b: f32 = bias ? load<f32>(bias + (<usize>c << 2)) : 0;
    const bv = f32x4.splat(b);
    const yc = y + (<usize>c * <usize>(OH * OW) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const top = pad + <usize>(oh * sh) * PWb;
      const yr = yc + (<usize>(oh * OW) << 2);
      let ow = 0;
      if (rows3) {
        // One pass per kernel row, accumulating in the output row: three weights and two
        // accumulators stay in registers (nine weights at once made V8 spill every one).
        const r1off = <usize>dh * PWb;
        depthwiseRowPass(top, t1, t2, yr, OW, wc, bv, 0, lo, hi);
        depthwiseRowPass(top + r1off, t1, t2, yr, OW, wc + 12, bv, 1, lo, hi);
        depthwiseRowPass(top + 2 * r1off, t1, t2, yr, OW, wc + 24, bv, 2, lo, hi);
        ow = OW;
      } else if (simd) {
        if (kh == 3 && kw == 3) {
          ow = depthwiseRow3x3(top, PWb, yr, OW, wc, bv, sw, dh, dw, lo, hi);
        } else {
          const step4 = <usize>(4 * sw) << 2;
          for (; ow + 16 <= OW; ow += 16) {
            let a0 = bv, a1 = bv, a2 = bv, a3 = bv;
            for (let ky = 0; ky < kh; ky++) {
              const r = top + <usize>(ky * dh) * PWb + (<usize>(ow * sw) << 2);
              const wr = wc + (<usize>(ky * kw) << 2);
              for (let kx = 0; kx < kw; kx++) {
                const wv = v128.load32_splat(wr + (<usize>kx << 2));
                const p = r + (<usize>(kx * dw) << 2);
                a0 = f32x4.add(a0, f32x4.mul(wv, load4(p, sw)));
                a1 = f32x4.add(a1, f32x4.mul(wv, load4(p + step4, sw)));
                a2 = f32x4.add(a2, f32x4.mul(wv, load4(p + 2 * step4, sw)));
                a3 = f32x4.add(a3, f32x4.mul(wv, load4(p + 3 * step4, sw)));
              }
            }
            const o = yr + (<usize>ow << 2);
            v128.store(o, clamp4(a0, lo, hi));
            v128.store(o, clamp4(a1, lo, hi), 16);
            v128.store(o, clamp4(a2, lo, hi), 32);
            v128.store(o, clamp4(a3, lo, hi), 48);
          }
          for (; ow + 4 <= OW; ow += 4) depthwise4(top, PWb, yr, ow, wc, bv, kh, kw, sw, dh, dw, lo, hi);
        }
        // Ragged end: redo the last four outputs (overlapping ones already written; the row
        // is stored, not accumulated, so writing them twice is harmless).
        if (ow < OW) {
          depthwise4(top, PWb, yr, OW - 4, wc, bv, kh, kw, sw, dh, dw, lo, hi);
          ow = OW;
        }
      }
      for (; ow < OW; ow++) {
        let a = b;
        for (let ky = 0; ky < kh; ky++) {
          const r = top + <usize>(ky * dh) * PWb + (<usize>(ow * sw) << 2);
          const wr = wc + (<usize>(ky * kw) << 2);
          for (let kx = 0; kx < kw; kx++) a += load<f32>(wr + (<usize>kx << 2)) * load<f32>(r + (<usize>(kx * dw) << 2));
        }
        store<f32>(yr + (<usize>ow << 2), clamp1(a, actMin, actMax));
      }
    }
  }
}

/** Four depthwise outputs [ow, ow+4) of one row, any window. */
// @ts-ignore: decorator
@inline
function depthwise4(top: usize, PWb: usize, yr: usize, ow: i32, wc: usize, bv: v128, kh: i32, kw: i32, sw: i32, dh: i32, dw: i32, lo: v128, hi: v128): void {
  let a0 = bv;
  for (let ky = 0; ky < kh; ky++) {
    const r = top + <usize>(ky * dh) * PWb + (<usize>(ow * sw) << 2);
    const wr = wc + (<usize>(ky * kw) << 2);
    for (let kx = 0; kx < kw; kx++) {
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(wr + (<usize>kx << 2)), load4(r + (<usize>(kx * dw) << 2), sw)));
    }
  }
  v128.store(yr + (<usize>ow << 2), clamp4(a0, lo, hi));
}

/**
 * The common 3x3 case of one depthwise output row, weights held in registers: outputs
 * [0, returned) of the row are written, 8 then 4 at a time.
 */
// @ts-ignore: decorator
@inline
function depthwiseRow3x3(top: usize, PWb: usize, yr: usize, OW: i32, wc: usize, bv: v128, sw: i32, dh: i32, dw: i32, lo: v128, hi: v128): i32 {
  const w0 = v128.load32_splat(wc), w1 = v128.load32_splat(wc, 4), w2 = v128.load32_splat(wc, 8);
  const w3 = v128.load32_splat(wc, 12), w4 = v128.load32_splat(wc, 16), w5 = v128.load32_splat(wc, 20);
  const w6 = v128.load32_splat(wc, 24), w7 = v128.load32_splat(wc, 28), w8 = v128.load32_splat(wc, 32);
  const r1off = <usize>dh * PWb;
  const x1 = <usize>dw << 2;
  const x2 = x1 << 1;
  const step4 = <usize>(4 * sw) << 2;
  let ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    const r0 = top + (<usize>(ow * sw) << 2);
    const r1 = r0 + r1off;
    const r2 = r1 + r1off;
    let a = f32x4.add(bv, f32x4.mul(w0, load4(r0, sw)));
    let b = f32x4.add(bv, f32x4.mul(w0, load4(r0 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w1, load4(r0 + x1, sw)));
    b = f32x4.add(b, f32x4.mul(w1, load4(r0 + x1 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w2, load4(r0 + x2, sw)));
    b = f32x4.add(b, f32x4.mul(w2, load4(r0 + x2 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w3, load4(r1, sw)));
    b = f32x4.add(b, f32x4.mul(w3, load4(r1 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w4, load4(r1 + x1, sw)));
    b = f32x4.add(b, f32x4.mul(w4, load4(r1 + x1 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w5, load4(r1 + x2, sw)));
    b = f32x4.add(b, f32x4.mul(w5, load4(r1 + x2 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w6, load4(r2, sw)));
    b = f32x4.add(b, f32x4.mul(w6, load4(r2 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w7, load4(r2 + x1, sw)));
    b = f32x4.add(b, f32x4.mul(w7, load4(r2 + x1 + step4, sw)));
    a = f32x4.add(a, f32x4.mul(w8, load4(r2 + x2, sw)));
    b = f32x4.add(b, f32x4.mul(w8, load4(r2 + x2 + step4, sw)));
    v128.store(yr + (<usize>ow << 2), clamp4(a, lo, hi));
    v128.store(yr + (<usize>ow << 2), clamp4(b, lo, hi), 16);
  }
  for (; ow + 4 <= OW; ow += 4) {
    const r0 = top + (<usize>(ow * sw) << 2);
    const r1 = r0 + r1off;
    const r2 = r1 + r1off;
    let a = f32x4.add(bv, f32x4.mul(w0, load4(r0, sw)));
    a = f32x4.add(a, f32x4.mul(w1, load4(r0 + x1, sw)));
    a = f32x4.add(a, f32x4.mul(w2, load4(r0 + x2, sw)));
    a = f32x4.add(a, f32x4.mul(w3, load4(r1, sw)));
    a = f32x4.add(a, f32x4.mul(w4, load4(r1 + x1, sw)));
    a = f32x4.add(a, f32x4.mul(w5, load4(r1 + x2, sw)));
    a = f32x4.add(a, f32x4.mul(w6, load4(r2, sw)));
    a = f32x4.add(a, f32x4.mul(w7, load4(r2 + x1, sw)));
    a = f32x4.add(a, f32x4.mul(w8, load4(r2 + x2, sw)));
    v128.store(yr + (<usize>ow << 2), clamp4(a, lo, hi));
  }
  return ow;
}

/**
 * One kernel row's contribution to a depthwise output row: y[ow] (+)= w[0]*r[ow] + w[1]*r[ow+t1]
 * + w[2]*r[ow+t2] (offsets in bytes), for all ow in 4-float steps. Pass 0 starts from the
 * bias, pass 2 applies the clamp. A ragged row is computed up to the next multiple of 4:
 * the extra outputs land in the next row (or channel), which its own pass 0 overwrites
 * later, and past the last row in 3 floats of slack the caller provides after y.
 */
// @ts-ignore: decorator
@inline
function depthwiseRowPass(r: usize, t1: usize, t2: usize, yr: usize, OW: i32, w: usize, bv: v128, pass: i32, lo: v128, hi: v128): void {
  const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
  let ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    const p = r + (<usize>ow << 2);
    const o = yr + (<usize>ow << 2);
    let a = pass == 0 ? bv : v128.load(o);
    let b = pass == 0 ? bv : v128.load(o, 16);
    a = f32x4.add(a, f32x4.mul(w0, v128.load(p)));
    b = f32x4.add(b, f32x4.mul(w0, v128.load(p, 16)));
    a = f32x4.add(a, f32x4.mul(w1, v128.load(p + t1)));
    b = f32x4.add(b, f32x4.mul(w1, v128.load(p + t1, 16)));
    a = f32x4.add(a, f32x4.mul(w2, v128.load(p + t2)));
    b = f32x4.add(b, f32x4.mul(w2, v128.load(p + t2, 16)));
    if (pass == 2) {
      a = clamp4(a, lo, hi);
      b = clamp4(b, lo, hi);
    }
    v128.store(o, a);
    v128.store(o, b, 16);
  }
  for (; ow < OW; ow += 4) {
    const p = r + (<usize>ow << 2);
    const o = yr + (<usize>ow << 2);
    let a = pass == 0 ? bv : v128.load(o);
    a = f32x4.add(a, f32x4.mul(w0, v128.load(p)));
    a = f32x4.add(a, f32x4.mul(w1, v128.load(p + t1)));
    a = f32x4.add(a, f32x4.mul(w2, v128.load(p + t2)));
    if (pass == 2) a = clamp4(a, lo, hi);
    v128.store(o, a);
  }
}

/**
 * padPlane with every padded row stored split: its even columns first ((PW+1)/2 floats),
 * then its odd ones (PW/2). `tmp` is scratch for PW + 8 floats (one padded row).
 */
export function padPlaneSplit(src: usize, H: i32, W: i32, dst: usize, PH: i32, PW: i32, pt: i32, pl: i32, tmp: usize): void {
  const PWb = <usize>PW << 2;
  const zero = f32x4.splat(0);
  const j0 = max(0, min(PW, pl));
  const j1 = max(j0, min(PW, pl + W));
  const nOdd = PW >> 1;
  const oddOff = <usize>((PW + 1) >> 1) << 2;
  for (let i = 0; i < PH; i++) {
    const d = dst + <usize>i * PWb;
    const ih = i - pt;
    if (<u32>ih >= <u32>H || j1 == j0) {
      fillRow(d, PW, zero, 0);
      continue;
    }
    if (j0 > 0) fillRow(tmp, j0, zero, 0);
    memory.copy(tmp + (<usize>j0 << 2), src + (<usize>(ih * W + j0 - pl) << 2), <usize>(j1 - j0) << 2);
    if (j1 < PW) fillRow(tmp + (<usize>j1 << 2), PW - j1, zero, 0);
    let q = 0;
    for (; q + 4 <= nOdd; q += 4) {
      const a = v128.load(tmp + (<usize>q << 3));
      const b = v128.load(tmp + (<usize>q << 3), 16);
      v128.store(d + (<usize>q << 2), v128.shuffle<f32>(a, b, 0, 2, 4, 6));
      v128.store(d + oddOff + (<usize>q << 2), v128.shuffle<f32>(a, b, 1, 3, 5, 7));
    }
    for (let t = q << 1; t < PW; t++) {
      const v = load<f32>(tmp + (<usize>t << 2));
      store<f32>(t & 1 ? d + oddOff + (<usize>(t >> 1) << 2) : d + (<usize>(t >> 1) << 2), v);
    }
  }
  fillRow(dst + <usize>PH * PWb, 8, zero, 0);
}

/**
 * Copy plane src[H,W] into dst[PH,PW] shifted by (pt, pl), filling everything outside the
 * image with `fill`, plus 8 floats of `fill` after the plane (slack for 8-wide loads).
 */
export function padPlane(src: usize, H: i32, W: i32, dst: usize, PH: i32, PW: i32, pt: i32, pl: i32, fill: f32): void {
  const PWb = <usize>PW << 2;
  const f = f32x4.splat(fill);
  // columns [j0, j1) of a padded row come from the image
  const j0 = max(0, min(PW, pl));
  const j1 = max(j0, min(PW, pl + W));
  for (let i = 0; i < PH; i++) {
    const d = dst + <usize>i * PWb;
    const ih = i - pt;
    if (<u32>ih >= <u32>H || j1 == j0) {
      fillRow(d, PW, f, fill);
      continue;
    }
    if (j0 > 0) fillRow(d, j0, f, fill);
    memory.copy(d + (<usize>j0 << 2), src + (<usize>(ih * W + j0 - pl) << 2), <usize>(j1 - j0) << 2);
    if (j1 < PW) fillRow(d + (<usize>j1 << 2), PW - j1, f, fill);
  }
  fillRow(dst + <usize>PH * PWb, 8, f, fill);
}

// @ts-ignore: decorator
@inline
function fillRow(d: usize, n: i32, f: v128, fill: f32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), f);
  for (; i < n; i++) store<f32>(d + (<usize>i << 2), fill);
}

/**
 * ConvTranspose scatter: y[M, OH, OW] += col2im(col[M*kh*kw, H*W]), where column n = ih*W + iw
 * of row (m, ky, kx) lands on oh = ih*sh - pt + ky*dh, ow = iw*sw - pl + kx*dw when inside.
 */
export function col2imAdd(
  col: usize, M: i32, H: i32, W: i32, y: usize, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
): void {
  let src = col;
  for (let m = 0; m < M; m++) {
    const ym = y + (<usize>m * <usize>(OH * OW) << 2);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        for (let ih = 0; ih < H; ih++) {
          const oh = ih * sh - pt + ky * dh;
          if (<u32>oh >= <u32>OH) {
            src += <usize>W << 2;
            continue;
          }
          const yr = ym + (<usize>(oh * OW) << 2);
          for (let iw = 0; iw < W; iw++) {
            const ow = iw * sw - pl + kx * dw;
            if (<u32>ow < <u32>OW) {
              const p = yr + (<usize>ow << 2);
              store<f32>(p, load<f32>(p) + load<f32>(src));
            }
            src += 4;
          }
        }
      }
    }
  }
}
