// The integer reference runtime: a QDQ graph (as the TFLite reader and the int8 quantizer
// produce) with its islands fused into `nnport.int` ops, run with TFLite's integer semantics.
// Values outside islands (float parts of mixed models, data movement on integers) run on the
// ordinary kernels.
import type { Graph } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { runGraph, type RunOptions, type RunResult } from '../executor.js';
import type { OpTable } from '../op.js';
import { ONNX_OPS } from '../ops/index.js';
import { fuseQdqIslands, type IntegerOptions } from './islands.js';
import { INTEGER_OPS } from './ops.js';

export { fuseQdqIslands, INTEGER_DOMAIN, type IntegerOptions } from './islands.js';
export { INTEGER_OPS } from './ops.js';

/** Run `graph` with TFLite's integer arithmetic for every QDQ island nnport recognises. */
export async function runInteger(graph: Graph, feeds: ReadonlyMap<string, Tensor> | Record<string, Tensor>, options: Omit<RunOptions, 'ops'> & IntegerOptions & { ops?: OpTable } = {}): Promise<RunResult> {
  const fused = fuseQdqIslands(graph, options);
  return runGraph(fused, feeds, { ...options, ops: { ...(options.ops ?? ONNX_OPS), ...INTEGER_OPS }, optimize: false });
}
