// Hand-built .tflite files of the atrous pattern SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D
// -> BATCH_TO_SPACE_ND (float or int8 with per-channel weights), independent of nnport's writer:
// for the dilated-conv reader tests and the fuzzer's seeds.
import type { Builder } from 'flatbuffers';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Conv2DOptions } from '../../../src/formats/generated/tflite/conv2-doptions.js';
import { DepthwiseConv2DOptions } from '../../../src/formats/generated/tflite/depthwise-conv2-doptions.js';
import { Padding } from '../../../src/formats/generated/tflite/padding.js';
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
  const pad = c.innerSame ? Padding.SAME : Padding.VALID;
  const a = c.act ?? ActivationFunctionType.NONE;
  const convOptions = c.depthwise
    ? (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, pad, 1, 1, c.out, a, 1, 1)]
    : (b: Builder): [BuiltinOptions, number] => [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(b, pad, 1, 1, a, 1, 1, TensorType.FLOAT32)];
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

