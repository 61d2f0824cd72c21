// The ONNX-domain integer ops of quantized models (what onnxruntime's quantizer writes):
// QLinearConv and QLinearMatMul (8-bit in, requantized 8-bit out) and ConvInteger and
// MatMulInteger (8-bit in, int32 accumulators out). Their shapes are Conv's and MatMul's.
import { ShapeError } from '../errors.js';
import { convDefs, inferConv, parseConvAttrs, type ConvAttrs } from './conv.js';
import { gemmDefs } from './gemm.js';
import { defineOpDef, input, noAttrs, type InferContext, type OpDefTable, type ValueType } from './op-def.js';

/** The context of the float op a quantized op computes, its inputs picked out of the quantized op's. */
export function floatOpContext<A>(ctx: InferContext<A>, picks: ReadonlyArray<number>): InferContext<A> {
  return { ...ctx, inputs: picks.map((i) => ctx.inputs[i]) };
}

/** The 8-bit dtype of a quantized input, if known: uint8 or int8 only. */
export function eightBit(v: ValueType | undefined, op: string, what: string): ValueType | undefined {
  if (v?.dtype && v.dtype !== 'uint8' && v.dtype !== 'int8') throw new ShapeError(`${op} ${what} must be uint8 or int8, got ${v.dtype}`);
  return v;
}

export const qlinearDefs = {
  QLinearConv: defineOpDef<ConvAttrs>({
    opType: 'QLinearConv',
    domain: '',
    layout: 'spatial',
    attrs: parseConvAttrs,
    infer: (ctx) => {
      input(ctx, 7, 'y_zero_point');
      eightBit(input(ctx, 0, 'x'), 'QLinearConv', 'x');
      eightBit(input(ctx, 3, 'w'), 'QLinearConv', 'w');
      const [y] = inferConv(floatOpContext(ctx, [0, 3, 8]));
      return [{ ...y!, dtype: ctx.inputs[7]!.dtype }];
    },
  }),
  ConvInteger: defineOpDef<ConvAttrs>({
    opType: 'ConvInteger',
    domain: '',
    layout: 'spatial',
    attrs: parseConvAttrs,
    infer: (ctx) => {
      eightBit(input(ctx, 0, 'x'), 'ConvInteger', 'x');
      eightBit(input(ctx, 1, 'w'), 'ConvInteger', 'w');
      const [y] = convDefs.Conv.infer(floatOpContext(ctx, [0, 1]));
      return [{ ...y!, dtype: 'int32' }];
    },
  }),
  QLinearMatMul: defineOpDef({
    opType: 'QLinearMatMul',
    domain: '',
    layout: 'matmul',
    attrs: noAttrs,
    infer: (ctx) => {
      input(ctx, 7, 'y_zero_point');
      const [y] = gemmDefs.MatMul.infer(floatOpContext(ctx, [0, 3]));
      return [{ ...y!, dtype: ctx.inputs[7]!.dtype }];
    },
  }),
  MatMulInteger: defineOpDef({
    opType: 'MatMulInteger',
    domain: '',
    layout: 'matmul',
    attrs: noAttrs,
    infer: (ctx) => {
      const [y] = gemmDefs.MatMul.infer(floatOpContext(ctx, [0, 1]));
      return [{ ...y!, dtype: 'int32' }];
    },
  }),
} satisfies OpDefTable;
