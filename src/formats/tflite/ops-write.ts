// IR node -> TFLite builtin ops, one row per IR op type (channels-last graph). Each converter
// reads its attributes once, re-lays constant weights for TFLite (CONV_2D OHWI, DEPTHWISE
// (1,kh,kw,C·M), FULLY_CONNECTED (out,in), TRANSPOSE_CONV OHWI) and emits ops over tensor names.
import type { Builder } from 'flatbuffers';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { permuteTensor } from '../../passes/layout.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { BatchMatMulOptions } from '../generated/tflite/batch-mat-mul-options.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { Conv2DOptions } from '../generated/tflite/conv2-doptions.js';
import { Conv3DOptions } from '../generated/tflite/conv3-doptions.js';
import { DepthToSpaceOptions } from '../generated/tflite/depth-to-space-options.js';
import { DepthwiseConv2DOptions } from '../generated/tflite/depthwise-conv2-doptions.js';
import { DivOptions } from '../generated/tflite/div-options.js';
import { FullyConnectedOptions } from '../generated/tflite/fully-connected-options.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { GeluOptions } from '../generated/tflite/gelu-options.js';
import { LeakyReluOptions } from '../generated/tflite/leaky-relu-options.js';
import { MirrorPadMode } from '../generated/tflite/mirror-pad-mode.js';
import { MirrorPadOptions } from '../generated/tflite/mirror-pad-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { OneHotOptions } from '../generated/tflite/one-hot-options.js';
import { Padding } from '../generated/tflite/padding.js';
import { Pool2DOptions } from '../generated/tflite/pool2-doptions.js';
import { ReducerOptions } from '../generated/tflite/reducer-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ResizeBilinearOptions } from '../generated/tflite/resize-bilinear-options.js';
import { ResizeNearestNeighborOptions } from '../generated/tflite/resize-nearest-neighbor-options.js';
import { LogSoftmaxOptions } from '../generated/tflite/log-softmax-options.js';
import { SoftmaxOptions } from '../generated/tflite/softmax-options.js';
import { SpaceToDepthOptions } from '../generated/tflite/space-to-depth-options.js';
import { SliceOptions } from '../generated/tflite/slice-options.js';
import { SplitOptions } from '../generated/tflite/split-options.js';
import { SqueezeOptions } from '../generated/tflite/squeeze-options.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { ShapeOptions } from '../generated/tflite/shape-options.js';
import { PackOptions } from '../generated/tflite/pack-options.js';
import { SubOptions } from '../generated/tflite/sub-options.js';
import { TransposeConvOptions } from '../generated/tflite/transpose-conv-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import type { TfliteQuantParams, WOp, WTensor } from './write.js';
import { writeQuantizedLstm, writeSvdf } from './recurrent-int.js';
import { writeGru, writeLstm, writeRnn } from './recurrent-write.js';
import { averagePoolExcludingPads, crdAsDcr, dilatedMaxPool, edgePad, overLastAxis } from './write-pad-pool.js';
import { gemmGeneral } from './write-run-time-weights.js';

export interface WriteContext {
  file: string;
  /** the tensor for an IR value (declared on first use; QDQ aliases resolved) */
  tensor(name: string): string;
  info(name: string): WTensor;
  constantOf(name: string): Tensor | undefined;
  isQuantized(name: string): boolean;
  /** for a value made by nnport::HybridInputQuantize (a hybrid op's input as read from TFLite): whether it rounds symmetrically */
  hybridInputSymmetric(name: string): boolean | undefined;
  /** `from`: the value it is laid out from (a float16 weight's layout stays float16) */
  addConstant(base: string, t: Tensor, quant?: TfliteQuantParams, from?: string): string;
  addTensor(base: string, like: WTensor): string;
  emit(op: WOp): void;
  shapeOf(name: string): number[];
  /** whether a node or a graph output reads the value (an unread optional output need not be written) */
  isRead(name: string): boolean;
  /** a control-flow body written as one more SubGraph (its inputs in order are the subgraph's); its index */
  addSubgraph(body: Graph): number;
}

export type Converter = (n: Node, c: WriteContext) => void;
export type Opts = NonNullable<WOp['options']>;

export const int32 = (values: number[]): Tensor => new Tensor('int32', [values.length], Int32Array.from(values));

export function constant(n: Node, c: WriteContext, i: number, what: string): Tensor {
  const t = n.inputs[i] ? c.constantOf(n.inputs[i]!) : undefined;
  if (!t) throw new UnsupportedError(`${n.opType} with a computed ${what} in a TFLite file`, `node '${n.name}': the ${what} must be a constant`);
  return t;
}

export const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);

// ---- padding: TF SAME / VALID, or an explicit PAD before the op ----

interface Spatial {
  padding: Padding;
  /** explicit (begin, end) pads still to apply with a PAD op, per spatial dim */
  explicit?: [number, number][];
}

export function tfSamePads(inSize: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * `open`: the spatial dims known only when the model runs (-1 in the input's shape_signature): TF's
 * SAME pads follow the input's size, so for them it stands for fixed pads only at stride 1.
 */
export function spatialPadding(n: Node, inShape: number[], kernel: number[], strides: number[], dilations: number[], outShape: number[], open: boolean[] = []): Spatial {
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER') return { padding: Padding.SAME };
  if (autoPad === 'VALID') return { padding: Padding.VALID };
  const rank = kernel.length;
  let pads = attrInts(n, 'pads', new Array<number>(2 * rank).fill(0));
  if (autoPad === 'SAME_LOWER') {
    // the odd pixel at the start (TF SAME puts it at the end): explicit pads, fixed sizes only
    if (open.some(Boolean)) throw new UnsupportedError('auto_pad SAME_LOWER over a dim known only at run time in a TFLite file', `node '${n.name}'`);
    const totals = kernel.map((k, i) => Math.max((Math.ceil(inShape[1 + i]! / strides[i]!) - 1) * strides[i]! + (k - 1) * dilations[i]! + 1 - inShape[1 + i]!, 0));
    pads = [...totals.map((t) => t - Math.floor(t / 2)), ...totals.map((t) => Math.floor(t / 2))];
  }
  const pairs = kernel.map((_, i) => [pads[i]!, pads[i + rank]!] as [number, number]);
  // ceil_mode: pad the end so that VALID floor rounding gives the wanted size
  for (let i = 0; i < rank; i++) {
    const eff = (kernel[i]! - 1) * dilations[i]! + 1;
    if (open[i]) {
      if (attrInt(n, 'ceil_mode', 0) === 1 && strides[i]! > 1) throw new UnsupportedError(`${n.opType} with ceil_mode over a dim known only at run time in a TFLite file`, `node '${n.name}'`);
      continue;
    }
    const inSize = inShape[1 + i]!;
    const want = outShape[1 + i]!;
    const got = Math.floor((inSize + pairs[i]![0] + pairs[i]![1] - eff) / strides[i]!) + 1;
    if (got < want) pairs[i]![1] += (want - got) * strides[i]!;
  }
  if (pairs.every(([b, e]) => b === 0 && e === 0)) return { padding: Padding.VALID };
  const same = pairs.every(([b, e], i) => {
    if (open[i]) {
      const total = (kernel[i]! - 1) * dilations[i]!;
      return strides[i] === 1 && b === Math.floor(total / 2) && e === total - Math.floor(total / 2);
    }
    const [sb, se] = tfSamePads(inShape[1 + i]!, kernel[i]!, strides[i]!, dilations[i]!);
    return b === sb && e === se && Math.ceil(inShape[1 + i]! / strides[i]!) === outShape[1 + i]!;
  });
  if (same) return { padding: Padding.SAME };
  return { padding: Padding.VALID, explicit: pairs };
}

/** Which spatial dims of channels-last `x` are known only at run time. */
export const openSpatial = (c: WriteContext, x: string): boolean[] => c.shapeOf(x).slice(1, -1).map((_, i) => c.info(x).signature?.[1 + i] === -1);

/** A PAD (or PADV2 with `value`) of the spatial dims of NHWC tensor `x`; returns the padded tensor. */
export function padSpatial(c: WriteContext, x: string, pairs: [number, number][], value?: number): string {
  const info = c.info(x);
  const rank = info.shape.length;
  const paddings = new Array<number>(2 * rank).fill(0);
  pairs.forEach(([b, e], i) => {
    paddings[2 * (1 + i)] = b;
    paddings[2 * (1 + i) + 1] = e;
  });
  const shape = info.shape.map((d, i) => d + paddings[2 * i]! + paddings[2 * i + 1]!);
  const out = c.addTensor(`${x}_padded`, { ...info, shape, signature: info.signature?.map((d, i) => (d < 0 ? d : shape[i]!)) });
  // named after the padded tensor, as the pad converter names a PAD's (read back, this is one)
  const padsT = c.addConstant(`${out}_paddings`, new Tensor('int32', [rank, 2], Int32Array.from(paddings)));
  if (value === undefined) {
    c.emit({ code: BuiltinOperator.PAD, inputs: [x, padsT], outputs: [out] });
  } else {
    const lowest = info.dtype === 'int16' ? -32768 : info.dtype === 'uint8' ? 0 : -128;
    const v = info.quant ? Tensor.scalar(info.dtype, info.quant.zeroPoint[0]! + Math.max(lowest - info.quant.zeroPoint[0]!, Math.round(value / info.quant.scale[0]!))) : Tensor.float32([], [value]);
    c.emit({ code: BuiltinOperator.PADV2, inputs: [x, padsT, c.addConstant(`${out}_pad_value`, v, info.quant)], outputs: [out] });
  }
  return out;
}

// ---- weights ----

function requantAxis(q: TfliteQuantParams | undefined, axis: number): TfliteQuantParams | undefined {
  return q && q.axis !== undefined ? { ...q, axis } : q;
}

/** A zero bias for ops that need one: float32 (float16 beside float16 weights), or int32 on scale_x·scale_w for quantized ones. */
function zeroBias(c: WriteContext, base: string, x: string, w: WTensor, o: number): string {
  const xq = c.info(x).quant;
  if (!xq || !w.quant) return c.addConstant(`${base}_bias`, Tensor.float32([o]), undefined, w.name);
  const scale = Array.from({ length: w.quant.scale.length }, (_, i) => xq.scale[0]! * w.quant!.scale[i]!);
  return c.addConstant(`${base}_bias`, new Tensor('int32', [o], new Int32Array(o)), { scale, zeroPoint: scale.map(() => 0), axis: scale.length > 1 ? 0 : undefined });
}

const conv: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const wName = c.tensor(n.inputs[1]!);
  const w = c.info(wName);
  const wData = constant(n, c, 1, 'weights');
  if (wData.rank === 5) return conv3d(n, c);
  if (wData.rank !== 4) throw new UnsupportedError(`Conv with ${wData.rank - 2} spatial dims in a TFLite file`, `node '${n.name}'`);
  const layout = attrString(n, 'kernel_layout', 'HWIO');
  if (layout !== 'HWIO' && layout !== 'OHWI') throw new ShapeError(`node '${n.name}': kernel_layout '${layout}'`);
  const group = attrInt(n, 'group', 1);
  const inShape = c.shapeOf(x);
  const channels = inShape[3]!;
  // OHWI view of the weights
  const ohwi = layout === 'OHWI' ? wData : permuteTensor(wData, [3, 0, 1, 2]);
  const ohwiQuant = layout === 'OHWI' ? w.quant : requantAxis(w.quant, 0);
  const [o, kh, kw, ipg] = ohwi.shape as [number, number, number, number];
  const strides = attrInts(n, 'strides', [1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1]);
  const y = c.tensor(n.outputs[0]!);
  const sp = spatialPadding(n, inShape, [kh, kw], strides, dilations, c.shapeOf(y), openSpatial(c, x));
  const input = sp.explicit ? padSpatial(c, x, sp.explicit) : x;
  const depthwise = group > 1 && group === channels && ipg === 1;
  let weights: string;
  if (depthwise) {
    // (1, kh, kw, C·M): the HWIO bytes as they are, or OHWI (C·M, kh, kw, 1) transposed
    const dw = layout === 'HWIO' ? wData.reshape([1, kh, kw, o]) : permuteTensor(wData, [3, 1, 2, 0]);
    weights = c.addConstant(`${wName}_depthwise`, dw, layout === 'HWIO' ? w.quant : requantAxis(w.quant, 3), wName);
  } else {
    weights = layout === 'OHWI' ? wName : c.addConstant(`${wName}_ohwi`, ohwi, ohwiQuant, wName);
  }
  const bias = n.inputs[2] ? c.tensor(n.inputs[2]) : zeroBias(c, y, x, c.info(weights), o);
  const pad = sp.padding;
  if (depthwise) {
    const options: Opts = (b, act) => [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, pad, strides[1]!, strides[0]!, o / channels, act, dilations[1]!, dilations[0]!)];
    c.emit({ code: BuiltinOperator.DEPTHWISE_CONV_2D, inputs: [input, weights, bias], outputs: [y], options, fusable: true });
  } else {
    const options: Opts = (b, act) => [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(b, pad, strides[1]!, strides[0]!, act, dilations[1]!, dilations[0]!, TensorType.FLOAT32)];
    c.emit({ code: BuiltinOperator.CONV_2D, inputs: [input, weights, bias], outputs: [y], options, fusable: true });
  }
};

const convTranspose: Converter = (n, c) => {
  if (attrInt(n, 'group', 1) !== 1) throw new UnsupportedError('grouped ConvTranspose in a TFLite file', `node '${n.name}'`);
  if (c.constantOf(n.inputs[1]!)?.rank === 5) return convTranspose3d(n, c);
  const x = c.tensor(n.inputs[0]!);
  const wName = c.tensor(n.inputs[1]!);
  const w = c.info(wName);
  const wData = constant(n, c, 1, 'weights');
  const layout = attrString(n, 'kernel_layout', 'HWOI');
  const ohwi = layout === 'OHWI' ? wData : permuteTensor(wData, [2, 0, 1, 3]);
  const weights = layout === 'OHWI' ? wName : c.addConstant(`${wName}_ohwi`, ohwi, requantAxis(w.quant, 0), wName);
  const [o, kh, kw] = ohwi.shape as [number, number, number, number];
  const y = c.tensor(n.outputs[0]!);
  const out = c.shapeOf(y);
  const inShape = c.shapeOf(x);
  const strides = attrInts(n, 'strides', [1, 1]);
  if (attrInts(n, 'dilations', [1, 1]).some((d) => d !== 1)) throw new UnsupportedError('dilated ConvTranspose in a TFLite file', `node '${n.name}'`);
  const pads = attrInts(n, 'pads', [0, 0, 0, 0]);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  // TRANSPOSE_CONV derives its padding from output_shape: VALID pads nothing, SAME centres (extra at the end)
  // over an open H / W the output size is ONNX's (in - 1)·s + k - pads + output_padding (no output_shape), for any input size
  const openHw = [1, 2].some((a) => c.info(x).signature?.[a] === -1);
  if (openHw && n.attrs.output_shape) throw new UnsupportedError('ConvTranspose with output_shape over a height / width known only at run time in a TFLite file', `node '${n.name}'`);
  const outputPadding = attrInts(n, 'output_padding', [0, 0]);
  const outSize = (i: number, k: number): number => (openHw ? (inShape[1 + i]! - 1) * strides[i]! + k - pads[i]! - pads[i + 2]! + outputPadding[i]! : out[1 + i]!);
  const valid = autoPad === 'VALID' || (autoPad === 'NOTSET' && pads.every((p) => p === 0) && outSize(0, kh) === (inShape[1]! - 1) * strides[0]! + kh && outSize(1, kw) === (inShape[2]! - 1) * strides[1]! + kw);
  const sameFits = [0, 1].every((i) => {
    const k = i === 0 ? kh : kw;
    const total = Math.max((inShape[1 + i]! - 1) * strides[i]! + k - outSize(i, k), 0);
    return autoPad === 'SAME_UPPER' || (pads[i] === Math.floor(total / 2) && pads[i + 2] === total - Math.floor(total / 2));
  });
  if (!valid && !sameFits) throw new UnsupportedError('ConvTranspose padding TFLite cannot express', `node '${n.name}': pads [${pads.join(', ')}]`);
  const padding = valid ? Padding.VALID : Padding.SAME;
  // a dynamic batch: output_shape packed from the input's batch at run time, as TF's converter writes it
  // open H / W: SHAPE(x) · [1, sh, sw, 0] + [0, eh, ew, O], ONNX's output size for any input size (e = k - s - pads + output_padding)
  const sig = c.info(x).signature;
  let outShape: string;
  if (sig?.[1] === -1 || sig?.[2] === -1) {
    const i32 = (what: string) => c.addTensor(`${y}_${what}`, { name: '', dtype: 'int32', shape: [4] });
    const full = i32('input_shape');
    c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
    const scaled = i32('scaled_shape');
    c.emit({ code: BuiltinOperator.MUL, inputs: [full, c.addConstant(`${y}_shape_scale`, int32([1, strides[0]!, strides[1]!, 0]))], outputs: [scaled], options: (b) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, ActivationFunctionType.NONE)] });
    outShape = i32('output_shape');
    const extra = [outSize(0, kh) - inShape[1]! * strides[0]!, outSize(1, kw) - inShape[2]! * strides[1]!];
    c.emit({ code: BuiltinOperator.ADD, inputs: [scaled, c.addConstant(`${y}_shape_offset`, int32([0, extra[0]!, extra[1]!, out[3]!]))], outputs: [outShape], options: (b) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, ActivationFunctionType.NONE, false)] });
  } else outShape = sig?.[0] === -1 ? packedBatchShape(c, x, y, out) : c.addConstant(`${y}_output_shape`, int32(out));
  const inputs = [outShape, weights, x];
  if (n.inputs[2]) inputs.push(c.tensor(n.inputs[2]));
  else if (o) inputs.push(zeroBias(c, y, x, c.info(weights), o));
  const options: Opts = (b, act) => [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(b, padding, strides[1]!, strides[0]!, act, TensorType.FLOAT32)];
  // not fusable: TransposeConvOptions' fused_activation_function is newer than many runtimes, and
  // they ignore it silently (the interpreter in @tensorflow/tfjs-tflite does: a RELU folded in is lost)
  c.emit({ code: BuiltinOperator.TRANSPOSE_CONV, inputs, outputs: [y], options, fusable: false });
};

/** A 3-D conv's channels-last input, with no dim known only at run time (the 3-D ops here are written for fixed sizes). */
function fixed3d(n: Node, c: WriteContext, x: string): number[] {
  const info = c.info(x);
  if (info.shape.length !== 5) throw new ShapeError(`node '${n.name}': a 3-D ${n.opType} of a rank-${info.shape.length} value`);
  if (info.signature?.some((d) => d === -1)) throw new UnsupportedError(`3-D ${n.opType} of a value with dims known only at run time in a TFLite file`, `node '${n.name}' in ${c.file}: give the input's size with --input-shape`);
  if (info.quant || info.dtype !== 'float32') throw new UnsupportedError(`3-D ${n.opType} of ${info.quant ? 'quantized' : info.dtype} data in a TFLite file`, `node '${n.name}' in ${c.file}: TFLite's CONV_3D / CONV_3D_TRANSPOSE run float32 only`);
  return info.shape;
}

/** A 3-D conv's input (its fixed shape) and float weights: TFLite's 3-D convs run float32 only. */
function conv3dOperands(n: Node, c: WriteContext, op: string, builtin: string): { x: string; inShape: number[]; wName: string; wData: Tensor } {
  const x = c.tensor(n.inputs[0]!);
  const inShape = fixed3d(n, c, x);
  const wName = c.tensor(n.inputs[1]!);
  const wData = constant(n, c, 1, 'weights');
  if (c.info(wName).quant) throw new UnsupportedError(`3-D ${op} with quantized weights in a TFLite file`, `node '${n.name}': TFLite's ${builtin} runs float32 only`);
  return { x, inShape, wName, wData };
}

const conv3dOptions = (pad: Padding, strides: number[], dilations: number[]): Opts => (b, act) => [BuiltinOptions.Conv3DOptions, Conv3DOptions.createConv3DOptions(b, pad, strides[0]!, strides[2]!, strides[1]!, act, dilations[0]!, dilations[2]!, dilations[1]!)];

/**
 * Conv over 3 spatial dims (NDHWC) as CONV_3D, its weights [kD, kH, kW, I, O] (TF's DHWIO; the
 * layout pass gives O, kD, kH, kW, I); pads TF's SAME does not give are an explicit PAD + VALID.
 * TFLite's CONV_3D has no groups.
 */
function conv3d(n: Node, c: WriteContext): void {
  const { x, inShape, wName, wData } = conv3dOperands(n, c, 'Conv', 'CONV_3D');
  const layout = attrString(n, 'kernel_layout', 'HWIO');
  if (attrInt(n, 'group', 1) !== 1) throw new UnsupportedError('grouped 3-D Conv in a TFLite file', `node '${n.name}': TFLite's CONV_3D has no groups`);
  // OHWI (O, kD, kH, kW, I) or HWIO (kD, kH, kW, I, O) -> DHWIO
  const dhwio = layout === 'OHWI' ? permuteTensor(wData, [1, 2, 3, 4, 0]) : layout === 'HWIO' ? wData : undefined;
  if (!dhwio) throw new ShapeError(`node '${n.name}': kernel_layout '${layout}'`);
  const [kd, kh, kw, , o] = dhwio.shape as number[];
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1, 1]);
  const y = c.tensor(n.outputs[0]!);
  const sp = spatialPadding(n, inShape, [kd!, kh!, kw!], strides, dilations, c.shapeOf(y));
  const input = sp.explicit ? padSpatial(c, x, sp.explicit) : x;
  const weights = layout === 'HWIO' ? wName : c.addConstant(`${wName}_dhwio`, dhwio, undefined, wName);
  const bias = n.inputs[2] ? c.tensor(n.inputs[2]) : c.addConstant(`${y}_bias`, Tensor.float32([o!]), undefined, wName);
  c.emit({ code: BuiltinOperator.CONV_3D, inputs: [input, weights, bias], outputs: [y], options: conv3dOptions(sp.padding, strides, dilations), fusable: true });
}

/**
 * ConvTranspose over 3 spatial dims as CONV_3D_TRANSPOSE (output_shape, weights [kD, kH, kW, O, I],
 * input, bias), VALID or TF's SAME as its output size asks; other pads were made VALID + a crop
 * (conv-transpose-valid.ts). Not dilated, no groups.
 */
function convTranspose3d(n: Node, c: WriteContext): void {
  const { x, inShape, wName, wData } = conv3dOperands(n, c, 'ConvTranspose', 'CONV_3D_TRANSPOSE');
  if (attrInts(n, 'dilations', [1, 1, 1]).some((d) => d !== 1)) throw new UnsupportedError('dilated 3-D ConvTranspose in a TFLite file', `node '${n.name}'`);
  const layout = attrString(n, 'kernel_layout', 'HWOI');
  // OHWI (O, kD, kH, kW, I) or HWOI (kD, kH, kW, O, I) -> DHWOI
  const dhwoi = layout === 'OHWI' ? permuteTensor(wData, [1, 2, 3, 0, 4]) : layout === 'HWOI' ? wData : undefined;
  if (!dhwoi) throw new ShapeError(`node '${n.name}': kernel_layout '${layout}'`);
  const k = dhwoi.shape.slice(0, 3) as number[];
  const o = dhwoi.shape[3]!;
  const y = c.tensor(n.outputs[0]!);
  const out = c.shapeOf(y);
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  const pads = attrInts(n, 'pads', [0, 0, 0, 0, 0, 0]);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  // TFLite derives the padding from output_shape: VALID pads nothing, SAME centres (extra at the end)
  const totals = [0, 1, 2].map((i) => (inShape[1 + i]! - 1) * strides[i]! + k[i]! - out[1 + i]!);
  const valid = autoPad === 'VALID' || (autoPad === 'NOTSET' && totals.every((t) => t === 0) && pads.every((p) => p === 0));
  const same = autoPad === 'SAME_UPPER' || totals.every((t, i) => t >= 0 && pads[i] === Math.floor(t / 2) && pads[i + 3] === t - Math.floor(t / 2));
  if (!valid && !same) throw new UnsupportedError('3-D ConvTranspose padding TFLite cannot express', `node '${n.name}': pads [${pads.join(', ')}]`);
  const weights = layout === 'HWOI' ? wName : c.addConstant(`${wName}_dhwoi`, dhwoi, undefined, wName);
  const inputs = [c.addConstant(`${y}_output_shape`, int32(out)), weights, x];
  inputs.push(n.inputs[2] ? c.tensor(n.inputs[2]) : c.addConstant(`${y}_bias`, Tensor.float32([o]), undefined, wName));
  // (not fusable, as TRANSPOSE_CONV: a runtime that ignores the fused activation would lose it)
  c.emit({ code: BuiltinOperator.CONV_3D_TRANSPOSE, inputs, outputs: [y], options: conv3dOptions(valid ? Padding.VALID : Padding.SAME, strides, [1, 1, 1]), fusable: false });
}

/** A float activation read with int8 weights: TFLite's hybrid kernels quantize it on the fly. */
const hybridInput = (c: WriteContext, x: string, weights: string): boolean => c.info(x).dtype === 'float32' && c.info(weights).dtype === 'int8' && !!c.info(weights).quant;

function fullyConnected(c: WriteContext, x: string, weights: string, bias: string, y: string, keepNumDims: boolean, symmetric?: boolean): void {
  // a hybrid (dynamic-range) FULLY_CONNECTED quantizes its float input per row with a zero point,
  // as TF's converter asks since 2.3 (8 bits for a post-ReLU input, where symmetric gives 7),
  // unless the model read said otherwise (its HybridInputQuantize)
  const asym = hybridInput(c, x, weights) && symmetric !== true;
  // (keep_num_dims read when the file is written: keepDenseDims sets it where it takes a RESHAPE before and after)
  const op: WOp = { code: BuiltinOperator.FULLY_CONNECTED, inputs: [x, weights, bias], outputs: [y], fusable: true, keepNumDims };
  op.options = (b, act) => [BuiltinOptions.FullyConnectedOptions, FullyConnectedOptions.createFullyConnectedOptions(b, act, 0, op.keepNumDims ?? false, asym, TensorType.FLOAT32)];
  c.emit(op);
}

const gemm: Converter = (n, c) => {
  // a computed B, or A transposed: BATCH_MATMUL (write-run-time-weights.ts)
  if (attrInt(n, 'transA', 0) !== 0 || !(n.inputs[1] && c.constantOf(n.inputs[1]))) return gemmGeneral(n, c);
  const symmetric = c.hybridInputSymmetric(n.inputs[0]!);
  const x = c.tensor(n.inputs[0]!);
  const wName = c.tensor(n.inputs[1]!);
  const w = c.info(wName);
  let wData = constant(n, c, 1, 'weights');
  const alpha = attrFloat(n, 'alpha', 1);
  const beta = attrFloat(n, 'beta', 1);
  const transB = attrInt(n, 'transB', 0) === 1;
  let weights = wName;
  if (!transB) {
    wData = permuteTensor(wData, [1, 0]);
    weights = c.addConstant(`${wName}_transposed`, wData, requantAxis(w.quant, 0), wName);
  }
  if (alpha !== 1) {
    if (w.quant) throw new UnsupportedError('quantized Gemm with alpha != 1 in a TFLite file', `node '${n.name}'`);
    weights = c.addConstant(`${wName}_scaled`, new Tensor('float32', wData.shape, wData.toFloat32().map((v) => v * alpha)), undefined, wName);
  }
  const y = c.tensor(n.outputs[0]!);
  const o = wData.shape[0]!;
  let bias: string;
  const cName = n.inputs[2];
  const cData = cName ? c.constantOf(cName) : undefined;
  if (!cName) bias = zeroBias(c, y, x, c.info(weights), o);
  else if (cData && cData.size === o && (beta === 1 || !c.isQuantized(cName))) {
    const t = c.info(c.tensor(cName));
    bias = cData.rank === 1 && beta === 1 ? c.tensor(cName) : c.addConstant(`${cName}_bias`, beta === 1 ? cData.reshape([o]) : new Tensor('float32', [o], cData.toFloat32().map((v) => v * beta)), t.quant, cName);
  } else {
    // a bias that broadcasts (or is computed): FULLY_CONNECTED then ADD
    const mid = c.addTensor(`${y}_matmul`, c.info(y));
    fullyConnected(c, x, weights, zeroBias(c, y, x, c.info(weights), o), mid, false, symmetric);
    if (beta !== 1) throw new UnsupportedError('Gemm with a broadcast bias and beta != 1 in a TFLite file', `node '${n.name}'`);
    c.emit({ code: BuiltinOperator.ADD, inputs: [mid, c.tensor(cName)], outputs: [y], options: (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)], fusable: true });
    return;
  }
  fullyConnected(c, x, weights, bias, y, false, symmetric);
};

const matMul: Converter = (n, c) => {
  const symmetric = c.hybridInputSymmetric(n.inputs[0]!);
  const a = c.tensor(n.inputs[0]!);
  const bData = n.inputs[1] ? c.constantOf(n.inputs[1]) : undefined;
  const y = c.tensor(n.outputs[0]!);
  if (bData && bData.rank === 2) {
    const bName = c.tensor(n.inputs[1]!);
    const weights = c.addConstant(`${bName}_transposed`, permuteTensor(bData, [1, 0]), requantAxis(c.info(bName).quant, 0), bName);
    fullyConnected(c, a, weights, zeroBias(c, y, a, c.info(weights), bData.shape[1]!), y, c.shapeOf(a).length > 2, symmetric);
    return;
  }
  const b = c.tensor(n.inputs[1]!);
  const asym = hybridInput(c, a, b) && symmetric !== true;
  c.emit({ code: BuiltinOperator.BATCH_MATMUL, inputs: [a, b], outputs: [y], options: (bb) => [BuiltinOptions.BatchMatMulOptions, BatchMatMulOptions.createBatchMatMulOptions(bb, false, false, asym)] });
};

function pool(code: BuiltinOperator.MAX_POOL_2D | BuiltinOperator.AVERAGE_POOL_2D): Converter {
  return (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const y = c.tensor(n.outputs[0]!);
    const kernel = attrInts(n, 'kernel_shape', []);
    if (kernel.length === 3) return pool3d(n, c, code);
    if (kernel.length !== 2) throw new UnsupportedError(`${n.opType} over ${kernel.length} dims in a TFLite file`, `node '${n.name}'`);
    const strides = attrInts(n, 'strides', [1, 1]);
    if (attrInts(n, 'dilations', [1, 1]).some((d) => d !== 1)) {
      if (code === BuiltinOperator.MAX_POOL_2D) return dilatedMaxPool(n, c);
      throw new UnsupportedError(`dilated ${n.opType} in a TFLite file`, `node '${n.name}'`);
    }
    const sp = spatialPadding(n, c.shapeOf(x), kernel, strides, [1, 1], c.shapeOf(y), openSpatial(c, x));
    let input = x;
    if (sp.explicit) {
      // max: pad with the lowest value; average: only when the padding counts (count_include_pad)
      if (code === BuiltinOperator.MAX_POOL_2D) input = padSpatial(c, x, sp.explicit, -3.4e38);
      else if (attrInt(n, 'count_include_pad', 0) === 1) input = padSpatial(c, x, sp.explicit);
      else return averagePoolExcludingPads(n, c, x, y, sp.explicit, kernel, strides);
    }
    const options: Opts = (b, act) => [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(b, sp.padding, strides[1]!, strides[0]!, kernel[1]!, kernel[0]!, act)];
    c.emit({ code, inputs: [input], outputs: [y], options, fusable: true });
  };
}

/**
 * A 3-D max / average pool (NDHWC): TFLite has no builtin (MaxPool3D / AveragePool3D are custom
 * ops the interpreter here lacks), and a window over D, H, W is separable: the 2-D pool of
 * [N, D, H·W, C] by (kD, 1) / (sD, 1) over depth, then of [N·D', H, W, C] by (kH, kW) / (sH, sW),
 * reshaped back. Exact for max; for average, a mean of equal-sized means (VALID windows after an
 * explicit PAD, so every window counts the same). Pads: max pads with the lowest float, average
 * only where the padding counts (count_include_pad); ceil_mode as extra end pads (max only).
 */
function pool3d(n: Node, c: WriteContext, code: BuiltinOperator.MAX_POOL_2D | BuiltinOperator.AVERAGE_POOL_2D): void {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const info = c.info(x);
  if (info.shape.length !== 5) throw new ShapeError(`node '${n.name}': a 3-D ${n.opType} of a rank-${info.shape.length} value`);
  if (info.signature?.some((d) => d === -1)) throw new UnsupportedError(`3-D ${n.opType} of a value with dims known only at run time in a TFLite file`, `node '${n.name}' in ${c.file}: give the input's size with --input-shape`);
  if (attrInts(n, 'dilations', [1, 1, 1]).some((d) => d !== 1)) throw new UnsupportedError(`dilated 3-D ${n.opType} in a TFLite file`, `node '${n.name}'`);
  const kernel = attrInts(n, 'kernel_shape', []);
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  const out = c.shapeOf(y);
  const sp = spatialPadding(n, info.shape, kernel, strides, [1, 1, 1], out);
  let input = x;
  if (sp.padding === Padding.SAME || sp.explicit) {
    // SAME's pads, made explicit: the two 2-D pools below are VALID
    const pairs = sp.explicit ?? kernel.map((k, i) => tfSamePads(info.shape[1 + i]!, k, strides[i]!, 1));
    if (code === BuiltinOperator.MAX_POOL_2D) input = padSpatial(c, x, pairs, -3.4e38);
    else if (attrInt(n, 'count_include_pad', 0) === 1 && attrInt(n, 'ceil_mode', 0) === 0) input = padSpatial(c, x, pairs);
    else throw new UnsupportedError('3-D AveragePool with padding that does not count in a TFLite file', `node '${n.name}': written as two 2-D pools, whose windows must all count alike`);
  }
  const [batch, d, h, w, ch] = c.shapeOf(input) as [number, number, number, number, number];
  const [, od, oh, ow] = out as [number, number, number, number, number];
  const t = (what: string, shape: number[]) => c.addTensor(`${y}_${what}`, { ...info, shape, signature: undefined, data: undefined });
  const reshape = (from: string, shape: number[], to: string): string => {
    c.emit({ code: BuiltinOperator.RESHAPE, inputs: [from, c.addConstant(`${to}_shape`, int32(shape))], outputs: [to], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
    return to;
  };
  const pool2d = (from: string, k: number[], st: number[], to: string, fusable: boolean): string => {
    c.emit({ code, inputs: [from], outputs: [to], options: (b, act) => [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(b, Padding.VALID, st[1]!, st[0]!, k[1]!, k[0]!, act)], fusable });
    return to;
  };
  let v = input;
  if (kernel[0]! > 1 || strides[0]! > 1) {
    const flat = reshape(v, [batch, d, h * w, ch], t('depth_rows', [batch, d, h * w, ch]));
    v = pool2d(flat, [kernel[0]!, 1], [strides[0]!, 1], t('depth_pooled', [batch, od, h * w, ch]), false);
  }
  const planes = reshape(v, [batch * od, h, w, ch], t('planes', [batch * od, h, w, ch]));
  const pooled = pool2d(planes, [kernel[1]!, kernel[2]!], [strides[1]!, strides[2]!], t('planes_pooled', [batch * od, oh, ow, ch]), false);
  reshape(pooled, [batch, od, oh, ow, ch], y);
}

function reduce(code: BuiltinOperator, fixedAxes?: (rank: number) => number[], keep?: boolean): Converter {
  return (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const rank = c.shapeOf(x).length;
    let axes = fixedAxes?.(rank);
    if (!axes) axes = n.inputs[1] ? constant(n, c, 1, 'axes').toNumbers() : attrInts(n, 'axes', Array.from({ length: rank }, (_, i) => i));
    const keepDims = keep ?? attrInt(n, 'keepdims', 1) === 1;
    const y = c.tensor(n.outputs[0]!);
    const axesT = c.addConstant(`${y}_axes`, int32(axes.map((a) => normAxis(a, rank))));
    c.emit({ code, inputs: [x, axesT], outputs: [y], options: (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, keepDims)] });
  };
}

export function unary(code: BuiltinOperator, options?: (n: Node) => Opts): Converter {
  return (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const y = c.tensor(n.outputs[0]!);
    c.emit({ code, inputs: [x], outputs: [y], options: options?.(n) });
  };
}

export function binary(code: BuiltinOperator, options?: Opts, fusable = false): Converter {
  return (n, c) => {
    const ins = n.inputs.filter(Boolean).map((i) => c.tensor(i));
    const y = c.tensor(n.outputs[0]!);
    // variadic ONNX Max / Min (one input: a copy, three or more: a chain of the binary op)
    if (ins.length === 1) return c.emit({ code: BuiltinOperator.RESHAPE, inputs: [ins[0]!, c.addConstant(`${y}_shape`, int32(c.info(y).shape))], outputs: [y] });
    if (c.isQuantized(n.outputs[0]!) && ins.length > 2) throw new UnsupportedError(`quantized ${n.opType} of ${ins.length} inputs in a TFLite file`, `node '${n.name}'`);
    let acc = ins[0]!;
    for (let k = 1; k < ins.length; k++) {
      const out = k === ins.length - 1 ? y : c.addTensor(`${y}_partial${k}`, { ...c.info(y), shape: broadcastShape(c.shapeOf(acc), c.shapeOf(ins[k]!)), signature: undefined });
      c.emit({ code, inputs: [acc, ins[k]!], outputs: [out], options, fusable: fusable && out === y });
      acc = out;
    }
  };
}

function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1;
    const z = b[b.length - r + i] ?? 1;
    return x === 1 ? z : x;
  });
}

const clip: Converter = (n, c) => {
  // the bounds are inputs since opset 11, attributes min / max before
  const attr = (name: string) => (n.attrs[name]?.type === 'float' ? attrFloat(n, name, 0) : undefined);
  const computed = (i: number) => !!n.inputs[i] && !c.constantOf(n.inputs[i]!);
  const bound = (i: number, d: number) => (computed(i) ? NaN : n.inputs[i] ? constant(n, c, i, i === 1 ? 'min' : 'max').toNumbers()[0]! : (attr(i === 1 ? 'min' : 'max') ?? d));
  const lo = bound(1, -Infinity);
  const hi = bound(2, Infinity);
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (computed(1) || computed(2)) {
    // bounds fed at run time: MAXIMUM / MINIMUM with the bound tensors (the scalars broadcast)
    if (c.info(x).quant) throw new UnsupportedError('quantized Clip with computed bounds in a TFLite file', `node '${n.name}'`);
    const dtype = c.info(x).dtype;
    const boundOf = (i: number, v: number, what: string) => (computed(i) ? c.tensor(n.inputs[i]!) : c.addConstant(`${y}_${what}_value`, Tensor.scalar(dtype, v)));
    let v = x;
    if (lo > -Infinity || Number.isNaN(lo)) {
      const mid = hi < Infinity || Number.isNaN(hi) ? c.addTensor(`${y}_max`, c.info(y)) : y;
      c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [v, boundOf(1, lo, 'min')], outputs: [mid] });
      v = mid;
    }
    if (hi < Infinity || Number.isNaN(hi)) c.emit({ code: BuiltinOperator.MINIMUM, inputs: [v, boundOf(2, hi, 'max')], outputs: [y] });
    return;
  }
  // no bounds: a copy
  if (lo === -Infinity && hi === Infinity) return identity(n, c);
  if (lo === 0 && hi === 6) return c.emit({ code: BuiltinOperator.RELU6, inputs: [x], outputs: [y] });
  if (lo === -1 && hi === 1) return c.emit({ code: BuiltinOperator.RELU_N1_TO_1, inputs: [x], outputs: [y] });
  if (lo === 0 && hi === Infinity) return c.emit({ code: BuiltinOperator.RELU, inputs: [x], outputs: [y] });
  const xq = c.info(x).quant;
  if (xq) {
    // (an L2 normalisation's Clip(min = eps) of the norm: SSD300-VGG16's conv4_3 scaling) MAXIMUM / MINIMUM compare the
    // bytes: the bounds rounded onto x's grid (exactly Q(clip(DQ(x))) on x's parameters), then a QUANTIZE to y's if they differ
    const yq = c.info(y).quant;
    const dtype = c.info(x).dtype;
    if (xq.scale.length !== 1 || xq.axis !== undefined || !yq || (dtype !== 'int8' && dtype !== 'uint8' && dtype !== 'int16')) throw new UnsupportedError(`quantized Clip with bounds other than ReLU/ReLU6/ReLU1 of a per-channel or ${dtype} tensor in a TFLite file`, `node '${n.name}'`);
    const [qmin, qmax] = dtype === 'int8' ? [-128, 127] : dtype === 'uint8' ? [0, 255] : [-32768, 32767];
    const q = (v: number) => Math.min(qmax, Math.max(qmin, Math.round(v / xq.scale[0]! + xq.zeroPoint[0]!)));
    const same = yq.scale.length === 1 && yq.scale[0] === xq.scale[0] && yq.zeroPoint[0] === xq.zeroPoint[0];
    const last = same ? y : c.addTensor(`${y}_clipped`, { ...c.info(x), name: '' });
    let v = x;
    if (lo > -Infinity) {
      const mid = hi < Infinity ? c.addTensor(`${y}_max`, { ...c.info(x), name: '' }) : last;
      c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [v, c.addConstant(`${y}_min_value`, Tensor.scalar(dtype, q(lo)), xq)], outputs: [mid] });
      v = mid;
    }
    if (hi < Infinity) c.emit({ code: BuiltinOperator.MINIMUM, inputs: [v, c.addConstant(`${y}_max_value`, Tensor.scalar(dtype, q(hi)), xq)], outputs: [last] });
    if (!same) c.emit({ code: BuiltinOperator.QUANTIZE, inputs: [last], outputs: [y] });
    return;
  }
  let v = x;
  // the bounds in x's type (an int8 Clip's MAXIMUM takes int8 bounds)
  const dtype = c.info(x).dtype;
  if (lo > -Infinity) {
    const mid = hi < Infinity ? c.addTensor(`${y}_max`, c.info(y)) : y;
    c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [v, c.addConstant(`${y}_min_value`, Tensor.scalar(dtype, lo))], outputs: [mid] });
    v = mid;
  }
  if (hi < Infinity) c.emit({ code: BuiltinOperator.MINIMUM, inputs: [v, c.addConstant(`${y}_max_value`, Tensor.scalar(dtype, hi))], outputs: [y] });
};

/**
 * A Reshape to a target computed when the model runs (x.view(b, c, h * w) over dynamic dims): RESHAPE
 * reads it as a tensor, CAST to int32. ONNX's 0 copies the input's dim there (unless allowzero),
 * TFLite's is a zero-size dim: a SELECT_V2 of the input's dims (SHAPE) where the target holds 0.
 */
function reshapeComputed(n: Node, c: WriteContext, x: string, y: string): void {
  const given = c.tensor(n.inputs[1]!);
  const { dtype, shape: ts } = c.info(given);
  const where = `node '${n.name}' in ${c.file}`;
  if ((dtype !== 'int64' && dtype !== 'int32') || ts.length !== 1) throw new UnsupportedError(`Reshape to a computed ${dtype} target of shape [${ts.join(', ')}] in a TFLite file`, where);
  const k = ts[0]!;
  const at = (what: string, shape: number[], dt: 'int32' | 'int64' | 'bool' = 'int32') => c.addTensor(`${y}_${what}`, { name: '', dtype: dt, shape });
  let target = given;
  if (dtype === 'int64') {
    target = at('target', [k]);
    c.emit({ code: BuiltinOperator.CAST, inputs: [given], outputs: [target] });
  }
  if (!attrInt(n, 'allowzero', 0)) {
    const rank = c.info(x).shape.length;
    const full = at('input_shape', [rank]);
    c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
    // the input's dims at the target's positions (a 0 past the input's rank: ONNX has no dim to copy, so it stays 0)
    let dims = full;
    if (k !== rank) {
      dims = at('input_dims', [k]);
      if (k < rank) c.emit({ code: BuiltinOperator.SLICE, inputs: [full, c.addConstant(`${y}_dims_begin`, int32([0])), c.addConstant(`${y}_dims_size`, int32([k]))], outputs: [dims] });
      else c.emit({ code: BuiltinOperator.CONCATENATION, inputs: [full, c.addConstant(`${y}_dims_rest`, int32(new Array<number>(k - rank).fill(0)))], outputs: [dims], options: (b) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, 0, ActivationFunctionType.NONE)] });
    }
    const copies = at('copies', [k], 'bool');
    c.emit({ code: BuiltinOperator.EQUAL, inputs: [target, c.addConstant(`${y}_zero`, int32([0]))], outputs: [copies] });
    const resolved = at('resolved_shape', [k]);
    c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [copies, dims, target], outputs: [resolved] });
    target = resolved;
  }
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, target], outputs: [y] });
}

/** Unsqueeze of a value with several dynamic dims (no RESHAPE target can hold them): one EXPAND_DIMS per new axis, in ascending order. */
function unsqueezeAsExpandDims(n: Node, c: WriteContext, x: string, y: string, rank: number): void {
  const given = n.inputs[1] ? constant(n, c, 1, 'axes').toNumbers() : attrInts(n, 'axes', []);
  const axes = given.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
  const from = c.info(x);
  let shape = [...from.shape];
  let signature = [...(from.signature ?? from.shape)];
  let cur = x;
  axes.forEach((axis, i) => {
    shape = [...shape.slice(0, axis), 1, ...shape.slice(axis)];
    signature = [...signature.slice(0, axis), 1, ...signature.slice(axis)];
    const out = i === axes.length - 1 ? y : c.addTensor(`${y}_expanded${i}`, { ...from, name: '', shape, signature });
    c.emit({ code: BuiltinOperator.EXPAND_DIMS, inputs: [cur, c.addConstant(`${y}_axis${i}`, new Tensor('int32', [], Int32Array.of(axis)))], outputs: [out] });
    cur = out;
  });
}

/** Flatten of a value with several dynamic dims: RESHAPE to the products of its SHAPE's two sides of the axis (a product of no dims is 1). */
function flattenComputed(n: Node, c: WriteContext, x: string, y: string): void {
  const rank = c.info(x).shape.length;
  const axis = normAxis(attrInt(n, 'axis', 1), rank);
  const i32 = (what: string, shape: number[]) => c.addTensor(`${y}_${what}`, { name: '', dtype: 'int32', shape });
  const full = i32('input_shape', [rank]);
  c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
  const side = (what: string, begin: number, size: number): string => {
    if (size === 0) return c.addConstant(`${y}_${what}`, int32([1]));
    const dims = i32(`${what}_dims`, [size]);
    c.emit({ code: BuiltinOperator.SLICE, inputs: [full, c.addConstant(`${y}_${what}_begin`, int32([begin])), c.addConstant(`${y}_${what}_size`, int32([size]))], outputs: [dims], options: (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)] });
    if (size === 1) return dims;
    const prod = i32(what, [1]);
    c.emit({ code: BuiltinOperator.REDUCE_PROD, inputs: [dims, c.addConstant(`${y}_${what}_axis`, int32([0]))], outputs: [prod], options: (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, true)] });
    return prod;
  };
  const target = i32('target', [2]);
  c.emit({ code: BuiltinOperator.CONCATENATION, inputs: [side('outer', 0, axis), side('inner', axis, rank - axis)], outputs: [target], options: (b) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, 0, ActivationFunctionType.NONE)] });
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, target], outputs: [y] });
}

const reshapeTo: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (n.opType === 'Reshape' && n.inputs[1] && !c.constantOf(n.inputs[1])) return reshapeComputed(n, c, x, y);
  const info = c.info(y);
  // the inferred output shape, -1 where it is dynamic (one such dim at most)
  const shape = info.signature ? info.signature : info.shape;
  const dyn = shape.filter((d) => d === -1).length;
  if (dyn > 1 && n.opType === 'Unsqueeze') return unsqueezeAsExpandDims(n, c, x, y, shape.length);
  if (dyn > 1 && n.opType === 'Flatten') return flattenComputed(n, c, x, y);
  // a constant target that copies the input's run-time dims by 0 (the layout pass's, of a Reshape whose
  // output shape inference relates to its input's: a channel split keeping h, w) resolves them from SHAPE
  if (dyn > 1 && n.opType === 'Reshape' && n.inputs[1] && !attrInt(n, 'allowzero', 0) && c.constantOf(n.inputs[1])?.toNumbers().includes(0)) return reshapeComputed(n, c, x, y);
  if (dyn > 1) throw new UnsupportedError('Reshape with several dynamic dims in a TFLite file', `node '${n.name}'`);
  const shapeT = c.addConstant(`${y}_shape`, int32(shape));
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, shapeT], outputs: [y], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
};

const squeeze: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const inShape = c.info(x).signature ?? c.shapeOf(x);
  const rank = inShape.length;
  const given = n.inputs[1] ? constant(n, c, 1, 'axes').toNumbers() : n.attrs.axes ? attrInts(n, 'axes', []) : undefined;
  // no axes: every dim of size 1 that is not dynamic
  const axes = given ? given.map((a) => normAxis(a, rank)) : inShape.flatMap((d, i) => (d === 1 ? [i] : []));
  const y = c.tensor(n.outputs[0]!);
  c.emit({ code: BuiltinOperator.SQUEEZE, inputs: [x], outputs: [y], options: (b) => [BuiltinOptions.SqueezeOptions, SqueezeOptions.createSqueezeOptions(b, SqueezeOptions.createSqueezeDimsVector(b, axes))] });
};

const hardSigmoid: Converter = (n, c) => {
  // max(0, min(1, alpha·x + beta)): MUL, ADD, MAXIMUM, MINIMUM
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (c.info(x).quant) throw new UnsupportedError('quantized HardSigmoid in a TFLite file', `node '${n.name}'`);
  const like = c.info(y);
  const steps = ['scaled', 'shifted', 'floor'].map((s) => c.addTensor(`${y}_${s}`, like));
  const k = (name: string, v: number) => c.addConstant(`${y}_${name}`, Tensor.float32([], [v]));
  c.emit({ code: BuiltinOperator.MUL, inputs: [x, k('alpha', attrFloat(n, 'alpha', 0.2))], outputs: [steps[0]!], options: (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)] });
  c.emit({ code: BuiltinOperator.ADD, inputs: [steps[0]!, k('beta', attrFloat(n, 'beta', 0.5))], outputs: [steps[1]!], options: (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)] });
  c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [steps[1]!, k('zero', 0)], outputs: [steps[2]!] });
  c.emit({ code: BuiltinOperator.MINIMUM, inputs: [steps[2]!, k('one', 1)], outputs: [y] });
};

const transpose: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const perm = attrInts(n, 'perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
  const y = c.tensor(n.outputs[0]!);
  // TF's op_version.cc: a 5-D TRANSPOSE is version 4, a 6-D one version 6 (TFLite 2.12 on; older runtimes take up to 5-D)
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [x, c.addConstant(`${y}_perm`, int32(perm))], outputs: [y], version: rank > 5 ? 6 : rank === 5 ? 4 : undefined });
};

const pad: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  if (n.inputs[3]) throw new UnsupportedError('Pad with axes in a TFLite file', `node '${n.name}'`);
  const y = c.tensor(n.outputs[0]!);
  const computed = n.inputs[1] && !c.constantOf(n.inputs[1]) ? c.tensor(n.inputs[1]) : undefined;
  let padsT: string;
  if (computed) padsT = computedPaddings(n, c, computed, rank);
  else {
    const pads = n.inputs[1] ? constant(n, c, 1, 'pads').toNumbers() : attrInts(n, 'pads', []);
    if (pads.some((p) => p < 0)) throw new UnsupportedError('Pad with negative pads in a TFLite file', `node '${n.name}'`);
    const paddings = new Int32Array(2 * rank);
    for (let i = 0; i < rank; i++) {
      paddings[2 * i] = pads[i]!;
      paddings[2 * i + 1] = pads[i + rank]!;
    }
    padsT = c.addConstant(`${y}_paddings`, new Tensor('int32', [rank, 2], paddings));
  }
  const mode = attrString(n, 'mode', 'constant');
  if (mode === 'reflect' || mode === 'edge') {
    if (mode === 'edge') {
      if (computed) throw new UnsupportedError('Pad mode edge with computed pads in a TFLite file', `node '${n.name}'`);
      return edgePad(n, c, x, y, n.inputs[1] ? constant(n, c, 1, 'pads').toNumbers() : attrInts(n, 'pads', []));
    }
    c.emit({ code: BuiltinOperator.MIRROR_PAD, inputs: [x, padsT], outputs: [y], options: (b) => [BuiltinOptions.MirrorPadOptions, MirrorPadOptions.createMirrorPadOptions(b, MirrorPadMode.REFLECT)] });
    return;
  }
  // a value fed at run time: PADV2 reads it as it is
  if (n.inputs[2] && !c.constantOf(n.inputs[2])) {
    if (c.info(x).quant) throw new UnsupportedError('Pad of quantized data with a value computed at run time in a TFLite file', `node '${n.name}'`);
    c.emit({ code: BuiltinOperator.PADV2, inputs: [x, padsT, c.tensor(n.inputs[2])], outputs: [y] });
    return;
  }
  // the constant value is input 2 since opset 11, attribute value before (a real value: a quantized tensor's goes on its grid below)
  const valueAttr = attrFloat(n, 'value', 0);
  const value = n.inputs[2] ? c.constantOf(n.inputs[2]) : valueAttr !== 0 ? Tensor.scalar(c.info(x).quant ? 'float32' : c.info(x).dtype, valueAttr) : undefined;
  const q = c.info(x).quant;
  if (value && q) {
    // quantized: PAD fills with the zero point (0.0); any other value is PADV2 with it on the tensor's grid
    const v = value.toNumbers()[0]!;
    const [lo, hi] = c.info(x).dtype === 'int16' ? [-32768, 32767] : [-128, 127];
    const raw = value.dtype === 'float32' ? Math.min(hi, Math.max(lo, Math.round(v / q.scale[0]!) + q.zeroPoint[0]!)) : v;
    if (raw !== q.zeroPoint[0]) {
      const info = c.info(x);
      const padValue = c.addConstant(`${y}_pad_value`, Tensor.scalar(info.dtype, raw), { scale: [q.scale[0]!], zeroPoint: [q.zeroPoint[0]!] });
      c.emit({ code: BuiltinOperator.PADV2, inputs: [x, padsT, padValue], outputs: [y] });
      return;
    }
  } else if (value && value.toNumbers()[0] !== 0) {
    c.emit({ code: BuiltinOperator.PADV2, inputs: [x, padsT, n.inputs[2] ? c.tensor(n.inputs[2]) : c.addConstant(`${y}_pad_value`, value)], outputs: [y] });
    return;
  }
  c.emit({ code: BuiltinOperator.PAD, inputs: [x, padsT], outputs: [y] });
};

/**
 * ONNX pads computed at run time ([b0.., e0..], F.pad with sizes from the input's shape) as
 * TFLite's [rank, 2] paddings: RESHAPE [2, rank] -> TRANSPOSE -> CAST to int32. (A negative pad,
 * which ONNX reads as a crop, is an error of TFLite's PAD kernel when the model runs.)
 */
function computedPaddings(n: Node, c: WriteContext, pads: string, rank: number): string {
  const y = c.tensor(n.outputs[0]!);
  const dtype = c.info(pads).dtype;
  if (dtype !== 'int64' && dtype !== 'int32') throw new UnsupportedError(`Pad with ${dtype} pads in a TFLite file`, `node '${n.name}'`);
  const at = (what: string, shape: number[], dt: 'int32' | 'int64' = dtype) => c.addTensor(`${y}_${what}`, { name: '', dtype: dt, shape });
  const rows = at('pads_rows', [2, rank]);
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [pads, c.addConstant(`${y}_pads_shape`, int32([2, rank]))], outputs: [rows], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, [2, rank]))] });
  const pairs = at(dtype === 'int32' ? 'paddings' : 'paddings_int64', [rank, 2]);
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [rows, c.addConstant(`${y}_pads_perm`, int32([1, 0]))], outputs: [pairs] });
  if (dtype === 'int32') return pairs;
  const paddings = at('paddings', [rank, 2], 'int32');
  c.emit({ code: BuiltinOperator.CAST, inputs: [pairs], outputs: [paddings] });
  return paddings;
}

const resize: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const rank = c.shapeOf(x).length;
  if (rank !== 4) throw new UnsupportedError(`Resize of a rank-${rank} tensor in a TFLite file (RESIZE_* take 4-D NHWC data)`, `node '${n.name}'`);
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const given = n.domain ? [] : n.opType === 'Upsample' || n.inputs.length === 2 ? [n.inputs[1]] : [n.inputs[2], n.inputs[3]];
  const fed = given.find((v) => v && !c.constantOf(v));
  const openHw = [1, 2].some((a) => c.info(x).signature?.[a] === -1);
  if (fed || openHw) return resizeAtRunTime(n, c, fed);
  const out = c.shapeOf(y);
  const inShape = c.shapeOf(x);
  if (out[0] !== inShape[0] || out[3] !== inShape[3]) throw new UnsupportedError('Resize of the batch or channel dims in a TFLite file', `node '${n.name}'`);
  // ONNX maps coordinates by the given scale, TFLite by in / out size: the same only where in · scale is whole
  const scales = resizeScales(n, c);
  if (scales) {
    for (const a of [1, 2]) {
      if (Math.abs(inShape[a]! * scales[a]! - out[a]!) > 1e-5 * out[a]!) {
        throw new UnsupportedError(`Resize by a scale that does not give a whole output size in a TFLite file`, `node '${n.name}': ${inShape[a]} x ${scales[a]} (TFLite's resize maps coordinates by the output size ${out[a]})`);
      }
    }
  }
  const size = c.addConstant(`${y}_size`, int32([out[1]!, out[2]!]));
  const align = ctm === 'align_corners';
  // the source pixel (nearest) or coordinate (linear) of every output row and column, as ONNX and as the TFLite kernel map them, for the sizes written
  // (no coordinate_transformation_mode attribute: Upsample / Resize-10 map asymmetric + floor, Resize-11+ half_pixel + round_prefer_floor; both must agree)
  const readings = (nearestMode?: string): Array<[string, string | undefined]> =>
    n.attrs.coordinate_transformation_mode ? [[ctm, nearestMode]] : [[ctm, nearestMode], ['asymmetric', nearestMode === undefined ? undefined : n.attrs.nearest_mode ? nearestMode : 'floor']];
  const mapsAlike = (nearestMode: string | undefined, a: boolean, h: boolean): boolean => readings(nearestMode).every(([t, m]) => [1, 2].every((d) => resizeMapsAlike(t, m, inShape[d]!, out[d]!, a, h)));
  const sameMapping = (half: boolean, nearestMode?: string): boolean => mapsAlike(nearestMode, align, half);
  if (mode === 'linear') {
    const half = ctm === 'half_pixel' || ctm === 'pytorch_half_pixel';
    if (!align && !half && ctm !== 'asymmetric') throw new UnsupportedError(`Resize linear with ${ctm} in a TFLite file`, `node '${n.name}'`);
    if (!sameMapping(half)) throw new UnsupportedError(`Resize linear with ${ctm} from ${inShape[1]}x${inShape[2]} to ${out[1]}x${out[2]} in a TFLite file`, `node '${n.name}': TFLite's RESIZE_BILINEAR samples other coordinates for these sizes`);
    c.emit({ code: BuiltinOperator.RESIZE_BILINEAR, inputs: [x, size], outputs: [y], options: (b) => [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, align, half)] });
    return;
  }
  if (mode !== 'nearest') throw new UnsupportedError(`Resize mode ${mode} in a TFLite file`, `node '${n.name}'`);
  const nearest = attrString(n, 'nearest_mode', 'round_prefer_floor');
  // TFLite's (align_corners, half_pixel_centers) whose pixel picks equal ONNX's for these sizes, the mode's own first
  const own: [boolean, boolean] = [align, ctm === 'tf_half_pixel_for_nn' || ctm === 'half_pixel'];
  const flags = [own, [false, false], [false, true], [true, false]].find(([a, h]) => mapsAlike(nearest, a!, h!));
  if (!flags) throw new UnsupportedError(`Resize nearest with ${ctm}/${nearest} from ${inShape[1]}x${inShape[2]} to ${out[1]}x${out[2]} in a TFLite file`, `node '${n.name}': TFLite's RESIZE_NEAREST_NEIGHBOR picks other pixels for these sizes`);
  const [alignNn, half] = flags as [boolean, boolean];
  c.emit({ code: BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, inputs: [x, size], outputs: [y], options: (b) => [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, alignNn, half)] });
};

/**
 * A Resize whose output size is known only when the model runs: sizes computed in the graph (a
 * UNet decoder's F.interpolate(size=skip.shape[-2:]), NHWC after the layout pass's Gather: their
 * H, W by STRIDED_SLICE and CAST), or whole constant scales of an input with open H / W (SHAPE ->
 * STRIDED_SLICE -> MUL). Written only where TFLite's kernel maps coordinates as ONNX does for every
 * size (it maps by in / out: the same as a whole scale, or given sizes): linear with half_pixel,
 * align_corners or asymmetric, nearest with asymmetric + floor (PyTorch's 'nearest'). The batch
 * and channels were checked to stay when the sizes were left computed (write.ts foldWithOpenDims).
 */
function resizeAtRunTime(n: Node, c: WriteContext, fed: string | undefined): void {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const mode = attrString(n, 'mode', 'nearest');
  // no coordinate_transformation_mode: Upsample / Resize-10 map asymmetric + floor
  const legacy = n.opType === 'Upsample' || n.inputs.length === 2 || !!n.domain;
  const ctm = legacy && !n.attrs.coordinate_transformation_mode ? 'asymmetric' : attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = legacy && !n.attrs.nearest_mode ? 'floor' : attrString(n, 'nearest_mode', 'round_prefer_floor');
  const where = `node '${n.name}' in ${c.file}`;
  const i32 = (what: string, shape: number[], dtype: 'int32' | 'int64' = 'int32') => c.addTensor(`${y}_${what}`, { name: '', dtype, shape });
  // [N, H, W, C] -> [H, W]
  const slice = (from: string, what: string): string => {
    const hw = i32(what, [2], c.info(from).dtype === 'int64' ? 'int64' : 'int32');
    c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs: [from, c.addConstant(`${y}_begin`, int32([1])), c.addConstant(`${y}_end`, int32([3])), c.addConstant(`${y}_strides`, int32([1]))], outputs: [hw], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)] });
    return hw;
  };
  let size: string;
  if (fed) {
    if (fed !== n.inputs[3] || (n.inputs[2] && c.constantOf(n.inputs[2])?.size)) throw new UnsupportedError('Resize with scales computed at run time in a TFLite file', `${where}: '${fed}' (TFLite's resize takes an output size; sizes computed at run time are written)`);
    const sizes = c.tensor(fed);
    if (c.info(sizes).dtype !== 'int64' && c.info(sizes).dtype !== 'int32') throw new UnsupportedError(`Resize sizes of ${c.info(sizes).dtype} in a TFLite file`, where);
    const hw = slice(sizes, c.info(sizes).dtype === 'int32' ? 'size' : 'size_int64');
    if (c.info(sizes).dtype === 'int32') size = hw;
    else {
      size = i32('size', [2]);
      c.emit({ code: BuiltinOperator.CAST, inputs: [hw], outputs: [size] });
    }
  } else {
    const scales = resizeScales(n, c);
    const whole = scales?.slice(1, 3).map((s) => Math.round(s));
    if (!scales || scales[0] !== 1 || scales[3] !== 1 || !whole!.every((k, i) => k >= 1 && k === scales[i + 1])) {
      throw new UnsupportedError(`Resize of a value with a height / width known only at run time by scales [${scales?.join(', ') ?? '?'}] in a TFLite file`, `${where}: only whole scales of H and W keep TFLite's coordinate mapping (it maps by in / out size)`);
    }
    const shape = i32('input_shape', [4]);
    c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [shape], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
    size = i32('size', [2]);
    c.emit({ code: BuiltinOperator.MUL, inputs: [slice(shape, 'input_hw'), c.addConstant(`${y}_scales`, int32(whole!))], outputs: [size], options: (b) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, ActivationFunctionType.NONE)] });
  }
  if (mode === 'linear') {
    const align = ctm === 'align_corners';
    const half = ctm === 'half_pixel';
    if (!align && !half && ctm !== 'asymmetric') throw new UnsupportedError(`Resize linear with ${ctm} to a size known only at run time in a TFLite file`, `${where}: TFLite's RESIZE_BILINEAR maps half_pixel, align_corners and asymmetric as ONNX does for every size`);
    c.emit({ code: BuiltinOperator.RESIZE_BILINEAR, inputs: [x, size], outputs: [y], options: (b) => [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, align, half)] });
    return;
  }
  if (mode !== 'nearest' || ctm !== 'asymmetric' || nearest !== 'floor') {
    throw new UnsupportedError(`Resize ${mode} with ${ctm}${mode === 'nearest' ? `/${nearest}` : ''} to a size known only at run time in a TFLite file`, `${where}: TFLite's RESIZE_NEAREST_NEIGHBOR picks as ONNX for every size only with asymmetric / floor (PyTorch's 'nearest')`);
  }
  c.emit({ code: BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, inputs: [x, size], outputs: [y], options: (b) => [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, false, false)] });
}

/**
 * Whether TFLite's resize kernel (align_corners / half_pixel_centers, float32 arithmetic as its
 * reference kernels) maps each of `outSize` output indices to the source ONNX's
 * coordinate_transformation_mode (and nearest_mode, for nearest) gives, `inSize` to `outSize`.
 */
function resizeMapsAlike(ctm: string, nearestMode: string | undefined, inSize: number, outSize: number, align: boolean, half: boolean): boolean {
  const f = Math.fround;
  const s = outSize / inSize;
  const onnx = (x: number): number => {
    switch (ctm) {
      case 'half_pixel': return (x + 0.5) / s - 0.5;
      case 'pytorch_half_pixel': return outSize > 1 ? (x + 0.5) / s - 0.5 : 0;
      case 'align_corners': return outSize === 1 ? 0 : (x * (inSize - 1)) / (outSize - 1);
      case 'asymmetric': return x / s;
      case 'tf_half_pixel_for_nn': return (x + 0.5) / s;
      default: return NaN;
    }
  };
  const scale = align && outSize > 1 ? f(f(inSize - 1) / f(outSize - 1)) : f(f(inSize) / f(outSize));
  const clamp = (v: number) => Math.min(Math.max(v, 0), inSize - 1);
  for (let x = 0; x < outSize; x++) {
    const v = onnx(x);
    if (Number.isNaN(v)) return false;
    if (nearestMode === undefined) {
      const t = half ? f(f(f(x + 0.5) * scale) - 0.5) : f(x * scale);
      if (Math.abs(clamp(v) - clamp(t)) > 1e-4 * Math.max(1, inSize)) return false;
      continue;
    }
    const frac = v - Math.floor(v);
    const picked = nearestMode === 'floor' ? Math.floor(v) : nearestMode === 'ceil' ? Math.ceil(v) : frac === 0.5 ? (nearestMode === 'round_prefer_floor' ? Math.floor(v) : Math.ceil(v)) : Math.round(v);
    const scaled = f(f(x + (half ? 0.5 : 0)) * scale);
    // TfLiteRound: half away from zero
    let t = Math.min(align ? Math.sign(scaled) * Math.round(Math.abs(scaled)) : Math.floor(scaled), inSize - 1);
    if (half) t = Math.max(0, t);
    if (clamp(picked) !== t) return false;
  }
  return true;
}

/** A plain ONNX Resize's / Upsample's scales (input 2 since opset 11, input 1 or an attribute before); undefined when sizes are given. */
function resizeScales(n: Node, c: WriteContext): number[] | undefined {
  if (n.domain) return undefined;
  if (n.opType === 'Upsample' || n.inputs.length === 2) return n.inputs[1] ? c.constantOf(n.inputs[1])?.toNumbers() : attrFloats(n, 'scales');
  if (n.inputs[3]) return undefined;
  const t = n.inputs[2] ? c.constantOf(n.inputs[2]) : undefined;
  return t && t.size ? t.toNumbers() : undefined;
}

/** SHAPE(x) -> STRIDED_SLICE (the batch, shrunk) -> PACK with the rest of `shape`: an int32 shape whose batch is x's at run time. */
function packedBatchShape(c: WriteContext, x: string, y: string, shape: number[]): string {
  const full = c.addTensor(`${y}_input_shape`, { name: '', dtype: 'int32', shape: [c.shapeOf(x).length] });
  c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
  const batch = c.addTensor(`${y}_batch`, { name: '', dtype: 'int32', shape: [] });
  const one = (v: number, what: string) => c.addConstant(`${y}_${what}`, int32([v]));
  c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs: [full, one(0, 'begin'), one(1, 'end'), one(1, 'strides')], outputs: [batch], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 1, false)] });
  const rest = shape.slice(1).map((d, i) => c.addConstant(`${y}_dim${i + 1}`, new Tensor('int32', [], Int32Array.of(d))));
  const packed = c.addTensor(`${y}_output_shape`, { name: '', dtype: 'int32', shape: [shape.length] });
  c.emit({ code: BuiltinOperator.PACK, inputs: [batch, ...rest], outputs: [packed], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, shape.length, 0)] });
  return packed;
}

/**
 * Slice with starts / ends / axes / steps fed at run time: STRIDED_SLICE of full-rank begin / end /
 * strides tensors built in the graph. A one-hot [k, rank] map of the (wrapped) axes spreads each
 * given value onto its axis: begin = SUM(onehot · starts), end = dims + SUM(onehot · (ends -
 * dims[axes])), strides = 1 + SUM(onehot · (steps - 1)). int64 values are clamped to ±2^30 before
 * the CAST to int32 (an INT64_MAX end, "to the end", stays past any dim); STRIDED_SLICE clamps
 * them to the dim as ONNX does, for either sign of the step. A dynamic-shaped input's dims come from SHAPE.
 */
function computedSlice(n: Node, c: WriteContext): void {
  const x = c.tensor(n.inputs[0]!);
  const info = c.info(x);
  const shape = info.shape;
  const rank = shape.length;
  const y = c.tensor(n.outputs[0]!);
  const i32 = (name: string, s: number[]) => c.addTensor(`${y}_${name}`, { name: '', dtype: 'int32', shape: s });
  const emit = (code: BuiltinOperator, inputs: string[], out: string, options?: Opts) => (c.emit({ code, inputs, outputs: [out], options }), out);
  const k = c.info(c.tensor(n.inputs[1]!)).shape[0]!;
  // an int32 [k] vector of input i (a constant as it is, a computed one clamped and cast)
  const vector = (i: number, what: string): string => {
    const t = c.constantOf(n.inputs[i]!);
    if (t) return c.addConstant(`${y}_${what}`, int32(t.toNumbers().map((v) => Math.max(-(2 ** 30), Math.min(2 ** 30, v)))));
    let v = c.tensor(n.inputs[i]!);
    const vi = c.info(v);
    if (vi.dtype === 'int64') {
      const lo = emit(BuiltinOperator.MAXIMUM, [v, c.addConstant(`${y}_${what}_lowest`, Tensor.int64([], [-(2 ** 30)]))], c.addTensor(`${y}_${what}_above`, { ...vi, quant: undefined }));
      v = emit(BuiltinOperator.MINIMUM, [lo, c.addConstant(`${y}_${what}_highest`, Tensor.int64([], [2 ** 30]))], c.addTensor(`${y}_${what}_clamped`, { ...vi, quant: undefined }));
    }
    return vi.dtype === 'int32' ? v : emit(BuiltinOperator.CAST, [v], i32(`${what}_int32`, [k]));
  };
  const starts = vector(1, 'starts');
  const ends = vector(2, 'ends');
  const axes = n.inputs[3] ? emit(BuiltinOperator.FLOOR_MOD, [vector(3, 'axes'), c.addConstant(`${y}_rank`, new Tensor('int32', [], Int32Array.of(rank)))], i32('axes_wrapped', [k])) : c.addConstant(`${y}_axes`, int32(Array.from({ length: k }, (_, i) => i)));
  const depth = c.addConstant(`${y}_rank_depth`, new Tensor('int32', [], Int32Array.of(rank)));
  const onehot = emit(BuiltinOperator.ONE_HOT, [axes, depth, c.addConstant(`${y}_on`, new Tensor('int32', [], Int32Array.of(1))), c.addConstant(`${y}_off`, new Tensor('int32', [], Int32Array.of(0)))], i32('axis_map', [k, rank]), (b) => [BuiltinOptions.OneHotOptions, OneHotOptions.createOneHotOptions(b, -1)]);
  const column = (v: string, what: string) => emit(BuiltinOperator.RESHAPE, [v, c.addConstant(`${y}_${what}_column_shape`, int32([k, 1]))], i32(`${what}_column`, [k, 1]));
  const spread = (v: string, what: string): string => {
    const m = emit(BuiltinOperator.MUL, [onehot, column(v, what)], i32(`${what}_spread`, [k, rank]), (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)]);
    return emit(BuiltinOperator.SUM, [m, c.addConstant(`${y}_${what}_sum_axis`, int32([0]))], i32(`${what}_full`, [rank]), (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, false)]);
  };
  const add = (a: string, b: string, out: string) => emit(BuiltinOperator.ADD, [a, b], out, (bb, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(bb, act, false)]);
  const sub = (a: string, b: string, out: string) => emit(BuiltinOperator.SUB, [a, b], out, (bb, act) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(bb, act, false)]);
  // a dynamic-shaped input's dims at run time (SHAPE): the detections of an SSD's DetectionOutput
  const dims = info.signature ? emit(BuiltinOperator.SHAPE, [x], i32('dims', [rank]), (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)]) : c.addConstant(`${y}_dims`, int32(shape));
  const begin = spread(starts, 'begin');
  const dimsAt = emit(BuiltinOperator.GATHER, [dims, axes], i32('dims_at_axes', [k]), (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, 0, 0)]);
  const end = add(dims, spread(sub(ends, dimsAt, i32('ends_from_dims', [k])), 'end'), i32('end', [rank]));
  let strides: string;
  if (n.inputs[4]) {
    const less = sub(vector(4, 'steps'), c.addConstant(`${y}_one`, new Tensor('int32', [], Int32Array.of(1))), i32('steps_less_one', [k]));
    strides = add(c.addConstant(`${y}_ones`, int32(new Array<number>(rank).fill(1))), spread(less, 'strides'), i32('strides', [rank]));
  } else strides = c.addConstant(`${y}_strides`, int32(new Array<number>(rank).fill(1)));
  c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs: [x, begin, end, strides], outputs: [y], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)] });
}

const slice: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const shape = c.shapeOf(x);
  const rank = shape.length;
  if ([1, 2, 3, 4].some((i) => n.inputs[i] && !c.constantOf(n.inputs[i]!))) return computedSlice(n, c);
  // (before opset 10: starts / ends / axes attributes)
  const legacy = !n.inputs[1] && !!n.attrs.starts;
  const starts = legacy ? attrInts(n, 'starts', []) : constant(n, c, 1, 'starts').toNumbers();
  const ends = legacy ? attrInts(n, 'ends', []) : constant(n, c, 2, 'ends').toNumbers();
  const axesGiven = legacy ? attrInts(n, 'axes') : n.inputs[3] ? constant(n, c, 3, 'axes').toNumbers() : undefined;
  const axes = axesGiven ? axesGiven.map((a) => normAxis(a, rank)) : starts.map((_, i) => i);
  const steps = n.inputs[4] ? constant(n, c, 4, 'steps').toNumbers() : starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const end = [...shape];
  const stride = new Array<number>(rank).fill(1);
  let beginMask = 0;
  let endMask = 0;
  let reversedToStart = false;
  const signature = c.info(x).signature;
  axes.forEach((a, i) => {
    const d = shape[a]!;
    const st = steps[i]!;
    if (signature?.[a] === -1) {
      // a slice of a dynamic dim (`rel_codes[:, 0::4]` of a box decoder, `x[::-1]` of a sequence of
      // run-time length): the indices as given (STRIDED_SLICE counts a negative one from the end and
      // clamps at run time as ONNX does, to [-1, d - 1] for a negative step), an end past any size
      // (past the start for a negative step) as the end mask
      begin[a] = Math.min(Math.max(starts[i]!, -(2 ** 31)), 2 ** 31 - 1);
      if (st > 0 ? ends[i]! >= 2 ** 31 - 1 : ends[i]! <= -(2 ** 31)) endMask |= 1 << a;
      else end[a] = Math.min(Math.max(ends[i]!, -(2 ** 31)), 2 ** 31 - 1);
      stride[a] = st;
      return;
    }
    const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    begin[a] = st > 0 ? clampIdx(starts[i]!, 0, d) : clampIdx(starts[i]!, -1, d - 1);
    const e = ends[i]!;
    if (st < 0 && e < -d) (endMask |= 1 << a), (reversedToStart = true);
    end[a] = st > 0 ? clampIdx(e, 0, d) : clampIdx(e, -1, d - 1);
    stride[a] = st;
  });
  for (let a = 0; a < rank; a++) if (!axes.includes(a)) beginMask |= 1 << a, endMask |= 1 << a;
  const y = c.tensor(n.outputs[0]!);
  if (stride.every((s) => s === 1) && !reversedToStart && !signature) {
    // unit steps on static dims: SLICE (begin, size)
    const size = begin.map((b, a) => (axes.includes(a) ? Math.max(end[a]! - b, 0) : -1));
    c.emit({ code: BuiltinOperator.SLICE, inputs: [x, c.addConstant(`${y}_begin`, int32(begin)), c.addConstant(`${y}_size`, int32(size))], outputs: [y], options: (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)] });
    return;
  }
  const inputs = [x, c.addConstant(`${y}_begin`, int32(begin)), c.addConstant(`${y}_end`, int32(end)), c.addConstant(`${y}_strides`, int32(stride))];
  c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs, outputs: [y], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, beginMask, endMask, 0, 0, 0, false)] });
};

const split: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  const outs = n.outputs.map((o) => c.tensor(o));
  const sizes = outs.map((o) => c.shapeOf(o)[axis]!);
  const axisT = c.addConstant(`${outs[0]}_axis`, new Tensor('int32', [], Int32Array.of(axis)));
  // (SPLIT has no int64 kernel, SPLIT_V has: an int64 split is written SPLIT_V)
  if (sizes.every((s) => s === sizes[0]) && c.info(x).dtype !== 'int64') {
    c.emit({ code: BuiltinOperator.SPLIT, inputs: [axisT, x], outputs: outs, options: (b) => [BuiltinOptions.SplitOptions, SplitOptions.createSplitOptions(b, outs.length)] });
    return;
  }
  const sizesT = c.addConstant(`${outs[0]}_sizes`, int32(sizes));
  c.emit({ code: BuiltinOperator.SPLIT_V, inputs: [x, sizesT, axisT], outputs: outs, options: (b) => [BuiltinOptions.SplitVOptions, (b.startObject(1), b.addFieldInt32(0, outs.length, 0), b.endObject())] });
};

const concat: Converter = (n, c) => {
  const ins = n.inputs.filter(Boolean).map((i) => c.tensor(i));
  const y = c.tensor(n.outputs[0]!);
  const axis = normAxis(attrInt(n, 'axis', 0), c.shapeOf(y).length);
  c.emit({ code: BuiltinOperator.CONCATENATION, inputs: ins, outputs: [y], options: (b, act) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, axis, act)], fusable: true });
};

const softmax: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const axis = normAxis(attrInt(n, 'axis', -1), rank);
  const opts: Opts = (b) => [BuiltinOptions.SoftmaxOptions, SoftmaxOptions.createSoftmaxOptions(b, 1)];
  // TFLite's SOFTMAX works on the last axis: another one is moved last and back (TRANSPOSEs)
  if (axis !== rank - 1) return overLastAxis(n, c, x, axis, BuiltinOperator.SOFTMAX, opts);
  c.emit({ code: BuiltinOperator.SOFTMAX, inputs: [x], outputs: [c.tensor(n.outputs[0]!)], options: opts });
};

const logSoftmax: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const axis = normAxis(attrInt(n, 'axis', -1), rank);
  const opts: Opts = (b) => [BuiltinOptions.LogSoftmaxOptions, LogSoftmaxOptions.createLogSoftmaxOptions(b)];
  if (axis !== rank - 1) return overLastAxis(n, c, x, axis, BuiltinOperator.LOG_SOFTMAX, opts);
  c.emit({ code: BuiltinOperator.LOG_SOFTMAX, inputs: [x], outputs: [c.tensor(n.outputs[0]!)], options: opts });
};

const gather: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  const idxData = n.inputs[1] ? c.constantOf(n.inputs[1]) : undefined;
  // ONNX counts negative indices from the end (PyTorch's h_n[-1]); TFLite's GATHER refuses them
  const values = idxData?.toNumbers();
  const negative = !!values?.some((v) => v < 0);
  if (negative && c.info(x).signature?.[axis] === -1) {
    // one index counted from the end of a dynamic dim (PyTorch's y[:, -1] over a dynamic sequence): a STRIDED_SLICE dropping the axis
    if (values!.length !== 1 || idxData!.rank !== 0) throw new UnsupportedError('Gather with negative indices along a dynamic dim in a TFLite file', `node '${n.name}'`);
    const at = values![0]!;
    const begin = new Array<number>(rank).fill(0);
    const end = new Array<number>(rank).fill(0);
    begin[axis] = at;
    end[axis] = at + 1;
    const others = ((1 << rank) - 1) & ~(1 << axis);
    // end_mask on the axis too when the slice runs to its end (index -1)
    const endMask = others | (at === -1 ? 1 << axis : 0);
    const y = c.tensor(n.outputs[0]!);
    const inputs = [x, c.addConstant(`${y}_begin`, int32(begin)), c.addConstant(`${y}_end`, int32(end)), c.addConstant(`${y}_strides`, int32(new Array<number>(rank).fill(1)))];
    c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs, outputs: [y], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, others, endMask, 0, 0, 1 << axis, false)] });
    return;
  }
  const dim = c.shapeOf(x)[axis]!;
  const idx = idxData && (idxData.dtype === 'int64' || negative) ? c.addConstant(`${n.inputs[1]}_int32`, new Tensor('int32', idxData.shape, Int32Array.from(values!, (v) => (v < 0 ? v + dim : v)))) : c.tensor(n.inputs[1]!);
  c.emit({ code: BuiltinOperator.GATHER, inputs: [x, idx], outputs: [c.tensor(n.outputs[0]!)], options: (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, axis, 0)] });
};

const quantizeLinear: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (!c.info(y).quant) {
    const s = constant(n, c, 1, 'scale').toNumbers();
    const z = n.inputs[2] ? constant(n, c, 2, 'zero point').toNumbers() : s.map(() => 0);
    c.info(y).quant = { scale: s, zeroPoint: z, axis: s.length > 1 ? attrInt(n, 'axis', 1) : undefined };
  }
  c.emit({ code: BuiltinOperator.QUANTIZE, inputs: [x], outputs: [y] });
};

const dequantizeLinear: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const xi = c.info(x);
  if (!xi.quant) {
    const s = constant(n, c, 1, 'scale').toNumbers();
    const z = n.inputs[2] ? constant(n, c, 2, 'zero point').toNumbers() : s.map(() => 0);
    xi.quant = { scale: s, zeroPoint: z, axis: s.length > 1 ? attrInt(n, 'axis', 1) : undefined };
  }
  c.emit({ code: BuiltinOperator.DEQUANTIZE, inputs: [x], outputs: [c.tensor(n.outputs[0]!)] });
};

const cast: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  // float16 constants decoded to float32 are TFLite's DEQUANTIZE (the float16 quantization mode)
  if (c.info(x).dtype === 'float16' && c.info(y).dtype === 'float32') return c.emit({ code: BuiltinOperator.DEQUANTIZE, inputs: [x], outputs: [y] });
  c.emit({ code: BuiltinOperator.CAST, inputs: [x], outputs: [y] });
};

const identity: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const shape = c.info(y).signature ?? c.info(y).shape;
  if (shape.filter((d) => d === -1).length > 1) {
    // several run-time dims (a graph output a Transpose absorbed into the layout left as a copy): no
    // constant target holds them (the interpreter's RESHAPE fails on two -1s); the input's own SHAPE does
    const full = c.addTensor(`${y}_input_shape`, { name: '', dtype: 'int32', shape: [shape.length] });
    c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
    return c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, full], outputs: [y] });
  }
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(shape))], outputs: [y] });
};

/**
 * PRELU; one slope for every element is LEAKY_RELU (the interpreter's PRELU with a one-element
 * slope, [1] or [1, 1, 1, 1], reads past it: PyTorch's nn.PReLU() gave garbage on the negative
 * side); above 4-D, where PRELU has no kernel, max(x, 0) + slope · min(x, 0).
 */
const prelu: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const rank = c.shapeOf(x).length;
  const k = c.constantOf(n.inputs[1]!);
  const slope = c.tensor(n.inputs[1]!);
  if (k && k.size === 1 && !c.info(slope).quant && !c.info(x).quant) {
    const alpha = k.toNumbers()[0]!;
    return c.emit({ code: BuiltinOperator.LEAKY_RELU, inputs: [x], outputs: [y], options: (b) => [BuiltinOptions.LeakyReluOptions, LeakyReluOptions.createLeakyReluOptions(b, alpha)] });
  }
  if (rank <= 4) return c.emit({ code: BuiltinOperator.PRELU, inputs: [x, slope], outputs: [y] });
  if (c.info(x).quant) throw new UnsupportedError(`quantized PRelu of a ${rank}-D input in a TFLite file`, `node '${n.name}': TFLite's PRELU takes up to 4-D`);
  const like = c.info(y);
  const [pos, neg, scaled] = ['positive', 'negative', 'scaled'].map((s) => c.addTensor(`${y}_${s}`, like));
  const zero = c.addConstant(`${y}_zero`, Tensor.float32([], [0]));
  c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [x, zero], outputs: [pos!] });
  c.emit({ code: BuiltinOperator.MINIMUM, inputs: [x, zero], outputs: [neg!] });
  c.emit({ code: BuiltinOperator.MUL, inputs: [neg!, slope], outputs: [scaled!], options: (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)] });
  c.emit({ code: BuiltinOperator.ADD, inputs: [pos!, scaled!], outputs: [y], options: (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)] });
};

/** ELU is alpha 1; another alpha scales the negative side: max(e, 0) + alpha · min(e, 0) of e = ELU(x). */
const elu: Converter = (n, c) => {
  const alpha = attrFloat(n, 'alpha', 1);
  if (alpha === 1) return unary(BuiltinOperator.ELU)(n, c);
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (c.info(x).quant) throw new UnsupportedError(`quantized Elu with alpha ${alpha} in a TFLite file`, `node '${n.name}'`);
  const like = c.info(y);
  const [e, pos, neg, scaled] = ['elu', 'positive', 'negative', 'scaled'].map((s) => c.addTensor(`${y}_${s}`, like));
  const zero = c.addConstant(`${y}_zero`, Tensor.float32([], [0]));
  c.emit({ code: BuiltinOperator.ELU, inputs: [x], outputs: [e!] });
  c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [e!, zero], outputs: [pos!] });
  c.emit({ code: BuiltinOperator.MINIMUM, inputs: [e!, zero], outputs: [neg!] });
  c.emit({ code: BuiltinOperator.MUL, inputs: [neg!, c.addConstant(`${y}_alpha`, Tensor.float32([], [alpha]))], outputs: [scaled!], options: (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)] });
  c.emit({ code: BuiltinOperator.ADD, inputs: [pos!, scaled!], outputs: [y], options: (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)] });
};

/** POW takes one type for base and exponent: a float32 base's integer exponent is CAST to float32 first. */
const pow: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  let e = c.tensor(n.inputs[1]!);
  const [xt, et] = [c.info(x), c.info(e)];
  if (xt.dtype !== et.dtype) {
    if (xt.dtype !== 'float32' || et.quant || !['int32', 'int64', 'int16', 'int8', 'uint8'].includes(et.dtype)) throw new UnsupportedError(`Pow of ${xt.dtype} by ${et.dtype} in a TFLite file`, `node '${n.name}': TFLite's POW takes base and exponent of one type, float32 or int32`);
    const k = c.constantOf(n.inputs[1]!);
    if (k) e = c.addConstant(`${e}_float32`, Tensor.float32([...k.shape], k.toNumbers()));
    else {
      const cast = c.addTensor(`${e}_float32`, { ...et, dtype: 'float32' });
      c.emit({ code: BuiltinOperator.CAST, inputs: [e], outputs: [cast] });
      e = cast;
    }
  }
  c.emit({ code: BuiltinOperator.POW, inputs: [x, e], outputs: [c.tensor(n.outputs[0]!)] });
};

/**
 * Inference Dropout is a copy, its mask all true. In training mode (training_mode true) with a
 * ratio above 0 it draws a random mask, which TFLite has no op for.
 */
const dropout: Converter = (n, c) => {
  const training = n.inputs[2] ? c.constantOf(n.inputs[2]) : undefined;
  const ratio = n.inputs[1] ? c.constantOf(n.inputs[1])?.toNumbers()[0] : attrFloat(n, 'ratio', 0.5);
  if (n.inputs[2] && (!training || training.toNumbers()[0] !== 0) && ratio !== 0) {
    throw new UnsupportedError('Dropout in training mode in a TFLite file', `node '${n.name}': it draws a random mask (training_mode ${training ? 'true' : 'computed'})`);
  }
  identity({ ...n, outputs: [n.outputs[0]!] }, c);
  if (n.outputs[1] && c.isRead(n.outputs[1])) {
    const mask = c.tensor(n.outputs[1]);
    const shape = c.info(mask).shape;
    const ones = c.addConstant(`${mask}_ones`, new Tensor('bool', shape, new Uint8Array(shape.reduce((a, b) => a * b, 1)).fill(1)));
    c.emit({ code: BuiltinOperator.RESHAPE, inputs: [ones, c.addConstant(`${mask}_shape`, int32(shape))], outputs: [mask] });
  }
};

const space =
  (code: BuiltinOperator.DEPTH_TO_SPACE | BuiltinOperator.SPACE_TO_DEPTH): Converter =>
  (n, c) => {
    const bs = attrInt(n, 'blocksize', 1);
    let x = c.tensor(n.inputs[0]!);
    // CRD (PyTorch's pixel_shuffle): its channels GATHERed into DEPTH_TO_SPACE's DCR order first
    if (code === BuiltinOperator.DEPTH_TO_SPACE && attrString(n, 'mode', 'DCR') !== 'DCR') x = crdAsDcr(c, x, bs);
    c.emit({
      code,
      inputs: [x],
      outputs: [c.tensor(n.outputs[0]!)],
      options: (b) => (code === BuiltinOperator.DEPTH_TO_SPACE ? [BuiltinOptions.DepthToSpaceOptions, DepthToSpaceOptions.createDepthToSpaceOptions(b, bs)] : [BuiltinOptions.SpaceToDepthOptions, SpaceToDepthOptions.createSpaceToDepthOptions(b, bs)]),
    });
  };

export const TFLITE_WRITE_OPS: Record<string, Converter> = {
  'nnport::Svdf': writeSvdf,
  'nnport::QuantizedLstm': writeQuantizedLstm,
  LSTM: writeLstm,
  RNN: writeRnn,
  // TFLite's hybrid sequence ops (int8 weights, float activations)
  'nnport::HybridLSTM': writeLstm,
  'nnport::HybridRNN': writeRnn,
  GRU: writeGru,
  'nnport::Conv': conv,
  'nnport::ConvTranspose': convTranspose,
  'nnport::MaxPool': pool(BuiltinOperator.MAX_POOL_2D),
  'nnport::AveragePool': pool(BuiltinOperator.AVERAGE_POOL_2D),
  'nnport::GlobalAveragePool': reduce(BuiltinOperator.MEAN, (r) => Array.from({ length: r - 2 }, (_, i) => i + 1), true),
  'nnport::GlobalMaxPool': reduce(BuiltinOperator.REDUCE_MAX, (r) => Array.from({ length: r - 2 }, (_, i) => i + 1), true),
  'nnport::Resize': resize,
  // the layout pass keeps Resize an ONNX op with its sizes/scales re-laid for NHWC data
  Resize: resize,
  'nnport::DepthToSpace': space(BuiltinOperator.DEPTH_TO_SPACE),
  'nnport::SpaceToDepth': space(BuiltinOperator.SPACE_TO_DEPTH),
  // ReduceMean / ReduceSum / ReduceMax / ReduceMin: ops-more-write.ts' reduction (axes fed at run time too)
  Gemm: gemm,
  MatMul: matMul,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  Sigmoid: unary(BuiltinOperator.LOGISTIC),
  Tanh: unary(BuiltinOperator.TANH),
  Relu: unary(BuiltinOperator.RELU),
  Clip: clip,
  LeakyRelu: unary(BuiltinOperator.LEAKY_RELU, (n) => (b) => [BuiltinOptions.LeakyReluOptions, LeakyReluOptions.createLeakyReluOptions(b, attrFloat(n, 'alpha', 0.01))]),
  PRelu: prelu,
  HardSwish: unary(BuiltinOperator.HARD_SWISH),
  HardSigmoid: hardSigmoid,
  Gelu: unary(BuiltinOperator.GELU, (n) => (b) => [BuiltinOptions.GeluOptions, GeluOptions.createGeluOptions(b, attrString(n, 'approximate', 'none') === 'tanh')]),
  Elu: elu,
  Abs: unary(BuiltinOperator.ABS),
  Exp: unary(BuiltinOperator.EXP),
  Log: unary(BuiltinOperator.LOG),
  Sqrt: unary(BuiltinOperator.SQRT),
  Neg: unary(BuiltinOperator.NEG),
  Add: binary(BuiltinOperator.ADD, (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)], true),
  Sub: binary(BuiltinOperator.SUB, (b, act) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(b, act, false)], true),
  Mul: binary(BuiltinOperator.MUL, (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)], true),
  Div: binary(BuiltinOperator.DIV, (b, act) => [BuiltinOptions.DivOptions, DivOptions.createDivOptions(b, act)], true),
  Pow: pow,
  Max: binary(BuiltinOperator.MAXIMUM),
  Min: binary(BuiltinOperator.MINIMUM),
  Concat: concat,
  Reshape: reshapeTo,
  Flatten: reshapeTo,
  Squeeze: squeeze,
  Unsqueeze: reshapeTo,
  Identity: identity,
  Dropout: dropout,
  Transpose: transpose,
  Pad: pad,
  Slice: slice,
  Split: split,
  Gather: gather,
  Cast: cast,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
};
