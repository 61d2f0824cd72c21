// The TFLite reader's NON_MAX_SUPPRESSION_V4 / V5 (read-nms.ts) on hand-built one-op files (not
// nnport's writer): each file run by the real TFLite interpreter and by nnport (read, reference
// runtime) on the same inputs; selected_indices (padded with zeros to max_output_size), V5's
// selected_scores and valid_outputs must be equal. TFLite suppresses at IoU >= threshold (ONNX at >):
// the cases with IoUs exactly at the threshold check the reader keeps TFLite's answer.
import { describe, expect, it } from 'vitest';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { NonMaxSuppressionV4Options } from '../../../src/formats/generated/tflite/non-max-suppression-v4-options.js';
import { NonMaxSuppressionV5Options } from '../../../src/formats/generated/tflite/non-max-suppression-v5-options.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildOpModel, type OpTensor } from './op-model.js';

const oracle = useTfliteOracle();

interface Case {
  v5: boolean;
  boxes: number[];
  scores: number[];
  max: number;
  iou: number;
  score: number;
  /** the IoU threshold as a graph input (computed at run time) */
  iouInput?: boolean;
  sigma?: number;
}

function fileOf(c: Case): Uint8Array {
  const N = c.scores.length;
  const tensors: OpTensor[] = [
    { shape: [N, 4] },
    { shape: [N] },
    { shape: [], dtype: 'int32', data: [c.max] },
    c.iouInput ? { shape: [] } : { shape: [], data: [c.iou] },
    { shape: [], data: [c.score] },
  ];
  if (c.v5) tensors.push({ shape: [], data: [c.sigma ?? 0] });
  const out = tensors.length;
  tensors.push({ shape: [c.max], dtype: 'int32' });
  if (c.v5) tensors.push({ shape: [c.max] });
  tensors.push({ shape: [], dtype: 'int32' });
  const outputs = c.v5 ? [out, out + 1, out + 2] : [out, out + 1];
  return buildOpModel(tensors, [
    {
      code: c.v5 ? Op.NON_MAX_SUPPRESSION_V5 : Op.NON_MAX_SUPPRESSION_V4,
      inputs: tensors.slice(0, out).map((_, i) => i),
      outputs,
      options: (b) => (c.v5 ? [BuiltinOptions.NonMaxSuppressionV5Options, NonMaxSuppressionV5Options.createNonMaxSuppressionV5Options(b)] : [BuiltinOptions.NonMaxSuppressionV4Options, NonMaxSuppressionV4Options.createNonMaxSuppressionV4Options(b)]),
    },
  ]);
}

async function check(c: Case): Promise<number> {
  const file = fileOf(c);
  const g = await readTflite(file, { fileName: 'nms.tflite' });
  const feeds = [Tensor.float32([c.scores.length, 4], c.boxes), Tensor.float32([c.scores.length], c.scores), ...(c.iouInput ? [Tensor.float32([], [c.iou])] : [])];
  const theirs = await oracle.run(file, feeds.map((t) => t.data as ArrayBufferView));
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, feeds[i]!])));
  expect(theirs).toHaveLength(g.outputs.length);
  g.outputs.forEach((o, i) => {
    const mine = outputs.get(o.name)!;
    expect(mine.shape, o.name).toEqual(theirs[i]!.shape);
    expect(mine.toNumbers(), o.name).toEqual(Array.from(theirs[i]!.data as ArrayLike<number>));
  });
  return theirs[c.v5 ? 2 : 1]!.data[0] as number;
}

function random(seed: number, N: number): Pick<Case, 'boxes' | 'scores'> {
  const r = rng(seed);
  const boxes: number[] = [];
  for (let i = 0; i < N; i++) {
    const [y, x, h, w] = [r() * 50, r() * 50, 4 + r() * 20, 4 + r() * 20];
    boxes.push(...(r() < 0.2 ? [y + h, x + w, y, x] : [y, x, y + h, x + w]));
  }
  return { boxes, scores: Array.from({ length: N }, () => r()) };
}

// box 1 covers half of box 0 (IoU 0.5 exactly), box 2 is disjoint
const EXACT = { boxes: [0, 0, 2, 2, 0, 0, 2, 1, 10, 10, 11, 11], scores: [0.9, 0.8, 0.7] };

describe('TFLite reader: NON_MAX_SUPPRESSION_V4 / V5 against the interpreter', () => {
  it('V4, 80 random boxes, constant thresholds', async () => {
    expect(await check({ v5: false, ...random(21, 80), max: 30, iou: 0.4, score: 0.2 })).toBeGreaterThan(10);
  });

  it('V5 (soft_nms_sigma 0) with selected_scores, and fewer selections than max_output_size (zero padding)', async () => {
    expect(await check({ v5: true, ...random(22, 40), max: 40, iou: 0.3, score: 0.5 })).toBeLessThan(40);
  });

  it('IoU exactly at the threshold: TFLite suppresses it (>=), constant and run-time threshold', async () => {
    for (const iouInput of [false, true]) expect(await check({ v5: false, ...EXACT, max: 3, iou: 0.5, score: 0, iouInput })).toBe(2);
    expect(await check({ v5: false, ...EXACT, max: 3, iou: Math.fround(0.5 + 2 ** -24), score: 0, iouInput: true })).toBe(3);
  });

  it('soft-NMS and a constant iou_threshold of 0 are refused by name', async () => {
    await expect(readTflite(fileOf({ v5: true, ...EXACT, max: 3, iou: 0.5, score: 0, sigma: 0.5 }))).rejects.toThrow(/soft-NMS/);
    await expect(readTflite(fileOf({ v5: false, ...EXACT, max: 3, iou: 0, score: 0 }))).rejects.toThrow(UnsupportedError);
  });
});
