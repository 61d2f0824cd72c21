// Index-driven ops: Gather, GatherElements, GatherND, the Scatters, Compress, Trilu, EyeLike,
// OneHot, NonZero, CumSum, TopK, DepthToSpace, SpaceToDepth.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrInt, attrString, type Dim, type Node } from '../graph.js';
import { dtypeFromOnnxEnum } from './cast.js';
import { defineOpDef, dimMap, fmtShape, input, like, noAttrs, normAxis, scalarOf, type OpDefTable, type ValueType } from './op-def.js';

export type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
export interface ScatterAttrs {
  axis: number;
  reduction: Reduction;
}
export interface EyeLikeAttrs {
  /** TensorProto data type code */
  dtype?: number;
  k: number;
}
export interface TopKAttrs {
  axis: number;
  largest: boolean;
  /** before opset 10: K is an attribute */
  k?: number;
}
export interface DepthToSpaceAttrs {
  blocksize: number;
  mode: string;
}

const REDUCTIONS = new Set(['none', 'add', 'mul', 'max', 'min']);

function reduction(node: Node): Reduction {
  const r = attrString(node, 'reduction', 'none');
  if (!REDUCTIONS.has(r)) throw new UnsupportedError(`scatter reduction '${r}'`);
  return r as Reduction;
}

function blocksize(node: Node): number {
  const b = attrInt(node, 'blocksize');
  if (!b || b < 1) throw new ShapeError('blocksize must be a positive integer');
  return b;
}

/** Same shape and dtype as the data input (the scatters, Trilu, CumSum). */
const sameAsData = (ctx: { inputs: ReadonlyArray<ValueType | undefined>; node: Node }): ValueType[] => [like(ctx.inputs[0] ?? undefined)];

export const indexingDefs = {
  Gather: defineOpDef<{ axis: number }>({
    opType: 'Gather',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const idx = input(ctx, 1, 'indices');
      if (!x.shape || !idx.shape) return [{ dtype: x.dtype }];
      if (x.shape.length === 0) throw new ShapeError('Gather data must have rank >= 1');
      const axis = normAxis(ctx.attrs.axis, x.shape.length);
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      let data: Dim[] | undefined;
      if (x.data && idx.data && x.shape.length === 1 && shape.length <= 1) {
        const n = x.data.length;
        data = idx.data.map((i) => {
          if (typeof i !== 'number') return null;
          if (i < -n || i >= n) throw new ShapeError(`Gather index ${i} out of range for axis 0 of size ${n}`);
          return x.data![i < 0 ? i + n : i]!;
        });
      }
      return [{ dtype: x.dtype, shape, data }];
    },
  }),
  GatherElements: defineOpDef<{ axis: number }>({
    opType: 'GatherElements',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const idx = input(ctx, 1, 'indices');
      if (x.shape && idx.shape && idx.shape.length !== x.shape.length) throw new ShapeError(`GatherElements indices must have rank ${x.shape.length}, got ${fmtShape(idx.shape)}`);
      return [{ dtype: x.dtype, shape: idx.shape && [...idx.shape] }];
    },
  }),
  GatherND: defineOpDef<{ batchDims: number }>({
    opType: 'GatherND',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ batchDims: attrInt(node, 'batch_dims', 0) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'data');
      const idx = input(ctx, 1, 'indices');
      if (!x.shape || !idx.shape) return [{ dtype: x.dtype }];
      const last = idx.shape[idx.shape.length - 1];
      if (typeof last !== 'number') return [{ dtype: x.dtype }];
      const b = ctx.attrs.batchDims;
      if (b + last > x.shape.length) throw new ShapeError(`GatherND: index tuples of ${last} with batch_dims ${b} exceed data ${fmtShape(x.shape)}`);
      return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + last)] }];
    },
  }),
  ScatterND: defineOpDef<{ reduction: Reduction }>({
    opType: 'ScatterND',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ reduction: reduction(node) }),
    infer: sameAsData,
  }),
  ScatterElements: defineOpDef<ScatterAttrs>({
    opType: 'ScatterElements',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0), reduction: reduction(node) }),
    infer: sameAsData,
  }),
  // Scatter (opset 9-10) is ScatterElements under its old name.
  Scatter: defineOpDef<ScatterAttrs>({
    opType: 'Scatter',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', 0), reduction: 'none' }),
    infer: sameAsData,
  }),
  Compress: defineOpDef<{ axis?: number }>({
    opType: 'Compress',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis') }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      // how many survive depends on the condition's values
      if (ctx.attrs.axis === undefined || !x.shape) return [{ dtype: x.dtype, shape: ctx.attrs.axis === undefined ? [null] : undefined }];
      const axis = normAxis(ctx.attrs.axis, x.shape.length);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? null : d)) }];
    },
  }),
  Trilu: defineOpDef<{ upper: boolean }>({
    opType: 'Trilu',
    domain: '',
    layout: 'elementwise',
    attrs: (node) => ({ upper: attrInt(node, 'upper', 1) !== 0 }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      if (x.shape && x.shape.length < 2) throw new ShapeError(`Trilu input must have rank >= 2, got ${fmtShape(x.shape)}`);
      return [like(x)];
    },
  }),
  EyeLike: defineOpDef<EyeLikeAttrs>({
    opType: 'EyeLike',
    domain: '',
    layout: 'source',
    attrs: (node) => ({ dtype: attrInt(node, 'dtype'), k: attrInt(node, 'k', 0) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      if (x.shape && x.shape.length !== 2) throw new ShapeError(`EyeLike input must be 2-D, got ${fmtShape(x.shape)}`);
      return [like(x, ctx.attrs.dtype !== undefined ? dtypeFromOnnxEnum(ctx.attrs.dtype) : undefined)];
    },
  }),
  OneHot: defineOpDef<{ axis: number }>({
    opType: 'OneHot',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ axis: attrInt(node, 'axis', -1) }),
    infer: (ctx) => {
      const idx = input(ctx, 0, 'indices');
      const depth = scalarOf(input(ctx, 1, 'depth'));
      const values = input(ctx, 2, 'values');
      if (!idx.shape) return [{ dtype: values.dtype }];
      const r = idx.shape.length + 1;
      const axis = normAxis(ctx.attrs.axis, r);
      const shape = [...idx.shape];
      shape.splice(axis, 0, depth === undefined ? null : Math.trunc(depth));
      return [{ dtype: values.dtype, shape }];
    },
  }),
  NonZero: defineOpDef({
    opType: 'NonZero',
    domain: '',
    layout: 'shape',
    attrs: noAttrs,
    // how many are non-zero depends on the values
    infer: (ctx) => [{ dtype: 'int64', shape: [input(ctx, 0, 'X').shape?.length ?? null, null] }],
  }),
  CumSum: defineOpDef<{ exclusive: boolean; reverse: boolean }>({
    opType: 'CumSum',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ exclusive: attrInt(node, 'exclusive', 0) !== 0, reverse: attrInt(node, 'reverse', 0) !== 0 }),
    infer: sameAsData,
  }),
  TopK: defineOpDef<TopKAttrs>({
    opType: 'TopK',
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => ({
      axis: attrInt(node, 'axis', -1),
      largest: attrInt(node, 'largest', 1) !== 0,
      k: opset < 10 ? attrInt(node, 'k') : undefined,
    }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (!x.shape) return [{ dtype: x.dtype }, { dtype: 'int64' }];
      const k = ctx.attrs.k ?? scalarOf(input(ctx, 1, 'K'));
      const axis = normAxis(ctx.attrs.axis, x.shape.length);
      const shape = [...x.shape];
      shape[axis] = k ?? null;
      return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape: [...shape] }];
    },
  }),
  DepthToSpace: defineOpDef<DepthToSpaceAttrs>({
    opType: 'DepthToSpace',
    domain: '',
    layout: 'spatial',
    attrs: (node) => {
      const mode = attrString(node, 'mode', 'DCR');
      if (mode !== 'DCR' && mode !== 'CRD') throw new UnsupportedError(`DepthToSpace mode '${mode}'`);
      return { blocksize: blocksize(node), mode };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const b = ctx.attrs.blocksize;
      if (!x.shape) return [{ dtype: x.dtype, shape: [null, null, null, null] }];
      if (x.shape.length !== 4) throw new ShapeError(`DepthToSpace input must be 4-D, got ${fmtShape(x.shape)}`);
      const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
      if (typeof c === 'number' && c % (b * b) !== 0) throw new ShapeError(`DepthToSpace: ${c} channels are not divisible by blocksize² ${b * b}`);
      return [{ dtype: x.dtype, shape: [n, dimMap(c, (v) => v / (b * b)), dimMap(h, (v) => v * b), dimMap(w, (v) => v * b)] }];
    },
  }),
  SpaceToDepth: defineOpDef<{ blocksize: number }>({
    opType: 'SpaceToDepth',
    domain: '',
    layout: 'spatial',
    attrs: (node) => ({ blocksize: blocksize(node) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      const b = ctx.attrs.blocksize;
      if (!x.shape) return [{ dtype: x.dtype, shape: [null, null, null, null] }];
      if (x.shape.length !== 4) throw new ShapeError(`SpaceToDepth input must be 4-D, got ${fmtShape(x.shape)}`);
      const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
      for (const d of [h, w]) if (typeof d === 'number' && d % b !== 0) throw new ShapeError(`SpaceToDepth: spatial dims of ${fmtShape(x.shape)} are not divisible by blocksize ${b}`);
      return [{ dtype: x.dtype, shape: [n, dimMap(c, (v) => v * b * b), dimMap(h, (v) => v / b), dimMap(w, (v) => v / b)] }];
    },
  }),
} satisfies OpDefTable;
