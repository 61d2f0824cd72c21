import { UsageError } from '../ir/errors.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * Runs one of a node's subgraphs on the executor, as a generator that yields a promise only
 * where a kernel returned one (a kernel written as a generator drives it with `yield*`; see driveKernel):
 * `inputs` are the subgraph's inputs in order, and it sees every value of the graphs around
 * the node. Returns the subgraph's outputs in order.
 */
export type SubgraphRunner = (graph: Graph, inputs: readonly Tensor[]) => Generator<Promise<unknown>, Tensor[], unknown>;

export interface OpContext {
  readonly node: Node;
  /** opset version of the node's domain in this graph */
  readonly opset: number;
  /** set by the executor for a node with subgraphs (If / Loop / Scan) */
  readonly runSubgraph?: SubgraphRunner;
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

/**
 * A kernel written as a generator (one that runs subgraphs) as an OpKernel's result: its
 * outputs at once when nothing it ran had to be awaited, else a promise of them.
 */
export function driveKernel<T>(run: Generator<Promise<unknown>, T, unknown>): T | Promise<T> {
  let r = run.next();
  if (r.done) return r.value;
  return (async () => {
    while (!r.done) {
      let value: unknown;
      try {
        value = await r.value;
      } catch (e) {
        r = run.throw(e);
        continue;
      }
      r = run.next(value);
    }
    return r.value;
  })();
}
