// TFLite files converted to Keras .h5 and TF.js layers models, run by TensorFlow.js: a float file
// against the real TFLite interpreter running the file; int8 files with --dequantize against
// onnxruntime-node running the same dequantized model written as ONNX. (TFLite's CONV_2D keeps its
// kernel as (O, kh, kw, I), which the Keras writer lays out as Keras' (kh, kw, I, O).)
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { corpusPath } from '../../support/corpus.js';
import { rng as seeded } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { relErr } from '../../support/error-metrics.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { predict, randomInput, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3 } from '../keras/tfjs-oracle.js';

const oracle = useTfliteOracle();

async function kerasOutputs(file: string, x: Tensor, dequantize: boolean): Promise<Float32Array[]> {
  const model = await loadModel(new Uint8Array(readFileSync(corpusPath(file))), { fileName: file });
  const h5 = (await convert(model, 'model.h5', { dequantize })).bytes;
  const json = await convert(model, 'web/model.json', { dequantize });
  return [predict(await tfjsModelFromH5(h5), [x])[0]!.toFloat32(), predict(await tfjsModelFromJson(json.bytes, (n) => json.sidecars.get(n)!), [x])[0]!.toFloat32()];
}

describe('TFLite -> Keras .h5 / TF.js layers, run by TensorFlow.js', () => {
  it('magic wand (float CNN, OHWI and depthwise kernels): the interpreter\'s outputs within 1e-5', async () => {
    const file = 'tflite/tflm-magic-wand-float/magic_wand.tflite';
    const r = seeded(5);
    for (let k = 0; k < 2; k++) {
      const x = Float32Array.from({ length: 128 * 3 }, () => r() * 4 - 2);
      const [want] = await oracle.run(readFileSync(corpusPath(file)), [x]);
      for (const got of await kerasOutputs(file, Tensor.float32([1, 128, 3, 1], x), false)) expect(relErr(got, want!.data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  it.each([
    ['person detect (int8 MobileNet-v1)', 'tflite/tflm-person-detect-int8/person_detect.tflite', [1, 96, 96, 1]],
    ['MobileNet-v2 from PyTorch (int8, explicit pads)', 'tflite/tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite', [1, 3, 224, 224]],
  ])('%s with --dequantize: onnxruntime\'s outputs on the dequantized ONNX within 1e-5', async (_, file, shape) => {
    const r = seeded(9);
    const x = Tensor.float32(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
    const model = await loadModel(new Uint8Array(readFileSync(corpusPath(file))), { fileName: file });
    const onnx = (await convert(model, 'model.onnx', { dequantize: true })).bytes;
    const session = await ort.InferenceSession.create(onnx);
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.toFloat32(), shape) });
    const want = out[session.outputNames[0]!]!.data as Float32Array;
    for (const got of await kerasOutputs(file, x, true)) expect(relErr(got, want)).toBeLessThan(1e-5);
  });

  it('an int8 file without --dequantize is refused by name, pointing at --dequantize', async () => {
    const file = 'tflite/tflm-person-detect-int8/person_detect.tflite';
    const model = await loadModel(new Uint8Array(readFileSync(corpusPath(file))), { fileName: file });
    for (const out of ['model.h5', 'web/model.json', 'model.pb']) await expect(convert(model, out)).rejects.toThrow(/DequantizeLinear.*--dequantize/);
  });

  it('the float mnist LSTM (cell_clip 10, time-major) is refused naming cell_clip', async () => {
    const file = 'tflite/tflm-mnist-lstm-float/trained_lstm.tflite';
    const model = await loadModel(new Uint8Array(readFileSync(corpusPath(file))), { fileName: file });
    await expect(convert(model, 'model.h5')).rejects.toThrow(/LSTM with cell_clip .* in a Keras model: 'tfl.unidirectional_sequence_lstm\/lstm'/);
  });

  it('a Keras Conv1D ResNet through .tflite (RESHAPE / SQUEEZE around each CONV_2D) and back to Keras: TF.js on the corpus file within 1e-5', async () => {
    const file = 'keras-v3/resnet1d-add-bn-k37/resnet_model.keras';
    const bytes = new Uint8Array(readFileSync(corpusPath(file)));
    const z = ZipReader.open(bytes);
    const oracle = await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'));
    const x = randomInput([2, 20, 1], 17);
    const want = predict(oracle, [x])[0]!.toFloat32();
    const tflite = (await convert(await loadModel(bytes, { fileName: file }), 'm.tflite')).bytes;
    const model = await loadModel(tflite, { fileName: 'm.tflite' });
    expect(model.kind === 'graph' && model.graph.nodes.some((n) => n.opType === 'Squeeze')).toBe(true);
    const h5 = (await convert(model, 'model.h5')).bytes;
    const json = await convert(model, 'web/model.json');
    for (const m of [await tfjsModelFromH5(h5), await tfjsModelFromJson(json.bytes, (n) => json.sidecars.get(n)!)]) expect(relErr(predict(m, [x])[0]!.toFloat32(), want)).toBeLessThan(1e-5);
  });
});
