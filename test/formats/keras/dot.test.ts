// Keras' Dot layer read (src/formats/keras/dot.ts): TF.js-built functional models with Dot over
// each pair of axes of rank-3 inputs and over axis 1 of rank-2 inputs, saved as TF.js saves them,
// read by nnport and run by its runtime against TF.js' own predictions; normalize=True and rank 4
// are refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { predict, randomInput, relError, tf, tfjsRoundTrip } from './tfjs-oracle.js';

beforeAll(async () => {
  await initKernels();
});

function dotModel(a: number[], b: number[], axes: number | [number, number], normalize = false): tf.LayersModel {
  const x = tf.input({ shape: a });
  const y = tf.input({ shape: b });
  return tf.model({ inputs: [x, y], outputs: tf.layers.dot({ axes, normalize }).apply([x, y]) as tf.SymbolicTensor });
}

describe('Keras Dot read', () => {
  const cases: Array<[number[], number[], number | [number, number]]> = [
    [[4, 5], [5, 3], [2, 1]],
    [[4, 5], [3, 5], [2, 2]],
    [[5, 4], [5, 3], [1, 1]],
    [[5, 4], [3, 5], [1, 2]],
    [[5, 4], [3, 5], [-2, -1]],
    [[6], [6], 1],
  ];
  for (const [a, b, axes] of cases) {
    it(`[${a}] . [${b}] axes ${JSON.stringify(axes)}: nnport's run equals TF.js`, async () => {
      const m = dotModel(a, b, axes);
      const { json, shard } = await tfjsRoundTrip(m);
      const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
      const xs = [randomInput([2, ...a], 3), randomInput([2, ...b], 4)];
      const want = predict(m, xs)[0]!;
      const names = model.graph.inputs.map((v) => v.name);
      const got = (await runGraph(model.graph, new Map(names.map((n, i) => [n, xs[i]!])))).outputs.values().next().value!;
      expect(got.shape).toEqual(want.shape);
      expect(relError(got, want)).toBeLessThan(1e-6);
    });
  }

  it('refuses normalize=True and rank-4 inputs by name', async () => {
    const n = await tfjsRoundTrip(dotModel([4, 5], [5, 3], [2, 1], true));
    await expect(readTfjsLayers(n.json, { fileName: 'model.json', readSibling: async () => n.shard })).rejects.toThrow(/Keras Dot with normalize=True/);
    // TF.js builds no rank-4 Dot: its rank-3 model's inputs given one more axis
    const r3 = await tfjsRoundTrip(dotModel([4, 5], [5, 3], [2, 1]));
    const j = JSON.parse(new TextDecoder().decode(r3.json));
    for (const l of j.modelTopology.config.layers) if (l.class_name === 'InputLayer') l.config.batch_input_shape = [null, 2, ...l.config.batch_input_shape.slice(1)];
    const r4 = new TextEncoder().encode(JSON.stringify(j));
    await expect(readTfjsLayers(r4, { fileName: 'model.json', readSibling: async () => r3.shard })).rejects.toThrow(/Keras Dot of rank-4 and rank-4 inputs/);
  });
});
