// TFLite float UNIDIRECTIONAL_SEQUENCE_LSTMs built here with random weights, for the features the
// corpus file lacks (CIFG, peepholes, projection with proj_clip, layer norm, time_major, batch > 1),
// run by the real interpreter (a fresh one per run: its state starts at zero) against nnport and
// against the file converted to ONNX in onnxruntime-node.
import { Builder } from 'flatbuffers';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Buffer as FbBuffer } from '../../../src/formats/generated/tflite/buffer.js';
import { Operator } from '../../../src/formats/generated/tflite/operator.js';
import { Tensor as FbTensor } from '../../../src/formats/generated/tflite/tensor.js';
import { TensorType } from '../../../src/formats/generated/tflite/tensor-type.js';
import { UnidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/unidirectional-sequence-lstmoptions.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { finishModel } from './tiny-model.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

const oracle = useTfliteOracle();

interface LstmSpec {
  name: string;
  T: number;
  B: number;
  I: number;
  N: number;
  /** outputs: a projection when it differs from N (or when `projection` is set) */
  O?: number;
  projection?: boolean;
  projectionBias?: boolean;
  cifg?: boolean;
  peepholes?: boolean;
  layerNorm?: boolean;
  timeMajor?: boolean;
  cellClip?: number;
  projClip?: number;
  act?: ActivationFunctionType;
  /** expect one ONNX LSTM (true) or the unrolled steps (false) */
  lstm: boolean;
}

/** A .tflite holding one UNIDIRECTIONAL_SEQUENCE_LSTM with random weights and zero-state variable tensors. */
function buildLstm(s: LstmSpec, seed: number): Uint8Array {
  const r = rng(seed);
  const O = s.O ?? s.N;
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const tensors: { name: string; shape: number[]; data?: Float32Array; variable?: boolean }[] = [];
  const add = (name: string, shape: number[], data?: Float32Array, variable = false): number => tensors.push({ name, shape, data, variable }) - 1;
  const x = add('x', s.timeMajor ? [s.T, s.B, s.I] : [s.B, s.T, s.I]);
  const w = (name: string, rows: number, cols: number) => add(name, [rows, cols], rand(rows * cols, 0.6));
  const v = (name: string, n: number, scale = 0.5) => add(name, [n], rand(n, scale));
  const inputs = new Array<number>(24).fill(-1);
  inputs[0] = x;
  if (!s.cifg) inputs[1] = w('input_to_input', s.N, s.I);
  inputs[2] = w('input_to_forget', s.N, s.I);
  inputs[3] = w('input_to_cell', s.N, s.I);
  inputs[4] = w('input_to_output', s.N, s.I);
  if (!s.cifg) inputs[5] = w('recurrent_to_input', s.N, O);
  inputs[6] = w('recurrent_to_forget', s.N, O);
  inputs[7] = w('recurrent_to_cell', s.N, O);
  inputs[8] = w('recurrent_to_output', s.N, O);
  if (s.peepholes) {
    if (!s.cifg) inputs[9] = v('cell_to_input', s.N);
    inputs[10] = v('cell_to_forget', s.N);
    inputs[11] = v('cell_to_output', s.N);
  }
  if (!s.cifg) inputs[12] = v('input_gate_bias', s.N);
  inputs[13] = v('forget_gate_bias', s.N);
  inputs[14] = v('cell_gate_bias', s.N);
  inputs[15] = v('output_gate_bias', s.N);
  if (s.projection) {
    inputs[16] = w('projection_weights', O, s.N);
    if (s.projectionBias) inputs[17] = v('projection_bias', O);
  }
  inputs[18] = add('output_state', [s.B, O], undefined, true);
  inputs[19] = add('cell_state', [s.B, s.N], undefined, true);
  if (s.layerNorm) {
    if (!s.cifg) inputs[20] = add('input_layer_norm', [s.N], Float32Array.from({ length: s.N }, () => 0.5 + r()));
    for (const [i, g] of [[21, 'forget'], [22, 'cell'], [23, 'output']] as const) inputs[i] = add(`${g}_layer_norm`, [s.N], Float32Array.from({ length: s.N }, () => 0.5 + r()));
  }
  const y = add('y', s.timeMajor ? [s.T, s.B, O] : [s.B, s.T, O]);

  const b = new Builder(4096);
  let next = 1;
  const bufferOf = tensors.map((t) => (t.data ? next++ : 0));
  const bufferOffsets = [
    (FbBuffer.startBuffer(b), FbBuffer.endBuffer(b)),
    ...tensors
      .filter((t) => t.data)
      .map((t) => {
        b.startVector(1, t.data!.byteLength, 16);
        const bytes = new Uint8Array(t.data!.buffer);
        for (let k = bytes.length - 1; k >= 0; k--) b.addInt8(bytes[k]!);
        const data = b.endVector();
        FbBuffer.startBuffer(b);
        FbBuffer.addData(b, data);
        return FbBuffer.endBuffer(b);
      }),
  ];
  const tensorOffsets = tensors.map((t, i) => {
    const name = b.createString(t.name);
    const shape = FbTensor.createShapeVector(b, t.shape);
    FbTensor.startTensor(b);
    FbTensor.addName(b, name);
    FbTensor.addShape(b, shape);
    FbTensor.addType(b, TensorType.FLOAT32);
    FbTensor.addBuffer(b, bufferOf[i]!);
    if (t.variable) FbTensor.addIsVariable(b, true);
    return FbTensor.endTensor(b);
  });
  UnidirectionalSequenceLSTMOptions.startUnidirectionalSequenceLSTMOptions(b);
  UnidirectionalSequenceLSTMOptions.addFusedActivationFunction(b, s.act ?? ActivationFunctionType.TANH);
  UnidirectionalSequenceLSTMOptions.addCellClip(b, s.cellClip ?? 0);
  UnidirectionalSequenceLSTMOptions.addProjClip(b, s.projClip ?? 0);
  UnidirectionalSequenceLSTMOptions.addTimeMajor(b, !!s.timeMajor);
  const opts = UnidirectionalSequenceLSTMOptions.endUnidirectionalSequenceLSTMOptions(b);
  const ins = Operator.createInputsVector(b, inputs);
  const outs = Operator.createOutputsVector(b, [y]);
  Operator.startOperator(b);
  Operator.addOpcodeIndex(b, 0);
  Operator.addInputs(b, ins);
  Operator.addOutputs(b, outs);
  Operator.addBuiltinOptionsType(b, BuiltinOptions.UnidirectionalSequenceLSTMOptions);
  Operator.addBuiltinOptions(b, opts);
  const op = Operator.endOperator(b);
  return finishModel(b, { tensors: tensorOffsets, inputs: [x], outputs: [y], operators: [op], opcodes: [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM], buffers: bufferOffsets });
}

const CASES: LstmSpec[] = [
  { name: 'CIFG with peepholes, batch 3', T: 5, B: 3, I: 4, N: 6, cifg: true, peepholes: true, lstm: true },
  { name: 'time_major, peepholes, relu, batch 2', T: 4, B: 2, I: 3, N: 5, peepholes: true, timeMajor: true, act: ActivationFunctionType.RELU, lstm: true },
  { name: 'projection with bias, proj_clip and cell_clip', T: 6, B: 2, I: 3, N: 5, O: 3, projection: true, projectionBias: true, cellClip: 0.8, projClip: 0.3, lstm: false },
  { name: 'layer norm with peepholes', T: 4, B: 2, I: 3, N: 4, layerNorm: true, peepholes: true, lstm: false },
  { name: 'layer norm, CIFG, projection without bias, time_major', T: 3, B: 2, I: 4, N: 5, O: 4, layerNorm: true, cifg: true, projection: true, timeMajor: true, lstm: false },
];

describe('TFLite float UNIDIRECTIONAL_SEQUENCE_LSTM features against the interpreter', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const file = buildLstm(c, 500 + i);
    const g = await readTflite(file, { fileName: `${i}.tflite` });
    expect(g.nodes.some((n) => n.opType === 'LSTM')).toBe(c.lstm);
    const { bytes } = await convert(await loadModel(file, { fileName: `${i}.tflite` }), `${i}.onnx`);
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    try {
      const r = rng(900 + i);
      for (let k = 0; k < 2; k++) {
        const shape = c.timeMajor ? [c.T, c.B, c.I] : [c.B, c.T, c.I];
        const x = Float32Array.from({ length: c.T * c.B * c.I }, () => (r() * 2 - 1) * 2);
        const [theirs] = await oracle.run(file, [x]);
        const want = theirs!.data as Float32Array;
        const { outputs } = await runGraph(g, new Map([[g.inputs[0]!.name, Tensor.float32(shape, x)]]));
        const mine = outputs.get(g.outputs[0]!.name)!;
        expect(mine.shape).toEqual(theirs!.shape);
        expect(maxAbsDiff(mine.toFloat32(), want), 'nnport').toBeLessThan(1e-5);
        const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
        expect(maxAbsDiff(res[session.outputNames[0]!]!.data as Float32Array, want), 'onnxruntime').toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });
});
