// Runtime backends: each registers the kernels it has, keyed like ONNX_OPS. For every node the
// executor takes the kernel of the first backend, in preference order, that has one (and whose
// `accepts`, if any, takes the node's inputs at run time); the next ones are the fallback.
// `wasm` (the WASM SIMD kernels plus their JS glue, on the host) has every op; a WebGPU or
// worker-pool backend registers the ops it speeds up and leaves the rest to it.
import { UsageError } from '../ir/errors.js';
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
