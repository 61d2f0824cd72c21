// PyTorch ConvTranspose2d exported with a dynamic batch, height and width (pads, output_padding,
// strides 2 and 3 x 2, dilation 2: scripts/fixtures/conv_transpose_dynamic_hw.py) written as a TF.js
// graph model, a .pb, a .tflite and a Keras .h5: the pads cropped by a Slice counted from the end (Keras:
// Cropping2D) and the dilation put into the kernel (src/passes/conv-transpose-valid.ts), Conv2DBackpropInput's
// output shape computed from Shape(x). TF.js runs the graph model and the .h5 (as a layers model), nnport's
// TF reader reads the .pb back, the TFLite interpreter runs the .tflite (its input's stored size set to
// each); all channels-last, at two input sizes against
// onnxruntime-node on the export (itself checked against PyTorch).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { predict, tfjsModelFromH5 } from '../keras/tfjs-oracle.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';
import { Tensor as T } from '../../../src/ir/tensor.js';

const oracle = useTfliteOracle();

const NETS = ['pad1_op1', 'pad2_s3', 'pad1_dil2'];
let dir = '';

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('conv_transpose_dynamic_hw.py', 'conv-transpose-dynamic-hw', NETS);
}, 300_000);

const npy = (net: string, f: string): T => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);

describe('ConvTranspose of a run-time height / width in a GraphDef / TF.js graph model, against onnxruntime-node', () => {
  for (const net of NETS) {
    it(net, async () => {
      const onnx = new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
      const model = await loadModel(onnx, { fileName: `${net}.onnx` });
      const web = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
      const graphModel = await loadWrittenGraphModel({ json: web.bytes, sidecars: web.sidecars });
      const pb = (await convert(model, `${net}.pb`)).bytes;
      expect(tensorflow.GraphDef.decode(pb).node.map((n) => n.op)).toContain('Conv2DBackpropInput');
      const back = await loadModel(pb, { fileName: `${net}.pb` });
      const tflite = (await convert(model, `${net}.tflite`)).bytes;
      const keras = await tfjsModelFromH5((await convert(model, `${net}.h5`)).bytes);
      for (const c of ['a', 'b']) {
        const x = npy(net, `x_${c}`);
        const want = (await ortRun(onnx, { x })).get('y')!;
        expect(maxAbsDiff(want.toFloat32(), npy(net, `y_${c}`).toFloat32()), 'onnxruntime vs PyTorch').toBeLessThan(1e-5);
        // the written models are channels-last (the layout pass): fed NHWC, their NHWC outputs compared as NCHW
        const xh = x.permute([0, 2, 3, 1]);
        const got = { 'TF.js graph model': (await runGraphModel(graphModel, [xh]))[0]!, '.pb read back': (await run(back, { x: xh })).outputs.get('y')!,
          'Keras .h5 in TF.js': predict(keras, [xh])[0]!,
          interpreter: await oracle.run([0, 1, 2].reduce((b, a) => withStoredDim(b, a, xh.shape[a] as number), tflite), [xh.toFloat32()]).then(([y]) => new T('float32', y!.shape, y!.data as Float32Array)),
        };
        for (const [who, yh] of Object.entries(got)) {
          const y = yh.permute([0, 3, 1, 2]);
          expect(y.shape, `${who} ${c}`).toEqual(want.shape);
          const diff = maxAbsDiff(y.toFloat32(), want.toFloat32());
          console.log(`${net} x_${c} ${JSON.stringify(x.shape)}: ${who} ${diff.toExponential(2)} from onnxruntime`);
          expect(diff, `${who} ${c}`).toBeLessThan(1e-5);
        }
      }
      graphModel.dispose();
      keras.dispose();
    });
  }
});
