// int16x8 BATCH_MATMUL of two activations in nnport's integer runtime (src/runtime/integer/batch-matmul.ts:
// int64 sums, TFLite's 64-bit MultiplyByQuantizedMultiplier) against the real TFLite interpreter:
// 0 LSB off on 2-D, 3-D and 4-D products, batch dims broadcast, 3 inputs each. Before, the runtime
// ran it as dequantize / float MatMul / quantize: 1 LSB off on a few outputs of most of these (and
// on the ONNX backend's int16x8 test_matmul_2d / _3d / _4d conformance rows).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseQdqIslands, runInteger } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const random = rng(23);
const uniform = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);

function matmulModel(a: readonly number[], b: readonly number[]): Graph {
  return {
    name: 'mm',
    nodes: [{ name: 'mm', domain: '', opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'], attrs: {} }],
    inputs: [
      { name: 'a', dtype: 'float32', shape: [...a] },
      { name: 'b', dtype: 'float32', shape: [...b] },
    ],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': 13 },
  };
}

const SHAPES: [number[], number[]][] = [
  [[3, 5], [5, 4]],
  [[2, 3, 5], [2, 5, 4]],
  [[2, 2, 3, 7], [1, 2, 7, 4]],
  [[4, 3, 6], [6, 5]],
];

describe('int16x8 BATCH_MATMUL: nnport integer runtime vs the TFLite interpreter', () => {
  for (const [as, bs] of SHAPES) {
    it(`[${as}] x [${bs}]: 0 LSB off the interpreter, on the integer kernel`, async () => {
      const model = await loadModel(writeOnnx(matmulModel(as, bs)), { fileName: 'mm.onnx' });
      const sample = () => [new Tensor('float32', as, uniform(size(as), 2)), new Tensor('float32', bs, uniform(size(bs), 1.5))];
      const bytes = (await convert(model, 'mm.tflite', { quantize: { mode: 'int16x8', calibration: Array.from({ length: 8 }, sample) } })).bytes;
      expect(tfliteOpNames(bytes, 'mm')).toContain('BATCH_MATMUL');
      const back = await readTflite(bytes);
      expect(fuseQdqIslands(back).nodes.find((n) => n.opType === 'MatMul')?.domain).toBe('nnport.int');
      const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0]!.name)!;
      const lsb = back.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
      for (let i = 0; i < 3; i++) {
        const x = sample();
        const [theirs] = await oracle.run(bytes, x.map((t) => t.toFloat32()));
        const want = theirs!.data as Float32Array;
        for (const kernels of ['wasm', 'typescript'] as const) {
          const { outputs } = await runInteger(back, { [back.inputs[0]!.name]: x[0]!, [back.inputs[1]!.name]: x[1]! }, { requantization: 'xnnpack', kernels });
          const mine = [...outputs.values()][0]!;
          expect(mine.shape).toEqual(theirs!.shape);
          const got = mine.toFloat32();
          let worst = 0;
          for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got[k]! - want[k]!) / lsb);
          expect(worst, `[${as}] x [${bs}] (${kernels})`).toBe(0);
        }
      }
    });
  }
});
