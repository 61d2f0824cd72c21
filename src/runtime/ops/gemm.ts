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
  sgemmPacked(M: number, N: number, K: number, aPack: number, bPack: number, c: number, ldc: number, bias: number, accumulate: number, scratch: number): void;
  conv2dGemm(
    x: number, C: number, H: number, W: number, aPack: number, M: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, col: number, nChunk: number, scratch: number,
  ): void;
  depthwiseConv2d(
    x: number, C: number, H: number, W: number, w: number, bias: number, y: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, pad: number,
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

// Packed operands of tensors seen more than once (weights): packed once, then copied in.
// A tensor seen for the first time (usually an activation) is packed straight into the arena.
const packed = new WeakMap<Tensor, Map<string, Float32Array>>();
const seen = new WeakSet<Tensor>();

/**
 * Arena pointer to `t`'s data packed by `pack(srcPtr, dstPtr)` into `floats` floats. `key`
 * must identify everything besides `t` that the packing depends on.
 */
export function packedOperand(
  d: Dense, t: Tensor, key: string, floats: number, pack: (src: number, dst: number) => void, src?: number,
): number {
  const hit = packed.get(t)?.get(key);
  if (hit) return copyInF32(d.arena, hit);
  const dst = d.arena.alloc(floats * 4);
  if (src !== undefined) pack(src, dst);
  else d.arena.scoped(() => pack(copyInF32(d.arena, t.data as Float32Array), dst));
  if (seen.has(t)) {
    let m = packed.get(t);
    if (!m) packed.set(t, (m = new Map()));
    m.set(key, d.arena.f32(dst, floats).slice());
  } else {
    seen.add(t);
  }
  return dst;
}

export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** C[M,N] = alpha * op(A) * op(B) (+ C when accumulate), operands given as element strides. */
function gemmInto(
  d: Dense, a: Tensor, aOff: number, aRs: number, aCs: number, b: Tensor, bOff: number, bRs: number, bCs: number,
  M: number, N: number, K: number, alpha: number, c: number, accumulate: boolean, aKey: string, bKey: string,
  aSrc?: number, bSrc?: number,
): void {
  const { k, arena, MR, NR } = d;
  const aPack = packedOperand(d, a, aKey, roundUp(M, MR) * K, (src, dst) => k.gemmPackA(src + aOff * 4, aRs, aCs, M, K, alpha, dst), aSrc);
  const bPack = packedOperand(d, b, bKey, roundUp(N, NR) * K, (src, dst) => k.gemmPackB(src + bOff * 4, bRs, bCs, K, N, dst), bSrc);
  const scratch = arena.alloc(k.gemmScratchBytes());
  k.sgemmPacked(M, N, K, aPack, bPack, c, N, 0, accumulate ? 1 : 0, scratch);
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
    d.arena.scoped(() => {
      const c = copyInF32(d.arena, out);
      gemmInto(
        d, A, 0, at.transA ? 1 : K, at.transA ? M : 1, B, 0, at.transB ? 1 : N, at.transB ? K : 1,
        M, N, K, at.alpha, c, useC, `A${+at.transA}:${at.alpha}`, `B${+at.transB}`,
      );
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
    d.arena.scoped(() => {
      const c = d.arena.alloc(out.length * 4);
      if (bBatch.every((x) => x === 1) && shapeSize(aBatch) === shapeSize(batch)) {
        // B is one matrix shared by every batch: fold A's batch into its rows, one GEMM.
        const rows = shapeSize(batch) * M;
        gemmInto(d, A, 0, K, 1, B, 0, N, 1, rows, N, K, 1, c, false, 'A', 'B');
      } else {
        const nb = shapeSize(batch);
        const aSrc = copyInF32(d.arena, A.data as Float32Array);
        const bSrc = copyInF32(d.arena, B.data as Float32Array);
        for (let i = 0; i < nb; i++) {
          const ao = batchOffset(i, batch, aBatch);
          const bo = batchOffset(i, batch, bBatch);
          d.arena.scoped(() =>
            gemmInto(d, A, ao * M * K, K, 1, B, bo * K * N, N, 1, M, N, K, 1, c + i * M * N * 4, false, `A${ao}`, `B${bo}`, aSrc, bSrc),
          );
        }
      }
      out.set(d.arena.f32(c, out.length));
    });
    return [new Tensor('float32', outShape, out)];
  },
});

export const GEMM_OPS: OpTable = { Gemm, MatMul };
