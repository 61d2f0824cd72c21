// A Scan (opset 9+) over a sequence of run-time length, which inline-control-flow.ts cannot unroll,
// rewritten as the equivalent Loop, so that the writers that keep a Loop as a loop (TFLite WHILE,
// TF StatelessWhile) keep the Scan too. The trip count is the first scan input's length along its
// scan axis (Shape -> Gather); each iteration Gathers its slice of every scan input (at the
// iteration number, or at length - 1 - it for a reverse scan_input_direction) from the graph
// around the loop; the state values are the Loop's carried values and the scan outputs its scan
// outputs (stacked along axis 0), then reversed along it (Slice of step -1) where
// scan_output_directions asks and moved to scan_output_axes (Transpose).
import { type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { controlFlowDefs, inferShapes, opsetOf, scanCounts, type ScanAttrs, type ValueType } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface ScanToLoopResult {
  graph: Graph;
  /** the Scan nodes made Loops, by name */
  rewritten: string[];
  /** the Scan nodes left as they were, each with why */
  left: Array<{ node: Node; why: string }>;
}

const isScan = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && n.opType === 'Scan';

/** Rewrite every Scan of the main graph (opset 9+) as a Loop; an opset-8 Scan (batch axis) and one whose axes cannot be resolved stay, listed with why. */
export function scanToLoop(graph: Graph): ScanToLoopResult {
  const result: ScanToLoopResult = { graph, rewritten: [], left: [] };
  if (!graph.nodes.some(isScan)) return result;
  const rw = new GraphRewriter(graph);
  let shapes: Map<string, ValueType> | undefined;
  for (const node of [...rw.nodes]) {
    if (!isScan(node)) continue;
    const a = controlFlowDefs.Scan!.attrs(node, opsetOf(graph, node)) as ScanAttrs;
    if (a.batched) {
      result.left.push({ node, why: 'an opset-8 Scan (batch axis) is not rewritten as a Loop' });
      continue;
    }
    const { n, m, k } = scanCounts(node, a);
    shapes ??= inferShapes(graph, { onError: 'unknown' }).values;
    const scanned = node.inputs.slice(n, n + m);
    const axes = scanned.map((x, j) => {
      const axis = a.inputAxes[j]!;
      if (axis >= 0) return axis;
      const rank = shapes!.get(x)?.shape?.length;
      return rank === undefined ? undefined : axis + rank;
    });
    // a scan output's rank: its per-iteration value's, plus one
    const outRanks = Array.from({ length: k }, (_, j) => shapes!.get(node.outputs[n + j] ?? '')?.shape?.length ?? plusOne(a.body.outputs[n + j]!.shape?.length));
    const outAxes = Array.from({ length: k }, (_, j) => {
      const axis = a.outputAxes[j]!;
      const rank = outRanks[j];
      return axis === 0 ? 0 : rank === undefined ? undefined : axis < 0 ? axis + rank : axis;
    });
    if (axes.some((x) => x === undefined) || outAxes.some((x) => x === undefined)) {
      result.left.push({ node, why: 'a scan axis other than 0 on a value of unknown rank' });
      continue;
    }
    const prefix = node.name || 'Scan';
    // the trip count: the first scan input's length along its axis
    const shape = rw.add({ opType: 'Shape', inputs: [scanned[0]!], name: `${prefix}/shape` });
    const axis0 = rw.addInitializer(`${prefix}/axis`, Tensor.int64([], [axes[0]!]));
    const trips = rw.add({ opType: 'Gather', inputs: [shape, axis0], attrs: { axis: { type: 'int', value: 0 } }, name: `${prefix}/length` });
    const reversed = a.inputDirections.slice(0, m).some((d) => d);
    const lastIndex = reversed ? rw.add({ opType: 'Sub', inputs: [trips, rw.addInitializer(`${prefix}/one`, Tensor.int64([], [1]))], name: `${prefix}/last` }) : '';
    const cond = rw.addInitializer(`${prefix}/cond`, new Tensor('bool', [], Uint8Array.of(1)));
    // the body: the Scan's, its scan inputs now Gathers of the values around the loop
    const iter: ValueInfo = { name: rw.freshName(`${prefix}/loop/iteration`), dtype: 'int64', shape: [] };
    const condIn: ValueInfo = { name: rw.freshName(`${prefix}/loop/cond_in`), dtype: 'bool', shape: [] };
    const condOut = rw.freshName(`${prefix}/loop/cond_out`);
    const slices: Node[] = scanned.map((x, j) => {
      const at = a.inputDirections[j] ? rw.freshName(`${prefix}/loop/at_${j}`) : iter.name;
      const gather: Node = { name: `${prefix}/loop/slice_${j}`, opType: 'Gather', domain: '', inputs: [x, at], outputs: [a.body.inputs[n + j]!.name], attrs: { axis: { type: 'int', value: axes[j]! } } };
      return gather;
    });
    const reverseAt: Node[] = scanned.flatMap((_, j) =>
      a.inputDirections[j] ? [{ name: `${prefix}/loop/reverse_${j}`, opType: 'Sub', domain: '', inputs: [lastIndex, iter.name], outputs: [slices[j]!.inputs[1]!], attrs: {} }] : [],
    );
    const body: Graph = {
      ...a.body,
      name: `${a.body.name || prefix}_loop`,
      inputs: [iter, condIn, ...a.body.inputs.slice(0, n)],
      outputs: [{ name: condOut, dtype: 'bool', shape: [] }, ...a.body.outputs],
      nodes: [{ name: `${prefix}/loop/cond`, opType: 'Identity', domain: '', inputs: [condIn.name], outputs: [condOut], attrs: {} }, ...reverseAt, ...slices, ...a.body.nodes],
      initializers: new Map(a.body.initializers),
    };
    const stateOuts = Array.from({ length: n }, (_, i) => node.outputs[i] || rw.freshName(`${prefix}/state_${i}`));
    const scanOuts = Array.from({ length: k }, (_, j) => {
      const out = node.outputs[n + j];
      return out && !a.outputDirections[j] && outAxes[j] === 0 ? out : rw.freshName(`${prefix}/scan_${j}`);
    });
    rw.removeNode(node);
    rw.addNode({ opType: 'Loop', name: prefix, inputs: [trips, cond, ...node.inputs.slice(0, n)], outputs: [...stateOuts, ...scanOuts], attrs: { body: { type: 'graph', value: body } } });
    for (let j = 0; j < k; j++) {
      const out = node.outputs[n + j];
      if (!out || scanOuts[j] === out) continue;
      let v = scanOuts[j]!;
      if (a.outputDirections[j]) {
        // the iterations' values in reverse: Slice(-1 .. past the start, step -1) along axis 0, constant
        // bounds whatever the length (a Gather at a Range computed from the Shape would pin open dims at 1)
        const bound = (what: string, v: number) => rw.addInitializer(`${prefix}/reverse_${what}`, Tensor.int64([1], [v]));
        v = rw.add({ opType: 'Slice', inputs: [v, bound('start', -1), bound('end', -(2 ** 31)), bound('axis', 0), bound('step', -1)], outputs: outAxes[j] === 0 ? [out] : undefined, name: `${prefix}/reverse_${j}` });
      }
      if (outAxes[j] !== 0) {
        const rank = outRanks[j]!;
        const perm = [...Array.from({ length: outAxes[j]! }, (_, d) => d + 1), 0, ...Array.from({ length: rank - outAxes[j]! - 1 }, (_, d) => outAxes[j]! + d + 1)];
        rw.add({ opType: 'Transpose', inputs: [v], outputs: [out], attrs: { perm: { type: 'ints', value: perm } }, name: `${prefix}/axis_${j}` });
      }
    }
    result.rewritten.push(node.name);
  }
  if (!result.rewritten.length) return result;
  return { ...result, graph: rw.toGraph() };
}

const plusOne = (r: number | undefined): number | undefined => (r === undefined ? undefined : r + 1);
