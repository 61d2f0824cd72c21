// The runtime's plan-time lowering of channels-last graphs (runtime/lower-for-run.ts): a lowered
// run gives what the permuting channels-last kernels give (optimize: false; those kernels are
// checked against onnxruntime in channels-last.test.ts), every value an observer asks for by name
// comes in its channels-last layout, and what cannot be lowered exactly runs as it is.
import { describe, expect, it } from 'vitest';
import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync, type RunOptions } from '../../../src/runtime/executor.js';
import { lowerForRun } from '../../../src/runtime/lower-for-run.js';
import { randomF32, rng } from '../kernels/reference.js';

const ints = (value: number[]): Attr => ({ type: 'ints', value });
const int = (value: number): Attr => ({ type: 'int', value });
const r = rng(4242);
const f32 = (shape: number[]) => Tensor.float32(shape, randomF32(shape.reduce((a, b) => a * b, 1), r));

function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): Node {
  return { name: `${opType}_${outputs[0]}`, opType, domain, inputs, outputs, attrs };
}

function graph(nodes: Node[], inits: Record<string, Tensor>, x: number[], outputs: string[], opset = 17): Graph {
  return {
    name: 'g',
    nodes,
    inputs: [{ name: 'x', dtype: 'float32', shape: x }],
    outputs: outputs.map((name) => ({ name, dtype: 'float32' })),
    initializers: new Map(Object.entries(inits)),
    opsets: { '': opset, nnport: 1 },
  };
}

/** Run lowered (the default) and not (optimize: false), with an observer on each: equal values by name. */
function expectSameRuns(g: Graph, x: Tensor, options: RunOptions = {}): Map<string, Tensor> {
  const seenLowered = new Map<string, Tensor>();
  const seenPlain = new Map<string, Tensor>();
  const lowered = runGraphSync(g, { x }, { ...options, keepIntermediates: true, onValue: (n, t) => seenLowered.set(n, t) });
  const plain = runGraphSync(g, { x }, { ...options, optimize: false, keepIntermediates: true, onValue: (n, t) => seenPlain.set(n, t) });
  const fast = runGraphSync(g, { x }, options);
  expect([...seenLowered.keys()].sort()).toEqual([...seenPlain.keys()].sort());
  expect([...lowered.values!.keys()].sort()).toEqual([...plain.values!.keys()].sort());
  for (const [k, t] of seenPlain) {
    expect(seenLowered.get(k)!.shape, k).toEqual(t.shape);
    expect([...seenLowered.get(k)!.data], k).toEqual([...t.data]);
    expect([...lowered.values!.get(k)!.data], k).toEqual([...t.data]);
  }
  for (const [k, t] of plain.outputs) {
    expect(fast.outputs.get(k)!.shape, k).toEqual(t.shape);
    const a = fast.outputs.get(k)!.data as Float32Array;
    const b = t.data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[i]!)));
  }
  return seenPlain;
}

describe('channels-last graphs lowered for the runtime', () => {
  it('per-axis QuantizeLinear / DequantizeLinear on channels-last activations keep their channel axis', () => {
    const g = graph(
      [
        node('Conv', ['x', 'W', 'B'], ['c'], { pads: ints([1, 1, 1, 1]), kernel_layout: { type: 'string', value: 'HWIO' } }, 'nnport'),
        node('QuantizeLinear', ['c', 's', 'zp'], ['q'], { axis: int(-1) }),
        node('DequantizeLinear', ['q', 's', 'zp'], ['d'], { axis: int(3) }),
        node('MaxPool', ['d'], ['p'], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }, 'nnport'),
        node('Softmax', ['p'], ['y'], { axis: int(-1) }),
      ],
      {
        W: f32([3, 3, 4, 6]),
        B: f32([6]),
        s: Tensor.float32([6], [0.01, 0.02, 0.05, 0.1, 0.003, 0.2]),
        zp: new Tensor('int8', [6], Int8Array.from([0, 3, -5, 10, 0, -1])),
      },
      [1, 6, 8, 4],
      ['y'],
    );
    const lowered = lowerForRun(g)!;
    expect(lowered.graph.nodes.filter((n) => n.opType === 'Transpose').length).toBe(2);
    expect(lowered.graph.nodes.find((n) => n.opType === 'QuantizeLinear')!.attrs.axis).toEqual(int(1));
    const seen = expectSameRuns(g, f32([1, 6, 8, 4]));
    expect(seen.get('d')!.shape).toEqual([1, 6, 8, 6]);
  });

  it('a Transpose + Flatten before a dense layer: the flattened value keeps its contents (no row re-order)', () => {
    const g = graph(
      [
        node('Conv', ['x', 'W'], ['c'], { kernel_layout: { type: 'string', value: 'OHWI' }, strides: ints([2, 2]) }, 'nnport'),
        node('Relu', ['c'], ['a']),
        node('Transpose', ['a'], ['t'], { perm: ints([0, 3, 1, 2]) }),
        node('Flatten', ['t'], ['f']),
        node('Gemm', ['f', 'D', 'E'], ['y']),
      ],
      { W: f32([5, 3, 3, 2]), D: f32([5 * 3 * 3, 7]), E: f32([7]) },
      [2, 7, 7, 2],
      ['y'],
    );
    expect(lowerForRun(g)?.complete).toBe(true);
    const seen = expectSameRuns(g, f32([2, 7, 7, 2]));
    expect(seen.get('t')!.shape).toEqual([2, 5, 3, 3]);
    expect(seen.get('f')!.shape).toEqual([2, 45]);
    // asked for by name: the channels-last conv output and the flattened rows, as the source has them
    const x = f32([2, 7, 7, 2]);
    const want = runGraphSync(g, { x }, { optimize: false, outputs: ['c', 'f'] }).outputs;
    const got = runGraphSync(g, { x }, { outputs: ['c', 'f'] }).outputs;
    for (const k of ['c', 'f']) {
      expect(got.get(k)!.shape).toEqual(want.get(k)!.shape);
      expect([...got.get(k)!.data]).toEqual([...want.get(k)!.data]);
    }
  });

  it('residual blocks, Pad before a strided conv, Concat and a global pool run with one transpose', () => {
    const g = graph(
      [
        node('Pad', ['x', 'pads'], ['xp']),
        node('Conv', ['xp', 'W1', 'B1'], ['c1'], { strides: ints([2, 2]) }, 'nnport'),
        node('Clip', ['c1', 'lo', 'hi'], ['a1']),
        node('Conv', ['a1', 'W2'], ['c2'], { pads: ints([1, 1, 1, 1]), group: int(6) }, 'nnport'),
        node('Add', ['a1', 'c2'], ['s']),
        node('Mul', ['s', 'k'], ['m']),
        node('Concat', ['s', 'm'], ['cat'], { axis: int(-1) }),
        node('GlobalAveragePool', ['cat'], ['gp'], {}, 'nnport'),
        node('Reshape', ['gp', 'shape'], ['y']),
      ],
      {
        pads: Tensor.int64([8], [0, 0, 1, 0, 0, 1, 2, 0]),
        W1: f32([3, 3, 3, 6]),
        B1: f32([6]),
        lo: Tensor.float32([], [0]),
        hi: Tensor.float32([], [6]),
        W2: f32([3, 3, 1, 6]),
        k: f32([6]),
        shape: Tensor.int64([2], [1, 12]),
      },
      [1, 9, 10, 3],
      ['y'],
      13,
    );
    const lowered = lowerForRun(g)!;
    expect(lowered.graph.nodes.filter((n) => n.opType === 'Transpose').length).toBe(1);
    expectSameRuns(g, f32([1, 9, 10, 3]));
  });

  it('what cannot be lowered exactly runs as it is: MaxPool Indices, a value nothing reads (for observers)', () => {
    const withIndices = graph([node('MaxPool', ['x'], ['y', 'i'], { kernel_shape: ints([2, 2]) }, 'nnport')], {}, [1, 4, 4, 3], ['y']);
    expect(lowerForRun(withIndices)).toBeUndefined();
    expect(runGraphSync(withIndices, { x: f32([1, 4, 4, 3]) }).outputs.get('y')!.shape).toEqual([1, 3, 3, 3]);

    const dead = graph(
      [node('Conv', ['x', 'W'], ['y'], {}, 'nnport'), node('AveragePool', ['x'], ['unused'], { kernel_shape: ints([2, 2]) }, 'nnport')],
      { W: f32([1, 1, 3, 2]) },
      [1, 4, 4, 3],
      ['y'],
    );
    const lowered = lowerForRun(dead)!;
    expect(lowered.complete).toBe(false);
    const x = f32([1, 4, 4, 3]);
    const seen = new Map<string, Tensor>();
    runGraphSync(dead, { x }, { onValue: (n, t) => seen.set(n, t) });
    expect(seen.get('unused')!.shape).toEqual([1, 3, 3, 3]);
    expect([...runGraphSync(dead, { x }).outputs.get('y')!.data]).toEqual([...runGraphSync(dead, { x }, { optimize: false }).outputs.get('y')!.data]);
  });
});
