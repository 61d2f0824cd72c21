// Index-producing and index-driven ops PyTorch and TF exports hit outside the hot path:
// Trilu, EyeLike, OneHot, NonZero, CumSum, TopK, DepthToSpace, SpaceToDepth.
import { allocArray, isBigIntDType } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { dtypeFromOnnxEnum, indexingDefs, type DepthToSpaceAttrs, type EyeLikeAttrs, type Reduction, type ScatterAttrs, type TopKAttrs } from '../../ir/ops/index.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxis, readInts, readNumbers, readScalar } from './args.js';
import { transpose } from './shape.js';
import { gatherFlat } from './elementwise.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const zeroOf = (t: Tensor): any => (isBigIntDType(t.dtype) ? 0n : t.dtype === 'string' ? '' : 0);

function trilu(x: Tensor, k: number, upper: boolean): Tensor {
  if (x.rank < 2) throw new ShapeError(`Trilu input must have rank >= 2, got [${x.shape.join(', ')}]`);
  const m = x.shape[x.rank - 2]!;
  const n = x.shape[x.rank - 1]!;
  const out: any = allocArray(x.dtype, x.size);
  const src = x.data as any;
  const zero = zeroOf(x);
  for (let p = 0; p < x.size; p++) {
    const j = p % n;
    const i = Math.floor(p / n) % m;
    out[p] = (upper ? j - i >= k : j - i <= k) ? src[p] : zero;
  }
  return new Tensor(x.dtype, x.shape, out);
}

function oneHot(indices: Tensor, depthT: Tensor, values: Tensor, axisAttr: number): Tensor {
  const depth = Math.trunc(readScalar(depthT, 'OneHot depth'));
  if (depth < 0) throw new ShapeError(`OneHot depth ${depth} is negative`);
  if (values.size !== 2) throw new ShapeError(`OneHot values must hold [off, on], got [${values.shape.join(', ')}]`);
  const rank = indices.rank + 1;
  const axis = normAxis(axisAttr, rank);
  const idx = readNumbers(indices, 'OneHot indices').map(Math.trunc);
  const shape = [...indices.shape.slice(0, axis), depth, ...indices.shape.slice(axis)];
  const outer = shapeSize(indices.shape.slice(0, axis));
  const inner = shapeSize(indices.shape.slice(axis));
  const v = values.data as any;
  const out: any = allocArray(values.dtype, shapeSize(shape));
  out.fill(v[0]);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let d = idx[o * inner + i]!;
      if (d < 0) d += depth;
      if (d >= 0 && d < depth) out[(o * depth + d) * inner + i] = v[1];
    }
  }
  return new Tensor(values.dtype, shape, out);
}

function cumSum(x: Tensor, axisT: Tensor, exclusive: boolean, reverse: boolean): Tensor {
  const axis = normAxis(readScalar(axisT, 'CumSum axis'), x.rank);
  if (x.dtype === 'bool' || x.dtype === 'string' || x.dtype === 'float16' || x.dtype === 'bfloat16') throw new ShapeError(`CumSum does not accept ${x.dtype}`);
  const outer = shapeSize(x.shape.slice(0, axis));
  const len = x.shape[axis]!;
  const inner = shapeSize(x.shape.slice(axis + 1));
  const src = x.data as any;
  const out: any = allocArray(x.dtype, x.size);
  const zero = zeroOf(x);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = zero;
      for (let s = 0; s < len; s++) {
        const l = reverse ? len - 1 - s : s;
        const p = (o * len + l) * inner + i;
        if (exclusive) {
          out[p] = acc;
          acc += src[p];
        } else {
          acc += src[p];
          out[p] = acc;
        }
      }
    }
  }
  return new Tensor(x.dtype, x.shape, out);
}

/** Values and indices of the k largest/smallest along an axis (sorted=0 may return any order; sorted is one). */
function topK(x: Tensor, k: number, axisAttr: number, largest: boolean): Tensor[] {
  const axis = normAxis(axisAttr, x.rank);
  const len = x.shape[axis]!;
  if (k < 0 || k > len) throw new ShapeError(`TopK k=${k} is out of range for axis ${axis} of size ${len}`);
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1));
  const shape = [...x.shape];
  shape[axis] = k;
  const src = x.data as any;
  const vals: any = allocArray(x.dtype, shapeSize(shape));
  const idx = new BigInt64Array(shapeSize(shape));
  const order = new Array<number>(len);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let l = 0; l < len; l++) order[l] = l;
      const at = (l: number) => src[(o * len + l) * inner + i];
      // Stable: equal values keep the lower index first.
      order.sort((a, b) => {
        const va = at(a);
        const vb = at(b);
        if (va === vb) return a - b;
        return (largest ? va < vb : va > vb) ? 1 : -1;
      });
      for (let j = 0; j < k; j++) {
        const p = (o * k + j) * inner + i;
        vals[p] = at(order[j]!);
        idx[p] = BigInt(order[j]!);
      }
    }
  }
  return [new Tensor(x.dtype, shape, vals), new Tensor('int64', shape, idx)];
}

function nonZero(x: Tensor): Tensor {
  const src = x.data as any;
  const hits: number[] = [];
  for (let p = 0; p < x.size; p++) if (src[p] && src[p] !== 0n) hits.push(p);
  const strides = stridesOf(x.shape);
  const r = Math.max(x.rank, 1);
  const out = new BigInt64Array(r * hits.length);
  hits.forEach((p, h) => {
    let rem = p;
    for (let d = 0; d < x.rank; d++) {
      out[d * hits.length + h] = BigInt(Math.floor(rem / strides[d]!));
      rem %= strides[d]!;
    }
  });
  return new Tensor('int64', [x.rank, hits.length], x.rank ? out : new BigInt64Array(0));
}

/** DepthToSpace / SpaceToDepth as reshape -> transpose -> reshape. */
function depthToSpace(x: Tensor, b: number, mode: string): Tensor {
  if (x.rank !== 4) throw new ShapeError(`DepthToSpace input must be [N, C, H, W], got [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (c % (b * b)) throw new ShapeError(`DepthToSpace: channels ${c} not divisible by blocksize^2 = ${b * b}`);
  const cc = c / (b * b);
  const t =
    mode === 'DCR' ? transpose(x.reshape([n, b, b, cc, h, w]), [0, 3, 4, 1, 5, 2]) : transpose(x.reshape([n, cc, b, b, h, w]), [0, 1, 4, 2, 5, 3]);
  return t.reshape([n, cc, h * b, w * b]);
}

function spaceToDepth(x: Tensor, b: number): Tensor {
  if (x.rank !== 4) throw new ShapeError(`SpaceToDepth input must be [N, C, H, W], got [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (h % b || w % b) throw new ShapeError(`SpaceToDepth: H=${h}, W=${w} not divisible by blocksize ${b}`);
  return transpose(x.reshape([n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]).reshape([n, c * b * b, h / b, w / b]);
}

/** GatherND with batch_dims: index tuples address slices of data after the batch dims. */
function gatherND(data: Tensor, indices: Tensor, batchDims: number): Tensor {
  const q = indices.rank;
  const k = indices.shape[q - 1]!;
  if (q < 1 || batchDims + k > data.rank) throw new ShapeError(`GatherND: index tuples of ${k} do not fit data [${data.shape.join(', ')}] after ${batchDims} batch dims`);
  const idx = readInts(indices, 'GatherND indices');
  const batch = shapeSize(data.shape.slice(0, batchDims));
  const sliceShape = data.shape.slice(batchDims + k);
  const slice = shapeSize(sliceShape);
  const tuples = shapeSize(indices.shape.slice(batchDims, q - 1));
  const strides = stridesOf(data.shape.slice(batchDims));
  const batchSize = shapeSize(data.shape.slice(batchDims));
  const out: any = allocArray(data.dtype, batch * tuples * slice);
  const src = data.data as any;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < tuples; t++) {
      let off = b * batchSize;
      for (let j = 0; j < k; j++) {
        const dim = data.shape[batchDims + j]!;
        let i = idx[(b * tuples + t) * k + j]!;
        if (i < -dim || i >= dim) throw new ShapeError(`GatherND index ${i} out of range for dim ${batchDims + j} of size ${dim}`);
        if (i < 0) i += dim;
        off += i * strides[j]!;
      }
      for (let e = 0; e < slice; e++) out[(b * tuples + t) * slice + e] = src[off + e];
    }
  }
  return new Tensor(data.dtype, [...indices.shape.slice(0, q - 1), ...sliceShape], out);
}


function combine(r: Reduction, a: any, b: any): any {
  switch (r) {
    case 'none':
      return b;
    case 'add':
      return a + b;
    case 'mul':
      return a * b;
    case 'max':
      return a > b ? a : b;
    case 'min':
      return a < b ? a : b;
  }
}

function scatterND(data: Tensor, indices: Tensor, updates: Tensor, r: Reduction): Tensor {
  const k = indices.shape[indices.rank - 1]!;
  if (k > data.rank) throw new ShapeError(`ScatterND: index tuples of ${k} for data of rank ${data.rank}`);
  const idx = readInts(indices, 'ScatterND indices');
  const slice = shapeSize(data.shape.slice(k));
  const tuples = idx.length / Math.max(k, 1);
  if (updates.dtype !== data.dtype || updates.size !== tuples * slice) throw new ShapeError(`ScatterND updates [${updates.shape.join(', ')}] do not fit`);
  const strides = stridesOf(data.shape);
  const out: any = (data.data as any).slice();
  const up = updates.data as any;
  for (let t = 0; t < tuples; t++) {
    let off = 0;
    for (let j = 0; j < k; j++) {
      const dim = data.shape[j]!;
      let i = idx[t * k + j]!;
      if (i < -dim || i >= dim) throw new ShapeError(`ScatterND index ${i} out of range for dim ${j} of size ${dim}`);
      if (i < 0) i += dim;
      off += i * strides[j]!;
    }
    for (let e = 0; e < slice; e++) out[off + e] = combine(r, out[off + e], up[t * slice + e]);
  }
  return new Tensor(data.dtype, data.shape, out);
}

function scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axisAttr: number, r: Reduction): Tensor {
  const axis = normAxis(axisAttr, data.rank);
  if (indices.rank !== data.rank || updates.shape.join() !== indices.shape.join()) throw new ShapeError('ScatterElements: indices and updates must have one shape of the data rank');
  const idx = readInts(indices, 'ScatterElements indices');
  const ds = stridesOf(data.shape);
  const is = stridesOf(indices.shape);
  const dim = data.shape[axis]!;
  const out: any = (data.data as any).slice();
  const up = updates.data as any;
  for (let p = 0; p < idx.length; p++) {
    let i = idx[p]!;
    if (i < -dim || i >= dim) throw new ShapeError(`ScatterElements index ${i} out of range for axis ${axis} of size ${dim}`);
    if (i < 0) i += dim;
    let off = 0;
    let rem = p;
    for (let d = 0; d < data.rank; d++) {
      const c = Math.floor(rem / is[d]!);
      rem -= c * is[d]!;
      off += (d === axis ? i : c) * ds[d]!;
    }
    out[off] = combine(r, out[off], up[p]);
  }
  return new Tensor(data.dtype, data.shape, out);
}

function compress(x: Tensor, cond: Tensor, axis: number | undefined): Tensor {
  const c = readNumbers(cond, 'Compress condition');
  if (axis === undefined) {
    const flat = x.reshape([x.size]);
    const keep = Int32Array.from(c.flatMap((v, i) => (v && i < x.size ? [i] : [])));
    return gatherFlat(flat, [keep.length], keep);
  }
  const a = normAxis(axis, x.rank);
  const keep = c.flatMap((v, i) => (v && i < x.shape[a]! ? [i] : []));
  const outer = shapeSize(x.shape.slice(0, a));
  const inner = shapeSize(x.shape.slice(a + 1));
  const src = x.data as any;
  const out: any = allocArray(x.dtype, outer * keep.length * inner);
  let p = 0;
  for (let o = 0; o < outer; o++) for (const k of keep) for (let i = 0; i < inner; i++) out[p++] = src[(o * x.shape[a]! + k) * inner + i];
  const shape = [...x.shape];
  shape[a] = keep.length;
  return new Tensor(x.dtype, shape, out);
}

export const indexingOps: OpTable = {
  GatherND: defineOp<{ batchDims: number }>({
    attrs: indexingDefs.GatherND.attrs,
    run: (inputs, a) => [gatherND(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), a.batchDims)],
  }),
  ScatterND: defineOp<{ reduction: Reduction }>({
    attrs: indexingDefs.ScatterND.attrs,
    run: (inputs, a) => [scatterND(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), need(inputs, 2, 'updates'), a.reduction)],
  }),
  ScatterElements: defineOp<ScatterAttrs>({
    attrs: indexingDefs.ScatterElements.attrs,
    run: (inputs, a) => [scatterElements(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), need(inputs, 2, 'updates'), a.axis, a.reduction)],
  }),
  // Scatter (opset 9-10) is ScatterElements under its old name.
  Scatter: defineOp<ScatterAttrs>({
    attrs: indexingDefs.Scatter.attrs,
    run: (inputs, a) => [scatterElements(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), need(inputs, 2, 'updates'), a.axis, 'none')],
  }),
  Compress: defineOp<{ axis?: number }>({
    attrs: indexingDefs.Compress.attrs,
    run: (inputs, a) => [compress(need(inputs, 0, 'input'), need(inputs, 1, 'condition'), a.axis)],
  }),
  Trilu: defineOp<{ upper: boolean }>({
    attrs: indexingDefs.Trilu.attrs,
    run: (inputs, a) => [trilu(need(inputs, 0, 'input'), inputs[1] ? readScalar(inputs[1], 'Trilu k') : 0, a.upper)],
  }),
  EyeLike: defineOp<EyeLikeAttrs>({
    attrs: indexingDefs.EyeLike.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'input');
      if (x.rank !== 2) throw new ShapeError(`EyeLike input must be 2-D, got [${x.shape.join(', ')}]`);
      const dtype = a.dtype !== undefined ? dtypeFromOnnxEnum(a.dtype) : x.dtype;
      const t = Tensor.zeros(dtype, x.shape);
      const [m, n] = x.shape as [number, number];
      const one: any = isBigIntDType(dtype) ? 1n : dtype === 'float16' ? 0x3c00 : dtype === 'bfloat16' ? 0x3f80 : 1;
      for (let i = 0; i < m; i++) if (i + a.k >= 0 && i + a.k < n) (t.data as any)[i * n + i + a.k] = one;
      return [t];
    },
  }),
  OneHot: defineOp<{ axis: number }>({
    attrs: indexingDefs.OneHot.attrs,
    run: (inputs, a) => [oneHot(need(inputs, 0, 'indices'), need(inputs, 1, 'depth'), need(inputs, 2, 'values'), a.axis)],
  }),
  NonZero: defineOp({ attrs: indexingDefs.NonZero.attrs, run: (inputs) => [nonZero(need(inputs, 0, 'X'))] }),
  CumSum: defineOp<{ exclusive: boolean; reverse: boolean }>({
    attrs: indexingDefs.CumSum.attrs,
    run: (inputs, a) => [cumSum(need(inputs, 0, 'x'), need(inputs, 1, 'axis'), a.exclusive, a.reverse)],
  }),
  TopK: defineOp<TopKAttrs>({
    attrs: indexingDefs.TopK.attrs,
    run: (inputs, a) => {
      const k = a.k ?? readInts(need(inputs, 1, 'K'), 'TopK K')[0];
      if (k === undefined) throw new ShapeError('TopK needs K');
      return topK(need(inputs, 0, 'X'), k, a.axis, a.largest);
    },
  }),
  DepthToSpace: defineOp<DepthToSpaceAttrs>({
    attrs: indexingDefs.DepthToSpace.attrs,
    run: (inputs, a) => [depthToSpace(need(inputs, 0, 'input'), a.blocksize, a.mode)],
  }),
  SpaceToDepth: defineOp<{ blocksize: number }>({
    attrs: indexingDefs.SpaceToDepth.attrs,
    run: (inputs, a) => [spaceToDepth(need(inputs, 0, 'input'), a.blocksize)],
  }),
};
