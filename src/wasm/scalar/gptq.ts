// Scalar twin of assembly/kernels/gptq.ts (GPTQ weight rounding): the same sums in plain loops,
// float64 throughout, the columns updated one by one (no blocks). The WASM kernels sum in other
// orders (float32 per call for the Hessians, pairs of lanes, lazy batch updates), so the two
// agree to rounding, not bit for bit.

/** h (K x K float64, lower triangle) += X^T X of the `rows` rows of x (row r at r·ld). */
export function hessianAddScalar(x: Float32Array, rows: number, K: number, ld: number, h: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * ld;
    for (let i = 0; i < K; i++) {
      const xi = x[o + i]!;
      if (xi === 0) continue;
      for (let j = 0; j <= i; j++) h[i * K + j] += xi * x[o + j]!;
    }
  }
}

/** h ((T, T, C) float64, lower triangle in (i, j)) += per channel c, v[r][i][c] · v[r][j][c] over the rows of v ((rows, T, C)). */
export function hessianAddChannelsScalar(v: Float32Array, rows: number, T: number, C: number, h: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * T * C;
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) for (let c = 0; c < C; c++) h[(i * T + j) * C + c] += v[o + i * C + c]! * v[o + j * C + c]!;
  }
}

/**
 * Cholesky factor U (upper triangular) of H^-1 for H symmetric positive definite (lower triangle
 * given, n × n), from one Cholesky of H with its order reversed: J H J = L L^T gives
 * H^-1 = (J L^-1 J)^T (J L^-1 J). Undefined when H is not positive definite.
 */
export function upperCholeskyOfInverseScalar(H: Float64Array, n: number): Float64Array | undefined {
  // A = J H J, lower triangle: A[i][j] = H[n-1-j][n-1-i] (read from H's lower triangle)
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L[i * n + j] = H[(n - 1 - j) * n + (n - 1 - i)]!;
  // in-place Cholesky (row-oriented), L lower
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = L[i * n + j]!;
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        L[ri + i] = Math.sqrt(s);
      } else L[ri + j] = s / L[rj + j]!;
    }
  }
  // M = L^-1 (lower), kept transposed (T = M^T): M[i][j] = -(sum_{k=j}^{i-1} L[i][k] M[k][j]) / L[i][i]
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const d = L[ri + i]!;
    T[ri + i] = 1 / d;
    for (let j = 0; j < i; j++) {
      let s = 0;
      const rj = j * n;
      for (let k = j; k < i; k++) s += L[ri + k]! * T[rj + k]!;
      T[rj + i] = -s / d;
    }
  }
  // U = J M J: U[i][j] = M[n-1-i][n-1-j] = T[n-1-j][n-1-i]
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = T[(n - 1 - j) * n + (n - 1 - i)]!;
  return U;
}

const roundHalfAway = (v: number) => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

/**
 * GPTQ on one block: W (rows × n, row-major, float64, modified) rounded column by column to
 * q = clamp(round(w / scale[row]), -127, 127), each column's error spread over the later columns
 * through U (upper Cholesky factor of H^-1) at once. Returns the integers (rows × n).
 */
export function gptqRoundScalar(W: Float64Array, rows: number, n: number, scales: Float64Array, U: Float64Array): Int8Array {
  const Q = new Int8Array(rows * n);
  for (let i = 0; i < n; i++) {
    const d = U[i * n + i]!;
    const ui = i * n;
    for (let o = 0; o < rows; o++) {
      const ro = o * n;
      const w = W[ro + i]!;
      const s = scales[o]!;
      const q = s > 0 ? Math.max(-127, Math.min(127, roundHalfAway(w / s))) : 0;
      Q[ro + i] = q;
      const err = (w - q * s) / d;
      if (err === 0) continue;
      for (let j = i + 1; j < n; j++) W[ro + j] -= err * U[ui + j]!;
    }
  }
  return Q;
}
