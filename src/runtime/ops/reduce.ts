// Reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) and
// ArgMax/ArgMin. Axes come from the `axes` attribute before ReduceSum-13 / the others-18
// and from the optional second input after; no axes means all of them unless
// noop_with_empty_axes is set.
import { isBigIntDType, isFloatDType } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { reduceDefs, type ArgAttrs, type ReduceAttrs } from '../../ir/ops/index.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { halfToF32, isHalf, need, normAxes, normAxis, readInts, tensorFromNumbers } from './args.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Reducer {
  init: number;
  /** fold one element in */
  step: (acc: number, x: number) => number;
  /** turn the accumulator into the result, given the element count */
  done?: (acc: number, n: number) => number;
}

const REDUCERS: Record<string, Reducer> = {
  ReduceSum: { init: 0, step: (a, x) => a + x },
  ReduceMean: { init: 0, step: (a, x) => a + x, done: (a, n) => a / n },
  ReduceMax: { init: -Infinity, step: (a, x) => (x !== x || a !== a ? NaN : x > a ? x : a) },
  ReduceMin: { init: Infinity, step: (a, x) => (x !== x || a !== a ? NaN : x < a ? x : a) },
  ReduceProd: { init: 1, step: (a, x) => a * x },
  ReduceL1: { init: 0, step: (a, x) => a + Math.abs(x) },
  ReduceL2: { init: 0, step: (a, x) => a + x * x, done: (a) => Math.sqrt(a) },
  ReduceSumSquare: { init: 0, step: (a, x) => a + x * x },
  ReduceLogSum: { init: 0, step: (a, x) => a + x, done: (a) => Math.log(a) },
  // exp of large inputs overflows in float32; doubles hold up to ~709
  ReduceLogSumExp: { init: 0, step: (a, x) => a + Math.exp(x), done: (a) => Math.log(a) },
};

/** Shape bookkeeping shared by reductions: which dims go, the output shape. */
function reducedShape(shape: readonly number[], axes: number[], keepdims: boolean): number[] {
  return keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/**
 * `float32`: float32 data summed in float32, element by element in the input's order, and a mean
 * divided in float32, as TFLite's SUM / MEAN kernels do (otherwise the sum is a double).
 */
export function reduce(op: string, x: Tensor, axesIn: number[] | undefined, keepdims: boolean, noop: boolean, float32 = false): Tensor {
  const r = REDUCERS[op]!;
  if (x.dtype === 'bool' || x.dtype === 'string') throw new ShapeError(`${op} does not accept ${x.dtype}`);
  if ((axesIn === undefined || axesIn.length === 0) && noop) return x;
  const axes = axesIn && axesIn.length ? normAxes(axesIn, x.rank) : x.shape.map((_, i) => i);
  const shape = reducedShape(x.shape, axes, keepdims);
  const n = shapeSize(shape);
  const big = isBigIntDType(x.dtype);
  const src: ArrayLike<any> = isHalf(x.dtype) ? halfToF32(x) : (x.data as ArrayLike<any>);
  // Walk the input once; every element adds into its output slot.
  const acc = new Float64Array(n).fill(r.init);
  const bigAcc = big && (op === 'ReduceSum' || op === 'ReduceProd' || op === 'ReduceMax' || op === 'ReduceMin') ? new Array<bigint>(n) : undefined;
  const outStrides = new Array<number>(x.rank).fill(0);
  let s = 1;
  for (let i = x.rank - 1; i >= 0; i--) {
    if (!axes.includes(i)) {
      outStrides[i] = s;
      s *= x.shape[i]!;
    }
  }
  const counter = new Array<number>(x.rank).fill(0);
  let o = 0;
  const count = x.size / Math.max(n, 1);
  const single = float32 && x.dtype === 'float32';
  for (let p = 0; p < x.size; p++) {
    const v = src[p];
    if (bigAcc) {
      const cur = bigAcc[o];
      bigAcc[o] = cur === undefined ? v : op === 'ReduceSum' ? cur + v : op === 'ReduceProd' ? cur * v : op === 'ReduceMax' ? (v > cur ? v : cur) : v < cur ? v : cur;
    } else {
      acc[o] = single ? Math.fround(r.step(acc[o]!, v)) : r.step(acc[o]!, big ? Number(v) : v);
    }
    for (let d = x.rank - 1; d >= 0; d--) {
      o += outStrides[d]!;
      if (++counter[d]! < x.shape[d]!) break;
      o -= outStrides[d]! * x.shape[d]!;
      counter[d] = 0;
    }
  }
  if (bigAcc) {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = bigAcc[i] ?? (op === 'ReduceProd' ? 1n : 0n);
    return new Tensor(x.dtype, shape, x.dtype === 'uint64' ? new BigUint64Array(out.buffer) : out);
  }
  if (r.done) for (let i = 0; i < n; i++) acc[i] = r.done(acc[i]!, count);
  // (a float32 sum over a count divided in double and rounded once is the float32 quotient)
  if (!isFloatDType(x.dtype)) for (let i = 0; i < n; i++) acc[i] = Math.trunc(acc[i]!);
  return tensorFromNumbers(x.dtype, shape, acc);
}

/** The reduction `op`; `float32` as reduce() takes it. */
export const reduceOp = (op: Exclude<keyof typeof reduceDefs, 'ArgMax' | 'ArgMin'>, float32 = false) =>
  defineOp<ReduceAttrs>({
    attrs: reduceDefs[op].attrs,
    run: (inputs, a) => {
      const axes = a.axesFromInput ? (inputs[1] ? readInts(inputs[1], `${op} axes`) : undefined) : a.axes;
      return [reduce(op, need(inputs, 0, 'data'), axes, a.keepdims, a.noopWithEmptyAxes, float32)];
    },
  });

function argReduce(x: Tensor, a: ArgAttrs, max: boolean): Tensor {
  if (x.dtype === 'bool' || x.dtype === 'string') throw new ShapeError(`Arg${max ? 'Max' : 'Min'} does not accept ${x.dtype}`);
  const axis = normAxis(a.axis, x.rank);
  const outer = shapeSize(x.shape.slice(0, axis));
  const len = x.shape[axis]!;
  const inner = shapeSize(x.shape.slice(axis + 1));
  if (len === 0 && x.size === 0 && outer * inner > 0) throw new ShapeError(`Arg${max ? 'Max' : 'Min'} over an empty axis`);
  const src: ArrayLike<any> = isHalf(x.dtype) ? halfToF32(x) : (x.data as ArrayLike<any>);
  const out = new BigInt64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = src[o * len * inner + i];
      for (let l = 1; l < len; l++) {
        const v = src[(o * len + l) * inner + i];
        const better = max ? v > bv || (a.selectLast && v === bv) : v < bv || (a.selectLast && v === bv);
        if (better) {
          best = l;
          bv = v;
        }
      }
      out[o * inner + i] = BigInt(best);
    }
  }
  return new Tensor('int64', reducedShape(x.shape, [axis], a.keepdims), out);
}

const argOp = (max: boolean) =>
  defineOp<ArgAttrs>({
    attrs: reduceDefs[max ? 'ArgMax' : 'ArgMin'].attrs,
    run: (inputs, a) => [argReduce(need(inputs, 0, 'data'), a, max)],
  });

export const reduceOps: OpTable = {
  ReduceSum: reduceOp('ReduceSum'),
  ReduceMean: reduceOp('ReduceMean'),
  ReduceMax: reduceOp('ReduceMax'),
  ReduceMin: reduceOp('ReduceMin'),
  ReduceProd: reduceOp('ReduceProd'),
  ReduceL1: reduceOp('ReduceL1'),
  ReduceL2: reduceOp('ReduceL2'),
  ReduceSumSquare: reduceOp('ReduceSumSquare'),
  ReduceLogSum: reduceOp('ReduceLogSum'),
  ReduceLogSumExp: reduceOp('ReduceLogSumExp'),
  ArgMax: argOp(true),
  ArgMin: argOp(false),
};
