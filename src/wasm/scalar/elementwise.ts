// Scalar twins of the float32 kernels of assembly/kernels/elementwise.ts and softmax.ts: the
// reference the tests hold the SIMD versions to (and the runtime's path for plans too deep for
// the kernel). They must give the same float32 results, NaN and signed zero included.
import type { StridePlan } from '../elementwise.js';
import { BinaryOp, UnaryOp } from '../opcodes.js';

const f = Math.fround;

export function binaryScalar(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case BinaryOp.Add: return (a, b) => a + b;
    case BinaryOp.Sub: return (a, b) => a - b;
    case BinaryOp.Mul: return (a, b) => a * b;
    case BinaryOp.Div: return (a, b) => a / b;
    case BinaryOp.Max: return Math.max; // NaN-propagating and +0 > -0, like f32x4.max
    case BinaryOp.Min: return Math.min;
    case BinaryOp.PRelu: return (a, b) => (a < 0 ? a * b : a);
  }
}

/** Broadcast binary op on float32 data along a plan of any depth (the scalar twin of binaryF32). */
export function binaryF32Scalar(op: BinaryOp, a: Float32Array, b: Float32Array, plan: StridePlan, n: number): Float32Array {
  const out = new Float32Array(n);
  const fn = binaryScalar(op);
  const { dims } = plan;
  const [as, bs] = plan.strides as [readonly number[], readonly number[]];
  const r = dims.length;
  const len = dims[r - 1]!;
  if (n === 0 || len === 0) return out;
  const sa = as[r - 1]!;
  const sb = bs[r - 1]!;
  const idx = new Array<number>(r).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o += len) {
    for (let j = 0; j < len; j++) out[o + j] = fn(a[ia + j * sa]!, b[ib + j * sb]!);
    // odometer over the outer dims
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      ia += as[d]!;
      ib += bs[d]!;
      if (idx[d]! < dims[d]!) break;
      ia -= as[d]! * dims[d]!;
      ib -= bs[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

export function unaryScalar(op: UnaryOp, p0 = 0, p1 = 0): (x: number) => number {
  const a = f(p0);
  const b = f(p1);
  switch (op) {
    case UnaryOp.Relu: return (x) => (x !== x ? NaN : x > 0 ? x : 0);
    case UnaryOp.LeakyRelu: return (x) => (x < 0 ? x * a : x);
    case UnaryOp.Clip: return (x) => (x !== x ? NaN : x < a ? a : x > b ? b : x);
    case UnaryOp.HardSigmoid: return (x) => Math.max(0, Math.min(1, f(f(a * x) + b)));
    case UnaryOp.HardSwish: return (x) => x * Math.max(0, Math.min(1, f(f(x * f(1 / 6)) + 0.5)));
    case UnaryOp.Neg: return (x) => -x;
    case UnaryOp.Abs: return (x) => Math.abs(x);
    case UnaryOp.Sqrt: return (x) => Math.sqrt(x);
  }
}

export function unaryF32Scalar(op: UnaryOp, x: Float32Array, p0 = 0, p1 = 0): Float32Array {
  const fn = unaryScalar(op, p0, p1);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fn(x[i]!);
  return out;
}

export function channelAffineF32Scalar(x: Float32Array, scale: Float32Array, bias: Float32Array, outer: number, channels: number, inner: number): Float32Array {
  const out = new Float32Array(x.length);
  let p = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c]!;
      const b = bias[c]!;
      for (let i = 0; i < inner; i++, p++) out[p] = f(x[p]! * s) + b;
    }
  }
  return out;
}

/** Softmax/LogSoftmax over the rows of a [rows, cols] matrix (the scalar twin of softmaxRowsF32). */
export function softmaxRowsScalar<T extends Float32Array | Float64Array = Float32Array>(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  log: boolean,
  out: T = new Float32Array(x.length) as T,
): T {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[o + j]! - m);
    if (log) {
      const shift = m + Math.log(sum);
      for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! - shift;
    } else {
      for (let j = 0; j < cols; j++) out[o + j] = Math.exp(x[o + j]! - m) / sum;
    }
  }
  return out;
}

