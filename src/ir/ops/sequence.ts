// ReverseSequence (opset 10) and Unique (opset 11): ops that reorder or deduplicate elements
// along an axis.
import { ShapeError } from '../errors.js';
import { attrInt, type Dim } from '../graph.js';
import { defineOpDef, fmtShape, input, like, mergeDim, normAxis, type OpDefTable } from './op-def.js';

export interface ReverseSequenceAttrs {
  batchAxis: number;
  timeAxis: number;
}

export interface UniqueAttrs {
  /** undefined: the flattened input */
  axis?: number;
  sorted: boolean;
}

export const sequenceDefs = {
  ReverseSequence: defineOpDef<ReverseSequenceAttrs>({
    opType: 'ReverseSequence',
    domain: '',
    layout: 'axis',
    attrs: (node) => {
      const batchAxis = attrInt(node, 'batch_axis', 1);
      const timeAxis = attrInt(node, 'time_axis', 0);
      if ((batchAxis !== 0 && batchAxis !== 1) || (timeAxis !== 0 && timeAxis !== 1) || batchAxis === timeAxis) {
        throw new ShapeError(`ReverseSequence batch_axis ${batchAxis} and time_axis ${timeAxis} must be 0 and 1 in some order`);
      }
      return { batchAxis, timeAxis };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const lens = input(ctx, 1, 'sequence_lens');
      if (lens.dtype && lens.dtype !== 'int64') throw new ShapeError(`ReverseSequence sequence_lens must be int64, got ${lens.dtype}`);
      if (x.shape && x.shape.length < 2) throw new ShapeError(`ReverseSequence input must have rank >= 2, got ${fmtShape(x.shape)}`);
      if (lens.shape && lens.shape.length !== 1) throw new ShapeError(`ReverseSequence sequence_lens must be 1-D, got ${fmtShape(lens.shape)}`);
      if (x.shape && lens.shape) mergeDim(x.shape[ctx.attrs.batchAxis]!, lens.shape[0]!, 'ReverseSequence batch size of input and sequence_lens');
      return [like(x)];
    },
  }),
  Unique: defineOpDef<UniqueAttrs>({
    opType: 'Unique',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis'), sorted: attrInt(node, 'sorted', 1) !== 0 }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      // how many are unique depends on the values
      if (ctx.attrs.axis === undefined) return [{ dtype: x.dtype, shape: [null] }, { dtype: 'int64', shape: [null] }, { dtype: 'int64', shape: [x.shape ? x.shape.reduce<Dim>((p, d) => (typeof p === 'number' && typeof d === 'number' ? p * d : null), 1) : null] }, { dtype: 'int64', shape: [null] }];
      if (!x.shape) return [{ dtype: x.dtype }, { dtype: 'int64', shape: [null] }, { dtype: 'int64', shape: [null] }, { dtype: 'int64', shape: [null] }];
      const axis = normAxis(ctx.attrs.axis, x.shape.length);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? null : d)) }, { dtype: 'int64', shape: [null] }, { dtype: 'int64', shape: [x.shape[axis]!] }, { dtype: 'int64', shape: [null] }];
    },
  }),
} satisfies OpDefTable;
