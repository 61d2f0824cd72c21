// Kernel outputs' host buffers are reused (src/wasm/host-buffers.ts, freed by the executor by
// reference count): later runs and later steps must never change a value anyone still holds —
// outputs, feeds that are earlier outputs, values sharing a buffer (Reshape) — and the results
// must be bit-identical to runs that reuse nothing.
import { describe, expect, it } from 'vitest';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { randomF32, rng } from '../kernels/reference.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });
const node = (opType: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): Node => ({ name: `${out}_node`, opType, domain: '', inputs, outputs: [out], attrs });

/** x -> Conv -> c; Reshape(c) -> r; Add(r, r) -> s; Relu(s) -> t; Reshape(t) -> y (shares t's buffer); Reshape(x) -> xr; Add(xr, xr) -> z */
function graph(): Graph {
  const r = rng(41);
  const inits = new Map<string, Tensor>([
    ['w', Tensor.float32([4, 3, 3, 3], randomF32(108, r))],
    ['flat', new Tensor('int64', [2], BigInt64Array.from([1n, -1n]))],
    ['back', new Tensor('int64', [4], BigInt64Array.from([1n, 4n, 6n, 6n]))],
  ]);
  const nodes = [
    node('Conv', ['x', 'w'], 'c', { kernel_shape: ints([3, 3]) }),
    node('Reshape', ['c', 'flat'], 'r'),
    node('Add', ['r', 'r'], 's'),
    node('Relu', ['s'], 't'),
    node('Reshape', ['t', 'back'], 'y'),
    node('Reshape', ['x', 'flat'], 'xr'),
    node('Add', ['xr', 'xr'], 'z'),
  ];
  return { name: 'reuse', nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }], outputs: [{ name: 'y', dtype: 'float32' }, { name: 'z', dtype: 'float32' }], initializers: inits, opsets: { '': 13 } };
}

const copy = (t: Tensor) => Float32Array.from(t.data as Float32Array);

describe('reused host buffers', () => {
  it('later runs leave earlier outputs and feeds as they were, and every run equals one that reuses nothing', async () => {
    await initKernels();
    const g = graph();
    const r = rng(42);
    const held: { t: Tensor; was: Float32Array }[] = [];
    let feed = Tensor.float32([1, 3, 8, 8], randomF32(192, r));
    for (let i = 0; i < 6; i++) {
      const feedWas = copy(feed);
      const { outputs } = await runGraph(g, { x: feed });
      // keepIntermediates frees nothing, so it reuses nothing
      const { outputs: want } = await runGraph(g, { x: feed }, { keepIntermediates: true });
      for (const name of ['y', 'z']) expect(copy(outputs.get(name)!), `${name} run ${i}`).toEqual(copy(want.get(name)!));
      expect(copy(feed)).toEqual(feedWas);
      for (const o of outputs.values()) held.push({ t: o, was: copy(o) });
      for (const h of held) expect(copy(h.t)).toEqual(h.was);
      // the next feed is an output of this run (a kernel's buffer), which the graph reshapes
      feed = i % 2 ? Tensor.float32([1, 3, 8, 8], randomF32(192, r)) : new Tensor('float32', [1, 3, 8, 8], (outputs.get('z')!.data as Float32Array).subarray(0, 192));
    }
  });

  it('a run with observe reuses the buffers of values it freed (and onValue sees each value as computed)', async () => {
    await initKernels();
    const g = graph();
    const x = Tensor.float32([1, 3, 8, 8], randomF32(192, rng(43)));
    const seen = async () => {
      const arrays = new Map<string, Float32Array>();
      const data = new Map<string, Float32Array>();
      await runGraph(g, { x }, { observe: new Set(['c', 's', 't']), onValue: (name, t) => (arrays.set(name, (t.deferred?.source ?? t.data) as Float32Array), data.set(name, copy(t))) });
      return { arrays, data };
    };
    const first = await seen();
    const second = await seen();
    expect(second.data).toEqual(first.data);
    // c is freed after the Add: its buffer goes back and a later output of its length takes it
    const reused = [...second.arrays.values()].filter((a) => [...first.arrays.values()].includes(a));
    expect(reused.length).toBeGreaterThan(0);
  });
});
