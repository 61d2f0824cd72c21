// Softmax / LogSoftmax over the last axis of a [rows, cols] float32 matrix. The scalar
// twin is softmaxRowsScalar in src/wasm/scalar/elementwise.ts.
// Max and the final scaling are SIMD; exp is scalar (SIMD128 has no exp) in float32.

/** out = softmax(x) (log = 0) or log_softmax(x) (log = 1) along each row; out may equal x. */
export function softmaxRowsF32(x: usize, out: usize, rows: i32, cols: i32, log: i32): void {
  if (cols <= 0) return;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    const yr = out + (<usize>r * <usize>cols << 2);
    // Subtracting the row max keeps exp from overflowing (softmax_large_number).
    let mv = f32x4.splat(-Infinity);
    let i = 0;
    for (; i + 4 <= cols; i += 4) mv = f32x4.max(mv, v128.load(xr + (<usize>i << 2)));
    let m = max<f32>(max<f32>(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max<f32>(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; i < cols; i++) m = max<f32>(m, load<f32>(xr + (<usize>i << 2)));
    let sum: f64 = 0;
    if (log) {
      for (let j = 0; j < cols; j++) sum += <f64>Mathf.exp(load<f32>(xr + (<usize>j << 2)) - m);
      const shift = m + <f32>Math.log(sum);
      const sv = f32x4.splat(shift);
      let j = 0;
      for (; j + 4 <= cols; j += 4) v128.store(yr + (<usize>j << 2), f32x4.sub(v128.load(xr + (<usize>j << 2)), sv));
      for (; j < cols; j++) store<f32>(yr + (<usize>j << 2), load<f32>(xr + (<usize>j << 2)) - shift);
    } else {
      for (let j = 0; j < cols; j++) {
        const e = Mathf.exp(load<f32>(xr + (<usize>j << 2)) - m);
        store<f32>(yr + (<usize>j << 2), e);
        sum += <f64>e;
      }
      const inv = <f32>(1.0 / sum);
      const iv = f32x4.splat(inv);
      let j = 0;
      for (; j + 4 <= cols; j += 4) v128.store(yr + (<usize>j << 2), f32x4.mul(v128.load(yr + (<usize>j << 2)), iv));
      for (; j < cols; j++) store<f32>(yr + (<usize>j << 2), load<f32>(yr + (<usize>j << 2)) * inv);
    }
  }
}
