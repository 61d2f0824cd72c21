// The PyTorch recurrent nets of scripts/fixtures/recurrent_dynamic_models.py (ONNX with a dynamic
// sequence axis; inputs and PyTorch's outputs at sequence lengths 5 and 11), shared by the TFLite
// and GraphDef / TF.js tests of recurrent layers written as a loop over their time steps.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/formats/numpy/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildOneNodeRecurrent, type OneNodeRecurrent } from '../formats/tflite/one-node-recurrent.js';
import { ensureScriptFixtures } from './fixture-script.js';
import { ortRun } from './ort.js';

export const DYNAMIC_RECURRENT_NETS = ['gru', 'lstm_states', 'gru_bidi', 'lstm_2layer', 'rnn_relu'] as const;
export type DynamicRecurrentNet = (typeof DYNAMIC_RECURRENT_NETS)[number];
export const SEQUENCE_LENGTHS = [5, 11] as const;

const folder = (): string => ensureScriptFixtures('recurrent_dynamic_models.py', 'recurrent-dynamic', DYNAMIC_RECURRENT_NETS);

const numbered = (dir: string, prefix: string): Tensor[] => {
  const out: Tensor[] = [];
  for (let k = 0; existsSync(join(dir, `${prefix}_${k}.npy`)); k++) out.push(readNpy(readFileSync(join(dir, `${prefix}_${k}.npy`))));
  return out;
};

export interface DynamicRecurrentCase {
  t: number;
  /** the model's inputs (x first) */
  feeds: Tensor[];
  /** PyTorch's outputs, in the ONNX file's output order */
  want: Tensor[];
}

/** The ONNX file of `net`, its cases at both sequence lengths, and its calibration inputs [8, ...x]. */
export function dynamicRecurrentNet(net: DynamicRecurrentNet): { onnx: Uint8Array; cases: DynamicRecurrentCase[]; calib: Tensor } {
  const dir = join(folder(), net);
  return {
    onnx: new Uint8Array(readFileSync(join(dir, 'model.onnx'))),
    cases: SEQUENCE_LENGTHS.map((t) => ({ t, feeds: numbered(dir, `in_${t}`), want: numbered(dir, `out_${t}`) })),
    calib: readNpy(readFileSync(join(dir, 'calib.npy'))),
  };
}

/** Whether the net's x is batch-major ([B, T, F]: its time axis 1) rather than time-major. */
export const batchFirst = (net: DynamicRecurrentNet): boolean => net === 'gru' || net === 'gru_bidi' || net === 'lstm_2layer';

/**
 * One-node ONNX recurrent models with a symbolic sequence length 'T', for what PyTorch does not export
 * (layout 1, reverse, hard_sigmoid gates, constant initial states, linear_before_reset 0): onnxruntime-node runs
 * them as the oracle. `at(t)` is the model (its weights the same for every t: drawn before x) and an input of length t.
 */
export interface OneNodeDynamicCase {
  name: string;
  at(t: number): { graph: Graph; x: Tensor };
}

const ONE_NODE_DYNAMIC: Array<{ name: string; c: Omit<OneNodeRecurrent, 'seq'> }> = [
  {
    name: 'GRU layout 1, bidirectional, linear_before_reset 0, constant initial_h',
    c: { op: 'GRU', batch: 2, input: 3, hidden: 4, bias: true, layout: 1, direction: 'bidirectional', constants: { initial_h: Tensor.float32([2, 2, 4], Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) * 0.5)) } },
  },
  {
    name: 'LSTM layout 1, reverse, hard_sigmoid gates, Y, Y_h and Y_c',
    c: { op: 'LSTM', batch: 2, input: 3, hidden: 5, bias: true, layout: 1, direction: 'reverse', outputs: ['Y', 'Y_h', 'Y_c'], attrs: { activations: { type: 'strings', value: ['HardSigmoid', 'Tanh', 'Tanh'] } } },
  },
  {
    name: 'RNN bidirectional, relu / tanh directions',
    c: { op: 'RNN', batch: 2, input: 4, hidden: 3, bias: true, direction: 'bidirectional', attrs: { activations: { type: 'strings', value: ['Relu', 'Tanh'] } } },
  },
];

export const oneNodeDynamicCases = (): OneNodeDynamicCase[] =>
  ONE_NODE_DYNAMIC.map(({ name, c }, k) => ({
    name,
    at: (t: number) => {
      const { graph, x } = buildOneNodeRecurrent({ ...c, seq: t }, 40 + k, { weights: 0.6, bias: 0.4, peepholes: 0.6 });
      const axis = c.layout === 1 ? 1 : 0;
      return { graph: { ...graph, inputs: graph.inputs.map((v) => ({ ...v, shape: v.shape!.map((d, i) => (i === axis ? 'T' : d)) })) }, x };
    },
  }));

/** A float32 tensor with its axes permuted (out axis i = in axis perm[i]). */
function permuted(t: Tensor, perm: number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]!);
  const inStrides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const src = t.toFloat32();
  const out = new Float32Array(src.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    out[o] = src[idx.reduce((s, v, i) => s + v * inStrides[perm[i]!]!, 0)]!;
    for (let i = shape.length - 1; i >= 0 && ++idx[i]! === shape[i]; i--) idx[i] = 0;
  }
  return Tensor.float32(shape, out);
}

/**
 * onnxruntime-node's outputs of a one-node case, by output name. onnxruntime runs no layout 1: such a node runs as
 * its layout-0 twin (x, the constant initial states and the outputs transposed around it).
 */
export async function oneNodeOracle(graph: Graph, x: Tensor): Promise<Map<string, Tensor>> {
  const node = graph.nodes[0]!;
  if (!node.attrs.layout) return ortRun(graph, { X: x });
  const swap = [1, 0, 2];
  const { layout: _, ...attrs } = node.attrs;
  const initializers = new Map([...graph.initializers].map(([k, v]) => [k, k === 'initial_h' || k === 'initial_c' ? permuted(v, swap) : v] as const));
  const twin: Graph = { ...graph, nodes: [{ ...node, attrs }], initializers, inputs: graph.inputs.map((v) => ({ ...v, shape: swap.map((p) => v.shape![p]!) })) };
  const outs = await ortRun(twin, { X: permuted(x, swap) });
  // Y [T, D, B, H] -> [B, T, D, H]; Y_h, Y_c [D, B, H] -> [B, D, H]
  return new Map([...outs].map(([k, v]) => [k, permuted(v, v.shape.length === 4 ? [2, 0, 1, 3] : swap)] as const));
}
