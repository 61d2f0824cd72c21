// float16 weights (a Cast of a float16 constant to float32: a float16 TFLite file as read,
// quantizeGraph's float16 mode) decoded into float32 constants, for the writers and passes that
// take constant float32 weights (Keras, TF.js, TensorFlow, int8 / dynamic quantization, --dequantize).
import type { Graph, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** A Cast of a float16 constant to float32. */
export function isHalfWeightCast(g: Graph, n: Node): boolean {
  const to = n.attrs.to;
  return n.opType === 'Cast' && (n.domain === '' || n.domain === 'ai.onnx') && to?.type === 'int' && to.value === 1 && g.initializers.get(n.inputs[0] ?? '')?.dtype === 'float16';
}

/** The graph with each float16 weight's Cast replaced by its float32 value (exact); `decoded` counts them. */
export function decodeHalfWeights(g: Graph): { graph: Graph; decoded: number } {
  const casts = new Set(g.nodes.filter((n) => isHalfWeightCast(g, n)));
  if (!casts.size) return { graph: g, decoded: 0 };
  const initializers = new Map(g.initializers);
  for (const n of casts) initializers.set(n.outputs[0]!, new Tensor('float32', initializers.get(n.inputs[0]!)!.shape, initializers.get(n.inputs[0]!)!.toFloat32()));
  const nodes = g.nodes.filter((n) => !casts.has(n));
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const n of casts) if (!read.has(n.inputs[0]!) && !g.outputs.some((o) => o.name === n.inputs[0])) initializers.delete(n.inputs[0]!);
  return { graph: { ...g, nodes, initializers }, decoded: casts.size };
}
