// Scalar twins of assembly/kernels/recurrent.ts: the same step computed in double precision
// with Math.exp / Math.tanh and rounded once, the reference the tests hold the SIMD kernels to
// (within a few float32 ulp: the kernels' exp is a polynomial).

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const clipTo = (x: number, clip: number): number => Math.min(clip, Math.max(-clip, x));

/** y[n] += Σ_k x[k] · W[n, k], W [N, K] row-major (sgemvPacked packs it as Wᵀ). */
export function gemvAddScalar(W: Float32Array, N: number, K: number, x: Float32Array, y: Float32Array): void {
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += W[n * K + k]! * x[k]!;
    y[n] = y[n]! + s;
  }
}

export function sigmoidScalar(v: Float32Array, clip = Infinity): void {
  for (let i = 0; i < v.length; i++) v[i] = sigmoid(clipTo(v[i]!, clip));
}

export function tanhScalar(v: Float32Array, clip = Infinity): void {
  for (let i = 0; i < v.length; i++) v[i] = Math.tanh(clipTo(v[i]!, clip));
}

/** One LSTM row step, default activations, no peepholes: g [4H] (i, o, f, c), c and h [H] in place. */
export function lstmCellScalar(g: Float32Array, c: Float32Array, h: Float32Array, H: number, clip = Infinity): void {
  for (let j = 0; j < H; j++) {
    const i = sigmoid(clipTo(g[j]!, clip));
    const o = sigmoid(clipTo(g[H + j]!, clip));
    const f = sigmoid(clipTo(g[2 * H + j]!, clip));
    const z = Math.tanh(clipTo(g[3 * H + j]!, clip));
    c[j] = f * c[j]! + i * z;
    h[j] = o * Math.tanh(c[j]!);
  }
}

/** One GRU row step (linear_before_reset), default activations: g, r [3H] (z, r, h), rbh [H] or undefined, h [H] in place. */
export function gruCellScalar(g: Float32Array, r: Float32Array, rbh: Float32Array | undefined, h: Float32Array, H: number, clip = Infinity): void {
  for (let j = 0; j < H; j++) {
    const z = sigmoid(clipTo(r[j]! + g[j]!, clip));
    const rt = sigmoid(clipTo(r[H + j]! + g[H + j]!, clip));
    const n = Math.tanh(clipTo(rt * (r[2 * H + j]! + (rbh ? rbh[j]! : 0)) + g[2 * H + j]!, clip));
    h[j] = (1 - z) * n + z * h[j]!;
  }
}

/** GRU (linear_before_reset = 0) first half: zr [2H] = sigmoid(zr + g[0, 2H)) in place, rh = r ⊙ h. */
export function gruResetScalar(zr: Float32Array, g: Float32Array, h: Float32Array, rh: Float32Array, H: number, clip = Infinity): void {
  for (let j = 0; j < 2 * H; j++) zr[j] = sigmoid(clipTo(zr[j]! + g[j]!, clip));
  for (let j = 0; j < H; j++) rh[j] = zr[H + j]! * h[j]!;
}

/** Second half: h = (1 - z) ⊙ tanh(hh + g[2H, 3H)) + z ⊙ h in place. */
export function gruUpdateScalar(z: Float32Array, hh: Float32Array, g: Float32Array, h: Float32Array, H: number, clip = Infinity): void {
  for (let j = 0; j < H; j++) {
    const n = Math.tanh(clipTo(hh[j]! + g[2 * H + j]!, clip));
    h[j] = (1 - z[j]!) * n + z[j]! * h[j]!;
  }
}
