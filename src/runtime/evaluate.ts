// One node at a time on the runtime's kernels, for passes that compute (constant folding):
// passes get this evaluator injected and never call WASM or the op table themselves.
import { UnsupportedError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import { opKey } from '../ir/ops/index.js';
import type { Tensor } from '../ir/tensor.js';
import { initKernels } from '../wasm/loader.js';
import { runNow, type OpTable } from './op.js';
import { ONNX_OPS } from './ops/index.js';

/** Computes a node's outputs from its inputs (undefined = omitted optional input). */
export type NodeEvaluator = (node: Node, inputs: ReadonlyArray<Tensor | undefined>, opset: number) => Tensor[];

/** Synchronous evaluator over `ops`; the WASM kernels must be initialized (see createNodeEvaluator). */
export function nodeEvaluatorSync(ops: OpTable = ONNX_OPS): NodeEvaluator {
  return (node, inputs, opset) => {
    const kernel = ops[opKey(node)];
    if (!kernel) throw new UnsupportedError(`op ${node.domain ? `${node.domain}.` : ''}${node.opType}`, 'not implemented by the nnport runtime');
    return runNow(kernel, inputs, kernel.attrs(node, opset), { node, opset });
  };
}

/** An evaluator over the runtime's kernels, once they are loaded. */
export async function createNodeEvaluator(ops: OpTable = ONNX_OPS): Promise<NodeEvaluator> {
  await initKernels();
  return nodeEvaluatorSync(ops);
}
