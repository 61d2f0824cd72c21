// Writing Keras layers over a time axis folded into the batch: a graph that reshapes [B, T, ...]
// to [B·T, ...] (as the Keras reader reads TimeDistributed, or a converted model computing per
// frame), runs layers on that and reshapes back to [B, T, ...]. Keras cannot reshape the batch
// axis, so the folded value stays the [B, T, ...] Keras tensor (`KTensor.folded` = T) and every
// layer written on it is a TimeDistributed around the layer the op's row makes; the unfolding
// Reshape is then no layer. Merges of folded tensors (Add, Concatenate, ...) act per position and
// are written plain, on the [B, T, ...] tensors. An unknown time axis (T null) is folded and
// unfolded by shapes computed at run time (Concat of constants and Slices of Shape(v), as the
// reader makes them): those Shape / Slice / Concat nodes are no layers either.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, producersOf, type Graph, type Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import type { KerasLayerOut, KTensor, Writer } from './from-graph.js';
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
export function foldedTime(className: string, inputs: readonly KTensor[]): number | null | undefined {
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
export function timeDistributedOut(name: string, className: string, config: JsonObject, inputs: readonly KTensor[], shape: KShape, weights: { role: string; tensor: Tensor }[], time: number | null): { layer: KerasLayerOut; out: KTensor } {
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
  const T = x.shape[1] ?? null;
  // (T = 1: the same elements per batch row, an ordinary Reshape)
  if (x.timeMajor || T === 1 || x.shape.length < 3 || rest.length !== x.shape.length - 2 || rest.some((d, i) => d !== x.shape[i + 2])) return undefined;
  return { ref: x.ref, shape: [null, ...rest], folded: T };
}

// ---- shapes computed at run time ----

/** One dim of a shape computed at run time: a number (-1 as Reshape's), or axis `axis` of the value `of`. */
type SymDim = number | { of: string; axis: number };

interface ShapeChain {
  /** the Shape / Slice / Concat nodes that compute it */
  nodes: Node[];
  parts: Array<number[] | { of: string; start: number; end: number }>;
}

const producersCache = new WeakMap<Graph, Map<string, Node>>();

function producers(g: Graph): Map<string, Node> {
  let p = producersCache.get(g);
  if (!p) producersCache.set(g, (p = producersOf(g.nodes)));
  return p;
}

/** `name` as a Concat (axis 0) of constants and Slices of a Shape (or a Shape itself); undefined if it is anything else. */
function shapeChain(w: Writer, name: string): ShapeChain | undefined {
  const prod = producers(w.graph);
  const part = (v: string): ShapeChain | undefined => {
    const c = w.constant(v);
    if (c) return { nodes: [], parts: [c.toNumbers()] };
    const p = prod.get(v);
    if (!p || p.domain) return undefined;
    const shapeOf = (sn: Node | undefined): string | undefined => (sn && !sn.domain && sn.opType === 'Shape' && sn.attrs.start === undefined && sn.attrs.end === undefined ? sn.inputs[0] : undefined);
    if (p.opType === 'Shape') {
      const of = shapeOf(p);
      return of === undefined ? undefined : { nodes: [p], parts: [{ of, start: 0, end: Number.MAX_SAFE_INTEGER }] };
    }
    if (p.opType !== 'Slice' || p.inputs.length < 3) return undefined;
    const sn = prod.get(p.inputs[0]!);
    const of = shapeOf(sn);
    const [starts, ends, axes, steps] = p.inputs.slice(1, 5).map((i) => (i ? w.constant(i)?.toNumbers() : undefined));
    if (of === undefined || starts?.length !== 1 || ends?.length !== 1 || (p.inputs[3] && axes?.join() !== '0') || (p.inputs[4] && steps?.join() !== '1')) return undefined;
    return { nodes: [p, sn!], parts: [{ of, start: starts[0]!, end: ends[0]! }] };
  };
  const p = prod.get(name);
  if (!p || p.domain || p.opType !== 'Concat' || attrInt(p, 'axis', 0) !== 0) return part(name);
  const pieces = p.inputs.map(part);
  if (pieces.some((c) => !c)) return undefined;
  return { nodes: [p, ...pieces.flatMap((c) => c!.nodes)], parts: pieces.flatMap((c) => c!.parts) };
}

/** The Shape / Slice / Concat nodes that only compute shapes for Reshapes: no Keras layers (skipped before the layers are written). */
export function skipRunTimeShapes(w: Writer): void {
  const reshapes = w.graph.nodes.filter((n) => !n.domain && n.opType === 'Reshape' && n.inputs[1] && !w.isConstant(n.inputs[1]));
  const chains = reshapes.map((n) => shapeChain(w, n.inputs[1]!));
  if (!chains.length || chains.some((c) => !c)) return;
  const nodes = new Set(chains.flatMap((c) => c!.nodes));
  const allowed = new Set<Node>([...nodes, ...reshapes]);
  const outputs = new Set(w.graph.outputs.map((o) => o.name));
  for (const n of nodes) for (const o of n.outputs) if (outputs.has(o) || (w.consumers.get(o) ?? []).some((c) => !allowed.has(c))) return;
  for (const n of nodes) w.skip.add(n);
}

function runTimeDims(w: Writer, name: string): SymDim[] | undefined {
  const chain = shapeChain(w, name);
  if (!chain) return undefined;
  const dims: SymDim[] = [];
  for (const p of chain.parts) {
    if (Array.isArray(p)) {
      dims.push(...p);
      continue;
    }
    const rank = w.values.get(p.of)?.shape.length;
    if (rank === undefined) return undefined;
    const norm = (i: number) => Math.min(Math.max(i < 0 ? i + rank : i, 0), rank);
    for (let a = norm(p.start); a < norm(p.end); a++) dims.push({ of: p.of, axis: a });
  }
  return dims;
}

const sameDim = (d: SymDim | undefined, known: number | null | undefined, of: string, axis: number): boolean => (typeof d === 'number' ? d === known : d !== undefined && d.of === of && d.axis === axis);

/**
 * A Reshape to a shape computed at run time that folds [B, T, ...] into [B·T, ...] ([-1, dims of x
 * from 2 on]) or unfolds a folded value ([B, T of the value it was folded from, its own step dims]).
 */
export function reshapeAcrossTimeAtRunTime(w: Writer, n: Node, x: KTensor): KTensor | undefined {
  const dims = runTimeDims(w, n.inputs[1]!);
  if (!dims) return undefined;
  const xv = n.inputs[0]!;
  if (x.folded === undefined) {
    if (x.timeMajor || x.shape.length < 3 || dims.length !== x.shape.length - 1 || dims[0] !== -1) return undefined;
    if (!dims.slice(1).every((d, i) => sameDim(d, x.shape[i + 2], xv, i + 2))) return undefined;
    return { ref: x.ref, shape: [null, ...x.shape.slice(2)], folded: x.shape[1] ?? null };
  }
  const [b, t] = dims;
  if (dims.length !== x.shape.length + 1 || typeof b !== 'object' || typeof t !== 'object' || b.of !== t.of || b.axis !== 0 || t.axis !== 1) return undefined;
  const from = w.values.get(b.of);
  if (!from || from.folded !== undefined || from.shape.length < 3) return undefined;
  if (!dims.slice(2).every((d, i) => sameDim(d, x.shape[i + 1], xv, i + 1))) return undefined;
  return { ref: x.ref, shape: [null, from.shape[1] ?? x.folded ?? null, ...x.shape.slice(1)] };
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
