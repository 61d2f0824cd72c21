// An Inception-style block quantized to int8 (Conv -> Relu beside a MaxPool of the block's input,
// concatenated; the concatenation, which a 1x1 conv reads, is also a graph output, as a model
// returning a feature map beside its head does) and run by the real TFLite interpreter: the file initializes (a quantized output
// read inside the graph too used to leave its readers on the float DEQUANTIZE output, a CONV_2D of
// float input and int8 weights the interpreter refuses), it is within int8 error of the float file,
// and nnport's integer runtime with XNNPACK's requantization gives the interpreter's int8 outputs
// exactly: the MaxPool branch reaches the concatenation through an int8 -> int8 QUANTIZE, which
// XNNPACK computes with the scale ratio rounded to 1/256 (it was 1 LSB off the interpreter on 17 %
// of those elements; inception_v3 was 4-7 LSB off at its output, now 0). A DenseNet-style block
// (the pooled features read by the next conv and concatenated with its output) requantizes a value
// whose DEQUANTIZE has other readers: the runtime took that QUANTIZE for a float one (1 LSB off on 9 %
// of the concatenation; torchvision densenet121 2 LSB at its output, now 0).
// The corpus Caffe LeNet (batch 64) likewise: the interpreter runs its int8 FULLY_CONNECTEDs through
// XNNPACK too (float32 requantization); nnport's runtime used TFLite's fixed-point multipliers for
// them, 1 LSB off on ~0.1 % of ip1's outputs, which the Softmax made 2-7 LSB of its probabilities.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel, loadModelFiles } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { integerRuntimeLsbOff, integerRuntimeLsbOffEach, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const random = rng(11);
const normal = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (random() + random() + random() - 1.5) * scale);
const ints = (value: number[]) => ({ type: 'ints' as const, value });

function blockModel(): Graph {
  return {
    name: 'inception_block',
    nodes: [
      { name: 'conv', domain: '', opType: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c'], attrs: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) } },
      { name: 'relu', domain: '', opType: 'Relu', inputs: ['c'], outputs: ['features'], attrs: {} },
      { name: 'pool', domain: '', opType: 'MaxPool', inputs: ['x'], outputs: ['p'], attrs: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) } },
      { name: 'cat', domain: '', opType: 'Concat', inputs: ['features', 'p'], outputs: ['cat'], attrs: { axis: { type: 'int', value: 1 } } },
      { name: 'head', domain: '', opType: 'Conv', inputs: ['cat', 'w2', 'b2'], outputs: ['y'], attrs: { kernel_shape: ints([1, 1]) } },
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8, 12, 12] }],
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'cat', dtype: 'float32' },
    ],
    initializers: new Map([
      ['w1', new Tensor('float32', [16, 8, 3, 3], normal(16 * 8 * 9, 0.3))],
      ['b1', new Tensor('float32', [16], normal(16, 0.5))],
      ['w2', new Tensor('float32', [8, 24, 1, 1], normal(8 * 24, 0.4))],
      ['b2', new Tensor('float32', [8], normal(8, 0.2))],
    ]),
    opsets: { '': 13 },
  };
}

/** DenseNet's layer: pooled features p read by a 1x1 conv -> Relu, and concatenated with its output (requantized to the concat's range), then a head. */
function denseModel(): Graph {
  return {
    name: 'dense_block',
    nodes: [
      { name: 'pool', domain: '', opType: 'MaxPool', inputs: ['x'], outputs: ['p'], attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) } },
      { name: 'conv', domain: '', opType: 'Conv', inputs: ['p', 'w1', 'b1'], outputs: ['c'], attrs: { kernel_shape: ints([1, 1]) } },
      { name: 'relu', domain: '', opType: 'Relu', inputs: ['c'], outputs: ['f'], attrs: {} },
      { name: 'cat', domain: '', opType: 'Concat', inputs: ['p', 'f'], outputs: ['cat'], attrs: { axis: { type: 'int', value: 1 } } },
      { name: 'head', domain: '', opType: 'Conv', inputs: ['cat', 'w2', 'b2'], outputs: ['y'], attrs: { kernel_shape: ints([1, 1]) } },
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8, 16, 16] }],
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'cat', dtype: 'float32' },
    ],
    initializers: new Map([
      ['w1', new Tensor('float32', [12, 8, 1, 1], normal(12 * 8, 1.5))],
      ['b1', new Tensor('float32', [12], normal(12, 0.5))],
      ['w2', new Tensor('float32', [6, 20, 1, 1], normal(6 * 20, 0.4))],
      ['b2', new Tensor('float32', [6], normal(6, 0.2))],
    ]),
    opsets: { '': 13 },
  };
}

describe('int8 DenseNet-style block in the interpreter', () => {
  it('a requantized value whose DEQUANTIZE other ops read too: the integer runtime (XNNPACK requantization) equals the interpreter', { timeout: 300_000 }, async () => {
    const model = await loadModel(writeOnnx(denseModel()), { fileName: 'dense.onnx' });
    const sample = () => new Tensor('float32', [1, 16, 16, 8], Float32Array.from({ length: 16 * 16 * 8 }, () => random()));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const float = (await convert(model, 'dense.tflite')).bytes;
    const q8 = (await convert(model, 'dense.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
    for (let k = 0; k < 3; k++) {
      const x = sample();
      const want = await oracle.run(float, [x.toFloat32()]);
      const got = await oracle.run(q8, [x.toFloat32()]);
      const snr = want.map((w, i) => pooledSnrDb([w.data as Float32Array], [got[i]!.data as Float32Array]));
      const off = await integerRuntimeLsbOffEach(q8, x, got.map((t) => t.data as Float32Array), { requantization: 'xnnpack' });
      console.log(`sample ${k}: int8 vs float y ${snr[0]!.toFixed(1)} dB, concatenation ${snr[1]!.toFixed(1)} dB; integer runtime ${off.join(' / ')} LSB off the interpreter`);
      expect(Math.min(...snr)).toBeGreaterThan(25);
      expect(off).toEqual([0, 0]);
    }
  });
});

describe('int8 Inception-style block in the interpreter', () => {
  it('initializes with a quantized output read inside the graph; the integer runtime (XNNPACK requantization) equals the interpreter', { timeout: 300_000 }, async () => {
    const model = await loadModel(writeOnnx(blockModel()), { fileName: 'block.onnx' });
    // NHWC samples; the block's input is scaled well past the Relu's range, so the MaxPool branch needs requantizing
    const sample = () => new Tensor('float32', [1, 12, 12, 8], normal(12 * 12 * 8, 3));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const float = (await convert(model, 'block.tflite')).bytes;
    const q8 = (await convert(model, 'block.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
    for (let k = 0; k < 3; k++) {
      const x = sample();
      const want = await oracle.run(float, [x.toFloat32()]);
      const got = await oracle.run(q8, [x.toFloat32()]);
      const snr = want.map((w, i) => pooledSnrDb([w.data as Float32Array], [got[i]!.data as Float32Array]));
      const lsb = await integerRuntimeLsbOff(q8, x, got[0]!.data as Float32Array, { requantization: 'xnnpack' });
      console.log(`sample ${k}: int8 vs float y ${snr[0]!.toFixed(1)} dB, concatenation ${snr[1]!.toFixed(1)} dB; integer runtime ${lsb} LSB off the interpreter`);
      expect(Math.min(...snr)).toBeGreaterThan(25);
      expect(lsb).toBe(0);
    }
  });
});

describe('int8 Caffe LeNet (batch 64) in the interpreter', () => {
  it("the integer runtime (XNNPACK requantization) gives the interpreter's int8 values at every layer, FULLY_CONNECTED included", { timeout: 300_000 }, async () => {
    const model = await loadModelFiles([corpusPath('caffe/lenet-mnist')]);
    if (!('graph' in model)) throw new Error('the corpus LeNet loads as weights only');
    // the layers as graph outputs too: conv1, pool2, ip1 (+ relu1), ip2, beside prob
    for (const name of ['conv1', 'pool2', 'relu1', 'ip2']) model.graph.outputs.push({ name, dtype: 'float32' });
    const shape = [64, 28, 28, 1];
    const sample = () => new Tensor('float32', shape, Float32Array.from({ length: 64 * 28 * 28 }, () => random()));
    const calibration = Array.from({ length: 16 }, () => [sample()]);
    const q8 = (await convert(model, 'lenet.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
    const back = await readTflite(q8);
    for (let k = 0; k < 2; k++) {
      const x = sample();
      const theirs = await oracle.run(q8, [x.toFloat32()]);
      const off = (await integerRuntimeLsbOffEach(q8, x, theirs.map((t) => t.data as Float32Array), { requantization: 'xnnpack' })).map((worst, j) => `${back.outputs[j]!.name} ${worst}`);
      console.log(`sample ${k}: LSB off the interpreter: ${off.join(', ')}`);
      expect(off).toEqual(back.outputs.map((o) => `${o.name} 0`));
    }
  });
});
