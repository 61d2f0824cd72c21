// Hostile GraphDefs: typed one-line errors, in bounded time, for a Const whose tensor_content
// disagrees with its shape, a one-value tensor claiming a huge shape, a cycle, a function
// library that calls itself, and every unsupported op named at once.
import { describe, expect, it } from 'vitest';
import { readGraphDef } from '../../../src/formats/tensorflow/read.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { FormatError, GraphError, UnsupportedError } from '../../../src/ir/errors.js';

const F = 1; // DT_FLOAT
const enc = (g: tensorflow.GraphDef.$Properties) => tensorflow.GraphDef.encode(g).finish();
const shape = (...d: number[]) => ({ dim: d.map((size) => ({ size })) });
const read = (g: tensorflow.GraphDef.$Properties, outputs?: string[]) => readGraphDef(enc(g), { fileName: 'hostile.pb', outputs });

describe('hostile GraphDefs', () => {
  it('a Const whose tensor_content length disagrees with its shape', async () => {
    const g: tensorflow.GraphDef.$Properties = { node: [{ name: 'w', op: 'Const', attr: { dtype: { type: F }, value: { tensor: { dtype: F, tensor_shape: shape(2, 3), tensor_content: new Uint8Array(20) } } } }] };
    await expect(read(g, ['w'])).rejects.toThrow(FormatError);
    await expect(read(g, ['w'])).rejects.toThrow(/hostile\.pb.*tensor_content has 20 bytes, the shape needs 24/);
  });

  it('one value claiming 2^40 elements is refused before allocating', async () => {
    const g: tensorflow.GraphDef.$Properties = { node: [{ name: 'w', op: 'Const', attr: { dtype: { type: F }, value: { tensor: { dtype: F, tensor_shape: shape(1 << 20, 1 << 20), float_val: [1] } } } }] };
    await expect(read(g, ['w'])).rejects.toThrow(/fills 1099511627776 elements from 1 value/);
  });

  it('a cycle', async () => {
    const g: tensorflow.GraphDef.$Properties = {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: F } } },
        { name: 'a', op: 'Add', input: ['x', 'b'], attr: { T: { type: F } } },
        { name: 'b', op: 'Relu', input: ['a'], attr: { T: { type: F } } },
      ],
    };
    await expect(read(g, ['b'])).rejects.toThrow(GraphError);
    await expect(read(g, ['b'])).rejects.toThrow(/cycle through node/);
  });

  it('a function library that calls itself is refused by name, without recursing', async () => {
    const fn = { signature: { name: 'f', input_arg: [{ name: 'x', type: F }], output_arg: [{ name: 'y', type: F }] }, node_def: [{ name: 'call', op: 'f', input: ['x'] }], ret: { y: 'call:y:0' } };
    const g: tensorflow.GraphDef.$Properties = {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: F } } },
        { name: 'y', op: 'f', input: ['x'] },
      ],
      library: { function: [fn] },
    };
    await expect(read(g, ['y'])).rejects.toThrow(GraphError);
    await expect(read(g, ['y'])).rejects.toThrow(/hostile\.pb.*the function library calls itself: f -> f/);
  });

  it('every unsupported op named once, with one node each', async () => {
    const g: tensorflow.GraphDef.$Properties = {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: F } } },
        { name: 'q1', op: 'RandomShuffleQueueV2', input: ['x'] },
        { name: 'q2', op: 'RandomShuffleQueueV2', input: ['q1'] },
        { name: 'w', op: 'QueueDequeueV2', input: ['q2'] },
      ],
    };
    const err = await read(g, ['w']).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/TensorFlow ops RandomShuffleQueueV2, QueueDequeueV2/);
    expect((err as Error).message).toMatch(/RandomShuffleQueueV2 \(node 'q1'\), QueueDequeueV2 \(node 'w'\)/);
    expect((err as Error).message).not.toMatch(/\n/);
  });

  it('a 20000-node chain reads without overflowing the stack', async () => {
    const node: tensorflow.NodeDef.$Properties[] = [{ name: 'n0', op: 'Placeholder', attr: { dtype: { type: F }, shape: { shape: shape(1) } } }];
    for (let i = 1; i < 20_000; i++) node.push({ name: `n${i}`, op: 'Identity', input: [`n${i - 1}`], attr: { T: { type: F } } });
    const graph = await read({ node }, ['n19999']);
    expect(graph.outputs[0]!.name).toBe('n19999');
  });
});

// Malformed TF1 control flow (tf1-control-flow.ts): frames and conds that TensorFlow itself could
// not run are typed errors naming the node, never a guess.
describe('hostile TF1 control flow', () => {
  const B = 10; // DT_BOOL
  const I = 3; // DT_INT32
  type N = tensorflow.NodeDef.$Properties;
  const n = (name: string, op: string, input: string[] = [], t = F, attr: N['attr'] = {}): N => ({ name, op, input, attr: { T: { type: t }, ...attr } });
  const enter = (name: string, x: string, frame: string | undefined, constant = false, t = F): N =>
    n(name, 'Enter', [x], t, { ...(frame === undefined ? {} : { frame_name: { s: new TextEncoder().encode(frame) } }), is_constant: { b: constant } });
  const ph = (name: string, t = F): N => ({ name, op: 'Placeholder', attr: { dtype: { type: t } } });
  const ten = { name: 'ten', op: 'Const', attr: { dtype: { type: F } , value: { tensor: { dtype: F, tensor_shape: {}, float_val: [10] } } } };
  /** while x < 10: x = x + x, with `patch` applied to its nodes */
  const loop = (patch: (nodes: N[]) => N[] = (x) => x): tensorflow.GraphDef.$Properties => ({
    node: patch([
      ph('x'),
      ten,
      enter('while/Enter', 'x', 'while/while_context'),
      enter('while/Less/Enter', 'ten', 'while/while_context', true),
      n('while/Merge', 'Merge', ['while/Enter', 'while/NextIteration']),
      n('while/Less', 'Less', ['while/Merge', 'while/Less/Enter']),
      n('while/LoopCond', 'LoopCond', ['while/Less'], B),
      n('while/Switch', 'Switch', ['while/Merge', 'while/LoopCond']),
      n('while/Identity', 'Identity', ['while/Switch:1']),
      n('while/add', 'AddV2', ['while/Identity', 'while/Identity']),
      n('while/NextIteration', 'NextIteration', ['while/add']),
      n('while/Exit', 'Exit', ['while/Switch']),
    ]),
  });
  const replace = (name: string, by: N) => (nodes: N[]) => nodes.map((x) => (x.name === name ? by : x));

  it('the well-formed loop reads (the baseline the others break)', async () => {
    const g = await read(loop(), ['while/Exit']);
    expect(g.nodes.map((x) => x.opType)).toContain('Loop');
  });

  it('a NextIteration read by other than a Merge, or by nothing', async () => {
    const g = loop((nodes) => [...nodes, n('peek', 'Relu', ['while/NextIteration'])]);
    await expect(read(g, ['peek'])).rejects.toThrow(FormatError);
    await expect(read(g, ['peek'])).rejects.toThrow(/hostile\.pb.*'peek' reads NextIteration 'while\/NextIteration'/);
    const dangling = loop((nodes) => [...nodes, n('while/NextIteration_1', 'NextIteration', ['while/add'])]);
    await expect(read(dangling, ['while/NextIteration_1'])).rejects.toThrow(/NextIteration 'while\/NextIteration_1' feeds no Merge/);
  });

  it('an Exit outside any frame, an Enter without a frame name', async () => {
    const exit = { node: [ph('x'), n('out', 'Exit', ['x'])] };
    await expect(read(exit, ['out'])).rejects.toThrow(FormatError);
    await expect(read(exit, ['out'])).rejects.toThrow(/Exit 'out' reads 'x', which is in no while frame/);
    const unnamed = loop(replace('while/Enter', enter('while/Enter', 'x', undefined)));
    await expect(read(unnamed, ['while/Exit'])).rejects.toThrow(/Enter 'while\/Enter' names no frame/);
  });

  it('a cycle that no NextIteration closes, a loop Merge of two Enters, a frame without LoopCond', async () => {
    const cyclic = loop(replace('while/Merge', n('while/Merge', 'Merge', ['while/Enter', 'while/add'])));
    await expect(read(cyclic, ['while/Exit'])).rejects.toThrow(GraphError);
    await expect(read(cyclic, ['while/Exit'])).rejects.toThrow(/cycle through node .*NextIteration/);
    const twoEnters = loop((nodes) => [...replace('while/Merge', n('while/Merge', 'Merge', ['while/Enter', 'while/Enter_1']))(nodes), enter('while/Enter_1', 'x', 'while/while_context')]);
    await expect(read(twoEnters, ['while/Exit'])).rejects.toThrow(FormatError);
    const noCond = loop((nodes) => nodes.map((x) => (x.name === 'while/Switch' ? n('while/Switch', 'Switch', ['while/Merge', 'while/Less']) : x)).filter((x) => x.name !== 'while/LoopCond'));
    await expect(read(noCond, ['while/Exit'])).rejects.toThrow(/while frame 'while\/while_context' has 0 LoopCond nodes/);
  });

  it("a loop body's value read outside without an Exit, a loop variable read by output 0 of its Switch inside", async () => {
    const leak = loop((nodes) => [...nodes, n('leak', 'Relu', ['while/add'])]);
    await expect(read(leak, ['leak'])).rejects.toThrow(UnsupportedError);
    await expect(read(leak, ['leak'])).rejects.toThrow(/output inside a TF1 while loop: 'leak' of while frame 'while\/while_context'/);
    const exitSide = loop(replace('while/add', n('while/add', 'AddV2', ['while/Identity', 'while/Switch'])));
    await expect(read(exitSide, ['while/Exit'])).rejects.toThrow(UnsupportedError);
    await expect(read(exitSide, ['while/Exit'])).rejects.toThrow(/exit side/);
  });

  /** y = cond(p, x * x, -x), with `patch` applied */
  const cond = (patch: (nodes: N[]) => N[] = (x) => x): tensorflow.GraphDef.$Properties => ({
    node: patch([
      ph('x'),
      ph('p', B),
      n('cond/Switch', 'Switch', ['x', 'p']),
      n('cond/mul', 'Mul', ['cond/Switch:1', 'cond/Switch:1']),
      n('cond/Neg', 'Neg', ['cond/Switch']),
      n('cond/Merge', 'Merge', ['cond/Neg', 'cond/mul']),
    ]),
  });

  it('a cond whose branch value leaves without its Merge, a node on both branches, a Merge of no cond, value_index', async () => {
    expect((await read(cond(), ['cond/Merge'])).nodes.map((x) => x.opType)).toContain('If');
    await expect(read(cond(), ['cond/mul'])).rejects.toThrow(UnsupportedError);
    await expect(read(cond(), ['cond/mul'])).rejects.toThrow(/'cond\/mul'.*true branch of the cond on 'p'/);
    const both = cond((nodes) => [...nodes, n('both', 'AddV2', ['cond/mul', 'cond/Neg'])]);
    await expect(read(both, ['both'])).rejects.toThrow(FormatError);
    await expect(read(both, ['both'])).rejects.toThrow(/'both' reads both branches of the cond on 'p'/);
    const plain = { node: [ph('x'), ph('z'), n('m', 'Merge', ['x', 'z'])] };
    await expect(read(plain, ['m'])).rejects.toThrow(/Merge that does not join the two branches/);
    const index = cond((nodes) => [...nodes, n('which', 'Cast', ['cond/Merge:1'], I)]);
    await expect(read(index, ['which'])).rejects.toThrow(/value_index/);
  });
});
