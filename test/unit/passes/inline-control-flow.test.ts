// inlineControlFlow: a Loop of constant trip count unrolled (carried values, scan outputs, a body
// reading the main graph), an If in its body on the iteration number inlined once the unrolling
// made it constant, a Scan of fixed length unrolled (input / output axes and directions); the straight-line graph run by nnport against the
// original graph run by onnxruntime-node. What stays is listed with the reason; a Loop past the
// node budget is refused by name.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import type { Attr, Graph, Node, ValueInfo } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { validateGraph } from '../../../src/ir/validate.js';
import { inlineControlFlow } from '../../../src/passes/inline-control-flow.js';
import { createNodeEvaluator } from '../../../src/runtime/evaluate.js';
import { runGraph } from '../../../src/runtime/executor.js';

let count = 0;
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: `${opType.toLowerCase()}_${count++}`, opType, domain: '', inputs, outputs, attrs });
const g = (value: Graph): Attr => ({ type: 'graph', value });
const v = (name: string, dtype: ValueInfo['dtype'], shape?: ValueInfo['shape']): ValueInfo => (shape ? { name, dtype, shape } : { name, dtype });
const body = (name: string, nodes: Node[], inputs: ValueInfo[], outputs: ValueInfo[]): Graph => ({ name, nodes, inputs, outputs, initializers: new Map(), opsets: { '': 13 } });

/** Loop of `trips` iterations (a constant): acc = acc * gate + (i < 2 ? x : -x), each acc a scan output. */
function loopGraph(trips: number): Graph {
  const pick = node('If', ['early'], ['term'], {
    then_branch: g(body('then', [node('Identity', ['x'], ['x_then'])], [], [v('x_then', 'float32', [2, 3])])),
    else_branch: g(body('else', [node('Neg', ['x'], ['x_else'])], [], [v('x_else', 'float32', [2, 3])])),
  });
  const loopBody = body(
    'loop_body',
    [node('Less', ['i', 'two'], ['early']), pick, node('Mul', ['acc', 'gate'], ['scaled']), node('Add', ['scaled', 'term'], ['acc_out']), node('Identity', ['c'], ['c_out']), node('Identity', ['acc_out'], ['step'])],
    [v('i', 'int64', []), v('c', 'bool', []), v('acc', 'float32', [2, 3])],
    [v('c_out', 'bool', []), v('acc_out', 'float32', [2, 3]), v('step', 'float32', [2, 3])],
  );
  return {
    name: 'loop',
    nodes: [node('Sigmoid', ['x'], ['gate']), node('Loop', ['trips', '', 'zeros'], ['final', 'steps'], { body: g(loopBody) })],
    inputs: [v('x', 'float32', [2, 3])],
    outputs: [v('final', 'float32', [2, 3]), v('steps', 'float32', [trips, 2, 3])],
    initializers: new Map<string, Tensor>([
      ['trips', Tensor.int64([], [trips])],
      ['two', Tensor.int64([], [2])],
      ['zeros', Tensor.float32([2, 3])],
    ]),
    opsets: { '': 13 },
  };
}

async function ortRun(graph: Graph, x: Tensor): Promise<Map<string, Float32Array>> {
  const session = await ort.InferenceSession.create(writeOnnx(graph), { logSeverityLevel: 3 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    return new Map(graph.outputs.map((o) => [o.name, out[o.name]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe('inlineControlFlow', () => {
  it('unrolls a Loop of constant trip count and inlines the If in its body on the iteration number; runs as onnxruntime-node runs the original', async () => {
    const graph = loopGraph(4);
    const r = inlineControlFlow(graph, { evaluate: await createNodeEvaluator() });
    expect(r.left).toEqual([]);
    expect(r.unrolled).toEqual([{ name: graph.nodes[1]!.name, op: 'Loop', iterations: 4 }]);
    expect(r.inlined).toHaveLength(4);
    expect(r.graph.nodes.some((n) => ['If', 'Loop', 'Scan'].includes(n.opType))).toBe(false);
    validateGraph(r.graph);
    const x = Tensor.float32([2, 3], [0.5, -1, 2, 0.25, -0.75, 1.5]);
    const got = (await runGraph(r.graph, { x })).outputs;
    const want = await ortRun(graph, x);
    for (const o of ['final', 'steps']) {
      expect(got.get(o)!.shape, o).toEqual(o === 'steps' ? [4, 2, 3] : [2, 3]);
      const a = got.get(o)!.toFloat32();
      const b = want.get(o)!;
      expect(Math.max(...a.map((y, i) => Math.abs(y - b[i]!))), o).toBeLessThan(1e-6);
    }
  });

  it('unrolls a Scan of fixed length: input axes and directions, output axes and directions; runs as onnxruntime-node runs the original', async () => {
    const scanBody = body(
      'scan_body',
      [node('ReduceSum', ['xs', 'axis0'], ['r'], { keepdims: { type: 'int', value: 0 } }), node('Add', ['r', 'ys'], ['t']), node('Mul', ['t', 'scale'], ['u']), node('Add', ['s_in', 'u'], ['s_out']), node('Identity', ['s_out'], ['o1']), node('Mul', ['xs', 'scale'], ['o2'])],
      [v('s_in', 'float32', [3]), v('xs', 'float32', [2, 3]), v('ys', 'float32', [3])],
      [v('s_out', 'float32', [3]), v('o1', 'float32', [3]), v('o2', 'float32', [2, 3])],
    );
    const ints = (value: number[]): Attr => ({ type: 'ints', value });
    const graph: Graph = {
      name: 'scan',
      nodes: [
        node('Sigmoid', ['x0'], ['scale']),
        node('Scan', ['s0', 'x', 'y'], ['s', 'o1s', 'o2s'], { body: g(scanBody), num_scan_inputs: { type: 'int', value: 2 }, scan_input_axes: ints([1, 0]), scan_input_directions: ints([0, 1]), scan_output_axes: ints([0, -1]), scan_output_directions: ints([0, 1]) }),
      ],
      inputs: [v('x', 'float32', [2, 5, 3])],
      outputs: [v('s', 'float32', [3]), v('o1s', 'float32', [5, 3]), v('o2s', 'float32', [2, 3, 5])],
      initializers: new Map<string, Tensor>([
        ['s0', Tensor.float32([3], [0.5, -1, 2])],
        ['axis0', Tensor.int64([1], [0])],
        ['x0', Tensor.float32([3], [0.1, -0.2, 0.3])],
        ['y', Tensor.float32([5, 3], Array.from({ length: 15 }, (_, i) => Math.sin(i)))],
      ]),
      opsets: { '': 13 },
    };
    const r = inlineControlFlow(graph, { evaluate: await createNodeEvaluator() });
    expect(r.left).toEqual([]);
    expect(r.unrolled).toEqual([{ name: graph.nodes[1]!.name, op: 'Scan', iterations: 5 }]);
    validateGraph(r.graph);
    const x = Tensor.float32([2, 5, 3], Array.from({ length: 30 }, (_, i) => Math.cos(i * 0.7)));
    const got = (await runGraph(r.graph, { x })).outputs;
    const want = await ortRun(graph, x);
    for (const o of ['s', 'o1s', 'o2s']) {
      const a = got.get(o)!.toFloat32();
      const b = want.get(o)!;
      expect(a.length, o).toBe(b.length);
      expect(Math.max(...a.map((y, i) => Math.abs(y - b[i]!))), o).toBeLessThan(1e-6);
    }
  });

  it('a Loop past the node budget is refused by name', async () => {
    await expect(async () => inlineControlFlow(loopGraph(1000), { evaluate: await createNodeEvaluator(), maxNodes: 500 })).rejects.toThrow(/unsupported: Loop 'loop_\d+' unrolled 1000 times: .* over the budget of 500 nodes/);
  });

  it('lists what stays: a Loop with a trip count from the data', async () => {
    const graph = loopGraph(3);
    const data: Graph = {
      ...graph,
      inputs: [...graph.inputs, v('n', 'int64', [])],
      nodes: [graph.nodes[0]!, { ...graph.nodes[1]!, inputs: ['n', '', 'zeros'] }],
    };
    const r = inlineControlFlow(data, { evaluate: await createNodeEvaluator() });
    expect(r.left.map((l) => [l.node.opType, l.why])).toEqual([['Loop', expect.stringMatching(/trip count is not a constant/)]]);
    expect(r.graph.nodes.map((n) => n.opType)).toContain('Loop');
  });
});
