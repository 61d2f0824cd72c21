// Caffe SSD's PriorBox and DetectionOutput settings one by one, on small generated nets with
// random weights, against OpenCV dnn (its own implementation of both layers); DetectionOutput
// also through onnxruntime on the written .onnx.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { opencvRandom, relativeError } from './opencv.js';
import { DETECTION_CASES, detectionReference, expectSameDetections, input, onnxRows, priorBox, rowsOf, type Row, SSD_PRIOR, ssdNet, ssdPrototxt } from './ssd-nets.js';
import { ortRun } from '../../support/ort.js';

// OpenCV clips the priors unless told not to (Caffe's default is clip: false): every case says.
const PRIOR_CASES: Record<string, string> = {
  'ssd-like': 'min_size: 30 max_size: 60 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2',
  'clip, one variance, no flip': 'min_size: 40 aspect_ratio: 2 aspect_ratio: 0.5 flip: false clip: true variance: 0.15',
  'duplicate ratios': 'min_size: 20 aspect_ratio: 2 aspect_ratio: 2 aspect_ratio: 1 aspect_ratio: 0.5 flip: true clip: false variance: 0.1',
  'two min sizes with max sizes': 'min_size: 16 min_size: 36 max_size: 30 max_size: 70 aspect_ratio: 3 clip: false variance: 0.2',
  // OpenCV normalises by the image blob's size whatever img_size says: here they agree
  'img_size and step': 'min_size: 50 clip: false img_size: 75 step: 8 offset: 0.25 variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2',
  'img_h/img_w and step_h/step_w': 'min_size: 24 max_size: 48 img_h: 75 img_w: 75 step_h: 7 step_w: 5 offset: 0 clip: true variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2',
};

describe('Caffe PriorBox vs OpenCV dnn', () => {
  it('every setting, on odd feature sizes', async () => {
    let text = input(3, 75, 75) + `layer { name: "feat" type: "Pooling" bottom: "data" top: "feat" pooling_param { pool: MAX kernel_size: 3 stride: 6 } }\n`;
    Object.values(PRIOR_CASES).forEach((param, i) => (text += priorBox(`prior${i}`, 'feat', param)));
    const p = ssdPrototxt('priorbox', text);
    const bare = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p });
    const ref = opencvRandom('ssd-priorbox', p, bare.graph, [1, 3, 75, 75]);
    const got = (await runGraph(bare.graph, { data: ref.input })).outputs;
    Object.keys(PRIOR_CASES).forEach((what, i) => {
      const want = ref.outputs.get(`prior${i}`)!;
      const t = got.get(`prior${i}`)!;
      expect(t.shape, what).toEqual(want.shape);
      expect(relativeError(t, want), what).toBeLessThanOrEqual(1e-6);
    });
  }, 60_000);

  it("img_size other than the image's: Caffe's normalisation, by hand", async () => {
    // OpenCV ignores img_size; Caffe divides by it: the first prior of cell (0, 0) with step 32,
    // offset 0.25 and min_size 50 is centred at 8, so xmin = (8 - 25) / 320, ymin = (8 - 25) / 240.
    const p = ssdPrototxt('priorbox-img-size', input(3, 30, 40) + priorBox('prior', 'data', 'min_size: 50 img_h: 240 img_w: 320 step: 32 offset: 0.25 variance: 0.1'));
    const g = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p })).graph;
    const t = (await runGraph(g, { data: new Tensor('float32', [1, 3, 30, 40], new Float32Array(3600)) })).outputs.get('prior')!;
    expect(t.shape).toEqual([1, 2, 30 * 40 * 4]);
    const d = t.data as Float32Array;
    expect([d[0], d[1], d[2], d[3]]).toEqual([-17 / 320, -17 / 240, 33 / 320, 33 / 240].map(Math.fround));
    // cell (0, 1): centre x = 1.25 * 32 = 40
    expect(d[4]).toBe(Math.fround(15 / 320));
    expect(d[1200 * 4]).toBe(Math.fround(0.1));
  });
});

const caffeOrder = (a: Row, b: Row): number => a[1]! - b[1]! || b[2]! - a[2]! || a[3]! - b[3]! || a[4]! - b[4]!;

describe('Caffe DetectionOutput vs OpenCV dnn', () => {
  Object.entries(DETECTION_CASES).forEach(([what, c], i) => {
    it(what, async () => {
      const { model, input, want } = await detectionReference(i, c);
      const got = (await runGraph(model.graph, { data: input })).outputs.get('detection_out')!;
      expect(got.shape).toEqual([1, 1, want.length, 7]);
      const gotRows = rowsOf(got.data as Float32Array, got.shape);
      expect([...gotRows].sort(caffeOrder), 'Caffe order: by label, then score').toEqual(gotRows);
      expectSameDetections(gotRows, want, 'nnport');
      expectSameDetections(await onnxRows(model.graph, input), want, 'onnxruntime');
    }, 60_000);
  });
});

describe('Caffe SSD layers: edge cases and refusals', () => {
  const read = (name: string, text: string, outputs?: string[]) => {
    const p = ssdPrototxt(name, text);
    return readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, outputs });
  };
  const detectionNet = (detection: string) => ssdNet(3, SSD_PRIOR, 4, `share_location: true ${detection}`);

  it("nothing above the threshold: Caffe's one row [image, -1, ...] (nnport and onnxruntime)", async () => {
    // the weights are left as inputs: fed here, zero confidences give 1/3 everywhere
    const g = (await read('empty', detectionNet('background_label_id: 0 code_type: CENTER_SIZE nms_param { nms_threshold: 0.45 top_k: 10 } keep_top_k: 5 confidence_threshold: 0.5'))).graph;
    const feeds: Record<string, Tensor> = { data: new Tensor('float32', [1, 4, 40, 48], new Float32Array(4 * 40 * 48).fill(0.5)) };
    for (const v of g.inputs) if (v.name !== 'data') feeds[v.name] = new Tensor('float32', v.shape as number[], new Float32Array((v.shape as number[]).reduce((a, b) => a * b, 1)));
    const t = (await runGraph(g, feeds)).outputs.get('detection_out')!;
    expect(t.shape).toEqual([1, 1, 1, 7]);
    expect(Array.from(t.data as Float32Array)).toEqual([0, -1, -1, -1, -1, -1, -1]);
    const res = (await ortRun(g, feeds, { intraOpNumThreads: 1, interOpNumThreads: 1 })).get('detection_out')!;
    expect(res.shape).toEqual([1, 1, 1, 7]);
    expect(Array.from(res.data as Float32Array)).toEqual([0, -1, -1, -1, -1, -1, -1]);
  });

  it('refuses what it does not run, by name', async () => {
    await expect(read('corner-size', detectionNet('code_type: CORNER_SIZE keep_top_k: 10'))).rejects.toThrow(/unsupported: Caffe DetectionOutput code_type CORNER_SIZE/);
    await expect(read('no-share', ssdNet(3, SSD_PRIOR, 4, 'share_location: false keep_top_k: 10'))).rejects.toThrow(/unsupported: Caffe DetectionOutput with share_location false/);
    await expect(read('eta', detectionNet('nms_param { nms_threshold: 0.45 eta: 0.9 }'))).rejects.toThrow(/adaptive NMS/);
    const after = detectionNet('keep_top_k: 10') + `layer { name: "after" type: "Power" bottom: "detection_out" top: "after" }\n`;
    await expect(read('after-detection', after)).rejects.toThrow(/unsupported: a Caffe layer reading DetectionOutput's detections/);
  });

  it('bad PriorBox parameters and sizes are typed errors naming the layer', async () => {
    const net = (param: string, h = 30) => input(3, h, 30) + priorBox('prior', 'data', param);
    await expect(read('pb-no-min', net('aspect_ratio: 2'))).rejects.toThrow(/layer 'prior' \(PriorBox\): prior_box_param needs min_size/);
    await expect(read('pb-max', net('min_size: 10 max_size: 5'))).rejects.toThrow(/max_size 5 must be larger than min_size 10/);
    await expect(read('pb-variance', net('min_size: 10 variance: 0.1 variance: 0.2'))).rejects.toThrow(/variance has 2 values/);
    await expect(read('pb-img', net('min_size: 10 img_size: 30 img_h: 30 img_w: 30'))).rejects.toThrow(/either img_size or img_h\/img_w/);
    await expect(read('pb-one-bottom', input(3, 30, 30) + `layer { name: "prior" type: "PriorBox" bottom: "data" top: "prior" prior_box_param { min_size: 10 } }\n`)).rejects.toThrow(/takes 2 bottoms/);
    // a huge image from a tiny file: the priors would be gigabytes
    await expect(read('pb-huge', net('min_size: 10 aspect_ratio: 2 aspect_ratio: 3', 3_000_000))).rejects.toThrow(/PriorBox.*prior values/);
  });

  it('--outputs: unknown blobs and inputs are usage errors', async () => {
    const text = detectionNet('keep_top_k: 10');
    await expect(read('outputs-bad', text, ['nope'])).rejects.toThrow(/--outputs: 'nope' is not a blob/);
    await expect(read('outputs-input', text, ['data'])).rejects.toThrow(/--outputs: 'data' is an input/);
    const g = (await read('outputs-cut', text, ['priors', 'conf_out'])).graph;
    expect(g.outputs.map((o) => o.name)).toEqual(['priors', 'conf_out']);
    expect(g.nodes.some((n) => n.name.startsWith('loc') || n.name.startsWith('detection_out'))).toBe(false);
  });
});
