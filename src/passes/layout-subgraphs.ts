// Control-flow bodies (If's branches, Loop's and Scan's bodies) through Graph -> Graph passes.
// A body reads values of the graphs around it by name; a pass that takes a whole graph cannot
// see their types there. So each body is handed to the pass as a graph of its own: its formal
// inputs typed as the node feeds them (a Loop's carried values widened until the body keeps
// them, as shape inference does), then the values it reads from around it as more inputs, and
// those extra inputs are dropped again from what the pass returns. The layout pass lays out a
// body this way with its whole boundary in the source's layout (as keepNchwIo does a model), so
// the values crossing into and out of a body never change layout with the branch taken.
import { subgraphsOf, type Attr, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { controlFlowDefs, inferShapes, scanCounts, unifyTypes, type ScanAttrs, type ValueType } from '../ir/ops/index.js';
import { outerReads } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/** A body made standalone: the graph, and the names of the inputs that stand for outer values. */
export interface StandaloneBody {
  graph: Graph;
  outer: string[];
}

const SCALAR_INT64: ValueType = { dtype: 'int64', shape: [] };
const SCALAR_BOOL: ValueType = { dtype: 'bool', shape: [] };

const sameType = (a: ValueType, b: ValueType): boolean => a.dtype === b.dtype && JSON.stringify(a.shape ?? null) === JSON.stringify(b.shape ?? null);

/**
 * `body` as a graph of its own, its formal inputs of types `formal` (undefined: as declared),
 * the outer values it reads as inputs after them, typed by `types` (dtype unknown: float32 is
 * not guessed, the input is left without a shape and float32 dtype only where nothing is known).
 */
function standalone(body: Graph, formal: ReadonlyArray<ValueType | undefined>, types: (v: string) => ValueType | undefined, opsets: Record<string, number>, constant?: (v: string) => Tensor | undefined): StandaloneBody {
  // an outer constant (a weight the exporter left in the main graph) becomes the body's own: passes see a constant
  const initializers = new Map(body.initializers);
  const outer: string[] = [];
  for (const v of outerReads(body)) {
    const t = constant?.(v);
    if (t) initializers.set(v, t);
    else outer.push(v);
  }
  const typed = (name: string, t: ValueType | undefined, declared?: ValueInfo): ValueInfo => {
    const dtype = t?.dtype ?? declared?.dtype ?? 'float32';
    const shape = t?.shape ?? declared?.shape;
    const v: ValueInfo = shape ? { name, dtype, shape: [...shape] } : { name, dtype };
    const kind = t?.kind ?? declared?.kind;
    return kind ? { ...v, kind } : v;
  };
  const inputs = [...body.inputs.map((v, i) => typed(v.name, formal[i], v)), ...outer.map((name) => typed(name, types(name)))];
  return { graph: { ...body, inputs, initializers, opsets: { ...opsets, ...body.opsets }, valueInfo: undefined }, outer };
}

/** The body's output types when its inputs (formal and outer) are as `g` declares them. */
function outputTypes(g: Graph): ValueType[] {
  const { values } = inferShapes(g, { record: false, onError: 'unknown' });
  return g.outputs.map((o) => values.get(o.name) ?? {});
}

/** A Loop / Scan body's carried inputs widened until the body keeps them (three rounds at most, as inferShapes). */
function settle(body: Graph, before: ValueType[], initial: ValueType[], after: ValueType[], outOffset: number, types: (v: string) => ValueType | undefined, opsets: Record<string, number>, constant?: (v: string) => Tensor | undefined): ValueType[] {
  let carried = initial;
  for (let round = 0; round < 3; round++) {
    const outs = outputTypes(standalone(body, [...before, ...carried, ...after], types, opsets, constant).graph);
    const next = carried.map((c, i) => {
      try {
        return unifyTypes(c, outs[outOffset + i] ?? {}, () => `carried value ${i}`);
      } catch {
        return { dtype: c.dtype };
      }
    });
    const same = next.every((t, i) => sameType(t, carried[i]!));
    carried = next;
    if (same) break;
  }
  return [...before, ...carried, ...after];
}

/** The types `node` feeds each of its subgraphs' formal inputs with, subgraph by subgraph (as subgraphsOf lists them). */
function formalTypes(node: Node, types: (v: string) => ValueType | undefined, opsets: Record<string, number>, constant?: (v: string) => Tensor | undefined): Array<ReadonlyArray<ValueType | undefined>> {
  const subs = subgraphsOf(node);
  const of = (v: string | undefined): ValueType => (v ? (types(v) ?? {}) : {});
  const onnx = node.domain === '' || node.domain === 'ai.onnx';
  if (onnx && node.opType === 'Loop' && subs.length === 1) {
    const carried = node.inputs.slice(2).map(of);
    return [settle(subs[0]!, [SCALAR_INT64, SCALAR_BOOL], carried, [], 1, types, opsets, constant)];
  }
  if (onnx && node.opType === 'Scan' && subs.length === 1) {
    const opset = opsets[''] ?? opsets['ai.onnx'] ?? 17;
    const a = controlFlowDefs.Scan!.attrs(node, opset) as ScanAttrs;
    const { n, m } = scanCounts(node, a);
    const first = a.batched ? 1 : 0;
    const drop = (t: ValueType, axes: number[]): ValueType => (t.shape ? { dtype: t.dtype, shape: t.shape.filter((_, i) => !axes.includes(i)) } : { dtype: t.dtype });
    const states = node.inputs.slice(first, first + n).map((v) => (a.batched ? drop(of(v), [0]) : of(v)));
    const slices = node.inputs.slice(first + n, first + n + m).map((v, j) => {
      const t = of(v);
      if (a.batched) return drop(t, [0, 1]);
      const axis = a.inputAxes[j]!;
      return t.shape ? drop(t, [axis < 0 ? axis + t.shape.length : axis]) : t;
    });
    return [settle(subs[0]!, [], states, slices, 0, types, opsets, constant)];
  }
  // If's branches take no inputs; any other op's subgraphs: as they declare their inputs
  return subs.map(() => []);
}

/**
 * `node` with each of its subgraphs replaced by `pass` of it made standalone (outer values as
 * extra inputs, dropped again from the result; outer constants, as `constant` gives them, copied
 * in as the body's own initializers). `types` gives the types of the values around the node.
 * The same node when it has no subgraphs.
 */
export function mapNodeSubgraphs(node: Node, types: (v: string) => ValueType | undefined, opsets: Record<string, number>, pass: (body: StandaloneBody) => Graph, constant?: (v: string) => Tensor | undefined): Node {
  const subs = subgraphsOf(node);
  if (!subs.length) return node;
  const formal = formalTypes(node, types, opsets, constant);
  const done = new Map<Graph, Graph>();
  let k = 0;
  const one = (g: Graph): Graph => {
    const f = formal[k++] ?? [];
    const hit = done.get(g);
    if (hit) return hit;
    const s = standalone(g, f, types, opsets, constant);
    const out = pass(s);
    const extra = new Set(s.outer);
    const body: Graph = { ...out, inputs: out.inputs.filter((v) => !extra.has(v.name)), valueInfo: undefined };
    done.set(g, body);
    return body;
  };
  const attrs: Record<string, Attr> = {};
  for (const [name, a] of Object.entries(node.attrs)) {
    if (a.type === 'graph') attrs[name] = { type: 'graph', value: one(a.value) };
    else if (a.type === 'graphs') attrs[name] = { type: 'graphs', value: a.value.map(one) };
    else attrs[name] = a;
  }
  return { ...node, attrs };
}

/**
 * `pass` applied to every control-flow body of `graph`, at every depth (a body first, then the
 * bodies inside what the pass made of it), each made standalone. `graph` itself is not passed.
 */
export function mapSubgraphs(graph: Graph, pass: (g: Graph) => Graph): Graph {
  if (!graph.nodes.some((n) => subgraphsOf(n).length)) return graph;
  const { values } = inferShapes(graph, { record: false, onError: 'unknown' });
  const types = (v: string): ValueType | undefined => values.get(v);
  const nodes = graph.nodes.map((n) => mapNodeSubgraphs(n, types, graph.opsets, (s) => mapSubgraphs(pass(s.graph), pass), (v) => graph.initializers.get(v)));
  return nodes.every((n, i) => n === graph.nodes[i]) ? graph : { ...graph, nodes };
}

/** Whether `graph` or any subgraph in it has a node that `test` accepts. */
export function someNodeDeep(graph: Graph, test: (n: Node) => boolean): boolean {
  return graph.nodes.some((n) => test(n) || subgraphsOf(n).some((g) => someNodeDeep(g, test)));
}
