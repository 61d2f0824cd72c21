// Keras layers with data_format='channels_first' (Theano-era models, keras-applications built with
// image_data_format=channels_first, models ported from PyTorch): their data is already (N, C, d1..dk),
// the IR's own layout, so each becomes the plain ONNX op with no transpose around it. Keras keeps the
// kernels in the same (k..., in, out) layout whatever the data format: they are permuted here to ONNX's
// (out, in, k...) (a deferred view, nothing copied until written or run).
import { UnsupportedError, ShapeError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { Json } from './config.js';
import {
  checkShape,
  cfgNum,
  convOut,
  float,
  int,
  ints,
  intsConst,
  knownSize,
  need,
  one,
  padAttrs,
  pairs,
  str,
  tfPads,
  tuple,
  upSamplingAttrs,
  withActivation,
  type IrEmitter,
  type KShape,
  type KValue,
  type LayerCall,
  type LayerRow,
} from './layers.js';

/** Whether a layer's config names data_format 'channels_first' (an absent or null one is Keras' default, channels_last). */
export function isChannelsFirst(call: LayerCall): boolean {
  return call.config.data_format === 'channels_first';
}

/** A table row that reads `data_format`: `first` for channels_first, else `last` (which refuses other formats). */
export function byDataFormat(last: LayerRow, first: LayerRow): LayerRow {
  return (e, call) => (isChannelsFirst(call) ? first(e, call) : last(e, call));
}

/**
 * A normalization row that reads `axis`: `first` where it normalizes axis 1 of a rank >= 3 input
 * (the channel axis of channels_first data), else `last`.
 */
export function byNormAxis(last: LayerRow, first: LayerRow): LayerRow {
  return (e, call) => {
    const rank = call.inputs[0]?.shape.length ?? 0;
    const a = normAxis(call.config.axis);
    return rank >= 3 && a !== undefined && (a < 0 ? a + rank : a) === 1 ? first(e, call) : last(e, call);
  };
}

/** A Keras axis config as one integer: an int or a one-element list (Keras 2 saves BatchNormalization's axis either way). */
function normAxis(v: Json | undefined): number | undefined {
  const a = Array.isArray(v) && v.length === 1 ? v[0] : v;
  return typeof a === 'number' && Number.isInteger(a) ? a : undefined;
}

// A kernel permuted once per weight tensor: a shared layer (called twice, a siamese branch) keeps one
// initializer, since the emitter shares constants by tensor.
const permuted = new WeakMap<Tensor, Map<string, Tensor>>();

function onnxWeight(t: Tensor, key: string, make: (t: Tensor) => Tensor): Tensor {
  let m = permuted.get(t);
  if (!m) permuted.set(t, (m = new Map()));
  let w = m.get(key);
  if (!w) m.set(key, (w = make(t)));
  return w;
}

/** Keras' (k1..kn, in, out) kernel as ONNX Conv's (out, in, k1..kn). */
function oihw(t: Tensor): Tensor {
  const n = t.rank - 2;
  return onnxWeight(t, 'oihw', (k) => k.permute([n + 1, n, ...Array.from({ length: n }, (_, i) => i)]));
}

function channels(call: LayerCall, x: KValue): number {
  const c = x.shape[1];
  if (typeof c !== 'number') throw new ShapeError(`layer '${call.name}' (${call.className}): the input's channel count (axis 1, channels_first) is unknown`);
  return c;
}

function rankOf(call: LayerCall, x: KValue, rank: number): void {
  if (x.shape.length !== rank + 2) throw new ShapeError(`layer '${call.name}' (${call.className}, channels_first): input of rank ${x.shape.length}, expected ${rank + 2} (N, C, ${rank} spatial)`);
}

/** A conv layer's input (checked: `rank` spatial axes), config, and kernel_size / strides / dilation_rate per spatial axis. */
function convInput(call: LayerCall, rank: number) {
  const x = one(call);
  rankOf(call, x, rank);
  const cfg = call.config;
  const k = tuple(cfg.kernel_size, rank, 1, `layer '${call.name}' kernel_size`);
  const s = tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
  const d = tuple(cfg.dilation_rate, rank, 1, `layer '${call.name}' dilation_rate`);
  return { x, cfg, k, s, d };
}

export function convFirst(rank: number): LayerRow {
  return (e, call) => {
    const { x, cfg, k, s, d } = convInput(call, rank);
    const groups = cfgNum(cfg, 'groups', 1);
    const filters = cfgNum(cfg, 'filters', NaN);
    const cin = x.shape[1] ?? null;
    const kernel = need(call, 'kernel');
    checkShape(call, 'kernel', kernel, [...k, cin === null ? null : cin / groups, filters]);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(2);
    // Conv1D causal: all the padding before the first step
    const pads = padding === 'causal' ? [(k[0]! - 1) * d[0]!, 0] : tfPads(spatial, k, s, d, padding);
    const outSpatial = spatial.map((sz, i) => (padding === 'causal' ? sz : convOut(sz, k[i]!, s[i]!, d[i]!, padding)));
    return withActivation(e, call, (out) => {
      const inputs = [x.name, e.constant(`${call.name}/kernel`, oihw(kernel))];
      if (call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(groups), ...padAttrs(pads) };
      return { name: e.node('Conv', inputs, [out], attrs, '', out)[0]!, shape: [x.shape[0] ?? null, filters, ...outSpatial] };
    });
  };
}

/** DepthwiseConv1D/2D and SeparableConv1D/2D: a group=C conv (then, separable, a 1x1 conv). */
export function depthwiseFirst(rank: number): LayerRow {
  return (e, call) => {
    const { x, cfg, k, s, d } = convInput(call, rank);
    const c = channels(call, x);
    const kernel = need(call, 'depthwise_kernel');
    // TF.js saves SeparableConv2D without its depth_multiplier: then the kernel's last dim says it
    const m = cfg.depth_multiplier === undefined && kernel.rank === rank + 2 ? kernel.shape[rank + 1]! : cfgNum(cfg, 'depth_multiplier', 1);
    checkShape(call, 'depthwise_kernel', kernel, [...k, c, m]);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(2);
    const pads = tfPads(spatial, k, s, d, padding);
    const outSpatial = spatial.map((sz, i) => convOut(sz, k[i]!, s[i]!, d[i]!, padding));
    const separable = call.weights.has('pointwise_kernel');
    return withActivation(e, call, (out) => {
      const dwOut = separable ? `${call.name}/depthwise` : out;
      // (k..., C, M) reshaped is (k..., 1, C·M): output channel c·M + m reads input channel c, as ONNX's group=C conv
      const w = onnxWeight(kernel, 'depthwise', (t) => oihw(t.reshape([...k, 1, c * m])));
      const inputs = [x.name, e.constant(`${call.name}/depthwise_kernel`, w)];
      if (!separable && call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(c), ...padAttrs(pads) };
      const y: KValue = { name: e.node('Conv', inputs, [dwOut], attrs, '', dwOut)[0]!, shape: [x.shape[0] ?? null, c * m, ...outSpatial] };
      if (!separable) return y;
      const pw = need(call, 'pointwise_kernel');
      const filters = cfgNum(cfg, 'filters', NaN);
      const ones = new Array<number>(rank).fill(1);
      checkShape(call, 'pointwise_kernel', pw, [...ones, c * m, filters]);
      const pin = [y.name, e.constant(`${call.name}/pointwise_kernel`, oihw(pw))];
      if (call.weights.has('bias')) pin.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const pattrs: Record<string, Attr> = { kernel_shape: ints(ones), strides: ints(ones), dilations: ints(ones), group: int(1), pads: ints(new Array<number>(2 * rank).fill(0)) };
      return { name: e.node('Conv', pin, [out], pattrs, '', out)[0]!, shape: [x.shape[0] ?? null, filters, ...outSpatial] };
    });
  };
}

export function convTransposeFirst(rank: number): LayerRow {
  return (e, call) => {
    const { x, cfg, k, s, d } = convInput(call, rank);
    const filters = cfgNum(cfg, 'filters', NaN);
    const kernel = need(call, 'kernel');
    checkShape(call, 'kernel', kernel, [...k, filters, x.shape[1] ?? null]);
    if (cfg.output_padding !== undefined && cfg.output_padding !== null) throw new UnsupportedError(`${call.className} output_padding`, `layer '${call.name}'`);
    if (d.some((v) => v !== 1)) throw new UnsupportedError(`${call.className} with dilation`, `layer '${call.name}'`);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(2);
    const outSpatial = spatial.map((sz, i) => (sz === null ? null : padding === 'same' ? sz * s[i]! : sz * s[i]! + Math.max(k[i]! - s[i]!, 0)));
    // TF crops the full transposed output like a SAME forward conv pads: floor(total/2) at the start
    const total = k.map((kk, i) => (padding === 'same' ? Math.max(kk - s[i]!, 0) : 0));
    const begin = total.map((t) => Math.floor(t / 2));
    return withActivation(e, call, (out) => {
      // Keras (k..., out, in) -> ONNX ConvTranspose's (in, out, k...)
      const w = onnxWeight(kernel, 'iohw', (t) => t.permute([rank + 1, rank, ...Array.from({ length: rank }, (_, i) => i)]));
      const inputs = [x.name, e.constant(`${call.name}/kernel`, w)];
      if (call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(1), pads: ints([...begin, ...total.map((t, i) => t - begin[i]!)]) };
      // a kernel smaller than its stride: Keras' output still covers stride x input
      if (k.some((kk, i) => kk < s[i]!)) attrs.output_padding = ints(k.map((kk, i) => Math.max(s[i]! - kk, 0)));
      return { name: e.node('ConvTranspose', inputs, [out], attrs, '', out)[0]!, shape: [x.shape[0] ?? null, filters, ...outSpatial] };
    });
  };
}

export function poolFirst(op: 'MaxPool' | 'AveragePool', rank: number): LayerRow {
  return (e, call) => {
    const x = one(call);
    rankOf(call, x, rank);
    const cfg = call.config;
    const k = tuple(cfg.pool_size, rank, 2, `layer '${call.name}' pool_size`);
    const s = cfg.strides === null || cfg.strides === undefined ? k : tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(2);
    const pads = tfPads(spatial, k, s, new Array<number>(rank).fill(1), padding);
    // TF's SAME average pooling divides by the real elements only: ONNX's count_include_pad = 0
    const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), ...padAttrs(pads) };
    const shape: KShape = [x.shape[0] ?? null, x.shape[1] ?? null, ...spatial.map((sz, i) => convOut(sz, k[i]!, s[i]!, 1, padding))];
    return [{ name: e.node(op, [x.name], [call.name], attrs, '', call.name)[0]!, shape }];
  };
}

export function globalPoolFirst(op: 'ReduceMean' | 'ReduceMax', rank: number): LayerRow {
  return (e, call) => {
    const x = one(call);
    rankOf(call, x, rank);
    const keep = call.config.keepdims === true;
    const axes = Array.from({ length: rank }, (_, i) => i + 2);
    const shape: KShape = keep ? [x.shape[0] ?? null, x.shape[1] ?? null, ...axes.map(() => 1)] : [x.shape[0] ?? null, x.shape[1] ?? null];
    return [{ name: e.node(op, [x.name], [call.name], { axes: ints(axes), keepdims: int(keep ? 1 : 0) }, '', call.name)[0]!, shape }];
  };
}

/** Keras flattens channels_first data in channels_last order: (N, C, d...) is permuted to (N, d..., C) first. */
export function flattenFirst(e: IrEmitter, call: LayerCall): KValue[] {
  const x = one(call);
  const r = x.shape.length;
  const size: KShape = [x.shape[0] ?? null, knownSize(x.shape.slice(1))];
  if (r < 3) return [{ name: e.node('Flatten', [x.name], [call.name], { axis: int(1) }, '', call.name)[0]!, shape: size }];
  const perm = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
  const t = e.node('Transpose', [x.name], [`${call.name}/channels_last`], { perm: ints(perm) }, '', `${call.name}/channels_last`)[0]!;
  return [{ name: e.node('Flatten', [t], [call.name], { axis: int(1) }, '', call.name)[0]!, shape: size }];
}

export function upSamplingFirst(rank: number): LayerRow {
  return (e, call) => {
    const x = one(call);
    rankOf(call, x, rank);
    const size = tuple(call.config.size, rank, 2, `layer '${call.name}' size`);
    const attrs = upSamplingAttrs(e, call);
    const scales = e.constant(`${call.name}/scales`, Tensor.float32([rank + 2], [1, 1, ...size]));
    const shape: KShape = [x.shape[0] ?? null, x.shape[1] ?? null, ...x.shape.slice(2).map((d, i) => (d === null ? null : d * size[i]!))];
    return [{ name: e.node('Resize', [x.name, '', scales], [call.name], attrs, '', call.name)[0]!, shape }];
  };
}

export function zeroPaddingFirst(rank: number): LayerRow {
  return (e, call) => {
    const x = one(call);
    rankOf(call, x, rank);
    const p = pairs(call.config.padding ?? 1, rank, `layer '${call.name}' padding`);
    const pads = [0, 0, ...p.map((q) => q[0]), 0, 0, ...p.map((q) => q[1])];
    const shape: KShape = x.shape.map((d, i) => (i >= 2 && d !== null ? d + p[i - 2]![0] + p[i - 2]![1] : d));
    return [{ name: e.node('Pad', [x.name, intsConst(e, `${call.name}/pads`, pads)], [call.name], { mode: str('constant') }, '', call.name)[0]!, shape }];
  };
}

export function croppingFirst(rank: number): LayerRow {
  return (e, call) => {
    const x = one(call);
    rankOf(call, x, rank);
    const p = pairs(call.config.cropping ?? 0, rank, `layer '${call.name}' cropping`);
    const axes = p.map((_, i) => i + 2);
    // a negative end counts from the back; 0 cropped at the end means "to the end"
    const ends = p.map((q) => (q[1] === 0 ? Number.MAX_SAFE_INTEGER : -q[1]));
    const inputs = [x.name, intsConst(e, `${call.name}/starts`, p.map((q) => q[0])), intsConst(e, `${call.name}/ends`, ends), intsConst(e, `${call.name}/axes`, axes)];
    const shape: KShape = x.shape.map((d, i) => (i >= 2 && d !== null ? d - p[i - 2]![0] - p[i - 2]![1] : d));
    return [{ name: e.node('Slice', inputs, [call.name], {}, '', call.name)[0]!, shape }];
  };
}

function channelVector(e: IrEmitter, call: LayerCall, role: string, c: number, fill: number): string {
  const t = call.weights.get(role) ?? Tensor.float32([c], new Array<number>(c).fill(fill));
  checkShape(call, role, t, [c]);
  return e.constant(`${call.name}/${role}`, t);
}

/** BatchNormalization(axis=1) on (N, C, d...): ONNX's own BatchNormalization. */
export function batchNormFirst(e: IrEmitter, call: LayerCall): KValue[] {
  const x = one(call);
  const c = channels(call, x);
  const inputs = [x.name, ...(['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((r, i) => channelVector(e, call, r, c, i === 0 || i === 3 ? 1 : 0))];
  return [{ name: e.node('BatchNormalization', inputs, [call.name], { epsilon: float(cfgNum(call.config, 'epsilon', 1e-3)) }, '', call.name)[0]!, shape: x.shape }];
}

/**
 * LayerNormalization(axis=1) on (N, C, d...) normalizes each position over the C channels alone
 * (ONNX's LayerNormalization normalizes every axis from `axis` on): the channels are moved last,
 * normalized, and moved back; the layout pass cancels the pair in an NHWC graph.
 */
export function layerNormFirst(e: IrEmitter, call: LayerCall): KValue[] {
  const x = one(call);
  const c = channels(call, x);
  const r = x.shape.length;
  const toLast = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
  const back = [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
  const t = e.node('Transpose', [x.name], [`${call.name}/channels_last`], { perm: ints(toLast) }, '', `${call.name}/channels_last`)[0]!;
  const attrs = { axis: int(-1), epsilon: float(cfgNum(call.config, 'epsilon', 1e-3)) };
  const n = e.node('LayerNormalization', [t, channelVector(e, call, 'gamma', c, 1), channelVector(e, call, 'beta', c, 0)], [`${call.name}/normalized`], attrs, '', `${call.name}/normalized`)[0]!;
  return [{ name: e.node('Transpose', [n], [call.name], { perm: ints(back) }, '', call.name)[0]!, shape: x.shape }];
}
