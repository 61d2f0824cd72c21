// LayerNormalization with Scale/B of every broadcastable shape (a [C,1,1] scale over (C,H,W) is
// what a channel-wise affine after a LayerNorm over C·H·W exports to, and what the layout pass
// leaves behind), against onnxruntime-node on the same one-node graph.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { randomF32, rng } from '../kernels/reference.js';
import { attr, runNode } from './run-node.js';
import { ortFirst } from '../../support/ort.js';

const r = rng(917);
const f32 = (shape: number[]): Tensor => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r));

const CASES: Array<{ x: number[]; axis: number; scale: number[]; bias?: number[] }> = [
  { x: [2, 3, 5, 4], axis: 1, scale: [3, 1, 1], bias: [3, 1, 1] },
  { x: [2, 3, 5, 4], axis: 1, scale: [1, 5, 1], bias: [3, 5, 4] },
  { x: [2, 3, 5, 4], axis: 1, scale: [5, 4], bias: [1] },
  { x: [2, 3, 5, 4], axis: 2, scale: [5, 1] },
  { x: [2, 3, 5, 4], axis: -1, scale: [4], bias: [4] },
  { x: [2, 6, 7], axis: 1, scale: [6, 7], bias: [1, 7] },
];

async function ortLayerNorm(x: Tensor, scale: Tensor, bias: Tensor | undefined, axis: number): Promise<Float32Array> {
  const inits = new Map<string, Tensor>([['scale', scale]]);
  if (bias) inits.set('bias', bias);
  const g: Graph = {
    name: 'ln',
    nodes: [{ name: 'ln', opType: 'LayerNormalization', domain: '', inputs: ['x', 'scale', ...(bias ? ['bias'] : [])], outputs: ['y'], attrs: { axis: attr.i(axis), epsilon: attr.f(1e-5) } }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [...x.shape] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: inits,
    opsets: { '': 17 },
  };
  // Scale and B as initializers: onnxruntime 1.30 kills the process on a [5, 1] Scale fed as an input with B omitted
  return (await ortFirst(g, { x })).toFloat32();
}

describe('LayerNormalization: broadcast Scale and B (onnxruntime-node)', () => {
  it.each(CASES)('x [$x] axis $axis scale [$scale] bias [$bias]', async ({ x: xs, axis, scale: ss, bias: bs }) => {
    const x = f32(xs);
    const scale = f32(ss);
    const bias = bs ? f32(bs) : undefined;
    const want = await ortLayerNorm(x, scale, bias, axis);
    const got = runNode('LayerNormalization', [x, scale, bias], { axis: attr.i(axis), epsilon: attr.f(1e-5) })[0]!.toFloat32();
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('a Scale that does not broadcast to the normalised dims is a ShapeError naming it', () => {
    expect(() => runNode('LayerNormalization', [f32([2, 3, 5, 4]), f32([3, 2, 1])], { axis: attr.i(1) })).toThrow(/Scale \[3, 2, 1\] does not broadcast to \[3, 5, 4\]/);
  });
});
