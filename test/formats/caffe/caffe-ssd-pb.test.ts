// Caffe SSD with its DetectionOutput written to a TensorFlow GraphDef whole (per-class
// NonMaxSuppressionV5, TopKV2 of a k computed at run time, Shape of the detections) and run by the
// NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py: a hand-written protobuf decoder, TF's
// documented kernels in float64): the detections match OpenCV dnn's DetectionOutput on the same
// random-weight net, and come in the same order as onnxruntime's on the written .onnx.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { convert } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { corpusPath } from '../../support/corpus.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { opencvRandom, pathFiles } from './opencv.js';
import { caffeOrdered, DETECTION_CASES, detectionReference, expectSameDetections, expectSameRows, onnxRows, rowsOf, SSD_PRIOR, ssdNet, ssdPrototxt, type Row } from './ssd-nets.js';

const PROTO = 'caffe/mobilenet-ssd-deploy-prototxt/MobileNetSSD_deploy.prototxt';
const HEADS = ['mbox_loc', 'mbox_conf_flatten', 'mbox_priorbox'];
const CONF_LAYERS = ['conv11', 'conv13', 'conv14_2', 'conv15_2', 'conv16_2', 'conv17_2'].map((l) => `${l}_mbox_conf`);

/** The .pb run by the NumPy runner on the NHWC input (the GraphDef's Placeholder): its detection rows. */
function numpyRows(tag: string, pb: Uint8Array, input: Tensor): Row[] {
  const t = pythonRun('numpy', tag, pb, permuteTensor(input, channelsLastPerm(4)), ['detection_out']).get('detection_out')!;
  return rowsOf(t.toFloat32(), t.shape);
}

describe('MobileNet-SSD (Caffe, random weights) to .pb whole, run by the NumPy GraphDef runner, vs OpenCV dnn', () => {
  it('nnport convert MobileNetSSD_deploy.prototxt weights.caffemodel -o ssd.pb: the detections match OpenCV', async () => {
    const p = corpusPath(PROTO);
    const bare = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p });
    // the same reference as caffe-ssd.test.ts
    const ref = opencvRandom('mobilenet-ssd', p, bare.graph, [1, 3, 300, 300], { scales: Object.fromEntries(CONF_LAYERS.map((l) => [l, 3])), layers: HEADS });
    const dir = mkdtempSync(join(tmpdir(), 'nnport-ssd-pb-'));
    const out = join(dir, 'ssd.pb');
    const err: string[] = [];
    const code = await main(['convert', p, ref.weights!, '-o', out], () => {}, (s) => err.push(s));
    expect(code, err.join('\n')).toBe(0);
    expect(existsSync(out)).toBe(true);
    const pb = new Uint8Array(readFileSync(out));
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
    const c = Object.values(DETECTION_CASES)[0]!;
    const o = ssdPrototxt('detection0', ssdNet(c.classes, SSD_PRIOR, 4, c.detection));
    const ref = opencvRandom('ssd-detection0', o, (await readCaffePrototxt(new Uint8Array(readFileSync(o)), { fileName: o })).graph, [1, 4, 40, 48], { scales: { conf: 2 } });
    const p = ssdPrototxt('detection-none', ssdNet(c.classes, SSD_PRIOR, 4, c.detection.replace(/confidence_threshold: [\d.]+/, 'confidence_threshold: 1')));
    const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) });
    const got = numpyRows('caffe-ssd-detection-none', (await convert(model, 'ssd.pb')).bytes, ref.input);
    expect(got).toEqual([[0, -1, -1, -1, -1, -1, -1]]);
  }, 60_000);
});
