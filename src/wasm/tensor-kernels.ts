// TensorKernels (src/ir/tensor-kernels.ts) on this thread's WASM kernels: the default that the
// public API hands to passes; a worker pool implements the same interface.
import type { TensorKernels } from '../ir/tensor-kernels.js';
import { minMax, minMaxPerAxis } from './calibrate.js';
import { castFloat } from './half.js';
import { initKernels } from './loader.js';
import { permute } from './permute.js';
import { dequantizePerAxis, dequantizePerTensor, quantizePerAxis, quantizePerTensor } from './quantize.js';

export const inlineKernels: TensorKernels = {
  async permute(t, perm) {
    await initKernels();
    return permute(t, perm);
  },
  async castFloat(t, dtype) {
    await initKernels();
    return castFloat(t, dtype);
  },
  async quantizePerTensor(x, scale, zeroPoint, spec) {
    await initKernels();
    return quantizePerTensor(x, scale, zeroPoint, spec);
  },
  async quantizePerAxis(x, axis, scales, zeroPoints, spec) {
    await initKernels();
    return quantizePerAxis(x, axis, scales, zeroPoints, spec);
  },
  async dequantizePerTensor(q, scale, zeroPoint) {
    await initKernels();
    return dequantizePerTensor(q, scale, zeroPoint);
  },
  async dequantizePerAxis(q, axis, scales, zeroPoints) {
    await initKernels();
    return dequantizePerAxis(q, axis, scales, zeroPoints);
  },
  async minMax(x) {
    await initKernels();
    return minMax(x);
  },
  async minMaxPerAxis(x, axis) {
    await initKernels();
    return minMaxPerAxis(x, axis);
  },
};
