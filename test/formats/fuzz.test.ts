// Deterministic mutation fuzzing of every reader reachable through readModel (and of
// readTensorProto): bit flips, byte runs, inserts, deletes, truncations, duplicated chunks, and
// targeted mutations of the varints, pickle opcodes, zip fields and JSON/.npy headers that carry
// sizes. Every case must either read, or fail with an NnportError that names the file; nothing
// may crash with a TypeError/RangeError/library error, hang, or allocate what the file claims.
//
// A failure names the target, the case number and the mutation; `replay(target, index)` below
// rebuilds exactly those bytes (every case draws from its own rng(seed)).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFile } from '../../src/index.js';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NnportError, FormatError, Tensor, type LoadedModel } from '../../src/index.js';
import { isReaderBug, readModel } from '../../src/formats/registry.js';
import { onnx } from '../../src/formats/generated/onnx.js';
import { readTensorProto } from '../../src/formats/onnx/read.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { writeNpy, writeNpz } from '../../src/formats/numpy/index.js';
import { writeSafetensors } from '../../src/formats/safetensors/index.js';
import { writeKerasH5, writeKerasV3 } from '../../src/formats/keras/index.js';
import { writeZip, ZipReader } from '../../src/io/zip.js';
import { planGraph } from '../../src/runtime/executor.js';
import { rng } from '../support/rng.js';
import { resetResourceLimits, setResourceLimits } from '../../src/ir/budget.js';
import { runGraph } from '../../src/runtime/executor.js';
import { loadModelFiles } from '../../src/index.js';
import {
  deflatedNpz,
  honestDeflate,
  npyWithShape,
  onnxManyEmpty,
  onnxOpModel,
  onnxRankInitializer,
  onnxRankValueInfo,
  onnxWithGraphFields,
  rawZip,
  safetensorsRaw,
  storedEntry,
  tfliteTensors,
  torchLegacy,
  torchZip,
  type TorchView,
} from '../fuzz/hostile.js';
import { h5Ready, kerasH5, type H5Dtype, type H5Item, type KerasH5Layer } from '../fuzz/hostile-h5.js';
import { buildBidiLstm, buildRnn, buildStepLstm } from './tflite/rnn-model.js';
import { atrous1dFile, atrousFile } from './tflite/dilated-model.js';
import { quantizedResizeFile, splitVFile, transposeConvFile } from './tflite/dynamic-model.js';
import { floatLstmFile, lstmFile } from './tflite/lstm-model.js';
import { computedPadFile, conv3dOpenFile, conv3dTransposeOpenFile, transposeConvOpenFile } from './tflite/computed-model.js';
import { Padding } from '../../src/formats/generated/tflite/padding.js';
import { gapOpFile } from './tflite/gap-op-model.js';
import { callOnceFile, growingFile, ifFile, int8File, nestedFile, whileFile } from './tflite/control-flow-model.js';
import { int8CopyChainFile, uniqueFile } from './tflite/gap2-op-model.js';
import { cumsumArray, denseLoop, kerasLstm, straightLine } from './tensorflow/tensor-list-graphs.js';
import { graphDefBytes } from './tensorflow/tf-graph-spec.js';
import { ActivationFunctionType } from '../../src/formats/generated/tflite/activation-function-type.js';

const REPO = new URL('../../', import.meta.url);
const CORPUS = new URL('../shared/corpus/', REPO);
const file = (rel: string, base = REPO) => new Uint8Array(readFileSync(new URL(rel, base)));

type Kind = 'proto' | 'pickle' | 'zip-pickle' | 'zip-npy' | 'safetensors' | 'npy' | 'flatbuffer' | 'text' | 'hdf5' | 'zip-any' | 'json';

interface Seed {
  name: string;
  bytes: Uint8Array;
}

interface Target {
  /** also the file name the reader is given: errors must name it */
  name: string;
  kind: Kind;
  seeds: Seed[];
  /** random mutations per seed */
  cases: number;
  read: (bytes: Uint8Array, fileName: string) => Promise<unknown>;
  /** external data of an ONNX seed, served through readSibling */
  sidecars?: Map<string, Uint8Array>;
}

// ---- seeds ----

const ascii = new TextEncoder();

function t32(shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor('float32', shape, Float32Array.from({ length: n }, () => r() * 2 - 1));
}

function weightTensors(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['conv.weight', t32([4, 2, 3, 3], 1)],
    ['conv.bias', t32([4], 2)],
    ['ids', Tensor.int64([3], [1, -2, 3])],
    ['mask', new Tensor('bool', [2, 2], Uint8Array.of(1, 0, 0, 1))],
    ['half', new Tensor('float16', [3], Uint16Array.of(0x3c00, 0xc000, 0x7bff))],
    ['scalar', new Tensor('float64', [], Float64Array.of(3.5))],
    ['empty', new Tensor('int32', [0, 4], new Int32Array(0))],
  ]);
}

/** An ONNX model whose initializers live in a sidecar file (model.onnx.data). */
async function externalSeed(): Promise<{ bytes: Uint8Array; sidecars: Map<string, Uint8Array> }> {
  const loaded = await readModel(file('test/fixtures/models/seg_head/model.onnx'), { fileName: 'seg_head.onnx' });
  if (loaded.kind !== 'graph') throw new Error('seg_head is not a graph');
  const sidecars = new Map<string, Uint8Array>();
  const bytes = writeOnnx(loaded.graph, { fileName: 'fuzz-external.onnx', externalDataThreshold: 64, sidecars });
  return { bytes, sidecars };
}

function tensorProtoSeeds(): Seed[] {
  const enc = (p: onnx.TensorProto.$Properties) => onnx.TensorProto.encode(p).finish();
  return [
    { name: 'maxpool input_0.pb', bytes: file('onnx/onnx-backend-maxpool2d/test_data_set_0/input_0.pb', CORPUS) },
    { name: 'int64_data', bytes: enc({ name: 'i', dims: [2, 3], data_type: 7, int64_data: [1, -2, 3, 2 ** 40, 5, 6] }) },
    { name: 'float_data', bytes: enc({ name: 'f', dims: [4], data_type: 1, float_data: [1, 2, 3, 4] }) },
    { name: 'string_data', bytes: enc({ name: 's', dims: [2], data_type: 8, string_data: [ascii.encode('ab'), ascii.encode('c')] }) },
    { name: 'raw f16', bytes: enc({ name: 'h', dims: [2, 2], data_type: 10, raw_data: new Uint8Array(8) }) },
  ];
}

function npySeeds(): Seed[] {
  const c = writeNpy(t32([3, 4], 7));
  const text = (b: Uint8Array, from: string, to: string) => {
    const s = Buffer.from(b).toString('latin1').replace(from, to);
    return new Uint8Array(Buffer.from(s, 'latin1'));
  };
  return [
    { name: 'lenet input.npy', bytes: file('examples/lenet/input.npy') },
    { name: 'q_int8_axis0_x.npy', bytes: file('test/fixtures/numpy/q_int8_axis0_x.npy') },
    { name: 'f16_to_f32.npy', bytes: file('test/fixtures/numpy/f16_to_f32.npy') },
    { name: 'fortran', bytes: text(c, "'fortran_order': False", "'fortran_order': True ") },
    { name: 'big-endian', bytes: text(c, "'<f4'", "'>f4'") },
    { name: 'int64 scalar', bytes: writeNpy(Tensor.int64([], [7])) },
  ];
}

// ---- mutations ----

interface Mutation {
  desc: string;
  bytes: Uint8Array;
}

const int = (r: () => number, n: number) => Math.floor(r() * n);
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[int(r, xs.length)]!;

function splice(b: Uint8Array, at: number, del: number, ins: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(b.length - del + ins.length);
  out.set(b.subarray(0, at), 0);
  out.set(ins, at);
  out.set(b.subarray(at + del), at + ins.length);
  return out;
}

function generic(b: Uint8Array, r: () => number): Mutation {
  const out = b.slice();
  const pos = int(r, Math.max(1, b.length));
  switch (int(r, 8)) {
    case 0: {
      const k = 1 + int(r, 8);
      const bits: number[] = [];
      for (let i = 0; i < k; i++) {
        const bit = int(r, b.length * 8);
        out[bit >> 3]! ^= 1 << (bit & 7);
        bits.push(bit);
      }
      return { desc: `flip bits ${bits.join(',')}`, bytes: out };
    }
    case 1: {
      const v = int(r, 256);
      out[pos] = v;
      return { desc: `byte ${pos} = ${v}`, bytes: out };
    }
    case 2: {
      const v = pick(r, [0x00, 0xff, 0x7f, 0x80]);
      const n = 1 + int(r, 16);
      out.fill(v, pos, pos + n);
      return { desc: `fill ${n} x 0x${v.toString(16)} at ${pos}`, bytes: out };
    }
    case 3: {
      const n = 1 + int(r, 64);
      const ins = Uint8Array.from({ length: n }, () => int(r, 256));
      return { desc: `insert ${n} random bytes at ${pos}`, bytes: splice(b, pos, 0, ins) };
    }
    case 4: {
      const n = 1 + int(r, 64);
      return { desc: `delete ${n} bytes at ${pos}`, bytes: splice(b, pos, Math.min(n, b.length - pos)) };
    }
    case 5: {
      const from = int(r, b.length);
      const n = 1 + int(r, 128);
      const chunk = b.slice(from, from + n);
      return { desc: `duplicate ${chunk.length} bytes from ${from} at ${pos}`, bytes: splice(b, pos, 0, chunk) };
    }
    case 6: {
      const at = int(r, b.length);
      return { desc: `truncate at ${at}`, bytes: b.slice(0, at) };
    }
    default: {
      const from = int(r, b.length);
      const n = 1 + int(r, 32);
      out.copyWithin(pos, from, from + n);
      return { desc: `copy ${n} bytes from ${from} over ${pos}`, bytes: out };
    }
  }
}

// -- protobuf: every varint (tags, lengths, values) of the message tree --

interface Varint {
  pos: number;
  len: number;
  role: 'tag' | 'length' | 'value';
}

function readVarint(b: Uint8Array, pos: number, end: number): [bigint, number] | undefined {
  let v = 0n;
  for (let i = 0; i < 10 && pos + i < end; i++) {
    v |= BigInt(b[pos + i]! & 0x7f) << BigInt(7 * i);
    if (b[pos + i]! < 0x80) return [v, i + 1];
  }
  return undefined;
}

/** The varints of a message (recursing into LEN payloads that parse as messages). */
function protoVarints(b: Uint8Array, start = 0, end = b.length, depth = 0, out: Varint[] = []): Varint[] | undefined {
  const found: Varint[] = [];
  let p = start;
  while (p < end) {
    const tag = readVarint(b, p, end);
    if (!tag || tag[0] >> 3n === 0n) return undefined;
    found.push({ pos: p, len: tag[1], role: 'tag' });
    p += tag[1];
    const wire = Number(tag[0] & 7n);
    if (wire === 0) {
      const v = readVarint(b, p, end);
      if (!v) return undefined;
      found.push({ pos: p, len: v[1], role: 'value' });
      p += v[1];
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const n = readVarint(b, p, end);
      if (!n || p + n[1] + Number(n[0]) > end) return undefined;
      found.push({ pos: p, len: n[1], role: 'length' });
      p += n[1];
      const q = p + Number(n[0]);
      if (depth < 12 && q > p) {
        const inner = protoVarints(b, p, q, depth + 1, []);
        if (inner) found.push(...inner);
        else {
          // packed repeated varints (dims, int64_data): each one is a value
          let k = p;
          while (k < q) {
            const v = readVarint(b, k, q);
            if (!v) break;
            found.push({ pos: k, len: v[1], role: 'value' });
            k += v[1];
          }
        }
      }
      p = q;
    } else return undefined;
    if (p > end) return undefined;
  }
  out.push(...found);
  return out;
}

function encodeVarint(v: bigint): Uint8Array {
  let u = BigInt.asUintN(64, v);
  const bytes: number[] = [];
  do {
    const low = Number(u & 0x7fn);
    u >>= 7n;
    bytes.push(u ? low | 0x80 : low);
  } while (u);
  return Uint8Array.from(bytes);
}

const HUGE: readonly bigint[] = [2n ** 31n, 2n ** 31n - 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n, -1n, -(2n ** 31n), 0n, 1n];

const varintCache = new WeakMap<Uint8Array, Varint[]>();
function protoMutation(b: Uint8Array, r: () => number): Mutation {
  let vs = varintCache.get(b);
  if (!vs) varintCache.set(b, (vs = protoVarints(b) ?? []));
  if (!vs.length) return generic(b, r);
  // lengths and values are the interesting ones; tags get a share too
  const v = r() < 0.85 ? pick(r, vs.filter((x) => x.role !== 'tag').length ? vs.filter((x) => x.role !== 'tag') : vs) : pick(r, vs);
  const old = readVarint(b, v.pos, b.length)![0];
  const choice = r() < 0.8 ? pick(r, HUGE) : old + BigInt(pick(r, [-2, -1, 1, 2, 1000]));
  return { desc: `${v.role} varint at ${v.pos} (${old}) = ${choice}`, bytes: splice(b, v.pos, v.len, encodeVarint(choice)) };
}

// -- pickle: the opcodes that carry lengths, ints, memo indices --

const U32_OPS = new Set([0x58, 0x42, 0x72, 0x6a, 0x54, 0x8b, 0x4a]); // X B r j T LONG4 J
const U8_OPS = new Set([0x8c, 0x43, 0x55, 0x71, 0x68, 0x8a, 0x4b]); // SHORT_BINUNICODE C U q h LONG1 K
const U64_OPS = new Set([0x95, 0x8d, 0x8e, 0x96]); // FRAME BINUNICODE8 BINBYTES8 BYTEARRAY8
const U32_HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0x40000000, 0x10000000, 0];

/** Names that look up inherited properties of a plain object, and names the readers act on. */
const WORDS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'storage', 'FloatStorage', 'UntypedStorage', 'torch', 'float32', 'bool', '_rebuild_tensor_v2', 'OrderedDict', 'collections', '', 'x'.repeat(300)];

const printable = (b: Uint8Array, from: number, to: number) => {
  for (let i = from; i < to; i++) if (b[i]! < 0x20 || b[i]! > 0x7e) return false;
  return to > from;
};

/** Replace a pickled short string (SHORT_BINUNICODE) or a text line (GLOBAL's module/name) with a dictionary word. */
function pickleWordMutation(b: Uint8Array, r: () => number): Mutation | undefined {
  const sites: [number, number, 'short' | 'line'][] = [];
  for (let i = 0; i + 2 < b.length; i++) {
    if (b[i] === 0x8c && printable(b, i + 2, i + 2 + b[i + 1]!) && i + 2 + b[i + 1]! <= b.length) sites.push([i, b[i + 1]!, 'short']);
    if (b[i] === 0x63) {
      const e = b.indexOf(0x0a, i + 1);
      const e2 = e < 0 ? -1 : b.indexOf(0x0a, e + 1);
      if (e2 > 0 && e2 - i < 200 && printable(b, i + 1, e) && printable(b, e + 1, e2)) sites.push([e + 1, e2 - e - 1, 'line']);
    }
  }
  if (!sites.length) return undefined;
  const [at, len, how] = pick(r, sites);
  const word = pick(r, WORDS);
  const w = ascii.encode(word);
  if (how === 'short') return { desc: `pickle string at ${at} -> '${word.slice(0, 20)}'`, bytes: splice(b, at, 2 + len, Uint8Array.of(0x8c, w.length, ...w)) };
  return { desc: `pickle GLOBAL name at ${at} -> '${word.slice(0, 20)}'`, bytes: splice(b, at, len, w) };
}

function pickleMutation(b: Uint8Array, r: () => number, start = 0, end = b.length): Mutation {
  if (r() < 0.3) {
    const m = pickleWordMutation(b, r);
    if (m) return m;
  }
  const at: number[] = [];
  for (let i = start; i < end; i++) if (U32_OPS.has(b[i]!) || U8_OPS.has(b[i]!) || U64_OPS.has(b[i]!) || b[i] === 0x4d) at.push(i);
  if (!at.length) return generic(b, r);
  const i = pick(r, at);
  const op = b[i]!;
  const out = b.slice();
  const dv = new DataView(out.buffer);
  if (op === 0x4b && r() < 0.5) {
    // BININT1 -> BININT with a huge (or negative) value: shapes, strides, numel, offsets
    const v = pick(r, U32_HUGE);
    const ins = new Uint8Array(5);
    ins[0] = 0x4a;
    new DataView(ins.buffer).setUint32(1, v, true);
    return { desc: `pickle BININT1 at ${i} -> BININT ${v | 0}`, bytes: splice(b, i, 2, ins) };
  }
  if (U32_OPS.has(op) && i + 5 <= out.length) {
    const v = pick(r, U32_HUGE);
    dv.setUint32(i + 1, v, true);
    return { desc: `pickle op 0x${op.toString(16)} at ${i}: u32 = ${v}`, bytes: out };
  }
  if (U64_OPS.has(op) && i + 9 <= out.length) {
    const v = pick(r, [2n ** 64n - 1n, 2n ** 53n, 2n ** 31n, BigInt(b.length)]);
    dv.setBigUint64(i + 1, v, true);
    return { desc: `pickle op 0x${op.toString(16)} at ${i}: u64 = ${v}`, bytes: out };
  }
  if (op === 0x4d && i + 3 <= out.length) {
    dv.setUint16(i + 1, 0xffff, true);
    return { desc: `pickle BININT2 at ${i} = 65535`, bytes: out };
  }
  if (i + 2 <= out.length) {
    const v = pick(r, [0xff, 0x80, 0x7f, 0]);
    out[i + 1] = v;
    return { desc: `pickle op 0x${op.toString(16)} at ${i}: u8 = ${v}`, bytes: out };
  }
  return generic(b, r);
}

// -- zip: size, offset, count, name/extra length and method fields of every record --

const ZIP_FIELDS: Record<number, [number, 2 | 4][]> = {
  0x04034b50: [[8, 2], [18, 4], [22, 4], [26, 2], [28, 2]], // local: method, csize, size, name len, extra len
  0x02014b50: [[10, 2], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [42, 4]], // central
  0x06054b50: [[8, 2], [10, 2], [12, 4], [16, 4], [20, 2]], // EOCD
  0x06064b50: [[24, 4], [32, 4], [40, 4], [48, 4]], // zip64 EOCD (low halves)
  0x07064b50: [[8, 4]], // zip64 locator
};

function zipMutation(b: Uint8Array, r: () => number): Mutation {
  const dv0 = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const recs: [number, number][] = [];
  for (let i = 0; i + 4 <= b.length; i++) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b) {
      const sig = dv0.getUint32(i, true);
      if (ZIP_FIELDS[sig]) recs.push([i, sig]);
    }
  }
  if (!recs.length) return generic(b, r);
  const [at, sig] = pick(r, recs);
  const [off, width] = pick(r, ZIP_FIELDS[sig]!);
  const p = at + off;
  if (p + width > b.length) return generic(b, r);
  const out = b.slice();
  const dv = new DataView(out.buffer);
  let v: number;
  if (width === 2) {
    v = off === 8 || off === 10 ? pick(r, [8, 0, 12, 99]) : pick(r, [0xffff, 0x8000, 0, 1, dv.getUint16(p, true) + 1]);
    if ((sig === 0x04034b50 && off === 8) || (sig === 0x02014b50 && off === 10)) v = pick(r, [0, 8, 12, 0xffff]);
    dv.setUint16(p, v & 0xffff, true);
  } else {
    v = pick(r, [0xffffffff, 0x7fffffff, 0x80000000, 0x3fffffff, 0, b.length, b.length + 1, dv.getUint32(p, true) + 1, dv.getUint32(p, true) - 1]);
    dv.setUint32(p, v >>> 0, true);
  }
  return { desc: `zip record 0x${sig.toString(16)} at ${at}: field +${off} = ${v >>> 0}`, bytes: out };
}

/** Rebuild a zip with one entry's bytes mutated (so the archive itself stays valid). */
function zipEntryMutation(b: Uint8Array, r: () => number, inner: (x: Uint8Array, r: () => number) => Mutation, want: (name: string) => boolean): Mutation {
  const zip = ZipReader.open(b, 'seed');
  const names = [...zip.entries.keys()];
  const candidates = names.filter(want);
  if (!candidates.length) return generic(b, r);
  const target = pick(r, candidates);
  const m = inner(zip.read(target), r);
  const entries = names.map((name) => ({ name, data: name === target ? m.bytes : zip.read(name) }));
  return { desc: `entry '${target}': ${m.desc}`, bytes: writeZip(entries, { align: 64 }) };
}

// -- JSON (safetensors header) and .npy header text --

const NUMBERS = ['2147483648', '4294967296', '9007199254740992', '9007199254740993', '18446744073709551616', '-1', '-9007199254740992', '1e308', '1.5', '0', '1e400', 'null', '"8"', '[]'];
const DTYPE_NAMES = ['"F32"', '"BF16"', '"F64"', '"U64"', '"BOOL"', '"XYZ"', '""', '7', 'null', '{}', '"constructor"', '"__proto__"', '"toString"'];

function replaceToken(text: string, re: RegExp, r: () => number, choices: readonly string[]): [string, string] | undefined {
  const hits = [...text.matchAll(re)];
  if (!hits.length) return undefined;
  const h = pick(r, hits);
  const to = pick(r, choices);
  return [text.slice(0, h.index) + to + text.slice(h.index! + h[0].length), `'${h[0]}' at ${h.index} -> ${to}`];
}

function safetensorsMutation(b: Uint8Array, r: () => number): Mutation {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const text = Buffer.from(b.subarray(8, 8 + n)).toString('utf8');
  const data = b.subarray(8 + n);
  const how = int(r, 4);
  if (how === 0) {
    const out = b.slice();
    const v = pick(r, [2n ** 31n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 63n, BigInt(n + 1), BigInt(n - 1), 100_000_001n, BigInt(b.length - 8)]);
    new DataView(out.buffer).setBigUint64(0, v, true);
    return { desc: `header size = ${v}`, bytes: out };
  }
  const rep =
    how === 1
      ? replaceToken(text, /-?\d+(\.\d+)?([eE][+-]?\d+)?/g, r, NUMBERS)
      : how === 2
        ? replaceToken(text, /"(F32|F64|F16|BF16|I64|I32|BOOL)"/g, r, DTYPE_NAMES)
        : replaceToken(text, /\[[^\][]*\]/g, r, ['[]', '[1]', '[0,0]', '[2147483648,2]', '"x"', '{}', '[0, 9007199254740992]', '[4294967296, 4294967296, 4294967296]']);
  if (!rep) return generic(b, r);
  const hb = ascii.encode(rep[0]);
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return { desc: `header ${rep[1]}`, bytes: out };
}

function npyMutation(b: Uint8Array, r: () => number): Mutation {
  if (b.length < 10) return generic(b, r);
  const major = b[6]!;
  const pre = major === 1 ? 10 : 12;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const how = int(r, 5);
  if (how === 0) {
    const out = b.slice();
    const odv = new DataView(out.buffer);
    if (r() < 0.5) {
      out[6] = pick(r, [0, 2, 3, 4, 255]);
      return { desc: `version byte = ${out[6]}`, bytes: out };
    }
    const v = pick(r, [0xffff, 0, hlen + 1, 0x7fffffff, 0xffffffff]);
    if (major === 1) odv.setUint16(8, v & 0xffff, true);
    else odv.setUint32(8, v >>> 0, true);
    return { desc: `header length = ${v}`, bytes: out };
  }
  const text = Buffer.from(b.subarray(pre, pre + hlen)).toString('latin1');
  const rep =
    how === 1 || how === 2
      ? replaceToken(text, /\d+/g, r, ['2147483648', '4294967296', '9007199254740993', '99999999999999999999', '0', '-1', '1L', '3.5', ''])
      : how === 3
        ? replaceToken(text, /'[<>|=][a-z]\d'/g, r, ["'>f8'", "'<c8'", "'|O'", "'<U5'", "'f4'", "'>i2'", "'|b1'", "''", "'<f4'", "'constructor'", "'<__proto__'", "'|toString'"])
        : replaceToken(text, /False|True/g, r, ['True', 'False', '1', 'None']);
  if (!rep) return generic(b, r);
  const hb = Buffer.from(rep[0], 'latin1');
  const out = new Uint8Array(pre + hb.length + (b.length - pre - hlen));
  out.set(b.subarray(0, pre));
  const odv = new DataView(out.buffer);
  if (major === 1) odv.setUint16(8, hb.length & 0xffff, true);
  else odv.setUint32(8, hb.length, true);
  out.set(hb, pre);
  out.set(b.subarray(pre + hlen), pre + hb.length);
  return { desc: `header ${rep[1]}`, bytes: out };
}

function targeted(kind: Kind, b: Uint8Array, r: () => number): Mutation {
  switch (kind) {
    case 'proto':
      return protoMutation(b, r);
    case 'pickle':
      return pickleMutation(b, r);
    case 'zip-pickle':
      return r() < 0.4 ? zipMutation(b, r) : zipEntryMutation(b, r, (x, rr) => (rr() < 0.7 ? pickleMutation(x, rr) : generic(x, rr)), (n) => n.endsWith('data.pkl') || r() < 0.2);
    case 'zip-npy':
      return r() < 0.4 ? zipMutation(b, r) : zipEntryMutation(b, r, (x, rr) => (rr() < 0.7 ? npyMutation(x, rr) : generic(x, rr)), () => true);
    case 'safetensors':
      return safetensorsMutation(b, r);
    case 'npy':
      return npyMutation(b, r);
    case 'flatbuffer':
    case 'text':
      return generic(b, r);
    case 'hdf5':
    case 'json':
      return generic(b, r);
    case 'zip-any':
      return r() < 0.4 ? zipMutation(b, r) : zipEntryMutation(b, r, generic, () => true);
  }
}

// ---- running cases ----

interface Failure {
  bytes?: Uint8Array;
  target: string;
  seed: string;
  index: number;
  desc: string;
  error: string;
}

const GIB = 1024 ** 3;
let baseline = { rss: 0, arrayBuffers: 0 };
let peak = { rss: 0, arrayBuffers: 0, at: '' };
let total = 0;

function sampleMemory(where: string): void {
  const m = process.memoryUsage();
  if (m.rss - baseline.rss > peak.rss) peak = { ...peak, rss: m.rss - baseline.rss, at: where };
  if (m.arrayBuffers - baseline.arrayBuffers > peak.arrayBuffers) peak = { ...peak, arrayBuffers: m.arrayBuffers - baseline.arrayBuffers, at: where };
}

/** Run one case; undefined when the outcome is allowed, else what went wrong. */
const stats = new Map<string, Map<string, number>>();
function count(t: Target, outcome: string): void {
  let m = stats.get(t.name);
  if (!m) stats.set(t.name, (m = new Map()));
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
}

async function runCase(t: Target, bytes: Uint8Array): Promise<string | undefined> {
  total++;
  let loaded: unknown;
  try {
    loaded = await t.read(bytes, t.name);
    const model = loaded as LoadedModel;
    // A graph that reads must also plan (cheap: attribute parsing and a topological sort).
    if (model && typeof model === 'object' && 'kind' in model && model.kind === 'graph') planGraph(model.graph);
    count(t, 'ok');
    return undefined;
  } catch (e) {
    if (!process.env.FUZZ_STATS) count(t, 'refused');
    else count(t, `${(e as Error).constructor?.name}: ${String((e as Error).message).replace(/\d+/g, 'N').slice(0, 110)}${(e as Error).message?.includes(t.name) ? '' : ' [NO FILE]'}`);
    if (!(e instanceof NnportError)) return `${e instanceof Error ? e.constructor.name : typeof e}: ${e instanceof Error ? e.message : String(e)}`;
    // readModel types what a reader let escape, for the user; here it is still a reader bug
    if (isReaderBug(e)) return `untyped in the reader: ${e.message}`;
    if (e instanceof FormatError && !e.message.includes(t.name)) return `FormatError without the file name: ${e.message}`;
    return undefined;
  }
}

function mutationFor(t: Target, seed: Seed, index: number): Mutation {
  // each case draws from its own generator: (target, seed, index) replays it exactly
  const r = rng(hash(`${t.name}|${seed.name}`) + index * 7919);
  return r() < 0.5 ? targeted(t.kind, seed.bytes, r) : generic(seed.bytes, r);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** `npm run fuzz -- --seconds N`: each target runs for its share of N seconds instead of its fixed count. */
const SECONDS = Number(process.env.NNPORT_FUZZ_SECONDS ?? 0);
/** targets share the seconds (one row per reader in targets(); keep in step with the list of names below) */
const TARGET_COUNT = 23;
/** shares of the seconds the semantic families get together (the byte-level targets get one each) */
const SEMANTIC_SHARES = 9;
const SHARES = TARGET_COUNT + SEMANTIC_SHARES;

async function fuzzTarget(t: Target): Promise<Failure[]> {
  const failures: Failure[] = [];
  const deadline = SECONDS > 0 ? Date.now() + (SECONDS * 1000) / SHARES : 0;
  const report = (seed: Seed, index: number, desc: string, error: string | undefined, bytes?: Uint8Array) => {
    if (error !== undefined) failures.push({ target: t.name, seed: seed.name, index, desc, error, bytes });
  };
  for (const seed of t.seeds) {
    // the seed itself must read
    report(seed, -1, 'unmutated seed', await runCase(t, seed.bytes));
    // truncation at every position for small files, at many random ones for big files
    const cuts = seed.bytes.length <= 2048 ? seed.bytes.length : 160;
    const rc = rng(hash(`cut|${t.name}|${seed.name}`));
    for (let i = 0; i < cuts; i++) {
      const at = seed.bytes.length <= 2048 ? i : int(rc, seed.bytes.length);
      report(seed, -2, `truncate at ${at}`, await runCase(t, seed.bytes.subarray(0, at)));
    }
    const perSeedEnd = deadline ? Date.now() + (deadline - Date.now()) / Math.max(1, t.seeds.length - t.seeds.indexOf(seed)) : 0;
    for (let i = 0; deadline ? Date.now() < perSeedEnd : i < t.cases; i++) {
      const m = mutationFor(t, seed, i);
      report(seed, i, m.desc, await runCase(t, m.bytes), m.bytes);
      sampleMemory(`${t.name} ${seed.name} #${i}: ${m.desc}`);
    }
    sampleMemory(`${t.name} ${seed.name}`);
  }
  return failures;
}

const allFailures: Failure[] = [];
const REGRESSIONS = new URL('../fuzz/regressions/', import.meta.url);

/** A failing input becomes test/fuzz/regressions/<target>--<case>.bin, read back by every later run. */
function saveRegressions(t: Target, failures: Failure[]): void {
  for (const f of failures.filter((x) => x.bytes).slice(0, 20)) {
    mkdirSync(REGRESSIONS, { recursive: true });
    writeFileSync(new URL(`${t.name}--${f.seed.replace(/[^A-Za-z0-9._-]/g, '_')}-${f.index}.bin`, REGRESSIONS), f.bytes!);
  }
}

function regressionFiles(): string[] {
  try {
    return readdirSync(REGRESSIONS).filter((f) => f.endsWith('.bin')).sort();
  } catch {
    return [];
  }
}

/** test/fuzz/REPORT.md: cases and outcomes per reader, and every failure with how to replay it. */
function writeReport(): void {
  const rows = [...stats].map(([name, m]) => {
    const n = [...m.values()].reduce((a, b) => a + b, 0);
    return `| ${name} | ${n} | ${m.get('ok') ?? 0} | ${n - (m.get('ok') ?? 0)} | ${allFailures.filter((f) => f.target === name).length} |`;
  });
  const text = [
    '# Fuzzing report',
    '',
    `Written by \`npm run fuzz -- --seconds ${SECONDS || '(fixed counts)'}\` on ${new Date().toISOString()}: ${total} cases, peak RSS growth ${(peak.rss / 2 ** 20).toFixed(0)} MiB.`,
    'Rows `fuzz*`: byte-level mutations of real files. Rows `semantic*`: hostile but well-formed files built by test/fuzz/hostile.ts (stride-0 and overlapping PyTorch views, honest deflate near and above the limit, huge ranks and counts, ONNX ops whose output size comes from data, run through the runtime; Keras .h5 files from test/fuzz/hostile-h5.ts: datasets claiming far more than they store, hostile config numbers, cyclic/deep/nested topologies, weight names through links and loops or at the wrong dtype, huge attributes), read under `--max-memory 16M`. Rows `sidecar:`: a multi-file model whose companion file, in a real temporary folder, is missing, a symlink out of the folder or to a device, a FIFO, a folder, a loop, empty, truncated or mutated.',
    'A failure is an error that is not an NnportError naming the file (or the node, at run time), an untyped error a reader let escape, a hang, or a gigabyte of memory; each becomes a regression file under test/fuzz/regressions/.',
    '',
    '| reader | cases | read | refused | failures |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    allFailures.length ? '## Failures\n\n' + allFailures.map((f) => `- ${f.target} / ${f.seed} / case ${f.index} (${f.desc}): ${f.error.slice(0, 200)}`).join('\n') : 'No failures.',
    '',
    `Regression files read back by every run (test/fuzz/regressions/): ${regressionFiles().join(', ') || 'none'}.`,
    '',
  ].join('\n');
  writeFileSync(new URL('../fuzz/REPORT.md', import.meta.url), text);
}

function describeFailures(fs: Failure[]): string {
  const lines = fs.slice(0, 12).map((f) => `  ${f.target} / ${f.seed} / case ${f.index} (${f.desc}): ${f.error.slice(0, 300)}`);
  return `${fs.length} cases failed; replay with mutationFor(target, seed, case):\n${lines.join('\n')}`;
}

// ---- targets ----

const corpusPt = (rel: string): Seed => ({ name: rel.replace(/^.*\//, ''), bytes: file(`pytorch/${rel}`, CORPUS) });
const fixturePt = (name: string): Seed => ({ name, bytes: file(`test/fixtures/pytorch/${name}`) });

async function targets(): Promise<Target[]> {
  const model = (t: Target) => t;
  const read = (sidecars?: Map<string, Uint8Array>) => (bytes: Uint8Array, fileName: string) =>
    readModel(bytes, {
      fileName,
      readSibling: async (p: string) => {
        const d = sidecars?.get(p);
        // as the real file set says it (a plain Error here would count as the reader's)
        if (!d) throw new FormatError(`missing file '${p}' referenced by the model`, { file: fileName });
        return d;
      },
    });
  const ext = await externalSeed();
  const tensors = weightTensors();
  const npzDeflated = zipSync(Object.fromEntries([...tensors].filter(([k]) => k !== 'half').map(([k, v]) => [`${k}.npy`, [writeNpy(v), { level: 6 }]])) as never);
  return [
    model({ name: 'fuzz-lenet.onnx', kind: 'proto', cases: 500, read: read(), seeds: [{ name: 'lenet', bytes: file('examples/lenet/model.onnx') }] }),
    model({ name: 'fuzz-seg-head.onnx', kind: 'proto', cases: 900, read: read(), seeds: [{ name: 'seg_head', bytes: file('test/fixtures/models/seg_head/model.onnx') }] }),
    model({ name: 'fuzz-external.onnx', kind: 'proto', cases: 500, read: read(ext.sidecars), sidecars: ext.sidecars, seeds: [{ name: 'seg_head external', bytes: ext.bytes }] }),
    model({
      name: 'fuzz-tensor.pb',
      kind: 'proto',
      cases: 250,
      read: async (bytes, fileName) => readTensorProto(bytes, fileName),
      seeds: tensorProtoSeeds(),
    }),
    model({
      name: 'fuzz-zip.pt',
      kind: 'zip-pickle',
      cases: 150,
      read: read(),
      seeds: [corpusPt('burn-conv2d-zip/conv2d.pt'), corpusPt('burn-checkpoint-nested-zip/checkpoint.pt'), corpusPt('burn-dtypes-zip/bfloat16.pt'), fixturePt('views.zip.pt'), fixturePt('nested.zip.pt'), fixturePt('dtypes.zip.pt')],
    }),
    model({ name: 'fuzz-mnist.pt', kind: 'zip-pickle', cases: 60, read: read(), seeds: [corpusPt('burn-mnist-state-dict-zip/mnist.pt')] }),
    model({
      name: 'fuzz-legacy.pt',
      kind: 'pickle',
      cases: 200,
      read: read(),
      seeds: [corpusPt('burn-legacy-state-dicts/legacy_shared_storage.pt'), corpusPt('burn-legacy-state-dicts/legacy_with_offsets.pt'), fixturePt('views.legacy.pt'), fixturePt('nested.legacy.pt'), fixturePt('dtypes.legacy.pt')],
    }),
    model({
      name: 'fuzz.safetensors',
      kind: 'safetensors',
      cases: 500,
      read: read(),
      seeds: [{ name: 'weights', bytes: writeSafetensors(tensors, { format: 'pt' }) }, { name: 'one', bytes: writeSafetensors(new Map([['w', t32([2, 3], 9)]])) }],
    }),
    model({
      name: 'fuzz.npz',
      kind: 'zip-npy',
      cases: 400,
      read: read(),
      seeds: [{ name: 'stored', bytes: writeNpz(tensors) }, { name: 'deflated', bytes: npzDeflated }],
    }),
    model({ name: 'fuzz.npy', kind: 'npy', cases: 200, read: read(), seeds: npySeeds() }),
    model({
      name: 'fuzz.tflite',
      kind: 'flatbuffer',
      cases: 450,
      read: read(),
      // with the recurrent readers: float and int8 UNIDIRECTIONAL_SEQUENCE_LSTM, int8 SVDF; and
      // hand-built float BIDIRECTIONAL_SEQUENCE_LSTM, BIDIRECTIONAL_SEQUENCE_RNN and a hybrid builtin LSTM
      // (no corpus file has them)
      seeds: [
        ...['tflm-hello-world-int8/hello_world_int8.tflite', 'tflm-micro-speech-int8/micro_speech_quantized.tflite', 'tflm-magic-wand-float/magic_wand.tflite', 'tflm-mnist-lstm-float/trained_lstm.tflite', 'tflm-mnist-lstm-int8/trained_lstm_int8.tflite', 'tflm-keyword-scrambled-int8-svdf/keyword_scrambled_8bit.tflite'].map((rel) => ({ name: rel.replace(/^.*\//, ''), bytes: file(`tflite/${rel}`, CORPUS) })),
        { name: 'bidi-lstm.tflite', bytes: buildBidiLstm({ name: '', T: 3, B: 1, I: 2, N: 3, fw: { peepholes: true }, bw: { peepholes: true }, merge: false, timeMajor: false, lstms: 1 }, 1) },
        { name: 'bidi-rnn.tflite', bytes: buildRnn({ name: '', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 3, B: 1, I: 2, N: 3, act: ActivationFunctionType.TANH, merge: true, rnns: 1 }, 1) },
        { name: 'hybrid-lstm-step.tflite', bytes: buildStepLstm({ name: '', B: 1, I: 2, N: 3, O: 2, hybrid: { asymmetric: true }, lstms: 0 }, 1) },
        // the atrous pattern the reader folds into one dilated conv (float CONV_2D, int8 DEPTHWISE_CONV_2D)
        { name: 'atrous.tflite', bytes: atrousFile({ x: [1, 9, 10, 3], out: 4, kernel: [3, 3], block: [2, 2], paddings: [2, 3, 2, 2], crops: [0, 1, 0, 0], seed: 1 }) },
        { name: 'atrous-int8.tflite', bytes: atrousFile({ x: [1, 8, 8, 4], depthwise: true, out: 1, kernel: [3, 3], block: [2, 2], paddings: [2, 2, 2, 2], crops: [0, 0, 0, 0], int8: true, seed: 2 }) },
        // dynamic dims (shape_signature -1): int8 RESIZE under a dynamic batch, SPLIT_V with -1 on a dynamic axis,
        // TRANSPOSE_CONV with output_shape from SHAPE / STRIDED_SLICE / PACK
        { name: 'resize-int8-dynamic.tflite', bytes: quantizedResizeFile('int8') },
        { name: 'split-v-dynamic.tflite', bytes: splitVFile('int8') },
        { name: 'transpose-conv-dynamic.tflite', bytes: transposeConvFile() },
        // a dilated Conv1D the reader folds (float EXPAND_DIMS / SQUEEZE under a dynamic batch; int8 with RESHAPEs)
        { name: 'atrous1d-dynamic.tflite', bytes: atrous1dFile({ x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], dynamicBatch: true, seed: 3 }) },
        { name: 'atrous1d-int8.tflite', bytes: atrous1dFile({ x: [1, 16, 4], depthwise: true, out: 1, kernel: 3, block: 2, paddings: [2, 2], crops: [0, 0], reshapes: true, int8: true, seed: 4 }) },
        // LSTMs under a dynamic batch: integer (one-row states) and float unrolled (projection)
        { name: 'lstm-int8-dynamic.tflite', bytes: lstmFile({ batch: 1, time: 3, nInput: 4, nCell: 5, nOutput: 5, dynamicBatch: true, seed: 5 }) },
        { name: 'lstm-projection-dynamic.tflite', bytes: floatLstmFile({ batch: 1, time: 3, nInput: 4, nCell: 5, nOutput: 3, dynamicBatch: true, seed: 6 }) },
        // 3-D convolutions and shapes computed at run time over open dims: CONV_3D, CONV_3D_TRANSPOSE and
        // TRANSPOSE_CONV with output_shape from SHAPE, MIRROR_PAD SYMMETRIC with paddings from SHAPE
        { name: 'conv3d-open.tflite', bytes: conv3dOpenFile() },
        { name: 'conv3d-transpose-open.tflite', bytes: conv3dTransposeOpenFile(Padding.VALID, 2) },
        { name: 'transpose-conv-open.tflite', bytes: transposeConvOpenFile(Padding.SAME) },
        // control flow: IF, WHILE (a run-time bound; a carried tensor that grows), a WHILE inside an IF, CALL_ONCE
        // initialising a resource variable (subgraphs read by index, bound to the op's inputs)
        { name: 'if.tflite', bytes: ifFile() },
        { name: 'while.tflite', bytes: whileFile() },
        { name: 'while-in-if.tflite', bytes: nestedFile() },
        { name: 'while-growing.tflite', bytes: growingFile() },
        { name: 'call-once.tflite', bytes: callOnceFile() },
        { name: 'control-flow-int8.tflite', bytes: int8File() },
        { name: 'mirror-pad-computed.tflite', bytes: computedPadFile('SYMMETRIC') },
        // the builtins the writer uses for ops TFLite has none of its own for: REVERSE_SEQUENCE, SCATTER_ND, ATAN2
        { name: 'gap-ops.tflite', bytes: gapOpFile() },
        // UNIQUE (the writer's Unique), and int8 RESHAPE / PAD copying bytes between differently quantized tensors
        { name: 'unique.tflite', bytes: uniqueFile() },
        { name: 'int8-copy-chain.tflite', bytes: int8CopyChainFile() },
      ],
    }),
    model({
      name: 'fuzz.caffemodel',
      kind: 'proto',
      cases: 300,
      read: read(),
      seeds: ['mtcnn-pnet/det1.caffemodel', 'cifar10-quick-v1format/cifar10_quick_iter_5000.caffemodel'].map((rel) => ({ name: rel.replace(/^.*\//, ''), bytes: file(`caffe/${rel}`, CORPUS) })),
    }),
    // the weights of a deploy prototxt: matched by layer name, every blob checked against the layer
    model({
      name: 'fuzz-pair.caffemodel',
      kind: 'proto',
      cases: 300,
      read: (bytes, fileName) => {
        const deploy = file('caffe/mtcnn-rnet/det2.prototxt', CORPUS);
        const given: Record<string, Uint8Array> = { 'det2.prototxt': deploy, [fileName]: bytes };
        return readModel(deploy, { fileName: 'det2.prototxt', files: { given: Object.keys(given), read: async (n) => given[n]!, list: async () => Object.keys(given) } });
      },
      seeds: [{ name: 'det2.caffemodel', bytes: file('caffe/mtcnn-rnet/det2.caffemodel', CORPUS) }],
    }),
    model({
      name: 'fuzz.prototxt',
      kind: 'text',
      cases: 400,
      read: read(),
      // MobileNet-SSD: PriorBox (priors computed by the reader) and DetectionOutput
      seeds: ['mtcnn-onet/det3.prototxt', 'cifar10-full-v1format/cifar10_full.prototxt', 'mobilenet-ssd-deploy-prototxt/MobileNetSSD_deploy.prototxt'].map((rel) => ({ name: rel.replace(/^.*\//, ''), bytes: file(`caffe/${rel}`, CORPUS) })),
    }),
    ...(await kerasTargets(read)),
    // TensorFlow: frozen GraphDefs, a tensor-bundle index with its data shard, a TF.js graph model
    model({
      name: 'fuzz-graph.pb',
      kind: 'proto',
      cases: 300,
      read: read(),
      seeds: ['utensor-conv-golden/test_conv.pb', 'tfrust-addition/model.pb', 'tensorspace-mnist-conv/frozen_model.pb'].map((rel) => ({ name: rel.replace(/^.*\//, ''), bytes: file(`tf-graphdef/${rel}`, CORPUS) })),
    }),
    // TensorLists / TensorArrays in While loops and out (tensor-lists.ts): a Keras LSTM loop, a TensorArrayV3 loop, list ops
    model({
      name: 'fuzz-tensor-lists.pb',
      kind: 'proto',
      cases: 200,
      read: read(),
      seeds: [
        { name: 'keras-lstm-loop.pb', bytes: graphDefBytes(kerasLstm(2, 5, 3, 4)) },
        { name: 'tensor-array-loop.pb', bytes: graphDefBytes(cumsumArray(6)) },
        { name: 'dense-list-loop.pb', bytes: graphDefBytes(denseLoop()) },
        { name: 'list-ops.pb', bytes: graphDefBytes(straightLine()) },
      ],
    }),
    model({
      name: 'fuzz.index',
      kind: 'proto',
      cases: 300,
      read: read(new Map([['fuzz.data-00000-of-00001', file('tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.data-00000-of-00001', CORPUS)]])),
      seeds: [{ name: 'variables.index', bytes: file('tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.index', CORPUS) }],
    }),
    // legacy V1 checkpoints: a partitioned two-shard one (its other shard beside it), unsharded
    // tables, and the SessionBundle export.meta over its V1 shard (signatures, ParseExample cut)
    model({
      name: 'fuzz-00000-of-00002',
      kind: 'proto',
      cases: 300,
      read: read(new Map([['fuzz-00001-of-00002', file('test/fixtures/tf-v1-checkpoint/part-00001-of-00002')]])),
      seeds: [{ name: 'part-00000-of-00002', bytes: file('test/fixtures/tf-v1-checkpoint/part-00000-of-00002') }],
    }),
    model({
      name: 'fuzz-v1.ckpt',
      kind: 'proto',
      cases: 200,
      read: read(),
      seeds: [
        { name: 'export-00000-of-00001', bytes: file('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export-00000-of-00001', CORPUS) },
        { name: 'model.ckpt', bytes: file('test/fixtures/tf-v1-checkpoint/model.ckpt') },
      ],
    }),
    model({
      name: 'fuzz.meta',
      kind: 'proto',
      cases: 300,
      read: read(new Map([['fuzz-00000-of-00001', file('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export-00000-of-00001', CORPUS)]])),
      seeds: [{ name: 'export.meta', bytes: file('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export.meta', CORPUS) }],
    }),
    // partitioned variables: a V2 bundle of sliced tensors, and a TF1 SavedModel whose resource
    // parts are read as slices of them (RestoreV2's shape_and_slices)
    model({
      name: 'fuzz-partitioned.index',
      kind: 'proto',
      cases: 200,
      read: read(new Map([['fuzz-partitioned.data-00000-of-00001', file('test/fixtures/tf-partitioned/v2/model.data-00000-of-00001')]])),
      seeds: [{ name: 'model.index', bytes: file('test/fixtures/tf-partitioned/v2/model.index') }],
    }),
    model({
      name: 'saved_model.pb',
      kind: 'proto',
      cases: 200,
      read: read(
        new Map([
          ['variables/variables.index', file('test/fixtures/tf-partitioned/saved_model/variables/variables.index')],
          ['variables/variables.data-00000-of-00001', file('test/fixtures/tf-partitioned/saved_model/variables/variables.data-00000-of-00001')],
        ]),
      ),
      seeds: [{ name: 'partitioned saved_model.pb', bytes: file('test/fixtures/tf-partitioned/saved_model/saved_model.pb') }],
    }),
    model({
      name: 'fuzz-graph-model.json',
      kind: 'json',
      cases: 200,
      read: read(new Map([['group1-shard1of1.bin', file('tfjs-graph/subhadip-mnist-cnn-conv318/group1-shard1of1.bin', CORPUS)]])),
      seeds: [{ name: 'model.json', bytes: file('tfjs-graph/subhadip-mnist-cnn-conv318/model.json', CORPUS) }],
    }),
  ];
}

/** Keras .h5, .keras and TF.js layers seeds: the small sepconv model as nnport writes it, and a corpus .h5. */
async function kerasTargets(read: (sidecars?: Map<string, Uint8Array>) => Target['read']): Promise<Target[]> {
  const dir = 'tfjs-layers/tfjs-layers-cnn-sepconv-golden/';
  const json = file(`${dir}model.json`, CORPUS);
  const shards = new Map([['weights.bin', file(`${dir}weights.bin`, CORPUS)]]);
  const sepconv = await readModel(json, { fileName: 'model.json', readSibling: async (p) => shards.get(p)! });
  const h5 = await writeKerasH5(sepconv);
  const v3 = await writeKerasV3(sepconv);
  const corpusH5 = file('keras-h5/tensorspace-mnist-seq-tfkeras/tf_keras_model.h5', CORPUS);
  return [
    { name: 'fuzz-keras.h5', kind: 'hdf5', cases: 150, read: read(), seeds: [{ name: 'sepconv.h5', bytes: h5 }, { name: 'tf_keras_model.h5', bytes: corpusH5 }] },
    { name: 'fuzz.keras', kind: 'zip-any', cases: 250, read: read(), seeds: [{ name: 'sepconv.keras', bytes: v3 }] },
    { name: 'fuzz-model.json', kind: 'json', cases: 400, read: read(shards), sidecars: shards, seeds: [{ name: 'sepconv model.json', bytes: json }] },
  ];
}

// ---- semantic mutations: hostile but well-formed files ----
//
// Each family builds valid files (test/fuzz/hostile.ts) whose claims straddle the budget: views
// that expand, honest deflate near and above the allowed size, ranks and counts far beyond any
// real model, ops whose output size comes from data. They run under a small --max-memory
// (SEMANTIC_BUDGET), so "near the limit" is cheap: every case must read (or run), or end in an
// NnportError naming the file or node, within SEMANTIC_SECONDS.

const SEMANTIC_BUDGET = 16 << 20;
const SEMANTIC_SECONDS = 10;

interface SemanticCase {
  desc: string;
  fileName: string;
  bytes: Uint8Array;
  /** run the graph (x: float32 [1] fed) through the runtime after reading it */
  run?: boolean;
}

interface SemanticFamily {
  name: string;
  fileName: string;
  run?: boolean;
  /** cases in CI (fixed seed) */
  cases: number;
  make: (r: () => number) => Omit<SemanticCase, 'fileName' | 'run'>;
}

/** 2^(lo..hi), log-uniform: sizes spread evenly across orders of magnitude. */
const logUniform = (r: () => number, lo: number, hi: number) => Math.max(1, Math.floor(2 ** (lo + r() * (hi - lo))));
/** Elements that make `bytesPerElement`-byte tensors land from a 16th to 16x the budget. */
const aroundBudget = (r: () => number, bytesPerElement = 4) => Math.max(1, Math.floor((SEMANTIC_BUDGET / bytesPerElement) * 2 ** (r() * 8 - 4)));
/** A rank near the limit of 64 (both sides), or far beyond it. */
const hostileRank = (r: () => number) => (r() < 0.6 ? 60 + int(r, 10) : logUniform(r, 7, 17));

/** `n` elements as a shape of `rank` dims (the first ones take what does not divide). */
function splitShape(r: () => number, n: number, rank: number): number[] {
  const shape = new Array<number>(rank).fill(1);
  let left = n;
  for (let i = rank - 1; i > 0; i--) {
    const d = Math.max(1, Math.floor(left ** r()));
    shape[i] = d;
    left = Math.max(1, Math.floor(left / d));
  }
  shape[0] = left;
  return shape;
}

function torchViews(r: () => number): { views: TorchView[]; storages: { key: string; numel: number }[]; desc: string } {
  const storages = Array.from({ length: 1 + int(r, 3) }, (_, i) => ({ key: String(i), numel: 1 + int(r, 1 << 16) }));
  const views: TorchView[] = [];
  const kinds: string[] = [];
  const n = 1 + int(r, 24);
  for (let i = 0; i < n; i++) {
    const st = pick(r, storages);
    const kind = pick(r, ['stride-0', 'sliding window', 'transposed', 'contiguous', 'out of range'] as const);
    // what expands gets sizes around the budget (shared by the views); plain windows fit their storage
    const big = Math.max(1, Math.floor(aroundBudget(r) / n));
    let shape: number[];
    let stride: number[];
    let offset = int(r, st.numel);
    if (kind === 'stride-0') {
      shape = splitShape(r, big, 1 + int(r, 4));
      stride = shape.map(() => 0);
    } else if (kind === 'sliding window') {
      // rows that overlap by all but one element (Tensor.unfold): [k, m] over k + m - 1 elements
      const m = 1 + int(r, Math.max(1, st.numel >> 1));
      shape = [Math.max(1, Math.floor(big / m)), m];
      stride = [1, 1];
      offset = int(r, Math.max(1, st.numel - m));
    } else if (kind === 'out of range') {
      shape = splitShape(r, 1 + int(r, 1 << 12), 1 + int(r, 3));
      stride = shape.map(() => pick(r, [1, 2 ** 20, 2 ** 31 - 1, 2 ** 40]));
    } else {
      const numel = 1 + int(r, st.numel);
      shape = splitShape(r, numel, 1 + int(r, 4));
      offset = int(r, st.numel - numel + 1);
      let acc = 1;
      const inner = kind === 'transposed' ? shape.map((_, k) => k) : shape.map((_, k) => shape.length - 1 - k);
      stride = new Array<number>(shape.length).fill(0);
      for (const k of inner) {
        stride[k] = acc;
        acc *= shape[k]!;
      }
    }
    kinds.push(kind);
    views.push({ name: `w${i}`, storage: st.key, offset, shape, stride });
  }
  const used = storages.filter((st) => views.some((v) => v.storage === st.key));
  return { views, storages: used, desc: `${views.length} views (${[...new Set(kinds)].join(', ')}) over ${used.length} storages` };
}

// Keras .h5 families (test/fuzz/hostile-h5.ts): layers as model.save() writes them
const kInput = (name: string, shape: unknown) => ({ class_name: 'InputLayer', config: { name, batch_input_shape: shape, dtype: 'float32' } });
const kLayer = (className: string, name: string, config: Record<string, unknown> = {}, inbound?: unknown) => ({
  class_name: className,
  name,
  config: { name, ...config },
  ...(inbound === undefined ? {} : { inbound_nodes: inbound }),
});
const kSequential = (layers: unknown[]) => ({ class_name: 'Sequential', config: { name: 'seq', layers } });
const kFunctional = (layers: unknown[], inputs: unknown, outputs: unknown) => ({ class_name: 'Functional', config: { name: 'model', layers, input_layers: inputs, output_layers: outputs } });
/** weights stored in full (small honest shapes) */
const kWeights = (name: string, shapes: Record<string, number[]>): KerasH5Layer => ({ name, weights: Object.entries(shapes).map(([role, shape]) => ({ role, dataset: { dtype: '<f4', shape, written: 'all' } })) });
/** numbers, and things that are not numbers, where a config wants a size */
const HOSTILE_NUMBERS: unknown[] = [0, -1, -(2 ** 31), 2 ** 31, 2 ** 53 + 2, 1e300, 1.5, -0.5, '3', null, [3], [[3]], {}, true, [], [2 ** 40, 2 ** 40]];
const ELEMENT_BYTES: Record<string, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '|i1': 1, '<u2': 2 };

/** layers of semantic-config.h5 that read data_format (channels_first: src/formats/keras/channels-first.ts) */
const CHANNELS_FIRST = new Set(['Conv2D', 'DepthwiseConv2D', 'Conv2DTranspose', 'MaxPooling2D', 'AveragePooling2D', 'UpSampling2D', 'ZeroPadding2D', 'Cropping2D', 'Conv3DTranspose', 'UpSampling3D', 'ZeroPadding3D', 'Cropping3D', 'GlobalMaxPooling3D']);

/** where a nested value is spliced into a config's JSON text */
const NESTED = '\u0000nested';

const H5_FAMILIES: SemanticFamily[] = [
  {
    // a Dense kernel whose shape claims up to 16x the budget, stored in a few bytes
    name: 'semantic-dataset.h5',
    fileName: 'semantic-dataset.h5',
    cases: 8,
    make: (r) => {
      const dtype = pick(r, Object.keys(ELEMENT_BYTES)) as H5Dtype;
      const n = aroundBudget(r, ELEMENT_BYTES[dtype]);
      const units = Math.min(n, 1 << int(r, 11));
      const inDim = Math.max(1, Math.floor(n / units));
      const storage = pick(r, ['contiguous, never written', 'chunked, never written', 'chunked, first chunk', 'chunked + gzip, first chunk'] as const);
      const chunks = storage.startsWith('chunked') ? [Math.min(inDim, 1 + int(r, 64)), Math.min(units, 1 + int(r, 64))] : undefined;
      const honest = r() < 0.7; // the config agrees with the claim, so nothing but the size stops the read
      const config = kSequential([kInput('x', [null, honest ? inDim : 4]), kLayer('Dense', 'd', { units: honest ? units : 3, activation: 'linear', use_bias: true })]);
      const kernel = { dtype, shape: [inDim, units], written: storage.includes('first chunk') ? ('first chunk' as const) : ('none' as const), chunks, gzip: storage.includes('gzip') ? 1 + int(r, 9) : undefined };
      const layers: KerasH5Layer[] = [{ name: 'd', weights: [{ role: 'kernel', dataset: kernel }, { role: 'bias', dataset: { dtype: '<f4', shape: [honest ? units : 3], written: 'all' } }] }];
      return { desc: `Dense kernel ${dtype} [${inDim}, ${units}], ${storage}${honest ? '' : ', config says [4, 3]'}`, bytes: kerasH5(config, layers) };
    },
  },
  {
    // one size in a layer's config replaced by a huge, negative, fractional or non-number value
    name: 'semantic-config.h5',
    fileName: 'semantic-config.h5',
    cases: 16,
    make: (r) => {
      const v = pick(r, HOSTILE_NUMBERS);
      const rows: [string, Record<string, unknown>, Record<string, number[]>, string][] = [
        ['Dense', { units: 4 }, { kernel: [3, 4], bias: [4] }, 'units'],
        ['Conv2D', { filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same', dilation_rate: [1, 1] }, { kernel: [3, 3, 3, 4], bias: [4] }, pick(r, ['filters', 'kernel_size', 'strides', 'dilation_rate'])],
        ['DepthwiseConv2D', { kernel_size: [3, 3], depth_multiplier: 1, strides: [1, 1], padding: 'valid' }, { depthwise_kernel: [3, 3, 3, 1], bias: [3] }, pick(r, ['kernel_size', 'depth_multiplier', 'strides'])],
        ['Conv2DTranspose', { filters: 2, kernel_size: [2, 2], strides: [2, 2], padding: 'valid' }, { kernel: [2, 2, 2, 3], bias: [2] }, pick(r, ['filters', 'kernel_size', 'strides'])],
        ['MaxPooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'valid' }, {}, pick(r, ['pool_size', 'strides'])],
        ['AveragePooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'valid' }, {}, pick(r, ['pool_size', 'strides'])],
        ['Reshape', { target_shape: [64, 3] }, {}, 'target_shape'],
        ['RepeatVector', { n: 3 }, {}, 'n'],
        ['UpSampling2D', { size: [2, 2], interpolation: 'nearest' }, {}, 'size'],
        ['ZeroPadding2D', { padding: [[1, 1], [1, 1]] }, {}, 'padding'],
        ['Cropping2D', { cropping: [[1, 1], [1, 1]] }, {}, 'cropping'],
        ['Embedding', { input_dim: 10, output_dim: 4 }, { embeddings: [10, 4] }, pick(r, ['input_dim', 'output_dim'])],
        ['Softmax', { axis: -1 }, {}, 'axis'],
        ['Permute', { dims: [2, 1, 3] }, {}, 'dims'],
        ['Flatten', {}, {}, 'data_format'],
        ['BatchNormalization', { axis: -1, epsilon: 0.001 }, { gamma: [3], beta: [3], moving_mean: [3], moving_variance: [3] }, pick(r, ['axis', 'epsilon'])],
        ['Dropout', { rate: 0.5 }, {}, 'rate'],
        ['Conv1DTranspose', { filters: 2, kernel_size: [3], strides: [2], padding: 'same' }, { kernel: [3, 2, 3], bias: [2] }, pick(r, ['filters', 'kernel_size', 'strides'])],
        ['Conv3DTranspose', { filters: 2, kernel_size: [2, 2, 2], strides: [2, 2, 2], padding: 'valid' }, { kernel: [2, 2, 2, 2, 3], bias: [2] }, pick(r, ['filters', 'kernel_size', 'strides'])],
        ['UpSampling1D', { size: 2 }, {}, 'size'],
        ['UpSampling3D', { size: [2, 2, 2] }, {}, 'size'],
        ['ZeroPadding3D', { padding: [[1, 1], [1, 1], [1, 1]] }, {}, 'padding'],
        ['Cropping3D', { cropping: [[1, 1], [1, 1], [1, 1]] }, {}, 'cropping'],
        ['GlobalMaxPooling3D', { keepdims: true }, {}, 'keepdims'],
        ['ConvLSTM2D', { filters: 2, kernel_size: [3, 3], strides: [1, 1], padding: 'same', dilation_rate: [1, 1], return_sequences: true }, { kernel: [3, 3, 3, 8], recurrent_kernel: [3, 3, 2, 8], bias: [8] }, pick(r, ['filters', 'kernel_size', 'strides', 'dilation_rate'])],
      ];
      const inputHostile = r() < 0.25;
      const [cls, cfg, weights, key] = pick(r, rows);
      // the channels_first rows (src/formats/keras/channels-first.ts) take the same hostile values
      if (key !== 'data_format' && CHANNELS_FIRST.has(cls) && r() < 0.3) cfg.data_format = 'channels_first';
      if (cls === 'BatchNormalization' && key !== 'axis' && r() < 0.3) cfg.axis = 1;
      const shape = cls === 'Dense' || cls === 'RepeatVector' ? [null, 3] : cls === 'Embedding' ? [null, 5] : cls === 'ConvLSTM2D' || cls.endsWith('3D') || cls === 'Conv3DTranspose' ? [null, 3, 8, 8, 3] : cls.endsWith('1D') || cls === 'Conv1DTranspose' ? [null, 8, 3] : [null, 8, 8, 3];
      let input: unknown = shape;
      let desc: string;
      if (inputHostile) {
        const how = pick(r, ['dim', 'rank', 'nested'] as const);
        input = how === 'dim' ? shape.map((d, i) => (i === 1 ? v : d)) : how === 'rank' ? [null, ...new Array<number>(hostileRank(r)).fill(1)] : [null, [[8]], 8, 3];
        desc = `${cls} after an input whose batch_input_shape has ${how === 'dim' ? `dim ${JSON.stringify(v)}` : how === 'rank' ? `rank ${(input as unknown[]).length}` : 'a nested dim'}`;
      } else {
        cfg[key] = v;
        desc = `${cls} with ${key} = ${JSON.stringify(v)}`;
      }
      const stored = r() < 0.8;
      const config = kSequential([kInput('x', input), kLayer(cls, 'l', cfg)]);
      const first = cfg.data_format === 'channels_first' || (cls === 'BatchNormalization' && cfg.axis === 1) ? ', channels_first' : '';
      return { desc: `${desc}${first}${stored ? '' : ', no weights stored'}`, bytes: kerasH5(config, stored && Object.keys(weights).length ? [kWeights('l', weights)] : []) };
    },
  },
  {
    // functional topologies: cycles, long chains, deeply nested or far-pointing inbound nodes
    name: 'semantic-topology.h5',
    fileName: 'semantic-topology.h5',
    cases: 12,
    make: (r) => {
      const kind = pick(r, ['cycle', 'self', 'chain', 'nested keras 3 args', 'nested ref', 'bad refs', 'wide', 'fan'] as const);
      const x = kInput('x', [null, 4]);
      const ref = (name: string, node: unknown = 0, tensor: unknown = 0) => [name, node, tensor, {}];
      let layers: unknown[];
      let outputs: unknown = [['y', 0, 0]];
      let desc: string = kind;
      let nested: string | undefined;
      const act = (name: string, inbound: unknown) => kLayer('Activation', name, { activation: 'relu' }, inbound);
      switch (kind) {
        case 'cycle': {
          const n = 2 + int(r, 6);
          layers = [x, ...Array.from({ length: n }, (_, i) => act(i ? `a${i}` : 'y', [[ref(i === n - 1 ? 'y' : `a${i + 1}`)]]))];
          desc = `a cycle of ${n} layers`;
          break;
        }
        case 'self':
          layers = [x, act('y', [[ref('y')]])];
          break;
        case 'chain': {
          const n = logUniform(r, 6, 14);
          layers = [x, ...Array.from({ length: n }, (_, i) => act(i === n - 1 ? 'y' : `a${i}`, [[ref(i ? `a${i - 1}` : 'x')]]))];
          desc = `a chain of ${n} layers`;
          break;
        }
        case 'nested keras 3 args':
        case 'nested ref': {
          // spliced into the JSON text below: JSON.stringify itself would overflow the stack
          const depth = logUniform(r, 4, 17);
          const inner = kind === 'nested ref' ? '"x"' : JSON.stringify({ class_name: '__keras_tensor__', config: { keras_history: ['x', 0, 0] } });
          nested = '['.repeat(depth) + inner + ']'.repeat(depth);
          layers = [x, act('y', kind === 'nested ref' ? [[NESTED]] : [{ args: NESTED, kwargs: {} }])];
          desc = `${kind === 'nested ref' ? 'an inbound ref' : 'Keras 3 call args'} nested ${depth} deep`;
          break;
        }
        case 'bad refs': {
          const bad = pick(r, [ref('x', 2 ** 31), ref('x', -1), ref('x', 0, 2 ** 40), ref('x', 0.5), ref('x', 'a'), ref('missing'), ref('x', null, null), ref('__proto__'), ref('constructor')]);
          layers = [x, act('y', [[bad]])];
          if (r() < 0.3) outputs = [pick(r, [['y', 5, 0], ['x', 0, 7], ['nowhere', 0, 0], ['y', -1, -1]])];
          desc = `an inbound ref ${JSON.stringify(bad)}, outputs ${JSON.stringify(outputs)}`;
          break;
        }
        case 'wide': {
          const k = logUniform(r, 4, 16);
          layers = [x, kLayer('Add', 'y', {}, [new Array(k).fill(ref('x'))])];
          desc = `an Add of ${k} inputs`;
          break;
        }
        case 'fan': {
          // every layer reads every earlier one: quadratic in refs
          const n = logUniform(r, 3, 8);
          layers = [x, ...Array.from({ length: n }, (_, i) => kLayer(i ? 'Add' : 'Activation', i === n - 1 ? 'y' : `a${i}`, i ? {} : { activation: 'relu' }, [i ? ['x', ...Array.from({ length: i }, (_, j) => `a${j}`)].map((s) => ref(s)) : [ref('x')]]))];
          desc = `${n} layers, each reading all earlier ones`;
          break;
        }
      }
      const inputs = r() < 0.1 ? [['y', 0, 0]] : [['x', 0, 0]];
      const text = JSON.stringify(kFunctional(layers, inputs, outputs));
      return { desc, bytes: kerasH5(nested ? text.replace(JSON.stringify(NESTED), nested) : text, []) };
    },
  },
  {
    // Keras 3 ops (src/formats/keras/keras3-ops.ts): the table's ops and others, given hostile arguments
    name: 'semantic-keras3-ops.h5',
    fileName: 'semantic-keras3-ops.h5',
    cases: 40,
    make: (r) => {
      const t = (name: string, dtype: unknown = 'float32', node: unknown = 0) => ({ class_name: '__keras_tensor__', config: { shape: [null, 3, 4], dtype, keras_history: [name, node, 0] } });
      const [module, cls, args, cfg] = pick(r, [
        ['numpy', 'Add', 2, {}],
        ['numpy', 'Concatenate', 1, { axis: 0 }],
        ['numpy', 'Reshape', 1, { newshape: [-1, 12] }],
        ['numpy', 'Mean', 1, { axis: 1, keepdims: false }],
        ['numpy', 'Transpose', 1, { axes: [0, 2, 1] }],
        ['numpy', 'ExpandDims', 1, { axis: 1 }],
        ['numpy', 'Squeeze', 1, { axis: null }],
        ['numpy', 'Clip', 1, { x_min: 0, x_max: 1 }],
        ['numpy', 'Take', 2, { axis: 1 }],
        ['numpy', 'GetItem', 2, {}],
        ['numpy', 'Where', 3, {}],
        ['numpy', 'Stack', 1, { axis: 0 }],
        ['numpy', 'Max', 1, { axis: null, keepdims: false, initial: null }],
        ['core', 'Cast', 1, { dtype: 'float32' }],
        ['nn', 'Softmax', 1, { axis: -1 }],
        ['nn', 'Gelu', 1, { approximate: true }],
        ['image', 'Resize', 1, { size: [2, 2], interpolation: 'bilinear' }],
        ['numpy', 'Split', 1, { indices_or_sections: [1, 3], axis: 1 }],
        ['numpy', 'Moveaxis', 1, { source: [0, 1], destination: [2, 0] }],
        ['numpy', 'Pad', 1, { pad_width: [[0, 0], [1, 2], [0, 1]], mode: 'constant' }],
        ['numpy', 'Tile', 1, { repeats: [1, 2] }],
        ['numpy', 'Argmax', 1, { axis: null, keepdims: false }],
        ['core', 'Unstack', 1, { num: null, axis: 1 }],
        ['core', 'Slice', 2, { shape: [1, 2, 3] }],
        ['numpy', 'Einsum', 2, { subscripts: 'ij,jk->ik' }],
        ['nn', 'Unknown', 1, {}],
      ] as const);
      const hostile = (): unknown => pick(r, [...HOSTILE_NUMBERS, t('x'), t('x', 'bool'), t('x', 'string'), t('missing'), t('x', 'float32', 3), [t('x'), t('x')], [t('x'), 'a'], [[t('x')]], { class_name: '__slice__', config: { start: 'a', stop: null, step: 0 } }, { class_name: '__ellipsis__', config: {} }, { class_name: '__numpy__', config: { value: [[1, 2], [3]], dtype: 'float32' } }, { class_name: '__numpy__', config: { value: [1], dtype: 'complex64' } }, 'x', undefined]);
      const kind = pick(r, ['argument', 'config', 'arity', 'kwargs'] as const);
      const callArgs: unknown[] = cls === 'Concatenate' || cls === 'Stack' ? [[t('x'), t('x')]] : [t('x'), ...Array.from({ length: args - 1 }, () => t('x'))];
      let kwargs: unknown = {};
      const config: Record<string, unknown> = { name: 'y', ...cfg };
      if (kind === 'argument') callArgs[int(r, callArgs.length)] = hostile();
      else if (kind === 'config') config[pick(r, [...Object.keys(cfg), 'axis'])] = hostile();
      else if (kind === 'arity') callArgs.splice(int(r, callArgs.length + 1), r() < 0.5 ? 1 : 0, ...(r() < 0.5 ? [hostile()] : []));
      else kwargs = pick(r, [{ x: t('x') }, { other: 1 }, [], 'x', { axis: hostile() }]);
      const layers = [{ module: 'keras.layers', class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_shape: [null, 3, 4], dtype: 'float32' }, inbound_nodes: [] },
        { module: `keras.src.ops.${module}`, class_name: cls, name: 'y', config, registered_name: cls, inbound_nodes: [{ args: callArgs, kwargs }] }];
      const desc = `keras.ops ${module}.${cls} with ${kind}: args ${JSON.stringify(callArgs)?.slice(0, 200)}, kwargs ${JSON.stringify(kwargs)}, config ${JSON.stringify(config)}`;
      return { desc, bytes: kerasH5(kFunctional(layers, [['x', 0, 0]], [['y', 0, 0]]), []) };
    },
  },
  {
    // Keras masks into attention (src/formats/keras/attention.ts, masking.ts): MultiHeadAttention, Attention /
    // AdditiveAttention, Softmax(mask=) and stateful RNNs with hostile configs, call arguments and weight shapes
    name: 'semantic-keras-attention.h5',
    fileName: 'semantic-keras-attention.h5',
    cases: 30,
    make: (r) => {
      const hostile = (): unknown => pick(r, [...HOSTILE_NUMBERS, ['m', 0, 0], ['x', 0, 0], ['missing', 0, 0], 'yes', [-1], [1, 2], [0]]);
      const ref = (name: string, kw: Record<string, unknown> = {}) => [name, 0, 0, kw];
      const layers: unknown[] = [{ ...kInput('x', [null, 4, 6]), name: 'x', inbound_nodes: [] }, { ...kInput('m', [null, 4, 4]), name: 'm', inbound_nodes: [] },
        { ...kInput('ids', [null, 4]), name: 'ids', inbound_nodes: [] },
        { class_name: 'Embedding', name: 'emb', config: { name: 'emb', input_dim: 5, output_dim: 6, mask_zero: true }, inbound_nodes: [[ref('ids')]] }];
      const weights: KerasH5Layer[] = [kWeights('emb', { embeddings: [5, 6] })];
      const kind = pick(r, ['mha', 'attention', 'softmax', 'stateful'] as const);
      const src = pick(r, ['x', 'emb']);
      const field = (cfg: Record<string, unknown>, keys: string[]) => {
        if (r() < 0.7) cfg[pick(r, keys)] = hostile();
      };
      let desc: string = kind;
      if (kind === 'mha') {
        const cfg: Record<string, unknown> = { name: 'y', num_heads: 2, key_dim: 3, attention_axes: null };
        field(cfg, ['num_heads', 'key_dim', 'value_dim', 'attention_axes', 'output_shape', 'use_gate', 'sliding_window', 'dropout']);
        const kw: Record<string, unknown> = { value: [src, 0, 0] };
        if (r() < 0.6) kw[pick(r, ['attention_mask', 'key', 'use_causal_mask', 'return_attention_scores', 'query_mask'])] = hostile();
        layers.push({ class_name: 'MultiHeadAttention', name: 'y', config: cfg, inbound_nodes: [[ref(src, kw)]] });
        const d = pick(r, [3, 4, 1]);
        weights.push(kWeights('y', { 'query/kernel': [6, 2, d], 'query/bias': [2, 3], 'key/kernel': [6, 2, 3], 'key/bias': [2, 3], 'value/kernel': [6, 2, 3], 'value/bias': [2, 3], 'attention_output/kernel': [2, 3, pick(r, [6, 2])], 'attention_output/bias': [6] }));
        desc = `MultiHeadAttention config ${JSON.stringify(cfg)}, call ${JSON.stringify(kw)}`;
      } else if (kind === 'attention') {
        const cls = pick(r, ['Attention', 'AdditiveAttention']);
        const cfg: Record<string, unknown> = { name: 'y', use_scale: true, score_mode: 'dot' };
        field(cfg, ['use_scale', 'score_mode', 'causal', 'dropout']);
        const inputs = Array.from({ length: pick(r, [1, 2, 3, 4]) }, () => pick(r, ['x', 'emb', 'm']));
        const kw = r() < 0.5 ? { [pick(r, ['use_causal_mask', 'return_attention_scores', 'mask'])]: hostile() } : {};
        layers.push({ class_name: cls, name: 'y', config: cfg, inbound_nodes: [inputs.map((n) => ref(n, kw))] });
        weights.push(kWeights('y', { scale: pick(r, [[], [6], [4]]), ...(r() < 0.5 ? { concat_score_weight: [] } : {}) }));
        desc = `${cls} on ${inputs.join(', ')}, config ${JSON.stringify(cfg)}, call ${JSON.stringify(kw)}`;
      } else if (kind === 'softmax') {
        const cfg: Record<string, unknown> = { name: 'y', axis: -1 };
        field(cfg, ['axis', 'robust_masking']);
        const kw = { mask: pick(r, [['m', 0, 0], ['x', 0, 0], ['ids', 0, 0], ['emb', 0, 0], hostile()]) };
        layers.push({ class_name: 'Softmax', name: 'y', config: cfg, inbound_nodes: [[ref(pick(r, ['x', 'emb', 'm']), kw)]] });
        desc = `Softmax config ${JSON.stringify(cfg)}, call ${JSON.stringify(kw)}`;
      } else {
        const cls = pick(r, ['LSTM', 'GRU', 'SimpleRNN']);
        const u = pick(r, [2, 3]);
        const g = cls === 'LSTM' ? 4 : cls === 'GRU' ? 3 : 1;
        const cfg: Record<string, unknown> = { name: 'y', units: u, stateful: true, return_state: r() < 0.5, return_sequences: r() < 0.5, reset_after: false };
        field(cfg, ['units', 'stateful', 'return_state', 'go_backwards', 'time_major']);
        layers.push({ class_name: cls, name: 'y', config: cfg, inbound_nodes: [[ref(src)], ...(r() < 0.3 ? [[ref('x')]] : [])] });
        weights.push(kWeights('y', { kernel: [6, g * u], recurrent_kernel: [u, g * pick(r, [u, u + 1])], bias: [g * u] }));
        desc = `stateful ${cls} config ${JSON.stringify(cfg)}`;
      }
      return { desc, bytes: kerasH5(kFunctional(layers, [['x', 0, 0], ['m', 0, 0], ['ids', 0, 0]], [['y', 0, 0]]), weights) };
    },
  },
  {
    // weight_names that point nowhere, through links, or at data of the wrong kind or shape
    name: 'semantic-weights.h5',
    fileName: 'semantic-weights.h5',
    cases: 16,
    make: (r) => {
      const config = kSequential([kInput('x', [null, 4]), kLayer('Dense', 'd', { units: 3, activation: 'linear', use_bias: true })]);
      const bias = { role: 'bias', dataset: { dtype: '<f4' as const, shape: [3], written: 'all' as const } };
      const kind = pick(r, ['missing', 'group', 'dangling soft link', 'soft link loop', 'external link', 'hard link loop', 'odd names', 'many names', 'numeric names', 'wrong dtype', 'wrong kind', 'wrong shape'] as const);
      const items: H5Item[] = [];
      let layer: KerasH5Layer = { name: 'd', weights: [bias] };
      let desc: string = kind;
      const kernelPath = '/model_weights/d/d/kernel:0';
      switch (kind) {
        case 'missing':
          layer.weightNames = ['d/kernel:0', 'd/bias:0'];
          break;
        case 'group':
          items.push({ kind: 'group', path: kernelPath });
          layer.weightNames = ['d/kernel:0', 'd/bias:0'];
          break;
        case 'dangling soft link':
          items.push({ kind: 'soft link', path: kernelPath, target: pick(r, ['/nowhere', '/model_weights/d', '/', '/model_weights/d/d/kernel:0/x']) });
          layer.weightNames = ['d/kernel:0', 'd/bias:0'];
          break;
        case 'soft link loop':
          items.push({ kind: 'soft link', path: kernelPath, target: '/model_weights/d/d/k2' }, { kind: 'soft link', path: '/model_weights/d/d/k2', target: kernelPath });
          layer.weightNames = ['d/kernel:0', 'd/bias:0'];
          break;
        case 'external link': {
          const file = pick(r, ['other.h5', '/dev/zero', '/proc/self/mem', '../x.h5', 'semantic-weights.h5', '']);
          items.push({ kind: 'external link', path: kernelPath, file, target: '/model_weights/d/d/bias:0' });
          layer.weightNames = ['d/kernel:0', 'd/bias:0'];
          desc = `an external link to '${file}'`;
          break;
        }
        case 'hard link loop': {
          items.push({ kind: 'dataset', path: kernelPath, dtype: '<f4', shape: [4, 3], written: 'all' }, { kind: 'hard link', path: '/model_weights/d/d/loop', target: '/model_weights' });
          const depth = logUniform(r, 0, 10);
          layer.weightNames = [`${'d/loop/d/'.repeat(depth)}d/kernel:0`, 'd/bias:0'];
          desc = `a path through a hard-link loop, ${depth} times`;
          break;
        }
        case 'odd names': {
          const name = pick(r, ['../../model_weights/d/d/kernel:0', '/model_weights/d/d/kernel:0', '', '.', '/', 'd//kernel:0', 'd/kernel:0\u0000x', 'x'.repeat(logUniform(r, 8, 20)), '\u{1F600}/kernel:0']);
          layer.weights = [{ role: 'kernel', dataset: { dtype: '<f4', shape: [4, 3], written: 'all' } }, bias];
          layer.weightNames = [name, 'd/bias:0'];
          desc = `weight name ${JSON.stringify(name.slice(0, 40))}${name.length > 40 ? `... (${name.length} chars)` : ''}`;
          break;
        }
        case 'many names': {
          const k = logUniform(r, 4, 16);
          layer.weights = [{ role: 'kernel', dataset: { dtype: '<f4', shape: [4, 3], written: 'all' } }, bias];
          layer.weightNames = Array.from({ length: k }, (_, i) => (r() < 0.5 ? 'd/kernel:0' : `d/w${i}:0`));
          desc = `${k} weight names`;
          break;
        }
        case 'numeric names':
          layer.weights = [{ role: 'kernel', dataset: { dtype: '<f4', shape: [4, 3], written: 'all' } }, bias];
          layer.weightNames = pick(r, [[1, 2], new Int32Array([7, 8]), new Float32Array(0), [0.5]]);
          desc = `weight_names ${String(layer.weightNames)}`;
          break;
        case 'wrong dtype': {
          const dtype = pick(r, ['<f8', '|i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8'] as const);
          layer.weights = [{ role: 'kernel', dataset: { dtype, shape: [4, 3], written: 'all' } }, r() < 0.5 ? { role: 'bias', dataset: { dtype, shape: [3], written: 'all' } } : bias];
          desc = `weights stored as ${dtype}`;
          break;
        }
        case 'wrong kind': {
          const value = pick(r, ['strings', 'compound', 'scalar', 'empty'] as const);
          layer.weights = [{ role: 'kernel', dataset: { value } }, bias];
          desc = `the kernel is a dataset of ${value}`;
          break;
        }
        case 'wrong shape': {
          const shape = pick(r, [[3, 4], [4, 3, 1], [12], [], [1, 4, 3], [4, 3000], [0, 3], [2 ** 20, 3]]);
          layer.weights = [{ role: 'kernel', dataset: { dtype: '<f4', shape, written: shape.reduce((a, b) => a * b, 1) <= 1 << 16 ? 'all' : 'none' } }, bias];
          desc = `the kernel stored as [${shape.join(', ')}]`;
          break;
        }
      }
      return { desc, bytes: kerasH5(config, [layer], { items }) };
    },
  },
  {
    // attributes of huge length or of the wrong type
    name: 'semantic-attr.h5',
    fileName: 'semantic-attr.h5',
    cases: 8,
    make: (r) => {
      const size = logUniform(r, 10, 23);
      const valid = kSequential([kInput('x', [null, 4]), kLayer('Dense', 'd', { units: 3, activation: 'linear', use_bias: true })]);
      const weights = [kWeights('d', { kernel: [4, 3], bias: [3] })];
      const kind = pick(r, ['padded config', 'huge layer name', 'garbage', 'fixed-length', 'string array', 'numbers', 'bytes', 'many layer names', 'many weight names'] as const);
      const text = JSON.stringify(valid);
      switch (kind) {
        case 'padded config':
          return { desc: `model_config padded to ${size} bytes`, bytes: kerasH5(text + ' '.repeat(size), weights) };
        case 'huge layer name': {
          const name = 'n'.repeat(size);
          const cfg = kSequential([kInput('x', [null, 4]), kLayer('Dense', name, { units: 3, activation: 'linear', use_bias: true })]);
          return { desc: `a layer named with ${size} characters`, bytes: kerasH5(cfg, r() < 0.5 ? [] : [kWeights('d', { kernel: [4, 3], bias: [3] })]) };
        }
        case 'garbage':
          return { desc: `model_config of ${size} bytes of '{'`, bytes: kerasH5('{'.repeat(size), weights) };
        case 'fixed-length':
          return { desc: `model_config as a fixed-length string of ${size} bytes`, bytes: kerasH5(text.padEnd(size, ' '), weights, { configDtype: `S${Math.max(size, text.length)}` }) };
        case 'string array':
          return { desc: 'model_config as an array of two strings', bytes: kerasH5([text, text], weights) };
        case 'numbers':
          return { desc: `model_config as ${size >> 2} float32 numbers`, bytes: kerasH5(new Float32Array(size >> 2), weights) };
        case 'bytes': {
          const b = new Uint8Array(size);
          for (let i = 0; i < size; i++) b[i] = int(r, 256);
          return { desc: `model_config as ${size} random uint8`, bytes: kerasH5(new Int32Array(b.buffer.slice(0, size & ~3)), weights) };
        }
        case 'many layer names': {
          const k = Math.min(1 << 16, size);
          return { desc: `layer_names with ${k} entries`, bytes: kerasH5(text, weights, { attrs: [{ path: '/model_weights', name: 'extra_names', value: Array.from({ length: k }, (_, i) => `l${i}`) }] }) };
        }
        case 'many weight names': {
          const k = Math.min(1 << 16, size >> 4);
          return { desc: `weight_names with ${k} entries`, bytes: kerasH5(text, [{ ...weights[0]!, weightNames: Array.from({ length: k }, (_, i) => `d/w${i}:0`) }]) };
        }
      }
    },
  },
];

let kerasV3Seed: Uint8Array | undefined;

const SEMANTIC: SemanticFamily[] = [
  {
    name: 'semantic-views.pth',
    fileName: 'semantic-views.pth',
    cases: 8,
    make: (r) => {
      const v = torchViews(r);
      return { desc: `zip: ${v.desc}`, bytes: torchZip(v.views, v.storages) };
    },
  },
  {
    name: 'semantic-views-legacy.pth',
    fileName: 'semantic-views-legacy.pth',
    cases: 8,
    make: (r) => {
      const v = torchViews(r);
      return { desc: `legacy: ${v.desc}`, bytes: torchLegacy(v.views, v.storages) };
    },
  },
  {
    name: 'semantic-deflate.npz',
    fileName: 'semantic-deflate.npz',
    cases: 4,
    make: (r) => {
      const n = aroundBudget(r);
      return { desc: `one .npy of ${n} float32 zeros, deflated`, bytes: deflatedNpz(n) };
    },
  },
  {
    name: 'semantic-deflate.pth',
    fileName: 'semantic-deflate.pth',
    cases: 4,
    make: (r) => {
      const n = aroundBudget(r);
      const views = Array.from({ length: 1 + int(r, 3) }, (_, i): TorchView => ({ name: `w${i}`, storage: '0', offset: 0, shape: [n], stride: [1] }));
      return { desc: `a storage of ${n} float32 zeros, deflated, ${views.length} views`, bytes: torchZip(views, [{ key: '0', numel: n }], { deflate: true }) };
    },
  },
  {
    name: 'semantic-deflate.keras',
    fileName: 'semantic-deflate.keras',
    cases: 4,
    make: (r) => {
      // the weights file of a real .keras, padded with zeros to near the budget and deflated
      const zip = ZipReader.open(kerasV3Seed!, 'seed');
      const target = pick(r, [...zip.entries.keys()]);
      const size = aroundBudget(r, 1);
      const entries = [...zip.entries.keys()].map((name) => (name === target ? honestDeflate(name, zip.read(name), Math.max(size, zip.read(name).length)) : storedEntry(name, zip.read(name))));
      return { desc: `entry '${target}' padded to ${size} bytes and deflated`, bytes: rawZip(entries) };
    },
  },
  {
    name: 'semantic-rank.onnx',
    fileName: 'semantic-rank.onnx',
    cases: 6,
    make: (r) => {
      const rank = hostileRank(r);
      const vi = r() < 0.5;
      return { desc: `${vi ? 'value_info' : 'initializer'} of rank ${rank}`, bytes: onnxWithGraphFields(vi ? onnxRankValueInfo(rank) : onnxRankInitializer(rank)) };
    },
  },
  {
    name: 'semantic-count.onnx',
    fileName: 'semantic-count.onnx',
    cases: 4,
    make: (r) => {
      const n = logUniform(r, 8, 17);
      const [what, tag] = pick(r, [['nodes', 0x0a], ['initializers', 0x2a], ['value_infos', 0x6a], ['inputs', 0x5a]] as const);
      return { desc: `${n} empty ${what}`, bytes: onnxWithGraphFields(onnxManyEmpty(tag, n)) };
    },
  },
  {
    name: 'semantic.safetensors',
    fileName: 'semantic.safetensors',
    cases: 4,
    make: (r) => {
      if (r() < 0.5) {
        const rank = hostileRank(r);
        return { desc: `a tensor of rank ${rank}`, bytes: safetensorsRaw({ w: { dtype: 'F32', shape: new Array(rank).fill(1), data_offsets: [0, 4] } }, 4) };
      }
      const n = logUniform(r, 4, 14);
      const header: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) header[`t${i}`] = { dtype: 'F32', shape: [1], data_offsets: [4 * i, 4 * i + 4] };
      return { desc: `${n} tensors`, bytes: safetensorsRaw(header, 4 * n) };
    },
  },
  {
    name: 'semantic.npy',
    fileName: 'semantic.npy',
    cases: 4,
    make: (r) => {
      const rank = r() < 0.5 ? hostileRank(r) : 1 + int(r, 8);
      const shape = r() < 0.5 ? new Array<number>(rank).fill(1) : splitShape(r, aroundBudget(r), Math.min(rank, 8));
      const n = shape.reduce((a, b) => a * b, 1);
      return { desc: `shape of rank ${rank} (${n} elements), ${n <= 1 << 16 ? 'with' : 'without'} its data`, bytes: npyWithShape(shape, n <= 1 << 16 ? 4 * n : 4) };
    },
  },
  {
    name: 'semantic.tflite',
    fileName: 'semantic.tflite',
    cases: 4,
    make: (r) => {
      const n = r() < 0.5 ? 1 : logUniform(r, 4, 14);
      const rank = r() < 0.5 ? hostileRank(r) : 1 + int(r, 4);
      return { desc: `${n} tensors of rank ${rank}`, bytes: tfliteTensors(n, new Array(Math.min(rank, 1 << 14)).fill(1)) };
    },
  },
  {
    name: 'semantic-ops.onnx',
    fileName: 'semantic-ops.onnx',
    run: true,
    cases: 14,
    make: (r) => {
      const n = aroundBudget(r);
      const i64 = (xs: number[]) => Tensor.int64([xs.length], xs);
      const f32 = (xs: number[]) => Tensor.float32([xs.length], xs);
      const op = pick(r, ['Expand', 'Tile', 'Range', 'ConstantOfShape', 'Resize', 'OneHot', 'Pad', 'Reshape', 'Concat'] as const);
      const shape = splitShape(r, n, 1 + int(r, 4));
      const model = (() => {
        switch (op) {
          case 'Expand':
            return onnxOpModel('op', { opType: 'Expand', inputs: ['x', 's'] }, { s: i64(shape) });
          case 'Tile':
            return onnxOpModel('op', { opType: 'Tile', inputs: ['x', 'k'] }, { k: i64([n]) });
          case 'Range':
            return onnxOpModel('op', { opType: 'Range', inputs: ['a', 'b', 'c'] }, { a: Tensor.float32([], [0]), b: Tensor.float32([], [n]), c: Tensor.float32([], [pick(r, [1, 0.5, 1e-3])]) });
          case 'ConstantOfShape':
            return onnxOpModel('op', { opType: 'ConstantOfShape', inputs: ['s'] }, { s: i64(shape) });
          case 'Resize': {
            const x4 = Tensor.float32([1, 1, 2, 2], [1, 2, 3, 4]);
            const side = Math.max(1, Math.floor(Math.sqrt(n)));
            return r() < 0.5
              ? onnxOpModel('op', { opType: 'Resize', inputs: ['x4', '', 'sc'] }, { x4, sc: f32([1, 1, side / 2, side / 2]) })
              : onnxOpModel('op', { opType: 'Resize', inputs: ['x4', '', '', 'sz'] }, { x4, sz: i64([1, 1, side, side]) });
          }
          case 'OneHot':
            return onnxOpModel('op', { opType: 'OneHot', inputs: ['i', 'd', 'v'] }, { i: i64(new Array(1 + int(r, 64)).fill(1)), d: Tensor.int64([], [n]), v: f32([0, 1]) });
          case 'Pad':
            return onnxOpModel('op', { opType: 'Pad', inputs: ['x', 'p'] }, { p: i64([int(r, n), n]) });
          case 'Reshape':
            // to a size the input does not have, or through 0 and -1
            return onnxOpModel('op', { opType: 'Reshape', inputs: ['x', 's'] }, { s: i64(r() < 0.5 ? shape : [-1, ...shape.slice(1)]) });
          case 'Concat': {
            // many copies of one small constant (the file stays small, the output does not)
            const m = Math.min(1 << 14, 1 + int(r, 1 << 14));
            const k = Math.min(4096, Math.max(1, Math.ceil(n / m)));
            return onnxOpModel('op', { opType: 'Concat', inputs: new Array<string>(k).fill('c'), attrs: { axis: { type: 'int', value: 0 } } }, { c: Tensor.float32([m], new Float32Array(m)) });
          }
        }
      })();
      return { desc: `${op} towards ${n} float32 elements (shape ${shape.join('x')})`, bytes: model };
    },
  },
  ...H5_FAMILIES,
];

/** Run `f` with --max-memory set to the semantic budget. */
async function underBudget<T>(f: () => Promise<T>): Promise<T> {
  setResourceLimits({ maxMemory: SEMANTIC_BUDGET });
  try {
    return await f();
  } finally {
    resetResourceLimits();
  }
}

/** One semantic case: undefined when it read (or ran), or failed typed and naming the file or node, in time. */
async function runSemantic(c: SemanticCase): Promise<string | undefined> {
  total++;
  const t0 = Date.now();
  let outcome: string | undefined;
  try {
    const m = await readModel(c.bytes, { fileName: c.fileName });
    if (m.kind === 'graph') {
      planGraph(m.graph);
      if (c.run) await runGraph(m.graph, { x: Tensor.float32([1], [1]) });
    }
    countSemantic(c.fileName, 'ok');
  } catch (e) {
    countSemantic(c.fileName, process.env.FUZZ_STATS ? `${(e as Error).constructor?.name}: ${String((e as Error).message).replace(/\d+/g, 'N').slice(0, 140)}` : 'refused');
    if (!(e instanceof NnportError)) outcome = `${e instanceof Error ? e.constructor.name : typeof e}: ${e instanceof Error ? e.message : String(e)}`;
    else if (isReaderBug(e)) outcome = `untyped in the reader: ${e.message}`;
    else if (!e.message.includes(c.fileName) && !/node '/.test(e.message)) outcome = `${e.constructor.name} naming neither the file nor a node: ${e.message}`;
  }
  const seconds = (Date.now() - t0) / 1000;
  if (outcome === undefined && seconds > SEMANTIC_SECONDS) outcome = `took ${seconds} s`;
  return outcome;
}

function countSemantic(name: string, outcome: string): void {
  let m = stats.get(name);
  if (!m) stats.set(name, (m = new Map()));
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
}

async function fuzzSemantic(family: SemanticFamily): Promise<Failure[]> {
  const failures: Failure[] = [];
  const deadline = SECONDS > 0 ? Date.now() + (SECONDS * 1000 * SEMANTIC_SHARES) / SHARES / SEMANTIC.length : 0;
  for (let i = 0; deadline ? Date.now() < deadline : i < family.cases; i++) {
    const r = rng(hash(`semantic|${family.name}`) + i * 7919);
    const c = { ...family.make(r), fileName: family.fileName, run: family.run };
    const error = await underBudget(() => runSemantic(c));
    if (error !== undefined) failures.push({ target: family.name, seed: 'semantic', index: i, desc: c.desc, error, bytes: c.bytes });
    sampleMemory(`${family.name} #${i}: ${c.desc}`);
  }
  return failures;
}

// ---- the tests ----

let all: Target[] = [];

beforeAll(async () => {
  // plain Uint8Array copies: protobufjs hands out Buffers, whose slice() is a view, not a copy
  all = (await targets()).map((t) => ({ ...t, seeds: t.seeds.map((s) => ({ name: s.name, bytes: new Uint8Array(s.bytes) })) }));
  kerasV3Seed = all.find((t) => t.name === 'fuzz.keras')!.seeds[0]!.bytes;
  await h5Ready();
  const m = process.memoryUsage();
  baseline = { rss: m.rss, arrayBuffers: m.arrayBuffers };
});

afterAll(() => {
  if (process.env.FUZZ_STATS) {
    for (const [name, m] of stats) {
      console.log(`${name}:\n${[...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${v}  ${k}`).join('\n')}`);
    }
  }
  if (process.env.NNPORT_FUZZ_REPORT) writeReport();
  console.log(`fuzz: ${total} cases; peak growth rss ${(peak.rss / 2 ** 20).toFixed(0)} MiB, arrayBuffers ${(peak.arrayBuffers / 2 ** 20).toFixed(0)} MiB (${peak.at})`);
});

describe('mutation fuzzing: every reader fails cleanly on corrupt input', () => {
  const names = ['fuzz-lenet.onnx', 'fuzz-seg-head.onnx', 'fuzz-external.onnx', 'fuzz-tensor.pb', 'fuzz-zip.pt', 'fuzz-mnist.pt', 'fuzz-legacy.pt', 'fuzz.safetensors', 'fuzz.npz', 'fuzz.npy', 'fuzz.tflite', 'fuzz.caffemodel', 'fuzz-pair.caffemodel', 'fuzz.prototxt', 'fuzz-keras.h5', 'fuzz.keras', 'fuzz-model.json', 'fuzz-graph.pb', 'fuzz-tensor-lists.pb', 'fuzz.index', 'fuzz-00000-of-00002', 'fuzz-v1.ckpt', 'fuzz.meta', 'fuzz-partitioned.index', 'saved_model.pb', 'fuzz-graph-model.json'];
  for (const name of names) {
    // A hang fails this test by its timeout instead of stalling the run.
    it(name, { timeout: SECONDS ? SECONDS * 1000 + 60_000 : 30_000 }, async () => {
      const t = all.find((x) => x.name === name)!;
      const failures = await fuzzTarget(t);
      allFailures.push(...failures);
      saveRegressions(t, failures);
      expect(failures.length, describeFailures(failures)).toBe(0);
      // Coarse: no case may make the process hold a gigabyte more than before the run.
      sampleMemory(name);
      expect(peak.rss, `rss grew by ${peak.rss} bytes (${peak.at})`).toBeLessThan(GIB);
      expect(peak.arrayBuffers, `ArrayBuffers grew by ${peak.arrayBuffers} bytes (${peak.at})`).toBeLessThan(GIB);
    });
  }
});

describe('semantic mutations: hostile but well-formed files fail typed, in time, under the budget', () => {
  for (const family of SEMANTIC) {
    it(family.name, { timeout: SECONDS ? SECONDS * 1000 + 60_000 : 60_000 }, async () => {
      const failures = await fuzzSemantic(family);
      allFailures.push(...failures);
      saveRegressions({ name: family.name } as Target, failures);
      expect(failures.length, describeFailures(failures)).toBe(0);
      sampleMemory(family.name);
      expect(peak.rss, `rss grew by ${peak.rss} bytes (${peak.at})`).toBeLessThan(GIB);
    });
  }
});

describe('fuzz regressions: every saved failing input now fails cleanly', () => {
  it('reads test/fuzz/regressions/*.bin with the target it came from', async () => {
    let files: string[] = [];
    try {
      files = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.bin'));
    } catch {
      files = [];
    }
    for (const f of files) {
      const name = f.slice(0, f.indexOf('--'));
      const bytes = new Uint8Array(readFileSync(new URL(f, REGRESSIONS)));
      const family = SEMANTIC.find((x) => x.name === name);
      if (family) {
        expect(await underBudget(() => runSemantic({ desc: f, fileName: family.fileName, bytes, run: family.run }))).toBeUndefined();
        continue;
      }
      const t = all.find((x) => x.name === name);
      expect(t, `no fuzz target for regression file ${f}`).toBeDefined();
      expect(await runCase(t!, bytes)).toBeUndefined();
    }
    expect(files.length).toBeGreaterThanOrEqual(0);
  });
});

describe('fuzzing sidecars from a real folder: symlinks, FIFOs, missing and mutated files', () => {
  interface SidecarModel {
    what: string;
    /** the model's own files: name -> bytes (the first is the primary file) */
    files: [string, Uint8Array][];
    /** the companion file the variants replace */
    sidecar: string;
    /** the paths given to loadModelFiles (a sidecar the user names may be a symlink anywhere) */
    given: (dir: string) => string[];
  }
  const corpus = (rel: string) => file(rel, CORPUS);
  const models = async (): Promise<SidecarModel[]> => {
    const { bytes, sidecars } = await externalSeed();
    const [[dataName, data]] = [...sidecars];
    return [
      { what: 'ONNX external data', files: [['model.onnx', bytes], [dataName!, data!]], sidecar: dataName!, given: (d) => [join(d, 'model.onnx')] },
      {
        what: 'Caffe caffemodel beside its prototxt',
        files: [['det1.prototxt', corpus('caffe/mtcnn-pnet/det1.prototxt')], ['det1.caffemodel', corpus('caffe/mtcnn-pnet/det1.caffemodel')]],
        sidecar: 'det1.caffemodel',
        given: (d) => [join(d, 'det1.prototxt'), join(d, 'det1.caffemodel')],
      },
      {
        what: 'TF checkpoint shard',
        files: [['variables.index', corpus('tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.index')], ['variables.data-00000-of-00001', corpus('tf-checkpoint/tensorspace-mnist-savedmodel/variables/variables.data-00000-of-00001')]],
        sidecar: 'variables.data-00000-of-00001',
        given: (d) => [join(d, 'variables.index')],
      },
      {
        what: 'TF SessionBundle V1 checkpoint shard',
        files: [['export.meta', corpus('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export.meta')], ['export-00000-of-00001', corpus('tf-checkpoint/serving-half-plus-two-sessionbundle-v1ckpt/export-00000-of-00001')]],
        sidecar: 'export-00000-of-00001',
        given: (d) => [join(d, 'export.meta')],
      },
      {
        what: 'TF.js layers model shard',
        files: [['model.json', corpus('tfjs-layers/tfjs-layers-cnn-sepconv-golden/model.json')], ['weights.bin', corpus('tfjs-layers/tfjs-layers-cnn-sepconv-golden/weights.bin')]],
        sidecar: 'weights.bin',
        given: (d) => [join(d, 'model.json')],
      },
      {
        what: 'TF.js graph model shard',
        files: [['model.json', corpus('tfjs-graph/subhadip-mnist-cnn-conv318/model.json')], ['group1-shard1of1.bin', corpus('tfjs-graph/subhadip-mnist-cnn-conv318/group1-shard1of1.bin')]],
        sidecar: 'group1-shard1of1.bin',
        given: (d) => [join(d, 'model.json')],
      },
    ];
  };

  it('every multi-file model, its companion file replaced in every hostile way', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'nnport-fuzz-fs-'));
    try {
      for (const m of await models()) {
        const data = new Map(m.files).get(m.sidecar)!;
        const outside = join(root, `outside-${m.sidecar}`);
        writeFileSync(outside, data);
        const r = rng(hash(m.what));
        const at = (d: string) => join(d, m.sidecar);
        const variants: Array<[string, (dir: string) => void]> = [
          ['unchanged', (d) => writeFileSync(at(d), data)],
          ['missing', () => undefined],
          ['symlink outside', (d) => symlinkSync(outside, at(d))],
          ['symlink to /dev/zero', (d) => symlinkSync('/dev/zero', at(d))],
          ['symlink to /dev/urandom', (d) => symlinkSync('/dev/urandom', at(d))],
          ['FIFO', (d) => execFileSync('mkfifo', [at(d)])],
          ['folder', (d) => mkdirSync(at(d))],
          ['symlink loop', (d) => symlinkSync(m.sidecar, at(d))],
          ['dangling symlink', (d) => symlinkSync(join(root, 'nowhere'), at(d))],
          ['empty', (d) => writeFileSync(at(d), new Uint8Array(0))],
          ['truncated', (d) => writeFileSync(at(d), data.subarray(0, int(r, data.length)))],
          ['doubled', (d) => writeFileSync(at(d), Buffer.concat([data, data]))],
          ...Array.from({ length: SECONDS ? 40 : 6 }, (_, i): [string, (d: string) => void] => [`mutated #${i}`, (d) => writeFileSync(at(d), generic(data, rng(hash(m.what) + i)).bytes)]),
        ];
        for (const [i, [variant, make]] of variants.entries()) {
          const what = `${m.what}, ${variant}`;
          const dir = join(root, `${m.sidecar}-case${i}`);
          mkdirSync(dir);
          for (const [name, bytes] of m.files) if (name !== m.sidecar) writeFileSync(join(dir, name), bytes);
          make(dir);
          const given = m.given(dir);
          const t0 = Date.now();
          let error: unknown;
          try {
            const loaded = await loadModelFiles(given);
            if (loaded.kind === 'graph') planGraph(loaded.graph);
          } catch (e) {
            error = e;
          }
          countSemantic(`sidecar: ${m.what}`, error === undefined ? 'ok' : 'refused');
          expect(Date.now() - t0, what).toBeLessThan(5000);
          if (error !== undefined) {
            expect(error, `${what}: ${String(error)}`).toBeInstanceOf(NnportError);
            expect(isReaderBug(error), `${what}: ${String(error)}`).toBe(false);
            // names the model, or the companion file at fault
            expect(String((error as Error).message), what).toMatch(new RegExp(`${given[0]!.slice(dir.length + 1)}|${m.sidecar}`.replace(/\./g, '\\.')));
            expect(String((error as Error).message), what).not.toMatch(/internal error/);
          } else {
            // a companion the model finds by itself must be a regular file inside its folder
            const named = given.includes(at(dir));
            expect(variant, `${what} must not read`).toMatch(named ? /unchanged|symlink outside|mutated|truncated|doubled/ : /unchanged|mutated|truncated|doubled/);
          }
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
