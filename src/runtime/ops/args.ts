// Reading op arguments that arrive as tensors (axes, shapes, pads, scalars) and moving
// float16/bfloat16 data to and from float32 for computation.
import { allocArray, isBigIntDType, type DType, type NumericArray, type TensorData } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../ir/float16.js';
import { Tensor, type Shape } from '../../ir/tensor.js';

/** The input at `i`, or a ShapeError naming what is missing. */
export function need(inputs: ReadonlyArray<Tensor | undefined>, i: number, what: string): Tensor {
  const t = inputs[i];
  if (!t) throw new ShapeError(`missing required input ${i} (${what})`);
  return t;
}

/** An axis in [-rank, rank) made non-negative. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ShapeError(`${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Distinct, non-negative axes. */
export function normAxes(axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(a, rank, what));
  if (new Set(out).size !== out.length) throw new ShapeError(`${what} [${axes.join(', ')}] repeats an axis`);
  return out;
}

const INTEGER: ReadonlySet<DType> = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

export function isIntegerDType(dtype: DType): boolean {
  return INTEGER.has(dtype);
}

/** The elements of an integer tensor as JS numbers (axes, shapes, pads, indices). */
export function readInts(t: Tensor, what: string): number[] {
  if (!INTEGER.has(t.dtype)) throw new ShapeError(`${what} must be an integer tensor, got ${t.dtype}`);
  const d = t.data as ArrayLike<number | bigint>;
  const out = new Array<number>(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    // int64 "infinities" (INT64_MAX/MIN as used for Slice ends) stay beyond any real dimension.
    out[i] = typeof v === 'bigint' ? (v > 9007199254740991n ? Number.MAX_SAFE_INTEGER : v < -9007199254740991n ? -Number.MAX_SAFE_INTEGER : Number(v)) : v;
  }
  return out;
}

/** The elements of a numeric tensor as JS numbers. */
export function readNumbers(t: Tensor, what: string): number[] {
  if (t.dtype === 'string') throw new ShapeError(`${what} must be numeric, got string`);
  return t.toNumbers();
}

/** A float tensor's elements (float32 / float64 as stored, float16 / bfloat16 as numbers); other dtypes a ShapeError. */
export function floatValues(t: Tensor, what: string): ArrayLike<number> {
  if (t.dtype === 'float32' || t.dtype === 'float64') return t.data as Float32Array | Float64Array;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return t.toNumbers();
  throw new ShapeError(`${what} must be a float tensor, got ${t.dtype}`);
}

/** A one-element tensor's value as a number. */
export function readScalar(t: Tensor, what: string): number {
  if (t.size !== 1) throw new ShapeError(`${what} must have one element, got shape [${t.shape.join(', ')}]`);
  return readNumbers(t, what)[0]!;
}

export function isHalf(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** float32 values of a float16/bfloat16 tensor (decoded copy). */
export function halfToF32(t: Tensor): Float32Array {
  return Float32Array.from(t.toNumbers());
}

/** Encode float32 values as `dtype` (float16/bfloat16 bits). */
export function f32ToHalf(dtype: DType, v: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(v.length);
  const enc = dtype === 'float16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
  for (let i = 0; i < v.length; i++) out[i] = enc(v[i]!);
  return out;
}

/** A tensor of `dtype` from JS numbers (ints wrap like a C cast, float16 encodes, int64 via BigInt). */
export function tensorFromNumbers(dtype: DType, shape: Shape, values: ArrayLike<number>): Tensor {
  if (isHalf(dtype)) return new Tensor(dtype, shape, f32ToHalf(dtype, values));
  const out = allocArray(dtype, values.length);
  if (isBigIntDType(dtype)) {
    const o = out as BigInt64Array;
    for (let i = 0; i < values.length; i++) o[i] = BigInt(Math.trunc(values[i]!));
  } else if (dtype === 'bool') {
    const o = out as Uint8Array;
    for (let i = 0; i < values.length; i++) o[i] = values[i] ? 1 : 0;
  } else {
    (out as Exclude<NumericArray, BigInt64Array | BigUint64Array>).set(values);
  }
  return new Tensor(dtype, shape, out);
}

/** A fresh array of the same kind as `t.data` holding `n` elements. */
export function sameKind(t: Tensor, n: number): TensorData {
  return allocArray(t.dtype, n);
}
