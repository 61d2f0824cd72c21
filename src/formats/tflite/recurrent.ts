// TFLite float UNIDIRECTIONAL_SEQUENCE_LSTM -> IR. What ONNX LSTM expresses (peepholes, CIFG,
// tanh / relu activations, batch- or time-major) becomes one ONNX LSTM between
// Transposes and a Squeeze of its num_directions axis. What it cannot (TFLite's cell_clip bounds
// the cell state itself, where ONNX's clip bounds gate inputs; a projection; layer norm; relu6)
// is unrolled over the (static) time steps into plain ONNX ops computing TFLite's formulas.
// The two variable tensors (output and cell state) start at zero: what the interpreter computes
// on its first invoke after allocating tensors.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr, Node } from '../../ir/graph.js';
import { LSTM_INPUT } from '../../ir/ops/stateful.js';
import { Tensor } from '../../ir/tensor.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { UnidirectionalSequenceLSTMOptions } from '../generated/tflite/unidirectional-sequence-lstmoptions.js';
import type { OpContext, TfliteTensorInfo } from './read.js';

const OP = 'UNIDIRECTIONAL_SEQUENCE_LSTM';

const IN = LSTM_INPUT;

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
function constant(c: OpContext, i: number, what: string, size: number, out: string): Float32Array {
  const t = tensorAt(c, i);
  if (t.dtype === 'int8' || t.dtype === 'uint8') {
    throw new UnsupportedError(`dynamic-range (hybrid) ${OP}`, `'${out}': ${what} '${t.name}' is ${t.dtype} under a float input; nnport runs float or fully integer LSTMs`);
  }
  const v = c.b.initializers.get(t.name);
  if (!v) throw new UnsupportedError(`${OP} with a computed ${what}`, `'${out}': ${what} '${t.name}' must be a constant`);
  if (v.dtype !== 'float32') throw new UnsupportedError(`${OP} with ${v.dtype} ${what}`, `'${out}': '${t.name}'`);
  if (v.size !== size) throw new FormatError(`${OP} '${out}': ${what} '${t.name}' has shape [${v.shape.join(', ')}], ${size} elements expected`, { file: c.b.file });
  return v.data as Float32Array;
}

function readLstm(c: OpContext, out: string): FloatLstm {
  const opts = c.op.builtinOptionsType() === BuiltinOptions.UnidirectionalSequenceLSTMOptions ? (c.op.builtinOptions(new UnidirectionalSequenceLSTMOptions()) as UnidirectionalSequenceLSTMOptions) : null;
  if (opts?.diagonalRecurrentTensors()) throw new UnsupportedError(`${OP} with diagonal recurrent weights`, `'${out}'`);
  const timeMajor = opts?.timeMajor() ?? false;
  const x = tensorAt(c, IN.input);
  if (x.shape.length !== 3) throw new FormatError(`${OP} '${out}': input must be 3-D, got [${x.shape.join(', ')}]`, { file: c.b.file });
  for (const i of [IN.inputToForget, IN.inputToCell, IN.inputToOutput, IN.recurrentToForget, IN.recurrentToCell, IN.recurrentToOutput, IN.forgetGateBias, IN.cellGateBias, IN.outputGateBias]) {
    if (!present(c, i)) throw new FormatError(`${OP} '${out}': required input ${i} is missing`, { file: c.b.file });
  }
  const wShape = tensorAt(c, IN.inputToOutput).shape;
  const rShape = tensorAt(c, IN.recurrentToOutput).shape;
  if (wShape.length !== 2 || rShape.length !== 2) throw new FormatError(`${OP} '${out}': weights must be 2-D`, { file: c.b.file });
  const [N, I] = wShape as [number, number];
  const O = rShape[1]!;
  if (x.shape[2] !== I) throw new FormatError(`${OP} '${out}': input size ${x.shape[2]} differs from the weights' ${I}`, { file: c.b.file });
  const tAxis = timeMajor ? 0 : 1;
  const T = x.signature?.[tAxis] === -1 ? undefined : x.shape[tAxis];
  const cifg = !present(c, IN.inputToInput);
  const peepholes = present(c, IN.cellToOutput);
  const layerNorm = present(c, IN.outputLayerNorm) || present(c, IN.forgetLayerNorm);
  const gate = (g: Gate, wx: number, wh: number, peep: number, bias: number, ln: number): GateParams => ({
    wx: constant(c, wx, `input-to-${g} weights`, N * I, out),
    wh: constant(c, wh, `recurrent-to-${g} weights`, N * O, out),
    bias: constant(c, bias, `${g} gate bias`, N, out),
    peep: peepholes && g !== 'c' ? constant(c, peep, `cell-to-${g} peephole`, N, out) : undefined,
    ln: layerNorm ? constant(c, ln, `${g} layer-norm coefficients`, N, out) : undefined,
  });
  const gates: Partial<Record<Gate, GateParams>> = {
    f: gate('f', IN.inputToForget, IN.recurrentToForget, IN.cellToForget, IN.forgetGateBias, IN.forgetLayerNorm),
    c: gate('c', IN.inputToCell, IN.recurrentToCell, -1, IN.cellGateBias, IN.cellLayerNorm),
    o: gate('o', IN.inputToOutput, IN.recurrentToOutput, IN.cellToOutput, IN.outputGateBias, IN.outputLayerNorm),
  };
  if (!cifg) gates.i = gate('i', IN.inputToInput, IN.recurrentToInput, IN.cellToInput, IN.inputGateBias, IN.inputLayerNorm);
  let projection: FloatLstm['projection'];
  if (present(c, IN.projectionWeights)) {
    projection = { w: constant(c, IN.projectionWeights, 'projection weights', O * N, out) };
    if (present(c, IN.projectionBias)) projection.b = constant(c, IN.projectionBias, 'projection bias', O, out);
  } else if (O !== N) {
    throw new FormatError(`${OP} '${out}': ${O} outputs without a projection for ${N} cells`, { file: c.b.file });
  }
  return { T, I, N, O, timeMajor, cifg, gates, projection, cellClip: opts?.cellClip() ?? 0, projClip: opts?.projClip() ?? 0, act: opts?.fusedActivationFunction() ?? ActivationFunctionType.TANH };
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

const NOTE = `${OP}: the variable output and cell state tensors start at zero on every run (the interpreter's first invoke after allocating tensors; it carries them over between invokes)`;

/** A float LSTM (integer ones, with quantized int8 input, are recurrent-int.ts's). */
export function unidirectionalSequenceLstm(c: OpContext): void {
  const y = c.b.tensors[c.outputs[0]!];
  const x = present(c, IN.input) ? tensorAt(c, IN.input) : undefined;
  if (!x) throw new FormatError(`${OP}: input 0 is missing`, { file: c.b.file });
  if (x.dtype !== 'float32') throw new UnsupportedError(`${OP} with a ${x.dtype} input`, `'${y?.name ?? OP}': float32 or quantized int8 inputs are read`);
  if (!y) throw new FormatError(`${OP}: output 0 is missing`, { file: c.b.file });
  if (y.quant || y.dtype !== 'float32') throw new UnsupportedError(`${OP} with a ${y.dtype} output under a float input`, `'${y.name}'`);
  const p = readLstm(c, y.name);
  // TFLite's ApplyActivationToVector returns at once for NONE, leaving the buffer that h = o ⊙ act(c)
  // then reads unwritten: the interpreter's result is not a function of the file
  if (p.act === ActivationFunctionType.NONE) throw new UnsupportedError(`${OP} with fused activation NONE`, `'${y.name}': TFLite's kernel does not compute the identity for it`);
  const act = onnxActivation(p.act);
  const unexpressible = [
    p.cellClip > 0 && `cell_clip ${p.cellClip} (ONNX LSTM's clip bounds gate inputs, not the cell state)`,
    p.projection && 'a projection',
    p.gates.o!.ln && 'layer normalization',
    !act && `the ${ActivationFunctionType[p.act] ?? p.act} activation`,
  ].filter((s): s is string => !!s);
  if (!unexpressible.length) {
    onnxLstm(c, p, act!, y.name).doc = NOTE;
    return;
  }
  if (p.T === 0) throw new UnsupportedError(`${OP} over zero time steps`, `'${y.name}'`);
  if (p.T === undefined) throw new UnsupportedError(`${OP} with ${unexpressible.join(', ')} and a dynamic sequence length`, `'${y.name}': ONNX LSTM cannot express it, and unrolling it needs a fixed number of steps`);
  unrolledLstm(c, p, y.name).doc = `${NOTE}; unrolled over ${p.T} steps: ONNX LSTM cannot express ${unexpressible.join(', ')}`;
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

function onnxLstm(c: OpContext, p: FloatLstm, act: { name: string }, out: string): Node {
  const { I, N, gates } = p;
  const { f, c: cg, o } = gates as Required<Pick<typeof gates, 'f' | 'c' | 'o'>>;
  // ONNX's input_forget computes f = 1 - i; TFLite's CIFG i = 1 - f: the ONNX input gate is
  // TFLite's forget gate negated (σ(-x) = 1 - σ(x)), so that ONNX's f = 1 - σ(-x) = σ(x).
  const i = gates.i ?? f;
  const neg = p.cifg;
  const x = tensorAt(c, IN.input).name;
  const base = out;
  let xt = x;
  if (!p.timeMajor) {
    xt = c.b.fresh(`${base}/time_major`);
    c.b.node('Transpose', [x], [xt], { perm: ints([1, 0, 2]) });
  }
  // gate order i, o, f, c
  const W = c.b.initializer(`${base}/W`, Tensor.float32([1, 4 * N, I], stack([{ data: i.wx, negate: neg }, { data: o.wx }, { data: f.wx }, { data: cg.wx }])));
  const R = c.b.initializer(`${base}/R`, Tensor.float32([1, 4 * N, N], stack([{ data: i.wh, negate: neg }, { data: o.wh }, { data: f.wh }, { data: cg.wh }])));
  const B = c.b.initializer(`${base}/B`, Tensor.float32([1, 8 * N], stack([{ data: i.bias, negate: neg }, { data: o.bias }, { data: f.bias }, { data: cg.bias }, { data: new Float32Array(4 * N) }])));
  const inputs = [xt, W, R, B];
  if (o.peep) inputs.push('', '', '', c.b.initializer(`${base}/P`, Tensor.float32([1, 3 * N], stack([{ data: i.peep!, negate: neg }, { data: o.peep }, { data: f.peep! }]))));
  const attrs: Record<string, Attr> = { hidden_size: int(N), activations: { type: 'strings', value: ['Sigmoid', act.name, act.name] } };
  if (p.cifg) attrs.input_forget = int(1);
  const y4 = c.b.fresh(`${base}/Y`);
  const lstm = c.b.node('LSTM', inputs, [y4], attrs);
  lstm.name = c.b.fresh(`${base}/lstm`);
  // Y [T, 1, B, N] -> [T, B, N] (-> [B, T, N])
  const y3 = p.timeMajor ? out : c.b.fresh(`${base}/time_major_out`);
  c.b.node('Squeeze', [y4, c.b.int64s([1], 'axes_1')], [y3]);
  if (!p.timeMajor) c.b.node('Transpose', [y3], [out], { perm: ints([1, 0, 2]) });
  return lstm;
}

/** TFLite's formulas (lstm_eval.cc, float) step by step; returns the node writing `out`. */
function unrolledLstm(c: OpContext, p: FloatLstm, out: string): Node {
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
  const x = tensorAt(c, IN.input).name;
  let xw = op('MatMul', [x, WxT], `${out}/input_projection`);
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
  const steps: string[] = [];
  let h: string | undefined;
  let cell: string | undefined;
  for (let t = 0; t < T!; t++) {
    const s = `${out}/step${t}`;
    const xt = op('Gather', [xw, b.constant(Tensor.int64([], [t]), `t${t}`)], `${s}/input`, { axis: int(tAxis) });
    // the state starts at zero: the first step has no recurrent or peephole terms
    const pre = h ? op('Add', [xt, op('MatMul', [h, WhT], `${s}/recurrent`)], `${s}/gates`) : xt;
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
      hNew = op('MatMul', [hNew, proj.w], `${s}/projection`);
      if (proj.b) hNew = op('Add', [hNew, proj.b], `${s}/projection_biased`);
      hNew = clip(hNew, p.projClip, `${s}/projection_clipped`);
    }
    steps.push(op('Unsqueeze', [hNew, b.int64s([tAxis], `axes_${tAxis}`)], `${s}/out`));
    h = hNew;
    cell = cNew;
  }
  return b.node('Concat', steps, [out], { axis: int(tAxis) });
}
