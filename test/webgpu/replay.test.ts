// Whole-run replay of the webgpu backend (GpuRunner.replay): a repeated run of the same graph on
// inputs of the same shapes re-issues the recorded commands. Every run's outputs are checked
// against the wasm backend on the same inputs (new values every run), and where a replay must
// not happen (other shapes, a bound read on the host that changed, a host op in the middle,
// another graph in between) that it did not, with the results still right.
process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';

import { beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { runGraph } from '../../src/runtime/executor.js';
import { webgpuAvailable, webgpuOpCounts, webgpuReplayRefusal, webgpuTraffic } from '../../src/webgpu/backend.js';
import { graphOf, random, tensorMaxAbsDiff as maxAbsDiff } from './graph-helpers.js';

const GPU = { backends: ['webgpu', 'wasm'] } as const;
const WASM = { backends: ['wasm'] } as const;

beforeAll(async () => {
  const a = await webgpuAvailable();
  expect(a.available ? a.adapter : a.reason).toMatch(/swiftshader/i);
});

const ints = (v: number[]) => ({ type: 'ints' as const, value: v });

/** conv -> relu, a conv with a residual add, a pool, two outputs (the pool's read twice) */
const convNet = (): Graph =>
  graphOf(
    [
      { name: 'c1', opType: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: ints([1, 1, 1, 1]) } },
      { name: 'r1', opType: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { name: 'c2', opType: 'Conv', inputs: ['r1', 'w2'], outputs: ['c2'], attrs: { pads: ints([1, 1, 1, 1]) } },
      { name: 'a', opType: 'Add', inputs: ['c2', 'r1'], outputs: ['a'] },
      { name: 'p', opType: 'MaxPool', inputs: ['a'], outputs: ['p'], attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) } },
      { name: 'g', opType: 'GlobalAveragePool', inputs: ['p'], outputs: ['y2'] },
      { name: 'f', opType: 'Flatten', inputs: ['p'], outputs: ['y1'] },
    ],
    ['x'],
    ['y1', 'y2'],
    { w1: random([16, 3, 3, 3], 1, 0.5), b1: random([16], 2), w2: random([16, 16, 3, 3], 3, 0.2) },
  );

async function check(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const want = (await runGraph(g, feeds, WASM)).outputs;
  const got = (await runGraph(g, feeds, GPU)).outputs;
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, t] of got) {
    expect(t.onHost, name).toBe(true);
    expect(maxAbsDiff(t, want.get(name)!), name).toBeLessThan(1e-4);
  }
}

describe('webgpu whole-run replay', () => {
  it('replays from the third run on, with each run’s new input, and counts the ops it replays', async () => {
    const g = convNet();
    const replays: number[] = [];
    for (let run = 0; run < 5; run++) {
      const before = webgpuTraffic();
      webgpuOpCounts(true);
      await check(g, { x: random([1, 3, 12, 10], 10 + run) });
      replays.push(webgpuTraffic().replays - before.replays);
      // Conv + Relu fused, the second conv with the Add; the replayed runs count the same ops
      expect(Object.fromEntries(webgpuOpCounts())).toEqual({ 'nnport::FusedConv': 1, 'nnport::FusedConvAdd': 1, MaxPool: 1, GlobalAveragePool: 1, Flatten: 1 });
    }
    // run 1 creates its GPU objects, run 2 is recorded, runs 3-5 are replays
    expect(replays).toEqual([0, 0, 1, 1, 1]);
  });

  it('runs the graph again for inputs of another shape, and for another graph in between', async () => {
    const g = convNet();
    const other = convNet();
    const before = webgpuTraffic().replays;
    await check(g, { x: random([1, 3, 12, 10], 20) });
    await check(g, { x: random([1, 3, 12, 10], 21) });
    // another shape
    await check(g, { x: random([1, 3, 8, 8], 22) });
    await check(g, { x: random([1, 3, 12, 10], 23) });
    await check(g, { x: random([1, 3, 12, 10], 24) });
    // another graph between two runs of g
    await check(other, { x: random([1, 3, 12, 10], 25) });
    await check(g, { x: random([1, 3, 12, 10], 26) });
    expect(webgpuTraffic().replays - before).toBe(0);
    // the run after the other graph is recorded again
    await check(g, { x: random([1, 3, 12, 10], 27) });
    await check(g, { x: random([1, 3, 12, 10], 28) });
    expect(webgpuTraffic().replays - before).toBe(2);
  });

  it('does not replay a run whose Clip bounds (inputs read on the host) changed', async () => {
    const g = graphOf([{ name: 'k', opType: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['y'] }], ['x', 'lo', 'hi'], ['y']);
    const x = random([4, 300], 30);
    const bound = (v: number) => new Tensor('float32', [], new Float32Array([v]));
    const before = webgpuTraffic().replays;
    for (const [lo, hi] of [[-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5], [-0.2, 0.7], [-0.2, 0.7], [-0.2, 0.7]] as const) {
      await check(g, { x, lo: bound(lo), hi: bound(hi) });
    }
    // the third run of each pair of bounds (new tensors, the same values) replays
    expect(webgpuTraffic().replays - before).toBe(2);
    await check(g, { x, lo: bound(-0.1), hi: bound(0.7) });
    expect(webgpuTraffic().replays - before).toBe(2);
  });

  it('does not replay when the weights (an input, too large to compare) are a new tensor', async () => {
    const g = graphOf([{ name: 'c', opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: ints([1, 1, 1, 1]) } }], ['x', 'w'], ['y']);
    const x = random([1, 16, 9, 9], 40);
    const w = random([48, 16, 3, 3], 41, 0.2);
    const before = webgpuTraffic().replays;
    for (let run = 0; run < 3; run++) await check(g, { x, w });
    expect(webgpuTraffic().replays - before).toBe(1);
    await check(g, { x, w: random([48, 16, 3, 3], 42, 0.2) });
    expect(webgpuTraffic().replays - before).toBe(1);
  });

  it('never replays a run with a host op in the middle (its download), and says why', async () => {
    const g = graphOf(
      [
        { name: 'c', opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 's', opType: 'Softmax', inputs: ['c'], outputs: ['s'] },
        { name: 'm', opType: 'Mul', inputs: ['s', 'c'], outputs: ['y'] },
      ],
      ['x'],
      ['y'],
      { w: random([8, 3, 3, 3], 50) },
    );
    const before = webgpuTraffic().replays;
    for (let run = 0; run < 4; run++) await check(g, { x: random([1, 3, 6, 6], 51 + run) });
    expect(webgpuTraffic().replays - before).toBe(0);
    expect(webgpuReplayRefusal()).toMatch(/another backend|downloaded/);
  });

  it('is not used with every value kept or an observer', async () => {
    const g = convNet();
    const x = random([1, 3, 12, 10], 60);
    const want = (await runGraph(g, { x }, { ...WASM, keepIntermediates: true })).values!;
    const before = webgpuTraffic().replays;
    for (let run = 0; run < 3; run++) {
      const values = (await runGraph(g, { x }, { ...GPU, keepIntermediates: true })).values!;
      expect([...values.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, t] of values) expect(maxAbsDiff(t, want.get(name)!), name).toBeLessThan(1e-4);
    }
    expect(webgpuTraffic().replays - before).toBe(0);
  });
});
