// An LSTM carrying nnport's cell_clip (TFLite's, read from the corpus mnist_lstm, cell_clip 10)
// written as a frozen GraphDef: unrolled, each step's cell state bounded by Minimum then Maximum
// (tf.clip_by_value's form), run by OpenCV 4.6 dnn against the real TFLite interpreter on the
// source file. One input saturates the gates so that the cell state meets the clip: the same graph
// written without it is then far from the interpreter in OpenCV too.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { pythonRun } from './python-runs.js';

const oracle = useTfliteOracle();
const MNIST = readFileSync(corpusPath('tflite/tflm-mnist-lstm-float/trained_lstm.tflite'));

function inputs(): Array<{ name: string; x: Float32Array }> {
  const r = rng(2024);
  return [
    { name: 'uniform', x: Float32Array.from({ length: 28 * 28 }, () => r()) },
    // 18 rows of large inputs drive the cell state up by ~1 a step past 10, then small ones let it fall
    { name: 'saturating', x: Float32Array.from({ length: 28 * 28 }, (_, i) => (i < 18 * 28 ? 20 : -1)) },
  ];
}

/** The GraphDef's output for x, run by OpenCV dnn. */
async function opencv(g: Graph, tag: string, x: Float32Array): Promise<Float32Array> {
  const pb = await writeGraphDef(g, { fileName: `${tag}.pb` });
  const back = await readGraphDef(pb, { fileName: `${tag}.pb` });
  const out = back.outputs[0]!.name.replace(/:0$/, '');
  return pythonRun('opencv', tag, pb, Tensor.float32([1, 28, 28], x), [out]).get(out)!.toFloat32();
}

describe('an LSTM with cell_clip -> frozen GraphDef, run by OpenCV dnn', () => {
  it('mnist_lstm (cell_clip 10): OpenCV computes the interpreter outputs; without the clip it does not on the saturating input', async () => {
    const g = await readTflite(MNIST, { fileName: 'trained_lstm.tflite' });
    expect(g.nodes.filter((n) => n.opType === 'LSTM').map((n) => n.attrs.cell_clip)).toEqual([{ type: 'float', value: 10 }]);
    const pb = await writeGraphDef(g, { fileName: 'mnist_lstm.pb' });
    const ops = (await readGraphDef(pb, { fileName: 'mnist_lstm.pb' })).nodes.map((n) => n.opType);
    expect(ops).not.toContain('LSTM');
    const unclipped: Graph = { ...g, nodes: g.nodes.map((n) => (n.opType === 'LSTM' ? { ...n, attrs: Object.fromEntries(Object.entries(n.attrs).filter(([k]) => k !== 'cell_clip')) } : n)) };
    for (const { name, x } of inputs()) {
      const [want] = await oracle.run(MNIST, [x]);
      const err = relErr(await opencv(g, `mnist-lstm-cell-clip-${name}`, x), want!.data as Float32Array);
      console.log(`mnist_lstm ${name}: GraphDef in OpenCV vs interpreter ${err.toExponential(2)} relative`);
      expect(err, name).toBeLessThan(1e-5);
      if (name === 'saturating') {
        const without = relErr(await opencv(unclipped, `mnist-lstm-no-clip-${name}`, x), want!.data as Float32Array);
        console.log(`mnist_lstm ${name}: without the clip, OpenCV vs interpreter ${without.toExponential(2)} relative`);
        expect(without).toBeGreaterThan(1e-3);
      }
    }
  });
});
