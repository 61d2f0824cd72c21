// Hand-built .tflite files of one UNIDIRECTIONAL_SEQUENCE_LSTM, independent of nnport's writer:
// the integer kernel (int8 input / output state, int16 cell state; lstm-int8.test.ts) and a float
// one whose features ONNX LSTM lacks (projection, layer norm: the reader unrolls it), optionally
// with a dynamic batch (shape_signature -1; dynamic-lstm.test.ts and the fuzzer's seeds).
import { ByteBuffer } from 'flatbuffers';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../../../src/formats/generated/tflite/builtin-options.js';
import { Model } from '../../../src/formats/generated/tflite/model.js';
import { UnidirectionalSequenceLSTMOptions } from '../../../src/formats/generated/tflite/unidirectional-sequence-lstmoptions.js';
import { rng } from '../../support/rng.js';
import { buildModel, randomInts, TensorType, type BuiltTensor } from './svdf-model.js';

export interface LstmCase {
  batch: number;
  time: number;
  nInput: number;
  nCell: number;
  nOutput: number;
  cifg?: boolean;
  peephole?: boolean;
  projection?: boolean;
  timeMajor?: boolean;
  cellScaleLog2?: number;
  cellClip?: number;
  stateZeroPoint?: number;
  layerNorm?: boolean;
  /** a cell state of the wrong size (bad input) */
  cellStateShape?: number[];
  /** the batch dynamic: -1 in the shape_signature of the input, output and both states (stored: `batch`) */
  dynamicBatch?: boolean;
  /** the output state variable stored with these values (a buffer) instead of none */
  outputStateData?: number[];
  seed: number;
}

/** One integer UNIDIRECTIONAL_SEQUENCE_LSTM whose output is the file's output, random weights. */
export function lstmFile(o: LstmCase): Uint8Array {
  const r = rng(o.seed);
  const xs = 0.02;
  const ws = 0.01;
  const hs = o.projection ? 0.02 : 1 / 128;
  const hzp = o.stateZeroPoint ?? 0;
  const tensors: BuiltTensor[] = [];
  const add = (t: BuiltTensor): number => tensors.push(t) - 1;
  const none = -1;
  const w8 = (name: string, rows: number, cols: number, scale = ws) => add({ name, shape: [rows, cols], type: TensorType.INT8, data: randomInts(Int8Array, rows * cols, -127, 127, r), quant: { scale: [scale], zeroPoint: [0] } });
  const bias = (name: string, n: number, scale: number) => add({ name, shape: [n], type: TensorType.INT32, data: randomInts(Int32Array, n, -Math.round(0.4 / scale), Math.round(0.4 / scale), r), quant: { scale: [scale], zeroPoint: [0] } });
  const peep = (name: string) => add({ name, shape: [o.nCell], type: TensorType.INT16, data: randomInts(Int16Array, o.nCell, -3000, 3000, r), quant: { scale: [1e-4], zeroPoint: [0] } });
  const xShape = o.timeMajor ? [o.time, o.batch, o.nInput] : [o.batch, o.time, o.nInput];
  const inputs: number[] = [];
  const bAxis = o.timeMajor ? 1 : 0;
  const sig = (shape: number[], axis: number) => (o.dynamicBatch ? { signature: shape.map((d, k) => (k === axis ? -1 : d)) } : {});
  inputs[0] = add({ name: 'x', shape: xShape, type: TensorType.INT8, quant: { scale: [xs], zeroPoint: [5] }, ...sig(xShape, bAxis) });
  inputs[1] = o.cifg ? none : w8('input_to_input', o.nCell, o.nInput);
  inputs[2] = w8('input_to_forget', o.nCell, o.nInput);
  inputs[3] = w8('input_to_cell', o.nCell, o.nInput);
  inputs[4] = w8('input_to_output', o.nCell, o.nInput);
  inputs[5] = o.cifg ? none : w8('recurrent_to_input', o.nCell, o.nOutput);
  inputs[6] = w8('recurrent_to_forget', o.nCell, o.nOutput);
  inputs[7] = w8('recurrent_to_cell', o.nCell, o.nOutput);
  inputs[8] = w8('recurrent_to_output', o.nCell, o.nOutput);
  inputs[9] = o.peephole && !o.cifg ? peep('cell_to_input') : none;
  inputs[10] = o.peephole ? peep('cell_to_forget') : none;
  inputs[11] = o.peephole ? peep('cell_to_output') : none;
  // with layer norm the gate bias is added to the normalized gate (1024 steps per coefficient step)
  const lns = 1e-4;
  const bs = o.layerNorm ? lns / 1024 : xs * ws;
  inputs[12] = o.cifg ? none : bias('input_gate_bias', o.nCell, bs);
  inputs[13] = bias('forget_gate_bias', o.nCell, bs);
  inputs[14] = bias('cell_gate_bias', o.nCell, bs);
  inputs[15] = bias('output_gate_bias', o.nCell, bs);
  inputs[16] = o.projection ? w8('projection_weights', o.nOutput, o.nCell, 0.02) : none;
  inputs[17] = o.projection ? bias('projection_bias', o.nOutput, 0.02 / 128) : none;
  inputs[18] = add({ name: 'output_state', shape: [o.batch, o.nOutput], type: TensorType.INT8, quant: { scale: [hs], zeroPoint: [hzp] }, variable: true, ...sig([o.batch, o.nOutput], 0), ...(o.outputStateData ? { data: Int8Array.from(o.outputStateData) } : {}) });
  inputs[19] = add({ name: 'cell_state', shape: o.cellStateShape ?? [o.batch, o.nCell], type: TensorType.INT16, quant: { scale: [2 ** (o.cellScaleLog2 ?? -12)], zeroPoint: [0] }, variable: true, ...sig(o.cellStateShape ?? [o.batch, o.nCell], 0) });
  const norm = (name: string) => add({ name, shape: [o.nCell], type: TensorType.INT16, data: randomInts(Int16Array, o.nCell, 5000, 15000, r), quant: { scale: [lns], zeroPoint: [0] } });
  if (o.layerNorm) inputs.push(o.cifg ? none : norm('input_layer_norm'), norm('forget_layer_norm'), norm('cell_layer_norm'), norm('output_layer_norm'));
  else inputs.push(none, none, none, none);
  // the gates' grids before layer norm; without it they only hold a place
  const intermediates = ['input', 'forget', 'cell', 'output'].map((g) =>
    add(o.layerNorm ? { name: `${g}_intermediate`, shape: [0], type: TensorType.INT16, quant: { scale: [2 ** -10], zeroPoint: [0] } } : { name: `${g}_intermediate`, shape: [0], type: TensorType.FLOAT32 }),
  );
  intermediates.push(add({ name: 'effective_hidden_scale_intermediate', shape: [0], type: TensorType.INT8, quant: { scale: [1 / 128], zeroPoint: [hzp] } }));
  const yShape = o.timeMajor ? [o.time, o.batch, o.nOutput] : [o.batch, o.time, o.nOutput];
  const y = add({ name: 'y', shape: yShape, type: TensorType.INT8, quant: { scale: [hs], zeroPoint: [hzp] }, ...sig(yShape, bAxis) });
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM],
    operators: [{ opcode: 0, inputs, outputs: [y], intermediates, options: (b) => ({ type: BuiltinOptions.UnidirectionalSequenceLSTMOptions, offset: UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, ActivationFunctionType.TANH, o.cellClip ?? 0, 0, !!o.timeMajor, false, false) }) }],
    inputs: [inputs[0]!],
    outputs: [y],
  });
}

export interface FloatLstmCase {
  batch: number;
  time: number;
  nInput: number;
  nCell: number;
  /** a projection to nOutput outputs when given */
  nOutput?: number;
  layerNorm?: boolean;
  timeMajor?: boolean;
  dynamicBatch?: boolean;
  /** int8 weights (one scale each, zero point 0) under the float input: TFLite's hybrid kernel, asymmetric inputs */
  hybrid?: boolean;
  seed: number;
}

/** A float UNIDIRECTIONAL_SEQUENCE_LSTM with a projection and / or layer norm (read unrolled), random weights. */
export function floatLstmFile(o: FloatLstmCase): Uint8Array {
  const r = rng(o.seed);
  const O = o.nOutput ?? o.nCell;
  const N = o.nCell;
  const tensors: BuiltTensor[] = [];
  const add = (t: BuiltTensor): number => tensors.push(t) - 1;
  const f32 = (name: string, shape: number[], scale: number, offset = 0) => add({ name, shape, type: TensorType.FLOAT32, data: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => offset + (r() * 2 - 1) * scale) });
  // a weight matrix: float, or int8 on one scale (|w| up to `scale`)
  const weight = (name: string, shape: number[], scale: number) =>
    o.hybrid ? add({ name, shape, type: TensorType.INT8, data: randomInts(Int8Array, shape[0]! * shape[1]!, -127, 127, r), quant: { scale: [scale / 127], zeroPoint: [0] } }) : f32(name, shape, scale);
  const bAxis = o.timeMajor ? 1 : 0;
  const sig = (shape: number[], axis: number) => (o.dynamicBatch ? { signature: shape.map((d, k) => (k === axis ? -1 : d)) } : {});
  const xShape = o.timeMajor ? [o.time, o.batch, o.nInput] : [o.batch, o.time, o.nInput];
  const inputs = new Array<number>(24).fill(-1);
  inputs[0] = add({ name: 'x', shape: xShape, type: TensorType.FLOAT32, ...sig(xShape, bAxis) });
  ['input', 'forget', 'cell', 'output'].forEach((g, k) => {
    inputs[1 + k] = weight(`input_to_${g}`, [N, o.nInput], 0.6);
    inputs[5 + k] = weight(`recurrent_to_${g}`, [N, O], 0.6);
    inputs[12 + k] = f32(`${g}_gate_bias`, [N], 0.5);
  });
  if (o.nOutput !== undefined) {
    inputs[16] = weight('projection_weights', [O, N], 0.6);
    inputs[17] = f32('projection_bias', [O], 0.3);
  }
  inputs[18] = add({ name: 'output_state', shape: [o.batch, O], type: TensorType.FLOAT32, variable: true, ...sig([o.batch, O], 0) });
  inputs[19] = add({ name: 'cell_state', shape: [o.batch, N], type: TensorType.FLOAT32, variable: true, ...sig([o.batch, N], 0) });
  if (o.layerNorm) ['input', 'forget', 'cell', 'output'].forEach((g, k) => (inputs[20 + k] = f32(`${g}_layer_norm`, [N], 0.5, 1)));
  const yShape = o.timeMajor ? [o.time, o.batch, O] : [o.batch, o.time, O];
  const y = add({ name: 'y', shape: yShape, type: TensorType.FLOAT32, ...sig(yShape, bAxis) });
  return buildModel({
    tensors,
    opcodes: [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM],
    operators: [{ opcode: 0, inputs, outputs: [y], options: (b) => ({ type: BuiltinOptions.UnidirectionalSequenceLSTMOptions, offset: UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, ActivationFunctionType.TANH, 0, 0, !!o.timeMajor, !!o.hybrid, false) }) }],
    inputs: [inputs[0]!],
    outputs: [y],
  });
}

/**
 * The file with every dynamic dim (-1 in a tensor's shape_signature) stored as `size`: the model as
 * the interpreter sizes it at that batch, its variable state tensors included (ResizeInputTensor
 * resizes only the input; a state variable stored at another batch fails the kernel's Prepare).
 */
export function withDynamicDimsStored(bytes: Uint8Array, size: number): Uint8Array {
  const out = bytes.slice();
  const bb = new ByteBuffer(out);
  const sg = Model.getRootAsModel(bb).subgraphs(0)!;
  for (let i = 0; i < sg.tensorsLength(); i++) {
    const t = sg.tensors(i)!;
    const signature = t.shapeSignatureArray();
    if (!signature) continue;
    // Tensor.shape is field 0: vtable slot 4
    const at = bb.__vector(t.bb_pos + bb.__offset(t.bb_pos, 4));
    signature.forEach((d, k) => d === -1 && bb.writeInt32(at + 4 * k, size));
  }
  return out;
}
