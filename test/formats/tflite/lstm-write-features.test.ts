// ONNX LSTM / RNN features PyTorch does not export (peepholes, input_forget, relu activations,
// reverse, layout=1, Y_h alone, zero initial states and full sequence_lens given), on random
// one-node models: onnxruntime-node runs the ONNX model, the TFLite interpreter the written file
// (a fresh interpreter per run: its variable state tensors start at zero). And the features
// TFLite cannot compute, refused by name.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

type Op = 'LSTM' | 'RNN' | 'GRU';
const GATES: Record<Op, number> = { LSTM: 4, GRU: 3, RNN: 1 };

interface Case {
  op: Op;
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  bias?: boolean;
  peepholes?: boolean;
  attrs?: Record<string, Attr>;
  /** constant inputs beyond W, R, B, P */
  constants?: { sequence_lens?: Tensor; initial_h?: Tensor; initial_c?: Tensor };
  outputs?: string[];
}

const strs = (value: string[]): Attr => ({ type: 'strings', value });
const int = (value: number): Attr => ({ type: 'int', value });

function random(n: number, r: () => number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function build(c: Case, seed: number): { graph: Graph; x: Tensor } {
  const r = rng(seed);
  const nd = c.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[c.op];
  const xShape = c.layout === 1 ? [c.batch, c.seq, c.input] : [c.seq, c.batch, c.input];
  const inits = new Map<string, Tensor>();
  inits.set('W', Tensor.float32([nd, G * c.hidden, c.input], random(nd * G * c.hidden * c.input, r, 0.7)));
  inits.set('R', Tensor.float32([nd, G * c.hidden, c.hidden], random(nd * G * c.hidden * c.hidden, r, 0.7)));
  if (c.bias) inits.set('B', Tensor.float32([nd, 2 * G * c.hidden], random(nd * 2 * G * c.hidden, r, 0.5)));
  if (c.peepholes) inits.set('P', Tensor.float32([nd, 3 * c.hidden], random(nd * 3 * c.hidden, r, 0.6)));
  for (const [k, t] of Object.entries(c.constants ?? {})) inits.set(k, t);
  const names = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', ...(c.op === 'LSTM' ? ['initial_c', 'P'] : [])];
  const inputs = names.map((n) => (n === 'X' || inits.has(n) ? n : ''));
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const outputs = c.outputs ?? ['Y', 'Y_h'];
  const attrs: Record<string, Attr> = { hidden_size: int(c.hidden), ...(c.attrs ?? {}) };
  if (c.direction) attrs.direction = { type: 'string', value: c.direction };
  if (c.layout) attrs.layout = int(c.layout);
  const graph: Graph = {
    name: c.op,
    nodes: [{ name: 'rnn', opType: c.op, domain: '', inputs, outputs, attrs }],
    inputs: [{ name: 'X', dtype: 'float32', shape: xShape }],
    outputs: outputs.filter((o) => o).map((name) => ({ name, dtype: 'float32' as const })),
    initializers: inits,
    opsets: { '': 14 },
  };
  return { graph, x: Tensor.float32(xShape, random(xShape.reduce((a, b) => a * b, 1), r, 1.5)) };
}

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

const CASES: Array<{ name: string; c: Case; ops: string[] }> = [
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
  { name: 'RNN reverse, layout=1, relu', c: { op: 'RNN', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, direction: 'reverse', layout: 1, attrs: { activations: strs(['Relu']) } }, ops: ['UNIDIRECTIONAL_SEQUENCE_RNN'] },
];

describe('ONNX recurrent features -> TFLite, against onnxruntime-node', () => {
  it.each(CASES.map((k, i) => [k.name, k, i] as const))('%s', async (name, { c, ops }, i) => {
    const { graph, x } = build(c, 500 + i);
    const want = await ortRun(graph, x);
    const bytes = await writeTflite(graph, { fileName: 'case.tflite' });
    const json = flatcJson<{ operator_codes: { builtin_code: string }[] }>(bytes, `case${i}`);
    const codes = json.operator_codes.map((o) => o.builtin_code);
    for (const op of ops) expect(codes).toContain(op);
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

describe('GRU initial state', () => {
  it('a GRU whose initial state is a model input: the unrolled steps read it (interpreter vs onnxruntime-node)', async () => {
    const { graph, x } = build({ op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 5, bias: true, attrs: { linear_before_reset: int(1) } }, 77);
    graph.nodes[0]!.inputs = ['X', 'W', 'R', 'B', '', 'h0'];
    graph.inputs.push({ name: 'h0', dtype: 'float32', shape: [1, 2, 5] });
    const h0 = Tensor.float32([1, 2, 5], random(10, rng(5), 0.8));
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
    { name: 'gate activation other than Sigmoid', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { activations: strs(['HardSigmoid', 'Tanh', 'Tanh']) } }, message: /LSTM activations HardSigmoid, Tanh, Tanh in a TFLite file/ },
    { name: 'different cell and hidden activations', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { activations: strs(['Sigmoid', 'Tanh', 'Relu']) } }, message: /LSTM activations Sigmoid, Tanh, Relu/ },
    { name: 'RNN Softsign', c: { op: 'RNN', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { activations: strs(['Softsign']) } }, message: /RNN activations Softsign in a TFLite file/ },
    { name: 'Y_c read', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, outputs: ['Y', 'Y_h', 'Y_c'] }, message: /LSTM Y_c output in a TFLite file/ },
    {
      name: 'sequence_lens shorter than the sequence',
      c: { op: 'LSTM', seq: 3, batch: 2, input: 2, hidden: 3, constants: { sequence_lens: new Tensor('int32', [2], Int32Array.from([3, 2])) } },
      message: /LSTM sequence_lens in a TFLite file/,
    },
    { name: 'non-zero initial_h', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, constants: { initial_h: Tensor.float32([1, 1, 3], [0, 0.5, 0]) } }, message: /LSTM with a non-zero initial hidden state/ },
    { name: 'non-zero initial_c', c: { op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3, constants: { initial_c: Tensor.float32([1, 1, 3], [0, 0, 1]) } }, message: /LSTM with a non-zero initial cell state/ },
    { name: 'GRU clip', c: { op: 'GRU', seq: 3, batch: 1, input: 2, hidden: 3, attrs: { clip: { type: 'float', value: 1 } } }, message: /GRU clip in a TFLite file/ },
  ];
  it.each(refusals.map((k) => [k.name, k] as const))('%s', async (_name, { c, message }) => {
    const { graph } = build(c, 7);
    const err = await writeTflite(graph).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(message);
  });

  it('an initial state given as a model input (not a constant) is refused', async () => {
    const { graph } = build({ op: 'LSTM', seq: 3, batch: 1, input: 2, hidden: 3 }, 8);
    graph.nodes[0]!.inputs = ['X', 'W', 'R', '', '', 'h0'];
    graph.inputs.push({ name: 'h0', dtype: 'float32', shape: [1, 1, 3] });
    await expect(writeTflite(graph)).rejects.toThrow(/LSTM with a non-zero initial hidden state in a TFLite file/);
  });
});
