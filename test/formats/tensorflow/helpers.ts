// Test helpers for the TensorFlow readers: the Python oracles' outputs (scripts/fixtures/
// tf_goldens.py, generated into .fixtures-cache/tf the first time) and a tiny .npy parser
// that does not use nnport's own.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../../../src/ir/dtypes.js';
import { readNpy } from '../../../src/formats/numpy/npy-read.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';

export const TF_CACHE = join(REPO_ROOT, '.fixtures-cache/tf');
const PY = '/usr/bin/python3';

/**
 * .fixtures-cache/<cache>, made by `scripts/fixtures/<script> --out` (Debian's python) and made again
 * whenever the script changes (its SHA-256 in the folder's `stamp`); the folder.
 */
export function stampedFixtures(script: string, cache: string): string {
  const make = join(REPO_ROOT, 'scripts/fixtures', script);
  const dir = join(REPO_ROOT, '.fixtures-cache', cache);
  const stamp = createHash('sha256').update(readFileSync(make)).update('\0').digest('hex');
  const file = join(dir, 'stamp');
  if (existsSync(file) && readFileSync(file, 'utf8') === stamp) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync(PY, [make, '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(file, stamp);
  return dir;
}

/** The oracle outputs; generated with Debian's python (numpy, OpenCV) when missing. */
export function tfGoldens(): string {
  if (!existsSync(join(TF_CACHE, 'ckpt-tensorspace-mnist-savedmodel/vars.json'))) {
    execFileSync(PY, [join(REPO_ROOT, 'scripts/fixtures/tf_goldens.py'), '--out', TF_CACHE], { stdio: 'inherit' });
  }
  return TF_CACHE;
}

/**
 * A .npy file as raw little-endian C-order bytes plus dtype and shape (NumPy writes a transposed
 * result Fortran-ordered; readNpy turns it back, so goldens compare element for element).
 */
export function loadNpy(path: string): { dtype: DType; shape: number[]; bytes: Uint8Array } {
  const t = readNpy(new Uint8Array(readFileSync(path)), path);
  return { dtype: t.dtype, shape: [...t.shape], bytes: t.bytes().slice() };
}

export function npyTensor(path: string): Tensor {
  return readNpy(new Uint8Array(readFileSync(path)), path);
}

export { maxAbsDiff } from '../../support/error-metrics.js';
