// TFLite float RNN, UNIDIRECTIONAL_SEQUENCE_RNN and BIDIRECTIONAL_SEQUENCE_RNN -> IR: h_t =
// act(x_t·Wᵀ + h_{t-1}·Rᵀ + b) (kernel_utils.cc RnnBatchStep, the activation applied in place, so
// NONE is the identity). TANH, RELU and NONE (ONNX Affine with alpha 1, beta 0) become one ONNX
// RNN; RELU6 and RELU_N1_TO_1, which ONNX RNN cannot express, are unrolled over the (static) time
// steps into MatMul / Add / Clip. RNN is one step of a batch ([batch, input] -> [batch, units]).
// Hybrid ones (int8 weights, float input: dynamic-range quantization) are unrolled too, with
// nnport::HybridInputQuantize rounding the input and the hidden state to int8 per row before their
// matmuls on the dequantized weights, as the kernel's BatchQuantizeFloats does.
// The variable hidden state starts at zero: the interpreter's first invoke after allocating
// tensors (it carries the state over between invokes).
import { FormatError, QuantizationError, UnsupportedError } from '../../ir/errors.js';
import type { Attr, Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BidirectionalSequenceRNNOptions } from '../generated/tflite/bidirectional-sequence-rnnoptions.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { RNNOptions } from '../generated/tflite/rnnoptions.js';
import { SequenceRNNOptions } from '../generated/tflite/sequence-rnnoptions.js';
import type { OpContext, TfliteTensorInfo } from './read.js';

const int = (value: number): Attr => ({ type: 'int', value });
const ints = (value: number[]): Attr => ({ type: 'ints', value });

const present = (c: OpContext, i: number): boolean => c.inputs[i] !== undefined && c.inputs[i]! >= 0;

interface FloatRnn {
  /** the IR value the direction reads (time-major when `timeMajor`) */
  x: string;
  T: number | undefined;
  I: number;
  N: number;
  timeMajor: boolean;
  /** [N, I] */
  wx: Float32Array;
  /** [N, N] */
  wh: Float32Array;
  /** [N] */
  bias: Float32Array;
  act: ActivationFunctionType;
  /** TFLite's hybrid kernel: the matmul inputs rounded to int8 per row */
  hybrid?: { symmetric: boolean };
}

/** Where one direction's tensors sit among the op's inputs. */
interface RnnSlots {
  weights: number;
  recurrent: number;
  bias: number;
  state: number;
  /** aux input weights (cross-linked stacking) */
  aux?: number;
}

const noteOf = (op: string): string => `${op}: the variable hidden state starts at zero on every run (the interpreter's first invoke after allocating tensors; it carries it over between invokes)`;

function tensorOf(c: OpContext, i: number, what: string, out: string): TfliteTensorInfo {
  if (!present(c, i)) throw new FormatError(`${c.opName} '${out}': the ${what} (input ${i}) is missing`, { file: c.b.file });
  return c.b.tensors[c.inputs[i]!]!;
}

function outputOf(c: OpContext, k: number, expected: number): TfliteTensorInfo {
  const idx = c.outputs[k];
  const t = idx === undefined ? undefined : c.b.tensors[idx];
  if (!t) throw new FormatError(`${c.opName}: output ${k} is missing (${expected} expected)`, { file: c.b.file });
  if (c.outputs.length !== expected) throw new FormatError(`${c.opName} '${t.name}': ${c.outputs.length} outputs, ${expected} expected`, { file: c.b.file });
  if (t.quant || t.dtype !== 'float32') throw new UnsupportedError(`${c.opName} with a ${t.dtype} output`, `'${t.name}': nnport reads float RNNs`);
  return t;
}

/** A float constant input, checked against its expected shape. */
function constant(c: OpContext, i: number, what: string, shape: number[], out: string, hybrid: boolean): Float32Array {
  const t = tensorOf(c, i, what, out);
  if (t.dtype === 'uint8' || (t.dtype === 'int8' && !hybrid)) {
    throw new UnsupportedError(`dynamic-range (hybrid) ${c.opName}${t.dtype === 'uint8' ? ' with uint8 weights' : ''}`, `'${out}': ${what} '${t.name}' is ${t.dtype}; nnport reads float RNNs and hybrid ones with int8 input and recurrent weights`);
  }
  const v = c.b.initializers.get(t.name);
  if (!v) throw new UnsupportedError(`${c.opName} with a computed ${what}`, `'${out}': ${what} '${t.name}' must be a constant`);
  if (v.shape.length !== shape.length || v.shape.some((d, k) => d !== shape[k])) {
    throw new FormatError(`${c.opName} '${out}': ${what} '${t.name}' has shape [${v.shape.join(', ')}], [${shape.join(', ')}] expected`, { file: c.b.file });
  }
  if (t.dtype === 'int8') {
    // the hybrid kernel's int32 sums times input scale · weight scale: the float matmul of the
    // dequantized operands, to float rounding
    const q = t.quant;
    if (!q || q.scale.some((x) => x !== q.scale[0])) throw new QuantizationError(`${c.b.file}: hybrid ${c.opName} '${out}': ${what} '${t.name}' must have one scale (TFLite's hybrid kernel reads one per tensor)`);
    if (q.zeroPoint.some((z) => z !== 0)) throw new QuantizationError(`${c.b.file}: hybrid ${c.opName} '${out}': ${what} '${t.name}' has a nonzero zero point, the hybrid kernel takes symmetric weights`);
    return Float32Array.from(v.data as Int8Array, (w) => Math.fround(w * q.scale[0]!));
  }
  if (v.dtype !== 'float32') throw new UnsupportedError(`${c.opName} with ${v.dtype} ${what}`, `'${out}': '${t.name}'`);
  return v.data as Float32Array;
}

/** int8 weights under a float input: TFLite's hybrid kernel, which rounds its matmul inputs to int8 per row. */
function hybridOf(c: OpContext, weights: number, asymmetric: boolean): { symmetric: boolean } | undefined {
  return present(c, weights) && c.b.tensors[c.inputs[weights]!]!.dtype === 'int8' ? { symmetric: !asymmetric } : undefined;
}

function checkInputs(c: OpContext, expected: number, out: string): TfliteTensorInfo {
  if (c.inputs.length !== expected) throw new FormatError(`${c.opName} '${out}': ${c.inputs.length} inputs, ${expected} expected`, { file: c.b.file });
  const x = tensorOf(c, 0, 'input', out);
  if (x.dtype !== 'float32' || x.quant) throw new UnsupportedError(`${c.opName} with a ${x.dtype} input`, `'${out}': nnport reads float RNNs`);
  return x;
}

/** One direction: weights [N, I(+aux)], recurrent weights [N, N], bias [N], hidden state [B, N]. */
function readRnn(c: OpContext, out: string, slots: RnnSlots, x: TfliteTensorInfo, timeMajor: boolean, act: ActivationFunctionType, hybrid: { symmetric: boolean } | undefined, aux?: TfliteTensorInfo): FloatRnn {
  if (x.shape.length !== 3) throw new FormatError(`${c.opName} '${out}': input '${x.name}' must be 3-D, got [${x.shape.join(', ')}]`, { file: c.b.file });
  const w = tensorOf(c, slots.weights, 'input weights', out);
  if (w.shape.length !== 2) throw new FormatError(`${c.opName} '${out}': input weights '${w.name}' must be 2-D, got [${w.shape.join(', ')}]`, { file: c.b.file });
  const [N, I] = w.shape as [number, number];
  if (x.shape[2] !== I) throw new FormatError(`${c.opName} '${out}': input size ${x.shape[2]} differs from the weights' ${I}`, { file: c.b.file });
  const B = x.shape[timeMajor ? 1 : 0]!;
  const tAxis = timeMajor ? 0 : 1;
  const T = x.signature?.[tAxis] === -1 ? undefined : x.shape[tAxis];
  const state = tensorOf(c, slots.state, 'hidden state', out);
  if (state.shape.reduce((a, d) => a * d, 1) !== B * N) throw new FormatError(`${c.opName} '${out}': hidden state '${state.name}' [${state.shape.join(', ')}] must hold [${B}, ${N}] (batch, units)`, { file: c.b.file });
  let wx = constant(c, slots.weights, 'input weights', [N, I], out, !!hybrid);
  let inputs = I;
  if (aux && hybrid) throw new UnsupportedError(`hybrid ${c.opName} with an aux input`, `'${out}': nnport reads float cross-linked RNNs only`);
  if (aux) {
    // cross-linked stacking: x·Wᵀ + aux·Wauxᵀ = [x, aux]·[W, Waux]ᵀ
    const A = aux.shape[2]!;
    const wa = constant(c, slots.aux!, 'aux input weights', [N, A], out, !!hybrid);
    const m = new Float32Array(N * (I + A));
    for (let n = 0; n < N; n++) {
      m.set(wx.subarray(n * I, (n + 1) * I), n * (I + A));
      m.set(wa.subarray(n * A, (n + 1) * A), n * (I + A) + I);
    }
    wx = m;
    inputs = I + A;
  }
  return {
    x: x.name,
    T,
    I: inputs,
    N,
    timeMajor,
    wx,
    wh: constant(c, slots.recurrent, 'recurrent weights', [N, N], out, !!hybrid),
    bias: constant(c, slots.bias, 'bias', [N], out, false),
    act,
    hybrid,
  };
}

/** ONNX RNN's activation for TFLite's fused one, with its alpha / beta, when it has one. */
function onnxActivation(act: ActivationFunctionType): { name: string; alpha?: number; beta?: number } | undefined {
  switch (act) {
    case ActivationFunctionType.TANH:
      return { name: 'Tanh' };
    case ActivationFunctionType.RELU:
      return { name: 'Relu' };
    case ActivationFunctionType.NONE:
      return { name: 'Affine', alpha: 1, beta: 0 };
    default:
      return undefined;
  }
}

const CLIPPED: Partial<Record<ActivationFunctionType, [number, number]>> = {
  [ActivationFunctionType.RELU6]: [0, 6],
  [ActivationFunctionType.RELU_N1_TO_1]: [-1, 1],
};

function checkActivation(c: OpContext, act: ActivationFunctionType, out: string): void {
  if (!onnxActivation(act) && !CLIPPED[act]) throw new UnsupportedError(`${c.opName} with fused activation ${ActivationFunctionType[act] ?? act}`, `'${out}': NONE, RELU, RELU_N1_TO_1, RELU6 and TANH are read`);
}

/** One ONNX RNN over `dirs` (one, or a forward and a backward reading the same input), time-major; its Y [T, D, B, N]. */
function onnxRnn(c: OpContext, dirs: FloatRnn[], direction: 'forward' | 'reverse' | 'bidirectional', base: string, hybrid?: { symmetric: boolean }): { y4: string; node: Node } {
  const p0 = dirs[0]!;
  const { I, N } = p0;
  const D = dirs.length;
  const act = onnxActivation(p0.act)!;
  let xt = p0.x;
  if (!p0.timeMajor) {
    xt = c.b.fresh(`${base}/time_major_input`);
    c.b.node('Transpose', [p0.x], [xt], { perm: ints([1, 0, 2]) });
  }
  const cat = (parts: Float32Array[]): Float32Array => {
    const m = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      m.set(p, off);
      off += p.length;
    }
    return m;
  };
  const W = c.b.initializer(`${base}/W`, Tensor.float32([D, N, I], cat(dirs.map((p) => p.wx))));
  const R = c.b.initializer(`${base}/R`, Tensor.float32([D, N, N], cat(dirs.map((p) => p.wh))));
  const B = c.b.initializer(`${base}/B`, Tensor.float32([D, 2 * N], cat(dirs.flatMap((p) => [p.bias, new Float32Array(N)]))));
  const attrs: Record<string, Attr> = { hidden_size: int(N), activations: { type: 'strings', value: dirs.map(() => act.name) } };
  if (act.alpha !== undefined) attrs.activation_alpha = { type: 'floats', value: dirs.map(() => act.alpha!) };
  if (act.beta !== undefined) attrs.activation_beta = { type: 'floats', value: dirs.map(() => act.beta!) };
  if (direction !== 'forward') attrs.direction = { type: 'string', value: direction };
  if (hybrid) attrs.symmetric = int(hybrid.symmetric ? 1 : 0);
  const y4 = c.b.fresh(`${base}/Y`);
  const node = hybrid ? c.b.node('HybridRNN', [xt, W, R, B], [y4], attrs, 'nnport') : c.b.node('RNN', [xt, W, R, B], [y4], attrs);
  node.name = c.b.fresh(`${base}/rnn`);
  return { y4, node };
}

/**
 * RnnBatchStep step by step (from the last step to the first when `reverse`), the hybrid kernel's
 * int8 rounding of the input and the hidden state included; returns the node writing `out` in the
 * input's layout.
 */
function unrolledRnn(c: OpContext, p: FloatRnn, out: string, reverse: boolean): Node {
  const { T, I, N } = p;
  if (T === 0) throw new UnsupportedError(`${c.opName} over zero time steps`, `'${out}'`);
  const why = p.hybrid ? 'hybrid (int8 rounding of the input and the hidden state)' : `fused activation ${ActivationFunctionType[p.act]}`;
  if (T === undefined) throw new UnsupportedError(`${c.opName} ${why} with a dynamic sequence length`, `'${out}': ONNX RNN cannot express it, and unrolling it needs a fixed number of steps`);
  const b = c.b;
  const op = (type: string, inputs: string[], name: string, attrs: Record<string, Attr> = {}, domain = ''): string => {
    const v = b.fresh(name);
    b.node(type, inputs, [v], attrs, domain);
    return v;
  };
  // the hybrid kernel's matmul input, rounded to int8 per row (BatchQuantizeFloats)
  const rounded = (v: string, name: string): string => (p.hybrid ? op('HybridInputQuantize', [v], name, { symmetric: int(p.hybrid.symmetric ? 1 : 0), axis: int(-1) }, 'nnport') : v);
  const transposed = (w: Float32Array, rows: number, cols: number): Float32Array => {
    const m = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) m[k * rows + r] = w[r * cols + k]!;
    return m;
  };
  const WxT = b.initializer(`${out}/input_weights_t`, Tensor.float32([I, N], transposed(p.wx, N, I)));
  const WhT = b.initializer(`${out}/recurrent_weights_t`, Tensor.float32([N, N], transposed(p.wh, N, N)));
  const xw = op('Add', [op('MatMul', [rounded(p.x, `${out}/input_int8`), WxT], `${out}/input_projection`), b.initializer(`${out}/bias`, Tensor.float32([N], p.bias))], `${out}/input_projection_biased`);
  const activate = (v: string, name: string): string => {
    const clip = CLIPPED[p.act];
    if (clip) return op('Clip', [v, b.float(clip[0], `clip_${clip[0]}`), b.float(clip[1], `clip_${clip[1]}`)], name);
    if (p.act === ActivationFunctionType.TANH) return op('Tanh', [v], name);
    if (p.act === ActivationFunctionType.RELU) return op('Relu', [v], name);
    return v;
  };
  const tAxis = p.timeMajor ? 0 : 1;
  const steps = new Array<string>(T);
  let h: string | undefined;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const s = `${out}/step${t}`;
    const xt = op('Gather', [xw, b.constant(Tensor.int64([], [t]), `t${t}`)], `${s}/input`, { axis: int(tAxis) });
    // the state starts at zero: the first step has no recurrent term
    const pre = h ? op('Add', [xt, op('MatMul', [rounded(h, `${s}/state_int8`), WhT], `${s}/recurrent`)], `${s}/pre`) : xt;
    h = activate(pre, `${s}/h`);
    steps[t] = op('Unsqueeze', [h, b.int64s([tAxis], `axes_${tAxis}`)], `${s}/out`);
  }
  return b.node('Concat', steps, [out], { axis: int(tAxis) });
}

/** One direction's output [T, B, N] (batch-major: [B, T, N]) as the value `name`: an ONNX RNN or unrolled steps. */
function direction(c: OpContext, p: FloatRnn, reverse: boolean, name: string, note: string): void {
  // hybrid with tanh or relu: nnport::HybridRNN, ONNX RNN with the kernel's rounding of the input and the hidden state (the TFLite writer writes it back as is)
  if (p.hybrid && (p.act === ActivationFunctionType.TANH || p.act === ActivationFunctionType.RELU)) {
    const { y4, node } = onnxRnn(c, [p], reverse ? 'reverse' : 'forward', name, p.hybrid);
    node.doc = `${note}; hybrid: its on-the-fly int8 rounding of the input and the hidden state (${p.hybrid.symmetric ? 'symmetric' : 'asymmetric'} per row)`;
    fromY(c, y4, 0, p.timeMajor, name);
    return;
  }
  if (p.hybrid || !onnxActivation(p.act)) {
    unrolledRnn(c, p, name, reverse).doc = `${note}; unrolled over ${p.T} steps: ${p.hybrid ? `hybrid, its on-the-fly int8 rounding of the input and the hidden state (nnport::HybridInputQuantize, ${p.hybrid.symmetric ? 'symmetric' : 'asymmetric'} per row)` : `ONNX RNN has no ${ActivationFunctionType[p.act]}`}`;
    return;
  }
  const { y4, node } = onnxRnn(c, [p], reverse ? 'reverse' : 'forward', name);
  node.doc = note;
  fromY(c, y4, 0, p.timeMajor, name);
}

/** Direction d of an ONNX RNN's Y [T, D, B, N] as `name`, [T, B, N] or batch-major [B, T, N]. */
function fromY(c: OpContext, y4: string, d: number, timeMajor: boolean, name: string): void {
  const y3 = timeMajor ? name : c.b.fresh(`${name}/time_major`);
  c.b.node('Gather', [y4, c.b.constant(Tensor.int64([], [d]), `d${d}`)], [y3], { axis: int(1) });
  if (!timeMajor) c.b.node('Transpose', [y3], [name], { perm: ints([1, 0, 2]) });
}

const sequenceOptions = (c: OpContext): SequenceRNNOptions | null => (c.op.builtinOptionsType() === BuiltinOptions.SequenceRNNOptions ? (c.op.builtinOptions(new SequenceRNNOptions()) as SequenceRNNOptions) : null);

/** UNIDIRECTIONAL_SEQUENCE_RNN: input, weights, recurrent weights, bias, hidden state -> output. */
export function unidirectionalSequenceRnn(c: OpContext): void {
  const y = outputOf(c, 0, 1);
  const x = checkInputs(c, 5, y.name);
  const o = sequenceOptions(c);
  const act = o?.fusedActivationFunction() ?? ActivationFunctionType.NONE;
  checkActivation(c, act, y.name);
  const p = readRnn(c, y.name, { weights: 1, recurrent: 2, bias: 3, state: 4 }, x, o?.timeMajor() ?? false, act, hybridOf(c, 1, o?.asymmetricQuantizeInputs() ?? false));
  direction(c, p, false, y.name, noteOf(c.opName));
}

/** RNN: one step, input [batch, input] -> output [batch, units]. */
export function rnn(c: OpContext): void {
  const y = outputOf(c, 0, 1);
  const x = checkInputs(c, 5, y.name);
  if (x.shape.length !== 2) throw new FormatError(`RNN '${y.name}': input '${x.name}' must be 2-D [batch, input], got [${x.shape.join(', ')}]`, { file: c.b.file });
  const o = c.op.builtinOptionsType() === BuiltinOptions.RNNOptions ? (c.op.builtinOptions(new RNNOptions()) as RNNOptions) : null;
  const act = o?.fusedActivationFunction() ?? ActivationFunctionType.NONE;
  checkActivation(c, act, y.name);
  // one time-major step: [1, batch, input]
  const x3 = c.b.fresh(`${y.name}/step_input`);
  c.b.node('Unsqueeze', [x.name, c.b.int64s([0], 'axes_0')], [x3]);
  const p = readRnn(c, y.name, { weights: 1, recurrent: 2, bias: 3, state: 4 }, { ...x, name: x3, shape: [1, ...x.shape], signature: undefined }, true, act, hybridOf(c, 1, o?.asymmetricQuantizeInputs() ?? false));
  const y3 = c.b.fresh(`${y.name}/step_output`);
  direction(c, p, false, y3, noteOf('RNN'));
  c.b.node('Squeeze', [y3, c.b.int64s([0], 'axes_0')], [y.name]);
}

/**
 * BIDIRECTIONAL_SEQUENCE_RNN (bidirectional_sequence_rnn.cc): a forward and a backward RNN over
 * the same input, the backward one from the last step to the first with each step's output at
 * its own time position; with merge_outputs one output [fw, bw] on the last axis. An aux input
 * with aux weights (cross-linked stacking) adds aux·Wauxᵀ to both directions; one without aux
 * weights, which the batch-major kernel ignores and the time-major kernel feeds to the backward
 * direction, is refused.
 */
export function bidirectionalSequenceRnn(c: OpContext): void {
  const o = c.op.builtinOptionsType() === BuiltinOptions.BidirectionalSequenceRNNOptions ? (c.op.builtinOptions(new BidirectionalSequenceRNNOptions()) as BidirectionalSequenceRNNOptions) : null;
  const merge = o?.mergeOutputs() ?? false;
  const timeMajor = o?.timeMajor() ?? false;
  const outs = (merge ? [0] : [0, 1]).map((k) => outputOf(c, k, merge ? 1 : 2).name);
  const out = outs[0]!;
  const x = checkInputs(c, 12, out);
  const act = o?.fusedActivationFunction() ?? ActivationFunctionType.NONE;
  checkActivation(c, act, out);
  const aux = present(c, 9) ? c.b.tensors[c.inputs[9]!]! : undefined;
  if (present(c, 10) !== present(c, 11)) throw new FormatError(`BIDIRECTIONAL_SEQUENCE_RNN '${out}': aux input weights for one direction only`, { file: c.b.file });
  if (present(c, 10) && !aux) throw new FormatError(`BIDIRECTIONAL_SEQUENCE_RNN '${out}': aux input weights without an aux input`, { file: c.b.file });
  if (aux && !present(c, 10)) throw new UnsupportedError('BIDIRECTIONAL_SEQUENCE_RNN with an aux input and no aux weights', `'${out}': TFLite's batch-major kernel ignores it, its time-major kernel feeds it to the backward direction`);
  if (aux) {
    if (aux.dtype !== 'float32' || aux.shape.length !== 3 || aux.shape[0] !== x.shape[0] || aux.shape[1] !== x.shape[1]) {
      throw new FormatError(`BIDIRECTIONAL_SEQUENCE_RNN '${out}': aux input '${aux.name}' [${aux.shape.join(', ')}] must be float and 3-D with the input's first two dimensions`, { file: c.b.file });
    }
    // the time-major kernel steps through the aux input with the input's row size
    if (aux.shape[2] !== x.shape[2]) throw new UnsupportedError(`BIDIRECTIONAL_SEQUENCE_RNN with an aux input of ${aux.shape[2]} features beside an input of ${x.shape[2]}`, `'${out}': TFLite's kernel reads the aux input with the input's row size`);
  }
  const hybrid = hybridOf(c, 1, o?.asymmetricQuantizeInputs() ?? false);
  // the hybrid time-major kernel runs the whole sequence max_time times over, carrying the state
  if (hybrid && timeMajor) throw new UnsupportedError('hybrid time-major BIDIRECTIONAL_SEQUENCE_RNN', `'${out}': TFLite's hybrid time-major kernel runs the sequence once per time step, carrying its state over`);
  const fw = readRnn(c, `${out}/fw`, { weights: 1, recurrent: 2, bias: 3, state: 4, aux: 10 }, x, timeMajor, act, hybrid, aux);
  const bw = readRnn(c, `${out}/bw`, { weights: 5, recurrent: 6, bias: 7, state: 8, aux: 11 }, x, timeMajor, act, hybrid, aux);
  if (aux) {
    fw.x = bw.x = c.b.fresh(`${out}/input_with_aux`);
    c.b.node('Concat', [x.name, aux.name], [fw.x], { axis: int(2) });
  }
  const note = noteOf(c.opName);
  const names = [c.b.fresh(`${out}/fw_out`), c.b.fresh(`${out}/bw_out`)];
  if (!hybrid && onnxActivation(act) && fw.N === bw.N) {
    const { y4, node } = onnxRnn(c, [fw, bw], 'bidirectional', out);
    node.doc = note;
    fromY(c, y4, 0, timeMajor, names[0]!);
    fromY(c, y4, 1, timeMajor, names[1]!);
  } else {
    direction(c, fw, false, names[0]!, note);
    direction(c, bw, true, names[1]!, note);
  }
  if (merge) {
    c.b.node('Concat', names, [out], { axis: int(2) });
    return;
  }
  c.b.node('Identity', [names[0]!], [out]);
  if (timeMajor) {
    // Prepare resizes the separate backward output to [batch, time, units] whatever time_major
    // says, while Eval writes it time-major: the interpreter's tensor is the time-major data
    // under a batch-major shape
    const B = x.shape[1]!;
    c.b.node('Reshape', [names[1]!, c.b.int64s([B, -1, bw.N], `${outs[1]}/shape`)], [outs[1]!]);
  } else {
    c.b.node('Identity', [names[1]!], [outs[1]!]);
  }
}
