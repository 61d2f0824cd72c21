// The GPTQ kernels (assembly/kernels/gptq.ts via src/wasm/gptq.ts) against their scalar twins
// (src/wasm/scalar/gptq.ts) on random shapes, odd sizes, size 1 and size 0. The kernels sum in
// other orders (float32 over one call's rows, lanes in pairs, blocked column updates), so sums
// agree to rounding and the integers may differ only where a value sits on a rounding tie.
import { describe, expect, it } from 'vitest';
import { gptqRound, HessianAccumulators, upperCholeskyOfInverse } from '../../src/wasm/gptq.js';
import { gptqRoundScalar, hessianAddChannelsScalar, hessianAddScalar, upperCholeskyOfInverseScalar } from '../../src/wasm/scalar/gptq.js';
import { rng } from './kernels-rng.js';

const relErr = (a: Float64Array, b: Float64Array) => {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return scale ? worst / scale : worst;
};

/** A random symmetric positive definite n x n matrix (B^T B / m + 0.1 I) with correlated columns. */
function spd(n: number, r: () => number): Float64Array {
  const m = n + 3;
  const B = Float64Array.from({ length: m * n }, (_, i) => r() * 2 - 1 + (i % n) * 0.01);
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? 0.1 : 0;
    for (let k = 0; k < m; k++) s += (B[k * n + i]! * B[k * n + j]!) / m;
    H[i * n + j] = s;
  }
  return H;
}

describe('GPTQ kernels vs scalar twins', () => {
  it('hessianAdd: X^T X of column ranges of padded rows, accumulated over calls', () => {
    const r = rng(31);
    for (const [rows, K, lo, ld] of [[0, 5, 0, 5], [1, 1, 0, 1], [3, 7, 2, 9], [17, 33, 0, 33], [64, 97, 31, 128], [5, 512, 0, 512], [40, 16, 1, 17]] as const) {
      const acc = new HessianAccumulators([K * K]);
      const want = new Float64Array(K * K);
      for (let call = 0; call < 3; call++) {
        const x = Float32Array.from({ length: rows * ld }, () => (r() < 0.2 ? 0 : r() * 2 - 1));
        acc.addRows(x, rows, ld, [{ index: 0, lo, K }]);
        hessianAddScalar(x.subarray(lo), rows, K, ld, want);
      }
      const got = acc.read(0);
      acc.free();
      // the upper triangle stays 0, the lower one is the sum
      let upper = 0;
      for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) upper += +(got[i * K + j] !== 0);
      expect(upper).toBe(0);
      expect(relErr(got, want), `${rows} x ${K}`).toBeLessThan(1e-5);
    }
  });

  it('hessianAddChannels: per-channel T x T products, C not a multiple of 4', () => {
    const r = rng(32);
    for (const [rows, T, C] of [[0, 9, 4], [1, 1, 1], [16, 9, 7], [5, 25, 32], [33, 9, 13]] as const) {
      const acc = new HessianAccumulators([T * T * C]);
      const want = new Float64Array(T * T * C);
      for (let call = 0; call < 2; call++) {
        const v = Float32Array.from({ length: rows * T * C }, () => r() * 2 - 1);
        acc.addChannels(0, v, rows, T, C);
        hessianAddChannelsScalar(v, rows, T, C, want);
      }
      expect(relErr(acc.read(0), want), `${rows} x ${T} x ${C}`).toBeLessThan(1e-5);
      acc.free();
    }
  });

  it('upperCholeskyOfInverse: the scalar twin within 1e-10, undefined where not positive definite', () => {
    const r = rng(33);
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 100, 130]) {
      const H = spd(n, r);
      const want = upperCholeskyOfInverseScalar(H, n)!;
      const got = upperCholeskyOfInverse(H, n)!;
      expect(got.length).toBe(n * n);
      expect(relErr(got, want), `n ${n}`).toBeLessThan(1e-10);
    }
    expect(upperCholeskyOfInverse(Float64Array.of(1, 2, 2, 1), 2)).toBeUndefined();
    expect(upperCholeskyOfInverseScalar(Float64Array.of(1, 2, 2, 1), 2)).toBeUndefined();
  });

  it('gptqRound: the integers of the unblocked scalar sweep (ties aside), blocks of any width', () => {
    const r = rng(34);
    let differ = 0;
    let total = 0;
    for (const [rows, n] of [[0, 4], [1, 1], [3, 5], [7, 63], [9, 64], [6, 65], [17, 130], [4, 200], [8, 129], [1, 9]] as const) {
      const U = upperCholeskyOfInverseScalar(spd(n, r), n)!;
      const W = Float64Array.from({ length: rows * n }, () => (r() * 2 - 1) * 0.3);
      // one row with a zero scale, the others' steps so that some weights clamp at ±127
      const scales = Float64Array.from({ length: rows }, (_, o) => (o === 1 ? 0 : 0.3 / (60 + 100 * r())));
      const want = gptqRoundScalar(Float64Array.from(W), rows, n, scales, U);
      // the kernel takes W and gives q transposed (n x rows)
      const Wt = Float64Array.from({ length: rows * n }, (_, k) => W[(k % rows) * n + Math.floor(k / rows)]!);
      const Wt0 = Float64Array.from(Wt);
      const got = gptqRound(Wt, rows, n, scales, U);
      expect(Wt).toEqual(Wt0);
      expect(got.length).toBe(rows * n);
      let far = 0;
      for (let o = 0; o < rows; o++)
        for (let i = 0; i < n; i++) {
          const a = got[i * rows + o]!;
          const b = want[o * n + i]!;
          total++;
          differ += +(a !== b);
          far += +(Math.abs(a - b) > 1 || (o === 1 && a !== 0));
        }
      expect(far, `${rows} x ${n}`).toBe(0);
    }
    expect(differ).toBeLessThanOrEqual(total * 1e-3);
  });
});
