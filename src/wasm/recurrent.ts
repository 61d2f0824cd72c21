// The step loop of LSTM / GRU / RNN (src/runtime/ops/recurrent.ts) in WASM memory: the
// recurrence weights packed once as the GEMM's B panels (the same persistent copies gemmF32
// keeps), the step's state and gate buffers allocated once per direction, and the kernels of
// assembly/kernels/recurrent.ts run on them in place, so that a time step copies nothing
// between JS and WASM but the input projection's row and the output row.
import type { Tensor } from '../ir/tensor.js';
import { denseKernels, packedOperand, persistentPack, roundUp } from './dense.js';

/** The step kernels over arena buffers. Every Float32Array here is a view of WASM memory. */
export interface StepKernels {
  /** the buffers asked for, in order, zero-filled */
  readonly buffers: Float32Array[];
  /** y[N, rows] += x[N, K] · W[w]ᵀ (x, y: buffers, rows of y `rows` floats apart) */
  mulAddT(w: number, x: Float32Array, y: Float32Array): void;
  /** v[from, to) = sigmoid(clip(v)) / tanh(clip(v)) in place (clip = Infinity: none) */
  sigmoid(v: Float32Array, from: number, to: number, clip: number): void;
  tanh(v: Float32Array, from: number, to: number, clip: number): void;
  /** LSTM step of one row, default activations, no peepholes: gates at g[go, go+4H), c, h at offset so */
  lstmCell(g: Float32Array, go: number, c: Float32Array, h: Float32Array, so: number, clip: number): void;
  /** GRU (linear_before_reset) step of one row, default activations: g, r at go (3H), h at so, rbh [H] or undefined */
  gruCell(g: Float32Array, r: Float32Array, go: number, rbh: Float32Array | undefined, h: Float32Array, so: number, clip: number): void;
  /**
   * GRU (linear_before_reset = 0) step of one row, default activations, in two halves around
   * (r ⊙ h)·Rhᵀ: zr at zo (2H, holding H·[Rz Rr]ᵀ) becomes z, r and rh at so = r ⊙ h; then h at so
   * = (1 - z) ⊙ tanh(hh + the projection's h block at go + 2H) + z ⊙ h.
   */
  gruReset(zr: Float32Array, zo: number, g: Float32Array, go: number, h: Float32Array, rh: Float32Array, so: number, clip: number): void;
  gruUpdate(zr: Float32Array, zo: number, hh: Float32Array, g: Float32Array, go: number, h: Float32Array, so: number, clip: number): void;
}

const at = (v: Float32Array, i = 0): number => v.byteOffset + i * 4;

/**
 * Run `run` with the recurrence weights `weights` (each [rows, K], row-major as ONNX stores R)
 * packed in WASM memory and `sizes` float buffers allocated there, for a batch of N rows.
 * Nothing may allocate in the arena inside `run` (the views would detach when memory grows).
 */
export function withStepKernels<T>(N: number, K: number, H: number, weights: readonly Tensor[], sizes: readonly number[], run: (s: StepKernels) => T): T {
  const d = denseKernels();
  const { k, arena, MR, NR } = d;
  // B[k, n] = W[n, k]: packed as gemmF32 packs a transB weight, under the same key
  const packOf = (w: Tensor) => (src: number, dst: number) => k.gemmPackB(src, 1, K, K, w.shape[0]!, dst);
  const floats = (w: Tensor): number => roundUp(w.shape[0]!, NR) * K;
  const pre = weights.map((w) => persistentPack(d, w, 'B1', floats(w), packOf(w)));
  return arena.scoped(() => {
    const bPack = weights.map((w, i) => packedOperand(d, w, pre[i], floats(w), packOf(w)));
    const ptrs = sizes.map((n) => arena.alloc(Math.max(n, 1) * 4));
    const aPack = N > 2 ? arena.alloc(roundUp(N, MR) * K * 4) : 0;
    const scratch = arena.alloc(k.gemmScratchBytes());
    // views last: an allocation may grow the memory and detach earlier ones
    const buffers = sizes.map((n, i) => arena.f32(ptrs[i]!, n).fill(0));
    const rowsOf = weights.map((w) => w.shape[0]!);
    const s: StepKernels = {
      buffers,
      mulAddT(w, x, y) {
        const rows = rowsOf[w]!;
        if (rows === 0 || K === 0) return;
        // one or two rows: a GEMV per row (the GEMM's 4-row tiles would be mostly padding:
        // at batch 2 the GEMV pair measured 1.2-1.4x faster; from 3 rows on the GEMM is as fast or faster)
        if (N <= 2) {
          for (let b = 0; b < N; b++) k.sgemvPacked(rows, K, at(x, b * K), bPack[w]!, at(y, b * rows));
          return;
        }
        k.gemmPackA(at(x), K, 1, N, K, 1, aPack);
        k.sgemmPacked(N, rows, K, aPack, bPack[w]!, at(y), rows, 0, 1, scratch, -Infinity, Infinity);
      },
      sigmoid: (v, from, to, clip) => k.sigmoidF32(at(v, from), to - from, clip),
      tanh: (v, from, to, clip) => k.tanhF32(at(v, from), to - from, clip),
      lstmCell: (g, go, c, h, so, clip) => k.lstmCellF32(at(g, go), at(c, so), at(h, so), H, clip),
      gruCell: (g, r, go, rbh, h, so, clip) => k.gruCellF32(at(g, go), at(r, go), rbh ? at(rbh) : 0, at(h, so), H, clip),
      gruReset: (zr, zo, g, go, h, rh, so, clip) => k.gruResetF32(at(zr, zo), at(g, go), at(h, so), at(rh, so), H, clip),
      gruUpdate: (zr, zo, hh, g, go, h, so, clip) => k.gruUpdateF32(at(zr, zo), at(hh, so), at(g, go + 2 * H), at(h, so), H, clip),
    };
    return run(s);
  });
}
