// Empirical bias correction (src/passes/bias-correction.ts, quantizeGraph's biasCorrection) on the
// trained MobileNet-v2 (the corpus' TinyNN int8 file dequantized, as quantize-trained.test.ts),
// every file run by the real TFLite interpreter: 64 photo crops calibrate, 24 other photos are held
// out (test/support/photos.ts; 6 photos measure an SNR only to about +-1 dB). Measured with the
// mse calibration method: 19.2 dB without, 19.85 dB with bias correction (minmax: 18.0 -> 18.4 dB).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { dequantizeGraph } from '../../../src/passes/dequantize.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { argmax, HELD_OUT_PHOTOS, nchwPhotoSet, TRAINED_MOBILENET_V2 as MODEL } from '../../support/photos.js';
import { integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-bias-correction-'));
const oracle = useTfliteOracle();
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
const photoSet = (set: 'calibration' | 'held-out', count: number) => nchwPhotoSet(tmp, set, count);

describe('bias correction on the trained MobileNet-v2, run by the interpreter', () => {
  it('raises the int8 output SNR on 24 held-out photos and changes nothing but int32 biases', { timeout: 600_000 }, async () => {
    const g = await prepareForTflite(dequantizeGraph(await readTflite(new Uint8Array(readFileSync(corpusPath(MODEL))))).graph as Graph);
    const calibration = photoSet('calibration', 64).map((t) => [t]);
    const held = photoSet('held-out', HELD_OUT_PHOTOS);
    expect(held.length).toBe(24);
    const on = async (bytes: Uint8Array, t: Tensor) => Float32Array.from((await oracle.run(bytes, [t.data as Float32Array]))[0]!.data as Float32Array);
    const float = serializeTflite(g);
    const wants: Float32Array[] = [];
    for (const t of held) wants.push(await on(float, t));

    const plain = await quantizeGraph(g, { mode: 'int8', calibration, method: 'mse' });
    const corrected = await quantizeGraph(g, { mode: 'int8', calibration, method: 'mse', biasCorrection: true });

    // the same graph but for the int32 bias of each conv / depthwise / dense layer (53 here), each
    // moved by a small fraction of its range
    expect(corrected.graph.nodes).toEqual(plain.graph.nodes);
    let changed = 0;
    for (const [name, t] of plain.graph.initializers) {
      const c = corrected.graph.initializers.get(name)!;
      const a = t.toNumbers();
      const b = c.toNumbers();
      if (a.every((v, i) => v === b[i])) continue;
      expect(t.dtype).toBe('int32');
      changed++;
    }
    console.log(`bias correction changed ${changed} int32 biases`);
    expect(changed).toBe(53);

    const snrOf = async (file: Uint8Array) => {
      const gots: Float32Array[] = [];
      for (const t of held) gots.push(await on(file, t));
      return { gots, snr: pooledSnrDb(wants, gots) };
    };
    const before = await snrOf(serializeTflite(plain.graph));
    const correctedFile = serializeTflite(corrected.graph);
    const after = await snrOf(correctedFile);
    console.log(`int8 mse: ${before.snr.toFixed(2)} dB, with bias correction ${after.snr.toFixed(2)} dB (24 held-out photos, interpreter)`);
    // measured 19.20 -> 19.85 dB (the first 32 of the 64 samples measure the shifts; about 20.0
    // dB with all 64). Both files run on the same photos, so their difference is measured more
    // closely than each SNR (per-photo noise powers give each about +-0.35 dB); the floor of
    // +0.35 dB fails when the correction is removed (+0) and leaves room for other changes of
    // the int8 parameters.
    expect(after.snr - before.snr).toBeGreaterThanOrEqual(0.35);
    expect(after.snr).toBeGreaterThanOrEqual(19.5);
    // the float model's top-1 kept as often as without the correction
    const top1 = (gots: Float32Array[]) => gots.filter((o, k) => argmax(o) === argmax(wants[k]!)).length;
    expect(top1(after.gots)).toBeGreaterThanOrEqual(top1(before.gots));
    // nnport's integer runtime on the corrected file gives the interpreter's int8 results
    for (const k of [0, 6, 23]) expect(await integerRuntimeLsbOff(correctedFile, held[k]!, after.gots[k]!, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1.0001);
  });
});
