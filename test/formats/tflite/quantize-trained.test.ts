// Post-training quantization of a *trained* MobileNet-v2, against issue #10's targets (int8 minmax
// on 64 samples: SNR >= 20 dB on held-out inputs; dynamic within 5e-2 relative), every file run by
// the real TFLite interpreter. The torchvision fixture (random init) amplifies noise ~20 dB and
// cannot meet them (quantize.test.ts); trained weights we can only get from the corpus' TinyNN
// int8 MobileNet-v2 (torchvision's, converted from PyTorch): --dequantize turns it back into the
// float model it computes (int8-rounded weights, float activations), and that is what we quantize.
// Inputs are real photos (OpenCV's sample photos from Debian's opencv-doc, test/support/photos.ts):
// 64 crops of 19 photos calibrate, the centre crops of 6 other photos are held out. Measured:
// int8 minmax 19.0 dB with the default cross-layer equalization, through the ReLU6s too (17.4 dB
// with the linear bottlenecks only, 14.9 dB without), mse 19.3 dB (equalized too; 18.7 dB with the
// linear bottlenecks only, 17.1 dB without), TinyNN's own int8 15.6 dB; dynamic 0.048.
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { dequantizeGraph } from '../../../src/passes/dequantize.js';
import { channelRangeObserver, equalizeGraph, findEqualizationGroups } from '../../../src/passes/equalize.js';
import { quantizeGraph } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { argmax, nchwPhotoSet, TRAINED_MOBILENET_V2 as MODEL } from '../../support/photos.js';
import { corpusPath } from '../../support/corpus.js';
import { relErr, pooledSnrDb } from '../../support/error-metrics.js';
import { integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';
import { torchInt8Reference } from '../../support/torch-int8.js';

const SAMPLES = 64;
const HELD_OUT = 6;
const tmp = mkdtempSync(join(tmpdir(), 'nnport-quantize-trained-'));
const oracle = useTfliteOracle();
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
const photoSet = (set: 'calibration' | 'held-out', count: number) => nchwPhotoSet(tmp, set, count);

describe('trained MobileNet-v2 (TinyNN int8, dequantized) quantized again, run by the interpreter', () => {
  it('float reference checked, then int8 minmax and dynamic against it', { timeout: 400_000 }, async () => {
    const bytes8 = new Uint8Array(readFileSync(corpusPath(MODEL)));
    const model = await loadModel(bytes8, { fileName: 'mobilenet_v2_quantized.tflite' });
    const floatTflite = (await convert(model, 'float.tflite', { dequantize: true })).bytes;
    const floatOnnx = (await convert(model, 'float.onnx', { dequantize: true })).bytes;
    const held = photoSet('held-out', HELD_OUT);
    const on = async (bytes: Uint8Array, t: Tensor | ArrayBufferView) => (await oracle.run(bytes, [t instanceof Tensor ? (t.data as Float32Array) : t]))[0]!.data;
    const wants: Float32Array[] = [];
    for (const t of held) wants.push((await on(floatTflite, t)) as Float32Array);

    // the float model is the int8 one without its activation rounding: the same top-1 as the
    // original int8 model in the interpreter (its int8 input quantized with the file's parameters)
    const g8 = await readTflite(bytes8);
    const inDq = g8.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0]!.startsWith('input.9'))!;
    const [inScale] = g8.initializers.get(inDq.inputs[1]!)!.toNumbers() as [number];
    const [inZero] = g8.initializers.get(inDq.inputs[2]!)!.toNumbers() as [number];
    const outQ = g8.nodes.find((n) => n.opType === 'QuantizeLinear' && n.outputs[0] === g8.outputs[0]!.name)!;
    const [outScale] = g8.initializers.get(outQ.inputs[1]!)!.toNumbers() as [number];
    const [outZero] = g8.initializers.get(outQ.inputs[2]!)!.toNumbers() as [number];
    const orig: Float32Array[] = [];
    for (const t of held) {
      const x = t.data as Float32Array;
      const q = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / inScale) + inZero)));
      orig.push(Float32Array.from(await on(bytes8, q), (v) => (v - outZero) * outScale));
    }
    const topF = wants.map(argmax);
    const tinynnSnr = pooledSnrDb(wants, orig);
    console.log(`top-1 float ${topF.join(',')}, TinyNN int8 ${orig.map(argmax).join(',')}; TinyNN int8 vs float ${tinynnSnr.toFixed(1)} dB`);
    // the photos are recognised (butterfly 323 monarch, fruits 951 orange, messi5 805 soccer ball,
    // squirrel 335 fox squirrel, baboon 372, home 663) by the float model and TinyNN's int8 file
    // alike: measured 6 of 6 top-1 equal, TinyNN's int8 15.6 dB against the float model; a wrong
    // dequantization (zero point, axis, layout) would give an SNR near or below 0 dB
    expect([topF[0], topF[1], topF[2], topF[3]]).toEqual([323, 951, 805, 335]);
    expect(topF.filter((c, k) => c === argmax(orig[k]!)).length).toBe(HELD_OUT);
    expect(tinynnSnr).toBeGreaterThanOrEqual(14);

    // independent check of the float model: onnxruntime on the .onnx nnport writes from the same graph
    const session = await ort.InferenceSession.create(floatOnnx, { logSeverityLevel: 3 });
    let ortWorst = 0;
    for (const [k, t] of held.entries()) {
      const r = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', t.data as Float32Array, [...t.shape]) });
      ortWorst = Math.max(ortWorst, relErr(r[session.outputNames[0]!]!.data as Float32Array, wants[k]!));
    }
    await session.release();
    expect(ortWorst).toBeLessThanOrEqual(1e-4);

    // full int8, minmax on 64 calibration images (other photos than the held-out ones), with
    // quantizeGraph's default cross-layer equalization (src/passes/equalize.ts)
    const g = await prepareForTflite(dequantizeGraph(await readTflite(bytes8)).graph as Graph);
    const calibration = photoSet('calibration', SAMPLES).map((t) => [t]);

    // equalization keeps the float function on the data it was planned from: the 7 linear-bottleneck
    // groups (residual streams of 16-320 channels) and, through the ReLU6s, the 17 conv -> ReLU6 ->
    // depthwise and 17 depthwise -> ReLU6 -> projection groups, rescaled (alpha 1) from 8
    // calibration photos' ranges; a ReLU6 channel keeps its bound on every value up to twice its
    // calibrated maximum (the default headroom), so these 8 photos run exactly as before in the
    // interpreter, and other photos nearly so
    const groups = findEqualizationGroups(g);
    expect(groups.filter((gr) => !gr.clipped.size).map((gr) => gr.channels)).toEqual([16, 24, 32, 64, 96, 160, 320]);
    expect(groups.filter((gr) => gr.clipped.size).length).toBe(34);
    const observer = channelRangeObserver(groups);
    const planned = calibration.slice(0, 8).map(([x]) => x!);
    for (const x of planned) await runGraph(g, { [g.inputs[0]!.name]: x }, { onValue: observer.observe });
    const equalized = equalizeGraph(g, groups, observer.ranges, { alpha: 1 });
    console.log(`equalized ${equalized.groups} of ${groups.length} groups`);
    expect(equalized.groups).toBeGreaterThanOrEqual(40);
    const original = serializeTflite(g);
    const equalizedFloat = serializeTflite(equalized.graph);
    let eqWorst = 0;
    for (const x of planned) eqWorst = Math.max(eqWorst, relErr((await on(equalizedFloat, x)) as Float32Array, (await on(original, x)) as Float32Array));
    const eqHeld: Float32Array[] = [];
    for (const t of held) eqHeld.push((await on(equalizedFloat, t)) as Float32Array);
    const eqHeldSnr = pooledSnrDb(wants, eqHeld);
    console.log(`equalized float vs float: ${eqWorst.toExponential(2)} relative on the 8 photos it was planned from; ${eqHeldSnr.toFixed(1)} dB on the held-out photos`);
    expect(eqWorst).toBeLessThanOrEqual(1e-5);
    expect(eqHeldSnr).toBeGreaterThanOrEqual(30);

    const q = await quantizeGraph(g, { mode: 'int8', calibration, method: 'minmax', report: true });
    const int8 = serializeTflite(q.graph);
    const gots: Float32Array[] = [];
    for (const t of held) gots.push((await on(int8, t)) as Float32Array);
    const snr = pooledSnrDb(wants, gots);
    const worstOwn = Math.min(...(q.report ?? []).map((e) => e.ownSnrDb));
    console.log(`int8 minmax: ${snr.toFixed(1)} dB against float (TinyNN's own int8: ${tinynnSnr.toFixed(1)} dB); lowest per-layer own SNR ${worstOwn.toFixed(1)} dB`);
    // The 20 dB is not met: measured 19.0 dB with equalization through the ReLU6s (17.4
    // dB with the linear bottlenecks only, 14.9 dB without, and TinyNN's own int8 file, calibrated
    // by TinyNN, 15.6 dB; on synthetic photo-like images 8.7 and 10.1 dB). The network amplifies
    // per-tensor activation rounding, the known MobileNet-v2 post-training weakness; what is left
    // is mostly the 160-channel residual stream of blocks 14-16 (about 40 % of the noise), whose
    // tensors share one scale per channel and cannot all be balanced at once (bench/RESULTS.md,
    // qclip). The int8 model keeps the float model's top-1 on every held-out photo. Floors guard
    // against regressions (a little under the measurement: 6 photos vary by a few tenths of a dB
    // with any change of rounding).
    expect(gots.filter((o, k) => argmax(o) === topF[k]).length).toBe(HELD_OUT);
    expect(snr).toBeGreaterThanOrEqual(18.5);
    expect(snr).toBeGreaterThanOrEqual(tinynnSnr + 3);
    // PyTorch's own int8 post-training quantization (FX, QNNPACK, MinMax observers, per-channel
    // weights) of torchvision's mobilenet_v2 holding these weights, on the same photos: its float
    // model is the interpreter's; measured 9.6 dB on 24 held-out photos (PyTorch quantizes each
    // conv's output before its ReLU6 on the conv's own range, where TFLite fuses the clip)
    writeFileSync(join(tmp, 'float.onnx'), floatOnnx);
    const torch = torchInt8Reference('trained', join(tmp, 'calibration'), join(tmp, 'held-out'), join(tmp, 'torch'), join(tmp, 'float.onnx'));
    const torchFloat = Math.max(...torch.float.map((f, k) => relErr(wants[k]!, f)));
    console.log(`PyTorch's int8: ${torch.snrDb.toFixed(1)} dB against its float (${torchFloat.toExponential(2)} from the interpreter's float)`);
    expect(torchFloat).toBeLessThanOrEqual(1e-4);
    expect(snr).toBeGreaterThanOrEqual(torch.snrDb + 5);
    // nnport's integer runtime on the written file gives the interpreter's int8 results
    const lsbOff = (file: Uint8Array, got: Float32Array) => integerRuntimeLsbOff(file, held[0]!, got, { requantization: 'xnnpack' });
    // (this needs XNNPACK's half-to-even QUANTIZE of the float input: one pixel on a .5 tie
    // rounded the other way became 12 LSB at the output, as this network amplifies)
    expect(await lsbOff(int8, gots[0]!)).toBeLessThanOrEqual(1.0001);

    // calibration method 'mse' (per tensor the range with the least rounding + clipping error on
    // the calibration histogram of the equalized graph): measured 19.3 dB (18.7 dB with the linear
    // bottlenecks equalized only, 17.1 dB without equalization), the best of the methods; still
    // short of 20 (nnport's QDQ simulation of the same file gives 20.2 dB: the two differ from
    // each other by 21.5 dB, about as much as each differs from float, so 6 photos tell their
    // rounding apart by ~1 dB); top-1 kept on every photo
    const mse = serializeTflite((await quantizeGraph(g, { mode: 'int8', calibration, method: 'mse' })).graph);
    const mseGots: Float32Array[] = [];
    for (const t of held) mseGots.push((await on(mse, t)) as Float32Array);
    const mseSnr = pooledSnrDb(wants, mseGots);
    console.log(`int8 mse: ${mseSnr.toFixed(1)} dB against float`);
    expect(mseGots.filter((o, k) => argmax(o) === topF[k]).length).toBe(HELD_OUT);
    expect(mseSnr).toBeGreaterThanOrEqual(18.8);
    expect(mseSnr).toBeGreaterThanOrEqual(tinynnSnr + 3);
    expect(await lsbOff(mse, mseGots[0]!)).toBeLessThanOrEqual(1.0001);

    // dynamic range: int8 weights, float activations
    const dyn = serializeTflite((await quantizeGraph(g, { mode: 'dynamic' })).graph);
    let dynWorst = 0;
    for (const [k, t] of held.entries()) dynWorst = Math.max(dynWorst, relErr((await on(dyn, t)) as Float32Array, wants[k]!));
    console.log(`dynamic: ${dynWorst.toFixed(4)} relative to float`);
    // the 5e-2 holds (worst of the 6 photos): measured 0.048 with TF's layout of hybrid ops
    // (depthwise convs hybrid too, FULLY_CONNECTED with asymmetric_quantize_inputs; 0.057 with
    // the depthwise convs left float). The error is the hybrid kernels' on-the-fly int8
    // activations: the weights here are exact, and per-channel dense weights (exact too, behind a
    // DEQUANTIZE) measured 0.058 against 0.057 per tensor.
    expect(dynWorst).toBeLessThanOrEqual(5e-2);
  });
});
