// A parsed Keras model (config + weights per layer) -> nnport IR, channels-last.
import { DTYPES, type DType } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { emptyGraph, type Attr, type Dim, type Graph } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/infer.js';
import type { Tensor } from '../../ir/tensor.js';
import { isObject, type Json, type KerasLayer, type KerasModelSpec, type KerasTensorRef } from './config.js';
import { propagateMasks } from './masking.js';
import { keras3OpLayer } from './keras3-ops.js';
import { KERAS_LAYERS, weightRoles, type IrEmitter, type KShape, type KValue } from './layers.js';
import { flattenNested, NESTED_MODELS } from './nested.js';

class GraphEmitter implements IrEmitter {
  readonly graph: Graph;
  private readonly used = new Set<string>();
  private readonly constants = new Map<Tensor, string>();

  constructor(
    name: string,
    readonly file: string,
    readonly keras3: boolean,
    readonly tfjsSaved: boolean,
    readonly kerasVersion: readonly number[] | undefined,
  ) {
    this.graph = emptyGraph(name);
    this.graph.opsets = { '': 17, nnport: 1 };
  }

  unique(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = '', name?: string): string[] {
    const outs = outputs.map((o) => this.unique(o));
    this.graph.nodes.push({ name: name ?? outs[0] ?? opType, opType, domain, inputs, outputs: outs, attrs });
    return outs;
  }

  /** stateOutput's values, after the model's outputs */
  readonly extraOutputs: { name: string; shape: KShape }[] = [];

  stateInput(name: string, shape: KShape): string {
    const n = this.unique(name);
    this.graph.inputs.push({ name: n, dtype: 'float32', shape: shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : null) : d)) });
    return n;
  }

  stateOutput(value: string, name: string, shape: KShape): void {
    this.extraOutputs.push({ name: this.node('Identity', [value], [name])[0]!, shape });
  }

  constant(name: string, t: Tensor): string {
    const known = this.constants.get(t);
    if (known) return known;
    const n = this.unique(name);
    this.graph.initializers.set(n, t);
    this.constants.set(t, n);
    return n;
  }
}

export function kerasDType(v: Json | undefined): DType {
  let s: Json | undefined = v;
  if (isObject(s)) s = isObject(s.config) ? s.config.name : s.class_name; // Keras 3 DTypePolicy
  if (s === undefined || s === null) return 'float32';
  if (typeof s === 'string' && s in DTYPES && s !== 'string') return s as DType;
  throw new UnsupportedError(`Keras input dtype ${JSON.stringify(v)}`);
}

function inputShape(layer: KerasLayer, file: string): KShape {
  const c = layer.config;
  const s = c.batch_input_shape ?? c.batch_shape ?? (Array.isArray(c.input_shape) ? [null, ...c.input_shape] : undefined);
  if (!Array.isArray(s) || !s.every((d) => d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 0))) {
    throw new FormatError(`model config: input layer '${layer.name}' has no usable batch_input_shape`, { file });
  }
  return s as KShape;
}

/** '2.12.0' / '3.4.1' -> [2, 12], [3, 4]; anything else (TF.js' 'tfjs-layers 4.9.0', none) undefined. */
function kerasVersionNumbers(v: string | undefined): number[] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Build the IR graph. `weightsOf` gives a layer's weights by role (kernel, bias, ...), already
 * checked to be the roles `weightRoles` names.
 */
export function kerasToGraph(nestedSpec: KerasModelSpec, weightsOf: (layer: KerasLayer) => Map<string, Tensor>, file: string, options: { keras3?: boolean; tfjsSaved?: boolean; kerasVersion?: string; inputShapes?: Readonly<Record<string, readonly number[]>> } = {}): Graph {
  // models used as layers: their layers in place of the model (nested.ts)
  const spec = flattenNested(nestedSpec, file);
  const e = new GraphEmitter(spec.name, file, options.keras3 ?? false, options.tfjsSaved ?? false, kerasVersionNumbers(options.kerasVersion));
  const byName = new Map<string, KerasLayer>();
  for (const l of spec.layers) {
    if (byName.has(l.name)) throw new FormatError(`model config: two layers are named '${l.name}'`, { file });
    byName.set(l.name, l);
  }
  // a layer called more than once (shared weights) reads its weights once: one initializer each
  const weightCache = new Map<KerasLayer, Map<string, Tensor>>();
  const layerWeights = (layer: KerasLayer): Map<string, Tensor> => {
    let w = weightCache.get(layer);
    if (!w) weightCache.set(layer, (w = weightsOf(layer)));
    return w;
  };
  // outputs of each (layer, call)
  const done = new Map<string, KValue[]>();
  const active = new Set<string>();

  const keyOf = (lname: string, callIdx: number) => `${lname}\u0000${callIdx}`;
  const layerOf = (lname: string): KerasLayer => {
    const layer = byName.get(lname);
    if (!layer) throw new FormatError(`model config: a layer reads '${lname}', which is not a layer of the model`, { file });
    return layer;
  };

  // Emit a (layer, call) after every (layer, call) it reads: a depth-first walk with its own
  // stack, not recursion, so that a chain of thousands of layers is no deeper for the JS stack.
  // `active` holds the calls entered and not yet emitted: reading one of them is a cycle.
  const emitWithInputs = (lname: string, callIdx: number): void => {
    const stack: [string, number][] = [[lname, callIdx]];
    while (stack.length) {
      const [n, c] = stack[stack.length - 1]!;
      const key = keyOf(n, c);
      if (done.has(key)) {
        stack.pop();
        continue;
      }
      const layer = layerOf(n);
      if (!active.has(key)) {
        active.add(key);
        const refs = layer.className === 'InputLayer' ? [] : (layer.calls[c] ?? []);
        for (const [rn, rc] of refs) {
          const rkey = keyOf(rn, rc);
          if (done.has(rkey)) continue;
          if (active.has(rkey)) throw new FormatError(`model config: layer '${rn}' depends on itself`, { file });
          stack.push([rn, rc]);
        }
        continue;
      }
      // every input is emitted now
      done.set(key, emitLayer(layer, c));
      active.delete(key);
      stack.pop();
    }
  };

  const resolve = (ref: KerasTensorRef): KValue => {
    const [lname, callIdx, tIdx] = ref;
    if (!done.has(keyOf(lname, callIdx))) emitWithInputs(lname, callIdx);
    const v = done.get(keyOf(lname, callIdx))![tIdx];
    if (!v) throw new FormatError(`model config: layer '${lname}' has no output ${tIdx}`, { file });
    return v;
  };

  const emitLayer = (layer: KerasLayer, callIdx: number): KValue[] => {
    if (layer.className === 'InputLayer') {
      if (callIdx !== 0) throw new FormatError(`model config: input layer '${layer.name}' has no call ${callIdx}`, { file });
      // --input-shape (ReadOptions.inputShapes) fills the dims the file leaves open as the layers are
      // built (a masked recurrent layer is unrolled over its steps here); readModel checks the rest
      const declared = inputShape(layer, file);
      const given = options.inputShapes?.[layer.name] ?? (spec.inputs.length === 1 ? options.inputShapes?.[''] : undefined);
      const shape = given && given.length === declared.length ? declared.map((d, i) => d ?? given[i]!) : declared;
      const name = e.unique(layer.name);
      const dims: Dim[] = shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : null) : d));
      e.graph.inputs.push({ name, dtype: kerasDType(layer.config.dtype), shape: dims });
      return [{ name, shape }];
    }
    // a Keras 3 op is no layer: read by its own table, whatever layer shares its class name (Concatenate)
    const row = layer.keras3Op !== undefined ? keras3OpLayer : KERAS_LAYERS[layer.className];
    if (!row && NESTED_MODELS.has(layer.className)) throw new UnsupportedError(`a Keras model used as a layer (nested ${layer.className}) left after flattening`, `layer '${layer.name}' in '${file}'`);
    if (!row) throw new UnsupportedError(`Keras layer class '${layer.className}'`, `layer '${layer.name}' (a custom or unknown layer cannot be rebuilt without its code)`);
    const refs = layer.calls[callIdx];
    if (!refs) throw new FormatError(`model config: layer '${layer.name}' has no call ${callIdx}`, { file });
    const inputs = refs.map(resolve);
    const name = callIdx === 0 ? layer.name : `${layer.name}_call${callIdx}`;
    const weights = layer.keras3Op !== undefined ? new Map<string, Tensor>() : layerWeights(layer);
    const call = { className: layer.className, name, config: layer.config, inputs, weights, ...(layer.opArgs && { opArgs: layer.opArgs[callIdx] }), ...(layer.keras3Op !== undefined && { keras3Op: layer.keras3Op }) };
    return propagateMasks(e, call, row(e, call));
  };

  const outputs = spec.outputs.map(resolve);
  for (const ref of spec.inputs) resolve(ref);
  // graph inputs in the model's declared order
  const order = spec.inputs.map((r) => r[0]);
  // (a stateful RNN's state inputs after the model's, in the order the layers come)
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  e.graph.inputs.sort((a, b) => rank(a.name) - rank(b.name));
  // the outputs' dtypes as the layers compute them (an int32 input through Maximum stays int32)
  const kept = e.graph.valueInfo;
  const types = inferShapes(e.graph, { onError: 'unknown' }).values;
  e.graph.valueInfo = kept;
  e.graph.outputs = [...outputs, ...e.extraOutputs].map((v) => ({ name: v.name, dtype: types.get(v.name)?.dtype ?? 'float32', shape: v.shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : null) : d)) }));
  return e.graph;
}

/** Check a layer's weights against the roles its class has; returns them by role. */
export function weightsByRole(layer: KerasLayer, tensors: Tensor[], names: string[] | undefined, file: string): Map<string, Tensor> {
  const roles = weightRoles(layer.className, layer.config);
  const out = new Map<string, Tensor>();
  if (names) {
    // by the weight's own name (…/kernel:0), which survives any order
    names.forEach((n, i) => {
      const parts = n.replace(/:\d+$/, '').split('/');
      // Bidirectional: forward_lstm_4/kernel (tf.keras 2.x: forward_lstm/lstm_cell/kernel) -> forward/kernel
      const dir = layer.className === 'Bidirectional' ? parts.slice(1, -1).map((p) => /^(forward|backward)_/.exec(p)?.[1]).find((d) => d) : undefined;
      // MultiHeadAttention: query/kernel, key/kernel, ... (its sublayers' names)
      const sub = layer.className === 'MultiHeadAttention' && parts.length >= 2 ? `${parts[parts.length - 2]}/` : '';
      const role = (dir ? `${dir}/` : '') + sub + parts[parts.length - 1]!;
      out.set(role, tensors[i]!);
    });
    for (const r of roles) if (!out.has(r)) throw new FormatError(`layer '${layer.name}' (${layer.className}) has no weight '${r}' (found: ${names.join(', ') || 'none'})`, { file });
    return out;
  }
  if (tensors.length !== roles.length) {
    throw new FormatError(`layer '${layer.name}' (${layer.className}) has ${tensors.length} weights, its config implies ${roles.length} (${roles.join(', ') || 'none'})`, { file });
  }
  roles.forEach((r, i) => out.set(r, tensors[i]!));
  return out;
}
