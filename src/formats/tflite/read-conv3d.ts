// TFLite CONV_3D / CONV_3D_TRANSPOSE -> IR, and the transposed convolution whose output_shape is
// computed when the model runs (TRANSPOSE_CONV too). CONV_3D's weights are [kD, kH, kW, I, O]
// (nnport's HWIO), CONV_3D_TRANSPOSE's [kD, kH, kW, O, I] (HWOI); both run float32 only in the
// interpreter and have no groups (its Prepare checks the channels), so quantized or grouped files
// are refused by name.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { Conv3DOptions } from '../generated/tflite/conv3-doptions.js';
import { Padding } from '../generated/tflite/padding.js';
import type { OpContext } from './read.js';
import { fin, finish, floatOut, has, int, ints, isDynamic, options, outName, outTensor, scratch, str, tensor, type Converter } from './ops.js';

function conv3dOptions(c: OpContext): Conv3DOptions {
  const o = options(c, BuiltinOptions.Conv3DOptions, () => new Conv3DOptions());
  if (!o) throw new FormatError(`${c.opName} '${outName(c)}' has no Conv3DOptions`, { file: c.b.file });
  const all = [o.strideD(), o.strideH(), o.strideW(), o.dilationDFactor(), o.dilationHFactor(), o.dilationWFactor()];
  if (all.some((v) => v < 1)) throw new FormatError(`${c.opName} '${outName(c)}': strides [${all.slice(0, 3).join(', ')}] and dilations [${all.slice(3).join(', ')}] must be at least 1`, { file: c.b.file });
  // the float kernels clamp to the activation's range (CalculateActivationRange): a TANH or SIGN_BIT there is ignored
  const act = o.fusedActivationFunction();
  if (![ActivationFunctionType.NONE, ActivationFunctionType.RELU, ActivationFunctionType.RELU6, ActivationFunctionType.RELU_N1_TO_1].includes(act)) {
    throw new UnsupportedError(`TFLite ${c.opName} with fused ${ActivationFunctionType[act] ?? act}`, `'${outName(c)}' in ${c.b.file}: the interpreter's kernel applies only ReLU-type clamps`);
  }
  return o;
}

/** The interpreter's CONV_3D / CONV_3D_TRANSPOSE (as tfjs-tflite runs them) take float32 only. */
function float3d(c: OpContext, indices: number[]): void {
  for (const i of indices) {
    if (!has(c, i)) continue;
    const t = tensor(c, i);
    if (t.quant || t.dtype !== 'float32') throw new UnsupportedError(`TFLite ${c.opName} of ${t.quant ? 'quantized' : t.dtype} tensors`, `'${t.name}' in ${c.b.file}: nnport reads float32 3-D convolutions only`);
  }
}

function rank5(c: OpContext, i: number, what: string): number[] {
  const t = tensor(c, i);
  if (t.shape.length !== 5) throw new FormatError(`${c.opName} '${outName(c)}': ${what} '${t.name}' has shape [${t.shape.join(', ')}], expected rank 5`, { file: c.b.file });
  return t.shape;
}

const autoPad = (p: Padding): Attr => str(p === Padding.SAME ? 'SAME_UPPER' : 'VALID');

const conv3d: Converter = (c) => {
  const o = conv3dOptions(c);
  float3d(c, [0, 1, 2]);
  const xs = rank5(c, 0, 'input');
  const [kd, kh, kw, inCh, outCh] = rank5(c, 1, 'weights') as [number, number, number, number, number];
  // the interpreter checks input channels == the weights' I: no groups
  if (!isDynamic(tensor(c, 0), 4) && xs[4] !== inCh) throw new UnsupportedError(`grouped TFLite CONV_3D (input channels ${xs[4]}, weights for ${inCh})`, `'${outName(c)}' in ${c.b.file}: TFLite's CONV_3D has no groups`);
  if (has(c, 2) && tensor(c, 2).shape.reduce((p, d) => p * d, 1) !== outCh) throw new FormatError(`CONV_3D '${outName(c)}': bias '${tensor(c, 2).name}' of shape [${tensor(c, 2).shape.join(', ')}] for ${outCh} output channels`, { file: c.b.file });
  const strides = [o.strideD(), o.strideH(), o.strideW()];
  const dilations = [o.dilationDFactor(), o.dilationHFactor(), o.dilationWFactor()];
  // TF's SAME over static dims as explicit pads where dilated (onnxruntime takes no SAME_UPPER with dilations)
  const x = tensor(c, 0);
  const fixed = [1, 2, 3].every((i) => !isDynamic(x, i));
  let window: Record<string, Attr> = { auto_pad: autoPad(o.padding()) };
  if (o.padding() === Padding.SAME && fixed && dilations.some((d) => d > 1)) {
    const total = [0, 1, 2].map((i) => Math.max((Math.ceil(xs[1 + i]! / strides[i]!) - 1) * strides[i]! + ([kd, kh, kw][i]! - 1) * dilations[i]! + 1 - xs[1 + i]!, 0));
    window = { pads: ints([...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))]) };
  }
  const act = o.fusedActivationFunction();
  const y = floatOut(c, 0, act);
  const inputs = [fin(c, 0), fin(c, 1)];
  if (has(c, 2)) inputs.push(fin(c, 2));
  c.b.node(
    'Conv',
    inputs,
    [y],
    {
      kernel_layout: str('HWIO'),
      kernel_shape: ints([kd, kh, kw]),
      strides: ints(strides),
      dilations: ints(dilations),
      group: int(1),
      ...window,
    },
    'nnport',
  );
  finish(c, 0, y, act);
};

/** What a transposed conv needs besides its output_shape input (index `shapeAt`). */
export interface TransposedConv {
  x: string;
  weights: string;
  layout: 'HWOI' | 'OHWI';
  bias?: string;
  kernel: number[];
  strides: number[];
  dilations: number[];
  padding: Padding;
  act: ActivationFunctionType;
}

/**
 * A transposed conv whose output_shape input (int32 [N, d1..dk, O]) is read when the model runs:
 * TFLite pads the start of each spatial dim by floor(max(full - out, 0) / 2) (SAME; 0 for VALID),
 * full = (in-1)·s + (k-1)·d + 1, and keeps `out` rows, the ones past the full output holding only
 * the bias. As ONNX: the full (VALID, no bias) ConvTranspose, zero rows appended where `out` reaches
 * past it, a Slice of the `out` rows from that start (all sizes computed at run time), the bias added.
 */
export function transposeConvAtRunTime(c: OpContext, shapeAt: number, t: TransposedConv): void {
  const k = t.kernel.length;
  const s = tensor(c, shapeAt);
  if (s.shape.length !== 1 || s.shape[0] !== k + 2) throw new FormatError(`${c.opName} '${outName(c)}': output_shape '${s.name}' has shape [${s.shape.join(', ')}], expected [${k + 2}]`, { file: c.b.file });
  const { tmp, node } = scratch(c);
  const full = tmp('full');
  c.b.node(
    'ConvTranspose',
    [t.x, t.weights],
    [full],
    { kernel_layout: str(t.layout), kernel_shape: ints(t.kernel), strides: ints(t.strides), dilations: ints(t.dilations), pads: ints(new Array<number>(2 * k).fill(0)) },
    'nnport',
  );
  const spatial = (v: string, tag: string) => node('Slice', [v, c.b.int64s([1], 'starts'), c.b.int64s([k + 1], 'ends')], tag);
  const want = spatial(node('Cast', [s.name], 'output_shape_int64', { to: int(7) }), 'output_spatial');
  const have = spatial(node('Shape', [full], 'full_shape'), 'full_spatial');
  const zeros = c.b.int64s(new Array<number>(k).fill(0), 'zeros');
  const start = t.padding === Padding.SAME ? node('Div', [node('Max', [node('Sub', [have, want], 'excess'), zeros], 'total_padding'), c.b.int64s([2], 'two')], 'pad_before') : zeros;
  const end = node('Add', [start, want], 'crop_end');
  const short = node('Max', [node('Sub', [end, have], 'past_full'), zeros], 'rows_after');
  const zero1 = c.b.int64s([0], 'zero');
  const pads = node('Concat', [c.b.int64s(new Array<number>(k + 3).fill(0), 'pads_before'), short, zero1], 'pads', { axis: int(0) });
  const padded = node('Pad', [full, pads], 'padded');
  const axes = c.b.int64s(Array.from({ length: k }, (_, i) => i + 1), 'axes');
  const act = t.act;
  const y = floatOut(c, 0, act);
  if (t.bias) {
    const cropped = node('Slice', [padded, start, end, axes], 'cropped');
    c.b.node('Add', [cropped, t.bias], [y]);
  } else {
    c.b.node('Slice', [padded, start, end, axes], [y]);
  }
  finish(c, 0, y, act);
}

const conv3dTranspose: Converter = (c) => {
  const o = conv3dOptions(c);
  float3d(c, [1, 2, 3]);
  const xs = rank5(c, 2, 'input');
  const [kd, kh, kw, outCh, inCh] = rank5(c, 1, 'weights') as [number, number, number, number, number];
  const x = tensor(c, 2);
  if (!isDynamic(x, 4) && xs[4] !== inCh) throw new FormatError(`CONV_3D_TRANSPOSE '${outName(c)}': input '${x.name}' has ${xs[4]} channels, weights take ${inCh}`, { file: c.b.file });
  const out = outTensor(c);
  if (out.shape.length === 5 && !isDynamic(out, 4) && out.shape[4] !== outCh) throw new UnsupportedError(`grouped TFLite CONV_3D_TRANSPOSE (output channels ${out.shape[4]}, weights for ${outCh})`, `'${out.name}' in ${c.b.file}: TFLite's CONV_3D_TRANSPOSE has no groups`);
  if (has(c, 3) && tensor(c, 3).shape.reduce((p, d) => p * d, 1) !== outCh) throw new FormatError(`CONV_3D_TRANSPOSE '${out.name}': bias '${tensor(c, 3).name}' of shape [${tensor(c, 3).shape.join(', ')}] for ${outCh} output channels`, { file: c.b.file });
  const kernel = [kd, kh, kw];
  const strides = [o.strideD(), o.strideH(), o.strideW()];
  const dilations = [o.dilationDFactor(), o.dilationHFactor(), o.dilationWFactor()];
  // tfjs-tflite's interpreter runs a dilated one as if undilated (its optimized kernel has no dilation and
  // older builds do not fall back to the reference one), and TF's CPU conv3d_transpose takes no dilation
  if (dilations.some((d) => d !== 1)) throw new UnsupportedError(`dilated TFLite CONV_3D_TRANSPOSE (dilations [${dilations.join(', ')}])`, `'${out.name}' in ${c.b.file}: interpreters disagree on what it computes`);
  const act = o.fusedActivationFunction();
  const t: TransposedConv = { x: fin(c, 2), weights: fin(c, 1), layout: 'HWOI', bias: has(c, 3) ? fin(c, 3) : undefined, kernel, strides, dilations, padding: o.padding(), act };
  const shapeT = tensor(c, 0);
  const outShape = shapeT.data?.toNumbers();
  if (outShape && (outShape.length !== 5 || outShape.some((d) => d < 0))) throw new FormatError(`CONV_3D_TRANSPOSE '${out.name}': output_shape [${outShape.join(', ')}]`, { file: c.b.file });
  // a constant output_shape over static spatial dims that crops the full output: ONNX's explicit pads
  const full = [0, 1, 2].map((i) => (xs[1 + i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1);
  const total = outShape ? full.map((f, i) => f - outShape[1 + i]!) : [];
  const fits = !!outShape && [1, 2, 3].every((i) => !isDynamic(x, i)) && total.every((v) => v >= 0 && (o.padding() === Padding.SAME || v === 0));
  if (!fits) return transposeConvAtRunTime(c, 0, t);
  const begin = total.map((v) => Math.floor(v / 2));
  const y = floatOut(c, 0, act);
  c.b.node(
    'ConvTranspose',
    [t.x, t.weights, ...(t.bias ? [t.bias] : [])],
    [y],
    { kernel_layout: str('HWOI'), kernel_shape: ints(kernel), strides: ints(strides), dilations: ints(dilations), pads: ints([...begin, ...total.map((v, i) => v - begin[i]!)]) },
    'nnport',
  );
  finish(c, 0, y, act);
};

export const TFLITE_READ_CONV3D_OPS: Record<string, Converter> = {
  CONV_3D: conv3d,
  CONV_3D_TRANSPOSE: conv3dTranspose,
};
