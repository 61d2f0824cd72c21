// TFLite builtin op -> IR, one row per op name as the schema spells it. Each converter reads
// its options once and emits channels-last `nnport` ops or plain ONNX ops, with QDQ around
// quantized tensors (see read.ts). Ops not listed here are reported as unsupported by name.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { Conv2DOptions } from '../generated/tflite/conv2-doptions.js';
import { DepthToSpaceOptions } from '../generated/tflite/depth-to-space-options.js';
import { DepthwiseConv2DOptions } from '../generated/tflite/depthwise-conv2-doptions.js';
import { FullyConnectedOptions } from '../generated/tflite/fully-connected-options.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { GeluOptions } from '../generated/tflite/gelu-options.js';
import { LeakyReluOptions } from '../generated/tflite/leaky-relu-options.js';
import { PackOptions } from '../generated/tflite/pack-options.js';
import { Padding } from '../generated/tflite/padding.js';
import { Pool2DOptions } from '../generated/tflite/pool2-doptions.js';
import { ReducerOptions } from '../generated/tflite/reducer-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ResizeBilinearOptions } from '../generated/tflite/resize-bilinear-options.js';
import { ResizeNearestNeighborOptions } from '../generated/tflite/resize-nearest-neighbor-options.js';
import { SoftmaxOptions } from '../generated/tflite/softmax-options.js';
import { SpaceToDepthOptions } from '../generated/tflite/space-to-depth-options.js';
import { SplitOptions } from '../generated/tflite/split-options.js';
import { SqueezeOptions } from '../generated/tflite/squeeze-options.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { TransposeConvOptions } from '../generated/tflite/transpose-conv-options.js';
import { BatchMatMulOptions } from '../generated/tflite/batch-mat-mul-options.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { SubOptions } from '../generated/tflite/sub-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { DivOptions } from '../generated/tflite/div-options.js';
import type { OpContext, TfliteTensorInfo } from './read.js';
import { copiesBytes, sameQuant } from './read.js';
import { transposeConvAtRunTime } from './read-conv3d.js';
import { sliceComputed } from './read-nms.js';
import { bidirectionalSequenceLstm, lstm, unidirectionalSequenceLstm } from './recurrent.js';
import { isQuantizedLstm, quantizedLstm, svdf } from './recurrent-int.js';
import { bidirectionalSequenceRnn, rnn, unidirectionalSequenceRnn } from './recurrent-rnn.js';

export type Converter = (c: OpContext) => void;

export const int = (value: number): Attr => ({ type: 'int', value });
export const ints = (value: number[]): Attr => ({ type: 'ints', value });
export const float = (value: number): Attr => ({ type: 'float', value });
export const str = (value: string): Attr => ({ type: 'string', value });

// ---- context helpers ----

export function tensor(c: OpContext, i: number): TfliteTensorInfo {
  const idx = c.inputs[i];
  if (idx === undefined || idx < 0) throw new FormatError(`${c.opName} '${outName(c)}': input ${i} is missing`, { file: c.b.file });
  return c.b.tensors[idx]!;
}

export function outTensor(c: OpContext, i = 0): TfliteTensorInfo {
  const idx = c.outputs[i];
  if (idx === undefined) throw new FormatError(`${c.opName}: output ${i} is missing`, { file: c.b.file });
  return c.b.tensors[idx]!;
}

export const outName = (c: OpContext): string => (c.outputs.length ? c.b.tensors[c.outputs[0]!]!.name : c.opName);
/** Fresh names for an op's intermediate values (`<output>_<tag>`), and `node`: one single-output node into a fresh value. */
export function scratch(c: OpContext): { tmp: (tag: string) => string; node: (op: string, inputs: string[], tag: string, attrs?: Record<string, Attr>) => string } {
  const n = outName(c);
  const tmp = (tag: string) => c.b.fresh(`${n}_${tag}`);
  const node = (op: string, inputs: string[], tag: string, attrs: Record<string, Attr> = {}) => {
    const v = tmp(tag);
    c.b.node(op, inputs, [v], attrs);
    return v;
  };
  return { tmp, node };
}
export const has = (c: OpContext, i: number): boolean => c.inputs[i] !== undefined && c.inputs[i]! >= 0;

/** Float value of input i (DequantizeLinear inserted for a quantized tensor). */
export const fin = (c: OpContext, i: number): string => c.b.floatOf(tensor(c, i));

/** The constant integer values of input i (shapes, axes, permutations, paddings). */
export function constInts(c: OpContext, i: number, what: string): number[] {
  const t = tensor(c, i);
  if (!t.data) throw new UnsupportedError(`${c.opName} with a computed ${what}`, `'${outName(c)}': the ${what} input '${t.name}' must be a constant`);
  return t.data.toNumbers();
}

/** Whether dim k of a tensor is dynamic (-1 in its shape_signature; the stored shape then holds a placeholder, often 1). */
export const isDynamic = (t: TfliteTensorInfo, k: number): boolean => t.signature?.[k] === -1;

/**
 * A Reshape's target for tensor t: its stored dims, -1 for a dynamic dim (shape_signature), or
 * undefined when several dims are dynamic (then the caller derives the shape from its input).
 */
export function reshapeTarget(t: TfliteTensorInfo): number[] | undefined {
  const shape = t.shape.map((d, k) => (isDynamic(t, k) ? -1 : d));
  return shape.filter((d) => d === -1).length > 1 ? undefined : shape;
}

export function options<T>(c: OpContext, type: BuiltinOptions, make: () => T): T | null {
  if (c.op.builtinOptionsType() !== type) return null;
  return c.op.builtinOptions(make() as never) as T;
}

/** Name the core float op writes for output i (a temporary when an activation or Quantize follows). */
export function floatOut(c: OpContext, i: number, act: ActivationFunctionType = ActivationFunctionType.NONE): string {
  const t = outTensor(c, i);
  if (!t.quant && act === ActivationFunctionType.NONE) return t.name;
  return c.b.fresh(`${t.name}_float`);
}

/** Fused activation, then QuantizeLinear for a quantized output, ending at the output tensor's name. */
export function finish(c: OpContext, i: number, y: string, act: ActivationFunctionType = ActivationFunctionType.NONE): void {
  const t = outTensor(c, i);
  let v = y;
  if (act !== ActivationFunctionType.NONE) {
    const to = t.quant ? c.b.fresh(`${t.name}_act`) : t.name;
    activation(c, act, v, to);
    v = to;
  }
  if (t.quant) {
    const p = c.b.quantParams(t);
    c.b.node('QuantizeLinear', [v, p.scale, p.zeroPoint], [t.name], p.attrs);
  } else if (v !== t.name) {
    c.b.node('Identity', [v], [t.name]);
  }
}

export function activation(c: OpContext, act: ActivationFunctionType, x: string, y: string): void {
  switch (act) {
    case ActivationFunctionType.RELU:
      c.b.node('Relu', [x], [y]);
      return;
    case ActivationFunctionType.RELU6:
      c.b.node('Clip', [x, c.b.float(0, 'zero'), c.b.float(6, 'six')], [y]);
      return;
    case ActivationFunctionType.RELU_N1_TO_1:
      c.b.node('Clip', [x, c.b.float(-1, 'minus_one'), c.b.float(1, 'one')], [y]);
      return;
    case ActivationFunctionType.TANH:
      c.b.node('Tanh', [x], [y]);
      return;
    default:
      throw new UnsupportedError(`TFLite fused activation ${ActivationFunctionType[act] ?? act}`, `on ${c.opName} '${outName(c)}'`);
  }
}

const autoPad = (p: Padding): Attr => str(p === Padding.SAME ? 'SAME_UPPER' : 'VALID');

/** A conv's dilations and padding: the file's, or those of the atrous pattern it was folded from. */
function convWindow(c: OpContext, dilations: number[], padding: Padding): Record<string, Attr> {
  const d = c.dilated;
  if (!d) return { dilations: ints(dilations), auto_pad: autoPad(padding) };
  return d.pads.every((p) => p === 0) ? { dilations: ints(d.dilations), auto_pad: str('VALID') } : { dilations: ints(d.dilations), pads: ints(d.pads) };
}

/**
 * Ops that only move data: on integers directly when input and output share quantization, or
 * when both are per-tensor integers (TFLite copies the bytes and does not requantize: the
 * output's parameters only say how they read; see copiesBytes).
 */
export function moveData(c: OpContext, build: (x: string, y: string) => void): void {
  const x = tensor(c, 0);
  const y = outTensor(c);
  if (copiesBytes(x, y)) {
    build(x.name, y.name);
    return;
  }
  const out = floatOut(c, 0);
  build(fin(c, 0), out);
  finish(c, 0, out);
}

export function elementwise(opType: string, act: (c: OpContext) => ActivationFunctionType, attrs: (c: OpContext) => Record<string, Attr> = () => ({})): Converter {
  return (c) => {
    const a = act(c);
    const y = floatOut(c, 0, a);
    c.b.node(opType, c.inputs.map((_, i) => fin(c, i)), [y], attrs(c));
    finish(c, 0, y, a);
  };
}

export function unary(opType: string, attrs: (c: OpContext) => Record<string, Attr> = () => ({})): Converter {
  return (c) => {
    const y = floatOut(c, 0);
    c.b.node(opType, [fin(c, 0)], [y], attrs(c));
    finish(c, 0, y);
  };
}

function reduce(opType: string): Converter {
  return (c) => {
    const o = options(c, BuiltinOptions.ReducerOptions, () => new ReducerOptions());
    const rank = tensor(c, 0).shape.length;
    const t = tensor(c, 1);
    let axesName: string;
    if (t.data) axesName = c.b.int64s(t.data.toNumbers().map((a) => (a < 0 ? a + rank : a)), 'axes');
    else {
      // axes computed at run time (an int32 tensor): ONNX's reductions take them as an int64 input
      axesName = c.b.fresh(`${t.name}_int64`);
      c.b.node('Cast', [t.name], [axesName], { to: int(7) });
    }
    const y = floatOut(c, 0);
    c.b.node(opType, [fin(c, 0), axesName], [y], { keepdims: int(o?.keepDims() ? 1 : 0) });
    finish(c, 0, y);
  };
}

function pool(opType: 'AveragePool' | 'MaxPool'): Converter {
  return (c) => {
    const o = options(c, BuiltinOptions.Pool2DOptions, () => new Pool2DOptions());
    if (!o) throw new FormatError(`${c.opName} '${outName(c)}' has no Pool2DOptions`, { file: c.b.file });
    const act = o.fusedActivationFunction();
    const attrs = { kernel_shape: ints([o.filterHeight(), o.filterWidth()]), strides: ints([o.strideH(), o.strideW()]), auto_pad: autoPad(o.padding()) };
    const x = tensor(c, 0);
    const out = outTensor(c);
    if (!sameQuant(x, out) && copiesBytes(x, out)) {
      // TFLite's integer pools take the max / rounded mean of the input bytes and do not
      // requantize to the output's parameters (they only say how the bytes read): the pool on the
      // input's grid, written as the output's bytes
      if (act !== ActivationFunctionType.NONE) throw new UnsupportedError(`integer ${c.opName} with a fused ${ActivationFunctionType[act]} and input / output quantization that differ`, `'${out.name}' in ${c.b.file}`);
      const pooled = c.b.fresh(`${out.name}_on_input_grid`);
      c.b.node(opType, [fin(c, 0)], [pooled], attrs, 'nnport');
      const p = c.b.quantParams(x);
      c.b.node('QuantizeLinear', [pooled, p.scale, p.zeroPoint], [out.name]);
      return;
    }
    const y = floatOut(c, 0, act);
    c.b.node(opType, [fin(c, 0)], [y], attrs, 'nnport');
    finish(c, 0, y, act);
  };
}

/**
 * An int16 ADD/SUB keeps the file's pot_scale_int16 (the schema's default true, what older
 * converters wrote): with power-of-two scales TFLite then runs its shift-and-saturate kernel,
 * which the integer runtime must follow. Without options the interpreter reads false (measured).
 * The ONNX writer drops this attribute.
 */
function potScaleInt16(c: OpContext, o: { potScaleInt16(): boolean } | null): Record<string, Attr> {
  return outTensor(c).dtype === 'int16' && outTensor(c).quant && o?.potScaleInt16() ? { pot_scale_int16: int(1) } : {};
}

export const fusedOf = (o: { fusedActivationFunction(): ActivationFunctionType } | null): ActivationFunctionType => o?.fusedActivationFunction() ?? ActivationFunctionType.NONE;

// ---- hybrid (dynamic-range) ops ----

/** A float input read with int8 constant weights: TFLite runs the op's hybrid kernel. */
/**
 * Whether an op reading float `x` and constant weights `w` is a hybrid (dynamic-range) kernel:
 * int8 weights. uint8 weights under a float input (TF1's dynamic-range files, zero point 128) are
 * refused: the interpreter runs such an op, but not as its dequantized weights compute (a FULLY_CONNECTED
 * measured 8.07 apart), and nnport does not model what it does instead.
 */
function isHybrid(c: OpContext, x: TfliteTensorInfo, w: TfliteTensorInfo): boolean {
  const floatInput = x.dtype === 'float32' && !x.quant;
  if (floatInput && w.dtype === 'uint8' && !!w.quant && !!w.data) {
    throw new UnsupportedError(`TFLite hybrid ${c.opName} with uint8 weights (a TF1-style dynamic-range model)`, `'${w.name}' in ${c.b.file}: nnport runs hybrid ops with int8 weights only; convert the model again with a current TensorFlow`);
  }
  return floatInput && w.dtype === 'int8' && !!w.quant && !!w.data;
}

/**
 * The float input of a hybrid op as its kernel sees it: quantized to int8 on the fly, one scale
 * (asymmetric: and zero point) per block of the dims from `axis` on, and back to float. CONV_2D
 * quantizes each image (axis 1) asymmetrically when its weights are per channel (symmetrically
 * when they share one scale), DEPTHWISE_CONV_2D each image asymmetrically, FULLY_CONNECTED /
 * BATCH_MATMUL each row (axis -1, whatever the rank: quantizeGraph's convention too) as their
 * asymmetric_quantize_inputs option says.
 */
function hybridInput(c: OpContext, x: string, symmetric: boolean, axis: number): string {
  const y = c.b.fresh(`${x}_hybrid_int8`);
  c.b.node('HybridInputQuantize', [x], [y], { symmetric: int(symmetric ? 1 : 0), axis: int(axis) }, 'nnport');
  return y;
}

// ---- converters ----

const conv2d: Converter = (c) => {
  const o = options(c, BuiltinOptions.Conv2DOptions, () => new Conv2DOptions());
  if (!o) throw new FormatError(`CONV_2D '${outName(c)}' has no Conv2DOptions`, { file: c.b.file });
  const x = tensor(c, 0);
  const w = tensor(c, 1);
  if (w.shape.length !== 4) throw new FormatError(`CONV_2D '${outName(c)}': weights '${w.name}' have shape [${w.shape.join(', ')}], expected OHWI`, { file: c.b.file });
  const [, kh, kw, inPerGroup] = w.shape as [number, number, number, number];
  const channels = x.shape[3] ?? inPerGroup;
  const act = o.fusedActivationFunction();
  const y = floatOut(c, 0, act);
  // TFLite takes the per-channel hybrid path only when the channel scales differ
  const perChannel = !!w.quant && w.quant.scale.some((s) => s !== w.quant!.scale[0]);
  const inputs = [isHybrid(c, x, w) ? hybridInput(c, fin(c, 0), !perChannel, 1) : fin(c, 0), fin(c, 1)];
  if (has(c, 2)) inputs.push(fin(c, 2));
  c.b.node(
    'Conv',
    inputs,
    [y],
    {
      kernel_layout: str('OHWI'),
      kernel_shape: ints([kh, kw]),
      strides: ints([o.strideH(), o.strideW()]),
      group: int(inPerGroup > 0 && channels % inPerGroup === 0 ? channels / inPerGroup : 1),
      ...convWindow(c, [o.dilationHFactor(), o.dilationWFactor()], o.padding()),
    },
    'nnport',
  );
  finish(c, 0, y, act);
};

const depthwiseConv2d: Converter = (c) => {
  const o = options(c, BuiltinOptions.DepthwiseConv2DOptions, () => new DepthwiseConv2DOptions());
  if (!o) throw new FormatError(`DEPTHWISE_CONV_2D '${outName(c)}' has no DepthwiseConv2DOptions`, { file: c.b.file });
  const x = tensor(c, 0);
  const w = tensor(c, 1);
  if (w.shape.length !== 4 || w.shape[0] !== 1) throw new FormatError(`DEPTHWISE_CONV_2D '${outName(c)}': weights '${w.name}' have shape [${w.shape.join(', ')}], expected (1, kh, kw, C·M)`, { file: c.b.file });
  const [, kh, kw, cm] = w.shape as [number, number, number, number];
  const channels = x.shape[3]!;
  // (1,kh,kw,C·M) and HWIO (kh,kw,1,C·M) are the same bytes: a plain reshape (per-channel axis 3 stays 3)
  const hwio = [kh, kw, 1, cm];
  // the TFLite writer names the (1, kh, kw, C·M) weight `${hwio}_depthwise`: a weight so named gets
  // that name back (read -> write keeps the file's names)
  const hwioName = (name: string) => (name.endsWith('_depthwise') && name.length > 10 ? name.slice(0, -10) : `${name}_hwio`);
  let wName: string;
  if (w.data) {
    const raw = c.b.initializer(hwioName(w.name), w.data.reshape(hwio));
    wName = c.b.floatOf({ ...w, shape: hwio }, raw);
  } else {
    // weight-only (a DEQUANTIZE of int8 constant weights): the constant reshaped and dequantized
    // again (axis 3 stays 3), so the weights stay a dequantized constant the writer can read
    const dq = c.b.nodes.find((n) => n.opType === 'DequantizeLinear' && !n.domain && n.outputs[0] === w.name && c.b.initializers.has(n.inputs[0]!));
    const axis = dq?.attrs.axis;
    // float16 weights: their DEQUANTIZE was decoded once into a float32 constant (dequantize below)
    const decoded = dq ? undefined : c.b.initializers.get(w.name);
    wName = decoded ? hwioName(w.name) : c.b.fresh(`${w.name}_hwio`);
    if (decoded) {
      wName = c.b.initializer(wName, decoded.reshape(hwio));
      const half = c.b.halfWeights.get(w.name);
      if (half) c.b.halfWeights.set(wName, c.b.initializer(`${half}_hwio`, c.b.initializers.get(half)!.reshape(hwio)));
    } else if (dq && (!axis || (axis.type === 'int' && axis.value === 3))) {
      const raw = c.b.initializer(hwioName(dq.inputs[0]!), c.b.initializers.get(dq.inputs[0]!)!.reshape(hwio));
      c.b.node('DequantizeLinear', [raw, ...dq.inputs.slice(1)], [wName], dq.attrs);
    } else {
      c.b.node('Reshape', [fin(c, 1), c.b.int64s(hwio, 'shape')], [wName]);
    }
  }
  const act = o.fusedActivationFunction();
  const y = floatOut(c, 0, act);
  const inputs = [isHybrid(c, x, w) ? hybridInput(c, fin(c, 0), false, 1) : fin(c, 0), wName];
  if (has(c, 2)) inputs.push(fin(c, 2));
  c.b.node(
    'Conv',
    inputs,
    [y],
    {
      kernel_layout: str('HWIO'),
      kernel_shape: ints([kh, kw]),
      strides: ints([o.strideH(), o.strideW()]),
      group: int(channels),
      ...convWindow(c, [o.dilationHFactor(), o.dilationWFactor()], o.padding()),
    },
    'nnport',
  );
  finish(c, 0, y, act);
};

/**
 * TRANSPOSE_CONV's float weights (OHWI; float16 ones decoded by their DEQUANTIZE) as an HWOI
 * constant, the layout of TF's conv2d_transpose and Keras' Conv2DTranspose, which the GraphDef
 * and Keras writers take (the TFLite writer takes both). nnport's writers name the OHWI copy of
 * an HWOI weight `${name}/ohwi` or `${name}_ohwi`: such a weight gets its name back (read -> write
 * keeps the file's names). Quantized weights stay OHWI, their per-channel axis 0.
 */
function hwoiWeights(c: OpContext, w: TfliteTensorInfo): string | undefined {
  const data = c.b.initializers.get(w.name);
  if (!data || w.quant || data.dtype !== 'float32' || data.rank !== 4) return undefined;
  const name = /.[/_]ohwi$/.test(w.name) ? w.name.slice(0, -5) : `${w.name}_hwoi`;
  const hwoi = c.b.initializer(name, data.permute([1, 2, 0, 3]));
  const half = c.b.halfWeights.get(w.name);
  if (half) c.b.halfWeights.set(hwoi, c.b.initializer(`${half}_hwoi`, c.b.initializers.get(half)!.permute([1, 2, 0, 3])));
  return hwoi;
}

/**
 * TRANSPOSE_CONV's padding: its kernel writes output row i·s - pad + k for pad = floor(total / 2),
 * total = max((in-1)·s + k - out, 0) (SAME; 0 for VALID), and keeps rows [0, out). Where in and out
 * are static and that is a crop of the full (in-1)·s + k rows, ONNX's explicit pads say it (what the
 * GraphDef and Keras writers take: VALID and a crop); otherwise (rows past the full output, which
 * hold only the bias, or a dynamic size) undefined: the crop is made at run time.
 */
function transposeConvPads(c: OpContext, o: TransposeConvOptions, k: number[], outShape: number[]): Record<string, Attr> | undefined {
  const x = tensor(c, 2);
  const strides = [o.strideH(), o.strideW()];
  const same = o.padding() === Padding.SAME;
  const total = [0, 1].map((i) => (x.shape[1 + i]! - 1) * strides[i]! + k[i]! - outShape[1 + i]!);
  const static_ = x.shape.length === 4 && outShape.length === 4 && [1, 2].every((i) => !isDynamic(x, i));
  if (!static_ || total.some((t) => t < 0 || (!same && t !== 0))) return undefined;
  const begin = total.map((t) => Math.floor(t / 2));
  return { pads: ints([...begin, ...total.map((t, i) => t - begin[i]!)]) };
}

const transposeConv: Converter = (c) => {
  const o = options(c, BuiltinOptions.TransposeConvOptions, () => new TransposeConvOptions());
  if (!o) throw new FormatError(`TRANSPOSE_CONV '${outName(c)}' has no TransposeConvOptions`, { file: c.b.file });
  const w = tensor(c, 1);
  // output_shape computed in the graph (TF's converter: SHAPE / STRIDED_SLICE / PACK of a dynamic
  // batch): its height and width are the output's stored ones, the batch the input's at run time;
  // over an open height or width, the crop of the full output that it asks for is made at run time
  const out = outTensor(c);
  const act = o.fusedActivationFunction();
  const weights = hwoiWeights(c, w);
  const atRunTime = () => {
    const t = { x: fin(c, 2), weights: weights ?? fin(c, 1), layout: weights ? 'HWOI' : 'OHWI', bias: has(c, 3) ? fin(c, 3) : undefined } as const;
    transposeConvAtRunTime(c, 0, { ...t, kernel: [w.shape[1]!, w.shape[2]!], strides: [o.strideH(), o.strideW()], dilations: [1, 1], padding: o.padding(), act });
  };
  if (!tensor(c, 0).data && (isDynamic(out, 1) || isDynamic(out, 2) || [1, 2].some((i) => isDynamic(tensor(c, 2), i)))) return atRunTime();
  const outShape = tensor(c, 0).data ? constInts(c, 0, 'output shape') : out.shape;
  if (outShape.length !== 4 || outShape.some((d) => d < 0)) throw new FormatError(`TRANSPOSE_CONV '${out.name}': output_shape [${outShape.join(', ')}]`, { file: c.b.file });
  const pads = transposeConvPads(c, o, [w.shape[1]!, w.shape[2]!], outShape);
  // (rows past the full output: ONNX's output_shape + auto_pad does not put them where TFLite does in nnport's runtime)
  if (!pads) return atRunTime();
  const y = floatOut(c, 0, act);
  const inputs = [fin(c, 2), weights ?? fin(c, 1)];
  if (has(c, 3)) inputs.push(fin(c, 3));
  c.b.node(
    'ConvTranspose',
    inputs,
    [y],
    {
      kernel_layout: str(weights ? 'HWOI' : 'OHWI'),
      kernel_shape: ints([w.shape[1]!, w.shape[2]!]),
      strides: ints([o.strideH(), o.strideW()]),
      ...pads,
    },
    'nnport',
  );
  finish(c, 0, y, act);
};

const fullyConnected: Converter = (c) => {
  const o = options(c, BuiltinOptions.FullyConnectedOptions, () => new FullyConnectedOptions());
  if (o && o.weightsFormat() !== 0) throw new UnsupportedError('FULLY_CONNECTED shuffled weights format', `'${outName(c)}'`);
  const x = tensor(c, 0);
  const w = tensor(c, 1);
  const out = outTensor(c);
  const inner = w.shape[1]!;
  // Gemm needs a matrix: flatten the leading dims of the input as integers (no requantization)
  let xRaw = x.name;
  if (x.shape.length !== 2) {
    xRaw = c.b.fresh(`${x.name}_2d`);
    c.b.node('Reshape', [x.name, c.b.int64s([-1, inner], 'shape')], [xRaw]);
  }
  const act = fusedOf(o);
  const needsReshape = out.shape.length !== 2;
  // keep_num_dims of a float output without activation: the Gemm's rank-2 result needs its own name
  const y = needsReshape && !out.quant && act === ActivationFunctionType.NONE ? c.b.fresh(`${out.name}_2d`) : floatOut(c, 0, act);
  // a hybrid FULLY_CONNECTED quantizes each row of the 2-D input
  const xFloat = c.b.floatOf(x, xRaw);
  const inputs = [isHybrid(c, x, w) ? hybridInput(c, xFloat, !(o?.asymmetricQuantizeInputs() ?? false), -1) : xFloat, fin(c, 1)];
  if (has(c, 2)) inputs.push(fin(c, 2));
  if (!needsReshape) {
    c.b.node('Gemm', inputs, [y], { transB: int(1) });
    finish(c, 0, y, act);
    return;
  }
  // keep_num_dims: a rank-2 result reshaped (as integers) to the output's shape
  const flat = { name: c.b.fresh(`${out.name}_2d`) };
  c.b.node('Gemm', inputs, [y], { transB: int(1) });
  let v = y;
  if (act !== ActivationFunctionType.NONE) {
    v = c.b.fresh(`${out.name}_act`);
    activation(c, act, y, v);
  }
  if (out.quant) {
    const p = c.b.quantParams(out);
    c.b.node('QuantizeLinear', [v, p.scale, p.zeroPoint], [flat.name], p.attrs);
    v = flat.name;
  }
  // the input's leading dims and the units: -1 for a dynamic one, or taken from the input's shape when several are
  const target = reshapeTarget(out);
  let shape: string;
  if (target) shape = c.b.int64s(target, 'shape');
  else {
    const full = c.b.fresh(`${x.name}_shape`);
    c.b.node('Shape', [x.name], [full]);
    const lead = c.b.fresh(`${x.name}_leading_dims`);
    c.b.node('Slice', [full, c.b.int64s([0], 'starts'), c.b.int64s([-1], 'ends')], [lead]);
    shape = c.b.fresh(`${out.name}_shape`);
    c.b.node('Concat', [lead, c.b.int64s([w.shape[0]!], 'units')], [shape], { axis: int(0) });
  }
  c.b.node('Reshape', [v, shape], [out.name]);
};

const reshape: Converter = (c) => {
  const out = outTensor(c);
  // a shape computed in the graph (SHAPE, STRIDED_SLICE, PACK of a dynamic batch): the interpreter
  // reads that tensor when it is a vector, and so does nnport (as int64; a 0 in it is a zero-size
  // dim, as TFLite's kernel reads it: allowzero)
  const computed = has(c, 1) && !tensor(c, 1).data && tensor(c, 1).shape.length === 1 && ['int32', 'int64'].includes(tensor(c, 1).dtype);
  if (computed) {
    const s = tensor(c, 1);
    let shapeName = s.name;
    if (s.dtype !== 'int64') {
      shapeName = c.b.fresh(`${s.name}_int64`);
      c.b.node('Cast', [s.name], [shapeName], { to: int(7) });
    }
    moveData(c, (x, y) => c.b.node('Reshape', [x, shapeName], [y], { allowzero: int(1) }));
    return;
  }
  let shape: number[] | undefined;
  if (has(c, 1) && tensor(c, 1).data) shape = constInts(c, 1, 'shape');
  else {
    const o = options(c, BuiltinOptions.ReshapeOptions, () => new ReshapeOptions());
    shape = o?.newShapeArray() ? Array.from(o.newShapeArray()!) : reshapeTarget(out);
  }
  if (!shape?.length && out.shape.length) shape = reshapeTarget(out);
  if (!shape) throw new UnsupportedError('RESHAPE to several dynamic dims without a shape', `'${out.name}': the file gives neither a shape tensor nor new_shape`);
  // TFLite's 0 is a zero-size dim (its kernel copies no input dim); ONNX's 0 copies the input's:
  // allowzero keeps TFLite's meaning, with a -1 beside it resolved from the output's declared shape
  // (ONNX takes no -1 together with a literal 0)
  const zero = shape.includes(0);
  const target = zero ? shape.map((d, i) => (d === -1 ? (out.shape[i] ?? d) : d)) : shape;
  moveData(c, (x, y) => c.b.node('Reshape', [x, c.b.int64s(target, 'shape')], [y], zero ? { allowzero: int(1) } : {}));
};

const softmax: Converter = (c) => {
  const o = options(c, BuiltinOptions.SoftmaxOptions, () => new SoftmaxOptions());
  const beta = o?.beta() ?? 1;
  const y = floatOut(c, 0);
  let x = fin(c, 0);
  if (beta !== 1) {
    const scaled = c.b.fresh(`${outName(c)}_beta`);
    c.b.node('Mul', [x, c.b.float(beta, 'beta')], [scaled]);
    x = scaled;
  }
  c.b.node('Softmax', [x], [y], { axis: int(-1) });
  finish(c, 0, y);
};

const concatenation: Converter = (c) => {
  const o = options(c, BuiltinOptions.ConcatenationOptions, () => new ConcatenationOptions());
  const act = fusedOf(o);
  const y = floatOut(c, 0, act);
  c.b.node('Concat', c.inputs.map((_, i) => fin(c, i)), [y], { axis: int(o?.axis() ?? 0) });
  finish(c, 0, y, act);
};

function padConverter(c: OpContext): void {
  const x = tensor(c, 0);
  const out = outTensor(c);
  const pt = tensor(c, 1);
  // the interpreter's check: [rank, 2] int32 / int64 paddings
  if (pt.shape.length !== 2 || pt.shape[0] !== x.shape.length || pt.shape[1] !== 2 || !['int32', 'int64'].includes(pt.dtype)) {
    throw new FormatError(`${c.opName} '${out.name}': paddings '${pt.name}' are ${pt.dtype} [${pt.shape.join(', ')}], expected int32 or int64 [${x.shape.length}, 2] for input shape [${x.shape.join(', ')}]`, { file: c.b.file });
  }
  let padsName: string;
  if (tensor(c, 1).data) {
    const p = constInts(c, 1, 'paddings');
    if (p.some((v) => v < 0)) throw new FormatError(`${c.opName} '${out.name}': negative paddings [${p.join(', ')}]`, { file: c.b.file });
    const rank = p.length / 2;
    padsName = c.b.int64s([...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)], 'pads');
  } else {
    // paddings computed in the file ([rank, 2] rows of before / after): ONNX's [begins..., ends...]
    const rows = tensor(c, 1).name;
    const wide = c.b.fresh(`${out.name}_paddings_int64`);
    c.b.node('Cast', [rows], [wide], { to: int(7) });
    const cols = c.b.fresh(`${out.name}_paddings_columns`);
    c.b.node('Transpose', [wide], [cols], { perm: ints([1, 0]) });
    padsName = c.b.fresh(`${out.name}_pads`);
    c.b.node('Reshape', [cols, c.b.int64s([-1], 'pads_shape')], [padsName]);
  }
  if (copiesBytes(x, out) && !has(c, 2)) {
    // integer padding copies the input's bytes and fills with the output's zero point (what 0.0
    // quantizes to; TFLite does not requantize when the two tensors' parameters differ)
    const inputs = [x.name, padsName];
    if (out.quant) inputs.push(c.b.constant(Tensor.scalar(x.dtype, out.quant.zeroPoint[0]!), 'pad_value'));
    c.b.node('Pad', inputs, [out.name]);
    return;
  }
  const y = floatOut(c, 0);
  const inputs = [fin(c, 0), padsName];
  if (has(c, 2)) inputs.push(fin(c, 2));
  c.b.node('Pad', inputs, [y]);
  finish(c, 0, y);
}

const transpose: Converter = (c) => {
  const perm = constInts(c, 1, 'permutation');
  moveData(c, (x, y) => c.b.node('Transpose', [x], [y], { perm: ints(perm) }));
};

const squeeze: Converter = (c) => {
  const o = options(c, BuiltinOptions.SqueezeOptions, () => new SqueezeOptions());
  const dims = o?.squeezeDimsArray() ? Array.from(o.squeezeDimsArray()!) : [];
  const rank = tensor(c, 0).shape.length;
  // no dims given: every dim of size 1, but not a dynamic one stored as 1
  const axes = dims.length ? dims.map((a) => (a < 0 ? a + rank : a)) : tensor(c, 0).shape.flatMap((d, i) => (d === 1 && !isDynamic(tensor(c, 0), i) ? [i] : []));
  moveData(c, (x, y) => c.b.node('Squeeze', [x, c.b.int64s(axes, 'axes')], [y]));
};

const expandDims: Converter = (c) => {
  const out = outTensor(c);
  // the axis (counted in the output's rank) as an Unsqueeze: no stored dims fixed, dynamic ones stay so
  const axis = has(c, 1) && tensor(c, 1).data ? constInts(c, 1, 'axis')[0] : undefined;
  if (axis === undefined || axis < -out.shape.length || axis >= out.shape.length) {
    const target = reshapeTarget(out);
    if (!target) throw new UnsupportedError('EXPAND_DIMS with a computed axis over several dynamic dims', `'${out.name}'`);
    return moveData(c, (x, y) => c.b.node('Reshape', [x, c.b.int64s(target, 'shape')], [y]));
  }
  const a = axis < 0 ? axis + out.shape.length : axis;
  moveData(c, (x, y) => c.b.node('Unsqueeze', [x, c.b.int64s([a], 'axes')], [y]));
};

const gather: Converter = (c) => {
  const o = options(c, BuiltinOptions.GatherOptions, () => new GatherOptions());
  if (o && o.batchDims() !== 0) throw new UnsupportedError('GATHER with batch_dims', `'${outName(c)}'`);
  const idx = tensor(c, 1);
  moveData(c, (x, y) => c.b.node('Gather', [x, idx.name], [y], { axis: int(o?.axis() ?? 0) }));
};

/**
 * An ONNX Slice of input 0 over the axes that it cuts: an axis taken whole (from 0 to its end, step
 * 1: the batch of every SLICE nnport and TF's converter write) is left out, so that writers that
 * cannot slice an axis of unknown size (Keras' batch) take it; Identity when none is cut.
 */
function sliceCut(c: OpContext, x: string, y: string, starts: number[], ends: number[], steps?: number[]): void {
  const t = tensor(c, 0);
  const whole = (i: number) => starts[i] === 0 && (steps?.[i] ?? 1) === 1 && (ends[i]! >= 2 ** 53 - 1 || (!isDynamic(t, i) && t.shape[i] !== undefined && ends[i]! >= t.shape[i]!));
  const axes = starts.map((_, i) => i).filter((i) => !whole(i));
  if (!axes.length) return void c.b.node('Identity', [x], [y]);
  const pick = (v: number[]) => c.b.int64s(axes.map((i) => v[i]!), 'slice');
  const inputs = [x, pick(starts), pick(ends), c.b.int64s(axes, 'axes')];
  if (steps && axes.some((i) => steps[i] !== 1)) inputs.push(pick(steps));
  c.b.node('Slice', inputs, [y]);
}

const slice: Converter = (c) => {
  if (!tensor(c, 1).data || !tensor(c, 2).data) return sliceComputed(c);
  const begin = constInts(c, 1, 'begin');
  const size = constInts(c, 2, 'size');
  // size -1: to the end of the dim, whatever its length at run time
  const ends = size.map((s, i) => (s === -1 ? 2 ** 53 - 1 : begin[i]! + s));
  moveData(c, (x, y) => sliceCut(c, x, y, begin, ends));
};

const stridedSlice: Converter = (c) => {
  const o = options(c, BuiltinOptions.StridedSliceOptions, () => new StridedSliceOptions());
  if (o && (o.ellipsisMask() || o.newAxisMask())) throw new UnsupportedError('STRIDED_SLICE with ellipsis or new-axis masks', `'${outName(c)}'`);
  if (!tensor(c, 1).data || !tensor(c, 2).data || (has(c, 3) && !tensor(c, 3).data)) {
    // begin / end / strides computed in the graph, every axis given (no masks): ONNX Slice of them, which clamps alike
    if (o && (o.beginMask() || o.endMask() || o.shrinkAxisMask())) throw new UnsupportedError('STRIDED_SLICE with computed begin / end and masks', `'${outName(c)}'`);
    const as64 = (i: number) => {
      const t = tensor(c, i);
      if (t.dtype === 'int64') return t.name;
      const v = c.b.fresh(`${t.name}_int64`);
      c.b.node('Cast', [t.name], [v], { to: int(7) });
      return v;
    };
    const rank = tensor(c, 0).shape.length;
    const inputs = [as64(1), as64(2), c.b.int64s(Array.from({ length: rank }, (_, i) => i), 'axes')];
    if (has(c, 3)) inputs.push(as64(3));
    return void moveData(c, (x, y) => void c.b.node('Slice', [x, ...inputs], [y]));
  }
  const begin = constInts(c, 1, 'begin');
  const end = constInts(c, 2, 'end');
  const strides = has(c, 3) ? constInts(c, 3, 'strides') : begin.map(() => 1);
  const beginMask = o?.beginMask() ?? 0;
  const endMask = o?.endMask() ?? 0;
  const shrink = o?.shrinkAxisMask() ?? 0;
  const BIG = 2 ** 53 - 1;
  const starts = begin.map((v, i) => (beginMask & (1 << i) ? (strides[i]! > 0 ? 0 : BIG) : v));
  const ends = end.map((v, i) => {
    if (shrink & (1 << i)) return begin[i]! === -1 ? BIG : begin[i]! + 1;
    return endMask & (1 << i) ? (strides[i]! > 0 ? BIG : -BIG) : v;
  });
  const out = outTensor(c);
  moveData(c, (x, y) => {
    const axes = begin.map((_, i) => i);
    if (!shrink) return void sliceCut(c, x, y, starts, ends, strides);
    const sliced = c.b.fresh(`${out.name}_slice`);
    sliceCut(c, x, sliced, starts, ends, strides);
    // the shrunk axes (one element each) dropped: the other dims stay what they are at run time
    c.b.node('Squeeze', [sliced, c.b.int64s(axes.filter((i) => shrink & (1 << i)), 'axes')], [y]);
  });
};

const split: Converter = (c) => {
  const o = options(c, BuiltinOptions.SplitOptions, () => new SplitOptions());
  const axisArr = constInts(c, 0, 'axis');
  const x = tensor(c, 1);
  const axis = axisArr[0]! < 0 ? axisArr[0]! + x.shape.length : axisArr[0]!;
  const n = o?.numSplits() ?? c.outputs.length;
  const outs = c.outputs.map((_, i) => outTensor(c, i));
  // TFLite splits a dim into n equal parts: their sizes where the dim is static (what every ONNX
  // runtime takes, a zero-size dim included: onnxruntime refuses num_outputs 3 of a 0-size dim)
  const dim = x.shape[axis]!;
  const sizes = !isDynamic(x, axis) && dim % n === 0 ? [c.b.int64s(new Array<number>(n).fill(dim / n), 'split')] : [];
  const attrs: Record<string, Attr> = sizes.length ? { axis: int(axis) } : { axis: int(axis), num_outputs: int(n) };
  if (outs.every((t) => copiesBytes(x, t))) {
    c.b.node('Split', [x.name, ...sizes], outs.map((t) => t.name), attrs);
    return;
  }
  const ys = outs.map((_, i) => floatOut(c, i));
  c.b.node('Split', [c.b.floatOf(x), ...sizes], ys, attrs);
  ys.forEach((y, i) => finish(c, i, y));
};

const resize =
  (mode: 'linear' | 'nearest'): Converter =>
  (c) => {
    const o =
      mode === 'linear'
        ? options(c, BuiltinOptions.ResizeBilinearOptions, () => new ResizeBilinearOptions())
        : options(c, BuiltinOptions.ResizeNearestNeighborOptions, () => new ResizeNearestNeighborOptions());
    const align = o?.alignCorners() ?? false;
    const half = o?.halfPixelCenters() ?? false;
    const out = outTensor(c);
    const ctm = align ? 'align_corners' : half ? (mode === 'linear' ? 'half_pixel' : 'tf_half_pixel_for_nn') : 'asymmetric';
    const attrs: Record<string, Attr> = { mode: str(mode), coordinate_transformation_mode: str(ctm) };
    if (mode === 'nearest') attrs.nearest_mode = str(align ? 'round_prefer_ceil' : 'floor');
    const y = floatOut(c, 0);
    const x = tensor(c, 0);
    let sizes = c.b.int64s(out.shape, 'sizes');
    // an input with a dynamic batch (or channels): those dims from the input's shape at run time, the new
    // height and width from the file (the integer runtime's RESIZE_BILINEAR island reads this Concat);
    // a size computed in the file (a decoder upsampling to its skip's size) read as it is
    const computed = !tensor(c, 1).data;
    if (computed || x.shape.some((_, k) => isDynamic(x, k))) {
      const full = c.b.fresh(`${x.name}_shape`);
      c.b.node('Shape', [x.name], [full]);
      const dims = (from: number, to: number) => {
        const d = c.b.fresh(`${x.name}_dims${from}`);
        c.b.node('Slice', [full, c.b.int64s([from], 'starts'), c.b.int64s([to], 'ends')], [d]);
        return d;
      };
      let spatial = c.b.int64s(out.shape.slice(1, 3), 'spatial_sizes');
      if (computed) {
        spatial = c.b.fresh(`${out.name}_spatial_sizes`);
        c.b.node('Cast', [tensor(c, 1).name], [spatial], { to: int(7) });
      }
      sizes = c.b.fresh(`${out.name}_sizes`);
      c.b.node('Concat', [dims(0, 1), spatial, dims(3, 4)], [sizes], { axis: int(0) });
    }
    if (mode === 'nearest' && !sameQuant(x, out) && copiesBytes(x, out)) {
      // TFLite's nearest resize copies the picked bytes, not requantized to the output's parameters
      const picked = c.b.fresh(`${out.name}_on_input_grid`);
      c.b.node('Resize', [fin(c, 0), '', '', sizes], [picked], attrs, 'nnport');
      const p = c.b.quantParams(x);
      c.b.node('QuantizeLinear', [picked, p.scale, p.zeroPoint], [out.name]);
      return;
    }
    c.b.node('Resize', [fin(c, 0), '', '', sizes], [y], attrs, 'nnport');
    finish(c, 0, y);
  };

const quantize: Converter = (c) => {
  const x = tensor(c, 0);
  const out = outTensor(c);
  if (!out.quant) throw new FormatError(`QUANTIZE '${out.name}': output has no quantization parameters`, { file: c.b.file });
  const p = c.b.quantParams(out);
  // float -> int is QuantizeLinear; int -> int (requantize) goes through float
  c.b.node('QuantizeLinear', [x.quant ? c.b.floatOf(x) : x.name, p.scale, p.zeroPoint], [out.name], p.attrs);
};

const dequantize: Converter = (c) => {
  const x = tensor(c, 0);
  const out = outTensor(c);
  if (x.dtype === 'float16') {
    // float16 weights (TF converter's float16 mode): the constant decoded once, or a Cast
    if (x.data) {
      c.b.initializers.set(out.name, new Tensor('float32', x.shape, x.data.toFloat32()));
      c.b.halfWeights.set(out.name, x.name);
      return;
    }
    c.b.node('Cast', [x.name], [out.name], { to: int(1) });
    return;
  }
  if (!x.quant) throw new FormatError(`DEQUANTIZE '${out.name}': input '${x.name}' has no quantization parameters`, { file: c.b.file });
  const p = c.b.quantParams(x);
  c.b.node('DequantizeLinear', [x.name, p.scale, p.zeroPoint], [out.name], p.attrs);
};

const batchMatMul: Converter = (c) => {
  const o = options(c, BuiltinOptions.BatchMatMulOptions, () => new BatchMatMulOptions());
  const swapLast = (i: number, adj: boolean): string => {
    const v = fin(c, i);
    if (!adj) return v;
    const rank = tensor(c, i).shape.length;
    const perm = Array.from({ length: rank }, (_, k) => k);
    [perm[rank - 1], perm[rank - 2]] = [perm[rank - 2]!, perm[rank - 1]!];
    const t = c.b.fresh(`${v}_t`);
    c.b.node('Transpose', [v], [t], { perm: ints(perm) });
    return t;
  };
  const y = floatOut(c, 0);
  let a = swapLast(0, o?.adjX() ?? false);
  // a hybrid BATCH_MATMUL (constant int8 right side) quantizes each row of the left side
  if (isHybrid(c, tensor(c, 0), tensor(c, 1))) a = hybridInput(c, a, !(o?.asymmetricQuantizeInputs() ?? false), -1);
  c.b.node('MatMul', [a, swapLast(1, o?.adjY() ?? false)], [y]);
  finish(c, 0, y);
};

const gelu: Converter = (c) => {
  const o = options(c, BuiltinOptions.GeluOptions, () => new GeluOptions());
  const x = fin(c, 0);
  const y = floatOut(c, 0);
  const n = outName(c);
  const t = (s: string) => c.b.fresh(`${n}_${s}`);
  if (o?.approximate()) {
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const x3 = t('x3');
    c.b.node('Pow', [x, c.b.float(3, 'three')], [x3]);
    const a = t('a');
    c.b.node('Mul', [x3, c.b.float(0.044715, 'gelu_c')], [a]);
    const s = t('s');
    c.b.node('Add', [x, a], [s]);
    const k = t('k');
    c.b.node('Mul', [s, c.b.float(Math.sqrt(2 / Math.PI), 'gelu_k')], [k]);
    const th = t('tanh');
    c.b.node('Tanh', [k], [th]);
    const one = t('one_plus');
    c.b.node('Add', [th, c.b.float(1, 'one')], [one]);
    const hx = t('half_x');
    c.b.node('Mul', [x, c.b.float(0.5, 'half')], [hx]);
    c.b.node('Mul', [hx, one], [y]);
  } else {
    // 0.5·x·(1 + erf(x/√2))
    const d = t('scaled');
    c.b.node('Mul', [x, c.b.float(Math.SQRT1_2, 'inv_sqrt2')], [d]);
    const e = t('erf');
    c.b.node('Erf', [d], [e]);
    const one = t('one_plus');
    c.b.node('Add', [e, c.b.float(1, 'one')], [one]);
    const hx = t('half_x');
    c.b.node('Mul', [x, c.b.float(0.5, 'half')], [hx]);
    c.b.node('Mul', [hx, one], [y]);
  }
  finish(c, 0, y);
};

const pack: Converter = (c) => {
  const o = options(c, BuiltinOptions.PackOptions, () => new PackOptions());
  const axis = o?.axis() ?? 0;
  const out = outTensor(c);
  const rank = out.shape.length;
  const a = axis < 0 ? axis + rank : axis;
  const expanded = c.inputs.map((_, i) => {
    const v = fin(c, i);
    const e = c.b.fresh(`${v}_expanded`);
    c.b.node('Unsqueeze', [v, c.b.int64s([a], 'axes')], [e]);
    return e;
  });
  const y = floatOut(c, 0);
  c.b.node('Concat', expanded, [y], { axis: int(a) });
  finish(c, 0, y);
};

const space =
  (opType: 'DepthToSpace' | 'SpaceToDepth'): Converter =>
  (c) => {
    const o =
      opType === 'DepthToSpace'
        ? options(c, BuiltinOptions.DepthToSpaceOptions, () => new DepthToSpaceOptions())
        : options(c, BuiltinOptions.SpaceToDepthOptions, () => new SpaceToDepthOptions());
    moveData(c, (x, y) => c.b.node(opType, [x], [y], { blocksize: int(o?.blockSize() ?? 1), ...(opType === 'DepthToSpace' ? { mode: str('DCR') } : {}) }, 'nnport'));
  };

const unsupported =
  (why: string): Converter =>
  (c) => {
    throw new UnsupportedError(`TFLite op ${c.opName}`, `'${outName(c)}': ${why}`);
  };

export const TFLITE_READ_OPS: Record<string, Converter> = {
  CONV_2D: conv2d,
  DEPTHWISE_CONV_2D: depthwiseConv2d,
  TRANSPOSE_CONV: transposeConv,
  FULLY_CONNECTED: fullyConnected,
  AVERAGE_POOL_2D: pool('AveragePool'),
  MAX_POOL_2D: pool('MaxPool'),
  MEAN: reduce('ReduceMean'),
  SUM: reduce('ReduceSum'),
  REDUCE_MAX: reduce('ReduceMax'),
  REDUCE_MIN: reduce('ReduceMin'),
  REDUCE_PROD: reduce('ReduceProd'),
  SOFTMAX: softmax,
  LOG_SOFTMAX: unary('LogSoftmax', () => ({ axis: int(-1) })),
  LOGISTIC: unary('Sigmoid'),
  TANH: unary('Tanh'),
  RELU: unary('Relu'),
  RELU6: (c) => {
    const y = floatOut(c, 0);
    activation(c, ActivationFunctionType.RELU6, fin(c, 0), y);
    finish(c, 0, y);
  },
  RELU_N1_TO_1: (c) => {
    const y = floatOut(c, 0);
    activation(c, ActivationFunctionType.RELU_N1_TO_1, fin(c, 0), y);
    finish(c, 0, y);
  },
  LEAKY_RELU: unary('LeakyRelu', (c) => ({ alpha: float(options(c, BuiltinOptions.LeakyReluOptions, () => new LeakyReluOptions())?.alpha() ?? 0.2) })),
  PRELU: elementwise('PRelu', () => ActivationFunctionType.NONE),
  HARD_SWISH: unary('HardSwish'),
  ELU: unary('Elu'),
  GELU: gelu,
  ADD: elementwise('Add', (c) => fusedOf(options(c, BuiltinOptions.AddOptions, () => new AddOptions())), (c) => potScaleInt16(c, options(c, BuiltinOptions.AddOptions, () => new AddOptions()))),
  SUB: elementwise('Sub', (c) => fusedOf(options(c, BuiltinOptions.SubOptions, () => new SubOptions())), (c) => potScaleInt16(c, options(c, BuiltinOptions.SubOptions, () => new SubOptions()))),
  MUL: elementwise('Mul', (c) => fusedOf(options(c, BuiltinOptions.MulOptions, () => new MulOptions()))),
  DIV: elementwise('Div', (c) => fusedOf(options(c, BuiltinOptions.DivOptions, () => new DivOptions()))),
  MAXIMUM: elementwise('Max', () => ActivationFunctionType.NONE),
  MINIMUM: elementwise('Min', () => ActivationFunctionType.NONE),
  POW: elementwise('Pow', () => ActivationFunctionType.NONE),
  ABS: unary('Abs'),
  EXP: unary('Exp'),
  LOG: unary('Log'),
  SQRT: unary('Sqrt'),
  NEG: unary('Neg'),
  FLOOR: unary('Floor'),
  CEIL: unary('Ceil'),
  SIN: unary('Sin'),
  COS: unary('Cos'),
  RSQRT: (c) => {
    const s = c.b.fresh(`${outName(c)}_sqrt`);
    c.b.node('Sqrt', [fin(c, 0)], [s]);
    const y = floatOut(c, 0);
    c.b.node('Reciprocal', [s], [y]);
    finish(c, 0, y);
  },
  SQUARE: (c) => {
    const x = fin(c, 0);
    const y = floatOut(c, 0);
    c.b.node('Mul', [x, x], [y]);
    finish(c, 0, y);
  },
  CONCATENATION: concatenation,
  RESHAPE: reshape,
  PAD: padConverter,
  PADV2: padConverter,
  TRANSPOSE: transpose,
  RESIZE_BILINEAR: resize('linear'),
  RESIZE_NEAREST_NEIGHBOR: resize('nearest'),
  QUANTIZE: quantize,
  DEQUANTIZE: dequantize,
  STRIDED_SLICE: stridedSlice,
  SLICE: slice,
  SPLIT: split,
  SQUEEZE: squeeze,
  EXPAND_DIMS: expandDims,
  GATHER: gather,
  BATCH_MATMUL: batchMatMul,
  PACK: pack,
  DEPTH_TO_SPACE: space('DepthToSpace'),
  SPACE_TO_DEPTH: space('SpaceToDepth'),
  SVDF: svdf,
  UNIDIRECTIONAL_SEQUENCE_LSTM: (c) => (isQuantizedLstm(c) ? quantizedLstm(c) : unidirectionalSequenceLstm(c)),
  BIDIRECTIONAL_SEQUENCE_LSTM: bidirectionalSequenceLstm,
  UNIDIRECTIONAL_SEQUENCE_RNN: unidirectionalSequenceRnn,
  BIDIRECTIONAL_SEQUENCE_RNN: bidirectionalSequenceRnn,
  RNN: rnn,
  LSTM: lstm,
};
