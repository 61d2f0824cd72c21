// TFLite writer: values whose size is only known when the model runs (NonMaxSuppression's rows)
// and what is computed from it: Shape of a dynamic tensor (SHAPE, with start / end), TopK with a k
// computed at run time (and the smallest), Slice with computed ends of a dynamic tensor. The graph
// written to .onnx and run by onnxruntime-node, and written to .tflite and run by the real TFLite
// interpreter, must give the same outputs (an SSD's DetectionOutput is made of these).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const oracle = useTfliteOracle();

const N = 40;
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const int = (value: number) => ({ type: 'int' as const, value });
const OUTPUTS = ['top', 'top_index', 'low', 'low_index', 'rows', 'count', 'first_dim'];

function graph(scoreThreshold: number): Graph {
  const i64 = (values: number[]) => Tensor.int64([values.length], values);
  return {
    name: 'dynamic',
    inputs: [
      { name: 'boxes', dtype: 'float32', shape: [1, N, 4] },
      { name: 'scores', dtype: 'float32', shape: [1, 1, N] },
    ],
    // the interpreter's Web API carries no int64: every output float32
    outputs: OUTPUTS.map((name) => ({ name, dtype: 'float32' as const })),
    nodes: [
      node('NonMaxSuppression', ['boxes', 'scores', 'max', 'iou', 'threshold'], ['selected']),
      node('Gather', ['selected', 'two'], ['box_index'], { axis: int(1) }),
      node('Reshape', ['scores', 'flat_shape'], ['scores_flat']),
      node('Gather', ['scores_flat', 'box_index'], ['picked']),
      node('Reshape', ['boxes', 'box_shape'], ['boxes_2d']),
      node('Gather', ['boxes_2d', 'box_index'], ['picked_boxes']),
      node('Shape', ['picked'], ['n']),
      node('Shape', ['selected'], ['n_rows'], { start: int(0), end: int(-1) }),
      node('Min', ['n', 'three'], ['k']),
      node('TopK', ['picked', 'k'], ['top', 'top_index_i64']),
      node('TopK', ['picked', 'k'], ['low', 'low_index_i64'], { largest: int(0) }),
      // every row but the last (ends computed from a dynamic tensor's Shape)
      node('Sub', ['n_rows', 'one'], ['end']),
      node('Slice', ['picked_boxes', 'zero', 'end', 'zero'], ['rows']),
      ...[
        ['top_index_i64', 'top_index'],
        ['low_index_i64', 'low_index'],
        ['n', 'count'],
        ['n_rows', 'first_dim'],
      ].map(([a, b]) => node('Cast', [a!], [b!], { to: int(1) })),
    ],
    initializers: new Map<string, Tensor>([
      ['max', i64([25])],
      ['iou', Tensor.float32([1], [0.4])],
      ['threshold', Tensor.float32([1], [scoreThreshold])],
      ['two', Tensor.int64([], [2])],
      ['flat_shape', i64([N])],
      ['box_shape', i64([N, 4])],
      ['three', i64([3])],
      ['one', i64([1])],
      ['zero', i64([0])],
    ]),
    opsets: { '': 15 },
  };
}

describe('TFLite writer: shapes known only at run time, against onnxruntime', () => {
  const r = rng(31);
  const boxes: number[] = [];
  for (let i = 0; i < N; i++) {
    const [y, x, h, w] = [r() * 50, r() * 50, 5 + r() * 20, 5 + r() * 20];
    boxes.push(y, x, y + h, x + w);
  }
  const feeds = { boxes: Tensor.float32([1, N, 4], boxes), scores: Tensor.float32([1, 1, N], Array.from({ length: N }, () => r())) };

  for (const [what, threshold, rows] of [
    ['some boxes selected', 0.3, [5, 25]],
    ['none selected: every dynamic value empty', 1, [0, 0]],
  ] as const) {
    it(what, async () => {
      const g = graph(threshold);
      const want = await runOrt(writeOnnx(g), feeds);
      const file = await writeTflite(g);
      const ops = tfliteOpNames(file, 'dynamic');
      for (const op of ['SHAPE', 'TOPK_V2', 'NEG', 'STRIDED_SLICE']) expect(ops, op).toContain(op);
      const got = await oracle.run(file, [feeds.boxes.data as Float32Array, feeds.scores.data as Float32Array]);
      const n = new Float32Array((want.count!.bytes as Uint8Array).slice().buffer)[0]!;
      expect(n).toBeGreaterThanOrEqual(rows[0]);
      expect(n).toBeLessThanOrEqual(rows[1]);
      OUTPUTS.forEach((name, i) => {
        const w = want[name]!;
        expect(got[i]!.shape, name).toEqual([...w.dims]);
        expect(Array.from(got[i]!.data as Float32Array), name).toEqual(Array.from(new Float32Array((w.bytes as Uint8Array).slice().buffer)));
      });
    });
  }
});
