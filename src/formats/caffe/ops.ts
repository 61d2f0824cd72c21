// Caffe layer types -> IR (ONNX ops, NCHW), one row per type. Each row computes its tops' shapes
// the way Caffe's Reshape() does, so an inspect shows Caffe's own sizes and every constant
// (broadcast shapes, crop windows) is exact. Where an ONNX op rounds or divides differently
// from Caffe (pooling's output size and average divisor), the row builds Caffe's arithmetic
// from ONNX ops that express it exactly.
import type { Attr } from '../../ir/graph.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import type { CaffeLayer } from './net.js';
import { bool, has, num, nums, param, type Message } from './schema.js';
import { detectionOutput, priorBox } from './ssd.js';

/** An IR value with the shape Caffe gives it. */
export interface Blob {
  name: string;
  shape: number[];
}

/** What a row sees: the layer, its bottoms, and helpers that add IR nodes and weights. */
export interface LayerContext {
  layer: CaffeLayer;
  bottoms: Blob[];
  /** the layer's parameter message of that name (an empty one when absent, so defaults apply) */
  p(field: string): Message;
  /** IR name for top i (fresh and unique; named after the blob, or the layer when in place) */
  topName(i: number): string;
  /** a fresh IR name for an intermediate value of this layer */
  temp(suffix: string): string;
  node(opType: string, inputs: string[], attrs?: Record<string, Attr>, output?: string): string;
  nodeOutputs(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, Attr>): string[];
  /** a constant tensor (initializer) named after this layer */
  constant(suffix: string, t: Tensor): string;
  /** weight blob i, checked to hold exactly shapeSize(shape) values, as that shape */
  weight(i: number, shape: number[], role: string): string;
  /** the raw values of weight blob i (for the layers that fold blobs, e.g. BatchNorm) */
  weightValues(i: number, shape: number[], role: string): Float32Array | undefined;
  /** how many blobs the layer has in the weights (undefined: no weights were given) */
  blobCount(): number | undefined;
  setTop(i: number, name: string, shape: number[]): void;
  /** before computing a constant the file does not hold (PriorBox): counts `bytes` against the file's read budget */
  take(bytes: number, what: string): void;
  fail(message: string): never;
  /** a real Caffe feature nnport does not run, naming the layer and file */
  unsupported(feature: string): never;
}

type Row = (c: LayerContext) => void;

const int = (value: number): Attr => ({ type: 'int', value });
const float = (value: number): Attr => ({ type: 'float', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });

function i64(values: number[]): Tensor {
  return Tensor.int64([values.length], values);
}

function scalarF(v: number): Tensor {
  return Tensor.float32([], [v]);
}

function canonAxis(c: LayerContext, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) c.fail(`${what} ${axis} is out of range for a bottom of rank ${rank}`);
  return a;
}

function one(c: LayerContext): Blob {
  if (c.bottoms.length !== 1) c.fail(`takes 1 bottom, has ${c.bottoms.length}`);
  return c.bottoms[0]!;
}

function convolution(transposed: boolean): Row {
  return (c) => {
    const x = one(c);
    const p = c.p('convolution_param');
    if (num(p, 'axis') !== 1) c.unsupported('Caffe Convolution axis other than 1');
    const spatial = x.shape.length - 2;
    if (spatial < 1) c.fail(`needs a bottom with spatial axes, got [${x.shape.join(', ')}]`);
    const w = windowParams(c, p, spatial);
    const group = num(p, 'group');
    const out = num(p, 'num_output');
    const cin = x.shape[1]!;
    if (out <= 0) c.fail('num_output must be positive');
    if (group <= 0 || cin % group || out % group) c.fail(`group ${group} must divide the input channels (${cin}) and num_output (${out})`);
    const wShape = transposed ? [cin, out / group, ...w.kernel] : [out, cin / group, ...w.kernel];
    const inputs = [x.name, c.weight(0, wShape, 'weight')];
    if (bool(p, 'bias_term')) inputs.push(c.weight(1, [out], 'bias'));
    const spatialOut = x.shape.slice(2).map((n, i) => {
      const ext = w.dilation[i]! * (w.kernel[i]! - 1) + 1;
      return transposed ? w.stride[i]! * (n - 1) + ext - 2 * w.pad[i]! : Math.floor((n + 2 * w.pad[i]! - ext) / w.stride[i]!) + 1;
    });
    if (spatialOut.some((n) => n <= 0)) c.fail(`output would be empty ([${spatialOut.join(', ')}]) for a bottom of [${x.shape.join(', ')}]`);
    const attrs = { kernel_shape: ints(w.kernel), pads: ints([...w.pad, ...w.pad]), strides: ints(w.stride), dilations: ints(w.dilation), group: int(group) };
    c.setTop(0, c.node(transposed ? 'ConvTranspose' : 'Conv', inputs, attrs, c.topName(0)), [x.shape[0]!, out, ...spatialOut]);
  };
}

function windowParams(c: LayerContext, p: Message, spatial: number) {
  const kernel = listOrHW(c, p, 'kernel_size', 'kernel_h', 'kernel_w', spatial, -1);
  const pad = listOrHW(c, p, 'pad', 'pad_h', 'pad_w', spatial, 0);
  const stride = listOrHW(c, p, 'stride', 'stride_h', 'stride_w', spatial, 1);
  const dilation = listOrHW(c, p, 'dilation', undefined, undefined, spatial, 1);
  for (const k of kernel) if (k <= 0) c.fail(`kernel size ${k} must be positive`);
  for (const s of stride) if (s <= 0) c.fail(`stride ${s} must be positive`);
  for (const d of dilation) if (d <= 0) c.fail(`dilation ${d} must be positive`);
  return { kernel, pad, stride, dilation };
}

function listOrHW(c: LayerContext, p: Message, list: string, h: string | undefined, w: string | undefined, spatial: number, fallback: number): number[] {
  if (h && w && (has(p, h) || has(p, w))) {
    if (spatial !== 2) c.fail(`${h}/${w} are for 2-D layers only`);
    if (has(p, list)) c.fail(`give either ${list} or ${h}/${w}, not both`);
    if (!has(p, h) || !has(p, w)) {
      if (fallback < 0) c.fail(`give both ${h} and ${w}`);
    }
    return [has(p, h) ? num(p, h) : fallback, has(p, w) ? num(p, w) : fallback];
  }
  const v = has(p, list) ? (Array.isArray(p[list]) || ArrayBuffer.isView(p[list]) ? nums(p, list) : [num(p, list)]) : [];
  if (!v.length) {
    if (fallback < 0) c.fail(`${list} is missing`);
    return new Array<number>(spatial).fill(fallback);
  }
  if (v.length === 1) return new Array<number>(spatial).fill(v[0]!);
  if (v.length !== spatial) c.fail(`${list} has ${v.length} values for ${spatial} spatial axes`);
  return v;
}

/**
 * Caffe's pooling output size: rounded up (classic Caffe) or down (round_mode FLOOR), then
 * one less when the last window would start inside the bottom/right padding. Caffe makes that
 * check on both axes as soon as either has padding (`anyPad`).
 */
export function caffePooledSize(n: number, k: number, s: number, pad: number, ceil: boolean, anyPad = pad > 0): number {
  let out = (ceil ? Math.ceil((n + 2 * pad - k) / s) : Math.floor((n + 2 * pad - k) / s)) + 1;
  if (anyPad && (out - 1) * s >= n + pad) out--;
  return out;
}

const pooling: Row = (c) => {
  const x = one(c);
  const p = c.p('pooling_param');
  const method = num(p, 'pool'); // MAX 0, AVE 1, STOCHASTIC 2
  if (method === 2) c.unsupported('Caffe Pooling STOCHASTIC');
  if (x.shape.length !== 4) c.fail(`Pooling needs a 4-D bottom, got [${x.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (bool(p, 'global_pooling')) {
    if (has(p, 'kernel_size') || has(p, 'kernel_h')) c.fail('global_pooling takes no kernel size');
    const op = method === 0 ? 'GlobalMaxPool' : 'GlobalAveragePool';
    c.setTop(0, c.node(op, [x.name], {}, c.topName(0)), [N, C, 1, 1]);
    return;
  }
  const w = windowParams(c, p, 2);
  const ceil = num(p, 'round_mode') === 0;
  const sizes = [H, W];
  for (let i = 0; i < 2; i++) if (w.pad[i]! >= w.kernel[i]!) c.fail(`pad ${w.pad[i]} must be smaller than the kernel ${w.kernel[i]}`);
  const anyPad = w.pad.some((p) => p > 0);
  const out = sizes.map((n, i) => caffePooledSize(n, w.kernel[i]!, w.stride[i]!, w.pad[i]!, ceil, anyPad));
  if (out.some((o) => o <= 0)) c.fail(`output would be empty for a bottom of [${x.shape.join(', ')}]`);
  // The last window must still hold a pixel of the (padded) bottom, or Caffe pools nothing there.
  for (let i = 0; i < 2; i++) {
    if ((out[i]! - 1) * w.stride[i]! - w.pad[i]! >= sizes[i]!) c.unsupported('Caffe Pooling whose last window lies outside the bottom');
  }
  let src = x.name;
  let lead: number[];
  let onnxPads: number[];
  let countIncludePad = 0;
  if (method === 0) {
    // MAX ignores padding in both frameworks: pad the end as far as Caffe's last window reaches.
    lead = w.pad;
    onnxPads = sizes.map((n, i) => Math.max(0, (out[i]! - 1) * w.stride[i]! + w.kernel[i]! - n - w.pad[i]!));
  } else {
    // AVE divides by the window clipped to the padded bottom [-pad, n + pad), not to the bottom
    // (ONNX count_include_pad=0) nor to ceil mode's extended window (count_include_pad=1):
    // zero-pad explicitly, then average over what lies inside that padded tensor.
    lead = [0, 0];
    if (w.pad[0] || w.pad[1]) {
      src = c.node('Pad', [x.name, c.constant('pads', i64([0, 0, w.pad[0]!, w.pad[1]!, 0, 0, w.pad[0]!, w.pad[1]!]))], { mode: { type: 'string', value: 'constant' } }, c.temp('padded'));
    }
    onnxPads = sizes.map((n, i) => Math.max(0, (out[i]! - 1) * w.stride[i]! + w.kernel[i]! - (n + 2 * w.pad[i]!)));
    countIncludePad = 0;
  }
  const inner = sizes.map((n, i) => (method === 0 ? n + lead[i]! : n + 2 * w.pad[i]!));
  const onnxOut = inner.map((n, i) => Math.floor((n + onnxPads[i]! - w.kernel[i]!) / w.stride[i]!) + 1);
  const needSlice = onnxOut.some((o, i) => o !== out[i]);
  const attrs: Record<string, Attr> = {
    kernel_shape: ints(w.kernel),
    strides: ints(w.stride),
    pads: ints([...lead, ...onnxPads]),
  };
  if (method !== 0) attrs.count_include_pad = int(countIncludePad);
  const pooled = c.node(method === 0 ? 'MaxPool' : 'AveragePool', [src], attrs, needSlice ? c.temp('pooled') : c.topName(0));
  let top = pooled;
  if (needSlice) {
    top = c.node('Slice', [pooled, c.constant('starts', i64([0, 0])), c.constant('ends', i64(out)), c.constant('axes', i64([2, 3]))], {}, c.topName(0));
  }
  c.setTop(0, top, [N, C, out[0]!, out[1]!]);
};

const innerProduct: Row = (c) => {
  const x = one(c);
  const p = c.p('inner_product_param');
  const axis = canonAxis(c, num(p, 'axis'), x.shape.length);
  const n = num(p, 'num_output');
  if (n <= 0) c.fail('num_output must be positive');
  const k = shapeSize(x.shape.slice(axis));
  const transpose = bool(p, 'transpose');
  const bias = bool(p, 'bias_term');
  const lead = x.shape.slice(0, axis);
  if (axis === 1) {
    // Flatten keeps Caffe's C,H,W row order, so the (N, K) weights apply unchanged.
    const flat = x.shape.length === 2 ? x.name : c.node('Flatten', [x.name], { axis: int(1) }, c.temp('flat'));
    const inputs = [flat, c.weight(0, transpose ? [k, n] : [n, k], 'weight')];
    if (bias) inputs.push(c.weight(1, [n], 'bias'));
    c.setTop(0, c.node('Gemm', inputs, { transB: int(transpose ? 0 : 1) }, c.topName(0)), [...lead, n]);
    return;
  }
  const flat = c.node('Reshape', [x.name, c.constant('shape', i64([...lead, k]))], {}, c.temp('flat'));
  let wName: string;
  if (transpose) wName = c.weight(0, [k, n], 'weight');
  else {
    const wv = c.weightValues(0, [n, k], 'weight');
    const t = new Float32Array(n * k);
    if (wv) for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) t[j * n + i] = wv[i * k + j]!;
    wName = wv ? c.constant('weight_t', new Tensor('float32', [k, n], t)) : c.weight(0, [k, n], 'weight_t');
  }
  const mm = c.node('MatMul', [flat, wName], {}, bias ? c.temp('matmul') : c.topName(0));
  const top = bias ? c.node('Add', [mm, c.weight(1, [n], 'bias')], {}, c.topName(0)) : mm;
  c.setTop(0, top, [...lead, n]);
};

function unary(op: string, attrs: (c: LayerContext) => Record<string, Attr> = () => ({})): Row {
  return (c) => {
    const x = one(c);
    c.setTop(0, c.node(op, [x.name], attrs(c), c.topName(0)), x.shape);
  };
}

const relu: Row = (c) => {
  const slope = num(c.p('relu_param'), 'negative_slope');
  const x = one(c);
  const top = slope === 0 ? c.node('Relu', [x.name], {}, c.topName(0)) : c.node('LeakyRelu', [x.name], { alpha: float(slope) }, c.topName(0));
  c.setTop(0, top, x.shape);
};

/** A per-channel vector as a constant that broadcasts over the axes after `axis`. */
function broadcastShape(rank: number, axis: number, dims: number[]): number[] {
  return [...dims, ...new Array<number>(Math.max(0, rank - axis - dims.length)).fill(1)];
}

const prelu: Row = (c) => {
  const x = one(c);
  const shared = bool(c.p('prelu_param'), 'channel_shared');
  const C = x.shape.length > 1 ? x.shape[1]! : 1;
  const slope = c.weight(0, shared ? [1] : broadcastShape(x.shape.length, 1, [C]), 'slope');
  c.setTop(0, c.node('PRelu', [x.name, slope], {}, c.topName(0)), x.shape);
};

/** y = x * a + b with scalar a, b, skipping the identities; `last` names the final value. */
function affine(c: LayerContext, x: string, a: number, b: number, last: string | undefined, tag: string): string {
  let v = x;
  if (a !== 1) v = c.node('Mul', [v, c.constant(`${tag}scale`, scalarF(a))], {}, b === 0 && last ? last : c.temp(`${tag}scaled`));
  if (b !== 0) v = c.node('Add', [v, c.constant(`${tag}shift`, scalarF(b))], {}, last ?? c.temp(`${tag}shifted`));
  return v;
}

const power: Row = (c) => {
  const x = one(c);
  const p = c.p('power_param');
  const pw = num(p, 'power');
  const scaled = affine(c, x.name, num(p, 'scale'), num(p, 'shift'), pw === 1 ? c.topName(0) : undefined, '');
  let top = scaled;
  if (pw !== 1) top = c.node('Pow', [scaled, c.constant('power', scalarF(pw))], {}, c.topName(0));
  else if (scaled === x.name) top = c.node('Identity', [x.name], {}, c.topName(0));
  c.setTop(0, top, x.shape);
};

const exp: Row = (c) => {
  // Caffe: y = base^(shift + scale * x) = base^shift * exp(ln(base) * scale * x)
  const x = one(c);
  const p = c.p('exp_param');
  const base = num(p, 'base');
  if (base !== -1 && base <= 0) c.fail(`base ${base} must be positive (or -1 for e)`);
  const logBase = base === -1 ? 1 : Math.log(base);
  const innerScale = logBase * num(p, 'scale');
  const outerScale = num(p, 'shift') === 0 ? 1 : base === -1 ? Math.exp(num(p, 'shift')) : Math.pow(base, num(p, 'shift'));
  const inner = affine(c, x.name, innerScale, 0, undefined, 'inner_');
  const e = c.node('Exp', [inner], {}, outerScale === 1 ? c.topName(0) : c.temp('exp'));
  const top = outerScale === 1 ? e : c.node('Mul', [e, c.constant('outer_scale', scalarF(outerScale))], {}, c.topName(0));
  c.setTop(0, top, x.shape);
};

const log: Row = (c) => {
  // Caffe: y = log_base(shift + scale * x) = ln(shift + scale * x) / ln(base)
  const x = one(c);
  const p = c.p('log_param');
  const base = num(p, 'base');
  if (base !== -1 && base <= 0) c.fail(`base ${base} must be positive (or -1 for e)`);
  const inner = affine(c, x.name, num(p, 'scale'), num(p, 'shift'), undefined, 'inner_');
  const baseScale = base === -1 ? 1 : 1 / Math.log(base);
  const l = c.node('Log', [inner], {}, baseScale === 1 ? c.topName(0) : c.temp('log'));
  const top = baseScale === 1 ? l : c.node('Mul', [l, c.constant('base_scale', scalarF(baseScale))], {}, c.topName(0));
  c.setTop(0, top, x.shape);
};

const threshold: Row = (c) => {
  const x = one(c);
  const t = num(c.p('threshold_param'), 'threshold');
  const gt = c.node('Greater', [x.name, c.constant('threshold', scalarF(t))], {}, c.temp('greater'));
  c.setTop(0, c.node('Cast', [gt], { to: int(1) }, c.topName(0)), x.shape);
};

const batchNorm: Row = (c) => {
  const x = one(c);
  const p = c.p('batch_norm_param');
  const eps = num(p, 'eps');
  if (x.shape.length < 2) c.fail(`needs a bottom with channels, got [${x.shape.join(', ')}]`);
  const C = x.shape[1]!;
  // In the TEST phase Caffe uses the stored statistics unless told otherwise.
  if (has(p, 'use_global_stats') && !bool(p, 'use_global_stats')) {
    const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
    const mean = c.node('ReduceMean', [x.name], { axes: ints(axes), keepdims: int(1) }, c.temp('batch_mean'));
    const d = c.node('Sub', [x.name, mean], {}, c.temp('centered'));
    const sq = c.node('Mul', [d, d], {}, c.temp('squared'));
    const v = c.node('ReduceMean', [sq], { axes: ints(axes), keepdims: int(1) }, c.temp('batch_var'));
    const ve = c.node('Add', [v, c.constant('eps', scalarF(eps))], {}, c.temp('var_eps'));
    const sd = c.node('Sqrt', [ve], {}, c.temp('std'));
    c.setTop(0, c.node('Div', [d, sd], {}, c.topName(0)), x.shape);
    return;
  }
  const count = c.blobCount();
  if (count !== undefined && count !== 3) c.fail(`has ${count} blobs; Caffe's BatchNorm stores 3 (mean, variance, moving-average factor)`);
  const mean = c.weightValues(0, [C], 'mean');
  const variance = c.weightValues(1, [C], 'variance');
  const factor = c.weightValues(2, [1], 'scale_factor');
  let meanName: string;
  let varName: string;
  if (mean && variance && factor) {
    // The stored statistics are sums scaled by the moving-average factor: divide it out.
    const f = factor[0] === 0 ? 0 : 1 / factor[0]!;
    meanName = c.constant('mean', new Tensor('float32', [C], Float32Array.from(mean, (v) => v * f)));
    varName = c.constant('variance', new Tensor('float32', [C], Float32Array.from(variance, (v) => v * f)));
  } else {
    meanName = c.weight(0, [C], 'mean');
    varName = c.weight(1, [C], 'variance');
    c.weight(2, [1], 'scale_factor');
  }
  const scale = c.constant('unit_scale', Tensor.float32([C], new Float32Array(C).fill(1)));
  const bias = c.constant('zero_bias', Tensor.float32([C]));
  c.setTop(0, c.node('BatchNormalization', [x.name, scale, bias, meanName, varName], { epsilon: float(eps) }, c.topName(0)), x.shape);
};

/** Scale and Bias: a learned (or second-bottom) tensor over axes [axis, axis + num_axes). */
function scaleOrBias(isScale: boolean): Row {
  return (c) => {
    const p = c.p(isScale ? 'scale_param' : 'bias_param');
    if (c.bottoms.length < 1 || c.bottoms.length > 2) c.fail(`takes 1 or 2 bottoms, has ${c.bottoms.length}`);
    const x = c.bottoms[0]!;
    const rank = x.shape.length;
    const fromBottom = c.bottoms.length === 2;
    const other = c.bottoms[1];
    const axis = other && other.shape.length === 0 ? 0 : canonAxis(c, num(p, 'axis'), rank);
    let dims: number[];
    if (fromBottom) dims = other!.shape;
    else {
      const na = num(p, 'num_axes');
      if (na < -1) c.fail(`num_axes ${na} must be -1 or more`);
      const end = na === -1 ? rank : axis + na;
      if (end > rank) c.fail(`axis ${axis} + num_axes ${na} exceeds the bottom's rank ${rank}`);
      dims = x.shape.slice(axis, end);
    }
    for (let i = 0; i < dims.length; i++) if (dims[i] !== x.shape[axis + i]) c.fail(`shape [${dims.join(', ')}] does not match the bottom [${x.shape.join(', ')}] from axis ${axis}`);
    const bshape = dims.length === 0 ? [] : broadcastShape(rank, axis, dims);
    let operand: string;
    if (fromBottom) operand = c.node('Reshape', [other!.name, c.constant('shape', i64(bshape.length ? bshape : [1]))], {}, c.temp('operand'));
    else operand = c.weight(0, bshape.length ? bshape : [1], isScale ? 'scale' : 'bias');
    const withBias = isScale && bool(p, 'bias_term');
    const first = c.node(isScale ? 'Mul' : 'Add', [x.name, operand], {}, withBias ? c.temp('scaled') : c.topName(0));
    let top = first;
    if (withBias) top = c.node('Add', [first, c.weight(fromBottom ? 0 : 1, bshape.length ? bshape : [1], 'bias')], {}, c.topName(0));
    c.setTop(0, top, x.shape);
  };
}

const eltwise: Row = (c) => {
  if (c.bottoms.length < 2) c.fail(`takes 2 or more bottoms, has ${c.bottoms.length}`);
  const p = c.p('eltwise_param');
  const op = num(p, 'operation'); // PROD 0, SUM 1, MAX 2
  const shape = c.bottoms[0]!.shape;
  for (const b of c.bottoms) if (b.shape.join() !== shape.join()) c.fail(`bottoms differ in shape: [${shape.join(', ')}] and [${b.shape.join(', ')}]`);
  const coeff = nums(p, 'coeff');
  if (coeff.length && (op !== 1 || coeff.length !== c.bottoms.length)) c.fail(`coeff needs operation SUM and one value per bottom (${c.bottoms.length}), has ${coeff.length}`);
  let inputs = c.bottoms.map((b) => b.name);
  if (coeff.some((k) => k !== 1)) inputs = inputs.map((v, i) => (coeff[i] === 1 ? v : c.node('Mul', [v, c.constant(`coeff${i}`, scalarF(coeff[i]!))], {}, c.temp(`scaled${i}`))));
  const onnx = op === 0 ? 'Mul' : op === 1 ? 'Add' : 'Max';
  let acc = inputs[0]!;
  for (let i = 1; i < inputs.length; i++) acc = c.node(onnx, [acc, inputs[i]!], {}, i === inputs.length - 1 ? c.topName(0) : c.temp(`partial${i}`));
  c.setTop(0, acc, shape);
};

const concat: Row = (c) => {
  const p = c.p('concat_param');
  const rank = c.bottoms[0]?.shape.length ?? 0;
  const axis = canonAxis(c, has(p, 'concat_dim') && !has(p, 'axis') ? num(p, 'concat_dim') : num(p, 'axis'), rank);
  const shape = [...c.bottoms[0]!.shape];
  for (const b of c.bottoms.slice(1)) {
    if (b.shape.length !== rank || b.shape.some((d, i) => i !== axis && d !== shape[i])) c.fail(`bottoms [${shape.join(', ')}] and [${b.shape.join(', ')}] differ off axis ${axis}`);
    shape[axis]! += b.shape[axis]!;
  }
  if (c.bottoms.length === 1) {
    c.setTop(0, c.node('Identity', [c.bottoms[0]!.name], {}, c.topName(0)), shape);
    return;
  }
  c.setTop(0, c.node('Concat', c.bottoms.map((b) => b.name), { axis: int(axis) }, c.topName(0)), shape);
};

const slice: Row = (c) => {
  const x = one(c);
  const p = c.p('slice_param');
  const axis = canonAxis(c, has(p, 'slice_dim') && !has(p, 'axis') ? num(p, 'slice_dim') : num(p, 'axis'), x.shape.length);
  const n = x.shape[axis]!;
  const tops = c.layer.top.length;
  const points = nums(p, 'slice_point');
  let sizes: number[];
  if (points.length) {
    if (points.length !== tops - 1) c.fail(`${points.length} slice_point(s) for ${tops} tops`);
    const edges = [0, ...points, n];
    sizes = edges.slice(1).map((e, i) => e - edges[i]!);
    if (sizes.some((s) => s <= 0)) c.fail(`slice_point [${points.join(', ')}] must increase within 1..${n - 1}`);
  } else {
    if (n % tops) c.fail(`axis ${axis} (${n}) does not split evenly into ${tops} tops`);
    sizes = new Array<number>(tops).fill(n / tops);
  }
  const names = c.layer.top.map((_, i) => c.topName(i));
  const outs = c.nodeOutputs('Split', [x.name, c.constant('split', i64(sizes))], names, { axis: int(axis) });
  outs.forEach((o, i) => c.setTop(i, o, x.shape.map((d, j) => (j === axis ? sizes[i]! : d))));
};

const flatten: Row = (c) => {
  const x = one(c);
  const p = c.p('flatten_param');
  const rank = x.shape.length;
  const a = canonAxis(c, num(p, 'axis'), rank);
  const e = canonAxis(c, num(p, 'end_axis'), rank, 'end_axis');
  if (e < a) c.fail(`end_axis ${e} is before axis ${a}`);
  const shape = [...x.shape.slice(0, a), shapeSize(x.shape.slice(a, e + 1)), ...x.shape.slice(e + 1)];
  const top = a === 1 && e === rank - 1 ? c.node('Flatten', [x.name], { axis: int(1) }, c.topName(0)) : c.node('Reshape', [x.name, c.constant('shape', i64(shape))], {}, c.topName(0));
  c.setTop(0, top, shape);
};

const reshape: Row = (c) => {
  const x = one(c);
  const p = c.p('reshape_param');
  const spec = nums(p.shape as Message | undefined ?? ({ $type: 'caffe.BlobShape' } as Message), 'dim');
  const rank = x.shape.length;
  const ax = num(p, 'axis');
  const start = ax < 0 ? rank + 1 + ax : ax;
  if (start < 0 || start > rank) c.fail(`axis ${ax} is out of range for a bottom of rank ${rank}`);
  const na = num(p, 'num_axes');
  if (na < -1) c.fail(`num_axes ${na} must be -1 or more`);
  const end = na === -1 ? rank : start + na;
  if (end > rank) c.fail(`axis ${ax} + num_axes ${na} exceeds the bottom's rank ${rank}`);
  const middle = spec.map((d, i) => {
    if (d === 0) {
      if (start + i >= rank) c.fail(`dim ${i} is 0 (copy) but the bottom has no axis ${start + i}`);
      return x.shape[start + i]!;
    }
    return d;
  });
  if (middle.filter((d) => d === -1).length > 1) c.fail('more than one dim is -1');
  if (middle.some((d) => d < -1)) c.fail(`invalid dim in [${spec.join(', ')}]`);
  const shape = [...x.shape.slice(0, start), ...middle, ...x.shape.slice(end)];
  const known = shapeSize(shape.filter((d) => d !== -1));
  const total = shapeSize(x.shape);
  const inferred = shape.indexOf(-1);
  if (inferred >= 0) {
    if (known === 0 || total % known) c.fail(`cannot infer the -1 dim: ${total} values into [${shape.join(', ')}]`);
    shape[inferred] = total / known;
  }
  if (shapeSize(shape) !== total) c.fail(`cannot reshape [${x.shape.join(', ')}] (${total} values) to [${shape.join(', ')}]`);
  c.setTop(0, c.node('Reshape', [x.name, c.constant('shape', i64(shape))], {}, c.topName(0)), shape);
};

const permute: Row = (c) => {
  const x = one(c);
  const rank = x.shape.length;
  const order = nums(c.p('permute_param'), 'order');
  const perm: number[] = [];
  for (const o of order) {
    if (o >= rank || perm.includes(o)) c.fail(`order [${order.join(', ')}] is not a permutation of ${rank} axes`);
    perm.push(o);
  }
  for (let i = 0; i < rank; i++) if (!perm.includes(i)) perm.push(i);
  c.setTop(0, c.node('Transpose', [x.name], { perm: ints(perm) }, c.topName(0)), perm.map((i) => x.shape[i]!));
};

const crop: Row = (c) => {
  if (c.bottoms.length !== 2) c.fail(`takes 2 bottoms (the blob and the reference), has ${c.bottoms.length}`);
  const [x, ref] = c.bottoms as [Blob, Blob];
  const p = c.p('crop_param');
  const rank = x.shape.length;
  const axis = canonAxis(c, num(p, 'axis'), rank);
  const offsets = nums(p, 'offset');
  const n = rank - axis;
  if (offsets.length > 1 && offsets.length !== n) c.fail(`${offsets.length} offsets for ${n} cropped axes`);
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const shape = [...x.shape];
  for (let i = axis; i < rank; i++) {
    const off = offsets.length === 0 ? 0 : offsets.length === 1 ? offsets[0]! : offsets[i - axis]!;
    const size = ref.shape[i];
    if (size === undefined || off + size > x.shape[i]!) c.fail(`crop of ${size} at offset ${off} does not fit axis ${i} of [${x.shape.join(', ')}]`);
    starts.push(off);
    ends.push(off + size);
    axes.push(i);
    shape[i] = size;
  }
  c.setTop(0, c.node('Slice', [x.name, c.constant('starts', i64(starts)), c.constant('ends', i64(ends)), c.constant('axes', i64(axes))], {}, c.topName(0)), shape);
};

const softmax: Row = (c) => {
  const x = one(c);
  // Opset 13 Softmax normalises along one axis only: Caffe's per-position softmax over channels.
  const axis = canonAxis(c, num(c.p('softmax_param'), 'axis'), x.shape.length);
  c.setTop(0, c.node('Softmax', [x.name], { axis: int(axis) }, c.topName(0)), x.shape);
};

const lrn: Row = (c) => {
  const x = one(c);
  const p = c.p('lrn_param');
  const size = num(p, 'local_size');
  const alpha = num(p, 'alpha');
  const beta = num(p, 'beta');
  if (x.shape.length !== 4) c.fail(`LRN needs a 4-D bottom, got [${x.shape.join(', ')}]`);
  if (size <= 0) c.fail(`local_size ${size} must be positive`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const pre = (size - 1) >> 1;
  const sq = c.node('Mul', [x.name, x.name], {}, c.temp('squared'));
  let avg: string;
  let k: number;
  if (num(p, 'norm_region') === 0) {
    if (size % 2 === 0) c.fail(`ACROSS_CHANNELS local_size ${size} must be odd`);
    // Sum over a window of channels = an average pool over a (C, H*W) plane times the size;
    // Caffe pads the channel axis with zeros and always divides alpha by local_size (explicit
    // zeros, so every window counts local_size taps in any target format).
    const plane = c.node('Reshape', [sq, c.constant('plane_shape', i64([N, 1, C, H * W]))], {}, c.temp('plane'));
    const padded = c.node('Pad', [plane, c.constant('pads', i64([0, 0, pre, 0, 0, 0, size - 1 - pre, 0]))], { mode: { type: 'string', value: 'constant' } }, c.temp('plane_padded'));
    const pooled = c.node('AveragePool', [padded], { kernel_shape: ints([size, 1]) }, c.temp('window_mean'));
    avg = c.node('Reshape', [pooled, c.constant('back_shape', i64([N, C, H, W]))], {}, c.temp('window_mean_nchw'));
    k = num(p, 'k');
  } else {
    if (size % 2 === 0) c.fail(`WITHIN_CHANNEL local_size ${size} must be odd`);
    const padded = c.node('Pad', [sq, c.constant('pads', i64([0, 0, pre, pre, 0, 0, pre, pre]))], { mode: { type: 'string', value: 'constant' } }, c.temp('squared_padded'));
    avg = c.node('AveragePool', [padded], { kernel_shape: ints([size, size]) }, c.temp('window_mean'));
    // Caffe's WITHIN_CHANNEL is a Power layer with shift 1: k is not used there.
    k = 1;
  }
  const scaled = affine(c, avg, alpha, k, undefined, 'norm_');
  const factor = c.node('Pow', [scaled, c.constant('neg_beta', scalarF(-beta))], {}, c.temp('factor'));
  c.setTop(0, c.node('Mul', [x.name, factor], {}, c.topName(0)), x.shape);
};

const mvn: Row = (c) => {
  const x = one(c);
  const p = c.p('mvn_param');
  const axes = bool(p, 'across_channels') ? x.shape.slice(1).map((_, i) => i + 1) : x.shape.slice(2).map((_, i) => i + 2);
  if (!axes.length) c.fail(`needs a bottom with axes to normalise, got [${x.shape.join(', ')}]`);
  const mean = c.node('ReduceMean', [x.name], { axes: ints(axes), keepdims: int(1) }, c.temp('mean'));
  const normVar = bool(p, 'normalize_variance');
  const d = c.node('Sub', [x.name, mean], {}, normVar ? c.temp('centered') : c.topName(0));
  if (!normVar) {
    c.setTop(0, d, x.shape);
    return;
  }
  // Caffe adds eps to the standard deviation, not to the variance.
  const sq = c.node('Mul', [d, d], {}, c.temp('squared'));
  const v = c.node('ReduceMean', [sq], { axes: ints(axes), keepdims: int(1) }, c.temp('variance'));
  const sd = c.node('Sqrt', [v], {}, c.temp('std'));
  const sde = c.node('Add', [sd, c.constant('eps', scalarF(num(p, 'eps')))], {}, c.temp('std_eps'));
  c.setTop(0, c.node('Div', [d, sde], {}, c.topName(0)), x.shape);
};

const identity: Row = (c) => {
  const x = one(c);
  c.setTop(0, c.node('Identity', [x.name], {}, c.topName(0)), x.shape);
};

const argMax: Row = (c) => {
  const x = one(c);
  const p = c.p('argmax_param');
  const k = num(p, 'top_k');
  const outMax = bool(p, 'out_max_val');
  if (k < 1) c.fail(`top_k ${k} must be at least 1`);
  if (has(p, 'axis')) {
    const axis = canonAxis(c, num(p, 'axis'), x.shape.length);
    if (k > x.shape[axis]!) c.fail(`top_k ${k} exceeds axis ${axis} (${x.shape[axis]})`);
    const shape = x.shape.map((d, i) => (i === axis ? k : d));
    const [values, indices] = c.nodeOutputs('TopK', [x.name, c.constant('k', i64([k]))], [c.temp('values'), c.temp('indices')], { axis: int(axis) });
    // With an axis, out_max_val makes Caffe output the values instead of the indices.
    const top = outMax ? c.node('Identity', [values!], {}, c.topName(0)) : c.node('Cast', [indices!], { to: int(1) }, c.topName(0));
    c.setTop(0, top, shape);
    return;
  }
  const N = x.shape[0]!;
  const inner = shapeSize(x.shape.slice(1));
  if (k > inner) c.fail(`top_k ${k} exceeds the ${inner} values per item`);
  // Caffe's top is (N, 1 or 2, top_k), padded with 1s to the bottom's rank when that is higher.
  const rows = outMax ? 2 : 1;
  const shape = [N, rows, k, ...new Array<number>(Math.max(0, x.shape.length - 3)).fill(1)];
  const padded = shape.length > 3;
  const flat = c.node('Flatten', [x.name], { axis: int(1) }, c.temp('flat'));
  const [values, indices] = c.nodeOutputs('TopK', [flat, c.constant('k', i64([k]))], [c.temp('values'), c.temp('indices')], { axis: int(1) });
  const idx = c.node('Cast', [indices!], { to: int(1) }, c.temp('indices_f'));
  const last = (name: string) => (padded ? c.temp(name) : c.topName(0));
  let top = c.node('Unsqueeze', [idx, c.constant('axis1', i64([1]))], {}, outMax ? c.temp('indices_3d') : last('indices_3d'));
  if (outMax) {
    const val3 = c.node('Unsqueeze', [values!, c.constant('axis1v', i64([1]))], {}, c.temp('values_3d'));
    top = c.node('Concat', [top, val3], { axis: int(1) }, last('pairs'));
  }
  if (padded) top = c.node('Reshape', [top, c.constant('shape', i64(shape))], {}, c.topName(0));
  c.setTop(0, top, shape);
};

/**
 * Every layer type nnport runs. Input, Split and Silence are handled by the graph builder (they
 * declare, alias or drop blobs), as are the data and loss layers of train/test nets.
 */
export const CAFFE_LAYERS: Readonly<Record<string, Row>> = {
  Convolution: convolution(false),
  Deconvolution: convolution(true),
  Pooling: pooling,
  InnerProduct: innerProduct,
  ReLU: relu,
  PReLU: prelu,
  Sigmoid: unary('Sigmoid'),
  TanH: unary('Tanh'),
  ELU: unary('Elu', (c) => ({ alpha: float(num(c.p('elu_param'), 'alpha')) })),
  BNLL: unary('Softplus'),
  AbsVal: unary('Abs'),
  Power: power,
  Exp: exp,
  Log: log,
  Threshold: threshold,
  BatchNorm: batchNorm,
  Scale: scaleOrBias(true),
  Bias: scaleOrBias(false),
  Eltwise: eltwise,
  Concat: concat,
  Slice: slice,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  Crop: crop,
  Softmax: softmax,
  LRN: lrn,
  MVN: mvn,
  Dropout: identity,
  ArgMax: argMax,
  PriorBox: priorBox,
  DetectionOutput: detectionOutput,
};

/** Layer types that feed data in a train/test net: their tops become graph inputs. */
export const DATA_LAYERS = new Set(['Data', 'ImageData', 'HDF5Data', 'MemoryData', 'DummyData', 'WindowData', 'AnnotatedData']);

/** Layer types that only train or evaluate: dropped from the graph with whatever feeds only them. */
export const TRAINING_LAYERS = new Set([
  'SoftmaxWithLoss',
  'EuclideanLoss',
  'SigmoidCrossEntropyLoss',
  'HingeLoss',
  'InfogainLoss',
  'MultinomialLogisticLoss',
  'ContrastiveLoss',
  'Accuracy',
  'HDF5Output',
]);
