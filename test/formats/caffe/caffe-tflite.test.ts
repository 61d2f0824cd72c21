// Caffe -> .tflite (nnport's TFLite writer), run by the real TFLite interpreter (tfjs-tflite in
// headless Chromium), against OpenCV dnn's outputs on the same input.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { convert } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { corpusPath } from '../../support/corpus.js';
import { caffeNets, opencvReal, pathFiles, relativeError } from './opencv.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle(60_000);

// cifar10-full's LRN (WITHIN_CHANNEL) is built from Pad, AveragePool and Pow: TFLite's POW
const MODELS = caffeNets('lenet', 'mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'mtcnn-lnet', 'cifar10-full');

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
