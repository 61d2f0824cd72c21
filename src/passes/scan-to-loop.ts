// A Scan (opset 9+) left by inlineControlFlow (its sequence length is known only at run time)
// rewritten as the equivalent Loop, so that every writer that keeps a Loop (TFLite WHILE,
// GraphDef / TF.js StatelessWhile) keeps a Scan too. The Loop runs the scan axis's length
// (Shape -> Gather of the first scan input) times; each iteration Gathers its slice of every scan
// input at the iteration counter (length - 1 - counter for a reverse scan input), runs the Scan's
// body and passes its state values on; the body's per-iteration outputs are the Loop's scan
// outputs (stacked along axis 0), reversed after the Loop (a Slice of step -1)
// where scan_output_directions asks and moved to their scan_output_axes by a Transpose.
// Scans nested in other bodies are rewritten too. An opset-8 Scan (batch axis, sequence_lens) is
// left as it is (the writers refuse it by name).
import type { Graph, Node, ValueInfo } from '../ir/graph.js';
import { subgraphsOf } from '../ir/graph.js';
import { controlFlowDefs, inferShapes, opsetOf, scanCounts, type ScanAttrs } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface ScanToLoopResult {
  graph: Graph;
  /** the Scan nodes rewritten, by name (nested ones included) */
  rewritten: string[];
  /** the Scan nodes left, each with why */
  left: Array<{ node: Node; why: string }>;
}

const isScan = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && n.opType === 'Scan';

function hasScan(g: Graph): boolean {
  return g.nodes.some((n) => isScan(n) || subgraphsOf(n).some(hasScan));
}

/** Every value name of a graph and its subgraphs (the names a Loop body may not reuse). */
function allNames(g: Graph, into: Set<string>): Set<string> {
  for (const v of g.inputs) into.add(v.name);
  for (const v of g.outputs) into.add(v.name);
  for (const k of g.initializers.keys()) into.add(k);
  for (const n of g.nodes) {
    for (const v of [...n.inputs, ...n.outputs]) if (v) into.add(v);
    for (const s of subgraphsOf(n)) allNames(s, into);
  }
  return into;
}

/** Rewrite every opset-9+ Scan of `graph` (and of its bodies) as a Loop. */
export function scanToLoop(graph: Graph): ScanToLoopResult {
  const result: ScanToLoopResult = { graph, rewritten: [], left: [] };
  if (!hasScan(graph)) return result;
  const taken = allNames(graph, new Set());
  result.graph = rewrite(graph, taken, result);
  return result;
}

function rewrite(g: Graph, taken: Set<string>, result: ScanToLoopResult): Graph {
  if (!hasScan(g)) return g;
  // nested bodies first (a Scan inside a Loop / If / Scan body)
  const nodes = g.nodes.map((n) => {
    const subs = subgraphsOf(n);
    if (!subs.some(hasScan)) return n;
    const attrs = { ...n.attrs };
    for (const [k, a] of Object.entries(n.attrs)) {
      if (a.type === 'graph') attrs[k] = { type: 'graph', value: rewrite(a.value, taken, result) };
      else if (a.type === 'graphs') attrs[k] = { type: 'graphs', value: a.value.map((s) => rewrite(s, taken, result)) };
    }
    return { ...n, attrs };
  });
  g = { ...g, nodes };
  if (!g.nodes.some(isScan)) return g;
  const rw = new GraphRewriter(g);
  // names unused in the graph and in every body (a Loop body reads the outer values by name)
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const init = (base: string, t: Tensor): string => rw.addInitializer(fresh(base), t);
  const add = (base: string, spec: Omit<Parameters<GraphRewriter['add']>[0], 'name'>): string => rw.add({ ...spec, name: base, outputs: spec.outputs ?? [fresh(base)] });
  let shapes: Map<string, { shape?: unknown[] }> | undefined;
  for (const node of [...rw.nodes]) {
    if (!isScan(node)) continue;
    const a = controlFlowDefs.Scan!.attrs(node, opsetOf(g, node)) as ScanAttrs;
    if (a.batched) {
      result.left.push({ node, why: 'an opset-8 Scan (batch axis, sequence_lens) is not kept as a loop' });
      continue;
    }
    const { n, m, k } = scanCounts(node, a);
    shapes ??= inferShapes(g, { onError: 'unknown' }).values as Map<string, { shape?: unknown[] }>;
    const rankOf = (v: string | undefined): number | undefined => (v ? shapes!.get(v)?.shape?.length : undefined);
    const scanned = node.inputs.slice(n, n + m);
    // the scan axes, made non-negative (a negative one needs the input's rank)
    const inAxes = scanned.map((x, j) => {
      const ax = a.inputAxes[j]!;
      const r = rankOf(x);
      return ax >= 0 ? ax : r === undefined ? undefined : ax + r;
    });
    const outAxes = Array.from({ length: k }, (_, j) => {
      const ax = a.outputAxes[j]!;
      const r = rankOf(node.outputs[n + j]) ?? (a.body.outputs[n + j]?.shape ? a.body.outputs[n + j]!.shape!.length + 1 : undefined);
      return { ax: ax >= 0 ? ax : r === undefined ? undefined : ax + r, rank: r };
    });
    const badIn = inAxes.findIndex((x) => x === undefined);
    if (badIn >= 0) {
      result.left.push({ node, why: `scan input ${badIn}'s axis ${a.inputAxes[badIn]} is negative and its rank unknown` });
      continue;
    }
    const badOut = outAxes.findIndex((o) => o.ax === undefined || (o.ax !== 0 && o.rank === undefined));
    if (badOut >= 0) {
      result.left.push({ node, why: `scan output ${badOut}'s axis ${a.outputAxes[badOut]} needs its rank, which is unknown` });
      continue;
    }
    const prefix = node.name || 'Scan';
    rw.removeNode(node);
    // the trip count: the first scan input's length along its axis
    const shape = add(`${prefix}/shape`, { opType: 'Shape', inputs: [scanned[0]!] });
    const at = init(`${prefix}/axis`, Tensor.int64([], [inAxes[0]!]));
    const length = add(`${prefix}/length`, { opType: 'Gather', inputs: [shape, at], attrs: { axis: { type: 'int', value: 0 } } });
    const reversed = a.inputDirections.slice(0, m).some((d) => d);
    const one = reversed ? init(`${prefix}/one`, Tensor.int64([], [1])) : '';
    const last = reversed ? add(`${prefix}/last`, { opType: 'Sub', inputs: [length, one] }) : '';
    const cond = init(`${prefix}/cond`, new Tensor('bool', [], Uint8Array.of(1)));
    // the body: (iteration, condition, states...) -> (condition, states..., per-iteration values...)
    const iter = fresh(`${prefix}/iteration`);
    const condIn = fresh(`${prefix}/cond_in`);
    const condOut = fresh(`${prefix}/cond_out`);
    const bodyNodes: Node[] = [];
    let revIndex = '';
    scanned.forEach((x, j) => {
      let index = iter;
      if (a.inputDirections[j]) {
        if (!revIndex) {
          revIndex = fresh(`${prefix}/reverse_index`);
          bodyNodes.push({ name: fresh(`${prefix}/reverse_index`), opType: 'Sub', domain: '', inputs: [last, iter], outputs: [revIndex], attrs: {} });
        }
        index = revIndex;
      }
      bodyNodes.push({ name: fresh(`${prefix}/slice_${j}`), opType: 'Gather', domain: '', inputs: [x, index], outputs: [a.body.inputs[n + j]!.name], attrs: { axis: { type: 'int', value: inAxes[j]! } } });
    });
    bodyNodes.push(...a.body.nodes);
    bodyNodes.push({ name: fresh(`${prefix}/cond_pass`), opType: 'Identity', domain: '', inputs: [condIn], outputs: [condOut], attrs: {} });
    const body: Graph = {
      name: `${prefix}_body`,
      nodes: bodyNodes,
      inputs: [
        { name: iter, dtype: 'int64', shape: [] },
        { name: condIn, dtype: 'bool', shape: [] },
        ...a.body.inputs.slice(0, n),
      ],
      outputs: [{ name: condOut, dtype: 'bool', shape: [] }, ...a.body.outputs],
      initializers: a.body.initializers,
      opsets: a.body.opsets ?? g.opsets,
      valueInfo: [...(a.body.valueInfo ?? []), ...a.body.inputs.slice(n)] as ValueInfo[],
    };
    // the Loop's outputs: the final states as the Scan's, the scan outputs renamed where reordered after
    const loopOuts = node.outputs.slice(0, n);
    while (loopOuts.length < n) loopOuts.push(fresh(`${prefix}/state_${loopOuts.length}`));
    const after: Array<() => void> = [];
    for (let j = 0; j < k; j++) {
      const want = node.outputs[n + j];
      const rev = !!a.outputDirections[j];
      const ax = outAxes[j]!.ax!;
      if (!want) {
        loopOuts.push(fresh(`${prefix}/scan_${j}`));
        continue;
      }
      if (!rev && ax === 0) {
        loopOuts.push(want);
        continue;
      }
      const stacked = fresh(`${prefix}/scan_${j}`);
      loopOuts.push(stacked);
      after.push(() => {
        let v = stacked;
        if (rev) {
          // Slice(-1 .. before 0, step -1) along axis 0: constant bounds, whatever the length
          const start = init(`${prefix}/reverse_start`, Tensor.int64([1], [-1]));
          const end = init(`${prefix}/reverse_end`, Tensor.int64([1], [-(2 ** 31)]));
          const axis0 = init(`${prefix}/reverse_axis`, Tensor.int64([1], [0]));
          const step = init(`${prefix}/reverse_step`, Tensor.int64([1], [-1]));
          v = add(`${prefix}/reversed_${j}`, { opType: 'Slice', inputs: [v, start, end, axis0, step], ...(ax === 0 ? { outputs: [want] } : {}) });
        }
        if (ax !== 0) {
          const rank = outAxes[j]!.rank!;
          const perm = Array.from({ length: rank - 1 }, (_, i) => i + 1);
          perm.splice(ax, 0, 0);
          rw.add({ opType: 'Transpose', inputs: [v], outputs: [want], attrs: { perm: { type: 'ints', value: perm } }, name: `${prefix}/axis_${j}` });
        }
      });
    }
    rw.addNode({ opType: 'Loop', inputs: [length, cond, ...node.inputs.slice(0, n)], outputs: loopOuts, attrs: { body: { type: 'graph', value: body } }, name: node.name || 'Loop' });
    for (const f of after) f();
    result.rewritten.push(node.name);
  }
  return rw.toGraph();
}
