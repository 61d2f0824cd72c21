// Keras masking: Embedding(mask_zero=True) and Masking make a bool [B, T] mask, (ids != 0) and
// any(x != mask_value, axis=-1); the layers that keep per-step data pass it on (TF.js' and Keras'
// supports_masking layers: Dense, Dropout, activations, normalization, merges AND their masks), and
// LSTM / GRU / SimpleRNN / Bidirectional consume it: a masked step keeps the states (h, c) as they
// were, and its output row is the previous h (TF.js' rnn: output = m·new + (1 - m)·states[0]).
// ONNX's recurrent ops have only sequence_lens (trailing padding), so a masked layer's ONNX op is
// unrolled over its (fixed) steps with a Where per step (src/passes/unroll-recurrent.ts' mask).
// Keras itself (.h5 / .keras, a converted model.json; not a model.json TF.js saved) writes zeros at a masked step of a
// Bidirectional's sequences (its zero_output_for_mask = return_sequences), and of a layer whose
// config says zero_output_for_mask; TF.js has no such argument. With an initial state, Keras'
// outputs before the first unmasked step are zeros where TF.js' are the initial h.
// GlobalAveragePooling1D takes Keras' masked mean (TF.js refuses to build it with a mask).
// MultiHeadAttention / Attention / AdditiveAttention apply their inputs' masks and pass the query's on
// (attention.ts). Merges: Keras 2, TF.js and Keras 3.0-3.3 AND the masks (an unmasked input counts as
// all true); Keras >= 3.4 ORs them and drops the mask when an input has none (its Concatenate: any over
// the concatenated masks). A Concatenate along the time axis concatenates the masks (true for an unmasked input).
// The mask is emitted only when a layer reads it: a mask nothing consumes changes nothing. A layer
// that would consume it and nnport does not implement (Softmax, TimeDistributed around other than a
// per-step layer) is refused by name. Layers that do not support masking end it (Keras drops the
// mask there; TF.js refuses to build such a model).
import { UnsupportedError } from '../../ir/errors.js';
import type { Attr, Graph, Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { unrollRecurrent } from '../../passes/unroll-recurrent.js';
import type { RecurrentOp } from '../../ir/ops/recurrent.js';
import { isObject, type JsonObject } from './config.js';
import { int, ints, type IrEmitter, type KValue, type LayerCall } from './layers.js';

/** Whether the file is Keras 3 at `major.minor` or later (a Keras 3 file that gives no version: the latest). */
export function kerasAtLeast(e: IrEmitter, major: number, minor: number): boolean {
  if (!e.keras3) return major < 3;
  const v = e.kerasVersion;
  if (!v || v[0] !== 3) return true;
  return v[0] > major || (v[0] === major && v[1]! >= minor);
}

/** A step mask, emitted on first use: the name of a bool [B, T] value (true: the step counts). */
export interface MaskRef {
  value(): string;
}

function lazy(build: () => string): MaskRef {
  let v: string | undefined;
  return { value: () => (v ??= build()) };
}

const node = (e: IrEmitter, op: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}): string => e.node(op, inputs, [out], attrs, '', out)[0]!;

/** Embedding(mask_zero=True)'s mask of its (raw, uncast) ids: ids != 0, as TF.js and Keras compute it. */
export function embeddingMask(e: IrEmitter, name: string, ids: KValue): MaskRef {
  return lazy(() => {
    const asFloat = node(e, 'Cast', [ids.name], `${name}/ids_float`, { to: int(1) });
    const zero = node(e, 'Equal', [asFloat, e.constant(`${name}/zero`, Tensor.float32([], [0]))], `${name}/padding`);
    return node(e, 'Not', [zero], `${name}/mask`);
  });
}

/** Keras Masking: y = x · any(x != mask_value, -1), the mask any(x != mask_value, -1). */
export function maskingLayer(e: IrEmitter, call: LayerCall): KValue[] {
  if (call.inputs.length !== 1) throw new UnsupportedError(`Keras Masking with ${call.inputs.length} inputs`, `layer '${call.name}'`);
  const x = call.inputs[0]!;
  const v = call.config.mask_value ?? 0;
  if (typeof v !== 'number') throw new UnsupportedError(`Keras Masking mask_value ${JSON.stringify(v)}`, `layer '${call.name}'`);
  const n = call.name;
  const asFloat = node(e, 'Cast', [x.name], `${n}/x_float`, { to: int(1) });
  const same = node(e, 'Equal', [asFloat, e.constant(`${n}/mask_value`, Tensor.float32([], [v]))], `${n}/equal`);
  const differs = node(e, 'Cast', [node(e, 'Not', [same], `${n}/not_equal`)], `${n}/not_equal_float`, { to: int(1) });
  // [B, T, 1]: 1 where some feature differs from mask_value
  const keep = node(e, 'ReduceMax', [differs], `${n}/keep`, { axes: ints([-1]), keepdims: int(1) });
  const y = e.node('Mul', [asFloat, keep], [n], {}, '', n)[0]!;
  const mask = lazy(() => node(e, 'Cast', [node(e, 'Squeeze', [keep, e.constant(`${n}/last_axis`, Tensor.int64([1], [-1]))], `${n}/keep_steps`)], `${n}/mask`, { to: int(9) }));
  return [{ name: y, shape: x.shape, mask }];
}

// ---- masks through the other layers ----

/** Layers that keep the steps and pass the mask on unchanged (supports_masking in TF.js and Keras). */
const PASS = new Set([
  'Dense', 'Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization', 'Activation',
  'ReLU', 'LeakyReLU', 'ThresholdedReLU', 'ELU', 'PReLU', 'BatchNormalization', 'LayerNormalization',
]);
/** Merges: the output mask is the AND of the inputs' masks (an input without one counts as all true). */
const MERGE = new Set(['Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate']);
/** Layers whose Keras call reads the mask, which nnport does not compute masked. */
const CONSUMERS = new Set(['Softmax']);
/** Layers whose rows apply their inputs' masks and set their outputs' (attention.ts). */
const OWN_MASKS = new Set(['MultiHeadAttention', 'Attention', 'AdditiveAttention', 'Masking', 'Embedding', 'GlobalAveragePooling1D']);
/** The recurrent layers: their rows take the mask themselves (maskedRecurrent). */
const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional']);

/**
 * The masks of a layer call's outputs, from its inputs' (called by the model walk after each row):
 * the outputs as the row made them, with `mask` set where the layer passes one on.
 */
export function propagateMasks(e: IrEmitter, call: LayerCall, outputs: KValue[]): KValue[] {
  const masks = call.inputs.map((v) => v.mask);
  if (!masks.some(Boolean) || RECURRENT.has(call.className) || OWN_MASKS.has(call.className)) return outputs;
  const what = `layer '${call.name}' (${call.className}) is given the mask of an Embedding(mask_zero=True) or Masking layer`;
  // (a Softmax given its mask by keyword applies that one: maskedSoftmax)
  if (call.className === 'Softmax' && call.inputs.length === 2) return outputs;
  // Keras adds the [batch, steps] mask to the scores broadcast from their last axes: only a [batch, steps] input (never a sequence) would take it
  if (CONSUMERS.has(call.className)) throw new UnsupportedError(`Keras ${call.className} with a mask`, `${what}, which it would apply`);
  const seq = (v: KValue | undefined) => v !== undefined && v.shape.length >= 3;
  if (call.className === 'TimeDistributed') {
    // (a wrapped Dense, Dropout, ... ignores the mask per step, and TimeDistributed passes it on)
    const inner = isObject(call.config.layer) ? call.config.layer.class_name : undefined;
    if (typeof inner !== 'string' || !PASS.has(inner)) throw new UnsupportedError(`Keras TimeDistributed(${String(inner)}) with a mask`, what);
  }
  if (PASS.has(call.className) || call.className === 'TimeDistributed') {
    // (a Dense over [B, T, F] keeps the steps; one over [B, F] has no steps to mask)
    return outputs.map((o, i) => (i === 0 && seq(o) ? { ...o, mask: masks[0] } : o));
  }
  if (MERGE.has(call.className)) {
    const out = outputs[0]!;
    if (!seq(out)) return outputs;
    const rank = out.shape.length;
    const axis = typeof call.config.axis === 'number' ? call.config.axis : -1;
    if (call.className === 'Concatenate' && (axis < 0 ? axis + rank : axis) === 1) return [{ ...out, mask: lazy(() => concatMasks(e, call)) }, ...outputs.slice(1)];
    const given = masks.filter((m): m is MaskRef => m !== undefined);
    const or = kerasAtLeast(e, 3, 4);
    // Keras >= 3.4: OR, and no mask where an input has none (Concatenate: any over an all-true input's mask)
    if (or && given.length < masks.length) return outputs;
    const op = or ? 'Or' : 'And';
    const mask = given.length === 1 ? given[0]! : lazy(() => given.slice(1).reduce((a, m, i) => node(e, op, [a, m.value()], `${call.name}/mask_${op.toLowerCase()}${i}`), given[0]!.value()));
    return [{ ...out, mask }, ...outputs.slice(1)];
  }
  // Keras' layers without supports_masking drop the mask (their call never sees it)
  return outputs;
}

/** A time-axis Concatenate's mask: the inputs' [B, T_i] masks joined, all true for an unmasked input. */
function concatMasks(e: IrEmitter, call: LayerCall): string {
  const n = call.name;
  const parts = call.inputs.map((x, i) => {
    if (x.mask) return x.mask.value();
    const steps = node(e, 'Slice', [node(e, 'Shape', [x.name], `${n}/input${i}_shape`), e.constant(`${n}/zero_index`, Tensor.int64([1], [0])), e.constant(`${n}/two_index`, Tensor.int64([1], [2]))], `${n}/input${i}_steps`);
    return node(e, 'Expand', [e.constant(`${n}/true`, new Tensor('bool', [1, 1], new Uint8Array([1]))), steps], `${n}/input${i}_mask`);
  });
  return node(e, 'Concat', parts, `${n}/mask`, { axis: int(1) });
}

/**
 * Softmax()(scores, mask=m) (a mask given by keyword: its second input), as the file's Keras computes
 * it: tf.keras 2 and Keras < 3.13 add (1 - m)·-1e9 (tf.keras 2's softmax_robust_masking and Keras >=
 * 3.13: where(m > 0.5, x, -1e9)); Keras >= 3.10 multiplies the output by the mask (zeros where a whole
 * row is masked). The output's Keras mask (that tensor) is refused by any layer that would apply it.
 */
export function maskedSoftmax(row: (e: IrEmitter, call: LayerCall) => KValue[]): (e: IrEmitter, call: LayerCall) => KValue[] {
  return (e, call) => {
    if (call.inputs.length !== 2) return row(e, call);
    const [x, m] = call.inputs as [KValue, KValue];
    const where = `layer '${call.name}' (Softmax)`;
    if (e.tfjsSaved) throw new UnsupportedError('a TF.js Softmax given a mask (TF.js ignores it)', where);
    if (m.shape.length > x.shape.length) throw new UnsupportedError(`Keras Softmax with a rank-${m.shape.length} mask on a rank-${x.shape.length} input`, where);
    const n = call.name;
    const whereStyle = kerasAtLeast(e, 3, 13) || (!e.keras3 && call.config.robust_masking === true);
    const keep = whereStyle ? keepOf(e, n, m) : undefined;
    const [y0] = row(e, { ...call, inputs: [{ name: maskedScores(e, n, x, m, keep), shape: x.shape }] });
    let y = y0!.name;
    if (kerasAtLeast(e, 3, 10)) {
      // (Keras 3.13 multiplies by the mask made bool; 3.10 - 3.12 by the mask as given)
      const factor = keep ? node(e, 'Cast', [keep], `${n}/mask_kept_float`, { to: int(1) }) : node(e, 'Cast', [m.name], `${n}/mask_factor`, { to: int(1) });
      y = node(e, 'Mul', [y, factor], `${n}/masked_output`);
    }
    const refused = lazy(() => {
      throw new UnsupportedError('a layer applying the Keras mask of a Softmax given a mask by keyword', `${where}: Keras passes that mask on`);
    });
    return [{ name: y, shape: x.shape, mask: refused }];
  };
}

/** A mask as Keras' where-style masking reads it: bool as is, numbers > 0.5. */
function keepOf(e: IrEmitter, n: string, m: KValue): string {
  const f = node(e, 'Cast', [m.name], `${n}/mask_float`, { to: int(1) });
  return node(e, 'Greater', [f, e.constant(`${n}/half`, Tensor.float32([], [0.5]))], `${n}/mask_kept`);
}

/** `keep` given: where(keep, x, -1e9); otherwise x + (1 - m)·-1e9. */
function maskedScores(e: IrEmitter, n: string, x: KValue, m: KValue, keep: string | undefined): string {
  const masked = e.constant(`${n}/masked_value`, Tensor.float32([], [-1e9]));
  if (keep) return node(e, 'Where', [keep, x.name, masked], `${n}/scores_masked`);
  const dropped = node(e, 'Sub', [e.constant(`${n}/one`, Tensor.float32([], [1])), node(e, 'Cast', [m.name], `${n}/mask_as_float`, { to: int(1) })], `${n}/dropped`);
  return node(e, 'Add', [x.name, node(e, 'Mul', [dropped, masked], `${n}/score_bias`)], `${n}/scores_masked`);
}

/**
 * GlobalAveragePooling1D around a masked input: Keras' masked mean sum(x·m) / sum(m) over the
 * steps (a fully masked row is 0 / 0, NaN, as in Keras). TF.js refuses to build such a model (its
 * GlobalAveragePooling1D does not support masking).
 */
export function maskedAveragePooling(row: (e: IrEmitter, call: LayerCall) => KValue[]): (e: IrEmitter, call: LayerCall) => KValue[] {
  return (e, call) => {
    const x = call.inputs[0];
    if (!x?.mask || x.shape.length !== 3) return row(e, call);
    const f = call.config.data_format;
    if (f !== undefined && f !== null && f !== 'channels_last') throw new UnsupportedError(`GlobalAveragePooling1D with data_format '${String(f)}' and a mask`, `layer '${call.name}'`);
    const keep = call.config.keepdims === true;
    const n = call.name;
    const m = node(e, 'Unsqueeze', [node(e, 'Cast', [x.mask.value()], `${n}/mask_float`, { to: int(1) }), e.constant(`${n}/feature_axis`, Tensor.int64([1], [2]))], `${n}/mask_columns`);
    const steps = e.constant(`${n}/steps_axis`, Tensor.int64([1], [1]));
    const sum = node(e, 'ReduceSum', [node(e, 'Mul', [x.name, m], `${n}/masked`), steps], `${n}/sum`, { keepdims: int(keep ? 1 : 0) });
    const count = node(e, 'ReduceSum', [m, steps], `${n}/count`, { keepdims: int(keep ? 1 : 0) });
    const y = e.node('Div', [sum, count], [n], {}, '', n)[0]!;
    return [{ name: y, shape: keep ? [x.shape[0] ?? null, 1, x.shape[2] ?? null] : [x.shape[0] ?? null, x.shape[2] ?? null] }];
  };
}

// ---- masked recurrence ----

/** The inner layer config of a Bidirectional, or the layer's own. */
function recurrentConfig(call: LayerCall): JsonObject {
  if (call.className !== 'Bidirectional') return call.config;
  const l = call.config.layer;
  return isObject(l) && isObject(l.config) ? l.config : {};
}

const RECURRENT_OPS: readonly RecurrentOp[] = ['LSTM', 'GRU', 'RNN'];

/**
 * A recurrent row (recurrent.ts) around a masked input: the row builds the ONNX op as usual through
 * an emitter that unrolls that op with the mask (and zeros the masked rows of its sequence output
 * where Keras does); the outputs that are sequences carry the mask on.
 */
export function maskedRecurrent(row: (e: IrEmitter, call: LayerCall) => KValue[]): (e: IrEmitter, call: LayerCall) => KValue[] {
  return (e, call) => {
    const maskRef = call.inputs[0]?.mask;
    if (!maskRef) return row(e, call);
    const cfg = recurrentConfig(call);
    const returnSequences = cfg.return_sequences === true;
    const hasInitialState = call.inputs.length > 1;
    // Keras writes zeros at masked steps of a Bidirectional's sequence and where the config says so
    const zeroOutput = !e.tfjsSaved && returnSequences && (call.className === 'Bidirectional' || cfg.zero_output_for_mask === true);
    // Keras' rnn starts its "previous output" at zeros, TF.js' at the initial h: with an initial
    // state, Keras' outputs before the first unmasked step (a fully masked row's last output) are zeros
    const zeroStart = !e.tfjsSaved && hasInitialState && !zeroOutput ? { sequences: returnSequences, backwards: call.className !== 'Bidirectional' && cfg.go_backwards === true } : undefined;
    const outputs = row(unrollingEmitter(e, maskRef.value(), call, zeroOutput, zeroStart), call);
    if (returnSequences) outputs[0] = { ...outputs[0]!, mask: maskRef };
    return outputs;
  };
}

/**
 * An emitter that passes everything to `e` except the layer's ONNX LSTM / GRU / RNN node, which it
 * emits unrolled over its steps with the mask. Constants are held back until a node reads them, so
 * the recurrent op's W / R / B become the unrolled steps' weights only.
 */
function unrollingEmitter(e: IrEmitter, mask: string, call: LayerCall, zeroOutput: boolean, zeroStart?: { sequences: boolean; backwards: boolean }): IrEmitter {
  const held = new Map<string, { name: string; t: Tensor; emitted?: string }>();
  const real = (v: string): string => {
    const h = held.get(v);
    if (!h) return v;
    return (h.emitted ??= e.constant(h.name, h.t));
  };
  return {
    file: e.file,
    keras3: e.keras3,
    tfjsSaved: e.tfjsSaved,
    ...(e.kerasVersion && { kerasVersion: e.kerasVersion }),
    ...(e.stateInput && { stateInput: e.stateInput.bind(e) }),
    ...(e.stateOutput && { stateOutput: e.stateOutput.bind(e) }),
    constant(name: string, t: Tensor): string {
      const key = `\u0000held${held.size}:${name}`;
      held.set(key, { name, t });
      return key;
    },
    node(opType, inputs, outputs, attrs = {}, domain = '', name) {
      // (the row's last node: the layer's first output named after it)
      if (zeroStart && opType === 'Identity' && outputs[0] === call.name) return e.node(opType, [zeroedStart(e, call, mask, real(inputs[0]!), zeroStart)], outputs, attrs, domain, name);
      if (!(RECURRENT_OPS as readonly string[]).includes(opType) || domain !== '') return e.node(opType, inputs.map(real), outputs, attrs, domain, name);
      return emitUnrolled(e, call, opType as RecurrentOp, inputs, outputs, attrs, held, real, mask, zeroOutput);
    },
  };
}

/**
 * Keras' output with an initial state: zeros until the first unmasked step in the order the layer
 * runs (the sequence [B, T, U] in that order: reversed for go_backwards), or, for the last output
 * [B, U], where the whole row is masked.
 */
function zeroedStart(e: IrEmitter, call: LayerCall, mask: string, y: string, how: { sequences: boolean; backwards: boolean }): string {
  const n = call.name;
  const T = call.inputs[0]!.shape[1];
  let m = node(e, 'Cast', [mask], `${n}/mask_float`, { to: int(1) });
  const half = e.constant(`${n}/half`, Tensor.float32([], [0.5]));
  let seen: string;
  if (how.sequences && typeof T === 'number') {
    if (how.backwards) {
      const i64 = (v: number | bigint) => Tensor.int64([1], [v]);
      m = node(e, 'Slice', [m, e.constant(`${n}/minus1`, i64(-1)), e.constant(`${n}/int64_min`, i64(-(2n ** 63n))), e.constant(`${n}/axis1`, i64(1)), e.constant(`${n}/minus1_step`, i64(-1))], `${n}/mask_run_order`);
    }
    // steps unmasked so far: m · U, U[j, k] = 1 for j <= k
    const upper = new Float32Array(T * T);
    for (let j = 0; j < T; j++) for (let k = j; k < T; k++) upper[j * T + k] = 1;
    const counts = node(e, 'MatMul', [m, e.constant(`${n}/prefix_sum`, Tensor.float32([T, T], upper))], `${n}/unmasked_so_far`);
    seen = node(e, 'Unsqueeze', [node(e, 'Greater', [counts, half], `${n}/started`), e.constant(`${n}/feature_axis`, Tensor.int64([1], [2]))], `${n}/started_columns`);
  } else {
    seen = node(e, 'Greater', [node(e, 'ReduceMax', [m], `${n}/any_unmasked`, { axes: ints([1]), keepdims: int(1) }), half], `${n}/started`);
  }
  return node(e, 'Where', [seen, y, e.constant(`${n}/zero`, Tensor.float32([], [0]))], `${n}/zero_start`);
}

function emitUnrolled(e: IrEmitter, call: LayerCall, opType: RecurrentOp, inputs: string[], outputs: string[], attrs: Record<string, Attr>, held: Map<string, { t: Tensor }>, real: (v: string) => string, mask: string, zeroOutput: boolean): string[] {
  const x = call.inputs[0]!;
  const [B, T, I] = x.shape;
  const U = (attrs.hidden_size as { value: number }).value;
  const nd = attrs.direction?.type === 'string' && attrs.direction.value === 'bidirectional' ? 2 : 1;
  const dim = (d: number | null | undefined, batch = false) => (typeof d === 'number' ? d : batch ? 'batch' : null);
  // a graph of the one op: its value inputs as graph inputs, its weights as initializers
  const g: Graph = { name: call.name, nodes: [], inputs: [], outputs: [], initializers: new Map(), opsets: { '': 17 } };
  const ins = inputs.map((v, i) => {
    if (!v) return v;
    const h = held.get(v);
    if (h) {
      g.initializers.set(v, h.t);
      return v;
    }
    const shape = i === 0 ? [dim(T), dim(B, true), dim(I)] : [nd, dim(B, true), U];
    if (!g.inputs.some((gi) => gi.name === v)) g.inputs.push({ name: v, dtype: 'float32', shape });
    return v;
  });
  g.inputs.push({ name: mask, dtype: 'bool', shape: [dim(B, true), dim(T)] });
  const rec: Node = { name: `${call.name}/${opType.toLowerCase()}`, opType, domain: '', inputs: ins, outputs, attrs };
  g.nodes.push(rec);
  g.outputs = outputs.filter(Boolean).map((o) => ({ name: o, dtype: 'float32' }));
  const target = `a masked Keras ${call.className} (nnport unrolls it over its steps when reading the file)`;
  const unrolled = unrollRecurrent(g, [opType], target, { mask: () => mask });
  // back into the model's graph: fresh names through the emitter, weights as its constants
  const renamed = new Map<string, string>();
  const ref = (v: string): string => {
    if (!v) return v;
    const r = renamed.get(v);
    if (r) return r;
    const t = unrolled.initializers.get(v);
    if (t && !held.has(v)) {
      const c = e.constant(v.replace(/^\u0000held\d+:/, ''), t);
      renamed.set(v, c);
      return c;
    }
    return real(v);
  };
  for (const n of unrolled.nodes) {
    const outs = e.node(n.opType, n.inputs.map(ref), n.outputs, n.attrs, n.domain, n.name);
    n.outputs.forEach((o, i) => renamed.set(o, outs[i]!));
  }
  const result = outputs.map((o) => (o ? renamed.get(o) ?? o : o));
  if (zeroOutput && result[0]) {
    // Y [T, nd, B, U]: zeros where the step is masked (the mask [B, T] as [T, 1, B, 1])
    const n = call.name;
    const steps = node(e, 'Transpose', [mask], `${n}/mask_time_major`, { perm: ints([1, 0]) });
    const columns = node(e, 'Unsqueeze', [steps, e.constant(`${n}/mask_axes`, Tensor.int64([2], [1, 3]))], `${n}/mask_columns`);
    result[0] = node(e, 'Where', [columns, result[0], e.constant(`${n}/zero`, Tensor.float32([], [0]))], `${n}/Y_zeroed`);
  }
  return result;
}
