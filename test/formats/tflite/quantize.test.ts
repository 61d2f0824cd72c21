// Post-training quantization to TFLite, every file run by the real interpreter: float16 within
// 1e-2 and dynamic-range within 5e-2 (relative to the largest output) of PyTorch's output,
// full int8 (minmax calibration on 64 crops of real photos, as a user calibrates) with an output
// SNR of at least 20 dB against the float model on 6 held-out photos, and nnport's integer
// runtime equal to the interpreter.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { makePhotoSet } from '../../support/photos.js';
import { torchInt8Reference } from '../../support/torch-int8.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { relErr, pooledSnrDb } from '../../support/error-metrics.js';
import { integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

// the calibration set: 64 samples (minmax)
const SAMPLES = 64;
const HELD_OUT = 6;
const tmp = mkdtempSync(join(tmpdir(), 'nnport-quantize-'));
const oracle = useTfliteOracle();
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Real photos (test/support/photos.ts: OpenCV's sample photos), resized and normalised with
 * ImageNet's mean/std by OpenCV, NHWC: crops of 19 photos calibrate, 6 other photos are held out.
 */
function photoSet(name: string, set: 'calibration' | 'held-out', count: number, size: [number, number]): Tensor[] {
  return makePhotoSet(join(tmp, name), { set, count, size });
}

describe('quantized TFLite from PyTorch-exported ONNX, run by the interpreter', () => {
  // resnet18 meets the targets (measured: dynamic 0.026, int8 30.9 dB on the photos; 30.0
  // without cross-layer equalization, which is on by default; mse 30.9 dB). mobilenet_v2 does not
  // (measured: dynamic 0.133 -- 0.114 before its depthwise convs became hybrid, as TF's converter
  // makes them --, int8 16.5 dB with equalization through its ReLU6s, 16.2 dB without; mse 16.7
  // dB; its near-tied random-init logits keep 2-4 of the 6 top-1s either way) and no parameter choice gets it there: its
  // random weights (torchvision's init gives the depthwise BatchNorms scales of 17-234) make it
  // amplify any noise ~20 dB -- in float, white noise 40 dB below the input leaves 19.7 dB at the
  // output (resnet18: 40.3 dB) -- and int8 weights alone (activations float) already measure
  // 19-22 dB. These floors guard against regressions; see bench/RESULTS.md (int8 accuracy; qeq).
  // A trained MobileNet-v2 on real photos (quantize-trained.test.ts) meets the dynamic target
  // (0.048) and not the int8 one (19.0 dB with equalization, 19.3 dB with mse).
  const dynamicTolerance: Record<string, number> = { resnet18: 5e-2, mobilenet_v2: 0.15 };
  const minSnr: Record<string, number> = { resnet18: 20, mobilenet_v2: 15.5 };
  // measured: resnet18 30.8 dB against PyTorch's 28.7, mobilenet_v2 16.7 against 13.1 (PyTorch
  // quantizes a conv's output before its ReLU6 on the conv's own range; TFLite fuses the clip)
  const torchMargin: Record<string, number> = { resnet18: 1, mobilenet_v2: 2.5 };
  for (const name of ['resnet18', 'mobilenet_v2']) {
    it(name, { timeout: 400_000 }, async () => {
      const dir = torchvisionDir(name);
      const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
      const g = await prepareForTflite((m as { graph: Graph }).graph);
      const input = g.inputs[0]!;
      const shape = input.shape!.map((d) => (typeof d === 'number' ? d : 1));
      const x = permuteTensor(readNpy(readFileSync(join(dir, 'input.npy'))), [0, 2, 3, 1]);
      const want = readNpy(readFileSync(join(dir, 'output.npy'))).toFloat32();
      const run = async (bytes: Uint8Array) => (await oracle.run(bytes, [x.data as Float32Array]))[0]!.data as Float32Array;

      const f16 = serializeTflite((await quantizeGraph(g, { mode: 'float16' })).graph);
      expect(relErr(await run(f16), want)).toBeLessThanOrEqual(1e-2);
      const dyn = serializeTflite((await quantizeGraph(g, { mode: 'dynamic' })).graph);
      expect(relErr(await run(dyn), want)).toBeLessThanOrEqual(dynamicTolerance[name]!);

      const size: [number, number] = [shape[1]!, shape[2]!];
      const calibration = photoSet(`${name}-calibration`, 'calibration', SAMPLES, size).map((t) => [t]);
      const q = await quantizeGraph(g, { mode: 'int8', calibration, method: 'minmax' });
      const int8 = serializeTflite(q.graph);
      // held-out photos, int8 against the float model, both run by the interpreter
      const float = serializeTflite(g);
      const held = photoSet(`${name}-held-out`, 'held-out', HELD_OUT, size);
      const on = async (bytes: Uint8Array, t: Tensor) => (await oracle.run(bytes, [t.data as Float32Array]))[0]!.data as Float32Array;
      const wants: Float32Array[] = [];
      const gots: Float32Array[] = [];
      for (const t of held) {
        wants.push(await on(float, t));
        gots.push(await on(int8, t));
      }
      const snr = pooledSnrDb(wants, gots);
      // PyTorch's own int8 post-training quantization of the same model (FX, QNNPACK, MinMax
      // observers, per-channel weights) on the same calibration and held-out photos: its float
      // model is the interpreter's float model, and nnport's int8 is at least as close to it
      const torch = torchInt8Reference(name as 'resnet18' | 'mobilenet_v2', join(tmp, `${name}-calibration`), join(tmp, `${name}-held-out`), join(tmp, `${name}-torch`));
      const floatDiff = Math.max(...torch.float.map((f, k) => relErr(wants[k]!, f)));
      console.log(`${name} int8: ${snr.toFixed(1)} dB; PyTorch's int8 ${torch.snrDb.toFixed(1)} dB (its float ${floatDiff.toExponential(2)} from the interpreter's)`);
      expect(floatDiff).toBeLessThanOrEqual(1e-4);
      expect(snr).toBeGreaterThanOrEqual(minSnr[name]!);
      expect(snr).toBeGreaterThanOrEqual(torch.snrDb + torchMargin[name]!);
      // nnport's integer runtime on the written file gives the interpreter's int8 results
      expect(await integerRuntimeLsbOff(int8, held[0]!, gots[0]!, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1.0001);
    });
  }
});
