// Models exported with dynamic axes compute some operands from their input's shape at run time
// (a UNet decoder's F.interpolate(size=skip.shape[-2:]), F.pad to a multiple of 32): Shape ->
// Gather -> Concat -> ... subgraphs that fold into constants only once the dims are fixed. The
// NHWC writers keep such a model's dims open (-1 / unknown in the file) and write those subgraphs
// as ops where every value computed from a shape ends in an operand the target reads as a tensor
// when it runs; this says where that holds.
import type { Graph } from '../ir/graph.js';
import { topologicalOrder } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';

/** Operands (input indices, by op type) a target's kernels read as a tensor at run time: where a shape computed in the file may go. */
export type RunTimeOperands = Readonly<Record<string, readonly number[]>>;

/**
 * TFLite's: a Resize's sizes, a Pad's pads, a Slice's bounds, a Reshape's target (TFLite's RESHAPE
 * reads no ONNX 0 as "copy this dim": the writer replaces such 0s by the input's dims, SELECT_V2), a
 * kept Loop's trip count and first two carried values (WHILE loop variables: a Scan over a run-time length,
 * src/passes/scan-to-loop.ts; a recurrent layer's zero h and c padded to the run-time batch, src/passes/recurrent-to-loop.ts).
 */
export const TFLITE_RUN_TIME_OPERANDS: RunTimeOperands = { Resize: [3], Pad: [1], Slice: [1, 2, 3, 4], Reshape: [1], Loop: [0, 2, 3] };
/** TF's: TFLite's (the GraphDef writer replaces ONNX's copying 0s by the input's dims too). */
export const TF_RUN_TIME_OPERANDS: RunTimeOperands = { ...TFLITE_RUN_TIME_OPERANDS };

/** `g` with every dynamic dim of its inputs set to `size`. */
export function withDynamicDimsAt(g: Graph, size: number): Graph {
  return { ...g, inputs: g.inputs.map((v) => (v.shape?.some((d) => typeof d !== 'number') ? { ...v, shape: v.shape.map((d) => (typeof d === 'number' ? d : size)) } : v)) };
}

/**
 * Whether `open` (the graph constant-folded with its dynamic dims left open) may be written with its
 * shape subgraphs computed when it runs: some value is computed from a Shape, every such value ends
 * in one of the target's `operands` (a value computed wholly from shapes and constants is itself
 * computed), none is a graph output, and every Resize whose sizes are computed keeps its input's
 * batch and channels, as checked in `fixed` (the same graph folded with the dims fixed, e.g. at 1
 * and at 7: its Resize nodes found by output name).
 */
export function shapesComputedAtRunTime(open: Graph, fixed: readonly Graph[], operands: RunTimeOperands): boolean {
  const computed = new Set<string>();
  for (const n of topologicalOrder(open)) {
    const ins = n.inputs.filter((v) => v);
    if (!n.domain && n.opType === 'Shape') {
      computed.add(n.outputs[0]!);
      continue;
    }
    // (a node with a body -- a Loop over a computed trip count from constant states -- reads outer values its inputs do not list)
    const body = Object.values(n.attrs).some((a) => a.type === 'graph' || a.type === 'graphs');
    if (!body && ins.some((v) => computed.has(v)) && ins.every((v) => computed.has(v) || open.initializers.has(v))) {
      for (const o of n.outputs) computed.add(o);
      continue;
    }
    for (const [k, v] of n.inputs.entries()) if (computed.has(v) && (n.domain || !operands[n.opType]?.includes(k))) return false;
  }
  if (!computed.size || open.outputs.some((o) => computed.has(o.name))) return false;
  const resizes = open.nodes.filter((n) => n.opType === 'Resize' && !n.domain && computed.has(n.inputs[3] ?? ''));
  for (const folded of fixed) {
    const shapes = inferShapes(folded, { onError: 'unknown' }).values;
    for (const r of resizes) {
      const at = folded.nodes.find((n) => n.outputs[0] === r.outputs[0]);
      const sizes = at && folded.initializers.get(at.inputs[3] ?? '')?.toNumbers();
      const x = at && shapes.get(at.inputs[0]!)?.shape;
      if (!sizes || !x || sizes[0] !== x[0] || sizes[1] !== x[1]) return false;
    }
  }
  return true;
}
