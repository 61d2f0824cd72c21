// The masked-sequence inputs and TF.js model builders shared by the Keras masking reader and writer
// tests (masking.test.ts, masking-write.test.ts): token rows padded before ('pre', pad_sequences'
// default), after ('post'), fully, not at all and with zeros in the middle; float steps that are
// mask_value where a row has 0.
import type { Tensor as IrTensor } from '../../../src/ir/tensor.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { randomInput, tf } from './tfjs-oracle.js';

export const T = 6;
export const VOCAB = 7;
/** pre-padded, post-padded, fully padded, unpadded, zeros in the middle */
export const TOKEN_ROWS = [
  [0, 0, 3, 1, 4, 2],
  [5, 2, 6, 0, 0, 0],
  [0, 0, 0, 0, 0, 0],
  [1, 2, 3, 4, 5, 6],
  [3, 0, 2, 0, 0, 1],
];
export const tokens = (): IrTensor => Tensor.float32([TOKEN_ROWS.length, T], TOKEN_ROWS.flat());

/** float steps [B, T, 3], `value` (Masking's mask_value) where TOKEN_ROWS has 0, else seeded values away from it */
export function maskedSteps(value = 0): IrTensor {
  const r = randomInput([TOKEN_ROWS.length, T, 3], 5).toFloat32();
  const d = new Float32Array(r.length);
  TOKEN_ROWS.flat().forEach((id, s) => {
    for (let f = 0; f < 3; f++) d[s * 3 + f] = id === 0 ? value : r[s * 3 + f]! + (r[s * 3 + f]! >= 0 ? 0.1 : -0.1);
  });
  // one unmasked step that equals mask_value in some (not all) features
  d[3 * 3 + 1] = value;
  return Tensor.float32([TOKEN_ROWS.length, T, 3], d);
}

/** Seeded weights away from the initializers' orthogonal / zero values. */
export function seeded(m: tf.LayersModel, seed: number): tf.LayersModel {
  m.setWeights(m.getWeights().map((w, i) => tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', seed + i), 0.7)));
  return m;
}

export const ids = (): tf.SymbolicTensor => tf.input({ shape: [T] });
export const embed = (x: tf.SymbolicTensor): tf.SymbolicTensor => tf.layers.embedding({ inputDim: VOCAB, outputDim: 4, maskZero: true }).apply(x) as tf.SymbolicTensor;
export const model = (x: tf.SymbolicTensor, y: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.LayersModel => tf.model({ inputs: x, outputs: y });
export const chain =
  (...layers: tf.layers.Layer[]) =>
  (x: tf.SymbolicTensor): tf.SymbolicTensor =>
    layers.reduce((v, l) => l.apply(v) as tf.SymbolicTensor, x);
