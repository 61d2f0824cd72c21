// What a graph needs before the Keras / TF.js writers: constants folded (with a concrete batch
// of 1 so that exported shape subgraphs fold into the Reshape targets Keras layers need) and,
// for an NCHW graph, the layout pass to channels-last nnport ops. The written model keeps a
// free batch dimension: Keras layers never name it.
import { attrFloat, attrString, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { foldConstants } from '../passes/fold-constants.js';
import { toChannelsLast, type KeptTranspose } from '../passes/layout.js';
import { CHANNELS_LAST_OPS } from '../passes/lower-channels-last.js';
import { createNodeEvaluator } from '../runtime/evaluate.js';

/** True when the graph holds NCHW spatial ops (ONNX Conv, pools, ...) that Keras cannot take as they are. */
export function isNchwGraph(graph: Graph): boolean {
  return graph.nodes.some((n) => (n.domain === '' || n.domain === 'ai.onnx') && CHANNELS_LAST_OPS.has(n.opType));
}

export interface KerasPrepareOptions {
  /** fold a BatchNormalization that directly follows a conv into the conv's kernel and bias (only on request) */
  foldBn?: boolean;
}

export async function prepareForKeras(graph: Graph, options: KerasPrepareOptions = {}): Promise<{ graph: Graph; transposes: KeptTranspose[]; notes: string[] }> {
  const evaluate = await createNodeEvaluator();
  // the layout pass sees a free batch dim (else it may fold the batch into a flatten), ...
  const withBatch = (g: Graph, batch: number | string): Graph => ({ ...g, inputs: g.inputs.map((v) => (v.shape && v.shape.length >= 2 && !g.initializers.has(v.name) ? { ...v, shape: [batch, ...v.shape.slice(1)] } : v)) });
  let g = foldConstants(withBatch(graph, 'batch'), { evaluate }).graph;
  let transposes: KeptTranspose[] = [];
  let notes: string[] = [];
  if (isNchwGraph(g)) {
    const r = toChannelsLast(g, { target: 'keras' });
    g = r.graph;
    transposes = r.transposes;
    notes = r.notes;
  }
  // ... then a batch of 1 folds what is left of the shape subgraphs into static targets
  g = foldConstants(withBatch(g, 1), { evaluate }).graph;
  if (options.foldBn) {
    const r = foldBatchNormIntoConv(g);
    g = r.graph;
    if (r.folded) notes = [...notes, `${r.folded} BatchNormalization layer(s) folded into the conv before them (--fold-bn)`];
  }
  return { graph: g, transposes, notes };
}

/**
 * nnport.Conv (HWIO, output channels last) -> nnport.BatchNormalization with nothing else
 * reading the conv: kernel[..., o] *= s[o], bias = (bias - mean) s + beta, s = gamma / sqrt(var + eps).
 */
export function foldBatchNormIntoConv(graph: Graph): { graph: Graph; folded: number } {
  const consumers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const producer = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const initializers = new Map(graph.initializers);
  const drop = new Set<Node>();
  const replaced = new Map<Node, Node>();
  for (const bn of graph.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== 'nnport') continue;
    const conv = producer.get(bn.inputs[0]!);
    if (!conv || conv.opType !== 'Conv' || conv.domain !== 'nnport' || (conv.attrs.kernel_layout && attrString(conv, 'kernel_layout') !== 'HWIO')) continue;
    if (consumers.get(conv.outputs[0]!) !== 1 || outputs.has(conv.outputs[0]!)) continue;
    const W = initializers.get(conv.inputs[1]!);
    const B = conv.inputs[2] ? initializers.get(conv.inputs[2]) : undefined;
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => initializers.get(bn.inputs[i]!));
    if (!W || !gamma || !beta || !mean || !variance || (conv.inputs[2] && !B)) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const cout = W.shape[W.rank - 1]!;
    const g = gamma.toFloat32(), be = beta.toFloat32(), m = mean.toFloat32(), v = variance.toFloat32();
    const scale = Float32Array.from({ length: cout }, (_, o) => g[o]! / Math.sqrt(v[o]! + eps));
    const w = W.toFloat32();
    const nw = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) nw[i] = w[i]! * scale[i % cout]!;
    const b = B ? B.toFloat32() : new Float32Array(cout);
    const nb = Float32Array.from({ length: cout }, (_, o) => (b[o]! - m[o]!) * scale[o]! + be[o]!);
    const wName = `${conv.inputs[1]}/bn_folded`;
    const bName = `${conv.inputs[2] || `${conv.name}.bias`}/bn_folded`;
    initializers.set(wName, new Tensor('float32', W.shape, nw));
    initializers.set(bName, new Tensor('float32', [cout], nb));
    replaced.set(conv, { ...conv, inputs: [conv.inputs[0]!, wName, bName], outputs: [bn.outputs[0]!] });
    drop.add(bn);
  }
  if (!drop.size) return { graph, folded: 0 };
  const nodes = graph.nodes.filter((n) => !drop.has(n)).map((n) => replaced.get(n) ?? n);
  const used = new Set(nodes.flatMap((n) => n.inputs));
  for (const k of [...initializers.keys()]) if (!used.has(k) && !graph.inputs.some((v) => v.name === k)) initializers.delete(k);
  return { graph: { ...graph, nodes, initializers }, folded: drop.size };
}
