// Plan-time fusion for the reference runtime: Conv -> BatchNormalization (inference) is folded
// into the conv's weights and bias, and a following Relu or Clip becomes the conv's clamp
// epilogue (nnport::FusedConv, applied in the kernels' store). Graph -> Graph: the input graph
// and its tensors are never modified; folded weights are new initializers.
//
// A value is fused away only when its one reader is the next op of the chain and it is not a
// graph output, so every value the fused graph still has is computed exactly as before
// (up to float rounding of the folded weights).
import { attrFloat, attrInt, constantValue, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** Domain and op type of the fused conv (registered in the runtime as 'nnport::FusedConv'). */
export const FUSED_CONV = { domain: 'nnport', opType: 'FusedConv' } as const;

export interface FuseConvReport {
  /** BatchNormalization nodes folded into a conv */
  batchNorms: number;
  /** Relu / Clip nodes turned into a conv's clamp */
  activations: number;
}

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** Every value name read by a node of a subgraph (If / Loop / Scan bodies see outer values). */
function subgraphReads(nodes: readonly Node[], into: Set<string>): void {
  for (const n of nodes) {
    for (const a of Object.values(n.attrs)) {
      const gs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const g of gs) {
        for (const m of g.nodes) for (const i of m.inputs) if (i) into.add(i);
        subgraphReads(g.nodes, into);
      }
    }
  }
}

/** A float32 constant: an initializer or the output of a Constant node. */
function constantOf(graph: Graph, constants: ReadonlyMap<string, Tensor>, name: string): Tensor | undefined {
  const t = graph.initializers.get(name) ?? constants.get(name);
  return t && t.dtype === 'float32' ? t : undefined;
}

function constantNodeValue(n: Node): Tensor | undefined {
  if (n.opType !== 'Constant' || !isOnnx(n) || n.outputs.length !== 1) return undefined;
  try {
    return constantValue(n);
  } catch {
    return undefined; // a malformed Constant is left for the runtime to report with its node
  }
}

/** The clamp [lo, hi] an activation node applies, or undefined when it is not a constant clamp. */
function clampOf(graph: Graph, constants: ReadonlyMap<string, Tensor>, n: Node, opset: number): [number, number] | undefined {
  if (!isOnnx(n) || n.outputs.length !== 1) return undefined;
  if (n.opType === 'Relu') return [0, Infinity];
  if (n.opType !== 'Clip') return undefined;
  // opset < 11: bounds are attributes; from 11 they are optional scalar inputs.
  if (opset < 11) return [attrFloat(n, 'min', -Infinity), attrFloat(n, 'max', Infinity)];
  const bound = (i: number, none: number): number | undefined => {
    const name = n.inputs[i];
    if (!name) return none;
    const t = constantOf(graph, constants, name);
    return t && t.size === 1 ? (t.data as Float32Array)[0]! : undefined;
  };
  const lo = bound(1, -Infinity);
  const hi = bound(2, Infinity);
  if (lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi)) return undefined;
  return [lo, hi];
}

/** BN parameters [scale, B, mean, var] when `bn` is an inference BatchNormalization over M channels with constant parameters. */
function batchNormParams(graph: Graph, constants: ReadonlyMap<string, Tensor>, bn: Node, M: number): Float32Array[] | undefined {
  if (bn.opType !== 'BatchNormalization' || !isOnnx(bn)) return undefined;
  if (bn.outputs.slice(1).some((o) => o) || attrInt(bn, 'training_mode', 0) !== 0) return undefined;
  // opset < 9 spatial = 0 normalizes per activation, not per channel.
  if (attrInt(bn, 'spatial', 1) === 0 || attrInt(bn, 'is_test', 1) === 0) return undefined;
  const params = bn.inputs.slice(1, 5).map((name) => (name ? constantOf(graph, constants, name) : undefined));
  if (params.length !== 4 || params.some((t) => !t || t.rank !== 1 || t.shape[0] !== M)) return undefined;
  return params.map((t) => t!.data as Float32Array);
}

/** A fresh initializer name based on `base`. */
function freshName(taken: Set<string>, base: string): string {
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/**
 * Fold BatchNormalization into the Conv before it and fuse a following Relu / Clip into a
 * clamp epilogue. Returns a new graph (sharing untouched nodes and tensors with `graph`).
 */
export function fuseConv(graph: Graph, report?: FuseConvReport): Graph {
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const pinned = new Set(graph.outputs.map((o) => o.name));
  subgraphReads(graph.nodes, pinned);
  const constants = new Map<string, Tensor>();
  for (const n of graph.nodes) {
    const v = constantNodeValue(n);
    if (v) constants.set(n.outputs[0]!, v);
  }
  // The node reading `value`, when it is the only reader and the value may disappear.
  const soleReader = (value: string): Node | undefined => {
    const r = readers.get(value);
    return !pinned.has(value) && r?.length === 1 ? r[0] : undefined;
  };

  const taken = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name)]);
  for (const n of graph.nodes) for (const o of n.outputs) taken.add(o);
  const initializers = new Map(graph.initializers);
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  let fused = false;

  for (const conv of graph.nodes) {
    if (conv.opType !== 'Conv' || !isOnnx(conv) || conv.outputs.length !== 1) continue;
    let out = conv.outputs[0]!;
    let inputs = conv.inputs;
    const W = constantOf(graph, constants, conv.inputs[1] ?? '');
    const B = conv.inputs[2] ? constantOf(graph, constants, conv.inputs[2]) : undefined;
    let next = soleReader(out);

    if (next && W && W.rank >= 3 && (!conv.inputs[2] || B)) {
      const M = W.shape[0]!;
      const bn = batchNormParams(graph, constants, next, M);
      if (bn && next.inputs[0] === out) {
        const [scale, beta, mean, variance] = bn as [Float32Array, Float32Array, Float32Array, Float32Array];
        const epsilon = attrFloat(next, 'epsilon', 1e-5);
        const w = W.data as Float32Array;
        const b = B?.data as Float32Array | undefined;
        const per = W.size / M;
        const w2 = new Float32Array(W.size);
        const b2 = new Float32Array(M);
        for (let m = 0; m < M; m++) {
          // As the BatchNormalization op computes it: y = x*s + (B - mean*s), s = scale/sqrt(var+eps).
          const s = scale[m]! / Math.sqrt(variance[m]! + epsilon);
          for (let i = m * per; i < (m + 1) * per; i++) w2[i] = w[i]! * s;
          b2[m] = (b ? b[m]! : 0) * s + (beta[m]! - mean[m]! * s);
        }
        const base = conv.name || out;
        const wName = freshName(taken, `${base}/bn_folded_W`);
        const bName = freshName(taken, `${base}/bn_folded_B`);
        initializers.set(wName, new Tensor('float32', W.shape, w2));
        initializers.set(bName, new Tensor('float32', [M], b2));
        inputs = [conv.inputs[0]!, wName, bName];
        removed.add(next);
        out = next.outputs[0]!;
        next = soleReader(out);
        if (report) report.batchNorms++;
        fused = true;
      }
    }

    const clamp = next && next.inputs[0] === out ? clampOf(graph, constants, next, opset) : undefined;
    let node: Node;
    if (clamp) {
      removed.add(next!);
      out = next!.outputs[0]!;
      node = {
        ...conv,
        domain: FUSED_CONV.domain,
        opType: FUSED_CONV.opType,
        inputs,
        outputs: [out],
        attrs: { ...conv.attrs, activation_min: { type: 'float', value: clamp[0] }, activation_max: { type: 'float', value: clamp[1] } },
      };
      if (report) report.activations++;
      fused = true;
    } else {
      node = { ...conv, inputs, outputs: [out] };
    }
    if (node.inputs !== conv.inputs || node.outputs[0] !== conv.outputs[0]) replaced.set(conv, node);
  }
  if (!fused) return graph;

  let nodes = graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  // Constant nodes that only fed fused bounds or parameters are no longer read.
  const read = new Set<string>(pinned);
  for (const n of nodes) for (const i of n.inputs) if (i) read.add(i);
  nodes = nodes.filter((n) => !(constantNodeValue(n) && !read.has(n.outputs[0]!)));
  const opsets = nodes.some((n) => n.domain === FUSED_CONV.domain) ? { ...graph.opsets, [FUSED_CONV.domain]: 1 } : graph.opsets;
  return { ...graph, nodes, initializers, opsets };
}
