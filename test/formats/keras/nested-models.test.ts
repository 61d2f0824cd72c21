// Keras models used as layers (a Sequential inside a functional model, a two-input functional block,
// two levels of nesting, a conv base + GlobalAveragePooling2D + Dense head) built and saved by
// TensorFlow.js itself; nnport reads the model.json, runs it, and equals TF.js' predict. One of them
// also through the .tflite writer (the real TFLite interpreter) and the Keras .h5 writer (a flat
// model TF.js runs). A nested model called more than once: nested-shared.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/read.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { Tensor as T } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsRoundTrip } from './tfjs-oracle.js';

const L = tf.layers;
const oracle = useTfliteOracle();

/** Seeded weights away from the initializers' (BN variances positive). */
function seed(m: tf.LayersModel, s: number): void {
  m.setWeights(m.getWeights().map((w, i) => {
    const r = tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', s + i), 0.6);
    return w.shape.length === 1 && /variance/.test(m.weights[i]!.name) ? tf.add(tf.abs(r), 0.5) : r;
  }));
}

async function readBack(m: tf.LayersModel) {
  const { json, shard } = await tfjsRoundTrip(m);
  return readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
}

async function runNnport(g: Awaited<ReturnType<typeof readTfjsLayers>>['graph'], xs: Tensor[]): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!])));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

function convBase(): tf.LayersModel {
  const x = tf.input({ shape: [9, 9, 3] });
  let y = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  y = L.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  y = L.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
  y = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }).apply(y) as tf.SymbolicTensor;
  y = L.conv2d({ filters: 8, kernelSize: 1, activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: 'conv_base' });
}

const CASES: Array<[string, () => tf.LayersModel, number[][]]> = [
  ['a Sequential block inside a functional model', () => {
    const inner = tf.sequential({ layers: [L.dense({ units: 4, activation: 'relu', inputShape: [3] }), L.dense({ units: 2 })] });
    const x = tf.input({ shape: [3] });
    return tf.model({ inputs: x, outputs: L.dense({ units: 5 }).apply(inner.apply(x) as tf.SymbolicTensor) as tf.SymbolicTensor });
  }, [[3]]],
  ['a two-input functional block inside a functional model', () => {
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const s = L.add().apply([L.dense({ units: 3 }).apply(a) as tf.SymbolicTensor, L.dense({ units: 3, activation: 'tanh' }).apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const block = tf.model({ inputs: [a, b], outputs: [s, L.dense({ units: 2 }).apply(a) as tf.SymbolicTensor], name: 'two_in' });
    const x = tf.input({ shape: [4] });
    const z = tf.input({ shape: [4] });
    const [o1, o2] = block.apply([x, L.dense({ units: 4 }).apply(z) as tf.SymbolicTensor]) as tf.SymbolicTensor[];
    return tf.model({ inputs: [x, z], outputs: L.concatenate().apply([o2!, L.dense({ units: 2 }).apply(o1!) as tf.SymbolicTensor]) as tf.SymbolicTensor });
  }, [[4], [4]]],
  ['two levels of nesting (a Sequential inside a functional block inside a Sequential)', () => {
    const leaf = tf.sequential({ layers: [L.dense({ units: 5, activation: 'relu', inputShape: [6] }), L.dense({ units: 6 })] });
    const x = tf.input({ shape: [6] });
    const mid = tf.model({ inputs: x, outputs: L.add().apply([x, leaf.apply(x) as tf.SymbolicTensor]) as tf.SymbolicTensor, name: 'residual' });
    return tf.sequential({ layers: [L.dense({ units: 6, inputShape: [4] }), mid, L.dense({ units: 3, activation: 'softmax' })] });
  }, [[4]]],
  ['a conv base + GlobalAveragePooling2D + Dense head (transfer learning)', () => tf.sequential({ layers: [convBase(), L.globalAveragePooling2d({}), L.dense({ units: 4 })] }), [[9, 9, 3]]],
];

describe('Keras models used as layers (TF.js-saved model.json) vs TensorFlow.js', () => {
  for (const [what, build, shapes] of CASES) {
    it(what, async () => {
      const m = build();
      seed(m, 11);
      const xs = shapes.map((s, i) => randomInput([2, ...s], 3 + i));
      const want = predict(m, xs);
      const model = await readBack(m);
      const got = await runNnport(model.graph, xs);
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(want[i]!.shape);
        expect(relError(g, want[i]!)).toBeLessThan(1e-5);
      });
    });
  }

  it('the conv base + head as .tflite in the TFLite interpreter and as a flat Keras .h5 TF.js runs', async () => {
    const m = tf.sequential({ layers: [convBase(), L.globalAveragePooling2d({}), L.dense({ units: 4 })] });
    seed(m, 23);
    const x = randomInput([1, 9, 9, 3], 9);
    const want = predict(m, [x])[0]!;
    const model = await readBack(m);
    const tfl = await convert(model, 'nested.tflite');
    const [y] = await oracle.run(tfl.bytes, [x.toFloat32()]);
    expect(relError(T.float32(y!.shape, y!.data as Float32Array), want)).toBeLessThan(1e-5);
    const h5 = (await convert(model, 'nested.h5')).bytes;
    const flat = await tfjsModelFromH5(h5);
    expect(flat.layers.some((l) => l instanceof tf.LayersModel)).toBe(false);
    expect(relError(predict(flat, [x])[0]!, want)).toBeLessThan(1e-5);
  });
});

describe('Keras 2 .h5 files with a nested model (scripts/fixtures/keras_nested_h5.py) vs TensorFlow.js on the same file', () => {
  const dir = ensureScriptFixtures('keras_nested_h5.py', 'keras-nested', ['transfer', 'two_level', 'keras3']);
  const NETS: Array<[string, number[][]]> = [
    ['transfer', [[9, 9, 3]]],
    ['two_level', [[6], [6]]],
  ];
  for (const [net, shapes] of NETS) {
    it(`${net}: nnport's read = TF.js (modelFromJSON of the file's config, weights by weight_names)`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, net, 'model.h5')));
      const xs = shapes.map((s, i) => randomInput([2, ...s], 7 + i));
      const want = predict(await tfjsModelFromH5(bytes), xs)[0]!;
      const model = await readKerasH5(bytes, { fileName: `${net}.h5` });
      const [got] = await runNnport(model.graph, xs);
      expect(got!.shape).toEqual(want.shape);
      expect(relError(got!, want)).toBeLessThan(1e-5);
    });
  }

  it('two_level: the inner layers are named under their nested models (inner names repeat outer ones)', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'two_level', 'model.h5')));
    const g = (await readKerasH5(bytes, { fileName: 'two_level.h5' })).graph;
    const names = g.nodes.map((n) => n.name);
    expect(names).toContain('mid/leaf/d1');
    expect(names).toContain('mid/add');
    expect(names).toContain('add');
  });
});

describe('a Keras 3 .keras archive with a nested Sequential and Functional (keras_nested_h5.py, NumPy forward pass)', () => {
  it('nnport reads the weights from layers/<nested group>/layers/<inner group>/vars and equals NumPy', async () => {
    const dir = ensureScriptFixtures('keras_nested_h5.py', 'keras-nested', ['keras3']);
    const x = readNpy(readFileSync(join(dir, 'keras3', 'input.npy')));
    const want = readNpy(readFileSync(join(dir, 'keras3', 'output.npy')));
    const model = await readKerasV3(new Uint8Array(readFileSync(join(dir, 'keras3', 'model.keras'))), { fileName: 'nested.keras' });
    const [got] = await runNnport(model.graph, [x]);
    expect(got!.shape).toEqual(want.shape);
    expect(relError(got!, want)).toBeLessThan(1e-5);
  });
});

describe('nesting depth', () => {
  /** Sequential models nested `levels` deep around one relu Activation, each with its own InputLayer. */
  function nestedConfig(levels: number): Record<string, unknown> {
    let m: Record<string, unknown> = { class_name: 'Sequential', config: { name: 's0', layers: [{ class_name: 'InputLayer', config: { name: 'in0', batch_input_shape: [null, 3] } }, { class_name: 'Activation', config: { name: 'act', activation: 'relu' } }] } };
    for (let k = 1; k < levels; k++) {
      m = { class_name: 'Sequential', config: { name: `s${k}`, layers: [{ class_name: 'InputLayer', config: { name: `in${k}`, batch_input_shape: [null, 3] } }, m] } };
    }
    return m;
  }
  const json = (levels: number) => new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: nestedConfig(levels) }));

  it('9 levels (8 nested models) are read and equal TF.js building the same config', async () => {
    const x = randomInput([2, 3], 4);
    const want = predict(await tf.models.modelFromJSON({ modelTopology: nestedConfig(9) } as never), [x])[0]!;
    const model = await readTfjsLayers(json(9), { fileName: 'deep.json' });
    expect(model.graph.nodes.map((n) => n.name)).toContain('s7/s6/s5/s4/s3/s2/s1/s0/act');
    const [got] = await runNnport(model.graph, [x]);
    expect(relError(got!, want)).toBeLessThan(1e-6);
  });

  it('deeper nesting is refused by name', async () => {
    await expect(readTfjsLayers(json(10), { fileName: 'deeper.json' })).rejects.toThrow(/unsupported: Keras models nested more than 8 levels deep: layer 's8\/s7\/s6\/s5\/s4\/s3\/s2\/s1\/s0'/);
  });
});
