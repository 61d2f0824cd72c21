// onnxruntime's quantized operators (its QOperator static format and its dynamic format) lowered
// to nnport's convention for quantization, ONNX QDQ, so the writers convert them:
//   QLinearConv(x, .., w, .., y_scale, y_zp, B)  ->  DQ(x) -> Conv(DQ(w), DQ(B)) -> Q
//   QLinearMatMul, com.microsoft QGemm / QLinearAdd / QLinearMul / QLinearConcat / QLinearSigmoid /
//   QLinearLeakyRelu / QLinearGlobalAveragePool / QLinearAveragePool the same way;
//   DynamicQuantizeLinear(x) -> ConvInteger / MatMulInteger(constant weights) -> Cast -> Mul by
//   x_scale * w_scale  ->  Conv / MatMul(x, DQ(w)): float activations, int8 weights.
// Each computes what it did up to float rounding (the 8-bit rounding of the output stays a
// QuantizeLinear; the dynamic form's rounding of the activation goes, as in a dynamic-range file).
// With `tfliteInt8`, uint8 tensors become int8 ones (q - 128, zero point - 128: the same values)
// and the parameters TFLite's int8 kernels insist on are met by an int8 -> int8 requantization
// (a QuantizeLinear -> DequantizeLinear pair, as quantize.ts writes one): LOGISTIC's output at
// 1/256 and -128, AVERAGE_POOL_2D's output and CONCATENATION's inputs on the grid of the other
// side. What cannot be lowered is an UnsupportedError naming the op.
import { UnsupportedError } from '../ir/errors.js';
import { attrInt, type Attr, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

const MS = 'com.microsoft';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** The ops this pass lowers, as 'domain::Op' keys ('' for ONNX). */
const LOWERED = new Set([
  'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger',
  ...['QLinearAdd', 'QLinearMul', 'QLinearConcat', 'QLinearSigmoid', 'QLinearLeakyRelu', 'QLinearGlobalAveragePool', 'QLinearAveragePool', 'QGemm'].map((o) => `${MS}::${o}`),
]);

const keyOf = (n: Node): string => (isOnnx(n) ? n.opType : `${n.domain}::${n.opType}`);

/** Whether a graph holds any of onnxruntime's quantized operators. */
export function hasQOperatorOps(graph: Graph): boolean {
  return graph.nodes.some((n) => LOWERED.has(keyOf(n)) || (n.domain === MS && n.opType.startsWith('Q')));
}

export interface QOperatorToQdqOptions {
  /** for TFLite's int8 kernels: uint8 as int8, and their fixed / shared output parameters */
  tfliteInt8?: boolean;
  /**
   * a Clip to each output's representable range before its QuantizeLinear, for a graph that will be
   * dequantized (--dequantize drops the QDQ pairs): onnxruntime's quantizer drops a Relu / Clip after
   * a quantized op and lets the output's range saturate instead
   */
  keepSaturation?: boolean;
  /** the file, for error messages */
  fileName?: string;
}

export interface QOperatorToQdqResult {
  graph: Graph;
  /** how many quantized operators were lowered */
  lowered: number;
  /** uint8 tensors made int8 */
  shifted: number;
}

export function qoperatorToQdq(graph: Graph, options: QOperatorToQdqOptions = {}): QOperatorToQdqResult {
  if (!hasQOperatorOps(graph)) return { graph, lowered: 0, shifted: 0 };
  const file = options.fileName ?? 'the model';
  const rw = new GraphRewriter(graph);
  const int = (value: number): Attr => ({ type: 'int', value });
  const pick = (n: Node, names: string[]): Record<string, Attr> => Object.fromEntries(names.filter((k) => n.attrs[k]).map((k) => [k, n.attrs[k]!]));
  const refuse = (n: Node, why: string): never => {
    throw new UnsupportedError(`${isOnnx(n) ? '' : `${n.domain}.`}${n.opType} ${why}`, `node '${n.name}' in ${file}`);
  };
  const constant = (n: Node, v: string | undefined, what: string): Tensor => {
    const t = v ? rw.constant(v) : undefined;
    if (!t) return refuse(n, `with a ${what} that is not a constant`);
    return t;
  };
  const dqCache = new Map<string, string>();
  /** DequantizeLinear(q, scale, zp) (zp '' when omitted), along `axis` when the parameters are per channel. */
  const dq = (n: Node, q: string, scale: string, zp: string | undefined, axis = 1): string => {
    const key = `${q}\0${scale}\0${zp ?? ''}\0${axis}`;
    let v = dqCache.get(key);
    if (!v) {
      const per = constant(n, scale, 'scale').size > 1 || (zp ? constant(n, zp, 'zero point').size > 1 : false);
      v = rw.add({ opType: 'DequantizeLinear', name: `${n.name || q}/dequantize_${q}`, inputs: zp ? [q, scale, zp] : [q, scale], attrs: per ? { axis: int(axis) } : {} });
      dqCache.set(key, v);
    }
    return v;
  };
  /** A weight's DequantizeLinear along `axis` of length `len`: a per-channel zero point beside a single scale (or the reverse) is expanded. */
  const dqWeight = (n: Node, q: string, scale: string, zp: string | undefined, axis: number): string => {
    const w = constant(n, q, 'weight');
    const s = constant(n, scale, 'weight scale');
    const z = zp ? constant(n, zp, 'weight zero point') : undefined;
    const len = w.shape[axis]!;
    if (s.size === 1 && (!z || z.size === 1)) return dq(n, q, scale, zp);
    for (const t of [s, z]) if (t && t.size !== 1 && (t.rank !== 1 || t.size !== len)) refuse(n, `with weight parameters of shape [${t.shape.join(', ')}] (not one per index of axis ${axis})`);
    const expand = (t: Tensor, base: string): string => (t.size === len ? base : rw.addInitializer(`${base}_per_channel`, new Tensor(t.dtype, [len], fill(t, len))));
    return dq(n, q, expand(s, scale), z ? expand(z, zp!) : undefined, axis);
  };
  /** An int32 bias as DequantizeLinear(b, scale = x_scale * w_scale), one scale per channel where w has them. */
  const dqBias = (n: Node, b: string, xScale: string, wScale: string): string => {
    const xs = constant(n, xScale, 'input scale').toNumbers()[0]!;
    const ws = constant(n, wScale, 'weight scale').toNumbers();
    const bt = constant(n, b, 'bias');
    if (bt.rank !== 1) return refuse(n, `with a bias of shape [${bt.shape.join(', ')}]`);
    const s = ws.map((w) => Math.fround(xs * w));
    const scale = rw.addInitializer(`${b}_scale`, Tensor.float32(s.length === 1 ? [] : [s.length], s));
    return rw.add({ opType: 'DequantizeLinear', name: `${n.name || b}/dequantize_bias`, inputs: [b, scale], attrs: s.length > 1 ? { axis: int(0) } : {} });
  };
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 13;
  /** QuantizeLinear of a float value into `out`. */
  const q = (n: Node, v: string, scale: string, zp: string | undefined, out: string): void => {
    if (options.keepSaturation) {
      const s = constant(n, scale, 'scale').toNumbers()[0]!;
      const z = zp ? constant(n, zp, 'zero point') : undefined;
      const [qlo, qhi] = z?.dtype === 'int8' ? [-128, 127] : [0, 255];
      const zv = z ? z.toNumbers()[0]! : 0;
      const [lo, hi] = [s * (qlo - zv), s * (qhi - zv)];
      // (Clip's bounds are attributes before opset 11)
      v = opset >= 11
        ? rw.add({ opType: 'Clip', name: `${n.name || out}/saturate`, inputs: [v, rw.addInitializer(`${out}_min`, Tensor.float32([], [lo])), rw.addInitializer(`${out}_max`, Tensor.float32([], [hi]))], attrs: {} })
        : rw.add({ opType: 'Clip', name: `${n.name || out}/saturate`, inputs: [v], attrs: { min: { type: 'float', value: lo }, max: { type: 'float', value: hi } } });
    }
    rw.addNode({ opType: 'QuantizeLinear', name: `${n.name || out}/quantize`, inputs: zp ? [v, scale, zp] : [v, scale], outputs: [out], attrs: {} });
  };
  const float = (n: Node, opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string => rw.add({ opType, name: `${n.name || opType}/float`, inputs, attrs });
  const tflite = !!options.tfliteInt8;
  const sameParams = (n: Node, s1: string, z1: string | undefined, s2: string, z2: string | undefined): boolean => {
    const nums = (v: string | undefined) => (v ? constant(n, v, 'quantization parameter').toNumbers().join() : '0');
    return nums(s1) === nums(s2) && nums(z1) === nums(z2);
  };
  /** A float value on the grid of (scale, zp): QuantizeLinear -> DequantizeLinear, an int8 -> int8 requantization in TFLite. */
  const onGrid = (n: Node, v: string, scale: string, zp: string | undefined): string => {
    const qv = rw.add({ opType: 'QuantizeLinear', name: `${n.name || v}/requantize`, inputs: zp ? [v, scale, zp] : [v, scale], attrs: {} });
    return rw.add({ opType: 'DequantizeLinear', name: `${n.name || v}/requantized`, inputs: zp ? [qv, scale, zp] : [qv, scale], attrs: {} });
  };
  let logistic: [string, string] | undefined;
  /** TFLite's int8 LOGISTIC output parameters, 1/256 and -128 (its kernel refuses others). */
  const logisticParams = (): [string, string] => (logistic ??= [rw.addInitializer('logistic_output_scale', Tensor.float32([], [1 / 256])), rw.addInitializer('logistic_output_zero_point', new Tensor('int8', [], Int8Array.of(-128)))]);

  let lowered = 0;
  for (const n0 of [...rw.nodes]) {
    const n = rw.latest(n0);
    const key = keyOf(n);
    if (!LOWERED.has(key)) {
      if (n.domain === MS) refuse(n, 'has no QDQ lowering in nnport');
      continue;
    }
    const i = n.inputs;
    const y = n.outputs[0]!;
    // its output is made anew below
    rw.removeNode(n);
    switch (key) {
      case 'QLinearConv': {
        const w = dqWeight(n, i[3]!, i[4]!, i[5], 0);
        const ins = [dq(n, i[0]!, i[1]!, i[2]), w, ...(i[8] ? [dqBias(n, i[8], i[1]!, i[4]!)] : [])];
        q(n, float(n, 'Conv', ins, pick(n, ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'])), i[6]!, i[7], y);
        break;
      }
      case 'QLinearMatMul': {
        // B a constant (a weight, per column), or an activation (per tensor)
        const b = rw.constant(i[3]!);
        if (constant(n, i[1], 'a_scale').size !== 1) refuse(n, 'with a per-row a_scale');
        q(n, float(n, 'MatMul', [dq(n, i[0]!, i[1]!, i[2]), b ? dqWeight(n, i[3]!, i[4]!, i[5], b.rank - 1) : dq(n, i[3]!, i[4]!, i[5])]), i[6]!, i[7], y);
        break;
      }
      case `${MS}::QGemm`: {
        const transB = attrInt(n, 'transB', 0);
        const alpha = n.attrs.alpha?.type === 'float' ? n.attrs.alpha.value : 1;
        // alpha * (A B + C) at a_scale * b_scale: Gemm(alpha, beta = alpha) with C at a_scale * b_scale
        const ins = [dq(n, i[0]!, i[1]!, i[2]), dqWeight(n, i[3]!, i[4]!, i[5], transB ? 0 : 1), ...(i[6] ? [dqBias(n, i[6], i[1]!, i[4]!)] : [])];
        const attrs: Record<string, Attr> = { ...pick(n, ['transA', 'transB', 'alpha']), ...(i[6] && alpha !== 1 ? { beta: { type: 'float', value: alpha } } : {}) };
        if (i[7]) q(n, float(n, 'Gemm', ins, attrs), i[7], i[8], y);
        else rw.addNode({ opType: 'Gemm', name: `${n.name || 'Gemm'}/float`, inputs: ins, outputs: [y], attrs });
        break;
      }
      case `${MS}::QLinearAdd`:
      case `${MS}::QLinearMul`:
        q(n, float(n, n.opType.slice('QLinear'.length), [dq(n, i[0]!, i[1]!, i[2]), dq(n, i[3]!, i[4]!, i[5])]), i[6]!, i[7], y);
        break;
      case `${MS}::QLinearConcat`: {
        const xs: string[] = [];
        for (let k = 2; k < i.length; k += 3) {
          const x = dq(n, i[k]!, i[k + 1]!, i[k + 2]);
          // TFLite's int8 CONCATENATION copies integers: each input on the output's grid
          xs.push(tflite && !sameParams(n, i[k + 1]!, i[k + 2], i[0]!, i[1]) ? onGrid(n, x, i[0]!, i[1]) : x);
        }
        q(n, float(n, 'Concat', xs, pick(n, ['axis'])), i[0]!, i[1], y);
        break;
      }
      case `${MS}::QLinearSigmoid`:
      case `${MS}::QLinearLeakyRelu`:
      case `${MS}::QLinearGlobalAveragePool`:
      case `${MS}::QLinearAveragePool`: {
        if (attrInt(n, 'channels_last', 0)) refuse(n, 'with channels_last');
        const attrs = pick(n, ['alpha', 'auto_pad', 'ceil_mode', 'count_include_pad', 'kernel_shape', 'pads', 'strides']);
        let v = float(n, n.opType.slice('QLinear'.length), [dq(n, i[0]!, i[1]!, i[2])], attrs);
        // TFLite's int8 LOGISTIC writes 1/256, -128; its int8 AVERAGE_POOL_2D the input's parameters
        if (tflite && n.opType === 'QLinearSigmoid') v = onGrid(n, v, ...logisticParams());
        if (tflite && n.opType === 'QLinearAveragePool' && !sameParams(n, i[1]!, i[2], i[3]!, i[4])) v = onGrid(n, v, i[1]!, i[2]);
        q(n, v, i[3]!, i[4], y);
        break;
      }
      case 'ConvInteger':
      case 'MatMulInteger':
        lowerDynamic(n);
        break;
    }
    lowered++;
  }

  /**
   * onnxruntime's dynamic form: DynamicQuantizeLinear(x) -> {Conv,MatMul}Integer(x_q, W_q, x_zp,
   * W_zp) -> Cast(float) -> Mul(·, Mul(x_scale, W_scale)) becomes {Conv,MatMul}(x, DQ(W_q)).
   */
  function lowerDynamic(n: Node): void {
    const conv = n.opType === 'ConvInteger';
    const why = 'outside onnxruntime\'s dynamic-quantization pattern (DynamicQuantizeLinear -> op -> Cast -> Mul by x_scale * w_scale)';
    const d = rw.producer(n.inputs[0]!);
    if (!d || d.opType !== 'DynamicQuantizeLinear' || !isOnnx(d) || (n.inputs[2] && n.inputs[2] !== d.outputs[2])) return refuse(n, why);
    const cast = rw.soleConsumer(n.outputs[0]!);
    if (!cast || cast.opType !== 'Cast' || attrInt(cast, 'to') !== 1) return refuse(n, why);
    const mul = rw.soleConsumer(cast.outputs[0]!);
    if (!mul || mul.opType !== 'Mul') return refuse(n, why);
    const scales = rw.producer(mul.inputs[mul.inputs[0] === cast.outputs[0] ? 1 : 0]!);
    if (!scales || scales.opType !== 'Mul' || !scales.inputs.includes(d.outputs[1]!)) return refuse(n, why);
    const wScale = scales.inputs[scales.inputs[0] === d.outputs[1] ? 1 : 0]!;
    const w = constant(n, n.inputs[1], 'weight');
    const axis = conv ? 0 : w.rank - 1;
    const wdq = dqWeight(n, n.inputs[1]!, wScale, n.inputs[3], axis);
    rw.removeNode(rw.latest(cast));
    rw.removeNode(rw.latest(mul));
    const attrs = conv ? pick(n, ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']) : {};
    rw.addNode({ opType: conv ? 'Conv' : 'MatMul', name: `${n.name || n.opType}/float`, inputs: [d.inputs[0]!, wdq], outputs: [mul.outputs[0]!], attrs });
  }

  rw.sweep();
  let g = rw.toGraph();
  let shifted = 0;
  if (options.tfliteInt8) ({ graph: g, shifted } = uint8AsInt8(g));
  return { graph: g, lowered, shifted };
}

/** `t`'s one value repeated `n` times, or its values. */
function fill(t: Tensor, n: number): Float32Array | Uint8Array | Int8Array | Int32Array {
  const v = t.toNumbers();
  const out = t.dtype === 'float32' ? new Float32Array(n) : t.dtype === 'uint8' ? new Uint8Array(n) : t.dtype === 'int8' ? new Int8Array(n) : new Int32Array(n);
  for (let k = 0; k < n; k++) out[k] = v[v.length === 1 ? 0 : k]!;
  return out;
}

/** Ops that move 8-bit values without reading them as numbers: uint8 through them may become int8. */
const MOVES = new Set(['MaxPool', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity', 'Slice', 'Split', 'Concat']);

/**
 * uint8 QDQ -> int8 QDQ with the same real values (q - 128, zero point - 128), when every uint8
 * value is a QuantizeLinear's output or a constant read by DequantizeLinear, reaches only
 * DequantizeLinear and data-moving ops, and is no graph input or output; otherwise unchanged.
 */
function uint8AsInt8(graph: Graph): { graph: Graph; shifted: number } {
  const rw = new GraphRewriter(graph);
  const zpOf = (n: Node): Tensor | undefined => (n.inputs[2] ? rw.constant(n.inputs[2]) : undefined);
  const qs = rw.nodes.filter((n) => n.opType === 'QuantizeLinear' && isOnnx(n) && zpOf(n)?.dtype === 'uint8');
  const dqs = rw.nodes.filter((n) => n.opType === 'DequantizeLinear' && isOnnx(n) && zpOf(n)?.dtype === 'uint8');
  if (!qs.length && !dqs.length) return { graph, shifted: 0 };
  // the uint8 values: QuantizeLinear outputs and what data-moving ops make of them
  const values = new Set<string>();
  const movers = new Set<Node>();
  const todo = qs.map((n) => n.outputs[0]!);
  while (todo.length) {
    const v = todo.pop()!;
    if (values.has(v)) continue;
    values.add(v);
    if (rw.isGraphOutput(v)) return { graph, shifted: 0 };
    for (const c of rw.consumers(v)) {
      if (c.opType === 'DequantizeLinear' && isOnnx(c) && c.inputs[0] === v) continue;
      if (!MOVES.has(c.opType) || !isOnnx(c) || c.inputs.slice(1).includes(v)) return { graph, shifted: 0 };
      movers.add(c);
      todo.push(...c.outputs.filter(Boolean));
    }
  }
  // every DequantizeLinear of uint8 reads one of them or a constant
  for (const d of dqs) if (!values.has(d.inputs[0]!) && !rw.constant(d.inputs[0]!)) return { graph, shifted: 0 };
  const int8Of = (t: Tensor): Tensor => new Tensor('int8', [...t.shape], Int8Array.from(t.data as Uint8Array, (x) => x - 128));
  const shiftedZp = new Map<string, string>();
  const zp = (name: string): string => {
    let v = shiftedZp.get(name);
    if (!v) {
      v = rw.addInitializer(`${name}_int8`, int8Of(rw.constant(name)!));
      shiftedZp.set(name, v);
    }
    return v;
  };
  let shifted = 0;
  for (const n of [...qs, ...dqs]) {
    const ins = [...n.inputs];
    ins[2] = zp(ins[2]!);
    const c = n.opType === 'DequantizeLinear' && !values.has(ins[0]!) ? rw.constant(ins[0]!) : undefined;
    if (c) {
      ins[0] = rw.addInitializer(`${ins[0]}_int8`, int8Of(c));
      shifted++;
    }
    rw.replaceNode(n, { inputs: ins });
  }
  shifted += values.size;
  for (const v of values) rw.dropValueInfo(v);
  rw.sweep();
  return { graph: rw.toGraph(), shifted };
}

const RELAYOUTS = new Set(['Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten']);

/**
 * DequantizeLinear(q) -> Reshape / Transpose / Squeeze / Unsqueeze / Flatten, read by something
 * other than a QuantizeLinear, becomes the data movement on q then the DequantizeLinear (per-tensor
 * parameters: the same values). The layout pass re-lays a value where its reader wants it; in a QDQ
 * graph (a quantized model read, lowered by qoperatorToQdq) that value is a dequantized one, and the
 * float reshape it adds would cut the reader out of its quantized island.
 */
export function dequantizeAfterMoves(graph: Graph): { graph: Graph; moved: number } {
  const rw = new GraphRewriter(graph);
  let moved = 0;
  for (const n0 of graph.nodes) {
    const n = rw.latest(n0);
    if (!RELAYOUTS.has(n.opType) || !isOnnx(n) || !n.inputs[0]) continue;
    const d = rw.producer(n.inputs[0]);
    if (!d || d.opType !== 'DequantizeLinear' || !isOnnx(d) || rw.constant(d.inputs[0]!) || rw.isGraphOutput(d.outputs[0]!)) continue;
    if (rw.constant(d.inputs[1] ?? '')?.size !== 1 || (d.inputs[2] && rw.constant(d.inputs[2])?.size !== 1)) continue;
    const out = n.outputs[0]!;
    if (rw.consumers(out).some((c) => c.opType === 'QuantizeLinear')) continue;
    const q = rw.add({ opType: n.opType, name: `${n.name || out}/quantized`, inputs: [d.inputs[0]!, ...n.inputs.slice(1)], attrs: n.attrs });
    rw.removeNode(n);
    rw.addNode({ opType: 'DequantizeLinear', name: `${n.name || out}/dequantize`, inputs: [q, ...d.inputs.slice(1)], outputs: [out], attrs: d.attrs });
    moved++;
  }
  if (!moved) return { graph, moved };
  rw.sweep();
  return { graph: rw.toGraph(), moved };
}
