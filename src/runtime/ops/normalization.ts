// BatchNormalization (inference and opset-14 training mode), InstanceNormalization, LayerNormalization.
// Inference BatchNorm is a per-channel affine y = x*s + b with s = scale/sqrt(var+eps),
// b = B - mean*s, run on the SIMD channel-affine kernel for float32.
import { ShapeError } from '../../ir/errors.js';
import { normalizationDefs, type BatchNormAttrs, type BatchNormalizationAttrs, type GroupNormAttrs, type LayerNormAttrs } from '../../ir/ops/index.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { f32ToHalf, halfToF32, isHalf, need, normAxis, tensorFromNumbers } from './args.js';
import { channelAffineF32Wasm } from '../../wasm/elementwise.js';
import { broadcastIndex } from '../broadcast.js';

function floatData(t: Tensor, what: string): Float32Array | Float64Array {
  if (isHalf(t.dtype)) return halfToF32(t);
  if (t.dtype === 'float32' || t.dtype === 'float64') return t.data as Float32Array | Float64Array;
  throw new ShapeError(`${what} must be a float tensor, got ${t.dtype}`);
}

function floatResult(like: Tensor, y: Float32Array | Float64Array): Tensor {
  if (isHalf(like.dtype)) return new Tensor(like.dtype, like.shape, f32ToHalf(like.dtype, y));
  // normalizeGroups computes in float64: a float32 tensor holds a Float32Array (WASM kernels read its bytes)
  return new Tensor(like.dtype, like.shape, like.dtype === 'float32' && y instanceof Float64Array ? Float32Array.from(y) : y);
}

export function batchNorm(inputs: ReadonlyArray<Tensor | undefined>, epsilon: number): Tensor {
  const x = need(inputs, 0, 'X');
  if (x.rank < 2) throw new ShapeError(`BatchNormalization input must have rank >= 2 (N, C, ...), got [${x.shape.join(', ')}]`);
  const c = x.shape[1]!;
  const names = ['scale', 'B', 'input_mean', 'input_var'];
  const params = names.map((name, i) => {
    const t = need(inputs, i + 1, name);
    if (t.size !== c || t.rank !== 1) throw new ShapeError(`BatchNormalization ${name} must have shape [${c}], got [${t.shape.join(', ')}]`);
    return floatData(t, name);
  });
  const xd = floatData(x, 'X');
  const [scale, bias, mean, variance] = params as [Float32Array, Float32Array, Float32Array, Float32Array];
  const s = new Float64Array(c);
  const b = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    s[i] = scale[i]! / Math.sqrt(variance[i]! + epsilon);
    b[i] = bias[i]! - mean[i]! * s[i]!;
  }
  const outer = x.shape[0]!;
  const inner = shapeSize(x.shape.slice(2));
  if (x.size === 0) return x;
  if (xd instanceof Float32Array) return floatResult(x, channelAffineF32Wasm(xd, Float32Array.from(s), Float32Array.from(b), outer, c, inner));
  const y = new Float64Array(xd.length);
  let p = 0;
  for (let o = 0; o < outer; o++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < inner; i++, p++) y[p] = xd[p]! * s[ch]! + b[ch]!;
  return floatResult(x, y);
}

/**
 * Normalise each of `groups` slices of `size` elements to zero mean and unit variance, then
 * apply a per-index affine. Records each group's mean and 1/std when asked.
 */
function normalizeGroups(
  xd: Float32Array | Float64Array,
  groups: number,
  size: number,
  epsilon: number,
  affine: (g: number, i: number, v: number) => number,
  stats?: { mean: Float64Array; invStd: Float64Array },
): Float64Array {
  const y = new Float64Array(xd.length);
  for (let g = 0; g < groups; g++) {
    const o = g * size;
    let mean = 0;
    for (let i = 0; i < size; i++) mean += xd[o + i]!;
    mean /= size;
    let v = 0;
    for (let i = 0; i < size; i++) v += (xd[o + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / size + epsilon);
    if (stats) {
      stats.mean[g] = mean;
      stats.invStd[g] = inv;
    }
    for (let i = 0; i < size; i++) y[o + i] = affine(g, i, (xd[o + i]! - mean) * inv);
  }
  return y;
}

/**
 * Training-mode BatchNormalization (opset 14+): Y normalised by the batch's own per-channel mean
 * and population variance, and the running statistics moved towards them by (1 - momentum).
 */
function batchNormTraining(inputs: ReadonlyArray<Tensor | undefined>, epsilon: number, momentum: number): Tensor[] {
  const x = need(inputs, 0, 'X');
  if (x.rank < 2) throw new ShapeError(`BatchNormalization input must have rank >= 2 (N, C, ...), got [${x.shape.join(', ')}]`);
  const c = x.shape[1]!;
  const outer = x.shape[0]!;
  const inner = shapeSize(x.shape.slice(2));
  const count = outer * inner;
  if (count === 0) throw new ShapeError(`BatchNormalization in training mode needs a non-empty batch, got [${x.shape.join(', ')}]`);
  const xd = floatData(x, 'X');
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let o = 0; o < outer; o++) for (let i = 0, p = (o * c + ch) * inner; i < inner; i++) s += xd[p + i]!;
    const m = s / count;
    let v = 0;
    for (let o = 0; o < outer; o++) for (let i = 0, p = (o * c + ch) * inner; i < inner; i++) v += (xd[p + i]! - m) ** 2;
    mean[ch] = m;
    variance[ch] = v / count;
  }
  const y = batchNorm([x, inputs[1], inputs[2], new Tensor('float64', [c], mean), new Tensor('float64', [c], variance)], epsilon);
  const running = (i: number, name: string, batch: Float64Array): Tensor => {
    const t = need(inputs, i, name);
    const old = floatData(t, name);
    if (old.length !== c) throw new ShapeError(`BatchNormalization ${name} must have shape [${c}], got [${t.shape.join(', ')}]`);
    const r = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) r[ch] = old[ch]! * momentum + batch[ch]! * (1 - momentum);
    return tensorFromNumbers(t.dtype, [c], r);
  };
  return [y, running(3, 'input_mean', mean), running(4, 'input_var', variance)];
}

export const normalizationOps: OpTable = {
  BatchNormalization: defineOp<BatchNormalizationAttrs>({
    attrs: normalizationDefs.BatchNormalization.attrs,
    run: (inputs, a) => (a.training ? batchNormTraining(inputs, a.epsilon, a.momentum) : [batchNorm(inputs, a.epsilon)]),
  }),
  InstanceNormalization: defineOp<BatchNormAttrs>({
    attrs: normalizationDefs.InstanceNormalization.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'input');
      if (x.rank < 3) throw new ShapeError(`InstanceNormalization input must have rank >= 3, got [${x.shape.join(', ')}]`);
      const c = x.shape[1]!;
      const scale = floatData(need(inputs, 1, 'scale'), 'scale');
      const bias = floatData(need(inputs, 2, 'B'), 'B');
      if (scale.length !== c || bias.length !== c) throw new ShapeError(`InstanceNormalization scale and B must have ${c} elements`);
      if (x.size === 0) return [x];
      const size = shapeSize(x.shape.slice(2));
      return [floatResult(x, normalizeGroups(floatData(x, 'input'), x.size / size, size, a.epsilon, (g, _i, v) => v * scale[g % c]! + bias[g % c]!))];
    },
  }),
  GroupNormalization: defineOp<GroupNormAttrs>({
    attrs: normalizationDefs.GroupNormalization.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      if (x.rank < 3) throw new ShapeError(`GroupNormalization input must have rank >= 3, got [${x.shape.join(', ')}]`);
      const c = x.shape[1]!;
      const g = a.numGroups;
      if (c % g !== 0) throw new ShapeError(`GroupNormalization: ${c} channels do not split into ${g} groups`);
      const scale = floatData(need(inputs, 1, 'scale'), 'scale');
      const bias = floatData(need(inputs, 2, 'bias'), 'bias');
      const perChannel = scale.length === c;
      if ((scale.length !== c && scale.length !== g) || bias.length !== scale.length) throw new ShapeError(`GroupNormalization scale and bias must have ${c} elements (one per channel) or ${g} (one per group)`);
      if (x.size === 0) return [x];
      const spatial = shapeSize(x.shape.slice(2));
      const size = (c / g) * spatial;
      // group k of sample n is channels (k·C/G ..) of it, contiguous in NCHW
      const param = (k: number, i: number): number => (perChannel ? (k % g) * (c / g) + Math.floor(i / spatial) : k % g);
      return [floatResult(x, normalizeGroups(floatData(x, 'X'), x.size / size, size, a.epsilon, (k, i, v) => v * scale[param(k, i)]! + bias[param(k, i)]!))];
    },
  }),
  LayerNormalization: defineOp<LayerNormAttrs>({
    attrs: normalizationDefs.LayerNormalization.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      const axis = normAxis(a.axis, x.rank);
      const size = shapeSize(x.shape.slice(axis));
      const scale = need(inputs, 1, 'Scale');
      const bias = inputs[2];
      // Scale and B broadcast (numpy-style, aligned at the last axis) to the normalised dims
      // x.shape[axis:]: a [C,1,1] scale over (C,H,W) holds one value per channel.
      const normShape = x.shape.slice(axis);
      const bcast = (t: Tensor, what: string) => {
        const d = floatData(t, what);
        const fits = t.rank <= normShape.length && t.shape.every((n, i) => n === 1 || n === normShape[normShape.length - t.rank + i]);
        if (!fits) throw new ShapeError(`LayerNormalization ${what} [${t.shape.join(', ')}] does not broadcast to [${normShape.join(', ')}]`);
        if (d.length === size) return (i: number) => d[i]!;
        const at = broadcastIndex(normShape, t.shape);
        return (i: number) => d[at[i]!]!;
      };
      const sc = bcast(scale, 'Scale');
      const bi = bias ? bcast(bias, 'B') : () => 0;
      if (x.size === 0) return [x];
      const groups = x.size / size;
      const stats = { mean: new Float64Array(groups), invStd: new Float64Array(groups) };
      const y = floatResult(x, normalizeGroups(floatData(x, 'X'), groups, size, a.epsilon, (_g, i, v) => v * sc(i) + bi(i), stats));
      // Mean and InvStdDev keep the normalised dims as 1s, in the stash type (float32 by default).
      const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
      const statType = a.stashType === 11 ? Float64Array : Float32Array;
      const statDType = a.stashType === 11 ? 'float64' : 'float32';
      return [y, new Tensor(statDType, statShape, statType.from(stats.mean)), new Tensor(statDType, statShape, statType.from(stats.invStd))];
    },
  }),
};
