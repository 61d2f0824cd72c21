// The ONNX messages as the decode guard (guardProtobufDecode) sees them: which fields are
// sub-messages, int64 lists, packed scalars and strings, by field number from proto/onnx.proto.
// Fields not listed cost the decoder nothing beyond the file's own bytes.
import type { WireField, WireSchema } from '../protobuf-peek.js';

const msg = (schema: () => WireSchema, rank?: string): WireField => ({ kind: 'message', schema, rank });
const int64s = (rank?: string): WireField => ({ kind: 'int64', rank });
const bytes: WireField = { kind: 'bytes' };
const f32: WireField = { kind: 'scalars', width: 4 };
const f64: WireField = { kind: 'scalars', width: 8 };
const varints: WireField = { kind: 'scalars', width: 0 };

const entry: WireSchema = { 1: bytes, 2: bytes };
const opset: WireSchema = { 1: bytes, 2: int64s() };
const segment: WireSchema = { 1: int64s(), 2: int64s() };
export const TENSOR: WireSchema = {
  1: int64s('a tensor'),
  3: msg(() => segment),
  4: f32,
  5: varints,
  6: bytes,
  7: int64s(),
  8: bytes,
  9: bytes,
  10: f64,
  11: int64s(),
  12: bytes,
  13: msg(() => entry),
  16: msg(() => entry),
};
const sparse: WireSchema = { 1: msg(() => TENSOR), 2: msg(() => TENSOR), 3: int64s('a sparse tensor') };
const dimension: WireSchema = { 1: int64s(), 2: bytes, 3: bytes };
const shape: WireSchema = { 1: msg(() => dimension, 'a shape') };
const tensorType: WireSchema = { 2: msg(() => shape) };
const elemType: WireSchema = { 1: msg(() => type) };
const mapType: WireSchema = { 2: msg(() => type) };
const type: WireSchema = { 1: msg(() => tensorType), 4: msg(() => elemType), 5: msg(() => mapType), 6: bytes, 8: msg(() => tensorType), 9: msg(() => elemType) };
const valueInfo: WireSchema = { 1: bytes, 2: msg(() => type), 3: bytes, 4: msg(() => entry) };
const attribute: WireSchema = {
  1: bytes,
  3: int64s(),
  4: bytes,
  5: msg(() => TENSOR),
  6: msg(() => graph),
  7: f32,
  8: int64s(),
  9: bytes,
  10: msg(() => TENSOR),
  11: msg(() => graph),
  13: bytes,
  14: msg(() => type),
  15: msg(() => type),
  21: bytes,
  22: msg(() => sparse),
  23: msg(() => sparse),
};
const node: WireSchema = { 1: bytes, 2: bytes, 3: bytes, 4: bytes, 5: msg(() => attribute), 6: bytes, 7: bytes, 8: bytes, 9: msg(() => entry) };
const annotation: WireSchema = { 1: bytes, 2: msg(() => entry) };
const graph: WireSchema = {
  1: msg(() => node),
  2: bytes,
  5: msg(() => TENSOR),
  10: bytes,
  11: msg(() => valueInfo),
  12: msg(() => valueInfo),
  13: msg(() => valueInfo),
  14: msg(() => annotation),
  15: msg(() => sparse),
  16: msg(() => entry),
};
const training: WireSchema = { 1: msg(() => graph), 2: msg(() => graph), 3: msg(() => entry), 4: msg(() => entry) };
const fn: WireSchema = {
  1: bytes,
  4: bytes,
  5: bytes,
  6: bytes,
  7: msg(() => node),
  8: bytes,
  9: msg(() => opset),
  10: bytes,
  11: msg(() => attribute),
  12: msg(() => valueInfo),
  13: bytes,
  14: msg(() => entry),
};
export const MODEL: WireSchema = {
  1: int64s(),
  2: bytes,
  3: bytes,
  4: bytes,
  5: int64s(),
  6: bytes,
  7: msg(() => graph),
  8: msg(() => opset),
  14: msg(() => entry),
  20: msg(() => training),
  25: msg(() => fn),
};
