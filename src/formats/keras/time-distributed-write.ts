// Writing Keras layers over a time axis folded into the batch: a graph that reshapes [B, T, ...]
// to [B·T, ...] (as the Keras reader reads TimeDistributed, or a converted model computing per
// frame), runs layers on that and reshapes back to [B, T, ...]. Keras cannot reshape the batch
// axis, so the folded value stays the [B, T, ...] Keras tensor (`KTensor.folded` = T) and every
// layer written on it is a TimeDistributed around the layer the op's row makes; the unfolding
// Reshape is then no layer. Merges of folded tensors (Add, Concatenate, ...) act per position and
// are written plain, on the [B, T, ...] tensors.
import { UnsupportedError } from '../../ir/errors.js';
import type { Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import type { KerasLayerOut, KTensor } from './from-graph.js';
import { keras3RecurrentConfig, keras3VarGroups, type Keras3VarGroup } from './keras3-recurrent.js';
import type { KShape } from './layers.js';

const nodeLabel = (n: Node): string => `node '${n.name || n.outputs[0]}' (${n.domain ? `${n.domain}.` : ''}${n.opType})`;

const product = (s: KShape): number | null => (s.every((d) => typeof d === 'number') ? (s as number[]).reduce((a, b) => a * b, 1) : null);

/** Layers that act per position on any number of same-rank inputs: written plain on the [B, T, ...] tensors. */
const MERGES = new Set(['Add', 'Subtract', 'Multiply', 'Maximum', 'Minimum', 'Average', 'Concatenate']);

/**
 * The time size T when the layer `className` is written on folded inputs (undefined: none is
 * folded). Single-input layers are wrapped; merges need every input folded over the same T.
 */
export function foldedTime(className: string, inputs: readonly KTensor[]): number | undefined {
  const times = inputs.map((t) => t.folded);
  if (times.every((t) => t === undefined)) return undefined;
  if (inputs.length > 1 && (!MERGES.has(className) || times.some((t) => t !== times[0]))) {
    throw new UnsupportedError(`Keras ${className} on a value computed per time step (TimeDistributed) and another value`, 'Keras TimeDistributed wraps one-input layers; only per-position merges of the same steps are written');
  }
  return times[0]!;
}

/**
 * The Keras layer for `className` on folded inputs: a TimeDistributed around it, or (a merge) the
 * layer itself on the [B, T, ...] tensors. `shape` is the op's output as the folded [B·T, ...] value.
 */
export function timeDistributedOut(name: string, className: string, config: JsonObject, inputs: readonly KTensor[], shape: KShape, weights: { role: string; tensor: Tensor }[], time: number): { layer: KerasLayerOut; out: KTensor } {
  const kerasShape: KShape = [null, time, ...shape.slice(1)];
  const refs = inputs.map((t) => t.ref);
  const out: KTensor = { ref: [name, 0, 0], shape, folded: time };
  if (MERGES.has(className)) {
    // Concatenate: a non-negative axis of the step is one further on in the [B, T, ...] tensor
    const axis = config.axis;
    const c = className === 'Concatenate' && typeof axis === 'number' && axis > 0 ? { ...config, axis: axis + 1 } : config;
    return { layer: { className, name, config: { name, trainable: true, dtype: 'float32', ...c }, inputs: refs, weights, shape: kerasShape }, out };
  }
  const inner: JsonObject = { class_name: className, config: { name: `${name}_step`, trainable: true, dtype: 'float32', ...config } };
  return { layer: { className: 'TimeDistributed', name, config: { name, trainable: true, dtype: 'float32', layer: inner }, inputs: refs, weights, shape: kerasShape }, out };
}

/**
 * A Reshape that folds a [B, T, ...rest] tensor's time axis into the batch ([-1, ...rest]) or
 * unfolds a folded one ([-1, T, ...]): the Keras tensor itself, marked. Undefined for any other Reshape.
 */
export function reshapeAcrossTime(n: Node, x: KTensor, target: number[]): KTensor | undefined {
  if (target[0] !== -1 || target.slice(1).some((d) => d < 1)) return undefined;
  const rest = target.slice(1);
  if (x.folded !== undefined) {
    // unfold: as many elements per batch row as T steps of the folded value's
    const step = product(x.shape.slice(1));
    if (rest[0] !== x.folded || step === null || product(rest) !== x.folded * step) return undefined;
    const out = rest.slice(1);
    if (out.length !== x.shape.length - 1 || out.some((d, i) => d !== x.shape[i + 1])) {
      throw new UnsupportedError(`Reshape ${nodeLabel(n)} that unfolds the time steps to another step shape`, `[${x.shape.slice(1).join(', ')}] per step -> [${out.join(', ')}]`);
    }
    return { ref: x.ref, shape: [null, ...rest] };
  }
  const T = x.shape[1];
  // (T = 1: the same elements per batch row, an ordinary Reshape)
  if (x.timeMajor || typeof T !== 'number' || T === 1 || x.shape.length < 3 || rest.length !== x.shape.length - 2 || rest.some((d, i) => d !== x.shape[i + 2])) return undefined;
  return { ref: x.ref, shape: [null, ...rest], folded: T };
}

/** Refuses an op that cannot be wrapped (a recurrent op over folded steps), naming it. */
export function refuseFolded(n: Node, t: KTensor, recurrent: boolean): void {
  if (t.folded !== undefined && recurrent) throw new UnsupportedError(`${n.opType} inside TimeDistributed in a Keras model`, nodeLabel(n));
}

// ---- Keras 3 ----

/** Keras 3's config of a TimeDistributed (its wrapped layer serialized as serialization_lib does), or undefined for another class. */
export function keras3TimeDistributedConfig(l: KerasLayerOut): JsonObject | undefined {
  if (l.className !== 'TimeDistributed') return undefined;
  const inner = l.config.layer as JsonObject;
  const cls = inner.class_name as string;
  const cfg = inner.config as JsonObject;
  return { ...l.config, layer: { module: 'keras.layers', class_name: cls, config: keras3RecurrentConfig(cls, cfg) ?? cfg, registered_name: null } };
}

/** The vars groups of a layer in model.weights.h5: a TimeDistributed's own (none), its wrapped layer's under `layer/`. */
export function keras3LayerVarGroups(l: KerasLayerOut): Keras3VarGroup[] {
  if (l.className !== 'TimeDistributed') return keras3VarGroups(l.className, l.name, l.config, l.weights);
  const inner = l.config.layer as JsonObject;
  const cfg = inner.config as JsonObject;
  const groups = keras3VarGroups(inner.class_name as string, String(cfg.name), cfg, l.weights);
  return [{ path: 'vars', name: l.name, tensors: [] }, ...groups.map((g) => ({ ...g, path: `layer/${g.path}` }))];
}
