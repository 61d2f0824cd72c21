// TensorFlow TensorProto <-> IR Tensor. Every claim the proto makes (shape, dtype, byte
// counts) is checked against the bytes present before anything is allocated.
import { allocArray, DTYPES, viewAs, type DType, type NumericArray } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import type { tensorflow } from '../generated/tensorflow.js';
import { dtypeFromTf, tfDataType } from './data-types.js';
import { int64ToBigInt, int64ToNumber, toInt64, type Int64 } from './int64.js';

type TensorProto = tensorflow.TensorProto.$Properties;
type TensorShapeProto = tensorflow.TensorShapeProto.$Properties;

/** Most elements one broadcast value (TensorProto's "one value fills the shape") may expand to. */
export const MAX_BROADCAST_ELEMENTS = 1 << 27;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export function tfDType(value: number | null | undefined, where: string, file: string): DType {
  const t = dtypeFromTf(value ?? 0);
  if ('dtype' in t) return t.dtype;
  if ('unsupported' in t) throw new UnsupportedError(`TensorFlow dtype ${t.unsupported}`, `${where} in '${file}'`);
  throw new FormatError(`${where} has unknown dtype ${t.unknown}`, { file });
}

/** Dims of a shape proto: sizes (-1 = unknown becomes null), or undefined for an unknown rank. */
export function shapeFromProto(s: TensorShapeProto | null | undefined): (number | null)[] | undefined {
  if (!s) return undefined;
  if (s.unknown_rank) return undefined;
  return (s.dim ?? []).map((d) => {
    const n = int64ToNumber(d.size as Int64);
    return n < 0 ? null : n;
  });
}

/** A fully known shape (a tensor's, a checkpoint entry's): every dimension a non-negative safe integer. */
export function staticShape(s: TensorShapeProto | null | undefined, where: string, file: string): number[] {
  if (s?.unknown_rank) throw new FormatError(`${where} has a shape of unknown rank`, { file });
  const dims = (s?.dim ?? []).map((d) => int64ToNumber(d.size as Int64));
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${where} has an invalid dimension ${d} in [${dims.join(', ')}]`, { file });
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new FormatError(`${where} claims [${dims.join(', ')}] elements, more than any file holds`, { file });
  return dims;
}

/** The typed value field a dtype's elements are given in (when tensor_content is empty). */
export function typedValues(proto: TensorProto, dtype: DType): ArrayLike<number | bigint | boolean | Int64> {
  switch (dtype) {
    case 'float32':
      return proto.float_val ?? [];
    case 'float64':
      return proto.double_val ?? [];
    case 'float16':
    case 'bfloat16':
      return proto.half_val ?? [];
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
      return proto.int_val ?? [];
    case 'int64':
      return (proto.int64_val ?? []) as Int64[];
    case 'uint32':
      return proto.uint32_val ?? [];
    case 'uint64':
      return (proto.uint64_val ?? []) as Int64[];
    case 'bool':
      return proto.bool_val ?? [];
    default:
      return [];
  }
}

/**
 * The IR tensor of a TensorProto. `tensor_content` stays a view over the file's bytes when
 * aligned; the typed fields are copied, and fewer values than the shape holds repeat the last
 * one (TensorFlow's rule, which is how one value fills a whole shape).
 */
export function tensorFromTfProto(proto: TensorProto, where: string, file: string): Tensor {
  const dtype = tfDType(proto.dtype, where, file);
  const shape = staticShape(proto.tensor_shape, where, file);
  const count = shapeSize(shape);
  const bad = (what: string) => new FormatError(`${where} (${dtype} [${shape.join(', ')}]): ${what}`, { file });

  if (dtype === 'string') {
    const s = proto.string_val ?? [];
    if (s.length > count) throw bad(`has ${s.length} strings for ${count} elements`);
    if (s.length === 0) return new Tensor('string', shape, new Array<string>(count).fill(''));
    if (s.length !== count && count > MAX_BROADCAST_ELEMENTS) throw bad(`fills ${count} elements from ${s.length} strings`);
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = utf8.decode(s[Math.min(i, s.length - 1)]!);
    return new Tensor('string', shape, out);
  }

  const content = proto.tensor_content;
  if (content && content.length > 0) {
    const need = count * DTYPES[dtype].bytes;
    if (content.length !== need) throw bad(`tensor_content has ${content.length} bytes, the shape needs ${need}`);
    return new Tensor(dtype, shape, viewAs(dtype, content, count));
  }

  const values = typedValues(proto, dtype);
  if (values.length > count) throw bad(`has ${values.length} values for ${count} elements`);
  if (values.length !== count && count > MAX_BROADCAST_ELEMENTS) {
    throw bad(`fills ${count} elements from ${values.length} value(s); nnport expands at most ${MAX_BROADCAST_ELEMENTS}`);
  }
  const data = allocArray(dtype, count) as NumericArray;
  if (values.length === 0) return new Tensor(dtype, shape, data);
  const big = dtype === 'int64' || dtype === 'uint64';
  const convert = (v: number | bigint | boolean | Int64): number | bigint => {
    if (big) return dtype === 'uint64' ? BigInt.asUintN(64, int64ToBigInt(v as Int64)) : int64ToBigInt(v as Int64);
    if (typeof v === 'boolean') return v ? 1 : 0;
    return v as number;
  };
  const n = values.length;
  for (let i = 0; i < n; i++) (data as unknown as (number | bigint)[])[i] = convert(values[i]!);
  if (n < count) {
    const last = convert(values[n - 1]!);
    (data as unknown as { fill(v: number | bigint, start: number): void }).fill(last, n);
  }
  return new Tensor(dtype, shape, data);
}

export function shapeToProto(shape: readonly (number | string | null)[] | undefined): TensorShapeProto {
  if (!shape) return { unknown_rank: true };
  return { dim: shape.map((d) => ({ size: typeof d === 'number' ? toInt64(d) : -1 })) };
}

/** A TensorProto holding `t` (numbers in tensor_content, strings in string_val). */
export function tensorToTfProto(t: Tensor): TensorProto {
  const proto: TensorProto = { dtype: tfDataType(t.dtype), tensor_shape: shapeToProto(t.shape) };
  if (t.dtype === 'string') proto.string_val = (t.data as string[]).map((s) => utf8Encoder.encode(s));
  else if (t.size > 0) proto.tensor_content = t.bytes();
  return proto;
}
