// Calibration for int8 / int16x8 quantization: the float graph runs over the samples with
// nnport's runtime, and the range (and for percentile / entropy the |x| histogram) of every value
// that gets its own quantization parameters is collected. quantize.ts chooses the parameters.
import { QuantizationError } from '../ir/errors.js';
import { subgraphsOf, type Graph, type ValueInfo } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { cast } from '../runtime/ops/cast.js';
import { histogram, minMax } from '../wasm/calibrate.js';
import { permuteTensor } from './layout.js';
import { channelsLastPerm } from './layout-permutations.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse' | 'search';
/** Calibration samples: each feeds by input name, or tensors in input order. */
export type CalibrationSamples = Iterable<Map<string, Tensor> | Tensor[]> | AsyncIterable<Map<string, Tensor> | Tensor[]>;

/** The range of one value over the samples; the |x| histogram for percentile / entropy, the signed one over [min, max] for mse. */
export interface Stats {
  min: number;
  max: number;
  hist?: Uint32Array;
  histMax?: number;
  /** mse: the histogram's lower end (it covers [histMin, histMax] of the signed values) */
  histMin?: number;
}

export const HIST_BINS = 2048;

/** The key of a value of a control-flow body (by the body's name, unique in the graph) among calibration's stats and floats. */
export const bodyValueKey = (body: string, value: string): string => `${body}\u0000${value}`;

/**
 * Run the float graph over the samples, recording the range of each value in `needed` only (the
 * values that get their own int8 parameters: not those fused into an activation, sharing their
 * input's parameters or fixed by the spec), so calibration costs little more than the forward
 * passes themselves: after the first sample (which sees every value, to learn which are float),
 * the runtime is told that only `needed` must be seen, so it runs the same fused graph as a
 * plain forward pass, and each range is taken in place (WASM minMax, nothing kept). The samples
 * are kept only for what reads them again: the histogram pass (percentile / entropy) and the
 * report.
 */
export async function calibrate(
  g: Graph,
  needed: ReadonlySet<string>,
  samples: CalibrationSamples | ((inputs: readonly ValueInfo[]) => CalibrationSamples) | undefined,
  method: CalibrationMethod,
  onProgress?: (n: number) => void,
  // bodies: the values of kept If / Loop bodies too, under bodyValueKey (every execution widens a range)
  options?: { onNote?: (note: string) => void; report?: boolean; bodies?: boolean },
  // cross-layer equalization's per-channel ranges (src/passes/equalize.ts), of values in `needed`,
  // and GPTQ's Hessians (src/passes/weight-rounding.ts), of `alsoNeeded` too
  alsoObserve?: (name: string, t: Tensor) => void,
  alsoNeeded?: ReadonlySet<string>,
): Promise<{ stats: Map<string, Stats>; floats: Set<string>; count: number; inputs: Map<string, Tensor>[] }> {
  if (!samples) throw new QuantizationError('int8 quantization needs calibration samples (--calibration DIR)');
  const stats = new Map<string, Stats>();
  const keep = method !== 'minmax' || !!options?.report;
  const kept: Map<string, Tensor>[] = [];
  // the values computed as float32 (on the first sample: the graph's dtypes do not change)
  const floats = new Set<string>();
  /** The range of `key` widened to take float32 `t`. */
  const widen = (key: string, t: Tensor) => {
    const r = minMax(t);
    const s = stats.get(key);
    if (!s) stats.set(key, { min: r.min, max: r.max });
    else {
      s.min = Math.min(s.min, r.min);
      s.max = Math.max(s.max, r.max);
    }
  };
  const observe = (name: string, t: Tensor) => {
    alsoObserve?.(name, t);
    if (count === 0 && t.dtype === 'float32' && t.size > 0) floats.add(name);
    if (!needed.has(name) || t.dtype !== 'float32' || t.size === 0) return;
    widen(name, t);
  };
  // a body value counts as float when any execution computed it so (a branch may not run on the first sample)
  const observeBody = (body: Graph, name: string, t: Tensor) => {
    if (t.dtype !== 'float32' || t.size === 0) return;
    const key = bodyValueKey(body.name, name);
    floats.add(key);
    widen(key, t);
  };
  // Folding a BatchNormalization into its conv's weights rounds differently: the ranges would
  // no longer be those of the graph as given, so such a graph runs unfused throughout.
  // (with bodies observed every value is seen: nothing is fused)
  // (a graph that keeps If / Loop runs as given too: lowered to NCHW, the values its bodies read have other names)
  const controlFlow = g.nodes.some((n) => subgraphsOf(n).length > 0);
  const fusable = !g.nodes.some((n) => n.opType === 'BatchNormalization') && !options?.bodies && !controlFlow;
  // (bodies: run as given, not lowered to NCHW, whose bodies' values have other names)
  const first = options?.bodies ? { onValue: observe, onSubgraphValue: observeBody, optimize: false } : controlFlow ? { onValue: observe, optimize: false } : { onValue: observe };
  // the kernels take the observed values' ranges while they are in WASM memory (minMax below reads them)
  const rest = fusable ? { onValue: observe, observe: alsoNeeded?.size ? new Set([...needed, ...alsoNeeded]) : needed, ranges: true } : first;
  let count = 0;
  let noted = false;
  const inputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const toFeeds = (sample: Map<string, Tensor> | Tensor[]): Map<string, Tensor> => {
    const list = Array.isArray(sample) ? sample : inputs.map((v) => sample.get(v.name));
    if (list.length !== inputs.length || list.some((t) => !t)) throw new QuantizationError(`a calibration sample must give ${inputs.length} input(s): ${inputs.map((v) => v.name).join(', ')}`);
    return new Map(
      inputs.map((v, i) => {
        let t = list[i]!;
        const want = v.shape?.map((d) => (typeof d === 'number' ? d : null)) ?? [];
        const fits = (s: readonly number[]) => s.length === want.length && s.every((d, k) => want[k] === null || want[k] === d);
        // channels-first of any spatial rank (NCW, NCHW, NCDHW): the layout pass moves the channels last
        const perm = channelsLastPerm(t.rank);
        if (!fits(t.shape) && t.rank >= 3 && fits(perm.map((k) => t.shape[k]!))) {
          t = permuteTensor(t, perm);
          if (!noted) options?.onNote?.(`calibration samples are channels-first [${list[i]!.shape.join(', ')}]; transposed to the model's channels-last input`);
          noted = true;
        }
        if (!fits(t.shape)) throw new QuantizationError(`calibration sample for '${v.name}' has shape [${t.shape.join(', ')}], the input is [${want.map((d) => d ?? '?').join(', ')}]`);
        // the sample in the input's own type: token ids stay integers (a .npy of floats for a float input)
        if (t.dtype !== v.dtype) t = cast(t, v.dtype);
        return [v.name, t] as [string, Tensor];
      }),
    );
  };
  const source = typeof samples === 'function' ? samples(inputs) : samples;
  for await (const sample of source as AsyncIterable<Map<string, Tensor> | Tensor[]>) {
    const feeds = toFeeds(sample);
    for (const [k, v] of feeds) observe(k, v);
    await runGraph(g, feeds, count === 0 ? first : rest);
    if (keep) kept.push(feeds);
    count++;
    onProgress?.(count);
  }
  if (!count) throw new QuantizationError('the calibration set is empty');
  if (method !== 'minmax') {
    // second pass: |x| histograms over [0, max|x|] for percentile / KL clipping, signed ones for mse
    for (const s of stats.values()) {
      s.histMax = method === 'mse' ? s.max : Math.max(-s.min, s.max);
      if (method === 'mse') s.histMin = s.min;
      s.hist = new Uint32Array(HIST_BINS);
    }
    // |x| into one scratch array reused for every value (not a new array per value and sample)
    let scratch = new Float32Array(0);
    const add = (name: string, t: Tensor) => {
      const s = stats.get(name);
      if (!s || !s.hist || t.dtype !== 'float32' || !(s.histMax! > (s.histMin ?? 0))) return;
      // |x| does not depend on the layout: a deferred permutation (a channels-last graph run
      // lowered) is read as it was computed, without making the permuted copy
      const view = t.deferred;
      const x = view && view.source instanceof Float32Array && view.source.length === t.size ? view.source : (t.data as Float32Array);
      // mse: the signed values over [min, max] (a histogram does not depend on the layout either)
      if (s.histMin !== undefined) return void histogram(x, HIST_BINS, s.histMin, s.histMax!, { counts: s.hist });
      if (scratch.length < x.length) scratch = new Float32Array(x.length);
      const abs = scratch.subarray(0, x.length);
      for (let i = 0; i < x.length; i++) abs[i] = Math.abs(x[i]!);
      histogram(abs, HIST_BINS, 0, s.histMax!, { counts: s.hist });
    };
    const histOptions = fusable ? { onValue: add, observe: new Set(stats.keys()) } : options?.bodies ? { onValue: add, onSubgraphValue: (body: Graph, name: string, t: Tensor) => add(bodyValueKey(body.name, name), t), optimize: false } : { onValue: add, optimize: !controlFlow };
    for (const feeds of kept) {
      for (const [k, v] of feeds) add(k, v);
      await runGraph(g, feeds, histOptions);
    }
  }
  return { stats, floats, count, inputs: keep && options?.report ? kept : [] };
}
