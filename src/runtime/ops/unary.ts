// Elementwise unary ops and activations. The float32 ones that pay (Relu, LeakyRelu, Clip,
// HardSigmoid, HardSwish, Neg, Abs, Sqrt) run on the SIMD kernel; the rest map a scalar
// function (float16/bfloat16 through float32, int64 through bigint where it matters).
import { allocArray, isBigIntDType, isFloatDType, type DType } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import type { Node } from '../../ir/graph.js';
import { unaryDefs, type ClipAttrs } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpKernel, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf, need, readScalar } from './args.js';
import { unaryF32Wasm } from '../../wasm/elementwise.js';
import { UnaryOp } from '../../wasm/opcodes.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type NumFn = (x: number) => number;

type Accepts = 'float' | 'signed' | 'numeric' | 'bool';

const SIGNED: ReadonlySet<DType> = new Set(['int8', 'int16', 'int32', 'int64']);

function accepts(what: Accepts, dtype: DType): boolean {
  if (what === 'bool') return dtype === 'bool';
  if (isFloatDType(dtype)) return true;
  if (what === 'float') return false;
  if (what === 'signed') return SIGNED.has(dtype);
  return dtype !== 'bool' && dtype !== 'string';
}

/** Apply a scalar function elementwise, keeping the dtype (or producing bool). */
export function mapUnary(x: Tensor, num: NumFn, big?: (v: bigint) => bigint, outBool = false): Tensor {
  const n = x.size;
  if (outBool) {
    const out = new Uint8Array(n);
    const d: ArrayLike<any> = isHalf(x.dtype) ? halfToF32(x) : (x.data as ArrayLike<any>);
    for (let i = 0; i < n; i++) out[i] = num(d[i]) ? 1 : 0;
    return new Tensor('bool', x.shape, out);
  }
  if (isHalf(x.dtype)) {
    const v = halfToF32(x);
    for (let i = 0; i < n; i++) v[i] = num(v[i]!);
    return new Tensor(x.dtype, x.shape, f32ToHalf(x.dtype, v));
  }
  const out: any = allocArray(x.dtype, n);
  const d = x.data as any;
  if (isBigIntDType(x.dtype)) {
    const f = big ?? ((v: bigint) => BigInt(Math.trunc(num(Number(v)))));
    for (let i = 0; i < n; i++) out[i] = f(d[i]);
  } else {
    for (let i = 0; i < n; i++) out[i] = num(d[i]);
  }
  return new Tensor(x.dtype, x.shape, out);
}

interface UnaryDef<A> {
  attrs?: (node: Node, opset: number) => A;
  accepts: Accepts;
  num: (a: A) => NumFn;
  big?: (a: A) => (v: bigint) => bigint;
  /** SIMD kernel op and its two float parameters, for float32 */
  simd?: (a: A) => [UnaryOp, number, number];
  bool?: boolean;
}

function unaryOp<A = Record<string, never>>(op: string, def: UnaryDef<A>): OpKernel<A> {
  return defineOp<A>({
    attrs: (def.attrs ?? unaryDefs[op as keyof typeof unaryDefs].attrs) as (node: Node, opset: number) => A,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      if (!accepts(def.accepts, x.dtype)) throw new ShapeError(`${op} does not accept ${x.dtype} inputs`);
      if (x.dtype === 'float32' && def.simd) {
        const [code, p0, p1] = def.simd(a);
        return [new Tensor('float32', x.shape, unaryF32Wasm(code, x.data as Float32Array, p0, p1))];
      }
      return [mapUnary(x, def.num(a), def.big?.(a), def.bool)];
    },
  });
}

/** erf(x) to about 1e-7: a Maclaurin series near 0, a Chebyshev fit of erfc elsewhere. */
export function erf(x: number): number {
  if (x !== x) return NaN;
  const z = Math.abs(x);
  if (z < 0.5) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 12; n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc : erfc - 1;
}

/** Round half to even (numpy's rint, ONNX Round). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

const same = <T>(f: T) => () => f;


const clipKernel = defineOp<ClipAttrs>({
  // opset < 11: bounds are attributes; from 11 they are optional inputs 1 and 2
  attrs: unaryDefs.Clip.attrs,
  run: (inputs, a) => {
    const x = need(inputs, 0, 'input');
    if (!accepts('numeric', x.dtype)) throw new ShapeError(`Clip does not accept ${x.dtype} inputs`);
    const lo = a.min ?? (inputs[1] ? readScalar(inputs[1], 'Clip min') : -Infinity);
    const hi = a.max ?? (inputs[2] ? readScalar(inputs[2], 'Clip max') : Infinity);
    if (x.dtype === 'float32') return [new Tensor('float32', x.shape, unaryF32Wasm(UnaryOp.Clip, x.data as Float32Array, lo, hi))];
    if (isBigIntDType(x.dtype)) {
      // exact int64 bounds: read them as bigints, not through doubles
      const big = (t: Tensor | undefined) => (t ? (t.data as BigInt64Array)[0]! : undefined);
      const bl = big(inputs[1]);
      const bh = big(inputs[2]);
      return [mapUnary(x, (v) => v, (v) => (bl !== undefined && v < bl ? bl : bh !== undefined && v > bh ? bh : v))];
    }
    return [mapUnary(x, (v) => (v !== v ? NaN : v < lo ? lo : v > hi ? hi : v))];
  },
});

export const unaryOps: OpTable = {
  Relu: unaryOp('Relu', { accepts: 'signed', num: same((x) => (x !== x ? NaN : x > 0 ? x : 0)), big: same((v) => (v > 0n ? v : 0n)), simd: () => [UnaryOp.Relu, 0, 0] }),
  LeakyRelu: unaryOp('LeakyRelu', { attrs: unaryDefs.LeakyRelu.attrs, accepts: 'float', num: (a) => (x) => (x < 0 ? x * a.alpha : x), simd: (a) => [UnaryOp.LeakyRelu, a.alpha, 0] }),
  Clip: clipKernel,
  Sigmoid: unaryOp('Sigmoid', { accepts: 'float', num: same((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))) }),
  HardSigmoid: unaryOp('HardSigmoid', {
    attrs: unaryDefs.HardSigmoid.attrs,
    accepts: 'float',
    num: (a) => (x) => Math.max(0, Math.min(1, a.alpha * x + a.beta)),
    simd: (a) => [UnaryOp.HardSigmoid, a.alpha, a.beta],
  }),
  HardSwish: unaryOp('HardSwish', { accepts: 'float', num: same((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))), simd: () => [UnaryOp.HardSwish, 0, 0] }),
  Tanh: unaryOp('Tanh', { accepts: 'float', num: same(Math.tanh) }),
  Elu: unaryOp('Elu', { attrs: unaryDefs.Elu.attrs, accepts: 'float', num: (a) => (x) => (x < 0 ? a.alpha * Math.expm1(x) : x) }),
  Celu: unaryOp('Celu', { attrs: unaryDefs.Celu.attrs, accepts: 'float', num: (a) => (x) => Math.max(0, x) + Math.min(0, a.alpha * Math.expm1(x / a.alpha)) }),
  Selu: unaryOp('Selu', {
    attrs: unaryDefs.Selu.attrs,
    accepts: 'float',
    num: (a) => (x) => (x > 0 ? a.gamma * x : a.gamma * a.alpha * Math.expm1(x)),
  }),
  ThresholdedRelu: unaryOp('ThresholdedRelu', { attrs: unaryDefs.ThresholdedRelu.attrs, accepts: 'float', num: (a) => (x) => (x > a.alpha ? x : 0) }),
  Softplus: unaryOp('Softplus', { accepts: 'float', num: same((x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))) }),
  Softsign: unaryOp('Softsign', { accepts: 'float', num: same((x) => x / (1 + Math.abs(x))) }),
  Shrink: unaryOp('Shrink', {
    attrs: unaryDefs.Shrink.attrs,
    accepts: 'numeric',
    num: (a) => (x) => (x < -a.lambd ? x + a.bias : x > a.lambd ? x - a.bias : 0),
  }),
  Neg: unaryOp('Neg', { accepts: 'signed', num: same((x) => -x), big: same((v) => -v), simd: () => [UnaryOp.Neg, 0, 0] }),
  Abs: unaryOp('Abs', { accepts: 'numeric', num: same(Math.abs), big: same((v) => (v < 0n ? -v : v)), simd: () => [UnaryOp.Abs, 0, 0] }),
  Sign: unaryOp('Sign', { accepts: 'numeric', num: same((x) => (x !== x ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0)), big: same((v) => (v > 0n ? 1n : v < 0n ? -1n : 0n)) }),
  Sqrt: unaryOp('Sqrt', { accepts: 'float', num: same(Math.sqrt), simd: () => [UnaryOp.Sqrt, 0, 0] }),
  Reciprocal: unaryOp('Reciprocal', { accepts: 'float', num: same((x) => 1 / x) }),
  Exp: unaryOp('Exp', { accepts: 'float', num: same(Math.exp) }),
  Log: unaryOp('Log', { accepts: 'float', num: same(Math.log) }),
  Erf: unaryOp('Erf', { accepts: 'numeric', num: same(erf) }),
  Gelu: unaryOp('Gelu', {
    accepts: 'float',
    num: (a) => (a.approximate === 'tanh' ? (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))) : (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2))),
  }),
  Floor: unaryOp('Floor', { accepts: 'float', num: same(Math.floor) }),
  Ceil: unaryOp('Ceil', { accepts: 'float', num: same(Math.ceil) }),
  Round: unaryOp('Round', { accepts: 'float', num: same(roundEven) }),
  Sin: unaryOp('Sin', { accepts: 'float', num: same(Math.sin) }),
  Cos: unaryOp('Cos', { accepts: 'float', num: same(Math.cos) }),
  Tan: unaryOp('Tan', { accepts: 'float', num: same(Math.tan) }),
  Asin: unaryOp('Asin', { accepts: 'float', num: same(Math.asin) }),
  Acos: unaryOp('Acos', { accepts: 'float', num: same(Math.acos) }),
  Atan: unaryOp('Atan', { accepts: 'float', num: same(Math.atan) }),
  Sinh: unaryOp('Sinh', { accepts: 'float', num: same(Math.sinh) }),
  Cosh: unaryOp('Cosh', { accepts: 'float', num: same(Math.cosh) }),
  Asinh: unaryOp('Asinh', { accepts: 'float', num: same(Math.asinh) }),
  Acosh: unaryOp('Acosh', { accepts: 'float', num: same(Math.acosh) }),
  Atanh: unaryOp('Atanh', { accepts: 'float', num: same(Math.atanh) }),
  Not: unaryOp('Not', { accepts: 'bool', num: same((x) => (x ? 0 : 1)) }),
  IsNaN: unaryOp('IsNaN', { accepts: 'float', num: same((x) => (x !== x ? 1 : 0)), bool: true }),
  IsInf: unaryOp('IsInf', {
    attrs: unaryDefs.IsInf.attrs,
    accepts: 'float',
    num: (a) => (x) => (x === Infinity && a.pos) || (x === -Infinity && a.neg) ? 1 : 0,
    bool: true,
  }),
};
