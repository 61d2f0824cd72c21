// The webgpu backend on Dawn (the npm package `webgpu`) over Chromium's SwiftShader, a Vulkan
// device on the CPU, so it runs without a GPU (CI). Checked against independent oracles: the
// ONNX backend test data's expected outputs for Conv / Gemm / MatMul / pool / elementwise cases,
// and onnxruntime-node on the torchvision resnet18 and mobilenet_v2 exports; random shapes of
// the kernels against the wasm backend. Every case asserts that its ops really ran on the GPU.
process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/read.js';
import { readNpy } from '../../src/formats/numpy/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { runGraph } from '../../src/runtime/executor.js';
import { webgpuAvailable, webgpuOpCounts, webgpuTraffic } from '../../src/webgpu/backend.js';
import { gpuDevice } from '../../src/webgpu/device.js';
import { compareTensors, loadDataSets, ONNX_TESTDATA } from '../conformance/harness.js';
import { REPO_ROOT } from '../support/corpus.js';
import { compare, loadModel } from '../../src/index.js';
import { torchvisionDir } from '../support/torchvision-fixtures.js';
import { graphOf, random, tensorMaxAbsDiff as maxAbsDiff } from './graph-helpers.js';

const GPU = { backends: ['webgpu', 'wasm'] } as const;
const WASM = { backends: ['wasm'] } as const;
const AUTO = { backends: ['webgpu-auto', 'wasm'] } as const;

beforeAll(async () => {
  const a = await webgpuAvailable();
  // no adapter here is a failure of the setup (libvulkan1 + chromium's SwiftShader), not a skip
  expect(a.available ? a.adapter : a.reason).toMatch(/swiftshader/i);
});

// ONNX backend node cases (name, the op that must have run on the GPU; the expected outputs
// shipped with the case are the oracle).
const NODE_CASES: [string, string][] = [
  ...['basic_conv_with_padding', 'basic_conv_without_padding', 'conv_with_autopad_same', 'conv_with_strides_and_asymmetric_padding', 'conv_with_strides_no_padding', 'conv_with_strides_padding'].map((c): [string, string] => [c, 'Conv']),
  ...['all_attributes', 'alpha', 'beta', 'default_matrix_bias', 'default_no_bias', 'default_scalar_bias', 'default_single_elem_vector_bias', 'default_vector_bias', 'default_zero_bias', 'transposeA', 'transposeB'].map((c): [string, string] => [`gemm_${c}`, 'Gemm']),
  ...['2d', '3d', '4d'].map((c): [string, string] => [`matmul_${c}`, 'MatMul']),
  ...['1d_default', '2d_ceil', '2d_default', '2d_pads', '2d_pads_count_include_pad', '2d_precomputed_pads', '2d_precomputed_pads_count_include_pad', '2d_precomputed_same_upper', '2d_precomputed_strides', '2d_same_lower', '2d_same_upper', '2d_strides'].map((c): [string, string] => [`averagepool_${c}`, 'AveragePool']),
  ...['1d_default', '2d_ceil', '2d_default', '2d_dilations', '2d_pads', '2d_precomputed_pads', '2d_precomputed_same_upper', '2d_precomputed_strides', '2d_same_lower', '2d_same_upper', '2d_strides'].map((c): [string, string] => [`maxpool_${c}`, 'MaxPool']),
  ['globalaveragepool', 'GlobalAveragePool'],
  ['globalaveragepool_precomputed', 'GlobalAveragePool'],
  ['globalmaxpool', 'GlobalMaxPool'],
  ['globalmaxpool_precomputed', 'GlobalMaxPool'],
  ...['add', 'add_bcast', 'sub', 'sub_bcast', 'sub_example', 'mul', 'mul_bcast', 'mul_example', 'div', 'div_bcast', 'div_example'].map((c): [string, string] => [c, c.split('_')[0]![0]!.toUpperCase() + c.split('_')[0]!.slice(1)]),
  ['relu', 'Relu'],
  ['sigmoid', 'Sigmoid'],
  ['sigmoid_example', 'Sigmoid'],
  ['tanh', 'Tanh'],
  ['leakyrelu', 'LeakyRelu'],
  ['leakyrelu_default', 'LeakyRelu'],
  ['hardsigmoid', 'HardSigmoid'],
  ['hardsigmoid_default', 'HardSigmoid'],
  ['hardswish', 'HardSwish'],
  ['neg', 'Neg'],
  ['abs', 'Abs'],
  ...['clip', 'clip_default_inbounds', 'clip_default_max', 'clip_default_min', 'clip_example', 'clip_inbounds', 'clip_outbounds', 'clip_splitbounds'].map((c): [string, string] => [c, 'Clip']),
  ...['1d_axis_0', '2d_axis_1', '2d_axis_negative_2', '3d_axis_0', '3d_axis_1', '3d_axis_2', '3d_axis_negative_1'].map((c): [string, string] => [`concat_${c}`, 'Concat']),
];

// PyTorch-exported cases: grouped, depthwise, dilated, 1-D convs and pools.
const PYTORCH_CASES: [string, string][] = [
  ...['Conv1d', 'Conv1d_dilated', 'Conv1d_groups', 'Conv1d_pad1', 'Conv1d_pad2', 'Conv1d_stride', 'Conv2d', 'Conv2d_depthwise', 'Conv2d_depthwise_padded', 'Conv2d_depthwise_strided', 'Conv2d_depthwise_with_multiplier', 'Conv2d_dilated', 'Conv2d_groups', 'Conv2d_groups_thnn', 'Conv2d_no_bias', 'Conv2d_padding', 'Conv2d_strided'].map((c): [string, string] => [c, 'Conv']),
  ['Linear', 'Gemm'],
  ['AvgPool2d', 'AveragePool'],
  ['AvgPool2d_stride', 'AveragePool'],
  ['MaxPool1d_stride_padding_dilation', 'MaxPool'],
  ['MaxPool2d_stride_padding_dilation', 'MaxPool'],
];

async function runOnnxCase(dir: string, op: string): Promise<void> {
  const file = join(dir, 'model.onnx');
  const graph = await readOnnx(readFileSync(file), { fileName: file });
  const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
  const sets = loadDataSets(dir);
  expect(sets.length).toBeGreaterThan(0);
  for (const set of sets) {
    const feeds = new Map(set.inputs.map((t, i) => [inputNames[i]!, t] as const));
    webgpuOpCounts(true);
    const { outputs } = await runGraph(graph, feeds, GPU);
    expect(webgpuOpCounts().get(op) ?? 0, `${op} ran on webgpu`).toBeGreaterThan(0);
    set.outputs.forEach((want, i) => {
      const got = outputs.get(graph.outputs[i]!.name)!;
      expect(compareTensors(got, want, { rtol: 1e-4, atol: 1e-5 }), `${set.name} output ${i}`).toBeUndefined();
    });
  }
}

describe('webgpu backend vs the ONNX backend test data', () => {
  it.each(NODE_CASES)('node/test_%s (%s on the GPU)', async (name, op) => {
    await runOnnxCase(join(ONNX_TESTDATA, 'node', `test_${name}`), op);
  });
  it.each(PYTORCH_CASES)('pytorch-converted/test_%s (%s on the GPU)', async (name, op) => {
    await runOnnxCase(join(ONNX_TESTDATA, 'pytorch-converted', `test_${name}`), op);
  });
});

describe('webgpu kernels on random shapes vs the wasm backend', () => {
  const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
  const int = (v: number) => ({ type: 'int' as const, value: v });

  it.each([
    // [x shape, w shape, group, strides, pads, dilations]
    [[2, 5, 9, 7], [33, 5, 3, 3], 1, [1, 1], [1, 1, 1, 1], [1, 1]],
    [[1, 32, 13, 11], [64, 16, 3, 2], 2, [2, 1], [0, 2, 1, 0], [1, 2]],
    [[1, 24, 10, 10], [24, 1, 5, 5], 24, [2, 2], [2, 2, 2, 2], [1, 1]],
    [[1, 6, 7, 9], [12, 2, 1, 3], 3, [1, 3], [0, 1, 0, 1], [1, 1]],
    [[3, 70, 17], [130, 70, 4], 1, [3], [2, 1], [2]],
    [[1, 3, 1, 1], [17, 3, 1, 1], 1, [1, 1], [0, 0, 0, 0], [1, 1]],
    // pointwise (1x1, stride 1, no padding: X read as the GEMM's B), plain and grouped
    [[2, 40, 9, 7], [48, 40, 1, 1], 1, [1, 1], [0, 0, 0, 0], [1, 1]],
    [[1, 64, 6, 6], [64, 16, 1, 1], 4, [1, 1], [0, 0, 0, 0], [1, 1]],
    // enough 128x128 tiles for the large-tile program
    [[160, 2, 13, 13], [129, 2, 2, 2], 1, [1, 1], [0, 0, 0, 0], [1, 1]],
    // vec4 tile loads: pointwise X (P a multiple of 4) in two images; with large tiles
    [[2, 24, 8, 6], [36, 24, 1, 1], 1, [1, 1], [0, 0, 0, 0], [1, 1]],
    [[1, 8, 128, 128], [256, 8, 1, 1], 1, [1, 1], [0, 0, 0, 0], [1, 1]],
  ] as [number[], number[], number, number[], number[], number[]][])('Conv x %j w %j group %i', async (xs, ws, group, strides, pads, dilations) => {
    const g = graphOf([{ name: 'c', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], domain: '', attrs: { group: int(group), strides: ints(strides), pads: ints(pads), dilations: ints(dilations) } }], ['x'], ['y'], {
      w: random(ws, 7),
      b: random([ws[0]!], 9),
    });
    const x = random(xs, 3);
    const want = (await runGraph(g, { x }, WASM)).outputs.get('y')!;
    webgpuOpCounts(true);
    const got = (await runGraph(g, { x }, GPU)).outputs.get('y')!;
    expect(webgpuOpCounts().get('Conv')).toBe(1);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });

  it.each([
    [[1, 1], [1, 1]],
    [[65, 129], [129, 67]],
    [[3, 1, 7, 20], [5, 20, 9]],
    [[20], [2, 20, 3]],
    [[4, 6, 33], [33]],
    // enough 128x128 tiles for the large-tile program
    [[256, 129, 4], [4, 129]],
    // vec4 tile loads of both operands (k and n multiples of 4), batch broadcasting, partial tiles
    [[3, 1, 36, 20], [5, 20, 12]],
    [[130, 64], [64, 132]],
    [[64, 132, 8], [8, 136]],
  ])('MatMul %j x %j (batch broadcasting, vectors)', async (as, bs) => {
    const g = graphOf([{ name: 'm', opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], ['a', 'b'], ['y']);
    const feeds = { a: random(as, 1), b: random(bs, 2) };
    const want = (await runGraph(g, feeds, WASM)).outputs.get('y')!;
    webgpuOpCounts(true);
    const got = (await runGraph(g, feeds, GPU)).outputs.get('y')!;
    expect(webgpuOpCounts().get('MatMul')).toBe(1);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });

  it.each([
    // [A shape, B shape, transA, transB]: vec4 loads along A's m / B's k when transposed
    [[36, 20], [24, 36], 1, 1],
    [[20, 36], [24, 36], 0, 1],
    [[36, 20], [36, 24], 1, 0],
    [[35, 21], [23, 35], 1, 1],
  ] as [number[], number[], number, number][])('Gemm %j x %j transA %i transB %i', async (as, bs, transA, transB) => {
    const n = transB ? bs[0]! : bs[1]!;
    const g = graphOf([{ name: 'g', opType: 'Gemm', inputs: ['a', 'w', 'c'], outputs: ['y'], domain: '', attrs: { transA: int(transA), transB: int(transB), beta: { type: 'float', value: 0.5 } } }], ['a'], ['y'], {
      w: random(bs, 21),
      c: random([n], 22),
    });
    const feeds = { a: random(as, 23) };
    const want = (await runGraph(g, feeds, WASM)).outputs.get('y')!;
    webgpuOpCounts(true);
    const got = (await runGraph(g, feeds, GPU)).outputs.get('y')!;
    expect(webgpuOpCounts().get('Gemm')).toBe(1);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });

  it('keep values on the GPU across ops, download only for a host op, and reuse buffers across runs', async () => {
    // Conv -> Relu -> Softmax (wasm) -> Mul -> Concat -> Flatten -> Gemm
    const g = graphOf(
      [
        { name: 'c', opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], domain: '', attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 'r', opType: 'Relu', inputs: ['c'], outputs: ['r'] },
        { name: 's', opType: 'Softmax', inputs: ['r'], outputs: ['s'], domain: '', attrs: { axis: int(1) } },
        { name: 'm', opType: 'Mul', inputs: ['s', 'r'], outputs: ['m'] },
        { name: 'k', opType: 'Concat', inputs: ['m', 'r'], outputs: ['k'], domain: '', attrs: { axis: int(1) } },
        { name: 'f', opType: 'Flatten', inputs: ['k'], outputs: ['f'] },
        { name: 'y', opType: 'Gemm', inputs: ['f', 'gw', 'gb'], outputs: ['y'], domain: '', attrs: { transB: int(1) } },
      ],
      ['x'],
      ['y'],
      { w: random([8, 3, 3, 3], 5), gw: random([10, 16 * 6 * 6], 6), gb: random([10], 7) },
    );
    const want = (await runGraph(g, { x: random([2, 3, 6, 6], 4) }, WASM)).outputs.get('y')!;
    for (let run = 0; run < 3; run++) {
      webgpuOpCounts(true);
      const before = webgpuTraffic();
      const got = (await runGraph(g, { x: random([2, 3, 6, 6], 4) }, GPU)).outputs.get('y')!;
      // Conv + Relu run fused (the runtime's FusedConv); Flatten is a view of the Concat's buffer
      expect(Object.fromEntries(webgpuOpCounts())).toEqual({ 'nnport::FusedConv': 1, Mul: 1, Concat: 1, Flatten: 1, Gemm: 1 });
      const after = webgpuTraffic();
      // two downloads: the Relu output for Softmax (wasm), and y; Concat is one dispatch per input
      expect(after.downloads - before.downloads).toBe(2);
      expect(after.dispatches - before.dispatches).toBe(5);
      expect(got.onHost).toBe(true);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    }
  });
});

describe('webgpu split-K (few output tiles over a deep k) vs the wasm backend', () => {
  const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
  const int = (v: number) => ({ type: 'int' as const, value: v });

  it.each([
    // resnet18's last convs: 512 x 7x7 outputs over k = 4608; a 1-D conv; a grouped one; a fused clamp
    [[1, 512, 7, 7], [512, 512, 3, 3], 1, 'Conv'],
    [[2, 512, 16], [40, 512, 3], 1, 'Conv'],
    [[1, 512, 6, 6], [64, 256, 3, 3], 2, 'Conv'],
  ] as [number[], number[], number, string][])('Conv x %j w %j group %i', async (xs, ws, group) => {
    const pads = xs.length === 4 ? [1, 1, 1, 1] : [1, 1];
    const g = graphOf(
      [
        { name: 'c', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], domain: '', attrs: { group: int(group), pads: ints(pads) } },
        { name: 'r', opType: 'Relu', inputs: ['c'], outputs: ['y'] },
      ],
      ['x'],
      ['y'],
      { w: random(ws, 11), b: random([ws[0]!], 12) },
    );
    const x = random(xs, 13);
    const want = (await runGraph(g, { x }, WASM)).outputs.get('y')!;
    webgpuOpCounts(true);
    const before = webgpuTraffic().dispatches;
    const got = (await runGraph(g, { x }, GPU)).outputs.get('y')!;
    expect(webgpuOpCounts().get('nnport::FusedConv')).toBe(1);
    // the slices, then their sum with bias and clamp
    expect(webgpuTraffic().dispatches - before).toBe(2);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });

  it.each([
    [[3, 16, 1024], [1024, 32]],
    [[8, 4096], [4096, 64]],
  ])('MatMul %j x %j', async (as, bs) => {
    const g = graphOf([{ name: 'm', opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], ['a', 'b'], ['y']);
    const feeds = { a: random(as, 14), b: random(bs, 15) };
    const want = (await runGraph(g, feeds, WASM)).outputs.get('y')!;
    const before = webgpuTraffic().dispatches;
    const got = (await runGraph(g, feeds, GPU)).outputs.get('y')!;
    expect(webgpuTraffic().dispatches - before).toBe(2);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });

  it('Gemm with transB, alpha, beta and a row of C', async () => {
    const g = graphOf([{ name: 'g', opType: 'Gemm', inputs: ['a', 'w', 'c'], outputs: ['y'], domain: '', attrs: { transB: int(1), alpha: { type: 'float', value: 0.5 }, beta: { type: 'float', value: 2 } } }], ['a'], ['y'], {
      w: random([64, 4096], 16),
      c: random([64], 17),
    });
    const feeds = { a: random([16, 4096], 18) };
    const want = (await runGraph(g, feeds, WASM)).outputs.get('y')!;
    const before = webgpuTraffic().dispatches;
    const got = (await runGraph(g, feeds, GPU)).outputs.get('y')!;
    expect(webgpuTraffic().dispatches - before).toBe(2);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });
});

describe('webgpu host overhead: a repeated run only encodes', () => {
  it('creates no GPU object and writes no uniform on the second run of a graph', async () => {
    const a = await gpuDevice();
    if (!a.ok) throw new Error(a.reason);
    const device = a.gpu.device;
    const counts = new Map<string, number>();
    const spy = <T extends object>(o: T, m: string) => {
      const target = o as Record<string, unknown>;
      const orig = target[m] as (...args: unknown[]) => unknown;
      target[m] = function (this: unknown, ...args: unknown[]) {
        counts.set(m, (counts.get(m) ?? 0) + 1);
        return orig.apply(this, args);
      };
      return () => void (target[m] = orig);
    };
    const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
    const int = (v: number) => ({ type: 'int' as const, value: v });
    // split-K conv -> Relu, a host op (Softmax: a download, then an upload), Concat, Flatten, Gemm, MaxPool
    const g = graphOf(
      [
        { name: 'c', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], domain: '', attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 'r', opType: 'Relu', inputs: ['c'], outputs: ['r'] },
        { name: 's', opType: 'Softmax', inputs: ['r'], outputs: ['s'], domain: '', attrs: { axis: int(1) } },
        { name: 'm', opType: 'Mul', inputs: ['s', 'r'], outputs: ['m'] },
        { name: 'k', opType: 'Concat', inputs: ['m', 'r'], outputs: ['k'], domain: '', attrs: { axis: int(1) } },
        { name: 'p', opType: 'MaxPool', inputs: ['k'], outputs: ['p'], domain: '', attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) } },
        { name: 'f', opType: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { name: 'y', opType: 'Gemm', inputs: ['f', 'gw', 'gb'], outputs: ['y'], domain: '', attrs: { transB: int(1) } },
      ],
      ['x'],
      ['y'],
      { w: random([16, 256, 3, 3], 21), b: random([16], 22), gw: random([10, 32 * 4 * 4], 23), gb: random([10], 24) },
    );
    const want = (await runGraph(g, { x: random([1, 256, 8, 8], 25) }, WASM)).outputs.get('y')!;
    const scale = Math.max(...(want.data as Float32Array).map(Math.abs));
    const undo = [
      ...['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule', 'createBindGroupLayout', 'createPipelineLayout'].map((m) => spy(device, m)),
      spy(device.queue, 'writeBuffer'),
    ];
    try {
      const perRun: Record<string, number>[] = [];
      for (let run = 0; run < 3; run++) {
        counts.clear();
        const before = webgpuTraffic();
        // a new input tensor every run, as a caller gives
        const got = (await runGraph(g, { x: random([1, 256, 8, 8], 25) }, GPU)).outputs.get('y')!;
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * scale);
        expect(webgpuTraffic().dispatches - before.dispatches).toBe(7);
        perRun.push(Object.fromEntries(counts));
      }
      // the first run made a bind group per dispatch and wrote the uniform slots (one write)
      expect(perRun[0]!.createBindGroup, JSON.stringify(perRun)).toBe(7);
      expect(perRun[0]!.writeBuffer, JSON.stringify(perRun)).toBeGreaterThan(2);
      // later runs: only the two host inputs' uploads (x, and Softmax's output for Mul)
      expect(perRun[1], JSON.stringify(perRun)).toEqual({ writeBuffer: 2 });
      expect(perRun[2], JSON.stringify(perRun)).toEqual({ writeBuffer: 2 });
    } finally {
      undo.forEach((f) => f());
    }
  });
});

describe('webgpu-auto (--backend auto): small work on host inputs stays on wasm', () => {
  it('runs LeNet on wasm alone, and a large conv on the GPU with the small op after it', async () => {
    const file = join(REPO_ROOT, 'examples/lenet/model.onnx');
    const graph = await readOnnx(readFileSync(file), { fileName: file });
    const x = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/input.npy')));
    const feeds = { [graph.inputs[0]!.name]: x };
    const want = (await runGraph(graph, feeds, WASM)).outputs;
    webgpuOpCounts(true);
    const got = (await runGraph(graph, feeds, AUTO)).outputs;
    expect(webgpuOpCounts().size).toBe(0);
    expect(maxAbsDiff([...got.values()][0]!, [...want.values()][0]!)).toBe(0);

    const ints = (v: number[]) => ({ type: 'ints' as const, value: v });
    const g = graphOf(
      [
        { name: 'c', opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], domain: '', attrs: { pads: ints([1, 1, 1, 1]) } },
        { name: 'p', opType: 'GlobalAveragePool', inputs: ['c'], outputs: ['p'] },
        { name: 'a', opType: 'Add', inputs: ['p', 'b'], outputs: ['y'] },
      ],
      ['x'],
      ['y'],
      { w: random([64, 64, 3, 3], 31), b: random([1, 64, 1, 1], 32) },
    );
    const big = { x: random([1, 64, 32, 32], 33) };
    const ref = (await runGraph(g, big, WASM)).outputs.get('y')!;
    webgpuOpCounts(true);
    const y = (await runGraph(g, big, AUTO)).outputs.get('y')!;
    // 37.7 M multiply-adds: the GPU; the pool and the Add read its output there
    expect(Object.fromEntries(webgpuOpCounts())).toEqual({ Conv: 1, GlobalAveragePool: 1, Add: 1 });
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-4);
  });
});

describe('webgpu backend on torchvision models vs onnxruntime-node', () => {
  it.each(['resnet18', 'mobilenet_v2'])('%s (1 image)', async (name) => {
    const dir = torchvisionDir(name);
    const bytes = readFileSync(join(dir, 'model.onnx'));
    const graph = await readOnnx(bytes, { fileName: `${name}.onnx` });
    const batch = readNpy(readFileSync(join(dir, 'input.npy')));
    const per = batch.size / batch.shape[0]!;
    const x = new Tensor('float32', [1, ...batch.shape.slice(1)], (batch.data as Float32Array).slice(0, per));
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const inName = graph.inputs[0]!.name;
    const ref = Object.values(await session.run({ [inName]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) }))[0]!;
    webgpuOpCounts(true);
    const got = [...(await runGraph(graph, { [inName]: x }, GPU)).outputs.values()][0]!;
    const counts = webgpuOpCounts();
    // every conv of the model ran on the GPU (fused with its BN, activation and residual Add or not)
    const convs = graph.nodes.filter((n) => n.opType === 'Conv').length;
    expect((counts.get('Conv') ?? 0) + (counts.get('nnport::FusedConv') ?? 0) + (counts.get('nnport::FusedConvAdd') ?? 0)).toBe(convs);
    // every residual Add went into its conv
    expect(counts.get('nnport::FusedConvAdd')).toBe(graph.nodes.filter((n) => n.opType === 'Add').length);
    expect(counts.get('Add')).toBeUndefined();
    expect(counts.get('Gemm')).toBe(1);
    expect(counts.get('GlobalAveragePool')).toBe(1);
    const want = ref.data as Float32Array;
    const y = got.data as Float32Array;
    expect(y.length).toBe(want.length);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < y.length; i++) {
      err = Math.max(err, Math.abs(y[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    expect(err).toBeLessThan(1e-4 * Math.max(1, scale));
  });
});

describe('webgpu backend with every value kept (--dump, compare --layers)', () => {
  it('returns every intermediate value on the host, equal to the wasm run', async () => {
    const file = join(REPO_ROOT, 'examples/lenet/model.onnx');
    const graph = await readOnnx(readFileSync(file), { fileName: file });
    const x = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/input.npy')));
    const feeds = { [graph.inputs[0]!.name]: x };
    const want = (await runGraph(graph, feeds, { ...WASM, keepIntermediates: true })).values!;
    webgpuOpCounts(true);
    for (let run = 0; run < 2; run++) {
      const got = (await runGraph(graph, feeds, { ...GPU, keepIntermediates: true })).values!;
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [name, t] of got) {
        expect(t.onHost, name).toBe(true);
        if (t.dtype === 'float32') expect(maxAbsDiff(t, want.get(name)!), name).toBeLessThan(1e-5);
      }
    }
    expect(webgpuOpCounts().get('Conv')).toBeGreaterThan(0);
  });
});

describe('webgpu backend selection', () => {
  it('is opt-in: a run that names no backend stays on wasm; compare runs the target on it', async () => {
    const file = join(REPO_ROOT, 'examples/lenet/model.onnx');
    const model = await loadModel(readFileSync(file), { fileName: file });
    const x = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/input.npy')));
    const input = (model as { graph: Graph }).graph.inputs[0]!.name;
    webgpuOpCounts(true);
    await runGraph((model as { graph: Graph }).graph, { [input]: x });
    expect(webgpuOpCounts().size).toBe(0);
    const { outputs } = await compare(model, model, { [input]: x }, { targetBackends: ['webgpu', 'wasm'] });
    expect(webgpuOpCounts().get('nnport::FusedConv')).toBeGreaterThan(0);
    expect(outputs[0]!.maxAbs).toBeLessThan(1e-5);
  });
});

describe('nnport run --backend', () => {
  const cli = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'bin/nnport.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const lenet = ['run', join(REPO_ROOT, 'examples/lenet/model.onnx'), '--input', join(REPO_ROOT, 'examples/lenet/input.npy')];

  it('runs on the GPU and prints what the wasm backend prints', () => {
    const gpu = cli([...lenet, '--backend', 'webgpu'], {});
    const wasm = cli(lenet, {});
    expect(gpu.status).toBe(0);
    expect(gpu.stdout).toBe(wasm.stdout);
  });

  it('without an adapter: webgpu is an error that says why, auto falls back to wasm with a note', () => {
    const none = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };
    const demanded = cli([...lenet, '--backend', 'webgpu'], none);
    expect(demanded.status).toBe(1);
    expect(demanded.stderr).toMatch(/the webgpu backend cannot run here: no WebGPU adapter/);
    const auto = cli([...lenet, '--backend', 'auto'], none);
    expect(auto.status).toBe(0);
    expect(auto.stderr).toMatch(/backend: wasm \(no WebGPU adapter/);
    expect(auto.stdout).toBe(cli(lenet, {}).stdout);
    expect(cli([...lenet, '--backend', 'cuda'], {}).stderr).toMatch(/--backend must be wasm, webgpu or auto/);
  });
});
