// A Keras model used as a layer and called more than once (shared weights: siamese and triplet
// networks' encoders), built and saved by TensorFlow.js itself, read by nnport and compared with
// TF.js' predict: nnport's runtime, onnxruntime on the written .onnx and the TFLite interpreter on
// the written .tflite; the shared weights stay one initializer each. Plus tf.keras-layout .h5 /
// Keras 3 .keras siamese files (scripts/fixtures/keras_nested_h5.py): TF.js on the same .h5, NumPy
// for the .keras.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/read.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsRoundTrip } from './tfjs-oracle.js';

const L = tf.layers;
const oracle = useTfliteOracle();
type ST = tf.SymbolicTensor;

function seed(m: tf.LayersModel, s: number): void {
  m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', s + i), 0.6)));
}

async function runNnport(g: Graph, xs: Tensor[]): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!])));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

/** conv encoder: Conv2D, relu, GlobalAveragePooling2D, Dense (a Sequential). */
function convEncoder(): tf.Sequential {
  return tf.sequential({ name: 'encoder', layers: [L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [6, 5, 3] }), L.globalAveragePooling2d({}), L.dense({ units: 5 })] });
}

const CASES: Array<[string, () => tf.LayersModel, number[][]]> = [
  ['a siamese network: a Sequential conv encoder on two images, the embeddings concatenated -> Dense sigmoid', () => {
    const enc = convEncoder();
    const a = tf.input({ shape: [6, 5, 3] });
    const b = tf.input({ shape: [6, 5, 3] });
    const both = L.concatenate().apply([enc.apply(a) as ST, enc.apply(b) as ST]) as ST;
    return tf.model({ inputs: [a, b], outputs: L.dense({ units: 1, activation: 'sigmoid' }).apply(both) as ST });
  }, [[6, 5, 3], [6, 5, 3]]],
  ['a triplet network: a functional two-output encoder called three times, every output read', () => {
    const x = tf.input({ shape: [4] });
    const h = L.dense({ units: 6, activation: 'tanh' }).apply(x) as ST;
    const enc = tf.model({ inputs: x, outputs: [L.dense({ units: 3 }).apply(h) as ST, L.dense({ units: 2 }).apply(h) as ST], name: 'enc' });
    const ins = [0, 1, 2].map(() => tf.input({ shape: [4] }));
    const outs = ins.flatMap((i) => enc.apply(i) as ST[]);
    return tf.model({ inputs: ins, outputs: L.concatenate().apply(outs) as ST });
  }, [[4], [4], [4]]],
  ['an encoder whose own Dense is shared (called twice inside it), itself called twice', () => {
    const x = tf.input({ shape: [5] });
    const d = L.dense({ units: 5, activation: 'tanh' });
    const enc = tf.model({ inputs: x, outputs: d.apply(d.apply(x) as ST) as ST, name: 'twice_inside' });
    const a = tf.input({ shape: [5] });
    const b = tf.input({ shape: [5] });
    return tf.model({ inputs: [a, b], outputs: L.multiply().apply([enc.apply(a) as ST, enc.apply(b) as ST]) as ST });
  }, [[5], [5]]],
  ['two levels, both shared: a block calling a Sequential twice, the block called twice, one call feeding the other', () => {
    const leaf = tf.sequential({ name: 'leaf', layers: [L.dense({ units: 4, activation: 'relu', inputShape: [4] }), L.dense({ units: 4 })] });
    const x = tf.input({ shape: [4] });
    const mid = tf.model({ inputs: x, outputs: L.add().apply([leaf.apply(x) as ST, leaf.apply(leaf.apply(x) as ST) as ST]) as ST, name: 'mid' });
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const first = mid.apply(a) as ST;
    return tf.model({ inputs: [a, b], outputs: [first, mid.apply(L.add().apply([first, b]) as ST) as ST] });
  }, [[4], [4]]],
];

describe('a nested Keras model called more than once (TF.js-saved model.json): nnport, onnxruntime, TFLite = TF.js', () => {
  for (const [what, build, shapes] of CASES) {
    it(what, async () => {
      const m = build();
      seed(m, 31);
      const xs = shapes.map((s, i) => randomInput([2, ...s], 5 + i));
      const want = predict(m, xs);
      const { json, shard } = await tfjsRoundTrip(m);
      const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
      const g = model.graph;
      // the shared weights are one initializer each: as many as TF.js' weights
      expect(g.initializers.size - [...g.initializers.values()].filter((t) => t.dtype === 'int64' || t.rank === 0).length).toBe(m.getWeights().length);
      const got = await runNnport(g, xs);
      expect(got.length).toBe(want.length);
      got.forEach((y, i) => {
        expect(y.shape).toEqual(want[i]!.shape);
        expect(relError(y, want[i]!)).toBeLessThan(1e-5);
      });

      const onnx = await convert(model, 'shared.onnx');
      const fromOrt = [...(await ortRun(onnx.bytes, xs)).values()];
      fromOrt.forEach((y, i) => expect(relError(y, want[i]!)).toBeLessThan(1e-5));

      const one = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard, inputShapes: Object.fromEntries(g.inputs.map((v, i) => [v.name, [1, ...shapes[i]!]])) });
      const x1 = shapes.map((s, i) => randomInput([1, ...s], 9 + i));
      const want1 = predict(m, x1);
      const tfl = await convert(one, 'shared.tflite');
      const ys = await oracle.run(tfl.bytes, x1.map((t) => t.toFloat32()));
      ys.forEach((y, i) => expect(relError(Tensor.float32(y.shape, Float32Array.from(y.data)), want1[i]!)).toBeLessThan(1e-5));
    });
  }
});

describe('siamese files: a tf.keras-layout .h5 (TF.js on the same file) and a Keras 3 .keras (NumPy)', () => {
  const dir = ensureScriptFixtures('keras_nested_h5.py', 'keras-nested', ['siamese', 'keras3_siamese']);

  it('siamese .h5: a functional channels_first conv encoder called on two inputs (nodes 1 and 2) = TF.js', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'siamese', 'model.h5')));
    const xs = [randomInput([2, 3, 6, 5], 3), randomInput([2, 3, 6, 5], 4)];
    const want = predict(await tfjsModelFromH5(bytes), xs)[0]!;
    const model = await readKerasH5(bytes, { fileName: 'siamese.h5' });
    expect(model.graph.nodes.map((n) => n.name)).toEqual(expect.arrayContaining(['enc/conv', 'enc/conv_call1']));
    const [got] = await runNnport(model.graph, xs);
    expect(got!.shape).toEqual(want.shape);
    expect(relError(got!, want)).toBeLessThan(1e-5);
  });

  it('keras3_siamese .keras: a nested Sequential called twice = NumPy', async () => {
    const x = [0, 1].map((i) => readNpy(readFileSync(join(dir, 'keras3_siamese', `input${i}.npy`))));
    const want = readNpy(readFileSync(join(dir, 'keras3_siamese', 'output.npy')));
    const model = await readKerasV3(new Uint8Array(readFileSync(join(dir, 'keras3_siamese', 'model.keras'))), { fileName: 'siamese.keras' });
    const [got] = await runNnport(model.graph, x);
    expect(got!.shape).toEqual(want.shape);
    expect(relError(got!, want)).toBeLessThan(1e-5);
  });
});

describe('a nested model read at a call it does not have', () => {
  it('is refused by name', async () => {
    const inner = tf.sequential({ name: 'inner', layers: [L.dense({ units: 2, inputShape: [3] })] });
    const a = tf.input({ shape: [3] });
    const b = tf.input({ shape: [3] });
    const m = tf.model({ inputs: [a, b], outputs: L.add().apply([inner.apply(a) as ST, inner.apply(b) as ST]) as ST });
    const { json, shard } = await tfjsRoundTrip(m);
    // the Add reads call 3 of a model called twice (nodes 1 and 2)
    const text = new TextDecoder().decode(json).replace('["inner",2,0,{}]', '["inner",3,0,{}]');
    await expect(readTfjsLayers(new TextEncoder().encode(text), { fileName: 'bad.json', readSibling: async () => shard })).rejects.toThrow(/unsupported: a nested Keras model read at call 3: layer 'inner'/);
  });
});

describe('a TFOpLambda inside a nested model called twice', () => {
  it('keeps its TF function arguments on every call (x * 3 on each branch) = TF.js computing the same', async () => {
    const input = (name: string) => ({ class_name: 'InputLayer', name, config: { name, batch_input_shape: [null, 4], dtype: 'float32' }, inbound_nodes: [] });
    const enc = {
      class_name: 'Functional',
      name: 'enc',
      config: { name: 'enc', layers: [input('x'), { class_name: 'TFOpLambda', name: 'times3', config: { name: 'times3', trainable: true, dtype: 'float32', function: 'math.multiply' }, inbound_nodes: [['x', 0, 0, { y: 3.0, name: null }]] }], input_layers: [['x', 0, 0]], output_layers: [['times3', 0, 0]] },
      inbound_nodes: [[['a', 0, 0, {}]], [['b', 0, 0, {}]]],
    };
    const topology = { class_name: 'Functional', config: { name: 'model', layers: [input('a'), input('b'), enc, { class_name: 'Concatenate', name: 'cat', config: { name: 'cat', axis: -1 }, inbound_nodes: [[['enc', 1, 0, {}], ['enc', 2, 0, {}]]] }], input_layers: [['a', 0, 0], ['b', 0, 0]], output_layers: [['cat', 0, 0]] }, keras_version: '2.11.0', backend: 'tensorflow' };
    const model = await readTfjsLayers(new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: topology })), { fileName: 'op-lambda.json' });
    const xs = [randomInput([2, 4], 1), randomInput([2, 4], 2)];
    const want = tf.concat(xs.map((x) => tf.mul(tf.tensor(x.toFloat32(), [2, 4]), 3)), -1);
    const [got] = await runNnport(model.graph, xs);
    expect(relError(got!, Tensor.float32(want.shape, want.dataSync()))).toBeLessThan(1e-6);
  });
});
