// Detection post-processing with run-time box counts (a score filter, TopK, NonZero / GatherND, NMS
// of the boxes left) written to a GraphDef and to a TF.js graph model, against PyTorch
// (scripts/fixtures/detection_models.py): a small score-filter + torchvision.ops.nms module, and
// torchvision's ssdlite320_mobilenet_v3_large and retinanet_resnet50_fpn (random init, a real photo,
// every data-dependent If replaced by its else branch by the fixture script), and
// fasterrcnn_mobilenet_v3_large_320_fpn (RoiAlign as CropAndResize; an FPN level no box goes to is an
// empty tensor, which TF.js' wasm backend mishandles in GatherV2 / Transpose: see src/formats/tfjs/graph-quirks.ts).
// The .pb is read back by nnport and run; the TF.js graph model runs in TF.js 4.9 (executeAsync: NonMaxSuppressionV5, Where). Boxes within 1e-4 of the 320-pixel image and
// scores within 1e-4 of PyTorch's, same count and order (rows of near-equal scores matched by box),
// labels equal.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { DETECTION_NETS, detectionDir, detectionInputs, matchDetections, pytorchDetections } from '../../support/detections.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = DETECTION_NETS;
const dirOf = detectionDir;
const inputsOf = detectionInputs;

/** boxes / scores within 1e-4 of PyTorch's (boxes: 1e-4 of the 320-pixel image), same count and order (matchDetections); labels equal. */
function expectPyTorch(net: string, what: string, got: Tensor[]): void {
  const want = pytorchDetections(net);
  expect(got[0]!.shape, `${what} boxes`).toEqual(want[0]!.shape);
  expect(got[1]!.shape, `${what} scores`).toEqual(want[1]!.shape);
  const m = matchDetections(got[0]!.toFloat32(), got[1]!.toFloat32(), got[2]!.toNumbers(), want);
  console.log(`${net} ${what}: ${want[1]!.shape[0]} detections (${m.swapped} of them in near-tied runs in another order), boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
  expect(m.boxesMaxAbs).toBeLessThan(1e-4 * 320);
  expect(m.scoresMaxAbs).toBeLessThan(1e-4);
  expect(m.labels).toEqual(want[2]!.toNumbers());
}

beforeAll(async () => {
  await initKernels();
  // the WASM backend (XNNPACK) runs the ResNet-50 RetinaNet in seconds where the CPU backend takes minutes
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' failed to start");
  await tf.ready();
});

describe('detection post-processing with run-time box counts: GraphDef and TF.js graph vs PyTorch', () => {
  for (const net of NETS) {
    it(`${net}: .pb read back by nnport`, { timeout: 600_000 }, async () => {
      const source = await loadModelFiles([join(dirOf(net), 'model.onnx')]);
      const { bytes } = await convert(source, 'model.pb');
      const sourceOutputs = (source as { graph: { outputs: Array<{ name: string }> } }).graph.outputs.map((o) => o.name);
      // (the outputs are found as a frozen graph's are, nothing named: the RPN's unread TopK values are not written)
      const back = await loadModel(bytes, { fileName: 'model.pb' });
      if (back.kind !== 'graph') throw new Error('no graph');
      const g = back.graph;
      const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, inputsOf(net)[i]!]));
      const r = await run(back, feeds);
      // the outputs listed as the source lists them
      expect([...r.outputs.keys()]).toEqual(sourceOutputs);
      expectPyTorch(net, '.pb', ['boxes', 'scores', 'labels'].map((o) => r.outputs.get(o)!));
    });
    it(`${net}: TF.js graph model in TF.js`, { timeout: 600_000 }, async () => {
      const source = await loadModelFiles([join(dirOf(net), 'model.onnx')]);
      const files = await convert(source, 'out/model.json', { tfjsFormat: 'graph' });
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      const got = await runGraphModel(m, inputsOf(net), undefined, ['boxes', 'scores', 'labels']);
      m.dispose();
      expectPyTorch(net, 'TF.js graph', got);
    });
  }
});
