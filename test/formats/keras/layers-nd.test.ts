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

const oracle = useTfliteOracle();
const NETS = ['up1d', 'up3d', 'up3d_first', 'pad1d_first', 'pad_crop3d', 'pad_crop3d_first', 'gap3d', 'gmp3d_keep', 'gp3d_first', 'convt1d', 'convt1d_valid', 'convt3d', 'convt3d_valid', 'convt3d_first'];
const NO_TFLITE = new Set(['up3d_first']);
const dir = ensureScriptFixtures('keras_layers_nd.py', 'keras-layers-nd', NETS);

/** (N, C, d...) -> (N, d..., C) */
const channelsLast = (t: Tensor): Tensor => t.permute([0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]);

describe('Keras 1-D / 3-D layers (.h5, NumPy reference)', () => {
  for (const net of NETS) {
    it(`${net}: nnport, onnxruntime and the TFLite interpreter = NumPy`, async () => {
      const bytes = readFileSync(join(dir, net, 'model.h5'));
      const x = readNpy(readFileSync(join(dir, net, 'x.npy')));
      const want = readNpy(readFileSync(join(dir, net, 'y.npy')));
      const model = await loadModel(bytes, { fileName: `${net}.h5` });
      const got = [...(await run(model, { x })).outputs.values()][0]!;
      const e = relErr(got.toFloat32(), want.toFloat32());
      const onnx = (await convert(model, 'm.onnx')).bytes;
      const o = [...(await ortRun(onnx, [x])).values()][0]!;
      const eO = relErr(o.toFloat32(), want.toFloat32());
      const fixed = await loadModel(bytes, { fileName: `${net}.h5`, inputShapes: { x: [...x.shape] } });
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
