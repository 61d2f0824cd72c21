// GraphDef writer rows for the activations: TF's own op where it has ONNX's semantics (Relu6 for
// Clip(0, 6), Selu with the default constants), else their arithmetic; Softmax over any axis,
// and Hardmax as OneHot(ArgMax).
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { floatScalar, isFloat, simple, T, type GraphDefWriter, type Row } from './write-context.js';

/** Softmax over any axis: TF's runs over the last one, so another axis is transposed there and back. */
export function softmax(w: GraphDefWriter, n: Node, out: string, op: string): void {
  const x = n.inputs[0]!;
  const rank = w.shape(x)?.length;
  if (rank === undefined) throw new UnsupportedError(`${op} of a value of unknown rank in a GraphDef`, `node '${n.name}'`);
  const axis = attrInt(n, 'axis', -1) < 0 ? attrInt(n, 'axis', -1) + rank : attrInt(n, 'axis', -1);
  const dt = { T: T(w.dtype(x)) };
  if (axis === rank - 1) {
    w.add(out, op, [w.ref(x)], dt);
    return;
  }
  // swapping `axis` and the last is its own inverse
  const perm = Array.from({ length: rank }, (_, i) => (i === axis ? rank - 1 : i === rank - 1 ? axis : i));
  const permName = w.int32(`${n.name}/perm`, perm);
  const moved = w.add(w.fresh(`${n.name}/to_last`), 'Transpose', [w.ref(x), permName], { ...dt, Tperm: T('int32') });
  const sm = w.add(w.fresh(`${n.name}/softmax`), op, [moved], dt);
  w.add(out, 'Transpose', [sm, permName], { ...dt, Tperm: T('int32') });
}

/**
 * PRelu in the form Keras' PReLU freezes to, Relu(x) + (-alpha) * Relu(-x) (exact: one side is
 * always zero), which OpenCV's importer fuses back into its PReLU layer.
 */
function prelu(w: GraphDefWriter, n: Node, out: string): void {
  const [x, slope] = n.inputs as [string, string];
  const where = `node '${n.name}'`;
  const a = w.g.initializers.get(slope);
  if (!a && w.dtype(slope) === 'float32' && w.dtype(x) === 'float32') {
    // a slope fed at run time: Relu(x) - slope * Relu(-x)
    const dt = { T: T('float32') };
    const pos = w.add(w.fresh(`${n.name}/pos`), 'Relu', [w.ref(x)], dt);
    const reluNeg = w.add(w.fresh(`${n.name}/relu_neg`), 'Relu', [w.add(w.fresh(`${n.name}/neg_x`), 'Neg', [w.ref(x)], dt)], dt);
    const scaled = w.add(w.fresh(`${n.name}/scaled`), 'Mul', [w.ref(slope), reluNeg], dt);
    w.add(out, 'Sub', [pos, scaled], dt);
    return;
  }
  if (!a || a.dtype !== 'float32') throw new UnsupportedError('PRelu with a computed slope in a GraphDef', where);
  const shape = w.shape(x);
  const c = shape?.[shape.length - 1];
  // a slope over the channels alone (any leading 1s) is written [C]
  const flat = typeof c === 'number' && a.size === c && a.shape[a.rank - 1] === c ? [c] : [...a.shape];
  const neg = Float32Array.from(a.data as Float32Array, (v) => -v);
  const dt = { T: T('float32') };
  const pos = w.add(w.fresh(`${n.name}/pos`), 'Relu', [w.ref(x)], dt);
  const negX = w.add(w.fresh(`${n.name}/neg_x`), 'Neg', [w.ref(x)], dt);
  const reluNeg = w.add(w.fresh(`${n.name}/relu_neg`), 'Relu', [negX], dt);
  const scaled = w.add(w.fresh(`${n.name}/scaled`), 'Mul', [w.const(`${n.name}/neg_alpha`, new Tensor('float32', flat, neg)), reluNeg], dt);
  w.add(out, 'Add', [pos, scaled], dt);
}

/** Selu: TF's has ONNX's default alpha and gamma; others are gamma * (alpha * Elu(x) + (1 - alpha) * Relu(x)). */
function selu(w: GraphDefWriter, n: Node, out: string): void {
  const alpha = attrFloat(n, 'alpha', 1.67326319217681884765625);
  const gamma = attrFloat(n, 'gamma', 1.05070102214813232421875);
  const dtype = w.dtype(n.inputs[0]!);
  const dt = { T: T(dtype) };
  if (Math.fround(alpha) === Math.fround(1.67326319217681884765625) && Math.fround(gamma) === Math.fround(1.05070102214813232421875)) {
    w.add(out, 'Selu', [w.ref(n.inputs[0]!)], dt);
    return;
  }
  const e = w.fresh(`${n.name}/elu`);
  elu(w, { ...n, attrs: { ...n.attrs, alpha: { type: 'float', value: alpha } } }, e);
  w.add(out, 'Mul', [e, floatScalar(w, `${n.name}/gamma`, dtype, gamma)], dt);
}

/** Hardmax as OneHot(ArgMax) along the axis (opset 13's; before, over the flattened dims after it: the same when it is the last). */
function hardmax(w: GraphDefWriter, n: Node, out: string): void {
  const x = n.inputs[0]!;
  const shape = w.shape(x);
  const where = `node '${n.name}'`;
  const opset = w.g.opsets[''] ?? w.g.opsets['ai.onnx'] ?? 13;
  if (!shape) throw new UnsupportedError('Hardmax of a value of unknown rank in a GraphDef', where);
  const given = attrInt(n, 'axis', opset < 13 ? 1 : -1);
  const axis = given < 0 ? given + shape.length : given;
  if (opset < 13 && axis !== shape.length - 1) throw new UnsupportedError('Hardmax before opset 13 over more than the last axis in a GraphDef', where);
  const depth = shape[axis];
  if (typeof depth !== 'number') throw new UnsupportedError('Hardmax over an axis of unknown size in a GraphDef', where);
  const dtype = w.dtype(x);
  // ties: TF's ArgMax takes the first index, as ONNX's Hardmax does
  const arg = w.add(w.fresh(`${n.name}/argmax`), 'ArgMax', [w.ref(x), w.int32(`${n.name}/axis`, [axis], true)], { T: T(dtype), Tidx: T('int32'), output_type: T('int32') });
  w.add(out, 'OneHot', [arg, w.int32(`${n.name}/depth`, [depth], true), floatScalar(w, `${n.name}/on`, dtype, 1), floatScalar(w, `${n.name}/off`, dtype, 0)], { T: T(dtype), TI: T('int32'), axis: { i: axis } });
}

/** Shrink: x + bias below -lambd, x - bias above lambd, 0 between. */
function shrink(w: GraphDefWriter, n: Node, out: string): void {
  const dtype = w.dtype(n.inputs[0]!);
  if (!isFloat(dtype)) throw new UnsupportedError(`Shrink of ${dtype} in a GraphDef`, `node '${n.name}'`);
  const x = w.ref(n.inputs[0]!);
  const lambd = attrFloat(n, 'lambd', 0.5);
  const bias = attrFloat(n, 'bias', 0);
  const dt = { T: T(dtype) };
  const below = w.add(w.fresh(`${n.name}/below`), 'Less', [x, floatScalar(w, `${n.name}/neg_lambd`, dtype, -lambd)], dt);
  const above = w.add(w.fresh(`${n.name}/above`), 'Greater', [x, floatScalar(w, `${n.name}/lambd`, dtype, lambd)], dt);
  const up = w.add(w.fresh(`${n.name}/plus_bias`), 'Add', [x, floatScalar(w, `${n.name}/bias`, dtype, bias)], dt);
  const down = w.add(w.fresh(`${n.name}/minus_bias`), 'Sub', [x, floatScalar(w, `${n.name}/bias_1`, dtype, bias)], dt);
  const upper = w.add(w.fresh(`${n.name}/upper`), 'SelectV2', [above, down, floatScalar(w, `${n.name}/zero`, dtype, 0)], dt);
  w.add(out, 'SelectV2', [below, up, upper], dt);
}

/** HardSigmoid: max(0, min(1, alpha * x + beta)). */
function hardSigmoid(w: GraphDefWriter, n: Node, out: string): void {
  const dtype = w.dtype(n.inputs[0]!);
  const dt = { T: T(dtype) };
  const scaled = w.add(w.fresh(`${n.name}/scaled`), 'Mul', [w.ref(n.inputs[0]!), floatScalar(w, `${n.name}/alpha`, dtype, attrFloat(n, 'alpha', 0.2))], dt);
  const shifted = w.add(w.fresh(`${n.name}/shifted`), 'Add', [scaled, floatScalar(w, `${n.name}/beta`, dtype, attrFloat(n, 'beta', 0.5))], dt);
  const capped = w.add(w.fresh(`${n.name}/min`), 'Minimum', [shifted, floatScalar(w, `${n.name}/one`, dtype, 1)], dt);
  w.add(out, 'Maximum', [capped, floatScalar(w, `${n.name}/zero`, dtype, 0)], dt);
}

/**
 * Elu with ONNX's alpha: TF's Elu has alpha 1, so alpha * Elu(x) + (1 - alpha) * Relu(x), which is
 * x above zero and alpha * (exp(x) - 1) below.
 */
function elu(w: GraphDefWriter, n: Node, out: string): void {
  const alpha = attrFloat(n, 'alpha', 1);
  const x = w.ref(n.inputs[0]!);
  const dtype = w.dtype(n.inputs[0]!);
  const dt = { T: T(dtype) };
  if (alpha === 1) {
    w.add(out, 'Elu', [x], dt);
    return;
  }
  const scalar = (tag: string, v: number) => floatScalar(w, `${n.name}/${tag}`, dtype, v);
  const e = w.add(w.fresh(`${n.name}/elu`), 'Elu', [x], dt);
  const neg = w.add(w.fresh(`${n.name}/scaled_elu`), 'Mul', [e, scalar('alpha', alpha)], dt);
  const r = w.add(w.fresh(`${n.name}/relu`), 'Relu', [x], dt);
  const pos = w.add(w.fresh(`${n.name}/scaled_relu`), 'Mul', [r, scalar('one_minus_alpha', 1 - alpha)], dt);
  w.add(out, 'Add', [neg, pos], dt);
}

export const activationRows: Record<string, Row> = {
  Relu: simple('Relu'),
  Sigmoid: simple('Sigmoid'),
  Tanh: simple('Tanh'),
  Softplus: simple('Softplus'),
  Softsign: simple('Softsign'),
  Elu: elu,
  Selu: selu,
  // Celu = alpha * Elu(x / alpha)
  Celu: (w, n, out) => {
    const dtype = w.dtype(n.inputs[0]!);
    const alpha = attrFloat(n, 'alpha', 1);
    const dt = { T: T(dtype) };
    const scaled = w.add(w.fresh(`${n.name}/scaled`), 'RealDiv', [w.ref(n.inputs[0]!), floatScalar(w, `${n.name}/alpha`, dtype, alpha)], dt);
    w.add(out, 'Mul', [w.add(w.fresh(`${n.name}/elu`), 'Elu', [scaled], dt), floatScalar(w, `${n.name}/alpha_1`, dtype, alpha)], dt);
  },
  HardSigmoid: hardSigmoid,
  // HardSwish = x * HardSigmoid(x) with alpha 1/6, beta 0.5
  HardSwish: (w, n, out) => {
    const dtype = w.dtype(n.inputs[0]!);
    const gate = w.fresh(`${n.name}/gate`);
    hardSigmoid(w, { ...n, attrs: { alpha: { type: 'float', value: 1 / 6 }, beta: { type: 'float', value: 0.5 } } }, gate);
    w.add(out, 'Mul', [w.ref(n.inputs[0]!), gate], { T: T(dtype) });
  },
  ThresholdedRelu: (w, n, out) => {
    const dtype = w.dtype(n.inputs[0]!);
    const x = w.ref(n.inputs[0]!);
    const above = w.add(w.fresh(`${n.name}/above`), 'Greater', [x, floatScalar(w, `${n.name}/alpha`, dtype, attrFloat(n, 'alpha', 1))], { T: T(dtype) });
    w.add(out, 'SelectV2', [above, x, floatScalar(w, `${n.name}/zero`, dtype, 0)], { T: T(dtype) });
  },
  Shrink: shrink,
  LeakyRelu: (w, n, out) => w.add(out, 'LeakyRelu', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), alpha: { f: attrFloat(n, 'alpha', 0.01) } }),
  PRelu: prelu,
  Clip: (w, n, out) => {
    const x = w.ref(n.inputs[0]!);
    // before opset 11 the bounds are attributes
    const bound = (i: number, attr: string) => (n.inputs[i] ? w.g.initializers.get(n.inputs[i]!)?.toNumbers()[0] : n.attrs[attr] ? attrFloat(n, attr, 0) : undefined);
    const lo = bound(1, 'min');
    const hi = bound(2, 'max');
    const dt = { T: T(w.dtype(n.inputs[0]!)) };
    if ((n.inputs[1] && lo === undefined) || (n.inputs[2] && hi === undefined)) {
      // bounds fed at run time (scalars): Minimum then Maximum with them
      const mid = n.inputs[1] && n.inputs[2] ? w.fresh(`${n.name}/min`) : out;
      if (n.inputs[2]) w.add(mid, 'Minimum', [x, w.ref(n.inputs[2])], dt);
      if (n.inputs[1]) w.add(out, 'Maximum', [n.inputs[2] ? mid : x, w.ref(n.inputs[1])], dt);
      return;
    }
    if (lo === 0 && hi === 6) w.add(out, 'Relu6', [x], dt);
    else if (lo === 0 && hi === undefined) w.add(out, 'Relu', [x], dt);
    else if (lo === undefined && hi === undefined) w.add(out, 'Identity', [x], dt);
    else {
      // Minimum then Maximum with scalar constants (what tf.clip_by_value computes)
      const scalar = (tag: string, v: number) => w.const(`${n.name}/${tag}`, new Tensor(w.dtype(n.inputs[0]!), [], Float32Array.of(v)));
      const mid = lo !== undefined && hi !== undefined ? w.fresh(`${n.name}/min`) : out;
      if (hi !== undefined) w.add(mid, 'Minimum', [x, scalar('max', hi)], dt);
      if (lo !== undefined) w.add(out, 'Maximum', [hi !== undefined ? mid : x, scalar('min', lo)], dt);
    }
  },
  Softmax: (w, n, out) => softmax(w, n, out, 'Softmax'),
  LogSoftmax: (w, n, out) => softmax(w, n, out, 'LogSoftmax'),
  Hardmax: hardmax,
};
