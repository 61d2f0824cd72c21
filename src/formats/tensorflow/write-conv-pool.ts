// GraphDef writer rows for the channels-last convs and pools (NHWC data, HWIO / HWOI filters):
// Conv2D / DepthwiseConv2dNative / grouped as Split + Conv2D + ConcatV2, Conv3D, atrous
// (SpaceToBatchND) dilation, Conv2DBackpropInput, Max/AvgPool (2-D, 3-D, dilated) and global
// pooling; ONNX's padding as TF's SAME where it is the same, else an explicit Pad in front.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { permuteTensor } from '../../passes/layout.js';
import { ints, runTimeDims, s, T, type GraphDefWriter, type Row } from './write-context.js';

/** TF's SAME for a window: the pads it would use for this input size (extra at the end). */
function samePads(size: number, k: number, stride: number, dilation: number): [number, number] {
  const o = Math.ceil(size / stride);
  const total = Math.max((o - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** VALID, SAME, or an explicit Pad node in front (pads [t, l, b, r] of a rank-4 NHWC value). */
function padding(w: GraphDefWriter, n: Node, x: string, kernel: number[], strides: number[], dilations: number[], padValue: number, explicit?: number[], allowSame = true): { input: string; padding: string; pads?: number[] } {
  const autoPad = explicit ? 'NOTSET' : attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return { input: w.ref(x), padding: 'VALID' };
  if (autoPad === 'SAME_UPPER') return { input: w.ref(x), padding: 'SAME' };
  const shape = w.shape(x);
  if (autoPad === 'SAME_LOWER') {
    // SAME with the odd pixel at the start, which TF's SAME puts at the end: explicit pads
    if (!shape || shape.length !== 4 || typeof shape[1] !== 'number' || typeof shape[2] !== 'number') throw new UnsupportedError('SAME_LOWER padding of an input of unknown size in a GraphDef', `node '${n.name}'`);
    const [t, b] = samePads(shape[1], kernel[0]!, strides[0]!, dilations[0]!);
    const [l, r] = samePads(shape[2], kernel[1]!, strides[1]!, dilations[1]!);
    explicit = [b, r, t, l];
  }
  const pads = explicit ?? attrInts(n, 'pads', [0, 0, 0, 0]);
  if (pads.every((p) => p === 0)) return { input: w.ref(x), padding: 'VALID' };
  // OpenCV's importer sizes SAME padding from the undilated kernel: dilated convs get explicit pads
  if (allowSame && shape && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' && dilations.every((d) => d === 1)) {
    const [t, b] = samePads(shape[1], kernel[0]!, strides[0]!, dilations[0]!);
    const [l, r] = samePads(shape[2], kernel[1]!, strides[1]!, dilations[1]!);
    if (pads[0] === t && pads[1] === l && pads[2] === b && pads[3] === r) return { input: w.ref(x), padding: 'SAME' };
  }
  const p = w.paddings(`${n.name}/paddings`, [0, 0, pads[0]!, pads[2]!, pads[1]!, pads[3]!, 0, 0]);
  const name = w.fresh(`${n.name}/pad`);
  const dt = { T: T(w.dtype(x)), Tpaddings: T('int32') };
  // a max pool over values >= 0 (after a Relu) gets the same result from zero padding, which
  // OpenCV's importer runs (it has no PadV2): each window holds at least one real value
  if (padValue < 0 && w.nonNegative(x)) padValue = 0;
  const dims = shape?.length === 4 ? [shape[1], shape[2]] : [];
  if (padValue === 0) w.add(name, 'Pad', [w.ref(x), p], dt);
  else if (padValue < 0 && pads.every((q, i) => 2 * q < kernel[i % 2]! && typeof dims[i % 2] === 'number' && q < (dims[i % 2] as number))) {
    // Max pooling over reflected padding: with 2p < k a window reaching p rows into the padding
    // also holds the p real rows REFLECT copies there, so its max is unchanged; OpenCV runs MirrorPad
    w.add(name, 'MirrorPad', [w.ref(x), p], { ...dt, mode: s('REFLECT') });
  } else w.add(name, 'PadV2', [w.ref(x), p, w.const(`${n.name}/pad_value`, Tensor.float32([], [padValue]))], dt);
  return { input: name, padding: 'VALID', pads };
}

function nhwcConv(w: GraphDefWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  if (n.opType !== 'Conv') throw new UnsupportedError(`nnport.${n.opType} in a GraphDef`, where);
  const [x, wt, b] = n.inputs as [string, string, string | undefined];
  let ws = w.shape(wt);
  if (ws?.length === 5 && w.shape(x)?.length === 5) return nhwcConv3d(w, n, out);
  if (!ws || ws.length !== 4) throw new UnsupportedError('a Conv weight of unknown shape in a GraphDef', where);
  let weight = w.g.initializers.get(wt);
  let filter = w.ref(wt);
  const layout = attrString(n, 'kernel_layout', 'HWIO');
  if (layout === 'OHWI' && weight) {
    // TFLite's (out, kh, kw, in) becomes TF's (kh, kw, in, out)
    weight = permuteTensor(weight, [1, 2, 3, 0]);
    ws = weight.shape;
    filter = w.const(`${n.name}/filter_hwio`, weight);
  } else if (layout === 'OHWI' && ws.every((d) => typeof d === 'number')) {
    // a computed (out, kh, kw, in) filter, a TFLite CONV_2D's weights fed as an input: transposed in the graph
    filter = w.add(w.fresh(`${n.name}/filter_hwio`), 'Transpose', [filter, w.int32(`${n.name}/filter_perm`, [1, 2, 3, 0])], { T: T(w.dtype(wt)), Tperm: T('int32') });
    ws = [ws[1]!, ws[2]!, ws[3]!, ws[0]!];
  } else if (layout !== 'HWIO') throw new UnsupportedError(`conv weights in ${layout} that are not constant in a GraphDef`, where);
  const kernel = attrInts(n, 'kernel_shape', [ws[0] as number, ws[1] as number]);
  let strides = attrInts(n, 'strides', [1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1]);
  const group = attrInt(n, 'group', 1);
  const cin = w.shape(x)?.[3];
  // TensorFlow's kernels run no conv both strided and dilated: a stride-1 dilated conv over the
  // strided conv's padding, then every s-th row and column (a 1x1 MaxPool of stride s), is the same
  let subsample: number[] | undefined;
  let explicitPads: number[] | undefined;
  if (dilations.some((d) => d !== 1) && strides.some((v) => v !== 1)) {
    const autoPad = attrString(n, 'auto_pad', 'NOTSET');
    if (autoPad.startsWith('SAME')) {
      const hw = w.shape(x)?.slice(1, 3);
      if (!hw || typeof hw[0] !== 'number' || typeof hw[1] !== 'number') throw new UnsupportedError('a strided, dilated SAME conv over an input of unknown size in a GraphDef', where);
      const [t, b] = samePads(hw[0], kernel[0]!, strides[0]!, dilations[0]!);
      const [l, r] = samePads(hw[1], kernel[1]!, strides[1]!, dilations[1]!);
      explicitPads = autoPad === 'SAME_LOWER' ? [b, r, t, l] : [t, l, b, r];
    } else explicitPads = autoPad === 'VALID' ? [0, 0, 0, 0] : attrInts(n, 'pads', [0, 0, 0, 0]);
    subsample = strides;
    strides = [1, 1];
  }
  let op = 'Conv2D';
  let groups = 1;
  if (group > 1) {
    if (typeof cin !== 'number' || !weight) throw new UnsupportedError('a grouped conv of unknown channels or with a computed filter in a GraphDef', where);
    if (group === cin && ws[2] === 1) {
      // (kh, kw, 1, C*M) is a reshape of TF's depthwise (kh, kw, C, M)
      filter = w.const(`${n.name}/depthwise_filter`, weight.reshape([ws[0] as number, ws[1] as number, cin, (ws[3] as number) / cin]));
      op = 'DepthwiseConv2dNative';
    } else groups = group;
  }
  // a grouped conv adds its bias per group (below); any other gets one BiasAdd at the end
  const biasAfter = !!b && groups === 1;
  const conv = subsample ? w.fresh(`${n.name}/stride1`) : biasAfter ? w.fresh(`${n.name}/conv`) : out;
  const shape = w.shape(x);
  const dt = T(w.dtype(x));
  if (groups === 1 && dilations.some((d) => d !== 1) && dilations[0] === dilations[1] && shape?.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number') {
    atrousConv(w, n, x, filter, op, conv, kernel, dilations[0]!, [shape[1], shape[2]], explicitPads);
  } else if (groups === 1) {
    const p = padding(w, n, x, kernel, strides, dilations, 0, explicitPads);
    w.add(conv, op, [p.input, filter], { T: dt, strides: ints([1, ...strides, 1]), dilations: ints([1, ...dilations, 1]), padding: s(p.padding), data_format: s('NHWC') });
  } else {
    // Grouped: TensorFlow's CPU kernels take no groups, so the channels are split, each group
    // convolved with its slice of the filter, and the results joined (as Keras' Conv2D(groups=g) is exported)
    const p = padding(w, n, x, kernel, strides, dilations, 0, explicitPads);
    const parts = w.add(w.fresh(`${n.name}/split`), 'Split', [w.int32(`${n.name}/split_axis`, [3], true), p.input], { T: dt, num_split: { i: groups } });
    const [kh, kw, ci, co] = ws as number[];
    const per = co! / groups;
    const src = weight!.toFloat32();
    const bias = b ? w.g.initializers.get(b)?.toFloat32() : undefined;
    if (b && !bias) throw new UnsupportedError('a grouped conv with a computed bias in a GraphDef', where);
    const convs = Array.from({ length: groups }, (_, g) => {
      const f = new Float32Array(kh! * kw! * ci! * per);
      for (let i = 0; i < kh! * kw! * ci!; i++) f.set(src.subarray(i * co! + g * per, i * co! + (g + 1) * per), i * per);
      const filt = w.const(`${n.name}/filter_${g}`, new Tensor('float32', [kh!, kw!, ci!, per], f));
      const c = w.add(w.fresh(`${n.name}/group_${g}`), 'Conv2D', [g ? `${parts}:${g}` : parts, filt], { T: dt, strides: ints([1, ...strides, 1]), dilations: ints([1, ...dilations, 1]), padding: s(p.padding), data_format: s('NHWC') });
      // each group adds its part of the bias (OpenCV fuses a BiasAdd only into the conv before it)
      if (!bias) return c;
      return w.add(w.fresh(`${n.name}/group_${g}_bias`), 'BiasAdd', [c, w.const(`${n.name}/bias_${g}`, new Tensor('float32', [per], bias.subarray(g * per, (g + 1) * per)))], { T: dt, data_format: s('NHWC') });
    });
    w.add(conv, 'ConcatV2', [...convs, w.int32(`${n.name}/concat_axis`, [3], true)], { T: dt, N: { i: groups }, Tidx: T('int32') });
  }
  // the bias goes before the subsampling MaxPool (the same values): OpenCV's importer adds a
  // BiasAdd that follows a pool with the bias' first element in every channel
  const biased = biasAfter ? w.add(subsample ? w.fresh(`${n.name}/conv`) : out, 'BiasAdd', [conv, w.ref(b!)], { T: dt, data_format: s('NHWC') }) : conv;
  if (subsample) w.add(out, 'MaxPool', [biased], { T: dt, ksize: ints([1, 1, 1, 1]), strides: ints([1, ...subsample, 1]), padding: s('VALID'), data_format: s('NHWC') });
}

/**
 * A 3-D conv over NDHWC data with a (kd, kh, kw, in, out) filter as TF's Conv3D (VALID, SAME, or a
 * Pad in front), then BiasAdd. TF's CPU Conv3D takes no dilations and no groups: a dilated
 * constant filter is written with zeros between its taps, a grouped one split per group (the
 * input split alike, the results joined), as Keras' Conv3D(groups=g) is exported.
 */
function nhwcConv3d(w: GraphDefWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  const [x, wt, b] = n.inputs as [string, string, string | undefined];
  const ws = w.shape(wt)!;
  const shape = w.shape(x)!;
  if (attrString(n, 'kernel_layout', 'HWIO') !== 'HWIO') throw new UnsupportedError(`3-D conv weights in ${attrString(n, 'kernel_layout', '')} in a GraphDef`, where);
  const group = attrInt(n, 'group', 1);
  const dilations = attrInts(n, 'dilations', [1, 1, 1]);
  let weight = w.g.initializers.get(wt);
  if ((group !== 1 || dilations.some((d) => d !== 1)) && (!weight || weight.dtype !== 'float32')) throw new UnsupportedError('a grouped or dilated 3-D conv with a computed or non-float32 filter in a GraphDef', where);
  if (weight && dilations.some((d) => d !== 1)) weight = dilatedKernel(weight, dilations);
  const kernel = weight ? weight.shape.slice(0, 3) : attrInts(n, 'kernel_shape', ws.slice(0, 3) as number[]);
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const dims = shape.slice(1, 4);
  let pads = autoPad === 'VALID' ? [0, 0, 0, 0, 0, 0] : attrInts(n, 'pads', [0, 0, 0, 0, 0, 0]);
  let padding = 'VALID';
  if (autoPad === 'SAME_UPPER') padding = 'SAME';
  else if (autoPad === 'SAME_LOWER') {
    if (dims.some((d) => typeof d !== 'number')) throw new UnsupportedError('SAME_LOWER padding of an input of unknown size in a GraphDef', where);
    const same = dims.map((d, i) => samePads(d as number, kernel[i]!, strides[i]!, 1));
    pads = [...same.map((p) => p[1]), ...same.map((p) => p[0])];
  }
  const dt = T(w.dtype(x));
  let input = w.ref(x);
  if (padding === 'VALID' && pads.some((p) => p !== 0)) {
    input = w.add(w.fresh(`${n.name}/pad`), 'Pad', [input, w.paddings(`${n.name}/paddings`, [0, 0, ...[0, 1, 2].flatMap((i) => [pads[i]!, pads[i + 3]!]), 0, 0])], { T: dt, Tpaddings: T('int32') });
  }
  const conv = b ? w.fresh(`${n.name}/conv`) : out;
  const attrs = { T: dt, strides: ints([1, ...strides, 1]), dilations: ints([1, 1, 1, 1, 1]), padding: s(padding), data_format: s('NDHWC') };
  if (group === 1) w.add(conv, 'Conv3D', [input, weight && weight !== w.g.initializers.get(wt) ? w.const(`${n.name}/filter_dilated`, weight) : w.ref(wt)], attrs);
  else {
    const [kd, kh, kw, ci, co] = weight!.shape as number[];
    const per = co! / group;
    const src = weight!.toFloat32();
    const parts = w.add(w.fresh(`${n.name}/split`), 'Split', [w.int32(`${n.name}/split_axis`, [4], true), input], { T: dt, num_split: { i: group } });
    const convs = Array.from({ length: group }, (_, g) => {
      const f = new Float32Array(kd! * kh! * kw! * ci! * per);
      for (let i = 0; i < kd! * kh! * kw! * ci!; i++) f.set(src.subarray(i * co! + g * per, i * co! + (g + 1) * per), i * per);
      const filt = w.const(`${n.name}/filter_${g}`, new Tensor('float32', [kd!, kh!, kw!, ci!, per], f));
      return w.add(w.fresh(`${n.name}/group_${g}`), 'Conv3D', [g ? `${parts}:${g}` : parts, filt], attrs);
    });
    w.add(conv, 'ConcatV2', [...convs, w.int32(`${n.name}/concat_axis`, [4], true)], { T: dt, N: { i: group }, Tidx: T('int32') });
  }
  if (b) w.add(out, 'BiasAdd', [conv, w.ref(b)], { T: dt, data_format: s('NHWC') });
}

/** A (k..., in, out) float filter with d - 1 zeros between its taps along each kernel axis: the same conv, undilated. */
function dilatedKernel(weight: Tensor, d: number[]): Tensor {
  const r = d.length;
  const k = weight.shape.slice(0, r) as number[];
  const inner = (weight.shape.slice(r) as number[]).reduce((a, v) => a * v, 1);
  const big = k.map((v, i) => (v - 1) * d[i]! + 1);
  const src = weight.toFloat32();
  const dst = new Float32Array(big.reduce((a, v) => a * v, 1) * inner);
  const count = k.reduce((a, v) => a * v, 1);
  for (let t = 0; t < count; t++) {
    let rest = t;
    let at = 0;
    for (let i = r - 1, stride = 1; i >= 0; stride *= big[i]!, i--) {
      at += (rest % k[i]!) * d[i]! * stride;
      rest = Math.floor(rest / k[i]!);
    }
    dst.set(src.subarray(t * inner, (t + 1) * inner), at * inner);
  }
  return new Tensor('float32', [...big, ...(weight.shape.slice(r) as number[])], dst);
}

/**
 * A dilated conv in TF1's atrous form, SpaceToBatchND -> Conv2D (VALID) -> BatchToSpaceND, as
 * tf.nn.atrous_conv2d writes it: OpenCV's importer runs this pattern, while it sizes SAME pads of
 * a Conv2D with `dilations` from the undilated kernel and gets a padded one's output size wrong.
 */
function atrousConv(w: GraphDefWriter, n: Node, x: string, filter: string, op: string, out: string, kernel: number[], d: number, hw: [number, number], explicit?: number[]): void {
  const pads = explicit ? [...explicit] : attrString(n, 'auto_pad', 'NOTSET') === 'VALID' ? [0, 0, 0, 0] : attrInts(n, 'pads', [0, 0, 0, 0]);
  if (!explicit && attrString(n, 'auto_pad', 'NOTSET').startsWith('SAME')) {
    const [t, b] = samePads(hw[0], kernel[0]!, 1, d);
    const [l, r] = samePads(hw[1], kernel[1]!, 1, d);
    pads.splice(0, 4, t, l, b, r);
  }
  // each spatial dim padded to a multiple of the block; the surplus is cropped off the end afterwards
  const paddings: number[] = [];
  const crops: number[] = [];
  for (const k of [0, 1]) {
    const padded = hw[k]! + pads[k]! + pads[k + 2]!;
    const extra = (d - (padded % d)) % d;
    paddings.push(pads[k]!, pads[k + 2]! + extra);
    crops.push(0, extra);
  }
  const dt = T(w.dtype(x));
  const block = w.int32(`${n.name}/block_shape`, [d, d]);
  const s2b = w.add(w.fresh(`${n.name}/SpaceToBatchND`), 'SpaceToBatchND', [w.ref(x), block, w.const(`${n.name}/paddings`, new Tensor('int32', [2, 2], Int32Array.from(paddings)))], { T: dt, Tblock_shape: T('int32'), Tpaddings: T('int32') });
  const conv = w.add(w.fresh(`${n.name}/atrous`), op, [s2b, filter], { T: dt, strides: ints([1, 1, 1, 1]), dilations: ints([1, 1, 1, 1]), padding: s('VALID'), data_format: s('NHWC') });
  w.add(out, 'BatchToSpaceND', [conv, w.int32(`${n.name}/block_shape_out`, [d, d]), w.const(`${n.name}/crops`, new Tensor('int32', [2, 2], Int32Array.from(crops)))], { T: dt, Tblock_shape: T('int32'), Tcrops: T('int32') });
}

function nhwcPool(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  if (w.shape(x)?.length === 5) return nhwcPool3d(w, n, out);
  const kernel = attrInts(n, 'kernel_shape', []);
  const strides = attrInts(n, 'strides', [1, 1]);
  const max = n.opType === 'MaxPool';
  const where = `node '${n.name}'`;
  const dilations = attrInts(n, 'dilations', [1, 1]);
  if (dilations.some((d) => d !== 1)) {
    if (!max) throw new UnsupportedError('dilated average pooling in a GraphDef', where);
    return dilatedMaxPool(w, n, out, kernel, strides, dilations);
  }
  let explicit: number[] | undefined;
  if (attrInt(n, 'ceil_mode', 0)) {
    // ceil mode: the last window may run past the padded input; that overhang becomes end padding
    const shape = w.shape(x);
    const pads = [...attrInts(n, 'pads', [0, 0, 0, 0])];
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' || !shape || shape.length !== 4 || typeof shape[1] !== 'number' || typeof shape[2] !== 'number') throw new UnsupportedError('ceil-mode pooling of unknown size or with auto_pad in a GraphDef', where);
    for (const i of [0, 1]) {
      const size = (shape[1 + i] as number) + pads[i]! + pads[i + 2]!;
      let o = Math.ceil((size - kernel[i]!) / strides[i]!) + 1;
      // (ONNX/PyTorch: a last window starting in the end padding is dropped)
      if ((o - 1) * strides[i]! >= (shape[1 + i] as number) + pads[i]!) o--;
      const extra = Math.max(0, (o - 1) * strides[i]! + kernel[i]! - size);
      if (extra && !max) throw new UnsupportedError('ceil-mode average pooling whose last window runs past the input in a GraphDef (TF would count the overhang)', where);
      pads[i + 2]! += extra;
    }
    explicit = pads;
  }
  const counted = !max && !!attrInt(n, 'count_include_pad', 0);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const shape = w.shape(x);
  const hw = shape?.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' ? [shape[1], shape[2]] : undefined;
  if (counted && !explicit && autoPad.startsWith('SAME')) {
    // counted padding is TF's VALID over zero-padded data, never its SAME (which averages real cells only)
    if (!hw) throw new UnsupportedError('average pooling with count_include_pad and auto_pad of an input of unknown size in a GraphDef', where);
    const [t, b] = samePads(hw[0]!, kernel[0]!, strides[0]!, 1);
    const [l, r] = samePads(hw[1]!, kernel[1]!, strides[1]!, 1);
    explicit = autoPad === 'SAME_LOWER' ? [b, r, t, l] : [t, l, b, r];
  }
  const p = padding(w, n, x, kernel, strides, [1, 1], max ? -3.4028234663852886e38 : 0, explicit, !counted);
  const dt = T(w.dtype(x));
  if (!max && p.input !== w.ref(x) && !counted) {
    // pads TF's SAME cannot express, not counted: the average over the zero-padded input, rescaled per
    // output cell by kernel size / the real cells its window holds (a constant, the input size being known)
    if (!hw || !p.pads || w.dtype(x) !== 'float32') throw new UnsupportedError('average pooling whose padding TF SAME cannot express, of a non-float32 input or one of unknown size', where);
    const [t, l, b, r] = p.pads as [number, number, number, number];
    const real = (size: number, k: number, st: number, before: number, after: number) =>
      Array.from({ length: Math.floor((size + before + after - k) / st) + 1 }, (_, i) => Math.min(size, i * st - before + k) - Math.max(0, i * st - before));
    const rows = real(hw[0]!, kernel[0]!, strides[0]!, t, b);
    const cols = real(hw[1]!, kernel[1]!, strides[1]!, l, r);
    const scale = Float32Array.from(rows.flatMap((a) => cols.map((c) => (kernel[0]! * kernel[1]!) / (a * c))));
    const pooled = w.add(w.fresh(`${n.name}/padded_average`), 'AvgPool', [p.input], { T: dt, ksize: ints([1, ...kernel, 1]), strides: ints([1, ...strides, 1]), padding: s('VALID'), data_format: s('NHWC') });
    w.add(out, 'Mul', [pooled, w.const(`${n.name}/real_cells`, new Tensor('float32', [1, rows.length, cols.length, 1], scale))], { T: dt });
    return;
  }
  w.add(out, max ? 'MaxPool' : 'AvgPool', [p.input], { T: dt, ksize: ints([1, ...kernel, 1]), strides: ints([1, ...strides, 1]), padding: s(p.padding), data_format: s('NHWC') });
}

/**
 * Dilated max pooling (TF's MaxPool has no dilations) in the atrous form tf.nn.pool writes:
 * the input padded with the lowest float (zero over values >= 0), SpaceToBatchND by the dilation,
 * an undilated stride-1 MaxPool, BatchToSpaceND (the block-alignment padding cropped off the end:
 * no kept window reaches it), then every s-th row / column (a 1x1 MaxPool of the stride).
 */
function dilatedMaxPool(w: GraphDefWriter, n: Node, out: string, kernel: number[], strides: number[], d: number[]): void {
  const x = n.inputs[0]!;
  const where = `node '${n.name}'`;
  const shape = w.shape(x);
  if (attrInt(n, 'ceil_mode', 0)) throw new UnsupportedError('ceil-mode dilated pooling in a GraphDef', where);
  if (!shape || shape.length !== 4 || typeof shape[1] !== 'number' || typeof shape[2] !== 'number' || kernel.length !== 2) throw new UnsupportedError('dilated pooling of an input of unknown size in a GraphDef', where);
  const hw = [shape[1], shape[2]];
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  let pads = autoPad === 'VALID' ? [0, 0, 0, 0] : attrInts(n, 'pads', [0, 0, 0, 0]);
  if (autoPad.startsWith('SAME')) {
    const [t, b] = samePads(hw[0]!, kernel[0]!, strides[0]!, d[0]!);
    const [l, r] = samePads(hw[1]!, kernel[1]!, strides[1]!, d[1]!);
    pads = autoPad === 'SAME_LOWER' ? [b, r, t, l] : [t, l, b, r];
  }
  const dt = T(w.dtype(x));
  let input = w.ref(x);
  if (pads.some((p) => p !== 0)) {
    const p = w.paddings(`${n.name}/paddings`, [0, 0, pads[0]!, pads[2]!, pads[1]!, pads[3]!, 0, 0]);
    const name = w.fresh(`${n.name}/pad`);
    if (w.nonNegative(x)) input = w.add(name, 'Pad', [input, p], { T: dt, Tpaddings: T('int32') });
    else input = w.add(name, 'PadV2', [input, p, w.const(`${n.name}/pad_value`, Tensor.float32([], [-3.4028234663852886e38]))], { T: dt, Tpaddings: T('int32') });
  }
  const padded = [0, 1].map((i) => hw[i]! + pads[i]! + pads[i + 2]!);
  if (padded.some((size, i) => size < (kernel[i]! - 1) * d[i]! + 1)) throw new UnsupportedError('dilated pooling with a window larger than its padded input in a GraphDef', where);
  const extra = padded.map((size, i) => (d[i]! - (size % d[i]!)) % d[i]!);
  const block = () => w.int32(`${n.name}/block_shape`, d);
  const s2b = w.add(w.fresh(`${n.name}/SpaceToBatchND`), 'SpaceToBatchND', [input, block(), w.const(`${n.name}/block_paddings`, new Tensor('int32', [2, 2], Int32Array.of(0, extra[0]!, 0, extra[1]!)))], { T: dt, Tblock_shape: T('int32'), Tpaddings: T('int32') });
  const pooled = w.add(w.fresh(`${n.name}/atrous`), 'MaxPool', [s2b], { T: dt, ksize: ints([1, ...kernel, 1]), strides: ints([1, 1, 1, 1]), padding: s('VALID'), data_format: s('NHWC') });
  const strided = strides.some((v) => v !== 1);
  const b2s = w.add(strided ? w.fresh(`${n.name}/BatchToSpaceND`) : out, 'BatchToSpaceND', [pooled, block(), w.const(`${n.name}/crops`, new Tensor('int32', [2, 2], Int32Array.of(0, extra[0]!, 0, extra[1]!)))], { T: dt, Tblock_shape: T('int32'), Tcrops: T('int32') });
  if (strided) w.add(out, 'MaxPool', [b2s], { T: dt, ksize: ints([1, 1, 1, 1]), strides: ints([1, ...strides, 1]), padding: s('VALID'), data_format: s('NHWC') });
}

/**
 * A 3-D pool over NDHWC data as MaxPool3D / AvgPool3D: VALID, TF's SAME (which, like ONNX
 * without count_include_pad, averages only the real elements), or a Pad in front.
 */
function nhwcPool3d(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const where = `node '${n.name}'`;
  const max = n.opType === 'MaxPool';
  const shape = w.shape(x)!;
  const kernel = attrInts(n, 'kernel_shape', []);
  const strides = attrInts(n, 'strides', [1, 1, 1]);
  if (attrInts(n, 'dilations', [1, 1, 1]).some((d) => d !== 1)) throw new UnsupportedError('dilated pooling in a GraphDef', where);
  if (attrInt(n, 'ceil_mode', 0)) throw new UnsupportedError('ceil-mode 3-D pooling in a GraphDef', where);
  const dims = shape.slice(1, 4);
  if (kernel.length !== 3 || dims.some((d) => typeof d !== 'number')) throw new UnsupportedError('3-D pooling of unknown size in a GraphDef', where);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const same = dims.map((d, i) => samePads(d as number, kernel[i]!, strides[i]!, 1));
  let pads = autoPad === 'VALID' ? [0, 0, 0, 0, 0, 0] : attrInts(n, 'pads', [0, 0, 0, 0, 0, 0]);
  if (autoPad === 'SAME_UPPER') pads = [...same.map((p) => p[0]), ...same.map((p) => p[1])];
  else if (autoPad === 'SAME_LOWER') pads = [...same.map((p) => p[1]), ...same.map((p) => p[0])];
  let input = w.ref(x);
  let padding = 'VALID';
  const dt = T(w.dtype(x));
  if (pads.some((p) => p !== 0)) {
    const counted = !max && !!attrInt(n, 'count_include_pad', 0);
    if (!counted && same.every((p, i) => p[0] === pads[i] && p[1] === pads[i + 3])) padding = 'SAME';
    else if (!max && !counted) throw new UnsupportedError('average pooling whose padding TF SAME cannot express', where);
    else {
      const p = w.paddings(`${n.name}/paddings`, [0, 0, ...[0, 1, 2].flatMap((i) => [pads[i]!, pads[i + 3]!]), 0, 0]);
      input = w.fresh(`${n.name}/pad`);
      // max pooling pads with the lowest float (a window always holds a real value), or zero over values >= 0
      if (!max || w.nonNegative(x)) w.add(input, 'Pad', [w.ref(x), p], { T: dt, Tpaddings: T('int32') });
      else w.add(input, 'PadV2', [w.ref(x), p, w.const(`${n.name}/pad_value`, Tensor.float32([], [-3.4028234663852886e38]))], { T: dt, Tpaddings: T('int32') });
    }
  }
  w.add(out, max ? 'MaxPool3D' : 'AvgPool3D', [input], { T: dt, ksize: ints([1, ...kernel, 1]), strides: ints([1, ...strides, 1]), padding: s(padding), data_format: s('NDHWC') });
}

/**
 * ConvTranspose (HWOI weights: TF's own (kh, kw, out, in)) as Conv2DBackpropInput. VALID over
 * the full output ((in-1)*s + k_eff + output_padding; the output_padding rows get no
 * contributions, as in ONNX), then ONNX's pads cropped with a Slice: TF's SAME would put an
 * odd crop at the end where PyTorch puts it at the start.
 */
function nhwcConvTranspose(w: GraphDefWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  const [x, wt, b] = n.inputs as [string, string, string | undefined];
  const layout = attrString(n, 'kernel_layout', 'HWOI');
  if (layout !== 'HWOI' && layout !== 'OHWI') throw new UnsupportedError(`ConvTranspose weights in ${layout} in a GraphDef`, where);
  if (attrInt(n, 'group', 1) !== 1) throw new UnsupportedError('grouped ConvTranspose in a GraphDef', where);
  let ws = w.shape(wt);
  let filter = w.ref(wt);
  if (layout === 'OHWI') {
    // TFLite's TRANSPOSE_CONV (out, kh, kw, in) as TF's (kh, kw, out, in): a constant re-laid, a computed one transposed in the graph
    if (!ws || ws.length !== 4) throw new UnsupportedError('a ConvTranspose of unknown shape in a GraphDef', where);
    const weight = w.g.initializers.get(wt);
    filter = weight ? w.const(`${n.name}/filter_hwoi`, permuteTensor(weight, [1, 2, 0, 3])) : w.add(w.fresh(`${n.name}/filter_hwoi`), 'Transpose', [filter, w.int32(`${n.name}/filter_perm`, [1, 2, 0, 3])], { T: T(w.dtype(wt)), Tperm: T('int32') });
    ws = [ws[1]!, ws[2]!, ws[0]!, ws[3]!];
  }
  const xs = w.shape(x);
  const ys = w.shape(n.outputs[0]!);
  if (!ws || ws.length !== 4 || typeof ws[2] !== 'number' || !xs || xs.length !== 4) throw new UnsupportedError('a ConvTranspose of unknown shape in a GraphDef', where);
  const kernel = attrInts(n, 'kernel_shape', [ws[0] as number, ws[1] as number]);
  const strides = attrInts(n, 'strides', [1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1]);
  if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new UnsupportedError('ConvTranspose with auto_pad in a GraphDef', where);
  if (attrInts(n, 'output_shape')) throw new UnsupportedError('ConvTranspose with output_shape in a GraphDef', where);
  const pads = attrInts(n, 'pads', [0, 0, 0, 0]);
  const outPad = attrInts(n, 'output_padding', [0, 0]);
  const cout = ws[2];
  const dt = T(w.dtype(x));
  const I = T('int32');
  const cropped = pads.some((p) => p !== 0);
  // a height / width known only at run time (an export with dynamic axes; a TF Conv2DBackpropInput of a Keras
  // Conv2DTranspose on an input of unknown size, read back): the output's shape from Shape(x), h·s + (k_eff − s +
  // output_padding) per axis. Pads and dilations are gone by then where they can be (convTransposeAsValid crops the
  // pads by a Slice counted from the end and dilates the kernel); what is left is refused (the crop's size would be
  // computed too, and TF.js' Conv2DBackpropInput ignores dilations)
  const runTime = typeof xs[1] !== 'number' || typeof xs[2] !== 'number' || !ys || ys.slice(1).some((d) => typeof d !== 'number');
  if (runTime && (cropped || dilations.some((d) => d !== 1))) throw new UnsupportedError('ConvTranspose with pads or dilations of an input of run-time size in a GraphDef', where);
  const extent = [0, 1].map((i) => (kernel[i]! - 1) * dilations[i]! + 1 + outPad[i]!);
  let outputShape: string;
  if (runTime) {
    const dims = runTimeDims(w, `${n.name}/input`, { ref: w.ref(x), dtype: w.dtype(x) }, { begin: 0, size: 3 });
    const scaled = w.add(w.fresh(`${n.name}/scaled`), 'Mul', [dims, w.int32(`${n.name}/strides`, [1, ...strides])], { T: I });
    const full = w.add(w.fresh(`${n.name}/full`), 'AddV2', [scaled, w.int32(`${n.name}/extent`, [0, ...extent.map((e, i) => e - strides[i]!)])], { T: I });
    outputShape = w.add(w.fresh(`${n.name}/output_shape`), 'ConcatV2', [full, w.int32(`${n.name}/output_c`, [cout]), w.int32(`${n.name}/output_shape_axis`, [0], true)], { N: { i: 2 }, T: I, Tidx: I });
  } else {
    const full = [0, 1].map((i) => ((xs[1 + i] as number) - 1) * strides[i]! + extent[i]!);
    // a batch known only at run time (a detector's per-box heads): the output shape takes it from Shape(x)
    outputShape =
      typeof xs[0] === 'number'
        ? w.int32(`${n.name}/output_shape`, [xs[0], full[0]!, full[1]!, cout])
        : w.add(w.fresh(`${n.name}/output_shape`), 'ConcatV2', [
            runTimeDims(w, `${n.name}/batch`, { ref: w.ref(x), dtype: w.dtype(x) }, { begin: 0, size: 1 }),
            w.int32(`${n.name}/output_hwc`, [full[0]!, full[1]!, cout]),
            w.int32(`${n.name}/output_shape_axis`, [0], true),
          ], { N: { i: 2 }, T: I, Tidx: I });
  }
  const deconv = cropped || b ? w.fresh(`${n.name}/conv_transpose`) : out;
  w.add(deconv, 'Conv2DBackpropInput', [outputShape, filter, w.ref(x)], {
    T: dt,
    strides: ints([1, ...strides, 1]),
    dilations: ints([1, ...dilations, 1]),
    padding: s('VALID'),
    data_format: s('NHWC'),
  });
  let y = deconv;
  if (cropped) {
    y = b ? w.fresh(`${n.name}/crop`) : out;
    w.add(y, 'Slice', [deconv, w.int32(`${n.name}/crop_begin`, [0, pads[0]!, pads[1]!, 0]), w.int32(`${n.name}/crop_size`, [-1, ys![1] as number, ys![2] as number, cout])], { T: dt, Index: T('int32') });
  }
  if (b) w.add(out, 'BiasAdd', [y, w.ref(b)], { T: dt, data_format: s('NHWC') });
}

/** A channels-last global pool as Mean / Max over every axis between the batch and the channels (1-D, 2-D and 3-D data). */
function globalPool(w: GraphDefWriter, n: Node, out: string, op: 'Mean' | 'Max'): void {
  const rank = w.shape(n.inputs[0]!)?.length;
  if (rank === undefined || rank < 3) throw new UnsupportedError(`${n.opType} of an input of unknown rank in a GraphDef`, `node '${n.name}'`);
  const axes = Array.from({ length: rank - 2 }, (_, i) => i + 1);
  w.add(out, op, [w.ref(n.inputs[0]!), w.int32(`${n.name}/axes`, axes)], { T: T(w.dtype(n.inputs[0]!)), Tidx: T('int32'), keep_dims: { b: true } });
}

export const convPoolRows: Record<string, Row> = {
  'nnport::Conv': nhwcConv,
  'nnport::ConvTranspose': nhwcConvTranspose,
  'nnport::MaxPool': nhwcPool,
  'nnport::AveragePool': nhwcPool,
  'nnport::GlobalAveragePool': (w, n, out) => globalPool(w, n, out, 'Mean'),
  'nnport::GlobalMaxPool': (w, n, out) => globalPool(w, n, out, 'Max'),
};
