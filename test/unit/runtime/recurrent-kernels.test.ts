// The recurrent step kernels (assembly/kernels/recurrent.ts) against their scalar twins
// (src/wasm/scalar/recurrent.ts) on random sizes including odd ones, 1 and 0: the packed GEMV,
// sigmoid and tanh over their whole range (a polynomial exp: within a few float32 ulp), and the
// fused LSTM and GRU cells (both linear_before_reset forms) with and without clip.
import { describe, expect, it } from 'vitest';
import { denseKernels, roundUp } from '../../../src/wasm/dense.js';
import { gemvAddScalar, gruCellScalar, gruResetScalar, gruUpdateScalar, lstmCellScalar, sigmoidScalar, tanhScalar } from '../../../src/wasm/scalar/recurrent.js';
import { rng } from '../../support/rng.js';

const random = (n: number, r: () => number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);

/**
 * Largest error in units of float32 ulp of the wanted value. Below the smallest normal float
 * (2^-126) an absolute error up to 2^-126 counts as none: the kernels' exp stops at e^-87.3.
 */
function worstUlps(got: Float32Array, want: Float32Array): { ulps: number; at: number } {
  let ulps = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(w) || 2 ** -126)) - 23), 2 ** -149);
    const e = Math.abs(w) < 2 ** -126 && Math.abs(got[i]!) <= 2 ** -126 ? 0 : Math.abs(got[i]! - w) / ulp;
    if (!(e <= ulps)) {
      ulps = e;
      at = i;
    }
  }
  return { ulps, at };
}

/** Copy arrays into the arena, run `fn` on their pointers, return their contents after. */
function inArena(arrays: Float32Array[], fn: (ptrs: number[]) => void): Float32Array[] {
  const { arena } = denseKernels();
  return arena.scoped(() => {
    const ptrs = arrays.map((a) => arena.copyIn(a.length ? a : new Float32Array(1)));
    fn(ptrs);
    return arrays.map((a, i) => arena.f32(ptrs[i]!, a.length).slice());
  });
}

describe('recurrent step kernels vs scalar twins', () => {
  it('sigmoidF32 and tanhF32 stay within 2 ulp over the whole float range, tails and clip included', () => {
    const { k } = denseKernels();
    const r = rng(5);
    const xs: number[] = [0, -0, 1e-30, -1e-30, 1e-7, 0.624, 0.625, 0.626, -0.625, 9, -9, 20, -20, 87, -87, 88.7, -88.7, 100, -100, 1e30, -1e30, Infinity, -Infinity];
    for (let i = 0; i < 20000; i++) xs.push((r() * 2 - 1) * 2 ** (r() * 14 - 12) * 12);
    for (let i = -2000; i <= 2000; i++) xs.push(i / 100);
    const x = Float32Array.from(xs);
    for (const clip of [Infinity, 0.5, 3]) {
      for (const [name, kernel, twin] of [['sigmoid', k.sigmoidF32, sigmoidScalar], ['tanh', k.tanhF32, tanhScalar]] as const) {
        const want = x.slice();
        twin(want, clip);
        const [got] = inArena([x.slice()], ([p]) => kernel(p!, x.length, clip));
        const { ulps, at } = worstUlps(got!, want);
        expect(ulps, `${name} clip ${clip}: worst at x = ${x[at]}: got ${got![at]} want ${want[at]}`).toBeLessThanOrEqual(2);
        if (name === 'sigmoid' && clip === Infinity) expect([got![21], got![22]! <= 2 ** -126]).toEqual([1, true]);
        if (name === 'tanh' && clip === Infinity) expect(Array.from(got!.subarray(21, 23))).toEqual([1, -1]);
      }
    }
    // sizes 0 to 9: the scalar tail after the 4-wide loop, and nothing written past n
    for (let n = 0; n < 10; n++) {
      const v = random(n + 1, r, 3);
      const want = v.slice();
      tanhScalar(want.subarray(0, n));
      const [got] = inArena([v], ([p]) => k.tanhF32(p!, n, Infinity));
      expect(worstUlps(got!, want).ulps, `n = ${n}`).toBeLessThanOrEqual(2);
      expect(got![n], 'past n').toBe(v[n]);
    }
  });

  it('sgemvPacked adds x·Wᵀ on the GEMM packed panels, any N and K', () => {
    const { k, NR } = denseKernels();
    const r = rng(6);
    const sizes: Array<[number, number]> = [[1, 1], [7, 3], [8, 5], [9, 17], [16, 128], [17, 1], [24, 7], [37, 19], [512, 64], [3, 0]];
    for (const [N, K] of sizes) {
      const W = random(N * K, r, 1), x = random(K, r, 1), y0 = random(N + 3, r, 1);
      const want = y0.slice();
      gemvAddScalar(W, N, K, x, want);
      const pack = new Float32Array(roundUp(N, NR) * K);
      const [got] = inArena([y0.slice(), W, x, pack], ([y, w, xp, bp]) => {
        if (K > 0) k.gemmPackB(w!, 1, K, K, N, bp!);
        if (K > 0) k.sgemvPacked(N, K, xp!, bp!, y!);
      });
      for (let i = 0; i < N + 3; i++) expect(Math.abs(got![i]! - want[i]!), `N ${N} K ${K} at ${i}`).toBeLessThanOrEqual(1e-6 * (K + 1));
    }
  });

  it('lstmCellF32 and gruCellF32 match the scalar cells, with and without clip and Rbh', () => {
    const { k } = denseKernels();
    const r = rng(7);
    for (const H of [1, 3, 4, 5, 13, 64]) {
      for (const clip of [Infinity, 0.8]) {
        const g = random(4 * H, r, 4), c0 = random(H, r, 2), h0 = random(H, r, 1);
        const wc = c0.slice(), wh = h0.slice();
        lstmCellScalar(g, wc, wh, H, clip);
        const [, gc, gh] = inArena([g.slice(), c0.slice(), h0.slice()], ([gp, cp, hp]) => k.lstmCellF32(gp!, cp!, hp!, H, clip));
        for (let j = 0; j < H; j++) expect(Math.abs(gc![j]! - wc[j]!), `LSTM c, H ${H} clip ${clip}`).toBeLessThanOrEqual(1e-6);
        for (let j = 0; j < H; j++) expect(Math.abs(gh![j]! - wh[j]!), `LSTM h, H ${H} clip ${clip}`).toBeLessThanOrEqual(4e-7);
        for (const withRbh of [true, false]) {
          const gg = random(3 * H, r, 3), rr = random(3 * H, r, 3), rbh = random(H, r, 1), hh0 = random(H, r, 1);
          const want = hh0.slice();
          gruCellScalar(gg, rr, withRbh ? rbh : undefined, want, H, clip);
          const [, , , got] = inArena([gg, rr, rbh, hh0.slice()], ([gp, rp, bp, hp]) => k.gruCellF32(gp!, rp!, withRbh ? bp! : 0, hp!, H, clip));
          for (let j = 0; j < H; j++) expect(Math.abs(got![j]! - want[j]!), `GRU h, H ${H} clip ${clip} rbh ${withRbh}`).toBeLessThanOrEqual(4e-7);
        }
        // linear_before_reset = 0: the two halves around (r ⊙ h)·Rhᵀ
        const zr0 = random(2 * H, r, 3), g0 = random(3 * H, r, 3), h0b = random(H, r, 1), hh = random(H, r, 3);
        const wzr = zr0.slice(), wrh = new Float32Array(H), wh2 = h0b.slice();
        gruResetScalar(wzr, g0, h0b, wrh, H, clip);
        gruUpdateScalar(wzr, hh, g0, wh2, H, clip);
        const [gzr, , , grh] = inArena([zr0.slice(), g0, h0b.slice(), new Float32Array(H)], ([zp, gp, hp, rp]) => k.gruResetF32(zp!, gp!, hp!, rp!, H, clip));
        for (let j = 0; j < 2 * H; j++) expect(Math.abs(gzr![j]! - wzr[j]!), `GRU z, r, H ${H} clip ${clip}`).toBeLessThanOrEqual(2e-7);
        for (let j = 0; j < H; j++) expect(Math.abs(grh![j]! - wrh[j]!), `GRU r ⊙ h, H ${H} clip ${clip}`).toBeLessThanOrEqual(2e-7);
        const [, , , gh2] = inArena([wzr, hh, g0, h0b.slice()], ([zp, hp, gp, hq]) => k.gruUpdateF32(zp!, hp!, gp! + 8 * H, hq!, H, clip));
        for (let j = 0; j < H; j++) expect(Math.abs(gh2![j]! - wh2[j]!), `GRU h (reset before), H ${H} clip ${clip}`).toBeLessThanOrEqual(4e-7);
      }
    }
  });
});
