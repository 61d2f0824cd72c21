// Keras TimeDistributed read from TF.js layers models (model.json), Keras 2 .h5 and Keras 3 .keras
// files, against TensorFlow.js (4.9, CPU backend) running the same file's config and weights.
import { describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { predict, randomInput, relError, tf, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';

/** Concrete input shapes: unknown batch -> 3, unknown time -> 4. */
const concrete = (g: Graph): number[][] => g.inputs.map((v) => v.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 3 : 4)));

async function nnportRun(g: Graph, xs: Tensor[]): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

/** Seeded weights away from the initializers' zeros / ones; BatchNormalization variances positive. */
function seedWeights(m: tf.LayersModel, seed: number): void {
  m.setWeights(m.weights.map((w, i) => {
    const r = tf.randomUniform(w.shape, -1, 1, 'float32', seed + i);
    return /moving_variance/.test(w.originalName) ? tf.add(tf.abs(r), 0.5) : tf.mul(r, 0.7);
  }));
}

const td = (layer: unknown, extra: Record<string, unknown> = {}) => tf.layers.timeDistributed({ layer: layer as never, ...extra });

export const TD_MODELS: Array<[string, () => tf.LayersModel]> = [
  ['video classifier: TD(Conv2D same relu, BatchNormalization, MaxPooling2D, Flatten, Dense) -> LSTM', () => tf.sequential({ layers: [
    td(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), { inputShape: [5, 8, 8, 2] }),
    td(tf.layers.batchNormalization()),
    td(tf.layers.maxPooling2d({ poolSize: 2 })),
    td(tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2 })),
    td(tf.layers.flatten()),
    td(tf.layers.dense({ units: 6, activation: 'tanh' })),
    tf.layers.lstm({ units: 4 }),
  ] })],
  ['seq2seq head: LSTM return_sequences -> TD(Dense softmax)', () => tf.sequential({ layers: [
    tf.layers.lstm({ units: 5, returnSequences: true, inputShape: [6, 3] }),
    td(tf.layers.dense({ units: 4, activation: 'softmax' })),
  ] })],
  ['CRNN: TD(Conv1D, GlobalMaxPooling1D) -> GRU, then TD(Dense) on rank 3', () => tf.sequential({ layers: [
    td(tf.layers.conv1d({ filters: 3, kernelSize: 3, activation: 'relu' }), { inputShape: [4, 7, 2] }),
    td(tf.layers.globalMaxPooling1d({})),
    tf.layers.gru({ units: 4, returnSequences: true }),
    td(tf.layers.dense({ units: 2 })),
  ] })],
  ['unknown time: TD(Conv2D, GlobalAveragePooling2D) -> SimpleRNN', () => tf.sequential({ layers: [
    td(tf.layers.conv2d({ filters: 3, kernelSize: 3 }), { inputShape: [null, 6, 6, 2] }),
    td(tf.layers.globalAveragePooling2d({})),
    tf.layers.simpleRNN({ units: 3 }),
  ] })],
];

describe('Keras TimeDistributed against TensorFlow.js', () => {
  it.each(TD_MODELS)('%s (TF.js model.json)', async (_name, make) => {
    const m = make();
    seedWeights(m, 100);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const oracle = await tfjsModelFromJson(json, () => shard);
    const xs = concrete(model.graph).map((s, i) => randomInput(s, 5 + i));
    const want = predict(oracle, xs);
    const got = await nnportRun(model.graph, xs);
    expect(got[0]!.shape).toEqual(want[0]!.shape);
    const err = relError(got[0]!, want[0]!);
    console.log(`${_name}: nnport vs TF.js ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});
