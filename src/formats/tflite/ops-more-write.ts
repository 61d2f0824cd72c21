// More IR ops -> TFLite builtins (the rows beside ops-write.ts's table): arg min/max, tiling and
// broadcasting, selection, comparisons and logic, more unary math, LRN, GatherND, OneHot, CumSum,
// Mod, TopK. (Range and Shape are folded into constants before writing: a TFLite tensor needs a
// static shape.) The ops TFLite has no integer kernel for (or whose int8 kernel copies bytes
// without requantizing, which is right only when input and output share parameters) are listed
// in FLOAT_ONLY_WRITE_OPS: between DequantizeLinear and QuantizeLinear they are written as
// DEQUANTIZE, the float op, QUANTIZE (the float fallback), never as an integer op.
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { ArgMaxOptions } from '../generated/tflite/arg-max-options.js';
import { ArgMinOptions } from '../generated/tflite/arg-min-options.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { CumsumOptions } from '../generated/tflite/cumsum-options.js';
import { DivOptions } from '../generated/tflite/div-options.js';
import { LocalResponseNormalizationOptions } from '../generated/tflite/local-response-normalization-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { OneHotOptions } from '../generated/tflite/one-hot-options.js';
import { ReducerOptions } from '../generated/tflite/reducer-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { binary, constant, int32, normAxis, unary, type Converter, type Opts, type WriteContext } from './ops-write.js';
import { nonMaxSuppression } from './write-nms.js';

const TYPES: Partial<Record<string, TensorType>> = { int32: TensorType.INT32, int64: TensorType.INT64 };

/** An index-like input (repeats, shape, indices, axis): an int64 constant re-stored as int32, else the tensor as it is. */
function indexInput(n: Node, c: WriteContext, i: number): string {
  const t = c.constantOf(n.inputs[i]!);
  if (t && t.dtype === 'int64') return c.addConstant(`${n.inputs[i]}_int32`, new Tensor('int32', [...t.shape], Int32Array.from(t.toNumbers())));
  return c.tensor(n.inputs[i]!);
}

/** A RESHAPE of `x` to the static shape `shape` into `y`. */
function reshape(c: WriteContext, x: string, y: string, shape: number[]): void {
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(shape))], outputs: [y], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
}

/** Data-moving ops whose int8 kernel copies bytes: the output must carry the input's parameters. */
function sameParams(n: Node, c: WriteContext, x: string, y: string): void {
  const a = c.info(x).quant;
  const b = c.info(y).quant;
  if (!a && !b) return;
  const same = !!a && !!b && a.scale.length === b.scale.length && a.scale.every((s, i) => s === b.scale[i] && a.zeroPoint[i] === b.zeroPoint[i]);
  if (!same) throw new UnsupportedError(`quantized ${n.opType} whose output has other parameters than its input in a TFLite file`, `node '${n.name}'`);
}

const argMinMax =
  (code: BuiltinOperator.ARG_MAX | BuiltinOperator.ARG_MIN): Converter =>
  (n, c) => {
    if (attrInt(n, 'select_last_index', 0)) throw new UnsupportedError(`${n.opType} with select_last_index in a TFLite file`, `node '${n.name}': TFLite keeps the first index`);
    const x = c.tensor(n.inputs[0]!);
    const rank = c.shapeOf(x).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    const y = c.tensor(n.outputs[0]!);
    const out = c.info(y);
    const type = TYPES[out.dtype];
    if (type === undefined) throw new UnsupportedError(`${n.opType} to ${out.dtype} in a TFLite file`, `node '${n.name}'`);
    const keep = attrInt(n, 'keepdims', 1) === 1;
    const reduced = keep ? c.addTensor(`${y}_reduced`, { ...out, shape: c.shapeOf(x).filter((_, i) => i !== axis), signature: undefined }) : y;
    const axisT = c.addConstant(`${y}_axis`, int32([axis]));
    const options: Opts = (b) => (code === BuiltinOperator.ARG_MAX ? [BuiltinOptions.ArgMaxOptions, ArgMaxOptions.createArgMaxOptions(b, type)] : [BuiltinOptions.ArgMinOptions, ArgMinOptions.createArgMinOptions(b, type)]);
    c.emit({ code, inputs: [x, axisT], outputs: [reduced], options });
    if (keep) reshape(c, reduced, y, out.shape);
  };

const tile: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  sameParams(n, c, x, y);
  c.emit({ code: BuiltinOperator.TILE, inputs: [x, indexInput(n, c, 1)], outputs: [y] });
};

const expand: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  sameParams(n, c, x, y);
  // ONNX broadcasts both ways (a shape entry 1 keeps the input's dim): the inferred output shape is the target
  const shape = c.info(y).shape;
  c.emit({ code: BuiltinOperator.BROADCAST_TO, inputs: [x, c.addConstant(`${y}_shape`, int32(shape))], outputs: [y] });
};

const where: Converter = (n, c) => {
  const [cond, a, b] = n.inputs.map((i) => c.tensor(i!));
  const y = c.tensor(n.outputs[0]!);
  c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [cond!, a!, b!], outputs: [y] });
};

const reciprocal: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  c.emit({ code: BuiltinOperator.DIV, inputs: [c.addConstant(`${y}_one`, Tensor.float32([], [1])), x], outputs: [y], options: (b, act) => [BuiltinOptions.DivOptions, DivOptions.createDivOptions(b, act)], fusable: true });
};

/** ReduceSumSquare (and ReduceL2: its square root): MUL, SUM [, SQRT]. */
const sumSquares =
  (root: boolean): Converter =>
  (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const rank = c.shapeOf(x).length;
    const axes = (n.inputs[1] ? constant(n, c, 1, 'axes').toNumbers() : n.attrs.axes?.type === 'ints' ? n.attrs.axes.value : Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
    if (!axes.length && attrInt(n, 'noop_with_empty_axes', 0)) throw new UnsupportedError(`${n.opType} with noop_with_empty_axes in a TFLite file`, `node '${n.name}'`);
    const all = axes.length ? axes : Array.from({ length: rank }, (_, i) => i);
    const y = c.tensor(n.outputs[0]!);
    const sq = c.addTensor(`${y}_squares`, { ...c.info(x), quant: undefined });
    c.emit({ code: BuiltinOperator.MUL, inputs: [x, x], outputs: [sq], options: (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)] });
    const sum = root ? c.addTensor(`${y}_sum_squares`, c.info(y)) : y;
    c.emit({ code: BuiltinOperator.SUM, inputs: [sq, c.addConstant(`${y}_axes`, int32(all))], outputs: [sum], options: (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, attrInt(n, 'keepdims', 1) === 1)] });
    if (root) c.emit({ code: BuiltinOperator.SQRT, inputs: [sum], outputs: [y] });
  };

const lrn: Converter = (n, c) => {
  const size = attrInt(n, 'size', 0);
  // TFLite's window is [c-r, c+r]: an even ONNX size is lopsided
  if (size % 2 !== 1) throw new UnsupportedError(`LRN with an even size ${size} in a TFLite file`, `node '${n.name}': TFLite's window is symmetric`);
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  const radius = (size - 1) / 2;
  const alpha = attrFloat(n, 'alpha', 1e-4) / size;
  c.emit({
    code: BuiltinOperator.LOCAL_RESPONSE_NORMALIZATION,
    inputs: [x],
    outputs: [y],
    options: (b) => [BuiltinOptions.LocalResponseNormalizationOptions, LocalResponseNormalizationOptions.createLocalResponseNormalizationOptions(b, radius, attrFloat(n, 'bias', 1), alpha, attrFloat(n, 'beta', 0.75))],
  });
};

const gatherNd: Converter = (n, c) => {
  if (attrInt(n, 'batch_dims', 0) !== 0) throw new UnsupportedError('GatherND with batch_dims in a TFLite file', `node '${n.name}'`);
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  sameParams(n, c, x, y);
  c.emit({ code: BuiltinOperator.GATHER_ND, inputs: [x, indexInput(n, c, 1)], outputs: [y] });
};

const oneHot: Converter = (n, c) => {
  const y = c.tensor(n.outputs[0]!);
  const values = constant(n, c, 2, 'values');
  const [off, on] = values.toNumbers() as [number, number];
  const depth = constant(n, c, 1, 'depth').toNumbers()[0]!;
  const out = c.info(y);
  const scalar = (name: string, v: number) => c.addConstant(`${y}_${name}`, Tensor.scalar(out.dtype, v));
  let idx = c.tensor(n.inputs[0]!);
  const info = c.info(idx);
  if (info.dtype !== 'int32' && info.dtype !== 'int64') throw new UnsupportedError(`OneHot of ${info.dtype} indices in a TFLite file`, `node '${n.name}'`);
  const idxConst = c.constantOf(n.inputs[0]!);
  if (!idxConst || idxConst.toNumbers().some((v) => v < 0)) {
    // ONNX counts negative indices from the back; TFLite's are out of range (all off)
    const depthT = c.addConstant(`${y}_depth_of_index`, Tensor.scalar(info.dtype, depth));
    const zero = c.addConstant(`${y}_index_zero`, Tensor.scalar(info.dtype, 0));
    const negative = c.addTensor(`${idx}_negative`, { ...info, dtype: 'bool', quant: undefined });
    c.emit({ code: BuiltinOperator.LESS, inputs: [idx, zero], outputs: [negative] });
    const wrapped = c.addTensor(`${idx}_wrapped`, { ...info, quant: undefined });
    c.emit({ code: BuiltinOperator.ADD, inputs: [idx, depthT], outputs: [wrapped] });
    const fixed = c.addTensor(`${idx}_from_front`, { ...info, quant: undefined });
    c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [negative, wrapped, idx], outputs: [fixed] });
    idx = fixed;
  }
  const axis = attrInt(n, 'axis', -1);
  c.emit({
    code: BuiltinOperator.ONE_HOT,
    inputs: [idx, c.addConstant(`${y}_depth`, new Tensor('int32', [], Int32Array.of(depth))), scalar('on_value', on), scalar('off_value', off)],
    outputs: [y],
    options: (b) => [BuiltinOptions.OneHotOptions, OneHotOptions.createOneHotOptions(b, axis)],
  });
};

const cumSum: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const axis = normAxis(constant(n, c, 1, 'axis').toNumbers()[0]!, rank);
  const y = c.tensor(n.outputs[0]!);
  const exclusive = attrInt(n, 'exclusive', 0) === 1;
  const reverse = attrInt(n, 'reverse', 0) === 1;
  c.emit({ code: BuiltinOperator.CUMSUM, inputs: [x, c.addConstant(`${y}_axis`, new Tensor('int32', [], Int32Array.of(axis)))], outputs: [y], options: (b) => [BuiltinOptions.CumsumOptions, CumsumOptions.createCumsumOptions(b, exclusive, reverse)] });
};

const mod: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  // fmod=0 is the floor remainder (the divisor's sign), TFLite's FLOOR_MOD; fmod=1 (C fmod) has no builtin
  if (attrInt(n, 'fmod', 0) === 1) throw new UnsupportedError('Mod with fmod=1 in a TFLite file', `node '${n.name}': TFLite's FLOOR_MOD takes the divisor's sign`);
  c.emit({ code: BuiltinOperator.FLOOR_MOD, inputs: [x, c.tensor(n.inputs[1]!)], outputs: [c.tensor(n.outputs[0]!)] });
};

const xor: Converter = (n, c) => {
  c.emit({ code: BuiltinOperator.NOT_EQUAL, inputs: [c.tensor(n.inputs[0]!), c.tensor(n.inputs[1]!)], outputs: [c.tensor(n.outputs[0]!)] });
};

const topK: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  if (normAxis(attrInt(n, 'axis', -1), rank) !== rank - 1) throw new UnsupportedError('TopK over another axis than the last in a TFLite file', `node '${n.name}'`);
  if (attrInt(n, 'largest', 1) !== 1 || attrInt(n, 'sorted', 1) !== 1) throw new UnsupportedError('TopK of the smallest or unsorted in a TFLite file', `node '${n.name}': TOPK_V2 gives the largest, sorted`);
  const k = constant(n, c, 1, 'k').toNumbers()[0]!;
  const values = c.tensor(n.outputs[0]!);
  const indices = n.outputs[1] ? c.tensor(n.outputs[1]) : c.addTensor(`${values}_indices`, { ...c.info(values), dtype: 'int32', quant: undefined });
  const info = c.info(indices);
  // TOPK_V2 gives int32 indices; ONNX's int64 ones follow by a CAST
  const raw = info.dtype === 'int32' ? indices : c.addTensor(`${indices}_int32`, { ...info, dtype: 'int32' });
  c.emit({ code: BuiltinOperator.TOPK_V2, inputs: [x, c.addConstant(`${values}_k`, new Tensor('int32', [], Int32Array.of(k)))], outputs: [values, raw] });
  if (raw !== indices) c.emit({ code: BuiltinOperator.CAST, inputs: [raw], outputs: [indices] });
};

const sum: Converter = (n, c) => {
  const ins = n.inputs.filter(Boolean).map((i) => c.tensor(i));
  const y = c.tensor(n.outputs[0]!);
  // ADD_N takes inputs of one shape; broadcasting ones go through ADD
  if (ins.length < 3 || ins.some((i) => c.shapeOf(i).join() !== c.shapeOf(y).join())) return binary(BuiltinOperator.ADD, (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)], true)(n, c);
  c.emit({ code: BuiltinOperator.ADD_N, inputs: ins, outputs: [y] });
};

export const TFLITE_WRITE_MORE_OPS: Record<string, Converter> = {
  ArgMax: argMinMax(BuiltinOperator.ARG_MAX),
  ArgMin: argMinMax(BuiltinOperator.ARG_MIN),
  Tile: tile,
  Expand: expand,
  Where: where,
  Equal: binary(BuiltinOperator.EQUAL),
  Less: binary(BuiltinOperator.LESS),
  LessOrEqual: binary(BuiltinOperator.LESS_EQUAL),
  Greater: binary(BuiltinOperator.GREATER),
  GreaterOrEqual: binary(BuiltinOperator.GREATER_EQUAL),
  And: binary(BuiltinOperator.LOGICAL_AND),
  Or: binary(BuiltinOperator.LOGICAL_OR),
  Xor: xor,
  Not: unary(BuiltinOperator.LOGICAL_NOT),
  ReduceProd: (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const rank = c.shapeOf(x).length;
    const axes = (n.inputs[1] ? constant(n, c, 1, 'axes').toNumbers() : n.attrs.axes?.type === 'ints' ? n.attrs.axes.value : Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
    const y = c.tensor(n.outputs[0]!);
    c.emit({ code: BuiltinOperator.REDUCE_PROD, inputs: [x, c.addConstant(`${y}_axes`, int32(axes))], outputs: [y], options: (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, attrInt(n, 'keepdims', 1) === 1)] });
  },
  ReduceSumSquare: sumSquares(false),
  ReduceL2: sumSquares(true),
  Sin: unary(BuiltinOperator.SIN),
  Cos: unary(BuiltinOperator.COS),
  Floor: unary(BuiltinOperator.FLOOR),
  Ceil: unary(BuiltinOperator.CEIL),
  Round: unary(BuiltinOperator.ROUND),
  Sign: unary(BuiltinOperator.SIGN),
  Reciprocal: reciprocal,
  'nnport::LRN': lrn,
  GatherND: gatherNd,
  OneHot: oneHot,
  CumSum: cumSum,
  Mod: mod,
  TopK: topK,
  Sum: sum,
  NonMaxSuppression: nonMaxSuppression,
};

/**
 * Op keys written in float even inside a QDQ island: no int8 kernel in TFLite (SIN, COS, FLOOR,
 * CEIL, ROUND, SIGN, LRN, CUMSUM, REDUCE_PROD's is not the float op's rounding), or one
 * that copies int8 bytes where ONNX's QDQ may requantize (SELECT_V2 of two differently quantized
 * operands, ONE_HOT's values, TOPK_V2's values). The interpreter then runs DEQUANTIZE, the float op, QUANTIZE.
 */
export const FLOAT_ONLY_WRITE_OPS: ReadonlySet<string> = new Set([
  'Where', 'ReduceProd', 'ReduceSumSquare', 'ReduceL2', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Sign', 'Reciprocal', 'nnport::LRN', 'OneHot', 'CumSum', 'Mod', 'TopK', 'Sum',
  // no int8 kernel in the interpreter (it refuses SQRT / LOG / POW of int8 at load, DIV / EXP / NEG at invoke: test/conformance/tflite-int8.test.ts)
  'Div', 'Exp', 'Log', 'Neg', 'Sqrt', 'Pow',
  // a float -> float Cast inside an island (LayerNormalization's expanded function): TFLite's CAST does not requantize
  'Cast',
  'NonMaxSuppression', // write-nms.ts: float32 boxes and scores
]);
