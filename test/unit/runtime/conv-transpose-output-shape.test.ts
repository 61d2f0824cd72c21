// ConvTranspose with an output_shape: the pads follow from it, and a size past the full transposed
// output pads nothing — the rows past it are zeros (and the bias) at the end, as onnxruntime
// computes it (it clamps the total padding at 0), whatever auto_pad says. nnport's runtime put a
// SAME_UPPER layer's extra row at the start (a negative pad): 14 off. Checked against onnxruntime.
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortFirst } from '../../support/ort.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

function convTranspose(autoPad: string, out: number, k: number, bias: boolean): Graph {
  return {
    name: 'ct',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 5, 5] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    opsets: { '': 17 },
    initializers: new Map<string, Tensor>([
      ['w', Tensor.float32([2, 3, k, k], Array.from({ length: 6 * k * k }, (_, i) => Math.cos(i)))],
      ...(bias ? [['b', Tensor.float32([3], [0.5, -1, 2])] as [string, Tensor]] : []),
    ]),
    nodes: [{ name: 'ct', opType: 'ConvTranspose', domain: '', inputs: ['x', 'w', ...(bias ? ['b'] : [])], outputs: ['y'], attrs: { strides: { type: 'ints', value: [2, 2] }, output_shape: { type: 'ints', value: [out, out] }, auto_pad: { type: 'string', value: autoPad } } }],
  };
}

describe('ConvTranspose output_shape = onnxruntime', () => {
  // full output (5 - 1)·2 + k: 11 for k = 3, 10 for k = 2
  for (const [autoPad, out, k, bias] of [['SAME_UPPER', 12, 3, true], ['SAME_UPPER', 11, 2, false], ['SAME_LOWER', 12, 3, true], ['NOTSET', 12, 3, true], ['SAME_UPPER', 10, 3, true], ['NOTSET', 9, 3, false]] as const) {
    it(`${autoPad}, output ${out}, kernel ${k}${bias ? ', bias' : ''}`, async () => {
      const g = convTranspose(autoPad, out, k, bias);
      const x = Tensor.float32([1, 2, 5, 5], Array.from({ length: 50 }, (_, i) => Math.sin(i)));
      const ours = [...(await run(g, { x })).outputs.values()][0]!;
      const theirs = await ortFirst(g, [x]);
      expect(ours.shape).toEqual(theirs.shape);
      expect(maxAbsDiff(ours.toFloat32(), theirs.toFloat32())).toBeLessThanOrEqual(1e-5);
    });
  }
});
