// Register and cache blocking of the packed GEMM (assembly/kernels/gemm.ts). The conv
// drivers pack their im2col panels in the same layout, so they share these numbers.
export const GEMM_MR: i32 = 4;
export const GEMM_NR: i32 = 8;
/** K block: an NR x KC panel of B (8 KiB) stays in L1 while every A panel passes over it. */
export const GEMM_KC: i32 = 256;
