// GraphDef writer rows for ONNX Conv / ConvTranspose whose weights are computed when the model runs
// (a Siamese tracker's cross-correlation, a filter predicted by another branch, weights fed as an
// input). The layout pass re-lays constant weights only and leaves these channels-first, so the row
// lays the input out channels-last and the weights as TF's filter with Transposes in the graph,
// convolves with Conv2D / DepthwiseConv2dNative / Conv3D / Conv2DBackpropInput, and lays the
// result back out channels-first. A 1-D one runs as 2-D over a height of 1.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { ints, isFloat, runTimeDims, s, T, type GraphDefWriter, type Row } from './write-context.js';

interface Lifted {
  x: string;
  filter: string;
  /** spatial sizes of x (2 or 3), the kernel's, and the weights' two channel dims as ONNX holds them */
  spatial: number[];
  kernel: number[];
  wc: [number, number];
  batch: number | string;
  channels: number;
  oneD: boolean;
}

const transpose = (w: GraphDefWriter, base: string, x: string, perm: number[], dtype: Tensor['dtype']): string =>
  w.add(w.fresh(base), 'Transpose', [x, w.int32(`${base}_perm`, perm)], { T: T(dtype), Tperm: T('int32') });

/** x (N, C, spatial...) as N spatial... C and the weights (A, B, k...) as TF's (k..., B, A), a 1-D pair lifted to 2-D. */
function lift(w: GraphDefWriter, n: Node, what: string): Lifted {
  const [x, wt] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const xs = w.shape(x);
  const ws = w.shape(wt);
  const dtype = w.dtype(x);
  if (!xs || !ws || xs.length !== ws.length || xs.length < 3 || xs.length > 5 || !ws.every((d): d is number => typeof d === 'number') || typeof xs[1] !== 'number') {
    throw new UnsupportedError(`${what} with a computed weight of unknown shape, or of rank other than 3 to 5, in a GraphDef`, where);
  }
  if (!isFloat(dtype)) throw new UnsupportedError(`${what} of ${dtype} in a GraphDef`, where);
  const spatial = xs.slice(2);
  if (!spatial.every((d): d is number => typeof d === 'number')) throw new UnsupportedError(`${what} with a computed weight over an input of unknown spatial size in a GraphDef`, where);
  const oneD = xs.length === 3;
  let xr = w.ref(x);
  let wr = w.ref(wt);
  const dt = { T: T(dtype) };
  if (oneD) {
    xr = w.add(w.fresh(`${n.name}/input_2d`), 'ExpandDims', [xr, w.int32(`${n.name}/height_axis`, [2], true)], { ...dt, Tdim: T('int32') });
    wr = w.add(w.fresh(`${n.name}/weight_2d`), 'ExpandDims', [wr, w.int32(`${n.name}/kernel_height_axis`, [2], true)], { T: T(w.dtype(wt)), Tdim: T('int32') });
  }
  const r = oneD ? 2 : spatial.length;
  const toLast = [0, ...Array.from({ length: r }, (_, i) => i + 2), 1];
  const filterPerm = [...Array.from({ length: r }, (_, i) => i + 2), 1, 0];
  return {
    x: transpose(w, `${n.name}/channels_last`, xr, toLast, dtype),
    filter: transpose(w, `${n.name}/filter`, wr, filterPerm, w.dtype(wt)),
    spatial: oneD ? [1, spatial[0]!] : spatial,
    kernel: oneD ? [1, ws[2]!] : ws.slice(2),
    wc: [ws[0]!, ws[1]!],
    batch: xs[0]!,
    channels: xs[1],
    oneD,
  };
}

/** The channels-last result y (N, spatial..., C) laid back out as the node's (N, C, spatial...) output `out`. */
function lower(w: GraphDefWriter, n: Node, y: string, out: string, l: Lifted): void {
  const dtype = w.dtype(n.inputs[0]!);
  const r = l.spatial.length;
  const perm = [0, r + 1, ...Array.from({ length: r }, (_, i) => i + 1)];
  if (!l.oneD) {
    w.add(out, 'Transpose', [y, w.int32(`${n.name}/channels_first_perm`, perm)], { T: T(dtype), Tperm: T('int32') });
    return;
  }
  const t = transpose(w, `${n.name}/channels_first`, y, perm, dtype);
  w.add(out, 'Squeeze', [t], { T: T(dtype), squeeze_dims: ints([2]) });
}

/**
 * A channels-last filter (k..., A, B) with each kernel axis spread by its dilation (zeros between
 * the taps), for the kernels TF's CPU runs without dilations: Reshape to (k1, 1, k2, 1, ...), Pad
 * each unit axis to d, Reshape to (k1 d, k2 d, ...), Slice to ((k - 1) d + 1, ...).
 */
function dilateFilter(w: GraphDefWriter, n: Node, filter: string, kernel: number[], channels: [number, number], d: number[], dtype: Tensor['dtype']): string {
  if (d.every((v) => v === 1)) return filter;
  const dt = { T: T(dtype) };
  const split = w.add(w.fresh(`${n.name}/filter_taps`), 'Reshape', [filter, w.int32(`${n.name}/filter_taps_shape`, [...kernel.flatMap((k) => [k, 1]), ...channels])], { ...dt, Tshape: T('int32') });
  const pads = [...d.flatMap((v) => [0, 0, 0, v - 1]), 0, 0, 0, 0];
  const spread = w.add(w.fresh(`${n.name}/filter_spread`), 'Pad', [split, w.paddings(`${n.name}/filter_spread_pads`, pads)], { ...dt, Tpaddings: T('int32') });
  const merged = w.add(w.fresh(`${n.name}/filter_spread_merged`), 'Reshape', [spread, w.int32(`${n.name}/filter_spread_shape`, [...kernel.map((k, i) => k * d[i]!), ...channels])], { ...dt, Tshape: T('int32') });
  const size = [...kernel.map((k, i) => (k - 1) * d[i]! + 1), ...channels];
  return w.add(w.fresh(`${n.name}/filter_dilated`), 'Slice', [merged, w.int32(`${n.name}/filter_dilated_begin`, size.map(() => 0)), w.int32(`${n.name}/filter_dilated_size`, size)], { ...dt, Index: T('int32') });
}

/** ONNX's explicit / auto pads of a conv over `spatial` as [begin..., end...]. */
function convPads(n: Node, spatial: number[], kernel: number[], strides: number[], dilations: number[], oneD: boolean): number[] {
  const r = spatial.length;
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return new Array<number>(2 * r).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const both = spatial.map((size, i) => {
      const total = Math.max((Math.ceil(size / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - size, 0);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    });
    return [...both.map((p) => p[0]!), ...both.map((p) => p[1]!)];
  }
  const given = attrInts(n, 'pads', new Array<number>(2 * (oneD ? 1 : r)).fill(0));
  return oneD ? [0, given[0]!, 0, given[1]!] : given;
}

/** A spatial attribute (strides, dilations, output_padding) for the lifted rank: a 1-D one gets the height's 1 in front. */
function spatialAttr(n: Node, name: string, l: Lifted, fill: number): number[] {
  const r = l.spatial.length;
  const v = attrInts(n, name, new Array<number>(l.oneD ? 1 : r).fill(fill));
  return l.oneD ? [fill, ...v] : v;
}

function zeroPad(w: GraphDefWriter, n: Node, x: string, before: number[], after: number[], dtype: Tensor['dtype'], tag: string): string {
  if (before.every((p) => p === 0) && after.every((p) => p === 0)) return x;
  return w.add(w.fresh(`${n.name}/${tag}`), 'Pad', [x, w.paddings(`${n.name}/${tag}_pads`, [0, 0, ...before.flatMap((b, i) => [b, after[i]!]), 0, 0])], { T: T(dtype), Tpaddings: T('int32') });
}

/** ONNX Conv with a weight computed at run time. */
function dynamicConv(w: GraphDefWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  const l = lift(w, n, 'Conv');
  const dtype = w.dtype(n.inputs[0]!);
  const dt = { T: T(dtype) };
  const r = l.spatial.length;
  const strides = spatialAttr(n, 'strides', l, 1);
  const dilations = spatialAttr(n, 'dilations', l, 1);
  const group = attrInt(n, 'group', 1);
  const [co, ciPer] = l.wc;
  if (ciPer * group !== l.channels || co % group !== 0) throw new UnsupportedError(`Conv of ${l.channels} channels with a (${co}, ${ciPer}, ...) weight in ${group} groups`, where);
  const pads = convPads(n, l.spatial, l.kernel, strides, dilations, l.oneD);
  const x = zeroPad(w, n, l.x, pads.slice(0, r), pads.slice(r), dtype, 'pad');
  // TF's kernels run no conv both strided and dilated (Conv3D none dilated): stride 1, then every
  // s-th position; a 3-D filter is dilated in the graph
  const dilated = dilations.some((d) => d !== 1);
  const subsample = dilated && strides.some((v) => v !== 1) ? strides : undefined;
  const st = subsample ? strides.map(() => 1) : strides;
  let filter = l.filter;
  let rate = dilations;
  if (r === 3 && dilated) {
    filter = dilateFilter(w, n, filter, l.kernel, [ciPer, co], dilations, dtype);
    rate = [1, 1, 1];
  }
  const op = r === 3 ? 'Conv3D' : 'Conv2D';
  const attrs = { ...dt, strides: ints([1, ...st, 1]), dilations: ints([1, ...rate, 1]), padding: s('VALID'), data_format: s(r === 3 ? 'NDHWC' : 'NHWC') };
  let y: string;
  if (group === 1) y = w.add(w.fresh(`${n.name}/conv`), op, [x, filter], attrs);
  else if (r === 2 && ciPer === 1) {
    // (kh, kw, 1, C*M) is a reshape of TF's depthwise (kh, kw, C, M)
    const dw = w.add(w.fresh(`${n.name}/depthwise_filter`), 'Reshape', [filter, w.int32(`${n.name}/depthwise_shape`, [...l.kernel, l.channels, co / l.channels])], { T: T(w.dtype(n.inputs[1]!)), Tshape: T('int32') });
    y = w.add(w.fresh(`${n.name}/depthwise`), 'DepthwiseConv2dNative', [x, dw], attrs);
  } else {
    // TF's CPU kernels take no groups: the channels and the filter's outputs split, each group convolved, the results joined
    const parts = w.add(w.fresh(`${n.name}/split`), 'Split', [w.int32(`${n.name}/split_axis`, [r + 1], true), x], { ...dt, num_split: { i: group } });
    const filters = w.add(w.fresh(`${n.name}/filter_split`), 'Split', [w.int32(`${n.name}/filter_split_axis`, [r + 1], true), filter], { T: T(w.dtype(n.inputs[1]!)), num_split: { i: group } });
    const convs = Array.from({ length: group }, (_, g) => w.add(w.fresh(`${n.name}/group_${g}`), op, [g ? `${parts}:${g}` : parts, g ? `${filters}:${g}` : filters], attrs));
    y = w.add(w.fresh(`${n.name}/groups`), 'ConcatV2', [...convs, w.int32(`${n.name}/concat_axis`, [r + 1], true)], { ...dt, N: { i: group }, Tidx: T('int32') });
  }
  if (subsample) {
    const zeros = Array.from({ length: r + 2 }, () => 0);
    y = w.add(w.fresh(`${n.name}/strided`), 'StridedSlice', [y, w.int32(`${n.name}/strided_begin`, zeros), w.int32(`${n.name}/strided_end`, zeros), w.int32(`${n.name}/strided_steps`, [1, ...subsample, 1])], {
      ...dt,
      Index: T('int32'),
      begin_mask: { i: (1 << (r + 2)) - 1 },
      end_mask: { i: (1 << (r + 2)) - 1 },
      ellipsis_mask: { i: 0 },
      new_axis_mask: { i: 0 },
      shrink_axis_mask: { i: 0 },
    });
  }
  if (n.inputs[2]) y = w.add(w.fresh(`${n.name}/bias`), 'BiasAdd', [y, w.ref(n.inputs[2])], { ...dt, data_format: s('NHWC') });
  lower(w, n, y, out, l);
}

/**
 * ONNX ConvTranspose with a weight computed at run time: TF's Conv2DBackpropInput, VALID, gives the
 * full (in - 1) s + (k - 1) d + 1 (the filter dilated in the graph: TF's CPU kernel takes no
 * dilations); output_padding, pads and output_shape then pad its end and crop it (Pad + Slice).
 */
function dynamicConvTranspose(w: GraphDefWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  const l = lift(w, n, 'ConvTranspose');
  const r = l.spatial.length;
  if (r !== 2) throw new UnsupportedError('a 3-D ConvTranspose with a computed weight in a GraphDef', `${where}: TF.js runs no Conv3DBackpropInputV2`);
  const dtype = w.dtype(n.inputs[0]!);
  const dt = { T: T(dtype) };
  const strides = spatialAttr(n, 'strides', l, 1);
  const dilations = spatialAttr(n, 'dilations', l, 1);
  const outputPadding = spatialAttr(n, 'output_padding', l, 0);
  const group = attrInt(n, 'group', 1);
  const [ci, coPer] = l.wc;
  if (ci !== l.channels || ci % group !== 0) throw new UnsupportedError(`ConvTranspose of ${l.channels} channels with a (${ci}, ${coPer}, ...) weight in ${group} groups`, where);
  const span = l.kernel.map((k, i) => (k - 1) * dilations[i]! + 1);
  const full = l.spatial.map((v, i) => (v - 1) * strides[i]! + span[i]!);
  // begin / end crops and the output size, as ONNX derives them
  let begin: number[];
  let size: number[];
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const given = attrInts(n, 'output_shape');
  if (given || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    size = given ? given.slice(-(l.oneD ? 1 : r)) : l.spatial.slice(l.oneD ? 1 : 0).map((v, i) => v * strides[(l.oneD ? 1 : 0) + i]!);
    if (l.oneD) size = [1, ...size];
    begin = size.map((o, i) => {
      const total = full[i]! + outputPadding[i]! - o;
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    });
  } else {
    const pads = autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : convPads(n, l.spatial, l.kernel, strides, dilations, l.oneD);
    begin = pads.slice(0, r);
    size = full.map((f, i) => f + outputPadding[i]! - pads[i]! - pads[r + i]!);
  }
  if (size.some((v) => v <= 0)) throw new UnsupportedError(`ConvTranspose to an output of size [${size.join(', ')}]`, where);
  const filter = dilateFilter(w, n, l.filter, l.kernel, [coPer, ci], dilations, w.dtype(n.inputs[1]!));
  const co = coPer * group;
  // input_sizes: the batch as the input has it (known or read with Shape), the full size, the group's channels
  const sizes = (channels: number): string => {
    if (typeof l.batch === 'number') return w.int32(`${n.name}/input_sizes`, [l.batch, ...full, channels]);
    const batch = runTimeDims(w, `${n.name}/batch`, { ref: l.x, dtype: w.dtype(n.inputs[0]!) }, { begin: 0, size: 1 });
    return w.add(w.fresh(`${n.name}/input_sizes`), 'ConcatV2', [batch, w.int32(`${n.name}/full_size`, [...full, channels]), w.int32(`${n.name}/sizes_axis`, [0], true)], { T: T('int32'), N: { i: 2 }, Tidx: T('int32') });
  };
  const attrs = { ...dt, strides: ints([1, ...strides, 1]), dilations: ints([1, 1, 1, 1]), padding: s('VALID'), data_format: s('NHWC') };
  let y: string;
  if (group === 1) y = w.add(w.fresh(`${n.name}/conv_transpose`), 'Conv2DBackpropInput', [sizes(co), filter, l.x], attrs);
  else {
    const parts = w.add(w.fresh(`${n.name}/split`), 'Split', [w.int32(`${n.name}/split_axis`, [3], true), l.x], { ...dt, num_split: { i: group } });
    const filters = w.add(w.fresh(`${n.name}/filter_split`), 'Split', [w.int32(`${n.name}/filter_split_axis`, [3], true), filter], { T: T(w.dtype(n.inputs[1]!)), num_split: { i: group } });
    const groupSizes = sizes(coPer);
    const convs = Array.from({ length: group }, (_, g) => w.add(w.fresh(`${n.name}/group_${g}`), 'Conv2DBackpropInput', [groupSizes, g ? `${filters}:${g}` : filters, g ? `${parts}:${g}` : parts], attrs));
    y = w.add(w.fresh(`${n.name}/groups`), 'ConcatV2', [...convs, w.int32(`${n.name}/concat_axis`, [3], true)], { ...dt, N: { i: group }, Tidx: T('int32') });
  }
  // the output at j is the full result at j + begin (zero past either end: output_padding's rows and beyond)
  const before = begin.map((b) => Math.max(0, -b));
  const after = begin.map((b, i) => Math.max(0, size[i]! + b - full[i]!));
  y = zeroPad(w, n, y, before, after, dtype, 'output_pad');
  if (begin.some((b) => b > 0) || size.some((v, i) => v + Math.max(0, begin[i]!) !== full[i]! + before[i]! + after[i]!)) {
    y = w.add(w.fresh(`${n.name}/crop`), 'Slice', [y, w.int32(`${n.name}/crop_begin`, [0, ...begin.map((b) => Math.max(0, b)), 0]), w.int32(`${n.name}/crop_size`, [-1, ...size, -1])], { ...dt, Index: T('int32') });
  }
  if (n.inputs[2]) y = w.add(w.fresh(`${n.name}/bias`), 'BiasAdd', [y, w.ref(n.inputs[2])], { ...dt, data_format: s('NHWC') });
  lower(w, n, y, out, l);
}

export const dynamicConvRows: Record<string, Row> = {
  Conv: dynamicConv,
  ConvTranspose: dynamicConvTranspose,
};
