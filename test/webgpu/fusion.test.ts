// The webgpu backend's residual fusion (src/webgpu/fuse-residual.ts): conv -> Add -> Relu / Clip
// as one nnport::FusedConvAdd, checked against onnxruntime-node running the same graph written
// as ONNX. Covers each program the residual goes through: the implicit GEMM (3x3 and pointwise),
// its split-K sum, the direct program (depthwise), and the op's fallback for a residual that
// broadcasts; and that values the caller sees are never fused away.
process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';

import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { runGraph } from '../../src/runtime/executor.js';
import { webgpuAvailable, webgpuOpCounts, webgpuTraffic } from '../../src/webgpu/backend.js';
import { random, type NodeSpec } from './graph-helpers.js';

const GPU = { backends: ['webgpu', 'wasm'] } as const;

beforeAll(async () => {
  const a = await webgpuAvailable();
  expect(a.available ? a.adapter : a.reason).toMatch(/swiftshader/i);
});

function graphOf(nodes: NodeSpec[], inputs: [string, number[]][], outputs: string[], initializers: Record<string, Tensor>): Graph {
  return {
    name: 'g',
    nodes: nodes.map((n) => ({ domain: '', attrs: {}, ...n })),
    inputs: inputs.map(([name, shape]) => ({ name, dtype: 'float32' as const, shape })),
    outputs: outputs.map((name) => ({ name, dtype: 'float32' as const })),
    initializers: new Map(Object.entries(initializers)),
    opsets: { '': 13 },
  };
}

const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
const int = (v: number) => ({ type: 'int' as const, value: v });
const scalar = (v: number) => new Tensor('float32', [], new Float32Array([v]));

/** Run `g` on the webgpu backend and with onnxruntime-node; the largest difference per output, scaled. */
async function againstOrt(g: Graph, feeds: Record<string, Tensor>, outputs = g.outputs.map((o) => o.name)): Promise<void> {
  const session = await ort.InferenceSession.create(writeOnnx(g), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const ref = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data as Float32Array, [...t.shape])])), outputs);
  const got = (await runGraph(g, feeds, { ...GPU, outputs })).outputs;
  for (const name of outputs) {
    const want = ref[name]!;
    const y = got.get(name)!;
    expect(y.shape, name).toEqual([...want.dims]);
    const a = y.data as Float32Array;
    const b = want.data as Float32Array;
    let err = 0;
    let scale = 1;
    for (let i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    expect(err / scale, name).toBeLessThan(1e-5);
  }
}

/** A residual block: conv (k x k, c -> m) -> BN -> Relu -> conv -> BN -> Add(residual) -> act. */
function block(o: { c: number; m: number; hw: number; k: number; group?: number; act?: 'Relu' | 'Clip' | 'none'; residualShape?: number[]; seed: number }): { g: Graph; feeds: Record<string, Tensor> } {
  const { c, m, hw, k, seed } = o;
  const group = o.group ?? 1;
  const p = (k - 1) / 2;
  const bn = (name: string, ch: number, s: number): Record<string, Tensor> => ({
    [`${name}_s`]: random([ch], s, 0.5),
    [`${name}_b`]: random([ch], s + 1, 0.5),
    [`${name}_m`]: random([ch], s + 2, 0.5),
    [`${name}_v`]: new Tensor('float32', [ch], Float32Array.from({ length: ch }, (_, i) => 0.5 + (i % 7) / 7)),
  });
  const bnNode = (name: string, x: string, y: string): NodeSpec => ({ name, opType: 'BatchNormalization', inputs: [x, `${name}_s`, `${name}_b`, `${name}_m`, `${name}_v`], outputs: [y] });
  const act = o.act ?? 'Relu';
  const nodes: NodeSpec[] = [
    { name: 'c1', opType: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: ints([p, p, p, p]), group: int(group) } },
    bnNode('bn1', 'c1', 'n1'),
    { name: 'r1', opType: 'Relu', inputs: ['n1'], outputs: ['r1'] },
    { name: 'c2', opType: 'Conv', inputs: ['r1', 'w2'], outputs: ['c2'], attrs: { pads: ints([p, p, p, p]), group: int(group) } },
    bnNode('bn2', 'c2', 'n2'),
    { name: 'add', opType: 'Add', inputs: o.residualShape ? ['n2', 'z'] : ['r1', 'n2'], outputs: [act === 'none' ? 'y' : 'a'] },
  ];
  if (act === 'Relu') nodes.push({ name: 'act', opType: 'Relu', inputs: ['a'], outputs: ['y'] });
  if (act === 'Clip') nodes.push({ name: 'act', opType: 'Clip', inputs: ['a', 'lo', 'hi'], outputs: ['y'] });
  const inputs: [string, number[]][] = [['x', [1, c, hw, hw]]];
  if (o.residualShape) inputs.push(['z', o.residualShape]);
  const g = graphOf(nodes, inputs, ['y'], {
    w1: random([m, c / group, k, k], seed, 1 / Math.sqrt((c / group) * k * k)),
    b1: random([m], seed + 1, 0.1),
    w2: random([m, m / group, k, k], seed + 2, 1 / Math.sqrt((m / group) * k * k)),
    ...bn('bn1', m, seed + 3),
    ...bn('bn2', m, seed + 6),
    lo: scalar(0),
    hi: scalar(6),
  });
  const feeds: Record<string, Tensor> = { x: random([1, c, hw, hw], seed + 9) };
  if (o.residualShape) feeds.z = random(o.residualShape, seed + 10);
  return { g, feeds };
}

describe('webgpu residual fusion (conv + Add + Relu/Clip) vs onnxruntime-node', () => {
  it.each([
    ['3x3 conv, Relu after the Add (resnet)', { c: 32, m: 32, hw: 10, k: 3, seed: 1 }],
    ['1x1 conv, no activation (mobilenet_v2)', { c: 24, m: 24, hw: 9, k: 1, act: 'none', seed: 2 }],
    ['Clip(0, 6) after the Add', { c: 16, m: 16, hw: 8, k: 3, act: 'Clip', seed: 3 }],
    ['deep k, few tiles: split-K, the residual in the slices’ sum', { c: 256, m: 256, hw: 4, k: 3, seed: 4 }],
    ['depthwise: the direct program', { c: 24, m: 24, hw: 9, k: 3, group: 24, seed: 5 }],
  ] as [string, Parameters<typeof block>[0]][])('%s', async (_, o) => {
    const { g, feeds } = block(o);
    webgpuOpCounts(true);
    const before = webgpuTraffic().dispatches;
    for (let run = 0; run < 3; run++) await againstOrt(g, { ...feeds, x: random(feeds.x!.shape as number[], 100 + run) });
    const counts = Object.fromEntries(webgpuOpCounts());
    expect(counts['nnport::FusedConvAdd'], JSON.stringify(counts)).toBe(3);
    expect(counts.Add, JSON.stringify(counts)).toBeUndefined();
    expect(counts.Relu, JSON.stringify(counts)).toBeUndefined();
    expect(counts.Clip, JSON.stringify(counts)).toBeUndefined();
    // per run: the first conv, the fused one (plus the split-K sums)
    const split = o.c === 256 ? 2 : 0;
    expect(webgpuTraffic().dispatches - before).toBe(3 * (2 + split));
  });

  it('a residual that broadcasts runs as conv, Add and Relu one after another', async () => {
    const { g, feeds } = block({ c: 16, m: 16, hw: 6, k: 3, residualShape: [1, 16, 1, 1], seed: 6 });
    webgpuOpCounts(true);
    await againstOrt(g, feeds);
    expect(webgpuOpCounts().get('nnport::FusedConvAdd')).toBe(1);
  });

  it('stops at a value the caller sees: the Add output stays, its Relu runs alone', async () => {
    const { g, feeds } = block({ c: 16, m: 16, hw: 6, k: 3, seed: 7 });
    g.outputs.push({ name: 'a', dtype: 'float32' });
    webgpuOpCounts(true);
    await againstOrt(g, feeds);
    expect(Object.fromEntries(webgpuOpCounts())).toEqual({ 'nnport::FusedConv': 1, 'nnport::FusedConvAdd': 1, Relu: 1 });
  });
});
