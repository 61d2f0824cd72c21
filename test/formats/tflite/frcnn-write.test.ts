// torchvision's Faster R-CNN (fasterrcnn_mobilenet_v3_large_320_fpn, scripts/fixtures/detection_models.py)
// as torch.onnx.export writes it, its data-dependent Ifs kept (model-if.onnx: batched_nms's empty-boxes
// shortcut, the box heads' squeezes), written as a .tflite (IF subgraphs, int32 I/O) and run by the real
// TFLite interpreter, against onnxruntime-node on the same export and PyTorch's detections. On the way:
// MultiScaleRoIAlign's RoiAlign per FPN level (lower-roi-align.ts) over as many boxes as the RPN's NMS
// kept, one level empty (both levels have the scale 1/32, so every box maps to the first), its scatter
// back as SCATTER_ND of rows (lower-row-scatter.ts), the box decoder's strided slice, flatten and
// expand over run-time box counts. Same count, boxes within 1e-4 of the 320-pixel image, scores within
// 1e-4, near-tied rows matched by box, labels equal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { detectionDir, detectionInputs, matchDetections, pytorchDetections } from '../../support/detections.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

describe('Faster R-CNN as exported (Ifs kept): .tflite in the TFLite interpreter', () => {
  it('frcnn model-if.onnx vs onnxruntime-node and PyTorch', { timeout: 600_000 }, async () => {
    const file = join(detectionDir('frcnn'), 'model-if.onnx');
    const { bytes, notes } = await convert(await loadModelFiles([file]), 'frcnn.tflite', { int32Io: true });
    expect(notes.join('\n')).toMatch(/If kept as tflite control flow/);
    const x = detectionInputs('frcnn')[0]!;
    const shape = (await oracle.inputs(bytes))[0]!.shape;
    const fed = shape.join() === x.shape.join() ? x : permuteTensor(x, [1, 2, 0]);
    const outs = await oracle.run(bytes, [fed.toFloat32()], 1, 1);
    const byName = (prefix: string) => outs.find((o) => o.name === prefix || o.name.startsWith(`${prefix}__`))!;
    const [boxes, scores, labels] = [byName('boxes'), byName('scores'), byName('labels')];
    const r = await ortRun(new Uint8Array(readFileSync(file)), detectionInputs('frcnn'));
    const references: Array<[string, Tensor[]]> = [
      ['onnxruntime', ['boxes', 'scores', 'labels'].map((o) => r.get(o)!)],
      ['PyTorch', pytorchDetections('frcnn')],
    ];
    for (const [what, want] of references) {
      expect(scores.shape, `${what}: detections`).toEqual(want[1]!.shape);
      const m = matchDetections(boxes.data, scores.data, labels.data, want);
      console.log(`frcnn .tflite vs ${what}: ${want[1]!.size} detections (${m.swapped} near-tied in another order), boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
      expect(m.boxesMaxAbs).toBeLessThan(1e-4 * 320);
      expect(m.scoresMaxAbs).toBeLessThan(1e-4);
      expect(m.labels).toEqual(want[2]!.toNumbers());
    }
  });
});
