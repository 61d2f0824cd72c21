// One-node ONNX LSTM / GRU / RNN models with seeded random weights, for the features PyTorch does
// not export (peepholes, input_forget, activations, reverse, layout=1, constant states,
// sequence_lens): the float (lstm-write-features) and hybrid (lstm-write-dynamic) writer tests
// build them here and run them by onnxruntime-node and the TFLite interpreter.
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';

export type RecurrentOp = 'LSTM' | 'RNN' | 'GRU';
const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };

export interface OneNodeRecurrent {
  op: RecurrentOp;
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  /** B given */
  bias?: boolean;
  peepholes?: boolean;
  attrs?: Record<string, Attr>;
  /** constant inputs beyond W, R, B, P */
  constants?: { sequence_lens?: Tensor; initial_h?: Tensor; initial_c?: Tensor };
  outputs?: string[];
}

/** Half-widths of the uniform draws of W and R, B, P (the input's is 1.5). */
export interface DrawScales {
  weights: number;
  bias: number;
  peepholes: number;
}

export const int = (value: number): Attr => ({ type: 'int', value });
export const strs = (value: string[]): Attr => ({ type: 'strings', value });
export const floats = (value: number[]): Attr => ({ type: 'floats', value });

/** n values uniform in (-scale, scale) from r */
export const uniform = (n: number, r: () => number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);

/** The model and an input, drawn from one seeded stream in the order W, R, B, P, X. */
export function buildOneNodeRecurrent(c: OneNodeRecurrent, seed: number, scales: DrawScales): { graph: Graph; x: Tensor } {
  const r = rng(seed);
  const random = (n: number, scale: number): Float32Array => uniform(n, r, scale);
  const nd = c.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[c.op];
  const xShape = c.layout === 1 ? [c.batch, c.seq, c.input] : [c.seq, c.batch, c.input];
  const inits = new Map<string, Tensor>();
  inits.set('W', Tensor.float32([nd, G * c.hidden, c.input], random(nd * G * c.hidden * c.input, scales.weights)));
  inits.set('R', Tensor.float32([nd, G * c.hidden, c.hidden], random(nd * G * c.hidden * c.hidden, scales.weights)));
  if (c.bias) inits.set('B', Tensor.float32([nd, 2 * G * c.hidden], random(nd * 2 * G * c.hidden, scales.bias)));
  if (c.peepholes) inits.set('P', Tensor.float32([nd, 3 * c.hidden], random(nd * 3 * c.hidden, scales.peepholes)));
  for (const [k, t] of Object.entries(c.constants ?? {})) inits.set(k, t);
  const names = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', ...(c.op === 'LSTM' ? ['initial_c', 'P'] : [])];
  const inputs = names.map((n) => (n === 'X' || inits.has(n) ? n : ''));
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const outputs = c.outputs ?? ['Y', 'Y_h'];
  const attrs: Record<string, Attr> = { hidden_size: int(c.hidden), ...(c.attrs ?? {}) };
  if (c.direction) attrs.direction = { type: 'string', value: c.direction };
  if (c.layout) attrs.layout = int(c.layout);
  const graph: Graph = {
    name: c.op,
    nodes: [{ name: 'rnn', opType: c.op, domain: '', inputs, outputs, attrs }],
    inputs: [{ name: 'X', dtype: 'float32', shape: xShape }],
    outputs: outputs.filter((o) => o).map((name) => ({ name, dtype: 'float32' as const })),
    initializers: inits,
    opsets: { '': 14 },
  };
  return { graph, x: Tensor.float32(xShape, random(xShape.reduce((a, b) => a * b, 1), 1.5)) };
}
