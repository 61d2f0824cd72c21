// inferShapes: every value's dtype and shape from the op definitions, without running
// anything. Small integer tensors (initializers, Constant nodes, Shape outputs and what is
// computed from them) are carried as values, like ONNX's data propagation, so the shape
// subgraphs of exported models (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) resolve.
import type { DType } from '../dtypes.js';
import { NnportError, ShapeError } from '../errors.js';
import { attrInt, callerDim, derivedDim, isOnnxOp, subgraphsOf, topologicalOrder, type Dim, type Graph, type Node, type ValueInfo, type ValueKind } from '../graph.js';
import type { Tensor } from '../tensor.js';
import { opDefOf, opsetOf } from './registry.js';
import { tensorData, type ValueType } from './op-def.js';
import { checkValueKinds } from './seq-values.js';

export interface InferShapesOptions {
  /**
   * Types of graph inputs that replace the declared ones (e.g. the actual feeds' shapes);
   * a `value` (small integer tensors) is also carried into the shape computations.
   */
  inputs?: ReadonlyMap<string, { dtype: DType; shape?: readonly Dim[]; value?: Tensor; data?: Dim[]; kind?: ValueKind }>;
  /** for a subgraph (If / Loop / Scan body): what is known of the values it reads from the graphs around it */
  scope?: ReadonlyMap<string, ValueType>;
  /** record the intermediate values' types in graph.valueInfo (default true) */
  record?: boolean;
  /** 'throw' (default): an op whose inputs do not fit throws a ShapeError naming the node; 'unknown': its outputs stay unknown and the error is listed. */
  onError?: 'throw' | 'unknown';
}

export interface ShapeInference {
  /** every value of the graph: inputs, initializers and node outputs */
  values: Map<string, ValueType>;
  /** op types without a definition (their outputs are unknown), as `domain.Op` outside the default domain */
  unknownOps: string[];
  /** with onError 'unknown': the errors met, each naming its node */
  errors: string[];
}

/** Error with the node named (as the runtime's errors are). */
function withNode(e: unknown, node: Node): NnportError {
  const where = `node '${node.name || node.opType}' (${node.opType})`;
  if (e instanceof NnportError) {
    if (!e.message.includes(`'${node.name}'`) || !node.name) e.message = `${where}: ${e.message}`;
    return e;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new ShapeError(`${where}: ${msg}`, { cause: e });
}

/**
 * Declared and inferred dims merged: the inferred one unless it is unknown. A declared derived
 * symbol is unknown: it was named by another inference, over values a pass may since have changed.
 */
function merge(inferred: ValueType, declared: ValueInfo | undefined): ValueType {
  if (!declared) return inferred;
  const dtype = inferred.dtype ?? declared.dtype;
  const declaredShape = declared.shape?.map(callerDim);
  let shape = inferred.shape;
  if (!shape) shape = declaredShape;
  else if (declaredShape && declaredShape.length === shape.length) shape = shape.map((d, i) => (d === null ? declaredShape[i]! : d));
  const kind = inferred.kind ?? declared.kind;
  return kind ? { ...inferred, dtype, shape, kind } : { ...inferred, dtype, shape };
}

/** A Reshape whose constant target copies an input dim (a 0, without allowzero). */
function copiesDims(graph: Graph, n: Node): boolean {
  const target = graph.initializers.get(n.inputs[1] ?? '');
  return !!target && target.rank === 1 && !attrInt(n, 'allowzero', 0) && (tensorData(target)?.includes(0) ?? false);
}

/** `t` marked as a sequence / optional when `kind` says so (no `kind` key on a tensor's type). */
function withKind<T extends object>(t: T, kind: ValueKind | undefined): T & { kind?: ValueKind } {
  return kind ? { ...t, kind } : t;
}

// A Loop / Scan body is inferred more than once (until its carried types settle), so nested ones
// multiply: the subgraph inferences of one top-level inferShapes are counted and bounded.
const MAX_SUBGRAPH_INFERENCES = 10000;
let subgraphNesting = 0;
let subgraphInferences = 0;

/**
 * A subgraph's output types from its inputs' (undefined or without a dtype: as declared) and the values around it;
 * `declared`: whether the body's declared output dims fill in what its nodes leave unknown.
 */
function subgraphOutputs(g: Graph, ins: ReadonlyArray<ValueType | undefined>, scope: ReadonlyMap<string, ValueType>, declared: boolean): ValueType[] {
  if (subgraphNesting === 0) subgraphInferences = 0;
  if (++subgraphInferences > MAX_SUBGRAPH_INFERENCES) throw new ShapeError(`more than ${MAX_SUBGRAPH_INFERENCES} subgraph inferences (If / Loop / Scan bodies nested too deep)`);
  const inputs = new Map<string, { dtype: DType; shape?: readonly Dim[]; data?: Dim[]; kind?: ValueKind }>();
  g.inputs.forEach((v, i) => {
    const t = ins[i];
    if (t?.dtype) inputs.set(v.name, withKind({ dtype: t.dtype, shape: t.shape ?? v.shape, data: t.data }, t.kind ?? v.kind));
  });
  subgraphNesting++;
  try {
    // an If branch's outputs as inferred, their declared dims not filled in: torch 1.13 declares an If
    // branch's output with dims its tracing never had (mvit_v2_s's pool_skip Squeeze: [1, 1151, 192]
    // for [1, 129, 192]), and a filled-in dim becomes a constant of the shape computations after it.
    // A Loop / Scan body keeps them: a scan output's slice shape may be known from its declaration only
    // (ONNX's test_loop11, whose int8 TFLite WHILE needs it)
    const body = declared ? g : { ...g, outputs: g.outputs.map((o) => withKind({ name: o.name, dtype: o.dtype }, o.kind)) };
    const { values } = inferShapes(body, { inputs, scope, record: false });
    return g.outputs.map((o) => values.get(o.name) ?? scope.get(o.name) ?? withKind({ dtype: o.dtype, shape: o.shape && [...o.shape] }, o.kind));
  } finally {
    subgraphNesting--;
  }
}

/**
 * Infer the dtype and shape of every value of `graph`, and record those of the intermediate
 * values in `graph.valueInfo` (replacing what was there; values whose dtype stays unknown are
 * left out). Symbolic dims (e.g. 'batch') are carried through; a dim that depends on data
 * (NonZero's count, a Reshape to a computed shape nothing resolves) is null.
 */
export function inferShapes(graph: Graph, options: InferShapesOptions = {}): ShapeInference {
  const values = new Map<string, ValueType>();
  const unknownOps = new Set<string>();
  const errors: string[] = [];
  for (const v of graph.inputs) values.set(v.name, withKind({ dtype: v.dtype, shape: v.shape && [...v.shape] }, v.kind));
  for (const [name, t] of graph.initializers) values.set(name, { dtype: t.dtype, shape: [...t.shape], data: tensorData(t) });
  for (const [name, v] of options.inputs ?? []) values.set(name, withKind({ dtype: v.dtype, shape: v.shape && [...v.shape], data: v.value ? tensorData(v.value) : v.data }, v.kind));
  const scope = options.scope;
  const declared = new Map<string, ValueInfo>();
  for (const v of graph.valueInfo ?? []) declared.set(v.name, v);
  for (const v of graph.outputs) declared.set(v.name, v);

  // A dim left unknown in a value a Shape reads, or a Reshape copies by a 0 in its constant target,
  // gets a derived symbol (`derivedDim`): the Shape's output carries it, so a Reshape to dims computed
  // from it (a channel shuffle's [n, g, c/g, h, w] and back to [n, -1, h, w]) cancels it against the
  // same dim of its input and keeps the others known; a copied one is known to be the input's.
  const dimsRead = new Set(graph.nodes.filter((n) => isOnnxOp(n, 'Shape') || (isOnnxOp(n, 'Reshape') && copiesDims(graph, n))).map((n) => n.inputs[0]!));
  const withDerivedDims = (name: string, t: ValueType): ValueType =>
    dimsRead.has(name) && t.shape?.includes(null) ? { ...t, shape: t.shape.map((d, i) => d ?? derivedDim(name, i)) } : t;

  for (const node of topologicalOrder(graph, scope && new Set(scope.keys()))) {
    const def = opDefOf(node);
    let outs: ValueType[] = [];
    if (!def) {
      unknownOps.add(node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType);
    } else {
      try {
        const opset = opsetOf(graph, node);
        const attrs = def.attrs(node, opset);
        const inputs = node.inputs.map((name) => (name ? values.get(name) ?? scope?.get(name) ?? {} : undefined));
        checkValueKinds(node, inputs);
        // a node's subgraphs see this graph's values as known so far, and those of the graphs around it
        const inner = subgraphsOf(node).length ? new Map([...(scope ?? []), ...values]) : undefined;
        const inferSubgraph = inner && ((g: Graph, ins: ReadonlyArray<ValueType | undefined>) => subgraphOutputs(g, ins, inner, node.opType !== 'If'));
        outs = def.infer({ node, opset, attrs, inputs, inferSubgraph });
      } catch (e) {
        const err = withNode(e, node);
        if (options.onError !== 'unknown') throw err;
        errors.push(err.message);
        outs = [];
      }
    }
    node.outputs.forEach((name, k) => {
      if (name) values.set(name, withDerivedDims(name, merge(outs[k] ?? {}, declared.get(name))));
    });
  }

  if (options.record === false) return { values, unknownOps: [...unknownOps], errors };
  const io = new Set([...graph.inputs.map((v) => v.name), ...graph.outputs.map((v) => v.name), ...graph.initializers.keys()]);
  const info: ValueInfo[] = [];
  for (const node of graph.nodes) {
    for (const name of node.outputs) {
      const v = name && !io.has(name) ? values.get(name) : undefined;
      if (!v?.dtype) continue;
      // (a derived symbol is recorded as unknown: it means something only within this inference)
      const one: ValueInfo = v.shape ? { name, dtype: v.dtype, shape: v.shape.map(callerDim) } : { name, dtype: v.dtype };
      if (v.kind) one.kind = v.kind;
      info.push(one);
    }
  }
  graph.valueInfo = info;
  return { values, unknownOps: [...unknownOps], errors };
}
