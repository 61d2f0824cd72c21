// Data movement (Reshape, Transpose) commutes with a DequantizeLinear / QuantizeLinear of one scale
// and zero point: it moves the same values on either side of them. The passes that put such moves
// around an op of a QDQ graph (a pre-quantized model: lower-high-rank.ts' merging Reshapes,
// collapse-transpose.ts) place them on the integer side with these helpers, so that the TFLite
// writer still finds DequantizeLinear -> op -> QuantizeLinear (its QDQ islands, collapseQdq in
// write.ts) and writes the op on integers, not in float between a DEQUANTIZE and a QUANTIZE.
import type { Node } from '../ir/graph.js';
import type { GraphRewriter } from '../ir/rewriter.js';
import type { Tensor } from '../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** A DequantizeLinear / QuantizeLinear of constant parameters: its scale, and its axis where the scale has more than one value. */
export interface QdqNode {
  node: Node;
  scale: Tensor;
  /** the axis of a per-axis node, as its attribute gives it (maybe negative) */
  axis?: number;
}

function qdq(rw: GraphRewriter, n: Node | undefined, opType: string): QdqNode | undefined {
  if (!n || n.opType !== opType || !isOnnx(n)) return undefined;
  const scale = rw.constant(n.inputs[1] ?? '');
  if (!scale || (n.inputs[2] && !rw.constant(n.inputs[2]))) return undefined;
  // a block-quantized node (opset 21 block_size) is none of the two
  if (n.attrs.block_size?.type === 'int' && n.attrs.block_size.value > 0) return undefined;
  const axis = n.attrs.axis?.type === 'int' ? n.attrs.axis.value : 1;
  return { node: n, scale, axis: scale.size > 1 ? axis : undefined };
}

/** The DequantizeLinear (constant parameters) that makes `v`, if one does. */
export function dequantizerOf(rw: GraphRewriter, v: string): QdqNode | undefined {
  return qdq(rw, rw.producer(v), 'DequantizeLinear');
}

/** The one QuantizeLinear (constant parameters, one scale) that reads `v`, when nothing else sees `v`. */
export function soleQuantizerOf(rw: GraphRewriter, v: string): QdqNode | undefined {
  const q = qdq(rw, rw.soleConsumer(v), 'QuantizeLinear');
  return q && q.axis === undefined && q.node.inputs[0] === v ? q : undefined;
}

/** `d`'s dequantization of the integer value `x` (a new node, writing `output` where given; `axis` replaces a per-axis node's): its float output. */
export function dequantizeLike(rw: GraphRewriter, d: QdqNode, x: string, name: string, options: { axis?: number; output?: string } = {}): string {
  const attrs = options.axis === undefined ? d.node.attrs : { ...d.node.attrs, axis: { type: 'int' as const, value: options.axis } };
  return rw.add({ opType: 'DequantizeLinear', name, inputs: [x, ...d.node.inputs.slice(1)], outputs: options.output ? [options.output] : undefined, attrs });
}

/** `q`'s quantization of the float value `y` (a new node): its integer output. */
export function quantizeLike(rw: GraphRewriter, q: QdqNode, y: string, name: string): string {
  return rw.add({ opType: 'QuantizeLinear', name, inputs: [y, ...q.node.inputs.slice(1)], attrs: q.node.attrs });
}

/** Whether the two nodes' parameters are the same values (a DequantizeLinear then this QuantizeLinear gives back its integers). */
export function sameParameters(rw: GraphRewriter, a: QdqNode, b: QdqNode): boolean {
  const same = (x: Tensor | undefined, y: Tensor | undefined): boolean => {
    if (!x || !y) return !x && !y;
    const [a, b] = [x.toNumbers(), y.toNumbers()];
    return x.dtype === y.dtype && a.length === b.length && a.every((v, i) => v === b[i]);
  };
  const zp = (n: QdqNode) => (n.node.inputs[2] ? rw.constant(n.node.inputs[2]) : undefined);
  return a.axis === undefined && b.axis === undefined && same(a.scale, b.scale) && same(zp(a), zp(b));
}
