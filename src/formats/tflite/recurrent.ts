// TFLite float UNIDIRECTIONAL_SEQUENCE_LSTM and BIDIRECTIONAL_SEQUENCE_LSTM -> IR. What ONNX LSTM
// expresses (peepholes, CIFG, tanh / relu activations, batch- or time-major) becomes one ONNX LSTM
// (direction forward, or bidirectional when both directions have the same structure) between
// Transposes and a Squeeze / Gather of its num_directions axis; TFLite's cell_clip (it bounds the
// cell state itself, where ONNX's clip bounds gate inputs) rides on that LSTM as nnport's attribute
// `cell_clip`. What it cannot (a projection; layer norm; relu6) is unrolled over the (static) time
// steps into plain ONNX ops computing TFLite's formulas.
// The two variable tensors (output and cell state) start at zero: what the interpreter computes
// on its first invoke after allocating tensors.
import { FormatError, QuantizationError, UnsupportedError } from '../../ir/errors.js';
import type { Attr, Node } from '../../ir/graph.js';
import { LSTM_INPUT } from '../../ir/ops/stateful.js';
import { Tensor } from '../../ir/tensor.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BidirectionalSequenceLSTMOptions } from '../generated/tflite/bidirectional-sequence-lstmoptions.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { LSTMKernelType } from '../generated/tflite/lstmkernel-type.js';
import { LSTMOptions } from '../generated/tflite/lstmoptions.js';
import { UnidirectionalSequenceLSTMOptions } from '../generated/tflite/unidirectional-sequence-lstmoptions.js';
import type { OpContext, TfliteTensorInfo } from './read.js';

const OP = 'UNIDIRECTIONAL_SEQUENCE_LSTM';
const BIDI = 'BIDIRECTIONAL_SEQUENCE_LSTM';

const IN = LSTM_INPUT;

/** Where one direction's tensors sit among the op's inputs (-1: the op has no such input). */
type LstmSlots = Record<Exclude<keyof typeof LSTM_INPUT, 'input' | 'outputState' | 'cellState'>, number> & {
  /** aux input weights (BIDIRECTIONAL_SEQUENCE_LSTM's cross-linked stacking), i, f, c, o */
  aux?: [number, number, number, number];
};

/** BIDIRECTIONAL_SEQUENCE_LSTM's 48 inputs (bidirectional_sequence_lstm.cc): no layer norm. */
const bidiSlots = (first: number, aux: number): LstmSlots => ({
  inputToInput: first,
  inputToForget: first + 1,
  inputToCell: first + 2,
  inputToOutput: first + 3,
  recurrentToInput: first + 4,
  recurrentToForget: first + 5,
  recurrentToCell: first + 6,
  recurrentToOutput: first + 7,
  cellToInput: first + 8,
  cellToForget: first + 9,
  cellToOutput: first + 10,
  inputGateBias: first + 11,
  forgetGateBias: first + 12,
  cellGateBias: first + 13,
  outputGateBias: first + 14,
  projectionWeights: first + 15,
  projectionBias: first + 16,
  inputLayerNorm: -1,
  forgetLayerNorm: -1,
  cellLayerNorm: -1,
  outputLayerNorm: -1,
  aux: [aux, aux + 1, aux + 2, aux + 3],
});
const BIDI_FW = bidiSlots(1, 40);
const BIDI_BW = bidiSlots(18, 44);
const BIDI_AUX_INPUT = 39;

type Gate = 'i' | 'f' | 'c' | 'o';

const int = (value: number): Attr => ({ type: 'int', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });

const present = (c: OpContext, i: number): boolean => c.inputs[i] !== undefined && c.inputs[i]! >= 0;
const tensorAt = (c: OpContext, i: number): TfliteTensorInfo => c.b.tensors[c.inputs[i]!]!;

interface GateParams {
  /** [N, I] input weights */
  wx: Float32Array;
  /** [N, O] recurrent weights */
  wh: Float32Array;
  /** [N] */
  bias: Float32Array;
  /** [N] peephole (cell-to-gate) weights; never for the cell gate */
  peep?: Float32Array;
  /** [N] layer-norm coefficients */
  ln?: Float32Array;
}

interface FloatLstm {
  /** the IR value the direction reads (the op's input, its aux input, or both concatenated) */
  x: string;
  T: number | undefined;
  I: number;
  /** cells */
  N: number;
  /** outputs (N without a projection) */
  O: number;
  timeMajor: boolean;
  /** no input gate: i = 1 - f (coupled input and forget gates) */
  cifg: boolean;
  gates: Partial<Record<Gate, GateParams>>;
  projection?: { w: Float32Array; b?: Float32Array };
  cellClip: number;
  projClip: number;
  act: ActivationFunctionType;
}

/** A float constant input of the op (float32, or float16 decoded by the reader), checked against its expected size. */
function constant(c: OpContext, i: number, what: string, size: number, out: string, hybrid: boolean): Float32Array {
  const t = tensorAt(c, i);
  if (t.dtype === 'int8' && hybrid) return dequantized(c, t, what, size, out);
  if (t.dtype === 'int8' || t.dtype === 'uint8') {
    throw new UnsupportedError(`dynamic-range (hybrid) ${c.opName}${t.dtype === 'uint8' ? ' with uint8 weights' : ''}`, `'${out}': ${what} '${t.name}' is ${t.dtype} under a float input; nnport runs float, int8-weight hybrid UNIDIRECTIONAL_SEQUENCE_LSTMs and fully integer LSTMs`);
  }
  const v = c.b.initializers.get(t.name);
  if (!v) throw new UnsupportedError(`${c.opName} with a computed ${what}`, `'${out}': ${what} '${t.name}' must be a constant`);
  if (v.dtype !== 'float32') throw new UnsupportedError(`${c.opName} with ${v.dtype} ${what}`, `'${out}': '${t.name}'`);
  if (v.size !== size) throw new FormatError(`${c.opName} '${out}': ${what} '${t.name}' has shape [${v.shape.join(', ')}], ${size} elements expected`, { file: c.b.file });
  return v.data as Float32Array;
}

/**
 * An int8 weight of a hybrid LSTM as the kernel uses it: q · scale in float (its one per-tensor
 * scale; the matmuls scale the int32 sums by input scale · weight scale, which the float matmul
 * of the dequantized operands gives to float rounding; peepholes are dequantized the same way).
 */
function dequantized(c: OpContext, t: TfliteTensorInfo, what: string, size: number, out: string): Float32Array {
  const v = c.b.initializers.get(t.name);
  if (!v) throw new UnsupportedError(`${c.opName} with a computed ${what}`, `'${out}': ${what} '${t.name}' must be a constant`);
  if (v.size !== size) throw new FormatError(`${c.opName} '${out}': ${what} '${t.name}' has shape [${v.shape.join(', ')}], ${size} elements expected`, { file: c.b.file });
  const q = t.quant;
  if (!q || q.scale.some((s) => s !== q.scale[0])) throw new QuantizationError(`${c.b.file}: hybrid ${c.opName} '${out}': ${what} '${t.name}' must have one scale (TFLite's hybrid kernel reads one per tensor)`);
  if (q.zeroPoint.some((z) => z !== 0)) throw new QuantizationError(`${c.b.file}: hybrid ${c.opName} '${out}': ${what} '${t.name}' has zero point ${q.zeroPoint.find((z) => z !== 0)}, the hybrid kernel takes symmetric weights`);
  const scale = q.scale[0]!;
  return Float32Array.from(v.data as Int8Array, (w) => Math.fround(w * scale));
}

/** The options both LSTM ops share. */
interface LstmOptions {
  /** int8 weights under a float input: TFLite's hybrid kernel */
  hybrid?: { symmetric: boolean };
  timeMajor: boolean;
  act: ActivationFunctionType;
  cellClip: number;
  projClip: number;
}

/** [N, a] and [N, b] side by side: [N, a + b] (input weights beside aux input weights). */
function sideBySide(left: Float32Array, a: number, right: Float32Array, b: number, N: number): Float32Array {
  const m = new Float32Array(N * (a + b));
  for (let n = 0; n < N; n++) {
    m.set(left.subarray(n * a, (n + 1) * a), n * (a + b));
    m.set(right.subarray(n * b, (n + 1) * b), n * (a + b) + a);
  }
  return m;
}

function readLstm(c: OpContext, out: string, slots: LstmSlots, x: TfliteTensorInfo, opts: LstmOptions, aux?: TfliteTensorInfo): FloatLstm {
  const op = c.opName;
  const { timeMajor } = opts;
  const constantOf = (i: number, what: string, size: number): Float32Array => constant(c, i, what, size, out, !!opts.hybrid);
  if (x.shape.length !== 3) throw new FormatError(`${op} '${out}': input '${x.name}' must be 3-D, got [${x.shape.join(', ')}]`, { file: c.b.file });
  for (const i of [slots.inputToForget, slots.inputToCell, slots.inputToOutput, slots.recurrentToForget, slots.recurrentToCell, slots.recurrentToOutput, slots.forgetGateBias, slots.cellGateBias, slots.outputGateBias]) {
    if (!present(c, i)) throw new FormatError(`${op} '${out}': required input ${i} is missing`, { file: c.b.file });
  }
  const wShape = tensorAt(c, slots.inputToOutput).shape;
  const rShape = tensorAt(c, slots.recurrentToOutput).shape;
  if (wShape.length !== 2 || rShape.length !== 2) throw new FormatError(`${op} '${out}': weights must be 2-D`, { file: c.b.file });
  const [N, I] = wShape as [number, number];
  const O = rShape[1]!;
  if (x.shape[2] !== I) throw new FormatError(`${op} '${out}': input size ${x.shape[2]} differs from the weights' ${I}`, { file: c.b.file });
  const tAxis = timeMajor ? 0 : 1;
  const T = x.signature?.[tAxis] === -1 ? undefined : x.shape[tAxis];
  const cifg = !present(c, slots.inputToInput);
  const peepholes = present(c, slots.cellToOutput);
  const layerNorm = present(c, slots.outputLayerNorm) || present(c, slots.forgetLayerNorm);
  // cross-linked stacking: x·Wᵀ + aux·Wauxᵀ = [x, aux]·[W, Waux]ᵀ
  const auxI = aux ? aux.shape[2]! : 0;
  if (aux && (aux.shape.length !== 3 || aux.shape[0] !== x.shape[0] || aux.shape[1] !== x.shape[1])) {
    throw new FormatError(`${op} '${out}': aux input '${aux.name}' [${aux.shape.join(', ')}] must be 3-D with the input's first two dimensions [${x.shape.slice(0, 2).join(', ')}]`, { file: c.b.file });
  }
  const auxSlot = { i: slots.aux?.[0] ?? -1, f: slots.aux?.[1] ?? -1, c: slots.aux?.[2] ?? -1, o: slots.aux?.[3] ?? -1 };
  const inputWeights = (g: Gate, wx: number): Float32Array => {
    const w = constantOf(wx, `input-to-${g} weights`, N * I);
    return aux ? sideBySide(w, I, constantOf(auxSlot[g], `aux-input-to-${g} weights`, N * auxI), auxI, N) : w;
  };
  const gate = (g: Gate, wx: number, wh: number, peep: number, bias: number, ln: number): GateParams => ({
    wx: inputWeights(g, wx),
    wh: constantOf(wh, `recurrent-to-${g} weights`, N * O),
    bias: constantOf(bias, `${g} gate bias`, N),
    peep: peepholes && g !== 'c' ? constantOf(peep, `cell-to-${g} peephole`, N) : undefined,
    ln: layerNorm ? constantOf(ln, `${g} layer-norm coefficients`, N) : undefined,
  });
  const gates: Partial<Record<Gate, GateParams>> = {
    f: gate('f', slots.inputToForget, slots.recurrentToForget, slots.cellToForget, slots.forgetGateBias, slots.forgetLayerNorm),
    c: gate('c', slots.inputToCell, slots.recurrentToCell, -1, slots.cellGateBias, slots.cellLayerNorm),
    o: gate('o', slots.inputToOutput, slots.recurrentToOutput, slots.cellToOutput, slots.outputGateBias, slots.outputLayerNorm),
  };
  if (!cifg) gates.i = gate('i', slots.inputToInput, slots.recurrentToInput, slots.cellToInput, slots.inputGateBias, slots.inputLayerNorm);
  let projection: FloatLstm['projection'];
  if (present(c, slots.projectionWeights)) {
    projection = { w: constantOf(slots.projectionWeights, 'projection weights', O * N) };
    if (present(c, slots.projectionBias)) projection.b = constantOf(slots.projectionBias, 'projection bias', O);
  } else if (O !== N) {
    throw new FormatError(`${op} '${out}': ${O} outputs without a projection for ${N} cells`, { file: c.b.file });
  }
  // with an aux input, the caller concatenates it after the input into a value that x then names
  return { x: x.name, T, I: I + auxI, N, O, timeMajor, cifg, gates, projection, cellClip: opts.cellClip, projClip: opts.projClip, act: opts.act };
}

/** The ONNX LSTM activation for TFLite's cell / output activation, when there is one. */
function onnxActivation(act: ActivationFunctionType): { name: string } | undefined {
  switch (act) {
    case ActivationFunctionType.TANH:
      return { name: 'Tanh' };
    case ActivationFunctionType.RELU:
      return { name: 'Relu' };
    default:
      return undefined;
  }
}

const noteOf = (op: string): string => `${op}: the variable output and cell state tensors start at zero on every run (the interpreter's first invoke after allocating tensors; it carries them over between invokes)`;
const NOTE = noteOf(OP);

/** The float input and output checks both LSTM ops share; the input. */
function floatInputOutput(c: OpContext, outputs: number): TfliteTensorInfo {
  const op = c.opName;
  const x = present(c, IN.input) ? tensorAt(c, IN.input) : undefined;
  if (!x) throw new FormatError(`${op}: input 0 is missing`, { file: c.b.file });
  for (let k = 0; k < outputs; k++) {
    const y = c.outputs[k] === undefined ? undefined : c.b.tensors[c.outputs[k]!];
    if (!y) throw new FormatError(`${op}: output ${k} is missing (${outputs} expected)`, { file: c.b.file });
    if (k === 0 && x.dtype !== 'float32') throw new UnsupportedError(`${op} with a ${x.dtype} input`, `'${y.name}': float32${op === OP ? ' or quantized int8' : ''} inputs are read`);
    if (y.quant || y.dtype !== 'float32') throw new UnsupportedError(`${op} with a ${y.dtype} output under a float input`, `'${y.name}'`);
  }
  return x;
}

/** What ONNX LSTM cannot express of `p` (empty: one ONNX LSTM computes it). */
function unexpressibleOf(p: FloatLstm): string[] {
  return [
    p.projection && 'a projection',
    p.gates.o!.ln && 'layer normalization',
    !onnxActivation(p.act) && `the ${ActivationFunctionType[p.act] ?? p.act} activation`,
  ].filter((s): s is string => !!s);
}

function checkActivation(c: OpContext, p: FloatLstm, out: string): void {
  // TFLite's ApplyActivationToVector returns at once for NONE, leaving the buffer that h = o ⊙ act(c)
  // then reads unwritten: the interpreter's result is not a function of the file
  if (p.act === ActivationFunctionType.NONE) throw new UnsupportedError(`${c.opName} with fused activation NONE`, `'${out}': TFLite's kernel does not compute the identity for it`);
}

function checkUnrollable(c: OpContext, p: FloatLstm, out: string, unexpressible: string[]): void {
  if (p.T === 0) throw new UnsupportedError(`${c.opName} over zero time steps`, `'${out}'`);
  if (p.T === undefined) throw new UnsupportedError(`${c.opName} with ${unexpressible.join(', ')} and a dynamic sequence length`, `'${out}': ONNX LSTM cannot express it, and unrolling it needs a fixed number of steps`);
}

/** A float or hybrid LSTM (integer ones, with quantized int8 input, are recurrent-int.ts's). */
export function unidirectionalSequenceLstm(c: OpContext): void {
  const x = floatInputOutput(c, 1);
  const y = c.b.tensors[c.outputs[0]!]!;
  const o = c.op.builtinOptionsType() === BuiltinOptions.UnidirectionalSequenceLSTMOptions ? (c.op.builtinOptions(new UnidirectionalSequenceLSTMOptions()) as UnidirectionalSequenceLSTMOptions) : null;
  if (o?.diagonalRecurrentTensors()) throw new UnsupportedError(`${OP} with diagonal recurrent weights`, `'${y.name}'`);
  sequenceLstm(c, x, y.name, { timeMajor: o?.timeMajor() ?? false, act: o?.fusedActivationFunction() ?? ActivationFunctionType.TANH, cellClip: o?.cellClip() ?? 0, projClip: o?.projClip() ?? 0 }, o?.asymmetricQuantizeInputs() ?? false, NOTE);
}

/**
 * The builtin LSTM with the full kernel (lstm.cc): UNIDIRECTIONAL_SEQUENCE_LSTM's 20 or 24 inputs
 * over one time step, input [batch, input] -> output [batch, output] (lstm_eval.cc takes a 2-D
 * input as max_time 1). The basic kernel (5 inputs, 4 outputs, uint8) is refused.
 */
export function lstm(c: OpContext): void {
  const o = c.op.builtinOptionsType() === BuiltinOptions.LSTMOptions ? (c.op.builtinOptions(new LSTMOptions()) as LSTMOptions) : null;
  const name = c.b.tensors[c.outputs[0] ?? -1]?.name ?? 'LSTM';
  if (o?.kernelType() === LSTMKernelType.BASIC) throw new UnsupportedError('TFLite LSTM with the basic kernel', `'${name}': nnport reads the full-kernel LSTM`);
  if (c.outputs.length !== 1) throw new FormatError(`LSTM '${name}': ${c.outputs.length} outputs, the full kernel has 1`, { file: c.b.file });
  if (c.inputs.length !== 20 && c.inputs.length !== 24) throw new FormatError(`LSTM '${name}': ${c.inputs.length} inputs, 20 or 24 expected`, { file: c.b.file });
  const x = floatInputOutput(c, 1);
  if (x.shape.length !== 2) throw new UnsupportedError(`TFLite LSTM with a ${x.shape.length}-D input`, `'${name}': [batch, input] is read`);
  if (x.dtype !== 'float32' || x.quant) throw new UnsupportedError(`TFLite LSTM with a ${x.dtype} input`, `'${name}': float (and hybrid) LSTMs are read`);
  // one time-major step: [1, batch, input] -> [1, batch, output]
  const x3 = c.b.fresh(`${name}/step_input`);
  c.b.node('Unsqueeze', [x.name, c.b.int64s([0], 'axes_0')], [x3]);
  const y3 = c.b.fresh(`${name}/step_output`);
  const opts: LstmOptions = { timeMajor: true, act: o?.fusedActivationFunction() ?? ActivationFunctionType.TANH, cellClip: o?.cellClip() ?? 0, projClip: o?.projClip() ?? 0 };
  sequenceLstm(c, { ...x, name: x3, shape: [1, ...x.shape], signature: undefined }, y3, opts, o?.asymmetricQuantizeInputs() ?? false, noteOf('LSTM'));
  c.b.node('Squeeze', [y3, c.b.int64s([0], 'axes_0')], [name]);
}

/** One LSTM direction reading `x`, written to `out` in x's layout: one ONNX LSTM, or unrolled steps (what ONNX LSTM cannot express; hybrid). */
function sequenceLstm(c: OpContext, x: TfliteTensorInfo, out: string, opts: LstmOptions, asymmetric: boolean, note: string): void {
  const hybrid = present(c, IN.inputToOutput) && tensorAt(c, IN.inputToOutput).dtype === 'int8' ? { symmetric: !asymmetric } : undefined;
  const p = readLstm(c, out, IN, x, { ...opts, hybrid });
  checkActivation(c, p, out);
  if (hybrid && !unexpressibleOf(p).length) {
    // the kernel quantizes each step's input and the previous output row by row as it goes:
    // nnport::HybridLSTM, ONNX LSTM with that rounding (the TFLite writer writes it back as is)
    const { y4, node } = onnxLstm(c, [p], 'forward', out, hybrid);
    node.doc = `${note}; hybrid: its on-the-fly int8 rounding of the input and the recurrent state (${hybrid.symmetric ? 'symmetric' : 'asymmetric'} per row)`;
    const y3 = p.timeMajor ? out : c.b.fresh(`${out}/time_major_out`);
    c.b.node('Squeeze', [y4, c.b.int64s([1], 'axes_1')], [y3]);
    if (!p.timeMajor) c.b.node('Transpose', [y3], [out], { perm: ints([1, 0, 2]) });
    return;
  }
  if (hybrid) {
    // with a projection (its input is rounded too), layer norm or cell_clip: unrolled
    const why = 'hybrid: its on-the-fly int8 rounding of the input, the recurrent state and the projection input (nnport::HybridInputQuantize)';
    checkUnrollable(c, p, out, [why]);
    unrolledLstm(c, p, out, false, hybrid).doc = `${note}; unrolled over ${p.T} steps, ${why}, ${hybrid.symmetric ? 'symmetric' : 'asymmetric'} per row`;
    return;
  }
  const unexpressible = unexpressibleOf(p);
  if (!unexpressible.length) {
    const { y4, node } = onnxLstm(c, [p], 'forward', out);
    node.doc = note;
    // Y [T, 1, B, N] -> [T, B, N] (-> [B, T, N])
    const y3 = p.timeMajor ? out : c.b.fresh(`${out}/time_major_out`);
    c.b.node('Squeeze', [y4, c.b.int64s([1], 'axes_1')], [y3]);
    if (!p.timeMajor) c.b.node('Transpose', [y3], [out], { perm: ints([1, 0, 2]) });
    return;
  }
  checkUnrollable(c, p, out, unexpressible);
  unrolledLstm(c, p, out, false).doc = `${note}; unrolled over ${p.T} steps: ONNX LSTM cannot express ${unexpressible.join(', ')}`;
}

/**
 * A float BIDIRECTIONAL_SEQUENCE_LSTM: one ONNX LSTM with direction bidirectional when both
 * directions read the same input and have the same structure, else a forward and a reverse one
 * (or unrolled steps). The backward direction runs from the last step to the first and writes
 * each step's output at its own time position (lstm_eval.cc with forward_sequence false), as
 * ONNX's reverse direction does. With merge_outputs the one output is [fw, bw] on the last axis.
 * An aux input with aux weights (cross-linked stacking) adds aux·Wauxᵀ to each direction's input
 * term: the input and aux input concatenated, the weights side by side. An aux input without
 * aux weights (tf.nn.static_bidirectional_rnn stacking) is what the backward direction reads.
 */
export function bidirectionalSequenceLstm(c: OpContext): void {
  const o = c.op.builtinOptionsType() === BuiltinOptions.BidirectionalSequenceLSTMOptions ? (c.op.builtinOptions(new BidirectionalSequenceLSTMOptions()) as BidirectionalSequenceLSTMOptions) : null;
  if (!o) throw new FormatError(`${BIDI} '${c.b.tensors[c.outputs[0] ?? -1]?.name ?? BIDI}' has no BidirectionalSequenceLSTMOptions`, { file: c.b.file });
  const merge = o.mergeOutputs();
  const x = floatInputOutput(c, merge ? 1 : 2);
  const outs = (merge ? [0] : [0, 1]).map((k) => c.b.tensors[c.outputs[k]!]!.name);
  const out = outs[0]!;
  if (c.inputs.length !== 48) throw new FormatError(`${BIDI} '${out}': ${c.inputs.length} inputs, 48 expected`, { file: c.b.file });
  for (const [i, what] of [[35, 'forward output state'], [36, 'forward cell state'], [37, 'backward output state'], [38, 'backward cell state']] as const) {
    if (!present(c, i)) throw new FormatError(`${BIDI} '${out}': the ${what} (input ${i}) is missing`, { file: c.b.file });
  }
  const opts: LstmOptions = { timeMajor: o.timeMajor(), act: o.fusedActivationFunction(), cellClip: o.cellClip(), projClip: o.projClip() };
  const aux = present(c, BIDI_AUX_INPUT) ? tensorAt(c, BIDI_AUX_INPUT) : undefined;
  const crossLinked = !!aux && present(c, BIDI_FW.aux![1]);
  if (aux && aux.dtype !== 'float32') throw new UnsupportedError(`${BIDI} with a ${aux.dtype} aux input`, `'${out}'`);
  // lstm_eval.cc steps through the aux input with the input's row size
  if (aux && aux.shape[2] !== x.shape[2]) throw new UnsupportedError(`${BIDI} with an aux input of ${aux.shape[2]} features beside an input of ${x.shape[2]}`, `'${out}': TFLite's kernel reads the aux input with the input's row size`);
  const fw = readLstm(c, `${out}/fw`, BIDI_FW, x, opts, crossLinked ? aux : undefined);
  const bw = readLstm(c, `${out}/bw`, BIDI_BW, aux && !crossLinked ? aux : x, opts, crossLinked ? aux : undefined);
  if (crossLinked) {
    fw.x = bw.x = c.b.fresh(`${out}/input_with_aux`);
    c.b.node('Concat', [x.name, aux.name], [fw.x], { axis: int(2) });
  }
  if (fw.T !== bw.T) throw new FormatError(`${BIDI} '${out}': the backward input has ${bw.T ?? 'a dynamic number of'} steps, the forward ${fw.T ?? 'a dynamic number'}`, { file: c.b.file });
  checkActivation(c, fw, out);
  const note = noteOf(BIDI);
  const unexpressible = [...new Set([...unexpressibleOf(fw), ...unexpressibleOf(bw)])];
  const directions: string[] = [];
  const sameShape = fw.x === bw.x && fw.N === bw.N && fw.cifg === bw.cifg && !!fw.gates.o!.peep === !!bw.gates.o!.peep;
  const timeMajorOf = (y4: string, d: number, name: string): string => {
    // Y [T, D, B, N] -> direction d's [T, B, N] (-> [B, T, N])
    const y3 = c.b.fresh(`${name}/time_major`);
    c.b.node('Gather', [y4, c.b.constant(Tensor.int64([], [d]), `d${d}`)], [y3], { axis: int(1) });
    if (fw.timeMajor) return y3;
    const y = c.b.fresh(name);
    c.b.node('Transpose', [y3], [y], { perm: ints([1, 0, 2]) });
    return y;
  };
  if (!unexpressible.length && sameShape) {
    const { y4, node } = onnxLstm(c, [fw, bw], 'bidirectional', out);
    node.doc = note;
    directions.push(timeMajorOf(y4, 0, `${out}/fw_out`), timeMajorOf(y4, 1, `${out}/bw_out`));
  } else {
    if (unexpressible.length) checkUnrollable(c, fw, out, unexpressible);
    for (const [p, dir, name] of [[fw, 'forward', `${out}/fw_out`], [bw, 'reverse', `${out}/bw_out`]] as const) {
      if (unexpressibleOf(p).length) {
        const y = c.b.fresh(name);
        unrolledLstm(c, p, y, dir === 'reverse').doc = `${note}; unrolled over ${p.T} steps: ONNX LSTM cannot express ${unexpressibleOf(p).join(', ')}`;
        directions.push(y);
      } else {
        const { y4, node } = onnxLstm(c, [p], dir, name);
        node.doc = note;
        directions.push(timeMajorOf(y4, 0, name));
      }
    }
  }
  if (merge) c.b.node('Concat', directions, [out], { axis: int(2) });
  else directions.forEach((d, k) => c.b.node('Identity', [d], [outs[k]!]));
}

/** Rows of the given [N, k] blocks stacked, each optionally negated. */
function stack(blocks: Array<{ data: Float32Array; negate?: boolean }>): Float32Array {
  const out = new Float32Array(blocks.reduce((n, b) => n + b.data.length, 0));
  let off = 0;
  for (const b of blocks) {
    if (b.negate) for (let k = 0; k < b.data.length; k++) out[off + k] = -b.data[k]!;
    else out.set(b.data, off);
    off += b.data.length;
  }
  return out;
}

/**
 * One ONNX LSTM over the directions `dirs` (one, or forward and backward of the same structure
 * reading the same input), time-major; its Y [T, D, B, N].
 */
function onnxLstm(c: OpContext, dirs: FloatLstm[], direction: 'forward' | 'reverse' | 'bidirectional', base: string, hybrid?: { symmetric: boolean }): { y4: string; node: Node } {
  const { I, N } = dirs[0]!;
  const p0 = dirs[0]!;
  const act = onnxActivation(p0.act)!;
  const perDirection = (p: FloatLstm) => {
    const { f, c: cg, o } = p.gates as Required<Pick<typeof p.gates, 'f' | 'c' | 'o'>>;
    // ONNX's input_forget computes f = 1 - i; TFLite's CIFG i = 1 - f: the ONNX input gate is
    // TFLite's forget gate negated (σ(-x) = 1 - σ(x)), so that ONNX's f = 1 - σ(-x) = σ(x).
    const i = p.gates.i ?? f;
    const neg = p.cifg;
    // gate order i, o, f, c
    return {
      W: stack([{ data: i.wx, negate: neg }, { data: o.wx }, { data: f.wx }, { data: cg.wx }]),
      R: stack([{ data: i.wh, negate: neg }, { data: o.wh }, { data: f.wh }, { data: cg.wh }]),
      B: stack([{ data: i.bias, negate: neg }, { data: o.bias }, { data: f.bias }, { data: cg.bias }, { data: new Float32Array(4 * N) }]),
      P: o.peep && stack([{ data: i.peep!, negate: neg }, { data: o.peep }, { data: f.peep! }]),
    };
  };
  const parts = dirs.map(perDirection);
  const D = dirs.length;
  let xt = p0.x;
  if (!p0.timeMajor) {
    xt = c.b.fresh(`${base}/time_major_input`);
    c.b.node('Transpose', [p0.x], [xt], { perm: ints([1, 0, 2]) });
  }
  const W = c.b.initializer(`${base}/W`, Tensor.float32([D, 4 * N, I], stack(parts.map((q) => ({ data: q.W })))));
  const R = c.b.initializer(`${base}/R`, Tensor.float32([D, 4 * N, N], stack(parts.map((q) => ({ data: q.R })))));
  const B = c.b.initializer(`${base}/B`, Tensor.float32([D, 8 * N], stack(parts.map((q) => ({ data: q.B })))));
  const inputs = [xt, W, R, B];
  if (parts[0]!.P) inputs.push('', '', '', c.b.initializer(`${base}/P`, Tensor.float32([D, 3 * N], stack(parts.map((q) => ({ data: q.P! }))))));
  const attrs: Record<string, Attr> = {
    hidden_size: int(N),
    activations: { type: 'strings', value: dirs.flatMap(() => ['Sigmoid', act.name, act.name]) },
  };
  if (direction !== 'forward') attrs.direction = { type: 'string', value: direction };
  if (p0.cifg) attrs.input_forget = int(1);
  // TFLite's cell_clip, which ONNX's clip (gate inputs) does not express: nnport's attribute on the
  // IR's LSTM, written back to .tflite; the ONNX / Keras writers unroll such an LSTM
  if (p0.cellClip > 0) attrs.cell_clip = { type: 'float', value: p0.cellClip };
  if (hybrid) attrs.symmetric = int(hybrid.symmetric ? 1 : 0);
  const y4 = c.b.fresh(`${base}/Y`);
  const node = hybrid ? c.b.node('HybridLSTM', inputs, [y4], attrs, 'nnport') : c.b.node('LSTM', inputs, [y4], attrs);
  node.name = c.b.fresh(`${base}/lstm`);
  return { y4, node };
}

/**
 * TFLite's formulas (lstm_eval.cc, float) step by step, from the last step to the first when
 * `reverse` (each step's output at its own time position); returns the node writing `out`.
 */
function unrolledLstm(c: OpContext, p: FloatLstm, out: string, reverse: boolean, hybrid?: { symmetric: boolean }): Node {
  const { T, I, N, O } = p;
  const b = c.b;
  const order: Gate[] = p.cifg ? ['f', 'c', 'o'] : ['i', 'f', 'c', 'o'];
  const G = order.length;
  const layerNorm = !!p.gates.o!.ln;
  const op = (type: string, inputs: string[], name: string, attrs: Record<string, Attr> = {}): string => {
    const v = b.fresh(name);
    b.node(type, inputs, [v], attrs);
    return v;
  };
  // a hybrid kernel's matmul input, rounded to int8 per row as the kernel does (BatchQuantizeFloats)
  const rounded = (v: string, name: string): string => {
    if (!hybrid) return v;
    const y = b.fresh(name);
    b.node('HybridInputQuantize', [v], [y], { symmetric: int(hybrid.symmetric ? 1 : 0), axis: int(-1) }, 'nnport');
    return y;
  };
  // [k, G·N] = the gates' [N, k] weights, transposed and side by side
  const transposed = (k: number, pick: (g: GateParams) => Float32Array): Float32Array => {
    const m = new Float32Array(k * G * N);
    order.forEach((g, gi) => {
      const w = pick(p.gates[g]!);
      for (let n = 0; n < N; n++) for (let j = 0; j < k; j++) m[j * G * N + gi * N + n] = w[n * k + j]!;
    });
    return m;
  };
  const WxT = b.initializer(`${out}/input_weights_t`, Tensor.float32([I, G * N], transposed(I, (g) => g.wx)));
  const WhT = b.initializer(`${out}/recurrent_weights_t`, Tensor.float32([O, G * N], transposed(O, (g) => g.wh)));
  let xw = op('MatMul', [rounded(p.x, `${out}/input_int8`), WxT], `${out}/input_projection`);
  // without layer norm the bias adds first; with it, after the normalization
  if (!layerNorm) xw = op('Add', [xw, b.initializer(`${out}/bias`, Tensor.float32([G * N], stack(order.map((g) => ({ data: p.gates[g]!.bias })))))], `${out}/input_projection_biased`);
  const vec = (g: Gate, what: 'peep' | 'ln' | 'bias'): string => b.initializer(`${out}/${g}_${what}`, Tensor.float32([N], p.gates[g]![what]!));
  const peep = { i: p.gates.i?.peep && vec('i', 'peep'), f: p.gates.f!.peep && vec('f', 'peep'), o: p.gates.o!.peep && vec('o', 'peep') };
  const ln = layerNorm ? Object.fromEntries(order.map((g) => [g, [vec(g, 'ln'), vec(g, 'bias')]])) : {};
  const one = b.float(1, 'one');
  const activate = (v: string, name: string): string => {
    switch (p.act) {
      case ActivationFunctionType.TANH:
        return op('Tanh', [v], name);
      case ActivationFunctionType.RELU:
        return op('Relu', [v], name);
      case ActivationFunctionType.RELU6:
        return op('Clip', [v, b.float(0, 'zero'), b.float(6, 'six')], name);
      case ActivationFunctionType.RELU_N1_TO_1:
        return op('Clip', [v, b.float(-1, 'minus_one'), one], name);
      default:
        throw new UnsupportedError(`${OP} activation ${ActivationFunctionType[p.act] ?? p.act}`, `'${out}'`);
    }
  };
  const clip = (v: string, bound: number, name: string): string => (bound > 0 ? op('Clip', [v, b.float(-bound, 'minus_clip'), b.float(bound, 'clip')], name) : v);
  const proj = p.projection && {
    w: b.initializer(`${out}/projection_weights_t`, Tensor.float32([N, O], (() => {
      const m = new Float32Array(N * O);
      for (let o = 0; o < O; o++) for (let n = 0; n < N; n++) m[n * O + o] = p.projection!.w[o * N + n]!;
      return m;
    })())),
    b: p.projection.b && b.initializer(`${out}/projection_bias`, Tensor.float32([O], p.projection.b)),
  };
  const tAxis = p.timeMajor ? 0 : 1;
  const split = G > 1 ? b.int64s(new Array<number>(G).fill(N), `${out}/gate_sizes`) : '';
  const steps: string[] = new Array<string>(T!);
  let h: string | undefined;
  let cell: string | undefined;
  for (let k = 0; k < T!; k++) {
    const t = reverse ? T! - 1 - k : k;
    const s = `${out}/step${t}`;
    const xt = op('Gather', [xw, b.constant(Tensor.int64([], [t]), `t${t}`)], `${s}/input`, { axis: int(tAxis) });
    // the state starts at zero: the first step has no recurrent or peephole terms
    const pre = h ? op('Add', [xt, op('MatMul', [rounded(h, `${s}/state_int8`), WhT], `${s}/recurrent`)], `${s}/gates`) : xt;
    const parts = order.map((g) => b.fresh(`${s}/${g}_pre`));
    b.node('Split', [pre, split], parts, { axis: int(1) });
    const gateInput = (g: Gate, peepState: string | undefined): string => {
      const k = order.indexOf(g);
      let v = parts[k]!;
      const pw = g === 'c' ? undefined : peep[g];
      if (pw && peepState) v = op('Add', [v, op('Mul', [peepState, pw], `${s}/${g}_peephole`)], `${s}/${g}_with_peephole`);
      if (layerNorm) v = op('LayerNormalization', [v, ln[g]![0]!, ln[g]![1]!], `${s}/${g}_normalized`, { axis: int(-1), epsilon: { type: 'float', value: 1e-8 } });
      return v;
    };
    const fg = op('Sigmoid', [gateInput('f', cell)], `${s}/f`);
    const ig = p.cifg ? op('Sub', [one, fg], `${s}/i`) : op('Sigmoid', [gateInput('i', cell)], `${s}/i`);
    const cg = activate(gateInput('c', undefined), `${s}/c_gate`);
    const ic = op('Mul', [ig, cg], `${s}/i_times_c`);
    let cNew = cell ? op('Add', [op('Mul', [fg, cell], `${s}/f_times_state`), ic], `${s}/cell`) : ic;
    cNew = clip(cNew, p.cellClip, `${s}/cell_clipped`);
    const og = op('Sigmoid', [gateInput('o', cNew)], `${s}/o`);
    let hNew = op('Mul', [og, activate(cNew, `${s}/cell_activated`)], `${s}/output`);
    if (proj) {
      hNew = op('MatMul', [rounded(hNew, `${s}/projection_input_int8`), proj.w], `${s}/projection`);
      if (proj.b) hNew = op('Add', [hNew, proj.b], `${s}/projection_biased`);
      hNew = clip(hNew, p.projClip, `${s}/projection_clipped`);
    }
    steps[t] = op('Unsqueeze', [hNew, b.int64s([tAxis], `axes_${tAxis}`)], `${s}/out`);
    h = hNew;
    cell = cNew;
  }
  return b.node('Concat', steps, [out], { axis: int(tAxis) });
}
