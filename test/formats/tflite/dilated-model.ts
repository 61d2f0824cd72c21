// Hand-built .tflite files of the atrous pattern SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D
// -> BATCH_TO_SPACE_ND (float or int8 with per-channel weights), and its 1-D form with EXPAND_DIMS /
// SQUEEZE around the conv (a dilated Conv1D; also hybrid, and under a dynamic batch), independent
// of nnport's writer: for the dilated-conv reader tests and the fuzzer's seeds.
import type { Builder } from 'flatbuffers';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Conv2DOptions } from '../../../src/formats/generated/tflite/conv2-doptions.js';
import { DepthwiseConv2DOptions } from '../../../src/formats/generated/tflite/depthwise-conv2-doptions.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
import { SqueezeOptions } from '../../../src/formats/generated/tflite/squeeze-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { rng } from '../../support/rng.js';
import { buildOpModel, type OpTensor } from './op-model.js';

export interface AtrousCase {
  /** input [N, H, W, C] */
  x: [number, number, number, number];
  depthwise?: boolean;
  /** output channels (CONV_2D) or depth multiplier (DEPTHWISE_CONV_2D) */
  out: number;
  kernel: [number, number];
  block: [number, number];
  /** [top, bottom, left, right] */
  paddings: [number, number, number, number];
  crops: [number, number, number, number];
  innerSame?: boolean;
  act?: ActivationFunctionType;
  int8?: boolean;
  /** the SPACE_TO_BATCH_ND's output is also a graph output (a second reader: no fold) */
  exposeMiddle?: boolean;
  /** the BATCH_TO_SPACE_ND output's quantization differs from the conv's (int8: no fold) */
  otherOutputQuant?: boolean;
  seed: number;
}

const X_Q = { scale: 0.05, zeroPoint: 3 };
const Y_Q = { scale: 0.12, zeroPoint: -7 };

/** The atrous pattern as a .tflite file (tensors t0..t9; outputs: y, and the middle when exposed). */
/** The options of the stride-1 conv between the SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND. */
function innerConvOptions(c: { innerSame?: boolean; act?: ActivationFunctionType; depthwise?: boolean; out: number }): (b: Builder) => [BuiltinOptions, number] {
  const pad = c.innerSame ? Padding.SAME : Padding.VALID;
  const a = c.act ?? ActivationFunctionType.NONE;
  return c.depthwise
    ? (b) => [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, pad, 1, 1, c.out, a, 1, 1)]
    : (b) => [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(b, pad, 1, 1, a, 1, 1, TensorType.FLOAT32)];
}

export function atrousFile(c: AtrousCase): Uint8Array {
  const r = rng(c.seed);
  const [n, h, w, ch] = c.x;
  const [bh, bw] = c.block;
  const [kh, kw] = c.kernel;
  const o = c.depthwise ? ch * c.out : c.out;
  const ph = (h + c.paddings[0] + c.paddings[1]) / bh;
  const pw = (w + c.paddings[2] + c.paddings[3]) / bw;
  const inner = (p: number, k: number) => (c.innerSame ? p : p - k + 1);
  const [oh, ow] = [inner(ph, kh), inner(pw, kw)];
  const yh = bh * oh - c.crops[0] - c.crops[1];
  const yw = bw * ow - c.crops[2] - c.crops[3];
  const wShape = c.depthwise ? [1, kh, kw, o] : [o, kh, kw, ch];
  const wCount = wShape.reduce((p, d) => p * d, 1);
  const i32 = (shape: number[], data: number[]): OpTensor => ({ shape, dtype: 'int32', data });
  const act = (shape: number[]): OpTensor => (c.int8 ? { shape, dtype: 'int8', quant: X_Q } : { shape });
  const wScales = Array.from({ length: o }, (_, i) => 0.01 + 0.003 * i);
  const out = (shape: number[], q = Y_Q): OpTensor => (c.int8 ? { shape, dtype: 'int8', quant: q } : { shape });
  const tensors: OpTensor[] = [
    act([n, h, w, ch]),
    i32([2], [bh, bw]),
    i32([2, 2], [...c.paddings]),
    act([n * bh * bw, ph, pw, ch]),
    c.int8
      ? { shape: wShape, dtype: 'int8', data: Array.from({ length: wCount }, () => Math.round(r() * 254) - 127), quant: { scale: wScales, zeroPoint: wScales.map(() => 0), axis: c.depthwise ? 3 : 0 } }
      : { shape: wShape, data: Array.from({ length: wCount }, () => r() * 2 - 1) },
    c.int8
      ? { shape: [o], dtype: 'int32', data: Array.from({ length: o }, () => Math.round(r() * 400) - 200), quant: { scale: wScales.map((s) => s * X_Q.scale), zeroPoint: wScales.map(() => 0), axis: 0 } }
      : { shape: [o], data: Array.from({ length: o }, () => r() - 0.5) },
    out([n * bh * bw, oh, ow, o]),
    i32([2], [bh, bw]),
    i32([2, 2], [...c.crops]),
    out([n, yh, yw, o], c.otherOutputQuant ? { scale: 0.2, zeroPoint: 1 } : Y_Q),
  ];
  const convOptions = innerConvOptions(c);
  return buildOpModel(
    tensors,
    [
      { code: Op.SPACE_TO_BATCH_ND, inputs: [0, 1, 2], outputs: [3] },
      { code: c.depthwise ? Op.DEPTHWISE_CONV_2D : Op.CONV_2D, inputs: [3, 4, 5], outputs: [6], options: convOptions, version: c.int8 ? 3 : 1 },
      { code: Op.BATCH_TO_SPACE_ND, inputs: [6, 7, 8], outputs: [9] },
    ],
    c.exposeMiddle ? [9, 3] : [9],
  );
}


export interface Atrous1dCase {
  /** input [N, W, C] */
  x: [number, number, number];
  depthwise?: boolean;
  /** output channels (CONV_2D) or depth multiplier (DEPTHWISE_CONV_2D) */
  out: number;
  kernel: number;
  block: number;
  /** [left, right] */
  paddings: [number, number];
  crops: [number, number];
  /** the unit dim EXPAND_DIMS inserts and SQUEEZE removes, as the file spells it (TF's conv1d: -3, i.e. 1) */
  unitAxis?: number;
  innerSame?: boolean;
  /** a zero bias, as TF's converter gives the conv when the layer's bias is added after BATCH_TO_SPACE_ND */
  zeroBias?: boolean;
  act?: ActivationFunctionType;
  int8?: boolean;
  /** float activations, int8 per-channel weights: TFLite's hybrid conv (not folded) */
  hybrid?: boolean;
  /** -1 in the shape_signature of every batch dim (stored: x[0]) */
  dynamicBatch?: boolean;
  /** RESHAPEs (constant targets) for the EXPAND_DIMS and SQUEEZE, as TF's converter writes them when the shapes are static */
  reshapes?: boolean;
  /** the EXPAND_DIMS output is also a graph output (a second reader: no fold) */
  exposeExpanded?: boolean;
  seed: number;
}

/**
 * A dilated Conv1D as TF's converter writes it: SPACE_TO_BATCH_ND (block [b]) -> EXPAND_DIMS ->
 * CONV_2D / DEPTHWISE_CONV_2D (stride 1, no dilation) -> SQUEEZE -> BATCH_TO_SPACE_ND (tensors
 * t0..t13; outputs: y, and the EXPAND_DIMS output when exposed).
 */
export function atrous1dFile(c: Atrous1dCase): Uint8Array {
  const r = rng(c.seed);
  const [n, w, ch] = c.x;
  const b = c.block;
  const k = c.kernel;
  const axisIn = c.unitAxis ?? -3;
  const axis = axisIn < 0 ? axisIn + 4 : axisIn;
  const o = c.depthwise ? ch * c.out : c.out;
  const phase = (w + c.paddings[0] + c.paddings[1]) / b;
  const ow = c.innerSame ? phase : phase - k + 1;
  const yw = b * ow - c.crops[0] - c.crops[1];
  const unit = (shape: number[]) => [...shape.slice(0, axis), 1, ...shape.slice(axis)];
  const kernel2 = axis === 1 ? [1, k] : [k, 1];
  const wShape = c.depthwise ? [1, ...kernel2, o] : [o, ...kernel2, ch];
  const wCount = wShape.reduce((p, d) => p * d, 1);
  const i32 = (shape: number[], data: number[]): OpTensor => ({ shape, dtype: 'int32', data });
  const sig = (shape: number[]) => (c.dynamicBatch ? { signature: [-1, ...shape.slice(1)] } : {});
  const act = (shape: number[]): OpTensor => ({ shape, ...sig(shape), ...(c.int8 ? { dtype: 'int8' as const, quant: X_Q } : {}) });
  const out = (shape: number[]): OpTensor => ({ shape, ...sig(shape), ...(c.int8 ? { dtype: 'int8' as const, quant: Y_Q } : {}) });
  const wScales = Array.from({ length: o }, (_, i) => 0.01 + 0.003 * i);
  const quantW = c.int8 || c.hybrid;
  const tensors: OpTensor[] = [
    act([n, w, ch]), // 0 x
    i32([1], [b]), // 1 block
    i32([1, 2], [...c.paddings]), // 2 paddings
    act([n * b, phase, ch]), // 3 SPACE_TO_BATCH_ND
    c.reshapes ? i32([4], unit([n * b, phase, ch])) : i32([], [axisIn]), // 4 axis (RESHAPE: the target)
    act(unit([n * b, phase, ch])), // 5 EXPAND_DIMS
    quantW
      ? { shape: wShape, dtype: 'int8', data: Array.from({ length: wCount }, () => Math.round(r() * 254) - 127), quant: { scale: wScales, zeroPoint: wScales.map(() => 0), axis: c.depthwise ? 3 : 0 } }
      : { shape: wShape, data: Array.from({ length: wCount }, () => r() * 2 - 1) }, // 6 weights
    c.int8
      ? { shape: [o], dtype: 'int32', data: Array.from({ length: o }, () => Math.round(r() * 400) - 200), quant: { scale: wScales.map((s) => s * X_Q.scale), zeroPoint: wScales.map(() => 0), axis: 0 } }
      : { shape: [o], data: Array.from({ length: o }, () => (c.zeroBias ? 0 : r() - 0.5)) }, // 7 bias
    out(unit([n * b, ow, o])), // 8 conv
    out([n * b, ow, o]), // 9 SQUEEZE
    i32([1], [b]), // 10 block
    i32([1, 2], [...c.crops]), // 11 crops
    out([n, yw, o]), // 12 y
    i32([3], [n * b, ow, o]), // 13 the second RESHAPE's target
  ];
  const convOptions = innerConvOptions(c);
  return buildOpModel(
    tensors,
    [
      { code: Op.SPACE_TO_BATCH_ND, inputs: [0, 1, 2], outputs: [3], version: c.int8 ? 2 : 1 },
      { code: c.reshapes ? Op.RESHAPE : Op.EXPAND_DIMS, inputs: [3, 4], outputs: [5] },
      { code: c.depthwise ? Op.DEPTHWISE_CONV_2D : Op.CONV_2D, inputs: [5, 6, 7], outputs: [8], options: convOptions, version: c.int8 ? 3 : c.hybrid ? 5 : 1 },
      c.reshapes
        ? { code: Op.RESHAPE, inputs: [8, 13], outputs: [9] }
        : { code: Op.SQUEEZE, inputs: [8], outputs: [9], options: (bb) => [BuiltinOptions.SqueezeOptions, SqueezeOptions.createSqueezeOptions(bb, SqueezeOptions.createSqueezeDimsVector(bb, [axisIn]))] },
      { code: Op.BATCH_TO_SPACE_ND, inputs: [9, 10, 11], outputs: [12], version: c.int8 ? 2 : 1 },
    ],
    c.exposeExpanded ? [12, 5] : [12],
  );
}
