// TFLite's fixed-point requantization (tensorflow/lite/kernels/internal/common.h and
// quantization_util.cc), bit-exact: QuantizeMultiplier, SaturatingRoundingDoublingHighMul,
// RoundingDivideByPOT and MultiplyByQuantizedMultiplier (the default double-rounding build),
// plus the int64-accumulator variant used by the 16x8 kernels.

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const TWO31 = 2147483648;

/** A real multiplier as (int32 fixed-point multiplier with the point at bit 31, shift): m ≈ q·2^(shift-31). */
export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/** QuantizeMultiplier(double): frexp, round to Q31, renormalize 2^31, flush below 2^-31 to zero. */
export function quantizeMultiplier(m: number): QuantizedMultiplier {
  if (m === 0) return { multiplier: 0, shift: 0 };
  let shift = Math.floor(Math.log2(Math.abs(m))) + 1;
  let q = m / 2 ** shift;
  // log2 can be off by one at exact powers of two: renormalise q into [0.5, 1)
  while (Math.abs(q) >= 1) {
    q /= 2;
    shift++;
  }
  while (Math.abs(q) < 0.5) {
    q *= 2;
    shift--;
  }
  let fixed = Math.round(q * TWO31);
  // std::round is half away from zero; Math.round rounds half up (differs only for negative ties)
  if (q < 0 && q * TWO31 - Math.floor(q * TWO31) === 0.5) fixed = Math.floor(q * TWO31);
  if (fixed === TWO31) {
    fixed /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) return { multiplier: INT32_MAX, shift: 30 };
  return { multiplier: fixed, shift };
}

/** (a·b·2 + 2^31 rounding) >> 32 on int32s, saturating the one overflow case; exact in doubles. */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // the 62-bit product a·b split so every partial stays below 2^53
  const aHi = Math.floor(a / 65536);
  const aLo = a - aHi * 65536;
  const hi = aHi * b; // |hi| < 2^46
  const nudge = (a >= 0) === (b >= 0) || a === 0 || b === 0 ? 1 << 30 : 1 - (1 << 30);
  const lo = aLo * b + nudge; // |lo| < 2^48
  // total = hi·2^16 + lo; divide by 2^31 truncating toward zero
  const h1 = Math.floor(hi / 32768);
  const h0 = hi - h1 * 32768;
  const rest = h0 * 65536 + lo;
  const restQ = Math.floor(rest / TWO31);
  let q = h1 + restQ;
  const rem = rest - restQ * TWO31;
  const negative = h1 * TWO31 + rest < 0;
  if (negative && rem !== 0) q += 1;
  return q;
}

/** Arithmetic shift right by `exponent` with round-half-away-from-zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const mask = (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** MultiplyByQuantizedMultiplier(int32 x, multiplier, shift). */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  let v = x * 2 ** left;
  // TFLite computes x * (1 << left_shift) in int32: wraps (never in valid models)
  v = v | 0;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(v, multiplier), right);
}

/**
 * MultiplyByQuantizedMultiplier with one rounding (TFLITE_SINGLE_ROUNDING, ruy's):
 * (x·multiplier + 2^(s−1)) >> s, s = 31 − shift, exact; in doubles where the sum stays below 2^53
 * (|x·multiplier| < 2^52, 2^(s−1) ≤ 2^52); for a larger int32 x with s ≥ 17 the multiplier split in
 * 16-bit halves, M = h·2^16 + l: x·M + 2^(s−1) = (c + 2^(s−17))·2^16 + r with c = x·h + ⌊x·l / 2^16⌋ and
 * 0 ≤ r < 2^16, whose shift by s is ⌊(c + 2^(s−17)) / 2^(s−16)⌋ (every term below 2^53); else in BigInt.
 */
export function multiplyByQuantizedMultiplierSingle(x: number, multiplier: number, shift: number): number {
  const s = 31 - shift;
  if (Math.abs(x) < 2 ** 21 && s <= 53) return Math.floor((x * multiplier + 2 ** (s - 1)) / 2 ** s);
  if (s >= 17 && s <= 62 && Math.abs(x) <= 2 ** 31 && multiplier >= 0 && multiplier < 2 ** 31) {
    const h = Math.floor(multiplier / 65536);
    const c = x * h + Math.floor((x * (multiplier - h * 65536)) / 65536);
    return Math.floor((c + 2 ** (s - 17)) / 2 ** (s - 16));
  }
  return Number((BigInt(x) * BigInt(multiplier) + (1n << BigInt(s - 1))) >> BigInt(s));
}

/** MultiplyByQuantizedMultiplier(int64 x, ...) of the 16x8 kernels: a 16-bit multiplier, one rounding. */
export function multiplyByQuantizedMultiplier64(x: number, multiplier: number, shift: number): number {
  const reduced = multiplier < 0x7fff0000 ? (multiplier + (1 << 15)) >> 16 : 0x7fff;
  const totalShift = BigInt(15 - shift);
  const round = 1n << (totalShift - 1n);
  const result = (BigInt(x) * BigInt(reduced) + round) >> totalShift;
  // int32_t result = int64 >> shift: the conversion wraps
  return Number(BigInt.asIntN(32, result));
}

/** TfLiteRound: half away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

export const clampInt = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
