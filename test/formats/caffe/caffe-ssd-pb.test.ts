// Caffe SSD with its DetectionOutput written to a TensorFlow GraphDef whole (per-class
// NonMaxSuppressionV5, TopKV2 of a k computed at run time, Shape of the detections) and run by the
// NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py: a hand-written protobuf decoder, TF's
// documented kernels in float64): the detections match OpenCV dnn's DetectionOutput on the same
// random-weight net, and come in the same order as onnxruntime's on the written .onnx.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { convert } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { pathFiles } from './opencv.js';
import { caffeOrdered, cliConvert, DETECTION_CASES, detectionReference, expectSameDetections, expectSameRows, mobilenetSsdReference, noDetectionsNet, onnxRows, rowsOf, type Row } from './ssd-nets.js';

/** The .pb run by the NumPy runner on the NHWC input (the GraphDef's Placeholder): its detection rows. */
function numpyRows(tag: string, pb: Uint8Array, input: Tensor): Row[] {
  const t = pythonRun('numpy', tag, pb, permuteTensor(input, channelsLastPerm(4)), ['detection_out']).get('detection_out')!;
  return rowsOf(t.toFloat32(), t.shape);
}

describe('MobileNet-SSD (Caffe, random weights) to .pb whole, run by the NumPy GraphDef runner, vs OpenCV dnn', () => {
  it('nnport convert MobileNetSSD_deploy.prototxt weights.caffemodel -o ssd.pb: the detections match OpenCV', async () => {
    const { path: p, ref } = await mobilenetSsdReference();
    const pb = await cliConvert([p, ref.weights!], 'ssd.pb');
    const want = rowsOf(ref.outputs.get('detection_out')!.data as Float32Array, ref.outputs.get('detection_out')!.shape);
    expect(want.length).toBe(100);
    const got = numpyRows('caffe-mobilenet-ssd', pb, ref.input);
    expect(caffeOrdered(got), "Caffe's row order: by label, then score").toBe(true);
    expectSameDetections(got, want, 'NumPy runner');
    const graph = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) })).graph;
    expectSameRows(got, await onnxRows(graph, ref.input), 'NumPy runner against onnxruntime');
  }, 180_000);
});

describe('Caffe DetectionOutput settings to .pb, run by the NumPy GraphDef runner, vs OpenCV dnn', () => {
  Object.entries(DETECTION_CASES).forEach(([what, c], i) => {
    it(what, async () => {
      const { model, input, want } = await detectionReference(i, c);
      const got = numpyRows(`caffe-ssd-detection${i}`, (await convert(model, 'ssd.pb')).bytes, input);
      expect(caffeOrdered(got), "Caffe's row order").toBe(true);
      expectSameDetections(got, want, 'NumPy runner');
      expectSameRows(got, await onnxRows(model.graph, input), 'NumPy runner against onnxruntime');
    }, 60_000);
  });

  it("nothing above the threshold: Caffe's one row [0, -1, -1, -1, -1, -1, -1]", async () => {
    const { model, input } = await noDetectionsNet();
    const got = numpyRows('caffe-ssd-detection-none', (await convert(model, 'ssd.pb')).bytes, input);
    expect(got).toEqual([[0, -1, -1, -1, -1, -1, -1]]);
  }, 60_000);
});
