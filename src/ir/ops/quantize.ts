// QuantizeLinear, DequantizeLinear (ONNX QDQ, per-tensor or per-axis), DynamicQuantizeLinear and
// nnport::HybridInputQuantize (the float input of a TFLite hybrid op, rounded as the kernel does).
import type { DType } from '../dtypes.js';
import { UnsupportedError } from '../errors.js';
import { attrInt, type Node } from '../graph.js';
import { dtypeFromOnnxEnum } from './cast.js';
import { defineOpDef, input, like, noAttrs, type OpDefTable } from './op-def.js';

export interface QAttrs {
  axis: number;
  outputDType?: DType;
}

export function parseQAttrs(node: Node): QAttrs {
  const blockSize = attrInt(node, 'block_size', 0);
  if (blockSize !== 0) throw new UnsupportedError(`${node.opType} with block_size`, `block_size ${blockSize}`);
  const od = attrInt(node, 'output_dtype', 0);
  return { axis: attrInt(node, 'axis', 1), outputDType: od ? dtypeFromOnnxEnum(od) : undefined };
}

export interface HybridInputQuantizeAttrs {
  /** TFLite's SymmetricQuantizeFloats (±127, no zero point) rather than AsymmetricQuantizeFloats */
  symmetric: boolean;
  /**
   * one scale (and zero point) per index of the dims before `axis`, over the dims from it on: 1 for
   * a conv's images (NHWC), -1 for the rows of a FULLY_CONNECTED / BATCH_MATMUL input of any rank
   */
  axis: number;
}

export function parseHybridInputQuantizeAttrs(node: Node): HybridInputQuantizeAttrs {
  return { symmetric: attrInt(node, 'symmetric', 0) === 1, axis: attrInt(node, 'axis', 1) };
}

export const quantizeDefs = {
  QuantizeLinear: defineOpDef<QAttrs>({
    opType: 'QuantizeLinear',
    domain: '',
    layout: 'channel',
    attrs: parseQAttrs,
    // the zero point's type, else output_dtype, else uint8
    infer: (ctx) => [like(input(ctx, 0, 'x'), ctx.inputs[2]?.dtype ?? ctx.attrs.outputDType ?? 'uint8')],
  }),
  DequantizeLinear: defineOpDef<QAttrs>({
    opType: 'DequantizeLinear',
    domain: '',
    layout: 'channel',
    attrs: parseQAttrs,
    // opset 19+: the output has the scale's type (float32 before)
    infer: (ctx) => {
      const s = input(ctx, 1, 'x_scale').dtype;
      return [like(input(ctx, 0, 'x'), s === 'float16' || s === 'bfloat16' ? s : 'float32')];
    },
  }),
  DynamicQuantizeLinear: defineOpDef({
    opType: 'DynamicQuantizeLinear',
    domain: '',
    layout: 'elementwise',
    attrs: noAttrs,
    infer: (ctx) => [like(input(ctx, 0, 'x'), 'uint8'), { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }],
  }),
  /**
   * What a TFLite hybrid (dynamic-range) CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED /
   * BATCH_MATMUL does to its float input before the int8 arithmetic: int8 with a scale (and zero
   * point) computed from each block's min/max at run time, then back to float. The TFLite reader
   * puts it before the op; the TFLite writer turns the pair back into the hybrid op.
   */
  'nnport::HybridInputQuantize': defineOpDef<HybridInputQuantizeAttrs>({
    opType: 'HybridInputQuantize',
    domain: 'nnport',
    // its blocks are the trailing dims of the data as laid out: moving axes changes what it computes
    layout: 'shape',
    attrs: parseHybridInputQuantizeAttrs,
    infer: (ctx) => [like(input(ctx, 0, 'x'), 'float32')],
  }),
} satisfies OpDefTable;
