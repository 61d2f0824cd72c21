// torchvision's Mask R-CNN and Keypoint R-CNN (ResNet-50 FPN, 256 x 256, exported with their Ifs and
// Loops: scripts/fixtures/instance_models.py) as .tflite files run by the real TFLite interpreter,
// against onnxruntime-node on the same export, with write-instance.test.ts's tolerances; and the
// lowerings they need, each on one-op ONNX models (scripts/fixtures/tflite_instance_ops.py) against
// onnxruntime-node: an int64 Range of run-time bounds as an int32 RANGE and a CAST
// (lower-int64-range.ts), a cubic Resize to a size computed at run time as 4 GATHER taps per axis
// and their cubic weights (lower-cubic-resize.ts; Keypoint R-CNN resizes each box's heatmaps so in a loop).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { int32Io } from '../../conformance/tflite-writer-run.js';
import { maskAgreement, matchDetections } from '../../support/detections.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import type { OracleTensor } from '../../support/tflite-oracle.js';
import { useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const NETS = ['paste_masks', 'maskrcnn', 'keypointrcnn'];
const netDir = (net: string): string => join(ensureScriptFixtures('instance_models.py', 'instance-models', NETS), net);
const CUBIC = ['half_pixel', 'align_corners', 'asymmetric', 'pytorch_half_pixel', 'tf_half_pixel_for_nn', 'exclude'].map((m) => `cubic_${m}`);
const OPS = ['range_int64', 'range_fed', ...CUBIC, 'cubic_scales'];
const opDir = (name: string): string => join(ensureScriptFixtures('tflite_instance_ops.py', 'tflite-instance-ops', OPS), name);

/** The .tflite's output whose name is `name` (or the writer's `name__...`). */
const outputOf = (outs: OracleTensor[], name: string): OracleTensor => {
  const o = outs.find((t) => t.name === name || t.name.startsWith(`${name}__`));
  if (!o) throw new Error(`no output '${name}' among ${outs.map((t) => t.name).join(', ')}`);
  return o;
};

/** The model.onnx in `dir` as a .tflite (int64 inputs / outputs as int32: the interpreter returns no int64). */
async function tflite(dir: string, name: string): Promise<Uint8Array> {
  return (await convert(int32Io(await loadModelFiles([join(dir, 'model.onnx')])), `${name}.tflite`)).bytes;
}

/** Per-detection rows of `data` (rows of `per` values) in the order of the target's rows. */
function rowsOf(data: ArrayLike<number>, per: number, rows: number[]): Float32Array {
  return Float32Array.from(rows.flatMap((r) => Array.from({ length: per }, (_, k) => data[r * per + k]!)));
}

describe('int64 Range of run-time bounds: an int32 RANGE and a CAST in the interpreter vs onnxruntime-node', () => {
  it('Range(0, k, 1) and Range(k, 0, -2) of k a run-time count (Shape of a NonZero)', { timeout: 300_000 }, async () => {
    const dir = opDir('range_int64');
    const bytes = await tflite(dir, 'range_int64');
    const model = readFileSync(join(dir, 'model.onnx'));
    for (const x of [[1, 2, 3, 4, 5, 6], [-1, 0.5, -2, 3, 0, 7], [0, -1, -2, -3, 0.5, -5], [0, -1, -2, -3, -4, -5]]) {
      const input = Tensor.float32([6], x);
      const outs = await oracle.run(bytes, [input.toFloat32()], 1, 1);
      const want = await ortRun(model, [input]);
      for (const name of ['y', 'z']) {
        const got = outputOf(outs, name);
        expect(got.shape, `${name} of ${x}`).toEqual(want.get(name)!.shape);
        expect(Array.from(got.data), `${name} of ${x}`).toEqual(Array.from(want.get(name)!.toFloat32()));
      }
    }
  });

  it('Range(2, n, 3) and Range(5, n, step) of fed int64 n, step: refused as they are, written from int32 inputs', { timeout: 300_000 }, async () => {
    const dir = opDir('range_fed');
    await expect(convert(await loadModelFiles([join(dir, 'model.onnx')]), 'range_fed.tflite')).rejects.toThrow(/Range of int64 in a TFLite file/);
    const bytes = await tflite(dir, 'range_fed');
    const model = readFileSync(join(dir, 'model.onnx'));
    const int64 = (v: number) => new Tensor('int64', [], BigInt64Array.of(BigInt(v)));
    // a limit behind the start (n = 1, -4 by step 3; n = 9 by step -2) makes ONNX's Range empty: the limit is clamped to the start for TFLite's RANGE
    for (const [n, step] of [[11, 3], [12, 2], [3, 1], [2, 3], [1, 3], [-4, -2], [9, -2], [5, 4]]) {
      const outs = await oracle.run(bytes, [Int32Array.of(n!), Int32Array.of(step!)], 1, 1);
      const want = await ortRun(model, [int64(n!), int64(step!)]);
      for (const name of ['y', 'z']) {
        const got = outputOf(outs, name);
        expect(got.shape, `${name} n=${n} step=${step}`).toEqual(want.get(name)!.shape);
        expect(Array.from(got.data), `${name} n=${n} step=${step}`).toEqual(Array.from(want.get(name)!.toFloat32()));
      }
    }
  });
});

describe('cubic Resize as GATHER taps in the interpreter vs onnxruntime-node', () => {
  // (onnxruntime's cubic: 2-D, or 4-D with N and C kept; x (2, 3, 7, 9) to (2, 3, h, w))
  const SIZES = [[11, 4], [3, 17], [1, 1], [7, 9], [14, 18], [2, 9], [7, 5]];
  for (const name of CUBIC) {
    it(`${name}: to sizes (N, C, h, w) with h, w fed at run time`, { timeout: 300_000 }, async () => {
      const dir = opDir(name);
      const x = readNpy(new Uint8Array(readFileSync(join(dir, 'x.npy'))));
      const bytes = await tflite(dir, name);
      const model = readFileSync(join(dir, 'model.onnx'));
      const report: string[] = [];
      for (const hw of SIZES) {
        const [got] = await oracle.run(bytes, [x.toFloat32(), Int32Array.from(hw)], 1, 1);
        const want = (await ortRun(model, [x, new Tensor('int64', [2], BigInt64Array.from(hw.map(BigInt)))])).get('y')!;
        expect(got!.shape, `${hw}`).toEqual(want.shape);
        const d = maxAbsDiff(got!.data as Float32Array, want.toFloat32());
        report.push(`${hw.join('x')} ${d.toExponential(1)}`);
        expect(d, `${name} to ${hw}`).toBeLessThanOrEqual(1e-5);
      }
      console.log(`${name} .tflite vs onnxruntime-node, max |diff|: ${report.join(', ')}`);
    });
  }

  it('is refused by name with int8 / 16-bit activations', async () => {
    const dir = opDir('cubic_half_pixel');
    const x = readNpy(new Uint8Array(readFileSync(join(dir, 'x.npy'))));
    const hw = new Tensor('int64', [2], BigInt64Array.of(11n, 4n));
    for (const mode of ['int8', 'int16x8'] as const) {
      const err = await convert(await loadModelFiles([join(dir, 'model.onnx')]), 'c.tflite', { quantize: { mode, calibration: [[x, hw]] } }).catch((e: unknown) => e);
      expect(String(err)).toMatch(/Resize cubic with (int8|16-bit) activations in a TFLite file.*c\.tflite/);
    }
  });

  it('cubic_scales: asymmetric by scales (1, 1, 1.7, 0.6) of an input of run-time height / width', { timeout: 300_000 }, async () => {
    const dir = opDir('cubic_scales');
    const model = readFileSync(join(dir, 'model.onnx'));
    const bytes = await tflite(dir, 'cubic_scales');
    const report: string[] = [];
    for (const [h, w] of [[6, 10], [5, 3], [1, 7]]) {
      const x = Tensor.float32([1, 2, h!, w!], Array.from({ length: 2 * h! * w! }, (_, i) => Math.sin(1.3 * i) * 2));
      const [got] = await oracle.run(withStoredDim(withStoredDim(bytes, 2, h!), 3, w!), [x.toFloat32()], 1, 1);
      const want = (await ortRun(model, [x])).get('y')!;
      expect(got!.shape, `${h}x${w}`).toEqual(want.shape);
      const d = maxAbsDiff(got!.data as Float32Array, want.toFloat32());
      report.push(`${h}x${w} ${d.toExponential(1)}`);
      expect(d, `${h}x${w}`).toBeLessThanOrEqual(1e-5);
    }
    console.log(`cubic_scales .tflite vs onnxruntime-node, max |diff|: ${report.join(', ')}`);
  });
});

describe('Mask R-CNN and Keypoint R-CNN as exported (Ifs and Loops kept) -> .tflite in the interpreter vs onnxruntime-node', () => {
  for (const net of ['maskrcnn', 'keypointrcnn']) {
    it(`${net}: the same detections`, { timeout: 900_000 }, async () => {
      const dir = netDir(net);
      const image = readNpy(new Uint8Array(readFileSync(join(dir, 'image.npy'))));
      const want = await ortRun(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), [image]);
      const outs = await oracle.run(await tflite(dir, net), [image.toFloat32()], 1, 1);
      const [wb, ws, wl] = ['boxes', 'scores', 'labels'].map((k) => want.get(k)!);
      const [boxes, scores, labels] = ['boxes', 'scores', 'labels'].map((k) => outputOf(outs, k));
      expect(scores!.shape, 'detections').toEqual(ws!.shape);
      const m = matchDetections(boxes!.data, scores!.data, labels!.data, [wb!, ws!, wl!]);
      // (ResNet-50 FPN features, RoiAlign and exponentiated box deltas: within 0.1 px of the 256-pixel image)
      expect(m.boxesMaxAbs).toBeLessThan(0.1);
      expect(m.scoresMaxAbs).toBeLessThan(1e-4);
      expect(m.labels).toEqual(wl!.toNumbers());
      const report = [`${net} .tflite: ${ws!.size} detections, boxes max |diff| ${m.boxesMaxAbs.toExponential(2)}, scores ${m.scoresMaxAbs.toExponential(2)}`];
      if (net === 'maskrcnn') {
        // a pasted mask moves by a pixel where a box edge lies within float rounding of a whole pixel
        const wm = want.get('masks')!;
        const per = wm.size / wm.shape[0]!;
        const got = outputOf(outs, 'masks');
        expect(got.shape).toEqual(wm.shape);
        const g = rowsOf(got.data, per, m.rows);
        const w = wm.toFloat32();
        const { off, meanAbs } = maskAgreement(g, w);
        report.push(`masks: ${off} of ${w.length} pixels off by > 0.05, mean |diff| ${meanAbs.toExponential(2)}`);
        expect(off / w.length).toBeLessThan(1e-5);
        expect(meanAbs).toBeLessThan(1e-5);
      } else {
        // a keypoint is the argmax of its heatmap resized to the box: a near-tie may pick the neighbouring pixel
        const wk = want.get('keypoints')!;
        const g = rowsOf(outputOf(outs, 'keypoints').data, wk.size / wk.shape[0]!, m.rows);
        const w = wk.toFloat32();
        const d = Array.from(g, (v, i) => Math.abs(v - w[i]!));
        const moved = d.filter((v) => v > 1e-2).length;
        report.push(`keypoints: max |diff| ${Math.max(...d).toExponential(2)} px, ${moved} of ${d.length} coordinates moved`);
        expect(Math.max(...d)).toBeLessThanOrEqual(1);
        expect(moved).toBeLessThanOrEqual(2);
        const wsk = want.get('keypoints_scores')!;
        const gs = rowsOf(outputOf(outs, 'keypoints_scores').data, wsk.size / wsk.shape[0]!, m.rows);
        const top = wsk.toFloat32().reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        const sd = maxAbsDiff(gs, wsk.toFloat32());
        report.push(`keypoint scores: max |diff| ${sd.toExponential(2)} of ${top.toExponential(2)}`);
        expect(sd).toBeLessThan(1e-3 * top);
      }
      console.log(report.join('; '));
    });
  }
});
