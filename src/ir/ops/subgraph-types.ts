// Subgraph inputs and outputs that a file leaves untyped (ONNX lets a Loop body's carried values
// take their types from the Loop node; function expansions such as Range's do so): their types
// from the node's inputs and from inferring the body, as onnx's shape inference gives them.
import type { DType } from '../dtypes.js';
import { subgraphsOf, type Graph, type ValueInfo } from '../graph.js';
import { controlFlowDefs, scanCounts, type ScanAttrs } from './control-flow.js';
import { inferShapes } from './infer.js';
import type { ValueType } from './op-def.js';
import { opsetOf } from './registry.js';

/** What each input of a node's subgraph gets, in subgraphsOf order (undefined: not known here). */
function subgraphInputTypes(graph: Graph, node: Graph['nodes'][number], types: ReadonlyArray<ValueType | undefined>): Array<Array<ValueType | undefined>> {
  const subs = subgraphsOf(node);
  const isOnnx = !node.domain || node.domain === 'ai.onnx';
  if (isOnnx && node.opType === 'Loop') {
    return subs.map(() => [{ dtype: 'int64' as DType, shape: [] }, { dtype: 'bool' as DType, shape: [] }, ...types.slice(2).map((t) => t && { dtype: t.dtype, kind: t.kind })]);
  }
  if (isOnnx && node.opType === 'Scan') {
    const a = controlFlowDefs.Scan!.attrs(node, opsetOf(graph, node)) as ScanAttrs;
    const { n, m } = scanCounts(node, a);
    const first = a.batched ? 1 : 0;
    // dtypes only: a scanned slice's shape is for the body's inference to work out
    return subs.map(() => types.slice(first, first + n + m).map((t) => t && { dtype: t.dtype }));
  }
  return subs.map(() => []);
}

/**
 * Give the values of `pending` (untyped inputs and outputs of subgraphs of `graph`, as a reader
 * made them with a placeholder dtype) their types, in place; those typed are taken out of `pending`.
 * Returns what is known of the values of `graph`.
 */
export function typeSubgraphValues(graph: Graph, pending: Set<ValueInfo>, scope?: ReadonlyMap<string, ValueType>): Map<string, ValueType> {
  // inferred without the outputs still untyped: their placeholder dtype must not stand in for what inference finds
  const probe: Graph = { ...graph, outputs: graph.outputs.filter((v) => !pending.has(v)) };
  const { values } = inferShapes(probe, { scope, record: false, onError: 'unknown' });
  for (const node of graph.nodes) {
    const subs = subgraphsOf(node);
    if (!subs.length) continue;
    const inner = new Map([...(scope ?? []), ...values]);
    const given = subgraphInputTypes(
      graph,
      node,
      node.inputs.map((v) => (v ? inner.get(v) : undefined)),
    );
    subs.forEach((body, s) => {
      body.inputs.forEach((v, i) => {
        const dtype = given[s]![i]?.dtype;
        if (pending.has(v) && dtype) {
          v.dtype = dtype;
          if (given[s]![i]!.kind) v.kind = given[s]![i]!.kind;
          pending.delete(v);
        }
      });
      const bodyValues = typeSubgraphValues(body, pending, inner);
      for (const v of body.outputs) {
        if (!pending.has(v)) continue;
        const t = bodyValues.get(v.name) ?? inner.get(v.name);
        if (t?.dtype) {
          v.dtype = t.dtype;
          if (t.shape) v.shape = [...t.shape];
          if (t.kind) v.kind = t.kind;
          pending.delete(v);
        }
      }
    });
  }
  return values;
}
