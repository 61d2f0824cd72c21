import type { DType } from '../../ir/dtypes.js';

/** NumPy dtype strings (without the byte-order char) <-> IR dtypes. */
export const NPY_TO_DTYPE: Readonly<Record<string, DType>> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  b1: 'bool',
};

export const DTYPE_TO_NPY: Readonly<Partial<Record<DType, string>>> = Object.fromEntries(
  Object.entries(NPY_TO_DTYPE).map(([k, v]) => [v, (k === 'i1' || k === 'u1' || k === 'b1' ? '|' : '<') + k]),
);

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
