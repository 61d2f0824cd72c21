// torchvision's SSDlite (ssdlite320_mobilenet_v3_large, random init, 5 classes) exported as it is,
// the Ifs of its batched NMS kept (detection_models.py model-if.onnx), written as a full-int8
// .tflite: the backbone and heads int8, calibrated on 8 photos (test/support/photos.ts), the
// post-processing (box decoding, score filtering, NMS and its Ifs) float (quantize.ts
// postProcessing). Run by the real interpreter on the held-out photo, its detections against
// PyTorch's: how many of PyTorch's boxes have an int8 box of the same label at IoU >= 0.5, and the
// mean IoU of those; nnport's integer runtime on the file read back against the interpreter the same way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { agreement, detectionDir, detectionInputs, pytorchDetections, type Detections } from '../../support/detections.js';
import { makePhotoSet } from '../../support/photos.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-ssd-int8-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initKernels();
});

describe('SSDlite as exported (Ifs kept) as a full-int8 .tflite', () => {
  it('int8 backbone / heads, float post-processing: detections against PyTorch in the interpreter, nnport\'s integer runtime against the interpreter', { timeout: 600_000 }, async () => {
    const source = await loadModelFiles([join(detectionDir('ssdlite'), 'model-if.onnx')]);
    // [0, 1] RGB as the detector takes it (its transform normalises)
    const photos = makePhotoSet(join(tmp, 'calibration'), { set: 'calibration', count: 8, size: [320, 320], mean: [0, 0, 0], std: [255, 255, 255] });
    const notes: string[] = [];
    const calibration = (inputs: readonly { shape?: readonly unknown[] }[]) => photos.map((p) => [inputs[0]!.shape![0] === 3 ? permuteTensor(p.reshape(p.shape.slice(1)), [2, 0, 1]) : p.reshape(p.shape.slice(1))]);
    const { bytes } = await convert(source, 'ssd-int8.tflite', { int32Io: true, quantize: { mode: 'int8', calibration, onNote: (n) => notes.push(n) } });
    const json = flatcJson<FlatcOps<{ inputs?: number[] }, { tensors: Array<{ type?: string }> }>>(bytes, 'ssd-int8');
    const convs = json.subgraphs.flatMap((s) => s.operators.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(opNameOf(json, o))).map((o) => s.tensors[o.inputs![1]!]!.type ?? 'FLOAT32'));
    const ops = json.subgraphs.flatMap((s) => s.operators.map((o) => opNameOf(json, o)));
    expect(ops).toContain('IF');
    expect(ops).toContain('NON_MAX_SUPPRESSION_V4');
    expect(convs.length).toBeGreaterThan(90);
    expect(convs.every((t) => t === 'INT8')).toBe(true);

    const x = detectionInputs('ssdlite')[0]!;
    const shape = (await oracle.inputs(bytes))[0]!.shape;
    const fed = shape.join() === x.shape.join() ? x : permuteTensor(x, [1, 2, 0]);
    const [b, , l] = await oracle.run(bytes, [fed.toFloat32()], 1, 1);
    const theirs: Detections = { boxes: b!.data as Float32Array, labels: l!.data as Int32Array };
    const [pb, , pl] = pytorchDetections('ssdlite') as [Tensor, Tensor, Tensor];
    const pytorch: Detections = { boxes: pb.toFloat32(), labels: pl.toNumbers() };
    const back = await readTflite(bytes);
    // both requantizations of nnport's integer runtime: the interpreter's reference kernels, and XNNPACK's (which it delegates some subgraphs to)
    const ours = await Promise.all(
      [undefined, 'xnnpack' as const].map(async (requantization) => {
        const mine = [...(await runInteger(back, { [back.inputs[0]!.name]: fed }, { requantization })).outputs.values()];
        return { boxes: mine[0]!.toFloat32(), labels: mine[2]!.toNumbers() };
      }),
    );
    const line = (what: string, r: { matched: number; meanIou: number }, top: number) => `${what} top ${top}: ${r.matched} (mean IoU ${r.meanIou.toFixed(3)})`;
    const vsPytorch = [10, 100, pl.size].map((top) => [top, agreement(pytorch, theirs, top)] as const);
    const vsInterpreter = ours.map((o) => [10, 100, theirs.labels.length].map((top) => [top, agreement(theirs, o, top)] as const));
    console.log(`ssdlite int8 .tflite (${convs.length} int8 convs; ${(bytes.length / 1e6).toFixed(2)} MB): ${theirs.labels.length} detections, PyTorch ${pl.size}; ${notes.join('; ')}`);
    console.log(vsPytorch.map(([top, r]) => line('interpreter vs PyTorch', r, top)).join(', '));
    vsInterpreter.forEach((v, k) => console.log(v.map(([top, r]) => line(`nnport integer runtime (${k ? 'XNNPACK' : 'reference'} requantization) vs interpreter`, r, top)).join(', ')));
    expect(theirs.labels.length).toBe(pl.size);
    expect(vsPytorch[0]![1].matched).toBe(10);
    expect(vsPytorch[1]![1].matched).toBeGreaterThanOrEqual(90);
    expect(vsPytorch[1]![1].meanIou).toBeGreaterThanOrEqual(0.8);
    // (measured: reference 100 of the top 100, XNNPACK 91: the interpreter runs this file's ops on its reference kernels)
    expect(vsInterpreter[0]![1]![1].matched).toBeGreaterThanOrEqual(95);
  });
});
