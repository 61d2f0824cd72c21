// PyTorch's InstanceNorm2d, GroupNorm and PixelShuffle (scripts/fixtures/group_norm_models.py: a fast-neural-style
// net, a diffusion-UNet-like block with GroupNorm of 8, 4 (no affine) and 1 groups) written as Keras
// GroupNormalization (tf.keras 2.11+, Keras 3): PyTorch's GroupNorm export (Reshape ->
// InstanceNormalization -> Reshape -> affine) fused into one layer, channels-last with no transpose.
// TF.js 4.9 has no GroupNormalization, so the .h5 / .keras are read back by nnport's Keras reader,
// whose GroupNormalization follows Keras' (moments over the spatial axes and each group's
// contiguous channels), and compared with PyTorch's output; the fused graph and the op's kernel are
// checked by onnxruntime-node against the exported ONNX graph. An ESPCN's PixelShuffle (DepthToSpace) is
// Reshape / Permute / Reshape in Keras, run by TF.js.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, run } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseGroupNorm } from '../../../src/passes/fuse-group-norm.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { openH5, predict, relError, tfjsModelFromJson, useTfjsBackend } from './tfjs-oracle.js';

const NETS = ['style', 'groupnorm', 'espcn'] as const;
let dir = '';

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('group_norm_models.py', 'group-norm', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnx = (net: string): Uint8Array => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const nhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 1]);

type Layer = { class_name: string; config: { groups?: number } };

describe('InstanceNorm / GroupNorm -> Keras GroupNormalization, read back, vs PyTorch', () => {
  for (const net of ['style', 'groupnorm'] as const) {
    it(`${net}: .h5 and .keras hold GroupNormalization layers and no transposes; read back = PyTorch`, async () => {
      const model = await loadModel(onnx(net), { fileName: `${net}.onnx` });
      for (const out of [`${net}.h5`, `${net}.keras`]) {
        const r = await convert(model, out);
        if (out.endsWith('.h5')) {
          const { file, close } = await openH5(r.bytes);
          const layers = (JSON.parse(String(file.attrs.model_config!.value)) as { config: { layers: Layer[] } }).config.layers;
          close();
          const groups = layers.filter((l) => l.class_name === 'GroupNormalization').map((l) => l.config.groups);
          expect(groups).toEqual(net === 'style' ? [16, 32] : [8, 4, 1]);
          expect(layers.filter((l) => l.class_name === 'Permute')).toEqual([]);
        }
        const back = await loadModel(r.bytes, { fileName: out });
        const g = (back as { graph: Graph }).graph;
        const y = [...(await run(back, { [g.inputs[0]!.name]: nhwc(npy(net, 'input')) })).outputs.values()][0]!;
        const err = relErr(y.toFloat32(), nhwc(npy(net, 'output')).toFloat32());
        console.log(`${out} read back vs PyTorch: ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-5);
      }
    });
  }

  it('the fused ONNX graph (GroupNormalization, per-channel scale) runs in nnport = onnxruntime-node on the export', async () => {
    const model = await loadModel(onnx('groupnorm'), { fileName: 'groupnorm.onnx' });
    const graph = (model as { graph: Graph }).graph;
    const r = fuseGroupNorm(graph);
    expect(r.fused.map((f) => f.groups)).toEqual([8, 4, 1]);
    expect(r.graph.nodes.filter((n) => n.opType === 'InstanceNormalization' || n.opType === 'Reshape')).toEqual([]);
    const x = npy('groupnorm', 'input');
    const want = await ortFirst(graph, [x]);
    const got = [...(await run(r.graph, { x })).outputs.values()][0]!;
    expect(relErr(got.toFloat32(), want.toFloat32())).toBeLessThan(1e-5);
  });

  it('ESPCN: PixelShuffle (DepthToSpace CRD) as Reshape / Permute / Reshape; the TF.js layers model.json = PyTorch', async () => {
    await useTfjsBackend('cpu');
    const js = await convert(await loadModel(onnx('espcn'), { fileName: 'espcn.onnx' }), 'sr/model.json');
    const layers = (JSON.parse(new TextDecoder().decode(js.bytes)) as { modelTopology: { model_config: { config: { layers: Layer[] } } } }).modelTopology.model_config.config.layers;
    expect(layers.map((l) => l.class_name)).toContain('Permute');
    const y = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [nhwc(npy('espcn', 'input'))])[0]!;
    // (the unshuffle's 6-D Reshape / Transpose ends in PyTorch's own NCHW order, which the output keeps)
    expect(y.shape).toEqual([1, 8, 18, 24]);
    const err = relError(y, npy('espcn', 'output'));
    console.log(`espcn model.json: TF.js vs PyTorch ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('TF.js layers has no GroupNormalization: refused by name, pointing to the graph model', async () => {
    const model = await loadModel(onnx('style'), { fileName: 'style.onnx' });
    await expect(convert(model, 'web/model.json')).rejects.toThrow(/GroupNormalization in a TF.js layers model.*--tfjs-format graph/);
  });
});
