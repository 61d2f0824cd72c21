// Caffe -> Keras .h5 through convert() (layout pass NCHW -> channels-last, Keras writer), run by
// TensorFlow.js against OpenCV dnn's outputs: LeNet's and R-/O-Net's InnerProduct after a
// spatial blob (the flatten row order), V1 CIFAR-10 with ceil pooling, P-Net's fully
// convolutional heads.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { convert } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { corpusPath } from '../../support/corpus.js';
import { predict, tfjsModelFromH5 } from '../keras/tfjs-oracle.js';
import { caffeNets, opencvReal, pathFiles, relativeError } from './opencv.js';

const MODELS = caffeNets('lenet', 'cifar10-quick', 'mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'mtcnn-lnet');

registerAllFormats();

describe('Caffe -> Keras .h5 (convert), run by TensorFlow.js, vs OpenCV dnn', () => {
  for (const [key, proto, weights, shape] of MODELS) {
    it(key, async () => {
      const p = corpusPath(proto);
      const w = corpusPath(weights);
      const ref = opencvReal(key, p, w, shape);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { data: shape } });
      // what `nnport convert deploy.prototxt weights.caffemodel -o model.h5` does
      const { bytes: h5 } = await convert(model, `${key}.h5`);
      const tfModel = await tfjsModelFromH5(h5);
      const outs = predict(tfModel, [permuteTensor(ref.input, channelsLastPerm(4))]);
      expect(outs).toHaveLength(ref.outputs.size);
      model.graph.outputs.forEach((o, i) => {
        let got: Tensor = outs[i]!;
        // channels-last outputs back to Caffe's NCHW
        if (got.rank >= 3) got = permuteTensor(got, [0, got.rank - 1, ...Array.from({ length: got.rank - 2 }, (_, j) => j + 1)]);
        const want = ref.outputs.get(o.name)!;
        expect(got.shape, o.name).toEqual(want.shape);
        expect(relativeError(got, want), o.name).toBeLessThanOrEqual(1e-4);
      });
    }, 60_000);
  }
});

describe('Caffe -> Keras .h5: what stock Keras cannot express is refused by name', () => {
  it('CIFAR-10 full: its LRN needs a power op, which no stock Keras layer has', async () => {
    const p = corpusPath('caffe/cifar10-full-v1format/cifar10_full.prototxt');
    const w = corpusPath('caffe/cifar10-full-v1format/cifar10_full_iter_70000.caffemodel');
    const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { data: [1, 3, 32, 32] } });
    const err = await convert(model, 'cifar10-full.h5').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String((err as Error).message)).toMatch(/Pow/);
  });
});
