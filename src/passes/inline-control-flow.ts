// Control flow made straight-line for the formats that have none (TFLite, GraphDef, Keras,
// TF.js): an If whose condition is a constant becomes the nodes of the branch it takes, and a
// Loop whose trip count is a constant and whose condition stays true becomes that many copies of
// its body (carried values threaded from one copy to the next, scan outputs concatenated), as does
// a Scan over a sequence of fixed length, each copy reading its slices (Gather; an opset-8 Scan's
// batch entries each unrolled, then stacked). The
// constants come from folding, with the input shapes fixed (a `for t in range(x.size(1))` loop's
// trip count is a Shape -> Gather of the input). What stays is listed with the reason.
import { UnsupportedError } from '../ir/errors.js';
import { constantValue, outerReads, subgraphsOf, topologicalOrder, type Attr, type Graph, type Node } from '../ir/graph.js';
import { controlFlowDefs, inferShapes, opsetOf, scanCounts, type ScanAttrs, type ValueType } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';
import { foldConstants, type ConstantEvaluator } from './fold-constants.js';

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

/** An ONNX If, Loop or Scan node. */
export const isControlFlow = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && CONTROL_FLOW.has(n.opType);

export interface InlineControlFlowOptions {
  /** computes constant nodes (constant folding between rounds) */
  evaluate: ConstantEvaluator;
  /** the most nodes unrolling and inlining may add in all (default 20000) */
  maxNodes?: number;
}

export interface InlineControlFlowResult {
  graph: Graph;
  /** the If nodes replaced by a branch, by name */
  inlined: string[];
  /** the Loop and Scan nodes unrolled, by name, with their trip counts / sequence lengths */
  unrolled: Array<{ name: string; op: 'Loop' | 'Scan'; iterations: number }>;
  /** the control-flow nodes left, each with why */
  left: Array<{ node: Node; why: string }>;
}

const DEFAULT_MAX_NODES = 20000;

/**
 * Fold constants, inline the If nodes of constant condition and unroll the Loop nodes of constant
 * trip count, again until nothing changes (a branch or a body may hold more control flow).
 * A Loop whose unrolling would go past `maxNodes` is an UnsupportedError naming it.
 */
export function inlineControlFlow(graph: Graph, options: InlineControlFlowOptions): InlineControlFlowResult {
  const result: InlineControlFlowResult = { graph, inlined: [], unrolled: [], left: [] };
  const budget = { left: options.maxNodes ?? DEFAULT_MAX_NODES, max: options.maxNodes ?? DEFAULT_MAX_NODES };
  let g = graph;
  for (;;) {
    if (!g.nodes.some(isControlFlow)) return { ...result, graph: g, left: [] };
    g = foldConstants(g, { evaluate: options.evaluate }).graph;
    const r = inlineOnce(g, budget, result);
    g = r.graph;
    if (!r.changed) return { ...result, graph: g, left: r.left };
  }
}

/** A constant scalar value (an initializer or a Constant node's output), as a number. */
function constantScalar(rw: GraphRewriter, name: string | undefined): number | undefined {
  const t = name ? rw.constant(name) : undefined;
  if (!t || t.size !== 1 || t.dtype === 'string') return undefined;
  return t.toNumbers()[0];
}

function graphAttr(node: Node, name: string): Graph {
  const a = node.attrs[name];
  if (a?.type !== 'graph') throw new UnsupportedError(`${node.opType} without a '${name}' graph`, `node '${node.name}'`);
  return a.value;
}

/** `g` (a subgraph) with the values of `map` read from around it renamed (all at once), its own subgraphs too. */
function substitute(g: Graph, map: ReadonlyMap<string, string>): Graph {
  const local = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) local.add(o);
  const rename = (v: string) => (v && !local.has(v) ? (map.get(v) ?? v) : v);
  return { ...g, nodes: g.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename), attrs: substituteAttrs(n, map) })), outputs: g.outputs.map((o) => ({ ...o, name: rename(o.name) })) };
}

function substituteAttrs(n: Node, map: ReadonlyMap<string, string>): Record<string, Attr> {
  if (!subgraphsOf(n).length) return n.attrs;
  const attrs: Record<string, Attr> = {};
  for (const [k, a] of Object.entries(n.attrs)) {
    attrs[k] = a.type === 'graph' ? { type: 'graph', value: substitute(a.value, map) } : a.type === 'graphs' ? { type: 'graphs', value: a.value.map((g) => substitute(g, map)) } : a;
  }
  return attrs;
}

/** `prefix/name` without doubling a slash (PyTorch's names start with one). */
const joinName = (prefix: string, name: string): string => (name.startsWith('/') ? `${prefix}${name}` : `${prefix}/${name}`);

/**
 * Copy `body`'s nodes and initializers into the graph under fresh names, its inputs bound to
 * `inputs`; returns the values that stand for its outputs.
 */
function inlineBody(rw: GraphRewriter, body: Graph, inputs: readonly string[], prefix: string): string[] {
  const map = new Map<string, string>();
  body.inputs.forEach((v, i) => map.set(v.name, inputs[i]!));
  for (const [k, t] of body.initializers) map.set(k, rw.addInitializer(joinName(prefix, k), t));
  for (const n of body.nodes) for (const o of n.outputs) if (o) map.set(o, rw.freshName(joinName(prefix, o)));
  const at = (v: string) => (v ? (map.get(v) ?? v) : v);
  for (const n of topologicalOrder(body, outerReads(body))) {
    rw.addNode({ opType: n.opType, domain: n.domain, name: joinName(prefix, n.name || n.opType), inputs: n.inputs.map(at), outputs: n.outputs.map(at), attrs: substituteAttrs(n, map), doc: n.doc });
  }
  return body.outputs.map((o) => at(o.name));
}

/**
 * Make the values `values` (computed by nodes just added, or values of the graph) be known as
 * `targets` (the outputs of the node replaced, which is gone): a value of the copy is renamed
 * (once), anything else goes through an Identity.
 */
function bindOutputs(rw: GraphRewriter, values: readonly string[], targets: readonly string[], fresh: ReadonlySet<string>): void {
  const renamed = new Map<string, string>();
  targets.forEach((target, k) => {
    if (!target) return;
    const v = values[k]!;
    if (fresh.has(v) && !renamed.has(v) && rw.producer(v)) {
      rw.renameValue(v, target);
      renamed.set(v, target);
    } else {
      rw.addNode({ opType: 'Identity', inputs: [renamed.get(v) ?? v], outputs: [target], name: `${target}/identity` });
    }
  });
}

/** Per-iteration values stacked along a new axis `axis` (each gets it by an Unsqueeze; a Concat joins them): a scan output (and resolve-sequences.ts' ConcatFromSequence with new_axis). */
export function stack(rw: GraphRewriter, values: readonly string[], axis: number, prefix: string): string {
  const opset = rw.opsets[''] ?? rw.opsets['ai.onnx'] ?? 1;
  const axes = opset >= 13 ? rw.addInitializer(`${prefix}/axes`, Tensor.int64([1], [axis])) : undefined;
  const parts = values.map((v) => rw.add({ opType: 'Unsqueeze', inputs: axes ? [v, axes] : [v], attrs: axes ? {} : { axes: { type: 'ints', value: [axis] } }, name: `${prefix}/unsqueeze` }));
  return rw.add({ opType: 'Concat', inputs: parts, attrs: { axis: { type: 'int', value: axis } }, name: `${prefix}/concat` });
}

/** Whether a Loop body's condition output is true in every iteration that starts with it true. */
function staysTrue(rw: GraphRewriter, body: Graph): boolean {
  const producers = new Map<string, Node>();
  for (const n of body.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  let v = body.outputs[0]?.name;
  for (let hops = 0; v && hops < 64; hops++) {
    if (v === body.inputs[1]?.name) return true; // the condition carried along as it came in
    const t = body.initializers.get(v);
    if (t) return t.size === 1 && t.toNumbers()[0] !== 0;
    const p = producers.get(v);
    if (!p) return constantScalar(rw, v) === 1; // a value from around the loop
    if (p.opType === 'Identity' && !p.domain) v = p.inputs[0];
    else if (p.opType === 'Constant' && !p.domain) {
      const c = constantValue(p);
      return c.size === 1 && c.toNumbers()[0] !== 0;
    } else return false;
  }
  return false;
}

function inlineOnce(g: Graph, budget: { left: number; max: number }, result: InlineControlFlowResult): { graph: Graph; changed: boolean; left: Array<{ node: Node; why: string }> } {
  const rw = new GraphRewriter(g);
  let shapes: Map<string, ValueType> | undefined;
  const left: Array<{ node: Node; why: string }> = [];
  let changed = false;
  const spend = (n: number, node: Node, what: string) => {
    if (n > budget.left) {
      throw new UnsupportedError(`${node.opType} '${node.name}' ${what}`, `${n} nodes, over the budget of ${budget.max} nodes the formats without control flow get; a smaller fixed input shape may do`);
    }
    budget.left -= n;
  };
  const before = () => new Set(rw.nodes.flatMap((n) => n.outputs));
  const addedSince = (seen: Set<string>) => new Set(rw.nodes.flatMap((n) => n.outputs).filter((o) => o && !seen.has(o)));
  for (const node of [...rw.nodes]) {
    if (!isControlFlow(node)) continue;
    if (node.opType === 'If') {
      const cond = constantScalar(rw, node.inputs[0]);
      if (cond === undefined) {
        left.push({ node, why: 'its condition is computed from the data' });
        continue;
      }
      const branch = graphAttr(node, cond ? 'then_branch' : 'else_branch');
      spend(branch.nodes.length, node, 'inlined');
      const seen = before();
      rw.removeNode(node);
      const outs = inlineBody(rw, branch, [], node.name || 'If');
      bindOutputs(rw, outs, node.outputs, addedSince(seen));
      result.inlined.push(node.name);
      changed = true;
      continue;
    }
    if (node.opType === 'Scan') {
      const a = controlFlowDefs.Scan!.attrs(node, opsetOf(g, node)) as ScanAttrs;
      const { n, m, k } = scanCounts(node, a);
      shapes ??= inferShapes(g, { onError: 'unknown' }).values;
      /** the body copied `length` times from `states` on, each copy reading its slices of `scanned` (along `axes`); the last states and each scan output's per-iteration values */
      const unroll = (states: string[], scanned: readonly string[], axes: readonly number[], length: number, prefix: string) => {
        const scans: string[][] = Array.from({ length: k }, () => []);
        for (let t = 0; t < length; t++) {
          const slices = scanned.map((x, j) => {
            const at = rw.addInitializer(`${prefix}/step_${t}_${j}`, Tensor.int64([], [a.inputDirections[j] ? length - 1 - t : t]));
            return rw.add({ opType: 'Gather', inputs: [x, at], attrs: { axis: { type: 'int', value: axes[j]! } }, name: `${prefix}/${t}/slice_${j}` });
          });
          const outs = inlineBody(rw, a.body, [...states, ...slices], `${prefix}/${t}`);
          states = outs.slice(0, n);
          for (let j = 0; j < k; j++) scans[j]!.push(outs[n + j]!);
        }
        return { states, scans };
      };
      if (a.batched) {
        // opset 8: a batch axis 0 on every input and output (the sequence along axis 1), each batch
        // entry scanned on its own: unrolled per entry, the entries stacked again
        const [seqLens, ...rest] = node.inputs;
        if (seqLens) {
          left.push({ node, why: 'nnport does not unroll an opset-8 Scan with sequence_lens' });
          continue;
        }
        const scanned = rest.slice(n, n + m);
        const dims = scanned.map((x) => shapes!.get(x)?.shape);
        const batch = dims[0]?.[0];
        const length = dims[0]?.[1];
        if (typeof batch !== 'number' || typeof length !== 'number' || dims.some((d) => d?.[0] !== batch || d?.[1] !== length)) {
          left.push({ node, why: 'its batch size or sequence length is not fixed (fix the input shapes, e.g. --input-shape)' });
          continue;
        }
        if ((length === 0 || batch === 0) && k > 0) {
          left.push({ node, why: 'it scans an empty sequence, so its scan outputs have no shape to write' });
          continue;
        }
        spend(batch * (length * (a.body.nodes.length + m) + n + m + k * (length + 1)) + (n + k) * (batch + 1), node, `unrolled ${batch} x ${length} times`);
        const seen = before();
        rw.removeNode(node);
        const prefix = node.name || 'Scan';
        const finals: string[][] = Array.from({ length: n }, () => []);
        const stackedScans: string[][] = Array.from({ length: k }, () => []);
        for (let b = 0; b < batch; b++) {
          const entry = rw.addInitializer(`${prefix}/entry_${b}`, Tensor.int64([], [b]));
          const take = (x: string, what: string) => rw.add({ opType: 'Gather', inputs: [x, entry], attrs: { axis: { type: 'int', value: 0 } }, name: `${prefix}/entry_${b}/${what}` });
          const r = unroll(rest.slice(0, n).map((x, i) => take(x, `state_${i}`)), scanned.map((x, j) => take(x, `scan_${j}`)), scanned.map(() => 0), length, `${prefix}/entry_${b}`);
          r.states.forEach((v, i) => finals[i]!.push(v));
          r.scans.forEach((list, j) => stackedScans[j]!.push(stack(rw, list, 0, `${prefix}/entry_${b}/scan_${j}`)));
        }
        const outs = [...finals, ...stackedScans].map((list, i) => stack(rw, list, 0, `${prefix}/batch_${i}`));
        bindOutputs(rw, outs, node.outputs, addedSince(seen));
        result.unrolled.push({ name: node.name, op: 'Scan', iterations: batch * length });
        changed = true;
        continue;
      }
      const scanned = node.inputs.slice(n, n + m);
      const axes = scanned.map((x, j) => {
        const rank = shapes!.get(x)?.shape?.length;
        return rank === undefined ? undefined : a.inputAxes[j]! < 0 ? a.inputAxes[j]! + rank : a.inputAxes[j]!;
      });
      const lengths = scanned.map((x, j) => (axes[j] === undefined ? undefined : shapes!.get(x)?.shape?.[axes[j]!]));
      const length = lengths[0];
      if (typeof length !== 'number' || lengths.some((l) => l !== length)) {
        left.push({ node, why: 'its sequence length is not fixed (fix the input shapes, e.g. --input-shape)' });
        continue;
      }
      if (length === 0 && k > 0) {
        left.push({ node, why: 'it scans an empty sequence, so its scan outputs have no shape to write' });
        continue;
      }
      spend(length * (a.body.nodes.length + m) + k * (length + 1), node, `unrolled ${length} times`);
      const seen = before();
      rw.removeNode(node);
      const prefix = node.name || 'Scan';
      const { states, scans } = unroll(node.inputs.slice(0, n), scanned, axes.map((x) => x!), length, prefix);
      const stacked = scans.map((list, j) => {
        const rank = shapes!.get(node.outputs[n + j] ?? '')?.shape?.length;
        const axis = a.outputAxes[j]! < 0 && rank !== undefined ? a.outputAxes[j]! + rank : a.outputAxes[j]!;
        return stack(rw, a.outputDirections[j] ? [...list].reverse() : list, axis, `${prefix}/scan_${j}`);
      });
      bindOutputs(rw, [...states, ...stacked], node.outputs, addedSince(seen));
      result.unrolled.push({ name: node.name, op: 'Scan', iterations: length });
      changed = true;
      continue;
    }
    const body = graphAttr(node, 'body');
    const trips = node.inputs[0] ? constantScalar(rw, node.inputs[0]) : undefined;
    const n = node.inputs.length - 2;
    const k = body.outputs.length - 1 - n;
    if (trips === undefined) {
      left.push({ node, why: node.inputs[0] ? 'its trip count is not a constant (fix the input shapes, e.g. --input-shape, when it is a dim)' : 'it has no trip count' });
      continue;
    }
    if (node.inputs[1] && constantScalar(rw, node.inputs[1]) !== 1) {
      left.push({ node, why: 'its condition is computed from the data' });
      continue;
    }
    if (!staysTrue(rw, body)) {
      left.push({ node, why: "its body's condition output is computed from the data" });
      continue;
    }
    if (trips <= 0 && k > 0) {
      left.push({ node, why: 'it runs no iteration, so its scan outputs have no shape to write' });
      continue;
    }
    const iterations = Math.max(0, trips);
    spend(iterations * body.nodes.length + k * (iterations + 1), node, `unrolled ${iterations} times`);
    const seen = before();
    rw.removeNode(node);
    const prefix = node.name || 'Loop';
    const cond = node.inputs[1] || rw.addInitializer(`${prefix}/cond`, new Tensor('bool', [], Uint8Array.of(1)));
    let carried = node.inputs.slice(2);
    const scans: string[][] = Array.from({ length: k }, () => []);
    for (let i = 0; i < iterations; i++) {
      const iter = rw.addInitializer(`${prefix}/iteration_${i}`, Tensor.int64([], [i]));
      const outs = inlineBody(rw, body, [iter, cond, ...carried], `${prefix}/${i}`);
      carried = outs.slice(1, 1 + n);
      for (let j = 0; j < k; j++) scans[j]!.push(outs[1 + n + j]!);
    }
    const stacked = scans.map((list, j) => stack(rw, list, 0, `${prefix}/scan_${j}`));
    bindOutputs(rw, [...carried, ...stacked], node.outputs, addedSince(seen));
    result.unrolled.push({ name: node.name, op: 'Loop', iterations });
    changed = true;
  }
  if (!changed) return { graph: g, changed, left };
  rw.sweep();
  return { graph: rw.toGraph(), changed, left };
}
