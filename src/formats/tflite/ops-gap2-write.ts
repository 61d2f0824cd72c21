// More IR ops with no TFLite builtin of their own, written as builtins (the rows beside
// ops-gap-write.ts):
//   Erf       the rational approximation TensorFlow's own float32 Erf computes (Eigen's
//             generic_fast_erf_float, also XLA's and TVM's): x clamped to [-4, 4],
//             x·P(x²) / Q(x²) with P of degree 6 and Q of degree 4 in x², by MUL / ADD / DIV. Each
//             step rounds to float32: over every float32 x the result is within 4.5e-7 of erf(x)
//             (7.5 ulps of the result, at |x| ≈ 3.2; measured against math.erf in double on a
//             2.4 M-point grid, scripts/fixtures/tflite_gap2_erf.py). erf(±4) rounds to ±1 in float32.
//   NonZero   WHERE (one row of coordinates per true / non-zero element, int64) of the input
//             (NOT_EQUAL to 0 unless bool), TRANSPOSEd to ONNX's one column each
//   Compress  GATHER of the positions where the 1-D condition holds (a constant condition: those
//             positions as an int32 constant, the output static; else WHERE of it RESHAPEd to a
//             vector, the output dynamic), along the axis, or of the flattened input without one
//   Unique    (no axis, or the axis of a 1-D input) UNIQUE of the flattened input: the values in
//             order of first occurrence and each element's position among them (inverse_indices);
//             a ONE_HOT [n, k] of those positions gives counts (SUM over the elements) and each
//             value's first index (ARG_MAX over the elements: the first maximum); sorted = 1 orders
//             them by TOPK_V2 of the negated values (unique: no ties) and GATHERs all four, the
//             inverse_indices through the inverse permutation (ARG_MAX of ONE_HOT of the order)
//   Add / Sub / Mul / Div / Mod (fmod 0) / Max / Min of integer types TFLite's ADD, SUB, MUL, DIV,
//             FLOOR_MOD, MAXIMUM, MINIMUM kernels lack (uint8, int8 and int16 not quantized, uint32): CAST to int32 (uint32: int64), the op, CAST back, which wraps modulo 2^bits as
//             ONNX's integer arithmetic does (TFLite's CAST is a C++ static_cast); the wide result is
//             exact (products of two 16-bit values fit int32, of two uint32 int64)
// All of them run in float between DEQUANTIZE / QUANTIZE in a quantized file (FLOAT_ONLY_GAP2_OPS).
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ArgMaxOptions } from '../generated/tflite/arg-max-options.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { OneHotOptions } from '../generated/tflite/one-hot-options.js';
import { ReducerOptions } from '../generated/tflite/reducer-options.js';
import { ShapeOptions } from '../generated/tflite/shape-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { UniqueOptions } from '../generated/tflite/unique-options.js';
import { addOpts, divOpts, floatInput, floatScalar, mulOpts, stepper, subOpts } from './ops-more-write.js';
import { int32, normAxis, type Converter, type WriteContext } from './ops-write.js';
import { int64Div } from './write-int64-div.js';
import type { WTensor } from './write.js';

/** Eigen's float32 erf: numerator coefficients of x·P(x²), highest power first (alpha_13 ... alpha_1). */
export const ERF_ALPHA = [-2.72614225801306e-10, 2.77068142495902e-8, -2.10102402082508e-6, -5.69250639462346e-5, -7.34990630326855e-4, -2.95459980854025e-3, -1.60960333262415e-2];
/** ... and of the denominator Q(x²) (beta_8 ... beta_0). */
export const ERF_BETA = [-1.45660718464996e-5, -2.13374055278905e-4, -1.68282697438203e-3, -7.37332916720468e-3, -1.42647390514189e-2];

const erf: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const clamped = op(BuiltinOperator.MAXIMUM, [op(BuiltinOperator.MINIMUM, [x, floatScalar(c, y, 'four', 4)], 'upper'), floatScalar(c, y, 'minus_four', -4)], 'clamped');
  const x2 = op(BuiltinOperator.MUL, [clamped, clamped], 'square', mulOpts);
  // Horner: ((c0·x² + c1)·x² + c2)... each MUL and ADD rounded to float32, as Eigen's pmadd without FMA
  const horner = (coefficients: number[], tag: string): string => {
    let acc = floatScalar(c, y, `${tag}0`, coefficients[0]!);
    coefficients.slice(1).forEach((k, i) => {
      const m = op(BuiltinOperator.MUL, [x2, acc], `${tag}_mul${i + 1}`, mulOpts);
      acc = op(BuiltinOperator.ADD, [m, floatScalar(c, y, `${tag}${i + 1}`, k)], `${tag}_add${i + 1}`, addOpts);
    });
    return acc;
  };
  const p = op(BuiltinOperator.MUL, [clamped, horner(ERF_ALPHA, 'alpha')], 'numerator', mulOpts);
  op(BuiltinOperator.DIV, [p, horner(ERF_BETA, 'beta')], '', divOpts, undefined, y);
};

/** WHERE of `v` (its true / non-zero elements' coordinates, [count, rank] int64, count dynamic). */
function whereOf(c: WriteContext, v: string, y: string, tag: string): string {
  const info = c.info(v);
  const rank = c.shapeOf(v).length;
  const op = stepper(c, y);
  const size = c.shapeOf(v).reduce((a, d) => a * d, 1);
  let cond = v;
  if (info.dtype !== 'bool') {
    if (info.quant) throw new UnsupportedError(`NonZero / Compress of quantized ${info.dtype} data in a TFLite file`, `'${v}'`);
    const zero = c.addConstant(`${y}_${tag}_zero`, Tensor.zeros(info.dtype, []));
    cond = op(BuiltinOperator.NOT_EQUAL, [v, zero], `${tag}_nonzero`, undefined, { dtype: 'bool', shape: c.shapeOf(v), signature: info.signature });
  }
  return op(BuiltinOperator.WHERE, [cond], `${tag}_coordinates`, undefined, { dtype: 'int64', shape: [size, rank], signature: [-1, rank] });
}

const nonZero: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const rows = whereOf(c, x, y, 'where');
  c.emit({ code: BuiltinOperator.TRANSPOSE, inputs: [rows, c.addConstant(`${y}_perm`, int32([1, 0]))], outputs: [y] });
};

const gatherOpts = (axis: number) => (b: Parameters<NonNullable<Parameters<WriteContext['emit']>[0]['options']>>[0]) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, axis, 0)] as [BuiltinOptions, number];

const compress: Converter = (n, c) => {
  let x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const condName = n.inputs[1]!;
  const condShape = c.shapeOf(c.tensor(condName));
  if (condShape.length !== 1) throw new UnsupportedError(`Compress with a condition of rank ${condShape.length} in a TFLite file`, `node '${n.name}': ONNX takes a 1-D condition`);
  const axisAttr = n.attrs.axis;
  let axis = 0;
  if (axisAttr) axis = normAxis(attrInt(n, 'axis', 0), c.shapeOf(x).length);
  else if (c.shapeOf(x).length !== 1) {
    const info = c.info(x);
    const size = c.shapeOf(x).reduce((a, d) => a * d, 1);
    x = op(BuiltinOperator.RESHAPE, [x, c.addConstant(`${y}_flat_shape`, int32([-1]))], 'flat', undefined, { dtype: info.dtype, shape: [size], signature: info.signature ? [-1] : undefined, quant: info.quant });
  }
  const dim = c.shapeOf(x)[axis]!;
  const constCond = c.constantOf(condName);
  let positions: string;
  if (constCond) {
    const values = constCond.toNumbers();
    const picked = values.flatMap((v, i) => (v ? [i] : []));
    if (picked.some((i) => i >= dim)) throw new UnsupportedError('Compress with a condition longer than the axis in a TFLite file', `node '${n.name}': a true element past the axis' ${dim} entries`);
    positions = c.addConstant(`${y}_positions`, int32(picked));
  } else {
    const rows = whereOf(c, c.tensor(condName), y, 'where');
    positions = op(BuiltinOperator.RESHAPE, [rows, c.addConstant(`${y}_positions_shape`, int32([-1]))], 'positions', undefined, { dtype: 'int64', shape: [condShape[0]!], signature: [-1] });
  }
  c.emit({ code: BuiltinOperator.GATHER, inputs: [x, positions], outputs: [y], options: gatherOpts(axis) });
};

/** The builtin of each elementwise op, and the integer types its kernel takes. */
const WIDENED: Record<string, { code: BuiltinOperator; takes: string[] }> = {
  Add: { code: BuiltinOperator.ADD, takes: ['int32', 'int64'] },
  Sub: { code: BuiltinOperator.SUB, takes: ['int32', 'int64'] },
  Mul: { code: BuiltinOperator.MUL, takes: ['int32', 'int64'] },
  Div: { code: BuiltinOperator.DIV, takes: ['int32'] },
  Mod: { code: BuiltinOperator.FLOOR_MOD, takes: ['int32', 'int64'] },
  Max: { code: BuiltinOperator.MAXIMUM, takes: ['uint8', 'int8', 'int16', 'int32', 'int64'] },
  Min: { code: BuiltinOperator.MINIMUM, takes: ['uint8', 'int8', 'int16', 'int32', 'int64'] },
};
// (uint16 stays refused: the interpreter's Web API, the oracle, takes no uint16 tensors)
const NARROW: Record<string, 'int32' | 'int64'> = { uint8: 'int32', int8: 'int32', int16: 'int32', uint32: 'int64' };

/**
 * The converter of an elementwise integer op whose type TFLite's kernel lacks (computed on int32 /
 * int64 between CASTs), or undefined for every other node.
 */
export function widenedInteger(n: Node, c: WriteContext): Converter | undefined {
  const row = n.domain ? undefined : WIDENED[n.opType];
  if (!row || !n.inputs[0]) return undefined;
  const info = c.info(c.tensor(n.inputs[0]));
  if (n.opType === 'Div' && info.dtype === 'int64' && !info.quant) return int64Div;
  const wide = NARROW[info.dtype];
  if (!wide || info.quant || row.takes.includes(info.dtype)) return undefined;
  if (n.opType === 'Mod' && attrInt(n, 'fmod', 0) === 1) return undefined;
  if (n.opType === 'Div' && wide === 'int64') return undefined;
  return (node, ctx) => {
    const y = ctx.tensor(node.outputs[0]!);
    const op = stepper(ctx, y);
    const yInfo = ctx.info(y);
    const ins = node.inputs.map((name, i) => {
      const t = ctx.tensor(name);
      const ti = ctx.info(t);
      return op(BuiltinOperator.CAST, [t], `input${i}_${wide}`, undefined, { dtype: wide, shape: ti.shape, signature: ti.signature });
    });
    const like = { dtype: wide, shape: yInfo.shape, signature: yInfo.signature };
    // a variadic Max / Min pairwise
    let acc = ins[0]!;
    for (let k = 1; k < ins.length; k++) acc = op(row.code, [acc, ins[k]!], `${wide}_${k}`, row.code === BuiltinOperator.ADD ? addOpts : row.code === BuiltinOperator.MUL ? mulOpts : row.code === BuiltinOperator.DIV ? divOpts : row.code === BuiltinOperator.SUB ? subOpts : undefined, like);
    ctx.emit({ code: BuiltinOperator.CAST, inputs: [acc], outputs: [y] });
  };
}

const unique: Converter = (n, c) => {
  let x = c.tensor(n.inputs[0]!);
  const info = c.info(x);
  const shape = c.shapeOf(x);
  if (n.attrs.axis && shape.length !== 1) throw new UnsupportedError(`Unique along an axis of a rank-${shape.length} input in a TFLite file`, `node '${n.name}': TFLite's UNIQUE takes a 1-D input (no axis, or a 1-D input, is written)`);
  if (info.quant) throw new UnsupportedError('Unique of quantized data in a TFLite file', `node '${n.name}'`);
  const sorted = attrInt(n, 'sorted', 1) === 1;
  if (sorted && !['float32', 'int32', 'int64'].includes(info.dtype)) throw new UnsupportedError(`sorted Unique of ${info.dtype} data in a TFLite file`, `node '${n.name}': written as TOPK_V2 of the negated values (float32, int32, int64)`);
  const [yName, firstName, inverseName, countsName] = [0, 1, 2, 3].map((i) => (n.outputs[i] && c.isRead(n.outputs[i]!) ? n.outputs[i]! : undefined));
  const base = c.tensor(n.outputs[0]!);
  const op = stepper(c, base);
  const size = shape.reduce((a, d) => a * d, 1);
  const dyn = (dtype: WTensor['dtype'], dims: number[], signature: number[]) => ({ dtype, shape: dims, signature, quant: undefined });
  if (shape.length !== 1) x = op(BuiltinOperator.RESHAPE, [x, c.addConstant(`${base}_flat_shape`, int32([size]))], 'flat', undefined, { ...dyn(info.dtype, [size], [size]), signature: undefined });
  const values = sorted || !yName ? c.addTensor(`${base}_first_order`, { name: '', ...dyn(info.dtype, [size], [-1]) }) : c.tensor(yName);
  const positions = c.addTensor(`${base}_positions`, { name: '', dtype: 'int32', shape: [size], quant: undefined });
  c.emit({ code: BuiltinOperator.UNIQUE, inputs: [x], outputs: [values, positions], options: (b) => [BuiltinOptions.UniqueOptions, UniqueOptions.createUniqueOptions(b, TensorType.INT32)] });
  // k, the number of unique values, as an int32 scalar
  const countVector = op(BuiltinOperator.SHAPE, [values], 'count_vector', (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)], dyn('int32', [1], [1]));
  const k = op(BuiltinOperator.GATHER, [countVector, c.addConstant(`${base}_count_at`, new Tensor('int32', [], Int32Array.of(0)))], 'count', gatherOpts(0), { ...dyn('int32', [], []), signature: undefined });
  const oneHot = (idx: string, tag: string, rows: number): string =>
    op(BuiltinOperator.ONE_HOT, [idx, k, c.addConstant(`${base}_${tag}_on`, new Tensor('int32', [], Int32Array.of(1))), c.addConstant(`${base}_${tag}_off`, new Tensor('int32', [], Int32Array.of(0)))], tag, (b) => [BuiltinOptions.OneHotOptions, OneHotOptions.createOneHotOptions(b, -1)], dyn('int32', [rows, size], [rows, -1]));
  const axis0 = c.addConstant(`${base}_axis0`, int32([0]));
  const argMax0 = (m: string, tag: string): string => op(BuiltinOperator.ARG_MAX, [m, axis0], tag, (b) => [BuiltinOptions.ArgMaxOptions, ArgMaxOptions.createArgMaxOptions(b, TensorType.INT32)], dyn('int32', [size], [-1]));
  const need = firstName || countsName;
  const hot = need ? oneHot(positions, 'one_hot', size) : '';
  let first = firstName ? argMax0(hot, 'first_index') : '';
  let counts = countsName ? op(BuiltinOperator.SUM, [hot, axis0], 'counts_int32', (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, false)], dyn('int32', [size], [-1])) : '';
  let inverse = positions;
  if (sorted) {
    const negated = op(BuiltinOperator.NEG, [values], 'negated', undefined, dyn(info.dtype, [size], [-1]));
    const order = c.addTensor(`${base}_order`, { name: '', ...dyn('int32', [size], [-1]) });
    c.emit({ code: BuiltinOperator.TOPK_V2, inputs: [negated, k], outputs: [c.addTensor(`${base}_sorted_negated`, { name: '', ...dyn(info.dtype, [size], [-1]) }), order] });
    const gather = (v: string, tag: string, dtype: WTensor['dtype'], out?: string): string => op(BuiltinOperator.GATHER, [v, order], tag, gatherOpts(0), dyn(dtype, [size], [-1]), out);
    if (yName) gather(values, 'sorted', info.dtype, c.tensor(yName));
    if (first) first = gather(first, 'first_index_sorted', 'int32');
    if (counts) counts = gather(counts, 'counts_sorted', 'int32');
    if (inverseName) inverse = op(BuiltinOperator.GATHER, [argMax0(oneHot(order, 'order_one_hot', size), 'rank'), positions], 'inverse_sorted', gatherOpts(0), { dtype: 'int32', shape: [size], signature: undefined, quant: undefined });
  }
  // ONNX's int64 index outputs (int32 ones where the graph asks int32)
  const emitAs = (from: string, name: string | undefined) => {
    if (!name) return;
    const out = c.tensor(name);
    c.emit({ code: c.info(out).dtype === 'int32' ? BuiltinOperator.RESHAPE : BuiltinOperator.CAST, inputs: c.info(out).dtype === 'int32' ? [from, c.addConstant(`${out}_shape`, int32([-1]))] : [from], outputs: [out] });
  };
  emitAs(first, firstName);
  emitAs(inverse, inverseName);
  emitAs(counts, countsName);
};

export const TFLITE_WRITE_GAP2_OPS: Record<string, Converter> = {
  Erf: erf,
  Unique: unique,
  NonZero: nonZero,
  Compress: compress,
};

/** The rows above run in float inside a quantized file (DEQUANTIZE, float op, QUANTIZE). */
export const FLOAT_ONLY_GAP2_OPS: ReadonlySet<string> = new Set(Object.keys(TFLITE_WRITE_GAP2_OPS));
