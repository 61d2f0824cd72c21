// A Reshape whose output is reshaped straight back to the first one's input shape (what the
// layout pass leaves of a channel shuffle once the shuffle itself is a Gather) is a no-op pair:
// readers of the second read the first's input, and both go.
import type { Dim, Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';

const sameDims = (a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): boolean =>
  !!a && !!b && a.length === b.length && a.every((d, i) => d !== null && d === b[i]);

export function cancelReshapePairs(graph: Graph): { graph: Graph; cancelled: number } {
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const isReshape = (n: { opType: string; domain: string }) => n.opType === 'Reshape' && (n.domain === '' || n.domain === 'ai.onnx');
  let cancelled = 0;
  for (const orig of graph.nodes) {
    const second = rw.latest(orig);
    if (!isReshape(second) || !rw.nodes.includes(second)) continue;
    const first = rw.producer(second.inputs[0]!);
    if (!first || !isReshape(first)) continue;
    const out = second.outputs[0]!;
    if (rw.isPinned(out) || !sameDims(shapes.get(first.inputs[0]!)?.shape, shapes.get(out)?.shape)) continue;
    rw.replaceUses(out, first.inputs[0]!);
    rw.removeNode(rw.latest(second));
    cancelled++;
  }
  if (!cancelled) return { graph, cancelled };
  rw.sweep();
  return { graph: rw.toGraph(), cancelled };
}
