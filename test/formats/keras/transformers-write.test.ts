/**
 * Transformer pieces and 3-D nets written to Keras .h5 / .keras and TF.js layers model.json, each
 * file run against PyTorch's own output (scripts/fixtures/keras_transformer_models.py):
 * - LayerNorm decomposed by an opset < 17 export (Pow and d·d forms, with and without affine,
 *   ConvNeXt's channels-first one over axis 1) fused back into one LayerNormalization layer
 *   (src/passes/fuse-layer-norm.ts); the tanh GELU written as its arithmetic. TF.js runs the
 *   .h5, the model.json and the .keras.
 * - exact GELU (erf) as Keras' 'gelu' activation, which TF.js 4.9 layers lacks: the .h5 / .keras
 *   are read back by nnport's Keras reader (its 'gelu', 0.5·x·(1 + erf(x/√2)), is Keras' source
 *   definition, checked against Keras-source NumPy references) and run against PyTorch; the
 *   model.json is refused by name. torchvision ConvNeXt exported at opset 16 (five decomposed
 *   LayerNorms, GELU, layer scale) the same way, and at opset 17 (transformer_models.py's convnext).
 * - PyTorch nn.MultiheadAttention (batch_first, and sequence-first inside a model that transposes)
 *   and TransformerEncoderLayer (batch_first) -> one Keras MultiHeadAttention layer
 *   (src/passes/fuse-torch-attention.ts, then attention-write.ts), which TF.js 4.9 lacks: the .h5 /
 *   .keras read back by nnport's Keras reader (its MultiHeadAttention is Keras' einsums, checked
 *   against Keras-source NumPy references, keras_attention_h5.py) and run against PyTorch; the
 *   model.json is refused by name.
 * - GlobalAveragePooling3D / GlobalMaxPooling3D, which TF.js 4.9 lacks: the model.json has an
 *   AveragePooling3D / MaxPooling3D over the whole volume + Reshape, run by TF.js; the .h5 read
 *   back by nnport. torchvision r3d_18 on a 4x32x32 clip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel, run, type LoadedModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { openH5, predict, relError, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3, useTfjsBackend, type tf } from './tfjs-oracle.js';

const NETS = ['ln_pow', 'ln_plain', 'ln_mul', 'ln_channels', 'convnext16', 'gelu_erf', 'gelu_tanh', 'pool3d_avg', 'pool3d_max', 'r3d_18', 'mha_batch', 'mha_seq', 'encoder'] as const;
type Net = (typeof NETS)[number];
const TOLERANCE = 1e-4;
let dir = '';

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('wasm');
  dir = ensureScriptFixtures('keras_transformer_models.py', 'keras-transformers', NETS);
}, 300_000);

const npy = (net: Net, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, f))), f);
/** channels-last as Keras sees it: NCHW / NCDHW -> NHWC / NDHWC; sequences stay */
const last = (t: Tensor): Tensor => (t.rank >= 4 ? permute(t, [0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]) : t);
const load = async (net: Net): Promise<LoadedModel> => loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });

/** The layer classes and activations of a written .h5's model_config. */
async function h5Layers(bytes: Uint8Array): Promise<{ classes: string[]; activations: string[] }> {
  const { file, close } = await openH5(bytes);
  try {
    const layers = JSON.parse(String(file.attrs.model_config!.value)).config.layers as { class_name: string; config: { activation?: string } }[];
    return { classes: layers.map((l) => l.class_name), activations: layers.flatMap((l) => (l.config.activation ? [l.config.activation] : [])) };
  } finally {
    close();
  }
}

async function runTfjs(build: Promise<tf.LayersModel>, x: Tensor): Promise<Tensor> {
  const m = await build;
  try {
    return predict(m, [x])[0]!;
  } finally {
    m.dispose();
  }
}

/** A written Keras file read back by nnport's Keras reader and run on `x`. */
async function readBack(bytes: Uint8Array, file: string, x: Tensor): Promise<Tensor> {
  const back = await loadModel(bytes, { fileName: file });
  if (back.kind !== 'graph') throw new Error('expected a graph');
  return [...(await run(back, { [back.graph.inputs[0]!.name]: x })).outputs.values()][0]!;
}

function keras3Parts(bytes: Uint8Array): { config: unknown; weights: Uint8Array } {
  const z = ZipReader.open(bytes);
  return { config: JSON.parse(new TextDecoder().decode(z.read('config.json'))), weights: z.read('model.weights.h5') };
}

describe('LayerNorm (opset < 17) and tanh GELU -> .h5 / model.json / .keras, run by TF.js, vs PyTorch', () => {
  const LAYER_NORMS: Partial<Record<Net, number>> = { ln_pow: 1, ln_plain: 1, ln_mul: 1, ln_channels: 1, gelu_tanh: 0 };
  it.each(Object.keys(LAYER_NORMS) as Net[])('%s', { timeout: 120_000 }, async (net) => {
    const model = await load(net);
    const x = last(npy(net, 'input.npy'));
    const want = last(npy(net, 'output.npy'));
    const h5 = await convert(model, `${net}.h5`);
    const js = await convert(model, `${net}/model.json`);
    const k3 = keras3Parts((await convert(model, `${net}.keras`)).bytes);
    const { classes } = await h5Layers(h5.bytes);
    expect(classes.filter((c) => c === 'LayerNormalization')).toHaveLength(LAYER_NORMS[net]!);
    const errors = {
      h5: relError(await runTfjs(tfjsModelFromH5(h5.bytes), x), want),
      json: relError(await runTfjs(tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), x), want),
      keras: relError(await runTfjs(tfjsModelFromKeras3(k3.config as never, k3.weights), x), want),
    };
    console.log(`${net}: TF.js vs PyTorch ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);
  });
});

describe("exact GELU -> Keras 'gelu' (.h5 / .keras read back by nnport vs PyTorch); TF.js layers refused by name", () => {
  it.each(['gelu_erf', 'convnext16'] as Net[])('%s', { timeout: 120_000 }, async (net) => {
    const model = await load(net);
    const x = last(npy(net, 'input.npy'));
    const want = last(npy(net, 'output.npy'));
    const h5 = await convert(model, `${net}.h5`);
    const { classes, activations } = await h5Layers(h5.bytes);
    expect(activations).toContain('gelu');
    expect(classes.filter((c) => c === 'LayerNormalization')).toHaveLength(net === 'convnext16' ? 5 : 0);
    const errors = {
      h5: relError(await readBack(h5.bytes, `${net}.h5`, x), want),
      keras: relError(await readBack((await convert(model, `${net}.keras`)).bytes, `${net}.keras`, x), want),
    };
    console.log(`${net}: read back by nnport vs PyTorch ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);
    await expect(convert(model, `${net}/model.json`)).rejects.toThrow(UnsupportedError);
    if (net === 'gelu_erf') await expect(convert(model, `${net}/model.json`)).rejects.toThrow(/'gelu' activation in a TF\.js layers model.*--tfjs-format graph/);
  });
});

describe("torchvision ConvNeXt at opset 17 (LayerNormalization ops, GELU as Erf) -> .h5 / .keras with 'gelu', read back by nnport vs PyTorch", () => {
  it('convnext (transformer_models.py)', { timeout: 120_000 }, async () => {
    const tdir = join(ensureScriptFixtures('transformer_models.py', 'transformers', ['convnext']), 'convnext');
    const model = await loadModel(new Uint8Array(readFileSync(join(tdir, 'model.onnx'))), { fileName: 'convnext.onnx' });
    const x = last(readNpy(new Uint8Array(readFileSync(join(tdir, 'input.npy')))));
    const want = readNpy(new Uint8Array(readFileSync(join(tdir, 'output.npy'))));
    const h5 = await convert(model, 'convnext.h5');
    expect((await h5Layers(h5.bytes)).activations).toContain('gelu');
    const errors = { h5: relError(await readBack(h5.bytes, 'convnext.h5', x), want), keras: relError(await readBack((await convert(model, 'convnext.keras')).bytes, 'convnext.keras', x), want) };
    console.log(`convnext (opset 17): read back by nnport vs PyTorch ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);
  });
});

describe('PyTorch MultiheadAttention -> Keras MultiHeadAttention (.h5 / .keras read back by nnport vs PyTorch); TF.js layers refused by name', () => {
  it.each(['mha_batch', 'mha_seq', 'encoder'] as Net[])('%s', { timeout: 120_000 }, async (net) => {
    const model = await load(net);
    const x = npy(net, 'input.npy');
    const want = npy(net, 'output.npy');
    const h5 = await convert(model, `${net}.h5`);
    const { classes } = await h5Layers(h5.bytes);
    expect(classes.filter((c) => c === 'MultiHeadAttention')).toHaveLength(1);
    expect(classes.filter((c) => c === 'LayerNormalization')).toHaveLength(net === 'encoder' ? 2 : 0);
    expect(h5.notes.join('\n')).toMatch(/1 PyTorch MultiheadAttention written as Keras MultiHeadAttention/);
    const k3 = (await convert(model, `${net}.keras`)).bytes;
    const errors = { h5: relError(await readBack(h5.bytes, `${net}.h5`, x), want), keras: relError(await readBack(k3, `${net}.keras`, x), want) };
    console.log(`${net}: read back by nnport vs PyTorch ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);
    await expect(convert(model, `${net}/model.json`)).rejects.toThrow(/Keras MultiHeadAttention in a TF\.js layers model/);
  });
});

describe('3-D global pooling -> model.json as pooling over the volume (TF.js) and .h5 (read back by nnport), vs PyTorch', () => {
  it.each(['pool3d_avg', 'pool3d_max', 'r3d_18'] as Net[])('%s', { timeout: 300_000 }, async (net) => {
    const model = await load(net);
    const x = last(npy(net, 'input.npy'));
    const want = last(npy(net, 'output.npy'));
    const js = await convert(model, `${net}/model.json`, { shardSize: 1 << 22 });
    const layers = (JSON.parse(new TextDecoder().decode(js.bytes)).modelTopology.model_config.config.layers as { class_name: string }[]).map((l) => l.class_name);
    expect(layers.some((c) => c.startsWith('Global'))).toBe(false);
    expect(layers).toContain(net === 'pool3d_max' ? 'MaxPooling3D' : 'AveragePooling3D');
    const h5 = await convert(model, `${net}.h5`);
    expect((await h5Layers(h5.bytes)).classes).toContain(net === 'pool3d_max' ? 'GlobalMaxPooling3D' : 'GlobalAveragePooling3D');
    const errors = {
      json: relError(await runTfjs(tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), x), want),
      h5: relError(await readBack(h5.bytes, `${net}.h5`, x), want),
    };
    console.log(`${net}: model.json by TF.js, .h5 read back by nnport, vs PyTorch ${Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(TOLERANCE);
  });
});
