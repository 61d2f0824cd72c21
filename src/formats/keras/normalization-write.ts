// Per-feature shifts and scales by constants (x - mean, then / std or · 1/std; the Keras reader's
// Normalization, an ONNX model's input preprocessing) -> Keras' Normalization layer, whose call is
// (x - mean) / max(sqrt(variance), 1e-7), or with `invert` mean + x · max(sqrt(variance), 1e-7).
// mean and variance go into the config (Keras builds them as constants, no weights): the layer
// exists in tf.keras 2 and Keras 3; TF.js 4.9 has none (its writer refuses it by name). A Div by s
// is the variance s² (sqrt(s²) = s within an ulp); a Mul by r is the variance 1 / r² (x / (1/r)
// within two ulps of x · r); a lone Sub / Add is the variance 1 (exact).
import { isFloatDType } from '../../ir/dtypes.js';
import type { Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { Json } from './config.js';
import type { KShape } from './layers.js';
import type { KTensor, Writer } from './from-graph.js';

/** A constant's values broadcast against a rank-r value: undefined unless it broadcasts over the batch (its leading dims 1 or absent). */
function perFeature(c: Tensor, x: KShape): { values: Float64Array; shape: number[] } | undefined {
  const r = x.length;
  if (!isFloatDType(c.dtype) || c.rank > r) return undefined;
  const shape = [...new Array<number>(r - c.rank).fill(1), ...(c.shape as number[])];
  if (shape[0] !== 1) return undefined;
  for (let i = 1; i < r; i++) if (shape[i] !== 1 && shape[i] !== x[i]) return undefined;
  return { values: Float64Array.from(c.toNumbers()), shape };
}

/** `v` (of `shape`) broadcast to `to` (each dim of `shape` 1 or equal). */
function broadcast(v: Float64Array, shape: number[], to: number[]): Float64Array {
  const size = to.reduce((a, d) => a * d, 1);
  const out = new Float64Array(size);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, d) => a * d, 1));
  for (let k = 0; k < size; k++) {
    let rest = k;
    let at = 0;
    for (let i = to.length - 1; i >= 0; i--) {
      const q = rest % to[i]!;
      rest = (rest - q) / to[i]!;
      if (shape[i] !== 1) at += q * strides[i]!;
    }
    out[k] = v[at]!;
  }
  return out;
}

/** Flat values of `dims` as nested lists (Keras builds its mean as input_mean · ones(kept dims)). */
function nested(v: Float64Array, dims: number[]): Json {
  if (dims.length <= 1) return Array.from(v);
  const inner = dims.slice(1).reduce((a, d) => a * d, 1);
  return Array.from({ length: dims[0]! }, (_, i) => nested(v.subarray(i * inner, (i + 1) * inner), dims.slice(1)));
}

interface Step {
  node: Node;
  /** the node's constant broadcast against x */
  c: { values: Float64Array; shape: number[] };
}

/** The node's one constant operand and its other input (Sub / Div: the constant second). */
function constantStep(w: Writer, n: Node, x: KShape): Step | undefined {
  if (n.domain || n.inputs.length !== 2) return undefined;
  const ci = w.isConstant(n.inputs[1]!) ? 1 : w.isConstant(n.inputs[0]!) ? 0 : -1;
  if (ci < 0 || w.isConstant(n.inputs[1 - ci]!)) return undefined;
  if (ci === 0 && (n.opType === 'Sub' || n.opType === 'Div')) return undefined;
  const c = perFeature(w.constant(n.inputs[ci]!)!, x);
  return c && { node: n, c };
}

interface Plan {
  mean?: Step['c'];
  std?: Step['c'];
  invert: boolean;
  /** the node whose output is the layer's */
  last: Node;
}

const negated = (c: Step['c']) => ({ values: c.values.map((v) => -v), shape: c.shape });
const reciprocal = (c: Step['c']) => ({ values: c.values.map((v) => 1 / v), shape: c.shape });
const isShift = (s: Step) => s.node.opType === 'Sub' || s.node.opType === 'Add';
const asMean = (s: Step) => (s.node.opType === 'Sub' ? s.c : negated(s.c));
const asStd = (s: Step) => (s.node.opType === 'Div' ? s.c : reciprocal(s.c));

/** Mean and std of a shift then a scale, the reader's invert (x · std + mean), or one step alone; undefined where Keras cannot hold them. */
function planOf(first: Step, second: Step | undefined): Plan | undefined {
  let p: Plan;
  if (isShift(first)) p = second && !isShift(second) ? { mean: asMean(first), std: asStd(second), invert: false, last: second.node } : { mean: asMean(first), invert: false, last: first.node };
  else if (first.node.opType === 'Mul' && second && second.node.opType === 'Add') p = { std: first.c, mean: second.c, invert: true, last: second.node };
  else p = { std: asStd(first), invert: false, last: first.node };
  // Keras divides by max(sqrt(variance), 1e-7): a std it can hold is finite and at least 1e-7
  if (p.std && p.std.values.some((v) => !(v >= 1e-7) || !Number.isFinite(v))) return undefined;
  if (p.mean && p.mean.values.some((v) => !Number.isFinite(v))) return undefined;
  return p;
}

/**
 * A Normalization layer for node `n` (Sub / Add / Mul / Div of a value by a per-feature constant,
 * with the node after it where that is the scale / shift), or undefined where the pattern does not hold.
 */
export function normalizationRow(w: Writer, n: Node): KTensor[] | undefined {
  if (!['Sub', 'Add', 'Mul', 'Div'].includes(n.opType) || n.domain) return undefined;
  const xi = n.inputs.findIndex((i) => !w.isConstant(i));
  const x = xi < 0 ? undefined : w.values.get(n.inputs[xi]!);
  if (!x || x.shape.length < 2 || x.timeMajor || x.folded !== undefined) return undefined;
  const first = constantStep(w, n, x.shape);
  if (!first) return undefined;
  const nextOf = (s: Step): Step | undefined => {
    const c = w.soleConsumer(s.node.outputs[0]!);
    return c ? constantStep(w, c, x.shape) : undefined;
  };
  // the two steps as one layer where Keras can hold them, else the first alone
  const plan = planOf(first, nextOf(first)) ?? planOf(first, undefined);
  if (!plan) return undefined;
  const { mean, std, invert, last } = plan;
  const r = x.shape.length;
  const kept = Array.from({ length: r }, (_, i) => i).filter((i) => (mean?.shape[i] ?? 1) !== 1 || (std?.shape[i] ?? 1) !== 1);
  if (kept.some((i) => x.shape[i] === null)) return undefined;
  const to = x.shape.map((d, i) => (kept.includes(i) ? (d as number) : 1));
  const dims = kept.map((i) => x.shape[i] as number);
  const meanValues = mean ? broadcast(mean.values, mean.shape, to) : new Float64Array(to.reduce((a, d) => a * d, 1));
  const variance = std ? broadcast(std.values, std.shape, to).map((s) => s * s) : new Float64Array(meanValues.length).fill(1);
  const config = {
    axis: kept.length === 1 && kept[0] === r - 1 ? -1 : kept.length ? kept : null,
    mean: nested(meanValues, dims),
    variance: nested(variance, dims),
    invert,
  };
  const y = w.add('Normalization', last.name || last.outputs[0]!, config, [x], x.shape);
  if (last !== n) {
    w.skip.add(last);
    w.values.set(last.outputs[0]!, y);
  }
  return [y];
}
