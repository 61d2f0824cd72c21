// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2; Finkelstein
// et al. 2019, "Fighting quantization bias with bias"): int8 weights and int8 inputs shift the
// mean of a conv / depthwise / dense output channel by a systematic amount, which the next layers
// carry (a depthwise conv, with 9 weights per channel, shifts most). The mean of (quantized -
// float) pre-activation output of each channel over calibration samples is subtracted from its
// float bias before quantizeGraph makes it int32 (and before the range search, which then sees
// the corrected graph). Where a Relu / Clip follows, the mean
// is taken over the positions where the float value is inside the bounds: a clipped position
// passes no error on, and an error measured there says nothing about the positions that do.
// Each layer's own shift is measured, in one pass over the samples: beside each layer of the float
// graph runs its quantized twin (int8 weights, int32 bias, the float input rounded to its int8
// parameters: what nnport's runtime computes for the QDQ graph), so the errors of the layers
// upstream are not in it; every layer removes its own shift at its source, and what reaches a
// layer downstream has none left to correct. (Measuring every layer in the quantized graph at once
// and correcting all of them, then again, is Jacobi's iteration on the chain of layers: a layer
// corrects the shift its upstream corrects too; on MobileNet-v2, which amplifies a channel's
// offset, two such rounds took the interpreter's output from 18.0 dB to -5.7 dB. The exact
// sequential method needs one pass per layer.)
import { QuantizationError } from '../ir/errors.js';
import { attrInt, readersOf, subgraphsOf, type Graph, type Node } from '../ir/graph.js';
import { opKey } from '../ir/ops/index.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { clipBounds } from './equalize.js';
import { dequantizedWeights } from './scale-search.js';

/**
 * How many calibration samples quantizeGraph measures the shifts on by default: on the trained
 * MobileNet-v2 in the interpreter, 32 and 64 samples gain the same within the measurement's
 * spread (mse 19.2 -> 19.9 / 20.1 dB, minmax 18.0 -> 18.4 / 18.3 dB) at half the cost.
 */
export const BIAS_CORRECTION_SAMPLES = 32;

export interface BiasCorrectionOptions {
  /** called after each sample with the number done */
  onProgress?: (done: number) => void;
}

/** One layer whose bias is corrected: its node in the float graph and the quantized twin beside it. */
interface Target {
  node: Node;
  /** the bias initializer (float graph) */
  bias: string;
  /** the pre-activation output in the float graph and of its twin */
  floatValue: string;
  quantValue: string;
  channels: number;
  /** the Relu / Clip bounds after it (positions outside carry no error on) */
  lo: number;
  hi: number;
  sum: Float64Array;
  count: Float64Array;
}

const WEIGHTED = new Set(['nnport::Conv', 'nnport::ConvTranspose', 'Gemm', 'MatMul']);

/** A channels-last value as (data, outer, channels, inner): the runtime's NCHW source where the value is a deferred permutation of it. */
function channelView(t: Tensor, c: number): { data: Float32Array; outer: number; inner: number } {
  const v = t.deferred;
  const direct = v && v.source instanceof Float32Array && v.source.length === t.size && v.shape[v.perm[v.perm.length - 1]!] === c;
  const data = direct ? (v.source as Float32Array) : (t.toFloat32() as Float32Array);
  const shape = direct ? v.shape : t.shape;
  const axis = direct ? v.perm[v.perm.length - 1]! : t.rank - 1;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { data, outer: data.length / (inner * c), inner };
}

/**
 * Corrects the float biases of the conv / depthwise / dense layers of `float` (channels-last, as
 * quantizeGraph has it) in `inits` (quantizeGraph's initializers, changed in place): `nodes` are
 * quantizeGraph's copies of float.nodes (same order) whose weight inputs read `weightDq`'s int8
 * weights; `inputParams` gives each layer input's int8 (int16) parameters; `samples` feed the
 * float graph. Returns how many layers were corrected.
 */
export async function correctBiases(
  float: Graph,
  nodes: readonly Node[],
  inits: Map<string, Tensor>,
  weightDq: readonly Node[],
  inputParams: ReadonlyMap<string, { scale: number; zeroPoint: number }>,
  act: 'int8' | 'int16',
  samples: readonly ReadonlyMap<string, Tensor>[],
  options: BiasCorrectionOptions = {},
): Promise<number> {
  if (!samples.length) return 0;
  const weights = await dequantizedWeights(weightDq, inits, float.opsets);
  const readers = readersOf(float.nodes);
  const used = new Set<string>([...inits.keys(), ...float.initializers.keys(), ...float.inputs.map((v) => v.name), ...float.nodes.flatMap((n) => [...n.outputs, n.name])]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  // the float graph with each layer's quantized twin beside it: the float input rounded with the
  // input's parameters, the int8 weights dequantized, the float bias
  const probeInits = new Map(float.initializers);
  const extra: Node[] = [];
  const targets: Target[] = [];
  nodes.forEach((n, index) => {
    const f = float.nodes[index]!;
    const b = n.inputs[2];
    const w = n.inputs[1] ? weights.get(n.inputs[1]) : undefined;
    const bias = b ? inits.get(b) : undefined;
    const x = inputParams.get(n.inputs[0]!);
    if (!WEIGHTED.has(opKey(n)) || !w || !b || !bias || bias.dtype !== 'float32' || !x || f.inputs[2] !== b || (readers.get(b) ?? []).length !== 1) return;
    if (opKey(n) === 'Gemm' && attrInt(n, 'transA', 0) !== 0) return;
    const rs = readers.get(f.outputs[0]!) ?? [];
    let lo = -Infinity;
    let hi = Infinity;
    if (rs.length === 1 && !rs[0]!.domain && rs[0]!.opType === 'Relu') lo = 0;
    else if (rs.length === 1 && !rs[0]!.domain && rs[0]!.opType === 'Clip') ({ lo, hi } = clipBounds(rs[0]!, float) ?? { lo, hi });
    const scale = fresh(`${f.name}_bias_probe_scale`);
    const zero = fresh(`${f.name}_bias_probe_zero_point`);
    probeInits.set(scale, Tensor.float32([], [x.scale]));
    probeInits.set(zero, act === 'int16' ? new Tensor('int16', [], Int16Array.of(x.zeroPoint)) : new Tensor('int8', [], Int8Array.of(x.zeroPoint)));
    const weight = fresh(`${f.name}_bias_probe_weight`);
    probeInits.set(weight, w);
    const xq = fresh(`${f.name}_bias_probe_input_quantized`);
    const xdq = fresh(`${f.name}_bias_probe_input`);
    const out = fresh(`${f.name}_bias_probe`);
    extra.push({ name: xq, opType: 'QuantizeLinear', domain: '', inputs: [f.inputs[0]!, scale, zero], outputs: [xq], attrs: {} });
    extra.push({ name: xdq, opType: 'DequantizeLinear', domain: '', inputs: [xq, scale, zero], outputs: [xdq], attrs: {} });
    extra.push({ ...f, name: out, inputs: [xdq, weight, ...f.inputs.slice(2)], outputs: [out] });
    const c = bias.size;
    targets.push({ node: f, bias: b, floatValue: f.outputs[0]!, quantValue: out, channels: c, lo, hi, sum: new Float64Array(c), count: new Float64Array(c) });
  });
  if (!targets.length) return 0;
  const probe: Graph = { ...float, nodes: [...float.nodes, ...extra], initializers: probeInits };
  const observe = new Set(targets.flatMap((t) => [t.floatValue, t.quantValue]));
  const byValue = new Map(targets.flatMap((t) => [[t.floatValue, t] as const, [t.quantValue, t] as const]));
  let done = 0;
  for (const feeds of samples) {
    // whichever of a layer's two outputs comes first is copied (the runtime reuses its memory)
    const first = new Map<Target, { data: Float32Array; outer: number; inner: number; isFloat: boolean }>();
    await runGraph(probe, feeds, {
      observe,
      // (a graph that keeps If / Loop runs as given: lowered to NCHW, the values its bodies read have other names)
      ...(probe.nodes.some((n) => subgraphsOf(n).length > 0) ? { optimize: false } : {}),
      onValue: (name, value) => {
        const t = byValue.get(name);
        // (a bias broadcast over other than the last axis: nothing measured, nothing corrected)
        if (!t || value.dtype !== 'float32' || value.shape[value.rank - 1] !== t.channels) return;
        const isFloat = name === t.floatValue;
        const v = channelView(value, t.channels);
        const other = first.get(t);
        if (!other) return void first.set(t, { ...v, data: v.data.slice(), isFloat });
        first.delete(t);
        const f = isFloat ? v : other;
        const q = isFloat ? other : v;
        if (q.data.length !== f.data.length || q.inner !== f.inner) throw new QuantizationError(`bias correction: '${t.node.name}' is laid out differently in its float and quantized outputs`);
        accumulate(t, f, q);
      },
    });
    options.onProgress?.(++done);
  }
  // subtract each channel's mean shift from the float bias
  for (const t of targets) {
    const b = inits.get(t.bias)!.toFloat32();
    const corrected = Float32Array.from(b, (v, ch) => (t.count[ch]! > 0 ? v - t.sum[ch]! / t.count[ch]! : v));
    inits.set(t.bias, new Tensor('float32', inits.get(t.bias)!.shape, corrected));
  }
  return targets.length;
}

/** Adds one sample's (quantized - float) per channel, over the positions inside the Relu / Clip bounds. */
function accumulate(t: Target, f: { data: Float32Array; outer: number; inner: number }, q: { data: Float32Array }): void {
  const c = t.channels;
  const { sum, count } = t;
  // a clipped position passes no error on (y == hi: ReLU6 saturated); no bounds: every position
  const lo = t.lo;
  const hi = t.hi;
  const fd = f.data;
  const qd = q.data;
  const inner = f.inner;
  if (inner === 1) {
    // channels last: one row of channels per position
    for (let i = 0; i < fd.length; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const y = fd[i + ch]!;
        if (y > lo && y < hi) {
          sum[ch] += qd[i + ch]! - y;
          count[ch]++;
        }
      }
    }
    return;
  }
  for (let o = 0, i = 0; o < f.outer; o++) {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      let n = 0;
      for (const end = i + inner; i < end; i++) {
        const y = fd[i]!;
        if (y > lo && y < hi) {
          s += qd[i]! - y;
          n++;
        }
      }
      sum[ch] += s;
      count[ch] += n;
    }
  }
}
