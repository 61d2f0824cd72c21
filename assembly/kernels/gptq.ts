// GPTQ weight rounding (src/passes/weight-rounding.ts): the input Hessians X^T X of a layer,
// the upper Cholesky factor of H^-1, and the column-by-column rounding that spreads each
// column's error over the later columns. Scalar twins: src/wasm/scalar/gptq.ts.

/**
 * h (float64, K x K, row-major; the lower triangle j <= i only) += X^T X of the `rows` float32
 * rows of X at `x` (row r at x + r·ld floats, columns 0..K). Products are summed in float32 over
 * the rows of one call (in tiles of 4 x 8 entries, 8 SIMD accumulators), then added to h. Reads
 * up to column ceil8(K) of each row: the caller makes (rows - 1)·ld + ceil8(K) floats readable.
 */
export function hessianAdd(x: usize, rows: i32, K: i32, ld: i32, h: usize): void {
  const ldb = <usize>ld << 2;
  const tile = memory.data(128, 16);
  for (let i0 = 0; i0 < K; i0 += 4) {
    for (let j0 = 0; j0 < K && j0 <= i0 + 3; j0 += 8) {
      let a00 = f32x4.splat(0);
      let a01 = a00;
      let a10 = a00;
      let a11 = a00;
      let a20 = a00;
      let a21 = a00;
      let a30 = a00;
      let a31 = a00;
      let p = x;
      const pi = <usize>i0 << 2;
      const pj = <usize>j0 << 2;
      for (let r = 0; r < rows; r++, p += ldb) {
        const b0 = v128.load(p + pj);
        const b1 = v128.load(p + pj, 16);
        const x0 = f32x4.splat(load<f32>(p + pi));
        const x1 = f32x4.splat(load<f32>(p + pi, 4));
        const x2 = f32x4.splat(load<f32>(p + pi, 8));
        const x3 = f32x4.splat(load<f32>(p + pi, 12));
        a00 = f32x4.add(a00, f32x4.mul(x0, b0));
        a01 = f32x4.add(a01, f32x4.mul(x0, b1));
        a10 = f32x4.add(a10, f32x4.mul(x1, b0));
        a11 = f32x4.add(a11, f32x4.mul(x1, b1));
        a20 = f32x4.add(a20, f32x4.mul(x2, b0));
        a21 = f32x4.add(a21, f32x4.mul(x2, b1));
        a30 = f32x4.add(a30, f32x4.mul(x3, b0));
        a31 = f32x4.add(a31, f32x4.mul(x3, b1));
      }
      v128.store(tile, a00);
      v128.store(tile, a01, 16);
      v128.store(tile, a10, 32);
      v128.store(tile, a11, 48);
      v128.store(tile, a20, 64);
      v128.store(tile, a21, 80);
      v128.store(tile, a30, 96);
      v128.store(tile, a31, 112);
      for (let t = 0; t < 4; t++) {
        const i = i0 + t;
        if (i >= K) break;
        const end = min(i + 1, min(K, j0 + 8));
        const row = h + ((<usize>i * <usize>K) << 3);
        for (let j = j0; j < end; j++) {
          const q = row + (<usize>j << 3);
          store<f64>(q, load<f64>(q) + <f64>load<f32>(tile + ((<usize>(t * 8 + j - j0)) << 2)));
        }
      }
    }
  }
}

/**
 * Per channel c, the T x T Hessian of its own values (a depthwise conv's window taps): h (float64,
 * laid out (T, T, C); the lower triangle j <= i only) += sum over the `rows` of v (float32,
 * laid out (rows, T, C)) of v[r][i][c] · v[r][j][c]. Four channels per SIMD lane group; the
 * products are summed in float32 over the rows of one call, then added to h.
 */
export function hessianAddChannels(v: usize, rows: i32, T: i32, C: i32, h: usize): void {
  const rowBytes = (<usize>T * <usize>C) << 2;
  const C4 = C & ~3;
  for (let i = 0; i < T; i++) {
    for (let j = 0; j <= i; j++) {
      const pi = (<usize>i * <usize>C) << 2;
      const pj = (<usize>j * <usize>C) << 2;
      const out = h + ((<usize>(i * T + j) * <usize>C) << 3);
      let c = 0;
      for (; c < C4; c += 4) {
        let acc = f32x4.splat(0);
        let p = v + (<usize>c << 2);
        for (let r = 0; r < rows; r++, p += rowBytes) acc = f32x4.add(acc, f32x4.mul(v128.load(p + pi), v128.load(p + pj)));
        const q = out + (<usize>c << 3);
        v128.store(q, f64x2.add(v128.load(q), f64x2.promote_low_f32x4(acc)));
        v128.store(q, f64x2.add(v128.load(q, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc, acc, 2, 3, 0, 1))), 16);
      }
      for (; c < C; c++) {
        let acc: f32 = 0;
        let p = v + (<usize>c << 2);
        for (let r = 0; r < rows; r++, p += rowBytes) acc += load<f32>(p + pi) * load<f32>(p + pj);
        const q = out + (<usize>c << 3);
        store<f64>(q, load<f64>(q) + <f64>acc);
      }
    }
  }
}

/** sum over k < n of a[k] · b[k] (float64), two lanes at a time. */
@inline
function dot(a: usize, b: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let k = 0;
  for (; k + 2 <= n; k += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(a + (<usize>k << 3)), v128.load(b + (<usize>k << 3))));
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (k < n) s += load<f64>(a + (<usize>k << 3)) * load<f64>(b + (<usize>k << 3));
  return s;
}

/**
 * The dots of the four rows at a, a + ld, a + 2·ld, a + 3·ld (bytes) with the one at b over n
 * float64, into `out` (4 f64): b is read once for the four.
 */
@inline
function dot4(a: usize, ld: usize, b: usize, n: i32, out: usize): void {
  let s0 = f64x2.splat(0);
  let s1 = s0;
  let s2 = s0;
  let s3 = s0;
  let k = 0;
  for (; k + 2 <= n; k += 2) {
    const o = <usize>k << 3;
    const y = v128.load(b + o);
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), y));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(a + ld + o), y));
    s2 = f64x2.add(s2, f64x2.mul(v128.load(a + 2 * ld + o), y));
    s3 = f64x2.add(s3, f64x2.mul(v128.load(a + 3 * ld + o), y));
  }
  let r0 = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1);
  let r1 = f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  let r2 = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
  let r3 = f64x2.extract_lane(s3, 0) + f64x2.extract_lane(s3, 1);
  if (k < n) {
    const o = <usize>k << 3;
    const y = load<f64>(b + o);
    r0 += load<f64>(a + o) * y;
    r1 += load<f64>(a + ld + o) * y;
    r2 += load<f64>(a + 2 * ld + o) * y;
    r3 += load<f64>(a + 3 * ld + o) * y;
  }
  store<f64>(out, r0);
  store<f64>(out, r1, 8);
  store<f64>(out, r2, 16);
  store<f64>(out, r3, 24);
}

/**
 * U (upper triangular, n x n float64 at `u`) with U^T U = H^-1, for H symmetric positive definite
 * (its lower triangle read, n x n float64 at `hp`), from one Cholesky of H with its order
 * reversed: J H J = L L^T gives H^-1 = (J L^-1 J)^T (J L^-1 J). `l` and `t` are n x ld float64
 * scratch (ld >= n; a row stride that is not a multiple of 4 KiB keeps rows out of each other's
 * cache sets). Rows are taken four at a time, each row they read shared by the four. Returns 0
 * (U undefined) when H is not positive definite, else 1.
 */
export function upperCholeskyOfInverse(hp: usize, n: i32, l: usize, t: usize, u: usize, ld: i32): i32 {
  const nb = <usize>n << 3;
  const lb = <usize>ld << 3;
  const four = memory.data(32, 16);
  // L (lower): A = J H J, A[i][j] = H[n-1-j][n-1-i]
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) store<f64>(l + <usize>i * lb + (<usize>j << 3), load<f64>(hp + <usize>(n - 1 - j) * nb + (<usize>(n - 1 - i) << 3)));
  // in place: L[i][j] = (A[i][j] - L[i][0..j] · L[j][0..j]) / L[j][j]
  for (let i0 = 0; i0 < n; i0 += 4) {
    const m = min(4, n - i0);
    const r0 = l + <usize>i0 * lb;
    // the columns left of the four rows' diagonal block: every row they read is complete
    for (let j = 0; j < i0; j++) {
      const rj = l + <usize>j * lb;
      const d = load<f64>(rj + (<usize>j << 3));
      if (m == 4) {
        dot4(r0, lb, rj, j, four);
        for (let q = 0; q < 4; q++) {
          const p = r0 + <usize>q * lb + (<usize>j << 3);
          store<f64>(p, (load<f64>(p) - load<f64>(four + (<usize>q << 3))) / d);
        }
      } else {
        for (let q = 0; q < m; q++) {
          const rq = r0 + <usize>q * lb;
          const p = rq + (<usize>j << 3);
          store<f64>(p, (load<f64>(p) - dot(rq, rj, j)) / d);
        }
      }
    }
    // the diagonal block, row by row
    for (let i = i0; i < i0 + m; i++) {
      const ri = l + <usize>i * lb;
      for (let j = i0; j <= i; j++) {
        const rj = l + <usize>j * lb;
        const s = load<f64>(ri + (<usize>j << 3)) - dot(ri, rj, j);
        if (i == j) {
          if (!(s > 0)) return 0;
          store<f64>(ri + (<usize>i << 3), Math.sqrt(s));
        } else store<f64>(ri + (<usize>j << 3), s / load<f64>(rj + (<usize>j << 3)));
      }
    }
  }
  // M = L^-1 (lower), kept transposed (T = M^T, so both factors of each sum are read along rows):
  // M[i][j] = -(L[i][j..i] · M[j..i][j]) / L[i][i], i.e. T[j][i] = -(L[i][j..i] · T[j][j..i]) / L[i][i]
  for (let i0 = 0; i0 < n; i0 += 4) {
    const m = min(4, n - i0);
    const r0 = l + <usize>i0 * lb;
    for (let q = 0; q < m; q++) store<f64>(t + <usize>(i0 + q) * lb + (<usize>(i0 + q) << 3), 1 / load<f64>(r0 + <usize>q * lb + (<usize>(i0 + q) << 3)));
    for (let j = 0; j < i0 + m; j++) {
      const rj = t + <usize>j * lb;
      const jb = <usize>j << 3;
      // the part of each row's sum over k in [j, i0), shared by the four rows
      if (m == 4 && j < i0) dot4(r0 + jb, lb, rj + jb, i0 - j, four);
      else for (let q = 0; q < m; q++) store<f64>(four + (<usize>q << 3), j < i0 ? dot(r0 + <usize>q * lb + jb, rj + jb, i0 - j) : 0);
      // then k in [max(j, i0), i0 + q), the entries of T[j] just made
      for (let q = 0; q < m; q++) {
        const i = i0 + q;
        if (i <= j) continue;
        const ri = r0 + <usize>q * lb;
        let s = load<f64>(four + (<usize>q << 3));
        for (let k = max(i0, j); k < i; k++) s += load<f64>(ri + (<usize>k << 3)) * load<f64>(rj + (<usize>k << 3));
        store<f64>(rj + (<usize>i << 3), -s / load<f64>(ri + (<usize>i << 3)));
      }
    }
  }
  // U = J M J: U[i][j] = M[n-1-i][n-1-j] = T[n-1-j][n-1-i]; zeros below the diagonal
  for (let i = 0; i < n; i++) {
    const ru = u + <usize>i * nb;
    for (let j = 0; j < i; j++) store<f64>(ru + (<usize>j << 3), 0);
    for (let j = i; j < n; j++) store<f64>(ru + (<usize>j << 3), load<f64>(t + <usize>(n - 1 - j) * lb + (<usize>(n - 1 - i) << 3)));
  }
  return 1;
}

/**
 * GPTQ's rounding of W, given transposed (`wt`: n x rows float64, column i of W at wt + i·rows;
 * modified), to q = clamp(round half away(w / scale[row]), -127, 127) (int8, also transposed: n x
 * rows at `qt`; 0 where the scale is not positive), column by column, each column's error
 * (w - q·s) / U[i][i] spread over the later columns through the upper factor U (n x n float64) --
 * in blocks of `block` columns ("lazy batch" updates, Frantar et al.): within a block the columns
 * are updated one by one, the columns after it once per block from the block's errors (`e`:
 * float64 scratch of block x (rows + 16) values) and U's rows of the block (packed by column into `pk`: block x n
 * float64 scratch), a GEMM. Transposed, every update runs along contiguous rows.
 */
export function gptqRound(wt: usize, rows: i32, n: i32, scales: usize, u: usize, qt: usize, e: usize, block: i32, pk: usize): void {
  const nb = <usize>n << 3;
  const rb = <usize>rows << 3;
  // E's row stride: a few cache lines more than a row, never a multiple of 4 KiB (the trailing
  // update walks E's rows down a column, each row in its own cache set)
  const eb = rb + 64 + ((rb + 64) % 4096 == 0 ? 64 : 0);
  const rows4 = rows & ~3;
  for (let i1 = 0; i1 < n; i1 += block) {
    const i2 = min(i1 + block, n);
    const bw = i2 - i1;
    for (let i = i1; i < i2; i++) {
      const ui = u + <usize>i * nb;
      const d = load<f64>(ui + (<usize>i << 3));
      const wi = wt + <usize>i * rb;
      const ei = e + <usize>(i - i1) * eb;
      for (let o = 0; o < rows; o++) {
        const x = load<f64>(wi + (<usize>o << 3));
        const s = load<f64>(scales + (<usize>o << 3));
        let qv: f64 = 0;
        if (s > 0) {
          const r = x / s;
          qv = r < 0 ? -Math.floor(-r + 0.5) : Math.floor(r + 0.5);
          qv = Math.max(-127, Math.min(127, qv));
        }
        store<i8>(qt + <usize>i * <usize>rows + <usize>o, <i8>(<i32>qv));
        store<f64>(ei + (<usize>o << 3), (x - qv * s) / d);
      }
      // the rest of the block, now: W[:, j] -= U[i][j] · err
      for (let j = i + 1; j < i2; j++) {
        const wj = wt + <usize>j * rb;
        const uv = load<f64>(ui + (<usize>j << 3));
        const uu = f64x2.splat(uv);
        let o = 0;
        for (; o + 2 <= rows; o += 2) {
          const p = wj + (<usize>o << 3);
          v128.store(p, f64x2.sub(v128.load(p), f64x2.mul(uu, v128.load(ei + (<usize>o << 3)))));
        }
        if (o < rows) store<f64>(wj + (<usize>o << 3), load<f64>(wj + (<usize>o << 3)) - uv * load<f64>(ei + (<usize>o << 3)));
      }
    }
    if (i2 >= n) continue;
    // the columns after the block: W[:, j] -= sum over k < bw of U[i1 + k][j] · E[k], j in [i2, n);
    // U's block rows packed by column first (pk[j - i2][k]), so each column's factors are contiguous
    for (let k = 0; k < bw; k++) {
      const uk = u + <usize>(i1 + k) * nb;
      for (let j = i2; j < n; j++) store<f64>(pk + ((<usize>(j - i2) * <usize>bw + <usize>k) << 3), load<f64>(uk + (<usize>j << 3)));
    }
    const bwb = <usize>bw << 3;
    let j = i2;
    // four columns and four rows at a time
    for (; j + 4 <= n; j += 4) {
      const w0 = wt + <usize>j * rb;
      const p0 = pk + <usize>(j - i2) * bwb;
      for (let o = 0; o < rows4; o += 4) {
        const ob = <usize>o << 3;
        let c00 = v128.load(w0 + ob);
        let c01 = v128.load(w0 + ob, 16);
        let c10 = v128.load(w0 + rb + ob);
        let c11 = v128.load(w0 + rb + ob, 16);
        let c20 = v128.load(w0 + 2 * rb + ob);
        let c21 = v128.load(w0 + 2 * rb + ob, 16);
        let c30 = v128.load(w0 + 3 * rb + ob);
        let c31 = v128.load(w0 + 3 * rb + ob, 16);
        let pe = e + ob;
        for (let k = 0; k < bw; k++, pe += eb) {
          const x0 = v128.load(pe);
          const x1 = v128.load(pe, 16);
          const kb = <usize>k << 3;
          const u0 = f64x2.splat(load<f64>(p0 + kb));
          const u1 = f64x2.splat(load<f64>(p0 + bwb + kb));
          const u2 = f64x2.splat(load<f64>(p0 + 2 * bwb + kb));
          const u3 = f64x2.splat(load<f64>(p0 + 3 * bwb + kb));
          c00 = f64x2.sub(c00, f64x2.mul(u0, x0));
          c01 = f64x2.sub(c01, f64x2.mul(u0, x1));
          c10 = f64x2.sub(c10, f64x2.mul(u1, x0));
          c11 = f64x2.sub(c11, f64x2.mul(u1, x1));
          c20 = f64x2.sub(c20, f64x2.mul(u2, x0));
          c21 = f64x2.sub(c21, f64x2.mul(u2, x1));
          c30 = f64x2.sub(c30, f64x2.mul(u3, x0));
          c31 = f64x2.sub(c31, f64x2.mul(u3, x1));
        }
        v128.store(w0 + ob, c00);
        v128.store(w0 + ob, c01, 16);
        v128.store(w0 + rb + ob, c10);
        v128.store(w0 + rb + ob, c11, 16);
        v128.store(w0 + 2 * rb + ob, c20);
        v128.store(w0 + 2 * rb + ob, c21, 16);
        v128.store(w0 + 3 * rb + ob, c30);
        v128.store(w0 + 3 * rb + ob, c31, 16);
      }
      for (let q = 0; q < 4; q++) trailingRows(wt + <usize>(j + q) * rb, pk + <usize>(j + q - i2) * bwb, e, eb, bw, rows4, rows);
    }
    for (; j < n; j++) trailingRows(wt + <usize>j * rb, pk + <usize>(j - i2) * bwb, e, eb, bw, 0, rows);
  }
}

/** One column's rows [from, to) of the trailing update: w[o] -= sum over k of f[k] · E[k][o]. */
@inline
function trailingRows(w: usize, f: usize, e: usize, rb: usize, bw: i32, from: i32, to: i32): void {
  for (let o = from; o < to; o++) {
    const ob = <usize>o << 3;
    let c = load<f64>(w + ob);
    let pe = e + ob;
    for (let k = 0; k < bw; k++, pe += rb) c -= load<f64>(f + (<usize>k << 3)) * load<f64>(pe);
    store<f64>(w + ob, c);
  }
}
