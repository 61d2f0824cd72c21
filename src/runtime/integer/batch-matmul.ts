// BATCH_MATMUL of two 16-bit activations (int16x8 models), TFLite's reference_ops::BatchMatMul<int16,
// int64>: the products of (a - z_a)·(b - z_b) summed in int64, one fixed-point multiplier for
// s_a·s_b/s_y (MultiplyByQuantizedMultiplier's 64-bit form), the output zero point, the clamp.
// Batch dims broadcast as ONNX MatMul's (and BATCH_MATMUL's) do. The only implementation: no WASM
// kernel, so `kernels` 'wasm' and 'typescript' both run this loop.
import { UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp } from '../op.js';
import { need, readNumbers } from '../ops/args.js';
import { matmulLayout } from '../ops/qlinear.js';
import { clampInt, multiplyByQuantizedMultiplier64, quantizeMultiplier } from './fixed-point.js';

export const BatchMatMul16 = defineOp<Record<string, never>>({
  attrs: () => ({}),
  run(inputs) {
    const a = need(inputs, 0, 'a');
    const b = need(inputs, 3, 'b');
    if (!(a.data instanceof Int16Array) || !(b.data instanceof Int16Array)) throw new UnsupportedError(`integer MatMul of ${a.dtype} and ${b.dtype} (TFLite's 16-bit BATCH_MATMUL takes int16 and int16)`);
    // ONNX / numpy shapes: a 1-D side promoted (and its dim dropped again), batch dims broadcast
    const l = matmulLayout(a.shape, b.shape, 'integer MatMul');
    const scale = (at: number, what: string) => readNumbers(need(inputs, at, `${what} scale`), `${what} scale`)[0]!;
    const zero = (at: number, what: string) => (inputs[at] ? readNumbers(inputs[at]!, `${what} zero point`)[0]! : 0);
    const [za, zb, zy] = [zero(2, 'a'), zero(5, 'b'), zero(7, 'output')];
    const q = quantizeMultiplier((scale(1, 'a') * scale(4, 'b')) / scale(6, 'output'));
    const yDtype = need(inputs, 7, 'output zero point').dtype;
    if (yDtype !== 'int16') throw new UnsupportedError(`integer MatMul with ${yDtype} output (TFLite's 16-bit BATCH_MATMUL gives int16)`);
    const ad = a.data;
    const bd = b.data;
    const { M: m, K: k, N: n } = l;
    const y = new Int16Array(l.aBase.length * m * n);
    let o = 0;
    for (let bi = 0; bi < l.aBase.length; bi++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          // |(a - z_a)(b - z_b)| < 2^32: sums of up to 2^21 products are exact in doubles
          let acc = 0;
          for (let t = 0; t < k; t++) acc += (ad[l.aBase[bi]! + i * k + t]! - za) * (bd[l.bBase[bi]! + t * n + j]! - zb);
          y[o++] = clampInt(multiplyByQuantizedMultiplier64(acc, q.multiplier, q.shift) + zy, -32768, 32767);
        }
    return [new Tensor('int16', l.shape, y)];
  },
});
