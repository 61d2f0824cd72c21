// float16 ONNX models (scripts/fixtures/float16_onnx.py: PyTorch exports made float16 with the onnx
// python API, with float32 I/O behind Casts as onnxconverter-common's keep_io_types writes them,
// and wholly float16 as a model.half() export is) converted to .tflite with no --quantize: the
// weights stay float16 (re-laid in the layout pass, BatchNorm folded into them, biases too) behind
// DEQUANTIZE, the ops compute in float32, float16 I/O becomes float32. The real TFLite interpreter
// runs the file against onnxruntime-node running the float16 ONNX. The other NHWC writers give
// float32 models (TF.js runs the .h5 / model.json, OpenCV the .pb).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { compare, convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { float32ToFloat16Bits } from '../../../src/ir/float16.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { flatcJson, opNameOf, useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson } from '../keras/tfjs-oracle.js';
import { runOrt } from '../onnx/ort-helpers.js';
import { npyTensor } from '../tensorflow/helpers.js';
import { pythonRun } from '../tensorflow/python-runs.js';

const oracle = useTfliteOracle();
const DIR = join(REPO_ROOT, '.fixtures-cache/float16-onnx');
const FILES = ['cnn_float32', 'cnn_keepio', 'cnn_half', 'mobilenet_v2_keepio'];

beforeAll(() => {
  if (FILES.every((f) => existsSync(join(DIR, `${f}.onnx`)))) return;
  const mobilenet = join(torchvisionDir('mobilenet_v2'), 'model.onnx');
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/float16_onnx.py'), '--out', DIR, '--mobilenet', mobilenet], { stdio: 'pipe' });
}, 120_000);

const nhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 1]);
const half = (t: Tensor): Tensor => new Tensor('float16', t.shape, Uint16Array.from(t.toFloat32(), float32ToFloat16Bits));

/** onnxruntime-node on the float16 ONNX: its output as float32 (a float16 output decoded). */
async function ortOutput(bytes: Uint8Array, x: Tensor, input = 'x'): Promise<Tensor> {
  const out = Object.values(await runOrt(bytes, { [input]: x }))[0]!;
  const b = out.bytes as Uint8Array;
  if (out.type === 'float16') return new Tensor('float16', [...out.dims], new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2).slice());
  return new Tensor('float32', [...out.dims], new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice());
}

interface FlatcModel {
  operator_codes: { builtin_code: string }[];
  subgraphs: { tensors: { name: string; type: string; buffer: number }[]; inputs: number[]; outputs: number[]; operators: { opcode_index: number; inputs: number[]; outputs: number[] }[] }[];
  buffers: { data?: number[] }[];
}

/** The file's constants by type, and where the weights and biases of its conv / dense ops come from. */
function weightsOf(bytes: Uint8Array, name: string) {
  const m = flatcJson<FlatcModel>(bytes, name, { defaults: true });
  const sg = m.subgraphs[0]!;
  const code = (op: { opcode_index: number }) => opNameOf(m, op);
  // (a scalar -- the model's `* 4` -- stays float32, as --quantize float16 leaves it)
  const constants = sg.tensors.filter((t) => (m.buffers[t.buffer]?.data?.length ?? 0) > 4);
  const producer = new Map(sg.operators.flatMap((op) => op.outputs.map((o) => [o, op] as const)));
  // each weight/bias input of a conv / dense op: 'FLOAT16' when a DEQUANTIZE of a float16 constant gives it
  const weights = sg.operators
    .filter((op) => ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'].includes(code(op)))
    .flatMap((op) => op.inputs.slice(1).filter((i) => i >= 0))
    .map((i) => {
      const p = producer.get(i);
      return p && code(p) === 'DEQUANTIZE' ? `DEQUANTIZE(${sg.tensors[p.inputs[0]!]!.type})` : sg.tensors[i]!.type;
    });
  return {
    constantTypes: [...new Set(constants.filter((t) => t.type.startsWith('FLOAT')).map((t) => t.type))],
    weights,
    io: [...sg.inputs, ...sg.outputs].map((i) => sg.tensors[i]!.type),
    ops: sg.operators.map(code),
  };
}

describe('float16 ONNX -> .tflite keeps float16 weights, run by the interpreter against onnxruntime-node', () => {
  const x = randomInput([1, 3, 32, 32], 5);

  for (const [name, io] of [['cnn_keepio', 'float32'], ['cnn_half', 'float16']] as const) {
    it(`${name} (${io} I/O): float16 weights and biases behind DEQUANTIZE, float32 I/O, within 1e-2 of onnxruntime`, async () => {
      const bytes = new Uint8Array(readFileSync(join(DIR, `${name}.onnx`)));
      const want = await ortOutput(bytes, io === 'float16' ? half(x) : x);
      expect(want.dtype).toBe(io);
      const model = await loadModel(bytes, { fileName: `${name}.onnx` });
      const { bytes: tfl, notes } = await convert(model, `${name}.tflite`);
      expect(notes[0]).toMatch(/^float16 model: computes in float32 in tflite with its weights stored float16 behind DEQUANTIZE/);
      if (io === 'float16') expect(notes[0]).toMatch(/float16 inputs\/outputs 'x', 'y' are float32 \(feed float32\)/);
      const w = weightsOf(tfl, name);
      // 3 convs with their BatchNorm folded, one without a bias (its zero bias float16 too), the dense layer
      expect(w.weights).toHaveLength(10);
      expect(w.weights.filter((t) => t !== 'DEQUANTIZE(FLOAT16)')).toEqual([]);
      expect(w.constantTypes).toEqual(['FLOAT16']);
      expect(w.io).toEqual(['FLOAT32', 'FLOAT32']);
      expect(w.ops).not.toContain('CAST');
      const [y] = await oracle.run(tfl, [nhwc(x).toFloat32()]);
      expect(relError(Tensor.float32(y!.shape, y!.data as Float32Array), want)).toBeLessThanOrEqual(1e-2);
      // nnport compare runs the float16 model too (each op in float32, rounded to float16 as onnxruntime
      // does); with float16 I/O the .tflite gets the same input as float32
      const feed = io === 'float16' ? half(x) : x;
      expect((await compare(model, await loadModel(tfl, { fileName: `${name}.tflite` }), { x: feed })).outputs[0]!.maxRel).toBeLessThanOrEqual(1e-2);
      // the same model written float32 is bigger by the weights' other half
      const f32 = await convert(await loadModel(new Uint8Array(readFileSync(join(DIR, 'cnn_float32.onnx'))), { fileName: 'cnn.onnx' }), 'cnn.tflite');
      expect(weightsOf(f32.bytes, 'cnn-f32').constantTypes).toEqual(['FLOAT32']);
      expect(tfl.length).toBeLessThan(f32.bytes.length);
    });
  }

  it('a float16 MLP (no layout pass): FULLY_CONNECTED with float16 weights and biases, the bias Add folded, within 1e-2 of onnxruntime', async () => {
    let k = 0;
    const h = (shape: number[]) => new Tensor('float16', shape, Uint16Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => float32ToFloat16Bits(0.5 * Math.sin(++k * 1.7))));
    const node = (opType: string, inputs: string[], out: string, attrs: Node['attrs'] = {}): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs });
    const mlp: Graph = {
      name: 'mlp',
      inputs: [{ name: 'x', dtype: 'float16', shape: [1, 16] }],
      outputs: [{ name: 'y', dtype: 'float16', shape: [1, 4] }],
      initializers: new Map([['w1', h([32, 16])], ['b1', h([32])], ['w2', h([32, 4])], ['b2', h([4])]]),
      opsets: { '': 17 },
      nodes: [node('Gemm', ['x', 'w1', 'b1'], 'g', { transB: { type: 'int', value: 1 } }), node('Relu', ['g'], 'r'), node('MatMul', ['r', 'w2'], 'm'), node('Add', ['m', 'b2'], 'y')],
    };
    const bytes = writeOnnx(mlp);
    const v = randomInput([1, 16], 9);
    const want = await ortOutput(bytes, half(v));
    const { bytes: tfl } = await convert(await loadModel(bytes, { fileName: 'mlp.onnx' }), 'mlp.tflite');
    const w = weightsOf(tfl, 'mlp');
    expect(w.ops.filter((o) => o !== 'DEQUANTIZE')).toEqual(['FULLY_CONNECTED', 'FULLY_CONNECTED']);
    expect(w.weights).toEqual(Array(4).fill('DEQUANTIZE(FLOAT16)'));
    expect(w.io).toEqual(['FLOAT32', 'FLOAT32']);
    const [y] = await oracle.run(tfl, [v.toFloat32()]);
    expect(relError(Tensor.float32(y!.shape, y!.data as Float32Array), want)).toBeLessThanOrEqual(1e-2);
  });

  it('--quantize dynamic on a float16 model starts from its float32 values (no float16 left), and runs', async () => {
    const bytes = new Uint8Array(readFileSync(join(DIR, 'cnn_half.onnx')));
    const want = await ortOutput(bytes, half(x));
    const model = await loadModel(bytes, { fileName: 'cnn_half.onnx' });
    const { bytes: tfl, notes } = await convert(model, 'dyn.tflite', { quantize: { mode: 'dynamic', minElements: 1 } });
    expect(notes[0]).toBe("float16 model: computes in float32 in tflite; float16 inputs/outputs 'x', 'y' are float32 (feed float32)");
    const w = weightsOf(tfl, 'dyn');
    expect(w.constantTypes).not.toContain('FLOAT16');
    expect(w.weights).toContain('INT8');
    const [y] = await oracle.run(tfl, [nhwc(x).toFloat32()]);
    expect(relError(Tensor.float32(y!.shape, y!.data as Float32Array), want)).toBeLessThanOrEqual(5e-2);
  });

  it('the other NHWC writers: float32 .h5 and model.json (TF.js) and .pb (OpenCV) within 1e-2 of onnxruntime', async () => {
    const bytes = new Uint8Array(readFileSync(join(DIR, 'cnn_half.onnx')));
    const want = await ortOutput(bytes, half(x));
    const model = await loadModel(bytes, { fileName: 'cnn_half.onnx' });
    const xs = [nhwc(x)];
    const h5 = await convert(model, 'cnn.h5');
    expect(h5.notes.slice(0, 2)).toEqual([
      "float16 model: computes in float32 in keras-h5; float16 inputs/outputs 'x', 'y' are float32 (feed float32)",
      '21 float16 weights written as float32 (nnport writes keras-h5 weights as float32)',
    ]);
    expect(relError(predict(await tfjsModelFromH5(h5.bytes), xs)[0]!, want)).toBeLessThanOrEqual(1e-2);
    const js = await convert(model, 'cnn/model.json');
    expect(relError(predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), xs)[0]!, want)).toBeLessThanOrEqual(1e-2);
    const pb = await convert(model, 'cnn.pb');
    expect(relError(pythonRun('opencv', 'float16-cnn-half', pb.bytes, xs[0]!, ['y']).get('y')!, want)).toBeLessThanOrEqual(1e-2);
    // ONNX keeps the float16 model as it is
    const onnx = await convert(model, 'cnn.onnx');
    expect(onnx.notes).toEqual([]);
    expect(relError(await ortOutput(onnx.bytes, half(x)), want)).toBe(0);
  });

  it('mobilenet_v2 (keep_io_types): every weight float16, the file half the float32 ONNX, within 2e-2 of onnxruntime (float16 compute) and 1.5e-2 of PyTorch', { timeout: 120_000 }, async () => {
    const path = join(DIR, 'mobilenet_v2_keepio.onnx');
    const bytes = new Uint8Array(readFileSync(path));
    const input = npyTensor(join(torchvisionDir('mobilenet_v2'), 'input.npy'));
    const want = await ortOutput(bytes, input, 'input');
    const { bytes: tfl } = await convert(await loadModel(bytes, { fileName: 'mobilenet_v2.onnx' }), 'mobilenet_v2.tflite');
    const w = weightsOf(tfl, 'mobilenet_v2');
    expect(w.weights).toHaveLength(2 * 53);
    expect(w.weights.filter((t) => t !== 'DEQUANTIZE(FLOAT16)')).toEqual([]);
    expect(w.constantTypes).toEqual(['FLOAT16']);
    // the float32 export holds the same weights (and its BatchNorms' four vectors) in float32
    const ratio = tfl.length / statSync(join(torchvisionDir('mobilenet_v2'), 'model.onnx')).size;
    expect(ratio).toBeGreaterThan(0.45);
    expect(ratio).toBeLessThan(0.52);
    // this model (random weights, BatchNorms with random statistics) is sensitive to float16: onnxruntime's
    // float16 run is 1.8e-2 from PyTorch's float32 output, and 1.5e-2 from the same float16 weights run in
    // float32. The file computes in float32 (its BatchNorm folded into float16 weights, rounded once more)
    const [y] = await oracle.run(tfl, [nhwc(input).toFloat32()]);
    const theirs = Tensor.float32(y!.shape, y!.data as Float32Array);
    expect(relError(theirs, want)).toBeLessThanOrEqual(2e-2);
    expect(relError(theirs, npyTensor(join(torchvisionDir('mobilenet_v2'), 'output.npy')))).toBeLessThanOrEqual(1.5e-2);
  });
});
