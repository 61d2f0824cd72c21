// The integer UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input / output state, int16 cell state) read from
// .tflite and run by nnport's integer runtime against the TFLite interpreter, a fresh one per
// input (the interpreter keeps its state from one invoke to the next; nnport's result is the
// first invoke after allocation): the TFLite Micro mnist_lstm int8 model, and hand-built LSTMs
// whose output is the LSTM's own (CIFG, peephole, projection, cell clip, time-major).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { convert, loadModel } from '../../../src/index.js';
import { type LstmCase, lstmFile } from './lstm-model.js';
import { randomInts } from './svdf-model.js';

/** The largest difference between nnport's integer runtime and a fresh interpreter per input, over `n` random inputs; `seen` collects the interpreter's outputs. */
async function compareLstm(o: LstmCase, n: number, seen: number[]): Promise<number> {
  const file = lstmFile(o);
  const g = await readTflite(file, { fileName: 'lstm.tflite' });
  const r = rng(o.seed + 100);
  const size = o.batch * o.time * o.nInput;
  let worst = 0;
  for (let k = 0; k < n; k++) {
    const x = randomInts(Int8Array, size, -128, 127, r);
    const [theirs] = await oracle.run(file, [x]);
    const mine = (await runInteger(g, { x: new Tensor('int8', o.timeMajor ? [o.time, o.batch, o.nInput] : [o.batch, o.time, o.nInput], x) })).outputs.get('y')!;
    expect(mine.shape).toEqual(theirs!.shape);
    for (let i = 0; i < theirs!.data.length; i++) worst = Math.max(worst, Math.abs(Number(mine.data[i]) - Number(theirs!.data[i])));
    seen.push(...Array.from(theirs!.data as Int8Array));
  }
  return worst;
}

const oracle = useTfliteOracle();

describe('TFLite integer LSTM', () => {
  it('mnist_lstm int8 (TFLite Micro) equals the interpreter on random inputs', async () => {
    const file = readFileSync(corpusPath('tflite/tflm-mnist-lstm-int8/trained_lstm_int8.tflite'));
    const g = await readTflite(file);
    expect(g.nodes.filter((n) => n.opType === 'QuantizedLstm')).toHaveLength(1);
    // the note inspect shows: the state starts at zero on every run
    expect(g.metadata?.props?.nnport_note).toMatch(/first invoke after allocating/);
    const r = rng(7);
    let worst = 0;
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      // a sparse "digit": most pixels at the zero point (-128), some bright strokes
      const x = Int8Array.from({ length: 784 }, () => (r() < 0.2 ? Math.floor(r() * 256) - 128 : -128));
      const [theirs] = await oracle.run(file, [x]);
      const mine = [...(await runInteger(g, { [g.inputs[0]!.name]: new Tensor('int8', [1, 28, 28], x) })).outputs.values()][0]!;
      for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs(Number(mine.data[i]) - Number(theirs!.data[i])));
      seen.push(...Array.from(theirs!.data as Int8Array));
    }
    expect(worst).toBe(0);
    // the softmax is not saturated everywhere
    expect(seen.filter((v) => v > -128 && v < 127).length).toBeGreaterThan(5);
  });

  const cases: [string, LstmCase][] = [
    ['plain, 2 batches', { batch: 2, time: 5, nInput: 6, nCell: 8, nOutput: 8, seed: 1 }],
    ['CIFG with peepholes, cell scale 2^-11, cell clip', { batch: 1, time: 6, nInput: 5, nCell: 8, nOutput: 8, cifg: true, peephole: true, cellScaleLog2: -11, cellClip: 3, seed: 2 }],
    ['peepholes and projection (8 cells -> 4 outputs), time-major', { batch: 2, time: 4, nInput: 6, nCell: 8, nOutput: 4, peephole: true, projection: true, timeMajor: true, seed: 3 }],
    ['state zero point 3', { batch: 1, time: 5, nInput: 4, nCell: 6, nOutput: 6, stateZeroPoint: 3, seed: 4 }],
    ['layer norm with peepholes', { batch: 2, time: 5, nInput: 6, nCell: 8, nOutput: 8, layerNorm: true, peephole: true, seed: 9 }],
    ['layer norm, CIFG, projection, time-major', { batch: 2, time: 4, nInput: 5, nCell: 8, nOutput: 4, layerNorm: true, cifg: true, projection: true, timeMajor: true, seed: 10 }],
  ];
  for (const [name, o] of cases) {
    it(`hand-built LSTM, ${name}: equals the interpreter exactly`, async () => {
      const seen: number[] = [];
      expect(await compareLstm(o, 3, seen)).toBe(0);
      // the outputs spread over the int8 range, not stuck at its ends
      expect(new Set(seen).size).toBeGreaterThan(20);
    });
  }

  it('the float runtime runs the dequantized LSTM: close to the integer one', async () => {
    for (const layerNorm of [false, true]) {
      const o: LstmCase = { batch: 1, time: 5, nInput: 6, nCell: 8, nOutput: 8, peephole: true, layerNorm, seed: 5 };
      const g = await readTflite(lstmFile(o));
      const x = new Tensor('int8', [1, 5, 6], randomInts(Int8Array, 30, -128, 127, rng(6)));
      const exact = (await runInteger(g, { x })).outputs.get('y')!.data as Int8Array;
      const approx = (await runGraph(g, { x })).outputs.get('y')!.data as Int8Array;
      let worst = 0;
      for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(exact[i]! - approx[i]!));
      expect(worst, layerNorm ? 'layer norm' : 'plain').toBeLessThanOrEqual(3);
    }
  });

  it('bad input: a cell state of the wrong shape is a one-line FormatError', async () => {
    const bad = lstmFile({ batch: 1, time: 3, nInput: 4, nCell: 6, nOutput: 6, cellStateShape: [1, 5], seed: 1 });
    await expect(readTflite(bad, { fileName: 'bad.tflite' })).rejects.toThrow(FormatError);
    await expect(readTflite(bad, { fileName: 'bad.tflite' })).rejects.toThrow(/cell state 'cell_state' has shape \[1, 5\], expected \[1, 6\]/);
  });

  it('writers other than TFLite refuse the integer LSTM by name', async () => {
    const model = await loadModel(readFileSync(corpusPath('tflite/tflm-mnist-lstm-int8/trained_lstm_int8.tflite')), { fileName: 'lstm.tflite' });
    for (const to of ['model.onnx', 'model.h5', 'model.json', 'model.pb']) {
      await expect(convert(model, to), to).rejects.toThrow(UnsupportedError);
      await expect(convert(model, to), to).rejects.toThrow(/QuantizedLstm/);
    }
  });

  it('written back to TFLite, the interpreter computes what it computes on the source file', async () => {
    const sources: [string, Uint8Array, number[]][] = [
      ['mnist_lstm', readFileSync(corpusPath('tflite/tflm-mnist-lstm-int8/trained_lstm_int8.tflite')), [1, 28, 28]],
      ['projection, time-major', lstmFile({ batch: 2, time: 4, nInput: 6, nCell: 8, nOutput: 4, peephole: true, projection: true, timeMajor: true, seed: 3 }), [4, 2, 6]],
      ['CIFG, zero point 3', lstmFile({ batch: 1, time: 5, nInput: 4, nCell: 6, nOutput: 6, cifg: true, stateZeroPoint: 3, seed: 4 }), [1, 5, 4]],
      ['layer norm', lstmFile({ batch: 1, time: 5, nInput: 6, nCell: 8, nOutput: 8, layerNorm: true, seed: 9 }), [1, 5, 6]],
    ];
    const r = rng(8);
    for (const [name, src, shape] of sources) {
      const written = (await convert(await loadModel(src, { fileName: 'lstm.tflite' }), 'lstm.tflite')).bytes;
      // the state tensors stay variable, the op keeps its 5 intermediates
      const json = flatcJson<{ subgraphs: { tensors: { is_variable?: boolean }[]; operators: { intermediates?: number[] }[] }[] }>(written, 'lstm');
      expect(json.subgraphs[0]!.tensors.filter((t) => t.is_variable), name).toHaveLength(2);
      expect(json.subgraphs[0]!.operators.some((op) => op.intermediates?.length === 5), name).toBe(true);
      for (let k = 0; k < 2; k++) {
        const x = randomInts(Int8Array, shape.reduce((a, b) => a * b, 1), -128, 127, r);
        const [a] = await oracle.run(src, [x]);
        const [b] = await oracle.run(written, [x]);
        expect(Array.from(b!.data), name).toEqual(Array.from(a!.data));
      }
    }
  });
});
