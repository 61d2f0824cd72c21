// ReverseSequence and Unique: element copies of any dtype (strings included), no arithmetic.
import { allocArray, type TensorData } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { sequenceDefs, type ReverseSequenceAttrs, type UniqueAttrs } from '../../ir/ops/sequence.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { isHalf, need, normAxis, readInts } from './args.js';

type Elements = ArrayLike<number | bigint | string> & { [i: number]: number | bigint | string };

export function reverseSequence(x: Tensor, seqLens: Tensor, a: ReverseSequenceAttrs): Tensor {
  if (x.rank < 2) throw new ShapeError(`ReverseSequence input must have rank >= 2, got [${x.shape.join(', ')}]`);
  const B = x.shape[a.batchAxis]!;
  const T = x.shape[a.timeAxis]!;
  if (seqLens.rank !== 1 || seqLens.shape[0] !== B) throw new ShapeError(`ReverseSequence sequence_lens must be [${B}] (the batch axis), got [${seqLens.shape.join(', ')}]`);
  const lens = readInts(seqLens, 'ReverseSequence sequence_lens');
  for (const [b, n] of lens.entries()) if (n < 0 || n > T) throw new ShapeError(`ReverseSequence sequence_lens[${b}] = ${n} is outside [0, ${T}]`);
  const src = x.data as Elements;
  const out = allocArray(x.dtype, x.size) as unknown as Elements;
  const strides = stridesOf(x.shape);
  const inner = shapeSize(x.shape.slice(2));
  // axes 0 and 1 are batch and time in some order; the rest is copied as blocks of `inner`
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const from = t < lens[b]! ? lens[b]! - 1 - t : t;
      const dst = b * strides[a.batchAxis]! + t * strides[a.timeAxis]!;
      const s = b * strides[a.batchAxis]! + from * strides[a.timeAxis]!;
      for (let i = 0; i < inner; i++) out[dst + i] = src[s + i]!;
    }
  }
  return new Tensor(x.dtype, x.shape, out as unknown as TensorData);
}

function compareElements(a: number | bigint | string, b: number | bigint | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Y, indices (first occurrence), inverse_indices and counts of the unique elements of the
 * flattened input, or of its slices along `axis`; ascending (slices lexicographically) when
 * sorted, else in order of first occurrence.
 */
export function unique(x: Tensor, a: UniqueAttrs): Tensor[] {
  const raw = x.data as Elements;
  // float16 / bfloat16 compare by value, not by their bits
  const vals = (isHalf(x.dtype) ? x.toNumbers() : raw) as Elements;
  const axis = a.axis === undefined ? undefined : normAxis(a.axis, x.rank, 'Unique axis');
  const outer = axis === undefined ? 1 : shapeSize(x.shape.slice(0, axis));
  const n = axis === undefined ? x.size : x.shape[axis]!;
  const inner = axis === undefined ? 1 : shapeSize(x.shape.slice(axis + 1));
  /** the flat indices of slice i's elements */
  const slice = (i: number): number[] => {
    const e: number[] = [];
    for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) e.push((o * n + i) * inner + k);
    return e;
  };
  const slices = Array.from({ length: n }, (_, i) => slice(i));
  // string keys: a value's type and text (JSON cannot hold bigint); -0 and 0 are one value
  const keyOf = (e: number[]): string =>
    e.map((p) => { const v = vals[p]!; return typeof v === 'string' ? `s${JSON.stringify(v)}` : `${typeof v === 'bigint' ? 'b' : 'n'}${Object.is(v, -0) ? 0 : v}`; }).join(',');
  const firstOf = new Map<string, number>();
  const order: number[] = [];
  const count: number[] = [];
  const which = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const key = keyOf(slices[i]!);
    let u = firstOf.get(key);
    if (u === undefined) {
      u = order.length;
      firstOf.set(key, u);
      order.push(i);
      count.push(0);
    }
    count[u]!++;
    which[i] = u;
  }
  // rank[j]: the unique slice (numbered by first occurrence) at output position j
  const rank = order.map((_, u) => u);
  if (a.sorted) {
    rank.sort((p, q) => {
      const sp = slices[order[p]!]!;
      const sq = slices[order[q]!]!;
      for (let k = 0; k < sp.length; k++) {
        const c = compareElements(vals[sp[k]!]!, vals[sq[k]!]!);
        if (c) return c;
      }
      return 0;
    });
  }
  const position = new Array<number>(rank.length);
  rank.forEach((u, j) => (position[u] = j));
  const m = rank.length;
  const yShape = axis === undefined ? [m] : x.shape.map((d, i) => (i === axis ? m : d));
  const y = allocArray(x.dtype, shapeSize(yShape)) as unknown as Elements;
  for (let j = 0; j < m; j++) {
    const e = slices[order[rank[j]!]!]!;
    let p = 0;
    for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) y[(o * m + j) * inner + k] = raw[e[p++]!]!;
  }
  return [
    new Tensor(x.dtype, yShape, y as unknown as TensorData),
    Tensor.int64([m], rank.map((u) => order[u]!)),
    Tensor.int64([n], which.map((u) => position[u]!)),
    Tensor.int64([m], rank.map((u) => count[u]!)),
  ];
}

export const sequenceOps: OpTable = {
  ReverseSequence: defineOp<ReverseSequenceAttrs>({
    attrs: sequenceDefs.ReverseSequence.attrs,
    run: (inputs, a) => [reverseSequence(need(inputs, 0, 'input'), need(inputs, 1, 'sequence_lens'), a)],
  }),
  Unique: defineOp<UniqueAttrs>({
    attrs: sequenceDefs.Unique.attrs,
    run: (inputs, a) => unique(need(inputs, 0, 'X'), a),
  }),
};
