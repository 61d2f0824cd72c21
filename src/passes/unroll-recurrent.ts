// ONNX LSTM / GRU / RNN unrolled over their (static) time steps into plain ops, for formats
// without a recurrent op nnport writes: TFLite has no GRU builtin (TF's converter writes a Keras
// GRU as a WHILE loop, or unrolled with unroll=True), and a frozen TF1 GraphDef holds a static
// RNN as its unrolled steps. The input projection of every step is one MatMul over the whole
// sequence; each step adds its recurrent projection and computes ONNX's formulas:
//   LSTM (gate order i, o, f, c): i, o, f = σ(..), c̃ = g(..), c' = f ⊙ c + i ⊙ c̃, h' = o ⊙ h(c')
//   GRU (gate order z, r, h):     z = σ(x Wz + h Rz + Wbz + Rbz)   r = σ(x Wr + h Rr + Wbr + Rbr)
//     n = g(x Wh + r ⊙ (h Rh + Rbh) + Wbh)  (linear_before_reset; else g(x Wh + (r ⊙ h) Rh + Rbh + Wbh))
//     h' = n + z ⊙ (h - n)                  (= (1 - z) ⊙ n + z ⊙ h)
//   RNN:                          h' = f(x W + h R + Wb + Rb)
// nnport's LSTM cell_clip (TFLite's) becomes a Clip of each step's cell state; peepholes add P ⊙ c
// to the i and f gates (the previous cell state) and the o gate (the new one).
// The initial states may be any value (constants, zero when absent, or model inputs): the steps
// read them like any other. Every activation ONNX's recurrent ops name is written as plain ops:
// Sigmoid, Tanh, Relu, HardSigmoid (alpha, beta: old Keras' default recurrent_activation,
// clip(0.2x + 0.5, 0, 1)), LeakyRelu and Elu as themselves; Affine (alpha·x + beta: Keras' linear)
// as a Mul and an Add by constants (neither for the identity); ScaledTanh as alpha·tanh(beta·x);
// ThresholdedRelu as Where(x > alpha, x, 0); Softsign as x / (1 + |x|); Softplus as the overflow-free
// relu(x) + log(1 + exp(-|x|)). What the steps cannot compute (clip, input_forget, short
// sequence_lens) is refused by name.
import { UnsupportedError } from '../ir/errors.js';
import { inferShapes } from '../ir/ops/index.js';
import { parseRecurrentAttrs, type RecurrentOp, type RnnActivation } from '../ir/ops/recurrent.js';
import { valueNamer, type Attr, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

const int = (value: number): Attr => ({ type: 'int', value });
const float = (value: number): Attr => ({ type: 'float', value });
const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };

export interface UnrollOptions {
  /**
   * Each step's input sliced out of x and projected by a 2-D MatMul + bias of its own (as TF1's
   * static_rnn writes it) instead of one MatMul over the whole sequence gathered per step: OpenCV's
   * TF importer runs a MatMul only as a dense layer (2-D, constant weights, a following Add fused as
   * its bias, which must then be constant) and has no GatherV2 / BatchMatMul. The recurrent
   * projection gets its own bias Add for the same reason, and GRU's h' = n - z ⊙ (n - h) (its
   * importer writes const - x as x - const).
   */
  perStepInput?: boolean;
  /** which of the `ops` nodes are unrolled (all of them by default) */
  only?: (n: Node) => boolean;
  /**
   * Activations written as the ONNX op of the same name rather than in plain arithmetic: those
   * the target has an op of its own for (TF's Softplus, Softsign; ThresholdedRelu, which the
   * GraphDef writer writes as TF writes Keras' ThresholdedReLU)
   */
  native?: ReadonlyArray<'Softplus' | 'Softsign' | 'ThresholdedRelu'>;
  /**
   * A node's step mask (Keras masking, src/formats/keras/masking.ts): the name of a bool [B, T]
   * value (batch-major whatever the layout); a step whose row is false keeps that row's states
   * (h' = Where(m, h_new, h), c likewise), so its Y row repeats the previous h (TF.js' rnn)
   */
  mask?: (n: Node) => string | undefined;
}

/**
 * Every ONNX recurrent op of `ops` in the graph unrolled into plain ops (the graph as it is when
 * it has none). `target` names the output format in errors ("a TFLite file", "a GraphDef").
 */
export function unrollRecurrent(g: Graph, ops: readonly RecurrentOp[], target: string, options: UnrollOptions = {}): Graph {
  const only = options.only ?? (() => true);
  const isUnrolled = (n: Node): boolean => (ops as readonly string[]).includes(n.opType) && (n.domain === '' || n.domain === 'ai.onnx') && only(n);
  if (!g.nodes.some(isUnrolled)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (isUnrolled(n)) nodes.push(...unrollOne(n, n.opType as RecurrentOp, g, shapes, fresh, initializers, target, options));
    else nodes.push(n);
  }
  return { ...g, nodes, initializers };
}

/**
 * The LSTMs with nnport's `cell_clip` (TFLite's cell_clip, read from a .tflite) unrolled, for the
 * writers of formats whose LSTM cannot bound the cell state (ONNX, Keras, TF.js).
 */
export const unrollCellClipped = (g: Graph, target: string): Graph => unrollRecurrent(g, ['LSTM'], target, { only: (n) => n.attrs.cell_clip !== undefined });

/**
 * Whether value `v` of the graph is known to be all zeros: a constant of zeros, or zeros expanded to
 * the batch and sliced per layer (PyTorch's zero initial states under a dynamic batch): what moves
 * data only keeps zeros zeros.
 */
export function knownZeros(g: Graph, v: string, depth = 0): boolean {
  const t = g.initializers.get(v);
  if (t) return t.toNumbers().every((k) => k === 0);
  const from = g.nodes.find((m) => m.outputs[0] === v);
  if (!from || depth > 8) return false;
  if (from.opType === 'ConstantOfShape') return !from.attrs.value || (from.attrs.value.type === 'tensor' && from.attrs.value.value.toNumbers().every((k) => k === 0));
  if (from.opType === 'Constant') return from.attrs.value?.type === 'tensor' && from.attrs.value.value.toNumbers().every((k) => k === 0);
  return ['Expand', 'Slice', 'Gather', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity'].includes(from.opType) && knownZeros(g, from.inputs[0]!, depth + 1);
}

/** The value map of inferShapes, as the builders read it. */
type Shapes = ReturnType<typeof inferShapes>['values'];

/**
 * What builds one recurrent node's steps, shared by the unroller (unrollOne: T steps in a row) and
 * the loop form (src/passes/recurrent-to-loop.ts: one step as an ONNX Loop's body): the node's
 * attributes, its constants (transposed weights, split biases), the emitter of its ops and, per
 * direction, the input projection over the whole sequence and the step h, c -> h', c'.
 */
export interface RecurrentBuild {
  readonly a: ReturnType<typeof parseRecurrentAttrs>;
  readonly H: number;
  readonly D: number;
  /** the time axis of x (0, or 1 under layout 1) */
  readonly tAxis: 0 | 1;
  /** x's batch dim (a name when dynamic) */
  readonly bDim: number | string | null | undefined;
  readonly where: string;
  /** the node list the ops go into (the graph around the node, or a loop body) */
  into(nodes: Node[]): void;
  op(type: string, inputs: string[], name: string, attrs?: Record<string, Attr>, output?: string): string;
  constant(name: string, t: Tensor): string;
  /** initial state `input` (5: h, 6: c) of direction d as [B, H] (zeros [1, H] when absent under a dynamic batch) */
  initial(input: number, what: string, d: number): string;
  direction(d: number): RecurrentDirection;
  // (what the unroller's per-step input form reads)
  readonly x: string;
  readonly I: number;
  readonly perStep: boolean;
  zeroState(input: number): boolean;
  split(v: string, sizes: number[], name: string, axis?: number): string[];
}

export interface RecurrentDirection {
  readonly reverse: boolean;
  /** a name under the direction (forward/..., backward/... when bidirectional) */
  p(s: string): string;
  /** x · W + the biases that do not wait for the state, over the whole sequence ('' with perStepInput) */
  readonly xp: string;
  /** the step named `s` from its projected input xt [B, G·H] and the states h, c ('' for none) */
  step(s: string, xt: string, h: string, c: string): { h: string; c: string };
  // (perStepInput: the input weights [I, G·H], the input biases, and those joined to the recurrent ones for a zero state)
  readonly wt: string;
  readonly inputBias: string;
  firstBias(): string;
}

/**
 * The builder of node `n` (see RecurrentBuild). `T` is the static sequence length, undefined when it is
 * dynamic (then a sequence_lens is refused: nothing checks that it equals T).
 */
export function recurrentBuild(n: Node, opType: RecurrentOp, g: Graph, shapes: Shapes, fresh: (base: string) => string, inits: Map<string, Tensor>, target: string, options: UnrollOptions, T: number | undefined): RecurrentBuild {
  const a = parseRecurrentAttrs(n, opType);
  const where = `node '${n.name}'`;
  const G = GATES[opType];
  const x = n.inputs[0]!;
  const xs = shapes.get(x)?.shape;
  const tAxis = a.layout === 0 ? 0 : 1;
  const weight = (i: number, what: string): Tensor => {
    const t = n.inputs[i] ? g.initializers.get(n.inputs[i]!) : undefined;
    if (!t || t.dtype !== 'float32') throw new UnsupportedError(`${opType} with computed or non-float32 ${what} in ${target}`, `${where}: the ${what} must be float32 constants`);
    return t;
  };
  const W = weight(1, 'input weights (W)');
  const R = weight(2, 'recurrent weights (R)');
  const Bt = n.inputs[3] ? weight(3, 'biases (B)') : undefined;
  const H = R.shape[2]!;
  const I = W.shape[2]!;
  const D = a.numDirections;
  if (a.clip !== undefined) throw new UnsupportedError(`${opType} clip in ${target}`, where);
  if (a.inputForget) throw new UnsupportedError(`LSTM input_forget in ${target}`, where);
  const Pt = opType === 'LSTM' && n.inputs[7] ? weight(7, 'peephole weights (P)') : undefined;
  if (n.inputs[4]) {
    const lens = g.initializers.get(n.inputs[4]);
    if (T === undefined) throw new UnsupportedError(`${opType} sequence_lens over a dynamic sequence length in ${target}`, `${where}: only a sequence_lens known to equal the sequence length everywhere is written`);
    if (!lens || lens.toNumbers().some((v) => v !== T)) throw new UnsupportedError(`${opType} sequence_lens in ${target}`, `${where}: only sequence_lens equal to the sequence length (${T}) everywhere is written`);
  }
  let out: Node[] = [];
  const base = n.outputs.find((o) => o) ?? n.name;
  const op = (type: string, inputs: string[], name: string, attrs: Record<string, Attr> = {}, output?: string): string => {
    const v = output ?? fresh(`${base}/${name}`);
    out.push({ name: fresh(`${base}/${name}_node`), opType: type, domain: '', inputs, outputs: [v], attrs });
    return v;
  };
  const split = (v: string, sizes: number[], name: string, axis = 1): string[] => {
    const outs = sizes.map((_, k) => fresh(`${base}/${name}_${k}`));
    out.push({ name: fresh(`${base}/${name}_node`), opType: 'Split', domain: '', inputs: [v, constant(`${name}_sizes`, Tensor.int64([sizes.length], sizes))], outputs: outs, attrs: { axis: int(axis) } });
    return outs;
  };
  const constant = (name: string, t: Tensor): string => {
    const v = fresh(`${base}/${name}`);
    inits.set(v, t);
    return v;
  };
  const w = W.toFloat32();
  const r = R.toFloat32();
  const b = Bt?.toFloat32();
  // rows [r0, r0 + rows) of direction d of a [D, G·H, k] tensor, transposed to [k, rows]
  const transposed = (src: Float32Array, k: number, d: number, r0: number, rows: number): Tensor => {
    const m = new Float32Array(k * rows);
    for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) m[j * rows + i] = src[(d * G * H + r0 + i) * k + j]!;
    return Tensor.float32([k, rows], m);
  };
  // Wb[from, from + rows) (withW) + Rb[from, from + rows) (withR) of direction d
  const bias = (d: number, from: number, rows: number, withR: boolean, withW = true): Float32Array => {
    const v = new Float32Array(rows);
    if (b) for (let i = 0; i < rows; i++) v[i] = (withW ? b[d * 2 * G * H + from + i]! : 0) + (withR ? b[d * 2 * G * H + G * H + from + i]! : 0);
    return v;
  };
  const scalar = (name: string, v: number) => constant(name, Tensor.float32([], [v]));
  // an activation of ONNX's recurrent list as plain ops (see the head of this file)
  const act = (f: RnnActivation, v: string, label: string): string => {
    if ((options.native as readonly string[] | undefined)?.includes(f.name)) return op(f.name, [v], label, f.name === 'ThresholdedRelu' ? { alpha: float(f.alpha) } : {});
    switch (f.name) {
      case 'Sigmoid':
      case 'Tanh':
      case 'Relu':
        return op(f.name, [v], label);
      case 'HardSigmoid':
        return op('HardSigmoid', [v], label, { alpha: float(f.alpha), beta: float(f.beta) });
      case 'LeakyRelu':
      case 'Elu':
        return op(f.name, [v], label, { alpha: float(f.alpha) });
      case 'Affine': {
        const scaled = f.alpha === 1 ? v : op('Mul', [v, scalar(`${label}_alpha`, f.alpha)], f.beta === 0 ? label : `${label}_scaled`);
        return f.beta === 0 ? scaled : op('Add', [scaled, scalar(`${label}_beta`, f.beta)], label);
      }
      case 'ScaledTanh':
        return op('Mul', [op('Tanh', [op('Mul', [v, scalar(`${label}_beta`, f.beta)], `${label}_scaled`)], `${label}_tanh`), scalar(`${label}_alpha`, f.alpha)], label);
      case 'ThresholdedRelu':
        return op('Where', [op('Greater', [v, scalar(`${label}_alpha`, f.alpha)], `${label}_above`), v, scalar(`${label}_zero`, 0)], label);
      case 'Softsign':
        return op('Div', [v, op('Add', [op('Abs', [v], `${label}_abs`), scalar(`${label}_one`, 1)], `${label}_denominator`)], label);
      case 'Softplus': {
        const tail = op('Exp', [op('Neg', [op('Abs', [v], `${label}_abs`)], `${label}_negated`)], `${label}_exp`);
        return op('Add', [op('Relu', [v], `${label}_relu`), op('Log', [op('Add', [tail, scalar(`${label}_one`, 1)], `${label}_exp_plus_one`)], `${label}_log`)], label);
      }
    }
  };
  // an initial state [D, B, H] (layout 1: [B, D, H]) of direction d, or zeros ([1, H] under a
  // dynamic batch: the first step broadcasts it)
  const bDim = xs![1 - tAxis]!;
  const initial = (input: number, what: string, d: number): string => {
    if (!n.inputs[input]) {
      const rows = typeof bDim === 'number' ? bDim : 1;
      return constant(`${what}0_${d}`, Tensor.float32([rows, H], new Float32Array(rows * H)));
    }
    return op('Gather', [n.inputs[input]!, constant(`${what}0_direction_${d}`, Tensor.int64([], [d]))], `${what}0_${d}`, { axis: int(a.layout === 0 ? 0 : 1) });
  };
  const zeroState = (input: number): boolean => !n.inputs[input] || knownZeros(g, n.inputs[input]!);
  // nnport's cell_clip (TFLite's): the cell state bounded after each update
  const cellBounds = a.cellClip !== undefined ? [constant('cell_clip_min', Tensor.float32([], [-a.cellClip])), constant('cell_clip_max', Tensor.float32([], [a.cellClip]))] : undefined;
  const perStep = options.perStepInput === true;
  const direction = (d: number): RecurrentDirection => {
    const reverse = a.direction === 'reverse' || d === 1;
    const dn = D === 2 ? (d === 0 ? 'forward' : 'backward') : '';
    const p = (s: string) => (dn ? `${dn}/${s}` : s);
    const [f, gAct, hAct] = a.activations[d]!;
    // x [T, B, I] · [I, G·H] + the biases that do not wait for the state: every step's input
    // projection at once, or (perStepInput) each step's [B, I] slice by itself
    const wt = constant(p('input_weights_t'), transposed(w, I, d, 0, G * H));
    const xb = new Float32Array(G * H);
    if (opType === 'GRU' && !perStep) {
      xb.set(bias(d, 0, 2 * H, true), 0);
      xb.set(bias(d, 2 * H, H, false), 2 * H);
    } else xb.set(bias(d, 0, G * H, !perStep), 0);
    const inputBias = constant(p('input_bias'), Tensor.float32([G * H], xb));
    const xp = perStep ? '' : op('Add', [op('MatMul', [x, wt], p('input_projection')), inputBias], p('input_projection_biased'));
    // perStepInput: the recurrent biases (GRU: of z and r) added to the recurrent projection, and
    // (a zero state: no recurrent projection) joined to the input's at step 0
    const recurrentRows = opType === 'GRU' ? 2 * H : G * H;
    const recurrentBias = perStep ? constant(p('recurrent_bias'), Tensor.float32([recurrentRows], bias(d, 0, recurrentRows, true, false))) : '';
    let first = '';
    // (GRU with linear_before_reset=0: n = g(x Wh + (r ⊙ 0) Rh + Rbh + Wbh) reads no r, so Rbh joins too)
    const firstBias = () => {
      if (first) return first;
      const v = inits.get(inputBias)!.toFloat32().slice();
      inits.get(recurrentBias)!.toFloat32().forEach((b, k) => (v[k]! += b));
      if (opType === 'GRU' && !a.linearBeforeReset) inits.get(rbh)!.toFloat32().forEach((b, k) => (v[2 * H + k]! += b));
      return (first = constant(p('input_and_recurrent_bias'), Tensor.float32([G * H], v)));
    };
    // GRU: the z, r rows and the h rows of R apart (the h rows read r ⊙ ...)
    const rAll = opType === 'GRU' ? constant(p('recurrent_zr_weights_t'), transposed(r, H, d, 0, 2 * H)) : constant(p('recurrent_weights_t'), transposed(r, H, d, 0, G * H));
    const rh = opType === 'GRU' ? constant(p('recurrent_h_weights_t'), transposed(r, H, d, 2 * H, H)) : '';
    const rbh = opType === 'GRU' ? constant(p('recurrent_h_bias'), Tensor.float32([H], bias(d, 2 * H, H, true, false))) : '';
    // LSTM peepholes P [D, 3H] (i, o, f): i and f read the previous cell state, o the new one
    const peep = Pt ? [0, 1, 2].map((k) => constant(p(`peephole_${'iof'[k]}`), Tensor.float32([H], Pt.toFloat32().slice((d * 3 + k) * H, (d * 3 + k + 1) * H)))) : undefined;
    const peeped = (v: string, k: number, state: string, label: string) => (peep && state ? op('Add', [v, op('Mul', [state, peep[k]!], `${label}_peephole`)], `${label}_pre`) : v);
    const step = (s: string, xt: string, h: string, c: string): { h: string; c: string } => {
      // perStepInput with a zero state: no recurrent projection, its bias joins the input's
      const hr = !perStep ? op('MatMul', [h, rAll], `${s}/recurrent`) : h ? op('Add', [op('MatMul', [h, rAll], `${s}/recurrent_projection`), recurrentBias], `${s}/recurrent`) : '';
      const plus = (v: string, w: string, name: string) => (w ? op('Add', [v, w], name) : v);
      if (opType === 'RNN') return { h: act(f!, plus(xt, hr, `${s}/pre`), `${s}/h`), c };
      if (opType === 'LSTM') {
        const [gi, go, gf, gc] = split(plus(xt, hr, `${s}/gates_pre`), [H, H, H, H], `${s}/gates`);
        const i = act(f!, peeped(gi!, 0, c, `${s}/i`), `${s}/i`);
        const fg = act(f!, peeped(gf!, 2, c, `${s}/f`), `${s}/f`);
        const cand = act(gAct!, gc!, `${s}/c_candidate`);
        const added = op('Mul', [i, cand], c ? `${s}/c_added` : `${s}/c`);
        c = c ? op('Add', [op('Mul', [fg, c], `${s}/c_kept`), added], `${s}/c`) : added;
        if (cellBounds) c = op('Clip', [c, ...cellBounds], `${s}/c_clipped`);
        const o = act(f!, peeped(go!, 1, c, `${s}/o`), `${s}/o`);
        return { h: op('Mul', [o, act(hAct!, c, `${s}/c_activated`)], `${s}/h`), c };
      }
      const [xz, xr, xh] = split(xt, [H, H, H], `${s}/split_input`);
      // (a zero state: the recurrent biases, as vectors: OpenCV adds a [1, H] constant to no [B, H])
      const [hz, hrr] = hr ? split(hr, [H, H], `${s}/split_recurrent`) : ['', ''];
      const z = act(f!, plus(xz!, hz!, `${s}/z_pre`), `${s}/z`);
      // (no state and linear_before_reset=0: nothing reads r)
      const rg = h || a.linearBeforeReset ? act(f!, plus(xr!, hrr!, `${s}/r_pre`), `${s}/r`) : '';
      const hh = !h
        ? a.linearBeforeReset ? op('Mul', [rg, constant(`${s}/negated_recurrent_h_bias`, Tensor.float32([H], inits.get(rbh)!.toFloat32().map((v) => -v)))], `${s}/reset_recurrent`) : ''
        : a.linearBeforeReset
          ? op('Mul', [rg, op('Add', [op('MatMul', [h, rh], `${s}/recurrent_h`), rbh], `${s}/recurrent_h_biased`)], `${s}/reset_recurrent`)
          : op('Add', [op('MatMul', [op('Mul', [rg, h], `${s}/reset_state`), rh], `${s}/recurrent_h`), rbh], `${s}/reset_recurrent`);
      // (zero state, linear_before_reset: xh - r ⊙ -Rbh, as OpenCV's importer takes a Mul by a
      // constant followed by an Add for a scale and its bias, which must then be constant)
      const cand = act(gAct!, !hh ? xh! : op(!h ? 'Sub' : 'Add', [xh!, hh], `${s}/n_pre`), `${s}/n`);
      const next = perStep
        ? op('Sub', [cand, op('Mul', [z, h ? op('Sub', [cand, h], `${s}/n_minus_state`) : cand], `${s}/z_times`)], `${s}/h`)
        : op('Add', [cand, op('Mul', [z, op('Sub', [h, cand], `${s}/state_minus_n`)], `${s}/z_times`)], `${s}/h`);
      return { h: next, c };
    };
    return { reverse, p, xp, step, wt, inputBias, firstBias };
  };
  return { a, H, D, tAxis, bDim, where, x, I, perStep, zeroState, split, into: (nodes) => void (out = nodes), op, constant, initial, direction };
}

function unrollOne(n: Node, opType: RecurrentOp, g: Graph, shapes: Shapes, fresh: (base: string) => string, inits: Map<string, Tensor>, target: string, options: UnrollOptions): Node[] {
  const tAxis = parseRecurrentAttrs(n, opType).layout === 0 ? 0 : 1;
  const T = shapes.get(n.inputs[0]!)?.shape?.[tAxis];
  if (typeof T !== 'number') throw new UnsupportedError(`${opType} over a dynamic sequence length in ${target}`, `node '${n.name}': nnport unrolls it over a fixed number of steps (fix the input's sequence length with --input-shape NAME=d0,d1,...)`);
  const out: Node[] = [];
  const bld = recurrentBuild(n, opType, g, shapes, fresh, inits, target, options, T);
  bld.into(out);
  const { a, D, op, constant, split, x, I, bDim, perStep, zeroState, initial, where } = bld;
  // perStepInput: x split into its T steps (one Split, as TF1's static_rnn unstacks it), each [B, I]
  let parts: string[] | undefined;
  const stepInputs = (): string[] => {
    if (parts) return parts;
    const pieces = T > 1 ? split(x, new Array<number>(T).fill(1), 'x_step', tAxis) : [x];
    const rows = Tensor.int64([2], [typeof bDim === 'number' ? bDim : -1, I]);
    parts = pieces.map((v, t) => op('Reshape', [v, constant(`step${t}/input_shape`, rows)], `step${t}/input_2d`));
    return parts;
  };
  // the step mask as [B, T, 1]: each step's [B, 1] column selects the new or the kept states
  const mask = options.mask?.(n);
  if (mask && perStep) throw new UnsupportedError(`a masked ${opType} unrolled per step in ${target}`, where);
  const maskColumns = mask ? op('Unsqueeze', [mask, constant('mask_axis', Tensor.int64([1], [2]))], 'mask_columns') : '';
  const sequences: string[] = [];
  const lastH: string[] = [];
  const lastC: string[] = [];
  for (let d = 0; d < D; d++) {
    const dir = bld.direction(d);
    const { p, reverse } = dir;
    // perStepInput: an absent or zero initial state is no value ('') and step 0 skips what multiplies it
    // (OpenCV's importer takes x ⊙ const only as a per-channel scale)
    let h = perStep && zeroState(5) ? '' : initial(5, 'h', d);
    let c = opType === 'LSTM' ? (perStep && zeroState(6) ? '' : initial(6, 'c', d)) : '';
    const steps = new Array<string>(T);
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      const s = p(`step${t}`);
      const [hBefore, cBefore] = [h, c];
      const xt = perStep
        ? op('Add', [op('MatMul', [stepInputs()[t]!, dir.wt], `${s}/input_projection`), h ? dir.inputBias : dir.firstBias()], `${s}/input`)
        : op('Gather', [dir.xp, constant(`${s}/t`, Tensor.int64([], [t]))], `${s}/input`, { axis: int(tAxis) });
      ({ h, c } = dir.step(s, xt, h, c));
      if (maskColumns) {
        const m = op('Gather', [maskColumns, constant(`${s}/mask_index`, Tensor.int64([], [t]))], `${s}/mask`, { axis: int(1) });
        h = op('Where', [m, h, hBefore], `${s}/h_masked`);
        if (c) c = op('Where', [m, c, cBefore], `${s}/c_masked`);
      }
      steps[t] = op('Unsqueeze', [h, constant(`${s}/time_axis`, Tensor.int64([1], [tAxis]))], `${s}/h_step`);
    }
    if (n.outputs[0]) sequences.push(op('Concat', steps, p('sequence'), { axis: int(tAxis) }));
    lastH.push(h);
    lastC.push(c);
  }
  recurrentOutputs(bld, n, opType, sequences, lastH, lastC);
  return out;
}

/**
 * The node's outputs from each direction's sequence [T, B, H] (layout 1: [B, T, H]) and last states
 * [B, H]: Y [T, D, B, H] (layout 1: [B, T, D, H]); Y_h, Y_c [D, B, H] (layout 1: [B, D, H]).
 */
export function recurrentOutputs(bld: RecurrentBuild, n: Node, opType: RecurrentOp, sequences: string[], lastH: string[], lastC: string[]): void {
  const { op, constant, D } = bld;
  const dAxisY = bld.a.layout === 0 ? 1 : 2;
  const dAxisH = bld.a.layout === 0 ? 0 : 1;
  const withD = (v: string, axis: number, name: string, output?: string) => op('Unsqueeze', [v, constant(`${name}_axis`, Tensor.int64([1], [axis]))], name, {}, output);
  const joined = (vs: string[], axis: number, name: string, output: string) => {
    if (D === 1) withD(vs[0]!, axis, name, output);
    else op('Concat', vs.map((v, d) => withD(v, axis, `${name}_${d}`)), name, { axis: int(axis) }, output);
  };
  if (n.outputs[0]) joined(sequences, dAxisY, 'Y', n.outputs[0]);
  if (n.outputs[1]) joined(lastH, dAxisH, 'Y_h', n.outputs[1]);
  if (opType === 'LSTM' && n.outputs[2]) joined(lastC, dAxisH, 'Y_c', n.outputs[2]);
}
