import type { DType } from '../../ir/dtypes.js';

/** safetensors dtype names (the spec's) <-> IR dtypes. */
export const SAFETENSORS_TO_DTYPE: Readonly<Record<string, DType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U64: 'uint64',
  U32: 'uint32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool',
};

export const DTYPE_TO_SAFETENSORS: Readonly<Partial<Record<DType, string>>> = Object.fromEntries(
  Object.entries(SAFETENSORS_TO_DTYPE).map(([k, v]) => [v, k]),
);
