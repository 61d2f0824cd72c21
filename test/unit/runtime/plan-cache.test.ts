// The executor keeps a graph's plan (kernels chosen, attributes parsed) and its fused copy (Conv +
// activation, weights packed) across runs of the same graph object. A node replaced since -- a
// new node list, or a node swapped in place in the same list -- must be planned and fused again,
// never run with the old node's attributes.
import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';

const clip = (max: number): Node => ({ name: 'c', opType: 'Clip', domain: '', inputs: ['x'], outputs: ['y'], attrs: { min: { type: 'float', value: 0 }, max: { type: 'float', value: max } } });

describe('the executor plan cache', () => {
  it('plans again when a node is replaced, in a new list or in place', async () => {
    const g: Graph = {
      name: 'g',
      nodes: [clip(6)],
      inputs: [{ name: 'x', dtype: 'float32', shape: [3] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map(),
      opsets: { '': 6 },
    };
    const x = Tensor.float32([3], [-1, 2, 9]);
    const run = async () => Array.from((await runGraph(g, new Map([['x', x]]))).outputs.get('y')!.data as Float32Array);
    expect(await run()).toEqual([0, 2, 6]);
    expect(await run()).toEqual([0, 2, 6]);
    g.nodes[0] = clip(1); // the same list, one node swapped
    expect(await run()).toEqual([0, 1, 1]);
    g.nodes = [clip(3)];
    expect(await run()).toEqual([0, 2, 3]);
  });

  it('fuses again when an activation after a Conv is swapped in place', async () => {
    const g: Graph = {
      name: 'g',
      nodes: [
        { name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['c'], attrs: {} },
        { name: 'a', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 1, 3] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      // the Clip bound that comes later is there from the start: only the node changes
      initializers: new Map([
        ['w', Tensor.float32([1, 1, 1, 1], [2])],
        ['hi', Tensor.float32([], [1])],
      ]),
      opsets: { '': 13 },
    };
    const x = Tensor.float32([1, 1, 1, 3], [-1, 0.25, 3]);
    const run = async () => Array.from((await runGraph(g, new Map([['x', x]]))).outputs.get('y')!.data as Float32Array);
    expect(await run()).toEqual([0, 0.5, 6]);
    g.nodes[1] = { name: 'a', opType: 'Clip', domain: '', inputs: ['c', '', 'hi'], outputs: ['y'], attrs: {} };
    expect(await run()).toEqual([-2, 0.5, 1]);
  });
});
