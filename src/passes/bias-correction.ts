// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2; Finkelstein
// et al. 2019, "Fighting quantization bias with bias"): int8 weights and int8 inputs shift the
// mean of a conv / depthwise / dense output channel by a systematic amount, which the next layers
// carry (a depthwise conv, with 9 weights per channel, shifts most). The mean of (quantized -
// float) pre-activation output of each channel over calibration samples is subtracted from its
// bias, which is quantized to int32 again on its own scale. Where a Relu / Clip follows, the mean
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
import { attrInt, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { dequantizePerAxis, dequantizePerTensor } from '../wasm/quantize.js';
import { roundHalfAway } from '../runtime/integer/fixed-point.js';
import { clipBounds } from './equalize.js';

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

export interface BiasCorrectionResult {
  graph: Graph;
  /** layers whose bias was corrected */
  layers: number;
  /** per layer (its node name): the correction subtracted, as a multiple of the channel's output rms, the largest over channels */
  largest: Map<string, number>;
}

/** One layer whose bias can be corrected: its node in both graphs and the int32 bias it reads. */
interface Target {
  node: string;
  /** the layer in the QDQ graph (node names need not be unique there: a value's DequantizeLinear may share its producer's) */
  quantNode: Node;
  /** the pre-activation output in the float and the QDQ graph */
  floatValue: string;
  quantValue: string;
  /** the int32 bias initializer (QDQ graph) and its per-channel scales */
  biasQ: string;
  scales: Float32Array;
  /** the float bias (float graph) */
  bias: Float32Array;
  /** the Relu / Clip bounds after it (positions outside carry no error on) */
  lo: number;
  hi: number;
  /** accumulated correction */
  shift: Float64Array;
  sum: Float64Array;
  count: Float64Array;
  /** sum of the float output's squares and the positions summed, for the rms in the result */
  squares: Float64Array;
  positions: number;
}

const WEIGHTED = new Set(['nnport::Conv', 'nnport::ConvTranspose', 'Gemm', 'MatMul']);
const keyOf = (n: Node): string => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType);

/** A node's output channels are on the last axis (channels-last conv, Gemm / MatMul [N, C]): except a Gemm with transposed output, which does not exist. */
function findTargets(float: Graph, quant: Graph): Target[] {
  const floatNodes = new Map(float.nodes.map((n) => [n.name, n]));
  const producer = new Map<string, Node>();
  for (const n of quant.nodes) for (const o of n.outputs) producer.set(o, n);
  const readers = new Map<string, Node[]>();
  for (const n of float.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const targets: Target[] = [];
  for (const n of quant.nodes) {
    if (!WEIGHTED.has(keyOf(n)) || !n.inputs[2]) continue;
    if (keyOf(n) === 'Gemm' && attrInt(n, 'transA', 0) !== 0) continue;
    const f = floatNodes.get(n.name);
    if (!f || keyOf(f) !== keyOf(n) || !f.inputs[2]) continue;
    const dq = producer.get(n.inputs[2]);
    // the input comes through its int8 DequantizeLinear (the twin rounds the float input the same way)
    const xDq = producer.get(n.inputs[0]!);
    if (!dq || dq.opType !== 'DequantizeLinear' || !xDq || xDq.opType !== 'DequantizeLinear' || !quant.initializers.has(xDq.inputs[1]!)) continue;
    const q = quant.initializers.get(dq.inputs[0]!);
    const s = quant.initializers.get(dq.inputs[1]!);
    const b = float.initializers.get(f.inputs[2]);
    if (!q || q.dtype !== 'int32' || !s || !b || b.dtype !== 'float32' || (s.size !== 1 && s.size !== q.size) || b.size !== q.size) continue;
    const c = q.size;
    const sv = s.toNumbers();
    const scales = Float32Array.from({ length: c }, (_, k) => sv[s.size === 1 ? 0 : k]!);
    const rs = readers.get(f.outputs[0]!) ?? [];
    let lo = -Infinity;
    let hi = Infinity;
    if (rs.length === 1 && !rs[0]!.domain && rs[0]!.opType === 'Relu') lo = 0;
    else if (rs.length === 1 && !rs[0]!.domain && rs[0]!.opType === 'Clip') {
      const bounds = clipBounds(rs[0]!, float);
      if (bounds) ({ lo, hi } = bounds);
    }
    targets.push({ node: n.name, quantNode: n, floatValue: f.outputs[0]!, quantValue: n.outputs[0]!, biasQ: dq.inputs[0]!, scales, bias: b.data as Float32Array, lo, hi, shift: new Float64Array(c), sum: new Float64Array(c), count: new Float64Array(c), squares: new Float64Array(c), positions: 0 });
  }
  return targets;
}

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
 * The float graph with, beside each target, its quantized twin: the QDQ graph's node reading the
 * float graph's input of that layer through its QuantizeLinear / DequantizeLinear (the input's int8
 * parameters) and the int8 weights / int32 bias through their DequantizeLinear. One pass gives
 * both outputs of every layer; each twin's error is that layer's own (upstream errors excluded).
 */
function probeGraph(float: Graph, quant: Graph, targets: Target[]): Graph {
  const producer = new Map<string, Node>();
  for (const n of quant.nodes) for (const o of n.outputs) producer.set(o, n);
  const used = new Set<string>([...float.initializers.keys(), ...float.inputs.map((v) => v.name), ...float.nodes.flatMap((n) => n.outputs), ...quant.initializers.keys(), ...quant.nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const inits = new Map(float.initializers);
  const extra: Node[] = [];
  // a weight / bias is a DequantizeLinear of constants (made float once here, not in every pass),
  // or a float initializer (left float)
  const copyDq = (value: string): void => {
    const dq = producer.get(value);
    if (!dq) return void inits.set(value, quant.initializers.get(value)!);
    if (inits.has(value)) return;
    const [x, scale, zero] = dq.inputs.map((i) => (i ? quant.initializers.get(i) : undefined));
    if (!x || !scale) throw new QuantizationError(`bias correction: '${value}' is not a constant DequantizeLinear`);
    const zeros = zero?.toNumbers() ?? new Array<number>(scale.size).fill(0);
    const rank = x.rank;
    const axis = (((dq.attrs.axis?.value as number | undefined) ?? 1) + rank) % rank;
    inits.set(value, scale.size === 1 ? dequantizePerTensor(x, scale.toNumbers()[0]!, zeros[0]) : dequantizePerAxis(x, axis, scale.toNumbers(), zeros));
  };
  const floatNodes = new Map(float.nodes.map((n) => [n.name, n]));
  for (const t of targets) {
    const f = floatNodes.get(t.node)!;
    const q = t.quantNode;
    const xDq = producer.get(q.inputs[0]!)!;
    const [, scale, zero] = xDq.inputs;
    for (const i of [scale, zero]) if (i) inits.set(i, quant.initializers.get(i)!);
    const xq = fresh(`${t.node}_bias_probe_input_quantized`);
    const xdq = fresh(`${t.node}_bias_probe_input`);
    extra.push({ name: xq, opType: 'QuantizeLinear', domain: '', inputs: [f.inputs[0]!, scale!, zero ?? ''], outputs: [xq], attrs: {} });
    extra.push({ name: xdq, opType: 'DequantizeLinear', domain: '', inputs: [xq, scale!, zero ?? ''], outputs: [xdq], attrs: {} });
    copyDq(q.inputs[1]!);
    copyDq(q.inputs[2]!);
    t.quantValue = fresh(`${t.node}_bias_probe`);
    extra.push({ ...q, name: t.quantValue, inputs: [xdq, q.inputs[1]!, q.inputs[2]!, ...q.inputs.slice(3)], outputs: [t.quantValue] });
  }
  return { ...float, nodes: [...float.nodes, ...extra], initializers: inits };
}

/**
 * Corrects the int32 biases of `quant` (the QDQ graph quantizeGraph made from `float`, node names
 * kept) by each layer's own mean output shift measured on `samples` (feeds of the float graph).
 * Returns a new graph (new bias initializers; nothing else changes).
 */
export async function correctBiases(float: Graph, quant: Graph, samples: readonly ReadonlyMap<string, Tensor>[], options: BiasCorrectionOptions = {}): Promise<BiasCorrectionResult> {
  const targets = findTargets(float, quant);
  if (!targets.length || !samples.length) return { graph: quant, layers: 0, largest: new Map() };
  const probe = probeGraph(float, quant, targets);
  const observe = new Set(targets.flatMap((t) => [t.floatValue, t.quantValue]));
  const byValue = new Map(targets.flatMap((t) => [[t.floatValue, t] as const, [t.quantValue, t] as const]));
  let done = 0;
  for (const feeds of samples) {
    // whichever of a layer's two outputs comes first is copied (the runtime reuses its memory)
    const first = new Map<Target, { data: Float32Array; outer: number; inner: number; isFloat: boolean }>();
    await runGraph(probe, feeds, {
      observe,
      onValue: (name, value) => {
        const t = byValue.get(name);
        if (!t || value.dtype !== 'float32') return;
        const isFloat = name === t.floatValue;
        const v = channelView(value, t.scales.length);
        const other = first.get(t);
        if (!other) return void first.set(t, { ...v, data: v.data.slice(), isFloat });
        first.delete(t);
        const f = isFloat ? v : other;
        const q = isFloat ? other : v;
        if (q.data.length !== f.data.length || q.inner !== f.inner) throw new QuantizationError(`bias correction: '${t.node}' is laid out differently in its float and quantized outputs`);
        accumulate(t, f, q);
      },
    });
    options.onProgress?.(++done);
  }
  // subtract each channel's mean shift and quantize the bias again
  const inits = new Map(quant.initializers);
  const largest = new Map<string, number>();
  for (const t of targets) {
    const c = t.scales.length;
    const q = new Int32Array(c);
    let worst = 0;
    for (let ch = 0; ch < c; ch++) {
      if (t.count[ch]! > 0) t.shift[ch] = t.sum[ch]! / t.count[ch]!;
      // as quantizeBias rounds (the same integers where nothing was measured)
      const r = roundHalfAway(Math.fround((t.bias[ch]! - t.shift[ch]!) / t.scales[ch]!));
      q[ch] = Number.isNaN(r) ? 0 : Math.min(Math.max(r, -2147483648), 2147483647);
      const rms = Math.sqrt(t.squares[ch]! / Math.max(1, t.positions));
      if (rms > 0) worst = Math.max(worst, Math.abs(t.shift[ch]!) / rms);
    }
    inits.set(t.biasQ, new Tensor('int32', inits.get(t.biasQ)!.shape, q));
    largest.set(t.node, worst);
  }
  return { graph: { ...quant, initializers: inits }, layers: targets.length, largest };
}

/** Adds one sample's (quantized - float) per channel, over the positions inside the Relu / Clip bounds. */
function accumulate(t: Target, f: { data: Float32Array; outer: number; inner: number }, q: { data: Float32Array }): void {
  const c = t.scales.length;
  const { sum, count, squares } = t;
  // a clipped position passes no error on (y == hi: ReLU6 saturated); no bounds: every position
  const lo = t.lo;
  const hi = t.hi;
  const fd = f.data;
  const qd = q.data;
  const inner = f.inner;
  t.positions += f.outer * inner;
  if (inner === 1) {
    // channels last: one row of channels per position
    for (let i = 0; i < fd.length; i += c) {
      for (let ch = 0; ch < c; ch++) {
        const y = fd[i + ch]!;
        squares[ch] += y * y;
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
      let sq = 0;
      for (const end = i + inner; i < end; i++) {
        const y = fd[i]!;
        sq += y * y;
        if (y > lo && y < hi) {
          s += qd[i]! - y;
          n++;
        }
      }
      sum[ch] += s;
      count[ch] += n;
      squares[ch] += sq;
    }
  }
}
