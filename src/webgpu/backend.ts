// The `webgpu` runtime backend: WGSL kernels for the heavy float32 ops (Conv / FusedConv,
// Gemm / MatMul, broadcasting arithmetic, activations, pools, Concat) whose outputs stay in GPU
// buffers between ops; every other op, dtype or shape falls back to the next backend (wasm)
// through the runtime's seam, which downloads a GPU tensor only where a host kernel reads it.
// Opt-in: a run uses it only when it is named (RunOptions.backends, `--backend webgpu`).
import { UsageError } from '../ir/errors.js';
import type { Backend } from '../runtime/backend.js';
import type { OpKernel, OpTable } from '../runtime/op.js';
import { gpuDevice, type GpuAvailability } from './device.js';
import { CONV_OPS } from './ops/conv.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { MATMUL_OPS } from './ops/matmul.js';
import { POOL_OPS } from './ops/pool.js';
import { SHAPE_OPS } from './ops/shape.js';
import { setRunner } from './ops/common.js';
import { GpuRunner, WEBGPU_LOCATION } from './runner.js';

const opCounts = new Map<string, number>();

/** Count each node that runs on the GPU (what `webgpuOpCounts` reports). */
function counted(table: OpTable): OpTable {
  const out: OpTable = {};
  for (const [key, k] of Object.entries(table)) {
    const kernel: OpKernel<any> = {
      attrs: k.attrs,
      accepts: k.accepts,
      run(inputs, attrs, ctx) {
        const r = k.run(inputs, attrs, ctx);
        opCounts.set(key, (opCounts.get(key) ?? 0) + 1);
        return r;
      },
    };
    out[key] = kernel;
  }
  return out;
}

/** The ops that ran on the GPU since the last reset, by op key, and how often. */
export function webgpuOpCounts(reset = false): Map<string, number> {
  const m = new Map(opCounts);
  if (reset) opCounts.clear();
  return m;
}

let runner: GpuRunner | undefined;

/** Whether a WebGPU device can be had here, and what it is (or why not). Starts the device. */
export async function webgpuAvailable(): Promise<{ available: true; adapter: string } | { available: false; reason: string }> {
  const a: GpuAvailability = await gpuDevice();
  return a.ok ? { available: true, adapter: a.gpu.description } : { available: false, reason: a.reason };
}

export const webgpuBackend: Backend = {
  name: 'webgpu',
  location: WEBGPU_LOCATION,
  priority: 10,
  optIn: true,
  kernels: counted({ ...MATMUL_OPS, ...CONV_OPS, ...ELEMENTWISE_OPS, ...POOL_OPS, ...SHAPE_OPS }),
  // Asked for by name, so no device is an error that says why (a caller that wants wasm
  // instead asks webgpuAvailable() first: the CLI's `--backend auto`).
  async ready() {
    const a = await gpuDevice();
    if (!a.ok) throw new UsageError(`the webgpu backend cannot run here: ${a.reason}`);
    if (!runner || runner.device !== a.gpu.device) {
      runner = new GpuRunner(a.gpu.device, a.gpu.description);
      setRunner(runner);
    }
    runner.startRun();
    return true;
  },
};

/** The adapter the backend runs on (after a run or webgpuAvailable()). */
export function webgpuAdapter(): string | undefined {
  return runner?.description;
}

/** GPU dispatches encoded and tensors downloaded so far (tests: where the work and the copies went). */
export function webgpuTraffic(): { dispatches: number; downloads: number } {
  return { dispatches: runner?.dispatches ?? 0, downloads: runner?.downloads ?? 0 };
}
