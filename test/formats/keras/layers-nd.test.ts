// The 1-D / 3-D Keras layers UpSampling1D / 3D, ZeroPadding1D (channels_first) / 3D, Cropping3D,
// GlobalAverage/MaxPooling3D (keepdims) and Conv1D/3DTranspose (same / valid, kernel < stride,
// channels_first) read from .h5 files written to tf.keras 2.x's layout by
// scripts/fixtures/keras_layers_nd.py with the outputs computed in NumPy (TensorFlow is not
// installable; TF.js has none of these layers but Conv3DTranspose), run by nnport, by onnxruntime
// on the written .onnx and by the TFLite interpreter on the written .tflite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../../src/index.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { relErr } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { h5NumpyCase } from './h5-numpy-case.js';
import { openH5, tf } from './tfjs-oracle.js';

const oracle = useTfliteOracle();
const NETS = ['up1d', 'up3d', 'up3d_first', 'pad1d_first', 'pad_crop3d', 'pad_crop3d_first', 'gap3d', 'gmp3d_keep', 'gp3d_first', 'convt1d', 'convt1d_valid', 'convt3d', 'convt3d_valid', 'convt3d_first'];
const NO_TFLITE = new Set(['up3d_first']);
const REFUSED: [string, RegExp][] = [['convt1d_outpad', /Conv1DTranspose output_padding/], ['convt3d_dilated', /Conv3DTranspose with dilation/]];
const dir = ensureScriptFixtures('keras_layers_nd.py', 'keras-layers-nd', [...NETS, ...REFUSED.map(([n]) => n)]);

/** (N, C, d...) -> (N, d..., C) */
const channelsLast = (t: Tensor): Tensor => t.permute([0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]);

describe('Keras 1-D / 3-D layers (.h5, NumPy reference)', () => {
  for (const net of NETS) {
    it(`${net}: nnport, onnxruntime and the TFLite interpreter = NumPy`, async () => {
      const c = await h5NumpyCase(dir, net);
      const { want, model, got } = c;
      const x = c.feeds.x!;
      const e = relErr(got.toFloat32(), want.toFloat32());
      const onnx = (await convert(model, 'm.onnx')).bytes;
      const o = [...(await ortRun(onnx, [x])).values()][0]!;
      const eO = relErr(o.toFloat32(), want.toFloat32());
      const fixed = await c.fixed();
      if (NO_TFLITE.has(net)) {
        // a channels_first UpSampling3D stays a 5-D Resize: refused by name, never a broken file
        await expect(convert(fixed, 'm.tflite')).rejects.toThrow(UnsupportedError);
        await expect(convert(fixed, 'm.tflite')).rejects.toThrow(/Resize of a rank-5 tensor/);
        console.log(`${net}: nnport vs NumPy ${e.toExponential(2)}, onnxruntime ${eO.toExponential(2)}`);
      } else {
        const tfl = (await convert(fixed, 'm.tflite')).bytes;
        // a graph with NCHW ops (channels_first convs) is written NHWC end to end
        const [input] = await oracle.inputs(tfl);
        const nhwc = input!.shape.join() !== x.shape.join();
        if (nhwc) expect(input!.shape).toEqual([...channelsLast(x).shape]);
        const [t] = await oracle.run(tfl, [(nhwc ? channelsLast(x) : x).toFloat32()]);
        const wantT = nhwc ? channelsLast(want) : want;
        const eT = relErr(t!.data as Float32Array, wantT.toFloat32());
        console.log(`${net}: nnport vs NumPy ${e.toExponential(2)}, onnxruntime ${eO.toExponential(2)}, TFLite interpreter ${eT.toExponential(2)}${nhwc ? ' (NHWC)' : ''}`);
        expect(t!.shape).toEqual([...wantT.shape]);
        expect(eT).toBeLessThanOrEqual(1e-5);
      }
      expect(got.shape).toEqual(want.shape);
      expect(o.shape).toEqual(want.shape);
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(eO).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('Keras transposed convs nnport refuses by name', () => {
  for (const [net, why] of REFUSED) {
    it(net, async () => {
      const load = loadModel(readFileSync(join(dir, net, 'model.h5')), { fileName: `${net}.h5` });
      await expect(load).rejects.toThrow(UnsupportedError);
      await expect(loadModel(readFileSync(join(dir, net, 'model.h5')), { fileName: `${net}.h5` })).rejects.toThrow(why);
    });
  }
});

// The NumPy reference's transposed convs (keras_layers_nd.py conv_transpose_last) checked against
// TF.js' own ops (tf.conv3dTranspose; a 1-D one as tf.conv2dTranspose of height 1) on the kernel and
// bias read from the .h5 by h5wasm: the same 'same' / 'valid' output sizes and crops as TF.
describe('the NumPy transposed-conv reference = TF.js conv*Transpose', () => {
  const CONVT: [string, string][] = [['convt1d', 'relu'], ['convt1d_valid', 'linear'], ['convt3d', 'linear'], ['convt3d_valid', 'tanh'], ['convt3d_first', 'linear']];
  for (const [net, act] of CONVT) {
    it(net, async () => {
      const bytes = readFileSync(join(dir, net, 'model.h5'));
      const first = net.endsWith('_first');
      const x = readNpy(readFileSync(join(dir, net, 'x.npy')));
      const want = readNpy(readFileSync(join(dir, net, 'y.npy')));
      const xl = first ? channelsLast(x) : x;
      const wl = first ? channelsLast(want) : want;
      const { file, close } = await openH5(bytes);
      const ds = (p: string): tf.Tensor => {
        const d = file.get(p) as unknown as { value: Float32Array; shape: number[] };
        return tf.tensor(Float32Array.from(d.value), d.shape, 'float32');
      };
      const w = ds('model_weights/ct/ct/kernel:0');
      const b = ds('model_weights/ct/ct/bias:0');
      const model = JSON.parse(String(file.attrs['model_config']!.value)) as { config: { layers: { config: { strides: number[]; padding: 'same' | 'valid' } }[] } };
      close();
      const { strides: cfg, padding } = model.config.layers[1]!.config;
      const xt = tf.tensor(xl.toFloat32(), [...xl.shape]);
      let y: tf.Tensor;
      if (xl.rank === 3) {
        const [n, , c] = xl.shape as number[];
        const out = wl.shape as number[];
        y = tf.conv2dTranspose(xt.reshape([n!, 1, xl.shape[1]!, c!]) as tf.Tensor4D, w.expandDims(0) as tf.Tensor4D, [n!, 1, out[1]!, out[2]!], [1, cfg[0]!], padding).reshape(out);
      } else {
        y = tf.conv3dTranspose(xt as tf.Tensor5D, w as tf.Tensor5D, wl.shape as [number, number, number, number, number], cfg as [number, number, number], padding);
      }
      y = y.add(b);
      if (act === 'relu') y = tf.relu(y);
      if (act === 'tanh') y = tf.tanh(y);
      const e = relErr(y.dataSync() as Float32Array, wl.toFloat32());
      console.log(`${net}: NumPy reference vs TF.js ${e.toExponential(2)}`);
      expect(y.shape).toEqual([...wl.shape]);
      expect(e).toBeLessThanOrEqual(1e-5);
    });
  }
});
