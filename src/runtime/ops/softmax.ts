// Softmax, LogSoftmax and Hardmax. Before opset 13 these flatten the input to 2-D at
// `axis` (default 1) and normalise each row; from 13 they normalise along the one axis
// (default -1).
import { ShapeError } from '../../ir/errors.js';
import { normalizationDefs, type SoftmaxAttrs } from '../../ir/ops/index.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf, need, normAxis } from './args.js';
import { softmaxRowsWasm } from '../../wasm/elementwise.js';
import { softmaxRowsScalar } from '../../wasm/scalar/elementwise.js';


type Mode = 'softmax' | 'log' | 'hard';

/** [outer, len, inner] of the normalised axis. */
function layout(shape: readonly number[], a: SoftmaxAttrs): [number, number, number] {
  const axis = normAxis(a.axis, shape.length);
  const outer = shapeSize(shape.slice(0, axis));
  if (a.flatten) return [outer, shapeSize(shape.slice(axis)), 1];
  return [outer, shape[axis]!, shapeSize(shape.slice(axis + 1))];
}

function rowsOp(mode: Mode, x: Float32Array | Float64Array, rows: number, cols: number): Float32Array | Float64Array {
  if (mode === 'hard') {
    const out = x instanceof Float64Array ? new Float64Array(x.length) : new Float32Array(x.length);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < cols; j++) if (x[r * cols + j]! > x[r * cols + best]!) best = j;
      if (cols) out[r * cols + best] = 1;
    }
    return out;
  }
  if (x instanceof Float64Array) return softmaxRowsScalar(x, rows, cols, mode === 'log', new Float64Array(x.length));
  return softmaxRowsWasm(x, rows, cols, mode === 'log');
}

export function softmax(x: Tensor, a: SoftmaxAttrs, mode: Mode): Tensor {
  if (x.dtype !== 'float32' && x.dtype !== 'float64' && !isHalf(x.dtype)) throw new ShapeError(`softmax needs a float input, got ${x.dtype}`);
  if (x.rank === 0) throw new ShapeError('softmax needs an input of rank >= 1');
  const [outer, len, inner] = layout(x.shape, a);
  if (x.size === 0) return x;
  const data = isHalf(x.dtype) ? halfToF32(x) : (x.data as Float32Array | Float64Array);
  let y: Float32Array | Float64Array;
  if (inner === 1) {
    y = rowsOp(mode, data, outer, len);
  } else {
    // Move the axis innermost, normalise rows, move it back.
    const t = new (data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(data.length);
    for (let o = 0; o < outer; o++)
      for (let l = 0; l < len; l++) for (let i = 0; i < inner; i++) t[(o * inner + i) * len + l] = data[(o * len + l) * inner + i]!;
    const r = rowsOp(mode, t, outer * inner, len);
    y = new (data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(data.length);
    for (let o = 0; o < outer; o++)
      for (let l = 0; l < len; l++) for (let i = 0; i < inner; i++) y[(o * len + l) * inner + i] = r[(o * inner + i) * len + l]!;
  }
  return new Tensor(x.dtype, x.shape, isHalf(x.dtype) ? f32ToHalf(x.dtype, y) : y);
}

const softmaxOp = (op: 'Softmax' | 'LogSoftmax' | 'Hardmax', mode: Mode) =>
  defineOp<SoftmaxAttrs>({
    attrs: normalizationDefs[op].attrs,
    run: (inputs, a) => [softmax(need(inputs, 0, 'input'), a, mode)],
  });

export const softmaxOps: OpTable = {
  Softmax: softmaxOp('Softmax', 'softmax'),
  LogSoftmax: softmaxOp('LogSoftmax', 'log'),
  Hardmax: softmaxOp('Hardmax', 'hard'),
};
