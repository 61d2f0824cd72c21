// Conv, ConvTranspose, pools, Gemm and MatMul against onnxruntime-node (an independent
// implementation) on random inputs over grids of attribute combinations, incl. auto_pad.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/tensor.js';
import { singleNodeModel, type AttrValue } from './onnx-single-node.js';
import { randomF32, rng, worstMismatch } from './reference.js';
import { runNode } from './run-node.js';

interface Case {
  op: string;
  inputs: (number[] | null)[];
  attrs?: Record<string, AttrValue>;
  opset?: number;
}

const r = rng(101);

async function check(c: Case): Promise<void> {
  const tensors = c.inputs.map((s) => (s ? Tensor.float32(s, randomF32(s.reduce((a, b) => a * b, 1), r)) : undefined));
  const names = tensors.map((t, i) => (t ? `in${i}` : ''));
  const bytes = singleNodeModel({
    opType: c.op,
    inputs: tensors.flatMap((t, i) => (t ? [{ name: `in${i}`, shape: [...t.shape] }] : [])),
    nodeInputs: names,
    outputs: ['y'],
    attrs: c.attrs,
    opset: c.opset,
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  tensors.forEach((t, i) => t && (feeds[`in${i}`] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape])));
  const want = (await session.run(feeds)).y!;
  await session.release();
  const got = runNode(c.op, tensors, c.attrs, c.opset);
  const what = JSON.stringify(c);
  expect(got.shape, what).toEqual(want.dims);
  const { excess, index } = worstMismatch(got.data as Float32Array, want.data as Float32Array);
  expect(excess, `${what}: worst at ${index}`).toBeLessThanOrEqual(0);
}

function* convGrid(): Generator<Case> {
  const autoPads = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const;
  for (const autoPad of autoPads)
    for (const [k, s, d] of [[3, 1, 1], [3, 2, 1], [2, 2, 1], [3, 1, 2], [1, 1, 1], [5, 3, 1]] as const)
      for (const group of [1, 2, 6]) {
        const C = 6, M = group === 6 ? 6 : 4;
        const attrs: Record<string, AttrValue> = { kernel_shape: [k, k], strides: [s, s], dilations: [d, d], group, auto_pad: autoPad };
        if (autoPad === 'NOTSET') attrs.pads = [1, 0, 2, 1];
        if (autoPad.startsWith('SAME') && d > 1) continue; // ort rejects SAME with dilation
        yield { op: 'Conv', inputs: [[2, C, 11, 13], [M, C / group, k, k], group === 2 ? null : [M]], attrs };
      }
  yield { op: 'Conv', inputs: [[1, 3, 17], [5, 3, 4], [5]], attrs: { strides: [2], pads: [2, 1], dilations: [2] } };
  yield { op: 'Conv', inputs: [[1, 32, 9, 9], [32, 1, 3, 3], [32]], attrs: { group: 32, strides: [2, 2], pads: [1, 1, 1, 1] } };
}

function* convTransposeGrid(): Generator<Case> {
  for (const [k, s, d] of [[3, 1, 1], [3, 2, 1], [2, 2, 1], [4, 2, 2], [1, 3, 1]] as const)
    for (const group of [1, 2])
      for (const extra of <Record<string, AttrValue>[]>[{ pads: [1, 0, 0, 1] }, { output_padding: [1, 0] }, { output_shape: [s * 6 + (k - 1) * d, s * 7 + (k - 1) * d] }, { auto_pad: 'SAME_UPPER' }, { auto_pad: 'SAME_LOWER' }, { auto_pad: 'VALID' }]) {
        if ('output_padding' in extra && s === 1) continue;
        // SAME asking for more than the natural size needs negative pads: onnx allows it, ort clamps to the natural size.
        if ('auto_pad' in extra && extra.auto_pad !== 'VALID' && (k - 1) * d + 1 < s) continue;
        yield { op: 'ConvTranspose', inputs: [[1, 4, 7, 8], [4, 3, k, k], group === 1 ? [3] : [6]], attrs: { kernel_shape: [k, k], strides: [s, s], dilations: [d, d], group, ...extra } };
      }
  yield { op: 'ConvTranspose', inputs: [[2, 3, 9], [3, 2, 3], null], attrs: { strides: [2], pads: [1, 0] } };
}

function* poolGrid(): Generator<Case> {
  for (const op of ['MaxPool', 'AveragePool'])
    for (const autoPad of ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'])
      for (const [k, s] of [[3, 1], [3, 2], [2, 2], [2, 3], [5, 1]] as const)
        for (const ceil of [0, 1]) {
          // SAME with a window shorter than the stride would need negative pads, which ort rejects.
          if (autoPad.startsWith('SAME') && k < s) continue;
          const attrs: Record<string, AttrValue> = { kernel_shape: [k, k], strides: [s, s], auto_pad: autoPad, ceil_mode: ceil };
          if (autoPad === 'NOTSET') attrs.pads = [1, 0, 0, 1];
          if (op === 'AveragePool') attrs.count_include_pad = ceil;
          // ort sizes SAME windows without their dilation (onnx says out = ceil(in / stride)): not compared
          if (op === 'MaxPool' && k === 3 && !autoPad.startsWith('SAME')) attrs.dilations = [2, 1];
          yield { op, inputs: [[2, 3, 12, 15]], attrs, opset: 19 };
        }
  yield { op: 'MaxPool', inputs: [[1, 2, 19]], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] } };
  yield { op: 'AveragePool', inputs: [[1, 2, 19]], attrs: { kernel_shape: [4], strides: [3], pads: [2, 1], count_include_pad: 1 } };
  yield { op: 'GlobalAveragePool', inputs: [[2, 5, 7, 9]] };
  yield { op: 'GlobalMaxPool', inputs: [[2, 5, 13]] };
}

function* gemmGrid(): Generator<Case> {
  for (const transA of [0, 1])
    for (const transB of [0, 1])
      for (const c of [[7, 9], [9], [1, 9], [7, 1], null])
        for (const [alpha, beta] of [[1, 1], [0.5, -2]])
          yield { op: 'Gemm', inputs: [transA ? [13, 7] : [7, 13], transB ? [9, 13] : [13, 9], c], attrs: { transA, transB, alpha: { float: alpha }, beta: { float: beta } } };
  for (const [a, b] of [[[13], [13]], [[5, 13], [13]], [[13], [13, 6]], [[3, 5, 13], [13, 6]], [[2, 1, 5, 13], [3, 13, 6]], [[4, 5, 13], [4, 13, 6]], [[1, 5, 33], [2, 33, 17]]])
    yield { op: 'MatMul', inputs: [a, b] };
}

describe('dense ops vs onnxruntime-node', () => {
  for (const [name, grid] of [['Conv', convGrid], ['ConvTranspose', convTransposeGrid], ['pools', poolGrid], ['Gemm and MatMul', gemmGrid]] as const) {
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
