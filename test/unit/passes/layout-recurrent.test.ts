// The layout pass and recurrent ops: an LSTM / GRU / RNN reading its sequence with time and batch
// swapped (PyTorch's batch_first Transpose, absorbed) flips its `layout` and reads the data as it
// is; its outputs carry the other layout's axes on. Checked on PyTorch exports
// (scripts/fixtures/recurrent_onnx.py: outputs against PyTorch's) and on one-node graphs with
// initial states against onnxruntime-node.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllFormats } from '../../../src/formats/all.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { attrInt, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { toChannelsLast } from '../../../src/passes/layout.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { exportMissingRecurrentFixtures, recurrentFixture, relErr } from '../../formats/tflite/recurrent-fixtures.js';

beforeAll(() => {
  registerAllFormats();
  exportMissingRecurrentFixtures();
}, 120_000);

async function run(g: Graph, x: Tensor, extra: Array<[string, Tensor]> = []): Promise<Float32Array[]> {
  const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x], ...extra]));
  return g.outputs.map((o) => outputs.get(o.name)!.toFloat32());
}

const recurrent = (g: Graph) => g.nodes.filter((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType));

describe('layout pass: recurrent ops', () => {
  it.each([
    ['lstm_batch_first', 2],
    ['lstm_batch_first_seq', 1],
    ['lstm_bidi', 2],
    ['gru', 1],
  ] as const)('%s: the batch_first Transpose absorbed into a layout=1 first layer, outputs as PyTorch computes them', async (name, layers) => {
    const f = await recurrentFixture(name);
    const r = toChannelsLast(f.graph, { target: 'tflite' });
    const ops = recurrent(r.graph);
    expect(ops).toHaveLength(layers);
    // PyTorch's graph has a [1, 0, 2] Transpose before the first layer: it reads the batch-major input now
    expect(attrInt(ops[0]!, 'layout', 0)).toBe(1);
    expect(ops[0]!.inputs[0]).toBe(r.graph.inputs[0]!.name);
    const ys = await run(r.graph, f.input);
    ys.forEach((y, i) => expect(relErr(y, f.outputs[i]!), `output ${i}`).toBeLessThan(1e-5));
  });

  it('a CRNN: channels-last conv features read by a layout=1 LSTM, no Transpose left', async () => {
    const f = await recurrentFixture('lstm_conv');
    const r = toChannelsLast(f.graph, { target: 'tflite' });
    expect(r.graph.nodes.filter((n) => n.opType === 'Transpose')).toHaveLength(0);
    expect(attrInt(recurrent(r.graph)[0]!, 'layout', 0)).toBe(1);
    const [y] = await run(r.graph, f.input.permute([0, 2, 3, 1]));
    expect(relErr(y!, f.outputs[0]!)).toBeLessThan(1e-5);
  });

  it.each([0, 1] as const)('layout %i LSTM (bidirectional) with initial states as model inputs, between Transposes: onnxruntime-node on the source', async (layout) => {
    const r = rng(91 + layout);
    const rand = (shape: number[], scale = 0.7) => Tensor.float32(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * scale));
    const [T, B, I, H] = [4, 3, 2, 5];
    const state = layout === 0 ? [2, B, H] : [B, 2, H];
    // x arrives with the other layout's axes: [B, T, I] for layout 0, [T, B, I] for layout 1
    const xShape = layout === 0 ? [B, T, I] : [T, B, I];
    const graph: Graph = {
      name: 'lstm',
      nodes: [
        { name: 't_in', opType: 'Transpose', domain: '', inputs: ['x'], outputs: ['xt'], attrs: { perm: { type: 'ints', value: [1, 0, 2] } } },
        { name: 'lstm', opType: 'LSTM', domain: '', inputs: ['xt', 'W', 'R', 'B', '', 'h0', 'c0'], outputs: ['Y', 'Y_h', 'Y_c'], attrs: { hidden_size: { type: 'int', value: H }, direction: { type: 'string', value: 'bidirectional' }, layout: { type: 'int', value: layout } } },
        { name: 'relu', opType: 'Relu', domain: '', inputs: ['Y_c'], outputs: ['c_relu'], attrs: {} },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: xShape },
        { name: 'h0', dtype: 'float32', shape: state },
        { name: 'c0', dtype: 'float32', shape: state },
      ],
      outputs: ['Y', 'Y_h', 'c_relu'].map((name) => ({ name, dtype: 'float32' as const })),
      initializers: new Map([
        ['W', rand([2, 4 * H, I])],
        ['R', rand([2, 4 * H, H])],
        ['B', rand([2, 8 * H], 0.5)],
      ]),
      opsets: { '': 14 },
    };
    const x = rand(xShape, 1.5);
    const h0 = rand(state, 0.5);
    const c0 = rand(state, 0.5);
    const feeds: Array<[string, Tensor]> = [['h0', h0], ['c0', c0]];
    const laid = toChannelsLast(graph, { target: 'tflite' }).graph;
    const lstm = recurrent(laid)[0]!;
    expect(attrInt(lstm, 'layout', 0)).toBe(1 - layout);
    expect(lstm.inputs[0]).toBe('x');
    // the outputs keep the source's order (their last axis, the hidden one, stays last: not an image made channels-last)
    expect(laid.outputs.map((o) => o.shape)).toEqual(graph.outputs.map((o) => o.shape));
    const mine = await run(laid, x, feeds);
    // onnxruntime-node's CPU LSTM takes layout 0 only: the layout-1 source runs as its layout-0 twin
    const src: Graph = layout === 0 ? graph : twin(graph);
    const session = await ort.InferenceSession.create(writeOnnx(src), { logSeverityLevel: 3 });
    try {
      const sw = (t: Tensor) => (layout === 0 ? t : t.permute([1, 0, 2]));
      const res = await session.run({ x: new ort.Tensor('float32', x.toFloat32(), [...x.shape]), h0: new ort.Tensor('float32', sw(h0).toFloat32(), [...sw(h0).shape]), c0: new ort.Tensor('float32', sw(c0).toFloat32(), [...sw(c0).shape]) });
      const back = (name: string, perm: number[]) => {
        const t = res[name]!;
        const v = Tensor.float32([...t.dims], t.data as Float32Array);
        return (layout === 0 ? v : v.permute(perm)).toFloat32();
      };
      const want = [back('Y', [2, 0, 1, 3]), back('Y_h', [1, 0, 2]), back('c_relu', [1, 0, 2])];
      want.forEach((w, i) => expect(relErr(mine[i]!, w), graph.outputs[i]!.name).toBeLessThan(1e-5));
    } finally {
      await session.release();
    }
  });
});

/** A layout-1 one-LSTM graph as its layout-0 twin: the Transpose before it dropped (x is then [T, B, I]), states [D, B, H]. */
function twin(g: Graph): Graph {
  const lstm = g.nodes[1]!;
  const attrs = { ...lstm.attrs };
  delete attrs.layout;
  return {
    ...g,
    nodes: [{ ...lstm, inputs: ['x', ...lstm.inputs.slice(1)], attrs }, g.nodes[2]!],
    inputs: g.inputs.map((v) => (v.name === 'x' ? v : { ...v, shape: [v.shape![1]!, v.shape![0]!, v.shape![2]!] })),
  };
}
