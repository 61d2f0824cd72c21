import { rng } from '../../support/rng.js';
export { rng };
/**
 * Plain scalar twins of the SIMD kernels (conv, conv-transpose, pooling, gemm): the obvious
 * loops over ONNX's definitions, with resolved geometry, used as the reference in tests.
 */
export interface Geometry2d {
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; pt: number; pl: number;
}

/** y[N, M, OH, OW] of a grouped conv of x[N, C, H, W] with w[M, C/G, kh, kw]. */
export function convRef(
  x: Float32Array, [N, C, H, W]: number[], w: Float32Array, M: number, G: number, bias: Float32Array | undefined,
  g: Geometry2d, OH: number, OW: number,
): Float32Array {
  const y = new Float32Array(N * M * OH * OW);
  const Cg = C / G, Mg = M / G;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const grp = Math.floor(m / Mg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias ? bias[m]! : 0;
          for (let c = 0; c < Cg; c++)
            for (let ky = 0; ky < g.kh; ky++)
              for (let kx = 0; kx < g.kw; kx++) {
                const ih = oh * g.sh - g.pt + ky * g.dh;
                const iw = ow * g.sw - g.pl + kx * g.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[((n * C + grp * Cg + c) * H + ih) * W + iw]! * w[((m * Cg + c) * g.kh + ky) * g.kw + kx]!;
              }
          y[((n * M + m) * OH + oh) * OW + ow] = acc;
        }
    }
  return y;
}

/** y[N, M, OH, OW] of a grouped transposed conv of x[N, C, H, W] with w[C, M/G, kh, kw]. */
export function convTransposeRef(
  x: Float32Array, [N, C, H, W]: number[], w: Float32Array, M: number, G: number, bias: Float32Array | undefined,
  g: Geometry2d, OH: number, OW: number,
): Float32Array {
  const y = new Float32Array(N * M * OH * OW);
  const Cg = C / G, Mg = M / G;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) for (let i = 0; i < OH * OW; i++) y[(n * M + m) * OH * OW + i] = bias ? bias[m]! : 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const grp = Math.floor(c / Cg);
      for (let mo = 0; mo < Mg; mo++)
        for (let ih = 0; ih < H; ih++)
          for (let iw = 0; iw < W; iw++)
            for (let ky = 0; ky < g.kh; ky++)
              for (let kx = 0; kx < g.kw; kx++) {
                const oh = ih * g.sh - g.pt + ky * g.dh;
                const ow = iw * g.sw - g.pl + kx * g.dw;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                const m = grp * Mg + mo;
                y[((n * M + m) * OH + oh) * OW + ow]! += x[((n * C + c) * H + ih) * W + iw]! * w[((c * Mg + mo) * g.kh + ky) * g.kw + kx]!;
              }
    }
  return y;
}

/** Max or average pooling of x[P, H, W] (P = N*C planes); `lo/hi` bound the taps that count for the average. */
export function poolRef(
  x: Float32Array, P: number, H: number, W: number, g: Geometry2d, OH: number, OW: number, isMax: boolean,
  countBounds: { top: number; bottom: number; left: number; right: number },
): Float32Array {
  const y = new Float32Array(P * OH * OW);
  for (let p = 0; p < P; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let acc = isMax ? -Infinity : 0;
        let count = 0;
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const ih = oh * g.sh - g.pt + ky * g.dh;
            const iw = ow * g.sw - g.pl + kx * g.dw;
            if (ih >= countBounds.top && ih < countBounds.bottom && iw >= countBounds.left && iw < countBounds.right) count++;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const v = x[(p * H + ih) * W + iw]!;
            acc = isMax ? Math.max(acc, v) : acc + v;
          }
        y[(p * OH + oh) * OW + ow] = isMax ? acc : acc / count;
      }
  return y;
}

/** C[M,N] = A[M,K] * B[K,N] with element strides (so transposes are strides). */
export function gemmRef(a: Float32Array, aRs: number, aCs: number, b: Float32Array, bRs: number, bCs: number, M: number, N: number, K: number): Float32Array {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * aRs + k * aCs]! * b[k * bRs + j * bCs]!;
      c[i * N + j] = s;
    }
  return c;
}


export function randomF32(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** Largest violation of |a - b| <= abs + rel * |b| (<= 0 means all close), plus shape of the worst. */
export function worstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, rel = 1e-4, abs = 1e-5): { excess: number; index: number } {
  if (a.length !== b.length) return { excess: Infinity, index: -1 };
  let excess = -Infinity, index = -1;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!) - (abs + rel * Math.abs(b[i]!));
    const bad = Number.isNaN(a[i]!) !== Number.isNaN(b[i]!) ? Infinity : e;
    if (bad > excess) {
      excess = bad;
      index = i;
    }
  }
  return { excess: a.length ? excess : -1, index };
}
