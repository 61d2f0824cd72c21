// What TensorFlow.js 4.9 can build from a layers model.json: the class names its serialization map
// registers (layers, wrappers, initializers, regularizers, constraints) and the activation names its
// deserializer takes (snake_case, as Keras writes them). A model.json naming anything else fails in
// tf.loadLayersModel ("Unknown layer: GlobalAveragePooling3D"), so the TF.js writer refuses it by name
// before writing (a Keras .h5 / .keras keeps those layers). The list is TF.js 4.9's
// SerializationMap.getMap().classNameMap, the version the package's tests load files with.
import { UnsupportedError } from '../../ir/errors.js';

const TFJS_CLASSES = new Set([
  'Activation', 'Add', 'AlphaDropout', 'Average', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D', 'BatchNormalization',
  'Bidirectional', 'CategoryEncoding', 'CenterCrop', 'Concatenate', 'Constant', 'Conv1D', 'Conv2D', 'Conv2DTranspose', 'Conv3D',
  'Conv3DTranspose', 'ConvLSTM2D', 'ConvLSTM2DCell', 'Cropping2D', 'Dense', 'DepthwiseConv2D', 'Dot', 'Dropout', 'ELU', 'Embedding',
  'Flatten', 'Functional', 'GRU', 'GRUCell', 'GaussianDropout', 'GaussianNoise', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D',
  'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'GlorotNormal', 'GlorotUniform', 'HeNormal', 'HeUniform', 'Identity', 'InputLayer', 'L1L2',
  'LSTM', 'LSTMCell', 'LayerNormalization', 'LeCunNormal', 'LeCunUniform', 'LeakyReLU', 'Masking', 'MaxNorm', 'MaxPooling1D',
  'MaxPooling2D', 'MaxPooling3D', 'Maximum', 'MinMaxNorm', 'Minimum', 'Model', 'Multiply', 'NonNeg', 'Ones', 'Orthogonal', 'PReLU',
  'Permute', 'RNN', 'RandomNormal', 'RandomUniform', 'RandomWidth', 'ReLU', 'RepeatVector', 'Rescaling', 'Reshape', 'Resizing',
  'SeparableConv2D', 'Sequential', 'SimpleRNN', 'SimpleRNNCell', 'Softmax', 'SpatialDropout1D', 'StackedRNNCells', 'ThresholdedReLU',
  'TimeDistributed', 'TruncatedNormal', 'UnitNorm', 'UpSampling2D', 'VarianceScaling', 'ZeroPadding2D', 'Zeros',
]);

const TFJS_ACTIVATIONS = new Set(['elu', 'hard_sigmoid', 'linear', 'log_softmax', 'mish', 'relu', 'relu6', 'selu', 'sigmoid', 'softmax', 'softplus', 'softsign', 'swish', 'tanh']);

/** Activations a TF.js graph model computes with its ops (gelu: Erf), which the layers API lacks. */
const GRAPH_MODEL_OPS = new Set(['gelu']);

type Json = unknown;

/**
 * Throws UnsupportedError naming the first class or activation in a model config that TF.js 4.9
 * cannot build, with the layer it is in.
 */
export function refuseUnknownToTfjs(modelConfig: Json): void {
  const visit = (v: Json, layer: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => visit(x, layer));
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, Json>;
    const cfg = o.config as Record<string, Json> | undefined;
    const here = typeof cfg?.name === 'string' && typeof o.class_name === 'string' ? cfg.name : layer;
    if (typeof o.class_name === 'string' && !TFJS_CLASSES.has(o.class_name)) {
      throw new UnsupportedError(`Keras ${o.class_name} in a TF.js layers model: TF.js 4.9 has no such class (write a Keras .h5 or .keras instead)`, `layer '${here}'`);
    }
    for (const [k, x] of Object.entries(o)) {
      if (k === 'activation' || k === 'recurrent_activation') {
        if (typeof x === 'string' && !TFJS_ACTIVATIONS.has(x)) throw new UnsupportedError(`the '${x}' activation in a TF.js layers model: TF.js 4.9 has no such activation (write a Keras .h5 or .keras instead${GRAPH_MODEL_OPS.has(x) ? ', or a TF.js graph model: --tfjs-format graph' : ''})`, `layer '${here}'`);
      } else visit(x, here);
    }
  };
  visit(modelConfig, '<model>');
}
