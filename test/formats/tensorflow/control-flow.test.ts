// TensorFlow functional control flow (StatelessIf / If / StatelessWhile / While over the function
// library) read into ONNX If / Loop: four graph models written here as TF.js graph-model JSON
// (the FunctionDef spelling of TF.js' converter: signature {name, inputArg, outputArg}, nodeDef,
// ret) and as a binary GraphDef of the same nodes. nnport's runtime runs them like TensorFlow.js'
// own graph-model executor (executeAsync), and onnxruntime-node runs the .onnx nnport writes the
// same; bad libraries are typed errors.
import { describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { rng } from '../../support/rng.js';
import { maxAbsDiff } from './helpers.js';
import { cst, f32, I, nnportRun, op, ph, scalarF, scalarI, tfjsRun, useTfGraphHarness, type DT, type ModelSpec } from './tf-graph-spec.js';

const oracle = useTfliteOracle();
const { nnportGraph, check, checkTflite } = useTfGraphHarness('nnport-tfcf-', 'cf.pb', oracle);

// (1) tf.cond on a data-dependent predicate: s > 0 ? x * 2 + w : relu(x - w)
const condModel = (ifOp = 'StatelessIf'): ModelSpec => ({
  nodes: [
    ph('x', [2, 3]),
    ph('s', []),
    cst('w', 'float32', [2, 3], [0.5, -1, 2, 0.25, -0.75, 1.5]),
    cst('zero', 'float32', [], [0]),
    op('pred', 'Greater', ['s', 'zero']),
    op('cond', ifOp, ['pred', 'x', 'w'], {
      Tcond: { type: 'DT_BOOL' },
      Tin: { types: ['DT_FLOAT', 'DT_FLOAT'] },
      Tout: { types: ['DT_FLOAT'] },
      then_branch: { func: 'cond_true_10' },
      else_branch: { func: 'cond_false_11' },
      output_shapes: { shapes: [[2, 3]] },
    }),
    op('y', 'Identity', ['cond']),
  ],
  functions: [
    {
      name: 'cond_true_10',
      inputs: [['x', 'DT_FLOAT'], ['w', 'DT_FLOAT']],
      outputs: [['identity', 'DT_FLOAT']],
      nodes: [cst('cond/two', 'float32', [], [2]), op('mul', 'Mul', ['x', 'cond/two:output:0']), op('add', 'AddV2', ['mul:z:0', 'w']), op('Identity', 'Identity', ['add:z:0'])],
      ret: { identity: 'Identity:output:0' },
    },
    {
      name: 'cond_false_11',
      inputs: [['x', 'DT_FLOAT'], ['w', 'DT_FLOAT']],
      outputs: [['identity', 'DT_FLOAT']],
      nodes: [op('sub', 'Sub', ['x', 'w']), op('relu', 'Relu', ['sub:z:0'])],
      ret: { identity: 'relu:activations:0' },
    },
  ],
  outputs: ['y'],
});

// (2) while i < n: x = x * 0.5 + w; i += 1   (n from the input)
const accumulateModel = (whileOp = 'StatelessWhile'): ModelSpec => ({
  nodes: [
    ph('x', [4]),
    ph('n', [], 'DT_INT32'),
    cst('w', 'float32', [4], [0.1, -0.2, 0.3, 1]),
    cst('i0', 'int32', [], [0]),
    op('loop', whileOp, ['i0', 'n', 'x', 'w'], {
      T: { types: ['DT_INT32', 'DT_INT32', 'DT_FLOAT', 'DT_FLOAT'] },
      cond: { func: 'while_cond_20' },
      body: { func: 'while_body_21' },
      output_shapes: { shapes: [[], [], [4], [4]] },
    }),
    op('y', 'Identity', ['loop:2']),
  ],
  functions: [
    {
      name: 'while_cond_20',
      inputs: [['i', 'DT_INT32'], ['n', 'DT_INT32'], ['x', 'DT_FLOAT'], ['w', 'DT_FLOAT']],
      outputs: [['identity', 'DT_BOOL']],
      nodes: [op('Less', 'Less', ['i', 'n'], I)],
      ret: { identity: 'Less:z:0' },
    },
    {
      name: 'while_body_21',
      inputs: [['i', 'DT_INT32'], ['n', 'DT_INT32'], ['x', 'DT_FLOAT'], ['w', 'DT_FLOAT']],
      outputs: [['i_1', 'DT_INT32'], ['n_1', 'DT_INT32'], ['x_1', 'DT_FLOAT'], ['w_1', 'DT_FLOAT']],
      nodes: [
        cst('body/one', 'int32', [], [1]),
        cst('body/half', 'float32', [], [0.5]),
        op('add_i', 'AddV2', ['i', 'body/one:output:0'], I),
        op('mul', 'Mul', ['x', 'body/half:output:0']),
        op('add', 'AddV2', ['mul:z:0', 'w']),
      ],
      ret: { i_1: 'add_i:z:0', n_1: 'n', x_1: 'add:z:0', w_1: 'w' },
    },
  ],
  outputs: ['y'],
});

// (3) an RNN-like recurrence: h = tanh(h W + x U) for 6 steps (the limit a Const of the cond function)
const rnnModel = (): ModelSpec => {
  const r = rng(31);
  const mat = (n: number) => Array.from({ length: n }, () => (r() * 2 - 1) * 0.6);
  return {
    nodes: [
      ph('x', [1, 4]),
      cst('h0', 'float32', [1, 4], [0, 0, 0, 0]),
      cst('i0', 'int32', [], [0]),
      op('loop', 'While', ['i0', 'h0', 'x'], {
        T: { types: ['DT_INT32', 'DT_FLOAT', 'DT_FLOAT'] },
        cond: { func: 'rnn_cond' },
        body: { func: 'rnn_body' },
        output_shapes: { shapes: [[], [1, 4], [1, 4]] },
      }),
      op('h', 'Identity', ['loop:1']),
    ],
    functions: [
      {
        name: 'rnn_cond',
        inputs: [['i', 'DT_INT32'], ['h', 'DT_FLOAT'], ['x', 'DT_FLOAT']],
        outputs: [['identity', 'DT_BOOL']],
        nodes: [cst('rnn_cond/steps', 'int32', [], [6]), op('Less', 'Less', ['i', 'rnn_cond/steps:output:0'], I)],
        ret: { identity: 'Less:z:0' },
      },
      {
        name: 'rnn_body',
        inputs: [['i', 'DT_INT32'], ['h', 'DT_FLOAT'], ['x', 'DT_FLOAT']],
        outputs: [['i_1', 'DT_INT32'], ['h_1', 'DT_FLOAT'], ['x_1', 'DT_FLOAT']],
        nodes: [
          cst('rnn_body/one', 'int32', [], [1]),
          cst('rnn_body/W', 'float32', [4, 4], mat(16)),
          cst('rnn_body/U', 'float32', [4, 4], mat(16)),
          op('add_i', 'AddV2', ['i', 'rnn_body/one:output:0'], I),
          op('hw', 'MatMul', ['h', 'rnn_body/W:output:0']),
          op('xu', 'MatMul', ['x', 'rnn_body/U:output:0']),
          op('sum', 'AddV2', ['hw:product:0', 'xu:product:0']),
          op('tanh', 'Tanh', ['sum:z:0']),
        ],
        ret: { i_1: 'add_i:z:0', h_1: 'tanh:y:0', x_1: 'x' },
      },
    ],
    outputs: ['h'],
  };
};

// (3b) the same recurrence counted as `limit > i` with i += 2, the limit a carried value of the graph
const rnnCarriedLimit = (limit: number): ModelSpec => {
  const m = rnnModel();
  m.nodes.push(cst('limit', 'int32', [], [limit]));
  const loop = m.nodes.find((n) => n.name === 'loop')!;
  loop.input = ['i0', 'h0', 'x', 'limit'];
  loop.attr = { ...loop.attr, T: { types: ['DT_INT32', 'DT_FLOAT', 'DT_FLOAT', 'DT_INT32'] }, output_shapes: { shapes: [[], [1, 4], [1, 4], []] } };
  const [cond, body] = m.functions;
  cond!.inputs.push(['limit', 'DT_INT32']);
  cond!.nodes = [op('Greater', 'Greater', ['limit', 'i'], I)];
  cond!.ret = { identity: 'Greater:z:0' };
  body!.inputs.push(['limit', 'DT_INT32']);
  body!.outputs.push(['limit_1', 'DT_INT32']);
  body!.ret.limit_1 = 'limit';
  body!.nodes = body!.nodes.map((n) => (n.name === 'rnn_body/one' ? cst('rnn_body/one', 'int32', [], [2]) : n));
  return m;
};

// (3c) TF2's maximum_iterations: cond = LogicalAnd(i < 6, i < max_iterations), max_iterations a carried value
const rnnMaxIterations = (maxIterations: number): ModelSpec => {
  const m = rnnCarriedLimit(maxIterations);
  const [cond, body] = m.functions;
  cond!.nodes = [cst('rnn_cond/steps', 'int32', [], [6]), op('Less', 'Less', ['i', 'rnn_cond/steps:output:0'], I), op('Max', 'Less', ['i', 'limit'], I), op('And', 'LogicalAnd', ['Less:z:0', 'Max:z:0'])];
  cond!.ret = { identity: 'And:z:0' };
  body!.nodes = body!.nodes.map((n) => (n.name === 'rnn_body/one' ? cst('rnn_body/one', 'int32', [], [1]) : n));
  return m;
};

// (4) a cond inside a while body: while i < 5: x = (i < 2) ? x * 2 : x - 1; i += 1
const nestedModel = (): ModelSpec => ({
  nodes: [
    ph('x', [3]),
    cst('i0', 'int32', [], [0]),
    op('loop', 'StatelessWhile', ['i0', 'x'], {
      T: { types: ['DT_INT32', 'DT_FLOAT'] },
      cond: { func: 'outer_cond' },
      body: { func: 'outer_body' },
      output_shapes: { shapes: [[], [3]] },
    }),
    op('y', 'Identity', ['loop:1']),
  ],
  functions: [
    {
      name: 'outer_cond',
      inputs: [['i', 'DT_INT32'], ['x', 'DT_FLOAT']],
      outputs: [['identity', 'DT_BOOL']],
      nodes: [cst('outer_cond/five', 'int32', [], [5]), op('Less', 'Less', ['i', 'outer_cond/five:output:0'], I)],
      ret: { identity: 'Less:z:0' },
    },
    {
      name: 'outer_body',
      inputs: [['i', 'DT_INT32'], ['x', 'DT_FLOAT']],
      outputs: [['i_1', 'DT_INT32'], ['x_1', 'DT_FLOAT']],
      nodes: [
        cst('outer_body/one', 'int32', [], [1]),
        cst('outer_body/two', 'int32', [], [2]),
        op('early', 'Less', ['i', 'outer_body/two:output:0'], I),
        op('inner', 'StatelessIf', ['early:z:0', 'x'], {
          Tcond: { type: 'DT_BOOL' },
          Tin: { types: ['DT_FLOAT'] },
          Tout: { types: ['DT_FLOAT'] },
          then_branch: { func: 'inner_true' },
          else_branch: { func: 'inner_false' },
          output_shapes: { shapes: [[3]] },
        }),
        op('add_i', 'AddV2', ['i', 'outer_body/one:output:0'], I),
      ],
      ret: { i_1: 'add_i:z:0', x_1: 'inner:output:0' },
    },
    {
      name: 'inner_true',
      inputs: [['x', 'DT_FLOAT']],
      outputs: [['y', 'DT_FLOAT']],
      nodes: [cst('inner_true/two', 'float32', [], [2]), op('mul', 'Mul', ['x', 'inner_true/two:output:0'])],
      ret: { y: 'mul:z:0' },
    },
    {
      name: 'inner_false',
      inputs: [['x', 'DT_FLOAT']],
      outputs: [['y', 'DT_FLOAT']],
      nodes: [cst('inner_false/one', 'float32', [], [1]), op('sub', 'Sub', ['x', 'inner_false/one:output:0'])],
      ret: { y: 'sub:z:0' },
    },
  ],
  outputs: ['y'],
});

describe('TensorFlow functional control flow', () => {
  it('StatelessIf / If on a data-dependent predicate: both branches = TensorFlow.js, onnxruntime', async () => {
    for (const kind of ['StatelessIf', 'If']) {
      const m = condModel(kind);
      const g = await nnportGraph(m);
      expect(g.nodes.map((n) => n.opType)).toContain('If');
      const x = f32([2, 3], 5);
      await check(m, [{ x, s: scalarF(1.5) }, { x, s: scalarF(-0.5) }]);
    }
  });

  it('StatelessWhile / While accumulating x = x*0.5 + w for n (from the input) steps, zero steps included', async () => {
    for (const kind of ['StatelessWhile', 'While']) {
      const m = accumulateModel(kind);
      const g = await nnportGraph(m);
      const loop = g.nodes.find((n) => n.opType === 'Loop')!;
      expect(loop.inputs[0]).toBe('');
      const x = f32([4], 9);
      await check(m, [{ x, n: scalarI(5) }, { x, n: scalarI(0) }, { x, n: scalarI(17) }]);
    }
  });

  it('an RNN-like MatMul recurrence over 6 steps', async () => {
    await check(rnnModel(), [{ x: f32([1, 4], 12) }, { x: f32([1, 4], 13) }]);
  });

  it('a cond nested in a while body', async () => {
    await check(nestedModel(), [{ x: f32([3], 3) }]);
  });

  it('to .tflite: counted loops (i < limit, i += 1) unroll, the cond inside inlines, and the interpreter = TensorFlow.js', async () => {
    for (const [m, x, tanhs] of [
      [rnnModel(), f32([1, 4], 12), 6],
      [nestedModel(), f32([3], 3), 0],
    ] as const) {
      const g = await nnportGraph(m);
      const loop = g.nodes.find((n) => n.opType === 'Loop')!;
      expect(loop.inputs[0]).not.toBe('');
      const { ops } = await checkTflite(m, { x });
      expect(ops.filter((o) => o === 'TANH')).toHaveLength(tanhs);
      expect(ops).not.toContain('WHILE');
    }
  });

  it('a counted loop of carried limit, flipped comparison and step 2 (6 and 0 iterations): trip count, runtimes and .tflite = TensorFlow.js', async () => {
    for (const limit of [11, 0]) {
      const m = rnnCarriedLimit(limit);
      const g = await nnportGraph(m);
      const loop = g.nodes.find((n) => n.opType === 'Loop')!;
      expect(g.initializers.get(loop.inputs[0]!)?.toNumbers()).toEqual([limit ? 6 : 0]);
      const x = f32([1, 4], 21);
      await check(m, [{ x }]);
      const { ops } = await checkTflite(m, { x });
      expect(ops.filter((o) => o === 'TANH')).toHaveLength(limit ? 6 : 0);
    }
  });

  it("TF2's maximum_iterations (LogicalAnd of two counted comparisons) stops at the first to fail: trip count min(6, max), runtimes and .tflite = TensorFlow.js", async () => {
    for (const [max, steps] of [[4, 4], [9, 6]] as const) {
      const m = rnnMaxIterations(max);
      const g = await nnportGraph(m);
      const loop = g.nodes.find((n) => n.opType === 'Loop')!;
      expect(g.initializers.get(loop.inputs[0]!)?.toNumbers()).toEqual([steps]);
      const x = f32([1, 4], 22);
      await check(m, [{ x }]);
      const { ops } = await checkTflite(m, { x });
      expect(ops.filter((o) => o === 'TANH')).toHaveLength(steps);
    }
  });

  it('a loop whose count comes from the data: written again as a StatelessWhile (.pb read back by nnport) matches TF.js on the source graph; refused by name for .h5', async () => {
    const m = accumulateModel();
    const g = await nnportGraph(m);
    const { bytes } = await convert({ kind: 'graph', format: 'tfjs-graph', graph: g }, 'acc.pb');
    const back = await loadModel(bytes, { fileName: 'acc.pb' });
    if (back.kind !== 'graph') throw new Error('read back as weights');
    const x = f32([4], 9);
    for (const n of [5, 0, 17]) {
      const want = await tfjsRun(m, { x, n: scalarI(n) });
      const got = await nnportRun(back.graph, { x, n: scalarI(n) });
      expect(maxAbsDiff(got[0]!.toFloat32(), want[0]!.toFloat32()), `n = ${n}`).toBeLessThan(1e-5);
    }
    const err = await convert({ kind: 'graph', format: 'tfjs-graph', graph: g }, 'acc.h5').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/Loop.*no trip count/);
  });

  it('a constant condition takes its branch in line', async () => {
    const m = condModel();
    m.nodes = m.nodes.map((n) => (n.name === 'pred' ? { ...n, input: ['one', 'zero'] } : n));
    m.nodes.push(cst('one', 'float32', [], [1]));
    const g = await nnportGraph(m);
    expect(g.nodes.some((n) => n.opType === 'If')).toBe(false);
    const x = f32([2, 3], 5);
    const want = await tfjsRun(m, { x, s: scalarF(-3) });
    const got = await nnportRun(g, { x });
    expect(maxAbsDiff(got[0]!.toFloat32(), want[0]!.toFloat32())).toBeLessThan(1e-5);
  });

  it('bad libraries: a missing cond function, a body giving the wrong number of values, a carried TensorList', async () => {
    const missing = accumulateModel();
    missing.nodes = missing.nodes.map((n) => (n.name === 'loop' ? { ...n, attr: { ...n.attr, cond: { func: 'nowhere' } } } : n));
    await expect(nnportGraph(missing)).rejects.toThrow(FormatError);
    await expect(nnportGraph(missing)).rejects.toThrow(/nowhere/);

    const short = accumulateModel();
    const body = short.functions[1]!;
    body.outputs = body.outputs.slice(0, 3);
    delete body.ret.w_1;
    await expect(nnportGraph(short)).rejects.toThrow(FormatError);
    await expect(nnportGraph(short)).rejects.toThrow(/gives 3 results for 4 loop-carried values/);

    const variant = accumulateModel();
    variant.nodes = variant.nodes.map((n) => (n.name === 'loop' ? { ...n, attr: { ...n.attr, T: { types: ['DT_INT32', 'DT_INT32', 'DT_VARIANT' as DT, 'DT_FLOAT'] } } } : n));
    await expect(nnportGraph(variant)).rejects.toThrow(UnsupportedError);
    await expect(nnportGraph(variant)).rejects.toThrow(/variant.*while_cond_20/);

    const recursive = accumulateModel();
    recursive.functions[1]!.nodes.push(op('again', 'StatelessWhile', ['i', 'n', 'x', 'w'], { T: { types: ['DT_INT32', 'DT_INT32', 'DT_FLOAT', 'DT_FLOAT'] }, cond: { func: 'while_cond_20' }, body: { func: 'while_body_21' } }));
    recursive.functions[1]!.ret.x_1 = 'again:output:2';
    await expect(nnportGraph(recursive)).rejects.toThrow(/calls itself|nested more than/);
  });
});
