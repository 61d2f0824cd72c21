// On request (ReadOptions.fuseScale, `--fuse-scale`): each Caffe BatchNorm followed by the Scale
// layer that holds its learned gamma/beta becomes one BatchNormalization op, as Keras and ONNX
// express it. Off by default, because the BatchNorm's own top is then no longer a value of its
// own (a dump or `compare --layers` would miss it).
import { readersOf, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';

/** Fold `BatchNormalization -> Mul(gamma) [-> Add(beta)]` (per-channel constants) into the BatchNormalization. */
export function fuseBatchNormScale(graph: Graph): number {
  const consumers = readersOf(graph.nodes);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const only = (value: string): Node | undefined => {
    const c = consumers.get(value);
    return c?.length === 1 && !outputs.has(value) ? c[0] : undefined;
  };
  /** the per-channel constant operand of a Mul/Add on `value`, as [C] values */
  const channelConstant = (node: Node, value: string, channels: number): Float32Array | undefined => {
    if (node.inputs.length !== 2) return undefined;
    const other = node.inputs[0] === value ? node.inputs[1]! : node.inputs[1] === value ? node.inputs[0]! : undefined;
    const t = other === undefined ? undefined : graph.initializers.get(other);
    if (!t || t.dtype !== 'float32' || t.size !== channels || t.shape[0] !== channels || t.shape.slice(1).some((d) => d !== 1)) return undefined;
    return t.data as Float32Array;
  };
  const removed = new Set<Node>();
  let fused = 0;
  for (const bn of graph.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || removed.has(bn)) continue;
    const scaleT = graph.initializers.get(bn.inputs[1]!);
    const biasT = graph.initializers.get(bn.inputs[2]!);
    if (!scaleT || !biasT) continue;
    const C = scaleT.size;
    if (!(scaleT.data as Float32Array).every((v) => v === 1) || !(biasT.data as Float32Array).every((v) => v === 0)) continue;
    const mul = only(bn.outputs[0]!);
    const gamma = mul?.opType === 'Mul' ? channelConstant(mul, bn.outputs[0]!, C) : undefined;
    if (!mul || !gamma) continue;
    const add = only(mul.outputs[0]!);
    const beta = add?.opType === 'Add' ? channelConstant(add, mul.outputs[0]!, C) : undefined;
    const last = beta ? add! : mul;
    const sName = `${bn.name}/gamma`;
    const bName = `${bn.name}/beta`;
    graph.initializers.set(sName, new Tensor('float32', [C], Float32Array.from(gamma)));
    graph.initializers.set(bName, new Tensor('float32', [C], beta ? Float32Array.from(beta) : new Float32Array(C)));
    bn.inputs = [bn.inputs[0]!, sName, bName, bn.inputs[3]!, bn.inputs[4]!];
    bn.outputs = [last.outputs[0]!];
    removed.add(mul);
    if (beta) removed.add(add!);
    fused++;
  }
  if (!fused) return 0;
  graph.nodes = graph.nodes.filter((n) => !removed.has(n));
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const k of [...graph.initializers.keys()]) if (!used.has(k)) graph.initializers.delete(k);
  const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
  graph.valueInfo = graph.valueInfo?.filter((v) => produced.has(v.name));
  return fused;
}
