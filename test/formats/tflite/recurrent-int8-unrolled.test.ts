// GRU and RNN under full integer quantization: TFLite has no GRU builtin and no integer RNN, so
// the writer unrolls them (recurrent-unroll.ts) and the steps' FULLY_CONNECTED / ADD / MUL / SUB /
// LOGISTIC / TANH / RELU run in int8 (a GRU in int16x8 too); an LSTM stays TFLite's integer LSTM.
// Checked on the PyTorch fixtures of scripts/fixtures/recurrent_onnx.py in the real interpreter:
// int8 against PyTorch's outputs, nnport's integer runtime (XNNPACK requantization, as the
// interpreter runs these ops) against the interpreter's int8 values on every output.
// (Both were refused: "GRU with --quantize int8 in a TFLite file".)
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOffEach, opNamesOf, useTfliteOracle } from '../../support/tflite-test.js';
import { exportMissingRecurrentFixtures, recurrentFixture } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();
beforeAll(() => exportMissingRecurrentFixtures(), 600_000);

/** The integer runtime's largest distance from the interpreter's outputs, in LSB of each output's grid (XNNPACK's requantization). */
const lsbOff = (bytes: Uint8Array, x: Tensor, theirs: Float32Array[]): Promise<number[]> => integerRuntimeLsbOffEach(bytes, x, theirs, { requantization: 'xnnpack' });

// measured: gru 33.5 dB, rnn_tanh 31.0, rnn_relu_bidi 32.8; gru int16x8 46.1; 0 LSB everywhere
const CASES = [
  { net: 'gru', mode: 'int8', minDb: 28 },
  { net: 'rnn_tanh', mode: 'int8', minDb: 26 },
  { net: 'rnn_relu_bidi', mode: 'int8', minDb: 27 },
  { net: 'gru', mode: 'int16x8', minDb: 40 },
] as const;

describe('GRU / RNN unrolled into integer ops', () => {
  it.each(CASES.map((c) => [`${c.net} ${c.mode}`, c] as const))('%s: the interpreter vs PyTorch, nnport integer runtime vs the interpreter', { timeout: 300_000 }, async (_name, c) => {
    const f = await recurrentFixture(c.net);
    const random = rng(3);
    const sample = () => new Tensor('float32', f.input.shape, Float32Array.from({ length: f.input.size }, () => (random() * 2 - 1) * 2));
    const calibration = Array.from({ length: 32 }, () => [sample()]);
    const bytes = await writeTflite(f.graph, { quantize: { mode: c.mode, calibration } });
    const ops = opNamesOf(flatcJson(bytes, c.net));
    expect(ops.filter((o) => o.includes('SEQUENCE'))).toEqual([]);
    expect(ops).toContain('FULLY_CONNECTED');
    const json = flatcJson<{ subgraphs: Array<{ tensors: Array<{ type?: string }>; operators: Array<{ opcode_index?: number; inputs?: number[] }> }> }>(bytes, c.net);
    const fcInputs = json.subgraphs[0]!.operators.filter((o) => opNamesOf({ ...json, subgraphs: [{ ...json.subgraphs[0]!, operators: [o] }] } as never)[0] === 'FULLY_CONNECTED').map((o) => json.subgraphs[0]!.tensors[o.inputs![0]!]!.type);
    expect(new Set(fcInputs)).toEqual(new Set([c.mode === 'int8' ? 'INT8' : 'INT16']));
    const theirs = (await oracle.run(bytes, [f.input.toFloat32()])).map((t) => t.data as Float32Array);
    const snr = pooledSnrDb(f.outputs as Float32Array[], theirs);
    const off = await lsbOff(bytes, f.input, theirs);
    console.log(`${c.net} ${c.mode}: interpreter vs PyTorch ${snr.toFixed(1)} dB; nnport integer runtime ${off.join(', ')} LSB off the interpreter`);
    expect(snr).toBeGreaterThan(c.minDb);
    for (const v of off) expect(v).toBeLessThanOrEqual(1);
  });
});
