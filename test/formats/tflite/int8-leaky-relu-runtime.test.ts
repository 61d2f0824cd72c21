// int8 LEAKY_RELU in nnport's integer runtime against the real TFLite interpreter. The interpreter
// runs it through XNNPACK (each side's float32 scale rounded to a multiplier in 1/256 steps, one
// shift by 8 with rounding half up) where the delegate's limits on the scales admit it, and on
// TFLite's kernel (fixed-point multipliers) where they do not (|s_x·alpha/s_y| < 2^-8). Before, the
// runtime ran 8-bit LeakyRelu as dequantize / float / quantize: 1 LSB off the interpreter on 4 of the
// ONNX backend's 5 int8 LeakyRelu cases; TFLite's fixed point alone also 4 of 5; XNNPACK's 0 of 5.
// Here: TFLite's fixed point everywhere fails alphas 0.01-1.7, XNNPACK's everywhere fails 0.001.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseQdqIslands } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { integerRuntimeLsbOff, tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const random = rng(17);
const uniform = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);

/** x -> LeakyRelu(alpha) -> y over [1, 8, 8, 6] (channels-last after conversion), behind a 1x1 conv so the input has its own grid. */
function leakyModel(alpha: number): Graph {
  return {
    name: 'leaky',
    nodes: [
      { name: 'conv', domain: '', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: { type: 'ints', value: [1, 1] } } },
      { name: 'leaky', domain: '', opType: 'LeakyRelu', inputs: ['c'], outputs: ['y'], attrs: { alpha: { type: 'float', value: alpha } } },
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 6, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([
      ['w', new Tensor('float32', [6, 6, 1, 1], uniform(36, 0.8))],
      ['b', new Tensor('float32', [6], uniform(6, 0.3))],
    ]),
    opsets: { '': 13 },
  };
}

describe('int8 LEAKY_RELU: nnport integer runtime vs the TFLite interpreter', () => {
  // 0.001: |s_x·alpha/s_y| below 2^-8, which XNNPACK refuses (TFLite's kernel runs); 1.7: a slope above 1
  for (const alpha of [0.01, 0.1, 0.3, 1.7, 0.001]) {
    it(`alpha ${alpha}: 0 LSB off the interpreter (XNNPACK requantization), on the integer kernel`, async () => {
      const model = await loadModel(writeOnnx(leakyModel(alpha)), { fileName: 'leaky.onnx' });
      const sample = () => new Tensor('float32', [1, 8, 8, 6], uniform(384, 2));
      const calibration = Array.from({ length: 8 }, () => [sample()]);
      const bytes = (await convert(model, 'leaky.tflite', { quantize: { mode: 'int8', calibration } })).bytes;
      expect(tfliteOpNames(bytes, 'leaky')).toContain('LEAKY_RELU');
      expect(fuseQdqIslands(await readTflite(bytes)).nodes.find((n) => n.opType === 'LeakyRelu')?.domain).toBe('nnport.int');
      for (let i = 0; i < 3; i++) {
        const x = sample();
        const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
        expect(await integerRuntimeLsbOff(bytes, x, theirs!.data as Float32Array, { requantization: 'xnnpack' })).toBe(0);
      }
    });
  }
});
