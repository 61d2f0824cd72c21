// The `webgpu` runtime backend: WGSL kernels for the heavy float32 ops (Conv / FusedConv,
// Gemm / MatMul, broadcasting arithmetic, activations, pools, Concat) whose outputs stay in GPU
// buffers between ops; every other op, dtype or shape falls back to the next backend (wasm)
// through the runtime's seam, which downloads a GPU tensor only where a host kernel reads it.
// Opt-in: a run uses it only when it is named (RunOptions.backends, `--backend webgpu`).
import { UsageError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import type { Backend, RunReplayer } from '../runtime/backend.js';
import type { OpKernel, OpTable } from '../runtime/op.js';
import { gpuDevice, type GpuAvailability } from './device.js';
import { CONV_OPS } from './ops/conv.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { MATMUL_OPS } from './ops/matmul.js';
import { POOL_OPS } from './ops/pool.js';
import { SHAPE_OPS } from './ops/shape.js';
import { setRunner } from './ops/common.js';
import { fuseResidual } from './fuse-residual.js';
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
        runner?.noteOp(key);
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

/**
 * Below this much work (multiply-adds, or elements for the other ops) an op whose inputs are all
 * on the host stays on wasm under `webgpu-auto`: an upload, a dispatch and a download cost about
 * a millisecond, which the wasm kernels spend on about 4 M multiply-adds. An op with an input
 * already on the GPU stays there (a download would cost as much).
 */
export const AUTO_MIN_WORK = 1 << 22;

/** A rough count of an op's work: multiply-adds for convs and matrix products, elements otherwise. */
function workOf(key: string, inputs: ReadonlyArray<Tensor | undefined>, attrs: unknown): number {
  const [a, b] = inputs;
  if (!a) return 0;
  // N * OH * OW * M * Cg * kh * kw, with OH * OW taken as H * W
  if ((key === 'Conv' || key === 'nnport::FusedConv') && b && a.rank >= 3) return (a.size / a.shape[1]!) * b.size;
  // M * N * K = A's size times B's size over K
  if ((key === 'MatMul' || key === 'Gemm') && b) return (a.size * b.size) / Math.max(1, (attrs as { transA?: boolean }).transA ? a.shape[0]! : a.shape[a.rank - 1]!);
  return Math.max(...inputs.map((t) => t?.size ?? 0));
}

/** The same kernels, leaving small ops whose inputs are on the host to the next backend. */
function largeOnly(table: OpTable): OpTable {
  const out: OpTable = {};
  for (const [key, k] of Object.entries(table)) {
    out[key] = {
      attrs: k.attrs,
      run: k.run,
      accepts(inputs, attrs, ctx) {
        if (inputs.every((t) => !t || t.onHost) && workOf(key, inputs, attrs) < AUTO_MIN_WORK) return false;
        return k.accepts ? k.accepts(inputs, attrs, ctx) : true;
      },
    };
  }
  return out;
}

let runner: GpuRunner | undefined;

/** Whether a WebGPU device can be had here, and what it is (or why not). Starts the device. */
export async function webgpuAvailable(): Promise<{ available: true; adapter: string } | { available: false; reason: string }> {
  const a: GpuAvailability = await gpuDevice();
  return a.ok ? { available: true, adapter: a.gpu.description } : { available: false, reason: a.reason };
}

/**
 * Replays of whole runs (GpuRunner.replay): a repeated run of the same graph on inputs of the
 * same shapes uploads its inputs and encodes the recorded dispatches, with no kernel's JS.
 */
const replayer: RunReplayer = {
  replay(key) {
    const r = runner?.replay(key);
    if (!r) return undefined;
    for (const op of r.ops) opCounts.set(op, (opCounts.get(op) ?? 0) + 1);
    return r.outputs;
  },
  record: (key) => runner?.record(key),
  recorded: (key, outputs) => runner?.recorded(key, outputs),
};

export const webgpuBackend: Backend = {
  name: 'webgpu',
  location: WEBGPU_LOCATION,
  priority: 10,
  optIn: true,
  replayer,
  fuse: fuseResidual,
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

/**
 * `webgpu` for large work only (`--backend auto`): an op goes to the GPU when its input is
 * already there or its work is at least AUTO_MIN_WORK; tiny models stay on wasm entirely.
 */
// (not fused further: a residual conv's small parts may belong on wasm)
export const webgpuAutoBackend: Backend = { ...webgpuBackend, name: 'webgpu-auto', fuse: undefined, kernels: largeOnly(webgpuBackend.kernels) };

/** The adapter the backend runs on (after a run or webgpuAvailable()). */
export function webgpuAdapter(): string | undefined {
  return runner?.description;
}

/** GPU dispatches encoded and tensors downloaded so far (tests: where the work and the copies went). */
export function webgpuTraffic(): { dispatches: number; downloads: number; replays: number } {
  return { dispatches: runner?.dispatches ?? 0, downloads: runner?.downloads ?? 0, replays: runner?.replays ?? 0 };
}

/**
 * GPU time per dispatch site ("op node[#k]": total ms and dispatches) since the last reset, when
 * runs are profiled (env NNPORT_WEBGPU_PROFILE=1 and the device has timestamp queries; else empty).
 */
export function webgpuGpuTimes(reset = false): Promise<Map<string, { ms: number; n: number }>> {
  return runner ? runner.gpuTimes(reset) : Promise.resolve(new Map());
}

/** Why the last recorded run cannot be replayed (undefined: it can), for tests. */
export function webgpuReplayRefusal(): string | undefined {
  return runner?.lastUnfit;
}
