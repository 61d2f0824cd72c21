// ONNX LSTM / GRU / RNN HardSigmoid activations moved onto the one (alpha, beta) a target names,
// by scaling the weights that feed them: clip(αz + β, 0, 1) = clip(α'z' + β', 0, 1) for
// z' = (α/α')·z + (β - β')/α', and z (a gate's pre-activation) is linear in that gate's rows of W,
// R, both biases (and an LSTM's peepholes), so those rows are scaled by α/α' and (β - β')/α' is
// added to its input bias. Keras 3's hard_sigmoid is relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1), not
// Keras 2's clip(0.2x + 0.5, 0, 1), the default recurrent_activation of every Keras LSTM / GRU
// before 2.3: such a layer is written to a .keras file with its gate rows scaled by 1.2.
// Which activations are pre-activation-linear: an LSTM's gates f (i, o, f rows; not g and h: h
// reads the cell state), a GRU's f (z, r rows) and g (the h rows: x Wh + r ⊙ (h Rh + Rbh) + Wbh, or
// x Wh + (r ⊙ h) Rh + Rbh + Wbh, is linear in them), an RNN's f. Other layers stay as they are
// (with `clip`, which bounds the pre-activations, too).
import { valueNamer, type Attr, type Graph, type Node } from '../ir/graph.js';
import { parseRecurrentAttrs, type RecurrentOp, type RnnActivation } from '../ir/ops/recurrent.js';
import { Tensor } from '../ir/tensor.js';

const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };
/** which of alpha / beta each parametrised activation consumes (as src/ir/ops/recurrent.ts reads them) */
const TAKES: Partial<Record<RnnActivation['name'], 'ab' | 'a'>> = { Affine: 'ab', ScaledTanh: 'ab', HardSigmoid: 'ab', LeakyRelu: 'a', ThresholdedRelu: 'a', Elu: 'a' };
/** the gate rows (in units of H) each activation position feeds, where it is linear in them */
const ROWS: Record<RecurrentOp, Array<number[] | undefined>> = { LSTM: [[0, 1, 2], undefined, undefined], GRU: [[0, 1], [2]], RNN: [[0]] };

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/**
 * The graph with each ONNX recurrent op's HardSigmoid activations at (alpha, beta) where the
 * weights can absorb the change (the graph as it is when none changes).
 */
export function hardSigmoidAt(g: Graph, alpha: number, beta: number): Graph {
  const fresh = valueNamer(g);
  const initializers = new Map(g.initializers);
  let changed = false;
  const nodes = g.nodes.map((n) => {
    const m = n.domain === '' || n.domain === 'ai.onnx' ? rescaled(n, g, alpha, beta, initializers, fresh) : undefined;
    if (m) changed = true;
    return m ?? n;
  });
  return changed ? { ...g, nodes, initializers } : g;
}

function rescaled(n: Node, g: Graph, alpha: number, beta: number, inits: Map<string, Tensor>, fresh: (base: string) => string): Node | undefined {
  if (n.opType !== 'LSTM' && n.opType !== 'GRU' && n.opType !== 'RNN') return undefined;
  const op = n.opType as RecurrentOp;
  const a = parseRecurrentAttrs(n, op);
  if (a.clip !== undefined) return undefined;
  const moves = a.activations.flatMap((fs, d) => fs.flatMap((f, k) => (f.name === 'HardSigmoid' && ROWS[op][k] && !(near(f.alpha, alpha) && near(f.beta, beta)) ? [{ d, k, f }] : [])));
  if (!moves.length) return undefined;
  const W = g.initializers.get(n.inputs[1] ?? '');
  const R = g.initializers.get(n.inputs[2] ?? '');
  const B = n.inputs[3] ? g.initializers.get(n.inputs[3]) : undefined;
  const P = op === 'LSTM' && n.inputs[7] ? g.initializers.get(n.inputs[7]) : undefined;
  if (!W || !R || W.dtype !== 'float32' || R.dtype !== 'float32' || (n.inputs[3] && B?.dtype !== 'float32') || (op === 'LSTM' && n.inputs[7] && P?.dtype !== 'float32')) return undefined;
  const G = GATES[op];
  const H = R.shape[2]!;
  const D = a.numDirections;
  const w = W.toFloat32().slice();
  const r = R.toFloat32().slice();
  const b = B ? B.toFloat32().slice() : new Float32Array(D * 2 * G * H);
  const p = P?.toFloat32().slice();
  const I = W.shape[2]!;
  for (const { d, k, f } of moves) {
    const scale = f.alpha / alpha;
    const shift = (f.beta - beta) / alpha;
    for (const gate of ROWS[op][k]!) {
      for (let row = (d * G + gate) * H; row < (d * G + gate + 1) * H; row++) {
        for (let j = 0; j < I; j++) w[row * I + j]! *= scale;
        for (let j = 0; j < H; j++) r[row * H + j]! *= scale;
      }
      for (let j = 0; j < H; j++) {
        const wb = d * 2 * G * H + gate * H + j;
        b[wb] = b[wb]! * scale + shift;
        b[wb + G * H]! *= scale;
      }
      // an LSTM's peepholes P [D, 3H] (i, o, f): gate rows 0, 1, 2 are P's 0, 1, 2
      if (p) for (let j = 0; j < H; j++) p[(d * 3 + gate) * H + j]! *= scale;
    }
  }
  const put = (base: string, t: Tensor): string => {
    const v = fresh(`${base}/hard_sigmoid_scaled`);
    inits.set(v, t);
    return v;
  };
  const inputs = [...n.inputs];
  while (inputs.length < 4) inputs.push('');
  inputs[1] = put(n.inputs[1]!, Tensor.float32([...W.shape], w));
  inputs[2] = put(n.inputs[2]!, Tensor.float32([...R.shape], r));
  inputs[3] = put(n.inputs[3] || `${n.name}/B`, Tensor.float32([D, 2 * G * H], b));
  if (p) inputs[7] = put(n.inputs[7]!, Tensor.float32([...P!.shape], p));
  // activation_alpha / activation_beta again, in the order the activations consume them
  const moved = new Set(moves.map((m) => `${m.d}/${m.k}`));
  const alphas: number[] = [];
  const betas: number[] = [];
  a.activations.forEach((fs, d) =>
    fs.forEach((f, k) => {
      const takes = TAKES[f.name];
      const at = moved.has(`${d}/${k}`) ? { alpha, beta } : f;
      if (takes) alphas.push(at.alpha);
      if (takes === 'ab') betas.push(at.beta);
    }),
  );
  const attrs: Record<string, Attr> = { ...n.attrs, activations: { type: 'strings', value: a.activations.flat().map((f) => f.name) } };
  if (alphas.length) attrs.activation_alpha = { type: 'floats', value: alphas };
  if (betas.length) attrs.activation_beta = { type: 'floats', value: betas };
  return { ...n, inputs, attrs };
}
