// TFLite's CONV_3D has no groups and TFLite has no depthwise 3-D conv, yet video nets use both: X3D's
// channel-wise 3x3x3 convs (groups = channels, every bottleneck), MViT-v2's pooling attention (q / k / v
// pooled by a depthwise Conv3d). On the channels-last graph (after the layout pass and BatchNorm folding,
// before quantization, so int8 calibrates the new values), a grouped 3-D Conv becomes ops TFLite has:
//   depthwise (one input channel per group, any channel multiplier): the input padded along D once, then
//     for each temporal tap kd the frames it reads (every sd-th from kd·dd: a strided Slice) as a batch of
//     images [N·D', H, W, C] (a Reshape of NDHWC, no TRANSPOSE), the 2-D depthwise conv with that tap's
//     kH x kW weights, stride, dilation and padding of H and W (DEPTHWISE_CONV_2D), the taps added, and a
//     Reshape back to [N, D', H', W', C·M]. The bias goes with one tap's conv: the input, not the output,
//     is padded, so each tap's conv covers every output frame and the bias is added once. A tap that reads
//     only padding frames (a 3-frame kernel over one frame) is left out.
//   otherwise: the channels sliced into the groups, one ungrouped CONV_3D per group, concatenated.
// CONV_3D runs float32 only (the writer refuses it with quantized activations): with integer activations
// (int8, int16x8) every 3-D Conv, ungrouped or one group's, is written as the depthwise one is, a CONV_2D
// per temporal tap summed, so that X3D's 1x1x1 convs (one tap: a CONV_2D over the frames) run integer too.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../../ir/graph.js';
import { forwardAxis, type AutoPad } from '../../ir/ops/conv.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';
import type { NumericArray } from '../../ir/dtypes.js';
import { cancelReshapePairs } from '../../passes/cancel-reshapes.js';
import { permuteTensor } from '../../passes/layout.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });

export interface LowerConv3dOptions {
  /** activations are quantized (int8, int16x8): ungrouped 3-D Convs become CONV_2D taps too (CONV_3D is float32 only) */
  integer?: boolean;
}

export function lowerGroupedConv3d(g: Graph, options: LowerConv3dOptions = {}): Graph {
  const rw = new GraphRewriter(g);
  const lowered = (n: Node): boolean => isConv3d(rw, n) && (options.integer || attrInt(n, 'group', 1) > 1);
  if (!g.nodes.some(lowered)) return g;
  const shapes = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 17;
  for (const n of g.nodes) {
    if (!lowered(n)) continue;
    const x = n.inputs[0]!;
    const y = n.outputs[0]!;
    const inShape = shapes.get(x)?.shape;
    const outShape = shapes.get(y)?.shape;
    const fixed = (s: typeof inShape): s is number[] => !!s && s.length === 5 && s.every((d) => typeof d === 'number');
    const what = attrInt(n, 'group', 1) > 1 ? 'grouped 3-D Conv' : '3-D Conv with integer activations';
    if (!fixed(inShape) || !fixed(outShape)) throw new UnsupportedError(`${what} of a value with dims known only at run time in a TFLite file`, `node '${n.name}': its lowering to TFLite's 2-D convs / ungrouped CONV_3D is written for fixed sizes; give the input's size with --input-shape`);
    const w = rw.constant(n.inputs[1]!);
    if (!w) throw new UnsupportedError(`${what} with weights computed at run time in a TFLite file`, `node '${n.name}': TFLite's CONV_3D has no groups and runs float32 only; its lowering to 2-D convs needs the weights`);
    const layout = attrString(n, 'kernel_layout', 'HWIO');
    // HWIO (kD, kH, kW, I/g, O) or OHWI (O, kD, kH, kW, I/g)
    if (layout !== 'HWIO' && layout !== 'OHWI') throw new UnsupportedError(`${what} of kernel_layout '${layout}' in a TFLite file`, `node '${n.name}'`);
    const hwio = layout === 'HWIO' ? w : permuteTensor(w, [1, 2, 3, 4, 0]);
    const bias = n.inputs[2] || undefined;
    const group = attrInt(n, 'group', 1);
    const strides = attrInts(n, 'strides', [1, 1, 1]);
    const dilations = attrInts(n, 'dilations', [1, 1, 1]);
    const pads = explicitPads(n, inShape.slice(1, 4), hwio.shape.slice(0, 3), strides, dilations);
    const conv: Conv3d = { where: n.name || y, inShape, outShape, hwio, strides, dilations, pads, opset };
    rw.removeNode(n);
    if (group === 1 || (hwio.shape[3] === 1 && group === inShape[4])) taps(rw, conv, x, bias, group, y, activationAfter(rw, y));
    else groups(rw, conv, x, bias, group, options.integer === true, y);
  }
  rw.sweep();
  // (one lowered conv's frames Reshape and the next one's images Reshape undo each other: X3D's channel-wise conv into its 1x1x1 conv)
  return cancelReshapePairs(rw.toGraph()).graph;
}

/**
 * The ReLU / Clip that alone reads `y`: it moves before the taps' final Reshape (elementwise, it commutes
 * with it), where TFLite fuses it into the last ADD or conv (the conv's own, as in CONV_3D) and int8
 * calibrates the sum after it, not the range below 0 it cuts.
 */
export function activationAfter(rw: GraphRewriter, y: string): Node | undefined {
  const readers = rw.consumers(y);
  const a = readers[0];
  if (readers.length !== 1 || !a || rw.isGraphOutput(y) || rw.isReadBySubgraph(y)) return undefined;
  return (a.opType === 'Relu' || a.opType === 'Clip') && (a.domain === '' || a.domain === 'ai.onnx') && a.inputs[0] === y && a.inputs.slice(1).every((v) => !v || rw.constant(v)) ? a : undefined;
}

/** A 3-D Conv of fixed sizes, its padding explicit. */
interface Conv3d {
  /** a name the new nodes are named after */
  where: string;
  inShape: number[];
  outShape: number[];
  /** the weights (kD, kH, kW, I/g, O) */
  hwio: Tensor;
  strides: number[];
  dilations: number[];
  /** [begin D, H, W, end D, H, W] */
  pads: number[];
  opset: number;
}

/** A channels-last 3-D Conv (the layout pass' nnport::Conv of 5-D weights). */
const isConv3d = (rw: GraphRewriter, n: Node): boolean => n.opType === 'Conv' && n.domain === 'nnport' && (rw.constant(n.inputs[1] ?? '')?.rank ?? rw.valueInfoOf(n.inputs[1] ?? '')?.shape?.length) === 5;

/** [begin D, H, W, end D, H, W] pads of a Conv over fixed sizes, auto_pad resolved (SAME_UPPER puts the odd one at the end). */
function explicitPads(n: Node, spatial: number[], kernel: number[], strides: number[], dilations: number[]): number[] {
  const autoPad = attrString(n, 'auto_pad', 'NOTSET') as AutoPad;
  if (autoPad === 'NOTSET') return attrInts(n, 'pads', [0, 0, 0, 0, 0, 0]);
  // VALID / SAME_*: the pads shape inference gives them (forwardAxis)
  const axes = spatial.map((d, i) => forwardAxis(d, kernel[i]!, strides[i]!, dilations[i]!, 0, 0, autoPad));
  return [...axes.map((a) => a[1]), ...axes.map((a) => a[2])];
}

export function int64(rw: GraphRewriter, name: string, values: number[]): string {
  return rw.addInitializer(name, Tensor.int64([values.length], values));
}

/** x[..., starts:ends:steps, ...] along `axes` (ONNX Slice: inputs from opset 10, attributes before, which have no steps). */
export function slice(rw: GraphRewriter, where: string, x: string, opset: number, starts: number[], ends: number[], axes: number[], steps: number[]): string {
  if (opset >= 10) return rw.add({ opType: 'Slice', name: where, inputs: [x, int64(rw, `${where}/starts`, starts), int64(rw, `${where}/ends`, ends), int64(rw, `${where}/axes`, axes), int64(rw, `${where}/steps`, steps)] });
  if (steps.every((s) => s === 1)) return rw.add({ opType: 'Slice', name: where, inputs: [x], attrs: { starts: ints(starts), ends: ints(ends), axes: ints(axes) } });
  // (an opset-9 graph, PyTorch's older exports: every sd-th frame as a GATHER of their indices)
  if (axes.length !== 1) throw new UnsupportedError('a strided slice of several axes in an opset < 10 graph', `'${where}'`);
  const indices = Array.from({ length: Math.ceil((ends[0]! - starts[0]!) / steps[0]!) }, (_, i) => starts[0]! + i * steps[0]!);
  return rw.add({ opType: 'Gather', name: where, inputs: [x, int64(rw, `${where}/indices`, indices)], attrs: { axis: { type: 'int', value: axes[0]! } } });
}

/** x zero-padded by ONNX pads (begins, then ends): the pads an input from opset 11, an attribute before. */
export function pad(rw: GraphRewriter, where: string, x: string, opset: number, pads: number[]): string {
  if (opset >= 11) return rw.add({ opType: 'Pad', name: where, inputs: [x, int64(rw, `${where}/pads`, pads)], attrs: { mode: { type: 'string', value: 'constant' } } });
  return rw.add({ opType: 'Pad', name: where, inputs: [x], attrs: { mode: { type: 'string', value: 'constant' }, pads: ints(pads) } });
}

/**
 * The 3-D Conv (ungrouped, or depthwise: group = input channels) as one 2-D conv per temporal tap over the
 * frames it reads as a batch of images, the taps added, written to `y` (a fresh value when undefined); returns it.
 * An `activation` reading `y` (activationAfter) is applied to the sum instead, the Reshape writing its output.
 */
function taps(rw: GraphRewriter, c: Conv3d, x: string, bias: string | undefined, group: number, y?: string, activation?: Node): string {
  const { where, inShape, outShape, hwio, strides, dilations, pads, opset } = c;
  const [kd, kh, kw, perGroupIn, o] = hwio.shape as [number, number, number, number, number];
  const [batch, frames] = inShape as [number, number];
  const [sd, dd] = [strides[0]!, dilations[0]!];
  const [db, de] = [pads[0]!, pads[3]!];
  const outFrames = outShape[1]!;
  if (outFrames !== Math.floor((frames + db + de - (kd - 1) * dd - 1) / sd) + 1) throw new UnsupportedError('3-D Conv whose output frames its pads do not give, in a TFLite file', `'${where}'`);
  // the taps that read at least one real frame (padded frame index kd·dd + sd·t, real from db to db + D - 1)
  const kept = Array.from({ length: kd }, (_, k) => k).filter((k) => Array.from({ length: outFrames }, (_, t) => k * dd + sd * t).some((f) => f >= db && f < db + frames));
  if (!kept.length) throw new UnsupportedError('3-D Conv that reads only padding, in a TFLite file', `'${where}'`);
  const padded = db || de ? pad(rw, `${where}/pad_frames`, x, opset, [0, db, 0, 0, 0, 0, de, 0, 0, 0]) : x;
  const paddedFrames = frames + db + de;
  const depthwise = group > 1;
  const tapSize = kh * kw * perGroupIn * o;
  const data = hwio.data as NumericArray;
  const convAttrs: Record<string, Attr> = {
    group: { type: 'int', value: group },
    // depthwise (kH, kW, 1, C·M), as the layout pass lays a 2-D one out; else OHWI, as it does for TFLite
    kernel_layout: { type: 'string', value: depthwise ? 'HWIO' : 'OHWI' },
    kernel_shape: ints([kh, kw]),
    strides: ints(strides.slice(1)),
    dilations: ints(dilations.slice(1)),
    pads: ints([pads[1]!, pads[2]!, pads[4]!, pads[5]!]),
  };
  const images = [batch * outFrames, ...inShape.slice(2)];
  const sums: string[] = [];
  for (const [i, k] of kept.entries()) {
    const start = k * dd;
    const end = start + sd * (outFrames - 1) + 1;
    const read = start === 0 && end === paddedFrames && sd === 1 ? padded : slice(rw, `${where}/tap${k}_frames`, padded, opset, [start], [end], [1], [sd]);
    const batchOfImages = rw.add({ opType: 'Reshape', name: `${where}/tap${k}_images`, inputs: [read, int64(rw, `${where}/tap${k}_images_shape`, images)], attrs: {} });
    // tap k of (kD, kH, kW, I/g, O): a contiguous (kH, kW, I/g, O)
    const tap = new Tensor(hwio.dtype, [kh, kw, perGroupIn, o], data.slice(k * tapSize, (k + 1) * tapSize));
    const weights = rw.addInitializer(`${where}/tap${k}_weights`, depthwise ? tap : permuteTensor(tap, [3, 0, 1, 2]));
    const inputs = [batchOfImages, weights, ...(bias && i === 0 ? [bias] : [])];
    const conv = rw.add({ opType: 'Conv', domain: 'nnport', name: `${where}/tap${k}`, inputs, attrs: convAttrs });
    sums.push(i === 0 ? conv : rw.add({ opType: 'Add', name: `${where}/sum${k}`, inputs: [sums[i - 1]!, conv] }));
  }
  let sum = sums[sums.length - 1]!;
  if (activation) {
    rw.removeNode(activation);
    sum = rw.add({ opType: activation.opType, name: activation.name, inputs: [sum, ...activation.inputs.slice(1)], attrs: activation.attrs });
    y = activation.outputs[0]!;
  }
  return rw.addNode({ opType: 'Reshape', name: `${where}/frames`, inputs: [sum, int64(rw, `${where}/frames_shape`, outShape)], ...(y ? { outputs: [y] } : {}), attrs: {} }).outputs[0]!;
}

/** A grouped (not depthwise) 3-D Conv as one ungrouped 3-D Conv per group (CONV_3D, or with `integer` its 2-D taps), concatenated into `y`. */
function groups(rw: GraphRewriter, c: Conv3d, x: string, bias: string | undefined, group: number, integer: boolean, y: string): void {
  const { where, inShape, outShape, hwio, opset } = c;
  const [kd, kh, kw, perGroupIn, o] = hwio.shape as [number, number, number, number, number];
  if (inShape[4] !== group * perGroupIn || o % group !== 0) throw new UnsupportedError('grouped 3-D Conv whose channels do not divide into its groups', `'${where}': ${inShape[4]} input and ${o} output channels in ${group} groups`);
  const perGroupOut = o / group;
  // OHWI (O, kD, kH, kW, I/g): each group's output channels are a run of rows
  const ohwi = permuteTensor(hwio, [4, 0, 1, 2, 3]);
  const rows = kd * kh * kw * perGroupIn;
  const data = ohwi.data as NumericArray;
  const biasData = bias ? rw.constant(bias) : undefined;
  if (bias && !biasData) throw new UnsupportedError('grouped 3-D Conv with a bias computed at run time in a TFLite file', `'${where}'`);
  const parts: string[] = [];
  for (let k = 0; k < group; k++) {
    const channels = slice(rw, `${where}/group${k}_channels`, x, opset, [k * perGroupIn], [(k + 1) * perGroupIn], [4], [1]);
    const weights = new Tensor(ohwi.dtype, [perGroupOut, kd, kh, kw, perGroupIn], data.slice(k * perGroupOut * rows, (k + 1) * perGroupOut * rows));
    const groupBias = biasData ? rw.addInitializer(`${where}/group${k}_bias`, new Tensor(biasData.dtype, [perGroupOut], (biasData.data as NumericArray).slice(k * perGroupOut, (k + 1) * perGroupOut))) : undefined;
    if (integer) {
      const one: Conv3d = { ...c, where: `${where}/group${k}`, inShape: [...inShape.slice(0, 4), perGroupIn], outShape: [...outShape.slice(0, 4), perGroupOut], hwio: permuteTensor(weights, [1, 2, 3, 4, 0]) };
      parts.push(taps(rw, one, channels, groupBias, 1));
      continue;
    }
    const attrs: Record<string, Attr> = { group: { type: 'int', value: 1 }, kernel_layout: { type: 'string', value: 'OHWI' }, kernel_shape: ints([kd, kh, kw]), strides: ints(c.strides), dilations: ints(c.dilations), pads: ints(c.pads) };
    const inputs = [channels, rw.addInitializer(`${where}/group${k}_weights`, weights), ...(groupBias ? [groupBias] : [])];
    parts.push(rw.add({ opType: 'Conv', domain: 'nnport', name: `${where}/group${k}`, inputs, attrs }));
  }
  rw.addNode({ opType: 'Concat', name: `${where}/groups`, inputs: parts, outputs: [y], attrs: { axis: { type: 'int', value: 4 } } });
}
