// TFLite's int16 SOFTMAX, LOGISTIC and TANH, bit-exact: the interpreter does not compute these
// functions, it interpolates lookup tables, and the tables' rounding is what its outputs carry.
//   SOFTMAX (reference_ops::SoftmaxInt16): exp(x - max) from a 513-entry table over [-10, 0],
//     the row sum renormalised to [1, 2) and inverted through a 1/(1+x) table over [0, 1].
//   LOGISTIC / TANH (reference_integer_ops): one 256-entry table of sigmoid(i/24) in 0.16,
//     linear interpolation, tanh(x) = 2·sigmoid(2x) - 1; the input rescaled to 1/(3·4096)
//     by an integer multiplier and a right shift. A power-of-two input scale the interpreter
//     takes instead through gemmlowp's fixed-point functions (fixed-point16.ts).
import { multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway } from './fixed-point.js';
import { gemmlowpLogistic16, gemmlowpTanh16, saturatingRoundingMultiplyByPOT16 } from './fixed-point16.js';

/**
 * gen_lut for int16 in and out: 512 steps of `func` over [min, max] in Q0.15 (output range
 * [-1, 1]), each entry biased by half the error interpolation makes at the step's midpoint,
 * plus a 513th entry (func(max)) that only serves the last slope.
 */
export function int16Lut(func: (x: number) => number, min: number, max: number): Int16Array {
  const steps = 512;
  const step = (max - min) / steps;
  const half = step / 2;
  const scale = 32768; // 65536 output codes over [-1, 1]
  const clamp = (v: number) => Math.min(Math.max(v, -32768), 32767);
  const lut = new Int16Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const val = func(min + i * step);
    const mid = func(min + i * step + half);
    const next = func(min + (i + 1) * step);
    const sample = roundHalfAway(val * scale);
    const interpolated = roundHalfAway((next * scale + roundHalfAway(val * scale)) / 2);
    const err = interpolated - roundHalfAway(mid * scale);
    lut[i] = clamp(sample - roundHalfAway(err / 2));
  }
  lut[steps] = clamp(roundHalfAway(func(max) * scale));
  return lut;
}

/** lut_lookup_with_interpolation: the top 9 bits pick the entry, the low 7 interpolate to the next. */
export function int16LutLookup(value: number, lut: Int16Array): number {
  const index = 256 + (value >> 7);
  const offset = value & 0x7f;
  const base = lut[index]!;
  const slope = lut[index + 1]! - base;
  return (base + ((slope * offset + 64) >> 7)) << 16 >> 16;
}

let expLut: Int16Array | undefined;
let reciprocalLut: Int16Array | undefined;

/**
 * SOFTMAX on int16 rows of `depth` (last axis), output in Q0.15 ([0, 32767] for [0, 1]; the
 * output scale is assumed 1/32768 as TFLite does). `inputScale·beta` sets the exp table's input.
 */
export function softmaxInt16(x: Int16Array, depth: number, inputScale: number, beta: number): Int16Array {
  expLut ??= int16Lut(Math.exp, -10, 0);
  reciprocalLut ??= int16Lut((v) => 1 / (1 + v), 0, 1);
  // input differences scaled so that [-65535, 0] covers [-10, 0]
  const { multiplier, shift } = quantizeMultiplier((Math.fround(inputScale) * Math.fround(beta)) / (10 / 65535));
  const y = new Int16Array(x.length);
  const exps = new Int32Array(depth);
  for (let base = 0; base < x.length; base += depth) {
    let max = -32768;
    for (let j = 0; j < depth; j++) max = Math.max(max, x[base + j]!);
    let sum = 0;
    for (let j = 0; j < depth; j++) {
      const scaled = multiplyByQuantizedMultiplier(x[base + j]! - max, multiplier, shift);
      // recentred on [-32768, 32767], the table's input range
      const sym = Math.min(Math.max(scaled + 32767, -32768), 32767);
      exps[j] = int16LutLookup(sym, expLut);
      sum += exps[j]!;
    }
    // sum·2^(headroom) in [2^30, 2^31), rounded to Q1.15 ([1, 2)), minus 1 and recentred
    const headroomPlusOne = Math.clz32(sum);
    const shiftedSum = Math.floor((sum * 2 ** (headroomPlusOne - 1) + (1 << 13)) / (1 << 14));
    const sym = Math.min(Math.max(shiftedSum - ((1 << 15) + (1 << 16)), -32768), 32767);
    const reciprocal = int16LutLookup(sym, reciprocalLut);
    const rightShift = 31 - headroomPlusOne;
    const round = 2 ** (rightShift - 1);
    for (let j = 0; j < depth; j++) {
      const r = Math.floor((exps[j]! * reciprocal + round) / 2 ** rightShift);
      y[base + j] = Math.min(Math.max(r, 0), 32767);
    }
  }
  return y;
}

// TFLite's sigmoid(i/24) in 0.16, i = 0..255 (reference_integer_ops' table; the entries are
// TFLite's own rounding, not round(65536·sigmoid(i/24)), so they are data here).
const SIGMOID_TABLE = Uint16Array.from([
  32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
  43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
  51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
  57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
  61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
  63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
  64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
  64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
  65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
  65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
  65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
  65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
  65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
  65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
  65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
  65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
]);

/** CheckedLog2: log2 of a float32 scale and whether it is within 1e-3 of an integer (float32 math). */
function checkedLog2(x: number): { log2: number; pot: boolean } {
  const f = Math.fround;
  const l = f(f(Math.log(f(x))) * f(1 / Math.log(2)));
  const r = roundHalfAway(l);
  return { log2: r, pot: Math.abs(f(l - r)) < 1e-3 };
}

/** The input rescaling of TFLite's int16 LOGISTIC/TANH Prepare: multiplier 0 means the power-of-two path. */
export function int16ActivationParams(inputScale: number, kind: 'logistic' | 'tanh'): { multiplier: number; leftShift: number } {
  const { log2, pot } = checkedLog2(inputScale);
  // 3 integer bits: a scale of 2^-12 is gemmlowp's F3 (tanh also takes 2^-11, shifting left once)
  const shift = 12 + log2;
  if (pot && (shift === 0 || (kind === 'tanh' && shift === 1))) return { multiplier: 0, leftShift: shift };
  // to 1/(3·4096): ±2^17 stands for ±10.7 (the table's [-8, 8] widened by 4/3)
  let multiplier = Math.fround(inputScale) * 4096 * 3;
  let leftShift = 0;
  while (multiplier <= 32767 / 2 && leftShift <= 30) {
    leftShift++;
    multiplier *= 2;
  }
  return { multiplier: Math.trunc(multiplier), leftShift };
}

/** reference_integer_ops::Logistic on int16 (output Q0.15), or gemmlowp's for a power-of-two scale. */
export function logisticInt16(x: Int16Array, inputScale: number): Int16Array {
  const y = new Int16Array(x.length);
  const { multiplier, leftShift } = int16ActivationParams(inputScale, 'logistic');
  if (multiplier === 0) {
    for (let i = 0; i < x.length; i++) y[i] = gemmlowpLogistic16(x[i]!);
    return y;
  }
  const round = leftShift > 0 ? 1 << (leftShift - 1) : 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.floor((x[i]! * multiplier + round) / 2 ** leftShift);
    const abs = Math.abs(v);
    // 2^9 input steps per table entry: 2^7 from the input grid, 4 from the 3/4 range widening
    const uh = abs >>> 9;
    let r: number;
    if (uh >= 255) r = 0x7fff << 10;
    else {
      const ua = SIGMOID_TABLE[uh]!;
      r = ua * 512 + (abs & 0x1ff) * (SIGMOID_TABLE[uh + 1]! - ua);
    }
    r = v >= 0 ? r + (1 << 9) : (1 << 25) - r + (1 << 9) - 1;
    y[i] = (r >>> 10) << 16 >> 16;
  }
  return y;
}

/** reference_integer_ops::Tanh on int16 (output Q0.15), or gemmlowp's for a power-of-two scale. */
export function tanhInt16(x: Int16Array, inputScale: number): Int16Array {
  const y = new Int16Array(x.length);
  const { multiplier, leftShift } = int16ActivationParams(inputScale, 'tanh');
  if (multiplier === 0) {
    for (let i = 0; i < x.length; i++) y[i] = gemmlowpTanh16(leftShift === 1 ? saturatingRoundingMultiplyByPOT16(x[i]!, 1) : x[i]!);
    return y;
  }
  const round = leftShift > 0 ? 1 << (leftShift - 1) : 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.floor((x[i]! * multiplier + round) / 2 ** leftShift);
    const abs = Math.abs(v);
    // 2^8 steps per entry: tanh(x) reads sigmoid at 2x
    const uh = abs >>> 8;
    let r: number;
    if (uh >= 255) r = 0xffff << 8;
    else {
      const ua = SIGMOID_TABLE[uh]!;
      r = ua * 256 + (abs & 0xff) * (SIGMOID_TABLE[uh + 1]! - ua);
    }
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    y[i] = (r >> 8) << 16 >> 16;
  }
  return y;
}
