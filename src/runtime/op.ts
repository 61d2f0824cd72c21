import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

export interface OpContext {
  readonly node: Node;
  /** opset version of the node's domain in this graph */
  readonly opset: number;
}

/**
 * One op of the reference runtime. `attrs` parses and validates the node's attributes
 * once (before any data is seen); `run` computes the outputs from the inputs.
 * `inputs[i]` is undefined for an omitted optional input.
 */
export interface OpKernel<A = unknown> {
  attrs(node: Node, opset: number): A;
  run(inputs: ReadonlyArray<Tensor | undefined>, attrs: A, ctx: OpContext): Tensor[];
}

export type OpTable = Record<string, OpKernel<any>>;

export function defineOp<A>(kernel: OpKernel<A>): OpKernel<A> {
  return kernel;
}

/** For ops without attributes. */
export const noAttrs = (): Record<string, never> => ({});
