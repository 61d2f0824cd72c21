// How far a converted model's output is from the reference, as the quantization tests measure it.

/**
 * Largest absolute difference of two outputs of the same length (a length mismatch throws); a NaN
 * anywhere counts as infinitely wrong.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`outputs of different lengths: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * Largest absolute difference over the largest absolute reference value (outputs of the same
 * length: a mismatch throws; a NaN anywhere counts as infinitely wrong).
 */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  return maxAbsDiff(got, want) / Math.max(scale, 1e-30);
}

/** SNR (dB) of `got` against `want` pooled over all outputs: total signal over total noise. */
export function pooledSnrDb(want: Float32Array[], got: Float32Array[]): number {
  let sig = 0;
  let noise = 0;
  want.forEach((w, k) => {
    for (let i = 0; i < w.length; i++) {
      sig += w[i]! * w[i]!;
      noise += (w[i]! - got[k]![i]!) ** 2;
    }
  });
  return 10 * Math.log10(sig / noise);
}
