// Data-aware rounding of int8 weights (GPTQ: Frantar et al. 2023, "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers", after Optimal Brain Quantization):
// rounding each weight to nearest ignores that a layer's inputs are correlated -- neighbouring
// pixels of a k x k window, channels that move together -- so the rounding errors of one output
// channel's weights add up in its output. GPTQ rounds one input column at a time and moves the
// column's error onto the columns not rounded yet, weighted by the inverse of the Hessian
// H = X^T X of the layer's inputs X (im2col rows of a conv, rows of a dense layer's input),
// which minimises ||W X - Q X||^2 per output channel. The scale per channel stays minmax's (the
// caller's), the range narrow [-127, 127]; only which integer each weight becomes changes.
// The Hessians are summed during the calibration passes that run anyway (HessianCollector is an
// observer of those passes), with a bounded number of rows per layer, in WASM; a depthwise conv
// has one k x k Hessian per channel; a layer with more than MAX_BLOCK inputs per group uses a
// block-diagonal H (blocks of contiguous inputs), which bounds memory and the O(K^3)
// factorisation. The factor of H^-1 and the column sweep (in blocks of columns, the paper's lazy
// batch updates) run on WASM kernels too (src/wasm/gptq.ts).
import { QuantizationError } from '../ir/errors.js';
import { attrInt, attrString, producersOf, type Graph, type Node } from '../ir/graph.js';
import { parseConvAttrs, windowOf } from '../ir/ops/conv.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { gptqRound, HessianAccumulators, upperCholeskyOfInverse } from '../wasm/gptq.js';

export { upperCholeskyOfInverse } from '../wasm/gptq.js';

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

/**
 * The [top, left, bottom, right] pads of a Pad node that pads only H and W of an NHWC value with
 * zeros (constant mode, no value or 0), or undefined.
 */
function spatialZeroPad(g: Graph, n: Node | undefined): [number, number, number, number] | undefined {
  if (!n || !isOnnx(n) || n.opType !== 'Pad' || attrString(n, 'mode', 'constant') !== 'constant' || (n.inputs[3] ?? '') !== '' || !n.inputs[0]) return undefined;
  const pads = g.initializers.get(n.inputs[1] ?? '');
  const value = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
  if (!pads || pads.size !== 8 || (n.inputs[2] && (!value || value.toNumbers().some((x) => x !== 0)))) return undefined;
  const [b0, t, l, c0, b1, b, r, c1] = pads.toNumbers() as [number, number, number, number, number, number, number, number];
  return b0 || c0 || b1 || c1 || t < 0 || l < 0 || b < 0 || r < 0 ? undefined : [t, l, b, r];
}

/** Where a layer's Hessian blocks live in the accumulators while they are summed. */
interface Pending {
  layer: Layer;
  /** a depthwise conv (one input channel per group): one (T, T, G) accumulator of per-channel window Hessians */
  channels: boolean;
  /** the first accumulator index (generic: group g, block b at first + g · blocks + b) */
  first: number;
  /** samples seen (at most maxSamples are used) */
  samples: number;
}

/**
 * Collects the input Hessians of every conv / dense layer whose weight initializer only it reads,
 * from the values of forward passes of the float graph: `observe(name, tensor)` is an `onValue`
 * for runGraph (calibration's passes: quantizeGraph gives it the values of `values`), sampling
 * rows of each layer input and adding their X^T X in WASM (src/wasm/gptq.ts). `finish()` gives
 * the Hessians; the accumulators are held in WASM memory until then (or `dispose()`).
 */
export class HessianCollector {
  /** the values to observe: the layers' inputs */
  readonly values: ReadonlySet<string>;
  private readonly byInput = new Map<string, Pending[]>();
  private readonly pending: Pending[] = [];
  private readonly acc: HessianAccumulators;
  private readonly rand = lcg(12345);
  private readonly maxSamples: number;
  private readonly rowsPerSample: (K: number) => number;
  private scratch = new Float32Array(0);

  /** `samples`: how many samples the passes will give (when known; otherwise maxSamples is assumed), which spreads the rows over them. */
  constructor(g: Graph, options: WeightRoundingOptions & { samples?: number } = {}) {
    const readers = new Map<string, number>();
    for (const n of g.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
    const producer = producersOf(g.nodes);
    const sizes: number[] = [];
    for (const n of g.nodes) {
      const l = layerOf(g, n);
      if (!l || readers.get(l.weight) !== 1 || !n.inputs[0]) continue;
      // a zero Pad before a conv is fused into it by the runtime, and observing a value fusion
      // removes would make the passes run unfused: its input is observed, padded here
      let input = n.inputs[0];
      const pad = l.conv ? spatialZeroPad(g, producer.get(input)) : undefined;
      if (pad && l.conv) {
        input = producer.get(input)!.inputs[0]!;
        l.conv = { ...l.conv, padT: l.conv.padT + pad[0], padL: l.conv.padL + pad[1], padB: l.conv.padB + pad[2], padR: l.conv.padR + pad[3] };
      }
      const nb = Math.ceil(l.K / MAX_BLOCK);
      const blocks = Array.from({ length: nb + 1 }, (_, b) => Math.round((b * l.K) / nb));
      const layer: Layer = { ...l, blocks, h: [], rows: 0 };
      const channels = !!l.conv && l.conv.Cg === 1 && l.G > 1;
      const p: Pending = { layer, channels, first: sizes.length, samples: 0 };
      if (channels) sizes.push(l.K * l.K * l.G);
      else for (let g = 0; g < l.G; g++) for (let b = 0; b < nb; b++) sizes.push((blocks[b + 1]! - blocks[b]!) ** 2);
      this.pending.push(p);
      this.byInput.set(input, [...(this.byInput.get(input) ?? []), p]);
    }
    this.values = new Set(this.byInput.keys());
    this.acc = new HessianAccumulators(sizes);
    this.maxSamples = options.maxSamples ?? 64;
    const expected = Math.max(1, Math.min(this.maxSamples, options.samples ?? this.maxSamples));
    // rows per layer: 16 per input column, at least 1024, at most maxRows, spread evenly over the
    // samples (mobilenet_v2: 4096 rows measured as good as 8192, at half the GEMM time)
    this.rowsPerSample = (K: number) => Math.max(1, Math.ceil(Math.min(options.maxRows ?? 4096, Math.max(1024, 16 * K)) / expected));
  }

  /** An onValue: the rows of each layer that reads `name` (the first maxSamples values of each). */
  readonly observe = (name: string, t: Tensor): void => {
    const ps = this.byInput.get(name);
    if (!ps || t.dtype !== 'float32') return;
    for (const p of ps) {
      if (p.samples >= this.maxSamples) continue;
      p.samples++;
      if (p.layer.conv) {
        if (t.rank === 4) this.addConvRows(p, t);
        continue;
      }
      const l = p.layer;
      const rowsAll = t.size / l.K;
      if (!Number.isInteger(rowsAll)) continue;
      const x = t.data as Float32Array;
      const picked = pick(rowsAll, this.rowsPerSample(l.K), this.rand);
      const X = this.rowsBuffer(picked.length * l.K);
      picked.forEach((r, i) => X.set(x.subarray(r * l.K, (r + 1) * l.K), i * l.K));
      this.acc.addRows(X, picked.length, l.K, this.targets(p, 0));
      l.rows += picked.length;
    }
  };

  private rowsBuffer(n: number): Float32Array {
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    return this.scratch.subarray(0, n);
  }

  private targets(p: Pending, group: number): { index: number; lo: number; K: number }[] {
    const { blocks } = p.layer;
    const nb = blocks.length - 1;
    return Array.from({ length: nb }, (_, b) => ({ index: p.first + group * nb + b, lo: blocks[b]!, K: blocks[b + 1]! - blocks[b]! }));
  }

  /** Gather the sampled im2col rows of one conv input sample (NHWC) per group and add them. */
  private addConvRows(p: Pending, t: Tensor): void {
    const layer = p.layer;
    const c = layer.conv!;
    const [N, H, W, C] = t.shape as [number, number, number, number];
    const Ho = Math.floor((H + c.padT + c.padB - ((c.kh - 1) * c.dh + 1)) / c.sh) + 1;
    const Wo = Math.floor((W + c.padL + c.padR - ((c.kw - 1) * c.dw + 1)) / c.sw) + 1;
    if (Ho < 1 || Wo < 1) return;
    if (C !== c.Cg * layer.G) throw new QuantizationError(`weight rounding: '${layer.node.name}' reads ${C} channels, its weight ${c.Cg} x ${layer.G} groups`);
    const { x, st } = nhwcStrides(t);
    const [sn, sy, sx, sc] = st as [number, number, number, number];
    const positions = pick(N * Ho * Wo, this.rowsPerSample(layer.K), this.rand);
    const rows = positions.length;
    const K = layer.K;
    const T = c.kh * c.kw;
    // per row, the offset of each window tap (-1: padding), shared by every group
    const taps = new Int32Array(rows * T);
    for (let r = 0; r < rows; r++) {
      const q = positions[r]!;
      const n = Math.floor(q / (Ho * Wo));
      const oy = Math.floor(q / Wo) % Ho;
      const ox = q % Wo;
      for (let ky = 0, k = r * T; ky < c.kh; ky++) {
        const iy = oy * c.sh - c.padT + ky * c.dh;
        for (let kx = 0; kx < c.kw; kx++, k++) {
          const ix = ox * c.sw - c.padL + kx * c.dw;
          taps[k] = iy < 0 || iy >= H || ix < 0 || ix >= W ? -1 : n * sn + iy * sy + ix * sx;
        }
      }
    }
    if (p.channels) {
      // a depthwise window: (rows, T, C), every channel's taps side by side
      const v = this.rowsBuffer(rows * T * C);
      for (let k = 0; k < rows * T; k++) {
        const off = taps[k]!;
        const o = k * C;
        if (off < 0) v.fill(0, o, o + C);
        else if (sc === 1) v.set(x.subarray(off, off + C), o);
        else for (let ch = 0, src = off; ch < C; ch++, src += sc) v[o + ch] = x[src]!;
      }
      this.acc.addChannels(p.first, v, rows, T, C);
      layer.rows += rows;
      return;
    }
    const X = this.rowsBuffer(rows * K);
    for (let g = 0; g < layer.G; g++) {
      for (let k = 0; k < rows * T; k++) {
        const off = taps[k]!;
        const o = k * c.Cg;
        if (off < 0) X.fill(0, o, o + c.Cg);
        else if (sc === 1) X.set(x.subarray(off + g * c.Cg, off + (g + 1) * c.Cg), o);
        else for (let ch = 0, src = off + g * c.Cg * sc; ch < c.Cg; ch++, src += sc) X[o + ch] = x[src]!;
      }
      this.acc.addRows(X, rows, K, this.targets(p, g));
    }
    layer.rows += rows;
  }

  /**
   * The layers by weight initializer name, with their Hessians; the accumulators are freed. With
   * `inputScales` (cross-layer equalization's per-channel scales of the values it rescaled: the
   * graph rounded reads s_c · x_c where the passes saw x_c), each Hessian becomes that of the
   * rescaled input, D H D.
   */
  finish(inputScales?: ReadonlyMap<string, Float32Array>): Map<string, Layer> {
    const layers = new Map<string, Layer>();
    try {
      for (const p of this.pending) {
        const l = p.layer;
        const nb = l.blocks.length - 1;
        if (p.channels) {
          const all = this.acc.read(p.first);
          const T = l.K;
          l.h = Array.from({ length: l.G }, (_, g) => {
            const h = new Float64Array(T * T);
            for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) h[i * T + j] = all[(i * T + j) * l.G + g]!;
            return h;
          });
        } else l.h = Array.from({ length: l.G * nb }, (_, i) => this.acc.read(p.first + i));
        const s = inputScales?.get(l.node.inputs[0]!);
        if (s) scaleHessians(l, s);
        layers.set(l.weight, l);
      }
    } finally {
      this.dispose();
    }
    return layers;
  }

  dispose(): void {
    this.acc.free();
  }
}

/** H of input columns i, j times s[channel of i] · s[channel of j] (a conv's column: tap · Cg + channel in its group). */
function scaleHessians(l: Layer, s: Float32Array): void {
  const nb = l.blocks.length - 1;
  const Cg = l.conv ? l.conv.Cg : s.length;
  if (l.conv ? Cg * l.G !== s.length : l.K % s.length) throw new QuantizationError(`weight rounding: '${l.node.name}' reads ${l.K} x ${l.G} inputs, its input was rescaled per ${s.length} channels`);
  for (let g = 0; g < l.G; g++) {
    for (let b = 0; b < nb; b++) {
      const lo = l.blocks[b]!;
      const n = l.blocks[b + 1]! - lo;
      const f = Float64Array.from({ length: n }, (_, i) => s[g * (l.conv ? Cg : 0) + ((lo + i) % Cg)]!);
      const h = l.h[g * nb + b]!;
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) h[i * n + j]! *= f[i]! * f[j]!;
    }
  }
}

/**
 * Per weight initializer read by exactly one conv / dense node, the Hessian of that node's input
 * over (up to maxSamples of) `samples`, from forward passes of the float graph `g` (quantizeGraph
 * collects them during calibration instead, with HessianCollector).
 */
export async function collectHessians(g: Graph, samples: readonly Map<string, Tensor>[], options: WeightRoundingOptions = {}): Promise<Map<string, Layer>> {
  if (!samples.length) throw new QuantizationError('weight rounding needs calibration samples');
  const collector = new HessianCollector(g, { ...options, samples: samples.length });
  try {
    for (const feeds of samples.slice(0, options.maxSamples ?? 64)) {
      for (const [k, v] of feeds) collector.observe(k, v);
      await runGraph(g, feeds, { onValue: collector.observe, observe: collector.values });
    }
  } catch (e) {
    collector.dispose();
    throw e;
  }
  return collector.finish();
}

/**
 * The int8 weights of `layer` rounded by GPTQ against its Hessians, with the per-output-channel
 * scales given (one scale: per tensor); the same shape and layout as the float weight `w`.
 */
export function roundWeightsGptq(layer: Layer, w: Tensor, scales: readonly number[], options: WeightRoundingOptions = {}): Tensor {
  const { O, G, K, blocks, outerO } = layer;
  const f = w.toFloat32();
  const q = new Int8Array(f.length);
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
      // H symmetric in full, then P = H with rows and columns in that order (each row read along)
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) H[j * n + i] = H[i * n + j]!;
      const P = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        const a = order[i]! * n;
        for (let j = 0; j <= i; j++) P[i * n + j] = H[a + order[j]!]!;
      }
      let U: Float64Array | undefined;
      for (let damp = options.damp ?? 0.01; !U && damp < 1e3; damp *= 10) {
        const D = Float64Array.from(P);
        for (let i = 0; i < n; i++) D[i * n + i]! += damp * (mean > 0 ? mean : 1);
        U = upperCholeskyOfInverse(D, n);
      }
      if (!U) throw new QuantizationError(`weight rounding: the input Hessian of '${layer.node.name}' is not positive definite`);
      // W of the group's output channels, transposed (column i of W = input column order[i]: n x perGroup)
      const Wt = new Float64Array(n * perGroup);
      const s = new Float64Array(perGroup);
      const o0 = g * perGroup;
      for (let r = 0; r < perGroup; r++) s[r] = scales.length === 1 ? scales[0]! : scales[o0 + r]!;
      for (let i = 0; i < n; i++) {
        const k = lo + order[i]!;
        const row = i * perGroup;
        // HWIO: (k, o) at k·O + o, the row of input column k; OHWI: o·K + k
        if (outerO) for (let r = 0; r < perGroup; r++) Wt[row + r] = f[(o0 + r) * K + k]!;
        else Wt.set(f.subarray(k * O + o0, k * O + o0 + perGroup), row);
      }
      const Qt = gptqRound(Wt, perGroup, n, s, U);
      for (let i = 0; i < n; i++) {
        const k = lo + order[i]!;
        const row = i * perGroup;
        if (outerO) for (let r = 0; r < perGroup; r++) q[(o0 + r) * K + k] = Qt[row + r]!;
        else q.set(Qt.subarray(row, row + perGroup), k * O + o0);
      }
    }
  }
  return new Tensor('int8', w.shape, q);
}

/** The largest Hessian block of a layer (its inputs per group, at most MAX_BLOCK). */
export const maxBlock = (layer: Layer): number => Math.max(...layer.blocks.slice(1).map((b, i) => b - layer.blocks[i]!));

export type { Layer as RoundingLayer };
