// More IR ops -> TFLite builtins (the rows beside ops-write.ts's table): arg min/max, tiling and
// broadcasting, selection, comparisons and logic, more unary math, LRN, GatherND, OneHot, CumSum,
// Mod, TopK, Shape (of a dynamic-shaped value: a static one is folded into a constant before
// writing, as Range is). The ops TFLite has no integer kernel for (or whose int8 kernel copies bytes
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
import { RangeOptions } from '../generated/tflite/range-options.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ReverseV2Options } from '../generated/tflite/reverse-v2-options.js';
import { ShapeOptions } from '../generated/tflite/shape-options.js';
import { SliceOptions } from '../generated/tflite/slice-options.js';
import { SubOptions } from '../generated/tflite/sub-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { binary, constant, int32, normAxis, unary, type Converter, type Opts, type WriteContext } from './ops-write.js';
import { nonMaxSuppression } from './write-nms.js';

const TYPES: Partial<Record<string, TensorType>> = { int32: TensorType.INT32, int64: TensorType.INT64 };

/** An index-like input (repeats, shape, indices, axis): an int64 constant re-stored as int32, else the tensor as it is. */
export function indexInput(n: Node, c: WriteContext, i: number): string {
  const t = c.constantOf(n.inputs[i]!);
  if (t && t.dtype === 'int64') return c.addConstant(`${n.inputs[i]}_int32`, new Tensor('int32', [...t.shape], Int32Array.from(t.toNumbers())));
  return c.tensor(n.inputs[i]!);
}

/** A RESHAPE of `x` to the static shape `shape` into `y`. */
function reshape(c: WriteContext, x: string, y: string, shape: number[]): void {
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(shape))], outputs: [y], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
}

/** Data-moving ops whose int8 kernel copies bytes: the output must carry the input's parameters. */
export function sameParams(n: Node, c: WriteContext, x: string, y: string): void {
  const a = c.info(x).quant;
  const b = c.info(y).quant;
  if (!a && !b) return;
  const same = !!a && !!b && a.scale.length === b.scale.length && a.scale.every((s, i) => s === b.scale[i] && a.zeroPoint[i] === b.zeroPoint[i]);
  if (!same) throw new UnsupportedError(`quantized ${n.opType} whose output has other parameters than its input in a TFLite file`, `node '${n.name}'`);
}

const argMinMax =
  (code: BuiltinOperator.ARG_MAX | BuiltinOperator.ARG_MIN): Converter =>
  (n, c) => {
    if (attrInt(n, 'select_last_index', 0)) return lastIndex(n, c, code);
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
  const out = c.info(y);
  if (!out.signature) {
    c.emit({ code: BuiltinOperator.BROADCAST_TO, inputs: [x, c.addConstant(`${y}_shape`, int32(out.shape))], outputs: [y] });
    return;
  }
  // a target known only at run time (`labels.expand_as(scores)` of as many boxes as NMS kept): BROADCAST_ARGS
  // of the input's SHAPE and the given shape, so that both ways broadcast as ONNX does
  const op = stepper(c, y);
  const given = c.tensor(n.inputs[1]!);
  const g = c.info(given);
  const ints = (shape: number[]) => ({ dtype: 'int32' as const, shape, signature: undefined, quant: undefined });
  const shape = g.dtype === 'int32' ? given : op(BuiltinOperator.CAST, [given], 'given_shape', undefined, ints(g.shape));
  const xShape = op(BuiltinOperator.SHAPE, [x], 'input_shape', (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)], ints([c.info(x).shape.length]));
  const target = op(BuiltinOperator.BROADCAST_ARGS, [xShape, shape], 'target', undefined, ints([out.shape.length]));
  c.emit({ code: BuiltinOperator.BROADCAST_TO, inputs: [x, target], outputs: [y] });
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
  const out = c.info(y);
  const values = c.constantOf(n.inputs[2]!);
  const depthK = c.constantOf(n.inputs[1]!);
  // depth fed at run time: the output's static size along the axis is what the file can hold
  const outAxis = normAxis(attrInt(n, 'axis', -1), out.shape.length);
  const depth = depthK ? depthK.toNumbers()[0]! : out.shape[outAxis]!;
  if (!depthK && out.signature?.[outAxis] === -1) throw new UnsupportedError('OneHot with a computed depth of a dynamic size in a TFLite file', `node '${n.name}'`);
  const [off, on] = values ? (values.toNumbers() as [number, number]) : [NaN, NaN];
  // [off, on] fed at run time: each a GATHER of one element (a scalar), CAST to the output's type
  const scalar = (name: string, v: number): string => {
    if (values) return c.addConstant(`${y}_${name}`, Tensor.scalar(out.dtype, v));
    const vInfo = c.info(c.tensor(n.inputs[2]!));
    const picked = c.addTensor(`${y}_${name}`, { ...vInfo, shape: [], signature: undefined, quant: undefined });
    const at = c.addConstant(`${y}_${name}_index`, new Tensor('int32', [], Int32Array.of(name === 'on_value' ? 1 : 0)));
    c.emit({ code: BuiltinOperator.GATHER, inputs: [c.tensor(n.inputs[2]!), at], outputs: [picked], options: (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, 0, 0)] });
    if (vInfo.dtype === out.dtype) return picked;
    const cast = c.addTensor(`${y}_${name}_cast`, { ...vInfo, dtype: out.dtype, shape: [], signature: undefined, quant: undefined });
    c.emit({ code: BuiltinOperator.CAST, inputs: [picked], outputs: [cast] });
    return cast;
  };
  let idx = c.tensor(n.inputs[0]!);
  let info = c.info(idx);
  if (info.dtype === 'float32' && !info.quant) {
    // float indices: ONNX casts them to int64 (truncating), TFLite's CAST to int32 truncates too
    const cast = c.addTensor(`${idx}_int32`, { ...info, dtype: 'int32', quant: undefined });
    c.emit({ code: BuiltinOperator.CAST, inputs: [idx], outputs: [cast] });
    idx = cast;
    info = c.info(cast);
  }
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
  // TFLite takes -1 for the last axis and no other negative one (the interpreter refuses -2)
  const axis = outAxis;
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
  const y = c.tensor(n.outputs[0]!);
  const k = c.constantOf(n.inputs[1]!);
  let axisT: string;
  if (k) axisT = c.addConstant(`${y}_axis`, new Tensor('int32', [], Int32Array.of(normAxis(k.toNumbers()[0]!, rank))));
  else {
    // an axis fed at run time: CUMSUM takes an int32 scalar tensor (a negative one counts from the end)
    const info = c.info(c.tensor(n.inputs[1]!));
    if (info.shape.length > 1 || (info.shape.length === 1 && info.shape[0] !== 1)) throw new UnsupportedError('CumSum with a computed axis of more than one value in a TFLite file', `node '${n.name}'`);
    axisT = c.tensor(n.inputs[1]!);
    if (info.dtype !== 'int32') {
      const cast = c.addTensor(`${y}_axis_int32`, { ...info, dtype: 'int32', quant: undefined });
      c.emit({ code: BuiltinOperator.CAST, inputs: [axisT], outputs: [cast] });
      axisT = cast;
    }
    if (info.shape.length === 1) {
      const scalar = c.addTensor(`${y}_axis_scalar`, { ...info, dtype: 'int32', shape: [], signature: undefined, quant: undefined });
      reshape(c, axisT, scalar, []);
      axisT = scalar;
    }
  }
  const exclusive = attrInt(n, 'exclusive', 0) === 1;
  const reverse = attrInt(n, 'reverse', 0) === 1;
  c.emit({ code: BuiltinOperator.CUMSUM, inputs: [x, axisT], outputs: [y], options: (b) => [BuiltinOptions.CumsumOptions, CumsumOptions.createCumsumOptions(b, exclusive, reverse)] });
};

const mod: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  // fmod=0 is the floor remainder (the divisor's sign), TFLite's FLOOR_MOD; fmod=1 (C fmod) has no builtin
  if (attrInt(n, 'fmod', 0) === 1) return truncMod(n, c);
  c.emit({ code: BuiltinOperator.FLOOR_MOD, inputs: [x, c.tensor(n.inputs[1]!)], outputs: [c.tensor(n.outputs[0]!)] });
};

const xor: Converter = (n, c) => {
  c.emit({ code: BuiltinOperator.NOT_EQUAL, inputs: [c.tensor(n.inputs[0]!), c.tensor(n.inputs[1]!)], outputs: [c.tensor(n.outputs[0]!)] });
};

/**
 * TOPK_V2 (the largest, sorted, ties the lower index first as ONNX). k computed at run time (the
 * keep_top_k of an SSD's detections) is one int32 value the kernel reads when it runs, sizing
 * its (dynamic) outputs then. The smallest (largest 0) of floats: TOPK_V2 of the negated input,
 * the values negated back (negation is exact and keeps ties tied: the same indices).
 */
const topK: Converter = (n, c) => {
  let x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  if (normAxis(attrInt(n, 'axis', -1), rank) !== rank - 1) throw new UnsupportedError('TopK over another axis than the last in a TFLite file', `node '${n.name}'`);
  if (attrInt(n, 'sorted', 1) !== 1) throw new UnsupportedError('TopK unsorted in a TFLite file', `node '${n.name}': TOPK_V2 gives its values sorted`);
  const smallest = attrInt(n, 'largest', 1) !== 1;
  if (smallest && (c.info(x).dtype !== 'float32' || c.info(x).quant)) throw new UnsupportedError(`TopK of the smallest ${c.info(x).quant ? 'quantized' : c.info(x).dtype} values in a TFLite file`, `node '${n.name}': written as TOPK_V2 of the negated input, for float32 only`);
  const values = c.tensor(n.outputs[0]!);
  let k: string;
  const kConst = n.inputs[1] ? c.constantOf(n.inputs[1]) : undefined;
  if (kConst) k = c.addConstant(`${values}_k`, new Tensor('int32', [], Int32Array.of(kConst.toNumbers()[0]!)));
  else {
    const kIn = c.tensor(n.inputs[1]!);
    const ki = c.info(kIn);
    if (ki.signature || ki.shape.reduce((a, d) => a * d, 1) !== 1 || (ki.dtype !== 'int64' && ki.dtype !== 'int32')) throw new UnsupportedError(`TopK with a computed k of shape [${(ki.signature ?? ki.shape).join(', ')}] (${ki.dtype}) in a TFLite file`, `node '${n.name}': TOPK_V2 takes one int32 k`);
    k = kIn;
    if (ki.dtype === 'int64') {
      k = c.addTensor(`${values}_k_int32`, { name: '', dtype: 'int32', shape: [...ki.shape] });
      c.emit({ code: BuiltinOperator.CAST, inputs: [kIn], outputs: [k] });
    }
  }
  const vinfo = c.info(values);
  if (smallest) {
    const negated = c.addTensor(`${values}_negated_input`, { ...c.info(x), name: '' });
    c.emit({ code: BuiltinOperator.NEG, inputs: [x], outputs: [negated] });
    x = negated;
  }
  const out = smallest ? c.addTensor(`${values}_negated`, { ...vinfo, name: '' }) : values;
  const indices = n.outputs[1] ? c.tensor(n.outputs[1]) : c.addTensor(`${values}_indices`, { ...vinfo, dtype: 'int32', quant: undefined });
  const info = c.info(indices);
  // TOPK_V2 gives int32 indices; ONNX's int64 ones follow by a CAST
  const raw = info.dtype === 'int32' ? indices : c.addTensor(`${indices}_int32`, { ...info, dtype: 'int32' });
  c.emit({ code: BuiltinOperator.TOPK_V2, inputs: [x, k], outputs: [out, raw] });
  if (raw !== indices) c.emit({ code: BuiltinOperator.CAST, inputs: [raw], outputs: [indices] });
  if (smallest) c.emit({ code: BuiltinOperator.NEG, inputs: [out], outputs: [values] });
};

/**
 * Shape of a value with dynamic dims (a static one is folded into a constant before writing):
 * SHAPE, in the output's int32 / int64; ONNX's start / end (opset 15) a SLICE of it.
 */
const shapeOf: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const rank = c.shapeOf(x).length;
  const y = c.tensor(n.outputs[0]!);
  const info = c.info(y);
  const type = TYPES[info.dtype];
  if (type === undefined) throw new UnsupportedError(`Shape to ${info.dtype} in a TFLite file`, `node '${n.name}'`);
  const at = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const start = at(attrInt(n, 'start', 0));
  const end = Math.max(at(attrInt(n, 'end', rank)), start);
  if (start === end) throw new UnsupportedError('Shape with an empty start..end in a TFLite file', `node '${n.name}': its output would be an empty constant`);
  const options: Opts = (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, type)];
  if (start === 0 && end === rank) return c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [y], options });
  const full = c.addTensor(`${y}_full`, { name: '', dtype: info.dtype, shape: [rank] });
  c.emit({ code: BuiltinOperator.SHAPE, inputs: [x], outputs: [full], options });
  c.emit({ code: BuiltinOperator.SLICE, inputs: [full, c.addConstant(`${y}_begin`, int32([start])), c.addConstant(`${y}_size`, int32([end - start]))], outputs: [y], options: (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)] });
};

const sum: Converter = (n, c) => {
  const ins = n.inputs.filter(Boolean).map((i) => c.tensor(i));
  const y = c.tensor(n.outputs[0]!);
  // ADD_N takes inputs of one shape; broadcasting ones go through ADD
  if (ins.length < 3 || ins.some((i) => c.shapeOf(i).join() !== c.shapeOf(y).join())) return binary(BuiltinOperator.ADD, (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)], true)(n, c);
  c.emit({ code: BuiltinOperator.ADD_N, inputs: ins, outputs: [y] });
};

// ---- decompositions into builtins (TFLite has no op of their own) ----

export const addOpts: Opts = (b, act) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act, false)];
export const subOpts: Opts = (b, act) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(b, act, false)];
export const mulOpts: Opts = (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)];
export const divOpts: Opts = (b, act) => [BuiltinOptions.DivOptions, DivOptions.createDivOptions(b, act)];
const reducerOpts =
  (keep: boolean): Opts =>
  (b) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, keep)];

/** Emits op `code` of `inputs` into a new tensor named after `y` (shaped like `like`, default y), or into `out`; returns it. */
export function stepper(c: WriteContext, y: string) {
  return (code: BuiltinOperator, inputs: string[], name: string, options?: Opts, like?: Partial<ReturnType<WriteContext['info']>>, out?: string): string => {
    const t = out ?? c.addTensor(`${y}_${name}`, { ...c.info(y), quant: undefined, ...like });
    c.emit({ code, inputs, outputs: [t], options });
    return t;
  };
}

/** A float scalar constant named after `y`, in y's float type. */
export const floatScalar = (c: WriteContext, y: string, name: string, v: number): string => c.addConstant(`${y}_${name}`, Tensor.float32([], [v]));

/** The float input of an op TFLite runs in float only (a quantized one is written DEQUANTIZE, op, QUANTIZE by FLOAT_ONLY_WRITE_OPS). */
export function floatInput(n: Node, c: WriteContext, i = 0): string {
  const x = c.tensor(n.inputs[i]!);
  const d = c.info(x).dtype;
  if (d !== 'float32' && d !== 'float16') throw new UnsupportedError(`${n.opType} of ${d} data in a TFLite file`, `node '${n.name}'`);
  return x;
}

/** Selu: gamma · (max(x, 0) + alpha · min(ELU(x), 0)) (ELU's negative side is exp(x) - 1). */
const selu: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const zero = floatScalar(c, y, 'zero', 0);
  const e = op(BuiltinOperator.ELU, [x], 'elu');
  const neg = op(BuiltinOperator.MINIMUM, [e, zero], 'negative');
  const scaledNeg = op(BuiltinOperator.MUL, [neg, floatScalar(c, y, 'alpha', attrFloat(n, 'alpha', 1.6732632423543772))], 'negative_scaled', mulOpts);
  const pos = op(BuiltinOperator.RELU, [x], 'positive');
  const sum = op(BuiltinOperator.ADD, [pos, scaledNeg], 'sum', addOpts);
  op(BuiltinOperator.MUL, [sum, floatScalar(c, y, 'gamma', attrFloat(n, 'gamma', 1.0507009873554805))], '', mulOpts, undefined, y);
};

/** ThresholdedRelu: x where x > alpha, else 0 (GREATER, SELECT_V2). */
const thresholdedRelu: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const above = op(BuiltinOperator.GREATER, [x, floatScalar(c, y, 'alpha', attrFloat(n, 'alpha', 1))], 'above', undefined, { dtype: 'bool' });
  op(BuiltinOperator.SELECT_V2, [above, x, floatScalar(c, y, 'zero', 0)], '', undefined, undefined, y);
};

/** Softplus: max(x, 0) + log(1 + exp(-|x|)), the form that does not overflow for a large x. */
const softplus: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const abs = op(BuiltinOperator.ABS, [x], 'abs');
  const e = op(BuiltinOperator.EXP, [op(BuiltinOperator.NEG, [abs], 'neg_abs')], 'exp');
  const l = op(BuiltinOperator.LOG, [op(BuiltinOperator.ADD, [e, floatScalar(c, y, 'one', 1)], 'one_plus', addOpts)], 'log');
  op(BuiltinOperator.ADD, [op(BuiltinOperator.RELU, [x], 'positive'), l], '', addOpts, undefined, y);
};

/** Softsign: x / (1 + |x|). */
const softsign: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const op = stepper(c, y);
  const d = op(BuiltinOperator.ADD, [op(BuiltinOperator.ABS, [x], 'abs'), floatScalar(c, y, 'one', 1)], 'one_plus', addOpts);
  op(BuiltinOperator.DIV, [x, d], '', divOpts, undefined, y);
};

/** Variadic Mean: the inputs added (ADD broadcasts) and scaled by 1 / count. */
const meanOf: Converter = (n, c) => {
  const ins = n.inputs.filter(Boolean).map((i) => c.tensor(i));
  const y = c.tensor(n.outputs[0]!);
  if (c.info(y).dtype !== 'float32') throw new UnsupportedError(`Mean of ${c.info(y).dtype} data in a TFLite file`, `node '${n.name}'`);
  const op = stepper(c, y);
  let acc = ins[0]!;
  for (let k = 1; k < ins.length; k++) acc = op(BuiltinOperator.ADD, [acc, ins[k]!], `partial${k}`, addOpts, { shape: broadcast(c.shapeOf(acc), c.shapeOf(ins[k]!)), signature: undefined });
  op(BuiltinOperator.MUL, [acc, floatScalar(c, y, 'inverse_count', 1 / ins.length)], '', mulOpts, undefined, y);
};

function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1;
    return x === 1 ? (b[b.length - r + i] ?? 1) : x;
  });
}

/** CastLike: a CAST to the like-input's type (the writer's output type). */
const castLike: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (c.info(x).dtype === c.info(y).dtype) return void c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(c.info(y).signature ?? c.info(y).shape))], outputs: [y] });
  c.emit({ code: BuiltinOperator.CAST, inputs: [x], outputs: [y] });
};

/**
 * InstanceNormalization over channels-last data (the layout pass' nnport op): each sample's and
 * channel's mean and variance over the spatial dims, as TF's converter writes it:
 * MEAN, SUB, SQUARE, MEAN, ADD epsilon, RSQRT, MUL, MUL scale, ADD bias.
 */
const instanceNorm: Converter = (n, c) => {
  const x = floatInput(n, c);
  const y = c.tensor(n.outputs[0]!);
  const rank = c.shapeOf(x).length;
  if (rank < 3) throw new UnsupportedError(`InstanceNormalization of rank-${rank} data in a TFLite file`, `node '${n.name}'`);
  const op = stepper(c, y);
  const axes = c.addConstant(`${y}_axes`, int32(Array.from({ length: rank - 2 }, (_, i) => i + 1)));
  const statShape = c.shapeOf(x).map((d, i) => (i === 0 || i === rank - 1 ? d : 1));
  const stat = { shape: statShape, signature: undefined };
  const mean = op(BuiltinOperator.MEAN, [x, axes], 'mean', reducerOpts(true), stat);
  const centered = op(BuiltinOperator.SUB, [x, mean], 'centered', subOpts);
  const variance = op(BuiltinOperator.MEAN, [op(BuiltinOperator.SQUARE, [centered], 'squared'), axes], 'variance', reducerOpts(true), stat);
  const inv = op(BuiltinOperator.RSQRT, [op(BuiltinOperator.ADD, [variance, floatScalar(c, y, 'epsilon', attrFloat(n, 'epsilon', 1e-5))], 'variance_eps', addOpts, stat)], 'rsqrt', undefined, stat);
  const normed = op(BuiltinOperator.MUL, [centered, inv], 'normalized', mulOpts);
  const scaled = op(BuiltinOperator.MUL, [normed, c.tensor(n.inputs[1]!)], 'scaled', mulOpts);
  op(BuiltinOperator.ADD, [scaled, c.tensor(n.inputs[2]!)], '', addOpts, undefined, y);
};

/** A reduction's axes (input 1 since opset 18 / 13 for ReduceSum, else the attribute): a constant list, or an int32 tensor fed at run time; all axes when none. */
function reductionAxes(n: Node, c: WriteContext, y: string, rank: number): string | undefined {
  const given = n.inputs[1] || undefined;
  const k = given ? c.constantOf(given) : undefined;
  const noop = attrInt(n, 'noop_with_empty_axes', 0) === 1;
  if (given && !k) {
    const info = c.info(c.tensor(given));
    // the axes' count is static: an empty list is no reduction (noop_with_empty_axes) or all of them
    if (info.shape[0] === 0) return noop ? undefined : c.addConstant(`${y}_axes`, int32(Array.from({ length: rank }, (_, i) => i)));
    if (info.signature?.some((d) => d < 0)) throw new UnsupportedError(`${n.opType} with axes of a dynamic count in a TFLite file`, `node '${n.name}'`);
    let t = c.tensor(given);
    if (info.dtype !== 'int32') {
      const cast = c.addTensor(`${t}_int32`, { ...info, dtype: 'int32', quant: undefined });
      c.emit({ code: BuiltinOperator.CAST, inputs: [t], outputs: [cast] });
      t = cast;
    }
    return t;
  }
  const axes = k ? k.toNumbers() : n.attrs.axes?.type === 'ints' ? n.attrs.axes.value : [];
  if (!axes.length && noop) return undefined;
  const all = axes.length ? axes.map((a) => normAxis(a, rank)) : Array.from({ length: rank }, (_, i) => i);
  return c.addConstant(`${y}_axes`, int32(all));
}

/**
 * The reductions TFLite has a builtin for (SUM, MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD) and
 * those written as their arithmetic: ReduceL1 = SUM(ABS), ReduceSumSquare = SUM(SQUARE), ReduceL2 =
 * SQRT(SUM(SQUARE)), ReduceLogSum = LOG(SUM), ReduceLogSumExp = LOG(SUM(EXP(x - m))) + m of m =
 * REDUCE_MAX (the form that does not overflow). Axes fed at run time are the reducer's axis tensor.
 */
function reduction(kind: 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'sumsquare' | 'l2' | 'logsum' | 'logsumexp'): Converter {
  return (n, c) => {
    const x = c.tensor(n.inputs[0]!);
    const y = c.tensor(n.outputs[0]!);
    const rank = c.shapeOf(x).length;
    const keep = attrInt(n, 'keepdims', 1) === 1;
    const op = stepper(c, y);
    const axes = reductionAxes(n, c, y, rank);
    const arith = !['sum', 'mean', 'max', 'min', 'prod'].includes(kind);
    if (arith && c.info(x).dtype !== 'float32') throw new UnsupportedError(`${n.opType} of ${c.info(x).dtype} data in a TFLite file`, `node '${n.name}'`);
    if (!axes) {
      // no reduction: the elementwise part alone (ReduceL1 = |x|, ReduceLogSumExp = x ...)
      const f: Partial<Record<typeof kind, BuiltinOperator>> = { l1: BuiltinOperator.ABS, sumsquare: BuiltinOperator.SQUARE, l2: BuiltinOperator.ABS, logsum: BuiltinOperator.LOG };
      const code = f[kind];
      if (code !== undefined) return void op(code, [x], '', undefined, undefined, y);
      return void c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(c.info(y).signature ?? c.info(y).shape))], outputs: [y] });
    }
    const codes: Partial<Record<typeof kind, BuiltinOperator>> = { sum: BuiltinOperator.SUM, mean: BuiltinOperator.MEAN, max: BuiltinOperator.REDUCE_MAX, min: BuiltinOperator.REDUCE_MIN, prod: BuiltinOperator.REDUCE_PROD };
    if (codes[kind] !== undefined) return void op(codes[kind]!, [x, axes], '', reducerOpts(keep), undefined, y);
    const like = { ...c.info(x), quant: undefined };
    if (kind === 'logsumexp') {
      const keptShape = c.shapeOf(y).length === rank ? c.shapeOf(y) : undefined;
      const kept = { shape: keptShape ?? c.shapeOf(x).map(() => 1), signature: undefined };
      if (!keptShape) throw new UnsupportedError(`ReduceLogSumExp without keepdims in a TFLite file`, `node '${n.name}'`);
      const m = op(BuiltinOperator.REDUCE_MAX, [x, axes], 'max', reducerOpts(true), kept);
      const e = op(BuiltinOperator.EXP, [op(BuiltinOperator.SUB, [x, m], 'shifted', subOpts, like)], 'exp', undefined, like);
      const l = op(BuiltinOperator.LOG, [op(BuiltinOperator.SUM, [e, axes], 'sum', reducerOpts(true), kept)], 'log', undefined, kept);
      if (keep) return void op(BuiltinOperator.ADD, [l, m], '', addOpts, undefined, y);
      const r = op(BuiltinOperator.ADD, [l, m], 'kept', addOpts, kept);
      return void reshape(c, r, y, c.info(y).shape);
    }
    const pre: Partial<Record<typeof kind, BuiltinOperator>> = { l1: BuiltinOperator.ABS, sumsquare: BuiltinOperator.SQUARE, l2: BuiltinOperator.SQUARE };
    const post: Partial<Record<typeof kind, BuiltinOperator>> = { l2: BuiltinOperator.SQRT, logsum: BuiltinOperator.LOG };
    const input = pre[kind] !== undefined ? op(pre[kind]!, [x], 'elementwise', undefined, like) : x;
    if (post[kind] === undefined) return void op(BuiltinOperator.SUM, [input, axes], '', reducerOpts(keep), undefined, y);
    const s = op(BuiltinOperator.SUM, [input, axes], 'sum', reducerOpts(keep));
    op(post[kind]!, [s], '', undefined, undefined, y);
  };
}

/** ArgMax / ArgMin's select_last_index: REVERSE_V2 along the axis, the op, then (dim - 1) - index. */
function lastIndex(n: Node, c: WriteContext, code: BuiltinOperator.ARG_MAX | BuiltinOperator.ARG_MIN): void {
  const x = c.tensor(n.inputs[0]!);
  const shape = c.shapeOf(x);
  const rank = shape.length;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  const y = c.tensor(n.outputs[0]!);
  const out = c.info(y);
  const type = TYPES[out.dtype];
  if (type === undefined) throw new UnsupportedError(`${n.opType} to ${out.dtype} in a TFLite file`, `node '${n.name}'`);
  if (c.info(x).signature?.[axis] === -1) throw new UnsupportedError(`${n.opType} with select_last_index along a dynamic dim in a TFLite file`, `node '${n.name}'`);
  const op = stepper(c, y);
  const rev = op(BuiltinOperator.REVERSE_V2, [x, c.addConstant(`${y}_reverse_axis`, int32([axis]))], 'reversed', (b) => [BuiltinOptions.ReverseV2Options, ReverseV2Options.createReverseV2Options(b)], { ...c.info(x) });
  const reducedShape = shape.filter((_, i) => i !== axis);
  const options: Opts = (b) => (code === BuiltinOperator.ARG_MAX ? [BuiltinOptions.ArgMaxOptions, ArgMaxOptions.createArgMaxOptions(b, type)] : [BuiltinOptions.ArgMinOptions, ArgMinOptions.createArgMinOptions(b, type)]);
  const idx = op(code, [rev, c.addConstant(`${y}_axis`, int32([axis]))], 'reversed_index', options, { shape: reducedShape, signature: undefined });
  const keep = attrInt(n, 'keepdims', 1) === 1;
  const last = c.addConstant(`${y}_last`, Tensor.scalar(out.dtype, shape[axis]! - 1));
  const flipped = op(BuiltinOperator.SUB, [last, idx], keep ? 'index' : '', subOpts, { shape: reducedShape, signature: undefined }, keep ? undefined : y);
  if (keep) reshape(c, flipped, y, out.shape);
}

/** Hardmax: ONE_HOT(ARG_MAX(x, axis), dim, axis) in x's type (the first maximum, as ONNX's). */
const hardmax: Converter = (n, c) => {
  const x = floatInput(n, c);
  const shape = c.shapeOf(x);
  const rank = shape.length;
  const axis = normAxis(attrInt(n, 'axis', -1), rank);
  const y = c.tensor(n.outputs[0]!);
  if (c.info(x).signature?.[axis] === -1) throw new UnsupportedError('Hardmax along a dynamic dim in a TFLite file', `node '${n.name}'`);
  const op = stepper(c, y);
  const idx = op(BuiltinOperator.ARG_MAX, [x, c.addConstant(`${y}_axis`, int32([axis]))], 'argmax', (b) => [BuiltinOptions.ArgMaxOptions, ArgMaxOptions.createArgMaxOptions(b, TensorType.INT32)], { dtype: 'int32', shape: shape.filter((_, i) => i !== axis), signature: undefined });
  c.emit({
    code: BuiltinOperator.ONE_HOT,
    inputs: [idx, c.addConstant(`${y}_depth`, new Tensor('int32', [], Int32Array.of(shape[axis]!))), floatScalar(c, y, 'on_value', 1), floatScalar(c, y, 'off_value', 0)],
    outputs: [y],
    options: (b) => [BuiltinOptions.OneHotOptions, OneHotOptions.createOneHotOptions(b, axis)],
  });
};

/**
 * Trilu with a constant k: SELECT_V2 of a constant [rows, cols] mask (broadcast over the batch
 * dims), x, and zero.
 */
const trilu: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const shape = c.shapeOf(x);
  const sig = c.info(x).signature;
  const rank = shape.length;
  if (rank < 2 || sig?.slice(-2).some((d) => d < 0)) throw new UnsupportedError('Trilu of dynamic rows or columns in a TFLite file', `node '${n.name}'`);
  const upper = attrInt(n, 'upper', 1) === 1;
  const [rows, cols] = shape.slice(-2) as [number, number];
  const y = c.tensor(n.outputs[0]!);
  // no elements: a copy (an empty mask constant would have no bytes to read back)
  if (rows * cols === 0) return void c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(c.info(y).shape))], outputs: [y] });
  const info = c.info(x);
  const zero = c.addConstant(`${y}_zero`, info.quant ? Tensor.scalar(info.dtype, info.quant.zeroPoint[0]!) : Tensor.scalar(info.dtype, 0), info.quant ? { scale: [info.quant.scale[0]!], zeroPoint: [info.quant.zeroPoint[0]!] } : undefined);
  const kConst = n.inputs[1] ? c.constantOf(n.inputs[1]) : Tensor.int64([], [0]);
  let mask: string;
  if (kConst) {
    const k = kConst.toNumbers()[0]!;
    const bits = new Uint8Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) bits[i * cols + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
    mask = c.addConstant(`${y}_mask`, new Tensor('bool', [rows, cols], bits));
  } else {
    // k fed at run time: the constant diagonal offsets j - i compared with it
    const kInfo = c.info(c.tensor(n.inputs[1]!));
    let k = c.tensor(n.inputs[1]!);
    if (kInfo.dtype !== 'int32') {
      const cast = c.addTensor(`${y}_k_int32`, { ...kInfo, dtype: 'int32', quant: undefined });
      c.emit({ code: BuiltinOperator.CAST, inputs: [k], outputs: [cast] });
      k = cast;
    }
    const offsets = new Int32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) offsets[i * cols + j] = j - i;
    mask = c.addTensor(`${y}_mask`, { name: '', dtype: 'bool', shape: [rows, cols] });
    c.emit({ code: upper ? BuiltinOperator.GREATER_EQUAL : BuiltinOperator.LESS_EQUAL, inputs: [c.addConstant(`${y}_offsets`, new Tensor('int32', [rows, cols], offsets)), k], outputs: [mask] });
  }
  c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [mask, x, zero], outputs: [y] });
};

/**
 * Mod with fmod=1 (C's fmod: the dividend's sign) from FLOOR_MOD: r = FLOOR_MOD(x, y), less y
 * where r is non-zero and its sign is not x's.
 */
function truncMod(n: Node, c: WriteContext): void {
  const a = c.tensor(n.inputs[0]!);
  const b = c.tensor(n.inputs[1]!);
  const y = c.tensor(n.outputs[0]!);
  const info = c.info(y);
  if (!['float32', 'int32', 'int64'].includes(info.dtype)) throw new UnsupportedError(`Mod with fmod=1 of ${info.dtype} data in a TFLite file`, `node '${n.name}': TFLite's FLOOR_MOD takes float32, int32, int64`);
  const op = stepper(c, y);
  const bool = { dtype: 'bool' as const };
  const zero = c.addConstant(`${y}_zero`, Tensor.scalar(info.dtype, 0));
  const r = op(BuiltinOperator.FLOOR_MOD, [a, b], 'floor_mod');
  const nonzero = op(BuiltinOperator.NOT_EQUAL, [r, zero], 'nonzero', undefined, bool);
  const differ = op(BuiltinOperator.NOT_EQUAL, [op(BuiltinOperator.LESS, [r, zero], 'r_negative', undefined, bool), op(BuiltinOperator.LESS, [a, zero], 'x_negative', undefined, { dtype: 'bool', shape: c.shapeOf(a), signature: c.info(a).signature })], 'signs_differ', undefined, bool);
  const fix = op(BuiltinOperator.LOGICAL_AND, [nonzero, differ], 'fix', undefined, bool);
  const shifted = op(BuiltinOperator.SUB, [r, b], 'shifted', subOpts);
  op(BuiltinOperator.SELECT_V2, [fix, shifted, r], '', undefined, undefined, y);
}

/**
 * Range fed at run time (a constant one is folded): TFLite's RANGE of three scalars, its length dynamic.
 * TFLite's RANGE fails where the limit lies behind the start (ONNX's Range is then empty): the limit
 * is clamped to the start first (MAXIMUM for a positive step, MINIMUM for a negative one; SELECT_V2
 * of both by the sign of a step fed at run time).
 */
const range: Converter = (n, c) => {
  const ins = n.inputs.map((i) => c.tensor(i!));
  const y = c.tensor(n.outputs[0]!);
  const d = c.info(y).dtype;
  // (an int64 one of bounds known to fit int32 was made int32 by lower-int64-range.ts)
  if (d !== 'float32' && d !== 'int32') throw new UnsupportedError(`Range of ${d} in a TFLite file`, `node '${n.name}': TFLite's RANGE takes float32 or int32 (an int64 one only where its bounds come from dims or fitting constants)`);
  if (c.constantOf(n.inputs[0]!) && c.constantOf(n.inputs[1]!) && c.constantOf(n.inputs[2]!)) {
    c.emit({ code: BuiltinOperator.RANGE, inputs: ins, outputs: [y], options: (b) => [BuiltinOptions.RangeOptions, RangeOptions.createRangeOptions(b)] });
    return;
  }
  const scalar = { ...c.info(ins[1]!), quant: undefined };
  const clamp = (code: BuiltinOperator, what: string): string => {
    const t = c.addTensor(`${y}_${what}`, scalar);
    c.emit({ code, inputs: [ins[1]!, ins[0]!], outputs: [t] });
    return t;
  };
  const step = c.constantOf(n.inputs[2]!)?.toNumbers()[0];
  if (step !== undefined) ins[1] = clamp(step > 0 ? BuiltinOperator.MAXIMUM : BuiltinOperator.MINIMUM, 'limit');
  else {
    // a run-time step: the clamp of its sign, chosen in the graph
    const up = c.addTensor(`${y}_step_positive`, { ...scalar, dtype: 'bool' });
    c.emit({ code: BuiltinOperator.GREATER, inputs: [ins[2]!, c.addConstant(`${y}_zero`, Tensor.scalar(d, 0))], outputs: [up] });
    const limit = c.addTensor(`${y}_limit`, scalar);
    c.emit({ code: BuiltinOperator.SELECT_V2, inputs: [up, clamp(BuiltinOperator.MAXIMUM, 'limit_up'), clamp(BuiltinOperator.MINIMUM, 'limit_down')], outputs: [limit] });
    ins[1] = limit;
  }
  c.emit({ code: BuiltinOperator.RANGE, inputs: ins, outputs: [y], options: (b) => [BuiltinOptions.RangeOptions, RangeOptions.createRangeOptions(b)] });
};

/**
 * GatherElements as GATHER_ND: each output element's full coordinate, its `axis` entry the index
 * (a negative one wrapped by FLOOR_MOD of the dim), the others the element's own position (constant
 * iota grids), concatenated on a last axis. Constant indices give one constant coordinate tensor.
 */
const gatherElements: Converter = (n, c) => {
  const x = c.tensor(n.inputs[0]!);
  const shape = c.shapeOf(x);
  const rank = shape.length;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  const idxName = c.tensor(n.inputs[1]!);
  const idxInfo = c.info(idxName);
  if (c.info(x).signature || idxInfo.signature) throw new UnsupportedError('GatherElements of dynamic shapes in a TFLite file', `node '${n.name}'`);
  // the interpreter aborts on the written coordinates above rank 4 (ONNX backend test_nllloss_NCd1d2d3*_expanded: rank 5 and 7)
  if (rank > 4) throw new UnsupportedError(`GatherElements of rank ${rank} in a TFLite file`, `node '${n.name}': its GATHER_ND coordinates go up to rank 4 (the interpreter aborts above)`);
  const ishape = idxInfo.shape;
  const count = ishape.reduce((a, b) => a * b, 1);
  const y = c.tensor(n.outputs[0]!);
  sameParams(n, c, x, y);
  const dim = shape[axis]!;
  // the element's position along dim d, for every element of the index tensor
  const positions = (d: number): Int32Array => {
    const out = new Int32Array(count);
    const inner = ishape.slice(d + 1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < count; i++) out[i] = Math.floor(i / inner) % ishape[d]!;
    return out;
  };
  const k = c.constantOf(n.inputs[1]!);
  let coords: string;
  if (k) {
    const values = k.toNumbers();
    const data = new Int32Array(count * rank);
    const grids = Array.from({ length: rank }, (_, d) => (d === axis ? undefined : positions(d)));
    for (let i = 0; i < count; i++) for (let d = 0; d < rank; d++) data[i * rank + d] = d === axis ? (values[i]! < 0 ? values[i]! + dim : values[i]!) : grids[d]![i]!;
    coords = c.addConstant(`${y}_coordinates`, new Tensor('int32', [...ishape, rank], data));
  } else {
    const op = stepper(c, y);
    const idxShape = { dtype: 'int32' as const, shape: ishape, signature: undefined, quant: undefined };
    let idx = idxName;
    if (idxInfo.dtype !== 'int32') idx = op(BuiltinOperator.CAST, [idx], 'indices_int32', undefined, idxShape);
    const wrapped = op(BuiltinOperator.FLOOR_MOD, [idx, c.addConstant(`${y}_dim`, new Tensor('int32', [], Int32Array.of(dim)))], 'indices_wrapped', undefined, idxShape);
    const column = { ...idxShape, shape: [...ishape, 1] };
    const parts = Array.from({ length: rank }, (_, d) =>
      d === axis ? op(BuiltinOperator.RESHAPE, [wrapped, c.addConstant(`${y}_column_shape`, int32([...ishape, 1]))], 'index_column', undefined, column) : c.addConstant(`${y}_grid${d}`, new Tensor('int32', [...ishape, 1], positions(d))),
    );
    coords = op(BuiltinOperator.CONCATENATION, parts, 'coordinates', (b, act) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, rank, act)], { ...idxShape, shape: [...ishape, rank] });
  }
  c.emit({ code: BuiltinOperator.GATHER_ND, inputs: [x, coords], outputs: [y] });
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
  ReduceProd: reduction('prod'),
  ReduceSumSquare: reduction('sumsquare'),
  ReduceL2: reduction('l2'),
  ReduceL1: reduction('l1'),
  ReduceLogSum: reduction('logsum'),
  ReduceLogSumExp: reduction('logsumexp'),
  ReduceSum: reduction('sum'),
  ReduceMean: reduction('mean'),
  ReduceMax: reduction('max'),
  ReduceMin: reduction('min'),
  Selu: selu,
  ThresholdedRelu: thresholdedRelu,
  Softplus: softplus,
  Softsign: softsign,
  Mean: meanOf,
  CastLike: castLike,
  'nnport::InstanceNormalization': instanceNorm,
  Hardmax: hardmax,
  Trilu: trilu,
  Range: range,
  GatherElements: gatherElements,
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
  Shape: shapeOf,
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
  'Where', 'ReduceProd', 'ReduceSumSquare', 'ReduceL2', 'ReduceL1', 'ReduceLogSum', 'ReduceLogSumExp',
  'Selu', 'ThresholdedRelu', 'Softplus', 'Softsign', 'Mean', 'nnport::InstanceNormalization', 'Hardmax', 'Trilu', 'CastLike', 'Range', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Sign', 'Reciprocal', 'nnport::LRN', 'OneHot', 'CumSum', 'Mod', 'TopK', 'Sum',
  // no int8 kernel in the interpreter (it refuses SQRT / LOG / POW of int8 at load, DIV / EXP / NEG at invoke: test/conformance/tflite-int8.test.ts)
  'Div', 'Exp', 'Log', 'Neg', 'Sqrt', 'Pow',
  // a float -> float Cast inside an island (LayerNormalization's expanded function): TFLite's CAST does not requantize
  'Cast',
  'NonMaxSuppression', // write-nms.ts: float32 boxes and scores
]);
