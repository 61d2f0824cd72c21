// ONNX LSTM / GRU / RNN (PyTorch exports: scripts/fixtures/recurrent_onnx.py) written as frozen
// GraphDefs: TF1 graphs hold a static RNN as its unrolled steps (MatMul, Add, Sigmoid, Tanh / Relu,
// Mul, Sub, Split, Reshape, ConcatV2), as the corpus' tf2onnx LSTM does. Every written .pb is run
// by the independent NumPy interpreter of GraphDefs (scripts/fixtures/tf_numpy_run.py) and by
// OpenCV 4.6 dnn, against PyTorch's outputs; nnport reading the .pb back runs it too. (PyTorch
// reorders a bidirectional Y with a 4-D Transpose, which OpenCV's importer takes only as
// NHWC <-> NCHW: the writer joins the two directions' sequences with one Concat instead.)
// A dynamic sequence length and what the steps cannot compute are refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { bidirectionalSequencesJoined } from '../../../src/formats/tensorflow/write-bidirectional.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { exportMissingRecurrentFixtures, recurrentFixture } from '../tflite/recurrent-fixtures.js';
import { buildOneNodeRecurrent, floats, int, type OneNodeRecurrent, strs } from '../tflite/one-node-recurrent.js';
import { permute4, pythonRun } from './python-runs.js';
import { ortRun } from '../../support/ort.js';

beforeAll(async () => {
  registerAllFormats();
  await initKernels();
  exportMissingRecurrentFixtures();
});

const MODELS = ['lstm_time_major', 'lstm_batch_first', 'lstm_bidi', 'lstm_layout1', 'lstm_last_step', 'lstm_dynamic_batch', 'rnn_tanh', 'rnn_relu_bidi', 'gru'];

describe('ONNX recurrent layers -> frozen GraphDef (unrolled), against PyTorch', () => {
  it.each(MODELS)('%s', async (name) => {
    const f = await recurrentFixture(name);
    const pb = await writeGraphDef(f.graph, { fileName: `${name}.pb` });
    const outputs = f.graph.outputs.map((o) => o.name.replace(/:0$/, ''));
    const errors: Record<string, number> = {};
    const numpy = pythonRun('numpy', `recurrent-${name}`, pb, f.input, outputs);
    outputs.forEach((o, k) => (errors[`numpy ${k}`] = relErr(numpy.get(o)!.toFloat32(), f.outputs[k]!)));
    const opencv = pythonRun('opencv', `recurrent-${name}`, pb, f.input, outputs);
    outputs.forEach((o, k) => (errors[`opencv ${k}`] = relErr(opencv.get(o)!.toFloat32(), f.outputs[k]!)));
    const back = { graph: await readGraphDef(pb, { fileName: `${name}.pb` }) };
    const ours = (await runGraph(back.graph, new Map([[back.graph.inputs[0]!.name, f.input]]))).outputs;
    // a GraphDef has no output order: each output by its name
    expect(back.graph.outputs.map((o) => o.name).sort()).toEqual([...outputs].sort());
    outputs.forEach((o, k) => (errors[`nnport ${k}`] = relErr(ours.get(o)!.toFloat32(), f.outputs[k]!)));
    console.log(`${name}: ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')} relative to PyTorch`);
    for (const [k, v] of Object.entries(errors)) expect(v, k).toBeLessThan(1e-5);
  });

  it('a dynamic sequence length is written as a StatelessWhile (NumPy runner vs PyTorch); clip is refused by name', async () => {
    // (was refused: the loop form is src/passes/recurrent-to-loop.ts; two lengths in recurrent-loop.test.ts)
    const dynamic = await recurrentFixture('lstm_dynamic_time');
    const pb = await writeGraphDef(dynamic.graph, { fileName: 'lstm_dynamic_time.pb' });
    expect((await readGraphDef(pb, { fileName: 'lstm_dynamic_time.pb' })).nodes.some((n) => n.opType === 'Loop')).toBe(true);
    const outputs = dynamic.graph.outputs.map((o) => o.name.replace(/:0$/, ''));
    const numpy = pythonRun('numpy', 'recurrent-lstm_dynamic_time', pb, dynamic.input, outputs);
    const errors = outputs.map((o, k) => relErr(numpy.get(o)!.toFloat32(), dynamic.outputs[k]!));
    console.log(`lstm_dynamic_time .pb (StatelessWhile) in the NumPy GraphDef runner vs PyTorch: ${errors.map((e) => e.toExponential(2)).join(', ')}`);
    for (const e of errors) expect(e).toBeLessThan(1e-5);
    const f = await recurrentFixture('lstm_time_major');
    const lstm = f.graph.nodes.find((n) => n.opType === 'LSTM')!;
    const H = f.graph.initializers.get(lstm.inputs[2]!)!.shape[2]!;
    const withNode = (edit: (n: typeof lstm) => typeof lstm, extra?: [string, Tensor]) => ({
      ...f.graph,
      nodes: f.graph.nodes.map((n) => (n === lstm ? edit(n) : n)),
      initializers: new Map([...f.graph.initializers, ...(extra ? [extra] : [])]),
    });
    const clipped = withNode((n) => ({ ...n, attrs: { ...n.attrs, clip: { type: 'float', value: 3 } } }));
    await expect(writeGraphDef(clipped)).rejects.toThrow(/LSTM clip in a GraphDef/);
  });
});

// What PyTorch does not export: GRU with linear_before_reset=0, non-zero initial states (the steps
// that do not skip the state), reverse directions, relu; one-node models run by onnxruntime-node.
// OpenCV runs them too, but for constant non-zero initial states: its importer takes a Mul / Add /
// Sub with a constant operand as a scale / shift along the last dim, which a [B, H] state is not.
// (Y [T, D, B, H] is not an image: OpenCV returns it as it is, not NHWC as NCHW.)
// Nor the peepholes' Mul of the cell state by P after step 0 ("Const input blob for weights not
// found"), nor TF's ThresholdedRelu (Greater, SelectV2: no such layers): those run in NumPy only.
const CONSTANT_STATES = new Set(['gru_lbr0_initial_h', 'lstm_reverse_initial_states', 'lstm_hard_sigmoid_peepholes', 'gru_leaky_thresholded']);
const ONE_NODE: Array<{ name: string; c: OneNodeRecurrent }> = [
  { name: 'gru_lbr0_bidi', c: { op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, direction: 'bidirectional' } },
  { name: 'gru_lbr0_initial_h', c: { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, constants: { initial_h: Tensor.float32([1, 2, 4], Float32Array.from({ length: 8 }, (_, i) => Math.sin(i))) } } },
  {
    name: 'lstm_reverse_initial_states',
    c: { op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, direction: 'reverse', outputs: ['Y', 'Y_h', 'Y_c'], constants: { initial_h: Tensor.float32([1, 2, 4], Float32Array.from({ length: 8 }, (_, i) => Math.cos(i))), initial_c: Tensor.float32([1, 2, 4], Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1))) } },
  },
  { name: 'rnn_relu_reverse', c: { op: 'RNN', seq: 5, batch: 2, input: 3, hidden: 4, bias: true, direction: 'reverse', attrs: { activations: strs(['Relu']) } } },
  { name: 'gru_lbr1_relu', c: { op: 'GRU', seq: 4, batch: 3, input: 2, hidden: 3, bias: true, attrs: { linear_before_reset: int(1), activations: strs(['Sigmoid', 'Relu']) } } },
  // every other activation of ONNX's recurrent list, with alpha / beta (old Keras' hard_sigmoid gates), and peepholes
  { name: 'lstm_hard_sigmoid_peepholes', c: { op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, peepholes: true, attrs: { activations: strs(['HardSigmoid', 'Tanh', 'Tanh']) } } },
  {
    name: 'lstm_bidi_activations',
    c: {
      op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, direction: 'bidirectional',
      attrs: { activations: strs(['HardSigmoid', 'Affine', 'ScaledTanh', 'Sigmoid', 'Elu', 'Softplus']), activation_alpha: floats([0.3, 0.8, 1.3, 0.7]), activation_beta: floats([0.45, 0.1, 0.9]) },
    },
  },
  { name: 'gru_leaky_thresholded', c: { op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, attrs: { activations: strs(['LeakyRelu', 'ThresholdedRelu']), activation_alpha: floats([0.05, 0.2]) } } },
  { name: 'rnn_softsign', c: { op: 'RNN', seq: 4, batch: 2, input: 3, hidden: 4, bias: true, attrs: { activations: strs(['Softsign']) } } },
];

describe('one-node ONNX recurrent layers -> frozen GraphDef, against onnxruntime-node', () => {
  it.each(ONE_NODE)('$name', async ({ name, c }) => {
    const { graph, x } = buildOneNodeRecurrent(c, 4242, { weights: 0.5, bias: 0.3, peepholes: 0.3 });
    const want = await ortRun(graph, { X: x });
    const pb = await writeGraphDef(graph, { fileName: `${name}.pb` });
    const outputs = graph.outputs.map((o) => o.name);
    const numpy = pythonRun('numpy', `recurrent-one-node-${name}`, pb, x, outputs);
    const opencv = CONSTANT_STATES.has(name) ? undefined : pythonRun('opencv', `recurrent-one-node-${name}`, pb, x, outputs);
    const back = await readGraphDef(pb, { fileName: `${name}.pb` });
    const ours = (await runGraph(back, new Map([[back.inputs[0]!.name, x]]))).outputs;
    const errors: Record<string, number> = {};
    for (const o of outputs) {
      const w = want.get(o)!.toFloat32();
      errors[`numpy ${o}`] = relErr(numpy.get(o)!.toFloat32(), w);
      errors[`nnport ${o}`] = relErr(ours.get(o)!.toFloat32(), w);
      const cv = opencv?.get(o);
      if (cv) errors[`opencv ${o}`] = relErr((cv.rank === 4 ? permute4(cv, [0, 3, 1, 2]) : cv).toFloat32(), w);
    }
    console.log(`${name}: ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')} relative to onnxruntime`);
    for (const [k, v] of Object.entries(errors)) expect(v, k).toBeLessThan(1e-5);
  });
});

// The rewrite of a bidirectional Y's reorder (Transpose [0, 2, 1, 3], Reshape to [T, B, D·H]) into
// one Concat of the directions' sequences: onnxruntime-node runs the graph before and after; a
// Reshape that is not that merge (B and D merged, [T, B·D, H]) is left as it is
describe('a bidirectional Y reordered as PyTorch does -> one Concat over the directions', () => {
  const [T, B, H] = [3, 2, 4];
  const yGraph = (target: number[]): Graph => {
    const node = (opType: string, inputs: string[], output: string, attrs: Node['attrs'] = {}): Node => ({ name: `${output}_node`, opType, domain: '', inputs, outputs: [output], attrs });
    return {
      name: 'bidi_y',
      inputs: ['forward', 'backward'].map((name) => ({ name, dtype: 'float32' as const, shape: [T, B, H] })),
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([['axis1', Tensor.int64([1], [1])], ['target', Tensor.int64([3], target)]]),
      opsets: { '': 14 },
      nodes: [
        node('Unsqueeze', ['forward', 'axis1'], 'f4'),
        node('Unsqueeze', ['backward', 'axis1'], 'b4'),
        node('Concat', ['f4', 'b4'], 'Y', { axis: { type: 'int', value: 1 } }),
        node('Transpose', ['Y'], 'Yt', { perm: { type: 'ints', value: [0, 2, 1, 3] } }),
        node('Reshape', ['Yt', 'target'], 'y'),
      ],
    };
  };
  const run = async (g: Graph, feeds: Record<string, Float32Array>): Promise<Float32Array> => {
    const out = await ortRun(g, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, Tensor.float32([T, B, H], v)])));
    return out.get('y')!.toFloat32();
  };
  it.each([[[0, 0, -1]], [[T, B, 2 * H]], [[-1, B, 2 * H]], [[0, -1, 2 * H]], [[0, -1, H]], [[-1, 2 * H, 0]]])('target %j', async (target) => {
    const r = rng(77);
    const feeds = { forward: Float32Array.from({ length: T * B * H }, () => r() - 0.5), backward: Float32Array.from({ length: T * B * H }, () => r() - 0.5) };
    const g = yGraph(target);
    const joined = bidirectionalSequencesJoined(g);
    const merges = target[2] === 2 * H || (target[2] === -1 && target[1] !== -1);
    expect(joined.nodes.map((n) => n.opType), `${target}`).toEqual(merges ? ['Concat'] : ['Unsqueeze', 'Unsqueeze', 'Concat', 'Transpose', 'Reshape']);
    if (merges) expect(joined.nodes[0]!.attrs.axis).toEqual({ type: 'int', value: 2 });
    expect(Array.from(await run(joined, feeds))).toEqual(Array.from(await run(g, feeds)));
  });
});
