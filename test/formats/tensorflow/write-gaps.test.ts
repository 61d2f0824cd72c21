// GraphDef writer forms added on 2026-11-28, each a small PyTorch model
// (scripts/fixtures/tf_writer_gaps.py): resizes TF's ResizeBilinear / ResizeNearestNeighbor cannot
// express (bicubic, trilinear, 3-D nearest to sizes that are no whole scales: per-axis GatherV2
// taps, write-resize-taps.ts), convs whose weights are computed when the model runs (SiamRPN's
// depthwise cross-correlation, predicted filters: grouped, strided and dilated, ConvTranspose,
// 1-D; write-dynamic-conv.ts), grouped / dilated 3-D convs and GridSample by a predicted grid
// (bilinear, nearest, bicubic; zeros, border, reflection; write-grid-sample.ts), STFT with a
// constant step / window / length (frames by GatherV2, DFT by constant cos / sin matrices; write-spectral.ts). Every written .pb is run by the
// independent NumPy interpreter of the GraphDef (scripts/fixtures/tf_numpy_run.py, decoding the
// protobuf by hand, TensorFlow's documented semantics) and must give PyTorch's output within 1e-4
// of its scale; nnport's TF reader reads each .pb back and its runtime must too. OpenCV's importer has no GatherV2 / run-time filters, so it is not an oracle here.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModelFiles } from '../../../src/index.js';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { readGraphDefModel } from '../../../src/formats/tensorflow/read.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { npyTensor } from './helpers.js';
import { pythonRun, relativeError } from './python-runs.js';

const PY = '/usr/bin/python3';
const MAKE = join(REPO_ROOT, 'scripts/fixtures/tf_writer_gaps.py');
const MODELS = join(REPO_ROOT, '.fixtures-cache/tf-writer-gaps');

const sha = (...parts: (string | Uint8Array)[]): string => parts.reduce((h, p) => h.update(p).update('\0'), createHash('sha256')).digest('hex');

beforeAll(async () => {
  await initKernels();
  const stamp = sha(readFileSync(MAKE));
  const file = join(MODELS, 'stamp');
  if (existsSync(file) && readFileSync(file, 'utf8') === stamp) return;
  rmSync(MODELS, { recursive: true, force: true });
  mkdirSync(MODELS, { recursive: true });
  execFileSync(PY, [MAKE, '--out', MODELS], { stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(file, stamp);
}, 120_000);

/** A float32 tensor with its axes permuted (out axis i = in axis perm[i]). */
function permute(t: Tensor, perm: number[]): Tensor {
  const s = t.shape as number[];
  const out = perm.map((p) => s[p]!);
  const strides = s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
  const src = t.toFloat32();
  const dst = new Float32Array(src.length);
  const idx = new Array<number>(out.length).fill(0);
  for (let k = 0; k < dst.length; k++) {
    let o = 0;
    for (let i = 0; i < out.length; i++) o += idx[i]! * strides[perm[i]!]!;
    dst[k] = src[o]!;
    for (let i = out.length - 1; i >= 0 && ++idx[i]! === out[i]; i--) idx[i] = 0;
  }
  return new Tensor('float32', out, dst);
}

/** channels-first -> channels-last of rank r: (0, 2, ..., r - 1, 1) */
const toLast = (r: number): number[] => [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
const toFirst = (r: number): number[] => [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((v, i) => v === b[i]);

// per fixture: TF ops its .pb must hold
const CASES: Record<string, string[]> = {
  bicubic: ['GatherV2', 'AddV2'],
  bicubic_aligned: ['GatherV2', 'AddV2'],
  // H, W open: positions and weights computed in the graph (Range over the run-time size)
  bicubic_open_size: ['GatherV2', 'Range', 'Shape'],
  trilinear: ['GatherV2', 'AddV2', 'Conv3D'],
  nearest3d: ['GatherV2'],
  xcorr: ['DepthwiseConv2dNative', 'Transpose'],
  predicted_filter: ['Conv2D', 'Transpose', 'BiasAdd'],
  predicted_grouped_dilated: ['Split', 'Conv2D', 'ConcatV2', 'StridedSlice'],
  predicted_transpose: ['Conv2DBackpropInput', 'Slice'],
  // (conv1d-as-2d lifts it to 2-D before the row)
  predicted_1d: ['Conv2D', 'Transpose'],
  conv3d_grouped_dilated: ['Split', 'Conv3D', 'ConcatV2'],
  grid_bilinear_zeros: ['GatherV2', 'AddV2'],
  grid_nearest_border: ['GatherV2', 'Round'],
  grid_bicubic_reflection: ['GatherV2', 'AddV2', 'FloorMod'],
  grid_bilinear_reflection_aligned: ['GatherV2', 'AddV2', 'FloorMod'],
  // (the golden: NumPy's rfft of each Hann-windowed frame)
  stft: ['GatherV2', 'BatchMatMulV2', 'ConcatV2'],
};

describe('GraphDef writer gap forms', () => {
  for (const [name, wantOps] of Object.entries(CASES)) {
    it(`${name}: the NumPy runner's run of the .pb gives PyTorch's output`, async () => {
      const dir = join(MODELS, name);
      const { bytes } = await convert(await loadModelFiles([join(dir, 'model.onnx')]), 'model.pb');
      const nodes = decodeGraphDef(bytes, 'model.pb').node!;
      const ops = new Set(nodes.map((n) => n.op));
      for (const op of wantOps) expect(ops.has(op), op).toBe(true);
      const x = npyTensor(join(dir, 'input.npy'));
      const want = npyTensor(join(dir, 'output.npy'));
      const r = x.rank;
      // the Placeholder as the writer laid it out: channels-last where the graph runs so
      const ph = nodes.find((n) => n.op === 'Placeholder')!;
      const phShape = (ph.attr!.shape!.shape!.dim ?? []).map((d) => Number(d.size));
      const fits = (s: readonly number[]) => s.length === phShape.length && s.every((d, i) => phShape[i] === -1 || phShape[i] === d);
      const feed = fits(x.shape as number[]) ? x : permute(x, toLast(r));
      expect(fits(feed.shape as number[]), `${feed.shape} into [${phShape}]`).toBe(true);
      const got = pythonRun('numpy', `gaps-${name}`, bytes, feed, ['y']).get('y')!;
      const y = same(got.shape, want.shape) ? got : permute(got, toFirst(want.rank));
      expect(y.shape).toEqual(want.shape);
      expect(relativeError(y, want)).toBeLessThan(1e-4);
      // nnport's own TF reader reads the .pb back, and its runtime gives PyTorch's output too
      const back = await readGraphDefModel(bytes, { fileName: 'model.pb', outputs: ['y'] });
      if (back.kind !== 'graph') throw new Error(`read back as ${back.kind}`);
      const ran = (await runGraph(back.graph, new Map([[ph.name!, feed]]))).outputs.get('y')!;
      const yb = same(ran.shape, want.shape) ? ran : permute(ran, toFirst(want.rank));
      expect(relativeError(yb, want)).toBeLessThan(1e-4);
    });
  }
});
