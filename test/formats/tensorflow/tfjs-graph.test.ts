// TensorFlow.js graph model of the corpus (grappler-fused _FusedConv2D/_FusedMatMul, dynamic
// flatten): nnport's read runs like TensorFlow.js itself (tf.loadGraphModel on the same files,
// CPU backend), and its weights equal the Keras 3 file it was exported from (h5py).
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFiles, run } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { maxAbsDiff } from './helpers.js';
import { rng } from '../../support/rng.js';

const DIR = 'tfjs-graph/subhadip-mnist-cnn-conv318';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function tfjsPredict(x: Float32Array, shape: number[]): Promise<Float32Array> {
  const dir = corpusPath(DIR);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const data = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), format: json.format, signature: json.signature }),
  );
  const y = model.predict(tf.tensor(x, shape)) as tf.Tensor;
  return Float32Array.from(await y.data());
}

describe('TensorFlow.js graph model', () => {
  it('is detected as a graph model (not a layers model) and runs like tf.loadGraphModel', async () => {
    const model = await loadModelFiles([join(corpusPath(DIR), 'model.json')]);
    expect(model.format).toBe('tfjs-graph');
    if (model.kind !== 'graph') throw new Error('not a graph');
    expect(model.graph.inputs.map((i) => i.name)).toEqual(['input_layer']);
    const r = rng(7);
    const x = Float32Array.from({ length: 2 * 28 * 28 }, () => r());
    const mine = (await run(model, { input_layer: new Tensor('float32', [2, 28, 28, 1], x) })).outputs.get(model.graph.outputs[0]!.name)!;
    const theirs = await tfjsPredict(x, [2, 28, 28, 1]);
    expect(mine.shape).toEqual([2, 10]);
    expect(maxAbsDiff(mine.toFloat32(), theirs)).toBeLessThan(1e-5);
  });

  it("its conv and dense weights equal the Keras 3 source file's (h5py)", async () => {
    const model = await loadModelFiles([join(corpusPath(DIR), 'model.json')]);
    if (model.kind !== 'graph') throw new Error('not a graph');
    const keras = corpusPath('keras-v3/mnist-cnn-k310-tfjs-source/Subhadip_Hensh_MNIST_CNN.keras');
    const script = [
      'import sys, zipfile, io, h5py, numpy as np',
      'z = zipfile.ZipFile(sys.argv[1]); f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")',
      'out = []',
      'f.visititems(lambda n, o: out.append((n, o[()])) if isinstance(o, h5py.Dataset) and n.startswith("layers/") and "/vars/" in n else None)',
      'sys.stdout.write(" ".join("%s:%.9g" % (n, float(np.asarray(v, np.float64).sum())) for n, v in out if np.asarray(v).size > 1))',
    ].join('\n');
    const sums = execFileSync('/usr/bin/python3', ['-c', script, keras], { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map((s) => Number(s.slice(s.lastIndexOf(':') + 1)));
    const mine = [...model.graph.initializers.values()].filter((t) => t.dtype === 'float32' && t.size > 1).map((t) => t.toNumbers().reduce((a, b) => a + b, 0));
    expect(sums.length).toBe(8);
    for (const s of sums) expect(mine.some((m) => Math.abs(m - s) <= 1e-6 * Math.max(1, Math.abs(s)))).toBe(true);
  });
});
