// Before the GraphDef writer: the sequence output Y [T, D, B, H] of an unrolled bidirectional
// layer (a Concat over axis 1 of each direction's [T, B, H] sequence unsqueezed there), reordered
// as PyTorch exports it, Transpose [0, 2, 1, 3] then a Reshape to [T, B, D·H], is written as one
// Concat of the directions' sequences over axis 2: the same values in the same order (a
// Transpose that moves a dim of size 1 and a Reshape that merges the last two dims only relabel
// them). OpenCV 4.6's TF importer takes a 4-D Transpose only as NHWC <-> NCHW.
import { attrInt, attrInts, readersOf, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';

const isPlain = (n: Node): boolean => !n.domain || n.domain === 'ai.onnx';

export function bidirectionalSequencesJoined(g: Graph): Graph {
  const readers = readersOf(g.nodes);
  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as [string, Node])));
  const outputs = new Set(g.outputs.map((o) => o.name));
  let shapes: ReturnType<typeof inferShapes>['values'] | undefined;
  const replaced = new Map<Node, Node | null>();
  for (const r of g.nodes) {
    if (!isPlain(r) || r.opType !== 'Reshape' || attrInt(r, 'allowzero', 0)) continue;
    const t = producer.get(r.inputs[0]!);
    if (!t || !isPlain(t) || t.opType !== 'Transpose' || (attrInts(t, 'perm') ?? []).join() !== '0,2,1,3') continue;
    if (outputs.has(t.outputs[0]!) || readers.get(t.outputs[0]!)!.length !== 1) continue;
    const c = producer.get(t.inputs[0]!);
    if (!c || !isPlain(c) || c.opType !== 'Concat' || attrInt(c, 'axis', 0) !== 1) continue;
    const unsqueezed = c.inputs.map((v) => producer.get(v));
    const axisOf = (u: Node): number[] | undefined => attrInts(u, 'axes') ?? (u.inputs[1] ? g.initializers.get(u.inputs[1])?.toNumbers() : undefined);
    if (!unsqueezed.every((u) => u && isPlain(u) && u.opType === 'Unsqueeze' && axisOf(u)?.join() === '1')) continue;
    const target = g.initializers.get(r.inputs[1]!)?.toNumbers();
    shapes ??= inferShapes(g, { onError: 'unknown' }).values;
    const parts = unsqueezed.map((u) => shapes!.get(u!.inputs[0]!)?.shape);
    if (!target || target.length !== 3 || !parts.every((s) => s && s.length === 3)) continue;
    // (the Concat makes the parts' shapes agree; a dim may be unknown, e.g. a dynamic batch)
    const [T, B, H] = parts[0]!;
    // [T, B, D, H] -> [T, B, D·H]: 0 copies T / B, one -1 stands for what the others leave
    const DH = typeof H === 'number' ? H * parts.length : undefined;
    const [t0, t1, t2] = target as [number, number, number];
    const fits = (want: number, d: Dim | undefined) => want === 0 || want === -1 || (typeof d === 'number' && want === d);
    if (target.filter((d) => d === -1).length > 1 || !fits(t0, T) || !fits(t1, B) || !(t2 === -1 || (DH !== undefined && t2 === DH))) continue;
    replaced.set(r, { name: r.name, opType: 'Concat', domain: '', inputs: unsqueezed.map((u) => u!.inputs[0]!), outputs: r.outputs, attrs: { axis: { type: 'int', value: 2 } } });
    replaced.set(t, null);
  }
  if (!replaced.size) return g;
  let nodes = g.nodes.flatMap((n) => (replaced.has(n) ? (replaced.get(n) ? [replaced.get(n)!] : []) : [n]));
  // the 4-D Y and its Unsqueezes go when nothing else reads them
  for (;;) {
    const used = new Set([...nodes.flatMap((n) => n.inputs), ...outputs]);
    const kept = nodes.filter((n) => !(isPlain(n) && ['Concat', 'Unsqueeze'].includes(n.opType)) || n.outputs.some((o) => used.has(o)));
    if (kept.length === nodes.length) break;
    nodes = kept;
  }
  const survivors = new Set(nodes);
  const dropped = new Set(g.nodes.filter((n) => !survivors.has(n)).flatMap((n) => n.inputs));
  const used = new Set([...nodes.flatMap((n) => n.inputs), ...outputs]);
  const initializers = new Map([...g.initializers].filter(([k]) => !dropped.has(k) || used.has(k)));
  return { ...g, nodes, initializers };
}
