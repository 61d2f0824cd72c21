// fuseLayerNorm (src/passes/fuse-layer-norm.ts): LayerNorm spelled out as ReduceMean / Sub / Pow or
// Mul / ReduceMean / Add / Sqrt / Div (/ Mul / Add) collapsed into one LayerNormalization. Proved
// on the graph: onnxruntime runs the fused .onnx and the unfused one (its graph optimisations off,
// else its own LayerNormFusion fuses it too) on the same input, and the fused one
// against PyTorch's own output (scripts/fixtures/keras_transformer_models.py: nn.LayerNorm exported
// at opset 14 with and without affine, a hand-written d * d form at opset 13, torchvision ConvNeXt
// at opset 16). Hand-built graphs check what must not be fused (RMSNorm, epsilon outside the root,
// two different reductions, a scale varying over the batch, an inner value read elsewhere).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { loadModel } from '../../../src/index.js';
import { emptyGraph, type Graph, type Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { fuseLayerNorm } from '../../../src/passes/fuse-layer-norm.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';

const NETS = ['ln_pow', 'ln_plain', 'ln_mul', 'ln_channels', 'convnext16'] as const;
/** LayerNorms each net has, fused on the NCHW graph as read (ln_channels' is over axis 1: fused only once channels-last) */
const FUSED: Record<(typeof NETS)[number], number> = { ln_pow: 1, ln_plain: 1, ln_mul: 1, ln_channels: 0, convnext16: 5 };
let dir = '';

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('keras_transformer_models.py', 'keras-transformers', NETS);
}, 300_000);

describe('fuseLayerNorm on PyTorch exports, onnxruntime fused vs unfused vs PyTorch', () => {
  it.each(NETS)('%s', async (net) => {
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });
    if (model.kind !== 'graph') throw new Error('expected a graph');
    const x = readNpy(new Uint8Array(readFileSync(join(dir, net, 'input.npy'))));
    const want = readNpy(new Uint8Array(readFileSync(join(dir, net, 'output.npy'))));
    const { graph, fused } = fuseLayerNorm(model.graph);
    expect(fused).toHaveLength(FUSED[net]);
    expect(graph.nodes.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(FUSED[net]);
    if (FUSED[net]) expect(graph.nodes.filter((n) => n.opType === 'Sqrt')).toEqual([]);
    // graph optimisations off for the unfused graph: onnxruntime's own LayerNormFusion would fuse it too
    const before = await ortFirst(model.graph, [x], { graphOptimizationLevel: 'disabled' });
    const after = await ortFirst(graph, [x]);
    const eFused = relErr(after.toFloat32(), before.toFloat32());
    const eTorch = relErr(after.toFloat32(), want.toFloat32());
    console.log(`${net}: ${fused.length} LayerNormalization fused; onnxruntime fused vs unfused ${eFused.toExponential(2)}, fused vs PyTorch ${eTorch.toExponential(2)}`);
    expect(after.shape).toEqual(want.shape);
    expect(eFused).toBeLessThan(1e-5);
    expect(eTorch).toBeLessThan(1e-5);
  });
});

interface Spec {
  square?: 'pow' | 'mul';
  /** 'inside': sqrt(var + eps); 'outside': sqrt(var) + eps */
  eps?: 'inside' | 'outside';
  /** false: RMSNorm (x / sqrt(mean(x²) + eps), no centering) */
  center?: boolean;
  varianceAxes?: number[];
  scaleShape?: number[];
  /** the centered value is also a graph output */
  exposeCentered?: boolean;
}

/** A [2, 3, 4] input normalized over the last axis as `spec` writes it, * scale + bias. */
function spelledOut(spec: Spec): Graph {
  const g = emptyGraph();
  g.opsets[''] = 13;
  const r = rng(11);
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4] });
  const scaleShape = spec.scaleShape ?? [4];
  const size = scaleShape.reduce((a, b) => a * b, 1);
  g.initializers.set('ln.weight', Tensor.float32(scaleShape, Float32Array.from({ length: size }, () => 0.5 + r())));
  g.initializers.set('ln.bias', Tensor.float32([4], Float32Array.from({ length: 4 }, () => r() - 0.5)));
  g.initializers.set('two', Tensor.float32([], [2]));
  g.initializers.set('eps', Tensor.float32([], [1e-3]));
  const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): void => {
    g.nodes.push({ name: `/ln/${out}`, opType, domain: '', inputs, outputs: [out], attrs });
  };
  const mean = (input: string, out: string, axes = [-1]): void => node('ReduceMean', [input], out, { axes: { type: 'ints', value: axes }, keepdims: { type: 'int', value: 1 } });
  let d = 'x';
  if (spec.center !== false) {
    mean('x', 'mean');
    node('Sub', ['x', 'mean'], 'd');
    d = 'd';
  }
  if (spec.square === 'mul') node('Mul', [d, d], 'sq');
  else node('Pow', [d, 'two'], 'sq');
  mean('sq', 'var', spec.varianceAxes);
  if (spec.eps === 'outside') {
    node('Sqrt', ['var'], 'std');
    node('Add', ['std', 'eps'], 's');
  } else {
    node('Add', ['var', 'eps'], 've');
    node('Sqrt', ['ve'], 's');
  }
  node('Div', [d, 's'], 'n');
  node('Mul', ['n', 'ln.weight'], 'scaled');
  node('Add', ['ln.bias', 'scaled'], 'y');
  g.outputs.push({ name: 'y', dtype: 'float32' });
  if (spec.exposeCentered) g.outputs.push({ name: 'd', dtype: 'float32' });
  return g;
}

describe('fuseLayerNorm on hand-built graphs', () => {
  const x = Tensor.float32([2, 3, 4], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3));

  it.each([
    ['Pow(d, 2), epsilon inside the root', { square: 'pow' }],
    ['d * d, scale [1, 1, 4]', { square: 'mul', scaleShape: [1, 1, 4] }],
  ] as [string, Spec][])('fuses %s: one LayerNormalization, onnxruntime gives the same', async (_, spec) => {
    const g = spelledOut(spec);
    const { graph, fused } = fuseLayerNorm(g);
    expect(fused).toEqual(['ln']);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['LayerNormalization']);
    const ln = graph.nodes[0]!;
    expect(ln.attrs.axis).toEqual({ type: 'int', value: 2 });
    expect((ln.attrs.epsilon as { value: number }).value).toBeCloseTo(1e-3, 9);
    expect(graph.outputs.map((o) => o.name)).toEqual(['y']);
    const e = relErr((await ortFirst(graph, [x])).toFloat32(), (await ortFirst(g, [x], { graphOptimizationLevel: 'disabled' })).toFloat32());
    expect(e).toBeLessThan(1e-6);
  });

  it.each([
    ['RMSNorm (no centering)', { center: false }],
    ['epsilon outside the root', { eps: 'outside' }],
    ['the variance over other axes than the mean', { varianceAxes: [-2, -1] }],
    ['the centered value read by a graph output', { exposeCentered: true }],
  ] as [string, Spec][])('leaves %s as it is', (_, spec) => {
    const g = spelledOut(spec);
    const { graph, fused } = fuseLayerNorm(g);
    expect(fused).toEqual([]);
    expect(graph).toBe(g);
  });

  it('keeps a scale that varies over the batch as its own Mul after the LayerNormalization', async () => {
    const g = spelledOut({ scaleShape: [2, 1, 4] });
    const { graph, fused } = fuseLayerNorm(g);
    expect(fused).toHaveLength(1);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['LayerNormalization', 'Mul', 'Add']);
    const e = relErr((await ortFirst(graph, [x])).toFloat32(), (await ortFirst(g, [x], { graphOptimizationLevel: 'disabled' })).toFloat32());
    expect(e).toBeLessThan(1e-6);
  });
});
