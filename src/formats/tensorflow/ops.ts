// TensorFlow op name -> IR, one row per op. NHWC convolutions, pools and batch norms become
// the channels-last `nnport` ops (filters stay HWIO as stored); NCHW ones plain ONNX ops.
// Rows compute TensorFlow's output shapes, and evaluate small constant inputs directly
// (shape arithmetic), so dynamic-shape subgraphs fold away when the input shape is known.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import type { Attr, Dim } from '../../ir/graph.js';
import { einsumDims, einsumLabels, parseEinsumEquation } from '../../ir/ops/linalg.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import {
  binary,
  broadcastShapes,
  concat,
  gather,
  MAX_FOLD_ELEMENTS,
  pack,
  reduce,
  sliceTensor,
  stridedSliceSpec,
  tensorOf,
} from './fold.js';
import { CONTROL_FLOW_OPS } from './control-flow.js';
import { TENSOR_LIST_OPS } from './tensor-lists.js';
import { attr, type NodeCtx, type OpConvert, type ShapeElement, type TfValue } from './to-ir.js';

const INT64_MAX = Number.MAX_SAFE_INTEGER;

const known = (s: Dim[] | undefined): s is number[] => !!s && s.every((d) => typeof d === 'number');
const small = (shape: readonly number[]) => shapeSize(shape) <= MAX_FOLD_ELEMENTS;
const allConst = (c: NodeCtx) => c.inputs.every((v) => v.value) && c.inputs.every((v) => small(v.value!.shape));
const dim = (s: Dim[] | undefined, i: number): Dim => (s ? (s[i < 0 ? s.length + i : i] ?? null) : null);
const asNum = (d: Dim): number | null => (typeof d === 'number' ? d : null);

function dataFormat(c: NodeCtx): 'NHWC' | 'NCHW' {
  const f = c.attrs.string('data_format', 'NHWC');
  if (f === 'NHWC' || f === 'NCHW') return f;
  throw new UnsupportedError(`data_format ${f}`, `${c.where()} in '${c.file}'`);
}

// ---- padding ----

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
}

/**
 * Pads [top, left, bottom, right] and the output size for TF's padding modes. SAME pads
 * so that out = ceil(in / stride); when the total is odd the extra row/column goes at the
 * bottom/right (ONNX SAME_UPPER), which is where TensorFlow puts it.
 */
function windowPads(c: NodeCtx, spatial: Dim[], w: Window, format: 'NHWC' | 'NCHW'): { pads?: number[]; autoPad?: string; out: Dim[] } {
  const padding = c.attrs.string('padding', 'VALID');
  const n = w.kernel.length;
  const eff = w.kernel.map((k, i) => (k - 1) * w.dilations[i]! + 1);
  if (padding === 'EXPLICIT') {
    const e = c.attrs.ints('explicit_paddings', []);
    const first = format === 'NHWC' ? 1 : 2;
    const begin = spatial.map((_, i) => e[2 * (first + i)] ?? 0);
    const end = spatial.map((_, i) => e[2 * (first + i) + 1] ?? 0);
    const out = spatial.map((d, i) => (typeof d === 'number' ? Math.floor((d + begin[i]! + end[i]! - eff[i]!) / w.strides[i]!) + 1 : null));
    return { pads: [...begin, ...end], out };
  }
  if (padding === 'VALID') {
    return { pads: new Array<number>(2 * n).fill(0), out: spatial.map((d, i) => (typeof d === 'number' ? Math.floor((d - eff[i]!) / w.strides[i]!) + 1 : null)) };
  }
  if (padding !== 'SAME') throw new UnsupportedError(`padding ${padding}`, `${c.where()} in '${c.file}'`);
  if (!spatial.every((d) => typeof d === 'number')) {
    return { autoPad: 'SAME_UPPER', out: spatial.map((d, i) => (typeof d === 'number' ? Math.ceil(d / w.strides[i]!) : null)) };
  }
  const begin: number[] = [];
  const end: number[] = [];
  const out: number[] = [];
  spatial.forEach((d, i) => {
    const o = Math.ceil((d as number) / w.strides[i]!);
    const total = Math.max((o - 1) * w.strides[i]! + eff[i]! - (d as number), 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
    out.push(o);
  });
  return { pads: [...begin, ...end], out };
}

function padAttrs(p: { pads?: number[]; autoPad?: string }): Record<string, Attr> {
  return p.autoPad ? { auto_pad: attr('string', p.autoPad) } : { pads: attr('ints', p.pads!) };
}

/** [spatial...] of a 4-D value in the given format. */
function spatialOf(s: Dim[] | undefined, format: 'NHWC' | 'NCHW'): Dim[] {
  if (!s) return [null, null];
  return format === 'NHWC' ? s.slice(1, -1) : s.slice(2);
}

function withSpatial(s: Dim[] | undefined, format: 'NHWC' | 'NCHW', spatial: Dim[], channels: Dim): Dim[] {
  const batch = s ? s[0]! : null;
  return format === 'NHWC' ? [batch, ...spatial, channels] : [batch, channels, ...spatial];
}

function fourAttr(c: NodeCtx, name: string, format: 'NHWC' | 'NCHW', fallback: number[]): number[] {
  const v = c.attrs.ints(name, fallback);
  if (v.length === 4) return format === 'NHWC' ? [v[1]!, v[2]!] : [v[2]!, v[3]!];
  if (v.length === 2) return v;
  if (v.length === 1) return [v[0]!, v[0]!];
  throw new FormatError(`${c.where()}: attribute '${name}' has ${v.length} values`, { file: c.file });
}

// ---- convolution ----

/** A filter (kh, kw, C, M) of a depthwise conv as a grouped conv's HWIO (kh, kw, 1, C*M). */
function depthwiseFilter(c: NodeCtx, f: TfValue): { name: string; shape?: Dim[] } {
  const s = f.shape;
  if (f.value) {
    const [kh, kw, ch, m] = f.value.shape as number[];
    const t = f.value.reshape([kh!, kw!, 1, ch! * m!]);
    return { name: c.constTensor(t, 'filter'), shape: [...t.shape] };
  }
  if (!known(s)) throw new UnsupportedError('a depthwise filter of unknown shape', `${c.where()} in '${c.file}'`);
  const out = c.tmp('filter');
  c.emit('Reshape', [c.use(f), c.int64([s[0]!, s[1]!, 1, s[2]! * s[3]!], 'filter_shape')], [out]);
  return { name: out, shape: [s[0]!, s[1]!, 1, s[2]! * s[3]!] };
}

interface ConvResult {
  name: string;
  shape: Dim[];
  format: 'NHWC' | 'NCHW';
}

export function conv(c: NodeCtx, depthwise: boolean, outName: string): ConvResult {
  const format = dataFormat(c);
  const x = c.input(0);
  const f = c.input(1);
  let filter: { name: string; shape?: Dim[] };
  let group = 1;
  if (depthwise) {
    filter = depthwiseFilter(c, f);
    group = asNum(dim(f.shape, 2)) ?? 0;
    if (!group) throw new UnsupportedError('a depthwise filter of unknown channel count', `${c.where()} in '${c.file}'`);
  } else {
    filter = { name: c.use(f), shape: f.shape };
    const cin = asNum(format === 'NHWC' ? dim(x.shape, 3) : dim(x.shape, 1));
    const fin = asNum(dim(f.shape, 2));
    if (cin && fin && cin !== fin) {
      if (cin % fin) throw new ShapeError(`${c.where()}: input has ${cin} channels, filter takes ${fin}`);
      group = cin / fin;
    }
  }
  const kernel = [asNum(dim(filter.shape, 0)), asNum(dim(filter.shape, 1))];
  if (kernel.some((k) => k === null)) throw new UnsupportedError('a convolution filter of unknown size', `${c.where()} in '${c.file}'`);
  const w: Window = { kernel: kernel as number[], strides: fourAttr(c, 'strides', format, [1, 1, 1, 1]), dilations: fourAttr(c, 'dilations', format, [1, 1, 1, 1]) };
  const p = windowPads(c, spatialOf(x.shape, format), w, format);
  const attrs: Record<string, Attr> = {
    kernel_shape: attr('ints', w.kernel),
    strides: attr('ints', w.strides),
    dilations: attr('ints', w.dilations),
    group: attr('int', group),
    ...padAttrs(p),
  };
  const channels = dim(filter.shape, 3);
  if (format === 'NHWC') {
    c.emit('Conv', [c.use(x), filter.name], [outName], { ...attrs, kernel_layout: attr('string', 'HWIO') }, 'nnport');
  } else {
    const oihw = c.tmp('filter_oihw');
    c.emit('Transpose', [filter.name], [oihw], { perm: attr('ints', [3, 2, 0, 1]) });
    c.emit('Conv', [c.use(x), oihw], [outName], attrs);
  }
  return { name: outName, shape: withSpatial(x.shape, format, p.out, channels), format };
}

function pool(c: NodeCtx, opType: 'MaxPool' | 'AveragePool'): TfValue[] {
  const format = dataFormat(c);
  const x = c.input(0);
  const w: Window = { kernel: fourAttr(c, 'ksize', format, [1, 1, 1, 1]), strides: fourAttr(c, 'strides', format, [1, 1, 1, 1]), dilations: [1, 1] };
  const p = windowPads(c, spatialOf(x.shape, format), w, format);
  // TF's AvgPool divides by the window's cells inside the input: count_include_pad 0
  const attrs: Record<string, Attr> = { kernel_shape: attr('ints', w.kernel), strides: attr('ints', w.strides), ...padAttrs(p) };
  const out = c.out();
  c.emit(opType, [c.use(x)], [out], attrs, format === 'NHWC' ? 'nnport' : '');
  const ch = format === 'NHWC' ? dim(x.shape, 3) : dim(x.shape, 1);
  return [c.value(out, x.dtype, withSpatial(x.shape, format, p.out, ch))];
}

function batchNorm(c: NodeCtx, x: string, args: TfValue[], format: 'NHWC' | 'NCHW', out: string): void {
  if (args.length < 4) throw new FormatError(`${c.where()} needs scale, offset, mean and variance`, { file: c.file });
  const [scale, offset, mean, variance] = args as [TfValue, TfValue, TfValue, TfValue];
  if (c.attrs.bool('is_training', false) && !(mean.value && mean.value.size)) {
    throw new UnsupportedError('FusedBatchNorm in training mode (batch statistics)', `${c.where()} in '${c.file}'`);
  }
  const attrs = { epsilon: attr('float', c.attrs.float('epsilon', 1e-4)) };
  c.emit('BatchNormalization', [x, c.use(scale), c.use(offset), c.use(mean), c.use(variance)], [out], attrs, format === 'NHWC' ? 'nnport' : '');
}

/** Bias along the channel axis: NHWC broadcasts as is; NCHW needs [C, 1, 1]. */
function addBias(c: NodeCtx, x: string, rank: number | undefined, bias: TfValue, format: 'NHWC' | 'NCHW', out: string): void {
  let b = c.use(bias);
  if (format === 'NCHW') {
    const trailing = (rank ?? 4) - 2;
    if (bias.value) b = c.constTensor(bias.value.reshape([bias.value.size, ...new Array<number>(trailing).fill(1)]), 'bias');
    else {
      const r = c.tmp('bias');
      c.emit('Unsqueeze', [b, c.int64(Array.from({ length: trailing }, (_, i) => i + 1), 'bias_axes')], [r]);
      b = r;
    }
  }
  c.emit('Add', [x, b], [out]);
}

const ACTIVATIONS: Record<string, (c: NodeCtx, x: string, out: string, dtype: DType) => void> = {
  Relu: (c, x, out) => c.emit('Relu', [x], [out]),
  Relu6: (c, x, out, dtype) => c.emit('Clip', [x, c.constTensor(tensorOf(dtype, [], [0]), 'min'), c.constTensor(tensorOf(dtype, [], [6]), 'max')], [out]),
  Elu: (c, x, out) => c.emit('Elu', [x], [out], { alpha: attr('float', 1) }),
  Selu: (c, x, out) => c.emit('Selu', [x], [out]),
  Sigmoid: (c, x, out) => c.emit('Sigmoid', [x], [out]),
  Tanh: (c, x, out) => c.emit('Tanh', [x], [out]),
  LeakyRelu: (c, x, out) => c.emit('LeakyRelu', [x], [out], { alpha: attr('float', c.attrs.float('leakyrelu_alpha', c.attrs.float('alpha', 0.2))) }),
};

/**
 * PReLU, as TF.js' converter writes it (a `Prelu` node, or fused into a conv / matmul after its
 * BiasAdd): x < 0 ? alpha·x : x, alpha broadcast numpy-style on the TF tensor, as ONNX's PRelu.
 */
function prelu(c: NodeCtx, x: string, alpha: TfValue, format: 'NHWC' | 'NCHW', out: string): void {
  // (a [C] slope on NCHW data would broadcast over W, not C: TF.js fuses NHWC convs only)
  if (format === 'NCHW' && (alpha.shape?.length ?? 1) === 1) throw new UnsupportedError('Prelu fused into an NCHW conv', `${c.where()} in '${c.file}'`);
  c.emit('PRelu', [x, c.use(alpha)], [out]);
}

/** grappler's fusions: conv/matmul, then BiasAdd or FusedBatchNorm, then an activation. */
function fused(c: NodeCtx, core: (out: string) => { name: string; shape: Dim[]; format: 'NHWC' | 'NCHW' }): TfValue[] {
  const ops = c.attrs.strings('fused_ops');
  const numArgs = c.attrs.int('num_args', c.inputs.length - 2);
  const args = c.inputs.slice(2, 2 + numArgs);
  const dtype = c.input(0).dtype;
  const stages = ops.length;
  let k = 0;
  const first = stages ? c.tmp('core') : c.out();
  const r = core(first);
  let cur = r.name;
  // each stage takes its arguments in turn: BiasAdd one, FusedBatchNorm four, Prelu its slope
  let at = 0;
  const take = (n: number): TfValue[] => {
    if (at + n > args.length) throw new FormatError(`${c.where()}: fused_ops [${ops.join(', ')}] need more than its ${args.length} argument(s)`, { file: c.file });
    at += n;
    return args.slice(at - n, at);
  };
  for (const op of ops) {
    const out = k + 1 === stages ? c.out() : c.tmp(`fused${k + 1}`);
    k++;
    if (op === 'BiasAdd' || op === 'Add') addBias(c, cur, r.shape.length, take(1)[0]!, r.format, out);
    else if (op === 'FusedBatchNorm' || op === 'FusedBatchNormV3') batchNorm(c, cur, take(4), r.format, out);
    else if (op === 'Prelu') prelu(c, cur, take(1)[0]!, r.format, out);
    else if (ACTIVATIONS[op]) ACTIVATIONS[op]!(c, cur, out, dtype);
    else throw new UnsupportedError(`fused op ${op}`, `${c.where()} in '${c.file}'`);
    cur = out;
  }
  return [c.value(cur, dtype, r.shape)];
}

// ---- elementwise ----

const BINARY: Record<string, { onnx: string; fold: (x: number, y: number) => number; bool?: true }> = {
  Add: { onnx: 'Add', fold: (x, y) => x + y },
  AddV2: { onnx: 'Add', fold: (x, y) => x + y },
  Sub: { onnx: 'Sub', fold: (x, y) => x - y },
  Mul: { onnx: 'Mul', fold: (x, y) => x * y },
  RealDiv: { onnx: 'Div', fold: (x, y) => x / y },
  Div: { onnx: 'Div', fold: (x, y) => x / y },
  Maximum: { onnx: 'Max', fold: Math.max },
  Minimum: { onnx: 'Min', fold: Math.min },
  Pow: { onnx: 'Pow', fold: Math.pow },
  Less: { onnx: 'Less', fold: (x, y) => +(x < y), bool: true },
  LessEqual: { onnx: 'LessOrEqual', fold: (x, y) => +(x <= y), bool: true },
  Greater: { onnx: 'Greater', fold: (x, y) => +(x > y), bool: true },
  GreaterEqual: { onnx: 'GreaterOrEqual', fold: (x, y) => +(x >= y), bool: true },
  Equal: { onnx: 'Equal', fold: (x, y) => +(x === y), bool: true },
  LogicalAnd: { onnx: 'And', fold: (x, y) => +(x && y), bool: true },
  LogicalOr: { onnx: 'Or', fold: (x, y) => +(x || y), bool: true },
};

const isInt = (d: DType) => d.startsWith('int') || d.startsWith('uint');

function binaryOp(c: NodeCtx): TfValue[] {
  const row = BINARY[c.op]!;
  const a = c.input(0);
  const b = c.input(1);
  const outType: DType = row.bool ? 'bool' : a.dtype;
  const shape = a.shape && b.shape ? broadcastShapes(a.shape, b.shape) : undefined;
  if (a.value && b.value && small(a.value.shape) && small(b.value.shape)) {
    const intDiv = (c.op === 'Div' || c.op === 'RealDiv') && isInt(a.dtype);
    return [c.constantValue(binary(a.value, b.value, outType, intDiv ? (x, y) => Math.trunc(x / y) : row.fold))];
  }
  // x + u with u uniform in [lo, hi): the dropout mask's keep_prob + RandomUniform
  const u = a.uniform ? a : b.uniform ? b : undefined;
  const k = u === a ? b : a;
  if (u && k.value && k.value.size === 1) {
    const v = k.value.toNumbers()[0]!;
    const [lo, hi] = u.uniform!;
    let range: [number, number] | undefined;
    if (c.op === 'Add' || c.op === 'AddV2') range = [lo + v, hi + v];
    else if (c.op === 'Sub' && u === a) range = [lo - v, hi - v];
    else if (c.op === 'Mul' && v > 0) range = [lo * v, hi * v];
    if (range) return [{ name: '', dtype: a.dtype, shape: u.shape, uniform: range, shapeOf: u.shapeOf }];
  }
  const out = c.out();
  c.emit(row.onnx, [c.use(a), c.use(b)], [out]);
  return [c.value(out, outType, shape)];
}

function unaryRow(onnx: string, attrs: (c: NodeCtx) => Record<string, Attr> = () => ({}), fold?: (x: number) => number): OpConvert {
  return (c) => {
    const x = c.input(0);
    if (fold && x.value && small(x.value.shape) && x.dtype !== 'float16' && x.dtype !== 'bfloat16') {
      return [c.constantValue(tensorOf(x.dtype, x.value.shape, x.value.toNumbers().map(fold)))];
    }
    const out = c.out();
    c.emit(onnx, [c.use(x)], [out], attrs(c));
    return [c.value(out, x.dtype, x.shape)];
  };
}

function floorOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  // floor of values known to lie in [lo, hi) with no integer inside (lo, hi): one value
  // everywhere (dropout's floor(keep_prob + U[0,1)) with keep_prob = 1)
  if (x.uniform && Math.floor(x.uniform[0]) === Math.ceil(x.uniform[1]) - 1) {
    const v = tensorOf(x.dtype, [], [Math.floor(x.uniform[0])]);
    if (known(x.shape) && small(x.shape)) return [c.constantValue(tensorOf(x.dtype, x.shape, new Array<number>(shapeSize(x.shape)).fill(v.toNumbers()[0]!)))];
    const out = c.out();
    c.emit('Expand', [c.constTensor(v, 'value'), c.int64InputOf(x.shapeOf!, 'shape')], [out]);
    return [c.value(out, x.dtype, x.shape)];
  }
  if (x.uniform) throw new UnsupportedError('random values (RandomUniform) that reach an output', `${c.where()} in '${c.file}' (fold dropout with --set keep_prob=1.0)`);
  return unaryRow('Floor', undefined, Math.floor)(c);
}

function randomUniform(c: NodeCtx): TfValue[] {
  const s = c.input(0);
  const dtype = c.dtypeAttr('dtype', 'float32');
  const shape = s.value ? s.value.toNumbers() : (asNum(dim(s.shape, 0)) === null ? undefined : new Array<Dim>(asNum(dim(s.shape, 0))!).fill(null));
  // no value: only folded away (floor(keep_prob + U[0,1)) with keep_prob = 1) or pruned
  return [{ name: '', dtype, shape, uniform: [0, 1], shapeOf: s }];
}

// ---- reductions ----

function reduceRow(onnx: string, kind: 'sum' | 'prod' | 'max' | 'min' | 'mean'): OpConvert {
  return (c) => {
    const x = c.input(0);
    if (!c.input(1).value && onnx === 'ReduceSum') {
      // axes computed at run time: ONNX's ReduceSum takes them as an input; TF's empty axes reduce nothing
      const keepRun = c.attrs.bool('keep_dims', c.attrs.bool('keepdims', false));
      const count = asNum(dim(c.input(1).shape, 0)) ?? (c.input(1).shape?.length === 0 ? 1 : null);
      const outRun = c.out();
      c.emit(onnx, [c.use(x), c.int64Input(1, 'axes')], [outRun], { keepdims: attr('int', keepRun ? 1 : 0), noop_with_empty_axes: attr('int', 1) });
      const r = x.shape?.length;
      const rank = r === undefined ? undefined : keepRun ? r : count === null ? undefined : r - count;
      return [c.value(outRun, x.dtype, rank === undefined ? undefined : new Array<Dim>(rank).fill(null))];
    }
    const axesRaw = c.ints(1, 'reduction axes');
    const keep = c.attrs.bool('keep_dims', c.attrs.bool('keepdims', false));
    const rank = x.shape?.length;
    const axes = rank === undefined ? axesRaw : axesRaw.map((a) => (a < 0 ? a + rank : a));
    const shape = x.shape ? (keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i))) : undefined;
    if (x.value && small(x.value.shape)) return [c.constantValue(reduce(x.value, axes, keep, kind))];
    const out = c.out();
    if (onnx === 'ReduceSum') c.emit(onnx, [c.use(x), c.int64(axes, 'axes')], [out], { keepdims: attr('int', keep ? 1 : 0) });
    else c.emit(onnx, [c.use(x)], [out], { axes: attr('ints', axes), keepdims: attr('int', keep ? 1 : 0) });
    return [c.value(out, x.dtype, shape)];
  };
}

function argRow(onnx: string): OpConvert {
  return (c) => {
    const x = c.input(0);
    const axis = c.ints(1, 'ArgMax axis')[0]!;
    const rank = x.shape?.length;
    const ax = axis < 0 && rank !== undefined ? axis + rank : axis;
    const outType = c.attrs.dtype('output_type', 'int64');
    const out = c.out();
    const raw = outType === 'int64' ? out : c.tmp('int64');
    c.emit(onnx, [c.use(x)], [raw], { axis: attr('int', ax), keepdims: attr('int', 0) });
    if (raw !== out) c.emit('Cast', [raw], [out], { to: attr('int', onnxType(outType)) });
    return [c.value(out, outType, x.shape?.filter((_, i) => i !== ax))];
  };
}

const ONNX_TYPES: Partial<Record<DType, number>> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13, bfloat16: 16,
};

function onnxType(d: DType): number {
  const t = ONNX_TYPES[d];
  if (t === undefined) throw new UnsupportedError(`cast to ${d}`);
  return t;
}

// ---- shapes ----

function reshapeTo(shape: Dim[] | undefined, target: number[]): Dim[] {
  const count = known(shape) ? shapeSize(shape) : undefined;
  const rest = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return target.map((d) => (d === -1 ? (count !== undefined && rest ? count / rest : null) : d));
}

/**
 * A Reshape whose computed shape keeps some of x's own unknown dimensions at their index (the
 * flatten's `Reshape(x, [Shape(x)[0], -1])`): ONNX's copy-dim 0 there, and the static rest.
 */
function reshapeCopyingDims(x: TfValue, dims: ShapeElement[]): { target: number[]; shape: Dim[] } | undefined {
  if (!x.shape || !x.name) return undefined;
  const target: number[] = [];
  for (const [k, d] of dims.entries()) {
    if (typeof d === 'number') {
      // TF's literal 0 is a zero-size dim, which ONNX's 0 (copy) would not mean
      if (d === 0 || d < -1) return undefined;
      target.push(d);
    } else if (d.of === x.name && d.axis === k) target.push(0);
    else return undefined;
  }
  if (!target.includes(0) || target.filter((d) => d === -1).length > 1) return undefined;
  // the unknown dims of x must all be copied ones for -1 to be known
  const copies = new Set(target.flatMap((d, k) => (d === 0 ? [k] : [])));
  let count = 1;
  for (const [k, d] of x.shape.entries()) {
    if (copies.has(k)) continue;
    if (typeof d !== 'number') return { target, shape: target.map((t, i) => (t === 0 ? x.shape![i]! : t === -1 ? null : t)) };
    count *= d;
  }
  const rest = target.filter((d) => d > 0).reduce((a, b) => a * b, 1);
  const shape = target.map((t, i) => (t === 0 ? x.shape![i]! : t === -1 ? count / rest : t));
  // one copied dim and the rest static: that dim becomes the -1 ([-1, 256]), the form TFLite takes
  if (copies.size === 1 && Number.isInteger(count / rest)) return { target: target.map((t) => (t === 0 ? -1 : t === -1 ? count / rest : t)), shape };
  return { target, shape };
}

function reshapeOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const s = c.input(1);
  if (s.value) {
    const target = s.value.toNumbers();
    const shape = reshapeTo(x.shape, target);
    if (x.value && known(shape)) return [c.constantValue(x.value.reshape(shape))];
    const out = c.out();
    // TF's 0 is a zero-size dim; ONNX's 0 copies the input's: allowzero keeps TF's meaning
    const attrs: Record<string, Attr> = target.includes(0) ? { allowzero: attr('int', 1) } : {};
    c.emit('Reshape', [c.use(x), c.int64(target, 'shape')], [out], attrs);
    const v = c.value(out, x.dtype, shape);
    // a shape element made a scalar or a 1-vector (ONNX Gather / Unsqueeze as the GraphDef writer writes them) stays known
    if (x.dims && (x.shape?.length ?? 2) <= 1 && shape.length <= 1) v.dims = x.dims;
    return [v];
  }
  const copied = s.dims && reshapeCopyingDims(x, s.dims);
  if (copied) {
    const out = c.out();
    // ONNX's 0 copies the input's dimension at that index: here the batch read by Shape
    c.emit('Reshape', [c.use(x), c.int64(copied.target, 'shape')], [out]);
    return [c.value(out, x.dtype, copied.shape)];
  }
  const out = c.out();
  // a computed shape's 0 is TF's zero-size dim, not ONNX's copy
  c.emit('Reshape', [c.use(x), c.int64Input(1, 'shape')], [out], { allowzero: attr('int', 1) });
  // a -1 among the known elements is a size computed at run time
  return [c.value(out, x.dtype, shapeFromOperand(s)?.map((d) => (d === -1 ? null : d)))];
}

function shapeOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const outType = c.attrs.dtype('out_type', 'int32');
  if (known(x.shape)) return [c.constantValue(tensorOf(outType, [x.shape.length], x.shape))];
  const out = c.out();
  const raw = outType === 'int64' ? out : c.tmp('int64');
  c.emit('Shape', [c.use(x)], [raw]);
  if (raw !== out) c.emit('Cast', [raw], [out], { to: attr('int', onnxType(outType)) });
  const v = c.value(out, outType, x.shape ? [x.shape.length] : [null]);
  if (x.shape && x.name) v.dims = x.shape.map((d, i) => (typeof d === 'number' ? d : { of: x.name, axis: i }));
  return [v];
}

function squeezeAxes(c: NodeCtx, x: TfValue): number[] {
  let axes = c.attrs.ints('squeeze_dims', []);
  if (!axes.length) axes = c.attrs.ints('axis', []);
  const rank = x.shape?.length;
  if (!axes.length) {
    if (!x.shape || !known(x.shape)) throw new UnsupportedError('Squeeze of every size-1 dimension of a value of unknown shape', `${c.where()} in '${c.file}'`);
    return x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  }
  return rank === undefined ? axes : axes.map((a) => (a < 0 ? a + rank : a));
}

function squeezeOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const axes = squeezeAxes(c, x);
  const shape = x.shape?.filter((_, i) => !axes.includes(i));
  if (x.value && shape) return [c.constantValue(x.value.reshape(shape as number[]))];
  const out = c.out();
  c.emit('Squeeze', [c.use(x), c.int64(axes, 'axes')], [out]);
  return [c.value(out, x.dtype, shape)];
}

function unsqueeze(c: NodeCtx, x: TfValue, axis: number, out: string): TfValue {
  const rank = x.shape ? x.shape.length + 1 : undefined;
  const ax = axis < 0 && rank !== undefined ? axis + rank : axis;
  const shape = x.shape ? [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)] : undefined;
  if (x.value && shape) return c.constantValue(x.value.reshape(shape as number[]));
  c.emit('Unsqueeze', [c.use(x), c.int64([ax], 'axes')], [out]);
  const v = c.value(out, x.dtype, shape);
  if (x.dims && x.shape?.length === 0) v.dims = x.dims;
  return v;
}

function concatOp(c: NodeCtx, values: TfValue[], axisRaw: number): TfValue[] {
  const rank = values.find((v) => v.shape)?.shape?.length;
  const axis = axisRaw < 0 && rank !== undefined ? axisRaw + rank : axisRaw;
  if (values.length === 1) return [values[0]!];
  let shape: Dim[] | undefined;
  if (rank !== undefined && values.every((v) => v.shape)) {
    shape = values[0]!.shape!.map((d, i) => (i === axis ? values.reduce<Dim>((acc, v) => (typeof acc === 'number' && typeof v.shape![i] === 'number' ? acc + (v.shape![i] as number) : null), 0) : d));
  }
  if (values.every((v) => v.value && small(v.value.shape))) return [c.constantValue(concat(values.map((v) => v.value!), axis))];
  const out = c.out();
  c.emit('Concat', values.map((v) => c.use(v)), [out], { axis: attr('int', axis) });
  const v = c.value(out, values[0]!.dtype, shape);
  // pieces of shape vectors joined (a batch read by Shape and a constant rest): what is known of each element
  const parts = values.map(shapeElements);
  if (rank === 1 && parts.every((p) => p)) v.dims = parts.flatMap((p) => p!);
  return [v];
}

/**
 * The shape a 1-D shape operand (Fill's dims, BroadcastTo's shape, Reshape's) gives: its length is the rank, known
 * statically even when its elements are computed at run time; each element a number where known while reading.
 */
function shapeFromOperand(v: TfValue): Dim[] | undefined {
  const elements = shapeElements(v);
  if (elements) return elements.map((d) => (typeof d === 'number' ? d : null));
  const rank = asNum(dim(v.shape, 0));
  return v.shape?.length === 1 && rank !== null ? new Array<Dim>(rank).fill(null) : undefined;
}

/** The elements of a 1-D int value as far as they are known while reading (constants, and Shape's dims). */
function shapeElements(v: TfValue): ShapeElement[] | undefined {
  if (v.dtype !== 'int32' && v.dtype !== 'int64') return undefined;
  if (v.value) return v.value.rank === 1 && small(v.value.shape) ? v.value.toNumbers() : undefined;
  return v.shape?.length === 1 ? v.dims : undefined;
}

function packOp(c: NodeCtx): TfValue[] {
  const axis = c.attrs.int('axis', 0);
  const vs = c.inputs;
  if (vs.every((v) => v.value && small(v.value.shape))) return [c.constantValue(pack(vs.map((v) => v.value!), axis))];
  const parts = vs.map((v, i) => unsqueeze(c, v, axis, c.tmp(`expand${i}`)));
  const rank = vs[0]!.shape ? vs[0]!.shape.length + 1 : undefined;
  const r = concatOp(c, parts, axis < 0 && rank !== undefined ? axis + rank : axis);
  // scalars of a Shape packed into a new shape (the flatten's [batch, -1]): keep what is known of them
  const scalar = (v: TfValue) => v.shape?.length === 0;
  if (r.length === 1 && vs.every((v) => scalar(v) && (v.value || v.dims?.length === 1))) {
    r[0]!.dims = vs.map((v) => (v.value ? v.value.toNumbers()[0]! : v.dims![0]!));
  }
  return r;
}

function splitOp(c: NodeCtx, x: TfValue, axisRaw: number, sizes: number[] | undefined, count: number): TfValue[] {
  const rank = x.shape?.length;
  const axis = axisRaw < 0 && rank !== undefined ? axisRaw + rank : axisRaw;
  const total = asNum(dim(x.shape, axis));
  let parts = sizes;
  if (parts && parts.includes(-1)) {
    if (total === null) throw new UnsupportedError('SplitV with -1 on a dimension of unknown size', `${c.where()} in '${c.file}'`);
    const rest = parts.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
    parts = parts.map((s) => (s === -1 ? total - rest : s));
  }
  if (!parts && total !== null) {
    if (total % count) throw new ShapeError(`${c.where()}: cannot split ${total} into ${count} equal parts`);
    parts = new Array<number>(count).fill(total / count);
  }
  const outs = Array.from({ length: count }, (_, i) => c.out(i));
  const inputs = [c.use(x)];
  if (parts) inputs.push(c.int64(parts, 'split'));
  c.emit('Split', inputs, outs, { axis: attr('int', axis) });
  return outs.map((o, i) => c.value(o, x.dtype, x.shape ? x.shape.map((d, k) => (k === axis ? (parts ? parts[i]! : null) : d)) : undefined));
}

function unpackOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const rank = x.shape?.length;
  let axis = c.attrs.int('axis', 0);
  if (axis < 0 && rank !== undefined) axis += rank;
  const num = c.attrs.int('num', asNum(dim(x.shape, axis)) ?? 0);
  const outShape = x.shape?.filter((_, i) => i !== axis);
  if (x.value && small(x.value.shape)) {
    return Array.from({ length: num }, (_, i) => {
      const axes = x.value!.shape.map((d, k) => (k === axis ? { start: i, end: i + 1, step: 1, size: 1 } : { start: 0, end: d, step: 1, size: d }));
      return c.constantValue(sliceTensor(x.value!, axes).reshape(outShape as number[]));
    });
  }
  const pieces = Array.from({ length: num }, (_, i) => c.tmp(`piece${i}`));
  c.emit('Split', [c.use(x), c.int64(new Array<number>(num).fill(1), 'split')], pieces, { axis: attr('int', axis) });
  return pieces.map((p, i) => {
    const out = c.out(i);
    c.emit('Squeeze', [p, c.int64([axis], 'axes')], [out]);
    return c.value(out, x.dtype, outShape);
  });
}

function stridedSlice(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  if (!x.shape) throw new UnsupportedError('StridedSlice of a value of unknown rank', `${c.where()} in '${c.file}'`);
  if (![1, 2, 3].every((i) => c.input(i).value)) return stridedSliceComputed(c, x, x.shape);
  const begin = c.ints(1, 'StridedSlice begin');
  const end = c.ints(2, 'StridedSlice end');
  const strides = c.ints(3, 'StridedSlice strides');
  const spec = stridedSliceSpec(x.shape, begin, end, strides, {
    begin: c.attrs.int('begin_mask', 0),
    end: c.attrs.int('end_mask', 0),
    ellipsis: c.attrs.int('ellipsis_mask', 0),
    newAxis: c.attrs.int('new_axis_mask', 0),
    shrink: c.attrs.int('shrink_axis_mask', 0),
  });
  if (x.value && small(x.value.shape)) return [c.constantValue(sliceTensor(x.value, spec.axes).reshape(spec.shape as number[]))];
  const sliced = spec.axes.map((a, i) => ({ ...a, i })).filter((a, i) => !(a.start === 0 && a.step === 1 && (a.end >= INT64_MAX || a.end === x.shape![i])));
  let cur = c.use(x);
  const final = c.out();
  const needsReshape = spec.shrink.length > 0 || spec.newAxes.length > 0;
  if (sliced.length) {
    const out = needsReshape ? c.tmp('slice') : final;
    // a negative step's "up to the start" end: TF's -1 after masking; ONNX needs one below -dim
    const ends = sliced.map((a) => (a.step < 0 && a.end === -1 ? -INT64_MAX : a.end));
    c.emit('Slice', [cur, c.int64(sliced.map((a) => a.start), 'starts'), c.int64(ends, 'ends'), c.int64(sliced.map((a) => a.i), 'axes'), c.int64(sliced.map((a) => a.step), 'steps')], [out]);
    cur = out;
  }
  if (needsReshape) {
    if (known(spec.shape)) c.emit('Reshape', [cur, c.int64(spec.shape, 'shape')], [final]);
    else {
      let v = cur;
      if (spec.shrink.length) {
        const o = spec.newAxes.length ? c.tmp('squeeze') : final;
        c.emit('Squeeze', [v, c.int64(spec.shrink, 'axes')], [o]);
        v = o;
      }
      if (spec.newAxes.length) c.emit('Unsqueeze', [v, c.int64(spec.newAxes, 'new_axes')], [final]);
    }
  } else if (!sliced.length) c.emit('Identity', [cur], [final]);
  const v = c.value(final, x.dtype, spec.shape);
  const a = spec.axes[0];
  if (x.dims && x.shape.length === 1 && a && a.step === 1 && a.start >= 0 && spec.newAxes.length === 0) v.dims = x.dims.slice(a.start, Math.min(a.end, x.dims.length));
  return [v];
}

/**
 * StridedSlice with begin / end / strides computed at run time (no masks) as ONNX Slice over the
 * leading axes they cover: both clamp as Python slicing does, except a begin below -dim with a
 * negative stride (TF: before the first element, an empty slice; ONNX: the first element), where
 * the end is made 0 so that ONNX's slice is empty too.
 */
function stridedSliceComputed(c: NodeCtx, x: TfValue, shape: Dim[]): TfValue[] {
  const masks = ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].filter((m) => c.attrs.int(m, 0));
  if (masks.length) throw new UnsupportedError(`StridedSlice with computed begin / end / strides and ${masks.join(', ')}`, `${c.where()} in '${c.file}'`);
  const count = asNum(dim(c.input(1).shape, 0));
  if (count === null) throw new UnsupportedError('StridedSlice with computed begin of unknown length', `${c.where()} in '${c.file}'`);
  const [begin, end, strides] = [c.int64Input(1, 'begin'), c.int64Input(2, 'end'), c.int64Input(3, 'strides')];
  const full = c.tmp('shape');
  c.emit('Shape', [c.use(x)], [full]);
  const dims = c.tmp('dims');
  c.emit('Slice', [full, c.int64([0], 'dims_start'), c.int64([count], 'dims_end')], [dims]);
  const negDims = c.tmp('neg_dims');
  c.emit('Neg', [dims], [negDims]);
  const below = c.tmp('below');
  c.emit('Less', [begin, negDims], [below]);
  const back = c.tmp('backwards');
  c.emit('Less', [strides, c.int64([0], 'zero', true)], [back]);
  const empty = c.tmp('empty');
  c.emit('And', [below, back], [empty]);
  const ends = c.tmp('ends');
  c.emit('Where', [empty, c.int64([0], 'zero_end', true), end], [ends]);
  const out = c.out();
  c.emit('Slice', [c.use(x), begin, ends, c.int64(Array.from({ length: count }, (_, i) => i), 'axes'), strides], [out]);
  return [c.value(out, x.dtype, shape.map((d, i) => (i < count ? null : d)))];
}

function sliceOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const begin = c.ints(1, 'Slice begin');
  const size = c.ints(2, 'Slice size');
  const axes = begin.map((b, i) => {
    const d = asNum(dim(x.shape, i));
    const s = size[i] === -1 ? (d === null ? -1 : d - b) : size[i]!;
    return { start: b, end: s === -1 ? INT64_MAX : b + s, step: 1, size: s };
  });
  const shape = axes.map((a) => (a.size === -1 ? null : a.size));
  if (x.value && small(x.value.shape)) return [c.constantValue(sliceTensor(x.value, axes))];
  const out = c.out();
  c.emit('Slice', [c.use(x), c.int64(axes.map((a) => a.start), 'starts'), c.int64(axes.map((a) => a.end), 'ends'), c.int64(axes.map((_, i) => i), 'axes')], [out]);
  const v = c.value(out, x.dtype, shape);
  const a = axes[0];
  if (x.dims && x.shape?.length === 1 && a && a.start >= 0) v.dims = x.dims.slice(a.start, Math.min(a.end, x.dims.length));
  return [v];
}

/** SplitV with sizes computed at run time (none of them -1): ONNX's Split takes them as an input. */
function splitComputed(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const rank = x.shape?.length;
  const axisRaw = c.ints(2, 'split axis')[0]!;
  const axis = axisRaw < 0 && rank !== undefined ? axisRaw + rank : axisRaw;
  const count = c.attrs.int('num_split');
  const outs = Array.from({ length: count }, (_, i) => c.out(i));
  c.emit('Split', [c.use(x), c.int64Input(1, 'split')], outs, { axis: attr('int', axis) });
  return outs.map((o) => c.value(o, x.dtype, x.shape ? x.shape.map((d, k) => (k === axis ? null : d)) : undefined));
}

/** LeftShift / RightShift of unsigned integers as ONNX BitShift (which takes no signed types). */
function shiftOp(c: NodeCtx, direction: 'LEFT' | 'RIGHT'): TfValue[] {
  const [a, b] = [c.input(0), c.input(1)];
  if (!a.dtype.startsWith('uint')) throw new UnsupportedError(`${c.op} of ${a.dtype} (ONNX's BitShift takes unsigned integers)`, `${c.where()} in '${c.file}'`);
  const out = c.out();
  c.emit('BitShift', [c.use(a), c.use(b)], [out], { direction: attr('string', direction) });
  return [c.value(out, a.dtype, a.shape && b.shape ? broadcastShapes(a.shape, b.shape) : undefined)];
}

/** TopKV2: the k largest along the last axis, sorted (ONNX TopK's defaults), indices cast to index_type. */
function topKOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const kv = c.input(1);
  if (!c.attrs.bool('sorted', true)) throw new UnsupportedError('TopKV2 with sorted=false', `${c.where()} in '${c.file}'`);
  let k: string;
  if (kv.value) k = c.int64([kv.value.toNumbers()[0]!], 'k');
  else {
    k = c.tmp('k');
    c.emit('Reshape', [c.int64Input(1, 'k_scalar'), c.int64([1], 'k_shape')], [k]);
  }
  const indexType = c.attrs.dtype('index_type', 'int32');
  const values = c.out(0);
  const indices = c.out(1);
  const raw = indexType === 'int64' ? indices : c.tmp('indices_int64');
  c.emit('TopK', [c.use(x), k], [values, raw], { axis: attr('int', -1), largest: attr('int', 1), sorted: attr('int', 1) });
  if (raw !== indices) c.emit('Cast', [raw], [indices], { to: attr('int', onnxType(indexType)) });
  const shape = x.shape ? [...x.shape.slice(0, -1), kv.value ? kv.value.toNumbers()[0]! : null] : undefined;
  return [c.value(values, x.dtype, shape), c.value(indices, indexType, shape)];
}

function scatterNdOp(c: NodeCtx, reduction: 'none' | 'add'): TfValue[] {
  const t = c.input(0);
  const out = c.out();
  c.emit('ScatterND', [c.use(t), c.int64Input(1, 'indices'), c.in(2)], [out], reduction === 'add' ? { reduction: attr('string', 'add') } : {});
  return [c.value(out, t.dtype, t.shape)];
}

/** GatherNd (no batch dims) as ONNX GatherND. */
function gatherNdOp(c: NodeCtx): TfValue[] {
  const p = c.input(0);
  const idx = c.input(1);
  const k = asNum(dim(idx.shape, -1));
  const out = c.out();
  c.emit('GatherND', [c.use(p), c.int64Input(1, 'indices')], [out], { batch_dims: attr('int', 0) });
  const shape = p.shape && idx.shape && k !== null ? [...idx.shape.slice(0, -1), ...p.shape.slice(k)] : undefined;
  return [c.value(out, p.dtype, shape)];
}

function padOp(c: NodeCtx, mode: string): TfValue[] {
  const x = c.input(0);
  if (!c.input(1).value) {
    // paddings computed at run time, (rank, 2) [begin, end] rows: ONNX's [begins..., ends...] is their transpose flattened
    const rank = asNum(dim(c.input(1).shape, 0)) ?? x.shape?.length;
    if (rank === undefined || rank === null) throw new UnsupportedError('computed paddings of unknown rank', `${c.where()} in '${c.file}'`);
    const t = c.tmp('pads_t');
    c.emit('Transpose', [c.int64Input(1, 'paddings')], [t], { perm: attr('ints', [1, 0]) });
    const flat = c.tmp('pads');
    c.emit('Reshape', [t, c.int64([2 * rank], 'pads_shape')], [flat]);
    const inputs = [c.use(x), flat];
    if (c.op === 'PadV2') inputs.push(c.in(2));
    const out = c.out();
    c.emit('Pad', inputs, [out], { mode: attr('string', mode) });
    return [c.value(out, x.dtype, x.shape?.map(() => null))];
  }
  const p = c.ints(1, 'paddings');
  const rank = p.length / 2;
  const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)];
  const inputs = [c.use(x), c.int64(pads, 'pads')];
  if (c.op === 'PadV2') inputs.push(c.in(2));
  const out = c.out();
  c.emit('Pad', inputs, [out], { mode: attr('string', mode) });
  return [c.value(out, x.dtype, x.shape?.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + rank]! : null)))];
}

function transposeOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const perm = c.ints(1, 'Transpose perm');
  const out = c.out();
  c.emit('Transpose', [c.use(x)], [out], { perm: attr('ints', perm) });
  return [c.value(out, x.dtype, x.shape ? perm.map((p) => x.shape![p]!) : undefined)];
}

function matMul(c: NodeCtx, out = c.out()): TfValue[] {
  const a = c.input(0);
  const b = c.input(1);
  const ta = c.attrs.bool('transpose_a');
  const tb = c.attrs.bool('transpose_b');
  const m = dim(a.shape, ta ? 1 : 0);
  const n = dim(b.shape, tb ? 0 : 1);
  if (ta || tb) c.emit('Gemm', [c.use(a), c.use(b)], [out], { transA: attr('int', ta ? 1 : 0), transB: attr('int', tb ? 1 : 0) });
  else c.emit('MatMul', [c.use(a), c.use(b)], [out]);
  return [c.value(out, a.dtype, [m, n])];
}

function batchMatMul(c: NodeCtx): TfValue[] {
  const adj = (i: number, flag: string): { name: string; shape?: Dim[] } => {
    const v = c.input(i);
    if (!c.attrs.bool(flag)) return { name: c.use(v), shape: v.shape };
    const r = v.shape?.length;
    if (r === undefined) throw new UnsupportedError('BatchMatMul adjoint of a value of unknown rank', `${c.where()} in '${c.file}'`);
    const perm = [...Array.from({ length: r - 2 }, (_, k) => k), r - 1, r - 2];
    const t = c.tmp(`adj${i}`);
    c.emit('Transpose', [c.use(v)], [t], { perm: attr('ints', perm) });
    return { name: t, shape: perm.map((p) => v.shape![p]!) };
  };
  const a = adj(0, 'adj_x');
  const b = adj(1, 'adj_y');
  const out = c.out();
  c.emit('MatMul', [a.name, b.name], [out]);
  let shape: Dim[] | undefined;
  if (a.shape && b.shape) {
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (batch) shape = [...batch, dim(a.shape, -2), dim(b.shape, -1)];
  }
  return [c.value(out, c.input(0).dtype, shape)];
}

function resize(c: NodeCtx, mode: 'linear' | 'nearest'): TfValue[] {
  const x = c.input(0);
  // the size is a constant, or (inside a loop body nnport's GraphDef writer emitted) computed at run time: then the
  // ONNX sizes are Concat(batch, size cast to int64, channels), which the Resize takes at run time too
  const computed = !c.input(1).value;
  const size: (number | null)[] = computed ? [null, null] : c.ints(1, 'resize size');
  const align = c.attrs.bool('align_corners');
  const half = c.attrs.bool('half_pixel_centers');
  const attrs: Record<string, Attr> = { mode: attr('string', mode) };
  if (mode === 'linear') attrs.coordinate_transformation_mode = attr('string', align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric');
  else {
    attrs.coordinate_transformation_mode = attr('string', align ? 'align_corners' : half ? 'tf_half_pixel_for_nn' : 'asymmetric');
    attrs.nearest_mode = attr('string', align ? 'round_prefer_ceil' : 'floor');
  }
  const n = dim(x.shape, 0);
  const ch = dim(x.shape, 3);
  let sizes: string;
  if (!computed && typeof n === 'number' && typeof ch === 'number') sizes = c.int64([n, size[0]!, size[1]!, ch], 'sizes');
  else {
    const s = c.tmp('in_shape');
    c.emit('Shape', [c.use(x)], [s]);
    const nb = c.tmp('batch');
    const cb = c.tmp('channels');
    c.emit('Slice', [s, c.int64([0], 's0'), c.int64([1], 'e0')], [nb]);
    c.emit('Slice', [s, c.int64([3], 's3'), c.int64([4], 'e3')], [cb]);
    sizes = c.tmp('sizes');
    const hw = computed ? c.int64Input(1, 'hw') : c.int64(size as number[], 'hw');
    c.emit('Concat', [nb, hw, cb], [sizes], { axis: attr('int', 0) });
  }
  const out = c.out();
  // plain ONNX Resize over the NHWC data: N and C keep their sizes, only H and W change
  c.emit('Resize', [c.use(x), '', '', sizes], [out], attrs);
  return [c.value(out, x.dtype, [n, size[0]!, size[1]!, ch])];
}

function castOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const to = c.dtypeAttr('DstT');
  if (x.value && small(x.value.shape) && x.dtype !== 'float16' && x.dtype !== 'bfloat16' && to !== 'float16' && to !== 'bfloat16' && to !== 'string') {
    return [c.constantValue(tensorOf(to, x.value.shape, x.value.toNumbers()))];
  }
  const out = c.out();
  c.emit('Cast', [c.use(x)], [out], { to: attr('int', onnxType(to)) });
  return [c.value(out, to, x.shape)];
}

function fillOp(c: NodeCtx): TfValue[] {
  const dims = c.input(0);
  const v = c.input(1);
  if (dims.value && v.value && small(dims.value.toNumbers()) && v.dtype !== 'string') {
    const shape = dims.value.toNumbers();
    return [c.constantValue(tensorOf(v.dtype, shape, new Array<number>(shapeSize(shape)).fill(v.value.toNumbers()[0]!)))];
  }
  const out = c.out();
  c.emit('Expand', [c.use(v), c.int64Input(0, 'shape')], [out]);
  return [c.value(out, v.dtype, shapeFromOperand(dims))];
}

function rangeOp(c: NodeCtx): TfValue[] {
  const [s, l, d] = [c.input(0), c.input(1), c.input(2)];
  if (s.value && l.value && d.value) {
    const [a, b, k] = [s.value.toNumbers()[0]!, l.value.toNumbers()[0]!, d.value.toNumbers()[0]!];
    const n = Math.max(0, Math.ceil((b - a) / k));
    if (n <= MAX_FOLD_ELEMENTS) return [c.constantValue(tensorOf(s.dtype, [n], Array.from({ length: n }, (_, i) => a + i * k)))];
  }
  const out = c.out();
  c.emit('Range', [c.use(s), c.use(l), c.use(d)], [out]);
  return [c.value(out, s.dtype, [null])];
}

function placeholder(c: NodeCtx): TfValue[] {
  const dtype = c.dtypeAttr('dtype');
  const given = c.cv.options.inputShapes?.[c.name];
  const declared = c.attrs.shape('shape');
  if (given && declared && (given.length !== declared.length || given.some((d, i) => declared[i] !== null && declared[i] !== d))) {
    throw new ShapeError(`--input-shape ${c.name}=${given.join(',')} does not fit its declared shape [${declared.map((d) => d ?? '?').join(', ')}]`);
  }
  const shape: Dim[] | undefined = given ?? declared;
  const name = c.out();
  c.cv.graph.inputs.push({ name, dtype, shape });
  return [c.value(name, dtype, shape)];
}

function constOp(c: NodeCtx): TfValue[] {
  const t = c.attrs.tensor('value');
  return [{ name: '', dtype: t.dtype, shape: [...t.shape], value: t, constName: c.name }];
}

function gatherOp(c: NodeCtx): TfValue[] {
  const p = c.input(0);
  const idx = c.input(1);
  let axis = c.op === 'GatherV2' ? c.ints(2, 'Gather axis')[0]! : 0;
  if (c.attrs.int('batch_dims', 0)) throw new UnsupportedError('GatherV2 with batch_dims', `${c.where()} in '${c.file}'`);
  const rank = p.shape?.length;
  if (axis < 0 && rank !== undefined) axis += rank;
  const shape = p.shape && idx.shape ? [...p.shape.slice(0, axis), ...idx.shape, ...p.shape.slice(axis + 1)] : undefined;
  if (p.value && idx.value && small(p.value.shape) && small(idx.value.shape)) return [c.constantValue(gather(p.value, idx.value, axis))];
  const out = c.out();
  c.emit('Gather', [c.use(p), c.use(idx)], [out], { axis: attr('int', axis) });
  return [c.value(out, p.dtype, shape)];
}

function selectOp(c: NodeCtx): TfValue[] {
  const [cond, a, b] = [c.input(0), c.input(1), c.input(2)];
  let condName = c.use(cond);
  // Select (v1) with a vector condition picks whole rows of higher-rank operands
  if (c.op === 'Select' && cond.shape?.length === 1 && (a.shape?.length ?? 1) > 1) {
    const r = c.tmp('cond');
    c.emit('Unsqueeze', [condName, c.int64(Array.from({ length: a.shape!.length - 1 }, (_, i) => i + 1), 'axes')], [r]);
    condName = r;
  }
  const out = c.out();
  c.emit('Where', [condName, c.use(a), c.use(b)], [out]);
  const shape = a.shape && b.shape ? broadcastShapes(a.shape, b.shape) : undefined;
  return [c.value(out, a.dtype, shape && cond.shape ? broadcastShapes(shape, cond.shape) : shape)];
}

function scalarRow(compute: (x: TfValue, c: NodeCtx) => number, what: string): OpConvert {
  return (c) => {
    const x = c.input(0);
    if (!known(x.shape)) throw new UnsupportedError(`${what} of a value of unknown shape`, `${c.where()} in '${c.file}' (fix it with --input-shape)`);
    return [c.constantValue(tensorOf(c.attrs.dtype('out_type', 'int32'), [], [compute(x, c)]))];
  };
}

function identityN(c: NodeCtx): TfValue[] {
  return c.inputs;
}

function squaredDifference(c: NodeCtx): TfValue[] {
  const a = c.input(0);
  const b = c.input(1);
  const d = c.tmp('diff');
  c.emit('Sub', [c.use(a), c.use(b)], [d]);
  const out = c.out();
  c.emit('Mul', [d, d], [out]);
  return [c.value(out, a.dtype, a.shape && b.shape ? broadcastShapes(a.shape, b.shape) : undefined)];
}

/**
 * Conv2DBackpropInput as ConvTranspose. input_sizes may be computed at run time (the batch read by
 * Shape, as nnport's GraphDef writer takes it for a detector's per-box heads): TF checks that its
 * batch is the input's and its channels the filter's, so only its spatial sizes must be known.
 */
function conv2dBackpropInput(c: NodeCtx): TfValue[] {
  const format = dataFormat(c);
  const sizesValue = c.input(0);
  const sizes = sizesValue.value ? sizesValue.value.toNumbers() : shapeElements(sizesValue);
  const f = c.input(1);
  const x = c.input(2);
  if (!known(f.shape)) throw new UnsupportedError('a transposed-convolution filter of unknown shape', `${c.where()} in '${c.file}'`);
  const [kh, kw, cout] = f.shape as number[];
  const w: Window = { kernel: [kh!, kw!], strides: fourAttr(c, 'strides', format, [1, 1, 1, 1]), dilations: fourAttr(c, 'dilations', format, [1, 1, 1, 1]) };
  const outSpatial = sizes && sizes.length === 4 ? (format === 'NHWC' ? sizes.slice(1, 3) : sizes.slice(2, 4)) : undefined;
  const inSpatial = spatialOf(x.shape, format);
  if (!outSpatial || !outSpatial.every((d): d is number => typeof d === 'number') || !inSpatial.every((d) => typeof d === 'number')) {
    return runTimeConvTranspose(c, format, w, cout!, outSpatial?.map((d) => (typeof d === 'number' ? d : null)) ?? [null, null]);
  }
  // the forward conv's pads on the output; what the pads leave over goes into output_padding
  const fwd = windowPads(c, outSpatial, w, format);
  if (!fwd.pads) throw new UnsupportedError('Conv2DBackpropInput with an input of unknown size', `${c.where()} in '${c.file}'`);
  // TF refuses input_sizes whose forward convolution is not the input's size; ONNX would crop or pad instead
  if (fwd.out.some((o, i) => o !== inSpatial[i])) {
    throw new ShapeError(`${c.where()}: input_sizes ${outSpatial.join('x')} convolve to ${fwd.out.join('x')}, not to the input's ${inSpatial.join('x')}`);
  }
  const pads = fwd.pads;
  const outputPadding = outSpatial.map((o, i) => o - (((inSpatial[i] as number) - 1) * w.strides[i]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1 - pads[i]! - pads[i + 2]!));
  const attrs: Record<string, Attr> = {
    kernel_shape: attr('ints', w.kernel),
    strides: attr('ints', w.strides),
    dilations: attr('ints', w.dilations),
    pads: attr('ints', pads),
    output_padding: attr('ints', outputPadding),
  };
  const out = c.out();
  emitConvTranspose(c, format, attrs, out);
  return [c.value(out, x.dtype, withSpatial(x.shape, format, outSpatial, cout!))];
}

/** Conv2DBackpropInput's transposed convolution of its input (2) by its filter (1) into `out`, with ONNX `attrs`. */
function emitConvTranspose(c: NodeCtx, format: 'NHWC' | 'NCHW', attrs: Record<string, Attr>, out: string): void {
  if (format === 'NHWC') c.emit('ConvTranspose', [c.in(2), c.in(1)], [out], { ...attrs, kernel_layout: attr('string', 'HWOI') }, 'nnport');
  else {
    // TF filter (kh, kw, out, in) -> ONNX ConvTranspose (in, out, kh, kw)
    const t = c.tmp('filter_iohw');
    c.emit('Transpose', [c.in(1)], [t], { perm: attr('ints', [3, 2, 0, 1]) });
    c.emit('ConvTranspose', [c.in(2), t], [out], attrs);
  }
}

/**
 * Conv2DBackpropInput whose output height / width (input_sizes) or input size is known only at run
 * time: a Keras Conv2DTranspose on an input of unknown height / width, whose input_sizes is
 * Pack(batch, h·s, w·s, filters) of Shape(x). The full transposed conv, F = (in − 1)·s + (k − 1)·d + 1
 * per axis (no pads), is zero-padded by s − 1 at the end of each spatial axis and sliced at run time
 * to TF's window [p, p + out): p = ⌊max(F − out, 0) / 2⌋ for SAME (the forward conv's pads of `out`,
 * the odd one at the end), 0 for VALID. TF checks that `out` convolves back to the input's size,
 * which bounds it by F + s − 1, so the static end padding always covers the slice.
 */
function runTimeConvTranspose(c: NodeCtx, format: 'NHWC' | 'NCHW', w: Window, cout: number, outSpatial: Dim[]): TfValue[] {
  const padding = c.attrs.string('padding', 'VALID');
  if (padding !== 'SAME' && padding !== 'VALID') throw new UnsupportedError(`Conv2DBackpropInput with ${padding} padding and a height / width known only at run time`, `${c.where()} in '${c.file}'`);
  const x = c.input(2);
  const full = c.tmp('full');
  emitConvTranspose(c, format, { kernel_shape: attr('ints', w.kernel), strides: attr('ints', w.strides), dilations: attr('ints', w.dilations), pads: attr('ints', [0, 0, 0, 0]), output_padding: attr('ints', [0, 0]) }, full);
  const axes = format === 'NHWC' ? [1, 2] : [2, 3];
  let padded = full;
  if (w.strides.some((s) => s > 1)) {
    padded = c.tmp('padded');
    const ends = [0, 0, 0, 0];
    axes.forEach((a, i) => (ends[a] = w.strides[i]! - 1));
    c.emit('Pad', [full, c.int64([0, 0, 0, 0, ...ends], 'end_pads')], [padded]);
  }
  const spatialIdx = c.int64(axes, 'spatial_axes');
  const sizes64 = c.int64InputOf(c.input(0), 'sizes64');
  const outHw = c.tmp('out_hw');
  c.emit('Gather', [sizes64, spatialIdx], [outHw], { axis: attr('int', 0) });
  let start: string;
  if (padding === 'VALID') start = c.int64([0, 0], 'start');
  else {
    const fullShape = c.tmp('full_shape');
    c.emit('Shape', [full], [fullShape]);
    const fullHw = c.tmp('full_hw');
    c.emit('Gather', [fullShape, spatialIdx], [fullHw], { axis: attr('int', 0) });
    const over = c.tmp('over');
    c.emit('Sub', [fullHw, outHw], [over]);
    const pads = c.tmp('pads');
    c.emit('Max', [over, c.int64([0], 'zero')], [pads]);
    start = c.tmp('start');
    c.emit('Div', [pads, c.int64([2], 'two')], [start]);
  }
  const end = c.tmp('end');
  c.emit('Add', [start, outHw], [end]);
  const out = c.out();
  c.emit('Slice', [padded, start, end, spatialIdx], [out]);
  return [c.value(out, x.dtype, withSpatial(x.shape, format, outSpatial, cout))];
}

// ---- ops the GraphDef writer emits (read back exactly as TensorFlow defines them) ----

const isFloatType = (d: DType) => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

/** C's fmod (the sign of the dividend); integers as JS numbers */
const fmod = (x: number, y: number): number => (y === 0 ? NaN : x % y);
/** Python's modulo (the sign of the divisor), as TF's FloorMod */
const floorMod = (x: number, y: number): number => {
  const r = fmod(x, y);
  return r !== 0 && y < 0 !== r < 0 ? r + y : r;
};

/** A binary op of TF's whose ONNX form is built by `emit` (folded with `fold` when both inputs are small constants). */
function binaryRow(outType: (a: DType) => DType, fold: (x: number, y: number, dtype: DType) => number, emit: (c: NodeCtx, a: string, b: string, out: string, dtype: DType) => void): OpConvert {
  return (c) => {
    const a = c.input(0);
    const b = c.input(1);
    const dtype = outType(a.dtype);
    const shape = a.shape && b.shape ? broadcastShapes(a.shape, b.shape) : undefined;
    if (a.value && b.value && small(a.value.shape) && small(b.value.shape) && !['float16', 'bfloat16', 'int64', 'uint64'].includes(a.dtype)) {
      return [c.constantValue(binary(a.value, b.value, dtype, (x, y) => fold(x, y, a.dtype)))];
    }
    const out = c.out();
    emit(c, c.use(a), c.use(b), out, a.dtype);
    return [c.value(out, dtype, shape)];
  };
}

/** FloorMod: the remainder with the divisor's sign (Python's %): ONNX Mod fmod=0 on integers; on floats fmod, then + y where its sign differs from y's. */
const floorModOp = binaryRow(
  (a) => a,
  (x, y, d) => (isFloatType(d) ? floorMod(x, y) : y === 0 ? 0 : floorMod(x, y)),
  (c, a, b, out, dtype) => {
    if (!isFloatType(dtype)) return c.emit('Mod', [a, b], [out], { fmod: attr('int', 0) });
    const r = c.tmp('fmod');
    c.emit('Mod', [a, b], [r], { fmod: attr('int', 1) });
    const zero = c.constTensor(tensorOf(dtype, [], [0]), 'zero');
    const [rNeg, yNeg, signs, rZero, rNonZero, fix, shifted] = ['r_neg', 'y_neg', 'signs_differ', 'r_zero', 'r_nonzero', 'fix', 'shifted'].map((s) => c.tmp(s)) as [string, string, string, string, string, string, string];
    c.emit('Less', [r, zero], [rNeg]);
    c.emit('Less', [b, zero], [yNeg]);
    c.emit('Xor', [rNeg, yNeg], [signs]);
    c.emit('Equal', [r, zero], [rZero]);
    c.emit('Not', [rZero], [rNonZero]);
    c.emit('And', [signs, rNonZero], [fix]);
    c.emit('Add', [r, b], [shifted]);
    c.emit('Where', [fix, shifted, r], [out]);
  },
);

/** TruncateMod: C's fmod (the dividend's sign), ONNX Mod fmod=1 for every type. */
const truncateModOp = binaryRow(
  (a) => a,
  (x, y, d) => (!isFloatType(d) && y === 0 ? 0 : fmod(x, y)),
  (c, a, b, out) => c.emit('Mod', [a, b], [out], { fmod: attr('int', 1) }),
);

/** TruncateDiv: x / y rounded toward zero; ONNX Div on integers truncates, floats are truncated after it. */
const truncateDivOp = binaryRow(
  (a) => a,
  (x, y, d) => (!isFloatType(d) && y === 0 ? 0 : Math.trunc(x / y)),
  (c, a, b, out, dtype) => {
    if (!isFloatType(dtype)) return c.emit('Div', [a, b], [out]);
    const q = c.tmp('quotient');
    c.emit('Div', [a, b], [q]);
    const [neg, up, down] = ['negative', 'ceil', 'floor'].map((s) => c.tmp(s)) as [string, string, string];
    c.emit('Less', [q, c.constTensor(tensorOf(dtype, [], [0]), 'zero')], [neg]);
    c.emit('Ceil', [q], [up]);
    c.emit('Floor', [q], [down]);
    c.emit('Where', [neg, up, down], [out]);
  },
);

/** FloorDiv: x / y rounded down (embedding_lookup's 'mod' ids); on integers (x - FloorMod(x, y)) / y, which ONNX's truncating Div gives exactly. */
const floorDivOp = binaryRow(
  (a) => a,
  (x, y, d) => (!isFloatType(d) && y === 0 ? 0 : Math.floor(x / y)),
  (c, a, b, out, dtype) => {
    const [q, r, exact] = ['quotient', 'floor_mod', 'exact'].map((s) => c.tmp(s)) as [string, string, string];
    if (isFloatType(dtype)) {
      c.emit('Div', [a, b], [q]);
      return c.emit('Floor', [q], [out]);
    }
    c.emit('Mod', [a, b], [r], { fmod: attr('int', 0) });
    c.emit('Sub', [a, r], [exact]);
    c.emit('Div', [exact, b], [out]);
  },
);

const notEqualOp = binaryRow(
  () => 'bool',
  (x, y) => +(x !== y),
  (c, a, b, out) => {
    const eq = c.tmp('equal');
    c.emit('Equal', [a, b], [eq]);
    c.emit('Not', [eq], [out]);
  },
);

/** A unary op with a bool output (IsNan, IsInf). */
function predicateRow(onnx: string): OpConvert {
  return (c) => {
    const x = c.input(0);
    const out = c.out();
    c.emit(onnx, [c.use(x)], [out]);
    return [c.value(out, 'bool', x.shape)];
  };
}

/** ReverseV2(x, axes): one Slice with step -1 over each axis. */
function reverseOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const rank = x.shape?.length;
  const axes = c.ints(1, 'ReverseV2 axis').map((a) => (a < 0 && rank !== undefined ? a + rank : a));
  if (axes.some((a) => a < 0)) throw new UnsupportedError('ReverseV2 over a negative axis of a value of unknown rank', `${c.where()} in '${c.file}'`);
  const out = c.out();
  if (!axes.length) c.emit('Identity', [c.use(x)], [out]);
  else c.emit('Slice', [c.use(x), c.int64(axes.map(() => -1), 'starts'), c.int64(axes.map(() => -INT64_MAX), 'ends'), c.int64(axes, 'axes'), c.int64(axes.map(() => -1), 'steps')], [out]);
  return [c.value(out, x.dtype, x.shape)];
}

/** BroadcastTo(x, shape): ONNX Expand (both broadcast numpy-style). */
function broadcastToOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const s = c.input(1);
  // the result's rank is the target's length, known even when the target is computed at run time
  const target = shapeFromOperand(s);
  const out = c.out();
  c.emit('Expand', [c.use(x), c.int64Input(1, 'shape')], [out]);
  return [c.value(out, x.dtype, target && x.shape ? broadcastShapes(x.shape, target) : target)];
}

/**
 * BroadcastArgs(s0, s1): the numpy broadcast of two shape vectors (what the GraphDef writer emits for a
 * run-time Expand). Constants fold; otherwise Shape(Expand(ConstantOfShape(s0) of uint8 zeros, s1)), exact,
 * including zero-size dims, at the cost of one byte per element of the broadcast shape.
 */
function broadcastArgsOp(c: NodeCtx): TfValue[] {
  const a = c.input(0);
  const b = c.input(1);
  const dtype = c.attrs.dtype('T', 'int32');
  const av = a.value?.toNumbers();
  const bv = b.value?.toNumbers();
  if (av && bv) {
    const bc = broadcastShapes(av, bv);
    if (!bc || bc.some((d) => typeof d !== 'number')) throw new ShapeError(`BroadcastArgs of [${av.join(', ')}] and [${bv.join(', ')}] do not broadcast in ${c.where()} of '${c.file}'`);
    const r = bc as number[];
    return [c.constantValue(tensorOf(dtype, [r.length], r))];
  }
  const zeros = c.tmp('zeros');
  c.emit('ConstantOfShape', [c.int64InputOf(a, 's0')], [zeros], { value: { type: 'tensor', value: Tensor.zeros('uint8', [1]) } });
  const expanded = c.tmp('broadcast');
  c.emit('Expand', [zeros, c.int64InputOf(b, 's1')], [expanded]);
  const out = c.out();
  const raw = dtype === 'int64' ? out : c.tmp('int64');
  c.emit('Shape', [expanded], [raw]);
  if (raw !== out) c.emit('Cast', [raw], [out], { to: attr('int', onnxType(dtype)) });
  const ra = asNum(dim(a.shape, 0));
  const rb = asNum(dim(b.shape, 0));
  return [c.value(out, dtype, [ra !== null && rb !== null ? Math.max(ra, rb) : null])];
}

/** Cumsum(x, axis) with TF's exclusive / reverse: ONNX CumSum's attributes of the same meaning. */
function cumsumOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const out = c.out();
  c.emit('CumSum', [c.use(x), c.int64Input(1, 'axis')], [out], { exclusive: attr('int', c.attrs.bool('exclusive') ? 1 : 0), reverse: attr('int', c.attrs.bool('reverse') ? 1 : 0) });
  return [c.value(out, x.dtype, x.shape)];
}

/**
 * OneHot(indices, depth, on, off, axis): TF gives an all-off row for an index outside [0, depth);
 * ONNX counts a negative index from the end, so negative indices become depth (out of range).
 */
function oneHotOp(c: NodeCtx): TfValue[] {
  const idx = c.input(0);
  const d = c.input(1);
  const depth = d.value ? d.value.toNumbers()[0]! : null;
  const [on, off] = [c.input(2), c.input(3)];
  const rank = idx.shape?.length;
  let axis = c.attrs.int('axis', -1);
  if (axis < 0 && rank !== undefined) axis += rank + 1;
  const neg = c.tmp('negative');
  c.emit('Less', [c.use(idx), c.constTensor(tensorOf(idx.dtype, [], [0]), 'zero')], [neg]);
  let outside: string;
  if (depth !== null) outside = c.constTensor(tensorOf(idx.dtype, [], [depth]), 'depth_index');
  else {
    outside = c.tmp('depth_index');
    c.emit('Cast', [c.use(d)], [outside], { to: attr('int', onnxType(idx.dtype)) });
  }
  const wrapped = c.tmp('indices');
  c.emit('Where', [neg, outside, c.use(idx)], [wrapped]);
  let values: string;
  if (on.value && off.value && on.dtype !== 'float16' && on.dtype !== 'bfloat16') values = c.constTensor(tensorOf(on.dtype, [2], [off.value.toNumbers()[0]!, on.value.toNumbers()[0]!]), 'values');
  else {
    const parts = [off, on].map((v, i) => {
      const r = c.tmp(`value${i}`);
      c.emit('Reshape', [c.use(v), c.int64([1], `value${i}_shape`)], [r]);
      return r;
    });
    values = c.tmp('values');
    c.emit('Concat', parts, [values], { axis: attr('int', 0) });
  }
  const out = c.out();
  c.emit('OneHot', [wrapped, depth !== null ? c.int64([depth], 'depth', true) : c.use(d), values], [out], { axis: attr('int', axis < 0 ? -1 : axis) });
  const shape = idx.shape && axis >= 0 ? [...idx.shape.slice(0, axis), depth, ...idx.shape.slice(axis)] : undefined;
  return [c.value(out, on.dtype, shape)];
}

/** MaxPool3D / AvgPool3D over NDHWC: the channels-last nnport pool; ksize / strides of 5 values. */
function pool3d(c: NodeCtx, opType: 'MaxPool' | 'AveragePool'): TfValue[] {
  // TF's CPU kernels take NDHWC only (as its writer and Keras make them)
  const f = c.attrs.string('data_format', 'NDHWC');
  if (f !== 'NDHWC') throw new UnsupportedError(`${c.op} with data_format ${f}`, `${c.where()} in '${c.file}'`);
  const format = 'NHWC';
  const five = (name: string): number[] => {
    const v = c.attrs.ints(name, [1, 1, 1, 1, 1]);
    if (v.length !== 5) throw new FormatError(`${c.where()}: attribute '${name}' has ${v.length} values, not 5`, { file: c.file });
    if (v[0]! !== 1 || v[4]! !== 1) throw new UnsupportedError(`${c.op} with ${name} over the batch or channels`, `${c.where()} in '${c.file}'`);
    return v.slice(1, 4);
  };
  const x = c.input(0);
  const w: Window = { kernel: five('ksize'), strides: five('strides'), dilations: [1, 1, 1] };
  const spatial = x.shape ? x.shape.slice(1, -1) : [null, null, null];
  const p = windowPads(c, spatial, w, format);
  const out = c.out();
  c.emit(opType, [c.use(x)], [out], { kernel_shape: attr('ints', w.kernel), strides: attr('ints', w.strides), ...padAttrs(p) }, 'nnport');
  const ch = dim(x.shape, -1);
  return [c.value(out, x.dtype, withSpatial(x.shape, format, p.out, ch))];
}

/**
 * Conv3D over NDHWC data with a (kd, kh, kw, in, out) filter: ONNX's Conv between Transposes to
 * and from NCDHW, the filter transposed to OIDHW.
 */
function conv3dOp(c: NodeCtx): TfValue[] {
  const f = c.attrs.string('data_format', 'NDHWC');
  if (f !== 'NDHWC') throw new UnsupportedError(`Conv3D with data_format ${f}`, `${c.where()} in '${c.file}'`);
  const five = (name: string): number[] => {
    const v = c.attrs.ints(name, [1, 1, 1, 1, 1]);
    if (v.length !== 5) throw new FormatError(`${c.where()}: attribute '${name}' has ${v.length} values, not 5`, { file: c.file });
    if (v[0]! !== 1 || v[4]! !== 1) throw new UnsupportedError(`Conv3D with ${name} over the batch or channels`, `${c.where()} in '${c.file}'`);
    return v.slice(1, 4);
  };
  const x = c.input(0);
  const filt = c.input(1);
  const k = filt.shape?.slice(0, 3);
  if (!k || k.some((d) => typeof d !== 'number')) throw new UnsupportedError('a Conv3D filter of unknown size', `${c.where()} in '${c.file}'`);
  const w: Window = { kernel: k as number[], strides: five('strides'), dilations: five('dilations') };
  const spatial = x.shape ? x.shape.slice(1, -1) : [null, null, null];
  const p = windowPads(c, spatial, w, 'NHWC');
  const xt = c.tmp('ncdhw');
  c.emit('Transpose', [c.use(x)], [xt], { perm: attr('ints', [0, 4, 1, 2, 3]) });
  const ft = c.tmp('oidhw');
  c.emit('Transpose', [c.use(filt)], [ft], { perm: attr('ints', [4, 3, 0, 1, 2]) });
  const y = c.tmp('conv');
  c.emit('Conv', [xt, ft], [y], { kernel_shape: attr('ints', w.kernel), strides: attr('ints', w.strides), dilations: attr('ints', w.dilations), ...padAttrs(p) });
  const out = c.out();
  c.emit('Transpose', [y], [out], { perm: attr('ints', [0, 2, 3, 4, 1]) });
  return [c.value(out, x.dtype, [dim(x.shape, 0), ...p.out, dim(filt.shape, 4)])];
}

/**
 * LRN over the last axis (NHWC): sqr_sum over d - r .. d + r, x / (bias + alpha sqr_sum)^beta;
 * ONNX's size 2r + 1 divides alpha by the size, so alpha · size.
 */
function lrnOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  if (x.shape && x.shape.length !== 4) throw new UnsupportedError(`LRN of a ${x.shape.length}-D value`, `${c.where()} in '${c.file}'`);
  const r = c.attrs.int('depth_radius', 5);
  const size = 2 * r + 1;
  const out = c.out();
  c.emit('LRN', [c.use(x)], [out], { size: attr('int', size), alpha: attr('float', c.attrs.float('alpha', 1) * size), beta: attr('float', c.attrs.float('beta', 0.5)), bias: attr('float', c.attrs.float('bias', 1)) }, 'nnport');
  return [c.value(out, x.dtype, x.shape)];
}

/** DepthToSpace / SpaceToDepth over NHWC (TF splits the depth as ONNX's DCR): the channels-last nnport ops. */
function depthSpace(c: NodeCtx, opType: 'DepthToSpace' | 'SpaceToDepth'): TfValue[] {
  const format = dataFormat(c);
  if (format !== 'NHWC') throw new UnsupportedError(`${c.op} with data_format ${format}`, `${c.where()} in '${c.file}'`);
  const x = c.input(0);
  const b = c.attrs.int('block_size');
  const out = c.out();
  c.emit(opType, [c.use(x)], [out], { blocksize: attr('int', b), ...(opType === 'DepthToSpace' ? { mode: attr('string', 'DCR') } : {}) }, 'nnport');
  const s = x.shape;
  let shape: Dim[] | undefined;
  if (s && s.length === 4) {
    // DepthToSpace: H, W times b, C / b²; SpaceToDepth the other way
    const k = opType === 'DepthToSpace' ? b : 1 / b;
    const scale = (d: Dim, f: number): Dim => (typeof d === 'number' ? d * f : null);
    shape = [s[0]!, scale(s[1]!, k), scale(s[2]!, k), scale(s[3]!, 1 / (k * k))];
  }
  return [c.value(out, x.dtype, shape)];
}


const unary = (onnx: string, fold?: (x: number) => number) => unaryRow(onnx, undefined, fold);

// ---- Einsum, MatrixDeterminant, ReverseSequence, NonMaxSuppression ----

function einsumOp(c: NodeCtx): TfValue[] {
  const equation = c.attrs.string('equation');
  const out = c.out();
  c.emit('Einsum', c.inputs.map((v) => c.use(v)), [out], { equation: attr('string', equation) });
  let shape: Dim[] | undefined;
  if (c.inputs.every((v) => v.shape)) {
    const eq = parseEinsumEquation(equation);
    const labels = einsumLabels(eq, c.inputs.map((v) => v.shape!.length));
    const dims = einsumDims(labels, c.inputs.map((v) => v.shape!), equation);
    shape = labels.output.map((l) => dims.get(l) ?? null);
  }
  return [c.value(out, c.input(0).dtype, shape)];
}

/** ReverseSequence: ONNX's takes batch and time on axes 0 and 1; others are transposed there and back. */
function reverseSequenceOp(c: NodeCtx): TfValue[] {
  const x = c.input(0);
  const rank = x.shape?.length;
  let seq = c.attrs.int('seq_dim');
  let batch = c.attrs.int('batch_dim', 0);
  if (rank !== undefined) {
    if (seq < 0) seq += rank;
    if (batch < 0) batch += rank;
  }
  if (seq === batch || seq < 0 || batch < 0 || (rank !== undefined && (seq >= rank || batch >= rank))) throw new FormatError(`${c.where()}: seq_dim ${seq} and batch_dim ${batch} must be two axes of a rank-${rank ?? '?'} input`, { file: c.file });
  const lens = c.int64Input(1, 'seq_lengths');
  const out = c.out();
  if (seq <= 1 && batch <= 1) {
    c.emit('ReverseSequence', [c.use(x), lens], [out], { batch_axis: attr('int', batch), time_axis: attr('int', seq) });
    return [c.value(out, x.dtype, x.shape)];
  }
  if (rank === undefined) throw new UnsupportedError('ReverseSequence beyond axes 0 and 1 of a value of unknown rank', `${c.where()} in '${c.file}'`);
  const perm = [batch, seq, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== batch && i !== seq)];
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const front = c.tmp('batch_time_first');
  c.emit('Transpose', [c.use(x)], [front], { perm: attr('ints', perm) });
  const reversed = c.tmp('reversed');
  c.emit('ReverseSequence', [front, lens], [reversed], { batch_axis: attr('int', 0), time_axis: attr('int', 1) });
  c.emit('Transpose', [reversed], [out], { perm: attr('ints', inverse) });
  return [c.value(out, x.dtype, x.shape)];
}

/** A float threshold operand of NonMaxSuppression as a float32 [1] value. */
function nmsThreshold(c: NodeCtx, i: number, what: string, check?: (v: number) => boolean): string {
  const v = c.input(i);
  if (v.value) {
    const t = v.value.toNumbers()[0]!;
    if (check && !check(t)) throw new FormatError(`${c.where()}: ${what} ${t} is outside [0, 1]`, { file: c.file });
    return c.constTensor(Tensor.float32([1], [t]), what);
  }
  let f = c.use(v);
  if (v.dtype !== 'float32') {
    const cast = c.tmp(`${what}_float32`);
    c.emit('Cast', [f], [cast], { to: attr('int', 1) });
    f = cast;
  }
  const out = c.tmp(what);
  c.emit('Reshape', [f, c.int64([1], `${what}_shape`)], [out]);
  return out;
}

/**
 * NonMaxSuppression V1-V5 of one class (boxes [N, 4], either diagonal; scores [N]) as ONNX's over a
 * batch of one and one class: TF's CPU kernel and ONNX's are the same greedy selection (scores
 * above score_threshold, ties the lower index first, suppressed at IoU > iou_threshold). V4 / V5
 * pad the indices (and V5's scores) with zeros to max_output_size when asked and give the count.
 */
function nonMaxSuppressionOp(c: NodeCtx, version: number): TfValue[] {
  const boxes = c.input(0);
  const scores = c.input(1);
  if (version === 5) {
    const sigma = c.input(5);
    if (!sigma.value) throw new UnsupportedError('NonMaxSuppressionV5 with a computed soft_nms_sigma', `${c.where()} in '${c.file}': soft-NMS (sigma > 0) is not supported, so sigma must be a constant 0`);
    const s = sigma.value.toNumbers()[0]!;
    if (s !== 0) throw new UnsupportedError(`NonMaxSuppressionV5 with soft_nms_sigma ${s} (soft-NMS)`, `${c.where()} in '${c.file}'`);
  }
  const asF32 = (v: TfValue, what: string): string => {
    if (v.dtype === 'float32') return c.use(v);
    if (v.dtype !== 'float16') throw new UnsupportedError(`${c.op} of ${v.dtype} ${what}`, `${c.where()} in '${c.file}'`);
    const out = c.tmp(`${what}_float32`);
    c.emit('Cast', [c.use(v)], [out], { to: attr('int', 1) });
    return out;
  };
  const boxes3 = c.tmp('boxes_batch');
  c.emit('Unsqueeze', [asF32(boxes, 'boxes'), c.int64([0], 'batch_axis')], [boxes3]);
  const scores3 = c.tmp('scores_batch_class');
  c.emit('Reshape', [asF32(scores, 'scores'), c.int64([1, 1, -1], 'scores_shape')], [scores3]);
  const max = c.input(2);
  let maxName: string;
  if (max.value) maxName = c.int64([max.value.toNumbers()[0]!], 'max_output_size');
  else {
    maxName = c.tmp('max_output_size');
    c.emit('Reshape', [c.int64Input(2, 'max_output_size_int64'), c.int64([1], 'max_shape')], [maxName]);
  }
  const iou = version === 1 ? c.constTensor(Tensor.float32([1], [c.attrs.float('iou_threshold', 0.5)]), 'iou_threshold') : nmsThreshold(c, 3, 'iou_threshold', (t) => t >= 0 && t <= 1);
  // without a score_threshold TF's kernel takes scores above the lowest float
  const score = version >= 3 ? nmsThreshold(c, 4, 'score_threshold') : c.constTensor(Tensor.float32([1], [-3.4028234663852886e38]), 'score_threshold');
  const selected = c.tmp('selected');
  c.emit('NonMaxSuppression', [boxes3, scores3, maxName, iou, score], [selected], { center_point_box: attr('int', 0) });
  const indices64 = c.tmp('indices_int64');
  c.emit('Gather', [selected, c.int64([2], 'box_column', true)], [indices64], { axis: attr('int', 1) });
  const pad = version >= 4 && c.attrs.bool('pad_to_max_output_size', false);
  const maxOut = max.value ? max.value.toNumbers()[0]! : null;
  const outShape: Dim[] = [pad ? maxOut : null];
  const count = c.tmp('count');
  c.emit('Shape', [indices64], [count]);
  let pads: string | undefined;
  if (pad) {
    const rest = c.tmp('pad_count');
    c.emit('Sub', [maxName, count], [rest]);
    pads = c.tmp('pads');
    c.emit('Concat', [c.int64([0], 'pad_begin'), rest], [pads], { axis: attr('int', 0) });
  }
  /** `v` ([M]) zero-padded to max_output_size when asked, as `name`. */
  const padded = (v: string, name: string): string => {
    if (!pads) return v;
    c.emit('Pad', [v, pads], [name], { mode: attr('string', 'constant') });
    return name;
  };
  const indicesOut = c.out(0);
  const indices32 = pad ? c.tmp('indices_int32') : indicesOut;
  c.emit('Cast', [indices64], [indices32], { to: attr('int', 6) });
  padded(indices32, indicesOut);
  const results: TfValue[] = [c.value(indicesOut, 'int32', outShape)];
  if (version === 5) {
    const scoresOut = c.out(1);
    const picked = pad ? c.tmp('selected_scores') : scoresOut;
    c.emit('Gather', [c.use(scores), indices64], [picked], { axis: attr('int', 0) });
    padded(picked, scoresOut);
    results.push(c.value(scoresOut, scores.dtype, [...outShape]));
  }
  if (version >= 4) {
    const validOut = c.out(version === 5 ? 2 : 1);
    const scalar = c.tmp('count_scalar');
    c.emit('Reshape', [count, c.int64([], 'scalar_shape')], [scalar]);
    c.emit('Cast', [scalar], [validOut], { to: attr('int', 6) });
    results.push(c.value(validOut, 'int32', []));
  }
  return results;
}

export const OPS: Record<string, OpConvert> = {
  Placeholder: placeholder,
  PlaceholderWithDefault: (c) => [c.alias()],
  Const: constOp,
  Identity: (c) => [c.alias()],
  IdentityN: identityN,
  StopGradient: (c) => [c.alias()],
  PreventGradient: (c) => [c.alias()],
  Snapshot: (c) => [c.alias()],
  CheckNumerics: (c) => [c.alias()],
  // functional control flow (tf.cond, tf.while_loop): ONNX If / Loop over the library's functions
  If: CONTROL_FLOW_OPS.If!,
  StatelessIf: CONTROL_FLOW_OPS.StatelessIf!,
  While: CONTROL_FLOW_OPS.While!,
  StatelessWhile: CONTROL_FLOW_OPS.StatelessWhile!,
  // TensorLists / TensorArrays (tf.TensorArray, Keras RNN loops, TF1 dynamic_rnn), held as tensors
  ...TENSOR_LIST_OPS,
  // NoOp and control inputs carry no data: they are never reached from an output's data inputs

  Conv2D: (c) => {
    const r = conv(c, false, c.out());
    return [c.value(r.name, c.input(0).dtype, r.shape)];
  },
  DepthwiseConv2dNative: (c) => {
    const r = conv(c, true, c.out());
    return [c.value(r.name, c.input(0).dtype, r.shape)];
  },
  _FusedConv2D: (c) => fused(c, (out) => conv(c, false, out)),
  FusedDepthwiseConv2dNative: (c) => fused(c, (out) => conv(c, true, out)),
  _FusedMatMul: (c) =>
    fused(c, (out) => {
      const r = matMul(c, out)[0]!;
      return { name: r.name, shape: r.shape ?? [null, null], format: 'NHWC' };
    }),
  Conv2DBackpropInput: conv2dBackpropInput,
  MaxPool: (c) => pool(c, 'MaxPool'),
  AvgPool: (c) => pool(c, 'AveragePool'),
  MaxPool3D: (c) => pool3d(c, 'MaxPool'),
  Conv3D: conv3dOp,
  AvgPool3D: (c) => pool3d(c, 'AveragePool'),
  LRN: lrnOp,
  DepthToSpace: (c) => depthSpace(c, 'DepthToSpace'),
  SpaceToDepth: (c) => depthSpace(c, 'SpaceToDepth'),
  FusedBatchNorm: (c) => fusedBatchNorm(c),
  FusedBatchNormV2: (c) => fusedBatchNorm(c),
  FusedBatchNormV3: (c) => fusedBatchNorm(c),
  BiasAdd: (c) => {
    const x = c.input(0);
    const out = c.out();
    addBias(c, c.use(x), x.shape?.length, c.input(1), dataFormat(c), out);
    return [c.value(out, x.dtype, x.shape)];
  },
  BiasAddV1: (c) => {
    const x = c.input(0);
    const out = c.out();
    addBias(c, c.use(x), x.shape?.length, c.input(1), 'NHWC', out);
    return [c.value(out, x.dtype, x.shape)];
  },
  MatMul: (c) => matMul(c),
  BatchMatMul: batchMatMul,
  BatchMatMulV2: batchMatMul,
  BatchMatMulV3: batchMatMul,

  ...Object.fromEntries(Object.keys(BINARY).map((k) => [k, binaryOp])),
  SquaredDifference: squaredDifference,
  NotEqual: notEqualOp,
  FloorMod: floorModOp,
  TruncateMod: truncateModOp,
  TruncateDiv: truncateDivOp,
  FloorDiv: floorDivOp,
  IsNan: predicateRow('IsNaN'),
  IsInf: predicateRow('IsInf'),

  Relu: unary('Relu'),
  Relu6: (c) => {
    const x = c.input(0);
    const out = c.out();
    ACTIVATIONS.Relu6!(c, c.use(x), out, x.dtype);
    return [c.value(out, x.dtype, x.shape)];
  },
  LeakyRelu: unaryRow('LeakyRelu', (c) => ({ alpha: attr('float', c.attrs.float('alpha', 0.2)) })),
  // TF.js' own op (its converter writes Keras' PReLU so)
  Prelu: (c) => {
    const x = c.input(0);
    const out = c.out();
    prelu(c, c.use(x), c.input(1), 'NHWC', out);
    return [c.value(out, x.dtype, x.shape)];
  },
  Elu: unaryRow('Elu', () => ({ alpha: attr('float', 1) })),
  Selu: unary('Selu'),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Softplus: unary('Softplus'),
  Softsign: unary('Softsign'),
  Softmax: unaryRow('Softmax', () => ({ axis: attr('int', -1) })),
  LogSoftmax: unaryRow('LogSoftmax', () => ({ axis: attr('int', -1) })),
  Exp: unary('Exp', Math.exp),
  Log: unary('Log', Math.log),
  Abs: unary('Abs', Math.abs),
  Neg: unary('Neg', (x) => -x),
  Floor: floorOp,
  Ceil: unary('Ceil', Math.ceil),
  Round: unary('Round'),
  Sign: unary('Sign', Math.sign),
  Sqrt: unary('Sqrt', Math.sqrt),
  Reciprocal: unary('Reciprocal', (x) => 1 / x),
  Inv: unary('Reciprocal', (x) => 1 / x),
  Erf: unary('Erf'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Tan: unary('Tan', Math.tan),
  Asin: unary('Asin', Math.asin),
  Acos: unary('Acos', Math.acos),
  Atan: unary('Atan', Math.atan),
  Sinh: unary('Sinh', Math.sinh),
  Cosh: unary('Cosh', Math.cosh),
  Asinh: unary('Asinh', Math.asinh),
  Acosh: unary('Acosh', Math.acosh),
  Atanh: unary('Atanh', Math.atanh),
  LogicalNot: unary('Not', (x) => +!x),
  Square: (c) => {
    const x = c.input(0);
    if (x.value && small(x.value.shape) && x.dtype !== 'float16' && x.dtype !== 'bfloat16') return [c.constantValue(tensorOf(x.dtype, x.value.shape, x.value.toNumbers().map((v) => v * v)))];
    const out = c.out();
    const n = c.use(x);
    c.emit('Mul', [n, n], [out]);
    return [c.value(out, x.dtype, x.shape)];
  },
  Rsqrt: (c) => {
    const x = c.input(0);
    const s = c.tmp('sqrt');
    c.emit('Sqrt', [c.use(x)], [s]);
    const out = c.out();
    c.emit('Reciprocal', [s], [out]);
    return [c.value(out, x.dtype, x.shape)];
  },
  RandomUniform: randomUniform,

  Mean: reduceRow('ReduceMean', 'mean'),
  Sum: reduceRow('ReduceSum', 'sum'),
  Max: reduceRow('ReduceMax', 'max'),
  Min: reduceRow('ReduceMin', 'min'),
  Prod: reduceRow('ReduceProd', 'prod'),
  ArgMax: argRow('ArgMax'),
  ArgMin: argRow('ArgMin'),

  Reshape: reshapeOp,
  Squeeze: squeezeOp,
  ExpandDims: (c) => [unsqueeze(c, c.input(0), c.ints(1, 'ExpandDims axis')[0]!, c.out())],
  ConcatV2: (c) => concatOp(c, c.inputs.slice(0, -1), c.ints(c.inputs.length - 1, 'concat axis')[0]!),
  Concat: (c) => concatOp(c, c.inputs.slice(1), c.ints(0, 'concat axis')[0]!),
  Split: (c) => splitOp(c, c.input(1), c.ints(0, 'split axis')[0]!, undefined, c.attrs.int('num_split')),
  SplitV: (c) => (c.input(1).value ? splitOp(c, c.input(0), c.ints(2, 'split axis')[0]!, c.ints(1, 'split sizes'), c.attrs.int('num_split')) : splitComputed(c)),
  GatherNd: gatherNdOp,
  TopKV2: topKOp,
  // the coordinates of the true / non-zero elements, (count, rank): ONNX's NonZero gives their transpose
  Where: (c) => {
    const x = c.input(0);
    if (c.inputs.length !== 1) throw new UnsupportedError('Where with more than one input', `${c.where()} in '${c.file}'`);
    const nz = c.tmp('nonzero');
    c.emit('NonZero', [c.use(x)], [nz]);
    const out = c.out();
    c.emit('Transpose', [nz], [out], { perm: attr('ints', [1, 0]) });
    return [c.value(out, 'int64', [null, x.shape ? x.shape.length : null])];
  },
  LeftShift: (c) => shiftOp(c, 'LEFT'),
  RightShift: (c) => shiftOp(c, 'RIGHT'),
  // TF's index tuples over the leading dims are ONNX ScatterND's; TensorScatterAdd sums duplicates, as reduction add does
  TensorScatterUpdate: (c) => scatterNdOp(c, 'none'),
  TensorScatterAdd: (c) => scatterNdOp(c, 'add'),
  Unpack: unpackOp,
  Pack: packOp,
  Pad: (c) => padOp(c, 'constant'),
  PadV2: (c) => padOp(c, 'constant'),
  MirrorPad: (c) => {
    const mode = c.attrs.string('mode', 'REFLECT');
    if (mode === 'REFLECT') return padOp(c, 'reflect');
    // SYMMETRIC repeats the border row itself: with constant paddings of at most 1 that is ONNX's edge
    // (what write-roi-align.ts writes); wider ones mirror further rows, which no ONNX Pad mode does
    const p = c.input(1).value?.toNumbers();
    if (mode === 'SYMMETRIC' && p && p.every((v) => v >= 0 && v <= 1)) return padOp(c, 'edge');
    throw new UnsupportedError(`MirrorPad mode ${mode}${mode === 'SYMMETRIC' ? ' wider than 1 or computed at run time' : ''}`, `${c.where()} in '${c.file}'`);
  },
  Transpose: transposeOp,
  Slice: sliceOp,
  StridedSlice: stridedSlice,
  Shape: shapeOp,
  Size: scalarRow((x) => shapeSize(x.shape as number[]), 'Size'),
  Rank: (c) => {
    const x = c.input(0);
    if (!x.shape) throw new UnsupportedError('Rank of a value of unknown rank', `${c.where()} in '${c.file}'`);
    return [c.constantValue(tensorOf('int32', [], [x.shape.length]))];
  },
  Fill: fillOp,
  Range: rangeOp,
  ReverseV2: reverseOp,
  BroadcastArgs: broadcastArgsOp,
  BroadcastTo: broadcastToOp,
  CropAndResize: cropAndResizeOp,
  Cumsum: cumsumOp,
  OneHot: oneHotOp,
  Tile: (c) => {
    const x = c.input(0);
    const m = c.input(1);
    const out = c.out();
    c.emit('Tile', [c.use(x), c.int64Input(1, 'repeats')], [out]);
    const reps = m.value?.toNumbers();
    return [c.value(out, x.dtype, x.shape && reps ? x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i]! : null)) : undefined)];
  },
  GatherV2: gatherOp,
  Gather: gatherOp,
  ResizeBilinear: (c) => resize(c, 'linear'),
  ResizeNearestNeighbor: (c) => resize(c, 'nearest'),
  Cast: castOp,
  Select: selectOp,
  SelectV2: selectOp,
  Einsum: einsumOp,
  MatrixDeterminant: (c) => {
    const x = c.input(0);
    const out = c.out();
    c.emit('Det', [c.use(x)], [out]);
    return [c.value(out, x.dtype, x.shape?.slice(0, -2))];
  },
  ReverseSequence: reverseSequenceOp,
  NonMaxSuppression: (c) => nonMaxSuppressionOp(c, 1),
  NonMaxSuppressionV2: (c) => nonMaxSuppressionOp(c, 2),
  NonMaxSuppressionV3: (c) => nonMaxSuppressionOp(c, 3),
  NonMaxSuppressionV4: (c) => nonMaxSuppressionOp(c, 4),
  NonMaxSuppressionV5: (c) => nonMaxSuppressionOp(c, 5),
};

function fusedBatchNorm(c: NodeCtx): TfValue[] {
  const format = dataFormat(c);
  const x = c.input(0);
  const out = c.out();
  batchNorm(c, c.use(x), c.inputs.slice(1, 5), format, out);
  // outputs 1.. (batch statistics, reserve spaces) exist only in training
  return [c.value(out, x.dtype, x.shape)];
}


/**
 * CropAndResize(image NHWC, boxes [B, 4] (y1, x1, y2, x2) normalized, box_ind [B], crop_size):
 * method bilinear as ONNX GridSample (align_corners 1, so the grid y1 + i (y2 - y1) / (ch - 1) maps to
 * TF's y1 (H - 1) + i (y2 - y1) (H - 1) / (ch - 1); a single row / column at (y1 + y2) / 2) over the
 * boxes' Gathered images, and TF's extrapolation_value where a row's or column's coordinate leaves
 * [0, 1] (Where). Nearest is refused by name: TF rounds half away from zero, GridSample half to even.
 */
function cropAndResizeOp(c: NodeCtx): TfValue[] {
  const where = `${c.where()} in '${c.file}'`;
  const method = c.attrs.string('method', 'bilinear');
  if (method !== 'bilinear') throw new UnsupportedError(`CropAndResize method ${method}`, where);
  const image = c.input(0);
  const size = c.input(3).value?.toNumbers();
  if (!size || size.length !== 2) throw new UnsupportedError('CropAndResize of a crop_size computed at run time', where);
  const [ch, cw] = size as [number, number];
  const extrap = c.attrs.float('extrapolation_value', 0);
  const f32 = (v: number[], shape: number[], suffix: string) => c.constTensor(Tensor.float32(shape, v), suffix);
  const tmp = (suffix: string, op: string, inputs: string[], attrs: Record<string, Attr> = {}) => {
    const o = c.tmp(suffix);
    c.emit(op, inputs, [o], attrs);
    return o;
  };
  const boxes = tmp('boxes', 'Cast', [c.use(c.input(1))], { to: attr('int', 1) });
  const ind = c.int64InputOf(c.input(2), 'box_ind');
  const img = tmp('nchw', 'Transpose', [tmp('images', 'Gather', [c.use(image), ind], { axis: attr('int', 0) })], { perm: attr('ints', [0, 3, 1, 2]) });
  // t along one axis: [B, n] = lo + (hi - lo) * lin, or (lo + hi) / 2 for n = 1
  const along = (lo: number, hi: number, n: number, tag: string) => {
    const a = tmp(`${tag}0`, 'Gather', [boxes, c.int64([lo], `${tag}_lo`)], { axis: attr('int', 1) });
    const b = tmp(`${tag}1`, 'Gather', [boxes, c.int64([hi], `${tag}_hi`)], { axis: attr('int', 1) });
    if (n === 1) return tmp(`${tag}_t`, 'Mul', [tmp(`${tag}_sum`, 'Add', [a, b]), f32([0.5], [], `${tag}_half`)]);
    const lin = f32(Array.from({ length: n }, (_, i) => i / (n - 1)), [1, n], `${tag}_lin`);
    return tmp(`${tag}_t`, 'Add', [a, tmp(`${tag}_d`, 'Mul', [tmp(`${tag}_len`, 'Sub', [b, a]), lin])]);
  };
  const ty = along(0, 2, ch, 'y'); // [B, ch]
  const tx = along(1, 3, cw, 'x'); // [B, cw]
  const gridOf = (t: string, tag: string) => tmp(`${tag}_g`, 'Sub', [tmp(`${tag}_2t`, 'Mul', [t, f32([2], [], `${tag}_two`)]), f32([1], [], `${tag}_one`)]);
  const full = c.int64([1, ch, cw, 1], 'grid_shape');
  const gy = tmp('gy', 'Expand', [tmp('gy4', 'Unsqueeze', [gridOf(ty, 'y'), c.int64([2, 3], 'gy_axes')]), full]);
  const gx = tmp('gx', 'Expand', [tmp('gx4', 'Unsqueeze', [gridOf(tx, 'x'), c.int64([1, 3], 'gx_axes')]), full]);
  const grid = tmp('grid', 'Concat', [gx, gy], { axis: attr('int', 3) });
  const sampled = tmp('sampled', 'GridSample', [img, grid], { mode: attr('string', 'bilinear'), padding_mode: attr('string', 'zeros'), align_corners: attr('int', 1) });
  const nhwc = tmp('crops', 'Transpose', [sampled], { perm: attr('ints', [0, 2, 3, 1]) });
  const inside = (t: string, tag: string) => tmp(`${tag}_in`, 'And', [tmp(`${tag}_ge`, 'GreaterOrEqual', [t, f32([0], [], `${tag}_zero`)]), tmp(`${tag}_le`, 'LessOrEqual', [t, f32([1], [], `${tag}_unit`)])]);
  const my = tmp('my', 'Unsqueeze', [inside(ty, 'y'), c.int64([2, 3], 'my_axes')]);
  const mx = tmp('mx', 'Unsqueeze', [inside(tx, 'x'), c.int64([1, 3], 'mx_axes')]);
  const out = c.out();
  c.emit('Where', [tmp('mask', 'And', [my, mx]), nhwc, f32([extrap], [], 'extrapolation_value')], [out]);
  const b = asNum(dim(c.input(1).shape, 0));
  return [c.value(out, 'float32', [b, ch, cw, asNum(dim(image.shape, 3))])];
}
