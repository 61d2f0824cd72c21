// The exported ABI of the kernel module: re-exports only.
export { heapBase } from './util/memory';
export * from './kernels/gemm';
export * from './kernels/conv';
export * from './kernels/pool';
export * from './kernels/elementwise';
export * from './kernels/softmax';
export * from './kernels/permute';
export * from './kernels/quantize';
export * from './kernels/half';
export * from './kernels/calibrate';
