// ONNX ConvTranspose as the NHWC writers can express it (Keras Conv2DTranspose, TF.js, TFLite
// TRANSPOSE_CONV, TF Conv2DBackpropInput): these know no explicit pads, output_padding, groups or
// (TFLite, TF.js) dilation, and no 1-D transposed conv in every target. On the NCHW graph, before
// the layout pass, each ONNX ConvTranspose with a constant weight becomes, exactly:
//   - groups: one conv with a block-diagonal weight (the products across groups are exact zeros);
//   - dilation: the kernel dilated with zeros ((k-1)*d + 1 taps, the same sums);
//   - pads / output_padding: a VALID transposed conv (output (in-1)*s + (k-1)*d + 1) followed by a
//     Slice cropping pads_begin at the start and pads_end - output_padding at the end. Where that
//     is negative (output_padding rows past the last input's taps, which hold only the bias), the
//     input gets ceil(-crop / s) zero rows at the end first: each adds s output rows that no real
//     input reaches (the conv's bias only, as in ONNX), and the Slice keeps as many as needed.
// With options.keepSame, pads that TF's SAME expresses for the output size (the odd pixel cropped
// at the end) stay on a 1-D / 2-D op: TFLite writes one TRANSPOSE_CONV with padding SAME, as TF's converter.
// auto_pad SAME_* and output_shape stay as they are (the writers judge them).
// After the layout pass, liftConvTranspose1d writes a channels-last 1-D ConvTranspose as a Reshape
// to height 1, the 2-D op and a Reshape back (no target here has a 1-D transposed conv).
import { allocArray, type NumericArray } from '../ir/dtypes.js';
import { attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface ConvTransposeValidOptions {
  /** keep pads that TF SAME expresses exactly on the op (TFLite TRANSPOSE_CONV padding SAME) */
  keepSame?: boolean;
  /** what the notes call the target */
  target?: string;
  /** also 3-D transposed convs (TFLite's CONV_3D_TRANSPOSE knows VALID and SAME only; default 1-D and 2-D) */
  volumetric?: boolean;
}

export interface ConvTransposeValidResult {
  graph: Graph;
  /** one line per ConvTranspose rewritten */
  notes: string[];
}

const ints = (value: number[]): Attr => ({ type: 'ints', value });
const isOnnxConvT = (n: Node): boolean => n.opType === 'ConvTranspose' && (n.domain === '' || n.domain === 'ai.onnx');

/** Does TF SAME (total = max(full - out, 0) cropped, the odd pixel at the end) give pads pb/pe with output_padding op? */
export function tfSameFits(pb: number, pe: number, op: number): boolean {
  const total = Math.max(pb + pe - op, 0);
  return pb === Math.floor(total / 2) && pe - op === total - Math.floor(total / 2);
}

/**
 * Does TFLite's SAME crop `pb` first rows of an axis of `inp` rows (stride s, dilated kernel ek) to `out`? Its
 * TRANSPOSE_CONV / CONV_3D_TRANSPOSE take the pads of the conv from the output back, over ceil(out / s) rows, not
 * the input's: a kernel 5 padding 1 (out = in + 2 at stride 1) is padded 2 there, and read past its input (NaN).
 */
export function tfliteSameFits(inp: number, s: number, ek: number, pb: number, pe: number, op: number): boolean {
  const out = (inp - 1) * s + ek - pb - pe + op;
  return pb === Math.floor(Math.max((Math.ceil(out / s) - 1) * s + ek - out, 0) / 2);
}

/**
 * The ONNX ConvTranspose weight (C, M/g, k1..kr) as (C, M, (k1-1)*d1+1, ...): block-diagonal over
 * the groups, zeros between the dilated taps.
 */
function expandWeight(W: Tensor, group: number, d: readonly number[]): Tensor {
  const [C, Mg, ...k] = W.shape;
  const r = k.length;
  const ek = k.map((kk, i) => (kk - 1) * d[i]! + 1);
  const M = Mg! * group;
  const perGroupIn = C! / group;
  const spatial = (shape: readonly number[]): number => shape.reduce((p, v) => p * v, 1);
  const kSize = spatial(k);
  const ekSize = spatial(ek);
  const src = W.data as NumericArray;
  const dst = allocArray(W.dtype, C! * M * ekSize) as NumericArray;
  // the dilated offset of each tap of the kernel
  const tapOffset = new Array<number>(kSize);
  for (let t = 0; t < kSize; t++) {
    let rest = t;
    let off = 0;
    let mul = 1;
    for (let a = r - 1; a >= 0; a--) {
      const j = rest % k[a]!;
      rest = Math.floor(rest / k[a]!);
      off += j * d[a]! * mul;
      mul *= ek[a]!;
    }
    tapOffset[t] = off;
  }
  for (let c = 0; c < C!; c++) {
    const g = Math.floor(c / perGroupIn);
    for (let m = 0; m < Mg!; m++) {
      const from = (c * Mg! + m) * kSize;
      const to = (c * M + g * Mg! + m) * ekSize;
      for (let t = 0; t < kSize; t++) dst[to + tapOffset[t]!] = src[from + t]!;
    }
  }
  return new Tensor(W.dtype, [C!, M, ...ek], dst);
}

/** The sole reader of `v` when it is an Add / Sub of a constant with one value per channel (axis 1 of rank `rank`, `channels` of them). */
function perChannelBias(rw: GraphRewriter, v: string, rank: number, channels: number): Node | undefined {
  const n = rw.soleConsumer(v);
  if (!n || (n.opType !== 'Add' && n.opType !== 'Sub') || (n.domain !== '' && n.domain !== 'ai.onnx') || n.inputs.length !== 2 || n.attrs.broadcast) return undefined;
  const other = n.inputs[0] === v ? n.inputs[1]! : n.inputs[0]!;
  if (other === v) return undefined;
  const c = rw.constant(other);
  if (!c || c.rank > rank) return undefined;
  const aligned = [...new Array<number>(rank - c.rank).fill(1), ...c.shape];
  return aligned.every((d, i) => d === 1 || (i === 1 && d === channels)) ? n : undefined;
}

export function convTransposeAsValid(graph: Graph, options: ConvTransposeValidOptions = {}): ConvTransposeValidResult {
  if (!graph.nodes.some(isOnnxConvT)) return { graph, notes: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 17;
  const notes: string[] = [];
  const target = options.target ?? 'the target';
  for (const orig of graph.nodes) {
    const node = rw.latest(orig);
    if (!isOnnxConvT(node)) continue;
    const [x, wName, bias] = node.inputs as [string, string | undefined, string | undefined];
    const xs = shapes.get(x)?.shape;
    // (an initializer listed among the inputs, as IR < 4 files do, counts as the constant it is)
    const W = wName ? rw.constant(wName) : undefined;
    // (a computed weight, e.g. a QDQ model's DequantizeLinear, is fine for pads alone)
    const ws = W?.shape ?? shapes.get(wName ?? '')?.shape;
    if (!xs || !ws || xs.length !== ws.length || xs.length < 3 || xs.length > (options.volumetric ? 5 : 4) || typeof xs[1] !== 'number' || !ws.every((v): v is number => typeof v === 'number')) continue;
    // a height / width known only at run time (an export with dynamic axes): the crop's ends count from the end
    const spatialIn = xs.slice(2);
    const runTime = !spatialIn.every((v): v is number => typeof v === 'number');
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if ((autoPad !== 'NOTSET' && autoPad !== 'VALID') || attrInts(node, 'output_shape')) continue;
    const r = spatialIn.length;
    const group = attrInt(node, 'group', 1);
    const s = attrInts(node, 'strides', new Array<number>(r).fill(1));
    const d = attrInts(node, 'dilations', new Array<number>(r).fill(1));
    const pads = autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : attrInts(node, 'pads', new Array<number>(2 * r).fill(0));
    const op = attrInts(node, 'output_padding', new Array<number>(r).fill(0));
    if (s.length !== r || d.length !== r || pads.length !== 2 * r || op.length !== r) continue;
    const pb = pads.slice(0, r);
    const pe = pads.slice(r);
    const padded = pb.some((p) => p !== 0) || pe.some((p) => p !== 0) || op.some((p) => p !== 0);
    if (group === 1 && d.every((v) => v === 1) && !padded) continue;
    // (not a 3-D one: the interpreter's CONV_3D_TRANSPOSE with SAME computed a kernel (3, 2, 2), strides (1, 2, 2), pads
    // (1, 0, 0) 0.51 off onnxruntime, pads TFLite's formula gives: VALID + a crop is exact)
    const keep = !!options.keepSame && !runTime && padded && r < 3 && pb.every((_, i) => tfSameFits(pb[i]!, pe[i]!, op[i]!) && tfliteSameFits(spatialIn[i] as number, s[i]!, ((ws[2 + i] as number) - 1) * d[i]! + 1, pb[i]!, pe[i]!, op[i]!));
    const where = node.name || node.outputs[0]!;
    const changes: string[] = [];

    const reshaped = group !== 1 || d.some((v) => v !== 1);
    if (reshaped && !W) continue;
    const Wx = reshaped ? expandWeight(W!, group, d) : undefined;
    if (group !== 1) changes.push(`group ${group} as a block-diagonal kernel (${group}x the weights)`);
    if (d.some((v) => v !== 1)) changes.push(`dilations [${d.join(', ')}] as a zero-dilated kernel`);
    const ek = (Wx ?? W)?.shape.slice(2) ?? (ws.slice(2) as number[]);
    const channelsOut = (Wx?.shape[1] ?? (ws[1] as number) * group);
    // the output size ONNX gives, and the VALID conv's
    // zero input rows at the end where output_padding reaches past the last real tap
    const extra = spatialIn.map((_, i) => (keep ? 0 : Math.max(0, Math.ceil((op[i]! - pe[i]!) / s[i]!))));
    // where the crop ends, from the VALID conv's end (<= 0): the output is (in - 1)·s + ek + op - pb - pe, the VALID conv's (in + extra - 1)·s + ek
    const fromEnd = spatialIn.map((_, i) => op[i]! - pe[i]! - extra[i]! * s[i]!);

    let input = x;
    if (extra.some((e) => e > 0)) {
      const p = [0, 0, ...new Array<number>(r).fill(0), 0, 0, ...extra];
      const mode: Attr = { type: 'string', value: 'constant' };
      input =
        opset >= 11
          ? rw.add({ opType: 'Pad', inputs: [x, rw.addInitializer(`${where}/extend_pads`, Tensor.int64([p.length], p))], attrs: { mode }, name: `${where}/extend` })
          : rw.add({ opType: 'Pad', inputs: [x], attrs: { mode, pads: ints(p), value: { type: 'float', value: 0 } }, name: `${where}/extend` });
    }
    const axesInput = (base: string, axes: number[]): string => rw.addInitializer(base, Tensor.int64([axes.length], axes));
    const w2 = Wx ? rw.addInitializer(`${wName}/expanded`, Wx) : wName!;
    const attrs: Record<string, Attr> = { ...node.attrs };
    for (const a of ['group', 'dilations', 'auto_pad', 'output_padding', 'pads', 'kernel_shape']) delete attrs[a];
    attrs.kernel_shape = ints(ek);
    attrs.strides = ints(s);
    if (keep) {
      attrs.pads = ints(pads);
      if (op.some((p) => p !== 0)) attrs.output_padding = ints(op);
    }
    const y = node.outputs[0]!;
    const crop = !keep && fromEnd.some((e, i) => e !== 0 || pb[i] !== 0);
    rw.replaceNode(node, { inputs: [input, w2, ...(bias ? [bias] : [])], attrs });
    if (crop) {
      // the crop goes after a separate per-channel bias Add / Sub (it commutes with one), so that
      // the writers can still fold that bias into the conv
      let tail = y;
      for (let next = perChannelBias(rw, tail, 2 + r, channelsOut); next; next = perChannelBias(rw, tail, 2 + r, channelsOut)) tail = next.outputs[0]!;
      let from = y;
      if (tail !== y) {
        from = rw.freshName(`${where}/uncropped`);
        const last = rw.producer(tail)!;
        rw.replaceNode(last, { outputs: [from] });
      } else {
        from = rw.freshName(`${where}/valid`);
        rw.replaceNode(rw.latest(node), { outputs: [from] });
      }
      const axes = spatialIn.map((_, i) => 2 + i);
      const starts = pb;
      // sizes known: the end itself; known only at run time: counted from the end (0: to the end)
      const ends = runTime ? fromEnd.map((e) => (e < 0 ? e : Number.MAX_SAFE_INTEGER)) : spatialIn.map((inp, i) => ((inp as number) + extra[i]! - 1) * s[i]! + ek[i]! + fromEnd[i]!);
      if (opset >= 10) {
        rw.addNode({ opType: 'Slice', inputs: [from, axesInput(`${where}/crop_starts`, starts), axesInput(`${where}/crop_ends`, ends), axesInput(`${where}/crop_axes`, axes)], outputs: [tail], name: `${where}/crop` });
      } else {
        rw.addNode({ opType: 'Slice', inputs: [from], attrs: { starts: ints(starts), ends: ints(ends), axes: ints(axes) }, outputs: [tail], name: `${where}/crop` });
      }
      changes.push(`pads [${pads.join(', ')}]${op.some((p) => p !== 0) ? ` output_padding [${op.join(', ')}]` : ''} as VALID + a crop${extra.some((e) => e > 0) ? ` (the input extended by [${extra.join(', ')}] zero rows for the output_padding)` : ''}`);
    }
    notes.push(`ConvTranspose '${where}': ${changes.join('; ')} for ${target} (same result)`);
  }
  if (!notes.length) return { graph, notes };
  rw.sweep();
  const g = rw.toGraph();
  // a replaced weight listed among the inputs (IR < 4) goes with its initializer
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  const gone = new Set(g.inputs.filter((v) => graph.initializers.has(v.name) && !read.has(v.name) && !g.outputs.some((o) => o.name === v.name)).map((v) => v.name));
  if (!gone.size) return { graph: g, notes };
  return { graph: { ...g, inputs: g.inputs.filter((v) => !gone.has(v.name)), initializers: new Map([...g.initializers].filter(([k]) => !gone.has(k))) }, notes };
}

/**
 * A channels-last 1-D nnport::ConvTranspose ([N, W, C], weight [k, O, I] HWOI or [O, k, I] OHWI)
 * as Reshape [N, 1, W, C] -> the 2-D op with a 1-row kernel -> Reshape [N, W', O]: the same sums.
 */
export function liftConvTranspose1d(graph: Graph): ConvTransposeValidResult {
  const isConvT1d = (n: Node): boolean => n.opType === 'ConvTranspose' && n.domain === 'nnport' && graph.initializers.get(n.inputs[1] ?? '')?.rank === 3;
  if (!graph.nodes.some(isConvT1d)) return { graph, notes: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const notes: string[] = [];
  for (const orig of graph.nodes) {
    const node = rw.latest(orig);
    if (!isConvT1d(node)) continue;
    const [x, wName] = node.inputs as [string, string];
    const xs = shapes.get(x)?.shape;
    const ys = shapes.get(node.outputs[0]!)?.shape;
    const W = rw.constant(wName);
    if (!W || !xs || !ys || xs.length !== 3 || ys.length !== 3 || [xs[1], xs[2], ys[1], ys[2]].some((v) => typeof v !== 'number')) continue;
    const hwoi = attrString(node, 'kernel_layout', 'HWOI') === 'HWOI';
    const where = node.name || node.outputs[0]!;
    const w2 = rw.addInitializer(`${wName}/2d`, W.reshape(hwoi ? [1, ...W.shape] : [W.shape[0]!, 1, ...W.shape.slice(1)]));
    const shape = (base: string, v: number[]): string => rw.addInitializer(base, Tensor.int64([v.length], v));
    const lifted = rw.add({ opType: 'Reshape', inputs: [x, shape(`${where}/lift_shape`, [0, 1, xs[1] as number, xs[2] as number])], name: `${where}/lift` });
    const attrs: Record<string, Attr> = { ...node.attrs };
    const widen = (name: string, one: number): void => {
      const v = attrInts(node, name);
      if (v) attrs[name] = ints(name === 'pads' ? [one, v[0]!, one, v[1]!] : [one, ...v]);
    };
    widen('kernel_shape', 1);
    widen('strides', 1);
    widen('dilations', 1);
    widen('pads', 0);
    widen('output_padding', 0);
    let y = node.outputs[0]!;
    let yShape = ys as number[];
    let out2d = rw.freshName(`${where}/2d`);
    rw.replaceNode(node, { inputs: [lifted, w2, ...node.inputs.slice(2)], outputs: [out2d], attrs });
    // the crop convTransposeAsValid put after it joins the 2-D part (TF.js has no Cropping1D)
    const crop = rw.soleConsumer(y);
    const bounds = crop?.opType === 'Slice' && !crop.domain && crop.inputs[0] === y && !crop.inputs[4] ? [1, 2, 3].map((i) => (crop.inputs[i] ? rw.constant(crop.inputs[i]!)?.toNumbers() : undefined)) : [];
    const cropShape = crop ? shapes.get(crop.outputs[0]!)?.shape : undefined;
    if (crop && !rw.isGraphOutput(y) && bounds.length === 3 && bounds.every((b) => b?.length === 1) && (bounds[2]![0] === 1 || bounds[2]![0] === -2) && cropShape?.slice(1).every((v) => typeof v === 'number')) {
      const sliced = rw.freshName(`${where}/crop`);
      rw.addNode({ opType: 'Slice', inputs: [out2d, shape(`${where}/crop2d_starts`, bounds[0]!), shape(`${where}/crop2d_ends`, bounds[1]!), shape(`${where}/crop2d_axes`, [2])], outputs: [sliced], name: `${where}/crop2d` });
      rw.removeNode(crop);
      out2d = sliced;
      y = crop.outputs[0]!;
      yShape = cropShape as number[];
    }
    rw.addNode({ opType: 'Reshape', inputs: [out2d, shape(`${where}/unlift_shape`, [0, yShape[1]!, yShape[2]!])], outputs: [y], name: `${where}/unlift` });
    notes.push(`ConvTranspose '${where}': 1-D as 2-D (height 1) between two Reshapes (same result)`);
  }
  if (!notes.length) return { graph, notes };
  rw.sweep();
  return { graph: rw.toGraph(), notes };
}
