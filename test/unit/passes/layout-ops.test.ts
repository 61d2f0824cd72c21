// The layout pass on ops whose axes it rewrites, in one NCHW graph that onnxruntime-node runs:
// Conv, PRelu with a [C,1,1] slope, Split, Softmax, ReduceMean (keepdims) + broadcast Mul,
// Concat, asymmetric Pad, ConvTranspose, Slice, LayerNormalization over C·H·W, Resize,
// Gather on the channel axis, ReduceSum without keepdims, MaxPool with asymmetric pads and
// ceil_mode, AveragePool counting pads, Flatten + Gemm. The channels-last graph (no transposes)
// run on the NHWC input must give ORT's outputs, moved to channels-last.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/index.js';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, explainLayout, permuteTensor, toChannelsLast } from '../../../src/passes/layout.js';
import { lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { randomF32, rng } from '../kernels/reference.js';
import { relativeError } from './torchvision.js';

const r = rng(4242);
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });
const float = (value: number): Attr => ({ type: 'float', value });
const f32 = (shape: number[]): Tensor => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r));

function model(): Graph {
  const nodes: Node[] = [];
  const inits = new Map<string, Tensor>();
  const node = (opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs?: string[]): string => {
    const out = outputs ?? [`v${nodes.length}`];
    nodes.push({ name: `${opType}_${nodes.length}`, opType, domain: '', inputs, outputs: out, attrs });
    return out[0]!;
  };
  const init = (name: string, t: Tensor): string => (inits.set(name, t), name);
  const C = 6;
  let y = node('Conv', ['x', init('w0', f32([C, 3, 3, 3])), init('b0', f32([C]))], { pads: ints([1, 1, 1, 1]) });
  y = node('PRelu', [y, init('slope', f32([C, 1, 1]))]);
  node('Split', [y, init('split', Tensor.int64([2], [2, 4]))], { axis: int(1) }, ['a', 'b']);
  const a = node('Softmax', ['a'], { axis: int(1) });
  const m = node('ReduceMean', ['b'], { axes: ints([2, 3]), keepdims: int(1) });
  const bm = node('Mul', ['b', m]);
  const bias = node('Add', [bm, init('cbias', f32([4, 1, 1]))]);
  y = node('Concat', [a, bias], { axis: int(1) });
  y = node('Pad', [y, init('pads', Tensor.int64([8], [0, 0, 1, 0, 0, 0, 2, 1]))], { mode: { type: 'string', value: 'constant' } });
  y = node('ConvTranspose', [y, init('wt', f32([C, 4, 3, 3])), init('bt', f32([4]))], { strides: ints([2, 2]), pads: ints([1, 1, 0, 1]) });
  y = node('Slice', [y, init('starts', Tensor.int64([2], [1, 2])), init('ends', Tensor.int64([2], [4, 100])), init('sl_axes', Tensor.int64([2], [1, 3]))]);
  // a per-channel scale [C,1,1] and a per-row bias [1,H,1], broadcast over the normalised (C,H,W)
  y = node('LayerNormalization', [y, init('ln_s', f32([3, 1, 1])), init('ln_b', f32([1, 24, 1]))], { axis: int(1), epsilon: float(1e-5) });
  const ln = y;
  y = node('Resize', [y, '', init('scales', Tensor.float32([4], [1, 1, 2, 2]))], { mode: { type: 'string', value: 'linear' } });
  y = node('Gather', [y, init('gidx', Tensor.int64([3], [2, 0, 1]))], { axis: int(1) }, ['out_gather']);
  node('ReduceSum', [ln, init('rs_axes', Tensor.int64([1], [1]))], { keepdims: int(0) }, ['out_sum']);
  let p = node('MaxPool', ['out_gather'], { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([0, 1, 1, 0]), ceil_mode: int(1) });
  p = node('AveragePool', [p], { kernel_shape: ints([2, 2]), pads: ints([1, 1, 0, 0]), count_include_pad: int(1) });
  const flat = node('Flatten', [p], { axis: int(1) });
  return {
    name: 'ops',
    nodes: [...nodes, { name: 'gemm', opType: 'Gemm', domain: '', inputs: [flat, 'gw', 'gb'], outputs: ['out_dense'], attrs: { transB: int(1) } }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 9, 10] }],
    outputs: [
      { name: 'out_gather', dtype: 'float32' },
      { name: 'out_sum', dtype: 'float32' },
      { name: 'out_dense', dtype: 'float32' },
    ],
    initializers: new Map([...inits, ['gw', f32([5, 1368])], ['gb', f32([5])]]),
    opsets: { '': 17 },
  };
}

describe('layout pass: axes, pads and constants of rewritten ops (onnxruntime-node on the NCHW graph)', () => {
  it('channels-last graph without transposes computes what ORT computes', async () => {
    const g = model();
    const x = f32([2, 3, 9, 10]);
    const session = await ort.InferenceSession.create(writeOnnx(g), { logSeverityLevel: 3 });
    const want = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, [2, 3, 9, 10]) });
    await session.release();

    const result = toChannelsLast(g);
    const cl = result.graph;
    expect(cl.nodes.filter((n) => n.opType === 'Transpose'), explainLayout(result).join('\n')).toEqual([]);
    expect(result.notes.some((n) => /weight rows re-ordered/.test(n))).toBe(true);
    expect(result.notes.some((n) => /MaxPool .* stays on the op \(its pad value is -inf\); ceil_mode made floor mode/.test(n))).toBe(true);
    expect(result.notes.some((n) => /AveragePool .* became an explicit Pad \+ valid/.test(n))).toBe(true);
    const got = (await runGraph(cl, { x: permuteTensor(x, channelsLastPerm(4)) })).outputs;
    // and lowered back to ONNX ops: transposes only at the input and the 4-D output
    const lowered = lowerChannelsLast(cl);
    expect(lowered.transposes.filter((t) => !t.io), explainLayout(lowered).join('\n')).toEqual([]);
    expect(lowered.graph.nodes.filter((n) => n.opType === 'Transpose').length).toBeLessThanOrEqual(2);
    const back = (await runGraph(lowered.graph, { x: permuteTensor(x, channelsLastPerm(4)) })).outputs;
    for (const name of ['out_gather', 'out_sum', 'out_dense']) expect(relativeError(back.get(name)!, got.get(name)!), `lowered ${name}`).toBeLessThan(1e-5);
    for (const name of ['out_gather', 'out_sum', 'out_dense']) {
      const w = want[name]!;
      let t: Tensor = new Tensor('float32', [...w.dims], w.data as Float32Array);
      if (t.rank === 4) t = permuteTensor(t, channelsLastPerm(4));
      const mine = got.get(name)!;
      expect(mine.shape, name).toEqual(t.shape);
      expect(relativeError(mine, t), name).toBeLessThan(1e-5);
    }
  });
});

describe('layout pass: what it cannot rewrite is kept and reported', () => {
  it('a MatMul over the width axis between two convs keeps one transpose each way, each reported with the op that needs it', async () => {
    const w0 = f32([4, 3, 3, 3]);
    const w1 = f32([5, 4, 1, 1]);
    const m = f32([8, 8]);
    const g: Graph = {
      name: 'kept',
      nodes: [
        { name: 'conv0', opType: 'Conv', domain: '', inputs: ['x', 'w0'], outputs: ['c0'], attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 'mix', opType: 'MatMul', domain: '', inputs: ['c0', 'm'], outputs: ['mm'], attrs: {} },
        { name: 'conv1', opType: 'Conv', domain: '', inputs: ['mm', 'w1'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 6, 8] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([
        ['w0', w0],
        ['w1', w1],
        ['m', m],
      ]),
      opsets: { '': 17 },
    };
    const x = f32([1, 3, 6, 8]);
    const session = await ort.InferenceSession.create(writeOnnx(g), { logSeverityLevel: 3 });
    const want = (await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, [1, 3, 6, 8]) })).y!;
    await session.release();
    const result = toChannelsLast(g);
    expect(result.transposes.map((t) => [t.io, t.perm])).toEqual([
      [false, [0, 3, 1, 2]],
      [false, [0, 2, 3, 1]],
    ]);
    expect(result.transposes[0]!.why).toMatch(/MatMul 'mix'/);
    expect(result.transposes[1]!.why).toMatch(/Conv 'conv1' needs channels-last input/);
    expect(explainLayout(result)[0]).toBe('transposes inside the network: 2; at inputs/outputs: 0');
    const got = (await runGraph(result.graph, { x: permuteTensor(x, channelsLastPerm(4)) })).outputs.get('y')!;
    expect(relativeError(got, permuteTensor(new Tensor('float32', [...want.dims], want.data as Float32Array), channelsLastPerm(4)))).toBeLessThan(1e-5);
  });
});

describe('layout pass: subgraphs', () => {
  it('an If body reading a value the pass lays out channels-last reads a copy in the source layout, reported with the node and value named', () => {
    const branch = (name: string): Graph => ({
      name,
      nodes: [{ name: `${name}_id`, opType: 'Identity', domain: '', inputs: ['c0'], outputs: [`${name}_out`], attrs: {} }],
      inputs: [],
      outputs: [{ name: `${name}_out`, dtype: 'float32' }],
      initializers: new Map(),
      opsets: { '': 17 },
    });
    const g: Graph = {
      name: 'with-if',
      nodes: [
        { name: 'conv0', opType: 'Conv', domain: '', inputs: ['x', 'w0'], outputs: ['c0'], attrs: {} },
        { name: 'choose', opType: 'If', domain: '', inputs: ['cond'], outputs: ['y'], attrs: { then_branch: { type: 'graph', value: branch('then') }, else_branch: { type: 'graph', value: branch('else') } } },
      ],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [1, 3, 6, 8] },
        { name: 'cond', dtype: 'bool', shape: [] },
      ],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([['w0', f32([4, 3, 3, 3])]]),
      opsets: { '': 17 },
    };
    const r = toChannelsLast(g);
    const t = r.transposes.find((k) => k.value === 'c0' && /If 'choose' reads 'c0' inside its subgraph/.test(k.why));
    expect(t, JSON.stringify(r.transposes)).toBeDefined();
    expect(t!.perm).toEqual([0, 3, 1, 2]);
    const copy = r.graph.nodes.find((n) => n.name === t!.node)!.outputs[0]!;
    const choose = r.graph.nodes.find((n) => n.name === 'choose')!;
    for (const b of ['then_branch', 'else_branch']) {
      const body = (choose.attrs[b] as { type: 'graph'; value: Graph }).value;
      expect(body.nodes[0]!.inputs).toEqual([copy]);
    }
  });
});
