// An int64 Range as an int32 one, before the TFLite writer runs: TFLite's RANGE takes float32 and
// int32 (the interpreter nnport tests with fails to prepare an int64 RANGE), and PyTorch exports
// torch.arange as an int64 Range (Mask R-CNN's `mask_prob[torch.arange(n), labels]`). The int32 Range
// then a Cast back to int64 is exact when its bounds and step fit int32, which is known here only
// where each comes from dims (Shape, Size: a dim fits int32 in TFLite), from int32-or-narrower data
// (a Cast), from constants that fit, or from such values through ops that only pick among them
// (Gather, Slice, Concat, Min, Max...). A Range of other int64 bounds is left for the writer, which
// refuses it by name.
import type { Graph, Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';
import { mapSubgraphs } from '../../passes/layout-subgraphs.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** ONNX TensorProto data types */
const INT32 = 6;
const INT64 = 7;
const NARROW = new Set(['int32', 'int16', 'int8', 'uint16', 'uint8', 'bool']);
/** ops whose output's values are some of their data input's (input 0) */
const PICKS = new Set(['Gather', 'GatherElements', 'GatherND', 'Slice', 'Squeeze', 'Unsqueeze', 'Reshape', 'Flatten', 'Identity', 'Expand', 'Tile', 'Transpose', 'ReduceMax', 'ReduceMin']);
/** ops whose output's values are some of all their inputs' */
const PICKS_ALL = new Set(['Concat', 'Min', 'Max']);
/** ops whose int64 output is an index into or count of a tensor's elements (each fits int32 in TFLite) */
const INDICES = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

export function lowerInt64Range(g: Graph): Graph {
  return mapSubgraphs(lowerGraph(g), lowerGraph);
}

function lowerGraph(g: Graph): Graph {
  if (!g.nodes.some((n) => n.opType === 'Range' && isOnnx(n))) return g;
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const ranges = g.nodes.filter((n) => n.opType === 'Range' && isOnnx(n) && values.get(n.outputs[0]!)?.dtype === 'int64');
  if (!ranges.length) return g;
  const rw = new GraphRewriter(g);
  const dtypeOf = (v: string) => rw.constant(v)?.dtype ?? values.get(v)?.dtype;
  const seen = new Map<string, boolean>();
  const fitsInt32 = (v: string, depth = 0): boolean => {
    const known = seen.get(v);
    if (known !== undefined) return known;
    let fits = false;
    const t = rw.constant(v);
    const p = rw.producer(v);
    if (t) fits = t.toNumbers().every((x) => x >= INT32_MIN && x <= INT32_MAX);
    else if (NARROW.has(dtypeOf(v) ?? '')) fits = true;
    else if (p && isOnnx(p) && depth < 64) {
      if (INDICES.has(p.opType) || (p.opType === 'TopK' && v === p.outputs[1])) fits = true;
      else if (p.opType === 'Cast') fits = fitsInt32(p.inputs[0]!, depth + 1);
      else if (PICKS.has(p.opType)) fits = fitsInt32(p.inputs[0]!, depth + 1);
      else if (PICKS_ALL.has(p.opType)) fits = p.inputs.every((i) => !i || fitsInt32(i, depth + 1));
    }
    seen.set(v, fits);
    return fits;
  };
  for (const n of ranges) {
    if (!n.inputs.every((v) => v && fitsInt32(v))) continue;
    const narrowed = n.inputs.map((v) => {
      const t = rw.constant(v);
      return t ? rw.addInitializer(`${v}/int32`, new Tensor('int32', t.shape, Int32Array.from(t.toNumbers()))) : rw.add({ opType: 'Cast', name: `${n.name}/int32`, inputs: [v], attrs: { to: { type: 'int', value: INT32 } } });
    });
    rw.removeNode(n);
    const r = rw.add({ opType: 'Range', name: n.name, inputs: narrowed });
    rw.addNode({ opType: 'Cast', name: `${n.name}/int64`, inputs: [r], outputs: [n.outputs[0]!], attrs: { to: { type: 'int', value: INT64 } } });
  }
  return rw.toGraph();
}
