// Keras 3 forms of the recurrent layers (LSTM / GRU / SimpleRNN, Bidirectional around one of them):
// their config.json entries and where saving_lib puts their weights in model.weights.h5.
//
// Keras 3 (keras/src/layers/rnn/*.py): an RNN layer's get_config is the Layer keys (name, trainable,
// dtype), the RNN keys (return_sequences, return_state, go_backwards, stateful, unroll,
// zero_output_for_mask) and its cell's keys; `time_major` is no argument any more (a ValueError:
// unrecognized keyword) and only LSTM / GRU take `implementation`. Bidirectional keeps both
// direction layers as serialized objects: `layer` (named forward_<name>) and `backward_layer`
// (backward_<name>, go_backwards=True); both have zero_output_for_mask = return_sequences.
//
// Weights (keras/src/saving/saving_lib.py): every saveable's own variables go to
// `<path>/vars/<i>` (with a `name` attribute), then its child saveables by attribute name. An RNN
// layer has no variables of its own: its cell's are at `layers/<group>/cell/vars/0..2` (kernel,
// recurrent_kernel, bias). Bidirectional: `<group>/forward_layer/cell/vars` and
// `<group>/backward_layer/cell/vars`.
import type { Tensor } from '../../ir/tensor.js';
import type { Json, JsonObject } from './config.js';
import { isConvRecurrent } from './conv-recurrent.js';

export const KERAS3_RNN_CLASSES = new Set(['LSTM', 'GRU', 'SimpleRNN']);

/** Keras 3's name for a class' cell (LSTM's cell is always `lstm_cell`). */
const CELL_NAME: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };

/** The variable groups of a layer in model.weights.h5 below `layers/<group>/`, in the order of its weights. */
export function keras3VarPaths(className: string): string[] {
  if (KERAS3_RNN_CLASSES.has(className) || isConvRecurrent(className)) return ['vars', 'cell/vars'];
  if (className === 'Bidirectional') return ['vars', 'forward_layer/vars', 'forward_layer/cell/vars', 'backward_layer/vars', 'backward_layer/cell/vars'];
  // MultiHeadAttention's EinsumDense sublayers: kernel, bias each (attention.ts)
  if (className === 'MultiHeadAttention') return ['vars', 'query_dense/vars', 'key_dense/vars', 'value_dense/vars', 'output_dense/vars'];
  return ['vars'];
}

/** One `vars` group to write: its path below the layer's group, its `name` attribute, its tensors as vars/0, 1, ... */
export interface Keras3VarGroup {
  path: string;
  name: string;
  tensors: Tensor[];
}

/**
 * The vars groups of a layer as from-graph gives it (weights with Keras 2 roles: `kernel`,
 * `lstm_cell/kernel`, `forward_lstm/lstm_cell/kernel`).
 */
export function keras3VarGroups(className: string, name: string, config: JsonObject, weights: readonly { role: string; tensor: Tensor }[]): Keras3VarGroup[] {
  const own: Keras3VarGroup = { path: 'vars', name, tensors: [] };
  if (KERAS3_RNN_CLASSES.has(className) || isConvRecurrent(className)) {
    return [own, { path: 'cell/vars', name: CELL_NAME[className] ?? 'conv_lstm_cell', tensors: weights.map((w) => w.tensor) }];
  }
  if (className === 'Bidirectional') {
    const inner = innerLayer(config);
    const groups = [own];
    for (const dir of ['forward', 'backward'] as const) {
      const ws = weights.filter((w) => w.role.startsWith(`${dir}_`));
      groups.push({ path: `${dir}_layer/vars`, name: `${dir}_${inner.name}`, tensors: [] }, { path: `${dir}_layer/cell/vars`, name: CELL_NAME[inner.className] ?? 'cell', tensors: ws.map((w) => w.tensor) });
    }
    return groups;
  }
  if (className === 'MultiHeadAttention') {
    // its EinsumDense sublayers' kernel and bias (attention-write.ts orders the weights so)
    const sub = { query: 'query_dense', key: 'key_dense', value: 'value_dense', attention_output: 'output_dense' } as Record<string, string>;
    return [own, ...Object.entries(sub).map(([role, path]) => ({ path: `${path}/vars`, name: path, tensors: weights.filter((w) => w.role.startsWith(`${role}/`)).map((w) => w.tensor) }))];
  }
  return [{ ...own, tensors: weights.map((w) => w.tensor) }];
}

/** Bidirectional's wrapped layer: its class and its name (Keras 3 prefixes forward_ / backward_). */
function innerLayer(config: JsonObject): { className: string; name: string } {
  const l = config.layer as JsonObject;
  const c = l.config as JsonObject;
  return { className: l.class_name as string, name: typeof c.name === 'string' ? c.name : 'rnn' };
}

/** An LSTM / GRU / SimpleRNN config (Keras 2 keys, as recurrent-write.ts makes it) in Keras 3's keys. */
function rnnConfig(className: string, c: JsonObject, zeroOutputForMask: boolean): JsonObject {
  const out: JsonObject = {
    name: c.name!,
    trainable: c.trainable ?? true,
    dtype: c.dtype ?? 'float32',
    return_sequences: c.return_sequences ?? false,
    return_state: c.return_state ?? false,
    go_backwards: c.go_backwards ?? false,
    stateful: c.stateful ?? false,
    unroll: c.unroll ?? false,
    zero_output_for_mask: zeroOutputForMask,
    units: c.units!,
    activation: c.activation ?? 'tanh',
  };
  if (className !== 'SimpleRNN') out.recurrent_activation = c.recurrent_activation ?? 'sigmoid';
  out.use_bias = c.use_bias ?? true;
  // initializers as the constructors' defaults name them (the weights are loaded over them)
  out.kernel_initializer = 'glorot_uniform';
  out.recurrent_initializer = 'orthogonal';
  out.bias_initializer = 'zeros';
  if (className === 'LSTM') out.unit_forget_bias = c.unit_forget_bias ?? true;
  for (const k of ['kernel_regularizer', 'recurrent_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'recurrent_constraint', 'bias_constraint']) out[k] = null;
  out.dropout = c.dropout ?? 0;
  out.recurrent_dropout = c.recurrent_dropout ?? 0;
  if (className === 'GRU') out.reset_after = c.reset_after ?? true;
  out.seed = null;
  return out;
}

function serialized(className: string, config: JsonObject): JsonObject {
  return { module: 'keras.layers', class_name: className, config, registered_name: null };
}

/** The Keras 3 config of a recurrent layer (`undefined` for any other class). */
export function keras3RecurrentConfig(className: string, config: JsonObject): JsonObject | undefined {
  if (KERAS3_RNN_CLASSES.has(className)) return rnnConfig(className, config, false);
  if (className !== 'Bidirectional') return undefined;
  const { className: cls, name: base } = innerLayer(config);
  const ic = (config.layer as JsonObject).config as JsonObject;
  const seq = ic.return_sequences === true;
  const forward = rnnConfig(cls, { ...ic, name: `forward_${base}`, go_backwards: false }, seq);
  const backward = rnnConfig(cls, { ...ic, name: `backward_${base}`, go_backwards: true }, seq);
  const out: JsonObject = { name: config.name!, trainable: config.trainable ?? true, dtype: config.dtype ?? 'float32', merge_mode: (config.merge_mode as Json) ?? 'concat', layer: serialized(cls, forward), backward_layer: serialized(cls, backward) };
  return out;
}
