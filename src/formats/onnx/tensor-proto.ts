// TensorProto <-> IR Tensor. Reading checks every claim the proto makes (dims, data_type,
// byte counts) against the bytes actually present before allocating anything.
import { checkRank } from '../../ir/budget.js';
import { DTYPES, viewAs, type DType, type NumericArray, type TensorData } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import type { onnx } from '../generated/onnx.js';
import { dtypeFromOnnx, onnxDataType } from './data-types.js';
import { int64ToBigInt, int64ToNumber, type Int64 } from './int64.js';

type TensorProto = onnx.TensorProto.$Properties;

const EXTERNAL = 1;
const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

export function isExternal(proto: TensorProto): boolean {
  return proto.data_location === EXTERNAL;
}

/** Dims as numbers: each a non-negative safe integer, and their product too. */
export function tensorDims(proto: TensorProto, where: string, file: string): number[] {
  checkRank(proto.dims?.length ?? 0, `${file}: ${where}`);
  const dims = (proto.dims ?? []).map((d) => int64ToNumber(d as Int64));
  let count = 1;
  for (const d of dims) {
    if (d < 0) throw new FormatError(`${where} has a negative dimension (${dims.join(' x ')})`, { file });
    if (!Number.isSafeInteger(d)) throw new FormatError(`${where} has an impossibly large dimension (${d})`, { file });
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new FormatError(`${where} claims ${dims.join(' x ')} elements, more than any file can hold`, { file });
  return dims;
}

export function tensorDType(proto: TensorProto, where: string, file: string): DType {
  const t = dtypeFromOnnx(proto.data_type ?? 0);
  if ('dtype' in t) return t.dtype;
  if ('unsupported' in t) throw new UnsupportedError(`ONNX data type ${t.unsupported}`, `${where} in '${file}'`);
  throw new FormatError(`${where} has unknown data_type ${proto.data_type ?? 0}`, { file });
}

/**
 * The IR tensor for a TensorProto. `external` holds the tensor's bytes when its data lives in
 * an external file (already read and range-checked by the caller). Numeric data read from
 * raw_data or `external` stays a view over those bytes when aligned.
 */
export function tensorFromProto(proto: TensorProto, where: string, file: string, external?: Uint8Array): Tensor {
  const dtype = tensorDType(proto, where, file);
  const shape = tensorDims(proto, where, file);
  if (proto.segment) throw new UnsupportedError('segmented ONNX tensors', `${where} in '${file}'`);
  const count = shapeSize(shape);
  const bad = (what: string) => new FormatError(`${where} (${dtype} [${shape.join(', ')}], ${count} elements): ${what}`, { file });

  if (dtype === 'string') {
    if (external) throw bad('string tensors cannot have external data');
    const s = proto.string_data ?? [];
    if (s.length !== count) throw bad(`has ${s.length} strings in string_data`);
    return new Tensor('string', shape, s.map(decodeUtf8));
  }

  const raw = external ?? (proto.raw_data && proto.raw_data.length > 0 ? proto.raw_data : undefined);
  if (raw) {
    const need = count * DTYPES[dtype].bytes;
    if (raw.byteLength !== need) throw bad(`needs ${need} bytes of ${external ? 'external data' : 'raw_data'}, has ${raw.byteLength}`);
    if (raw.byteOffset % DTYPES[dtype].bytes === 0 || count === 0) return new Tensor(dtype, shape, viewAs(dtype, raw, count));
    // at an odd offset in the file: copied aligned only when read, so that a streaming writer
    // holds one such copy at a time instead of the reader keeping all of them
    const source = { length: count, read: () => viewAs(dtype, raw, count), bytes: raw };
    return new Tensor(dtype, shape, undefined as never, undefined, { source, shape, perm: shape.map((_, i) => i) });
  }
  const data = typedFieldData(proto, dtype);
  if (data === undefined) {
    if (count === 0) return Tensor.zeros(dtype, shape);
    throw bad('has no data (no raw_data and no typed data field)');
  }
  if (data.length !== count) throw bad(`has ${data.length} values in its ${typedFieldName(dtype)} field`);
  return new Tensor(dtype, shape, data);
}

/** The field that carries each dtype when raw_data is not used, per the comments in onnx.proto. */
function typedFieldName(dtype: DType): string {
  switch (dtype) {
    case 'float32':
      return 'float_data';
    case 'float64':
      return 'double_data';
    case 'int64':
      return 'int64_data';
    case 'uint32':
    case 'uint64':
      return 'uint64_data';
    default:
      return 'int32_data';
  }
}

/** Values from the typed field for `dtype`, or undefined when that field is empty. */
function typedFieldData(proto: TensorProto, dtype: DType): TensorData | undefined {
  const field = typedFieldName(dtype);
  const values = (proto as Record<string, unknown>)[field] as (number | Int64)[] | undefined;
  if (!values || values.length === 0) return undefined;
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values as number[]);
    case 'float64':
      return Float64Array.from(values as number[]);
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt.asIntN(64, int64ToBigInt(values[i] as Int64));
      return a;
    }
    case 'uint64': {
      const a = new BigUint64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt.asUintN(64, int64ToBigInt(values[i] as Int64));
      return a;
    }
    case 'uint32': {
      const a = new Uint32Array(n);
      for (let i = 0; i < n; i++) a[i] = int64ToNumber(values[i] as Int64);
      return a;
    }
    case 'bool': {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++) a[i] = values[i] ? 1 : 0;
      return a;
    }
    // float16/bfloat16 travel in int32_data as their 16-bit patterns; the small integer
    // types one value per int32. The typed-array constructors keep the low bits, as ONNX does.
    default: {
      const Ctor = DTYPES[dtype].array!;
      const a = new Ctor(n) as NumericArray;
      for (let i = 0; i < n; i++) (a as Int32Array)[i] = values[i] as number;
      return a;
    }
  }
}

/** The TensorProto for an IR tensor: numeric data as raw_data (a view, not a copy). */
export function tensorToProto(tensor: Tensor, name: string): TensorProto {
  const proto: TensorProto = {
    dims: tensor.shape.map((d) => d),
    data_type: onnxDataType(tensor.dtype),
  };
  if (name) proto.name = name;
  if (tensor.dtype === 'string') proto.string_data = (tensor.data as string[]).map((s) => utf8Encoder.encode(s));
  else if (tensor.size > 0) proto.raw_data = tensor.bytes();
  return proto;
}
