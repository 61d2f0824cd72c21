import type { DType } from './dtypes.js';
import { GraphError, ShapeError, UnsupportedError } from './errors.js';
import { Tensor } from './tensor.js';

/**
 * A dimension: a fixed size, a symbolic name (e.g. "batch"), or unknown (null). A symbol is either a
 * caller's (a file's dim_param, a named input dim) or a derived one (`derivedDim`): shape inference's
 * name for a dim it cannot size but that a Shape reads, so that what is computed from that Shape
 * (a Reshape back to it) is known to be the same size. See src/ir/README.md.
 */
export type Dim = number | string | null;

/** Reserved first character of a derived symbol; no reader names a dim with it (see `callerDim`). */
export const DERIVED_DIM_PREFIX = '\u2234';

/** The derived symbol of axis `axis` of value `value`: its size at run time. */
export const derivedDim = (value: string, axis: number): string => `${DERIVED_DIM_PREFIX}${value}#${axis}`;

/** `d` is a dim shape inference named itself: to every question of "did the caller name this dim" it is unknown (null). */
export const isDerivedSymbol = (d: Dim | undefined): d is string => typeof d === 'string' && d.startsWith(DERIVED_DIM_PREFIX);

/** `d` is a symbol a file or a caller named (a graph input's 'batch'), not a derived one. */
export const isCallerSymbol = (d: Dim | undefined): d is string => typeof d === 'string' && !d.startsWith(DERIVED_DIM_PREFIX);

/** `d` as a file or a caller may see it: a derived symbol is unknown (null). */
export const callerDim = (d: Dim): Dim => (isDerivedSymbol(d) ? null : d);

/**
 * A value that is not a tensor (ONNX's seq(tensor), optional(tensor), optional(seq(tensor))):
 * its dtype and shape are then those of the tensors it holds (see ir/seq-values.ts).
 */
export type ValueKind = 'sequence' | 'optional' | 'optional-sequence';

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** undefined when the rank is unknown */
  shape?: Dim[];
  /** not a tensor but a sequence / optional of tensors of `dtype` and `shape` (absent: a tensor) */
  kind?: ValueKind;
  doc?: string;
  /** a subgraph input / output the file left untyped: dtype and shape are inferred (a writer may leave them out again) */
  typeInferred?: boolean;
}

export type Attr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] }
  /** a value type (ONNX TYPE_PROTO: Optional's `type`, of a tensor, sequence or optional) */
  | { type: 'type'; value: { dtype: DType; shape?: Dim[]; kind?: ValueKind } };

/** One operation. Op semantics are ONNX's (`domain` '' is the default ONNX domain). */
export interface Node {
  name: string;
  opType: string;
  domain: string;
  /** value names; '' marks an omitted optional input */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  doc?: string;
}

export interface GraphMetadata {
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  irVersion?: number;
  /** key/value metadata_props */
  props?: Record<string, string>;
}

/**
 * A computation graph in nnport's IR: nodes over named values, with constant tensors
 * (weights) as initializers. Layout NCHW, op vocabulary ONNX.
 */
export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  /** domain -> opset version ('' = ai.onnx) */
  opsets: Record<string, number>;
  /** shape/type annotations of intermediate values, when known */
  valueInfo?: ValueInfo[];
  metadata?: GraphMetadata;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), opsets: { '': 17 } };
}

/** Inputs the caller must feed: graph inputs that are not initializers. */
export function runtimeInputs(graph: Graph): ValueInfo[] {
  return graph.inputs.filter((v) => !graph.initializers.has(v.name));
}

// ---- attribute access: parse once, with defaults, typed errors naming the node ----

function attrOf(node: Node, name: string, type: Attr['type']): Attr | undefined {
  const a = node.attrs[name];
  if (a === undefined) return undefined;
  if (a.type !== type) {
    // ints attributes given as a single int (and vice versa) are not valid ONNX, but be precise in the error.
    throw new ShapeError(`node '${node.name}' (${node.opType}): attribute '${name}' is ${a.type}, expected ${type}`);
  }
  return a;
}

/** `n` is the default-domain (ONNX) op `op`. */
export const isOnnxOp = (n: Node | undefined, op: string): n is Node => !!n && n.opType === op && (!n.domain || n.domain === 'ai.onnx');

export function attrInt(node: Node, name: string, fallback: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, fallback?: number): number | undefined {
  const a = attrOf(node, name, 'int');
  return a ? (a.value as number) : fallback;
}

export function attrFloat(node: Node, name: string, fallback: number): number;
export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, fallback?: number): number | undefined {
  const a = attrOf(node, name, 'float');
  return a ? (a.value as number) : fallback;
}

export function attrString(node: Node, name: string, fallback: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, fallback?: string): string | undefined {
  const a = attrOf(node, name, 'string');
  return a ? (a.value as string) : fallback;
}

export function attrInts(node: Node, name: string, fallback: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, fallback?: number[]): number[] | undefined {
  const a = attrOf(node, name, 'ints');
  return a ? (a.value as number[]) : fallback;
}

export function attrFloats(node: Node, name: string, fallback: number[]): number[];
export function attrFloats(node: Node, name: string): number[] | undefined;
export function attrFloats(node: Node, name: string, fallback?: number[]): number[] | undefined {
  const a = attrOf(node, name, 'floats');
  return a ? (a.value as number[]) : fallback;
}

export function attrStrings(node: Node, name: string): string[] | undefined {
  const a = attrOf(node, name, 'strings');
  return a ? (a.value as string[]) : undefined;
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = attrOf(node, name, 'tensor');
  return a ? (a.value as Tensor) : undefined;
}

/** The tensor a Constant node holds, from whichever value* attribute it has. */
export function constantValue(node: Node): Tensor {
  const v = attrTensor(node, 'value');
  if (v) return v;
  if (node.attrs.sparse_value) throw new UnsupportedError('Constant sparse_value');
  const f = attrFloat(node, 'value_float');
  if (f !== undefined) return Tensor.float32([], [f]);
  const fs = attrFloats(node, 'value_floats');
  if (fs) return Tensor.float32([fs.length], fs);
  const i = attrInt(node, 'value_int');
  if (i !== undefined) return Tensor.int64([], [i]);
  const is = attrInts(node, 'value_ints');
  if (is) return Tensor.int64([is.length], is);
  const s = attrString(node, 'value_string');
  if (s !== undefined) return new Tensor('string', [], [s]);
  const ss = attrStrings(node, 'value_strings');
  if (ss) return new Tensor('string', [ss.length], [...ss]);
  throw new ShapeError('Constant has no value attribute');
}

// ---- structure ----

/**
 * Values derived from a graph (a fused or lowered copy, a float32 wrapping), kept per graph
 * object across runs and made again when any node was replaced (also in place in the same list),
 * the inputs / outputs were renamed or an initializer tensor was replaced; tensor data edited in
 * place is not noticed (passes make new tensors).
 */
export class GraphDerived<T> {
  private readonly entries = new WeakMap<Graph, { value: T; nodes: Node[]; io: string; initializers: Map<string, Tensor> }>();

  get(graph: Graph, make: (g: Graph) => T): T {
    const hit = this.entries.get(graph);
    const io = JSON.stringify([graph.inputs.map((v) => v.name), graph.outputs.map((v) => v.name)]);
    if (
      hit &&
      hit.io === io &&
      hit.nodes.length === graph.nodes.length &&
      hit.nodes.every((n, i) => n === graph.nodes[i]) &&
      hit.initializers.size === graph.initializers.size &&
      [...hit.initializers].every(([k, v]) => graph.initializers.get(k) === v)
    ) {
      return hit.value;
    }
    const value = make(graph);
    this.entries.set(graph, { value, nodes: [...graph.nodes], io, initializers: new Map(graph.initializers) });
    return value;
  }
}

/**
 * A fresh-value-name source for a graph: each call returns `base` or `base_1`, `base_2`, ... not
 * used by any input, output, initializer, node input or output or value info, and reserves it.
 */
export function valueNamer(graph: Graph): (base: string) => string {
  const taken = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name), ...graph.outputs.map((v) => v.name)]);
  for (const n of graph.nodes) for (const v of [...n.inputs, ...n.outputs]) if (v) taken.add(v);
  for (const v of graph.valueInfo ?? []) taken.add(v.name);
  return (base) => {
    let name = base || 'value';
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}

/**
 * Each value's readers, in node order (a node that reads a value twice is listed twice; an If /
 * Loop / Scan whose subgraphs read a value from around it is listed as a reader of it too).
 */
export function readersOf(nodes: readonly Node[]): Map<string, Node[]> {
  const readers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const i of subgraphsOf(n).length ? n.inputs.concat(implicitInputs(n)) : n.inputs) {
      if (!i) continue;
      const r = readers.get(i);
      if (r) r.push(n);
      else readers.set(i, [n]);
    }
  }
  return readers;
}

/** Each value's producing node. */
export function producersOf(nodes: readonly Node[]): Map<string, Node> {
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  return producer;
}

/** The subgraphs a node carries in its attributes (If's branches, Loop's and Scan's bodies). */
export function subgraphsOf(node: Node): Graph[] {
  let out: Graph[] | undefined;
  for (const a of Object.values(node.attrs)) {
    if (a.type === 'graph') (out ??= []).push(a.value);
    else if (a.type === 'graphs') (out ??= []).push(...a.value);
  }
  return out ?? [];
}

/**
 * The values a graph reads from the scopes around it: read by its nodes (their subgraphs
 * included) or named as its outputs, and defined neither by its inputs, its initializers nor
 * its nodes.
 */
export function outerReads(graph: Graph, memo?: Map<Graph, Set<string>>): Set<string> {
  const known = memo?.get(graph);
  if (known) return new Set(known);
  const defined = new Set<string>(graph.initializers.keys());
  for (const v of graph.inputs) defined.add(v.name);
  for (const n of graph.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const reads = new Set<string>();
  const see = (v: string) => {
    if (v && !defined.has(v)) reads.add(v);
  };
  // one memo for the whole walk: a subgraph object shared by several nodes (both branches of
  // nested Ifs) is walked once, not once per path to it (2^depth)
  const inner = memo ?? new Map<Graph, Set<string>>();
  for (const n of graph.nodes) {
    n.inputs.forEach(see);
    implicitInputs(n, inner).forEach(see);
  }
  for (const o of graph.outputs) see(o.name);
  inner.set(graph, reads);
  return new Set(reads);
}

/**
 * The values of the graph around a node that its subgraphs read (ONNX's implicit inputs of an
 * If / Loop / Scan): uses of those values as much as its inputs are.
 */
export function implicitInputs(node: Node, memo: Map<Graph, Set<string>> = new Map()): string[] {
  const subs = subgraphsOf(node);
  if (!subs.length) return [];
  const out = new Set<string>();
  for (const g of subs) for (const v of outerReads(g, memo)) out.add(v);
  return [...out];
}

/**
 * Nodes in an order where every node comes after the producers of its inputs.
 * Throws GraphError naming the value for a missing input and the nodes of a cycle.
 * A node with subgraphs (If/Loop/Scan) also comes after the producers of the values they read
 * from this graph (its implicit inputs); values produced inside subgraphs are not considered.
 */
export function topologicalOrder(graph: Graph, outerScope: ReadonlySet<string> = new Set()): Node[] {
  const available = new Set<string>(outerScope);
  for (const v of graph.inputs) available.add(v.name);
  for (const k of graph.initializers.keys()) available.add(k);
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o) continue;
      if (producer.has(o) || available.has(o)) {
        if (graph.initializers.has(o) || graph.inputs.some((v) => v.name === o) || producer.has(o)) {
          throw new GraphError(`value '${o}' is produced more than once (by node '${n.name || n.opType}')`);
        }
      }
      producer.set(o, i);
    }
  });
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (i && !available.has(i) && !producer.has(i)) {
        throw new GraphError(`node '${n.name || n.opType}' reads '${i}', which no node, input or initializer provides`);
      }
    }
  }
  // Kahn's algorithm, keeping the original order among ready nodes (stable output).
  const indeg = new Array<number>(graph.nodes.length).fill(0);
  const users = new Map<number, number[]>();
  graph.nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const inp of [...n.inputs, ...implicitInputs(n)]) {
      const p = inp ? producer.get(inp) : undefined;
      if (p !== undefined && !available.has(inp)) deps.add(p);
    }
    indeg[i] = deps.size;
    for (const p of deps) {
      let u = users.get(p);
      if (!u) users.set(p, (u = []));
      u.push(i);
    }
  });
  const order: Node[] = [];
  const ready = new MinHeap();
  indeg.forEach((d, i) => d === 0 && ready.push(i));
  while (ready.size) {
    const i = ready.pop();
    order.push(graph.nodes[i]!);
    for (const u of users.get(i) ?? []) if (--indeg[u]! === 0) ready.push(u);
  }
  if (order.length !== graph.nodes.length) {
    const stuck = graph.nodes.filter((_, i) => indeg[i]! > 0).map((n) => n.name || n.opType);
    throw new GraphError(`graph '${graph.name}' has a cycle through node(s) ${stuck.slice(0, 5).join(', ')}${stuck.length > 5 ? ', ...' : ''}`);
  }
  for (const o of graph.outputs) {
    if (!available.has(o.name) && !producer.has(o.name)) throw new GraphError(`graph output '${o.name}' is never produced`);
  }
  return order;
}

/** Smallest-index-first queue so that a topological order keeps the file's node order where it can. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
