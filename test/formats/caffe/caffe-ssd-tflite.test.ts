// Caffe SSD with its DetectionOutput written to .tflite whole (PriorBox constants, the box decode,
// per-class NON_MAX_SUPPRESSION_V4, keep_top_k as TOPK_V2 of a k computed at run time, Caffe's
// [1, 1, N, 7] rows sized at run time) and run by the real TFLite interpreter (tfjs-tflite in
// headless Chromium): the detections match OpenCV dnn's DetectionOutput on the same random-weight
// net, and come in the same order as onnxruntime's on the written .onnx (Caffe's: label, then score).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { convert } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { pathFiles } from './opencv.js';
import { caffeOrdered, cliConvert, DETECTION_CASES, detectionReference, expectSameDetections, expectSameRows, mobilenetSsdReference, noDetectionsNet, onnxRows, rowsOf, type Row } from './ssd-nets.js';

const oracle = useTfliteOracle(60_000);

/** The .tflite run by the interpreter on an NCHW input (permuted when the file takes NHWC): its detection rows. */
async function tfliteRows(bytes: Uint8Array, input: Tensor): Promise<Row[]> {
  const [inp] = await oracle.inputs(bytes);
  const x = inp!.shape.join() === input.shape.join() ? input : permuteTensor(input, channelsLastPerm(4));
  expect(inp!.shape).toEqual([...x.shape]);
  // one thread: with dynamic-sized tensors the interpreter runs without XNNPACK, and the web build's own
  // float CONV_2D aborts on more (tflite-oracle.ts)
  const outs = await oracle.run(bytes, [x.data as Float32Array], 1, 1);
  expect(outs).toHaveLength(1);
  return rowsOf(outs[0]!.data, outs[0]!.shape);
}



describe('MobileNet-SSD (Caffe, random weights) to .tflite whole, run by the TFLite interpreter, vs OpenCV dnn', () => {
  it('nnport convert MobileNetSSD_deploy.prototxt weights.caffemodel -o ssd.tflite: the detections match OpenCV', async () => {
    const { path: p, ref } = await mobilenetSsdReference();
    const bytes = await cliConvert([p, ref.weights!], 'ssd.tflite');
    const ops = new Set(tfliteOpNames(bytes, 'ssd'));
    for (const op of ['NON_MAX_SUPPRESSION_V4', 'TOPK_V2', 'SHAPE']) expect(ops.has(op), op).toBe(true);
    expect(ops.has('CUSTOM'), 'no custom op (TFLite_Detection_PostProcess)').toBe(false);

    const want = rowsOf(ref.outputs.get('detection_out')!.data as Float32Array, ref.outputs.get('detection_out')!.shape);
    // keep_top_k (100) cuts across classes
    expect(want.length).toBe(100);
    expect(new Set(want.map((r) => r[1])).size).toBeGreaterThan(3);
    const got = await tfliteRows(bytes, ref.input);
    expect(caffeOrdered(got), "Caffe's row order: by label, then score").toBe(true);
    expectSameDetections(got, want, 'TFLite');
    const graph = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) })).graph;
    expectSameRows(got, await onnxRows(graph, ref.input), 'TFLite against onnxruntime');
  }, 180_000);
});

describe('Caffe DetectionOutput settings to .tflite, run by the TFLite interpreter, vs OpenCV dnn', () => {
  Object.entries(DETECTION_CASES).forEach(([what, c], i) => {
    it(what, async () => {
      // the nets and references of caffe-ssd-layers.test.ts
      const { model, input, want } = await detectionReference(i, c);
      const got = await tfliteRows((await convert(model, 'ssd.tflite')).bytes, input);
      expect(caffeOrdered(got), "Caffe's row order").toBe(true);
      expectSameDetections(got, want, 'TFLite');
      expectSameRows(got, await onnxRows(model.graph, input), 'TFLite against onnxruntime');
    }, 60_000);
  });

  it("nothing above the threshold: Caffe's one row [0, -1, -1, -1, -1, -1, -1]", async () => {
    const { model, input } = await noDetectionsNet();
    const got = await tfliteRows((await convert(model, 'ssd.tflite')).bytes, input);
    expect(got).toEqual([[0, -1, -1, -1, -1, -1, -1]]);
    expect(await onnxRows(model.graph, input)).toEqual(got);
  }, 60_000);
});
