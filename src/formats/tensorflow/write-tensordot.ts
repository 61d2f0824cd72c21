// A MatMul of x [..., K] by a constant W [K, N] (a dense layer on a sequence) as Keras' Dense
// writes it in a frozen graph (Tensordot): x reshaped to rows [-1, K], one 2-D MatMul (+ its
// bias Add, which the writer then writes as BiasAdd), the leading dims back. OpenCV's TF importer
// has no BatchMatMul, and adds a constant vector to a 3-D value along the wrong axis.
import { readersOf, valueNamer, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';

export function denseOnSequencesAsTensordot(g: Graph): Graph {
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const consumers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const replaced = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    if (n.opType !== 'MatMul' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const shape = shapes.get(n.inputs[0]!)?.shape;
    const w = g.initializers.get(n.inputs[1]!);
    const lead = shape?.slice(0, -1) ?? [];
    if (!shape || shape.length < 3 || !w || w.rank !== 2 || lead.filter((d) => typeof d !== 'number').length > 1) continue;
    const [K, N] = w.shape as [number, number];
    // the bias Add that follows (a constant [N]) is applied to the rows, before the reshape back
    const next = consumers.get(n.outputs[0]!) ?? [];
    const add = next.length === 1 && !outputs.has(n.outputs[0]!) && next[0]!.opType === 'Add' ? next[0]! : undefined;
    const bias = add?.inputs.find((i) => i !== n.outputs[0]);
    const withBias = add && bias && initializers.get(bias)?.shape.length === 1 && initializers.get(bias)!.shape[0] === N ? add : undefined;
    const constant = (name: string, dims: number[]) => {
      const v = fresh(`${n.name}/${name}`);
      initializers.set(v, Tensor.int64([dims.length], dims));
      return v;
    };
    const rows = fresh(`${n.name}/rows`);
    const product = fresh(`${n.name}/rows_product`);
    const biased = withBias ? fresh(`${n.name}/rows_biased`) : product;
    const out = withBias ? withBias.outputs[0]! : n.outputs[0]!;
    const nodes: Node[] = [
      { name: fresh(`${n.name}/to_rows`), opType: 'Reshape', domain: '', inputs: [n.inputs[0]!, constant('rows_shape', [-1, K])], outputs: [rows], attrs: {} },
      { ...n, inputs: [rows, n.inputs[1]!], outputs: [product] },
      ...(withBias ? [{ ...withBias, inputs: [product, bias!], outputs: [biased] }] : []),
      { name: fresh(`${n.name}/from_rows`), opType: 'Reshape', domain: '', inputs: [biased, constant('shape', [...lead.map((d) => (typeof d === 'number' ? d : -1)), N])], outputs: [out], attrs: {} },
    ];
    replaced.set(n, nodes);
    if (withBias) replaced.set(withBias, []);
  }
  if (!replaced.size) return g;
  return { ...g, nodes: g.nodes.flatMap((n) => replaced.get(n) ?? [n]), initializers };
}
