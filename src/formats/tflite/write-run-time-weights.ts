// Ops whose weights are computed (or fed) at run time, which the writer's weight re-layouts cannot
// take (they re-lay constants): written with the layout done by ops in the file.
//   Gemm with a computed B, or transA: BATCH_MATMUL (adj_x = transA, adj_y = transB), MUL by alpha,
//     ADD of beta · C (a constant C scaled here, a computed one by a MUL).
//   Conv with a computed weight (the layout pass leaves such a Conv NCHW): TRANSPOSE of the input to
//     NHWC and of the weight (O, I, kh, kw) to OHWI -- CONV_2D takes a filter tensor computed at run
//     time --, the bias (or zeros), TF SAME / VALID or an explicit PAD, TRANSPOSE back to NCHW.
//   ConvTranspose with a computed weight: the same TRANSPOSEs (the weight (I, O, kh, kw) to OHWI),
//     TRANSPOSE_CONV VALID to the full (in - 1)·s + k, then the crop of pads / output_padding
//     (STRIDED_SLICE; output_padding rows past the last tap hold the bias only: a PAD of the input).
// Groups and dilations of a computed weight are refused by name; quantized operands too.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { BatchMatMulOptions } from '../generated/tflite/batch-mat-mul-options.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { Conv2DOptions } from '../generated/tflite/conv2-doptions.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { Padding } from '../generated/tflite/padding.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { TransposeConvOptions } from '../generated/tflite/transpose-conv-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { int32, padSpatial, spatialPadding, type Opts, type WriteContext } from './ops-write.js';
import type { WTensor } from './write.js';

const addOpts: Opts = (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)];
const mulOpts: Opts = (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)];

function refuseQuantized(n: Node, c: WriteContext, what: string): void {
  if ([...n.inputs, ...n.outputs].some((v) => v && c.isQuantized(v))) throw new UnsupportedError(`quantized ${n.opType} with ${what} in a TFLite file`, `node '${n.name}'`);
}

/** Gemm with a computed B or transA: BATCH_MATMUL, then alpha and beta · C. */
export function gemmGeneral(n: Node, c: WriteContext): void {
  refuseQuantized(n, c, 'computed weights or transA');
  const a = c.tensor(n.inputs[0]!);
  const b = c.tensor(n.inputs[1]!);
  const y = c.tensor(n.outputs[0]!);
  const transA = attrInt(n, 'transA', 0) !== 0;
  const transB = attrInt(n, 'transB', 0) !== 0;
  const alpha = attrFloat(n, 'alpha', 1);
  const beta = attrFloat(n, 'beta', 1);
  const out = c.info(y);
  if (out.dtype !== 'float32') throw new UnsupportedError(`Gemm of ${out.dtype} data with computed weights in a TFLite file`, `node '${n.name}'`);
  const like: WTensor = { ...out, quant: undefined };
  const cName = n.inputs[2] || undefined;
  const steps: Array<(into: string) => void> = [];
  let last = c.addTensor(`${y}_matmul`, like);
  const product = last;
  c.emit({ code: BuiltinOperator.BATCH_MATMUL, inputs: [a, b], outputs: [product], options: (bb) => [BuiltinOptions.BatchMatMulOptions, BatchMatMulOptions.createBatchMatMulOptions(bb, transA, transB, false)] });
  if (alpha !== 1) steps.push((into) => c.emit({ code: BuiltinOperator.MUL, inputs: [last, c.addConstant(`${y}_alpha`, Tensor.float32([], [alpha]))], outputs: [into], options: mulOpts }));
  if (cName && beta !== 0) {
    const k = c.constantOf(cName);
    let bias: string;
    if (k) bias = beta === 1 ? c.tensor(cName) : c.addConstant(`${cName}_scaled`, new Tensor('float32', [...k.shape], k.toFloat32().map((v) => v * beta)));
    else if (beta === 1) bias = c.tensor(cName);
    else {
      bias = c.addTensor(`${y}_beta_c`, { ...c.info(c.tensor(cName)), quant: undefined });
      c.emit({ code: BuiltinOperator.MUL, inputs: [c.tensor(cName), c.addConstant(`${y}_beta`, Tensor.float32([], [beta]))], outputs: [bias], options: mulOpts });
    }
    steps.push((into) => c.emit({ code: BuiltinOperator.ADD, inputs: [last, bias], outputs: [into], options: addOpts }));
  }
  if (!steps.length) {
    c.emit({ code: BuiltinOperator.RESHAPE, inputs: [product, c.addConstant(`${y}_shape`, int32(out.shape))], outputs: [y] });
    return;
  }
  steps.forEach((step, i) => {
    const into = i === steps.length - 1 ? y : c.addTensor(`${y}_step${i}`, like);
    step(into);
    last = into;
  });
}

/** A TRANSPOSE of `x` by `perm` into a new tensor named after `base`. */
function transpose(c: WriteContext, x: string, perm: number[], base: string, signature?: number[]): string {
  const info = c.info(x);
  const out = c.addTensor(base, { ...info, shape: perm.map((p) => info.shape[p]!), signature: signature ?? (info.signature ? perm.map((p) => info.signature![p]!) : undefined) });
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [x, c.addConstant(`${base}_perm`, int32(perm))], outputs: [out] });
  return out;
}

/** The checks both convs share: 2-D, float, no groups or dilations, fixed spatial sizes. */
function runTimeConvOperands(n: Node, c: WriteContext): { x: string; w: string; y: string; xs: number[]; ws: number[]; ys: number[] } {
  refuseQuantized(n, c, 'a computed weight');
  const x = c.tensor(n.inputs[0]!);
  const w = c.tensor(n.inputs[1]!);
  const y = c.tensor(n.outputs[0]!);
  const [xs, ws, ys] = [c.shapeOf(x), c.shapeOf(w), c.shapeOf(y)];
  if (xs.length !== 4) throw new UnsupportedError(`${n.opType} with ${xs.length - 2} spatial dims and a computed weight in a TFLite file`, `node '${n.name}': 2-D only`);
  if (c.info(x).dtype !== 'float32' || c.info(w).dtype !== 'float32') throw new UnsupportedError(`${n.opType} of ${c.info(x).dtype} data with a computed weight in a TFLite file`, `node '${n.name}'`);
  if (attrInt(n, 'group', 1) !== 1) throw new UnsupportedError(`grouped ${n.opType} with a computed weight in a TFLite file`, `node '${n.name}'`);
  if (attrInts(n, 'dilations', [1, 1]).some((d) => d !== 1)) throw new UnsupportedError(`dilated ${n.opType} with a computed weight in a TFLite file`, `node '${n.name}'`);
  if ([c.info(x), c.info(y)].some((t) => t.signature?.slice(2).some((d) => d < 0))) throw new UnsupportedError(`${n.opType} with a computed weight over a size known only at run time in a TFLite file`, `node '${n.name}'`);
  return { x, w, y, xs, ws, ys };
}

/** The bias input (or zeros) of `o` channels. */
function biasOf(n: Node, c: WriteContext, y: string, o: number): string {
  return n.inputs[2] ? c.tensor(n.inputs[2]) : c.addConstant(`${y}_bias`, Tensor.float32([o]));
}

/** ONNX Conv (NCHW) with a computed weight. */
export function convRunTimeWeights(n: Node, c: WriteContext): void {
  const { x, w, y, xs, ws, ys } = runTimeConvOperands(n, c);
  const nhwc = [0, 2, 3, 1];
  const xt = transpose(c, x, nhwc, `${x}_nhwc`);
  const wt = transpose(c, w, nhwc, `${w}_ohwi`);
  const strides = attrInts(n, 'strides', [1, 1]);
  const yShape = nhwc.map((p) => ys[p]!);
  const sp = spatialPadding(n, nhwc.map((p) => xs[p]!), ws.slice(2), strides, [1, 1], yShape);
  const input = sp.explicit ? padSpatial(c, xt, sp.explicit) : xt;
  const info = c.info(y);
  const yt = c.addTensor(`${y}_nhwc`, { ...info, shape: yShape, signature: info.signature ? nhwc.map((p) => info.signature![p]!) : undefined });
  c.emit({ code: BuiltinOperator.CONV_2D, inputs: [input, wt, biasOf(n, c, y, ws[0]!)], outputs: [yt], options: (b, act) => [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(b, sp.padding, strides[1]!, strides[0]!, act, 1, 1, TensorType.FLOAT32)] });
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [yt, c.addConstant(`${y}_perm`, int32([0, 3, 1, 2]))], outputs: [y] });
}

/** ONNX ConvTranspose (NCHW) with a computed weight. */
export function convTransposeRunTimeWeights(n: Node, c: WriteContext): void {
  const { x, w, y, xs, ws, ys } = runTimeConvOperands(n, c);
  const [N, , H, W] = xs as [number, number, number, number];
  const [, O, kh, kw] = ws as [number, number, number, number];
  const strides = attrInts(n, 'strides', [1, 1]);
  const outPad = attrInts(n, 'output_padding', [0, 0]);
  const out = [ys[2]!, ys[3]!];
  const full = [(H - 1) * strides[0]! + kh, (W - 1) * strides[1]! + kw];
  // pads: given, or from auto_pad / output_shape as ONNX's total padding (SAME_UPPER puts the odd one at the end)
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const given = attrInts(n, 'pads');
  const begins = out.map((o, i) => {
    if (given && autoPad === 'NOTSET' && !attrInts(n, 'output_shape')) return given[i]!;
    const total = full[i]! + outPad[i]! - o;
    return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
  });
  if (begins.some((b) => b < 0)) throw new UnsupportedError('ConvTranspose with negative pads and a computed weight in a TFLite file', `node '${n.name}'`);
  // rows past the full output (output_padding beyond the last tap): zero rows of input added at the end reach them with the bias only
  const extra = out.map((o, i) => Math.max(0, Math.ceil((begins[i]! + o - full[i]!) / strides[i]!)));
  const nhwc = [0, 2, 3, 1];
  let xt = transpose(c, x, nhwc, `${x}_nhwc`);
  if (extra.some(Boolean)) xt = padSpatial(c, xt, extra.map((e): [number, number] => [0, e]));
  const fullShape = [N, full[0]! + extra[0]! * strides[0]!, full[1]! + extra[1]! * strides[1]!, O];
  // (I, O, kh, kw) -> (O, kh, kw, I)
  const wt = transpose(c, w, [1, 2, 3, 0], `${w}_ohwi`);
  const info = c.info(y);
  const yFull = c.addTensor(`${y}_full`, { ...info, shape: fullShape, signature: undefined });
  const options: Opts = (b, act) => [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(b, Padding.VALID, strides[1]!, strides[0]!, act, TensorType.FLOAT32)];
  c.emit({ code: BuiltinOperator.TRANSPOSE_CONV, inputs: [c.addConstant(`${y}_output_shape`, int32(fullShape)), wt, xt, biasOf(n, c, y, O)], outputs: [yFull], options });
  const yShape = [N, out[0]!, out[1]!, O];
  const cropped = c.addTensor(`${y}_nhwc`, { ...info, shape: yShape, signature: undefined });
  const sliceOpts: Opts = (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)];
  c.emit({
    code: BuiltinOperator.STRIDED_SLICE,
    inputs: [yFull, c.addConstant(`${y}_crop_begin`, int32([0, begins[0]!, begins[1]!, 0])), c.addConstant(`${y}_crop_end`, int32([N, begins[0]! + out[0]!, begins[1]! + out[1]!, O])), c.addConstant(`${y}_crop_strides`, int32([1, 1, 1, 1]))],
    outputs: [cropped],
    options: sliceOpts,
  });
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [cropped, c.addConstant(`${y}_perm`, int32([0, 3, 1, 2]))], outputs: [y] });
}
