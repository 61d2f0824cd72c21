// An inference BatchNormalization that no weight absorbed (one after a Dense + ReLU, a
// BatchNorm1d on features) as Mul + Add by per-channel constants, as TF's converter writes it
// for TFLite (which has no BatchNorm op): scale = gamma / sqrt(var + eps), shift = beta -
// mean * scale, computed in float64 and rounded to float32 once. ONNX BatchNormalization
// (channels on axis 1: constants shaped [C, 1, ...] for rank > 2) and the channels-last
// nnport op (channels last: [C]). Used by the TFLite writer for every BatchNormalization and by
// the GraphDef writer for those TF's FusedBatchNorm (4-D channels-last only) cannot take.
import { attrFloat, attrInt, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface BatchNormAffineResult {
  graph: Graph;
  /** names of the BatchNormalization nodes rewritten */
  rewritten: string[];
}

const isBn = (n: Node): boolean => n.opType === 'BatchNormalization' && (n.domain === '' || n.domain === 'ai.onnx' || n.domain === 'nnport');

export interface BatchNormAffineOptions {
  /** a BatchNormalization (of data of this rank) to leave as it is */
  keep?: (n: Node, rank: number) => boolean;
}

export function batchNormAsAffine(graph: Graph, options: BatchNormAffineOptions = {}): BatchNormAffineResult {
  if (!graph.nodes.some(isBn)) return { graph, rewritten: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name));
  const rewritten: string[] = [];
  for (const orig of graph.nodes) {
    const bn = rw.latest(orig);
    if (!isBn(bn) || bn.outputs.slice(1).some((o) => o) || attrInt(bn, 'training_mode', 0) !== 0 || attrInt(bn, 'spatial', 1) === 0) continue;
    const params = bn.inputs.slice(1, 5).map((v) => (v && !overridable.has(v) ? rw.constant(v) : undefined));
    if (params.length !== 4 || params.some((p) => !p || (p.dtype !== 'float32' && p.dtype !== 'float64'))) continue;
    const [gamma, beta, mean, variance] = params.map((p) => p!.toNumbers()) as [number[], number[], number[], number[]];
    const C = gamma.length;
    if ([beta, mean, variance].some((p) => p.length !== C)) continue;
    const rank = shapes.get(bn.inputs[0]!)?.shape?.length;
    if (rank === undefined || options.keep?.(bn, rank)) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const scale = gamma.map((g, c) => g / Math.sqrt(variance[c]! + eps));
    const shift = beta.map((b, c) => b - mean[c]! * scale[c]!);
    // channels on axis 1 of NCHW data broadcast as [C, 1, ...]; channels last (or rank 2) as [C]
    const shape = bn.domain === 'nnport' || rank <= 2 ? [C] : [C, ...new Array<number>(rank - 2).fill(1)];
    const where = bn.name || bn.outputs[0]!;
    const s = rw.addInitializer(`${where}/scale`, Tensor.float32(shape, Float32Array.from(scale)));
    const b = rw.addInitializer(`${where}/shift`, Tensor.float32(shape, Float32Array.from(shift)));
    const scaled = rw.add({ opType: 'Mul', inputs: [bn.inputs[0]!, s], name: `${where}/mul` });
    rw.replaceNode(bn, { opType: 'Add', domain: '', inputs: [scaled, b], attrs: {} });
    rewritten.push(where);
  }
  if (!rewritten.length) return { graph, rewritten };
  rw.sweep();
  return { graph: rw.toGraph(), rewritten };
}
