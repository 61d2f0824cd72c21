// nnport::Svdf — TFLite's SVDF (a fully connected layer factored in rank-r filters over a memory
// of past frames), as one invocation of the interpreter computes it from the state it is given.
// Data: x (batch, input), weights_feature (filters, input), weights_time (filters, memory), bias
// (units), state (batch, filters·memory: each filter's memory row, newest frame last).
//   1. the state shifts left by one frame; the feature FC of x lands in each filter's newest slot
//   2. each filter's memory row dotted with its weights_time row
//   3. the rank filters of each unit summed, plus bias, then the fused activation.
// Integer files (int8 x/weights_feature/output, int32 bias) carry their quantization as
// attributes, because the state in between has its own grid that QDQ cannot express:
//   int16 state, int16 weights_time: TFLite's EvalIntegerSVDF (effective scales in float32, as
//     its Prepare multiplies them; no activation clamp beyond int8 — TFLite only accepts RELU and
//     relies on the output zero point);
//   int8 state, int8 weights_time: TFLite Micro's variant (effective scales in double, the state
//     zero point added to the clamped feature value and subtracted again in the time product).
// The integer runtime runs that arithmetic; the float runtime runs the dequantized model.
import { QuantizationError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import { SVDF_ACTIVATIONS, statefulDefs, type SvdfAttrs } from '../../ir/ops/stateful.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need } from '../ops/args.js';
import { clampInt, multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway } from './fixed-point.js';

/** Fused activations SVDF's float kernel applies (ApplyActivationToVector). */
const ACTIVATIONS: Record<(typeof SVDF_ACTIVATIONS)[number], (v: number) => number> = {
  NONE: (v) => v,
  RELU: (v) => Math.max(0, v),
  RELU_N1_TO_1: (v) => Math.min(1, Math.max(-1, v)),
  RELU6: (v) => Math.min(6, Math.max(0, v)),
  TANH: Math.tanh,
  SIGN_BIT: (v) => (v < 0 || Object.is(v, -0) ? 1 : 0),
  SIGMOID: (v) => 1 / (1 + Math.exp(-v)),
};

interface Dims {
  batch: number;
  input: number;
  filters: number;
  memory: number;
  units: number;
}

/** Checks the operands' shapes against each other (TFLite's Prepare) and returns the sizes. */
function svdfDims(node: string, x: Tensor, wf: Tensor, wt: Tensor, bias: Tensor | undefined, state: Tensor, rank: number): Dims {
  const where = `Svdf '${node}'`;
  if (x.rank !== 2 || wf.rank !== 2 || wt.rank !== 2) throw new ShapeError(`${where}: input [${x.shape}], weights_feature [${wf.shape}] and weights_time [${wt.shape}] must be 2-D`);
  const [batch, input] = x.shape as [number, number];
  const [filters, wfIn] = wf.shape as [number, number];
  const [wtFilters, memory] = wt.shape as [number, number];
  if (wfIn !== input) throw new ShapeError(`${where}: weights_feature [${wf.shape}] does not take an input of ${input} features`);
  if (wtFilters !== filters) throw new ShapeError(`${where}: weights_time [${wt.shape}] has ${wtFilters} filters, weights_feature ${filters}`);
  if (filters % rank !== 0) throw new ShapeError(`${where}: rank ${rank} does not divide its ${filters} filters`);
  const units = filters / rank;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== units)) throw new ShapeError(`${where}: bias [${bias.shape}] must be [${units}]`);
  if (state.rank !== 2 || state.shape[0] !== batch || state.shape[1] !== filters * memory) throw new ShapeError(`${where}: state [${state.shape}] must be [${batch}, ${filters * memory}] (batch, filters·memory)`);
  return { batch, input, filters, memory, units };
}

const numbers = (t: Tensor): ArrayLike<number> => t.data as ArrayLike<number>;

/** The float computation; quantized operands dequantized first and the result quantized (the model the file approximates). */
function svdfFloat(inputs: ReadonlyArray<Tensor | undefined>, a: SvdfAttrs, node: string): Tensor {
  const [x, wf, wt, bias, state] = [need(inputs, 0, 'input'), need(inputs, 1, 'weights_feature'), need(inputs, 2, 'weights_time'), inputs[3], need(inputs, 4, 'state')];
  const d = svdfDims(node, x, wf, wt, bias, state, a.rank);
  const q = a.quant;
  if (!q && [x, wf, wt, state, ...(bias ? [bias] : [])].some((t) => t.dtype !== 'float32')) {
    throw new UnsupportedError(`Svdf of ${x.dtype} input with ${wf.dtype} weights and no quantization attributes`, `node '${node}'`);
  }
  const deq = (t: Tensor, scale: number, zp: number): Float64Array => {
    const src = numbers(t);
    const out = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = q ? (src[i]! - zp) * scale : src[i]!;
    return out;
  };
  const xs = deq(x, q?.inputScale ?? 1, q?.inputZeroPoint ?? 0);
  const wfs = deq(wf, q?.weightsFeatureScale ?? 1, 0);
  const wts = deq(wt, q?.weightsTimeScale ?? 1, 0);
  const bs = bias ? deq(bias, q?.biasScale ?? 1, 0) : undefined;
  const st = deq(state, q?.stateScale ?? 1, q?.stateZeroPoint ?? 0);
  const act = ACTIVATIONS[a.activation as (typeof SVDF_ACTIVATIONS)[number]]!;
  const y = new Float64Array(d.batch * d.units);
  const { memory: m, filters: nf, units: nu, input: ni } = d;
  const rank = a.rank;
  const scratch = new Float64Array(nf);
  for (let b = 0; b < d.batch; b++) {
    const row = st.subarray(b * nf * m, (b + 1) * nf * m);
    row.copyWithin(0, 1);
    for (let f = 0; f < nf; f++) {
      let s = 0;
      for (let i = 0; i < ni; i++) s += wfs[f * ni + i]! * xs[b * ni + i]!;
      row[f * m + m - 1] = s;
      let t = 0;
      for (let k = 0; k < m; k++) t += wts[f * m + k]! * row[f * m + k]!;
      scratch[f] = t;
    }
    for (let u = 0; u < nu; u++) {
      let s = bs ? bs[u]! : 0;
      for (let r = 0; r < rank; r++) s += scratch[u * rank + r]!;
      y[b * nu + u] = act(s);
    }
  }
  if (!q) return new Tensor('float32', [d.batch, d.units], Float32Array.from(y));
  const out = new Int8Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = clampInt(roundHalfAway(y[i]! / q.outputScale) + q.outputZeroPoint, -128, 127);
  return new Tensor('int8', [d.batch, d.units], out);
}

/** The integer computation of TFLite's EvalIntegerSVDF (int16 state) / TFLite Micro's int8-state variant. */
export function svdfInteger(inputs: ReadonlyArray<Tensor | undefined>, a: SvdfAttrs, node: string): Tensor {
  const [x, wf, wt, bias, state] = [need(inputs, 0, 'input'), need(inputs, 1, 'weights_feature'), need(inputs, 2, 'weights_time'), inputs[3], need(inputs, 4, 'state')];
  const q = a.quant!;
  const d = svdfDims(node, x, wf, wt, bias, state, a.rank);
  const where = `integer Svdf '${node}'`;
  if (x.dtype !== 'int8' || wf.dtype !== 'int8') throw new UnsupportedError(`${where} of ${x.dtype} input and ${wf.dtype} weights_feature`, 'TFLite runs int8 ones');
  const int16State = state.dtype === 'int16';
  if (!int16State && state.dtype !== 'int8') throw new UnsupportedError(`${where} with ${state.dtype} state`, 'TFLite keeps it int16 (TFLite Micro also int8)');
  if (wt.dtype !== state.dtype) throw new UnsupportedError(`${where} with ${wt.dtype} weights_time and ${state.dtype} state`, 'they must have one type');
  if (bias && bias.dtype !== 'int32') throw new UnsupportedError(`${where} with a ${bias.dtype} bias`, 'int32 expected');
  if (int16State && q.stateZeroPoint !== 0) throw new QuantizationError(`${where}: an int16 state needs zero point 0, got ${q.stateZeroPoint}`);
  // TFLite multiplies the float32 scales in float; TFLite Micro casts them to double first
  const f = int16State ? Math.fround : (v: number) => v;
  const s1 = quantizeMultiplier(f(f(q.inputScale * q.weightsFeatureScale) / q.stateScale));
  const s2 = quantizeMultiplier(f(f(q.stateScale * q.weightsTimeScale) / q.outputScale));
  const [lo, hi] = int16State ? [-32768, 32767] : [-128, 127];
  const { memory: m, filters: nf, units: nu, input: ni } = d;
  const rank = a.rank;
  const xd = numbers(x);
  const wfd = numbers(wf);
  const wtd = numbers(wt);
  const bd = bias ? numbers(bias) : undefined;
  const st = int16State ? Int16Array.from(numbers(state)) : Int8Array.from(numbers(state));
  const y = new Int8Array(d.batch * nu);
  const scratch = new Float64Array(nf);
  for (let b = 0; b < d.batch; b++) {
    const row = st.subarray(b * nf * m, (b + 1) * nf * m);
    row.copyWithin(0, 1);
    for (let fi = 0; fi < nf; fi++) {
      // |Σ| < 2^15·input: exact in doubles; `| 0` is C's int32 wrap-around
      let acc = 0;
      for (let i = 0; i < ni; i++) acc += wfd[fi * ni + i]! * (xd[b * ni + i]! - q.inputZeroPoint);
      const v = clampInt(multiplyByQuantizedMultiplier(acc | 0, s1.multiplier, s1.shift), lo, hi);
      // int8 state: the zero point is added after the clamp and the store wraps to int8 (TFLite Micro)
      row[fi * m + m - 1] = v + q.stateZeroPoint;
      let t = 0;
      for (let k = 0; k < m; k++) t += wtd[fi * m + k]! * (row[fi * m + k]! - q.stateZeroPoint);
      scratch[fi] = t | 0;
    }
    for (let u = 0; u < nu; u++) {
      let s = bd ? bd[u]! : 0;
      for (let r = 0; r < rank; r++) s += scratch[u * rank + r]!;
      y[b * nu + u] = clampInt(multiplyByQuantizedMultiplier(s | 0, s2.multiplier, s2.shift) + q.outputZeroPoint, -128, 127);
    }
  }
  return new Tensor('int8', [d.batch, nu], y);
}

/** The float runtime's kernel: float SVDF, or an integer one run as its dequantized model. */
export const SVDF_FLOAT_OPS: OpTable = {
  'nnport::Svdf': defineOp<SvdfAttrs>({
    attrs: statefulDefs['nnport::Svdf'].attrs,
    run: (inputs, a, ctx) => [svdfFloat(inputs, a, ctx.node.name)],
  }),
};

/** The integer runtime's kernel: TFLite's integer arithmetic for quantized SVDFs, float ones as the float runtime runs them. */
export const SVDF_INTEGER_OPS: OpTable = {
  'nnport::Svdf': defineOp<SvdfAttrs>({
    attrs: statefulDefs['nnport::Svdf'].attrs,
    run: (inputs, a, ctx) => [a.quant ? svdfInteger(inputs, a, ctx.node.name) : svdfFloat(inputs, a, ctx.node.name)],
  }),
};
