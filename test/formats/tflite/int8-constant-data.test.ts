// A conv whose data is a constant (uTensor's golden test graph: Conv2D VALID stride 2 of a Const image
// and a Const filter, no inputs) under --quantize int8: the constant image is int8 on its own range, as an
// activation would be. It was left float, so the int8 CONV_2D read a float input and the TFLite
// interpreter refused the file ("Can't initialize model"). Checked in the real interpreter against the
// graph's IDX golden (computed by TensorFlow).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { flatcJson, opNamesOf, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

/** An IDX float32 tensor (big-endian; header 0x00000d<rank>). */
function idx(file: string): { shape: number[]; data: Float32Array } {
  const b = new Uint8Array(readFileSync(file));
  const dv = new DataView(b.buffer, b.byteOffset);
  const rank = b[3]!;
  const shape = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i));
  return { shape, data: Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, (_, i) => dv.getFloat32(4 + 4 * rank + 4 * i)) };
}

it('utensor-conv-golden test_conv.pb as int8: the constant image int8, the interpreter within int8 error of the golden', { timeout: 300_000 }, async () => {
  const dir = corpusPath('tf-graphdef/utensor-conv-golden');
  const model = await loadModelFiles([join(dir, 'test_conv.pb')]);
  const { bytes } = await convert(model, 'conv.tflite', { quantize: { mode: 'int8', calibration: [[]] } });
  const json = flatcJson<{ subgraphs: Array<{ tensors: Array<{ type?: string }>; operators: Array<{ inputs?: number[] }> }> }>(bytes, 'conv');
  const conv = json.subgraphs[0]!.operators[opNamesOf(json as never).indexOf('CONV_2D')]!;
  expect(conv.inputs!.map((i) => json.subgraphs[0]!.tensors[i]!.type)).toEqual(['INT8', 'INT8', 'INT32']);
  const [y] = await oracle.run(bytes, []);
  const want = idx(join(dir, 'output_conv.idx'));
  expect(y!.shape).toEqual(want.shape);
  const snr = pooledSnrDb([want.data], [y!.data as Float32Array]);
  console.log(`test_conv.pb int8 in the interpreter vs the IDX golden: ${snr.toFixed(1)} dB`);
  expect(snr).toBeGreaterThan(30);
});
