// Small graphs and seeded tensors for the webgpu tests.
import { expect } from 'vitest';
import type { Graph, Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { rng } from '../support/rng.js';

/** A seeded uniform in [-scale, scale) (test/support/rng.ts). */
export function random(shape: number[], seed: number, scale = 1): Tensor {
  const next = rng(seed);
  return new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * scale));
}

/** A node whose domain and attributes default to ONNX's and none. */
export type NodeSpec = Omit<Node, 'domain' | 'attrs'> & Partial<Pick<Node, 'domain' | 'attrs'>>;

/** An opset-17 float32 graph of `nodes`, its inputs without declared shapes. */
export function graphOf(nodes: NodeSpec[], inputs: string[], outputs: string[], initializers: Record<string, Tensor> = {}): Graph {
  return {
    name: 'g',
    nodes: nodes.map((n) => ({ domain: '', attrs: {}, ...n })),
    inputs: inputs.map((name) => ({ name, dtype: 'float32' as const })),
    outputs: outputs.map((name) => ({ name, dtype: 'float32' as const })),
    initializers: new Map(Object.entries(initializers)),
    opsets: { '': 17 },
  };
}

/** The largest element difference of two float32 tensors of the same shape. */
export function tensorMaxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return maxAbsDiff(a.data as Float32Array, b.data as Float32Array);
}
