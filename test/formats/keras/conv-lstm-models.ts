// ConvLSTM2D models built by TensorFlow.js itself (4.9) for the ConvLSTM tests: the layer's
// arguments one at a time (padding, strides, dilation, activations, bias, go_backwards,
// return_sequences / return_state, channels_first, Bidirectional) and a precipitation-nowcasting stack
// (ConvLSTM2D -> TimeDistributed(BatchNormalization) -> ConvLSTM2D -> Conv3D sigmoid). (TF.js 4.9
// cannot build a ConvLSTM2D called with initial states, nor a BatchNormalization on rank 5.)
import { tf } from './tfjs-oracle.js';

const convLstm = (args: Record<string, unknown>) => tf.layers.convLstm2d(args as never);

export const CONV_LSTM_MODELS: Array<[string, () => tf.LayersModel]> = [
  ['same padding, last output (hard_sigmoid gates, TF.js default)', () => tf.sequential({ layers: [
    convLstm({ filters: 3, kernelSize: 3, padding: 'same', inputShape: [4, 6, 6, 2] }),
  ] })],
  ['valid padding, strides 2, sequences, sigmoid gates, relu activation', () => tf.sequential({ layers: [
    convLstm({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'valid', returnSequences: true, recurrentActivation: 'sigmoid', activation: 'relu', inputShape: [3, 9, 8, 2] }),
  ] })],
  ['dilation 2, go_backwards, sequences, no bias', () => tf.sequential({ layers: [
    convLstm({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', goBackwards: true, returnSequences: true, useBias: false, inputShape: [5, 7, 7, 3] }),
  ] })],
  ['valid dilation 2 on odd frames, go_backwards, last output', () => tf.sequential({ layers: [
    convLstm({ filters: 3, kernelSize: 2, dilationRate: 2, goBackwards: true, inputShape: [3, 7, 6, 1] }),
  ] })],
  ['precipitation nowcasting: ConvLSTM2D -> TimeDistributed(BatchNormalization) -> ConvLSTM2D -> Conv3D sigmoid', () => tf.sequential({ layers: [
    convLstm({ filters: 4, kernelSize: 3, padding: 'same', returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [4, 8, 8, 1] }),
    tf.layers.timeDistributed({ layer: tf.layers.batchNormalization() }),
    convLstm({ filters: 3, kernelSize: 3, padding: 'same', returnSequences: true }),
    tf.layers.conv3d({ filters: 1, kernelSize: [1, 3, 3], padding: 'same', activation: 'sigmoid' }),
  ] })],
  ['return_state: [output, h, c]', () => {
    const x = tf.input({ shape: [3, 5, 5, 2] });
    const outs = tf.layers.convLstm2d({ filters: 2, kernelSize: 3, padding: 'same', returnSequences: true, returnState: true } as never).apply(x) as tf.SymbolicTensor[];
    return tf.model({ inputs: x, outputs: outs });
  }],
  ['channels_first, valid, sequences', () => tf.sequential({ layers: [
    convLstm({ filters: 3, kernelSize: 3, dataFormat: 'channelsFirst', returnSequences: true, inputShape: [3, 2, 7, 6] }),
  ] })],
  ['channels_first, same, return_state', () => {
    const x = tf.input({ shape: [3, 2, 5, 6] });
    const outs = tf.layers.convLstm2d({ filters: 2, kernelSize: [3, 1], padding: 'same', dataFormat: 'channelsFirst', returnState: true } as never).apply(x) as tf.SymbolicTensor[];
    return tf.model({ inputs: x, outputs: outs });
  }],
  ['Bidirectional concat, sequences', () => tf.sequential({ layers: [
    tf.layers.bidirectional({ layer: convLstm({ filters: 2, kernelSize: 3, padding: 'same', returnSequences: true }) as never, inputShape: [3, 5, 5, 2] } as never),
  ] })],
  ['Bidirectional sum, valid strides 2, last output', () => tf.sequential({ layers: [
    tf.layers.bidirectional({ layer: convLstm({ filters: 3, kernelSize: 2, strides: 2, recurrentActivation: 'sigmoid' }) as never, mergeMode: 'sum', inputShape: [4, 7, 6, 2] } as never),
  ] })],
  ['Bidirectional ave, return_state: [output, h, c forward, h, c backward]', () => {
    const x = tf.input({ shape: [3, 5, 4, 2] });
    const outs = tf.layers.bidirectional({ layer: convLstm({ filters: 2, kernelSize: 3, padding: 'same', returnSequences: true, returnState: true }) as never, mergeMode: 'ave' } as never).apply(x) as tf.SymbolicTensor[];
    return tf.model({ inputs: x, outputs: outs });
  }],
  ['Bidirectional merge_mode null: [forward, backward] sequences', () => {
    const x = tf.input({ shape: [3, 4, 4, 2] });
    const outs = tf.layers.bidirectional({ layer: convLstm({ filters: 2, kernelSize: 3, padding: 'same', returnSequences: true }) as never, mergeMode: null } as never).apply(x) as tf.SymbolicTensor[];
    return tf.model({ inputs: x, outputs: outs });
  }],
  ['Bidirectional mul, channels_first', () => tf.sequential({ layers: [
    tf.layers.bidirectional({ layer: convLstm({ filters: 2, kernelSize: 3, padding: 'same', dataFormat: 'channelsFirst', returnSequences: true }) as never, mergeMode: 'mul', inputShape: [3, 2, 5, 4] } as never),
  ] })],
];
