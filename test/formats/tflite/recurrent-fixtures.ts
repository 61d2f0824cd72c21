// The PyTorch recurrent fixtures of scripts/fixtures/recurrent_onnx.py (exported once into
// .fixtures-cache/recurrent-onnx/ by the first test file that needs them), and the error measure
// the recurrent writer tests use.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';

const DIR = join(REPO_ROOT, '.fixtures-cache/recurrent-onnx');
export const RECURRENT_MODELS = ['lstm_time_major', 'lstm_batch_first', 'lstm_batch_first_seq', 'lstm_bidi', 'lstm_layout1', 'lstm_conv', 'rnn_tanh', 'rnn_relu_bidi', 'gru', 'lstm_dynamic_batch', 'lstm_dynamic_time', 'lstm_dynamic_time_only', 'lstm_last_step', 'lstm_dynamic_last_step'];

/** Export the fixtures unless all are cached (meta.json is written last). */
export function exportMissingRecurrentFixtures(): void {
  if (RECURRENT_MODELS.every((m) => existsSync(join(DIR, m, 'meta.json')))) return;
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/recurrent_onnx.py'), '--out', DIR], { stdio: 'pipe' });
}

/** The folder of a fixture (model.onnx, input.npy, output<i>.npy, meta.json). */
export const recurrentDir = (name: string): string => join(DIR, name);

export interface RecurrentFixture {
  graph: Graph;
  input: Tensor;
  outputs: Float32Array[];
}

export async function recurrentFixture(name: string): Promise<RecurrentFixture> {
  const dir = recurrentDir(name);
  const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { outputs: number[][] };
  const outputs = meta.outputs.map((_, i) => readNpy(readFileSync(join(dir, `output${i}.npy`))).toFloat32());
  return { graph: (m as { graph: Graph }).graph, input: readNpy(readFileSync(join(dir, 'input.npy'))), outputs };
}

export { relErr } from '../../support/error-metrics.js';

