// --fold-bn: an inference BatchNormalization right after a Conv (its only reader) is folded into
// the conv's weights and bias. Only on request: the folded model has no BN layer any more, which
// changes its structure (and a transplant by layer name), so no converter does it silently.
// Works on ONNX Conv -> BatchNormalization and on the channels-last nnport pair (HWIO: output
// channels last; OHWI: first).
import { attrFloat, attrInt, attrString, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface FoldBatchNormResult {
  graph: Graph;
  /** names of the BatchNormalization nodes folded */
  folded: string[];
}

const sameFamily = (a: Node, b: Node): boolean => (a.domain === 'nnport') === (b.domain === 'nnport');
const isConv = (n: Node): boolean => n.opType === 'Conv' && (n.domain === '' || n.domain === 'ai.onnx' || n.domain === 'nnport');

export function foldBatchNorm(graph: Graph): FoldBatchNormResult {
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.map((v) => v.name));
  const constOf = (v: string | undefined): Tensor | undefined => {
    if (!v || overridable.has(v)) return undefined;
    const t = rw.constant(v);
    return t && t.dtype === 'float32' ? t : undefined;
  };
  const folded: string[] = [];
  for (const orig of graph.nodes) {
    const conv = rw.latest(orig);
    if (!isConv(conv) || conv.outputs.length !== 1) continue;
    const bn = rw.soleConsumer(conv.outputs[0]!);
    if (!bn || bn.opType !== 'BatchNormalization' || !sameFamily(conv, bn) || bn.inputs[0] !== conv.outputs[0]) continue;
    if (bn.outputs.slice(1).some((o) => o) || attrInt(bn, 'training_mode', 0) !== 0 || attrInt(bn, 'spatial', 1) === 0) continue;
    const W = constOf(conv.inputs[1]);
    const B = conv.inputs[2] ? constOf(conv.inputs[2]) : undefined;
    if (!W || (conv.inputs[2] && !B)) continue;
    const layout = conv.domain === 'nnport' ? attrString(conv, 'kernel_layout', 'HWIO') : 'OIHW';
    const outAxis = layout === 'HWIO' ? W.rank - 1 : 0;
    const M = W.shape[outAxis]!;
    const params = bn.inputs.slice(1, 5).map(constOf);
    if (params.length !== 4 || params.some((t) => !t || t.size !== M)) continue;
    const [scale, beta, mean, variance] = params.map((t) => t!.data as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const s = new Float32Array(M);
    const b2 = new Float32Array(M);
    const b = B?.data as Float32Array | undefined;
    for (let m = 0; m < M; m++) {
      // y = (x - mean) * scale / sqrt(var + eps) + beta, with x = conv(W) + b
      s[m] = scale[m]! / Math.sqrt(variance[m]! + eps);
      b2[m] = ((b ? b[m]! : 0) - mean[m]!) * s[m]! + beta[m]!;
    }
    const inner = W.shape.slice(outAxis + 1).reduce((p, d) => p * d, 1);
    const w = W.data as Float32Array;
    const w2 = new Float32Array(W.size);
    for (let i = 0; i < W.size; i++) w2[i] = w[i]! * s[Math.floor(i / inner) % M]!;
    const wName = rw.addInitializer(`${conv.inputs[1]}/bn_folded`, new Tensor('float32', W.shape, w2));
    const bName = rw.addInitializer(`${conv.inputs[2] || `${conv.name}/bias`}/bn_folded`, new Tensor('float32', [M], b2));
    const out = bn.outputs[0]!;
    rw.removeNode(bn);
    rw.replaceNode(conv, { inputs: [conv.inputs[0]!, wName, bName], outputs: [out] });
    folded.push(bn.name);
  }
  if (!folded.length) return { graph, folded };
  rw.sweep();
  return { graph: rw.toGraph(), folded };
}
