// torchvision detectors as torch.onnx.export writes them, their data-dependent Ifs kept (batched_nms's
// `if boxes.numel() == 0`, the box heads' squeezes): scripts/fixtures/detection_models.py's model-if.onnx
// of SSDlite and Faster R-CNN (run-time If as StatelessIf functions / IF subgraphs, NMS of run-time box counts) written as a TF.js graph model and run by TF.js 4.9 (executeAsync), and SSDlite's as a
// .tflite (IF subgraphs) run by the real interpreter; both against onnxruntime-node on the same export,
// the independent runtime for it (PyTorch's eager detections are the fixture's model.onnx test). Same
// count, boxes / scores within 1e-4 (boxes: of the 320-pixel image), near-tied rows matched by box, labels equal.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { detectionDir, detectionInputs, matchDetections } from '../../support/detections.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' failed to start");
  await tf.ready();
});

async function onnxruntime(net: string): Promise<Tensor[]> {
  const r = await ortRun(new Uint8Array(readFileSync(join(detectionDir(net), 'model-if.onnx'))), detectionInputs(net));
  return ['boxes', 'scores', 'labels'].map((o) => r.get(o)!);
}

function expectSame(what: string, boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>, want: Tensor[]): void {
  expect(scores.length, `${what}: detections`).toBe(want[1]!.size);
  const m = matchDetections(boxes, scores, labels, want);
  console.log(`${what}: ${want[1]!.size} detections (${m.swapped} near-tied in another order), boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
  expect(m.boxesMaxAbs).toBeLessThan(1e-4 * 320);
  expect(m.scoresMaxAbs).toBeLessThan(1e-4);
  expect(m.labels).toEqual(want[2]!.toNumbers());
}

describe('torchvision detectors as exported (Ifs kept) vs onnxruntime', () => {
  // (Faster R-CNN's FPN levels no box goes to are empty tensors: see src/formats/tfjs/graph-quirks.ts)
  for (const net of ['ssdlite', 'frcnn']) {
    it(`${net}: TF.js graph model in TF.js`, { timeout: 600_000 }, async () => {
      const source = await loadModelFiles([join(detectionDir(net), 'model-if.onnx')]);
      const files = await convert(source, 'out/model.json', { tfjsFormat: 'graph' });
      expect(files.notes.join('\n')).toMatch(/If kept as tfjs-graph control flow/);
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      const [b, s, l] = await runGraphModel(m, detectionInputs(net), undefined, ['boxes', 'scores', 'labels']);
      m.dispose();
      expectSame(`${net} TF.js graph`, b!.toFloat32(), s!.toFloat32(), l!.toNumbers(), await onnxruntime(net));
    });
  }

  it('ssdlite: .tflite (IF subgraphs, int32 I/O) in the interpreter', { timeout: 600_000 }, async () => {
    const source = await loadModelFiles([join(detectionDir('ssdlite'), 'model-if.onnx')]);
    const { bytes, notes } = await convert(source, 'ssd.tflite', { int32Io: true });
    expect(notes.join('\n')).toMatch(/If kept as tflite control flow/);
    const x = detectionInputs('ssdlite')[0]!;
    const shape = (await oracle.inputs(bytes))[0]!.shape;
    const fed = shape.join() === x.shape.join() ? x : permuteTensor(x, [1, 2, 0]);
    const [b, s, l] = await oracle.run(bytes, [fed.toFloat32()], 1, 1);
    expectSame('ssdlite .tflite', b!.data as Float32Array, s!.data as Float32Array, l!.data as Int32Array, await onnxruntime('ssdlite'));
  });
});
