// ONNX GRU unrolled over its (static) time steps into plain ops before the TFLite writer runs:
// TFLite has no GRU builtin (TF's converter writes a Keras GRU as a WHILE loop, or unrolled with
// unroll=True). The input projection of every step is one MatMul over the whole sequence; each
// step then adds its recurrent projection and computes ONNX's formulas (gate order z, r, h):
//   z = σ(x Wz + h Rz + Wbz + Rbz)        r = σ(x Wr + h Rr + Wbr + Rbr)
//   n = g(x Wh + r ⊙ (h Rh + Rbh) + Wbh)  (linear_before_reset; else g(x Wh + (r ⊙ h) Rh + Rbh + Wbh))
//   h' = n + z ⊙ (h - n)                  (= (1 - z) ⊙ n + z ⊙ h)
// The initial state may be any value (a constant, zero when absent, or a model input): the steps
// read it like any other. The writer then turns these ops into FULLY_CONNECTED / BATCH_MATMUL, ADD,
// LOGISTIC, TANH, MUL, SUB, GATHER, SPLIT and CONCATENATION.
import { UnsupportedError } from '../../ir/errors.js';
import { inferShapes } from '../../ir/ops/index.js';
import { parseRecurrentAttrs } from '../../ir/ops/recurrent.js';
import { valueNamer, type Attr, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';

const int = (value: number): Attr => ({ type: 'int', value });

/** Every ONNX GRU of the graph unrolled into plain ops (the graph as it is when it has none). */
export function unrollGrus(g: Graph): Graph {
  if (!g.nodes.some((n) => n.opType === 'GRU' && (n.domain === '' || n.domain === 'ai.onnx'))) return g;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'GRU' || (n.domain !== '' && n.domain !== 'ai.onnx')) {
      nodes.push(n);
      continue;
    }
    nodes.push(...unrollGru(n, g, shapes, fresh, initializers));
  }
  return { ...g, nodes, initializers };
}

function unrollGru(n: Node, g: Graph, shapes: ReturnType<typeof inferShapes>['values'], fresh: (base: string) => string, inits: Map<string, Tensor>): Node[] {
  const a = parseRecurrentAttrs(n, 'GRU');
  const where = `node '${n.name}'`;
  const x = n.inputs[0]!;
  const xs = shapes.get(x)?.shape;
  const tAxis = a.layout === 0 ? 0 : 1;
  const T = xs?.[tAxis];
  if (typeof T !== 'number') throw new UnsupportedError('GRU over a dynamic sequence length in a TFLite file', `${where}: TFLite has no GRU builtin; nnport unrolls a GRU over a fixed number of steps`);
  const weight = (i: number, what: string): Tensor => {
    const t = n.inputs[i] ? g.initializers.get(n.inputs[i]!) : undefined;
    if (!t || t.dtype !== 'float32') throw new UnsupportedError(`GRU with computed or non-float32 ${what} in a TFLite file`, `${where}: the ${what} must be float32 constants`);
    return t;
  };
  const W = weight(1, 'input weights (W)');
  const R = weight(2, 'recurrent weights (R)');
  const Bt = n.inputs[3] ? weight(3, 'biases (B)') : undefined;
  const H = R.shape[2]!;
  const I = W.shape[2]!;
  const D = a.numDirections;
  if (a.clip !== undefined) throw new UnsupportedError('GRU clip in a TFLite file', where);
  const acts = a.activations.flat().map((f) => f.name);
  const ok = a.activations.every(([f, h]) => f!.name === 'Sigmoid' && (h!.name === 'Tanh' || h!.name === 'Relu'));
  if (!ok) throw new UnsupportedError(`GRU activations ${acts.join(', ')} in a TFLite file`, `${where}: sigmoid gates and a tanh or relu candidate are written`);
  if (n.inputs[4]) {
    const lens = g.initializers.get(n.inputs[4]);
    if (!lens || lens.toNumbers().some((v) => v !== T)) throw new UnsupportedError('GRU sequence_lens in a TFLite file', `${where}: only sequence_lens equal to the sequence length (${T}) everywhere is written`);
  }
  const out: Node[] = [];
  const base = n.outputs.find((o) => o) ?? n.name;
  const op = (opType: string, inputs: string[], name: string, attrs: Record<string, Attr> = {}, output?: string): string => {
    const v = output ?? fresh(`${base}/${name}`);
    out.push({ name: fresh(`${base}/${name}_node`), opType, domain: '', inputs, outputs: [v], attrs });
    return v;
  };
  const constant = (name: string, t: Tensor): string => {
    const v = fresh(`${base}/${name}`);
    inits.set(v, t);
    return v;
  };
  const w = W.toFloat32();
  const r = R.toFloat32();
  const b = Bt?.toFloat32();
  // rows [r0, r0 + rows) of direction d of a [D, 3H, k] tensor, transposed to [k, rows]
  const transposed = (src: Float32Array, k: number, d: number, r0: number, rows: number): Tensor => {
    const m = new Float32Array(k * rows);
    for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) m[j * rows + i] = src[(d * 3 * H + r0 + i) * k + j]!;
    return Tensor.float32([k, rows], m);
  };
  const bias = (d: number, from: number, rows: number, withR: boolean, withW = true): Float32Array => {
    const v = new Float32Array(rows);
    if (b) for (let i = 0; i < rows; i++) v[i] = (withW ? b[d * 6 * H + from + i]! : 0) + (withR ? b[d * 6 * H + 3 * H + from + i]! : 0);
    return v;
  };
  const act = (name: string, v: string, label: string) => op(name === 'Relu' ? 'Relu' : 'Tanh', [v], label);
  // the initial state [D, B, H] (layout 1: [B, D, H]) of direction d, or zeros
  const bDim = xs![1 - tAxis]!;
  const h0 = (d: number): string => {
    if (!n.inputs[5]) {
      if (typeof bDim !== 'number') throw new UnsupportedError('GRU with a dynamic batch and no initial state in a TFLite file', where);
      return constant(`h0_${d}`, Tensor.float32([bDim, H], new Float32Array(bDim * H)));
    }
    return op('Gather', [n.inputs[5]!, constant(`direction_${d}`, Tensor.int64([], [d]))], `h0_${d}`, { axis: int(a.layout === 0 ? 0 : 1) });
  };
  const sequences: string[] = [];
  const lasts: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = a.direction === 'reverse' || d === 1;
    const dn = D === 2 ? (d === 0 ? 'forward' : 'backward') : '';
    const p = (s: string) => (dn ? `${dn}/${s}` : s);
    // x [T, B, I] · [I, 3H] + (Wb_zr + Rb_zr, Wb_h): every step's input projection at once
    const xw = op('MatMul', [x, constant(p('input_weights_t'), transposed(w, I, d, 0, 3 * H))], p('input_projection'));
    const xb = new Float32Array(3 * H);
    xb.set(bias(d, 0, 2 * H, true), 0);
    xb.set(bias(d, 2 * H, H, false), 2 * H);
    const xp = op('Add', [xw, constant(p('input_bias'), Tensor.float32([3 * H], xb))], p('input_projection_biased'));
    const rzr = constant(p('recurrent_zr_weights_t'), transposed(r, H, d, 0, 2 * H));
    const rh = constant(p('recurrent_h_weights_t'), transposed(r, H, d, 2 * H, H));
    const rbh = constant(p('recurrent_h_bias'), Tensor.float32([H], bias(d, 2 * H, H, true, false)));
    const split3 = constant(p('gate_sizes'), Tensor.int64([3], [H, H, H]));
    const split2 = constant(p('zr_sizes'), Tensor.int64([2], [H, H]));
    let h = h0(d);
    const steps = new Array<string>(T);
    for (let k = 0; k < T; k++) {
      const t = reverse ? T - 1 - k : k;
      const s = p(`step${t}`);
      const xt = op('Gather', [xp, constant(`${s}/t`, Tensor.int64([], [t]))], `${s}/input`, { axis: int(tAxis) });
      const [xz, xr, xh] = [fresh(`${base}/${s}/xz`), fresh(`${base}/${s}/xr`), fresh(`${base}/${s}/xh`)];
      out.push({ name: fresh(`${base}/${s}/split_input`), opType: 'Split', domain: '', inputs: [xt, split3], outputs: [xz, xr, xh], attrs: { axis: int(1) } });
      const hzr = op('MatMul', [h, rzr], `${s}/recurrent_zr`);
      const [hz, hr] = [fresh(`${base}/${s}/hz`), fresh(`${base}/${s}/hr`)];
      out.push({ name: fresh(`${base}/${s}/split_recurrent`), opType: 'Split', domain: '', inputs: [hzr, split2], outputs: [hz, hr], attrs: { axis: int(1) } });
      const z = op('Sigmoid', [op('Add', [xz, hz], `${s}/z_pre`)], `${s}/z`);
      const rg = op('Sigmoid', [op('Add', [xr, hr], `${s}/r_pre`)], `${s}/r`);
      const hh = a.linearBeforeReset
        ? op('Mul', [rg, op('Add', [op('MatMul', [h, rh], `${s}/recurrent_h`), rbh], `${s}/recurrent_h_biased`)], `${s}/reset_recurrent`)
        : op('Add', [op('MatMul', [op('Mul', [rg, h], `${s}/reset_state`), rh], `${s}/recurrent_h`), rbh], `${s}/reset_recurrent`);
      const cand = act(a.activations[d]![1]!.name, op('Add', [xh, hh], `${s}/n_pre`), `${s}/n`);
      h = op('Add', [cand, op('Mul', [z, op('Sub', [h, cand], `${s}/state_minus_n`)], `${s}/z_times`)], `${s}/h`);
      steps[t] = op('Unsqueeze', [h, constant(`${s}/time_axis`, Tensor.int64([1], [tAxis]))], `${s}/h_step`);
    }
    sequences.push(op('Concat', steps, p('sequence'), { axis: int(tAxis) }));
    lasts.push(h);
  }
  // Y [T, D, B, H] (layout 1: [B, T, D, H]) and Y_h [D, B, H] (layout 1: [B, D, H])
  const dAxisY = a.layout === 0 ? 1 : 2;
  const dAxisH = a.layout === 0 ? 0 : 1;
  const [y, yh] = [n.outputs[0], n.outputs[1]];
  const withD = (v: string, axis: number, name: string, output?: string) => op('Unsqueeze', [v, constant(`${name}_axis`, Tensor.int64([1], [axis]))], name, {}, output);
  if (y) {
    if (D === 1) withD(sequences[0]!, dAxisY, 'Y', y);
    else op('Concat', sequences.map((s, d) => withD(s, dAxisY, `Y_${d}`)), 'Y', { axis: int(dAxisY) }, y);
  }
  if (yh) {
    if (D === 1) withD(lasts[0]!, dAxisH, 'Y_h', yh);
    else op('Concat', lasts.map((s, d) => withD(s, dAxisH, `Y_h_${d}`)), 'Y_h', { axis: int(dAxisH) }, yh);
  }
  return out;
}
