// Channel splitting (src/passes/channel-split.ts, quantizeGraph's channelSplit) on the trained
// MobileNet-v2 (the corpus' TinyNN int8 model dequantized, as quantize-trained.test.ts), int8
// minmax on 64 photo crops, run by the real TFLite interpreter on the 24 held-out photos against
// the float model. Measured (bench/RESULTS.md, acc): plain minmax 17.97 dB; the seven linear groups
// split into offset copies 19.63 dB; with the 17 depthwise -> ReLU6 -> projection tensors split by
// range too (the default) 21.02 dB, issue #10's 20 dB with minmax ranges, the file 4.0 -> 6.55 MB.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { dequantizeGraph } from '../../../src/passes/dequantize.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { corpusPath } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { argmax, HELD_OUT_PHOTOS, nchwPhotoSet, TRAINED_MOBILENET_V2 } from '../../support/photos.js';
import { integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-channel-split-'));
const oracle = useTfliteOracle();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('channel splitting on the trained MobileNet-v2, run by the interpreter', () => {
  it('reaches 20 dB with minmax ranges on held-out photos, and the integer runtime agrees', { timeout: 300_000 }, async () => {
    const g = await prepareForTflite(dequantizeGraph(await readTflite(new Uint8Array(readFileSync(corpusPath(TRAINED_MOBILENET_V2))))).graph as Graph);
    const calibration = nchwPhotoSet(tmp, 'calibration', 64).map((t) => [t]);
    const held = nchwPhotoSet(tmp, 'held-out', HELD_OUT_PHOTOS);
    const on = async (bytes: Uint8Array, x: Float32Array) => (await oracle.run(bytes, [x]))[0]!.data as Float32Array;
    const float = serializeTflite(g);
    const wants: Float32Array[] = [];
    for (const t of held) wants.push(await on(float, t.data as Float32Array));
    const notes: string[] = [];
    const file = serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration, method: 'minmax', channelSplit: true, onNote: (n) => notes.push(n) })).graph);
    const gots: Float32Array[] = [];
    for (const t of held) gots.push(await on(file, t.data as Float32Array));
    const snr = pooledSnrDb(wants, gots);
    const top1 = gots.filter((x, k) => argmax(x) === argmax(wants[k]!)).length;
    console.log(`int8 minmax, channel split: ${snr.toFixed(2)} dB (top-1 ${top1}/${held.length}, ${file.length} bytes); ${notes.join('; ')}`);
    // the seven linear groups are split into offset copies (the 34 ReLU6 ones are left by that
    // split), and the 17 ReLU6 outputs that projections read are split by range
    expect(notes).toContainEqual(expect.stringMatching(/^channel split: 7 groups of 712 channels doubled; 34 left \(a Relu/));
    expect(notes).toContainEqual(expect.stringMatching(/^clip split: 17 ReLU6 outputs in 2 ranges, \d+ channels added/));
    // plain minmax: 3,996,624 bytes; split 6,552,432
    expect(file.length).toBeLessThan(1.75 * 3_996_624);
    // measured 21.02 dB (plain minmax 17.97, the linear split alone 19.63, top-1 20/24 for plain minmax)
    expect(snr).toBeGreaterThanOrEqual(20.5);
    expect(top1).toBeGreaterThanOrEqual(20);
    // nnport's integer runtime on the split file gives the interpreter's int8 results
    expect(await integerRuntimeLsbOff(file, held[0]!, gots[0]!, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1.0001);
  });
});
