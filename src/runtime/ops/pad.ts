// Pad: constant / reflect / edge / wrap, with pads (and the constant) as attributes before
// opset 11 and as inputs from 11 (plus optional axes from 18). Negative pads crop.
import { checkTensorShape } from '../../ir/budget.js';
import { ShapeError } from '../../ir/errors.js';
import { shapeDefs, type PadAttrs, type PadMode } from '../../ir/ops/index.js';
import type { Tensor } from '../../ir/tensor.js';
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
