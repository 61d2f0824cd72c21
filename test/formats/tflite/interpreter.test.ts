// TFLite files read by nnport and run by its runtime against the real TFLite interpreter
// (tfjs-tflite's WebAssembly build in headless Chromium) on the same inputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGraph } from '../../../src/runtime/executor.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { corpusPath } from '../../support/corpus.js';
import { rng as seeded } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

describe('TFLite corpus: nnport float runtime vs the TFLite interpreter', () => {
  it('hello world float: same outputs for 16 inputs', async () => {
    const bytes = readFileSync(corpusPath('tflite/tflm-hello-world-float/hello_world_float.tflite'));
    const g = await readTflite(bytes);
    for (let k = 0; k < 16; k++) {
      const x = new Float32Array([(k / 15) * 2 * Math.PI]);
      const [want] = await oracle.run(bytes, [x]);
      const { outputs } = await runGraph(g, { [g.inputs[0]!.name]: Tensor.float32([1, 1], x) });
      const got = [...outputs.values()][0]!;
      expect(got.shape).toEqual(want!.shape);
      expect(maxAbsDiff(got.data as Float32Array, want!.data)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('magic wand (float CNN on the channels-last kernels): within 1e-5', async () => {
    const bytes = readFileSync(corpusPath('tflite/tflm-magic-wand-float/magic_wand.tflite'));
    const g = await readTflite(bytes);
    const r = seeded(21);
    for (let k = 0; k < 3; k++) {
      const x = Float32Array.from({ length: 128 * 3 }, () => r() * 4 - 2);
      const [want] = await oracle.run(bytes, [x]);
      const { outputs } = await runGraph(g, { [g.inputs[0]!.name]: Tensor.float32([1, 128, 3, 1], x) });
      const got = [...outputs.values()][0]!;
      expect(got.shape).toEqual(want!.shape);
      expect(maxAbsDiff(got.data as Float32Array, want!.data)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('hello world int8 through QDQ on the float runtime: within 1 LSB', async () => {
    const bytes = readFileSync(corpusPath('tflite/tflm-hello-world-int8/hello_world_int8.tflite'));
    const g = await readTflite(bytes);
    const rng = seeded(3);
    for (let k = 0; k < 16; k++) {
      const x = new Int8Array([Math.floor(rng() * 256) - 128]);
      const [want] = await oracle.run(bytes, [x]);
      const { outputs } = await runGraph(g, { [g.inputs[0]!.name]: new Tensor('int8', [1, 1], x) });
      const got = [...outputs.values()][0]!;
      expect(got.dtype).toBe('int8');
      expect(maxAbsDiff(got.data as Int8Array, want!.data)).toBeLessThanOrEqual(1);
    }
  });
});

describe('TFLite int8 corpus: nnport integer runtime (XNNPACK requantization) vs the TFLite interpreter (≤ 1 LSB)', () => {
  const randomInput = (dtype: string, shape: number[], seed: number): Tensor => {
    const r = seeded(seed);
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'float32') return new Tensor('float32', shape, Float32Array.from({ length: n }, () => r()));
    if (dtype === 'int8') return new Tensor('int8', shape, Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128));
    throw new Error(`no random ${dtype} input`);
  };

  const cases: [string, number][] = [
    ['tflm-hello-world-int8/hello_world_int8.tflite', 8],
    ['tflm-micro-speech-int8/micro_speech_quantized.tflite', 4],
    ['utensor-quant-mnist-cnn-int8-floatio/quant_mnist_cnn.tflite', 3],
    ['tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite', 1],
  ];
  for (const [rel, runs] of cases) {
    it(rel.split('/')[1]!, async () => {
      const bytes = readFileSync(corpusPath(`tflite/${rel}`));
      const g = await readTflite(bytes);
      const input = g.inputs[0]!;
      const shape = input.shape!.map((d) => (typeof d === 'number' ? d : 1));
      for (let k = 0; k < runs; k++) {
        const x = randomInput(input.dtype, shape, 100 + k);
        const [want] = await oracle.run(bytes, [x.data as Int8Array]);
        // the interpreter runs int8 conv and add through XNNPACK: nnport's 'xnnpack' requantization
        const { outputs } = await runInteger(g, { [input.name]: x }, { requantization: 'xnnpack' });
        const got = [...outputs.values()][0]!;
        expect(got.shape).toEqual(want!.shape);
        // float outputs (after DEQUANTIZE) compare in units of the last quantized tensor's scale
        const dq = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === g.outputs[0]!.name)[0];
        const lsb = dq ? g.initializers.get(dq.inputs[1]!)!.toNumbers()[0]! : 1;
        expect(maxAbsDiff(got.data as Int8Array, want!.data) / lsb).toBeLessThanOrEqual(1.0001);
      }
    });
  }
});
