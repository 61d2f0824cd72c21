// The program runner: compiled pipelines (one per WGSL source), a pool of storage buffers,
// weights uploaded once per tensor, and one command encoder per batch of dispatches that is
// submitted only when something must come back to the host (a download), so the ops of a run
// between two host kernels cost one submit.
/// <reference types="@webgpu/types" />
import { UnsupportedError, UsageError } from '../ir/errors.js';
import { Tensor, shapeSize, type Shape, type TensorStorage } from '../ir/tensor.js';

/** Where webgpu tensors live (TensorStorage.location). */
export const WEBGPU_LOCATION = 'webgpu';

/** Uniform parameters of one dispatch: 32-bit words (u32 or f32), read in WGSL by `pu(i)` / `pf(i)`. */
export class Params {
  readonly words: number[] = [];
  private readonly kinds: ('u' | 'f')[] = [];
  u(...v: number[]): this {
    for (const x of v) {
      this.words.push(x >>> 0);
      this.kinds.push('u');
    }
    return this;
  }
  f(...v: number[]): this {
    for (const x of v) {
      this.words.push(x);
      this.kinds.push('f');
    }
    return this;
  }
  writeTo(view: DataView, at: number): void {
    this.words.forEach((w, i) => (this.kinds[i] === 'u' ? view.setUint32(at + 4 * i, w, true) : view.setFloat32(at + 4 * i, w, true)));
  }
}

/** Most words a dispatch's params may have (the uniform block below). */
const PARAM_WORDS = 64;
const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment
const CHUNK_BYTES = 64 * 1024;

/** WGSL shared by every program: the params block and the linear index of a 2-D dispatch of 256-wide groups. */
export function wgslHeader(binding: number): string {
  return `struct Params { v: array<vec4<u32>, ${PARAM_WORDS / 4}> }
@group(0) @binding(${binding}) var<uniform> params: Params;
fn pu(i: u32) -> u32 { return params.v[i / 4u][i % 4u]; }
fn pf(i: u32) -> f32 { return bitcast<f32>(params.v[i / 4u][i % 4u]); }
fn pi(i: u32) -> i32 { return bitcast<i32>(params.v[i / 4u][i % 4u]); }
`;
}

/** Workgroup counts [x, y] covering `n` invocations of 256-wide groups (x at most 65535). */
export function groups256(n: number): [number, number, number] {
  const total = Math.max(1, Math.ceil(n / 256));
  const x = Math.min(total, 65535);
  return [x, Math.ceil(total / x), 1];
}

/**
 * A program run once per index of a flat range, dispatched with `groups256`: the float32 storage
 * inputs named in `inputs` (bindings 0..), the output `Y`, then the params; `body` runs with
 * `idx` below the params word `total` (default word 0).
 */
export function linearProgram(inputs: readonly string[], body: string, total = 0): string {
  const bindings = inputs.map((name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`);
  return `
${bindings.join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> Y: array<f32>;
${wgslHeader(inputs.length + 1)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * nwg.x + wg.x) * 256u + li;
  if (idx >= pu(${total}u)) { return; }
${body}
}`;
}

interface Chunk {
  gpu: GPUBuffer;
  cpu: ArrayBuffer;
  used: number;
}

/** A tensor's data in a GPU buffer (from the pool; back to it on dispose). */
export class GpuStorage implements TensorStorage {
  readonly location = WEBGPU_LOCATION;
  disposed = false;
  constructor(
    private readonly runner: GpuRunner,
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
  read(): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(new UsageError('a webgpu tensor was read after its buffer was released'));
    return this.runner.read(this.buffer, this.bytes);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.release(this.buffer);
  }
}

/** The live GPU buffer of a webgpu tensor, if it has one. */
export function gpuBufferOf(t: Tensor): GPUBuffer | undefined {
  const s = t.storage;
  return s instanceof GpuStorage && !s.disposed ? s.buffer : undefined;
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Pool size classes: powers of two up to 1 MiB, then whole MiB. */
function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 1 << 20) return 1 << Math.ceil(Math.log2(b));
  return Math.ceil(b / (1 << 20)) * (1 << 20);
}

export class GpuRunner {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly free = new Map<number, GPUBuffer[]>();
  private freeBytes = 0;
  /** weights (and other constant inputs) uploaded once, kept while the tensor lives */
  private readonly constants = new WeakMap<Tensor, GPUBuffer>();
  /** other host inputs uploaded during the current run (released when the next run starts) */
  private transient = new Map<Tensor, GPUBuffer>();
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private chunks: Chunk[] = [];
  private spareChunks: Chunk[] = [];
  private readonly dummy: GPUBuffer;
  /** mappable buffers for downloads, by size class */
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  /** dispatches encoded and downloads made since the runner was made (tests: where the work and copies went) */
  dispatches = 0;
  downloads = 0;

  constructor(
    readonly device: GPUDevice,
    readonly description: string,
  ) {
    this.dummy = device.createBuffer({ size: 16, usage: STORAGE_USAGE() });
    // A WGSL or validation error surfaces when the results are read (every download checks).
    device.onuncapturederror = (e) => {
      this.error ??= e.error.message;
    };
  }

  private error: string | undefined;

  private checkErrors(): void {
    const e = this.error;
    if (e === undefined) return;
    this.error = undefined;
    throw new Error(`WebGPU error (a bug in nnport's WebGPU backend; run with --backend wasm): ${e}`);
  }

  /** A run begins: host inputs of the last one are uploaded again if needed. */
  startRun(): void {
    for (const b of this.transient.values()) this.release(b);
    this.transient.clear();
  }

  private pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /** A buffer of at least `bytes` from the pool (its content is undefined). */
  alloc(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const hit = list?.pop();
    if (hit) {
      this.freeBytes -= size;
      return hit;
    }
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (size > limit && bytes <= limit) return this.device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage: STORAGE_USAGE() });
    if (bytes > limit) throw new UnsupportedError(`a WebGPU tensor of ${bytes} bytes`, `this GPU's largest storage buffer is ${limit} bytes; run with the wasm backend`);
    return this.device.createBuffer({ size, usage: STORAGE_USAGE() });
  }

  /**
   * Back to the pool. Safe while encoded work still reads it: a pooled buffer is only ever
   * written by later commands of the same queue.
   */
  release(b: GPUBuffer): void {
    const size = b.size;
    if (this.freeBytes + size > 1 << 30) {
      b.destroy();
      return;
    }
    const list = this.free.get(size) ?? [];
    list.push(b);
    this.free.set(size, list);
    this.freeBytes += size;
  }

  /** A new float32 tensor in a pooled buffer, and that buffer. */
  output(shape: Shape): { tensor: Tensor; buffer: GPUBuffer } {
    const bytes = shapeSize(shape) * 4;
    const buffer = this.alloc(bytes);
    return { tensor: Tensor.onDevice('float32', shape, new GpuStorage(this, buffer, bytes)), buffer };
  }

  /** A buffer holding `data`: constants get their own buffer, filled at creation. */
  private uploadConstant(data: Float32Array): GPUBuffer {
    const size = sizeClass(data.byteLength);
    const b = this.device.createBuffer({ size: size <= this.device.limits.maxStorageBufferBindingSize ? size : Math.ceil(data.byteLength / 16) * 16, usage: STORAGE_USAGE(), mappedAtCreation: true });
    new Float32Array(b.getMappedRange(0, data.byteLength)).set(data);
    b.unmap();
    return b;
  }

  /**
   * A pooled buffer holding `data`. writeBuffer lands before commands not yet submitted, which
   * may still read a buffer that went back to the pool: those are submitted first.
   */
  private uploadTransient(data: Float32Array): GPUBuffer {
    if (this.encoder) this.flush();
    const b = this.alloc(data.byteLength);
    this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  /**
   * The GPU buffer of a float32 input: its own if it is a webgpu tensor, else its host data
   * uploaded — once per tensor for constants (weights), once per run for the rest.
   */
  input(t: Tensor, constant = false): GPUBuffer {
    const own = gpuBufferOf(t);
    if (own) return own;
    const cache = constant ? this.constants : this.transient;
    let b = cache.get(t);
    if (!b) {
      b = constant ? this.uploadConstant(t.data as Float32Array) : this.uploadTransient(t.data as Float32Array);
      cache.set(t, b);
    }
    return b;
  }

  /** A small buffer for bindings a program has but this call does not use (an absent bias). */
  get none(): GPUBuffer {
    return this.dummy;
  }

  /** A host array as a storage buffer (index tables); release() it once its dispatch is encoded. */
  table(words: Uint32Array): GPUBuffer {
    const b = this.device.createBuffer({ size: sizeClass(words.byteLength), usage: STORAGE_USAGE(), mappedAtCreation: true });
    new Uint32Array(b.getMappedRange(0, words.byteLength)).set(words);
    b.unmap();
    return b;
  }

  private paramSlot(p: Params): { buffer: GPUBuffer; offset: number } {
    if (p.words.length > PARAM_WORDS) throw new UsageError(`a WebGPU program has ${p.words.length} parameters; at most ${PARAM_WORDS}`);
    let c = this.chunks[this.chunks.length - 1];
    if (!c || c.used + PARAM_SLOT > CHUNK_BYTES) {
      c = this.spareChunks.pop() ?? { gpu: this.device.createBuffer({ size: CHUNK_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }), cpu: new ArrayBuffer(CHUNK_BYTES), used: 0 };
      c.used = 0;
      this.chunks.push(c);
    }
    const offset = c.used;
    p.writeTo(new DataView(c.cpu), offset);
    c.used += PARAM_SLOT;
    return { buffer: c.gpu, offset };
  }

  /**
   * Encode one dispatch of `code` (entry point `main`) with `buffers` bound at 0..n-1 (the
   * storage bindings in the program's order) and `params` at binding n.
   */
  dispatch(code: string, buffers: GPUBuffer[], params: Params, groups: [number, number, number]): void {
    const pipeline = this.pipeline(code);
    const slot = this.paramSlot(params);
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
    entries.push({ binding: buffers.length, resource: { buffer: slot.buffer, offset: slot.offset, size: PARAM_WORDS * 4 } });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.dispatches++;
  }

  /** Submit what is encoded (its params first: writeBuffer lands before the submit). */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    for (const c of this.chunks) this.device.queue.writeBuffer(c.gpu, 0, c.cpu, 0, c.used);
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = undefined;
    }
    // params chunks may be rewritten now: the next writeBuffer is ordered after this submit
    this.spareChunks.push(...this.chunks);
    this.chunks = [];
  }

  /** Copy `bytes` of `buffer` to the host, after everything encoded so far. */
  async read(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    if (bytes === 0) return new Float32Array(0);
    this.downloads++;
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.stagingFree.get(sizeClass(size))?.pop() ?? this.device.createBuffer({ size: sizeClass(size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    this.checkErrors();
    const out = new Float32Array(bytes / 4);
    out.set(new Float32Array(staging.getMappedRange(0, size), 0, bytes / 4));
    staging.unmap();
    const list = this.stagingFree.get(staging.size) ?? [];
    if (list.length < 4) {
      list.push(staging);
      this.stagingFree.set(staging.size, list);
    } else staging.destroy();
    return out;
  }
}
