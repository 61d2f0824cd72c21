// TFLite float BIDIRECTIONAL_SEQUENCE_LSTMs and builtin LSTMs (full kernel, one step; also hybrid)
// built here with random weights (no corpus file has one). BIDIRECTIONAL_SEQUENCE_LSTM:
// merged and separate outputs, batch- and time-major, CIFG, peepholes, projection and cell_clip
// (unrolled), the aux input both ways TFLite reads it (cross-linked with aux weights; as the
// backward direction's input without). Each runs in the real interpreter (a fresh one per run:
// the state starts at zero) against nnport's runtime and the file converted to ONNX in
// onnxruntime-node. Batch-major merged outputs are checked with batch 1 where the state is not
// zero-filled memory by luck: lstm_eval.cc offsets the batch-major state by the merged output row
// (fw + bw), so batch rows past the first read and write outside their [batch, n] state tensor.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import { FormatError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildBidiLstm, buildStepLstm, type BidiLstmSpec, type StepLstmSpec } from './rnn-model.js';
import { maxAbsDiff, relErr } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

const CASES: BidiLstmSpec[] = [
  { name: 'merged, batch-major, batch 2', T: 5, B: 2, I: 3, N: 4, merge: true, timeMajor: false, lstms: 1 },
  { name: 'separate outputs, time-major, CIFG with peepholes, relu', T: 4, B: 3, I: 2, N: 5, fw: { cifg: true, peepholes: true }, bw: { cifg: true, peepholes: true }, merge: false, timeMajor: true, act: ActivationFunctionType.RELU, lstms: 1 },
  { name: 'projection with bias, proj_clip, cell_clip, peepholes: unrolled', T: 4, B: 2, I: 3, N: 5, fw: { O: 3, projectionBias: true, peepholes: true }, bw: { O: 3, projectionBias: true, peepholes: true }, cellClip: 0.7, projClip: 0.4, merge: false, timeMajor: false, lstms: 0 },
  { name: 'projection, merged, time-major, CIFG: unrolled', T: 3, B: 2, I: 3, N: 4, fw: { O: 2, cifg: true }, bw: { O: 2, cifg: true }, merge: true, timeMajor: true, lstms: 0 },
  { name: 'cross-linked aux input (aux weights), merged, batch 1', T: 4, B: 1, I: 3, N: 4, aux: { size: 3, mode: 'cross' }, merge: true, timeMajor: false, lstms: 1 },
  { name: 'cross-linked aux input, time-major, CIFG', T: 3, B: 2, I: 2, N: 3, fw: { cifg: true }, bw: { cifg: true }, aux: { size: 2, mode: 'cross' }, merge: false, timeMajor: true, lstms: 1 },
  { name: 'aux input without aux weights: the backward input', T: 4, B: 2, I: 3, N: 4, aux: { size: 3, mode: 'parallel' }, merge: false, timeMajor: true, lstms: 2 },
];

describe('TFLite float BIDIRECTIONAL_SEQUENCE_LSTM against the interpreter', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const file = buildBidiLstm(c, 700 + i);
    const g = await readTflite(file, { fileName: `bidi${i}.tflite` });
    expect(g.nodes.filter((n) => n.opType === 'LSTM').length).toBe(c.lstms);
    const { bytes } = await convert(await loadModel(file, { fileName: `bidi${i}.tflite` }), `bidi${i}.onnx`);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      const r = rng(950 + i);
      for (let k = 0; k < 2; k++) {
        const feeds = g.inputs.map((v) => {
          const shape = v.shape as number[];
          return { name: v.name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * 2) };
        });
        const theirs = await oracle.run(file, feeds.map((f) => f.data));
        expect(theirs.length).toBe(c.merge ? 1 : 2);
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

  it('a wrong input count or a missing state is a one-line FormatError naming the op', async () => {
    const file = buildBidiLstm(CASES[0]!, 1);
    await expect(readTflite(file)).resolves.toBeTruthy();
    // drop the last input: 47 of 48
    const short = buildBidiLstm(CASES[0]!, 1, (inputs) => inputs.slice(0, 47));
    await expect(readTflite(short)).rejects.toThrow(FormatError);
    await expect(readTflite(short)).rejects.toThrow(/BIDIRECTIONAL_SEQUENCE_LSTM 'y': 47 inputs, 48 expected/);
    const noState = buildBidiLstm(CASES[0]!, 1, (inputs) => inputs.map((v, k) => (k === 37 ? -1 : v)));
    await expect(readTflite(noState)).rejects.toThrow(/BIDIRECTIONAL_SEQUENCE_LSTM 'y': the backward output state \(input 37\) is missing/);
  });
});

const STEP_CASES: StepLstmSpec[] = [
  { name: 'peepholes, batch 3', B: 3, I: 4, N: 5, peepholes: true, lstms: 1 },
  { name: 'CIFG, projection, cell_clip: unrolled', B: 2, I: 3, N: 5, O: 3, cifg: true, cellClip: 0.5, lstms: 0 },
  { name: 'layer norm (24 inputs): unrolled', B: 2, I: 3, N: 4, layerNorm: true, lstms: 0 },
  { name: 'hybrid, asymmetric inputs, projection', B: 2, I: 4, N: 5, O: 3, hybrid: { asymmetric: true }, lstms: 0 },
];

// The builtin LSTM (full kernel) is one step of the sequence LSTM: the same reader, one time step.
describe('TFLite builtin LSTM (full kernel, one step) against the interpreter', () => {
  it.each(STEP_CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const file = buildStepLstm(c, 600 + i);
    const g = await readTflite(file, { fileName: `lstm${i}.tflite` });
    expect(g.nodes.filter((n) => n.opType === 'LSTM').length).toBe(c.lstms);
    const r = rng(620 + i);
    for (let k = 0; k < 2; k++) {
      const x = Float32Array.from({ length: c.B * c.I }, () => (r() * 2 - 1) * 2);
      const [theirs] = await oracle.run(file, [x]);
      const mine = (await runGraph(g, { x: Tensor.float32([c.B, c.I], x) })).outputs.get('y')!;
      expect(mine.shape).toEqual(theirs!.shape);
      // float: within 1e-5 absolute; hybrid: the interpreter's int8 rounding simulated, to float rounding
      if (c.hybrid) expect(relErr(mine.toFloat32(), theirs!.data as Float32Array)).toBeLessThan(1e-5);
      else expect(maxAbsDiff(mine.toFloat32(), theirs!.data as Float32Array)).toBeLessThan(1e-5);
    }
    if (!c.hybrid) {
      const { bytes } = await convert(await loadModel(file, { fileName: `lstm${i}.tflite` }), `lstm${i}.onnx`);
      const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
      try {
        const x = Float32Array.from({ length: c.B * c.I }, () => (r() * 2 - 1) * 2);
        const [theirs] = await oracle.run(file, [x]);
        const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [c.B, c.I]) });
        expect(maxAbsDiff(res[session.outputNames[0]!]!.data as Float32Array, theirs!.data as Float32Array)).toBeLessThan(1e-5);
      } finally {
        await session.release();
      }
    }
  });

  it('a wrong input count is a one-line FormatError naming the op', async () => {
    await expect(readTflite(buildStepLstm(STEP_CASES[0]!, 1, (ins) => ins.slice(0, 19)))).rejects.toThrow(/: LSTM 'y': 19 inputs, 20 or 24 expected/);
  });
});
