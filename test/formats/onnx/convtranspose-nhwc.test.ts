// ONNX ConvTranspose with pads / output_padding / dilation / groups, 1-D and 2-D, converted to
// every NHWC format (src/passes/conv-transpose-valid.ts: VALID transposed conv + crop, the input
// zero-extended where output_padding reaches past the last tap, block-diagonal groups, zero-dilated
// kernels, 1-D as 2-D), each run by the real framework against PyTorch's own output
// (scripts/fixtures/convtranspose_torch.py, made into .fixtures-cache/convtranspose/): .h5 and
// model.json by TensorFlow.js, .tflite by the TFLite interpreter (float32, float16, dynamic-range
// and full int8: SNR against PyTorch / onnxruntime-node and nnport's integer runtime within 1 LSB
// of the interpreter), .pb by OpenCV dnn. Plus the corpus' ONNX backend convtranspose2d (opset 6,
// k 3x3, strides (3, 2), pads 1, output_padding (1, 1)) against its test_data_set_0 output.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTensorProto } from '../../../src/formats/onnx/index.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { convert, loadModel } from '../../../src/index.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, opNameOf, opNamesOf, useTfliteOracle, type FlatcOps } from '../../support/tflite-test.js';
import { predict, tfjsModelFromH5, tfjsModelFromJson } from '../keras/tfjs-oracle.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { runOrt } from './ort-helpers.js';

const PY = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/convtranspose_torch.py');
const CACHE = join(REPO_ROOT, '.fixtures-cache/convtranspose');
const NAMES = ['ct2d_p1_op1', 'ct2d_same', 'ct2d_extend', 'ct2d_dil_group', 'ct1d', 'ct1d_dw_dil', 'decoder'] as const;
type Name = (typeof NAMES)[number];

const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  if (NAMES.some((n) => !existsSync(join(CACHE, n, 'output.npy')))) execFileSync(PY, [SCRIPT, '--out', CACHE], { stdio: ['ignore', 'ignore', 'pipe'] });
}, 300_000);

/** NC(H)W -> N(H)WC */
const channelsLast = (t: Tensor): Tensor => permuteTensor(t, t.rank === 4 ? [0, 2, 3, 1] : [0, 2, 1]);
const npy = (name: Name, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, name, f))), f);
const asTensor = (y: { shape: number[]; data: ArrayLike<number> }): Tensor => Tensor.float32(y.shape, Float32Array.from(y.data));

type FlatcModel = FlatcOps<{ inputs: number[]; outputs: number[] }, { tensors: { quantization?: { scale?: number[]; zero_point?: number[] } }[] }>;
const flatc = (bytes: Uint8Array, name: string): FlatcModel => flatcJson<FlatcModel>(bytes, name);
const opNames = opNamesOf;

const TFLITE_OPS: Record<Name, string[]> = {
  // TF SAME crops the odd pixel at the end, PyTorch at the start: VALID + SLICE
  ct2d_p1_op1: ['TRANSPOSE_CONV', 'SLICE'],
  // pads TF SAME expresses exactly: one op, as TF's converter writes it
  ct2d_same: ['TRANSPOSE_CONV'],
  // output_padding past the last tap: the input zero-padded at the end first
  ct2d_extend: ['PAD', 'TRANSPOSE_CONV', 'SLICE'],
  ct2d_dil_group: ['TRANSPOSE_CONV', 'SLICE'],
  ct1d: ['RESHAPE', 'TRANSPOSE_CONV', 'SLICE', 'RESHAPE'],
  ct1d_dw_dil: ['RESHAPE', 'TRANSPOSE_CONV', 'SLICE', 'RESHAPE'],
  decoder: ['CONV_2D', 'TRANSPOSE_CONV', 'SLICE', 'RELU', 'TRANSPOSE_CONV'],
};

describe('ConvTranspose (pads, output_padding, dilation, groups, 1-D) -> .h5 / model.json / .tflite / .pb, run by the real frameworks vs PyTorch', () => {
  for (const name of NAMES) {
    it(`${name}: TF.js (.h5, model.json), the TFLite interpreter, OpenCV (.pb) within 1e-5 of PyTorch`, async () => {
      const model = await loadModel(new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx'))), { fileName: `${name}.onnx` });
      const x = channelsLast(npy(name, 'input.npy'));
      const want = channelsLast(npy(name, 'output.npy'));

      const h5 = await convert(model, `${name}.h5`);
      expect(h5.notes.some((n) => /^ConvTranspose '.*': .* for Keras \(same result\)$/.test(n)) || name === 'ct2d_same' || name === 'decoder', h5.notes.join('\n')).toBe(true);
      const fromH5 = predict(await tfjsModelFromH5(h5.bytes), [x])[0]!;
      expect(fromH5.shape).toEqual(want.shape);
      expect(relErr(fromH5.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);

      const js = await convert(model, `${name}/model.json`);
      const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!;
      expect(relErr(fromJs.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);

      const tfl = await convert(model, `${name}.tflite`);
      expect(opNames(flatc(tfl.bytes, name))).toEqual(TFLITE_OPS[name]);
      const [y] = await oracle.run(tfl.bytes, [x.toFloat32()]);
      expect(y!.shape).toEqual(want.shape);
      expect(relErr(y!.data as Float32Array, want.toFloat32())).toBeLessThanOrEqual(1e-5);

      const pb = await convert(model, `${name}.pb`);
      const fromPb = pythonRun('opencv', `convtranspose-${name}`, pb.bytes, x, ['y']).get('y')!;
      expect(relErr(fromPb.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    });
  }

  for (const name of ['ct2d_p1_op1', 'ct2d_extend', 'ct1d_dw_dil', 'decoder'] as const) {
    it(`${name}: float16 and dynamic-range .tflite in the interpreter, close to PyTorch`, async () => {
      const model = await loadModel(new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx'))), { fileName: `${name}.onnx` });
      const graph = (model as { graph: Graph }).graph;
      const x = channelsLast(npy(name, 'input.npy'));
      const want = channelsLast(npy(name, 'output.npy')).toFloat32();
      for (const [mode, bound] of [['float16', 2e-3], ['dynamic', 3e-2]] as const) {
        const bytes = await writeTflite(graph, { fileName: `${name}.tflite`, quantize: { mode } });
        expect(opNames(flatc(bytes, name)).filter((o) => o !== 'DEQUANTIZE')).toEqual(TFLITE_OPS[name]);
        const [y] = await oracle.run(bytes, [x.toFloat32()]);
        const err = relErr(y!.data as Float32Array, want);
        console.log(`${name} ${mode}: interpreter vs PyTorch ${err.toExponential(2)} (relative to the output's scale)`);
        expect(err).toBeLessThanOrEqual(bound);
      }
    });
  }

  const samples = (shape: number[], count: number, seed: number): Tensor[] => {
    const q = rng(seed);
    const size = shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: count }, () => Tensor.float32(shape, Float32Array.from({ length: size }, () => q() * 2 - 1)));
  };

  for (const name of ['ct2d_extend', 'ct1d', 'decoder'] as const) {
    it(`${name}: int8 .tflite; the crop / pad share their input's parameters; the interpreter vs onnxruntime-node SNR > 30 dB; nnport's integer runtime <= 1 LSB of it`, async () => {
      const bytes0 = new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx')));
      const model = await loadModel(bytes0, { fileName: `${name}.onnx` });
      const graph = (model as { graph: Graph }).graph;
      const nchw = npy(name, 'input.npy').shape as number[];
      const toNchw = (t: Tensor): Tensor => permuteTensor(t, t.rank === 4 ? [0, 3, 1, 2] : [0, 2, 1]);
      const nhwcShape = nchw.length === 4 ? [nchw[0]!, nchw[2]!, nchw[3]!, nchw[1]!] : [nchw[0]!, nchw[2]!, nchw[1]!];
      const calibration = samples(nhwcShape, 16, 5).map((t) => [t]);
      const bytes = await writeTflite(graph, { fileName: `${name}.tflite`, quantize: { mode: 'int8', calibration } });
      const m = flatc(bytes, name);
      const sg = m.subgraphs[0]!;
      const ops = opNames(m);
      expect(ops.filter((o) => o !== 'QUANTIZE' && o !== 'DEQUANTIZE')).toEqual(TFLITE_OPS[name]);
      for (const op of sg.operators.filter((o) => ['SLICE', 'PAD', 'RESHAPE'].includes(opNameOf(m, o)))) {
        expect(JSON.stringify(sg.tensors[op.outputs[0]!]!.quantization)).toBe(JSON.stringify(sg.tensors[op.inputs[0]!]!.quantization));
        expect(sg.tensors[op.outputs[0]!]!.quantization?.scale?.length).toBe(1);
      }
      const want: Float32Array[] = [];
      const got: Float32Array[] = [];
      for (const xs of samples(nhwcShape, 3, 9)) {
        const [theirs] = await oracle.run(bytes, [xs.toFloat32()]);
        const out = (await runOrt(bytes0, { x: toNchw(xs) })).y!;
        const b = out.bytes as Uint8Array;
        const ref = channelsLast(new Tensor('float32', [...out.dims], new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice()));
        want.push(ref.toFloat32());
        got.push(theirs!.data as Float32Array);
        expect(await integerRuntimeLsbOff(bytes, xs, theirs!.data as Float32Array)).toBeLessThanOrEqual(1.0001);
      }
      const snr = pooledSnrDb(want, got);
      console.log(`${name} int8: interpreter vs onnxruntime-node SNR ${snr.toFixed(1)} dB`);
      expect(snr).toBeGreaterThan(30);
    });
  }

  it('corpus onnx-backend-convtranspose2d (opset 6; k 3x3, strides (3, 2), pads 1, output_padding (1, 1)): .h5, model.json, .tflite, .pb give its test_data_set_0 output', async () => {
    const dir = corpusPath('onnx/onnx-backend-convtranspose2d');
    const model = await loadModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'model.onnx' });
    const x = channelsLast(readTensorProto(readFileSync(join(dir, 'test_data_set_0/input_0.pb'))));
    const want = channelsLast(readTensorProto(readFileSync(join(dir, 'test_data_set_0/output_0.pb'))));
    expect(want.shape).toEqual([1, 20, 12, 4]);
    const h5 = await convert(model, 'convtranspose2d.h5');
    expect(h5.notes).toContain("ConvTranspose '3': pads [1, 1, 1, 1] output_padding [1, 1] as VALID + a crop for Keras (same result)");
    expect(relErr(predict(await tfjsModelFromH5(h5.bytes), [x])[0]!.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    const js = await convert(model, 'convtranspose2d/model.json');
    expect(relErr(predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), [x])[0]!.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    const tfl = await convert(model, 'convtranspose2d.tflite');
    expect(opNames(flatc(tfl.bytes, 'convtranspose2d'))).toEqual(['TRANSPOSE_CONV', 'SLICE']);
    const [y] = await oracle.run(tfl.bytes, [x.toFloat32()]);
    expect(y!.shape).toEqual(want.shape);
    expect(relErr(asTensor(y!).toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    const pb = await convert(model, 'convtranspose2d.pb');
    for (const kind of ['opencv', 'numpy'] as const) {
      const fromPb = pythonRun(kind, 'convtranspose-corpus-2d', pb.bytes, x, ['3']).get('3')!;
      expect(relErr(fromPb.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    }
  });
});
