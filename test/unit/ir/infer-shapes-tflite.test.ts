/**
 * inferShapes on the channels-last graphs the TFLite reader makes (nnport::Conv with OHWI and
 * HWIO depthwise weights, pools, QDQ islands...), against the shapes the TFLite converter
 * stored for every tensor in the .tflite file itself (read straight from the flatbuffer with
 * the schema's generated code, not through the reader). A dim the graph keeps symbolic must be
 * one the file's shape_signature leaves open (-1).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as flatbuffers from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { Model } from '../../../src/formats/generated/tflite.js';
import { readTflite } from '../../../src/formats/tflite/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { corpusPath } from '../../support/corpus.js';

const MODELS = [
  'tflite/tflm-hello-world-float/hello_world_float.tflite',
  'tflite/tflm-hello-world-int8/hello_world_int8.tflite',
  'tflite/tflm-magic-wand-float/magic_wand.tflite',
  'tflite/tflm-micro-speech-int8/micro_speech_quantized.tflite',
  'tflite/tflm-person-detect-int8/person_detect.tflite',
  'tflite/tflm-seanet-conv0-int16x8/conv0.tflite',
  'tflite/tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite',
  'tflite/utensor-quant-mnist-cnn-int8-floatio/quant_mnist_cnn.tflite',
];

describe('inferShapes vs the tensor shapes stored in .tflite files', () => {
  for (const rel of MODELS) {
    it(basename(dirname(rel)), async () => {
      const file = corpusPath(rel);
      const bytes = readFileSync(file);
      const loaded = await readTflite(bytes, { fileName: file });
      const graph = ('graph' in loaded ? loaded.graph : loaded) as Graph;
      const sg = Model.getRootAsModel(new flatbuffers.ByteBuffer(new Uint8Array(bytes))).subgraphs(0)!;
      const { values, unknownOps, errors } = inferShapes(graph);
      expect(unknownOps).toEqual([]);
      expect(errors).toEqual([]);
      const problems: string[] = [];
      for (let i = 0; i < sg.tensorsLength(); i++) {
        const t = sg.tensors(i)!;
        const name = t.name()!;
        const shape = Array.from(t.shapeArray() ?? []);
        const signature = Array.from(t.shapeSignatureArray() ?? shape);
        const v = values.get(name);
        if (!v) {
          problems.push(`${name}: not a value of the graph`);
          continue;
        }
        const ok = v.shape?.length === shape.length && v.shape.every((d, k) => d === shape[k] || (typeof d !== 'number' && signature[k] === -1));
        if (!ok) problems.push(`${name}: inferred [${v.shape?.map((d) => d ?? '?').join(', ')}], file [${shape.join(', ')}]`);
      }
      expect(problems.slice(0, 10)).toEqual([]);
      expect(sg.tensorsLength()).toBeGreaterThan(3);
    });
  }
});
