// GPTQ weight rounding on the SIMD kernels (assembly/kernels/gptq.ts): input Hessians summed in
// float64 accumulators that stay in WASM memory while the calibration passes run, the upper
// Cholesky factor of H^-1, and the blocked column sweep. Scalar twins: scalar/gptq.ts.
import { ShapeError } from '../ir/errors.js';
import { kernels } from './loader.js';

/** Columns per lazy-batch block of the sweep: its errors (rows x block float64) stay in cache. */
const SWEEP_BLOCK = 64;

/**
 * Float64 accumulators (one per Hessian block, zeroed) in WASM memory, allocated at once and held
 * until free() (or until the object is collected), so that each add is one kernel call on rows
 * copied in, never a copy of the accumulator.
 */
export class HessianAccumulators {
  private ptr: number | undefined;
  private readonly offsets: number[] = [];

  constructor(readonly sizes: readonly number[]) {
    const k = kernels();
    let total = 0;
    for (const n of sizes) {
      this.offsets.push(total);
      total += n;
    }
    this.ptr = k.arena.allocPersistent(total * 8, this);
    k.arena.f64(this.ptr, total).fill(0);
  }

  private at(index: number): number {
    if (this.ptr === undefined) throw new ShapeError('Hessian accumulators used after free()');
    return this.ptr + this.offsets[index]! * 8;
  }

  /**
   * Add X^T X (lower triangle) of column ranges of the `rows` float32 rows of x (row r at r·ld):
   * per target, columns [lo, lo + K) into accumulator `index` (K x K).
   */
  addRows(x: Float32Array, rows: number, ld: number, targets: readonly { index: number; lo: number; K: number }[]): void {
    if (!rows) return;
    if (x.length < rows * ld) throw new ShapeError(`hessianAdd: ${rows} rows of ${ld} need ${rows * ld} floats, got ${x.length}`);
    const k = kernels();
    const mark = k.arena.mark();
    try {
      // 8 floats past the last row: the kernel reads whole 8-column tiles
      const px = k.arena.alloc((rows * ld + 8) * 4);
      k.arena.f32(px, rows * ld).set(x.subarray(0, rows * ld));
      for (const t of targets) {
        if (t.lo < 0 || t.lo + t.K > ld || this.sizes[t.index] !== t.K * t.K) throw new ShapeError(`hessianAdd: columns [${t.lo}, ${t.lo + t.K}) of ${ld} into a block of ${this.sizes[t.index]}`);
        k.exports.hessianAdd(px + t.lo * 4, rows, t.K, ld, this.at(t.index));
      }
    } finally {
      k.arena.release(mark);
    }
  }

  /** Add per channel the T x T products of v ((rows, T, C) float32) into accumulator `index` ((T, T, C)). */
  addChannels(index: number, v: Float32Array, rows: number, T: number, C: number): void {
    if (!rows) return;
    if (v.length < rows * T * C || this.sizes[index] !== T * T * C) throw new ShapeError(`hessianAddChannels: ${rows} x ${T} x ${C} into a block of ${this.sizes[index]}`);
    const k = kernels();
    const mark = k.arena.mark();
    try {
      const pv = k.arena.alloc(rows * T * C * 4);
      k.arena.f32(pv, rows * T * C).set(v.subarray(0, rows * T * C));
      k.exports.hessianAddChannels(pv, rows, T, C, this.at(index));
    } finally {
      k.arena.release(mark);
    }
  }

  /** A copy of accumulator `index`. */
  read(index: number): Float64Array {
    return Float64Array.from(kernels().arena.f64(this.at(index), this.sizes[index]!));
  }

  free(): void {
    if (this.ptr !== undefined) kernels().arena.freePersistent(this.ptr);
    this.ptr = undefined;
  }
}

/**
 * Cholesky factor U (upper triangular) of H^-1 for H symmetric positive definite (lower triangle
 * read, n × n); undefined when H is not positive definite.
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | undefined {
  if (H.length < n * n) throw new ShapeError(`upperCholeskyOfInverse: ${n} x ${n} needs ${n * n} values, got ${H.length}`);
  if (!n) return new Float64Array(0);
  const k = kernels();
  const mark = k.arena.mark();
  try {
    const bytes = n * n * 8;
    // the scratch rows padded so that their stride is never a multiple of 4 KiB
    const ld = n + 3;
    const ph = k.arena.alloc(bytes);
    k.arena.f64(ph, n * n).set(H.subarray(0, n * n));
    const pl = k.arena.alloc(n * ld * 8);
    const pt = k.arena.alloc(n * ld * 8);
    const pu = k.arena.alloc(bytes);
    if (!k.exports.upperCholeskyOfInverse(ph, n, pl, pt, pu, ld)) return undefined;
    return Float64Array.from(k.arena.f64(pu, n * n));
  } finally {
    k.arena.release(mark);
  }
}

/**
 * GPTQ rounding of W, given transposed (Wt: n × rows float64, column i of W at i · rows; left as
 * it was), to int8 q = clamp(round half away(w / scale[row]), -127, 127) column by column, each
 * column's error spread over the later ones through U (the upper factor of H^-1, n × n). The
 * integers come transposed too (n × rows).
 */
export function gptqRound(Wt: Float64Array, rows: number, n: number, scales: Float64Array, U: Float64Array): Int8Array {
  if (Wt.length < rows * n || scales.length < rows || U.length < n * n) throw new ShapeError(`gptqRound: W ${rows} x ${n}, ${scales.length} scales, U of ${U.length}`);
  if (!rows || !n) return new Int8Array(rows * n);
  const k = kernels();
  const mark = k.arena.mark();
  try {
    const block = Math.min(SWEEP_BLOCK, n);
    const pw = k.arena.alloc(rows * n * 8);
    k.arena.f64(pw, rows * n).set(Wt.subarray(0, rows * n));
    const ps = k.arena.alloc(rows * 8);
    k.arena.f64(ps, rows).set(scales.subarray(0, rows));
    const pu = k.arena.alloc(n * n * 8);
    k.arena.f64(pu, n * n).set(U.subarray(0, n * n));
    const pq = k.arena.alloc(rows * n);
    const pe = k.arena.alloc((rows + 16) * block * 8);
    const pk = k.arena.alloc(block * n * 8);
    k.exports.gptqRound(pw, rows, n, ps, pu, pq, pe, block, pk);
    return Int8Array.from(k.arena.i8(pq, rows * n));
  } finally {
    k.arena.release(mark);
  }
}
