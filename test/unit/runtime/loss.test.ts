// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss beyond the ONNX backend data: int32
// targets, float64, a mean over non-ignored targets without weights, a positive ignore_index
// that is also a class, N-D inputs, against onnxruntime-node; and the typed errors.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../../src/ir/errors.js';
import type { Attr } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { attr, ortNode, runNode } from './run-node.js';

const random = rng(2024);
const floats = (dtype: 'float32' | 'float64', shape: number[]): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => random() * 4 - 2);
  return new Tensor(dtype, shape, dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v));
};
const targets = (dtype: 'int32' | 'int64', shape: number[], classes: number, ignore?: number): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => (ignore !== undefined && random() < 0.3 ? ignore : Math.floor(random() * classes)));
  return dtype === 'int32' ? new Tensor('int32', shape, Int32Array.from(v)) : Tensor.int64(shape, v);
};

const CASES: Array<{ name: string; op: string; x: Tensor; t: Tensor; w?: Tensor; attrs: Record<string, Attr>; outputs: number }> = [
  { name: 'NLL [N, C] int32 targets, mean', op: 'NegativeLogLikelihoodLoss', x: floats('float32', [6, 5]), t: targets('int32', [6], 5), attrs: {}, outputs: 1 },
  { name: 'NLL [N, C, d1, d2] float64, ignore_index 2 (a class) without weights, mean', op: 'NegativeLogLikelihoodLoss', x: floats('float64', [3, 4, 2, 5]), t: targets('int64', [3, 2, 5], 4, 2), attrs: { ignore_index: attr.i(2) }, outputs: 1 },
  { name: 'NLL weights, ignore_index -100, sum', op: 'NegativeLogLikelihoodLoss', x: floats('float32', [4, 3, 7]), t: targets('int64', [4, 7], 3, -100), w: floats('float32', [3]), attrs: { ignore_index: attr.i(-100), reduction: attr.s('sum') }, outputs: 1 },
  { name: 'SCE [N, C, d1] float64, weights, none, log_prob', op: 'SoftmaxCrossEntropyLoss', x: floats('float64', [3, 6, 4]), t: targets('int64', [3, 4], 6), w: floats('float64', [6]), attrs: { reduction: attr.s('none') }, outputs: 2 },
  { name: 'SCE ignore_index without weights, mean, log_prob', op: 'SoftmaxCrossEntropyLoss', x: floats('float32', [5, 4, 3, 2]), t: targets('int32', [5, 3, 2], 4, -1), attrs: { ignore_index: attr.i(-1) }, outputs: 2 },
];

describe('loss ops against onnxruntime-node', () => {
  it.each(CASES)('$name', async ({ op, x, t, w, attrs, outputs }) => {
    const ours = runNode(op, [x, t, w], attrs, 13, outputs);
    const theirs = (await ortNode(op, [x, t, w], attrs, 13, outputs)).map((o) => o.toNumbers());
    ours.forEach((o, k) => {
      const a = o.toNumbers();
      const b = theirs[k]!;
      expect(a.length).toBe(b.length);
      const tol = x.dtype === 'float64' ? 1e-12 : 1e-5;
      a.forEach((v, i) => expect(Math.abs(v - b[i]!), `output ${k} element ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!))));
    });
  });
});

describe('loss ops refuse', () => {
  it('a target outside [0, C) that is not ignore_index', () => {
    expect(() => runNode('NegativeLogLikelihoodLoss', [floats('float32', [2, 3]), Tensor.int64([2], [0, 3])], {}, 13)).toThrow(/target 3 at position 1 is not a class index in \[0, 3\)/);
  });
  it('a target whose shape does not fit the input', () => {
    expect(() => runNode('SoftmaxCrossEntropyLoss', [floats('float32', [2, 3, 4]), Tensor.int64([2, 5], new Array(10).fill(0))], {}, 13)).toThrow(ShapeError);
  });
  it('an unknown reduction', () => {
    expect(() => runNode('NegativeLogLikelihoodLoss', [floats('float32', [2, 3]), Tensor.int64([2], [0, 1])], { reduction: attr.s('max') }, 13)).toThrow(/reduction 'max'/);
  });
});
