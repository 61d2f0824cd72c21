// Video Swin Transformer blocks (scripts/fixtures/video_swin_windows.py: Video-Swin-Transformer's
// SwinTransformerBlock3D, window 2x4x4, the second block shifted) converted to .tflite and run by the
// real TFLite interpreter (tfjs-tflite in headless Chromium) against PyTorch's output. Their window
// partition and reverse are 8-D Reshapes and 8-D Transposes (perm (0, 1, 3, 5, 2, 4, 6, 7) and (0, 1,
// 4, 2, 5, 3, 6, 7)), written as TRANSPOSEs of at most 5 merged axes (collapse-transpose.ts), and the
// shifted windows' attention mask a 5-D broadcasting ADD; every op of the file stays within the
// interpreter's rank limits (lower-high-rank.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { TFLITE_RANK_LIMITS } from '../../../src/formats/tflite/lower-high-rank.js';
import { convert, loadModel } from '../../../src/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
let dir = '';

beforeAll(async () => {
  await initKernels();
  dir = join(ensureScriptFixtures('video_swin_windows.py', 'video-swin', ['video_swin']), 'video_swin');
}, 300_000);

type Json = { operator_codes: { builtin_code?: string }[]; subgraphs: { tensors: { shape?: number[] }[]; operators: { opcode_index?: number; inputs: number[]; outputs: number[] }[] }[] };
/** Each operator of the file: its builtin name and the highest rank among its tensors. */
function opRanks(bytes: Uint8Array): Array<[string, number]> {
  const j = flatcJson<Json>(bytes, 'video_swin');
  const sg = j.subgraphs[0]!;
  return sg.operators.map((o) => [j.operator_codes[o.opcode_index ?? 0]!.builtin_code ?? 'ADD', Math.max(...[...o.inputs, ...o.outputs].filter((t) => t >= 0).map((t) => sg.tensors[t]?.shape?.length ?? 0))]);
}

describe('Video Swin blocks (8-D window partition / reverse) -> .tflite vs PyTorch', () => {
  it('float32: every op within its measured rank limit, within 1e-5 of PyTorch', async () => {
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'video_swin.onnx' });
    const x = readNpy(new Uint8Array(readFileSync(join(dir, 'input.npy'))));
    const want = readNpy(new Uint8Array(readFileSync(join(dir, 'output.npy')))).toFloat32();
    const { bytes } = await convert(model, 'video_swin.tflite');
    const ops = opRanks(bytes);
    const limits = new Map(Object.values(TFLITE_RANK_LIMITS).flatMap((l) => l.tflite.split(' / ').map((t) => [t, l.float] as const)));
    const over = ops.filter(([op, r]) => (limits.get(op) ?? Infinity) < r);
    expect(over, 'ops above their rank limit').toEqual([]);
    expect(ops.filter(([op]) => op === 'TRANSPOSE').length).toBeGreaterThan(0);
    const [y] = await oracle.run(bytes, [x.toFloat32()]);
    expect(y!.shape).toEqual([...x.shape]);
    const err = relErr(y!.data as Float32Array, want);
    console.log(`video_swin float32 .tflite vs PyTorch ${err.toExponential(2)} (${ops.length} ops; TRANSPOSE ranks ${ops.filter(([op]) => op === 'TRANSPOSE').map(([, r]) => r).join(', ')}; highest ADD ${Math.max(...ops.filter(([op]) => op === 'ADD').map(([, r]) => r))}-D)`);
    expect(err).toBeLessThanOrEqual(1e-5);
  });
});

describe('Video Swin blocks int8', () => {
  it('int8 (4 calibration samples): the interpreter runs the file, >= 25 dB from PyTorch', async () => {
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'video_swin.onnx' });
    const x = readNpy(new Uint8Array(readFileSync(join(dir, 'input.npy'))));
    const want = readNpy(new Uint8Array(readFileSync(join(dir, 'output.npy')))).toFloat32();
    const r = rng(31);
    const calibration = [[x], ...Array.from({ length: 3 }, () => [Tensor.float32([...x.shape], Float32Array.from({ length: x.size }, () => r() * 4 - 2))])];
    const { bytes } = await convert(model, 'video_swin.tflite', { quantize: { mode: 'int8', calibration } });
    const [y] = await oracle.run(bytes, [x.toFloat32()]);
    const db = pooledSnrDb([want], [y!.data as Float32Array]);
    console.log(`video_swin int8 .tflite vs PyTorch ${db.toFixed(1)} dB`);
    expect(db).toBeGreaterThanOrEqual(25);
  });
});
