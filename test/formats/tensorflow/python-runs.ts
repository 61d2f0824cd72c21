// Python oracles for GraphDefs nnport writes: scripts/fixtures/tf_numpy_run.py (NumPy, from
// a hand-written protobuf decoder) and tf_opencv_run.py (OpenCV dnn), their outputs cached under
// .fixtures-cache/tf-written-runs/<tag>-<kind>/ while the stamp (script, .pb, input, outputs) holds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../../src/formats/numpy/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff, npyTensor } from './helpers.js';

const PY = '/usr/bin/python3';
const NUMPY_RUN = join(REPO_ROOT, 'scripts/fixtures/tf_numpy_run.py');
const OPENCV_RUN = join(REPO_ROOT, 'scripts/fixtures/tf_opencv_run.py');
const RUNS = join(REPO_ROOT, '.fixtures-cache/tf-written-runs');

const sha = (...parts: (string | Uint8Array)[]): string => parts.reduce((h, p) => h.update(p).update('\0'), createHash('sha256')).digest('hex');

/** NCHW <-> NHWC of a 4-D float32 tensor. */
export function permute4(t: Tensor, perm: number[]): Tensor {
  const s = t.shape as number[];
  const out = s.map((_, i) => s[perm[i]!]!);
  const src = t.toFloat32();
  const dst = new Float32Array(src.length);
  const stride = [s[1]! * s[2]! * s[3]!, s[2]! * s[3]!, s[3]!, 1];
  let k = 0;
  for (let a = 0; a < out[0]!; a++) for (let b = 0; b < out[1]!; b++) for (let c = 0; c < out[2]!; c++) for (let d = 0; d < out[3]!; d++) {
    const idx = [a, b, c, d];
    let o = 0;
    for (let i = 0; i < 4; i++) o += idx[i]! * stride[perm[i]!]!;
    dst[k++] = src[o]!;
  }
  return new Tensor('float32', out, dst);
}

/** A Python runner's outputs (name -> NHWC tensor) for a .pb and input, cached by stamp. */
export function pythonRun(kind: 'numpy' | 'opencv', tag: string, pb: Uint8Array, x: Tensor, outputs: string[]): Map<string, Tensor> {
  const script = kind === 'numpy' ? NUMPY_RUN : OPENCV_RUN;
  const xBytes = writeNpy(x);
  const dir = join(RUNS, `${tag}-${kind}`);
  const stamp = sha(readFileSync(script), readFileSync(NUMPY_RUN), pb, xBytes, outputs.join(','));
  if (!(existsSync(join(dir, 'stamp')) && readFileSync(join(dir, 'stamp'), 'utf8') === stamp)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.pb'), pb);
    writeFileSync(join(dir, 'input.npy'), xBytes);
    if (kind === 'numpy') execFileSync(PY, [NUMPY_RUN, join(dir, 'model.pb'), join(dir, 'input.npy'), dir, ...outputs], { stdio: ['ignore', 'ignore', 'pipe'] });
    else for (const o of outputs) execFileSync(PY, [OPENCV_RUN, join(dir, 'model.pb'), join(dir, 'input.npy'), join(dir, `${o}.npy`), o], { stdio: ['ignore', 'ignore', 'pipe'] });
    writeFileSync(join(dir, 'stamp'), stamp);
  }
  return new Map(outputs.map((o) => [o, npyTensor(join(dir, `${o}.npy`))]));
}

export function relativeError(got: Tensor, want: Tensor): number {
  const w = want.toFloat32();
  return maxAbsDiff(got.toFloat32(), w) / w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

