// Keras' MultiHeadAttention (attention over the sequence axis of [batch, time, features] inputs,
// Keras' default attention_axes) as the einsums Keras computes it:
//   q = einsum('abc,cde->abde', query, Wq) + bq          [B, T, H, K]   (key, value likewise)
//   scores = softmax(einsum('aecd,abcd->acbe', k, q / sqrt(K)) (+ causal mask))   [B, H, T, S]
//   out = einsum('abcd,cde->abe', einsum('acbe,aecd->abcd', scores, v), Wo) + bo   [B, T, D]
// The call's tensors are query, value and key (config.ts KEYWORD_INPUTS); key defaults to value.
import { UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { int, str, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';

/** Keras' large negative for masked scores (keras/layers/activation/softmax.py, float32). */
const MASKED = -1e9;

export function multiHeadAttention(e: IrEmitter, call: LayerCall): KValue[] {
  const where = `layer '${call.name}' (MultiHeadAttention)`;
  const [query, value, key = value] = call.inputs;
  if (!query || !value) throw new UnsupportedError('MultiHeadAttention without a value tensor', where);
  const cfg = call.config;
  const flags = call.opArgs?.kwargs ?? {};
  for (const v of [query, value, key!]) if (v.shape.length !== 3) throw new UnsupportedError(`MultiHeadAttention on a rank-${v.shape.length} input (attention over several axes)`, where);
  const axes = cfg.attention_axes;
  if (axes !== undefined && axes !== null && !(Array.isArray(axes) && axes.length === 1 && (axes[0] === 1 || axes[0] === -2))) throw new UnsupportedError(`MultiHeadAttention with attention_axes ${JSON.stringify(axes)}`, where);
  if (flags.return_attention_scores === true) throw new UnsupportedError('MultiHeadAttention with return_attention_scores=True', where);
  if (cfg.output_shape !== undefined && cfg.output_shape !== null) throw new UnsupportedError('MultiHeadAttention with output_shape', where);
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
    const y = einsum('abc,cde->abde', [x.name, kernel], `${role}`);
    const b = w(`${role}/bias`);
    return b ? e.node('Add', [y, b], [n(`${role}_biased`)])[0]! : y;
  };
  const q = e.node('Mul', [dense(query, 'query'), e.constant(n('scale'), Tensor.float32([], [1 / Math.sqrt(keyDim)]))], [n('query_scaled')])[0]!;
  const k = dense(key!, 'key');
  const v = dense(value, 'value');
  let scores = einsum('aecd,abcd->acbe', [k, q], 'scores');
  if (flags.use_causal_mask === true) {
    const [t, s] = [query.shape[1], value.shape[1]];
    if (typeof t !== 'number' || typeof s !== 'number') throw new UnsupportedError('MultiHeadAttention use_causal_mask over a time axis of unknown length', where);
    // Keras: a lower-triangular [T, S] mask (query i sees key j <= i, offset when S > T is not Keras'), masked scores pushed down by 1e9
    const add = new Float32Array(t * s);
    for (let i = 0; i < t; i++) for (let j = 0; j < s; j++) add[i * s + j] = j <= i ? 0 : MASKED;
    scores = e.node('Add', [scores, e.constant(n('causal_mask'), Tensor.float32([t, s], add))], [n('scores_masked')])[0]!;
  } else if (flags.use_causal_mask !== undefined && flags.use_causal_mask !== false && flags.use_causal_mask !== null) {
    throw new UnsupportedError(`MultiHeadAttention use_causal_mask=${JSON.stringify(flags.use_causal_mask)}`, where);
  }
  const probs = e.node('Softmax', [scores], [n('probs')], { axis: int(-1) })[0]!;
  const context = einsum('acbe,aecd->abcd', [probs, v], 'context');
  const outKernel = w('attention_output/kernel');
  if (!outKernel) throw new UnsupportedError("MultiHeadAttention without its 'attention_output' kernel", where);
  const features = call.weights.get('attention_output/kernel')!.shape[2]!;
  const shape: KShape = [query.shape[0] ?? null, query.shape[1] ?? null, features];
  const ob = w('attention_output/bias');
  if (!ob) return [{ name: e.node('Einsum', [context, outKernel], [call.name], { equation: str('abcd,cde->abe') }, '', call.name)[0]!, shape }];
  const y = einsum('abcd,cde->abe', [context, outKernel], 'output');
  return [{ name: e.node('Add', [y, ob], [call.name], {}, '', call.name)[0]!, shape }];
}
