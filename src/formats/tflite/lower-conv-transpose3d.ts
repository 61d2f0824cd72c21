// TFLite's CONV_3D_TRANSPOSE runs float32 only, yet 3-D U-Net / V-Net decoders and video generators upsample
// with ConvTranspose3d. With integer activations (int8, int16x8), on the channels-last graph (after the layout
// pass and BatchNorm folding, before quantization, so that int8 calibrates the new values), a 3-D
// ConvTranspose becomes 2-D TRANSPOSE_CONVs, as lower-grouped-conv3d.ts does for Conv3d:
//   temporal tap k's 2-D transposed conv (its kH x kW x O x I weights, the H / W stride) of every input frame
//   (the frames as a batch of images, a RESHAPE of NDHWC) lands on output frame t·sd + k·dd. Writing
//   k·dd = a·sd + r, the taps of one phase r land on frames q·sd + r, shifted by a frames: each tap's frames are
//   padded by a in front (PAD along D), the phase's taps added; the phases, each [N, Q, H'·W', O], concatenated
//   along axis 2 are the frames interleaved ([N, Q, sd, H'·W', O] is [N, Q·sd, H', W', O]: a RESHAPE, no
//   TRANSPOSE); a phase no tap reaches is zero rows of the PAD of its neighbour. The pads and output_padding of D
//   (and of H / W where TF's SAME does not give them) are a SLICE of the interleaved frames. The bias goes with
//   one tap of each phase where that tap reaches every frame the SLICE keeps (a kernel 4 stride 2 or kernel 2
//   stride 2 upsampling), else an ADD after the interleaving. A temporal tap whose weights are all zero (the
//   zero-dilated kernel conv-transpose-valid.ts makes of a dilated one) or that reaches only cropped frames is
//   left out. Groups arrive here as one block-diagonal kernel (conv-transpose-valid.ts).
// Float32 keeps CONV_3D_TRANSPOSE.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';
import type { NumericArray } from '../../ir/dtypes.js';
import { cancelReshapePairs } from '../../passes/cancel-reshapes.js';
import { tfliteSameFits } from '../../passes/conv-transpose-valid.js';
import { permuteTensor } from '../../passes/layout.js';
import { activationAfter, int64, pad, slice } from './lower-grouped-conv3d.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });

/** A channels-last 3-D ConvTranspose (the layout pass' nnport::ConvTranspose of 5-D weights). */
const isConvTranspose3d = (rw: GraphRewriter, n: Node): boolean =>
  n.opType === 'ConvTranspose' && n.domain === 'nnport' && (rw.constant(n.inputs[1] ?? '')?.rank ?? rw.valueInfoOf(n.inputs[1] ?? '')?.shape?.length) === 5;

export function lowerConvTranspose3d(g: Graph): Graph {
  const rw = new GraphRewriter(g);
  if (!g.nodes.some((n) => isConvTranspose3d(rw, n))) return g;
  const shapes = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 17;
  for (const n of g.nodes) {
    if (!isConvTranspose3d(rw, n)) continue;
    const where = n.name || n.outputs[0]!;
    const x = n.inputs[0]!;
    const y = n.outputs[0]!;
    const inShape = shapes.get(x)?.shape;
    const outShape = shapes.get(y)?.shape;
    const fixed = (s: typeof inShape): s is number[] => !!s && s.length === 5 && s.every((d) => typeof d === 'number');
    if (!fixed(inShape) || !fixed(outShape)) throw new UnsupportedError('3-D ConvTranspose of a value with dims known only at run time with integer activations in a TFLite file', `node '${n.name}': its lowering to TRANSPOSE_CONV taps is written for fixed sizes; give the input's size with --input-shape`);
    const w = rw.constant(n.inputs[1]!);
    if (!w) throw new UnsupportedError('3-D ConvTranspose with weights computed at run time with integer activations in a TFLite file', `node '${n.name}': TFLite's CONV_3D_TRANSPOSE runs float32 only; its lowering to TRANSPOSE_CONV taps needs the weights`);
    if (attrInt(n, 'group', 1) !== 1) throw new UnsupportedError('grouped 3-D ConvTranspose with integer activations in a TFLite file', `node '${n.name}': TFLite's TRANSPOSE_CONV has no groups`);
    const layout = attrString(n, 'kernel_layout', 'HWOI');
    // OHWI (O, kD, kH, kW, I) or HWOI (kD, kH, kW, O, I) -> (kD, O, kH, kW, I): each tap a contiguous OHWI, TRANSPOSE_CONV's
    if (layout !== 'OHWI' && layout !== 'HWOI') throw new UnsupportedError(`3-D ConvTranspose of kernel_layout '${layout}' in a TFLite file`, `node '${n.name}'`);
    const taps = permuteTensor(w, layout === 'OHWI' ? [1, 0, 2, 3, 4] : [0, 3, 1, 2, 4]);
    const dilations = attrInts(n, 'dilations', [1, 1, 1]);
    // (conv-transpose-valid.ts spreads a dilated kernel with zeros; it leaves auto_pad SAME_* ones alone)
    if (dilations[1] !== 1 || dilations[2] !== 1) throw new UnsupportedError('3-D ConvTranspose dilated along H / W with auto_pad SAME_* and integer activations in a TFLite file', `node '${n.name}': TFLite's TRANSPOSE_CONV is not dilated`);
    const geometry: ConvTranspose3d = { where, inShape, outShape, taps, strides: attrInts(n, 'strides', [1, 1, 1]), dilations, begins: begins(n, inShape, outShape, taps.shape.slice(0, 1).concat(taps.shape.slice(2, 4)), dilations), opset };
    const bias = n.inputs[2] || undefined;
    rw.removeNode(n);
    lower(rw, geometry, x, bias, y, activationAfter(rw, y));
  }
  rw.sweep();
  // (the taps' frames Reshapes and their images Reshape may undo the ones around them)
  return cancelReshapePairs(rw.toGraph()).graph;
}

/** A 3-D ConvTranspose of fixed sizes. */
interface ConvTranspose3d {
  /** a name the new nodes are named after */
  where: string;
  inShape: number[];
  outShape: number[];
  /** the weights (kD, O, kH, kW, I) */
  taps: Tensor;
  strides: number[];
  dilations: number[];
  /** where each output axis (D, H, W) begins in the full transposed conv (output_padding past its end as zeros) */
  begins: number[];
  opset: number;
}

/**
 * Where the output begins along D, H, W in the full transposed conv, as ONNX (and nnport's runtime) crop it:
 * pads_begin; with output_shape or auto_pad SAME_* the total crop halved, SAME_UPPER's odd one at the end.
 */
function begins(n: Node, inShape: number[], outShape: number[], kernel: number[], dilations: number[]): number[] {
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  const pads = attrInts(n, 'pads', [0, 0, 0, 0, 0, 0]);
  const outputPadding = attrInts(n, 'output_padding', [0, 0, 0]);
  return [0, 1, 2].map((i) => {
    if (!n.attrs.output_shape && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') return autoPad === 'VALID' ? 0 : pads[i]!;
    const natural = strides[i]! * (inShape[1 + i]! - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1;
    const total = Math.max(0, natural - outShape[1 + i]!);
    return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
  });
}

/** The 3-D ConvTranspose as TRANSPOSE_CONV taps over the frames, interleaved by phase (see the top), written to `y`. */
function lower(rw: GraphRewriter, c: ConvTranspose3d, x: string, bias: string | undefined, y: string, activation: Node | undefined): void {
  const { where, inShape, outShape, taps, strides, dilations, begins, opset } = c;
  const [kd, o, kh, kw, i] = taps.shape as [number, number, number, number, number];
  const [batch, frames] = inShape as [number, number];
  const [sd, dd] = [strides[0]!, dilations[0]!];
  // the frames kept: [c0, c1) of the full transposed conv (past its last tap: zeros and the bias, output_padding)
  const [c0, c1] = [begins[0]!, begins[0]! + outShape[1]!];
  const tapSize = o * kh * kw * i;
  const data = taps.data as NumericArray;
  const zero = (k: number): boolean => data.subarray(k * tapSize, (k + 1) * tapSize).every((v) => v === 0);
  const reaches = (k: number): boolean => Array.from({ length: frames }, (_, t) => k * dd + t * sd).some((f) => f >= c0 && f < c1);
  const kept = Array.from({ length: kd }, (_, k) => k).filter((k) => !zero(k) && reaches(k));
  if (!kept.length) throw new UnsupportedError('3-D ConvTranspose whose kept frames no tap reaches, in a TFLite file', `'${where}': its output is its bias alone`);
  const phaseOf = (k: number): number => (k * dd) % sd;
  const shiftOf = (k: number): number => Math.floor((k * dd) / sd);
  // frames per phase: every kept frame, and every tap's frames whole (the SLICE crops the rest)
  const rows = Math.max(Math.ceil(c1 / sd), ...kept.map((k) => shiftOf(k) + frames));
  // H / W: TF's SAME on the 2-D op where it gives the output (the odd row cropped at the end), else VALID and the SLICE
  const hw = [1, 2].map((a) => ({ in: inShape[1 + a]!, stride: strides[a]!, full: (inShape[1 + a]! - 1) * strides[a]! + (a === 1 ? kh : kw), begin: begins[a]!, size: outShape[1 + a]! }));
  if (hw.some((a) => a.begin + a.size > a.full)) throw new UnsupportedError('3-D ConvTranspose whose output reaches past its last tap along H / W (a kernel smaller than its stride), with integer activations in a TFLite file', `'${where}'`);
  // (TRANSPOSE_CONV's SAME takes its pads from the conv of the output back to the input, ceil(out / s) rows: that
  // must be the input's, or it pads otherwise: a kernel 5 stride 2 padding 1 gives 2·in + 1 rows, and pads 2)
  const same = hw.every((a) => Math.ceil(a.size / a.stride) === a.in && tfliteSameFits(a.in, a.stride, a.full - (a.in - 1) * a.stride, a.begin, a.full - a.size - a.begin, 0));
  const [h2, w2] = same ? [outShape[2]!, outShape[3]!] : hw.map((a) => a.full);
  const convAttrs: Record<string, Attr> = {
    group: { type: 'int', value: 1 },
    kernel_layout: { type: 'string', value: 'OHWI' },
    kernel_shape: ints([kh, kw]),
    strides: ints(strides.slice(1)),
    pads: ints(same ? [hw[0]!.begin, hw[1]!.begin, hw[0]!.full - hw[0]!.size - hw[0]!.begin, hw[1]!.full - hw[1]!.size - hw[1]!.begin] : [0, 0, 0, 0]),
  };
  // the bias with one tap per phase where that tap's frames hold every kept frame of its phase
  const keptRows = (r: number): [number, number] => [Math.max(0, Math.ceil((c0 - r) / sd)), Math.floor((c1 - 1 - r) / sd)];
  const phases = Array.from({ length: sd }, (_, r) => kept.filter((k) => phaseOf(k) === r));
  const biasTaps = phases.map((ks, r) => {
    const [first, last] = keptRows(r);
    return first > last ? -1 : (ks.find((k) => shiftOf(k) <= first && shiftOf(k) + frames - 1 >= last) ?? undefined);
  });
  const biasInTaps = !!bias && biasTaps.every((k) => k !== undefined);
  const images = rw.add({ opType: 'Reshape', name: `${where}/images`, inputs: [x, int64(rw, `${where}/images_shape`, [batch * frames, ...inShape.slice(2)])], attrs: {} });
  const plane = h2 * w2;
  const sums = phases.map((ks, r) => {
    let sum: string | undefined;
    for (const k of ks) {
      const weights = rw.addInitializer(`${where}/tap${k}_weights`, new Tensor(taps.dtype, [o, kh, kw, i], data.slice(k * tapSize, (k + 1) * tapSize)));
      const inputs = [images, weights, ...(biasInTaps && biasTaps[r] === k ? [bias!] : [])];
      const conv = rw.add({ opType: 'ConvTranspose', domain: 'nnport', name: `${where}/tap${k}`, inputs, attrs: convAttrs });
      // [N·D, H', W', O] as [N, D, H'·W', O] (4-D: TFLite's PAD and ADD), its frames moved to where they land
      const view = rw.add({ opType: 'Reshape', name: `${where}/tap${k}_frames`, inputs: [conv, int64(rw, `${where}/tap${k}_frames_shape`, [batch, frames, plane, o])], attrs: {} });
      const after = rows - frames - shiftOf(k);
      const placed = shiftOf(k) || after ? pad(rw, `${where}/tap${k}_shift`, view, opset, [0, shiftOf(k), 0, 0, 0, after, 0, 0]) : view;
      sum = sum ? rw.add({ opType: 'Add', name: `${where}/phase${r}_sum${k}`, inputs: [sum, placed] }) : placed;
    }
    return sum;
  });
  // a phase no tap reaches: zero rows, the PAD of the phase before it (or after it, for the first phases)
  const present = sums.flatMap((s, r) => (s ? [r] : []));
  const pieces = present.map((r, j) => {
    const before = j === 0 ? r : 0;
    const after = (present[j + 1] ?? sd) - r - 1;
    return before || after ? pad(rw, `${where}/phase${r}_gaps`, sums[r]!, opset, [0, 0, before * plane, 0, 0, 0, after * plane, 0]) : sums[r]!;
  });
  let interleaved = pieces.length === 1 ? pieces[0]! : rw.add({ opType: 'Concat', name: `${where}/interleave`, inputs: pieces, attrs: { axis: { type: 'int', value: 2 } } });
  const biasAdd = !!bias && !biasInTaps;
  if (biasAdd) interleaved = rw.add({ opType: 'Add', name: `${where}/bias`, inputs: [interleaved, bias] });
  let out = y;
  // (not onto a CONCATENATION: the interpreter's integer one takes no fused activation, and fails to prepare)
  if (activation && (biasAdd || pieces.length === 1)) {
    // elementwise: it commutes with the Reshape and the Slice, and TFLite fuses it into the ADD before them
    rw.removeNode(activation);
    interleaved = rw.add({ opType: activation.opType, name: activation.name, inputs: [interleaved, ...activation.inputs.slice(1)], attrs: activation.attrs });
    out = activation.outputs[0]!;
  }
  const full = [batch, rows * sd, h2, w2, o];
  const starts = [c0, same ? 0 : hw[0]!.begin, same ? 0 : hw[1]!.begin];
  const ends = [c1, starts[1]! + outShape[2]!, starts[2]! + outShape[3]!];
  const cropped = starts.some((s, a) => s !== 0 || ends[a] !== full[1 + a]);
  const frames5d = rw.addNode({ opType: 'Reshape', name: `${where}/frames`, inputs: [interleaved, int64(rw, `${where}/frames_shape`, full)], ...(cropped ? {} : { outputs: [out] }), attrs: {} }).outputs[0]!;
  if (!cropped) return;
  const axes = [1, 2, 3].filter((a) => starts[a - 1] !== 0 || ends[a - 1] !== full[a]);
  const crop = slice(rw, `${where}/crop`, frames5d, opset, axes.map((a) => starts[a - 1]!), axes.map((a) => ends[a - 1]!), axes, axes.map(() => 1));
  rw.renameValue(crop, out);
}
