// Output-aware activation range search for int8 (`method: 'search'`): each activation's clipping
// range is chosen so that the error at a later point of the network is least, not the tensor's own
// rounding error (as minmax / mse do). Sequential, with everything upstream already quantized (as
// AdaQuant and Nahshan et al.'s loss-aware post-training quantization do): the graph (its weights
// already int8, dequantized) runs node by node over a few calibration samples in nnport's QDQ
// simulation; at each value that gets its own range, its range (mse's, in quantize.ts) is moved one
// end at a time (coordinate descent: the upper end, then the lower one) in steps of 5 % of it, towards
// more clipping while the error falls, else towards the calibrated min / max; each candidate is
// judged by running the nodes from that value
// to its *checkpoint* -- the first later value every path from it passes through, after at least
// one conv / dense op on some path (a residual stream's value: the next block's output; a ReLU6
// feeding a depthwise conv: that conv's output) -- with the values inside quantized at their
// current ranges, against the same run with that value unrounded (the error its rounding and
// clipping add there; against the float graph's value, which lets a range offset upstream error on
// the few samples, it measured worse on held-out photos). The tensors tied to one range (pads,
// pools, reshapes sharing their input's parameters) are quantized with it throughout, so their
// error counts too. The search runs on the channels-last graph lowered to NCHW (the runtime's own
// lowering): per-tensor rounding does not depend on the layout. A candidate's region runs as one QDQ
// graph on the samples stacked on the batch axis (node by node where one of its ops mixes samples);
// both give the same numbers, and most of the time is the region's convolutions either way.
import { QuantizationError } from '../ir/errors.js';
import { topologicalOrder, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { lowerForRun } from '../runtime/lower-for-run.js';
import { fuseConv } from '../runtime/fuse-conv.js';
import { dequantizePerTensor, quantizePerTensor, scaleZeroPointFromMinMax, type RangeOptions } from '../wasm/quantize.js';

/** Where a value's int8 parameters come from (quantize.ts' plan). */
export type RangeSource = { kind: 'range' } | { kind: 'shared'; from: string } | { kind: 'fixed'; scale: number; zeroPoint: number };

export interface ScaleSearchOptions {
  /** the ranges the search starts from (quantize.ts: default mse's) */
  from?: 'minmax' | 'mse';
  /** calibration samples the search runs on (default 8, spread over the set) */
  samples?: number;
  /** each end of a range moves in steps of this fraction of its initial value (default 0.05) */
  step?: number;
  /** and no lower than this fraction of it (default 0.5) */
  minRatio?: number;
  /** how many checkpoints ahead the error is measured (default 1: the first) */
  horizon?: number;
  /** passes over the graph (default 1; a second one revisits each range with the later ones searched) */
  sweeps?: number;
  /** a step is taken when it lowers the error by more than this fraction (default 0) */
  minGain?: number;
  /**
   * the checkpoint's reference: the quantized path's value with this value unrounded (default: the
   * error this value's rounding adds), or the float graph's (the error of everything upstream too,
   * which a range may then offset on the few samples: measured to generalize worse)
   */
  objective?: 'float' | 'unrounded';
  /**
   * how a candidate's region runs: 'region' (default) as one QDQ graph on the stacked samples where
   * every node of it takes them stacked, else node by node; 'node' always node by node (the same
   * numbers, for tests and the bench)
   */
  runRegions?: 'region' | 'node';
  /** counted into when given: region runs made as one graph, and node by node */
  runs?: { graph: number; nodes: number };
}

export interface ScaleSearchResult {
  /** values whose range the search changed, with the ratios chosen for their lower and upper end */
  changed: { value: string; lo: number; hi: number }[];
  /** values searched (the others kept their calibrated range: no checkpoint could be run) */
  searched: number;
}

const STEP = 0.05;
const MIN_RATIO = 0.5;
const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** x rounded to the int8 (int16) grid of its parameters, as QuantizeLinear -> DequantizeLinear (WASM kernels). */
function fakeQuantize(x: Float32Array, p: { scale: number; zeroPoint: number }, dtype: 'int8' | 'int16'): Float32Array {
  const q = quantizePerTensor(x, p.scale, p.zeroPoint, { dtype, rounding: 'half-even' });
  return dequantizePerTensor(q, p.scale, p.zeroPoint).data as Float32Array;
}

/** The float value of every weight DequantizeLinear in `dq` (run once), for the simulation graph's initializers. */
export async function dequantizedWeights(dq: readonly Node[], inits: ReadonlyMap<string, Tensor>, opsets: Record<string, number>): Promise<Map<string, Tensor>> {
  if (!dq.length) return new Map();
  const g: Graph = { name: 'weights', nodes: [...dq], inputs: [], outputs: dq.map((n) => ({ name: n.outputs[0]!, dtype: 'float32' as const })), initializers: new Map(inits), opsets };
  return (await runGraph(g, new Map())).outputs;
}

/**
 * Search the range of every `range` value of `plan` in `ranges` (initial: the calibration method's;
 * changed in place), never past `limits` (the calibrated min / max). `g` is the float graph with
 * the int8 weights in it (dequantized), `samples` its calibration feeds.
 */
export async function searchActivationRanges(
  g: Graph,
  plan: ReadonlyMap<string, RangeSource>,
  ranges: Map<string, [number, number]>,
  limits: ReadonlyMap<string, [number, number]>,
  samples: readonly Map<string, Tensor>[],
  act: RangeOptions,
  options: ScaleSearchOptions = {},
): Promise<ScaleSearchResult> {
  if (!samples.length) throw new QuantizationError('the range search needs calibration samples');
  const count = Math.min(samples.length, options.samples ?? 8);
  // spread over the set (calibration sets are often several crops of each photo in a row)
  const feeds = Array.from({ length: count }, (_, k) => samples[Math.floor((k * samples.length) / count)]!);
  const step = options.step ?? STEP;
  const minRatio = options.minRatio ?? MIN_RATIO;
  const horizon = options.horizon ?? 1;
  const sweeps = options.sweeps ?? 1;
  const minGain = options.minGain ?? 0;
  const objective = options.objective ?? 'unrounded';
  const regionGraphs = (options.runRegions ?? 'region') === 'region';
  const S = feeds.length;
  if (act.dtype !== 'int8' && act.dtype !== 'int16') throw new QuantizationError(`the range search quantizes activations to int8 or int16, not ${act.dtype}`);
  const dtype = act.dtype;

  // run NCHW (the runtime's lowering of a channels-last graph); values by their lowered names
  const lowered = lowerForRun(g);
  // zero Pads folded into the convs that read them (what the runtime's own plan does): a Pad's
  // output shares its input's parameters, and rounding keeps the zeros, so nothing changes but the copy
  const L = fuseConv(lowered?.graph ?? g, undefined, { padsOnly: true });
  const at = (v: string): string | undefined => (lowered ? lowered.values.get(v)?.name : v);
  // lowered value -> the source values quantized there (several when a transpose between them vanished)
  const quantizedAt = new Map<string, string[]>();
  for (const v of plan.keys()) {
    const l = at(v);
    if (l) (quantizedAt.get(l) ?? quantizedAt.set(l, []).get(l)!).push(v);
  }
  const paramsOf = (v: string): { scale: number; zeroPoint: number } => {
    const p = plan.get(v)!;
    if (p.kind === 'fixed') return act.dtype === 'int16' ? { scale: 1 / 32768, zeroPoint: 0 } : p;
    if (p.kind === 'shared') return paramsOf(p.from);
    const [lo, hi] = ranges.get(v)!;
    return scaleZeroPointFromMinMax(lo, hi, act);
  };

  const order = topologicalOrder(L);
  const outputs = new Set(L.outputs.map((o) => o.name));
  const readers = new Map<string, number[]>();
  order.forEach((n, i) => new Set(n.inputs).forEach((v) => v && (readers.get(v) ?? readers.set(v, []).get(v)!).push(i)));

  /**
   * The nodes from value `v` (made by node `from`; -1: a graph input) to its checkpoint and the
   * checkpoint's name: the first later value that all of v's descendants still read pass
   * through, once a weighted op has run on some path (else the graph outputs reached).
   */
  const regionOf = (v: string, from: number): { nodes: number[]; ends: string[] } => {
    const reached = new Set([v]);
    const pending = new Map<string, number>([[v, (readers.get(v) ?? []).length + (outputs.has(v) ? 1 : 0)]]);
    const nodes: number[] = [];
    let weighted = false;
    for (let i = from + 1; i < order.length; i++) {
      const n = order[i]!;
      if (!n.inputs.some((x) => x && reached.has(x))) continue;
      nodes.push(i);
      if (WEIGHTED.has(n.opType) && !n.domain) weighted = true;
      for (const x of new Set(n.inputs)) if (x && pending.has(x)) pending.set(x, pending.get(x)! - 1);
      for (const o of n.outputs) {
        if (!o) continue;
        reached.add(o);
        pending.set(o, (readers.get(o) ?? []).length + (outputs.has(o) ? 1 : 0));
      }
      const live = [...pending].filter(([, k]) => k > 0).map(([x]) => x);
      if (weighted && live.length === 1 && n.outputs.includes(live[0]!) && !outputs.has(live[0]!)) return { nodes, ends: live };
    }
    return { nodes, ends: [...reached].filter((x) => outputs.has(x)) };
  };

  const producer = new Map<string, number>();
  order.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  // the searched values (lowered names) and their regions
  const searchedAt = new Map<string, { source: string; nodes: number[]; ends: string[] }>();
  for (const [v, p] of plan) {
    if (p.kind !== 'range' || !ranges.has(v)) continue;
    const l = at(v);
    if (!l || quantizedAt.get(l)![0] !== v) continue;
    const from = producer.get(l) ?? -1;
    if (from < 0 && !L.inputs.some((i) => i.name === l)) continue;
    const region = regionOf(l, from);
    // further checkpoints: the next one's region after this one's
    for (let h = 1; h < horizon && region.ends.length === 1 && !outputs.has(region.ends[0]!); h++) {
      const next = regionOf(region.ends[0]!, producer.get(region.ends[0]!)!);
      if (!next.ends.length) break;
      region.nodes = [...new Set([...region.nodes, ...next.nodes])].sort((a, b) => a - b);
      region.ends = next.ends;
    }
    if (region.ends.length) searchedAt.set(l, { source: v, ...region });
  }

  const inputs = new Map(L.inputs.filter((v) => !L.initializers.has(v.name)).map((v) => [v.name, feeds.map((f) => f.get(v.name)!)] as [string, Tensor[]]));
  // the float graph's values at the checkpoints (objective 'float')
  const ends = [...new Set([...searchedAt.values()].flatMap((r) => r.ends))];
  const reference = new Map<string, Float32Array[]>(ends.map((e) => [e, []]));
  for (const f of objective === 'float' ? feeds : []) {
    const r = await runGraph(L, f, { outputs: ends });
    for (const e of ends) reference.get(e)!.push(new Float32Array(r.outputs.get(e)!.toFloat32()));
  }

  // one node at a time (a graph of that node alone, made once), on every sample at once where
  // the op treats the samples independently (stacked on the batch axis), else sample by sample
  const single = new Map<Node, Graph>();
  const nodeGraph = (n: Node, ins: string[], dtypes: Tensor[]): Graph => {
    let sg = single.get(n);
    if (!sg) {
      const inits = new Map(n.inputs.filter((x) => x && L.initializers.has(x)).map((x) => [x, L.initializers.get(x)!] as [string, Tensor]));
      sg = { name: n.name, nodes: [n], inputs: ins.map((x, k) => ({ name: x, dtype: dtypes[k]!.dtype })), outputs: n.outputs.filter(Boolean).map((o) => ({ name: o, dtype: 'float32' as const })), initializers: inits, opsets: L.opsets };
      single.set(n, sg);
    }
    return sg;
  };
  const stacks = new WeakMap<Tensor[], Tensor>();
  const stack = (ts: Tensor[]): Tensor => {
    let t = stacks.get(ts);
    if (!t) {
      const size = ts[0]!.size;
      const data = new Float32Array(size * ts.length);
      ts.forEach((x, k) => data.set(x.toFloat32(), k * size));
      stacks.set(ts, (t = new Tensor('float32', [ts.length, ...ts[0]!.shape.slice(1)], data)));
    }
    return t;
  };
  const unstack = (t: Tensor): Tensor[] => {
    const d = t.toFloat32();
    const size = d.length / S;
    const ts = Array.from({ length: S }, (_, k) => new Tensor('float32', [1, ...t.shape.slice(1)], d.subarray(k * size, (k + 1) * size)));
    stacks.set(ts, new Tensor('float32', t.shape, d));
    return ts;
  };
  /** the samples' values of one tensor rounded with parameters p (all at once when they are stacked) */
  const roundWith = (ts: Tensor[], p: { scale: number; zeroPoint: number }): Tensor[] => {
    const st = stacks.get(ts);
    if (st) return unstack(new Tensor('float32', st.shape, fakeQuantize(st.toFloat32(), p, dtype)));
    return ts.map((t) => new Tensor('float32', t.shape, fakeQuantize(t.toFloat32(), p, dtype)));
  };
  /** the value as quantized at lowered value `l` (unchanged where nothing is) */
  const quantize = (l: string, ts: Tensor[]): Tensor[] => {
    const vs = quantizedAt.get(l);
    return vs && ts[0]!.dtype === 'float32' ? roundWith(ts, paramsOf(vs[0]!)) : ts;
  };
  const noBatch = new Set<Node>();
  const runNode = async (n: Node, env: (v: string) => Tensor[] | undefined): Promise<Map<string, Tensor[]>> => {
    const ins = [...new Set(n.inputs.filter((x) => x && !L.initializers.has(x)))];
    const per = ins.map((x) => env(x)!);
    const sg = nodeGraph(n, ins, per.map((ts) => ts[0]!));
    if (!noBatch.has(n) && batchable(n) && per.every((ts) => ts[0]!.dtype === 'float32' && ts[0]!.rank >= 1 && ts[0]!.shape[0] === 1)) {
      const out = (await runGraph(sg, new Map(ins.map((x, k) => [x, stack(per[k]!)])))).outputs;
      if ([...out.values()].every((t) => t.dtype === 'float32' && t.shape[0] === S)) return new Map([...out].map(([o, t]) => [o, unstack(t)]));
      // (an op that mixes the samples, e.g. a Reshape to batch 1, runs sample by sample)
      noBatch.add(n);
    }
    const outs = new Map<string, Tensor[]>();
    for (let s = 0; s < S; s++) {
      const r = (await runGraph(sg, new Map(ins.map((x, k) => [x, per[k]![s]!])))).outputs;
      for (const [o, t] of r) outs.set(o, [...(outs.get(o) ?? []), t]);
    }
    return outs;
  };

  // the quantized path: every value computed so far (per sample), freed after its last reader
  const qenv = new Map<string, Tensor[]>();
  const left = new Map<string, number>();
  for (const [v, rs] of readers) left.set(v, rs.length);
  const result: ScaleSearchResult = { changed: [], searched: 0 };

  const tiedTo = (o: string, source: string): boolean => !!quantizedAt.get(o)?.some((v) => plan.get(v)?.kind === 'shared' && rootOf(v) === source);

  // ---- a region as one QDQ graph ----
  // The region's nodes with a QuantizeLinear -> DequantizeLinear pair at each value quantized inside
  // (the values tied to the searched range read the candidate's scale and zero point as inputs), run
  // once per candidate on the samples stacked on the batch axis: the kernels and numbers of the node
  // by node run (the same QDQ kernels as fakeQuantize, the same nodes unfused) without a graph run,
  // a stack and a rounding copy per node.
  const dtypeOf = regionGraphs ? inferShapes(L, { onError: 'unknown' }).values : new Map<string, { dtype?: string }>();
  const SCALE = '\u0000scale';
  const ZERO_POINT = '\u0000zero_point';
  interface RegionProgram {
    graph: Graph;
    /** values read from the quantized path (not made inside, not weights) */
    external: string[];
    tied: boolean;
  }
  const programs = new Map<string, RegionProgram | undefined>();
  const zeroPointTensor = (z: number): Tensor => (dtype === 'int8' ? new Tensor('int8', [], Int8Array.of(z)) : new Tensor('int16', [], Int16Array.of(z)));
  const regionProgram = (l: string, region: { nodes: number[]; ends: string[] }, source: string, rounded: boolean): RegionProgram | undefined => {
    const key = `${l}\u0000${rounded ? 1 : 0}`;
    if (programs.has(key)) return programs.get(key);
    let prog: RegionProgram | undefined;
    const nodes = region.nodes.map((i) => order[i]!);
    if (nodes.every((n) => batchable(n) && !noBatch.has(n))) {
      const made = new Set([l, ...nodes.flatMap((n) => n.outputs)]);
      const external = [...new Set(nodes.flatMap((n) => n.inputs).filter((x) => x && !made.has(x) && !L.initializers.has(x)))];
      const initializers = new Map<string, Tensor>();
      for (const n of nodes) for (const x of n.inputs) if (x && L.initializers.has(x)) initializers.set(x, L.initializers.get(x)!);
      const out: Node[] = [];
      let tied = false;
      let ok = true;
      for (const n of nodes) {
        const pairs: Node[] = [];
        const outputs = n.outputs.map((o) => {
          if (!o || region.ends.includes(o)) return o;
          let s: string;
          let z: string;
          if (tiedTo(o, source)) {
            if (!rounded) return o;
            [s, z, tied] = [SCALE, ZERO_POINT, true];
          } else {
            const vs = quantizedAt.get(o);
            if (!vs) return o;
            const d = dtypeOf.get(o)?.dtype;
            if (d !== 'float32') {
              // (quantize() rounds a float32 value only; a value of unknown type runs node by node)
              ok &&= d !== undefined;
              return o;
            }
            const p = paramsOf(vs[0]!);
            [s, z] = [`${o}\u0000scale`, `${o}\u0000zero_point`];
            initializers.set(s, Tensor.float32([], [p.scale]));
            initializers.set(z, zeroPointTensor(p.zeroPoint));
          }
          const raw = `${o}\u0000raw`;
          pairs.push({ name: `${o}\u0000q`, opType: 'QuantizeLinear', domain: '', inputs: [raw, s, z], outputs: [`${o}\u0000q`], attrs: {} });
          pairs.push({ name: `${o}\u0000dq`, opType: 'DequantizeLinear', domain: '', inputs: [`${o}\u0000q`, s, z], outputs: [o], attrs: {} });
          return raw;
        });
        out.push({ ...n, outputs }, ...pairs);
      }
      if (ok) {
        const inputs: ValueInfo[] = [l, ...external].map((name) => ({ name, dtype: 'float32' }));
        if (tied) inputs.push({ name: SCALE, dtype: 'float32' }, { name: ZERO_POINT, dtype });
        const graph: Graph = { name: `region ${l}`, nodes: out, inputs, outputs: region.ends.map((name) => ({ name, dtype: 'float32' as const })), initializers, opsets: L.opsets };
        prog = { graph, external, tied };
      }
    }
    programs.set(key, prog);
    return prog;
  };
  /** The region's checkpoint values from its program (undefined: it must run node by node). */
  const runProgram = async (prog: RegionProgram, l: string, start: Tensor[], region: { ends: string[] }, p: { scale: number; zeroPoint: number } | undefined): Promise<Map<string, Tensor[]> | undefined> => {
    const stacked = (ts: Tensor[] | undefined): Tensor | undefined => (ts && ts[0]!.dtype === 'float32' && ts[0]!.rank >= 1 && ts[0]!.shape[0] === 1 ? stack(ts) : undefined);
    const feeds = new Map<string, Tensor>();
    for (const [x, ts] of [[l, start], ...prog.external.map((x) => [x, qenv.get(x) ?? inputs.get(x)] as const)] as const) {
      const t = stacked(ts);
      if (!t) return undefined;
      feeds.set(x, t);
    }
    if (prog.tied) {
      feeds.set(SCALE, Tensor.float32([], [p!.scale]));
      feeds.set(ZERO_POINT, zeroPointTensor(p!.zeroPoint));
    }
    // unfused: the node by node run's kernels (Conv + Clip fused measured no faster here)
    const r = (await runGraph(prog.graph, feeds, { optimize: false })).outputs;
    if (!region.ends.every((e) => r.get(e)?.dtype === 'float32' && r.get(e)!.shape[0] === S)) return undefined;
    return new Map(region.ends.map((e) => [e, unstack(r.get(e)!)]));
  };

  /** error at the checkpoints with `l` quantized on [lo, hi] (raw: its values before rounding) */
  const regionOutputs = async (l: string, raw: Tensor[], region: { nodes: number[]; ends: string[] }, p: { scale: number; zeroPoint: number } | undefined, source: string): Promise<Map<string, Tensor[]>> => {
    const start = p ? roundWith(raw, p) : raw;
    const prog = regionGraphs ? regionProgram(l, region, source, !!p) : undefined;
    const fast = prog && (await runProgram(prog, l, start, region, p));
    if (options.runs) options.runs[fast ? 'graph' : 'nodes']++;
    if (fast) return fast;
    const local = new Map<string, Tensor[]>([[l, start]]);
    const env = (x: string) => local.get(x) ?? qenv.get(x) ?? inputs.get(x);
    for (const i of region.nodes) {
      const out = await runNode(order[i]!, env);
      for (const [o, ts] of out) {
        // a checkpoint is compared before its own rounding; a value tied to this range follows it
        if (region.ends.includes(o)) local.set(o, ts);
        else if (tiedTo(o, source)) local.set(o, p ? roundWith(ts, p) : ts);
        else local.set(o, quantize(o, ts));
      }
    }
    return local;
  };
  const errorWith = async (l: string, raw: Tensor[], region: { nodes: number[]; ends: string[] }, lo: number, hi: number, source: string, wantAt: Map<string, Float32Array[]>): Promise<number> => {
    const local = await regionOutputs(l, raw, region, scaleZeroPointFromMinMax(lo, hi, act), source);
    let err = 0;
    for (const e of region.ends) {
      for (let s = 0; s < S; s++) {
        const want = wantAt.get(e)![s]!;
        const got = local.get(e)![s]!.toFloat32();
        const sig = powerOf(want);
        let noise = 0;
        for (let k = 0; k < want.length; k++) noise += (want[k]! - got[k]!) ** 2;
        err += sig > 0 ? noise / sig : noise;
      }
    }
    return err;
  };
  // a reference's power, summed once for all the candidates judged against it
  const powers = new WeakMap<Float32Array, number>();
  const powerOf = (want: Float32Array): number => {
    let sig = powers.get(want);
    if (sig === undefined) {
      sig = 0;
      for (let k = 0; k < want.length; k++) sig += want[k]! * want[k]!;
      powers.set(want, sig);
    }
    return sig;
  };
  const rootOf = (v: string): string => {
    const p = plan.get(v);
    return p?.kind === 'shared' ? rootOf(p.from) : v;
  };

  /** choose the range of lowered value l (its values before rounding: raw) */
  const search = async (l: string, raw: Tensor[]): Promise<void> => {
    const target = searchedAt.get(l);
    if (!target) return;
    // a region's graph holds the other values' current ranges: made again for each search
    programs.clear();
    // every other input of the region must be on the quantized path already
    const inside = new Set([l, ...target.nodes.flatMap((i) => order[i]!.outputs)]);
    const missing = target.nodes.some((i) => order[i]!.inputs.some((x) => x && !inside.has(x) && !L.initializers.has(x) && !qenv.has(x) && !inputs.has(x)));
    if (missing) return;
    result.searched++;
    const [lo0, hi0] = ranges.get(target.source)!;
    const [loMin, hiMax] = limits.get(target.source) ?? [lo0, hi0];
    // against the float graph, or (target 'unrounded') the same quantized path with this value unrounded
    let wantAt = reference;
    if (objective === 'unrounded') {
      const local = await regionOutputs(l, raw, target, undefined, target.source);
      wantAt = new Map(target.ends.map((e) => [e, local.get(e)!.map((t) => t.toFloat32())]));
    }
    const evaluate = (lo: number, hi: number) => errorWith(l, raw, target, lo, hi, target.source, wantAt);
    let best = { lo: lo0, hi: hi0, err: await evaluate(lo0, hi0) };
    // each end in turn: steps of `step` of its initial value down (more clipping) while the error
    // falls, else up (less clipping) towards the calibrated end; never past the calibrated range
    const walk = async (end: 'lo' | 'hi', x0: number, bound: number) => {
      if (x0 === 0) return;
      for (const dir of [-1, 1]) {
        let moved = false;
        for (let k = 1; ; k++) {
          const r = 1 + dir * k * step;
          if (r < minRatio) break;
          const x = Math.abs(x0 * r) > Math.abs(bound) ? bound : x0 * r;
          if (x === best[end] || (dir > 0 && Math.abs(x0 * (r - step)) >= Math.abs(bound))) break;
          const err = end === 'hi' ? await evaluate(best.lo, x) : await evaluate(x, best.hi);
          if (!(err < best.err * (1 - minGain))) break;
          best = end === 'hi' ? { lo: best.lo, hi: x, err } : { lo: x, hi: best.hi, err };
          moved = true;
        }
        if (moved) return;
      }
    };
    await walk('hi', hi0, hiMax);
    await walk('lo', lo0, loMin);
    if (best.lo !== lo0 || best.hi !== hi0) ranges.set(target.source, [best.lo, best.hi]);
  };

  const release = (n: Node) => {
    for (const x of new Set(n.inputs)) {
      if (!x || !left.has(x)) continue;
      const k = left.get(x)! - 1;
      left.set(x, k);
      if (k === 0 && !outputs.has(x)) qenv.delete(x);
    }
  };
  const initial = new Map([...ranges].map(([v, r]) => [v, [...r] as [number, number]]));
  for (let sweep = 0; sweep < sweeps; sweep++) {
    qenv.clear();
    for (const [v, rs] of readers) left.set(v, rs.length);
    result.searched = 0;
    for (const input of L.inputs) {
      if (L.initializers.has(input.name)) continue;
      const raw = inputs.get(input.name)!;
      await search(input.name, raw);
      qenv.set(input.name, quantize(input.name, raw));
    }
    for (const n of order) {
      const out = await runNode(n, (x) => qenv.get(x) ?? inputs.get(x));
      for (const [o, raw] of out) {
        if (raw[0]!.dtype === 'float32') await search(o, raw);
        qenv.set(o, quantize(o, raw));
      }
      release(n);
    }
  }
  for (const [v, [lo0, hi0]] of initial) {
    const [lo, hi] = ranges.get(v)!;
    if (lo !== lo0 || hi !== hi0) result.changed.push({ value: v, lo: lo0 ? lo / lo0 : 1, hi: hi0 ? hi / hi0 : 1 });
  }
  return result;
}

/** Ops that compute each sample of a batch on its own (the search stacks its samples for them). */
function batchable(n: Node): boolean {
  if (n.domain && n.domain !== 'ai.onnx') return false;
  switch (n.opType) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Relu':
    case 'Clip':
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Sigmoid':
    case 'Tanh':
    case 'HardSwish':
    case 'HardSigmoid':
    case 'LeakyRelu':
    case 'PRelu':
    case 'MaxPool':
    case 'AveragePool':
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'BatchNormalization':
    case 'Pad':
    case 'Identity':
      return true;
    case 'Transpose':
      return (n.attrs.perm?.type === 'ints' ? n.attrs.perm.value[0] : undefined) === 0;
    default:
      return false;
  }
}
