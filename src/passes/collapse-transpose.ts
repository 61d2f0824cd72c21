// A transpose moves blocks of axes: input axes that stay next to each other, in order, in the
// output move as one. Merging each such run into one axis gives the same permutation of the
// elements at a lower rank, between two Reshapes (which only relabel the row-major order):
//   (B, H/w, w, W/w, w, C) perm (0, 1, 3, 2, 4, 5)  ==  (B·H/w, w, W/w, w·C) perm (0, 2, 1, 3)
// Swin's window partition and reverse are such 6-D transposes. TFLite runtimes before 2.11 (the
// WASM interpreter of tfjs-tflite among them) run TRANSPOSE up to rank 5 and fail to load a file
// with a 6-D one; the collapsed form runs everywhere, and a lower rank is never slower.
import { attrInts, type Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

const isReshape = (n: { opType: string; domain: string }): boolean => n.opType === 'Reshape' && (n.domain === '' || n.domain === 'ai.onnx');

export interface CollapseTransposeResult {
  graph: Graph;
  /** the Transpose nodes written at a lower rank, by name */
  collapsed: string[];
}

/**
 * The runs of a permutation: `groups[k]` are the input axes (consecutive, in order) that output
 * run k reads, and `perm` the permutation of the runs.
 */
export function transposeRuns(perm: readonly number[]): { groups: number[][]; perm: number[] } {
  const runs: number[][] = [];
  for (const a of perm) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1]! + 1 === a) last.push(a);
    else runs.push([a]);
  }
  // the runs in input order are the merged input axes; the output lists them in its own order
  const byInput = [...runs].sort((x, y) => x[0]! - y[0]!);
  return { groups: byInput, perm: runs.map((r) => byInput.indexOf(r)) };
}

/** Every Transpose above `maxRank` whose shape is static becomes Reshape -> a lower-rank Transpose -> Reshape when its runs allow. */
export function collapseTransposes(graph: Graph, maxRank: number): CollapseTransposeResult {
  const candidates = graph.nodes.filter((n) => n.opType === 'Transpose' && (n.domain === '' || n.domain === 'ai.onnx') && (attrInts(n, 'perm')?.length ?? 0) > maxRank);
  if (!candidates.length) return { graph, collapsed: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const collapsed: string[] = [];
  for (const n of candidates) {
    const perm = attrInts(n, 'perm')!;
    const shape = shapes.get(n.inputs[0]!)?.shape ?? graph.inputs.find((v) => v.name === n.inputs[0])?.shape;
    if (!shape || shape.length !== perm.length || shape.some((d) => typeof d !== 'number')) continue;
    const dims = shape as number[];
    const runs = transposeRuns(perm);
    if (runs.groups.length === perm.length) continue;
    const where = n.name || n.outputs[0]!;
    const target = (base: string, v: number[]): string => rw.addInitializer(`${where}/${base}`, Tensor.int64([v.length], v));
    const merged = runs.groups.map((g) => g.reduce((p, a) => p * dims[a]!, 1));
    // a Reshape that made the high-rank value for this Transpose alone is skipped: its input is
    // re-viewed straight to the merged shape (a reshape depends only on the row-major order)
    const made = rw.producer(n.inputs[0]!);
    const source = made && isReshape(made) && rw.consumers(n.inputs[0]!).length === 1 && !rw.isGraphOutput(n.inputs[0]!) ? made.inputs[0]! : n.inputs[0]!;
    const flat = rw.add({ opType: 'Reshape', name: `${where}/merge`, inputs: [source, target('merged_shape', merged)], attrs: {} });
    const moved = rw.add({ opType: 'Transpose', name: `${where}/collapsed`, inputs: [flat], attrs: { perm: { type: 'ints', value: runs.perm } } });
    const y = n.outputs[0]!;
    rw.removeNode(n);
    // likewise Reshapes reading the result with a constant target free of 0s (a 0 copies a dim of
    // the input, whose rank changes here) read the collapsed value; anything else gets it back at full rank
    const readers = rw.consumers(y);
    const reViewed = !rw.isGraphOutput(y) && readers.length > 0 && readers.every((r) => isReshape(r) && r.inputs[0] === y && (rw.constant(r.inputs[1] ?? '')?.toNumbers().every((d) => d !== 0) ?? false));
    if (reViewed) rw.replaceUses(y, moved);
    else rw.addNode({ opType: 'Reshape', name: `${where}/split`, inputs: [moved, target('shape', perm.map((a) => dims[a]!))], outputs: [y], attrs: {} });
    collapsed.push(where);
  }
  if (!collapsed.length) return { graph, collapsed };
  rw.sweep();
  return { graph: rw.toGraph(), collapsed };
}
