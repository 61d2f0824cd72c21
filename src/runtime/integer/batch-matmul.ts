// BATCH_MATMUL of two activations (int16x8 models, and int8): the products of (a - z_a)·(b - z_b)
// summed exactly, then requantized to the output grid, the output zero point added and clamped.
// - int16: TFLite's reference_ops::BatchMatMul<int16, int64> (the interpreter's builtin kernel): one
//   fixed-point multiplier for s_a·s_b/s_y, MultiplyByQuantizedMultiplier's 64-bit form.
// - int8: under `requantization` 'reference' TFLite's reference kernel (the 32-bit multiplier,
//   double rounding); under 'xnnpack' what the interpreter computes (measured on torchvision
//   swin_t's attention, 0 of 230,496 outputs off; the fixed point put 22,735 one to three steps
//   off): float32 scale (s_a·s_b)/s_y, a float32 product, round half to even.
// Batch dims broadcast as ONNX MatMul's (and BATCH_MATMUL's) do. The only implementation: no WASM
// kernel, so `kernels` 'wasm' and 'typescript' both run this loop.
import { UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp } from '../op.js';
import { need, readNumbers } from '../ops/args.js';
import { matmulLayout } from '../ops/qlinear.js';
import { clampInt, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplier64, quantizeMultiplier } from './fixed-point.js';
import { fp32Requantize } from './reference.js';
import { requantizationOf } from './requantization.js';

export const BatchMatMulInt = defineOp<{ xnnpack: boolean }>({
  attrs: (node) => ({ xnnpack: requantizationOf(node) }),
  run(inputs, attrs) {
    const a = need(inputs, 0, 'a');
    const b = need(inputs, 3, 'b');
    const wide = a.data instanceof Int16Array && b.data instanceof Int16Array;
    if (!wide && !(a.data instanceof Int8Array && b.data instanceof Int8Array)) throw new UnsupportedError(`integer MatMul of ${a.dtype} and ${b.dtype} (TFLite's BATCH_MATMUL takes int8 and int8, or int16 and int16)`);
    // ONNX / numpy shapes: a 1-D side promoted (and its dim dropped again), batch dims broadcast
    const l = matmulLayout(a.shape, b.shape, 'integer MatMul');
    const scale = (at: number, what: string) => readNumbers(need(inputs, at, `${what} scale`), `${what} scale`)[0]!;
    const zero = (at: number, what: string) => (inputs[at] ? readNumbers(inputs[at]!, `${what} zero point`)[0]! : 0);
    const [za, zb, zy] = [zero(2, 'a'), zero(5, 'b'), zero(7, 'output')];
    const [sa, sb, sy] = [scale(1, 'a'), scale(4, 'b'), scale(6, 'output')];
    const q = quantizeMultiplier((sa * sb) / sy);
    const f32Scale = Math.fround(Math.fround(sa * sb) / sy);
    const requantize = wide
      ? (acc: number) => multiplyByQuantizedMultiplier64(acc, q.multiplier, q.shift)
      : attrs.xnnpack
        ? (acc: number) => fp32Requantize(acc, f32Scale)
        : (acc: number) => multiplyByQuantizedMultiplier(acc, q.multiplier, q.shift);
    const [lo, hi] = wide ? [-32768, 32767] : [-128, 127];
    const yDtype = need(inputs, 7, 'output zero point').dtype;
    if (yDtype !== a.dtype) throw new UnsupportedError(`integer MatMul with ${yDtype} output of ${a.dtype} inputs (TFLite's BATCH_MATMUL gives its inputs' type)`);
    const ad = a.data;
    const bd = b.data;
    const { M: m, K: k, N: n } = l;
    const y = wide ? new Int16Array(l.aBase.length * m * n) : new Int8Array(l.aBase.length * m * n);
    let o = 0;
    for (let bi = 0; bi < l.aBase.length; bi++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          // |(a - z_a)(b - z_b)| < 2^32: sums of up to 2^21 products are exact in doubles (int8 sums fit int32, as TFLite's)
          let acc = 0;
          for (let t = 0; t < k; t++) acc += (ad[l.aBase[bi]! + i * k + t]! - za) * (bd[l.bBase[bi]! + t * n + j]! - zb);
          y[o++] = clampInt(requantize(acc) + zy, lo, hi);
        }
    return [new Tensor(a.dtype, l.shape, y)];
  },
});
