/**
 * Grouped convolutions (not depthwise): torchvision's ResNeXt Bottleneck (groups=4) and RegNet
 * ResBottleneckBlock (group width 8, squeeze-excitation), exported by PyTorch
 * (scripts/fixtures/export_grouped_conv.py, committed under test/fixtures/models/resnext_regnet).
 * TF.js 4.9 has no kernel for Conv2D(groups), so its layers model.json (and the .h5 with
 * --expand-groups) writes each as a Conv2D with a block-diagonal kernel; TensorFlow.js runs those
 * files and must give PyTorch's output. The plain .h5 keeps Conv2D(groups=g), as Keras writes it.
 * The pass alone is checked by onnxruntime-node on the ONNX graph before and after.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { expandGroupedConv } from '../../../src/passes/expand-grouped-conv.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { openH5, predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, useTfjsBackend } from './tfjs-oracle.js';
import { ortFirst } from '../../support/ort.js';

const DIR = join(REPO_ROOT, 'test/fixtures/models/resnext_regnet');
const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('wasm');
});

const npy = (f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(DIR, f))), f);
const nhwc = (t: Tensor): Tensor => {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  const src = t.toFloat32();
  const out = new Float32Array(t.size);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((b * h + y) * w + x) * c + k] = src[((b * c + k) * h + y) * w + x]!;
  return Tensor.float32([n, h, w, c], out);
};
const onnxBytes = (): Uint8Array => new Uint8Array(readFileSync(join(DIR, 'model.onnx')));

/** class_name and groups of each Conv2D in a Keras model_config */
const convGroups = (config: { config: { layers: { class_name: string; config: { groups?: number } }[] } }): number[] =>
  config.config.layers.filter((l) => l.class_name === 'Conv2D').map((l) => l.config.groups ?? 1);

async function h5Config(bytes: Uint8Array): Promise<never> {
  const { file, close } = await openH5(bytes);
  try {
    return JSON.parse(String(file.attrs.model_config!.value)) as never;
  } finally {
    close();
  }
}

describe('grouped convs (torchvision ResNeXt and RegNet blocks) -> Keras / TF.js, run by TensorFlow.js, vs PyTorch', () => {
  it('TF.js model.json: block-diagonal Conv2D, reported; TF.js output = PyTorch', async () => {
    const model = await loadModel(onnxBytes(), { fileName: 'resnext_regnet.onnx' });
    const js = await convert(model, 'rr/model.json');
    const grouped = js.notes.filter((n) => /^grouped conv .* block-diagonal kernel/.test(n));
    expect(grouped, js.notes.join('\n')).toHaveLength(2);
    expect(grouped.some((n) => /group 4, 16 -> 16 channels/.test(n))).toBe(true);
    expect(grouped.some((n) => /group 8, 64 -> 64 channels/.test(n))).toBe(true);
    const topology = JSON.parse(new TextDecoder().decode(js.bytes)).modelTopology.model_config;
    expect(convGroups(topology).every((g) => g === 1)).toBe(true);
    const y = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [nhwc(npy('input.npy'))])[0]!;
    const err = relError(y, npy('output.npy'));
    console.log(`resnext_regnet model.json: TF.js vs PyTorch ${err.toExponential(2)} (relative to the output's scale)`);
    expect(err).toBeLessThan(TOLERANCE);
  });

  it('.h5 keeps Conv2D(groups) as Keras writes it; with expandGroupedConv TF.js runs it = PyTorch', async () => {
    const model = await loadModel(onnxBytes(), { fileName: 'resnext_regnet.onnx' });
    const plain = await convert(model, 'rr.h5');
    expect(plain.notes.filter((n) => /^grouped conv/.test(n))).toEqual([]);
    expect(convGroups(await h5Config(plain.bytes)).filter((g) => g > 1).sort()).toEqual([4, 8]);
    const expanded = await convert(model, 'rr.h5', { expandGroupedConv: true });
    expect(convGroups(await h5Config(expanded.bytes)).every((g) => g === 1)).toBe(true);
    const y = predict(await tfjsModelFromH5(expanded.bytes), [nhwc(npy('input.npy'))])[0]!;
    const err = relError(y, npy('output.npy'));
    console.log(`resnext_regnet .h5 --expand-groups: TF.js vs PyTorch ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOLERANCE);
  });

  it('the pass on the ONNX graph (OIHW): onnxruntime-node gives the same output before and after', async () => {
    const model = await loadModel(onnxBytes(), { fileName: 'resnext_regnet.onnx' });
    const graph = (model as { graph: Graph }).graph;
    const r = expandGroupedConv(graph);
    expect(r.notes).toHaveLength(2);
    expect(r.graph.nodes.filter((n) => n.opType === 'Conv' && (n.attrs.group?.value ?? 1) !== 1)).toEqual([]);
    const x = randomInput([1, 3, 32, 32], 5);
    const outs: Float32Array[] = [];
    for (const g of [graph, r.graph]) {
      outs.push((await ortFirst(g, [x.reshape([1, 3, 32, 32])])).toFloat32());
    }
    expect(relError(Tensor.float32([10], outs[1]!), Tensor.float32([10], outs[0]!))).toBeLessThan(1e-5);
  });

  it('nnport convert --expand-groups --explain prints the expanded convs', async () => {
    const lines: string[] = [];
    const errors: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'nnport-grouped-'));
    const code = await main(['convert', join(DIR, 'model.onnx'), '-o', join(dir, 'rr.h5'), '--expand-groups', '--explain'], (s) => lines.push(s), (s) => errors.push(s));
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(lines.filter((l) => /^grouped conv/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/^wrote /);
  });
});
