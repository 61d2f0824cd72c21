// The GPUDevice: `navigator.gpu` in a browser, in Node the `webgpu` package (Dawn) loaded by a
// dynamic import only when a run asks for the WebGPU backend, so nnport never needs it
// installed. Asked for once per process; the answer (a device or why there is none) is kept.
/// <reference types="@webgpu/types" />

export interface GpuDevice {
  device: GPUDevice;
  /** what the adapter says it is, e.g. 'NVIDIA H100 80GB HBM3 (vulkan)' */
  description: string;
}

export type GpuAvailability = { ok: true; gpu: GpuDevice } | { ok: false; reason: string };

let pending: Promise<GpuAvailability> | undefined;
// Dawn's instance and adapter must outlive the device: collected, they take its locks with them.
const keepAlive: unknown[] = [];
let lost: string | undefined;

/** The WebGPU entry point of this environment, or why there is none. */
async function gpuEntry(): Promise<GPU | string> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return 'this browser has no navigator.gpu (WebGPU is not enabled)';
  // A computed specifier: bundlers must not try to include the native module.
  const name = 'webgpu';
  let mod: { create(options: string[]): GPU; globals: object };
  try {
    mod = (await import(/* @vite-ignore */ name)) as typeof mod;
  } catch (e) {
    return `the npm package 'webgpu' (Dawn for Node) is not installed or does not load here (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  // Dawn's objects need the WebGPU constants (GPUBufferUsage, ...) as globals.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  // Dawn's own options (backend=vulkan, adapter=NAME, enable-dawn-features=...), space-separated
  const flags = (process.env.NNPORT_DAWN_FLAGS ?? '').split(/\s+/).filter((f) => f);
  return mod.create(flags);
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info as GPUAdapterInfo | undefined;
  if (!info) return 'unknown adapter';
  const parts = [info.description, info.vendor, info.architecture, info.device].filter((s) => !!s);
  const backend = (info as unknown as { backendType?: string }).backendType;
  return `${parts.join(' / ') || 'unnamed adapter'}${backend ? ` (${backend})` : ''}`;
}

async function acquire(): Promise<GpuAvailability> {
  let gpu: GPU | string;
  try {
    gpu = await gpuEntry();
  } catch (e) {
    return { ok: false, reason: `WebGPU does not start here (${e instanceof Error ? e.message : String(e)})` };
  }
  if (typeof gpu === 'string') return { ok: false, reason: gpu };
  const inBrowser = gpu === (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  keepAlive.push(gpu);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `requestAdapter failed (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!adapter) {
    // Chromium on Linux has navigator.gpu but answers null unless started with --enable-unsafe-webgpu
    return {
      ok: false,
      reason: inBrowser
        ? 'no WebGPU adapter: the browser offers none (WebGPU blocked or no usable GPU; Chromium on Linux needs --enable-unsafe-webgpu)'
        : 'no WebGPU adapter (no GPU driver found; in Node, Dawn looks for a Vulkan driver: check VK_ICD_FILENAMES)',
    };
  }
  keepAlive.push(adapter);
  const l = adapter.limits;
  let device: GPUDevice;
  try {
    // the adapter's own limits for what large tensors need
    // per-dispatch GPU times (NNPORT_WEBGPU_PROFILE=1, runner.ts) need timestamp queries
    const profile = typeof process !== 'undefined' && process.env?.NNPORT_WEBGPU_PROFILE === '1' && adapter.features.has('timestamp-query');
    device = await adapter.requestDevice({
      requiredFeatures: profile ? ['timestamp-query'] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxStorageBuffersPerShaderStage: Math.min(8, l.maxStorageBuffersPerShaderStage),
      },
    });
  } catch (e) {
    return { ok: false, reason: `requestDevice failed (${e instanceof Error ? e.message : String(e)})` };
  }
  void device.lost.then((info) => {
    lost = `the WebGPU device was lost (${info.message || info.reason})`;
    pending = undefined;
  });
  return { ok: true, gpu: { device, description: describeAdapter(adapter) } };
}

/** The process's GPU device, or why there is none (asked once; again after a device loss). */
export function gpuDevice(): Promise<GpuAvailability> {
  if (!pending) {
    lost = undefined;
    pending = acquire();
  }
  return pending;
}

/** Why the device went away, if it did. */
export function deviceLost(): string | undefined {
  return lost;
}
