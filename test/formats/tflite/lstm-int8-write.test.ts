// Float ONNX LSTMs (PyTorch exports: scripts/fixtures/recurrent_onnx.py) quantized to int8 by
// nnport (--quantize int8, calibrated on random inputs) into TFLite's integer
// UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input / output, int16 cell state): the file checked by flatc,
// run by the real TFLite interpreter (a fresh one per run: it keeps the LSTM state), nnport's
// integer runtime on the written file against the interpreter (within 1 LSB), and the
// interpreter's output against PyTorch's float output (SNR) on the fixture's held-out input.
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph, Node, ValueInfo } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, useTfliteOracle } from '../../support/tflite-test.js';
import { exportMissingRecurrentFixtures, recurrentFixture } from './recurrent-fixtures.js';

const oracle = useTfliteOracle();

beforeAll(exportMissingRecurrentFixtures, 120_000);

interface FlatcModel {
  operator_codes: { builtin_code?: string; deprecated_builtin_code?: number }[];
  subgraphs: { tensors: { name: string; type?: string; is_variable?: boolean; quantization?: { scale?: number[]; zero_point?: number[] } }[]; operators: { opcode_index?: number; inputs: number[]; intermediates?: number[] }[] }[];
}

/** The graph with only `outputs`, and the nodes they need. */
function withOutputs(g: Graph, outputs: ValueInfo[]): Graph {
  const needed = new Set(outputs.map((o) => o.name));
  const nodes: Node[] = [];
  for (const n of [...g.nodes].reverse()) {
    if (!n.outputs.some((o) => needed.has(o))) continue;
    nodes.unshift(n);
    for (const i of n.inputs) if (i) needed.add(i);
  }
  return { ...g, nodes, outputs };
}

/** Standard-normal samples (Box-Muller on the shared generator) of a shape. */
export function normalSamples(shape: number[], count: number, seed: number): Tensor[] {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => Tensor.float32(shape, Float32Array.from({ length: size }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))));
}

describe('ONNX LSTM -> TFLite integer LSTM (--quantize int8)', () => {
  // [fixture, LSTM ops, NCHW input (the file takes NHWC)]
  const cases: [string, number, boolean][] = [
    ['lstm_conv', 1, true],
  ];
  for (const [name, lstms, nchw] of cases) {
    it(`${name}: the interpreter runs nnport's integer LSTM; nnport's integer runtime within 1 LSB; SNR vs PyTorch`, async () => {
      const f = await recurrentFixture(name);
      const input = nchw ? f.input.permute([0, 2, 3, 1]) : f.input;
      const calibration = normalSamples(input.shape as number[], 32, 11).map((t) => [t]);
      const bytes = await writeTflite(f.graph, { fileName: `${name}.tflite`, quantize: { mode: 'int8', calibration } });
      const json = flatcJson<FlatcModel>(bytes, name);
      const sg = json.subgraphs[0]!;
      const lstmOps = sg.operators.filter((op) => op.intermediates?.length === 5);
      expect(lstmOps).toHaveLength(lstms);
      for (const op of lstmOps) {
        expect(sg.tensors[op.inputs[0]!]!.type).toBe('INT8');
        expect(sg.tensors[op.inputs[19]!]!.type).toBe('INT16');
        expect(sg.tensors[op.inputs[19]!]!.is_variable).toBe(true);
      }
      const [theirs] = await oracle.run(bytes, [input.toFloat32()]);
      const got = theirs!.data as Float32Array;
      const lsb = await integerRuntimeLsbOff(bytes, input, got);
      const snr = pooledSnrDb([f.outputs[0]!], [got]);
      console.log(`${name}: interpreter vs PyTorch ${snr.toFixed(1)} dB; nnport integer runtime vs interpreter ${lsb} LSB`);
      expect(lsb).toBeLessThanOrEqual(1);
      expect(snr).toBeGreaterThan(25);
    });
  }

  // nn.LSTM(5, 7, num_layers=2, batch_first=True): its outputs are a Linear head on h_n[-1] and the
  // sequence y. PyTorch's h_n is a Concat of the layers' Y_h, which nnport's int8 Concat writes with
  // inputs on other scales than its output (requantized: the whole-model test below), so each
  // check here takes one output of the graph: y (two stacked integer LSTMs, batch-first
  // through Transposes), or the second layer's Y_h (a Slice of the int8 sequence's last step),
  // whose PyTorch value is y's last step.
  for (const output of ['y', 'Y_h'] as const) {
    it(`lstm_batch_first (2 layers), output ${output}: interpreter vs nnport's integer runtime within 1 LSB; SNR vs PyTorch`, async () => {
      const f = await recurrentFixture('lstm_batch_first');
      const lstms = f.graph.nodes.filter((n) => n.opType === 'LSTM');
      expect(lstms).toHaveLength(2);
      const [B, T, H] = [2, 6, 7];
      const y = f.outputs[1]!;
      const want = output === 'y' ? y : Float32Array.from({ length: B * H }, (_, k) => y[(Math.floor(k / H) * T + T - 1) * H + (k % H)]!);
      const name = output === 'y' ? f.graph.outputs[1]!.name : lstms[1]!.outputs[1]!;
      const graph = withOutputs(f.graph, [{ name, dtype: 'float32', shape: output === 'y' ? [B, T, H] : [1, B, H] }]);
      const calibration = normalSamples(f.input.shape as number[], 32, 12).map((t) => [t]);
      const bytes = await writeTflite(graph, { fileName: 'stacked.tflite', quantize: { mode: 'int8', calibration } });
      const json = flatcJson<FlatcModel>(bytes, 'stacked');
      expect(json.subgraphs[0]!.operators.filter((op) => op.intermediates?.length === 5)).toHaveLength(2);
      const [theirs] = await oracle.run(bytes, [f.input.toFloat32()]);
      const got = theirs!.data as Float32Array;
      const lsb = await integerRuntimeLsbOff(bytes, f.input, got);
      const snr = pooledSnrDb([want], [got]);
      console.log(`lstm_batch_first ${output}: interpreter vs PyTorch ${snr.toFixed(1)} dB; nnport integer runtime vs interpreter ${lsb} LSB`);
      expect(lsb).toBeLessThanOrEqual(1);
      expect(snr).toBeGreaterThan(25);
    });
  }

  // the whole model: h_n (a Concat of the two layers' integer states, each on its own fixed
  // parameters) is requantized into the CONCATENATION's by int8 -> int8 QUANTIZE ops
  it('lstm_batch_first (2 layers), the whole model: h_n\'s CONCATENATION reads requantized states; interpreter vs nnport\'s integer runtime within 1 LSB; SNR vs PyTorch for both outputs', async () => {
    const f = await recurrentFixture('lstm_batch_first');
    const calibration = normalSamples(f.input.shape as number[], 32, 12).map((t) => [t]);
    const bytes = await writeTflite(f.graph, { fileName: 'stacked-whole.tflite', quantize: { mode: 'int8', calibration } });
    const json = flatcJson<FlatcModel & { operator_codes: { builtin_code?: string }[] }>(bytes, 'stacked-whole');
    const sg = json.subgraphs[0]!;
    const code = (op: { opcode_index?: number }) => json.operator_codes[op.opcode_index ?? 0]!.builtin_code;
    const cat = sg.operators.find((op) => code(op) === 'CONCATENATION')!;
    const quantizeOutputs = new Set(sg.operators.filter((op) => code(op) === 'QUANTIZE' && sg.tensors[op.inputs[0]!]!.type === 'INT8').map((op) => (op as unknown as { outputs: number[] }).outputs[0]));
    expect(cat.inputs.filter((i) => quantizeOutputs.has(i)).length).toBeGreaterThan(0);
    const theirs = await oracle.run(bytes, [f.input.toFloat32()]);
    // XNNPACK's requantization: the interpreter runs the head's FULLY_CONNECTED (per-channel weights) on
    // XNNPACK, whose float32 scales put it 2 LSB from TFLite's fixed point here (0 in this mode)
    const lsb = await integerRuntimeLsbOff(bytes, f.input, theirs[0]!.data as Float32Array, { requantization: 'xnnpack' });
    const snr = f.outputs.map((want, k) => pooledSnrDb([want], [theirs[k]!.data as Float32Array]));
    console.log(`lstm_batch_first whole model: interpreter vs PyTorch ${snr.map((d) => d.toFixed(1)).join(' / ')} dB (head on h_n[-1] / y); nnport integer runtime vs interpreter ${lsb} LSB`);
    // 1 LSB, measured on the dequantized floats
    expect(lsb).toBeLessThanOrEqual(1.0001);
    for (const d of snr) expect(d).toBeGreaterThan(25);
  });

  // time-major (PyTorch's default) and ONNX's batch-major layout 1: their Linear head on every step
  // (MatMul + Add over 3-D) is not this work's, so the graph's output is the LSTM's Y itself, and
  // the reference the float model nnport writes from the same graph, in the interpreter (that
  // writer is checked against PyTorch in lstm-write.test.ts)
  for (const name of ['lstm_time_major', 'lstm_layout1']) {
    it(`${name}: the LSTM's Y, int8 vs float in the interpreter; nnport's integer runtime within 1 LSB`, async () => {
      const f = await recurrentFixture(name);
      const lstm = f.graph.nodes.find((n) => n.opType === 'LSTM')!;
      const layout1 = name === 'lstm_layout1';
      expect(lstm.attrs.layout?.type === 'int' && lstm.attrs.layout.value === 1).toBe(layout1);
      const graph = withOutputs(f.graph, [{ name: lstm.outputs[0]!, dtype: 'float32', shape: layout1 ? [2, 6, 1, 7] : [6, 1, 2, 7] }]);
      const calibration = normalSamples(f.input.shape as number[], 32, 13).map((t) => [t]);
      const bytes = await writeTflite(graph, { fileName: `${name}.tflite`, quantize: { mode: 'int8', calibration } });
      const json = flatcJson<FlatcModel>(bytes, name, { defaults: true });
      const op = json.subgraphs[0]!.operators.find((o) => o.intermediates?.length === 5);
      expect((op as { builtin_options?: { time_major?: boolean } }).builtin_options?.time_major).toBe(!layout1);
      const float = await writeTflite(graph, { fileName: `${name}-float.tflite` });
      const [want] = await oracle.run(float, [f.input.toFloat32()]);
      const [theirs] = await oracle.run(bytes, [f.input.toFloat32()]);
      const got = theirs!.data as Float32Array;
      const lsb = await integerRuntimeLsbOff(bytes, f.input, got);
      const snr = pooledSnrDb([want!.data as Float32Array], [got]);
      console.log(`${name} Y: int8 vs float in the interpreter ${snr.toFixed(1)} dB; nnport integer runtime vs interpreter ${lsb} LSB`);
      expect(lsb).toBeLessThanOrEqual(1);
      expect(snr).toBeGreaterThan(25);
    });
  }

  // nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True): two bidirectional LSTMs,
  // four integer LSTM ops (the backward ones between reversing Slices); checked on the second
  // layer's Y and on the first layer's Y_h (the forward op's last step and the backward op's, the
  // sequence's first), against nnport's float file of the same graph in the interpreter
  for (const output of ['Y', 'Y_h'] as const) {
    it(`lstm_bidi (2 bidirectional layers), ${output}: int8 vs float in the interpreter; nnport's integer runtime within 1 LSB`, async () => {
      const f = await recurrentFixture('lstm_bidi');
      const lstms = f.graph.nodes.filter((n) => n.opType === 'LSTM');
      expect(lstms.map((n) => n.attrs.direction?.type === 'string' && n.attrs.direction.value)).toEqual(['bidirectional', 'bidirectional']);
      const graph = withOutputs(f.graph, [output === 'Y' ? { name: lstms[1]!.outputs[0]!, dtype: 'float32', shape: [6, 2, 2, 6] } : { name: lstms[0]!.outputs[1]!, dtype: 'float32', shape: [2, 2, 6] }]);
      const calibration = normalSamples(f.input.shape as number[], 32, 14).map((t) => [t]);
      const bytes = await writeTflite(graph, { fileName: 'bidi.tflite', quantize: { mode: 'int8', calibration } });
      const json = flatcJson<FlatcModel>(bytes, 'bidi');
      expect(json.subgraphs[0]!.operators.filter((op) => op.intermediates?.length === 5)).toHaveLength(output === 'Y' ? 4 : 2);
      const float = await writeTflite(graph, { fileName: 'bidi-float.tflite' });
      const [want] = await oracle.run(float, [f.input.toFloat32()]);
      const [theirs] = await oracle.run(bytes, [f.input.toFloat32()]);
      const got = theirs!.data as Float32Array;
      const lsb = await integerRuntimeLsbOff(bytes, f.input, got);
      const snr = pooledSnrDb([want!.data as Float32Array], [got]);
      console.log(`lstm_bidi ${output}: int8 vs float in the interpreter ${snr.toFixed(1)} dB; nnport integer runtime vs interpreter ${lsb} LSB`);
      expect(lsb).toBeLessThanOrEqual(1);
      expect(snr).toBeGreaterThan(25);
    });
  }

  it('refuses by name what it does not cover', async () => {
    const f = await recurrentFixture('lstm_time_major');
    const clipped = { ...f.graph, nodes: f.graph.nodes.map((n) => (n.opType === 'LSTM' ? { ...n, attrs: { ...n.attrs, clip: { type: 'float' as const, value: 3 } } } : n)) };
    const err = await writeTflite(clipped, { quantize: { mode: 'int8', calibration: [[f.input]] } }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/LSTM clip under --quantize int8/);
  });
});
