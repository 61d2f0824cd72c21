// Test helpers for the TensorFlow readers: the Python oracles' outputs (scripts/fixtures/
// tf_goldens.py, generated into .fixtures-cache/tf the first time) and a tiny .npy parser
// that does not use nnport's own.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../../../src/ir/dtypes.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';

export const TF_CACHE = join(REPO_ROOT, '.fixtures-cache/tf');
const PY = '/usr/bin/python3';

/** The oracle outputs; generated with Debian's python (numpy, OpenCV) when missing. */
export function tfGoldens(): string {
  if (!existsSync(join(TF_CACHE, 'ckpt-tensorspace-mnist-savedmodel/vars.json'))) {
    execFileSync(PY, [join(REPO_ROOT, 'scripts/fixtures/tf_goldens.py'), '--out', TF_CACHE], { stdio: 'inherit' });
  }
  return TF_CACHE;
}

const DESCR: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i4': 'int32', '<i8': 'int64', '|u1': 'uint8', '|i1': 'int8',
  '<i2': 'int16', '<u2': 'uint16', '|b1': 'bool', '<u4': 'uint32', '<u8': 'uint64',
};

/** A .npy file as raw little-endian bytes plus dtype and shape. */
export function loadNpy(path: string): { dtype: DType; shape: number[]; bytes: Uint8Array } {
  const b = new Uint8Array(readFileSync(path));
  const major = b[6]!;
  const hlen = major === 1 ? b[8]! | (b[9]! << 8) : new DataView(b.buffer, b.byteOffset).getUint32(8, true);
  const pre = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(b.subarray(pre, pre + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1]!;
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const dtype = DESCR[descr];
  if (!dtype) throw new Error(`npy descr ${descr}`);
  return { dtype, shape, bytes: b.slice(pre + hlen) };
}

export function npyTensor(path: string): Tensor {
  const a = loadNpy(path);
  const t = Tensor.zeros(a.dtype, a.shape);
  t.bytes().set(a.bytes.subarray(0, t.byteLength));
  return t;
}

export { maxAbsDiff } from '../../support/error-metrics.js';
