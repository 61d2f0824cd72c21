// Layers whose output size follows an input height / width known only at run time (PyTorch exports
// with dynamic batch / height / width axes: scripts/fixtures/dynamic_hw_models.py), written to the
// channels-last formats and run at two input sizes against onnxruntime-node on the export (itself
// checked against PyTorch):
// - ConvTranspose2d with pads / output_padding / stride 3x2 / dilation 2: the pads cropped by a Slice
//   counted from the end (Keras: Cropping2D) and the dilation put into the kernel
//   (src/passes/conv-transpose-valid.ts), Conv2DBackpropInput's output shape computed from Shape(x);
// - ceil-mode MaxPool (GoogLeNet's 2x2 / 2, torchvision squeezenet1_1): floor mode over end pads of
//   s − 1 (src/passes/ceil-pool-as-pads.ts); a ceil-mode AvgPool (count_include_pad False) as the average
//   over zero pads divided by that of ones (more in test/formats/ceil-pool-dynamic.test.ts).
// TF.js runs the graph model (and the Keras .h5, as a layers model), nnport's TF reader reads the .pb
// back, the TFLite interpreter runs the .tflite (its input's stored size set to each); all channels-last.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../src/formats/generated/tensorflow.js';
import { readNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { ensureScriptFixtures } from '../support/fixture-script.js';
import { ortRun } from '../support/ort.js';
import { useTfliteOracle } from '../support/tflite-test.js';
import { expectLikeOnnxruntime, runChannelsLast } from './channels-last-runs.js';
import { tfjsModelFromH5 } from './keras/tfjs-oracle.js';
import { loadWrittenGraphModel, tf } from './tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

/** each net: its outputs, whether its Keras .h5 is written (max pooling pads of possibly negative data are not Keras layers: a join of ReLUs is known non-negative), the .pb op that shows the path */
const NETS: Record<string, { outputs: string[]; keras: boolean; op: string }> = {
  pad1_op1: { outputs: ['y'], keras: true, op: 'Conv2DBackpropInput' },
  pad2_s3: { outputs: ['y'], keras: true, op: 'Conv2DBackpropInput' },
  pad1_dil2: { outputs: ['y'], keras: true, op: 'Conv2DBackpropInput' },
  max_ceil: { outputs: ['y', 'z'], keras: false, op: 'MaxPool' },
  squeezenet: { outputs: ['y'], keras: true, op: 'MaxPool' },
  avg_ceil: { outputs: ['y'], keras: true, op: 'RealDiv' },
};
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('dynamic_hw_models.py', 'dynamic-hw-models', Object.keys(NETS));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);

describe('layers of a run-time height / width in .tflite, .pb, TF.js graph models and Keras, against onnxruntime-node', () => {
  for (const [net, spec] of Object.entries(NETS)) {
    it(net, { timeout: 120_000 }, async () => {
      const onnx = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const model = await loadModel(onnx, { fileName: `${net}.onnx` });
      const web = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
      const graphModel = await loadWrittenGraphModel({ json: web.bytes, sidecars: web.sidecars });
      const pb = (await convert(model, `${net}.pb`)).bytes;
      expect(tensorflow.GraphDef.decode(pb).node.map((n) => n.op)).toContain(spec.op);
      const back = await loadModel(pb, { fileName: `${net}.pb` });
      const tflite = (await convert(model, `${net}.tflite`)).bytes;
      const keras = spec.keras ? await tfjsModelFromH5((await convert(model, `${net}.h5`)).bytes) : undefined;
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const want = await ortRun(onnx, { x });
        for (const o of spec.outputs) expect(maxAbsDiff(want.get(o)!.toFloat32(), npy(net, `${o}_${c}`).toFloat32()), `onnxruntime vs PyTorch ${o}`).toBeLessThan(1e-5);
        // the written models are channels-last (the layout pass): fed NHWC, their NHWC outputs compared as NCHW
        const got = await runChannelsLast({ graphModel, back, tflite, keras }, oracle, x.permute([0, 2, 3, 1]), spec.outputs);
        expectLikeOnnxruntime(got, want, spec.outputs, `${net} x_${c} ${JSON.stringify(x.shape)}`, { metric: maxAbsDiff });
      }
      graphModel.dispose();
      keras?.dispose();
    });
  }
});
