// Detection post-processing with run-time box counts (a score filter, TopK, NonZero / GatherND, then
// NonMaxSuppression of the boxes left: write-nms.ts with N known only at run time; RetinaNet's int64
// `//`: write-int64-div.ts) written to .tflite and run by the real TFLite interpreter, against PyTorch
// (scripts/fixtures/detection_models.py): a small score-filter + torchvision.ops.nms module, and
// torchvision's ssdlite320_mobilenet_v3_large and retinanet_resnet50_fpn (random init, a real photo,
// the empty-detections Ifs replaced by their else branch by the fixture script), and
// fasterrcnn_mobilenet_v3_large_320_fpn: its RoiAlign as GATHER_ND taps (lower-roi-align.ts), MultiScaleRoIAlign's
// level scatter as SCATTER_ND of rows (lower-row-scatter.ts), one FPN level empty (the two levels have one scale). The int64 labels come back through a Cast to int32 added to the ONNX graph
// (int32Io: the browser interpreter returns no int64). Boxes within 1e-4 of the 320-pixel image and
// scores within 1e-4 of PyTorch's, same count and order (rows of near-equal scores matched by box),
// labels equal.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { int32Io } from '../../conformance/tflite-writer-run.js';
import { DETECTION_NETS, detectionDir, detectionInputs, matchDetections, pytorchDetections } from '../../support/detections.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

describe('detection post-processing with run-time box counts: .tflite in the TFLite interpreter vs PyTorch', () => {
  for (const net of DETECTION_NETS) {
    it(net, { timeout: 600_000 }, async () => {
      const { bytes } = await convert(int32Io(await loadModelFiles([join(detectionDir(net), 'model.onnx')])), 'model.tflite');
      // (flatc's JSON of RetinaNet's 130 MB / Faster R-CNN's 80 MB of weights would pass V8's longest string)
      if (net !== 'retinanet' && net !== 'frcnn') expect(tfliteOpNames(bytes, `${net}.tflite`)).toContain('NON_MAX_SUPPRESSION_V4');
      const xs = detectionInputs(net);
      // score_nms: the box count of the inputs is dynamic (-1): the stored shapes set to this run's (ResizeInputTensor)
      const file = net === 'score_nms' ? withStoredDim(withStoredDim(bytes, 0, xs[0]!.shape[0]!, 0), 0, xs[1]!.shape[0]!, 1) : bytes;
      const outs = await oracle.run(file, xs.map((t) => t.toFloat32()), 1, 1);
      const byName = (prefix: string) => outs.find((o) => o.name === prefix || o.name.startsWith(`${prefix}__`))!;
      const [boxes, scores, labels] = [byName('boxes'), byName('scores'), byName('labels')];
      const want = pytorchDetections(net);
      expect(boxes.shape, 'boxes').toEqual(want[0]!.shape);
      expect(scores.shape, 'scores').toEqual(want[1]!.shape);
      const m = matchDetections(boxes.data, scores.data, labels.data, want);
      console.log(`${net} .tflite: ${want[1]!.shape[0]} detections (${m.swapped} in near-tied runs in another order), boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
      expect(m.boxesMaxAbs).toBeLessThan(1e-4 * 320);
      expect(m.scoresMaxAbs).toBeLessThan(1e-4);
      expect(m.labels).toEqual(want[2]!.toNumbers());
    });
  }
});
