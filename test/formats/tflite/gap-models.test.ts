// TFLite writer on PyTorch models it once refused or pinned to size 1 (scripts/fixtures/tflite_gap_models.py),
// each file run by the real TFLite interpreter (tfjs-tflite in headless Chromium) against PyTorch's outputs:
//   run-time sizes  UNet decoders upsampling to their skip's size (bilinear, align_corners both, nearest;
//                   TRANSPOSE_CONV's output_shape from SHAPE),
//                   an FPN top-down path, a pad to a multiple of 32 computed from the input's shape:
//                   exported with dynamic axes, written with -1 in shape_signature and the sizes /
//                   paddings computed in the file (SHAPE -> STRIDED_SLICE -> CAST / MUL), run at two
//                   input sizes (the second odd, so upsampling ratios are not whole) by setting the
//                   input's stored shape (what ResizeInputTensor does; tfjs-tflite has no resize call),
//                   and read back by nnport's reader (computed sizes / paddings kept) and run by its runtime;
//   quantized       the decoder with --quantize dynamic and int8 (calibrated on the script's samples);
//   3-D             a Conv3d / BatchNorm3d / ConvTranspose3d net (strides, dilation, pads, output_padding)
//                   as CONV_3D / CONV_3D_TRANSPOSE, a C3D-like block whose 3-D max / average pools are
//                   two 2-D pools each (the interpreter has no MaxPool3D / AveragePool3D custom op);
//                   int8 writes its 3-D convs as 2-D conv taps (grouped-conv3d.test.ts, conv-transpose3d.test.ts),
//                   dynamic refuses the float-only CONV_3D by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { runGraph } from '../../../src/runtime/executor.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { flatcJson, opNamesOf, useTfliteOracle, withStoredDim, type FlatcOps } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const NETS = { unet_bilinear: 1, unet_align: 1, unet_deconv: 1, fpn: 4, pad32: 1, conv3d_net: 1, c3d_block: 1 } as const;
type Net = keyof typeof NETS;
const dir = (): string => ensureScriptFixtures('tflite_gap_models.py', 'tflite-gaps', Object.keys(NETS));

/** channels-last: NCHW -> NHWC, NCDHW -> NDHWC; other ranks as they are */
const channelsLast = (t: Tensor): Tensor => (t.rank >= 4 ? permuteTensor(t, [0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]) : t);

async function net(name: Net): Promise<{ graph: Graph; sizes: Array<{ input: Tensor; outputs: Tensor[] }>; calib: Tensor }> {
  const d = join(dir(), name);
  const npy = (f: string) => readNpy(readFileSync(join(d, `${f}.npy`)));
  const m = await readModel(new Uint8Array(readFileSync(join(d, 'model.onnx'))), { fileName: `${name}.onnx` });
  const sizes = [0, 1].flatMap((k) => {
    try {
      return [{ input: npy(`input${k}`), outputs: Array.from({ length: NETS[name] }, (_, i) => npy(`output${k}_${i}`)) }];
    } catch {
      return [];
    }
  });
  return { graph: (m as { graph: Graph }).graph, sizes, calib: npy('calib') };
}

/** The interpreter's outputs for `input` (NCHW / NCDHW, made channels-last), the file's open dims set to the input's. */
async function runAt(bytes: Uint8Array, input: Tensor): Promise<Float32Array[]> {
  const x = channelsLast(input);
  let file = bytes;
  x.shape.forEach((d, a) => (file = withStoredDim(file, a, d)));
  // dynamic-sized tensors: no XNNPACK, and the web build's own float CONV_2D needs 1 thread
  return (await oracle.run(file, [x.toFloat32()], 1, 1)).map((t) => t.data as Float32Array);
}

interface Sig {
  subgraphs: Array<{ tensors: Array<{ shape_signature?: number[] }>; inputs: number[] }>;
}

describe('TFLite writer: resizes and pads sized at run time, two input sizes, vs PyTorch', () => {
  for (const [name, openDims, ops] of [
    ['unet_bilinear', [-1, -1, -1, 3], ['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR', 'SHAPE']],
    ['unet_align', [-1, -1, -1, 3], ['RESIZE_BILINEAR', 'SHAPE']],
    ['unet_deconv', [-1, -1, -1, 3], ['TRANSPOSE_CONV', 'SHAPE', 'MUL']],
    ['fpn', [1, -1, -1, 3], ['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR', 'SHAPE']],
    ['pad32', [1, -1, -1, 3], ['PAD', 'RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR', 'MUL', 'STRIDED_SLICE']],
  ] as const) {
    it(`${name}: shape_signature [${openDims.join(', ')}], ${ops.join(' / ')} in the file, within 1e-4 of PyTorch at both sizes`, { timeout: 120_000 }, async () => {
      const f = await net(name);
      const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite` });
      const json = flatcJson<FlatcOps & Sig>(bytes, name);
      const sg = json.subgraphs[0]!;
      expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual(openDims);
      for (const op of ops) expect(opNamesOf(json), op).toContain(op);
      expect(f.sizes).toHaveLength(2);
      // (unet_deconv: TRANSPOSE_CONV's output_shape computed over an open H / W, its crop made at run time)
      const back = await readTflite(bytes, { fileName: `${name}.tflite` });
      for (const [k, s] of f.sizes.entries()) {
        // nnport's reader on the file, run by its runtime at this size: the sizes / paddings read as computed
        const mine = [...(await runGraph(back, { [back.inputs[0]!.name]: channelsLast(s.input) })).outputs.values()];
        s.outputs.forEach((want, i) => expect(relErr(mine[i]!.toFloat32(), channelsLast(want).toFloat32()), `read back, size ${k} output ${i}`).toBeLessThanOrEqual(1e-4));
        const got = await runAt(bytes, s.input);
        expect(got).toHaveLength(s.outputs.length);
        s.outputs.forEach((want, i) => {
          const w = channelsLast(want).toFloat32();
          expect(got[i]!.length, `${name} size ${k} output ${i}`).toBe(w.length);
          const e = relErr(got[i]!, w);
          console.log(`${name} input [${s.input.shape.join(', ')}] output ${i}: ${e.toExponential(2)} of PyTorch (relative to the largest)`);
          expect(e).toBeLessThanOrEqual(1e-4);
        });
      }
    });
  }
});

describe('TFLite writer: the run-time-sized decoder quantized, vs PyTorch', () => {
  it('unet_bilinear --quantize dynamic: within 5e-2 of PyTorch at both sizes', { timeout: 120_000 }, async () => {
    const f = await net('unet_bilinear');
    const bytes = await writeTflite(f.graph, { quantize: { mode: 'dynamic' } });
    expect(opNamesOf(flatcJson<FlatcOps>(bytes, 'unet_dynamic'))).toContain('RESIZE_BILINEAR');
    for (const s of f.sizes) {
      const e = relErr((await runAt(bytes, s.input))[0]!, channelsLast(s.outputs[0]!).toFloat32());
      console.log(`unet_bilinear dynamic-range, input [${s.input.shape.join(', ')}]: ${e.toExponential(2)} of PyTorch`);
      expect(e).toBeLessThanOrEqual(5e-2);
    }
  });

  it('unet_bilinear --quantize int8 (8 calibration samples): int8 RESIZE_* on the run-time size, above 25 dB SNR vs PyTorch at both sizes', { timeout: 120_000 }, async () => {
    const f = await net('unet_bilinear');
    const [n, ...one] = f.calib.shape as number[];
    const per = f.calib.size / n!;
    const data = f.calib.toFloat32();
    const samples = Array.from({ length: n! }, (_, i) => [channelsLast(Tensor.float32(one, data.subarray(i * per, (i + 1) * per)))]);
    const bytes = await writeTflite(f.graph, { quantize: { mode: 'int8', calibration: samples } });
    const json = flatcJson<FlatcOps<{ inputs: number[] }, { tensors: Array<{ type?: string }> }>>(bytes, 'unet_int8');
    const sg = json.subgraphs[0]!;
    const resizes = sg.operators.filter((_, i) => opNamesOf(json)[i]!.startsWith('RESIZE_'));
    expect(resizes.length).toBe(2);
    for (const r of resizes) expect(sg.tensors[r.inputs[0]!]!.type).toBe('INT8');
    for (const s of f.sizes) {
      const snr = pooledSnrDb([channelsLast(s.outputs[0]!).toFloat32()], [(await runAt(bytes, s.input))[0]!]);
      console.log(`unet_bilinear int8, input [${s.input.shape.join(', ')}]: ${snr.toFixed(1)} dB SNR vs PyTorch`);
      expect(snr).toBeGreaterThan(25);
    }
  });
});

describe('TFLite writer: 3-D convolutions and pools, vs PyTorch', () => {
  for (const [name, want, not] of [
    ['conv3d_net', ['CONV_3D', 'CONV_3D_TRANSPOSE'], []],
    ['c3d_block', ['CONV_3D', 'MAX_POOL_2D', 'AVERAGE_POOL_2D', 'PADV2'], ['CUSTOM']],
  ] as const) {
    it(`${name}: ${want.join(' / ')}, within 1e-4 of PyTorch`, { timeout: 120_000 }, async () => {
      const f = await net(name);
      const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite` });
      const ops = opNamesOf(flatcJson<FlatcOps>(bytes, name));
      for (const op of want) expect(ops, op).toContain(op);
      for (const op of not) expect(ops, op).not.toContain(op);
      const s = f.sizes[0]!;
      const got = await runAt(bytes, s.input);
      const e = relErr(got[0]!, channelsLast(s.outputs[0]!).toFloat32());
      console.log(`${name} input [${s.input.shape.join(', ')}]: ${e.toExponential(2)} of PyTorch (relative to the largest)`);
      expect(e).toBeLessThanOrEqual(1e-4);
    });
  }

  it('conv3d_net --quantize int8: its 3-D convs as CONV_2D / TRANSPOSE_CONV taps (CONV_3D / CONV_3D_TRANSPOSE run float32 only), above 25 dB SNR vs PyTorch; dynamic refused by name', { timeout: 120_000 }, async () => {
    const f = await net('conv3d_net');
    const [n, ...one] = f.calib.shape as number[];
    const per = f.calib.size / n!;
    const data = f.calib.toFloat32();
    const samples = Array.from({ length: n! }, (_, i) => [channelsLast(Tensor.float32(one, data.subarray(i * per, (i + 1) * per)))]);
    const bytes = await writeTflite(f.graph, { quantize: { mode: 'int8', calibration: samples } });
    const ops = opNamesOf(flatcJson<FlatcOps>(bytes, 'conv3d_net_int8'));
    expect(ops).not.toContain('CONV_3D');
    expect(ops).not.toContain('CONV_3D_TRANSPOSE');
    expect(ops).toContain('TRANSPOSE_CONV');
    const s = f.sizes[0]!;
    const snr = pooledSnrDb([channelsLast(s.outputs[0]!).toFloat32()], [(await runAt(bytes, s.input))[0]!]);
    console.log(`conv3d_net int8: ${snr.toFixed(1)} dB SNR vs PyTorch`);
    expect(snr).toBeGreaterThan(25);
    await expect(writeTflite(f.graph, { quantize: { mode: 'dynamic' } })).rejects.toThrow(/3-D Conv.*float32 only/);
  });
});
