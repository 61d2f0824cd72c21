// The program runner: compiled pipelines (one per WGSL source), a pool of storage buffers,
// weights uploaded once per tensor, and one command encoder per batch of dispatches that is
// submitted only when something must come back to the host (a download), so the ops of a run
// between two host kernels cost one submit. Each dispatch has a site (a node of the graph, and
// which of its dispatches): the site keeps its pipeline, its uniform slot, the buffers it bound
// and their bind group, and asks the pool for the buffers it had last time, so a second run of
// the same graph creates no GPU object and writes no uniform: it only encodes.
/// <reference types="@webgpu/types" />
import { UnsupportedError, UsageError } from '../ir/errors.js';
import { Tensor, shapeSize, type Shape, type TensorStorage } from '../ir/tensor.js';
import type { Node } from '../ir/graph.js';
import type { ReplayKey } from '../runtime/backend.js';

/** Where webgpu tensors live (TensorStorage.location). */
export const WEBGPU_LOCATION = 'webgpu';

/** Most words a dispatch's params may have (the uniform block below). */
const PARAM_WORDS = 64;
const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment
const CHUNK_BYTES = 64 * 1024;

/** Uniform parameters of one dispatch: 32-bit words (u32 or f32), read in WGSL by `pu(i)` / `pf(i)`. */
export class Params {
  readonly u32 = new Uint32Array(PARAM_WORDS);
  private readonly f32 = new Float32Array(this.u32.buffer);
  length = 0;
  u(...v: number[]): this {
    for (const x of v) this.u32[this.next()] = x >>> 0;
    return this;
  }
  f(...v: number[]): this {
    for (const x of v) this.f32[this.next()] = x;
    return this;
  }
  private next(): number {
    if (this.length === PARAM_WORDS) throw new UsageError(`a WebGPU program has more than ${PARAM_WORDS} parameters`);
    return this.length++;
  }
}

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

/** 64 KiB of uniform slots and their host mirror; dirty bytes [lo, hi) go up before the next submit. */
interface Chunk {
  gpu: GPUBuffer;
  cpu: Uint32Array;
  used: number;
  lo: number;
  hi: number;
}

/**
 * One dispatch of one node, kept across runs (see the header). `epoch` is the submit its last
 * dispatch went into: a slot whose dispatch is encoded but not yet submitted must not change.
 */
export class Site {
  /** what it runs, for GPU time profiles: "op node[#k]" */
  label = '';
  code: string | undefined;
  pipeline: GPUComputePipeline | undefined;
  layout: GPUBindGroupLayout | undefined;
  chunk: Chunk | undefined;
  /** word offset of the uniform slot in its chunk */
  at = 0;
  words = -1;
  bound: GPUBuffer[] = [];
  bindGroup: GPUBindGroup | undefined;
  epoch = -1;
  /** the buffer this site's output had last run, asked for again */
  lastOutput: GPUBuffer | undefined;
  /** a storage table (index words) of this dispatch, refilled only when it changes */
  table: { buffer: GPUBuffer; words: Uint32Array } | undefined;
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

/** One command of a recorded run: a dispatch, or the upload of a feed into the buffer it had. */
type Command = { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; x: number; y: number; z: number; label: string } | { feed: string; buffer: GPUBuffer };

/**
 * Per-dispatch GPU times (env NNPORT_WEBGPU_PROFILE=1 on a device with 'timestamp-query'): each
 * dispatch in a pass of its own with timestamps at its start and end, resolved at each submit
 * and read back asynchronously, summed by site label ("op node[#k]"). For measuring only: a pass
 * per dispatch changes what the GPU overlaps. Dawn quantizes timestamps unless started with
 * NNPORT_DAWN_FLAGS='disable-dawn-features=timestamp_quantization'.
 */
interface Profiler {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  labels: string[];
  times: Map<string, { ms: number; n: number }>;
  pending: Promise<void>[];
}
const PROFILED_PER_SUBMIT = 2048;

/** A run being recorded: its commands, and whether anything made it unfit to replay. */
interface Log {
  key: ReplayKey;
  run: number;
  destroys: number;
  commands: Command[];
  /** why it cannot be replayed (the first reason), undefined while it can */
  unfit: string | undefined;
  feedOf: Map<Tensor, string>;
  uploaded: Set<string>;
  sites: Set<Site>;
  ops: string[];
}

/** How a feed of a recorded run must look for a replay: its data is uploaded, or must be the same. */
interface FeedRule {
  dtype: string;
  shape: readonly number[];
  uploaded: boolean;
  /** small feeds: the same values (feeds read on the host: bounds, shapes) */
  data?: ArrayLike<number | bigint>;
  /** a larger feed not uploaded (a kernel's constant, kept by tensor): the same tensor */
  tensor?: Tensor;
}

interface Recording {
  key: ReplayKey;
  run: number;
  destroys: number;
  commands: Command[];
  feeds: Map<string, FeedRule>;
  outputs: { buffer: GPUBuffer; bytes: number; shape: Shape }[];
  ops: string[];
}

/** Feeds up to this many elements are compared by value for a replay (see FeedRule). */
const COMPARED_FEED = 4096;

function sameData(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Dispatches encoded between two submits (0: submit only when something is downloaded); env NNPORT_WEBGPU_SUBMIT_EVERY. */
function submitEvery(): number {
  const v = typeof process !== 'undefined' ? process.env?.NNPORT_WEBGPU_SUBMIT_EVERY : undefined;
  return v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Math.max(0, Number(v)) : 16;
}

/** Whether runs are replayed (env NNPORT_WEBGPU_REPLAY=0 turns it off: A/B runs). */
function replayOn(): boolean {
  return (typeof process !== 'undefined' ? process.env?.NNPORT_WEBGPU_REPLAY : undefined) !== '0';
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
  /** pooled buffers by size class (insertion-ordered: a site's own buffer can be taken back out) */
  private readonly free = new Map<number, Set<GPUBuffer>>();
  private freeBytes = 0;
  /** weights (and other constant inputs) uploaded once, kept while the tensor lives */
  private readonly constants = new WeakMap<Tensor, GPUBuffer>();
  /** other host inputs uploaded during the current run (released when the next run starts) */
  private transient = new Map<Tensor, GPUBuffer>();
  /** the buffers of the last run's transient uploads, in upload order: asked for again */
  private lastTransient: GPUBuffer[] = [];
  private transientCount = 0;
  private readonly sites = new WeakMap<object, Site[]>();
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  /** submits so far (Site.epoch) */
  private epoch = 0;
  private readonly chunks: Chunk[] = [];
  private readonly dummy: GPUBuffer;
  /** mappable buffers for downloads, by size class */
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  /** dispatches encoded and downloads made since the runner was made (tests: where the work and copies went) */
  dispatches = 0;
  downloads = 0;
  /** runs replayed (RunReplayer) */
  replays = 0;
  /** runs started (startRun), and pooled buffers destroyed: a recording is valid for the next run only, with its buffers */
  private runs = 0;
  private destroys = 0;
  private log: Log | undefined;
  private recording: Recording | undefined;
  /** dispatches encoded since the last submit */
  private unsubmitted = 0;
  private readonly submitEvery = submitEvery();
  readonly replayOn = replayOn();
  private readonly profiler: Profiler | undefined;

  constructor(
    readonly device: GPUDevice,
    readonly description: string,
  ) {
    this.dummy = device.createBuffer({ size: 16, usage: STORAGE_USAGE() });
    if (typeof process !== 'undefined' && process.env?.NNPORT_WEBGPU_PROFILE === '1' && device.features.has('timestamp-query')) {
      this.profiler = {
        querySet: device.createQuerySet({ type: 'timestamp', count: 2 * PROFILED_PER_SUBMIT }),
        resolve: device.createBuffer({ size: 16 * PROFILED_PER_SUBMIT, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
        labels: [],
        times: new Map(),
        pending: [],
      };
    }
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
    this.runs++;
    this.log = undefined;
    this.lastTransient = [...this.transient.values()];
    for (const b of this.lastTransient) this.release(b);
    this.transient.clear();
    this.transientCount = 0;
  }

  /** The run being recorded cannot be replayed (the first reason is kept, for tests). */
  private unfit(why: string): void {
    if (this.log && this.log.unfit === undefined) this.log.unfit = why;
  }

  /** Why the last recording was not kept (undefined: it was), for tests. */
  lastUnfit: string | undefined;

  /** Record the commands of the run that starts now (RunReplayer.record). */
  record(key: ReplayKey): void {
    const feedOf = new Map<Tensor, string>();
    for (const [name, t] of key.feeds) feedOf.set(t, name);
    this.log = { key, run: this.runs, destroys: this.destroys, commands: [], unfit: this.replayOn ? undefined : 'replay is off', feedOf, uploaded: new Set(), sites: new Set(), ops: [] };
  }

  /** A node of the recorded run ran a kernel of this backend (its op key, counted again on replay). */
  noteOp(key: string): void {
    this.log?.ops.push(key);
  }

  /** The recorded run ended (RunReplayer.recorded): keep it if it can be replayed. */
  recorded(key: ReplayKey, outputs: readonly Tensor[] | undefined): void {
    const log = this.log;
    this.log = undefined;
    if (!log || log.key !== key) return;
    if (!outputs) log.unfit ??= 'a node on another backend read a value that depends on the inputs, or a value was downloaded before the outputs';
    const outs: Recording['outputs'] = [];
    for (const t of outputs ?? []) {
      const s = t.storage;
      if (!(s instanceof GpuStorage) || s.disposed || t.dtype !== 'float32') {
        log.unfit ??= 'an output is not a GPU tensor of the run';
        break;
      }
      outs.push({ buffer: s.buffer, bytes: s.bytes, shape: t.shape });
    }
    this.lastUnfit = log.unfit;
    if (log.unfit !== undefined) {
      this.recording = undefined;
      return;
    }
    const feeds = new Map<string, FeedRule>();
    for (const [name, t] of key.feeds) {
      const uploaded = log.uploaded.has(name);
      const rule: FeedRule = { dtype: t.dtype, shape: t.shape, uploaded };
      // a small feed may also be read on the host (a Clip bound): its values must be the same
      if (t.onHost && t.size <= (uploaded ? 16 : COMPARED_FEED)) rule.data = Array.from(t.data as ArrayLike<number | bigint>);
      // a larger one not uploaded (a kernel's constant, kept by tensor): the same tensor
      else if (!uploaded) rule.tensor = t;
      feeds.set(name, rule);
    }
    this.recording = { key, run: log.run, destroys: log.destroys, commands: log.commands, feeds, outputs: outs, ops: log.ops };
  }

  /**
   * Re-issue the recorded run for `key` (RunReplayer.replay): the feeds' uploads and the
   * dispatches in their order, then the outputs' downloads. Only for the run right after the
   * recorded one (or its replay): no other run has taken the pooled buffers its commands use,
   * and none of them was destroyed. Undefined when it does not apply.
   */
  replay(key: ReplayKey): { outputs: Promise<Tensor[]>; ops: string[] } | undefined {
    const r = this.recording;
    if (!r || !this.replayOn) return undefined;
    const k = r.key;
    if (k.graph !== key.graph || k.backends !== key.backends || k.outputs.length !== key.outputs.length || k.outputs.some((o, i) => o !== key.outputs[i])) return undefined;
    if (this.runs !== r.run + 1 || this.destroys !== r.destroys || this.encoder || this.error !== undefined) return undefined;
    if (key.feeds.size !== r.feeds.size) return undefined;
    for (const [name, t] of key.feeds) {
      const rule = r.feeds.get(name);
      if (!rule || t.dtype !== rule.dtype || t.shape.length !== rule.shape.length || t.shape.some((d, i) => d !== rule.shape[i])) return undefined;
      if ((rule.uploaded && !t.onHost) || (rule.tensor && t !== rule.tensor)) return undefined;
      if (rule.data && (!t.onHost || !sameData(t.data as ArrayLike<number | bigint>, rule.data))) return undefined;
    }
    this.recording = undefined;
    for (const c of r.commands) {
      if ('feed' in c) {
        // as in the run: commands before it may still read this buffer's earlier contents
        if (this.encoder) this.flush();
        const data = key.feeds.get(c.feed)!.data as Float32Array;
        this.device.queue.writeBuffer(c.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
        continue;
      }
      this.encode(c.pipeline, c.bindGroup, c.x, c.y, c.z, c.label);
    }
    this.replays++;
    const reads = r.outputs.map((o) => this.read(o.buffer, o.bytes).then((d) => new Tensor('float32', o.shape, d)));
    // valid for the next run too
    this.recording = { ...r, run: this.runs };
    return { outputs: Promise.all(reads), ops: r.ops };
  }

  private readonly subOwners = new WeakMap<Node, Node[]>();

  /** A stand-in for `node`, number `k`, the same object every run (own sites for the parts of a node's work). */
  subOwner(node: Node, k: number): Node {
    let list = this.subOwners.get(node);
    if (!list) this.subOwners.set(node, (list = []));
    return (list[k] ??= { ...node });
  }

  /** The site of dispatch `k` of `owner` (a graph node), the same object on every run. */
  site(owner: object, k = 0): Site {
    let list = this.sites.get(owner);
    if (!list) this.sites.set(owner, (list = []));
    let site = list[k];
    if (!site) {
      site = list[k] = new Site();
      const n = owner as { opType?: string; name?: string };
      site.label = `${n.opType ?? '?'} ${n.name ?? ''}${k ? `#${k}` : ''}`;
    }
    return site;
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

  /** A buffer of at least `bytes` from the pool (its content is undefined); `want` if it is free. */
  alloc(bytes: number, want?: GPUBuffer): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    if (list?.size) {
      let hit = want && list.has(want) ? want : undefined;
      if (!hit) for (const b of list) { hit = b; break; }
      list.delete(hit!);
      this.freeBytes -= size;
      return hit!;
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
      this.destroys++;
      b.destroy();
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = new Set()));
    list.add(b);
    this.freeBytes += size;
  }

  /**
   * A new float32 tensor in a pooled buffer, and that buffer. With a site, the buffer it had
   * last run when that one is free (it is, on a repeated run): its bind groups stay valid.
   */
  output(shape: Shape, site?: Site): { tensor: Tensor; buffer: GPUBuffer } {
    const bytes = shapeSize(shape) * 4;
    const buffer = this.alloc(bytes, site?.lastOutput);
    if (site) site.lastOutput = buffer;
    return { tensor: Tensor.onDevice('float32', shape, new GpuStorage(this, buffer, bytes)), buffer };
  }

  /** A pooled work buffer of a dispatch at `site` (release() it once its readers are encoded). */
  scratch(bytes: number, site: Site): GPUBuffer {
    return (site.lastOutput = this.alloc(bytes, site.lastOutput));
  }

  /** A buffer holding `data`: constants get their own buffer, filled at creation. */
  private uploadConstant(data: Float32Array): GPUBuffer {
    this.unfit('a constant was uploaded');
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
  private uploadTransient(t: Tensor): GPUBuffer {
    const data = t.data as Float32Array;
    if (this.encoder) this.flush();
    const b = this.alloc(data.byteLength, this.lastTransient[this.transientCount++]);
    this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    if (this.log) {
      const feed = this.log.feedOf.get(t);
      if (feed === undefined) this.unfit('a host value that is not an input was uploaded');
      else {
        this.log.uploaded.add(feed);
        this.log.commands.push({ feed, buffer: b });
      }
    }
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
      b = constant ? this.uploadConstant(t.data as Float32Array) : this.uploadTransient(t);
      cache.set(t, b);
    }
    return b;
  }

  /** A small buffer for bindings a program has but this call does not use (an absent bias). */
  get none(): GPUBuffer {
    return this.dummy;
  }

  /** A host array as a storage buffer of `site` (index tables), made again only when its words change. */
  table(site: Site, words: Uint32Array): GPUBuffer {
    const t = site.table;
    if (t && t.words.length === words.length && t.words.every((w, i) => w === words[i])) return t.buffer;
    this.unfit('an index table changed');
    // to the pool: only later commands of the queue can write it there
    if (t) this.release(t.buffer);
    const buffer = this.device.createBuffer({ size: sizeClass(words.byteLength), usage: STORAGE_USAGE(), mappedAtCreation: true });
    new Uint32Array(buffer.getMappedRange(0, words.byteLength)).set(words);
    buffer.unmap();
    site.table = { buffer, words: words.slice() };
    return buffer;
  }

  /** Put `p` in the site's uniform slot (a slot of its own, kept; written only when the words change). */
  private setParams(site: Site, p: Params): void {
    let c = site.chunk;
    if (!c) {
      c = this.chunks[this.chunks.length - 1];
      if (!c || c.used + PARAM_SLOT > CHUNK_BYTES) {
        c = { gpu: this.device.createBuffer({ size: CHUNK_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }), cpu: new Uint32Array(CHUNK_BYTES / 4), used: 0, lo: CHUNK_BYTES, hi: 0 };
        this.chunks.push(c);
      }
      site.chunk = c;
      site.at = c.used / 4;
      c.used += PARAM_SLOT;
    }
    const n = p.length;
    const at = site.at;
    if (site.words === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (c.cpu[at + i] !== p.u32[i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    this.unfit('a uniform changed');
    // the slot's old words are still to be read by a dispatch not yet submitted
    if (site.epoch === this.epoch) this.flush();
    c.cpu.set(p.u32.subarray(0, n), at);
    site.words = n;
    c.lo = Math.min(c.lo, at * 4);
    c.hi = Math.max(c.hi, at * 4 + PARAM_SLOT);
  }

  /**
   * Encode one dispatch of `code` (entry point `main`) at `site` with `buffers` bound at 0..n-1
   * (the storage bindings in the program's order) and `params` at binding n.
   */
  dispatch(site: Site, code: string, buffers: GPUBuffer[], params: Params, groups: [number, number, number]): void {
    if (site.code !== code) {
      this.unfit('a program changed');
      site.code = code;
      site.pipeline = this.pipeline(code);
      site.layout = site.pipeline.getBindGroupLayout(0);
      site.bindGroup = undefined;
    }
    const hadSlot = !!site.chunk;
    this.setParams(site, params);
    let same = hadSlot && !!site.bindGroup && site.bound.length === buffers.length;
    for (let i = 0; same && i < buffers.length; i++) same = site.bound[i] === buffers[i];
    if (!same) {
      this.unfit('a bind group changed');
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
      entries.push({ binding: buffers.length, resource: { buffer: site.chunk!.gpu, offset: site.at * 4, size: PARAM_WORDS * 4 } });
      site.bindGroup = this.device.createBindGroup({ layout: site.layout!, entries });
      site.bound = buffers.slice();
    }
    const log = this.log;
    if (log) {
      // a site dispatched twice in a run may have had two sets of parameters in its one slot
      if (log.sites.has(site)) this.unfit('a site ran twice');
      log.sites.add(site);
      log.commands.push({ pipeline: site.pipeline!, bindGroup: site.bindGroup!, x: groups[0], y: groups[1], z: groups[2], label: site.label });
    }
    // the epoch of the submit this dispatch goes into (encode may submit right after it)
    site.epoch = this.epoch;
    this.encode(site.pipeline!, site.bindGroup!, groups[0], groups[1], groups[2], site.label);
  }

  /** Encode one dispatch; submit every `submitEvery`, so that the GPU works while the rest is encoded. */
  private encode(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number, label: string): void {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    const prof = this.profiler;
    if (prof && prof.labels.length < PROFILED_PER_SUBMIT) {
      if (this.pass) {
        this.pass.end();
        this.pass = undefined;
      }
      const i = prof.labels.length;
      const pass = this.encoder.beginComputePass({ timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      prof.labels.push(label);
    } else {
      if (!this.pass) this.pass = this.encoder.beginComputePass();
      this.pass.setPipeline(pipeline);
      this.pass.setBindGroup(0, bindGroup);
      this.pass.dispatchWorkgroups(x, y, z);
    }
    this.dispatches++;
    if (++this.unsubmitted === this.submitEvery) this.flush();
  }

  /** The GPU time of each site label since the last reset (profiling only; empty otherwise). */
  async gpuTimes(reset = false): Promise<Map<string, { ms: number; n: number }>> {
    const prof = this.profiler;
    if (!prof) return new Map();
    await Promise.all(prof.pending);
    prof.pending = [];
    const m = new Map(prof.times);
    if (reset) prof.times.clear();
    return m;
  }

  /** Submit what is encoded (the changed uniform slots first: writeBuffer lands before the submit). */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    for (const c of this.chunks) {
      if (c.hi <= c.lo) continue;
      this.device.queue.writeBuffer(c.gpu, c.lo, c.cpu.buffer, c.lo, c.hi - c.lo);
      c.lo = CHUNK_BYTES;
      c.hi = 0;
    }
    let timed: (() => void) | undefined;
    const prof = this.profiler;
    if (prof && prof.labels.length && this.encoder) {
      const n = 2 * prof.labels.length;
      const read = this.device.createBuffer({ size: 8 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.encoder.resolveQuerySet(prof.querySet, 0, n, prof.resolve, 0);
      this.encoder.copyBufferToBuffer(prof.resolve, 0, read, 0, 8 * n);
      const labels = prof.labels;
      prof.labels = [];
      timed = () =>
        void prof.pending.push(
          read.mapAsync(GPUMapMode.READ).then(() => {
            const t = new BigInt64Array(read.getMappedRange(0, 8 * n));
            labels.forEach((label, i) => {
              const e = prof.times.get(label) ?? { ms: 0, n: 0 };
              e.ms += Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
              e.n++;
              prof.times.set(label, e);
            });
            read.destroy();
          }),
        );
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = undefined;
    }
    timed?.();
    this.unsubmitted = 0;
    this.epoch++;
  }

  /** Copy `bytes` of `buffer` to the host, after everything encoded so far. */
  async read(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    if (bytes === 0) return new Float32Array(0);
    this.unfit('a value was downloaded during the run');
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
