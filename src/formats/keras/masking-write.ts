// Keras masking written back: the Keras reader turns Embedding(mask_zero=True) and Masking into a
// bool [B, T] step mask and unrolls each LSTM / GRU / SimpleRNN it reaches with a Where per step
// (masking.ts). The writer gives them back as Keras layers:
// - the mask's ops: Not(Equal(Cast(ids), 0)) is Embedding's mask_zero (set on the Embedding layer of
//   those ids); Mul(x, ReduceMax(Cast(Not(Equal(x, v))))) and its mask is a Masking(mask_value=v);
// - a masked recurrent layer is recognised as the ConvLSTMs are (conv-recurrent-write.ts): a
//   candidate layer (class and units from the input projection, weights from the unrolled steps'
//   constants, activations from the ops present; go_backwards, return_sequences / return_state,
//   reset_after tried) is emitted again by the reader's own rows with the same mask, and its nodes
//   must equal the model's, none of their values read elsewhere.
// The written model's masks then flow as Keras computes them: checkMaskFlow follows each mask
// through the written layers and refuses by name where Keras would apply it differently from the
// graph (a recurrent layer the graph runs unmasked, a layer without mask support, a merge).
// Unidirectional layers without initial states only: a Bidirectional or an initial state (where
// Keras and TF.js differ at masked steps) keep being refused.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, attrInts, constantValue, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/infer.js';
import { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import { KERAS_LAYERS, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';
import type { KerasLayerOut, KTensor, Writer } from './from-graph.js';
import { canonical, match, regenerateWith, type Model, type Regenerated } from './conv-recurrent-write.js';

/** A step mask of the graph and the ops that make it. */
interface MaskSource {
  kind: 'embedding' | 'masking';
  /** the bool [B, T] mask value (absent: nothing reads it) */
  mask?: string;
  nodes: Node[];
  /** embedding: the raw ids; masking: x */
  input: string;
  /** masking: its output y, the Mul */
  y?: Node;
  value?: number;
  emitted?: boolean;
}

export interface MaskedRecurrentPlan {
  className: 'LSTM' | 'GRU' | 'SimpleRNN';
  nodes: Set<Node>;
  x: string;
  source: MaskSource;
  /** the graph values of Keras' outputs [output, h, (c)] (states only with return_state) */
  outputs: (string | undefined)[];
  config: JsonObject;
  weights: { role: string; tensor: Tensor }[];
  units: number;
  shape: KShape;
  keras3: boolean;
  emitted?: boolean;
  layer?: string;
}

export interface MaskedLayers {
  plans: Map<Node, MaskedRecurrentPlan | MaskSource>;
  sources: MaskSource[];
  recurrent: MaskedRecurrentPlan[];
}

const CELL: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };
/** the Keras gate block that is ONNX gate g (recurrent.ts' order) */
const ORDER: Record<string, number[]> = { LSTM: [0, 3, 1, 2], GRU: [0, 1, 2], SimpleRNN: [0] };
/** the gate blocks (Keras order) that recurrent_activation applies to */
const GATED: Record<string, number[]> = { LSTM: [0, 1, 3], GRU: [0, 1], SimpleRNN: [] };

function producerMap(nodes: readonly Node[]): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

const scalarOf = (t: Tensor | undefined): number | undefined => (t && t.size === 1 ? t.toNumbers()[0] : undefined);

/** The mask sources of the graph (the reader's Embedding mask_zero and Masking ops). */
function findSources(m: Model, producer: Map<string, Node>): MaskSource[] {
  const out: MaskSource[] = [];
  const op = (v: string | undefined, type: string): Node | undefined => {
    const p = v ? producer.get(v) : undefined;
    return p && !p.domain && p.opType === type ? p : undefined;
  };
  for (const n of m.nodes) {
    if (n.domain) continue;
    if (n.opType === 'Not') {
      // Embedding: Not(Equal(Cast(ids, float), 0))
      const eq = op(n.inputs[0], 'Equal');
      const cast = eq && op(eq.inputs[0], 'Cast');
      if (!eq || !cast || attrInt(cast, 'to', 0) !== 1 || scalarOf(m.constant(eq.inputs[1]!)) !== 0) continue;
      // (Masking's Not is read by a Cast to float, its mask made after)
      if ((m.consumers.get(n.outputs[0]!) ?? []).some((c) => c.opType === 'Cast' && attrInt(c, 'to', 0) === 1 && (m.consumers.get(c.outputs[0]!) ?? []).some((r) => r.opType === 'ReduceMax'))) continue;
      out.push({ kind: 'embedding', mask: n.outputs[0]!, nodes: [cast, eq, n], input: cast.inputs[0]! });
    } else if (n.opType === 'Mul') {
      // Masking: Mul(x_float, ReduceMax(Cast(Not(Equal(x_float, v)), float), -1, keepdims))
      const keep = op(n.inputs[1], 'ReduceMax');
      const differs = keep && op(keep.inputs[0], 'Cast');
      const not = differs && op(differs.inputs[0], 'Not');
      const eq = not && op(not.inputs[0], 'Equal');
      const xf = eq && op(eq.inputs[0], 'Cast');
      if (!keep || !differs || !not || !eq || !xf || xf.outputs[0] !== n.inputs[0] || attrInt(xf, 'to', 0) !== 1 || attrInt(differs, 'to', 0) !== 1) continue;
      const axes = attrInts(keep, 'axes') ?? m.constant(keep.inputs[1] ?? '')?.toNumbers();
      if (!axes || axes.length !== 1 || axes[0] !== -1 || attrInt(keep, 'keepdims', 1) !== 1) continue;
      const value = scalarOf(m.constant(eq.inputs[1]!));
      if (value === undefined) continue;
      const nodes = [xf, eq, not, differs, keep, n];
      // its mask: Cast(Squeeze(keep, -1), bool), made where something reads it
      const squeeze = (m.consumers.get(keep.outputs[0]!) ?? []).find((c) => c.opType === 'Squeeze');
      const toBool = squeeze && (m.consumers.get(squeeze.outputs[0]!) ?? []).find((c) => c.opType === 'Cast' && attrInt(c, 'to', 0) === 9);
      if (squeeze && toBool) nodes.push(squeeze, toBool);
      out.push({ kind: 'masking', mask: toBool?.outputs[0], nodes, input: xf.inputs[0]!, y: n, value });
    }
  }
  // no value inside a source is read elsewhere (but its y and mask)
  return out.filter((s) => {
    const inside = new Set(s.nodes);
    return s.nodes.every((n) => n.outputs.every((v) => !v || v === s.mask || v === s.y?.outputs[0] || (!m.outputs.has(v) && (m.consumers.get(v) ?? []).every((c) => inside.has(c)))));
  });
}

/**
 * The classes a projection's steps can be (a step's Gather of the projection feeds a Split in 3
 * (GRU), an Add then a Split in 4 (LSTM), or neither (SimpleRNN)): fewer candidates to regenerate.
 */
function classesOf(m: Model, projection: string): ('LSTM' | 'GRU' | 'SimpleRNN')[] {
  const step = (m.consumers.get(projection) ?? []).find((c) => c.opType === 'Gather');
  const next = step ? m.consumers.get(step.outputs[0]!) ?? [] : [];
  if (next.some((c) => c.opType === 'Split' && c.outputs.length === 3)) return ['GRU'];
  const sum = next.find((c) => c.opType === 'Add');
  if ((sum ? m.consumers.get(sum.outputs[0]!) ?? [] : next).some((c) => c.opType === 'Split' && c.outputs.length === 4)) return ['LSTM'];
  return ['SimpleRNN'];
}

/** Keras weights of a candidate from the unrolled steps' constants (ONNX gate order, transposed). */
function kerasWeights(cls: 'LSTM' | 'GRU' | 'SimpleRNN', wt: Tensor, bias: Tensor, r: Tensor[], rbh: Tensor | undefined, H: number, resetAfter: boolean): { role: string; tensor: Tensor }[] {
  const G = { LSTM: 4, GRU: 3, SimpleRNN: 1 }[cls];
  const I = wt.shape[0]!;
  const order = ORDER[cls]!;
  const reorder = (src: Float32Array, rows: number, cols: number, from = 0): Float32Array => {
    // src [rows, cols] holds ONNX gates from block `from`; out [rows, G·H] in Keras order
    const out = new Float32Array(rows * G * H);
    for (let g = 0; g < cols / H; g++) for (let u = 0; u < H; u++) for (let i = 0; i < rows; i++) out[i * G * H + order[from + g]! * H + u] = src[i * cols + g * H + u]!;
    return out;
  };
  const kernel = reorder(wt.toFloat32(), I, G * H);
  let recurrent: Float32Array;
  if (cls === 'GRU') {
    const zr = reorder(r[0]!.toFloat32(), H, 2 * H);
    const hh = reorder(r[1]!.toFloat32(), H, H, 2);
    recurrent = zr.map((v, k) => v + hh[k]!);
  } else recurrent = reorder(r[0]!.toFloat32(), H, G * H);
  const b = reorder(bias.toFloat32(), 1, G * H);
  let keras: Tensor;
  if (cls === 'GRU' && resetAfter) {
    const both = new Float32Array(2 * G * H);
    both.set(b, 0);
    both.set(rbh!.toFloat32(), G * H + 2 * H);
    keras = Tensor.float32([2, G * H], both);
  } else keras = Tensor.float32([G * H], b);
  return [
    { role: 'kernel', tensor: Tensor.float32([I, G * H], kernel) },
    { role: 'recurrent_kernel', tensor: Tensor.float32([H, G * H], recurrent) },
    { role: 'bias', tensor: keras },
  ];
}

const ACTIVATION_OPS: Record<string, string> = { Tanh: 'tanh', Sigmoid: 'sigmoid', Relu: 'relu', HardSigmoid: 'hard_sigmoid', Softsign: 'softsign', Elu: 'elu' };

/**
 * The graph's masks and the masked recurrent layers that can be written back as Keras layers; their
 * nodes are skipped by the writer and emitted through emitMasked. A mask read by anything else is
 * refused by name.
 */
export function findMasked(w: Writer): MaskedLayers {
  const plans = new Map<Node, MaskedRecurrentPlan | MaskSource>();
  const g = w.graph;
  const constants = new Map(w.constants);
  for (const n of g.nodes) if (n.opType === 'Constant' && !n.domain) constants.set(n.outputs[0]!, constantValue(n));
  const m: Model = { nodes: g.nodes, consumers: w.consumers, constant: (v) => constants.get(v), outputs: new Set(g.outputs.map((o) => o.name)), evaluate: w.options.evaluate };
  const producer = producerMap(g.nodes);
  const sources = findSources(m, producer);
  const recurrent: MaskedRecurrentPlan[] = [];
  if (!sources.length) return { plans, sources, recurrent };
  const present = new Map<string, number[]>();
  for (const n of g.nodes) if (!n.domain && ACTIVATION_OPS[n.opType]) present.set(ACTIVATION_OPS[n.opType]!, [...(present.get(ACTIVATION_OPS[n.opType]!) ?? []), n.attrs.alpha?.type === 'float' ? n.attrs.alpha.value : 0.2]);
  const keras3 = (present.get('hard_sigmoid') ?? []).some((a) => Math.abs(a - 1 / 6) < 1e-6);
  const acts = [...present.keys()];
  // the recurrent projections' weights MatMul(h, R) (+ GRU's Rbh after it): candidates for R
  const recurrentWeights: { r: Tensor; after?: Tensor }[] = [];
  for (const n of g.nodes) {
    if (n.domain || (n.opType !== 'MatMul' && n.opType !== 'Gemm') || !constants.has(n.inputs[1]!) || producer.get(n.inputs[0]!)?.opType === 'Transpose') continue;
    // (the Keras preparation fuses MatMul + Add of a bias into a Gemm)
    const add = n.opType === 'Gemm' ? n : (w.consumers.get(n.outputs[0]!) ?? []).find((c) => c.opType === 'Add' && constants.has(c.inputs[1]!));
    const after = add && (n.opType === 'Gemm' ? add.inputs[2] : add.inputs[1]);
    recurrentWeights.push({ r: constants.get(n.inputs[1]!)!, after: after ? constants.get(after) : undefined });
  }
  type Shapes = Map<string, { shape?: readonly (number | string | null)[] }>;
  let shapes: Shapes | undefined;
  // (two layers on one mask share its first nodes: a layer's nodes are not another's; repeated until none is found)
  const tried = new Set<string>();
  for (let found = true; found;) {
    found = false;
    for (const s of sources) {
      if (!s.mask) continue;
      for (const mm of g.nodes) {
        // candidate input projections: MatMul(Transpose(x, [1, 0, 2]), W) + b, the reader's time-major x
        if (mm.domain || mm.opType !== 'MatMul' || plans.has(mm) || tried.has(`${s.mask}/${mm.outputs[0]}`)) continue;
        const tr = producer.get(mm.inputs[0]!);
        const wt = constants.get(mm.inputs[1]!);
        if (!tr || tr.opType !== 'Transpose' || JSON.stringify(attrInts(tr, 'perm')) !== '[1,0,2]' || !wt || wt.rank !== 2) continue;
        const add = (w.consumers.get(mm.outputs[0]!) ?? []).find((c) => c.opType === 'Add' && constants.has(c.inputs[1]!));
        if (!add) continue;
        // (a Bidirectional's two directions project the one time-major x: not written, no candidates to try)
        if ((w.consumers.get(tr.outputs[0]!) ?? []).filter((c) => c.opType === 'MatMul').length > 1) continue;
        if (!shapes) {
          try {
            shapes = inferShapes(g, { record: false }).values as Shapes;
          } catch {
            return { plans, sources: [], recurrent };
          }
        }
        const x = tr.inputs[0]!;
        const T = shapes.get(x)?.shape?.[1];
        if (typeof T !== 'number') continue;
        const plan = recogniseMasked(m, s, add.outputs[0]!, x, T, shapes.get(x)!.shape!, shapes.get(s.mask)?.shape, wt, constants.get(add.inputs[1]!)!, recurrentWeights, acts, keras3, new Set(plans.keys()));
        if (!plan) continue;
        found = true;
        tried.add(`${s.mask}/${mm.outputs[0]}`);
        recurrent.push(plan);
        for (const n of plan.nodes) {
          plans.set(n, plan);
          w.skip.add(n);
        }
      }
    }
  }
  for (const s of sources) {
    // a mask that something other than a recognised layer reads: refused by name
    const readers = s.mask ? (w.consumers.get(s.mask) ?? []).filter((c) => !plans.has(c)) : [];
    if (readers.length || (s.mask && m.outputs.has(s.mask))) {
      const r = readers[0];
      throw new UnsupportedError(
        `a Keras mask (${s.kind === 'embedding' ? 'Embedding mask_zero=True' : 'Masking'}) read by ${r ? `node '${r.name || r.outputs[0]}' (${r.opType})` : 'a graph output'} in a Keras model`,
        'the writer gives back masked LSTM / GRU / SimpleRNN layers (unidirectional, no initial state) only; a masked Bidirectional, an initial state or a masked GlobalAveragePooling1D are not written',
      );
    }
    for (const n of s.nodes) {
      plans.set(n, s);
      w.skip.add(n);
    }
  }
  return { plans, sources, recurrent };
}

function recogniseMasked(m: Model, s: MaskSource, projection: string, x: string, T: number, xShape: readonly (number | string | null)[], maskShape: readonly (number | string | null)[] | undefined, wt: Tensor, bias: Tensor, rs: { r: Tensor; after?: Tensor }[], acts: string[], keras3: boolean, taken: ReadonlySet<Node>): MaskedRecurrentPlan | undefined {
  const I = wt.shape[0]!;
  const N = wt.shape[1]!;
  const xv: KValue = { name: x, shape: [null, T, I], mask: { value: () => s.mask! } };
  const zeros = (shape: number[]) => Tensor.float32(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  const shaped = (rows: number, cols: number) => [...new Set(rs.filter((q) => q.r.shape[0] === rows && q.r.shape[1] === cols).map((q) => q.r))].slice(0, 4);
  // (only one step: no recurrent projection to take R from, any R computes the same)
  const withZeros = (ts: Tensor[], shape: number[]) => (T === 1 ? [...ts, zeros(shape)] : ts);
  for (const cls of classesOf(m, projection)) {
    const G = { LSTM: 4, GRU: 3, SimpleRNN: 1 }[cls];
    if (N % G) continue;
    const H = N / G;
    const rCandidates: Tensor[][] = cls === 'GRU'
      ? withZeros(shaped(H, 2 * H), [H, 2 * H]).flatMap((zr) => withZeros(shaped(H, H), [H, H]).map((hh) => [zr, hh]))
      : withZeros(shaped(H, N), [H, N]).map((r) => [r]);
    // GRU reset_after: the recurrent h bias added after MatMul(h, R_h)
    const rbhs = cls === 'GRU' ? [...new Set(rs.filter((q) => q.r.shape[0] === H && q.r.shape[1] === H && q.after?.size === H).map((q) => q.after!)), zeros([H])] : [undefined];
    const recActs = cls === 'SimpleRNN' ? [undefined] : acts.filter((a) => a === 'sigmoid' || a === 'hard_sigmoid');
    for (const r of rCandidates) {
      for (const resetAfter of cls === 'GRU' ? [false, true] : [false]) {
        for (const rbh of resetAfter ? rbhs : [undefined]) {
          const weights = kerasWeights(cls, wt, bias, r, rbh, H, resetAfter);
          for (const act of [...acts.filter((a) => a !== 'hard_sigmoid' || cls === 'SimpleRNN'), 'linear']) {
            for (const recAct of recActs) {
              for (const goBackwards of [false, true]) {
                for (const returnSequences of [true, false]) {
                  for (const returnState of [false, true]) {
                    const config: JsonObject = {
                      units: H, activation: act, ...(recAct ? { recurrent_activation: recAct } : {}), use_bias: true,
                      return_sequences: returnSequences, return_state: returnState, go_backwards: goBackwards,
                      ...(cls === 'GRU' ? { reset_after: resetAfter } : {}),
                    };
                    const call: LayerCall = { className: cls, name: 'masked', config, inputs: [xv], weights: new Map(weights.map((q) => [q.role, q.tensor])) };
                    let scratch: Regenerated;
                    try {
                      scratch = canonical(regenerateWith((e: IrEmitter) => KERAS_LAYERS[cls]!(e, call), keras3), new Map([[x, { dtype: 'float32' as const, shape: xShape }], [s.mask!, { dtype: 'bool' as const, shape: maskShape }]]), m.evaluate);
                    } catch {
                      continue;
                    }
                    const bound = new Map<string, string>([[x, x], [s.mask!, s.mask!]]);
                    const nodes = match(m, scratch, bound, new Set(), taken);
                    if (!nodes) continue;
                    const outs = scratch.outputs.map((o) => bound.get(o.name)!);
                    const outside = (v: string) => m.outputs.has(v) || (m.consumers.get(v) ?? []).some((c) => !nodes.has(c));
                    if ([...nodes].flatMap((n) => n.outputs).some((v) => v && outside(v) && !outs.includes(v))) continue;
                    if (returnState && !outs.slice(1).some((v) => outside(v))) continue;
                    return { className: cls, nodes, x, source: s, outputs: outs, config, weights, units: H, shape: scratch.outputs[0]!.shape, keras3 };
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return undefined;
}


/**
 * The Keras layer of a recognised node once its inputs have Keras tensors (called at each of its
 * nodes in the writer's order): a Masking layer, or a masked LSTM / GRU / SimpleRNN.
 */
export function emitMasked(w: Writer, p: MaskedRecurrentPlan | MaskSource): void {
  if (p.emitted) return;
  if (!('className' in p)) {
    if (p.kind !== 'masking') return;
    const x = w.values.get(p.input);
    if (!x) return;
    p.emitted = true;
    const y = w.add('Masking', p.y!.name || p.y!.outputs[0]!, { mask_value: p.value! }, [x], x.shape);
    w.values.set(p.y!.outputs[0]!, y);
    return;
  }
  const x = w.values.get(p.x);
  if (!x) return;
  p.emitted = true;
  const keras3 = !!w.options.keras3;
  const c = p.config;
  const inner: JsonObject = {
    return_sequences: c.return_sequences!, return_state: c.return_state!, go_backwards: c.go_backwards!, stateful: false, unroll: false, time_major: false,
    units: p.units, activation: c.activation!, ...(c.recurrent_activation ? { recurrent_activation: c.recurrent_activation } : {}), use_bias: true, dropout: 0, recurrent_dropout: 0,
    ...(p.className === 'LSTM' ? { unit_forget_bias: false, implementation: 2 } : {}),
    ...(p.className === 'GRU' ? { reset_after: c.reset_after!, implementation: 2 } : {}),
  };
  const weights = targetWeights(p, keras3).map((q) => ({ role: `${CELL[p.className]}/${q.role}`, tensor: q.tensor }));
  const y = w.add(p.className, p.outputs[0]!, inner, [x], p.shape, weights);
  p.layer = y.ref[0];
  p.outputs.forEach((v, i) => {
    if (v) w.values.set(v, i === 0 ? y : { ref: [y.ref[0], 0, i], shape: [null, p.units] });
  });
}

/** The weights for the target's hard_sigmoid (Keras 2 / TF.js 0.2x + 0.5, Keras 3 x/6 + 0.5): the gated blocks scaled by the slopes' ratio. */
function targetWeights(p: MaskedRecurrentPlan, keras3: boolean): { role: string; tensor: Tensor }[] {
  if (p.keras3 === keras3) return p.weights;
  const where = `layer '${p.outputs[0]}' (${p.className})`;
  if (p.config.activation === 'hard_sigmoid') throw new UnsupportedError(`a masked ${p.className} with a ${p.keras3 ? 'Keras 3' : 'Keras 2 / TF.js'} hard_sigmoid activation in a ${keras3 ? 'Keras 3' : 'Keras 2 / TF.js'} model`, `${where}: the two Keras' hard_sigmoid differ and no weight scales the state's`);
  if (p.config.recurrent_activation !== 'hard_sigmoid') return p.weights;
  const factor = p.keras3 ? (1 / 6) / 0.2 : 0.2 / (1 / 6);
  const H = p.units;
  const G = { LSTM: 4, GRU: 3, SimpleRNN: 1 }[p.className];
  const gated = GATED[p.className]!;
  return p.weights.map(({ role, tensor }) => {
    const v = tensor.toFloat32().slice();
    for (let k = 0; k < v.length; k++) if (gated.includes(Math.floor((k % (G * H)) / H))) v[k] = v[k]! * factor;
    return { role, tensor: Tensor.float32([...tensor.shape] as number[], v) };
  });
}

/** Layers that pass a mask on in Keras 2 / 3 and TF.js (supports_masking), as the reader treats them (masking.ts). */
const PASS = new Set(['Dense', 'Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization', 'Activation', 'ReLU', 'LeakyReLU', 'ThresholdedReLU', 'ELU', 'PReLU', 'BatchNormalization', 'LayerNormalization']);

/**
 * After the layers are written: Embedding(mask_zero=True) on the ids of each used embedding mask,
 * then each mask followed through the written layers as Keras propagates it. Refused by name where
 * Keras would compute otherwise than the graph: a mask reaching a recurrent layer the graph runs
 * unmasked (or another mask than the graph's), a layer that does not take masks, a merge.
 */
export function finishMasks(w: Writer, found: MaskedLayers, layers: KerasLayerOut[]): void {
  if (!found.recurrent.length && !found.sources.some((s) => s.kind === 'masking')) return;
  const refKey = (r: [string, number, number]) => r.join('/');
  const maskOf = new Map<string, MaskSource>();
  for (const s of found.sources) {
    if (s.kind !== 'embedding' || !found.recurrent.some((p) => p.source === s)) continue;
    const ids = w.values.get(s.input);
    const embeddings = ids ? layers.filter((l) => l.className === 'Embedding' && l.inputs.length === 1 && refKey(l.inputs[0]!) === refKey(ids.ref)) : [];
    if (embeddings.length !== 1) throw new UnsupportedError(`an Embedding mask (mask_zero=True) of ids read by ${embeddings.length} Embedding layers in a Keras model`, `ids '${s.input}'`);
    embeddings[0]!.config.mask_zero = true;
  }
  const byLayer = new Map(found.recurrent.filter((p) => p.layer).map((p) => [p.layer!, p]));
  for (const l of layers) {
    const masks = l.inputs.map((r) => maskOf.get(refKey(r)));
    if (l.className === 'Masking') {
      const s = found.sources.find((q) => q.kind === 'masking' && q.y && w.values.get(q.y.outputs[0]!)?.ref[0] === l.name);
      if (s) maskOf.set(`${l.name}/0/0`, s);
      continue;
    }
    if (l.className === 'Embedding' && l.config.mask_zero === true) {
      const s = found.sources.find((q) => q.kind === 'embedding' && w.values.get(q.input) && refKey(w.values.get(q.input)!.ref) === refKey(l.inputs[0]!));
      if (s) maskOf.set(`${l.name}/0/0`, s);
      continue;
    }
    const plan = byLayer.get(l.name);
    const given = masks.find(Boolean);
    const what = `layer '${l.name}' (${l.className}) in the written Keras model`;
    if (plan) {
      if (masks[0] !== plan.source) throw new UnsupportedError(`a masked ${plan.className} whose mask Keras would not give it`, `${what}: the mask of ${plan.source.kind === 'embedding' ? 'its Embedding(mask_zero=True)' : 'its Masking'} does not reach it through layers that pass masks on`);
      if (plan.config.return_sequences === true) maskOf.set(`${l.name}/0/0`, plan.source);
      continue;
    }
    if (!given) continue;
    if (['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'ConvLSTM1D', 'ConvLSTM2D', 'ConvLSTM3D'].includes(l.className)) {
      throw new UnsupportedError(`Keras ${l.className} given a mask it does not apply in the graph`, `${what}: Keras would mask its steps`);
    }
    if (!PASS.has(l.className) || l.inputs.length !== 1) {
      throw new UnsupportedError(`a Keras mask reaching ${l.className} in a Keras model`, `${what}: Keras passes masks on through ${[...PASS].join(', ')} only (another layer refuses or drops it)`);
    }
    if (l.shape.length >= 3) maskOf.set(`${l.name}/0/0`, given);
  }
}
