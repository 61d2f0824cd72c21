// SVDF read from .tflite and run by nnport against the TFLite interpreter: hand-built float and
// int8 (int16 state) files on random inputs, each run by a fresh interpreter (its state carries
// over from one invoke to the next; nnport's result is the first invoke after allocation).
// The corpus' keyword model keeps an int8 state, which only TFLite Micro runs (the interpreter
// here reads that state as int16 and faults): it is read and run, checked against nnport's float
// runtime on the dequantized model.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { SVDFOptions } from '../../../src/formats/generated/tflite/svdfoptions.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { convert, loadModel } from '../../../src/index.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';
import { buildModel, randomInts, TensorType, type BuiltTensor } from './svdf-model.js';

const oracle = useTfliteOracle();

const svdfOptions = (rank: number, act: ActivationFunctionType) => (b: Parameters<typeof SVDFOptions.createSVDFOptions>[0]) => ({ type: BuiltinOptions.SVDFOptions, offset: SVDFOptions.createSVDFOptions(b, rank, act, false) });

/** One SVDF: x (batch, input) -> (batch, filters/rank), memory frames of state. */
function svdfFile(o: { batch: number; input: number; filters: number; memory: number; rank: number; act: ActivationFunctionType; int8: boolean; seed: number; stateShape?: number[] }): Uint8Array {
  const r = rng(o.seed);
  const units = o.filters / o.rank;
  const floats = (n: number, amp: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * amp);
  const tensors: BuiltTensor[] = o.int8
    ? [
        { name: 'x', shape: [o.batch, o.input], type: TensorType.INT8, quant: { scale: [0.05], zeroPoint: [3] } },
        { name: 'weights_feature', shape: [o.filters, o.input], type: TensorType.INT8, data: randomInts(Int8Array, o.filters * o.input, -127, 127, r), quant: { scale: [0.01], zeroPoint: [0] } },
        { name: 'weights_time', shape: [o.filters, o.memory], type: TensorType.INT16, data: randomInts(Int16Array, o.filters * o.memory, -30000, 30000, r), quant: { scale: [1e-4], zeroPoint: [0] } },
        { name: 'bias', shape: [units], type: TensorType.INT32, data: randomInts(Int32Array, units, -3000000, 3000000, r), quant: { scale: [2e-7], zeroPoint: [0] } },
        { name: 'state', shape: o.stateShape ?? [o.batch, o.filters * o.memory], type: TensorType.INT16, quant: { scale: [0.002], zeroPoint: [0] }, variable: true },
        { name: 'y', shape: [o.batch, units], type: TensorType.INT8, quant: { scale: [0.15], zeroPoint: [-128] } },
      ]
    : [
        { name: 'x', shape: [o.batch, o.input], type: TensorType.FLOAT32 },
        { name: 'weights_feature', shape: [o.filters, o.input], type: TensorType.FLOAT32, data: floats(o.filters * o.input, 0.5) },
        { name: 'weights_time', shape: [o.filters, o.memory], type: TensorType.FLOAT32, data: floats(o.filters * o.memory, 1) },
        { name: 'bias', shape: [units], type: TensorType.FLOAT32, data: floats(units, 0.3) },
        { name: 'state', shape: o.stateShape ?? [o.batch, o.filters * o.memory], type: TensorType.FLOAT32, variable: true },
        { name: 'y', shape: [o.batch, units], type: TensorType.FLOAT32 },
      ];
  return buildModel({ tensors, opcodes: [BuiltinOperator.SVDF], operators: [{ opcode: 0, inputs: [0, 1, 2, 3, 4], outputs: [5], options: svdfOptions(o.rank, o.act) }], inputs: [0], outputs: [5] });
}

/** The largest difference between nnport's integer runtime and a fresh interpreter per input; `seen` collects the interpreter's outputs. */
async function compare(file: Uint8Array, inputs: (Int8Array | Float32Array)[], shape: number[], seen: number[] = []): Promise<number> {
  const g = await readTflite(file, { fileName: 'svdf.tflite' });
  let worst = 0;
  for (const x of inputs) {
    const [theirs] = await oracle.run(file, [x]);
    const feed = new Tensor(x instanceof Int8Array ? 'int8' : 'float32', shape, x);
    const mine = [...(await runInteger(g, { x: feed })).outputs.values()][0]!;
    expect(mine.shape).toEqual(theirs!.shape);
    seen.push(...Array.from(theirs!.data as ArrayLike<number>));
    for (let i = 0; i < theirs!.data.length; i++) worst = Math.max(worst, Math.abs(Number(mine.data[i]) - Number(theirs!.data[i])));
  }
  return worst;
}

describe('TFLite SVDF', () => {
  it('float SVDF (rank 2, batch 2, RELU and NONE) equals the interpreter within 1e-5', async () => {
    const r = rng(5);
    for (const act of [ActivationFunctionType.RELU, ActivationFunctionType.NONE]) {
      const file = svdfFile({ batch: 2, input: 7, filters: 6, memory: 4, rank: 2, act, int8: false, seed: 1 + act });
      const inputs = Array.from({ length: 4 }, () => Float32Array.from({ length: 14 }, () => r() * 4 - 2));
      expect(await compare(file, inputs, [2, 7])).toBeLessThan(1e-5);
      // the float runtime computes the same
      const g = await readTflite(file);
      const a = (await runGraph(g, { x: new Tensor('float32', [2, 7], inputs[0]!) })).outputs.get('y')!;
      const b = (await runInteger(g, { x: new Tensor('float32', [2, 7], inputs[0]!) })).outputs.get('y')!;
      expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
    }
  });

  it('int8 SVDF with int16 state equals the interpreter exactly on random inputs', async () => {
    const r = rng(9);
    for (const [rank, seed] of [[1, 21], [2, 22], [4, 23]] as const) {
      const file = svdfFile({ batch: 1, input: 12, filters: 8, memory: 5, rank, act: ActivationFunctionType.RELU, int8: true, seed });
      const inputs = Array.from({ length: 5 }, () => randomInts(Int8Array, 12, -128, 127, r));
      const seen: number[] = [];
      expect(await compare(file, inputs, [1, 12], seen)).toBe(0);
      // RELU sends about half to -128; the rest spread inside the range
      expect(seen.filter((v) => v > -128 && v < 127).length).toBeGreaterThan(seen.length / 4);
    }
  });

  it('the float runtime runs an int8 SVDF as its dequantized model (within a few steps)', async () => {
    const file = svdfFile({ batch: 1, input: 12, filters: 8, memory: 5, rank: 2, act: ActivationFunctionType.RELU, int8: true, seed: 22 });
    const g = await readTflite(file);
    const x = new Tensor('int8', [1, 12], randomInts(Int8Array, 12, -128, 127, rng(3)));
    const exact = (await runInteger(g, { x })).outputs.get('y')!.data as Int8Array;
    const approx = (await runGraph(g, { x })).outputs.get('y')!.data as Int8Array;
    for (let i = 0; i < exact.length; i++) expect(Math.abs(exact[i]! - approx[i]!)).toBeLessThanOrEqual(2);
  });

  it('TFLite Micro keyword model (7 int8 SVDFs, int8 state) runs on the integer runtime', async () => {
    const g = await readTflite(readFileSync(corpusPath('tflite/tflm-keyword-scrambled-int8-svdf/keyword_scrambled_8bit.tflite')));
    const svdfs = g.nodes.filter((n) => n.domain === 'nnport' && n.opType === 'Svdf');
    expect(svdfs).toHaveLength(7);
    expect(svdfs[0]!.doc).toMatch(/first invoke/);
    const x = new Tensor('int16', [1, 96], randomInts(Int16Array, 96, -20000, 20000, rng(4)));
    const y = [...(await runInteger(g, { [g.inputs[0]!.name]: x })).outputs.values()][0]!;
    expect(y.dtype).toBe('int32');
    expect(y.shape).toEqual([1, 2]);
  });

  it('bad SVDFs: a rank that does not divide the filters, a state of the wrong shape', async () => {
    const bad = svdfFile({ batch: 1, input: 4, filters: 6, memory: 3, rank: 4, act: ActivationFunctionType.NONE, int8: false, seed: 1 });
    await expect(readTflite(bad, { fileName: 'bad.tflite' })).rejects.toThrow(FormatError);
    await expect(readTflite(bad, { fileName: 'bad.tflite' })).rejects.toThrow(/rank 4 does not divide its 6 filters/);
    const state = svdfFile({ batch: 1, input: 4, filters: 6, memory: 3, rank: 2, act: ActivationFunctionType.NONE, int8: true, seed: 1, stateShape: [1, 17] });
    await expect(readTflite(state, { fileName: 'bad.tflite' })).rejects.toThrow(/state 'state' has shape \[1, 17\], expected \[1, 18\]/);
  });

  it('writers other than TFLite refuse the SVDF by name', async () => {
    const file = svdfFile({ batch: 1, input: 4, filters: 6, memory: 3, rank: 2, act: ActivationFunctionType.NONE, int8: false, seed: 1 });
    const model = await loadModel(file, { fileName: 'svdf.tflite' });
    for (const to of ['model.onnx', 'model.h5', 'model.json', 'model.pb']) {
      await expect(convert(model, to), to).rejects.toThrow(UnsupportedError);
      await expect(convert(model, to), to).rejects.toThrow(/Svdf/);
    }
  });

  it('written back to TFLite (float and int8), the interpreter computes what it computes on the source file', async () => {
    const r = rng(12);
    for (const int8 of [false, true]) {
      const src = svdfFile({ batch: 1, input: 12, filters: 8, memory: 5, rank: 2, act: ActivationFunctionType.RELU, int8, seed: 30 });
      const written = (await convert(await loadModel(src, { fileName: 'svdf.tflite' }), 'svdf.tflite')).bytes;
      const json = flatcJson<{ subgraphs: { tensors: { name: string; is_variable?: boolean; buffer?: number }[] }[] }>(written, 'svdf');
      expect(json.subgraphs[0]!.tensors.filter((t) => t.is_variable).map((t) => t.name)).toEqual(['state']);
      for (let k = 0; k < 3; k++) {
        const x = int8 ? randomInts(Int8Array, 12, -128, 127, r) : Float32Array.from({ length: 12 }, () => r() * 4 - 2);
        const [a] = await oracle.run(src, [x]);
        const [b] = await oracle.run(written, [x]);
        expect(Array.from(b!.data)).toEqual(Array.from(a!.data));
      }
    }
  });
});
