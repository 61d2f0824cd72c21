// NonMaxSuppression (ONNX opset 10/11): per batch and class, the boxes above score_threshold in
// descending score order (ties: the lower index first), each kept unless its IoU with an
// already kept box exceeds iou_threshold, at most max_output_boxes_per_class of them. Areas
// and IoU are computed in float32 steps, as onnxruntime and Caffe do.
import { ShapeError } from '../../ir/errors.js';
import { detectionDefs, type NonMaxSuppressionAttrs } from '../../ir/ops/detection.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, readInts, readNumbers, readScalar } from './args.js';

const f32 = Math.fround;

/** Box i as [xmin, ymin, xmax, ymax] in float32. */
function corners(b: ArrayLike<number>, i: number, centerPointBox: number): [number, number, number, number] {
  const o = i * 4;
  if (centerPointBox) {
    const hw = f32(b[o + 2]! / 2);
    const hh = f32(b[o + 3]! / 2);
    return [f32(b[o]! - hw), f32(b[o + 1]! - hh), f32(b[o]! + hw), f32(b[o + 1]! + hh)];
  }
  // [y1, x1, y2, x2], either diagonal pair
  const [y1, x1, y2, x2] = [b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!];
  return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
}

function suppresses(a: [number, number, number, number], b: [number, number, number, number], iouThreshold: number): boolean {
  const ix0 = Math.max(a[0], b[0]);
  const ix1 = Math.min(a[2], b[2]);
  if (ix1 <= ix0) return false;
  const iy0 = Math.max(a[1], b[1]);
  const iy1 = Math.min(a[3], b[3]);
  if (iy1 <= iy0) return false;
  const inter = f32(f32(ix1 - ix0) * f32(iy1 - iy0));
  if (inter <= 0) return false;
  const areaA = f32(f32(a[2] - a[0]) * f32(a[3] - a[1]));
  const areaB = f32(f32(b[2] - b[0]) * f32(b[3] - b[1]));
  const union = f32(f32(areaA + areaB) - inter);
  if (areaA <= 0 || areaB <= 0 || union <= 0) return false;
  return f32(inter / union) > iouThreshold;
}

export function nonMaxSuppression(
  boxes: Tensor,
  scores: Tensor,
  maxPerClass: number,
  iouThreshold: number,
  scoreThreshold: number | undefined,
  centerPointBox: number,
): Tensor {
  if (boxes.rank !== 3 || boxes.shape[2] !== 4) throw new ShapeError(`NonMaxSuppression boxes must be [batches, boxes, 4], got [${boxes.shape.join(', ')}]`);
  if (scores.rank !== 3) throw new ShapeError(`NonMaxSuppression scores must be [batches, classes, boxes], got [${scores.shape.join(', ')}]`);
  const [B, N] = boxes.shape as [number, number];
  const [SB, C, SN] = scores.shape as [number, number, number];
  if (SB !== B || SN !== N) throw new ShapeError(`NonMaxSuppression scores [${scores.shape.join(', ')}] do not match boxes [${boxes.shape.join(', ')}]`);
  const bd = readNumbers(boxes, 'NonMaxSuppression boxes');
  const sd = readNumbers(scores, 'NonMaxSuppression scores');
  const out: number[] = [];
  if (maxPerClass > 0) {
    for (let b = 0; b < B; b++) {
      const bb = bd.slice(b * N * 4, (b + 1) * N * 4);
      const box = (i: number) => corners(bb, i, centerPointBox);
      for (let c = 0; c < C; c++) {
        const base = (b * C + c) * N;
        const order: number[] = [];
        for (let i = 0; i < N; i++) if (scoreThreshold === undefined || sd[base + i]! > scoreThreshold) order.push(i);
        order.sort((i, j) => sd[base + j]! - sd[base + i]! || i - j);
        const kept: [number, number, number, number][] = [];
        for (const i of order) {
          if (kept.length >= maxPerClass) break;
          const bi = box(i);
          if (kept.some((k) => suppresses(bi, k, iouThreshold))) continue;
          kept.push(bi);
          out.push(b, c, i);
        }
      }
    }
  }
  return Tensor.int64([out.length / 3, 3], out);
}

export const detectionOps: OpTable = {
  NonMaxSuppression: defineOp<NonMaxSuppressionAttrs>({
    attrs: detectionDefs.NonMaxSuppression.attrs,
    run: (inputs, a) => {
      const max = inputs[2] && inputs[2].size ? readInts(inputs[2], 'NonMaxSuppression max_output_boxes_per_class')[0]! : 0;
      const iou = inputs[3] && inputs[3].size ? readScalar(inputs[3], 'NonMaxSuppression iou_threshold') : 0;
      const score = inputs[4] && inputs[4].size ? readScalar(inputs[4], 'NonMaxSuppression score_threshold') : undefined;
      return [nonMaxSuppression(need(inputs, 0, 'boxes'), need(inputs, 1, 'scores'), max, f32(iou), score === undefined ? undefined : f32(score), a.centerPointBox)];
    },
  }),
};
