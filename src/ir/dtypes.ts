import { checkAllocation } from './budget.js';
/** Element types of IR tensors. float16/bfloat16 are stored as their raw bits in a Uint16Array. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorData = NumericArray | string[];

interface DTypeInfo {
  readonly bytes: number;
  readonly array: { new (n: number): NumericArray; new (b: ArrayBufferLike, o: number, n: number): NumericArray } | null;
  readonly float: boolean;
  readonly signed: boolean;
  readonly bigint: boolean;
}

const info = (bytes: number, array: DTypeInfo['array'], float: boolean, signed: boolean, bigint = false): DTypeInfo => ({
  bytes,
  array,
  float,
  signed,
  bigint,
});

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float32: info(4, Float32Array as DTypeInfo['array'], true, true),
  float64: info(8, Float64Array as DTypeInfo['array'], true, true),
  float16: info(2, Uint16Array as DTypeInfo['array'], true, true),
  bfloat16: info(2, Uint16Array as DTypeInfo['array'], true, true),
  int8: info(1, Int8Array as DTypeInfo['array'], false, true),
  uint8: info(1, Uint8Array as DTypeInfo['array'], false, false),
  int16: info(2, Int16Array as DTypeInfo['array'], false, true),
  uint16: info(2, Uint16Array as DTypeInfo['array'], false, false),
  int32: info(4, Int32Array as DTypeInfo['array'], false, true),
  uint32: info(4, Uint32Array as DTypeInfo['array'], false, false),
  int64: info(8, BigInt64Array as DTypeInfo['array'], false, true, true),
  uint64: info(8, BigUint64Array as DTypeInfo['array'], false, false, true),
  bool: info(1, Uint8Array as DTypeInfo['array'], false, false),
  string: info(0, null, false, false),
};

export function bytesPerElement(dtype: DType): number {
  return DTYPES[dtype].bytes;
}

export function isFloatDType(dtype: DType): boolean {
  return DTYPES[dtype].float;
}

export function isBigIntDType(dtype: DType): boolean {
  return DTYPES[dtype].bigint;
}

/** A new zero-filled array for `n` elements of `dtype` (strings: empty strings). */
export function allocArray(dtype: DType, n: number): TensorData {
  checkAllocation(n, DTYPES[dtype].bytes || 8, `a ${dtype} tensor of ${n} elements`); // sizes from data: bounded before allocating
  const a = DTYPES[dtype].array;
  if (!a) return new Array<string>(n).fill('');
  return new a(n);
}

/**
 * A typed-array view of `bytes` as `dtype` without copying when the offset is aligned;
 * otherwise one aligned copy. Little-endian hosts only (every platform Node and browsers run on).
 */
export function viewAs(dtype: DType, bytes: Uint8Array, count: number): NumericArray {
  const a = DTYPES[dtype].array;
  if (!a) throw new TypeError(`cannot view bytes as ${dtype}`);
  const size = DTYPES[dtype].bytes;
  if (bytes.byteLength < count * size) throw new RangeError(`need ${count * size} bytes for ${count} ${dtype}, have ${bytes.byteLength}`);
  if (bytes.byteOffset % size === 0) return new a(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(count * size);
  copy.set(bytes.subarray(0, count * size));
  return new a(copy.buffer, 0, count);
}
