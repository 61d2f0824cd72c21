// The float graphs the int8 accuracy benches quantize: a torchvision fixture's ONNX export, or
// with 'trained' the corpus' TinyNN int8 MobileNet-v2 dequantized (trained weights), both
// prepared for TFLite; with the input's layout and size.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readModel } from '../src/formats/registry.js';
import { readTflite } from '../src/formats/tflite/read.js';
import { prepareForTflite } from '../src/formats/tflite/write.js';
import { dequantizeGraph } from '../src/passes/dequantize.js';
import { corpusPath } from '../test/support/corpus.js';
import { TRAINED_MOBILENET_V2 } from '../test/support/photos.js';
import { Tensor } from '../src/ir/tensor.js';

/** { g, nchw, h, w } of a fixture's name or an .onnx file's path: the graph, whether its input is NCHW (the trained model keeps PyTorch's), its height and width. */
export async function int8BenchModel(model) {
  registerAllFormats();
  const root = new URL('..', import.meta.url).pathname;
  const g =
    model === 'trained'
      ? await prepareForTflite(dequantizeGraph(await readTflite(new Uint8Array(readFileSync(corpusPath(TRAINED_MOBILENET_V2))))).graph)
      : await prepareForTflite((await readModel(new Uint8Array(readFileSync(model.endsWith('.onnx') ? model : join(root, `.fixtures-cache/models/${model}/model.onnx`))), { fileName: model.endsWith('.onnx') ? model : `${model}.onnx` })).graph);
  const input = g.inputs[0];
  // the trained model keeps PyTorch's NCHW input (a Transpose follows it)
  const nchw = input.shape[1] === 3;
  const [h, w] = nchw ? input.shape.slice(2) : input.shape.slice(1, 3);
  return { g, nchw, h, w };
}

/**
 * A stream of [1, 224, 224, 3] float32 samples of standard normal values (Lehmer generator from
 * `seed`, Box-Muller), each filled in place: Float32Array.from({ length }, f) would first make
 * 150k boxed numbers per sample, garbage whose collection then ran on GC threads into the first
 * timed window.
 */
export function gaussianSamples(seed = 1) {
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  return () => {
    const a = new Float32Array(224 * 224 * 3);
    for (let i = 0; i < a.length; i++) a[i] = gauss();
    return Tensor.float32([1, 224, 224, 3], a);
  };
}
