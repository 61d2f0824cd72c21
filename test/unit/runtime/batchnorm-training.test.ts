// BatchNormalization with training_mode=1 (opset 15): Y normalised by the batch's statistics and
// the running mean/var outputs, against onnxruntime-node on rank 2, 3 and 4 inputs; and the
// writers' layout pass refusing it (an inference BatchNorm would use the running statistics).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { toChannelsLast } from '../../../src/passes/layout.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { attr } from './run-node.js';
import { ortRun } from '../../support/ort.js';

const random = rng(1514);
const f32 = (shape: number[], offset = 0): Tensor => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1 + offset));

function bnGraph(shape: number[], momentum: number): Graph {
  const C = shape[1]!;
  return {
    name: 'bn',
    nodes: [{ name: 'bn', opType: 'BatchNormalization', domain: '', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y', 'rm', 'rv'], attrs: { training_mode: attr.i(1), momentum: attr.f(momentum), epsilon: attr.f(1e-3) } }],
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [
      { name: 'y', dtype: 'float32', shape },
      { name: 'rm', dtype: 'float32', shape: [C] },
      { name: 'rv', dtype: 'float32', shape: [C] },
    ],
    initializers: new Map([
      ['s', f32([C], 1)],
      ['b', f32([C])],
      ['m', f32([C])],
      ['v', f32([C], 2)],
    ]),
    opsets: { '': 15 },
  };
}

describe('BatchNormalization training_mode=1 against onnxruntime-node', () => {
  it.each([
    [[8, 3], 0.9],
    [[2, 4, 7], 0.5],
    [[3, 5, 4, 6], 0.99],
  ])('input %j, momentum %f', async (shape, momentum) => {
    const g = bnGraph(shape as number[], momentum);
    const x = f32(shape as number[], 0.5);
    const ours = runGraphSync(g, new Map([['x', x]])).outputs;
    const theirs = await ortRun(writeOnnx(g), { x });
    for (const name of ['y', 'rm', 'rv']) {
      const a = ours.get(name)!.toNumbers();
      const b = theirs.get(name)!.toNumbers();
      expect(a.length).toBe(b.length);
      a.forEach((v, i) => expect(Math.abs(v - b[i]!), `${name}[${i}]: ${v} vs ${b[i]}`).toBeLessThan(1e-5 * (1 + Math.abs(b[i]!))));
    }
  });

  it('the layout pass the TFLite, GraphDef and Keras writers share refuses it', () => {
    expect(() => toChannelsLast(bnGraph([2, 3, 4, 4], 0.9))).toThrow(UnsupportedError);
    expect(() => toChannelsLast(bnGraph([2, 3, 4, 4], 0.9))).toThrow(/BatchNormalization in training mode: node 'bn'/);
  });
});
