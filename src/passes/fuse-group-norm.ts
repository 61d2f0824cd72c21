// GroupNorm as PyTorch exports it (F.group_norm / nn.GroupNorm at every ONNX opset it writes):
//   v = Reshape(X, [N, G, -1])   n = InstanceNormalization(v, ones[G], zeros[G], eps)
//   Y = Reshape(n, shape of X)   [* gamma[C, 1, ...]]   [+ beta[C, 1, ...]]
// collapsed into one GroupNormalization (num_groups G, scale / bias one per channel, the opset-21
// form; nnport's IR takes per-channel or per-group parameters at any opset, by their length), which
// Keras has as a layer (GroupNormalization, tf.keras 2.11+ / Keras 3) and the layout pass makes
// channels-last like InstanceNormalization instead of moving the data to NCHW and back around it.
// Only where the intermediate values feed nothing else, the instance norm's own scale / bias are
// ones / zeros, the second Reshape gives back X's shape, and gamma / beta are per-channel constants.
import { attrFloat, type Graph, type Node, isOnnxOp } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface FuseGroupNormResult {
  graph: Graph;
  /** the GroupNormalization nodes made, by name, with their group counts */
  fused: Array<{ name: string; groups: number }>;
}

export function fuseGroupNorm(graph: Graph): FuseGroupNormResult {
  const norms = graph.nodes.filter((n) => isOnnxOp(n, 'InstanceNormalization'));
  if (!norms.length) return { graph, fused: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const fused: FuseGroupNormResult['fused'] = [];
  const only = (v: string | undefined): Node | undefined => (v ? rw.soleConsumer(v) : undefined);
  const filled = (v: string | undefined, value: number, size: number): boolean => {
    const t = v ? rw.constant(v) : undefined;
    return !!t && t.size === size && t.toNumbers().every((x) => x === value);
  };
  for (const norm of norms) {
    const view = rw.producer(norm.inputs[0]!);
    if (!view || !isOnnxOp(view, 'Reshape') || only(view.outputs[0]) !== norm) continue;
    const x = view.inputs[0]!;
    const xs = shapes.get(x)?.shape;
    const vs = shapes.get(view.outputs[0]!)?.shape;
    if (!xs || xs.length < 3 || !vs || vs.length !== 3 || shapes.get(x)?.dtype !== 'float32') continue;
    const c = xs[1];
    const g = vs[1];
    if (typeof c !== 'number' || typeof g !== 'number' || c % g !== 0 || vs[0] !== xs[0]) continue;
    if (!filled(norm.inputs[1], 1, g) || !filled(norm.inputs[2], 0, g)) continue;
    const back = only(norm.outputs[0]);
    if (!back || !isOnnxOp(back, 'Reshape') || back.inputs[0] !== norm.outputs[0]) continue;
    const ys = shapes.get(back.outputs[0]!)?.shape;
    if (!ys || ys.length !== xs.length || ys.some((d, i) => d !== xs[i])) continue;
    // gamma / beta: a constant of C values laid along axis 1 ([C, 1, ...] or [1, C, 1, ...])
    const perChannel = (n: Node | undefined, from: string): Tensor | undefined => {
      if (!n || (!isOnnxOp(n, 'Mul') && !isOnnxOp(n, 'Add'))) return undefined;
      const other = n.inputs[0] === from ? n.inputs[1] : n.inputs[1] === from ? n.inputs[0] : undefined;
      const t = other ? rw.constant(other) : undefined;
      if (!t || t.dtype !== 'float32' || t.size !== c) return undefined;
      const aligned = [...new Array<number>(Math.max(0, xs.length - t.rank)).fill(1), ...t.shape];
      return aligned.length === xs.length && aligned.every((d, i) => (i === 1 ? d === c : d === 1)) ? t.reshape([c]) : undefined;
    };
    let out = back.outputs[0]!;
    const mul = only(out);
    const gamma = mul && isOnnxOp(mul, 'Mul') ? perChannel(mul, out) : undefined;
    if (gamma) out = mul!.outputs[0]!;
    const add = only(out);
    const beta = add && isOnnxOp(add, 'Add') ? perChannel(add, out) : undefined;
    if (beta) out = add!.outputs[0]!;
    const scale = rw.addInitializer(`${norm.name || 'group_norm'}/scale`, gamma ?? Tensor.float32([c], new Array<number>(c).fill(1)));
    const bias = rw.addInitializer(`${norm.name || 'group_norm'}/bias`, beta ?? Tensor.float32([c], new Array<number>(c).fill(0)));
    for (const n of [add && beta ? add : undefined, mul && gamma ? mul : undefined, back, norm, view]) if (n) rw.removeNode(rw.latest(n));
    const name = rw.freshNodeName((norm.name || 'GroupNormalization').replace(/InstanceNormalization$/, 'GroupNormalization'));
    rw.addNode({ name, opType: 'GroupNormalization', inputs: [x, scale, bias], outputs: [out], attrs: { num_groups: { type: 'int', value: g }, epsilon: { type: 'float', value: attrFloat(norm, 'epsilon', 1e-5) } } });
    fused.push({ name, groups: g });
  }
  if (!fused.length) return { graph, fused };
  rw.sweep();
  return { graph: rw.toGraph(), fused };
}
