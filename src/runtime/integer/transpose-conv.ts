// TRANSPOSE_CONV on integers (NHWC, OHWI weights), TFLite's reference_integer_ops::TransposeConv:
// each input pixel's (x - zp_x)·w scattered into an int32 accumulator (int64 for 16x8), the int32
// (int64) bias added, per-output-channel fixed-point requantization (MultiplyByQuantizedMultiplier;
// the 16x8 one for int16), the output zero point, the clamp. The
// only implementation: no WASM kernel, so `kernels: 'wasm'` and 'typescript' both run this loop
// (the same bits either way).
import type { QConvProblem, QData } from '../../wasm/int8.js';
import { clampInt, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64 } from './fixed-point.js';
import { outArray } from './reference.js';

/**
 * A 2-D transposed conv on NHWC data, in the conv's terms (ungrouped, undilated): input pixel (iy, ix) tap
 * (ky, kx) lands on output (iy·sh - pt + ky, ix·sw - pl + kx); `weights` (o, kh, kw, c) minus their zero
 * points; pt / pl the output rows / columns cropped at the start (ONNX's begin pads; TFLite's floor(total / 2));
 * `rq` TFLite's fixed-point multipliers (`fp32` is not read: the interpreter runs no XNNPACK TRANSPOSE_CONV).
 */
export type QTransposeConvProblem = Omit<QConvProblem, 'ipg' | 'group' | 'dh' | 'dw'>;

export function qtransposeConv2dReference(p: QTransposeConvProblem): QData {
  const { x, weights: wt, n, h, w: wd, c, o, kh, kw, sh, sw, pt, pl, oh, ow, bias, out } = p;
  const { mult, shift } = p.rq;
  const wide = x instanceof Int16Array;
  // int32 wraps as TFLite's int32 scratch buffer would; the 16x8 sums (< 2^53) are exact in doubles
  const acc = wide ? new Float64Array(n * oh * ow * o) : new Int32Array(n * oh * ow * o);
  const xv = new Int32Array(c);
  for (let b = 0; b < n; b++)
    for (let iy = 0; iy < h; iy++)
      for (let ix = 0; ix < wd; ix++) {
        const xo = ((b * h + iy) * wd + ix) * c;
        for (let i = 0; i < c; i++) xv[i] = x[xo + i]! - p.xzp;
        for (let ky = 0; ky < kh; ky++) {
          const oy = iy * sh - pt + ky;
          if (oy < 0 || oy >= oh) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ox = ix * sw - pl + kx;
            if (ox < 0 || ox >= ow) continue;
            const ao = ((b * oh + oy) * ow + ox) * o;
            for (let oc = 0; oc < o; oc++) {
              const wo = ((oc * kh + ky) * kw + kx) * c;
              let s = 0;
              for (let i = 0; i < c; i++) s += xv[i]! * wt[wo + i]!;
              acc[ao + oc] += s;
            }
          }
        }
      }
  const y = outArray(out.dtype, acc.length);
  for (let k = 0; k < acc.length; k++) {
    const oc = k % o;
    const v = acc[k]! + (bias ? bias[oc]! : 0);
    const scaled = wide ? multiplyByQuantizedMultiplier64(v, mult[oc]!, shift[oc]!) : multiplyByQuantizedMultiplier(v | 0, mult[oc]!, shift[oc]!);
    y[k] = clampInt(scaled + out.zp, out.lo, out.hi);
  }
  return y;
}
