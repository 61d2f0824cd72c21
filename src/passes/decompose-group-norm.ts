// GroupNormalization (ONNX opset 18 / 21, or fused from PyTorch's export by fuse-group-norm.ts) as
// the ops PyTorch exports it as, for the writers with no group-norm op (TFLite, GraphDef, TF.js
// graph models): Reshape to (N, G, -1), InstanceNormalization with unit scale and zero bias, Reshape
// back to X's shape, then the per-channel scale and bias (a per-group one, opset 18's, spread over
// its channels) as Mul / Add by (C, 1, ...) constants.
import { attrFloat, attrInt, type Graph, isOnnxOp } from '../ir/graph.js';
import { UnsupportedError } from '../ir/errors.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { inferShapes } from '../ir/ops/index.js';
import { Tensor } from '../ir/tensor.js';

export function decomposeGroupNorm(graph: Graph): { graph: Graph; decomposed: number } {
  const norms = graph.nodes.filter((n) => isOnnxOp(n, 'GroupNormalization'));
  if (!norms.length) return { graph, decomposed: 0 };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  for (const n of norms) {
    const x = n.inputs[0]!;
    const shape = shapes.get(x)?.shape;
    const c = shape?.[1];
    const g = attrInt(n, 'num_groups', 0);
    const where = `node '${n.name}'`;
    if (!shape || typeof c !== 'number') throw new UnsupportedError('GroupNormalization of data whose rank and channel count are unknown', where);
    const scale = rw.constant(n.inputs[1]!);
    const bias = rw.constant(n.inputs[2]!);
    if (!scale || !bias) throw new UnsupportedError('GroupNormalization with a scale or bias given at run time', where);
    const perChannel = (t: Tensor): Tensor => {
      const v = t.toNumbers();
      return Tensor.float32([c, ...new Array<number>(shape.length - 2).fill(1)], Array.from({ length: c }, (_, i) => (v.length === c ? v[i]! : v[Math.floor(i / (c / g))]!)));
    };
    const base = n.name || n.outputs[0]!;
    const at = (s: string): string => rw.freshName(`${base}/${s}`);
    const view = rw.add({ opType: 'Reshape', name: `${base}/groups`, inputs: [x, rw.addInitializer(`${base}/groups_shape`, Tensor.int64([3], [0, g, -1]))], outputs: [at('groups')] });
    const unit = (v: number, s: string): string => rw.addInitializer(`${base}/${s}`, Tensor.float32([g], new Array<number>(g).fill(v)));
    const normed = rw.add({ opType: 'InstanceNormalization', name: `${base}/normalize`, inputs: [view, unit(1, 'unit_scale'), unit(0, 'zero_bias')], outputs: [at('normalized')], attrs: { epsilon: { type: 'float', value: attrFloat(n, 'epsilon', 1e-5) } } });
    // X's shape as a constant where it is known (what PyTorch's export holds; the layout pass re-lays it), else Shape(X)
    const xShape = shape.every((d): d is number => typeof d === 'number') ? rw.addInitializer(`${base}/shape`, Tensor.int64([shape.length], shape)) : rw.add({ opType: 'Shape', name: `${base}/shape`, inputs: [x], outputs: [at('shape')] });
    const back = rw.add({ opType: 'Reshape', name: `${base}/ungroup`, inputs: [normed, xShape], outputs: [at('ungrouped')] });
    const scaled = rw.add({ opType: 'Mul', name: `${base}/scale`, inputs: [back, rw.addInitializer(`${base}/channel_scale`, perChannel(scale))], outputs: [at('scaled')] });
    rw.removeNode(n);
    rw.addNode({ opType: 'Add', name: `${base}/bias`, inputs: [scaled, rw.addInitializer(`${base}/channel_bias`, perChannel(bias))], outputs: [n.outputs[0]!] });
  }
  rw.sweep();
  return { graph: rw.toGraph(), decomposed: norms.length };
}
