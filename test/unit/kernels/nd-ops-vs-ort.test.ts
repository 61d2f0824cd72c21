// The N-d paths against onnxruntime-node on random inputs over attribute grids: 3-D Conv,
// ConvTranspose and pools (pads, strides, dilations, groups, ceil_mode, count_include_pad,
// auto_pad), MaxPool's Indices output (storage_order 0 and 1) and int8 / uint8 MaxPool.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../../src/ir/dtypes.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { singleNodeModel, type AttrValue } from './onnx-single-node.js';
import { randomF32, rng, worstMismatch } from './reference.js';
import { irAttr } from './run-node.js';

interface Case {
  op: string;
  inputs: (number[] | null)[];
  attrs?: Record<string, AttrValue>;
  opset?: number;
  /** also compare MaxPool's Indices */
  indices?: boolean;
  /** feed X to nnport as this integer dtype (ort gets the same values as float32: a max is exact either way) */
  intDType?: 'int8' | 'uint8';
}

const r = rng(211);

function ours(c: Case, tensors: (Tensor | undefined)[], outputs: string[]): Map<string, Tensor> {
  const node: Node = {
    name: `${c.op.toLowerCase()}_0`,
    opType: c.op,
    domain: '',
    inputs: tensors.map((t, i) => (t ? `in${i}` : '')),
    outputs,
    attrs: Object.fromEntries(Object.entries(c.attrs ?? {}).map(([k, v]) => [k, irAttr(v)])),
  };
  const graph: Graph = {
    name: 'g',
    nodes: [node],
    inputs: tensors.flatMap((t, i) => (t ? [{ name: `in${i}`, dtype: t.dtype, shape: [...t.shape] }] : [])),
    outputs: outputs.map((name) => ({ name, dtype: (name === 'ind' ? 'int64' : tensors[0]!.dtype) as DType })),
    initializers: new Map(),
    opsets: { '': c.opset ?? 17 },
  };
  const feeds = new Map<string, Tensor>();
  tensors.forEach((t, i) => t && feeds.set(`in${i}`, t));
  return runGraphSync(graph, feeds).outputs;
}

async function check(c: Case): Promise<void> {
  const tensors = c.inputs.map((s, i) => {
    if (!s) return undefined;
    const n = s.reduce((a, b) => a * b, 1);
    if (i === 0 && c.intDType) {
      const lo = c.intDType === 'int8' ? -128 : 0;
      // a narrow range so that windows hold ties: Indices must name the first maximum
      return Tensor.float32(s, Array.from({ length: n }, () => lo + Math.floor(r() * (c.indices ? 6 : 256))));
    }
    return Tensor.float32(s, randomF32(n, r));
  });
  const outputs = c.indices ? ['y', 'ind'] : ['y'];
  const bytes = singleNodeModel({
    opType: c.op,
    inputs: tensors.flatMap((t, i) => (t ? [{ name: `in${i}`, shape: [...t.shape] }] : [])),
    nodeInputs: tensors.map((t, i) => (t ? `in${i}` : '')),
    outputs,
    outputTypes: { ind: 7 }, // MaxPool Indices are int64
    attrs: c.attrs,
    opset: c.opset,
  });
  // errors only: ort's shape inference disagrees with its own ceil_mode pool kernel and warns (we match the kernel)
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds: Record<string, ort.Tensor> = {};
  tensors.forEach((t, i) => t && (feeds[`in${i}`] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape])));
  const want = await session.run(feeds);
  await session.release();
  const mine = c.intDType ? tensors.map((t, i) => (t && i === 0 ? new Tensor(c.intDType!, t.shape, (c.intDType === 'int8' ? Int8Array : Uint8Array).from(t.data as Float32Array)) : t)) : tensors;
  const got = ours(c, mine, outputs);
  const what = JSON.stringify(c);
  const y = got.get('y')!;
  expect(y.shape, what).toEqual(want.y!.dims);
  if (c.intDType) {
    expect(y.dtype, what).toBe(c.intDType);
    expect(Array.from(y.data as Int8Array), what).toEqual(Array.from(want.y!.data as Float32Array));
  } else {
    const { excess, index } = worstMismatch(y.data as Float32Array, want.y!.data as Float32Array);
    expect(excess, `${what}: worst at ${index}`).toBeLessThanOrEqual(0);
  }
  if (c.indices) {
    const ind = got.get('ind')!;
    expect([ind.dtype, ind.shape], what).toEqual(['int64', want.ind!.dims]);
    expect(Array.from(ind.data as BigInt64Array), what).toEqual(Array.from(want.ind!.data as BigInt64Array));
  }
}

function* conv3dGrid(): Generator<Case> {
  for (const autoPad of ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const)
    for (const [k, s, d] of [[3, 1, 1], [3, 2, 1], [2, 2, 1], [3, 1, 2], [1, 1, 1], [[2, 3, 1], [1, 2, 3], [1, 1, 1]]] as const)
      for (const group of [1, 2, 4]) {
        const kk = typeof k === 'number' ? [k, k, k] : [...k];
        const ss = typeof s === 'number' ? [s, s, s] : [...s];
        const dd = typeof d === 'number' ? [d, d, d] : [...d];
        if (autoPad.startsWith('SAME') && dd.some((v) => v > 1)) continue; // ort rejects SAME with dilation
        const C = 4, M = group === 4 ? 4 : 6;
        const attrs: Record<string, AttrValue> = { kernel_shape: kk, strides: ss, dilations: dd, group, auto_pad: autoPad };
        if (autoPad === 'NOTSET') attrs.pads = [1, 0, 2, 0, 1, 1];
        yield { op: 'Conv', inputs: [[2, C, 6, 7, 9], [M, C / group, ...kk], group === 2 ? null : [M]], attrs };
      }
  // more than one im2col chunk: K * P well past 64 Ki floats
  yield { op: 'Conv', inputs: [[1, 8, 12, 14, 15], [5, 8, 3, 3, 3], [5]], attrs: { pads: [1, 1, 1, 1, 1, 1] } };
  // four spatial axes take the same path
  yield { op: 'Conv', inputs: [[1, 2, 4, 5, 3, 6], [3, 2, 2, 3, 1, 2], [3]], attrs: { strides: [1, 2, 1, 2], pads: [0, 1, 0, 1, 1, 0, 0, 0] } };
}

function* convTranspose3dGrid(): Generator<Case> {
  for (const [k, s, d] of [[3, 1, 1], [3, 2, 1], [2, 2, 1], [2, 2, 2], [1, 3, 1]] as const)
    for (const group of [1, 2])
      for (const extra of <Record<string, AttrValue>[]>[
        { pads: [1, 0, 0, 0, 1, 0] },
        { output_padding: [1, 0, 1] },
        { output_shape: [s * 3 + (k - 1) * d, s * 4 + (k - 1) * d, s * 5 + (k - 1) * d] },
        { auto_pad: 'SAME_UPPER' },
        { auto_pad: 'SAME_LOWER' },
        { auto_pad: 'VALID' },
      ]) {
        if ('output_padding' in extra && s === 1) continue;
        if ('auto_pad' in extra && extra.auto_pad !== 'VALID' && (k - 1) * d + 1 < s) continue;
        yield { op: 'ConvTranspose', inputs: [[2, 4, 4, 5, 6], [4, 3, k, k, k], group === 1 ? [3] : [6]], attrs: { kernel_shape: [k, k, k], strides: [s, s, s], dilations: [d, d, d], group, ...extra } };
      }
}

function* pool3dGrid(): Generator<Case> {
  for (const op of ['MaxPool', 'AveragePool'])
    for (const autoPad of ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'])
      for (const [k, s] of [[3, 1], [3, 2], [2, 2], [2, 3], [[2, 3, 1], [1, 2, 2]]] as const)
        for (const ceil of [0, 1]) {
          const kk = typeof k === 'number' ? [k, k, k] : [...k];
          const ss = typeof s === 'number' ? [s, s, s] : [...s];
          if (autoPad.startsWith('SAME') && kk.some((v, i) => v < ss[i]!)) continue; // would need negative pads
          const attrs: Record<string, AttrValue> = { kernel_shape: kk, strides: ss, auto_pad: autoPad, ceil_mode: ceil };
          if (autoPad === 'NOTSET') attrs.pads = [1, 0, 0, 0, 1, 0].map((p, i) => Math.min(p, kk[i % 3]! - 1));
          if (op === 'AveragePool') attrs.count_include_pad = ceil;
          if (op === 'MaxPool' && kk[0] === 3 && !autoPad.startsWith('SAME')) attrs.dilations = [2, 1, 1];
          yield { op, inputs: [[2, 3, 7, 8, 9]], attrs, opset: 19 };
        }
}

function* indicesGrid(): Generator<Case> {
  for (const storageOrder of [0, 1])
    for (const shape of [[2, 3, 9, 11], [1, 2, 5, 6, 7], [2, 2, 13]]) {
      const rk = shape.length - 2;
      const n = (v: number) => new Array<number>(rk).fill(v);
      for (const attrs of <Record<string, AttrValue>[]>[
        { kernel_shape: n(3), strides: n(2), pads: [...n(1), ...n(1)] },
        { kernel_shape: n(2), strides: n(1) },
        { kernel_shape: n(3), strides: n(2), ceil_mode: 1 },
        { kernel_shape: n(2), auto_pad: 'SAME_UPPER' },
        { kernel_shape: n(2), dilations: n(2), pads: [...n(1), ...n(0)] },
      ])
        yield { op: 'MaxPool', inputs: [shape], attrs: { ...attrs, storage_order: storageOrder }, indices: true, opset: 12 };
    }
}

function* intGrid(): Generator<Case> {
  for (const intDType of ['int8', 'uint8'] as const)
    for (const shape of [[2, 3, 9, 11], [1, 2, 5, 6, 7], [2, 2, 13]])
      for (const indices of [false, true]) {
        const rk = shape.length - 2;
        const n = (v: number) => new Array<number>(rk).fill(v);
        yield { op: 'MaxPool', inputs: [shape], attrs: { kernel_shape: n(3), strides: n(2), pads: [...n(1), ...n(0)] }, intDType, indices, opset: 12 };
        yield { op: 'MaxPool', inputs: [shape], attrs: { kernel_shape: n(2), auto_pad: 'SAME_LOWER' }, intDType, indices, opset: 12 };
      }
}

describe('N-d ops vs onnxruntime-node', () => {
  for (const [name, grid] of [
    ['3-D Conv', conv3dGrid],
    ['3-D ConvTranspose', convTranspose3dGrid],
    ['3-D pools', pool3dGrid],
    ['MaxPool Indices', indicesGrid],
    ['int8 / uint8 MaxPool', intGrid],
  ] as const) {
    it(`${name}: attribute grid`, async () => {
      let n = 0;
      for (const c of grid()) {
        await check(c);
        n++;
      }
      expect(n).toBeGreaterThan(10);
    });
  }
});
