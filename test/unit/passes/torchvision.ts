// The torchvision fixtures of test/formats/onnx/real-models.test.ts (exported by PyTorch with
// scripts/fixtures/export_torchvision.py; small ones committed, the rest made into
// .fixtures-cache/models/ on first use). A fixture that is missing and cannot be made fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'scripts/fixtures/export_torchvision.py');
const DIRS = [join(ROOT, 'test/fixtures/models'), join(ROOT, '.fixtures-cache/models')];

export const TORCHVISION_MODELS = ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0', 'mobilenet_v2', 'resnet18', 'efficientnet_b0', 'densenet121'] as const;

const complete = (dir: string): boolean => ['model.onnx', 'input.npy', 'output.npy', 'meta.json'].every((f) => existsSync(join(dir, f)));

function dirOf(name: string): string {
  let dir = DIRS.map((d) => join(d, name)).find(complete);
  if (!dir) {
    const run = spawnSync(PYTHON, [SCRIPT, '--out', DIRS[1]!, '--models', name], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`fixture ${name} is missing and ${SCRIPT} failed (exit ${run.status ?? run.signal}): ${(run.stderr || String(run.error)).slice(-2000)}`);
    dir = DIRS.map((d) => join(d, name)).find(complete);
    if (!dir) throw new Error(`${SCRIPT} ran but did not produce fixture ${name}`);
  }
  return dir;
}

export interface TorchvisionFixture {
  graph: Graph;
  /** NCHW input and PyTorch's output for it */
  input: Tensor;
  output: Tensor;
}

export async function torchvisionFixture(name: string): Promise<TorchvisionFixture> {
  const dir = dirOf(name);
  const npy = (f: string) => readNpy(readFileSync(join(dir, f)), f);
  return { graph: await readOnnx(readFileSync(join(dir, 'model.onnx')), { fileName: `${name}/model.onnx` }), input: npy('input.npy'), output: npy('output.npy') };
}

/** max |a - b| / max(1, max |b|): the error relative to the output's scale. */
export function relativeError(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  if (x.length !== y.length) return Infinity;
  let scale = 1;
  for (const v of y) scale = Math.max(scale, Math.abs(v));
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m / scale;
}
