// ONNX TensorProto.DataType numbers <-> IR dtypes.
import type { DType } from '../../ir/dtypes.js';

/** ONNX data_type -> IR dtype, for the types nnport can hold. */
const FROM_ONNX: ReadonlyMap<number, DType> = new Map<number, DType>([
  [1, 'float32'],
  [2, 'uint8'],
  [3, 'int8'],
  [4, 'uint16'],
  [5, 'int16'],
  [6, 'int32'],
  [7, 'int64'],
  [8, 'string'],
  [9, 'bool'],
  [10, 'float16'],
  [11, 'float64'],
  [12, 'uint32'],
  [13, 'uint64'],
  [16, 'bfloat16'],
]);

/** Types ONNX defines that the IR has no representation for (yet): named for the error. */
const UNSUPPORTED_NAMES: ReadonlyMap<number, string> = new Map([
  [14, 'COMPLEX64'],
  [15, 'COMPLEX128'],
  [17, 'FLOAT8E4M3FN'],
  [18, 'FLOAT8E4M3FNUZ'],
  [19, 'FLOAT8E5M2'],
  [20, 'FLOAT8E5M2FNUZ'],
  [21, 'UINT4'],
  [22, 'INT4'],
  [23, 'FLOAT4E2M1'],
]);

const TO_ONNX: ReadonlyMap<DType, number> = new Map([...FROM_ONNX].map(([k, v]) => [v, k] as const));

export type OnnxTypeLookup = { dtype: DType } | { unsupported: string } | { unknown: true };

export function dtypeFromOnnx(dataType: number): OnnxTypeLookup {
  const dtype = FROM_ONNX.get(dataType);
  if (dtype) return { dtype };
  const name = UNSUPPORTED_NAMES.get(dataType);
  return name ? { unsupported: name } : { unknown: true };
}

export function onnxDataType(dtype: DType): number {
  return TO_ONNX.get(dtype)!;
}
