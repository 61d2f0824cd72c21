// ONNX NonMaxSuppression written to a GraphDef (write-nms.ts: TF NonMaxSuppressionV5 per batch x
// class) on a detection-sized input, run by the NumPy runner (scripts/fixtures/tf_numpy_run.py, TF's
// CPU kernel semantics), against onnxruntime running the ONNX model: selected_indices equal, row for
// row. (TF has no run here; the runner's one input carries boxes and scores side by side.)
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { runOrt } from '../onnx/ort-helpers.js';
import { pythonRun } from './python-runs.js';

function nmsGraph(N: number, C: number, centerPointBox: number, params: { max: number; iou: number; score?: number }): Graph {
  const inits: [string, Tensor][] = [
    ['box_starts', Tensor.int64([3], [0, 0, 0])],
    ['box_ends', Tensor.int64([3], [1, N, 4])],
    ['score_starts', Tensor.int64([3], [0, 0, 4])],
    ['score_ends', Tensor.int64([3], [1, N, 4 + C])],
    ['max', Tensor.int64([1], [params.max])],
    ['iou', Tensor.float32([1], [params.iou])],
  ];
  if (params.score !== undefined) inits.push(['score', Tensor.float32([1], [params.score])]);
  return {
    name: 'nms',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, N, 4 + C] }],
    outputs: [{ name: 'selected', dtype: 'int64' }],
    nodes: [
      { name: 'boxes', opType: 'Slice', domain: '', inputs: ['x', 'box_starts', 'box_ends'], outputs: ['boxes'], attrs: {} },
      { name: 'scores_nc', opType: 'Slice', domain: '', inputs: ['x', 'score_starts', 'score_ends'], outputs: ['scores_nc'], attrs: {} },
      { name: 'scores', opType: 'Transpose', domain: '', inputs: ['scores_nc'], outputs: ['scores'], attrs: { perm: { type: 'ints', value: [0, 2, 1] } } },
      { name: 'nms', opType: 'NonMaxSuppression', domain: '', inputs: ['boxes', 'scores', 'max', 'iou', params.score === undefined ? '' : 'score'], outputs: ['selected'], attrs: { center_point_box: { type: 'int', value: centerPointBox } } },
    ],
    initializers: new Map(inits),
    opsets: { '': 13 },
  };
}

async function check(tag: string, g: Graph, x: Tensor, classes: number): Promise<number> {
  const ort = await runOrt(writeOnnx(g), { x });
  const want = Array.from(new BigInt64Array((ort.selected!.bytes as Uint8Array).slice().buffer), Number);
  const pb = await writeGraphDef(g);
  expect(decodeGraphDef(pb, 'nms.pb').node!.filter((n) => n.op === 'NonMaxSuppressionV5').length).toBe(classes);
  const got = pythonRun('numpy', `nms-${tag}`, pb, x, ['selected']).get('selected')!;
  expect(got.shape).toEqual([...ort.selected!.dims]);
  expect(got.toNumbers()).toEqual(want);
  return want.length / 3;
}

describe('GraphDef writer: ONNX NonMaxSuppression against onnxruntime (NumPy runner)', () => {
  it('1 batch, 3 classes, 200 random boxes (corners, some flipped; scores on 16 levels: ties), and center boxes without a score threshold', async () => {
    const N = 200;
    const C = 3;
    const r = rng(41);
    const corners: number[] = [];
    const centers: number[] = [];
    for (let i = 0; i < N; i++) {
      const [y, x, h, w] = [r() * 100, r() * 100, 5 + r() * 30, 5 + r() * 30];
      corners.push(...(r() < 0.2 ? [y + h, x + w, y, x] : [y, x, y + h, x + w]));
      centers.push(x, y, w, h);
      for (let c = 0; c < C; c++) corners.push(Math.floor(r() * 16) / 16);
      centers.push(...corners.slice(-C));
    }
    expect(await check('corners', nmsGraph(N, C, 0, { max: 25, iou: 0.45, score: 0.3 }), Tensor.float32([1, N, 4 + C], corners), C)).toBeGreaterThan(30);
    expect(await check('centers', nmsGraph(N, C, 1, { max: 1000, iou: 0.3 }), Tensor.float32([1, N, 4 + C], centers), C)).toBeGreaterThan(30);
  });

  it('IoUs exactly at the threshold are kept (ONNX and TF suppress at IoU > threshold)', async () => {
    // box 1 covers half of box 0 (IoU 0.5), box 2 a third of it (IoU 1/3 with box 0, 2/3 with box 1), box 3 is disjoint
    const x = Tensor.float32([1, 4, 5], [0, 0, 2, 2, 0.9, 0, 0, 2, 1, 0.8, 0, 0, 2, 2 / 3, 0.7, 10, 10, 11, 11, 0.6]);
    expect(await check('exact', nmsGraph(4, 1, 0, { max: 10, iou: 0.5, score: 0 }), x, 1)).toBe(3);
  });
});
