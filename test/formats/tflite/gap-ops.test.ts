// TFLite writer on PyTorch models using ops TFLite has no builtin for, lowered into builtins
// (scripts/fixtures/tflite_gap_ops.py), each file run by the real TFLite interpreter (tfjs-tflite in
// headless Chromium) against PyTorch's outputs:
//   GridSample   a spatial transformer (bilinear, zeros), optical-flow warping (bilinear, border,
//                align_corners), nearest + reflection, bicubic + zeros, bilinear + reflection:
//                GATHER_ND taps, no GridSample left; int8 refuses it by name, dynamic range runs it
//   pads, pools  replicate padding (GATHER of clamped positions), dilated MaxPool (strided-slice taps)
//   reorderings  PixelShuffle (DepthToSpace CRD: a channel GATHER, then DEPTH_TO_SPACE), log_softmax
//                over an axis that is not last (TRANSPOSEs around LOG_SOFTMAX)
//   scatters     scatter_add with repeated indices, scatter, index_put: SCATTER_ND; the file read
//                back by nnport's reader (SCATTER_ND as ScatterND) and run by its runtime.
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relErr } from '../../support/error-metrics.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { scriptNets } from './script-nets.js';

const oracle = useTfliteOracle();

const NETS = { stn: 1, flow_warp: 1, samplers: 3, pad_pool: 1, scatter: 3, shuffle: 2 } as const;
type Net = keyof typeof NETS;
const net = scriptNets<Net>('tflite_gap_ops.py', 'tflite-gap-ops', NETS);

/** The file (NCHW I/O kept) run by the interpreter, each output compared with PyTorch's (relative to the largest). */
async function checkInterpreter(name: string, bytes: Uint8Array, input: Tensor, outputs: Tensor[], tol: number): Promise<void> {
  const got = await oracle.run(bytes, [input.toFloat32()]);
  expect(got).toHaveLength(outputs.length);
  outputs.forEach((want, i) => {
    const w = want.toFloat32();
    expect(got[i]!.data.length, `${name} output ${i}`).toBe(w.length);
    const e = relErr(got[i]!.data as Float32Array, w);
    console.log(`${name} output ${i}: ${e.toExponential(2)} of PyTorch (relative to the largest), TFLite interpreter`);
    expect(e, `${name} output ${i}`).toBeLessThanOrEqual(tol);
  });
}

describe('TFLite writer: GridSample as GATHER_ND taps, vs PyTorch', () => {
  for (const name of ['stn', 'flow_warp', 'samplers'] as const) {
    it(`${name}: no GridSample left, GATHER_ND in the file, within 1e-4 of PyTorch`, { timeout: 120_000 }, async () => {
      const f = await net(name);
      expect(f.graph.nodes.some((n) => n.opType === 'GridSample')).toBe(true);
      const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite`, keepNchwIo: true });
      const ops = tfliteOpNames(bytes, name);
      expect(ops).toContain('GATHER_ND');
      expect(ops).not.toContain('CUSTOM');
      await checkInterpreter(name, bytes, f.input, f.outputs, 1e-4);
    });
  }

  it('stn --quantize int8: refused naming GridSample; --quantize dynamic: runs within 5e-2 of PyTorch', { timeout: 120_000 }, async () => {
    const f = await net('stn');
    const calibration = [[f.input]];
    await expect(writeTflite(f.graph, { fileName: 'stn.tflite', keepNchwIo: true, quantize: { mode: 'int8', calibration } })).rejects.toThrow(UnsupportedError);
    await expect(writeTflite(f.graph, { fileName: 'stn.tflite', keepNchwIo: true, quantize: { mode: 'int8', calibration } })).rejects.toThrow(/GridSample with int8 activations.*stn\.tflite/);
    const bytes = await writeTflite(f.graph, { fileName: 'stn.tflite', keepNchwIo: true, quantize: { mode: 'dynamic' } });
    await checkInterpreter('stn dynamic-range', bytes, f.input, f.outputs, 5e-2);
  });
});

describe('TFLite writer: replicate padding, dilated max pools and scatters, vs PyTorch', () => {
  it('pad_pool: edge Pad as GATHER, dilated MaxPool as STRIDED_SLICE / MAXIMUM, within 1e-5 of PyTorch', { timeout: 120_000 }, async () => {
    const f = await net('pad_pool');
    const bytes = await writeTflite(f.graph, { fileName: 'pad_pool.tflite', keepNchwIo: true });
    const ops = tfliteOpNames(bytes, 'pad_pool');
    for (const op of ['GATHER', 'STRIDED_SLICE', 'MAXIMUM']) expect(ops).toContain(op);
    expect(ops).not.toContain('MAX_POOL_2D');
    await checkInterpreter('pad_pool', bytes, f.input, f.outputs, 1e-5);
  });

  it('shuffle: PixelShuffle as GATHER + DEPTH_TO_SPACE, log_softmax over the channels as TRANSPOSE / LOG_SOFTMAX, within 1e-5 of PyTorch', { timeout: 120_000 }, async () => {
    const f = await net('shuffle');
    expect(f.graph.nodes.find((n) => n.opType === 'DepthToSpace')?.attrs.mode).toEqual({ type: 'string', value: 'CRD' });
    const bytes = await writeTflite(f.graph, { fileName: 'shuffle.tflite', keepNchwIo: true });
    const ops = tfliteOpNames(bytes, 'shuffle');
    for (const op of ['GATHER', 'DEPTH_TO_SPACE', 'LOG_SOFTMAX']) expect(ops).toContain(op);
    await checkInterpreter('shuffle', bytes, f.input, f.outputs, 1e-5);
  });

  it('scatter: SCATTER_ND in the file, within 1e-5 of PyTorch; read back (SCATTER_ND as ScatterND) and run by nnport, within 1e-5', { timeout: 120_000 }, async () => {
    const f = await net('scatter');
    const bytes = await writeTflite(f.graph, { fileName: 'scatter.tflite' });
    expect(tfliteOpNames(bytes, 'scatter')).toContain('SCATTER_ND');
    await checkInterpreter('scatter', bytes, f.input, f.outputs, 1e-5);
    const back = await readTflite(bytes, { fileName: 'scatter.tflite' });
    expect(back.nodes.some((n) => n.opType === 'ScatterND')).toBe(true);
    const mine = [...(await runGraph(back, { [back.inputs[0]!.name]: f.input })).outputs.values()];
    f.outputs.forEach((want, i) => expect(relErr(mine[i]!.toFloat32(), want.toFloat32()), `read back output ${i}`).toBeLessThanOrEqual(1e-5));
  });
});
