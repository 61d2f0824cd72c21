// The outer-product gather behind Slice, Tile, Pad, nearest Resize and Transpose-free
// index remaps: out[i0, ..., ik] = x[idx0[i0], ..., idxk[ik]], with -1 meaning "fill".
import { allocArray } from '../../ir/dtypes.js';
import { ShapeError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

export function gatherDims(x: Tensor, idx: readonly Int32Array[], fill: number | bigint | string = 0): Tensor {
  if (idx.length !== x.rank) throw new ShapeError(`index lists for ${idx.length} dims given for a rank-${x.rank} tensor`);
  const shape = idx.map((a) => a.length);
  const n = shapeSize(shape);
  const out: any = allocArray(x.dtype, n);
  if (n === 0) return new Tensor(x.dtype, shape, out);
  const src = x.data as any;
  if (x.rank === 0) {
    out[0] = src[0];
    return new Tensor(x.dtype, shape, out);
  }
  const strides = stridesOf(x.shape);
  // Per dim, the element offset of each index (-1 stays a "fill" marker).
  const offs = idx.map((a, d) => {
    const o = new Float64Array(a.length);
    for (let j = 0; j < a.length; j++) {
      const i = a[j]!;
      if (i >= x.shape[d]!) throw new ShapeError(`index ${i} out of range for dim ${d} of size ${x.shape[d]}`);
      o[j] = i < 0 ? -1 : i * strides[d]!;
    }
    return o;
  });
  const r = x.rank;
  const last = offs[r - 1]!;
  const len = last.length;
  const fillValue = x.dtype === 'string' ? String(fill) : typeof src[0] === 'bigint' ? BigInt(fill) : Number(fill);
  const counter = new Array<number>(r - 1).fill(0);
  const rows = n / len;
  for (let q = 0; q < rows; q++) {
    let base = 0;
    let valid = true;
    for (let d = 0; d < r - 1; d++) {
      const o = offs[d]![counter[d]!]!;
      if (o < 0) valid = false;
      base += o;
    }
    const p = q * len;
    if (!valid) for (let j = 0; j < len; j++) out[p + j] = fillValue;
    else for (let j = 0; j < len; j++) out[p + j] = last[j]! < 0 ? fillValue : src[base + last[j]!];
    for (let d = r - 2; d >= 0; d--) {
      if (++counter[d]! < shape[d]!) break;
      counter[d] = 0;
    }
  }
  return new Tensor(x.dtype, shape, out);
}

/** 0..n-1 */
export function iota(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
