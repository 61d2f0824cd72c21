// Data-aware rounding of int8 weights (GPTQ: Frantar et al. 2023, "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers", after Optimal Brain Quantization):
// rounding each weight to nearest ignores that a layer's inputs are correlated -- neighbouring
// pixels of a k x k window, channels that move together -- so the rounding errors of one output
// channel's weights add up in its output. GPTQ rounds one input column at a time and moves the
// column's error onto the columns not rounded yet, weighted by the inverse of the Hessian
// H = X^T X of the layer's inputs X (im2col rows of a conv, rows of a dense layer's input),
// which minimises ||W X - Q X||^2 per output channel. The scale per channel stays minmax's (the
// caller's), the range narrow [-127, 127]; only which integer each weight becomes changes.
// The Hessians come from one extra pass of the float graph over (some of) the calibration samples,
// with a bounded number of rows per layer; a depthwise conv has one k x k Hessian per channel; a
// layer with more than MAX_BLOCK inputs per group uses a block-diagonal H (blocks of contiguous
// inputs), which bounds memory and the O(K^3) factorisation.
import { QuantizationError } from '../ir/errors.js';
import { attrInt, attrString, type Graph, type Node } from '../ir/graph.js';
import { parseConvAttrs, windowOf } from '../ir/ops/conv.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { gemmF32 } from '../wasm/dense.js';

export type WeightRounding = 'nearest' | 'gptq';

export interface WeightRoundingOptions {
  /** Hessian rows per layer at most, spread evenly over the samples (default 4096) */
  maxRows?: number;
  /** samples used for the Hessians at most (default 64) */
  maxSamples?: number;
  /** damping added to H's diagonal, as a fraction of its mean (default 0.01) */
  damp?: number;
}

/** Inputs per Hessian block at most: a larger layer's H is block-diagonal. */
const MAX_BLOCK = 512;

/**
 * How a layer's weight tensor reads as a matrix W[o][k] (o: output channel, k: input column in
 * im2col order (ky, kx, c) within the output channel's group) and where its rows come from.
 */
interface Layer {
  node: Node;
  weight: string;
  O: number;
  /** groups (a conv's `group`; 1 for dense layers) */
  G: number;
  /** inputs per group: kh · kw · C/G for a conv, K for a dense layer */
  K: number;
  /** the weight stores W[o][k] at o·K + k (OHWI, (O,K)) rather than k·O + o (HWIO, (K,O)) */
  outerO: boolean;
  /** a 2-D conv over NHWC input, or undefined for a dense layer (rows of its (…, K) input) */
  conv?: { kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; padT: number; padL: number; padB: number; padR: number; Cg: number };
  /** block boundaries within K ([0, …, K]) */
  blocks: number[];
  /** per group and block, the summed X^T X (row-major, block × block) */
  h: Float64Array[];
  rows: number;
}

const isOnnx = (n: Node) => !n.domain || n.domain === 'ai.onnx';

/** The layer a conv / dense node makes, or undefined where its weight is not rounded against data. */
function layerOf(g: Graph, n: Node): Omit<Layer, 'h' | 'rows' | 'blocks'> | undefined {
  const weight = n.inputs[1];
  const w = weight ? g.initializers.get(weight) : undefined;
  if (!weight || !w || (w.dtype !== 'float32' && w.dtype !== 'float16')) return undefined;
  if (n.domain === 'nnport' && n.opType === 'Conv') {
    if (w.rank !== 4) return undefined;
    const layout = attrString(n, 'kernel_layout', 'HWIO');
    const [O, kh, kw, Cg] = layout === 'OHWI' ? w.shape : [w.shape[3]!, w.shape[0]!, w.shape[1]!, w.shape[2]!];
    const a = parseConvAttrs(n);
    // SAME_* pads depend on the input size: such a conv (TFLite and Keras graphs have explicit
    // pads by now) keeps nearest rounding
    if (a.autoPad !== 'NOTSET' && a.autoPad !== 'VALID') return undefined;
    const win = windowOf(a, [kh!, kw!], n.name);
    const [padT, padL, padB, padR] = a.autoPad === 'VALID' ? [0, 0, 0, 0] : win.pads;
    if (O! % a.group) return undefined;
    return { node: n, weight, O: O!, G: a.group, K: kh! * kw! * Cg!, outerO: layout === 'OHWI', conv: { kh: kh!, kw: kw!, sh: win.s[0]!, sw: win.s[1]!, dh: win.d[0]!, dw: win.d[1]!, padT: padT!, padL: padL!, padB: padB!, padR: padR!, Cg: Cg! } };
  }
  if (isOnnx(n) && n.opType === 'Gemm' && w.rank === 2 && attrInt(n, 'transA', 0) === 0) {
    const transB = attrInt(n, 'transB', 0) === 1;
    return { node: n, weight, O: transB ? w.shape[0]! : w.shape[1]!, G: 1, K: transB ? w.shape[1]! : w.shape[0]!, outerO: transB };
  }
  if (isOnnx(n) && n.opType === 'MatMul' && w.rank === 2) return { node: n, weight, O: w.shape[1]!, G: 1, K: w.shape[0]!, outerO: false };
  return undefined;
}

/** Deterministic pseudo-random integers (Park–Miller), so a conversion is reproducible. */
function lcg(seed: number): (n: number) => number {
  let s = seed % 2147483647 || 1;
  return (n: number) => ((s = (s * 16807) % 2147483647), s % n);
}

/** `count` distinct indices of [0, n) (all of them when count >= n), ascending. */
function pick(n: number, count: number, rand: (n: number) => number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rand(n));
  return Int32Array.from([...chosen].sort((a, b) => a - b));
}

/** Add the rows of X (rows × K, float32) to each block's X^T X (one SIMD GEMM per block). */
function accumulate(layer: Layer, group: number, X: Float32Array, rows: number): void {
  const { K, blocks } = layer;
  for (let b = 0; b + 1 < blocks.length; b++) {
    const lo = blocks[b]!;
    const B = blocks[b + 1]! - lo;
    const h = layer.h[group * (blocks.length - 1) + b]!;
    if (B <= 16) {
      // small (a depthwise window): a plain loop beats the GEMM's packing
      for (let r = 0; r < rows; r++) {
        const o = r * K + lo;
        for (let i = 0; i < B; i++) {
          const xi = X[o + i]!;
          if (xi === 0) continue;
          for (let j = 0; j <= i; j++) h[i * B + j] += xi * X[o + j]!;
        }
      }
      continue;
    }
    const Xb = B === K ? X.subarray(0, rows * K) : new Float32Array(rows * B);
    if (B !== K) for (let r = 0; r < rows; r++) Xb.set(X.subarray(r * K + lo, r * K + lo + B), r * B);
    const out = new Float32Array(B * B);
    // two Tensor objects over the same rows: the GEMM keeps packed copies of a tensor it sees twice
    gemmF32(new Tensor('float32', [rows, B], Xb), new Tensor('float32', [rows, B], Xb), { M: B, N: B, K: rows, transA: true, transB: false, alpha: 1 }, out, false);
    for (let i = 0; i < B; i++) for (let j = 0; j <= i; j++) h[i * B + j] += out[i * B + j]!;
  }
}

/**
 * A 4-D NHWC value's data and the strides of its (n, y, x, c) axes: a deferred permutation (a
 * channels-last graph run lowered) is read as computed, without the permuted copy. The view may
 * leave out axes of size 1 (a batch of one): the axes longer than 1 are matched in order.
 */
function nhwcStrides(t: Tensor): { x: Float32Array; st: number[] } {
  const view = t.deferred;
  if (view && view.source instanceof Float32Array) {
    const r = view.shape.length;
    const ss = new Array<number>(r).fill(1);
    for (let i = r - 2; i >= 0; i--) ss[i] = ss[i + 1]! * view.shape[i + 1]!;
    const long = view.perm.map((p) => [view.shape[p]!, ss[p]!] as const).filter(([d]) => d > 1);
    const st = [0, 0, 0, 0];
    let k = 0;
    for (let i = 0; i < 4 && k <= long.length; i++) if (t.shape[i]! > 1) st[i] = long[k]?.[0] === t.shape[i] ? long[k++]![1] : NaN;
    if (k === long.length && st.every((v) => !Number.isNaN(v))) return { x: view.source, st };
  }
  const [, H, W, C] = t.shape as [number, number, number, number];
  return { x: t.data as Float32Array, st: [H * W * C, W * C, C, 1] };
}

/** Gather the sampled im2col rows of one conv input sample (NHWC) per group and add them. */
function addConvRows(layer: Layer, t: Tensor, rand: (n: number) => number, perSample: number): void {
  const c = layer.conv!;
  const [N, H, W, C] = t.shape as [number, number, number, number];
  const Ho = Math.floor((H + c.padT + c.padB - ((c.kh - 1) * c.dh + 1)) / c.sh) + 1;
  const Wo = Math.floor((W + c.padL + c.padR - ((c.kw - 1) * c.dw + 1)) / c.sw) + 1;
  if (Ho < 1 || Wo < 1) return;
  if (C !== c.Cg * layer.G) throw new QuantizationError(`weight rounding: '${layer.node.name}' reads ${C} channels, its weight ${c.Cg} x ${layer.G} groups`);
  const { x, st } = nhwcStrides(t);
  const [sn, sy, sx, sc] = st as [number, number, number, number];
  const positions = pick(N * Ho * Wo, perSample, rand);
  const rows = positions.length;
  const K = layer.K;
  // per row, the offset of each window tap (-1: padding), shared by every group
  const taps = new Int32Array(rows * c.kh * c.kw);
  for (let r = 0; r < rows; r++) {
    const p = positions[r]!;
    const n = Math.floor(p / (Ho * Wo));
    const oy = Math.floor(p / Wo) % Ho;
    const ox = p % Wo;
    for (let ky = 0, k = r * c.kh * c.kw; ky < c.kh; ky++) {
      const iy = oy * c.sh - c.padT + ky * c.dh;
      for (let kx = 0; kx < c.kw; kx++, k++) {
        const ix = ox * c.sw - c.padL + kx * c.dw;
        taps[k] = iy < 0 || iy >= H || ix < 0 || ix >= W ? -1 : n * sn + iy * sy + ix * sx;
      }
    }
  }
  const T = c.kh * c.kw;
  if (K <= 32 && layer.blocks.length === 2) {
    // a depthwise window (3x3, 5x5): each group's K x K Hessian straight from the taps
    const v = new Float64Array(K);
    for (let g = 0; g < layer.G; g++) {
      const h = layer.h[g]!;
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < T; k++) {
          const off = taps[r * T + k]!;
          for (let ch = 0; ch < c.Cg; ch++) v[k * c.Cg + ch] = off < 0 ? 0 : x[off + (g * c.Cg + ch) * sc]!;
        }
        for (let i = 0; i < K; i++) {
          const vi = v[i]!;
          if (vi !== 0) for (let j = 0; j <= i; j++) h[i * K + j] += vi * v[j]!;
        }
      }
    }
    layer.rows += rows;
    return;
  }
  const X = new Float32Array(rows * K);
  for (let g = 0; g < layer.G; g++) {
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < T; k++) {
        const off = taps[r * T + k]!;
        const o = r * K + k * c.Cg;
        if (off < 0) X.fill(0, o, o + c.Cg);
        else for (let ch = 0, src = off + g * c.Cg * sc; ch < c.Cg; ch++, src += sc) X[o + ch] = x[src]!;
      }
    }
    accumulate(layer, g, X, rows);
  }
  layer.rows += rows;
}

/**
 * Per weight initializer read by exactly one conv / dense node, the Hessian of that node's input
 * over (up to maxSamples of) `samples`, from a forward pass of the float graph `g`.
 */
export async function collectHessians(g: Graph, samples: readonly Map<string, Tensor>[], options: WeightRoundingOptions = {}): Promise<Map<string, Layer>> {
  const readers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const layers = new Map<string, Layer>();
  const byInput = new Map<string, Layer[]>();
  for (const n of g.nodes) {
    const l = layerOf(g, n);
    if (!l || readers.get(l.weight) !== 1 || !n.inputs[0]) continue;
    const nb = Math.ceil(l.K / MAX_BLOCK);
    const blocks = Array.from({ length: nb + 1 }, (_, b) => Math.round((b * l.K) / nb));
    const h = Array.from({ length: l.G * nb }, (_, i) => {
      const B = blocks[(i % nb) + 1]! - blocks[i % nb]!;
      return new Float64Array(B * B);
    });
    const layer: Layer = { ...l, blocks, h, rows: 0 };
    layers.set(l.weight, layer);
    byInput.set(n.inputs[0], [...(byInput.get(n.inputs[0]) ?? []), layer]);
  }
  const used = samples.slice(0, options.maxSamples ?? 64);
  if (!used.length) throw new QuantizationError('weight rounding needs calibration samples');
  // rows per layer: 16 per input column, at least 1024, at most maxRows, spread evenly over the
  // samples (mobilenet_v2: 4096 rows measured as good as 8192, at half the GEMM time)
  const rowsPerSample = (K: number) => Math.max(1, Math.ceil(Math.min(options.maxRows ?? 4096, Math.max(1024, 16 * K)) / used.length));
  const rand = lcg(12345);
  const add = (name: string, t: Tensor) => {
    const ls = byInput.get(name);
    if (!ls || t.dtype !== 'float32') return;
    for (const l of ls) {
      if (l.conv) {
        if (t.rank === 4) addConvRows(l, t, rand, rowsPerSample(l.K));
      } else {
        const x = t.data as Float32Array;
        const perSample = rowsPerSample(l.K);
        const rowsAll = t.size / l.K;
        if (!Number.isInteger(rowsAll)) continue;
        const picked = pick(rowsAll, perSample, rand);
        const X = new Float32Array(picked.length * l.K);
        picked.forEach((r, i) => X.set(x.subarray(r * l.K, (r + 1) * l.K), i * l.K));
        accumulate(l, 0, X, picked.length);
        l.rows += picked.length;
      }
    }
  };
  const observe = new Set(byInput.keys());
  for (const feeds of used) {
    for (const [k, v] of feeds) add(k, v);
    await runGraph(g, feeds, { onValue: add, observe });
  }
  return layers;
}

/**
 * Cholesky factor U (upper triangular) of H^-1 for H symmetric positive definite (lower triangle
 * given, n × n), from one Cholesky of H with its order reversed: J H J = L L^T gives
 * H^-1 = (J L^-1 J)^T (J L^-1 J). Undefined when H is not positive definite.
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | undefined {
  // A = J H J, lower triangle: A[i][j] = H[n-1-i][n-1-j] (read from H's lower triangle)
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
  // M = L^-1 (lower), kept transposed (T = M^T) so that both factors of each sum are read along rows:
  // M[i][j] = -(sum_{k=j}^{i-1} L[i][k] M[k][j]) / L[i][i]
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
 * through U (upper Cholesky factor of H^-1). Returns the integers (rows × n).
 */
export function gptqBlock(W: Float64Array, rows: number, n: number, scales: Float64Array, U: Float64Array): Int8Array {
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

/**
 * The int8 weights of `layer` rounded by GPTQ against its Hessians, with the per-output-channel
 * scales given (one scale: per tensor); the same shape and layout as the float weight `w`.
 */
export function roundWeightsGptq(layer: Layer, w: Tensor, scales: readonly number[], options: WeightRoundingOptions = {}): Tensor {
  const { O, G, K, blocks, outerO } = layer;
  const f = w.toFloat32();
  const q = new Int8Array(f.length);
  const at = (o: number, k: number) => (outerO ? o * K + k : k * O + o);
  const perGroup = O / G;
  const nb = blocks.length - 1;
  for (let g = 0; g < G; g++) {
    for (let b = 0; b < nb; b++) {
      const lo = blocks[b]!;
      const n = blocks[b + 1]! - lo;
      const H = Float64Array.from(layer.h[g * nb + b]!);
      // columns never seen non-zero (a padded border only, a dead channel) keep nearest rounding
      let mean = 0;
      for (let i = 0; i < n; i++) mean += H[i * n + i]!;
      mean /= n;
      const dead = new Uint8Array(n);
      for (let i = 0; i < n; i++) if (!(H[i * n + i]! > 0)) (dead[i] = 1), (H[i * n + i] = 1);
      // act order: the columns with the largest inputs first (their error has the most room to be spread)
      const order = Array.from({ length: n }, (_, i) => i).sort((a, c) => H[c * n + c]! - H[a * n + a]!);
      const P = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
        const a = order[i]!;
        const c = order[j]!;
        P[i * n + j] = a >= c ? H[a * n + c]! : H[c * n + a]!;
      }
      let U: Float64Array | undefined;
      for (let damp = options.damp ?? 0.01; !U && damp < 1e3; damp *= 10) {
        const D = Float64Array.from(P);
        for (let i = 0; i < n; i++) D[i * n + i]! += damp * (mean > 0 ? mean : 1);
        U = upperCholeskyOfInverse(D, n);
      }
      if (!U) throw new QuantizationError(`weight rounding: the input Hessian of '${layer.node.name}' is not positive definite`);
      const W = new Float64Array(perGroup * n);
      const s = new Float64Array(perGroup);
      for (let r = 0; r < perGroup; r++) {
        const o = g * perGroup + r;
        s[r] = scales.length === 1 ? scales[0]! : scales[o]!;
        for (let i = 0; i < n; i++) W[r * n + i] = f[at(o, lo + order[i]!)]!;
      }
      const Q = gptqBlock(W, perGroup, n, s, U);
      for (let r = 0; r < perGroup; r++) for (let i = 0; i < n; i++) q[at(g * perGroup + r, lo + order[i]!)] = Q[r * n + i]!;
    }
  }
  return new Tensor('int8', w.shape, q);
}

/** The largest Hessian block of a layer (its inputs per group, at most MAX_BLOCK). */
export const maxBlock = (layer: Layer): number => Math.max(...layer.blocks.slice(1).map((b, i) => b - layer.blocks[i]!));

export type { Layer as RoundingLayer };
