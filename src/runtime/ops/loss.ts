// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX opset 12/13), computed in float64.
// loss[n, d1..dk] = -x[n, target, d1..dk] * weight[target]; a target equal to ignore_index adds
// neither loss nor weight; 'mean' divides the sum by the sum of the weights applied.
import { ShapeError } from '../../ir/errors.js';
import { lossDefs, type LossAttrs } from '../../ir/ops/loss.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { floatValues, need, readInts, tensorFromNumbers } from './args.js';

/** The loss of log-probabilities `logp` ([N, C, D] in memory) against `target` ([N, D]), reduced as asked, in x's dtype. */
function negativeLogLikelihood(op: string, logp: ArrayLike<number>, x: Tensor, target: Tensor, weight: Tensor | undefined, a: LossAttrs): Tensor {
  if (x.rank < 2) throw new ShapeError(`${op} input must be [N, C, d1, ..., dk], got [${x.shape.join(', ')}]`);
  const [N, C] = x.shape as [number, number];
  const expected = [N, ...x.shape.slice(2)];
  if (target.rank !== expected.length || target.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op} target [${target.shape.join(', ')}] does not fit input [${x.shape.join(', ')}]: expected [${expected.join(', ')}]`);
  }
  if (target.dtype !== 'int32' && target.dtype !== 'int64') throw new ShapeError(`${op} target must be int32 or int64, got ${target.dtype}`);
  const w = weight && floatValues(weight, `${op} weight`);
  if (weight && (weight.rank !== 1 || weight.size !== C)) throw new ShapeError(`${op} weight must be [${C}], got [${weight.shape.join(', ')}]`);
  const D = shapeSize(x.shape.slice(2));
  const t = readInts(target, `${op} target`);
  const loss = new Float64Array(N * D);
  let sum = 0;
  let weights = 0;
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const cls = t[n * D + d]!;
      if (cls === a.ignoreIndex) continue;
      if (cls < 0 || cls >= C) throw new ShapeError(`${op} target ${cls} at position ${n * D + d} is not a class index in [0, ${C})`);
      const wc = w ? w[cls]! : 1;
      const l = -logp[(n * C + cls) * D + d]! * wc;
      loss[n * D + d] = l;
      sum += l;
      weights += wc;
    }
  }
  if (a.reduction === 'none') return tensorFromNumbers(x.dtype, target.shape, loss);
  return tensorFromNumbers(x.dtype, [], [a.reduction === 'sum' ? sum : sum / weights]);
}

/** log-softmax over axis 1 of [N, C, D]. */
function logSoftmaxClasses(x: ArrayLike<number>, N: number, C: number, D: number): Float64Array {
  const out = new Float64Array(N * C * D);
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const base = n * C * D + d;
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, x[base + c * D]!);
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(x[base + c * D]! - max);
      const lse = max + Math.log(s);
      for (let c = 0; c < C; c++) out[base + c * D] = x[base + c * D]! - lse;
    }
  }
  return out;
}

export const lossOps: OpTable = {
  NegativeLogLikelihoodLoss: defineOp<LossAttrs>({
    attrs: lossDefs.NegativeLogLikelihoodLoss.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'input');
      return [negativeLogLikelihood('NegativeLogLikelihoodLoss', floatValues(x, 'NegativeLogLikelihoodLoss input'), x, need(inputs, 1, 'target'), inputs[2], a)];
    },
  }),
  SoftmaxCrossEntropyLoss: defineOp<LossAttrs>({
    attrs: lossDefs.SoftmaxCrossEntropyLoss.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'scores');
      if (x.rank < 2) throw new ShapeError(`SoftmaxCrossEntropyLoss scores must be [N, C, d1, ..., dk], got [${x.shape.join(', ')}]`);
      const logp = logSoftmaxClasses(floatValues(x, 'SoftmaxCrossEntropyLoss scores'), x.shape[0]!, x.shape[1]!, shapeSize(x.shape.slice(2)));
      const loss = negativeLogLikelihood('SoftmaxCrossEntropyLoss', logp, x, need(inputs, 1, 'labels'), inputs[2], a);
      return [loss, tensorFromNumbers(x.dtype, x.shape, logp)];
    },
  }),
};
