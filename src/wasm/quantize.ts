// Affine quantization on the SIMD kernels (assembly/kernels/quantize.ts):
//   q = clamp(round(x / scale) + zeroPoint, qmin, qmax),   x = (q - zeroPoint) * scale
// per tensor or per axis, int8 / uint8, with the rounding chosen by the caller: ONNX rounds half
// to even, TFLite half away from zero. int16/uint16 go through the scalar twin (rare, small).
import { QuantizationError, ShapeError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import type { NumericArray } from '../ir/dtypes.js';
import { kernels, type Kernels } from './loader.js';
import { RoundingMode } from './opcodes.js';
import { axisBlocks, copyOutInto, DEFAULT_CHUNK_BYTES, normAxis, splitAtAxis, stageIn, viewAt, wasmPointer, type ArrayCtor } from './kernel-io.js';
import { dequantizeScalar, quantizeScalar, roundHalfAway, roundHalfEven, type Rounding } from './scalar/quantize.js';

export type { Rounding } from './scalar/quantize.js';

/** Integer types a tensor can be quantized to. */
export type QuantDType = 'int8' | 'uint8' | 'int16' | 'uint16';

export interface QuantizeOptions {
  dtype: QuantDType;
  /** 'half-even' (ONNX QuantizeLinear) or 'half-away' (TFLite). No default: say which. */
  rounding: Rounding;
  /** Clamp to [-(2^(b-1) - 1), 2^(b-1) - 1] for signed types, e.g. [-127, 127] (TFLite weights). */
  narrowRange?: boolean;
  /** Largest input, in bytes, moved into WASM memory at once; larger tensors go in chunks. */
  chunkBytes?: number;
  /** Write here instead of a new array (may be a view into WASM memory). */
  out?: NumericArray;
}

export interface DequantizeOptions {
  chunkBytes?: number;
  out?: Float32Array;
}

const CTORS: Record<QuantDType, ArrayCtor> = {
  int8: Int8Array as unknown as ArrayCtor,
  uint8: Uint8Array as unknown as ArrayCtor,
  int16: Int16Array as unknown as ArrayCtor,
  uint16: Uint16Array as unknown as ArrayCtor,
};

/** [qmin, qmax] of a quantized type. */
export function quantRange(dtype: QuantDType, narrowRange = false): [number, number] {
  switch (dtype) {
    case 'int8':
      return [narrowRange ? -127 : -128, 127];
    case 'uint8':
      return [narrowRange ? 1 : 0, 255];
    case 'int16':
      return [narrowRange ? -32767 : -32768, 32767];
    case 'uint16':
      return [narrowRange ? 1 : 0, 65535];
  }
}

function isQuantDType(d: string): d is QuantDType {
  return d in CTORS;
}

function checkParams(scales: ArrayLike<number>, zps: ArrayLike<number>, qmin: number, qmax: number, what: string): void {
  for (let i = 0; i < scales.length; i++) {
    const s = Math.fround(scales[i]!);
    if (!(s > 0) || !Number.isFinite(s)) throw new QuantizationError(`${what}: scale must be positive and finite, got ${scales[i]}`);
    const z = zps[i]!;
    if (!Number.isInteger(z) || z < qmin || z > qmax) throw new QuantizationError(`${what}: zero point ${z} is not an integer in [${qmin}, ${qmax}]`);
  }
}

function float32Data(x: Tensor | Float32Array, what: string): Float32Array {
  if (x instanceof Float32Array) return x;
  if (x.dtype !== 'float32') throw new ShapeError(`${what}: expected a float32 tensor, got ${x.dtype}`);
  return x.data as Float32Array;
}

// (outer, channels, inner) with `channels` scales/zero points; per-tensor is channels = 1.
function quantizeCore(
  data: Float32Array,
  outer: number,
  channels: number,
  inner: number,
  scales: ArrayLike<number>,
  zps: ArrayLike<number>,
  opts: QuantizeOptions,
  what: string,
): NumericArray {
  const [qmin, qmax] = quantRange(opts.dtype, opts.narrowRange);
  if (opts.rounding !== 'half-even' && opts.rounding !== 'half-away') throw new QuantizationError(`${what}: rounding must be 'half-even' or 'half-away'`);
  checkParams(scales, zps, qmin, qmax, what);
  const n = data.length;
  const ctor = CTORS[opts.dtype];
  const out = opts.out;
  if (out && (out.length !== n || out.constructor !== ctor)) throw new ShapeError(`${what}: 'out' must be a ${ctor.name} of ${n} elements`);
  if (opts.dtype === 'int16' || opts.dtype === 'uint16') {
    const dst = (out ?? new ctor(n)) as Int16Array;
    quantizeScalar(data, dst, outer, channels, inner, scales, zps, qmin, qmax, opts.rounding);
    return dst;
  }
  if (n === 0) return out ?? new ctor(0);
  const k: Kernels = kernels();
  const perAxis = k.exports.quantizePerAxis;
  const mode = opts.rounding === 'half-even' ? RoundingMode.HalfEven : RoundingMode.HalfAway;
  const unsigned = opts.dtype === 'uint8' ? 1 : 0;
  const inPtr = wasmPointer(k, data);
  const outPtr = out ? wasmPointer(k, out) : undefined;
  const result = outPtr === undefined ? (out ?? new ctor(n)) : undefined;
  const maxElems = inPtr !== undefined ? n : Math.max(16, Math.floor((opts.chunkBytes ?? DEFAULT_CHUNK_BYTES) / 4));
  const mark = k.arena.mark();
  try {
    const ps = k.arena.alloc(channels * 4);
    const pz = k.arena.alloc(channels * 4);
    k.arena.f32(ps, channels).set(scales);
    k.arena.i32(pz, channels).set(zps);
    const m2 = k.arena.mark();
    for (const b of axisBlocks(outer, channels, inner, maxElems)) {
      const src = inPtr !== undefined ? inPtr + b.offset * 4 : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      const dst = outPtr !== undefined ? outPtr + b.offset : k.arena.alloc(b.count);
      perAxis(src, dst, b.outer, b.channels, b.inner, ps + b.c * 4, pz + b.c * 4, qmin, qmax, mode, unsigned);
      if (result) copyOutInto(k, result, b.offset, dst, b.count);
      k.arena.release(m2);
    }
  } finally {
    k.arena.release(mark);
  }
  return result ?? viewAt(k, ctor, outPtr!, n);
}

/** Quantize a float32 tensor with one scale and zero point. */
export function quantizePerTensor(x: Tensor | Float32Array, scale: number, zeroPoint: number, opts: QuantizeOptions): Tensor {
  const data = float32Data(x, 'quantizePerTensor');
  const shape = x instanceof Float32Array ? [x.length] : x.shape;
  return new Tensor(opts.dtype, shape, quantizeCore(data, 1, 1, data.length, [scale], [zeroPoint], opts, 'quantizePerTensor'));
}

/** Quantize a float32 tensor with one scale and zero point per index along `axis` (ONNX `axis`, negative allowed). */
export function quantizePerAxis(x: Tensor, axis: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>, opts: QuantizeOptions): Tensor {
  const data = float32Data(x, 'quantizePerAxis');
  const a = normAxis(axis, x.rank, 'quantizePerAxis');
  const [outer, channels, inner] = splitAtAxis(x.shape, a);
  if (scales.length !== channels || zeroPoints.length !== channels) {
    throw new ShapeError(`quantizePerAxis: axis ${axis} has ${channels} channels but got ${scales.length} scales and ${zeroPoints.length} zero points`);
  }
  return new Tensor(opts.dtype, x.shape, quantizeCore(data, outer, channels, inner, scales, zeroPoints, opts, 'quantizePerAxis'));
}

function dequantizeCore(q: Tensor, outer: number, channels: number, inner: number, scales: ArrayLike<number>, zps: ArrayLike<number>, opts: DequantizeOptions, what: string): Float32Array {
  const n = q.size;
  const out = opts.out;
  if (out && out.length !== n) throw new ShapeError(`${what}: 'out' must be a Float32Array of ${n} elements`);
  if (q.dtype !== 'int8' && q.dtype !== 'uint8') {
    if (!isQuantDType(q.dtype) && q.dtype !== 'int32') throw new ShapeError(`${what}: cannot dequantize ${q.dtype}`);
    const dst = out ?? new Float32Array(n);
    dequantizeScalar(q.data as Int32Array, dst, outer, channels, inner, scales, zps);
    return dst;
  }
  const [qmin, qmax] = quantRange(q.dtype);
  checkParams(scales, zps, qmin, qmax, what);
  if (n === 0) return out ?? new Float32Array(0);
  const data = q.data as Int8Array | Uint8Array;
  const k = kernels();
  const fn = k.exports.dequantizePerAxis;
  const unsigned = q.dtype === 'uint8' ? 1 : 0;
  const inPtr = wasmPointer(k, data);
  const outPtr = out ? wasmPointer(k, out) : undefined;
  const result = outPtr === undefined ? (out ?? new Float32Array(n)) : undefined;
  const maxElems = inPtr !== undefined ? n : Math.max(16, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const mark = k.arena.mark();
  try {
    const ps = k.arena.alloc(channels * 4);
    const pz = k.arena.alloc(channels * 4);
    k.arena.f32(ps, channels).set(scales);
    k.arena.i32(pz, channels).set(zps);
    const m2 = k.arena.mark();
    for (const b of axisBlocks(outer, channels, inner, maxElems)) {
      const src = inPtr !== undefined ? inPtr + b.offset : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      const dst = outPtr !== undefined ? outPtr + b.offset * 4 : k.arena.alloc(b.count * 4);
      fn(src, dst, b.outer, b.channels, b.inner, ps + b.c * 4, pz + b.c * 4, unsigned);
      if (result) copyOutInto(k, result, b.offset, dst, b.count);
      k.arena.release(m2);
    }
  } finally {
    k.arena.release(mark);
  }
  return result ?? viewAt(k, Float32Array as unknown as ArrayCtor<Float32Array>, outPtr!, n);
}

/** float32 (q - zeroPoint) * scale of an int8/uint8 (or int16/uint16/int32) tensor. */
export function dequantizePerTensor(q: Tensor, scale: number, zeroPoint = 0, opts: DequantizeOptions = {}): Tensor {
  return new Tensor('float32', q.shape, dequantizeCore(q, 1, 1, q.size, [scale], [zeroPoint], opts, 'dequantizePerTensor'));
}

/** Per-axis dequantization (`axis` may be negative). */
export function dequantizePerAxis(q: Tensor, axis: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>, opts: DequantizeOptions = {}): Tensor {
  const a = normAxis(axis, q.rank, 'dequantizePerAxis');
  const [outer, channels, inner] = splitAtAxis(q.shape, a);
  if (scales.length !== channels || zeroPoints.length !== channels) {
    throw new ShapeError(`dequantizePerAxis: axis ${axis} has ${channels} channels but got ${scales.length} scales and ${zeroPoints.length} zero points`);
  }
  return new Tensor('float32', q.shape, dequantizeCore(q, outer, channels, inner, scales, zeroPoints, opts, 'dequantizePerAxis'));
}

/**
 * int32 bias for a quantized conv / dense layer: scale = inputScale * weightScale (per output
 * channel when weightScales has one entry per bias element; one scale when it has one: TFLite's
 * per-tensor kernels read a bias's single legacy scale, 0 for a per-channel one, and
 * FULLY_CONNECTED refuses to initialize where |scale_x·scale_w − scale_bias| / scale_y > 0.02),
 * zero point 0, saturated to int32.
 */
export function quantizeBias(bias: Tensor | Float32Array, inputScale: number, weightScales: number | ArrayLike<number>, rounding: Rounding): { q: Tensor; scales: Float32Array } {
  const data = float32Data(bias, 'quantizeBias');
  const n = data.length;
  const ws = typeof weightScales === 'number' ? [weightScales] : weightScales;
  if (ws.length !== 1 && ws.length !== n) throw new ShapeError(`quantizeBias: ${n} biases but ${ws.length} weight scales`);
  const one = ws.length === 1;
  const scales = new Float32Array(one ? 1 : n);
  const out = new Int32Array(n);
  const round = rounding === 'half-even' ? roundHalfEven : roundHalfAway;
  for (let i = 0; i < n; i++) {
    const s = Math.fround(Math.fround(inputScale) * Math.fround(one ? ws[0]! : ws[i]!));
    if (!(s > 0) || !Number.isFinite(s)) throw new QuantizationError(`quantizeBias: scale ${s} for bias ${i} is not positive and finite`);
    scales[one ? 0 : i] = s;
    const r = round(Math.fround(data[i]! / s));
    out[i] = Number.isNaN(r) ? 0 : Math.min(Math.max(r, -2147483648), 2147483647);
  }
  const shape = bias instanceof Float32Array ? [n] : bias.shape;
  return { q: new Tensor('int32', shape, out), scales };
}

export interface RangeOptions {
  dtype: QuantDType;
  /** Zero point at the middle of the type (0 for signed, 128 for uint8) and range ±max(|min|, |max|). */
  symmetric?: boolean;
  /** Use [-127, 127] for int8 (TFLite weights); see quantRange. */
  narrowRange?: boolean;
  /** Rounding of the zero point (default half-even). */
  rounding?: Rounding;
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/**
 * Scale and zero point covering [min, max]. The range is first widened to include 0 so that 0 is
 * exactly representable (zero padding, ReLU), then, asymmetric: scale = (max - min) / (qmax - qmin),
 * zeroPoint = round(qmin - min / scale) clamped to [qmin, qmax] (TFLite's "nudging"); symmetric:
 * scale = max(|min|, |max|) / ((qmax - qmin) / 2). An empty range gives scale 1.
 * Arithmetic is float32, as TFLite and onnxruntime do it.
 */
export function scaleZeroPointFromMinMax(min: number, max: number, opts: RangeOptions): QuantParams {
  if (Number.isNaN(min) || Number.isNaN(max)) throw new QuantizationError(`range [${min}, ${max}] contains NaN`);
  if (min > max && !(min === Infinity && max === -Infinity)) throw new QuantizationError(`range min ${min} > max ${max}`);
  const f = Math.fround;
  const lo = f(Math.min(min, 0));
  const hi = f(Math.max(max, 0));
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new QuantizationError(`range [${min}, ${max}] is not finite`);
  const [qmin, qmax] = quantRange(opts.dtype, opts.narrowRange);
  const round = opts.rounding === 'half-away' ? roundHalfAway : roundHalfEven;
  if (opts.symmetric) {
    const absMax = f(Math.max(-lo, hi));
    const scale = f(absMax / f((qmax - qmin) / 2));
    const zeroPoint = opts.dtype === 'uint8' || opts.dtype === 'uint16' ? (qmax + qmin + 1) / 2 : 0;
    return { scale: scale > 0 ? scale : 1, zeroPoint: Math.floor(zeroPoint) };
  }
  const scale = f(f(hi - lo) / (qmax - qmin));
  if (!(scale > 0)) return { scale: 1, zeroPoint: opts.dtype === 'int8' || opts.dtype === 'int16' ? 0 : qmin };
  const z = f(qmin - f(lo / scale));
  const zeroPoint = z <= qmin ? qmin : z >= qmax ? qmax : round(z);
  return { scale, zeroPoint };
}

/** scaleZeroPointFromMinMax per channel. */
export function scalesZeroPointsFromMinMax(mins: ArrayLike<number>, maxs: ArrayLike<number>, opts: RangeOptions): { scales: Float32Array; zeroPoints: Int32Array } {
  if (mins.length !== maxs.length) throw new ShapeError(`${mins.length} minima but ${maxs.length} maxima`);
  const scales = new Float32Array(mins.length);
  const zeroPoints = new Int32Array(mins.length);
  for (let i = 0; i < mins.length; i++) {
    const p = scaleZeroPointFromMinMax(mins[i]!, maxs[i]!, opts);
    scales[i] = p.scale;
    zeroPoints[i] = p.zeroPoint;
  }
  return { scales, zeroPoints };
}
