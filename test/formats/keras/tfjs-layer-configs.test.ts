// Layers TF.js builds with configs off the defaults, saved as TF.js saves them, read by nnport and
// compared with TF.js' own predict on the same input: the configs a reader is tempted to assume
// (channels and padding variants, depth multipliers, -1 in a Reshape, activations) and what TF.js
// writes differently from Keras (SeparableConv2D without its depth_multiplier, -1 saved as null,
// UpSampling2D bilinear without half-pixel centers).
import { describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson, tfjsRoundTrip } from './tfjs-oracle.js';

const L = tf.layers;

/** A sequential model of `layers` with seeded weights away from the initializers' (BN variances positive). */
function seeded(layers: tf.layers.Layer[]): tf.Sequential {
  const m = tf.sequential({ layers });
  const ws = m.getWeights();
  m.setWeights(ws.map((w, i) => {
    const r = tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', 40 + i), 0.7);
    return layers.some((l) => l.getClassName() === 'BatchNormalization') && i === ws.length - 1 ? tf.add(tf.abs(r), 0.5) : r;
  }));
  return m;
}

async function nnportVsTfjs(m: tf.LayersModel, shape: number[]): Promise<{ err: number; model: Awaited<ReturnType<typeof readTfjsLayers>> }> {
  const x = randomInput([2, ...shape], 5);
  const want = predict(m, [x])[0]!;
  const { json, shard } = await tfjsRoundTrip(m);
  const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
  const g = model.graph;
  const got = (await runGraph(g, new Map([[g.inputs[0]!.name, x]]))).outputs.get(g.outputs[0]!.name)!;
  expect(got.shape).toEqual(want.shape);
  return { err: relError(got, want), model };
}

const CASES: Array<[string, number[], () => tf.layers.Layer[]]> = [
  ['SeparableConv2D depth_multiplier 2, same (TF.js saves no depth_multiplier)', [6, 6, 3], () => [L.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', inputShape: [6, 6, 3] })]],
  ['Reshape with -1 (TF.js saves it as null)', [4, 6], () => [L.reshape({ targetShape: [-1, 3], inputShape: [4, 6] })]],
  ['UpSampling2D bilinear [2, 3] (TF.js: no half-pixel centers)', [3, 4, 2], () => [L.upSampling2d({ size: [2, 3], interpolation: 'bilinear', inputShape: [3, 4, 2] })]],
  ['RepeatVector 3', [4], () => [L.repeatVector({ n: 3, inputShape: [4] })]],
  ['Dense activations softplus, softsign, swish, mish', [4], () => [L.dense({ units: 3, activation: 'softplus', inputShape: [4] }), L.dense({ units: 3, activation: 'softsign' }), L.dense({ units: 3, activation: 'swish' }), L.dense({ units: 3, activation: 'mish' })]],
  ['Conv2D same, stride 2, odd sizes', [7, 9, 3], () => [L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', inputShape: [7, 9, 3] })]],
  ['Conv2D dilation 2, same', [9, 9, 2], () => [L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', inputShape: [9, 9, 2] })]],
  ['Conv2DTranspose valid, stride 3 over kernel 2', [5, 4, 3], () => [L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', inputShape: [5, 4, 3] })]],
  ['DepthwiseConv2D depth_multiplier 3, stride 2, same', [7, 7, 2], () => [L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, strides: 2, padding: 'same', inputShape: [7, 7, 2] })]],
  ['MaxPooling2D / AveragePooling2D same, stride 2, odd sizes', [7, 7, 2], () => [L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', inputShape: [7, 7, 2] }), L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' })]],
  ['AveragePooling1D same, pool 4 stride 3', [9, 2], () => [L.averagePooling1d({ poolSize: 4, strides: 3, padding: 'same', inputShape: [9, 2] })]],
  ['BatchNormalization without center and scale', [4, 5], () => [L.batchNormalization({ center: false, scale: false, inputShape: [4, 5] })]],
  ['Dense on a rank-4 input', [2, 3, 4], () => [L.dense({ units: 3, inputShape: [2, 3, 4] })]],
  ['PReLU with shared axes', [3, 4, 2], () => [L.prelu({ sharedAxes: [1, 2], inputShape: [3, 4, 2] } as never)]],
  ['Cropping2D / ZeroPadding2D asymmetric', [6, 7, 2], () => [L.cropping2D({ cropping: [[1, 2], [0, 3]], inputShape: [6, 7, 2] }), L.zeroPadding2d({ padding: [[1, 0], [2, 1]] })]],
  ['Conv3D same, MaxPooling3D', [4, 6, 6, 2], () => [L.conv3d({ filters: 3, kernelSize: 3, padding: 'same', inputShape: [4, 6, 6, 2] }), L.maxPooling3d({ poolSize: 2 })]],
];

describe('TF.js layers off their defaults: nnport = TF.js', () => {
  it.each(CASES)('%s', async (_name, shape, make) => {
    const { err } = await nnportVsTfjs(seeded(make()), shape);
    expect(err).toBeLessThan(1e-5);
  });

  it('an LSTM autoencoder (LSTM -> RepeatVector -> LSTM sequences -> Dense) read, and written back as .h5 and model.json that TF.js runs alike', async () => {
    const m = seeded([L.lstm({ units: 4, inputShape: [5, 3] }), L.repeatVector({ n: 5 }), L.lstm({ units: 4, returnSequences: true }), L.dense({ units: 3 })]);
    const { err, model } = await nnportVsTfjs(m, [5, 3]);
    expect(err).toBeLessThan(1e-5);
    const x = randomInput([2, 5, 3], 9);
    const want = predict(m, [x])[0]!;
    const h5 = await convert(model, 'ae.h5');
    const js = await convert(model, 'ae/model.json');
    for (const back of [await tfjsModelFromH5(h5.bytes), await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!)]) {
      expect(relError(predict(back, [x])[0]!, want)).toBeLessThan(1e-5);
    }
  });

  it('a .h5 UpSampling2D bilinear keeps Keras\' half-pixel sampling (tf.image.resize), which TF.js does not compute', async () => {
    const m = seeded([L.upSampling2d({ size: [2, 2], interpolation: 'bilinear', inputShape: [3, 4, 2] })]);
    const { json, shard } = await tfjsRoundTrip(m);
    const topo = JSON.parse(new TextDecoder().decode(json));
    // the same config as a converted Keras model names it
    topo.modelTopology.keras_version = '2.15.0';
    topo.modelTopology.backend = 'tensorflow';
    const model = await readTfjsLayers(new TextEncoder().encode(JSON.stringify(topo)), { fileName: 'model.json', readSibling: async () => shard });
    expect(model.graph.nodes.find((n) => n.opType === 'Resize')!.attrs.coordinate_transformation_mode).toEqual({ type: 'string', value: 'half_pixel' });
    const tfjsRead = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    expect(tfjsRead.graph.nodes.find((n) => n.opType === 'Resize')!.attrs.coordinate_transformation_mode).toEqual({ type: 'string', value: 'asymmetric' });
  });
});
