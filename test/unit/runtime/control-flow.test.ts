// If, Loop and Scan on the executor (bodies reading values of the graphs around them, nested
// bodies, Scan's axes and directions, a Loop stopped by its condition or its trip count), each
// against onnxruntime-node on the same graph written as ONNX; and the IR's handling of the values
// bodies read (ordering, dead-node sweeps, renames, shape inference).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import { topologicalOrder, type Attr, type Graph, type Node, type ValueInfo } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { GraphRewriter } from '../../../src/ir/rewriter.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { validateGraph } from '../../../src/ir/validate.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { randomF32, rng } from '../kernels/reference.js';
import { ortRun } from '../../support/ort.js';

const r = rng(4242);
const f32 = (shape: number[]): Tensor => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r));
const bool = (v: boolean): Tensor => new Tensor('bool', [], Uint8Array.of(v ? 1 : 0));

let count = 0;
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Node => ({ name: `${opType}_${count++}`, opType, domain: '', inputs, outputs, attrs });
const g = (value: Graph): Attr => ({ type: 'graph', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });
const v = (name: string, dtype: ValueInfo['dtype'], shape?: ValueInfo['shape']): ValueInfo => (shape ? { name, dtype, shape } : { name, dtype });
const body = (name: string, nodes: Node[], inputs: ValueInfo[], outputs: ValueInfo[]): Graph => ({ name, nodes, inputs, outputs, initializers: new Map(), opsets: { '': 13 } });

/** The graph's outputs from nnport and from onnxruntime-node (the file written in node order). */
async function bothRuns(graph: Graph, feeds: Record<string, Tensor>): Promise<Array<{ name: string; got: Tensor; want: Tensor }>> {
  const got = (await runGraph(graph, feeds)).outputs;
  const want = await ortRun(graph, feeds);
  return graph.outputs.map((o) => ({ name: o.name, got: got.get(o.name)!, want: want.get(o.name)! }));
}

async function expectSameAsOrt(graph: Graph, feeds: Record<string, Tensor>): Promise<void> {
  for (const { name, got, want } of await bothRuns(graph, feeds)) {
    expect(got.shape, name).toEqual(want.shape);
    const a = got.toNumbers();
    const b = want.toNumbers();
    let worst = 0;
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(a.length, name).toBe(b.length);
    expect(worst, name).toBeLessThan(1e-5);
  }
}

/** Scan (opset 13) over x along axis 1 and over y backwards, stacking one output along the last axis in reverse; the body reads `scale`, computed in the main graph by a node listed after the Scan. */
function scanGraph(): Graph {
  const scanBody = body(
    'scan_body',
    [
      node('ReduceSum', ['xs', 'axis0'], ['r'], { keepdims: int(0) }),
      node('Add', ['r', 'ys'], ['t']),
      node('Mul', ['t', 'scale'], ['u']),
      node('Add', ['s_in', 'u'], ['s_out']),
      node('Identity', ['s_out'], ['o1']),
      node('Mul', ['xs', 'scale'], ['o2']),
    ],
    [v('s_in', 'float32', [3]), v('xs', 'float32', [2, 3]), v('ys', 'float32', [3])],
    [v('s_out', 'float32', [3]), v('o1', 'float32', [3]), v('o2', 'float32', [2, 3])],
  );
  return {
    name: 'scan',
    nodes: [
      node('Scan', ['s0', 'x', 'y'], ['s', 'o1s', 'o2s'], {
        body: g(scanBody),
        num_scan_inputs: int(2),
        scan_input_axes: ints([1, 0]),
        scan_input_directions: ints([0, 1]),
        scan_output_axes: ints([0, -1]),
        scan_output_directions: ints([0, 1]),
      }),
      node('Sigmoid', ['k'], ['scale']),
    ],
    inputs: [v('x', 'float32', [2, 5, 3]), v('y', 'float32', [5, 3]), v('k', 'float32', [3])],
    outputs: [v('s', 'float32', [3]), v('o1s', 'float32', [5, 3]), v('o2s', 'float32', [2, 3, 5])],
    initializers: new Map<string, Tensor>([
      ['s0', Tensor.float32([3], [0.5, -1, 2])],
      ['axis0', Tensor.int64([1], [0])],
    ]),
    opsets: { '': 13 },
  };
}

/** Loop (opset 13) accumulating i * sigmoid(a) until the sum reaches `limit` or M runs out; a scan output per iteration. */
function loopGraph(withTripCount: boolean): Graph {
  const loopBody = body(
    'loop_body',
    [
      node('Cast', ['i'], ['fi'], { to: int(1) }),
      node('Add', ['acc', 'fi'], ['acc2']),
      node('Mul', ['acc2', 'gate'], ['acc3']),
      node('ReduceSum', ['acc3'], ['sum'], { keepdims: int(0) }),
      node('Less', ['sum', 'limit'], ['c_out']),
      node('Identity', ['acc3'], ['step']),
    ],
    [v('i', 'int64', []), v('c', 'bool', []), v('acc', 'float32', [2])],
    [v('c_out', 'bool', []), v('acc3', 'float32', [2]), v('step', 'float32', [2])],
  );
  return {
    name: 'loop',
    nodes: [node('Sigmoid', ['a'], ['gate']), node('Loop', [withTripCount ? 'M' : '', 'cond', 'a'], ['final', 'steps'], { body: g(loopBody) })],
    inputs: [...(withTripCount ? [v('M', 'int64', [])] : []), v('cond', 'bool', []), v('a', 'float32', [2])],
    outputs: [v('final', 'float32', [2]), v('steps', 'float32', [null, 2])],
    initializers: new Map([['limit', Tensor.float32([], [8])]]),
    opsets: { '': 13 },
  };
}

/** If on sum(x) > 0: then a Loop of 3 iterations whose body reads a value of the branch and one of the main graph; else Neg. */
function ifGraph(): Graph {
  const inner = body(
    'inner_body',
    [node('Mul', ['acc', 'twice'], ['m']), node('Add', ['m', 'x'], ['acc_out']), node('Identity', ['c'], ['c_out'])],
    [v('i', 'int64', []), v('c', 'bool', []), v('acc', 'float32', [2, 3])],
    [v('c_out', 'bool', []), v('acc_out', 'float32', [2, 3])],
  );
  const thenBranch: Graph = {
    ...body('then', [node('Constant', [], ['three'], { value: { type: 'tensor', value: Tensor.int64([], [3]) } }), node('Add', ['half', 'half'], ['twice']), node('Loop', ['three', '', 'x'], ['looped'], { body: g(inner) })], [], [v('looped', 'float32', [2, 3])]),
  };
  const elseBranch = body('else', [node('Neg', ['x'], ['negated'])], [], [v('negated', 'float32', [2, 3])]);
  return {
    name: 'if',
    nodes: [node('ReduceSum', ['x'], ['total'], { keepdims: int(0) }), node('Greater', ['total', 'zero'], ['positive']), node('If', ['positive'], ['y'], { then_branch: g(thenBranch), else_branch: g(elseBranch) })],
    inputs: [v('x', 'float32', [2, 3])],
    outputs: [v('y', 'float32', [2, 3])],
    initializers: new Map([
      ['zero', Tensor.float32([], [0])],
      ['half', Tensor.float32([], [0.5])],
    ]),
    opsets: { '': 13 },
  };
}

describe('control flow on the executor, against onnxruntime-node', () => {
  it('Scan: input axes and directions, output axes and directions, a body reading a value computed after it in node order', async () => {
    const graph = scanGraph();
    validateGraph(graph);
    await expectSameAsOrt(graph, { x: f32([2, 5, 3]), y: f32([5, 3]), k: f32([3]) });
  });

  it('Loop: stopped by its condition, by its trip count, and with no trip count', async () => {
    const a = Tensor.float32([2], [0.4, 1.1]);
    // the sum passes 8 before the tenth iteration: the condition stops it
    const stopped = await bothRuns(loopGraph(true), { M: Tensor.int64([], [10]), cond: bool(true), a });
    expect(stopped[1]!.got.shape[0]).toBeLessThan(10);
    await expectSameAsOrt(loopGraph(true), { M: Tensor.int64([], [10]), cond: bool(true), a });
    await expectSameAsOrt(loopGraph(true), { M: Tensor.int64([], [2]), cond: bool(true), a });
    await expectSameAsOrt(loopGraph(false), { cond: bool(true), a });
  });

  it('Loop: zero iterations give the initial values and an empty scan output', async () => {
    const res = await runGraph(loopGraph(true), { M: Tensor.int64([], [0]), cond: bool(true), a: Tensor.float32([2], [1, 2]) });
    expect(res.outputs.get('final')!.toNumbers()).toEqual([1, 2]);
    expect(res.outputs.get('steps')!.shape).toEqual([0, 2]);
  });

  it('If: both branches; the taken one holds a Loop whose body reads the branch and the main graph', async () => {
    const graph = ifGraph();
    validateGraph(graph);
    await expectSameAsOrt(graph, { x: Tensor.float32([2, 3], [1, 2, 3, -1, 0.5, 0.25]) });
    await expectSameAsOrt(graph, { x: Tensor.float32([2, 3], [-1, -2, 3, -1, 0.5, 0.25]) });
  });

  it('a graph written with subgraphs reads back and runs the same', async () => {
    const graph = ifGraph();
    const back = await readOnnx(writeOnnx(graph));
    const x = Tensor.float32([2, 3], [1, 2, 3, -1, 0.5, 0.25]);
    expect((await runGraph(back, { x })).outputs.get('y')!.toNumbers()).toEqual((await runGraph(graph, { x })).outputs.get('y')!.toNumbers());
  });
});

describe('values read by subgraphs in the IR', () => {
  it('topological order puts the producer of a value a body reads before the node', () => {
    const order = topologicalOrder(scanGraph()).map((n) => n.opType);
    expect(order).toEqual(['Sigmoid', 'Scan']);
  });

  it('a dead-node sweep keeps what a body reads; a rename reaches into the bodies that read it', async () => {
    const graph = ifGraph();
    const rw = new GraphRewriter(graph);
    expect(rw.sweepDeadNodes()).toBe(0);
    rw.renameValue('total', 'sum_of_x');
    // 'x' is read by the else branch and by the Loop body inside the then branch
    const p = rw.addNode({ opType: 'Identity', inputs: ['x'], outputs: ['x_copy'] });
    rw.replaceUses('x', 'x_copy', { except: new Set([p]) });
    const renamed = rw.toGraph();
    validateGraph(renamed);
    const x = Tensor.float32([2, 3], [1, 2, 3, -1, 0.5, 0.25]);
    expect((await runGraph(renamed, { x })).outputs.get('y')!.toNumbers()).toEqual((await runGraph(graph, { x })).outputs.get('y')!.toNumbers());
    const reads = new Set<string>();
    const walk = (gr: Graph): void => {
      for (const n of gr.nodes) {
        n.inputs.forEach((i) => reads.add(i));
        for (const a of Object.values(n.attrs)) if (a.type === 'graph') walk(a.value);
      }
    };
    walk(renamed);
    expect(reads.has('x_copy')).toBe(true);
    // only the Identity reads 'x' now
    expect(renamed.nodes.filter((n) => n.inputs.includes('x')).map((n) => n.opType)).toEqual(['Identity']);
    reads.clear();
    for (const n of renamed.nodes) for (const a of Object.values(n.attrs)) if (a.type === 'graph') walk(a.value);
    expect(reads.has('x')).toBe(false);
  });

  it('shape inference of Loops nested 40 deep whose carried values change shape settles ([?])', () => {
    let inner = body('b0', [node('Concat', ['acc', 'acc'], ['acc_out'], { axis: int(0) }), node('Identity', ['c'], ['c_out'])], [v('i', 'int64', []), v('c', 'bool', []), v('acc', 'float32', [1])], [v('c_out', 'bool', []), v('acc_out', 'float32', [null])]);
    for (let d = 1; d < 40; d++) {
      inner = body(`b${d}`, [node('Loop', ['', 'c', 'acc'], ['acc_out'], { body: g(inner) }), node('Identity', ['c'], ['c_out'])], [v('i', 'int64', []), v('c', 'bool', []), v('acc', 'float32', [1])], [v('c_out', 'bool', []), v('acc_out', 'float32', [null])]);
    }
    const graph: Graph = { name: 'deep', nodes: [node('Loop', ['', 'go', 'x'], ['y'], { body: g(inner) })], inputs: [v('go', 'bool', []), v('x', 'float32', [1])], outputs: [v('y', 'float32')], initializers: new Map(), opsets: { '': 13 } };
    expect(inferShapes(graph).values.get('y')).toMatchObject({ dtype: 'float32', shape: [null] });
  });

  it('shape inference of Ifs nested 24 deep whose branches are one graph (2^24 inferences) stops at a bound, with an error naming it', () => {
    let branch = body('leaf', [node('Neg', ['x'], ['y0'])], [], [v('y0', 'float32', [2])]);
    for (let d = 1; d < 24; d++) branch = body(`level${d}`, [node('If', ['c'], [`y${d}`], { then_branch: g(branch), else_branch: g(branch) })], [], [v(`y${d}`, 'float32', [2])]);
    const graph: Graph = { name: 'shared', nodes: [node('If', ['c'], ['y'], { then_branch: g(branch), else_branch: g(branch) })], inputs: [v('c', 'bool', []), v('x', 'float32', [2])], outputs: [v('y', 'float32')], initializers: new Map(), opsets: { '': 13 } };
    expect(inferShapes(graph, { onError: 'unknown' }).errors.join()).toMatch(/more than 10000 subgraph inferences/);
  });

  it('shape inference: Scan outputs stacked along their axes, a Loop scan output of unknown length, If outputs', () => {
    const scan = inferShapes(scanGraph()).values;
    expect(scan.get('s')?.shape).toEqual([3]);
    expect(scan.get('o1s')?.shape).toEqual([5, 3]);
    expect(scan.get('o2s')?.shape).toEqual([2, 3, 5]);
    const loop = inferShapes(loopGraph(true)).values;
    expect(loop.get('final')).toMatchObject({ dtype: 'float32', shape: [2] });
    expect(loop.get('steps')).toMatchObject({ dtype: 'float32', shape: [null, 2] });
    expect(inferShapes(ifGraph()).values.get('y')).toMatchObject({ dtype: 'float32', shape: [2, 3] });
  });
});
