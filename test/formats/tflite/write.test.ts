// Every .tflite nnport writes is run by the real TFLite interpreter (tfjs-tflite in headless
// Chromium) and compared with PyTorch's own output for the fixture's input, and converted to
// JSON by Debian's flatc with the schema (the flatbuffer verifier).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../../src/formats/registry.js';
import { convert } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor as TensorClass, type Tensor } from '../../../src/ir/tensor.js';
import { corpusPath } from '../../support/corpus.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

async function onnxGraph(name: string): Promise<Graph> {
  const m = await readModel(new Uint8Array(readFileSync(join(torchvisionDir(name), 'model.onnx'))), { fileName: `${name}.onnx` });
  if (m.kind !== 'graph') throw new Error('not a graph');
  return m.graph;
}

/** NCHW fixture input -> NHWC (the written model's inputs are channels-last). */
const toNhwc = (t: Tensor): Tensor => (t.rank === 4 ? permuteTensor(t, [0, 2, 3, 1]) : t);

describe('TFLite writer: ONNX fixtures -> .tflite, run by the interpreter, equal to PyTorch', () => {
  for (const name of ['lenet', 'seg_head', 'squeezenet1_1', 'shufflenet_v2_x1_0', 'resnet18', 'mobilenet_v2', 'efficientnet_b0', 'densenet121', 'mobilenet_v3_small']) {
    it(name, async () => {
      const dir = torchvisionDir(name);
      const bytes = await writeTflite(await onnxGraph(name), { fileName: `${name}.tflite` });
      // flatc's JSON of tens of MB of weights is too big to read back here: the large files are
      // verified by the interpreter loading them (it runs the flatbuffer verifier too)
      if (bytes.byteLength < 16 << 20) {
        const json = flatcJson(bytes, name);
        expect((json.description as string) ?? '').toMatch(/^nnport/);
        expect((json.signature_defs as { signature_key: string }[])[0]!.signature_key).toBe('serving_default');
      }
      const x = toNhwc(readNpy(readFileSync(join(dir, 'input.npy'))));
      const want = readNpy(readFileSync(join(dir, 'output.npy')));
      const [got] = await oracle.run(bytes, [x.data as Float32Array]);
      // outputs of rank 4 come back channels-last
      const wantData = want.rank === 4 ? permuteTensor(want, [0, 2, 3, 1]).data : want.data;
      expect(maxAbsDiff(got!.data as Float32Array, wantData as Float32Array)).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('TFLite writer: through Keras (.h5 written by nnport, read back as a channels-last graph with HWIO weights)', () => {
  for (const name of ['lenet', 'squeezenet1_1']) {
    it(name, async () => {
      const dir = torchvisionDir(name);
      const onnx = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
      const h5 = await convert(onnx, `${name}.h5`);
      const keras = await readModel(h5.bytes, { fileName: `${name}.h5` });
      if (keras.kind !== 'graph') throw new Error('not a graph');
      const x = toNhwc(readNpy(readFileSync(join(dir, 'input.npy'))));
      const want = readNpy(readFileSync(join(dir, 'output.npy')));
      const wantData = (want.rank === 4 ? permuteTensor(want, [0, 2, 3, 1]).data : want.data) as Float32Array;
      const float = await writeTflite(keras.graph, { fileName: `${name}.tflite` });
      const [got] = await oracle.run(float, [x.data as Float32Array]);
      expect(maxAbsDiff(got!.data as Float32Array, wantData)).toBeLessThanOrEqual(1e-4);
      const dynamic = await writeTflite(keras.graph, { quantize: { mode: 'dynamic' } });
      const [dyn] = await oracle.run(dynamic, [x.data as Float32Array]);
      const scale = wantData.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbsDiff(dyn!.data as Float32Array, wantData) / scale).toBeLessThanOrEqual(5e-2);
    });
  }
});

describe('TFLite writer: file layout', () => {
  it('buffer 0 empty, constants 16-byte aligned, opcode fields, shape_signature for the dynamic batch, min_runtime_version', async () => {
    const g: Graph = {
      name: 'mlp',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }],
      initializers: new Map([
        ['w', TensorClass.float32([3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])],
        ['b', TensorClass.float32([3], [0.5, -0.5, 1])],
      ]),
      nodes: [
        { name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w', 'b'], outputs: ['h'], attrs: { transB: { type: 'int', value: 1 } } },
        { name: 'relu', opType: 'Relu', domain: '', inputs: ['h'], outputs: ['y'], attrs: {} },
      ],
      opsets: { '': 17 },
    };
    const bytes = await writeTflite(g);
    const json = flatcJson(bytes, 'layout') as {
      buffers: { data?: number[] }[];
      operator_codes: { builtin_code: string; deprecated_builtin_code: number }[];
      subgraphs_ops?: never;
      subgraphs: { tensors: { shape: number[]; shape_signature?: number[]; buffer: number }[]; inputs: number[] }[];
      metadata: { name: string; buffer: number }[];
    };
    expect(json.buffers[0]!.data).toBeUndefined();
    for (const c of json.operator_codes) expect(c.deprecated_builtin_code).toBeGreaterThan(0);
    const input = json.subgraphs[0]!.tensors[json.subgraphs[0]!.inputs[0]!]!;
    expect(input.shape_signature).toEqual([-1, 4]);
    // the Relu is the FULLY_CONNECTED's fused activation
    expect(json.operator_codes.map((c) => c.builtin_code)).toEqual(['FULLY_CONNECTED']);
    const [y] = await oracle.run(bytes, [Float32Array.of(1, 0, -1, 2)]);
    expect(Array.from(y!.data)).toEqual([6.5, 13.5, 23]);
    expect(json.metadata.map((m) => m.name)).toEqual(['min_runtime_version']);
    // alignment: every non-empty buffer's data starts on a 16-byte boundary of the file
    const { Model } = await import('../../../src/formats/generated/tflite/model.js');
    const { ByteBuffer } = await import('flatbuffers');
    const model = Model.getRootAsModel(new ByteBuffer(bytes));
    let checked = 0;
    for (let i = 1; i < model.buffersLength(); i++) {
      const d = model.buffers(i)!.dataArray();
      if (d && d.length) {
        expect(d.byteOffset % 16).toBe(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it('a model over the large-model threshold keeps its constants after the flatbuffer (offset/size)', async () => {
    // (the interpreter in tfjs-tflite predates offset buffers; nnport's reader is checked here)
    const g = await onnxGraph('lenet');
    const small = await readTflite(await writeTflite(g));
    const large = await writeTflite(g, { largeModelThreshold: 1024 });
    const json = flatcJson(large, 'large') as { buffers: { offset?: number; size?: number; data?: number[] }[] };
    const external = json.buffers.filter((b) => b.offset);
    expect(external.length).toBeGreaterThan(4);
    for (const b of external) expect(b.offset! % 16).toBe(0);
    const back = await readTflite(large, { fileName: 'large.tflite' });
    expect([...back.initializers.keys()].sort()).toEqual([...small.initializers.keys()].sort());
    for (const [k, t] of small.initializers) expect(Array.from(back.initializers.get(k)!.bytes())).toEqual(Array.from(t.bytes()));
  });

  it('int8 TFLite files read and written again run the same in the interpreter', async () => {
    for (const rel of ['tflm-hello-world-int8/hello_world_int8.tflite', 'tflm-micro-speech-int8/micro_speech_quantized.tflite', 'utensor-quant-mnist-cnn-int8-floatio/quant_mnist_cnn.tflite', 'tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite']) {
      const src = new Uint8Array(readFileSync(corpusPath(`tflite/${rel}`)));
      const g = await readTflite(src);
      const bytes = await writeTflite(g);
      flatcJson(bytes, 'roundtrip');
      const info = (await oracle.inputs(src))[0]!;
      const n = info.shape.reduce((a, b) => a * b, 1);
      const x = info.dtype === 'float32' ? Float32Array.from({ length: n }, (_, i) => (i % 17) / 17) : Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128);
      const [want] = await oracle.run(src, [x]);
      const [got] = await oracle.run(bytes, [x]);
      expect({ rel, diff: maxAbsDiff(got!.data, want!.data) }).toEqual({ rel, diff: 0 });
    }
  });
});
