// A channels-last IR graph -> Keras layers (config + weights), the common core of the .h5,
// .keras and TF.js layers writers. One row per IR op; every layer loads in stock Keras and
// TensorFlow.js (no Lambda). Padding that TF's `same` cannot express becomes ZeroPadding + `valid`.
import { DEQUANTIZE_HINT } from '../../passes/dequantize.js';
import { constantNodesToInitializers, type ConstantEvaluator } from '../../passes/fold-constants.js';
import { permuteTensor } from '../../passes/layout.js';
import { hardSigmoidAt } from '../../passes/recurrent-hard-sigmoid.js';
import { fuseActivationPatterns } from '../../passes/fuse-activations.js';
import { fuseLayerNorm } from '../../passes/fuse-layer-norm.js';
import { unrollCellClipped } from '../../passes/unroll-recurrent.js';
import { isFloatDType } from '../../ir/dtypes.js';
import { GraphError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, constantValue, readersOf, runtimeInputs, topologicalOrder, type Graph, type Node, type ValueInfo } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import type { KShape } from './layers.js';
import { foldedTime, refuseFolded, reshapeAcrossTime, reshapeAcrossTimeAtRunTime, skipRunTimeShapes, timeDistributedOut } from './time-distributed-write.js';
import { normalizationRow } from './normalization-write.js';
import { attentionRow } from './attention-write.js';
import { emitConvLstm, findConvLstms, refuseConvLstmStep } from './conv-recurrent-write.js';
import { emitMasked, findMasked, finishMasks } from './masking-write.js';
import { findInitialStates, RECURRENT_OPS, recurrentReader, recurrentRow, TIME_MAJOR_PASS, timeMajorInputs, timeStepGather, type RecurrentValue } from './recurrent-write.js';

/** One Keras layer to write: class, config (without name), inputs as refs, weights in Keras order. */
export interface KerasLayerOut {
  className: string;
  name: string;
  config: JsonObject;
  inputs: [string, number, number][];
  weights: { role: string; tensor: Tensor }[];
  /** output shape (batch dim null) */
  shape: KShape;
  /** a recurrent layer's last `initialStates` inputs are its initial_state (Keras 2 / TF.js list them after x) */
  initialStates?: number;
  /** the shape of its state outputs where they are not [batch, units] (ConvLSTM's [batch, ...spatial, filters]) */
  stateShape?: KShape;
  /** tensors the call takes by keyword (MultiHeadAttention's value), after `inputs` */
  kwargs?: Record<string, [string, number, number]>;
}

export interface KerasModelOut {
  name: string;
  layers: KerasLayerOut[];
  inputs: [string, number, number][];
  outputs: [string, number, number][];
}

export interface FromGraphOptions {
  /** Keras 3 names LeakyReLU's slope negative_slope (Keras 2 / TF.js: alpha) */
  keras3?: boolean;
  /** computes a node of constants: the masked recurrent steps' folded zero-state projections are recognised by it (masking-write.ts) */
  evaluate?: ConstantEvaluator;
}

export interface KTensor {
  ref: [string, number, number];
  shape: KShape;
  /** the IR op that produced it, to know e.g. that it is non-negative */
  producer?: string;
  /** the IR value is this [batch, time, ...] Keras tensor time-major: axes 0 and 1 swapped (recurrent-write.ts) */
  timeMajor?: boolean;
  /** the IR value is this [batch, T, ...] Keras tensor with its time axis folded into the batch, [batch·T, ...] (time-distributed-write.ts) */
  folded?: number | null;
}

const NCHW_OPS = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'InstanceNormalization', 'LRN', 'DepthToSpace', 'SpaceToDepth']);

const NON_NEGATIVE = new Set(['Relu', 'Sigmoid', 'Softmax', 'Clip:nonneg', 'MaxPool:nonneg', 'Concat:nonneg']);

/** Make a Keras-valid, unique layer name from an IR name. */
export function layerNameFrom(raw: string): string {
  let n = raw;
  // torch.onnx node names are the module scopes and the op: '/layer1/layer1.0/conv1/Conv' ->
  // 'layer1.0.conv1'. A Sequential's child is scoped '<name>.<index>' after '<name>', so a scope
  // that extends the one before it replaces it: '/layer2/layer2.0/downsample/downsample.0/Conv'
  // -> 'layer2.0.downsample.0', the module path PyTorch names its parameters by.
  if (n.startsWith('/')) {
    const parts = n.split('/').filter(Boolean);
    if (parts.length > 1) parts.pop();
    const path: string[] = [];
    for (const p of parts) {
      const prev = path[path.length - 1];
      if (prev !== undefined && p.startsWith(`${prev}.`)) path[path.length - 1] = p;
      else path.push(p);
    }
    n = path.join('.') || n;
  }
  n = n.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return n || 'layer';
}

export class Writer {
  readonly layers: KerasLayerOut[] = [];
  private readonly used = new Set<string>();
  readonly values = new Map<string, KTensor>();
  /** a recurrent op's Y / Y_h on their way to Keras tensors (recurrent-write.ts) */
  readonly recurrent = new Map<string, RecurrentValue>();
  readonly consumers: Map<string, Node[]>;
  readonly skip = new Set<Node>();
  /** a recurrent op's initial-state input -> the [batch, hidden] values, one per direction (recurrent-write.ts) */
  readonly initialStates = new Map<string, string[]>();

  /** constants: initializers, Constant nodes' values, and Identity of either */
  readonly constants: Map<string, Tensor>;

  constructor(
    readonly graph: Graph,
    readonly options: FromGraphOptions,
  ) {
    this.constants = new Map(graph.initializers);
    this.consumers = readersOf(graph.nodes);
  }

  isConstant(name: string): boolean {
    return this.constants.has(name);
  }

  name(base: string): string {
    const b = layerNameFrom(base);
    let n = b;
    for (let i = 1; this.used.has(n); i++) n = `${b}_${i}`;
    this.used.add(n);
    return n;
  }

  add(className: string, base: string, config: JsonObject, inputs: KTensor[], shape: KShape, weights: { role: string; tensor: Tensor }[] = []): KTensor {
    const name = this.name(base);
    // on a value folded over time steps: a TimeDistributed around the layer
    const time = foldedTime(className, inputs);
    if (time !== undefined) {
      const td = timeDistributedOut(name, className, config, inputs, shape, weights, time);
      this.layers.push(td.layer);
      return td.out;
    }
    this.layers.push({ className, name, config: { name, trainable: true, dtype: 'float32', ...config }, inputs: inputs.map((t) => t.ref), weights, shape });
    return { ref: [name, 0, 0], shape };
  }

  constant(name: string): Tensor | undefined {
    return this.constants.get(name);
  }

  input(n: Node, i: number): KTensor {
    const v = n.inputs[i];
    const t = v ? this.values.get(v) : undefined;
    if (!t) {
      if (v && this.constants.has(v)) throw new UnsupportedError(`${n.opType} with a constant input in a Keras model`, `node '${n.name}' input '${v}'`);
      throw new GraphError(`node '${n.name}' reads '${v}', which has no Keras tensor`);
    }
    refuseFolded(n, t, !n.domain && RECURRENT_OPS.has(n.opType));
    if (t.timeMajor && (n.domain || !(TIME_MAJOR_PASS.has(n.opType) || RECURRENT_OPS.has(n.opType) || n.opType === 'Transpose' || n.opType === 'Gather'))) {
      throw new UnsupportedError(`${n.opType} on the time-major [time, batch, ...] '${v}' in a Keras model (Keras recurrent layers are batch-major)`, nodeLabel(n));
    }
    return t;
  }

  /** The node's only consumer, when there is exactly one and it is not a graph output. */
  soleConsumer(value: string): Node | undefined {
    const c = this.consumers.get(value);
    if (!c || c.length !== 1) return undefined;
    if (this.graph.outputs.some((o) => o.name === value)) return undefined;
    return c[0];
  }
}

export function nodeLabel(n: Node): string {
  return `node '${n.name || n.outputs[0]}' (${n.domain ? `${n.domain}.` : ''}${n.opType})`;
}

export function unsupported(n: Node, what?: string): never {
  const quantized = !n.domain && (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear');
  throw new UnsupportedError(`${n.domain ? `${n.domain}.` : ''}${n.opType}${what ? ` ${what}` : ''} has no Keras layer`, `${nodeLabel(n)}${quantized ? `; ${DEQUANTIZE_HINT}` : ''}`);
}

/** The base name of a layer: the weight's module path when there is one (layer1.0.conv1.weight), else the node's. */
function baseName(w: Writer, n: Node): string {
  return layerBaseName(n, (i) => w.isConstant(i));
}

/** The name the Keras writer gives the layer of node `n`: its weight's module path, else the node's. */
export function layerBaseName(n: Node, isConstant: (name: string) => boolean): string {
  for (const i of n.inputs.slice(1)) {
    if (i && isConstant(i)) {
      const m = /^(.*)[./](weight|bias|kernel|depthwise_kernel|running_mean|moving_mean|gamma|alpha)$/.exec(i);
      if (m && m[1]) return m[1];
    }
  }
  return n.name || n.outputs[0] || n.opType;
}

function tfSamePads(spatial: KShape, k: number[], s: number[], d: number[]): number[] | undefined {
  if (spatial.some((x) => x === null)) return undefined;
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < k.length; i++) {
    const size = spatial[i]!;
    const out = Math.ceil(size / s[i]!);
    const total = Math.max((out - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - size, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [...begin, ...end];
}

function outSize(size: number | null, k: number, s: number, d: number, padBegin: number, padEnd: number, ceil = false): number | null {
  if (size === null) return null;
  const v = (size + padBegin + padEnd - ((k - 1) * d + 1)) / s;
  return (ceil ? Math.ceil(v) : Math.floor(v)) + 1;
}

/**
 * Decide Keras padding for a windowed op: 'valid', 'same', or explicit (begin, end) pairs for a
 * ZeroPadding layer in front of a 'valid' one.
 */
function kerasPadding(n: Node, x: KTensor, k: number[], s: number[], d: number[]): { padding: 'valid' | 'same'; explicit?: [number, number][] } {
  const rank = k.length;
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER') return { padding: 'same' };
  if (autoPad === 'VALID') return { padding: 'valid' };
  if (autoPad === 'SAME_LOWER') unsupported(n, 'auto_pad SAME_LOWER');
  const pads = attrInts(n, 'pads', new Array<number>(2 * rank).fill(0));
  const spatial = x.shape.slice(1, 1 + rank);
  let end = pads.slice(rank);
  if (attrInt(n, 'ceil_mode', 0) === 1) {
    // ceil mode = extra padding at the end where the last window starts inside the input
    end = end.map((e, i) => {
      const size = spatial[i];
      if (size === null || size === undefined) unsupported(n, 'ceil_mode with an unknown spatial size');
      const full = outSize(size, k[i]!, s[i]!, d[i]!, pads[i]!, e, true)!;
      let o = full;
      if ((o - 1) * s[i]! >= size + pads[i]!) o -= 1;
      return Math.max((o - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - size - pads[i]!, e);
    });
  }
  const all = [...pads.slice(0, rank), ...end];
  if (all.every((p) => p === 0)) return { padding: 'valid' };
  const same = tfSamePads(spatial, k, s, d);
  if (same && same.every((p, i) => p === all[i])) return { padding: 'same' };
  return { padding: 'valid', explicit: k.map((_, i) => [all[i]!, all[rank + i]!]) };
}

function zeroPad(w: Writer, base: string, x: KTensor, p: [number, number][]): KTensor {
  const rank = p.length;
  if (rank > 3) throw new UnsupportedError(`ZeroPadding${rank}D`, base);
  const shape: KShape = x.shape.map((d, i) => (i >= 1 && i <= rank && d !== null ? d + p[i - 1]![0] + p[i - 1]![1] : d));
  if (rank === 3) return zeroPad3d(w, base, x, p, shape);
  const padding = rank === 1 ? p[0]! : p;
  return w.add(`ZeroPadding${rank}D`, `${base}_pad`, { padding: padding as unknown as JsonObject[string], data_format: rank === 1 ? undefined : 'channels_last' } as JsonObject, [x], shape);
}

/**
 * 3-D zero padding as two ZeroPadding2D between Reshapes (TF.js 4.9 has no ZeroPadding3D):
 * (D, H, W·C) padded on D and H, then (D'·H', W, C) on W. The same bytes, exactly.
 */
function zeroPad3d(w: Writer, base: string, x: KTensor, p: [number, number][], shape: KShape): KTensor {
  const [, d, h, wd, c] = x.shape;
  const [, d2, h2, w2] = shape;
  if ([d, h, wd, c].some((v) => typeof v !== 'number')) throw new UnsupportedError('3-D zero padding of a value of unknown size in a Keras model', base);
  const dims = (...v: (number | null | undefined)[]) => v as number[];
  const a = w.add('Reshape', `${base}_pad_dh`, { target_shape: dims(d, h, wd! * c!) }, [x], [null, d!, h!, wd! * c!]);
  const b = w.add('ZeroPadding2D', `${base}_pad_a`, { padding: [p[0]!, p[1]!], data_format: 'channels_last' } as unknown as JsonObject, [a], [null, d2!, h2!, wd! * c!]);
  const e = w.add('Reshape', `${base}_pad_w`, { target_shape: dims(d2! * h2!, wd, c) }, [b], [null, d2! * h2!, wd!, c!]);
  const f = w.add('ZeroPadding2D', `${base}_pad_b`, { padding: [[0, 0], p[2]!], data_format: 'channels_last' } as unknown as JsonObject, [e], [null, d2! * h2!, w2!, c!]);
  return w.add('Reshape', `${base}_pad`, { target_shape: dims(d2, h2, w2, c) }, [f], shape);
}

function activationLayer(w: Writer, n: Node, act: string): KTensor {
  const x = w.input(n, 0);
  return w.add('Activation', n.name || n.outputs[0]!, { activation: act }, [x], x.shape);
}

type Row = (w: Writer, n: Node) => KTensor[];

function convRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const stored = w.constant(n.inputs[1]!);
  if (!stored) unsupported(n, 'with a computed kernel');
  const layout = attrString(n, 'kernel_layout', 'HWIO');
  if (layout !== 'HWIO' && layout !== 'OHWI') unsupported(n, `kernel_layout ${layout}`);
  const rank = stored.rank - 2;
  // a TFLite CONV_2D's kernel (O, k..., I/g) is Keras' (k..., I/g, O) permuted
  const W = layout === 'OHWI' ? permuteTensor(stored, [...Array.from({ length: rank + 1 }, (_, i) => i + 1), 0]) : stored;
  const k = attrInts(n, 'kernel_shape', W.shape.slice(0, rank) as number[]);
  const s = attrInts(n, 'strides', new Array<number>(rank).fill(1));
  const d = attrInts(n, 'dilations', new Array<number>(rank).fill(1));
  const group = attrInt(n, 'group', 1);
  const cin = x.shape[rank + 1];
  const cout = W.shape[rank + 1]!;
  const B = n.inputs[2] ? w.constant(n.inputs[2]) : undefined;
  if (n.inputs[2] && !B) unsupported(n, 'with a computed bias');
  const base = baseName(w, n);
  let pad = kerasPadding(n, x, k, s, d);
  // Keras (and TF.js) refuse strides > 1 with dilations > 1: a stride-1 dilated conv on the padded
  // input, then every s-th output (a MaxPooling of size 1 with strides s, an exact selection)
  const subsample = s.some((v) => v > 1) && d.some((v) => v > 1);
  const cs = subsample ? s.map(() => 1) : s;
  if (subsample && pad.padding === 'same') {
    const same = tfSamePads(x.shape.slice(1, 1 + rank), k, s, d);
    if (!same) unsupported(n, 'with strides and dilations on an input of unknown spatial size');
    pad = same.every((p) => p === 0) ? { padding: 'valid' } : { padding: 'valid', explicit: k.map((_, i) => [same[i]!, same[rank + i]!]) };
  }
  let xin = x;
  if (pad.explicit) xin = zeroPad(w, base, x, pad.explicit);
  const spatial = xin.shape.slice(1, 1 + rank).map((sz, i) => (pad.padding === 'same' ? (sz === null ? null : Math.ceil(sz / cs[i]!)) : outSize(sz, k[i]!, cs[i]!, d[i]!, 0, 0)));
  const shape: KShape = [null, ...spatial, cout];
  const bias = B ? [{ role: 'bias', tensor: B.reshape([cout]) }] : [];
  const common = { kernel_size: k, strides: cs, padding: pad.padding, data_format: 'channels_last', dilation_rate: d, activation: 'linear', use_bias: !!B };
  const strided = (y: KTensor): KTensor[] => {
    if (!subsample) return [y];
    const out: KShape = y.shape.map((sz, i) => (i >= 1 && i <= rank && sz !== null ? Math.floor((sz - 1) / s[i - 1]!) + 1 : sz));
    return [w.add(`MaxPooling${rank}D`, `${base}_stride`, { pool_size: s.map(() => 1), strides: s, padding: 'valid', data_format: 'channels_last' }, [y], out)];
  };
  if (group === 1) {
    if (rank > 3) unsupported(n, `${rank}-D`);
    return strided(w.add(`Conv${rank}D`, base, { filters: cout, ...common, groups: 1 }, [xin], shape, [{ role: 'kernel', tensor: W }, ...bias]));
  }
  if (typeof cin === 'number' && group === cin && W.shape[rank] === 1 && rank === 2) {
    const m = cout / cin;
    // HWIO (kh, kw, 1, C·M) is Keras' (kh, kw, C, M) reshaped
    const kernel = W.reshape([k[0]!, k[1]!, cin, m]);
    return strided(w.add('DepthwiseConv2D', base, { ...common, depth_multiplier: m }, [xin], shape, [{ role: 'depthwise_kernel', tensor: kernel }, ...bias]));
  }
  return strided(w.add(`Conv${rank}D`, base, { filters: cout, ...common, groups: group }, [xin], shape, [{ role: 'kernel', tensor: W }, ...bias]));
}

function convTransposeRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const W = w.constant(n.inputs[1]!);
  if (!W || W.rank !== 4) unsupported(n, 'with a computed or non-2-D kernel');
  const layout = attrString(n, 'kernel_layout', 'HWOI');
  if (layout !== 'HWOI') unsupported(n, `kernel_layout ${layout}`);
  if (attrInt(n, 'group', 1) !== 1) unsupported(n, 'with groups');
  const k = attrInts(n, 'kernel_shape', [W.shape[0]!, W.shape[1]!]);
  const s = attrInts(n, 'strides', [1, 1]);
  const d = attrInts(n, 'dilations', [1, 1]);
  if (d.some((v) => v !== 1)) unsupported(n, 'with dilation');
  if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') unsupported(n, 'with auto_pad');
  if (n.attrs.output_shape) unsupported(n, 'with output_shape');
  const pads = attrInts(n, 'pads', [0, 0, 0, 0]);
  const outPad = attrInts(n, 'output_padding', [0, 0]);
  const B = n.inputs[2] ? w.constant(n.inputs[2]) : undefined;
  const cout = W.shape[2]!;
  const base = baseName(w, n);
  // Keras 'valid': out = (in-1)*s + k + max(s-k, 0); anything else is cropped afterwards
  if (outPad.some((p, i) => p !== 0 && p !== Math.max(s[i]! - k[i]!, 0))) unsupported(n, 'with output_padding');
  const full = x.shape.slice(1, 3).map((sz, i) => (sz === null ? null : (sz - 1) * s[i]! + k[i]! + Math.max(s[i]! - k[i]!, 0)));
  let y = w.add(
    'Conv2DTranspose',
    base,
    { filters: cout, kernel_size: k, strides: s, padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: !!B },
    [x],
    [null, ...full, cout],
    [{ role: 'kernel', tensor: W }, ...(B ? [{ role: 'bias', tensor: B.reshape([cout]) }] : [])],
  );
  // ONNX crops pads[begin] at the start and pads[end] - (extra from output_padding) at the end
  const crop: [number, number][] = [0, 1].map((i) => [pads[i]!, pads[2 + i]! + Math.max(s[i]! - k[i]!, 0) - outPad[i]!]);
  if (crop.some(([a, b]) => a !== 0 || b !== 0)) {
    if (crop.some(([a, b]) => a < 0 || b < 0)) unsupported(n, 'with these pads');
    const shape: KShape = y.shape.map((dd, i) => (i >= 1 && i <= 2 && dd !== null ? dd - crop[i - 1]![0] - crop[i - 1]![1] : dd));
    y = w.add('Cropping2D', `${base}_crop`, { cropping: crop, data_format: 'channels_last' }, [y], shape);
  }
  return [y];
}

function poolRow(cls: 'MaxPooling' | 'AveragePooling'): Row {
  return (w, n) => {
    const x = w.input(n, 0);
    const k = attrInts(n, 'kernel_shape');
    if (!k) unsupported(n, 'without kernel_shape');
    const rank = k.length;
    const s = attrInts(n, 'strides', new Array<number>(rank).fill(1));
    const d = attrInts(n, 'dilations', new Array<number>(rank).fill(1));
    if (d.some((v) => v !== 1)) unsupported(n, 'with dilations');
    const base = n.name || n.outputs[0]!;
    const pad = kerasPadding(n, x, k, s, d);
    let xin = x;
    if (pad.padding === 'same' && cls === 'AveragePooling' && attrInt(n, 'count_include_pad', 0) === 1) {
      unsupported(n, 'counting padded zeros with TF SAME padding');
    }
    if (cls === 'AveragePooling' && attrInt(n, 'ceil_mode', 0) === 1 && attrInt(n, 'count_include_pad', 0) === 1) {
      const own = attrInts(n, 'pads', new Array<number>(2 * rank).fill(0));
      // (ONNX / PyTorch divide by the window clipped to the padded input: zero padding of the overhang would count it)
      if (pad.explicit?.some(([, e], i) => e > own[rank + i]!)) unsupported(n, 'in ceil mode counting its padding, with a last window past that padding');
    }
    if (pad.explicit) {
      if (cls === 'MaxPooling' && !NON_NEGATIVE.has(x.producer ?? '')) {
        unsupported(n, 'with padding that TF SAME cannot express on an input that may be negative (Keras pads max pooling with zeros here)');
      }
      if (cls === 'AveragePooling' && attrInt(n, 'count_include_pad', 0) !== 1) {
        unsupported(n, 'with explicit padding excluded from the average (Keras only has SAME)');
      }
      xin = zeroPad(w, base, x, pad.explicit);
    }
    const spatial = xin.shape.slice(1, 1 + rank).map((sz, i) => (pad.padding === 'same' ? (sz === null ? null : Math.ceil(sz / s[i]!)) : outSize(sz, k[i]!, s[i]!, 1, 0, 0)));
    const y = w.add(`${cls}${rank}D`, base, { pool_size: k, strides: s, padding: pad.padding, data_format: 'channels_last' }, [xin], [null, ...spatial, x.shape[rank + 1] ?? null]);
    if (cls === 'MaxPooling' && NON_NEGATIVE.has(x.producer ?? '')) y.producer = 'MaxPool:nonneg';
    return [y];
  };
}

/** Global pooling over all spatial axes; keepdims -> a Reshape back to (1, ..., 1, C). */
function globalPool(w: Writer, n: Node, cls: 'GlobalAveragePooling' | 'GlobalMaxPooling', keep: boolean, scale?: number): KTensor[] {
  const x0 = w.input(n, 0);
  const base = n.name || n.outputs[0]!;
  // a scale: Rescaling(scale) before and after (ReduceMin = -max(-x)) or after (ReduceSum = mean · count)
  const x = scale === -1 ? w.add('Rescaling', `${base}_neg`, { scale: -1, offset: 0 }, [x0], x0.shape) : x0;
  const rank = x.shape.length - 2;
  if (rank < 1 || rank > 3) unsupported(n, `on rank ${x.shape.length}`);
  const c = x.shape[rank + 1] ?? null;
  const pooled = w.add(`${cls}${rank}D`, scale === undefined ? base : `${base}_pool`, { data_format: 'channels_last' }, [x], [null, c]);
  const y = scale === undefined ? pooled : w.add('Rescaling', keep ? `${base}_scale` : base, { scale, offset: 0 }, [pooled], pooled.shape);
  if (!keep) return [y];
  // a Flatten right after (the usual classifier head) makes the Reshape moot
  const next = w.soleConsumer(n.outputs[0]!);
  if (next && next.opType === 'Flatten' && attrInt(next, 'axis', 1) === 1) {
    w.skip.add(next);
    w.values.set(next.outputs[0]!, y);
    return [y];
  }
  return [w.add('Reshape', `${base}_keepdims`, { target_shape: [...new Array<number>(rank).fill(1), c] }, [y], [null, ...new Array<number>(rank).fill(1), c])];
}

/** ReduceMean / Max over all spatial axes: global pooling; ReduceMin = -max(-x), ReduceSum = mean · count. */
function reduceRow(op: 'mean' | 'max' | 'min' | 'sum'): Row {
  return (w, n) => {
    const x = w.input(n, 0);
    const rank = x.shape.length;
    let axes = attrInts(n, 'axes');
    if (!axes && n.inputs[1]) {
      axes = w.constant(n.inputs[1])?.toNumbers();
      if (!axes) unsupported(n, `with axes given at run time (input '${n.inputs[1]}')`);
    }
    if (!axes) unsupported(n, 'over all axes (the batch axis too)');
    const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort();
    if (norm.length !== rank - 2 || norm.some((a, i) => a !== i + 1)) unsupported(n, `over axes [${axes.join(', ')}] (only all spatial axes of channels-last data)`);
    const keep = attrInt(n, 'keepdims', 1) === 1;
    if (op === 'mean' || op === 'max') return globalPool(w, n, op === 'mean' ? 'GlobalAveragePooling' : 'GlobalMaxPooling', keep);
    if (op === 'min') return globalPool(w, n, 'GlobalMaxPooling', keep, -1);
    const spatial = x.shape.slice(1, -1);
    if (spatial.some((d) => d === null)) unsupported(n, 'over axes of unknown size');
    return globalPool(w, n, 'GlobalAveragePooling', keep, (spatial as number[]).reduce((a, b) => a * b, 1));
  };
}

function batchNormRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const [g, b, m, v] = [1, 2, 3, 4].map((i) => w.constant(n.inputs[i]!));
  if (!g || !b || !m || !v) unsupported(n, 'with computed statistics');
  const r = x.shape.length;
  let xin = x;
  if (r > 4) {
    // TF.js 4.9 has batch normalization up to rank 4: (N, d1..dk, C) as (N, d1·..·d(k-1), dk, C), the same bytes
    const inner = x.shape.slice(1);
    if (inner.some((d) => d === null)) unsupported(n, `on rank-${r} data of unknown size`);
    const dims = inner as number[];
    const flat = [dims.slice(0, -2).reduce((a, c) => a * c, 1), dims[r - 3]!, dims[r - 2]!];
    xin = w.add('Reshape', `${baseName(w, n)}_rank4`, { target_shape: flat }, [x], [null, ...flat]);
  }
  const y = w.add(
    'BatchNormalization',
    baseName(w, n),
    // epsilon carried exactly: PyTorch's 1e-5 is not Keras' default 1e-3
    { axis: -1, momentum: attrFloat(n, 'momentum', 0.9), epsilon: attrFloat(n, 'epsilon', 1e-5), center: true, scale: true },
    [xin],
    xin.shape,
    [
      { role: 'gamma', tensor: g },
      { role: 'beta', tensor: b },
      { role: 'moving_mean', tensor: m },
      { role: 'moving_variance', tensor: v },
    ],
  );
  return [xin === x ? y : w.add('Reshape', `${baseName(w, n)}_rank${r}`, { target_shape: x.shape.slice(1) as number[] }, [y], x.shape)];
}

/**
 * InstanceNormalization (one group per channel) and GroupNormalization of channels-last data: Keras'
 * GroupNormalization
 * (moments over the spatial axes of each channel and sample; tf.keras 2.11+ and Keras 3; TF.js 4.9
 * has no such layer). gamma / beta are ONNX's per-channel scale / B.
 */
function instanceNormRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') unsupported(n, 'with an unknown channel count');
  const groups = n.opType === 'GroupNormalization' ? attrInt(n, 'num_groups', 0) : c;
  const g = w.constant(n.inputs[1]!);
  const b = w.constant(n.inputs[2]!);
  if (!g || !b) unsupported(n, 'with a scale or bias given at run time');
  // (an opset-18 GroupNormalization's per-group parameters: each group's value for its channels)
  const perChannel = (t: Tensor): Tensor => {
    if (t.size === c) return t.reshape([c]);
    const v = t.toNumbers();
    return Tensor.float32([c], Array.from({ length: c }, (_, i) => v[Math.floor(i / (c / groups))]!));
  };
  const weights = [{ role: 'gamma', tensor: perChannel(g) }, { role: 'beta', tensor: perChannel(b) }];
  return [w.add('GroupNormalization', baseName(w, n), { groups, axis: -1, epsilon: attrFloat(n, 'epsilon', 1e-5), center: true, scale: true }, [x], x.shape, weights)];
}

/**
 * DepthToSpace (PyTorch's PixelShuffle: CRD; TF's depth_to_space: DCR) and SpaceToDepth (DCR) of
 * channels-last (N, H, W, C) data, which Keras has no layer for: Reshape to the blocks, Permute them
 * next to the rows and columns they go to, Reshape back — the same element moves. Static H, W.
 */
function spaceDepthRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  if (x.shape.length !== 4) unsupported(n, `on rank-${x.shape.length} data`);
  const [h, wd, c] = x.shape.slice(1) as Array<number | null>;
  if (h === null || wd === null || c === null) unsupported(n, 'on data of unknown size');
  const r = attrInt(n, 'blocksize', 0);
  const base = baseName(w, n);
  if (n.opType === 'DepthToSpace') {
    const co = c / (r * r);
    const crd = attrString(n, 'mode', 'DCR') === 'CRD';
    // CRD: channel (c·r + i)·r + j; DCR: (i·r + j)·C' + c
    const blocks = crd ? [h, wd, co, r, r] : [h, wd, r, r, co];
    const v = w.add('Reshape', `${base}_blocks`, { target_shape: blocks }, [x], [null, ...blocks]);
    const dims = crd ? [1, 4, 2, 5, 3] : [1, 3, 2, 4, 5];
    const p = w.add('Permute', `${base}_interleave`, { dims }, [v], [null, h, r, wd, r, co]);
    return [w.add('Reshape', base, { target_shape: [h * r, wd * r, co] }, [p], [null, h * r, wd * r, co])];
  }
  if (h % r !== 0 || wd % r !== 0) unsupported(n, `of ${h}x${wd} by blocks of ${r}`);
  const v = w.add('Reshape', `${base}_blocks`, { target_shape: [h / r, r, wd / r, r, c] }, [x], [null, h / r, r, wd / r, r, c]);
  const p = w.add('Permute', `${base}_gather`, { dims: [1, 3, 2, 4, 5] }, [v], [null, h / r, wd / r, r, r, c]);
  return [w.add('Reshape', base, { target_shape: [h / r, wd / r, r * r * c] }, [p], [null, h / r, wd / r, r * r * c])];
}

/** LayerNormalization over the axes from `axis` on (the batch axis excluded): Keras' over that axis list. */
function layerNormRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const r = x.shape.length;
  let axis = attrInt(n, 'axis', -1);
  if (axis < 0) axis += r;
  if (axis <= 0) unsupported(n, 'over the batch axis');
  if (n.outputs.slice(1).some((o) => o && ((w.consumers.get(o)?.length ?? 0) > 0 || w.graph.outputs.some((v) => v.name === o)))) unsupported(n, 'with its Mean / InvStdDev outputs');
  const g = w.constant(n.inputs[1]!);
  const b = n.inputs[2] ? w.constant(n.inputs[2]) : undefined;
  if (!g) unsupported(n, `with a scale given at run time (input '${n.inputs[1]}')`);
  if (n.inputs[2] && !b) unsupported(n, `with a bias given at run time (input '${n.inputs[2]}')`);
  // Keras' gamma / beta have the normalized dims' shape (ONNX's may be broadcast from fewer)
  const dims = x.shape.slice(axis);
  if (dims.some((d) => d === null)) unsupported(n, 'over axes of unknown size');
  const size = (dims as number[]).reduce((a, c) => a * c, 1);
  const param = (t: Tensor, what: string): Tensor => {
    if (t.size !== size) unsupported(n, `with a ${what} of shape [${t.shape.join(', ')}] (Keras needs one value per normalized element)`);
    return t.reshape(dims as number[]);
  };
  const weights = [{ role: 'gamma', tensor: param(g, 'scale') }, ...(b ? [{ role: 'beta', tensor: param(b, 'bias') }] : [])];
  const axes = axis === r - 1 ? -1 : Array.from({ length: r - axis }, (_, i) => axis + i);
  return [w.add('LayerNormalization', baseName(w, n), { axis: axes, epsilon: attrFloat(n, 'epsilon', 1e-5), center: !!b, scale: true }, [x], x.shape, weights)];
}

/** Dense from Gemm / MatMul(+Add): kernel (in, out). */
function denseRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  if (x.shape.length !== 2 && n.opType === 'Gemm') unsupported(n, `on rank ${x.shape.length}`);
  const B = w.constant(n.inputs[1]!);
  if (!B && n.opType === 'MatMul') return dotRow(w, n);
  if (!B || B.rank !== 2) unsupported(n, 'with a computed or non-2-D weight');
  let kernel: Tensor = B;
  let bias: Tensor | undefined;
  if (n.opType === 'Gemm') {
    if (attrInt(n, 'transA', 0) !== 0) unsupported(n, 'with transA');
    const alpha = attrFloat(n, 'alpha', 1);
    const beta = attrFloat(n, 'beta', 1);
    // deferred (Tensor.permute): the .h5 writer copies a large kernel out in slices
    if (attrInt(n, 'transB', 0) === 1) kernel = B.permute([1, 0]);
    if (alpha !== 1) kernel = scaled(kernel, alpha);
    if (n.inputs[2]) {
      const c = w.constant(n.inputs[2]);
      if (!c || c.size !== kernel.shape[1]) unsupported(n, 'with a bias that is not one value per unit');
      bias = beta === 1 ? c.reshape([c.size]) : scaled(c.reshape([c.size]), beta);
    }
  }
  const units = kernel.shape[1]!;
  const outName = n.outputs[0]!;
  let out = outName;
  if (!bias) {
    // MatMul followed by Add of a per-unit constant: one Dense with a bias
    const add = w.soleConsumer(outName);
    if (add && add.opType === 'Add') {
      const other = add.inputs[0] === outName ? add.inputs[1]! : add.inputs[0]!;
      const c = w.constant(other);
      if (c && c.size === units && c.shape[c.rank - 1] === units) {
        bias = c.reshape([units]);
        w.skip.add(add);
        out = add.outputs[0]!;
      }
    }
  }
  const y = w.add('Dense', baseName(w, n), { units, activation: 'linear', use_bias: !!bias }, [x], [...x.shape.slice(0, -1), units], [{ role: 'kernel', tensor: kernel }, ...(bias ? [{ role: 'bias', tensor: bias }] : [])]);
  if (out !== outName) w.values.set(out, y);
  return [y];
}

/** MatMul of two computed values, [batch, M, K] x [batch, K, N] (an Einsum's products, lower-einsum.ts): Keras' Dot over axes 2 and 1. */
function dotRow(w: Writer, n: Node): KTensor[] {
  const [a, b] = [w.input(n, 0), w.input(n, 1)];
  if (a.timeMajor || b.timeMajor) unsupported(n, 'of two computed values, one time-major (a recurrent sequence)');
  if (a.shape.length !== 3 || b.shape.length !== 3) unsupported(n, `of two computed values of ranks ${a.shape.length} and ${b.shape.length} (Keras' Dot batches over axis 0 only: both rank 3)`);
  return [w.add('Dot', n.name || n.outputs[0]!, { axes: [2, 1], normalize: false }, distinct(w, n, [a, b]), [null, a.shape[1] ?? null, b.shape[2] ?? null])];
}

function scaled(t: Tensor, f: number): Tensor {
  const src = t.toFloat32();
  const o = new Float32Array(src.length);
  for (let i = 0; i < o.length; i++) o[i] = src[i]! * f;
  return new Tensor('float32', t.shape, o);
}

function mergeRow(cls: string): Row {
  return (w, n) => {
    const consts = n.inputs.filter((i) => w.isConstant(i));
    if (consts.length) return constantOperand(w, n, cls);
    let xs = n.inputs.map((_, i) => w.input(n, i));
    // Sum / Max / Min / Mean of one input is that input (a Keras merge layer takes two or more)
    if (xs.length === 1 && cls !== 'Subtract') return xs;
    const rank = Math.max(...xs.map((t) => t.shape.length));
    const shape: KShape = [];
    for (let i = 0; i < rank; i++) {
      let dim: number | null = 1;
      for (const t of xs) {
        const v = t.shape[t.shape.length - rank + i];
        if (v !== undefined && v !== 1) dim = v;
      }
      shape.push(i === 0 ? null : dim);
    }
    if (xs.some((t) => t.shape.length !== rank)) unsupported(n, 'broadcasting tensors of different ranks');
    xs = distinct(w, n, xs);
    if (cls === 'Subtract') {
      // a - b as a + (-1)·b: TF.js 4.9 has no Subtract layer (the negation is exact)
      const base = n.name || n.outputs[0]!;
      const neg = w.add('Rescaling', `${base}_neg`, { scale: -1, offset: 0 }, [xs[1]!], xs[1]!.shape);
      return [w.add('Add', base, {}, [xs[0]!, neg], shape)];
    }
    return [w.add(cls, n.name || n.outputs[0]!, {}, xs, shape)];
  };
}

/**
 * The inputs of a merge layer with each Keras tensor once: TF.js' executor frees a tensor fed
 * twice to one layer after its first use (x + x fails in TF.js 4.9), so a repeat is a linear copy.
 */
function distinct(w: Writer, n: Node, xs: KTensor[]): KTensor[] {
  const seen = new Set<string>();
  return xs.map((t) => {
    const key = t.ref.join('/');
    if (!seen.has(key)) {
      seen.add(key);
      return t;
    }
    return w.add('Activation', `${n.name || n.outputs[0]!}_copy`, { activation: 'linear' }, [t], t.shape);
  });
}

/** x * c or x + c with a scalar constant: a Rescaling layer (scale, offset). */
function constantOperand(w: Writer, n: Node, cls: string): KTensor[] {
  if (n.inputs.length !== 2) unsupported(n, 'with a constant operand');
  const ci = w.isConstant(n.inputs[1]!) ? 1 : 0;
  const c = w.constant(n.inputs[ci]!)!;
  const x = w.input(n, 1 - ci);
  if (c.size !== 1) return normalizationRow(w, n) ?? unsupported(n, 'with a non-scalar constant operand');
  const v = c.toNumbers()[0]!;
  let scale = 1;
  let offset = 0;
  if (cls === 'Multiply') scale = v;
  else if (cls === 'Add') offset = v;
  else if (cls === 'Subtract' && ci === 1) offset = -v;
  else if (cls === 'Subtract') {
    scale = -1;
    offset = v;
  } else unsupported(n, 'with a constant operand');
  return [w.add('Rescaling', n.name || n.outputs[0]!, { scale, offset }, [x], x.shape)];
}

/** x / c with a float scalar constant c: Rescaling(1 / c) (within an ulp of the quotient). */
function divRow(w: Writer, n: Node): KTensor[] {
  const c = w.constant(n.inputs[1]!);
  if (w.isConstant(n.inputs[0]!)) unsupported(n, 'of a constant by a tensor');
  if (!c) unsupported(n, 'of two tensors (Keras has no Divide layer)');
  if (c.size !== 1) return normalizationRow(w, n) ?? unsupported(n, 'by a non-scalar constant');
  if (!isFloatDType(c.dtype)) unsupported(n, `of ${c.dtype} values (integer division)`);
  const v = c.toNumbers()[0]!;
  if (v === 0 || !Number.isFinite(v)) unsupported(n, `by ${v}`);
  const x = w.input(n, 0);
  return [w.add('Rescaling', n.name || n.outputs[0]!, { scale: 1 / v, offset: 0 }, [x], x.shape)];
}

function concatRow(w: Writer, n: Node): KTensor[] {
  const xs = n.inputs.map((_, i) => w.input(n, i));
  if (xs.length === 1) return xs; // torch.cat([x]): Keras' Concatenate wants two or more
  const rank = xs[0]!.shape.length;
  let axis = attrInt(n, 'axis', -1);
  if (axis < 0) axis += rank;
  if (axis === 0) unsupported(n, 'on the batch axis');
  const shape = [...xs[0]!.shape];
  const sizes = xs.map((t) => t.shape[axis]);
  shape[axis] = sizes.every((v) => typeof v === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : null;
  const y = w.add('Concatenate', n.name || n.outputs[0]!, { axis: axis === rank - 1 ? -1 : axis }, xs, shape);
  // (a join of non-negative values is one: SqueezeNet's Fire outputs, max-pooled with zero pads)
  if (xs.every((x) => NON_NEGATIVE.has(x.producer ?? ''))) y.producer = 'Concat:nonneg';
  return [y];
}

function flattenRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  if (attrInt(n, 'axis', 1) !== 1) unsupported(n, 'with axis other than 1');
  const rest = x.shape.slice(1);
  const size = rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
  if (x.shape.length === 2) return [x];
  // (batch,) -> (batch, 1): Keras' Flatten wants a rank >= 3 input (TF.js: min_ndim 3)
  if (x.shape.length === 1) return [w.add('Reshape', n.name || n.outputs[0]!, { target_shape: [1] }, [x], [null, 1])];
  return [w.add('Flatten', n.name || n.outputs[0]!, { data_format: 'channels_last' }, [x], [null, size])];
}

/** Unsqueeze / Squeeze of non-batch unit axes (a TFLite Conv1D's EXPAND_DIMS / SQUEEZE): a Keras Reshape. */
function unitAxesRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const r = x.shape.length;
  const given = n.inputs[1] ? w.constant(n.inputs[1])?.toNumbers() : attrInts(n, 'axes');
  if (!given) unsupported(n, 'with computed axes');
  const squeeze = n.opType === 'Squeeze';
  const outRank = squeeze ? r - given.length : r + given.length;
  const axes = given.map((a) => (a < 0 ? a + (squeeze ? r : outRank) : a)).sort((a, b) => a - b);
  if (axes.includes(0)) unsupported(n, 'of the batch axis');
  let shape: KShape;
  if (squeeze) {
    if (axes.some((a) => x.shape[a] !== 1)) unsupported(n, 'of an axis that is not 1');
    shape = x.shape.filter((_, i) => !axes.includes(i));
  } else {
    const rest = [...x.shape];
    shape = Array.from({ length: outRank }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!));
  }
  if (shape.slice(1).some((d) => d === null)) unsupported(n, 'of a value with an unknown non-batch dim');
  return [w.add('Reshape', n.name || n.outputs[0]!, { target_shape: shape.slice(1) as number[] }, [x], shape)];
}

/** Tile of a [batch, 1, features] value by [1, n, 1] (Keras' RepeatVector as the reader builds it): RepeatVector on its [batch, features]. */
function tileRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const repeats = n.inputs[1] ? w.constant(n.inputs[1])?.toNumbers() : undefined;
  if (!repeats) unsupported(n, 'with computed repeats');
  const f = x.shape[2];
  if (x.shape.length !== 3 || x.shape[1] !== 1 || typeof f !== 'number' || repeats.length !== 3 || repeats[0] !== 1 || repeats[2] !== 1) {
    unsupported(n, `by [${repeats.join(', ')}] of a [${x.shape.join(', ')}] value (Keras' RepeatVector repeats a [batch, features] value along a new axis 1)`);
  }
  const base = n.name || n.outputs[0]!;
  const flat = w.add('Reshape', `${base}_features`, { target_shape: [f] }, [x], [null, f]);
  return [w.add('RepeatVector', base, { n: repeats[1]! }, [flat], [null, repeats[1]!, f])];
}

function reshapeRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const s = w.constant(n.inputs[1]!);
  if (!s) return [reshapeAcrossTimeAtRunTime(w, n, x) ?? unsupported(n, 'with a computed shape')];
  const target = s.toNumbers();
  // folding a time axis into the batch, or back (TimeDistributed)
  const across = reshapeAcrossTime(n, x, target);
  if (across) return [across];
  // the first dim is the batch: 0 (copy), -1, or the batch size itself
  const rest = target.slice(1).map((d, i) => (d === 0 ? (x.shape[i + 1] ?? -1) : d));
  if (rest.filter((d) => d === -1).length > 1) unsupported(n, 'with an unknown dim to copy');
  const known = x.shape.slice(1);
  const total = known.every((d) => typeof d === 'number') ? (known as number[]).reduce((a, b) => a * b, 1) : null;
  const fixed = rest.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  if (target[0] !== 0 && target[0] !== -1 && x.shape[0] !== null && target[0] !== x.shape[0]) unsupported(n, 'that changes the batch dimension');
  if (target[0] === -1 && rest.includes(-1)) unsupported(n, 'with -1 in the batch and another dim');
  const shape: KShape = [null, ...rest.map((d) => (d === -1 ? (total === null ? null : total / fixed) : d))];
  // a Keras Reshape keeps each batch row's elements
  if (total !== null && !rest.includes(-1) && fixed !== total) unsupported(n, 'that changes the batch dimension');
  if (total !== null && rest.includes(-1) && total % fixed !== 0) unsupported(n, 'that changes the batch dimension');
  if (rest.length === x.shape.length - 1 && shape.every((d, i) => i === 0 || d === x.shape[i])) return [x];
  return [w.add('Reshape', n.name || n.outputs[0]!, { target_shape: rest }, [x], shape)];
}

function transposeRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const perm = attrInts(n, 'perm', x.shape.map((_, i) => x.shape.length - 1 - i));
  // rank 3 around a recurrent op: a Transpose to time-major ([B, T, F] -> [T, B, F], or a CRNN's
  // [B, F, T] -> [T, B, F]) is a Permute of the non-batch axes of the Keras tensor, read time-major
  if (x.shape.length === 3 && hasRecurrentOp(w)) {
    const q = perm.map((p) => (x.timeMajor ? [1, 0, 2][p]! : p));
    if (q[0] === 0 || q[1] === 0) {
      const timeMajor = q[1] === 0;
      const dims = timeMajor ? [q[0]!, q[2]!] : [q[1]!, q[2]!];
      const y = dims.join() === '1,2' ? x : w.add('Permute', n.name || n.outputs[0]!, { dims }, [{ ...x, timeMajor: undefined }], [null, x.shape[dims[0]!] ?? null, x.shape[dims[1]!] ?? null]);
      return [{ ...y, timeMajor: timeMajor || undefined }];
    }
  }
  if (x.timeMajor) unsupported(n, 'on a time-major tensor');
  if (perm[0] !== 0) unsupported(n, 'moving the batch axis');
  if (perm.every((p, i) => p === i)) return [x];
  return [w.add('Permute', n.name || n.outputs[0]!, { dims: perm.slice(1) }, [x], perm.map((p) => x.shape[p] ?? null))];
}

function padRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const mode = attrString(n, 'mode', 'constant');
  if (mode !== 'constant') unsupported(n, `mode '${mode}'`);
  const pads = n.inputs[1] ? w.constant(n.inputs[1])?.toNumbers() : attrInts(n, 'pads');
  if (!pads) unsupported(n, 'with computed pads');
  if (n.inputs[2]) {
    const v = w.constant(n.inputs[2]);
    if (!v || v.toNumbers().some((c) => c !== 0)) unsupported(n, 'with a non-zero pad value');
  }
  if (n.inputs[3]) unsupported(n, 'with axes');
  const r = x.shape.length;
  if (pads[0] !== 0 || pads[r] !== 0 || pads[r - 1] !== 0 || pads[2 * r - 1] !== 0) unsupported(n, 'padding the batch or channel axis');
  const p: [number, number][] = [];
  for (let i = 1; i < r - 1; i++) p.push([pads[i]!, pads[r + i]!]);
  if (p.some(([a, b]) => a < 0 || b < 0)) unsupported(n, 'with negative pads');
  return [zeroPad(w, n.name || n.outputs[0]!, x, p)];
}

/** Channel slices of (N, H, W, C): Permute to (N, C, W, H), Cropping2D on C, Permute back. */
/**
 * Channels [start, end) of channels-last data: Permute + Cropping2D + Permute on rank 4; other
 * ranks are viewed as rank 4 around it ([batch, rows, cols, c]: a YOLO head's [batch, anchors, c]
 * split into boxes and classes), with Reshapes TF.js has too (it has no Cropping1D / 3D).
 */
function sliceChannels(w: Writer, base: string, x: KTensor, start: number, end: number, n: Node): KTensor {
  const r = x.shape.length;
  if (r === 4) return sliceChannels4d(w, base, x, start, end, n);
  const c = x.shape[r - 1];
  if (r < 2 || typeof c !== 'number') unsupported(n, r < 2 ? 'on the batch axis' : 'with an unknown channel count');
  const mid = x.shape.slice(1, r - 1);
  if (mid.filter((d) => d === null).length > 1) unsupported(n, `on the channel axis of rank-${r} data with more than one unknown dim`);
  const cols = r > 3 ? mid[mid.length - 1]! : 1;
  if (cols === null) unsupported(n, `on the channel axis of rank-${r} data whose last spatial dim is unknown`);
  const rest = r > 3 ? mid.slice(0, -1) : mid;
  const rows = rest.every((d) => d !== null) ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
  const view = w.add('Reshape', `${base}_as_4d`, { target_shape: [rows ?? -1, cols, c] }, [x], [null, rows, cols, c]);
  const y = sliceChannels4d(w, `${base}_4d`, view, start, end, n);
  return w.add('Reshape', base, { target_shape: [...mid.map((d) => d ?? -1), end - start] }, [y], [null, ...mid, end - start]);
}

function sliceChannels4d(w: Writer, base: string, x: KTensor, start: number, end: number, n: Node): KTensor {
  const c = x.shape[3];
  if (typeof c !== 'number') unsupported(n, 'with an unknown channel count');
  const t = w.add('Permute', `${base}_to_cwh`, { dims: [3, 2, 1] }, [x], [null, c, x.shape[2] ?? null, x.shape[1] ?? null]);
  const cropped = w.add('Cropping2D', `${base}_crop`, { cropping: [[start, c - end], [0, 0]], data_format: 'channels_last' }, [t], [null, end - start, x.shape[2] ?? null, x.shape[1] ?? null]);
  return w.add('Permute', base, { dims: [3, 2, 1] }, [cropped], [null, x.shape[1] ?? null, x.shape[2] ?? null, end - start]);
}

function sliceRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const r = x.shape.length;
  // (before opset 10: starts / ends / axes attributes)
  const attr = ['', 'starts', 'ends', 'axes'];
  const get = (i: number) => (n.inputs[i] ? w.constant(n.inputs[i]!)?.toNumbers() : attrInts(n, attr[i] ?? ''));
  const starts = get(1);
  const ends = get(2);
  if (!starts || !ends) unsupported(n, 'with computed bounds');
  const axes = (get(3) ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const steps = get(4) ?? starts.map(() => 1);
  if (steps.some((s) => s !== 1)) unsupported(n, 'with steps');
  const crop: [number, number][] = x.shape.map(() => [0, 0]);
  axes.forEach((a, i) => {
    const size = x.shape[a];
    if (typeof size !== 'number') {
      // a spatial axis of run-time size: a crop of fixed amounts from both ends (a start >= 0, an end counted from the end or to it) is a Cropping layer
      const toEnd = ends[i]! >= 2 ** 31 - 1;
      if (a === 0 || a === r - 1 || starts[i]! < 0 || !(ends[i]! < 0 || toEnd)) unsupported(n, 'on an axis of unknown size (other than fixed crops of a spatial axis from both ends)');
      crop[a] = [starts[i]!, toEnd ? 0 : -ends[i]!];
      return;
    }
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const s = clamp(starts[i]!);
    const e = clamp(ends[i]!);
    crop[a] = [s, size - e];
  });
  const base = n.name || n.outputs[0]!;
  if (crop[0]![0] || crop[0]![1]) unsupported(n, 'on the batch axis');
  const ch = crop[r - 1]!;
  const spatial = crop.slice(1, r - 1);
  let y = x;
  if (spatial.some(([a, b]) => a || b)) {
    if (r - 2 > 3 || r < 3) unsupported(n, `on rank ${r}`);
    const shape: KShape = x.shape.map((d, i) => (i >= 1 && i < r - 1 && d !== null ? d - crop[i]![0] - crop[i]![1] : d));
    y = w.add(`Cropping${r - 2}D`, ch[0] || ch[1] ? `${base}_spatial` : base, { cropping: r === 3 ? spatial[0]! : spatial, ...(r === 3 ? {} : { data_format: 'channels_last' }) } as JsonObject, [y], shape);
  }
  if (ch[0] || ch[1]) y = sliceChannels(w, base, y, ch[0], (y.shape[r - 1] as number) - ch[1], n);
  return [y];
}

function splitRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const r = x.shape.length;
  let axis = attrInt(n, 'axis', 0);
  if (axis < 0) axis += r;
  if (axis !== r - 1) unsupported(n, 'on an axis other than channels');
  const c = x.shape[axis];
  if (typeof c !== 'number') unsupported(n, 'with an unknown channel count');
  // sizes fed at run time (a graph input) cannot be a Keras layer's fixed crop: not an even split
  if (n.inputs[1] && !w.constant(n.inputs[1])) unsupported(n, 'with split sizes computed at run time');
  let sizes = (n.inputs[1] ? w.constant(n.inputs[1])?.toNumbers() : undefined) ?? attrInts(n, 'split');
  if (!sizes) {
    const k = n.outputs.length;
    const each = Math.ceil(c / k);
    sizes = n.outputs.map((_, i) => Math.min(each, c - i * each));
  }
  const outs: KTensor[] = [];
  let at = 0;
  sizes.forEach((sz, i) => {
    outs.push(sliceChannels(w, n.outputs[i] || `${n.name}_${i}`, x, at, at + sz, n));
    at += sz;
  });
  return outs;
}

function resizeRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  if (x.shape.length !== 4) unsupported(n, `on rank ${x.shape.length}`);
  // Upsample and Resize-10 take (X, scales) (Upsample-7: an attribute), asymmetric coordinates, floor for nearest
  const opset = w.graph.opsets[''] ?? w.graph.opsets['ai.onnx'] ?? 17;
  const early = n.opType === 'Upsample' || opset < 11;
  let scales = early ? (attrFloats(n, 'scales') ?? (n.inputs[1] ? w.constant(n.inputs[1])?.toNumbers() : undefined)) : n.inputs[2] ? w.constant(n.inputs[2])?.toNumbers() : undefined;
  if (!early && (!scales || !scales.length) && n.inputs[3]) {
    const sizes = w.constant(n.inputs[3])?.toNumbers();
    if (sizes) scales = sizes.map((sz, i) => sz / (x.shape[i] ?? NaN));
  }
  if (!scales || scales.length !== 4) unsupported(n, 'with computed scales');
  // nnport.Resize carries NCHW-ordered scales like ONNX's; a plain Resize on NHWC data is per axis
  const [sh, sw] = n.domain === 'nnport' && scales[1] === scales[2] && scales[3] !== 1 ? [scales[2]!, scales[3]!] : [scales[1]!, scales[2]!];
  if (!Number.isInteger(sh) || !Number.isInteger(sw)) unsupported(n, `with non-integer scales ${sh}, ${sw}`);
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = early ? 'asymmetric' : attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  let interpolation: string;
  if (mode === 'nearest') {
    const nm = early ? 'floor' : attrString(n, 'nearest_mode', 'round_prefer_floor');
    // integer upscaling: asymmetric+floor and half_pixel+round_prefer_floor pick the same pixels
    if (!((ctm === 'asymmetric' && nm === 'floor') || ctm === 'half_pixel' || ctm === 'pytorch_half_pixel')) unsupported(n, `nearest with ${ctm}/${nm}`);
    interpolation = 'nearest';
  } else if (mode === 'linear' && (ctm === 'half_pixel' || ctm === 'pytorch_half_pixel')) interpolation = 'bilinear';
  else unsupported(n, `mode ${mode} with ${ctm}`);
  const shape: KShape = [null, x.shape[1] === null ? null : x.shape[1]! * sh, x.shape[2] === null ? null : x.shape[2]! * sw, x.shape[3] ?? null];
  if (interpolation === 'bilinear') return [bilinearUpsampling(w, n, x, sh, sw, shape)];
  return [w.add('UpSampling2D', n.name || n.outputs[0]!, { size: [sh, sw], data_format: 'channels_last', interpolation }, [x], shape)];
}

/**
 * Half-pixel bilinear upsampling by integer factors, which Keras' UpSampling2D computes but
 * TF.js' does not (it resizes without half-pixel centers): edges replicated by one pixel
 * (Cropping2D + Concatenate), a fixed Conv2DTranspose with the triangle weights (stride s,
 * kernel 3s, channel-diagonal), and a crop of 2s on each side. Same numbers in both.
 */
function bilinearUpsampling(w: Writer, n: Node, x: KTensor, sh: number, sw: number, shape: KShape): KTensor {
  const [, h, wd, c] = x.shape;
  if (typeof h !== 'number' || typeof wd !== 'number' || typeof c !== 'number') unsupported(n, 'bilinear with unknown spatial size or channels');
  const base = n.name || n.outputs[0]!;
  const edge = (t: KTensor, axis: 1 | 2, size: number): KTensor => {
    const crop = (a: [number, number]): [number, number][] => (axis === 1 ? [a, [0, 0]] : [[0, 0], a]);
    const rowShape = (k: number): KShape => t.shape.map((d, i) => (i === axis ? k : d));
    const first = w.add('Cropping2D', `${base}_edge${axis}a`, { cropping: crop([0, size - 1]), data_format: 'channels_last' }, [t], rowShape(1));
    const last = w.add('Cropping2D', `${base}_edge${axis}b`, { cropping: crop([size - 1, 0]), data_format: 'channels_last' }, [t], rowShape(1));
    return w.add('Concatenate', `${base}_pad${axis}`, { axis }, [first, t, last], rowShape(size + 2));
  };
  const padded = edge(edge(x, 1, h), 2, wd);
  const tri = (s: number): Float32Array => {
    // k[t + s(1 - d)] = max(0, 1 - |f_t - d|), f_t = (t + 0.5)/s - 0.5: the weight of x[i + d] in out[s i + t]
    const k = new Float32Array(3 * s);
    for (let t = 0; t < s; t++) for (let d = -1; d <= 1; d++) k[t + s * (1 - d)] = Math.max(0, 1 - Math.abs((t + 0.5) / s - 0.5 - d));
    return k;
  };
  const kh = tri(sh);
  const kw = tri(sw);
  const kernel = new Float32Array(kh.length * kw.length * c * c);
  for (let a = 0; a < kh.length; a++) for (let b = 0; b < kw.length; b++) for (let ch = 0; ch < c; ch++) kernel[((a * kw.length + b) * c + ch) * c + ch] = kh[a]! * kw[b]!;
  const fullShape: KShape = [null, (h + 4) * sh, (wd + 4) * sw, c];
  const up = w.add(
    'Conv2DTranspose',
    `${base}_bilinear`,
    { filters: c, kernel_size: [3 * sh, 3 * sw], strides: [sh, sw], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: false },
    [padded],
    fullShape,
    [{ role: 'kernel', tensor: new Tensor('float32', [3 * sh, 3 * sw, c, c], kernel) }],
  );
  return w.add('Cropping2D', base, { cropping: [[2 * sh, 2 * sh], [2 * sw, 2 * sw]], data_format: 'channels_last' }, [up], shape);
}

/** clip(alpha x + beta, 0, 1) as Rescaling(alpha, beta) and ReLU(max_value=1), named `name`. */
function hardSigmoidLayers(w: Writer, x: KTensor, name: string, alpha: number, beta: number): KTensor {
  const scaled = w.add('Rescaling', `${name}_affine`, { scale: alpha, offset: beta }, [x], x.shape);
  return w.add('ReLU', name, { max_value: 1, negative_slope: 0, threshold: 0 }, [scaled], x.shape);
}

function clipRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  // opset 11+: optional min / max inputs; before: attributes (default -FLT_MAX, FLT_MAX: no bound)
  const bound = (i: 1 | 2, attr: string): number | undefined => {
    const v = n.inputs[i];
    if (!v) return n.attrs[attr] ? attrFloat(n, attr) : undefined;
    const c = w.constant(v);
    if (!c) unsupported(n, `with a ${attr} bound given at run time (input '${v}')`);
    return c.toNumbers()[0];
  };
  const FLT_MAX = 3.4028234663852886e38;
  let lo = bound(1, 'min');
  let hi = bound(2, 'max');
  if (lo !== undefined && lo <= -FLT_MAX) lo = undefined;
  if (hi !== undefined && hi >= FLT_MAX) hi = undefined;
  if (lo === undefined && hi === undefined) return [x];
  if (lo !== 0) unsupported(n, `with bounds ${lo ?? '-inf'}, ${hi ?? 'inf'} (only ReLU-style clip(0, max))`);
  const y = w.add('ReLU', n.name || n.outputs[0]!, { ...(hi === undefined ? {} : { max_value: hi }), negative_slope: 0, threshold: 0 }, [x], x.shape);
  y.producer = 'Clip:nonneg';
  return [y];
}

function preluRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const slope = w.constant(n.inputs[1]!);
  if (!slope) unsupported(n, 'with a computed slope');
  // one slope for every element: LeakyReLU(alpha), the same x < 0 ? αx : x
  if (slope.size === 1) return [w.add('LeakyReLU', baseName(w, n), w.options.keras3 ? { negative_slope: slope.toNumbers()[0]! } : { alpha: slope.toNumbers()[0]! }, [x], x.shape)];
  // Keras' alpha has the input's shape without the batch, 1 on the shared axes
  const dims = x.shape.slice(1);
  if (slope.rank > dims.length) unsupported(n, `with slope shape [${slope.shape.join(', ')}]`);
  const alphaShape = [...new Array<number>(dims.length - slope.rank).fill(1), ...(slope.shape as number[])];
  const shared: number[] = [];
  alphaShape.forEach((d, i) => {
    if (d === 1 && dims[i] !== 1) shared.push(i + 1);
    else if (d !== dims[i]) unsupported(n, `with slope shape [${slope.shape.join(', ')}]`);
  });
  return [w.add('PReLU', baseName(w, n), { shared_axes: shared }, [x], x.shape, [{ role: 'alpha', tensor: slope.reshape(alphaShape) }])];
}

/**
 * GELU: exact (erf) as Keras' 'gelu' activation (tf.keras 2 and Keras 3 alike: approximate=False;
 * an activation is serialised by name only, so approximate=True cannot be said in a config). The
 * tanh form as its arithmetic: x · (0.5 + 0.5 · tanh(√(2/π) · (x + 0.044715 · x·x·x))).
 */
function geluRow(w: Writer, n: Node): KTensor[] {
  const approximate = attrString(n, 'approximate', 'none');
  if (approximate === 'none') return [activationLayer(w, n, 'gelu')];
  if (approximate !== 'tanh') unsupported(n, `with approximate '${approximate}'`);
  const x = w.input(n, 0);
  const base = n.name || n.outputs[0]!;
  const square = w.add('Multiply', `${base}_square`, {}, distinct(w, n, [x, x]), x.shape);
  const cube = w.add('Multiply', `${base}_cube`, {}, [x, square], x.shape);
  const inner = w.add('Add', `${base}_inner`, {}, [x, w.add('Rescaling', `${base}_cube_scaled`, { scale: 0.044715, offset: 0 }, [cube], x.shape)], x.shape);
  const t = w.add('Activation', `${base}_tanh`, { activation: 'tanh' }, [w.add('Rescaling', `${base}_inner_scaled`, { scale: Math.sqrt(2 / Math.PI), offset: 0 }, [inner], x.shape)], x.shape);
  return [w.add('Multiply', base, {}, [x, w.add('Rescaling', `${base}_half`, { scale: 0.5, offset: 0.5 }, [t], x.shape)], x.shape)];
}

function act(name: string): Row {
  return (w, n) => {
    const y = activationLayer(w, n, name);
    if (name === 'relu' || name === 'sigmoid' || name === 'softmax') y.producer = name === 'relu' ? 'Relu' : name === 'sigmoid' ? 'Sigmoid' : 'Softmax';
    return [y];
  };
}

const alias: Row = (w, n) => [w.input(n, 0)];

const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;

/**
 * Dropout at inference is the identity. In training mode (opset 12+: a training_mode input that
 * is not a constant false; before opset 7: is_test 0) it draws a random mask, which a Keras model
 * does not: refused, as is the mask output.
 */
function dropoutRow(w: Writer, n: Node): KTensor[] {
  const mask = n.outputs[1];
  if (mask && ((w.consumers.get(mask)?.length ?? 0) > 0 || w.graph.outputs.some((o) => o.name === mask))) unsupported(n, 'mask output');
  const training = n.inputs[2];
  if (training) {
    const t = w.constant(training);
    const ratio = n.inputs[1] ? w.constant(n.inputs[1]) : undefined;
    const zeroRatio = !!ratio && ratio.toNumbers().every((r) => r === 0);
    if (!t) unsupported(n, `with a training_mode input ('${training}') that is not a constant (training mode draws a random mask)`);
    if (t.toNumbers().some((v) => v !== 0) && !zeroRatio) unsupported(n, 'in training mode (a random mask)');
  }
  if (n.attrs.is_test && attrInt(n, 'is_test', 1) === 0) unsupported(n, 'in training mode (is_test 0: a random mask)');
  return [w.input(n, 0)];
}

/**
 * Gather of constant indices on the channel axis (a channel shuffle after the layout pass): a
 * Dense layer whose kernel is the 0/1 selection matrix. Exact: each output is one input times 1.
 */
/**
 * Rows of a constant [V, D] table picked by run-time ids (an nn.Embedding exported to ONNX, or a
 * Keras Embedding read back): an Embedding layer, which casts its ids to int32 itself. Keras and
 * TF.js take ids in [0, V) only; ONNX's negative ids from the end have no Keras counterpart.
 */
function embeddingRow(w: Writer, n: Node, table: Tensor): KTensor[] {
  let axis = attrInt(n, 'axis', 0);
  if (axis < 0) axis += table.rank;
  if (table.rank !== 2 || axis !== 0) unsupported(n, `of a constant rank-${table.rank} table on axis ${axis} (Keras' Embedding picks rows of a [vocabulary, features] table)`);
  if (!isFloatDType(table.dtype)) unsupported(n, `of a constant ${table.dtype} table`);
  const ids = w.input(n, 1);
  const [vocabulary, features] = table.shape as [number, number];
  const weights = table.dtype === 'float32' ? table : new Tensor('float32', table.shape, table.toFloat32());
  return [w.add('Embedding', n.name || n.outputs[0]!, { input_dim: vocabulary, output_dim: features, mask_zero: false }, [ids], [...ids.shape, features], [{ role: 'embeddings', tensor: weights }])];
}

/**
 * Cast of run-time values to an integer type that only an Embedding reads (Gather of a constant
 * table by them): the layer casts its ids itself, so the Cast is no layer. Others: no Keras layer.
 */
function castRow(w: Writer, n: Node): KTensor[] {
  const to = attrInt(n, 'to', 0);
  // TensorProto types int8..int64, uint8..uint64
  const integer = [2, 3, 4, 5, 6, 7, 12, 13].includes(to);
  const readers = w.consumers.get(n.outputs[0]!) ?? [];
  const embedding = (r: Node) => !r.domain && r.opType === 'Gather' && r.inputs[1] === n.outputs[0] && r.inputs[0] !== n.outputs[0] && w.isConstant(r.inputs[0]!);
  if (!integer || !readers.length || !readers.every(embedding) || w.graph.outputs.some((o) => o.name === n.outputs[0])) unsupported(n, 'other than of ids an Embedding reads');
  return [w.input(n, 0)];
}

function gatherRow(w: Writer, n: Node): KTensor[] {
  const table = w.constant(n.inputs[0]!);
  if (table) return embeddingRow(w, n, table);
  const x = w.input(n, 0);
  const r = x.shape.length;
  let axis = attrInt(n, 'axis', 0);
  if (axis < 0) axis += r;
  const step = timeStepGather(w, n, x);
  if (step) return [step];
  if (x.timeMajor) unsupported(n, 'on the batch axis of a time-major tensor');
  const idx = w.constant(n.inputs[1]!);
  if (!idx || idx.rank !== 1) {
    refuseConvLstmStep(w, n);
    unsupported(n, 'with computed or non-1-D indices');
  }
  if (axis !== r - 1) unsupported(n, 'on an axis other than the last');
  const c = x.shape[axis];
  if (axis === 0) unsupported(n, 'on the batch axis');
  if (typeof c !== 'number') unsupported(n, 'on an axis of unknown size');
  const sel = idx.toNumbers().map((i) => (i < 0 ? i + c : i));
  if (sel.some((i) => i < 0 || i >= c)) unsupported(n, 'with indices out of range');
  const k = new Float32Array(c * sel.length);
  sel.forEach((i, j) => (k[i * sel.length + j] = 1));
  return [w.add('Dense', n.name || n.outputs[0]!, { units: sel.length, activation: 'linear', use_bias: false }, [x], [...x.shape.slice(0, -1), sel.length], [{ role: 'kernel', tensor: new Tensor('float32', [c, sel.length], k) }])];
}

/**
 * Softmax (a Softmax layer) / LogSoftmax (the 'log_softmax' activation, TF.js and Keras 3; the .h5
 * writer refuses it) along the last axis; another axis between two Permutes, as TF.js computes
 * either on the last axis only.
 */
function softmaxRow(kind: 'softmax' | 'log_softmax'): Row {
  const layer = (w: Writer, base: string, x: KTensor, shape: KShape): KTensor =>
    kind === 'softmax' ? w.add('Softmax', base, { axis: -1 }, [x], shape) : w.add('Activation', base, { activation: 'log_softmax' }, [x], shape);
  return (w, n) => {
    const x = w.input(n, 0);
    // before opset 13 (Log)Softmax is one softmax over all axes from `axis` on (default 1), not along one axis
    const early = (w.graph.opsets[''] ?? w.graph.opsets['ai.onnx'] ?? 17) < 13;
    let axis = attrInt(n, 'axis', early ? 1 : -1);
    const r = x.shape.length;
    if (early && (axis < 0 ? axis + r : axis) !== r - 1) {
      // over axes a.. whose dims are all 1 but one (N x 1000 x 1 x 1): a softmax along that one
      const from = axis < 0 ? axis + r : axis;
      const wide = x.shape.map((d, i) => (i >= from && d !== 1 ? i : -1)).filter((i) => i >= 0);
      if (wide.length > 1 || wide.some((i) => x.shape[i] === null)) unsupported(n, `over the flattened axes ${axis}.. of a rank-${r} input (opset < 13)`);
      axis = wide[0] ?? r - 1;
      if (axis < r - 1 && x.shape.slice(1).every((d) => d !== null)) {
        // only unit dims after it: a softmax along the last axis between two Reshapes (TF.js takes no other)
        const base = n.name || n.outputs[0]!;
        const inner: KShape = x.shape.slice(0, axis + 1);
        const flat = w.add('Reshape', `${base}_flat`, { target_shape: inner.slice(1) as number[] }, [x], inner);
        const sm = layer(w, `${base}_last`, flat, inner);
        if (kind === 'softmax') sm.producer = 'Softmax';
        return [w.add('Reshape', base, { target_shape: x.shape.slice(1) as number[] }, [sm], x.shape)];
      }
    }
    if (axis < 0) axis += r;
    if (axis === 0) unsupported(n, 'along the batch axis');
    if (axis !== r - 1) {
      // along another axis: between two Permutes that swap it with the last (TF.js runs softmax on the last axis only)
      const base = n.name || n.outputs[0]!;
      const dims = Array.from({ length: r - 1 }, (_, i) => (i + 1 === axis ? r - 1 : i + 1 === r - 1 ? axis : i + 1));
      const swapped: KShape = [null, ...dims.map((d) => x.shape[d] ?? null)];
      const t = w.add('Permute', `${base}_to_last`, { dims }, [x], swapped);
      const sm = layer(w, `${base}_last`, t, swapped);
      return [w.add('Permute', base, { dims }, [sm], x.shape)];
    }
    const y = layer(w, n.name || n.outputs[0]!, x, x.shape);
    if (kind === 'softmax') y.producer = 'Softmax';
    return [y];
  };
}

export const GRAPH_TO_KERAS: Readonly<Record<string, Row>> = {
  Cast: castRow,
  'nnport.Conv': convRow,
  'nnport.ConvTranspose': convTransposeRow,
  'nnport.MaxPool': poolRow('MaxPooling'),
  'nnport.AveragePool': poolRow('AveragePooling'),
  'nnport.GlobalAveragePool': (w, n) => globalPool(w, n, 'GlobalAveragePooling', true),
  'nnport.GlobalMaxPool': (w, n) => globalPool(w, n, 'GlobalMaxPooling', true),
  'nnport.BatchNormalization': batchNormRow,
  'nnport.InstanceNormalization': instanceNormRow,
  'nnport.GroupNormalization': instanceNormRow,
  'nnport.DepthToSpace': spaceDepthRow,
  'nnport.SpaceToDepth': spaceDepthRow,
  'nnport.Resize': resizeRow,
  BatchNormalization: batchNormRow,
  LayerNormalization: layerNormRow,
  ReduceMean: reduceRow('mean'),
  ReduceMax: reduceRow('max'),
  ReduceMin: reduceRow('min'),
  ReduceSum: reduceRow('sum'),
  Neg: (w, n) => {
    const x = w.input(n, 0);
    return [w.add('Rescaling', n.name || n.outputs[0]!, { scale: -1, offset: 0 }, [x], x.shape)];
  },
  Pow: (w, n) => {
    // x^2 is x·x (the same rounding), x^1 is x; other exponents have no Keras layer
    const e = n.inputs[1] ? w.constant(n.inputs[1]) : undefined;
    const v = e && e.size === 1 ? e.toNumbers()[0] : undefined;
    if (v === 1) return [w.input(n, 0)];
    if (v !== 2) unsupported(n, e ? `with exponent ${e.size === 1 ? v : `[${e.shape.join(', ')}]`} (only 1 and 2)` : `with an exponent given at run time (input '${n.inputs[1]}')`);
    const x = w.input(n, 0);
    return [w.add('Multiply', n.name || n.outputs[0]!, {}, distinct(w, n, [x, x]), x.shape)];
  },
  Gemm: denseRow,
  MatMul: denseRow,
  Add: mergeRow('Add'),
  Sum: mergeRow('Add'),
  Sub: mergeRow('Subtract'),
  Mul: mergeRow('Multiply'),
  Div: divRow,
  ThresholdedRelu: (w, n) => {
    // x > alpha ? x : 0; Keras 3 has no ThresholdedReLU layer (its ReLU(threshold) keeps x = alpha)
    if (w.options.keras3) unsupported(n, 'in Keras 3 (no ThresholdedReLU layer)');
    const x = w.input(n, 0);
    return [w.add('ThresholdedReLU', n.name || n.outputs[0]!, { theta: attrFloat(n, 'alpha', 1) }, [x], x.shape)];
  },
  Max: mergeRow('Maximum'),
  Min: mergeRow('Minimum'),
  Mean: mergeRow('Average'),
  Concat: concatRow,
  Flatten: flattenRow,
  Reshape: reshapeRow,
  Tile: tileRow,
  Unsqueeze: unitAxesRow,
  Squeeze: unitAxesRow,
  Transpose: transposeRow,
  Pad: padRow,
  Slice: sliceRow,
  Split: splitRow,
  Resize: resizeRow,
  Upsample: resizeRow,
  Identity: alias,
  Gather: gatherRow,
  Dropout: dropoutRow,
  Relu: act('relu'),
  Sigmoid: act('sigmoid'),
  Tanh: act('tanh'),
  Softplus: act('softplus'),
  Softsign: act('softsign'),
  Selu: (w, n) => {
    // Keras' selu has SELU's fixed constants; ONNX Selu takes any (float32 attributes: compare so)
    const near = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.abs(b);
    const alpha = attrFloat(n, 'alpha', SELU_ALPHA);
    const gamma = attrFloat(n, 'gamma', SELU_GAMMA);
    if (!near(alpha, SELU_ALPHA) || !near(gamma, SELU_GAMMA)) unsupported(n, `with alpha ${alpha}, gamma ${gamma} (Keras' selu has alpha ${SELU_ALPHA}, gamma ${SELU_GAMMA})`);
    return [activationLayer(w, n, 'selu')];
  },
  Exp: act('exponential'),
  Clip: clipRow,
  LeakyRelu: (w, n) => {
    const x = w.input(n, 0);
    const alpha = attrFloat(n, 'alpha', 0.01);
    return [w.add('LeakyReLU', n.name || n.outputs[0]!, w.options.keras3 ? { negative_slope: alpha } : { alpha }, [x], x.shape)];
  },
  Elu: (w, n) => {
    const x = w.input(n, 0);
    return [w.add('ELU', n.name || n.outputs[0]!, { alpha: attrFloat(n, 'alpha', 1) }, [x], x.shape)];
  },
  HardSigmoid: (w, n) => {
    // Keras 2 / TF.js hard_sigmoid is clip(0.2 x + 0.5, 0, 1); Keras 3's is relu6(x + 3) / 6 =
    // clip(x / 6 + 0.5, 0, 1), PyTorch's nn.Hardsigmoid (the attributes are float32: compare so).
    // Another slope: Rescaling(alpha, beta) then ReLU(max_value=1), the same clip(alpha x + beta, 0, 1)
    const slope = w.options.keras3 ? 1 / 6 : 0.2;
    const near = (a: number, b: number) => Math.abs(a - b) <= 1e-7 * Math.max(1, Math.abs(b));
    const alpha = attrFloat(n, 'alpha', 0.2);
    const beta = attrFloat(n, 'beta', 0.5);
    if (near(alpha, slope) && near(beta, 0.5)) return [activationLayer(w, n, 'hard_sigmoid')];
    return [hardSigmoidLayers(w, w.input(n, 0), n.name || n.outputs[0]!, alpha, beta)];
  },
  HardSwish: (w, n) => {
    // x * relu6(x + 3) / 6: Keras 3's hard_silu; Keras 2 and TF.js have no such activation, so
    // x times its hard sigmoid at (1/6, 1/2) from Rescaling, ReLU(max_value=1) and Multiply
    if (w.options.keras3) return [activationLayer(w, n, 'hard_silu')];
    const x = w.input(n, 0);
    const base = n.name || n.outputs[0]!;
    const gate = hardSigmoidLayers(w, x, `${base}_gate`, 1 / 6, 0.5);
    return [w.add('Multiply', base, {}, [x, gate], x.shape)];
  },
  Gelu: geluRow,
  Softmax: softmaxRow('softmax'),
  LogSoftmax: softmaxRow('log_softmax'),
  PRelu: preluRow,
  'com.microsoft.Attention': attentionRow,
  LSTM: recurrentRow,
  GRU: recurrentRow,
  RNN: recurrentRow,
};

/** Whether the graph has a recurrent op (time-major tensors exist only around one). */
function hasRecurrentOp(w: Writer): boolean {
  return w.graph.nodes.some((n) => !n.domain && RECURRENT_OPS.has(n.opType));
}

/** Build Keras layers from a channels-last graph. Throws UnsupportedError naming the op and node. */
export function graphToKeras(input: Graph, options: FromGraphOptions = {}): KerasModelOut {
  // Keras' LSTM cannot bound the cell state: TFLite's cell_clip, unrolled
  const unclipped = unrollCellClipped(input, 'a Keras model');
  // a recurrent HardSigmoid at another (alpha, beta) than the target's hard_sigmoid (old Keras' gates
  // in Keras 3, whose hard_sigmoid is x/6 + 0.5): the weights feeding it scaled (recurrent-hard-sigmoid.ts)
  // LayerNorm and GELU spelled out by an exporter (opset < 17 / < 20): Keras' LayerNormalization layer and 'gelu' activation
  // (the fusion passes read constants as initializers; the Writer takes either)
  const graph = fuseActivationPatterns(fuseLayerNorm(constantNodesToInitializers(hardSigmoidAt(unclipped, options.keras3 ? 1 / 6 : 0.2, 0.5), { keepGraphOutputs: true })).graph);
  if (unclipped === input) return buildKeras(graph, options);
  try {
    return buildKeras(graph, options);
  } catch (e) {
    // the unrolled steps' ops are what failed: say why the LSTM was unrolled
    if (!(e instanceof UnsupportedError)) throw e;
    const clipped = input.nodes.filter((n) => !n.domain && n.opType === 'LSTM' && n.attrs.cell_clip).map((n) => `'${n.name || n.outputs[0]}'`);
    throw new UnsupportedError(`LSTM with cell_clip (TFLite's bound on the cell state, which Keras' LSTM lacks) in a Keras model`, `${clipped.join(', ')}: unrolled, it is not a Keras model either (${e.message.replace(/^unsupported: /, '')})`);
  }
}

const KERAS_INPUT_DTYPES = new Set(['int32', 'int64', 'bool']);

function buildKeras(graph: Graph, options: FromGraphOptions): KerasModelOut {
  const w = new Writer(graph, options);
  const inputs: [string, number, number][] = [];
  // a time-major [T, B, F] input read by a recurrent op: Keras takes it batch-major [B, T, F]
  const timeMajor = timeMajorInputs(graph);
  const integerInputs: ValueInfo[] = [];
  for (const v of runtimeInputs(graph)) {
    if (!v.shape) throw new ShapeError(`input '${v.name}' has no known rank; Keras needs the input shape`);
    if (v.dtype !== 'float32' && isFloatDType(v.dtype)) throw new UnsupportedError(`a ${v.dtype} input in a Keras model`, `input '${v.name}'`);
    if (!isFloatDType(v.dtype) && !KERAS_INPUT_DTYPES.has(v.dtype)) integerInputs.push(v);
    const dims = timeMajor.has(v.name) ? [v.shape[1]!, v.shape[0]!, ...v.shape.slice(2)] : v.shape;
    const shape: KShape = dims.map((d, i) => (i === 0 ? null : typeof d === 'number' ? d : null));
    const name = w.name(v.name);
    w.layers.push({ className: 'InputLayer', name, config: { batch_input_shape: shape, dtype: v.dtype === 'int64' ? 'int32' : v.dtype, sparse: false, name }, inputs: [], weights: [], shape });
    w.values.set(v.name, { ref: [name, 0, 0], shape, ...(timeMajor.has(v.name) ? { timeMajor: true } : {}) });
    inputs.push([name, 0, 0]);
  }
  findInitialStates(w);
  // ConvLSTM layers the Keras reader unrolled: their steps are skipped, the layer emitted at them
  const convLstms = findConvLstms(w);
  // Embedding(mask_zero) / Masking masks and the masked LSTM / GRU / SimpleRNN steps the reader unrolled
  const masked = findMasked(w);
  // shapes computed at run time for folding / unfolding time steps (TimeDistributed): no layers
  skipRunTimeShapes(w);
  for (const n of topologicalOrder(graph)) {
    if (w.skip.has(n)) {
      const plan = convLstms.get(n);
      if (plan) emitConvLstm(w, plan);
      const m = masked.plans.get(n);
      if (m) emitMasked(w, m);
      continue;
    }
    if (n.inputs.some((i) => i && w.recurrent.has(i))) {
      recurrentReader(w, n);
      continue;
    }
    if (n.opType === 'Constant' && !n.domain) {
      w.constants.set(n.outputs[0]!, constantValue(n));
      continue;
    }
    // (Dropout at inference, in opset 12+ without a training_mode input)
    if ((n.opType === 'Identity' || (n.opType === 'Dropout' && !n.inputs[2] && attrInt(n, 'is_test', 1) !== 0)) && w.isConstant(n.inputs[0]!)) {
      w.constants.set(n.outputs[0]!, w.constant(n.inputs[0]!)!);
      continue;
    }
    if (!n.domain && NCHW_OPS.has(n.opType)) {
      // the layout pass leaves a conv whose weights are given at run time in NCHW: Keras layers hold theirs
      const computed = n.opType === 'Conv' || n.opType === 'ConvTranspose' ? n.inputs.slice(1).find((i) => i && !w.isConstant(i)) : undefined;
      if (computed) unsupported(n, `with weights given at run time (input '${computed}')`);
      throw new UnsupportedError(`NCHW ${n.opType} in a Keras model`, `${nodeLabel(n)}: the graph is channels-first; convert() runs the layout pass first (toChannelsLast)`);
    }
    const key = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    const row = GRAPH_TO_KERAS[key];
    if (!row) unsupported(n);
    const outs = row(w, n);
    // per-position ops keep a time-major tensor time-major
    if (TIME_MAJOR_PASS.has(n.opType) && !n.domain && w.values.get(n.inputs[0]!)?.timeMajor) for (const o of outs) o.timeMajor = true;
    n.outputs.forEach((o, i) => {
      if (o && outs[i]) w.values.set(o, outs[i]!);
    });
  }
  // TF.js has float32, int32 and bool tensors only (an int64 input is declared int32); an 8/16-bit
  // or unsigned one would compute in another type (ONNX's uint8 Add wraps around). Checked after
  // the layers, so that an int8 graph's QuantizeLinear / DequantizeLinear is named first (--dequantize)
  for (const v of integerInputs) throw new UnsupportedError(`a${/^int/.test(v.dtype) ? 'n' : ''} ${v.dtype} input in a Keras model (Keras / TF.js layers take float32, int32 or bool)`, `input '${v.name}'`);
  const taken = new Set<string>();
  const outputs = graph.outputs.map((o) => {
    const r = w.recurrent.get(o.name);
    if (r) throw new UnsupportedError(`graph output '${o.name}', ${r.kind === 'seq' ? `the sequence Y as [${[...r.axes].join(', ')}]` : 'the last state Y_h'} of ${nodeLabel(r.op)}, in a Keras model`, 'Keras recurrent layers give [batch, time, directions·hidden] sequences');
    const t = w.values.get(o.name);
    if (!t && w.isConstant(o.name)) throw new UnsupportedError(`a constant graph output in a Keras model`, `output '${o.name}' depends on no input`);
    if (!t) throw new GraphError(`graph output '${o.name}' has no Keras layer`);
    if (t.folded !== undefined) throw new UnsupportedError(`graph output '${o.name}' with its time steps folded into the batch, in a Keras model`, 'Keras layers keep the batch axis: the output must be unfolded to [batch, time, ...]');
    // two outputs of one Keras tensor (a recurrent layer's last output and its state h): a model
    // lists each tensor once (TF.js predicts null for the second), so the second is a linear Activation of it
    const key = t.ref.join('/');
    if (!taken.has(key)) {
      taken.add(key);
      return t.ref;
    }
    return w.add('Activation', `${o.name}_copy`, { activation: 'linear' }, [t], t.shape).ref;
  });
  // drop layers nothing reads (a Reshape made moot by a following Flatten)
  const byName = new Map(w.layers.map((l) => [l.name, l]));
  const live = new Set<string>();
  const stack = [...outputs.map((r) => r[0]), ...inputs.map((r) => r[0])];
  while (stack.length) {
    const l = stack.pop()!;
    if (live.has(l)) continue;
    live.add(l);
    const layer = byName.get(l);
    for (const r of [...(layer?.inputs ?? []), ...Object.values(layer?.kwargs ?? {})]) stack.push(r[0]);
  }
  const layers = w.layers.filter((l) => live.has(l.name));
  finishMasks(w, masked, layers);
  return { name: layerNameFrom(graph.name || 'model'), layers, inputs, outputs };
}
