// Reductions for calibration: min/max (per tensor, per axis) and a histogram, one pass each.
// NaN is skipped (pmin/pmax keep the accumulator when the new value is NaN); an empty or
// all-NaN input gives min = +inf, max = -inf. Scalar twin: src/wasm/scalar/calibrate.ts.

/** min and max of `n` float32 at `src`, written as two f32 at `out`. */
export function minMax(src: usize, n: usize, out: usize): void {
  let vmin = f32x4.splat(Infinity);
  let vmax = f32x4.splat(-Infinity);
  let vmin2 = vmin;
  let vmax2 = vmax;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const a = v128.load(src + (i << 2));
    const b = v128.load(src + (i << 2), 16);
    vmin = f32x4.pmin(vmin, a);
    vmax = f32x4.pmax(vmax, a);
    vmin2 = f32x4.pmin(vmin2, b);
    vmax2 = f32x4.pmax(vmax2, b);
  }
  vmin = f32x4.pmin(vmin, vmin2);
  vmax = f32x4.pmax(vmax, vmax2);
  let mn = min(min(f32x4.extract_lane(vmin, 0), f32x4.extract_lane(vmin, 1)), min(f32x4.extract_lane(vmin, 2), f32x4.extract_lane(vmin, 3)));
  let mx = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; i < n; i++) {
    const x = load<f32>(src + (i << 2));
    if (x < mn) mn = x;
    if (x > mx) mx = x;
  }
  store<f32>(out, mn);
  store<f32>(out, mx, 4);
}

/** Per-channel min/max of a (outer, channels, inner) float32 tensor into `channels` f32 at outMin/outMax. */
export function minMaxPerAxis(src: usize, outer: usize, channels: usize, inner: usize, outMin: usize, outMax: usize): void {
  for (let c: usize = 0; c < channels; c++) {
    store<f32>(outMin + (c << 2), Infinity);
    store<f32>(outMax + (c << 2), -Infinity);
  }
  if (inner == 1) {
    for (let o: usize = 0; o < outer; o++) {
      const s = src + o * channels * 4;
      let c: usize = 0;
      for (; c + 4 <= channels; c += 4) {
        const x = v128.load(s + (c << 2));
        v128.store(outMin + (c << 2), f32x4.pmin(v128.load(outMin + (c << 2)), x));
        v128.store(outMax + (c << 2), f32x4.pmax(v128.load(outMax + (c << 2)), x));
      }
      for (; c < channels; c++) {
        const x = load<f32>(s + (c << 2));
        if (x < load<f32>(outMin + (c << 2))) store<f32>(outMin + (c << 2), x);
        if (x > load<f32>(outMax + (c << 2))) store<f32>(outMax + (c << 2), x);
      }
    }
    return;
  }
  const tmp = memory.data(8, 8);
  for (let o: usize = 0; o < outer; o++) {
    for (let c: usize = 0; c < channels; c++) {
      minMax(src + ((o * channels + c) * inner << 2), inner, tmp);
      const mn = load<f32>(tmp);
      const mx = load<f32>(tmp, 4);
      if (mn < load<f32>(outMin + (c << 2))) store<f32>(outMin + (c << 2), mn);
      if (mx > load<f32>(outMax + (c << 2))) store<f32>(outMax + (c << 2), mx);
    }
  }
}

/**
 * Add the `n` float32 at `src` to `bins` u32 counters at `counts` over [lo, hi]: bin =
 * floor((x - lo) * (bins / (hi - lo))) in float64, x == hi in the last bin; NaN and values outside
 * [lo, hi] are not counted. With hi == lo every x == lo lands in bin 0.
 */
export function histogram(src: usize, n: usize, bins: i32, lo: f32, hi: f32, counts: usize): void {
  if (!(hi > lo)) {
    for (let i: usize = 0; i < n; i++) {
      if (load<f32>(src + (i << 2)) == lo) store<u32>(counts, load<u32>(counts) + 1);
    }
    return;
  }
  const k: f64 = <f64>bins / (<f64>hi - <f64>lo);
  const last = bins - 1;
  for (let i: usize = 0; i < n; i++) {
    const x = load<f32>(src + (i << 2));
    if (!(x >= lo && x <= hi)) continue;
    let b = <i32>((<f64>x - <f64>lo) * k);
    if (b > last) b = last;
    const p = counts + (<usize>b << 2);
    store<u32>(p, load<u32>(p) + 1);
  }
}

/**
 * One channel row's `n` remaining float32 at `p` into its min / max at pMin / pMax, after the
 * row's partial sums (of squares, of values) and non-zero count; those then go into the f64
 * totals at pSq / pSum / pNonZero.
 */
@inline
function channelTail(p: usize, n: usize, pMin: usize, pMax: usize, pSq: usize, pSum: usize, pNonZero: usize, sq: f64, sum: f64, nonZero: i32): void {
  let lo = load<f32>(pMin);
  let hi = load<f32>(pMax);
  let q = sq;
  let s = sum;
  let nz = nonZero;
  for (let i: usize = 0; i < n; i++) {
    const x = load<f32>(p + (i << 2));
    lo = select<f32>(x, lo, x < lo);
    hi = select<f32>(x, hi, x > hi);
    const d = <f64>x;
    q += d * d;
    s += d;
    if (x != 0) nz++;
  }
  store<f32>(pMin, lo);
  store<f32>(pMax, hi);
  store<f64>(pSq, load<f64>(pSq) + q);
  store<f64>(pSum, load<f64>(pSum) + s);
  store<f64>(pNonZero, load<f64>(pNonZero) + <f64>nz);
}

/**
 * Per-channel min, max, sum of squares, sum and count of non-zero values (`x != 0`: NaN counts,
 * -0 does not) of a (outer, channels, inner) float32 tensor, added to `channels` f32 at outMin /
 * outMax and f64 at outSumSq / outSum / outNonZero (which hold the running values). The order of
 * every operation is that of the plain loops (src/wasm/scalar/calibrate.ts channelStatsScalar,
 * channelMomentsScalar): per channel and outer row, the squares and the values are summed in f64
 * from 0 in element order and the row's sums are then added to the channel's totals; four
 * channels go side by side, one per SIMD lane (a reordering across channels only, none within
 * one), so the results are bit-identical to those loops (a NaN sum's payload aside).
 */
export function channelStats(src: usize, outer: usize, channels: usize, inner: usize, outMin: usize, outMax: usize, outSumSq: usize, outSum: usize, outNonZero: usize): void {
  const inner4 = inner & ~(<usize>3);
  const zero = f32x4.splat(0);
  for (let o: usize = 0; o < outer; o++) {
    let c: usize = 0;
    for (; c + 4 <= channels; c += 4) {
      const p0 = src + ((o * channels + c) * inner << 2);
      const p1 = p0 + (inner << 2);
      const p2 = p1 + (inner << 2);
      const p3 = p2 + (inner << 2);
      // lane j = channel c + j: 4x4 blocks are transposed so that each lane sees its channel's
      // elements in order (pmin(lo, x) is `x < lo ? x : lo`, the loop's own comparison)
      let lo = v128.load(outMin + (c << 2));
      let hi = v128.load(outMax + (c << 2));
      let q01 = f64x2.splat(0);
      let q23 = f64x2.splat(0);
      let s01 = f64x2.splat(0);
      let s23 = f64x2.splat(0);
      let nz = i32x4.splat(0);
      for (let i: usize = 0; i < inner4; i += 4) {
        const q = i << 2;
        const r0 = v128.load(p0 + q);
        const r1 = v128.load(p1 + q);
        const r2 = v128.load(p2 + q);
        const r3 = v128.load(p3 + q);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        // the j-th element of each of the four rows, in order
        const x0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5);
        const x1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
        const x2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5);
        const x3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
        let a = f64x2.promote_low_f32x4(x0);
        let b = f64x2.promote_low_f32x4(v128.shuffle<f32>(x0, x0, 2, 3, 2, 3));
        lo = f32x4.pmin(lo, x0);
        hi = f32x4.pmax(hi, x0);
        q01 = f64x2.add(q01, f64x2.mul(a, a));
        q23 = f64x2.add(q23, f64x2.mul(b, b));
        s01 = f64x2.add(s01, a);
        s23 = f64x2.add(s23, b);
        nz = i32x4.sub(nz, f32x4.ne(x0, zero));
        a = f64x2.promote_low_f32x4(x1);
        b = f64x2.promote_low_f32x4(v128.shuffle<f32>(x1, x1, 2, 3, 2, 3));
        lo = f32x4.pmin(lo, x1);
        hi = f32x4.pmax(hi, x1);
        q01 = f64x2.add(q01, f64x2.mul(a, a));
        q23 = f64x2.add(q23, f64x2.mul(b, b));
        s01 = f64x2.add(s01, a);
        s23 = f64x2.add(s23, b);
        nz = i32x4.sub(nz, f32x4.ne(x1, zero));
        a = f64x2.promote_low_f32x4(x2);
        b = f64x2.promote_low_f32x4(v128.shuffle<f32>(x2, x2, 2, 3, 2, 3));
        lo = f32x4.pmin(lo, x2);
        hi = f32x4.pmax(hi, x2);
        q01 = f64x2.add(q01, f64x2.mul(a, a));
        q23 = f64x2.add(q23, f64x2.mul(b, b));
        s01 = f64x2.add(s01, a);
        s23 = f64x2.add(s23, b);
        nz = i32x4.sub(nz, f32x4.ne(x2, zero));
        a = f64x2.promote_low_f32x4(x3);
        b = f64x2.promote_low_f32x4(v128.shuffle<f32>(x3, x3, 2, 3, 2, 3));
        lo = f32x4.pmin(lo, x3);
        hi = f32x4.pmax(hi, x3);
        q01 = f64x2.add(q01, f64x2.mul(a, a));
        q23 = f64x2.add(q23, f64x2.mul(b, b));
        s01 = f64x2.add(s01, a);
        s23 = f64x2.add(s23, b);
        nz = i32x4.sub(nz, f32x4.ne(x3, zero));
      }
      v128.store(outMin + (c << 2), lo);
      v128.store(outMax + (c << 2), hi);
      // the last inner % 4 elements of each channel, in order, then the row's sums into the totals
      const tail = inner - inner4;
      channelTail(p0 + (inner4 << 2), tail, outMin + (c << 2), outMax + (c << 2), outSumSq + (c << 3), outSum + (c << 3), outNonZero + (c << 3), f64x2.extract_lane(q01, 0), f64x2.extract_lane(s01, 0), i32x4.extract_lane(nz, 0));
      channelTail(p1 + (inner4 << 2), tail, outMin + (c << 2) + 4, outMax + (c << 2) + 4, outSumSq + (c << 3) + 8, outSum + (c << 3) + 8, outNonZero + (c << 3) + 8, f64x2.extract_lane(q01, 1), f64x2.extract_lane(s01, 1), i32x4.extract_lane(nz, 1));
      channelTail(p2 + (inner4 << 2), tail, outMin + (c << 2) + 8, outMax + (c << 2) + 8, outSumSq + (c << 3) + 16, outSum + (c << 3) + 16, outNonZero + (c << 3) + 16, f64x2.extract_lane(q23, 0), f64x2.extract_lane(s23, 0), i32x4.extract_lane(nz, 2));
      channelTail(p3 + (inner4 << 2), tail, outMin + (c << 2) + 12, outMax + (c << 2) + 12, outSumSq + (c << 3) + 24, outSum + (c << 3) + 24, outNonZero + (c << 3) + 24, f64x2.extract_lane(q23, 1), f64x2.extract_lane(s23, 1), i32x4.extract_lane(nz, 3));
    }
    for (; c < channels; c++) channelTail(src + ((o * channels + c) * inner << 2), inner, outMin + (c << 2), outMax + (c << 2), outSumSq + (c << 3), outSum + (c << 3), outNonZero + (c << 3), 0, 0, 0);
  }
}
