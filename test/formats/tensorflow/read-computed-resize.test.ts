// The .pb of scripts/fixtures/instance_models.py's paste_masks (torchvision's paste_masks_in_image), written by nnport
// and read back by nnport's TF reader, against PyTorch: its mask head's Conv2DBackpropInput takes input_sizes computed at
// run time (the batch read by Shape), and the loop body ResizeBilinear's a mask to a size computed in the body and
// pads it with Fills of computed shapes.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';

const dir = (): string => join(ensureScriptFixtures('instance_models.py', 'instance-models', ['paste_masks', 'maskrcnn', 'keypointrcnn']), 'paste_masks');
const npy = (name: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir(), `${name}.npy`))));

beforeAll(async () => {
  await initKernels();
});

describe('TF reader: paste_masks (computed input_sizes, resize sizes, fill shapes)', () => {
  it('paste_masks written as .pb and read back equals PyTorch', { timeout: 600_000 }, async () => {
    const { bytes } = await convert(await loadModelFiles([join(dir(), 'model.onnx')]), 'model.pb');
    const back = await loadModel(bytes, { fileName: 'model.pb' });
    if (back.kind !== 'graph') throw new Error('no graph');
    const feeds = Object.fromEntries(back.graph.inputs.map((v) => [v.name, npy(v.name)]));
    const r = await run(back, feeds);
    const want = npy('images');
    const got = r.outputs.get('images')!;
    expect(got.shape).toEqual(want.shape);
    const diff = maxAbsDiff(got.toFloat32(), want.toFloat32());
    console.log(`paste_masks .pb read back: ${want.shape[0]} masks, max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
  });
});
