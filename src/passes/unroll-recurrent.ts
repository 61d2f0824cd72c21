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
// nnport's LSTM cell_clip (TFLite's) becomes a Clip of each step's cell state.
// The initial states may be any value (constants, zero when absent, or model inputs): the steps
// read them like any other. What the steps cannot compute (peepholes, clip, input_forget,
// activations other than sigmoid gates with tanh / relu, short sequence_lens) is refused by name.
import { UnsupportedError } from '../ir/errors.js';
import { inferShapes } from '../ir/ops/index.js';
import { parseRecurrentAttrs, type RecurrentOp } from '../ir/ops/recurrent.js';
import { valueNamer, type Attr, type Graph, type Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

const int = (value: number): Attr => ({ type: 'int', value });
const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };

/**
 * Every ONNX recurrent op of `ops` in the graph unrolled into plain ops (the graph as it is when
 * it has none). `target` names the output format in errors ("a TFLite file", "a GraphDef").
 */
export function unrollRecurrent(g: Graph, ops: readonly RecurrentOp[], target: string, only: (n: Node) => boolean = () => true): Graph {
  const isUnrolled = (n: Node): boolean => (ops as readonly string[]).includes(n.opType) && (n.domain === '' || n.domain === 'ai.onnx') && only(n);
  if (!g.nodes.some(isUnrolled)) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (isUnrolled(n)) nodes.push(...unrollOne(n, n.opType as RecurrentOp, g, shapes, fresh, initializers, target));
    else nodes.push(n);
  }
  return { ...g, nodes, initializers };
}

/**
 * The LSTMs with nnport's `cell_clip` (TFLite's cell_clip, read from a .tflite) unrolled, for the
 * writers of formats whose LSTM cannot bound the cell state (ONNX, Keras, TF.js).
 */
export const unrollCellClipped = (g: Graph, target: string): Graph => unrollRecurrent(g, ['LSTM'], target, (n) => n.attrs.cell_clip !== undefined);

function unrollOne(n: Node, opType: RecurrentOp, g: Graph, shapes: ReturnType<typeof inferShapes>['values'], fresh: (base: string) => string, inits: Map<string, Tensor>, target: string): Node[] {
  const a = parseRecurrentAttrs(n, opType);
  const where = `node '${n.name}'`;
  const G = GATES[opType];
  const x = n.inputs[0]!;
  const xs = shapes.get(x)?.shape;
  const tAxis = a.layout === 0 ? 0 : 1;
  const T = xs?.[tAxis];
  if (typeof T !== 'number') throw new UnsupportedError(`${opType} over a dynamic sequence length in ${target}`, `${where}: nnport unrolls it over a fixed number of steps`);
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
  if (opType === 'LSTM' && n.inputs[7]) throw new UnsupportedError(`LSTM peepholes in ${target}`, where);
  const acts = a.activations.flat().map((f) => f.name);
  const candidate = (name: string) => name === 'Tanh' || name === 'Relu';
  const ok = a.activations.every((fs) => (opType === 'RNN' ? candidate(fs[0]!.name) : fs[0]!.name === 'Sigmoid' && fs.slice(1).every((f) => candidate(f.name))));
  if (!ok) throw new UnsupportedError(`${opType} activations ${acts.join(', ')} in ${target}`, `${where}: ${opType === 'RNN' ? 'tanh or relu' : 'sigmoid gates with tanh or relu'} are written`);
  if (n.inputs[4]) {
    const lens = g.initializers.get(n.inputs[4]);
    if (!lens || lens.toNumbers().some((v) => v !== T)) throw new UnsupportedError(`${opType} sequence_lens in ${target}`, `${where}: only sequence_lens equal to the sequence length (${T}) everywhere is written`);
  }
  const out: Node[] = [];
  const base = n.outputs.find((o) => o) ?? n.name;
  const op = (type: string, inputs: string[], name: string, attrs: Record<string, Attr> = {}, output?: string): string => {
    const v = output ?? fresh(`${base}/${name}`);
    out.push({ name: fresh(`${base}/${name}_node`), opType: type, domain: '', inputs, outputs: [v], attrs });
    return v;
  };
  const split = (v: string, sizes: number[], name: string): string[] => {
    const outs = sizes.map((_, k) => fresh(`${base}/${name}_${k}`));
    out.push({ name: fresh(`${base}/${name}_node`), opType: 'Split', domain: '', inputs: [v, constant(`${name}_sizes`, Tensor.int64([sizes.length], sizes))], outputs: outs, attrs: { axis: int(1) } });
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
  const act = (name: string, v: string, label: string) => op(name === 'Relu' ? 'Relu' : name === 'Sigmoid' ? 'Sigmoid' : 'Tanh', [v], label);
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
  // nnport's cell_clip (TFLite's): the cell state bounded after each update
  const cellBounds = a.cellClip !== undefined ? [constant('cell_clip_min', Tensor.float32([], [-a.cellClip])), constant('cell_clip_max', Tensor.float32([], [a.cellClip]))] : undefined;
  const sequences: string[] = [];
  const lastH: string[] = [];
  const lastC: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = a.direction === 'reverse' || d === 1;
    const dn = D === 2 ? (d === 0 ? 'forward' : 'backward') : '';
    const p = (s: string) => (dn ? `${dn}/${s}` : s);
    const [f, gAct, hAct] = a.activations[d]!.map((k) => k.name);
    // x [T, B, I] · [I, G·H] + the biases that do not wait for the state: every step's input projection at once
    const xw = op('MatMul', [x, constant(p('input_weights_t'), transposed(w, I, d, 0, G * H))], p('input_projection'));
    const xb = new Float32Array(G * H);
    if (opType === 'GRU') {
      xb.set(bias(d, 0, 2 * H, true), 0);
      xb.set(bias(d, 2 * H, H, false), 2 * H);
    } else xb.set(bias(d, 0, G * H, true), 0);
    const xp = op('Add', [xw, constant(p('input_bias'), Tensor.float32([G * H], xb))], p('input_projection_biased'));
    let h = initial(5, 'h', d);
    let c = opType === 'LSTM' ? initial(6, 'c', d) : '';
    const steps = new Array<string>(T);
    // GRU: the z, r rows and the h rows of R apart (the h rows read r ⊙ ...)
    const rAll = opType === 'GRU' ? constant(p('recurrent_zr_weights_t'), transposed(r, H, d, 0, 2 * H)) : constant(p('recurrent_weights_t'), transposed(r, H, d, 0, G * H));
    const rh = opType === 'GRU' ? constant(p('recurrent_h_weights_t'), transposed(r, H, d, 2 * H, H)) : '';
    const rbh = opType === 'GRU' ? constant(p('recurrent_h_bias'), Tensor.float32([H], bias(d, 2 * H, H, true, false))) : '';
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      const s = p(`step${t}`);
      const xt = op('Gather', [xp, constant(`${s}/t`, Tensor.int64([], [t]))], `${s}/input`, { axis: int(tAxis) });
      const hr = op('MatMul', [h, rAll], `${s}/recurrent`);
      if (opType === 'RNN') {
        h = act(f!, op('Add', [xt, hr], `${s}/pre`), `${s}/h`);
      } else if (opType === 'LSTM') {
        const [gi, go, gf, gc] = split(op('Add', [xt, hr], `${s}/gates_pre`), [H, H, H, H], `${s}/gates`);
        const i = act(f!, gi!, `${s}/i`);
        const o = act(f!, go!, `${s}/o`);
        const fg = act(f!, gf!, `${s}/f`);
        const cand = act(gAct!, gc!, `${s}/c_candidate`);
        c = op('Add', [op('Mul', [fg, c], `${s}/c_kept`), op('Mul', [i, cand], `${s}/c_added`)], `${s}/c`);
        if (cellBounds) c = op('Clip', [c, ...cellBounds], `${s}/c_clipped`);
        h = op('Mul', [o, act(hAct!, c, `${s}/c_activated`)], `${s}/h`);
      } else {
        const [xz, xr, xh] = split(xt, [H, H, H], `${s}/split_input`);
        const [hz, hrr] = split(hr, [H, H], `${s}/split_recurrent`);
        const z = act(f!, op('Add', [xz!, hz!], `${s}/z_pre`), `${s}/z`);
        const rg = act(f!, op('Add', [xr!, hrr!], `${s}/r_pre`), `${s}/r`);
        const hh = a.linearBeforeReset
          ? op('Mul', [rg, op('Add', [op('MatMul', [h, rh], `${s}/recurrent_h`), rbh], `${s}/recurrent_h_biased`)], `${s}/reset_recurrent`)
          : op('Add', [op('MatMul', [op('Mul', [rg, h], `${s}/reset_state`), rh], `${s}/recurrent_h`), rbh], `${s}/reset_recurrent`);
        const cand = act(gAct!, op('Add', [xh!, hh], `${s}/n_pre`), `${s}/n`);
        h = op('Add', [cand, op('Mul', [z, op('Sub', [h, cand], `${s}/state_minus_n`)], `${s}/z_times`)], `${s}/h`);
      }
      steps[t] = op('Unsqueeze', [h, constant(`${s}/time_axis`, Tensor.int64([1], [tAxis]))], `${s}/h_step`);
    }
    if (n.outputs[0]) sequences.push(op('Concat', steps, p('sequence'), { axis: int(tAxis) }));
    lastH.push(h);
    lastC.push(c);
  }
  // Y [T, D, B, H] (layout 1: [B, T, D, H]); Y_h, Y_c [D, B, H] (layout 1: [B, D, H])
  const dAxisY = a.layout === 0 ? 1 : 2;
  const dAxisH = a.layout === 0 ? 0 : 1;
  const withD = (v: string, axis: number, name: string, output?: string) => op('Unsqueeze', [v, constant(`${name}_axis`, Tensor.int64([1], [axis]))], name, {}, output);
  const joined = (vs: string[], axis: number, name: string, output: string) => {
    if (D === 1) withD(vs[0]!, axis, name, output);
    else op('Concat', vs.map((v, d) => withD(v, axis, `${name}_${d}`)), name, { axis: int(axis) }, output);
  };
  if (n.outputs[0]) joined(sequences, dAxisY, 'Y', n.outputs[0]);
  if (n.outputs[1]) joined(lastH, dAxisH, 'Y_h', n.outputs[1]);
  if (opType === 'LSTM' && n.outputs[2]) joined(lastC, dAxisH, 'Y_c', n.outputs[2]);
  return out;
}
