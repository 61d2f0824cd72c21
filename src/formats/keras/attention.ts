// Keras' MultiHeadAttention as the einsums Keras builds for it (multi_head_attention.py
// _build_proj_equation / _build_attention_equation), for a rank-3 [batch, time, features] input:
//   q = einsum('abc,cde->abde', query, Wq) + bq          [B, T, H, K]   (key, value likewise)
//   scores = softmax(einsum('aecd,abcd->acbe', k, q / sqrt(K)), masked)   [B, H, T, S]
//   out = einsum('abcd,cde->abe', einsum('acbe,aecd->abcd', scores, v), Wo) + bo   [B, T, D]
// and the same equations Keras builds for other ranks and attention_axes (several axes: one softmax
// over all of them). The call's tensors are query, value, key and attention_mask (config.ts
// KEYWORD_INPUTS); key defaults to value.
//
// Masks (_compute_attention_mask, Keras 2 and 3 alike): the query's Keras mask [B, T, 1], the
// value's and key's [B, 1, S] (Embedding mask_zero / Masking, masking.ts), the causal mask [T, S]
// and an attention_mask tensor (cast to bool) are ANDed; a masked score is pushed to -1e9 before the
// softmax (Keras 2's Softmax adds (1 - m) * -1e9, softmax_robust_masking and Keras 3 take where(m, s, -1e9):
// the same but where a query step sees no key). The output carries the query's mask.
// A query step that sees no key at all gets uniform weights (Keras 2; Keras 3's dot_product_attention
// on TF / JAX), except where Keras >= 3.10 runs its Softmax layer (dropout > 0 or
// return_attention_scores), which zeros such a row.
//
// Attention / AdditiveAttention (Keras' dense attention, Luong / Bahdanau style) on [query, value(, key)]:
// scores = q·kᵀ (· scale), or concat / additive sum(scale · tanh(q + k)), the value's mask and the causal
// mask subtracting 1e9, softmax, weights·v, rows of a masked query step zeroed; the output carries the
// query's mask.
import { FormatError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import type { Json } from './config.js';
import { int, ints, str, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';
import { kerasAtLeast } from './masking.js';

/** Keras' large negative for masked scores (keras/layers/activation/softmax.py, float32). */
const MASKED = -1e9;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** _build_proj_equation: `free` axes kept, `bound` contracted, `out` new ones. */
function projEquation(free: number, bound: number, out: number): string {
  const f = LETTERS.slice(0, free);
  const b = LETTERS.slice(free, free + bound);
  const o = LETTERS.slice(free + bound, free + bound + out);
  return `${f}${b},${b}${o}->${f}${o}`;
}

/** _build_attention_equation over the projected rank: (key, query) -> scores, (scores, value) -> context. */
function attentionEquations(rank: number, axes: number[]): { dot: string; combine: string; scoresRank: number } {
  const target = LETTERS.slice(0, rank);
  const batch = [...Array(rank).keys()].filter((i) => !axes.includes(i) && i !== rank - 1);
  let next = rank;
  let source = '';
  for (let i = 0; i < rank; i++) source += batch.includes(i) || i === rank - 1 ? target[i]! : LETTERS[next++]!;
  const product = [...batch.map((i) => target[i]!), ...axes.map((i) => target[i]!), ...axes.map((i) => source[i]!)].join('');
  return { dot: `${source},${target}->${product}`, combine: `${product},${source}->${target}`, scoresRank: product.length };
}

/** The attention axes of a rank-`rank` input (Keras: default all but batch and features; negative from the input's rank). */
function attentionAxes(v: Json | undefined, rank: number, where: string): number[] {
  if (v === undefined || v === null) return [...Array(rank - 2).keys()].map((i) => i + 1);
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'number' && Number.isInteger(a))) throw new UnsupportedError(`MultiHeadAttention with attention_axes ${JSON.stringify(v)}`, where);
  const axes = (list as number[]).map((a) => (a < 0 ? rank + a : a));
  if (axes.some((a) => a < 1 || a > rank - 2) || new Set(axes).size !== axes.length) throw new UnsupportedError(`MultiHeadAttention with attention_axes ${JSON.stringify(v)} on a rank-${rank} input (the batch or feature axis)`, where);
  return axes;
}

const flag = (v: Json | undefined, name: string, where: string): boolean => {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  throw new UnsupportedError(`Keras attention call with ${name}=${JSON.stringify(v)}`, where);
};

/**
 * Masked scores as Keras' softmax sees them: `keep` a bool broadcastable to `scores`. `add`: Keras 2's
 * (1 - m) · -1e9 added; otherwise where(m, s, -1e9).
 */
function maskScores(e: IrEmitter, n: (s: string) => string, scores: string, keep: string, add: boolean): string {
  if (add) {
    const drop = e.node('Cast', [e.node('Not', [keep], [n('dropped')])[0]!], [n('dropped_float')], { to: int(1) })[0]!;
    return e.node('Add', [scores, e.node('Mul', [drop, e.constant(n('masked_value'), Tensor.float32([], [MASKED]))], [n('score_bias')])[0]!], [n('scores_masked')])[0]!;
  }
  return e.node('Where', [keep, scores, e.constant(n('masked_value'), Tensor.float32([], [MASKED]))], [n('scores_masked')])[0]!;
}

/** A lower-triangular [T, S] bool mask: query step i sees key step j <= i (Keras' _compute_causal_mask). */
function causalMask(e: IrEmitter, name: string, t: number | null | undefined, s: number | null | undefined, where: string): string {
  if (typeof t !== 'number' || typeof s !== 'number') throw new UnsupportedError('a Keras causal attention mask over a time axis of unknown length', where);
  const m = new Uint8Array(t * s);
  for (let i = 0; i < t; i++) for (let j = 0; j < s && j <= i; j++) m[i * s + j] = 1;
  return e.constant(name, new Tensor('bool', [t, s], m));
}

/** AND of the given bool values (undefined when none). */
function and(e: IrEmitter, n: (s: string) => string, parts: (string | undefined)[]): string | undefined {
  const given = parts.filter((p): p is string => p !== undefined);
  return given.slice(1).reduce((a, m, i) => e.node('And', [a, m], [n(`mask_and${i}`)])[0]!, given[0]!);
}

export function multiHeadAttention(e: IrEmitter, call: LayerCall): KValue[] {
  const where = `layer '${call.name}' (MultiHeadAttention)`;
  const roles = call.opArgs?.roles ?? ['query', 'value', 'key'];
  const byRole = new Map(roles.map((r, i) => [r, call.inputs[i]]));
  const query = byRole.get('query');
  const value = byRole.get('value');
  const key = byRole.get('key') ?? value;
  const attentionMask = byRole.get('attention_mask');
  if (!query || !value || !key) throw new UnsupportedError('MultiHeadAttention without a value tensor', where);
  const cfg = call.config;
  const flags = call.opArgs?.kwargs ?? {};
  const rank = query.shape.length;
  if (rank < 3 || value.shape.length !== rank || key.shape.length !== rank) throw new UnsupportedError(`MultiHeadAttention on inputs of rank ${query.shape.length}, ${value.shape.length}, ${key.shape.length}`, where);
  const axes = attentionAxes(cfg.attention_axes, rank, where);
  const returnScores = flag(flags.return_attention_scores, 'return_attention_scores', where);
  const causal = flag(flags.use_causal_mask, 'use_causal_mask', where);
  if (cfg.use_gate !== undefined && cfg.use_gate !== null && cfg.use_gate !== false) throw new UnsupportedError(`MultiHeadAttention with use_gate=${JSON.stringify(cfg.use_gate)}`, where);
  if (cfg.sliding_window !== undefined && cfg.sliding_window !== null) throw new UnsupportedError(`MultiHeadAttention with sliding_window ${JSON.stringify(cfg.sliding_window)}`, where);
  const heads = Number(cfg.num_heads);
  const keyDim = Number(cfg.key_dim);
  const valueDim = cfg.value_dim === undefined || cfg.value_dim === null ? keyDim : Number(cfg.value_dim);
  if (!Number.isInteger(heads) || !Number.isInteger(keyDim) || !Number.isInteger(valueDim) || heads < 1 || keyDim < 1 || valueDim < 1) throw new UnsupportedError(`MultiHeadAttention with num_heads ${String(cfg.num_heads)}, key_dim ${String(cfg.key_dim)}`, where);
  const w = (role: string): string | undefined => {
    const t = call.weights.get(role);
    return t ? e.constant(`${call.name}/${role}`, t) : undefined;
  };
  const n = (suffix: string) => `${call.name}/${suffix}`;
  const einsum = (eq: string, inputs: string[], suffix: string) => e.node('Einsum', inputs, [n(suffix)], { equation: str(eq) })[0]!;
  const dense = (x: KValue, role: string): string => {
    const kernel = w(`${role}/kernel`);
    if (!kernel) throw new UnsupportedError(`MultiHeadAttention without its '${role}' kernel`, where);
    const y = einsum(projEquation(rank - 1, 1, 2), [x.name, kernel], `${role}`);
    const b = w(`${role}/bias`);
    return b ? e.node('Add', [y, b], [n(`${role}_biased`)])[0]! : y;
  };
  const q = e.node('Mul', [dense(query, 'query'), e.constant(n('scale'), Tensor.float32([], [1 / Math.sqrt(keyDim)]))], [n('query_scaled')])[0]!;
  const k = dense(key, 'key');
  const v = dense(value, 'value');
  const eq = attentionEquations(rank + 1, axes);
  let scores = einsum(eq.dot, [k, q], 'scores');

  // the mask Keras builds from the inputs' masks, use_causal_mask and attention_mask
  const seqMask = (x: KValue, axis: number, role: string): string | undefined => {
    if (!x.mask) return undefined;
    if (rank !== 3) throw new UnsupportedError(`MultiHeadAttention on rank-${rank} inputs with the ${role}'s Keras mask`, where);
    return e.node('Unsqueeze', [x.mask.value(), e.constant(n(`${role}_mask_axis`), Tensor.int64([1], [axis]))], [n(`${role}_mask`)])[0]!;
  };
  if (causal && (rank !== 3 || axes.length !== 1)) throw new UnsupportedError('MultiHeadAttention use_causal_mask over several attention axes', where);
  let attn: string | undefined;
  if (attentionMask) {
    attn = e.node('Cast', [attentionMask.name], [n('attention_mask_bool')], { to: int(9) })[0]!;
    if (attentionMask.shape.length > eq.scoresRank - 1) throw new ShapeError(`${where}: attention_mask of rank ${attentionMask.shape.length}, the scores without heads have rank ${eq.scoresRank - 1}`);
  }
  const keep = and(e, n, [seqMask(query, 2, 'query'), seqMask(value, 1, 'value'), key !== value ? seqMask(key, 1, 'key') : undefined, causal ? causalMask(e, n('causal_mask'), query.shape[1], value.shape[1], where) : undefined, attn]);
  let keep4: string | undefined;
  if (keep) {
    // (the heads axis: Keras expands the [B, T, S] mask at -2·len(axes) - 1 up to the scores' rank)
    const have = Math.max(attentionMask?.shape.length ?? 0, query.mask || value.mask || key.mask ? 3 : 2);
    keep4 = keep;
    for (let r = have; r < eq.scoresRank; r++) keep4 = e.node('Unsqueeze', [keep4, e.constant(n(`heads_axis${r}`), Tensor.int64([1], [-2 * axes.length - 1]))], [n(`mask_heads${r}`)])[0]!;
    const keras2Add = !e.keras3 && cfg.softmax_robust_masking !== true;
    scores = maskScores(e, n, scores, keep4, keras2Add);
  }
  let probs: string;
  if (axes.length === 1) probs = e.node('Softmax', [scores], [n('probs')], { axis: int(-1) })[0]!;
  else {
    // one softmax over the key attention axes: flattened into one, then back
    const flat = e.node('Reshape', [scores, e.constant(n('flat_shape'), Tensor.int64([eq.scoresRank - axes.length + 1], [...new Array<number>(eq.scoresRank - axes.length).fill(0), -1]))], [n('scores_flat')])[0]!;
    const p = e.node('Softmax', [flat], [n('probs_flat')], { axis: int(-1) })[0]!;
    probs = e.node('Reshape', [p, e.node('Shape', [scores], [n('scores_shape')])[0]!], [n('probs')])[0]!;
  }
  const dropout = typeof cfg.dropout === 'number' ? cfg.dropout : 0;
  if (keep4 && e.keras3 && kerasAtLeast(e, 3, 10) && (dropout > 0 || returnScores)) {
    // Keras >= 3.10 runs its Softmax layer here, which zeros the masked weights
    probs = e.node('Where', [keep4, probs, e.constant(n('zero'), Tensor.float32([], [0]))], [n('probs_masked')])[0]!;
  }
  const context = einsum(eq.combine, [probs, v], 'context');
  const outKernelT = call.weights.get('attention_output/kernel');
  const outKernel = w('attention_output/kernel');
  if (!outKernel || !outKernelT) throw new UnsupportedError("MultiHeadAttention without its 'attention_output' kernel", where);
  if (outKernelT.rank < 3) throw new FormatError(`${where}: attention_output kernel of rank ${outKernelT.rank}`, { file: e.file });
  const outDims = outKernelT.shape.slice(2);
  const shape: KShape = [...query.shape.slice(0, -1), ...outDims];
  const outEq = projEquation(rank - 1, 2, outDims.length);
  const ob = w('attention_output/bias');
  const scoresOut = (): KValue[] => (returnScores ? [{ name: e.node('Identity', [probs], [n('attention_scores')])[0]!, shape: scoresShape(query, key, axes, heads) }] : []);
  const mask: Partial<Pick<KValue, 'mask'>> = query.mask ? { mask: query.mask } : {};
  if (!ob) return [{ name: e.node('Einsum', [context, outKernel], [call.name], { equation: str(outEq) }, '', call.name)[0]!, shape, ...mask }, ...scoresOut()];
  const y = einsum(outEq, [context, outKernel], 'output');
  return [{ name: e.node('Add', [y, ob], [call.name], {}, '', call.name)[0]!, shape, ...mask }, ...scoresOut()];
}

function scoresShape(query: KValue, key: KValue, axes: number[], heads: number): KShape {
  const rank = query.shape.length;
  const batch = [...Array(rank - 1).keys()].filter((i) => !axes.includes(i));
  return [...batch.map((i) => query.shape[i] ?? null), heads, ...axes.map((i) => query.shape[i] ?? null), ...axes.map((i) => key.shape[i] ?? null)];
}

/** Keras' Attention (dot / concat scores) and AdditiveAttention layers. */
export function denseAttention(e: IrEmitter, call: LayerCall): KValue[] {
  const where = `layer '${call.name}' (${call.className})`;
  const additive = call.className === 'AdditiveAttention';
  const [query, value, key = value] = call.inputs;
  if (!query || !value || !key || call.inputs.length > 3) throw new UnsupportedError(`Keras ${call.className} on ${call.inputs.length} tensors (it takes [query, value] or [query, value, key])`, where);
  if (query.shape.length !== 3 || value.shape.length !== 3 || key.shape.length !== 3) throw new UnsupportedError(`Keras ${call.className} on inputs of rank ${query.shape.length}, ${value.shape.length}, ${key.shape.length}`, where);
  const cfg = call.config;
  const flags = call.opArgs?.kwargs ?? {};
  const returnScores = flag(flags.return_attention_scores, 'return_attention_scores', where);
  // Keras 2.1-2.8 had `causal` in the config; later a call argument
  const causal = flag(flags.use_causal_mask, 'use_causal_mask', where) || flag(cfg.causal, 'causal', where);
  const mode = additive ? 'additive' : (cfg.score_mode ?? 'dot');
  if (mode !== 'dot' && mode !== 'concat' && mode !== 'additive') throw new UnsupportedError(`Keras Attention with score_mode ${JSON.stringify(mode)}`, where);
  const useScale = cfg.use_scale === undefined ? additive : cfg.use_scale === true;
  const n = (s: string) => `${call.name}/${s}`;
  const weight = (role: string): string => {
    const t = call.weights.get(role);
    if (!t) throw new FormatError(`${where} has no '${role}' weight`, { file: e.file });
    return e.constant(n(role), t);
  };
  const axis = (name: string, a: number) => e.constant(n(name), Tensor.int64([1], [a]));
  let scores: string;
  if (mode === 'dot') {
    scores = e.node('MatMul', [query.name, e.node('Transpose', [key.name], [n('key_t')], { perm: ints([0, 2, 1]) })[0]!], [n('scores')])[0]!;
    if (useScale) scores = e.node('Mul', [scores, weight('scale')], [n('scores_scaled')])[0]!;
  } else {
    // [B, Tq, 1, D] + [B, 1, Tv, D]
    let sum = e.node('Add', [e.node('Unsqueeze', [query.name, axis('q_axis', 2)], [n('q_columns')])[0]!, e.node('Unsqueeze', [key.name, axis('k_axis', 1)], [n('k_rows')])[0]!], [n('q_plus_k')])[0]!;
    if (mode === 'concat' && useScale) sum = e.node('Mul', [sum, weight('scale')], [n('q_plus_k_scaled')])[0]!;
    let t = e.node('Tanh', [sum], [n('tanh')])[0]!;
    if (mode === 'additive' && useScale) t = e.node('Mul', [t, weight('scale')], [n('tanh_scaled')])[0]!;
    scores = e.node('ReduceSum', [t, axis('feature_axis', -1)], [n('scores')], { keepdims: int(0) })[0]!;
    if (mode === 'concat') scores = e.node('Mul', [scores, weight('concat_score_weight')], [n('scores_weighted')])[0]!;
  }
  const vMask = value.mask ? e.node('Unsqueeze', [value.mask.value(), axis('value_mask_axis', 1)], [n('value_mask')])[0]! : undefined;
  const keep = and(e, n, [vMask, causal ? causalMask(e, n('causal_mask'), query.shape[1], key.shape[1], where) : undefined]);
  if (keep) {
    // Keras: scores - 1e9 where masked (tf.keras 2: scores -= 1e9 · padding)
    const shifted = e.node('Sub', [scores, e.constant(n('masked_shift'), Tensor.float32([], [-MASKED]))], [n('scores_shifted')])[0]!;
    scores = e.node('Where', [keep, scores, shifted], [n('scores_masked')])[0]!;
  }
  const probs = e.node('Softmax', [scores], [n('probs')], { axis: int(-1) })[0]!;
  let y = e.node('MatMul', [probs, value.name], [n('context')])[0]!;
  if (query.mask) y = e.node('Where', [e.node('Unsqueeze', [query.mask.value(), axis('query_mask_axis', 2)], [n('query_mask')])[0]!, y, e.constant(n('zero'), Tensor.float32([], [0]))], [n('context_masked')])[0]!;
  const out = e.node('Identity', [y], [call.name], {}, '', call.name)[0]!;
  const shape: KShape = [query.shape[0] ?? null, query.shape[1] ?? null, value.shape[2] ?? null];
  const outputs: KValue[] = [{ name: out, shape, ...(query.mask && { mask: query.mask }) }];
  if (returnScores) outputs.push({ name: e.node('Identity', [probs], [n('attention_scores')])[0]!, shape: [query.shape[0] ?? null, query.shape[1] ?? null, key.shape[1] ?? null] });
  return outputs;
}

/** The weights of Attention / AdditiveAttention in Keras' order. */
export function denseAttentionWeightRoles(className: string, cfg: Record<string, Json>): string[] {
  const additive = className === 'AdditiveAttention';
  const scale = (cfg.use_scale === undefined ? additive : cfg.use_scale === true) ? ['scale'] : [];
  return [...scale, ...(!additive && cfg.score_mode === 'concat' ? ['concat_score_weight'] : [])];
}

