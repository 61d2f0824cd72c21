// ONNX LSTM / RNN features PyTorch does not export (peepholes, input_forget, relu activations,
// reverse, layout=1, Y_h alone, zero initial states and full sequence_lens given), on random
// one-node models: onnxruntime-node runs the ONNX model, the TFLite interpreter the written file
// (a fresh interpreter per run: its variable state tensors start at zero). What TFLite's fused ops
// cannot compute but the unrolled steps can (every ONNX recurrent activation, with alpha / beta,
// peepholes with them, a read cell state, non-zero or fed initial states) is written unrolled;
// the rest is refused by name.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { buildOneNodeRecurrent, floats, int, type OneNodeRecurrent, strs, uniform } from './one-node-recurrent.js';
import { relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

type Case = OneNodeRecurrent;

const build = (c: Case, seed: number) => buildOneNodeRecurrent(c, seed, { weights: 0.7, bias: 0.5, peepholes: 0.6 });

/**
 * onnxruntime-node's outputs. Its CPU kernels refuse layout=1, so a batch-major model runs as its
 * layout-0 twin on the transposed input, and the outputs are transposed back (layout 1 is defined
 * as exactly that transposition): Y [T, D, B, H] -> [B, T, D, H], Y_h [D, B, H] -> [B, D, H].
 */
async function ortRun(graph: Graph, x: Tensor): Promise<Float32Array[]> {
  const node = graph.nodes[0]!;
  const batchMajor = node.attrs.layout?.type === 'int' && node.attrs.layout.value === 1;
  let model = graph;
  let feed = x;
  if (batchMajor) {
    const attrs = { ...node.attrs };
    delete attrs.layout;
    feed = x.permute([1, 0, 2]);
    model = { ...graph, nodes: [{ ...node, attrs }], inputs: [{ name: 'X', dtype: 'float32', shape: [...feed.shape] }] };
  }
  const session = await ort.InferenceSession.create(writeOnnx(model), { logSeverityLevel: 3 });
  try {
    const res = await session.run({ X: new ort.Tensor('float32', feed.toFloat32(), [...feed.shape]) });
    return graph.outputs.map((o) => {
      const t = res[o.name]!;
      const v = Tensor.float32([...t.dims], t.data as Float32Array);
      if (!batchMajor) return v.toFloat32();
      return (o.name === node.outputs[0] ? v.permute([2, 0, 1, 3]) : v.permute([1, 0, 2])).toFloat32();
    });
  } finally {
    await session.release();
  }
}

const CASES: Array<{ name: string; c: Case; ops: string[]; not?: string[] }> = [
  { name: 'LSTM with peepholes and biases', c: { op: 'LSTM', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, peepholes: true }, ops: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  {
    name: 'LSTM reverse, input_forget (CIFG) with peepholes',
    c: { op: 'LSTM', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, peepholes: true, direction: 'reverse', attrs: { input_forget: int(1) } },
    ops: ['REVERSE_V2', 'UNIDIRECTIONAL_SEQUENCE_LSTM'],
  },
  {
    name: 'LSTM bidirectional, layout=1, relu cell and hidden activations, no bias',
    c: { op: 'LSTM', seq: 4, batch: 3, input: 3, hidden: 5, direction: 'bidirectional', layout: 1, attrs: { activations: strs(['Sigmoid', 'Relu', 'Relu', 'Sigmoid', 'Relu', 'Relu']) } },
    ops: ['UNIDIRECTIONAL_SEQUENCE_LSTM', 'REVERSE_V2', 'PACK'],
  },
  { name: 'LSTM bidirectional, Y_h alone', c: { op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, direction: 'bidirectional', outputs: ['', 'Y_h'] }, ops: ['UNIDIRECTIONAL_SEQUENCE_LSTM', 'CONCATENATION'] },
  {
    name: 'LSTM with zero initial states and sequence_lens equal to the sequence length given',
    c: {
      op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true,
      constants: { sequence_lens: new Tensor('int32', [2], Int32Array.from([3, 3])), initial_h: Tensor.float32([1, 2, 4], new Float32Array(8)), initial_c: Tensor.float32([1, 2, 4], new Float32Array(8)) },
    },
    ops: ['UNIDIRECTIONAL_SEQUENCE_LSTM'],
  },
  { name: 'GRU bidirectional, linear_before_reset=0 (unrolled)', c: { op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, direction: 'bidirectional' }, ops: ['LOGISTIC', 'TANH'] },
  {
    name: 'GRU reverse, layout=1, linear_before_reset=1, relu candidate (unrolled)',
    c: { op: 'GRU', seq: 5, batch: 3, input: 2, hidden: 3, bias: true, direction: 'reverse', layout: 1, attrs: { linear_before_reset: int(1), activations: strs(['Sigmoid', 'Relu']) } },
    // (the candidate's RELU fused into its ADD)
    ops: ['LOGISTIC'],
  },
  // what TFLite's fused LSTM / RNN cannot compute, unrolled (src/formats/tflite/recurrent-unroll.ts): no sequence op left
  { name: 'LSTM HardSigmoid gates (unrolled)', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, bias: true, attrs: { activations: strs(['HardSigmoid', 'Tanh', 'Tanh']) } }, ops: ['MAXIMUM', 'MINIMUM'], not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  { name: 'LSTM different cell and hidden activations (unrolled)', c: { op: 'LSTM', seq: 3, batch: 2, input: 2, hidden: 3, bias: true, attrs: { activations: strs(['Sigmoid', 'Tanh', 'Relu']) } }, ops: ['LOGISTIC', 'TANH'], not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  { name: 'RNN Softsign (unrolled)', c: { op: 'RNN', seq: 3, batch: 1, input: 2, hidden: 3, bias: true, attrs: { activations: strs(['Softsign']) } }, ops: ['ABS', 'DIV'], not: ['UNIDIRECTIONAL_SEQUENCE_RNN'] },
  { name: 'LSTM Y_c read (unrolled)', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, bias: true, outputs: ['Y', 'Y_h', 'Y_c'] }, ops: ['LOGISTIC'], not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  { name: 'LSTM non-zero initial_h (unrolled)', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, constants: { initial_h: Tensor.float32([1, 1, 3], [0, 0.5, 0]) } }, ops: ['LOGISTIC'], not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  { name: 'LSTM non-zero initial_c (unrolled)', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, constants: { initial_c: Tensor.float32([1, 1, 3], [0, 0, 1]) } }, ops: ['LOGISTIC'], not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'] },
  {
    name: 'LSTM bidirectional, HardSigmoid / Affine / ScaledTanh and Sigmoid / Elu / Softplus with alpha and beta, peepholes (unrolled)',
    c: {
      op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, peepholes: true, direction: 'bidirectional',
      attrs: { activations: strs(['HardSigmoid', 'Affine', 'ScaledTanh', 'Sigmoid', 'Elu', 'Softplus']), activation_alpha: floats([0.3, 0.8, 1.3, 0.7]), activation_beta: floats([0.45, 0.1, 0.9]) },
    },
    ops: ['MAXIMUM', 'EXP', 'LOG'],
    not: ['UNIDIRECTIONAL_SEQUENCE_LSTM'],
  },
  { name: 'GRU LeakyRelu gates, ThresholdedRelu candidate (unrolled)', c: { op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, attrs: { activations: strs(['LeakyRelu', 'ThresholdedRelu']), activation_alpha: floats([0.05, 0.2]) } }, ops: ['GREATER'] },
  { name: 'RNN reverse, layout=1, Softplus (unrolled)', c: { op: 'RNN', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, direction: 'reverse', layout: 1, attrs: { activations: strs(['Softplus']) } }, ops: ['EXP', 'LOG'], not: ['UNIDIRECTIONAL_SEQUENCE_RNN'] },
  { name: 'RNN reverse, layout=1, relu', c: { op: 'RNN', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, direction: 'reverse', layout: 1, attrs: { activations: strs(['Relu']) } }, ops: ['UNIDIRECTIONAL_SEQUENCE_RNN'] },
];

describe('ONNX recurrent features -> TFLite, against onnxruntime-node', () => {
  it.each(CASES.map((k, i) => [k.name, k, i] as const))('%s', async (name, { c, ops, not = [] }, i) => {
    const { graph, x } = build(c, 500 + i);
    const want = await ortRun(graph, x);
    const bytes = await writeTflite(graph, { fileName: 'case.tflite' });
    const json = flatcJson<{ operator_codes: { builtin_code: string }[] }>(bytes, `case${i}`);
    const codes = json.operator_codes.map((o) => o.builtin_code);
    for (const op of ops) expect(codes).toContain(op);
    for (const op of not) expect(codes).not.toContain(op);
    const theirs = await oracle.run(bytes, [x.toFloat32()]);
    expect(theirs.length).toBe(want.length);
    for (let k = 0; k < want.length; k++) {
      const e = relErr(theirs[k]!.data as Float32Array, want[k]!);
      console.log(`${name}, ${graph.outputs[k]!.name}: interpreter vs onnxruntime ${e.toExponential(2)} relative`);
      expect(e, graph.outputs[k]!.name).toBeLessThan(1e-5);
    }
  });

  it('LSTM with peepholes and CIFG read back by nnport runs as the interpreter does', async () => {
    const { graph, x } = build(CASES[0]!.c, 500);
    const bytes = await writeTflite(graph);
    const back = await readTflite(bytes, { fileName: 'peepholes.tflite' });
    const { outputs } = await runGraph(back, new Map([[back.inputs[0]!.name, x]]));
    const theirs = await oracle.run(bytes, [x.toFloat32()]);
    back.outputs.forEach((o, k) => expect(relErr(outputs.get(o.name)!.toFloat32(), theirs[k]!.data as Float32Array)).toBeLessThan(1e-5));
  });
});

describe('initial states fed as model inputs', () => {
  it.each(['GRU', 'LSTM'] as const)('%s whose initial state is a model input: the unrolled steps read it (interpreter vs onnxruntime-node)', async (op) => {
    const { graph, x } = build({ op, seq: 4, batch: 2, input: 3, hidden: 5, bias: true, attrs: op === 'GRU' ? { linear_before_reset: int(1) } : {} }, 77);
    graph.nodes[0]!.inputs = ['X', 'W', 'R', 'B', '', 'h0'];
    graph.inputs.push({ name: 'h0', dtype: 'float32', shape: [1, 2, 5] });
    const h0 = Tensor.float32([1, 2, 5], uniform(10, rng(5), 0.8));
    const session = await ort.InferenceSession.create(writeOnnx(graph), { logSeverityLevel: 3 });
    let want: Float32Array[];
    try {
      const res = await session.run({ X: new ort.Tensor('float32', x.toFloat32(), [...x.shape]), h0: new ort.Tensor('float32', h0.toFloat32(), [1, 2, 5]) });
      want = graph.outputs.map((o) => res[o.name]!.data as Float32Array);
    } finally {
      await session.release();
    }
    const bytes = await writeTflite(graph);
    const theirs = await oracle.run(bytes, [x.toFloat32(), h0.toFloat32()]);
    want.forEach((w, k) => expect(relErr(theirs[k]!.data as Float32Array, w), graph.outputs[k]!.name).toBeLessThan(1e-5));
  });
});

describe('what TFLite cannot compute is refused by name', () => {
  const refusals: Array<{ name: string; c: Case; message: RegExp }> = [
    { name: 'clip', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { clip: { type: 'float', value: 0.5 } } }, message: /LSTM clip in a TFLite file/ },
    {
      name: 'sequence_lens shorter than the sequence',
      c: { op: 'LSTM', seq: 3, batch: 2, input: 2, hidden: 3, constants: { sequence_lens: new Tensor('int32', [2], Int32Array.from([3, 2])) } },
      message: /LSTM sequence_lens in a TFLite file/,
    },
    { name: 'GRU clip', c: { op: 'GRU', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { clip: { type: 'float', value: 1 } } }, message: /GRU clip in a TFLite file/ },
  ];
  it("--quantize int16x8: an LSTM is refused by name (int8 writes it, unrolled where TFLite's integer LSTM cannot compute it)", async () => {
    const { graph } = build({ op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { activations: strs(['HardSigmoid', 'Tanh', 'Tanh']) } }, 9);
    await expect(writeTflite(graph, { quantize: { mode: 'int16x8' } })).rejects.toThrow(/LSTM with --quantize int16x8 in a TFLite file: LSTM 'rnn'/);
  });

  it.each(refusals.map((k) => [k.name, k] as const))('%s', async (_name, { c, message }) => {
    const { graph } = build(c, 7);
    const err = await writeTflite(graph).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(message);
  });
});
