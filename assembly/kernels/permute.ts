// Permutation of a dense N-d tensor. The TS wrapper (src/wasm/permute.ts) coalesces axes and
// passes the output shape with the source stride of each output axis; the output is dense.
// Three shapes of work remain after coalescing:
//   - the last output axis is the source's innermost axis: copy contiguous rows;
//   - otherwise: a (cache-tiled, SIMD) 2-D transpose between the source's innermost axis (X) and
//     the output's innermost axis (Y), repeated over the remaining "outer" axes by an odometer.

// Cache tile, in elements; 64 x 64 x 4 B = 16 KiB of source + 16 KiB of
// destination stays in L1 while the tile is transposed.
const TILE_Y: i32 = 64;
const TILE_X: i32 = 64;

// ---- 2-D transposes: dst[x*dsx + y] = src[y*ssy + x] for x < nx, y < ny (strides in elements) ----

@inline
function tileScalar<T>(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const es = sizeof<T>();
  for (let x = x0; x < x1; x++) {
    const d = dst + (<usize>x * <usize>dsx) * es;
    for (let y = y0; y < y1; y++) {
      store<T>(d + <usize>y * es, load<T>(src + (<usize>y * <usize>ssy + <usize>x) * es));
    }
  }
}

// 4-byte elements: 4x4 register transposes.
function tile32(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const xv = x0 + ((x1 - x0) & ~3);
  const yv = y0 + ((y1 - y0) & ~3);
  const rs = <usize>ssy << 2;
  const ds = <usize>dsx << 2;
  for (let y = y0; y < yv; y += 4) {
    const r0 = src + (<usize>y * <usize>ssy) * 4;
    const r1 = r0 + rs;
    const r2 = r1 + rs;
    const r3 = r2 + rs;
    for (let x = x0; x < xv; x += 4) {
      const o = <usize>x << 2;
      const a0 = v128.load(r0 + o);
      const a1 = v128.load(r1 + o);
      const a2 = v128.load(r2 + o);
      const a3 = v128.load(r3 + o);
      const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5);
      const t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
      const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5);
      const t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
      const d0 = dst + (<usize>x * <usize>dsx + <usize>y) * 4;
      const d1 = d0 + ds;
      const d2 = d1 + ds;
      const d3 = d2 + ds;
      v128.store(d0, i64x2.shuffle(t0, t2, 0, 2));
      v128.store(d1, i64x2.shuffle(t0, t2, 1, 3));
      v128.store(d2, i64x2.shuffle(t1, t3, 0, 2));
      v128.store(d3, i64x2.shuffle(t1, t3, 1, 3));
    }
  }
  if (xv < x1) tileScalar<u32>(src, dst, xv, x1, y0, yv, ssy, dsx);
  if (yv < y1) tileScalar<u32>(src, dst, x0, x1, yv, y1, ssy, dsx);
}

// 4-byte elements straight into the destination, 16 source rows at a time: each 4x16 block writes
// whole 64-byte lines of 4 destination rows (no scratch pass). Columns outer: consecutive steps
// write consecutive destination rows.
function tile32w(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const xv = x0 + ((x1 - x0) & ~3);
  const yv = y0 + ((y1 - y0) & ~15);
  const rs = <usize>ssy << 2;
  const ds = <usize>dsx << 2;
  for (let x = x0; x < xv; x += 4) {
    for (let y = y0; y < yv; y += 16) {
      const r0 = src + (<usize>y * <usize>ssy) * 4;
      const d0 = dst + (<usize>x * <usize>dsx + <usize>y) * 4;
      let r = r0 + (<usize>x << 2);
      for (let q: usize = 0; q < 64; q += 16, r += rs * 4) {
        const a0 = v128.load(r);
        const a1 = v128.load(r + rs);
        const a2 = v128.load(r + rs * 2);
        const a3 = v128.load(r + rs * 3);
        const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5);
        const t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
        const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5);
        const t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
        v128.store(d0 + q, i64x2.shuffle(t0, t2, 0, 2));
        v128.store(d0 + ds + q, i64x2.shuffle(t0, t2, 1, 3));
        v128.store(d0 + ds * 2 + q, i64x2.shuffle(t1, t3, 0, 2));
        v128.store(d0 + ds * 3 + q, i64x2.shuffle(t1, t3, 1, 3));
      }
    }
  }
  if (xv < x1) tileScalar<u32>(src, dst, xv, x1, y0, yv, ssy, dsx);
  if (yv < y1) tile32(src, dst, x0, x1, yv, y1, ssy, dsx);
}

// 4x4 transpose of rows a0..a3 stored as 4 destination rows at d (stride ds)
@inline
function t4store(a0: v128, a1: v128, a2: v128, a3: v128, d: usize, ds: usize): void {
  const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t2, 0, 2));
  v128.store(d + ds, i64x2.shuffle(t0, t2, 1, 3));
  v128.store(d + ds * 2, i64x2.shuffle(t1, t3, 0, 2));
  v128.store(d + ds * 3, i64x2.shuffle(t1, t3, 1, 3));
}

// Column strips, straight to the destination: a strip of 16 source columns (one 64-byte line of
// each source row) down a band of 1024 source rows, 4 rows at a time. Each source line is read once
// and fully used; the strip's 16 destination rows are written front to back (16 forward streams of
// 16-byte stores), and the band's 1024 source pages are reused by the next strip (within the L2
// TLB). Measured against the scratch tiles on 8192^2 (interleaved A/B): +5 %; 8-row steps, 32-column
// strips, 16x16 blocks writing whole lines, and touching the next strip's or later rows' lines were
// all slower.
const STRIP_W: i32 = 16;
const STRIP_B: i32 = 1024;

function strip32(src: usize, dst: usize, nx: i32, ny: i32, ssy: i32, dsx: i32): void {
  const xv = nx & ~(STRIP_W - 1);
  const yv = ny & ~3;
  const rs = <usize>ssy << 2;
  const ds = <usize>dsx << 2;
  for (let yb = 0; yb < yv; yb += STRIP_B) {
    const ye = min(yv, yb + STRIP_B);
    for (let xs = 0; xs < xv; xs += STRIP_W) {
      let r = src + (<usize>yb * <usize>ssy + <usize>xs) * 4;
      let d = dst + (<usize>xs * <usize>dsx + <usize>yb) * 4;
      for (let y = yb; y < ye; y += 4, r += rs * 4, d += 16) {
        let dq = d;
        for (let q: usize = 0; q < <usize>STRIP_W * 4; q += 16, dq += ds * 4) {
          t4store(v128.load(r + q), v128.load(r + rs + q), v128.load(r + rs * 2 + q), v128.load(r + rs * 3 + q), dq, ds);
        }
      }
    }
  }
  if (xv < nx) tileScalar<u32>(src, dst, xv, nx, 0, yv, ssy, dsx);
  if (yv < ny) tile32(src, dst, 0, nx, yv, ny, ssy, dsx);
}

// Blocks of 128 source rows x 256 source columns straight to the destination, source-row bands
// outermost: each block reads 128 source rows as 1 KiB runs (prefetch friendly; single 64-byte
// lines down 32 KiB strides are latency bound: reading 8192^2 f32 that way alone takes 58 ms, in
// 512-byte runs 25 ms, sequentially 15 ms) and writes whole 64-byte lines of 256 destination rows,
// 16 source rows (four 4x4 transposes) per step, so each destination row gets a 512-byte run per
// block. Consecutive blocks continue the same source rows. Against the column strips, interleaved
// A/B: 8192^2 / 4096^2 / 2048x8192 +15-30 %, 1x256x256x256 +30 %. Measured slower: an L2 scratch
// laid out as destination rows (copied out as whole runs, also double-buffered with the next
// block's fill), blocks in columns (same destination rows), 32 or 64 rows a step, 256 x 256 blocks,
// columns outermost inside a block, and touching the next block's lines.
const BLK: i32 = 128;

function block32(src: usize, dst: usize, nx: i32, ny: i32, ssy: i32, dsx: i32): void {
  const xv = nx & ~3;
  const yv = ny & ~15;
  const rs = <usize>ssy << 2;
  const ds = <usize>dsx << 2;
  const bw = blockW;
  const bh = blockH;
  const gs = blockG;
  for (let y0 = 0; y0 < yv; y0 += bh) {
    const by = min(bh, yv - y0);
    for (let x0 = 0; x0 < xv; x0 += bw) {
      const bx = <usize>min(bw, xv - x0) << 2;
      let r0 = src + (<usize>y0 * <usize>ssy + <usize>x0) * 4;
      let d0 = dst + (<usize>x0 * <usize>dsx + <usize>y0) * 4;
      for (let y = 0; y < by; y += gs, r0 += rs * <usize>gs, d0 += <usize>gs << 2) {
        const gb = <usize>min(gs, by - y) << 2;
        let d = d0;
        for (let q: usize = 0; q < bx; q += 16, d += ds * 4) {
          // one step: 4 source columns of 16 rows -> one 64-byte line of 4 destination rows
          // (written as this loop, V8's code for it measured ~15 % faster than the same steps
          // with 16 row pointers hoisted out of the column loop)
          let r = r0 + q;
          for (let g: usize = 0; g < gb; g += 64, r += rs * 16) {
            const r4 = r + rs * 4;
            const r8 = r + rs * 8;
            const r12 = r + rs * 12;
            t4store(v128.load(r), v128.load(r + rs), v128.load(r + rs * 2), v128.load(r + rs * 3), d + g, ds);
            t4store(v128.load(r4), v128.load(r4 + rs), v128.load(r4 + rs * 2), v128.load(r4 + rs * 3), d + g + 16, ds);
            t4store(v128.load(r8), v128.load(r8 + rs), v128.load(r8 + rs * 2), v128.load(r8 + rs * 3), d + g + 32, ds);
            t4store(v128.load(r12), v128.load(r12 + rs), v128.load(r12 + rs * 2), v128.load(r12 + rs * 3), d + g + 48, ds);
          }
        }
      }
    }
  }
  if (xv < nx) tileScalar<u32>(src, dst, xv, nx, 0, yv, ssy, dsx);
  if (yv < ny) tile32(src, dst, 0, nx, yv, ny, ssy, dsx);
}

// Tuning for interleaved A/B runs (bench/permute-ab.mjs): the fewest source rows for block32, its
// block width and height and the source rows per step.
let blockMinRows: i32 = BLK;
let blockW: i32 = 2 * BLK; // source columns per block (multiple of 4)
let blockH: i32 = BLK; // source rows per block (multiple of 16)
let blockG: i32 = 16; // source rows per step (multiple of 16)
export function setPermuteTuning(minRows: i32, w: i32, h: i32, g: i32): void {
  blockMinRows = minRows;
  blockW = w;
  blockH = h;
  blockG = g;
}

// Destination row pointers of the current strip (byte addresses), for row axes without one stride.
const DPTR: usize = memory.data(64 * 8, 64);

@inline
function t4storeP(a0: v128, a1: v128, a2: v128, a3: v128, tp: usize, yo: usize): void {
  const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
  v128.store(load<usize>(tp) + yo, i64x2.shuffle(t0, t2, 0, 2));
  v128.store(load<usize>(tp, sizeof<usize>()) + yo, i64x2.shuffle(t0, t2, 1, 3));
  v128.store(load<usize>(tp, 2 * sizeof<usize>()) + yo, i64x2.shuffle(t1, t3, 0, 2));
  v128.store(load<usize>(tp, 3 * sizeof<usize>()) + yo, i64x2.shuffle(t1, t3, 1, 3));
}

// Destination offset (elements) of source column x through the row axes XLEN/XDST (source order).
function rowOffset(x: i32, nax: i32): usize {
  let off: usize = 0;
  for (let i = nax - 1; i >= 0; i--) {
    const l = get(XLEN, i);
    off += <usize>(x % l) * <usize>get(XDST, i);
    x /= l;
  }
  return off;
}

// Column strips of 8 source columns down all ny source rows, 16 rows at a time, for row axes
// without one destination stride (OIHW->HWIO: source column x = (i, hw), destination row
// hw*I*O + i*O; leftover rows 4 and then 1 at a time): the 8 destination rows of a strip come from a pointer table and each gets whole
// 64-byte lines, front to back. Against the scratch tiles on (512,512,3,3), interleaved A/B:
// +35-50 %; 16-column strips (their destination rows alias in L1 sets: hw steps are powers of two
// there) and 4-row steps were slower.
const STRIPP_W: i32 = 8;

function strip32p(src: usize, dst: usize, nx: i32, ny: i32, ssy: i32, nax: i32): void {
  const xv = nx & ~(STRIPP_W - 1);
  const y16 = ny & ~15;
  const y4 = ny & ~3;
  const rs = <usize>ssy << 2;
  for (let xs = 0; xs < xv; xs += STRIPP_W) {
    for (let j = 0; j < STRIPP_W; j++) store<usize>(DPTR + (<usize>j * sizeof<usize>()), dst + (rowOffset(xs + j, nax) << 2));
    let r = src + <usize>xs * 4;
    let yo: usize = 0;
    let y = 0;
    for (; y < y16; y += 16, r += rs * 16, yo += 64) {
      let tp = DPTR;
      const r4 = r + rs * 4;
      const r8 = r + rs * 8;
      const r12 = r + rs * 12;
      for (let q: usize = 0; q < <usize>STRIPP_W * 4; q += 16, tp += 4 * sizeof<usize>()) {
        t4storeP(v128.load(r + q), v128.load(r + rs + q), v128.load(r + rs * 2 + q), v128.load(r + rs * 3 + q), tp, yo);
        t4storeP(v128.load(r4 + q), v128.load(r4 + rs + q), v128.load(r4 + rs * 2 + q), v128.load(r4 + rs * 3 + q), tp, yo + 16);
        t4storeP(v128.load(r8 + q), v128.load(r8 + rs + q), v128.load(r8 + rs * 2 + q), v128.load(r8 + rs * 3 + q), tp, yo + 32);
        t4storeP(v128.load(r12 + q), v128.load(r12 + rs + q), v128.load(r12 + rs * 2 + q), v128.load(r12 + rs * 3 + q), tp, yo + 48);
      }
    }
    // tails of the strip: 4 rows a step, then single rows
    for (; y < y4; y += 4, r += rs * 4, yo += 16) {
      let tp = DPTR;
      for (let q: usize = 0; q < <usize>STRIPP_W * 4; q += 16, tp += 4 * sizeof<usize>()) {
        t4storeP(v128.load(r + q), v128.load(r + rs + q), v128.load(r + rs * 2 + q), v128.load(r + rs * 3 + q), tp, yo);
      }
    }
    for (; y < ny; y++, r += rs, yo += 4) {
      for (let j = 0; j < STRIPP_W; j++) store<u32>(load<usize>(DPTR + (<usize>j * sizeof<usize>())) + yo, load<u32>(r + (<usize>j << 2)));
    }
  }
  for (let x = xv; x < nx; x++) {
    const d = dst + (rowOffset(x, nax) << 2);
    for (let y = 0; y < ny; y++) store<u32>(d + (<usize>y << 2), load<u32>(src + ((<usize>y * <usize>ssy + <usize>x) << 2)));
  }
}

// 8-byte elements: 2x2 register transposes.
function tile64(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const xv = x0 + ((x1 - x0) & ~1);
  const yv = y0 + ((y1 - y0) & ~1);
  const rs = <usize>ssy << 3;
  const ds = <usize>dsx << 3;
  for (let y = y0; y < yv; y += 2) {
    const r0 = src + (<usize>y * <usize>ssy) * 8;
    const r1 = r0 + rs;
    for (let x = x0; x < xv; x += 2) {
      const o = <usize>x << 3;
      const a0 = v128.load(r0 + o);
      const a1 = v128.load(r1 + o);
      const d0 = dst + (<usize>x * <usize>dsx + <usize>y) * 8;
      v128.store(d0, i64x2.shuffle(a0, a1, 0, 2));
      v128.store(d0 + ds, i64x2.shuffle(a0, a1, 1, 3));
    }
  }
  if (xv < x1) tileScalar<u64>(src, dst, xv, x1, y0, yv, ssy, dsx);
  if (yv < y1) tileScalar<u64>(src, dst, x0, x1, yv, y1, ssy, dsx);
}

// 2-byte elements: 8x8 register transposes (three rounds of interleaves).
function tile16(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const xv = x0 + ((x1 - x0) & ~7);
  const yv = y0 + ((y1 - y0) & ~7);
  const rs = <usize>ssy << 1;
  const ds = <usize>dsx << 1;
  for (let y = y0; y < yv; y += 8) {
    const r0 = src + (<usize>y * <usize>ssy) * 2;
    for (let x = x0; x < xv; x += 8) {
      const o = r0 + (<usize>x << 1);
      const a0 = v128.load(o);
      const a1 = v128.load(o + rs);
      const a2 = v128.load(o + rs * 2);
      const a3 = v128.load(o + rs * 3);
      const a4 = v128.load(o + rs * 4);
      const a5 = v128.load(o + rs * 5);
      const a6 = v128.load(o + rs * 6);
      const a7 = v128.load(o + rs * 7);
      // round 1: 16-bit interleave of row pairs
      const b0 = i16x8.shuffle(a0, a1, 0, 8, 1, 9, 2, 10, 3, 11);
      const b1 = i16x8.shuffle(a0, a1, 4, 12, 5, 13, 6, 14, 7, 15);
      const b2 = i16x8.shuffle(a2, a3, 0, 8, 1, 9, 2, 10, 3, 11);
      const b3 = i16x8.shuffle(a2, a3, 4, 12, 5, 13, 6, 14, 7, 15);
      const b4 = i16x8.shuffle(a4, a5, 0, 8, 1, 9, 2, 10, 3, 11);
      const b5 = i16x8.shuffle(a4, a5, 4, 12, 5, 13, 6, 14, 7, 15);
      const b6 = i16x8.shuffle(a6, a7, 0, 8, 1, 9, 2, 10, 3, 11);
      const b7 = i16x8.shuffle(a6, a7, 4, 12, 5, 13, 6, 14, 7, 15);
      // round 2: 32-bit interleave
      const c0 = i32x4.shuffle(b0, b2, 0, 4, 1, 5);
      const c1 = i32x4.shuffle(b0, b2, 2, 6, 3, 7);
      const c2 = i32x4.shuffle(b1, b3, 0, 4, 1, 5);
      const c3 = i32x4.shuffle(b1, b3, 2, 6, 3, 7);
      const c4 = i32x4.shuffle(b4, b6, 0, 4, 1, 5);
      const c5 = i32x4.shuffle(b4, b6, 2, 6, 3, 7);
      const c6 = i32x4.shuffle(b5, b7, 0, 4, 1, 5);
      const c7 = i32x4.shuffle(b5, b7, 2, 6, 3, 7);
      // round 3: 64-bit interleave gives the columns
      const d = dst + (<usize>x * <usize>dsx + <usize>y) * 2;
      v128.store(d, i64x2.shuffle(c0, c4, 0, 2));
      v128.store(d + ds, i64x2.shuffle(c0, c4, 1, 3));
      v128.store(d + ds * 2, i64x2.shuffle(c1, c5, 0, 2));
      v128.store(d + ds * 3, i64x2.shuffle(c1, c5, 1, 3));
      v128.store(d + ds * 4, i64x2.shuffle(c2, c6, 0, 2));
      v128.store(d + ds * 5, i64x2.shuffle(c2, c6, 1, 3));
      v128.store(d + ds * 6, i64x2.shuffle(c3, c7, 0, 2));
      v128.store(d + ds * 7, i64x2.shuffle(c3, c7, 1, 3));
    }
  }
  if (xv < x1) tileScalar<u16>(src, dst, xv, x1, y0, yv, ssy, dsx);
  if (yv < y1) tileScalar<u16>(src, dst, x0, x1, yv, y1, ssy, dsx);
}

// 1-byte elements: 8x8 byte blocks via 64-bit loads, interleaved in registers.
function tile8(src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  const xv = x0 + ((x1 - x0) & ~7);
  const yv = y0 + ((y1 - y0) & ~7);
  const rs = <usize>ssy;
  const ds = <usize>dsx;
  for (let y = y0; y < yv; y += 8) {
    const r0 = src + <usize>y * <usize>ssy;
    for (let x = x0; x < xv; x += 8) {
      const o = r0 + <usize>x;
      // rows 0..7, 8 bytes each; pair rows into vectors (row k in the low half, row k+1 in the high half)
      const a0 = v128.load64_lane(o + rs, v128.load64_zero(o), 1); // r0 | r1
      const a1 = v128.load64_lane(o + rs * 3, v128.load64_zero(o + rs * 2), 1); // r2 | r3
      const a2 = v128.load64_lane(o + rs * 5, v128.load64_zero(o + rs * 4), 1);
      const a3 = v128.load64_lane(o + rs * 7, v128.load64_zero(o + rs * 6), 1);
      // bytes interleaved: (r0c0 r1c0 r0c1 r1c1 ... r0c7 r1c7)
      const b0 = i8x16.shuffle(a0, a0, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
      const b1 = i8x16.shuffle(a1, a1, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
      const b2 = i8x16.shuffle(a2, a2, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
      const b3 = i8x16.shuffle(a3, a3, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
      // 16-bit interleave: (r0..r3 c0, r0..r3 c1, ..., c3) and c4..c7
      const c0 = i16x8.shuffle(b0, b1, 0, 8, 1, 9, 2, 10, 3, 11);
      const c1 = i16x8.shuffle(b0, b1, 4, 12, 5, 13, 6, 14, 7, 15);
      const c2 = i16x8.shuffle(b2, b3, 0, 8, 1, 9, 2, 10, 3, 11);
      const c3 = i16x8.shuffle(b2, b3, 4, 12, 5, 13, 6, 14, 7, 15);
      // 32-bit interleave: each 64-bit half is one column of 8 rows
      const e0 = i32x4.shuffle(c0, c2, 0, 4, 1, 5); // c0 | c1
      const e1 = i32x4.shuffle(c0, c2, 2, 6, 3, 7); // c2 | c3
      const e2 = i32x4.shuffle(c1, c3, 0, 4, 1, 5); // c4 | c5
      const e3 = i32x4.shuffle(c1, c3, 2, 6, 3, 7); // c6 | c7
      const d = dst + <usize>x * <usize>dsx + <usize>y;
      v128.store64_lane(d, e0, 0);
      v128.store64_lane(d + ds, e0, 1);
      v128.store64_lane(d + ds * 2, e1, 0);
      v128.store64_lane(d + ds * 3, e1, 1);
      v128.store64_lane(d + ds * 4, e2, 0);
      v128.store64_lane(d + ds * 5, e2, 1);
      v128.store64_lane(d + ds * 6, e3, 0);
      v128.store64_lane(d + ds * 7, e3, 1);
    }
  }
  if (xv < x1) tileScalar<u8>(src, dst, xv, x1, y0, yv, ssy, dsx);
  if (yv < y1) tileScalar<u8>(src, dst, x0, x1, yv, y1, ssy, dsx);
}

@inline
function tile(es: i32, src: usize, dst: usize, x0: i32, x1: i32, y0: i32, y1: i32, ssy: i32, dsx: i32): void {
  if (es == 4) tile32(src, dst, x0, x1, y0, y1, ssy, dsx);
  else if (es == 2) tile16(src, dst, x0, x1, y0, y1, ssy, dsx);
  else if (es == 8) tile64(src, dst, x0, x1, y0, y1, ssy, dsx);
  else tile8(src, dst, x0, x1, y0, y1, ssy, dsx);
}

// A tile is transposed in registers into this contiguous scratch, then copied out a whole
// destination row at a time: with power-of-two strides (256 channels, 8192 columns) the rows of a
// tile all map to the same cache sets, and writing them 16 bytes at a time would thrash.
const SCRATCH: usize = memory.data(TILE_X * TILE_Y * 8, 64);

@inline
function copyRow(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 64 <= bytes; i += 64) {
    v128.store(dst + i, v128.load(src + i));
    v128.store(dst + i, v128.load(src + i, 16), 16);
    v128.store(dst + i, v128.load(src + i, 32), 32);
    v128.store(dst + i, v128.load(src + i, 48), 48);
  }
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i < bytes; i++) store<u8>(dst + i, load<u8>(src + i));
}

// One full 64-element f32 tile row (the common case), unrolled.
@inline
function copyRow256(dst: usize, src: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  v128.store(dst, v128.load(src, 48), 48);
  v128.store(dst, v128.load(src, 64), 64);
  v128.store(dst, v128.load(src, 80), 80);
  v128.store(dst, v128.load(src, 96), 96);
  v128.store(dst, v128.load(src, 112), 112);
  v128.store(dst, v128.load(src, 128), 128);
  v128.store(dst, v128.load(src, 144), 144);
  v128.store(dst, v128.load(src, 160), 160);
  v128.store(dst, v128.load(src, 176), 176);
  v128.store(dst, v128.load(src, 192), 192);
  v128.store(dst, v128.load(src, 208), 208);
  v128.store(dst, v128.load(src, 224), 224);
  v128.store(dst, v128.load(src, 240), 240);
}

/** Cache-tiled 2-D transpose: dst[x*dsx + y] = src[y*ssy + x]; `es` is 1, 2, 4 or 8 bytes. */
export function transpose2d(src: usize, dst: usize, es: i32, nx: i32, ny: i32, ssy: i32, dsx: i32): void {
  put(XLEN, 0, nx);
  put(XDST, 0, dsx);
  transposeRows(src, dst, es, ny, ssy, nx, 1);
}

// ---- general permutation ----

// Up to MAX_AXES coalesced axes. Static scratch (the kernels never allocate): the "row" axes, which
// together cover the source block under one step of the output's last axis, in source order.
const MAX_AXES = 16;
const XLEN: usize = memory.data(MAX_AXES * 4, 16);
const XDST: usize = memory.data(MAX_AXES * 4, 16);
const XCNT: usize = memory.data(MAX_AXES * 4, 16);

@inline
function get(a: usize, i: i32): i32 {
  return load<i32>(a + (<usize>i << 2));
}

@inline
function put(a: usize, i: i32, v: i32): void {
  store<i32>(a + (<usize>i << 2), v);
}

// Touching a line (loading one byte of it) early is WASM's only prefetch; the sum keeps the loads.
let touched: u32 = 0;

@inline
function touch(p: usize, rows: i32, stride: usize, bytes: usize): void {
  let acc: u32 = 0;
  for (let r = 0; r < rows; r++, p += stride) {
    for (let b: usize = 0; b < bytes; b += 64) acc += load<u8>(p + b);
  }
  touched += acc;
}

/**
 * dst[rowOffset(x) + y] = src[y*ssy + x] for y < ny and x < nx, where row x's destination offset
 * comes from the row axes XLEN/XDST (x counts through them in source order). Tiles of TILE_X x TILE_Y
 * are transposed into SCRATCH and copied out a destination row at a time.
 */
function transposeRows(src: usize, dst: usize, es: i32, ny: i32, ssy: i32, nx: i32, nax: i32): void {
  const e = <usize>es;
  // The innermost row axis advances on every row: its counter, length and stride live in locals;
  // the outer row axes (OIHW->HWIO: I above HW) step only when it wraps.
  const in0 = nax - 1;
  const len0 = get(XLEN, in0);
  const ds0 = <usize>get(XDST, in0);
  if (es == 4 && nax == 1 && ds0 == <usize>ny && ny <= 64) {
    // Adjacent destination rows of at most 256 bytes (NCHW->NHWC with C <= 64, f32): the
    // destination is one block, written front to back 4 rows at a time straight from registers,
    // while the ny source rows are read as ny forward streams. (32x64x112x112: +40-50 %; with
    // longer rows, C = 256, the same order halves the speed: the scratch path below is used.)
    tile32w(src, dst, 0, nx, 0, ny, ssy, ny);
    return;
  }
  if (es == 4 && nax > 1 && nx >= STRIPP_W && ny >= 4) {
    // Destination rows from several row axes: column strips through a pointer table.
    strip32p(src, dst, nx, ny, ssy, nax);
    return;
  }
  if (es == 4 && nax == 1 && nx >= BLK && ny >= blockMinRows) {
    // Long rows both ways: 128 x 128 blocks written straight out.
    block32(src, dst, nx, ny, ssy, <i32>ds0);
    return;
  }
  if (es == 4 && nax == 1 && nx >= STRIP_W && ny > 64) {
    // Long destination rows with one stride: column strips written straight out.
    strip32(src, dst, nx, ny, ssy, <i32>ds0);
    return;
  }
  for (let y0 = 0; y0 < ny; y0 += TILE_Y) {
    const ty = min(TILE_Y, ny - y0);
    const rowBytes = <usize>ty * e;
    for (let i = 0; i < nax; i++) put(XCNT, i, 0);
    let c0 = 0;
    let d: usize = 0; // destination offset of row x, in elements
    for (let x0 = 0; x0 < nx; x0 += TILE_X) {
      const tx = min(TILE_X, nx - x0);
      // The next tile's source lines are touched before this one is transposed, so their misses
      // overlap this tile's work (8192^2 and OIHW->HWIO +5-15 %; touching its destination lines,
      // touching two tiles ahead, or spreading the touches over the copy-out measured no better).
      if (x0 + TILE_X < nx) touch(src + (<usize>y0 * <usize>ssy + <usize>(x0 + TILE_X)) * e, ty, <usize>ssy * e, <usize>min(TILE_X, nx - x0 - TILE_X) * e);
      else if (y0 + TILE_Y < ny) touch(src + <usize>(y0 + TILE_Y) * <usize>ssy * e, min(TILE_Y, ny - y0 - TILE_Y), <usize>ssy * e, <usize>min(TILE_X, nx) * e);
      tile(es, src + (<usize>y0 * <usize>ssy + <usize>x0) * e, SCRATCH, 0, tx, 0, ty, ssy, ty);
      const base = dst + <usize>y0 * e;
      let sp = SCRATCH;
      let x = 0;
      while (x < tx) {
        // a run of rows along the innermost row axis: constant destination stride
        const run = min(tx - x, len0 - c0);
        let o = base + d * e;
        const step = ds0 * e;
        if (rowBytes == 256) {
          for (let r = 0; r < run; r++, o += step, sp += 256) copyRow256(o, sp);
        } else {
          for (let r = 0; r < run; r++, o += step, sp += rowBytes) copyRow(o, sp, rowBytes);
        }
        x += run;
        c0 += run;
        if (c0 < len0) {
          d += ds0 * <usize>run;
          continue;
        }
        d += ds0 * <usize>(run - 1);
        c0 = 0;
        d -= ds0 * <usize>(len0 - 1);
        for (let i = in0 - 1; i >= 0; i--) {
          const c = get(XCNT, i) + 1;
          const ds = <usize>get(XDST, i);
          if (c < get(XLEN, i)) {
            put(XCNT, i, c);
            d += ds;
            break;
          }
          put(XCNT, i, 0);
          d -= ds * <usize>(c - 1);
        }
      }
    }
  }
}

@inline
function lenAt(meta: usize, i: i32): i32 {
  return load<i32>(meta + (<usize>i << 4));
}

@inline
function strideAt(meta: usize, i: i32): i32 {
  return load<i32>(meta + (<usize>i << 4), 4);
}

@inline
function dstStrideAt(meta: usize, i: i32): i32 {
  return load<i32>(meta + (<usize>i << 4), 8);
}

/**
 * Permute `src` into dense `dst`. `meta` holds, per output axis i < rank, four i32s:
 * [length, source stride (elements), destination stride (filled here), counter (scratch)].
 * Axes must be coalesced and free of length-1 axes (the wrapper does both); rank <= 16.
 */
export function permute(src: usize, dst: usize, es: i32, rank: i32, meta: usize): void {
  let total: usize = 1;
  for (let i = rank - 1; i >= 0; i--) {
    store<i32>(meta + (<usize>i << 4), <i32>total, 8);
    total *= <usize>lenAt(meta, i);
  }
  permuteStrided(src, dst, es, rank, meta);
}

/**
 * Like `permute`, but the destination strides (elements) are given in meta[i*4 + 2] instead of
 * being those of a dense output: the result is one block of a larger output (the wrapper streams a
 * tensor through WASM memory in slices of its outer input axis). The last axis must have
 * destination stride 1.
 */
export function permuteStrided(src: usize, dst: usize, es: i32, rank: i32, meta: usize): void {
  if (rank == 0) {
    memory.copy(dst, src, <usize>es);
    return;
  }
  const e = <usize>es;
  const last = rank - 1;
  let total: usize = 1;
  for (let i = rank - 1; i >= 0; i--) {
    store<i32>(meta + (<usize>i << 4), 0, 12);
    total *= <usize>lenAt(meta, i);
  }
  if (total == 0) return;
  const ssy = strideAt(meta, last);
  const ny = lenAt(meta, last);

  // Outer axes are walked by an odometer; each step handles one contiguous source block.
  let work: usize; // elements per step
  let nax = 0;
  if (ssy == 1) {
    work = <usize>ny; // rows of the last output axis are contiguous in the source: copy them
  } else {
    // Row axes: source stride below ssy; they tile the source block [0, ssy) exactly.
    for (let i = 0; i < last; i++) {
      if (strideAt(meta, i) < ssy) {
        // insertion by descending source stride (source order)
        let j = nax++;
        while (j > 0 && strideAt(meta, get(XCNT, j - 1)) < strideAt(meta, i)) {
          put(XCNT, j, get(XCNT, j - 1));
          j--;
        }
        put(XCNT, j, i);
      }
    }
    for (let j = 0; j < nax; j++) {
      const a = get(XCNT, j);
      put(XLEN, j, lenAt(meta, a));
      put(XDST, j, dstStrideAt(meta, a));
      store<i32>(meta + (<usize>a << 4), -1, 12); // not an outer axis
    }
    work = <usize>ny * <usize>ssy;
  }
  const steps = total / work;
  let s: usize = 0;
  let d: usize = 0;
  for (let k: usize = 0; k < steps; k++) {
    if (ssy == 1) memory.copy(dst + d * e, src + s * e, work * e);
    else transposeRows(src + s * e, dst + d * e, es, ny, ssy, ssy, nax);
    for (let i = last - 1; i >= 0; i--) {
      const p = meta + (<usize>i << 4);
      const cnt = load<i32>(p, 12);
      if (cnt < 0) continue;
      const c = cnt + 1;
      const st = <usize>load<i32>(p, 4);
      const ds = <usize>load<i32>(p, 8);
      if (c < load<i32>(p)) {
        store<i32>(p, c, 12);
        s += st;
        d += ds;
        break;
      }
      store<i32>(p, 0, 12);
      s -= st * <usize>(c - 1);
      d -= ds * <usize>(c - 1);
    }
  }
}
