// ONNX NonMaxSuppression written to .tflite (write-nms.ts: NON_MAX_SUPPRESSION_V4 per batch x class)
// on detection-sized inputs: the same graph written to ONNX and run by onnxruntime-node, and
// written to .tflite and run by the real TFLite interpreter; selected_indices must be equal, row
// for row (ONNX's order). Ties in score and IoUs exactly at the threshold are where TFLite's kernel
// and ONNX differ (heap order, >= against >): the file must still give ONNX's answer.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, ValueInfo } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, opNameOf, tfliteOpNames, useTfliteOracle, withStoredDim, type FlatcOps } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';
import { int32Io } from '../../conformance/tflite-writer-run.js';

const oracle = useTfliteOracle();

interface NmsCase {
  B: number;
  C: number;
  N: number;
  centerPointBox: 0 | 1;
  /** constants in the graph, or (run-time) graph inputs fed these values; score undefined: no score_threshold */
  max: number;
  iou: number;
  score?: number;
  runtime: boolean;
  /** the box count a symbolic dim of the inputs (known only at run time; the file's inputs sized to N before the run) */
  dynamicN?: boolean;
  boxes: Tensor;
  scores: Tensor;
}

function graphOf(c: NmsCase): { g: Graph; feeds: Record<string, Tensor> } {
  const params: [string, Tensor][] = [
    ['max', Tensor.int64([1], [c.max])],
    ['iou', Tensor.float32([1], [c.iou])],
    ...(c.score === undefined ? [] : ([['score', Tensor.float32([1], [c.score])]] as [string, Tensor][])),
  ];
  const inputs: ValueInfo[] = [
    { name: 'boxes', dtype: 'float32', shape: [c.B, c.dynamicN ? 'n' : c.N, 4] },
    { name: 'scores', dtype: 'float32', shape: [c.B, c.C, c.dynamicN ? 'n' : c.N] },
  ];
  if (c.runtime) for (const [name, t] of params) inputs.push({ name, dtype: t.dtype, shape: [...t.shape] });
  const g: Graph = {
    name: 'nms',
    inputs,
    outputs: [{ name: 'selected', dtype: 'int64' }],
    nodes: [{ name: 'nms', opType: 'NonMaxSuppression', domain: '', inputs: ['boxes', 'scores', ...params.map(([n]) => n)], outputs: ['selected'], attrs: { center_point_box: { type: 'int', value: c.centerPointBox } } }],
    initializers: new Map(c.runtime ? [] : params),
    opsets: { '': 13 },
  };
  return { g, feeds: { boxes: c.boxes, scores: c.scores, ...(c.runtime ? Object.fromEntries(params) : {}) } };
}

/** Random boxes: corners in either diagonal order, or centers and sizes; scores uniform, or on a few levels (ties). */
function randomCase(seed: number, c: Omit<NmsCase, 'boxes' | 'scores'>, levels?: number): NmsCase {
  const r = rng(seed);
  const boxes: number[] = [];
  for (let i = 0; i < c.B * c.N; i++) {
    const [x, y, w, h] = [r() * 100, r() * 100, 5 + r() * 30, 5 + r() * 30];
    if (c.centerPointBox) boxes.push(x, y, w, h);
    else if (r() < 0.2) boxes.push(y + h, x + w, y, x);
    else boxes.push(y, x, y + h, x + w);
  }
  const scores = Array.from({ length: c.B * c.C * c.N }, () => (levels ? Math.floor(r() * levels) / levels : r()));
  return { ...c, boxes: Tensor.float32([c.B, c.N, 4], boxes), scores: Tensor.float32([c.B, c.C, c.N], scores) };
}

async function check(c: NmsCase): Promise<{ rows: number; ops: string[] }> {
  const { g, feeds } = graphOf(c);
  const ort = await runOrt(writeOnnx(g), feeds);
  const want = Array.from(new BigInt64Array((ort.selected!.bytes as Uint8Array).slice().buffer), Number);
  // the interpreter's Web API carries no int64 I/O: the maximum goes in as int32 and selected_indices
  // comes out as int32, each through a Cast in the graph (the NMS itself is written on int64)
  const io = int32Io({ kind: 'graph', format: 'onnx', graph: g });
  if (io.kind !== 'graph') throw new Error('a graph');
  const written = await writeTflite(io.graph);
  const ops = tfliteOpNames(written, 'nms');
  if (c.dynamicN) expect(flatcJson<{ subgraphs: { tensors: { shape_signature?: number[] }[]; inputs: number[] }[] }>(written, 'nms').subgraphs[0]!.tensors[0]!.shape_signature).toBeDefined();
  const file = c.dynamicN ? withStoredDim(withStoredDim(written, 1, c.N, 0), 2, c.N, 1) : written;
  const [got] = await oracle.run(file, g.inputs.map((v) => { const t = feeds[v.name]!; return t.dtype === 'int64' ? Int32Array.from(t.toNumbers()) : (t.data as ArrayBufferView); }));
  expect(got!.shape).toEqual([...ort.selected!.dims]);
  expect(Array.from(got!.data as ArrayLike<number | bigint>, Number)).toEqual(want);
  return { rows: want.length / 3, ops };
}

describe('TFLite writer: ONNX NonMaxSuppression against onnxruntime', () => {
  it('1 batch, 3 classes, 200 random boxes (corners, some flipped), constant thresholds', async () => {
    const { rows, ops } = await check(randomCase(11, { B: 1, C: 3, N: 200, centerPointBox: 0, max: 25, iou: 0.45, score: 0.3, runtime: false }));
    expect(rows).toBeGreaterThan(30);
    expect(ops.filter((o) => o === 'NON_MAX_SUPPRESSION_V4')).toHaveLength(3);
    expect(ops).toContain('TOPK_V2');
  });

  it('2 batches, 2 classes, center_point_box 1, thresholds as run-time inputs, an INT32_MAX maximum (clamped to N in the file)', async () => {
    const { rows } = await check(randomCase(12, { B: 2, C: 2, N: 150, centerPointBox: 1, max: 2 ** 31 - 1, iou: 0.3, score: 0.5, runtime: true }));
    expect(rows).toBeGreaterThan(20);
  });

  it('scores on 8 levels (ties: the lower index first) and no score_threshold, constant and run-time', async () => {
    for (const runtime of [false, true]) {
      const { rows } = await check(randomCase(13, { B: 1, C: 2, N: 120, centerPointBox: 0, max: 40, iou: 0.2, runtime }, 8));
      expect(rows).toBe(80);
    }
    // a run-time maximum below the kernel's (which selects up to N): the count is capped
    expect((await check(randomCase(14, { B: 1, C: 2, N: 60, centerPointBox: 0, max: 3, iou: 0.5, score: 0.1, runtime: true }))).rows).toBe(6);
  });

  it('IoUs exactly at the threshold (ONNX keeps the box; TFLite suppresses at >=), and iou_threshold 0 with disjoint boxes', async () => {
    // box 1 covers half of box 0 (IoU 0.5 exactly), box 2 a third of box 0 within it (IoU 1/3 in float32), box 3 is disjoint
    const boxes = Tensor.float32([1, 4, 4], [0, 0, 2, 2, 0, 0, 2, 1, 0, 0, 2, 2 / 3, 10, 10, 11, 11]);
    const scores = Tensor.float32([1, 1, 4], [0.9, 0.8, 0.7, 0.6]);
    for (const runtime of [false, true]) {
      for (const [iou, n] of [
        [0.5, 3], // box 2 (IoU 1/3 with box 0, 2/3 with box 1) goes; 1 and the disjoint 3 stay
        [Math.fround(1 / 3), 3],
        [0, 2], // every overlapping box goes, the disjoint one stays
      ] as const) {
        const { rows } = await check({ B: 1, C: 1, N: 4, centerPointBox: 0, max: 10, iou, score: 0, runtime, boxes, scores });
        expect(rows, `iou ${iou}${runtime ? ' (run time)' : ''}`).toBe(n);
      }
    }
  });

  it('boxes of zero area (all-zero padding, lines, points) are selected once, as onnxruntime does (TFLite alone picks one again and again)', async () => {
    for (const [seed, max, score, runtime] of [
      [16, 60, undefined, false],
      [17, 100, 0.3, false],
      [18, 12, 0.2, true],
    ] as const) {
      const c = randomCase(seed, { B: 2, C: 2, N: 60, centerPointBox: 0, max, iou: 0.3, score, runtime });
      const b = c.boxes.data as Float32Array;
      // every fifth box: zero padding, a horizontal line, a vertical line or a point (in either corner order)
      for (let i = 0; i < 2 * 60; i += 5) {
        const [y, x] = [b[i * 4]!, b[i * 4 + 1]!];
        const k = (i / 5) % 4;
        b.set(k === 0 ? [0, 0, 0, 0] : k === 1 ? [y, x, y, x + 10] : k === 2 ? [y + 7, x, y, x] : [y, x, y, x], i * 4);
      }
      const { rows } = await check(c);
      expect(rows, `seed ${seed}`).toBeGreaterThan(10);
    }
  });

  it('iou_threshold 1 suppresses nothing (ONNX suppresses at IoU > 1), identical boxes included, constant and run-time', async () => {
    const c = randomCase(19, { B: 1, C: 2, N: 30, centerPointBox: 0, max: 20, iou: 1, score: 0.25, runtime: false });
    const b = c.boxes.data as Float32Array;
    b.copyWithin(4, 0, 4); // boxes 0 and 1 the same
    for (const runtime of [false, true]) {
      const { rows } = await check({ ...c, runtime });
      // every box above the score threshold, up to the maximum, per class
      const s = Array.from(c.scores.data as Float32Array);
      const kept = [0, 1].map((cl) => Math.min(20, s.slice(cl * 30, cl * 30 + 30).filter((v) => v > 0.25).length));
      expect(rows, runtime ? 'run time' : 'constant').toBe(kept[0]! + kept[1]!);
    }
  });

  it('a NonMaxSuppression that selects nothing is refused by name', async () => {
    const c = randomCase(15, { B: 1, C: 1, N: 10, centerPointBox: 0, max: 0, iou: 0.5, runtime: false });
    await expect(writeTflite(graphOf(c).g)).rejects.toThrow(UnsupportedError);
    await expect(writeTflite(graphOf(c).g)).rejects.toThrow(/NonMaxSuppression that selects nothing/);
    // onnxruntime refuses such a threshold too
    await expect(writeTflite(graphOf({ ...c, max: 5, iou: -0.5 }).g)).rejects.toThrow(/NonMaxSuppression with iou_threshold -0.5 /);
  });
});

describe('TFLite writer: NonMaxSuppression of a box count known only at run time', () => {
  it('the cases above with N a symbolic dim: ties, center boxes, run-time thresholds and maximum, zero-area boxes, iou_threshold 1', async () => {
    const cases: [number, Omit<NmsCase, 'boxes' | 'scores'>, number?][] = [
      [11, { B: 1, C: 3, N: 200, centerPointBox: 0, max: 25, iou: 0.45, score: 0.3, runtime: false }],
      [12, { B: 2, C: 2, N: 150, centerPointBox: 1, max: 2 ** 31 - 1, iou: 0.3, score: 0.5, runtime: true }],
      [13, { B: 1, C: 2, N: 120, centerPointBox: 0, max: 40, iou: 0.2, runtime: false }, 8],
      [14, { B: 1, C: 2, N: 60, centerPointBox: 0, max: 3, iou: 0.5, score: 0.1, runtime: true }],
      [19, { B: 1, C: 2, N: 30, centerPointBox: 0, max: 20, iou: 1, score: 0.25, runtime: false }],
      [20, { B: 1, C: 1, N: 7, centerPointBox: 0, max: 100, iou: 0.5, score: 0.2, runtime: false }],
    ];
    for (const [seed, c, levels] of cases) {
      const k = randomCase(seed, { ...c, dynamicN: true }, levels);
      const b = k.boxes.data as Float32Array;
      // zero padding and a point among the boxes
      b.set([0, 0, 0, 0], 0);
      b.set([b[8]!, b[9]!, b[8]!, b[9]!], 8);
      const { rows } = await check(k);
      expect(rows, `seed ${seed}`).toBeGreaterThan(0);
    }
  });
});

describe('TFLite writer: NonMaxSuppression under --quantize int8', () => {
  it('runs in float behind DEQUANTIZE (boxes and scores from int8 ReLUs), equal to onnxruntime where the int8 steps are exact', async () => {
    // boxes on the integer grid [0, 255] and scores on k / 255: int8 with the calibrated ranges holds them exactly
    const N = 100;
    const r = rng(31);
    const boxes: number[] = [];
    for (let i = 0; i < N; i++) {
      const [y, x, h, w] = [Math.floor(r() * 200), Math.floor(r() * 200), 5 + Math.floor(r() * 50), 5 + Math.floor(r() * 50)];
      boxes.push(y, x, y + h, x + w);
    }
    boxes[0] = 0;
    boxes[3] = 255;
    const scores = Array.from({ length: 2 * N }, () => Math.floor(r() * 256) / 255);
    scores[0] = 0;
    scores[1] = 1;
    const g: Graph = {
      name: 'nms-int8',
      inputs: [
        { name: 'boxes', dtype: 'float32', shape: [1, N, 4] },
        { name: 'scores', dtype: 'float32', shape: [1, 2, N] },
      ],
      outputs: [{ name: 'selected', dtype: 'int64' }],
      nodes: [
        { name: 'rb', opType: 'Relu', domain: '', inputs: ['boxes'], outputs: ['b'], attrs: {} },
        { name: 'rs', opType: 'Relu', domain: '', inputs: ['scores'], outputs: ['s'], attrs: {} },
        { name: 'nms', opType: 'NonMaxSuppression', domain: '', inputs: ['b', 's', 'max', 'iou', 'score'], outputs: ['selected'], attrs: {} },
      ],
      initializers: new Map<string, Tensor>([
        ['max', Tensor.int64([1], [20])],
        ['iou', Tensor.float32([1], [0.4])],
        ['score', Tensor.float32([1], [100.5 / 255])],
      ]),
      opsets: { '': 13 },
    };
    const feeds = { boxes: Tensor.float32([1, N, 4], boxes), scores: Tensor.float32([1, 2, N], scores) };
    const ort = await runOrt(writeOnnx(g), feeds);
    const want = Array.from(new BigInt64Array((ort.selected!.bytes as Uint8Array).slice().buffer), Number);
    const io = int32Io({ kind: 'graph', format: 'onnx', graph: g });
    if (io.kind !== 'graph') throw new Error('a graph');
    const file = await writeTflite(io.graph, { quantize: { mode: 'int8', calibration: [[feeds.boxes, feeds.scores]] } });
    const j = flatcJson<FlatcOps<{ inputs: number[] }, { tensors: { type?: string }[] }>>(file, 'nms-int8');
    const sg = j.subgraphs[0]!;
    const nms = sg.operators.filter((o) => opNameOf(j, o) === 'NON_MAX_SUPPRESSION_V4');
    expect(nms).toHaveLength(2);
    for (const o of nms) expect(sg.tensors[o.inputs[0]!]!.type ?? 'FLOAT32').toBe('FLOAT32');
    expect(sg.operators.some((o) => opNameOf(j, o) === 'RELU' && sg.tensors[o.inputs[0]!]!.type === 'INT8')).toBe(true);
    const [got] = await oracle.run(file, [feeds.boxes.data as Float32Array, feeds.scores.data as Float32Array]);
    expect(want.length / 3).toBeGreaterThan(10);
    expect(Array.from(got!.data as ArrayLike<number>)).toEqual(want);
  });
});
