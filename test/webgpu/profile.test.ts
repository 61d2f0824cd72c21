// Per-dispatch GPU times (NNPORT_WEBGPU_PROFILE=1: each dispatch in its own pass with
// timestamps): the results stay those of the wasm backend, normal and replayed runs are timed,
// and every dispatch site gets its time. Its own file: the device is made with the feature.
process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.NNPORT_WEBGPU_PROFILE = '1';

import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import { runGraph } from '../../src/runtime/executor.js';
import { webgpuAvailable, webgpuGpuTimes, webgpuTraffic } from '../../src/webgpu/backend.js';
import { random } from './graph-helpers.js';

describe('webgpu GPU time profile', () => {
  it('times every dispatch of normal and replayed runs, results unchanged', async () => {
    const a = await webgpuAvailable();
    expect(a.available ? a.adapter : a.reason).toMatch(/swiftshader/i);
    const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
    const g: Graph = {
      name: 'g',
      nodes: [
        { name: 'c', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['c'], attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 'r', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['r'], attrs: {} },
        { name: 'p', opType: 'GlobalAveragePool', domain: '', inputs: ['r'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32' }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([['w', random([16, 3, 3, 3], 1)]]),
      opsets: { '': 17 },
    };
    await webgpuGpuTimes(true);
    const before = webgpuTraffic();
    for (let run = 0; run < 4; run++) {
      const x = random([1, 3, 8, 8], 10 + run);
      const want = (await runGraph(g, { x }, { backends: ['wasm'] })).outputs.get('y')!.data as Float32Array;
      const got = (await runGraph(g, { x }, { backends: ['webgpu', 'wasm'] })).outputs.get('y')!.data as Float32Array;
      expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-5);
    }
    expect(webgpuTraffic().replays - before.replays).toBe(2);
    const times = await webgpuGpuTimes(true);
    // the fused conv + relu, the pool: four runs each
    expect([...times.keys()].sort()).toEqual(['FusedConv c', 'GlobalAveragePool p']);
    for (const v of times.values()) {
      expect(v.n).toBe(4);
      expect(v.ms).toBeGreaterThan(0);
    }
    expect((await webgpuGpuTimes()).size).toBe(0);
  });
});
