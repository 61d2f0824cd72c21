// Single-precision GEMM on packed panels: C[M,N] (+)= A[M,K] * B[K,N] (+ per-row bias).
//
// Packed layouts (all float32, 16-byte aligned by the caller):
//   A pack: panels of GEMM_MR rows, [ceil(M/MR)][K][MR]; rows past M are zero.
//   B pack: panels of GEMM_NR columns, [ceil(N/NR)][K][NR]; columns past N are zero.
// The micro-kernel keeps an MR x NR tile of C in v128 accumulators and walks K with one
// broadcast of A and NR/4 loads of B per row (no FMA in SIMD128: mul + add).
// Kernels never allocate: `scratch` (GEMM_SCRATCH_BYTES) is caller memory for edge tiles.

import { clamp1, clamp4 } from '../util/activation';
import { GEMM_KC, GEMM_MR, GEMM_NR } from '../util/gemm-blocking';

export function gemmMR(): i32 {
  return GEMM_MR;
}
export function gemmNR(): i32 {
  return GEMM_NR;
}
/** Bytes of scratch memory sgemmPacked / the conv drivers need. */
export function gemmScratchBytes(): i32 {
  return GEMM_MR * GEMM_NR * 4 + 3 * GEMM_NR * 4 + 64;
}

/** Pack A (element (m,k) at src + 4*(m*rs + k*cs)) scaled by alpha into MR-row panels. */
export function gemmPackA(src: usize, rs: i32, cs: i32, M: i32, K: i32, alpha: f32, dst: usize): void {
  const panels = (M + GEMM_MR - 1) / GEMM_MR;
  for (let p = 0; p < panels; p++) {
    const m0 = p * GEMM_MR;
    const rows = min(GEMM_MR, M - m0);
    let d = dst + (<usize>p * <usize>K * GEMM_MR << 2);
    for (let k = 0; k < K; k++) {
      for (let r = 0; r < GEMM_MR; r++) {
        let v: f32 = 0;
        if (r < rows) v = load<f32>(src + (<usize>((m0 + r) * rs + k * cs) << 2)) * alpha;
        store<f32>(d, v);
        d += 4;
      }
    }
  }
}

/** Pack B (element (k,n) at src + 4*(k*rs + n*cs)) into NR-column panels. */
export function gemmPackB(src: usize, rs: i32, cs: i32, K: i32, N: i32, dst: usize): void {
  const panels = (N + GEMM_NR - 1) / GEMM_NR;
  for (let p = 0; p < panels; p++) {
    const n0 = p * GEMM_NR;
    const cols = min(GEMM_NR, N - n0);
    let d = dst + (<usize>p * <usize>K * GEMM_NR << 2);
    if (cs == 1 && cols == GEMM_NR) {
      let s = src + (<usize>n0 << 2);
      const step = <usize>rs << 2;
      for (let k = 0; k < K; k++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += step;
        d += GEMM_NR << 2;
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (let t = 0; t < GEMM_NR; t++) {
          let v: f32 = 0;
          if (t < cols) v = load<f32>(src + (<usize>(k * rs + (n0 + t) * cs) << 2));
          store<f32>(d, v);
          d += 4;
        }
      }
    }
  }
}

// Store one accumulator row: out = clamp(acc (+ bias) (+ old out)).
// @ts-ignore: decorator
@inline
function storeRow(c: usize, a0: v128, a1: v128, bias: v128, accumulate: bool, lo: v128, hi: v128): void {
  let r0 = f32x4.add(a0, bias);
  let r1 = f32x4.add(a1, bias);
  if (accumulate) {
    r0 = f32x4.add(r0, v128.load(c));
    r1 = f32x4.add(r1, v128.load(c, 16));
  }
  v128.store(c, clamp4(r0, lo, hi));
  v128.store(c, clamp4(r1, lo, hi), 16);
}

/**
 * One MR x NR tile over kc steps of K. `c` is the tile's top-left in C (row stride ldc
 * floats); rows/cols < MR/NR go through `scratch`. `bias` is 0 or a pointer to MR floats.
 */
// @ts-ignore: decorator
@inline
function microKernel(a: usize, b: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, bias: usize, accumulate: bool, scratch: usize, lo: f32, hi: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let k = kc;
  // One k step per iteration: with two, V8 hoists both steps' loads to the top of the loop
  // and runs out of the 16 xmm registers, spilling half the accumulators (+25% measured).
  while (k > 0) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let a0 = v128.load32_splat(a);
    let a1 = v128.load32_splat(a, 4);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0));
    c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    c10 = f32x4.add(c10, f32x4.mul(a1, b0));
    c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    a0 = v128.load32_splat(a, 8);
    a1 = v128.load32_splat(a, 12);
    c20 = f32x4.add(c20, f32x4.mul(a0, b0));
    c21 = f32x4.add(c21, f32x4.mul(a0, b1));
    c30 = f32x4.add(c30, f32x4.mul(a1, b0));
    c31 = f32x4.add(c31, f32x4.mul(a1, b1));
    a += 16;
    b += 32;
    k--;
  }
  const zero = f32x4.splat(0);
  if (rows == GEMM_MR && cols == GEMM_NR) {
    const ldcb = <usize>ldc << 2;
    const lov = f32x4.splat(lo), hiv = f32x4.splat(hi);
    storeRow(c, c00, c01, bias ? v128.load32_splat(bias) : zero, accumulate, lov, hiv);
    storeRow(c + ldcb, c10, c11, bias ? v128.load32_splat(bias, 4) : zero, accumulate, lov, hiv);
    storeRow(c + 2 * ldcb, c20, c21, bias ? v128.load32_splat(bias, 8) : zero, accumulate, lov, hiv);
    storeRow(c + 3 * ldcb, c30, c31, bias ? v128.load32_splat(bias, 12) : zero, accumulate, lov, hiv);
    return;
  }
  v128.store(scratch, c00);
  v128.store(scratch, c01, 16);
  v128.store(scratch, c10, 32);
  v128.store(scratch, c11, 48);
  v128.store(scratch, c20, 64);
  v128.store(scratch, c21, 80);
  v128.store(scratch, c30, 96);
  v128.store(scratch, c31, 112);
  for (let r = 0; r < rows; r++) {
    const bv: f32 = bias ? load<f32>(bias + (<usize>r << 2)) : 0;
    const crow = c + (<usize>(r * ldc) << 2);
    for (let t = 0; t < cols; t++) {
      let v = load<f32>(scratch + (<usize>(r * GEMM_NR + t) << 2)) + bv;
      if (accumulate) v += load<f32>(crow + (<usize>t << 2));
      store<f32>(crow + (<usize>t << 2), clamp1(v, lo, hi));
    }
  }
}

/**
 * C[M,N] = clamp(A*B (+ bias per row) (+ C when accumulate != 0), actMin, actMax), A and B
 * packed (see top). C has row stride ldc floats. K must be > 0. `bias` is 0 or a pointer to
 * a bias per row, padded to a multiple of MR floats. No activation: actMin = -inf, actMax = inf.
 */
export function sgemmPacked(
  M: i32, N: i32, K: i32, aPack: usize, bPack: usize, c: usize, ldc: i32, bias: usize, accumulate: i32, scratch: usize,
  actMin: f32, actMax: f32,
): void {
  const mPanels = (M + GEMM_MR - 1) / GEMM_MR;
  const nPanels = (N + GEMM_NR - 1) / GEMM_NR;
  for (let k0 = 0; k0 < K; k0 += GEMM_KC) {
    const kc = min(GEMM_KC, K - k0);
    const acc = accumulate != 0 || k0 > 0;
    // The activation applies once, to the finished sums of the last K block.
    const last = k0 + kc == K;
    const lo: f32 = last ? actMin : -Infinity;
    const hi: f32 = last ? actMax : Infinity;
    // Groups of B panels that fit in L1 together: each A panel then writes rows of C
    // jb*NR floats long (whole cache lines) instead of NR-float half lines, which matters when
    // K is small and C is large (the 1x1 expand convs): C's row stride can alias L1 sets.
    const jb = max(1, min(16, (12 * 1024) / (kc * GEMM_NR * 4)));
    for (let j0 = 0; j0 < nPanels; j0 += jb) {
      const j1 = min(nPanels, j0 + jb);
      for (let i = 0; i < mPanels; i++) {
        const ap = aPack + ((<usize>i * <usize>K + <usize>k0) * GEMM_MR << 2);
        const rows = min(GEMM_MR, M - i * GEMM_MR);
        const bi: usize = bias != 0 && k0 == 0 ? bias + (<usize>(i * GEMM_MR) << 2) : 0;
        const ci = c + (<usize>i * GEMM_MR * <usize>ldc << 2);
        for (let j = j0; j < j1; j++) {
          const bp = bPack + ((<usize>j * <usize>K + <usize>k0) * GEMM_NR << 2);
          const cols = min(GEMM_NR, N - j * GEMM_NR);
          microKernel(ap, bp, kc, ci + (<usize>(j * GEMM_NR) << 2), ldc, rows, cols, bi, acc, scratch, lo, hi);
        }
      }
    }
  }
}
