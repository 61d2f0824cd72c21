// Legacy V1 TensorFlow checkpoints (SaveSlices, TensorFlow before 0.12): one table per shard
// (`model.ckpt`, or `model.ckpt-00000-of-00002` ...), in the same LevelDB table format as a V2
// bundle's .index. The entry with the empty key holds a SavedTensorSlices whose `meta` lists each
// tensor of the shard (name, dtype, shape, the slices stored there); every other key is the
// tensor's name and one slice, encoded as TensorFlow's EncodeTensorNameSlice does (OrderedCode),
// and holds a SavedTensorSlices whose `data` is that slice's values in a TensorProto's typed
// fields. A variable saved whole has one full slice; a partitioned one has several, possibly
// in several shards, and is reassembled here. Every count is checked against the bytes present
// before the whole tensor is allocated.
import { DTYPES, type DType } from '../../ir/dtypes.js';
import { FormatError } from '../../ir/errors.js';
import { ReadBudget } from '../../ir/budget.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { sliceKey, type Bundle } from './bundle.js';
import { tfDataType } from './data-types.js';
import { decodeProto } from './graph-def.js';
import { int64ToNumber, toInt64, type Int64 } from './int64.js';
import { readTable } from './sstable.js';
import { staticShape, tensorFromTfProto, tfDType, typedValues } from './tensor-proto.js';
import { SAVED_TENSOR_SLICES } from './wire-schema.js';

type TensorSliceProto = tensorflow.TensorSliceProto.$Properties;

const latin1 = new TextDecoder('latin1');

/** One shard's table: its meta and its data entries by (latin-1) key, decoded on demand. */
export interface V1Shard {
  file: string;
  bytes: number;
  meta: tensorflow.SavedSliceMeta.$Properties[];
  data: Map<string, Uint8Array>;
}

/** A slice: where it starts and how long it is along each dimension (length -1: the whole dimension). */
interface Extent {
  start: number;
  length: number;
  size: number;
}

export interface V1Tensor {
  name: string;
  dtype: DType;
  shape: number[];
  slices: { shard: number; proto: TensorSliceProto; extents: Extent[] }[];
}

export interface V1Checkpoint {
  shards: V1Shard[];
  tensors: Map<string, V1Tensor>;
}

/** A table whose first entry (empty key) is a SavedTensorSlices holding a meta (field 1, a message). */
export function isV1Table(bytes: Uint8Array): boolean {
  try {
    const first = readTable(bytes, '')[0];
    return !!first && first.key.length === 0 && first.value[0] === 0x0a;
  } catch {
    return false;
  }
}

function decodeSlices(value: Uint8Array, file: string, what: string): tensorflow.SavedTensorSlices {
  guardProtobufDecode(value, SAVED_TENSOR_SLICES, file, what);
  return decodeProto(() => tensorflow.SavedTensorSlices.decode(value), file, what);
}

/** One V1 shard's table: its meta entry decoded, its data entries kept as bytes. */
export function readV1Shard(bytes: Uint8Array, file: string): V1Shard {
  const table = readTable(bytes, file);
  const first = table[0];
  if (!first || first.key.length !== 0) throw new FormatError('V1 checkpoint table has no meta entry (empty key) first', { file });
  const head = decodeSlices(first.value, file, 'V1 checkpoint meta (SavedTensorSlices)');
  if (!head.meta) throw new FormatError("V1 checkpoint table's first entry holds no SavedTensorSliceMeta", { file });
  const data = new Map<string, Uint8Array>();
  for (const e of table.slice(1)) {
    if (e.key.length === 0) throw new FormatError('V1 checkpoint table has a second entry with the empty key', { file });
    data.set(latin1.decode(e.key), e.value);
  }
  return { file, bytes: bytes.length, meta: head.meta.tensor ?? [], data };
}

/** A slice proto's extents against the tensor's shape; missing trailing extents are whole dimensions. */
function extentsOf(slice: TensorSliceProto, shape: number[], where: string, file: string): Extent[] {
  const ext = slice.extent ?? [];
  if (ext.length > shape.length) throw new FormatError(`${where}: a slice of rank ${ext.length} for a tensor of rank ${shape.length}`, { file });
  return shape.map((d, i) => {
    const e = ext[i];
    const start = e ? int64ToNumber(e.start as Int64) : 0;
    const hasLength = e?.has_length === 'length';
    const length = hasLength ? int64ToNumber(e!.length as Int64) : -1;
    const size = length < 0 ? d - start : length;
    if (!Number.isSafeInteger(start) || start < 0 || (hasLength && (!Number.isSafeInteger(length) || length < 0)) || size < 0 || start + size > d) {
      throw new FormatError(`${where}: slice [${start}, +${hasLength ? length : 'all'}] of dimension ${i} lies outside its size ${d}`, { file });
    }
    return { start, length, size };
  });
}

/** The tensors of a V1 checkpoint's shards (in shard order): slices gathered by name, their dtypes and shapes agreeing. */
export function v1Checkpoint(shards: V1Shard[]): V1Checkpoint {
  const tensors = new Map<string, V1Tensor>();
  shards.forEach((s, k) => {
    for (const m of s.meta) {
      const name = m.name ?? '';
      const where = `V1 checkpoint tensor '${name}'`;
      if (!name) throw new FormatError('V1 checkpoint meta lists a tensor without a name', { file: s.file });
      const dtype = tfDType(m.type, where, s.file);
      const shape = staticShape(m.shape, where, s.file);
      let t = tensors.get(name);
      if (!t) tensors.set(name, (t = { name, dtype, shape, slices: [] }));
      else if (t.dtype !== dtype || t.shape.join() !== shape.join()) {
        throw new FormatError(`${where} is ${dtype} [${shape.join(', ')}] here, ${t.dtype} [${t.shape.join(', ')}] in an earlier shard`, { file: s.file });
      }
      if (!(m.slice ?? []).length) throw new FormatError(`${where} lists no slice`, { file: s.file });
      for (const proto of m.slice ?? []) t.slices.push({ shard: k, proto, extents: extentsOf(proto, shape, where, s.file) });
    }
  });
  return { shards, tensors };
}

/** The table key of a slice: TensorFlow's EncodeTensorNameSlice over the slice proto's own extents. */
function keyOf(name: string, proto: TensorSliceProto): string {
  return sliceKey(
    name,
    (proto.extent ?? []).map((e) => ({ start: int64ToNumber(e.start as Int64), length: e.has_length === 'length' ? int64ToNumber(e.length as Int64) : -1 })),
  );
}

/** One slice's values, its name and extents checked against the meta, exactly as many values as it has elements. */
function sliceTensor(ck: V1Checkpoint, t: V1Tensor, s: V1Tensor['slices'][number]): Tensor {
  const shard = ck.shards[s.shard]!;
  const file = shard.file;
  const where = `V1 checkpoint tensor '${t.name}' slice [${s.extents.map((e) => `${e.start}:+${e.size}`).join(', ')}]`;
  const value = shard.data.get(keyOf(t.name, s.proto));
  if (!value) throw new FormatError(`${where} is listed in the meta but has no entry in the table`, { file });
  const saved = decodeSlices(value, file, 'V1 checkpoint slice (SavedTensorSlices)').data;
  if (!saved?.data) throw new FormatError(`${where}: its entry holds no SavedSlice data`, { file });
  if ((saved.name ?? '') !== t.name) throw new FormatError(`${where}: its entry names tensor '${saved.name ?? ''}'`, { file });
  const savedExtents = extentsOf(saved.slice ?? {}, t.shape, where, file);
  if (savedExtents.some((e, i) => e.start !== s.extents[i]!.start || e.size !== s.extents[i]!.size)) {
    throw new FormatError(`${where}: its entry holds slice [${savedExtents.map((e) => `${e.start}:+${e.size}`).join(', ')}]`, { file });
  }
  const shape = s.extents.map((e) => e.size);
  const count = shapeSize(shape);
  const proto = saved.data;
  if (proto.dtype && proto.dtype !== tfDataType(t.dtype)) throw new FormatError(`${where}: its values are of dtype ${proto.dtype}, the meta says ${t.dtype}`, { file });
  const present = t.dtype === 'string' ? (proto.string_val ?? []).length : proto.tensor_content?.length ? proto.tensor_content.length / DTYPES[t.dtype].bytes : typedValues(proto, t.dtype).length;
  if (present !== count) throw new FormatError(`${where} (${t.dtype} [${shape.join(', ')}]) holds ${present} values for ${count} elements`, { file });
  return tensorFromTfProto({ ...proto, dtype: tfDataType(t.dtype), tensor_shape: { dim: shape.map((d) => ({ size: toInt64(d) })) } }, where, file);
}

/** A tensor of the checkpoint: a whole-tensor slice as it is, else its slices reassembled (they must tile it exactly). */
export function v1Tensor(ck: V1Checkpoint, name: string, file: string): Tensor {
  const t = ck.tensors.get(name);
  if (!t) throw new FormatError(`the checkpoint has no tensor '${name}'`, { file });
  const where = `V1 checkpoint tensor '${name}'`;
  const full = shapeSize(t.shape);
  if (t.slices.length === 1 && t.slices[0]!.extents.every((e, i) => e.start === 0 && e.size === t.shape[i])) return sliceTensor(ck, t, t.slices[0]!);
  // the slices' element counts must add up to the tensor's before anything is allocated
  let sum = 0;
  for (const s of t.slices) sum += shapeSize(s.extents.map((e) => e.size));
  if (sum !== full) throw new FormatError(`${where} [${t.shape.join(', ')}]: its ${t.slices.length} slices hold ${sum} of its ${full} elements`, { file: ck.shards[t.slices[0]!.shard]!.file });
  const shardFile = ck.shards[t.slices[0]!.shard]!;
  new ReadBudget(shardFile.file, ck.shards.reduce((n, s) => n + s.bytes, 0)).take(full * (DTYPES[t.dtype].bytes || 8), `reassembling ${where} [${t.shape.join(', ')}]`);
  const out = Tensor.zeros(t.dtype, t.shape);
  const dst = out.data as unknown as { [i: number]: unknown };
  const covered = new Uint8Array(full);
  const strides = stridesOf(t.shape);
  for (const s of t.slices) {
    const part = sliceTensor(ck, t, s);
    const src = part.data as unknown as ArrayLike<unknown>;
    // row by row along the last dimension: each row's start in the whole tensor, then its elements
    const rank = t.shape.length;
    const sshape = s.extents.map((e) => e.size);
    const rowLen = rank ? sshape[rank - 1]! : 1;
    const outer = sshape.slice(0, -1);
    const ostrides = stridesOf(outer);
    const rows = rowLen ? shapeSize(sshape) / rowLen : 0;
    for (let r = 0; r < rows; r++) {
      let at = rank ? s.extents[rank - 1]!.start : 0;
      for (let d = 0; d < outer.length; d++) at += (s.extents[d]!.start + (Math.floor(r / ostrides[d]!) % outer[d]!)) * strides[d]!;
      for (let j = 0; j < rowLen; j++) {
        if (covered[at + j]) throw new FormatError(`${where}: two of its slices overlap`, { file: ck.shards[s.shard]!.file });
        covered[at + j] = 1;
        dst[at + j] = src[r * rowLen + j];
      }
    }
  }
  return out;
}

/**
 * The tensors as a Bundle (what listings and the freezer read of a checkpoint): each entry's
 * dtype, shape and byte size; a partitioned tensor lists its slices.
 */
export function v1Bundle(ck: V1Checkpoint): Bundle {
  const entries: Bundle['entries'] = new Map();
  for (const t of ck.tensors.values()) {
    const whole = t.slices.length === 1 && t.slices[0]!.extents.every((e, i) => e.start === 0 && e.size === t.shape[i]);
    entries.set(t.name, {
      dtype: tfDataType(t.dtype),
      shape: { dim: t.shape.map((d) => ({ size: toInt64(d) })) },
      size: toInt64(shapeSize(t.shape) * (DTYPES[t.dtype].bytes || 0)),
      slices: whole ? [] : t.slices.map((s) => s.proto),
    });
  }
  return { numShards: ck.shards.length, entries, sliceEntries: new Map() };
}

/** `name-00000-of-00003` -> the names of all its shards; any other name -> itself alone. */
export function v1ShardNames(name: string): string[] {
  const m = /^(.*)-(\d{5})-of-(\d{5})$/.exec(name);
  if (!m) return [name];
  const count = Number(m[3]);
  if (count < 1 || Number(m[2]) >= count) return [name];
  return Array.from({ length: count }, (_, i) => `${m[1]}-${String(i).padStart(5, '0')}-of-${m[3]}`);
}
