// Tensor bundles (TensorFlow checkpoints V2): the .index table maps each tensor name to a
// BundleEntryProto (dtype, shape, shard, offset, size, CRC-32C); the bytes lie in
// `<prefix>.data-<shard>-of-<count>`. Partitioned variables list their slices, each stored
// under its own encoded key, and are reassembled here.
import { DTYPES, viewAs } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import { crc32c, maskCrc } from './crc32c.js';
import { decodeProto } from './graph-def.js';
import { int64ToNumber, type Int64 } from './int64.js';
import { readTable } from './sstable.js';
import { staticShape, tfDType } from './tensor-proto.js';

type BundleEntry = tensorflow.BundleEntryProto.$Properties;

export interface BundleVariable {
  name: string;
  entry: BundleEntry;
}

export interface Bundle {
  numShards: number;
  /** entries by tensor name (slice entries excluded) */
  entries: Map<string, BundleEntry>;
  /** the slice entries of partitioned tensors, by their encoded key */
  sliceEntries: Map<string, BundleEntry>;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** The header and entries of a tensor bundle's .index. */
export function readBundleIndex(bytes: Uint8Array, file: string): Bundle {
  const table = readTable(bytes, file);
  const first = table[0];
  if (!first || first.key.length !== 0) throw new FormatError('tensor-bundle index has no header entry (empty key)', { file });
  const header = decodeProto(() => tensorflow.BundleHeaderProto.decode(first.value), file, 'BundleHeaderProto');
  if (header.endianness === 1) throw new UnsupportedError('big-endian tensor bundles', `'${file}'`);
  const numShards = header.num_shards ?? 0;
  if (numShards < 1 || numShards > 100_000) throw new FormatError(`tensor-bundle header claims ${numShards} data shards`, { file });
  const entries = new Map<string, BundleEntry>();
  const sliceEntries = new Map<string, BundleEntry>();
  for (const e of table.slice(1)) {
    const entry = decodeProto(() => tensorflow.BundleEntryProto.decode(e.value), file, 'BundleEntryProto');
    // slice keys start with OrderedCode's 0 byte; tensor names never do
    if (e.key[0] === 0) sliceEntries.set(latin1.decode(e.key), entry);
    else entries.set(utf8.decode(e.key), entry);
  }
  return { numShards, entries, sliceEntries };
}

export function shardName(prefix: string, shard: number, count: number): string {
  return `${prefix}.data-${String(shard).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
}

/**
 * One tensor's value: its bytes in the data shard, length and CRC-32C checked, viewed (not
 * copied) when aligned. `shards` gives a shard's bytes (read once by the caller).
 */
export async function bundleTensor(bundle: Bundle, name: string, shards: (i: number) => Promise<Uint8Array>, file: string): Promise<Tensor> {
  const entry = bundle.entries.get(name);
  if (!entry) throw new FormatError(`the checkpoint has no tensor '${name}'`, { file });
  const where = `checkpoint tensor '${name}'`;
  const dtype = tfDType(entry.dtype, where, file);
  const shape = staticShape(entry.shape, where, file);
  if (entry.slices?.length) return reassemble(bundle, name, entry, shards, file);
  return entryTensor(entry, dtype, shape, where, shards, file);
}

async function entryTensor(entry: BundleEntry, dtype: ReturnType<typeof tfDType>, shape: number[], where: string, shards: (i: number) => Promise<Uint8Array>, file: string): Promise<Tensor> {
  const shard = entry.shard_id ?? 0;
  const offset = int64ToNumber(entry.offset as Int64);
  const size = int64ToNumber(entry.size as Int64);
  const data = await shards(shard);
  if (offset < 0 || size < 0 || offset + size > data.length) {
    throw new FormatError(`${where} lies at [${offset}, +${size}] of data shard ${shard}, which has ${data.length} bytes`, { file });
  }
  const bytes = data.subarray(offset, offset + size);
  const stored = (entry.crc32c ?? 0) >>> 0;
  const actual = maskCrc(crc32c(bytes));
  if (dtype === 'string') return stringTensor(bytes, shape, where, file);
  if (stored !== actual) throw new FormatError(`${where} fails its CRC-32C check (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)})`, { file });
  const count = shapeSize(shape);
  const need = count * DTYPES[dtype].bytes;
  if (size !== need) throw new FormatError(`${where} (${dtype} [${shape.join(', ')}]) has ${size} bytes, its shape needs ${need}`, { file });
  return new Tensor(dtype, shape, viewAs(dtype, bytes, count));
}

/** String tensors: a varint length per element, a masked CRC of the lengths, then the bytes. */
function stringTensor(bytes: Uint8Array, shape: number[], where: string, file: string): Tensor {
  const n = shapeSize(shape);
  if (n > bytes.length) throw new FormatError(`${where} claims ${n} strings in ${bytes.length} bytes`, { file });
  const lens: number[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= bytes.length || shift > 49) throw new FormatError(`${where}: bad string length`, { file });
      const b = bytes[pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    lens.push(v);
  }
  pos += 4;
  const out: string[] = [];
  for (const len of lens) {
    if (pos + len > bytes.length) throw new FormatError(`${where}: strings run past the tensor's bytes`, { file });
    out.push(utf8.decode(bytes.subarray(pos, pos + len)));
    pos += len;
  }
  return new Tensor('string', shape, out);
}

// ---- partitioned tensors ----

/** OrderedCode's increasing encoding of a non-negative number: a length byte, then big-endian bytes. */
function numIncreasing(v: number): number[] {
  const bytes: number[] = [];
  let x = BigInt(v);
  while (x > 0n) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return [bytes.length, ...bytes];
}

/** OrderedCode's signed increasing encoding (the slice keys' starts and lengths). */
function signedNumIncreasing(v: number): number[] {
  const x = v < 0 ? -v - 1 : v;
  if (x < 64) return [(0x80 ^ v) & 0xff];
  let len = 2;
  while (len < 10 && x >= 2 ** (7 * len - 1)) len++;
  const HEADER: [number, number][] = [[0, 0], [0x80, 0], [0xc0, 0], [0xe0, 0], [0xf0, 0], [0xf8, 0], [0xfc, 0], [0xfe, 0], [0xff, 0], [0xff, 0x80], [0xff, 0xc0]];
  const buf = new Array<number>(10).fill(v < 0 ? 0xff : 0);
  let b = BigInt.asUintN(64, BigInt(v));
  for (let i = 9; i >= 2; i--) {
    buf[i] = Number(b & 0xffn);
    b >>= 8n;
  }
  const out = buf.slice(10 - len);
  out[0] = out[0]! ^ HEADER[len]![0];
  out[1] = out[1]! ^ HEADER[len]![1];
  return out;
}

/** OrderedCode string: 0x00 -> 00 ff, 0xff -> ff 00, terminated by 00 01. */
function orderedString(s: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of s) {
    if (b === 0) out.push(0, 0xff);
    else if (b === 0xff) out.push(0xff, 0);
    else out.push(b);
  }
  out.push(0, 1);
  return out;
}

/** The table key of one slice of a partitioned tensor (checkpoint::EncodeTensorNameSlice). */
export function sliceKey(name: string, extents: { start: number; length: number }[]): string {
  const bytes = [0, ...orderedString(new TextEncoder().encode(name)), ...numIncreasing(extents.length)];
  for (const e of extents) bytes.push(...signedNumIncreasing(e.start), ...signedNumIncreasing(e.length));
  return latin1.decode(new Uint8Array(bytes));
}

/**
 * A partitioned tensor from its slices. Every slice is read (its bytes checked against its data
 * shard) before the full tensor is allocated, and the slices must tile it: their element counts
 * add up to its own and no two overlap.
 */
async function reassemble(bundle: Bundle, name: string, entry: BundleEntry, shards: (i: number) => Promise<Uint8Array>, file: string): Promise<Tensor> {
  const where = `checkpoint tensor '${name}'`;
  const dtype = tfDType(entry.dtype, where, file);
  if (dtype === 'string') throw new UnsupportedError('partitioned string tensors', `${where} in '${file}'`);
  const shape = staticShape(entry.shape, where, file);
  const parts: { extents: { start: number; size: number }[]; bytes: Uint8Array }[] = [];
  let sum = 0;
  for (const s of entry.slices ?? []) {
    if ((s.extent?.length ?? 0) > shape.length) throw new FormatError(`${where} [${shape.join(', ')}]: a slice of rank ${s.extent!.length}`, { file });
    const extents = shape.map((d, i) => {
      const e = s.extent?.[i];
      const start = int64ToNumber(e?.start as Int64);
      const hasLength = e?.has_length === 'length';
      const length = hasLength ? int64ToNumber(e!.length as Int64) : -1;
      return { start, length, size: length < 0 ? d - start : length };
    });
    const text = `[${extents.map((e) => `${e.start}:+${e.size}`).join(', ')}]`;
    for (let i = 0; i < shape.length; i++) {
      if (extents[i]!.start < 0 || extents[i]!.size < 0 || extents[i]!.start + extents[i]!.size > shape[i]!) {
        throw new FormatError(`${where} [${shape.join(', ')}]: slice ${text} exceeds the tensor's shape`, { file });
      }
    }
    const sliceEntry = bundle.sliceEntries.get(sliceKey(name, extents));
    if (!sliceEntry) throw new FormatError(`${where}: slice ${text} is missing from the index`, { file });
    const part = await entryTensor(sliceEntry, dtype, extents.map((e) => e.size), `${where} slice ${text}`, shards, file);
    parts.push({ extents, bytes: part.bytes() });
    sum += part.size;
  }
  const count = shapeSize(shape);
  if (sum !== count) throw new FormatError(`${where} [${shape.join(', ')}]: its ${parts.length} slices hold ${sum} of its ${count} elements`, { file });
  const full = Tensor.zeros(dtype, shape);
  const out = full.bytes();
  const covered = new Uint8Array(count);
  const esize = DTYPES[dtype].bytes;
  const fullStrides = stridesOf(shape);
  for (const { extents, bytes: pb } of parts) {
    const sshape = extents.map((e) => e.size);
    const rows = shapeSize(sshape.slice(0, -1));
    const rowLen = sshape[sshape.length - 1] ?? 1;
    const sStrides = stridesOf(sshape.slice(0, -1));
    for (let r = 0; r < rows && rowLen; r++) {
      let at = 0;
      for (let d = 0; d < sshape.length - 1; d++) at += (extents[d]!.start + (Math.floor(r / sStrides[d]!) % sshape[d]!)) * fullStrides[d]!;
      if (shape.length) at += extents[shape.length - 1]!.start;
      for (let j = 0; j < rowLen; j++) {
        if (covered[at + j]) throw new FormatError(`${where} [${shape.join(', ')}]: two of its slices overlap`, { file });
        covered[at + j] = 1;
      }
      out.set(pb.subarray(r * rowLen * esize, (r + 1) * rowLen * esize), at * esize);
    }
  }
  return full;
}
