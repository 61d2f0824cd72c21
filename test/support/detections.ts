// The detection fixtures of scripts/fixtures/detection_models.py (PyTorch's boxes / scores / labels
// of a score-filter + NMS module and torchvision's detectors on a photo) and the comparison of a
// converted model's detections with them, shared by the GraphDef / TF.js and TFLite tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/formats/numpy/index.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { maxAbsDiff } from './error-metrics.js';
import { ensureScriptFixtures } from './fixture-script.js';

export const DETECTION_NETS = ['score_nms', 'ssdlite', 'frcnn', 'retinanet'] as const;

const npy = (path: string): Tensor => readNpy(new Uint8Array(readFileSync(path)));

/** The net's fixture folder (model.onnx, its inputs and PyTorch's outputs), made when missing or stale. */
export function detectionDir(net: string): string {
  return join(ensureScriptFixtures('detection_models.py', 'detection-models', DETECTION_NETS), net);
}

/** The net's inputs in the ONNX model's order. */
export function detectionInputs(net: string): Tensor[] {
  const dir = detectionDir(net);
  return net === 'score_nms' ? [npy(join(dir, 'boxes_in.npy')), npy(join(dir, 'scores_in.npy'))] : [npy(join(dir, 'image.npy'))];
}

/** PyTorch's boxes [n, 4], scores [n] and labels [n]. */
export function pytorchDetections(net: string): Tensor[] {
  return ['boxes', 'scores', 'labels'].map((o) => npy(join(detectionDir(net), `${o}.npy`)));
}

export interface DetectionMatch {
  /** for each of PyTorch's rows, the target's row it is compared with */
  rows: number[];
  /** rows placed elsewhere within runs of near-equal scores */
  swapped: number;
  boxesMaxAbs: number;
  scoresMaxAbs: number;
  /** the target's labels in PyTorch's row order */
  labels: number[];
}

/**
 * The target's detections against PyTorch's, row for row, except that where PyTorch's scores of
 * neighbouring rows are within 1e-5 (float32 roundings apart: another runtime may order them either
 * way) the rows of that run are matched by label and box.
 */
export function matchDetections(boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>, want: Tensor[]): DetectionMatch {
  const ws = want[1]!.toFloat32();
  const wb = want[0]!.toFloat32();
  const wl = want[2]!.toNumbers();
  const gb = Float32Array.from(boxes);
  const gl = Array.from(labels, Number);
  const rows: number[] = [];
  let swapped = 0;
  for (let i = 0; i < ws.length; ) {
    let j = i + 1;
    while (j < ws.length && Math.abs(ws[j]! - ws[j - 1]!) < 1e-5) j++;
    const free = new Set(Array.from({ length: j - i }, (_, k) => i + k));
    for (let r = i; r < j; r++) {
      let best = r;
      let bestD = Infinity;
      for (const c of free) {
        const d = gl[c] === wl[r] ? maxAbsDiff(gb.subarray(4 * c, 4 * c + 4), wb.subarray(4 * r, 4 * r + 4)) : Infinity;
        if (d < bestD) [best, bestD] = [c, d];
      }
      free.delete(best);
      rows.push(best);
      if (best !== r) swapped++;
    }
    i = j;
  }
  return {
    rows,
    swapped,
    boxesMaxAbs: maxAbsDiff(rows.flatMap((r) => Array.from(gb.subarray(4 * r, 4 * r + 4))), wb),
    scoresMaxAbs: maxAbsDiff(rows.map((r) => scores[r]!), ws),
    labels: rows.map((r) => gl[r]!),
  };
}

/** Pasted masks against the reference's: how many pixels differ by more than `tol`, and the mean |difference|. */
export function maskAgreement(got: ArrayLike<number>, want: ArrayLike<number>, tol = 0.05): { off: number; meanAbs: number } {
  let off = 0;
  let sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    sum += d;
    if (d > tol) off++;
  }
  return { off, meanAbs: sum / want.length };
}

/** Detections as boxes [n, 4] (x1, y1, x2, y2) and labels, best first. */
export interface Detections {
  boxes: Float32Array;
  labels: ArrayLike<number>;
}

const iou = (a: Float32Array, i: number, b: Float32Array, j: number): number => {
  const [x1, y1, x2, y2] = a.subarray(4 * i, 4 * i + 4);
  const [u1, v1, u2, v2] = b.subarray(4 * j, 4 * j + 4);
  const inter = Math.max(0, Math.min(x2!, u2!) - Math.max(x1!, u1!)) * Math.max(0, Math.min(y2!, v2!) - Math.max(y1!, v1!));
  return inter / ((x2! - x1!) * (y2! - y1!) + (u2! - u1!) * (v2! - v1!) - inter);
};

/** Of the first `top` detections of `want` (by score), how many `got` has a same-label box of IoU >= 0.5 for, and their mean IoU. */
export function agreement(want: Detections, got: Detections, top: number): { matched: number; meanIou: number } {
  let matched = 0;
  let sum = 0;
  for (let i = 0; i < Math.min(top, want.labels.length); i++) {
    let best = 0;
    for (let j = 0; j < got.labels.length; j++) if (Number(got.labels[j]) === Number(want.labels[i])) best = Math.max(best, iou(want.boxes, i, got.boxes, j));
    if (best >= 0.5) {
      matched++;
      sum += best;
    }
  }
  return { matched, meanIou: sum / Math.max(matched, 1) };
}
