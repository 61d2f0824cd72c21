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
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { UnidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/unidirectional-sequence-lstmoptions.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { convert, loadModel } from '../../../src/index.js';
import { buildModel, randomInts, TensorType, type BuiltTensor } from './svdf-model.js';

interface LstmCase {
  batch: number;
  time: number;
  nInput: number;
  nCell: number;
  nOutput: number;
  cifg?: boolean;
  peephole?: boolean;
  projection?: boolean;
  timeMajor?: boolean;
  cellScaleLog2?: number;
  cellClip?: number;
  stateZeroPoint?: number;
  layerNorm?: boolean;
  /** a cell state of the wrong size (bad input) */
  cellStateShape?: number[];
  seed: number;
}

/** One integer UNIDIRECTIONAL_SEQUENCE_LSTM whose output is the file's output, random weights. */
function lstmFile(o: LstmCase): Uint8Array {
  const r = rng(o.seed);
  const xs = 0.02;
  const ws = 0.01;
  const hs = o.projection ? 0.02 : 1 / 128;
  const hzp = o.stateZeroPoint ?? 0;
  const tensors: BuiltTensor[] = [];
  const add = (t: BuiltTensor): number => tensors.push(t) - 1;
  const none = -1;
  const w8 = (name: string, rows: number, cols: number, scale = ws) => add({ name, shape: [rows, cols], type: TensorType.INT8, data: randomInts(Int8Array, rows * cols, -127, 127, r), quant: { scale: [scale], zeroPoint: [0] } });
  const bias = (name: string, n: number, scale: number) => add({ name, shape: [n], type: TensorType.INT32, data: randomInts(Int32Array, n, -Math.round(0.4 / scale), Math.round(0.4 / scale), r), quant: { scale: [scale], zeroPoint: [0] } });
  const peep = (name: string) => add({ name, shape: [o.nCell], type: TensorType.INT16, data: randomInts(Int16Array, o.nCell, -3000, 3000, r), quant: { scale: [1e-4], zeroPoint: [0] } });
  const xShape = o.timeMajor ? [o.time, o.batch, o.nInput] : [o.batch, o.time, o.nInput];
  const inputs: number[] = [];
  inputs[0] = add({ name: 'x', shape: xShape, type: TensorType.INT8, quant: { scale: [xs], zeroPoint: [5] } });
  inputs[1] = o.cifg ? none : w8('input_to_input', o.nCell, o.nInput);
  inputs[2] = w8('input_to_forget', o.nCell, o.nInput);
  inputs[3] = w8('input_to_cell', o.nCell, o.nInput);
  inputs[4] = w8('input_to_output', o.nCell, o.nInput);
  inputs[5] = o.cifg ? none : w8('recurrent_to_input', o.nCell, o.nOutput);
  inputs[6] = w8('recurrent_to_forget', o.nCell, o.nOutput);
  inputs[7] = w8('recurrent_to_cell', o.nCell, o.nOutput);
  inputs[8] = w8('recurrent_to_output', o.nCell, o.nOutput);
  inputs[9] = o.peephole && !o.cifg ? peep('cell_to_input') : none;
  inputs[10] = o.peephole ? peep('cell_to_forget') : none;
  inputs[11] = o.peephole ? peep('cell_to_output') : none;
  // with layer norm the gate bias is added to the normalized gate (1024 steps per coefficient step)
  const lns = 1e-4;
  const bs = o.layerNorm ? lns / 1024 : xs * ws;
  inputs[12] = o.cifg ? none : bias('input_gate_bias', o.nCell, bs);
  inputs[13] = bias('forget_gate_bias', o.nCell, bs);
  inputs[14] = bias('cell_gate_bias', o.nCell, bs);
  inputs[15] = bias('output_gate_bias', o.nCell, bs);
  inputs[16] = o.projection ? w8('projection_weights', o.nOutput, o.nCell, 0.02) : none;
  inputs[17] = o.projection ? bias('projection_bias', o.nOutput, 0.02 / 128) : none;
  inputs[18] = add({ name: 'output_state', shape: [o.batch, o.nOutput], type: TensorType.INT8, quant: { scale: [hs], zeroPoint: [hzp] }, variable: true });
  inputs[19] = add({ name: 'cell_state', shape: o.cellStateShape ?? [o.batch, o.nCell], type: TensorType.INT16, quant: { scale: [2 ** (o.cellScaleLog2 ?? -12)], zeroPoint: [0] }, variable: true });
  const norm = (name: string) => add({ name, shape: [o.nCell], type: TensorType.INT16, data: randomInts(Int16Array, o.nCell, 5000, 15000, r), quant: { scale: [lns], zeroPoint: [0] } });
  if (o.layerNorm) inputs.push(o.cifg ? none : norm('input_layer_norm'), norm('forget_layer_norm'), norm('cell_layer_norm'), norm('output_layer_norm'));
  else inputs.push(none, none, none, none);
  // the gates' grids before layer norm; without it they only hold a place
  const intermediates = ['input', 'forget', 'cell', 'output'].map((g) =>
    add(o.layerNorm ? { name: `${g}_intermediate`, shape: [0], type: TensorType.INT16, quant: { scale: [2 ** -10], zeroPoint: [0] } } : { name: `${g}_intermediate`, shape: [0], type: TensorType.FLOAT32 }),
  );
  intermediates.push(add({ name: 'effective_hidden_scale_intermediate', shape: [0], type: TensorType.INT8, quant: { scale: [1 / 128], zeroPoint: [hzp] } }));
  const yShape = o.timeMajor ? [o.time, o.batch, o.nOutput] : [o.batch, o.time, o.nOutput];
  const y = add({ name: 'y', shape: yShape, type: TensorType.INT8, quant: { scale: [hs], zeroPoint: [hzp] } });
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM],
    operators: [{ opcode: 0, inputs, outputs: [y], intermediates, options: (b) => ({ type: BuiltinOptions.UnidirectionalSequenceLSTMOptions, offset: UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, ActivationFunctionType.TANH, o.cellClip ?? 0, 0, !!o.timeMajor, false, false) }) }],
    inputs: [inputs[0]!],
    outputs: [y],
  });
}

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
