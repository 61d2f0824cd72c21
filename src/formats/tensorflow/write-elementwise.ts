// GraphDef writer rows for the element-wise ops: arithmetic (variadic Max / Min / Sum / Mean as
// chains of TF's binary ops), math functions, comparisons, logic, Where, Mod, BitShift, Cast, and
// Identity / inference-time Dropout.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { floatScalar, isFloat, simple, T, tfName, type GraphDefWriter, type Row } from './write-context.js';

/** ONNX Max / Min / Sum of any number of inputs: TF's Maximum / Minimum / Add take two (and broadcast, which AddN does not), so a chain (one input: Identity). */
function variadic(op: 'Maximum' | 'Minimum' | 'Add'): Row {
  return (w, n, out) => {
    const dt = { T: T(w.dtype(n.inputs[0]!)) };
    if (n.inputs.length === 1) {
      w.add(out, 'Identity', [w.ref(n.inputs[0]!)], dt);
      return;
    }
    let acc = w.ref(n.inputs[0]!);
    n.inputs.slice(1).forEach((i, k) => {
      acc = w.add(k === n.inputs.length - 2 ? out : w.fresh(`${n.name}/${op.toLowerCase()}_${k}`), op, [acc, w.ref(i)], dt);
    });
  };
}

/**
 * ONNX Div. Integers divide truncating toward zero; TF's RealDiv has no integer kernels and TF.js' graph
 * executor lacks TruncateDiv, so an integer quotient is FloorDiv of the magnitudes with the operands'
 * signs (FloorDiv alone for unsigned; a constant positive divisor needs no Abs / Sign of its own).
 */
function integerAwareDiv(w: GraphDefWriter, n: Node, out: string): void {
  const [a, b] = n.inputs as [string, string];
  const dt = w.dtype(a);
  const attr = { T: T(dt) };
  if (isFloat(dt)) {
    w.add(out, 'RealDiv', [w.ref(a), w.ref(b)], attr);
    return;
  }
  if (dt.startsWith('uint')) {
    w.add(out, 'FloorDiv', [w.ref(a), w.ref(b)], attr);
    return;
  }
  const positive = w.g.initializers.get(b)?.toNumbers().every((v) => v > 0) ?? false;
  const abs = (v: string, name: string) => w.add(w.fresh(`${n.name}/${name}`), 'Abs', [w.ref(v)], attr);
  const sign = (v: string, name: string) => w.add(w.fresh(`${n.name}/${name}`), 'Sign', [w.ref(v)], attr);
  const q = w.add(w.fresh(`${n.name}/magnitude`), 'FloorDiv', [abs(a, 'abs_a'), positive ? w.ref(b) : abs(b, 'abs_b')], attr);
  const s = positive ? sign(a, 'sign') : w.add(w.fresh(`${n.name}/sign`), 'Mul', [sign(a, 'sign_a'), sign(b, 'sign_b')], attr);
  w.add(out, 'Mul', [q, s], attr);
}

/** Cast between numeric / bool dtypes (TF casts float to int toward zero, as ONNX does); strings have no Cast in TF. */
function cast(w: GraphDefWriter, n: Node, out: string, to: Tensor['dtype']): void {
  const from = w.dtype(n.inputs[0]!);
  if (from === 'string' || to === 'string') throw new UnsupportedError(`Cast from ${from} to ${to} in a GraphDef`, `node '${n.name}'`);
  if (from === to) w.add(out, 'Identity', [w.ref(n.inputs[0]!)], { T: T(from) });
  else w.add(out, 'Cast', [w.ref(n.inputs[0]!)], { SrcT: T(from), DstT: T(to), Truncate: { b: false } });
}

export const elementwiseRows: Record<string, Row> = {
  Add: simple('Add'),
  Sub: simple('Sub'),
  Mul: simple('Mul'),
  Div: integerAwareDiv,
  Pow: simple('Pow'),
  Max: variadic('Maximum'),
  Min: variadic('Minimum'),
  Sum: variadic('Add'),
  Mean: (w, n, out) => {
    const dtype = w.dtype(n.inputs[0]!);
    if (!isFloat(dtype)) throw new UnsupportedError(`Mean of ${dtype} inputs in a GraphDef`, `node '${n.name}'`);
    const sum = n.inputs.length > 1 ? w.fresh(`${n.name}/sum`) : w.ref(n.inputs[0]!);
    if (n.inputs.length > 1) variadic('Add')(w, n, sum);
    w.add(out, 'RealDiv', [sum, w.const(`${n.name}/count`, new Tensor(dtype, [], Float32Array.of(n.inputs.length)))], { T: T(dtype) });
  },
  Exp: simple('Exp'),
  Log: simple('Log'),
  Sqrt: simple('Sqrt'),
  Abs: simple('Abs'),
  Neg: simple('Neg'),
  Identity: simple('Identity'),
  Floor: simple('Floor'),
  Ceil: simple('Ceil'),
  // both round half to even
  Round: simple('Round'),
  Sign: simple('Sign'),
  Reciprocal: simple('Reciprocal'),
  Sin: simple('Sin'),
  Cos: simple('Cos'),
  Tan: simple('Tan'),
  Asin: simple('Asin'),
  Acos: simple('Acos'),
  Atan: simple('Atan'),
  Sinh: simple('Sinh'),
  Cosh: simple('Cosh'),
  Asinh: simple('Asinh'),
  Acosh: simple('Acosh'),
  Atanh: simple('Atanh'),
  Erf: simple('Erf'),
  IsNaN: simple('IsNan'),
  IsInf: (w, n, out) => {
    const pos = attrInt(n, 'detect_positive', 1);
    const neg = attrInt(n, 'detect_negative', 1);
    const x = w.ref(n.inputs[0]!);
    const dtype = w.dtype(n.inputs[0]!);
    if (pos && neg) {
      w.add(out, 'IsInf', [x], { T: T(dtype) });
      return;
    }
    if (!pos && !neg) {
      // neither sign: all false
      w.add(out, 'Equal', [x, w.add(w.fresh(`${n.name}/nan`), 'Mul', [x, floatScalar(w, `${n.name}/nan_value`, dtype, NaN)], { T: T(dtype) })], { T: T(dtype) });
      return;
    }
    // only +inf (only -inf): x equal to it
    w.add(out, 'Equal', [x, floatScalar(w, `${n.name}/inf`, dtype, pos ? Infinity : -Infinity)], { T: T(dtype) });
  },
  Equal: simple('Equal'),
  Less: simple('Less'),
  Greater: simple('Greater'),
  LessOrEqual: simple('LessEqual'),
  GreaterOrEqual: simple('GreaterEqual'),
  Not: (w, n, out) => w.add(out, 'LogicalNot', [w.ref(n.inputs[0]!)]),
  And: (w, n, out) => w.add(out, 'LogicalAnd', n.inputs.map((i) => w.ref(i))),
  Or: (w, n, out) => w.add(out, 'LogicalOr', n.inputs.map((i) => w.ref(i))),
  // TF has no LogicalXor kernel: two booleans differ
  Xor: simple('NotEqual'),
  Where: (w, n, out) => w.add(out, 'SelectV2', n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[1]!)) }),
  // fmod = 0 takes the divisor's sign (TF's FloorMod), fmod = 1 the dividend's (C's fmod, TruncateMod)
  Mod: (w, n, out) => w.add(out, attrInt(n, 'fmod', 0) ? 'TruncateMod' : 'FloorMod', n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)) }),
  BitShift: (w, n, out) => w.add(out, attrString(n, 'direction', 'LEFT') === 'RIGHT' ? 'RightShift' : 'LeftShift', n.inputs.map((i) => w.ref(i)), { T: T(w.dtype(n.inputs[0]!)) }),
  Cast: (w, n, out) => cast(w, n, out, w.dtype(n.outputs[0]!)),
  CastLike: (w, n, out) => cast(w, n, out, w.dtype(n.inputs[1]!)),
  Dropout: (w, n, out) => {
    w.add(out, 'Identity', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)) });
    // the mask of an inference-time dropout keeps every element (written only where it is read)
    const mask = n.outputs[1];
    if (mask && (w.g.outputs.some((o) => o.name === mask) || w.g.nodes.some((m) => m.inputs.includes(mask)))) w.add(tfName(n.outputs[1]), 'Fill', [w.add(w.fresh(`${n.name}/shape`), 'Shape', [w.ref(n.inputs[0]!)], { T: T(w.dtype(n.inputs[0]!)), out_type: T('int32') }), w.const(`${n.name}/keep`, new Tensor('bool', [], Uint8Array.of(1)))], { T: T('bool'), index_type: T('int32') });
  },
};
