// ONNX LSTM / RNN -> TFLite's fused sequence ops, as TF's converter writes a Keras LSTM /
// SimpleRNN: one UNIDIRECTIONAL_SEQUENCE_LSTM (or _RNN) per direction with variable state
// tensors (no buffer, is_variable: the interpreter zeroes them when it allocates, then carries
// them from one invoke to the next), a REVERSE_V2 of the time axis on both sides of a reverse
// direction, and a PACK of the two directions of a bidirectional layer (TF's converter writes a
// Keras Bidirectional the same way: two unidirectional ops, the backward one between REVERSE_V2s).
// ONNX's Y [T, D, B, H] (layout 1: [B, T, D, H]) is the ops' [T, B, H] outputs with the direction
// axis put in; Y_h is each direction's last step, which for the reverse one is the first step of
// the sequence: the last step of its op's output before the second REVERSE_V2.
//
// nnport::HybridLSTM / HybridRNN (a hybrid op read from TFLite, or an ONNX LSTM / RNN under
// --quantize dynamic: hybridRecurrentOps) become TFLite's hybrid kernels, as TF's converter writes
// them for dynamic-range quantization: every weight tensor int8 with one symmetric scale (the
// kernels read GetTensorScale, the legacy per-tensor scale: per-channel parameters give them 0),
// the peepholes too (lstm_eval.cc dequantizes them with their scale), biases and state float32,
// asymmetric_quantize_inputs as the op says (TF's converter sets it).
//
// What TFLite's kernels cannot compute is refused by name: clip (ONNX bounds the gates'
// pre-activations; TFLite's cell_clip bounds the cell state), activations other than TFLite's one
// fused one (sigmoid gates; tanh or relu for the cell and hidden), a used Y_c (TFLite's cell state
// is not an output), sequence_lens shorter than the sequence, and non-zero initial states (TFLite
// starts from its zeroed variable tensors).
import { UnsupportedError } from '../../ir/errors.js';
import type { Graph, Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { HYBRID_RECURRENT, parseRecurrentAttrs, type RecurrentAttrs, type RecurrentOp } from '../../ir/ops/recurrent.js';
import { LSTM_INPUT } from '../../ir/ops/stateful.js';
import { Tensor } from '../../ir/tensor.js';
import type { QuantizeOptions } from '../../passes/quantize.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ConcatenationOptions } from '../generated/tflite/concatenation-options.js';
import { PackOptions } from '../generated/tflite/pack-options.js';
import { ReshapeOptions } from '../generated/tflite/reshape-options.js';
import { ReverseV2Options } from '../generated/tflite/reverse-v2-options.js';
import { SequenceRNNOptions } from '../generated/tflite/sequence-rnnoptions.js';
import { SliceOptions } from '../generated/tflite/slice-options.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { UnidirectionalSequenceLSTMOptions } from '../generated/tflite/unidirectional-sequence-lstmoptions.js';
import type { WriteContext } from './ops-write.js';
import { fusedActivation } from './recurrent-unroll.js';

const int32 = (values: number[]): Tensor => new Tensor('int32', [values.length], Int32Array.from(values));


interface Layer {
  n: Node;
  op: RecurrentOp;
  a: RecurrentAttrs;
  x: string;
  /** X's [T, B, I] as laid out (layout 1: [B, T, I]) */
  shape: number[];
  signature?: number[];
  tAxis: number;
  H: number;
  I: number;
  W: Tensor;
  R: Tensor;
  /** [D, 2·gates·H] (Wb then Rb) */
  B?: Tensor;
  act: ActivationFunctionType;
}

const where = (n: Node): string => `node '${n.name}'`;

/** The checks shared by LSTM and RNN; throws UnsupportedError naming what TFLite cannot do. */
function readLayer(n: Node, c: WriteContext, op: RecurrentOp): Layer {
  const a = parseRecurrentAttrs(n, op);
  const label = `${op} '${n.name}'`;
  const x = c.tensor(n.inputs[0]!);
  const xi = c.info(x);
  if (xi.dtype !== 'float32' || xi.quant) throw new UnsupportedError(`${op} on ${xi.quant ? 'quantized' : xi.dtype} data in a TFLite file`, `${where(n)}: nnport writes float32 recurrent ops`);
  const weight = (i: number, what: string): Tensor => {
    const t = n.inputs[i] ? c.constantOf(n.inputs[i]!) : undefined;
    if (!t) throw new UnsupportedError(`${op} with computed ${what} in a TFLite file`, `${where(n)}: the ${what} must be constants`);
    if (t.dtype !== 'float32') throw new UnsupportedError(`${op} with ${t.dtype} ${what} in a TFLite file`, where(n));
    return t;
  };
  // declared, so that the per-gate constants laid out from them know whether they were float16 (--quantize float16)
  for (const i of [1, 2, 3, 7]) if (n.inputs[i] && c.constantOf(n.inputs[i]!)) c.tensor(n.inputs[i]!);
  const W = weight(1, 'input weights (W)');
  const R = weight(2, 'recurrent weights (R)');
  const B = n.inputs[3] ? weight(3, 'biases (B)') : undefined;
  const H = R.shape[2]!;
  const I = W.shape[2]!;
  if (a.clip !== undefined) throw new UnsupportedError(`${op} clip in a TFLite file`, `${where(n)}: ONNX's clip ${a.clip} bounds the gates' pre-activations; TFLite's cell_clip bounds the cell state`);
  const act = fusedActivation(a);
  if (act === undefined) {
    const acts = a.activations.map((d) => d.map((f) => f.name));
    throw new UnsupportedError(`${op} activations ${acts.map((d) => d.join(', ')).join(' / ')} in a TFLite file`, `${where(n)}: TFLite's ${op === 'LSTM' ? 'LSTM takes sigmoid gates and one activation, tanh or relu, for the cell and hidden state' : 'RNN takes one activation, tanh or relu'}`);
  }
  const tAxis = a.layout === 0 ? 0 : 1;
  const shape = c.shapeOf(x);
  const T = xi.signature?.[tAxis] === -1 ? undefined : shape[tAxis];
  // sequence_lens equal to the sequence length everywhere is no masking at all
  if (n.inputs[4]) {
    const lens = c.constantOf(n.inputs[4]);
    if (!lens || T === undefined || lens.toNumbers().some((v) => v !== T)) {
      throw new UnsupportedError(`${op} sequence_lens in a TFLite file`, `${where(n)}: TFLite's sequence ops have no per-sequence length; only sequence_lens equal to the sequence length${T === undefined ? '' : ` (${T})`} everywhere is written`);
    }
  }
  // initial states: TFLite's state tensors start at zero
  const states = op === 'LSTM' ? [5, 6] : [5];
  for (const i of states) {
    if (!n.inputs[i]) continue;
    const s = c.constantOf(n.inputs[i]!);
    if (!s || s.toNumbers().some((v) => v !== 0)) {
      throw new UnsupportedError(`${op} with a non-zero initial ${i === 5 ? 'hidden' : 'cell'} state in a TFLite file`, `${where(n)}: TFLite's variable state tensors start at zero`);
    }
  }
  if (op === 'LSTM' && n.outputs[2] && c.isRead(n.outputs[2])) {
    throw new UnsupportedError(`LSTM Y_c output in a TFLite file`, `${where(n)}: TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM does not output its cell state`);
  }
  return { n, op, a, x, shape, signature: xi.signature, tAxis, H, I, W, R, B, act };
}

/**
 * TFLite's SymmetricQuantizeFloats, as TF's converter quantizes each weight tensor of a hybrid op:
 * one scale max|w| / 127, values round(w · 127 / max|w|) in [-127, 127] (an all-zero tensor: scale 1).
 */
export function symmetricInt8(w: Float32Array): { q: Int8Array; scale: number } {
  let range = 0;
  for (let k = 0; k < w.length; k++) range = Math.max(range, Math.abs(w[k]!));
  const q = new Int8Array(w.length);
  if (!(range > 0)) return { q, scale: 1 };
  const inv = Math.fround(127 / range);
  for (let k = 0; k < w.length; k++) {
    const v = Math.fround(w[k]! * inv);
    q[k] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
  }
  return { q, scale: Math.fround(range / 127) };
}

/** A weight (or peephole) constant of a direction: float32, or int8 with its one scale for a hybrid op. */
function weightConstant(c: WriteContext, l: Layer, base: string, t: Tensor, from: string | undefined): string {
  if (!l.a.hybrid) return c.addConstant(base, t, undefined, from);
  const { q, scale } = symmetricInt8(t.toFloat32());
  return c.addConstant(base, new Tensor('int8', [...t.shape], q), { scale: [scale], zeroPoint: [0] });
}

/**
 * The operator version of a hybrid sequence op (TF's op_version.cc): 2, and 3 with
 * asymmetric_quantize_inputs (a runtime older than that flag refuses the op instead of rounding
 * its inputs symmetrically); float ops keep version 1.
 */
const hybridVersion = (l: Layer): number | undefined => (l.a.hybrid ? (l.a.hybrid.symmetric ? 2 : 3) : undefined);

/** Rows [r0, r0 + rows) of direction d of a [D, rows·k, cols] tensor, as a [rows, cols] constant. */
function rowsOf(t: Tensor, d: number, r0: number, rows: number, negate = false): Tensor {
  const cols = t.shape[2]!;
  const src = t.toFloat32();
  const out = new Float32Array(rows * cols);
  const base = (d * t.shape[1]! + r0) * cols;
  for (let k = 0; k < rows * cols; k++) out[k] = negate ? -src[base + k]! : src[base + k]!;
  return Tensor.float32([rows, cols], out);
}

/** Wb + Rb of gate g (of `gates`) for direction d: TFLite has one bias per gate. */
function biasOf(l: Layer, d: number, g: number, gates: number, negate = false): Tensor {
  const H = l.H;
  const out = new Float32Array(H);
  if (l.B) {
    const b = l.B.toFloat32();
    const base = d * 2 * gates * H;
    for (let j = 0; j < H; j++) {
      const v = b[base + g * H + j]! + b[base + (gates + g) * H + j]!;
      out[j] = negate ? -v : v;
    }
  }
  return Tensor.float32([H], out);
}

/** A [T, B, H] (layout 1: [B, T, H]) float tensor like the layer's input, H wide. */
function sequenceLike(c: WriteContext, l: Layer, base: string): string {
  const info = c.info(l.x);
  return c.addTensor(base, { name: '', dtype: 'float32', shape: [...l.shape.slice(0, 2), l.H], signature: info.signature ? [...info.signature.slice(0, 2), l.H] : undefined });
}

/** The variable state tensor [B, size] of one direction. */
function stateTensor(c: WriteContext, l: Layer, base: string): string {
  const bAxis = 1 - l.tAxis;
  const B = l.shape[bAxis]!;
  const dynamic = l.signature?.[bAxis] === -1;
  return c.addTensor(base, { name: '', dtype: 'float32', shape: [B, l.H], signature: dynamic ? [-1, l.H] : undefined, variable: true });
}

function reverseTime(c: WriteContext, l: Layer, x: string, out: string): void {
  c.emit({ code: BuiltinOperator.REVERSE_V2, inputs: [x, c.addConstant(`${out}_axis`, int32([l.tAxis]))], outputs: [out], options: (b) => [BuiltinOptions.ReverseV2Options, ReverseV2Options.createReverseV2Options(b)] });
}

/** One direction of an LSTM: its weights, per gate, as TFLite takes them; returns the op's output (in the op's time order). */
function lstmDirection(c: WriteContext, l: Layer, d: number, x: string, base: string): string {
  const { n, H } = l;
  const [W, R, Bn, P] = [n.inputs[1]!, n.inputs[2]!, n.inputs[3] ?? '', n.inputs[7] ?? ''];
  const cifg = l.a.inputForget;
  const IN = LSTM_INPUT;
  const inputs = new Array<string>(24).fill('');
  inputs[IN.input] = x;
  // ONNX gate rows: i, o, f, c. TFLite's CIFG computes i = 1 - f where ONNX's input_forget computes
  // f = 1 - i: TFLite's forget gate is ONNX's input gate negated (σ(-z) = 1 - σ(z)), so that TFLite's
  // i = 1 - σ(-z_i) = σ(z_i) and f = σ(-z_i) = 1 - i, ONNX's two gates
  const gate = { i: 0, o: 1, f: 2, c: 3 } as const;
  const weights = (g: keyof typeof gate, slot: { wx: number; wh: number; b: number }, from: keyof typeof gate = g, negate = false) => {
    inputs[slot.wx] = weightConstant(c, l, `${base}_input_to_${g}_weights`, rowsOf(l.W, d, gate[from] * H, H, negate), W);
    inputs[slot.wh] = weightConstant(c, l, `${base}_recurrent_to_${g}_weights`, rowsOf(l.R, d, gate[from] * H, H, negate), R);
    inputs[slot.b] = c.addConstant(`${base}_${g}_gate_bias`, biasOf(l, d, gate[from], 4, negate), undefined, Bn || undefined);
  };
  if (!cifg) weights('i', { wx: IN.inputToInput, wh: IN.recurrentToInput, b: IN.inputGateBias });
  weights('f', { wx: IN.inputToForget, wh: IN.recurrentToForget, b: IN.forgetGateBias }, cifg ? 'i' : 'f', cifg);
  weights('c', { wx: IN.inputToCell, wh: IN.recurrentToCell, b: IN.cellGateBias });
  weights('o', { wx: IN.inputToOutput, wh: IN.recurrentToOutput, b: IN.outputGateBias });
  if (P) {
    // ONNX P [D, 3H]: i, o, f
    const p = c.constantOf(P);
    if (!p) throw new UnsupportedError('LSTM with computed peephole weights (P) in a TFLite file', where(n));
    const pv = p.toFloat32();
    const vec = (k: number, negate = false) => Tensor.float32([H], Float32Array.from(pv.subarray((3 * d + k) * H, (3 * d + k + 1) * H), (v) => (negate ? -v : v)));
    if (!cifg) inputs[IN.cellToInput] = weightConstant(c, l, `${base}_cell_to_input_weights`, vec(0), P);
    inputs[IN.cellToForget] = weightConstant(c, l, `${base}_cell_to_forget_weights`, cifg ? vec(0, true) : vec(2), P);
    inputs[IN.cellToOutput] = weightConstant(c, l, `${base}_cell_to_output_weights`, vec(1), P);
  }
  inputs[IN.outputState] = stateTensor(c, l, `${base}_output_state`);
  inputs[IN.cellState] = stateTensor(c, l, `${base}_cell_state`);
  const out = sequenceLike(c, l, `${base}_output`);
  const timeMajor = l.a.layout === 0;
  c.emit({
    code: BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
    inputs,
    outputs: [out],
    version: hybridVersion(l),
    options: (b) => [BuiltinOptions.UnidirectionalSequenceLSTMOptions, UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, l.act, l.a.cellClip ?? 0, 0, timeMajor, !!l.a.hybrid && !l.a.hybrid.symmetric, false)],
  });
  return out;
}

/** One direction of an RNN: h = act(W x + R h + Wb + Rb). */
function rnnDirection(c: WriteContext, l: Layer, d: number, x: string, base: string): string {
  const { n, H } = l;
  const w = weightConstant(c, l, `${base}_input_weights`, rowsOf(l.W, d, 0, H), n.inputs[1]);
  const r = weightConstant(c, l, `${base}_recurrent_weights`, rowsOf(l.R, d, 0, H), n.inputs[2]);
  const bias = c.addConstant(`${base}_bias`, biasOf(l, d, 0, 1), undefined, n.inputs[3] || undefined);
  const state = stateTensor(c, l, `${base}_hidden_state`);
  const out = sequenceLike(c, l, `${base}_output`);
  const timeMajor = l.a.layout === 0;
  c.emit({
    code: BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN,
    inputs: [x, w, r, bias, state],
    outputs: [out],
    version: hybridVersion(l),
    options: (b) => [BuiltinOptions.SequenceRNNOptions, SequenceRNNOptions.createSequenceRNNOptions(b, timeMajor, l.act, !!l.a.hybrid && !l.a.hybrid.symmetric)],
  });
  return out;
}

function reshape(c: WriteContext, x: string, y: string): void {
  const info = c.info(y);
  const shape = info.signature ?? info.shape;
  c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(shape))], outputs: [y], options: (b) => [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, shape))] });
}

function writeRecurrent(n: Node, c: WriteContext, op: 'LSTM' | 'RNN'): void {
  const l = readLayer(n, c, op);
  const D = l.a.numDirections;
  const layout = l.a.layout;
  const base = n.outputs.find((o) => o) ?? n.name;
  const raws: string[] = [];
  const seqs: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = l.a.direction === 'reverse' || d === 1;
    const name = D === 2 ? `${base}_${d === 0 ? 'forward' : 'backward'}` : base;
    let x = l.x;
    if (reverse) {
      x = c.addTensor(`${name}_reversed_input`, { ...c.info(l.x), name: '', quant: undefined });
      reverseTime(c, l, l.x, x);
    }
    const raw = op === 'LSTM' ? lstmDirection(c, l, d, x, name) : rnnDirection(c, l, d, x, name);
    raws.push(raw);
    let seq = raw;
    if (reverse && n.outputs[0] && c.isRead(n.outputs[0])) {
      seq = c.addTensor(`${name}_output_in_order`, { ...c.info(raw), name: '' });
      reverseTime(c, l, raw, seq);
    }
    seqs.push(seq);
  }
  // Y [T, D, B, H] (layout 1: [B, T, D, H]): the direction axis put in (D = 1) or the two packed
  const y = n.outputs[0];
  if (y && c.isRead(y)) {
    const yt = c.tensor(y);
    const dAxis = layout === 0 ? 1 : 2;
    if (D === 1) reshape(c, seqs[0]!, yt);
    else c.emit({ code: BuiltinOperator.PACK, inputs: seqs, outputs: [yt], options: (b) => [BuiltinOptions.PackOptions, PackOptions.createPackOptions(b, 2, dAxis)] });
  }
  // Y_h [D, B, H] (layout 1: [B, D, H]): each op's last step (a reverse direction's is the sequence's first)
  const yh = n.outputs[1];
  if (yh && c.isRead(yh)) {
    const T = l.signature?.[l.tAxis] === -1 ? undefined : l.shape[l.tAxis];
    if (T === 0) throw new UnsupportedError(`${op} Y_h over zero time steps in a TFLite file`, where(n));
    const steps = raws.map((raw, d) => {
      const info = c.info(raw);
      const shape = [...info.shape];
      shape[l.tAxis] = 1;
      const sig = info.signature ? [...info.signature] : undefined;
      if (sig) sig[l.tAxis] = 1;
      const out = D === 1 ? c.tensor(yh) : c.addTensor(`${yh}_${d === 0 ? 'forward' : 'backward'}`, { name: '', dtype: 'float32', shape, signature: sig });
      if (T !== undefined) {
        const begin = [0, 0, 0];
        begin[l.tAxis] = T - 1;
        const size = [-1, -1, -1];
        size[l.tAxis] = 1;
        c.emit({ code: BuiltinOperator.SLICE, inputs: [raw, c.addConstant(`${out}_begin`, int32(begin)), c.addConstant(`${out}_size`, int32(size))], outputs: [out], options: (b) => [BuiltinOptions.SliceOptions, SliceOptions.createSliceOptions(b)] });
        return out;
      }
      // a dynamic sequence: the last step counted from the end
      const begin = [0, 0, 0];
      begin[l.tAxis] = -1;
      const others = 0b111 & ~(1 << l.tAxis);
      const inputs = [raw, c.addConstant(`${out}_begin`, int32(begin)), c.addConstant(`${out}_end`, int32([0, 0, 0])), c.addConstant(`${out}_strides`, int32([1, 1, 1]))];
      c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs, outputs: [out], options: (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, others, 0b111, 0, 0, 0, false)] });
      return out;
    });
    // the sliced step already has Y_h's shape: [1, B, H] (layout 1: [B, 1, H])
    if (D === 2) {
      const axis = layout === 0 ? 0 : 1;
      c.emit({ code: BuiltinOperator.CONCATENATION, inputs: steps, outputs: [c.tensor(yh)], options: (b) => [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, axis, ActivationFunctionType.NONE)] });
    }
  }
}

/** ONNX LSTM -> UNIDIRECTIONAL_SEQUENCE_LSTM per direction. */
export function writeLstm(n: Node, c: WriteContext): void {
  writeRecurrent(n, c, 'LSTM');
}

/** ONNX RNN -> UNIDIRECTIONAL_SEQUENCE_RNN per direction. */
export function writeRnn(n: Node, c: WriteContext): void {
  writeRecurrent(n, c, 'RNN');
}

/** ONNX GRU: TFLite has no GRU builtin (prepareForTflite unrolls the GRUs it can: recurrent-unroll.ts). */
export function writeGru(n: Node): void {
  throw new UnsupportedError('GRU in a TFLite file', `${where(n)}: TFLite has no GRU builtin op; nnport unrolls a GRU over its steps when the model goes through writeTflite`);
}

const RECURRENT = new Set(['LSTM', 'RNN', 'GRU']);

/** ONNX LSTM / RNN / GRU, and nnport::HybridLSTM / HybridRNN */
const isRecurrent = (n: Node): boolean => ((n.domain === '' || n.domain === 'ai.onnx') && RECURRENT.has(n.opType)) || (n.domain === 'nnport' && HYBRID_RECURRENT[n.opType] !== undefined);

/**
 * What --quantize does to the recurrent ops, before the graph is prepared: float16 stores their
 * weights as float16 behind DEQUANTIZE like every other weight; dynamic quantizes an unrolled
 * GRU's weights like any dense layer's and makes LSTM / RNN hybrid (hybridRecurrentOps, after the
 * graph is prepared); int8 writes an LSTM as TFLite's integer LSTM (src/passes/quantize-recurrent.ts)
 * and a GRU, an RNN and an LSTM that op cannot compute as their unrolled steps in int8 ops
 * (prepareForTflite unrolls them); int16x8 takes an unrolled GRU and refuses LSTM / RNN (the interpreter
 * aborts on an unrolled 16x8 LSTM; an unrolled 16x8 bidirectional relu RNN's final state is not its
 * reference kernels' in nnport's integer runtime).
 */
export function recurrentQuantization(g: Graph, q: QuantizeOptions): void {
  const ops = g.nodes.filter(isRecurrent);
  if (!ops.length) return;
  const label = (list: Node[]) => list.map((n) => `${n.opType} '${n.name}'`).join(', ');
  const refused = q.mode === 'int16x8' ? ops.filter((n) => n.opType !== 'GRU') : [];
  if (refused.length) throw new UnsupportedError(`${refused[0]!.opType} with --quantize int16x8 in a TFLite file`, `${label(refused)}: nnport writes a GRU only (unrolled) under int16x8; use --quantize int8, dynamic or float16`);
}

/** TF's converter's default --min-elements: smaller weight tensors stay float. */
const DYNAMIC_MIN_ELEMENTS = 1024;

/**
 * --quantize dynamic, on the prepared graph: each ONNX LSTM / RNN becomes nnport::HybridLSTM /
 * HybridRNN, written as TFLite's hybrid kernel (int8 weights, float activations), as TF's
 * converter writes dynamic-range recurrent layers: asymmetric input rounding (TF sets
 * asymmetric_quantize_inputs), and its weights replaced by the values the file's int8 weights
 * stand for (each direction's gate matrix and peephole vector to int8 with one scale, the
 * writer's rounding), so that nnport's runtime computes what the file does. An op whose largest
 * gate matrix has fewer than minElements (1024) elements stays float (TF's converter leaves a
 * recurrent layer float when any of its weight tensors is that small), as does every one under
 * `dynamic: 'weight-only'` (TFLite's sequence ops have no weight-only int8 form): with a note.
 */
export function hybridRecurrentOps(g: Graph, q: QuantizeOptions): Graph {
  if (q.mode !== 'dynamic') return g;
  const ops = g.nodes.filter((n) => (n.domain === '' || n.domain === 'ai.onnx') && (n.opType === 'LSTM' || n.opType === 'RNN'));
  if (!ops.length) return g;
  const minElements = q.minElements ?? DYNAMIC_MIN_ELEMENTS;
  const label = (n: Node) => `${n.opType} '${n.name}'`;
  if (q.dynamic === 'weight-only') {
    q.onNote?.(`${ops.map(label).join(', ')}: weights kept float32 under --quantize dynamic with weight-only kernels (TFLite's sequence ops take int8 weights only in their hybrid kernels)`);
    return g;
  }
  const initializers = new Map(g.initializers);
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  // t with each block of `size` elements (a direction's gate matrix or peephole vector) rounded as symmetricInt8
  const rounded = (name: string, t: Tensor, size: number): string => {
    const src = t.toFloat32();
    const out = new Float32Array(src.length);
    for (let from = 0; from < src.length; from += size) {
      const { q: ints, scale } = symmetricInt8(src.subarray(from, from + size));
      for (let k = 0; k < ints.length; k++) out[from + k] = Math.fround(ints[k]! * scale);
    }
    const fq = fresh(`${name}_int8_values`);
    initializers.set(fq, new Tensor('float32', [...t.shape], out));
    return fq;
  };
  const hybrid = new Map<Node, Node>();
  for (const n of ops) {
    const W = n.inputs[1] ? initializers.get(n.inputs[1]) : undefined;
    const R = n.inputs[2] ? initializers.get(n.inputs[2]) : undefined;
    const P = n.opType === 'LSTM' && n.inputs[7] ? initializers.get(n.inputs[7]) : undefined;
    // computed or non-float weights: the writer says what it cannot write
    if (!W || !R || W.rank !== 3 || R.rank !== 3 || W.dtype !== 'float32' || R.dtype !== 'float32' || (n.inputs[7] && n.opType === 'LSTM' && P?.dtype !== 'float32')) continue;
    const H = R.shape[2]!;
    const largest = H * Math.max(W.shape[2]!, H);
    if (largest < minElements) {
      q.onNote?.(`${label(n)}: weights kept float32 under --quantize dynamic (its largest gate weight matrix has ${largest} elements, fewer than --min-elements ${minElements}; TF's converter leaves such recurrent layers float too)`);
      continue;
    }
    const inputs = [...n.inputs];
    inputs[1] = rounded(n.inputs[1]!, W, H * W.shape[2]!);
    inputs[2] = rounded(n.inputs[2]!, R, H * H);
    // P [D, 3H]: each direction's three peephole vectors
    if (P) inputs[7] = rounded(n.inputs[7]!, P, H);
    hybrid.set(n, { ...n, opType: `Hybrid${n.opType}`, domain: 'nnport', inputs, attrs: { ...n.attrs, symmetric: { type: 'int', value: 0 } } });
  }
  if (!hybrid.size) return g;
  return { ...g, nodes: g.nodes.map((n) => hybrid.get(n) ?? n), initializers, opsets: { ...g.opsets, nnport: g.opsets.nnport ?? 1 } };
}

/**
 * A dynamic batch read by a recurrent op fixed at 1 (the model's inputs' dims of that name): TFLite's
 * sequence ops keep [batch, hidden] state tensors that do not follow a resized input, and PyTorch's
 * zero initial states, made from x.shape, would otherwise fix a dynamic time axis along with the
 * batch when the writer folds them. The time axis then stays dynamic (-1 in shape_signature).
 */
export function fixRecurrentBatch(g: Graph): Graph {
  if (!g.nodes.some(isRecurrent)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const names = new Set<string>();
  for (const n of g.nodes) {
    const b = isRecurrent(n) ? shapes.get(n.inputs[0]!)?.shape?.[1 - attrLayout(n)] : undefined;
    if (typeof b === 'string') names.add(b);
  }
  if (!names.size) return g;
  return { ...g, inputs: g.inputs.map((v) => (v.shape?.some((d) => typeof d === 'string' && names.has(d)) ? { ...v, shape: v.shape.map((d) => (typeof d === 'string' && names.has(d) ? 1 : d)) } : v)) };
}

/** The recurrent nodes of a graph whose sequence length is not a fixed number (a dynamic time axis). */
export function dynamicSequenceNodes(g: Graph): Set<string> {
  if (!g.nodes.some(isRecurrent)) return new Set();
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  return new Set(g.nodes.filter((n) => isRecurrent(n) && typeof shapes.get(n.inputs[0]!)?.shape?.[attrLayout(n)] !== 'number').map((n) => n.name));
}

const attrLayout = (n: Node): number => (n.attrs.layout?.type === 'int' && n.attrs.layout.value === 1 ? 1 : 0);

/**
 * A dynamic sequence length the prepared graph fixed (the writer folds shape computations that
 * follow dynamic dims -- PyTorch's zero initial states made from x.shape -- at dim 1): the file
 * would take sequences of that one length only. Refused rather than written.
 */
export function refusePinnedSequences(g: Graph, dynamic: ReadonlySet<string>): void {
  if (!dynamic.size) return;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  for (const n of g.nodes) {
    if (!isRecurrent(n) || !dynamic.has(n.name)) continue;
    const T = shapes.get(n.inputs[0]!)?.shape?.[attrLayout(n)];
    if (typeof T === 'number') {
      throw new UnsupportedError(`${n.opType} over a dynamic sequence length in a TFLite file`, `${where(n)}: its input's time axis is dynamic and the shape computations around it (e.g. zero initial states made from the input's shape) fix it at ${T} in the file; export the model with a fixed sequence length`);
    }
  }
}
