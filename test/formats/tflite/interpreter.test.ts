// TFLite files read by nnport and run by its runtime against the real TFLite interpreter
// (tfjs-tflite's WebAssembly build in headless Chromium) on the same inputs.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGraph } from '../../../src/runtime/executor.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { corpusPath } from '../../support/corpus.js';
import { startTfliteOracle, type TfliteOracle } from '../../support/tflite-oracle.js';
import { rng as seeded } from '../../support/rng.js';

let oracle: TfliteOracle;
beforeAll(async () => {
  oracle = await startTfliteOracle();
}, 120_000);
afterAll(async () => {
  await oracle?.close();
});

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
};

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
