// The layers of Caffe SSD (weiliu89/caffe, branch ssd) that detection nets such as MobileNet-SSD
// end with. PriorBox depends only on shapes, so its top is a constant computed here the way
// Caffe's PriorBoxLayer::Forward_cpu does (float32 steps). DetectionOutput is lowered to ONNX
// ops: decode the boxes from the priors, per class the top_k best scores, NonMaxSuppression,
// then keep_top_k over all classes, giving Caffe's [1, 1, N, 7] rows (image, label, score,
// xmin, ymin, xmax, ymax) ordered by label, then score.
import type { Attr } from '../../ir/graph.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import type { LayerContext } from './ops.js';
import { bool, has, num, nums, sub, type Message } from './schema.js';

const f32 = Math.fround;
const int = (value: number): Attr => ({ type: 'int', value });
const i64 = (values: number[]): Tensor => Tensor.int64([values.length], values);

/** DetectionOutput's top has as many rows as there are detections: a dim only known when run. */
export const DETECTIONS_DIM = -1;

/** The priors a PriorBox layer makes: [1, 2, H * W * numPriors * 4] (boxes, then variances). */
export function priorBoxValues(
  c: Pick<LayerContext, 'fail' | 'unsupported' | 'take'>,
  p: Message,
  feature: number[],
  image: number[],
): { data: Float32Array; shape: number[] } {
  if (feature.length !== 4 || image.length !== 4) c.fail(`needs 4-D bottoms (the feature map and the image), got [${feature.join(', ')}] and [${image.join(', ')}]`);
  const minSizes = nums(p, 'min_size');
  const maxSizes = nums(p, 'max_size');
  if (!minSizes.length) c.fail('prior_box_param needs min_size');
  for (const m of minSizes) if (!(m > 0)) c.fail(`min_size ${m} must be positive`);
  if (maxSizes.length && maxSizes.length !== minSizes.length) c.fail(`${maxSizes.length} max_size(s) for ${minSizes.length} min_size(s)`);
  maxSizes.forEach((m, i) => {
    if (!(m > minSizes[i]!)) c.fail(`max_size ${m} must be larger than min_size ${minSizes[i]}`);
  });
  // Aspect ratio 1 first, then each new ratio (and its inverse when flipped).
  const ratios = [1];
  for (const ar of nums(p, 'aspect_ratio')) {
    if (!(ar > 0)) c.fail(`aspect_ratio ${ar} must be positive`);
    if (ratios.some((r) => Math.abs(ar - r) < 1e-6)) continue;
    ratios.push(ar);
    if (bool(p, 'flip')) ratios.push(f32(1 / ar));
  }
  const numPriors = ratios.length * minSizes.length + maxSizes.length;
  let variance = nums(p, 'variance');
  if (variance.length > 1 && variance.length !== 4) c.fail(`variance has ${variance.length} values; give 1 or 4`);
  for (const v of variance) if (!(v > 0)) c.fail(`variance ${v} must be positive`);
  if (!variance.length) variance = [0.1];
  const pair = (single: string, h: string, w: string): [number, number] => {
    if (has(p, h) || has(p, w)) {
      if (has(p, single)) c.fail(`give either ${single} or ${h}/${w}, not both`);
      const vh = num(p, h);
      const vw = num(p, w);
      if (!(vh > 0) || !(vw > 0)) c.fail(`${h} and ${w} must both be positive, got ${vh} and ${vw}`);
      return [vh, vw];
    }
    if (has(p, single)) {
      const v = num(p, single);
      if (!(v > 0)) c.fail(`${single} ${v} must be positive`);
      return [v, v];
    }
    return [0, 0];
  };
  const [imgH0, imgW0] = pair('img_size', 'img_h', 'img_w');
  const [stepH0, stepW0] = pair('step', 'step_h', 'step_w');
  const layerH = feature[2]!;
  const layerW = feature[3]!;
  const imgH = imgH0 && imgW0 ? imgH0 : image[2]!;
  const imgW = imgH0 && imgW0 ? imgW0 : image[3]!;
  const stepH = stepH0 && stepW0 ? f32(stepH0) : f32(imgH / layerH);
  const stepW = stepH0 && stepW0 ? f32(stepW0) : f32(imgW / layerW);
  const offset = f32(num(p, 'offset'));
  const dim = layerH * layerW * numPriors * 4;
  c.take(2 * dim * 4, `${2 * dim} prior values`);
  const out = new Float32Array(2 * dim);
  let k = 0;
  const box = (cx: number, cy: number, bw: number, bh: number): void => {
    out[k++] = (cx - bw / 2) / imgW;
    out[k++] = (cy - bh / 2) / imgH;
    out[k++] = (cx + bw / 2) / imgW;
    out[k++] = (cy + bh / 2) / imgH;
  };
  for (let h = 0; h < layerH; h++) {
    for (let w = 0; w < layerW; w++) {
      const cx = f32(f32(w + offset) * stepW);
      const cy = f32(f32(h + offset) * stepH);
      minSizes.forEach((minSize, s) => {
        box(cx, cy, minSize, minSize);
        if (maxSizes.length) {
          const size = f32(Math.sqrt(f32(minSize * maxSizes[s]!)));
          box(cx, cy, size, size);
        }
        for (const ar of ratios) {
          if (Math.abs(ar - 1) < 1e-6) continue;
          const r = f32(Math.sqrt(ar));
          box(cx, cy, f32(minSize * r), f32(minSize / r));
        }
      });
    }
  }
  if (bool(p, 'clip')) for (let i = 0; i < dim; i++) out[i] = Math.min(Math.max(out[i]!, 0), 1);
  for (let i = 0; i < dim; i++) out[dim + i] = variance.length === 1 ? variance[0]! : variance[i % 4]!;
  return { data: out, shape: [1, 2, dim] };
}

export function priorBox(c: LayerContext): void {
  if (c.bottoms.length !== 2) c.fail(`takes 2 bottoms (the feature map and the image), has ${c.bottoms.length}`);
  const { data, shape } = priorBoxValues(c, c.p('prior_box_param'), c.bottoms[0]!.shape, c.bottoms[1]!.shape);
  // A constant: nothing of the bottoms but their shapes is used.
  const priors = c.constant('priors', new Tensor('float32', shape, data));
  c.setTop(0, c.node('Identity', [priors], {}, c.topName(0)), shape);
}

/** CodeType values of caffe.PriorBoxParameter. */
const CORNER = 1;
const CENTER_SIZE = 2;
const CORNER_SIZE = 3;

export function detectionOutput(c: LayerContext): void {
  if (c.bottoms.length !== 3) c.fail(`takes 3 bottoms (locations, confidences, priors), has ${c.bottoms.length}`);
  const [loc, conf, prior] = [c.bottoms[0]!, c.bottoms[1]!, c.bottoms[2]!];
  const p = c.p('detection_output_param');
  const numClasses = num(p, 'num_classes');
  if (!has(p, 'num_classes') || numClasses < 1) c.fail('detection_output_param needs num_classes');
  if (!bool(p, 'share_location')) c.unsupported('Caffe DetectionOutput with share_location false');
  const nms = sub(p, 'nms_param');
  const nmsThreshold = nms ? num(nms, 'nms_threshold') : 0.3;
  if (nmsThreshold < 0) c.fail(`nms_threshold ${nmsThreshold} must not be negative`);
  const topK = nms && has(nms, 'top_k') ? num(nms, 'top_k') : -1;
  const eta = nms ? num(nms, 'eta') : 1;
  if (!(eta > 0 && eta <= 1)) c.fail(`eta ${eta} must be in (0, 1]`);
  if (eta !== 1) c.unsupported('Caffe DetectionOutput with adaptive NMS (eta < 1)');
  const code = num(p, 'code_type');
  if (code === CORNER_SIZE) c.unsupported('Caffe DetectionOutput code_type CORNER_SIZE');
  if (code !== CORNER && code !== CENTER_SIZE) c.fail(`unknown code_type ${code}`);
  const varianceInTarget = bool(p, 'variance_encoded_in_target');
  const keepTopK = num(p, 'keep_top_k');
  const background = num(p, 'background_label_id');
  const threshold = has(p, 'confidence_threshold') ? num(p, 'confidence_threshold') : undefined;

  const batch = loc.shape[0]!;
  if (conf.shape[0] !== batch) c.fail(`locations have ${batch} image(s), confidences ${conf.shape[0]}`);
  if (batch !== 1) c.unsupported('Caffe DetectionOutput on a batch of more than one image');
  if (prior.shape.length !== 3 || prior.shape[1] !== 2 || prior.shape[2]! % 4) c.fail(`priors must be [1, 2, 4 * priors], got [${prior.shape.join(', ')}]`);
  const P = prior.shape[2]! / 4;
  if (shapeSize(loc.shape.slice(1)) !== P * 4) c.fail(`${P} priors need ${P * 4} location values per image, got [${loc.shape.join(', ')}]`);
  if (shapeSize(conf.shape.slice(1)) !== P * numClasses) c.fail(`${P} priors and ${numClasses} classes need ${P * numClasses} confidences per image, got [${conf.shape.join(', ')}]`);
  c.take(numClasses * 8, `${numClasses} class labels`);
  const labels: number[] = [];
  for (let l = 0; l < numClasses; l++) if (l !== background) labels.push(l);
  const F = labels.length;
  const K = topK < 0 ? P : Math.min(topK, P);
  if (!F || !K) c.unsupported('Caffe DetectionOutput that can detect nothing (no class or top_k 0)');

  const k = (s: string, t: Tensor) => c.constant(s, t);
  const slice = (x: string, from: number, to: number, tag: string) => c.node('Slice', [x, k(`${tag}_starts`, i64([from])), k(`${tag}_ends`, i64([to])), k(`${tag}_axes`, i64([1]))], {}, c.temp(tag));
  const bin = (op: string, a: string, b: string, tag: string) => c.node(op, [a, b], {}, c.temp(tag));

  // Decode every prior's box from its location offsets (Caffe's DecodeBBox).
  const loc4 = c.node('Reshape', [loc.name, k('loc_shape', i64([P, 4]))], {}, c.temp('loc'));
  const pri = c.node('Reshape', [prior.name, k('prior_shape', i64([2, P, 4]))], {}, c.temp('prior_pairs'));
  const pbox = c.node('Gather', [pri, k('box_row', Tensor.int64([], [0]))], { axis: int(0) }, c.temp('prior_boxes'));
  const pvar = c.node('Gather', [pri, k('variance_row', Tensor.int64([], [1]))], { axis: int(0) }, c.temp('prior_variances'));
  const scaled = (x: string, v: string, tag: string) => (varianceInTarget ? x : bin('Mul', v, x, tag));
  let boxes: string;
  if (code === CORNER) {
    boxes = bin('Add', pbox, scaled(loc4, pvar, 'loc_scaled'), 'boxes');
  } else {
    const pmin = slice(pbox, 0, 2, 'prior_min');
    const pmax = slice(pbox, 2, 4, 'prior_max');
    const psize = bin('Sub', pmax, pmin, 'prior_size');
    const half = k('half', Tensor.float32([], [0.5]));
    const pcenter = bin('Mul', bin('Add', pmin, pmax, 'prior_corner_sum'), half, 'prior_center');
    const lxy = slice(loc4, 0, 2, 'loc_center');
    const lwh = slice(loc4, 2, 4, 'loc_size');
    const center = bin('Add', bin('Mul', scaled(lxy, slice(pvar, 0, 2, 'variance_center'), 'loc_center_scaled'), psize, 'center_offset'), pcenter, 'center');
    const size = bin('Mul', c.node('Exp', [scaled(lwh, slice(pvar, 2, 4, 'variance_size'), 'loc_size_scaled')], {}, c.temp('size_factor')), psize, 'size');
    const halfSize = bin('Mul', size, half, 'half_size');
    boxes = c.node('Concat', [bin('Sub', center, halfSize, 'box_min'), bin('Add', center, halfSize, 'box_max')], { axis: int(1) }, c.temp('boxes'));
  }

  // Per foreground class, its top_k best priors (Caffe sorts by score before NMS and keeps top_k).
  const conf2 = c.node('Reshape', [conf.name, k('conf_shape', i64([P, numClasses]))], {}, c.temp('conf'));
  const byClass = c.node('Transpose', [conf2], { perm: { type: 'ints', value: [1, 0] } }, c.temp('conf_by_class'));
  const fg = F === numClasses ? byClass : c.node('Gather', [byClass, k('foreground', i64(labels))], { axis: int(0) }, c.temp('conf_foreground'));
  const [best, bestIdx] = c.nodeOutputs('TopK', [fg, k('top_k', i64([K]))], [c.temp('best_scores'), c.temp('best_priors')], { axis: int(1) }) as [string, string];
  // Caffe's IoU is 0 for a box with xmax < xmin or ymax < ymin (CORNER offsets can invert one):
  // NMS sees such a box as empty (max corner clamped to the min one), which overlaps nothing.
  const boxMin = slice(boxes, 0, 2, 'nms_min');
  const nmsBoxes = c.node('Concat', [boxMin, bin('Max', boxMin, slice(boxes, 2, 4, 'nms_max'), 'nms_max_clamped')], { axis: int(1) }, c.temp('nms_boxes'));
  const candBoxes = c.node('Gather', [nmsBoxes, bestIdx], { axis: int(0) }, c.temp('candidate_boxes'));
  const candScores = c.node('Unsqueeze', [best, k('class_axis', i64([1]))], {}, c.temp('candidate_scores'));
  // One NMS batch per class: boxes [F, K, 4] (corners; IoU is the same whichever axis is first).
  const nmsInputs = [candBoxes, candScores, k('max_per_class', i64([K])), k('iou_threshold', Tensor.float32([1], [nmsThreshold]))];
  if (threshold !== undefined) nmsInputs.push(k('score_threshold', Tensor.float32([1], [threshold])));
  const selected = c.node('NonMaxSuppression', nmsInputs, { center_point_box: int(0) }, c.temp('selected'));
  const column = (j: number, tag: string) => c.node('Gather', [selected, k(`${tag}_column`, Tensor.int64([], [j]))], { axis: int(1) }, c.temp(tag));
  const cls = column(0, 'class_index');
  const flat = bin('Add', bin('Mul', cls, k('k', Tensor.int64([], [K])), 'class_offset'), column(2, 'candidate_index'), 'flat_index');
  let score = c.node('Gather', [c.node('Reshape', [best, k('flat_shape', i64([F * K]))], {}, c.temp('best_flat')), flat], { axis: int(0) }, c.temp('score'));
  const priorIdx = c.node('Gather', [c.node('Reshape', [bestIdx, k('flat_shape_idx', i64([F * K]))], {}, c.temp('best_priors_flat')), flat], { axis: int(0) }, c.temp('prior_index'));
  let box = c.node('Gather', [boxes, priorIdx], { axis: int(0) }, c.temp('box'));
  let label = c.node('Gather', [k('labels', Tensor.float32([F], labels)), cls], { axis: int(0) }, c.temp('label'));
  if (keepTopK > -1) {
    // The keep_top_k best over all classes, in the order NMS gave them (by class, then score).
    const count = c.node('Shape', [score], {}, c.temp('count'));
    const keep = bin('Min', count, k('keep_top_k', i64([keepTopK])), 'keep');
    const [, byScore] = c.nodeOutputs('TopK', [score, keep], [c.temp('kept_scores'), c.temp('kept_by_score')], { axis: int(0) }) as [string, string];
    const asFloat = c.node('Cast', [byScore], { to: int(1) }, c.temp('kept_as_float'));
    const [inOrder] = c.nodeOutputs('TopK', [asFloat, keep], [c.temp('kept_in_order'), c.temp('kept_order_index')], { axis: int(0), largest: int(0) }) as [string, string];
    const rows = c.node('Cast', [inOrder], { to: int(7) }, c.temp('kept'));
    score = c.node('Gather', [score, rows], { axis: int(0) }, c.temp('kept_score'));
    box = c.node('Gather', [box, rows], { axis: int(0) }, c.temp('kept_box'));
    label = c.node('Gather', [label, rows], { axis: int(0) }, c.temp('kept_label'));
  }
  const col = (x: string, tag: string) => c.node('Unsqueeze', [x, k(`${tag}_axis`, i64([1]))], {}, c.temp(tag));
  const labelCol = col(label, 'label_column');
  const image = bin('Mul', labelCol, k('zero', Tensor.float32([], [0])), 'image_column');
  const rows = c.node('Concat', [image, labelCol, col(score, 'score_column'), box], { axis: int(1) }, c.temp('rows'));
  // No detection: Caffe outputs one row [image, -1, -1, -1, -1, -1, -1].
  const withEmpty = c.node('Concat', [rows, k('empty_row', Tensor.float32([1, 7], [0, -1, -1, -1, -1, -1, -1]))], { axis: int(0) }, c.temp('rows_or_empty'));
  const n = c.node('Shape', [score], {}, c.temp('detections'));
  const none = c.node('Cast', [c.node('Equal', [n, k('no_rows', i64([0]))], {}, c.temp('is_empty'))], { to: int(7) }, c.temp('empty'));
  const end = bin('Add', n, none, 'row_count');
  const out = c.node('Slice', [withEmpty, k('row_start', i64([0])), end, k('row_axis', i64([0]))], {}, c.temp('output_rows'));
  c.setTop(0, c.node('Reshape', [out, k('out_shape', i64([1, 1, -1, 7]))], {}, c.topName(0)), [1, 1, DETECTIONS_DIM, 7]);
}
