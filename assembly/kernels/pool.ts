// Pooling over NCHW float32 planes (1-D pools come in as H = 1).
// pool2d pads each plane into `pad` first (with -inf for max, 0 for average) so the window
// loops need no bounds checks, then runs SIMD over the output width for strides 1 and 2.

import { PoolKind } from '../../src/wasm/opcodes';
import { padPlane } from './conv';

// @ts-ignore: decorator
@inline
function load4(p: usize, sw: i32): v128 {
  if (sw == 1) return v128.load(p);
  return v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
}

/**
 * Max (kind PoolKind.Max) or average pooling of x[C,H,W] into y[C,OH,OW]. For average pooling
 * the divisor is separable: out = sum * invH[oh] * invW[ow] (f32 arrays from the caller,
 * which encode count_include_pad). `pad` holds PH*PW + 8 floats with
 * PH = (OH-1)*sh + (kh-1)*dh + 1, PW = (OW-1)*sw + (kw-1)*dw + 1.
 */
export function pool2d(
  x: usize, C: i32, H: i32, W: i32, y: usize, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32, dh: i32, dw: i32,
  kind: PoolKind, invH: usize, invW: usize, pad: usize,
): void {
  const isMax = kind == PoolKind.Max;
  const PH = (OH - 1) * sh + (kh - 1) * dh + 1;
  const PW = (OW - 1) * sw + (kw - 1) * dw + 1;
  const PWb = <usize>PW << 2;
  const simd = sw == 1 || sw == 2;
  const init: f32 = isMax ? -Infinity : 0;
  const initv = f32x4.splat(init);
  for (let c = 0; c < C; c++) {
    padPlane(x + (<usize>c * <usize>(H * W) << 2), H, W, pad, PH, PW, pt, pl, init);
    const yc = y + (<usize>c * <usize>(OH * OW) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const top = pad + <usize>(oh * sh) * PWb;
      const yr = yc + (<usize>(oh * OW) << 2);
      const ih: f32 = isMax ? 1 : load<f32>(invH + (<usize>oh << 2));
      let ow = 0;
      if (simd) {
        const step4 = <usize>(4 * sw) << 2;
        for (; ow + 8 <= OW; ow += 8) {
          let a0 = initv, a1 = initv;
          for (let ky = 0; ky < kh; ky++) {
            const r = top + <usize>(ky * dh) * PWb + (<usize>(ow * sw) << 2);
            for (let kx = 0; kx < kw; kx++) {
              const p = r + (<usize>(kx * dw) << 2);
              if (isMax) {
                a0 = f32x4.max(a0, load4(p, sw));
                a1 = f32x4.max(a1, load4(p + step4, sw));
              } else {
                a0 = f32x4.add(a0, load4(p, sw));
                a1 = f32x4.add(a1, load4(p + step4, sw));
              }
            }
          }
          const o = yr + (<usize>ow << 2);
          if (!isMax) {
            const s = f32x4.splat(ih);
            a0 = f32x4.mul(a0, f32x4.mul(s, v128.load(invW + (<usize>ow << 2))));
            a1 = f32x4.mul(a1, f32x4.mul(s, v128.load(invW + (<usize>ow << 2), 16)));
          }
          v128.store(o, a0);
          v128.store(o, a1, 16);
        }
      }
      for (; ow < OW; ow++) {
        let a = init;
        for (let ky = 0; ky < kh; ky++) {
          const r = top + <usize>(ky * dh) * PWb + (<usize>(ow * sw) << 2);
          for (let kx = 0; kx < kw; kx++) {
            const v = load<f32>(r + (<usize>(kx * dw) << 2));
            if (isMax) a = v > a || isNaN(v) ? v : a;
            else a += v;
          }
        }
        if (!isMax) a *= ih * load<f32>(invW + (<usize>ow << 2));
        store<f32>(yr + (<usize>ow << 2), a);
      }
    }
  }
}

/** y[i] = mean (PoolKind.Average) or max (PoolKind.Max) of x[i*HW .. (i+1)*HW), for i < NC. HW > 0. */
export function globalPool(x: usize, NC: i32, HW: i32, y: usize, kind: PoolKind): void {
  const isMax = kind == PoolKind.Max;
  const inv: f32 = 1 / <f32>HW;
  for (let i = 0; i < NC; i++) {
    const p = x + (<usize>i * <usize>HW << 2);
    let j = 0;
    let r: f32;
    if (isMax) {
      let m0 = f32x4.splat(-Infinity), m1 = m0;
      for (; j + 8 <= HW; j += 8) {
        m0 = f32x4.max(m0, v128.load(p + (<usize>j << 2)));
        m1 = f32x4.max(m1, v128.load(p + (<usize>j << 2), 16));
      }
      m0 = f32x4.max(m0, m1);
      r = max(max(f32x4.extract_lane(m0, 0), f32x4.extract_lane(m0, 1)), max(f32x4.extract_lane(m0, 2), f32x4.extract_lane(m0, 3)));
      for (; j < HW; j++) {
        const v = load<f32>(p + (<usize>j << 2));
        r = v > r || isNaN(v) ? v : r;
      }
    } else {
      let s0 = f32x4.splat(0), s1 = s0;
      for (; j + 8 <= HW; j += 8) {
        s0 = f32x4.add(s0, v128.load(p + (<usize>j << 2)));
        s1 = f32x4.add(s1, v128.load(p + (<usize>j << 2), 16));
      }
      s0 = f32x4.add(s0, s1);
      r = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3);
      for (; j < HW; j++) r += load<f32>(p + (<usize>j << 2));
      r *= inv;
    }
    store<f32>(y + (<usize>i << 2), r);
  }
}
