// PyTorch's `hs = []; for ...: hs.append(h)` then `torch.stack(hs)` exports as a Loop carrying a
// sequence (SequenceEmpty before it, SequenceInsert at the end in its body) read after the loop by
// ConcatFromSequence(axis 0, new_axis 1): that is the Loop's scan output of `h`, ONNX's own way of
// collecting one value per iteration, which the writers that keep run-time control flow write (a
// GraphDef's StatelessWhile accumulator) where a sequence has no counterpart. Only that exact
// pattern is rewritten (the list appended to once per iteration, read only by such stacks).
import { attrInt, implicitInputs, type Graph, type Node, type ValueInfo } from '../ir/graph.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** The graph with each appended-and-stacked Loop sequence made a scan output; `rewritten` counts them. */
export function appendsAsScanOutputs(graph: Graph): { graph: Graph; rewritten: number } {
  let g = graph;
  let rewritten = 0;
  for (let guard = 0; guard < 1000; guard++) {
    const next = rewriteOne(g);
    if (!next) break;
    g = next;
    rewritten++;
  }
  return { graph: g, rewritten };
}

function rewriteOne(g: Graph): Graph | undefined {
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const readers = (v: string): Node[] => g.nodes.filter((n) => n.inputs.includes(v) || implicitInputs(n).includes(v));
  const outputs = new Set(g.outputs.map((o) => o.name));
  for (const loop of g.nodes) {
    if (!isOnnx(loop) || loop.opType !== 'Loop' || loop.attrs.body?.type !== 'graph') continue;
    const body = loop.attrs.body.value;
    const nCarried = loop.inputs.length - 2;
    for (let k = 0; k < nCarried; k++) {
      const initial = loop.inputs[2 + k];
      const empty = initial ? producer.get(initial) : undefined;
      if (!empty || !isOnnx(empty) || empty.opType !== 'SequenceEmpty') continue;
      const seqIn = body.inputs[2 + k]?.name;
      const seqOut = body.outputs[1 + k]?.name;
      const final = loop.outputs[k];
      if (!seqIn || !seqOut || !final || outputs.has(final)) continue;
      // the body: seqOut = SequenceInsert(seqIn, t) at the end, neither read by anything else
      const insert = body.nodes.find((n) => n.outputs[0] === seqOut);
      if (!insert || !isOnnx(insert) || insert.opType !== 'SequenceInsert' || insert.inputs.length !== 2 || insert.inputs[0] !== seqIn) continue;
      const bodyReads = (v: string) => body.nodes.filter((n) => n.inputs.includes(v) || implicitInputs(n).includes(v)).length + body.outputs.filter((o) => o.name === v).length;
      if (bodyReads(seqIn) !== 1 || bodyReads(seqOut) !== 1) continue;
      // after the loop: only stacks along a new first axis
      const stacks = readers(final);
      if (!stacks.length || !stacks.every((n) => isOnnx(n) && n.opType === 'ConcatFromSequence' && n.inputs[0] === final && attrInt(n, 'new_axis', 0) === 1 && attrInt(n, 'axis', 0) === 0)) continue;
      const item = insert.inputs[1]!;
      const scanName = freshName(g, `${final}_scan`);
      const old = body.outputs[1 + k]!;
      const scanOut: ValueInfo = { name: item, dtype: old.dtype };
      const newBody: Graph = {
        ...body,
        inputs: body.inputs.filter((_, i) => i !== 2 + k),
        nodes: body.nodes.filter((n) => n !== insert),
        outputs: [...body.outputs.filter((_, i) => i !== 1 + k), scanOut],
      };
      const newLoop: Node = {
        ...loop,
        inputs: loop.inputs.filter((_, i) => i !== 2 + k),
        outputs: [...loop.outputs.filter((_, i) => i !== k), scanName],
        attrs: { ...loop.attrs, body: { type: 'graph', value: newBody } },
      };
      const emptyStillRead = readers(initial!).some((n) => n !== loop);
      const nodes = g.nodes.flatMap((n): Node[] => {
        if (n === loop) return [newLoop];
        if (n === empty && !emptyStillRead) return [];
        if (stacks.includes(n)) return [{ name: n.name, opType: 'Identity', domain: '', inputs: [scanName], outputs: [n.outputs[0]!], attrs: {} }];
        return [n];
      });
      return { ...g, nodes };
    }
  }
  return undefined;
}

function freshName(g: Graph, base: string): string {
  const taken = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys(), ...g.nodes.flatMap((n) => n.outputs)]);
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  return name;
}
