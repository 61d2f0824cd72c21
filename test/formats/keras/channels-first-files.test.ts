// Keras .h5 (tf.keras 2 layout) and .keras (Keras 3) files with data_format='channels_first' layers
// TensorFlow.js cannot compute (Conv1D causal / same, 1-D pooling, SeparableConv1D/2D, global 1-D
// pooling, BatchNormalization / LayerNormalization on axis 1, Conv2DTranspose, pooling, cropping,
// upsampling), written by scripts/fixtures/keras_channels_first.py with h5py and their outputs
// computed there in NumPy: nnport's runtime, onnxruntime-node on the written .onnx and the TFLite
// interpreter on the written .tflite (NHWC) equal NumPy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKerasH5, readKerasV3 } from '../../../src/formats/keras/read.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert } from '../../../src/index.js';
import type { GraphModel } from '../../../src/formats/model.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { channelsLast, expectNchwRuntimes } from './channels-first-check.js';
import { relError } from './tfjs-oracle.js';

const oracle = useTfliteOracle();
const NETS = ['conv1d', 'conv2d', 'keras3'] as const;

async function read(dir: string, net: string, inputShapes?: Record<string, number[]>): Promise<GraphModel> {
  const opts = { fileName: net === 'keras3' ? 'cf.keras' : 'cf.h5', ...(inputShapes && { inputShapes }) };
  return net === 'keras3' ? readKerasV3(new Uint8Array(readFileSync(join(dir, net, 'model.keras'))), opts) : readKerasH5(new Uint8Array(readFileSync(join(dir, net, 'model.h5'))), opts);
}

describe('channels_first Keras files (keras_channels_first.py) vs NumPy', () => {
  const dir = ensureScriptFixtures('keras_channels_first.py', 'keras-channels-first', NETS);
  for (const net of NETS) {
    it(`${net}: nnport, onnxruntime (.onnx) and the TFLite interpreter (.tflite, NHWC) = NumPy`, async () => {
      const x = readNpy(readFileSync(join(dir, net, 'input.npy')));
      const want = readNpy(readFileSync(join(dir, net, 'output.npy')));
      const model = await read(dir, net);
      // onnxruntime 1.30's Pad fusion (microsoft/onnxruntime#18136) folds conv2d's ZeroPadding2D
      // (a zero Pad) into the MaxPool after it, whose padding is -inf: wrong wherever a window's real
      // values are all negative, so the session runs the graph as written
      await expectNchwRuntimes(model, x, want, { graphOptimizationLevel: 'disabled' });

      // the first sample, batch fixed at 1 (--input-shape)
      const one = await read(dir, net, { '': [1, ...x.shape.slice(1)] });
      const tfl = await convert(one, 'cf.tflite');
      expect(tfliteOpNames(tfl.bytes, net)).not.toContain('TRANSPOSE');
      const x0 = Tensor.float32([1, ...x.shape.slice(1)], x.toFloat32().subarray(0, x.size / x.shape[0]!));
      const [input] = await oracle.inputs(tfl.bytes);
      expect(input!.shape).toEqual([...channelsLast(x0).shape]);
      const [y] = await oracle.run(tfl.bytes, [Float32Array.from(channelsLast(x0).toFloat32())]);
      const want0 = Tensor.float32([1, ...want.shape.slice(1)], want.toFloat32().subarray(0, want.size / want.shape[0]!));
      expect(y!.shape).toEqual([...want0.shape]);
      expect(relError(Tensor.float32(y!.shape, Float32Array.from(y!.data)), want0)).toBeLessThan(1e-5);
    });
  }
});
