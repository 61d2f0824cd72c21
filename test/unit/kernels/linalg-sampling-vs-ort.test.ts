// Einsum, Det, GridSample, RoiAlign, MaxUnpool, Unique, ReverseSequence and
// MeanVarianceNormalization against onnxruntime-node on seeded random inputs, over the attribute
// grids the ONNX backend cases leave out (several operands, broadcast ellipses, every GridSample
// mode x padding x align_corners, RoiAlign max mode and adaptive sampling, Unique with axes).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { singleNodeModel, type AttrValue } from './onnx-single-node.js';
import { randomF32, rng, worstMismatch } from './reference.js';
import { irAttr, runNode } from './run-node.js';

const r = rng(4242);

const ELEM: Record<string, number> = { float32: 1, int32: 6, int64: 7, float64: 11 };

interface Run {
  op: string;
  inputs: Tensor[];
  attrs?: Record<string, AttrValue>;
  /** output names and dtypes */
  outputs: [string, string][];
  opset?: number;
}

function ortTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
}

async function run(c: Run): Promise<{ ours: Tensor[]; theirs: ort.Tensor[] }> {
  const names = c.inputs.map((_, i) => `in${i}`);
  const bytes = singleNodeModel({
    opType: c.op,
    inputs: c.inputs.map((t, i) => ({ name: names[i]!, shape: [...t.shape] })),
    inputTypes: Object.fromEntries(c.inputs.map((t, i) => [names[i]!, ELEM[t.dtype]!])),
    outputs: c.outputs.map(([n]) => n),
    outputTypes: Object.fromEntries(c.outputs.map(([n, d]) => [n, ELEM[d]!])),
    attrs: c.attrs,
    opset: c.opset ?? 17,
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const got = await session.run(Object.fromEntries(c.inputs.map((t, i) => [names[i]!, ortTensor(t)])));
  await session.release();
  const node: Node = { name: `${c.op.toLowerCase()}_0`, opType: c.op, domain: '', inputs: names, outputs: c.outputs.map(([n]) => n), attrs: Object.fromEntries(Object.entries(c.attrs ?? {}).map(([k, v]) => [k, irAttr(v)])) };
  const graph: Graph = {
    name: 'g',
    nodes: [node],
    inputs: c.inputs.map((t, i) => ({ name: names[i]!, dtype: t.dtype, shape: [...t.shape] })),
    outputs: c.outputs.map(([name, dtype]) => ({ name, dtype: dtype as Tensor['dtype'] })),
    initializers: new Map(),
    opsets: { '': c.opset ?? 17 },
  };
  const outs = runGraphSync(graph, new Map(c.inputs.map((t, i) => [names[i]!, t]))).outputs;
  return { ours: c.outputs.map(([n]) => outs.get(n)!), theirs: c.outputs.map(([n]) => got[n]!) };
}

/** Every output of ours equal in shape and close (floats) or equal (integers) to onnxruntime's. */
async function expectSame(c: Run, rel = 1e-4, abs = 1e-5): Promise<void> {
  const { ours, theirs } = await run(c);
  const what = `${c.op} ${JSON.stringify(c.attrs ?? {})} on ${c.inputs.map((t) => `[${t.shape.join(', ')}]`).join(', ')}`;
  ours.forEach((y, k) => {
    const want = theirs[k]!;
    expect(y.shape, `${what} output ${k}`).toEqual(want.dims);
    if (y.dtype === 'float32') {
      const { excess, index } = worstMismatch(y.data as Float32Array, want.data as Float32Array, rel, abs);
      expect(excess, `${what} output ${k}: worst at ${index}: ${(y.data as Float32Array)[index]} vs ${(want.data as Float32Array)[index]}`).toBeLessThanOrEqual(0);
    } else {
      expect(Array.from(y.data as Int32Array), `${what} output ${k}`).toEqual(Array.from(want.data as Int32Array));
    }
  });
}

const f32 = (shape: number[], scale = 1): Tensor => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r).map((v) => v * scale));
const i64 = (shape: number[], values: number[]): Tensor => Tensor.int64(shape, values);

describe('Einsum against onnxruntime', () => {
  const cases: [string, number[][]][] = [
    ['bij,bjk->bik', [[3, 4, 5], [3, 5, 6]]],
    ['ij,jk', [[7, 9], [9, 4]]],
    ['bhqd,bhkd->bhqk', [[2, 3, 5, 8], [2, 3, 6, 8]]],
    ['i,j->ij', [[5], [4]]],
    ['i,i', [[7], [7]]],
    ['ii->i', [[5, 5]]],
    ['ii', [[4, 4]]],
    ['bii->b', [[3, 4, 4]]],
    ['ijk->kji', [[2, 3, 4]]],
    ['ij->', [[3, 4]]],
    ['ijk->j', [[2, 5, 3]]],
    ['...ij,...jk->...ik', [[2, 1, 3, 4], [2, 5, 4, 2]]],
    ['...ii->...i', [[2, 3, 4, 4]]],
    ['i...,i...->...', [[3, 2, 4], [3, 2, 4]]],
    ['abc,cd,de->abe', [[2, 3, 4], [4, 5], [5, 6]]],
    ['bn,anm,bm->ba', [[3, 4], [5, 4, 6], [3, 6]]],
    ['ij,ij->ij', [[4, 5], [4, 5]]],
    ['ijk,ikl->ijl', [[2, 0, 3], [2, 3, 4]]],
    ['ij,jk->ik', [[3, 0], [0, 4]]],
    [',ij->ij', [[], [2, 3]]],
  ];
  for (const [equation, shapes] of cases) {
    it(equation, async () => {
      await expectSame({ op: 'Einsum', inputs: shapes.map((s) => f32(s)), attrs: { equation }, outputs: [['y', 'float32']] });
    });
  }
  it('int32 operands exactly', async () => {
    const t = (shape: number[]) => new Tensor('int32', shape, Int32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * 21) - 10));
    await expectSame({ op: 'Einsum', inputs: [t([3, 4]), t([4, 5])], attrs: { equation: 'ij,jk->ik' }, outputs: [['y', 'int32']] });
    await expectSame({ op: 'Einsum', inputs: [t([4, 4])], attrs: { equation: 'ii->' }, outputs: [['y', 'int32']] });
  });
});

describe('Det against onnxruntime', () => {
  for (const shape of [[3, 3], [2, 4, 4], [2, 3, 1, 1], [6, 6]]) {
    it(`[${shape.join(', ')}]`, async () => {
      await expectSame({ op: 'Det', inputs: [f32(shape)], outputs: [['y', 'float32']] });
    });
  }
  it('a singular matrix and one needing a row swap', async () => {
    const x = Tensor.float32([2, 3, 3], [1, 2, 3, 2, 4, 6, 1, 0, 1, 0, 2, 1, 1, 0, 3, 4, 5, 0]);
    await expectSame({ op: 'Det', inputs: [x], outputs: [['y', 'float32']] });
  });
});

describe('GridSample against onnxruntime', () => {
  const x = f32([2, 3, 5, 7]);
  // beyond [-1, 1] so that every padding mode matters, reflections more than once
  const grid = f32([2, 4, 6, 2], 2.4);
  for (const mode of ['bilinear', 'nearest', 'bicubic'])
    for (const padding_mode of ['zeros', 'border', 'reflection'])
      for (const align_corners of [0, 1]) {
        it(`${mode} ${padding_mode} align_corners=${align_corners}`, async () => {
          await expectSame({ op: 'GridSample', inputs: [x, grid], attrs: { mode, padding_mode, align_corners }, outputs: [['y', 'float32']], opset: 16 });
        });
      }
  it('grid points on pixel centres and half-way between (nearest rounds half to even)', async () => {
    const g = Tensor.float32([1, 2, 5, 2], [-1, -1, -0.75, -0.5, -0.5, 0, 0, 0.5, 0.25, 1, 1, 1, 0.75, 0.25, 0.5, -0.25, -0.25, 0.75, 0.1, -0.9]);
    for (const mode of ['nearest', 'bilinear', 'bicubic'])
      for (const align_corners of [0, 1]) await expectSame({ op: 'GridSample', inputs: [f32([1, 2, 4, 4]), g], attrs: { mode, align_corners }, outputs: [['y', 'float32']], opset: 16 });
  });
});

describe('RoiAlign against onnxruntime', () => {
  const x = f32([2, 3, 12, 10]);
  // boxes inside, straddling the border, tiny (below 1 pixel) and wholly outside
  const rois = Tensor.float32([5, 4], [1, 1, 8, 9, -3, 2, 6, 14, 4.2, 5.1, 4.6, 5.3, 0, 0, 10, 12, 12, 13, 16, 18]);
  const batch = i64([5], [0, 1, 1, 0, 1]);
  for (const coordinate_transformation_mode of ['half_pixel', 'output_half_pixel'])
    for (const mode of ['avg', 'max'])
      for (const sampling_ratio of [0, 2])
        it(`${coordinate_transformation_mode} ${mode} sampling_ratio=${sampling_ratio}`, async () => {
          const attrs = { coordinate_transformation_mode, mode, sampling_ratio, output_height: 3, output_width: 4, spatial_scale: { float: 0.8 } };
          await expectSame({ op: 'RoiAlign', inputs: [x, rois, batch], attrs, outputs: [['y', 'float32']], opset: 16 });
        });
});

describe('MaxUnpool against onnxruntime', () => {
  /** Indices of one position per pooling window (windows do not overlap), into the whole unpooled tensor. */
  function indices(xShape: number[], out: number[], k: number[], s: number[], pads: number[]): Tensor {
    const [N, C, H, W] = xShape as [number, number, number, number];
    const [OH, OW] = out as [number, number];
    const v: number[] = [];
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            const y = Math.min(Math.max(i * s[0]! - pads[0]! + Math.floor(r() * k[0]!), 0), OH - 1);
            const x = Math.min(Math.max(j * s[1]! - pads[1]! + Math.floor(r() * k[1]!), 0), OW - 1);
            v.push(((n * C + c) * OH + y) * OW + x);
          }
    return i64(xShape, v);
  }
  const configs: { k: number[]; s: number[]; pads: number[] }[] = [
    { k: [2, 2], s: [2, 2], pads: [0, 0, 0, 0] },
    { k: [3, 2], s: [3, 2], pads: [1, 0, 1, 1] },
  ];
  for (const { k, s, pads } of configs) {
    it(`kernel [${k}] strides [${s}] pads [${pads}], and output_shape equal to the unpooled shape`, async () => {
      const xShape = [2, 3, 3, 4];
      const out = xShape.slice(2).map((n, i) => (n - 1) * s[i]! + k[i]! - pads[i]! - pads[i + 2]!);
      const x = f32(xShape);
      const ind = indices(xShape, out, k, s, pads);
      const attrs = { kernel_shape: k, strides: s, pads };
      await expectSame({ op: 'MaxUnpool', inputs: [x, ind], attrs, outputs: [['y', 'float32']] });
      await expectSame({ op: 'MaxUnpool', inputs: [x, ind, i64([4], [2, 3, ...out])], attrs, outputs: [['y', 'float32']] });
    });
  }
});

describe('Unique against onnxruntime', () => {
  const outputs: [string, string][] = [['y', 'float32'], ['indices', 'int64'], ['inverse', 'int64'], ['counts', 'int64']];
  // few distinct values, so that most repeat (and -0 meets 0)
  const small = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * 5) - 2 || (r() < 0.5 ? -0 : 0)));
  for (const sorted of [0, 1]) {
    it(`flattened, sorted=${sorted}`, async () => {
      await expectSame({ op: 'Unique', inputs: [small([4, 6])], attrs: { sorted }, outputs });
    });
    it(`along axes, sorted=${sorted}`, async () => {
      const rows = Tensor.float32([6, 2], [1, 2, 0, 1, 1, 2, -1, 5, 0, 1, 1, -2]);
      await expectSame({ op: 'Unique', inputs: [rows], attrs: { sorted, axis: 0 }, outputs });
      await expectSame({ op: 'Unique', inputs: [small([2, 7, 2])], attrs: { sorted, axis: 1 }, outputs });
      await expectSame({ op: 'Unique', inputs: [small([3, 2, 5])], attrs: { sorted, axis: -1 }, outputs });
    });
  }
});

describe('ReverseSequence against onnxruntime', () => {
  it('time-major and batch-major, lengths 0 to the full time axis', async () => {
    await expectSame({ op: 'ReverseSequence', inputs: [f32([5, 4, 3]), i64([4], [5, 0, 3, 1])], attrs: { batch_axis: 1, time_axis: 0 }, outputs: [['y', 'float32']] });
    await expectSame({ op: 'ReverseSequence', inputs: [f32([4, 5, 2, 2]), i64([4], [2, 5, 1, 4])], attrs: { batch_axis: 0, time_axis: 1 }, outputs: [['y', 'float32']] });
  });
});

describe('MeanVarianceNormalization against onnxruntime', () => {
  for (const [shape, axes] of [
    [[2, 3, 4, 5], undefined],
    [[3, 4, 5], [1]],
    [[2, 3, 4, 5], [0, 1, 2, 3]],
    [[4, 6], [0]],
    [[2, 3, 4], [-1, 0]],
  ] as [number[], number[] | undefined][]) {
    it(`[${shape.join(', ')}] axes ${axes ? `[${axes.join(', ')}]` : 'default'}`, async () => {
      await expectSame({ op: 'MeanVarianceNormalization', inputs: [f32(shape, 3)], attrs: axes ? { axes } : {}, outputs: [['y', 'float32']] }, 1e-4, 1e-4);
    });
  }
});

describe('typed errors naming the problem', () => {
  const fail = (op: string, inputs: Tensor[], attrs: Record<string, AttrValue>) => () => runNode(op, inputs, attrs, 16);
  it('Einsum: mismatched label sizes, an output letter no operand has, a wrong term length', () => {
    expect(fail('Einsum', [f32([2, 3]), f32([4, 5])], { equation: 'ij,jk->ik' })).toThrow(ShapeError);
    expect(fail('Einsum', [f32([2, 3]), f32([4, 5])], { equation: 'ij,jk->ik' })).toThrow(/label 'j'.*3 and 4 differ/);
    expect(fail('Einsum', [f32([2, 3])], { equation: 'ij->k' })).toThrow(/output letter 'k' is in no operand/);
    expect(fail('Einsum', [f32([2, 3, 4])], { equation: 'ij->i' })).toThrow(/2 letters for an operand of rank 3/);
  });
  it('GridSample of a 5-D input is unsupported, by name', () => {
    expect(fail('GridSample', [f32([1, 1, 2, 2, 2]), f32([1, 2, 2, 2, 3])], {})).toThrow(UnsupportedError);
    expect(fail('GridSample', [f32([1, 1, 2, 2, 2]), f32([1, 2, 2, 2, 3])], {})).toThrow(/GridSample on a rank-5 input/);
  });
  it('indices out of range: RoiAlign batch_indices, MaxUnpool I, ReverseSequence lengths', () => {
    expect(fail('RoiAlign', [f32([1, 1, 4, 4]), Tensor.float32([1, 4], [0, 0, 2, 2]), i64([1], [1])], {})).toThrow(/batch_indices\[0\] = 1 is out of range/);
    expect(fail('MaxUnpool', [f32([1, 1, 1, 1]), i64([1, 1, 1, 1], [4])], { kernel_shape: [2, 2], strides: [2, 2] })).toThrow(/index 4 is out of range/);
    expect(fail('ReverseSequence', [f32([3, 2]), i64([2], [1, 4])], { batch_axis: 1, time_axis: 0 })).toThrow(/sequence_lens\[1\] = 4 is outside \[0, 3\]/);
  });
  it('Det of non-square matrices', () => {
    expect(fail('Det', [f32([2, 3])], {})).toThrow(ShapeError);
  });
});
