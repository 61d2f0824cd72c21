// 1-D convs and pools in TFLite and GraphDef files, written as TF writes a Conv1D: the 2-D op over
// a unit height between EXPAND_DIMS (here RESHAPE) and SQUEEZE (src/passes/conv1d-as-2d.ts). Each
// file is run by an independent runtime and compared with the source's own framework: the corpus
// Keras 1-D models (TF.js on the corpus file) as .tflite in the real TFLite interpreter and as .pb
// in the NumPy GraphDef interpreter; PyTorch Conv1d / MaxPool1d / AvgPool1d nets (strided, padded,
// dilated, depthwise; scripts/fixtures/conv1d_models.py) against PyTorch's outputs, as float,
// float16, dynamic-range and int8 .tflite (int8: SNR against PyTorch, nnport's integer runtime
// within 1 LSB of the interpreter, every RESHAPE / SQUEEZE on its input's grid) and as .pb.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readKerasV3 } from '../../../src/formats/keras/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readOnnx } from '../../../src/formats/onnx/index.js';
import { writeGraphDef } from '../../../src/formats/tensorflow/write.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { convert } from '../../../src/index.js';
import { emptyGraph, type Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ZipReader } from '../../../src/io/zip.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { conv1dAs2d } from '../../../src/passes/conv1d-as-2d.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, opNamesOf, useTfliteOracle, type FlatcOps } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tfjsModelFromKeras3 } from '../../formats/keras/tfjs-oracle.js';
import { pythonRun } from '../../formats/tensorflow/python-runs.js';

const oracle = useTfliteOracle();
const CACHE = join(REPO_ROOT, '.fixtures-cache/conv1d');
const NETS = ['conv1d_net', 'conv1d_strided_dilated'];

beforeAll(() => ensureScriptFixtures('conv1d_models.py', 'conv1d', NETS), 300_000);

/** (N, C, W) <-> (N, W, C) */
function swapLast(t: Tensor): Tensor {
  const [n, a, b] = t.shape as [number, number, number];
  const src = t.toFloat32();
  const dst = new Float32Array(src.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < a; j++) for (let k = 0; k < b; k++) dst[i * a * b + k * a + j] = src[i * a * b + j * b + k]!;
  return new Tensor('float32', [n, b, a], dst);
}

interface Net {
  graph: () => Promise<Graph>;
  x: Tensor;
  y: Tensor;
  calib: Tensor[];
}

function net(name: string): Net {
  const dir = join(CACHE, name);
  const calib = readNpy(new Uint8Array(readFileSync(join(dir, 'calib.npy'))));
  const [count, ...shape] = calib.shape as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const all = calib.toFloat32();
  return {
    graph: () => readOnnx(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` }),
    x: readNpy(new Uint8Array(readFileSync(join(dir, 'input.npy')))),
    y: readNpy(new Uint8Array(readFileSync(join(dir, 'output.npy')))),
    calib: Array.from({ length: count! }, (_, i) => new Tensor('float32', shape, all.slice(i * size, (i + 1) * size))),
  };
}

type Json = FlatcOps<{ inputs: number[]; outputs: number[] }, { tensors: { shape?: number[]; quantization?: unknown }[] }>;
const opsOf = opNamesOf;

/** The interpreter's output for a channels-last file, given PyTorch's NCW input; back in PyTorch's layout when rank 3. */
async function interpreter(bytes: Uint8Array, x: Tensor, outRank: number): Promise<Tensor> {
  const [y] = await oracle.run(bytes, [swapLast(x).toFloat32()]);
  const t = new Tensor('float32', y!.shape, Float32Array.from(y!.data as ArrayLike<number>));
  return outRank === 3 ? swapLast(t) : t;
}

describe('conv1dAs2d: 1-D convs and pools as the 2-D ops over a unit height', () => {
  it('a channels-last Conv1D (HWIO, strides, dilations, pads) becomes Unsqueeze -> 2-D Conv -> Squeeze; a Relu after it moves inside', () => {
    const g = emptyGraph();
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 20, 3] });
    g.initializers.set('w', Tensor.float32([3, 3, 4], new Float32Array(36).fill(0.5)));
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: 'nnport', inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: { type: 'ints', value: [3] }, strides: { type: 'ints', value: [2] }, dilations: { type: 'ints', value: [2] }, pads: { type: 'ints', value: [1, 2] } } });
    g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    const { graph, rewritten } = conv1dAs2d(g);
    expect(rewritten).toEqual(['conv']);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Unsqueeze', 'Conv', 'Relu', 'Squeeze']);
    const conv = graph.nodes[1]!;
    expect(conv.attrs).toMatchObject({ kernel_shape: { value: [1, 3] }, strides: { value: [1, 2] }, dilations: { value: [1, 2] }, pads: { value: [0, 1, 0, 2] } });
    expect(graph.initializers.get(conv.inputs[1]!)!.shape).toEqual([1, 3, 3, 4]);
    expect(graph.nodes[3]!.outputs).toEqual(['y']);
  });
});

describe('conv1dAs2d: what does not move across the Squeeze', () => {
  it('an op reading the conv output other than as its data input, or with another 3-D input, stays after the Squeeze', () => {
    const g = emptyGraph();
    g.opsets[''] = 13;
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 8, 2] }, { name: 'z', dtype: 'float32', shape: [1, 8, 2] });
    g.initializers.set('w', Tensor.float32([1, 2, 2], Float32Array.of(1, 0, 0, 1)));
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: 'nnport', inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: { type: 'ints', value: [1] } } });
    // Max(z, c): z is no Squeeze's output; Clip(z, '', c): c is a bound there, not the data
    g.nodes.push({ name: 'max', opType: 'Max', domain: '', inputs: ['z', 'c'], outputs: ['m'], attrs: {} });
    g.nodes.push({ name: 'clip', opType: 'Clip', domain: '', inputs: ['z', '', 'c'], outputs: ['k'], attrs: {} });
    g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['c'], outputs: ['r'], attrs: {} });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['m', 'r'], outputs: ['a'], attrs: {} });
    g.nodes.push({ name: 'add2', opType: 'Add', domain: '', inputs: ['a', 'k'], outputs: ['y'], attrs: {} });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    const { graph } = conv1dAs2d(g);
    const reader = (name: string) => graph.nodes.find((n) => n.name === name)!;
    expect(reader('max').inputs).toEqual(['z', 'c']);
    expect(reader('clip').inputs).toEqual(['z', '', 'c']);
    // the Relu moves (it reads only the conv), the Add of it and Max's 3-D output does not
    expect(graph.nodes.find((n) => n.opType === 'Relu')!.inputs[0]).not.toBe('c');
    expect(reader('add').outputs).toEqual(['a']);
    expect(graph.nodes.filter((n) => n.opType === 'Squeeze')).toHaveLength(2);
  });
});

describe('conv1dAs2d with a quantized weight (DequantizeLinear of an int8 constant, per output channel)', () => {
  it('the int8 constant gets the unit dim and the DequantizeLinear axis moves with it; nnport runs the result as a direct 1-D conv computed here', async () => {
    const [B, W, I, O, K, D] = [2, 11, 3, 4, 3, 2];
    const r = rng(21);
    const q = Int8Array.from({ length: K * I * O }, () => Math.floor(r() * 255) - 127);
    const scales = Float32Array.from({ length: O }, () => 0.01 + r() * 0.02);
    const bias = Float32Array.from({ length: O }, () => r() - 0.5);
    const xs = Float32Array.from({ length: B * W * I }, () => r() * 2 - 1);
    const g = emptyGraph();
    g.opsets[''] = 13;
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [B, W, I] });
    g.initializers.set('wq', new Tensor('int8', [K, I, O], q));
    g.initializers.set('ws', Tensor.float32([O], scales));
    g.initializers.set('wz', new Tensor('int8', [O], new Int8Array(O)));
    g.initializers.set('b', Tensor.float32([O], bias));
    g.nodes.push({ name: 'dq', opType: 'DequantizeLinear', domain: '', inputs: ['wq', 'ws', 'wz'], outputs: ['w'], attrs: { axis: { type: 'int', value: 2 } } });
    // SAME over W (pads 2 + 2 at dilation 2)
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: 'nnport', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { kernel_shape: { type: 'ints', value: [K] }, dilations: { type: 'ints', value: [D] }, pads: { type: 'ints', value: [2, 2] } } });
    g.outputs.push({ name: 'y', dtype: 'float32' });
    const { graph } = conv1dAs2d(g);
    const dq = graph.nodes.find((n) => n.opType === 'DequantizeLinear')!;
    expect(dq.attrs.axis).toEqual({ type: 'int', value: 3 });
    expect(graph.initializers.get(dq.inputs[0]!)!.shape).toEqual([1, K, I, O]);
    const y = (await runGraph(graph, new Map([['x', Tensor.float32([B, W, I], xs)]]))).outputs.get('y')!;
    expect(y.shape).toEqual([B, W, O]);
    const want = new Float32Array(B * W * O);
    for (let b = 0; b < B; b++) for (let t = 0; t < W; t++) for (let o = 0; o < O; o++) {
      let s = bias[o]!;
      for (let k = 0; k < K; k++) {
        const src = t - 2 + k * D;
        if (src < 0 || src >= W) continue;
        for (let i = 0; i < I; i++) s += xs[(b * W + src) * I + i]! * q[(k * I + i) * O + o]! * scales[o]!;
      }
      want[(b * W + t) * O + o] = s;
    }
    expect(relErr(y.toFloat32(), want)).toBeLessThan(1e-5);
  });
});

describe('conv1dAs2d on ONNX-domain (N, C, W) ops, as read from a PyTorch export', () => {
  it('every Conv / MaxPool / AveragePool of conv1d_net becomes its 2-D form; nnport runs the result within 1e-5 of PyTorch', async () => {
    const n = net('conv1d_net');
    const { graph, rewritten } = conv1dAs2d(await n.graph());
    const spatial = graph.nodes.filter((m) => ['Conv', 'MaxPool', 'AveragePool'].includes(m.opType));
    expect(rewritten).toHaveLength(spatial.length);
    expect(spatial.length).toBe(7);
    for (const m of spatial) expect(m.attrs.kernel_shape).toMatchObject({ value: [1, expect.any(Number)] });
    const { outputs } = await runGraph(graph, new Map([['x', n.x]]));
    expect(relErr(outputs.get('y')!.toFloat32(), n.y.toFloat32())).toBeLessThan(1e-5);
  });
});

describe('corpus Keras 1-D models as .tflite and .pb, against TensorFlow.js on the corpus file', () => {
  const keras3 = async (file: string) => {
    const bytes = new Uint8Array(readFileSync(corpusPath(file)));
    const z = ZipReader.open(bytes);
    const tfjs = await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'));
    return { model: await readKerasV3(bytes, { fileName: file }), tfjs };
  };

  it('resnet1d (Conv1D k7 stride 2 same, MaxPooling1D same, residual Adds): .tflite in the interpreter and .pb in NumPy within 1e-5', async () => {
    const { model, tfjs } = await keras3('keras-v3/resnet1d-add-bn-k37/resnet_model.keras');
    const x = randomInput([1, 20, 1], 7);
    const ref = predict(tfjs, [x])[0]!;
    const tflite = (await convert(model, 'model.tflite')).bytes;
    const ops = opsOf(flatcJson<Json>(tflite, 'resnet1d'));
    expect(ops.filter((o) => o === 'CONV_2D')).toHaveLength(7);
    expect(ops).toContain('MAX_POOL_2D');
    // the whole 1-D chain stays 4-D: one reshape in, one squeeze out
    expect(ops.filter((o) => o === 'RESHAPE' || o === 'SQUEEZE')).toHaveLength(2);
    const [y] = await oracle.run(tflite, [x.toFloat32()]);
    const err = relError(Tensor.float32(ref.shape, y!.data as Float32Array), ref);
    console.log(`resnet1d .tflite vs TF.js: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);

    const x2 = randomInput([2, 20, 1], 8);
    const ref2 = predict(tfjs, [x2])[0]!;
    const pb = (await convert(model, 'model.pb')).bytes;
    const out = model.graph.outputs[0]!.name;
    const got = pythonRun('numpy', 'conv1d-resnet1d', pb, x2, [out]).get(out)!;
    expect(relError(Tensor.float32(ref2.shape, got.toFloat32()), ref2)).toBeLessThan(1e-5);
  });

  it('ecg (Conv1D same without bias, MaxPooling1D, GlobalMaxPooling1D as REDUCE_MAX / TF Max, BN after a Dense as MUL + ADD): .tflite in the interpreter, .pb in NumPy, within 1e-5', async () => {
    const { model, tfjs } = await keras3('keras-v3/ecg-conv1d-bn-tfkeras215/cnn_model.keras');
    const x1 = randomInput([1, 2160, 1], 10);
    const ref1 = predict(tfjs, [x1])[0]!;
    const tflite = (await convert(model, 'model.tflite')).bytes;
    const ops = opsOf(flatcJson<Json>(tflite, 'ecg'));
    expect(ops.filter((o) => o === 'CONV_2D')).toHaveLength(3);
    expect(ops.filter((o) => o === 'MAX_POOL_2D')).toHaveLength(3);
    const [y1] = await oracle.run(tflite, [x1.toFloat32()]);
    const err1 = relError(Tensor.float32(ref1.shape, y1!.data as Float32Array), ref1);
    console.log(`ecg .tflite vs TF.js: ${err1.toExponential(2)}`);
    expect(err1).toBeLessThan(1e-5);

    const x = randomInput([2, 2160, 1], 9);
    const ref = predict(tfjs, [x])[0]!;
    const pb = (await convert(model, 'model.pb')).bytes;
    const out = model.graph.outputs[0]!.name;
    const got = pythonRun('numpy', 'conv1d-ecg', pb, x, [out]).get(out)!;
    const err = relError(Tensor.float32(ref.shape, got.toFloat32()), ref);
    console.log(`ecg .pb (NumPy) vs TF.js: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });
});

describe('PyTorch Conv1d / MaxPool1d / AvgPool1d exported to ONNX, against PyTorch', () => {
  it('conv1d_net as float .tflite: CONV_2D and DEPTHWISE_CONV_2D, the interpreter within 1e-5 of PyTorch', async () => {
    const n = net('conv1d_net');
    const bytes = await writeTflite(await n.graph(), { fileName: 'conv1d_net.tflite' });
    const ops = opsOf(flatcJson<Json>(bytes, 'conv1d_net'));
    expect(ops.filter((o) => o === 'DEPTHWISE_CONV_2D')).toHaveLength(2);
    expect(ops.filter((o) => o === 'CONV_2D')).toHaveLength(2);
    expect(ops).toEqual(expect.arrayContaining(['MAX_POOL_2D', 'AVERAGE_POOL_2D', 'SQUEEZE']));
    const y = await interpreter(bytes, n.x, 2);
    const err = relErr(y.toFloat32(), n.y.toFloat32());
    console.log(`conv1d_net float .tflite vs PyTorch: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('conv1d_net as float16 and dynamic-range .tflite: the interpreter close to PyTorch', async () => {
    const n = net('conv1d_net');
    for (const [mode, minSnr] of [['float16', 50], ['dynamic', 30]] as const) {
      // dynamic: every weight int8 (minElements 1; TF's 1024 would leave these small ones float), hybrid kernels
      const bytes = await writeTflite(await n.graph(), { fileName: `conv1d_net-${mode}.tflite`, quantize: { mode, minElements: 1 } });
      if (mode === 'dynamic') {
        const json = flatcJson<Json & { subgraphs: { tensors: { type?: string }[] }[] }>(bytes, 'conv1d_net-dynamic');
        const sg = json.subgraphs[0]!;
        const convs = sg.operators.filter((_, i) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(opsOf(json)[i]!));
        expect(convs.map((o) => sg.tensors[o.inputs[1]!]!.type)).toEqual(['INT8', 'INT8', 'INT8', 'INT8']);
      }
      const y = await interpreter(bytes, n.x, 2);
      const snr = pooledSnrDb([n.y.toFloat32()], [y.toFloat32()]);
      console.log(`conv1d_net ${mode} .tflite vs PyTorch: ${snr.toFixed(1)} dB`);
      expect(snr, mode).toBeGreaterThan(minSnr);
    }
  });

  it('conv1d_net as int8 .tflite (calibrated): SNR against PyTorch, the integer runtime within 1 LSB of the interpreter, the reshapes on their input\'s grid', async () => {
    const n = net('conv1d_net');
    const bytes = await writeTflite(await n.graph(), { fileName: 'conv1d_net-int8.tflite', quantize: { mode: 'int8', calibration: n.calib.map((t) => [swapLast(t)]) } });
    const json = flatcJson<Json>(bytes, 'conv1d_net-int8');
    const sg = json.subgraphs[0]!;
    const ops = opsOf(json);
    expect(ops.filter((o) => o === 'DEPTHWISE_CONV_2D' || o === 'CONV_2D')).toHaveLength(4);
    for (const [i, op] of sg.operators.entries()) {
      if (ops[i] !== 'RESHAPE' && ops[i] !== 'SQUEEZE') continue;
      const q = (t: number) => JSON.stringify(sg.tensors[t]!.quantization);
      expect(q(op.outputs[0]!), ops[i]).toBe(q(op.inputs[0]!));
    }
    const x = swapLast(n.x);
    const y = await interpreter(bytes, n.x, 2);
    const snr = pooledSnrDb([n.y.toFloat32()], [y.toFloat32()]);
    const lsb = await integerRuntimeLsbOff(bytes, x, y.toFloat32());
    console.log(`conv1d_net int8 .tflite vs PyTorch: ${snr.toFixed(1)} dB; nnport integer runtime vs interpreter: ${lsb} LSB`);
    expect(snr).toBeGreaterThan(25);
    expect(lsb).toBeLessThanOrEqual(1.0001);
  });

  it('conv1d_net as int16x8 .tflite (16-bit activations, the reshapes among TFLite\'s 16x8 ops): SNR against PyTorch', async () => {
    const n = net('conv1d_net');
    const bytes = await writeTflite(await n.graph(), { fileName: 'conv1d_net-16x8.tflite', quantize: { mode: 'int16x8', calibration: n.calib.map((t) => [swapLast(t)]) } });
    const y = await interpreter(bytes, n.x, 2);
    const snr = pooledSnrDb([n.y.toFloat32()], [y.toFloat32()]);
    console.log(`conv1d_net int16x8 .tflite vs PyTorch: ${snr.toFixed(1)} dB`);
    // (the int8 weights bound it: dynamic-range, with the same weights and float activations, gives 39 dB)
    expect(snr).toBeGreaterThan(37);
  });

  it('conv1d_net as .pb: NumPy within 1e-5 of PyTorch', async () => {
    const n = net('conv1d_net');
    const pb = await writeGraphDef(await n.graph(), { fileName: 'conv1d_net.pb' });
    const y = pythonRun('numpy', 'conv1d-net', pb, swapLast(n.x), ['y']).get('y')!;
    const err = relErr(y.toFloat32(), n.y.toFloat32());
    console.log(`conv1d_net .pb (NumPy) vs PyTorch: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('a conv both strided and dilated: .tflite in the interpreter and .pb in NumPy (a stride-1 dilated conv, then every second column) within 1e-5 of PyTorch', async () => {
    const n = net('conv1d_strided_dilated');
    const bytes = await writeTflite(await n.graph(), { fileName: 'strided-dilated.tflite' });
    const y = await interpreter(bytes, n.x, 3);
    expect(y.shape).toEqual(n.y.shape);
    expect(relErr(y.toFloat32(), n.y.toFloat32())).toBeLessThan(1e-5);
    const pb = await writeGraphDef(await n.graph(), { fileName: 'strided-dilated.pb' });
    const fromPb = swapLast(pythonRun('numpy', 'conv1d-strided-dilated', pb, swapLast(n.x), ['y']).get('y')!);
    expect(fromPb.shape).toEqual(n.y.shape);
    expect(relErr(fromPb.toFloat32(), n.y.toFloat32())).toBeLessThan(1e-5);
  });
});

describe('GraphDef writer: ReduceMax / ReduceMin as Max / Min, ArgMax / ArgMin with output_type int64', () => {
  it('run by NumPy, equal to the reductions computed here', async () => {
    const [B, T, C] = [2, 5, 3];
    const r = rng(5);
    const xs = Float32Array.from({ length: B * T * C }, () => r() * 4 - 2);
    const g = emptyGraph();
    g.opsets[''] = 13;
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [B, T, C] });
    const attrs = (o: Record<string, number | number[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? { type: 'ints' as const, value: v } : { type: 'int' as const, value: v }]));
    g.nodes.push({ name: 'rmax', opType: 'ReduceMax', domain: '', inputs: ['x'], outputs: ['max'], attrs: attrs({ axes: [1], keepdims: 0 }) });
    g.nodes.push({ name: 'rmin', opType: 'ReduceMin', domain: '', inputs: ['x'], outputs: ['min'], attrs: attrs({ axes: [-1], keepdims: 1 }) });
    g.nodes.push({ name: 'amax', opType: 'ArgMax', domain: '', inputs: ['x'], outputs: ['argmax'], attrs: attrs({ axis: -1, keepdims: 1 }) });
    g.nodes.push({ name: 'amin', opType: 'ArgMin', domain: '', inputs: ['x'], outputs: ['argmin'], attrs: attrs({ axis: 1, keepdims: 0 }) });
    g.outputs.push({ name: 'max', dtype: 'float32' }, { name: 'min', dtype: 'float32' }, { name: 'argmax', dtype: 'int64' }, { name: 'argmin', dtype: 'int64' });
    const pb = await writeGraphDef(g, { fileName: 'reduce.pb' });
    const got = pythonRun('numpy', 'conv1d-reduce', pb, Tensor.float32([B, T, C], xs), ['max', 'min', 'argmax', 'argmin']);
    const at = (b: number, t: number, c: number) => xs[(b * T + t) * C + c]!;
    const want = { max: [] as number[], min: [] as number[], argmax: [] as number[], argmin: [] as number[] };
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) want.max.push(Math.max(...Array.from({ length: T }, (_, t) => at(b, t, c))));
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const row = Array.from({ length: C }, (_, c) => at(b, t, c));
      want.min.push(Math.min(...row));
      want.argmax.push(row.indexOf(Math.max(...row)));
    }
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
      const col = Array.from({ length: T }, (_, t) => at(b, t, c));
      want.argmin.push(col.indexOf(Math.min(...col)));
    }
    expect(got.get('max')!.shape).toEqual([B, C]);
    expect(got.get('min')!.shape).toEqual([B, T, 1]);
    expect(got.get('argmax')!.shape).toEqual([B, T, 1]);
    expect(got.get('argmin')!.shape).toEqual([B, C]);
    // (the runner saves every output as float32: the index type is read from the file)
    const argNodes = tensorflow.GraphDef.decode(pb).node.filter((n) => n.op === 'ArgMax' || n.op === 'ArgMin');
    expect(argNodes.map((n) => n.attr!.output_type!.type)).toEqual([tensorflow.DataType.DT_INT64, tensorflow.DataType.DT_INT64]);
    for (const k of ['max', 'min', 'argmax', 'argmin'] as const) expect(got.get(k)!.toNumbers(), k).toEqual(want[k].map((v) => Math.fround(v)));
  });
});
