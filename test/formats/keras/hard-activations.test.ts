// PyTorch's nn.Hardsigmoid / nn.Hardswish (ONNX HardSigmoid alpha = 1/6, HardSwish) into Keras:
// Keras 3 has them as the activations hard_sigmoid (relu6(x + 3) / 6, changed from Keras 2's
// 0.2x + 0.5) and hard_silu; Keras 2 and TF.js have only the old hard_sigmoid. onnxruntime-node
// runs the ONNX model; the .keras archive's config names the activations, and nnport reading the
// archive (Keras 3 semantics) computes onnxruntime's outputs. What a flavour's activations cannot
// express is written as Rescaling(alpha, beta) and ReLU(max_value=1) (times x for HardSwish), which
// TensorFlow.js runs from the .h5; Keras 2's own hard_sigmoid in an .h5 is run by TensorFlow.js.
import { beforeAll, describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import { ZipReader } from '../../../src/io/zip.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { predict, tfjsModelFromH5, useTfjsBackend } from './tfjs-oracle.js';
import { ortRun } from '../../support/ort.js';

beforeAll(async () => {
  await initKernels();
  await useTfjsBackend('cpu');
});

const f32 = (value: number) => ({ type: 'float' as const, value: Math.fround(value) });

/** x [2, 3, 4, 8] (NCHW) -> one activation node -> y */
function graph(node: Omit<Node, 'name' | 'inputs' | 'outputs' | 'domain'>): Graph {
  return {
    name: node.opType,
    nodes: [{ name: 'act', domain: '', inputs: ['x'], outputs: ['y'], ...node }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4, 8] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': 14 },
  };
}

const r = rng(17);
const x = Tensor.float32([2, 3, 4, 8], Float32Array.from({ length: 192 }, () => (r() * 2 - 1) * 5));

async function onnxruntime(onnx: Uint8Array): Promise<Float32Array> {
  return (await ortRun(onnx, { x: Tensor.float32([...x.shape], x.toFloat32()) })).get('y')!.toFloat32();
}

const CASES = [
  ['nn.Hardsigmoid (HardSigmoid alpha 1/6)', 'hard_sigmoid', graph({ opType: 'HardSigmoid', attrs: { alpha: f32(1 / 6), beta: f32(0.5) } })],
  ['nn.Hardswish (HardSwish)', 'hard_silu', graph({ opType: 'HardSwish', attrs: {} })],
] as const;

describe('hard_sigmoid / hard_silu into Keras 3, against onnxruntime-node', () => {
  it.each(CASES)('%s -> .keras Activation %s', async (_name, activation, g) => {
    const onnx = writeOnnx(g);
    const want = await onnxruntime(onnx);
    const archive = (await convert(await loadModel(onnx, { fileName: 'm.onnx' }), 'm.keras')).bytes;
    const config = JSON.parse(new TextDecoder().decode(ZipReader.open(archive).read('config.json')));
    const layers = config.config.layers as { class_name: string; config: { activation?: string } }[];
    expect(layers.filter((l) => l.class_name === 'Activation').map((l) => l.config.activation)).toEqual([activation]);
    const back = await loadModel(archive, { fileName: 'm.keras' });
    if (back.kind !== 'graph') throw new Error('not a graph');
    const input = back.graph.inputs[0]!;
    // no spatial op: the layout pass leaves the elementwise model's axes as they are
    expect(input.shape!.slice(1)).toEqual([3, 4, 8]);
    const got = (await runGraph(back.graph, new Map([[input.name, x]]))).outputs.get(back.graph.outputs[0]!.name)!;
    // the function is piecewise: both sides of each kink must be sampled
    expect(Math.min(...want)).toBeLessThanOrEqual(activation === 'hard_sigmoid' ? 0 : -0.3);
    expect(maxAbsDiff(got.toFloat32(), want)).toBeLessThan(1e-6);
  });

  it.each(CASES)('%s -> .h5 (Keras 2 / TF.js: Rescaling, ReLU(max_value=1)[, Multiply]), run by TensorFlow.js', async (_name, _activation, g) => {
    const onnx = writeOnnx(g);
    const want = await onnxruntime(onnx);
    const h5 = (await convert(await loadModel(onnx, { fileName: 'm.onnx' }), 'm.h5')).bytes;
    const m = await tfjsModelFromH5(h5);
    try {
      const classes = m.layers.map((l) => l.getClassName()).filter((c) => c !== 'InputLayer');
      expect(classes).toEqual(g.nodes[0]!.opType === 'HardSwish' ? ['Rescaling', 'ReLU', 'Multiply'] : ['Rescaling', 'ReLU']);
      // both kinks sampled
      expect(Math.min(...want)).toBeLessThanOrEqual(g.nodes[0]!.opType === 'HardSwish' ? -0.3 : 0);
      expect(Math.max(...want)).toBeGreaterThanOrEqual(g.nodes[0]!.opType === 'HardSwish' ? 3 : 1);
      expect(maxAbsDiff(predict(m, [x])[0]!.toFloat32(), want)).toBeLessThan(1e-6);
    } finally {
      m.dispose();
    }
  });

  it("Keras 2's hard_sigmoid (alpha 0.2) -> .keras: Rescaling and ReLU(max_value=1) there, = onnxruntime", async () => {
    const keras2 = graph({ opType: 'HardSigmoid', attrs: { alpha: f32(0.2), beta: f32(0.5) } });
    const onnx = writeOnnx(keras2);
    const want = await onnxruntime(onnx);
    const archive = (await convert(await loadModel(onnx, { fileName: 'm.onnx' }), 'm.keras')).bytes;
    const config = JSON.parse(new TextDecoder().decode(ZipReader.open(archive).read('config.json')));
    const layers = config.config.layers as { class_name: string; config: { scale?: number; offset?: number; max_value?: number } }[];
    const rescaling = layers.find((l) => l.class_name === 'Rescaling')!;
    expect([rescaling.config.scale, rescaling.config.offset]).toEqual([Math.fround(0.2), 0.5]);
    expect(layers.find((l) => l.class_name === 'ReLU')!.config.max_value).toBe(1);
    const back = await loadModel(archive, { fileName: 'm.keras' });
    if (back.kind !== 'graph') throw new Error('not a graph');
    const got = (await runGraph(back.graph, new Map([[back.graph.inputs[0]!.name, x]]))).outputs.get(back.graph.outputs[0]!.name)!;
    expect(maxAbsDiff(got.toFloat32(), want)).toBeLessThan(1e-6);
  });

  it("Keras 2's hard_sigmoid (ONNX HardSigmoid alpha 0.2 in float32) -> .h5, run by TensorFlow.js", async () => {
    const keras2 = graph({ opType: 'HardSigmoid', attrs: { alpha: f32(0.2), beta: f32(0.5) } });
    const onnx = writeOnnx(keras2);
    const want = await onnxruntime(onnx);
    const h5 = (await convert(await loadModel(onnx, { fileName: 'm.onnx' }), 'm.h5')).bytes;
    const m = await tfjsModelFromH5(h5);
    try {
      // no spatial op: the layout pass leaves the elementwise model's axes as they are
      expect(m.inputs[0]!.shape).toEqual([null, 3, 4, 8]);
      const got = predict(m, [x])[0]!;
      expect(maxAbsDiff(got.toFloat32(), want)).toBeLessThan(1e-6);
    } finally {
      m.dispose();
    }
  });
});
