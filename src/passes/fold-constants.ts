// Constant folding: a node whose inputs are all constants is computed once and replaced by an
// initializer under its output's name; Shape / Size of a value whose shape inference fixes it
// become constants too, so the shape subgraphs of exported models (Shape -> Gather ->
// Unsqueeze -> Concat -> Reshape) fold away. The computing is injected (`evaluate`, from the
// runtime's kernels: runtime/evaluate.ts), so this pass never touches WASM itself.
import { attrInt, constantValue, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

/** Computes a node's outputs from its inputs (undefined = omitted optional input). */
export type ConstantEvaluator = (node: Node, inputs: ReadonlyArray<Tensor | undefined>, opset: number) => Tensor[];

export interface FoldConstantsOptions {
  evaluate: ConstantEvaluator;
  /** a node whose outputs would hold more bytes than this is left alone (default 16 MiB) */
  maxBytes?: number;
  /** also fold Shape / Size of values with a static inferred shape (default true) */
  shapes?: boolean;
  /** take initializers that are also graph inputs as constants (default: only in ONNX IR < 4 files) */
  initializersAreConstants?: boolean;
}

export interface FoldConstantsResult {
  graph: Graph;
  /** nodes replaced by initializers */
  folded: number;
}

/** Ops whose outputs are not a function of their inputs, and ops with subgraphs, are never folded. */
// sequence and optional values are no tensors an initializer can hold (passes/resolve-sequences.ts makes known ones straight-line)
const NOT_FOLDABLE = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'If', 'Loop', 'Scan', 'SequenceConstruct', 'SequenceEmpty', 'SequenceInsert', 'SequenceErase', 'SplitToSequence', 'SequenceMap', 'Optional', 'OptionalGetElement']);

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/**
 * Fold until nothing more folds: shape inference runs once per round, and a Shape whose input's
 * shape depended on a value only this round made constant (a Pad whose pads a Shape -> Mod -> Sub
 * chain computes, as Swin's window padding does) folds in the next round.
 */
export function foldConstants(graph: Graph, options: FoldConstantsOptions): FoldConstantsResult {
  let total = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const r = foldOnce(graph, options);
    if (!r.folded) break;
    graph = r.graph;
    total += r.folded;
    if (options.shapes === false || !graph.nodes.some((n) => (n.opType === 'Shape' || n.opType === 'Size') && isOnnx(n))) break;
  }
  return { graph, folded: total };
}

/** Rounds of folding: each one resolves at least one more level of shape-dependent shapes. */
const MAX_ROUNDS = 16;

function foldOnce(graph: Graph, options: FoldConstantsOptions): FoldConstantsResult {
  const rw = new GraphRewriter(graph);
  const maxBytes = options.maxBytes ?? 16 << 20;
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  // initializers that are also graph inputs can be fed over: not constants, except before ONNX IR 4,
  // which required every initializer to be listed as an input (so the listing says nothing)
  const listedAnyway = options.initializersAreConstants ?? (graph.metadata?.irVersion !== undefined && graph.metadata.irVersion < 4);
  const overridable = new Set(listedAnyway ? [] : graph.inputs.map((v) => v.name));
  const known = new Map<string, Tensor>();
  for (const [k, t] of graph.initializers) if (!overridable.has(k)) known.set(k, t);
  const shapes = options.shapes === false ? undefined : inferShapes(graph, { onError: 'unknown' }).values;
  let folded = 0;

  const constantOf = (name: string): Tensor | undefined => known.get(name) ?? (rw.initializers.has(name) ? undefined : rw.constant(name));

  for (const node of rw.toGraph().nodes) {
    if (!isOnnx(node) || NOT_FOLDABLE.has(node.opType) || node.opType === 'Constant') continue;
    if (Object.values(node.attrs).some((a) => a.type === 'graph' || a.type === 'graphs')) continue;
    let outs: Tensor[] | undefined;
    if ((node.opType === 'Shape' || node.opType === 'Size') && shapes && node.inputs[0]) {
      const s = shapes.get(node.inputs[0])?.shape;
      if (s && s.every((d) => typeof d === 'number' && d >= 0)) {
        const dims = s as number[];
        if (node.opType === 'Size') outs = [Tensor.int64([], [dims.reduce((p, d) => p * d, 1)])];
        else {
          const r = dims.length;
          const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
          const start = clamp(attrInt(node, 'start', 0));
          const end = clamp(attrInt(node, 'end', r));
          const sel = dims.slice(start, Math.max(start, end));
          outs = [Tensor.int64([sel.length], sel)];
        }
      }
    }
    if (!outs && shapes && node.outputs.length === 1) {
      // integer values that shape inference computed (a dim picked out of a partly symbolic shape)
      const v = shapes.get(node.outputs[0]!);
      if (v?.data && v.shape && v.shape.length <= 1 && v.data.length === (v.shape[0] ?? 1) && v.data.every((d) => typeof d === 'number') && (v.dtype === 'int64' || v.dtype === 'int32')) {
        const data = v.data as number[];
        outs = [v.dtype === 'int64' ? Tensor.int64(v.shape as number[], data) : new Tensor('int32', v.shape as number[], Int32Array.from(data))];
      }
    }
    if (!outs) {
      const inputs = node.inputs.map((i) => (i ? constantOf(i) : undefined));
      if (node.inputs.some((name, k) => name && !inputs[k])) continue;
      // data that grows (Expand, Tile, ConstantOfShape...) is checked after computing; inputs bound it before
      const inBytes = inputs.reduce((p, t) => p + (t ? t.byteLength : 0), 0);
      if (inBytes > maxBytes) continue;
      outs = options.evaluate(node, inputs, opset);
      if (outs.reduce((p, t) => p + t.byteLength, 0) > maxBytes) continue;
    }
    if (node.outputs.some((o, k) => o && !outs![k])) continue;
    rw.removeNode(node);
    node.outputs.forEach((o, k) => {
      if (!o) return;
      rw.initializers.set(o, outs![k]!);
      known.set(o, outs![k]!);
    });
    folded++;
  }
  if (!folded) return { graph, folded };
  rw.sweep();
  return { graph: rw.toGraph(), folded };
}

/**
 * Constant nodes that folding left (read by nothing foldable) become initializers, for writers that
 * store constants as buffers. `keepGraphOutputs`: a Constant that is a graph output stays a node
 * (the Keras writer needs a layer to produce each output).
 */
export function constantNodesToInitializers(g: Graph, options: { keepGraphOutputs?: boolean } = {}): Graph {
  const outputs = new Set(options.keepGraphOutputs ? g.outputs.map((o) => o.name) : []);
  const constants = g.nodes.filter((n) => n.opType === 'Constant' && !n.domain && !outputs.has(n.outputs[0]!));
  if (!constants.length) return g;
  const initializers = new Map(g.initializers);
  for (const n of constants) initializers.set(n.outputs[0]!, constantValue(n));
  return { ...g, nodes: g.nodes.filter((n) => !constants.includes(n)), initializers };
}
