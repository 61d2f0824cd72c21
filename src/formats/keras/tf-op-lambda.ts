// Keras 2's TFOpLambda / SlicingOpLambda: a TensorFlow function called on Keras tensors in a
// functional model (`x * 2`, `a + b`, `tf.concat([a, b], -1)`, `tf.reshape`, `x[:, 1:]`), which
// tf.keras 2.4+ records as a layer naming the function by its API path ('math.multiply',
// '__operators__.getitem') with the call's arguments in inbound_nodes (config.ts parseOpCall).
// It names the op, it holds no code: the functions below are read as the ops they name, any
// other is refused by name. (Keras' plain Lambda layer holds Python bytecode and is never read.)
// Keras 3's ops (keras3-ops.ts) are read by these same rows, their arguments renamed.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, type Json, type OpCallArgs } from './config.js';
import { emitActivation, int, ints, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';

export type Fn = (c: OpCtx) => KValue;

/** One call of the function: its arguments as values, and the IR emitter. */
export class OpCtx {
  constructor(
    readonly e: IrEmitter,
    readonly call: LayerCall,
    readonly fn: string,
    readonly args: OpCallArgs = call.opArgs!,
  ) {}

  get where(): string {
    return `layer '${this.call.name}' (${this.call.className} '${this.fn}')`;
  }

  /** The first argument, or a keyword one; undefined when not given (or given as None). */
  arg(key: string | 0): Json | undefined {
    const a = this.args;
    const v = key === 0 ? a.first : a.kwargs[key];
    return v === null ? undefined : v;
  }

  /** A tensor argument: one of the call's tensors, or a constant (a number, nested lists of numbers). */
  value(key: string | 0, v: Json | undefined = this.arg(key)): KValue {
    // a first argument wrapped in a list of one (older Keras 2 nesting)
    if (Array.isArray(v) && v.length === 1 && isObject(v[0])) v = v[0];
    if (isObject(v) && typeof v.__input__ === 'number') {
      const x = this.call.inputs[v.__input__];
      if (!x) throw new FormatError(`${this.where}: argument '${key}' reads input ${v.__input__}, which the call does not have`);
      return x;
    }
    const t = this.constantOf(v, `${this.where}: argument '${key}'`);
    return { name: this.e.constant(`${this.call.name}/${key === 0 ? 'x' : key}`, t), shape: [...t.shape] };
  }

  /** A constant argument as a tensor. */
  protected constantOf(v: Json | undefined, where: string): Tensor {
    return constantOf(v, where);
  }

  /** An argument of a kind nnport does not read (a tensor where a constant axis is read, ...). */
  protected wrongType(what: string, _v: Json | undefined): never {
    throw new UnsupportedError(what, this.where);
  }

  /** A number argument (or its default). */
  num(key: string, fallback?: number): number {
    const v = this.arg(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number') this.wrongType(`${this.fn} with ${key} = ${JSON.stringify(v)?.slice(0, 60)} (a constant number is read)`, v);
    return v;
  }

  /** An axis list argument: a number or a list of numbers; undefined when not given. */
  axes(key: string): number[] | undefined {
    const v = this.arg(key);
    if (v === undefined) return undefined;
    const list = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || !list.every((a) => typeof a === 'number' && Number.isInteger(a))) this.wrongType(`${this.fn} with ${key} = ${JSON.stringify(v)?.slice(0, 60)} (constant integers are read)`, v);
    return list as number[];
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.arg(key);
    return typeof v === 'boolean' ? v : fallback;
  }

  /** The last node of the call: named after the layer. */
  out(op: string, inputs: string[], shape: KShape, attrs: Record<string, Attr> = {}): KValue {
    return { name: this.e.node(op, inputs, [this.call.name], attrs, '', this.call.name)[0]!, shape };
  }

  /** An intermediate node. */
  tmp(op: string, inputs: string[], suffix: string, attrs: Record<string, Attr> = {}): string {
    return this.e.node(op, inputs, [`${this.call.name}/${suffix}`], attrs)[0]!;
  }

  int64(suffix: string, values: number[]): string {
    return this.e.constant(`${this.call.name}/${suffix}`, Tensor.int64([values.length], values));
  }
}

/** A constant argument: a number or nested lists of numbers, as float32 (Keras' default dtype). */
function constantOf(v: Json | undefined, where: string): Tensor {
  const shape: number[] = [];
  let level: Json | undefined = v;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const flat: unknown[] = Array.isArray(v) ? (v as unknown[]).flat(shape.length) : [v];
  const size = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== size || !flat.every((x) => typeof x === 'number')) throw new UnsupportedError(`a TF function argument that is not a tensor or a constant array (${JSON.stringify(v)?.slice(0, 60)})`, where);
  return Tensor.float32(shape, flat as number[]);
}

export const norm = (a: number, rank: number): number => (a < 0 ? a + rank : a);

export function broadcast(a: KShape, b: KShape): KShape {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    return x === 1 ? y : y === 1 ? x : x ?? y;
  });
}

/** x op y with numpy broadcasting; the first argument may be the constant (2 * x: x.__rmul__). */
export const binary = (op: string): Fn => (c) => {
  const x = c.value(0);
  const y = c.value('y');
  return c.out(op, [x.name, y.name], broadcast(x.shape, y.shape));
};

/** An activation by its Keras name (layers.ts emitActivation: the same IR as the Activation layer). */
const activation = (name: string): Fn => (c) => {
  const x = c.value(0);
  return emitActivation(c.e, name, x, c.call.name, c.call);
};

export const unary = (op: string): Fn => (c) => {
  const x = c.value(0);
  return c.out(op, [x.name], x.shape);
};

function reduce(op: 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd'): Fn {
  return (c) => {
    const x = c.value(0);
    const r = x.shape.length;
    const axes = (c.axes('axis') ?? Array.from({ length: r }, (_, i) => i)).map((a) => norm(a, r));
    const keep = c.bool('keepdims', false);
    const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
    // opset 17: ReduceSum takes its axes as an input, the others as an attribute
    if (op === 'ReduceSum') return c.out(op, [x.name, c.int64('axes', axes)], shape, { keepdims: int(keep ? 1 : 0) });
    return c.out(op, [x.name], shape, { axes: ints(axes), keepdims: int(keep ? 1 : 0) });
  };
}

const softmax = (op: 'Softmax' | 'LogSoftmax'): Fn => (c) => {
  const x = c.value(0);
  return c.out(op, [x.name], x.shape, { axis: int(c.num('axis', -1)) });
};

function reshape(c: OpCtx): KValue {
  const x = c.value(0);
  const target = c.axes('shape');
  if (!target) throw new UnsupportedError(`reshape to a computed shape`, c.where);
  if (target.some((d) => d === 0 || d < -1)) throw new UnsupportedError(`reshape to [${target.join(', ')}]`, c.where);
  const known = x.shape.every((d) => d !== null) ? (x.shape as number[]).reduce((a, b) => a * b, 1) : undefined;
  const rest = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const shape: KShape = target.map((d, i) => (d !== -1 ? d : known !== undefined ? known / rest : i === 0 ? null : null));
  return c.out('Reshape', [x.name, c.int64('shape', target)], shape);
}

function transpose(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  const perm = (c.axes('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i)).map((a) => norm(a, r));
  return c.out('Transpose', [x.name], perm.map((p) => x.shape[p] ?? null), { perm: ints(perm) });
}

function expandDims(c: OpCtx): KValue {
  const x = c.value(0);
  const axis = norm(c.num('axis'), x.shape.length + 1);
  const shape = [...x.shape];
  shape.splice(axis, 0, 1);
  return c.out('Unsqueeze', [x.name, c.int64('axes', [axis])], shape);
}

function squeeze(c: OpCtx): KValue {
  const x = c.value(0);
  const r = x.shape.length;
  let axes = c.axes('axis')?.map((a) => norm(a, r));
  if (!axes) {
    if (x.shape.some((d) => d === null)) throw new UnsupportedError('squeeze of every size-1 axis of a tensor with dims unknown until run time', c.where);
    axes = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  }
  for (const a of axes) if (x.shape[a] !== 1 && x.shape[a] !== null) throw new FormatError(`${c.where}: squeeze of axis ${a}, of size ${x.shape[a]}`);
  return c.out('Squeeze', [x.name, c.int64('axes', axes)], x.shape.filter((_, i) => !axes!.includes(i)));
}

/** The first argument as a list of values (tf.concat / tf.stack's `values`). */
function values(c: OpCtx): KValue[] {
  const v = c.arg(0);
  if (!Array.isArray(v)) throw new UnsupportedError(`${c.fn} of something other than a list of tensors`, c.where);
  return v.map((x) => c.value(0, x));
}

function concat(c: OpCtx): KValue {
  const xs = values(c);
  const r = xs[0]!.shape.length;
  const axis = norm(c.num('axis'), r);
  const shape = xs[0]!.shape.map((d, i) => (i !== axis ? d : xs.every((x) => x.shape[i] !== null) ? xs.reduce((a, x) => a + (x.shape[i] as number), 0) : null));
  return c.out('Concat', xs.map((x) => x.name), shape, { axis: int(axis) });
}

function stack(c: OpCtx): KValue {
  const xs = values(c);
  const axis = norm(c.num('axis', 0), xs[0]!.shape.length + 1);
  const parts = xs.map((x, i) => c.tmp('Unsqueeze', [x.name, c.int64(`axes${i}`, [axis])], `item${i}`));
  const shape = [...xs[0]!.shape];
  shape.splice(axis, 0, xs.length);
  return c.out('Concat', parts, shape, { axis: int(axis) });
}

/** TF dtype names (tf.cast's dtype argument) -> ONNX TensorProto types. */
const CAST_TO: Record<string, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

function castOp(c: OpCtx): KValue {
  const x = c.value(0);
  const d = c.arg('dtype');
  const to = typeof d === 'string' ? CAST_TO[d] : undefined;
  if (to === undefined) throw new UnsupportedError(`cast to ${JSON.stringify(d)}`, c.where);
  return c.out('Cast', [x.name], x.shape, { to: int(to) });
}

function clipByValue(c: OpCtx): KValue {
  const x = c.value(0);
  const lo = c.value('clip_value_min');
  const hi = c.value('clip_value_max');
  // ONNX Clip's bounds are scalars; TF's broadcast: a tensor bound is Max / Min
  if (lo.shape.length || hi.shape.length) return c.out('Min', [c.tmp('Max', [x.name, lo.name], 'lower'), hi.name], broadcast(broadcast(x.shape, lo.shape), hi.shape));
  return c.out('Clip', [x.name, lo.name, hi.name], x.shape);
}

function matmul(c: OpCtx): KValue {
  let a = c.value(0);
  let b = c.value('b');
  const swap = (v: KValue, key: string): KValue => {
    const r = v.shape.length;
    const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
    return { name: c.tmp('Transpose', [v.name], key, { perm: ints(perm) }), shape: perm.map((p) => v.shape[p] ?? null) };
  };
  if (c.bool('transpose_a', false) || c.bool('adjoint_a', false)) a = swap(a, 'a_transposed');
  if (c.bool('transpose_b', false) || c.bool('adjoint_b', false)) b = swap(b, 'b_transposed');
  const batch = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return c.out('MatMul', [a.name, b.name], [...batch, a.shape[a.shape.length - 2] ?? null, b.shape[b.shape.length - 1] ?? null]);
}

function leakyRelu(c: OpCtx): KValue {
  const x = c.value(0);
  return c.out('LeakyRelu', [x.name], x.shape, { alpha: { type: 'float', value: c.num('alpha', 0.2) } });
}

/** tf.nn.gelu: exact (erf), or with approximate=True the tanh form 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))). */
function gelu(c: OpCtx): KValue {
  const x = c.value(0);
  if (!c.bool('approximate', false)) return emitActivation(c.e, 'gelu', x, c.call.name, c.call);
  const k = (name: string, v: number) => c.e.constant(`${c.call.name}/${name}`, Tensor.float32([], [v]));
  const cube = c.tmp('Mul', [c.tmp('Mul', [x.name, x.name], 'x2'), x.name], 'x3');
  const inner = c.tmp('Add', [x.name, c.tmp('Mul', [cube, k('c', 0.044715)], 'cx3')], 'inner');
  const t = c.tmp('Tanh', [c.tmp('Mul', [inner, k('s', Math.sqrt(2 / Math.PI))], 'scaled')], 'tanh');
  const half = c.tmp('Mul', [c.tmp('Add', [t, k('one', 1)], 'one_plus'), k('half', 0.5)], 'half');
  return c.out('Mul', [x.name, half], x.shape);
}

export const BIG = 2 ** 62;

/** x[spec] (SlicingOpLambda '__operators__.getitem'): integers, slices {start, stop, step}, ..., tf.newaxis (null). */
function getItem(c: OpCtx): KValue {
  const x = c.value(0);
  const raw = c.args.kwargs.slice_spec;
  const spec: Json[] = Array.isArray(raw) ? raw : [raw ?? null];
  const r = x.shape.length;
  const isEllipsis = (s: Json) => isObject(s) && s.class_name === '__ellipsis__';
  const consumes = spec.filter((s) => s !== null && !isEllipsis(s)).length;
  if (spec.filter(isEllipsis).length > 1) throw new FormatError(`${c.where}: more than one ellipsis`);
  if (consumes > r) throw new FormatError(`${c.where}: ${consumes} indices into a rank-${r} tensor`);
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const steps: number[] = [];
  const drop: number[] = [];
  const shape: KShape = [];
  // where tf.newaxis puts a 1 in the output, counted after the dropped (integer-indexed) axes
  const newAxes: number[] = [];
  let axis = 0;
  for (const s of spec) {
    if (isEllipsis(s)) {
      for (let k = 0; k < r - consumes; k++) shape.push(x.shape[axis++] ?? null);
    } else if (s === null) {
      newAxes.push(shape.length);
      shape.push(1);
    } else if (typeof s === 'number' && Number.isInteger(s)) {
      const d = x.shape[axis];
      if (d !== null && d !== undefined && (s >= d || s < -d)) throw new FormatError(`${c.where}: index ${s} of axis ${axis}, of size ${d}`);
      starts.push(s);
      ends.push(s === -1 ? BIG : s + 1);
      axes.push(axis);
      steps.push(1);
      drop.push(axis++);
    } else if (isObject(s) && ('start' in s || 'stop' in s || 'step' in s)) {
      const step = s.step ?? 1;
      const start = s.start ?? null;
      const stop = s.stop ?? null;
      if (typeof step !== 'number' || step === 0 || (start !== null && typeof start !== 'number') || (stop !== null && typeof stop !== 'number')) throw new UnsupportedError(`a slice ${JSON.stringify(s)} (constant integers are read)`, c.where);
      const b = start ?? (step > 0 ? 0 : BIG);
      const e = stop ?? (step > 0 ? BIG : -BIG);
      if (start !== null || stop !== null || step !== 1) {
        starts.push(b);
        ends.push(e);
        axes.push(axis);
        steps.push(step);
      }
      shape.push(sliceLength(x.shape[axis] ?? null, start, stop, step));
      axis++;
    } else throw new UnsupportedError(`an index ${JSON.stringify(s)?.slice(0, 60)} (integers, slices, ... and tf.newaxis are read)`, c.where);
  }
  while (axis < r) shape.push(x.shape[axis++] ?? null);
  let cur = x.name;
  if (axes.length) cur = c.tmp('Slice', [cur, c.int64('starts', starts), c.int64('ends', ends), c.int64('slice_axes', axes), c.int64('steps', steps)], 'slice');
  if (drop.length) cur = c.tmp('Squeeze', [cur, c.int64('squeeze_axes', drop)], 'squeeze');
  if (newAxes.length) cur = c.tmp('Unsqueeze', [cur, c.int64('newaxis', newAxes)], 'newaxis');
  return c.out('Identity', [cur], shape);
}

/** Python's len(range(n)[start:stop:step]) on a known size; null when the size is unknown. */
function sliceLength(n: number | null, start: number | null, stop: number | null, step: number): number | null {
  if (n === null) return null;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const at = (v: number | null, dflt: number, lo: number, hi: number) => (v === null ? dflt : clamp(v < 0 ? v + n : v, lo, hi));
  if (step > 0) return Math.max(0, Math.ceil((at(stop, n, 0, n) - at(start, 0, 0, n)) / step));
  return Math.max(0, Math.ceil((at(stop, -1, -1, n - 1) - at(start, n - 1, -1, n - 1)) / step));
}

/** TF API path (as TFOpLambda's `function` names it) -> IR. */
export const FUNCTIONS: Readonly<Record<string, Fn>> = {
  '__operators__.add': binary('Add'),
  'math.add': binary('Add'),
  'math.subtract': binary('Sub'),
  'math.multiply': binary('Mul'),
  'math.truediv': binary('Div'),
  'math.divide': binary('Div'),
  'math.maximum': binary('Max'),
  'math.minimum': binary('Min'),
  'math.pow': binary('Pow'),
  'nn.relu': activation('relu'),
  'nn.relu6': activation('relu6'),
  'math.sigmoid': activation('sigmoid'),
  'nn.sigmoid': activation('sigmoid'),
  'math.tanh': activation('tanh'),
  'nn.tanh': activation('tanh'),
  'nn.elu': activation('elu'),
  'nn.selu': activation('selu'),
  'math.softplus': activation('softplus'),
  'nn.softplus': activation('softplus'),
  'math.softsign': activation('softsign'),
  'nn.softsign': activation('softsign'),
  'nn.silu': activation('silu'),
  'nn.swish': activation('silu'),
  'nn.gelu': gelu,
  'nn.leaky_relu': leakyRelu,
  'math.exp': unary('Exp'),
  'math.log': unary('Log'),
  'math.sqrt': unary('Sqrt'),
  'math.abs': unary('Abs'),
  'math.negative': unary('Neg'),
  'math.reciprocal': unary('Reciprocal'),
  'math.erf': unary('Erf'),
  'math.floor': unary('Floor'),
  'math.ceil': unary('Ceil'),
  'math.round': unary('Round'),
  'math.sin': unary('Sin'),
  'math.cos': unary('Cos'),
  'math.rsqrt': (c) => {
    const x = c.value(0);
    return c.out('Reciprocal', [c.tmp('Sqrt', [x.name], 'sqrt')], x.shape);
  },
  'math.square': (c) => {
    const x = c.value(0);
    return c.out('Mul', [x.name, x.name], x.shape);
  },
  'nn.softmax': softmax('Softmax'),
  'math.softmax': softmax('Softmax'),
  'nn.log_softmax': softmax('LogSoftmax'),
  'math.log_softmax': softmax('LogSoftmax'),
  'math.reduce_mean': reduce('ReduceMean'),
  'math.reduce_sum': reduce('ReduceSum'),
  'math.reduce_max': reduce('ReduceMax'),
  'math.reduce_min': reduce('ReduceMin'),
  'math.reduce_prod': reduce('ReduceProd'),
  reshape,
  transpose,
  expand_dims: expandDims,
  squeeze,
  'compat.v1.squeeze': squeeze,
  concat,
  stack,
  cast: castOp,
  clip_by_value: clipByValue,
  matmul,
  'linalg.matmul': matmul,
  '__operators__.getitem': getItem,
};

/** The KERAS_LAYERS row of TFOpLambda and SlicingOpLambda. */
export function tfOpLambdaLayer(e: IrEmitter, call: LayerCall): KValue[] {
  const fn = call.config.function;
  if (typeof fn !== 'string') throw new FormatError(`layer '${call.name}' (${call.className}) names no TF function`);
  if (!call.opArgs) throw new UnsupportedError(`${call.className} '${fn}' without its recorded call arguments`, `layer '${call.name}'`);
  const row = FUNCTIONS[fn];
  if (!row) throw new UnsupportedError(`TF function '${fn}' in a Keras ${call.className} layer`, `layer '${call.name}': nnport reads ${Object.keys(FUNCTIONS).length} TF functions (tf-op-lambda.ts)`);
  return [row(new OpCtx(e, call, fn))];
}
