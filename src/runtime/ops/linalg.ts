// Einsum and Det. Einsum takes each operand's diagonals (a repeated label) and sums the labels
// only it carries, then contracts the operands left to right: each pair is laid out as
// [batch, free, contracted] x [batch, contracted, free] and multiplied as a batched MatMul (the
// SIMD GEMM for float32, float64 loops otherwise). Det is LU with partial pivoting in float64.
import { checkTensorShape } from '../../ir/budget.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { einsumDims, einsumLabels, linalgDefs, type EinsumAttrs } from '../../ir/ops/linalg.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { matmulF32 } from '../../wasm/dense.js';
import { defineOp, noAttrs, type OpTable } from '../op.js';
import { need, tensorFromNumbers } from './args.js';

/** An operand during the contraction: float64 elements, one label per axis (labels may repeat before `arrange`). */
interface Operand {
  data: Float64Array;
  shape: number[];
  labels: number[];
}

function float64Of(t: Tensor, op: string): Float64Array {
  if (t.dtype === 'string' || t.dtype === 'bool') throw new UnsupportedError(`${op} on ${t.dtype}`);
  if (t.dtype === 'float32' || t.dtype === 'float64') return Float64Array.from(t.data as Float32Array | Float64Array);
  return Float64Array.from(t.toNumbers());
}

/**
 * The operand's elements laid out over `target` (distinct labels, extents from `dims`): a label
 * the operand carries on several axes reads their diagonal, one it carries with extent 1
 * broadcasts. Every label of the operand must be in `target`.
 */
function arrange(op: Operand, target: readonly number[], dims: ReadonlyMap<number, number>): Float64Array {
  const src = stridesOf(op.shape);
  const ext = target.map((l) => dims.get(l)!);
  const step = target.map((l) => {
    let s = 0;
    op.labels.forEach((ol, ax) => {
      if (ol === l && op.shape[ax] !== 1) s += src[ax]!;
    });
    return s;
  });
  checkTensorShape('float64', ext, 'Einsum operand (broadcast)');
  const n = shapeSize(ext);
  const out = new Float64Array(n);
  if (n === 0) return out;
  const r = target.length;
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    out[i] = op.data[off]!;
    for (let d = r - 1; d >= 0; d--) {
      off += step[d]!;
      if (++idx[d]! < ext[d]!) break;
      off -= step[d]! * ext[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** The operand over its distinct labels in `keep` order, the others summed out. */
function keepOnly(op: Operand, keep: readonly number[], dims: ReadonlyMap<number, number>): Operand {
  const own = [...new Set(op.labels)];
  const kept = keep.filter((l) => own.includes(l));
  const dropped = own.filter((l) => !kept.includes(l));
  const shape = kept.map((l) => dims.get(l)!);
  if (!dropped.length && kept.length === op.labels.length && kept.every((l, i) => l === op.labels[i]) && shape.every((d, i) => d === op.shape[i])) return op;
  const all = arrange(op, [...kept, ...dropped], dims);
  const block = shapeSize(dropped.map((l) => dims.get(l)!));
  checkTensorShape('float64', shape, 'Einsum partial sum');
  const data = new Float64Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) {
    let s = 0;
    for (let j = i * block, e = j + block; j < e; j++) s += all[j]!;
    data[i] = s;
  }
  return { data, shape, labels: kept };
}

/** out[b] = a[b] (M x K) x b[b] (K x N). */
function batchedMatMul(a: Float64Array, b: Float64Array, B: number, M: number, K: number, N: number, float32: boolean): Float64Array {
  // an outer product of small operands can be large: 'a,b,c,d->abcd' of four 1000-vectors is 10^12
  checkTensorShape('float64', [B, M, N], 'Einsum contraction');
  if (B * M * N === 0) return new Float64Array(0);
  if (K === 0) return new Float64Array(B * M * N);
  if (float32) {
    const out = new Float32Array(B * M * N);
    matmulF32(new Tensor('float32', [B, M, K], Float32Array.from(a)), new Tensor('float32', [B, K, N], Float32Array.from(b)), { M, N, K, aBatch: [B], bBatch: [B], batch: [B] }, out);
    return Float64Array.from(out);
  }
  const out = new Float64Array(B * M * N);
  for (let p = 0; p < B; p++) {
    const ao = p * M * K;
    const bo = p * K * N;
    const oo = p * M * N;
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const v = a[ao + i * K + k]!;
        if (v === 0) continue;
        const br = bo + k * N;
        const or = oo + i * N;
        for (let j = 0; j < N; j++) out[or + j] += v * b[br + j]!;
      }
    }
  }
  return out;
}

function contract(a: Operand, b: Operand, later: ReadonlySet<number>, dims: ReadonlyMap<number, number>, float32: boolean): Operand {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && later.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !later.has(l));
  const aFree = a.labels.filter((l) => !inB.has(l));
  const bFree = b.labels.filter((l) => !inA.has(l));
  const size = (ls: number[]) => shapeSize(ls.map((l) => dims.get(l)!));
  const data = batchedMatMul(arrange(a, [...batch, ...aFree, ...summed], dims), arrange(b, [...batch, ...summed, ...bFree], dims), size(batch), size(aFree), size(summed), size(bFree), float32);
  const labels = [...batch, ...aFree, ...bFree];
  return { data, shape: labels.map((l) => dims.get(l)!), labels };
}

export function einsum(inputs: readonly Tensor[], a: EinsumAttrs): Tensor {
  const dtype = inputs[0]!.dtype;
  if (inputs.some((t) => t.dtype !== dtype)) throw new ShapeError(`Einsum operands must share one dtype, got ${inputs.map((t) => t.dtype).join(', ')}`);
  const labels = einsumLabels(a, inputs.map((t) => t.rank));
  const dims = einsumDims(labels, inputs.map((t) => t.shape), a.equation) as Map<number, number>;
  const outShape = labels.output.map((l) => dims.get(l)!);
  const ops: Operand[] = inputs.map((t, i) => ({ data: float64Of(t, 'Einsum'), shape: [...t.shape], labels: labels.inputs[i]! }));
  // labels needed after operand i: the output's and those of the operands after it
  const needed = (from: number): Set<number> => new Set([...labels.output, ...ops.slice(from).flatMap((o) => o.labels)]);
  let acc = keepOnly(ops[0]!, [...needed(1)], dims);
  for (let i = 1; i < ops.length; i++) {
    const later = needed(i + 1);
    const b = keepOnly(ops[i]!, [...new Set([...later, ...acc.labels])], dims);
    acc = contract(acc, b, later, dims, dtype === 'float32');
  }
  acc = keepOnly(acc, labels.output, dims);
  return tensorFromNumbers(dtype, outShape, arrange(acc, labels.output, dims));
}

/** Determinants of the [*, M, M] input's matrices. */
export function det(x: Tensor): Tensor {
  if (!['float32', 'float64', 'float16', 'bfloat16'].includes(x.dtype)) throw new UnsupportedError(`Det on ${x.dtype}`);
  const r = x.rank;
  if (r < 2 || x.shape[r - 1] !== x.shape[r - 2]) throw new ShapeError(`Det needs an input of square matrices [*, M, M], got [${x.shape.join(', ')}]`);
  const M = x.shape[r - 1]!;
  const batch = x.shape.slice(0, -2);
  const count = shapeSize(batch);
  const src = float64Of(x, 'Det');
  const out = new Float64Array(count);
  const m = new Float64Array(M * M);
  for (let b = 0; b < count; b++) {
    m.set(src.subarray(b * M * M, (b + 1) * M * M));
    let d = 1;
    for (let k = 0; k < M; k++) {
      let p = k;
      for (let i = k + 1; i < M; i++) if (Math.abs(m[i * M + k]!) > Math.abs(m[p * M + k]!)) p = i;
      const pivot = m[p * M + k]!;
      if (pivot === 0) {
        d = 0;
        break;
      }
      if (p !== k) {
        for (let j = k; j < M; j++) {
          const t = m[k * M + j]!;
          m[k * M + j] = m[p * M + j]!;
          m[p * M + j] = t;
        }
        d = -d;
      }
      d *= pivot;
      for (let i = k + 1; i < M; i++) {
        const f = m[i * M + k]! / pivot;
        if (f === 0) continue;
        for (let j = k + 1; j < M; j++) m[i * M + j] -= f * m[k * M + j]!;
      }
    }
    out[b] = d;
  }
  return tensorFromNumbers(x.dtype, batch, out);
}

export const linalgOps: OpTable = {
  Einsum: defineOp<EinsumAttrs>({
    attrs: linalgDefs.Einsum.attrs,
    run: (inputs, a) => [einsum(inputs.map((t, i) => need(inputs, i, `Inputs ${i}`)) as Tensor[], a)],
  }),
  Det: defineOp({
    attrs: linalgDefs.Det.attrs,
    run: (inputs) => [det(need(inputs, 0, 'X'))],
  }),
};
