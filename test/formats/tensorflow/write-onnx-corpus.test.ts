// Real ONNX files of the corpus -> .pb, run by OpenCV's TensorFlow importer (or the NumPy
// GraphDef interpreter where OpenCV lacks an op), against onnxruntime-node running the ONNX
// original on the same fixed-seed input: grouped convs (split, convolved per group, joined),
// a BatchNormalization over a rank-2 value (Mul + Add), Dropout with its mask output unused,
// ConvTranspose, depthwise convs with padding.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { permute4, pythonRun, relativeError } from './python-runs.js';
import { ortRun } from '../../support/ort.js';

const CASES: [string, string, { ops: string[]; runner: 'opencv' | 'numpy' }][] = [
  ['conv2d-groups', 'onnx/onnx-backend-conv2d-groups/model.onnx', { ops: ['Split', 'ConcatV2'], runner: 'opencv' }],
  ['conv2d-depthwise-padded', 'onnx/onnx-backend-conv2d-depthwise-padded/model.onnx', { ops: ['DepthwiseConv2dNative'], runner: 'opencv' }],
  ['convtranspose2d', 'onnx/onnx-backend-convtranspose2d/model.onnx', { ops: ['Conv2DBackpropInput'], runner: 'opencv' }],
  // OpenCV's importer has no LogSoftmax
  ['burn-mnist', 'onnx/burn-mnist-torch2-opset16/mnist.onnx', { ops: ['Mul', 'Conv2D', 'MatMul', 'LogSoftmax'], runner: 'numpy' }],
  ['light-squeezenet', 'onnx/onnx-light-squeezenet/light_squeezenet.onnx', { ops: ['ConcatV2', 'MaxPool'], runner: 'opencv' }],
];

/** A fixed pseudo-random input in [-1, 1). */
function input(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = 12345;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

describe('ONNX corpus -> GraphDef vs onnxruntime running the ONNX', () => {
  for (const [key, rel, c] of CASES) {
    it(`${key}: ${c.runner === 'opencv' ? 'OpenCV' : 'NumPy'} runs the .pb with onnxruntime's outputs`, async () => {
      const file = corpusPath(rel);
      const onnxBytes = new Uint8Array(readFileSync(file));
      const model = await loadModelFiles([file]);
      if (model.kind !== 'graph') throw new Error('not a graph');
      const [inp] = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
      const shape = inp!.shape!.map((d) => (typeof d === 'number' ? d : 1));
      const data = input(shape);
      const want = await ortRun(onnxBytes, { [inp!.name]: new Tensor('float32', shape, data) }, { intraOpNumThreads: 1 });

      const { bytes } = await convert(model, `${key}.pb`);
      const gd = decodeGraphDef(bytes, `${key}.pb`);
      const ops = new Set(gd.node!.map((n) => n.op));
      for (const op of c.ops) expect(ops.has(op), op).toBe(true);
      let x: Tensor = new Tensor('float32', shape, data);
      // the .pb takes NHWC where the ONNX took NCHW
      const placeholder = gd.node!.find((n) => n.op === 'Placeholder')!;
      const dims = (placeholder.attr!.shape!.shape!.dim ?? []).map((d) => Number(d.size));
      if (shape.length === 4 && dims[3] === shape[1] && dims[1] !== shape[1]) x = permute4(x, [0, 2, 3, 1]);
      const outputs = model.graph.outputs.map((o) => o.name);
      const got = pythonRun(c.runner, `onnx-${key}`, bytes, x, outputs);
      for (const o of outputs) {
        const wt = want.get(o)!;
        let y = got.get(o)!;
        if (y.rank === 4 && y.shape.join() !== wt.shape.join()) y = permute4(y, [0, 3, 1, 2]);
        expect(y.shape, o).toEqual(wt.shape);
        expect(relativeError(y, wt), o).toBeLessThanOrEqual(1e-4);
      }
    }, 60_000);
  }
});
