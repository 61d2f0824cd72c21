/**
 * Every torchvision fixture (PyTorch's ONNX export, scripts/fixtures/export_torchvision.py, made
 * by the vitest globalSetup) converted by nnport to Keras .h5, TF.js layers model.json + shards
 * and Keras 3 .keras; the .h5 and the TF.js model are run by TensorFlow.js itself (model built
 * from the written config, weights as written) on the NHWC input and must match PyTorch's output
 * within 1e-4 of its scale. TF.js runs them on its WASM backend (XNNPACK kernels: the eight
 * models in seconds); the two small ones run on its CPU backend too, so both TF.js backends
 * are held to PyTorch.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { corpusPath } from '../../support/corpus.js';
import { EXTRA_TORCHVISION_MODELS, TORCHVISION_MODELS, torchvisionDir } from '../../support/torchvision-fixtures.js';
import { openH5, predict, relError, tfjsModelFromH5, tfjsModelFromJson, useTfjsBackend, type tf } from './tfjs-oracle.js';

const MODELS = [...TORCHVISION_MODELS, ...EXTRA_TORCHVISION_MODELS];
const TOLERANCE = 1e-4;
/** also run on TF.js' CPU backend (the ImageNet-sized ones take minutes there on 2 cores) */
const ON_CPU_TOO = new Set<string>(['lenet', 'seg_head']);

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('wasm');
});

const npy = (p: string): Tensor => readNpy(new Uint8Array(readFileSync(p)), p);
const nhwc = (t: Tensor): Tensor => (t.rank === 4 ? permute(t, [0, 2, 3, 1]) : t);

/** Run a model TF.js built and dispose it. */
async function runOnce(build: Promise<tf.LayersModel>, x: Tensor): Promise<Tensor> {
  const m = await build;
  try {
    return predict(m, [x])[0]!;
  } finally {
    m.dispose();
  }
}

/** Datasets and groups of an HDF5 file, as paths. */
async function h5Paths(bytes: Uint8Array): Promise<string[]> {
  const { file, close } = await openH5(bytes);
  try {
    return file.paths();
  } finally {
    close();
  }
}

describe('torchvision ONNX -> Keras .h5 / TF.js / .keras, run by TensorFlow.js, vs PyTorch', () => {
  it.each(MODELS)('%s', { timeout: 600_000 }, async (name) => {
    const dir = torchvisionDir(name);
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
    const x = nhwc(npy(join(dir, 'input.npy')));
    const want = nhwc(npy(join(dir, 'output.npy')));

    const h5 = await convert(model, `${name}.h5`);
    const js = await convert(model, `${name}/model.json`, { shardSize: 1 << 20 });
    const fromH5 = await runOnce(tfjsModelFromH5(h5.bytes), x);
    const fromJs = await runOnce(tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), x);
    expect(fromH5.shape).toEqual(want.shape);
    expect(fromJs.shape).toEqual(want.shape);
    const errors = { h5: relError(fromH5, want), json: relError(fromJs, want) } as Record<string, number>;
    if (ON_CPU_TOO.has(name)) {
      await useTfjsBackend('cpu');
      try {
        errors.h5Cpu = relError(await runOnce(tfjsModelFromH5(h5.bytes), x), want);
        errors.jsonCpu = relError(await runOnce(tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), x), want);
      } finally {
        await useTfjsBackend('wasm');
      }
    }
    console.log(`${name}: TF.js vs PyTorch, error relative to the output's scale: ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);

    // Keras 3: the archive's members and HDF5 layout are the corpus files' (layers/<name>/vars/<i>)
    const k3 = ZipReader.open((await convert(model, `${name}.keras`)).bytes);
    expect([...k3.entries.keys()]).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
    const paths = await h5Paths(k3.read('model.weights.h5'));
    const vars = paths.filter((p) => /^layers\/[a-z0-9_]+\/vars\/\d+$/.test(p));
    const weightCount = JSON.parse(new TextDecoder().decode(k3.read('config.json'))).config.layers.length;
    expect(vars.length).toBeGreaterThan(0);
    expect(weightCount).toBeGreaterThan(0);
    expect(paths.filter((p) => p.split('/').length > 3 && !p.startsWith('layers/'))).toEqual([]);
  });

  it('the Keras 3 archive has the corpus files’ members and top-level groups', async () => {
    const corpus = ZipReader.open(new Uint8Array(readFileSync(corpusPath('keras-v3/mnist-cnn-k310-tfjs-source/Subhadip_Hensh_MNIST_CNN.keras'))));
    const dir = torchvisionDir('lenet');
    const ours = ZipReader.open((await convert(await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'lenet.onnx' }), 'lenet.keras')).bytes);
    expect([...ours.entries.keys()]).toEqual([...corpus.entries.keys()]);
    const top = async (z: ZipReader) => (await h5Paths(z.read('model.weights.h5'))).filter((p) => !p.includes('/')).sort();
    expect(await top(ours)).toEqual(await top(corpus));
  });
});

describe('--fold-bn (only on request)', () => {
  it('seg_head: BatchNormalization layers folded into the convs, TF.js output still PyTorch’s', { timeout: 60_000 }, async () => {
    const dir = torchvisionDir('seg_head');
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'seg_head.onnx' });
    const classes = async (bytes: Uint8Array) => {
      const { file, close } = await openH5(bytes);
      try {
        return JSON.parse(String(file.attrs.model_config!.value)).config.layers.map((l: { class_name: string }) => l.class_name) as string[];
      } finally {
        close();
      }
    };
    const plain = await convert(model, 'seg.h5');
    const folded = await convert(model, 'seg.h5', { foldBn: true });
    expect((await classes(plain.bytes)).filter((c) => c === 'BatchNormalization')).toHaveLength(3);
    expect((await classes(folded.bytes)).filter((c) => c === 'BatchNormalization')).toHaveLength(0);
    const x = nhwc(npy(join(dir, 'input.npy')));
    const y = await runOnce(tfjsModelFromH5(folded.bytes), x);
    expect(relError(y, nhwc(npy(join(dir, 'output.npy'))))).toBeLessThan(TOLERANCE);
  });

  it('nnport convert --fold-bn --explain says so', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const errors: string[] = [];
    const out = join(mkdtempSync(join(tmpdir(), 'nnport-fold-bn-')), 'seg.h5');
    const code = await main(['convert', join(torchvisionDir('seg_head'), 'model.onnx'), '-o', out, '--fold-bn', '--explain'], (l) => lines.push(l), (l) => errors.push(l));
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(lines).toContain('3 BatchNormalization layer(s) folded into the conv before them (--fold-bn)');
  });
});
