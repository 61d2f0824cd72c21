// Keras' MultiHeadAttention (self-attention, cross-attention with a separate key and no biases,
// use_causal_mask; masks, attention_mask, scores and several axes: attention-mask.test.ts) read from .h5 files written to tf.keras 2.x's layout by
// scripts/fixtures/keras_attention_h5.py with the outputs Keras' einsums compute, in NumPy
// (TensorFlow is not installable here; TF.js has no MultiHeadAttention); run by nnport, by
// onnxruntime on the .onnx and by the TFLite interpreter on the .tflite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { parseModelConfig, type Json } from '../../../src/formats/keras/config.js';
import { multiHeadAttention } from '../../../src/formats/keras/attention.js';
import type { IrEmitter, LayerCall } from '../../../src/formats/keras/layers.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { h5NumpyCase } from './h5-numpy-case.js';

const oracle = useTfliteOracle();
const NETS: Record<string, string[]> = { self: ['x'], cross: ['q', 'v', 'k'], causal: ['x'] };
const dir = ensureScriptFixtures('keras_attention_h5.py', 'keras-attention', [...Object.keys(NETS), 'keras3']);

describe('Keras MultiHeadAttention (.h5, NumPy reference)', () => {
  for (const [net, names] of Object.entries(NETS)) {
    it(`${net}: nnport, onnxruntime and the TFLite interpreter = NumPy`, async () => {
      const { feeds, want, model, got, fixed } = await h5NumpyCase(dir, net, names);
      const e = relErr(got.toFloat32(), want.toFloat32());
      const eOrt = relErr((await ortFirst((await convert(model, 'm.onnx')).bytes, feeds)).toFloat32(), want.toFloat32());
      const [t] = await oracle.run((await convert(await fixed(), 'm.tflite')).bytes, names.map((n) => feeds[n]!.toFloat32()));
      const eT = relErr(t!.data as Float32Array, want.toFloat32());
      console.log(`MultiHeadAttention ${net}: nnport vs NumPy ${e.toExponential(2)}, onnxruntime ${eOrt.toExponential(2)}, TFLite interpreter ${eT.toExponential(2)}`);
      expect(got.shape).toEqual(want.shape);
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(eOrt).toBeLessThanOrEqual(1e-5);
      expect(eT).toBeLessThanOrEqual(1e-5);
    });
  }

  it('Keras 3 .keras (EinsumDense sublayer vars, use_causal_mask by keyword): nnport = NumPy', async () => {
    const model = await loadModel(readFileSync(join(dir, 'keras3', 'model.keras')), { fileName: 'mha.keras' });
    const x = readNpy(readFileSync(join(dir, 'keras3', 'x.npy')));
    const want = readNpy(readFileSync(join(dir, 'keras3', 'y.npy')));
    const got = [...(await run(model, { x })).outputs.values()][0]!;
    const e = relErr(got.toFloat32(), want.toFloat32());
    console.log(`MultiHeadAttention Keras 3: nnport vs NumPy ${e.toExponential(2)}`);
    expect(e).toBeLessThanOrEqual(1e-5);
  });

  it("Keras 3's explicit query / value / key masks, use_gate, sliding_window, attention over the batch or feature axis: refused by name", async () => {
    const cfg = (kw: Record<string, unknown>, extra: Record<string, unknown> = {}, shape = [null, 4, 6]) => ({
      class_name: 'Functional',
      config: {
        name: 'm',
        layers: [
          { class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_input_shape: shape, dtype: 'float32' }, inbound_nodes: [] },
          { class_name: 'InputLayer', name: 'm', config: { name: 'm', batch_input_shape: [null, 4, 4], dtype: 'float32' }, inbound_nodes: [] },
          { class_name: 'MultiHeadAttention', name: 'mha', config: { name: 'mha', num_heads: 1, key_dim: 2, ...extra }, inbound_nodes: [[['x', 0, 0, { value: ['x', 0, 0], ...kw }]]] },
        ],
        input_layers: [['x', 0, 0], ['m', 0, 0]],
        output_layers: [['mha', 0, 0]],
      },
    });
    expect(() => parseModelConfig(cfg({ value_mask: ['m', 0, 0] }) as never, 'm.h5')).toThrow(/'value_mask' given a tensor/);
    const spec = parseModelConfig(cfg({ attention_mask: ['m', 0, 0], return_attention_scores: true }) as never, 'm.h5');
    expect(spec.layers[2]!.calls).toEqual([[['x', 0, 0], ['x', 0, 0], ['m', 0, 0]]]);
    expect(spec.layers[2]!.opArgs![0]).toEqual({ first: null, kwargs: { return_attention_scores: true }, roles: ['query', 'value', 'attention_mask'] });
    // the layer row refuses before it emits anything
    const emitter = {} as IrEmitter;
    const call = (kwargs: Record<string, Json>, shape: (number | null)[] = [null, 4, 6], config: Record<string, Json> = {}): LayerCall => ({ className: 'MultiHeadAttention', name: 'mha', config: { num_heads: 1, key_dim: 2, ...config }, inputs: [{ name: 'x', shape }, { name: 'x', shape }], weights: new Map(), opArgs: { first: null, kwargs } });
    expect(() => multiHeadAttention(emitter, call({ return_attention_scores: 'yes' }))).toThrow(UnsupportedError);
    expect(() => multiHeadAttention(emitter, call({}, [null, 4, 6], { use_gate: true }))).toThrow(/use_gate/);
    expect(() => multiHeadAttention(emitter, call({}, [null, 4, 6], { sliding_window: 3 }))).toThrow(/sliding_window/);
    expect(() => multiHeadAttention(emitter, call({}, [null, 3, 4, 6], { attention_axes: [0, 1] }))).toThrow(/the batch or feature axis/);
    expect(() => multiHeadAttention(emitter, call({}, [null, 3, 4, 6], { attention_axes: [-1] }))).toThrow(/the batch or feature axis/);
    expect(() => multiHeadAttention(emitter, call({}, [null, 6]))).toThrow(/inputs of rank 2/);
  });
});
