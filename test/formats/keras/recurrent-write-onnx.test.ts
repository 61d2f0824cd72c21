// ONNX LSTM / GRU / RNN forms PyTorch does not export (GRU linear_before_reset=0, direction
// reverse, layout 1, full-length sequence_lens), written as Keras .h5 / TF.js layers models and run
// by TensorFlow.js against onnxruntime-node on the same ONNX file; and the refusals, each naming
// the feature.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson } from './tfjs-oracle.js';
import { ortRun as ortOutputs } from '../../support/ort.js';

const B = 2;
const T = 6;
const F = 3;
const H = 4;
const int = (value: number): Attr => ({ type: 'int', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const str = (value: string): Attr => ({ type: 'string', value });
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });

interface Options {
  op: 'LSTM' | 'GRU' | 'RNN';
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  attrs?: Record<string, Attr>;
  /** extra op inputs after B: sequence_lens, initial_h, initial_c, P (names of initializers or graph inputs) */
  extra?: string[];
  extraInits?: [string, Tensor][];
  extraInputs?: Graph['inputs'];
  /** what the graph returns: the sequence as [B, T, nd·H], or Y_h's directions concatenated [B, nd·H] */
  use: 'seq' | 'last' | 'Y_c' | 'Y_h raw';
}

/** x [B, T, F] (Transpose to time-major for layout 0) -> op -> output as the graph returns it */
function rnnGraph(o: Options): Graph {
  const nd = o.direction === 'bidirectional' ? 2 : 1;
  const G = o.op === 'LSTM' ? 4 : o.op === 'GRU' ? 3 : 1;
  const layout = o.layout ?? 0;
  const nodes: Node[] = [];
  const inits = new Map<string, Tensor>([
    ['W', Tensor.float32([nd, G * H, F], Array.from(randomInput([nd * G * H * F], 3).toFloat32(), (v) => v * 1.2))],
    ['R', Tensor.float32([nd, G * H, H], Array.from(randomInput([nd * G * H * H], 4).toFloat32(), (v) => v * 0.9))],
    ['B', Tensor.float32([nd, 2 * G * H], Array.from(randomInput([nd * 2 * G * H], 5).toFloat32(), (v) => v * 0.8))],
    ['seq_shape', Tensor.int64([3], [0, 0, -1])],
    ...(o.extraInits ?? []),
  ]);
  let x = 'x';
  if (layout === 0) {
    nodes.push(node('Transpose', ['x'], ['x_tm'], { perm: ints([1, 0, 2]) }));
    x = 'x_tm';
  }
  const attrs: Record<string, Attr> = { hidden_size: int(H), ...(o.direction ? { direction: str(o.direction) } : {}), ...(layout ? { layout: int(1) } : {}), ...o.attrs };
  nodes.push(node(o.op, [x, 'W', 'R', 'B', ...(o.extra ?? [])], o.op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'], attrs));
  const outputs: Graph['outputs'] = [{ name: 'y', dtype: 'float32' }];
  if (o.use === 'seq') {
    // [T, nd, B, H] -> [B, T, nd, H] -> [B, T, nd·H]  (layout 1: already [B, T, nd, H])
    if (layout === 0) nodes.push(node('Transpose', ['Y'], ['Y_bt'], { perm: ints([2, 0, 1, 3]) }));
    nodes.push(node('Reshape', [layout === 0 ? 'Y_bt' : 'Y', 'seq_shape'], ['y']));
  } else if (o.use === 'last') {
    const hs = Array.from({ length: nd }, (_, d) => {
      inits.set(`dir${d}`, Tensor.int64([], [d]));
      nodes.push(node('Gather', ['Y_h', `dir${d}`], [`h${d}`], { axis: int(layout === 0 ? 0 : 1) }));
      return `h${d}`;
    });
    nodes.push(nd === 1 ? node('Identity', hs, ['y']) : node('Concat', hs, ['y'], { axis: int(1) }));
  } else if (o.use === 'Y_c') {
    inits.set('dir0', Tensor.int64([], [0]));
    nodes.push(node('Gather', ['Y_c', 'dir0'], ['y'], { axis: int(0) }));
  } else {
    nodes.push(node('Identity', ['Y_h'], ['y']));
  }
  return { name: `${o.op}_${o.direction ?? 'forward'}`, nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [B, T, F] }, ...(o.extraInputs ?? [])], outputs, initializers: inits, opsets: { '': 14 } };
}

const ortRun = async (onnx: Uint8Array, x: Tensor): Promise<Tensor> => (await ortOutputs(onnx, { x: Tensor.float32([...x.shape], x.toFloat32()) })).get('y')!;

const RUN_CASES: Array<[string, Options, string]> = [
  ['GRU linear_before_reset=0 (Keras reset_after=False), sequence', { op: 'GRU', use: 'seq' }, 'GRU'],
  ['GRU linear_before_reset=0, bidirectional, last states', { op: 'GRU', direction: 'bidirectional', use: 'last' }, 'Bidirectional'],
  ['LSTM reverse, last state (Keras go_backwards)', { op: 'LSTM', direction: 'reverse', use: 'last' }, 'LSTM'],
  ['RNN reverse, last state', { op: 'RNN', direction: 'reverse', use: 'last' }, 'SimpleRNN'],
  ['LSTM layout 1, bidirectional, sequence', { op: 'LSTM', direction: 'bidirectional', layout: 1, use: 'seq' }, 'Bidirectional'],
  ['LSTM layout 1, last state', { op: 'LSTM', layout: 1, use: 'last' }, 'LSTM'],
  ['LSTM, its last cell state Y_c (Keras return_state)', { op: 'LSTM', use: 'Y_c' }, 'LSTM'],
  [
    'LSTM with full-length sequence_lens, zero initial states and zero peepholes',
    {
      op: 'LSTM',
      use: 'seq',
      extra: ['lens', 'h0', 'c0', 'P'],
      extraInits: [
        ['lens', new Tensor('int32', [B], Int32Array.from([T, T]))],
        ['h0', Tensor.float32([1, B, H], new Float32Array(B * H))],
        ['c0', Tensor.float32([1, B, H], new Float32Array(B * H))],
        ['P', Tensor.float32([1, 3 * H], new Float32Array(3 * H))],
      ],
    },
    'LSTM',
  ],
];

describe('ONNX recurrent ops -> .h5 and model.json, run by TF.js, vs onnxruntime-node', () => {
  it.each(RUN_CASES)('%s', async (_name, o, cls) => {
    const onnx = writeOnnx(rnnGraph(o));
    const x = randomInput([B, T, F], 11);
    // onnxruntime has no layout 1 kernel: the same op time-major between Transposes is its definition
    const want = await ortRun(o.layout ? writeOnnx(rnnGraph({ ...o, layout: 0 })) : onnx, x);
    const model = await loadModel(onnx, { fileName: 'rnn.onnx' });
    const h5 = await convert(model, 'rnn.h5');
    const tfH5 = await tfjsModelFromH5(h5.bytes);
    expect(tfH5.layers.map((l) => l.getClassName())).toContain(cls);
    const fromH5 = predict(tfH5, [x])[0]!;
    expect(fromH5.shape).toEqual(want.shape);
    const js = await convert(model, 'model.json');
    const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!;
    expect(relError(fromH5, want)).toBeLessThan(1e-5);
    expect(relError(fromJs, want)).toBeLessThan(1e-5);
  });
});

const REFUSALS: Array<[string, Options, RegExp]> = [
  ['clip', { op: 'LSTM', use: 'seq', attrs: { clip: { type: 'float', value: 3 } } }, /LSTM with clip/],
  ['input_forget', { op: 'LSTM', use: 'seq', attrs: { input_forget: int(1) } }, /LSTM with input_forget/],
  ['peepholes', { op: 'LSTM', use: 'seq', extra: ['', '', '', 'P'], extraInits: [['P', Tensor.float32([1, 3 * H], new Float32Array(3 * H).fill(0.5))]] }, /LSTM with peepholes/],
  // (HardSigmoid at any alpha / beta is written with its gates' weights scaled: recurrent-hard-sigmoid.test.ts)
  ['non-default activations', { op: 'LSTM', use: 'seq', attrs: { activations: { type: 'strings', value: ['ScaledTanh', 'Tanh', 'Tanh'] }, activation_alpha: { type: 'floats', value: [0.3] }, activation_beta: { type: 'floats', value: [2] } } }, /LSTM with activations ScaledTanh, Tanh, Tanh and alpha \/ beta \[0\.3\d*\] \/ \[2\]/],
  ['LSTM g and h activations that differ', { op: 'LSTM', use: 'seq', attrs: { activations: { type: 'strings', value: ['Sigmoid', 'Relu', 'Tanh'] } } }, /one activation for g and h/],
  ['short sequence_lens', { op: 'GRU', use: 'seq', extra: ['lens'], extraInits: [['lens', new Tensor('int32', [B], Int32Array.from([T, 3]))]] }, /GRU with sequence_lens that are not all the full sequence length/],
  ['a non-zero initial state', { op: 'GRU', use: 'seq', extra: ['', 'h0'], extraInits: [['h0', Tensor.float32([1, B, H], new Float32Array(B * H).fill(0.1))]] }, /GRU with the initial hidden state 'h0' \(Keras takes initial_state as one \[batch, hidden\] tensor per direction\)/],
  ['an initial state from an input', { op: 'RNN', use: 'seq', extra: ['', 'h0'], extraInputs: [{ name: 'h0', dtype: 'float32', shape: [1, B, H] }] }, /RNN with the initial hidden state 'h0' \(Keras takes initial_state/],
  ['reverse with its sequence used', { op: 'LSTM', direction: 'reverse', use: 'seq' }, /LSTM in reverse direction with its sequence Y used/],
  ['Y_h as a graph output', { op: 'GRU', use: 'Y_h raw' }, /Identity reading the last state Y_h/],
];

describe('refused by name', () => {
  it.each(REFUSALS)('%s', async (_name, o, message) => {
    const model = await loadModel(writeOnnx(rnnGraph(o)), { fileName: 'rnn.onnx' });
    await expect(convert(model, 'rnn.h5')).rejects.toThrow(message);
  });

  it('a GRU with reset_after=True (every PyTorch GRU) in a TF.js layers model: TF.js 4.9 cannot build it', async () => {
    const g = rnnGraph({ op: 'GRU', use: 'seq', attrs: { linear_before_reset: int(1) } });
    const model = await loadModel(writeOnnx(g), { fileName: 'gru.onnx' });
    await expect(convert(model, 'model.json')).rejects.toThrow(/GRU with reset_after=True .* TF\.js/);
    // the .h5 is written (Keras runs it)
    expect((await convert(model, 'gru.h5')).bytes.byteLength).toBeGreaterThan(0);
  });
});
