// Plan-time lowering of a channels-last graph (the `nnport` ops of the Keras / TF / TFLite
// readers and of the layout pass) for the reference runtime: it runs as the NCHW graph the ONNX
// writer's lowering makes of it (passes/lower-channels-last.ts: each nnport op becomes its ONNX
// op between two Transposes, and the layout engine cancels the Transposes along chains), so a
// chain of channels-last ops runs on the NCHW kernels with a transpose only at its edges, and
// Conv + BatchNormalization + Relu/Clip fuse as they do for an ONNX graph. Permuting around every
// op instead (ops/channels-last.ts, still what a graph that cannot be lowered runs) cost
// mobilenet_v2 twice the time of its NCHW form.
//
// Every value of the source graph stays observable: the lowering reports where each one is in
// the lowered graph and how it is laid out there, and the executor hands out (by its source name)
// the permutation of it back to the source's layout, computed only when someone reads it.
//
// The runtime imports this pass (runtime -> passes, against the usual direction) because the
// lowering is the layout engine's channels-first mode; a second copy of that engine here would
// be worse. passes/layout.ts imports nothing of the runtime.
import { NnportError } from '../ir/errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { CHANNELS_LAST_ONNX_OPSET } from '../ir/ops/index.js';
import { CHANNELS_LAST_OPS as CHANNELS_LAST_OP_TYPES, hasChannelsLastOps, lowerChannelsLast } from '../passes/lower-channels-last.js';
import { ONNX_OPS } from './ops/index.js';

/** Where a source value is in the lowered graph: its name there and the permutation back to the source layout (none: as is). */
export interface LoweredValue {
  name: string;
  perm?: number[];
}

export interface LoweredGraph {
  /** the graph to execute: ONNX ops on NCHW data, the source's inputs and outputs unchanged */
  graph: Graph;
  /** every value of the source graph (inputs and node outputs) still computed, by its source name */
  values: ReadonlyMap<string, LoweredValue>;
  /** lowered value name -> the source node outputs it holds (for onValue / keepIntermediates) */
  sources: ReadonlyMap<string, readonly { name: string; perm?: number[]; node: Node }[]>;
  /** every node output of the source graph is in `values`, so observers can be served */
  complete: boolean;
}

const isIdentity = (p: readonly number[]): boolean => p.every((v, i) => v === i);
function inverse(p: readonly number[]): number[] {
  const q = new Array<number>(p.length);
  p.forEach((v, i) => (q[v] = i));
  return q;
}

/**
 * Whether the lowered graph means what the source means (else it runs as it is). The ONNX op an
 * nnport op becomes is parsed at the graph's default-domain opset, the nnport op at
 * CHANNELS_LAST_ONNX_OPSET: the kernel must read the same attributes at both (Conv, pooling,
 * normalization have not changed since opset 11; Resize's inputs did at 11).
 */
function lowerable(graph: Graph): boolean {
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  for (const n of graph.nodes) {
    if (n.domain !== 'nnport' || !CHANNELS_LAST_OP_TYPES.has(n.opType)) continue;
    if (n.opType === 'MaxPool' && n.outputs[1]) return false; // channels-last Indices have no NCHW form
    if (n.opType === 'Resize' && opset < 11) return false;
    const kernel = ONNX_OPS[n.opType];
    if (!kernel) return false;
    const { kernel_layout: _, ...attrs } = n.attrs;
    const plain = { ...n, domain: '', attrs };
    try {
      if (JSON.stringify(kernel.attrs(plain, opset)) !== JSON.stringify(kernel.attrs(plain, CHANNELS_LAST_ONNX_OPSET))) return false;
    } catch (e) {
      if (e instanceof NnportError) return false;
      throw e;
    }
  }
  return true;
}

/**
 * The channels-last graph lowered for execution, or undefined when it has no channels-last ops
 * or cannot be lowered exactly (it then runs as it is, on the permuting kernels).
 */
export function lowerForRun(graph: Graph): LoweredGraph | undefined {
  if (!hasChannelsLastOps(graph) || !lowerable(graph)) return undefined;
  let result;
  try {
    result = lowerChannelsLast(graph, { trackValues: true });
  } catch (e) {
    // an op the lowering cannot express (unknown rank, a kernel layout it does not know): the
    // source graph runs as it is, and reports its own errors if it has any
    if (e instanceof NnportError) return undefined;
    throw e;
  }
  const lowered = result.graph;
  const values = new Map<string, LoweredValue>();
  for (const [name, v] of result.values ?? []) {
    values.set(name, v.layout.length && !isIdentity(v.layout) ? { name: v.name, perm: inverse(v.layout) } : { name: v.name });
  }
  // the source's inputs and outputs keep their names and layouts
  for (const v of [...graph.inputs, ...graph.outputs]) {
    const at = values.get(v.name);
    if (graph.initializers.has(v.name)) continue;
    if (!at || at.name !== v.name || at.perm) return undefined;
  }
  const sources = new Map<string, { name: string; perm?: number[]; node: Node }[]>();
  let complete = true;
  for (const node of graph.nodes) {
    for (const o of node.outputs) {
      if (!o) continue;
      const at = values.get(o);
      if (!at) {
        complete = false;
        continue;
      }
      let list = sources.get(at.name);
      if (!list) sources.set(at.name, (list = []));
      list.push({ name: o, perm: at.perm, node });
    }
  }
  return { graph: lowered, values, sources, complete };
}
