// TFLite NON_MAX_SUPPRESSION_V4 / V5 -> IR: one class of boxes [N, 4] and scores [N] through ONNX
// NonMaxSuppression ([1, N, 4] and [1, 1, N]), its third column (the box) padded with zeros to
// max_output_size as TFLite's selected_indices is, and the count as valid_outputs.
// - TFLite suppresses at iou >= threshold, ONNX at iou > threshold: a constant threshold t > 0 is
//   read as the float32 just below it (iou >= t <=> iou > prevDown(t)); a computed one becomes
//   t - t * 1.25 * 2^-24 in the graph, which rounds to that float32 too. At t <= 0 TFLite's kernel
//   also suppresses disjoint boxes (IoU 0), ONNX never does: a constant such threshold is refused.
// - both keep score > score_threshold (strictly).
// - equal scores: TFLite's kernel pops them in its priority queue's heap order, ONNX (and so the
//   read model) takes the lower index first; files nnport writes never hold ties (write-nms.ts).
// - V5's soft-NMS (sigma > 0) decays scores instead: refused; sigma 0 is V4 plus selected_scores.
// - quantized boxes or scores (the kernel's integer IoU arithmetic) are refused.
import { UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { int, moveData, outName, outTensor, tensor, type Converter } from './ops.js';
import type { OpContext } from './read.js';

/** The largest float32 below the float32 `t` (t > 0). */
function prevDownF32(t: number): number {
  const f = new Float32Array([t]);
  const i = new Int32Array(f.buffer);
  i[0] = i[0]! - 1;
  return f[0]!;
}

/** A scalar input reshaped to ONNX's [1], cast to `to` (an ONNX type) when it is another. */
function asOne(c: OpContext, i: number, base: string, to?: number): string {
  const t = tensor(c, i);
  let v = t.name;
  if (to !== undefined) {
    v = c.b.fresh(`${base}_cast`);
    c.b.node('Cast', [t.name], [v], { to: int(to) });
  }
  const y = c.b.fresh(base);
  c.b.node('Reshape', [v, c.b.int64s([1], 'shape_1')], [y]);
  return y;
}

const nms =
  (v5: boolean): Converter =>
  (c) => {
    const name = outName(c);
    for (let i = 0; i < (v5 ? 6 : 5); i++) if (tensor(c, i).quant) throw new UnsupportedError(`quantized TFLite ${c.opName}`, `'${name}': its integer IoU arithmetic is not ONNX's`);
    if (v5) {
      const sigma = tensor(c, 5);
      if (!sigma.data || sigma.data.toNumbers()[0] !== 0) throw new UnsupportedError(`TFLite ${c.opName} with soft-NMS (a ${sigma.data ? 'non-zero' : 'computed'} soft_nms_sigma)`, `'${name}': ONNX NonMaxSuppression suppresses, it does not decay scores`);
    }
    const boxes = tensor(c, 0);
    const scores = tensor(c, 1);
    const b3 = c.b.fresh(`${name}_boxes`);
    c.b.node('Reshape', [boxes.name, c.b.int64s([1, -1, 4], 'shape_1_n_4')], [b3]);
    const s3 = c.b.fresh(`${name}_scores`);
    c.b.node('Reshape', [scores.name, c.b.int64s([1, 1, -1], 'shape_1_1_n')], [s3]);
    const maxT = tensor(c, 2);
    const max = maxT.data ? c.b.int64s([maxT.data.toNumbers()[0]!], `${name}_max`) : asOne(c, 2, `${name}_max`, 7);
    const iouT = tensor(c, 3);
    let iou: string;
    if (iouT.data) {
      const t = Math.fround(iouT.data.toNumbers()[0]!);
      if (!(t > 0)) throw new UnsupportedError(`TFLite ${c.opName} with iou_threshold ${t}`, `'${name}': TFLite's kernel then suppresses disjoint boxes too (IoU 0 >= ${t}), ONNX NonMaxSuppression never does`);
      iou = c.b.constant(Tensor.float32([1], [prevDownF32(t)]), `${name}_iou_threshold`);
    } else {
      // t = (1 + m) 2^e: the float32 below is 2^(e-24) under a power of two, 2^(e-23) else; the step
      // t * 1.25 * 2^-24 is 1.25 of the first and in [0.625, 1.25) of the second, so t - step rounds to it
      const t = asOne(c, 3, `${name}_iou`);
      const step = c.b.fresh(`${name}_iou_step`);
      c.b.node('Mul', [t, c.b.float(1.25 * 2 ** -24, 'ulp_step')], [step]);
      iou = c.b.fresh(`${name}_iou_threshold`);
      c.b.node('Sub', [t, step], [iou]);
    }
    const score = asOne(c, 4, `${name}_score_threshold`);
    const sel = c.b.fresh(`${name}_selected`);
    c.b.node('NonMaxSuppression', [b3, s3, max, iou, score], [sel], { center_point_box: int(0) });
    const col = c.b.fresh(`${name}_box_column`);
    c.b.node('Gather', [sel, c.b.constant(Tensor.int64([], [2]), 'const_2')], [col], { axis: int(1) });
    // valid_outputs: the row count
    const count = c.b.fresh(`${name}_count`);
    c.b.node('Shape', [col], [count]);
    const count0 = c.b.fresh(`${name}_count_scalar`);
    c.b.node('Reshape', [count, c.b.int64s([], 'shape_scalar')], [count0]);
    const validOut = outTensor(c, v5 ? 2 : 1);
    c.b.node('Cast', [count0], [validOut.name], { to: int(6) });
    // selected_indices (and V5's selected_scores) padded with zeros to max_output_size
    const missing = c.b.fresh(`${name}_padding`);
    c.b.node('Sub', [max, count], [missing]);
    const pads = c.b.fresh(`${name}_pads`);
    c.b.node('Concat', [c.b.int64s([0], 'const_0'), missing], [pads], { axis: int(0) });
    const padded = c.b.fresh(`${name}_padded`);
    c.b.node('Pad', [col, pads], [padded]);
    c.b.node('Cast', [padded], [outTensor(c, 0).name], { to: int(6) });
    if (v5) {
      const picked = c.b.fresh(`${name}_picked_scores`);
      c.b.node('Gather', [scores.name, col], [picked], { axis: int(0) });
      c.b.node('Pad', [picked, pads], [outTensor(c, 1).name]);
    }
  };

export const nonMaxSuppressionV4 = nms(false);
export const nonMaxSuppressionV5 = nms(true);

/**
 * SLICE with a computed begin or size (write-nms.ts cuts each class's selection to its run-time
 * count so): ONNX Slice with computed starts and ends, a size -1 reaching to the end of the dim.
 */
export const sliceComputed: Converter = (c) => {
  const name = outName(c);
  const int64Of = (i: number, base: string): string => {
    const t = tensor(c, i);
    if (t.dtype === 'int64') return t.name;
    const y = c.b.fresh(`${name}_${base}`);
    c.b.node('Cast', [t.name], [y], { to: int(7) });
    return y;
  };
  const starts = int64Of(1, 'begin');
  const size = int64Of(2, 'size');
  const sum = c.b.fresh(`${name}_end`);
  c.b.node('Add', [starts, size], [sum]);
  const toEnd = c.b.fresh(`${name}_to_end`);
  c.b.node('Equal', [size, c.b.constant(Tensor.int64([], [-1]), 'const_minus_1')], [toEnd]);
  const ends = c.b.fresh(`${name}_ends`);
  c.b.node('Where', [toEnd, c.b.constant(Tensor.int64([], [2 ** 53 - 1]), 'const_big'), sum], [ends]);
  moveData(c, (x, y) => void c.b.node('Slice', [x, starts, ends], [y]));
};
