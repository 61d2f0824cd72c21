// Affine quantization float32 -> int8/uint8 and back, per tensor or per axis.
//   q = clamp(round(x / scale) + zp, qmin, qmax)        (ONNX QuantizeLinear, TFLite QUANTIZE)
//   x = (q - zp) * scale                                (ONNX DequantizeLinear)
// x / scale is an IEEE float32 division (not a multiply by 1/scale) so results match ONNX's
// reference bit for bit. `mode` is a RoundingMode (src/wasm/opcodes.ts): half to even (ONNX) or away from zero (TFLite).
// Clamping happens before the zero point is added, in float, so no integer can overflow; NaN
// quantizes to the zero point (the ONNX reference leaves it undefined). The scalar twin is src/wasm/scalar/quantize.ts.

import { RoundingMode } from '../../src/wasm/opcodes';

const HALF_EVEN = RoundingMode.HalfEven;

@inline
function roundV(v: v128, mode: i32): v128 {
  if (mode == HALF_EVEN) return f32x4.nearest(v);
  // half away from zero: trunc, then step away when the dropped fraction is >= 0.5 (exact in float)
  const t = f32x4.trunc(v);
  const far = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(v128.and(v, i32x4.splat(0x80000000)), f32x4.splat(1.0));
  return f32x4.add(t, v128.and(far, one));
}

@inline
function roundS(v: f32, mode: i32): f32 {
  if (mode == HALF_EVEN) return nearest<f32>(v);
  const t = trunc<f32>(v);
  return abs<f32>(v - t) >= 0.5 ? t + copysign<f32>(1.0, v) : t;
}

// Adding 1.5 * 2^23 to a float of magnitude < 2^22 leaves round-to-nearest-even(v) in the low
// mantissa bits, so (bits - bits(1.5 * 2^23)) is that integer: cheaper than nearest + trunc_sat.
const MAGIC: f32 = 12582912.0;
const MAGIC_BITS: i32 = 0x4b400000;

// clamp(round(x / scale), lo, hi) + zp as i32 lanes, where lo = qmin - zp and hi = qmax - zp are
// integers (so clamping before or after rounding is the same) and zpAdj = zp - MAGIC_BITS.
// NaN lanes are zeroed first; pmin/pmax then need no NaN handling and map to minps/maxps.
@inline
function quantV(x: v128, scale: v128, lo: v128, hi: v128, zpAdj: v128, mode: i32): v128 {
  let v = f32x4.div(x, scale);
  v = v128.and(v, f32x4.eq(v, v));
  if (mode != HALF_EVEN) v = roundV(v, mode);
  v = f32x4.pmin(hi, f32x4.pmax(lo, v));
  return i32x4.add(f32x4.add(v, f32x4.splat(MAGIC)), zpAdj);
}

@inline
function quantS(x: f32, scale: f32, lo: f32, hi: f32, zp: i32, mode: i32): i32 {
  const r = roundS(x / scale, mode);
  if (isNaN(r)) return zp;
  return <i32>min(max(r, lo), hi) + zp;
}

@inline
function pack16(a: v128, b: v128, c: v128, d: v128, unsigned: i32): v128 {
  const ab = i16x8.narrow_i32x4_s(a, b);
  const cd = i16x8.narrow_i32x4_s(c, d);
  return unsigned ? i8x16.narrow_i16x8_u(ab, cd) : i8x16.narrow_i16x8_s(ab, cd);
}

// n elements, one scale / zero point
function quantRun(src: usize, dst: usize, n: usize, scale: f32, zp: i32, qmin: i32, qmax: i32, mode: i32, unsigned: i32): void {
  const lo = <f32>(qmin - zp);
  const hi = <f32>(qmax - zp);
  const vs = f32x4.splat(scale);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const vzp = i32x4.splat(zp - MAGIC_BITS);
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    const p = src + (i << 2);
    const a = quantV(v128.load(p), vs, vlo, vhi, vzp, mode);
    const b = quantV(v128.load(p, 16), vs, vlo, vhi, vzp, mode);
    const c = quantV(v128.load(p, 32), vs, vlo, vhi, vzp, mode);
    const d = quantV(v128.load(p, 48), vs, vlo, vhi, vzp, mode);
    v128.store(dst + i, pack16(a, b, c, d, unsigned));
  }
  for (; i < n; i++) store<u8>(dst + i, <u8>quantS(load<f32>(src + (i << 2)), scale, lo, hi, zp, mode));
}

/** Per-tensor quantization of `n` float32 at `src` into int8 (`unsigned` 0) or uint8 (1) at `dst`. */
export function quantizeLinear(src: usize, dst: usize, n: usize, scale: f32, zp: i32, qmin: i32, qmax: i32, mode: i32, unsigned: i32): void {
  quantRun(src, dst, n, scale, zp, qmin, qmax, mode, unsigned);
}

/**
 * Per-axis quantization of a (outer, channels, inner) float32 tensor; `scales` holds `channels`
 * f32 and `zps` `channels` i32.
 */
export function quantizePerAxis(
  src: usize,
  dst: usize,
  outer: usize,
  channels: usize,
  inner: usize,
  scales: usize,
  zps: usize,
  qmin: i32,
  qmax: i32,
  mode: i32,
  unsigned: i32,
): void {
  if (inner == 1) {
    // channels last: vectorize across channels
    const vqmin = i32x4.splat(qmin);
    const vqmax = i32x4.splat(qmax);
    for (let o: usize = 0; o < outer; o++) {
      const s = src + o * channels * 4;
      const d = dst + o * channels;
      let c: usize = 0;
      for (; c + 16 <= channels; c += 16) {
        let r0 = v128.splat<i32>(0);
        let r1 = r0;
        let r2 = r0;
        let r3 = r0;
        for (let k: usize = 0; k < 4; k++) {
          const cc = c + k * 4;
          const vz = v128.load(zps + (cc << 2));
          const vlo = f32x4.convert_i32x4_s(i32x4.sub(vqmin, vz));
          const vhi = f32x4.convert_i32x4_s(i32x4.sub(vqmax, vz));
          const x = v128.load(s + (cc << 2));
          const q = quantV(x, v128.load(scales + (cc << 2)), vlo, vhi, i32x4.sub(vz, i32x4.splat(MAGIC_BITS)), mode);
          if (k == 0) r0 = q;
          else if (k == 1) r1 = q;
          else if (k == 2) r2 = q;
          else r3 = q;
        }
        v128.store(d + c, pack16(r0, r1, r2, r3, unsigned));
      }
      for (; c < channels; c++) {
        const zp = load<i32>(zps + (c << 2));
        const x = load<f32>(s + (c << 2));
        store<u8>(d + c, <u8>quantS(x, load<f32>(scales + (c << 2)), <f32>(qmin - zp), <f32>(qmax - zp), zp, mode));
      }
    }
    return;
  }
  for (let o: usize = 0; o < outer; o++) {
    for (let c: usize = 0; c < channels; c++) {
      const off = (o * channels + c) * inner;
      quantizeLinear(src + (off << 2), dst + off, inner, load<f32>(scales + (c << 2)), load<i32>(zps + (c << 2)), qmin, qmax, mode, unsigned);
    }
  }
}

// ---- dequantize ----

@inline
function deqV(q: v128, zp: v128, scale: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(q, zp)), scale);
}

function deqRun(src: usize, dst: usize, n: usize, scale: f32, zp: i32, unsigned: i32): void {
  const vs = f32x4.splat(scale);
  const vz = i32x4.splat(zp);
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    const q = v128.load(src + i);
    let lo: v128, hi: v128;
    if (unsigned) {
      lo = i16x8.extend_low_i8x16_u(q);
      hi = i16x8.extend_high_i8x16_u(q);
    } else {
      lo = i16x8.extend_low_i8x16_s(q);
      hi = i16x8.extend_high_i8x16_s(q);
    }
    const p = dst + (i << 2);
    v128.store(p, deqV(i32x4.extend_low_i16x8_s(lo), vz, vs));
    v128.store(p, deqV(i32x4.extend_high_i16x8_s(lo), vz, vs), 16);
    v128.store(p, deqV(i32x4.extend_low_i16x8_s(hi), vz, vs), 32);
    v128.store(p, deqV(i32x4.extend_high_i16x8_s(hi), vz, vs), 48);
  }
  for (; i < n; i++) {
    const q: i32 = unsigned ? <i32>load<u8>(src + i) : <i32>load<i8>(src + i);
    store<f32>(dst + (i << 2), <f32>(q - zp) * scale);
  }
}

/** Per-tensor dequantization of `n` int8 (`unsigned` 0) or uint8 (1) at `src` into float32 at `dst`. */
export function dequantizeLinear(src: usize, dst: usize, n: usize, scale: f32, zp: i32, unsigned: i32): void {
  deqRun(src, dst, n, scale, zp, unsigned);
}

/** Per-axis dequantization of a (outer, channels, inner) int8/uint8 tensor. */
export function dequantizePerAxis(src: usize, dst: usize, outer: usize, channels: usize, inner: usize, scales: usize, zps: usize, unsigned: i32): void {
  if (inner == 1) {
    for (let o: usize = 0; o < outer; o++) {
      const s = src + o * channels;
      const d = dst + o * channels * 4;
      let c: usize = 0;
      for (; c + 4 <= channels; c += 4) {
        const raw = v128.load32_zero(s + c);
        const w = i32x4.extend_low_i16x8_s(unsigned ? i16x8.extend_low_i8x16_u(raw) : i16x8.extend_low_i8x16_s(raw));
        v128.store(d + (c << 2), deqV(w, v128.load(zps + (c << 2)), v128.load(scales + (c << 2))));
      }
      for (; c < channels; c++) {
        const q: i32 = unsigned ? <i32>load<u8>(s + c) : <i32>load<i8>(s + c);
        store<f32>(d + (c << 2), <f32>(q - load<i32>(zps + (c << 2))) * load<f32>(scales + (c << 2)));
      }
    }
    return;
  }
  for (let o: usize = 0; o < outer; o++) {
    for (let c: usize = 0; c < channels; c++) {
      const off = (o * channels + c) * inner;
      deqRun(src + off, dst + (off << 2), inner, load<f32>(scales + (c << 2)), load<i32>(zps + (c << 2)), unsigned);
    }
  }
}
