// Runtime backends: each registers the kernels it has, keyed like ONNX_OPS. For every node the
// executor takes the kernel of the first backend, in preference order, that has one (and whose
// `accepts`, if any, takes the node's inputs at run time); the next ones are the fallback.
// `wasm` (the WASM SIMD kernels plus their JS glue, on the host) has every op; a WebGPU or
// worker-pool backend registers the ops it speeds up and leaves the rest to it.
import { UsageError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { OpKernel, OpTable } from './op.js';

export interface Backend {
  /** 'wasm', 'webgpu', 'workers', ... */
  readonly name: string;
  readonly kernels: OpTable;
  /**
   * Where the outputs of its kernels live when they stay on a device (TensorStorage.location),
   * and which inputs its kernels take without a download. Undefined: host tensors only; the
   * executor downloads device tensors before calling its kernels.
   */
  readonly location?: string;
  /** Higher runs first when the caller gives no order (wasm: 0). */
  readonly priority?: number;
  /** Used only when a run names it in RunOptions.backends (a device backend: webgpu). */
  readonly optIn?: boolean;
  /** Whether it can run here and now (an adapter exists, workers can start); awaited once per run. */
  ready?(): Promise<boolean> | boolean;
  /**
   * More fusion for runs whose first backend this is, after the runtime's own (fuse-conv.ts),
   * under the same rules (nothing the caller sees may go); its fused ops must be run by this
   * backend whatever their inputs (webgpu: conv + residual Add + Relu).
   */
  fuse?(graph: Graph): Graph;
  /** Whole-run replay, when this backend is the first of a run's (webgpu: see RunReplayer). */
  readonly replayer?: RunReplayer;
}

/** What identifies a run for replay: the graph that runs, the backends, the values asked for, the feeds. */
export interface ReplayKey {
  readonly graph: object;
  readonly backends: string;
  readonly outputs: readonly string[];
  readonly feeds: ReadonlyMap<string, Tensor>;
}

/**
 * A device backend that can re-issue the commands of a recorded run (a GPU's command list is
 * the same every run of the same graph on inputs of the same shapes; only the inputs' data
 * differ). The executor asks replay() first; when that gives nothing it runs the graph, with
 * record() before and recorded() after: the outputs as the kernels made them when every node
 * with an input that depends on the feeds ran on this backend and nothing was downloaded before
 * the outputs, else undefined. The backend decides whether the recording is complete (it saw
 * every command, no GPU object or parameter changed during it) and still valid at replay.
 */
export interface RunReplayer {
  replay(key: ReplayKey): Promise<Tensor[]> | undefined;
  record(key: ReplayKey): void;
  recorded(key: ReplayKey, outputs: readonly Tensor[] | undefined): void;
}

const registry = new Map<string, Backend>();

/** Add (or replace) a backend. */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Remove a backend (tests, a device that went away). */
export function unregisterBackend(name: string): void {
  registry.delete(name);
}

export function backendByName(name: string): Backend {
  const b = registry.get(name);
  if (!b) throw new UsageError(`unknown runtime backend '${name}' (registered: ${[...registry.keys()].join(', ')})`);
  return b;
}

/** The registered backends, preferred first (with `defaultsOnly`, those a run uses when it names none). */
export function registeredBackends(defaultsOnly = false): Backend[] {
  return [...registry.values()].filter((b) => !defaultsOnly || !b.optIn).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
}

/** One kernel able to run a node, with the backend it belongs to. */
export interface Candidate {
  backend: Backend;
  kernel: OpKernel<unknown>;
}

/** The kernels for `key` ('OpType' or 'domain::OpType') in preference order. */
export function candidatesFor(key: string, backends: readonly Backend[]): Candidate[] {
  const out: Candidate[] = [];
  for (const backend of backends) {
    const kernel = backend.kernels[key];
    if (kernel) out.push({ backend, kernel });
  }
  return out;
}

/** Whether a kernel of `backend` can take `t` as it is (else the executor downloads it first). */
export function takesAsIs(backend: Backend, t: Tensor): boolean {
  return t.onHost || (backend.location !== undefined && t.storage?.location === backend.location);
}
