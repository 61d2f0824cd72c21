// Evaluating TensorFlow ops on small constant tensors while reading a graph, so that shape
// subgraphs (Shape -> StridedSlice -> Pack -> Reshape) become constants when the input shape
// is known. Only ops whose result is small are computed here; anything else stays a node.
import { allocArray, isBigIntDType, type DType, type NumericArray } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor, type Shape } from '../../ir/tensor.js';

/** Largest tensor computed while reading (shape math is tiny; weights are never recomputed). */
export const MAX_FOLD_ELEMENTS = 1 << 16;

export function numbers(t: Tensor): number[] {
  return t.toNumbers();
}

/** A tensor of `dtype` from JS numbers (bigint dtypes converted, bools 0/1). */
export function tensorOf(dtype: DType, shape: Shape, values: ArrayLike<number>): Tensor {
  const data = allocArray(dtype, shapeSize(shape)) as NumericArray;
  if (isBigIntDType(dtype)) for (let i = 0; i < values.length; i++) (data as BigInt64Array)[i] = BigInt(Math.trunc(values[i]!));
  else if (dtype === 'bool') for (let i = 0; i < values.length; i++) (data as Uint8Array)[i] = values[i] ? 1 : 0;
  else if (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'string') throw new ShapeError(`cannot compute ${dtype} constants while reading`);
  else (data as Float32Array).set(values);
  return new Tensor(dtype, shape, data);
}

type AnyDim = number | string | null;
const num = (d: AnyDim | undefined, missing: number | null): number | null => (d === undefined ? missing : typeof d === 'number' ? d : null);

export function broadcastShapes(a: readonly AnyDim[], b: readonly AnyDim[]): (number | null)[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: (number | null)[] = [];
  for (let i = 0; i < r; i++) {
    const x = num(a[a.length - r + i], 1);
    const y = num(b[b.length - r + i], 1);
    if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (x === null || y === null) out.push(x ?? y);
    else if (x === y) out.push(x);
    else return undefined;
  }
  return out;
}

/** Elementwise f over two tensors with NumPy broadcasting. */
export function binary(a: Tensor, b: Tensor, outType: DType, f: (x: number, y: number) => number): Tensor {
  const shape = broadcastShapes(a.shape, b.shape) as number[] | undefined;
  if (!shape) throw new ShapeError(`shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not broadcast`);
  const n = shapeSize(shape);
  const av = numbers(a);
  const bv = numbers(b);
  const out = new Array<number>(n);
  const idxA = broadcastIndex(a.shape, shape);
  const idxB = broadcastIndex(b.shape, shape);
  for (let i = 0; i < n; i++) out[i] = f(av[idxA(i)]!, bv[idxB(i)]!);
  return tensorOf(outType, shape, out);
}

function broadcastIndex(from: Shape, to: Shape): (i: number) => number {
  const r = to.length;
  const fs = stridesOf(from);
  const ts = stridesOf(to);
  const pad = r - from.length;
  return (i) => {
    let j = 0;
    for (let d = 0; d < r; d++) {
      const c = Math.floor(i / ts[d]!) % to[d]!;
      const fd = d - pad;
      if (fd >= 0 && from[fd] !== 1) j += c * fs[fd]!;
    }
    return j;
  };
}

/** Stack equally shaped tensors along a new axis (Pack). */
export function pack(ts: Tensor[], axis: number): Tensor {
  const s = ts[0]!.shape;
  const rank = s.length + 1;
  const ax = axis < 0 ? axis + rank : axis;
  const shape = [...s.slice(0, ax), ts.length, ...s.slice(ax)];
  return concat(
    ts.map((t) => t.reshape([...s.slice(0, ax), 1, ...s.slice(ax)])),
    ax,
    shape,
  );
}

export function concat(ts: Tensor[], axis: number, shape?: number[]): Tensor {
  const s0 = ts[0]!.shape;
  const ax = axis < 0 ? axis + s0.length : axis;
  const outShape = shape ?? [...s0.slice(0, ax), ts.reduce((k, t) => k + t.shape[ax]!, 0), ...s0.slice(ax + 1)];
  const outer = shapeSize(s0.slice(0, ax));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const inner = shapeSize(t.shape.slice(ax));
      const v = numbers(t);
      for (let k = 0; k < inner; k++) out.push(v[o * inner + k]!);
    }
  }
  return tensorOf(ts[0]!.dtype, outShape, out);
}

export interface SliceAxis {
  start: number;
  end: number;
  step: number;
  size: number;
}

/** StridedSlice resolved against a known input rank (sizes where dims are known). */
export interface StridedSliceSpec {
  /** one per input dimension */
  axes: SliceAxis[];
  /** input dims removed (shrink_axis_mask) */
  shrink: number[];
  /** output shape */
  shape: (number | null)[];
  /** where new axes of size 1 go in the output (new_axis_mask) */
  newAxes: number[];
}

/**
 * TensorFlow's StridedSlice masks resolved into one (start, end, step) per input dimension,
 * the dims to drop and the new dims to insert: the ellipsis expands to the dims the spec does
 * not name, begin/end masks mean "from the edge", shrink takes one element and drops the dim.
 */
export function stridedSliceSpec(
  shapeIn: readonly AnyDim[],
  begin: number[],
  end: number[],
  strides: number[],
  masks: { begin: number; end: number; ellipsis: number; newAxis: number; shrink: number },
): StridedSliceSpec {
  const shape = shapeIn.map((d) => num(d, null));
  const rank = shape.length;
  const n = begin.length;
  // the sparse spec's entries that consume an input dimension
  let ellipsisAt = -1;
  for (let i = 0; i < n; i++) if (masks.ellipsis & (1 << i)) { ellipsisAt = i; break; }
  const consumed = (i: number) => !(masks.newAxis & (1 << i)) && i !== ellipsisAt;
  let named = 0;
  for (let i = 0; i < n; i++) if (consumed(i)) named++;
  const axes: SliceAxis[] = [];
  const shrink: number[] = [];
  const out: (number | null)[] = [];
  const newAxes: number[] = [];
  const full = (d: number): SliceAxis => {
    const dim = shape[d] ?? null;
    return { start: 0, end: dim ?? Number.MAX_SAFE_INTEGER, step: 1, size: dim ?? -1 };
  };
  let d = 0;
  const entries = ellipsisAt < 0 ? n + 0 : n;
  for (let i = 0; i < entries; i++) {
    if (i === ellipsisAt) {
      const k = rank - named;
      for (let j = 0; j < k; j++, d++) {
        axes.push(full(d));
        out.push(shape[d] ?? null);
      }
      continue;
    }
    if (masks.newAxis & (1 << i)) {
      newAxes.push(out.length);
      out.push(1);
      continue;
    }
    if (d >= rank) throw new ShapeError(`StridedSlice names more dimensions than its input's ${rank}`);
    const dim = shape[d] ?? null;
    const step = strides[i] ?? 1;
    if (step === 0) throw new ShapeError('StridedSlice stride 0');
    if (masks.shrink & (1 << i)) {
      let b = begin[i]!;
      if (b < 0) {
        if (dim === null) throw new ShapeError('StridedSlice: a negative index on a dimension of unknown size');
        b += dim;
      }
      if (dim !== null && (b < 0 || b >= dim)) throw new ShapeError(`StridedSlice index ${begin[i]} out of range for a dimension of ${dim}`);
      axes.push({ start: b, end: b + 1, step: 1, size: 1 });
      shrink.push(d);
      d++;
      continue;
    }
    const resolve = (v: number, masked: boolean, isBegin: boolean): number => {
      if (masked) {
        if (step > 0) return isBegin ? 0 : (dim ?? Number.MAX_SAFE_INTEGER);
        return isBegin ? (dim === null ? Number.MAX_SAFE_INTEGER : dim - 1) : -1;
      }
      if (dim === null) return v;
      let x = v < 0 ? v + dim : v;
      // clamp like TF: [0, dim] for positive steps, [-1, dim-1] for negative
      x = step > 0 ? Math.min(Math.max(x, 0), dim) : Math.min(Math.max(x, -1), dim - 1);
      return x;
    };
    const s = resolve(begin[i] ?? 0, !!(masks.begin & (1 << i)), true);
    const e = resolve(end[i] ?? 0, !!(masks.end & (1 << i)), false);
    let size = -1;
    if (dim !== null) size = Math.max(0, step > 0 ? Math.ceil((e - s) / step) : Math.ceil((s - e) / -step));
    axes.push({ start: s, end: e, step, size });
    out.push(dim === null ? null : size);
    d++;
  }
  for (; d < rank; d++) {
    axes.push(full(d));
    out.push(shape[d] ?? null);
  }
  return { axes, shrink, shape: out, newAxes };
}

/** Gather a strided box out of a constant (StridedSlice, Slice). */
export function sliceTensor(t: Tensor, axes: SliceAxis[]): Tensor {
  const shape = axes.map((a) => a.size);
  const n = shapeSize(shape);
  const v = numbers(t);
  const st = stridesOf(t.shape);
  const os = stridesOf(shape);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let j = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(i / os[d]!) % shape[d]!;
      j += (axes[d]!.start + c * axes[d]!.step) * st[d]!;
    }
    out[i] = v[j]!;
  }
  return tensorOf(t.dtype, shape, out);
}

/** Reduce over `axes` (Sum, Prod, Max, Min, Mean). */
export function reduce(t: Tensor, axes: number[], keepDims: boolean, kind: 'sum' | 'prod' | 'max' | 'min' | 'mean'): Tensor {
  const rank = t.rank;
  const ax = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const outFull = t.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const n = shapeSize(outFull);
  const init = kind === 'prod' ? 1 : kind === 'max' ? -Infinity : kind === 'min' ? Infinity : 0;
  const acc = new Array<number>(n).fill(init);
  const v = numbers(t);
  const st = stridesOf(t.shape);
  const os = stridesOf(outFull);
  for (let i = 0; i < v.length; i++) {
    let j = 0;
    for (let d = 0; d < rank; d++) if (!ax.has(d)) j += (Math.floor(i / st[d]!) % t.shape[d]!) * os[d]!;
    const x = v[i]!;
    acc[j] = kind === 'sum' || kind === 'mean' ? acc[j]! + x : kind === 'prod' ? acc[j]! * x : kind === 'max' ? Math.max(acc[j]!, x) : Math.min(acc[j]!, x);
  }
  if (kind === 'mean') {
    const k = v.length / Math.max(n, 1);
    for (let j = 0; j < n; j++) acc[j] = acc[j]! / k;
  }
  const shape = keepDims ? outFull : t.shape.filter((_, i) => !ax.has(i));
  return tensorOf(t.dtype, shape, acc);
}

export function gather(params: Tensor, indices: Tensor, axis: number): Tensor {
  const ax = axis < 0 ? axis + params.rank : axis;
  const idx = numbers(indices).map((i) => (i < 0 ? i + params.shape[ax]! : i));
  for (const i of idx) if (i < 0 || i >= params.shape[ax]!) throw new ShapeError(`Gather index ${i} out of range for a dimension of ${params.shape[ax]}`);
  const outer = shapeSize(params.shape.slice(0, ax));
  const inner = shapeSize(params.shape.slice(ax + 1));
  const v = numbers(params);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const i of idx) for (let k = 0; k < inner; k++) out.push(v[(o * params.shape[ax]! + i) * inner + k]!);
  return tensorOf(params.dtype, [...params.shape.slice(0, ax), ...indices.shape, ...params.shape.slice(ax + 1)], out);
}
