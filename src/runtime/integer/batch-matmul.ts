// BATCH_MATMUL of two 16-bit activations (int16x8 models), TFLite's reference_ops::BatchMatMul<int16,
// int64>: the products of (a - z_a)·(b - z_b) summed in int64, one fixed-point multiplier for
// s_a·s_b/s_y (MultiplyByQuantizedMultiplier's 64-bit form), the output zero point, the clamp.
// Batch dims broadcast as ONNX MatMul's (and BATCH_MATMUL's) do. The only implementation: no WASM
// kernel, so `kernels` 'wasm' and 'typescript' both run this loop.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { broadcastShapes } from '../broadcast.js';
import { defineOp } from '../op.js';
import { need, readNumbers } from '../ops/args.js';
import { clampInt, multiplyByQuantizedMultiplier64, quantizeMultiplier } from './fixed-point.js';

/** Flat offset of each batch index of `shape` (rank - 2 leading dims) broadcast to `batch`. */
function batchOffsets(shape: readonly number[], batch: readonly number[], matrix: number): Int32Array {
  const lead = [...new Array<number>(batch.length - (shape.length - 2)).fill(1), ...shape.slice(0, -2)];
  const strides = stridesOf(lead).map((s, i) => (lead[i] === 1 ? 0 : s));
  const count = shapeSize(batch);
  const out = new Int32Array(count);
  for (let b = 0; b < count; b++) {
    let rem = b;
    let at = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      at += (rem % batch[d]!) * strides[d]!;
      rem = Math.floor(rem / batch[d]!);
    }
    out[b] = at * matrix;
  }
  return out;
}

export const BatchMatMul16 = defineOp<Record<string, never>>({
  attrs: () => ({}),
  run(inputs) {
    const a = need(inputs, 0, 'a');
    const b = need(inputs, 3, 'b');
    if (!(a.data instanceof Int16Array) || !(b.data instanceof Int16Array)) throw new UnsupportedError(`integer MatMul of ${a.dtype} and ${b.dtype} (TFLite's 16-bit BATCH_MATMUL takes int16 and int16)`);
    if (a.rank === 0 || b.rank === 0) throw new ShapeError(`integer MatMul of a scalar: [${a.shape}] x [${b.shape}]`);
    // ONNX: a 1-D left side is one row, a 1-D right side one column; that dim is dropped again after
    const as = a.rank === 1 ? [1, a.shape[0]!] : [...a.shape];
    const bs = b.rank === 1 ? [b.shape[0]!, 1] : [...b.shape];
    const [m, k] = as.slice(-2) as [number, number];
    const [k2, n] = bs.slice(-2) as [number, number];
    if (k !== k2) throw new ShapeError(`integer MatMul: [${a.shape}] x [${b.shape}] (inner dims ${k} and ${k2})`);
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2));
    const scale = (at: number, what: string) => readNumbers(need(inputs, at, `${what} scale`), `${what} scale`)[0]!;
    const zero = (at: number, what: string) => (inputs[at] ? readNumbers(inputs[at]!, `${what} zero point`)[0]! : 0);
    const [za, zb, zy] = [zero(2, 'a'), zero(5, 'b'), zero(7, 'output')];
    const q = quantizeMultiplier((scale(1, 'a') * scale(4, 'b')) / scale(6, 'output'));
    const yDtype = need(inputs, 7, 'output zero point').dtype;
    if (yDtype !== 'int16') throw new UnsupportedError(`integer MatMul with ${yDtype} output (TFLite's 16-bit BATCH_MATMUL gives int16)`);
    const ad = a.data;
    const bd = b.data;
    const aOff = batchOffsets(as, batch, m * k);
    const bOff = batchOffsets(bs, batch, k * n);
    const y = new Int16Array(shapeSize(batch) * m * n);
    let o = 0;
    for (let bi = 0; bi < aOff.length; bi++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          // |(a - z_a)(b - z_b)| < 2^32: sums of up to 2^21 products are exact in doubles
          let acc = 0;
          for (let t = 0; t < k; t++) acc += (ad[aOff[bi]! + i * k + t]! - za) * (bd[bOff[bi]! + t * n + j]! - zb);
          y[o++] = clampInt(multiplyByQuantizedMultiplier64(acc, q.multiplier, q.shift) + zy, -32768, 32767);
        }
    const shape = [...batch, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
    return [new Tensor('int16', shape, y)];
  },
});
