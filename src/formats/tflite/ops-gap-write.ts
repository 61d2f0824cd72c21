// IR ops TFLite has no builtin of its own for, written as builtins that compute them exactly (the
// rows beside ops-write.ts / ops-more-write.ts):
//   Sinh / Cosh   (EXP(x) -/+ EXP(-x)) / 2        Tan        SIN / COS
//   IsNaN         NOT_EQUAL(x, x)                   IsInf      EQUAL to +inf / -inf (LOGICAL_OR)
//   Shrink        SELECT_V2 of x + bias / x - bias / 0 by LESS / GREATER against -lambd / lambd
//   Celu          max(0, x) + min(0, alpha (EXP(x / alpha) - 1))
//   Atan / Asin / Acos  ATAN2(x, 1), ATAN2(x, SQRT((1 - x)(1 + x))), ATAN2(SQRT((1 - x)(1 + x)), x)
//   Asinh / Acosh / Atanh  sign(x) LOG(|x| + SQRT(x² + 1)), LOG(x + SQRT((x - 1)(x + 1))),
//                 LOG((1 + x) / (1 - x)) / 2
//   ConstantOfShape  FILL of the shape (a constant one is folded before writing)
//   EyeLike       the constant (its input's shape is known), RESHAPEd into the output
//   ReverseSequence  REVERSE_SEQUENCE (seq_dim = time_axis, batch_dim = batch_axis)
//   ScatterND / ScatterElements / Scatter: TFLite's SCATTER_ND writes the updates into zeros and
//     sums duplicates (reference_ops ScatterNd: output += update). reduction 'add' is data + that
//     sum; 'none' takes it where a second SCATTER_ND of ones marks a written element (SELECT_V2),
//     else the data (ONNX forbids duplicates there); 'mul' / 'max' / 'min' combine data with the
//     written values the same way where no index repeats (constant indices), else each update
//     slice is applied in turn (indices fed at run time: up to 64 slices). ScatterElements' indices
//     become full coordinates as GatherElements' do; negative indices wrap (FLOOR_MOD by the dim).
// All of them run in float between DEQUANTIZE / QUANTIZE in a quantized file (FLOAT_ONLY_GAP_OPS).
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrString, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { DType } from '../../ir/dtypes.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ReverseSequenceOptions } from '../generated/tflite/reverse-sequence-options.js';
import { ShapeOptions } from '../generated/tflite/shape-options.js';
import { SliceOptions } from '../generated/tflite/slice-options.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { addOpts, divOpts, floatInput, floatScalar, mulOpts, stepper, subOpts } from './ops-more-write.js';
import { int32, normAxis, type Converter, type Opts, type WriteContext } from './ops-write.js';
import type { WTensor } from './write.js';
import { convRunTimeWeights, convTransposeRunTimeWeights } from './write-run-time-weights.js';

/** A constant of `dtype` holding `values` (bigint for int64). */
function filled(dtype: DType, shape: number[], values: number[]): Tensor {
  const t = Tensor.zeros(dtype, shape);
  const big = dtype === 'int64' || dtype === 'uint64';
  values.forEach((v, i) => ((t.data as unknown as Array<number | bigint>)[i] = big ? BigInt(v) : v));
  return t;
}

const boolLike = { dtype: 'bool' as DType, quant: undefined };

const sinhCosh =
  (sign: 1 | -1): Converter =>
  (n, c) => {
    const x = floatInput(n, c);
    const y = c.tensor(n.outputs[0]!);
    const op = stepper(c, y);
    const ep = op(BuiltinOperator.EXP, [x], 'exp');
    const em = op(BuiltinOperator.EXP, [op(BuiltinOperator.NEG, [x], 'neg')], 'exp_neg');
    const s = sign === 1 ? op(BuiltinOperator.ADD, [ep, em], 'sum', addOpts) : op(BuiltinOperator.SUB, [ep, em], 'difference', subOpts);
    op(BuiltinOperator.MUL, [s, floatScalar(c, y, 'half', 0.5)], '', mulOpts, undefined, y);
  };

const tan: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  op(BuiltinOperator.DIV, [op(BuiltinOperator.SIN, [x], 'sin'), op(BuiltinOperator.COS, [x], 'cos')], '', divOpts, undefined, y);
};

const isNaN: Converter = (n, c) => {
  const x = floatInput(n, c);
  c.emit({ code: BuiltinOperator.NOT_EQUAL, inputs: [x, x], outputs: [c.tensor(n.outputs[0]!)] });
};

const isInf: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const pos = attrInt(n, 'detect_positive', 1) !== 0;
  const neg = attrInt(n, 'detect_negative', 1) !== 0;
  if (!pos && !neg) {
    // neither: all false (x's shape)
    op(BuiltinOperator.LOGICAL_AND, [op(BuiltinOperator.NOT_EQUAL, [x, x], 'nan'), op(BuiltinOperator.EQUAL, [x, x], 'not_nan')], '', undefined, undefined, y);
    return;
  }
  if (pos && neg) op(BuiltinOperator.EQUAL, [op(BuiltinOperator.ABS, [x], 'abs', undefined, { dtype: c.info(x).dtype }), floatScalar(c, y, 'inf', Infinity)], '', undefined, undefined, y);
  else op(BuiltinOperator.EQUAL, [x, floatScalar(c, y, pos ? 'positive_inf' : 'negative_inf', pos ? Infinity : -Infinity)], '', undefined, undefined, y);
};

const shrink: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const lambd = attrFloat(n, 'lambd', 0.5);
  const bias = attrFloat(n, 'bias', 0);
  const below = op(BuiltinOperator.LESS, [x, floatScalar(c, y, 'minus_lambd', -lambd)], 'below', undefined, boolLike);
  const above = op(BuiltinOperator.GREATER, [x, floatScalar(c, y, 'lambd', lambd)], 'above', undefined, boolLike);
  const b = floatScalar(c, y, 'bias', bias);
  const zero = floatScalar(c, y, 'zero', 0);
  const upper = op(BuiltinOperator.SELECT_V2, [above, op(BuiltinOperator.SUB, [x, b], 'minus_bias', subOpts), zero], 'upper');
  op(BuiltinOperator.SELECT_V2, [below, op(BuiltinOperator.ADD, [x, b], 'plus_bias', addOpts), upper], '', undefined, undefined, y);
};

const celu: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const alpha = attrFloat(n, 'alpha', 1);
  const e = op(BuiltinOperator.EXP, [op(BuiltinOperator.DIV, [x, floatScalar(c, y, 'alpha', alpha)], 'scaled', divOpts)], 'exp');
  const neg = op(BuiltinOperator.MUL, [op(BuiltinOperator.SUB, [e, floatScalar(c, y, 'one', 1)], 'expm1', subOpts), floatScalar(c, y, 'alpha_', alpha)], 'elu', mulOpts);
  const zero = floatScalar(c, y, 'zero', 0);
  op(BuiltinOperator.ADD, [op(BuiltinOperator.MAXIMUM, [x, zero], 'positive'), op(BuiltinOperator.MINIMUM, [neg, zero], 'negative')], '', addOpts, undefined, y);
};

/** The inverse trigonometric and hyperbolic functions in ATAN2, SQRT and LOG (static shapes: ATAN2 takes equal shapes). */
function inverseTrig(kind: 'Atan' | 'Asin' | 'Acos' | 'Asinh' | 'Acosh' | 'Atanh'): Converter {
  return (n, c) => {
    const x = floatInput(n, c);
    const y = c.tensor(n.outputs[0]!);
    const op = stepper(c, y);
    const one = floatScalar(c, y, 'one', 1);
    const info = c.info(x);
    if (info.signature) throw new UnsupportedError(`${n.opType} of a shape known only at run time in a TFLite file`, `node '${n.name}'`);
    // (1 - x)(1 + x): 1 - x² without the cancellation near |x| = 1
    const oneMinusSq = () => op(BuiltinOperator.MUL, [op(BuiltinOperator.SUB, [one, x], 'one_minus', subOpts), op(BuiltinOperator.ADD, [one, x], 'one_plus', addOpts)], 'one_minus_square', mulOpts);
    switch (kind) {
      case 'Atan': {
        const ones = c.addConstant(`${y}_ones`, Tensor.float32(info.shape, new Float32Array(info.shape.reduce((a, b) => a * b, 1)).fill(1)));
        op(BuiltinOperator.ATAN2, [x, ones], '', undefined, undefined, y);
        return;
      }
      case 'Asin':
        op(BuiltinOperator.ATAN2, [x, op(BuiltinOperator.SQRT, [oneMinusSq()], 'cos')], '', undefined, undefined, y);
        return;
      case 'Acos':
        op(BuiltinOperator.ATAN2, [op(BuiltinOperator.SQRT, [oneMinusSq()], 'sin'), x], '', undefined, undefined, y);
        return;
      case 'Asinh': {
        const abs = op(BuiltinOperator.ABS, [x], 'abs');
        const root = op(BuiltinOperator.SQRT, [op(BuiltinOperator.ADD, [op(BuiltinOperator.MUL, [x, x], 'square', mulOpts), one], 'square_plus_one', addOpts)], 'root');
        const l = op(BuiltinOperator.LOG, [op(BuiltinOperator.ADD, [abs, root], 'sum', addOpts)], 'log');
        op(BuiltinOperator.MUL, [op(BuiltinOperator.SIGN, [x], 'sign'), l], '', mulOpts, undefined, y);
        return;
      }
      case 'Acosh': {
        const sq = op(BuiltinOperator.MUL, [op(BuiltinOperator.SUB, [x, one], 'minus_one', subOpts), op(BuiltinOperator.ADD, [x, one], 'plus_one', addOpts)], 'square_minus_one', mulOpts);
        op(BuiltinOperator.LOG, [op(BuiltinOperator.ADD, [x, op(BuiltinOperator.SQRT, [sq], 'root')], 'sum', addOpts)], '', undefined, undefined, y);
        return;
      }
      case 'Atanh': {
        const ratio = op(BuiltinOperator.DIV, [op(BuiltinOperator.ADD, [one, x], 'one_plus', addOpts), op(BuiltinOperator.SUB, [one, x], 'one_minus', subOpts)], 'ratio', divOpts);
        op(BuiltinOperator.MUL, [op(BuiltinOperator.LOG, [ratio], 'log'), floatScalar(c, y, 'half', 0.5)], '', mulOpts, undefined, y);
        return;
      }
    }
  };
}

const constantOfShape: Converter = (n, c) => {
  const y = c.tensor(n.outputs[0]!);
  const out = c.info(y);
  const v = n.attrs.value?.type === 'tensor' ? n.attrs.value.value : Tensor.float32([1], [0]);
  if (!['float32', 'int32', 'int64', 'bool'].includes(v.dtype)) throw new UnsupportedError(`ConstantOfShape of ${v.dtype} in a TFLite file`, `node '${n.name}': TFLite's FILL takes float32, int32, int64 and bool values`);
  const value = c.addConstant(`${y}_value`, new Tensor(v.dtype, [], v.data));
  c.emit({ code: BuiltinOperator.FILL, inputs: [c.tensor(n.inputs[0]!), value], outputs: [y] });
  if (out.dtype !== v.dtype) throw new UnsupportedError(`ConstantOfShape of ${v.dtype} into ${out.dtype} in a TFLite file`, `node '${n.name}'`);
};

const eyeLike: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const out = c.info(y);
  if (c.info(x).signature || out.shape.length !== 2) throw new UnsupportedError('EyeLike of a shape known only at run time in a TFLite file', `node '${n.name}'`);
  const [r, k] = [out.shape[0]!, attrInt(n, 'k', 0)];
  const cols = out.shape[1]!;
  const values = new Array<number>(r * cols).fill(0);
  for (let i = 0; i < r; i++) if (i + k >= 0 && i + k < cols) values[i * cols + i + k] = 1;
  const t = c.addConstant(`${y}_eye`, filled(out.dtype, [r, cols], values));
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [t, c.addConstant(`${y}_shape`, int32([r, cols]))], outputs: [y], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, [r, cols]))] });
};

const reverseSequence: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const seqDim = normAxis(attrInt(n, 'time_axis', 0), rank);
  const batchDim = normAxis(attrInt(n, 'batch_axis', 1), rank);
  const y = c.tensor(n.outputs[0]!);
  c.emit({ code: BuiltinOperator.REVERSE_SEQUENCE, inputs: [x, c.tensor(n.inputs[1]!)], outputs: [y], options: (b) => [BuiltinOptions.ReverseSequenceOptions, ReverseSequenceOptions.createReverseSequenceOptions(b, seqDim, batchDim)] });
};

// ---- scatters ----

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
const SCATTER_TYPES = new Set<DType>(['float32', 'int32', 'int64']);
const MAX_SLICES = 64;

/**
 * data with `updates` scattered at `coords` ([..., k] int32 coordinates of the first k axes, wrapped)
 * into y. `constCoords`: the coordinates when they are constants (duplicates can be checked).
 */
function scatterInto(n: Node, c: WriteContext, data: string, coords: string, updates: string, y: string, reduction: Reduction, constCoords: number[][] | undefined): void {
  const op = stepper(c, y);
  const d = c.info(data);
  const u = c.info(updates);
  if (!SCATTER_TYPES.has(d.dtype) || u.dtype !== d.dtype) throw new UnsupportedError(`${n.opType} of ${d.dtype} data in a TFLite file`, `node '${n.name}': TFLite's SCATTER_ND takes float32, int32 and int64 updates here`);
  if (d.signature || u.signature) return scatterIntoRunTime(n, c, data, coords, updates, y, reduction);
  const shapeT = c.addConstant(`${y}_shape`, int32(d.shape));
  const like: Partial<WTensor> = { dtype: d.dtype, shape: d.shape, signature: undefined, quant: undefined };
  const scatter = (idx: string, upd: string, name: string, out?: string) => op(BuiltinOperator.SCATTER_ND, [idx, upd, shapeT], name, undefined, like, out);
  if (reduction === 'add') {
    op(BuiltinOperator.ADD, [data, scatter(coords, updates, 'scattered')], '', addOpts, undefined, y);
    return;
  }
  const ones = (shape: number[], name: string) => c.addConstant(`${y}_${name}`, filled(d.dtype, shape, new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1)));
  const zero = c.addConstant(`${y}_zero`, filled(d.dtype, [], [0]));
  const combine = (cur: string, written: string, name: string, out?: string): string => {
    if (reduction === 'none') return written;
    const code = reduction === 'mul' ? BuiltinOperator.MUL : reduction === 'max' ? BuiltinOperator.MAXIMUM : BuiltinOperator.MINIMUM;
    return op(code, [cur, written], name, reduction === 'mul' ? mulOpts : undefined, like, out);
  };
  const unique = !constCoords || new Set(constCoords.map((t) => t.join())).size === constCoords.length;
  if (unique && (reduction === 'none' || constCoords)) {
    // every element written at most once (ONNX forbids repeats under 'none'): one SCATTER_ND of the updates, one of ones as the mask
    const written = scatter(coords, updates, 'scattered');
    const mask = op(BuiltinOperator.GREATER, [scatter(coords, ones(u.shape, 'ones'), 'written'), zero], 'mask', undefined, { ...like, dtype: 'bool' });
    const combined = combine(data, written, 'combined');
    op(BuiltinOperator.SELECT_V2, [mask, combined, data], '', undefined, undefined, y);
    return;
  }
  // indices that may repeat: each update slice in turn
  const cs = c.shapeOf(coords);
  const k = cs[cs.length - 1]!;
  const slices = cs.slice(0, -1).reduce((a, b) => a * b, 1);
  if (slices > MAX_SLICES) throw new UnsupportedError(`${n.opType} reduction ${reduction} with indices that may repeat, over ${slices} update slices, in a TFLite file`, `node '${n.name}': each slice is written in turn (at most ${MAX_SLICES})`);
  const sliceShape = u.shape.slice(cs.length - 1);
  const flatIdx = op(BuiltinOperator.RESHAPE, [coords, c.addConstant(`${y}_coords_shape`, int32([slices, k]))], 'coords_flat', undefined, { dtype: 'int32', shape: [slices, k], signature: undefined, quant: undefined });
  const flatUpd = op(BuiltinOperator.RESHAPE, [updates, c.addConstant(`${y}_updates_shape`, int32([slices, ...sliceShape]))], 'updates_flat', undefined, { ...like, shape: [slices, ...sliceShape] });
  const sliceOpts: Opts = (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)];
  const take = (from: string, i: number, shape: number[], info: Partial<WTensor>, name: string) =>
    op(BuiltinOperator.STRIDED_SLICE, [from, c.addConstant(`${y}_${name}${i}_begin`, int32([i, ...shape.map(() => 0)])), c.addConstant(`${y}_${name}${i}_end`, int32([i + 1, ...shape])), c.addConstant(`${y}_${name}${i}_strides`, int32([1, ...shape.map(() => 1)]))], `${name}${i}`, sliceOpts, { ...info, shape: [1, ...shape] });
  const oneSlice = ones([1, ...sliceShape], 'ones');
  let cur = data;
  for (let i = 0; i < slices; i++) {
    const idx = take(flatIdx, i, [k], { dtype: 'int32', signature: undefined, quant: undefined }, 'coords');
    const upd = take(flatUpd, i, sliceShape, like, 'updates');
    const written = scatter(idx, upd, `scattered${i}`);
    const mask = op(BuiltinOperator.GREATER, [scatter(idx, oneSlice, `written${i}`), zero], `mask${i}`, undefined, { ...like, dtype: 'bool' });
    cur = op(BuiltinOperator.SELECT_V2, [mask, combine(cur, written, `combined${i}`), cur], `step${i}`, undefined, like, i === slices - 1 ? y : undefined);
  }
}

const shapeOpts: Opts = (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)];

/**
 * scatterInto for data or updates of run-time shape (MultiScaleRoIAlign's levels scattered back, as many
 * boxes as NMS kept): SCATTER_ND into data's SHAPE, the written elements found by scattering ones (a FILL
 * of the updates' SHAPE). SCATTER_ND divides by its update count (an FPN level no box maps to has none),
 * so one zero update is always appended, at an extra row past data's first axis that is sliced off.
 * Reductions other than add would need the repeated indices resolved: refused.
 */
function scatterIntoRunTime(n: Node, c: WriteContext, data: string, coords: string, updates: string, y: string, reduction: Reduction): void {
  if (reduction !== 'none' && reduction !== 'add') throw new UnsupportedError(`${n.opType} reduction ${reduction} of shapes known only at run time in a TFLite file`, `node '${n.name}'`);
  const op = stepper(c, y);
  const d = c.info(data);
  const u = c.info(updates);
  const rank = d.shape.length;
  const depth = c.info(coords).shape.at(-1)!;
  const dyn = (shape: number[]): Partial<WTensor> => ({ shape, signature: shape.map(() => -1), quant: undefined });
  const ints = (shape: number[]): Partial<WTensor> => ({ dtype: 'int32', shape, signature: undefined, quant: undefined });
  const concat = (inputs: string[], name: string, like: Partial<WTensor>) => op(BuiltinOperator.CONCATENATION, inputs, name, (b, act) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, 0, act)], like);
  const slice = (x: string, begin: string, size: string, name: string, like: Partial<WTensor>) => op(BuiltinOperator.SLICE, [x, begin, size], name, (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)], like);
  const shapeT = op(BuiltinOperator.SHAPE, [data], 'shape', shapeOpts, ints([rank]));
  const rowShape = rank === depth ? c.addConstant(`${y}_row_shape`, int32([])) : slice(shapeT, c.addConstant(`${y}_row_begin`, int32([depth])), c.addConstant(`${y}_row_size`, int32([rank - depth])), 'row_shape', ints([rank - depth]));
  // (the updates as (count, row...) and the coordinates as (count, depth): the extra update goes after them)
  const updShape = concat([c.addConstant(`${y}_count`, int32([-1])), rowShape], 'updates_shape', ints([1 + rank - depth]));
  const flatUpd = op(BuiltinOperator.RESHAPE, [updates, updShape], 'updates_rows', undefined, { dtype: d.dtype, ...dyn([1, ...d.shape.slice(depth)]) });
  const flatCoords = op(BuiltinOperator.RESHAPE, [coords, c.addConstant(`${y}_coords_shape`, int32([-1, depth]))], 'coordinates_rows', undefined, ints([1, depth]));
  const extraCoord = op(BuiltinOperator.RESHAPE, [op(BuiltinOperator.MUL, [slice(shapeT, c.addConstant(`${y}_first_begin`, int32([0])), c.addConstant(`${y}_first_size`, int32([depth])), 'indexed_dims', ints([depth])), c.addConstant(`${y}_first_axis`, int32([1, ...new Array<number>(depth - 1).fill(0)]))], 'extra_coordinate', mulOpts, ints([depth])), c.addConstant(`${y}_extra_shape`, int32([1, depth]))], 'extra_coordinate_row', undefined, ints([1, depth]));
  const oneRow = concat([c.addConstant(`${y}_one_count`, int32([1])), rowShape], 'extra_update_shape', ints([1 + rank - depth]));
  const extraUpd = op(BuiltinOperator.FILL, [oneRow, c.addConstant(`${y}_zero_value`, filled(d.dtype, [], [0]))], 'extra_update', undefined, { dtype: d.dtype, ...dyn([1, ...d.shape.slice(depth)]) });
  const allCoords = concat([flatCoords, extraCoord], 'all_coordinates', ints([2, depth]));
  const allUpd = concat([flatUpd, extraUpd], 'all_updates', { dtype: d.dtype, ...dyn([2, ...d.shape.slice(depth)]) });
  const bigger = op(BuiltinOperator.ADD, [shapeT, c.addConstant(`${y}_extra_row`, int32([1, ...new Array<number>(rank - 1).fill(0)]))], 'bigger_shape', addOpts, ints([rank]));
  const like: Partial<WTensor> = { dtype: d.dtype, ...dyn(d.shape) };
  const origin = c.addConstant(`${y}_origin`, int32(new Array<number>(rank).fill(0)));
  const scatter = (upd: string, name: string) => slice(op(BuiltinOperator.SCATTER_ND, [allCoords, upd, bigger], `${name}_extra`, undefined, like), origin, shapeT, name, like);
  if (reduction === 'add') {
    op(BuiltinOperator.ADD, [data, scatter(allUpd, 'scattered')], '', addOpts, undefined, y);
    return;
  }
  // (indices may not repeat under 'none'): every element written at most once
  const ones = op(BuiltinOperator.FILL, [op(BuiltinOperator.SHAPE, [allUpd], 'all_updates_shape', shapeOpts, ints([1 + rank - depth])), c.addConstant(`${y}_one`, filled(d.dtype, [], [1]))], 'ones', undefined, { dtype: d.dtype, ...dyn([2, ...d.shape.slice(depth)]) });
  const mask = op(BuiltinOperator.GREATER, [scatter(ones, 'written'), c.addConstant(`${y}_zero`, filled(d.dtype, [], [0]))], 'mask', undefined, { ...like, dtype: 'bool' });
  op(BuiltinOperator.SELECT_V2, [mask, scatter(allUpd, 'scattered'), data], '', undefined, undefined, y);
}

function reductionOf(n: Node): Reduction {
  const r = attrString(n, 'reduction', 'none');
  if (r !== 'none' && r !== 'add' && r !== 'mul' && r !== 'max' && r !== 'min') throw new UnsupportedError(`${n.opType} reduction '${r}' in a TFLite file`, `node '${n.name}'`);
  return r;
}

/** int32 indices, negatives wrapped by FLOOR_MOD of the dims they index (`dims`: broadcast over the last axis, or one dim). */
function wrappedIndices(c: WriteContext, name: string, y: string, dims: number[], runTimeDims?: string): string {
  const op = stepper(c, y);
  const info = c.info(name);
  const like = { dtype: 'int32' as DType, shape: info.shape, signature: info.signature, quant: undefined };
  const idx = info.dtype === 'int32' ? name : op(BuiltinOperator.CAST, [name], 'indices_int32', undefined, like);
  return op(BuiltinOperator.FLOOR_MOD, [idx, runTimeDims ?? c.addConstant(`${y}_dims`, dims.length === 1 ? new Tensor('int32', [], Int32Array.of(dims[0]!)) : int32(dims))], 'indices_wrapped', undefined, like);
}

const scatterNd: Converter = (n, c) => {
  const data = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const dshape = c.shapeOf(data);
  const k = c.constantOf(n.inputs[1]!);
  const ishape = c.shapeOf(c.tensor(n.inputs[1]!));
  const depth = ishape[ishape.length - 1]!;
  if (depth > dshape.length) throw new UnsupportedError(`ScatterND with ${depth}-long index tuples into rank ${dshape.length} in a TFLite file`, `node '${n.name}'`);
  let coords: string;
  let tuples: number[][] | undefined;
  if (k) {
    const v = k.toNumbers();
    tuples = Array.from({ length: v.length / depth }, (_, i) => v.slice(i * depth, (i + 1) * depth).map((x, j) => (x < 0 ? x + dshape[j]! : x)));
    coords = c.addConstant(`${y}_coordinates`, new Tensor('int32', [...ishape], Int32Array.from(tuples.flat())));
  } else if (c.info(data).signature?.slice(0, depth).some((d) => d < 0)) {
    // (a dim known only at run time: the indices wrapped by the data's SHAPE, its first `depth` entries,
    // at least 1: FLOOR_MOD fails on a divisor of 0 even over no indices, and data of no rows has none)
    const op = stepper(c, y);
    const ints = { dtype: 'int32' as DType, shape: [depth], signature: undefined, quant: undefined };
    const dims = op(BuiltinOperator.SHAPE, [data], 'data_shape', shapeOpts, { ...ints, shape: [dshape.length] });
    const indexed = depth === dshape.length ? dims : op(BuiltinOperator.SLICE, [dims, c.addConstant(`${y}_dims_begin`, int32([0])), c.addConstant(`${y}_dims_size`, int32([depth]))], 'indexed_dims', (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)], ints);
    const divisors = op(BuiltinOperator.MAXIMUM, [indexed, c.addConstant(`${y}_dims_floor`, new Tensor('int32', [], Int32Array.of(1)))], 'indexed_dims_nonzero', undefined, ints);
    coords = wrappedIndices(c, c.tensor(n.inputs[1]!), y, [], divisors);
  } else coords = wrappedIndices(c, c.tensor(n.inputs[1]!), y, dshape.slice(0, depth));
  scatterInto(n, c, data, coords, c.tensor(n.inputs[2]!), y, reductionOf(n), tuples);
};

/** ScatterElements (and opset 9's Scatter): each index a full coordinate, as GatherElements' are, then scatterInto. */
const scatterElements: Converter = (n, c) => {
  const data = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const shape = c.shapeOf(data);
  const rank = shape.length;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  const idxName = c.tensor(n.inputs[1]!);
  const idxInfo = c.info(idxName);
  if (c.info(data).signature || idxInfo.signature) throw new UnsupportedError(`${n.opType} of shapes known only at run time in a TFLite file`, `node '${n.name}'`);
  const ishape = idxInfo.shape;
  const count = ishape.reduce((a, b) => a * b, 1);
  const position = (i: number, d: number) => Math.floor(i / ishape.slice(d + 1).reduce((a, b) => a * b, 1)) % ishape[d]!;
  const dim = shape[axis]!;
  const k = c.constantOf(n.inputs[1]!);
  let coords: string;
  let tuples: number[][] | undefined;
  if (k) {
    const v = k.toNumbers();
    tuples = Array.from({ length: count }, (_, i) => Array.from({ length: rank }, (_, d) => (d === axis ? (v[i]! < 0 ? v[i]! + dim : v[i]!) : position(i, d))));
    coords = c.addConstant(`${y}_coordinates`, new Tensor('int32', [...ishape, rank], Int32Array.from(tuples.flat())));
  } else {
    const op = stepper(c, y);
    const wrapped = wrappedIndices(c, idxName, y, [dim]);
    const column = { dtype: 'int32' as DType, shape: [...ishape, 1], signature: undefined, quant: undefined };
    const parts = Array.from({ length: rank }, (_, d) =>
      d === axis
        ? op(BuiltinOperator.RESHAPE, [wrapped, c.addConstant(`${y}_column_shape`, int32([...ishape, 1]))], 'index_column', undefined, column)
        : c.addConstant(`${y}_grid${d}`, new Tensor('int32', [...ishape, 1], Int32Array.from({ length: count }, (_, i) => position(i, d)))),
    );
    coords = op(BuiltinOperator.CONCATENATION, parts, 'coordinates', (b, act) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, rank, act)], { ...column, shape: [...ishape, rank] });
  }
  scatterInto(n, c, data, coords, c.tensor(n.inputs[2]!), y, n.opType === 'Scatter' ? 'none' : reductionOf(n), tuples);
};

export const TFLITE_WRITE_GAP_OPS: Record<string, Converter> = {
  Sinh: sinhCosh(-1),
  Cosh: sinhCosh(1),
  Tan: tan,
  IsNaN: isNaN,
  IsInf: isInf,
  Shrink: shrink,
  Celu: celu,
  Atan: inverseTrig('Atan'),
  Asin: inverseTrig('Asin'),
  Acos: inverseTrig('Acos'),
  Asinh: inverseTrig('Asinh'),
  Acosh: inverseTrig('Acosh'),
  Atanh: inverseTrig('Atanh'),
  ConstantOfShape: constantOfShape,
  EyeLike: eyeLike,
  ReverseSequence: reverseSequence,
  ScatterND: scatterNd,
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  // ONNX's NCHW Conv / ConvTranspose reach the writer only with a computed weight (the layout pass re-lays constant ones)
  Conv: convRunTimeWeights,
  ConvTranspose: convTransposeRunTimeWeights,
};

/** The rows above run in float inside a quantized file (DEQUANTIZE, float op, QUANTIZE): none has an int8 kernel that requantizes. */
export const FLOAT_ONLY_GAP_OPS: ReadonlySet<string> = new Set(Object.keys(TFLITE_WRITE_GAP_OPS).filter((k) => k !== 'Conv' && k !== 'ConvTranspose'));
