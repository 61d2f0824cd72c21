/**
 * Every torchvision fixture (PyTorch's ONNX export, scripts/fixtures/export_torchvision.py)
 * converted by nnport to Keras .h5, TF.js layers model.json + shards and Keras 3 .keras; the
 * .h5 and the TF.js model are run by TensorFlow.js itself (model built from the written config,
 * weights as written) on the NHWC input and must match PyTorch's output within 1e-4 of its scale.
 * The fixtures are made by the real-models test's script when missing (same folders).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { corpusPath } from '../../support/corpus.js';
import { TORCHVISION_MODELS, torchvisionDir } from '../../support/torchvision-fixtures.js';
import { openH5, predict, relError, tfjsModelFromH5, tfjsModelFromJson } from './tfjs-oracle.js';

const MODELS = TORCHVISION_MODELS;
const TOLERANCE = 1e-4;
/** TF.js runs these model.json files too; the others' model.json is checked against the .h5 that ran */
const RUN_TFJS_JSON = new Set(['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0']);
/**
 * TF.js on the CPU takes minutes for the four big ImageNet models on the 2-core test machine, so
 * by default they are converted and checked for structure only; NNPORT_TFJS_ALL=1 runs them too.
 */
const RUN_TFJS_H5 = process.env.NNPORT_TFJS_ALL === '1' ? new Set<string>(MODELS) : RUN_TFJS_JSON;

beforeAll(async () => {
  await initKernels();
});

const npy = (p: string): Tensor => readNpy(new Uint8Array(readFileSync(p)), p);
const nhwc = (t: Tensor): Tensor => (t.rank === 4 ? permute(t, [0, 2, 3, 1]) : t);

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
    if (RUN_TFJS_H5.has(name)) {
      const fromH5 = predict(await tfjsModelFromH5(h5.bytes), [x])[0]!;
      expect(fromH5.shape).toEqual(want.shape);
      expect(relError(fromH5, want)).toBeLessThan(TOLERANCE);
    } else {
      // TF.js builds the model from the written config and takes every written weight
      const m = await tfjsModelFromH5(h5.bytes);
      expect(m.outputs[0]!.shape.slice(1)).toEqual(want.shape.slice(1));
      m.dispose();
    }

    const js = await convert(model, `${name}/model.json`, { shardSize: 1 << 20 });
    if (RUN_TFJS_JSON.has(name)) {
      const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!;
      expect(relError(fromJs, want)).toBeLessThan(TOLERANCE);
    } else {
      // the big ones: the same config as the .h5 that ran, and the same weight bytes in manifest order
      const j = JSON.parse(new TextDecoder().decode(js.bytes));
      const { file, close } = await openH5(h5.bytes);
      try {
        expect(j.modelTopology.model_config).toEqual(JSON.parse(String(file.attrs.model_config!.value)));
        const shards = j.weightsManifest[0].paths.map((p: string) => js.sidecars.get(p)!);
        const joined = new Uint8Array(shards.reduce((a: number, b: Uint8Array) => a + b.byteLength, 0));
        shards.reduce((at: number, b: Uint8Array) => (joined.set(b, at), at + b.byteLength), 0);
        let at = 0;
        for (const w of j.weightsManifest[0].weights as { name: string; shape: number[] }[]) {
          const layer = w.name.slice(0, w.name.lastIndexOf('/'));
          const d = file.get(`model_weights/${layer}/${w.name}:0`) as unknown as { value: Float32Array };
          const n = w.shape.reduce((a, b) => a * b, 1);
          const stored = new Uint8Array(d.value.buffer, d.value.byteOffset, d.value.byteLength);
          expect(Buffer.compare(joined.subarray(at, at + 4 * n), stored), w.name).toBe(0);
          at += 4 * n;
        }
        expect(at).toBe(joined.byteLength);
      } finally {
        close();
      }
    }

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
    const y = predict(await tfjsModelFromH5(folded.bytes), [x])[0]!;
    expect(relError(y, nhwc(npy(join(dir, 'output.npy'))))).toBeLessThan(TOLERANCE);
  });
});
