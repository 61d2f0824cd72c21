import type { Tensor } from '../ir/tensor.js';
import { ShapeError } from '../ir/errors.js';

export interface TensorDiff {
  name: string;
  shape: number[];
  maxAbs: number;
  meanAbs: number;
  /** max |a-b| / max(|b|, tiny): a scale-free view of the same error */
  maxRel: number;
  /** shapes or element counts differ: the tensors were not compared */
  mismatch?: string;
}

/** Elementwise error of `a` against the reference `b` (any numeric dtypes, same shape). */
export function diffTensors(name: string, a: Tensor, b: Tensor): TensorDiff {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return { name, shape: [...a.shape], maxAbs: NaN, meanAbs: NaN, maxRel: NaN, mismatch: `shape [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]` };
  }
  const x = a.toFloat32();
  const y = b.toFloat32();
  let maxAbs = 0;
  let sum = 0;
  let maxRef = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    // NaN in exactly one side is an infinite error; NaN in both is agreement
    const e = Number.isNaN(d) ? (Number.isNaN(x[i]!) && Number.isNaN(y[i]!) ? 0 : Infinity) : d;
    if (e > maxAbs) maxAbs = e;
    sum += e;
    maxRef = Math.max(maxRef, Math.abs(y[i]!) || 0);
  }
  return { name, shape: [...a.shape], maxAbs, meanAbs: x.length ? sum / x.length : 0, maxRel: maxAbs / Math.max(maxRef, 1e-30) };
}

/** Pair outputs by name, or by position when the names differ (converted models rename them). */
export function pairOutputs(a: Map<string, Tensor>, b: Map<string, Tensor>): [string, Tensor, Tensor][] {
  const an = [...a.keys()];
  const bn = [...b.keys()];
  if (an.every((n) => b.has(n))) return an.map((n) => [n, a.get(n)!, b.get(n)!]);
  if (an.length !== bn.length) throw new ShapeError(`the models have ${an.length} and ${bn.length} outputs; cannot pair them`);
  return an.map((n, i) => [n === bn[i] ? n : `${n} ~ ${bn[i]}`, a.get(n)!, b.get(bn[i]!)!]);
}
