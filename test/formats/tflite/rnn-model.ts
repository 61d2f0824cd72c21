// Hand-built TFLite files with one float recurrent op (BIDIRECTIONAL_SEQUENCE_LSTM, RNN,
// UNIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN, the builtin LSTM) and random weights, float
// or hybrid (int8 weights), for the lstm-bidi, rnn and hybrid-recurrent tests against the
// interpreter and the fuzzer's seeds.
import type { Builder } from 'flatbuffers';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/bidirectional-sequence-lstmoptions.js';
import { BidirectionalSequenceRNNOptions } from '../../../src/formats/generated/tflite/bidirectional-sequence-rnnoptions.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { LSTMKernelType } from '../../../src/formats/generated/tflite/lstmkernel-type.js';
import { LSTMOptions } from '../../../src/formats/generated/tflite/lstmoptions.js';
import { RNNOptions } from '../../../src/formats/generated/tflite/rnnoptions.js';
import { SequenceRNNOptions } from '../../../src/formats/generated/tflite/sequence-rnnoptions.js';
import { rng } from '../../support/rng.js';
import { buildModel, TensorType, type BuiltTensor } from './svdf-model.js';

export interface BidiDirection {
  cifg?: boolean;
  peepholes?: boolean;
  /** outputs, with a projection (N without) */
  O?: number;
  projectionBias?: boolean;
}

export interface BidiLstmSpec {
  name: string;
  T: number;
  B: number;
  I: number;
  N: number;
  fw?: BidiDirection;
  bw?: BidiDirection;
  merge: boolean;
  timeMajor: boolean;
  cellClip?: number;
  projClip?: number;
  act?: ActivationFunctionType;
  /** aux input of this size: 'cross' with aux weights, 'parallel' (the backward input) without */
  aux?: { size: number; mode: 'cross' | 'parallel' };
  /** ONNX LSTM nodes expected (0: unrolled) */
  lstms: number;
}

export function buildBidiLstm(s: BidiLstmSpec, seed: number, mutate: (inputs: number[]) => number[] = (i) => i): Uint8Array {
  const r = rng(seed);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const tensors: BuiltTensor[] = [];
  const add = (name: string, shape: number[], data?: Float32Array, variable = false): number => tensors.push({ name, shape, type: TensorType.FLOAT32, data, variable }) - 1;
  const seq = (k: number) => (s.timeMajor ? [s.T, s.B, k] : [s.B, s.T, k]);
  const x = add('x', seq(s.I));
  const inputs = new Array<number>(48).fill(-1);
  inputs[0] = x;
  const outputSize = (d: BidiDirection) => d.O ?? s.N;
  const direction = (d: BidiDirection, tag: string, first: number, states: number, auxFirst: number) => {
    const O = outputSize(d);
    const w = (name: string, rows: number, cols: number) => add(`${tag}_${name}`, [rows, cols], rand(rows * cols, 0.6));
    const v = (name: string) => add(`${tag}_${name}`, [s.N], rand(s.N, 0.5));
    const gates = ['input', 'forget', 'cell', 'output'];
    gates.forEach((g, k) => {
      if (g !== 'input' || !d.cifg) inputs[first + k] = w(`input_to_${g}`, s.N, s.I);
    });
    gates.forEach((g, k) => {
      if (g !== 'input' || !d.cifg) inputs[first + 4 + k] = w(`recurrent_to_${g}`, s.N, O);
    });
    if (d.peepholes) {
      if (!d.cifg) inputs[first + 8] = v('cell_to_input');
      inputs[first + 9] = v('cell_to_forget');
      inputs[first + 10] = v('cell_to_output');
    }
    gates.forEach((g, k) => {
      if (g !== 'input' || !d.cifg) inputs[first + 11 + k] = v(`${g}_gate_bias`);
    });
    if (d.O !== undefined) {
      inputs[first + 15] = w('projection_weights', O, s.N);
      if (d.projectionBias) inputs[first + 16] = add(`${tag}_projection_bias`, [O], rand(O, 0.5));
    }
    inputs[states] = add(`${tag}_output_state`, [s.B, O], undefined, true);
    inputs[states + 1] = add(`${tag}_cell_state`, [s.B, s.N], undefined, true);
    if (s.aux?.mode === 'cross') {
      gates.forEach((g, k) => {
        if (g !== 'input' || !d.cifg) inputs[auxFirst + k] = w(`aux_input_to_${g}`, s.N, s.aux!.size);
      });
    }
  };
  direction(s.fw ?? {}, 'fw', 1, 35, 40);
  direction(s.bw ?? {}, 'bw', 18, 37, 44);
  const graphInputs = [x];
  if (s.aux) graphInputs.push((inputs[39] = add('aux', seq(s.aux.size))));
  const fwO = outputSize(s.fw ?? {});
  const bwO = outputSize(s.bw ?? {});
  const outputs = s.merge ? [add('y', seq(fwO + bwO))] : [add('y_fw', seq(fwO)), add('y_bw', seq(bwO))];
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.BIDIRECTIONAL_SEQUENCE_LSTM],
    operators: [
      {
        opcode: 0,
        inputs: mutate(inputs),
        outputs,
        options: (b) => ({
          type: BuiltinOptions.BidirectionalSequenceLSTMOptions,
          offset: BidirectionalSequenceLSTMOptions.createBidirectionalSequenceLSTMOptions(b, s.act ?? ActivationFunctionType.TANH, s.cellClip ?? 0, s.projClip ?? 0, s.merge, s.timeMajor, false),
        }),
      },
    ],
    inputs: graphInputs,
    outputs,
  });
}

export type RnnKind = 'RNN' | 'UNIDIRECTIONAL_SEQUENCE_RNN' | 'BIDIRECTIONAL_SEQUENCE_RNN';

export interface RnnSpec {
  name: string;
  kind: RnnKind;
  T: number;
  B: number;
  I: number;
  N: number;
  act: ActivationFunctionType;
  timeMajor?: boolean;
  merge?: boolean;
  /** cross-linked aux input (with aux weights) */
  aux?: boolean;
  /** ONNX RNN nodes expected (0: unrolled) */
  rnns: number;
  /** int8 input and recurrent weights (symmetric, per tensor) under the float input: TFLite's hybrid kernel */
  hybrid?: { asymmetric: boolean };
}

/** Symmetric per-tensor int8 (zero point 0, scale max|w| / 127): what TF's dynamic-range converter writes. */
export function int8Weight(name: string, shape: number[], w: Float32Array): BuiltTensor {
  const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
  return { name, shape, type: TensorType.INT8, data: Int8Array.from(w, (v) => Math.round(v / scale)), quant: { scale: [scale], zeroPoint: [0] } };
}

export function buildRnn(s: RnnSpec, seed: number, mutate: (inputs: number[]) => number[] = (i) => i): Uint8Array {
  const r = rng(seed);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const tensors: BuiltTensor[] = [];
  const add = (name: string, shape: number[], data?: Float32Array, variable = false): number => tensors.push({ name, shape, type: TensorType.FLOAT32, data, variable }) - 1;
  const seq = (k: number) => (s.kind === 'RNN' ? [s.B, k] : s.timeMajor ? [s.T, s.B, k] : [s.B, s.T, k]);
  const x = add('x', seq(s.I));
  const weight = (name: string, shape: number[], scale: number): number => {
    const w = rand(shape[0]! * shape[1]!, scale);
    return s.hybrid ? tensors.push(int8Weight(name, shape, w)) - 1 : add(name, shape, w);
  };
  const cell = (tag: string) => [weight(`${tag}_weights`, [s.N, s.I], 0.7), weight(`${tag}_recurrent_weights`, [s.N, s.N], 0.5), add(`${tag}_bias`, [s.N], rand(s.N, 0.5)), add(`${tag}_hidden_state`, [s.B, s.N], undefined, true)];
  let inputs: number[];
  let outputs: number[];
  const graphInputs = [x];
  let options: (b: Builder) => { type: BuiltinOptions; offset: number };
  if (s.kind === 'BIDIRECTIONAL_SEQUENCE_RNN') {
    inputs = [x, ...cell('fw'), ...cell('bw'), -1, -1, -1];
    if (s.aux) {
      graphInputs.push((inputs[9] = add('aux', seq(s.I))));
      inputs[10] = add('fw_aux_weights', [s.N, s.I], rand(s.N * s.I, 0.7));
      inputs[11] = add('bw_aux_weights', [s.N, s.I], rand(s.N * s.I, 0.7));
    }
    // the interpreter gives the separate backward output [batch, time, units] whatever time_major says
    outputs = s.merge ? [add('y', seq(2 * s.N))] : [add('y_fw', seq(s.N)), add('y_bw', [s.B, s.T, s.N])];
    options = (b) => ({ type: BuiltinOptions.BidirectionalSequenceRNNOptions, offset: BidirectionalSequenceRNNOptions.createBidirectionalSequenceRNNOptions(b, !!s.timeMajor, s.act, !!s.merge, !!s.hybrid?.asymmetric) });
  } else {
    inputs = [x, ...cell('rnn')];
    outputs = [add('y', seq(s.N))];
    options =
      s.kind === 'RNN'
        ? (b) => ({ type: BuiltinOptions.RNNOptions, offset: RNNOptions.createRNNOptions(b, s.act, !!s.hybrid?.asymmetric) })
        : (b) => ({ type: BuiltinOptions.SequenceRNNOptions, offset: SequenceRNNOptions.createSequenceRNNOptions(b, !!s.timeMajor, s.act, !!s.hybrid?.asymmetric) });
  }
  return buildModel({ tensors, opcodes: [BuiltinOperator[s.kind]], operators: [{ opcode: 0, inputs: mutate(inputs), outputs, options }], inputs: graphInputs, outputs });
}


export interface StepLstmSpec {
  name: string;
  B: number;
  I: number;
  N: number;
  /** outputs, with a projection */
  O?: number;
  peepholes?: boolean;
  cifg?: boolean;
  layerNorm?: boolean;
  cellClip?: number;
  /** int8 weights (symmetric per tensor) under the float input: the hybrid kernel */
  hybrid?: { asymmetric: boolean };
  /** ONNX LSTM nodes expected (0: unrolled) */
  lstms: number;
}

/** The builtin LSTM (full kernel): UNIDIRECTIONAL_SEQUENCE_LSTM's inputs over one step, x [B, I] -> y [B, O]. */
export function buildStepLstm(s: StepLstmSpec, seed: number, mutate: (inputs: number[]) => number[] = (i) => i): Uint8Array {
  const r = rng(seed);
  const O = s.O ?? s.N;
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const tensors: BuiltTensor[] = [];
  const push = (t: BuiltTensor): number => tensors.push(t) - 1;
  const x = push({ name: 'x', shape: [s.B, s.I], type: TensorType.FLOAT32 });
  const w = (name: string, shape: number[], scale: number) => {
    const data = rand(shape.reduce((a, b) => a * b, 1), scale);
    return push(s.hybrid ? int8Weight(name, shape, data) : { name, shape, type: TensorType.FLOAT32, data });
  };
  const v = (name: string, n: number) => push({ name, shape: [n], type: TensorType.FLOAT32, data: rand(n, 0.5) });
  const inputs = new Array<number>(s.layerNorm ? 24 : 20).fill(-1);
  inputs[0] = x;
  const gates = ['input', 'forget', 'cell', 'output'];
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[1 + k] = w(`input_to_${g}`, [s.N, s.I], 0.6);
  });
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[5 + k] = w(`recurrent_to_${g}`, [s.N, O], 0.6);
  });
  if (s.peepholes) {
    if (!s.cifg) inputs[9] = w('cell_to_input', [s.N], 0.5);
    inputs[10] = w('cell_to_forget', [s.N], 0.5);
    inputs[11] = w('cell_to_output', [s.N], 0.5);
  }
  gates.forEach((g, k) => {
    if (g !== 'input' || !s.cifg) inputs[12 + k] = v(`${g}_gate_bias`, s.N);
  });
  if (s.O !== undefined) inputs[16] = w('projection_weights', [O, s.N], 0.6);
  inputs[18] = push({ name: 'output_state', shape: [s.B, O], type: TensorType.FLOAT32, variable: true });
  inputs[19] = push({ name: 'cell_state', shape: [s.B, s.N], type: TensorType.FLOAT32, variable: true });
  if (s.layerNorm) {
    gates.forEach((g, k) => {
      if (g !== 'input' || !s.cifg) inputs[20 + k] = push({ name: `${g}_layer_norm`, shape: [s.N], type: TensorType.FLOAT32, data: Float32Array.from({ length: s.N }, () => 0.5 + r()) });
    });
  }
  const y = push({ name: 'y', shape: [s.B, O], type: TensorType.FLOAT32 });
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.LSTM],
    operators: [
      {
        opcode: 0,
        inputs: mutate(inputs),
        outputs: [y],
        options: (b) => ({ type: BuiltinOptions.LSTMOptions, offset: LSTMOptions.createLSTMOptions(b, ActivationFunctionType.TANH, s.cellClip ?? 0, 0, LSTMKernelType.FULL, !!s.hybrid?.asymmetric) }),
      },
    ],
    inputs: [x],
    outputs: [y],
  });
}
