// A GroupNorm in a full-int8 model stays float in the .tflite (DEQUANTIZE, MEAN, SUB, SQUARE, MEAN,
// ADD, RSQRT, MUL, MUL, ADD, QUANTIZE: ops-more-write.ts instanceNorm), and its int8 output hangs on
// float32 details: the interpreter's MEAN sums in float32 in input order, where nnport's float
// runtime sums in double. nnport's integer runtime sums float SUM / MEAN as the interpreter does
// (integer/ops.ts); on torchvision's FCOS the double sum had put 20 of 262,144 outputs of its first
// GroupNorm one step off, and its detections differed. Here: conv -> GroupNorm (as PyTorch exports
// it: Reshape to [1, G, -1], InstanceNormalization, Reshape back, Mul, Add) -> ReLU, with a run-time
// reshape after it (dynamic tensors: the interpreter's builtin kernels) and without (XNNPACK).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { integerRuntimeLsbOff, tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const C = 64;
const G = 8;
const SIZE = 64;

const i64 = (v: number[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, domain: '', opType, inputs, outputs, attrs });

function model(runTime: boolean, random: () => number, groups = true): Graph {
  const values = (shape: number[], f: () => number) => new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f));
  const ints = (value: number[]) => ({ type: 'ints' as const, value });
  const initializers = new Map<string, Tensor>([
    ['w', values([C, 3, 3, 3], () => (random() * 2 - 1) * 0.3)],
    // biases well away from 0: the group means dwarf their spread, as after a real conv
    ['b', values([C], () => 2 + random())],
    ['groups', i64([1, G, -1])],
    ['ones', values([groups ? G : C], () => 1)],
    ['zeros', values([groups ? G : C], () => 0)],
    ['gamma', values([C, 1, 1], () => 0.5 + random())],
    ['beta', values([C, 1, 1], () => random() - 0.5)],
    ['fixed', i64([1, C, SIZE, SIZE])],
  ]);
  return {
    name: 'group-norm',
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
      node('Reshape', ['c', groups ? 'groups' : 'fixed'], ['g']),
      node('InstanceNormalization', ['g', 'ones', 'zeros'], ['n'], { epsilon: { type: 'float', value: 1e-5 } }),
      node('Shape', ['c'], ['cs']),
      node('Reshape', ['n', 'cs'], ['n4']),
      node('Mul', ['n4', 'gamma'], ['m']),
      node('Add', ['m', 'beta'], ['a']),
      node('Relu', ['a'], ['r']),
      ...(runTime ? [node('Shape', ['r'], ['s']), node('Reshape', ['r', 's'], ['y'])] : [node('Reshape', ['r', 'fixed'], ['y'])]),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: runTime ? [1, 3, 'h', 'w'] : [1, 3, SIZE, SIZE] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers,
    opsets: { '': 13 },
  };
}

describe("a float GroupNorm inside a full-int8 model: nnport's integer runtime sums as the interpreter", () => {
  for (const [runTime, groups] of [[true, true], [false, true], [false, false]] as const) {
    it(`${groups ? 'GroupNorm' : 'InstanceNorm'}, ${runTime ? 'run-time reshape (builtin kernels)' : 'constant shapes (XNNPACK)'}: 0 LSB`, { timeout: 300_000 }, async () => {
      const random = rng(11);
      const m = await loadModel(writeOnnx(model(runTime, random, groups)), { fileName: 'group-norm.onnx' });
      const sample = () => new Tensor('float32', [1, SIZE, SIZE, 3], Float32Array.from({ length: SIZE * SIZE * 3 }, () => random() * 2 - 1));
      const calibration = Array.from({ length: 4 }, () => [sample()]);
      const written = (await convert(m, 'group-norm.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
      const ops = tfliteOpNames(written, 'group-norm');
      expect(ops).toEqual(expect.arrayContaining(['CONV_2D', 'MEAN', 'RSQRT', 'QUANTIZE']));
      const file = runTime ? withStoredDim(withStoredDim(written, 1, SIZE), 2, SIZE) : written;
      for (let k = 0; k < 3; k++) {
        const x = sample();
        const theirs = (await oracle.run(file, [x.toFloat32()], 1, 1))[0]!.data as Float32Array;
        expect(await integerRuntimeLsbOff(file, x, theirs, { requantization: 'xnnpack' })).toBe(0);
      }
    });
  }
});
