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
        { name: 'w', op: 'Enter', input: ['q2'] },
      ],
    };
    const err = await read(g, ['w']).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/TensorFlow ops RandomShuffleQueueV2, Enter/);
    expect((err as Error).message).toMatch(/RandomShuffleQueueV2 \(node 'q1'\), Enter \(node 'w'\)/);
    expect((err as Error).message).not.toMatch(/\n/);
  });

  it('a 20000-node chain reads without overflowing the stack', async () => {
    const node: tensorflow.NodeDef.$Properties[] = [{ name: 'n0', op: 'Placeholder', attr: { dtype: { type: F }, shape: { shape: shape(1) } } }];
    for (let i = 1; i < 20_000; i++) node.push({ name: `n${i}`, op: 'Identity', input: [`n${i - 1}`], attr: { T: { type: F } } });
    const graph = await read({ node }, ['n19999']);
    expect(graph.outputs[0]!.name).toBe('n19999');
  });
});
