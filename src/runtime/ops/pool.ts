// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (ONNX semantics, NCHW). 1-D and
// 2-D float32 pools run on the SIMD kernel; other spatial ranks, other dtypes and MaxPool's
// Indices output take the typed-array path of pool-nd.ts.
import { allocArray, type DType, type NumericArray } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { forwardAxis, poolDefs, window2d, windowOf, type PoolAttrs } from '../../ir/ops/index.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import { defineOp, type OpKernel, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf } from './args.js';
import { globalPoolF32, pool2dF32 } from '../../wasm/dense.js';
import { PoolKind } from '../../wasm/opcodes.js';
import { float32Data, requireInput } from './gemm.js';
import { poolNd } from './pool-nd.js';

/** The dtypes ONNX allows: MaxPool-12 adds int8 / uint8 to the float ones of AveragePool. */
const MAX_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8']);
const AVG_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

type PlainArray = Exclude<NumericArray, BigInt64Array | BigUint64Array>;

/** 1 / (taps of each window on one axis that count towards the average). */
function inverseCounts(out: number, inp: number, k: number, s: number, d: number, pb: number, pe: number, includePad: boolean): Float32Array {
  const lo = includePad ? -pb : 0;
  const hi = includePad ? inp + pe : inp;
  const inv = new Float32Array(out + 8);
  for (let o = 0; o < out; o++) {
    let n = 0;
    for (let j = 0; j < k; j++) {
      const i = o * s - pb + j * d;
      if (i >= lo && i < hi) n++;
    }
    inv[o] = n > 0 ? 1 / n : NaN;
  }
  return inv;
}

function pool(isMax: boolean): OpKernel<PoolAttrs> {
  const op = isMax ? 'MaxPool' : 'AveragePool';
  return defineOp<PoolAttrs>({
    attrs: poolDefs[op].attrs,
    run(inputs, at) {
      const X = requireInput(inputs, 0, 'X');
      if (!(isMax ? MAX_DTYPES : AVG_DTYPES).has(X.dtype)) throw new UnsupportedError(`${op} on ${X.dtype}`, `X must be one of ${[...(isMax ? MAX_DTYPES : AVG_DTYPES)].join(', ')}`);
      const r = X.rank - 2;
      if (r < 1) throw new ShapeError(`${op} input must have rank >= 3 (N, C, spatial...), got [${X.shape.join(', ')}]`);
      if (at.kernelShape.length !== r) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] must have ${r} entries for input [${X.shape.join(', ')}]`);
      const win = windowOf(at, at.kernelShape, op);
      const sp = X.shape.slice(2);
      const out: number[] = [];
      const pb: number[] = [];
      const pe: number[] = [];
      for (let i = 0; i < r; i++) {
        const [o, b, e] = forwardAxis(sp[i]!, win.k[i]!, win.s[i]!, win.d[i]!, win.pads[i]!, win.pads[i + r]!, at.autoPad, at.ceil);
        if (o < 0) throw new ShapeError(`${op} window (kernel ${win.k[i]}, dilation ${win.d[i]}) is larger than the padded input (${sp[i]}) on spatial axis ${i}`);
        if (b >= (win.k[i]! - 1) * win.d[i]! + 1 || e >= (win.k[i]! - 1) * win.d[i]! + 1) {
          // A window lying wholly in the padding has nothing to pool.
          throw new ShapeError(`${op} pads [${win.pads.join(', ')}] must be smaller than the kernel on spatial axis ${i}`);
        }
        out.push(o);
        pb.push(b);
        pe.push(e);
      }
      const outShape = [X.shape[0]!, X.shape[1]!, ...out];
      const ySize = shapeSize(outShape);
      if (ySize > 0 && X.size === 0) throw new ShapeError(`${op} of an empty input [${X.shape.join(', ')}] has no values to pool`);
      if ((r !== 1 && r !== 2) || X.dtype !== 'float32' || at.indices) {
        const half = isHalf(X.dtype);
        const xs = (half ? halfToF32(X) : X.data) as PlainArray;
        const ys = (half ? new Float32Array(ySize) : allocArray(X.dtype, ySize)) as PlainArray;
        const indices = at.indices ? new BigInt64Array(ySize) : undefined;
        if (ySize > 0) {
          poolNd(xs, X.shape[0]! * X.shape[1]!, sp, out, { k: win.k, s: win.s, d: win.d, pb, pe }, { isMax, countIncludePad: at.countIncludePad, indices, storageOrder: at.storageOrder }, ys);
        }
        const Y = new Tensor(X.dtype, outShape, half ? f32ToHalf(X.dtype, ys) : ys);
        return indices ? [Y, new Tensor('int64', outShape, indices)] : [Y];
      }
      const x = float32Data(X, op, 'X');
      const y = new Float32Array(ySize);
      if (y.length === 0) return [new Tensor('float32', outShape, y)];
      const { H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pbot, pr } = window2d(sp, out, win, pb, pe);
      const invH = inverseCounts(OH, H, kh, sh, dh, pt, pbot, at.countIncludePad);
      const invW = inverseCounts(OW, W, kw, sw, dw, pl, pr, at.countIncludePad);
      pool2dF32(x, { NC: X.shape[0]! * X.shape[1]!, H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl }, isMax ? PoolKind.Max : PoolKind.Average, invH, invW, y);
      return [new Tensor('float32', outShape, y)];
    },
  });
}

function globalPool(isMax: boolean): OpKernel<Record<string, never>> {
  const op = isMax ? 'GlobalMaxPool' : 'GlobalAveragePool';
  return defineOp({
    attrs: poolDefs[op].attrs,
    run(inputs) {
      const X = requireInput(inputs, 0, 'X');
      const x = float32Data(X, op, 'X');
      if (X.rank < 2) throw new ShapeError(`${op} input must have rank >= 2 (N, C, spatial...), got [${X.shape.join(', ')}]`);
      const NC = X.shape[0]! * X.shape[1]!;
      const HW = shapeSize(X.shape.slice(2));
      const outShape = [X.shape[0]!, X.shape[1]!, ...X.shape.slice(2).map(() => 1)];
      const y = new Float32Array(NC);
      if (NC === 0) return [new Tensor('float32', outShape, y)];
      if (HW === 0) throw new ShapeError(`${op} of an empty spatial extent [${X.shape.join(', ')}] has no values to pool`);
      globalPoolF32(x, NC, HW, isMax ? PoolKind.Max : PoolKind.Average, y);
      return [new Tensor('float32', outShape, y)];
    },
  });
}

export const POOL_OPS: OpTable = {
  MaxPool: pool(true),
  AveragePool: pool(false),
  GlobalMaxPool: globalPool(true),
  GlobalAveragePool: globalPool(false),
};
