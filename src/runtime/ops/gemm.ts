// Gemm and MatMul (ONNX semantics, float32) on the packed SIMD GEMM behind src/wasm/dense.ts,
// plus the input checks the conv and pool glue share.
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { gemmDefs, type GemmAttrs } from '../../ir/ops/index.js';
import { Tensor, shapeSize, type Shape } from '../../ir/tensor.js';
import { gemmF32, matmulF32 } from '../../wasm/dense.js';
import { defineOp, type OpTable } from '../op.js';

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

const Gemm = defineOp<GemmAttrs>({
  attrs: gemmDefs.Gemm.attrs,
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
    gemmF32(A, B, { M, N, K, transA: at.transA, transB: at.transB, alpha: at.alpha }, out, useC);
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

const MatMul = defineOp({
  attrs: gemmDefs.MatMul.attrs,
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
    matmulF32(A, B, { M, N, K, aBatch, bBatch, batch }, out);
    return [new Tensor('float32', outShape, out)];
  },
});

export const GEMM_OPS: OpTable = { Gemm, MatMul };
