// Keras 3 functional models calling keras.ops on Keras tensors (`x + 1`, `x[:, 1:, ...]`,
// keras.ops.concatenate / reshape / mean / where / take / image.resize, keras.ops.nn activations),
// from .keras archives written to Keras 3's layout by scripts/fixtures/keras3_ops.py with the outputs
// those ops compute in NumPy (Keras is not installable here). Read and run; written to .onnx
// (onnxruntime) and .tflite (the interpreter). Ops outside the table and broken calls: typed errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { parseModelConfig } from '../../../src/formats/keras/config.js';

const oracle = useTfliteOracle();
const dir = ensureScriptFixtures('keras3_ops.py', 'keras3-ops', ['ops', 'more', 'shapes', 'defaults']);
const npy = (net: string, name: string) => readNpy(readFileSync(join(dir, net, `${name}.npy`)));

const NETS = [
  { net: 'ops', inputs: ['a', 'b'], outputs: 2, shapes: { a: [3, 4, 6], b: [3, 6] } },
  { net: 'more', inputs: ['x', 'img'], outputs: 5, shapes: { x: [3, 3, 4], img: [3, 4, 5, 3] } },
  { net: 'shapes', inputs: ['x', 'y'], outputs: 14, shapes: { x: [3, 4, 6], y: [3, 4, 6] } },
  { net: 'defaults', inputs: ['x'], outputs: 2, shapes: { x: [3, 3, 4] } },
] as const;

describe('Keras 3 keras.ops in functional models vs NumPy', () => {
  for (const { net, inputs, outputs, shapes } of NETS) {
    it(`${net}: read from .keras and run; .onnx in onnxruntime; .tflite in the interpreter`, async () => {
      const bytes = readFileSync(join(dir, net, 'model.keras'));
      const model = await loadModel(bytes, { fileName: `${net}.keras` });
      if (model.kind !== 'graph') throw new Error('expected a graph');
      const feeds: Record<string, Tensor> = Object.fromEntries(inputs.map((n) => [n, npy(net, n)]));
      const want = Array.from({ length: outputs }, (_, i) => npy(net, `out${i}`));
      const check = (label: string, ys: ArrayLike<number>[]) =>
        ys.forEach((y, i) => {
          const e = relErr(y, want[i]!.toFloat32());
          console.log(`keras.ops ${net} output ${i}: ${label} vs NumPy ${e.toExponential(2)}`);
          expect(e).toBeLessThanOrEqual(1e-5);
        });
      const got = await run(model, feeds);
      const outs = model.graph.outputs.map((o) => got.outputs.get(o.name)!);
      outs.forEach((t, i) => expect(t.shape).toEqual(want[i]!.shape));
      check('nnport', outs.map((t) => t.toFloat32()));
      const onnx = [...(await ortRun((await convert(model, 'm.onnx')).bytes, feeds)).values()];
      check('onnxruntime', onnx.map((t) => t.toFloat32()));
      // (the .tflite for this batch: the interpreter's web API cannot resize inputs)
      const fixed = await loadModel(bytes, { fileName: `${net}.keras`, inputShapes: shapes as unknown as Record<string, number[]> });
      const tflite = await oracle.run((await convert(fixed, 'm.tflite')).bytes, inputs.map((n) => feeds[n]!.toFloat32()));
      check('TFLite interpreter', tflite.map((t) => t.data as Float32Array));
    });
  }
});

describe('Keras 3 ops: parsed calls, ops outside the table, broken calls', () => {
  const t = (layer: string, dtype = 'float32') => ({ class_name: '__keras_tensor__', config: { shape: [null, 3], dtype, keras_history: [layer, 0, 0] } });
  const cfg = (module: string, cls: string, args: unknown, config: Record<string, unknown> = {}, kwargs: unknown = {}, dtype = 'float32') => ({
    class_name: 'Functional',
    config: {
      name: 'm',
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', name: 'a', config: { name: 'a', batch_shape: [null, 3], dtype }, inbound_nodes: [] },
        { module: `keras.src.ops.${module}`, class_name: cls, name: 'op', registered_name: cls, config: { name: 'op', ...config }, inbound_nodes: [{ args, kwargs }] },
      ],
      input_layers: [['a', 0, 0]],
      output_layers: [['op', 0, 0]],
    },
  });
  // (a TF.js layers-model JSON carries the same model config as a .keras archive's config.json)
  const json = (c: unknown) => new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: { keras_version: '3.3.3', backend: 'tensorflow', model_config: c }, weightsManifest: [] }));
  const load = (c: unknown) => loadModel(json(c), { fileName: 'model.json' });

  it('a call keeps its positional arguments, each tensor as { __input__, dtype }', () => {
    const spec = parseModelConfig(cfg('numpy', 'Subtract', [1.5, t('a')]) as never, 'm.keras');
    expect(spec.layers[1]!.keras3Op).toBe('keras.src.ops.numpy');
    expect(spec.layers[1]!.calls).toEqual([[['a', 0, 0]]]);
    expect(spec.layers[1]!.opArgs).toEqual([{ first: [1.5, { __input__: 0, dtype: 'float32' }], kwargs: {} }]);
  });

  it('an op outside the table is refused by name, and so are arguments nnport does not read', async () => {
    await expect(load(cfg('numpy', 'Einsum', [t('a'), t('a')], { subscripts: 'bi,bi->b' }))).rejects.toThrow(/Keras 3 op 'Einsum' \(keras.src.ops.numpy\)/);
    await expect(load(cfg('numpy', 'Einsum', [t('a'), t('a')]))).rejects.toThrow(UnsupportedError);
    // softmax over every axis (axis=None) is not softmax over the last
    await expect(load(cfg('nn', 'Softmax', [t('a')], { axis: null }))).rejects.toThrow(/nn.Softmax with axis=None/);
    await expect(load(cfg('numpy', 'Max', [t('a')], { axis: 1, keepdims: false, initial: 0 }))).rejects.toThrow(/numpy.Max with initial = 0/);
    // Keras promotes an int32 tensor + 0.5 to float: not read as an int32 Add
    await expect(load(cfg('numpy', 'Add', [t('a', 'int32'), 0.5], {}, {}, 'int32'))).rejects.toThrow(/a fractional constant on a int32 tensor/);
    await expect(load(cfg('numpy', 'Where', [t('a'), null, null]))).rejects.toThrow(/keras.ops.where\(condition\) without x1 and x2/);
    await expect(load(cfg('numpy', 'GetItem', [t('a'), [{ class_name: '__slice__', config: { start: null, stop: null, step: null } }, t('a', 'int32')]]))).rejects.toThrow(UnsupportedError);
  });

  it('broken calls: typed FormatErrors naming the layer', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [cfg('numpy', 'Add', [t('a')]), /layer 'op' \(Keras 3 op numpy.Add\): its call does not give 'y'/],
      [cfg('numpy', 'Add', [t('a'), t('a'), t('a')]), /its call has 3 arguments, the op takes 2/],
      [cfg('numpy', 'Add', [t('a')], {}, { y: t('a'), z: 1 }), /an argument 'z', which the op does not take/],
      [cfg('numpy', 'Add', [t('a'), t('a')], {}, { y: t('a') }), /gives 'y' twice/],
      [cfg('numpy', 'Add', [t('a'), 'two']), /"two" is neither a tensor nor a constant array/],
      [cfg('numpy', 'Add', [t('a'), [[1, 2], [3]]]), /is neither a tensor nor a constant array/],
      [cfg('numpy', 'Add', [t('a'), t('missing')]), /'missing', which is not a layer of the model/],
      [cfg('numpy', 'Reshape', [t('a')]), /layer 'op' \(Keras 3 op numpy.Reshape\): its config has no 'newshape'/],
      [cfg('numpy', 'Mean', [t('a')], { axis: 1, keepdims: 'yes' }), /config 'keepdims' is "yes", not true or false/],
      [cfg('nn', 'Softmax', [t('a')], { axis: 'last' }), /layer 'op' \(Keras 3 op nn.Softmax\): nn.Softmax with axis = "last"/],
      [cfg('numpy', 'Take', [t('a'), [5]], { axis: 1 }), /index 5 of an axis of size 3/],
      [cfg('numpy', 'Add', { x: t('a') }), /a Keras 3 op's args are \{"x"/],
    ];
    for (const [c, message] of cases) {
      const err = await load(c).catch((e: unknown) => e);
      expect(err, String(message)).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain('model.json');
    }
  });
});
