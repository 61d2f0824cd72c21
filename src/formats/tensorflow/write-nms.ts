// ONNX NonMaxSuppression -> TF NonMaxSuppressionV5 (soft_nms_sigma 0, unpadded), one per batch x
// class (static B and C, unrolled), and ONNX's selected_indices [n, 3] int64 assembled from each
// call's indices (their batch and class columns beside them, ConcatV2 in ONNX's order: batch,
// class, score order). TF's CPU kernel (non_max_suppression_op.cc, DoNonMaxSuppressionOp) is ONNX's
// algorithm: scores > score_threshold, ties the lower index first, suppressed at IoU > threshold,
// IoU in float32 from min/max corners (either diagonal order; a box of zero area overlaps nothing).
// center_point_box 1 boxes become corners [cx - w/2, cy - h/2, cx + w/2, cy + h/2] first (x and y
// swapped against TF's [y1, x1, y2, x2] leave every IoU unchanged). Without a score_threshold the
// kernel gets -inf (a score of -inf, which ONNX would still select, is then dropped).
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, type Dim, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { tfDataType } from './data-types.js';
import type { AttrValue } from './graph-def.js';

/** What write-nms needs of the GraphDef writer. */
export interface NmsWriter {
  fresh(base: string): string;
  add(name: string, op: string, input: string[], attr?: Record<string, AttrValue>): string;
  const(base: string, t: Tensor): string;
  int32(base: string, values: number[], scalar?: boolean): string;
  dtype(v: string): Tensor['dtype'];
  shape(v: string): readonly Dim[] | null;
  ref(v: string): string;
  readonly g: { initializers: Map<string, Tensor> };
}

const T = (dtype: Tensor['dtype']): AttrValue => ({ type: tfDataType(dtype) });

export function writeNonMaxSuppression(w: NmsWriter, n: Node, out: string): void {
  const where = `node '${n.name}'`;
  const [boxesIn, scoresIn] = n.inputs as [string, string];
  const bs = w.shape(boxesIn);
  const ss = w.shape(scoresIn);
  // the box count may be known only at run time (boxes left by a score filter or a TopK): TF's kernel takes any N;
  // the batch and class counts are unrolled, so they must be static
  if (!bs || !ss || bs.length !== 3 || ss.length !== 3 || typeof bs[0] !== 'number' || typeof ss[1] !== 'number') throw new UnsupportedError('NonMaxSuppression of boxes or scores of unknown batch or class count in a GraphDef', `${where}: the batch and class counts must be static`);
  const B = bs[0];
  const C = ss[1];
  const sN = typeof bs[1] === 'number' ? bs[1] : typeof ss[2] === 'number' ? ss[2] : undefined;
  const N = sN ?? -1;
  if (bs[2] !== 4 || (typeof ss[0] === 'number' && ss[0] !== B) || (typeof bs[1] === 'number' && typeof ss[2] === 'number' && ss[2] !== bs[1])) throw new UnsupportedError(`NonMaxSuppression with boxes [${bs.join(', ')}] and scores [${ss.join(', ')}] in a GraphDef`, where);
  const f32 = { T: T('float32') };
  const base = n.name || out;
  const scalarF = (name: string, v: number) => w.const(`${base}/${name}`, Tensor.float32([], [v]));
  const reshape = (x: string, name: string, shape: number[], dtype: Tensor['dtype'] = 'float32') => w.add(w.fresh(`${base}/${name}`), 'Reshape', [x, w.int32(`${base}/${name}_shape`, shape)], { T: T(dtype), Tshape: T('int32') });
  const slice = (x: string, name: string, begin: number[], size: number[]) => w.add(w.fresh(`${base}/${name}`), 'Slice', [x, w.int32(`${base}/${name}_begin`, begin), w.int32(`${base}/${name}_size`, size)], { T: T('float32'), Index: T('int32') });
  const constant = (i: number) => (n.inputs[i] ? w.g.initializers.get(n.inputs[i]!) : undefined);
  const present = (i: number) => !!n.inputs[i] && !(constant(i)?.size === 0);

  // max_output_boxes_per_class: absent or constant 0 selects nothing
  let max: string;
  const maxC = constant(2);
  if (!present(2) || maxC) {
    // (a run-time N: the kernel takes a maximum above the box count; INT64_MAX "no limit" is held to int32)
    const m = maxC ? Math.min(maxC.toNumbers()[0]!, sN ?? 2 ** 31 - 1) : 0;
    if (m <= 0) throw new UnsupportedError('NonMaxSuppression that selects nothing (max_output_boxes_per_class 0) in a GraphDef', `${where}: its output would be an empty constant`);
    max = w.int32(`${base}/max_output_size`, [m], true);
  } else {
    // clamped to [0, N] before the int32 cast (an exporter's INT64_MAX "no limit"; a run-time N: to int32's maximum)
    const dt = w.dtype(n.inputs[2]!);
    const lo = w.add(w.fresh(`${base}/max_capped`), 'Minimum', [w.ref(n.inputs[2]!), w.const(`${base}/n`, Tensor.scalar(dt, sN ?? 2 ** 31 - 1))], { T: T(dt) });
    const hi = w.add(w.fresh(`${base}/max_clamped`), 'Maximum', [lo, w.const(`${base}/zero`, Tensor.scalar(dt, 0))], { T: T(dt) });
    const cast = dt === 'int32' ? hi : w.add(w.fresh(`${base}/max_int32`), 'Cast', [hi], { SrcT: T(dt), DstT: T('int32'), Truncate: { b: false } });
    max = reshape(cast, 'max_output_size', [], 'int32');
  }
  let iou: string;
  const iouC = constant(3);
  if (!present(3) || iouC) {
    const t = iouC ? iouC.toNumbers()[0]! : 0;
    if (!(t >= 0 && t <= 1)) throw new UnsupportedError(`NonMaxSuppression with iou_threshold ${t} in a GraphDef`, `${where}: outside [0, 1] (onnxruntime refuses it too)`);
    iou = scalarF('iou_threshold', t);
  } else iou = reshape(w.ref(n.inputs[3]!), 'iou_threshold', []);
  const scoreC = constant(4);
  const score = !present(4) ? scalarF('score_threshold', -Infinity) : scoreC ? scalarF('score_threshold', scoreC.toNumbers()[0]!) : reshape(w.ref(n.inputs[4]!), 'score_threshold', []);
  const sigma = scalarF('soft_nms_sigma', 0);

  let boxes = w.ref(boxesIn);
  if (attrInt(n, 'center_point_box', 0) === 1) {
    const centers = slice(boxes, 'centers', [0, 0, 0], [B, N, 2]);
    const half = w.add(w.fresh(`${base}/half_sizes`), 'Mul', [slice(boxes, 'sizes', [0, 0, 2], [B, N, 2]), scalarF('half', 0.5)], f32);
    const lo = w.add(w.fresh(`${base}/corners_lo`), 'Sub', [centers, half], f32);
    const hi = w.add(w.fresh(`${base}/corners_hi`), 'AddV2', [centers, half], f32);
    boxes = w.add(w.fresh(`${base}/corners`), 'ConcatV2', [lo, hi, w.int32(`${base}/axis2`, [2], true)], { T: T('float32'), N: { i: 2 }, Tidx: T('int32') });
  }
  const i32 = { T: T('int32') };
  const axis1 = w.int32(`${base}/axis1`, [1], true);
  const parts: string[] = [];
  for (let b = 0; b < B; b++) {
    const boxesB = reshape(slice(boxes, `boxes_${b}_3d`, [b, 0, 0], [1, N, 4]), `boxes_${b}`, [N, 4]);
    for (let c = 0; c < C; c++) {
      const scores = reshape(slice(w.ref(scoresIn), `scores_${b}_${c}_3d`, [b, c, 0], [1, 1, N]), `scores_${b}_${c}`, [N]);
      const nms = w.add(w.fresh(`${base}/nms_${b}_${c}`), 'NonMaxSuppressionV5', [boxesB, scores, max, iou, score, sigma], { T: T('float32'), pad_to_max_output_size: { b: false } });
      // [k] box indices -> [k, 3] rows (b, c, box)
      const zeros = w.add(w.fresh(`${base}/zeros_${b}_${c}`), 'Mul', [nms, w.int32(`${base}/zero_i`, [0], true)], i32);
      const column = (v: number, name: string) => w.add(w.fresh(`${base}/${name}_${b}_${c}`), 'ExpandDims', [v ? w.add(w.fresh(`${base}/${name}_${b}_${c}_values`), 'AddV2', [zeros, w.int32(`${base}/${name}_value_${v}`, [v], true)], i32) : zeros, axis1], { T: T('int32'), Tdim: T('int32') });
      const boxCol = w.add(w.fresh(`${base}/box_${b}_${c}`), 'ExpandDims', [nms, axis1], { T: T('int32'), Tdim: T('int32') });
      parts.push(w.add(w.fresh(`${base}/rows_${b}_${c}`), 'ConcatV2', [column(b, 'batch'), column(c, 'class'), boxCol, axis1], { T: T('int32'), N: { i: 3 }, Tidx: T('int32') }));
    }
  }
  const all = parts.length === 1 ? parts[0]! : w.add(w.fresh(`${base}/rows`), 'ConcatV2', [...parts, w.int32(`${base}/axis0`, [0], true)], { T: T('int32'), N: { i: parts.length }, Tidx: T('int32') });
  w.add(out, 'Cast', [all], { SrcT: T('int32'), DstT: T('int64'), Truncate: { b: false } });
}
