// The com.microsoft quantized ops onnxruntime's static (QOperator) quantization writes beside
// QLinearConv / QLinearMatMul: QLinearAdd, QLinearMul, QLinearConcat, QLinearSigmoid,
// QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool and QGemm. Each computes its
// float op on the dequantized inputs and quantizes the result; their shapes are the float op's.
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrInt, type Node } from '../graph.js';
import { elementwiseDefs } from './elementwise.js';
import { gemmDefs, parseGemmAttrs, type GemmAttrs } from './gemm.js';
import { defineOpDef, input, noAttrs, type InferContext, type OpDefTable, type ValueType } from './op-def.js';
import { parsePoolAttrs, poolDefs, type PoolAttrs } from './pool.js';
import { eightBit, floatOpContext } from './qlinear.js';
import { shapeDefs } from './shape.js';

/** onnxruntime's NHWC variants of the pools (channels_last 1) are not read. */
function nchwOnly(node: Node): void {
  if (attrInt(node, 'channels_last', 0) !== 0) throw new UnsupportedError(`com.microsoft.${node.opType} with channels_last`, 'only NCHW data is implemented');
}

export interface QLinearLeakyReluAttrs {
  alpha: number;
}

export interface QLinearConcatAttrs {
  axis: number;
}

/** A unary lookup-table op: X, X_scale, X_zero_point, Y_scale, Y_zero_point. */
const unaryInfer = (op: string) => (ctx: InferContext<unknown>): ValueType[] => {
  const x = eightBit(input(ctx, 0, 'X'), op, 'X')!;
  return [{ dtype: ctx.inputs[4]?.dtype ?? x.dtype, shape: x.shape ? [...x.shape] : undefined }];
};

export const qlinearContribDefs = {
  'com.microsoft::QLinearAdd': defineOpDef({
    opType: 'QLinearAdd',
    domain: 'com.microsoft',
    layout: 'broadcast',
    attrs: noAttrs,
    infer: (ctx) => {
      eightBit(input(ctx, 0, 'A'), 'QLinearAdd', 'A');
      const [y] = elementwiseDefs.Add.infer(floatOpContext({ ...ctx, attrs: {} }, [0, 3]));
      return [{ ...y!, dtype: ctx.inputs[0]!.dtype }];
    },
  }),
  'com.microsoft::QLinearMul': defineOpDef({
    opType: 'QLinearMul',
    domain: 'com.microsoft',
    layout: 'broadcast',
    attrs: noAttrs,
    infer: (ctx) => {
      eightBit(input(ctx, 0, 'A'), 'QLinearMul', 'A');
      const [y] = elementwiseDefs.Mul.infer(floatOpContext({ ...ctx, attrs: {} }, [0, 3]));
      return [{ ...y!, dtype: ctx.inputs[0]!.dtype }];
    },
  }),
  'com.microsoft::QLinearConcat': defineOpDef<QLinearConcatAttrs>({
    opType: 'QLinearConcat',
    domain: 'com.microsoft',
    layout: 'axis',
    attrs: (node) => {
      const axis = attrInt(node, 'axis');
      if (axis === undefined) throw new ShapeError('QLinearConcat needs the axis attribute');
      if ((node.inputs.length - 2) % 3 !== 0 || node.inputs.length < 5) throw new ShapeError(`QLinearConcat takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples, got ${node.inputs.length} inputs`);
      return { axis };
    },
    infer: (ctx) => {
      const xs = ctx.inputs.slice(2).filter((_, i) => i % 3 === 0);
      const [y] = shapeDefs.Concat.infer({ ...ctx, inputs: xs });
      return [{ ...y!, data: undefined, dtype: ctx.inputs[1]?.dtype ?? y!.dtype }];
    },
  }),
  'com.microsoft::QLinearSigmoid': defineOpDef({
    opType: 'QLinearSigmoid',
    domain: 'com.microsoft',
    layout: 'elementwise',
    attrs: noAttrs,
    infer: unaryInfer('QLinearSigmoid'),
  }),
  'com.microsoft::QLinearLeakyRelu': defineOpDef<QLinearLeakyReluAttrs>({
    opType: 'QLinearLeakyRelu',
    domain: 'com.microsoft',
    layout: 'elementwise',
    attrs: (node) => ({ alpha: attrFloat(node, 'alpha', 0.01) }),
    infer: unaryInfer('QLinearLeakyRelu'),
  }),
  'com.microsoft::QLinearGlobalAveragePool': defineOpDef({
    opType: 'QLinearGlobalAveragePool',
    domain: 'com.microsoft',
    layout: 'spatial',
    attrs: (node) => {
      nchwOnly(node);
      return {};
    },
    infer: (ctx) => {
      const [y] = poolDefs.GlobalAveragePool.infer(floatOpContext(ctx, [0]));
      return [{ ...y!, dtype: ctx.inputs[4]?.dtype ?? y!.dtype }];
    },
  }),
  'com.microsoft::QLinearAveragePool': defineOpDef<PoolAttrs>({
    opType: 'QLinearAveragePool',
    domain: 'com.microsoft',
    layout: 'spatial',
    attrs: (node) => {
      nchwOnly(node);
      return parsePoolAttrs(node, false);
    },
    infer: (ctx) => {
      const [y] = poolDefs.AveragePool.infer(floatOpContext(ctx, [0]));
      return [{ ...y!, dtype: ctx.inputs[4]?.dtype ?? y!.dtype }];
    },
  }),
  /** QGemm: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (int32), y_scale, y_zero_point; float out without y_scale. */
  'com.microsoft::QGemm': defineOpDef<GemmAttrs>({
    opType: 'QGemm',
    domain: 'com.microsoft',
    layout: 'matmul',
    attrs: parseGemmAttrs,
    infer: (ctx) => {
      const [y] = gemmDefs.Gemm.infer(floatOpContext(ctx, [0, 3]));
      return [{ ...y!, dtype: ctx.inputs[7] ? (ctx.inputs[8]?.dtype ?? ctx.inputs[0]!.dtype) : 'float32' }];
    },
  }),
} satisfies OpDefTable;
