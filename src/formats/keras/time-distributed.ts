// Keras TimeDistributed (Keras 2 / tf.keras .h5, Keras 3 .keras, TF.js layers): the wrapped layer
// applied to every step of a [batch, time, ...] input with the same weights.
//
// Reading: the time axis is folded into the batch (Reshape [B, T, ...] -> [B·T, ...]), the wrapped
// layer's own row (layers.ts, the same Conv / pool / BatchNormalization / Flatten code as outside
// a wrapper, so channels-last nnport ops the layout pass handles) runs on the folded value, and the
// result is unfolded (Reshape [B·T, ...] -> [B, T, ...]). Layers that act on the last axis alone
// (Dense, activations, dropout) take the [B, T, ...] value as it is. A dynamic batch stays dynamic
// (-1 in the Reshapes); an unknown time or step size reshapes by the value's run-time Shape.
//
// Weights: the wrapper has none of its own. Keras 2 and TF.js name the wrapped layer's weights after
// the wrapper (`time_distributed/kernel:0`, `time_distributed_TimeDistributed1/kernel`); Keras 3's
// saving_lib stores them under the wrapper's `layer` attribute: `layers/time_distributed/layer/vars/<i>`
// (keras/src/layers/core/wrapper.py keeps the wrapped layer as `self.layer`).
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, type JsonObject } from './config.js';
import { keras3VarPaths } from './keras3-recurrent.js';
import { KERAS_LAYERS, weightRoles, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';

/** Wrapped layers that act on each position's last axis only: a [B, T, ...] value needs no folding. */
const PER_POSITION = new Set([
  'Dense',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'ThresholdedReLU',
  'Dropout',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'ActivityRegularization',
  'Rescaling',
]);

/** Wrapped classes refused by name: nested models, and wrappers whose weights need their own class' names. */
const REFUSED: Record<string, string> = {
  Sequential: 'a nested Sequential model',
  Functional: 'a nested functional model',
  Model: 'a nested functional model',
  Bidirectional: 'Bidirectional',
  InputLayer: 'an InputLayer',
};

/** The wrapped layer of a TimeDistributed config: its class and config (Keras 2 {class_name, config}, Keras 3 adds module / registered_name). */
export function wrappedLayer(cfg: JsonObject, where: string, file?: string): { className: string; config: JsonObject } {
  const l = cfg.layer;
  if (!isObject(l)) throw new FormatError(`${where} (TimeDistributed) has no wrapped layer (config.layer)`, { file });
  if (typeof l.class_name !== 'string' || !isObject(l.config)) throw new FormatError(`${where} (TimeDistributed): the wrapped layer has no class_name or config`, { file });
  return { className: l.class_name, config: l.config };
}

/** The weight roles of a TimeDistributed layer: its wrapped layer's (Keras order). */
export function timeDistributedWeightRoles(cfg: JsonObject): string[] {
  const l = cfg.layer;
  // (a refused wrapped class is refused by name when the layer is read, not for its weights)
  if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config) || REFUSED[l.class_name]) return [];
  return weightRoles(l.class_name, l.config);
}

/** Where Keras 3 stores a layer's variables below `layers/<group>/`, in the order of its weights (TimeDistributed: its wrapped layer's, under `layer/`). */
export function keras3LayerVarPaths(className: string, cfg: JsonObject): string[] {
  if (className !== 'TimeDistributed') return keras3VarPaths(className);
  const l = cfg.layer;
  if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) return ['vars'];
  return ['vars', ...keras3LayerVarPaths(l.class_name, l.config).map((p) => `layer/${p}`)];
}

const known = (s: KShape): s is number[] => s.every((d) => typeof d === 'number');

/** A Reshape of `x` to `parts`: static ints, or (where a dim is unknown) slices of run-time shapes concatenated. */
function reshapeTo(e: IrEmitter, x: string, out: string, parts: Array<number[] | { of: string; from: number; to?: number }>): string {
  let shape: string;
  if (parts.every((p) => Array.isArray(p))) {
    const dims = parts.flat();
    shape = e.constant(`${out}/shape`, Tensor.int64([dims.length], dims));
  } else {
    const pieces = parts.map((p, i) => {
      if (Array.isArray(p)) return e.constant(`${out}/dims${i}`, Tensor.int64([p.length], p));
      const s = e.node('Shape', [p.of], [`${out}/shape_of${i}`])[0]!;
      const inputs = [s, e.constant(`${out}/start${i}`, Tensor.int64([1], [p.from])), e.constant(`${out}/end${i}`, Tensor.int64([1], [p.to ?? 2 ** 31 - 1])), e.constant(`${out}/axes0`, Tensor.int64([1], [0]))];
      return e.node('Slice', inputs, [`${out}/dims${i}`])[0]!;
    });
    shape = e.node('Concat', pieces, [`${out}/shape`], { axis: { type: 'int', value: 0 } })[0]!;
  }
  return e.node('Reshape', [x, shape], [out], {}, '', out)[0]!;
}

/** TimeDistributed(layer) on a [batch, time, ...] input. */
export function timeDistributedLayer(e: IrEmitter, call: LayerCall): KValue[] {
  const where = `layer '${call.name}'`;
  const inner = wrappedLayer(call.config, where, e.file);
  const refused = REFUSED[inner.className];
  if (refused) throw new UnsupportedError(`Keras TimeDistributed around ${refused}`, where);
  const row = KERAS_LAYERS[inner.className];
  if (!row) throw new UnsupportedError(`Keras TimeDistributed around layer class '${inner.className}'`, `${where} (a custom or unknown layer cannot be rebuilt without its code)`);
  if (call.inputs.length !== 1) throw new FormatError(`${where} (TimeDistributed) takes one input, got ${call.inputs.length}`, { file: e.file });
  const x = call.inputs[0]!;
  if (x.shape.length < 3) throw new FormatError(`${where} (TimeDistributed) needs an input of rank 3 or more ([batch, time, ...]), got [${x.shape.map((d) => d ?? '?').join(', ')}]`, { file: e.file });
  const [B, T] = [x.shape[0] ?? null, x.shape[1] ?? null];
  const step = (name: string, v: KValue): KValue[] => row(e, { className: inner.className, name, config: inner.config, inputs: [v], weights: call.weights });
  if (PER_POSITION.has(inner.className)) return step(call.name, x);

  // fold: [B, T, ...rest] -> [B·T, ...rest]
  const rest = x.shape.slice(2);
  const foldedName = reshapeTo(e, x.name, `${call.name}/fold`, known(rest) ? [[-1, ...rest]] : [[-1], { of: x.name, from: 2 }]);
  const folded: KValue = { name: foldedName, shape: [B === null || T === null ? null : B * T, ...rest] };
  const outs = step(`${call.name}/step`, folded);
  if (outs.length !== 1) throw new UnsupportedError(`Keras TimeDistributed around a layer with ${outs.length} outputs`, where);
  const y = outs[0]!;
  // unfold: [B·T, ...out] -> [B, T, ...out]
  const out = y.shape.slice(1);
  const parts = T !== null && known(out) ? [[-1, T, ...out]] : known(out) ? [{ of: x.name, from: 0, to: 2 }, out] : [{ of: x.name, from: 0, to: 2 }, { of: y.name, from: 1 }];
  return [{ name: reshapeTo(e, y.name, call.name, parts), shape: [B, T, ...out] }];
}
