// HARD_SWISH on int8 / uint8 as TFLite computes it (reference_ops::HardSwish and its Prepare in
// activations.cc): x·ReLU6(x + 3)/6 in int16 fixed point. The input is lifted by 2^7; one
// multiplier takes it to the output scale before the output shift, another maps [-3, 3] onto
// the int16 range ("reluish", saturating), that is moved to [0, 1] and multiplied in without
// rounding, and the output shift rounds half away from zero. Checked against the TFLite
// interpreter on all 256 inputs of five input / output ranges (test/unit/integer/hard-swish.test.ts).
import { quantizeMultiplier, roundingDivideByPOT } from './fixed-point.js';
import { saturatingRoundingDoublingHighMul16 } from './fixed-point16.js';

const I16_MIN = -32768;
const I16_MAX = 32767;

/** DownScaleInt32ToInt16Multiplier: the Q31 multiplier rounded to Q15. */
function downScale16(m: number): number {
  return m >= 2147483647 - (1 << 15) ? I16_MAX : Math.floor((m + (1 << 15)) / 65536);
}

/** hard_swish.h's SaturatingDoublingHighMul: a·b / 2^15 truncated, no rounding nudge. */
function doublingHighMul16(a: number, b: number): number {
  if (a === I16_MIN && b === I16_MIN) return I16_MAX;
  return Math.trunc((a * b) / (1 << 15));
}

const saturatingLeftShift16 = (v: number, amount: number): number => Math.min(I16_MAX, Math.max(I16_MIN, v * 2 ** amount));

/** The int8 / uint8 HARD_SWISH of `x` (zero point `zx`, scale `sx`) onto the output grid (sy, zy), clamped to [lo, hi]. */
export function hardSwishInteger(x: ArrayLike<number>, sx: number, zx: number, sy: number, zy: number, lo: number, hi: number, y: { [i: number]: number; length: number }): void {
  const f = Math.fround;
  const hiresInputScale = f(f(1 / 128) * f(sx));
  const out = quantizeMultiplier(f(hiresInputScale / f(sy)));
  const reluish = quantizeMultiplier(f(hiresInputScale / f(3 / 32768)));
  const outFixed = downScale16(out.multiplier);
  const reluishFixed = downScale16(reluish.multiplier);
  const e = reluish.shift;
  for (let i = 0; i < x.length; i++) {
    const hires = (x[i]! - zx) * 128;
    const preshift = saturatingRoundingDoublingHighMul16(hires, outFixed);
    let r = hires;
    if (e > 0) r = saturatingLeftShift16(r, e - 1);
    r = saturatingRoundingDoublingHighMul16(r, reluishFixed);
    if (e > 0) r = saturatingLeftShift16(r, 1);
    if (e < 0) r = roundingDivideByPOT(r, -e);
    r = (r + (1 << 15)) >> 1;
    const v = roundingDivideByPOT(doublingHighMul16(r, preshift), -out.shift) + zy;
    y[i] = v < lo ? lo : v > hi ? hi : v;
  }
}
