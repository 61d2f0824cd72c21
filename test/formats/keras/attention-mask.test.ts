// Keras masks into attention: Embedding(mask_zero=True) masks reaching MultiHeadAttention (with an
// attention_mask tensor, use_causal_mask, return_attention_scores), Attention / AdditiveAttention (dot,
// concat, additive scores), a time-axis Concatenate of masked sequences, and merges as tf.keras 2 and
// Keras >= 3.4 combine masks; read from .h5 / .keras files written to Keras' layouts by
// scripts/fixtures/keras_attention_mask_h5.py with the outputs Keras' documented masking computes, in NumPy
// (TensorFlow is not installable here; TF.js 4.9 has no attention layers and its Softmax takes no mask).
// Each is run by nnport, by onnxruntime on the .onnx and by the TFLite interpreter on the .tflite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { parseModelConfig, type Json } from '../../../src/formats/keras/config.js';
import { kerasToGraph } from '../../../src/formats/keras/to-graph.js';
import { denseAttention, denseAttentionWeightRoles } from '../../../src/formats/keras/attention.js';
import type { IrEmitter, KValue, LayerCall } from '../../../src/formats/keras/layers.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
/** net -> [model file, inputs] */
const NETS: Record<string, [string, string[]]> = {
  text: ['model.h5', ['ids']],
  'cross-mask': ['model.h5', ['q', 'v', 'm']],
  'cross-scores': ['model.h5', ['q', 'v', 'm']],
  luong: ['model.h5', ['q', 'v']],
  bahdanau: ['model.h5', ['q', 'v']],
  'concat-score': ['model.h5', ['q', 'v']],
  'concat-time': ['model.h5', ['a', 'b']],
  'pos-k2': ['model.h5', ['ids', 'pos']],
  'pos-k3': ['model.keras', ['ids', 'pos']],
  axes2: ['model.h5', ['x', 'm']],
  'k3-cross': ['model.keras', ['q', 'v', 'm']],
  'k3-scores': ['model.keras', ['ids']],
  'softmax-k2': ['model.h5', ['q', 'k', 'v', 'm']],
  'softmax-k310': ['model.keras', ['q', 'k', 'v', 'm']],
  'softmax-k313': ['model.keras', ['q', 'k', 'v', 'm']],
};
const dir = ensureScriptFixtures('keras_attention_mask_h5.py', 'keras-attention-mask', Object.keys(NETS));

const typed = (t: Tensor): ArrayBufferView => t.data as ArrayBufferView;

describe('Keras masks into attention (.h5 / .keras, NumPy reference of Keras masking)', () => {
  for (const [net, [file, names]] of Object.entries(NETS)) {
    it(`${net}: nnport, onnxruntime and the TFLite interpreter = NumPy`, async () => {
      const bytes = readFileSync(join(dir, net, file));
      const feeds: Record<string, Tensor> = Object.fromEntries(names.map((n) => [n, readNpy(readFileSync(join(dir, net, `${n}.npy`)))]));
      const want = readNpy(readFileSync(join(dir, net, 'y.npy')));
      const model = await loadModel(bytes, { fileName: `${net}.${file.split('.')[1]}` });
      const got = [...(await run(model, feeds)).outputs.values()][0]!;
      expect(got.shape).toEqual(want.shape);
      const e = relErr(got.toFloat32(), want.toFloat32());
      const eOrt = relErr((await ortFirst((await convert(model, 'm.onnx')).bytes, feeds)).toFloat32(), want.toFloat32());
      const fixed = await loadModel(bytes, { fileName: `${net}.${file.split('.')[1]}`, inputShapes: Object.fromEntries(names.map((n) => [n, [...feeds[n]!.shape]])) });
      const [t] = await oracle.run((await convert(fixed, 'm.tflite')).bytes, names.map((n) => typed(feeds[n]!)));
      const eT = relErr(t!.data as Float32Array, want.toFloat32());
      console.log(`Keras attention masks ${net}: nnport vs NumPy ${e.toExponential(2)}, onnxruntime ${eOrt.toExponential(2)}, TFLite interpreter ${eT.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(eOrt).toBeLessThanOrEqual(1e-5);
      expect(eT).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('Keras Attention / AdditiveAttention: hostile configs', () => {
  const q: KValue = { name: 'q', shape: [null, 4, 6] };
  const call = (className: string, inputs: KValue[], config: Record<string, Json> = {}, kwargs: Record<string, Json> = {}, weights = new Map<string, Tensor>()): LayerCall => ({ className, name: 'att', config, inputs, weights, opArgs: { first: null, kwargs } });
  const emitter = { file: 'm.h5', keras3: false, tfjsSaved: false, node: () => ['n'], constant: (n: string) => n } as IrEmitter;

  it('one tensor, four tensors, rank-2 inputs, an unknown score_mode, use_causal_mask not a boolean, a missing scale: typed errors naming the layer', () => {
    expect(() => denseAttention(emitter, call('Attention', [q]))).toThrow(/Keras Attention on 1 tensors.*layer 'att'/);
    expect(() => denseAttention(emitter, call('Attention', [q, q, q, q]))).toThrow(UnsupportedError);
    expect(() => denseAttention(emitter, call('AdditiveAttention', [{ name: 'q', shape: [null, 6] }, q]))).toThrow(/on inputs of rank 2, 3, 3/);
    expect(() => denseAttention(emitter, call('Attention', [q, q], { score_mode: 'general' }))).toThrow(/score_mode "general"/);
    expect(() => denseAttention(emitter, call('Attention', [q, q], {}, { use_causal_mask: 'yes' }))).toThrow(/use_causal_mask="yes"/);
    expect(() => denseAttention(emitter, call('AdditiveAttention', [q, q]))).toThrow(FormatError);
    expect(denseAttentionWeightRoles('Attention', { use_scale: true, score_mode: 'concat' })).toEqual(['scale', 'concat_score_weight']);
    expect(denseAttentionWeightRoles('AdditiveAttention', {})).toEqual(['scale']);
  });
});

describe('Keras Softmax given a mask by keyword: hostile configs', () => {
  const model = (head: Record<string, unknown>[], maskShape = [null, 4, 5]) => ({
    class_name: 'Functional',
    config: {
      name: 'm',
      layers: [
        { class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_input_shape: [null, 4, 5], dtype: 'float32' }, inbound_nodes: [] },
        { class_name: 'InputLayer', name: 'm', config: { name: 'm', batch_input_shape: maskShape, dtype: 'float32' }, inbound_nodes: [] },
        { class_name: 'Softmax', name: 'softmax', config: { name: 'softmax', axis: -1 }, inbound_nodes: [[['x', 0, 0, { mask: ['m', 0, 0] }]]] },
        ...head,
      ],
      input_layers: [['x', 0, 0], ['m', 0, 0]],
      output_layers: [[head.length ? String(head[head.length - 1]!.name) : 'softmax', 0, 0]],
    },
  });
  const read = (cfg: unknown, options: { tfjsSaved?: boolean } = {}) => kerasToGraph(parseModelConfig(cfg as Json, 'm.h5'), () => new Map(), 'm.h5', options);

  it('its output mask reaching a layer that applies it, a mask of higher rank, a TF.js file: refused by name', () => {
    expect(read(model([])).nodes.map((n) => n.opType)).toContain('Softmax');
    const pool = { class_name: 'GlobalAveragePooling1D', name: 'pool', config: { name: 'pool' }, inbound_nodes: [[['softmax', 0, 0, {}]]] };
    expect(() => read(model([pool]))).toThrow(/a layer applying the Keras mask of a Softmax given a mask by keyword.*layer 'softmax'/);
    expect(() => read(model([], [null, 2, 4, 5]))).toThrow(/Softmax with a rank-4 mask on a rank-3 input/);
    expect(() => read(model([]), { tfjsSaved: true })).toThrow(/TF.js Softmax given a mask/);
  });
});
