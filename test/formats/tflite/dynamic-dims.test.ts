// Dynamic dims (shape_signature -1) kept dynamic by the TFLite reader: a recurrent model with a
// dynamic time axis written by nnport from a PyTorch export (scripts/fixtures/recurrent_onnx.py)
// and read back runs at other lengths, against onnxruntime-node on the source ONNX model at the same
// length and the interpreter with the stored length set (what ResizeInputTensor does; tfjs-tflite
// has no resize call); a hand-built dynamic-batch file (FULLY_CONNECTED keep_num_dims, RESHAPE to
// a shape computed by SHAPE / STRIDED_SLICE / PACK, EXPAND_DIMS, SQUEEZE, SLICE to the end) runs
// at batch 3 against the interpreter at batch 3.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator as Op } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { FullyConnectedOptions } from '../../../src/formats/generated/tflite/fully-connected-options.js';
import { PackOptions } from '../../../src/formats/generated/tflite/pack-options.js';
import { ResizeBilinearOptions } from '../../../src/formats/generated/tflite/resize-bilinear-options.js';
import { ShapeOptions } from '../../../src/formats/generated/tflite/shape-options.js';
import { SoftmaxOptions } from '../../../src/formats/generated/tflite/softmax-options.js';
import { SqueezeOptions } from '../../../src/formats/generated/tflite/squeeze-options.js';
import { StridedSliceOptions } from '../../../src/formats/generated/tflite/strided-slice-options.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { hasChannelsLastOps, lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';
import { buildOpModel, type OpTensor } from './op-model.js';
import { quantizedResizeFile, splitVFile, transposeConvFile } from './dynamic-model.js';
import { exportMissingRecurrentFixtures, recurrentDir, recurrentFixture, relErr } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

beforeAll(exportMissingRecurrentFixtures, 120_000);

function randomFloat(shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  return new Tensor('float32', shape, Float32Array.from({ length: n }, () => r() * 2 - 1));
}

async function nnport(g: Graph, x: Tensor): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

/** onnxruntime-node on the fixture's ONNX model: outputs in the model's order. */
async function ort(name: string, x: Tensor): Promise<{ dims: number[]; data: Float32Array }[]> {
  const out = await runOrt(new Uint8Array(readFileSync(join(recurrentDir(name), 'model.onnx'))), { x });
  return Object.values(out).map((o) => ({ dims: [...o.dims], data: new Float32Array((o.bytes as Uint8Array).slice().buffer) }));
}

describe('TFLite reader: a dynamic time axis stays dynamic (nnport-written recurrent models, read back)', () => {
  it.each([
    ['lstm_dynamic_time_only', 2, 'batch_first LSTM + Linear on every step, static batch 2'],
    ['lstm_dynamic_time', 1, 'the same exported with dynamic batch and time (the writer fixes the batch at 1)'],
    ['lstm_dynamic_last_step', 1, 'bidirectional 2-layer LSTM, heads on y[:, -1] and h_n (REVERSE_V2, STRIDED_SLICE from the end)'],
  ] as const)('%s (batch %s; %s): read with the time axis dynamic, run at lengths 3 and 11 as onnxruntime and the interpreter do, and written as ONNX with it dynamic', async (name, batch, _what) => {
    const f = await recurrentFixture(name);
    const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite` });
    const g = await readTflite(bytes, { fileName: `${name}.tflite` });
    expect(g.inputs[0]!.shape).toEqual([batch, null, 5]);
    for (const length of [3, 11]) {
      const x = randomFloat([batch, length, 5], 40 + length);
      const want = await ort(name, x);
      const mine = await nnport(g, x);
      const theirs = await oracle.run(withStoredDim(bytes, 1, length), [x.data as Float32Array]);
      expect(mine).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) {
        expect(mine[i]!.shape, `${name} output ${i} at length ${length}`).toEqual(want[i]!.dims);
        const e = relErr(mine[i]!.toFloat32(), want[i]!.data);
        const t = relErr(theirs[i]!.data as Float32Array, want[i]!.data);
        console.log(`${name} output ${i} at length ${length}: nnport (read from .tflite) vs onnxruntime ${e.toExponential(2)}, interpreter vs onnxruntime ${t.toExponential(2)} relative`);
        expect(e).toBeLessThan(1e-5);
        expect(t).toBeLessThan(1e-5);
      }
    }
    // written out as ONNX again: onnxruntime runs it at another length too
    const onnx = writeOnnx(hasChannelsLastOps(g) ? lowerChannelsLast(g).graph : g);
    const x = randomFloat([batch, 7, 5], 90);
    const want = await ort(name, x);
    const back = Object.values(await runOrt(onnx, { [g.inputs[0]!.name]: x }));
    expect(back).toHaveLength(want.length);
    back.forEach((o, i) => {
      expect([...o.dims]).toEqual(want[i]!.dims);
      expect(relErr(new Float32Array((o.bytes as Uint8Array).slice().buffer), want[i]!.data), `${name} output ${i} through ONNX`).toBeLessThan(1e-5);
    });
  });
});

/** A dynamic-batch file as TF's converter writes one: stored batch 1, shape_signature -1. */
function dynamicBatchFile(): Uint8Array {
  const r = rng(5);
  const rand = (n: number) => Array.from({ length: n }, () => r() * 2 - 1);
  const f = (shape: number[], signature?: number[], data?: number[]): OpTensor => ({ shape, signature, data });
  const i32 = (shape: number[], data?: number[]): OpTensor => ({ shape, dtype: 'int32', data });
  const tensors: OpTensor[] = [
    f([1, 4, 6], [-1, 4, 6]), // 0 x
    f([8, 6], undefined, rand(48)), // 1
    f([8], undefined, rand(8)), // 2
    f([1, 4, 8], [-1, 4, 8]), // 3 FULLY_CONNECTED keep_num_dims, RELU
    i32([3]), // 4 SHAPE
    i32([1], [0]), // 5 begin
    i32([1], [1]), // 6 end
    i32([1], [1]), // 7 strides
    i32([]), // 8 the batch (shrink axis 0)
    i32([], [32]), // 9
    i32([2]), // 10 PACK [batch, 32]
    f([1, 32], [-1, 32]), // 11 RESHAPE
    f([3, 32], undefined, rand(96)), // 12
    f([3], undefined, rand(3)), // 13
    f([1, 3], [-1, 3]), // 14 FULLY_CONNECTED
    f([1, 3], [-1, 3]), // 15 SOFTMAX
    i32([], [1]), // 16 axis
    f([1, 1, 3], [-1, 1, 3]), // 17 EXPAND_DIMS
    f([1, 3], [-1, 3]), // 18 SQUEEZE dims [1]
    i32([2], [0, 1]), // 19 begin
    i32([2], [-1, -1]), // 20 size
    f([1, 2], [-1, 2]), // 21 SLICE to the end
  ];
  const fc = (keep: boolean, act: ActivationFunctionType) => (b: import('flatbuffers').Builder): [BuiltinOptions, number] => [BuiltinOptions.FullyConnectedOptions, FullyConnectedOptions.createFullyConnectedOptions(b, act, 0, keep, false, TensorType.FLOAT32)];
  return buildOpModel(
    tensors,
    [
      { code: Op.FULLY_CONNECTED, inputs: [0, 1, 2], outputs: [3], options: fc(true, ActivationFunctionType.RELU), version: 7 },
      { code: Op.SHAPE, inputs: [3], outputs: [4], options: (b) => [BuiltinOptions.ShapeOptions, ShapeOptions.createShapeOptions(b, TensorType.INT32)] },
      { code: Op.STRIDED_SLICE, inputs: [4, 5, 6, 7], outputs: [8], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 1, false)] },
      { code: Op.PACK, inputs: [8, 9], outputs: [10], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, 2, 0)] },
      { code: Op.RESHAPE, inputs: [3, 10], outputs: [11] },
      { code: Op.FULLY_CONNECTED, inputs: [11, 12, 13], outputs: [14], options: fc(false, ActivationFunctionType.NONE) },
      { code: Op.SOFTMAX, inputs: [14], outputs: [15], options: (b) => [BuiltinOptions.SoftmaxOptions, SoftmaxOptions.createSoftmaxOptions(b, 1)] },
      { code: Op.EXPAND_DIMS, inputs: [15, 16], outputs: [17] },
      { code: Op.SQUEEZE, inputs: [17], outputs: [18], options: (b) => [BuiltinOptions.SqueezeOptions, SqueezeOptions.createSqueezeOptions(b, SqueezeOptions.createSqueezeDimsVector(b, [1]))] },
      { code: Op.SLICE, inputs: [18, 19, 20], outputs: [21] },
    ],
    [21, 3],
  );
}

/** Dynamic batch through RESIZE_BILINEAR and a SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND pair (no conv between: not a dilated conv). */
function dynamicBatchSpatialFile(): Uint8Array {
  const f = (shape: number[], signature?: number[]): OpTensor => ({ shape, signature });
  const i32 = (shape: number[], data: number[]): OpTensor => ({ shape, dtype: 'int32', data });
  const tensors: OpTensor[] = [
    f([1, 3, 4, 2], [-1, 3, 4, 2]), // 0 x
    i32([2], [6, 8]), // 1 size
    f([1, 6, 8, 2], [-1, 6, 8, 2]), // 2 RESIZE_BILINEAR
    i32([2], [2, 2]), // 3 block
    i32([2, 2], [1, 1, 0, 0]), // 4 paddings
    f([4, 4, 4, 2], [-1, 4, 4, 2]), // 5 SPACE_TO_BATCH_ND
    i32([2], [2, 2]), // 6 block
    i32([2, 2], [0, 1, 1, 0]), // 7 crops
    f([1, 7, 7, 2], [-1, 7, 7, 2]), // 8 BATCH_TO_SPACE_ND
  ];
  return buildOpModel(
    tensors,
    [
      { code: Op.RESIZE_BILINEAR, inputs: [0, 1], outputs: [2], options: (b) => [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, false, true)] },
      { code: Op.SPACE_TO_BATCH_ND, inputs: [2, 3, 4], outputs: [5] },
      { code: Op.BATCH_TO_SPACE_ND, inputs: [5, 6, 7], outputs: [8] },
    ],
    [8, 2],
  );
}

describe('TFLite reader: a dynamic batch stays dynamic', () => {
  it('FULLY_CONNECTED keep_num_dims over a dynamic batch and time: the output shape taken from the input at run time', async () => {
    const r = rng(9);
    const rand = (n: number) => Array.from({ length: n }, () => r() * 2 - 1);
    const file = buildOpModel(
      [{ shape: [1, 1, 6], signature: [-1, -1, 6] }, { shape: [4, 6], data: rand(24) }, { shape: [4], data: rand(4) }, { shape: [1, 1, 4], signature: [-1, -1, 4] }],
      [{ code: Op.FULLY_CONNECTED, inputs: [0, 1, 2], outputs: [3], version: 7, options: (b) => [BuiltinOptions.FullyConnectedOptions, FullyConnectedOptions.createFullyConnectedOptions(b, ActivationFunctionType.RELU6, 0, true, false, TensorType.FLOAT32)] }],
    );
    const g = await readTflite(file, { fileName: 'dynamic-batch-time.tflite' });
    expect(g.inputs[0]!.shape).toEqual(['batch', null, 6]);
    const x = randomFloat([2, 5, 6], 77);
    const [theirs] = await oracle.run(withStoredDim(withStoredDim(file, 0, 2), 1, 5), [x.data as Float32Array]);
    const [mine] = await nnport(g, x);
    expect(mine!.shape).toEqual([2, 5, 4]);
    expect(theirs!.shape).toEqual([2, 5, 4]);
    expect(relErr(mine!.toFloat32(), theirs!.data as Float32Array)).toBeLessThan(1e-6);
  });

  it('RESIZE_BILINEAR, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND: run at batch 2 as the interpreter does', async () => {
    const file = dynamicBatchSpatialFile();
    const g = await readTflite(file, { fileName: 'dynamic-batch-spatial.tflite' });
    expect(g.inputs[0]!.shape).toEqual(['batch', 3, 4, 2]);
    const x = randomFloat([2, 3, 4, 2], 71);
    const theirs = await oracle.run(withStoredDim(file, 0, 2), [x.data as Float32Array]);
    const mine = await nnport(g, x);
    mine.forEach((m, i) => {
      expect(m.shape, `output ${i}`).toEqual(theirs[i]!.shape);
      expect(relErr(m.toFloat32(), theirs[i]!.data as Float32Array), `output ${i}`).toBeLessThan(1e-6);
    });
  });

  it('FULLY_CONNECTED keep_num_dims, RESHAPE to a computed shape, EXPAND_DIMS, SQUEEZE, SLICE: run at batch 3 (and 1) as the interpreter does', async () => {
    const file = dynamicBatchFile();
    const g = await readTflite(file, { fileName: 'dynamic-batch.tflite' });
    expect(g.inputs[0]!.shape).toEqual(['batch', 4, 6]);
    for (const batch of [3, 1]) {
      const x = randomFloat([batch, 4, 6], 60 + batch);
      const theirs = await oracle.run(withStoredDim(file, 0, batch), [x.data as Float32Array]);
      const mine = await nnport(g, x);
      expect(mine).toHaveLength(2);
      mine.forEach((m, i) => {
        expect(m.shape, `output ${i} at batch ${batch}`).toEqual(theirs[i]!.shape);
        expect(relErr(m.toFloat32(), theirs[i]!.data as Float32Array), `output ${i} at batch ${batch}`).toBeLessThan(1e-6);
      });
    }
  });
});

type SignatureJson = { subgraphs: { inputs: number[]; outputs: number[]; tensors: { shape: number[]; shape_signature?: number[]; type?: string }[] }[] };

describe('TFLite reader and writer: quantized RESIZE under a dynamic batch', () => {
  it.each(['int8', 'int16'] as const)('%s RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR: read with the batch dynamic, run at batch 3 as the interpreter does (integer runtime <= 1 LSB), written back with -1 in shape_signature', async (dtype) => {
    const file = quantizedResizeFile(dtype);
    const g = await readTflite(file, { fileName: `resize-${dtype}.tflite` });
    expect(g.inputs[0]!.shape).toEqual(['batch', 3, 4, 2]);
    const written = await writeTflite(g, { fileName: `resize-${dtype}-back.tflite` });
    const json = flatcJson<SignatureJson>(written, `resize-${dtype}-back`);
    const sg = json.subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, 3, 4, 2]);
    expect(sg.tensors[sg.outputs[0]!]!.shape_signature).toEqual([-1, 9, 14, 2]);
    expect(sg.tensors.filter((t) => t.type === dtype.toUpperCase()).length).toBeGreaterThanOrEqual(3);
    for (const batch of [3, 1]) {
      const x = randomFloat([batch, 3, 4, 2], 30 + batch);
      const [theirs] = await oracle.run(withStoredDim(file, 0, batch), [x.data as Float32Array]);
      expect(theirs!.shape).toEqual([batch, 9, 14, 2]);
      const lsb = await integerRuntimeLsbOff(file, x, theirs!.data as Float32Array);
      const [mine] = await nnport(g, x);
      const [back] = await oracle.run(withStoredDim(written, 0, batch), [x.data as Float32Array]);
      const step = dtype === 'int8' ? 1 / 64 : 1 / 16384;
      let floatOff = 0;
      let backOff = 0;
      for (let i = 0; i < theirs!.data.length; i++) {
        floatOff = Math.max(floatOff, Math.abs(mine!.toFloat32()[i]! - (theirs!.data[i] as number)) / step);
        backOff = Math.max(backOff, Math.abs((back!.data[i] as number) - (theirs!.data[i] as number)) / step);
      }
      console.log(`${dtype} RESIZE at batch ${batch}: integer runtime ${lsb} LSB, nnport (QDQ float) ${floatOff} LSB off the interpreter; nnport's written file in the interpreter ${backOff} LSB off the source file`);
      expect(mine!.shape).toEqual([batch, 9, 14, 2]);
      expect(lsb).toBeLessThanOrEqual(1.0001);
      // the float runtime interpolates at exact coordinates, TFLite's integer kernel on a 1/1024 grid:
      // within one int8 step, and within 2^-8 (64 int16 steps of 2^-14) on int16 (measured 35)
      expect(floatOff).toBeLessThanOrEqual(dtype === 'int8' ? 1.0001 : 64);
      expect(backOff).toBe(0);
    }
  });
});

describe('TFLite reader: SPLIT_V with -1 on a dynamic axis', () => {
  it.each(['float32', 'int8'] as const)('%s: the -1 part follows the length at run time (lengths 7 and 3, as the interpreter gives with the dim set)', async (dtype) => {
    const file = splitVFile(dtype);
    const g = await readTflite(file, { fileName: `split-v-${dtype}.tflite` });
    expect(g.inputs[0]!.shape).toEqual([1, null, 3]);
    const written = await writeTflite(g, { fileName: `split-v-${dtype}-back.tflite` });
    const sg = flatcJson<SignatureJson>(written, `split-v-${dtype}-back`).subgraphs[0]!;
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([1, -1, 3]);
    for (const length of [7, 3]) {
      const r = rng(20 + length);
      const n = 3 * length;
      const x =
        dtype === 'int8' ? new Tensor('int8', [1, length, 3], Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128)) : randomFloat([1, length, 3], 20 + length);
      const theirs = await oracle.run(withStoredDim(file, 1, length), [x.data as ArrayBufferView]);
      const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, x]]));
      const mine = g.outputs.map((o) => outputs.get(o.name)!);
      expect(mine.map((m) => m.shape)).toEqual([[1, 1, 3], [1, length - 3, 3], [1, 2, 3]]);
      mine.forEach((m, i) => {
        expect(m.shape, `output ${i} at length ${length}`).toEqual(theirs[i]!.shape);
        expect([...m.toNumbers()], `output ${i} at length ${length}`).toEqual(Array.from(theirs[i]!.data as ArrayLike<number>));
      });
      // nnport's file of the read graph: the same parts in the interpreter
      const back = await oracle.run(withStoredDim(written, 1, length), [x.data as ArrayBufferView]);
      back.forEach((o, i) => expect(Array.from(o.data as ArrayLike<number>), `written file, output ${i} at length ${length}`).toEqual(Array.from(theirs[i]!.data as ArrayLike<number>)));
    }
  });
});

describe('TFLite reader and writer: TRANSPOSE_CONV under a dynamic batch', () => {
  it('output_shape from SHAPE / STRIDED_SLICE / PACK (as TF writes it): read with the batch dynamic and written back the same way, both as the interpreter runs the source at batches 3 and 1', async () => {
    const file = transposeConvFile();
    const g = await readTflite(file, { fileName: 'transpose-conv-dynamic.tflite' });
    expect(g.inputs[0]!.shape).toEqual(['batch', 4, 5, 3]);
    const written = await writeTflite(g, { fileName: 'transpose-conv-dynamic-back.tflite' });
    const json = flatcJson<SignatureJson & { operator_codes: { builtin_code?: string; deprecated_builtin_code?: number }[]; subgraphs: { operators: { opcode_index?: number }[] }[] }>(written, 'transpose-conv-dynamic-back');
    const sg = json.subgraphs[0]!;
    expect(sg.operators.map((o) => json.operator_codes[o.opcode_index ?? 0]!.builtin_code)).toEqual(['SHAPE', 'STRIDED_SLICE', 'PACK', 'TRANSPOSE_CONV']);
    expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, 4, 5, 3]);
    expect(sg.tensors[sg.outputs[0]!]!.shape_signature).toEqual([-1, 8, 10, 2]);
    for (const batch of [3, 1]) {
      const x = randomFloat([batch, 4, 5, 3], 50 + batch);
      const [theirs] = await oracle.run(withStoredDim(file, 0, batch), [x.data as Float32Array]);
      expect(theirs!.shape).toEqual([batch, 8, 10, 2]);
      const [mine] = await nnport(g, x);
      const [back] = await oracle.run(withStoredDim(written, 0, batch), [x.data as Float32Array]);
      const e = relErr(mine!.toFloat32(), theirs!.data as Float32Array);
      const w = relErr(back!.data as Float32Array, theirs!.data as Float32Array);
      console.log(`TRANSPOSE_CONV at batch ${batch}: nnport ${e.toExponential(2)}, nnport's written file in the interpreter ${w.toExponential(2)} relative to the interpreter on the source`);
      expect(mine!.shape).toEqual([batch, 8, 10, 2]);
      expect(e).toBeLessThan(1e-6);
      expect(w).toBeLessThan(1e-6);
    }
  });
});
