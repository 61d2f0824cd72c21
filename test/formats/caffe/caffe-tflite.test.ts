// Caffe -> .tflite (nnport's TFLite writer), run by the real TFLite interpreter (tfjs-tflite in
// headless Chromium), against OpenCV dnn's outputs on the same input.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { convert } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { corpusPath } from '../../support/corpus.js';
import { opencvReal, pathFiles, relativeError } from './opencv.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle(60_000);

const MODELS: [string, string, string, number[]][] = [
  ['lenet', 'caffe/lenet-mnist/lenet.prototxt', 'caffe/lenet-mnist/lenet_iter_10000.caffemodel', [2, 1, 28, 28]],
  ['mtcnn-pnet', 'caffe/mtcnn-pnet/det1.prototxt', 'caffe/mtcnn-pnet/det1.caffemodel', [1, 3, 25, 31]],
  ['mtcnn-rnet', 'caffe/mtcnn-rnet/det2.prototxt', 'caffe/mtcnn-rnet/det2.caffemodel', [2, 3, 24, 24]],
  ['mtcnn-onet', 'caffe/mtcnn-onet/det3.prototxt', 'caffe/mtcnn-onet/det3.caffemodel', [1, 3, 48, 48]],
  ['mtcnn-lnet', 'caffe/mtcnn-lnet/det4.prototxt', 'caffe/mtcnn-lnet/det4.caffemodel', [1, 15, 24, 24]],
  // LRN (WITHIN_CHANNEL) is built from Pad, AveragePool and Pow: TFLite's POW
  ['cifar10-full', 'caffe/cifar10-full-v1format/cifar10_full.prototxt', 'caffe/cifar10-full-v1format/cifar10_full_iter_70000.caffemodel', [1, 3, 32, 32]],
];

describe('Caffe -> TFLite, run by the TFLite interpreter, vs OpenCV dnn', () => {
  for (const [key, proto, weights, shape] of MODELS) {
    it(key, async () => {
      const p = corpusPath(proto);
      const w = corpusPath(weights);
      const ref = opencvReal(key, p, w, shape);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { data: shape } });
      const { bytes } = await convert(model, `${key}.tflite`);
      const [inp] = await oracle.inputs(bytes);
      const nhwc = inp!.shape.join() !== shape.join();
      const x = nhwc ? permuteTensor(ref.input, channelsLastPerm(4)) : ref.input;
      expect(inp!.shape).toEqual([...x.shape]);
      const outs = await oracle.run(bytes, [x.data as Float32Array]);
      expect(outs).toHaveLength(ref.outputs.size);
      model.graph.outputs.forEach((o, i) => {
        const want = ref.outputs.get(o.name)!;
        const r = outs[i]!;
        let got: Tensor = new Tensor('float32', r.shape, r.data as Float32Array);
        if (got.shape.join() !== want.shape.join() && got.rank >= 3) got = permuteTensor(got, [0, got.rank - 1, ...Array.from({ length: got.rank - 2 }, (_, j) => j + 1)]);
        expect(got.shape, o.name).toEqual(want.shape);
        expect(relativeError(got, want), o.name).toBeLessThanOrEqual(1e-4);
      });
    }, 60_000);
  }
});
