/**
 * Dilated depthwise convolutions (torchvision MobileNetV3 InvertedResidual blocks with dilation 2,
 * as DeepLabV3's backbone runs them, and a 5x5 depthwise of dilation 3, stride 2), exported by
 * PyTorch (scripts/fixtures/export_grouped_conv.py dilated_depthwise, committed under
 * test/fixtures/models/dilated_depthwise). TF.js 4.9's DepthwiseConv2D layer builds with
 * dilation_rate but runs its kernel without it, so a layers model.json keeping the dilation runs
 * silently wrong there: nnport writes each such conv undilated with a zero-spread kernel, and
 * TensorFlow.js must give PyTorch's output. The .h5 keeps DepthwiseConv2D(dilation_rate) as Keras
 * writes it (and --expand-groups spreads it for TF.js). The pass alone: onnxruntime-node on the ONNX
 * graph before and after.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { spreadDilatedDepthwise } from '../../../src/passes/spread-dilated-depthwise.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ortFirst } from '../../support/ort.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, useTfjsBackend } from './tfjs-oracle.js';

const DIR = join(REPO_ROOT, 'test/fixtures/models/dilated_depthwise');
const TOLERANCE = 1e-5;

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('cpu');
});

const npy = (f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(DIR, f))), f);
const nhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 1]);
const load = async () => loadModel(new Uint8Array(readFileSync(join(DIR, 'model.onnx'))), { fileName: 'dilated_depthwise.onnx' });

interface LayerConfig { class_name: string; config: { dilation_rate?: number[]; kernel_size?: number[] } }
const depthwise = (layers: LayerConfig[]): LayerConfig['config'][] => layers.filter((l) => l.class_name === 'DepthwiseConv2D').map((l) => l.config);

describe('dilated depthwise convs (torchvision MobileNetV3 blocks) -> TF.js / Keras, run by TensorFlow.js, vs PyTorch', () => {
  it('TF.js model.json: undilated spread kernels, reported; TF.js output = PyTorch', async () => {
    const js = await convert(await load(), 'dd/model.json');
    const spread = js.notes.filter((n) => /^dilated depthwise conv/.test(n));
    expect(spread, js.notes.join('\n')).toHaveLength(3);
    expect(spread.some((n) => /dilation 3x3, 5x5 kernel\) written undilated with a 13x13 kernel/.test(n))).toBe(true);
    const layers = JSON.parse(new TextDecoder().decode(js.bytes)).modelTopology.model_config.config.layers as LayerConfig[];
    expect(depthwise(layers).map((c) => c.dilation_rate)).toEqual([[1, 1], [1, 1], [1, 1]]);
    const y = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [nhwc(npy('input.npy'))])[0]!;
    const err = relError(y, npy('output.npy'));
    console.log(`dilated_depthwise model.json: TF.js vs PyTorch ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOLERANCE);
  });

  it('.h5 keeps DepthwiseConv2D(dilation_rate); with expandGroupedConv TF.js runs it = PyTorch', async () => {
    const model = await load();
    const plain = await convert(model, 'dd.h5');
    expect(plain.notes.filter((n) => /^dilated depthwise/.test(n))).toEqual([]);
    const expanded = await convert(model, 'dd.h5', { expandGroupedConv: true });
    expect(expanded.notes.filter((n) => /^dilated depthwise/.test(n))).toHaveLength(3);
    const y = predict(await tfjsModelFromH5(expanded.bytes), [nhwc(npy('input.npy'))])[0]!;
    expect(relError(y, npy('output.npy'))).toBeLessThan(TOLERANCE);
    // the plain .h5 is what Keras runs; TF.js drops its dilation, which is why the model.json spreads it
    const wrong = predict(await tfjsModelFromH5(plain.bytes), [nhwc(npy('input.npy'))])[0]!;
    expect(relError(wrong, npy('output.npy'))).toBeGreaterThan(1e-3);
  });

  it('the pass on the ONNX graph (OIHW): onnxruntime-node gives the same output before and after', async () => {
    const graph = ((await load()) as { graph: Graph }).graph;
    const r = spreadDilatedDepthwise(graph);
    expect(r.notes).toHaveLength(3);
    expect(r.graph.nodes.filter((n) => n.opType === 'Conv' && (n.attrs.dilations?.value as number[] | undefined)?.some((d) => d !== 1))).toEqual([]);
    const x = randomInput([1, 3, 40, 40], 7);
    const [before, after] = [await ortFirst(graph, [x]), await ortFirst(r.graph, [x])];
    expect(relError(after, before)).toBeLessThan(1e-6);
  });
});
