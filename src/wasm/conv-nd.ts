// Conv and ConvTranspose over any number of spatial axes (NC + D1..Dr, float32): im2col /
// col2im generalised to N-d in TS around the packed SIMD GEMM. dense.ts keeps the fast 1-D
// and 2-D paths; the runtime's Conv hands every other spatial rank to these.
import { shapeSize, type Tensor } from '../ir/tensor.js';
import { copyInF32, denseKernels, packedOperand, persistentPack, roundUp, type Dense } from './dense.js';

/** Resolved geometry per spatial axis: kernel, stride, dilation, begin padding. */
export interface WindowNd {
  k: number[];
  s: number[];
  d: number[];
  pb: number[];
}

/**
 * For every kernel tap (c-less: the r-d kernel offset) and output position, the flat input
 * offset within one channel or -1 where the tap lands in the padding. Shared by all channels,
 * so the im2col inner loop is a gather.
 */
function tapOffsets(inp: number[], out: number[], w: WindowNd): Int32Array {
  const r = inp.length;
  const kTaps = shapeSize(w.k);
  const P = shapeSize(out);
  const inStrides = new Array<number>(r);
  for (let i = r - 1, acc = 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= inp[i]!;
  }
  const off = new Int32Array(kTaps * P);
  const kIdx = new Array<number>(r).fill(0);
  const oIdx = new Array<number>(r);
  for (let t = 0; t < kTaps; t++) {
    oIdx.fill(0);
    for (let p = 0; p < P; p++) {
      let o = 0;
      for (let i = 0; i < r; i++) {
        const x = oIdx[i]! * w.s[i]! - w.pb[i]! + kIdx[i]! * w.d[i]!;
        if (x < 0 || x >= inp[i]!) {
          o = -1;
          break;
        }
        o += x * inStrides[i]!;
      }
      off[t * P + p] = o;
      for (let i = r - 1; i >= 0 && ++oIdx[i]! === out[i]!; i--) oIdx[i] = 0;
    }
    for (let i = r - 1; i >= 0 && ++kIdx[i]! === w.k[i]!; i--) kIdx[i] = 0;
  }
  return off;
}

/**
 * y[N, M, out...] of a grouped conv of x[N, C, inp...] with weights Wt[M, C/G, k...], plus
 * bias, clamped to [actMin, actMax] in the GEMM's store.
 */
export function convNd(
  x: Float32Array, N: number, C: number, inp: number[], Wt: Tensor, M: number, G: number, bias: Float32Array | undefined,
  w: WindowNd, out: number[], actMin: number, actMax: number,
): Float32Array {
  const d = denseKernels();
  const { k: kern, arena, MR, NR } = d;
  const Cg = C / G;
  const Mg = M / G;
  const kTaps = shapeSize(w.k);
  const K = Cg * kTaps;
  const P = shapeSize(out);
  const S = shapeSize(inp);
  const off = tapOffsets(inp, out, w);
  const wFloats = roundUp(Mg, MR) * K;
  const packW = (g: number) => (src: number, dst: number) => kern.gemmPackA(src + g * Mg * K * 4, K, 1, Mg, K, 1, dst);
  const pre = Array.from({ length: G }, (_, g) => persistentPack(d, Wt, `conv:${g}`, wFloats, packW(g)));
  const size = N * M * P;
  return arena.scoped(() => {
    const yp = arena.alloc(size * 4);
    // ~256 KiB of im2col columns per chunk, as in the 2-D kernel
    const nChunk = Math.min(roundUp(P, NR), Math.max(NR, Math.floor(65536 / K / NR) * NR));
    const colp = arena.alloc(K * nChunk * 4);
    const bPack = arena.alloc(roundUp(nChunk, NR) * K * 4);
    const scratch = arena.alloc(kern.gemmScratchBytes());
    const biasp = Array.from({ length: G }, (_, g) => groupBiasNd(d, bias, g, Mg));
    for (let g = 0; g < G; g++) {
      const aPack = packedOperand(d, Wt, pre[g], wFloats, packW(g));
      for (let n = 0; n < N; n++) {
        const xBase = (n * C + g * Cg) * S;
        for (let p0 = 0; p0 < P; p0 += nChunk) {
          const nc = Math.min(nChunk, P - p0);
          // the arena may grow (and detach views) only in alloc: views taken here stay valid
          const col = arena.f32(colp, K * nc);
          for (let c = 0; c < Cg; c++) {
            const xc = xBase + c * S;
            for (let t = 0; t < kTaps; t++) {
              const row = (c * kTaps + t) * nc;
              const ot = t * P + p0;
              for (let p = 0; p < nc; p++) {
                const o = off[ot + p]!;
                col[row + p] = o < 0 ? 0 : x[xc + o]!;
              }
            }
          }
          kern.gemmPackB(colp, nc, 1, K, nc, bPack);
          kern.sgemmPacked(Mg, nc, K, aPack, bPack, yp + ((n * M + g * Mg) * P + p0) * 4, P, biasp[g]!, 0, scratch, actMin, actMax);
        }
      }
    }
    return arena.f32(yp, size).slice();
  });
}

function groupBiasNd(d: Dense, bias: Float32Array | undefined, g: number, Mg: number): number {
  if (!bias) return 0;
  return copyInF32(d.arena, bias.subarray(g * Mg, (g + 1) * Mg), roundUp(Mg, d.MR));
}

/**
 * Adds into y[N, M, out...] (holding the bias) the transposed conv of x[N, C, inp...] with
 * weights Wt[C, M/G, k...]: per group a GEMM Wt^T x X into columns, then an N-d col2im.
 */
export function convTransposeNd(x: Float32Array, N: number, C: number, inp: number[], Wt: Tensor, M: number, G: number, w: WindowNd, out: number[], y: Float32Array): void {
  const d = denseKernels();
  const { k: kern, arena, MR, NR } = d;
  const Cg = C / G;
  const Mg = M / G;
  const kTaps = shapeSize(w.k);
  const Mk = Mg * kTaps;
  const S = shapeSize(inp);
  const P = shapeSize(out);
  // col2im is im2col read backwards: the same tap table with input and output swapped.
  const off = tapOffsets(out, inp, { k: w.k, s: w.s, d: w.d, pb: w.pb });
  const packT = (g: number) => (src: number, dst: number) => kern.gemmPackA(src + g * Cg * Mk * 4, 1, Mk, Mk, Cg, 1, dst);
  const pre = Array.from({ length: G }, (_, g) => persistentPack(d, Wt, `convT:${g}`, roundUp(Mk, MR) * Cg, packT(g)));
  arena.scoped(() => {
    const xp = copyInF32(arena, x);
    const colp = arena.alloc(Mk * S * 4);
    const bPack = arena.alloc(roundUp(S, NR) * Cg * 4);
    const scratch = arena.alloc(kern.gemmScratchBytes());
    for (let g = 0; g < G; g++) {
      const aPack = packedOperand(d, Wt, pre[g], roundUp(Mk, MR) * Cg, packT(g));
      for (let n = 0; n < N; n++) {
        kern.gemmPackB(xp + (n * C + g * Cg) * S * 4, S, 1, Cg, S, bPack);
        kern.sgemmPacked(Mk, S, Cg, aPack, bPack, colp, S, 0, 0, scratch, -Infinity, Infinity);
        const col = arena.f32(colp, Mk * S);
        for (let m = 0; m < Mg; m++) {
          const yBase = (n * M + g * Mg + m) * P;
          for (let t = 0; t < kTaps; t++) {
            const row = (m * kTaps + t) * S;
            const ot = t * S;
            for (let i = 0; i < S; i++) {
              const o = off[ot + i]!;
              if (o >= 0) y[yBase + o]! += col[row + i]!;
            }
          }
        }
      }
    }
  });
}
