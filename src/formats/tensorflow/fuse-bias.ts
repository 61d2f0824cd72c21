// A TF1 conv adds its bias in a separate BiasAdd or Add node (grappler fuses them only in
// optimized graphs); folding a per-channel constant back into the Conv gives the one-layer form
// that Keras (Conv2D use_bias), TFLite (CONV_2D's bias) and OpenCV expect.
import type { Graph, Node } from '../../ir/graph.js';

/** The Conv's channel count and where the channel axis sits in its output, or undefined. */
function convChannels(graph: Graph, conv: Node): { c: number; channelsLast: boolean } | undefined {
  const w = graph.initializers.get(conv.inputs[1] ?? '');
  if (!w) return undefined;
  if (conv.domain === 'nnport') {
    const layout = conv.attrs.kernel_layout?.value ?? 'HWIO';
    if (layout !== 'HWIO') return undefined;
    return { c: w.shape[w.shape.length - 1]!, channelsLast: true };
  }
  if (conv.domain === '') return { c: w.shape[0]!, channelsLast: false };
  return undefined;
}

/** Is `shape` one value per channel, broadcast to an output of rank `rank`? */
function perChannel(shape: readonly number[], c: number, rank: number, channelsLast: boolean): boolean {
  if (shape.length > rank) return false;
  const at = channelsLast ? shape.length - 1 : shape.length - (rank - 1);
  if (at < 0) return false;
  return shape.every((d, i) => d === (i === at ? c : 1));
}

/** Conv (no bias) → Add(per-channel constant) becomes one Conv with that bias, in place. */
export function fuseConvBias(graph: Graph): void {
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const dropped = new Set<Node>();
  const reshaped = new Set<string>();
  for (const conv of graph.nodes) {
    if (conv.opType !== 'Conv' || (conv.inputs.length > 2 && conv.inputs[2])) continue;
    const y = conv.outputs[0]!;
    const users = consumers.get(y) ?? [];
    if (users.length !== 1 || outputs.has(y)) continue;
    const add = users[0]!;
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    const bName = add.inputs[0] === y ? add.inputs[1]! : add.inputs[0]!;
    const b = graph.initializers.get(bName);
    const ch = convChannels(graph, conv);
    const w = graph.initializers.get(conv.inputs[1]!);
    if (!b || !ch || !w || b.dtype !== w.dtype || !perChannel(b.shape, ch.c, w.shape.length, ch.channelsLast)) continue;
    let bias = bName;
    if (b.shape.length !== 1) {
      bias = `${bName}/per_channel`;
      while (graph.initializers.has(bias)) bias += '_';
      graph.initializers.set(bias, b.reshape([ch.c]));
      reshaped.add(bName);
    }
    conv.inputs = [conv.inputs[0]!, conv.inputs[1]!, bias];
    conv.outputs = [add.outputs[0]!];
    dropped.add(add);
    if (graph.valueInfo) graph.valueInfo = graph.valueInfo.filter((v) => v.name !== y);
  }
  if (!dropped.size) return;
  graph.nodes = graph.nodes.filter((n) => !dropped.has(n));
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const k of reshaped) if (!used.has(k) && !outputs.has(k)) graph.initializers.delete(k);
}
