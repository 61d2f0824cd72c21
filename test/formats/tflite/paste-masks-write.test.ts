// torchvision's paste_masks_in_image as exported (scripts/fixtures/instance_models.py paste_masks: a
// ConvTranspose over a run-time count of kept masks, then a Loop of run-time trip count whose body
// resizes each mask to its box's size -- a Resize of sizes computed in the loop -- and pads it into a
// 64 x 64 image) as a .tflite (a WHILE subgraph), run by the real interpreter against PyTorch.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

it('paste_masks: the WHILE of computed resizes equals PyTorch in the interpreter', { timeout: 600_000 }, async () => {
  const dir = join(ensureScriptFixtures('instance_models.py', 'instance-models', ['paste_masks', 'maskrcnn', 'keypointrcnn']), 'paste_masks');
  const npy = (k: string) => readNpy(new Uint8Array(readFileSync(join(dir, `${k}.npy`))));
  const { bytes, notes } = await convert(await loadModelFiles([join(dir, 'model.onnx')]), 'paste.tflite');
  expect(notes.join('\n')).toMatch(/Loop kept as tflite control flow/);
  const want = npy('images');
  const [got] = await oracle.run(bytes, ['masks', 'boxes', 'scores'].map((k) => npy(k).toFloat32()), 1, 1);
  expect(got!.shape).toEqual(want.shape);
  const diff = maxAbsDiff(got!.data as Float32Array, want.toFloat32());
  console.log(`paste_masks .tflite: ${want.shape[0]} masks, max |diff| ${diff.toExponential(2)}`);
  expect(diff).toBeLessThan(1e-5);
});
