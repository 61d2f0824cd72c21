// Test helpers for the PyTorch reader: fixture paths, an independent .npy parser, and a tiny
// pickle assembler for hostile inputs. Nothing here uses nnport's own readers.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../..');
export const FIXTURES = join(REPO, 'test/fixtures/pytorch');
export const CACHE = join(REPO, '.fixtures-cache/pytorch');
export const CORPUS = resolve(REPO, '../shared/corpus/pytorch');
export const PY = '/usr/bin/python3';

let torchOk: boolean | undefined;
/** Debian python with torch, torchvision and numpy: needed to generate the big fixtures. */
export function havePythonTorch(): boolean {
  if (torchOk === undefined) {
    const r = existsSync(PY) ? spawnSync(PY, ['-c', 'import torch, torchvision, numpy'], { encoding: 'utf8' }) : undefined;
    torchOk = r?.status === 0;
  }
  return torchOk;
}

/** Make sure the generated fixtures of `set` exist in .fixtures-cache/pytorch; false (with a reason printed) if they cannot be made. */
export function ensureCache(set: string, probe: string): boolean {
  if (existsSync(join(CACHE, probe))) return true;
  if (!havePythonTorch()) {
    console.warn(`skipping: ${probe} is not generated and ${PY} with torch/torchvision is not available`);
    return false;
  }
  execFileSync(PY, [join(REPO, 'scripts/fixtures/pytorch_state_dicts.py'), '--out', CACHE, '--sets', set], { stdio: 'inherit' });
  return existsSync(join(CACHE, probe));
}

export interface NpyArray {
  descr: string;
  shape: number[];
  data: Uint8Array;
}

/** A minimal .npy parser (C order only), independent of src/formats/npy. */
export function parseNpy(bytes: Uint8Array): NpyArray {
  const major = bytes[6]!;
  const hlen = major === 1 ? bytes[8]! | (bytes[9]! << 8) : new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const pre = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(pre, pre + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1]!;
  if (/'fortran_order':\s*True/.test(header)) throw new Error('fortran order in a fixture');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { descr, shape, data: bytes.subarray(pre + hlen) };
}

export interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** The tensors PyTorch dumped for a case: <name>.expected/index.json + .npy files. */
export function loadExpected(folder: string): ExpectedTensor[] {
  const index = JSON.parse(readFileSync(join(folder, 'index.json'), 'utf8')) as { tensors: { name: string; file: string; dtype: string; shape: number[] }[] };
  return index.tensors.map((t) => {
    const npy = parseNpy(new Uint8Array(readFileSync(join(folder, t.file))));
    return { name: t.name, dtype: t.dtype, shape: t.shape, data: npy.data };
  });
}

/** torch dtype names -> nnport dtypes */
export const TORCH_DTYPE: Record<string, string> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  bfloat16: 'bfloat16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
};

// ---- a pickle assembler for hostile inputs ----

export class PickleBuilder {
  private readonly parts: number[] = [0x80, 2];
  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  text(s: string): this {
    for (const c of new TextEncoder().encode(s)) this.parts.push(c);
    return this;
  }
  global(module: string, name: string): this {
    return this.op(0x63).text(`${module}\n${name}\n`);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    for (const c of b) this.parts.push(c);
    return this;
  }
  int(v: number): this {
    return this.op(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  reduce(): this {
    return this.op(0x52);
  }
  stop(): Uint8Array {
    return new Uint8Array([...this.parts, 0x2e]);
  }
  /** `{'w': torch._utils._rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), 0, shape, stride, False, OrderedDict())}` */
  static stateDict(key: string, numel: number, shape: number[]): Uint8Array {
    const b = new PickleBuilder().op(0x7d).str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
    b.mark().str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel).tuple().op(0x51);
    b.int(0).mark();
    for (const d of shape) b.int(d);
    b.tuple().mark();
    let s = 1;
    const strides: number[] = [];
    for (let i = shape.length - 1; i >= 0; i--) {
      strides.unshift(s);
      s *= shape[i]!;
    }
    for (const d of strides) b.int(d);
    b.tuple().op(0x89).global('collections', 'OrderedDict').op(0x29).reduce().tuple().reduce().op(0x73);
    return b.stop();
  }
}
