import { DTYPES } from '../ir/dtypes.js';
import { GraphError, NnportError, ShapeError, UnsupportedError, UsageError } from '../ir/errors.js';
import { GraphDerived, implicitInputs, outerReads, runtimeInputs, subgraphsOf, topologicalOrder, type Graph, type Node } from '../ir/graph.js';
import { domainOf, opKey } from '../ir/ops/index.js';
import type { Tensor, TensorStorage } from '../ir/tensor.js';
import { KIND_WORDS, describeValue, valueKind } from '../ir/seq-values.js';
import { fuseConv } from './fuse-conv.js';
import { lowerForRun, type LoweredGraph, type LoweredValue } from './lower-for-run.js';
import { recordOutputRanges } from '../wasm/calibrate.js';
import { ownedBuffer, releaseBuffer } from '../wasm/host-buffers.js';
import { permute } from '../wasm/permute.js';
import { initKernels } from '../wasm/loader.js';
import { backendByName, candidatesFor, registerBackend, registeredBackends, takesAsIs, type Backend, type ReplayKey } from './backend.js';
import { driveKernel, type OpContext, type OpKernel, type OpTable, type SubgraphRunner } from './op.js';
import { ONNX_OPS } from './ops/index.js';
import { Shares } from './shares.js';
import { webgpuAutoBackend, webgpuBackend } from '../webgpu/backend.js';

/** The WASM SIMD kernels and their JS glue: every op, on the host. */
export const wasmBackend: Backend = {
  name: 'wasm',
  kernels: ONNX_OPS,
  priority: 0,
  async ready() {
    await initKernels();
    return true;
  },
};
registerBackend(wasmBackend);
// opt-in: runs use it only when they name it (RunOptions.backends); its device loads then
registerBackend(webgpuBackend);
registerBackend(webgpuAutoBackend);

export interface RunOptions {
  /** Which values to return (default: the graph outputs). */
  outputs?: string[];
  /** Keep and return every intermediate value (for --dump, compare --layers, calibration). */
  keepIntermediates?: boolean;
  /**
   * Called with every value as soon as it is computed (a device backend's may not be on the host
   * yet: see Tensor.download). Values come by their names in `graph` and in its layout: a
   * channels-last graph runs lowered to NCHW (lower-for-run.ts), and its values are handed out
   * as deferred permutations back to channels-last (Tensor.permute; `deferred` gives the data
   * as computed, for statistics that do not depend on the layout). Read them during the call.
   */
  onValue?: (name: string, value: Tensor, node: Node) => void;
  /**
   * With onValue: the only values the caller must see (default: all). Fusion then still runs
   * when it removes none of these, and onValue gets the values the fused graph computes
   * (calibration observes the values that get their own quantization parameters). The values
   * onValue gets are then valid during the call only: their memory is reused afterwards.
   */
  observe?: ReadonlySet<string>;
  /**
   * With onValue and observe: the WASM kernels take the min/max of each node output that holds
   * an observed value while it is still in WASM memory (before its copy out), and `minMax`
   * (src/wasm/calibrate.ts) of that value during onValue returns it without reading the data
   * again (calibration: 64 values, ~7 M floats per mobilenet_v2 pass, not copied back in).
   */
  ranges?: boolean;
  /** Called after each node with the count done and the total (does not prevent fusion). */
  onProgress?: (done: number, total: number, node: Node) => void;
  /**
   * Backends to use, preferred first (default: every registered one by priority, `wasm` last,
   * except opt-in device backends such as `webgpu`, used only when named here: e.g.
   * `['webgpu', 'wasm']`). A node runs on the first that has a kernel for it and accepts its inputs.
   */
  backends?: readonly string[];
  /** An op table to use instead of the backends (one host backend named 'custom'). */
  ops?: OpTable;
  /**
   * Run a channels-last graph lowered to NCHW (runtime/lower-for-run.ts) and fuse Conv +
   * BatchNormalization + Relu/Clip (runtime/fuse-conv.ts) before running; default true. Fusion
   * is never done when every value must be seen (keepIntermediates, onValue without `observe`)
   * or when `outputs` or `observe` names a value fusion removes; neither when a feed overrides
   * an initializer. Every value is still given in the source's layout under its source name.
   */
  optimize?: boolean;
  /**
   * Called with every value computed inside a subgraph (an If's branch, a Loop's or Scan's body,
   * at any depth) on each of its executions, with the body as the node holds it: its formal
   * inputs and the outer values it reads as each execution sees them, then each node output
   * (calibration of kept control flow: every iteration contributes to a body value's range).
   */
  onSubgraphValue?: (body: Graph, name: string, value: Tensor) => void;
}

export interface RunResult {
  outputs: Map<string, Tensor>;
  /** every value computed, when keepIntermediates was set (inputs and initializers excluded) */
  values?: Map<string, Tensor>;
}

/** A kernel chosen for a node, with its parsed attributes. */
interface Choice {
  backend: Backend;
  kernel: OpKernel<unknown>;
  attrs: unknown;
}

interface Step {
  node: Node;
  ctx: OpContext;
  /** the values of this graph the node's subgraphs read (If / Loop / Scan), which must live until it runs */
  implicit: string[];
  /** the node has subgraphs: its kernel gets a SubgraphRunner */
  nested: boolean;
  /** the kernels able to run the node, preferred first (usually one) */
  choices: Choice[];
}

// non-default domains are keyed 'domain::OpType' in op tables

/** The backends a run uses, preferred first. */
function backendsOf(options: Pick<RunOptions, 'backends' | 'ops'>): Backend[] {
  if (options.ops) return [{ name: 'custom', kernels: options.ops }];
  if (options.backends) {
    if (!options.backends.length) throw new UsageError('backends: name at least one runtime backend');
    return options.backends.map(backendByName);
  }
  return registeredBackends(true);
}

/**
 * Resolve every node's kernels (preferred backend first, the others as fallback) and parse its
 * attributes once per kernel; unknown ops fail here, before any compute.
 */
export function planGraph(graph: Graph, backends: readonly Backend[] = [wasmBackend], outerScope?: ReadonlySet<string>): Step[] {
  const order = topologicalOrder(graph, outerScope);
  const found = order.map((node) => candidatesFor(opKey(node), backends));
  const missing = new Set(order.filter((_, i) => !found[i]!.length).map((n) => (domainOf(n) ? `${domainOf(n)}.${n.opType}` : n.opType)));
  if (missing.size) {
    throw new UnsupportedError(`op${missing.size > 1 ? 's' : ''} ${[...missing].join(', ')}`, 'not implemented by the nnport runtime');
  }
  return order.map((node, i) => {
    const opset = graph.opsets[domainOf(node)] ?? graph.opsets[''] ?? 1;
    try {
      return { node, ctx: { node, opset }, implicit: implicitInputs(node), nested: subgraphsOf(node).length > 0, choices: found[i]!.map(({ backend, kernel }) => ({ backend, kernel, attrs: kernel.attrs(node, opset) })) };
    } catch (e) {
      throw withNode(e, node);
    }
  });
}

// Plans by graph and backends: a repeated run of the same graph (a cached fused or lowered one
// too) resolves its kernels and parses its attributes once. Dropped when any node was replaced
// (also in place in the same list); passes make new nodes rather than edit attributes in place.
const plans = new WeakMap<Graph, { nodes: readonly Node[]; backends: readonly Backend[]; steps: Step[] }>();

function cachedPlan(graph: Graph, backends: readonly Backend[], outerScope?: ReadonlySet<string>): Step[] {
  const hit = plans.get(graph);
  const sameList = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (hit && sameList(hit.nodes, graph.nodes) && sameList(hit.backends, backends)) return hit.steps;
  const steps = planGraph(graph, backends, outerScope);
  plans.set(graph, { nodes: [...graph.nodes], backends: [...backends], steps });
  return steps;
}

function withNode(e: unknown, node: Node): unknown {
  if (e instanceof NnportError && !e.message.includes(`'${node.name}'`) && node.name) {
    e.message = `node '${node.name}' (${node.opType}): ${e.message}`;
  } else if (!(e instanceof NnportError)) {
    const msg = e instanceof Error ? e.message : String(e);
    return new ShapeError(`node '${node.name || node.opType}' (${node.opType}): ${msg}`, { cause: e });
  }
  return e;
}

/**
 * Check feeds against the graph's declared inputs: presence, dtype, rank and fixed dims (the
 * dims not for a subgraph's inputs: a Loop's carried values may change shape from one iteration
 * to the next whatever its body declares).
 */
export function checkFeeds(graph: Graph, feeds: ReadonlyMap<string, Tensor>, shapes = true): void {
  const symbols = new Map<string, number>();
  for (const input of runtimeInputs(graph)) {
    const t = feeds.get(input.name);
    if (!t) throw new GraphError(`missing input '${input.name}' (${input.dtype}${input.shape ? ` [${input.shape.map((d) => d ?? '?').join(', ')}]` : ''})`);
    // a sequence / optional (ir/seq-values.ts) of the declared kind; its tensors' shapes are not checked here
    const kind = valueKind(t);
    // an optional's place takes what it holds (a Loop's carried optional becomes the body's output)
    if (kind !== input.kind && !(input.kind === 'optional-sequence' && kind === 'sequence') && !(input.kind === 'optional' && !kind)) {
      throw new ShapeError(`input '${input.name}' must be ${KIND_WORDS[input.kind ?? 'tensor']}, got ${describeValue(t)}`);
    }
    if (t.dtype !== input.dtype) throw new ShapeError(`input '${input.name}' must be ${input.dtype}, got ${t.dtype}`);
    if (!input.shape || !shapes || kind) continue;
    const want = input.shape.map((d) => d ?? '?').join(', ');
    if (t.rank !== input.shape.length) throw new ShapeError(`input '${input.name}' must have shape [${want}], got [${t.shape.join(', ')}]`);
    input.shape.forEach((d, i) => {
      const got = t.shape[i]!;
      if (typeof d === 'number' && d >= 0 && d !== got) {
        throw new ShapeError(`input '${input.name}' must have shape [${want}], got [${t.shape.join(', ')}]`);
      }
      if (typeof d === 'string' && d) {
        const seen = symbols.get(d);
        if (seen !== undefined && seen !== got) throw new ShapeError(`input '${input.name}': dimension '${d}' is ${got} here but ${seen} in another input`);
        symbols.set(d, got);
      }
    });
  }
  const known = new Set(graph.inputs.map((v) => v.name));
  for (const name of feeds.keys()) {
    if (!known.has(name)) throw new GraphError(`'${name}' is not an input of the graph (inputs: ${runtimeInputs(graph).map((v) => v.name).join(', ')})`);
  }
}

// Fused graphs by source graph: fusion folds weights once, and the fused weights (new
// tensors) keep their packed copies in WASM memory across runs (GraphDerived drops an entry when
// the source's nodes, inputs/outputs or initializer tensors were replaced). Channels-last graphs
// are lowered to NCHW first (lower-for-run.ts), cached the same way.
const fusedGraphs = new GraphDerived<Graph>();
const loweredGraphs = new GraphDerived<LoweredGraph | undefined>();

const fusedOf = (graph: Graph): Graph => fusedGraphs.get(graph, (g) => fuseConv(g));
// a backend's own fusion (Backend.fuse) of the fused graphs, by backend
const backendFusions = new WeakMap<(g: Graph) => Graph, GraphDerived<Graph>>();
const loweredOf = (graph: Graph): LoweredGraph | undefined => loweredGraphs.get(graph, lowerForRun);

/** What runs: the graph itself, or its lowered and/or fused form when nothing the caller sees can tell the difference. */
interface Executable {
  graph: Graph;
  /** set when `graph` is the source lowered from channels-last: where the source's values are */
  lowered?: LoweredGraph;
}

function executableGraph(source: Graph, feeds: ReadonlyMap<string, Tensor>, options: RunOptions): Executable {
  if (options.optimize === false) return { graph: source };
  for (const name of feeds.keys()) if (source.initializers.has(name)) return { graph: source };
  const backends = backendsOf(options);
  const seesAll = options.keepIntermediates || (options.onValue && !options.observe);
  // the values the caller must get: the outputs, and those it observes
  const seen = [...(options.outputs ?? []), ...(!options.keepIntermediates && options.onValue && options.observe ? options.observe : [])];
  let lowered = loweredOf(source);
  if (lowered && seesAll && !lowered.complete) lowered = undefined;
  if (lowered && !seen.every((o) => lowered!.values.has(o) || source.initializers.has(o))) lowered = undefined;
  // the lowered graph's ops (Transpose, Reshape, Gather, the NCHW ops) must be there to run it
  if (lowered && !lowered.graph.nodes.every((n) => candidatesFor(opKey(n), backends).length)) lowered = undefined;
  const graph = lowered?.graph ?? source;
  if (seesAll || !backends.some((b) => b.kernels['nnport::FusedConv'])) return { graph, lowered };
  let fused = fusedOf(graph);
  const more = backends[0]!.fuse;
  if (more) {
    let cache = backendFusions.get(more);
    if (!cache) backendFusions.set(more, (cache = new GraphDerived()));
    fused = cache.get(fused, more);
  }
  if (fused !== graph && seen.length) {
    const values = new Set<string>([...fused.initializers.keys(), ...fused.inputs.map((v) => v.name)]);
    for (const n of fused.nodes) for (const o of n.outputs) values.add(o);
    const wanted = seen.map((o) => (lowered ? lowered.values.get(o)?.name : o));
    if (!wanted.every((o) => o === undefined || values.has(o))) return { graph, lowered };
  }
  return { graph: fused, lowered };
}

/**
 * Run a graph on the runtime. Kernels may be asynchronous (a GPU readback, a worker round-trip):
 * the executor awaits a kernel's result, or a device tensor's download, only when there is one to
 * wait for, so a graph of synchronous kernels runs without a microtask per op.
 */
export async function runGraph(graph: Graph, feeds: ReadonlyMap<string, Tensor> | Record<string, Tensor>, options: RunOptions = {}): Promise<RunResult> {
  const backends = backendsOf(options);
  for (const b of backends) {
    if (b.ready && !(await b.ready())) throw new UsageError(`runtime backend '${b.name}' cannot run here`);
  }
  return driveKernel(execute(graph, feeds, options, backends));
}

/**
 * runGraph for callers that cannot await: every kernel must be synchronous and every tensor on
 * the host (the `wasm` backend; in a browser, await initKernels() first).
 */
export function runGraphSync(graph: Graph, feeds: ReadonlyMap<string, Tensor> | Record<string, Tensor>, options: RunOptions = {}): RunResult {
  const r = execute(graph, feeds, options, backendsOf(options)).next();
  if (!r.done) {
    void Promise.resolve(r.value).catch(() => undefined); // nobody will wait for it
    throw new UsageError('runGraphSync: a kernel or an input needs to be awaited (a device backend); use runGraph');
  }
  return r.value;
}

/**
 * The run itself, as a generator: it yields a promise only where a kernel returned one or an
 * input must be downloaded, and is resumed with the promise's value.
 */
function* execute(
  source: Graph,
  feeds: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  options: RunOptions,
  backends: readonly Backend[],
  /** for a subgraph (If / Loop / Scan body): the values it reads from the graphs around it */
  scope?: ReadonlyMap<string, Tensor>,
): Generator<Promise<unknown>, RunResult, unknown> {
  const feedMap = feeds instanceof Map ? feeds : new Map(Object.entries(feeds));
  checkFeeds(source, feedMap, !scope);
  const { graph, lowered } = scope ? { graph: source, lowered: undefined } : executableGraph(source, feedMap, options);
  const asked = options.outputs ?? source.outputs.map((o) => o.name);
  // the names the caller asked for, as values of the graph that runs
  const at = (w: string): LoweredValue => (lowered ? lowered.values.get(w) ?? { name: w } : { name: w });
  const wanted = asked.map((w) => at(w).name);

  // Whole-run replay (RunReplayer) for a run whose only results are its outputs, as computed.
  const replayer = backends[0]!.replayer;
  let recording: ReplayKey | undefined;
  if (replayer && !scope && !options.keepIntermediates && !options.onValue && !options.onProgress && !asked.some((w) => at(w).perm)) {
    const key: ReplayKey = { graph, backends: backends.map((b) => b.name).join(), outputs: wanted, feeds: feedMap };
    const replayed = replayer.replay(key);
    if (replayed) {
      const outs = (yield replayed) as Tensor[];
      return { outputs: new Map(asked.map((w, i) => [w, outs[i]!])) };
    }
    replayer.record(key);
    recording = key;
  }
  // replayable so far: every node that reads a value depending on the feeds ran on backends[0]
  let replayable = !!recording;
  // the values that are the same every run (constants, and host results computed from them only)
  const fixed = recording ? new Set([...graph.initializers.keys()].filter((k) => !feedMap.has(k))) : undefined;

  const steps = cachedPlan(graph, backends, scope && new Set(scope.keys()));

  const env = new Map<string, Tensor>(scope);
  for (const [k, v] of graph.initializers) env.set(k, v);
  for (const [k, v] of feedMap) env.set(k, v);
  asked.forEach((w, i) => {
    const name = wanted[i]!;
    if (!env.has(name) && !source.initializers.has(w) && !steps.some((s) => s.node.outputs.includes(name))) throw new GraphError(`'${w}' is not a value of the graph`);
  });

  // Free an intermediate after its last reader unless it is wanted.
  const lastUse = new Map<string, number>();
  steps.forEach((s, i) => {
    s.node.inputs.forEach((v) => v && lastUse.set(v, i));
    s.implicit.forEach((v) => lastUse.set(v, i));
  });
  const keep = new Set(wanted);
  const values = options.keepIntermediates ? new Map<string, Tensor>() : undefined;
  // The host buffers of kernel outputs (wasm/host-buffers.ts) go back for reuse when the last
  // value holding one is freed: counted per buffer, as values may share one (Reshape, a deferred
  // Transpose's source). Outputs are never freed; an observer's values are reused only when it
  // names what it observes (`observe`: it reads them during onValue), not when it may keep them.
  const reuse = !values && (!options.onValue || !!options.observe);
  const buffers = new Shares<ArrayBufferLike>(releaseBuffer);
  // a sequence's or an optional's tensors are copies it owns (runtime/ops/seq-values.ts): no buffer
  const bufferOf = (t: Tensor) => ownedBuffer(t.deferred?.source ?? (t.onHost && !valueKind(t) ? t.data : undefined));
  // the caller's: feeds and constants may be earlier outputs (constant folding runs kernels) that
  // a value here aliases (a Reshape of an input): such a buffer is held for the whole run
  if (reuse) {
    for (const t of [...feedMap.values(), ...graph.initializers.values(), ...(graph === source ? [] : source.initializers.values()), ...(scope?.values() ?? [])]) {
      const b = bufferOf(t);
      if (b) buffers.pin(b);
    }
  }
  // Device buffers (a backend's TensorStorage) are counted the same way and disposed (back to
  // the backend's pool) when their last value is freed, and at the end once outputs are on the host.
  const storages = new Shares<TensorStorage>((s) => s.dispose!());
  if (reuse) for (const t of [...feedMap.values(), ...(scope?.values() ?? [])]) if (t.storage) storages.pin(t.storage);
  const letGo = (name: string): void => {
    storages.letGo(name);
    buffers.letGo(name);
  };
  // A value computed under its own name, or (lowered graph) the source values it holds, each
  // permuted back to its source layout only when read (Tensor.permute is deferred).
  function* emit(name: string, t: Tensor, node: Node | undefined): Generator<Promise<unknown>, void, unknown> {
    if (!lowered) {
      values?.set(name, t);
      if (node) options.onValue?.(name, t, node);
      return;
    }
    const held = lowered.sources.get(name);
    if (!held) return;
    for (const s of held) {
      if (s.perm && !t.onHost) yield t.download();
      const v = s.perm ? t.permute(s.perm) : t;
      values?.set(s.name, v);
      options.onValue?.(s.name, v, s.node);
    }
  }
  // the steps whose outputs hold an observed value: their kernels note its range (options.ranges)
  const observed = options.ranges && options.onValue && !values ? options.observe : undefined;
  const noting = observed && steps.map(({ node }) => node.outputs.some((o) => !!o && (lowered ? (lowered.sources.get(o) ?? []).some((s) => observed.has(s.name)) : observed.has(o))));
  if (lowered && (values || options.onValue)) {
    // source values that are the data of an input or a constant as it is (an absorbed Transpose)
    for (const [k, v] of env) yield* emit(k, v, undefined);
  }

  // A node's subgraphs run on this executor, seeing the values of this graph (and of those around it).
  const runSubgraph: SubgraphRunner = function* (body, inputs) {
    if (inputs.length !== body.inputs.length) throw new GraphError(`subgraph '${body.name}' takes ${body.inputs.length} inputs, given ${inputs.length}`);
    const seen = new Map<string, Tensor>();
    for (const v of bodyReads(body)) {
      const t = env.get(v);
      if (!t) throw new GraphError(`subgraph '${body.name}' reads '${v}', which is not computed in the graphs around it`);
      seen.set(v, t);
    }
    const onBody = options.onSubgraphValue;
    if (onBody) {
      body.inputs.forEach((v, k) => inputs[k] && onBody(body, v.name, inputs[k]!));
      for (const [v, t] of seen) onBody(body, v, t);
    }
    const inner: RunOptions = { backends: options.backends, ops: options.ops, ...(onBody ? { onSubgraphValue: onBody, onValue: (name: string, t: Tensor) => onBody(body, name, t) } : {}) };
    const r = yield* execute(body, new Map(body.inputs.map((v, k) => [v.name, inputs[k]!])), inner, backends, seen);
    return body.outputs.map((o) => r.outputs.get(o.name)!);
  };

  for (let i = 0; i < steps.length; i++) {
    const { node, choices, implicit, nested } = steps[i]!;
    const ctx: OpContext = nested ? { ...steps[i]!.ctx, runSubgraph } : steps[i]!.ctx;
    const inputs = node.inputs.map((name) => {
      if (!name) return undefined;
      const v = env.get(name);
      if (!v) throw new GraphError(`node '${node.name}' (${node.opType}): input '${name}' was freed or never computed`);
      return v;
    });
    let outs: Tensor[];
    const note = noting && noting[i];
    if (note) recordOutputRanges(true);
    try {
      let choice: Choice | undefined = choices[0]!;
      if (choices.length > 1 || choice.kernel.accepts) {
        choice = choices.find((c) => !c.kernel.accepts || c.kernel.accepts(inputs, c.attrs, ctx));
        if (!choice) throw new UnsupportedError(`${node.opType} on these inputs`, `no kernel of ${choices.map((c) => c.backend.name).join(', ')} takes them`);
      }
      for (const t of inputs) {
        if (t && !takesAsIs(choice.backend, t)) {
          replayable = false;
          yield t.download();
        }
      }
      if (replayable && choice.backend !== backends[0]) {
        if (node.inputs.every((v) => !v || fixed!.has(v))) for (const o of node.outputs) fixed!.add(o);
        else replayable = false;
      }
      const r = choice.kernel.run(inputs, choice.attrs, ctx);
      if (r instanceof Promise) replayable = false;
      outs = r instanceof Promise ? ((yield r) as Tensor[]) : r;
    } catch (e) {
      if (note) recordOutputRanges(false);
      throw withNode(e, node);
    }
    try {
      for (let k = 0; k < node.outputs.length; k++) {
        const name = node.outputs[k];
        if (!name) continue;
        const t = outs[k];
        if (!t) throw new GraphError(`node '${node.name}' (${node.opType}) did not produce output ${k} '${name}'`);
        env.set(name, t);
        if (reuse) {
          const b = bufferOf(t);
          if (b) buffers.hold(name, b);
        }
        // with keepIntermediates every value is downloaded at the end, so its device copy can go then
        if ((reuse || values) && t.storage?.dispose) storages.hold(name, t.storage);
        if (values || options.onValue) yield* emit(name, t, node);
      }
    } finally {
      if (note) recordOutputRanges(false);
    }
    options.onProgress?.(i + 1, steps.length, node);
    if (!values) {
      for (const name of implicit.length ? [...node.inputs, ...implicit] : node.inputs) {
        if (name && lastUse.get(name) === i && !keep.has(name) && !graph.initializers.has(name) && !feedMap.has(name) && !scope?.has(name)) {
          env.delete(name);
          letGo(name);
        }
      }
    }
  }

  // What the caller gets is on the host, in the source's layout.
  const outputs = new Map<string, Tensor>();
  for (let i = 0; i < asked.length; i++) {
    const w = asked[i]!;
    const { name, perm } = at(w);
    let t = env.get(name) ?? source.initializers.get(w)!;
    if (perm) {
      if (!t.onHost) yield t.download();
      t = permute(t, perm);
    }
    outputs.set(w, t);
  }
  if (recording) replayer!.recorded(recording, replayable ? asked.map((w) => outputs.get(w)!) : undefined);
  for (const t of [...outputs.values(), ...(values?.values() ?? [])]) {
    if (!t.onHost) yield t.download();
  }
  // what is left on a device was downloaded above (outputs, kept values) or is not needed (feeds excepted)
  storages.letGoAll();
  return values ? { outputs, values } : { outputs };
}

// The values each subgraph reads from the graphs around it, by subgraph (treated as immutable, as nodes are).
const subgraphReads = new WeakMap<Graph, string[]>();

function bodyReads(body: Graph): string[] {
  let r = subgraphReads.get(body);
  if (!r) subgraphReads.set(body, (r = [...outerReads(body)]));
  return r;
}

/** Bytes of all tensors, for progress and memory reports. */
export function tensorBytes(ts: Iterable<Tensor>): number {
  let n = 0;
  for (const t of ts) n += t.size * (DTYPES[t.dtype].bytes || 0);
  return n;
}
