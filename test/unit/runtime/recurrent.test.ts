// ONNX LSTM / GRU / RNN in the reference runtime against onnxruntime-node on random one-node
// models: both directions with per-row sequence lengths, batch-major layout, clip, peepholes,
// initial states, input_forget, linear_before_reset, the alternative activations and omitted
// outputs. The ONNX backend node tests (test_lstm_*, test_gru_*, ...) run in the conformance suite.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../../src/formats/onnx/read.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { convert, loadModel } from '../../../src/index.js';
import { rng } from '../../support/rng.js';
import { attr } from './run-node.js';

type Op = 'LSTM' | 'GRU' | 'RNN';
const GATES: Record<Op, number> = { LSTM: 4, GRU: 3, RNN: 1 };

interface Case {
  name: string;
  op: Op;
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  bias?: boolean;
  lens?: number[];
  initH?: boolean;
  initC?: boolean;
  peepholes?: boolean;
  attrs?: Record<string, Attr>;
  /** outputs asked for ('' = omitted) */
  outputs?: string[];
}

const CASES: Case[] = [
  { name: 'LSTM bidirectional, sequence_lens, initial states, peepholes', op: 'LSTM', seq: 5, batch: 3, input: 4, hidden: 6, direction: 'bidirectional', bias: true, lens: [5, 2, 4], initH: true, initC: true, peepholes: true },
  { name: 'LSTM layout=1, clip, batch 2', op: 'LSTM', seq: 6, batch: 2, input: 3, hidden: 5, layout: 1, bias: true, initH: true, attrs: { clip: attr.f(0.25) } },
  { name: 'LSTM layout=1 bidirectional with lengths, peepholes and clip', op: 'LSTM', seq: 4, batch: 3, input: 5, hidden: 3, layout: 1, direction: 'bidirectional', bias: true, lens: [1, 4, 3], initH: true, initC: true, peepholes: true, attrs: { clip: attr.f(0.3) } },
  { name: 'LSTM reverse, input_forget, no bias', op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, direction: 'reverse', attrs: { input_forget: attr.i(1) } },
  {
    name: 'LSTM with HardSigmoid / LeakyRelu / ScaledTanh and their alpha, beta',
    op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true,
    attrs: { activations: { type: 'strings', value: ['HardSigmoid', 'LeakyRelu', 'ScaledTanh'] }, activation_alpha: attr.fs([0.3, 0.05, 0.9]), activation_beta: attr.fs([0.4, 1.3]) },
  },
  { name: 'LSTM Y omitted, only Y_c', op: 'LSTM', seq: 3, batch: 2, input: 2, hidden: 3, bias: true, outputs: ['', '', 'Y_c'] },
  { name: 'GRU bidirectional, linear_before_reset, sequence_lens, initial_h', op: 'GRU', seq: 5, batch: 3, input: 4, hidden: 5, direction: 'bidirectional', bias: true, lens: [3, 5, 1], initH: true, attrs: { linear_before_reset: attr.i(1) } },
  { name: 'GRU reverse, layout=1, clip', op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, direction: 'reverse', layout: 1, bias: true, initH: true, attrs: { clip: attr.f(0.5) } },
  { name: 'GRU linear_before_reset=0 bidirectional with lengths', op: 'GRU', seq: 4, batch: 3, input: 2, hidden: 3, direction: 'bidirectional', bias: true, lens: [4, 2, 3], initH: true },
  { name: 'GRU with Softsign / Elu', op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 3, bias: true, attrs: { activations: { type: 'strings', value: ['HardSigmoid', 'Elu'] }, activation_alpha: attr.fs([0.25, 0.8]) } },
  { name: 'RNN bidirectional with lengths, Relu forward and Tanh backward', op: 'RNN', seq: 5, batch: 2, input: 3, hidden: 4, direction: 'bidirectional', bias: true, lens: [3, 5], initH: true, attrs: { activations: { type: 'strings', value: ['Relu', 'Tanh'] } } },
  { name: 'RNN layout=1 Softsign, Y_h only', op: 'RNN', seq: 4, batch: 3, input: 2, hidden: 3, layout: 1, bias: true, attrs: { activations: { type: 'strings', value: ['Softsign'] } }, outputs: ['', 'Y_h'] },
  // the WASM step kernels: batch 1 runs the packed GEMV, batch > 1 the packed GEMM; the default
  // activations run fused per row (LSTM without peepholes, GRU with linear_before_reset)
  { name: 'LSTM batch 1, default activations, hidden 37 (not a multiple of the SIMD width)', op: 'LSTM', seq: 7, batch: 1, input: 19, hidden: 37, bias: true, initH: true, initC: true },
  { name: 'LSTM bidirectional batch 5 with lengths, default activations', op: 'LSTM', seq: 6, batch: 5, input: 9, hidden: 13, direction: 'bidirectional', bias: true, lens: [6, 1, 3, 5, 2], initH: true, initC: true },
  { name: 'GRU linear_before_reset batch 1 reverse, hidden 21', op: 'GRU', seq: 6, batch: 1, input: 11, hidden: 21, direction: 'reverse', bias: true, initH: true, attrs: { linear_before_reset: attr.i(1) } },
  { name: 'GRU linear_before_reset without bias, clip, bidirectional batch 4 with lengths', op: 'GRU', seq: 5, batch: 4, input: 6, hidden: 10, direction: 'bidirectional', lens: [5, 2, 4, 1], initH: true, attrs: { linear_before_reset: attr.i(1), clip: attr.f(0.7) } },
  { name: 'GRU linear_before_reset=0 batch 1, hidden 17', op: 'GRU', seq: 5, batch: 1, input: 7, hidden: 17, bias: true, initH: true },
  { name: 'RNN batch 1, Tanh, hidden 33, no initial state', op: 'RNN', seq: 6, batch: 1, input: 5, hidden: 33, bias: true },
];

function random(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

function buildCase(c: Case, seed: number): { graph: Graph; feeds: Map<string, Tensor> } {
  const r = rng(seed);
  const nd = c.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[c.op];
  const layout = c.layout ?? 0;
  const xShape = layout === 0 ? [c.seq, c.batch, c.input] : [c.batch, c.seq, c.input];
  const stateShape = layout === 0 ? [nd, c.batch, c.hidden] : [c.batch, nd, c.hidden];
  const inits = new Map<string, Tensor>();
  const feeds = new Map<string, Tensor>();
  inits.set('W', Tensor.float32([nd, G * c.hidden, c.input], random(nd * G * c.hidden * c.input, r, 0.6)));
  inits.set('R', Tensor.float32([nd, G * c.hidden, c.hidden], random(nd * G * c.hidden * c.hidden, r, 0.6)));
  if (c.bias) inits.set('B', Tensor.float32([nd, 2 * G * c.hidden], random(nd * 2 * G * c.hidden, r, 0.5)));
  feeds.set('X', Tensor.float32(xShape, random(xShape.reduce((a, b) => a * b, 1), r, 1.5)));
  if (c.lens) feeds.set('sequence_lens', new Tensor('int32', [c.batch], Int32Array.from(c.lens)));
  if (c.initH) feeds.set('initial_h', Tensor.float32(stateShape, random(nd * c.batch * c.hidden, r)));
  if (c.initC) feeds.set('initial_c', Tensor.float32(stateShape, random(nd * c.batch * c.hidden, r)));
  if (c.peepholes) inits.set('P', Tensor.float32([nd, 3 * c.hidden], random(nd * 3 * c.hidden, r, 0.5)));
  const names = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', ...(c.op === 'LSTM' ? ['initial_c', 'P'] : [])];
  const nodeInputs = names.map((n) => (inits.has(n) || feeds.has(n) ? n : ''));
  while (nodeInputs[nodeInputs.length - 1] === '') nodeInputs.pop();
  const outputs = c.outputs ?? (c.op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h']);
  const attrs: Record<string, Attr> = { hidden_size: attr.i(c.hidden), ...(c.attrs ?? {}) };
  if (c.direction) attrs.direction = attr.s(c.direction);
  if (layout) attrs.layout = attr.i(layout);
  const graph: Graph = {
    name: c.op,
    nodes: [{ name: 'rnn', opType: c.op, domain: '', inputs: nodeInputs, outputs, attrs }],
    inputs: [...feeds].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] })),
    outputs: outputs.filter((o) => o).map((name) => ({ name, dtype: 'float32' as const })),
    initializers: inits,
    opsets: { '': 14 },
  };
  return { graph, feeds };
}

/** Swap the first two axes (layout 1 <-> layout 0 of X, Y and the states). */
function swap01(data: Float32Array, shape: readonly number[]): { data: Float32Array; shape: number[] } {
  const [a, b] = shape as [number, number];
  const inner = shape.slice(2).reduce((x, y) => x * y, 1);
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * inner, (i * b + j + 1) * inner), (j * a + i) * inner);
  return { data: out, shape: [b, a, ...shape.slice(2)] };
}

/** Y [N, S, nd, H] from Y [S, nd, N, H]. */
function yBatchMajor(data: Float32Array, [S, nd, N, H]: number[]): { data: Float32Array; shape: number[] } {
  const out = new Float32Array(data.length);
  for (let t = 0; t < S; t++) for (let d = 0; d < nd; d++) for (let b = 0; b < N; b++) out.set(data.subarray(((t * nd + d) * N + b) * H, ((t * nd + d) * N + b + 1) * H), ((b * S + t) * nd + d) * H);
  return { data: out, shape: [N!, S!, nd!, H!] };
}

/**
 * onnxruntime's outputs for the case. Its CPU kernels refuse layout=1 ("batchwise ... not
 * supported"), so a batch-major case runs as its layout-0 twin on transposed inputs, and the
 * outputs are transposed back: layout 1 is defined as exactly that transposition.
 */
async function ortRun(graph: Graph, feeds: Map<string, Tensor>): Promise<Map<string, { data: Float32Array; shape: number[] }>> {
  const node = graph.nodes[0]!;
  const batchMajor = node.attrs.layout?.value === 1;
  let model = graph;
  if (batchMajor) {
    const attrs = { ...node.attrs };
    delete attrs.layout;
    model = { ...graph, nodes: [{ ...node, attrs }], inputs: graph.inputs.map((v) => (v.name === 'sequence_lens' ? v : { ...v, shape: [v.shape![1]!, v.shape![0]!, ...v.shape!.slice(2)] })) };
  }
  const session = await ort.InferenceSession.create(writeOnnx(model), { logSeverityLevel: 3 });
  try {
    const f: Record<string, ort.Tensor> = {};
    for (const [name, t] of feeds) {
      if (t.dtype === 'int32') f[name] = new ort.Tensor('int32', t.data as Int32Array, [...t.shape]);
      else {
        const v = batchMajor ? swap01(t.data as Float32Array, t.shape) : { data: t.data as Float32Array, shape: [...t.shape] };
        f[name] = new ort.Tensor('float32', v.data, v.shape);
      }
    }
    const res = await session.run(f);
    const out = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const [name, t] of Object.entries(res)) {
      const v = { data: t.data as Float32Array, shape: [...t.dims] };
      out.set(name, !batchMajor ? v : name === node.outputs[0] ? yBatchMajor(v.data, v.shape) : swap01(v.data, v.shape));
    }
    return out;
  } finally {
    await session.release();
  }
}

describe('LSTM / GRU / RNN against onnxruntime-node', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const { graph, feeds } = buildCase(c, 1000 + i);
    const want = await ortRun(graph, feeds);
    const got = runGraphSync(graph, feeds).outputs;
    // the written model, read back, keeps the op and its attributes and runs the same
    const back = await readOnnx(writeOnnx(graph));
    expect(back.nodes.map((n) => n.opType)).toEqual([c.op]);
    const again = runGraphSync(back, feeds).outputs;
    const types = inferShapes(graph).values;
    for (const o of graph.outputs) {
      const w = want.get(o.name)!;
      const g = got.get(o.name)!;
      expect(g.shape, o.name).toEqual(w.shape);
      expect(types.get(o.name)!.shape, `inferred shape of ${o.name}`).toEqual(w.shape);
      const wd = w.data;
      const gd = g.toFloat32();
      let worst = 0;
      for (let k = 0; k < wd.length; k++) worst = Math.max(worst, Math.abs(gd[k]! - wd[k]!));
      expect(worst, `${o.name} max abs error`).toBeLessThan(2e-6);
      // float attributes (clip, alphas) are float32 in the file
      const a = again.get(o.name)!.toFloat32();
      for (let k = 0; k < gd.length; k++) expect(Math.abs(a[k]! - gd[k]!)).toBeLessThan(1e-6);
    }
  });

  // Seeded random configurations over the step kernels' paths: batch 1 and 2 (GEMV per row) and
  // larger (GEMM), both directions with per-row lengths, fused and unfused cells.
  it.each(Array.from({ length: 10 }, (_, i) => i))('random configuration %i', async (i) => {
    const r = rng(5000 + i);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const op = pick(['LSTM', 'GRU', 'RNN'] as const);
    const seq = 1 + Math.floor(r() * 7);
    const batch = pick([1, 1, 2, 3, 5]);
    const direction = pick(['forward', 'reverse', 'bidirectional'] as const);
    const c: Case = {
      name: '', op, seq, batch, direction, input: 1 + Math.floor(r() * 20), hidden: 1 + Math.floor(r() * 40), bias: r() < 0.8, initH: r() < 0.5, initC: r() < 0.5,
      lens: r() < 0.5 ? Array.from({ length: batch }, () => 1 + Math.floor(r() * seq)) : undefined,
      attrs: op === 'GRU' ? { linear_before_reset: attr.i(r() < 0.7 ? 1 : 0) } : {},
    };
    const { graph, feeds } = buildCase(c, 6000 + i);
    const want = await ortRun(graph, feeds);
    const got = runGraphSync(graph, feeds).outputs;
    for (const o of graph.outputs) {
      const w = want.get(o.name)!.data;
      const g = got.get(o.name)!.toFloat32();
      expect(g.length, o.name).toBe(w.length);
      let worst = 0;
      for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(g[k]! - w[k]!));
      expect(worst, `${JSON.stringify({ ...c, attrs: undefined })} ${o.name}`).toBeLessThan(2e-6);
    }
  });

  it('an activation nnport does not know is an UnsupportedError naming it', () => {
    const { graph, feeds } = buildCase({ name: '', op: 'RNN', seq: 2, batch: 1, input: 2, hidden: 2, attrs: { activations: { type: 'strings', value: ['Swish'] } } }, 7);
    expect(() => runGraphSync(graph, feeds)).toThrow(UnsupportedError);
    expect(() => runGraphSync(graph, feeds)).toThrow(/RNN activation 'Swish'/);
  });

  it('W of the wrong shape is a ShapeError naming it', () => {
    const { graph, feeds } = buildCase({ name: '', op: 'GRU', seq: 2, batch: 1, input: 2, hidden: 2 }, 8);
    graph.initializers.set('W', Tensor.float32([1, 6, 3], new Float32Array(18)));
    expect(() => runGraphSync(graph, feeds)).toThrow(/GRU input size of X and W|W must have shape/);
  });

  // (a GraphDef gets it unrolled: test/formats/tensorflow/write-recurrent.test.ts)
  it.each(['m.h5', 'm.keras', 'model.json'])('converting an LSTM to %s is an UnsupportedError naming LSTM', async (out) => {
    const { graph } = buildCase({ name: '', op: 'LSTM', seq: 2, batch: 1, input: 2, hidden: 2, bias: true }, 9);
    const model = await loadModel(writeOnnx(graph), { fileName: 'lstm.onnx' });
    const err = await convert(model, out).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/LSTM/);
  });
});
