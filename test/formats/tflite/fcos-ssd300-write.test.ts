// Two torchvision detectors no earlier test converted (scripts/fixtures/detection_models2.py, random init, 5 classes,
// a real photo, the empty-detections Ifs replaced by their else branch): fcos_resnet50_fpn at 256 x 256 (center-ness,
// per-level TopK of a run-time candidate count, batched NMS) and ssd300_vgg16 at 300 x 300 (VGG16 with conv4_3's L2
// scaling: x / ||x|| over channels, extra blocks, per-class score filter + NMS). Each exported model is
// run by nnport against onnxruntime-node and PyTorch, written as .tflite and run by the real TFLite interpreter,
// written as a .pb read back by nnport and run, and written as a TF.js graph model run by TF.js 4.9 (wasm backend);
// every target against PyTorch: same count and order (rows of near-equal scores matched by box), boxes within 1e-4
// of the image size, scores within 1e-4, labels equal.
// Then an empty scene (the score thresholds raised to 1.01: everything after the score filter runs on 0 boxes), the
// exports with their Ifs removed and kept, as .tflite and as TF.js graph models, and SSDlite's and RetinaNet's empty
// scenes (detection_empty_models.py) as TF.js graph models: empty outputs shaped as onnxruntime's. TF.js 4.9's wasm
// TopK trapped (integer divide by zero) on the per-level top-k of no candidates (src/formats/tfjs/graph-quirks.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, loadModelFiles, run, type LoadedModel } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { int32Io } from '../../conformance/tflite-writer-run.js';
import { detectionDir, matchDetections } from '../../support/detections.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = ['fcos', 'ssd300'] as const;
const SIZE: Record<string, number> = { fcos: 256, ssd300: 300 };
const dirOf = (net: string): string => join(ensureScriptFixtures('detection_models2.py', 'detection-models2', [...NETS, ...NETS.map((n) => `${n}_empty`)]), net);
const npy = (net: string, name: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dirOf(net), `${name}.npy`))));
const OUTS = ['boxes', 'scores', 'labels'];

const oracle = useTfliteOracle();
/** The export, loaded afresh for each target. */
const source = (net: string): Promise<LoadedModel> => loadModelFiles([join(dirOf(net), 'model.onnx')]);

beforeAll(async () => {
  await initKernels();
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' failed to start");
  await tf.ready();
}, 600_000);

/** boxes / scores / labels of a target against PyTorch's: same count, boxes within 1e-4 of the image size, scores 1e-4, labels equal. */
function expectPyTorch(net: string, what: string, boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  const want = OUTS.map((o) => npy(net, o));
  expect(scores.length, `${what}: detections`).toBe(want[1]!.size);
  expect(boxes.length, `${what}: boxes`).toBe(want[0]!.size);
  const m = matchDetections(boxes, scores, labels, want);
  console.log(`${net} ${what}: ${want[1]!.size} detections (${m.swapped} near-tied in another order), boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
  expect(m.boxesMaxAbs).toBeLessThan(1e-4 * SIZE[net]!);
  expect(m.scoresMaxAbs).toBeLessThan(1e-4);
  expect(m.labels).toEqual(want[2]!.toNumbers());
}

describe('FCOS and SSD300-VGG16 (torchvision, opset 11): nnport, .tflite, .pb and TF.js graph vs PyTorch', () => {
  for (const net of NETS) {
    it(`${net}: nnport runs the export as onnxruntime-node and PyTorch do`, { timeout: 600_000 }, async () => {
      const x = npy(net, 'image');
      const want = await ortRun(join(dirOf(net), 'model.onnx'), [x]);
      const r = await run(await source(net), { image: x });
      const got = OUTS.map((o) => r.outputs.get(o)!);
      const ort = OUTS.map((o) => want.get(o)!);
      expect(got[1]!.size, 'detections vs onnxruntime').toBe(ort[1]!.size);
      const m = matchDetections(got[0]!.toFloat32(), got[1]!.toFloat32(), got[2]!.toNumbers(), ort);
      console.log(`${net} nnport vs onnxruntime: boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`);
      expect(m.boxesMaxAbs).toBeLessThan(1e-4 * SIZE[net]!);
      expect(m.scoresMaxAbs).toBeLessThan(1e-4);
      expect(m.labels).toEqual(ort[2]!.toNumbers());
      expectPyTorch(net, 'nnport', got[0]!.toFloat32(), got[1]!.toFloat32(), got[2]!.toNumbers());
    });
    it(`${net}: .tflite in the TFLite interpreter`, { timeout: 600_000 }, async () => {
      const { bytes } = await convert(int32Io(await source(net)), 'model.tflite');
      const outs = await oracle.run(bytes, [npy(net, 'image').toFloat32()], 1, 1);
      const byName = (prefix: string) => outs.find((o) => o.name === prefix || o.name.startsWith(`${prefix}__`))!;
      const [b, s, l] = OUTS.map(byName);
      expectPyTorch(net, '.tflite', b!.data, s!.data, l!.data);
    });
    it(`${net}: .pb read back by nnport`, { timeout: 600_000 }, async () => {
      const { bytes } = await convert(await source(net), 'model.pb');
      const back = await loadModel(bytes, { fileName: 'model.pb', outputs: OUTS });
      if (back.kind !== 'graph') throw new Error('no graph');
      const r = await run(back, { [back.graph.inputs[0]!.name]: npy(net, 'image') });
      const [b, s, l] = OUTS.map((o) => r.outputs.get(o)!);
      expectPyTorch(net, '.pb', b!.toFloat32(), s!.toFloat32(), l!.toNumbers());
    });
    it(`${net}: TF.js graph model in TF.js`, { timeout: 600_000 }, async () => {
      const files = await convert(await source(net), 'out/model.json', { tfjsFormat: 'graph' });
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      const [b, s, l] = await runGraphModel(m, [npy(net, 'image')], undefined, OUTS);
      m.dispose();
      expectPyTorch(net, 'TF.js graph', b!.toFloat32(), s!.toFloat32(), l!.toNumbers());
    });
  }
});

describe('an empty scene (no score passes): .tflite and TF.js graph shaped as onnxruntime-node', () => {
  const emptyOf = (net: string): string =>
    net === 'ssdlite' || net === 'retinanet' ? (detectionDir(net), join(ensureScriptFixtures('detection_empty_models.py', 'detection-empty-models', ['ssdlite', 'retinanet']), net)) : dirOf(`${net}_empty`);
  const CASES = [...NETS.flatMap((net) => ['model.onnx', 'model-if.onnx'].map((file) => ({ net, file, targets: ['tflite', 'tfjs'] }))), ...['ssdlite', 'retinanet'].map((net) => ({ net, file: 'model.onnx', targets: ['tfjs'] }))];
  for (const { net, file, targets } of CASES) {
    it(`${net} ${file}`, { timeout: 600_000 }, async () => {
      const path = join(emptyOf(net), file);
      const x = readNpy(new Uint8Array(readFileSync(join(emptyOf(net), 'image.npy'))));
      const want = await ortRun(path, [x]);
      const wantShapes = OUTS.map((o) => want.get(o)!.shape);
      expect(wantShapes).toEqual([[0, 4], [0], [0]]);
      if (targets.includes('tflite')) {
        const { bytes } = await convert(int32Io(await loadModelFiles([path])), 'model.tflite');
        const outs = await oracle.run(bytes, [x.toFloat32()], 1, 1);
        const byName = (prefix: string) => outs.find((o) => o.name === prefix || o.name.startsWith(`${prefix}__`))!;
        expect(OUTS.map((o) => byName(o).shape), '.tflite').toEqual(wantShapes);
      }
      const files = await convert(await loadModelFiles([path]), 'out/model.json', { tfjsFormat: 'graph' });
      const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
      const got = await runGraphModel(m, [x], undefined, OUTS);
      m.dispose();
      expect(got.map((t) => t.shape), 'TF.js graph').toEqual(wantShapes);
    });
  }
});
