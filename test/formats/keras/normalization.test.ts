// Keras' Normalization preprocessing layer (adapted: weights mean / variance / count; or mean and
// variance in the config; invert=True; axis over several dims) read from .h5 files written to
// tf.keras 2.x's layout by scripts/fixtures/keras_preprocessing_h5.py with the outputs computed in
// NumPy (TensorFlow is not installable here), run by nnport and, as .tflite, by the interpreter.
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/index.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { relErr } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { h5NumpyCase } from './h5-numpy-case.js';

const oracle = useTfliteOracle();
const NETS = ['adapted', 'spatial', 'inverted'];
const dir = ensureScriptFixtures('keras_preprocessing_h5.py', 'keras-preprocessing', NETS);

describe('Keras Normalization (.h5, NumPy reference)', () => {
  for (const net of NETS) {
    it(`${net}: nnport and the TFLite interpreter = NumPy`, async () => {
      const { feeds, want, got, fixed } = await h5NumpyCase(dir, net);
      const e = relErr(got.toFloat32(), want.toFloat32());
      const [t] = await oracle.run((await convert(await fixed(), 'm.tflite')).bytes, [feeds.x!.toFloat32()]);
      const eT = relErr(t!.data as Float32Array, want.toFloat32());
      console.log(`Normalization ${net}: nnport vs NumPy ${e.toExponential(2)}, TFLite interpreter ${eT.toExponential(2)}`);
      expect(got.shape).toEqual(want.shape);
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(eT).toBeLessThanOrEqual(1e-5);
    });
  }
});
