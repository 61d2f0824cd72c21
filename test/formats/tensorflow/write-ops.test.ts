// GraphDef writer op forms beyond the torchvision fixtures, each a small PyTorch model
// (scripts/fixtures/tf_writer_ops.py: ConvTranspose, Resize, Softmax over a non-last axis,
// ceil-mode / padded max pooling over signed values, Clip/LeakyReLU/ELU and a broadcast gate,
// strided slices, gathers of channels and of rows, opset-10 Pads with attributes, convs both strided and dilated).
// Every written .pb is run by an independent NumPy interpreter of the GraphDef
// (scripts/fixtures/tf_numpy_run.py, decoding the protobuf by hand) and, where OpenCV's
// importer has the ops, by OpenCV dnn too; both must give PyTorch's output within 1e-4 of its
// scale. Python outputs are cached under .fixtures-cache/ with a stamp of script + .pb + input.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { npyTensor, stampedFixtures } from './helpers.js';
import { permute4, pythonRun, relativeError } from './python-runs.js';

const MODELS = join(REPO_ROOT, '.fixtures-cache/tf-writer-ops');

beforeAll(() => {
  // the PyTorch exports, remade when the script changes
  stampedFixtures('tf_writer_ops.py', 'tf-writer-ops');
}, 120_000);

// per fixture: TF ops its .pb must hold, and whether OpenCV's importer can run it (and why not)
const CASES: Record<string, { ops: string[]; opencv: true | string }> = {
  deconv: { ops: ['Conv2DBackpropInput', 'Slice', 'BiasAdd'], opencv: true },
  upsample: { ops: ['ResizeNearestNeighbor', 'ResizeBilinear'], opencv: true },
  softmax_axes: { ops: ['Transpose', 'Softmax'], opencv: 'its importer takes only NHWC<->NCHW Transposes' },
  ceil_pool: { ops: ['MirrorPad', 'MaxPool'], opencv: true },
  clips: { ops: ['Minimum', 'Maximum', 'LeakyRelu', 'Elu', 'Mul'], opencv: true },
  pad_max: { ops: ['PadV2', 'MaxPool'], opencv: 'its importer has no PadV2' },
  // every 2nd row: a Slice and a 1x1 MaxPool of stride 2; channels [3, 0, 1]: a 1x1 Conv2D selection
  strided: { ops: ['Slice', 'MaxPool', 'Conv2D'], opencv: true },
  gather_rows: { ops: ['GatherV2'], opencv: 'its importer has no GatherV2' },
  // opset 10: Pad's pads and mode are attributes
  pad_opset10: { ops: ['MirrorPad', 'Pad', 'Conv2D'], opencv: true },
  // strided and dilated: a stride-1 dilated conv, then a 1x1 MaxPool of stride s
  strided_dilated: { ops: ['SpaceToBatchND', 'Conv2D', 'BatchToSpaceND', 'MaxPool'], opencv: true },
  strided_dilated_grouped: { ops: ['Conv2D', 'MaxPool', 'Split', 'ConcatV2'], opencv: "its importer sizes a dilated Conv2D's output from the undilated kernel" },
};

describe('GraphDef writer op forms', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: NumPy's run of the .pb${c.opencv === true ? ' and OpenCV’s' : ''} give PyTorch's output${c.opencv === true ? '' : ` (not OpenCV: ${c.opencv})`}`, async () => {
      const dir = join(MODELS, name);
      const model = await loadModelFiles([join(dir, 'model.onnx')]);
      const { bytes } = await convert(model, 'model.pb');
      const ops = new Set(decodeGraphDef(bytes, 'model.pb').node!.map((n) => n.op));
      for (const op of c.ops) expect(ops.has(op), op).toBe(true);
      const outputs = readdirSync(dir).filter((f) => /^output\d*\.npy$/.test(f)).map((f) => f.slice(0, -4)).sort();
      expect(outputs.length).toBeGreaterThan(0);
      const x = permute4(npyTensor(join(dir, 'input.npy')), [0, 2, 3, 1]);
      const runs = [pythonRun('numpy', `ops-${name}`, bytes, x, outputs)];
      if (c.opencv === true) runs.push(pythonRun('opencv', `ops-${name}`, bytes, x, outputs));
      for (const got of runs) {
        for (const o of outputs) {
          const want = npyTensor(join(dir, `${o}.npy`));
          const y = permute4(got.get(o)!, [0, 3, 1, 2]);
          expect(y.shape, o).toEqual(want.shape);
          expect(relativeError(y, want), o).toBeLessThan(1e-4);
        }
      }
    });
  }
});
