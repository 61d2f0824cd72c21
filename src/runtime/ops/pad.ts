// Pad: constant / reflect / edge / wrap, with pads (and the constant) as attributes before
// opset 11 and as inputs from 11 (plus optional axes from 18). Negative pads crop.
import { checkTensorShape } from '../../ir/budget.js';
import { ShapeError } from '../../ir/errors.js';
import { shapeDefs, type PadAttrs, type PadMode } from '../../ir/ops/index.js';
import { allocArray, type NumericArray } from '../../ir/dtypes.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxes, readInts, readScalar } from './args.js';
import { gatherDims } from './gather-dims.js';

export type { PadMode };

/** Source index for output position `o` of a dim of size `dim` padded by `before`; -1 = constant. */
function padIndex(mode: PadMode, o: number, before: number, dim: number): number {
  let i = o - before;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case 'constant':
      return -1;
    case 'edge':
      return i < 0 ? 0 : dim - 1;
    case 'wrap':
      return ((i % dim) + dim) % dim;
    case 'reflect':
      if (dim === 1) return 0;
      // numpy 'reflect': mirror about the edge elements, repeatedly for wide pads
      while (i < 0 || i >= dim) i = i < 0 ? -i : 2 * (dim - 1) - i;
      return i;
  }
}

export function pad(x: Tensor, pads: readonly number[], mode: PadMode, value: number, axesIn?: readonly number[]): Tensor {
  const axes = axesIn ? normAxes(axesIn, x.rank, 'Pad axes') : x.shape.map((_, i) => i);
  if (pads.length !== 2 * axes.length) throw new ShapeError(`Pad: ${pads.length} pads for ${axes.length} axes (need ${2 * axes.length})`);
  const before = new Array<number>(x.rank).fill(0);
  const after = new Array<number>(x.rank).fill(0);
  axes.forEach((a, k) => {
    before[a] = pads[k]!;
    after[a] = pads[k + axes.length]!;
  });
  checkTensorShape(x.dtype, x.shape.map((dim, d) => Math.max(0, dim + before[d]! + after[d]!)), 'Pad output');
  if (mode === 'constant' && before.every((b) => b >= 0) && after.every((e) => e >= 0) && !['string', 'float16', 'bfloat16'].includes(x.dtype) && x.rank > 0) {
    return constantPad(x, before, after, value);
  }
  const idx = x.shape.map((dim, d) => {
    const size = dim + before[d]! + after[d]!;
    if (size < 0) throw new ShapeError(`Pad: pads ${before[d]}, ${after[d]} crop dim ${d} of size ${dim} below zero`);
    if (mode !== 'constant' && dim === 0 && size > 0) throw new ShapeError(`Pad: cannot ${mode}-pad an empty dim ${d}`);
    const list = new Int32Array(size);
    for (let o = 0; o < size; o++) list[o] = padIndex(mode, o, before[d]!, dim);
    return list;
  });
  return gatherDims(x, idx, x.dtype === 'int64' || x.dtype === 'uint64' ? BigInt(Math.trunc(value)) : value);
}

/**
 * Constant padding without cropping: the output filled with the constant, then each run of
 * input elements that stays contiguous (the last padded axis and the unpadded ones after it)
 * copied in as one block. The general gather goes element by element, which on channels-last
 * data (rows of C elements) cost ~10x more: TF-style graphs pad explicitly before strided convs
 * and pools.
 */
function constantPad(x: Tensor, before: readonly number[], after: readonly number[], value: number): Tensor {
  const r = x.rank;
  const outShape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const n = shapeSize(outShape);
  const out = allocArray(x.dtype, n) as NumericArray;
  if (n === 0) return new Tensor(x.dtype, outShape, out);
  const big = x.dtype === 'int64' || x.dtype === 'uint64';
  const fill = big ? BigInt(Math.trunc(value)) : value;
  if (fill !== 0 && fill !== 0n) (out as { fill(v: number | bigint): unknown }).fill(fill);
  if (x.size === 0) return new Tensor(x.dtype, outShape, out);
  const src = x.data as NumericArray;
  // axes k..r-1 are copied as one block per position of the axes before k
  let k = r - 1;
  while (k > 0 && !before[k] && !after[k]) k--;
  const block = shapeSize(x.shape.slice(k));
  const outStrides = stridesOf(outShape);
  const lead = before.slice(k).reduce((acc, b, j) => acc + b * outStrides[k + j]!, 0);
  const rows = x.size / block;
  const counter = new Array<number>(k).fill(0);
  for (let q = 0; q < rows; q++) {
    let dst = lead;
    for (let d = 0; d < k; d++) dst += (counter[d]! + before[d]!) * outStrides[d]!;
    (out as Float32Array).set((src as Float32Array).subarray(q * block, (q + 1) * block), dst);
    for (let d = k - 1; d >= 0; d--) {
      if (++counter[d]! < x.shape[d]!) break;
      counter[d] = 0;
    }
  }
  return new Tensor(x.dtype, outShape, out);
}

export const padOps: OpTable = {
  Pad: defineOp<PadAttrs>({
    attrs: shapeDefs.Pad.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'data');
      const pads = a.pads ?? readInts(need(inputs, 1, 'pads'), 'Pad pads');
      const value = a.pads ? a.value : inputs[2] ? readScalar(inputs[2], 'Pad constant_value') : 0;
      const axes = inputs[3] ? readInts(inputs[3], 'Pad axes') : undefined;
      return [pad(x, pads, a.mode, value, axes)];
    },
  }),
};
