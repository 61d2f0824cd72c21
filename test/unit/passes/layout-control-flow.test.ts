// The layout pass on If / Loop bodies: an outer value laid out channels-last that a body reads
// gets an identity-layout copy (a reported Transpose), and each body is laid out itself (its
// Conv / MaxPool become nnport ops) with its boundary in the source layout. The laid-out graph,
// run by nnport's runtime, against the original ONNX graph run by onnxruntime-node; lowered
// back to ONNX (lowerChannelsLast) the bodies hold no nnport op.
import { describe, expect, it } from 'vitest';
import type { Attr, Graph, Node, ValueInfo } from '../../../src/ir/graph.js';
import { subgraphsOf } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { validateGraph } from '../../../src/ir/validate.js';
import { channelsLastPerm, toChannelsLast } from '../../../src/passes/layout.js';
import { lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';

let count = 0;
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: `${opType.toLowerCase()}_${count++}`, opType, domain: '', inputs, outputs, attrs });
const g = (value: Graph): Attr => ({ type: 'graph', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const v = (name: string, dtype: ValueInfo['dtype'], shape?: ValueInfo['shape']): ValueInfo => (shape ? { name, dtype, shape } : { name, dtype });
const body = (name: string, nodes: Node[], inputs: ValueInfo[], outputs: ValueInfo[], initializers: Array<[string, Tensor]> = []): Graph => ({ name, nodes, inputs, outputs, initializers: new Map(initializers), opsets: { '': 13 } });

function random(shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.float32(shape, Array.from({ length: n }, () => r() * 2 - 1));
}

const deep = (graph: Graph): Node[] => graph.nodes.flatMap((n) => [n, ...subgraphsOf(n).flatMap(deep)]);

/** conv -> If(sum > 0): then conv (of an outer weight) + relu of the conv output, else maxpool of it + a per-channel add; -> conv. */
function ifGraph(): Graph {
  // its conv weight is the main graph's (as PyTorch's exporter leaves a branch's weights)
  const thenBranch = body('then', [node('Conv', ['c1', 'w_then'], ['t1'], { pads: ints([1, 1, 1, 1]) }), node('Relu', ['t1'], ['t2'])], [], [v('t2', 'float32', [1, 4, 6, 6])]);
  const elseBranch = body(
    'else',
    [node('MaxPool', ['c1'], ['e1'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), strides: ints([1, 1]) }), node('Add', ['e1', 'bias_else'], ['e2'])],
    [],
    [v('e2', 'float32', [1, 4, 6, 6])],
    [['bias_else', random([1, 4, 1, 1], 4)]],
  );
  return {
    name: 'if_conv',
    nodes: [
      node('Conv', ['x', 'w1'], ['c1']),
      node('ReduceSum', ['x'], ['s'], { keepdims: { type: 'int', value: 0 } }),
      node('Greater', ['s', 'zero'], ['cond']),
      node('If', ['cond'], ['y1'], { then_branch: g(thenBranch), else_branch: g(elseBranch) }),
      node('Conv', ['y1', 'w2'], ['y']),
    ],
    inputs: [v('x', 'float32', [1, 3, 8, 8])],
    outputs: [v('y', 'float32', [1, 2, 6, 6])],
    initializers: new Map<string, Tensor>([
      ['w1', random([4, 3, 3, 3], 1)],
      ['w2', random([2, 4, 1, 1], 2)],
      ['w_then', random([4, 4, 3, 3], 3)],
      ['zero', Tensor.float32([], [0])],
    ]),
    opsets: { '': 13 },
  };
}

/** conv -> Loop(n): h = tanh(conv(h) + c1) (a body conv, reading the outer conv output); -> conv. */
function loopGraph(): Graph {
  const loopBody = body(
    'loop_body',
    [node('Conv', ['h', 'w_body'], ['hc'], { pads: ints([1, 1, 1, 1]) }), node('Add', ['hc', 'c1'], ['hs']), node('Tanh', ['hs'], ['h_out']), node('Identity', ['cond_in'], ['cond_out'])],
    [v('i', 'int64', []), v('cond_in', 'bool', []), v('h', 'float32')],
    [v('cond_out', 'bool', []), v('h_out', 'float32')],
    [['w_body', random([4, 4, 3, 3], 7)]],
  );
  return {
    name: 'loop_conv',
    nodes: [node('Conv', ['x', 'w1'], ['c1'], { pads: ints([1, 1, 1, 1]) }), node('Loop', ['n', '', 'c1'], ['h_final'], { body: g(loopBody) }), node('Conv', ['h_final', 'w2'], ['y'])],
    inputs: [v('x', 'float32', [1, 3, 5, 5]), v('n', 'int64', [])],
    outputs: [v('y', 'float32', [1, 2, 5, 5])],
    initializers: new Map<string, Tensor>([
      ['w1', random([4, 3, 3, 3], 5)],
      ['w2', random([2, 4, 1, 1], 6)],
    ]),
    opsets: { '': 13 },
  };
}

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  expect(x.length).toBe(y.length);
  return Math.max(...x.map((p, i) => Math.abs(p - y[i]!)));
}

describe('layout pass: If / Loop bodies', () => {
  it('lays out both branches of an If that read a conv output, copying it back to the source layout; runs as onnxruntime-node runs the original', async () => {
    const source = ifGraph();
    const r = toChannelsLast(source, { target: 'tflite', keepNchwIo: true });
    validateGraph(r.graph);
    const ifNode = r.graph.nodes.find((n) => n.opType === 'If')!;
    const [thenB, elseB] = subgraphsOf(ifNode);
    expect(thenB!.nodes.some((n) => n.domain === 'nnport' && n.opType === 'Conv')).toBe(true);
    expect(elseB!.nodes.some((n) => n.domain === 'nnport' && n.opType === 'MaxPool')).toBe(true);
    // the If reads c1 through a copy in the source layout, reported; the branches read no channels-last value
    const copy = r.transposes.find((t) => t.value.startsWith('c1') && /reads 'c1' inside its subgraph/.test(t.why));
    expect(copy, JSON.stringify(r.transposes)).toBeDefined();
    expect(r.transposes.some((t) => t.why.startsWith(`in a subgraph of If '${ifNode.name}'`))).toBe(true);
    for (const x of [random([1, 3, 8, 8], 11), Tensor.float32([1, 3, 8, 8], random([1, 3, 8, 8], 12).toFloat32().map((p) => -Math.abs(p)))]) {
      const want = (await ortRun(source, { x })).get('y')!;
      const got = (await runGraph(r.graph, { x })).outputs.get('y')!;
      expect(got.shape).toEqual([1, 2, 6, 6]);
      expect(maxDiff(got, want)).toBeLessThan(1e-5);
    }
    // lowered for ONNX: no nnport op anywhere, same outputs in onnxruntime-node
    const lowered = lowerChannelsLast(r.graph).graph;
    expect(deep(lowered).some((n) => n.domain === 'nnport')).toBe(false);
    const x = random([1, 3, 8, 8], 13);
    expect(maxDiff((await ortRun(lowered, { x })).get('y')!, (await ortRun(source, { x })).get('y')!)).toBeLessThan(1e-5);
  });

  it('lays out a Loop body (a conv on the carried value, an add of an outer conv output) with a run-time trip count', async () => {
    const source = loopGraph();
    const r = toChannelsLast(source, { target: 'tflite', keepNchwIo: true });
    validateGraph(r.graph);
    const loop = r.graph.nodes.find((n) => n.opType === 'Loop')!;
    const [b] = subgraphsOf(loop);
    expect(b!.nodes.some((n) => n.domain === 'nnport' && n.opType === 'Conv')).toBe(true);
    expect(b!.inputs.map((i) => i.name)).toEqual(['i', 'cond_in', 'h']);
    for (const trips of [0, 1, 3]) {
      const x = random([1, 3, 5, 5], 20 + trips);
      const n = Tensor.int64([], [trips]);
      const want = (await ortRun(source, { x, n })).get('y')!;
      const got = (await runGraph(r.graph, { x, n })).outputs.get('y')!;
      expect(maxDiff(got, want), `${trips} trips`).toBeLessThan(1e-5);
    }
  });

  it('keeps each body boundary in the source layout when the model itself becomes channels-last', async () => {
    const source = ifGraph();
    const r = toChannelsLast(source, { target: 'keras' });
    const ifNode = r.graph.nodes.find((n) => n.opType === 'If')!;
    for (const b of subgraphsOf(ifNode)) expect(b.outputs[0]!.shape).toEqual([1, 4, 6, 6]);
    const x = random([1, 3, 8, 8], 14);
    const want = (await ortRun(source, { x })).get('y')!.permute(channelsLastPerm(4));
    const got = (await runGraph(r.graph, { x: x.permute(channelsLastPerm(4)) })).outputs.get('y')!;
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
  });
});
