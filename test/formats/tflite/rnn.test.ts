// TFLite float RNN, UNIDIRECTIONAL_SEQUENCE_RNN and BIDIRECTIONAL_SEQUENCE_RNN built here with random
// weights (no corpus file has one), each fused activation TFLite's kernel applies (NONE, RELU,
// TANH as one ONNX RNN; RELU6, RELU_N1_TO_1 unrolled), batch- and time-major, merged and separate
// outputs, cross-linked aux input. Each runs in the real interpreter (a fresh one per run: the
// state starts at zero) against nnport's runtime and the file converted to ONNX in onnxruntime-node.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildRnn, type RnnSpec } from './rnn-model.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

const A = ActivationFunctionType;
const CASES: RnnSpec[] = [
  { name: 'RNN tanh, batch 3', kind: 'RNN', T: 1, B: 3, I: 4, N: 5, act: A.TANH, rnns: 1 },
  { name: 'RNN none (identity)', kind: 'RNN', T: 1, B: 2, I: 3, N: 4, act: A.NONE, rnns: 1 },
  { name: 'RNN relu6: unrolled', kind: 'RNN', T: 1, B: 2, I: 3, N: 4, act: A.RELU6, rnns: 0 },
  { name: 'UNIDIRECTIONAL tanh, batch-major', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 5, B: 2, I: 3, N: 4, act: A.TANH, rnns: 1 },
  { name: 'UNIDIRECTIONAL relu, time-major', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 3, I: 2, N: 5, act: A.RELU, timeMajor: true, rnns: 1 },
  { name: 'UNIDIRECTIONAL none, batch-major', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 3, act: A.NONE, rnns: 1 },
  { name: 'UNIDIRECTIONAL relu_n1_to_1: unrolled', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 4, act: A.RELU_N1_TO_1, rnns: 0 },
  { name: 'BIDIRECTIONAL tanh, merged, batch-major', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 4, act: A.TANH, merge: true, rnns: 1 },
  { name: 'BIDIRECTIONAL relu, separate, batch-major', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 5, B: 2, I: 3, N: 3, act: A.RELU, rnns: 1 },
  { name: 'BIDIRECTIONAL tanh, separate, time-major', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 3, I: 2, N: 4, act: A.TANH, timeMajor: true, rnns: 1 },
  { name: 'BIDIRECTIONAL relu6, merged, time-major: unrolled', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 3, B: 2, I: 3, N: 4, act: A.RELU6, timeMajor: true, merge: true, rnns: 0 },
  { name: 'BIDIRECTIONAL cross-linked aux input, merged, batch-major', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 4, act: A.TANH, merge: true, aux: true, rnns: 1 },
  { name: 'BIDIRECTIONAL cross-linked aux input, separate, time-major', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 3, B: 2, I: 2, N: 3, act: A.NONE, timeMajor: true, aux: true, rnns: 1 },
];

describe('TFLite float RNNs against the interpreter', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const file = buildRnn(c, 300 + i);
    const g = await readTflite(file, { fileName: `rnn${i}.tflite` });
    expect(g.nodes.filter((n) => n.opType === 'RNN').length).toBe(c.rnns);
    const { bytes } = await convert(await loadModel(file, { fileName: `rnn${i}.tflite` }), `rnn${i}.onnx`);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      const r = rng(800 + i);
      for (let k = 0; k < 2; k++) {
        const feeds = g.inputs.map((v) => {
          const shape = v.shape as number[];
          return { name: v.name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * 2) };
        });
        const theirs = await oracle.run(file, feeds.map((f) => f.data));
        expect(theirs.length).toBe(g.outputs.length);
        const { outputs } = await runGraph(g, new Map(feeds.map((f) => [f.name, Tensor.float32(f.shape, f.data)])));
        const res = await session.run(Object.fromEntries(feeds.map((f, j) => [session.inputNames[j]!, new ort.Tensor('float32', f.data, f.shape)])));
        g.outputs.forEach((v, j) => {
          const want = theirs[j]!.data as Float32Array;
          const mine = outputs.get(v.name)!;
          expect(mine.shape).toEqual(theirs[j]!.shape);
          expect(maxAbsDiff(mine.toFloat32(), want), `nnport output ${j}`).toBeLessThan(1e-5);
          expect(maxAbsDiff(res[session.outputNames[j]!]!.data as Float32Array, want), `onnxruntime output ${j}`).toBeLessThan(1e-5);
        });
      }
    } finally {
      await session.release();
    }
  });

  it('bad input: wrong input count, missing state, wrong weight shape, unsupported activation — one-line typed errors naming the op', async () => {
    const uni = CASES[3]!;
    await expect(readTflite(buildRnn(uni, 1, (ins) => ins.slice(0, 4)))).rejects.toThrow(/UNIDIRECTIONAL_SEQUENCE_RNN 'y': 4 inputs, 5 expected/);
    await expect(readTflite(buildRnn(uni, 1, (ins) => ins.map((v, k) => (k === 4 ? -1 : v))))).rejects.toThrow(/UNIDIRECTIONAL_SEQUENCE_RNN 'y': the hidden state \(input 4\) is missing/);
    // recurrent weights where the bias should be: [4, 4] for [4]
    const wrong = buildRnn(uni, 1, (ins) => ins.map((v, k) => (k === 3 ? ins[2]! : v)));
    await expect(readTflite(wrong)).rejects.toThrow(FormatError);
    await expect(readTflite(wrong)).rejects.toThrow(/UNIDIRECTIONAL_SEQUENCE_RNN 'y': bias .* has shape \[4, 4\], \[4\] expected/);
    await expect(readTflite(buildRnn({ ...CASES[7]!, act: A.SIGN_BIT }, 1))).rejects.toThrow(UnsupportedError);
    await expect(readTflite(buildRnn(CASES[7]!, 1, (ins) => ins.slice(0, 9)))).rejects.toThrow(/BIDIRECTIONAL_SEQUENCE_RNN 'y': 9 inputs, 12 expected/);
    await expect(readTflite(buildRnn(CASES[0]!, 1, (ins) => ins.slice(0, 3)))).rejects.toThrow(/: RNN 'y': 3 inputs, 5 expected/);
  });
});
