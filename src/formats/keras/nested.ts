// Keras models used as layers (transfer learning: `Sequential([base, GlobalAveragePooling2D(), Dense(10)])`,
// a functional model calling a Sequential block). The nested model's config is parsed and its
// layers flattened into the outer model: its input layers bound to the tensors the outer call
// passes, the outer references to its outputs mapped to the inner layers computing them, inner
// layer names prefixed with the nested model's name ('<nested>/<inner>'). A model called several
// times (a siamese network's shared encoder) is flattened once, each inner layer getting one call
// per outer call, so that the weights stay one set. Where each format keeps the inner layers'
// weights is recorded per layer (nestedOrigin) for the readers.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { parseModelConfig, toSnakeCase, type KerasLayer, type KerasModelSpec, type KerasTensorRef } from './config.js';

/** Model classes a model can call as one of its layers. */
export const NESTED_MODELS = new Set(['Sequential', 'Functional', 'Model']);

/** Levels of models inside models read (a transfer-learning model has one or two). */
export const MAX_NESTING = 8;

export interface NestedOrigin {
  /** the nested models' names, outermost first (empty: a layer of the outer model, beside a nested one) */
  scope: string[];
  /** the layer's own name inside its model */
  leaf: string;
  /** Keras 3 model.weights.h5 group under layers/ ('functional/layers/dense_1') */
  keras3Group: string;
}

const origins = new WeakMap<KerasLayer, NestedOrigin>();

/** Where a flattened inner layer came from; undefined for a layer of the outer model. */
export function nestedOrigin(layer: KerasLayer): NestedOrigin | undefined {
  return origins.get(layer);
}

/**
 * Keras 3 names each layer's group in model.weights.h5 after its class (snake_case, `_1`, `_2`
 * for repeats, in model.layers order), not after the layer's own name.
 */
export function keras3WeightGroups(spec: KerasModelSpec): Map<KerasLayer, string> {
  const used = new Map<string, number>();
  const out = new Map<KerasLayer, string>();
  for (const l of spec.layers) {
    // a Sequential model's InputLayer is not one of model.layers
    if (spec.className === 'Sequential' && l.className === 'InputLayer') continue;
    // nor is a Keras 3 op (keras.ops.*): Functional.layers keeps the Layer instances of its operations
    if (l.keras3Op !== undefined) continue;
    const base = toSnakeCase(l.className);
    const n = used.get(base);
    used.set(base, (n ?? 0) + 1);
    out.set(l, n === undefined ? base : `${base}_${n}`);
  }
  return out;
}

/**
 * Whether a Keras 2 .h5 weight name in a nested model's group belongs to its inner layer `leaf`:
 * tf.keras names it '<leaf>/kernel:0' (or under the nested model's scope, 'seq/<leaf>/kernel:0';
 * a Bidirectional's 'bidi/forward_lstm/.../kernel:0').
 */
export function isInnerWeight(name: string, leaf: string): boolean {
  const parts = name.split('/');
  const at = parts.indexOf(leaf);
  return at >= 0 && at < parts.length - 1;
}

/** The spec with every nested model's layers in place of the model (recursively). */
export function flattenNested(spec: KerasModelSpec, file: string): KerasModelSpec {
  return flatten(spec, file, [], '', 0);
}

function flatten(spec: KerasModelSpec, file: string, scope: string[], keras3Prefix: string, depth: number): KerasModelSpec {
  if (!spec.layers.some((l) => NESTED_MODELS.has(l.className))) {
    if (scope.length) recordOrigins(spec, scope, keras3Prefix);
    return spec;
  }
  const groups = keras3WeightGroups(spec);
  const where = (l: KerasLayer) => `layer '${[...scope, l.name].join('/')}' in '${file}'`;
  const firstCall = callNumbering(spec, file);
  // per nested model: per call, the refs its outputs resolve to (in the flattened model)
  const outputsOf = new Map<string, { first: number; calls: KerasTensorRef[][] }>();
  const layers: KerasLayer[] = [];
  for (const l of spec.layers) {
    if (!NESTED_MODELS.has(l.className)) {
      recordOrigin(l, scope, keras3Prefix + (groups.get(l) ?? l.name));
      layers.push(l);
      continue;
    }
    if (depth >= MAX_NESTING) throw new UnsupportedError(`Keras models nested more than ${MAX_NESTING} levels deep`, where(l));
    if (l.calls.length === 0) continue; // a model the outer model holds but never calls computes nothing
    const inner = flatten(parseModelConfig({ class_name: l.className, config: l.config }, file), file, [...scope, l.name], `${keras3Prefix}${groups.get(l) ?? l.name}/layers/`, depth + 1);
    for (const call of l.calls) {
      if (call.length !== inner.inputs.length) throw new FormatError(`model config: nested model '${l.name}' takes ${inner.inputs.length} input(s), the outer model passes ${call.length}`, { file });
    }
    // A model called k times (a siamese network's shared encoder): each inner layer once, with k
    // times its own calls, call j's reading the outer call j's tensors; the weights stay one set.
    const inputIndex = new Map<string, number>(inner.inputs.map((r, i) => [r[0], i]));
    const innerCalls = new Map<string, number>(inner.layers.map((il) => [il.name, il.calls.length]));
    const prefix = `${l.name}/`;
    const rename = (r: KerasTensorRef, j: number): KerasTensorRef => {
      const i = inputIndex.get(r[0]);
      if (i !== undefined) {
        if (r[1] !== 0 || r[2] !== 0) throw new FormatError(`model config: nested model '${l.name}' reads output ${r[2]} of call ${r[1]} of its input layer '${r[0]}'`, { file });
        return l.calls[j]![i]!;
      }
      return [prefix + r[0], r[1] + j * (innerCalls.get(r[0]) ?? 0), r[2]];
    };
    for (const il of inner.layers) {
      if (inputIndex.has(il.name)) continue;
      const calls = l.calls.flatMap((_, j) => il.calls.map((c) => c.map((r) => rename(r, j))));
      const moved: KerasLayer = { ...il, name: prefix + il.name, calls, ...(il.opArgs && { opArgs: l.calls.flatMap(() => il.opArgs!) }) };
      const o = nestedOrigin(il);
      if (o) origins.set(moved, o);
      layers.push(moved);
    }
    outputsOf.set(l.name, { first: firstCall.get(l.name) ?? 0, calls: l.calls.map((_, j) => inner.outputs.map((r) => rename(r, j))) });
  }
  // outer references to a nested model's outputs: the inner refs (which may be another nested
  // model's outputs in turn: Sequential([base1, base2]))
  const resolve = (r: KerasTensorRef): KerasTensorRef => {
    let ref = r;
    for (let hops = 0; ; hops++) {
      const out = outputsOf.get(ref[0]);
      if (!out) return ref;
      if (hops > spec.layers.length) throw new FormatError(`model config: nested model '${ref[0]}' depends on itself`, { file });
      const refs = out.calls[ref[1] - out.first];
      if (!refs) throw new UnsupportedError(`a nested Keras model read at call ${ref[1]}`, `layer '${ref[0]}' in '${file}'`);
      const next = refs[ref[2]];
      if (!next) throw new FormatError(`model config: nested model '${ref[0]}' has no output ${ref[2]}`, { file });
      ref = next;
    }
  };
  const flat: KerasModelSpec = {
    ...spec,
    layers: layers.map((l) => {
      const moved = { ...l, calls: l.calls.map((c) => c.map(resolve)) };
      const o = nestedOrigin(l);
      if (o) origins.set(moved, o);
      return moved;
    }),
    outputs: spec.outputs.map(resolve),
  };
  return flat;
}

/**
 * The node index of each nested model's first call as the outer config numbers them: 1 where Keras /
 * TF.js count the model's own construction (on its Input) as node 0, else 0. Every call a config
 * lists is read (a call nothing reads is not saved), so the indices read are 0..k-1 or 1..k.
 */
function callNumbering(spec: KerasModelSpec, file: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const l of spec.layers) if (NESTED_MODELS.has(l.className) && l.calls.length) calls.set(l.name, l.calls.length);
  const read = new Map<string, Set<number>>();
  const note = (r: KerasTensorRef) => {
    if (!calls.has(r[0])) return;
    let s = read.get(r[0]);
    if (!s) read.set(r[0], (s = new Set()));
    s.add(r[1]);
  };
  for (const l of spec.layers) for (const c of l.calls) c.forEach(note);
  spec.outputs.forEach(note);
  const first = new Map<string, number>();
  for (const [name, k] of calls) {
    const nodes = read.get(name) ?? new Set<number>();
    const base = nodes.has(0) ? 0 : 1;
    if (nodes.has(0) && nodes.has(k)) throw new FormatError(`model config: nested model '${name}', called ${k} time(s), is read at nodes ${[...nodes].sort((a, b) => a - b).join(', ')}`, { file });
    first.set(name, base);
  }
  return first;
}

function recordOrigin(l: KerasLayer, scope: string[], keras3Group: string): void {
  if (!origins.has(l)) origins.set(l, { scope, leaf: l.name, keras3Group });
}

function recordOrigins(spec: KerasModelSpec, scope: string[], keras3Prefix: string): void {
  const groups = keras3WeightGroups(spec);
  for (const l of spec.layers) recordOrigin(l, scope, keras3Prefix + (groups.get(l) ?? l.name));
}
