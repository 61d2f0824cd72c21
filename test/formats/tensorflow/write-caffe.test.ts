// Real Caffe models of the corpus -> .pb (nnport's GraphDef writer), run by OpenCV's TensorFlow
// importer (or, where it lacks an op, by the NumPy GraphDef interpreter), against OpenCV's own
// Caffe outputs on the same input: PRelu (MTCNN, in the Relu(x) + (-a)*Relu(-x) form OpenCV
// fuses back), Split into equal parts (MTCNN L-Net's 15 channels), within-channel LRN as
// Pad/AvgPool/Pow (CIFAR-10 full: OpenCV's TF importer has no Pow).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { convert } from '../../../src/index.js';
import { corpusPath } from '../../support/corpus.js';
import { caffeNets, opencvReal, pathFiles } from '../caffe/opencv.js';
import { permute4, pythonRun, relativeError } from './python-runs.js';

beforeAll(() => {
  registerAllFormats();
});

const CHECKS: Record<string, { ops: string[]; runner: 'opencv' | 'numpy' }> = {
  'mtcnn-pnet': { ops: ['Neg', 'Relu', 'Softmax'], runner: 'opencv' },
  'mtcnn-onet': { ops: ['Neg', 'MatMul'], runner: 'opencv' },
  'mtcnn-lnet': { ops: ['Split', 'Neg'], runner: 'opencv' },
  'cifar10-full': { ops: ['Pow', 'AvgPool'], runner: 'numpy' },
};
const MODELS = caffeNets(...Object.keys(CHECKS)).map((net) => [...net, CHECKS[net[0]]!] as const);

describe('Caffe -> GraphDef vs OpenCV running the Caffe model', () => {
  for (const [key, proto, weights, shape, c] of MODELS) {
    it(`${key}: ${c.runner === 'opencv' ? 'OpenCV runs the .pb' : 'the NumPy interpreter runs the .pb (OpenCV lacks an op)'} with OpenCV-Caffe's outputs`, async () => {
      const p = corpusPath(proto);
      const w = corpusPath(weights);
      const ref = opencvReal(key, p, w, shape);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { data: shape } });
      const { bytes } = await convert(model, `${key}.pb`);
      const ops = new Set(decodeGraphDef(bytes, `${key}.pb`).node!.map((n) => n.op));
      for (const op of c.ops) expect(ops.has(op), op).toBe(true);
      const outputs = model.graph.outputs.map((o) => o.name);
      const got = pythonRun(c.runner, `caffe-${key}`, bytes, permute4(ref.input, [0, 2, 3, 1]), outputs);
      expect(got.size).toBe(ref.outputs.size);
      for (const o of outputs) {
        const want = ref.outputs.get(o)!;
        let y = got.get(o)!;
        if (y.rank === 4) y = permute4(y, [0, 3, 1, 2]);
        expect(y.size, o).toBe(want.size);
        expect(relativeError(y.reshape(want.shape), want), o).toBeLessThanOrEqual(1e-4);
      }
    }, 60_000);
  }
});
