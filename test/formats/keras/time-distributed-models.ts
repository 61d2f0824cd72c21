// TimeDistributed models built by TensorFlow.js itself (4.9) for the TimeDistributed tests:
// frame-sequence classifiers, a seq2seq head, a CRNN, an unknown time axis.
import { tf } from './tfjs-oracle.js';

/** Seeded weights away from the initializers' zeros / ones; BatchNormalization variances positive. */
export function seedWeights(m: tf.LayersModel, seed: number): void {
  m.setWeights(m.weights.map((w, i) => {
    const r = tf.randomUniform(w.shape as number[], -1, 1, 'float32', seed + i);
    return /moving_variance/.test(w.originalName) ? tf.add(tf.abs(r), 0.5) : tf.mul(r, 0.7);
  }));
}

export const td = (layer: unknown, extra: Record<string, unknown> = {}) => tf.layers.timeDistributed({ layer: layer as never, ...extra });

export const TD_MODELS: Array<[string, () => tf.LayersModel]> = [
  ['video classifier: TD(Conv2D same relu, BatchNormalization, MaxPooling2D, Flatten, Dense) -> LSTM', () => tf.sequential({ layers: [
    td(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), { inputShape: [5, 8, 8, 2] }),
    td(tf.layers.batchNormalization()),
    td(tf.layers.maxPooling2d({ poolSize: 2 })),
    td(tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2 })),
    td(tf.layers.flatten()),
    td(tf.layers.dense({ units: 6, activation: 'tanh' })),
    tf.layers.lstm({ units: 4 }),
  ] })],
  ['seq2seq head: LSTM return_sequences -> TD(Dense softmax)', () => tf.sequential({ layers: [
    tf.layers.lstm({ units: 5, returnSequences: true, inputShape: [6, 3] }),
    td(tf.layers.dense({ units: 4, activation: 'softmax' })),
  ] })],
  ['CRNN: TD(Conv1D, GlobalMaxPooling1D) -> GRU, then TD(Dense) on rank 3', () => tf.sequential({ layers: [
    td(tf.layers.conv1d({ filters: 3, kernelSize: 3, activation: 'relu' }), { inputShape: [4, 7, 2] }),
    td(tf.layers.globalMaxPooling1d({})),
    tf.layers.gru({ units: 4, returnSequences: true }),
    td(tf.layers.dense({ units: 2 })),
  ] })],
  ['unknown time: TD(Conv2D, GlobalAveragePooling2D) -> SimpleRNN', () => tf.sequential({ layers: [
    td(tf.layers.conv2d({ filters: 3, kernelSize: 3 }), { inputShape: [null, 6, 6, 2] }),
    td(tf.layers.globalAveragePooling2d({})),
    tf.layers.simpleRNN({ units: 3 }),
  ] })],
  ['unknown time and frame size: TD(Conv2D relu, GlobalAveragePooling2D) -> SimpleRNN', () => tf.sequential({ layers: [
    td(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), { inputShape: [null, null, null, 2] }),
    td(tf.layers.globalAveragePooling2d({})),
    tf.layers.simpleRNN({ units: 3, returnSequences: true }),
  ] })],
];

