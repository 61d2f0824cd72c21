// The step loop of the recurrent ops (src/runtime/ops/recurrent.ts): the batch-1 product of the
// hidden state with the recurrence weights, on the GEMM's packed B panels (assembly/kernels/gemm.ts),
// the sigmoid / tanh gate activations, and the whole LSTM / GRU cell update for the default
// activations (GRU in either linear_before_reset form). Scalar twins: src/wasm/scalar/recurrent.ts.
//
// SIMD128 has no exp: expf4 is Cephes' expf (range reduction by ln 2 in two parts, a degree-6
// polynomial, scaling by 2^n built in the exponent bits), within 2 ulp of the exact value.

import { GEMM_NR } from '../util/gemm-blocking';

/**
 * y[0, N) += x[0, K) · B, B packed by gemmPackB ([ceil(N/NR)][K][NR], columns past N zero).
 * Two panels at a time: four independent accumulator chains per k.
 */
export function sgemvPacked(N: i32, K: i32, x: usize, bPack: usize, y: usize): void {
  const panels = (N + GEMM_NR - 1) / GEMM_NR;
  const panelBytes = <usize>K * GEMM_NR << 2;
  let p = 0;
  for (; p + 2 <= panels; p += 2) {
    let b0 = bPack + <usize>p * panelBytes;
    let b1 = b0 + panelBytes;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    for (let k = 0; k < K; k++) {
      const xv = v128.load32_splat(x + (<usize>k << 2));
      c0 = f32x4.add(c0, f32x4.mul(xv, v128.load(b0)));
      c1 = f32x4.add(c1, f32x4.mul(xv, v128.load(b0, 16)));
      c2 = f32x4.add(c2, f32x4.mul(xv, v128.load(b1)));
      c3 = f32x4.add(c3, f32x4.mul(xv, v128.load(b1, 16)));
      b0 += GEMM_NR << 2;
      b1 += GEMM_NR << 2;
    }
    const n0 = p * GEMM_NR;
    storeAdd(y, n0, N, c0);
    storeAdd(y, n0 + 4, N, c1);
    storeAdd(y, n0 + 8, N, c2);
    storeAdd(y, n0 + 12, N, c3);
  }
  if (p < panels) {
    let b0 = bPack + <usize>p * panelBytes;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
    for (let k = 0; k < K; k++) {
      const xv = v128.load32_splat(x + (<usize>k << 2));
      c0 = f32x4.add(c0, f32x4.mul(xv, v128.load(b0)));
      c1 = f32x4.add(c1, f32x4.mul(xv, v128.load(b0, 16)));
      b0 += GEMM_NR << 2;
    }
    const n0 = p * GEMM_NR;
    storeAdd(y, n0, N, c0);
    storeAdd(y, n0 + 4, N, c1);
  }
}

/** y[n0, n0 + 4) += v, only the lanes below N. */
// @ts-ignore: decorator
@inline
function storeAdd(y: usize, n0: i32, N: i32, v: v128): void {
  const at = y + (<usize>n0 << 2);
  if (n0 + 4 <= N) {
    v128.store(at, f32x4.add(v128.load(at), v));
    return;
  }
  if (n0 < N) store<f32>(at, load<f32>(at) + f32x4.extract_lane(v, 0));
  if (n0 + 1 < N) store<f32>(at, load<f32>(at, 4) + f32x4.extract_lane(v, 1), 4);
  if (n0 + 2 < N) store<f32>(at, load<f32>(at, 8) + f32x4.extract_lane(v, 2), 8);
}

// @ts-ignore: decorator
@inline
function expf4(x: v128): v128 {
  // exp(88.72) is the largest finite float; below -87.3 the result would be subnormal: 2^n
  // would not be a normal float, so the input is clamped there (exp(-87.3) ≈ 1.2e-38).
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.72));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  // n ∈ [-126, 128]: 2^n in the exponent bits, the top case in two halves
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const half = i32x4.shr_s(ni, 1);
  const s0 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const s1 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s0), s1);
}

// @ts-ignore: decorator
@inline
function sigmoid4(x: v128): v128 {
  // 1 / (1 + e^-x): no cancellation anywhere; e^-x = inf gives 0
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, expf4(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline
function tanh4(x: v128): v128 {
  // Cephes tanhf: an odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above (no cancellation there)
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const one = f32x4.splat(1);
  const e = expf4(f32x4.add(ax, ax));
  const big = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one)));
  // copy x's sign onto big (big ≥ 0)
  const signed = v128.or(big, v128.and(x, f32x4.splat(-0.0)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}

// @ts-ignore: decorator
@inline
function clip4(x: v128, c: v128): v128 {
  // ONNX's clip of the gate pre-activations; c = +inf when the attribute is absent
  return f32x4.pmin(f32x4.pmax(x, f32x4.neg(c)), c);
}

// Scalar tails run the same code on a one-lane vector, so every element gets the same rounding.
// @ts-ignore: decorator
@inline
function load1(p: usize): v128 {
  return f32x4.splat(load<f32>(p));
}

// @ts-ignore: decorator
@inline
function ld(p: usize, one: bool): v128 {
  return one ? load1(p) : v128.load(p);
}

/** v[0, n) = sigmoid(clip(v)) in place. */
export function sigmoidF32(v: usize, n: i32, clip: f32): void {
  const c = f32x4.splat(clip);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = v + (<usize>i << 2);
    v128.store(p, sigmoid4(clip4(v128.load(p), c)));
  }
  for (; i < n; i++) {
    const p = v + (<usize>i << 2);
    store<f32>(p, f32x4.extract_lane(sigmoid4(clip4(load1(p), c)), 0));
  }
}

/** v[0, n) = tanh(clip(v)) in place. */
export function tanhF32(v: usize, n: i32, clip: f32): void {
  const c = f32x4.splat(clip);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = v + (<usize>i << 2);
    v128.store(p, tanh4(clip4(v128.load(p), c)));
  }
  for (; i < n; i++) {
    const p = v + (<usize>i << 2);
    store<f32>(p, f32x4.extract_lane(tanh4(clip4(load1(p), c)), 0));
  }
}

// @ts-ignore: decorator
@inline
function lstmCell4(g: usize, c: usize, h: usize, H: i32, j: i32, cl: v128, one: bool): void {
  // gate blocks i, o, f, c at 0, H, 2H, 3H (ONNX's order)
  const o4 = <usize>j << 2;
  const hb = <usize>H << 2;
  const i = sigmoid4(clip4(ld(g + o4, one), cl));
  const o = sigmoid4(clip4(ld(g + hb + o4, one), cl));
  const f = sigmoid4(clip4(ld(g + 2 * hb + o4, one), cl));
  const z = tanh4(clip4(ld(g + 3 * hb + o4, one), cl));
  const cn = f32x4.add(f32x4.mul(f, ld(c + o4, one)), f32x4.mul(i, z));
  // h(Ct) takes the cell state unclipped (as onnxruntime computes it)
  const hn = f32x4.mul(o, tanh4(cn));
  if (one) {
    store<f32>(c + o4, f32x4.extract_lane(cn, 0));
    store<f32>(h + o4, f32x4.extract_lane(hn, 0));
  } else {
    v128.store(c + o4, cn);
    v128.store(h + o4, hn);
  }
}

/**
 * One LSTM step of one batch row with the default activations (sigmoid, tanh, tanh), no
 * peepholes: g [4H] the gate pre-activations (X·Wᵀ + H·Rᵀ + biases), c and h [H] in place.
 */
export function lstmCellF32(g: usize, c: usize, h: usize, H: i32, clip: f32): void {
  const cl = f32x4.splat(clip);
  let j = 0;
  for (; j + 4 <= H; j += 4) lstmCell4(g, c, h, H, j, cl, false);
  for (; j < H; j++) lstmCell4(g, c, h, H, j, cl, true);
}

// @ts-ignore: decorator
@inline
function gruCell4(g: usize, r: usize, rbh: usize, h: usize, H: i32, j: i32, cl: v128, one: bool): void {
  // gate blocks z, r, h at 0, H, 2H (ONNX's order)
  const o4 = <usize>j << 2;
  const hb = <usize>H << 2;
  const z = sigmoid4(clip4(f32x4.add(ld(r + o4, one), ld(g + o4, one)), cl));
  const rt = sigmoid4(clip4(f32x4.add(ld(r + hb + o4, one), ld(g + hb + o4, one)), cl));
  const rb = rbh ? ld(rbh + o4, one) : f32x4.splat(0);
  const n = tanh4(clip4(f32x4.add(f32x4.mul(rt, f32x4.add(ld(r + 2 * hb + o4, one), rb)), ld(g + 2 * hb + o4, one)), cl));
  const hp = ld(h + o4, one);
  const hn = f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, hp));
  if (one) store<f32>(h + o4, f32x4.extract_lane(hn, 0));
  else v128.store(h + o4, hn);
}

/**
 * One GRU step (linear_before_reset = 1) of one batch row with the default activations (sigmoid,
 * tanh): g [3H] = X·Wᵀ + Wb (+ Rbz, Rbr), r [3H] = H·Rᵀ, rbh [H] (0: none), h [H] in place.
 */
export function gruCellF32(g: usize, r: usize, rbh: usize, h: usize, H: i32, clip: f32): void {
  const cl = f32x4.splat(clip);
  let j = 0;
  for (; j + 4 <= H; j += 4) gruCell4(g, r, rbh, h, H, j, cl, false);
  for (; j < H; j++) gruCell4(g, r, rbh, h, H, j, cl, true);
}

// @ts-ignore: decorator
@inline
function gruReset4(zr: usize, g: usize, h: usize, rh: usize, H: i32, j: i32, cl: v128, one: bool): void {
  const o4 = <usize>j << 2;
  const hb = <usize>H << 2;
  const z = sigmoid4(clip4(f32x4.add(ld(zr + o4, one), ld(g + o4, one)), cl));
  const r = sigmoid4(clip4(f32x4.add(ld(zr + hb + o4, one), ld(g + hb + o4, one)), cl));
  const v = f32x4.mul(r, ld(h + o4, one));
  if (one) {
    store<f32>(zr + o4, f32x4.extract_lane(z, 0));
    store<f32>(zr + hb + o4, f32x4.extract_lane(r, 0));
    store<f32>(rh + o4, f32x4.extract_lane(v, 0));
  } else {
    v128.store(zr + o4, z);
    v128.store(zr + hb + o4, r);
    v128.store(rh + o4, v);
  }
}

/**
 * The first half of a GRU step (linear_before_reset = 0) of one batch row with the default
 * activations: zr [2H] = sigmoid(clip(zr + g[0, 2H))) in place (zr holds H·[Rz Rr]ᵀ), rh [H] = r ⊙ h.
 */
export function gruResetF32(zr: usize, g: usize, h: usize, rh: usize, H: i32, clip: f32): void {
  const cl = f32x4.splat(clip);
  let j = 0;
  for (; j + 4 <= H; j += 4) gruReset4(zr, g, h, rh, H, j, cl, false);
  for (; j < H; j++) gruReset4(zr, g, h, rh, H, j, cl, true);
}

// @ts-ignore: decorator
@inline
function gruUpdate4(z: usize, hh: usize, gh: usize, h: usize, j: i32, cl: v128, one: bool): void {
  const o4 = <usize>j << 2;
  const zv = ld(z + o4, one);
  const n = tanh4(clip4(f32x4.add(ld(hh + o4, one), ld(gh + o4, one)), cl));
  const hn = f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), zv), n), f32x4.mul(zv, ld(h + o4, one)));
  if (one) store<f32>(h + o4, f32x4.extract_lane(hn, 0));
  else v128.store(h + o4, hn);
}

/**
 * The second half: h = (1 - z) ⊙ tanh(clip(hh + gh)) + z ⊙ h in place, hh [H] = (r ⊙ h)·Rhᵀ,
 * gh [H] = the h block of the projection (X·Whᵀ + Wbh + Rbh), z [H] from gruResetF32.
 */
export function gruUpdateF32(z: usize, hh: usize, gh: usize, h: usize, H: i32, clip: f32): void {
  const cl = f32x4.splat(clip);
  let j = 0;
  for (; j + 4 <= H; j += 4) gruUpdate4(z, hh, gh, h, j, cl, false);
  for (; j < H; j++) gruUpdate4(z, hh, gh, h, j, cl, true);
}
