// Scalar twin of assembly/kernels/calibrate.ts.

export interface MinMax {
  min: number;
  max: number;
}

/** NaN skipped; empty or all-NaN gives {min: +inf, max: -inf}; -0 reported as +0. */
export function minMaxScalar(src: Float32Array): MinMax {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
  }
  return { min: mn + 0, max: mx + 0 };
}

export function minMaxPerAxisScalar(src: Float32Array, outer: number, channels: number, inner: number): { min: Float32Array; max: Float32Array } {
  const mn = new Float32Array(channels).fill(Infinity);
  const mx = new Float32Array(channels).fill(-Infinity);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      for (let k = 0; k < inner; k++, i++) {
        const x = src[i]!;
        if (x < mn[c]!) mn[c] = x;
        if (x > mx[c]!) mx[c] = x;
      }
    }
  }
  for (let c = 0; c < channels; c++) {
    mn[c] = mn[c]! + 0;
    mx[c] = mx[c]! + 0;
  }
  return { min: mn, max: mx };
}

/** Adds a (outer, channels, inner) array to running per-channel min / max / float64 sum of squares. */
export function channelStatsScalar(src: Float32Array, outer: number, channels: number, inner: number, acc: { min: Float32Array; max: Float32Array; sumSquares: Float64Array }): void {
  const { min, max, sumSquares } = acc;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let lo = min[c]!;
      let hi = max[c]!;
      let sq = 0;
      for (let i = (o * channels + c) * inner, end = i + inner; i < end; i++) {
        const x = src[i]!;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        sq += x * x;
      }
      min[c] = lo;
      max[c] = hi;
      sumSquares[c]! += sq;
    }
  }
}

/** Counts of x in [lo, hi] over `bins` equal bins (float64 index math); NaN and outliers skipped. */
export function histogramScalar(src: Float32Array, bins: number, lo: number, hi: number): Uint32Array {
  const counts = new Uint32Array(bins);
  const flo = Math.fround(lo);
  const fhi = Math.fround(hi);
  if (!(fhi > flo)) {
    for (let i = 0; i < src.length; i++) if (src[i] === flo) counts[0]!++;
    return counts;
  }
  const k = bins / (fhi - flo);
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (!(x >= flo && x <= fhi)) continue;
    const b = Math.min(Math.trunc((x - flo) * k), bins - 1);
    counts[b]!++;
  }
  return counts;
}
