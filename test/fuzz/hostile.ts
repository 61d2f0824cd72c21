// Generators of hostile-but-well-formed files for the fuzzer and the bomb tests: every byte is
// made here, from a small description (no hand-made binaries). Each file is valid for its
// format; what makes it hostile is what it claims (views that expand, entries that inflate,
// ranks and counts far beyond any real model, ops whose output size comes from data).
import { crc32, deflateRawSync, constants as zc } from 'node:zlib';
import { Builder } from 'flatbuffers';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { Buffer as TfliteBuffer, Model, SubGraph, Tensor as TfliteTensor, TensorType } from '../../src/formats/generated/tflite.js';
import { emptyGraph, type Node } from '../../src/ir/graph.js';
import type { Tensor } from '../../src/ir/tensor.js';

const ascii = new TextEncoder();

// ---- pickles (protocol 2) ----

/** A Python value as the pickle writer takes it. */
export type Py =
  | null
  | boolean
  | number
  | bigint
  | string
  | { tuple: Py[] }
  | { global: [string, string] }
  | { call: Py; args: Py[] }
  | { persid: Py }
  | { dict: [Py, Py][]; ordered?: boolean };

export function pickle(value: Py): Uint8Array {
  const out: number[] = [0x80, 2];
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const put = (v: Py): void => {
    if (v === null) out.push(0x4e);
    else if (v === true) out.push(0x88);
    else if (v === false) out.push(0x89);
    else if (typeof v === 'number' || typeof v === 'bigint') {
      const b = BigInt(v);
      if (b >= 0n && b < 256n) out.push(0x4b, Number(b));
      else if (b >= -(2n ** 31n) && b < 2n ** 31n) {
        out.push(0x4a);
        u32(Number(BigInt.asUintN(32, b)));
      } else {
        // LONG1: little-endian two's complement
        const bytes: number[] = [];
        let x = b;
        do {
          bytes.push(Number(BigInt.asUintN(8, x)));
          x >>= 8n;
        } while (!(x === 0n && bytes[bytes.length - 1]! < 0x80) && !(x === -1n && bytes[bytes.length - 1]! >= 0x80));
        out.push(0x8a, bytes.length, ...bytes);
      }
    } else if (typeof v === 'string') {
      const s = ascii.encode(v);
      out.push(0x58);
      u32(s.length);
      out.push(...s);
    } else if ('tuple' in v) {
      out.push(0x28);
      v.tuple.forEach(put);
      out.push(0x74);
    } else if ('global' in v) out.push(0x63, ...ascii.encode(`${v.global[0]}\n${v.global[1]}\n`));
    else if ('call' in v) {
      put(v.call);
      put({ tuple: v.args });
      out.push(0x52);
    } else if ('persid' in v) {
      put(v.persid);
      out.push(0x51);
    } else {
      if (v.ordered) put({ call: { global: ['collections', 'OrderedDict'] }, args: [] });
      else out.push(0x7d);
      if (v.dict.length) {
        out.push(0x28);
        for (const [k, x] of v.dict) {
          put(k);
          put(x);
        }
        out.push(0x75);
      }
    }
  };
  put(value);
  out.push(0x2e);
  return Uint8Array.from(out);
}

// ---- PyTorch checkpoints ----

/** One tensor of a state dict: a window (offset, shape, stride) onto a storage. */
export interface TorchView {
  name: string;
  storage: string;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A float32 storage: its key and element count (its bytes are zeros unless given). */
export interface TorchStorage {
  key: string;
  numel: number;
  data?: Uint8Array;
}

function torchStatePickle(views: readonly TorchView[], storages: readonly TorchStorage[], legacy: boolean): Uint8Array {
  const numel = new Map(storages.map((s) => [s.key, s.numel]));
  const tensor = (v: TorchView): Py => ({
    call: { global: ['torch._utils', '_rebuild_tensor_v2'] },
    args: [
      { persid: { tuple: ['storage', { global: ['torch', 'FloatStorage'] }, v.storage, 'cpu', numel.get(v.storage) ?? 0, ...(legacy ? [null] : [])] } },
      v.offset,
      { tuple: v.shape },
      { tuple: v.stride },
      false,
      { dict: [], ordered: true },
    ],
  });
  return pickle({ dict: views.map((v) => [v.name, tensor(v)]), ordered: true });
}

/** A zip-format .pth (torch >= 1.6): data.pkl and one entry per storage, stored or deflated. */
export function torchZip(views: readonly TorchView[], storages: readonly TorchStorage[], options: { deflate?: boolean } = {}): Uint8Array {
  const entries: RawZipEntry[] = [
    storedEntry('archive/data.pkl', torchStatePickle(views, storages, false)),
    storedEntry('archive/version', ascii.encode('3\n')),
    ...storages.map((s) => {
      const data = s.data ?? new Uint8Array(s.numel * 4);
      return options.deflate ? honestDeflate(`archive/data/${s.key}`, data.subarray(0, Math.min(data.length, 64)), data.length) : storedEntry(`archive/data/${s.key}`, data);
    }),
  ];
  return rawZip(entries);
}

/** A legacy .pth (torch < 1.6): magic, protocol and sys-info pickles, the state, the storage keys, each storage's count and bytes. */
export function torchLegacy(views: readonly TorchView[], storages: readonly TorchStorage[]): Uint8Array {
  // the storage key list is a list: EMPTY_LIST, MARK, the keys, APPENDS
  const keys: number[] = [0x80, 2, 0x5d, 0x28];
  for (const s of storages) {
    const k = ascii.encode(s.key);
    keys.push(0x58, k.length, 0, 0, 0, ...k);
  }
  keys.push(0x65, 0x2e);
  const parts: Uint8Array[] = [
    pickle(0x1950a86a20f9469cfc6cn),
    pickle(1001),
    pickle({ dict: [['protocol_version', 1001], ['little_endian', true], ['type_sizes', { dict: [['short', 2], ['int', 4], ['long', 4]] }]] }),
    torchStatePickle(views, storages, true),
    Uint8Array.from(keys),
  ];
  for (const s of storages) {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(s.numel), true);
    parts.push(n, s.data ?? new Uint8Array(s.numel * 4));
  }
  return concat(parts);
}

// ---- zip archives with honestly deflated entries ----

export interface RawZipEntry {
  name: string;
  method: 0 | 8;
  /** the entry's bytes as stored in the archive (compressed when method is 8) */
  payload: Uint8Array;
  size: number;
  crc: number;
}

export function storedEntry(name: string, data: Uint8Array): RawZipEntry {
  return { name, method: 0, payload: data, size: data.length, crc: crc32(data) >>> 0 };
}

const ZERO_CHUNK = 1 << 20;
let zeroChunk: Uint8Array | undefined;

/**
 * CRC-32 after `chunks` more MiB of zeros: crc32(zeros, c) is affine in c over GF(2), so the
 * map for one MiB (probed on 33 inputs) is raised to the power `chunks` by squaring; a
 * gigabyte of zeros is never hashed.
 */
type Affine = { m: Uint32Array; k: number };
let oneMiB: Affine | undefined;
const applyLinear = (m: Uint32Array, v: number): number => {
  let r = 0;
  for (let i = 0; v; i++, v >>>= 1) if (v & 1) r ^= m[i]!;
  return r >>> 0;
};
const compose = (a: Affine, b: Affine): Affine => ({ m: b.m.map((col) => applyLinear(a.m, col)), k: (applyLinear(a.m, b.k) ^ a.k) >>> 0 });
function crcAfterZeros(crc: number, chunks: number): number {
  if (!oneMiB) {
    const z = new Uint8Array(ZERO_CHUNK);
    const k = crc32(z, 0) >>> 0;
    oneMiB = { m: Uint32Array.from({ length: 32 }, (_, i) => (crc32(z, 2 ** i) ^ k) >>> 0), k };
  }
  let result: Affine = { m: Uint32Array.from({ length: 32 }, (_, i) => 2 ** i), k: 0 };
  let base = oneMiB;
  for (let n = chunks; n > 0; n = Math.floor(n / 2)) {
    if (n % 2) result = compose(base, result);
    base = compose(base, base);
  }
  return (applyLinear(result.m, crc) ^ result.k) >>> 0;
}

/**
 * An entry of `size` bytes, `prefix` then zeros, deflated honestly: the zeros are one deflated
 * 1 MiB chunk (full flush, so the chunks concatenate) repeated, at the ratio real deflate
 * reaches (~1000:1). Nothing of `size` bytes is ever built here.
 */
export function honestDeflate(name: string, prefix: Uint8Array, size: number): RawZipEntry {
  const defl = (b: Uint8Array) => new Uint8Array(deflateRawSync(b, { level: 9, finishFlush: zc.Z_FULL_FLUSH }));
  zeroChunk ??= defl(new Uint8Array(ZERO_CHUNK));
  const rest = size - prefix.length;
  const whole = Math.floor(rest / ZERO_CHUNK);
  const tail = new Uint8Array(rest - whole * ZERO_CHUNK);
  const parts: Uint8Array[] = [defl(prefix)];
  for (let i = 0; i < whole; i++) parts.push(zeroChunk);
  if (tail.length) parts.push(defl(tail));
  parts.push(Uint8Array.of(0x03, 0x00)); // a final empty fixed-Huffman block
  const crc = crc32(tail, crcAfterZeros(crc32(prefix) >>> 0, whole)) >>> 0;
  return { name, method: 8, payload: concat(parts), size, crc };
}

/** A plain zip (no zip64) of the entries as given. */
export function rawZip(entries: readonly RawZipEntry[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = ascii.encode(e.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(e.method, 8);
    h.writeUInt32LE(e.crc, 14);
    h.writeUInt32LE(e.payload.length, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.method, 10);
    c.writeUInt32LE(e.crc, 16);
    c.writeUInt32LE(e.payload.length, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(h, name, e.payload);
    central.push(c, name);
    offset += 30 + name.length + e.payload.length;
  }
  const cd = concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return concat([...locals, cd, end]);
}

/** An .npz whose one array `w.npy` is `size` bytes of float32 zeros, honestly deflated. */
export function deflatedNpz(elements: number): Uint8Array {
  const header = npyHeader('<f4', [elements]);
  return rawZip([honestDeflate('w.npy', header, header.length + elements * 4)]);
}

// ---- NumPy and safetensors headers ----

/** A version-1/2 .npy header (padded to 64 bytes) for a C-order array. */
export function npyHeader(descr: string, shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const v2 = dict.length + 12 > 65535;
  const pre = v2 ? 12 : 10;
  const padded = dict.padEnd(Math.ceil((pre + dict.length + 1) / 64) * 64 - pre - 1) + '\n';
  const out = new Uint8Array(pre + padded.length);
  out.set([0x93, ...ascii.encode('NUMPY'), v2 ? 2 : 1, 0]);
  const dv = new DataView(out.buffer);
  if (v2) dv.setUint32(8, padded.length, true);
  else dv.setUint16(8, padded.length, true);
  out.set(ascii.encode(padded), pre);
  return out;
}

/** An .npy with the given shape's header and `dataBytes` bytes of data after it. */
export function npyWithShape(shape: readonly number[], dataBytes = 0): Uint8Array {
  return concat([npyHeader('<f4', shape), new Uint8Array(dataBytes)]);
}

/** A safetensors file from header entries as given (name -> dtype, shape, offsets) and `data` bytes. */
export function safetensorsRaw(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const text = ascii.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

// ---- ONNX ----

/** A one-node model: x [1] is fed; the node's other inputs are initializers. */
export function onnxOpModel(name: string, node: Omit<Node, 'name' | 'domain' | 'outputs' | 'attrs'> & { attrs?: Node['attrs'] }, inits: Record<string, Tensor>): Uint8Array {
  const g = emptyGraph(name);
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.outputs.push({ name: 'y', dtype: 'float32' });
  for (const [k, t] of Object.entries(inits)) g.initializers.set(k, t);
  g.nodes.push({ name, domain: '', outputs: ['y'], attrs: {}, ...node });
  return writeOnnx(g);
}

export function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const lenField = (tag: number, payload: Uint8Array) => concat([Uint8Array.of(tag), varint(payload.length), payload]);

/** A small valid model (x -> x) with `graphFields` (raw GraphProto fields) appended to its graph. */
export function onnxWithGraphFields(graphFields: Uint8Array): Uint8Array {
  const g = emptyGraph('hostile');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.outputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  // a second GraphProto field 7 merges into the first (protobuf semantics)
  return concat([writeOnnx(g), lenField(0x3a, graphFields)]);
}

/** Graph fields: one float initializer 'w' whose dims list has `rank` ones (packed). */
export function onnxRankInitializer(rank: number): Uint8Array {
  const tensor = concat([lenField(0x0a, new Uint8Array(rank).fill(1)), Uint8Array.of(0x10, 0x01, 0x42, 0x01, 0x77)]);
  return lenField(0x2a, tensor);
}

/** Graph fields: a value_info 'v' whose tensor type has a shape of `rank` dims of 1. */
export function onnxRankValueInfo(rank: number): Uint8Array {
  const dims = new Uint8Array(4 * rank);
  for (let i = 0; i < rank; i++) dims.set([0x0a, 0x02, 0x08, 0x01], 4 * i);
  const tensorType = concat([Uint8Array.of(0x08, 0x01), lenField(0x12, dims)]);
  return lenField(0x6a, concat([Uint8Array.of(0x0a, 0x01, 0x76), lenField(0x12, lenField(0x0a, tensorType))]));
}

/** Graph fields: `count` copies of an empty sub-message in graph field `tag` (0x0a node, 0x2a initializer, 0x6a value_info). */
export function onnxManyEmpty(tag: number, count: number): Uint8Array {
  const out = new Uint8Array(2 * count);
  for (let i = 0; i < count; i++) out[2 * i] = tag;
  return out;
}

// ---- TFLite ----

/** A TFLite model with `count` float32 tensors of `shape`, one input and output (tensor 0), no operators. */
export function tfliteTensors(count: number, shape: readonly number[]): Uint8Array {
  const b = new Builder(1024);
  const tensors: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = b.createString(`t${i}`);
    const s = TfliteTensor.createShapeVector(b, shape as number[]);
    TfliteTensor.startTensor(b);
    TfliteTensor.addShape(b, s);
    TfliteTensor.addType(b, TensorType.FLOAT32);
    TfliteTensor.addBuffer(b, 0);
    TfliteTensor.addName(b, name);
    tensors.push(TfliteTensor.endTensor(b));
  }
  const tv = SubGraph.createTensorsVector(b, tensors);
  const io = SubGraph.createInputsVector(b, [0]);
  const oo = SubGraph.createOutputsVector(b, [0]);
  const ops = SubGraph.createOperatorsVector(b, []);
  SubGraph.startSubGraph(b);
  SubGraph.addTensors(b, tv);
  SubGraph.addInputs(b, io);
  SubGraph.addOutputs(b, oo);
  SubGraph.addOperators(b, ops);
  const sg = SubGraph.endSubGraph(b);
  TfliteBuffer.startBuffer(b);
  const buf0 = TfliteBuffer.endBuffer(b);
  const subgraphs = Model.createSubgraphsVector(b, [sg]);
  const buffers = Model.createBuffersVector(b, [buf0]);
  const codes = Model.createOperatorCodesVector(b, []);
  const desc = b.createString('hostile');
  Model.startModel(b);
  Model.addVersion(b, 3);
  Model.addOperatorCodes(b, codes);
  Model.addSubgraphs(b, subgraphs);
  Model.addDescription(b, desc);
  Model.addBuffers(b, buffers);
  Model.finishModelBuffer(b, Model.endModel(b));
  return b.asUint8Array().slice();
}

// ----

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export { writeNpy };
