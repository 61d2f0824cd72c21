// A transpose moves blocks of axes: input axes that stay next to each other, in order, in the
// output move as one. Merging each such run into one axis gives the same permutation of the
// elements at a lower rank, between two Reshapes (which only relabel the row-major order):
//   (B, H/w, w, W/w, w, C) perm (0, 1, 3, 2, 4, 5)  ==  (B·H/w, w, W/w, w·C) perm (0, 2, 1, 3)
// Swin's window partition and reverse are such 6-D transposes. Axes of static size 1 (a batch of 1)
// hold no data and merge with anything. TFLite runtimes before 2.12 (the WASM interpreter of
// tfjs-tflite among them) run TRANSPOSE up to rank 5 and fail to load a file with a 6-D one; the
// collapsed form runs everywhere, and a lower rank is never slower. A permutation whose runs stay
// above the rank (MaxViT's grid partition, perm (0, 2, 4, 1, 3, 5) with a batch over 1: no two axes
// stay together) is done as moves of one run at a time, each a transpose of at most 4 merged axes.
import { attrInts, type Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { dequantizeLike, dequantizerOf, sameParameters, soleQuantizerOf } from './quantized-side.js';

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
export function transposeRuns(perm: readonly number[], lead = false): { groups: number[][]; perm: number[] } {
  const runs: number[][] = [];
  for (const a of perm) {
    const last = runs[runs.length - 1];
    // `lead`: axis 0 (the batch, staying first) is a run of its own, so every reshape keeps it first
    if (last && last[last.length - 1]! + 1 === a && !(lead && last[0] === 0)) last.push(a);
    else runs.push([a]);
  }
  // the runs in input order are the merged input axes; the output lists them in its own order
  const byInput = [...runs].sort((x, y) => x[0]! - y[0]!);
  return { groups: byInput, perm: runs.map((r) => byInput.indexOf(r)) };
}

/**
 * The moves that give `perm` over `n` axes by bringing one axis at a time to its output position:
 * before each, the axes are [done, skipped, moved, rest] (done and rest may be empty), and the move
 * swaps skipped and moved — a transpose of at most 4 merged axes. `blocks` are the current order's
 * axis lists (of the original axes), `perm` the move's permutation of those blocks.
 */
export function transposeMoves(perm: readonly number[], lead = false): { blocks: number[][]; perm: number[] }[] {
  let layout = perm.map((_, i) => i);
  const moves: { blocks: number[][]; perm: number[] }[] = [];
  for (let k = 0; k < perm.length; k++) {
    const p = layout.indexOf(perm[k]!);
    if (p === k) continue;
    // `lead`: the first axis (in place) stays a block of its own before the done ones (at most 5 blocks)
    const done = lead && k > 1 ? [layout.slice(0, 1), layout.slice(1, k)] : [layout.slice(0, k)];
    const blocks = [...done, layout.slice(k, p), [layout[p]!], layout.slice(p + 1)].filter((b) => b.length);
    const skipped = done.filter((b) => b.length).length;
    const movePerm = blocks.map((_, i) => i);
    movePerm[skipped] = skipped + 1;
    movePerm[skipped + 1] = skipped;
    moves.push({ blocks, perm: movePerm });
    layout = [...layout.slice(0, k), layout[p]!, ...layout.slice(k, p), ...layout.slice(p + 1)];
  }
  return moves;
}

/**
 * Every Transpose above `maxRank` whose shape is known (one symbolic dim at most: a Reshape's -1)
 * becomes Reshape -> lower-rank Transposes -> Reshape: axes of static size 1 left out, the runs of
 * the rest merged, and where more than `maxRank` runs remain, moves of one run at a time
 * (`transposeMoves`, each at most 4-D).
 */
export function collapseTransposes(graph: Graph, maxRank: number): CollapseTransposeResult {
  const candidates = graph.nodes.filter((n) => n.opType === 'Transpose' && (n.domain === '' || n.domain === 'ai.onnx') && (attrInts(n, 'perm')?.length ?? 0) > maxRank);
  if (!candidates.length) return { graph, collapsed: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const collapsed: string[] = [];
  for (const n of candidates) {
    const perm = attrInts(n, 'perm')!;
    const shape = shapes.get(n.inputs[0]!)?.shape ?? graph.inputs.find((v) => v.name === n.inputs[0])?.shape;
    if (!shape || shape.length !== perm.length) continue;
    // -1: the one dim known only at run time (a Reshape target takes one)
    const dims = shape.map((d) => (typeof d === 'number' ? d : -1));
    if (dims.filter((d) => d === -1).length > 1) continue;
    // axes of static size 1 hold no data: the rest, renumbered in input order, form the runs
    // a batch axis that stays first stays in every reshape (a Keras model read back keeps its batch)
    const lead = perm[0] === 0;
    const data = dims.flatMap((d, a) => (d === 1 && !(lead && a === 0) ? [] : [a]));
    const runs = transposeRuns(perm.filter((a) => data.includes(a)).map((a) => data.indexOf(a)), lead);
    const size = (axes: number[]): number => (axes.some((a) => dims[data[a]!] === -1) ? -1 : axes.reduce((p, a) => p * dims[data[a]!]!, 1));
    const where = n.name || n.outputs[0]!;
    const target = (base: string, v: number[]): string => rw.addInitializer(`${where}/${base}`, Tensor.int64([v.length], v));
    const merged = runs.groups.map(size);
    // a Reshape that made the high-rank value for this Transpose alone is skipped: its input is
    // re-viewed straight to the merged shape (a reshape depends only on the row-major order)
    const made = rw.producer(n.inputs[0]!);
    let source = made && isReshape(made) && rw.consumers(n.inputs[0]!).length === 1 && !rw.isGraphOutput(n.inputs[0]!) ? made.inputs[0]! : n.inputs[0]!;
    // a value dequantized per tensor (a QDQ graph): its integers are moved, and dequantized after (quantized-side.ts)
    const d = dequantizerOf(rw, source);
    const dq = d && d.axis === undefined ? d : undefined;
    if (dq) source = dq.node.inputs[0]!;
    let moved: string;
    if (runs.groups.length <= maxRank) {
      const flat = rw.add({ opType: 'Reshape', name: `${where}/merge`, inputs: [source, target('merged_shape', merged)], attrs: {} });
      // a single run (every other axis of size 1): no data moves, the Reshape alone
      moved = runs.groups.length <= 1 ? flat : rw.add({ opType: 'Transpose', name: `${where}/collapsed`, inputs: [flat], attrs: { perm: { type: 'ints', value: runs.perm } } });
    } else {
      moved = source;
      transposeMoves(runs.perm, lead).forEach((m, i) => {
        const blockDims = m.blocks.map((b) => size(b.flatMap((r) => runs.groups[r]!)));
        const flat = rw.add({ opType: 'Reshape', name: `${where}/merge_${i}`, inputs: [moved, target(`merged_shape_${i}`, blockDims)], attrs: {} });
        moved = rw.add({ opType: 'Transpose', name: `${where}/move_${i}`, inputs: [flat], attrs: { perm: { type: 'ints', value: m.perm } } });
      });
    }
    const y = n.outputs[0]!;
    rw.removeNode(n);
    // likewise Reshapes reading the result with a constant target free of 0s (a 0 copies a dim of
    // the input, whose rank changes here) read the collapsed value; anything else gets it back at full rank
    const readers = rw.consumers(y);
    const reViewed = !rw.isGraphOutput(y) && readers.length > 0 && readers.every((r) => isReshape(r) && r.inputs[0] === y && (rw.constant(r.inputs[1] ?? '')?.toNumbers().every((d) => d !== 0) ?? false));
    const split = (output?: string) => rw.add({ opType: 'Reshape', name: `${where}/split`, inputs: [moved, target('shape', perm.map((a) => dims[a]!))], outputs: output ? [output] : undefined, attrs: {} });
    const q = dq && soleQuantizerOf(rw, y);
    if (dq && q && sameParameters(rw, dq, q)) {
      // quantized again with the same parameters (onnxruntime's QDQ Transpose): the integers moved are its output
      rw.removeNode(q.node);
      split(q.node.outputs[0]!);
    } else if (reViewed) rw.replaceUses(y, dq ? dequantizeLike(rw, dq, moved, `${where}/dequantize`) : moved);
    else if (dq) dequantizeLike(rw, dq, split(), `${where}/dequantize`, { output: y });
    else split(y);
    collapsed.push(where);
  }
  if (!collapsed.length) return { graph, collapsed };
  rw.sweep();
  return { graph: rw.toGraph(), collapsed };
}
