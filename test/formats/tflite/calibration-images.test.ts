// Calibration from images (`convert --calibration-images DIR --mean --std`): nnport's PNG / BMP /
// JPEG decoding, bilinear resize and normalisation give the arrays OpenCV makes of the same files
// (scripts/fixtures/calibration_images.py: cv2.imread + cv2.resize INTER_LINEAR), the int8
// ranges calibrated from the images equal those calibrated from OpenCV's arrays, and a model
// converted by the CLI with image calibration runs in the real TFLite interpreter.
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import { decodeImage } from '../../../src/image/decode.js';
import { imageToInput } from '../../../src/image/input.js';
import type { Graph } from '../../../src/ir/graph.js';
import { quantizeGraph, snrDb } from '../../../src/passes/quantize.js';
import { IMAGENET_MEAN as MEAN, IMAGENET_STD as STD, makeCalibrationImages } from '../../support/calibration-images.js';
import { corpusPath } from '../../support/corpus.js';
import { startTfliteOracle, type TfliteOracle } from '../../support/tflite-oracle.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-calib-images-'));
const PERSON = ['person.bmp', 'no_person.bmp'].map((f) => corpusPath(`tflite/tflm-person-detect-int8/testdata/${f}`));
let index: Record<string, { format: string; npy: string }>;
let oracle: TfliteOracle;

const makeImages = (out: string, also: string[], seed = 3) => makeCalibrationImages(out, { count: 18, size: [64, 64], seed, also });

beforeAll(async () => {
  registerAllFormats();
  makeImages(join(tmp, 'set'), PERSON);
  index = JSON.parse(readFileSync(join(tmp, 'set/index.json'), 'utf8'));
  oracle = await startTfliteOracle();
}, 120_000);
afterAll(async () => {
  await oracle?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const pathOf = (file: string) => (file.startsWith('/') ? file : join(tmp, 'set/images', file));
const mine = (file: string) => imageToInput(decodeImage(new Uint8Array(readFileSync(pathOf(file))), file), [1, 64, 64, 3], { mean: MEAN, std: STD });
const opencv = (file: string) => readNpy(readFileSync(join(tmp, 'set', index[file]!.npy)));

/** Largest and mean absolute difference, in pixel levels (0..255) */
function levels(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) * STD[i % 3]!;
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe('images as model inputs: nnport vs OpenCV (decode, bilinear resize, normalise)', () => {
  it('PNG (RGB, RGBA, gray, palette, 16-bit) and BMP (24-bit, 8-bit palette, the corpus person images) equal OpenCV within float rounding', () => {
    const exact = Object.keys(index).filter((f) => index[f]!.format.startsWith('png') || index[f]!.format.startsWith('bmp') || index[f]!.format === 'given');
    expect(new Set(exact.map((f) => index[f]!.format))).toEqual(new Set(['png-rgb', 'png-rgba', 'png-gray', 'png-palette', 'png-16', 'bmp-24', 'bmp-8', 'given']));
    for (const f of exact) {
      const want = opencv(f);
      const got = mine(f);
      expect(got.shape).toEqual(want.shape);
      expect(levels(got.data as Float32Array, want.data as Float32Array).max, f).toBeLessThan(1e-3);
    }
  });

  it('JPEG (baseline) equals libjpeg within the IDCT/colour rounding of two decoders (4:4:4) or their chroma upsampling (4:2:0)', () => {
    const jpegs = Object.keys(index).filter((f) => index[f]!.format.startsWith('jpg'));
    expect(jpegs.length).toBeGreaterThanOrEqual(4);
    for (const f of jpegs) {
      const d = levels(mine(f).data as Float32Array, opencv(f).data as Float32Array);
      if (index[f]!.format === 'jpg-444') {
        expect(d.max, f).toBeLessThanOrEqual(4);
        expect(d.mean, f).toBeLessThan(1);
      } else {
        // jpeg-js replicates subsampled chroma, libjpeg interpolates it ("fancy upsampling"): the
        // images agree except along sharp colour edges
        expect(d.mean, f).toBeLessThan(3);
      }
    }
  });

  it('a truncated PNG, a BMP whose pixels run past the end and a non-image are one-line typed errors', () => {
    const png = readFileSync(pathOf(Object.keys(index).find((f) => index[f]!.format === 'png-rgb')!));
    expect(() => decodeImage(new Uint8Array(png.subarray(0, png.length - 40)), 'cut.png')).toThrow(/cut\.png.*(CRC|past the end|truncated|IEND)/);
    const bmp = readFileSync(PERSON[0]!);
    expect(() => decodeImage(new Uint8Array(bmp.subarray(0, 4000)), 'cut.bmp')).toThrow(/cut\.bmp.*runs past the end/);
    expect(() => decodeImage(new TextEncoder().encode('hello, world'), 'note.png')).toThrow(/note\.png.*not a PNG, JPEG or BMP/);
  });
});

describe('int8 calibration from images (seg_head)', () => {
  it('gives the ranges that calibration on OpenCV\'s arrays of the same files gives', { timeout: 120_000 }, async () => {
    const m = await readModel(new Uint8Array(readFileSync(join(torchvisionDir('seg_head'), 'model.onnx'))), { fileName: 'seg_head.onnx' });
    const g = await prepareForTflite((m as { graph: Graph }).graph);
    // the decoders that agree exactly (PNG, BMP); JPEG differs by the decoders' rounding
    const files = Object.keys(index).filter((f) => /^(png|bmp)/.test(index[f]!.format));
    const params = async (calibration: Parameters<typeof quantizeGraph>[1]['calibration']) => {
      const q = (await quantizeGraph(g, { mode: 'int8', calibration })).graph;
      const out = new Map<string, [number, number]>();
      for (const n of q.nodes) {
        if (n.opType !== 'QuantizeLinear') continue;
        out.set(n.outputs[0]!, [q.initializers.get(n.inputs[1]!)!.toNumbers()[0]!, q.initializers.get(n.inputs[2]!)!.toNumbers()[0]!]);
      }
      return out;
    };
    // images through the same hook the CLI uses: samples made for the graph's input shape
    const fromImages = await params((inputs) => files.map((f) => [imageToInput(decodeImage(new Uint8Array(readFileSync(pathOf(f))), f), inputs[0]!.shape!, { mean: MEAN, std: STD })]));
    const fromNpy = await params(files.map((f) => [opencv(f)]));
    expect(fromImages.size).toBeGreaterThan(5);
    expect([...fromImages.keys()]).toEqual([...fromNpy.keys()]);
    for (const [v, [scale, zp]] of fromImages) {
      const [s2, z2] = fromNpy.get(v)!;
      expect(Math.abs(scale - s2) / s2, v).toBeLessThan(1e-4);
      expect(Math.abs(zp - z2), v).toBeLessThanOrEqual(1);
    }
  });

  it('convert --quantize int8 --calibration-images: the .tflite runs in the interpreter close to the float model on a held-out image', { timeout: 180_000 }, async () => {
    const dir = join(tmp, 'calib');
    mkdirSync(dir);
    for (const f of readdirSync(join(tmp, 'set/images'))) copyFileSync(join(tmp, 'set/images', f), join(dir, f));
    const out = join(tmp, 'seg_head_int8.tflite');
    const err: string[] = [];
    const code = await main(['convert', join(torchvisionDir('seg_head'), 'model.onnx'), '-o', out, '--quantize', 'int8', '--calibration-images', dir, '--mean', MEAN.join(','), '--std', STD.join(','), '--report', join(tmp, 'report.json')], () => undefined, (s) => err.push(s));
    expect(err.join('\n')).toBe('');
    expect(code).toBe(0);
    // the per-layer report: every quantized value, its accumulated error (snrDb) and its own
    // rounding/clipping (ownSnrDb), which is part of the accumulated one
    const report = JSON.parse(readFileSync(join(tmp, 'report.json'), 'utf8')) as { layers: { value: string; op: string; snrDb: number; ownSnrDb: number; maxAbs: number }[] };
    expect(report.layers.map((l) => l.op)).toEqual(expect.arrayContaining(['nnport::Conv', 'Add', 'Softmax']));
    for (const l of report.layers) {
      expect(l.ownSnrDb, l.value).toBeGreaterThan(30);
      expect(l.ownSnrDb, l.value).toBeGreaterThanOrEqual(l.snrDb - 0.5);
    }
    // held out: a scene of the same generator, not among the calibration images
    makeCalibrationImages(join(tmp, 'held'), { count: 1, size: [64, 64], seed: 4, formats: 'png-rgb' });
    const x = readNpy(readFileSync(join(tmp, 'held/npy/img_000.npy')));
    const m = await readModel(new Uint8Array(readFileSync(join(torchvisionDir('seg_head'), 'model.onnx'))), { fileName: 'seg_head.onnx' });
    const float = serializeTflite(await prepareForTflite((m as { graph: Graph }).graph));
    const want = (await oracle.run(float, [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(new Uint8Array(readFileSync(out)), [x.data as Float32Array]))[0]!.data as Float32Array;
    expect(got.length).toBe(want.length);
    expect(snrDb(want, got)).toBeGreaterThanOrEqual(20);
  });

  it('the CLI refuses --mean without --calibration-images, both calibration folders, a --std of the wrong length, --no-equalize and --bias-correction without int8', { timeout: 60_000 }, async () => {
    const onnx = join(torchvisionDir('seg_head'), 'model.onnx');
    const run = async (...a: string[]) => {
      const err: string[] = [];
      const code = await main(['convert', onnx, '-o', join(tmp, 'x.tflite'), '--quantize', 'int8', ...a], () => undefined, (s) => err.push(s));
      return { code, err: err.join('\n') };
    };
    const images = join(tmp, 'set/images');
    expect((await run('--calibration', images, '--mean', '1')).err).toMatch(/--mean applies to --calibration-images/);
    expect((await run('--calibration', images, '--calibration-images', images)).err).toMatch(/not both/);
    const r = await run('--calibration-images', images, '--std', '1,2');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--std gives 2 values.*3 channel/);
    expect(basename(images)).toBe('images');
    // --no-equalize (cross-layer equalization off) is taken by int8 and refused elsewhere
    expect((await run('--calibration-images', images, '--mean', MEAN.join(','), '--std', STD.join(','), '--no-equalize')).code).toBe(0);
    const dyn: string[] = [];
    expect(await main(['convert', onnx, '-o', join(tmp, 'y.tflite'), '--quantize', 'dynamic', '--no-equalize'], () => undefined, (s) => dyn.push(s))).not.toBe(0);
    expect(dyn.join('\n')).toMatch(/--no-equalize applies to --quantize int8 only/);
    // --bias-correction (src/passes/bias-correction.ts) reaches quantizeGraph: the same conversion
    // with it writes other int32 biases; refused without int8 / int16x8
    const calib = ['--calibration-images', images, '--mean', MEAN.join(','), '--std', STD.join(',')];
    const write = async (out: string, ...a: string[]) => {
      expect(await main(['convert', onnx, '-o', join(tmp, out), '--quantize', 'int8', ...calib, ...a], () => undefined, () => undefined)).toBe(0);
      return readFileSync(join(tmp, out));
    };
    const [plain, corrected] = [await write('plain.tflite'), await write('corrected.tflite', '--bias-correction')];
    expect(corrected.length).toBe(plain.length);
    expect(Buffer.compare(plain, corrected)).not.toBe(0);
    const bc: string[] = [];
    expect(await main(['convert', onnx, '-o', join(tmp, 'y.tflite'), '--quantize', 'dynamic', '--bias-correction'], () => undefined, (s) => bc.push(s))).not.toBe(0);
    expect(bc.join('\n')).toMatch(/--bias-correction applies to --quantize int8 and int16x8 only/);
  });
});
