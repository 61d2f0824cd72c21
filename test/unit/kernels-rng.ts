// Deterministic inputs for the kernel tests (not a test file itself).
import { rng } from '../support/rng.js';

export { rng };


/** Floats that stress quantization and conversion: ties (k + 0.5), ±0, huge, tiny, inf, NaN, and random. */
export function nastyFloats(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  const bits = new Uint32Array(a.buffer);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.2) a[i] = (Math.floor(r() * 600) - 300 + 0.5) * scale; // exact ties after / scale
    else if (k < 0.25) a[i] = [0, -0, Infinity, -Infinity, NaN, 1e30, -1e30, 1e-30][Math.floor(r() * 8)]!;
    else if (k < 0.3) bits[i] = (r() * 4294967296) >>> 0; // any bit pattern
    else a[i] = (r() * 2 - 1) * 400 * scale;
  }
  return a;
}

export const ODD_SIZES = [0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 97, 127, 1000, 4099];
