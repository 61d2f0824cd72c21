// Scalar twin of assembly/kernels/quantize.ts: the same float32 arithmetic, one element at a time.
// (JS computes x / scale in double; rounding that to float32 gives the correctly rounded float32
// quotient, since double has more than 2*24+2 bits.)

export type Rounding = 'half-even' | 'half-away';

export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function roundHalfAway(v: number): number {
  const t = Math.trunc(v);
  return Math.abs(v - t) >= 0.5 ? t + Math.sign(v) : t;
}

/** clamp(round(x / scale) + zp, qmin, qmax) in float32 arithmetic; NaN gives zp. */
export function quantizeValue(x: number, scale: number, zp: number, qmin: number, qmax: number, rounding: Rounding): number {
  const v = Math.fround(Math.fround(x) / Math.fround(scale));
  const r = rounding === 'half-even' ? roundHalfEven(v) : roundHalfAway(v);
  if (Number.isNaN(r)) return zp;
  return Math.min(Math.max(r, qmin - zp), qmax - zp) + zp;
}

/** (q - zp) * scale in float32. */
export function dequantizeValue(q: number, scale: number, zp: number): number {
  return Math.fround((q - zp) * Math.fround(scale));
}

type IntArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

/** Per-axis quantization of a (outer, channels, inner) tensor; per-tensor is channels = 1. */
export function quantizeScalar(
  src: Float32Array,
  dst: IntArray,
  outer: number,
  channels: number,
  inner: number,
  scales: ArrayLike<number>,
  zps: ArrayLike<number>,
  qmin: number,
  qmax: number,
  rounding: Rounding,
): void {
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const z = zps[c]!;
      for (let k = 0; k < inner; k++, i++) dst[i] = quantizeValue(src[i]!, s, z, qmin, qmax, rounding);
    }
  }
}

export function dequantizeScalar(
  src: IntArray,
  dst: Float32Array,
  outer: number,
  channels: number,
  inner: number,
  scales: ArrayLike<number>,
  zps: ArrayLike<number>,
): void {
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const z = zps[c]!;
      for (let k = 0; k < inner; k++, i++) dst[i] = dequantizeValue(src[i]!, s, z);
    }
  }
}
