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
 * Per-channel min, max and sum of squares of a (outer, channels, inner) float32 tensor, added to
 * `channels` f32 at outMin / outMax and f64 at outSumSq (which hold the running values). The
 * order of every operation is that of the plain loop (src/wasm/scalar/calibrate.ts,
 * channelStatsScalar): per channel and outer row, the squares are summed in f64 from 0 in element
 * order and the row's sum is then added to the channel's total; four channels go side by side
 * as independent chains (instruction-level parallelism, not a reordering), so the results are
 * bit-identical to that loop.
 */
export function channelStats(src: usize, outer: usize, channels: usize, inner: usize, outMin: usize, outMax: usize, outSumSq: usize): void {
  for (let o: usize = 0; o < outer; o++) {
    let c: usize = 0;
    for (; c + 4 <= channels; c += 4) {
      const p0 = src + ((o * channels + c) * inner << 2);
      const p1 = p0 + (inner << 2);
      const p2 = p1 + (inner << 2);
      const p3 = p2 + (inner << 2);
      let lo0 = load<f32>(outMin + (c << 2));
      let lo1 = load<f32>(outMin + (c << 2), 4);
      let lo2 = load<f32>(outMin + (c << 2), 8);
      let lo3 = load<f32>(outMin + (c << 2), 12);
      let hi0 = load<f32>(outMax + (c << 2));
      let hi1 = load<f32>(outMax + (c << 2), 4);
      let hi2 = load<f32>(outMax + (c << 2), 8);
      let hi3 = load<f32>(outMax + (c << 2), 12);
      let s0: f64 = 0;
      let s1: f64 = 0;
      let s2: f64 = 0;
      let s3: f64 = 0;
      for (let i: usize = 0; i < inner; i++) {
        const q = i << 2;
        const x0 = load<f32>(p0 + q);
        const x1 = load<f32>(p1 + q);
        const x2 = load<f32>(p2 + q);
        const x3 = load<f32>(p3 + q);
        lo0 = select<f32>(x0, lo0, x0 < lo0);
        lo1 = select<f32>(x1, lo1, x1 < lo1);
        lo2 = select<f32>(x2, lo2, x2 < lo2);
        lo3 = select<f32>(x3, lo3, x3 < lo3);
        hi0 = select<f32>(x0, hi0, x0 > hi0);
        hi1 = select<f32>(x1, hi1, x1 > hi1);
        hi2 = select<f32>(x2, hi2, x2 > hi2);
        hi3 = select<f32>(x3, hi3, x3 > hi3);
        const d0 = <f64>x0;
        const d1 = <f64>x1;
        const d2 = <f64>x2;
        const d3 = <f64>x3;
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      store<f32>(outMin + (c << 2), lo0);
      store<f32>(outMin + (c << 2), lo1, 4);
      store<f32>(outMin + (c << 2), lo2, 8);
      store<f32>(outMin + (c << 2), lo3, 12);
      store<f32>(outMax + (c << 2), hi0);
      store<f32>(outMax + (c << 2), hi1, 4);
      store<f32>(outMax + (c << 2), hi2, 8);
      store<f32>(outMax + (c << 2), hi3, 12);
      store<f64>(outSumSq + (c << 3), load<f64>(outSumSq + (c << 3)) + s0);
      store<f64>(outSumSq + (c << 3), load<f64>(outSumSq + (c << 3), 8) + s1, 8);
      store<f64>(outSumSq + (c << 3), load<f64>(outSumSq + (c << 3), 16) + s2, 16);
      store<f64>(outSumSq + (c << 3), load<f64>(outSumSq + (c << 3), 24) + s3, 24);
    }
    for (; c < channels; c++) {
      const p = src + ((o * channels + c) * inner << 2);
      let lo = load<f32>(outMin + (c << 2));
      let hi = load<f32>(outMax + (c << 2));
      let s: f64 = 0;
      for (let i: usize = 0; i < inner; i++) {
        const x = load<f32>(p + (i << 2));
        lo = select<f32>(x, lo, x < lo);
        hi = select<f32>(x, hi, x > hi);
        const d = <f64>x;
        s += d * d;
      }
      store<f32>(outMin + (c << 2), lo);
      store<f32>(outMax + (c << 2), hi);
      store<f64>(outSumSq + (c << 3), load<f64>(outSumSq + (c << 3)) + s);
    }
  }
}
