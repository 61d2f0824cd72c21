// TFLite's int8 data-movement kernels copy bytes: RESHAPE, SQUEEZE, TRANSPOSE, GATHER, SLICE, the
// pools, ... whose output tensor carries other quantization parameters than its input do not
// requantize (the output's parameters only say how the same bytes read), and EXPAND_DIMS,
// CONCATENATION, PACK and UNPACK refuse such tensors (measured with the interpreter:
// test/formats/tflite/int8-copy-ops.test.ts). A QDQ graph's DequantizeLinear -> Reshape ->
// QuantizeLinear with two sets of parameters requantizes. The writer therefore gives such an op's
// output the input's parameters and adds a QUANTIZE (int8 -> int8: TFLite's requantize) to the
// output's; CONCATENATION / PACK / MAXIMUM / MINIMUM inputs on other parameters than the output are requantized first
// (a constant one in place, also one quantized per axis, which these kernels would read with the output's one scale).
import type { BuiltinOperator as Op } from '../generated/tflite/builtin-operator.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { dequantizeValue, quantizeValue } from '../../wasm/scalar/quantize.js';
import type { TfliteQuantParams, WOp, WTensor } from './write.js';

/** Ops that move 8-bit bytes from their data input (its index) to every output without requantizing. */
const COPIES = new Map<Op, number>([
  [BuiltinOperator.RESHAPE, 0],
  [BuiltinOperator.SQUEEZE, 0],
  [BuiltinOperator.EXPAND_DIMS, 0],
  [BuiltinOperator.TRANSPOSE, 0],
  [BuiltinOperator.GATHER, 0],
  [BuiltinOperator.GATHER_ND, 0],
  [BuiltinOperator.SLICE, 0],
  [BuiltinOperator.STRIDED_SLICE, 0],
  [BuiltinOperator.TILE, 0],
  [BuiltinOperator.BROADCAST_TO, 0],
  [BuiltinOperator.REVERSE_V2, 0],
  [BuiltinOperator.DEPTH_TO_SPACE, 0],
  [BuiltinOperator.SPACE_TO_DEPTH, 0],
  [BuiltinOperator.BATCH_TO_SPACE_ND, 0],
  [BuiltinOperator.SPACE_TO_BATCH_ND, 0],
  [BuiltinOperator.SPLIT, 1],
  [BuiltinOperator.SPLIT_V, 0],
  [BuiltinOperator.UNPACK, 0],
  [BuiltinOperator.MIRROR_PAD, 0],
  [BuiltinOperator.PAD, 0],
  [BuiltinOperator.MAX_POOL_2D, 0],
  [BuiltinOperator.AVERAGE_POOL_2D, 0],
  [BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, 0],
]);

/**
 * Inputs that must each carry the output's parameters. MAXIMUM / MINIMUM pick an input byte and read it with
 * the output's parameters (a QDQ Max quantized otherwise than its inputs was 87 output steps off onnxruntime:
 * int8-max-min-params.test.ts): their inputs are requantized to the output's first, which commutes with the
 * max / min (both monotone).
 */
const SAME_AS_OUTPUT = new Set<Op>([BuiltinOperator.CONCATENATION, BuiltinOperator.PACK, BuiltinOperator.MAXIMUM, BuiltinOperator.MINIMUM]);

/**
 * Both 8-bit quantized tensors of one type, on different parameters; per tensor both, except that with
 * `constants` `a` may be a constant quantized per axis (its codes can be requantized to one scale in place).
 */
function differ(a: WTensor | undefined, b: WTensor | undefined, constants = false): boolean {
  const one = (q: TfliteQuantParams | undefined) => !!q && q.scale.length === 1 && q.axis === undefined;
  if (!a || !b || (a.data && !constants) || a.dtype !== b.dtype || (a.dtype !== 'int8' && a.dtype !== 'uint8') || !a.quant || !one(b.quant)) return false;
  if (!one(a.quant)) return !!a.data;
  return a.quant.scale[0] !== b.quant!.scale[0] || a.quant.zeroPoint[0] !== b.quant!.zeroPoint[0];
}

/**
 * A constant's codes on other (per-tensor) parameters: each value dequantized with its own scale and zero
 * point (its channel's, for a constant quantized per axis) and quantized again in float32, ties to even, as a
 * QDQ graph's DequantizeLinear -> QuantizeLinear computes them (for MAXIMUM / MINIMUM the requantized
 * constant wins exactly where the dequantized one did: the quantization is monotone).
 */
function requantizedConstant(x: WTensor, q: TfliteQuantParams): Tensor {
  const { scale, zeroPoint, axis } = x.quant!;
  const dims = x.data!.shape;
  const inner = axis === undefined ? 1 : shapeSize(dims.slice(axis + 1));
  const channels = axis === undefined ? 1 : dims[axis]!;
  const [qmin, qmax] = x.dtype === 'int8' ? [-128, 127] : [0, 255];
  const codes = x.data!.toNumbers().map((v, i) => {
    const c = scale.length === 1 ? 0 : Math.floor(i / inner) % channels;
    return quantizeValue(dequantizeValue(v, scale[c]!, zeroPoint[c] ?? 0), q.scale[0]!, q.zeroPoint[0]!, qmin, qmax, 'half-even');
  });
  return new Tensor(x.dtype, x.shape, x.dtype === 'int8' ? Int8Array.from(codes) : Uint8Array.from(codes));
}

/** The ops with a QUANTIZE wherever a byte copy would otherwise change the values (in place). */
export function requantizeCopies(tensors: Map<string, WTensor>, ops: WOp[]): void {
  const fresh = (base: string): string => {
    let name = `${base}_requantized`;
    for (let i = 1; tensors.has(name); i++) name = `${base}_requantized_${i}`;
    return name;
  };
  /** A new constant holding `x`'s codes on `q` (requantizedConstant): its name. */
  const requantizedCopy = (x: WTensor, q: TfliteQuantParams): string => {
    const t = fresh(x.name);
    tensors.set(t, { ...x, name: t, quant: q, data: requantizedConstant(x, q) });
    return t;
  };
  const out: WOp[] = [];
  for (const op of ops) {
    if (SAME_AS_OUTPUT.has(op.code)) {
      const y = tensors.get(op.outputs[0]!);
      op.inputs = op.inputs.map((i) => {
        const x = i ? tensors.get(i) : undefined;
        if (!x || !y || !differ(x, y, true)) return i;
        if (x.data) return requantizedCopy(x, y.quant!);
        const t = fresh(x.name);
        tensors.set(t, { ...x, name: t, quant: y.quant, data: undefined });
        out.push({ code: BuiltinOperator.QUANTIZE, inputs: [x.name], outputs: [t] });
        return t;
      });
      out.push(op);
      continue;
    }
    const at = COPIES.get(op.code);
    const x = at === undefined ? undefined : tensors.get(op.inputs[at] ?? '');
    if (!x) {
      out.push(op);
      continue;
    }
    // a constant quantized per axis (an embedding table per row, GATHERed): its codes on the output's one scale
    const y0 = tensors.get(op.outputs[0] ?? '');
    if (x.data && x.quant && x.quant.scale.length > 1 && differ(x, y0, true)) {
      op.inputs[at!] = requantizedCopy(x, y0!.quant!);
      out.push(op);
      continue;
    }
    const after: WOp[] = [];
    op.outputs = op.outputs.map((o) => {
      const y = tensors.get(o);
      if (!differ(x, y)) return o;
      const t = fresh(o);
      tensors.set(t, { ...y!, name: t, quant: x.quant, signature: y!.signature });
      after.push({ code: BuiltinOperator.QUANTIZE, inputs: [t], outputs: [o] });
      return t;
    });
    out.push(op, ...after);
  }
  ops.splice(0, ops.length, ...out);
}
