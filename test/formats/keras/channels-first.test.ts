// Keras layers with data_format='channels_first' (and BatchNormalization / LayerNormalization on
// axis 1), built and saved by TensorFlow.js itself (dataFormat 'channelsFirst'), read by nnport and
// compared with TF.js' predict on the same input: nnport's runtime, onnxruntime-node on the written
// .onnx (NCHW, as read) and the real TFLite interpreter on the written .tflite (NHWC: its input and
// spatial outputs channels-last). TF.js cannot compute channels_first Conv1D, 1-D pooling or
// SeparableConv2D (its Conv1D ignores the format, its SeparableConv2D adds the bias on the wrong
// axis): those are checked against NumPy in keras-channels-first-h5.test.ts.
import { describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { channelsLast, expectNchwRuntimes } from './channels-first-check.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsRoundTrip } from './tfjs-oracle.js';

const L = tf.layers;
const cf = 'channelsFirst' as const;
const oracle = useTfliteOracle();

/** A sequential model of `layers` with seeded weights away from the initializers' (BN / LN variances positive). */
function seeded(layers: tf.layers.Layer[]): tf.Sequential {
  const m = tf.sequential({ layers });
  m.setWeights(m.getWeights().map((w, i) => {
    const r = tf.mul(tf.randomUniform(w.shape, -1, 1, 'float32', 70 + i), 0.7);
    return /variance/.test(m.weights[i]!.name) ? tf.add(tf.abs(r), 0.5) : r;
  }));
  return m;
}

const asTensor = (y: { shape: number[]; data: ArrayLike<number> }): Tensor => Tensor.float32(y.shape, Float32Array.from(y.data));

// [name, input shape without the batch, layers, whether the output is spatial (NHWC in the .tflite)]
const CASES: Array<[string, number[], () => tf.layers.Layer[], boolean]> = [
  ['Conv2D same, stride 2, odd sizes, relu', [3, 7, 9], () => [L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', dataFormat: cf, inputShape: [3, 7, 9] })], true],
  ['Conv2D valid, dilation 2, no bias', [2, 9, 8], () => [L.conv2d({ filters: 3, kernelSize: [3, 2], dilationRate: 2, useBias: false, dataFormat: cf, inputShape: [2, 9, 8] })], true],
  ['Conv3D same, then MaxPooling3D and AveragePooling3D', [2, 4, 6, 5], () => [L.conv3d({ filters: 3, kernelSize: 3, padding: 'same', dataFormat: cf, inputShape: [2, 4, 6, 5] }), L.maxPooling3d({ poolSize: 2, dataFormat: cf }), L.averagePooling3d({ poolSize: [1, 2, 2], dataFormat: cf })], true],
  ['Conv2DTranspose same, stride 2', [3, 4, 5], () => [L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', dataFormat: cf, inputShape: [3, 4, 5] })], true],
  ['Conv2DTranspose valid, stride 3 over kernel 2', [3, 5, 4], () => [L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', dataFormat: cf, inputShape: [3, 5, 4] })], true],
  ['DepthwiseConv2D depth_multiplier 2, stride 2, same', [3, 7, 6], () => [L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', dataFormat: cf, inputShape: [3, 7, 6] })], true],
  ['MaxPooling2D / AveragePooling2D same, stride 2, odd sizes', [2, 7, 9], () => [L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', dataFormat: cf, inputShape: [2, 7, 9] }), L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', dataFormat: cf })], true],
  ['GlobalAveragePooling2D', [3, 4, 5], () => [L.conv2d({ filters: 4, kernelSize: 3, dataFormat: cf, inputShape: [3, 4, 5] }), L.globalAveragePooling2d({ dataFormat: cf })], false],
  ['GlobalMaxPooling2D', [3, 4, 5], () => [L.globalMaxPooling2d({ dataFormat: cf, inputShape: [3, 4, 5] })], false],
  ['Conv2D -> Flatten (channels_last order) -> Dense', [3, 5, 4], () => [L.conv2d({ filters: 2, kernelSize: 2, dataFormat: cf, inputShape: [3, 5, 4] }), L.flatten({ dataFormat: cf }), L.dense({ units: 5 })], false],
  ['Flatten of a rank-5 input', [2, 3, 4, 5], () => [L.flatten({ dataFormat: cf, inputShape: [2, 3, 4, 5] })], false],
  ['UpSampling2D nearest [2, 3]', [3, 4, 5], () => [L.upSampling2d({ size: [2, 3], dataFormat: cf, inputShape: [3, 4, 5] })], true],
  ['UpSampling2D bilinear [2, 3] (TF.js: no half-pixel centers)', [3, 4, 5], () => [L.upSampling2d({ size: [2, 3], interpolation: 'bilinear', dataFormat: cf, inputShape: [3, 4, 5] })], true],
  ['ZeroPadding2D / Cropping2D asymmetric', [2, 6, 7], () => [L.zeroPadding2d({ padding: [[1, 0], [2, 1]], dataFormat: cf, inputShape: [2, 6, 7] }), L.cropping2D({ cropping: [[1, 2], [0, 3]], dataFormat: cf })], true],
  ['LayerNormalization axis=1 (over the channels alone)', [3, 4, 5], () => [L.conv2d({ filters: 4, kernelSize: 1, dataFormat: cf, inputShape: [3, 4, 5] }), L.layerNormalization({ axis: 1 })], true],
];

/**
 * TF.js 4.9's BatchNormalization on an axis other than the last computes a wrong inference (it
 * broadcasts the channel vectors along the last axis): the reference for axis=1 is TF.js'
 * channels-last BatchNormalization with the same weights, between Permute layers.
 */
function batchNormReference(m: tf.LayersModel, shape: number[]): tf.LayersModel {
  const r = shape.length;
  const bn = L.batchNormalization({ axis: -1, epsilon: (m.layers.at(-1)!.getConfig() as { epsilon: number }).epsilon });
  const head = m.layers.slice(0, -1);
  const toLast = [...Array.from({ length: r - 1 }, (_, i) => i + 2), 1];
  const back = [r, ...Array.from({ length: r - 1 }, (_, i) => i + 1)];
  const ref = tf.sequential({ layers: [L.inputLayer({ inputShape: shape }), ...head, L.permute({ dims: toLast }), bn, L.permute({ dims: back })] });
  bn.setWeights(m.layers.at(-1)!.getWeights());
  return ref;
}

const NCHW_TFLITE = new Set(['GlobalMaxPooling2D', 'Flatten of a rank-5 input', 'ZeroPadding2D / Cropping2D asymmetric']);

const BN_CASES: Array<[string, number[], () => tf.layers.Layer[], boolean]> = [
  ['BatchNormalization axis=1 after a Conv2D', [3, 5, 6], () => [L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dataFormat: cf, inputShape: [3, 5, 6] }), L.batchNormalization({ axis: 1, epsilon: 0.01 })], true],
  ['BatchNormalization axis=1 on a rank-3 input', [3, 7], () => [L.batchNormalization({ axis: 1, inputShape: [3, 7] })], true],
];

describe('Keras channels_first layers (TF.js-saved model.json): nnport, onnxruntime (.onnx) and the TFLite interpreter (.tflite) = TF.js', () => {
  it.each([...CASES, ...BN_CASES])('%s', async (name, shape, make, spatialOut) => {
    // only data that reaches a spatial op (conv, pool, resize) is moved channels-last in the .tflite
    const nhwcInput = !NCHW_TFLITE.has(name);
    const m = seeded(make());
    const ref = name.startsWith('BatchNormalization') ? batchNormReference(m, shape) : m;
    const x = randomInput([2, ...shape], 5);
    const want = predict(ref, [x])[0]!;
    const { json, shard } = await tfjsRoundTrip(m);
    expect(new TextDecoder().decode(json)).toMatch(/channels_first|"axis":\[?1\]?/);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    // channels_first data is the IR's own layout: no channels-last op, no transpose but Flatten's / LayerNormalization's
    await expectNchwRuntimes(model, x, want);

    // the .tflite is NHWC where the layout pass moved the data there (its input and outputs then
    // channels-last); batch 1, as --input-shape fixes it
    const x1 = randomInput([1, ...shape], 6);
    const want1 = predict(ref, [x1])[0]!;
    const one = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard, inputShapes: { '': [1, ...shape] } });
    const tfl = await convert(one, 'cf.tflite');
    const [input] = await oracle.inputs(tfl.bytes);
    const nhwc = input!.shape.join() === channelsLast(x1).shape.join();
    expect(nhwc || input!.shape.join() === x1.shape.join(), `.tflite input [${input!.shape.join(', ')}]`).toBe(true);
    expect(nhwc).toBe(nhwcInput);
    // NHWC through: no TRANSPOSE left in the file
    if (nhwc) expect(tfliteOpNames(tfl.bytes, 'cf')).not.toContain('TRANSPOSE');
    const [y] = await oracle.run(tfl.bytes, [Float32Array.from((nhwc ? channelsLast(x1) : x1).toFloat32())]);
    const yt = asTensor(y!);
    const wantL = spatialOut && yt.shape.join() !== want1.shape.join() ? channelsLast(want1) : want1;
    expect(yt.shape).toEqual([...wantL.shape]);
    expect(relError(yt, Tensor.float32(wantL.shape, wantL.toFloat32()))).toBeLessThan(1e-5);
  });

  it('a channels_first conv net (Conv2D, MaxPooling2D, Flatten, Dense) written as .h5 is channels_last that TF.js runs alike', async () => {
    const m = seeded([
      L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dataFormat: cf, activation: 'relu', inputShape: [3, 6, 5] }),
      L.maxPooling2d({ poolSize: 2, dataFormat: cf }),
      L.flatten({ dataFormat: cf }),
      L.dense({ units: 3, activation: 'softmax' }),
    ]);
    const x = randomInput([2, 3, 6, 5], 8);
    const want = predict(m, [x])[0]!;
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    const h5 = await convert(model, 'cf.h5');
    const back = await tfjsModelFromH5(h5.bytes);
    expect(JSON.stringify(back.getConfig())).not.toMatch(/channels_first/);
    const xl = channelsLast(x);
    expect(relError(predict(back, [Tensor.float32(xl.shape, xl.toFloat32())])[0]!, want)).toBeLessThan(1e-5);
  });
});

describe('channels_first configs a layer cannot take: typed errors naming the layer', () => {
  async function withInputShape(batchInputShape: (number | null)[]): Promise<unknown> {
    const m = seeded([L.conv2d({ filters: 2, kernelSize: 3, dataFormat: cf, inputShape: [3, 5, 4], name: 'cf_conv' })]);
    const { json, shard } = await tfjsRoundTrip(m);
    const j = JSON.parse(new TextDecoder().decode(json));
    // a Sequential without an InputLayer: the conv carries the input shape
    j.modelTopology.config.layers[0].config.batch_input_shape = batchInputShape;
    return readTfjsLayers(new TextEncoder().encode(JSON.stringify(j)), { fileName: 'bad.json', readSibling: async () => shard });
  }

  it('an input of the wrong rank', async () => {
    await expect(withInputShape([null, 5, 4])).rejects.toThrow(/layer 'cf_conv' \(Conv2D, channels_first\): input of rank 3, expected 4/);
  });

  it('a kernel that does not fit the input channels (axis 1)', async () => {
    await expect(withInputShape([null, 2, 5, 4])).rejects.toThrow(/layer 'cf_conv' \(Conv2D\): weight 'kernel' has shape \[3, 3, 3, 2\], the config implies \[3, 3, 2, 2\]/);
  });
});
