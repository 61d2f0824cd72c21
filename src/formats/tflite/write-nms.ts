// ONNX NonMaxSuppression -> TFLite NON_MAX_SUPPRESSION_V4, one per batch x class (static B and C,
// unrolled), and ONNX's selected_indices [num_selected, 3] int64 assembled from each call's
// selected_indices + valid_outputs (GATHER, CONCATENATION, a SLICE of run-time size, CAST): rows in
// ONNX's order, batch-major, then class, then score order within the class.
//
// Where the two differ, the file makes TFLite compute ONNX's result exactly:
// - ties: TFLite's kernel pops candidates from a priority queue ordered by score alone (equal scores
//   come out in heap order), ONNX (onnxruntime) takes the lower index first. So each class's boxes
//   go to the kernel sorted by TOPK_V2 (descending, ties the lower index first) with the distinct
//   scores N, N-1, ..., 1 (their rank), and the selected ranks are mapped back through TOPK's indices.
// - score_threshold: both keep score > threshold (strictly); with rank scores the kernel's threshold
//   is N - K, K the count of the class's scores above ONNX's threshold (computed in the file).
// - iou_threshold: TFLite suppresses at iou >= threshold, ONNX at iou > threshold: the file holds
//   the next float32 above ONNX's threshold (for float32 IoUs, iou > t <=> iou >= nextUp(t)). Both
//   compute the IoU in float32 the same way (min/max corners, so either diagonal order; a box of
//   zero area overlaps nothing). A constant threshold outside [0, 1] is refused (onnxruntime refuses it).
// - boxes of zero area (or NaN): ONNX selects such a box once (it suppresses nothing and nothing
//   suppresses it); TFLite's kernel puts every pick back in its queue and relies on the pick's IoU
//   with itself (1) to drop it there, so a box of no area (IoU 0) is picked again and again until
//   max_output_size. Such boxes go to the kernel with score 0 (below any threshold) and are merged
//   back after: TOPK_V2 over the ranks of both (the kernel's picks, the zero-area boxes above the
//   threshold; 0 for neither) gives the first positions of the two in order.
// - center_point_box 1: [cx, cy, w, h] become corners [cx - w/2, cy - h/2, cx + w/2, cy + h/2]
//   first (x and y swapped against TFLite's [y1, x1, y2, x2] leave every IoU unchanged).
// The output's size depends on the data: its shape_signature is [-1, 3] and the interpreter resizes it.
// The box count N may be known only at run time (boxes left by a score filter or a TopK): then every
// constant sized by N (the rank scores, TOPK_V2's k, the slots of the kernel's picks) is computed in
// the file from SHAPE of the boxes (RANGE, FILL), the kernel's max_output_size is min(max, N) at run
// time, and the tensors sized by N carry -1 in their shape_signature; the batch and class counts are
// unrolled, so they must be static.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { NonMaxSuppressionV4Options } from '../generated/tflite/non-max-suppression-v4-options.js';
import { ReducerOptions } from '../generated/tflite/reducer-options.js';
import { FillOptions } from '../generated/tflite/fill-options.js';
import { RangeOptions } from '../generated/tflite/range-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ShapeOptions } from '../generated/tflite/shape-options.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { SliceOptions } from '../generated/tflite/slice-options.js';
import { SelectOptions } from '../generated/tflite/select-options.js';
import { SqueezeOptions } from '../generated/tflite/squeeze-options.js';
import { AddOptions } from '../generated/tflite/add-options.js';
import { SubOptions } from '../generated/tflite/sub-options.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { int32, type Converter, type WriteContext } from './ops-write.js';

/** The smallest float32 above 0 (a subnormal: WebAssembly and C++ keep them). */
const TINY = 2 ** -149;

/** The smallest float32 above the float32 `t` (t >= 0). */
function nextUpF32(t: number): number {
  const f = new Float32Array([t]);
  const i = new Int32Array(f.buffer);
  i[0] = i[0]! + 1; // t >= 0: its bit pattern's successor is the next float32 up (0 -> the smallest subnormal)
  return f[0]!;
}

/** An optional scalar input: its constant value, the run-time tensor, or absent. */
function scalarInput(n: Node, c: WriteContext, i: number, what: string): { value: number } | { tensor: string } | undefined {
  if (!n.inputs[i]) return undefined;
  const t = c.constantOf(n.inputs[i]!);
  if (t && t.size === 0) return undefined;
  if (t && t.size !== 1) throw new UnsupportedError(`NonMaxSuppression with a ${what} of ${t.size} values in a TFLite file`, `node '${n.name}'`);
  if (t) return { value: t.toNumbers()[0]! };
  const x = c.tensor(n.inputs[i]!);
  const info = c.info(x);
  if (info.signature || info.shape.reduce((a, d) => a * d, 1) !== 1) throw new UnsupportedError(`NonMaxSuppression with a ${what} of shape [${info.shape.join(', ')}] in a TFLite file`, `node '${n.name}'`);
  return { tensor: x };
}

export const nonMaxSuppression: Converter = (n, c) => {
  const boxesIn = c.tensor(n.inputs[0]!);
  const scoresIn = c.tensor(n.inputs[1]!);
  const bi = c.info(boxesIn);
  const si = c.info(scoresIn);
  const open = (sig: number[] | undefined, a: number) => sig?.[a] === -1;
  if (open(bi.signature, 0) || open(si.signature, 0) || open(si.signature, 1) || open(bi.signature, 2)) throw new UnsupportedError('NonMaxSuppression of boxes or scores whose batch or class count is known only at run time in a TFLite file', `node '${n.name}': the batch and class counts must be static`);
  const dynN = open(bi.signature, 1) || open(si.signature, 2);
  if (bi.dtype !== 'float32' || si.dtype !== 'float32' || bi.quant || si.quant) throw new UnsupportedError(`NonMaxSuppression of ${bi.quant || si.quant ? 'quantized' : `${bi.dtype} / ${si.dtype}`} boxes and scores in a TFLite file`, `node '${n.name}': written for float32 only`);
  const [B, N] = bi.shape as [number, number];
  const C = si.shape[1]!;
  if (bi.shape.length !== 3 || bi.shape[2] !== 4 || si.shape.length !== 3 || si.shape[0] !== B || (!dynN && si.shape[2] !== N)) throw new UnsupportedError(`NonMaxSuppression with boxes [${bi.shape.join(', ')}] and scores [${si.shape.join(', ')}] in a TFLite file`, `node '${n.name}'`);
  const maxIn = scalarInput(n, c, 2, 'max_output_boxes_per_class') ?? { value: 0 };
  // a run-time maximum: the kernel selects up to N and the count is capped after (greedy NMS's first k picks are the capped run's)
  const M = 'value' in maxIn ? (dynN ? maxIn.value : Math.min(maxIn.value, N)) : N;
  if (M <= 0 || B * C === 0) throw new UnsupportedError('NonMaxSuppression that selects nothing (max_output_boxes_per_class 0, or no boxes) in a TFLite file', `node '${n.name}': its output would be an empty constant`);
  const iouIn = scalarInput(n, c, 3, 'iou_threshold') ?? { value: 0 };
  const scoreIn = scalarInput(n, c, 4, 'score_threshold');
  if (scoreIn && 'value' in scoreIn && Number.isNaN(scoreIn.value)) throw new UnsupportedError('NonMaxSuppression with a NaN score_threshold in a TFLite file', `node '${n.name}'`);
  const y = c.tensor(n.outputs[0]!);
  // shapes with -1 where a dim follows the run-time box count (written 1, -1 in the shape_signature)
  const sized = (shape: number[]) => (shape.some((d) => d < 0) ? { shape: shape.map((d) => (d < 0 ? 1 : d)), signature: shape } : { shape });
  const f32 = (base: string, shape: number[]) => c.addTensor(`${y}_${base}`, { name: '', dtype: 'float32', ...sized(shape) });
  const i32 = (base: string, shape: number[]) => c.addTensor(`${y}_${base}`, { name: '', dtype: 'int32', ...sized(shape) });
  // N and M as dims: -1 when known only at run time (M: a constant maximum above a run-time N is min(max, N))
  const nD = dynN ? -1 : N;
  const mD = dynN ? -1 : M;
  const reshape = (x: string, to: string, shape: number[]) =>
    c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${to}_shape`, int32(shape))], outputs: [to], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
  // (SLICE sizes of -1 take the rest of a dim: a run-time N)
  const slice = (x: string, to: string, begin: number[], size: number[]) =>
    c.emit({ code: BuiltinOperator.SLICE, inputs: [x, c.addConstant(`${to}_begin`, int32(begin)), c.addConstant(`${to}_size`, int32(size))], outputs: [to], options: (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)] });
  const concat = (ins: string[], to: string, axis: number) =>
    c.emit({ code: BuiltinOperator.CONCATENATION, inputs: ins, outputs: [to], options: (b) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, axis, ActivationFunctionType.NONE)] });
  const gather = (x: string, idx: string, to: string) => c.emit({ code: BuiltinOperator.GATHER, inputs: [x, idx], outputs: [to], options: (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, 0, 0)] });

  // corners
  let boxes = boxesIn;
  if (attrInt(n, 'center_point_box', 0) === 1) {
    const centers = f32('centers', [B, nD, 2]);
    const sizes = f32('sizes', [B, nD, 2]);
    slice(boxesIn, centers, [0, 0, 0], [B, nD, 2]);
    slice(boxesIn, sizes, [0, 0, 2], [B, nD, 2]);
    const half = f32('half_sizes', [B, nD, 2]);
    c.emit({ code: BuiltinOperator.MUL, inputs: [sizes, c.addConstant(`${y}_half`, Tensor.float32([], [0.5]))], outputs: [half], options: (b) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, ActivationFunctionType.NONE)] });
    const lo = f32('corners_lo', [B, nD, 2]);
    const hi = f32('corners_hi', [B, nD, 2]);
    c.emit({ code: BuiltinOperator.SUB, inputs: [centers, half], outputs: [lo], options: (b) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(b, ActivationFunctionType.NONE, false)] });
    c.emit({ code: BuiltinOperator.ADD, inputs: [centers, half], outputs: [hi], options: (b) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, ActivationFunctionType.NONE, false)] });
    boxes = f32('corners', [B, nD, 4]);
    concat([lo, hi], boxes, 2);
  }

  const toScalar = (x: string, base: string, dtype: 'float32' | 'int64') => {
    if (c.info(x).dtype !== dtype) throw new UnsupportedError(`NonMaxSuppression with a ${c.info(x).dtype} ${base} in a TFLite file`, `node '${n.name}'`);
    if (!c.shapeOf(x).length) return x;
    const to = c.addTensor(`${y}_${base}_scalar`, { name: '', dtype, shape: [] });
    // (SQUEEZE of every unit dim, not a RESHAPE: its shape [] would be an empty constant, which a file cannot tell from a missing input)
    c.emit({ code: BuiltinOperator.SQUEEZE, inputs: [x], outputs: [to], options: (b) => [BuiltinOptions.SqueezeOptions, SqueezeOptions.createSqueezeOptions(b, SqueezeOptions.createSqueezeDimsVector(b, []))] });
    return to;
  };
  const binary = (code: BuiltinOperator, ins: string[], base: string, dtype: 'float32' | 'int32' | 'int64' = 'float32') => {
    const to = c.addTensor(`${y}_${base}`, { name: '', dtype, shape: [] });
    c.emit({ code, inputs: ins, outputs: [to] });
    return to;
  };
  const scalarI32 = (base: string, v: number) => c.addConstant(`${y}_${base}`, new Tensor('int32', [], Int32Array.of(v)));
  // the run-time box count: dim 1 of SHAPE of the boxes, int32 and float32
  let nRun: { i: string; f: string } | undefined;
  if (dynN) {
    const dims = i32('box_dims', [3]);
    c.emit({ code: BuiltinOperator.SHAPE, inputs: [boxes], outputs: [dims], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] });
    const i = i32('n_run', []);
    gather(dims, scalarI32('box_count_dim', 1), i);
    nRun = { i, f: binary(BuiltinOperator.CAST, [i], 'n_run_f') };
  }
  // max_output_size: min(max, N), at run time where N is (int32 holds an exporter's INT64_MAX "no limit" as its own maximum)
  const mRun = nRun ? ('value' in maxIn ? binary(BuiltinOperator.MINIMUM, [nRun.i, scalarI32('max_int32', Math.min(M, 2 ** 31 - 1))], 'm_run', 'int32') : nRun.i) : undefined;
  const maxOut = mRun ?? scalarI32('max_output_size', M);
  // a run-time maximum, clamped to [0, N] in int64 (an exporter's INT64_MAX "no limit" fits int32 so), then int32
  let cap: string | undefined;
  if ('tensor' in maxIn) {
    const m = toScalar(maxIn.tensor, 'max_output_boxes_per_class', 'int64');
    const low = binary(BuiltinOperator.MINIMUM, [m, c.addConstant(`${y}_n_int64`, Tensor.scalar('int64', dynN ? 2 ** 31 - 1 : N))], 'max_capped', 'int64');
    const both = binary(BuiltinOperator.MAXIMUM, [low, c.addConstant(`${y}_zero_int64`, Tensor.scalar('int64', 0))], 'max_clamped', 'int64');
    cap = binary(BuiltinOperator.CAST, [both], 'max_int32', 'int32');
  }
  // iou > t <=> iou >= nextUp(t); a negative t suppresses the overlapping boxes only: iou >= the smallest float32 above 0.
  // t >= 1 suppresses nothing: no box goes to the kernel (as a box of zero area), whose threshold is then 1 (it takes
  // no more); at run time `suppresses` (t < 1) multiplies the boxes' has-area mask
  let iouT: string;
  let suppresses: string | undefined;
  let neverSuppresses = false;
  if ('value' in iouIn) {
    const t = Math.fround(iouIn.value);
    if (!(t >= 0 && t <= 1)) throw new UnsupportedError(`NonMaxSuppression with iou_threshold ${iouIn.value} in a TFLite file`, `node '${n.name}': outside [0, 1] (onnxruntime refuses it too)`);
    neverSuppresses = t >= 1;
    iouT = c.addConstant(`${y}_iou_threshold`, Tensor.float32([], [neverSuppresses ? 1 : nextUpF32(t)]));
  } else {
    // at run time: t + t * 1.5 * 2^-24 is t's next float32 up (t = (1 + m) 2^e has the ulp 2^(e-23), the step is
    // 0.75 (1 + m) ulp, in [ulp * 3/4, ulp * 3/2): the sum rounds to t + ulp), and the floor TINY covers t = 0 (and t < 0:
    // onnxruntime refuses that)
    const t = toScalar(iouIn.tensor, 'iou_threshold', 'float32');
    const step = binary(BuiltinOperator.MUL, [t, c.addConstant(`${y}_ulp_step`, Tensor.float32([], [1.5 * 2 ** -24]))], 'iou_step');
    const up = binary(BuiltinOperator.ADD, [t, step], 'iou_next_up');
    const floored = binary(BuiltinOperator.MAXIMUM, [up, c.addConstant(`${y}_tiny`, Tensor.float32([], [TINY]))], 'iou_floored');
    const oneF = c.addConstant(`${y}_iou_one`, Tensor.float32([], [1]));
    iouT = binary(BuiltinOperator.MINIMUM, [floored, oneF], 'iou_threshold');
    const below = c.addTensor(`${y}_iou_below_one`, { name: '', dtype: 'bool', shape: [] });
    c.emit({ code: BuiltinOperator.LESS, inputs: [t, oneF], outputs: [below] });
    suppresses = binary(BuiltinOperator.CAST, [below], 'iou_suppresses');
  }
  const range = (start: string, limit: string, delta: string, to: string) => c.emit({ code: BuiltinOperator.RANGE, inputs: [start, limit, delta], outputs: [to], options: (b) => [BuiltinOptions.RangeOptions, RangeOptions.createRangeOptions(b)] });
  let ranks: string;
  if (nRun) {
    ranks = f32('rank_scores', [-1]);
    range(nRun.f, c.addConstant(`${y}_rank_limit`, Tensor.float32([], [0])), c.addConstant(`${y}_rank_delta`, Tensor.float32([], [-1])), ranks);
  } else ranks = c.addConstant(`${y}_rank_scores`, Tensor.float32([N], Array.from({ length: N }, (_, r) => N - r)));
  const k = nRun?.i ?? scalarI32('k', N);
  const thrIn = scoreIn === undefined ? undefined : 'value' in scoreIn ? c.addConstant(`${y}_score_threshold`, Tensor.float32([], [scoreIn.value])) : toScalar(scoreIn.tensor, 'score_threshold', 'float32');
  const noThreshold = thrIn === undefined ? c.addConstant(`${y}_rank_threshold`, Tensor.float32([], [0])) : undefined;
  const nConst = thrIn === undefined ? undefined : (nRun?.f ?? c.addConstant(`${y}_n`, Tensor.float32([], [N])));
  const three = c.addConstant(`${y}_three`, int32([3]));
  const origin = c.addConstant(`${y}_origin`, int32([0, 0]));
  const one = c.addConstant(`${y}_one`, Tensor.float32([], [1]));
  const zero = c.addConstant(`${y}_zero`, Tensor.float32([], [0]));
  const nInt = nRun?.i ?? scalarI32('n_int32', N);
  const kM = maxOut;
  let slots: string;
  let noSlot: string;
  let lastInt: string;
  if (nRun) {
    slots = i32('slots', [-1]);
    range(scalarI32('slot_start', 0), kM, scalarI32('slot_delta', 1), slots);
    const mVector = i32('m_vector', [1]);
    reshape(kM, mVector, [1]);
    noSlot = i32('no_slot', [-1]);
    c.emit({ code: BuiltinOperator.FILL, inputs: [mVector, nInt], outputs: [noSlot], options: (b) => [BuiltinOptions.FillOptions, FillOptions.createFillOptions(b)] });
    lastInt = binary(BuiltinOperator.SUB, [nInt, scalarI32('one_int32', 1)], 'last_run', 'int32');
  } else {
    slots = c.addConstant(`${y}_slots`, int32(Array.from({ length: M }, (_, i) => i)));
    noSlot = c.addConstant(`${y}_no_slot`, int32(new Array<number>(M).fill(N)));
    lastInt = scalarI32('last_int32', N - 1);
  }
  const axis0 = c.addConstant(`${y}_sum_axis`, int32([0]));
  const mul = (a: string, bb: string, to: string) => c.emit({ code: BuiltinOperator.MUL, inputs: [a, bb], outputs: [to], options: (o) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(o, ActivationFunctionType.NONE)] });
  const sub = (a: string, bb: string, to: string) => c.emit({ code: BuiltinOperator.SUB, inputs: [a, bb], outputs: [to], options: (o) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(o, ActivationFunctionType.NONE, false)] });
  const add = (a: string, bb: string, to: string) => c.emit({ code: BuiltinOperator.ADD, inputs: [a, bb], outputs: [to], options: (o) => [BuiltinOptions.AddOptions, AddOptions.createAddOptions(o, ActivationFunctionType.NONE, false)] });
  const parts: string[] = [];
  for (let b = 0; b < B; b++) {
    const slab = f32(`boxes_${b}_3d`, [1, nD, 4]);
    slice(boxes, slab, [b, 0, 0], [1, nD, 4]);
    const boxesB = f32(`boxes_${b}`, [nD, 4]);
    reshape(slab, boxesB, [nD, 4]);
    // 1 where the box has an area > 0 as the kernel computes it: (max y - min y) · (max x - min x) in float32
    const lo = f32(`corner_a_${b}`, [nD, 2]);
    const hi = f32(`corner_b_${b}`, [nD, 2]);
    slice(boxesB, lo, [0, 0], [nD, 2]);
    slice(boxesB, hi, [0, 2], [nD, 2]);
    const mins = f32(`mins_${b}`, [nD, 2]);
    const maxs = f32(`maxs_${b}`, [nD, 2]);
    c.emit({ code: BuiltinOperator.MINIMUM, inputs: [lo, hi], outputs: [mins] });
    c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [lo, hi], outputs: [maxs] });
    const extent = f32(`extent_${b}`, [nD, 2]);
    sub(maxs, mins, extent);
    const eh = f32(`height_${b}`, [nD, 1]);
    const ew = f32(`width_${b}`, [nD, 1]);
    slice(extent, eh, [0, 0], [nD, 1]);
    slice(extent, ew, [0, 1], [nD, 1]);
    const area2 = f32(`area_${b}_2d`, [nD, 1]);
    mul(eh, ew, area2);
    const area = f32(`area_${b}`, [nD]);
    reshape(area2, area, [nD]);
    const positive = c.addTensor(`${y}_has_area_${b}`, { name: '', dtype: 'bool', ...sized([nD]) });
    c.emit({ code: BuiltinOperator.GREATER, inputs: [area, zero], outputs: [positive] });
    let hasArea = f32(`has_area_${b}_f`, [nD]);
    c.emit({ code: BuiltinOperator.CAST, inputs: [positive], outputs: [hasArea] });
    if (neverSuppresses) {
      const none = f32(`has_area_${b}_none`, [nD]);
      mul(hasArea, zero, none);
      hasArea = none;
    }
    else if (suppresses) {
      const masked = f32(`has_area_${b}_suppressing`, [nD]);
      mul(hasArea, suppresses, masked);
      hasArea = masked;
    }
    for (let cl = 0; cl < C; cl++) {
      const tag = `${b}_${cl}`;
      const row = f32(`scores_${tag}_3d`, [1, 1, nD]);
      slice(scoresIn, row, [b, cl, 0], [1, 1, nD]);
      const scores = f32(`scores_${tag}`, [nD]);
      reshape(row, scores, [nD]);
      // descending, ties the lower index first
      const sorted = f32(`sorted_scores_${tag}`, [nD]);
      const order = i32(`order_${tag}`, [nD]);
      c.emit({ code: BuiltinOperator.TOPK_V2, inputs: [scores, k], outputs: [sorted, order] });
      const sortedBoxes = f32(`sorted_boxes_${tag}`, [nD, 4]);
      gather(boxesB, order, sortedBoxes);
      let thr = noThreshold!;
      if (thrIn) {
        const above = c.addTensor(`${y}_above_${tag}`, { name: '', dtype: 'bool', ...sized([nD]) });
        c.emit({ code: BuiltinOperator.GREATER, inputs: [scores, thrIn], outputs: [above] });
        const aboveF = f32(`above_${tag}_f`, [nD]);
        c.emit({ code: BuiltinOperator.CAST, inputs: [above], outputs: [aboveF] });
        const above_n = f32(`count_${tag}`, []);
        c.emit({ code: BuiltinOperator.SUM, inputs: [aboveF, c.addConstant(`${y}_axis0`, int32([0]))], outputs: [above_n], options: (bb) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(bb, false)] });
        thr = f32(`rank_threshold_${tag}`, []);
        c.emit({ code: BuiltinOperator.SUB, inputs: [nConst!, above_n], outputs: [thr], options: (bb) => [BuiltinOptions.SubOptions, SubOptions.createSubOptions(bb, ActivationFunctionType.NONE, false)] });
      }
      // the zero-area boxes: score 0 for the kernel (never above thr >= 0), selected after by the threshold alone
      const sortedHasArea = f32(`sorted_has_area_${tag}`, [nD]);
      gather(hasArea, order, sortedHasArea);
      const kernelScores = f32(`kernel_scores_${tag}`, [nD]);
      mul(ranks, sortedHasArea, kernelScores);
      const aboveB = c.addTensor(`${y}_rank_above_${tag}`, { name: '', dtype: 'bool', ...sized([nD]) });
      c.emit({ code: BuiltinOperator.GREATER, inputs: [ranks, thr], outputs: [aboveB] });
      const aboveRank = f32(`rank_above_${tag}_f`, [nD]);
      c.emit({ code: BuiltinOperator.CAST, inputs: [aboveB], outputs: [aboveRank] });
      const noArea = f32(`no_area_${tag}`, [nD]);
      sub(one, sortedHasArea, noArea);
      const flat = f32(`no_area_kept_${tag}`, [nD]);
      mul(noArea, aboveRank, flat);
      const selected = i32(`selected_${tag}`, [mD]);
      const valid = i32(`valid_${tag}`, []);
      c.emit({ code: BuiltinOperator.NON_MAX_SUPPRESSION_V4, inputs: [sortedBoxes, kernelScores, maxOut, iouT, thr], outputs: [selected, valid], options: (bb) => [BuiltinOptions.NonMaxSuppressionV4Options, NonMaxSuppressionV4Options.createNonMaxSuppressionV4Options(bb)] });
      // the ranks of the kernel's picks (N - position; 0 in its slots past valid_outputs) and of the
      // zero-area boxes kept: the M largest, in order, are the positions selected
      const inUse = c.addTensor(`${y}_in_use_${tag}`, { name: '', dtype: 'bool', ...sized([mD]) });
      c.emit({ code: BuiltinOperator.LESS, inputs: [slots, valid], outputs: [inUse] });
      const slotPositions = i32(`slot_positions_${tag}`, [mD]);
      c.emit({ code: BuiltinOperator.SELECT, inputs: [inUse, selected, noSlot], outputs: [slotPositions], options: (bb) => [BuiltinOptions.SelectOptions, SelectOptions.createSelectOptions(bb)] });
      const slotRanks = i32(`slot_ranks_${tag}`, [mD]);
      sub(nInt, slotPositions, slotRanks);
      const pickRanks = f32(`pick_ranks_${tag}`, [mD]);
      c.emit({ code: BuiltinOperator.CAST, inputs: [slotRanks], outputs: [pickRanks] });
      const flatRanks = f32(`no_area_ranks_${tag}`, [nD]);
      mul(flat, ranks, flatRanks);
      const allRanks = f32(`chosen_ranks_${tag}`, [dynN ? -1 : M + N]);
      concat([pickRanks, flatRanks], allRanks, 0);
      const topRanks = f32(`top_ranks_${tag}`, [mD]);
      const topAt = i32(`top_at_${tag}`, [mD]);
      c.emit({ code: BuiltinOperator.TOPK_V2, inputs: [allRanks, kM], outputs: [topRanks, topAt] });
      const topRanksInt = i32(`top_ranks_${tag}_int32`, [mD]);
      c.emit({ code: BuiltinOperator.CAST, inputs: [topRanks], outputs: [topRanksInt] });
      const unclamped = i32(`positions_${tag}_unclamped`, [mD]);
      sub(nInt, topRanksInt, unclamped);
      // (rank 0, past the count, is position N: kept in range for the GATHER, then sliced off)
      const positions = i32(`positions_${tag}`, [mD]);
      c.emit({ code: BuiltinOperator.MINIMUM, inputs: [unclamped, lastInt], outputs: [positions] });
      const flatCount = f32(`no_area_count_${tag}`, []);
      c.emit({ code: BuiltinOperator.SUM, inputs: [flat, axis0], outputs: [flatCount], options: (bb) => [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(bb, false)] });
      const flatCountInt = i32(`no_area_count_${tag}_int32`, []);
      c.emit({ code: BuiltinOperator.CAST, inputs: [flatCount], outputs: [flatCountInt] });
      const total = i32(`chosen_count_${tag}`, []);
      add(valid, flatCountInt, total);
      const chosenCount = binary(BuiltinOperator.MINIMUM, [total, kM], `chosen_${tag}_capped`, 'int32');
      const picked = i32(`picked_${tag}`, [mD]);
      gather(order, positions, picked);
      const column = i32(`picked_${tag}_column`, [mD, 1]);
      reshape(picked, column, [mD, 1]);
      const rows = i32(`rows_${tag}`, [mD, 3]);
      const batchClassRow = c.addConstant(`${y}_batch_class_${tag}`, new Tensor('int32', [dynN ? 1 : M, 2], Int32Array.from({ length: 2 * (dynN ? 1 : M) }, (_, i) => (i % 2 ? cl : b))));
      let batchClass = batchClassRow;
      if (dynN) {
        // [b, cl] on each of the M rows: column · 0 + [[b, cl]] (broadcast)
        const zeros = i32(`zeros_${tag}`, [-1, 1]);
        mul(column, scalarI32('zero_int32', 0), zeros);
        batchClass = i32(`batch_class_${tag}_rows`, [-1, 2]);
        add(zeros, batchClassRow, batchClass);
      }
      concat([batchClass, column], rows, 1);
      const count = cap ? binary(BuiltinOperator.MINIMUM, [chosenCount, cap], `valid_${tag}_capped`, 'int32') : chosenCount;
      const count1 = i32(`valid_${tag}_1`, [1]);
      reshape(count, count1, [1]);
      const size = i32(`size_${tag}`, [2]);
      concat([count1, three], size, 0);
      const part = c.addTensor(`${y}_${tag}`, { name: '', dtype: 'int32', shape: [dynN ? 1 : M, 3], signature: [-1, 3] });
      c.emit({ code: BuiltinOperator.SLICE, inputs: [rows, origin, size], outputs: [part], options: (bb) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(bb)] });
      parts.push(part);
    }
  }
  let all = parts[0]!;
  if (parts.length > 1) {
    all = c.addTensor(`${y}_int32`, { name: '', dtype: 'int32', shape: [(dynN ? 1 : M) * parts.length, 3], signature: [-1, 3] });
    concat(parts, all, 0);
  }
  if (c.info(y).dtype !== 'int64') throw new UnsupportedError(`NonMaxSuppression to ${c.info(y).dtype} in a TFLite file`, `node '${n.name}'`);
  c.emit({ code: BuiltinOperator.CAST, inputs: [all], outputs: [y] });
};
