// A detector that finds nothing, as a .tflite in the real TFLite interpreter vs onnxruntime-node: the
// ops after NMS then run on 0 boxes, and the interpreter traps on some of them ("divide by zero").
// One-op-sized models (scripts/fixtures/tflite_empty_rows.py: the rows of x whose score is positive, a
// NonZero's count as NMS's) with none, one and several rows kept, for each workaround:
//   ScatterND into data of a run-time row count (torchvision's level merge): its indices are wrapped by
//     the data's SHAPE, and FLOOR_MOD fails on a divisor of 0 even over no indices (ops-gap-write.ts);
//   CONV_2D of a batch of 0, TRANSPOSE of 0 rows keeping axis 0 first: a spare zero sample padded on
//     and sliced off, once per chain (lower-empty-batch.ts);
//   what takes 0 rows as it is (FULLY_CONNECTED, SOFTMAX, MEAN, RESHAPE of -1, GATHER).
// Then Faster R-CNN (detection_models.py), Mask R-CNN and Keypoint R-CNN (instance_models.py) on constant images they
// detect nothing in.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { int32Io } from '../../conformance/tflite-writer-run.js';
import { detectionDir } from '../../support/detections.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import type { OracleTensor } from '../../support/tflite-oracle.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const ROWS = ['level_merge', 'mask_head', 'row_ops', 'transposes'];
const rowsDir = (name: string): string => join(ensureScriptFixtures('tflite_empty_rows.py', 'tflite-empty-rows', ROWS), name);
const NETS = ['paste_masks', 'maskrcnn', 'keypointrcnn'];
const netDir = (net: string): string => join(ensureScriptFixtures('instance_models.py', 'instance-models', NETS), net);

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

// none kept, one (level 0), one (level 1), four of both levels
const SCORES = [
  [-1, -1, -1, -1, -1, -1],
  [0.5, -1, -1, -1, -1, -1],
  [-1, -1, 2, -1, -1, -1],
  [0.5, -1, 1.5, 0.2, -0.3, 2],
];

describe('ops over a run-time row count of 0 in the interpreter vs onnxruntime-node', () => {
  // the outputs a 4-D conv output leaves channels-last (the writer's default layout for graph outputs)
  const CASES: Array<{ name: string; outputs: string[]; nhwc?: string[]; ops?: (ops: string[]) => void }> = [
    { name: 'level_merge', outputs: ['y'], ops: (ops) => expect(ops.filter((o) => o === 'SCATTER_ND').length).toBe(4) },
    {
      name: 'mask_head',
      outputs: ['y'],
      nhwc: ['y'],
      // one spare sample for the whole head (its NHWC transpose, 3 convs, the transposed conv): one PAD, one slice
      ops: (ops) => {
        expect(ops.filter((o) => o === 'PAD')).toHaveLength(1);
        expect(ops.filter((o) => o === 'STRIDED_SLICE')).toHaveLength(2);
        expect(ops.indexOf('PAD')).toBeLessThan(ops.indexOf('CONV_2D'));
        expect(ops.lastIndexOf('STRIDED_SLICE')).toBeGreaterThan(ops.lastIndexOf('CONV_2D'));
      },
    },
    { name: 'row_ops', outputs: ['y', 's', 'm', 'r', 'g'], ops: (ops) => expect(ops).not.toContain('PAD') },
    // (0, 2, 3, 1) and (0, 2, 1) padded; (1, 0, 2, 3) moves axis 0 and is not
    { name: 'transposes', outputs: ['y', 'z', 'w'], ops: (ops) => expect(ops.filter((o) => o === 'PAD')).toHaveLength(2) },
  ];
  for (const { name, outputs, nhwc = [], ops } of CASES) {
    it(`${name}: 0, 1 and 4 rows kept`, { timeout: 300_000 }, async () => {
      const dir = rowsDir(name);
      const x = readNpy(new Uint8Array(readFileSync(join(dir, 'x.npy'))));
      const model = readFileSync(join(dir, 'model.onnx'));
      const bytes = await tflite(dir, name);
      ops?.(tfliteOpNames(bytes, name));
      const report: string[] = [];
      for (const s of SCORES) {
        const scores = Tensor.float32([6], s);
        const kept = s.filter((v) => v > 0).length;
        const outs = await oracle.run(bytes, [x.toFloat32(), scores.toFloat32()], 1, 1);
        const want = await ortRun(model, [x, scores]);
        for (const o of outputs) {
          let w = want.get(o)!;
          if (nhwc.includes(o)) w = permuteTensor(w, [0, 2, 3, 1]);
          const got = outputOf(outs, o);
          expect(got.shape, `${o} of ${kept} rows`).toEqual(w.shape);
          expect(got.dtype, `${o} of ${kept} rows`).toBe(w.dtype === 'int64' ? 'int32' : w.dtype);
          const d = maxAbsDiff(Float32Array.from(got.data as ArrayLike<number>), w.toFloat32());
          expect(d, `${o} of ${kept} rows`).toBeLessThanOrEqual(1e-5);
          report.push(`${o}[${got.shape}] ${d.toExponential(1)}`);
        }
      }
      console.log(`${name} .tflite vs onnxruntime-node, max |diff|: ${report.join(', ')}`);
    });
  }
});

describe('Faster R-CNN .tflite (Ifs kept) on an image it detects nothing in, vs onnxruntime-node', () => {
  it('frcnn model-if.onnx: a constant image of -1 gives 0 detections, shaped as onnxruntime\'s', { timeout: 600_000 }, async () => {
    const file = join(detectionDir('frcnn'), 'model-if.onnx');
    const { bytes } = await convert(await loadModelFiles([file]), 'frcnn.tflite', { int32Io: true });
    const image = Tensor.float32([3, 320, 320], new Float32Array(3 * 320 * 320).fill(-1));
    expect((await oracle.inputs(bytes))[0]!.shape).toEqual(image.shape);
    const want = await ortRun(new Uint8Array(readFileSync(file)), [image]);
    expect(want.get('scores')!.shape, 'onnxruntime detections').toEqual([0]);
    const outs = await oracle.run(bytes, [image.toFloat32()], 1, 1);
    for (const o of ['boxes', 'scores', 'labels']) {
      const w = want.get(o)!;
      expect(outputOf(outs, o).shape, o).toEqual(w.shape);
      expect(outputOf(outs, o).dtype, o).toBe(w.dtype === 'int64' ? 'int32' : w.dtype);
    }
  });
});

describe('Mask R-CNN and Keypoint R-CNN .tflite on an image they detect nothing in, vs onnxruntime-node', () => {
  // (random heads: a constant image of -1 gives Mask R-CNN no box above its 0.01 score threshold, one of 10 Keypoint R-CNN;
  // the RPN's proposals, the box head's rows, are not empty)
  const CASES: Array<[string, number, string[]]> = [
    ['maskrcnn', -1, ['boxes', 'labels', 'scores', 'masks']],
    ['keypointrcnn', 10, ['boxes', 'labels', 'scores', 'keypoints', 'keypoints_scores']],
  ];
  for (const [net, value, outputs] of CASES) {
    it(`${net}: a constant image of ${value} gives 0 detections, shaped as onnxruntime's`, { timeout: 900_000 }, async () => {
      const dir = netDir(net);
      const image = Tensor.float32([3, 256, 256], new Float32Array(3 * 256 * 256).fill(value));
      const want = await ortRun(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), [image]);
      expect(want.get('scores')!.shape, 'onnxruntime detections').toEqual([0]);
      const outs = await oracle.run(await tflite(dir, net), [image.toFloat32()], 1, 1);
      for (const o of outputs) {
        const w = want.get(o)!;
        const got = outputOf(outs, o);
        expect(got.shape, o).toEqual(w.shape);
        expect(got.dtype, o).toBe(w.dtype === 'int64' ? 'int32' : w.dtype);
      }
      console.log(`${net} .tflite on a constant ${value} image: ${outputs.map((o) => `${o} [${outputOf(outs, o).shape}]`).join(', ')}`);
    });
  }
});
