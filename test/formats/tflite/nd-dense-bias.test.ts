// PyTorch's nn.Linear on a [batch, tokens, features] input (every transformer) exports as MatMul of a
// 2-D constant + Add of the bias. TF's converter writes one FULLY_CONNECTED with keep_num_dims and
// that bias (int32 on input_scale · weight_scale under int8, int64 under int16x8); nnport wrote
// FULLY_CONNECTED (zero bias) + ADD, which under int8 rounds the product to its own calibrated int8
// tensor before the ADD rounds again. Three Linear layers the ways exporters write the Add (bias
// second, bias first with a [1, 1, N] constant, a [1, N] constant), checked in the TFLite interpreter
// against onnxruntime (float32, float16, dynamic range) and against the float file (int8, int16x8), nnport's
// integer runtime reading the int8 file back against the interpreter, and a batch given at run time
// (float32 and int8).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { type FlatcOps, flatcJson, integerRuntimeLsbOff, opNamesOf, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const [T, C, H, D] = [16, 64, 128, 96];

/** nn.Linear's initialisation: weights and bias uniform in ±1/√fan_in */
function linear(random: () => number, fanIn: number, n: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * bound);
}

function mlp(random: () => number, batch: number | string): Graph {
  const node = (name: string, opType: string, inputs: string[]): Node => ({ name, domain: '', opType, inputs, outputs: [name], attrs: {} });
  const initializers = new Map([
    ['w1', new Tensor('float32', [C, H], linear(random, C, C * H))],
    ['b1', new Tensor('float32', [H], linear(random, C, H))],
    ['w2', new Tensor('float32', [H, D], linear(random, H, H * D))],
    ['b2', new Tensor('float32', [1, 1, D], linear(random, H, D))],
    ['w3', new Tensor('float32', [D, C], linear(random, D, D * C))],
    ['b3', new Tensor('float32', [1, C], linear(random, D, C))],
  ]);
  return {
    name: 'mlp',
    nodes: [
      node('mm1', 'MatMul', ['x', 'w1']),
      node('fc1', 'Add', ['mm1', 'b1']),
      node('act1', 'Relu', ['fc1']),
      node('mm2', 'MatMul', ['act1', 'w2']),
      node('fc2', 'Add', ['b2', 'mm2']),
      node('act2', 'Relu', ['fc2']),
      node('mm3', 'MatMul', ['act2', 'w3']),
      node('y', 'Add', ['mm3', 'b3']),
    ],
    inputs: [{ name: 'x', dtype: 'float32', shape: [batch, T, C] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers,
    opsets: { '': 13 },
  };
}

interface FcOp {
  builtin_options?: { keep_num_dims?: boolean };
  inputs: number[];
}
interface FlatTensor {
  name: string;
  type?: string;
  quantization?: { scale?: number[] };
}
type Flat = FlatcOps<FcOp, { tensors: FlatTensor[] }>;

/** The file's ops, and for each FULLY_CONNECTED its keep_num_dims and its bias tensor's type. */
function denseOps(bytes: Uint8Array): { ops: string[]; fc: { keep: boolean; biasType: string }[] } {
  const json = flatcJson<Flat>(bytes, 'mlp');
  const sg = json.subgraphs[0]!;
  const ops = opNamesOf(json);
  const fc = sg.operators.filter((_, k) => ops[k] === 'FULLY_CONNECTED').map((o) => ({ keep: !!o.builtin_options?.keep_num_dims, biasType: sg.tensors[o.inputs[2]!]!.type ?? 'FLOAT32' }));
  return { ops, fc };
}

const sample = (random: () => number, batch = 1) => new Tensor('float32', [batch, T, C], Float32Array.from({ length: batch * T * C }, () => random() * 2 - 1));

describe('an N-D dense layer with its bias (MatMul + Add): one FULLY_CONNECTED with keep_num_dims', () => {
  it('float32, float16 and dynamic range: no ADD, outputs of onnxruntime', { timeout: 300_000 }, async () => {
    const random = rng(11);
    const onnx = writeOnnx(mlp(random, 1));
    const model = await loadModel(onnx, { fileName: 'mlp.onnx' });
    const float = (await convert(model, 'mlp.tflite')).bytes;
    const dynamic = (await convert(model, 'mlp.tflite', { quantize: { mode: 'dynamic' } })).bytes;
    const half = (await convert(model, 'mlp.tflite', { quantize: { mode: 'float16' } })).bytes;
    // (and the float file read back and written again: the reader's RESHAPE -> Gemm -> RESHAPE is one FULLY_CONNECTED again)
    const again = (await convert(await loadModel(float, { fileName: 'mlp.tflite' }), 'again.tflite')).bytes;
    for (const file of [float, dynamic, again, half]) {
      const { ops, fc } = denseOps(file);
      // (float16: its weights and biases behind a DEQUANTIZE each)
      expect(ops.filter((o) => file !== half || o !== 'DEQUANTIZE')).toEqual(['FULLY_CONNECTED', 'FULLY_CONNECTED', 'FULLY_CONNECTED']);
      expect(fc).toEqual(Array.from({ length: 3 }, () => ({ keep: true, biasType: 'FLOAT32' })));
    }
    for (let k = 0; k < 3; k++) {
      const x = sample(random);
      const want = (await ortFirst(onnx, [x])).toFloat32();
      const got = (await oracle.run(float, [x.toFloat32()]))[0]!;
      expect(got.shape).toEqual([1, T, C]);
      expect(relErr(got.data as Float32Array, want)).toBeLessThan(1e-5);
      expect(relErr((await oracle.run(dynamic, [x.toFloat32()]))[0]!.data as Float32Array, want)).toBeLessThan(5e-2);
      expect(relErr((await oracle.run(again, [x.toFloat32()]))[0]!.data as Float32Array, want)).toBeLessThan(1e-5);
      expect(relErr((await oracle.run(half, [x.toFloat32()]))[0]!.data as Float32Array, want)).toBeLessThan(1e-2);
    }
  });

  it('a batch given at run time (shape_signature -1): one FULLY_CONNECTED per layer, any batch, float32 and int8', { timeout: 300_000 }, async () => {
    const random = rng(12);
    const onnx = writeOnnx(mlp(random, 'batch'));
    const model = await loadModel(onnx, { fileName: 'mlp.onnx' });
    const float = (await convert(model, 'mlp.tflite')).bytes;
    const int8 = (await convert(model, 'mlp.tflite', { quantize: { mode: 'int8', calibration: Array.from({ length: 4 }, () => [sample(random)]) } })).bytes;
    for (const [file, ops] of [[float, []], [int8, ['QUANTIZE', 'DEQUANTIZE']]] as const) {
      const json = flatcJson<FlatcOps<object, { inputs: number[]; tensors: Array<{ shape_signature?: number[] }> }>>(file, 'mlp');
      const sg = json.subgraphs[0]!;
      expect(sg.tensors[sg.inputs[0]!]!.shape_signature).toEqual([-1, T, C]);
      expect(opNamesOf(json).filter((o) => !ops.includes(o as never))).toEqual(['FULLY_CONNECTED', 'FULLY_CONNECTED', 'FULLY_CONNECTED']);
    }
    const x = sample(random, 3);
    const got = (await oracle.run(withStoredDim(float, 0, 3), [x.toFloat32()]))[0]!;
    expect(got.shape).toEqual([3, T, C]);
    expect(relErr(got.data as Float32Array, (await ortFirst(onnx, [x])).toFloat32())).toBeLessThan(1e-5);
    const got8 = (await oracle.run(withStoredDim(int8, 0, 3), [x.toFloat32()]))[0]!;
    expect(got8.shape).toEqual([3, T, C]);
    const snr = pooledSnrDb([got.data as Float32Array], [got8.data as Float32Array]);
    console.log(`nd-dense-bias int8 at batch 3: ${snr.toFixed(2)} dB from the float file`);
    // (measured 35.4 dB: 4 calibration samples at batch 1)
    expect(snr).toBeGreaterThan(30);
    expect(await integerRuntimeLsbOff(int8, x, got8.data as Float32Array, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1);
  });

  for (const mode of ['int8', 'int16x8'] as const) {
    it(`${mode} with calibration: the bias inside FULLY_CONNECTED (${mode === 'int8' ? 'int32' : 'int64'}), no ADD, integer runtime = interpreter`, { timeout: 300_000 }, async () => {
      const random = rng(13);
      const model = await loadModel(writeOnnx(mlp(random, 1)), { fileName: 'mlp.onnx' });
      const calibration = Array.from({ length: 8 }, () => [sample(random)]);
      const float = (await convert(model, 'mlp.tflite')).bytes;
      const quantized = (await convert(model, 'mlp.tflite', { quantize: { mode, calibration } })).bytes;
      const { ops, fc } = denseOps(quantized);
      expect(ops).toEqual(['QUANTIZE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'DEQUANTIZE']);
      expect(fc).toEqual(Array.from({ length: 3 }, () => ({ keep: true, biasType: mode === 'int8' ? 'INT32' : 'INT64' })));
      // read back (RESHAPE -> Gemm -> RESHAPE in nnport's graph) and written again: the same ops, the same outputs
      const again = (await convert(await loadModel(quantized, { fileName: 'mlp.tflite' }), 'again.tflite')).bytes;
      expect(denseOps(again)).toEqual({ ops, fc });
      const want: Float32Array[] = [];
      const got: Float32Array[] = [];
      for (let k = 0; k < 4; k++) {
        const x = sample(random);
        want.push((await oracle.run(float, [x.toFloat32()]))[0]!.data as Float32Array);
        got.push((await oracle.run(quantized, [x.toFloat32()]))[0]!.data as Float32Array);
        expect((await oracle.run(again, [x.toFloat32()]))[0]!.data).toEqual(got[k]);
        // nnport's integer runtime reads the file back and gives the interpreter's outputs
        expect(await integerRuntimeLsbOff(quantized, x, got[k]!, { requantization: 'xnnpack' })).toBeLessThanOrEqual(1);
      }
      const snr = pooledSnrDb(want, got);
      console.log(`nd-dense-bias ${mode}: ${snr.toFixed(2)} dB from the float file`);
      // (measured: int8 39.7 dB with the bias inside, 36.75 dB as FULLY_CONNECTED + ADD (two roundings); int16x8 47.1 dB
      // either way: its 16-bit product rounds far below the int8 weights' error)
      expect(snr).toBeGreaterThan(mode === 'int8' ? 38.5 : 45);
    });
  }
});
