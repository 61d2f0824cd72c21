// MaxPool / AveragePool over any number of spatial axes and any numeric dtype, with MaxPool's
// optional Indices: the plain typed-array path behind pool.ts's SIMD 1-D / 2-D float32 kernel.
import type { NumericArray } from '../../ir/dtypes.js';
import { shapeSize } from '../../ir/tensor.js';

/** Resolved geometry per spatial axis: kernel, stride, dilation, begin / end padding. */
export interface PoolWindow {
  k: number[];
  s: number[];
  d: number[];
  pb: number[];
  pe: number[];
}

export interface PoolNdOptions {
  isMax: boolean;
  countIncludePad: boolean;
  /** fill `indices` with each max's flat input index (0: row-major, 1: column-major spatial part) */
  indices?: BigInt64Array;
  storageOrder: number;
}

type PlainArray = Exclude<NumericArray, BigInt64Array | BigUint64Array>;

/** Pools x[NC, inp...] into y[NC, out...] (both the same numeric kind; averages are summed in float64). */
export function poolNd(x: PlainArray, NC: number, inp: number[], out: number[], w: PoolWindow, o: PoolNdOptions, y: PlainArray): void {
  const r = inp.length;
  const S = shapeSize(inp);
  const P = shapeSize(out);
  // Per axis and output index: the input coordinates its window covers, and how many taps the
  // average divides by (count_include_pad counts the padding but not taps beyond it, as ceil_mode adds).
  const taps: number[][][] = [];
  const counts: number[][] = [];
  for (let a = 0; a < r; a++) {
    const ta: number[][] = [];
    const ca: number[] = [];
    for (let q = 0; q < out[a]!; q++) {
      const list: number[] = [];
      let n = 0;
      for (let j = 0; j < w.k[a]!; j++) {
        const i = q * w.s[a]! - w.pb[a]! + j * w.d[a]!;
        if (i >= 0 && i < inp[a]!) list.push(i);
        if (o.countIncludePad ? i >= -w.pb[a]! && i < inp[a]! + w.pe[a]! : i >= 0 && i < inp[a]!) n++;
      }
      ta.push(list);
      ca.push(n);
    }
    taps.push(ta);
    counts.push(ca);
  }
  // Flat-offset multipliers of the input: row-major for the data, and for Indices either
  // the same or column-major (first spatial axis fastest) as storage_order asks.
  const rowStride = new Array<number>(r);
  const idxStride = new Array<number>(r);
  for (let a = r - 1, acc = 1; a >= 0; a--) {
    rowStride[a] = acc;
    acc *= inp[a]!;
  }
  for (let a = 0, acc = 1; a < r; a++) {
    idxStride[a] = o.storageOrder === 1 ? acc : rowStride[a]!;
    acc *= inp[a]!;
  }
  // Each output position's window as a list of flat offsets into one channel (and the Indices
  // value of each tap), shared by all channels.
  const begin = new Int32Array(P + 1);
  const offs: number[] = [];
  const idxs: number[] = [];
  const count = new Float64Array(P);
  const q = new Array<number>(r).fill(0);
  const pos = new Array<number>(r);
  const lists = new Array<number[]>(r);
  for (let p = 0; p < P; p++) {
    let n = 1;
    let empty = false;
    for (let a = 0; a < r; a++) {
      lists[a] = taps[a]![q[a]!]!;
      n *= counts[a]![q[a]!]!;
      if (!lists[a]!.length) empty = true;
    }
    count[p] = n;
    begin[p] = offs.length;
    if (!empty) {
      pos.fill(0);
      for (;;) {
        let off = 0;
        let idx = 0;
        for (let a = 0; a < r; a++) {
          const i = lists[a]![pos[a]!]!;
          off += i * rowStride[a]!;
          idx += i * idxStride[a]!;
        }
        offs.push(off);
        idxs.push(idx);
        let a = r - 1;
        for (; a >= 0 && ++pos[a]! === lists[a]!.length; a--) pos[a] = 0;
        if (a < 0) break;
      }
    }
    for (let a = r - 1; a >= 0 && ++q[a]! === out[a]!; a--) q[a] = 0;
  }
  begin[P] = offs.length;
  const ind = o.indices;
  for (let c = 0; c < NC; c++) {
    const xb = c * S;
    const yb = c * P;
    for (let p = 0; p < P; p++) {
      const t0 = begin[p]!;
      const t1 = begin[p + 1]!;
      if (o.isMax && t0 === t1) {
        // a dilated window can straddle the input without a tap in it: nothing to take the max of
        y[yb + p] = -Infinity;
        if (ind) ind[yb + p] = -1n;
      } else if (o.isMax) {
        // the first tap is always taken, so an all -Infinity window still names a position
        let best = x[xb + offs[t0]!]!;
        let bt = t0;
        for (let t = t0 + 1; t < t1; t++) {
          const v = x[xb + offs[t]!]!;
          if (v > best) {
            best = v;
            bt = t;
          }
        }
        y[yb + p] = best;
        if (ind) ind[yb + p] = BigInt(xb + idxs[bt]!);
      } else {
        let sum = 0;
        for (let t = t0; t < t1; t++) sum += x[xb + offs[t]!]!;
        y[yb + p] = sum / count[p]!;
      }
    }
  }
}
