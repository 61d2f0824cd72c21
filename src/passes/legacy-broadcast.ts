// Before opset 7, ONNX's elementwise ops broadcast B "at axis" (`broadcast=1, axis=k`: B's dims
// line up with A's from axis k) and PRelu's 1-D slope of C values is per channel (axis 1), where
// numpy's rule aligns both at the right. The runtime follows the old rules; the other writers (and
// the layout pass) read every broadcast the numpy way. This pass gives each such B trailing 1s, so
// both rules mean the same thing and the node is valid at its opset either way.
import { attrInt, type Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { elementwiseDefs, legacyBroadcastAttrs } from '../ir/ops/elementwise.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

const int = (value: number) => ({ type: 'int' as const, value });

/** Opset < 7 broadcasts made numpy-aligned (B reshaped with trailing 1s); `aligned` counts them. */
export function alignLegacyBroadcasts(graph: Graph): { graph: Graph; aligned: number } {
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'];
  if (opset === undefined || opset >= 7) return { graph, aligned: 0 };
  const legacy = graph.nodes.filter((n) => !n.domain && (n.opType === 'PRelu' || ((elementwiseDefs as Record<string, { attrs?: unknown } | undefined>)[n.opType]?.attrs === legacyBroadcastAttrs && legacyBroadcastAttrs(n, opset).legacyAxis !== undefined)));
  if (!legacy.length) return { graph, aligned: 0 };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  let aligned = 0;
  for (const n of legacy) {
    const a = shapes.get(n.inputs[0]!)?.shape;
    const b = shapes.get(n.inputs[1]!)?.shape;
    if (!a || !b) continue;
    // PRelu-6: a 1-D slope of C values on a (N, C, ...) input is per channel
    const axis = n.opType === 'PRelu' ? (b.length === 1 && a.length > 2 && b[0] === a[1] ? 1 : undefined) : attrInt(n, 'axis', 0);
    if (axis === undefined) continue;
    const start = axis < 0 ? axis + a.length : axis;
    const trailing = a.length - start - b.length;
    if (trailing <= 0) continue;
    const shape = [...b, ...new Array<number>(trailing).fill(1)];
    const c = rw.constant(n.inputs[1]!);
    const reshaped = c
      ? rw.addInitializer(`${n.inputs[1]}/aligned`, c.reshape(shape.map(Number)))
      : rw.add({ opType: 'Reshape', inputs: [n.inputs[1]!, rw.addInitializer(`${n.inputs[1]}/aligned_shape`, Tensor.int64([shape.length], shape.map((d) => (typeof d === 'number' ? d : 0))))], name: `${n.name || n.outputs[0]}/aligned` });
    rw.replaceNode(n, { inputs: [n.inputs[0]!, reshaped, ...n.inputs.slice(2)], attrs: n.opType === 'PRelu' ? n.attrs : { ...n.attrs, axis: int(start) } });
    aligned++;
  }
  if (!aligned) return { graph, aligned: 0 };
  rw.sweep();
  return { graph: rw.toGraph(), aligned };
}
