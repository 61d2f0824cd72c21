// Transplanting TensorFlow weights into a Keras structure by name (seed 000): a frozen .pb's
// Consts or a checkpoint's variables fill the Keras weights whose names they share
// (`dense/kernel` -> `dense/kernel:0`, `aspp/conv1_2/kernel` -> the layer conv1_2 of a model
// built under name scope `aspp`), with no re-layout (TensorFlow and Keras store kernels alike).
// The result, run by TensorFlow.js from the written .h5, gives OpenCV dnn's output of the source
// TensorFlow graph. Structures and the scoped graph: scripts/fixtures/keras_structure_tf.py
// (h5py, OpenCV); the MLP's input and OpenCV output and the checkpoint's values: tf_goldens.py.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NameMatcher } from '../../src/passes/name-mapping.js';
import { Tensor } from '../../src/ir/tensor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { corpusPath, REPO_ROOT } from '../support/corpus.js';
import { predict, relError, tfjsModelFromH5 } from '../formats/keras/tfjs-oracle.js';
import { loadNpy, npyTensor, tfGoldens } from '../formats/tensorflow/helpers.js';
import { cli } from '../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnport-transplant-tf-'));
const FIX = join(tmp, 'fixtures');
let goldens = '';

beforeAll(async () => {
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/keras_structure_tf.py'), FIX], { stdio: 'inherit' });
  goldens = tfGoldens();
  await initKernels();
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function tfjsRun(h5: string, x: Tensor): Promise<Tensor> {
  return predict(await tfjsModelFromH5(new Uint8Array(readFileSync(h5))), [x])[0]!;
}

interface Report {
  matched: { source: string; target: string; via: string; layout?: string }[];
  unmatchedSource: { source: string }[];
  unmatchedTarget: string[];
}

describe('transplant from TensorFlow into a Keras .h5', () => {
  it('frozen MLP (dense/kernel ...): every weight matched as is, TF.js gives OpenCV dnn output of the frozen graph', { timeout: 60_000 }, async () => {
    const out = join(tmp, 'fc.h5');
    const r = await cli('transplant', corpusPath('tf-graphdef/tf2onnx-fc-layers/frozen.pb'), '--into', join(FIX, 'fc-structure.h5'), '-o', out, '--json');
    expect(r.err).toBe('');
    const report = JSON.parse(r.out) as Report;
    expect(report.matched.map((m) => [m.source, m.target, m.layout])).toEqual(
      ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias', 'pred/kernel', 'pred/bias'].map((n) => [n, n, undefined]),
    );
    expect(report.unmatchedTarget).toEqual([]);
    const x = npyTensor(join(goldens, 'tf2onnx-fc-layers/input.npy'));
    const want = npyTensor(join(goldens, 'tf2onnx-fc-layers/opencv.npy'));
    expect(relError(await tfjsRun(out, x), want)).toBeLessThan(1e-5);
    // the structure's own weights give something else: the transplant is what makes it match
    expect(relError(await tfjsRun(join(FIX, 'fc-structure.h5'), x), want)).toBeGreaterThan(0.1);
  });

  it('a scoped conv graph (aspp/conv1_2/kernel) into Keras weights aspp/conv1_2/kernel:0: HWIO kept, TF.js gives OpenCV output', { timeout: 60_000 }, async () => {
    const out = join(tmp, 'aspp.h5');
    const r = await cli('transplant', join(FIX, 'aspp.pb'), '--into', join(FIX, 'aspp-structure.h5'), '-o', out, '--json');
    expect(r.err).toBe('');
    const report = JSON.parse(r.out) as Report;
    expect(report.matched.map((m) => [m.source, m.target, m.via, m.layout])).toEqual([
      ['aspp/conv1_2/kernel', 'conv1_2/kernel', 'suffix', undefined],
      ['aspp/conv1_2/bias', 'conv1_2/bias', 'suffix', undefined],
      ['aspp/conv2/kernel', 'conv2/kernel', 'suffix', undefined],
      ['aspp/conv2/bias', 'conv2/bias', 'suffix', undefined],
    ]);
    const y = await tfjsRun(out, npyTensor(join(FIX, 'aspp-input.npy')));
    const want = npyTensor(join(FIX, 'aspp-opencv.npy'));
    expect(y.shape).toEqual([1, 3, 3, 2]);
    expect(relError(y, want)).toBeLessThan(1e-5);
  });

  it('a checkpoint named by its prefix, with --mapping: y = W·x + b with the values the independent bundle reader read', { timeout: 60_000 }, async () => {
    const mapping = join(tmp, 'map.json');
    writeFileSync(mapping, JSON.stringify({ W: 'dense/kernel', b: 'dense/bias' }));
    const out = join(tmp, 'regression.h5');
    const r = await cli('transplant', join(corpusPath('tf-checkpoint/tf2onnx-regression-ckpt'), 'model'), '--into', join(FIX, 'dense1-structure.h5'), '-o', out, '--mapping', mapping);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/matched 2, .*unmatched source 0, unmatched target 0/);
    const manifest = JSON.parse(readFileSync(join(goldens, 'ckpt-tf2onnx-regression-ckpt/vars.json'), 'utf8')) as { name: string; file: string }[];
    const v = Object.fromEntries(manifest.map((m) => { const a = loadNpy(join(goldens, 'ckpt-tf2onnx-regression-ckpt', m.file)); return [m.name, new Float32Array(a.bytes.slice().buffer)[0]!]; }));
    const x = Tensor.float32([4, 1], [0, 0.5, -1.25, 3]);
    const y = await tfjsRun(out, x);
    expect(Array.from(y.toFloat32())).toEqual(Array.from(x.data, (t) => Math.fround(Math.fround(t * v.W!) + v.b!)));
  });

  it('a source whose names the target does not know is an error unless --allow-partial', async () => {
    const out = join(tmp, 'nothing.h5');
    const r = await cli('transplant', join(REPO_ROOT, 'test/fixtures/tf2-half-plus-two'), '--into', join(FIX, 'dense1-structure.h5'), '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no source tensor matched a target weight \(source has b, a; give --mapping FILE/);
    const partial = await cli('transplant', join(REPO_ROOT, 'test/fixtures/tf2-half-plus-two'), '--into', join(FIX, 'dense1-structure.h5'), '-o', out, '--allow-partial');
    expect(partial.code).toBe(0);
    expect(partial.out).toMatch(/matched 0/);
  });

  it('name scopes: the longest common tail of layer + role that names one target, never a bare numeric tail', () => {
    const m = new NameMatcher(['conv1_2/kernel', 'features.1.weight', 'a/conv/kernel', 'b/conv/kernel']);
    expect(m.match('aspp/conv1_2/kernel')).toEqual({ target: 'conv1_2/kernel', via: 'suffix' });
    expect(m.match('classifier.1.weight')).toEqual({ reason: 'no target of that name' });
    expect(m.match('conv/kernel')).toEqual({ reason: 'ambiguous: a/conv/kernel, b/conv/kernel' });
  });
});
