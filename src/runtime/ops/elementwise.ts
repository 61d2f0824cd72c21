// Broadcasting binary and variadic ops (numpy rules): arithmetic, comparisons, logic,
// Where, Expand, PRelu. float32 arithmetic runs on the SIMD kernel; other dtypes (incl.
// the int64 of shape subgraphs) run here, integers with C semantics (Div truncates).
import { checkTensorShape } from '../../ir/budget.js';
import { allocArray, isBigIntDType, isFloatDType, type DType, type TensorData } from '../../ir/dtypes.js';
import { elementwiseDefs, type BinaryAttrs } from '../../ir/ops/index.js';
import { ShapeError } from '../../ir/errors.js';
import { shapeSize, Tensor, type Shape } from '../../ir/tensor.js';
import { broadcastIndex, broadcastPlan, broadcastShapes, forEachRow } from '../broadcast.js';
import { defineOp, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf, isIntegerDType, need, readInts } from './args.js';
import { binaryF32Wasm } from '../../wasm/elementwise.js';
import { BinaryOp } from '../../wasm/opcodes.js';
import { binaryF32Scalar } from '../../wasm/scalar/elementwise.js';

// Loosely typed element functions: the same comparison works on numbers and bigints.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (a: any, b: any) => any;

interface BinarySpec {
  /** float (and default integer) semantics on JS numbers */
  num: Fn;
  /** integer semantics on JS numbers where they differ (Div truncates, Mul wraps) */
  int?: (dtype: DType) => Fn;
  /** int64/uint64 semantics on bigints (defaults to `num`) */
  big?: Fn;
  /** the SIMD kernel op for float32 */
  wasm?: BinaryOp;
  /** output dtype: same as the inputs, or bool for comparisons */
  out: 'same' | 'bool';
  /** which input dtypes are allowed */
  accepts: 'numeric' | 'bool' | 'any';
}

const intDiv: Fn = (a: number, b: number) => (b === 0 ? 0 : Math.trunc(a / b));
const bigDiv: Fn = (a: bigint, b: bigint) => (b === 0n ? 0n : a / b);
const intMul = (dtype: DType): Fn => (dtype === 'int32' ? Math.imul : dtype === 'uint32' ? (a, b) => Math.imul(a, b) >>> 0 : (a, b) => a * b);
const maxFn: Fn = Math.max;
const minFn: Fn = Math.min;

const SPECS = {
  Add: { num: (a, b) => a + b, wasm: BinaryOp.Add, out: 'same', accepts: 'numeric' },
  Sub: { num: (a, b) => a - b, wasm: BinaryOp.Sub, out: 'same', accepts: 'numeric' },
  Mul: { num: (a, b) => a * b, int: intMul, wasm: BinaryOp.Mul, out: 'same', accepts: 'numeric' },
  Div: { num: (a, b) => a / b, int: () => intDiv, big: bigDiv, wasm: BinaryOp.Div, out: 'same', accepts: 'numeric' },
  Max: { num: maxFn, big: (a, b) => (a > b ? a : b), wasm: BinaryOp.Max, out: 'same', accepts: 'numeric' },
  Min: { num: minFn, big: (a, b) => (a < b ? a : b), wasm: BinaryOp.Min, out: 'same', accepts: 'numeric' },
  Equal: { num: (a, b) => a === b, out: 'bool', accepts: 'any' },
  Less: { num: (a, b) => a < b, out: 'bool', accepts: 'numeric' },
  LessOrEqual: { num: (a, b) => a <= b, out: 'bool', accepts: 'numeric' },
  Greater: { num: (a, b) => a > b, out: 'bool', accepts: 'numeric' },
  GreaterOrEqual: { num: (a, b) => a >= b, out: 'bool', accepts: 'numeric' },
  And: { num: (a, b) => a && b, out: 'bool', accepts: 'bool' },
  Or: { num: (a, b) => a || b, out: 'bool', accepts: 'bool' },
  Xor: { num: (a, b) => (a ? 1 : 0) ^ (b ? 1 : 0), out: 'bool', accepts: 'bool' },
} satisfies Record<string, BinarySpec>;

function checkDType(op: string, spec: BinarySpec, t: Tensor): void {
  const ok = spec.accepts === 'any' || (spec.accepts === 'bool' ? t.dtype === 'bool' : t.dtype !== 'bool' && t.dtype !== 'string');
  if (!ok) throw new ShapeError(`${op} does not accept ${t.dtype} inputs`);
}

/** Elements of `t` as an array of numbers/bigints that element functions can read (float16 decoded). */
function readable(t: Tensor): ArrayLike<any> {
  return isHalf(t.dtype) ? halfToF32(t) : (t.data as ArrayLike<any>);
}

/** Broadcast `fn` over a and b into a fresh array of `outDtype` (float16 outputs are encoded). */
function mapBroadcast(a: Tensor, b: Tensor, outDtype: DType, fn: Fn): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const n = shapeSize(shape);
  const half = isHalf(outDtype);
  const out: any = half ? new Float32Array(n) : allocArray(outDtype, n);
  if (n === 0) return new Tensor(outDtype, shape, half ? new Uint16Array(0) : out);
  const x = readable(a);
  const y = readable(b);
  const plan = broadcastPlan(shape, [a.shape, b.shape]);
  const last = plan.dims.length - 1;
  const sa = plan.strides[0]![last]!;
  const sb = plan.strides[1]![last]!;
  const bool = outDtype === 'bool';
  forEachRow(plan, (offs, o, len) => {
    const ia = offs[0]!;
    const ib = offs[1]!;
    if (bool) for (let j = 0; j < len; j++) out[o + j] = fn(x[ia + j * sa], y[ib + j * sb]) ? 1 : 0;
    else for (let j = 0; j < len; j++) out[o + j] = fn(x[ia + j * sa], y[ib + j * sb]);
  });
  return new Tensor(outDtype, shape, half ? f32ToHalf(outDtype, out) : out);
}

export function binary(op: keyof typeof SPECS, a: Tensor, b: Tensor): Tensor {
  const spec: BinarySpec = SPECS[op];
  checkDType(op, spec, a);
  checkDType(op, spec, b);
  if (a.dtype !== b.dtype) throw new ShapeError(`${op} inputs must have the same dtype, got ${a.dtype} and ${b.dtype}`);
  const outDtype: DType = spec.out === 'bool' ? 'bool' : a.dtype;
  if (a.dtype === 'float32' && spec.wasm !== undefined) {
    const shape = broadcastShapes(a.shape, b.shape);
    const n = shapeSize(shape);
    const plan = broadcastPlan(shape, [a.shape, b.shape]);
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    const data = binaryF32Wasm(spec.wasm, x, y, plan, n) ?? binaryF32Scalar(spec.wasm, x, y, plan, n);
    return new Tensor('float32', shape, data);
  }
  let fn = spec.num;
  if (isBigIntDType(a.dtype)) fn = spec.big ?? spec.num;
  else if (isIntegerDType(a.dtype) && spec.int) fn = spec.int(a.dtype);
  return mapBroadcast(a, b, outDtype, fn);
}

/** Reshape B so that numpy broadcasting gives the pre-opset-7 "align at axis" semantics. */
function alignLegacy(a: Tensor, b: Tensor, axis: number | undefined): Tensor {
  if (axis === undefined) return b;
  const start = axis < 0 ? axis + a.rank : axis;
  if (start < 0 || start + b.rank > a.rank) throw new ShapeError(`legacy broadcast of [${b.shape.join(', ')}] at axis ${axis} does not fit [${a.shape.join(', ')}]`);
  return b.reshape([...b.shape, ...new Array<number>(a.rank - start - b.rank).fill(1)]);
}

const binaryOp = (op: keyof typeof SPECS) =>
  defineOp<BinaryAttrs>({
    attrs: elementwiseDefs[op].attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'A');
      return [binary(op, x, alignLegacy(x, need(inputs, 1, 'B'), a.legacyAxis))];
    },
  });

/** Max/Min/Sum/Mean: a left fold of broadcasting binary ops over 1..N inputs. */
const variadicOp = (op: 'Max' | 'Min' | 'Sum' | 'Mean') =>
  defineOp({
    attrs: elementwiseDefs[op].attrs,
    run: (inputs) => {
      const ts = inputs.filter((t): t is Tensor => t !== undefined);
      if (ts.length === 0) throw new ShapeError(`${op} needs at least one input`);
      const step = op === 'Sum' || op === 'Mean' ? 'Add' : op;
      let acc = ts[0]!;
      if (acc.dtype === 'bool' || acc.dtype === 'string') throw new ShapeError(`${op} does not accept ${acc.dtype} inputs`);
      for (let i = 1; i < ts.length; i++) acc = binary(step, acc, ts[i]!);
      if (op === 'Mean') {
        if (!isFloatDType(acc.dtype)) throw new ShapeError(`Mean needs float inputs, got ${acc.dtype}`);
        acc = binary('Div', acc, new Tensor(acc.dtype, [], isHalf(acc.dtype) ? f32ToHalf(acc.dtype, [ts.length]) : (allocArray(acc.dtype, 1).fill(ts.length as never) as TensorData)));
      }
      return [acc];
    },
  });

/** Pow: the base's dtype wins; exponent may be any numeric dtype. */
export function pow(x: Tensor, y: Tensor): Tensor {
  for (const t of [x, y]) if (t.dtype === 'bool' || t.dtype === 'string') throw new ShapeError(`Pow does not accept ${t.dtype}`);
  if (isBigIntDType(x.dtype) && isBigIntDType(y.dtype)) {
    return mapBroadcast(x, y, x.dtype, (a: bigint, b: bigint) => (b < 0n ? (a === 1n ? 1n : a === -1n ? (b % 2n ? -1n : 1n) : 0n) : a ** b));
  }
  const toNum = isBigIntDType(y.dtype) ? (v: any) => Number(v) : (v: any) => v;
  if (isBigIntDType(x.dtype)) return mapBroadcast(x, y, x.dtype, (a: bigint, b) => BigInt(Math.trunc(Math.pow(Number(a), toNum(b)))));
  if (isIntegerDType(x.dtype)) return mapBroadcast(x, y, x.dtype, (a, b) => Math.trunc(Math.pow(a, toNum(b))));
  return mapBroadcast(x, y, x.dtype, (a, b) => Math.pow(a, toNum(b)));
}

interface ModAttrs {
  fmod: boolean;
}

function mod(x: Tensor, y: Tensor, fmod: boolean): Tensor {
  if (x.dtype !== y.dtype) throw new ShapeError(`Mod inputs must have the same dtype, got ${x.dtype} and ${y.dtype}`);
  if (x.dtype === 'bool' || x.dtype === 'string') throw new ShapeError(`Mod does not accept ${x.dtype}`);
  if (isFloatDType(x.dtype) && !fmod) throw new ShapeError('Mod on floating-point inputs needs fmod=1');
  if (isBigIntDType(x.dtype)) {
    return mapBroadcast(x, y, x.dtype, (a: bigint, b: bigint) => {
      if (b === 0n) return 0n;
      let r = a % b;
      if (!fmod && r !== 0n && r < 0n !== b < 0n) r += b;
      return r;
    });
  }
  // Integer remainder follows the divisor's sign (Python) unless fmod=1 (C fmod: the dividend's).
  return mapBroadcast(x, y, x.dtype, (a: number, b: number) => {
    if (b === 0 && !isFloatDType(x.dtype)) return 0;
    let r = a % b;
    if (!fmod && r !== 0 && r < 0 !== b < 0) r += b;
    return r;
  });
}

/** PRelu: slope broadcasts to X (unidirectionally). */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  if (x.dtype !== slope.dtype) throw new ShapeError(`PRelu slope must be ${x.dtype}, got ${slope.dtype}`);
  const shape = broadcastShapes(x.shape, slope.shape);
  if (shape.length !== x.rank || shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`PRelu slope [${slope.shape.join(', ')}] does not broadcast to X [${x.shape.join(', ')}]`);
  }
  if (x.dtype === 'float32') {
    const plan = broadcastPlan(shape, [x.shape, slope.shape]);
    const a = x.data as Float32Array;
    const b = slope.data as Float32Array;
    return new Tensor('float32', shape, binaryF32Wasm(BinaryOp.PRelu, a, b, plan, x.size) ?? binaryF32Scalar(BinaryOp.PRelu, a, b, plan, x.size));
  }
  if (x.dtype === 'bool' || x.dtype === 'string') throw new ShapeError(`PRelu does not accept ${x.dtype}`);
  return mapBroadcast(x, slope, x.dtype, isBigIntDType(x.dtype) ? (a, b) => (a < 0n ? a * b : a) : (a, b) => (a < 0 ? a * b : a));
}

/** Gather `src` (any dtype) through per-output source indices into a new tensor. */
/** Elements of `src` at flat `index` positions, as a tensor of `shape`. */
export function gatherFlat(src: Tensor, shape: Shape, index: Int32Array): Tensor {
  const out: any = allocArray(src.dtype, index.length);
  const d = src.data as any;
  for (let i = 0; i < index.length; i++) out[i] = d[index[i]!];
  return new Tensor(src.dtype, shape, out);
}

export function where(cond: Tensor, x: Tensor, y: Tensor): Tensor {
  if (cond.dtype !== 'bool') throw new ShapeError(`Where condition must be bool, got ${cond.dtype}`);
  if (x.dtype !== y.dtype) throw new ShapeError(`Where X and Y must have the same dtype, got ${x.dtype} and ${y.dtype}`);
  const shape = broadcastShapes(cond.shape, x.shape, y.shape);
  const n = shapeSize(shape);
  const out: any = allocArray(x.dtype, n);
  const plan = broadcastPlan(shape, [cond.shape, x.shape, y.shape]);
  const last = plan.dims.length - 1;
  const [sc, sx, sy] = plan.strides.map((s) => s[last]!) as [number, number, number];
  const c = cond.data as Uint8Array;
  const xd = x.data as any;
  const yd = y.data as any;
  forEachRow(plan, (offs, o, len) => {
    for (let j = 0; j < len; j++) out[o + j] = c[offs[0]! + j * sc] ? xd[offs[1]! + j * sx] : yd[offs[2]! + j * sy];
  });
  return new Tensor(x.dtype, shape, out);
}

export function expand(x: Tensor, shapeArg: readonly number[]): Tensor {
  if (shapeArg.some((d) => d < 0)) throw new ShapeError(`Expand shape [${shapeArg.join(', ')}] has a negative dimension`);
  const shape = broadcastShapes(x.shape, shapeArg);
  checkTensorShape(x.dtype, shape, 'Expand output');
  return gatherFlat(x, shape, broadcastIndex(shape, x.shape));
}

function bitShift(x: Tensor, y: Tensor, left: boolean): Tensor {
  if (x.dtype !== y.dtype || !['uint8', 'uint16', 'uint32', 'uint64'].includes(x.dtype)) {
    throw new ShapeError(`BitShift needs two unsigned integer inputs of one dtype, got ${x.dtype} and ${y.dtype}`);
  }
  if (x.dtype === 'uint64') return mapBroadcast(x, y, x.dtype, left ? (a: bigint, b: bigint) => a << b : (a: bigint, b: bigint) => a >> b);
  // JS masks shift counts to 5 bits; a shift by the width or more empties the value.
  return mapBroadcast(x, y, x.dtype, left ? (a: number, b: number) => (b >= 32 ? 0 : (a << b) >>> 0) : (a: number, b: number) => (b >= 32 ? 0 : a >>> b));
}

export const elementwiseOps: OpTable = {
  BitShift: defineOp<{ left: boolean }>({
    attrs: elementwiseDefs.BitShift.attrs,
    run: (inputs, a) => [bitShift(need(inputs, 0, 'X'), need(inputs, 1, 'Y'), a.left)],
  }),
  Add: binaryOp('Add'),
  Sub: binaryOp('Sub'),
  Mul: binaryOp('Mul'),
  Div: binaryOp('Div'),
  Equal: binaryOp('Equal'),
  Less: binaryOp('Less'),
  LessOrEqual: binaryOp('LessOrEqual'),
  Greater: binaryOp('Greater'),
  GreaterOrEqual: binaryOp('GreaterOrEqual'),
  And: binaryOp('And'),
  Or: binaryOp('Or'),
  Xor: binaryOp('Xor'),
  Max: variadicOp('Max'),
  Min: variadicOp('Min'),
  Sum: variadicOp('Sum'),
  Mean: variadicOp('Mean'),
  Pow: defineOp({ attrs: elementwiseDefs.Pow.attrs, run: (inputs) => [pow(need(inputs, 0, 'X'), need(inputs, 1, 'Y'))] }),
  Mod: defineOp<ModAttrs>({
    attrs: elementwiseDefs.Mod.attrs,
    run: (inputs, a) => [mod(need(inputs, 0, 'A'), need(inputs, 1, 'B'), a.fmod)],
  }),
  PRelu: defineOp<{ legacy: boolean }>({
    attrs: elementwiseDefs.PRelu.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      let slope = need(inputs, 1, 'slope');
      // Before opset 7 a 1-D slope of C values is per channel (axis 1), not numpy-aligned.
      if (a.legacy && slope.rank === 1 && x.rank > 2 && slope.size === x.shape[1]) slope = alignLegacy(x, slope, 1);
      return [prelu(x, slope)];
    },
  }),
  Where: defineOp({ attrs: elementwiseDefs.Where.attrs, run: (inputs) => [where(need(inputs, 0, 'condition'), need(inputs, 1, 'X'), need(inputs, 2, 'Y'))] }),
  Expand: defineOp({
    attrs: elementwiseDefs.Expand.attrs,
    run: (inputs) => [expand(need(inputs, 0, 'input'), readInts(need(inputs, 1, 'shape'), 'Expand shape'))],
  }),
};
