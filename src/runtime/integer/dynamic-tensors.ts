// Whether a graph has dynamic-sized tensors in TFLite's sense: an op whose output size
// depends on values computed at run time (a RESHAPE to a shape taken from SHAPE, a SLICE
// with run-time bounds, NON_MAX_SUPPRESSION's selections, a WHILE whose tensors grow each
// iteration). The interpreter does not apply its XNNPACK delegate to such a model (the
// delegate takes static-sized tensors only), so every op runs on the builtin kernels.
import type { Graph, Node } from '../../ir/graph.js';

/** The inputs that size an op's output (ONNX positions, the TFLite reader's forms). */
const SIZING_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Pad: [1],
  Slice: [1, 2, 3, 4],
  Resize: [1, 2, 3],
  'nnport::Resize': [1, 2, 3],
  Squeeze: [1],
  Unsqueeze: [1],
  Split: [1],
  ReduceMean: [1],
  ReduceSum: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  TopK: [1],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  OneHot: [1],
};

/** Ops whose output size is data itself (how many elements a run selects). */
const DATA_SIZED = new Set(['NonZero', 'NonMaxSuppression', 'Unique', 'Compress', 'nnport::NonMaxSuppression']);

/** Values known before the model runs: initializers and what constant-only ops compute from them (not SHAPE: TFLite evaluates it at run time). */
function staticValues(graph: Graph): Set<string> {
  const known = new Set<string>(graph.initializers.keys());
  for (const n of graph.nodes) {
    if (n.opType === 'Shape' || n.opType === 'Size' || n.opType === 'Loop' || n.opType === 'If' || n.opType === 'Scan') continue;
    if (n.inputs.every((i) => !i || known.has(i))) for (const o of n.outputs) if (o) known.add(o);
  }
  return known;
}

/** Whether a Loop's body grows a tensor each iteration: scan outputs, or a carried value concatenated to itself. */
function growsEachIteration(n: Node): boolean {
  const body = n.attrs.body;
  if (n.opType !== 'Loop' || body?.type !== 'graph') return false;
  const g = body.value;
  if (g.outputs.length > 1 + (n.inputs.length - 2)) return true;
  const producer = new Map(g.nodes.flatMap((m) => m.outputs.map((o) => [o, m] as const)));
  return g.outputs.slice(1).some((o, i) => {
    const m = producer.get(o.name);
    return m?.opType === 'Concat' && m.inputs.includes(g.inputs[2 + i]?.name ?? '');
  });
}

/** Whether the graph, or a subgraph of one of its ops, has a tensor whose size is only known when it runs. */
export function hasDynamicTensors(graph: Graph): boolean {
  const known = staticValues(graph);
  for (const n of graph.nodes) {
    const key = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    if (DATA_SIZED.has(key) || growsEachIteration(n)) return true;
    if ((SIZING_INPUTS[key] ?? []).some((at) => !!n.inputs[at] && !known.has(n.inputs[at]!))) return true;
    for (const a of Object.values(n.attrs)) {
      for (const g of a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : []) if (hasDynamicTensors(g)) return true;
    }
  }
  return false;
}
