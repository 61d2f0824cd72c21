// MeanVarianceNormalization in float64. The variance is E[(X - E[X])^2], which cannot come out
// negative as ONNX's function body E[X^2] - E[X]^2 can by rounding; the 1e-9 that body adds to
// the standard deviation is kept, so a constant slice gives 0 instead of NaN.
import { UnsupportedError } from '../../ir/errors.js';
import { momentsDefs, type MvnAttrs } from '../../ir/ops/moments.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxes, tensorFromNumbers } from './args.js';

const MVN_EPSILON = 1e-9;

export function meanVarianceNormalization(x: Tensor, a: MvnAttrs): Tensor {
  if (!['float32', 'float64', 'float16', 'bfloat16'].includes(x.dtype)) throw new UnsupportedError(`MeanVarianceNormalization on ${x.dtype}`);
  const axes = normAxes(a.axes, x.rank, 'MeanVarianceNormalization axes');
  if (x.size === 0) return x;
  const xd = x.dtype === 'float32' || x.dtype === 'float64' ? (x.data as Float32Array | Float64Array) : Float64Array.from(x.toNumbers());
  // every element's group: its index with the normalised axes dropped
  const strides = stridesOf(x.shape);
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const groupStrides = stridesOf(keptAxes.map((i) => x.shape[i]!));
  const groups = shapeSize(keptAxes.map((i) => x.shape[i]!));
  const group = new Int32Array(x.size);
  for (let e = 0; e < x.size; e++) {
    let g = 0;
    keptAxes.forEach((ax, k) => (g += (Math.floor(e / strides[ax]!) % x.shape[ax]!) * groupStrides[k]!));
    group[e] = g;
  }
  const size = x.size / groups;
  const mean = new Float64Array(groups);
  for (let e = 0; e < x.size; e++) mean[group[e]!] += xd[e]!;
  for (let g = 0; g < groups; g++) mean[g] /= size;
  const variance = new Float64Array(groups);
  for (let e = 0; e < x.size; e++) variance[group[e]!] += (xd[e]! - mean[group[e]!]!) ** 2;
  const out = new Float64Array(x.size);
  for (let e = 0; e < x.size; e++) {
    const g = group[e]!;
    out[e] = (xd[e]! - mean[g]!) / (Math.sqrt(variance[g]! / size) + MVN_EPSILON);
  }
  return tensorFromNumbers(x.dtype, x.shape, out);
}

export const momentsOps: OpTable = {
  MeanVarianceNormalization: defineOp<MvnAttrs>({
    attrs: momentsDefs.MeanVarianceNormalization.attrs,
    run: (inputs, a) => [meanVarianceNormalization(need(inputs, 0, 'X'), a)],
  }),
};
