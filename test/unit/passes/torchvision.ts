// The torchvision fixtures (PyTorch's exports, scripts/fixtures/export_torchvision.py) as graphs
// with their input and PyTorch's output; found by test/support/torchvision-fixtures.ts (the vitest
// globalSetup makes the ones that are not committed). A missing fixture fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';

export { TORCHVISION_MODELS } from '../../support/torchvision-fixtures.js';

export interface TorchvisionFixture {
  graph: Graph;
  /** NCHW input and PyTorch's output for it */
  input: Tensor;
  output: Tensor;
}

export async function torchvisionFixture(name: string): Promise<TorchvisionFixture> {
  const dir = torchvisionDir(name);
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
