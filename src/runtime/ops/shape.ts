// Shape and data-movement ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
// Split, Slice, Shape, Size, Gather, GatherElements, Tile, Identity, Dropout, Constant,
// ConstantOfShape, Range. All dtypes (int64 shape subgraphs included); no arithmetic.
import { checkTensorShape } from '../../ir/budget.js';
import { allocArray, isBigIntDType, type TensorData } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import {
  indexingDefs,
  reshapeDims,
  shapeDefs,
  sliceAxis,
  type AxesAttrs,
  type AxisAttrs,
  type DropoutAttrs,
  type ReshapeAttrs,
  type ShapeAttrs,
  type SliceAttrs,
  type SplitAttrs,
} from '../../ir/ops/index.js';
import { shapeSize, stridesOf, Tensor, type Shape } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxes, normAxis, readInts, readScalar, tensorFromNumbers } from './args.js';
import { gatherDims, iota } from './gather-dims.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const fmt = (s: Shape) => `[${s.join(', ')}]`;

// ---- Reshape / Flatten / Squeeze / Unsqueeze: new shapes over the same data ----

/** Reshape's target for a concrete input shape (0 copies, -1 infers), by the IR's rule. */
export function reshapeTarget(input: Shape, spec: readonly number[], allowZero: boolean): number[] {
  return reshapeDims(input, spec, allowZero) as number[];
}

function squeeze(x: Tensor, axes: number[] | undefined): Tensor {
  const ax = axes ? normAxes(axes, x.rank) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of ax) if (x.shape[a] !== 1) throw new ShapeError(`Squeeze: dim ${a} of ${fmt(x.shape)} is not 1`);
  return x.reshape(x.shape.filter((_, i) => !ax.includes(i)));
}

function unsqueeze(x: Tensor, axes: number[]): Tensor {
  const rank = x.rank + axes.length;
  const ax = normAxes(axes, rank);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[k++]!);
  return x.reshape(out);
}

// ---- Transpose ----

export function transpose(x: Tensor, perm: readonly number[] | undefined): Tensor {
  const r = x.rank;
  const p = perm ?? x.shape.map((_, i) => r - 1 - i);
  if (p.length !== r || new Set(p).size !== r || p.some((v) => v < 0 || v >= r)) {
    throw new ShapeError(`Transpose: perm [${p.join(', ')}] is not a permutation of ${r} axes`);
  }
  const shape = p.map((a) => x.shape[a]!);
  const n = x.size;
  const out: any = allocArray(x.dtype, n);
  if (n === 0 || r === 0) {
    if (n) out[0] = (x.data as any)[0];
    return new Tensor(x.dtype, shape, out);
  }
  const inStrides = stridesOf(x.shape);
  const st = p.map((a) => inStrides[a]!);
  const src = x.data as any;
  const lastLen = shape[r - 1]!;
  const lastStride = st[r - 1]!;
  const counter = new Array<number>(r).fill(0);
  let base = 0;
  for (let o = 0; o < n; o += lastLen) {
    for (let j = 0; j < lastLen; j++) out[o + j] = src[base + j * lastStride];
    for (let d = r - 2; d >= 0; d--) {
      base += st[d]!;
      if (++counter[d]! < shape[d]!) break;
      base -= st[d]! * shape[d]!;
      counter[d] = 0;
    }
  }
  return new Tensor(x.dtype, shape, out);
}

// ---- Concat / Split ----

function copyBlock(dst: any, di: number, src: any, si: number, len: number): void {
  if (Array.isArray(dst)) for (let j = 0; j < len; j++) dst[di + j] = src[si + j];
  else dst.set(src.subarray(si, si + len), di);
}

export function concat(ts: readonly Tensor[], axisAttr: number): Tensor {
  if (ts.length === 0) throw new ShapeError('Concat needs at least one input');
  const first = ts[0]!;
  const r = first.rank;
  if (r === 0) throw new ShapeError('Concat inputs must have rank >= 1');
  const axis = normAxis(axisAttr, r);
  for (const t of ts) {
    if (t.dtype !== first.dtype) throw new ShapeError(`Concat inputs must share a dtype: ${first.dtype} and ${t.dtype}`);
    if (t.rank !== r || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new ShapeError(`Concat inputs ${fmt(first.shape)} and ${fmt(t.shape)} differ outside axis ${axis}`);
    }
  }
  const shape = [...first.shape];
  shape[axis] = ts.reduce((a, t) => a + t.shape[axis]!, 0);
  const out: any = allocArray(first.dtype, shapeSize(shape));
  const outer = shapeSize(first.shape.slice(0, axis));
  const inner = shapeSize(first.shape.slice(axis + 1));
  const rowLen = shape[axis]! * inner;
  let off = 0;
  for (const t of ts) {
    const block = t.shape[axis]! * inner;
    if (block) for (let o = 0; o < outer; o++) copyBlock(out, o * rowLen + off, t.data, o * block, block);
    off += block;
  }
  return new Tensor(first.dtype, shape, out);
}

export function split(x: Tensor, axisAttr: number, sizes: readonly number[]): Tensor[] {
  const axis = normAxis(axisAttr, x.rank);
  const dim = x.shape[axis]!;
  if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    throw new ShapeError(`Split sizes [${sizes.join(', ')}] do not sum to dim ${axis} of ${fmt(x.shape)}`);
  }
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1));
  let off = 0;
  return sizes.map((s) => {
    const shape = [...x.shape];
    shape[axis] = s;
    const out: any = allocArray(x.dtype, shapeSize(shape));
    const block = s * inner;
    if (block) for (let o = 0; o < outer; o++) copyBlock(out, o * block, x.data, o * dim * inner + off, block);
    off += block;
    return new Tensor(x.dtype, shape, out);
  });
}

// ---- Slice ----

/** Resolve ONNX Slice parameters (negative and out-of-range starts/ends clamp) into per-dim index lists. */
export function sliceIndices(shape: Shape, starts: readonly number[], ends: readonly number[], axesIn?: readonly number[], stepsIn?: readonly number[]): Int32Array[] {
  const axes = axesIn ?? starts.map((_, i) => i);
  const steps = stepsIn ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw new ShapeError(`Slice: starts, ends, axes and steps must have the same length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  const ax = normAxes(axes, shape.length, 'Slice axes');
  const idx = shape.map((d) => iota(d));
  ax.forEach((a, k) => {
    const [start, count] = sliceAxis(shape[a]!, starts[k]!, ends[k]!, steps[k]!);
    const list = new Int32Array(count);
    for (let j = 0; j < count; j++) list[j] = start + j * steps[k]!;
    idx[a] = list;
  });
  return idx;
}

// ---- Gather ----

export function gather(data: Tensor, indices: Tensor, axisAttr: number): Tensor {
  if (data.rank === 0) throw new ShapeError('Gather data must have rank >= 1');
  const axis = normAxis(axisAttr, data.rank);
  const dim = data.shape[axis]!;
  const idx = readInts(indices, 'Gather indices').map((i) => {
    if (i < -dim || i >= dim) throw new ShapeError(`Gather index ${i} out of range for axis ${axis} of size ${dim}`);
    return i < 0 ? i + dim : i;
  });
  const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
  const outer = shapeSize(data.shape.slice(0, axis));
  const inner = shapeSize(data.shape.slice(axis + 1));
  const out: any = allocArray(data.dtype, shapeSize(shape));
  if (inner) {
    let p = 0;
    for (let o = 0; o < outer; o++) {
      for (const i of idx) {
        copyBlock(out, p, data.data, (o * dim + i) * inner, inner);
        p += inner;
      }
    }
  }
  return new Tensor(data.dtype, shape, out);
}

function gatherElements(data: Tensor, indices: Tensor, axisAttr: number): Tensor {
  const r = data.rank;
  const axis = normAxis(axisAttr, r);
  if (indices.rank !== r) throw new ShapeError(`GatherElements indices must have rank ${r}, got ${fmt(indices.shape)}`);
  const idx = readInts(indices, 'GatherElements indices');
  const dim = data.shape[axis]!;
  const ds = stridesOf(data.shape);
  const is = stridesOf(indices.shape);
  const out: any = allocArray(data.dtype, idx.length);
  const src = data.data as any;
  for (let p = 0; p < idx.length; p++) {
    let i = idx[p]!;
    if (i < -dim || i >= dim) throw new ShapeError(`GatherElements index ${i} out of range for axis ${axis} of size ${dim}`);
    if (i < 0) i += dim;
    let off = 0;
    let rem = p;
    for (let d = 0; d < r; d++) {
      const c = Math.floor(rem / is[d]!);
      rem -= c * is[d]!;
      off += (d === axis ? i : c) * ds[d]!;
    }
    out[p] = src[off];
  }
  return new Tensor(data.dtype, indices.shape, out);
}

// ---- Constant ----

function range(start: Tensor, limit: Tensor, delta: Tensor): Tensor {
  if (start.dtype !== limit.dtype || start.dtype !== delta.dtype) throw new ShapeError(`Range inputs must share a dtype: ${start.dtype}, ${limit.dtype}, ${delta.dtype}`);
  const s = readScalar(start, 'Range start');
  const l = readScalar(limit, 'Range limit');
  const d = readScalar(delta, 'Range delta');
  if (d === 0) throw new ShapeError('Range delta is 0');
  const n = Math.max(Math.ceil((l - s) / d), 0);
  checkTensorShape(isBigIntDType(start.dtype) ? start.dtype : 'float64', [n], 'Range output');
  if (isBigIntDType(start.dtype)) {
    const bs = (start.data as BigInt64Array)[0]!;
    const bd = (delta.data as BigInt64Array)[0]!;
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = bs + BigInt(i) * bd;
    return new Tensor(start.dtype, [n], out);
  }
  const v = new Float64Array(n);
  // accumulate like the reference (start + i*delta) in the input precision
  for (let i = 0; i < n; i++) v[i] = s + i * d;
  return tensorFromNumbers(start.dtype, [n], v);
}

// ---- attribute shapes ----

function filled(v: Tensor, shape: number[]): Tensor {
  const n = shapeSize(shape);
  const out: any = allocArray(v.dtype, n);
  const x = (v.data as any)[0];
  if (Array.isArray(out)) out.fill(x);
  else out.fill(x);
  return new Tensor(v.dtype, shape, out as TensorData);
}

export const shapeOps: OpTable = {
  Identity: defineOp({ attrs: shapeDefs.Identity.attrs, run: (inputs) => [need(inputs, 0, 'input')] }),
  Reshape: defineOp<ReshapeAttrs>({
    attrs: shapeDefs.Reshape.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'data');
      const spec = a.shape ?? readInts(need(inputs, 1, 'shape'), 'Reshape shape');
      return [x.reshape(reshapeTarget(x.shape, spec, a.allowZero))];
    },
  }),
  Flatten: defineOp<AxisAttrs>({
    attrs: shapeDefs.Flatten.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'input');
      const axis = a.axis < 0 ? a.axis + x.rank : a.axis;
      if (axis < 0 || axis > x.rank) throw new ShapeError(`Flatten axis ${a.axis} out of range for rank ${x.rank}`);
      return [x.reshape([shapeSize(x.shape.slice(0, axis)), shapeSize(x.shape.slice(axis))])];
    },
  }),
  Transpose: defineOp<{ perm?: number[] }>({
    attrs: shapeDefs.Transpose.attrs,
    run: (inputs, a) => [transpose(need(inputs, 0, 'data'), a.perm)],
  }),
  Squeeze: defineOp<AxesAttrs>({
    attrs: shapeDefs.Squeeze.attrs,
    run: (inputs, a) => [squeeze(need(inputs, 0, 'data'), a.axes ?? (inputs[1] ? readInts(inputs[1], 'Squeeze axes') : undefined))],
  }),
  Unsqueeze: defineOp<AxesAttrs>({
    attrs: shapeDefs.Unsqueeze.attrs,
    run: (inputs, a) => [unsqueeze(need(inputs, 0, 'data'), a.axes ?? readInts(need(inputs, 1, 'axes'), 'Unsqueeze axes'))],
  }),
  Concat: defineOp<AxisAttrs>({
    attrs: shapeDefs.Concat.attrs,
    run: (inputs, a) => [concat(inputs.filter((t): t is Tensor => t !== undefined), a.axis)],
  }),
  Split: defineOp<SplitAttrs>({
    attrs: shapeDefs.Split.attrs,
    run: (inputs, a, ctx) => {
      const x = need(inputs, 0, 'input');
      const dim = x.shape[normAxis(a.axis, x.rank)]!;
      let sizes = a.split ?? (inputs[1] ? readInts(inputs[1], 'Split split') : undefined);
      if (!sizes) {
        const k = a.numOutputs ?? ctx.node.outputs.length;
        if (a.numOutputs === undefined && dim % k !== 0) throw new ShapeError(`Split: dim ${dim} does not divide into ${k} equal parts`);
        // opset 18 num_outputs: ceil-sized chunks, the last one smaller
        const chunk = Math.ceil(dim / k);
        sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
      }
      if (sizes.length !== ctx.node.outputs.length) throw new ShapeError(`Split into ${sizes.length} parts but the node has ${ctx.node.outputs.length} outputs`);
      return split(x, a.axis, sizes);
    },
  }),
  Slice: defineOp<SliceAttrs>({
    attrs: shapeDefs.Slice.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'data');
      const ints = (i: number, what: string) => (inputs[i] ? readInts(inputs[i], `Slice ${what}`) : undefined);
      const starts = a.starts ?? readInts(need(inputs, 1, 'starts'), 'Slice starts');
      const ends = a.ends ?? readInts(need(inputs, 2, 'ends'), 'Slice ends');
      const axes = a.starts ? a.axes : ints(3, 'axes');
      return [gatherDims(x, sliceIndices(x.shape, starts, ends, axes, a.starts ? undefined : ints(4, 'steps')))];
    },
  }),
  Shape: defineOp<ShapeAttrs>({
    attrs: shapeDefs.Shape.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'data');
      const r = x.rank;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const dims = x.shape.slice(clamp(a.start), clamp(a.end ?? r));
      return [Tensor.int64([dims.length], dims)];
    },
  }),
  Size: defineOp({ attrs: shapeDefs.Size.attrs, run: (inputs) => [Tensor.int64([], [need(inputs, 0, 'data').size])] }),
  Gather: defineOp<AxisAttrs>({
    attrs: indexingDefs.Gather.attrs,
    run: (inputs, a) => [gather(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), a.axis)],
  }),
  GatherElements: defineOp<AxisAttrs>({
    attrs: indexingDefs.GatherElements.attrs,
    run: (inputs, a) => [gatherElements(need(inputs, 0, 'data'), need(inputs, 1, 'indices'), a.axis)],
  }),
  Tile: defineOp({
    attrs: shapeDefs.Tile.attrs,
    run: (inputs) => {
      const x = need(inputs, 0, 'input');
      const reps = readInts(need(inputs, 1, 'repeats'), 'Tile repeats');
      if (reps.length !== x.rank || reps.some((r) => r < 0)) throw new ShapeError(`Tile repeats [${reps.join(', ')}] do not fit rank ${x.rank}`);
      checkTensorShape(x.dtype, x.shape.map((d, i) => d * reps[i]!), 'Tile output');
      return [gatherDims(x, x.shape.map((d, i) => Int32Array.from({ length: d * reps[i]! }, (_, j) => j % d)))];
    },
  }),
  Dropout: defineOp<DropoutAttrs>({
    attrs: shapeDefs.Dropout.attrs,
    run: (inputs, a, ctx) => {
      const x = need(inputs, 0, 'data');
      const training = inputs[2] ? readScalar(inputs[2], 'Dropout training_mode') !== 0 : false;
      const ratio = inputs[1] ? readScalar(inputs[1], 'Dropout ratio') : a.ratio;
      // Inference is the identity; so is training with ratio 0. Random masks are not reproducible.
      if (training && ratio !== 0) throw new UnsupportedError('Dropout training_mode', 'random dropout is not reproducible; run in inference mode');
      const outs = [x];
      if (ctx.node.outputs[1]) outs.push(a.maskBool ? new Tensor('bool', x.shape, new Uint8Array(x.size).fill(1)) : filled(tensorFromNumbers(x.dtype, [1], [1]), [...x.shape]));
      return outs;
    },
  }),
  Constant: defineOp<{ value: Tensor }>({
    attrs: shapeDefs.Constant.attrs,
    run: (_inputs, a) => [a.value],
  }),
  ConstantOfShape: defineOp<{ value: Tensor }>({
    attrs: shapeDefs.ConstantOfShape.attrs,
    run: (inputs, a) => {
      const shape = readInts(need(inputs, 0, 'input'), 'ConstantOfShape shape');
      if (shape.some((d) => d < 0)) throw new ShapeError(`ConstantOfShape: negative dim in [${shape.join(', ')}]`);
      return [filled(a.value, shape)];
    },
  }),
  Range: defineOp({ attrs: shapeDefs.Range.attrs, run: (inputs) => [range(need(inputs, 0, 'start'), need(inputs, 1, 'limit'), need(inputs, 2, 'delta'))] }),
};
