// The whole-tensor work passes need (layout permutations, float casts, quantization, calibration
// statistics), as an interface: passes call it and never the WASM kernels, so that the same pass
// runs on the inline WASM kernels (src/wasm/tensor-kernels.ts) or spread over a worker pool.
// Every method is asynchronous (a worker round-trip); inputs are read, never changed.
import type { Tensor } from './tensor.js';

export type QuantizedDType = 'int8' | 'uint8' | 'int16' | 'uint16';

export interface QuantizeSpec {
  dtype: QuantizedDType;
  /** 'half-even' (ONNX QuantizeLinear) or 'half-away' (TFLite). No default: say which. */
  rounding: 'half-even' | 'half-away';
  /** signed: clamp to [-(2^(b-1) - 1), 2^(b-1) - 1], e.g. [-127, 127] (TFLite weights); unsigned: from 1 */
  narrowRange?: boolean;
}

export interface TensorKernels {
  /** `t` with its axes permuted: output axis i is input axis perm[i] (numpy.transpose); any dtype. */
  permute(t: Tensor, perm: readonly number[]): Promise<Tensor>;
  /** A float32 / float16 / bfloat16 tensor as another of the three (round to nearest even). */
  castFloat(t: Tensor, dtype: 'float32' | 'float16' | 'bfloat16'): Promise<Tensor>;
  /** q = clamp(round(x / scale) + zeroPoint, qmin, qmax) of a float32 tensor. */
  quantizePerTensor(x: Tensor, scale: number, zeroPoint: number, spec: QuantizeSpec): Promise<Tensor>;
  /** Per-axis quantization: one scale and zero point per index along `axis` (negative allowed). */
  quantizePerAxis(x: Tensor, axis: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>, spec: QuantizeSpec): Promise<Tensor>;
  /** float32 (q - zeroPoint) * scale. */
  dequantizePerTensor(q: Tensor, scale: number, zeroPoint: number): Promise<Tensor>;
  dequantizePerAxis(q: Tensor, axis: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>): Promise<Tensor>;
  /** Smallest and largest value of a float32 tensor (NaN ignored; +inf / -inf when empty). */
  minMax(x: Tensor): Promise<{ min: number; max: number }>;
  /** minMax per index along `axis`. */
  minMaxPerAxis(x: Tensor, axis: number): Promise<{ min: Float32Array; max: Float32Array }>;
}
