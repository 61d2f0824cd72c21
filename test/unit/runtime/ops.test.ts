// Non-conv ops on hand-computed (numpy-checked) values: opset differences, integer
// semantics, edge cases the ONNX backend tests do not reach, and the errors.
import { describe, expect, test } from 'vitest';
import { ShapeError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { attr, f32, i64, runNode, vals } from './run-node.js';

describe('broadcasting binary ops', () => {
  test('float32 per-channel add', () => {
    const x = f32([1, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const b = f32([2, 1, 1], [10, 20]);
    const [y] = runNode('Add', [x, b]);
    expect(y!.shape).toEqual([1, 2, 2, 2]);
    expect(vals(y!)).toEqual([11, 12, 13, 14, 25, 26, 27, 28]);
  });

  test('int64 Div truncates toward zero, Mod follows the divisor sign (fmod=0) or dividend (fmod=1)', () => {
    const a = i64([4], [7, -7, 7, -7]);
    const b = i64([4], [2, 2, -2, -2]);
    expect(runNode('Div', [a, b])[0]!.data).toEqual(new BigInt64Array([3n, -3n, -3n, 3n]));
    expect(runNode('Mod', [a, b])[0]!.data).toEqual(new BigInt64Array([1n, 1n, -1n, -1n]));
    expect(runNode('Mod', [a, b], { fmod: attr.i(1) })[0]!.data).toEqual(new BigInt64Array([1n, -1n, 1n, -1n]));
  });

  test('int32 Div truncates, Mul wraps like C', () => {
    const a = new Tensor('int32', [3], new Int32Array([-7, 2147483647, 9]));
    const b = new Tensor('int32', [3], new Int32Array([2, 2, -4]));
    expect([...(runNode('Div', [a, b])[0]!.data as Int32Array)]).toEqual([-3, 1073741823, -2]);
    expect([...(runNode('Mul', [a, b])[0]!.data as Int32Array)]).toEqual([-14, -2, -36]);
  });

  test('int64 arithmetic stays exact beyond 2^53', () => {
    const a = i64([1], [0]);
    (a.data as BigInt64Array)[0] = 2n ** 60n + 1n;
    expect((runNode('Add', [a, i64([], [1])])[0]!.data as BigInt64Array)[0]).toBe(2n ** 60n + 2n);
  });

  test('variadic Max/Min/Sum/Mean broadcast over all inputs', () => {
    const a = f32([3], [1, 5, 3]);
    const b = f32([1], [2]);
    const c = f32([2, 1], [0, 4]);
    expect(vals(runNode('Max', [a, b, c])[0]!)).toEqual([2, 5, 3, 4, 5, 4]);
    expect(vals(runNode('Min', [a])[0]!)).toEqual([1, 5, 3]);
    expect(vals(runNode('Sum', [a, b])[0]!)).toEqual([3, 7, 5]);
    expect(vals(runNode('Mean', [a, b])[0]!)).toEqual([1.5, 3.5, 2.5]);
  });

  test('comparisons give bool; Where picks by condition with broadcasting', () => {
    const a = i64([3], [1, 2, 3]);
    const eq = runNode('Equal', [a, i64([], [2])])[0]!;
    expect(eq.dtype).toBe('bool');
    expect([...(eq.data as Uint8Array)]).toEqual([0, 1, 0]);
    const w = runNode('Where', [eq, f32([1], [10]), f32([2, 1], [0, -1])])[0]!;
    expect(w.shape).toEqual([2, 3]);
    expect(vals(w)).toEqual([0, 10, 0, -1, 10, -1]);
  });

  test('incompatible shapes are a ShapeError naming them', () => {
    expect(() => runNode('Add', [f32([2, 3], [0, 0, 0, 0, 0, 0]), f32([2], [0, 0])])).toThrow(/\[2, 3\] and \[2\] cannot be broadcast/);
    expect(() => runNode('Add', [f32([1], [0]), i64([1], [0])])).toThrow(ShapeError);
  });

  test('zero-size broadcast', () => {
    const [y] = runNode('Mul', [f32([0, 3], []), f32([3], [1, 2, 3])]);
    expect(y!.shape).toEqual([0, 3]);
  });

  test('legacy (opset 6) broadcast aligns B at axis', () => {
    const x = f32([2, 3, 2], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const [y] = runNode('Add', [x, f32([3], [1, 2, 3])], { broadcast: attr.i(1), axis: attr.i(1) }, 6);
    expect(vals(y!)).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
  });

  test('PRelu with per-channel slope; Pow keeps the base dtype', () => {
    const [y] = runNode('PRelu', [f32([1, 2, 2], [-1, 2, -3, 4]), f32([2, 1], [0.5, 0.25])]);
    expect(vals(y!)).toEqual([-0.5, 2, -0.75, 4]);
    const p = runNode('Pow', [i64([3], [2, 3, 4]), f32([1], [2])])[0]!;
    expect(p.dtype).toBe('int64');
    expect(vals(p)).toEqual([4, 9, 16]);
  });
});

describe('unary ops and activations', () => {
  const x = f32([6], [-2, -0.5, 0, 0.5, 2, 7]);
  test.each([
    ['Relu', {}, [0, 0, 0, 0.5, 2, 7]],
    ['LeakyRelu', { alpha: attr.f(0.1) }, [-0.2, -0.05, 0, 0.5, 2, 7]],
    ['HardSigmoid', {}, [0.1, 0.4, 0.5, 0.6, 0.9, 1]],
    ['HardSwish', {}, [-2 * (1 / 6), -0.5 * (2.5 / 6), 0, 0.5 * (3.5 / 6), 2 * (5 / 6), 7]],
    ['Neg', {}, [2, 0.5, -0, -0.5, -2, -7]],
    ['Abs', {}, [2, 0.5, 0, 0.5, 2, 7]],
    ['Sigmoid', {}, [-2, -0.5, 0, 0.5, 2, 7].map((v) => 1 / (1 + Math.exp(-v)))],
    ['Elu', {}, [-2, -0.5, 0, 0.5, 2, 7].map((v) => (v < 0 ? Math.exp(v) - 1 : v))],
    ['Softplus', {}, [-2, -0.5, 0, 0.5, 2, 7].map((v) => Math.log(1 + Math.exp(v)))],
    ['Erf', {}, [-0.9953222650189527, -0.5204998778130465, 0, 0.5204998778130465, 0.9953222650189527, 1]],
  ] as const)('%s', (op, attrs, want) => {
    const got = vals(runNode(op, [x], attrs)[0]!);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });

  test('Clip: attributes before opset 11, inputs after; ints and int64 too', () => {
    expect(vals(runNode('Clip', [x], { min: attr.f(-1), max: attr.f(1) }, 6)[0]!)).toEqual([-1, -0.5, 0, 0.5, 1, 1]);
    expect(vals(runNode('Clip', [x, f32([], [0]), undefined], {}, 13)[0]!)).toEqual([0, 0, 0, 0.5, 2, 7]);
    expect(vals(runNode('Clip', [i64([3], [-5, 0, 5]), i64([], [-1]), i64([], [1])])[0]!)).toEqual([-1, 0, 1]);
  });

  test('float16 goes through float32 and comes back as float16', () => {
    const h = new Tensor('float16', [2], new Uint16Array([0xbc00, 0x4000])); // -1, 2
    const [y] = runNode('Relu', [h]);
    expect(y!.dtype).toBe('float16');
    expect(vals(y!)).toEqual([0, 2]);
  });

  test('float-only ops reject integers with a ShapeError', () => {
    expect(() => runNode('Sigmoid', [i64([1], [1])])).toThrow(/Sigmoid does not accept int64/);
  });
});

describe('Softmax family', () => {
  const x = f32([2, 3], [1, 2, 3, 1, 1, 1]);
  test('opset 13 normalises one axis; opset 11 flattens at axis', () => {
    const e = [1, 2, 3].map(Math.exp);
    const s = e[0]! + e[1]! + e[2]!;
    const y13 = vals(runNode('Softmax', [x], {}, 13)[0]!);
    [...e.map((v) => v / s), 1 / 3, 1 / 3, 1 / 3].forEach((v, i) => expect(y13[i]).toBeCloseTo(v, 6));
    // axis=0 at opset 11: one row of all 6 values
    const y11 = vals(runNode('Softmax', [x], { axis: attr.i(0) }, 11)[0]!);
    const all = [1, 2, 3, 1, 1, 1].map(Math.exp);
    const t = all.reduce((a, b) => a + b);
    all.forEach((v, i) => expect(y11[i]).toBeCloseTo(v / t, 6));
    // axis=0 at opset 13: per column
    const c = vals(runNode('Softmax', [x], { axis: attr.i(0) }, 13)[0]!);
    expect(c[0]! + c[3]!).toBeCloseTo(1, 6);
  });

  test('LogSoftmax on a non-last axis', () => {
    const y = vals(runNode('LogSoftmax', [f32([2, 2], [0, 1, 0, 1])], { axis: attr.i(0) }, 13)[0]!);
    y.forEach((v) => expect(v).toBeCloseTo(Math.log(0.5), 6));
  });
});

describe('BatchNormalization', () => {
  test('inference affine per channel', () => {
    const x = f32([1, 2, 1, 2], [1, 2, 3, 4]);
    const [y] = runNode('BatchNormalization', [x, f32([2], [1, 2]), f32([2], [0, 1]), f32([2], [1, 3]), f32([2], [4, 1])], { epsilon: attr.f(0) });
    expect(vals(y!)).toEqual([0, 0.5, 1, 3]);
  });
  test('training before opset 14, and running statistics outputs without training_mode, are unsupported, by name', () => {
    // opset 14+ training_mode=1 runs: test/unit/runtime/batchnorm-training.test.ts
    const p = f32([1], [1]);
    expect(() => runNode('BatchNormalization', [f32([1, 1], [1]), p, p, p, p], { training_mode: attr.i(1) }, 12)).toThrow(/BatchNormalization training_mode/);
    expect(() => runNode('BatchNormalization', [f32([1, 1], [1]), p, p, p, p], {}, 15, 3)).toThrow(UnsupportedError);
  });
});

describe('shape ops', () => {
  const x = f32([2, 3, 4], Array.from({ length: 24 }, (_, i) => i));
  test('Reshape with 0, -1 and allowzero', () => {
    expect(runNode('Reshape', [x, i64([2], [0, -1])])[0]!.shape).toEqual([2, 12]);
    expect(runNode('Reshape', [f32([0, 3], []), i64([2], [3, 0])], { allowzero: attr.i(1) })[0]!.shape).toEqual([3, 0]);
    expect(() => runNode('Reshape', [x, i64([2], [5, -1])])).toThrow(/cannot infer -1/);
  });

  test('Squeeze/Unsqueeze: attributes before 13, inputs from 13', () => {
    const t = f32([1, 3, 1], [1, 2, 3]);
    expect(runNode('Squeeze', [t], { axes: attr.is([0]) }, 11)[0]!.shape).toEqual([3, 1]);
    expect(runNode('Squeeze', [t, i64([1], [-1])], {}, 13)[0]!.shape).toEqual([1, 3]);
    expect(runNode('Squeeze', [t], {}, 13)[0]!.shape).toEqual([3]);
    expect(runNode('Unsqueeze', [t], { axes: attr.is([0, 4]) }, 11)[0]!.shape).toEqual([1, 1, 3, 1, 1]);
    expect(runNode('Unsqueeze', [t, i64([1], [-1])], {}, 13)[0]!.shape).toEqual([1, 3, 1, 1]);
    expect(() => runNode('Squeeze', [t, i64([1], [1])], {}, 13)).toThrow(/dim 1 of \[1, 3, 1\] is not 1/);
  });

  test('Transpose (default reverses) and Flatten', () => {
    const [t] = runNode('Transpose', [x], { perm: attr.is([2, 0, 1]) });
    expect(t!.shape).toEqual([4, 2, 3]);
    expect(vals(t!).slice(0, 7)).toEqual([0, 4, 8, 12, 16, 20, 1]);
    expect(runNode('Transpose', [x])[0]!.shape).toEqual([4, 3, 2]);
    expect(runNode('Flatten', [x], { axis: attr.i(-1) })[0]!.shape).toEqual([6, 4]);
    expect(runNode('Flatten', [x], { axis: attr.i(0) })[0]!.shape).toEqual([1, 24]);
  });

  test('Slice: negative steps, clamped ends, axes', () => {
    const v = f32([5], [0, 1, 2, 3, 4]);
    expect(vals(runNode('Slice', [v, i64([1], [-1]), i64([1], [-1000]), i64([1], [0]), i64([1], [-2])])[0]!)).toEqual([4, 2, 0]);
    expect(vals(runNode('Slice', [v, i64([1], [1]), i64([1], [1000])])[0]!)).toEqual([1, 2, 3, 4]);
    expect(vals(runNode('Slice', [v], { starts: attr.is([-2]), ends: attr.is([5]) }, 9)[0]!)).toEqual([3, 4]);
    const s = runNode('Slice', [x, i64([1], [1]), i64([1], [3]), i64([1], [-1])])[0]!;
    expect(s.shape).toEqual([2, 3, 2]);
    expect(vals(s).slice(0, 4)).toEqual([1, 2, 5, 6]);
  });

  test('Concat and Split (attribute vs input sizes, equal split)', () => {
    const a = i64([1, 2], [1, 2]);
    const b = i64([2, 2], [3, 4, 5, 6]);
    expect(vals(runNode('Concat', [a, b], { axis: attr.i(0) })[0]!)).toEqual([1, 2, 3, 4, 5, 6]);
    const [p, q] = runNode('Split', [x], { axis: attr.i(2), split: attr.is([1, 3]) }, 11, 2);
    expect([p!.shape, q!.shape]).toEqual([[2, 3, 1], [2, 3, 3]]);
    const [r, s] = runNode('Split', [x, i64([2], [2, 2])], { axis: attr.i(-1) }, 13, 2);
    expect(vals(r!).slice(0, 4)).toEqual([0, 1, 4, 5]);
    expect(vals(s!).slice(0, 2)).toEqual([2, 3]);
    expect(runNode('Split', [x], { axis: attr.i(1) }, 13, 3).map((t) => t.shape)).toEqual([[2, 1, 4], [2, 1, 4], [2, 1, 4]]);
  });

  test('Gather with negative indices on any axis', () => {
    const [g] = runNode('Gather', [x, i64([2], [-1, 0])], { axis: attr.i(1) });
    expect(g!.shape).toEqual([2, 2, 4]);
    expect(vals(g!).slice(0, 8)).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect(() => runNode('Gather', [x, i64([1], [3])], { axis: attr.i(1) })).toThrow(/index 3 out of range/);
  });

  test('Shape with start/end, ConstantOfShape, Expand, Range, Tile', () => {
    expect(vals(runNode('Shape', [x], { start: attr.i(-2) }, 15)[0]!)).toEqual([3, 4]);
    const c = runNode('ConstantOfShape', [i64([2], [2, 1])], { value: attr.t(i64([1], [7])) })[0]!;
    expect([c.dtype, vals(c)]).toEqual(['int64', [7, 7]]);
    expect(runNode('Expand', [f32([3, 1], [1, 2, 3]), i64([3], [2, 1, 4])])[0]!.shape).toEqual([2, 3, 4]);
    expect(vals(runNode('Range', [i64([], [10]), i64([], [4]), i64([], [-3])])[0]!)).toEqual([10, 7]);
    expect(vals(runNode('Tile', [i64([2], [1, 2]), i64([1], [2])])[0]!)).toEqual([1, 2, 1, 2]);
  });

  test('Dropout is the identity in inference, with an all-true mask', () => {
    const [y, m] = runNode('Dropout', [x], {}, 13, 2);
    expect(y).toBe(x);
    expect(m!.dtype).toBe('bool');
    expect([...(m!.data as Uint8Array)].every((v) => v === 1)).toBe(true);
  });

  test('a PyTorch-style shape subgraph on int64: Shape -> Gather -> Unsqueeze -> Concat -> Reshape', () => {
    const graph: Graph = {
      name: 'flatten-by-shape',
      nodes: [
        { name: 's', opType: 'Shape', domain: '', inputs: ['x'], outputs: ['shape'], attrs: {} },
        { name: 'g', opType: 'Gather', domain: '', inputs: ['shape', 'zero'], outputs: ['n'], attrs: { axis: attr.i(0) } },
        { name: 'u', opType: 'Unsqueeze', domain: '', inputs: ['n', 'axes0'], outputs: ['n1'], attrs: {} },
        { name: 'c', opType: 'Concat', domain: '', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: attr.i(0) } },
        { name: 'r', opType: 'Reshape', domain: '', inputs: ['x', 'target'], outputs: ['y'], attrs: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 4] }],
      outputs: [{ name: 'y', dtype: 'float32' }],
      initializers: new Map([
        ['zero', i64([], [0])],
        ['axes0', i64([1], [0])],
        ['minus1', i64([1], [-1])],
      ]),
      opsets: { '': 13 },
    };
    const { outputs } = runGraphSync(graph, { x });
    expect(outputs.get('y')!.shape).toEqual([2, 12]);
  });
});

describe('Pad', () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  test('constant (opset 2 attributes) and reflect/edge (opset 11 inputs), negative pads crop', () => {
    expect(vals(runNode('Pad', [x], { pads: attr.is([0, 1, 0, 0]), value: attr.f(9) }, 2)[0]!)).toEqual([9, 1, 2, 3, 9, 4, 5, 6]);
    expect(vals(runNode('Pad', [x, i64([4], [0, 2, 0, 1])], { mode: attr.s('reflect') }, 11)[0]!)).toEqual([3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]);
    expect(vals(runNode('Pad', [x, i64([4], [1, 0, 0, 0])], { mode: attr.s('edge') }, 11)[0]!)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6]);
    expect(vals(runNode('Pad', [x, i64([4], [0, -1, 0, 0])], {}, 11)[0]!)).toEqual([2, 3, 5, 6]);
    expect(vals(runNode('Pad', [x, i64([2], [1, 0]), f32([], [7]), i64([1], [1])], {}, 18)[0]!)).toEqual([7, 1, 2, 3, 7, 4, 5, 6]);
  });
});

describe('reductions', () => {
  const x = f32([2, 2], [1, 2, 3, 4]);
  test('axes attribute (ReduceMean-13) vs input (ReduceSum-13), keepdims, noop_with_empty_axes', () => {
    const m = runNode('ReduceMean', [x], { axes: attr.is([1]), keepdims: attr.i(0) }, 13)[0]!;
    expect([m.shape, vals(m)]).toEqual([[2], [1.5, 3.5]]);
    const s = runNode('ReduceSum', [x, i64([1], [0])], {}, 13)[0]!;
    expect([s.shape, vals(s)]).toEqual([[1, 2], [4, 6]]);
    expect(vals(runNode('ReduceSum', [x], {}, 13)[0]!)).toEqual([10]);
    expect(runNode('ReduceSum', [x, i64([0], [])], { noop_with_empty_axes: attr.i(1) }, 13)[0]!).toBe(x);
    expect(vals(runNode('ReduceMax', [x, i64([1], [-1])], {}, 18)[0]!)).toEqual([2, 4]);
  });
  test('int64 sums stay int64', () => {
    const s = runNode('ReduceSum', [i64([3], [1, 2, 3]), i64([1], [0])], { keepdims: attr.i(0) }, 13)[0]!;
    expect([s.dtype, s.shape, vals(s)]).toEqual(['int64', [], [6]]);
  });
});

describe('Resize and Upsample', () => {
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
  test('nearest upsample by scales (opset 13) and Upsample-7', () => {
    const want = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
    expect(vals(runNode('Resize', [x, undefined, f32([4], [1, 1, 2, 2])], {}, 13)[0]!)).toEqual(want);
    expect(vals(runNode('Upsample', [x], { scales: attr.fs([1, 1, 2, 2]) }, 7)[0]!)).toEqual(want);
  });
  test('linear align_corners by sizes', () => {
    const y = runNode('Resize', [x, undefined, undefined, i64([4], [1, 1, 3, 3])], { mode: attr.s('linear'), coordinate_transformation_mode: attr.s('align_corners') }, 13)[0]!;
    expect(vals(y)).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  });
  test('tf_crop_and_resize crops by roi and fills outside taps with extrapolation_value', () => {
    const a = { mode: attr.s('linear'), coordinate_transformation_mode: attr.s('tf_crop_and_resize'), extrapolation_value: attr.f(9) };
    // W is cropped to [0.5, 1.5] of the input: sources 0.5, 1 and 1.5 (past the last pixel)
    const y = runNode('Resize', [x, f32([8], [0, 0, 0, 0.5, 1, 1, 1, 1.5]), undefined, i64([4], [1, 1, 3, 3])], a, 13)[0]!;
    expect(vals(y)).toEqual([1.5, 2, 9, 2.5, 3, 9, 3.5, 4, 9]);
    const n = runNode('Resize', [x, f32([8], [0, 0, 0, 0.5, 1, 1, 1, 1.5]), undefined, i64([4], [1, 1, 3, 3])], { ...a, mode: attr.s('nearest') }, 13)[0]!;
    expect(vals(n)).toEqual([1, 2, 9, 1, 2, 9, 3, 4, 9]);
    expect(() => runNode('Resize', [x, undefined, f32([4], [1, 1, 2, 2])], a, 13)).toThrow(ShapeError);
  });
});

describe('Cast', () => {
  test('float -> int truncates, -> bool is non-zero, -> float16 and back, int64 <-> string', () => {
    const x = f32([4], [-1.7, 0, 2.9, 0.5]);
    expect(vals(runNode('Cast', [x], { to: attr.i(6) })[0]!)).toEqual([-1, 0, 2, 0]);
    expect(vals(runNode('Cast', [x], { to: attr.i(9) })[0]!)).toEqual([1, 0, 1, 1]);
    const h = runNode('Cast', [x], { to: attr.i(10) })[0]!;
    expect(h.dtype).toBe('float16');
    expect(vals(runNode('Cast', [h], { to: attr.i(1) })[0]!)).toEqual([-1.7001953125, 0, 2.900390625, 0.5]);
    expect(runNode('Cast', [i64([2], [12, -3])], { to: attr.i(8) })[0]!.data).toEqual(['12', '-3']);
    expect(vals(runNode('Cast', [new Tensor('string', [2], ['1.5', '-INF'])], { to: attr.i(1) })[0]!)).toEqual([1.5, -Infinity]);
  });
});
