// The dense float32 kernels (assembly/kernels/{gemm,conv,pool}.ts) behind plain functions:
// GEMM / MatMul, 1-D and 2-D Conv and ConvTranspose, pooling. This file owns their WASM memory:
// operands are copied into the arena, packed, run and copied out; weights seen more than once
// keep their packed copies in persistent arena memory. Callers (src/runtime/ops/) validate
// shapes and compute the geometry; nothing here reads a node or an attribute.
import type { Tensor } from '../ir/tensor.js';
import type { WasmArena } from './arena.js';
import type { KernelExports } from './bindings.js';
import { noteOutputRange } from './calibrate.js';
import { copyOutF32 } from './host-buffers.js';
import { kernels } from './loader.js';
import { PoolKind } from './opcodes.js';

export interface Dense {
  k: KernelExports;
  arena: WasmArena;
  MR: number;
  NR: number;
}

let dense: Dense | undefined;

/** The GEMM kernels with their panel sizes (for the tests that drive them directly). */
export function denseKernels(): Dense {
  if (dense) return dense;
  const { exports: k, arena } = kernels();
  dense = { k, arena, MR: k.gemmMR(), NR: k.gemmNR() };
  return dense;
}

export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Copy a float32 array into the arena (allocating at least `minFloats`, zero tail). */
export function copyInF32(arena: WasmArena, src: Float32Array, minFloats = 0): number {
  const n = Math.max(src.length, minFloats);
  const p = arena.alloc(n * 4);
  const v = arena.f32(p, n);
  v.set(src);
  if (n > src.length) v.fill(0, src.length);
  return p;
}

// Packed operands of tensors seen more than once (weights) live in persistent arena memory,
// packed once and freed with their tensor; a run then copies only the activations.
// A tensor seen for the first time (usually an activation) is packed into scratch by the caller.
const packed = new WeakMap<Tensor, Map<string, number>>();
const seen = new WeakSet<Tensor>();

/**
 * Persistent arena pointer to `t`'s data packed by `pack(srcPtr, dstPtr)` into `floats`
 * floats, or undefined the first time `t` is seen (pack it into scratch then). `key` must
 * identify everything besides `t` that the packing depends on. Call it before allocating
 * the op's scratch: a persistent block above scratch would pin that scratch.
 */
export function persistentPack(d: Dense, t: Tensor, key: string, floats: number, pack: (src: number, dst: number) => void): number | undefined {
  const hit = packed.get(t)?.get(key);
  if (hit !== undefined) return hit;
  if (!seen.has(t)) {
    seen.add(t);
    return undefined;
  }
  const dst = d.arena.allocPersistent(floats * 4, t);
  d.arena.scoped(() => pack(copyInF32(d.arena, t.data as Float32Array), dst));
  let m = packed.get(t);
  if (!m) packed.set(t, (m = new Map()));
  m.set(key, dst);
  return dst;
}

/** `pre` (a persistentPack result) or `t` packed into fresh scratch (from `src` when already in the arena). */
export function packedOperand(d: Dense, t: Tensor, pre: number | undefined, floats: number, pack: (src: number, dst: number) => void, src?: number): number {
  if (pre !== undefined) return pre;
  const dst = d.arena.alloc(floats * 4);
  if (src !== undefined) pack(src, dst);
  else d.arena.scoped(() => pack(copyInF32(d.arena, t.data as Float32Array), dst));
  return dst;
}

// ---- GEMM and MatMul ----

/** One GEMM operand: op(t) at element offset `off` with row and column strides `rs`, `cs`. */
interface Operand {
  t: Tensor;
  off: number;
  rs: number;
  cs: number;
  /** persistentPack's result, when the caller asked before its scratch */
  pre?: number;
  /** t's data already in the arena */
  src?: number;
}

const packA = (d: Dense, a: Operand, M: number, K: number, alpha: number) => (src: number, dst: number) => d.k.gemmPackA(src + a.off * 4, a.rs, a.cs, M, K, alpha, dst);
const packB = (d: Dense, b: Operand, K: number, N: number) => (src: number, dst: number) => d.k.gemmPackB(src + b.off * 4, b.rs, b.cs, K, N, dst);

/** C[M,N] = alpha * op(A) * op(B) (+ C when accumulate), C with row stride N. */
function gemmInto(d: Dense, a: Operand, b: Operand, M: number, N: number, K: number, alpha: number, c: number, accumulate: boolean): void {
  const { k, arena, MR, NR } = d;
  const aPack = packedOperand(d, a.t, a.pre, roundUp(M, MR) * K, packA(d, a, M, K, alpha), a.src);
  const bPack = packedOperand(d, b.t, b.pre, roundUp(N, NR) * K, packB(d, b, K, N), b.src);
  const scratch = arena.alloc(k.gemmScratchBytes());
  k.sgemmPacked(M, N, K, aPack, bPack, c, N, 0, accumulate ? 1 : 0, scratch, -Infinity, Infinity);
}

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
}

/**
 * out[M,N] = alpha * op(A) * op(B) (+ out when accumulate), A and B float32 2-D tensors (op =
 * transpose when trans*). K > 0. Weights (a tensor seen again) stay packed across calls.
 */
export function gemmF32(A: Tensor, B: Tensor, s: GemmShape, out: Float32Array, accumulate: boolean): void {
  const { M, N, K } = s;
  const d = denseKernels();
  const a: Operand = { t: A, off: 0, rs: s.transA ? 1 : K, cs: s.transA ? M : 1 };
  const b: Operand = { t: B, off: 0, rs: s.transB ? 1 : N, cs: s.transB ? K : 1 };
  // Before the scratch: packing a weight the second time it is seen allocates persistent memory.
  a.pre = persistentPack(d, A, `A${+s.transA}:${s.alpha}`, roundUp(M, d.MR) * K, packA(d, a, M, K, s.alpha));
  b.pre = persistentPack(d, B, `B${+s.transB}`, roundUp(N, d.NR) * K, packB(d, b, K, N));
  d.arena.scoped(() => {
    const c = copyInF32(d.arena, out);
    gemmInto(d, a, b, M, N, K, s.alpha, c, accumulate);
    noteOutputRange(c, M * N, out);
    out.set(d.arena.f32(c, M * N));
  });
}

export interface MatMulShape {
  M: number;
  N: number;
  K: number;
  /** batch shapes of A and B (numpy-broadcast to `batch`) and the output's */
  aBatch: readonly number[];
  bBatch: readonly number[];
  batch: readonly number[];
}

const product = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** Offset (in matrices) of batch index `i` of `out` within a broadcast operand of batch shape `s`. */
function batchOffset(i: number, out: readonly number[], s: readonly number[]): number {
  let off = 0;
  let stride = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    const idx = i % out[d]!;
    i = Math.floor(i / out[d]!);
    const sd = d - (out.length - s.length);
    if (sd >= 0) {
      if (s[sd]! !== 1) off += idx * stride;
      stride *= s[sd]!;
    }
  }
  return off;
}

/** out[batch..., M, N] = A[aBatch..., M, K] x B[bBatch..., K, N] (float32, K > 0, out not empty). */
export function matmulF32(A: Tensor, B: Tensor, s: MatMulShape, out: Float32Array): void {
  const { M, N, K, aBatch, bBatch, batch } = s;
  const d = denseKernels();
  const shared = bBatch.every((x) => x === 1) && product(aBatch) === product(batch);
  const rows = product(batch) * M;
  const a: Operand = { t: A, off: 0, rs: K, cs: 1 };
  const b: Operand = { t: B, off: 0, rs: N, cs: 1 };
  if (shared) {
    a.pre = persistentPack(d, A, `A:${rows}`, roundUp(rows, d.MR) * K, packA(d, a, rows, K, 1));
    b.pre = persistentPack(d, B, 'B', roundUp(N, d.NR) * K, packB(d, b, K, N));
  }
  d.arena.scoped(() => {
    const c = d.arena.alloc(out.length * 4);
    if (shared) {
      // B is one matrix shared by every batch: fold A's batch into its rows, one GEMM.
      gemmInto(d, a, b, rows, N, K, 1, c, false);
    } else {
      const nb = product(batch);
      const aSrc = copyInF32(d.arena, A.data as Float32Array);
      const bSrc = copyInF32(d.arena, B.data as Float32Array);
      for (let i = 0; i < nb; i++) {
        const ao = batchOffset(i, batch, aBatch);
        const bo = batchOffset(i, batch, bBatch);
        d.arena.scoped(() =>
          gemmInto(d, { t: A, off: ao * M * K, rs: K, cs: 1, src: aSrc }, { t: B, off: bo * K * N, rs: N, cs: 1, src: bSrc }, M, N, K, 1, c + i * M * N * 4, false),
        );
      }
    }
    noteOutputRange(c, out.length, out);
    out.set(d.arena.f32(c, out.length));
  });
}

// ---- 1-D and 2-D convolution (1-D as H = 1) ----

/** A 2-D window over NCHW data: input, output, kernel, stride, dilation and begin pads. */
export interface Conv2dGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  /** output channels and groups */
  M: number;
  G: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
}

/** Bias of group g's rows, padded to a multiple of MR; 0 when there is no bias. */
function groupBias(d: Dense, bias: Float32Array | undefined, g: number, Mg: number): number {
  if (!bias) return 0;
  return copyInF32(d.arena, bias.subarray(g * Mg, (g + 1) * Mg), roundUp(Mg, d.MR));
}

/**
 * y[N, M, OH, OW] = clamp(conv(x[N, C, H, W], W[M, C/G, kh, kw]) + bias, actMin, actMax):
 * im2col + packed GEMM per group, or the direct SIMD kernel when depthwise. Cg * kh * kw > 0.
 */
export function conv2dF32(x: Float32Array, Wt: Tensor, bias: Float32Array | undefined, g: Conv2dGeometry, actMin: number, actMax: number): Float32Array {
  const { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl } = g;
  const Cg = C / G;
  const Mg = M / G;
  const K = Cg * kh * kw;
  const size = N * M * OH * OW;
  const d = denseKernels();
  const { k: kern, arena, MR, NR } = d;
  const depthwise = G === C && M === C && G > 1;
  // Weights packed for the kernels live in persistent memory from their second use on:
  // asked for before this op's scratch is allocated (see persistentPack).
  const wFloats = depthwise ? Wt.size : roundUp(Mg, MR) * K;
  const packW = (gi: number) => (src: number, dst: number) => {
    if (depthwise) arena.f32(dst, wFloats).set(arena.f32(src, wFloats));
    else kern.gemmPackA(src + gi * Mg * K * 4, K, 1, Mg, K, 1, dst);
  };
  const pre = Array.from({ length: depthwise ? 1 : G }, (_, gi) => persistentPack(d, Wt, depthwise ? 'dw' : `conv:${gi}`, wFloats, packW(gi)));
  return arena.scoped(() => {
    const xp = copyInF32(arena, x);
    // 16 bytes of slack: the depthwise kernel rounds ragged rows up to 4 floats
    const yp = arena.alloc(size * 4 + 16);
    if (depthwise) {
      const wp = packedOperand(d, Wt, pre[0], wFloats, packW(0));
      const bp = bias ? copyInF32(arena, bias) : 0;
      const PH = (OH - 1) * sh + (kh - 1) * dh + 1;
      const PW = (OW - 1) * sw + (kw - 1) * dw + 1;
      // the padded plane with its 8 floats of slack, then one padded row for the stride-2 split
      const pad = arena.alloc((PH * PW + 8 + PW + 8) * 4);
      for (let n = 0; n < N; n++) {
        kern.depthwiseConv2d(xp + n * C * H * W * 4, C, H, W, wp, bp, yp + n * M * OH * OW * 4, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, pad, actMin, actMax);
      }
    } else {
      // ~256 KiB of im2col columns per chunk: the chunk stays in L2 while all of W passes over it.
      const nChunk = Math.min(roundUp(OH * OW, NR), Math.max(NR, Math.floor(65536 / K / NR) * NR));
      const col = arena.alloc(K * nChunk * 4);
      const scratch = arena.alloc(kern.gemmScratchBytes());
      for (let gi = 0; gi < G; gi++) {
        const aPack = packedOperand(d, Wt, pre[gi], wFloats, packW(gi));
        const bp = groupBias(d, bias, gi, Mg);
        for (let n = 0; n < N; n++) {
          kern.conv2dGemm(
            xp + (n * C + gi * Cg) * H * W * 4, Cg, H, W, aPack, Mg, bp, yp + (n * M + gi * Mg) * OH * OW * 4, OH, OW,
            kh, kw, sh, sw, pt, pl, dh, dw, col, nChunk, scratch, actMin, actMax,
          );
        }
      }
    }
    // a reused host array, or one copy into fresh memory without zero-filling it first
    const y = copyOutF32(kernels(), yp, size);
    noteOutputRange(yp, size, y);
    return y;
  });
}

/**
 * Adds into y[N, M, OH, OW] (holding the bias) the transposed conv of x[N, C, H, W] with
 * weights W[C, M/G, kh, kw]: per group a GEMM W^T x X into columns, then col2im.
 */
export function convTranspose2dF32(x: Float32Array, Wt: Tensor, g: Conv2dGeometry, y: Float32Array): void {
  const { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl } = g;
  const Cg = C / G;
  const Mg = M / G;
  const HW = H * W;
  const plane = OH * OW;
  const Mk = Mg * kh * kw;
  const d = denseKernels();
  const { k: kern, arena, MR, NR } = d;
  const packT = (gi: number) => (src: number, dst: number) => kern.gemmPackA(src + gi * Cg * Mk * 4, 1, Mk, Mk, Cg, 1, dst);
  const preT = Array.from({ length: G }, (_, gi) => persistentPack(d, Wt, `convT:${gi}`, roundUp(Mk, MR) * Cg, packT(gi)));
  arena.scoped(() => {
    const xp = copyInF32(arena, x);
    const yp = copyInF32(arena, y);
    const col = arena.alloc(Mk * HW * 4);
    const bPack = arena.alloc(roundUp(HW, NR) * Cg * 4);
    const scratch = arena.alloc(kern.gemmScratchBytes());
    for (let gi = 0; gi < G; gi++) {
      // col[(m, ky, kx), (ih, iw)] = sum over c of W[c, m, ky, kx] * X[c, ih, iw]: A is W transposed.
      const aPack = packedOperand(d, Wt, preT[gi], roundUp(Mk, MR) * Cg, packT(gi));
      for (let n = 0; n < N; n++) {
        kern.gemmPackB(xp + (n * C + gi * Cg) * HW * 4, HW, 1, Cg, HW, bPack);
        kern.sgemmPacked(Mk, HW, Cg, aPack, bPack, col, HW, 0, 0, scratch, -Infinity, Infinity);
        kern.col2imAdd(col, Mg, H, W, yp + (n * M + gi * Mg) * plane * 4, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw);
      }
    }
    noteOutputRange(yp, y.length, y);
    y.set(arena.f32(yp, y.length));
  });
}

// ---- pooling ----

/** A 2-D pooling window over [NC, H, W] planes, with begin pads. */
export interface Pool2dGeometry {
  NC: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
}

/**
 * Max or average pooling of x[NC, H, W] into y[NC, OH, OW]. For an average, `invH[oh] * invW[ow]`
 * is the window's divisor (the caller decides what counts: count_include_pad); unused for max.
 */
export function pool2dF32(x: Float32Array, g: Pool2dGeometry, kind: PoolKind, invH: Float32Array, invW: Float32Array, y: Float32Array): void {
  const { NC, H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl } = g;
  const { k, arena } = denseKernels();
  arena.scoped(() => {
    const xp = copyInF32(arena, x);
    const yp = arena.alloc(y.length * 4);
    const ih = copyInF32(arena, invH);
    const iw = copyInF32(arena, invW);
    const PH = (OH - 1) * sh + (kh - 1) * dh + 1;
    const PW = (OW - 1) * sw + (kw - 1) * dw + 1;
    const pad = arena.alloc((PH * PW + 8) * 4);
    k.pool2d(xp, NC, H, W, yp, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, kind, ih, iw, pad);
    noteOutputRange(yp, y.length, y);
    y.set(arena.f32(yp, y.length));
  });
}

/** y[i] = mean or max of x[i*HW .. (i+1)*HW) for i < NC (HW > 0). */
export function globalPoolF32(x: Float32Array, NC: number, HW: number, kind: PoolKind, y: Float32Array): void {
  const { k, arena } = denseKernels();
  arena.scoped(() => {
    const xp = copyInF32(arena, x);
    const yp = arena.alloc(NC * 4);
    k.globalPool(xp, NC, HW, yp, kind);
    noteOutputRange(yp, NC, y);
    y.set(arena.f32(yp, NC));
  });
}
