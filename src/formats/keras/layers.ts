// Keras layers -> IR: one row per Keras class name. Data stays channels-last: spatial ops become
// `nnport`-domain ops (ONNX op, ONNX attributes, NHWC data, HWIO kernels), everything else plain
// ONNX ops whose axes are already those of the channels-last data. No transposes are added.
import { UnsupportedError, FormatError, ShapeError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, type Json, type JsonObject, type OpCallArgs } from './config.js';
import {
  batchNormFirst,
  byDataFormat,
  byNormAxis,
  convFirst,
  convTransposeFirst,
  croppingFirst,
  depthwiseFirst,
  flattenFirst,
  globalPoolFirst,
  layerNormFirst,
  poolFirst,
  upSamplingFirst,
  zeroPaddingFirst,
} from './channels-first.js';
import { dotLayer } from './dot.js';
import { embeddingMask, maskedAveragePooling, maskedRecurrent, maskedSoftmax, maskingLayer, type MaskRef } from './masking.js';
import { bidirectionalLayer, recurrentLayer, recurrentWeightRoles, statefulRecurrent } from './recurrent.js';
import { convLstmLayer, convRecurrentWeightRoles } from './conv-recurrent.js';
import { denseAttention, denseAttentionWeightRoles, multiHeadAttention } from './attention.js';
import { tfOpLambdaLayer } from './tf-op-lambda.js';
import { timeDistributedLayer, timeDistributedWeightRoles } from './time-distributed.js';

/** A static shape with unknown dims as null (the batch dim usually). */
export type KShape = (number | null)[];

export interface KValue {
  name: string;
  shape: KShape;
  /** Keras' mask of the steps (Embedding mask_zero / Masking), masking.ts */
  mask?: MaskRef;
}

/** What a layer row needs to emit IR: fresh names, nodes, constants. */
export interface IrEmitter {
  readonly file: string;
  /** the file is Keras 3's (a .keras archive, or an .h5 with keras_version 3.x): its hard_sigmoid is relu6(x + 3) / 6 */
  readonly keras3: boolean;
  /**
   * the file was saved by TF.js (keras_version 'tfjs-layers ...'): its UpSampling2D bilinear resizes
   * without half-pixel centers, and a masked RNN's outputs follow TF.js' rnn, not Keras' (masking.ts)
   */
  readonly tfjsSaved: boolean;
  /** the file's keras_version as [major, minor] where it gives one (masking.ts kerasAtLeast) */
  readonly kerasVersion?: readonly number[];
  /** add a node; returns its output value names (made unique from `outputs`) */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, Attr>, domain?: string, name?: string): string[];
  /** add a constant; returns its (unique) name */
  constant(name: string, t: Tensor): string;
  /** a float32 graph input beyond the model's (a stateful RNN's carried state); returns its (unique) name */
  stateInput?(name: string, shape: KShape): string;
  /** a graph output beyond the model's (a stateful RNN's state after the call), after the model's outputs */
  stateOutput?(value: string, name: string, shape: KShape): void;
}

export interface LayerCall {
  className: string;
  name: string;
  config: JsonObject;
  inputs: KValue[];
  /** the layer's weights by role (kernel, bias, gamma, ...) */
  weights: Map<string, Tensor>;
  /** TFOpLambda / SlicingOpLambda: the TF function's arguments of this call (tf-op-lambda.ts) */
  opArgs?: OpCallArgs;
  /** a Keras 3 op's module (keras.src.ops.numpy, ...): keras3-ops.ts */
  keras3Op?: string;
}

export const int = (value: number): Attr => ({ type: 'int', value });
export const float = (value: number): Attr => ({ type: 'float', value });
export const ints = (value: number[]): Attr => ({ type: 'ints', value });
export const str = (value: string): Attr => ({ type: 'string', value });

// ---- config helpers ----

/** A size per spatial axis (kernel_size, strides, pool_size, ...): one positive integer or `n` of them. */
export function tuple(v: Json | undefined, n: number, fallback: number, what: string): number[] {
  if (v === undefined || v === null) return new Array<number>(n).fill(fallback);
  const sizes = typeof v === 'number' ? new Array<number>(n).fill(v) : v;
  if (Array.isArray(sizes) && sizes.length === n && sizes.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= MAX_SIZE)) return sizes as number[];
  throw new ShapeError(`${what}: expected ${n} positive integers, got ${JSON.stringify(v)?.slice(0, 80)}`);
}

/** The largest kernel, stride, pool or upsampling size a config may give (int32, as TF's own attributes). */
const MAX_SIZE = 2 ** 31 - 1;

export function cfgNum(cfg: JsonObject, key: string, fallback: number): number {
  const v = cfg[key];
  return typeof v === 'number' ? v : fallback;
}

export function cfgBool(cfg: JsonObject, key: string, fallback: boolean): boolean {
  const v = cfg[key];
  return typeof v === 'boolean' ? v : fallback;
}

/** `activation` as a name: a string, or Keras 3's serialized {class_name|config.name}. */
export function activationName(v: Json | undefined): string {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v;
  if (isObject(v)) {
    if (typeof v.config === 'string') return v.config;
    if (isObject(v.config) && typeof v.config.name === 'string') return v.config.name;
    if (typeof v.class_name === 'string') return v.class_name;
  }
  return String(v);
}

/** Which weights a layer class has, in Keras' order (the order of .keras `vars/<i>` and TF.js manifests). */
export function weightRoles(className: string, cfg: JsonObject): string[] {
  const bias = cfgBool(cfg, 'use_bias', true) ? ['bias'] : [];
  switch (className) {
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
    case 'Conv1DTranspose':
    case 'Conv2DTranspose':
    case 'Dense':
      return ['kernel', ...bias];
    case 'DepthwiseConv2D':
    case 'DepthwiseConv1D':
      return ['depthwise_kernel', ...bias];
    case 'SeparableConv1D':
    case 'SeparableConv2D':
      return ['depthwise_kernel', 'pointwise_kernel', ...bias];
    case 'BatchNormalization':
      return [...(cfgBool(cfg, 'scale', true) ? ['gamma'] : []), ...(cfgBool(cfg, 'center', true) ? ['beta'] : []), 'moving_mean', 'moving_variance'];
    case 'LayerNormalization':
    case 'GroupNormalization':
      return [...(cfgBool(cfg, 'scale', true) ? ['gamma'] : []), ...(cfgBool(cfg, 'center', true) ? ['beta'] : [])];
    case 'PReLU':
      return ['alpha'];
    case 'Embedding':
      return ['embeddings'];
    case 'MultiHeadAttention':
      return ['query', 'key', 'value', 'attention_output'].flatMap((d) => [`${d}/kernel`, ...bias.map((b) => `${d}/${b}`)]);
    case 'Attention':
    case 'AdditiveAttention':
      return denseAttentionWeightRoles(className, cfg);
    case 'Normalization':
      // Keras 2 also saves an int64 `count` (read by name and not used); mean / variance given to
      // the constructor are in the config instead
      return cfg.mean === undefined || cfg.mean === null ? ['mean', 'variance'] : [];
    case 'TimeDistributed':
      return timeDistributedWeightRoles(cfg);
    default:
      return recurrentWeightRoles(className, cfg) ?? convRecurrentWeightRoles(className, cfg) ?? [];
  }
}

// ---- shape helpers ----

export function convOut(size: number | null, k: number, s: number, d: number, padding: string): number | null {
  if (size === null) return null;
  const ek = (k - 1) * d + 1;
  return padding === 'same' ? Math.ceil(size / s) : Math.floor((size - ek) / s) + 1;
}

/** Explicit [begin..., end...] pads for TF's SAME (extra padding at the end), or zeros for VALID. */
export function tfPads(spatial: KShape, k: number[], s: number[], d: number[], padding: string): number[] | undefined {
  const n = k.length;
  if (padding === 'valid') return new Array<number>(2 * n).fill(0);
  if (spatial.some((x) => x === null)) return undefined; // auto_pad then
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < n; i++) {
    const size = spatial[i]!;
    const out = Math.ceil(size / s[i]!);
    const total = Math.max((out - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - size, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [...begin, ...end];
}

export function padAttrs(pads: number[] | undefined): Record<string, Attr> {
  return pads ? { pads: ints(pads) } : { auto_pad: str('SAME_UPPER') };
}

export function need(call: LayerCall, role: string): Tensor {
  const t = call.weights.get(role);
  if (!t) throw new FormatError(`layer '${call.name}' (${call.className}) has no '${role}' weight`);
  return t;
}

export function checkShape(call: LayerCall, role: string, t: Tensor, expected: KShape): void {
  const ok = t.rank === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    throw new ShapeError(`layer '${call.name}' (${call.className}): weight '${role}' has shape [${t.shape.join(', ')}], the config implies [${expected.map((d) => d ?? '?').join(', ')}]`);
  }
}

export function one(call: LayerCall): KValue {
  if (call.inputs.length !== 1) throw new FormatError(`layer '${call.name}' (${call.className}) takes one input, got ${call.inputs.length}`);
  return call.inputs[0]!;
}

function channelsLastOnly(call: LayerCall): void {
  const f = call.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') throw new UnsupportedError(`${call.className} with data_format '${String(f)}'`, `layer '${call.name}'`);
}

// ---- activations ----

/** Emit an activation by Keras name on x; returns the output value. `out` names the result. */
export function emitActivation(e: IrEmitter, act: string, x: KValue, out: string, call: { name: string; className: string; config?: JsonObject }): KValue {
  const un = (op: string, attrs: Record<string, Attr> = {}): KValue => ({ name: e.node(op, [x.name], [out], attrs, '', out)[0]!, shape: x.shape });
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return un('Relu');
    case 'relu6':
      return { name: e.node('Clip', [x.name, e.constant(`${out}/min`, Tensor.float32([], [0])), e.constant(`${out}/max`, Tensor.float32([], [6]))], [out], {}, '', out)[0]!, shape: x.shape };
    case 'sigmoid':
      return un('Sigmoid');
    case 'tanh':
      return un('Tanh');
    case 'softmax':
      return un('Softmax', { axis: int(-1) });
    case 'log_softmax':
      // Keras 3 / TF.js: along the last axis
      return un('LogSoftmax', { axis: int(-1) });
    case 'elu':
      return un('Elu', { alpha: float(1) });
    case 'selu':
      return un('Selu');
    case 'softplus':
      return un('Softplus');
    case 'softsign':
      return un('Softsign');
    case 'exponential':
      return un('Exp');
    case 'hard_sigmoid':
      // Keras 2 / TF.js: clip(0.2x + 0.5, 0, 1); Keras 3 changed it to relu6(x + 3) / 6
      return un('HardSigmoid', { alpha: float(e.keras3 ? 1 / 6 : 0.2), beta: float(0.5) });
    case 'hard_silu':
    case 'hard_swish':
      // Keras 3: x * relu6(x + 3) / 6
      return un('HardSwish');
    case 'swish':
    case 'silu': {
      const s = e.node('Sigmoid', [x.name], [`${out}/sigmoid`], {}, '', `${out}/sigmoid`)[0]!;
      return { name: e.node('Mul', [x.name, s], [out], {}, '', out)[0]!, shape: x.shape };
    }
    case 'mish': {
      // x * tanh(softplus(x))
      const sp = e.node('Softplus', [x.name], [`${out}/softplus`], {}, '', `${out}/softplus`)[0]!;
      const t = e.node('Tanh', [sp], [`${out}/tanh`], {}, '', `${out}/tanh`)[0]!;
      return { name: e.node('Mul', [x.name, t], [out], {}, '', out)[0]!, shape: x.shape };
    }
    case 'gelu': {
      // exact gelu: 0.5 x (1 + erf(x / sqrt 2)), Keras' default (approximate=False)
      const d = e.node('Div', [x.name, e.constant(`${out}/sqrt2`, Tensor.float32([], [Math.SQRT2]))], [`${out}/div`])[0]!;
      const f = e.node('Erf', [d], [`${out}/erf`])[0]!;
      const a = e.node('Add', [f, e.constant(`${out}/one`, Tensor.float32([], [1]))], [`${out}/add`])[0]!;
      const m = e.node('Mul', [x.name, a], [`${out}/mul`])[0]!;
      return { name: e.node('Mul', [m, e.constant(`${out}/half`, Tensor.float32([], [0.5]))], [out], {}, '', out)[0]!, shape: x.shape };
    }
    default:
      throw new UnsupportedError(`Keras activation '${act}'`, `layer '${call.name}' (${call.className})`);
  }
}

/** A layer's own op(s), then its `activation`; the last value is named after the layer. */
export function withActivation(e: IrEmitter, call: LayerCall, build: (out: string) => KValue): KValue[] {
  const act = activationName(call.config.activation);
  if (act === 'linear') return [build(call.name)];
  const pre = build(`${call.name}/pre_activation`);
  return [emitActivation(e, act, pre, call.name, call)];
}

// ---- the rows ----

export type LayerRow = (e: IrEmitter, call: LayerCall) => KValue[];

function conv(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const cfg = call.config;
    const k = tuple(cfg.kernel_size, rank, 1, `layer '${call.name}' kernel_size`);
    const s = tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
    const d = tuple(cfg.dilation_rate, rank, 1, `layer '${call.name}' dilation_rate`);
    const groups = cfgNum(cfg, 'groups', 1);
    const filters = cfgNum(cfg, 'filters', NaN);
    const cin = x.shape[x.shape.length - 1] ?? null;
    const kernel = need(call, 'kernel');
    checkShape(call, 'kernel', kernel, [...k, cin === null ? null : cin / groups, filters]);
    let padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(1, 1 + rank);
    let pads: number[] | undefined;
    if (padding === 'causal') {
      // Conv1D causal: all the padding on the left
      pads = [(k[0]! - 1) * d[0]!, 0];
      padding = 'valid';
    } else pads = tfPads(spatial, k, s, d, padding);
    const outShape: KShape = [x.shape[0] ?? null, ...spatial.map((sz, i) => (cfg.padding === 'causal' ? sz : convOut(sz, k[i]!, s[i]!, d[i]!, padding))), filters];
    return withActivation(e, call, (out) => {
      const inputs = [x.name, e.constant(`${call.name}/kernel`, kernel)];
      if (call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(groups), kernel_layout: str('HWIO'), ...padAttrs(pads) };
      return { name: e.node('Conv', inputs, [out], attrs, 'nnport', out)[0]!, shape: outShape };
    });
  };
}

function depthwise(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const cfg = call.config;
    const k = tuple(cfg.kernel_size, rank, 1, `layer '${call.name}' kernel_size`);
    const s = tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
    const d = tuple(cfg.dilation_rate, rank, 1, `layer '${call.name}' dilation_rate`);
    const c = x.shape[x.shape.length - 1];
    if (typeof c !== 'number') throw new ShapeError(`layer '${call.name}' (${call.className}): the input's channel count is unknown`);
    const kernel = need(call, 'depthwise_kernel');
    // TF.js saves SeparableConv2D without its depth_multiplier: then the kernel's last dim says it
    const m = cfg.depth_multiplier === undefined && kernel.rank === rank + 2 ? kernel.shape[rank + 1]! : cfgNum(cfg, 'depth_multiplier', 1);
    checkShape(call, 'depthwise_kernel', kernel, [...k, c, m]);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(1, 1 + rank);
    const pads = tfPads(spatial, k, s, d, padding);
    const outSpatial = spatial.map((sz, i) => convOut(sz, k[i]!, s[i]!, d[i]!, padding));
    const separable = call.weights.has('pointwise_kernel');
    const build = (out: string): KValue => {
      const dwOut = separable ? `${call.name}/depthwise` : out;
      // Keras (kh, kw, C, M) is, reshaped, the HWIO kernel of a group=C conv: (kh, kw, 1, C·M)
      const inputs = [x.name, e.constant(`${call.name}/depthwise_kernel`, kernel.reshape([...k, 1, c * m]))];
      if (!separable && call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(c), kernel_layout: str('HWIO'), ...padAttrs(pads) };
      let y: KValue = { name: e.node('Conv', inputs, [dwOut], attrs, 'nnport', dwOut)[0]!, shape: [x.shape[0] ?? null, ...outSpatial, c * m] };
      if (separable) {
        const pw = need(call, 'pointwise_kernel');
        const filters = cfgNum(cfg, 'filters', NaN);
        checkShape(call, 'pointwise_kernel', pw, [...new Array<number>(rank).fill(1), c * m, filters]);
        const pin = [y.name, e.constant(`${call.name}/pointwise_kernel`, pw)];
        if (call.weights.has('bias')) pin.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
        const one1 = new Array<number>(rank).fill(1);
        const pattrs: Record<string, Attr> = { kernel_shape: ints(one1), strides: ints(one1), dilations: ints(one1), group: int(1), kernel_layout: str('HWIO'), pads: ints(new Array<number>(2 * rank).fill(0)) };
        y = { name: e.node('Conv', pin, [out], pattrs, 'nnport', out)[0]!, shape: [x.shape[0] ?? null, ...outSpatial, filters] };
      }
      return y;
    };
    return withActivation(e, call, build);
  };
}

/** Conv1DTranspose / Conv2DTranspose / Conv3DTranspose on channels_last data, kernel (k..., filters, in). */
function convTranspose(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    if (x.shape.length !== rank + 2) throw new ShapeError(`layer '${call.name}' (${call.className}): input of rank ${x.shape.length}, expected ${rank + 2} (N, ${rank} spatial, C)`);
    const cfg = call.config;
    const k = tuple(cfg.kernel_size, rank, 1, `layer '${call.name}' kernel_size`);
    const s = tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
    const d = tuple(cfg.dilation_rate, rank, 1, `layer '${call.name}' dilation_rate`);
    const filters = cfgNum(cfg, 'filters', NaN);
    const cin = x.shape[rank + 1] ?? null;
    const kernel = need(call, 'kernel');
    checkShape(call, 'kernel', kernel, [...k, filters, cin]);
    if (cfg.output_padding !== undefined && cfg.output_padding !== null) throw new UnsupportedError(`${call.className} output_padding`, `layer '${call.name}'`);
    if (d.some((v) => v !== 1)) throw new UnsupportedError(`${call.className} with dilation`, `layer '${call.name}'`);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(1, 1 + rank);
    const outSpatial = spatial.map((sz, i) => (sz === null ? null : padding === 'same' ? sz * s[i]! : sz * s[i]! + Math.max(k[i]! - s[i]!, 0)));
    // TF crops the full transposed output like a SAME forward conv pads: floor(total/2) at the start
    const total = k.map((kk, i) => (padding === 'same' ? Math.max(kk - s[i]!, 0) : 0));
    const pads = total.map((t) => Math.floor(t / 2));
    const padsEnd = total.map((t, i) => t - pads[i]!);
    return withActivation(e, call, (out) => {
      const inputs = [x.name, e.constant(`${call.name}/kernel`, kernel)];
      if (call.weights.has('bias')) inputs.push(e.constant(`${call.name}/bias`, need(call, 'bias')));
      const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), dilations: ints(d), group: int(1), kernel_layout: str('HWOI'), pads: ints([...pads, ...padsEnd]) };
      if (k.some((kk, i) => kk < s[i]!)) attrs.output_padding = ints(k.map((kk, i) => Math.max(s[i]! - kk, 0)));
      return { name: e.node('ConvTranspose', inputs, [out], attrs, 'nnport', out)[0]!, shape: [x.shape[0] ?? null, ...outSpatial, filters] };
    });
  };
}

const dense: LayerRow = (e, call) => {
  const x = one(call);
  const units = cfgNum(call.config, 'units', NaN);
  const kernel = need(call, 'kernel');
  checkShape(call, 'kernel', kernel, [x.shape[x.shape.length - 1] ?? null, units]);
  return withActivation(e, call, (out) => {
    const k = e.constant(`${call.name}/kernel`, kernel);
    const outShape = [...x.shape.slice(0, -1), units];
    if (!call.weights.has('bias')) return { name: e.node('MatMul', [x.name, k], [out], {}, '', out)[0]!, shape: outShape };
    const mm = e.node('MatMul', [x.name, k], [`${call.name}/matmul`], {}, '', `${call.name}/matmul`)[0]!;
    return { name: e.node('Add', [mm, e.constant(`${call.name}/bias`, need(call, 'bias'))], [out], {}, '', out)[0]!, shape: outShape };
  });
};

function lastAxis(call: LayerCall, rank: number): void {
  let a = call.config.axis;
  if (Array.isArray(a)) {
    if (a.length !== 1) throw new UnsupportedError(`${call.className} over several axes`, `layer '${call.name}'`);
    a = a[0]!;
  }
  const axis = typeof a === 'number' ? a : -1;
  if (axis !== -1 && axis !== rank - 1) throw new UnsupportedError(`${call.className} on axis ${axis} (only the channel axis, last)`, `layer '${call.name}'`);
}

const batchNorm: LayerRow = (e, call) => {
  const x = one(call);
  lastAxis(call, x.shape.length);
  const mean = need(call, 'moving_mean');
  const c = mean.shape[0]!;
  checkShape(call, 'moving_mean', mean, [x.shape[x.shape.length - 1] ?? null]);
  const vec = (role: string, fill: number): string => {
    const t = call.weights.get(role) ?? Tensor.float32([c], new Array<number>(c).fill(fill));
    checkShape(call, role, t, [c]);
    return e.constant(`${call.name}/${role}`, t);
  };
  const inputs = [x.name, vec('gamma', 1), vec('beta', 0), vec('moving_mean', 0), vec('moving_variance', 1)];
  const attrs = { epsilon: float(cfgNum(call.config, 'epsilon', 1e-3)) };
  // rank 2 (N, C) is already channels-last in ONNX's own terms
  const domain = x.shape.length > 2 ? 'nnport' : '';
  return [{ name: e.node('BatchNormalization', inputs, [call.name], attrs, domain, call.name)[0]!, shape: x.shape }];
};

const layerNorm: LayerRow = (e, call) => {
  const x = one(call);
  lastAxis(call, x.shape.length);
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') throw new ShapeError(`layer '${call.name}': the normalized axis has unknown size`);
  const vec = (role: string, fill: number): string => {
    const t = call.weights.get(role) ?? Tensor.float32([c], new Array<number>(c).fill(fill));
    checkShape(call, role, t, [c]);
    return e.constant(`${call.name}/${role}`, t);
  };
  const attrs = { axis: int(-1), epsilon: float(cfgNum(call.config, 'epsilon', 1e-3)) };
  return [{ name: e.node('LayerNormalization', [x.name, vec('gamma', 1), vec('beta', 0)], [call.name], attrs, '', call.name)[0]!, shape: x.shape }];
};

/**
 * GroupNormalization (tf.keras 2.11+, Keras 3) over the channel axis, last: mean and variance of
 * each sample over its spatial axes and the C/G channels of each group (contiguous), then gamma /
 * beta per channel. One group per channel is InstanceNormalization (channels-last); fewer groups
 * are the (N, G, S, C/G) view of the data normalized as G instance channels, as PyTorch's
 * GroupNorm exports.
 */
const groupNorm: LayerRow = (e, call) => {
  const x = one(call);
  lastAxis(call, x.shape.length);
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') throw new ShapeError(`layer '${call.name}': the channel axis has unknown size`);
  if (x.shape.length < 3) throw new UnsupportedError(`GroupNormalization of rank-${x.shape.length} data`, `layer '${call.name}'`);
  const groups = cfgNum(call.config, 'groups', 32);
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) throw new FormatError(`layer '${call.name}' (GroupNormalization): ${c} channels do not split into ${groups} groups`);
  const vec = (role: string, fill: number, n = c): string => {
    const t = call.weights.get(role) ?? Tensor.float32([n], new Array<number>(n).fill(fill));
    if (n === c) checkShape(call, role, t, [c]);
    return e.constant(`${call.name}/${role}`, t);
  };
  const epsilon = float(cfgNum(call.config, 'epsilon', 1e-3));
  if (groups === c) {
    return [{ name: e.node('InstanceNormalization', [x.name, vec('gamma', 1), vec('beta', 0)], [call.name], { epsilon }, 'nnport', call.name)[0]!, shape: x.shape }];
  }
  const at = (s: string): string => `${call.name}/${s}`;
  const view = e.node('Reshape', [x.name, intsConst(e, at('groups_shape'), [0, -1, groups, c / groups])], [at('groups')])[0]!;
  const first = e.node('Transpose', [view], [at('groups_first')], { perm: ints([0, 2, 1, 3]) })[0]!;
  const unit = (role: string, v: number): string => e.constant(at(`group_${role}`), Tensor.float32([groups], new Array<number>(groups).fill(v)));
  const norm = e.node('InstanceNormalization', [first, unit('scale', 1), unit('bias', 0)], [at('normalized')], { epsilon })[0]!;
  const back = e.node('Transpose', [norm], [at('groups_last')], { perm: ints([0, 2, 1, 3]) })[0]!;
  const shape = e.node('Shape', [x.name], [at('shape')])[0]!;
  const y = e.node('Reshape', [back, shape], [at('reshaped')])[0]!;
  const scaled = call.config.scale === false ? y : e.node('Mul', [y, vec('gamma', 1)], [at('scaled')])[0]!;
  return [{ name: e.node('Add', [scaled, call.config.center === false ? e.constant(at('no_beta'), Tensor.float32([c], new Array<number>(c).fill(0))) : vec('beta', 0)], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

function pool(op: 'MaxPool' | 'AveragePool', rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const cfg = call.config;
    const k = tuple(cfg.pool_size, rank, 2, `layer '${call.name}' pool_size`);
    const s = cfg.strides === null || cfg.strides === undefined ? k : tuple(cfg.strides, rank, 1, `layer '${call.name}' strides`);
    const padding = String(cfg.padding ?? 'valid');
    const spatial = x.shape.slice(1, 1 + rank);
    const ones = new Array<number>(rank).fill(1);
    const pads = tfPads(spatial, k, s, ones, padding);
    // TF's SAME average pooling divides by the real elements only (count_include_pad = 0)
    const attrs: Record<string, Attr> = { kernel_shape: ints(k), strides: ints(s), ...padAttrs(pads) };
    const shape: KShape = [x.shape[0] ?? null, ...spatial.map((sz, i) => convOut(sz, k[i]!, s[i]!, 1, padding)), x.shape[rank + 1] ?? null];
    return [{ name: e.node(op, [x.name], [call.name], attrs, 'nnport', call.name)[0]!, shape }];
  };
}

function globalPool(op: 'ReduceMean' | 'ReduceMax', rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const keep = cfgBool(call.config, 'keepdims', false);
    const axes = Array.from({ length: rank }, (_, i) => i + 1);
    const shape: KShape = keep ? [x.shape[0] ?? null, ...axes.map(() => 1), x.shape[rank + 1] ?? null] : [x.shape[0] ?? null, x.shape[rank + 1] ?? null];
    return [{ name: e.node(op, [x.name], [call.name], { axes: ints(axes), keepdims: int(keep ? 1 : 0) }, '', call.name)[0]!, shape }];
  };
}

function merge(op: 'Add' | 'Sub' | 'Mul' | 'Max' | 'Min' | 'Mean'): LayerRow {
  return (e, call) => {
    if (call.inputs.length < 2) throw new FormatError(`layer '${call.name}' (${call.className}) needs at least two inputs`);
    const shape = broadcastShapes(call.inputs.map((v) => v.shape));
    if (op === 'Sub' && call.inputs.length !== 2) throw new FormatError(`layer '${call.name}' (Subtract) takes exactly two inputs`);
    if (op === 'Max' || op === 'Min' || op === 'Mean') {
      return [{ name: e.node(op, call.inputs.map((v) => v.name), [call.name], {}, '', call.name)[0]!, shape }];
    }
    let acc = call.inputs[0]!.name;
    for (let i = 1; i < call.inputs.length; i++) {
      const last = i === call.inputs.length - 1;
      const out = last ? call.name : `${call.name}/${i}`;
      acc = e.node(op, [acc, call.inputs[i]!.name], [out], {}, '', out)[0]!;
    }
    return [{ name: acc, shape }];
  };
}

function broadcastShapes(shapes: KShape[]): KShape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: KShape = [];
  for (let i = 0; i < rank; i++) {
    let d: number | null = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i];
      if (v === undefined || v === 1) continue;
      if (v === null) d = d === 1 ? null : d;
      else d = v;
    }
    out.push(d);
  }
  return out;
}

export function intsConst(e: IrEmitter, name: string, v: number[]): string {
  return e.constant(name, Tensor.int64([v.length], v));
}

export function knownSize(shape: KShape): number | null {
  let n = 1;
  for (const d of shape) {
    if (d === null) return null;
    n *= d;
  }
  return n;
}

const reshape: LayerRow = (e, call) => {
  const x = one(call);
  // TF.js saves a -1 of target_shape as null
  const target = Array.isArray(call.config.target_shape) ? call.config.target_shape.map((d) => (d === null ? -1 : d)) : call.config.target_shape;
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && (d >= 1 || d === -1)) || target.filter((d) => d === -1).length > 1) {
    throw new FormatError(`layer '${call.name}' (Reshape): target_shape is not a list of positive integers (one may be -1): ${JSON.stringify(target)?.slice(0, 80)}`);
  }
  const t = target as number[];
  let shape: KShape = [x.shape[0] ?? null, ...t];
  const total = knownSize(x.shape.slice(1));
  if (t.includes(-1) && total !== null) {
    const rest = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    shape = [x.shape[0] ?? null, ...t.map((d) => (d === -1 ? total / rest : d))];
  }
  // 0 copies the batch dim; the rest is the layer's target shape
  const s = intsConst(e, `${call.name}/shape`, [0, ...t]);
  return [{ name: e.node('Reshape', [x.name, s], [call.name], {}, '', call.name)[0]!, shape }];
};

const flatten: LayerRow = (e, call) => {
  channelsLastOnly(call);
  const x = one(call);
  return [{ name: e.node('Flatten', [x.name], [call.name], { axis: int(1) }, '', call.name)[0]!, shape: [x.shape[0] ?? null, knownSize(x.shape.slice(1))] }];
};

const permuteLayer: LayerRow = (e, call) => {
  const x = one(call);
  const dims = call.config.dims;
  if (!Array.isArray(dims) || dims.length !== x.shape.length - 1 || [...dims].sort((a, b) => Number(a) - Number(b)).some((d, i) => d !== i + 1)) {
    throw new FormatError(`layer '${call.name}' (Permute): dims ${JSON.stringify(dims)?.slice(0, 80)} is not a permutation of 1..${x.shape.length - 1}`);
  }
  const perm = [0, ...(dims as number[])];
  return [{ name: e.node('Transpose', [x.name], [call.name], { perm: ints(perm) }, '', call.name)[0]!, shape: perm.map((p) => x.shape[p] ?? null) }];
};

const repeatVector: LayerRow = (e, call) => {
  const x = one(call);
  const n = call.config.n;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new FormatError(`layer '${call.name}' (RepeatVector): n is ${JSON.stringify(n)?.slice(0, 40)}, not a positive integer`);
  if (x.shape.length !== 2) throw new ShapeError(`layer '${call.name}' (RepeatVector): input of rank ${x.shape.length}, Keras takes [batch, features]`);
  // [B, F] -> [B, 1, F] -> n copies along the new axis
  const u = e.node('Unsqueeze', [x.name, intsConst(e, `${call.name}/axes`, [1])], [`${call.name}/unsqueeze`], {}, '', `${call.name}/unsqueeze`)[0]!;
  return [{ name: e.node('Tile', [u, intsConst(e, `${call.name}/repeats`, [1, n, 1])], [call.name], {}, '', call.name)[0]!, shape: [x.shape[0] ?? null, n, x.shape[1] ?? null] }];
};

const identity: LayerRow = (e, call) => {
  const x = one(call);
  return [{ name: e.node('Identity', [x.name], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

const activationLayer: LayerRow = (e, call) => {
  const x = one(call);
  const act = activationName(call.config.activation);
  if (act === 'linear') return identity(e, call);
  return [emitActivation(e, act, x, call.name, call)];
};

const reluLayer: LayerRow = (e, call) => {
  const x = one(call);
  const max = call.config.max_value;
  const slope = cfgNum(call.config, 'negative_slope', 0);
  const threshold = cfgNum(call.config, 'threshold', 0);
  if (threshold !== 0) throw new UnsupportedError('ReLU with a threshold', `layer '${call.name}'`);
  if (slope !== 0) {
    if (typeof max === 'number') throw new UnsupportedError('ReLU with both max_value and negative_slope', `layer '${call.name}'`);
    return [{ name: e.node('LeakyRelu', [x.name], [call.name], { alpha: float(slope) }, '', call.name)[0]!, shape: x.shape }];
  }
  if (typeof max === 'number') {
    const lo = e.constant(`${call.name}/min`, Tensor.float32([], [0]));
    const hi = e.constant(`${call.name}/max`, Tensor.float32([], [max]));
    return [{ name: e.node('Clip', [x.name, lo, hi], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
  }
  return [{ name: e.node('Relu', [x.name], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

const leakyRelu: LayerRow = (e, call) => {
  const x = one(call);
  // Keras 2 / TF.js call it alpha (default 0.3); Keras 3 negative_slope (default 0.3)
  const alpha = cfgNum(call.config, 'negative_slope', cfgNum(call.config, 'alpha', 0.3));
  return [{ name: e.node('LeakyRelu', [x.name], [call.name], { alpha: float(alpha) }, '', call.name)[0]!, shape: x.shape }];
};

const thresholdedRelu: LayerRow = (e, call) => {
  // Keras 2 / TF.js: x * (x > theta), ONNX's ThresholdedRelu (theta defaults to 1)
  const x = one(call);
  return [{ name: e.node('ThresholdedRelu', [x.name], [call.name], { alpha: float(cfgNum(call.config, 'theta', 1)) }, '', call.name)[0]!, shape: x.shape }];
};

const elu: LayerRow = (e, call) => {
  const x = one(call);
  return [{ name: e.node('Elu', [x.name], [call.name], { alpha: float(cfgNum(call.config, 'alpha', 1)) }, '', call.name)[0]!, shape: x.shape }];
};

const prelu: LayerRow = (e, call) => {
  const x = one(call);
  const alpha = need(call, 'alpha');
  // alpha is shaped like the input without the batch dim (1 on shared axes): it broadcasts as is
  return [{ name: e.node('PRelu', [x.name, e.constant(`${call.name}/alpha`, alpha)], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

const softmaxLayer: LayerRow = (e, call) => {
  const x = one(call);
  let axis = call.config.axis ?? -1;
  if (Array.isArray(axis)) {
    if (axis.length !== 1) throw new UnsupportedError('Softmax over several axes', `layer '${call.name}'`);
    axis = axis[0]!;
  }
  return [{ name: e.node('Softmax', [x.name], [call.name], { axis: int(Number(axis)) }, '', call.name)[0]!, shape: x.shape }];
};

const concatenate: LayerRow = (e, call) => {
  const axis = cfgNum(call.config, 'axis', -1);
  const rank = call.inputs[0]!.shape.length;
  const ax = axis < 0 ? rank + axis : axis;
  const shape = [...call.inputs[0]!.shape];
  const sizes = call.inputs.map((v) => v.shape[ax]);
  shape[ax] = sizes.every((s) => typeof s === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : null;
  return [{ name: e.node('Concat', call.inputs.map((v) => v.name), [call.name], { axis: int(axis) }, '', call.name)[0]!, shape }];
};

export function pairs(v: Json | undefined, n: number, what: string): [number, number][] {
  // Keras: an int, a tuple of n ints (symmetric), or n (before, after) pairs
  if (typeof v === 'number') return new Array(n).fill([v, v]);
  // ZeroPadding1D / Cropping1D save their one (before, after) pair flat: [1, 2]
  if (n === 1 && Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return [[v[0], v[1]]];
  if (Array.isArray(v) && v.length === n) {
    return v.map((p) => {
      if (typeof p === 'number') return [p, p];
      if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'number' && typeof p[1] === 'number') return [p[0], p[1]];
      throw new FormatError(`${what}: cannot read ${JSON.stringify(v)}`);
    });
  }
  throw new FormatError(`${what}: cannot read ${JSON.stringify(v)}`);
}

function zeroPadding(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const p = pairs(call.config.padding ?? 1, rank, `layer '${call.name}' padding`);
    const pads = [0, ...p.map((q) => q[0]), 0, 0, ...p.map((q) => q[1]), 0];
    const shape: KShape = x.shape.map((d, i) => (i >= 1 && i <= rank && d !== null ? d + p[i - 1]![0] + p[i - 1]![1] : d));
    return [{ name: e.node('Pad', [x.name, intsConst(e, `${call.name}/pads`, pads)], [call.name], { mode: str('constant') }, '', call.name)[0]!, shape }];
  };
}

function cropping(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    const p = pairs(call.config.cropping ?? 0, rank, `layer '${call.name}' cropping`);
    const axes = p.map((_, i) => i + 1);
    const starts = p.map((q) => q[0]);
    // a negative end counts from the back; 0 cropped at the end means "to the end"
    const ends = p.map((q) => (q[1] === 0 ? Number.MAX_SAFE_INTEGER : -q[1]));
    const inputs = [x.name, intsConst(e, `${call.name}/starts`, starts), intsConst(e, `${call.name}/ends`, ends), intsConst(e, `${call.name}/axes`, axes)];
    const shape: KShape = x.shape.map((d, i) => (i >= 1 && i <= rank && d !== null ? d - p[i - 1]![0] - p[i - 1]![1] : d));
    return [{ name: e.node('Slice', inputs, [call.name], {}, '', call.name)[0]!, shape }];
  };
}

/** UpSampling2D's Resize attributes for its `interpolation`. */
export function upSamplingAttrs(e: IrEmitter, call: LayerCall): Record<string, Attr> {
  const interp = String(call.config.interpolation ?? 'nearest');
  if (interp === 'nearest') return { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') };
  // Keras (tf.image.resize) samples at half-pixel centers; TF.js' layer resizes without them
  if (interp === 'bilinear') return { mode: str('linear'), coordinate_transformation_mode: str(e.tfjsSaved ? 'asymmetric' : 'half_pixel') };
  throw new UnsupportedError(`${call.className} interpolation '${interp}'`, `layer '${call.name}'`);
}

/**
 * UpSampling1D / 2D / 3D on channels_last data: ONNX Resize, its scales per axis of the (N, d..., C)
 * data as it is. UpSampling1D / 3D repeat each element (nearest), as 4-D Resizes where they can
 * (TFLite's RESIZE_* take 4-D NHWC only): 1-D between an Unsqueeze and a Squeeze of a width-1 axis;
 * 3-D with its sizes known as (N·D, H, W, C) over H, W, then (N, D, H·W, C) over D.
 */
function upSampling(rank: number): LayerRow {
  return (e, call) => {
    channelsLastOnly(call);
    const x = one(call);
    if (x.shape.length !== rank + 2) throw new ShapeError(`layer '${call.name}' (${call.className}): input of rank ${x.shape.length}, expected ${rank + 2} (N, ${rank} spatial, C)`);
    const size = tuple(call.config.size, rank, 2, `layer '${call.name}' size`);
    const attrs = upSamplingAttrs(e, call);
    const shape: KShape = x.shape.map((d, i) => (i >= 1 && i <= rank && d !== null ? d * size[i - 1]! : d));
    const resize = (input: string, scales: number[], out: string): string =>
      e.node('Resize', [input, '', e.constant(`${out}/scales`, Tensor.float32([scales.length], scales))], [out], attrs, '', out)[0]!;
    const reshape = (input: string, to: number[], out: string): string => e.node('Reshape', [input, intsConst(e, `${out}/shape`, to)], [out], {}, '', out)[0]!;
    if (rank === 1) {
      const u = e.node('Unsqueeze', [x.name, intsConst(e, `${call.name}/axes`, [2])], [`${call.name}/unsqueeze`], {}, '', `${call.name}/unsqueeze`)[0]!;
      const r = resize(u, [1, size[0]!, 1, 1], `${call.name}/resize`);
      return [{ name: e.node('Squeeze', [r, intsConst(e, `${call.name}/squeeze_axes`, [2])], [call.name], {}, '', call.name)[0]!, shape }];
    }
    const dims = x.shape.slice(1);
    if (rank === 3 && dims.every((d): d is number => typeof d === 'number')) {
      const [d, h, w, c] = dims as [number, number, number, number];
      const [sd, sh, sw] = size as [number, number, number];
      const hw = resize(reshape(x.name, [-1, h, w, c], `${call.name}/nd_hwc`), [1, sh, sw, 1], `${call.name}/resize_hw`);
      const dd = resize(reshape(hw, [-1, d, h * sh * w * sw, c], `${call.name}/n_d_hw_c`), [1, sd, 1, 1], `${call.name}/resize_d`);
      return [{ name: reshape(dd, [-1, d * sd, h * sh, w * sw, c], call.name), shape }];
    }
    return [{ name: resize(x.name, [1, ...size, 1], call.name), shape }];
  };
}

const embedding: LayerRow = (e, call) => {
  const x = one(call);
  const table = need(call, 'embeddings');
  const idx = e.node('Cast', [x.name], [`${call.name}/indices`], { to: int(7) })[0]!;
  // mask_zero=True: later layers (RNNs, ...) skip the steps whose id is 0 (masking.ts)
  const mask = call.config.mask_zero === true ? embeddingMask(e, call.name, x) : undefined;
  return [{ name: e.node('Gather', [e.constant(`${call.name}/embeddings`, table), idx], [call.name], { axis: int(0) }, '', call.name)[0]!, shape: [...x.shape, table.shape[1]!], ...(mask && { mask }) }];
};

/**
 * Keras' Normalization (preprocessing): (x - mean) / max(sqrt(variance), 1e-7), or with `invert`
 * mean + x · max(sqrt(variance), 1e-7); mean and variance over the kept `axis` dims (default -1),
 * broadcast over the others, from the layer's weights (adapt()) or its config.
 */
const normalization: LayerRow = (e, call) => {
  const x = one(call);
  const r = x.shape.length;
  const a = call.config.axis === undefined ? -1 : call.config.axis;
  const kept = (a === null ? [] : Array.isArray(a) ? a : [a]).map((k) => {
    if (typeof k !== 'number' || !Number.isInteger(k) || k >= r || k < -r || k === 0 || k === -r) throw new UnsupportedError(`Normalization over axis ${JSON.stringify(a)} of a rank-${r} input`, `layer '${call.name}'`);
    return k < 0 ? k + r : k;
  });
  const shape = x.shape.map((d, i) => (kept.includes(i) ? d : 1));
  const size = shape.reduce<number>((p, d) => p * (d ?? NaN), 1);
  if (!Number.isFinite(size)) throw new UnsupportedError('Normalization over an axis of unknown size', `layer '${call.name}'`);
  const stat = (role: 'mean' | 'variance'): Tensor => {
    const given = call.config[role];
    const t = given === undefined || given === null ? need(call, role) : Tensor.float32(typeof given === 'number' ? [] : [(given as Json[]).flat(8).length], (typeof given === 'number' ? [given] : (given as Json[]).flat(8)) as number[]);
    const v = t.toFloat32();
    if (v.length !== 1 && v.length !== size) throw new ShapeError(`layer '${call.name}' (Normalization): ${role} has ${v.length} values, the kept axes ${JSON.stringify(kept)} hold ${size}`);
    return Tensor.float32(shape as number[], v.length === 1 ? new Float32Array(size).fill(v[0]!) : v);
  };
  const mean = e.constant(`${call.name}/mean`, stat('mean'));
  const std = stat('variance').toFloat32().map((v) => Math.max(Math.sqrt(v), 1e-7));
  const scale = e.constant(`${call.name}/std`, Tensor.float32(shape as number[], std));
  if (call.config.invert === true) {
    const m = e.node('Mul', [x.name, scale], [`${call.name}/scaled`])[0]!;
    return [{ name: e.node('Add', [m, mean], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
  }
  const d = e.node('Sub', [x.name, mean], [`${call.name}/centered`])[0]!;
  return [{ name: e.node('Div', [d, scale], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

const rescaling: LayerRow = (e, call) => {
  const x = one(call);
  const scale = cfgNum(call.config, 'scale', 1);
  const offset = cfgNum(call.config, 'offset', 0);
  const m = e.node('Mul', [x.name, e.constant(`${call.name}/scale`, Tensor.float32([], [scale]))], [`${call.name}/scaled`])[0]!;
  return [{ name: e.node('Add', [m, e.constant(`${call.name}/offset`, Tensor.float32([], [offset]))], [call.name], {}, '', call.name)[0]!, shape: x.shape }];
};

/** Keras class name -> IR emission. */
export const KERAS_LAYERS: Readonly<Record<string, LayerRow>> = {
  Conv1D: byDataFormat(conv(1), convFirst(1)),
  Conv2D: byDataFormat(conv(2), convFirst(2)),
  Conv3D: byDataFormat(conv(3), convFirst(3)),
  DepthwiseConv2D: byDataFormat(depthwise(2), depthwiseFirst(2)),
  DepthwiseConv1D: byDataFormat(depthwise(1), depthwiseFirst(1)),
  SeparableConv2D: byDataFormat(depthwise(2), depthwiseFirst(2)),
  SeparableConv1D: byDataFormat(depthwise(1), depthwiseFirst(1)),
  Conv1DTranspose: byDataFormat(convTranspose(1), convTransposeFirst(1)),
  Conv2DTranspose: byDataFormat(convTranspose(2), convTransposeFirst(2)),
  Conv3DTranspose: byDataFormat(convTranspose(3), convTransposeFirst(3)),
  Dense: dense,
  BatchNormalization: byNormAxis(batchNorm, batchNormFirst),
  LayerNormalization: byNormAxis(layerNorm, layerNormFirst),
  GroupNormalization: groupNorm,
  MaxPooling1D: byDataFormat(pool('MaxPool', 1), poolFirst('MaxPool', 1)),
  MaxPooling2D: byDataFormat(pool('MaxPool', 2), poolFirst('MaxPool', 2)),
  MaxPooling3D: byDataFormat(pool('MaxPool', 3), poolFirst('MaxPool', 3)),
  AveragePooling1D: byDataFormat(pool('AveragePool', 1), poolFirst('AveragePool', 1)),
  AveragePooling2D: byDataFormat(pool('AveragePool', 2), poolFirst('AveragePool', 2)),
  AveragePooling3D: byDataFormat(pool('AveragePool', 3), poolFirst('AveragePool', 3)),
  GlobalAveragePooling1D: maskedAveragePooling(byDataFormat(globalPool('ReduceMean', 1), globalPoolFirst('ReduceMean', 1))),
  GlobalAveragePooling2D: byDataFormat(globalPool('ReduceMean', 2), globalPoolFirst('ReduceMean', 2)),
  GlobalMaxPooling1D: byDataFormat(globalPool('ReduceMax', 1), globalPoolFirst('ReduceMax', 1)),
  GlobalMaxPooling2D: byDataFormat(globalPool('ReduceMax', 2), globalPoolFirst('ReduceMax', 2)),
  GlobalAveragePooling3D: byDataFormat(globalPool('ReduceMean', 3), globalPoolFirst('ReduceMean', 3)),
  GlobalMaxPooling3D: byDataFormat(globalPool('ReduceMax', 3), globalPoolFirst('ReduceMax', 3)),
  Add: merge('Add'),
  Subtract: merge('Sub'),
  Multiply: merge('Mul'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Average: merge('Mean'),
  Concatenate: concatenate,
  Dot: dotLayer,
  Flatten: byDataFormat(flatten, flattenFirst),
  Reshape: reshape,
  Permute: permuteLayer,
  RepeatVector: repeatVector,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  ActivityRegularization: identity,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  ThresholdedReLU: thresholdedRelu,
  ELU: elu,
  PReLU: prelu,
  Softmax: maskedSoftmax(softmaxLayer),
  ZeroPadding1D: byDataFormat(zeroPadding(1), zeroPaddingFirst(1)),
  ZeroPadding2D: byDataFormat(zeroPadding(2), zeroPaddingFirst(2)),
  ZeroPadding3D: byDataFormat(zeroPadding(3), zeroPaddingFirst(3)),
  Cropping1D: cropping(1),
  Cropping2D: byDataFormat(cropping(2), croppingFirst(2)),
  Cropping3D: byDataFormat(cropping(3), croppingFirst(3)),
  UpSampling1D: upSampling(1),
  UpSampling2D: byDataFormat(upSampling(2), upSamplingFirst(2)),
  UpSampling3D: byDataFormat(upSampling(3), upSamplingFirst(3)),
  Embedding: embedding,
  Masking: maskingLayer,
  Rescaling: rescaling,
  Normalization: normalization,
  MultiHeadAttention: multiHeadAttention,
  Attention: denseAttention,
  AdditiveAttention: denseAttention,
  LSTM: maskedRecurrent(statefulRecurrent(recurrentLayer)),
  GRU: maskedRecurrent(statefulRecurrent(recurrentLayer)),
  SimpleRNN: maskedRecurrent(statefulRecurrent(recurrentLayer)),
  Bidirectional: maskedRecurrent(bidirectionalLayer),
  TimeDistributed: timeDistributedLayer,
  TFOpLambda: tfOpLambdaLayer,
  SlicingOpLambda: tfOpLambdaLayer,
  ConvLSTM1D: convLstmLayer,
  ConvLSTM2D: convLstmLayer,
  ConvLSTM3D: convLstmLayer,
};
