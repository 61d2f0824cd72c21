// TFLite hybrid (dynamic-range: int8 weights, float activations) UNIDIRECTIONAL_SEQUENCE_LSTM and
// SVDF built here with random weights, run by the real interpreter (a fresh one per run) against
// nnport. The hybrid kernels round their float matmul inputs (each step's input, the recurrent
// state, the projection's input; SVDF's input) to int8 per row on the fly and scale the int32 sums
// back: nnport reads that as nnport::HybridInputQuantize before float ops on the dequantized
// weights, which gives the interpreter's numbers to float rounding; without the rounding (the
// weight-only model, what the ONNX file gets) the difference is far larger. The ONNX file is
// checked against nnport's weight-only run in onnxruntime-node. Written back to .tflite, a hybrid
// LSTM / RNN stays hybrid (nnport::HybridLSTM / HybridRNN -> the same kernel, int8 weights).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { SVDFOptions } from '../../../src/formats/generated/tflite/svdfoptions.js';
import { UnidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/unidirectional-sequence-lstmoptions.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import { QuantizationError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { dropHybridInputs } from '../../../src/passes/hybrid-inputs.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { buildRnn, int8Weight, type RnnSpec } from './rnn-model.js';
import { buildModel, TensorType, type BuiltTensor } from './svdf-model.js';

const oracle = useTfliteOracle();


interface HybridLstmSpec {
  name: string;
  T: number;
  B: number;
  I: number;
  N: number;
  O?: number;
  asymmetric: boolean;
  timeMajor?: boolean;
  cifg?: boolean;
  peepholes?: boolean;
  projectionBias?: boolean;
  layerNorm?: boolean;
  cellClip?: number;
  /** per-channel weights (refused) */
  perChannel?: boolean;
}

function buildHybridLstm(s: HybridLstmSpec, seed: number): Uint8Array {
  const r = rng(seed);
  const O = s.O ?? s.N;
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const tensors: BuiltTensor[] = [];
  const push = (t: BuiltTensor): number => tensors.push(t) - 1;
  const seq = (k: number) => (s.timeMajor ? [s.T, s.B, k] : [s.B, s.T, k]);
  const x = push({ name: 'x', shape: seq(s.I), type: TensorType.FLOAT32 });
  const w = (name: string, rows: number, cols: number) => {
    const t = int8Weight(name, [rows, cols], rand(rows * cols, 0.6));
    if (s.perChannel) t.quant = { scale: Array.from({ length: rows }, (_, k) => t.quant!.scale[0]! * (1 + k / 10)), zeroPoint: new Array<number>(rows).fill(0), axis: 0 };
    return push(t);
  };
  const v = (name: string, n: number) => push({ name, shape: [n], type: TensorType.FLOAT32, data: rand(n, 0.5) });
  const inputs = new Array<number>(24).fill(-1);
  inputs[0] = x;
  const gates = ['input', 'forget', 'cell', 'output'];
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[1 + k] = w(`input_to_${g}`, s.N, s.I);
  });
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[5 + k] = w(`recurrent_to_${g}`, s.N, O);
  });
  if (s.peepholes) {
    // the converter quantizes the peepholes too: the kernel dequantizes them
    if (!s.cifg) inputs[9] = push(int8Weight('cell_to_input', [s.N], rand(s.N, 0.5)));
    inputs[10] = push(int8Weight('cell_to_forget', [s.N], rand(s.N, 0.5)));
    inputs[11] = push(int8Weight('cell_to_output', [s.N], rand(s.N, 0.5)));
  }
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[12 + k] = v(`${g}_gate_bias`, s.N);
  });
  if (s.O !== undefined) {
    inputs[16] = w('projection_weights', O, s.N);
    if (s.projectionBias) inputs[17] = v('projection_bias', O);
  }
  inputs[18] = push({ name: 'output_state', shape: [s.B, O], type: TensorType.FLOAT32, variable: true });
  inputs[19] = push({ name: 'cell_state', shape: [s.B, s.N], type: TensorType.FLOAT32, variable: true });
  if (s.layerNorm) {
    gates.forEach((g, k) => {
      if (g !== 'input' || !s.cifg) inputs[20 + k] = push({ name: `${g}_layer_norm`, shape: [s.N], type: TensorType.FLOAT32, data: Float32Array.from({ length: s.N }, () => 0.5 + r()) });
    });
  }
  const y = push({ name: 'y', shape: seq(O), type: TensorType.FLOAT32 });
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM],
    operators: [
      {
        opcode: 0,
        inputs,
        outputs: [y],
        options: (b) => ({
          type: BuiltinOptions.UnidirectionalSequenceLSTMOptions,
          offset: UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, ActivationFunctionType.TANH, s.cellClip ?? 0, 0, !!s.timeMajor, s.asymmetric, false),
        }),
      },
    ],
    inputs: [x],
    outputs: [y],
  });
}

function buildHybridSvdf(o: { batch: number; input: number; filters: number; memory: number; rank: number; asymmetric: boolean; act: ActivationFunctionType }, seed: number): Uint8Array {
  const r = rng(seed);
  const units = o.filters / o.rank;
  const floats = (n: number, amp: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * amp);
  const tensors: BuiltTensor[] = [
    { name: 'x', shape: [o.batch, o.input], type: TensorType.FLOAT32 },
    int8Weight('weights_feature', [o.filters, o.input], floats(o.filters * o.input, 0.5)),
    int8Weight('weights_time', [o.filters, o.memory], floats(o.filters * o.memory, 1)),
    { name: 'bias', shape: [units], type: TensorType.FLOAT32, data: floats(units, 0.3) },
    { name: 'state', shape: [o.batch, o.filters * o.memory], type: TensorType.FLOAT32, variable: true },
    { name: 'y', shape: [o.batch, units], type: TensorType.FLOAT32 },
  ];
  const options = (b: Parameters<typeof SVDFOptions.createSVDFOptions>[0]) => ({ type: BuiltinOptions.SVDFOptions, offset: SVDFOptions.createSVDFOptions(b, o.rank, o.act, o.asymmetric) });
  return buildModel({ tensors, opcodes: [BuiltinOperator.SVDF], operators: [{ opcode: 0, inputs: [0, 1, 2, 3, 4], outputs: [5], options }], inputs: [0], outputs: [5] });
}

/** nnport (with the hybrid rounding, and weight-only without it) and the ONNX file in onnxruntime against the interpreter on `runs` random inputs: the worst relative errors. */
async function check(file: Uint8Array, name: string, runs: number, seed: number): Promise<{ nnport: number; weightOnly: number; ort: number }> {
  const g = await readTflite(file, { fileName: `${name}.tflite` });
  const weightOnly: Graph = dropHybridInputs(g).graph;
  const { bytes } = await convert(await loadModel(file, { fileName: `${name}.tflite` }), `${name}.onnx`);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const r = rng(seed);
  const worst = { nnport: 0, weightOnly: 0, ort: 0 };
  try {
    for (let k = 0; k < runs; k++) {
      const shape = g.inputs[0]!.shape as number[];
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * 2);
      const [theirs] = await oracle.run(file, [x]);
      const want = theirs!.data as Float32Array;
      const run = async (graph: Graph) => (await runGraph(graph, { [g.inputs[0]!.name]: Tensor.float32(shape, x) })).outputs.get(g.outputs[0]!.name)!;
      const mine = await run(g);
      expect(mine.shape).toEqual(theirs!.shape);
      const plain = (await run(weightOnly)).toFloat32();
      const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
      worst.nnport = Math.max(worst.nnport, relErr(mine.toFloat32(), want));
      worst.weightOnly = Math.max(worst.weightOnly, relErr(plain, want));
      worst.ort = Math.max(worst.ort, relErr(res[session.outputNames[0]!]!.data as Float32Array, plain));
    }
  } finally {
    await session.release();
  }
  return worst;
}

const LSTM_CASES: HybridLstmSpec[] = [
  { name: 'symmetric inputs, batch-major, batch 2', T: 5, B: 2, I: 4, N: 5, asymmetric: false },
  { name: 'asymmetric inputs, time-major, CIFG with int8 peepholes', T: 4, B: 3, I: 3, N: 4, asymmetric: true, timeMajor: true, cifg: true, peepholes: true },
  { name: 'asymmetric inputs, int8 projection with bias, cell_clip', T: 4, B: 2, I: 3, N: 5, O: 3, asymmetric: true, projectionBias: true, cellClip: 0.8 },
  { name: 'symmetric inputs, layer norm, projection', T: 3, B: 2, I: 4, N: 4, O: 3, asymmetric: false, layerNorm: true },
];

const A = ActivationFunctionType;
const RNN_CASES: RnnSpec[] = [
  { name: 'RNN tanh, symmetric', kind: 'RNN', T: 1, B: 3, I: 4, N: 5, act: A.TANH, rnns: 0, hybrid: { asymmetric: false } },
  { name: 'UNIDIRECTIONAL_SEQUENCE_RNN relu, asymmetric, batch-major', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 5, B: 2, I: 3, N: 4, act: A.RELU, rnns: 0, hybrid: { asymmetric: true } },
  { name: 'UNIDIRECTIONAL_SEQUENCE_RNN tanh, symmetric, time-major', kind: 'UNIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 4, act: A.TANH, timeMajor: true, rnns: 0, hybrid: { asymmetric: false } },
  { name: 'BIDIRECTIONAL_SEQUENCE_RNN tanh, asymmetric, batch-major, merged', kind: 'BIDIRECTIONAL_SEQUENCE_RNN', T: 4, B: 2, I: 3, N: 4, act: A.TANH, merge: true, rnns: 0, hybrid: { asymmetric: true } },
];

describe('TFLite hybrid recurrent ops against the interpreter', () => {
  it.each(LSTM_CASES.map((c, i) => [c.name, c, i] as const))('UNIDIRECTIONAL_SEQUENCE_LSTM, %s', async (name, c, i) => {
    const file = buildHybridLstm(c, 40 + i);
    const g = await readTflite(file);
    // what ONNX LSTM expresses is one nnport::HybridLSTM; a projection, layer norm or cell_clip is unrolled with HybridInputQuantize markers
    const unrolled = c.O !== undefined || !!c.layerNorm || !!c.cellClip;
    const hybrid = g.nodes.filter((n) => n.opType === (unrolled ? 'HybridInputQuantize' : 'HybridLSTM'));
    expect(hybrid.length).toBeGreaterThan(0);
    expect(hybrid.every((n) => n.domain === 'nnport' && n.attrs.symmetric?.value === (c.asymmetric ? 0 : 1))).toBe(true);
    const e = await check(file, `hybrid-lstm${i}`, 3, 60 + i);
    console.log(`hybrid LSTM ${name}: nnport vs interpreter ${e.nnport.toExponential(2)} (weight-only ${e.weightOnly.toExponential(2)}); ONNX in onnxruntime vs weight-only ${e.ort.toExponential(2)}`);
    expect(e.nnport).toBeLessThanOrEqual(1e-5);
    expect(e.weightOnly).toBeGreaterThan(1e-4);
    expect(e.ort).toBeLessThanOrEqual(1e-5);
  });

  it.each(RNN_CASES.map((c, i) => [c.name, c, i] as const))('%s', async (name, c, i) => {
    const file = buildRnn(c, 120 + i);
    const e = await check(file, `hybrid-rnn${i}`, 3, 140 + i);
    console.log(`hybrid ${name}: nnport vs interpreter ${e.nnport.toExponential(2)} (weight-only ${e.weightOnly.toExponential(2)}); ONNX in onnxruntime vs weight-only ${e.ort.toExponential(2)}`);
    expect(e.nnport).toBeLessThanOrEqual(1e-5);
    expect(e.weightOnly).toBeGreaterThan(1e-4);
    expect(e.ort).toBeLessThanOrEqual(1e-5);
  });

  it.each([
    [false, ActivationFunctionType.RELU, 2],
    [true, ActivationFunctionType.NONE, 1],
    [true, ActivationFunctionType.TANH, 4],
  ] as const)('SVDF, asymmetric %s, activation %s, rank %s', async (asymmetric, act, rank) => {
    const file = buildHybridSvdf({ batch: 2, input: 7, filters: 4 * rank, memory: 3, rank, asymmetric, act }, 80 + rank);
    const g = await readTflite(file);
    expect(g.nodes.map((n) => n.opType)).toEqual(['HybridInputQuantize', 'Svdf']);
    const r = rng(90 + rank);
    let worst = 0;
    let weightOnlyWorst = 0;
    for (let k = 0; k < 4; k++) {
      const x = Float32Array.from({ length: 14 }, () => r() * 4 - 2);
      const [theirs] = await oracle.run(file, [x]);
      const want = theirs!.data as Float32Array;
      worst = Math.max(worst, relErr((await runGraph(g, { x: Tensor.float32([2, 7], x) })).outputs.get('y')!.toFloat32(), want));
      weightOnlyWorst = Math.max(weightOnlyWorst, relErr((await runGraph(dropHybridInputs(g).graph, { x: Tensor.float32([2, 7], x) })).outputs.get('y')!.toFloat32(), want));
    }
    console.log(`hybrid SVDF asymmetric ${asymmetric} rank ${rank}: nnport vs interpreter ${worst.toExponential(2)} (weight-only ${weightOnlyWorst.toExponential(2)})`);
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(weightOnlyWorst).toBeGreaterThan(1e-4);
  });

  it.each([
    ['LSTM, symmetric inputs, batch-major', () => buildHybridLstm(LSTM_CASES[0]!, 2), 'UNIDIRECTIONAL_SEQUENCE_LSTM'],
    ['LSTM, asymmetric inputs, CIFG with int8 peepholes', () => buildHybridLstm(LSTM_CASES[1]!, 3), 'UNIDIRECTIONAL_SEQUENCE_LSTM'],
    ['UNIDIRECTIONAL_SEQUENCE_RNN relu, asymmetric', () => buildRnn(RNN_CASES[1]!, 4), 'UNIDIRECTIONAL_SEQUENCE_RNN'],
    ['BIDIRECTIONAL_SEQUENCE_RNN, asymmetric (two unidirectional hybrid ops)', () => buildRnn(RNN_CASES[3]!, 5), 'UNIDIRECTIONAL_SEQUENCE_RNN'],
  ] as const)('written back to .tflite: %s stays hybrid (int8 weights, its rounding kept), the interpreter gives the original\'s outputs', async (name, build, op) => {
    const file = build();
    const model = await loadModel(file, { fileName: 'hybrid.tflite' });
    const { bytes, notes } = await convert(model, 'again.tflite');
    expect(notes.filter((n) => /hybrid op input/.test(n))).toEqual([]);
    const json = flatcJson<{ operator_codes: { builtin_code: string; version: number }[]; subgraphs: { tensors: { type: string; quantization?: { scale?: number[] } }[]; operators: { opcode_index: number; inputs: number[]; builtin_options: Record<string, unknown> }[] }[] }>(bytes, 'again', { defaults: true });
    const sg = json.subgraphs[0]!;
    const ops = sg.operators.filter((o) => json.operator_codes[o.opcode_index]!.builtin_code === op);
    expect(ops.length).toBeGreaterThan(0);
    for (const o of ops) {
      // TF's op_version.cc: hybrid 2, with asymmetric_quantize_inputs 3
      expect(json.operator_codes[o.opcode_index]!.version).toBe(o.builtin_options.asymmetric_quantize_inputs ? 3 : 2);
      for (const k of op === 'UNIDIRECTIONAL_SEQUENCE_LSTM' ? [2, 3, 4, 6, 7, 8] : [1, 2]) {
        expect(sg.tensors[o.inputs[k]!]!.type).toBe('INT8');
        expect(sg.tensors[o.inputs[k]!]!.quantization?.scale).toHaveLength(1);
      }
    }
    const shape = model.kind === 'graph' ? (model.graph.inputs[0]!.shape as number[]) : [];
    const r = rng(77);
    let worst = 0;
    for (let k = 0; k < 3; k++) {
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * 2);
      const [written] = await oracle.run(bytes, [x]);
      const [original] = await oracle.run(file, [x]);
      worst = Math.max(worst, relErr(written!.data as Float32Array, original!.data as Float32Array));
    }
    console.log(`hybrid ${name} written back: interpreter on the written file vs on the original ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('written back to .tflite: a hybrid LSTM with a projection (unrolled when read) has its rounding dropped with a note, and the interpreter runs the weight-only model', async () => {
    // TFLite's sequence op has no place for the rounding of an unrolled LSTM's steps; it is written as float ops on the dequantized weights
    const file = buildHybridLstm(LSTM_CASES[2]!, 2);
    const model = await loadModel(file, { fileName: 'lstm.tflite' });
    const { bytes, notes } = await convert(model, 'again.tflite');
    expect(notes).toContainEqual(expect.stringMatching(/hybrid op inputs .* dropped: .*projection/));
    const onnx = (await convert(model, 'lstm.onnx')).bytes;
    const session = await ort.InferenceSession.create(onnx, { logSeverityLevel: 3 });
    try {
      const shape = model.kind === 'graph' ? (model.graph.inputs[0]!.shape as number[]) : [];
      const r = rng(77);
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * 2);
      const [written] = await oracle.run(bytes, [x]);
      const [hybrid] = await oracle.run(file, [x]);
      const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
      const weightOnly = res[session.outputNames[0]!]!.data as Float32Array;
      // the written file is the weight-only model (onnxruntime on the ONNX export, which drops the rounding too) ...
      expect(relErr(written!.data as Float32Array, weightOnly)).toBeLessThanOrEqual(1e-5);
      // ... which differs from the hybrid original: hence the note
      expect(relErr(written!.data as Float32Array, hybrid!.data as Float32Array)).toBeGreaterThan(1e-4);
    } finally {
      await session.release();
    }
  });

  it('refused by name: per-channel hybrid LSTM weights, hybrid time-major BIDIRECTIONAL_SEQUENCE_RNN; the hybrid SVDF to ONNX', async () => {
    await expect(readTflite(buildHybridLstm({ ...LSTM_CASES[0]!, perChannel: true }, 1))).rejects.toThrow(QuantizationError);
    await expect(readTflite(buildHybridLstm({ ...LSTM_CASES[0]!, perChannel: true }, 1))).rejects.toThrow(/hybrid UNIDIRECTIONAL_SEQUENCE_LSTM 'y': input-to-f weights 'input_to_forget' must have one scale/);
    // the hybrid time-major BIDIRECTIONAL_SEQUENCE_RNN kernel runs the sequence once per step
    await expect(readTflite(buildRnn({ ...RNN_CASES[3]!, timeMajor: true }, 1))).rejects.toThrow(/hybrid time-major BIDIRECTIONAL_SEQUENCE_RNN/);
    const svdf = await loadModel(buildHybridSvdf({ batch: 1, input: 4, filters: 4, memory: 2, rank: 1, asymmetric: false, act: ActivationFunctionType.NONE }, 1), { fileName: 'svdf.tflite' });
    await expect(convert(svdf, 'svdf.onnx')).rejects.toThrow(UnsupportedError);
    await expect(convert(svdf, 'svdf.onnx')).rejects.toThrow(/Svdf/);
  });
});
