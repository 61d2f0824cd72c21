// Gemm and MatMul on the packed SIMD GEMM of assembly/kernels/gemm.ts, plus the plumbing the
// conv and pool glue share: typed access to the kernel exports and packed-operand caching.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, type Node } from '../../ir/graph.js';
import { Tensor, shapeSize, type Shape } from '../../ir/tensor.js';
import type { WasmArena } from '../../wasm/arena.js';
import { kernels } from '../../wasm/loader.js';
import { defineOp, type OpTable } from '../op.js';

/** The exports of assembly/kernels/{gemm,conv,pool}.ts; pointers are byte addresses. */
export interface DenseKernels {
  gemmMR(): number;
  gemmNR(): number;
  gemmScratchBytes(): number;
  gemmPackA(src: number, rs: number, cs: number, M: number, K: number, alpha: number, dst: number): void;
  gemmPackB(src: number, rs: number, cs: number, K: number, N: number, dst: number): void;
  /** actMin/actMax: the fused activation's clamp (-Infinity, Infinity for none) */
  sgemmPacked(
    M: number, N: number, K: number, aPack: number, bPack: number, c: number, ldc: number, bias: number, accumulate: number, scratch: number,
    actMin: number, actMax: number,
  ): void;
  conv2dGemm(
    x: number, C: number, H: number, W: number, aPack: number, M: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, col: number, nChunk: number, scratch: number,
    actMin: number, actMax: number,
  ): void;
  depthwiseConv2d(
    x: number, C: number, H: number, W: number, w: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, pad: number,
    actMin: number, actMax: number,
  ): void;
  col2imAdd(col: number, M: number, H: number, W: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number): void;
  pool2d(
    x: number, C: number, H: number, W: number, y: number, OH: number, OW: number, kh: number, kw: number, sh: number, sw: number,
    pt: number, pl: number, dh: number, dw: number, isMax: number, invH: number, invW: number, pad: number,
  ): void;
  globalPool(x: number, NC: number, HW: number, y: number, isMax: number): void;
}

export interface Dense {
  k: DenseKernels;
  arena: WasmArena;
  MR: number;
  NR: number;
}

let dense: Dense | undefined;

export function denseKernels(): Dense {
  if (dense) return dense;
  const { exports, arena } = kernels();
  const k = exports as unknown as DenseKernels;
  dense = { k, arena, MR: k.gemmMR(), NR: k.gemmNR() };
  return dense;
}

/** The float32 data of an input, or UnsupportedError naming the op and the dtype. */
export function float32Data(t: Tensor, op: string, what: string): Float32Array {
  if (t.dtype !== 'float32') throw new UnsupportedError(`${op} on ${t.dtype}`, `${what} must be float32`);
  return t.data as Float32Array;
}

export function requireInput(inputs: ReadonlyArray<Tensor | undefined>, i: number, what: string): Tensor {
  const t = inputs[i];
  if (!t) throw new ShapeError(`missing required input ${i} (${what})`);
  return t;
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

export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** C[M,N] = alpha * op(A) * op(B) (+ C when accumulate), operands given as element strides. */
interface Operand {
  t: Tensor;
  /** element offset, row and column strides of op(t) */
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

interface GemmAttrs {
  alpha: number;
  beta: number;
  transA: boolean;
  transB: boolean;
}

const Gemm = defineOp<GemmAttrs>({
  attrs(node: Node): GemmAttrs {
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    if (attrInt(node, 'broadcast', 1) === 0) throw new UnsupportedError('Gemm broadcast=0', 'only opset-7+ broadcasting of C is implemented');
    return { alpha: attrFloat(node, 'alpha', 1), beta: attrFloat(node, 'beta', 1), transA: ta !== 0, transB: tb !== 0 };
  },
  run(inputs, at) {
    const A = requireInput(inputs, 0, 'A');
    const B = requireInput(inputs, 1, 'B');
    const C = inputs[2];
    float32Data(A, 'Gemm', 'A');
    float32Data(B, 'Gemm', 'B');
    if (C) float32Data(C, 'Gemm', 'C');
    if (A.rank !== 2 || B.rank !== 2) throw new ShapeError(`Gemm needs 2-D A and B, got [${A.shape.join(', ')}] and [${B.shape.join(', ')}]`);
    const [M, K] = at.transA ? [A.shape[1]!, A.shape[0]!] : [A.shape[0]!, A.shape[1]!];
    const [Kb, N] = at.transB ? [B.shape[1]!, B.shape[0]!] : [B.shape[0]!, B.shape[1]!];
    if (K !== Kb) throw new ShapeError(`Gemm inner dimensions differ: op(A) is [${M}, ${K}], op(B) is [${Kb}, ${N}]`);
    if (C) {
      const ok = C.rank <= 2 && C.shape.every((dim, i) => dim === 1 || dim === [M, N][i + 2 - C.rank]);
      if (!ok) throw new ShapeError(`Gemm C of shape [${C.shape.join(', ')}] does not broadcast to [${M}, ${N}]`);
    }
    const out = new Float32Array(M * N);
    if (M * N === 0) return [new Tensor('float32', [M, N], out)];
    const useC = C !== undefined && at.beta !== 0;
    if (useC) broadcastRows(C!, M, N, at.beta, out);
    if (K === 0) return [new Tensor('float32', [M, N], out)];
    const d = denseKernels();
    const a: Operand = { t: A, off: 0, rs: at.transA ? 1 : K, cs: at.transA ? M : 1 };
    const b: Operand = { t: B, off: 0, rs: at.transB ? 1 : N, cs: at.transB ? K : 1 };
    // Before the scratch: packing a weight the second time it is seen allocates persistent memory.
    a.pre = persistentPack(d, A, `A${+at.transA}:${at.alpha}`, roundUp(M, d.MR) * K, packA(d, a, M, K, at.alpha));
    b.pre = persistentPack(d, B, `B${+at.transB}`, roundUp(N, d.NR) * K, packB(d, b, K, N));
    d.arena.scoped(() => {
      const c = copyInF32(d.arena, out);
      gemmInto(d, a, b, M, N, K, at.alpha, c, useC);
      out.set(d.arena.f32(c, M * N));
    });
    return [new Tensor('float32', [M, N], out)];
  },
});

/** out[M,N] = beta * C broadcast (C of rank <= 2). */
function broadcastRows(C: Tensor, M: number, N: number, beta: number, out: Float32Array): void {
  const c = C.data as Float32Array;
  const cm = C.rank === 2 ? C.shape[0]! : 1;
  const cn = C.rank >= 1 ? C.shape[C.rank - 1]! : 1;
  for (let i = 0; i < M; i++) {
    const r = cm === 1 ? 0 : i * cn;
    for (let j = 0; j < N; j++) out[i * N + j] = beta * c[r + (cn === 1 ? 0 : j)]!;
  }
}

/** numpy broadcasting of two batch shapes. */
function broadcastBatch(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError(`MatMul batch dimensions [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Offset (in matrices) of batch index `i` of `out` within a broadcast operand of batch shape `s`. */
function batchOffset(i: number, out: readonly number[], s: Shape): number {
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

const MatMul = defineOp({
  attrs: () => ({}),
  run(inputs) {
    const A = requireInput(inputs, 0, 'A');
    const B = requireInput(inputs, 1, 'B');
    float32Data(A, 'MatMul', 'A');
    float32Data(B, 'MatMul', 'B');
    if (A.rank === 0 || B.rank === 0) throw new ShapeError('MatMul operands must have rank >= 1');
    // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dimension is dropped after.
    const aShape = A.rank === 1 ? [1, A.shape[0]!] : A.shape;
    const bShape = B.rank === 1 ? [B.shape[0]!, 1] : B.shape;
    const M = aShape[aShape.length - 2]!;
    const K = aShape[aShape.length - 1]!;
    const Kb = bShape[bShape.length - 2]!;
    const N = bShape[bShape.length - 1]!;
    if (K !== Kb) throw new ShapeError(`MatMul inner dimensions differ: [${A.shape.join(', ')}] x [${B.shape.join(', ')}]`);
    const aBatch = aShape.slice(0, -2);
    const bBatch = bShape.slice(0, -2);
    const batch = broadcastBatch(aBatch, bBatch);
    const outShape = [...batch, ...(A.rank === 1 ? [] : [M]), ...(B.rank === 1 ? [] : [N])];
    const out = new Float32Array(shapeSize(batch) * M * N);
    if (out.length === 0 || K === 0) return [new Tensor('float32', outShape, out)];
    const d = denseKernels();
    const shared = bBatch.every((x) => x === 1) && shapeSize(aBatch) === shapeSize(batch);
    const rows = shapeSize(batch) * M;
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
        const nb = shapeSize(batch);
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
      out.set(d.arena.f32(c, out.length));
    });
    return [new Tensor('float32', outShape, out)];
  },
});

export const GEMM_OPS: OpTable = { Gemm, MatMul };
