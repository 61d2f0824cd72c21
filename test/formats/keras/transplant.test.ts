/**
 * The seed workflow: a PyTorch model exported to ONNX with its parameter names, converted to a
 * Keras .h5 structure; a *different* PyTorch state_dict transplanted into it by name
 * (`nnport transplant weights.pth --into structure.h5 -o out.h5`); the result, run by
 * TensorFlow.js, gives PyTorch's output for those weights (LeNet, the segmentation head,
 * resnet18, mobilenet_v2, as the issue names). Fixtures from
 * scripts/fixtures/keras_transplant.py (Debian python3 + torch), cached in .fixtures-cache/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { predict, relError, tfjsModelFromH5, useTfjsBackend } from './tfjs-oracle.js';
import { cli } from '../../support/cli.js';

const MODELS = ['lenet', 'seg_head', 'resnet18', 'mobilenet_v2'];
const CACHE = join(REPO_ROOT, '.fixtures-cache/keras-transplant');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-keras-transplant-'));

beforeAll(async () => {
  const missing = MODELS.filter((m) => !existsSync(join(CACHE, m, 'done')));
  if (missing.length) {
    const r = spawnSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_transplant.py'), '--out', CACHE, '--models', missing.join(',')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`keras_transplant.py failed: ${r.stderr.slice(-2000)}`);
  }
  await initKernels();
  // TF.js's WASM (XNNPACK) backend: resnet18 and mobilenet_v2 take minutes on its CPU backend
  await useTfjsBackend('wasm');
}, 10 * 60_000);

describe('PyTorch weights transplanted into a Keras structure by name', () => {
  it.each(MODELS)('%s', { timeout: 120_000 }, async (name) => {
    const dir = join(CACHE, name);
    const structure = join(tmp, `${name}-structure.h5`);
    const out = join(tmp, `${name}.h5`);
    expect((await cli('convert', join(dir, 'model.onnx'), '-o', structure)).code).toBe(0);
    const r = await cli('transplant', join(dir, 'weights.pth'), '--into', structure, '-o', out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.shapeMismatched).toEqual([]);
    expect(report.unmatchedSource).toEqual([]);
    // only weights nnport made itself (the fixed kernel of a bilinear upsampling) keep their values
    expect(report.unmatchedTarget.filter((t: string) => !t.endsWith('_bilinear/kernel'))).toEqual([]);
    if (name === 'lenet') expect(report.matched.find((m: { source: string }) => m.source === 'fc1.weight').layout).toBe('transpose2d+flatten-rows');

    const x = readNpy(new Uint8Array(readFileSync(join(dir, 'input.npy'))), 'input.npy');
    const want = readNpy(new Uint8Array(readFileSync(join(dir, 'output.npy'))), 'output.npy');
    const y = predict(await tfjsModelFromH5(new Uint8Array(readFileSync(out))), [permute(x, [0, 2, 3, 1])])[0]!;
    expect(relError(y, want.rank === 4 ? permute(want, [0, 2, 3, 1]) : want)).toBeLessThan(1e-4);
  });

  it('a renamed and a reshaped weight show in the report and fail without --allow-partial', { timeout: 60_000 }, async () => {
    const dir = join(CACHE, 'lenet');
    const structure = join(tmp, 'lenet-structure-bad.h5');
    expect((await cli('convert', join(dir, 'model.onnx'), '-o', structure)).code).toBe(0);
    const out = join(tmp, 'bad.h5');
    const strict = await cli('transplant', join(dir, 'weights_bad.pth'), '--into', structure, '-o', out);
    expect(strict.code).not.toBe(0);
    expect(strict.err).toMatch(/fc3\.weight/);
    expect(existsSync(out)).toBe(false);
    const partial = await cli('transplant', join(dir, 'weights_bad.pth'), '--into', structure, '-o', out, '--allow-partial', '--json');
    expect(partial.code).toBe(0);
    const report = JSON.parse(partial.out);
    expect(report.unmatchedSource.map((s: { source: string }) => s.source)).toEqual(['conv1_renamed.weight']);
    expect(report.shapeMismatched.map((s: { source: string }) => s.source)).toEqual(['fc3.weight']);
    expect(report.unmatchedTarget).toEqual(expect.arrayContaining(['conv1/kernel', 'fc3/kernel']));
  });
});
