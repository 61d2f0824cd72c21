// An int8 model with dynamic-sized tensors (a RESHAPE to a shape computed by SHAPE / SLICE /
// CONCATENATION from a feature map with two run-time dims) runs in the TFLite interpreter without
// its XNNPACK delegate, on the builtin kernels: its QUANTIZE divides in double (a float32 product
// or quotient can land on an exact .5 the double value is not on) and its FULLY_CONNECTED rounds
// its fixed point once. nnport's integer runtime under 'xnnpack' follows it there (requantization
// 'builtin' throughout) and keeps XNNPACK's rules for the same layers with a constant shape; on the
// first sample below XNNPACK's rules put 4 (per-tensor weights), 3 (per-channel) and 1 (the MUL, 3
// steps) outputs off. The writer keeps SHAPE's int32 dims unquantized (it once gave them the int8
// input's scale, and nnport's reader refused the CAST of them).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, integerRuntimeLsbOffEach, tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const ROWS = 256;
const C = 256;

const i64 = (v: number[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, domain: '', opType, inputs, outputs, attrs });

/** x [n, m, C] reshaped to [n, m, C] by a shape read from x at run time (or a constant [1, ROWS, C]), then a dense layer or x² */
function model(kind: 'dense' | 'square', runTime: boolean, random: () => number): Graph {
  const initializers = new Map<string, Tensor>([
    ['w', new Tensor('float32', [C, C], Float32Array.from({ length: C * C }, () => (random() * 2 - 1) * 0.1))],
    ['b', new Tensor('float32', [C], Float32Array.from({ length: C }, () => (random() * 2 - 1) * 0.1))],
    ['at0', i64([0])],
    ['at2', i64([2])],
    ['c', i64([C])],
    ['fixed', i64([1, ROWS, C])],
  ]);
  const shape = runTime
    ? [node('Shape', ['x'], ['s']), node('Slice', ['s', 'at0', 'at2'], ['nm']), node('Concat', ['nm', 'c'], ['shape'], { axis: { type: 'int', value: 0 } }), node('Reshape', ['x', 'shape'], ['x2'])]
    : [node('Reshape', ['x', 'fixed'], ['x2'])];
  const tail = kind === 'dense' ? [node('MatMul', ['x2', 'w'], ['mm']), node('Add', ['mm', 'b'], ['y'])] : [node('Mul', ['x2', 'x2'], ['y'])];
  return {
    name: kind,
    nodes: [...shape, ...tail],
    inputs: [{ name: 'x', dtype: 'float32', shape: runTime ? ['n', 'm', C] : [1, ROWS, C] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers,
    opsets: { '': 13 },
  };
}

interface FlatTensor {
  name: string;
  type?: string;
  quantization?: { scale?: number[] };
}

const cases = [
  { kind: 'dense', perChannelDense: false },
  { kind: 'dense', perChannelDense: true },
  { kind: 'square', perChannelDense: true },
] as const;

describe('int8 models with dynamic-sized tensors: the interpreter runs them on its builtin kernels', () => {
  for (const { kind, perChannelDense } of cases) {
    for (const runTime of [true, false]) {
      it(`${kind}${kind === 'dense' ? (perChannelDense ? ' per channel' : ' per tensor') : ''}, ${runTime ? 'run-time' : 'constant'} reshape: integer runtime ('xnnpack') 0 LSB`, { timeout: 300_000 }, async () => {
        const random = rng(3);
        const m = await loadModel(writeOnnx(model(kind, runTime, random)), { fileName: `${kind}.onnx` });
        const sample = () => new Tensor('float32', [1, ROWS, C], Float32Array.from({ length: ROWS * C }, () => random() * 2 - 1));
        const calibration = Array.from({ length: 4 }, () => [sample()]);
        const written = (await convert(m, `${kind}.tflite`, { quantize: { mode: 'int8', calibration, perChannelDense } })).bytes;
        const ops = tfliteOpNames(written, kind);
        expect(ops.includes('SHAPE')).toBe(runTime);
        // only int8 tensors carry quantization parameters: not SHAPE's dims nor what is computed from them
        const tensors = flatcJson<{ subgraphs: Array<{ tensors: FlatTensor[] }> }>(written, kind).subgraphs[0]!.tensors;
        expect(tensors.filter((t) => t.quantization?.scale && t.type !== 'INT8' && t.type !== 'INT32').map((t) => t.name)).toEqual([]);
        expect(tensors.filter((t) => t.quantization?.scale && t.type === 'INT32' && !/bias|^b_/.test(t.name)).map((t) => t.name)).toEqual([]);
        // the interpreter sizes the run-time dims from the stored shape (what ResizeInputTensor does)
        const file = runTime ? withStoredDim(written, 1, ROWS) : written;
        for (let k = 0; k < 2; k++) {
          const x = sample();
          const theirs = (await oracle.run(file, [x.toFloat32()], 1, 1))[0]!.data as Float32Array;
          expect(await integerRuntimeLsbOff(file, x, theirs, { requantization: 'xnnpack' })).toBe(0);
        }
      });
    }
  }
});

/**
 * x [1, 3, h, w] -> Conv 7x7 / 2 (3 -> 32, as ResNet's stem) -> y, and y -> depthwise 3x3 -> z; when `runTime`, z
 * reshaped to the shape SHAPE reads from it (what makes every tensor after it dynamic-sized), else to a constant.
 */
function convModel(runTime: boolean, random: () => number, size: number): Graph {
  const weights = (shape: number[], scale: number) => new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() * 2 - 1) * scale));
  const initializers = new Map<string, Tensor>([
    ['w', weights([32, 3, 7, 7], 0.2)],
    ['b', weights([32], 0.1)],
    ['dw', weights([32, 1, 3, 3], 0.5)],
    ['db', weights([32], 0.1)],
    ['fixed', i64([1, 32, size / 2, size / 2])],
  ]);
  const ints = (value: number[]) => ({ type: 'ints' as const, value });
  return {
    name: 'conv',
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['y'], { kernel_shape: ints([7, 7]), strides: ints([2, 2]), pads: ints([3, 3, 3, 3]) }),
      node('Conv', ['y', 'dw', 'db'], ['d'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: { type: 'int', value: 32 } }),
      ...(runTime ? [node('Shape', ['d'], ['s']), node('Reshape', ['d', 's'], ['z'])] : [node('Reshape', ['d', 'fixed'], ['z'])]),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: runTime ? [1, 3, 'h', 'w'] : [1, 3, size, size] }],
    outputs: [{ name: 'y', dtype: 'float32' }, { name: 'z', dtype: 'float32' }],
    initializers,
    opsets: { '': 13 },
  };
}

describe('int8 convolutions in a model with dynamic-sized tensors', () => {
  // the builtin CONV_2D requantizes through its GEMM (ruy), whose fixed point rounds once; the builtin
  // DEPTHWISE_CONV_2D rounds twice as TFLite's reference kernel (measured on torchvision's FCOS, whose
  // post-processing makes it dynamic: under the reference rule its 7x7 stem put 862 of 1,048,576 outputs one step off)
  for (const runTime of [true, false]) {
    it(`conv 7x7 / 2 and depthwise 3x3, ${runTime ? 'run-time' : 'constant'} reshape: integer runtime ('xnnpack') 0 LSB on both outputs`, { timeout: 300_000 }, async () => {
      const random = rng(5);
      const size = 128;
      const m = await loadModel(writeOnnx(convModel(runTime, random, size)), { fileName: 'conv.onnx' });
      const sample = () => new Tensor('float32', [1, size, size, 3], Float32Array.from({ length: size * size * 3 }, () => random() * 2 - 1));
      const calibration = Array.from({ length: 4 }, () => [sample()]);
      const written = (await convert(m, 'conv.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
      const ops = tfliteOpNames(written, 'conv');
      expect(ops.includes('SHAPE')).toBe(runTime);
      expect(ops).toEqual(expect.arrayContaining(['CONV_2D', 'DEPTHWISE_CONV_2D']));
      const file = runTime ? withStoredDim(withStoredDim(written, 1, size), 2, size) : written;
      for (let k = 0; k < 2; k++) {
        const x = sample();
        const theirs = (await oracle.run(file, [x.toFloat32()], 1, 1)).map((o) => o.data as Float32Array);
        expect(await integerRuntimeLsbOffEach(file, x, theirs, { requantization: 'xnnpack' })).toEqual([0, 0]);
      }
    });
  }
});
