// TensorFlow 1's eight-bit ops (the graph_transforms `quantize_nodes` output): quint8 tensors
// travel with their float range as two extra scalar tensors (min, max), QuantizedConv2D
// accumulates (x - zero_x)·(w - zero_w) in int32, RequantizationRange/Requantize bring the
// accumulator back to quint8 over the range it actually used, Dequantize returns to float.
//
// When every input is known while reading (a graph of Consts, as utensor's test graph), the
// value is computed with TensorFlow's own integer arithmetic (quantization_utils.h,
// quantized_conv_ops.cc), bit for bit. Otherwise the ops become ONNX QDQ: DequantizeLinear of
// the quint8 inputs, the float channels-last Conv (which equals the int32 accumulator times
// its scale), QuantizeLinear to the requantized range, DequantizeLinear back; the requantized
// value may then differ from TensorFlow's fixed-point rounding by one quantization step.
import type { Dim } from '../../ir/graph.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { conv } from './ops.js';
import { attr, NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

const U8_STEPS = 256;
const I32_LOWEST = -2147483648;
const I32_HIGHEST = 2147483647;
const f32 = Math.fround;

/** TensorFlow's FloatToQuantizedUnclamped<T>(input, min, max) for a type of `bits` bits. */
export function floatToQuantizedUnclamped(input: number, min: number, max: number, bits: number, lowest: number): number {
  if (min === max) return lowest;
  const steps = 2 ** bits;
  const range = (f32(max - min) * steps) / (steps - 1);
  const scale = steps / range;
  return roundHalfAway(f32(input) * scale) - roundHalfAway(min * scale) + lowest;
}

/** TensorFlow's QuantizedToFloat<T> (the scalar, double-precision path). */
export function quantizedToFloat(q: number, min: number, max: number, bits: number, lowest: number): number {
  if (min === max) return min;
  const steps = 2 ** bits;
  const range = (f32(max - min) * steps) / (steps - 1);
  const scale = range / steps;
  const scaleF = f32(scale);
  const minRounded = roundHalfAway(f32(min / scaleF)) * scaleF;
  return f32(minRounded + (q - lowest) * scale);
}

/** C's round(): halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** (min, max) of the int32 result of multiplying two quint8 ranges (QuantizationRangeForMultiplication). */
export function multiplicationRange(minA: number, maxA: number, minB: number, maxB: number): [number, number] {
  const a = f32(f32(maxA - minA) / 255);
  const b = f32(f32(maxB - minB) / 255);
  const c = f32(a * b);
  return [f32(c * I32_LOWEST), f32(c * I32_HIGHEST)];
}

/** QuantizedConv2D's int32 accumulators (ReferenceConvFunctor / Im2ColConvFunctor: same numbers). */
export function quantizedConv2d(x: Tensor, w: Tensor, offsetX: number, offsetW: number, stride: number, padding: 'SAME' | 'VALID'): Int32Array {
  const [n, h, wd, cin] = x.shape as number[];
  const [kh, kw, , cout] = w.shape as number[];
  const [oh, ow] = [outSize(h!, kh!, stride, padding), outSize(wd!, kw!, stride, padding)];
  // one formula for both paddings (quantized_conv_ops.cc); C++ integer division truncates
  const top = Math.trunc(((oh - 1) * stride + kh! - h!) / 2);
  const left = Math.trunc(((ow - 1) * stride + kw! - wd!) / 2);
  const xs = x.data as Uint8Array;
  const ws = w.data as Uint8Array;
  const out = new Int32Array(n! * oh * ow * cout!);
  let o = 0;
  for (let b = 0; b < n!; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let oc = 0; oc < cout!; oc++) {
          let total = 0;
          for (let fy = 0; fy < kh!; fy++) {
            const iy = oy * stride - top + fy;
            for (let fx = 0; fx < kw!; fx++) {
              const ix = ox * stride - left + fx;
              const inside = iy >= 0 && iy < h! && ix >= 0 && ix < wd!;
              for (let ic = 0; ic < cin!; ic++) {
                // outside the image the input reads as its zero point: it adds nothing
                const xv = inside ? xs[((b * h! + iy) * wd! + ix) * cin! + ic]! - offsetX : 0;
                const wv = ws[((fy * kw! + fx) * cin! + ic) * cout! + oc]! - offsetW;
                total = (total + xv * wv) | 0;
              }
            }
          }
          out[o++] = total;
        }
      }
    }
  }
  return out;
}

function outSize(input: number, kernel: number, stride: number, padding: 'SAME' | 'VALID'): number {
  return padding === 'SAME' ? Math.ceil(input / stride) : Math.ceil((input - kernel + 1) / stride);
}

/** RequantizeManyInNewRange<qint32, quint8>: TensorFlow's fixed-point path, in exact 64-bit integers. */
export function requantizeInt32ToUint8(acc: Int32Array, minIn: number, maxIn: number, minOut: number, maxOut: number): Uint8Array {
  const inputRange = f32(maxIn - minIn);
  const outputRange = f32(maxOut - minOut);
  const recip = outputRange === 0 ? 0 : f32(255 / outputRange);
  const rezero = f32((f32(minIn + maxIn)) / 2);
  const rangeScaleFp = outputRange === 0 ? 0n : BigInt(Math.trunc((255 * 65536 * inputRange) / outputRange));
  const inputOffsetFp = BigInt(Math.trunc(f32(f32(rezero * recip) * 65536)));
  const outputOffsetFp = outputRange === 0 ? 0n : BigInt(Math.trunc((65536 * (minOut * 255)) / outputRange));
  const add = inputOffsetFp - outputOffsetFp + 32768n;
  const out = new Uint8Array(acc.length);
  for (let i = 0; i < acc.length; i++) {
    // BigInt >> is an arithmetic (flooring) shift, as int64 >> is on every platform TensorFlow runs
    const q = Number(((BigInt(acc[i]!) * rangeScaleFp) >> 32n) + add >> 16n);
    out[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  return out;
}

/** Dequantize MIN_FIRST of quint8 (QuantizedTensorToFloatInPlaceUsingEigen: float arithmetic). */
export function dequantizeMinFirst(q: Uint8Array, min: number, max: number): Float32Array {
  const out = new Float32Array(q.length);
  const scale = f32((max - min) / 255);
  const minRounded = max === min ? f32(min) : f32(roundHalfAway(f32(min / scale)) * scale);
  for (let i = 0; i < q.length; i++) out[i] = f32(minRounded + f32(q[i]! * scale));
  return out;
}

/** Dequantize MIN_COMBINED of quint8: q·(max − min)/255 + min. */
export function dequantizeMinCombined(q: Uint8Array, min: number, max: number): Float32Array {
  const out = new Float32Array(q.length);
  const scale = f32(f32(max - min) / 255);
  for (let i = 0; i < q.length; i++) out[i] = f32(f32(q[i]! * scale) + min);
  return out;
}

// ---- reading ----

const scalarOf = (c: NodeCtx, i: number, what: string): number | undefined => {
  const v = c.input(i).value;
  if (!v) return undefined;
  if (v.size !== 1) throw new FormatError(`${c.where()}: ${what} must be one value, has shape [${v.shape.join(', ')}]`, { file: c.file });
  return v.toNumbers()[0]!;
};

const constScalar = (c: NodeCtx, i: number, what: string): number => {
  const v = scalarOf(c, i, what);
  if (v === undefined) throw new UnsupportedError(`a computed ${what}`, `${c.where()} in '${c.file}' (the quantized range must be known while reading)`);
  return v;
};

const floatScalar = (c: NodeCtx, x: number, name: string): TfValue => ({ name: '', dtype: 'float32', shape: [], value: Tensor.float32([], [x]), constName: `${c.name}/${name}` });

function requireQuint8(c: NodeCtx, attrName: string): void {
  const t = c.def.attr?.[attrName]?.type;
  if (t !== undefined && t !== null && t !== 12) {
    throw new UnsupportedError(`${c.op} with ${attrName} other than quint8`, `${c.where()} in '${c.file}'`);
  }
}

/** (scale, zero point) initializers of a quint8 MIN_FIRST range: x = (q − zp)·scale. */
function qparams(c: NodeCtx, min: number, max: number, what: string): [string, string] {
  const scale = f32((max - min) / 255);
  const zp = -roundHalfAway(f32(min / scale));
  if (!(scale > 0) || zp < 0 || zp > 255) {
    throw new UnsupportedError(`a quint8 range [${min}, ${max}] that does not hold 0`, `${what} of ${c.where()} in '${c.file}'`);
  }
  return [c.constTensor(Tensor.float32([], [scale]), `${what}_scale`), c.constTensor(new Tensor('uint8', [], Uint8Array.of(zp)), `${what}_zero_point`)];
}

/** Scale and zero point computed in the graph from a range known only when it runs (RequantizationRange). */
function dynamicQparams(c: NodeCtx, min: TfValue, max: TfValue, what: string): [string, string] {
  const scale = c.tmp(`${what}_scale`);
  const range = c.tmp(`${what}_range`);
  c.emit('Sub', [c.use(max), c.use(min)], [range]);
  c.emit('Div', [range, c.constTensor(Tensor.float32([], [255]), `${what}_steps`)], [scale]);
  const ratio = c.tmp(`${what}_min_steps`);
  c.emit('Div', [c.use(min), scale], [ratio]);
  const rounded = c.tmp(`${what}_min_rounded`);
  c.emit('Round', [ratio], [rounded]);
  const neg = c.tmp(`${what}_zero_float`);
  c.emit('Neg', [rounded], [neg]);
  const clipped = c.tmp(`${what}_zero_clipped`);
  c.emit('Clip', [neg, c.constTensor(Tensor.float32([], [0]), `${what}_lo`), c.constTensor(Tensor.float32([], [255]), `${what}_hi`)], [clipped]);
  const zp = c.tmp(`${what}_zero_point`);
  c.emit('Cast', [clipped], [zp], { to: attr('int', 2) });
  return [scale, zp];
}

function qparamsOf(c: NodeCtx, minIdx: number, maxIdx: number, what: string): [string, string] {
  const min = scalarOf(c, minIdx, `${what} min`);
  const max = scalarOf(c, maxIdx, `${what} max`);
  if (min !== undefined && max !== undefined) return qparams(c, min, max, what);
  return dynamicQparams(c, c.input(minIdx), c.input(maxIdx), what);
}

/** The float value of a quint8 input through DequantizeLinear. */
function dequantizeInput(c: NodeCtx, i: number, minIdx: number, maxIdx: number, what: string): TfValue {
  const [scale, zp] = qparamsOf(c, minIdx, maxIdx, what);
  const out = c.tmp(`${what}_float`);
  c.emit('DequantizeLinear', [c.in(i), scale, zp], [out]);
  return { name: out, dtype: 'float32', shape: c.input(i).shape };
}

/**
 * A qint32 accumulator the reader keeps as its real value (float): `accumulator` marks it, so
 * that RequantizationRange and Requantize read it as such.
 */
interface AccumulatorValue extends TfValue {
  accumulator?: true;
}

function quantizedConv2D(c: NodeCtx): TfValue[] {
  requireQuint8(c, 'Tinput');
  requireQuint8(c, 'Tfilter');
  const outType = c.def.attr?.out_type?.type;
  if (outType !== undefined && outType !== null && outType !== 13) throw new UnsupportedError('QuantizedConv2D with out_type other than qint32', `${c.where()} in '${c.file}'`);
  const strides = c.attrs.ints('strides', [1, 1, 1, 1]);
  const dilations = c.attrs.ints('dilations', [1, 1, 1, 1]);
  if (strides.length !== 4 || strides[0] !== 1 || strides[3] !== 1 || strides[1] !== strides[2]) {
    throw new UnsupportedError(`QuantizedConv2D strides [${strides.join(', ')}] (TensorFlow runs only equal row and column strides)`, `${c.where()} in '${c.file}'`);
  }
  if (dilations.some((d) => d !== 1)) throw new UnsupportedError('dilated QuantizedConv2D', `${c.where()} in '${c.file}'`);
  const padding = c.attrs.string('padding');
  if (padding !== 'SAME' && padding !== 'VALID') throw new UnsupportedError(`QuantizedConv2D padding ${padding}`, `${c.where()} in '${c.file}'`);
  const ranges = [2, 3, 4, 5].map((i) => scalarOf(c, i, ['input min', 'input max', 'filter min', 'filter max'][i - 2]!));
  const x = c.input(0);
  const w = c.input(1);
  if (ranges.every((r) => r !== undefined) && x.value && w.value) {
    const [minX, maxX, minW, maxW] = ranges as number[];
    if (x.value.rank !== 4 || w.value.rank !== 4 || x.value.shape[3] !== w.value.shape[2]) {
      throw new FormatError(`${c.where()}: input [${x.value.shape.join(', ')}] and filter [${w.value.shape.join(', ')}] do not fit`, { file: c.file });
    }
    const offX = floatToQuantizedUnclamped(0, minX!, maxX!, 8, 0);
    const offW = floatToQuantizedUnclamped(0, minW!, maxW!, 8, 0);
    const acc = quantizedConv2d(x.value, w.value, offX, offW, strides[1]!, padding);
    const [n, h, wd] = x.value.shape as number[];
    const shape = [n!, outSize(h!, w.value.shape[0]!, strides[1]!, padding), outSize(wd!, w.value.shape[1]!, strides[1]!, padding), w.value.shape[3]!];
    const [minOut, maxOut] = multiplicationRange(minX!, maxX!, minW!, maxW!);
    return [c.constantValue(new Tensor('int32', shape, acc)), floatScalar(c, minOut, 'min_output'), floatScalar(c, maxOut, 'max_output')];
  }
  // in the graph: float conv of the dequantized operands = accumulator × (scale_x·scale_w)
  const xf = dequantizeInput(c, 0, 2, 3, 'input');
  const wf = dequantizeInput(c, 1, 4, 5, 'filter');
  const inner = new NodeCtx(c.cv, c.def, [xf, wf], c.attrs);
  const r = conv(inner, false, c.out());
  const minMax = ranges.every((v) => v !== undefined) ? multiplicationRange(ranges[0]!, ranges[1]!, ranges[2]!, ranges[3]!) : undefined;
  if (!minMax) throw new UnsupportedError('QuantizedConv2D with computed input ranges', `${c.where()} in '${c.file}'`);
  const acc: AccumulatorValue = { name: r.name, dtype: 'float32', shape: r.shape, accumulator: true };
  return [acc, floatScalar(c, minMax[0], 'min_output'), floatScalar(c, minMax[1], 'max_output')];
}

function requantizationRange(c: NodeCtx): TfValue[] {
  const acc = c.input(0) as AccumulatorValue;
  if (acc.value) {
    const min = constScalar(c, 1, 'input min');
    const max = constScalar(c, 2, 'input max');
    const data = acc.value.data as Int32Array;
    let lo = data.length ? data[0]! : 0;
    let hi = lo;
    for (const v of data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    // the range always holds 0, so that zero stays exactly representable
    const usedMin = Math.min(0, quantizedToFloat(lo, min, max, 32, I32_LOWEST));
    const usedMax = quantizedToFloat(hi, min, max, 32, I32_LOWEST);
    return [floatScalar(c, usedMin, 'output_min'), floatScalar(c, usedMax, 'output_max')];
  }
  if (!acc.accumulator) throw new UnsupportedError('RequantizationRange of a qint32 tensor that is not a QuantizedConv2D result', `${c.where()} in '${c.file}'`);
  const lo = c.tmp('used_min');
  const hi = c.out(1);
  c.emit('ReduceMin', [c.use(acc)], [lo], { keepdims: attr('int', 0) });
  c.emit('ReduceMax', [c.use(acc)], [hi], { keepdims: attr('int', 0) });
  const min = c.out(0);
  c.emit('Min', [lo, c.constTensor(Tensor.float32([], [0]), 'zero')], [min]);
  return [c.value(min, 'float32', []), c.value(hi, 'float32', [])];
}

function requantize(c: NodeCtx): TfValue[] {
  const outType = c.def.attr?.out_type?.type;
  if (outType !== undefined && outType !== null && outType !== 12) throw new UnsupportedError('Requantize to a type other than quint8', `${c.where()} in '${c.file}'`);
  const acc = c.input(0) as AccumulatorValue;
  const reqMin = c.input(3);
  const reqMax = c.input(4);
  if (acc.value && reqMin.value && reqMax.value) {
    const q = requantizeInt32ToUint8(acc.value.data as Int32Array, constScalar(c, 1, 'input min'), constScalar(c, 2, 'input max'), constScalar(c, 3, 'requested min'), constScalar(c, 4, 'requested max'));
    return [c.constantValue(new Tensor('uint8', [...acc.value.shape], q)), reqMin, reqMax];
  }
  if (!acc.accumulator) throw new UnsupportedError('Requantize of a qint32 tensor that is not a QuantizedConv2D result', `${c.where()} in '${c.file}'`);
  const [scale, zp] = qparamsOf(c, 3, 4, 'output');
  const out = c.out(0);
  c.emit('QuantizeLinear', [c.use(acc), scale, zp], [out]);
  return [c.value(out, 'uint8', acc.shape), reqMin, reqMax];
}

function dequantize(c: NodeCtx): TfValue[] {
  requireQuint8(c, 'T');
  const mode = c.attrs.string('mode', 'MIN_COMBINED');
  if (mode !== 'MIN_FIRST' && mode !== 'MIN_COMBINED') throw new UnsupportedError(`Dequantize mode ${mode}`, `${c.where()} in '${c.file}'`);
  if (c.attrs.has('axis') && c.attrs.int('axis', -1) !== -1) throw new UnsupportedError('per-channel Dequantize', `${c.where()} in '${c.file}'`);
  const x = c.input(0);
  const min = scalarOf(c, 1, 'min');
  const max = scalarOf(c, 2, 'max');
  if (x.value && min !== undefined && max !== undefined) {
    const q = x.value.data as Uint8Array;
    const f = mode === 'MIN_FIRST' ? dequantizeMinFirst(q, min, max) : dequantizeMinCombined(q, min, max);
    return [c.constantValue(new Tensor('float32', [...x.value.shape], f))];
  }
  const out = c.out();
  if (mode === 'MIN_FIRST') {
    const [scale, zp] = qparamsOf(c, 1, 2, 'input');
    c.emit('DequantizeLinear', [c.in(0), scale, zp], [out]);
  } else {
    // q·(max − min)/255 + min: a zero point that need not be an integer, so float arithmetic
    const step = c.tmp('step');
    const range = c.tmp('range');
    c.emit('Sub', [c.in(2), c.in(1)], [range]);
    c.emit('Div', [range, c.constTensor(Tensor.float32([], [255]), 'steps')], [step]);
    const qf = c.tmp('float');
    c.emit('Cast', [c.in(0)], [qf], { to: attr('int', 1) });
    const scaled = c.tmp('scaled');
    c.emit('Mul', [qf, step], [scaled]);
    c.emit('Add', [scaled, c.in(1)], [out]);
  }
  return [c.value(out, 'float32', x.shape)];
}

function quantizeV2(c: NodeCtx): TfValue[] {
  requireQuint8(c, 'T');
  const mode = c.attrs.string('mode', 'MIN_COMBINED');
  if (mode !== 'MIN_FIRST' && mode !== 'MIN_COMBINED') throw new UnsupportedError(`QuantizeV2 mode ${mode}`, `${c.where()} in '${c.file}'`);
  if (c.attrs.has('axis') && c.attrs.int('axis', -1) !== -1) throw new UnsupportedError('per-channel QuantizeV2', `${c.where()} in '${c.file}'`);
  const inMin = constScalar(c, 1, 'min_range');
  const inMax = constScalar(c, 2, 'max_range');
  // TensorFlow widens the range to hold 0 and to be at least ensure_minimum_range wide
  const eps = Math.max(1, Math.abs(inMin), Math.abs(inMax)) * c.attrs.float('ensure_minimum_range', 0.01);
  const min = f32(Math.min(0, inMin));
  const max = f32(Math.max(0, inMax, min + eps));
  const x = c.input(0);
  const scale = f32(255 / (max - min));
  if (x.value) {
    const xs = x.value.toFloat32();
    const q = new Uint8Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const v =
        mode === 'MIN_COMBINED'
          ? Math.floor(f32(f32(Math.min(max, Math.max(min, xs[i]!)) - min) * ((255 / (max - min)))) + 0.5)
          : roundHalfAway(f32(xs[i]! * scale)) - roundHalfAway(f32(min * scale));
      q[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return [c.constantValue(new Tensor('uint8', [...x.value.shape], q)), floatScalar(c, min, 'output_min'), floatScalar(c, max, 'output_max')];
  }
  const [s, zp] = qparams(c, min, max, 'output');
  const out = c.out(0);
  c.emit('QuantizeLinear', [c.in(0), s, zp], [out]);
  return [c.value(out, 'uint8', x.shape as Dim[] | undefined), floatScalar(c, min, 'output_min'), floatScalar(c, max, 'output_max')];
}

export const QUANTIZED_OPS: Record<string, OpConvert> = {
  QuantizeV2: quantizeV2,
  QuantizedConv2D: quantizedConv2D,
  RequantizationRange: requantizationRange,
  Requantize: requantize,
  Dequantize: dequantize,
};
