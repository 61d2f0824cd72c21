// ONNX LSTM / RNN (PyTorch exports: scripts/fixtures/recurrent_onnx.py) written to .tflite as
// UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN with variable state tensors, run by the real TFLite
// interpreter (tfjs-tflite in headless Chromium) and compared with PyTorch's own outputs; the
// written file read back by nnport's TFLite reader and run by nnport's runtime, compared again;
// every file checked by flatc with the schema.
//
// The interpreter keeps the state tensors between invokes; nnport's runtime starts every run at
// zero, as the interpreter's first invoke does. oracle.run() makes a fresh interpreter per call.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { flatcJson, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { exportMissingRecurrentFixtures, recurrentDir, recurrentFixture, relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

beforeAll(exportMissingRecurrentFixtures, 120_000);

interface FlatcModel {
  operator_codes: { builtin_code: string }[];
  subgraphs: { tensors: { name: string; shape: number[]; is_variable?: boolean; buffer: number }[]; inputs: number[]; outputs: number[]; operators: { opcode_index: number; inputs: number[]; outputs: number[]; builtin_options?: Record<string, unknown> }[] }[];
}

const opNames = (m: FlatcModel): string[] => m.subgraphs[0]!.operators.map((o) => m.operator_codes[o.opcode_index]!.builtin_code);

/** nnport's reader and runtime on a written file. */
async function nnportRun(bytes: Uint8Array, x: Tensor): Promise<Float32Array[]> {
  const g = await readTflite(bytes, { fileName: 'written.tflite' });
  const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
  return g.outputs.map((o) => outputs.get(o.name)!.toFloat32());
}

/** Writes the fixture, runs it in the interpreter and in nnport (read back); returns the file and flatc's view. */
async function check(name: string, options: { input?: (x: Tensor) => Tensor; tol?: number; /** an op nnport's reader may not read yet: then reading the file back must be refused naming it */ noReadBack?: string } = {}): Promise<{ bytes: Uint8Array; json: FlatcModel }> {
  const f = await recurrentFixture(name);
  const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite` });
  const json = flatcJson<FlatcModel>(bytes, name, { defaults: true });
  const x = options.input ? options.input(f.input) : f.input;
  const theirs = await oracle.run(bytes, [x.toFloat32()]);
  expect(theirs.length).toBe(f.outputs.length);
  // ops other work teaches nnport's reader: until it reads them, it refuses the file naming them
  const mine = options.noReadBack
    ? await nnportRun(bytes, x).catch((e: unknown) => {
        expect(e).toBeInstanceOf(UnsupportedError);
        expect(String(e)).toContain(options.noReadBack);
        return undefined;
      })
    : await nnportRun(bytes, x);
  for (let i = 0; i < f.outputs.length; i++) {
    const e = relErr(theirs[i]!.data as Float32Array, f.outputs[i]!);
    const m = mine && relErr(mine[i]!, f.outputs[i]!);
    console.log(`${name} output ${i}: interpreter vs PyTorch ${e.toExponential(2)}${m === undefined ? '' : `, nnport (file read back) vs PyTorch ${m.toExponential(2)}`} relative`);
    expect(e, `${name} output ${i}: interpreter`).toBeLessThan(options.tol ?? 1e-4);
    if (m !== undefined) expect(m, `${name} output ${i}: nnport`).toBeLessThan(options.tol ?? 1e-4);
  }
  return { bytes, json };
}

const lstmOps = (json: FlatcModel) => json.subgraphs[0]!.operators.filter((o) => json.operator_codes[o.opcode_index]!.builtin_code === 'UNIDIRECTIONAL_SEQUENCE_LSTM');

describe('ONNX LSTM -> UNIDIRECTIONAL_SEQUENCE_LSTM (PyTorch nn.LSTM exports)', () => {
  it('time-major nn.LSTM + Linear: one LSTM op (time_major) with two variable state tensors', async () => {
    const { json } = await check('lstm_time_major');
    const lstms = lstmOps(json);
    expect(lstms).toHaveLength(1);
    expect(lstms[0]!.builtin_options).toMatchObject({ time_major: true, fused_activation_function: 'TANH', cell_clip: 0 });
    const sg = json.subgraphs[0]!;
    const ins = lstms[0]!.inputs;
    expect(ins).toHaveLength(24);
    // output and cell state: variable, no data; peepholes, projection and layer norm absent
    for (const k of [18, 19]) expect(sg.tensors[ins[k]!]!.is_variable).toBe(true);
    for (const k of [9, 10, 11, 16, 17, 20, 21, 22, 23]) expect(ins[k]).toBe(-1);
    expect(sg.tensors[ins[1]!]!.shape).toEqual([7, 5]);
    expect(sg.tensors[ins[5]!]!.shape).toEqual([7, 7]);
  });

  it('the state tensors are variables: a second invoke of the same interpreter starts from the first one\'s final state, as in TF-converted files', async () => {
    const f = await recurrentFixture('lstm_time_major');
    const bytes = await writeTflite(f.graph);
    const [once] = await oracle.run(bytes, [f.input.toFloat32()]);
    const [twice] = await oracle.run(bytes, [f.input.toFloat32()], 2);
    expect(relErr(once!.data as Float32Array, f.outputs[0]!)).toBeLessThan(1e-4);
    expect(relErr(twice!.data as Float32Array, f.outputs[0]!)).toBeGreaterThan(1e-3);
  });

  it('batch_first, 2 layers, Linear head on h_n[-1] (Y_h): the last step sliced', async () => {
    const { json } = await check('lstm_batch_first');
    expect(lstmOps(json)).toHaveLength(2);
    expect(opNames(json)).toContain('SLICE');
  });

  it('batch_first, 1 layer, Linear head on every step', async () => {
    await check('lstm_batch_first_seq');
  });

  it('layout=1 (batch-major ONNX LSTM): time_major false, no TRANSPOSE', async () => {
    const { json } = await check('lstm_layout1');
    expect(lstmOps(json)[0]!.builtin_options).toMatchObject({ time_major: false });
    expect(opNames(json)).not.toContain('TRANSPOSE');
  });

  it('bidirectional, 2 layers, outputs Y through a Linear and h_n: two LSTM ops per layer, the backward one between REVERSE_V2s', async () => {
    // (nnport's TFLite reader learns REVERSE_V2 from the op-coverage work; until then it refuses the file by name)
    const { json } = await check('lstm_bidi', { noReadBack: 'REVERSE_V2' });
    const ops = opNames(json);
    expect(lstmOps(json)).toHaveLength(4);
    expect(ops.filter((o) => o === 'REVERSE_V2').length).toBe(4);
    expect(ops).toContain('PACK');
  });

  it('exported with a dynamic batch axis: written for batch 1 (as the writer writes every dynamic batch it must fold)', async () => {
    // (zero initial states made from x.shape: folded at batch 1)
    await check('lstm_dynamic_batch', { noReadBack: 'REVERSE_V2' });
  });

  it('exported with a dynamic time axis (static batch): -1 in shape_signature, and the file run at length 6 (its stored length set, as ResizeInputTensor does) gives PyTorch\'s outputs', async () => {
    const f = await recurrentFixture('lstm_dynamic_time_only');
    const bytes = await writeTflite(f.graph);
    const json = flatcJson<FlatcModel & { subgraphs: { tensors: { shape_signature?: number[] }[] }[] }>(bytes, 'dynamic_time', { defaults: true });
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([2, -1, 5]);
    const [y] = await oracle.run(withStoredDim(bytes, 1, 6), [f.input.toFloat32()]);
    expect(y!.shape).toEqual([2, 6, 3]);
    const e = relErr(y!.data as Float32Array, f.outputs[0]!);
    console.log(`lstm_dynamic_time_only at length 6: interpreter vs PyTorch ${e.toExponential(2)} relative`);
    expect(e).toBeLessThan(1e-4);
  });

  it('exported with dynamic batch and time axes: the batch fixed at 1, the time axis kept dynamic (PyTorch\'s zero states from x.shape no longer fix it); run at length 6', async () => {
    const f = await recurrentFixture('lstm_dynamic_time');
    const bytes = await writeTflite(f.graph);
    const json = flatcJson<FlatcModel & { subgraphs: { tensors: { shape_signature?: number[] }[] }[] }>(bytes, 'dynamic_batch_time', { defaults: true });
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([1, -1, 5]);
    const [y] = await oracle.run(withStoredDim(bytes, 1, 6), [f.input.toFloat32()]);
    expect(relErr(y!.data as Float32Array, f.outputs[0]!)).toBeLessThan(1e-4);
  });

  it('bidirectional, 2 layers, a head on y[:, -1] and h_n: static, and exported with dynamic batch and time (the last step counted from the end by STRIDED_SLICE), run at length 6', async () => {
    await check('lstm_last_step', { noReadBack: 'REVERSE_V2' });
    const f = await recurrentFixture('lstm_dynamic_last_step');
    const bytes = await writeTflite(f.graph);
    const json = flatcJson<FlatcModel & { subgraphs: { tensors: { shape_signature?: number[] }[] }[] }>(bytes, 'dynamic_last_step', { defaults: true });
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([1, -1, 5]);
    expect(opNames(json)).toContain('STRIDED_SLICE');
    const theirs = await oracle.run(withStoredDim(bytes, 1, 6), [f.input.toFloat32()]);
    f.outputs.forEach((want, i) => {
      const e = relErr(theirs[i]!.data as Float32Array, want);
      console.log(`lstm_dynamic_last_step output ${i} at length 6: interpreter vs PyTorch ${e.toExponential(2)} relative`);
      expect(e).toBeLessThan(1e-4);
    });
  });

  it('a CRNN (Conv2d, height squeezed, permuted, nn.LSTM batch_first): the layout pass reads the channels-last features with a batch-major LSTM, no TRANSPOSE', async () => {
    // the layout pass makes the model's input channels-last: NCHW -> NHWC
    const { json } = await check('lstm_conv', { input: (x) => x.permute([0, 2, 3, 1]) });
    expect(opNames(json)).not.toContain('TRANSPOSE');
    expect(lstmOps(json)[0]!.builtin_options).toMatchObject({ time_major: false });
  });
});

describe('ONNX RNN -> UNIDIRECTIONAL_SEQUENCE_RNN (PyTorch nn.RNN exports)', () => {
  it('tanh, batch_first, Linear head', async () => {
    // (nnport's TFLite reader learns UNIDIRECTIONAL_SEQUENCE_RNN from the recurrent-reader work; until then it refuses the file by name)
    const { json } = await check('rnn_tanh', { noReadBack: 'UNIDIRECTIONAL_SEQUENCE_RNN' });
    expect(opNames(json)).toContain('UNIDIRECTIONAL_SEQUENCE_RNN');
  });

  it('relu, 2 layers, bidirectional, outputs Y and h_n', async () => {
    const { json } = await check('rnn_relu_bidi', { noReadBack: 'UNIDIRECTIONAL_SEQUENCE_RNN' });
    expect(opNames(json).filter((o) => o === 'UNIDIRECTIONAL_SEQUENCE_RNN')).toHaveLength(4);
  });
});

describe('--quantize', () => {
  it('float16: every LSTM weight float16 behind a DEQUANTIZE; within 1e-3 of PyTorch in the interpreter and read back', async () => {
    const f = await recurrentFixture('lstm_batch_first');
    const bytes = await writeTflite(f.graph, { fileName: 'half.tflite', quantize: { mode: 'float16' } });
    const json = flatcJson<FlatcModel>(bytes, 'half', { defaults: true });
    const sg = json.subgraphs[0]!;
    const producer = new Map(sg.operators.flatMap((op) => op.outputs.map((o) => [o, op] as const)));
    const types = (json as unknown as { subgraphs: { tensors: { type: string }[] }[] }).subgraphs[0]!.tensors.map((t) => t.type);
    const lstms = lstmOps(json);
    expect(lstms).toHaveLength(2);
    for (const op of lstms) {
      // the 12 weights and biases of a non-CIFG LSTM without peepholes
      const weights = op.inputs.filter((t, k) => t >= 0 && k !== 0 && k !== 18 && k !== 19);
      expect(weights).toHaveLength(12);
      for (const w of weights) {
        const dq = producer.get(w)!;
        expect(json.operator_codes[dq.opcode_index]!.builtin_code).toBe('DEQUANTIZE');
        expect(types[dq.inputs[0]!]).toBe('FLOAT16');
      }
    }
    const theirs = await oracle.run(bytes, [f.input.toFloat32()]);
    const mine = await nnportRun(bytes, f.input);
    for (let i = 0; i < f.outputs.length; i++) {
      const e = relErr(theirs[i]!.data as Float32Array, f.outputs[i]!);
      console.log(`lstm_batch_first float16 output ${i}: interpreter vs PyTorch ${e.toExponential(2)} relative`);
      expect(e).toBeLessThan(1e-3);
      expect(relErr(mine[i]!, theirs[i]!.data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  it('dynamic: the LSTM stays float32, and a note says so', async () => {
    const f = await recurrentFixture('lstm_bidi');
    const notes: string[] = [];
    const bytes = await writeTflite(f.graph, { fileName: 'dynamic.tflite', quantize: { mode: 'dynamic', onNote: (n) => notes.push(n) } });
    expect(notes.join('\n')).toMatch(/LSTM '.*': weights kept float32 under --quantize dynamic/);
    const json = flatcJson<FlatcModel>(bytes, 'dynamic', { defaults: true });
    const types = (json as unknown as { subgraphs: { tensors: { type: string }[] }[] }).subgraphs[0]!.tensors.map((t) => t.type);
    for (const op of lstmOps(json)) expect(types[op.inputs[2]!]).toBe('FLOAT32');
    const theirs = await oracle.run(bytes, [f.input.toFloat32()]);
    for (let i = 0; i < f.outputs.length; i++) expect(relErr(theirs[i]!.data as Float32Array, f.outputs[i]!)).toBeLessThan(1e-4);
  });

  it('dynamic: an unrolled GRU is written and runs (its small weights stay float, under the 1024-element threshold)', async () => {
    const f = await recurrentFixture('gru');
    const notes: string[] = [];
    const bytes = await writeTflite(f.graph, { quantize: { mode: 'dynamic', onNote: (n) => notes.push(n) } });
    expect(notes.join('\n')).not.toMatch(/GRU/);
    const [y] = await oracle.run(bytes, [f.input.toFloat32()]);
    expect(relErr(y!.data as Float32Array, f.outputs[0]!)).toBeLessThan(1e-4);
  });

  it('int16x8: refused, naming the LSTMs (int8 writes the integer LSTM: lstm-int8-write*.test.ts)', async () => {
    const f = await recurrentFixture('lstm_time_major');
    const err = await writeTflite(f.graph, { quantize: { mode: 'int16x8', calibration: [[f.input]] } }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/LSTM with --quantize int16x8 in a TFLite file.*LSTM '\/lstm\/LSTM'/);
  });
});

describe('ONNX GRU -> its steps in plain ops (TFLite has no GRU builtin)', () => {
  it('nn.GRU batch_first + Linear on the last step: unrolled, no GRU-like op left', async () => {
    const { json } = await check('gru');
    const ops = opNames(json);
    expect(ops).toContain('LOGISTIC');
    expect(ops).toContain('TANH');
    expect(ops.filter((o) => o.includes('SEQUENCE'))).toEqual([]);
  });
});

describe('CLI', () => {
  it('nnport convert model.onnx -o m.tflite writes the LSTM the interpreter runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnport-lstm-'));
    try {
      if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: REPO_ROOT, stdio: 'ignore' });
      const out = join(dir, 'm.tflite');
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/nnport.js'), 'convert', join(recurrentDir('lstm_batch_first_seq'), 'model.onnx'), '-o', out], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const f = await recurrentFixture('lstm_batch_first_seq');
      const [y] = await oracle.run(new Uint8Array(readFileSync(out)), [f.input.toFloat32()]);
      expect(relErr(y!.data as Float32Array, f.outputs[0]!)).toBeLessThan(1e-4);
      // a refusal is one line naming the feature, and writes nothing
      mkdirSync(join(dir, 'calib'));
      copyFileSync(join(recurrentDir('lstm_batch_first_seq'), 'input.npy'), join(dir, 'calib/x0.npy'));
      // (int16x8 writes a GRU only, unrolled: an LSTM is refused)
      const int16 = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/nnport.js'), 'convert', join(recurrentDir('lstm_batch_first_seq'), 'model.onnx'), '-o', join(dir, 'int16.tflite'), '--quantize', 'int16x8', '--calibration', join(dir, 'calib')], { encoding: 'utf8' });
      expect(int16.status).not.toBe(0);
      expect(int16.stderr.trim().split('\n')).toHaveLength(1);
      expect(int16.stderr).toMatch(/LSTM with --quantize int16x8 in a TFLite file/);
      expect(existsSync(join(dir, 'int16.tflite'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
