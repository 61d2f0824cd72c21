// gemmlowp's 16-bit fixed-point logistic and tanh (fixedpoint.h on int16 raw values), which
// TFLite's int16 LOGISTIC/TANH run when the input scale is a power of two (2^-12, F3; tanh
// also 2^-11). Scalar and bit-exact: int16 wrap-around where C++ truncates, gemmlowp's
// saturating and rounding primitives, its 32-bit constants rounded to 16 bits.
// A value of Fn has n integer bits and 15 - n fractional bits.

const wrap = (v: number): number => (v << 16) >> 16;
const MIN = -32768;
const MAX = 32767;

/** SaturatingRoundingDoublingHighMul on int16 (VQRDMULH): the product of two Q0.15. */
export function saturatingRoundingDoublingHighMul16(a: number, b: number): number {
  if (a === MIN && b === MIN) return MAX;
  const ab = a * b;
  const nudge = ab >= 0 ? 1 << 14 : 1 - (1 << 14);
  return wrap(Math.trunc((ab + nudge) / 32768));
}

/** RoundingDivideByPOT: arithmetic shift right, rounding half away from zero. */
function roundingDivideByPOT(x: number, exponent: number): number {
  const mask = (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** SaturatingRoundingMultiplyByPOT<exponent> on int16. */
export function saturatingRoundingMultiplyByPOT16(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = (1 << (15 - exponent)) - 1;
  if (x > threshold) return MAX;
  if (x < -threshold) return MIN;
  return wrap(x << exponent);
}

const mul = saturatingRoundingDoublingHighMul16;
const add = (a: number, b: number): number => wrap(a + b);
const sub = (a: number, b: number): number => wrap(a - b);
const saturatingAdd = (a: number, b: number): number => Math.min(MAX, Math.max(MIN, a + b));
/** RoundingHalfSum: (a + b) / 2 rounded half away from zero. */
const roundingHalfSum = (a: number, b: number): number => {
  const s = a + b;
  return wrap(Math.trunc((s + (s >= 0 ? 1 : -1)) / 2));
};
/** A 32-bit gemmlowp constant (Q0.31 of its format) rounded to 16 bits. */
const constant = (raw32: number): number => wrap(roundingDivideByPOT(raw32, 16));
/** One() of Fn. */
const one = (integerBits: number): number => (integerBits === 0 ? MAX : 1 << (15 - integerBits));

/** exp(a) for a in [-1/4, 0), F0: Taylor expansion around -1/8. */
function expOnQuarterInterval(a: number): number {
  const constantTerm = constant(1895147668);
  const oneThird = constant(715827883);
  const x = add(a, 1 << 12);
  const x2 = mul(x, x);
  const x3 = mul(x2, x);
  const x4 = mul(x2, x2);
  const x4Over4 = saturatingRoundingMultiplyByPOT16(x4, -2);
  const rest = saturatingRoundingMultiplyByPOT16(add(mul(add(x4Over4, x3), oneThird), x2), -1);
  return saturatingAdd(constantTerm, mul(constantTerm, add(x, rest)));
}

const BARREL: [number, number][] = [[-2, 1672461947], [-1, 1302514674], [0, 790015084], [1, 290630308], [2, 39332535], [3, 720401], [4, 242]];

/** exp(a) for a <= 0 of F(integerBits), result F0. */
function expOnNegativeValues(a: number, integerBits: number): number {
  const frac = 15 - integerBits;
  const quarter = 1 << (frac - 2);
  const aModQuarterMinusQuarter = sub(a & (quarter - 1), quarter);
  let result = expOnQuarterInterval(saturatingRoundingMultiplyByPOT16(aModQuarterMinusQuarter, integerBits));
  const remainder = sub(aModQuarterMinusQuarter, a);
  for (const [exponent, multiplier] of BARREL) {
    if (integerBits > exponent && remainder & wrap(1 << (frac + exponent))) result = mul(result, constant(multiplier));
  }
  return a === 0 ? MAX : result;
}

/** Newton-Raphson 1/(1 + a) (or (1 - a)/(1 + a)) for a in (0, 1), F0 in and out, F2 inside. */
function newtonReciprocal(a: number): number {
  const halfDenominator = roundingHalfSum(a, MAX);
  let x = add(constant(1515870810), mul(halfDenominator, constant(-1010580540)));
  for (let i = 0; i < 3; i++) {
    const oneMinus = sub(one(2), mul(halfDenominator, x));
    x = add(x, saturatingRoundingMultiplyByPOT16(mul(x, oneMinus), 2));
  }
  return x;
}

/** gemmlowp::logistic on an F3 int16 (input scale 2^-12), result Q0.15. */
export function gemmlowpLogistic16(a: number): number {
  if (a === 0) return constant(1 << 30);
  const abs = a > 0 ? a : wrap(-a);
  // 1/(1 + exp(-|a|)), then Rescale<0> of the F1 half
  const positive = saturatingRoundingMultiplyByPOT16(newtonReciprocal(expOnNegativeValues(wrap(-abs), 3)), 1);
  return a > 0 ? positive : sub(MAX, positive);
}

/**
 * gemmlowp::tanh on an F`integerBits` int16 (default F3: input scale 2^-12), result Q0.15. The
 * integer LSTM also takes F0..F4 (its cell state's tanh); above, gemmlowp's exp clamps with a
 * 32-bit constant this port does not model.
 */
export function gemmlowpTanh16(a: number, integerBits = 3): number {
  if (a === 0) return 0;
  const n = a < 0 ? a : wrap(-a);
  // (1 - e)/(1 + e) with e = exp(2n): n read as F(integerBits + 1)
  const t = saturatingRoundingMultiplyByPOT16(sub(newtonReciprocal(expOnNegativeValues(n, integerBits + 1)), one(2)), 2);
  return a < 0 ? wrap(-t) : t;
}
