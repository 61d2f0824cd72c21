// Frozen GraphDefs of the corpus: every Const equals the independent wire-format decoder's
// .npy (scripts/fixtures/tf_goldens.py), and the graphs that run compute what OpenCV dnn,
// the stored IDX golden or a NumPy LSTM compute.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { CORPUS_GRAPHS, expectConstsEqualGoldens } from './corpus-graphs.js';
import { maxAbsDiff, npyTensor, tfGoldens } from './helpers.js';

let cache = '';
beforeAll(() => {
  cache = tfGoldens();
});

const GRAPHS = CORPUS_GRAPHS;

describe('GraphDef Const tensors', () => {
  for (const [name, rel] of Object.entries(GRAPHS)) {
    it(`${name}: every Const equals the wire-format decoder's`, () => {
      const file = corpusPath(rel);
      expectConstsEqualGoldens(decodeGraphDef(new Uint8Array(readFileSync(file)), file), file, cache, name);
    });
  }
});

async function runGraph(rel: string, feeds: Record<string, Tensor>, options = {}): Promise<Tensor> {
  const file = corpusPath(rel);
  const graph = await readGraphDef(new Uint8Array(readFileSync(file)), { fileName: file, ...options });
  const r = await run(graph, feeds);
  return r.outputs.get(graph.outputs[0]!.name)!;
}

describe('GraphDef -> IR runs like the oracles', () => {
  it('tf2onnx-fc-layers (MatMul, BiasAdd, Relu) matches OpenCV dnn', async () => {
    const x = npyTensor(join(cache, 'tf2onnx-fc-layers/input.npy'));
    const y = await runGraph(GRAPHS['tf2onnx-fc-layers']!, { X: x });
    const want = npyTensor(join(cache, 'tf2onnx-fc-layers/opencv.npy'));
    expect(y.shape).toEqual([1, 10]);
    expect(maxAbsDiff(y.toFloat32(), want.toFloat32())).toBeLessThan(1e-4);
  });

  it('tf2onnx-lstm with keep_prob 1.0 matches the NumPy LSTM from its own weights (dynamic batch and fixed)', async () => {
    const x = npyTensor(join(cache, 'tf2onnx-lstm/input.npy'));
    const want = npyTensor(join(cache, 'tf2onnx-lstm/lstm_numpy.npy'));
    const dynamic = await runGraph(GRAPHS['tf2onnx-lstm']!, { X: x }, { set: { keep_prob: 1 } });
    expect(dynamic.shape).toEqual([2, 10]);
    expect(maxAbsDiff(dynamic.toFloat32(), want.toFloat32())).toBeLessThan(1e-4);
    const fixed = await runGraph(GRAPHS['tf2onnx-lstm']!, { X: x }, { set: { keep_prob: 1 }, inputShapes: { X: [2, 784] } });
    expect(maxAbsDiff(fixed.toFloat32(), want.toFloat32())).toBeLessThan(1e-4);
  });

});
