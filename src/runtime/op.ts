import { UsageError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

export interface OpContext {
  readonly node: Node;
  /** opset version of the node's domain in this graph */
  readonly opset: number;
}

/**
 * One op of a runtime backend. `attrs` parses and validates the node's attributes once (before
 * any data is seen); `run` computes the outputs from the inputs. `inputs[i]` is undefined for an
 * omitted optional input.
 *
 * `run` may return a promise (a GPU readback, a worker round-trip); the executor awaits it only
 * then, so a synchronous kernel costs no microtask. `accepts`, when present, is asked before each
 * call whether this kernel takes these inputs (e.g. a GPU kernel only for tensors large enough to
 * pay for the transfer); when it says no, the next backend's kernel for the op runs instead.
 */
export interface OpKernel<A = unknown> {
  attrs(node: Node, opset: number): A;
  run(inputs: ReadonlyArray<Tensor | undefined>, attrs: A, ctx: OpContext): Tensor[] | Promise<Tensor[]>;
  accepts?(inputs: ReadonlyArray<Tensor | undefined>, attrs: A, ctx: OpContext): boolean;
}

/** Kernels keyed by ONNX op type (default domain) or 'domain::OpType'. */
export type OpTable = Record<string, OpKernel<any>>;

export function defineOp<A>(kernel: OpKernel<A>): OpKernel<A> {
  return kernel;
}

/** For ops without attributes. */
export const noAttrs = (): Record<string, never> => ({});

/**
 * Run a kernel that must answer at once: from inside another kernel (a channels-last op built on
 * an NCHW one) or from a synchronous caller. An asynchronous kernel here is a programming error.
 */
export function runNow<A>(kernel: OpKernel<A>, inputs: ReadonlyArray<Tensor | undefined>, attrs: A, ctx: OpContext): Tensor[] {
  const out = kernel.run(inputs, attrs, ctx);
  if (out instanceof Promise) throw new UsageError(`node '${ctx.node.name}' (${ctx.node.opType}): its kernel is asynchronous; run the graph with runGraph`);
  return out;
}
