// Cross-layer equalization before int8 quantization (Nagel et al. 2019, "Data-Free Quantization
// Through Weight Equalization and Bias Correction"; Meller et al. 2019): per-tensor int8
// activations give every channel of a tensor the same step, so a channel whose values span a
// hundredth of the tensor's range keeps a few levels. Where a tensor runs linearly from convs to
// convs, its channel c can be multiplied by s_c > 0 -- the producers' output channel c (weights
// and bias) times s_c, the consumers' input channel c divided by s_c -- and the float function is
// unchanged; the scales are chosen from the calibration ranges so that every channel fills the
// tensor's range. Only rewrites that are exact on the calibration data: conv -> [Add | Relu | Clip |
// MaxPool | zero Pad]* -> conv (or a depthwise conv, which reads channel c into its own channel c:
// dividing its weights' channel c by s_c keeps its output). A residual stream is one group (every
// Add input and output carries the same scales); Relu and max pooling commute with positive scales.
// A Clip (ReLU6) does not: clip(s·x, 0, 6) = s·clip(x, 0, 6/s), and TFLite has no per-channel bound.
// It stays exact where the data stays clear of the bound: a channel whose calibrated maximum m_c is
// below 6 may be scaled by s_c <= 6 / (h·m_c) (headroom h, default 2): then clip(x, 0, 6/s_c) =
// clip(x, 0, 6) for every x up to h·m_c, every calibration sample included; a channel that reached
// 6 keeps s_c = 1. Not exact beyond that: a rescaled channel of an input that goes past h times
// its calibrated maximum now clips at h·m_c where the float model clips at 6 -- the kind of
// clipping int8 applies anyway at a tensor's calibrated range, but per channel and tighter. On the
// trained MobileNet-v2's held-out photos the equalized float model is 52.8 dB from the original
// with h = 2 (32.9 dB with h = 1, which cost 1 dB of int8 SNR; bench/RESULTS.md, qclip).
// A graph output is never in a group.
import { UnsupportedError } from '../ir/errors.js';
import { attrFloat, attrInt, attrString, producersOf, readersOf, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { channelMinMax, channelStats } from '../wasm/calibrate.js';

/** A conv whose output (producer) or input (consumer) channels are rescaled, and along which weight axis. */
interface Endpoint {
  node: Node;
  axis: number;
}

/** A consumer conv, the group value it reads and its weights' output-channel axis. */
interface Consumer extends Endpoint {
  input: string;
  outAxis: number;
}

/** Values that carry the same per-channel scaling, with the convs that write and read them. */
export interface EqualizationGroup {
  values: string[];
  channels: number;
  producers: Endpoint[];
  consumers: Consumer[];
  /** value -> the group values computed from it (through Add / Relu / Clip / MaxPool / Pad) */
  next: Map<string, string[]>;
  /** the group values that a Clip computes, with its bounds: they bound each channel's scale (see the top) */
  clipped: Map<string, ClipBounds>;
}

/** A Clip's bounds (lo <= 0 <= hi; either may be infinite). */
export interface ClipBounds {
  lo: number;
  hi: number;
}

export interface ChannelRange {
  min: Float32Array;
  max: Float32Array;
  /** the count of the values seen per channel (every sample; min and max are over every sample too) */
  count: number;
  /**
   * per channel, the sum of squares, the sum and the count of the non-zero values over the first
   * MOMENT_SAMPLES samples, and the count of the values they cover
   */
  sumSquares: Float64Array;
  sum: Float64Array;
  nonZero: Float64Array;
  momentCount: number;
  /** the tensors seen */
  samples: number;
}

export interface EqualizeOptions {
  /**
   * The exponent of the activation balancing: s_c = (range_c / range_max)^-alpha (1: every channel
   * fills the tensor's range; 0: no change). Default: per group, the one of 0, 1/4, ..., 1 whose
   * predicted int8 noise at the consumers' outputs is least.
   */
  alpha?: number;
  /** The largest scale one channel gets (a nearly dead channel is not blown up without bound). Default 64. */
  maxScale?: number;
  /**
   * Through a Clip: how far past its calibrated maximum a rescaled channel may go before its
   * (rescaled) bound clips it, as a factor (see the top). Default 2.
   */
  clipHeadroom?: number;
}

export interface EqualizeResult {
  graph: Graph;
  /** per group value, the scale of each channel (value_equalized[c] = s[c] · value[c]) */
  scales: Map<string, Float32Array>;
  groups: number;
  /** per group (in findEqualizationGroups' order), the alpha used (0: left as it was) */
  alphas: number[];
}

const isOnnx = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';
const isConv = (n: Node) => n.domain === 'nnport' && n.opType === 'Conv';
/** Ops that commute with a positive per-channel scale (a Clip: within its bounds) and keep channels where they are. */
const passesScale = (n: Node) => (isOnnx(n) && (n.opType === 'Add' || n.opType === 'Relu' || n.opType === 'Pad' || n.opType === 'Clip')) || (n.domain === 'nnport' && n.opType === 'MaxPool');

/** The inputs of a pass-through op that carry the scaled channels (a Pad's or Clip's data only). */
const scaledInputs = (n: Node): string[] => (n.opType === 'Pad' || n.opType === 'Clip' ? n.inputs.slice(0, 1) : n.inputs.filter((i) => i));

/** A Clip's constant bounds when they hold 0 (a positive scale keeps 0 where it is), else undefined. */
export function clipBounds(n: Node, g: Graph): ClipBounds | undefined {
  const bound = (i: number, attr: string, none: number): number | undefined => {
    const name = n.inputs[i];
    if (!name) return attrFloat(n, attr, none);
    const t = g.initializers.get(name);
    return t && t.size === 1 ? t.toNumbers()[0] : undefined;
  };
  const lo = bound(1, 'min', -Infinity);
  const hi = bound(2, 'max', Infinity);
  return lo !== undefined && hi !== undefined && lo <= 0 && hi >= 0 ? { lo, hi } : undefined;
}

/** A Pad that pads with zeros (0 · s = 0) and leaves the channel axis alone. */
function zeroPad(n: Node, g: Graph): boolean {
  if (attrString(n, 'mode', 'constant') !== 'constant' || (n.inputs[3] ?? '') !== '') return false;
  const pads = g.initializers.get(n.inputs[1] ?? '');
  const value = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
  if (!pads || (n.inputs[2] && !value) || (value && value.toNumbers().some((x) => x !== 0))) return false;
  const p = pads.toNumbers();
  const rank = p.length / 2;
  return p[rank - 1] === 0 && p[2 * rank - 1] === 0;
}

/** The weight axis of a channels-last conv's output channels. */
function outputAxis(n: Node, rank: number): number {
  return attrString(n, 'kernel_layout', 'HWIO') === 'OHWI' ? 0 : rank - 1;
}

/** The weight axis of a channels-last conv's input channels (group 1 only). */
function inputAxis(n: Node, rank: number): number {
  return attrString(n, 'kernel_layout', 'HWIO') === 'OHWI' ? rank - 1 : rank - 2;
}

/**
 * The groups of values that can be rescaled per channel exactly (through a Clip: on the
 * calibration data, see the top): each starts at convs with constant float weights (and bias)
 * read by nothing else, passes only through Add / Relu / Clip / MaxPool / a zero Pad, and ends at
 * group-1 or depthwise (one output channel per input channel) convs reading it as their data input.
 */
export function findEqualizationGroups(g: Graph): EqualizationGroup[] {
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((v) => v.name));
  const inputs = new Set(g.inputs.map((v) => v.name));
  // a float constant only this node reads (an input that overrides it does not count)
  const ownConstant = (name: string | undefined): Tensor | undefined => {
    if (!name || inputs.has(name) || readers.get(name)?.length !== 1) return undefined;
    const t = g.initializers.get(name);
    return t && t.dtype === 'float32' ? t : undefined;
  };
  const seen = new Set<string>();
  const groups: EqualizationGroup[] = [];
  for (const start of g.nodes) {
    if (!isConv(start) || seen.has(start.outputs[0]!)) continue;
    const values = new Set<string>();
    const producers = new Map<Node, Endpoint>();
    const consumers = new Map<Node, Consumer>();
    const next = new Map<string, string[]>();
    const clipped = new Map<string, ClipBounds>();
    let channels = -1;
    let ok = true;
    const work = [start.outputs[0]!];
    while (work.length && ok) {
      const v = work.pop()!;
      if (values.has(v)) continue;
      values.add(v);
      seen.add(v);
      if (outputs.has(v) || inputs.has(v) || g.initializers.has(v)) ok = false;
      const p = producer.get(v);
      if (!p) ok = false;
      else if (passesScale(p)) {
        const bounds = p.opType === 'Clip' ? clipBounds(p, g) : undefined;
        if (p.outputs.length !== 1 || p.inputs.length < 1 || (p.opType === 'Pad' && !zeroPad(p, g)) || (p.opType === 'Clip' && !bounds)) ok = false;
        if (bounds) clipped.set(v, bounds);
        // Add's two inputs and MaxPool's, Relu's and Pad's one all carry the scales
        for (const i of scaledInputs(p)) {
          work.push(i);
          if (!(next.get(i) ?? []).includes(v)) next.set(i, [...(next.get(i) ?? []), v]);
        }
      } else if (isConv(p) && !producers.has(p)) {
        const w = ownConstant(p.inputs[1]);
        const b = p.inputs[2];
        if (!w || (b && !ownConstant(b)) || p.outputs.length !== 1) ok = false;
        else {
          const axis = outputAxis(p, w.rank);
          const c = w.shape[axis]!;
          if (channels >= 0 && channels !== c) ok = false;
          channels = c;
          producers.set(p, { node: p, axis });
        }
      } else if (!isConv(p)) ok = false;
      for (const r of readers.get(v) ?? []) {
        if (passesScale(r)) {
          if (r.opType === 'Add' ? r.inputs.length !== 2 : r.inputs[0] !== v || r.inputs.slice(1).includes(v) || (r.opType === 'Pad' && !zeroPad(r, g)) || (r.opType === 'Clip' && !clipBounds(r, g))) ok = false;
          for (const o of r.outputs) if (o) work.push(o);
        } else if (isConv(r) && r.inputs[0] === v && r.inputs[1] !== v && r.inputs[2] !== v) {
          const w = ownConstant(r.inputs[1]);
          const group = attrInt(r, 'group', 1);
          const out = w ? outputAxis(r, w.rank) : -1;
          if (!w) ok = false;
          else if (group === 1) consumers.set(r, { node: r, axis: inputAxis(r, w.rank), input: v, outAxis: out });
          // a depthwise conv with one output channel per input channel: its input channel c is its
          // weights' output channel c (the weight quantization is per channel: scaling it is free)
          else if (group === w.shape[out] && w.shape[inputAxis(r, w.rank)] === 1) consumers.set(r, { node: r, axis: out, input: v, outAxis: out });
          else ok = false;
        } else ok = false;
      }
    }
    // (a conv may both read and write the group, x + conv(x): its weights get both rescalings)
    if (!ok || !producers.size || !consumers.size || channels <= 0) continue;
    if ([...consumers.values()].some((e) => g.initializers.get(e.node.inputs[1]!)!.shape[e.axis] !== channels)) continue;
    groups.push({ values: [...values], channels, producers: [...producers.values()], consumers: [...consumers.values()], next, clipped });
  }
  return groups;
}

/** The samples whose per-channel sums and non-zero counts channelRangeObserver takes (min / max / squares: every sample). */
const MOMENT_SAMPLES = 8;

/**
 * Records the per-channel (last axis, channels-last) min, max and mean square of the groups'
 * values (of those in `only`, when given: the values int8 rounds, the others add no noise).
 */
export function channelRangeObserver(groups: readonly EqualizationGroup[], only?: ReadonlySet<string>): { observe: (name: string, t: Tensor) => void; ranges: Map<string, ChannelRange> } {
  const want = new Map<string, number>();
  for (const gr of groups) for (const v of gr.values) if (!only || only.has(v)) want.set(v, gr.channels);
  const ranges = new Map<string, ChannelRange>();
  const observe = (name: string, t: Tensor): void => {
    const c = want.get(name);
    if (c === undefined || t.dtype !== 'float32' || t.size === 0 || t.shape[t.rank - 1] !== c) return;
    // a channels-last value the runtime computed in NCHW is a deferred permutation: reduce over
    // its source along the axis that becomes the last one, without making the permuted copy
    const v = t.deferred;
    // (the view may have dropped unit axes: its last output axis is the channel one)
    const direct = v && v.source instanceof Float32Array && v.source.length === t.size && v.shape[v.perm[v.perm.length - 1]!] === c;
    const data = direct ? (v.source as Float32Array) : (t.data as Float32Array);
    const shape = direct ? v.shape : t.shape;
    const axis = direct ? v.perm[v.perm.length - 1]! : t.rank - 1;
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    let acc = ranges.get(name);
    if (!acc) ranges.set(name, (acc = { min: new Float32Array(c).fill(Infinity), max: new Float32Array(c).fill(-Infinity), sumSquares: new Float64Array(c), count: 0, sum: new Float64Array(c), nonZero: new Float64Array(c), momentCount: 0, samples: 0 }));
    // the mean squares, means and non-zero counts only steer the choice of alpha: the first few
    // samples tell them well enough (taking them from every ReLU6 output of every sample cost
    // calibration 10-15 % over plain forward passes); min and max bound the rescaling, so they
    // come from every sample. WASM, bit-identical to the plain per-channel loops (min / max,
    // float64 squares and sums per row; src/wasm/scalar/calibrate.ts), from one copy of the data
    const outer = data.length / (inner * c);
    if (acc.samples < MOMENT_SAMPLES) {
      channelStats(data, outer, c, inner, acc, {}, acc);
      acc.momentCount += data.length / c;
    } else channelMinMax(data, outer, c, inner, acc);
    acc.count += data.length / c;
    acc.samples++;
  };
  return { observe, ranges };
}

/** Each channel's share of the tensor's int8 range, the largest over the group's measured values. */
function channelShares(gr: EqualizationGroup, ranges: ReadonlyMap<string, ChannelRange>): Float64Array | undefined {
  const share = new Float64Array(gr.channels);
  let measured = 0;
  for (const v of gr.values) {
    const r = ranges.get(v);
    if (!r) continue;
    // the tensor's int8 range is [min, max] over channels (and holds 0); a channel needs its own span of it
    let lo = 0;
    let hi = 0;
    for (let c = 0; c < gr.channels; c++) (lo = Math.min(lo, r.min[c]!)), (hi = Math.max(hi, r.max[c]!));
    if (!(hi - lo > 0)) continue;
    measured++;
    for (let c = 0; c < gr.channels; c++) share[c] = Math.max(share[c]!, (Math.max(r.max[c]!, 0) - Math.min(r.min[c]!, 0)) / (hi - lo));
  }
  return measured ? share : undefined;
}

/**
 * Each channel's largest scale that keeps the group's Clips exact up to `headroom` times the
 * calibrated extremes (see the top): 1 for a channel that reached a bound (or went past a negative
 * lower one), bound / (headroom · its extreme) otherwise (below 1: left at 1). Undefined when a
 * clipped value was not measured (nothing is known: no scaling).
 */
function clipLimits(gr: EqualizationGroup, ranges: ReadonlyMap<string, ChannelRange>, headroom: number): Float64Array | undefined {
  const limit = new Float64Array(gr.channels).fill(Infinity);
  for (const [v, { lo, hi }] of gr.clipped) {
    const r = ranges.get(v);
    if (!r) return undefined;
    for (let c = 0; c < gr.channels; c++) {
      // the Clip's output reaches hi exactly where its input reached hi or went past it
      const top = r.max[c]!;
      const bottom = r.min[c]!;
      if ((hi < Infinity && top >= hi) || (lo < 0 && lo > -Infinity && bottom <= lo)) limit[c] = 1;
      else {
        if (hi < Infinity && top > 0) limit[c] = Math.min(limit[c]!, hi / (top * headroom));
        if (lo < 0 && lo > -Infinity && bottom < 0) limit[c] = Math.min(limit[c]!, lo / (bottom * headroom));
      }
    }
  }
  return limit;
}

/** Scales s_c = share_c^-alpha, at most maxScale and the channel's Clip limit; a channel never seen non-zero keeps 1. */
function scalesFor(share: Float64Array, alpha: number, maxScale: number, limit?: Float64Array): Float32Array {
  return Float32Array.from(share, (x, c) => {
    const s = x > 0 ? Math.min(maxScale, x ** -alpha) : 1;
    // (a hair below the limit: s_c rounded to float32 and the conv's float sums must not reach the bound)
    return limit && s > limit[c]! ? Math.max(1, limit[c]! * (1 - 2 ** -20)) : s;
  });
}

/**
 * The int8 noise power the group's rescaling leaves at its consumers' outputs (per element,
 * summed over consumers and their output channels), from the calibrated ranges, means, mean
 * squares and non-zero counts: each group value's per-tensor rounding (step = its span / 255, on
 * its non-zero elements: a zero is exact) through the consumer weights it reaches, plus each
 * consumer's per-output-channel weight rounding (computed exactly, as the quantizer will round)
 * times the rescaled input channels -- its part from the channels' means counted once per
 * position of the tensor (a bias at every position; see below).
 */
const channelIndex = new WeakMap<Tensor, Map<string, { o: Int32Array; c: Int32Array }>>();

/** Each weight element's output channel (along outAxis) and input channel (along axis), computed once per tensor and axes. */
function weightChannels(w: Tensor, outAxis: number, axis: number): { o: Int32Array; c: Int32Array } {
  let byAxes = channelIndex.get(w);
  if (!byAxes) channelIndex.set(w, (byAxes = new Map()));
  const key = `${outAxis},${axis}`;
  let hit = byAxes.get(key);
  if (!hit) {
    const along = (a: number) => {
      const inner = w.shape.slice(a + 1).reduce((p, d) => p * d, 1);
      const n = w.shape[a]!;
      const idx = new Int32Array(w.size);
      for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(i / inner) % n;
      return idx;
    };
    byAxes.set(key, (hit = { o: along(outAxis), c: along(axis) }));
  }
  return hit;
}

/** Per input channel c, sum over o of (W_oc / s_c)^2 into gain; per output channel o, max |W_oc / s_c| into rowMax. */
function gainsAndRowMax(w: Float32Array, oIdx: Int32Array, cIdx: Int32Array, inv: Float64Array, gain: Float64Array, rowMax: Float64Array): void {
  for (let i = 0; i < w.length; i++) {
    const c = cIdx[i]!;
    const o = oIdx[i]!;
    const x = w[i]! * inv[c]!;
    gain[c] += x * x;
    const a = Math.abs(x);
    if (a > rowMax[o]!) rowMax[o] = a;
  }
}

/**
 * The rounding errors e_oc of W_oc / s_c on per-output-channel steps: returns sum of e^2 · spread_c,
 * adds e · shift_c into bias[o].
 */
function weightRounding(w: Float32Array, oIdx: Int32Array, cIdx: Int32Array, inv: Float64Array, stepOf: Float64Array, spread: Float64Array, shift: Float64Array, bias: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < w.length; i++) {
    const o = oIdx[i]!;
    const c = cIdx[i]!;
    const step = stepOf[o]!;
    const x = w[i]! * inv[c]!;
    const e = step > 0 ? Math.round(x / step) * step - x : 0;
    sum += e * e * spread[c]!;
    bias[o] += e * shift[c]!;
  }
  return sum;
}

function predictedNoise(gr: EqualizationGroup, s: Float32Array, inits: ReadonlyMap<string, Tensor>, ranges: ReadonlyMap<string, ChannelRange>): number {
  const C = gr.channels;
  // per consumer and input channel c: sum over o of (W_oc / s_c)^2; and the weight-rounding term
  const weightGain: Float64Array[] = [];
  let noise = 0;
  for (const k of gr.consumers) {
    const w = inits.get(k.node.inputs[1]!)!;
    const data = w.data as Float32Array;
    const O = w.shape[k.outAxis]!;
    const { o: oIdx, c: cIdx } = weightChannels(w, k.outAxis, k.axis);
    const inv = Float64Array.from(s, (x) => 1 / x);
    const rowMax = new Float64Array(O);
    const gain = new Float64Array(C);
    gainsAndRowMax(data, oIdx, cIdx, inv, gain, rowMax);
    weightGain.push(gain);
    const r = ranges.get(k.input);
    if (!r || !r.count) continue;
    // weight rounding error e_oc (symmetric, narrow range, per output channel) times s_c x_c: its
    // part from the channels' means is the same at every position, a bias that averaging over
    // positions (the classifier's global pooling) keeps while it averages the position-wise
    // rounding noise away, so it weighs the positions per tensor times more
    const positions = r.count / r.samples;
    // per input channel: s_c^2 var(x_c) and s_c mean(x_c)
    const spread = new Float64Array(C);
    const shift = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const mean = r.momentCount ? r.sum[c]! / r.momentCount : 0;
      spread[c] = r.momentCount ? s[c]! * s[c]! * (r.sumSquares[c]! / r.momentCount - mean * mean) : 0;
      shift[c] = s[c]! * mean;
    }
    const stepOf = Float64Array.from(rowMax, (m) => m / 127);
    const bias = new Float64Array(O);
    noise += weightRounding(data, oIdx, cIdx, inv, stepOf, spread, shift, bias);
    for (const b of bias) noise += positions * b * b;
  }
  for (const v of gr.values) {
    const r = ranges.get(v);
    if (!r) continue;
    const { min, max } = equalizedRange(r, s);
    const step = (Math.max(max, 0) - Math.min(min, 0)) / 255;
    // the consumers this value reaches, directly or through Adds
    const reached = new Set<string>([v]);
    const work = [v];
    while (work.length) for (const n of gr.next.get(work.pop()!) ?? []) if (!reached.has(n)) reached.add(n), work.push(n);
    gr.consumers.forEach((k, i) => {
      if (!reached.has(k.input)) return;
      // a zero rounds to itself (the zero point is exact): a ReLU's zeros add no noise
      let through = 0;
      for (let c = 0; c < C; c++) through += weightGain[i]![c]! * (r.momentCount ? r.nonZero[c]! / r.momentCount : 1);
      noise += ((step * step) / 12) * through;
    });
  }
  return noise;
}

const ALPHAS = [0, 0.25, 0.5, 0.75, 1];

/** A copy of `w` with the slices along `axis` multiplied by f[c]. */
function scaleAlong(w: Tensor, axis: number, f: Float32Array | Float64Array): Tensor {
  const src = w.data as Float32Array;
  const out = new Float32Array(w.size);
  const inner = w.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const n = w.shape[axis]!;
  for (let i = 0; i < out.length; i++) out[i] = src[i]! * f[Math.floor(i / inner) % n]!;
  return new Tensor('float32', w.shape, out);
}

/**
 * Rescale each group's channels by scales chosen from `ranges` (the calibrated per-channel ranges
 * of the original graph's group values): the equalized graph computes the same function in float
 * (up to rounding), its group values scaled per channel by the returned scales.
 */
export function equalizeGraph(g: Graph, groups: readonly EqualizationGroup[], ranges: ReadonlyMap<string, ChannelRange>, options: EqualizeOptions = {}): EqualizeResult {
  const alpha = options.alpha;
  const maxScale = options.maxScale ?? 64;
  const headroom = options.clipHeadroom ?? 2;
  const inits = new Map(g.initializers);
  const scales = new Map<string, Float32Array>();
  const alphas: number[] = [];
  let applied = 0;
  for (const gr of groups) {
    const share = channelShares(gr, ranges);
    const limit = clipLimits(gr, ranges, headroom);
    if (!share || !limit) {
      alphas.push(0);
      continue;
    }
    let s = scalesFor(share, alpha ?? 0, maxScale, limit);
    let chosen = alpha ?? 0;
    if (alpha === undefined) {
      let best = Infinity;
      for (const a of ALPHAS) {
        const t = scalesFor(share, a, maxScale, limit);
        const noise = predictedNoise(gr, t, inits, ranges);
        if (noise < best) (best = noise), (s = t), (chosen = a);
      }
    }
    alphas.push(chosen);
    if (s.every((x) => x === 1)) continue;
    const inv = Float64Array.from(s, (x) => 1 / x);
    for (const { node, axis } of gr.producers) {
      const [, w, b] = node.inputs;
      inits.set(w!, scaleAlong(inits.get(w!)!, axis, s));
      if (b) inits.set(b, scaleAlong(inits.get(b)!, 0, s));
    }
    for (const { node, axis } of gr.consumers) inits.set(node.inputs[1]!, scaleAlong(inits.get(node.inputs[1]!)!, axis, inv));
    for (const v of gr.values) scales.set(v, s);
    applied++;
  }
  return { graph: applied ? { ...g, initializers: inits } : g, scales, groups: applied, alphas };
}

/** The range of a value of the equalized graph, from its original per-channel range and its scales. */
export function equalizedRange(r: ChannelRange, s: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < s.length; c++) (min = Math.min(min, r.min[c]! * s[c]!)), (max = Math.max(max, r.max[c]! * s[c]!));
  return { min, max };
}

/**
 * quantizeGraph's hook: `observe` sees the values of the calibration passes over the original
 * graph (`quantized`: those that get int8 parameters; the ranges are taken of those); `apply` then equalizes the graph and moves the calibrated min/max of each rescaled value
 * to the equalized graph's (exactly: the scales are positive, per channel), so calibration runs once.
 */
export function equalizationPlan(
  g: Graph,
  method: string,
  quantized: ReadonlySet<string>,
  options: EqualizeOptions = {},
): { observe: (name: string, t: Tensor) => void; ranges: ReadonlyMap<string, ChannelRange>; apply: (stats: Map<string, { min: number; max: number }>, onScales?: (scales: ReadonlyMap<string, Float32Array>) => void) => Graph } | undefined {
  // histograms (percentile, entropy, mse) of a value do not follow a per-channel rescaling: the
  // plan is made from min/max calibration (quantizeGraph calibrates the equalized graph again for those)
  if (method !== 'minmax') throw new UnsupportedError(`cross-layer equalization planned from ${method} calibration`, 'plan it from minmax ranges');
  const groups = findEqualizationGroups(g);
  if (!groups.length) return undefined;
  // only the values that get int8 parameters: calibration sees those anyway (nothing unfused)
  const { observe, ranges } = channelRangeObserver(groups, quantized);
  return {
    observe,
    // the per-channel ranges observed (of the graph before equalization: the scales apply() reports move them)
    ranges,
    // onScales: the per-channel scales of the values rescaled (what else was taken from the passes follows them: GPTQ's Hessians)
    apply: (stats, onScales) => {
      const eq = equalizeGraph(g, groups, ranges, options);
      onScales?.(eq.scales);
      for (const [v, s] of eq.scales) {
        const st = stats.get(v);
        const r = ranges.get(v);
        if (st && r) Object.assign(st, equalizedRange(r, s));
      }
      return eq.graph;
    },
  };
}
