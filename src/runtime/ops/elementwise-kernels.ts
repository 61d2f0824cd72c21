// TS glue for the float32 kernels of assembly/kernels/elementwise.ts and softmax.ts, with
// their scalar twins (the reference the tests hold the SIMD versions to).
import { kernels } from '../../wasm/loader.js';
import { forEachRow, type BroadcastPlan } from '../broadcast.js';

export const BIN = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, prelu: 6 } as const;
export type BinaryCode = (typeof BIN)[keyof typeof BIN];

export const UN = { relu: 0, leakyRelu: 1, clip: 2, hardSigmoid: 3, hardSwish: 4, neg: 5, abs: 6, sqrt: 7 } as const;
export type UnaryCode = (typeof UN)[keyof typeof UN];

type BinaryF32 = (op: number, a: number, b: number, out: number, ...dimsAndStrides: number[]) => void;
type UnaryF32 = (op: number, x: number, out: number, n: number, p0: number, p1: number) => void;
type ChannelAffineF32 = (x: number, scale: number, bias: number, out: number, outer: number, channels: number, inner: number) => void;
type SoftmaxRowsF32 = (x: number, out: number, rows: number, cols: number, log: number) => void;

const f = Math.fround;

// ---- scalar twins ----

export function binaryScalar(op: BinaryCode): (a: number, b: number) => number {
  switch (op) {
    case 0: return (a, b) => a + b;
    case 1: return (a, b) => a - b;
    case 2: return (a, b) => a * b;
    case 3: return (a, b) => a / b;
    case 4: return Math.max; // NaN-propagating and +0 > -0, like f32x4.max
    case 5: return Math.min;
    default: return (a, b) => (a < 0 ? a * b : a);
  }
}

/** Broadcast binary op on float32 data along a plan (the scalar twin of binaryF32). */
export function binaryF32Scalar(op: BinaryCode, a: Float32Array, b: Float32Array, plan: BroadcastPlan, n: number): Float32Array {
  const out = new Float32Array(n);
  const fn = binaryScalar(op);
  const last = plan.dims.length - 1;
  const sa = plan.strides[0]![last]!;
  const sb = plan.strides[1]![last]!;
  forEachRow(plan, (offs, o, len) => {
    const ia = offs[0]!;
    const ib = offs[1]!;
    for (let j = 0; j < len; j++) out[o + j] = fn(a[ia + j * sa]!, b[ib + j * sb]!);
  });
  return out;
}

export function unaryScalar(op: UnaryCode, p0 = 0, p1 = 0): (x: number) => number {
  const a = f(p0);
  const b = f(p1);
  switch (op) {
    case 0: return (x) => (x !== x ? NaN : x > 0 ? x : 0);
    case 1: return (x) => (x < 0 ? x * a : x);
    case 2: return (x) => (x !== x ? NaN : x < a ? a : x > b ? b : x);
    case 3: return (x) => Math.max(0, Math.min(1, f(f(a * x) + b)));
    case 4: return (x) => x * Math.max(0, Math.min(1, f(f(x * f(1 / 6)) + 0.5)));
    case 5: return (x) => -x;
    case 6: return (x) => Math.abs(x);
    default: return (x) => Math.sqrt(x);
  }
}

export function unaryF32Scalar(op: UnaryCode, x: Float32Array, p0 = 0, p1 = 0): Float32Array {
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

// ---- WASM versions ----

/** The binaryF32 kernel over a plan of at most four merged dims; undefined when the plan is deeper. */
export function binaryF32Wasm(op: BinaryCode, a: Float32Array, b: Float32Array, plan: BroadcastPlan, n: number): Float32Array | undefined {
  const r = plan.dims.length;
  if (r > 4) return undefined;
  if (n === 0) return new Float32Array(0);
  const pad = (xs: number[], fill: number) => [...new Array<number>(4 - r).fill(fill), ...xs];
  const { exports, arena } = kernels();
  return arena.scoped(() => {
    const pa = arena.copyIn(a);
    const pb = arena.copyIn(b);
    const po = arena.alloc(n * 4);
    (exports.binaryF32 as BinaryF32)(op, pa, pb, po, ...pad(plan.dims, 1), ...pad(plan.strides[0]!, 0), ...pad(plan.strides[1]!, 0));
    return arena.f32(po, n).slice();
  });
}

export function unaryF32Wasm(op: UnaryCode, x: Float32Array, p0 = 0, p1 = 0): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const { exports, arena } = kernels();
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    (exports.unaryF32 as UnaryF32)(op, px, px, x.length, p0, p1);
    return arena.f32(px, x.length).slice();
  });
}

export function channelAffineF32Wasm(x: Float32Array, scale: Float32Array, bias: Float32Array, outer: number, channels: number, inner: number): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const { exports, arena } = kernels();
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    const ps = arena.copyIn(scale);
    const pb = arena.copyIn(bias);
    (exports.channelAffineF32 as ChannelAffineF32)(px, ps, pb, px, outer, channels, inner);
    return arena.f32(px, x.length).slice();
  });
}

export function softmaxRowsWasm(x: Float32Array, rows: number, cols: number, log: boolean): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  const { exports, arena } = kernels();
  return arena.scoped(() => {
    const px = arena.copyIn(x);
    (exports.softmaxRowsF32 as SoftmaxRowsF32)(px, px, rows, cols, log ? 1 : 0);
    return arena.f32(px, x.length).slice();
  });
}
