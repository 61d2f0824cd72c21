// ONNX LSTM / GRU / RNN -> Keras LSTM / GRU / SimpleRNN (Bidirectional(merge_mode='concat') for a
// bidirectional op), with the Squeeze / Transpose / Reshape / Gather that PyTorch's exporter puts
// around them absorbed. Keras recurrent layers are batch-major ([batch, time, features]); the
// ONNX op (layout 0) is time-major, so a tensor here may be `timeMajor`: its IR value is the Keras
// tensor with axes 0 and 1 swapped. Y ([T, nd, B, H]) and Y_h ([nd, B, H]) are followed through
// their readers until they are plain Keras tensors: the layer's sequence (return_sequences), its
// last output, or its per-direction final states (return_state).
// Gate orders: ONNX LSTM i o f c -> Keras i f c o; GRU z r h in both; ONNX W [nd, G·H, I] rows ->
// Keras kernel [I, G·H] columns; Wb + Rb -> Keras' one bias (GRU reset_after: [2, 3H], Wb then Rb).
import { UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrStrings, constantValue, producersOf, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import { nodeLabel, unsupported, type KTensor, type Writer } from './from-graph.js';
import type { KShape } from './layers.js';

type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';

const SPEC: Record<RecurrentOp, { className: string; inner: string; cell: string; gates: number; states: number; order: number[] }> = {
  // order[k]: the ONNX gate block that is Keras gate block k
  LSTM: { className: 'LSTM', inner: 'lstm', cell: 'lstm_cell', gates: 4, states: 2, order: [0, 2, 3, 1] },
  GRU: { className: 'GRU', inner: 'gru', cell: 'gru_cell', gates: 3, states: 1, order: [0, 1, 2] },
  RNN: { className: 'SimpleRNN', inner: 'simple_rnn', cell: 'simple_rnn_cell', gates: 1, states: 1, order: [0] },
};

export const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/** Ops that compute each (batch, time) position alone: a time-major tensor passes through them unchanged. */
export const TIME_MAJOR_PASS = new Set(['MatMul', 'Identity', 'Dropout', 'Relu', 'Sigmoid', 'Tanh', 'Softplus', 'Softsign', 'Selu', 'Exp', 'Elu', 'LeakyRelu']);

const isRecurrent = (n: Node): boolean => !n.domain && RECURRENT_OPS.has(n.opType);

/**
 * The Y of a recurrent op on its way to a Keras tensor: `axes` names its IR axes (T time, N
 * direction, B batch, H hidden); `out` is the Keras [B, T, nd·H] sequence it becomes.
 */
interface SeqValue {
  kind: 'seq';
  axes: string;
  nd: number;
  hidden: number;
  out: KTensor;
  op: Node;
}

/** The Y_h of recurrent ops: `axes` NBH (layout 0) or BNH (layout 1); one Keras [B, H] state per entry of N. */
interface StateValue {
  kind: 'state';
  axes: string;
  perDir: KTensor[];
  op: Node;
}

export type RecurrentValue = SeqValue | StateValue;

/** Graph inputs that are time-major [T, B, ...]: read as X by a layout-0 recurrent op (through per-position ops). */
export function timeMajorInputs(graph: Graph): Set<string> {
  const producer = producersOf(graph.nodes);
  const inputs = new Set(graph.inputs.map((v) => v.name));
  const found = new Set<string>();
  for (const n of graph.nodes) {
    if (!isRecurrent(n) || attrInt(n, 'layout', 0) !== 0) continue;
    let v = n.inputs[0];
    for (let guard = 0; v && guard < 64; guard++) {
      if (inputs.has(v) && !graph.initializers.has(v)) {
        found.add(v);
        break;
      }
      const p = producer.get(v);
      if (!p || p.domain || !TIME_MAJOR_PASS.has(p.opType)) break;
      v = p.inputs[0];
    }
  }
  return found;
}

/** A constant, also one whose Constant node the writer has not reached yet (the lookahead past a recurrent op). */
function constantOf(w: Writer, name: string): Tensor | undefined {
  const t = w.constant(name);
  if (t) return t;
  const p = w.graph.nodes.find((n) => n.opType === 'Constant' && !n.domain && n.outputs[0] === name);
  return p ? constantValue(p) : undefined;
}

function constantInts(w: Writer, name: string | undefined): number[] | undefined {
  return name ? constantOf(w, name)?.toNumbers() : undefined;
}

function allZero(t: Tensor): boolean {
  return t.toFloat32().every((v) => v === 0);
}

/** The optional input `i`, when it is given. */
function given(n: Node, i: number): string | undefined {
  const v = n.inputs[i];
  return v ? v : undefined;
}

const near = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/**
 * ONNX's activation list (with the alpha / beta values its parametrised activations consume, in
 * order) as Keras' names: HardSigmoid is Keras 2 / TF.js' hard_sigmoid at (0.2, 0.5) and Keras 3's
 * at (1/6, 0.5); Affine (1, 0) is linear; Elu (1) is elu.
 */
function kerasActivations(n: Node, op: RecurrentOp, nd: number, keras3: boolean): { recurrent?: string; activation: string } {
  const defaults = op === 'LSTM' ? ['Sigmoid', 'Tanh', 'Tanh'] : op === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Tanh'];
  const acts = attrStrings(n, 'activations') ?? [];
  const per = defaults.length;
  if (acts.length && acts.length !== per * nd) unsupported(n, `with ${acts.length} activations (${per * nd} expected)`);
  const names = acts.length ? acts : [...defaults, ...(nd === 2 ? defaults : [])];
  const alphas = [...(attrFloats(n, 'activation_alpha') ?? [])];
  const betas = [...(attrFloats(n, 'activation_beta') ?? [])];
  const keras = names.map((a) => {
    switch (a) {
      case 'Sigmoid':
      case 'Tanh':
      case 'Relu':
      case 'Softsign':
      case 'Softplus':
        return a.toLowerCase();
      case 'HardSigmoid': {
        const [alpha, beta] = [alphas.shift() ?? 0.2, betas.shift() ?? 0.5];
        return near(alpha, keras3 ? 1 / 6 : 0.2) && near(beta, 0.5) ? 'hard_sigmoid' : undefined;
      }
      case 'Affine': {
        const [alpha, beta] = [alphas.shift(), betas.shift()];
        return near(alpha, 1) && near(beta ?? 0, 0) ? 'linear' : undefined;
      }
      case 'Elu':
        return near(alphas.shift() ?? 1, 1) ? 'elu' : undefined;
      default:
        return undefined;
    }
  });
  const dir0 = keras.slice(0, per);
  if (nd === 2 && keras.slice(per).some((a, i) => a !== dir0[i])) unsupported(n, 'with different activations per direction');
  const hard = keras3 ? "Keras 3's clip(x/6 + 0.5, 0, 1)" : "Keras 2 / TF.js' clip(0.2x + 0.5, 0, 1)";
  if (dir0.some((a) => !a)) unsupported(n, `with activations ${names.slice(0, per).join(', ')} and alpha / beta ${JSON.stringify(attrFloats(n, 'activation_alpha') ?? [])} / ${JSON.stringify(attrFloats(n, 'activation_beta') ?? [])} (Keras: sigmoid, tanh, relu, softsign, softplus, elu, linear, hard_sigmoid as ${hard})`);
  // Keras LSTM uses `activation` for both the cell input (g) and the output (h)
  if (op === 'LSTM' && dir0[1] !== dir0[2]) unsupported(n, `with activations ${names.slice(0, per).join(', ')}: Keras has one activation for g and h`);
  if (op === 'RNN') return { activation: dir0[0]! };
  return { recurrent: dir0[0]!, activation: dir0[1]! };
}

/**
 * The Keras reader gives a recurrent op its initial_state as Unsqueeze(h, axes [0]) (one direction)
 * or a Concat on axis 0 of one Unsqueeze per direction. Those nodes are skipped, and the state input
 * maps to the [batch, hidden] values, so recurrentRow passes them to the layer as initial_state.
 */
export function findInitialStates(w: Writer): void {
  const producer = producersOf(w.graph.nodes);
  const only = (v: string, reader: Node): boolean => (w.consumers.get(v) ?? []).every((c) => c === reader) && !w.graph.outputs.some((o) => o.name === v);
  const unsqueezed = (v: string, reader: Node): { node: Node; from: string } | undefined => {
    const u = producer.get(v);
    if (!u || u.domain || u.opType !== 'Unsqueeze' || !only(v, reader)) return undefined;
    const axes = constantInts(w, given(u, 1)) ?? attrInts(u, 'axes');
    return axes?.length === 1 && axes[0] === 0 ? { node: u, from: u.inputs[0]! } : undefined;
  };
  for (const n of w.graph.nodes) {
    if (!isRecurrent(n)) continue;
    for (const i of n.opType === 'LSTM' ? [5, 6] : [5]) {
      const v = given(n, i);
      if (!v || w.initialStates.has(v) || w.constant(v)) continue;
      const one = unsqueezed(v, n);
      if (one) {
        w.skip.add(one.node);
        w.initialStates.set(v, [one.from]);
        continue;
      }
      const c = producer.get(v);
      if (!c || c.domain || c.opType !== 'Concat' || attrInt(c, 'axis', -1) !== 0 || c.inputs.length !== 2 || !only(v, n)) continue;
      const parts = c.inputs.map((p) => unsqueezed(p, c));
      if (parts.some((p) => !p)) continue;
      for (const p of parts) w.skip.add(p!.node);
      w.skip.add(c);
      w.initialStates.set(v, parts.map((p) => p!.from));
    }
  }
}

/** Axes after a Squeeze / Transpose / Reshape of a recurrent value; undefined where it is not one of those. */
function nextAxes(w: Writer, n: Node, axes: string, nd: number, hidden: number): string | undefined {
  if (n.domain) return undefined;
  const norm = (a: number): number => (a < 0 ? a + axes.length : a);
  if (n.opType === 'Squeeze') {
    const sq = (constantInts(w, given(n, 1)) ?? attrInts(n, 'axes'))?.map(norm);
    if (!sq || !sq.length || sq.some((a) => axes[a] !== 'N' || nd !== 1)) return undefined;
    return [...axes].filter((_, i) => !sq.includes(i)).join('');
  }
  if (n.opType === 'Transpose') {
    const perm = attrInts(n, 'perm', [...axes].map((_, i) => axes.length - 1 - i));
    if (perm.length !== axes.length) return undefined;
    return perm.map((p) => axes[p]!).join('');
  }
  if (n.opType === 'Reshape') {
    // [.., N, H] -> [.., N·H]: the direction-major concat Keras' Bidirectional gives
    const target = constantInts(w, given(n, 1));
    if (!target || !axes.endsWith('NH') || target.length !== axes.length - 1) return undefined;
    const last = target[target.length - 1]!;
    if (last !== -1 && last !== nd * hidden) return undefined;
    if (target.filter((d) => d === -1).length > 1 || target.slice(0, -1).some((d) => d < -1)) return undefined;
    return `${axes.slice(0, -2)}H`;
  }
  return undefined;
}

/** Index `i` of a scalar constant index input, normalised on an axis of `size`. */
function scalarIndex(w: Writer, n: Node, size: number | null): number | undefined {
  const idx = constantOf(w, n.inputs[1]!);
  if (!idx || idx.rank !== 0) return undefined;
  const i = idx.toNumbers()[0]!;
  if (i >= 0) return i;
  return size === null ? undefined : i + size;
}

/** Y -> ... -> Gather of the last step: the chain of readers (ending with the Gather) that `return_sequences=False` replaces. */
function lastStepChain(w: Writer, y: string, axes: string, T: number | null, hidden: number): Node[] | undefined {
  const chain: Node[] = [];
  let cur = y;
  let a = axes;
  for (let guard = 0; guard < 8; guard++) {
    const c = w.soleConsumer(cur);
    if (!c || c.domain) return undefined;
    if (c.opType === 'Gather') {
      if (a.length !== 3 || a.includes('N') || c.inputs[0] !== cur) return undefined;
      const axis = attrInt(c, 'axis', 0);
      if (a[axis < 0 ? axis + 3 : axis] !== 'T') return undefined;
      // y[:, -1] needs no known length
      const idx = constantOf(w, c.inputs[1]!);
      const i = idx && idx.rank === 0 ? idx.toNumbers()[0]! : undefined;
      if (i !== -1 && (T === null || i !== T - 1)) return undefined;
      chain.push(c);
      return chain;
    }
    const next = nextAxes(w, c, a, 1, hidden);
    if (!next) return undefined;
    chain.push(c);
    cur = c.outputs[0]!;
    a = next;
  }
  return undefined;
}

function used(w: Writer, v: string | undefined): boolean {
  if (!v) return false;
  return (w.consumers.get(v)?.length ?? 0) > 0 || w.graph.outputs.some((o) => o.name === v);
}

/** An ONNX LSTM / GRU / RNN as one Keras recurrent layer (Bidirectional for both directions). */
export function recurrentRow(w: Writer, n: Node): KTensor[] {
  const op = n.opType as RecurrentOp;
  const spec = SPEC[op];
  const layout = attrInt(n, 'layout', 0);
  const direction = attrString(n, 'direction', 'forward');
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') unsupported(n, `with direction '${direction}'`);
  const nd = direction === 'bidirectional' ? 2 : 1;
  if (attrFloat(n, 'clip') !== undefined) unsupported(n, 'with clip (Keras cells do not clip)');
  if (op === 'LSTM' && attrInt(n, 'input_forget', 0) !== 0) unsupported(n, 'with input_forget (a coupled input-forget gate)');
  const acts = kerasActivations(n, op, nd, !!w.options.keras3);
  const Wt = w.constant(n.inputs[1]!);
  const Rt = w.constant(n.inputs[2]!);
  if (!Wt || !Rt) unsupported(n, 'with computed weights');
  const G = spec.gates;
  const H = attrInt(n, 'hidden_size', Rt.shape[2] ?? 0);
  if (Wt.rank !== 3 || Wt.shape[0] !== nd || Wt.shape[1] !== G * H || Rt.rank !== 3 || Rt.shape[1] !== G * H || Rt.shape[2] !== H) unsupported(n, `with W [${Wt.shape.join(', ')}] / R [${Rt.shape.join(', ')}] that do not fit hidden_size ${H}`);
  const I = Wt.shape[2]!;
  const Bt = given(n, 3) ? w.constant(n.inputs[3]!) : undefined;
  if (given(n, 3) && !Bt) unsupported(n, 'with a computed bias');

  const xv = w.values.get(n.inputs[0]!);
  if (!xv) w.input(n, 0);
  const x = xv!;
  if (x.shape.length !== 3) unsupported(n, `on a rank-${x.shape.length} input`);
  if (layout === 0 && !x.timeMajor) unsupported(n, `(layout 0, time-major X) on '${n.inputs[0]}', whose first axis is the Keras batch`);
  if (layout === 1 && x.timeMajor) unsupported(n, `(layout 1, batch-major X) on the time-major '${n.inputs[0]}'`);
  const T = x.shape[1] ?? null;

  // sequence_lens: only all full length
  const seqLens = given(n, 4);
  if (seqLens) {
    const s = w.constant(seqLens);
    if (!s || T === null || s.toNumbers().some((v) => v !== T)) unsupported(n, 'with sequence_lens that are not all the full sequence length (Keras masks are not written)');
  }
  // initial states: constant zeros (Keras' own), or per-direction [batch, hidden] values given as
  // initial_state (the Unsqueeze / Concat the Keras reader makes of them; findInitialStates)
  const stateInputs = op === 'LSTM' ? [5, 6] : [5];
  const states: string[][] = [];
  for (const i of stateInputs) {
    const v = given(n, i);
    if (!v) continue;
    const t = w.constant(v);
    if (t && allZero(t)) continue;
    const per = w.initialStates.get(v);
    if (!per || per.length !== nd) unsupported(n, `with the initial ${i === 5 ? 'hidden' : 'cell'} state '${v}' (Keras takes initial_state as one [batch, hidden] tensor per direction)`);
    states[i - 5] = per;
  }
  if (states.length && stateInputs.some((i) => !states[i - 5])) unsupported(n, 'with only some of its initial states given');
  // Keras' order: per direction, h then c
  const stateTensors = states.length
    ? Array.from({ length: nd }, (_, d) => stateInputs.map((i) => {
      const t = w.values.get(states[i - 5]![d]!);
      if (!t || t.shape.length !== 2 || t.timeMajor) unsupported(n, `with the initial state '${states[i - 5]![d]}', not a [batch, hidden] Keras tensor`);
      return t;
    })).flat()
    : [];
  const peep = op === 'LSTM' ? given(n, 7) : undefined;
  if (peep) {
    const t = w.constant(peep);
    if (!t || !allZero(t)) unsupported(n, 'with peepholes (Keras LSTM has none)');
  }

  const [Y, Yh, Yc] = n.outputs;
  if (Yh && w.graph.outputs.some((o) => o.name === Yh)) unsupported(n, 'with Y_h as a graph output ([directions, batch, hidden] is not batch-major)');
  if (Yc && w.graph.outputs.some((o) => o.name === Yc)) unsupported(n, 'with Y_c as a graph output ([directions, batch, hidden] is not batch-major)');
  const yUsed = used(w, Y);
  const hUsed = used(w, Yh);
  const cUsed = used(w, Yc);
  const reverse = direction === 'reverse';
  const chain = yUsed && nd === 1 && !reverse ? lastStepChain(w, Y!, layout === 0 ? 'TNBH' : 'BTNH', T, H) : undefined;
  const returnSequences = yUsed && !chain;
  if (reverse && returnSequences) unsupported(n, "in reverse direction with its sequence Y used (Keras go_backwards returns the sequence last step first)");
  // the last cell state is only one of return_state's outputs
  const returnState = (hUsed && (nd === 2 || returnSequences)) || cUsed;
  const resetAfter = op === 'GRU' && attrInt(n, 'linear_before_reset', 0) === 1;

  // Keras weights per direction: kernel [I, G·H], recurrent_kernel [H, G·H], bias [G·H] (GRU reset_after: [2, G·H])
  const wd = Wt.toFloat32();
  const rd = Rt.toFloat32();
  const bd = Bt?.toFloat32();
  if (Bt && (Bt.size !== nd * 2 * G * H)) unsupported(n, `with B of shape [${Bt.shape.join(', ')}]`);
  const dirWeights = Array.from({ length: nd }, (_, d) => {
    const kernel = new Float32Array(I * G * H);
    const recurrent = new Float32Array(H * G * H);
    const bias = new Float32Array((resetAfter ? 2 : 1) * G * H);
    spec.order.forEach((g, k) => {
      for (let u = 0; u < H; u++) {
        const row = (d * G + g) * H + u;
        const col = k * H + u;
        for (let i = 0; i < I; i++) kernel[i * G * H + col] = wd[row * I + i]!;
        for (let j = 0; j < H; j++) recurrent[j * G * H + col] = rd[row * H + j]!;
        if (bd) {
          const wb = bd[d * 2 * G * H + g * H + u]!;
          const rb = bd[d * 2 * G * H + G * H + g * H + u]!;
          if (resetAfter) {
            bias[col] = wb;
            bias[G * H + col] = rb;
          } else bias[col] = wb + rb;
        }
      }
    });
    const weights = [
      { role: 'kernel', tensor: Tensor.float32([I, G * H], kernel) },
      { role: 'recurrent_kernel', tensor: Tensor.float32([H, G * H], recurrent) },
      ...(bd ? [{ role: 'bias', tensor: Tensor.float32(resetAfter ? [2, G * H] : [G * H], bias) }] : []),
    ];
    return weights;
  });

  const inner: JsonObject = {
    return_sequences: returnSequences,
    return_state: returnState,
    go_backwards: reverse,
    stateful: false,
    unroll: false,
    time_major: false,
    units: H,
    activation: acts.activation,
    ...(acts.recurrent ? { recurrent_activation: acts.recurrent } : {}),
    use_bias: !!bd,
    dropout: 0,
    recurrent_dropout: 0,
    ...(op === 'LSTM' ? { unit_forget_bias: false, implementation: 2 } : {}),
    ...(op === 'GRU' ? { reset_after: resetAfter, implementation: 2 } : {}),
  };
  const base = n.name || n.outputs[0] || op;
  const seqShape: KShape = [null, T, nd * H];
  const mainShape: KShape = returnSequences ? seqShape : [null, nd * H];
  let layer: KTensor;
  if (nd === 1) {
    layer = w.add(spec.className, base, inner, [x, ...stateTensors], mainShape, dirWeights[0]!.map((r) => ({ role: `${spec.cell}/${r.role}`, tensor: r.tensor })));
  } else {
    const config: JsonObject = { layer: { class_name: spec.className, config: { name: spec.inner, trainable: true, dtype: 'float32', ...inner } }, merge_mode: 'concat' };
    const weights = dirWeights.flatMap((ws, d) => ws.map((r) => ({ role: `${d === 0 ? 'forward' : 'backward'}_${spec.inner}/${spec.cell}/${r.role}`, tensor: r.tensor })));
    layer = w.add('Bidirectional', base, config, [x, ...stateTensors], mainShape, weights);
  }
  if (stateTensors.length) w.layers[w.layers.length - 1]!.initialStates = stateTensors.length;
  const name = layer.ref[0];
  // Keras outputs: [output, (h, c) per direction, forward first] with return_state
  const stateRef = (d: number, s = 0): KTensor => ({ ref: [name, 0, 1 + d * spec.states + s], shape: [null, H] });

  if (chain) {
    for (const c of chain) w.skip.add(c);
    w.values.set(chain[chain.length - 1]!.outputs[0]!, layer);
  } else if (returnSequences) {
    w.recurrent.set(Y!, { kind: 'seq', axes: layout === 0 ? 'TNBH' : 'BTNH', nd, hidden: H, out: layer, op: n });
  }
  if (hUsed) {
    const perDir = returnState ? Array.from({ length: nd }, (_, d) => stateRef(d)) : [layer];
    w.recurrent.set(Yh!, { kind: 'state', axes: layout === 0 ? 'NBH' : 'BNH', perDir, op: n });
  }
  if (cUsed) w.recurrent.set(Yc!, { kind: 'state', axes: layout === 0 ? 'NBH' : 'BNH', perDir: Array.from({ length: nd }, (_, d) => stateRef(d, 1)), op: n });
  return [];
}

function refuseReader(n: Node, v: RecurrentValue): never {
  const what = v.kind === 'seq' ? `the sequence Y of ${nodeLabel(v.op)} as [${[...v.axes].join(', ')}]` : `the last state Y_h of ${nodeLabel(v.op)}`;
  throw new UnsupportedError(`${n.opType} reading ${what} in a Keras model (Keras recurrent layers give [batch, time, directions·hidden] sequences and per-direction [batch, hidden] states)`, nodeLabel(n));
}

/** The indices a constant Slice of one axis (`axis`, of `size`) keeps; undefined where it is not that. */
function sliceIndices(w: Writer, n: Node, size: number, axis: number): number[] | undefined {
  const opsetAttrs = n.inputs.length === 1;
  const starts = opsetAttrs ? attrInts(n, 'starts') : constantInts(w, given(n, 1));
  const ends = opsetAttrs ? attrInts(n, 'ends') : constantInts(w, given(n, 2));
  const axes = (opsetAttrs ? attrInts(n, 'axes') : constantInts(w, given(n, 3))) ?? [0];
  const steps = (opsetAttrs ? undefined : constantInts(w, given(n, 4))) ?? [1];
  if (!starts || !ends || starts.length !== 1 || ends.length !== 1 || axes.length !== 1 || steps.length !== 1) return undefined;
  if ((axes[0]! < 0 ? axes[0]! + 3 : axes[0]) !== axis || steps[0] === 0) return undefined;
  const step = steps[0]!;
  const norm = (i: number, lo: number, hi: number): number => Math.min(Math.max(i < 0 ? i + size : i, lo), hi);
  const out: number[] = [];
  if (step > 0) for (let i = norm(starts[0]!, 0, size), e = norm(ends[0]!, 0, size); i < e; i += step) out.push(i);
  else for (let i = norm(starts[0]!, 0, size - 1), e = norm(ends[0]!, -1, size - 1); i > e; i += step) out.push(i);
  return out.length ? out : undefined;
}

/** A node reading a Y / Y_h that is not yet a Keras tensor: follow it (or refuse, naming both nodes). */
export function recurrentReader(w: Writer, n: Node): void {
  const vals = n.inputs.map((i) => (i ? w.recurrent.get(i) : undefined));
  const v = vals.find((x) => x)!;
  const out = n.outputs[0]!;
  if (v.kind === 'seq') {
    if (vals.indexOf(v) !== 0 || vals.filter((x) => x).length !== 1) refuseReader(n, v);
    const next = nextAxes(w, n, v.axes, v.nd, v.hidden);
    if (!next) refuseReader(n, v);
    if (next === 'BTH') w.values.set(out, v.out);
    else if (next === 'TBH') w.values.set(out, { ...v.out, timeMajor: true });
    else w.recurrent.set(out, { ...v, axes: next });
    return;
  }
  const nAxis = v.axes.indexOf('N');
  if (n.domain) refuseReader(n, v);
  if (n.opType === 'Gather' && vals.indexOf(v) === 0) {
    const axis = attrInt(n, 'axis', 0);
    if ((axis < 0 ? axis + 3 : axis) !== nAxis) refuseReader(n, v);
    const i = scalarIndex(w, n, v.perDir.length);
    if (i !== undefined && i >= 0 && i < v.perDir.length) {
      w.values.set(out, v.perDir[i]!);
      return;
    }
    const idx = w.constant(n.inputs[1]!);
    if (idx && idx.rank === 1) {
      const sel = idx.toNumbers().map((k) => (k < 0 ? k + v.perDir.length : k));
      if (sel.every((k) => k >= 0 && k < v.perDir.length)) {
        w.recurrent.set(out, { ...v, perDir: sel.map((k) => v.perDir[k]!) });
        return;
      }
    }
    refuseReader(n, v);
  }
  if (n.opType === 'Transpose' && vals.indexOf(v) === 0) {
    // [N, B, H] <-> [B, N, H]: the same per-direction states
    const perm = attrInts(n, 'perm', [2, 1, 0]);
    const axes = perm.length === 3 ? perm.map((p) => v.axes[p]!).join('') : '';
    if (axes.endsWith('H')) {
      w.recurrent.set(out, { ...v, axes });
      return;
    }
  }
  if (n.opType === 'Reshape' && v.axes === 'BNH') {
    // [B, N, H] -> [B, N·H]: the directions' states concatenated (a Bidirectional's last output)
    const target = constantInts(w, given(n, 1));
    const H = v.perDir[0]!.shape[1];
    if (target && target.length === 2 && target[0] !== undefined && target[0] <= 0 && (target[1] === -1 || (typeof H === 'number' && target[1] === v.perDir.length * H))) {
      w.values.set(out, v.perDir.length === 1 ? v.perDir[0]! : w.add('Concatenate', n.name || out, { axis: -1 }, v.perDir, [null, typeof H === 'number' ? v.perDir.length * H : null]));
      return;
    }
  }
  if (n.opType === 'Slice' && vals.indexOf(v) === 0) {
    // the per-direction states a Keras reader makes of Y_h: Y_h[d:d+1] on the direction axis
    const sel = sliceIndices(w, n, v.perDir.length, nAxis);
    if (sel) {
      w.recurrent.set(out, { ...v, perDir: sel.map((k) => v.perDir[k]!) });
      return;
    }
  }
  if (n.opType === 'Squeeze' && v.perDir.length === 1) {
    const sq = (constantInts(w, given(n, 1)) ?? attrInts(n, 'axes'))?.map((a) => (a < 0 ? a + 3 : a));
    if (sq && sq.length === 1 && sq[0] === nAxis) {
      w.values.set(out, v.perDir[0]!);
      return;
    }
  }
  if (n.opType === 'Concat') {
    // PyTorch's h_n of a multi-layer RNN: the layers' Y_h concatenated on the direction axis
    const axis = attrInt(n, 'axis', 0);
    const all = vals.every((x) => x && x.kind === 'state' && x.axes === v.axes);
    if (all && (axis < 0 ? axis + 3 : axis) === nAxis) {
      w.recurrent.set(out, { ...v, perDir: vals.flatMap((x) => (x as StateValue).perDir) });
      return;
    }
  }
  refuseReader(n, v);
}

/**
 * Gather of one step on the time axis of a [B, T, F] tensor (or of a time-major one): Reshape to
 * [B, T, F, 1], Cropping2D to that step, Reshape to [B, F] (PyTorch's `y[:, -1]` on a bidirectional
 * RNN's sequence; TF.js 4.9 has no Cropping1D). Undefined where the Gather is not that.
 */
export function timeStepGather(w: Writer, n: Node, x: KTensor): KTensor | undefined {
  if (x.shape.length !== 3) return undefined;
  let axis = attrInt(n, 'axis', 0);
  if (axis < 0) axis += 3;
  if (axis !== (x.timeMajor ? 0 : 1)) return undefined;
  const T = x.shape[1];
  if (typeof T !== 'number') unsupported(n, 'on a time axis of unknown length');
  const i = scalarIndex(w, n, T);
  if (i === undefined || i < 0 || i >= T) unsupported(n, 'with a computed, non-scalar or out-of-range time index');
  const base = n.name || n.outputs[0]!;
  const F = x.shape[2];
  if (typeof F !== 'number') unsupported(n, 'with an unknown feature count');
  const image = w.add('Reshape', `${base}_image`, { target_shape: [T, F, 1] }, [{ ...x, timeMajor: undefined }], [null, T, F, 1]);
  const step = w.add('Cropping2D', `${base}_step`, { cropping: [[i, T - 1 - i], [0, 0]], data_format: 'channels_last' }, [image], [null, 1, F, 1]);
  return w.add('Reshape', base, { target_shape: [F] }, [step], [null, F]);
}
