// Keras ConvLSTM1D / 2D / 3D in files written by hand as tf.keras 2.15 (.h5) and Keras 3.10 (.keras)
// lay them out (scripts/fixtures/keras_conv_lstm.py: initial states as call inputs / the
// initial_state keyword, channels_first, go_backwards, strides, dilation, both hard_sigmoids, Keras 3's
// Bidirectional with its direction layers' cells at forward_layer / backward_layer).
// Oracles: NumPy's recurrence computed from the arrays the files were written from, and TF.js
// running the .h5's own config and weights where it can build the model (ConvLSTM2D without
// initial states); nnport's runtime on the IR and onnxruntime-node on the written .onnx.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/index.js';
import { convert, type GraphModel } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ortRun } from '../../support/ort.js';
import { npyTensor } from '../tensorflow/helpers.js';
import { nnportRun, predict, relError, tfjsModelFromH5 } from './tfjs-oracle.js';

const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/keras_conv_lstm.py');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-convlstm-'));

beforeAll(async () => {
  execFileSync('/usr/bin/python3', [SCRIPT, tmp], { stdio: 'inherit' });
  await initKernels();
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The fixture's inputs and NumPy's outputs (<base>-input<i>.npy, <base>-output<k>.npy). */
function arrays(base: string, inputs: number, outputs: number): { xs: Tensor[]; want: Tensor[] } {
  const load = (kind: string, n: number) => Array.from({ length: n }, (_, i) => npyTensor(join(tmp, `${base}-${kind}${i}.npy`)));
  return { xs: load('input', inputs), want: load('output', outputs) };
}

async function read(file: string): Promise<GraphModel> {
  const bytes = new Uint8Array(readFileSync(join(tmp, file)));
  return file.endsWith('.keras') ? readKerasV3(bytes, { fileName: file }) : readKerasH5(bytes, { fileName: file });
}

const FILES: Array<[file: string, base: string, inputs: number, outputs: number, shape0: number[]]> = [
  ['convlstm2d.h5', 'convlstm2d', 1, 1, [2, 3, 4, 2]],
  ['convlstm-states.h5', 'convlstm-states', 3, 3, [2, 3, 5, 5, 3]],
  ['convlstm1d.h5', 'convlstm1d', 1, 1, [2, 4, 2]],
  ['convlstm3d.keras', 'convlstm3d-keras', 1, 1, [2, 3, 4, 3, 2]],
  ['convlstm2d.keras', 'convlstm2d-keras', 3, 3, [2, 3, 3, 6, 5]],
  ['convlstm-bidi.keras', 'convlstm-bidi-keras', 1, 1, [2, 3, 5, 4, 4]],
];

describe('Keras ConvLSTM files (tf.keras 2.15 .h5, Keras 3 .keras) against NumPy', () => {
  it.each(FILES)('%s: nnport and its .onnx in onnxruntime equal NumPy', async (file, base, inputs, outputs, shape0) => {
    const model = await read(file);
    const g = model.graph;
    const { xs, want } = arrays(base, inputs, outputs);
    expect(g.inputs.length).toBe(inputs);
    const got = await nnportRun(g, xs);
    const ort = [...(await ortRun((await convert(model, 'convlstm.onnx')).bytes, xs)).values()];
    expect(got.length).toBe(outputs);
    expect(ort.length).toBe(outputs);
    expect(got[0]!.shape).toEqual(shape0);
    const errs = want.map((w, k) => {
      expect(got[k]!.shape).toEqual(w.shape);
      expect(ort[k]!.shape).toEqual(w.shape);
      return [relError(got[k]!, w), relError(ort[k]!, w)] as const;
    });
    console.log(`${file}: nnport vs NumPy ${errs.map((e) => e[0].toExponential(2)).join(' / ')}, .onnx in onnxruntime vs NumPy ${errs.map((e) => e[1].toExponential(2)).join(' / ')}`);
    for (const [a, b] of errs) {
      expect(a).toBeLessThan(1e-5);
      expect(b).toBeLessThan(1e-5);
    }
  });

  it('convlstm2d.h5: TF.js running the file (its own config and weights) equals NumPy and nnport', async () => {
    const bytes = new Uint8Array(readFileSync(join(tmp, 'convlstm2d.h5')));
    const { xs, want } = arrays('convlstm2d', 1, 1);
    const tfjs = predict(await tfjsModelFromH5(bytes), xs)[0]!;
    const g = (await read('convlstm2d.h5')).graph;
    const got = (await runGraph(g, new Map([[g.inputs[0]!.name, xs[0]!]]))).outputs.get(g.outputs[0]!.name)!;
    const [eNumpy, eNnport] = [relError(tfjs, want[0]!), relError(got, tfjs)];
    console.log(`convlstm2d.h5: TF.js vs NumPy ${eNumpy.toExponential(2)}, nnport vs TF.js ${eNnport.toExponential(2)}`);
    expect(eNumpy).toBeLessThan(1e-5);
    expect(eNnport).toBeLessThan(1e-5);
  });
});
