// ONNX LSTM / RNN written under --quantize dynamic as TFLite's hybrid UNIDIRECTIONAL_SEQUENCE_LSTM /
// _RNN (int8 weights with one symmetric scale per tensor, float biases and state,
// asymmetric_quantize_inputs as TF's converter sets it). Each file is checked by:
//   (a) the real TFLite interpreter (a fresh one per run) against PyTorch (the recurrent_onnx.py
//       fixtures) or onnxruntime on the float ONNX model (features PyTorch does not export), within
//       the dynamic-range tolerance (5e-2 relative);
//   (b) nnport reading the file back and running it (nnport::HybridLSTM / HybridRNN: the kernel's
//       int8 rounding of each step's input and of the recurrent state) against the interpreter, to
//       float rounding (< 2e-6 relative); the same graph without the rounding (weight-only) is
//       measurably further off (> 1e-4);
//   (c) flatc's verifier with the schema;
//   (d) the tensors themselves: every LSTM / RNN weight INT8 with one scale and zero point 0 (and
//       the op's version 3, as TF's converter writes a hybrid op with asymmetric inputs).
// The fixtures' layers are small (hidden 6-7): minElements 1 makes them hybrid (TF's default 1024
// leaves such layers float, as the last tests check).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { dropHybridInputs } from '../../../src/passes/hybrid-inputs.js';
import type { QuantizeOptions } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { flatcJson, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { buildOneNodeRecurrent, int, type OneNodeRecurrent } from './one-node-recurrent.js';
import { exportMissingRecurrentFixtures, recurrentDir, recurrentFixture, relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

beforeAll(exportMissingRecurrentFixtures, 120_000);

/** The tolerance for dynamic-range models against the float framework. */
const DYNAMIC_TOL = 5e-2;

interface FlatcTensor {
  name: string;
  type?: string;
  shape: number[];
  shape_signature?: number[];
  buffer: number;
  quantization?: { scale?: number[]; zero_point?: number[] };
}
interface FlatcModel {
  operator_codes: { builtin_code: string; version: number }[];
  subgraphs: { tensors: FlatcTensor[]; inputs: number[]; outputs: number[]; operators: { opcode_index: number; inputs: number[]; outputs: number[]; builtin_options?: Record<string, unknown> }[] }[];
}

const SEQUENCE_OPS = new Set(['UNIDIRECTIONAL_SEQUENCE_LSTM', 'UNIDIRECTIONAL_SEQUENCE_RNN']);

/** The sequence ops of a file, with their tensors. */
function sequenceOps(json: FlatcModel) {
  const sg = json.subgraphs[0]!;
  return sg.operators
    .filter((o) => SEQUENCE_OPS.has(json.operator_codes[o.opcode_index]!.builtin_code))
    .map((o) => ({ code: json.operator_codes[o.opcode_index]!.builtin_code, version: json.operator_codes[o.opcode_index]!.version, options: o.builtin_options ?? {}, input: (k: number) => (o.inputs[k]! >= 0 ? sg.tensors[o.inputs[k]!] : undefined) }));
}

/** (d): weights (and peepholes) INT8, one scale, zero point 0; biases and states FLOAT32; asymmetric_quantize_inputs set. */
function expectHybrid(json: FlatcModel, count: number, peepholes = false): void {
  const ops = sequenceOps(json);
  expect(ops).toHaveLength(count);
  for (const op of ops) {
    const lstm = op.code === 'UNIDIRECTIONAL_SEQUENCE_LSTM';
    const weights = lstm ? [1, 2, 3, 4, 5, 6, 7, 8, ...(peepholes ? [9, 10, 11] : [])] : [1, 2];
    const floats = lstm ? [13, 14, 15, 18, 19] : [3, 4];
    let seen = 0;
    for (const k of weights) {
      const t = op.input(k);
      if (!t) continue; // CIFG: no input gate
      seen++;
      expect(t.type, `${op.code} input ${k}`).toBe('INT8');
      expect(t.quantization?.scale).toHaveLength(1);
      expect(t.quantization?.zero_point ?? [0]).toEqual([0]);
    }
    expect(seen).toBeGreaterThanOrEqual(lstm ? 6 : 2);
    for (const k of floats) expect(op.input(k)!.type ?? 'FLOAT32', `${op.code} input ${k}`).toBe('FLOAT32');
    expect(op.options.asymmetric_quantize_inputs).toBe(true);
    // TF's op_version.cc: a hybrid sequence op with asymmetric inputs is version 3
    expect(op.version).toBe(3);
  }
}

/**
 * (b): nnport on the file read back against the interpreter's outputs `theirs`: the hybrid graph
 * (with the kernels' rounding) and the same graph without it (weight-only).
 */
async function readBack(bytes: Uint8Array, x: Tensor, theirs: Float32Array[]): Promise<{ hybrid: number; weightOnly: number; graph: Graph }> {
  const g = await readTflite(bytes, { fileName: 'written.tflite' });
  expect(g.nodes.some((n) => n.domain === 'nnport' && (n.opType === 'HybridLSTM' || n.opType === 'HybridRNN'))).toBe(true);
  const run = async (graph: Graph) => {
    const { outputs } = await runGraph(graph, new Map([[g.inputs[0]!.name, x]]));
    return g.outputs.map((o) => outputs.get(o.name)!.toFloat32());
  };
  const mine = await run(g);
  const plain = await run(dropHybridInputs(g).graph);
  return {
    hybrid: Math.max(...theirs.map((t, i) => relErr(mine[i]!, t))),
    weightOnly: Math.max(...theirs.map((t, i) => relErr(plain[i]!, t))),
    graph: g,
  };
}

const DYNAMIC = (minElements = 1, notes?: string[]): QuantizeOptions => ({ mode: 'dynamic', minElements, onNote: (n) => notes?.push(n) });

/** Writes fixture `name` hybrid, runs it in the interpreter and in nnport; (a)-(d). */
async function checkFixture(name: string, ops: number): Promise<{ json: FlatcModel; bytes: Uint8Array }> {
  const f = await recurrentFixture(name);
  const float = await writeTflite(f.graph, { fileName: `${name}.tflite` });
  const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite`, quantize: DYNAMIC() });
  const json = flatcJson<FlatcModel>(bytes, name, { defaults: true });
  expectHybrid(json, ops);
  // the weights are int8: the file is smaller than the float one
  expect(bytes.length).toBeLessThan(float.length);
  const theirs = (await oracle.run(bytes, [f.input.toFloat32()])).map((t) => t.data as Float32Array);
  expect(theirs).toHaveLength(f.outputs.length);
  const vsTorch = Math.max(...f.outputs.map((want, i) => relErr(theirs[i]!, want)));
  const back = await readBack(bytes, f.input, theirs);
  console.log(`${name} hybrid (${bytes.length} bytes, float ${float.length}): interpreter vs PyTorch ${vsTorch.toExponential(2)}; nnport (read back) vs interpreter ${back.hybrid.toExponential(2)}, weight-only ${back.weightOnly.toExponential(2)} (relative)`);
  expect(vsTorch).toBeLessThan(DYNAMIC_TOL);
  expect(back.hybrid).toBeLessThan(2e-6);
  expect(back.weightOnly).toBeGreaterThan(1e-4);
  return { json, bytes };
}

describe('ONNX LSTM / RNN -> hybrid sequence ops under --quantize dynamic (PyTorch exports)', () => {
  it('time-major nn.LSTM + Linear', async () => {
    const { json } = await checkFixture('lstm_time_major', 1);
    expect(sequenceOps(json)[0]!.options).toMatchObject({ time_major: true });
  });

  it('batch_first, 2 layers, a head on h_n[-1] (Y_h sliced)', async () => {
    await checkFixture('lstm_batch_first', 2);
  });

  it('layout=1 (batch-major ONNX LSTM)', async () => {
    const { json } = await checkFixture('lstm_layout1', 1);
    expect(sequenceOps(json)[0]!.options).toMatchObject({ time_major: false });
  });

  it('bidirectional, 2 layers, Y through a Linear and h_n: two hybrid ops per layer, PACK, REVERSE_V2', async () => {
    const { json } = await checkFixture('lstm_bidi', 4);
    const names = json.subgraphs[0]!.operators.map((o) => json.operator_codes[o.opcode_index]!.builtin_code);
    expect(names).toContain('PACK');
    expect(names.filter((n) => n === 'REVERSE_V2').length).toBe(4);
  });

  it('nn.RNN tanh, batch_first, Linear head', async () => {
    await checkFixture('rnn_tanh', 1);
  });

  it('nn.RNN relu, 2 layers, bidirectional, Y and h_n', async () => {
    await checkFixture('rnn_relu_bidi', 4);
  });

  it('a dynamic time axis: -1 in shape_signature kept, the file run at length 6', async () => {
    const f = await recurrentFixture('lstm_dynamic_time_only');
    const bytes = await writeTflite(f.graph, { quantize: DYNAMIC() });
    const json = flatcJson<FlatcModel>(bytes, 'dynamic_time', { defaults: true });
    expectHybrid(json, 1);
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([2, -1, 5]);
    const at6 = withStoredDim(bytes, 1, 6);
    const [y] = await oracle.run(at6, [f.input.toFloat32()]);
    const e = relErr(y!.data as Float32Array, f.outputs[0]!);
    // nnport reads the file with its time axis dynamic and runs it at length 6
    const back = await readBack(bytes, f.input, [y!.data as Float32Array]);
    console.log(`lstm_dynamic_time_only hybrid at length 6: interpreter vs PyTorch ${e.toExponential(2)}; nnport (read back) vs interpreter ${back.hybrid.toExponential(2)}, weight-only ${back.weightOnly.toExponential(2)}`);
    expect(e).toBeLessThan(DYNAMIC_TOL);
    expect(back.hybrid).toBeLessThan(2e-6);
    expect(back.weightOnly).toBeGreaterThan(1e-4);
  });
});

// ---- features PyTorch does not export: one-node ONNX models, onnxruntime on the float model as the oracle ----

type Case = OneNodeRecurrent & { name: string; op: 'LSTM' | 'RNN' };

const build = (c: Case, seed: number) => buildOneNodeRecurrent({ ...c, bias: true }, seed, { weights: 0.6, bias: 0.4, peepholes: 0.6 });

const CASES: Case[] = [
  { name: 'LSTM with peepholes', op: 'LSTM', seq: 5, batch: 2, input: 4, hidden: 6, peepholes: true },
  { name: 'LSTM CIFG (input_forget) with peepholes, reverse', op: 'LSTM', seq: 5, batch: 2, input: 4, hidden: 6, peepholes: true, direction: 'reverse', attrs: { input_forget: int(1) } },
  { name: 'LSTM bidirectional with peepholes, Y_h alone', op: 'LSTM', seq: 4, batch: 3, input: 5, hidden: 4, peepholes: true, direction: 'bidirectional', outputs: ['', 'Y_h'] },
  { name: 'LSTM relu activations', op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 5, attrs: { activations: { type: 'strings', value: ['Sigmoid', 'Relu', 'Relu'] } } },
  { name: 'RNN relu, reverse', op: 'RNN', seq: 5, batch: 2, input: 4, hidden: 6, direction: 'reverse', attrs: { activations: { type: 'strings', value: ['Relu'] } } },
];

describe('ONNX LSTM / RNN features -> hybrid sequence ops (onnxruntime on the float model)', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (name, c, i) => {
    const { graph, x } = build(c, 300 + i);
    const session = await ort.InferenceSession.create(await writeOnnx(graph), { logSeverityLevel: 3 });
    let want: Float32Array[];
    try {
      const res = await session.run({ X: new ort.Tensor('float32', x.toFloat32(), x.shape) });
      want = graph.outputs.map((o) => res[o.name]!.data as Float32Array);
    } finally {
      await session.release();
    }
    const bytes = await writeTflite(graph, { fileName: `${c.op}.tflite`, quantize: DYNAMIC() });
    const json = flatcJson<FlatcModel>(bytes, `case${i}`, { defaults: true });
    expectHybrid(json, c.direction === 'bidirectional' ? 2 : 1, c.peepholes);
    const theirs = (await oracle.run(bytes, [x.toFloat32()])).map((t) => t.data as Float32Array);
    const vsFloat = Math.max(...want.map((w, k) => relErr(theirs[k]!, w)));
    const back = await readBack(bytes, x, theirs);
    console.log(`${name} hybrid: interpreter vs onnxruntime (float) ${vsFloat.toExponential(2)}; nnport (read back) vs interpreter ${back.hybrid.toExponential(2)}, weight-only ${back.weightOnly.toExponential(2)} (relative)`);
    expect(vsFloat).toBeLessThan(DYNAMIC_TOL);
    expect(back.hybrid).toBeLessThan(2e-6);
    expect(back.weightOnly).toBeGreaterThan(1e-4);
  });
});

describe('--quantize dynamic: recurrent layers that stay float', () => {
  it('under --min-elements (TF\'s 1024 by default) and with weight-only kernels: float32 weights and a note naming the op', async () => {
    const f = await recurrentFixture('lstm_time_major');
    const notes: string[] = [];
    const bytes = await writeTflite(f.graph, { quantize: { mode: 'dynamic', onNote: (n) => notes.push(n) } });
    expect(notes).toContainEqual(expect.stringMatching(/LSTM '.*': weights kept float32 under --quantize dynamic \(its largest gate weight matrix has 49 elements, fewer than --min-elements 1024/));
    const lstm = sequenceOps(flatcJson<FlatcModel>(bytes, 'small', { defaults: true }))[0]!;
    expect(lstm.input(2)!.type ?? 'FLOAT32').toBe('FLOAT32');
    const weightOnly: string[] = [];
    const wo = await writeTflite(f.graph, { quantize: { mode: 'dynamic', minElements: 1, dynamic: 'weight-only', onNote: (n) => weightOnly.push(n) } });
    expect(weightOnly).toContainEqual(expect.stringMatching(/LSTM '.*': weights kept float32 under --quantize dynamic with weight-only kernels/));
    expect(sequenceOps(flatcJson<FlatcModel>(wo, 'weight_only', { defaults: true }))[0]!.input(2)!.type ?? 'FLOAT32').toBe('FLOAT32');
    // both still compute the float LSTM: within float tolerance of PyTorch
    const [y] = await oracle.run(bytes, [f.input.toFloat32()]);
    expect(relErr(y!.data as Float32Array, f.outputs[0]!)).toBeLessThan(DYNAMIC_TOL);
  });
});

describe('the CLI', () => {
  it('nnport convert model.onnx -o m.tflite --quantize dynamic [--min-elements N]: hybrid LSTM at --min-elements 1, a note naming the float LSTM at the default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnport-hybrid-lstm-'));
    try {
      const onnx = join(recurrentDir('lstm_time_major'), 'model.onnx');
      const said: string[] = [];
      expect(await main(['convert', onnx, '-o', join(dir, 'small.tflite'), '--quantize', 'dynamic'], (t) => said.push(t), (t) => said.push(t))).toBe(0);
      expect(said.join('\n')).toMatch(/note: LSTM '.*': weights kept float32 under --quantize dynamic \(its largest gate weight matrix has 49 elements, fewer than --min-elements 1024/);
      const hybrid: string[] = [];
      expect(await main(['convert', onnx, '-o', join(dir, 'hybrid.tflite'), '--quantize', 'dynamic', '--min-elements', '1'], (t) => hybrid.push(t), (t) => hybrid.push(t))).toBe(0);
      expect(hybrid.join('\n')).not.toMatch(/note:/);
      expectHybrid(flatcJson<FlatcModel>(new Uint8Array(readFileSync(join(dir, 'hybrid.tflite'))), 'cli', { defaults: true }), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
