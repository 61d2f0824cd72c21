// Audio front ends exported from PyTorch 1.13 to ONNX opset 17 (scripts/fixtures/audio_frontend.py,
// made into .fixtures-cache/audio-frontend/): torch.stft with a Hann window -> power or magnitude ->
// a MelWeightMatrix projection -> log (a Whisper-like 400-point / 160-hop / 80-band one, with
// reflect padding, and a 256-point one on two signals), and torch.fft.rfft of 45 points -> log1p.
// PyTorch 1.13 exports neither stft nor rfft itself: the script's symbolics emit the ONNX STFT,
// DFT, HannWindow and MelWeightMatrix ops. nnport runs each file and is compared with PyTorch's
// output, and with onnxruntime-node on the same file, in the power domain per frame (rowPowerError).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { runOrt } from './ort-helpers.js';

const NETS = ['logmel_whisper', 'logmel_pow2', 'rfft_odd'] as const;
const CACHE = join(REPO_ROOT, '.fixtures-cache/audio-frontend');

/** The ops each export must hold: the point of the fixture. */
const SIGNAL_OPS: Record<(typeof NETS)[number], string[]> = {
  logmel_whisper: ['HannWindow', 'STFT', 'MelWeightMatrix'],
  logmel_pow2: ['HannWindow', 'STFT', 'MelWeightMatrix'],
  rfft_odd: ['DFT'],
};

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('audio_frontend.py', 'audio-frontend', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, net, f))), f);

/**
 * The outputs are logs of powers: the largest difference of exp(output) within each row (one frame's
 * bands), over that row's largest power. PyTorch and onnxruntime transform in float32, so a faint band
 * carries a rounding error relative to the frame's power, large relative to its own.
 */
function rowPowerError(got: ArrayLike<number>, want: ArrayLike<number>, row: number): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let r = 0; r < want.length; r += row) {
    let scale = 0;
    let diff = 0;
    for (let i = r; i < r + row; i++) {
      scale = Math.max(scale, Math.exp(want[i]!));
      diff = Math.max(diff, Math.abs(Math.exp(got[i]!) - Math.exp(want[i]!)));
    }
    worst = Math.max(worst, Number.isNaN(diff) ? Infinity : diff / scale);
  }
  return worst;
}

describe('PyTorch audio front ends as ONNX signal ops', () => {
  it.each(NETS)('%s: nnport matches PyTorch, and onnxruntime-node on the same file', async (net) => {
    const file = join(CACHE, net, 'model.onnx');
    const bytes = new Uint8Array(readFileSync(file));
    const graph = await readOnnx(bytes, { fileName: file });
    for (const op of SIGNAL_OPS[net]) expect(graph.nodes.some((n) => n.opType === op), op).toBe(true);
    const x = npy(net, 'input.npy');
    const want = npy(net, 'output.npy');
    const got = (await runGraph(graph, new Map([['x', x]]))).outputs.get('y')!;
    expect([...got.shape]).toEqual([...want.shape]);
    const ort = (await runOrt(bytes, { x })).y!;
    expect([...ort.dims]).toEqual([...want.shape]);
    const ortValues = Array.from(new Float32Array((ort.bytes as Uint8Array).slice().buffer));
    const ours = rowPowerError(got.toNumbers(), want.toNumbers(), want.shape[want.rank - 1]!);
    const theirs = rowPowerError(ortValues, want.toNumbers(), want.shape[want.rank - 1]!);
    expect(ours, `nnport vs PyTorch (onnxruntime-node vs PyTorch: ${theirs})`).toBeLessThan(5e-6);
    expect(rowPowerError(got.toNumbers(), ortValues, want.shape[want.rank - 1]!), 'nnport vs onnxruntime-node').toBeLessThan(2e-5);
    // and in the log domain itself, where the faint bands (e^-12 next to e^2 in the same frame) carry float32's rounding
    expect(maxAbsDiff(got.toNumbers(), want.toNumbers())).toBeLessThan(2e-3);
  });
});
