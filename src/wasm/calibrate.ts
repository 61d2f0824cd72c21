// Calibration statistics on the SIMD kernels (assembly/kernels/calibrate.ts): min/max per tensor
// and per axis, and histograms. NaN is ignored; an empty or all-NaN input gives min = +inf,
// max = -inf (scaleZeroPointFromMinMax turns that into the zero range).
import { ShapeError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { kernels } from './loader.js';
import { axisBlocks, DEFAULT_CHUNK_BYTES, normAxis, splitAtAxis, stageIn, wasmPointer } from './kernel-io.js';
import type { MinMax } from './scalar/calibrate.js';

export type { MinMax } from './scalar/calibrate.js';

export interface ReduceOptions {
  /** Largest input, in bytes, moved into WASM memory at once. */
  chunkBytes?: number;
}

function float32Of(x: Tensor | Float32Array, what: string): Float32Array {
  if (x instanceof Float32Array) return x;
  if (x.dtype !== 'float32') throw new ShapeError(`${what}: expected float32, got ${x.dtype}`);
  return x.data as Float32Array;
}

/**
 * The elements in some order, for reductions that do not depend on it (min / max, histogram): a
 * deferred permutation (Tensor.permute: the runtime's values of a channels-last graph run
 * lowered to NCHW) is reduced over its source as it is, without making the permuted copy.
 */
function elementsOf(x: Tensor | Float32Array, what: string): Float32Array {
  if (!(x instanceof Float32Array) && x.dtype === 'float32') {
    const v = x.deferred;
    if (v && v.source instanceof Float32Array && v.source.length === x.size) return v.source;
  }
  return float32Of(x, what);
}

function chunkElems(k: ReturnType<typeof kernels>, data: Float32Array, opts: ReduceOptions): number {
  return wasmPointer(k, data) !== undefined ? Math.max(1, data.length) : Math.max(16, Math.floor((opts.chunkBytes ?? DEFAULT_CHUNK_BYTES) / 4));
}

// The ranges of kernel outputs taken while they were still in WASM memory, before their copy
// out (runGraph's `ranges` option, for calibration): minMax of such an output then reads nothing
// again. Held for one step of a run only (the executor turns recording off after the step's
// values are observed), so an entry never outlives its array's contents.
const recorded = new Map<Float32Array, MinMax>();
let recording = false;

/** Start (or stop) noting the range of every kernel output; either way forgets those noted. */
export function recordOutputRanges(on: boolean): void {
  recording = on;
  if (recorded.size) recorded.clear();
}

/**
 * Kernel glue (src/wasm/dense.ts, elementwise.ts): `out` is, or is about to be, a copy of the
 * `n` float32 at WASM `ptr`; while recording, their range is taken there, in place. Call it
 * before making views of the memory (it allocates 8 bytes of scratch).
 */
export function noteOutputRange(ptr: number, n: number, out: Float32Array): void {
  if (!recording || n === 0 || out.length !== n) return;
  const k = kernels();
  const mark = k.arena.mark();
  try {
    const o = k.arena.alloc(8);
    k.exports.minMax(ptr, n, o);
    const r = k.arena.f32(o, 2);
    recorded.set(out, { min: r[0]! + 0, max: r[1]! + 0 });
  } finally {
    k.arena.release(mark);
  }
}

/** Smallest and largest value (NaN ignored; -0 reported as +0). */
export function minMax(x: Tensor | Float32Array, opts: ReduceOptions = {}): MinMax {
  const data = elementsOf(x, 'minMax');
  const noted = recorded.size ? recorded.get(data) : undefined;
  if (noted) return { ...noted };
  const k = kernels();
  const fn = k.exports.minMax;
  let mn = Infinity;
  let mx = -Infinity;
  const inPtr = wasmPointer(k, data);
  const mark = k.arena.mark();
  try {
    for (const b of axisBlocks(1, 1, data.length, chunkElems(k, data, opts))) {
      const src = inPtr !== undefined ? inPtr + b.offset * 4 : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      const out = k.arena.alloc(8);
      fn(src, b.count, out);
      const r = k.arena.f32(out, 2);
      if (r[0]! < mn) mn = r[0]!;
      if (r[1]! > mx) mx = r[1]!;
      k.arena.release(mark);
    }
  } finally {
    k.arena.release(mark);
  }
  return { min: mn + 0, max: mx + 0 };
}

/** Per-channel min and max along `axis` (e.g. 0 for OIHW weights, -1 for activations in NHWC). */
export function minMaxPerAxis(x: Tensor, axis: number, opts: ReduceOptions = {}): { min: Float32Array; max: Float32Array } {
  const data = float32Of(x, 'minMaxPerAxis');
  const a = normAxis(axis, x.rank, 'minMaxPerAxis');
  const [outer, channels, inner] = splitAtAxis(x.shape, a);
  const mn = new Float32Array(channels).fill(Infinity);
  const mx = new Float32Array(channels).fill(-Infinity);
  minMaxInto(data, outer, channels, inner, mn, mx, opts);
  for (let c = 0; c < channels; c++) {
    mn[c] = mn[c]! + 0;
    mx[c] = mx[c]! + 0;
  }
  return { min: mn, max: mx };
}

/**
 * Adds a (outer, channels, inner) float32 array to running per-channel min / max (NaN skipped):
 * channelStats without the squares, for the samples whose squares are not wanted. The array is
 * moved into WASM memory in pieces unless it is there already.
 */
export function channelMinMax(data: Float32Array, outer: number, channels: number, inner: number, acc: { min: Float32Array; max: Float32Array }, opts: ReduceOptions = {}): void {
  if (outer * channels * inner !== data.length) throw new ShapeError(`channelMinMax: ${outer} x ${channels} x ${inner} does not match ${data.length} elements`);
  if (acc.min.length !== channels || acc.max.length !== channels) throw new ShapeError(`channelMinMax: the statistics must have ${channels} channels`);
  if (data.length) minMaxInto(data, outer, channels, inner, acc.min, acc.max, opts);
}

function minMaxInto(data: Float32Array, outer: number, channels: number, inner: number, mn: Float32Array, mx: Float32Array, opts: ReduceOptions): void {
  const k = kernels();
  const fn = k.exports.minMaxPerAxis;
  const inPtr = wasmPointer(k, data);
  const mark = k.arena.mark();
  try {
    for (const b of axisBlocks(outer, channels, inner, chunkElems(k, data, opts))) {
      const src = inPtr !== undefined ? inPtr + b.offset * 4 : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      const pm = k.arena.alloc(b.channels * 4);
      const px = k.arena.alloc(b.channels * 4);
      fn(src, b.outer, b.channels, b.inner, pm, px);
      const rm = k.arena.f32(pm, b.channels);
      const rx = k.arena.f32(px, b.channels);
      for (let c = 0; c < b.channels; c++) {
        if (rm[c]! < mn[b.c + c]!) mn[b.c + c] = rm[c]!;
        if (rx[c]! > mx[b.c + c]!) mx[b.c + c] = rx[c]!;
      }
      k.arena.release(mark);
    }
  } finally {
    k.arena.release(mark);
  }
}

/** Running per-channel statistics: min, max and the sum of squares (float64) of each channel. */
export interface ChannelStats {
  min: Float32Array;
  max: Float32Array;
  sumSquares: Float64Array;
}

/** Running per-channel sums and counts of non-zero values (float64, like the plain loop's). */
export interface ChannelMoments {
  sum: Float64Array;
  nonZero: Float64Array;
}

/**
 * Add a (outer, channels, inner) float32 array to per-channel running statistics `acc` (min /
 * max as `if (x < lo) lo = x`, NaN skipped; squares summed in float64 per channel and outer
 * row, then added to the channel's total): bit-identical to the plain loop
 * (scalar/calibrate.ts channelStatsScalar), a NaN sum's payload aside. The array is moved into
 * WASM memory in pieces of whole channels unless it is there already. With `moments`, the
 * per-channel sums and non-zero counts (`x !== 0`) are added to it from the same pieces,
 * bit-identical to scalar/calibrate.ts channelMomentsScalar.
 */
export function channelStats(data: Float32Array, outer: number, channels: number, inner: number, acc: ChannelStats, opts: ReduceOptions = {}, moments?: ChannelMoments): void {
  if (outer * channels * inner !== data.length) throw new ShapeError(`channelStats: ${outer} x ${channels} x ${inner} does not match ${data.length} elements`);
  if (acc.min.length !== channels || acc.max.length !== channels || acc.sumSquares.length !== channels) throw new ShapeError(`channelStats: the statistics must have ${channels} channels`);
  if (moments && (moments.sum.length !== channels || moments.nonZero.length !== channels)) throw new ShapeError(`channelStats: the moments must have ${channels} channels`);
  if (!data.length) return;
  const k = kernels();
  const fn = k.exports.channelStats;
  const inPtr = wasmPointer(k, data);
  const mark = k.arena.mark();
  try {
    const pm = k.arena.copyIn(acc.min);
    const px = k.arena.copyIn(acc.max);
    const ps = k.arena.copyIn(acc.sumSquares);
    // without `moments` the kernel's sums and counts go to scratch
    const psum = moments ? k.arena.copyIn(moments.sum) : k.arena.copyIn(new Float64Array(channels));
    const pnz = moments ? k.arena.copyIn(moments.nonZero) : k.arena.copyIn(new Float64Array(channels));
    const m2 = k.arena.mark();
    // a channel's row is never split: its squares are summed in one go, as the plain loop does
    for (const b of axisBlocks(outer, channels, inner, Math.max(chunkElems(k, data, opts), inner))) {
      const src = inPtr !== undefined ? inPtr + b.offset * 4 : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      fn(src, b.outer, b.channels, b.inner, pm + b.c * 4, px + b.c * 4, ps + b.c * 8, psum + b.c * 8, pnz + b.c * 8);
      k.arena.release(m2);
    }
    acc.min.set(k.arena.f32(pm, channels));
    acc.max.set(k.arena.f32(px, channels));
    acc.sumSquares.set(k.arena.f64(ps, channels));
    if (moments) {
      moments.sum.set(k.arena.f64(psum, channels));
      moments.nonZero.set(k.arena.f64(pnz, channels));
    }
  } finally {
    k.arena.release(mark);
  }
}

export interface HistogramOptions extends ReduceOptions {
  /** Add to these counts (length = bins) instead of starting from zero: one histogram over many batches. */
  counts?: Uint32Array;
}

/**
 * Counts of the values in [lo, hi] over `bins` equal-width bins (the last bin includes hi, like
 * numpy.histogram); NaN and values outside the range are not counted. One pass over the data.
 */
export function histogram(x: Tensor | Float32Array, bins: number, lo: number, hi: number, opts: HistogramOptions = {}): Uint32Array {
  const data = elementsOf(x, 'histogram');
  if (!Number.isInteger(bins) || bins < 1) throw new ShapeError(`histogram: bins must be a positive integer, got ${bins}`);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo)) throw new ShapeError(`histogram: bad range [${lo}, ${hi}]`);
  const counts = opts.counts ?? new Uint32Array(bins);
  if (counts.length !== bins) throw new ShapeError(`histogram: counts has ${counts.length} bins, expected ${bins}`);
  const k = kernels();
  const fn = k.exports.histogram;
  const inPtr = wasmPointer(k, data);
  const mark = k.arena.mark();
  try {
    const pc = k.arena.copyIn(counts);
    const m2 = k.arena.mark();
    for (const b of axisBlocks(1, 1, data.length, chunkElems(k, data, opts))) {
      const src = inPtr !== undefined ? inPtr + b.offset * 4 : stageIn(k, data.subarray(b.offset, b.offset + b.count));
      fn(src, b.count, bins, lo, hi, pc);
      k.arena.release(m2);
    }
    counts.set(k.arena.u32(pc, bins));
  } finally {
    k.arena.release(mark);
  }
  return counts;
}
