// Opset-6 ONNX (PyTorch 0.3's exporter): PRelu's 1-D slope of C values is per channel (axis 1),
// where numpy's rule would align it with the last axis. The corpus' PRelu_2d_multiparam case
// (slope [3] on a [2, 3, 4, 5] input: a wrong alignment cannot even broadcast) converted to Keras
// .h5 (run by TensorFlow.js), .tflite (run by the real TFLite interpreter) and .pb (run by the
// NumPy GraphDef interpreter) gives the case's own expected output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTensorProto } from '../../../src/formats/onnx/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { predict, tfjsModelFromH5 } from '../keras/tfjs-oracle.js';
import { pythonRun } from '../tensorflow/python-runs.js';

const oracle = useTfliteOracle();
const dir = 'onnx/onnx-backend-prelu-2d-multiparam';
const tensor = (name: string) => readTensorProto(new Uint8Array(readFileSync(corpusPath(`${dir}/test_data_set_0/${name}`))));

describe('opset-6 PRelu (per-channel 1-D slope) in Keras, TFLite and GraphDef output', () => {
  it('each output format gives the ONNX case\'s expected output', async () => {
    const model = await loadModelFiles([corpusPath(`${dir}/model.onnx`)]);
    if (model.kind !== 'graph') throw new Error('not a graph');
    const x = tensor('input_0.pb');
    const want = tensor('output_0.pb').toFloat32();
    expect(x.shape).toEqual([2, 3, 4, 5]);
    const h5 = (await convert(model, 'm.h5')).bytes;
    expect(relErr(predict(await tfjsModelFromH5(h5), [x])[0]!.toFloat32(), want), 'keras').toBeLessThan(1e-6);
    const tflite = (await convert(model, 'm.tflite')).bytes;
    const [y] = await oracle.run(tflite, [x.toFloat32()]);
    expect(relErr(y!.data as Float32Array, want), 'tflite').toBeLessThan(1e-6);
    const pb = (await convert(model, 'm.pb')).bytes;
    const out = model.graph.outputs[0]!.name;
    expect(relErr(pythonRun('numpy', 'onnx-prelu-legacy', pb, x, [out]).get(out)!.toFloat32(), want), 'graphdef').toBeLessThan(1e-6);
  });

  it('an opset-6 Add / Mul with broadcast=1, axis=1 (B lined up from the channel axis) in TFLite and GraphDef output', async () => {
    // y = (x + b[c]) * m[c, h] on x [2, 3, 4, 5]: b at axis 1 is per channel, m at axis 1 per (channel, row)
    const g: Graph = { ...emptyGraph(), opsets: { '': 6 } };
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4, 5] });
    const b = [0.5, -1, 2];
    const m = Array.from({ length: 12 }, (_, i) => 1 + i / 4);
    g.initializers.set('b', Tensor.float32([3], b));
    g.initializers.set('m', Tensor.float32([3, 4], m));
    const legacy = { broadcast: { type: 'int' as const, value: 1 }, axis: { type: 'int' as const, value: 1 } };
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'b'], outputs: ['s'], attrs: legacy });
    g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['s', 'm'], outputs: ['y'], attrs: legacy });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, 3, 4, 5] });
    const xs = Float32Array.from({ length: 120 }, (_, i) => Math.sin(i));
    const want = xs.map((v, i) => {
      const c = Math.floor(i / 20) % 3;
      const h = Math.floor(i / 5) % 4;
      return (v + b[c]!) * m[c * 4 + h]!;
    });
    const model = { kind: 'graph' as const, format: 'onnx' as const, graph: g };
    const [y] = await oracle.run((await convert(model, 'm.tflite')).bytes, [xs]);
    expect(relErr(y!.data as Float32Array, want), 'tflite').toBeLessThan(1e-6);
    const pb = (await convert(model, 'm.pb')).bytes;
    expect(relErr(pythonRun('numpy', 'onnx-add-legacy', pb, Tensor.float32([2, 3, 4, 5], xs), ['y']).get('y')!.toFloat32(), want), 'graphdef').toBeLessThan(1e-6);
  });
});
