// Self-attention (onnxruntime's com.microsoft.Attention: a packed [D, 3D] in-projection, per-head
// softmax(q kᵀ / sqrt(hd)) v on [batch, T, D]; a PyTorch nn.MultiheadAttention after
// src/passes/fuse-torch-attention.ts) and the MatMul (+ Add) out-projection after it -> one Keras
// MultiHeadAttention(num_heads H, key_dim = value_dim = hd) called as (x, value=x). Its weights as
// Keras keeps them (multi_head_attention.py's EinsumDense sublayers): query / key / value kernels
// [D, H, hd] and biases [H, hd] (column h·hd + j of the packed kernel is head h, unit j, as PyTorch
// splits heads), attention_output kernel [H, hd, D'] and bias [D']. Keras scales q by 1/sqrt(key_dim),
// the only scale taken. TF.js 4.9 has no MultiHeadAttention (its writer refuses the class by name).
import { attrFloat, attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { unsupported, type KTensor, type Writer } from './from-graph.js';
import type { KShape } from './layers.js';

/** columns [from, from + width) of a [rows, cols] float tensor */
function columns(t: Tensor, from: number, width: number): Float32Array {
  const src = t.toFloat32();
  const cols = t.shape[1]!;
  const rows = t.shape[0]!;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

export function attentionRow(w: Writer, n: Node): KTensor[] {
  const x = w.input(n, 0);
  const W = w.constant(n.inputs[1]!);
  const b = n.inputs[2] ? w.constant(n.inputs[2]) : undefined;
  const H = attrInt(n, 'num_heads', 0);
  if (!W || W.rank !== 2 || (n.inputs[2] && !b)) unsupported(n, 'with weights given at run time');
  if (n.inputs.slice(3).some((i) => i)) unsupported(n, 'with a mask, past state or attention bias');
  if (attrInt(n, 'unidirectional', 0) !== 0 || n.attrs.qkv_hidden_sizes || attrInt(n, 'do_rotary', 0) !== 0) unsupported(n, 'other than plain bidirectional self-attention');
  const D = W.shape[1]! / 3;
  const din = W.shape[0]!;
  const hd = D / H;
  if (x.shape.length !== 3 || !Number.isInteger(D) || !Number.isInteger(hd) || H < 1) unsupported(n, `with a [${W.shape.join(', ')}] in-projection for ${H} heads on a rank-${x.shape.length} input`);
  if (n.attrs.scale && Math.abs(attrFloat(n, 'scale', 0) * Math.sqrt(hd) - 1) > 1e-6) unsupported(n, `with scale ${attrFloat(n, 'scale', 0)} (Keras scales by 1/sqrt(key_dim))`);
  // the out-projection: a MatMul by a constant [D, D'] (+ an Add of [D']) reading only this output
  let out = n.outputs[0]!;
  let Wo: Tensor | undefined;
  let bo: Tensor | undefined;
  const mm = w.soleConsumer(out);
  const k = mm && !mm.domain && mm.opType === 'MatMul' && mm.inputs[0] === out ? w.constant(mm.inputs[1]!) : undefined;
  if (mm && k && k.rank === 2 && k.shape[0] === D) {
    Wo = k;
    w.skip.add(mm);
    out = mm.outputs[0]!;
    const add = w.soleConsumer(out);
    const c = add && !add.domain && add.opType === 'Add' ? w.constant(add.inputs[0] === out ? add.inputs[1]! : add.inputs[0]!) : undefined;
    if (add && c && c.size === k.shape[1]) {
      bo = c;
      w.skip.add(add);
      out = add.outputs[0]!;
    }
  }
  // no out-projection after it: Keras' attention_output is the identity then
  const dout = Wo ? Wo.shape[1]! : D;
  const kernelOut = Wo ? new Tensor('float32', [H, hd, dout], Wo.toFloat32()) : new Tensor('float32', [H, hd, D], Float32Array.from({ length: D * D }, (_, i) => (Math.floor(i / D) === i % D ? 1 : 0)));
  const bias = b?.toFloat32() ?? new Float32Array(3 * D);
  const part = (i: number) => [
    { role: `${['query', 'key', 'value'][i]}/kernel`, tensor: new Tensor('float32', [din, H, hd], columns(W, i * D, D)) },
    { role: `${['query', 'key', 'value'][i]}/bias`, tensor: new Tensor('float32', [H, hd], bias.slice(i * D, (i + 1) * D)) },
  ];
  const weights = [...part(0), ...part(1), ...part(2), { role: 'attention_output/kernel', tensor: kernelOut }, { role: 'attention_output/bias', tensor: new Tensor('float32', [dout], bo ? bo.toFloat32() : new Float32Array(dout)) }];
  const shape: KShape = [null, x.shape[1] ?? null, dout];
  // tf.keras 2 builds the layer from these in from_config; Keras 3 takes no such arguments (its build_config has them)
  const shapes = w.options.keras3 ? {} : { query_shape: x.shape, value_shape: x.shape, key_shape: x.shape };
  const config = { num_heads: H, key_dim: hd, value_dim: hd, dropout: 0, use_bias: true, output_shape: dout === D ? null : dout, attention_axes: null, ...shapes };
  const y = w.add('MultiHeadAttention', n.name || n.outputs[0]!, config as never, [x], shape, weights);
  const layer = w.layers[w.layers.length - 1]!;
  layer.kwargs = { value: x.ref };
  if (out !== n.outputs[0]) w.values.set(out, y);
  return [y];
}
