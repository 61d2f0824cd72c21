// torchvision's ssd300_vgg16 and fcos_resnet50_fpn (scripts/fixtures/detection_models2.py: random init, 5 classes,
// the empty-detections Ifs removed) as full-int8 .tflite files: backbone and heads int8, calibrated on 4 photos
// (test/support/photos.ts), the post-processing float. Run by the real interpreter on the held-out photo; nnport's
// integer runtime on the file read back gives the interpreter's boxes, scores and labels exactly. Their NMS makes the
// tensors dynamic-sized, so the interpreter runs its builtin kernels, not XNNPACK: its CONV_2D rounds once (the
// reference kernel's double rounding had left SSD300 at 97 of the interpreter's top 100, FCOS's stem 862 of 1,048,576
// outputs one step off), and FCOS's GroupNorm heads stay float, their MEAN summed in float32 (integer/ops.ts).
// SSD300: its conv4_3 L2 scaling (F.normalize: x / max(||x||, eps)) has a Clip(min = eps) of the quantized norm,
// which the TFLite writer refused ('quantized Clip with bounds other than ReLU/ReLU6/ReLU1'); it is MAXIMUM with the
// bound rounded onto the input's grid (ops-write.ts clip); its detections against PyTorch's: how many of PyTorch's
// boxes have an int8 box of the same label at IoU >= 0.5, and their mean IoU. FCOS's random-init ResNet-50 with frozen
// BatchNorm loses its SNR layer by layer, so its int8 detections are not compared with PyTorch's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteBuffer } from 'flatbuffers';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { agreement, type Detections } from '../../support/detections.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { makePhotoSet } from '../../support/photos.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-detectors-int8-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initKernels();
});

const SIZE = { ssd300: 300, fcos: 256 } as const;
const dir = (net: string): string => join(ensureScriptFixtures('detection_models2.py', 'detection-models2', ['fcos', 'ssd300', 'fcos_empty', 'ssd300_empty']), net);
const npy = (net: string, name: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir(net), `${name}.npy`))));
/**
 * The type of input `at` of every `op` of the file's main subgraph, read with the flatbuffers runtime (flatc's JSON of
 * FCOS's 33 MB file is longer than a JavaScript string may be).
 */
function operandTypes(bytes: Uint8Array, op: keyof typeof BuiltinOperator, at: number): string[] {
  const model = Model.getRootAsModel(new ByteBuffer(bytes));
  const main = model.subgraphs(0)!;
  const types: string[] = [];
  for (let i = 0; i < main.operatorsLength(); i++) {
    const o = main.operators(i)!;
    const code = model.operatorCodes(o.opcodeIndex())!;
    if (Math.max(code.builtinCode(), code.deprecatedBuiltinCode()) === BuiltinOperator[op]) types.push(TensorType[main.tensors(o.inputs(at)!)!.type()]!);
  }
  return types;
}

describe('torchvision detectors as full-int8 .tflite files', () => {
  for (const net of ['ssd300', 'fcos'] as const) {
    it(`${net}: int8 backbone and heads; nnport's integer runtime gives the interpreter's detections exactly`, { timeout: 900_000 }, async () => {
      const source = await loadModelFiles([join(dir(net), 'model.onnx')]);
      // [0, 1] RGB as the detector takes it (its transform normalises)
      const photos = makePhotoSet(join(tmp, `calibration-${net}`), { set: 'calibration', count: 4, size: [SIZE[net], SIZE[net]], mean: [0, 0, 0], std: [255, 255, 255] });
      const calibration = (inputs: readonly { shape?: readonly unknown[] }[]) => photos.map((p) => [inputs[0]!.shape![0] === 3 ? permuteTensor(p.reshape(p.shape.slice(1)), [2, 0, 1]) : p.reshape(p.shape.slice(1))]);
      const { bytes } = await convert(source, `${net}-int8.tflite`, { int32Io: true, quantize: { mode: 'int8', calibration } });
      const convs = operandTypes(bytes, 'CONV_2D', 1);
      expect(convs.length).toBeGreaterThan(30);
      expect(convs.every((t) => t === 'INT8')).toBe(true);
      // SSD300's L2 scaling's Clip(min = eps): MAXIMUM of int8 tensors; FCOS's GroupNorms: float MEANs
      if (net === 'ssd300') expect(operandTypes(bytes, 'MAXIMUM', 0)).toContain('INT8');
      else expect(operandTypes(bytes, 'MEAN', 0).filter((t) => t === 'FLOAT32').length).toBeGreaterThanOrEqual(2 * 4 * 5);

      const x = npy(net, 'image');
      const shape = (await oracle.inputs(bytes))[0]!.shape;
      const fed = shape.join() === x.shape.join() ? x : permuteTensor(x, [1, 2, 0]);
      const outs = await oracle.run(bytes, [fed.toFloat32()], 1, 1);
      const back = await readTflite(bytes);
      const mine = [...(await runInteger(back, { [back.inputs[0]!.name]: fed }, { requantization: 'xnnpack' })).outputs.values()];
      const theirs: Detections = { boxes: outs[0]!.data as Float32Array, labels: outs[2]!.data as Int32Array };
      const pl = npy(net, 'labels');
      console.log(`${net} int8 .tflite (${convs.length} int8 convs; ${(bytes.length / 1e6).toFixed(2)} MB): ${theirs.labels.length} detections, PyTorch ${pl.size}`);
      expect(mine.map((t) => [...t.toFloat32()])).toEqual(outs.map((o) => Array.from(o.data as ArrayLike<number>)));
      if (net !== 'ssd300') return;
      const pytorch: Detections = { boxes: npy(net, 'boxes').toFloat32(), labels: pl.toNumbers() };
      const vsPytorch = [10, 100, pl.size].map((top) => [top, agreement(pytorch, theirs, top)] as const);
      console.log(vsPytorch.map(([top, r]) => `interpreter vs PyTorch top ${top}: ${r.matched} (mean IoU ${r.meanIou.toFixed(3)})`).join(', '));
      expect(theirs.labels.length).toBe(pl.size);
      // (measured: 10 of the top 10, 88 of the top 100 at mean IoU 0.73 against PyTorch; the random-init heads, scaled
      // down by the fixture, leave near scores that int8 reorders; calibrated on 8 photos (the model with Ifs kept): 99, 0.89)
      expect(vsPytorch[0]![1].matched).toBeGreaterThanOrEqual(9);
      expect(vsPytorch[1]![1].matched).toBeGreaterThanOrEqual(80);
      expect(vsPytorch[1]![1].meanIou).toBeGreaterThanOrEqual(0.7);
    });
  }
});
