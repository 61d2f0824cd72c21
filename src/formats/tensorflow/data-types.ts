// TensorFlow DataType enum values <-> IR dtypes. Reference types (`DT_FLOAT_REF`, the dtype of
// a legacy Variable's output) are the value + 100 and mean the same element type.
import type { DType } from '../../ir/dtypes.js';

const TO_IR: Record<number, DType> = {
  1: 'float32',
  2: 'float64',
  3: 'int32',
  4: 'uint8',
  5: 'int16',
  6: 'int8',
  7: 'string',
  9: 'int64',
  10: 'bool',
  14: 'bfloat16',
  17: 'uint16',
  19: 'float16',
  22: 'uint32',
  23: 'uint64',
};

/** Quantized types hold their storage integers; the float range travels as separate min/max tensors. */
const QUANTIZED: Record<number, DType> = { 11: 'int8', 12: 'uint8', 13: 'int32', 15: 'int16', 16: 'uint16' };

const NAMES: Record<number, string> = {
  8: 'complex64',
  11: 'qint8',
  12: 'quint8',
  13: 'qint32',
  15: 'qint16',
  16: 'quint16',
  18: 'complex128',
  20: 'resource',
  21: 'variant',
  24: 'float8_e5m2',
  25: 'float8_e4m3fn',
  29: 'int4',
  30: 'uint4',
};

export const DT_FLOAT = 1;
export const DT_INT32 = 3;
export const DT_STRING = 7;
export const DT_INT64 = 9;
export const DT_RESOURCE = 20;

/** The IR dtype of a DataType value, or the TF name of one nnport has no dtype for. */
export function dtypeFromTf(value: number): { dtype: DType } | { unsupported: string } | { unknown: number } {
  const base = value > 100 ? value - 100 : value;
  const d = TO_IR[base] ?? QUANTIZED[base];
  if (d) return { dtype: d };
  const n = NAMES[base];
  return n ? { unsupported: n } : { unknown: value };
}

export function tfDataType(dtype: DType): number {
  for (const [k, v] of Object.entries(TO_IR)) if (v === dtype) return Number(k);
  throw new RangeError(`no TensorFlow DataType for ${dtype}`);
}

/** A readable name ('float32', 'qint8', 'DataType 77') for listings. */
export function tfDataTypeName(value: number): string {
  const q = QUANTIZED[value > 100 ? value - 100 : value] ? NAMES[value > 100 ? value - 100 : value] : undefined;
  if (q) return q;
  const t = dtypeFromTf(value);
  return 'dtype' in t ? t.dtype : 'unsupported' in t ? t.unsupported : `DataType ${value}`;
}
