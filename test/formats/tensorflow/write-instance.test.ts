// torchvision's instance heads after the box detector (scripts/fixtures/instance_models.py), exported with
// their Ifs and Loops as torch.onnx.export writes them, as TF.js graph models run by TF.js 4.9 (wasm
// backend, executeAsync): paste_masks_in_image (a Loop of run-time trip count whose body resizes each mask
// to its box's size, a Resize of sizes computed in the loop, and pads it into the image; before it a
// ConvTranspose over the run-time count of kept masks) against PyTorch; Mask R-CNN and Keypoint R-CNN
// (ResNet-50 FPN, 256 x 256) against onnxruntime-node on the same export. Mask R-CNN and Keypoint R-CNN also
// written as a .pb, read back by nnport's TF reader and run by nnport, against onnxruntime-node (paste_masks' .pb
// read back: read-computed-resize.test.ts).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maskAgreement, matchDetections } from '../../support/detections.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../tfjs/graph-oracle.js';

const NETS = ['paste_masks', 'maskrcnn', 'keypointrcnn'];
const dirOf = (net: string): string => join(ensureScriptFixtures('instance_models.py', 'instance-models', NETS), net);
const npy = (net: string, name: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dirOf(net), `${name}.npy`))));

beforeAll(async () => {
  await initKernels();
  if (!tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' failed to start");
  await tf.ready();
});

/** The net's model.onnx as a TF.js graph model run by TF.js on `inputs`: its outputs by name. */
async function tfjsOutputs(net: string, inputs: Tensor[], names: string[]): Promise<Map<string, Tensor>> {
  const files = await convert(await loadModelFiles([join(dirOf(net), 'model.onnx')]), 'out/model.json', { tfjsFormat: 'graph' });
  expect(files.notes.join('\n')).toMatch(/Loop kept as tfjs-graph control flow/);
  const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
  const got = await runGraphModel(m, inputs, undefined, names);
  m.dispose();
  return new Map(names.map((k, i) => [k, got[i]!]));
}

/** Per-detection rows of `got` in the order of the target's rows. */
function rowsOf(t: Tensor, rows: number[]): Float32Array {
  const per = t.size / t.shape[0]!;
  const d = t.toFloat32();
  return Float32Array.from(rows.flatMap((r) => Array.from(d.subarray(r * per, (r + 1) * per))));
}

/**
 * The net's model.onnx written as a .pb by nnport, read back by nnport and run: its outputs by name. `outputs` names
 * them (as --outputs does): the .pb also leaves nodes nothing reads (the RPN's unread TopK values), which a reader
 * guessing a frozen graph's outputs would take for outputs too.
 */
async function pbOutputs(net: string, feed: (input: string) => Tensor, outputs: string[]): Promise<Map<string, Tensor>> {
  const { bytes } = await convert(await loadModelFiles([join(dirOf(net), 'model.onnx')]), 'model.pb');
  const back = await loadModel(bytes, { fileName: 'model.pb', outputs });
  if (back.kind !== 'graph') throw new Error('no graph');
  return (await run(back, Object.fromEntries(back.graph.inputs.map((v) => [v.name, feed(v.name)])))).outputs;
}

/** Detections (boxes, scores, labels; Mask R-CNN's masks, Keypoint R-CNN's keypoints) of `got` against onnxruntime's `want`. */
function expectOrtDetections(net: string, what: string, got: Map<string, Tensor>, want: Map<string, Tensor>, scoresTol = 1e-4): void {
  const [wb, ws, wl] = ['boxes', 'scores', 'labels'].map((k) => want.get(k)!);
  expect(got.get('scores')!.size, 'detections').toBe(ws!.size);
  const m = matchDetections(got.get('boxes')!.toFloat32(), got.get('scores')!.toFloat32(), got.get('labels')!.toNumbers(), [wb!, ws!, wl!]);
  // (ResNet-50 FPN features, RoiAlign and exponentiated box deltas: within 0.1 px of the 256-pixel image)
  expect(m.boxesMaxAbs).toBeLessThan(0.1);
  expect(m.scoresMaxAbs).toBeLessThan(scoresTol);
  expect(m.labels).toEqual(wl!.toNumbers());
  const report = [`${net} ${what}: ${ws!.size} detections, boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`];
  if (net === 'maskrcnn') {
    // a pasted mask moves by a pixel where a box edge lies within float rounding of a whole pixel: at most a row or
    // column of one mask (256 pixels) for each edge that crosses (measured: TF.js 0 pixels on one machine, 67 on an
    // AMD EPYC, where onnxruntime's convs round otherwise; the .pb read back 3)
    const g = rowsOf(got.get('masks')!, m.rows);
    const w = want.get('masks')!.toFloat32();
    const { off, meanAbs } = maskAgreement(g, w);
    report.push(`masks: ${off} of ${w.length} pixels off by > 0.05, mean |diff| ${meanAbs.toExponential(2)}`);
    expect(off).toBeLessThanOrEqual(2 * 256);
    expect(meanAbs).toBeLessThan(5e-5);
  } else {
    // a keypoint is the argmax of its heatmap resized to the box: a near-tie may pick the neighbouring pixel
    const g = rowsOf(got.get('keypoints')!, m.rows);
    const w = want.get('keypoints')!.toFloat32();
    const d = Array.from(g, (v, i) => Math.abs(v - w[i]!));
    const moved = d.filter((v) => v > 1e-2).length;
    report.push(`keypoints: max |diff| ${Math.max(...d).toExponential(2)} px, ${moved} of ${d.length} coordinates moved`);
    expect(Math.max(...d)).toBeLessThanOrEqual(1);
    expect(moved).toBeLessThanOrEqual(2);
    const gs = rowsOf(got.get('keypoints_scores')!, m.rows);
    const wsk = want.get('keypoints_scores')!.toFloat32();
    const top = wsk.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(maxAbsDiff(gs, wsk)).toBeLessThan(1e-3 * top);
  }
  console.log(report.join('; '));
}

describe('instance heads as exported (Loops kept) -> TF.js graph model', () => {
  it('paste_masks: ConvTranspose of a run-time count and the paste Loop equal PyTorch', { timeout: 600_000 }, async () => {
    const inputs = ['masks', 'boxes', 'scores'].map((k) => npy('paste_masks', k));
    const want = npy('paste_masks', 'images');
    const got = (await tfjsOutputs('paste_masks', inputs, ['images'])).get('images')!;
    expect(got.shape).toEqual(want.shape);
    const diff = maxAbsDiff(got.toFloat32(), want.toFloat32());
    console.log(`paste_masks: ${want.shape[0]} masks pasted, max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
  });

  for (const net of ['maskrcnn', 'keypointrcnn']) {
    it(`${net}: the same detections as onnxruntime-node`, { timeout: 600_000 }, async () => {
      const image = npy(net, 'image');
      const want = await ortRun(new Uint8Array(readFileSync(join(dirOf(net), 'model.onnx'))), [image]);
      expectOrtDetections(net, 'TF.js graph', await tfjsOutputs(net, [image], [...want.keys()]), want);
    });
  }
});

describe('instance heads as exported (Loops kept) -> .pb read back by nnport', () => {
  for (const net of ['maskrcnn', 'keypointrcnn']) {
    it(`${net}: the .pb read back gives the same detections as onnxruntime-node`, { timeout: 600_000 }, async () => {
      const image = npy(net, 'image');
      const want = await ortRun(new Uint8Array(readFileSync(join(dirOf(net), 'model.onnx'))), [image]);
      const got = await pbOutputs(net, () => image, [...want.keys()]);
      expect([...got.keys()]).toEqual([...want.keys()]);
      // nnport's runtime sums the ResNet-50 FPN in another order than onnxruntime: on the source model.onnx itself
      // Keypoint R-CNN's scores are 1.06e-4 from onnxruntime's (1.11e-4 read back from the .pb)
      expectOrtDetections(net, '.pb read back', got, want, 2e-4);
    });
  }
});
