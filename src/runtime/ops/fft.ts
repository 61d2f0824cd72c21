// Complex discrete Fourier transforms of any length in float64, for DFT and STFT: an iterative
// radix-2 FFT for powers of two, the direct sum for short other lengths, and Bluestein's chirp-z
// transform (a power-of-two circular convolution) for long ones.
// Twiddles are cos/sin of 2*pi*k/n computed per k (no recurrence), so errors stay near 1 ulp * log n.

/** An in-place, unnormalised transform of one length: X[k] = sum x[t] e^(-+2 pi i k t / n). */
export interface FftPlan {
  readonly n: number;
  /** `inverse` flips the exponent's sign; the 1/n of an inverse transform is the caller's */
  run(re: Float64Array, im: Float64Array, inverse: boolean): void;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Lengths up to this that are not powers of two use the direct O(n^2) sum. */
const DIRECT_MAX = 64;

class Radix2Plan implements FftPlan {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;
  constructor(readonly n: number) {
    const half = n >> 1;
    this.cos = new Float64Array(half);
    this.sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.rev = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  run(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { n, rev } = this;
    for (let i = 0; i < n; i++) {
      const j = rev[i]!;
      if (j > i) {
        const tr = re[i]!;
        re[i] = re[j]!;
        re[j] = tr;
        const ti = im[i]!;
        im[i] = im[j]!;
        im[j] = ti;
      }
    }
    const sign = inverse ? 1 : -1;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step]!;
          const wi = sign * this.sin[k * step]!;
          const a = start + k;
          const b = a + half;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - xr;
          im[b] = im[a]! - xi;
          re[a] = re[a]! + xr;
          im[a] = im[a]! + xi;
        }
      }
    }
  }
}

class DirectPlan implements FftPlan {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly outRe: Float64Array;
  private readonly outIm: Float64Array;
  constructor(readonly n: number) {
    this.cos = new Float64Array(n);
    this.sin = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.outRe = new Float64Array(n);
    this.outIm = new Float64Array(n);
  }

  run(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { n, outRe, outIm } = this;
    const sign = inverse ? 1 : -1;
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      // (k * t) mod n indexes the table exactly; k * t < n^2 stays an exact integer
      for (let t = 0, kt = 0; t < n; t++, kt += k) {
        if (kt >= n) kt -= n;
        const c = this.cos[kt]!;
        const s = sign * this.sin[kt]!;
        sr += re[t]! * c - im[t]! * s;
        si += re[t]! * s + im[t]! * c;
      }
      outRe[k] = sr;
      outIm[k] = si;
    }
    re.set(outRe);
    im.set(outIm);
  }
}

/**
 * Bluestein: k*t = (k^2 + t^2 - (k-t)^2) / 2 turns the transform into a convolution with the
 * chirp e^(i pi m^2 / n), done as a circular convolution of power-of-two length >= 2n - 1.
 */
class BluesteinPlan implements FftPlan {
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  private readonly inner: Radix2Plan;
  /** the FFT of the conjugate chirp laid out for the circular convolution */
  private readonly kernRe: Float64Array;
  private readonly kernIm: Float64Array;
  private readonly aRe: Float64Array;
  private readonly aIm: Float64Array;
  constructor(readonly n: number) {
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    this.inner = new Radix2Plan(m);
    this.chirpRe = new Float64Array(n);
    this.chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small (exact in integers) before the multiplication by pi
      const q = (k * k) % (2 * n);
      this.chirpRe[k] = Math.cos((Math.PI * q) / n);
      this.chirpIm[k] = -Math.sin((Math.PI * q) / n);
    }
    this.kernRe = new Float64Array(m);
    this.kernIm = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      this.kernRe[k] = this.chirpRe[k]!;
      this.kernIm[k] = -this.chirpIm[k]!;
      if (k > 0) {
        this.kernRe[m - k] = this.chirpRe[k]!;
        this.kernIm[m - k] = -this.chirpIm[k]!;
      }
    }
    this.inner.run(this.kernRe, this.kernIm, false);
    this.aRe = new Float64Array(m);
    this.aIm = new Float64Array(m);
  }

  run(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { n, aRe, aIm, chirpRe, chirpIm, kernRe, kernIm } = this;
    const m = aRe.length;
    // an inverse transform is the forward one of the conjugate, conjugated
    const s = inverse ? -1 : 1;
    aRe.fill(0);
    aIm.fill(0);
    for (let k = 0; k < n; k++) {
      const xr = re[k]!;
      const xi = s * im[k]!;
      aRe[k] = xr * chirpRe[k]! - xi * chirpIm[k]!;
      aIm[k] = xr * chirpIm[k]! + xi * chirpRe[k]!;
    }
    this.inner.run(aRe, aIm, false);
    for (let k = 0; k < m; k++) {
      const r = aRe[k]! * kernRe[k]! - aIm[k]! * kernIm[k]!;
      aIm[k] = aRe[k]! * kernIm[k]! + aIm[k]! * kernRe[k]!;
      aRe[k] = r;
    }
    this.inner.run(aRe, aIm, true);
    for (let k = 0; k < n; k++) {
      const cr = aRe[k]! / m;
      const ci = aIm[k]! / m;
      re[k] = cr * chirpRe[k]! - ci * chirpIm[k]!;
      im[k] = s * (cr * chirpIm[k]! + ci * chirpRe[k]!);
    }
  }
}

/** The transform plan for length `n` (>= 1). */
export function fftPlan(n: number): FftPlan {
  if (isPowerOfTwo(n)) return new Radix2Plan(n);
  if (n <= DIRECT_MAX) return new DirectPlan(n);
  return new BluesteinPlan(n);
}

/** The direct O(n^2) sum for any length: the plain twin the fast plans are tested against. */
export function directPlan(n: number): FftPlan {
  return new DirectPlan(n);
}
