// Structural validation of a graph as a reader produced it: every command (inspect, run,
// convert, compare, transplant) refuses an invalid graph the same way, in the registry.
import { checkRank } from './budget.js';
import { GraphError } from './errors.js';
import { topologicalOrder, type Graph } from './graph.js';

/** Deeper nesting of If/Loop/Scan bodies than any real model has. */
const MAX_SUBGRAPH_DEPTH = 64;

/**
 * Throws ResourceError for a value whose rank is over the limit, and GraphError for a cycle (a self-loop included), an input no node, graph input or
 * initializer provides, a value produced twice, or a graph output nobody produces; subgraphs
 * (If/Loop/Scan bodies) are checked too, seeing the values of the graphs around them.
 */
export function validateGraph(graph: Graph, outerScope: ReadonlySet<string> = new Set(), depth = 0): void {
  if (depth > MAX_SUBGRAPH_DEPTH) throw new GraphError(`subgraphs nested more than ${MAX_SUBGRAPH_DEPTH} deep`);
  // ranks a reader took from the file as it stands (constants' ranks are checked by Tensor)
  for (const list of [graph.inputs, graph.outputs, graph.valueInfo ?? []]) {
    for (const v of list) if (v.shape) checkRank(v.shape.length, `value '${v.name}'`);
  }
  topologicalOrder(graph, outerScope);
  let scope: Set<string> | undefined;
  for (const n of graph.nodes) {
    for (const [key, a] of Object.entries(n.attrs)) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      if (!subs.length) continue;
      if (!scope) {
        scope = new Set(outerScope);
        for (const v of graph.inputs) scope.add(v.name);
        for (const k of graph.initializers.keys()) scope.add(k);
        for (const m of graph.nodes) for (const o of m.outputs) if (o) scope.add(o);
      }
      for (const sub of subs) {
        try {
          validateGraph(sub, scope, depth + 1);
        } catch (e) {
          if (e instanceof GraphError && !e.message.startsWith('in ')) throw new GraphError(`in attribute '${key}' of node '${n.name || n.opType}': ${e.message}`);
          throw e;
        }
      }
    }
  }
}
