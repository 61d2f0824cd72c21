// LSTM, GRU and RNN: one recurrent layer over a sequence (ONNX semantics, gate orders LSTM iofc,
// GRU zrh), forward, reverse or both directions, time-major (layout 0) or batch-major (layout 1).
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrFloat, attrFloats, attrInt, attrString, attrStrings, type Dim, type Node } from '../graph.js';
import { defineOpDef, fmtShape, input, mergeDim, type OpDef, type OpDefTable, type ValueType } from './op-def.js';

export type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';

/** An activation of the gates, by its ONNX name, with the alpha/beta it takes (0 when unused). */
export interface RnnActivation {
  name: RnnActivationName;
  alpha: number;
  beta: number;
}

export type RnnActivationName = 'Relu' | 'Tanh' | 'Sigmoid' | 'Affine' | 'LeakyRelu' | 'ThresholdedRelu' | 'ScaledTanh' | 'HardSigmoid' | 'Elu' | 'Softsign' | 'Softplus';

export interface RecurrentAttrs {
  op: RecurrentOp;
  direction: 'forward' | 'reverse' | 'bidirectional';
  numDirections: 1 | 2;
  /** the hidden_size attribute, when given */
  hiddenSize?: number;
  /** the activations of each direction: LSTM (f, g, h), GRU (f, g), RNN (f); direction-major */
  activations: RnnActivation[][];
  /** bound on the inputs of the activations; undefined: no clipping */
  clip?: number;
  /**
   * LSTM, nnport's attribute `cell_clip` (TFLite's cell_clip, which ONNX cannot express): the cell
   * state is bounded to [-cellClip, cellClip] after each update, before the output reads it;
   * undefined: no bound. Writers of formats without it unroll such an LSTM (unroll-recurrent.ts).
   */
  cellClip?: number;
  /** LSTM: the forget gate is 1 - the input gate */
  inputForget: boolean;
  /** 0: X [seq, batch, input]; 1: X [batch, seq, input] (and the outputs batch-first) */
  layout: 0 | 1;
  /** GRU: apply the recurrent weights (and bias) before multiplying by the reset gate */
  linearBeforeReset: boolean;
  /**
   * nnport::HybridLSTM / nnport::HybridRNN (TFLite's hybrid kernels): each step's input rows and
   * the previous hidden state's rows rounded to int8 (symmetric, or asymmetric with a zero point)
   * before their products with W and R
   */
  hybrid?: { symmetric: boolean };
}

/** Gates per op: rows of W are GATES·hidden_size. */
export const RNN_GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };

const DEFAULT_ACTIVATIONS: Record<RecurrentOp, RnnActivationName[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

/**
 * Which of alpha / beta each activation takes, and their defaults (those of the ONNX ops of the
 * same names). Only an activation that takes a parameter consumes one from activation_alpha /
 * activation_beta, in the order the activations are listed (as onnxruntime reads them).
 */
const ACTIVATION_PARAMS: Record<RnnActivationName, { alpha?: number; beta?: number }> = {
  Relu: {},
  Tanh: {},
  Sigmoid: {},
  Softsign: {},
  Softplus: {},
  Affine: { alpha: 1, beta: 0 },
  LeakyRelu: { alpha: 0.01 },
  ThresholdedRelu: { alpha: 1 },
  ScaledTanh: { alpha: 1, beta: 1 },
  HardSigmoid: { alpha: 0.2, beta: 0.5 },
  Elu: { alpha: 1 },
};

const BY_LOWER = new Map(Object.keys(ACTIVATION_PARAMS).map((n) => [n.toLowerCase(), n as RnnActivationName]));

function parseActivations(node: Node, op: RecurrentOp, numDirections: number): RnnActivation[][] {
  const per = DEFAULT_ACTIVATIONS[op].length;
  const names = attrStrings(node, 'activations') ?? [];
  const alphas = attrFloats(node, 'activation_alpha', []);
  const betas = attrFloats(node, 'activation_beta', []);
  let ai = 0;
  let bi = 0;
  const parsed: RnnActivation[] = names.map((raw) => {
    const name = BY_LOWER.get(raw.toLowerCase());
    if (!name) throw new UnsupportedError(`${op} activation '${raw}'`, `node '${node.name}': one of ${Object.keys(ACTIVATION_PARAMS).join(', ')} is supported`);
    const p = ACTIVATION_PARAMS[name];
    const alpha = p.alpha === undefined ? 0 : ai < alphas.length ? alphas[ai++]! : p.alpha;
    const beta = p.beta === undefined ? 0 : bi < betas.length ? betas[bi++]! : p.beta;
    return { name, alpha, beta };
  });
  if (!parsed.length) return Array.from({ length: numDirections }, () => DEFAULT_ACTIVATIONS[op].map((name) => ({ name, alpha: 0, beta: 0 })));
  // one set given for a bidirectional layer serves both directions (as onnxruntime reads it)
  if (parsed.length === per && numDirections === 2) return [parsed, parsed];
  if (parsed.length !== per * numDirections) throw new ShapeError(`${op} '${node.name}': ${parsed.length} activations given, ${per * numDirections} expected (${per} per direction)`);
  return Array.from({ length: numDirections }, (_, d) => parsed.slice(d * per, (d + 1) * per));
}

export function parseRecurrentAttrs(node: Node, op: RecurrentOp): RecurrentAttrs {
  const direction = attrString(node, 'direction', 'forward');
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') throw new ShapeError(`${op} '${node.name}': direction '${direction}' is not forward, reverse or bidirectional`);
  const numDirections = direction === 'bidirectional' ? 2 : 1;
  const hiddenSize = attrInt(node, 'hidden_size');
  if (hiddenSize !== undefined && (!Number.isInteger(hiddenSize) || hiddenSize < 1)) throw new ShapeError(`${op} '${node.name}': hidden_size ${hiddenSize} must be a positive integer`);
  const clip = attrFloat(node, 'clip');
  if (clip !== undefined && !(clip > 0)) throw new ShapeError(`${op} '${node.name}': clip ${clip} must be positive`);
  const cellClip = attrFloat(node, 'cell_clip');
  if (cellClip !== undefined && (op !== 'LSTM' || !(cellClip > 0))) throw new ShapeError(`${op} '${node.name}': cell_clip ${cellClip} ${op === 'LSTM' ? 'must be positive' : 'is an LSTM attribute'}`);
  const layout = attrInt(node, 'layout', 0);
  if (layout !== 0 && layout !== 1) throw new ShapeError(`${op} '${node.name}': layout ${layout} is not 0 or 1`);
  return {
    op,
    direction,
    numDirections,
    hiddenSize,
    activations: parseActivations(node, op, numDirections),
    clip,
    ...(cellClip !== undefined ? { cellClip } : {}),
    inputForget: op === 'LSTM' && attrInt(node, 'input_forget', 0) !== 0,
    layout,
    linearBeforeReset: op === 'GRU' && attrInt(node, 'linear_before_reset', 0) !== 0,
    ...(node.domain === 'nnport' ? { hybrid: { symmetric: attrInt(node, 'symmetric', 0) !== 0 } } : {}),
  };
}

function recurrentDef(op: RecurrentOp, hybrid = false): OpDef<RecurrentAttrs> {
  const gates = RNN_GATES[op];
  return defineOpDef<RecurrentAttrs>({
    opType: hybrid ? `Hybrid${op}` : op,
    domain: hybrid ? 'nnport' : '',
    layout: 'matmul',
    attrs: (node) => parseRecurrentAttrs(node, op),
    infer: (ctx) => {
      const a = ctx.attrs;
      const x = input(ctx, 0, 'X');
      const w = input(ctx, 1, 'W');
      const r = input(ctx, 2, 'R');
      if (x.shape && x.shape.length !== 3) throw new ShapeError(`${op} X must be 3-D, got ${fmtShape(x.shape)}`);
      if (w.shape && w.shape.length !== 3) throw new ShapeError(`${op} W must be 3-D [num_directions, ${gates}·hidden, input], got ${fmtShape(w.shape)}`);
      if (r.shape && r.shape.length !== 3) throw new ShapeError(`${op} R must be 3-D [num_directions, ${gates}·hidden, hidden], got ${fmtShape(r.shape)}`);
      const [seq, batch]: Dim[] = x.shape ? (a.layout === 0 ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!]) : [null, null];
      let hidden: Dim = a.hiddenSize ?? null;
      if (r.shape) hidden = mergeDim(hidden, r.shape[2]!, `${op} hidden_size and R's last dimension`);
      const rows = w.shape?.[1];
      if (typeof rows === 'number') {
        if (rows % gates !== 0) throw new ShapeError(`${op} W has ${rows} rows, not a multiple of ${gates} gates`);
        hidden = mergeDim(hidden, rows / gates, `${op} hidden_size and W's ${gates}·hidden rows`);
      }
      if (x.shape && w.shape) mergeDim(x.shape[2]!, w.shape[2]!, `${op} input size of X and W`);
      for (const t of [w, r]) if (t.shape) mergeDim(t.shape[0]!, a.numDirections, `${op} num_directions (direction ${a.direction})`);
      const dtype = x.dtype;
      const nd = a.numDirections;
      const y: ValueType = { dtype, shape: a.layout === 0 ? [seq, nd, batch, hidden] : [batch, seq, nd, hidden] };
      const state = (): ValueType => ({ dtype, shape: a.layout === 0 ? [nd, batch, hidden] : [batch, nd, hidden] });
      return op === 'LSTM' ? [y, state(), state()] : [y, state()];
    },
  });
}

export const recurrentDefs = {
  LSTM: recurrentDef('LSTM'),
  GRU: recurrentDef('GRU'),
  RNN: recurrentDef('RNN'),
  /**
   * TFLite's hybrid (dynamic-range) UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN: ONNX LSTM / RNN (same
   * inputs and attributes) whose input and recurrent-state rows are rounded to int8 on the fly
   * (attribute `symmetric`: 1 SymmetricQuantizeFloats, 0 TFLite's asymmetric_quantize_inputs);
   * its weights are the int8 weights' float values. The TFLite reader and --quantize dynamic make it.
   */
  'nnport::HybridLSTM': recurrentDef('LSTM', true),
  'nnport::HybridRNN': recurrentDef('RNN', true),
} satisfies OpDefTable;

/** The nnport::Hybrid* recurrent op types. */
export const HYBRID_RECURRENT: Readonly<Record<string, RecurrentOp>> = { HybridLSTM: 'LSTM', HybridRNN: 'RNN' };
