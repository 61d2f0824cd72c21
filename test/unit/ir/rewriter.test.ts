// The graph rewriter: fresh names, edits, rewiring, sweeps, topological order, and the source
// graph left untouched.
import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { GraphRewriter } from '../../../src/ir/rewriter.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';

function chain(): Graph {
  const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({ name, opType, domain: '', inputs, outputs, attrs: {} });
  return {
    name: 'g',
    nodes: [node('a', 'Relu', ['x'], ['ya']), node('b', 'Add', ['ya', 'w'], ['yb']), node('dead', 'Neg', ['ya'], ['unused']), node('c', 'Sigmoid', ['yb'], ['y'])],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
    initializers: new Map([
      ['w', Tensor.float32([2], [1, 2])],
      ['stale', Tensor.float32([1], [0])],
    ]),
    opsets: { '': 17 },
    valueInfo: [{ name: 'ya', dtype: 'float32', shape: [2] }],
  };
}

describe('GraphRewriter', () => {
  it('gives fresh value and node names that collide with nothing', () => {
    const rw = new GraphRewriter(chain());
    expect(rw.freshName('ya')).toBe('ya_1');
    expect(rw.freshName('ya')).toBe('ya_2');
    expect(rw.freshName('new')).toBe('new');
    expect(rw.freshName('w')).toBe('w_1');
    expect(rw.freshNodeName('a')).toBe('a_1');
    const n = rw.addNode({ opType: 'Relu', inputs: ['x'] });
    expect(n.name).toBe('Relu');
    expect(n.outputs[0]).toBe('Relu');
    expect(rw.addNode({ opType: 'Relu', inputs: ['x'] }).outputs[0]).toBe('Relu_1');
  });

  it('knows producers, consumers and pinned values', () => {
    const rw = new GraphRewriter(chain());
    expect(rw.producer('yb')!.name).toBe('b');
    expect(rw.consumers('ya').map((n) => n.name)).toEqual(['b', 'dead']);
    expect(rw.soleConsumer('yb')!.name).toBe('c');
    expect(rw.soleConsumer('ya')).toBeUndefined();
    expect(rw.isGraphOutput('y')).toBe(true);
    expect(rw.constant('w')!.shape).toEqual([2]);
  });

  it('inserts a node between a value and its consumers and keeps topological order', () => {
    const g = chain();
    const before = JSON.stringify(g.nodes);
    const rw = new GraphRewriter(g);
    // appended last but read by 'b': toGraph must order it before 'b'
    const t = rw.add({ opType: 'Tanh', inputs: ['ya'], name: 'ins' });
    rw.replaceUses('ya', t, { except: new Set([rw.producer(t)!]) });
    const out = rw.toGraph();
    expect(out.nodes.map((n) => n.name)).toEqual(['a', 'ins', 'b', 'dead', 'c']);
    expect(out.nodes.find((n) => n.name === 'b')!.inputs).toEqual([t, 'w']);
    expect(out.nodes.find((n) => n.name === 'dead')!.inputs).toEqual([t]);
    // the source is untouched
    expect(JSON.stringify(g.nodes)).toBe(before);
    expect(g.nodes).toHaveLength(4);
  });

  it('sweeps dead nodes (whole chains) and dead initializers, keeping outputs and declared inputs', () => {
    const g = chain();
    g.inputs.push({ name: 'stale', dtype: 'float32', shape: [1] }); // an initializer declared as input stays
    const rw = new GraphRewriter(g);
    const extra = rw.add({ opType: 'Neg', inputs: ['unused'] });
    rw.add({ opType: 'Abs', inputs: [extra] });
    rw.initializers.set('orphan', Tensor.float32([1], [3]));
    expect(rw.sweepDeadNodes()).toBe(3);
    expect(rw.sweepDeadInitializers()).toBe(1);
    const out = rw.toGraph();
    expect(out.nodes.map((n) => n.name)).toEqual(['a', 'b', 'c']);
    expect([...out.initializers.keys()].sort()).toEqual(['stale', 'w']);
  });

  it('replaces a graph output producer and keeps the output name', () => {
    const rw = new GraphRewriter(chain());
    const c = rw.producer('y')!;
    const z = rw.add({ opType: 'Tanh', inputs: ['yb'] });
    rw.removeNode(c);
    rw.renameValue(z, 'y');
    rw.sweep();
    const out = rw.toGraph();
    expect(out.outputs.map((o) => o.name)).toEqual(['y']);
    expect(out.nodes.at(-1)!.opType).toBe('Tanh');
    expect(out.nodes.at(-1)!.outputs).toEqual(['y']);
  });

  it('registers a new domain in opsets and drops valueInfo of removed values', () => {
    const rw = new GraphRewriter(chain());
    const a = rw.producer('ya')!;
    rw.replaceNode(a, { domain: 'nnport', opType: 'Relu', outputs: ['ya2'] });
    rw.replaceUses('ya', 'ya2');
    const out = rw.toGraph();
    expect(out.opsets).toEqual({ '': 17, nnport: 1 });
    expect(out.valueInfo).toEqual([]);
  });

  it('refuses a second producer of a value and a cycle', () => {
    const rw = new GraphRewriter(chain());
    expect(() => rw.addNode({ opType: 'Relu', inputs: ['x'], outputs: ['ya'] })).toThrow(/already produced/);
    rw.add({ opType: 'Relu', inputs: ['y2'], outputs: ['y1'] });
    rw.add({ opType: 'Relu', inputs: ['y1'], outputs: ['y2'] });
    expect(() => rw.toGraph()).toThrow(/cycle/);
  });

  it('keeps producers, consumers (in node order) and subgraph reads right through a thousand random edits', () => {
    const rand = rng(7);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
    const body: Graph = { name: 'body', nodes: [{ name: 'in', opType: 'Identity', domain: '', inputs: ['v3'], outputs: ['o'], attrs: {} }], inputs: [], outputs: [{ name: 'o', dtype: 'float32', shape: [] }], initializers: new Map(), opsets: { '': 17 } };
    const rw = new GraphRewriter(chain());
    const values = ['x', 'w', 'ya', 'yb', 'y'];
    for (let step = 0; step < 1000; step++) {
      const nodes = rw.nodes;
      const r = rand();
      if (r < 0.35 || nodes.length < 3) {
        const out = rw.freshName('v');
        const sub = rand() < 0.05 ? { body: { type: 'graph' as const, value: body } } : undefined;
        rw.addNode({ opType: 'Add', inputs: [pick(values), pick(values)], outputs: [out], ...(sub ? { attrs: sub } : {}) });
        values.push(out);
      } else if (r < 0.65) {
        const n = pick(nodes);
        rw.replaceNode(n, { inputs: n.inputs.map((i) => (rand() < 0.5 ? pick(values) : i)) });
      } else if (r < 0.8) {
        rw.removeNode(pick(nodes));
      } else if (r < 0.95) {
        const from = pick(values);
        const to = pick(values);
        rw.replaceUses(from, to);
      } else {
        rw.sweepDeadNodes();
      }
      // the index kept up to date equals one built from scratch over the same nodes
      const fresh = new GraphRewriter({ ...chain(), nodes: [...rw.nodes] });
      for (const v of new Set([...values, 'v3'])) {
        expect(rw.producer(v)).toBe(fresh.producer(v));
        expect(rw.consumers(v)).toEqual(fresh.consumers(v));
        expect(rw.isReadBySubgraph(v)).toBe(fresh.isReadBySubgraph(v));
      }
    }
  });
});
