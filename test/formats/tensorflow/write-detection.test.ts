// Detection post-processing with run-time box counts (a score filter, TopK, NonZero / GatherND, NMS
// of the boxes left) written to a GraphDef and to a TF.js graph model, against PyTorch
// (scripts/fixtures/detection_models.py): a small score-filter + torchvision.ops.nms module, and
// torchvision's ssdlite320_mobilenet_v3_large and retinanet_resnet50_fpn (random init, a real photo,
// every If replaced by its else branch by the fixture script); fasterrcnn_mobilenet_v3_large_320_fpn
// is refused: the else branch of torchvision's opset-11 squeeze leaves its RoiAlign batch_indices
// [n, 1] (ONNX wants [n]), so shapes after it are unknown. The .pb is read back by nnport and run; the TF.js graph model runs in
// TF.js 4.9 (executeAsync: NonMaxSuppressionV5, Where). Boxes within 1e-4 of the 320-pixel image and
// scores within 1e-4 of PyTorch's, same count and order (rows of near-equal scores matched by box),
// labels equal.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = ['score_nms', 'ssdlite', 'frcnn', 'retinanet'] as const;
const npy = (path: string): Tensor => readNpy(new Uint8Array(readFileSync(path)));
const dirOf = (net: string): string => join(ensureScriptFixtures('detection_models.py', 'detection-models', NETS), net);

function inputsOf(net: string): Tensor[] {
  const dir = dirOf(net);
  return net === 'score_nms' ? [npy(join(dir, 'boxes_in.npy')), npy(join(dir, 'scores_in.npy'))] : [npy(join(dir, 'image.npy'))];
}

/**
 * The detections in PyTorch's order: where PyTorch's scores of neighbouring rows are within 1e-5 (a float32
 * rounding apart: another runtime may order them either way), the rows of that run are matched to the
 * target's by their boxes and labels; every other row must be at the same place.
 */
function alignNearTies(got: Tensor[], want: Tensor[]): { rows: number[]; swapped: number } {
  const ws = want[1]!.toFloat32();
  const gb = got[0]!.toFloat32();
  const wb = want[0]!.toFloat32();
  const gl = got[2]!.toNumbers();
  const wl = want[2]!.toNumbers();
  const rows: number[] = [];
  let swapped = 0;
  for (let i = 0; i < ws.length; ) {
    let j = i + 1;
    while (j < ws.length && Math.abs(ws[j]! - ws[j - 1]!) < 1e-5) j++;
    const free = new Set(Array.from({ length: j - i }, (_, k) => i + k));
    for (let r = i; r < j; r++) {
      let best = r;
      let bestD = Infinity;
      for (const c of free) {
        const d = gl[c] === wl[r] ? maxAbsDiff(gb.subarray(4 * c, 4 * c + 4), wb.subarray(4 * r, 4 * r + 4)) : Infinity;
        if (d < bestD) [best, bestD] = [c, d];
      }
      free.delete(best);
      rows.push(best);
      if (best !== r) swapped++;
    }
    i = j;
  }
  return { rows, swapped };
}

/** boxes / scores within 1e-4 of PyTorch's (boxes: 1e-4 of the 320-pixel image), same count and order (alignNearTies); labels equal. */
function expectPyTorch(net: string, what: string, got: Tensor[]): void {
  const dir = dirOf(net);
  const want = ['boxes', 'scores', 'labels'].map((o) => npy(join(dir, `${o}.npy`)));
  expect(got[0]!.shape, `${what} boxes`).toEqual(want[0]!.shape);
  expect(got[1]!.shape, `${what} scores`).toEqual(want[1]!.shape);
  const { rows, swapped } = alignNearTies(got, want);
  const pick = (t: Tensor, w: number): number[] => rows.flatMap((r) => Array.from(t.toNumbers().slice(r * w, r * w + w)));
  const db = maxAbsDiff(pick(got[0]!, 4), want[0]!.toFloat32());
  const ds = maxAbsDiff(pick(got[1]!, 1), want[1]!.toFloat32());
  console.log(`${net} ${what}: ${want[1]!.shape[0]} detections (${swapped} of them in near-tied runs in another order), boxes max |diff| ${db.toExponential(2)}, scores ${ds.toExponential(2)}`);
  expect(db).toBeLessThan(1e-4 * 320);
  expect(ds).toBeLessThan(1e-4);
  expect(pick(got[2]!, 1)).toEqual(want[2]!.toNumbers());
}

beforeAll(async () => {
  await initKernels();
  // the WASM backend (XNNPACK) runs the ResNet-50 RetinaNet in seconds where the CPU backend takes minutes
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' failed to start");
  await tf.ready();
});

describe('detection post-processing with run-time box counts: GraphDef and TF.js graph vs PyTorch', () => {
  // RoiAlign has a GraphDef row (CropAndResize), but this export's batch_indices are [n, 1]: refused, typed
  it('frcnn: refused, typed', { timeout: 600_000 }, async () => {
    const source = await loadModelFiles([join(dirOf('frcnn'), 'model.onnx')]);
    await expect(convert(source, 'model.pb')).rejects.toThrow(UnsupportedError);
  });
  for (const net of NETS.filter((n) => n !== 'frcnn')) {
    it(`${net}: .pb read back by nnport`, { timeout: 600_000 }, async () => {
      const source = await loadModelFiles([join(dirOf(net), 'model.onnx')]);
      const { bytes } = await convert(source, 'model.pb');
      const back = await loadModel(bytes, { fileName: 'model.pb' });
      if (back.kind !== 'graph') throw new Error('no graph');
      const g = back.graph;
      const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, inputsOf(net)[i]!]));
      const r = await run(back, feeds);
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
