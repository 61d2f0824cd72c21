// The integer reference runtime: a QDQ graph (as the TFLite reader and the int8 quantizer
// produce) with its islands fused into `nnport.int` ops, run with TFLite's integer semantics.
// Values outside islands (float parts of mixed models, data movement on integers) run on the
// ordinary kernels.
import type { Graph } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { initKernels } from '../../wasm/loader.js';
import { RESIDENT_LOCATION } from '../../wasm/resident.js';
import { registerBackend, type Backend } from '../backend.js';
import { runGraph, type RunOptions, type RunResult } from '../executor.js';
import type { OpTable } from '../op.js';
import { ONNX_OPS } from '../ops/index.js';
import { fuseQdqIslands, INTEGER_DOMAIN, RESIDENT_OPS, type IntegerOptions } from './islands.js';
import { INTEGER_OPS } from './ops.js';

export { fuseQdqIslands, INTEGER_DOMAIN, type IntegerOptions } from './islands.js';
export { INTEGER_OPS } from './ops.js';

interface Fused {
  nodes: Graph['nodes'];
  count: number;
  initializers: Graph['initializers'];
  initializerCount: number;
  outputs: Graph['outputs'];
  key: string;
  graph: Graph;
}

// The fused graph of the last run of each source graph, while that graph's node list,
// initializers and outputs are the same objects of the same sizes (fusing mobilenet_v2 takes
// ~2 ms, a tenth of an int8 forward pass).
const fusedGraphs = new WeakMap<Graph, Fused>();

function fusedOf(graph: Graph, options: IntegerOptions): Graph {
  const key = `${options.requantization ?? ''}|${options.kernels ?? ''}|${options.resident ? 1 : 0}`;
  const hit = fusedGraphs.get(graph);
  if (hit && hit.key === key && hit.nodes === graph.nodes && hit.count === graph.nodes.length && hit.initializers === graph.initializers && hit.initializerCount === graph.initializers.size && hit.outputs === graph.outputs) return hit.graph;
  const fused = fuseQdqIslands(graph, options);
  fusedGraphs.set(graph, { nodes: graph.nodes, count: graph.nodes.length, initializers: graph.initializers, initializerCount: graph.initializers.size, outputs: graph.outputs, key, graph: fused });
  return fused;
}

const ready = async (): Promise<boolean> => {
  await initKernels();
  return true;
};

// Resident mode: the fused ops of RESIDENT_OPS run on a backend whose tensors may live in WASM
// memory (wasm/resident.ts), so an activation goes from one integer kernel to the next without
// a copy out and back in; every other op runs on a host backend, and the executor downloads
// (copies out) a resident activation only for those and for the caller.
const residentBackend: Backend = {
  name: 'nnport-int8-resident',
  location: RESIDENT_LOCATION,
  optIn: true,
  kernels: Object.fromEntries(RESIDENT_OPS.map((op) => [`${INTEGER_DOMAIN}::${op}`, INTEGER_OPS[`${INTEGER_DOMAIN}::${op}`]!])),
  ready,
};
const hostBackend: Backend = { name: 'nnport-int8-host', optIn: true, kernels: { ...ONNX_OPS, ...INTEGER_OPS }, ready };
registerBackend(residentBackend);
registerBackend(hostBackend);

/** Run `graph` with TFLite's integer arithmetic for every QDQ island nnport recognises. */
export async function runInteger(graph: Graph, feeds: ReadonlyMap<string, Tensor> | Record<string, Tensor>, options: Omit<RunOptions, 'ops'> & IntegerOptions & { ops?: OpTable } = {}): Promise<RunResult> {
  // activations stay in WASM memory unless the caller gives its own kernels or backends, or
  // sees values as they are computed (they would be device tensors; kept ones are downloaded)
  const resident = options.resident !== false && !options.ops && !options.backends && !options.onValue && !options.keepIntermediates && options.kernels !== 'typescript';
  if (resident) return runGraph(fusedOf(graph, { ...options, resident }), feeds, { ...options, backends: [residentBackend.name, hostBackend.name], optimize: false });
  return runGraph(fusedOf(graph, { ...options, resident: false }), feeds, { ...options, ops: { ...(options.ops ?? ONNX_OPS), ...INTEGER_OPS }, optimize: false });
}
