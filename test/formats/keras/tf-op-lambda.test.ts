// Keras 2 functional models with TF functions called on Keras tensors (TFOpLambda /
// SlicingOpLambda: `x * 2`, `a + b`, tf.concat, tf.reshape, `x[:, 1:]`, tf.nn.gelu, ...), from .h5
// files written to tf.keras 2.x's layout by scripts/fixtures/keras_tf_op_lambda.py with the
// outputs those functions compute in NumPy (TensorFlow is not installable here; TF.js cannot load
// TFOpLambda). Read, run, and written to .onnx (onnxruntime) and .tflite (the interpreter).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { parseModelConfig } from '../../../src/formats/keras/config.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const dir = ensureScriptFixtures('keras_tf_op_lambda.py', 'keras-tf-op-lambda', ['ops']);
const npy = (name: string) => readNpy(readFileSync(join(dir, 'ops', `${name}.npy`)));

describe('Keras TFOpLambda / SlicingOpLambda (20 TF functions) vs NumPy', () => {
  it('read from .h5 and run; .onnx in onnxruntime; .tflite in the interpreter', async () => {
    const bytes = readFileSync(join(dir, 'ops', 'model.h5'));
    const model = await loadModel(bytes, { fileName: 'ops.h5' });
    if (model.kind !== 'graph') throw new Error('expected a graph');
    const a = npy('a');
    const b = npy('b');
    const want = [npy('out0'), npy('out1')];
    const got = await run(model, { a, b });
    const outs = model.graph.outputs.map((o) => got.outputs.get(o.name)!);
    outs.forEach((t, i) => {
      const e = relErr(t.toFloat32(), want[i]!.toFloat32());
      console.log(`TFOpLambda model output ${i}: nnport vs NumPy ${e.toExponential(2)}`);
      expect(t.shape).toEqual(want[i]!.shape);
      expect(e).toBeLessThanOrEqual(1e-5);
    });
    const onnx = [...(await ortRun((await convert(model, 'm.onnx')).bytes, { a, b })).values()];
    // (the .tflite for this batch: the interpreter's web API cannot resize inputs)
    const batch3 = await loadModel(bytes, { fileName: 'ops.h5', inputShapes: { a: [3, 4, 6], b: [3, 6] } });
    const tflite = await oracle.run((await convert(batch3, 'm.tflite')).bytes, [a.toFloat32(), b.toFloat32()]);
    for (const [label, ys] of [['onnxruntime', onnx.map((t) => t.toFloat32())], ['TFLite interpreter', tflite.map((t) => t.data as Float32Array)]] as const) {
      ys.forEach((y, i) => {
        const e = relErr(y, want[i]!.toFloat32());
        console.log(`TFOpLambda model output ${i}: ${label} vs NumPy ${e.toExponential(2)}`);
        expect(e).toBeLessThanOrEqual(1e-5);
      });
    }
  });

  it('a TF function nnport does not read, and a malformed call: typed errors naming them', async () => {
    const cfg = (fn: string, node: unknown) => ({
      class_name: 'Functional',
      config: {
        name: 'm',
        layers: [
          { class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_input_shape: [null, 3], dtype: 'float32' }, inbound_nodes: [] },
          { class_name: 'TFOpLambda', name: 'op', config: { name: 'op', function: fn }, inbound_nodes: [node] },
        ],
        input_layers: [['x', 0, 0]],
        output_layers: [['op', 0, 0]],
      },
    });
    const spec = parseModelConfig(cfg('math.multiply', ['x', 0, 0, { y: 3, name: null }]) as never, 'm.h5');
    expect(spec.layers[1]!.opArgs).toEqual([{ first: { __input__: 0 }, kwargs: { y: 3, name: null } }]);
    expect(spec.layers[1]!.calls).toEqual([[['x', 0, 0]]]);
    const json = (fn: string, node: unknown) => new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: { keras_version: '2.11.0', backend: 'tensorflow', model_config: cfg(fn, node) }, weightsManifest: [] }));
    await expect(loadModel(json('io.read_file', ['x', 0, 0, {}]), { fileName: 'model.json' })).rejects.toThrow(UnsupportedError);
    await expect(loadModel(json('io.read_file', ['x', 0, 0, {}]), { fileName: 'model.json' })).rejects.toThrow(/TF function 'io.read_file'/);
    await expect(loadModel(json('math.multiply', [7]), { fileName: 'model.json' })).rejects.toThrow(/cannot read a TF function's argument/);
  });
});
