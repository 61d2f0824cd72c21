// MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool (NCHW) and LRN.
import { ShapeError } from '../errors.js';
import { attrFloat, attrInt, type Dim, type Node } from '../graph.js';
import { forwardDims, parseWindowAttrs, type WindowAttrs } from './conv.js';
import { defineOpDef, fmtShape, input, noAttrs, type OpDef, type OpDefTable } from './op-def.js';

export interface PoolAttrs extends WindowAttrs {
  kernelShape: number[];
  ceil: boolean;
  countIncludePad: boolean;
  /** MaxPool's optional second output is wired */
  indices: boolean;
  storageOrder: number;
}

export function parsePoolAttrs(node: Node, isMax: boolean): PoolAttrs {
  const a = parseWindowAttrs(node);
  if (!a.kernelShape) throw new ShapeError(`${node.opType} needs the kernel_shape attribute`);
  const storageOrder = attrInt(node, 'storage_order', 0);
  if (storageOrder !== 0 && storageOrder !== 1) throw new ShapeError(`MaxPool storage_order ${storageOrder} must be 0 or 1`);
  return {
    ...a,
    kernelShape: a.kernelShape,
    ceil: attrInt(node, 'ceil_mode', 0) !== 0,
    countIncludePad: attrInt(node, 'count_include_pad', 0) !== 0,
    indices: isMax && !!node.outputs[1],
    storageOrder,
  };
}

function pool(isMax: boolean): OpDef<PoolAttrs> {
  const op = isMax ? 'MaxPool' : 'AveragePool';
  return defineOpDef<PoolAttrs>({
    opType: op,
    domain: '',
    layout: 'spatial',
    attrs: (node) => parsePoolAttrs(node, isMax),
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      const k = ctx.attrs.kernelShape;
      const xs = x.shape ?? [null, null, ...k.map(() => null)];
      if (xs.length < 3) throw new ShapeError(`${op} input must have rank >= 3 (N, C, spatial...), got ${fmtShape(xs)}`);
      if (k.length !== xs.length - 2) throw new ShapeError(`kernel_shape [${k.join(', ')}] must have ${xs.length - 2} entries for input ${fmtShape(xs)}`);
      const shape = [xs[0]!, xs[1]!, ...forwardDims(xs.slice(2), k, ctx.attrs, op, ctx.attrs.ceil)];
      return ctx.node.outputs.length > 1 ? [{ dtype: x.dtype, shape }, { dtype: 'int64', shape: [...shape] }] : [{ dtype: x.dtype, shape }];
    },
  });
}

function globalPool(isMax: boolean): OpDef<Record<string, never>> {
  const op = isMax ? 'GlobalMaxPool' : 'GlobalAveragePool';
  return defineOpDef({
    opType: op,
    domain: '',
    layout: 'spatial',
    attrs: noAttrs,
    infer: (ctx) => {
      const x = input(ctx, 0, 'X');
      if (x.shape && x.shape.length < 2) throw new ShapeError(`${op} input must have rank >= 2 (N, C, spatial...), got ${fmtShape(x.shape)}`);
      return [{ dtype: x.dtype, shape: x.shape?.map((d, i): Dim => (i < 2 ? d : 1)) }];
    },
  });
}

export interface LrnAttrs {
  size: number;
  alpha: number;
  beta: number;
  bias: number;
}

export const poolDefs = {
  MaxPool: pool(true),
  AveragePool: pool(false),
  GlobalMaxPool: globalPool(true),
  GlobalAveragePool: globalPool(false),
  LRN: defineOpDef<LrnAttrs>({
    opType: 'LRN',
    domain: '',
    layout: 'channel',
    attrs: (node) => {
      const size = attrInt(node, 'size');
      if (size === undefined || size < 1) throw new ShapeError('LRN needs a size attribute >= 1');
      return { size, alpha: attrFloat(node, 'alpha', 0.0001), beta: attrFloat(node, 'beta', 0.75), bias: attrFloat(node, 'bias', 1) };
    },
    infer: (ctx) => [{ dtype: input(ctx, 0, 'X').dtype, shape: ctx.inputs[0]!.shape }],
  }),
} satisfies OpDefTable;
