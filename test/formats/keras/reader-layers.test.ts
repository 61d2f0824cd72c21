// Keras layers the Keras / TF.js readers once refused or declared wrongly (found by
// test/conformance/keras-readback.test.ts): ThresholdedReLU, the 'log_softmax' activation, and an
// int32 model's output dtype. A TF.js layers model.json written here by hand (not by nnport's
// writer) is read by nnport and run by its runtime, and loaded and run by TensorFlow.js.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFiles } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { tf, tfjsModelFromJson, useTfjsBackend } from './tfjs-oracle.js';

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('cpu');
});

type Layer = { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes: unknown[] };

const input = (name: string, shape: (number | null)[], dtype = 'float32'): Layer => ({
  class_name: 'InputLayer',
  name,
  config: { name, batch_input_shape: shape, dtype, sparse: false },
  inbound_nodes: [],
});
const layer = (class_name: string, name: string, config: Record<string, unknown>, inputs: string[]): Layer => ({
  class_name,
  name,
  config: { name, trainable: true, dtype: 'float32', ...config },
  inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
});

function modelJson(layers: Layer[], inputs: string[], outputs: string[]): Uint8Array {
  const model_config = {
    class_name: 'Functional',
    config: { name: 'm', layers, input_layers: inputs.map((n) => [n, 0, 0]), output_layers: outputs.map((n) => [n, 0, 0]) },
  };
  return new TextEncoder().encode(JSON.stringify({ format: 'layers-model', generatedBy: 'hand', convertedBy: null, modelTopology: { keras_version: 'tfjs-layers 4.9.0', backend: 'tensor_flow.js', model_config } }));
}

const r = rng(5);

describe('Keras layers read by nnport vs TensorFlow.js on the same model.json', () => {
  it('ThresholdedReLU (theta 0.4 and the default 1) and Activation log_softmax', async () => {
    const json = modelJson(
      [
        input('x', [null, 5, 8]),
        layer('ThresholdedReLU', 'thr', { theta: 0.4 }, ['x']),
        layer('ThresholdedReLU', 'thr1', {}, ['x']),
        layer('Activation', 'lsm', { activation: 'log_softmax' }, ['x']),
      ],
      ['x'],
      ['thr', 'thr1', 'lsm'],
    );
    const x = Tensor.float32([2, 5, 8], Float32Array.from({ length: 80 }, () => (r() * 2 - 1) * 3));
    const back = await loadModelFiles([{ name: 'model.json', bytes: json }]);
    if (back.kind !== 'graph') throw new Error('not a graph');
    expect(back.format).toBe('tfjs');
    const outs = (await runGraph(back.graph, new Map([[back.graph.inputs[0]!.name, x]]))).outputs;
    const m = await tfjsModelFromJson(json, () => {
      throw new Error('no shards');
    });
    const xt = tf.tensor(x.toFloat32(), [...x.shape]);
    const want = m.predict(xt) as tf.Tensor[];
    back.graph.outputs.forEach((o, i) => {
      const got = outs.get(o.name)!;
      expect(o.dtype).toBe('float32');
      expect([...got.shape]).toEqual(want[i]!.shape);
      expect(maxAbsDiff(got.toFloat32(), want[i]!.dataSync() as Float32Array), o.name).toBeLessThan(1e-6);
    });
    // both sides of each threshold were sampled
    expect(x.toNumbers().some((v) => v > 0.4 && v < 1)).toBe(true);
    tf.dispose([xt, ...want]);
    m.dispose();
  });

  it('an int32 model declares the int32 outputs its layers compute (Maximum of two int32 inputs)', async () => {
    const json = modelJson([input('a', [null, 6], 'int32'), input('b', [null, 6], 'int32'), layer('Maximum', 'max', {}, ['a', 'b'])], ['a', 'b'], ['max']);
    const ints = () => Int32Array.from({ length: 12 }, () => Math.floor(r() * 200) - 100);
    const a = new Tensor('int32', [2, 6], ints());
    const b = new Tensor('int32', [2, 6], ints());
    const back = await loadModelFiles([{ name: 'model.json', bytes: json }]);
    if (back.kind !== 'graph') throw new Error('not a graph');
    expect(back.graph.outputs.map((o) => o.dtype)).toEqual(['int32']);
    const got = (await runGraph(back.graph, new Map([['a', a], ['b', b]]))).outputs.get(back.graph.outputs[0]!.name)!;
    expect(got.dtype).toBe('int32');
    const m = await tfjsModelFromJson(json, () => {
      throw new Error('no shards');
    });
    const [ta, tb] = [tf.tensor(a.data as Int32Array, [2, 6], 'int32'), tf.tensor(b.data as Int32Array, [2, 6], 'int32')];
    const want = m.predict([ta, tb]) as tf.Tensor;
    expect(want.dtype).toBe('int32');
    expect(Array.from(got.data as Int32Array)).toEqual(Array.from(want.dataSync()));
    tf.dispose([ta, tb, want]);
    m.dispose();
  });
});
