// Keras 3's ops called on Keras tensors in a functional model (`keras.ops.concatenate([a, b])`,
// `x + 1`, `x[:, 0]`, `keras.ops.nn.gelu(x)`): Keras 3 keeps each call as an operation in the
// model's config (module keras.src.ops.numpy / nn / core / math / image, class_name the op's
// class), its constructor's arguments (with their defaults) in `config` and the call's arguments
// in inbound_nodes {args, kwargs} (config.ts parseKeras3OpCall). It names the op, it holds no
// code: the ops below are read as the IR they name, by the rows of tf-op-lambda.ts (Keras 2's TF
// functions compute the same), the arguments renamed to those rows' and Keras 3's own defaults
// given; any other op is refused by name.
import { DTYPES, type DType } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, type Json, type JsonObject } from './config.js';
import { emitActivation, float, int, ints, str, type IrEmitter, type KValue, type LayerCall } from './layers.js';
import { BIG, broadcast, FUNCTIONS, norm, OpCtx, unary, type Fn } from './tf-op-lambda.js';

/**
 * One op: the row that builds it; its call's parameters in order (the first is the row's argument
 * 0, the others by the row's names; `?` marks one that may be left out); its constructor's
 * arguments, Keras name -> [the row's name, Keras 3's default (undefined: required)].
 */
interface Keras3Op {
  /** (an op of several outputs, keras.ops.split / unstack, gives them all) */
  row: (c: OpCtx) => KValue | KValue[];
  params: readonly string[];
  config?: Readonly<Record<string, readonly [string, Json | undefined]>>;
}

/** A row of tf-op-lambda.ts by its TF function name. */
function tf(fn: string): Fn {
  const row = FUNCTIONS[fn];
  if (!row) throw new Error(`tf-op-lambda.ts has no row '${fn}'`);
  return row;
}

/** A call's arguments, once renamed: constants take the dtype of the call's tensors (1 in `x + 1` on an int32 x is int32). */
class Keras3Ctx extends OpCtx {
  constructor(e: IrEmitter, call: LayerCall, fn: string, named: JsonObject, first: Json) {
    super(e, call, fn, { first, kwargs: named });
  }

  override get where(): string {
    return `layer '${this.call.name}' (Keras 3 op ${this.fn})`;
  }

  /** The dtype of the call's first tensor argument, given in its `__keras_tensor__`. */
  private tensorDType(): string {
    const stack: Json[] = [this.args.first, ...Object.values(this.args.kwargs)];
    while (stack.length) {
      const v = stack.pop()!;
      if (Array.isArray(v)) stack.push(...v);
      else if (isObject(v) && typeof v.__input__ === 'number') return typeof v.dtype === 'string' ? v.dtype : 'float32';
    }
    return 'float32';
  }

  protected override constantOf(v: Json | undefined, where: string): Tensor {
    // keras.ops on a NumPy array / a backend tensor: {class_name: '__numpy__' | '__tensor__', config: {value, dtype}}
    if (isObject(v) && (v.class_name === '__numpy__' || v.class_name === '__tensor__') && isObject(v.config)) return typed(v.config.value ?? null, v.config.dtype ?? null, where, this.e.file);
    return typed(v ?? null, this.tensorDType(), where, this.e.file);
  }

  protected override wrongType(what: string, v: Json | undefined): never {
    // Keras 3 writes its constructor arguments as numbers, lists of them, booleans, strings or None:
    // a list where one axis is read, or None, is Keras' own and refused by name; anything else is no Keras file's
    if (v === undefined || v === null || typeof v === 'number' || Array.isArray(v)) throw new UnsupportedError(what, this.where);
    throw new FormatError(`${this.where}: ${what}`, { file: this.e.file });
  }
}

const INT_DTYPES = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/** A constant (a number or nested lists of them) as a tensor of `dtype` (float32, or an integer type for integers). */
function typed(v: Json, dtype: Json, where: string, file?: string): Tensor {
  const shape: number[] = [];
  for (let level: Json = v; Array.isArray(level); level = level[0] ?? null) shape.push(level.length);
  const flat: unknown[] = Array.isArray(v) ? (v as unknown[]).flat(shape.length) : [v];
  const size = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== size || !flat.every((x) => typeof x === 'number' || typeof x === 'boolean')) throw new FormatError(`${where}: ${JSON.stringify(v)?.slice(0, 60)} is neither a tensor nor a constant array`, { file });
  const values = flat.map(Number);
  if (typeof dtype !== 'string' || !(dtype in DTYPES) || dtype === 'string') throw new UnsupportedError(`a constant of dtype ${JSON.stringify(dtype)?.slice(0, 40)}`, where);
  // Keras' weak types: a Python float on an integer tensor promotes the result to float
  if (INT_DTYPES.has(dtype) && !values.every(Number.isInteger)) throw new UnsupportedError(`a fractional constant on a ${dtype} tensor (Keras promotes it to float)`, where);
  const t = Tensor.zeros(dtype as DType, shape);
  values.forEach((x, i) => ((t.data as unknown as Record<number, number | bigint>)[i] = typeof t.data[0] === 'bigint' ? BigInt(x) : x));
  return t;
}

/** The call's parameter `key` given as a tensor: its input value (a Keras 3 op's tensors come from its inputs only). */
function tensorOf(c: OpCtx, key: string): KValue {
  const v = c.arg(key);
  if (!isObject(v) || typeof v.__input__ !== 'number') throw new UnsupportedError(`${c.fn} with ${key} = ${JSON.stringify(v)?.slice(0, 60)} (a tensor is read)`, c.where);
  return c.value(key);
}

/** A comparison (x1 > x2, keras.ops.equal): bool, numpy broadcasting; x != y is Not(Equal). */
const compare = (op: 'Greater' | 'Less' | 'Equal' | 'GreaterOrEqual' | 'LessOrEqual' | 'NotEqual'): Fn => (c) => {
  const x = c.value(0);
  const y = c.value('y');
  const shape = broadcast(x.shape, y.shape);
  if (op === 'NotEqual') return c.out('Not', [c.tmp('Equal', [x.name, y.name], 'equal')], shape);
  return c.out(op, [x.name, y.name], shape);
};

/** keras.ops.where(condition, x1, x2): a condition of any dtype is true where non-zero (ONNX Where takes bool). */
function where(c: OpCtx): KValue {
  if (c.arg('x1') === undefined || c.arg('x2') === undefined) throw new UnsupportedError('keras.ops.where(condition) without x1 and x2 (the indices of the non-zero elements)', c.where);
  const cond = c.value(0);
  const first = c.args.first;
  const isBool = isObject(first) && first.dtype === 'bool';
  const b = isBool ? cond.name : c.tmp('Cast', [cond.name], 'condition', { to: int(9) });
  const x = c.value('x1');
  const y = c.value('x2');
  return c.out('Where', [b, x.name, y.name], broadcast(broadcast(cond.shape, x.shape), y.shape));
}

/** keras.ops.take(x, indices, axis=None): Gather; with axis None, of the flattened x. */
function take(c: OpCtx): KValue {
  let x = c.value(0);
  const axisArg = c.arg('axis');
  let axis = 0;
  if (axisArg === undefined) {
    const size = x.shape.every((d) => d !== null) ? (x.shape as number[]).reduce((a, b) => a * b, 1) : null;
    x = { name: c.tmp('Reshape', [x.name, c.int64('flat', [-1])], 'flat'), shape: [size] };
  } else axis = norm(c.num('axis'), x.shape.length);
  if (axis < 0 || axis >= x.shape.length) throw new FormatError(`${c.where}: take along axis ${JSON.stringify(axisArg)} of a rank-${x.shape.length} tensor`, { file: c.e.file });
  const raw = c.arg('indices');
  let idx: KValue;
  if (isObject(raw) && typeof raw.__input__ === 'number') idx = tensorOf(c, 'indices');
  else {
    const t = typed(isObject(raw) && isObject(raw.config) ? (raw.config.value ?? null) : (raw ?? null), 'int64', `${c.where}: argument 'indices'`);
    // (a negative index counts from the end, as NumPy's: made positive where the size is known, for TFLite's GATHER)
    const d = x.shape[axis];
    const data = t.data as BigInt64Array;
    for (let i = 0; i < data.length; i++) {
      if (d !== null && d !== undefined && (data[i]! >= BigInt(d) || data[i]! < -BigInt(d))) throw new FormatError(`${c.where}: index ${data[i]} of an axis of size ${d}`, { file: c.e.file });
      if (d !== null && d !== undefined && data[i]! < 0n) data[i] = data[i]! + BigInt(d);
    }
    idx = { name: c.e.constant(`${c.call.name}/indices`, t), shape: [...t.shape] };
  }
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  return c.out('Gather', [x.name, idx.name], shape, { axis: int(axis) });
}

/** x[key]: Keras 3 writes slices as {class_name: '__slice__', config: {start, stop, step}}, the TF row reads {start, stop, step}. */
function getItem(c: OpCtx): KValue {
  const unslice = (k: Json): Json => (isObject(k) && k.class_name === '__slice__' && isObject(k.config) ? { start: k.config.start ?? null, stop: k.config.stop ?? null, step: k.config.step ?? null } : k);
  const key = c.args.kwargs.slice_spec ?? null;
  const spec = Array.isArray(key) ? key.map(unslice) : unslice(key);
  return tf('__operators__.getitem')(new Keras3Ctx(c.e, c.call, c.fn, { ...c.args.kwargs, slice_spec: spec }, c.args.first));
}

/** keras.ops.max / min: refused with `initial` (a floor under the reduction). */
const reduceNoInitial = (fn: string): Fn => (c) => {
  if (c.arg('initial') !== undefined) throw new UnsupportedError(`${c.fn} with initial = ${JSON.stringify(c.arg('initial'))}`, c.where);
  return tf(fn)(c);
};

/** keras.ops.nn.elu(x, alpha). */
function elu(c: OpCtx): KValue {
  const x = c.value(0);
  return c.out('Elu', [x.name], x.shape, { alpha: float(c.num('alpha', 1)) });
}

/** keras.ops.round(x, decimals=0): ONNX Round rounds half to even, as NumPy does. */
function round(c: OpCtx): KValue {
  if (c.num('decimals', 0) !== 0) throw new UnsupportedError(`round to ${c.num('decimals', 0)} decimals`, c.where);
  return tf('math.round')(c);
}

/** keras.ops.image.resize of channels_last images to a constant size, bilinear or nearest, as tf.image.resize (half-pixel centers). */
function resize(c: OpCtx): KValue {
  const x = c.value(0);
  const where = c.where;
  const size = c.axes('size');
  if (!size || size.length !== 2 || size.some((d) => d < 1)) throw new FormatError(`${where}: size ${JSON.stringify(c.arg('size'))}, not two positive integers`, { file: c.e.file });
  for (const k of ['antialias', 'crop_to_aspect_ratio', 'pad_to_aspect_ratio'] as const) if (c.bool(k, false)) throw new UnsupportedError(`keras.ops.image.resize with ${k}=True`, where);
  const format = c.arg('data_format') ?? 'channels_last';
  if (format !== 'channels_last') throw new UnsupportedError(`keras.ops.image.resize with data_format ${JSON.stringify(format)}`, where);
  if (x.shape.length !== 4) throw new UnsupportedError(`keras.ops.image.resize of a rank-${x.shape.length} tensor (a batch of images is read)`, where);
  const interp = c.arg('interpolation') ?? 'bilinear';
  // TF resizes at half-pixel centers: bilinear samples (i + 0.5)·in/out - 0.5, nearest floor((i + 0.5)·in/out)
  const attrs: Record<string, Attr> | undefined =
    interp === 'bilinear'
      ? { mode: str('linear'), coordinate_transformation_mode: str('half_pixel') }
      : interp === 'nearest'
        ? { mode: str('nearest'), coordinate_transformation_mode: str('half_pixel'), nearest_mode: str('round_prefer_ceil') }
        : undefined;
  if (!attrs) throw new UnsupportedError(`keras.ops.image.resize interpolation ${JSON.stringify(interp)}`, where);
  const [n, , , ch] = x.shape;
  // the channels-last Resize (domain nnport), its sizes per axis of the (N, H, W, C) data (a scale
  // of 7/5 in float32 would floor 5 · 1.4 to 6 rows)
  let sizes: string;
  if (n === null || n === undefined || ch === null || ch === undefined) {
    const shapeOf = c.tmp('Shape', [x.name], 'shape');
    const part = (from: number, key: string) => c.tmp('Slice', [shapeOf, c.int64(`${key}_start`, [from]), c.int64(`${key}_end`, [from + 1])], key);
    sizes = c.tmp('Concat', [part(0, 'n'), c.int64('hw', size), part(3, 'c')], 'sizes', { axis: int(0) });
  } else sizes = c.int64('sizes', [n, size[0]!, size[1]!, ch]);
  const out = c.e.node('Resize', [x.name, '', '', sizes], [c.call.name], attrs, 'nnport', c.call.name)[0]!;
  return { name: out, shape: [n ?? null, size[0]!, size[1]!, ch ?? null] };
}

/** The dtype a call's argument `key` has when it is a tensor (its `__keras_tensor__` dtype). */
function dtypeOf(c: OpCtx, key: string | 0): string | undefined {
  const v = c.arg(key);
  return isObject(v) && typeof v.__input__ === 'number' && typeof v.dtype === 'string' ? v.dtype : undefined;
}

/** A known size, or an UnsupportedError naming what needs it. */
function known(c: OpCtx, d: number | null | undefined, what: string): number {
  if (d === null || d === undefined) throw new UnsupportedError(`${c.fn} ${what} known only at run time`, c.where);
  return d;
}

/** One axis argument in range for rank r. */
function axisOf(c: OpCtx, key: string, r: number, fallback?: number): number {
  const a = c.num(key, fallback);
  if (!Number.isInteger(a) || a < -r || a >= r) throw new FormatError(`${c.where}: ${key} ${a} of a rank-${r} tensor`, { file: c.e.file });
  return norm(a, r);
}

/** x flattened to one axis (keras.ops.ravel; axis=None in take / argmax). */
function flat(c: OpCtx, x: KValue): KValue {
  const size = x.shape.every((d) => d !== null) ? (x.shape as number[]).reduce((a, b) => a * b, 1) : null;
  return { name: c.tmp('Reshape', [x.name, c.int64('flat', [-1])], 'flat'), shape: [size] };
}

/** keras.ops.argmax / argmin: the first extreme's index, int32 as Keras gives it (ONNX's is int64). */
const argExtreme = (op: 'ArgMax' | 'ArgMin'): Fn => (c) => {
  let x = c.value(0);
  const keep = c.bool('keepdims', false);
  let axis = 0;
  if (c.arg('axis') === undefined) {
    if (keep) throw new UnsupportedError(`${c.fn} with axis=None and keepdims=True`, c.where);
    x = flat(c, x);
  } else axis = axisOf(c, 'axis', x.shape.length);
  const shape = x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : []));
  return c.out('Cast', [c.tmp(op, [x.name], 'index', { axis: int(axis), keepdims: int(keep ? 1 : 0) })], shape, { to: int(6) });
};

/** keras.ops.tile(x, repeats): NumPy's, repeats padded with 1s in front (or x given leading axes of 1). */
function tile(c: OpCtx): KValue {
  let x = c.value(0);
  const reps = c.axes('repeats') ?? [];
  if (reps.some((n) => n < 0)) throw new FormatError(`${c.where}: repeats [${reps.join(', ')}]`, { file: c.e.file });
  if (reps.length > x.shape.length) {
    const k = reps.length - x.shape.length;
    const lead = Array.from({ length: k }, (_, i) => i);
    x = { name: c.tmp('Unsqueeze', [x.name, c.int64('lead', lead)], 'lead'), shape: [...lead.map(() => 1), ...x.shape] };
  }
  const full = [...new Array<number>(x.shape.length - reps.length).fill(1), ...reps];
  return c.out('Tile', [x.name, c.int64('repeats', full)], x.shape.map((d, i) => (d === null ? null : d * full[i]!)));
}

/** keras.ops.swapaxes / moveaxis: a Transpose (moveaxis as NumPy orders the axes left). */
function swapaxes(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const [a, b] = [axisOf(c, 'axis1', r), axisOf(c, 'axis2', r)];
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return c.out('Transpose', [x.name], perm.map((p) => x.shape[p] ?? null), { perm: ints(perm) });
}

function moveaxis(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const list = (key: string) => (c.axes(key) ?? []).map((a) => {
    if (a < -r || a >= r) throw new FormatError(`${c.where}: ${key} ${a} of a rank-${r} tensor`, { file: c.e.file });
    return norm(a, r);
  });
  const src = list('source');
  const dst = list('destination');
  if (src.length !== dst.length || new Set(src).size !== src.length || new Set(dst).size !== dst.length) throw new FormatError(`${c.where}: source [${src.join(', ')}] and destination [${dst.join(', ')}]`, { file: c.e.file });
  const perm = x.shape.map((_, i) => i).filter((i) => !src.includes(i));
  for (const [d, s] of dst.map((d, i) => [d, src[i]!] as const).sort((p, q) => p[0] - q[0])) perm.splice(d, 0, s);
  return c.out('Transpose', [x.name], perm.map((p) => x.shape[p] ?? null), { perm: ints(perm) });
}

/** Logical ops take bool: another dtype is true where non-zero, as NumPy's. */
function asBool(c: OpCtx, key: string | 0): KValue {
  const v = c.value(key);
  return dtypeOf(c, key) === 'bool' ? v : { name: c.tmp('Cast', [v.name], `${key === 0 ? 'x' : key}_bool`, { to: int(9) }), shape: v.shape };
}

const logical = (op: 'And' | 'Or' | 'Xor'): Fn => (c) => {
  const x = asBool(c, 0);
  const y = asBool(c, 'y');
  return c.out(op, [x.name, y.name], broadcast(x.shape, y.shape));
};

/** keras.ops.floor_divide on floats: floor(x / y) (on integers ONNX's Div truncates, NumPy's floors: refused). */
function floorDivide(c: OpCtx): KValue {
  const dt = dtypeOf(c, 0) ?? dtypeOf(c, 'y') ?? 'float32';
  if (!dt.startsWith('float')) throw new UnsupportedError(`${c.fn} of ${dt} tensors`, c.where);
  const x = c.value(0);
  const y = c.value('y');
  return c.out('Floor', [c.tmp('Div', [x.name, y.name], 'div')], broadcast(x.shape, y.shape));
}

/** keras.ops.logsumexp: max + log(sum(exp(x - max))), shifted by the max as tf.math.reduce_logsumexp. */
function logsumexp(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const axes = (c.axes('axis') ?? Array.from({ length: r }, (_, i) => i)).map((a) => norm(a, r));
  const keep = c.bool('keepdims', false);
  const m = c.tmp('ReduceMax', [x.name], 'max', { axes: ints(axes), keepdims: int(1) });
  const e = c.tmp('Exp', [c.tmp('Sub', [x.name, m], 'shifted')], 'exp');
  const l = c.tmp('Log', [c.tmp('ReduceSum', [e, c.int64('axes', axes)], 'sum', { keepdims: int(1) })], 'log');
  const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
  if (keep) return c.out('Add', [l, m], shape);
  return c.out('Squeeze', [c.tmp('Add', [l, m], 'sum_max'), c.int64('squeeze_axes', axes)], shape);
}

/** keras.ops.flip: a Slice stepping -1 over the axes (every axis with axis=None). */
function flip(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const axes = (c.axes('axis') ?? Array.from({ length: r }, (_, i) => i)).map((a) => norm(a, r));
  const ones = (v: number) => axes.map(() => v);
  return c.out('Slice', [x.name, c.int64('starts', ones(-1)), c.int64('ends', ones(-BIG)), c.int64('axes', axes), c.int64('steps', ones(-1))], x.shape);
}

/** keras.ops.broadcast_to(x, shape): Expand to a constant shape. */
function broadcastTo(c: OpCtx): KValue {
  const x = c.value(0);
  const shape = c.axes('shape') ?? [];
  if (shape.some((d) => d < 0)) throw new FormatError(`${c.where}: shape [${shape.join(', ')}]`, { file: c.e.file });
  return c.out('Expand', [x.name, c.int64('shape', shape)], broadcast(x.shape, shape));
}

/** The sizes of keras.ops.split's pieces: `n` equal ones, or cut at the given indices (NumPy's array_split is not Keras'). */
function splitSizes(c: OpCtx, d: number): number[] {
  const v = c.arg('indices_or_sections');
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || d % v !== 0) throw new FormatError(`${c.where}: ${v} equal sections of an axis of size ${d}`, { file: c.e.file });
    return new Array<number>(v).fill(d / v);
  }
  const cuts = (c.axes('indices_or_sections') ?? []).map((i) => Math.min(Math.max(i < 0 ? i + d : i, 0), d));
  const bounds = [0, ...cuts, d];
  const sizes = bounds.slice(1).map((b, i) => b - bounds[i]!);
  if (sizes.some((n) => n <= 0)) throw new UnsupportedError(`${c.fn} into empty pieces (indices ${JSON.stringify(v)})`, c.where);
  return sizes;
}

/** ONNX Split of x along axis into pieces of `sizes`: the call's outputs in order. */
function splitInto(c: OpCtx, x: KValue, axis: number, sizes: number[], suffix: string): KValue[] {
  const names = sizes.map((_, i) => (suffix || i ? `${c.call.name}${suffix}_${i}` : c.call.name));
  const outs = c.e.node('Split', [x.name, c.int64(`split${suffix}`, sizes)], names, { axis: int(axis) }, '', `${c.call.name}${suffix}`);
  return outs.map((name, i) => ({ name, shape: x.shape.map((d, k) => (k === axis ? sizes[i]! : d)) }));
}

function split(c: OpCtx): KValue[] {
  const x = c.value(0);
  const axis = axisOf(c, 'axis', x.shape.length, 0);
  return splitInto(c, x, axis, splitSizes(c, known(c, x.shape[axis], 'of an axis whose size is')), '');
}

/** keras.ops.unstack: pieces of 1 along axis, that axis squeezed out. */
function unstack(c: OpCtx): KValue[] {
  const x = c.value(0);
  const axis = axisOf(c, 'axis', x.shape.length, 0);
  const d = known(c, x.shape[axis], 'of an axis whose size is');
  if (c.arg('num') !== undefined && c.num('num') !== d) throw new FormatError(`${c.where}: num ${c.num('num')} for an axis of size ${d}`, { file: c.e.file });
  const axes = c.int64('squeeze_axes', [axis]);
  return splitInto(c, x, axis, new Array<number>(d).fill(1), '/piece').map((p, i) => ({
    name: c.e.node('Squeeze', [p.name, axes], [i ? `${c.call.name}_${i}` : c.call.name], {}, '', i ? `${c.call.name}_${i}` : c.call.name)[0]!,
    shape: p.shape.filter((_, k) => k !== axis),
  }));
}

/** keras.ops.slice(x, start_indices, shape): constant starts and sizes, within the tensor. */
function sliceOp(c: OpCtx): KValue {
  const x = c.value(0);
  const raw = c.arg('start_indices');
  if (isObject(raw)) throw new UnsupportedError(`${c.fn} with start indices computed at run time`, c.where);
  const starts = c.axes('start_indices') ?? [];
  const sizes = c.axes('shape') ?? [];
  if (starts.length !== x.shape.length || sizes.length !== x.shape.length) throw new FormatError(`${c.where}: ${starts.length} start indices and ${sizes.length} sizes for a rank-${x.shape.length} tensor`, { file: c.e.file });
  x.shape.forEach((d, i) => {
    if (starts[i]! < 0 || sizes[i]! < 1 || (d !== null && starts[i]! + sizes[i]! > d)) throw new FormatError(`${c.where}: a slice of ${sizes[i]} from ${starts[i]} on an axis of size ${d ?? 'unknown'}`, { file: c.e.file });
  });
  const axes = x.shape.map((_, i) => i);
  return c.out('Slice', [x.name, c.int64('starts', starts), c.int64('ends', starts.map((s, i) => s + sizes[i]!)), c.int64('axes', axes)], sizes);
}

/** keras.ops.pad, mode constant: pad_width as NumPy reads it (n, (n,), (before, after), or a pair per axis). */
function pad(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const mode = c.arg('mode') ?? 'constant';
  if (typeof mode !== 'string') throw new FormatError(`${c.where}: mode ${JSON.stringify(mode)?.slice(0, 60)}, not a string`, { file: c.e.file });
  if (mode !== 'constant') throw new UnsupportedError(`${c.fn} with mode ${JSON.stringify(mode)}`, c.where);
  const w = c.arg('pad_width');
  const isInt = (v: Json | undefined): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const pairs: Json | undefined = isInt(w) ? [[w, w]] : Array.isArray(w) && w.every(isInt) ? [w.length === 1 ? [w[0]!, w[0]!] : w] : w;
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every(isInt)) || (pairs.length !== 1 && pairs.length !== r)) throw new FormatError(`${c.where}: pad_width ${JSON.stringify(w)?.slice(0, 60)} for a rank-${r} tensor`, { file: c.e.file });
  const per = (pairs.length === 1 ? new Array<Json>(r).fill(pairs[0]!) : pairs) as [number, number][];
  const value = c.arg('constant_values') === undefined ? c.e.constant(`${c.call.name}/value`, typed(0, dtypeOf(c, 0) ?? 'float32', c.where, c.e.file)) : c.value('constant_values').name;
  const shape = x.shape.map((d, i) => (d === null ? null : d + per[i]![0] + per[i]![1]));
  return c.out('Pad', [x.name, c.int64('pads', [...per.map((p) => p[0]), ...per.map((p) => p[1])]), value], shape, { mode: str('constant') });
}

/** keras.ops.prod: refused with a dtype (the product accumulated in another type). */
function prod(c: OpCtx): KValue {
  if (c.arg('dtype') !== undefined) throw new UnsupportedError(`${c.fn} with dtype ${JSON.stringify(c.arg('dtype'))}`, c.where);
  return tf('math.reduce_prod')(c);
}

/** keras.ops.log1p: log(1 + x). */
function log1p(c: OpCtx): KValue {
  const x = c.value(0);
  return c.out('Log', [c.tmp('Add', [x.name, c.e.constant(`${c.call.name}/one`, typed(1, dtypeOf(c, 0) ?? 'float32', c.where, c.e.file))], 'one_plus')], x.shape);
}

/** An activation by its Keras name (layers.ts emitActivation), as the Activation layer builds it. */
const activation = (name: string): Fn => (c) => emitActivation(c.e, name, c.value(0), c.call.name, c.call);

const AXIS_KEEPDIMS = { axis: ['axis', null], keepdims: ['keepdims', false] } as const;
const bin = (fn: string): Keras3Op => ({ row: tf(fn), params: ['x', 'y'] });
const one = (row: Fn): Keras3Op => ({ row, params: ['x'] });

/** `<module after keras.src.ops.>.<class name>` -> the op. */
const OPS: Readonly<Record<string, Keras3Op>> = {
  'numpy.Add': bin('math.add'),
  'numpy.Subtract': bin('math.subtract'),
  'numpy.Multiply': bin('math.multiply'),
  'numpy.Divide': bin('math.divide'),
  'numpy.TrueDivide': bin('math.truediv'),
  'numpy.Power': bin('math.pow'),
  'numpy.Maximum': bin('math.maximum'),
  'numpy.Minimum': bin('math.minimum'),
  'numpy.Greater': { row: compare('Greater'), params: ['x', 'y'] },
  'numpy.GreaterEqual': { row: compare('GreaterOrEqual'), params: ['x', 'y'] },
  'numpy.Less': { row: compare('Less'), params: ['x', 'y'] },
  'numpy.LessEqual': { row: compare('LessOrEqual'), params: ['x', 'y'] },
  'numpy.Equal': { row: compare('Equal'), params: ['x', 'y'] },
  'numpy.NotEqual': { row: compare('NotEqual'), params: ['x', 'y'] },
  'numpy.Matmul': { row: tf('matmul'), params: ['a', 'b'] },
  'numpy.Where': { row: where, params: ['condition', 'x1?', 'x2?'] },
  'numpy.Exp': one(tf('math.exp')),
  'numpy.Log': one(tf('math.log')),
  'numpy.Sqrt': one(tf('math.sqrt')),
  'numpy.Square': one(tf('math.square')),
  'numpy.Absolute': one(tf('math.abs')),
  'numpy.Negative': one(tf('math.negative')),
  'numpy.Reciprocal': one(tf('math.reciprocal')),
  'numpy.Floor': one(tf('math.floor')),
  'numpy.Ceil': one(tf('math.ceil')),
  'numpy.Sin': one(tf('math.sin')),
  'numpy.Cos': one(tf('math.cos')),
  'numpy.Tanh': one(tf('math.tanh')),
  'numpy.Round': { row: round, params: ['x'], config: { decimals: ['decimals', 0] } },
  'math.Erf': one(tf('math.erf')),
  'math.Rsqrt': one(tf('math.rsqrt')),
  // mean / sum / max / min: over every axis, keepdims False, unless given
  'numpy.Mean': { row: tf('math.reduce_mean'), params: ['x'], config: AXIS_KEEPDIMS },
  'numpy.Sum': { row: tf('math.reduce_sum'), params: ['x'], config: AXIS_KEEPDIMS },
  'numpy.Max': { row: reduceNoInitial('math.reduce_max'), params: ['x'], config: { ...AXIS_KEEPDIMS, initial: ['initial', null] } },
  'numpy.Min': { row: reduceNoInitial('math.reduce_min'), params: ['x'], config: { ...AXIS_KEEPDIMS, initial: ['initial', null] } },
  // keras.ops.concatenate / stack join along axis 0 unless given (the Concatenate layer: -1)
  'numpy.Concatenate': { row: tf('concat'), params: ['xs'], config: { axis: ['axis', 0] } },
  'numpy.Stack': { row: tf('stack'), params: ['x'], config: { axis: ['axis', 0] } },
  'numpy.Reshape': { row: tf('reshape'), params: ['x'], config: { newshape: ['shape', undefined] } },
  'numpy.Transpose': { row: tf('transpose'), params: ['x'], config: { axes: ['perm', null] } },
  'numpy.ExpandDims': { row: tf('expand_dims'), params: ['x'], config: { axis: ['axis', undefined] } },
  'numpy.Squeeze': { row: tf('squeeze'), params: ['x'], config: { axis: ['axis', null] } },
  'numpy.Clip': { row: tf('clip_by_value'), params: ['x'], config: { x_min: ['clip_value_min', undefined], x_max: ['clip_value_max', undefined] } },
  'numpy.Take': { row: take, params: ['x', 'indices'], config: { axis: ['axis', null] } },
  'numpy.GetItem': { row: getItem, params: ['x', 'slice_spec'] },
  'core.Cast': { row: tf('cast'), params: ['x'], config: { dtype: ['dtype', undefined] } },
  'numpy.Sign': one(unary('Sign')),
  'numpy.Log1p': one(log1p),
  'numpy.FloorDivide': { row: floorDivide, params: ['x', 'y'] },
  'numpy.LogicalAnd': { row: logical('And'), params: ['x', 'y'] },
  'numpy.LogicalOr': { row: logical('Or'), params: ['x', 'y'] },
  'numpy.LogicalXor': { row: logical('Xor'), params: ['x', 'y'] },
  'numpy.LogicalNot': { row: (c) => c.out('Not', [asBool(c, 0).name], c.value(0).shape), params: ['x'] },
  'numpy.Prod': { row: prod, params: ['x'], config: { ...AXIS_KEEPDIMS, dtype: ['dtype', null] } },
  'numpy.Argmax': { row: argExtreme('ArgMax'), params: ['x'], config: AXIS_KEEPDIMS },
  'numpy.Argmin': { row: argExtreme('ArgMin'), params: ['x'], config: AXIS_KEEPDIMS },
  'math.Logsumexp': { row: logsumexp, params: ['x'], config: AXIS_KEEPDIMS },
  'numpy.Tile': { row: tile, params: ['x'], config: { repeats: ['repeats', undefined] } },
  'numpy.Swapaxes': { row: swapaxes, params: ['x'], config: { axis1: ['axis1', undefined], axis2: ['axis2', undefined] } },
  'numpy.Moveaxis': { row: moveaxis, params: ['x'], config: { source: ['source', undefined], destination: ['destination', undefined] } },
  'numpy.Flip': { row: flip, params: ['x'], config: { axis: ['axis', null] } },
  'numpy.BroadcastTo': { row: broadcastTo, params: ['x'], config: { shape: ['shape', undefined] } },
  'numpy.Ravel': {
    row: (c) => {
      const x = flat(c, c.value(0));
      return c.out('Identity', [x.name], x.shape);
    },
    params: ['x'],
  },
  'numpy.Split': { row: split, params: ['x'], config: { indices_or_sections: ['indices_or_sections', undefined], axis: ['axis', 0] } },
  'numpy.Pad': { row: pad, params: ['x', 'constant_values?'], config: { pad_width: ['pad_width', undefined], mode: ['mode', 'constant'] } },
  'core.Unstack': { row: unstack, params: ['x'], config: { num: ['num', null], axis: ['axis', 0] } },
  'core.Slice': { row: sliceOp, params: ['x', 'start_indices'], config: { shape: ['shape', undefined] } },
  'nn.Relu': one(activation('relu')),
  'nn.Relu6': one(activation('relu6')),
  'nn.Sigmoid': one(activation('sigmoid')),
  'nn.Softplus': one(activation('softplus')),
  'nn.Softsign': one(activation('softsign')),
  'nn.Silu': one(activation('silu')),
  'nn.Selu': one(activation('selu')),
  // Keras 3's hard_sigmoid is relu6(x + 3) / 6 (emitActivation, keras3), hard_silu x times it
  'nn.HardSigmoid': one(activation('hard_sigmoid')),
  'nn.HardSilu': one(activation('hard_silu')),
  'nn.Elu': { row: elu, params: ['x'], config: { alpha: ['alpha', 1] } },
  'nn.LeakyRelu': { row: tf('nn.leaky_relu'), params: ['x'], config: { negative_slope: ['alpha', 0.2] } },
  // keras.ops.nn.gelu is the tanh approximation unless approximate=False (tf.nn.gelu: exact by default)
  'nn.Gelu': { row: tf('nn.gelu'), params: ['x'], config: { approximate: ['approximate', true] } },
  'nn.Softmax': { row: tf('nn.softmax'), params: ['x'], config: { axis: ['axis', -1] } },
  'nn.LogSoftmax': { row: tf('nn.log_softmax'), params: ['x'], config: { axis: ['axis', -1] } },
  'image.Resize': {
    row: resize,
    params: ['images'],
    config: {
      size: ['size', undefined],
      interpolation: ['interpolation', 'bilinear'],
      antialias: ['antialias', false],
      crop_to_aspect_ratio: ['crop_to_aspect_ratio', false],
      pad_to_aspect_ratio: ['pad_to_aspect_ratio', false],
      data_format: ['data_format', null],
    },
  },
};

/** The call's arguments by the row's names: positional ones by `params`, keyword ones by name, then the constructor's. */
function namedArgs(op: Keras3Op, call: LayerCall, fn: string, file: string): { named: JsonObject; first: Json } {
  const where = `layer '${call.name}' (Keras 3 op ${fn})`;
  const bad = (what: string): never => {
    throw new FormatError(`${where}: ${what}`, { file });
  };
  const { first: positional, kwargs } = call.opArgs!;
  if (!Array.isArray(positional)) bad('its call has no argument list');
  const params = op.params.map((p) => p.replace(/\?$/, ''));
  const args = positional as Json[];
  if (args.length > params.length) bad(`its call has ${args.length} arguments, the op takes ${params.length} (${params.join(', ')})`);
  const named: JsonObject = {};
  args.forEach((v, i) => (named[params[i]!] = v));
  for (const [k, v] of Object.entries(kwargs)) {
    if (!params.includes(k)) bad(`its call has an argument '${k}', which the op does not take (${params.join(', ')})`);
    if (k in named) bad(`its call gives '${k}' twice`);
    named[k] = v;
  }
  op.params.forEach((p, i) => {
    if (!p.endsWith('?') && !(params[i]! in named)) bad(`its call does not give '${params[i]}'`);
  });
  for (const [key, [rowKey, dflt]] of Object.entries(op.config ?? {})) {
    const v = key in call.config ? call.config[key]! : dflt;
    if (v === undefined) bad(`its config has no '${key}'`);
    // None only where it is Keras' default (axis=None: every axis); softmax(axis=None) is not softmax(axis=-1)
    if (v === null && dflt !== null) throw new UnsupportedError(`${fn} with ${key}=None`, where);
    if (typeof dflt === 'boolean' && typeof v !== 'boolean') bad(`config '${key}' is ${JSON.stringify(v)?.slice(0, 60)}, not true or false`);
    named[rowKey] = v ?? null;
  }
  return { named, first: named[params[0]!] ?? null };
}

/** The KERAS_LAYERS row of every Keras 3 op (to-graph.ts: layers whose module is keras.src.ops.*). */
export function keras3OpLayer(e: IrEmitter, call: LayerCall): KValue[] {
  const module = call.keras3Op ?? '';
  const fn = `${module.replace(/^keras(\.src)?\.ops\.?/, '') || 'ops'}.${call.className}`;
  const op = OPS[fn];
  if (!op) throw new UnsupportedError(`Keras 3 op '${call.className}' (${module}) called in a functional model`, `layer '${call.name}' in ${e.file}: nnport reads ${Object.keys(OPS).length} keras.ops (keras3-ops.ts)`);
  if (!call.opArgs) throw new FormatError(`layer '${call.name}' (Keras 3 op ${fn}): no recorded call`, { file: e.file });
  // (Keras 3 ops carry no mask: a masked tensor into one is the mask's end, which nnport does not guess at)
  if (call.inputs.some((v) => v.mask)) throw new UnsupportedError(`Keras 3 op ${fn} on a masked tensor`, `layer '${call.name}' in ${e.file}`);
  const { named, first } = namedArgs(op, call, fn, e.file);
  const out = op.row(new Keras3Ctx(e, call, fn, named, first));
  return Array.isArray(out) ? out : [out];
}
