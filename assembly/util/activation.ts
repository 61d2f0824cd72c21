// Activation epilogues fused into the conv / GEMM stores (nnport::FusedConv).

/**
 * The activation epilogue: clamp to [lo, hi] (Relu is [0, inf], Relu6 / Clip [min, max],
 * none is [-inf, inf]). pmax/pmin with x first keep a NaN x, as the unfused ops would, and
 * lower to one maxps/minps each (f32x4.max needs a NaN fix-up sequence on x86).
 */
// @ts-ignore: decorator
@inline
export function clamp4(x: v128, lo: v128, hi: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, lo), hi);
}

// @ts-ignore: decorator
@inline
export function clamp1(x: f32, lo: f32, hi: f32): f32 {
  // Written as compares so that NaN passes through, like clamp4.
  if (x < lo) x = lo;
  if (x > hi) x = hi;
  return x;
}
