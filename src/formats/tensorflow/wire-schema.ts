// The GraphDef messages as the decode guard (guardProtobufDecode) sees them: sub-messages,
// int64 lists, packed scalars and strings by field number (proto/tensorflow/*.proto), so that
// a small .pb of millions of empty nodes is refused before protobufjs decodes it into gigabytes.
import type { WireField, WireSchema } from '../protobuf-peek.js';

const msg = (schema: () => WireSchema, rank?: string): WireField => ({ kind: 'message', schema, rank });
const int64s: WireField = { kind: 'int64' };
const bytes: WireField = { kind: 'bytes' };
const f32: WireField = { kind: 'scalars', width: 4 };
const f64: WireField = { kind: 'scalars', width: 8 };
const varints: WireField = { kind: 'scalars', width: 0 };

const dim: WireSchema = { 1: int64s, 2: bytes };
const shape: WireSchema = { 2: msg(() => dim, 'a shape') };
const dtypeAndShape: WireSchema = { 2: msg(() => shape) };
const resource: WireSchema = { 1: bytes, 2: bytes, 3: bytes, 4: int64s, 5: bytes, 6: msg(() => dtypeAndShape) };
const tensor: WireSchema = {
  2: msg(() => shape),
  4: bytes,
  5: f32,
  6: f64,
  7: varints,
  8: bytes,
  9: f32,
  10: int64s,
  11: varints,
  12: f64,
  13: varints,
  14: msg(() => resource),
  16: varints,
  17: int64s,
  18: bytes,
};
const list: WireSchema = { 2: bytes, 3: int64s, 4: f32, 5: varints, 6: varints, 7: msg(() => shape), 8: msg(() => tensor), 9: msg(() => nameAttrList) };
const attrValue: WireSchema = { 1: msg(() => list), 2: bytes, 3: int64s, 7: msg(() => shape), 8: msg(() => tensor), 9: bytes, 10: msg(() => nameAttrList) };
const attrEntry: WireSchema = { 1: bytes, 2: msg(() => attrValue) };
const nameAttrList: WireSchema = { 1: bytes, 2: msg(() => attrEntry) };
const node: WireSchema = { 1: bytes, 2: bytes, 3: bytes, 4: bytes, 5: msg(() => attrEntry) };
const argDef: WireSchema = { 1: bytes, 2: bytes, 4: bytes, 5: bytes, 6: bytes };
const attrDef: WireSchema = { 1: bytes, 2: bytes, 3: msg(() => attrValue), 4: bytes, 6: int64s, 7: msg(() => attrValue) };
const opDef: WireSchema = { 1: bytes, 2: msg(() => argDef), 3: msg(() => argDef), 4: msg(() => attrDef), 5: bytes, 6: bytes, 20: bytes };
const stringEntry: WireSchema = { 1: bytes, 2: bytes };
const argAttrs: WireSchema = { 1: msg(() => attrEntry) };
const argAttrEntry: WireSchema = { 2: msg(() => argAttrs) };
const fn: WireSchema = { 1: msg(() => opDef), 3: msg(() => node), 4: msg(() => stringEntry), 5: msg(() => attrEntry), 6: msg(() => stringEntry), 7: msg(() => argAttrEntry) };
const gradient: WireSchema = { 1: bytes, 2: bytes };
const library: WireSchema = { 1: msg(() => fn), 2: msg(() => gradient) };
const versions: WireSchema = { 3: varints };
export const GRAPH_DEF: WireSchema = { 1: msg(() => node), 2: msg(() => library), 4: msg(() => versions) };

const opList: WireSchema = { 1: msg(() => opDef) };
const metaInfo: WireSchema = { 1: bytes, 2: msg(() => opList), 3: bytes, 4: bytes, 5: bytes, 6: bytes, 8: msg(() => stringEntry) };
const saver: WireSchema = { 1: bytes, 2: bytes, 3: bytes };
const valueList = (value: WireField): WireSchema => ({ 1: value });
const anyValue: WireSchema = { 1: bytes, 2: bytes };
const collection: WireSchema = { 1: msg(() => valueList(bytes)), 2: msg(() => valueList(bytes)), 3: msg(() => valueList(int64s)), 4: msg(() => valueList(f32)), 5: msg(() => valueList(msg(() => anyValue))) };
const collectionEntry: WireSchema = { 1: bytes, 2: msg(() => collection) };
const cooSparse: WireSchema = { 1: bytes, 2: bytes, 3: bytes };
const tensorInfo: WireSchema = { 1: bytes, 3: msg(() => shape), 4: msg(() => cooSparse) };
const tensorInfoEntry: WireSchema = { 1: bytes, 2: msg(() => tensorInfo) };
const tensorEntry: WireSchema = { 1: bytes, 2: msg(() => tensor) };
const signature: WireSchema = { 1: msg(() => tensorInfoEntry), 2: msg(() => tensorInfoEntry), 3: bytes, 4: msg(() => tensorEntry) };
const signatureEntry: WireSchema = { 1: bytes, 2: msg(() => signature) };
const asset: WireSchema = { 1: msg(() => tensorInfo), 2: bytes };
const objectRef: WireSchema = { 2: bytes };
const userObject: WireSchema = { 1: bytes, 2: msg(() => versions), 3: bytes };
const savedFunction: WireSchema = { 1: bytes };
const bareFunction: WireSchema = { 1: bytes, 2: bytes, 3: int64s };
const savedVariable: WireSchema = { 2: msg(() => shape), 6: bytes, 7: bytes };
const savedObject: WireSchema = { 1: msg(() => objectRef), 4: msg(() => userObject), 6: msg(() => savedFunction), 7: msg(() => savedVariable), 8: msg(() => bareFunction) };
const concreteFunction: WireSchema = { 2: varints };
const concreteEntry: WireSchema = { 1: bytes, 2: msg(() => concreteFunction) };
const objectGraph: WireSchema = { 1: msg(() => savedObject), 2: msg(() => concreteEntry) };
export const META_GRAPH: WireSchema = {
  1: msg(() => metaInfo),
  2: msg(() => GRAPH_DEF),
  3: msg(() => saver),
  4: msg(() => collectionEntry),
  5: msg(() => signatureEntry),
  6: msg(() => asset),
  7: msg(() => objectGraph),
};
export const SAVED_MODEL: WireSchema = { 1: int64s, 2: msg(() => META_GRAPH) };

// a `variables` collection's entry (its save_slice_info_def places a part of a partitioned variable)
const saveSliceInfo: WireSchema = { 1: bytes, 2: int64s, 3: int64s, 4: int64s };
export const VARIABLE_DEF: WireSchema = { 1: bytes, 2: bytes, 3: bytes, 4: msg(() => saveSliceInfo), 6: bytes };

// legacy V1 checkpoints: a table value (SavedTensorSlices: meta of SavedSliceMeta, or one SavedSlice)
const extent: WireSchema = { 1: int64s, 2: int64s };
const tensorSlice: WireSchema = { 1: msg(() => extent) };
const sliceMeta: WireSchema = { 1: bytes, 2: msg(() => shape), 4: msg(() => tensorSlice) };
const tensorSliceMeta: WireSchema = { 1: msg(() => sliceMeta), 2: msg(() => versions) };
const savedSlice: WireSchema = { 1: bytes, 2: msg(() => tensorSlice), 3: msg(() => tensor) };
export const SAVED_TENSOR_SLICES: WireSchema = { 1: msg(() => tensorSliceMeta), 2: msg(() => savedSlice) };
