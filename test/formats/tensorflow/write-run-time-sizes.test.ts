// GraphDef writer on PyTorch models exported with dynamic H / W whose Resize sizes or Pad pads come
// from the input's shape (scripts/fixtures/tflite_gap_models.py: UNet decoders upsampling to their
// skip's size, bilinear with align_corners both ways and nearest; an FPN top-down path; a pad to a
// multiple of 32): the Placeholder keeps its unknown dims and the sizes are computed in the graph
// (Shape -> StridedSlice -> Cast / Mul into ResizeBilinear / ResizeNearestNeighbor; the pads into
// Pad). The .pb is run by the NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py, its own
// protobuf decoder) at two input sizes, the second odd, against PyTorch's outputs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { npyTensor } from './helpers.js';
import { permute4, pythonRun, relativeError } from './python-runs.js';

const NETS = { unet_bilinear: 1, unet_align: 1, fpn: 4, pad32: 1 } as const;

describe('GraphDef writer: resizes and pads sized at run time, NumPy runner at two sizes vs PyTorch', () => {
  for (const [name, outs] of Object.entries(NETS)) {
    it(name, { timeout: 120_000 }, async () => {
      const dir = join(ensureScriptFixtures('tflite_gap_models.py', 'tflite-gaps', [...Object.keys(NETS), 'unet_deconv', 'conv3d_net', 'c3d_block']), name);
      const { bytes } = await convert(await loadModelFiles([join(dir, 'model.onnx')]), 'model.pb');
      const nodes = decodeGraphDef(bytes, 'model.pb').node!;
      const ops = new Set(nodes.map((n) => n.op));
      for (const op of ['Shape', 'StridedSlice', name === 'pad32' ? 'Pad' : 'Cast']) expect(ops.has(op), op).toBe(true);
      expect(ops.has('ResizeBilinear') || ops.has('ResizeNearestNeighbor')).toBe(true);
      const outputs = Array.from({ length: outs }, (_, i) => `y${i}`);
      for (const k of [0, 1]) {
        const x = permute4(npyTensor(join(dir, `input${k}.npy`)), [0, 2, 3, 1]);
        const got = pythonRun('numpy', `run-time-sizes-${name}-${k}`, bytes, x, outputs);
        outputs.forEach((o, i) => {
          const want = npyTensor(join(dir, `output${k}_${i}.npy`));
          const y = permute4(got.get(o)!, [0, 3, 1, 2]);
          expect(y.shape, o).toEqual(want.shape);
          const e = relativeError(y, want);
          console.log(`${name} input [${x.shape.join(', ')}] ${o}: ${e.toExponential(2)} of PyTorch`);
          expect(e, o).toBeLessThan(1e-4);
        });
      }
    });
  }
});
