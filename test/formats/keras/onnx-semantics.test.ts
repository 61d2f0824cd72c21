/**
 * ONNX semantics the Keras / TF.js path must keep, checked by running the written files in
 * TensorFlow.js against onnxruntime-node on the same graph:
 * - a graph whose only NCHW-spatial op is an Upsample or Resize (no conv or pool) is still an
 *   NCHW graph (scales [1, 1, sh, sw]): laid out channels-last like any other (one predicate,
 *   needsChannelsLast, for every NHWC writer);
 * - Softmax before opset 13 is one softmax over the flattened axes from `axis`: written as a
 *   Keras Softmax only where that is the last axis or the others are all 1, else refused by name;
 * - ops written with other stock layers (Pow 2, ReduceSum / ReduceMin, Clip(0), Neg, x · x) and
 *   LayerNormalization over several axes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { permute } from '../../../src/wasm/permute.js';
import { ZipReader } from '../../../src/io/zip.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3 } from './tfjs-oracle.js';
import { ortRun } from '../../support/ort.js';

beforeAll(async () => {
  await initKernels();
});

const SCALES = [1, 1, 2, 3];
const s = (value: string): Attr => ({ type: 'string', value });

/** x (1,3,4,5) -> op -> PRelu with a per-channel slope [3,1,1] (weights, and channel-sensitive) */
function graph(op: 'Upsample' | 'Resize', opset: number, how: 'input' | 'attribute'): Graph {
  const inits = new Map<string, Tensor>([['scales', Tensor.float32([4], SCALES)]]);
  let inputs = ['x', 'scales'];
  const attrs: Record<string, Attr> = { mode: s('nearest') };
  if (how === 'attribute') {
    inits.clear();
    inputs = ['x'];
    attrs.scales = { type: 'floats', value: SCALES };
  } else if (op === 'Resize' && opset >= 11) {
    inputs = ['x', '', 'scales'];
    attrs.coordinate_transformation_mode = s('asymmetric');
    attrs.nearest_mode = s('floor');
  }
  return {
    name: `${op}${opset}`,
    nodes: [
      { name: 'up', opType: op, domain: '', inputs, outputs: ['u'], attrs },
      { name: 'prelu', opType: 'PRelu', domain: '', inputs: ['u', 'slope'], outputs: ['y'], attrs: {} },
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 4, 5] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([...inits, ['slope', Tensor.float32([3, 1, 1], [-0.5, 0.25, 2])]]),
    opsets: { '': opset },
  };
}

/** the same with a Relu (a model without weights) */
function weightless(g: Graph): Graph {
  const inits = new Map(g.initializers);
  inits.delete('slope');
  return { ...g, name: `${g.name}_relu`, nodes: g.nodes.map((n) => (n.opType === 'PRelu' ? { ...n, opType: 'Relu', inputs: ['u'] } : n)), initializers: inits };
}

const CASES: Array<[string, Graph]> = [
  ['Upsample-7 (scales attribute)', graph('Upsample', 7, 'attribute')],
  ['Upsample-9 (scales input)', graph('Upsample', 9, 'input')],
  ['Resize-10', graph('Resize', 10, 'input')],
  ['Resize-13', graph('Resize', 13, 'input')],
  ['Upsample-7 + Relu: no weights at all (model.json without a manifest)', weightless(graph('Upsample', 7, 'attribute'))],
];

describe('an NCHW graph with only a Resize / Upsample -> .h5 and model.json, run by TF.js, vs onnxruntime-node', () => {
  it.each(CASES)('%s', async (_, g) => {
    const onnx = writeOnnx(g);
    const x = randomInput([1, 3, 4, 5], 7);
    const want = permute((await ortRun(onnx, { x })).get('y')!, [0, 2, 3, 1]);
    expect(want.shape).toEqual([1, 8, 15, 3]);

    const model = await loadModel(onnx, { fileName: `${g.name}.onnx` });
    const xs = [permute(x, [0, 2, 3, 1])];
    const h5 = await convert(model, `${g.name}.h5`);
    const fromH5 = predict(await tfjsModelFromH5(h5.bytes), xs)[0]!;
    expect(fromH5.shape).toEqual(want.shape);
    expect(relError(fromH5, want)).toBe(0);
    const js = await convert(model, `${g.name}/model.json`);
    const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), xs)[0]!;
    expect(relError(fromJs, want)).toBe(0);
  });
});

describe('Softmax before opset 13 (one softmax over the flattened axes from `axis`, default 1)', () => {
  const softmaxGraph = (x: number[], pre: Graph['nodes'], inits: Map<string, Tensor>, attrs: Record<string, Attr>): Graph => ({
    name: 'sm11',
    nodes: [...pre, { name: 'softmax', opType: 'Softmax', domain: '', inputs: [pre.at(-1)!.outputs[0]!], outputs: ['y'], attrs }],
    inputs: [{ name: 'x', dtype: 'float32', shape: x }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: inits,
    opsets: { '': 11 },
  });

  it('over the last axis of a classifier (the default axis 1 of a rank-2 input): TF.js = onnxruntime-node', async () => {
    const g = softmaxGraph([1, 6], [{ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w', 'b'], outputs: ['z'], attrs: { transB: { type: 'int', value: 1 } } }], new Map([['w', randomInput([4, 6], 3)], ['b', randomInput([4], 4)]]), {});
    const x = randomInput([1, 6], 9);
    const want = (await ortRun(g, { x })).get('y')!;
    const h5 = await convert(await loadModel(writeOnnx(g), { fileName: 'sm11.onnx' }), 'sm11.h5');
    const y = predict(await tfjsModelFromH5(h5.bytes), [x])[0]!;
    expect(relError(y, want)).toBeLessThan(1e-6);
  });

  it('over C·1·1 (a classifier head kept N x C x 1 x 1, as SqueezeNet exports): a Keras Softmax on the channels, TF.js = onnxruntime-node', async () => {
    const conv = { name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['c'], attrs: {} };
    const pool = { name: 'pool', opType: 'GlobalAveragePool', domain: '', inputs: ['c'], outputs: ['z'], attrs: {} };
    const g = softmaxGraph([1, 3, 4, 5], [conv, pool], new Map([['w', randomInput([7, 3, 1, 1], 3)]]), {});
    const x = randomInput([1, 3, 4, 5], 9);
    const want = (await ortRun(g, { x })).get('y')!;
    expect(want.shape).toEqual([1, 7, 1, 1]);
    const model = await loadModel(writeOnnx(g), { fileName: 'sm11.onnx' });
    const h5 = await convert(model, 'sm11.h5');
    const json = await convert(model, 'web/model.json');
    for (const m of [await tfjsModelFromH5(h5.bytes), await tfjsModelFromJson(json.bytes, (n) => json.sidecars.get(n)!)]) {
      // the Keras model takes NHWC and gives N x 1 x 1 x C: the same values as N x C x 1 x 1
      const y = predict(m, [permute(x, [0, 2, 3, 1])])[0]!;
      expect(relError(Tensor.float32([1, 7], y.toFloat32()), want.reshape([1, 7]))).toBeLessThan(1e-6);
    }
  });

  it('over C·H·W of a 4-D input: an UnsupportedError naming the node, not a per-axis Keras Softmax', async () => {
    const conv = { name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['z'], attrs: {} };
    const g = softmaxGraph([1, 3, 4, 5], [conv], new Map([['w', randomInput([2, 3, 1, 1], 3)]]), { axis: { type: 'int', value: 1 } });
    const model = await loadModel(writeOnnx(g), { fileName: 'sm11.onnx' });
    await expect(convert(model, 'sm11.h5')).rejects.toThrow(/Softmax over the flattened axes 1\.\. of a rank-4 input \(opset < 13\).*'softmax'/);
  });
});

describe('reductions and element-wise ops written with other Keras layers (.h5 and model.json in TF.js vs onnxruntime-node)', () => {
  // Conv -> Pow(2) -> ReduceSum over H, W (keepdims); Conv -> Clip(min 0, no max) -> ReduceMin over H, W -> Neg; Mul(r, r)
  const node = (name: string, opType: string, inputs: string[], attrs: Record<string, Attr> = {}) => ({ name, opType, domain: '', inputs, outputs: [name], attrs });
  const g: Graph = {
    name: 'reductions',
    nodes: [
      node('c', 'Conv', ['x', 'w']),
      node('p', 'Pow', ['c', 'two']),
      node('y1', 'ReduceSum', ['p', 'hw']),
      node('r', 'Clip', ['c', 'zero']),
      node('m', 'ReduceMin', ['r'], { axes: { type: 'ints', value: [2, 3] }, keepdims: { type: 'int', value: 0 } }),
      node('y2', 'Neg', ['m']),
      node('y3', 'Mul', ['r', 'r']),
      node('y4', 'Div', ['c', 'three']),
      node('y5', 'PRelu', ['c', 'slope']),
      node('y6', 'ThresholdedRelu', ['c'], { alpha: { type: 'float', value: 0.1 } }),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 4, 5] }],
    outputs: [
      { name: 'y1', dtype: 'float32' },
      { name: 'y2', dtype: 'float32' },
      { name: 'y3', dtype: 'float32' },
      { name: 'y4', dtype: 'float32' },
      { name: 'y5', dtype: 'float32' },
      { name: 'y6', dtype: 'float32' },
    ],
    initializers: new Map([
      ['w', randomInput([4, 3, 1, 1], 5)],
      ['two', Tensor.float32([], [2])],
      ['hw', Tensor.int64([2], [2, 3])],
      ['zero', Tensor.float32([], [0])],
      ['three', Tensor.float32([], [3])],
      ['slope', Tensor.float32([1], [0.25])],
    ]),
    opsets: { '': 13 },
  };

  it('Pow(x, 2) as Multiply(x, x), ReduceSum as mean · count, Clip(0, -) as ReLU, ReduceMin as -max(-x), Neg as Rescaling(-1), x · x (one tensor twice to one layer: a copy, as TF.js needs), Div by 3 as Rescaling(1/3), PRelu with one slope as LeakyReLU, ThresholdedRelu', async () => {
    const x = randomInput([1, 3, 4, 5], 11);
    const want = await ortRun(g, { x });
    expect(want.get('y1')!.shape).toEqual([1, 4, 1, 1]);
    const model = await loadModel(writeOnnx(g), { fileName: 'reductions.onnx' });
    const h5 = await convert(model, 'reductions.h5');
    const js = await convert(model, 'web/model.json');
    for (const m of [await tfjsModelFromH5(h5.bytes), await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!)]) {
      const [y1, y2, y3, ...rest] = predict(m, [permute(x, [0, 2, 3, 1])]);
      // N x 1 x 1 x C holds the values of N x C x 1 x 1
      expect(relError(Tensor.float32([1, 4], y1!.toFloat32()), want.get('y1')!.reshape([1, 4]))).toBeLessThan(1e-6);
      expect(relError(y2!, want.get('y2')!.reshape([1, 4]))).toBeLessThan(1e-6);
      expect(relError(permute(y3!, [0, 3, 1, 2]), want.get('y3')!.reshape([1, 4, 4, 5]))).toBeLessThan(1e-6);
      rest.forEach((y, i) => expect(relError(permute(y, [0, 3, 1, 2]), want.get(`y${i + 4}`)!.reshape([1, 4, 4, 5]))).toBeLessThan(1e-6));
      expect(rest).toHaveLength(3);
    }
  });
});

describe('LayerNormalization over the axes from `axis` on (.h5, model.json, .keras in TF.js vs onnxruntime-node)', () => {
  const lnGraph = (axis: number, bias: boolean): Graph => ({
    name: `ln${axis}`,
    nodes: [{ name: 'ln', opType: 'LayerNormalization', domain: '', inputs: ['x', 'scale', ...(bias ? ['bias'] : [])], outputs: ['y'], attrs: { axis: { type: 'int', value: axis }, epsilon: { type: 'float', value: 1e-3 } } }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4, 5] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([
      ['scale', randomInput([2, 3, 4, 5].slice(axis < 0 ? axis + 4 : axis), 21)],
      ['bias', randomInput([2, 3, 4, 5].slice(axis < 0 ? axis + 4 : axis), 22)],
    ]),
    opsets: { '': 17 },
  });

  it.each([
    [-1, true],
    [2, true],
    [1, false],
  ] as const)('axis %i (bias %s): Keras LayerNormalization over that axis list, within 1e-5', async (axis, bias) => {
    const g = lnGraph(axis, bias);
    const x = randomInput([2, 3, 4, 5], 23);
    const want = (await ortRun(g, { x })).get('y')!;
    const model = await loadModel(writeOnnx(g), { fileName: 'ln.onnx' });
    const h5 = await convert(model, 'ln.h5');
    const js = await convert(model, 'web/model.json');
    const k3 = await convert(model, 'ln.keras');
    const z = ZipReader.open(k3.bytes);
    const models = [await tfjsModelFromH5(h5.bytes), await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'))];
    for (const m of models) expect(relError(predict(m, [x])[0]!, want)).toBeLessThan(1e-5);
  });

  it('over the batch axis, or with its Mean output read: an UnsupportedError naming the node', async () => {
    const g = lnGraph(1, true);
    const batch = { ...g, nodes: [{ ...g.nodes[0]!, attrs: { axis: { type: 'int' as const, value: 0 } } }], initializers: new Map([['scale', randomInput([2, 3, 4, 5], 1)]]) };
    batch.nodes[0]!.inputs = ['x', 'scale'];
    await expect(convert(await loadModel(writeOnnx(batch), { fileName: 'ln0.onnx' }), 'ln0.h5')).rejects.toThrow(/LayerNormalization over the batch axis.*'ln'/);
    const mean = { ...g, nodes: [{ ...g.nodes[0]!, outputs: ['y', 'mean'] }], outputs: [...g.outputs, { name: 'mean', dtype: 'float32' as const }] };
    await expect(convert(await loadModel(writeOnnx(mean), { fileName: 'lnm.onnx' }), 'lnm.h5')).rejects.toThrow(/LayerNormalization with its Mean \/ InvStdDev outputs.*'ln'/);
  });
});
