// A dilated convolution in the form older TF converters write it (tf.nn.atrous_conv2d, and
// `dilation_rate` in some TF paths): SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D (stride 1,
// no dilation, VALID or SAME) -> BATCH_TO_SPACE_ND, with paddings and crops. When it is exactly
// one conv with dilations = block on the unpadded input, the reader emits that conv (one
// channels-last Conv with explicit pads) instead of the three ops' reshuffles. Anything that
// does not fit exactly (other readers of the intermediate tensors, differing quantization, a
// hybrid conv, crops deeper than the pads, shapes that disagree) is left as the three ops.
//
// Why it is exact: SPACE_TO_BATCH_ND puts phase (i, j) of the zero-padded input x_pad in batch
// item (i·bw + j); a stride-1 conv over a phase reads x_pad at steps of b; BATCH_TO_SPACE_ND
// interleaves the phases back, so before cropping z[n] = Σ_t w[t]·x_pad[n + b·t − b·pb] (pb: the
// inner conv's SAME begin pad, zeros outside a phase are zeros outside x_pad). Cropping c0 off the
// front gives a conv of x with dilation b and begin pad p0 − c0 + b·pb (end: p1 − c1 + b·pe). The
// TF GraphDef reader folds the same pattern (tensorflow/space-to-batch.ts) but tracks values of its
// own graph while converting; a format does not import another, so the arithmetic is kept here.
// A dilated 1-D conv (Keras Conv1D with dilation_rate > 1, tf.nn.convolution over one spatial dim)
// is written SPACE_TO_BATCH_ND (block [b], on [N, W, C]) -> EXPAND_DIMS (a unit dim at 1 or 2) ->
// the conv -> SQUEEZE (that dim) -> BATCH_TO_SPACE_ND (RESHAPEs for both when the shapes are
// static): the same arithmetic with block 1, no paddings and no crops on the unit dim; it is read
// as Unsqueeze -> the dilated conv -> Squeeze.
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { Conv2DOptions } from '../generated/tflite/conv2-doptions.js';
import { DepthwiseConv2DOptions } from '../generated/tflite/depthwise-conv2-doptions.js';
import type { Operator } from '../generated/tflite/operator.js';
import { Padding } from '../generated/tflite/padding.js';
import { SqueezeOptions } from '../generated/tflite/squeeze-options.js';
import type { TfliteTensorInfo } from './read.js';
import { sameQuant } from './read.js';

/** One operator of the subgraph, as the reader lists it before converting. */
export interface OpEntry {
  op: Operator;
  name: string;
  /** tensor indices, -1 for an omitted optional input */
  inputs: number[];
  outputs: number[];
}

/** How the conv at `conv` is read instead: on the SPACE_TO_BATCH_ND's input, writing the BATCH_TO_SPACE_ND's output. */
export interface DilatedConv {
  /** the SPACE_TO_BATCH_ND's input tensor */
  input: number;
  /** the BATCH_TO_SPACE_ND's output tensor */
  output: number;
  /** dilation per spatial dim (the block) */
  dilations: [number, number];
  /** ONNX pads: top, left, bottom, right */
  pads: [number, number, number, number];
  /** the 1-D form: the unit dim (1 or 2) the EXPAND_DIMS inserts and the SQUEEZE removes; input and output are 3-D */
  unitAxis?: 1 | 2;
}

export interface DilationPlan {
  /** conv operator index -> the dilated conv it becomes */
  convs: Map<number, DilatedConv>;
  /** the SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND operators (and the 1-D form's EXPAND_DIMS / SQUEEZE) folded into a conv */
  skip: Set<number>;
}

function convOptions(e: OpEntry): { strides: number[]; dilations: number[]; padding: Padding } | undefined {
  if (e.name === 'CONV_2D' && e.op.builtinOptionsType() === BuiltinOptions.Conv2DOptions) {
    const o = e.op.builtinOptions(new Conv2DOptions()) as Conv2DOptions;
    return { strides: [o.strideH(), o.strideW()], dilations: [o.dilationHFactor(), o.dilationWFactor()], padding: o.padding() };
  }
  if (e.name === 'DEPTHWISE_CONV_2D' && e.op.builtinOptionsType() === BuiltinOptions.DepthwiseConv2DOptions) {
    const o = e.op.builtinOptions(new DepthwiseConv2DOptions()) as DepthwiseConv2DOptions;
    return { strides: [o.strideH(), o.strideW()], dilations: [o.dilationHFactor(), o.dilationWFactor()], padding: o.padding() };
  }
  return undefined;
}

const constInts = (t: TfliteTensorInfo | undefined): number[] | undefined => (t?.data && (t.dtype === 'int32' || t.dtype === 'int64') ? t.data.toNumbers() : undefined);

/** The conv window the atrous pattern computes over its [N, H, W, C] input, when it is one dilated conv. */
function foldWindow(
  xShape: number[],
  yShape: number[],
  kernel: number[],
  padding: Padding,
  block: number[],
  paddings: number[],
  crops: number[],
): Pick<DilatedConv, 'dilations' | 'pads'> | undefined {
  if (block.some((b) => b < 1) || paddings.some((p) => p < 0) || crops.some((p) => p < 0)) return undefined;
  if (xShape.length !== 4 || yShape.length !== 4) return undefined;
  const begin: number[] = [];
  const end: number[] = [];
  const outSize: number[] = [];
  for (let i = 0; i < 2; i++) {
    const b = block[i]!;
    const padded = xShape[1 + i]! + paddings[2 * i]! + paddings[2 * i + 1]!;
    if (padded % b) return undefined;
    const phase = padded / b;
    const k = kernel[i]!;
    // TF SAME at stride 1: k − 1 pads, the odd one at the end
    const [pb, pe] = padding === Padding.SAME ? [Math.floor((k - 1) / 2), k - 1 - Math.floor((k - 1) / 2)] : [0, 0];
    const convOutLen = phase + pb + pe - k + 1;
    if (convOutLen < 1) return undefined;
    const full = b * convOutLen;
    const cropped = full - crops[2 * i]! - crops[2 * i + 1]!;
    if (cropped < 1) return undefined;
    begin.push(paddings[2 * i]! - crops[2 * i]! + b * pb);
    end.push(paddings[2 * i + 1]! - crops[2 * i + 1]! + b * pe);
    outSize.push(cropped);
  }
  // negative pads would crop the input: no ONNX Conv says that
  if ([...begin, ...end].some((p) => p < 0)) return undefined;
  // the file's own shapes must agree (the interpreter recomputes them; a file that disagrees keeps its ops)
  if (yShape[1] !== outSize[0] || yShape[2] !== outSize[1] || yShape[0] !== xShape[0]) return undefined;
  return { dilations: [block[0]!, block[1]!], pads: [begin[0]!, begin[1]!, end[0]!, end[1]!] };
}

const withUnit = (shape: number[], axis: number): number[] => [...shape.slice(0, axis), 1, ...shape.slice(axis)];
const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** A RESHAPE whose target is the stored output shape (one entry may be -1): not a computed one. */
function plainReshape(e: OpEntry, to: TfliteTensorInfo, tensors: TfliteTensorInfo[]): boolean {
  const i = e.inputs[1];
  if (i === undefined || i < 0) return true;
  const target = constInts(tensors[i]);
  if (!target || target.length !== to.shape.length) return false;
  return target.filter((d) => d === -1).length <= 1 && target.every((d, k) => d === -1 || d === to.shape[k]);
}

/** The unit dim (1 or 2) an EXPAND_DIMS or a RESHAPE puts into the 3-D `from` to give the 4-D `to`. */
function unitDimInserted(e: OpEntry, from: TfliteTensorInfo, to: TfliteTensorInfo, tensors: TfliteTensorInfo[]): 1 | 2 | undefined {
  if (from.shape.length !== 3 || to.shape.length !== 4) return undefined;
  let axis: number | undefined;
  if (e.name === 'EXPAND_DIMS') {
    const a = e.inputs[1] !== undefined && e.inputs[1] >= 0 ? constInts(tensors[e.inputs[1]]) : undefined;
    if (!a || a.length !== 1) return undefined;
    axis = a[0]! < 0 ? a[0]! + 4 : a[0]!;
  } else if (e.name === 'RESHAPE' && plainReshape(e, to, tensors)) {
    axis = [1, 2].find((k) => sameShape(to.shape, withUnit(from.shape, k)));
  }
  return (axis === 1 || axis === 2) && sameShape(to.shape, withUnit(from.shape, axis)) ? axis : undefined;
}

/** The unit dim (1 or 2) a SQUEEZE (of that one dim) or a RESHAPE takes out of the 4-D `from` to give the 3-D `to`. */
function unitDimRemoved(e: OpEntry, from: TfliteTensorInfo, to: TfliteTensorInfo, tensors: TfliteTensorInfo[]): 1 | 2 | undefined {
  if (from.shape.length !== 4 || to.shape.length !== 3) return undefined;
  let axis: number | undefined;
  if (e.name === 'SQUEEZE') {
    const o = e.op.builtinOptionsType() === BuiltinOptions.SqueezeOptions ? (e.op.builtinOptions(new SqueezeOptions()) as SqueezeOptions) : null;
    const dims = Array.from(o?.squeezeDimsArray() ?? []).map((d) => (d < 0 ? d + 4 : d));
    if (dims.length !== 1) return undefined;
    axis = dims[0];
  } else if (e.name === 'RESHAPE' && plainReshape(e, to, tensors)) {
    axis = [1, 2].find((k) => sameShape(from.shape, withUnit(to.shape, k)));
  }
  return (axis === 1 || axis === 2) && sameShape(from.shape, withUnit(to.shape, axis)) ? axis : undefined;
}

/**
 * The dilated convs of a subgraph in atrous form; `graphOutputs` are the subgraph's output tensors
 * (an intermediate tensor that is one cannot disappear).
 */
export function planDilatedConvs(ops: OpEntry[], tensors: TfliteTensorInfo[], graphOutputs: ReadonlySet<number>): DilationPlan {
  const plan: DilationPlan = { convs: new Map(), skip: new Set() };
  if (!ops.some((e) => e.name === 'SPACE_TO_BATCH_ND')) return plan;
  const readers = new Map<number, number[]>();
  ops.forEach((e, k) => {
    for (const i of e.inputs) if (i >= 0) (readers.get(i) ?? readers.set(i, []).get(i)!).push(k);
  });
  // an intermediate tensor read by exactly one operator, once, and not a graph output or variable
  const onlyReader = (t: number): number | undefined => {
    const r = readers.get(t);
    if (!r || r.length !== 1 || graphOutputs.has(t) || tensors[t]!.isVariable) return undefined;
    return r[0];
  };
  // the one operator after `k` that reads its only output, as its first input only
  const next = (k: number): number | undefined => {
    const e = ops[k]!;
    if (e.outputs.length !== 1) return undefined;
    const t = e.outputs[0]!;
    const kn = onlyReader(t);
    if (kn === undefined || kn <= k || ops[kn]!.inputs[0] !== t || ops[kn]!.inputs.slice(1).includes(t)) return undefined;
    return kn;
  };
  const out = (k: number): TfliteTensorInfo => tensors[ops[k]!.outputs[0]!]!;

  ops.forEach((stb, ks) => {
    if (stb.name !== 'SPACE_TO_BATCH_ND' || stb.inputs.length < 3 || stb.inputs.slice(0, 3).some((i) => i < 0)) return;
    let kc = next(ks);
    if (kc === undefined) return;
    const x = tensors[stb.inputs[0]!]!;
    const mid = out(ks);
    // the 1-D form: EXPAND_DIMS between SPACE_TO_BATCH_ND and the conv, SQUEEZE after it (with static
    // shapes TF's converter writes both as RESHAPE: one that only inserts or removes the unit dim)
    let unit: { axis: 1 | 2; expand: number; squeeze: number } | undefined;
    if (ops[kc]!.name === 'EXPAND_DIMS' || ops[kc]!.name === 'RESHAPE') {
      const ke = kc;
      const axis = unitDimInserted(ops[ke]!, mid, out(ke), tensors);
      // a per-axis activation grid would move with the unit dim
      if (axis === undefined || x.shape.length !== 3 || !sameQuant(mid, out(ke)) || x.quant?.axis !== undefined) return;
      kc = next(ke);
      if (kc === undefined) return;
      const kq = next(kc);
      if (kq === undefined || unitDimRemoved(ops[kq]!, out(kc), out(kq), tensors) !== axis || !sameQuant(out(kc), out(kq))) return;
      unit = { axis, expand: ke, squeeze: kq };
    }
    const conv = ops[kc]!;
    const o = convOptions(conv);
    if (!o || o.strides.some((s) => s !== 1) || o.dilations.some((d) => d !== 1)) return;
    const kb = next(unit?.squeeze ?? kc);
    if (kb === undefined) return;
    const bts = ops[kb]!;
    if (bts.name !== 'BATCH_TO_SPACE_ND' || bts.inputs.length < 3 || bts.inputs.slice(1, 3).some((i) => i < 0) || bts.outputs.length !== 1) return;
    if (plan.skip.has(ks) || plan.skip.has(kb)) return;

    const convOut = out(kc);
    const y = out(kb);
    const w = conv.inputs[1] !== undefined && conv.inputs[1] >= 0 ? tensors[conv.inputs[1]] : undefined;
    if (!w || w.shape.length !== 4) return;
    // a hybrid conv quantizes each batch item on the fly: per phase after SPACE_TO_BATCH_ND, per image once folded
    if (x.dtype === 'float32' && !x.quant && (w.dtype === 'int8' || w.dtype === 'uint8')) return;
    // the reshuffles move integers: folding keeps each side's parameters only when they agree
    if (!sameQuant(x, mid) || !sameQuant(convOut, y)) return;

    const block = constInts(tensors[stb.inputs[1]!]);
    const paddings = constInts(tensors[stb.inputs[2]!]);
    const block2 = constInts(tensors[bts.inputs[1]!]);
    const crops = constInts(tensors[bts.inputs[2]!]);
    if (!block || !paddings || !block2 || !crops || block.join() !== block2.join()) return;
    // CONV_2D's OHWI and DEPTHWISE_CONV_2D's (1, kh, kw, C·M) both keep the kernel in dims 1 and 2
    const kernel = [w.shape[1]!, w.shape[2]!];
    let window: Pick<DilatedConv, 'dilations' | 'pads'> | undefined;
    if (unit) {
      if (block.length !== 1 || paddings.length !== 2 || crops.length !== 2 || y.shape.length !== 3) return;
      // the unit dim: block 1, no paddings or crops
      const spread = (v: number[], none: number[]) => (unit!.axis === 1 ? [...none, ...v] : [...v, ...none]);
      window = foldWindow(withUnit(x.shape, unit.axis), withUnit(y.shape, unit.axis), kernel, o.padding, spread(block, [1]), spread(paddings, [0, 0]), spread(crops, [0, 0]));
    } else {
      if (block.length !== 2 || paddings.length !== 4 || crops.length !== 4) return;
      window = foldWindow(x.shape, y.shape, kernel, o.padding, block, paddings, crops);
    }
    if (!window) return;
    plan.convs.set(kc, { input: stb.inputs[0]!, output: bts.outputs[0]!, ...window, ...(unit ? { unitAxis: unit.axis } : {}) });
    for (const k of [ks, kb, ...(unit ? [unit.expand, unit.squeeze] : [])]) plan.skip.add(k);
  });
  return plan;
}
